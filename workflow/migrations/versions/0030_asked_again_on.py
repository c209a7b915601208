"""asked again on: a month's ladder keeps the day its declaration was cancelled and asked again

A declaration cancelled after its due date is asked again « dès que possible » from the day of
the cancellation: its reminders and the buyer's alert count the working days late from that day
(``reminder_emails.asked_again``, read from the history's text). The facilitator's readers,
``declaration list``, the day's tasks and their email, counted them from the month's first due
date (user trial, 7 December 2026: « 3 jours ouvrés de retard » in the reminder, « 10 » in the
digest the same morning). The ladder now keeps that day (``asked_again_on``, set by
``reminders.resume_ladder``), which those readers take when later than the due date; a partial
index holds the few open ladders that have one, with the columns the day's tasks read of them
(an index-only scan). Ladders resumed before stay NULL, read as before.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHERE = "asked_again_on IS NOT NULL AND declared_at IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("declaration_ladders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("asked_again_on", sa.Date(), nullable=True))
    op.create_index(
        "ix_declaration_ladders_asked_again",
        "declaration_ladders",
        ["clause_id", "company_id", "month", "asked_again_on"],
        unique=False,
        sqlite_where=sa.text(WHERE),
        postgresql_where=sa.text(WHERE),
    )


def downgrade() -> None:
    op.drop_index("ix_declaration_ladders_asked_again", table_name="declaration_ladders")
    op.drop_column("declaration_ladders", "asked_again_on")
