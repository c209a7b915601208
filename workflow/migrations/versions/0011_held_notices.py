"""held notices: the buyer notices that found no contact, kept until the buyer has one

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Copied, not imported: a migration stays as it was written when the models change.
WAITING_NOTICES = "settled_at IS NULL"


def upgrade() -> None:
    op.create_table(
        "held_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("clause_id", sa.Integer(), nullable=False),
        sa.Column("buyer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("history_event", sa.String(length=30), nullable=False),
        sa.Column("cause", sa.String(length=120), nullable=False),
        sa.Column("held_at", sa.DateTime(), nullable=False),
        sa.Column("settled_at", sa.DateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=12), nullable=True),
        sa.ForeignKeyConstraint(
            ["clause_id"], ["clauses.id"], name=op.f("fk_held_notices_clause_id_clauses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_held_notices")),
        sa.UniqueConstraint("key", name=op.f("uq_held_notices_key")),
    )
    with op.batch_alter_table("held_notices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_held_notices_clause_id"), ["clause_id"], unique=False)
        batch_op.create_index(
            "ix_held_notices_waiting",
            ["clause_id", "held_at", "id"],
            unique=False,
            sqlite_where=sa.text(WAITING_NOTICES),
            postgresql_where=sa.text(WAITING_NOTICES),
        )


def downgrade() -> None:
    with op.batch_alter_table("held_notices", schema=None) as batch_op:
        batch_op.drop_index("ix_held_notices_waiting")
        batch_op.drop_index(batch_op.f("ix_held_notices_clause_id"))
    op.drop_table("held_notices")
