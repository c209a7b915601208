"""ladder progress: when each month's call and latest step were really queued

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("declaration_ladders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("called_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("stepped_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("declaration_ladders", schema=None) as batch_op:
        batch_op.drop_column("stepped_at")
        batch_op.drop_column("called_at")
