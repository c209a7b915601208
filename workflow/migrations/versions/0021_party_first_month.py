"""party first month: a company joining a lot in execution declares from the month it joins

A subcontractor that joins during the works (an award corrected in execution or suspension) owes
no declaration of the months before it joined: ``award_parties.first_month`` holds its first
month to declare (NULL: the lot's start month, as for every company of the first award). The
ladders call it from that month (``reminders._arm``) and every reader of the declarations
expected (the summaries, ``declaration list``, the receipts) starts it there.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 04:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("award_parties", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_month", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("award_parties", schema=None) as batch_op:
        batch_op.drop_column("first_month")
