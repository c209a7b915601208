"""The facilitator's dashboard: the day's tasks as the digest email lists them, the first few of
each section with each section's count, and what else waits for her (months to validate,
emails in trouble).

A large territory has thousands of tasks: only those shown are written
(``services.digest.compile_tasks``), the same as the digest's first ones of each section.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from workflow.adapters.orm import OutboxMessage
from workflow.app.unit import reading
from workflow.bootstrap import App
from workflow.emails.digest import DayTasks, Section, WebAction, WebActionKind
from workflow.services.declaration_views import (
    ToValidate,
    count_to_validate,
    declarations_to_validate,
)
from workflow.services.digest import compile_tasks
from workflow.services.outbox import OutboxState

__all__ = [
    "Dashboard",
    "DayTasks",
    "Section",
    "ToValidate",
    "WebAction",
    "WebActionKind",
    "dashboard",
    "day_tasks",
]


@dataclass(frozen=True)
class Dashboard:
    tasks: DayTasks  # the day's tasks, as the digest email would list them now
    to_validate: tuple[ToValidate, ...]  # the oldest months received and not validated
    waiting_validation: int  # every month received and not validated, those shown included
    #: Emails that need her: refused, given up, or maybe delivered (uncertain).
    mail_to_look_at: int


def day_tasks(app: App, *, per_section: int, now: datetime | None = None) -> DayTasks:
    """The ``per_section`` most urgent tasks of each section of the digest at ``now`` (the app's
    clock when not given), in its order, and how many each section has; nothing is sent."""
    moment = now or app.clock()
    with reading(app) as session:
        return compile_tasks(session, moment, app.settings, per_section)


#: The emails that need her: refused, given up, or maybe delivered (uncertain).
TROUBLED = (OutboxState.FAILED, OutboxState.DEAD, OutboxState.UNCERTAIN)


def dashboard(app: App, *, per_section: int) -> Dashboard:
    """Its first screen: ``per_section`` tasks of each section, as many months to validate."""
    moment = app.clock()
    with reading(app) as session:
        tasks = compile_tasks(session, moment, app.settings, per_section)
        # The oldest, and the count of all (a partial index holds those months alone).
        shown = max(per_section, 1)
        waiting = tuple(declarations_to_validate(session, limit=shown))
        waiting_validation = count_to_validate(session)
        # Three states of the outbox's index, not a count of every message by state.
        troubled = session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.state.in_(TROUBLED))
        )
    return Dashboard(
        tasks=tasks,
        to_validate=waiting,
        waiting_validation=waiting_validation,
        mail_to_look_at=int(troubled or 0),
    )
