"""unarmed parties: the pass arms the parties never called, read from a partial index

``reminders.arm_parties`` looked at every party with no call planned on every pass, to catch a
lot whose end had moved later: at 10^5 lots, 45,298 parties (40,569 parked past their lot's
end), each one's lot looked up (70 ms of an idle pass on PostgreSQL). A party parked past its
lot's end is now armed again by the change that moves the end (``reminders.rearm_lot``), and the
pass reads only the parties never armed, from ``ix_award_parties_unarmed``. The index of the calls planned becomes
partial (``next_call_at IS NOT NULL``, which ``next_call_at <= now`` implies): without the
parked parties in it, SQLite no longer takes it for the parties with no call.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Copied, not imported: a migration stays as it was written when the models change.
UNARMED_PARTIES = "next_call_at IS NULL AND next_call_month IS NULL"
PLANNED_CALLS = "next_call_at IS NOT NULL"
UNARMED = "ix_award_parties_unarmed"
PLANNED = "ix_award_parties_next_call_at"


def upgrade() -> None:
    with op.batch_alter_table("award_parties", schema=None) as batch_op:
        batch_op.drop_index(PLANNED)
        batch_op.create_index(
            PLANNED,
            ["next_call_at"],
            unique=False,
            sqlite_where=sa.text(PLANNED_CALLS),
            postgresql_where=sa.text(PLANNED_CALLS),
        )
        batch_op.create_index(
            UNARMED,
            ["id", "clause_id"],
            unique=False,
            sqlite_where=sa.text(UNARMED_PARTIES),
            postgresql_where=sa.text(UNARMED_PARTIES),
        )


def downgrade() -> None:
    with op.batch_alter_table("award_parties", schema=None) as batch_op:
        batch_op.drop_index(UNARMED)
        batch_op.drop_index(PLANNED)
        batch_op.create_index(PLANNED, ["next_call_at"], unique=False)
