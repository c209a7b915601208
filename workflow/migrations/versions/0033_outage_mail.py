"""outage mail: the emails an outage holds back, in an index of their own

After each pass that sent nothing, the service reads what an outage of the route holds back
(``outbox.outage_waiting``), none when the server answers. It read every email waiting for its
retry slot to check its error: at 10^5 lots about a thousand, 4 ms of an idle pass on SQLite,
the one step still growing with the territory (issue 12). A partial index holds the rows the
outage holds, read alone.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-08 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHERE = "state = 'pending' AND substr(last_error, 1, 16) = 'Envoi impossible'"


def upgrade() -> None:
    op.create_index(
        "ix_outbox_outage",
        "outbox",
        ["state"],
        unique=False,
        sqlite_where=sa.text(WHERE),
        postgresql_where=sa.text(WHERE),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_outage", table_name="outbox")
