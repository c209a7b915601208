"""terminations: the lots terminated during their works, from a small partial index

A terminated lot (« résilier ») is read by every monthly summary (its time elapsed stops on the
termination day, ``services.terminations.terminated_lots``), by the lot list and the board
(« résilié le … ») and by the lot's own pages (``termination_of``). Each looked for its
``terminate`` history row among the whole clause history: one sequential scan per summary, a
thousand of them in the 08:00 pass of a territory of 10^5 lots. This partial index holds those
rows alone (a handful).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-05 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Copied, not imported: a migration stays as it was written when the models change.
TERMINATION_ROWS = "event = 'terminate'"


def upgrade() -> None:
    op.create_index(
        "ix_clause_history_terminations",
        "clause_history",
        ["clause_id", "at", "id"],
        unique=False,
        sqlite_where=sa.text(TERMINATION_ROWS),
        postgresql_where=sa.text(TERMINATION_ROWS),
    )


def downgrade() -> None:
    op.drop_index("ix_clause_history_terminations", table_name="clause_history")
