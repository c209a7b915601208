"""open ladder, suspension and unvalidated declaration indexes: the dashboard without full reads

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Copied, not imported: a migration stays as it was written when the models change.
OPEN_LADDERS = "declared_at IS NULL"
UNVALIDATED = "validated_at IS NULL"
SUSPENSION_ROWS = "to_stage = 'suspended' OR from_stage = 'suspended'"


def upgrade() -> None:
    with op.batch_alter_table("declaration_ladders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_declaration_ladders_open",
            ["clause_id", "company_id", "month"],
            unique=False,
            sqlite_where=sa.text(OPEN_LADDERS),
            postgresql_where=sa.text(OPEN_LADDERS),
        )
    with op.batch_alter_table("clause_history", schema=None) as batch_op:
        batch_op.create_index(
            "ix_clause_history_suspensions",
            ["clause_id", "at", "id"],
            unique=False,
            sqlite_where=sa.text(SUSPENSION_ROWS),
            postgresql_where=sa.text(SUSPENSION_ROWS),
        )

    with op.batch_alter_table("declarations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_declarations_to_validate",
            ["month", "clause_id"],
            unique=False,
            sqlite_where=sa.text(UNVALIDATED),
            postgresql_where=sa.text(UNVALIDATED),
        )


def downgrade() -> None:
    with op.batch_alter_table("declarations", schema=None) as batch_op:
        batch_op.drop_index("ix_declarations_to_validate")
    with op.batch_alter_table("clause_history", schema=None) as batch_op:
        batch_op.drop_index("ix_clause_history_suspensions")
    with op.batch_alter_table("declaration_ladders", schema=None) as batch_op:
        batch_op.drop_index("ix_declaration_ladders_open")
