"""summary rules: each monthly summary keeps the number of the rules it was written under

When a rule changes what a summary says, the audit reads an email written before it the older
way and makes the difference a remark naming the rule (``services.audit.summary_emails``). It
could not tell when an email was written: its moment is the one it was compiled for, which
tests, simulations and catch-ups choose. Each summary's row now keeps the number of the latest
rule it was written under (``rules_revision``, ``domain.summary_rules.SUMMARY_RULES``); the rows
written before stay NULL, read as possibly older than any rule.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-06 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rules_revision", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("rules_revision")
