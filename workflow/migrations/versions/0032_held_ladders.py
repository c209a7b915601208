"""held ladders: the ladders of a lot not called now, out of the climb's index

A suspended lot's ladders keep the steps they were waiting on, passed since: at 10^5 lots about
1,200 of them sat in the range the climb reads on every pass (``next_step_at <= now``), each
looked up to find its lot suspended, 9 ms of an idle pass on SQLite (issue 12). A ladder now
says whether its lot is called (``held``, kept by every change of stage in its transaction,
``clauses._move``), and a partial index holds the steps the climb walks: not declared, not held.
The existing ladders of the lots neither in execution nor in follow-up are held here.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-08 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHERE = "declared_at IS NULL AND NOT held"


def upgrade() -> None:
    with op.batch_alter_table("declaration_ladders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("held", sa.Boolean(), nullable=False, server_default=sa.text("false"))
        )
    op.execute(
        "UPDATE declaration_ladders SET held = true WHERE clause_id IN "
        "(SELECT id FROM clauses WHERE stage NOT IN ('execution', 'follow_up'))"
    )
    op.create_index(
        "ix_declaration_ladders_due",
        "declaration_ladders",
        ["next_step_at", "id"],
        unique=False,
        sqlite_where=sa.text(WHERE),
        postgresql_where=sa.text(WHERE),
    )


def downgrade() -> None:
    op.drop_index("ix_declaration_ladders_due", table_name="declaration_ladders")
    with op.batch_alter_table("declaration_ladders", schema=None) as batch_op:
        batch_op.drop_column("held")
