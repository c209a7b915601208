"""promised dates: an email waiting past the date its text promises is written again

A cancellation's email says « le prochain partira le 13 mai 2027 » or « d'ici le 10 mai »; held
in the outbox by a stop of the service, it would reach the company after that date, false when
read. The row keeps the instant its text stops being true (``promised_until``) and the facts its
builder is run again from (``promise_facts``, JSON); before each delivery the dispatcher writes
again those whose instant has passed (``services.stale_promises``), found through a partial index
holding these few rows only.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Copied, not imported: a migration stays as it was written when the models change.
PROMISING_MAIL = "promised_until IS NOT NULL"
PROMISED = "ix_outbox_promised"


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("promised_until", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("promise_facts", sa.Text(), nullable=True))
        batch_op.create_index(
            PROMISED,
            ["state", "promised_until"],
            unique=False,
            sqlite_where=sa.text(PROMISING_MAIL),
            postgresql_where=sa.text(PROMISING_MAIL),
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(PROMISED)
        batch_op.drop_column("promise_facts")
        batch_op.drop_column("promised_until")
