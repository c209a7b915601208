"""open ladders covering index: the dashboard's late months read from the index alone

``ix_declaration_ladders_open`` (0009) also holds each open month's due date and call, the
columns the dashboard reads for the thousands of months not declared: SQLite read each of them
from the table (7,446 at 10^4 lots) and now reads the index only.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 22:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Copied, not imported: a migration stays as it was written when the models change.
OPEN_LADDERS = "declared_at IS NULL"
NAME = "ix_declaration_ladders_open"


def _open_index(columns: list[str]) -> None:
    with op.batch_alter_table("declaration_ladders", schema=None) as batch_op:
        batch_op.drop_index(NAME)
        batch_op.create_index(
            NAME,
            columns,
            unique=False,
            sqlite_where=sa.text(OPEN_LADDERS),
            postgresql_where=sa.text(OPEN_LADDERS),
        )


def upgrade() -> None:
    _open_index(["clause_id", "company_id", "month", "due_on", "called_at"])


def downgrade() -> None:
    _open_index(["clause_id", "company_id", "month"])
