"""privacy: the purges of personal data past retention, and the participants they purged

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "privacy_purges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("retention", sa.String(length=40), nullable=False),
        sa.Column("cutoff", sa.Date(), nullable=False),
        sa.Column("participants", sa.Integer(), nullable=False),
        sa.Column("history_rows", sa.Integer(), nullable=False),
        sa.Column("clause_texts", sa.Integer(), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("attachments", sa.Integer(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_purges")),
    )
    op.create_table(
        "purged_participants",
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("purge_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_purged_participants_participant_id_participants"),
        ),
        sa.ForeignKeyConstraint(
            ["purge_id"],
            ["privacy_purges.id"],
            name=op.f("fk_purged_participants_purge_id_privacy_purges"),
        ),
        sa.PrimaryKeyConstraint("participant_id", name=op.f("pk_purged_participants")),
    )
    with op.batch_alter_table("purged_participants", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_purged_participants_purge_id"), ["purge_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("purged_participants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_purged_participants_purge_id"))
    op.drop_table("purged_participants")
    op.drop_table("privacy_purges")
