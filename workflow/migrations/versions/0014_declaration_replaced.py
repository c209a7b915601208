"""declaration replaced: a corrected month keeps what it replaced (hours, when recorded)

A receipt waiting in the outbox is written again when another month of the same company and
lot is declared or cancelled before it leaves (what it says is owed, and the cumul, changed).
A correction's receipt says which receipt it replaces (« Elle remplace votre déclaration de ce
mois reçue le … (120 h) »): written again, it needs what the month held before, which only the
event knew. Empty for a month recorded once, and for corrections recorded before this revision.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("declarations", schema=None) as batch_op:
        # Hundredths of an hour, as ``total_hours``.
        batch_op.add_column(sa.Column("replaced_total_hours", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("replaced_recorded_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    # Not in batch mode: on SQLite a batch copies and drops the table, which the declaration
    # lines' foreign key forbids once there are some. ``ALTER TABLE … DROP COLUMN`` (SQLite
    # 3.35+) drops the column in place, as 0012 does.
    op.drop_column("declarations", "replaced_recorded_at")
    op.drop_column("declarations", "replaced_total_hours")
