"""troubled mail: the emails in trouble read from a covering partial index

The day's tasks (the dashboard, the API, the 08:00 digest) group the refused, given-up and
uncertain messages by state and answer, and count the recipients' domains of a group blamed on
the sending side. At 10^5 lots those are 13,082 messages among 2.5 million, found through
``ix_outbox_due`` among every pending one. This partial index holds them alone, their state,
number and lot. The answer (``last_error``) and the recipients are not included: an index row
of PostgreSQL holds at most about 2,700 bytes, and a long SMTP answer to a notice with many
recipients would make the dispatcher's write of the message's state fail (review). The few
thousand rows it finds are read from the table.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 11:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Copied, not imported: a migration stays as it was written when the models change.
TROUBLED_MAIL = "state IN ('failed', 'dead', 'uncertain')"
TROUBLED = "ix_outbox_troubled"


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            TROUBLED,
            ["state", "id"],
            unique=False,
            postgresql_include=["clause_id"],
            sqlite_where=sa.text(TROUBLED_MAIL),
            postgresql_where=sa.text(TROUBLED_MAIL),
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(TROUBLED)
