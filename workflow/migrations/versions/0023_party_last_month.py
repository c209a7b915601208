"""party last month: a company that left a lot during the works declares up to the month it left

A company that leaves the site (its part of the works done, a subcontract ended) stays in the
award: the months it declared count. It owes no declaration of the months after it left:
``award_parties.last_month`` holds its last month to declare (NULL: up to the lot's end, as for
every company still on the site). The ladders call it up to that month (``reminders._due_months``)
and every reader of the declarations expected (``declaration list``, the summaries, the day's
tasks) stops it there; ``company_departures`` records it. The few companies that left are
indexed apart (``ix_award_parties_left``, partial): those readers leave out the months after
their last without reading every party.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Copied, not imported: a migration stays as it was written when the models change.
LEFT_PARTIES = "last_month IS NOT NULL"
LEFT = "ix_award_parties_left"


def upgrade() -> None:
    with op.batch_alter_table("award_parties", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_month", sa.Date(), nullable=True))
    op.create_index(
        LEFT,
        "award_parties",
        ["clause_id", "company_id", "last_month"],
        unique=False,
        sqlite_where=sa.text(LEFT_PARTIES),
        postgresql_where=sa.text(LEFT_PARTIES),
    )


def downgrade() -> None:
    op.drop_index(LEFT, table_name="award_parties")
    with op.batch_alter_table("award_parties", schema=None) as batch_op:
        batch_op.drop_column("last_month")
