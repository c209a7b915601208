"""ladders by month: the earliest due date of a month, for its summary

The monthly summary of M waits until the earliest due date the companies were given for M has
passed (``summaries.queue_monthly_summaries``): after a long stop of the service every call of
M left late with a later due date, and the summary would otherwise leave before any of them,
every declaration « pas encore due ». ``min(due_on) WHERE month = M`` reads one entry of this
index instead of every ladder.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 11:05:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_declaration_ladders_month_due"


def upgrade() -> None:
    op.create_index(NAME, "declaration_ladders", ["month", "due_on"], unique=False)


def downgrade() -> None:
    op.drop_index(NAME, table_name="declaration_ladders")
