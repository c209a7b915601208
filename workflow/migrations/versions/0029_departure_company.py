"""departure company: the history row of a company's departure keeps the company's number

The row of a departure (``clause_history``, event ``company_left``) named the company only in its
text (« Isol'Sud a quitté le chantier : son dernier mois à déclarer est … »). The replay of a
monthly summary (``clauses summary --now``) matched that name against every name the companies
had: once the name was given to another company, which one left was not known. The row now
keeps the company's number (``company_id``, nullable, no foreign key: the row outlives a
company merged into another), as may any row telling of one company (a declaration's); the rows
written before stay NULL, matched by name as before.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-06 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clause_history", schema=None) as batch_op:
        batch_op.add_column(sa.Column("company_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    # Not in batch mode: on SQLite a batch copies the table and writes its indexes again from
    # what it reads of them, without their descending columns (``ix_clause_history_latest``).
    # ``ALTER TABLE … DROP COLUMN`` (SQLite 3.35+) drops the column in place, as 0014 does.
    op.drop_column("clause_history", "company_id")
