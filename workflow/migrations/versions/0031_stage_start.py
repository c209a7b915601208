"""stage start: the awarded lots whose planned start has passed, read by their start

The day's tasks name each lot at the award stage whose planned start has passed and whose start
is not recorded (``digest._start_passed``): no month is asked of its companies until it is. An
index on the stage and the start date reads them, and the ``limit`` first, without walking the
lots (``tests/integration/test_query_plans.py``).

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07 11:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_clauses_stage_start", "clauses", ["stage", "start_date"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_clauses_stage_start", table_name="clauses")
