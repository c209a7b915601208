"""The facilitator's dashboard: one query for its first screen."""

from __future__ import annotations

from dataclasses import dataclass

from workflow.app.reports import daily_digest
from workflow.app.unit import reading
from workflow.bootstrap import App
from workflow.emails.digest import Digest
from workflow.services.declaration_views import ToValidate, declarations_to_validate
from workflow.services.outbox import OutboxState, count_by_state

__all__ = ["Dashboard", "ToValidate", "dashboard"]


@dataclass(frozen=True)
class Dashboard:
    digest: Digest  # the day's tasks, as the digest email would list them now
    to_validate: tuple[ToValidate, ...]
    #: Emails that need her: refused, given up, or maybe delivered (uncertain).
    mail_to_look_at: int


def dashboard(app: App) -> Dashboard:
    digest = daily_digest(app)
    with reading(app) as session:
        waiting = tuple(declarations_to_validate(session))
        counts = count_by_state(session)
    troubled = sum(
        counts.get(state, 0)
        for state in (OutboxState.FAILED, OutboxState.DEAD, OutboxState.UNCERTAIN)
    )
    return Dashboard(digest=digest, to_validate=waiting, mail_to_look_at=troubled)
