"""The builders ``stale_promises`` runs again, by kind of email: those whose text promises a
date of the service and that can be written again from the facts kept on their row.

Apart from ``stale_promises``, which the builders import (``Superseded``, the facts' names):
the dispatcher hands this table in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from workflow.emails.cancellations import KIND as CANCELLED
from workflow.emails.company_pauses import RESUMED
from workflow.services.cancellation_notices import write_cancellation_again
from workflow.services.company_pauses import write_resumption_again
from workflow.services.mailing import Mailing
from workflow.services.notices import (
    RESUMED_NOTICE,
    WELCOME,
    write_resumed_notice_again,
    write_welcome_again,
)
from workflow.services.outbox import Recipient
from workflow.services.stale_promises import PromiseRewrite, Rewriter

#: A company's email, written to one correspondent: its builder takes the one first written to.
CompanyRewriter = Callable[
    [Mailing, Session, Mapping[str, Any], Recipient, datetime], PromiseRewrite
]


def _to_first(write: CompanyRewriter) -> Rewriter:
    def rewrite(
        app: Mailing,
        session: Session,
        facts: Mapping[str, Any],
        first: Sequence[Recipient],
        now: datetime,
    ) -> PromiseRewrite:
        return write(app, session, facts, first[0], now)

    return rewrite


REWRITERS: dict[str, Rewriter] = {
    CANCELLED: _to_first(write_cancellation_again),
    RESUMED: _to_first(write_resumption_again),
    WELCOME: _to_first(write_welcome_again),
    # A buyer's notice: to each contact it first went to, should the buyer have none now.
    RESUMED_NOTICE: write_resumed_notice_again,
}
