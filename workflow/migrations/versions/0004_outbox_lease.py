"""outbox lease: who holds each claim and until when; a per-row part of the Message-ID

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 15:00:00
"""

from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("send_started_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("message_token", sa.String(length=32), nullable=True))
    # A claim taken before this version has no lease: it ends where the old stale-claim rule
    # (10 minutes) ended it, and counts as handed to the server, since it may have been.
    outbox = sa.table(
        "outbox",
        sa.column("id", sa.Integer()),
        sa.column("state", sa.String()),
        sa.column("claimed_at", sa.DateTime()),
        sa.column("claimed_by", sa.String()),
        sa.column("lease_until", sa.DateTime()),
        sa.column("send_started_at", sa.DateTime()),
    )
    connection = op.get_bind()
    claims = connection.execute(
        sa.select(outbox.c.id, outbox.c.claimed_at).where(outbox.c.state == "sending")
    ).all()
    for outbox_id, claimed_at in claims:
        start = claimed_at or datetime(2000, 1, 1)
        connection.execute(
            outbox.update()
            .where(outbox.c.id == outbox_id)
            .values(
                claimed_by="avant-0004",
                lease_until=start + timedelta(minutes=10),
                send_started_at=start,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("message_token")
        batch_op.drop_column("send_started_at")
        batch_op.drop_column("lease_until")
        batch_op.drop_column("claimed_by")
