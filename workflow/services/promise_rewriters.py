"""The builders ``stale_promises`` runs again, by kind of email: those whose text promises a
date of the service and that can be written again from the facts kept on their row.

Apart from ``stale_promises``, which the builders import (``Superseded``, the facts' names):
the dispatcher hands this table in.
"""

from __future__ import annotations

from workflow.emails.cancellations import KIND as CANCELLED
from workflow.emails.company_pauses import RESUMED
from workflow.services.cancellation_notices import write_cancellation_again
from workflow.services.company_pauses import write_resumption_again
from workflow.services.notices import (
    RESUMED_NOTICE,
    WELCOME,
    write_resumed_notice_again,
    write_welcome_again,
)
from workflow.services.stale_promises import Rewriter, to_first

REWRITERS: dict[str, Rewriter] = {
    CANCELLED: to_first(write_cancellation_again),
    RESUMED: to_first(write_resumption_again),
    WELCOME: to_first(write_welcome_again),
    # A buyer's notice: to each contact it first went to, should the buyer have none now.
    RESUMED_NOTICE: write_resumed_notice_again,
}
