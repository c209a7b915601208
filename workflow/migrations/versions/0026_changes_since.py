"""changes since a moment: declarations by recording time, history rows by kind and time

Each month's summaries name the declarations their recipient's previous summary counted and
that were corrected or cancelled since (``summaries._changed_declarations``), and the
facilitator's digest names the declarations companies corrected online since the previous
digest (``digest._online_corrections``). Both read what was written after a moment: without
these indexes, a read of the whole declarations table and of the whole clause history, on every
digest and every month's summaries of a territory of 10^5 lots.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06 01:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_declarations_recorded_at", "declarations", ["recorded_at"], unique=False)
    op.create_index("ix_clause_history_event_at", "clause_history", ["event", "at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_clause_history_event_at", table_name="clause_history")
    op.drop_index("ix_declarations_recorded_at", table_name="declarations")
