"""ended and ending lots: the day's tasks find the months owed after a lot's end, and the lots
ending soon, from indexes

The dashboard and the API's day of tasks (``digest._first_overdue``) let the database find each
company x lot's oldest month overdue and leave out those after the lot's end (a month after the
day the work ended is owed no more, ``lot_ends``). At 10^5 lots that is 47,000 companies x lots
checked against the end of their lot: by the primary key one by one, or by reading the 100,000
lots. The lots whose work ended (28,000 of 100,000) are held by a partial index of their
number and end, read in the lots' order alongside the open ladders' index (a merge).

The contracts ending within 30 days (the pace section) were found among every lot in execution
(46,000 rows read for 955: 47 ms); an index of the stage and the planned end finds them (1 ms).
The lots waiting in a stage and those achieved without their report are ranked by when they
changed stage (10,000 and 14,000 at 10^5 lots): an index of the stage and that instant gives
each stage's longest waiting first, and counts them.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Copied, not imported: a migration stays as it was written when the models change.
ENDED_LOTS = "end_date IS NOT NULL"
ENDED = "ix_clauses_ended"
ENDING = "ix_clauses_stage_planned_end"
CHANGED = "ix_clauses_stage_changed"


def upgrade() -> None:
    with op.batch_alter_table("clauses", schema=None) as batch_op:
        batch_op.create_index(
            ENDED,
            ["id", "end_date"],
            unique=False,
            sqlite_where=sa.text(ENDED_LOTS),
            postgresql_where=sa.text(ENDED_LOTS),
        )
        batch_op.create_index(ENDING, ["stage", "planned_end_date"], unique=False)
        batch_op.create_index(CHANGED, ["stage", "stage_changed_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("clauses", schema=None) as batch_op:
        batch_op.drop_index(CHANGED)
        batch_op.drop_index(ENDING)
        batch_op.drop_index(ENDED)
