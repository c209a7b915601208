"""A month declared again before the email of its cancellation left: that email is withdrawn.

``cancellation_notices.tell_company`` queues « Déclaration d'avril 2026 annulée, à déclarer de
nouveau » when the facilitator cancels a declaration. Recorded again before the next delivery
(user trial: cancelled at 10:00, declared again at 10:10, sent at 10:20), the company read it
together with the receipt of the new declaration, asking it to declare a month it had just
been recorded for, and « il compte de nouveau parmi vos déclarations en retard » of a month
no longer late. So when a month is recorded (``declarations.record_counting``, every path:
command, import, online page), the cancellation emails of that company, lot and month that
have not left (``outbox.NOT_LEFT``: waiting, refused, given up) are withdrawn in the same
transaction, their reason kept in the email log (« Retiré : le mois d'avril 2026 a été
déclaré de nouveau le 5 mai 2026, avant le départ de ce courriel. »), as
``reminder_emails.withdraw_answered`` withdraws the reminders of the month, which calls this.
The receipt of the new declaration is what the company reads.

One that may have left (sending, uncertain) or left is not touched: the company may have read
it, and the receipt answers it. A withdrawn one is never written again by the stale-promise
rewrite (``stale_promises``: waiting rows only) nor sent by « Renvoyer »
(``ladder_keys.withdrawn_by_service``: « Retiré »).

The receipt of the month declared again says it replaces the declaration cancelled
(``replaced_cancellation``, read by ``notices.receipt_message``): the day it was cancelled, its
hours and the reason. Whether the cancellation's email left says how: one that left (or may
have) is answered (« comme je vous l'ai écrit »), one withdrawn here, refused or never written
(nobody with an address) is never mentioned, the company never read it.

A cancellation email's key names its declaration and instant, not its month
(``emails.cancellations.cancellation_key``): the month is read from the lot's history row of
that cancellation (``declarations.cancellation_reason``), the row the key was made from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from workflow.adapters.orm import ClauseHistory, OutboxMessage
from workflow.adapters.templates import remembered_date
from workflow.emails.cancellations import KEY_PREFIX, KIND, cancellation_key
from workflow.emails.phrases import month_phrase, parse_hours
from workflow.services.declaration_facts import CANCELLED_COUNTS, CANCELLED_REASON
from workflow.services.declarations import DECLARATION_CANCELLED
from workflow.services.history_companies import HistoryCompanies
from workflow.services.outbox import NOT_LEFT, OutboxState, withdraw
from workflow.services.stale_promises import AGAIN_MARK
from workflow.settings import Settings

#: A cancellation email in these states was read, or may have been: neither waiting, refused
#: nor given up (``NOT_LEFT``), nor withdrawn before it left.
MAY_HAVE_LEFT = tuple(
    state.value for state in OutboxState if state not in (*NOT_LEFT, OutboxState.CANCELLED)
)


@dataclass(frozen=True)
class ReplacedCancellation:
    """The latest cancellation of a company's month, which a declaration of that month
    recorded since replaces, as the lot's history row keeps it."""

    at: datetime
    total_hours: Decimal
    #: The facilitator's words (``--reason``), without what the row adds about outcomes.
    reason: str
    #: Its email left, or may have: the company read « annulée, à déclarer de nouveau ».
    told: bool


def replaced_cancellation(
    session: Session, *, clause_id: int, company_id: int, company: str, month: date
) -> ReplacedCancellation | None:
    """The latest cancellation of ``month`` of the company on the lot, None if it was never
    cancelled. Read for a declaration of the month that replaced no recorded one: only a
    cancellation deletes a declaration, so the latest one is the one it replaces. The company
    is known by its email's key (its number), else, with no email written (nobody with an
    address), by the name the row gives."""
    phrase = month_phrase(month)
    companies = HistoryCompanies(session)
    for moment, text, whose in session.execute(
        select(ClauseHistory.at, ClauseHistory.reason, ClauseHistory.company_id)
        .where(
            ClauseHistory.clause_id == clause_id,
            ClauseHistory.event == DECLARATION_CANCELLED,
        )
        .order_by(ClauseHistory.at.desc(), ClauseHistory.id.desc())
    ):
        found = CANCELLED_REASON.fullmatch(text or "")
        if found is None or found["month"] != phrase:
            continue
        key = cancellation_key(clause_id, company_id, int(found["id"]), moment)
        states = set(
            session.scalars(
                select(OutboxMessage.state).where(
                    OutboxMessage.clause_id == clause_id,
                    OutboxMessage.kind == KIND,
                    # Written again past its date (``stale_promises``): ``<key>~2``, the same.
                    or_(OutboxMessage.key == key, OutboxMessage.key.like(f"{key}{AGAIN_MARK}%")),
                )
            )
        )
        # No email keyed by the company's number: the row's number (0029), followed through
        # the merges since (a company merged into this one kept its own number on its rows),
        # else its name.
        if not states and (
            found["company"] != company
            if whose is None
            else whose != company_id and companies.now_of(whose, moment) != company_id
        ):
            continue  # another company's month, or this one under a former name: none of ours
        hours = parse_hours(found["hours"])
        said = found["reason"]
        if (counts := CANCELLED_COUNTS.search(said)) is not None:
            said = said[: counts.start()]
        return ReplacedCancellation(
            at=moment,
            total_hours=hours if hours is not None else Decimal(0),
            reason=said.strip(),
            told=bool(states & set(MAY_HAVE_LEFT)),
        )
    return None


def withdraw_cancellations(
    session: Session,
    settings: Settings,
    *,
    clause_id: int,
    company_id: int,
    month: date,
    at: datetime,
) -> int:
    """Withdraw the cancellation emails of ``month`` not left yet, the month being recorded
    again at ``at``; how many were. Safe to run twice: a withdrawn one is left as it is."""
    rows = session.scalars(
        select(OutboxMessage)
        .where(
            # The lot's emails first (an index): one more look per declaration recorded.
            OutboxMessage.clause_id == clause_id,
            OutboxMessage.kind == KIND,
            OutboxMessage.key.like(f"{KEY_PREFIX}:{clause_id}:{company_id}:%"),
            OutboxMessage.state.in_(NOT_LEFT),
        )
        .order_by(OutboxMessage.id)
        .with_for_update()
    ).all()
    if not rows:
        return 0
    keys = _cancellation_keys(session, clause_id, company_id, month, at)
    when = remembered_date(at.astimezone(settings.zone).date())
    reason = (
        f"Retiré : le mois {month_phrase(month)} a été déclaré de nouveau le {when}, avant le "
        "départ de ce courriel."
    )
    withdrawn = 0
    for row in rows:
        # One written again past its date (``stale_promises``: ``<key>~2``) is the same email.
        if row.key.split(AGAIN_MARK)[0] in keys:
            withdraw(row, reason)
            withdrawn += 1
    return withdrawn


def _cancellation_keys(
    session: Session, clause_id: int, company_id: int, month: date, at: datetime
) -> set[str]:
    """The keys of the emails of every cancellation of ``month`` of the company on the lot up
    to ``at``. The history row names the company's month, the key the company: a declaration
    number of another company (SQLite reuses them) makes a key no row of this company has."""
    phrase = month_phrase(month)
    keys: set[str] = set()
    for moment, text in session.execute(
        select(ClauseHistory.at, ClauseHistory.reason).where(
            ClauseHistory.clause_id == clause_id,
            ClauseHistory.event == DECLARATION_CANCELLED,
            ClauseHistory.at <= at,
        )
    ):
        found = CANCELLED_REASON.match(text or "")
        if found is not None and found["month"] == phrase:
            keys.add(cancellation_key(clause_id, company_id, int(found["id"]), moment))
    return keys
