"""summary indexes: lots by start date, outcomes by date (no full scan in a summary)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 07:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clauses", schema=None) as batch_op:
        batch_op.create_index("ix_clauses_start_date", ["start_date"], unique=False)
    with op.batch_alter_table("outcomes", schema=None) as batch_op:
        batch_op.create_index("ix_outcomes_date", ["date"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outcomes", schema=None) as batch_op:
        batch_op.drop_index("ix_outcomes_date")
    with op.batch_alter_table("clauses", schema=None) as batch_op:
        batch_op.drop_index("ix_clauses_start_date")
