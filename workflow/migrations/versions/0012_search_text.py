"""search text: each searched record keeps its searched fields normalised, so that ``clauses
search`` and the corrections page let the database match them (``LIKE``)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 19:00:00
"""

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

# Imported, not copied: the texts written here must be those the service writes and searches
# for; a change of the normalisation needs a migration that writes every text again.
from workflow.domain.characters import normalized

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Copied, not imported: a migration stays as it was written when the models change.
SEPARATOR = "\n"
#: The searched fields of each table (lots apart: their reference is their market's).
FIELDS = {
    "buyers": ("name",),
    "buyer_contacts": ("name", "email"),
    "companies": ("name",),
    "correspondents": ("name", "email"),
    "operations": ("name", "place"),
    "markets": ("reference", "title"),
    "participants": ("reference",),
}
LOTS = "clauses"
#: The rows a write left without their text: their partial indexes, empty, that the search
#: looks up (SQLite uses a partial index only for a WHERE term identical to its own).
UNWRITTEN = "search_text IS NULL"
#: Rows read and written at a time: the backfill of 10^5 lots never holds them all.
BATCH = 2_000


def _text(*fields: str | None) -> str:
    return "".join(SEPARATOR + normalized(f) for f in fields if f) + SEPARATOR


def _lot_text(reference: str, lot_number: str | None, title: str | None, trade: str | None) -> str:
    lot = f"/{lot_number}" if lot_number else ""
    return _text(f"{reference}{lot}", title, trade)


def _batches(connection: sa.Connection, statement: sa.Select[Any]) -> Iterator[Sequence[Any]]:
    """The rows of ``statement`` (its first column the id), ``BATCH`` at a time, by id."""
    last = 0
    while True:
        rows = connection.execute(
            statement.where(statement.selected_columns[0] > last)
            .order_by(statement.selected_columns[0])
            .limit(BATCH)
        ).all()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def _backfill(connection: sa.Connection) -> None:
    metadata = sa.MetaData()
    for name, fields in FIELDS.items():
        table = sa.Table(name, metadata, autoload_with=connection)
        write = (
            sa.update(table)
            .where(table.c.id == sa.bindparam("row_id"))
            .values(search_text=sa.bindparam("text"))
        )
        statement = sa.select(table.c.id, *(table.c[f] for f in fields))
        for rows in _batches(connection, statement):
            connection.execute(write, [{"row_id": r[0], "text": _text(*r[1:])} for r in rows])
    lots = sa.Table(LOTS, metadata, autoload_with=connection)
    markets = metadata.tables["markets"]
    write = (
        sa.update(lots)
        .where(lots.c.id == sa.bindparam("row_id"))
        .values(search_text=sa.bindparam("text"))
    )
    statement = sa.select(
        lots.c.id, markets.c.reference, lots.c.lot_number, lots.c.lot_title, lots.c.trade
    ).join(markets, markets.c.id == lots.c.market_id)
    for rows in _batches(connection, statement):
        connection.execute(
            write, [{"row_id": r[0], "text": _lot_text(r[1], r[2], r[3], r[4])} for r in rows]
        )


def upgrade() -> None:
    for name in (*FIELDS, LOTS):
        op.add_column(name, sa.Column("search_text", sa.Text(), nullable=True))
    _backfill(op.get_bind())
    for name in (*FIELDS, LOTS):
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.create_index(
                f"ix_{name}_search_text_unwritten",
                ["id"],
                unique=False,
                sqlite_where=sa.text(UNWRITTEN),
                postgresql_where=sa.text(UNWRITTEN),
            )


def downgrade() -> None:
    # Not in batch mode: on SQLite a batch copies and drops each table, which its foreign keys
    # forbid once other rows refer to it (buyers of operations…). ``ALTER TABLE … DROP COLUMN``
    # (SQLite 3.35+) drops the column in place, once no index mentions it.
    for name in (*FIELDS, LOTS):
        op.drop_index(f"ix_{name}_search_text_unwritten", table_name=name)
        op.drop_column(name, "search_text")
