"""The companies welcomed on a lot that is then abandoned, before its start, are told.

A lot at the award stage has its companies welcomed (``company_welcome``, key
``welcome:<lot>:<company>:<instant>``, and perhaps ``company_award_corrected`` since): each was
told the months it would declare and when. Abandoned (« infructueux », « sans suite ») before its
start, it is never started and nobody calls them; without a word, they wait for calls that never
come, or prepare declarations for nothing (user trial). So, in the abandon's transaction:

- their welcome or award-correction emails not left yet (waiting, refused, given up) are
  withdrawn, their reason kept (« Retiré : lot abandonné le … »): they would announce a first
  call that will not come;
- each company whose welcome (or correction) left, or may have (sending, uncertain), gets one
  ``company_lot_abandoned``, written to whom that email was written: the lot abandoned, the
  reason, « Vous n'avez rien à déclarer pour ce lot ». Keyed
  ``abandoned:<lot>:<company>:<instant of the abandon>``: handled twice, it writes nothing more.

The abandon undone (``reopen``, back to award): an abandon email not left yet is withdrawn (the
company never read it), and each company that was told, or whose welcome the abandon withdrew,
is welcomed again (``notices.notify_reopened``, with ``to_welcome_again``): the welcome, written
as of the reopening, tells it where it stands; nothing false is left to leave.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from workflow.adapters.mail.message import AddressRefused, parse_recipients
from workflow.adapters.orm import Clause, ClauseHistory, OutboxMessage
from workflow.domain.calendar import local_date
from workflow.domain.events import ClauseAdvanced
from workflow.domain.stages import ClauseEvent
from workflow.emails.company_ends import ABANDONED, abandoned_context
from workflow.emails.envelope import OutboxState
from workflow.emails.welcome import CORRECTED_KIND, KIND
from workflow.services.email_facts import lot_of
from workflow.services.mailing import Mailing
from workflow.services.outbox import NOT_LEFT, Recipient, queue_email, withdraw

#: How the abandon's email keys start: ``abandoned:<lot>:<company>:<instant>``.
KEY_PREFIX = "abandoned"
#: An email in one of these states reached its reader, or may have.
LEFT = (OutboxState.SENT.value, OutboxState.SENDING.value, OutboxState.UNCERTAIN.value)
#: How the reason of an email withdrawn by the abandon starts.
WITHDRAWN = "Retiré : lot abandonné le"
#: How the reason of an abandon email withdrawn by the reopening starts.
REOPENED = "Retiré : l'abandon a été annulé le"


def _company_of(key: str) -> int | None:
    """The company of a ``<prefix>:<lot>:<company>:<instant>`` key."""
    parts = key.split(":", 3)
    return int(parts[2]) if len(parts) > 3 and parts[2].isdigit() else None


def _welcomes(session: Session, clause_id: int) -> list[OutboxMessage]:
    """The lot's welcome and award-correction emails, locked, oldest first."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.clause_id == clause_id,
                OutboxMessage.kind.in_((KIND, CORRECTED_KIND)),
            )
            .order_by(OutboxMessage.id)
            .with_for_update()
        )
    )


def _readers(row: OutboxMessage) -> list[Recipient]:
    """Whom ``row`` was written to: the person who read the welcome."""
    try:
        return [Recipient(box.name, box.address) for box in parse_recipients(row.recipients)]
    except AddressRefused:  # an address the server refused: it never read it
        return []


def tell_abandoned(app: Mailing, session: Session, event: ClauseAdvanced) -> list[int]:
    """In the abandon's transaction: the welcomes not left withdrawn, each company whose welcome
    left told. Returns the companies written to."""
    if event.event is not ClauseEvent.ABANDON:
        return []
    clause = session.get_one(Clause, event.clause_id)
    zone = app.settings.zone
    day = local_date(event.at, zone)
    bound = {party.company_id: party for party in clause.parties}
    last_left: dict[int, OutboxMessage] = {}
    for row in _welcomes(session, clause.id):
        company_id = _company_of(row.key)
        if company_id is None:
            continue
        if row.state in NOT_LEFT:
            withdraw(
                row,
                f"{WITHDRAWN} {day:%d/%m/%Y} avant le départ de ce courriel ; l'entreprise n'a "
                "rien à déclarer pour ce lot.",
            )
        elif row.state in LEFT and company_id in bound:
            last_left[company_id] = row
    stamp = event.at.astimezone(UTC).isoformat()
    reason = _reason(session, clause.id, event.at)
    told: list[int] = []
    for company_id, row in sorted(last_left.items()):
        readers = _readers(row)
        if not readers:
            continue
        welcomed = row.sent_at if row.state == OutboxState.SENT.value else None
        if queue_email(
            session,
            app.renderer,
            key=f"{KEY_PREFIX}:{clause.id}:{company_id}:{stamp}",
            kind=ABANDONED,
            recipients=readers,
            context=abandoned_context(
                lot_of(clause),
                bound[company_id].company.name,
                readers[0],
                abandoned_on=day,
                reason=reason,
                welcomed_on=local_date(welcomed, zone) if welcomed is not None else None,
            ),
            now=event.at,
            clause_id=clause.id,
        ):
            told.append(company_id)
    return told


def _reason(session: Session, clause_id: int, at: datetime) -> str | None:
    """The reason of the abandon, from its history row (the buyer's notice quotes it too)."""
    return session.scalar(
        select(ClauseHistory.reason)
        .where(
            ClauseHistory.clause_id == clause_id,
            ClauseHistory.event == ClauseEvent.ABANDON.value,
            ClauseHistory.at == at,
        )
        .order_by(ClauseHistory.id.desc())
        .limit(1)
    )


def to_welcome_again(session: Session, clause_id: int, day: date) -> set[int]:
    """On the abandon undone: the abandon emails not left withdrawn; returns the companies of
    the award to welcome again: those told of the abandon (or about to be) and those whose
    welcome the abandon withdrew."""
    clause = session.get_one(Clause, clause_id)
    bound = {party.company_id for party in clause.parties}
    companies: set[int] = set()
    for row in session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.clause_id == clause_id,
            or_(
                OutboxMessage.kind == ABANDONED,
                OutboxMessage.kind.in_((KIND, CORRECTED_KIND))
                & OutboxMessage.last_error.startswith(WITHDRAWN, autoescape=True),
            ),
        )
        .order_by(OutboxMessage.id)
        .with_for_update()
    ):
        company_id = _company_of(row.key)
        if company_id is None or company_id not in bound:
            continue
        if row.kind == ABANDONED and row.state in NOT_LEFT:
            withdraw(
                row,
                f"{REOPENED} {day:%d/%m/%Y} avant le départ de ce courriel ; l'entreprise "
                "reçoit de nouveau son accueil.",
            )
        companies.add(company_id)
    return companies
