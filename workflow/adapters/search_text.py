"""The search column (``search_text``) of every record ``clauses search`` finds, kept on each write.

The search (``app.search``) matches what people type against names, references, titles and
e-mail addresses written the same way (``domain.characters.normalized``: case, accents, dashes and
apostrophes do not count). Normalising tens of thousands of names at every search cost a quarter
of a second at 10,000 lots; the database now keeps each record's fields already normalised, one
per line, and matches them itself (``LIKE``).

The text is the record's searched fields, normalised, each between line feeds
(``"\\ngers habitat\\n"``): a normalised field never holds a line feed (whitespace is folded into
single spaces), so ``%text%`` never matches across two fields, and ``%\\ntext\\n%`` is a field
that is exactly the text (the search lists those first).

Every ORM insert and update computes it (the mapper events below, registered when
``adapters.orm`` is imported). A lot's text holds its reference (``2026-014/01``): a market whose
reference changes rewrites its lots' texts in the same flush. Writes that bypass the ORM (bulk
loads, migrations) call ``search_text``/``lot_fields`` themselves; a record whose text is NULL
(written by a path that forgot) is still found: the search matches those rows in Python.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Table, bindparam, event, select, update
from sqlalchemy.orm import Mapper, attributes

from workflow.adapters.orm import (
    Buyer,
    BuyerContact,
    Clause,
    Company,
    Correspondent,
    Market,
    Operation,
    Participant,
)
from workflow.domain.characters import normalized

#: Between the fields of a text, and around them: no normalised text holds one.
SEPARATOR = "\n"


def search_text(*fields: str | None) -> str:
    """The column's value for a record with these searched fields (empty ones left out)."""
    return "".join(SEPARATOR + normalized(f) for f in fields if f) + SEPARATOR


def lot_reference(market_reference: str, lot_number: str | None) -> str:
    """``2026-014/01``: how the documents name lot 01 of market 2026-014 (the market's
    reference alone for a single-lot market)."""
    lot = f"/{lot_number}" if lot_number else ""
    return f"{market_reference}{lot}"


def lot_fields(
    market_reference: str, lot_number: str | None, lot_title: str | None, trade: str | None
) -> tuple[str, ...]:
    """A lot's searched fields: its reference, its title, its trade."""
    return (lot_reference(market_reference, lot_number), lot_title or "", trade or "")


#: The searched fields of each kind of record but lots (their reference is their market's).
FIELDS: dict[type[Any], Callable[[Any], tuple[str | None, ...]]] = {
    Buyer: lambda b: (b.name,),
    BuyerContact: lambda c: (c.name, c.email),
    Company: lambda c: (c.name,),
    Correspondent: lambda c: (c.name, c.email),
    Operation: lambda o: (o.name, o.place),
    Market: lambda m: (m.reference, m.title),
    Participant: lambda p: (p.reference,),
}


def _set_text(_mapper: Mapper[Any], _connection: Connection, target: Any) -> None:
    target.search_text = search_text(*FIELDS[type(target)](target))


def _market_reference(connection: Connection, lot: Clause) -> str:
    """The reference of the lot's market: the object when the session holds it (a market added
    in the same flush, or renamed in it), else read on the flush's connection (no lazy load
    inside a flush)."""
    market = lot.__dict__.get("market")
    if market is not None and (lot.market_id is None or market.id == lot.market_id):
        return str(market.reference)
    reference = connection.scalar(select(Market.reference).where(Market.id == lot.market_id))
    return reference or ""


def _set_lot_text(_mapper: Mapper[Any], connection: Connection, lot: Clause) -> None:
    reference = _market_reference(connection, lot)
    lot.search_text = search_text(*lot_fields(reference, lot.lot_number, lot.lot_title, lot.trade))


def _rewrite_lots(_mapper: Mapper[Any], connection: Connection, market: Market) -> None:
    """A market's new reference is in its lots' references: their texts are written again."""
    if not attributes.get_history(market, "reference").has_changes():
        return
    rows = connection.execute(
        select(Clause.id, Clause.lot_number, Clause.lot_title, Clause.trade).where(
            Clause.market_id == market.id
        )
    ).all()
    if not rows:
        return
    table: Table = Clause.__table__  # type: ignore[assignment]
    connection.execute(
        update(table)
        .where(table.c.id == bindparam("lot_id"))
        .values(search_text=bindparam("text")),
        [
            {
                "lot_id": row.id,
                "text": search_text(
                    *lot_fields(market.reference, row.lot_number, row.lot_title, row.trade)
                ),
            }
            for row in rows
        ],
    )


for _model in FIELDS:
    event.listen(_model, "before_insert", _set_text)
    event.listen(_model, "before_update", _set_text)
event.listen(Clause, "before_insert", _set_lot_text)
event.listen(Clause, "before_update", _set_lot_text)
event.listen(Market, "after_update", _rewrite_lots)
