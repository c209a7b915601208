"""The buyer told that a month its alert said missing has arrived since.

The alert before formal notice (``declaration_escalation``) asks the buyer how to proceed, and
the buyer may go on to a formal notice against the company. When the company then declares that
month (hours or zero; import, web page, API or command: every channel publishes
``DeclarationRecorded``), a notice (``emails.late_declarations``) is queued in the same
transaction, for the alert's readers (the buyer's contacts and the facilitator, as the alert).

- For an alert that left (sent), and for one that may still reach the buyer naming this month:
  on the wire (sending), maybe delivered (uncertain), refused or given up (« Renvoyer » sends
  it as written), or waiting and not written again (``ladder_rewrites``: a template broken
  since). A buyer who reads it with no word after may put a compliant company on notice. None
  for an alert withdrawn: it never reached the buyer. Before this handler runs,
  ``reminder_emails.withdraw_answered`` withdraws an alert waiting whose months have all
  arrived, and writes one waiting (pending) that also names a month still missing again for the
  months still missing: the one naming this month is withdrawn (« Remplacé … »), the one that
  leaves does not name it, and ``_alert_naming`` finds neither, so no notice follows.
- The notice is dated not to overtake its alert. The outbox has no way to hold an email until
  another leaves (the dispatcher takes the rows due by date, then number): an alert on the
  wire has the lease (``CLAUSES_MAIL_LEASE``) to end its send (recorded sent, or uncertain),
  the notice is due after it; an alert waiting is due first, and taken before the notice. An
  alert put back to wait after a failed try may still leave after the notice: the notice of an
  alert not known to have left says so (« si elle vous parvient après ce message, ne tenez pas
  compte de ce qu'elle dit de ce mois »), true in either order, whether the alert leaves or not.
- A notice still waiting whose alert was withdrawn since (its months all arrived before it
  left, or it was written again without the month) is withdrawn at the next recording of the
  company on the lot: the buyer never reads that alert.
- Once per alert: under ``late_declared:<clause>:<company>:<YYYY-MM>:<instant>``, the instant
  of the recording; a month already told since the alert left is not told again (a second
  recording is a correction). A month cancelled and declared again after a new alert is told
  again: the buyer was alerted again.
- Whatever the buyer's notice preference: like the alert itself, which goes to every buyer,
  it is the answer to a question the buyer was asked, not a milestone of the lot.
- Withdrawn, its reason kept, when the declaration is cancelled before it leaves (as the
  receipts are, ``receipt_withdrawals``); written again with the corrected figures when the
  declaration is corrected before it leaves.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from workflow.adapters.orm import Clause, Company, Declaration, OutboxMessage
from workflow.adapters.templates import remembered_date
from workflow.domain.calendar import local_date, month_start
from workflow.domain.events import DeclarationCancelled, DeclarationRecorded
from workflow.emails.ladder import KIND_ESCALATION
from workflow.emails.late_declarations import (
    KEY_PREFIX,
    KIND,
    LateDeclaration,
    late_declaration_context,
)
from workflow.services import notices
from workflow.services.email_facts import lot_of, party_of
from workflow.services.ladder_keys import KEY_PREFIX as LADDER_PREFIX
from workflow.services.ladder_keys import key_months
from workflow.services.mailing import Mailing
from workflow.services.outbox import NOT_LEFT, OutboxState, Recipient, queue_email, withdraw


def notice_key(clause_id: int, company_id: int, month: date, at: datetime) -> str:
    return f"{KEY_PREFIX}:{clause_id}:{company_id}:{month:%Y-%m}:{at.astimezone(UTC).isoformat()}"


def _month_prefix(clause_id: int, company_id: int, month: date) -> str:
    return f"{KEY_PREFIX}:{clause_id}:{company_id}:{month:%Y-%m}:"


#: An alert in one of these states reached the buyer, or may: sent, on the wire, maybe
#: delivered, waiting to leave, or refused or given up (« Renvoyer » sends it). Only one
#: withdrawn (cancelled) never will.
MAY_REACH = (
    OutboxState.SENT,
    OutboxState.SENDING,
    OutboxState.UNCERTAIN,
    *NOT_LEFT,
)


def _alert_naming(
    session: Session, clause_id: int, company_id: int, month: date
) -> OutboxMessage | None:
    """The latest alert naming ``month`` of this company on this lot that reached the buyer or
    may still (``MAY_REACH``)."""
    rows = session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.clause_id == clause_id,
            OutboxMessage.kind == KIND_ESCALATION,
            OutboxMessage.key.like(f"{LADDER_PREFIX}:{clause_id}:{company_id}:%"),
            OutboxMessage.state.in_(MAY_REACH),
        )
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
    ).all()
    for row in rows:
        covered = key_months(row.key)
        if covered is not None and month in covered.months:
            return row
    return None


def _not_before(app: Mailing, alert: OutboxMessage, at: datetime) -> datetime:
    """When the notice of ``alert`` may leave, recorded at ``at``: not before the alert. One on
    the wire ends its send within its lease (sent, or uncertain once the lease is over); one
    waiting is due first (the dispatcher takes the rows by due date, then number: the alert,
    older, first). Otherwise at once: sent, or left to the facilitator (uncertain, refused,
    given up)."""
    if alert.state == OutboxState.SENDING:
        return at + timedelta(seconds=app.settings.mail_lease)
    if alert.state == OutboxState.PENDING and alert.next_attempt_at is not None:
        return max(at, alert.next_attempt_at)
    return at


def _notices(session: Session, clause_id: int, company_id: int, month: date) -> list[OutboxMessage]:
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.clause_id == clause_id,
                OutboxMessage.kind == KIND,
                OutboxMessage.key.like(_month_prefix(clause_id, company_id, month) + "%"),
            )
            .order_by(OutboxMessage.id)
            .with_for_update()
        )
    )


def _other_owed(
    session: Session,
    clause: Clause,
    company_id: int,
    leave_out: set[date],
    left_after: date | None,
) -> tuple[date, ...]:
    """The company's months on the lot whose call left and that are not received, but for
    ``leave_out`` (declared, this month, the alert's own): none after the lot's end, nor after
    ``left_after``, the company's last month where it left the site (a call of a later month
    that left before its departure was recorded is asked of it no more)."""
    last = month_start(clause.end_date) if clause.end_date is not None else None
    return tuple(
        sorted(
            month
            for month in notices.ladder_due_dates(session, clause.id, company_id, called_only=True)
            if month not in leave_out
            and (last is None or month <= last)
            and (left_after is None or month <= left_after)
        )
    )


def _day(app: Mailing, at: datetime) -> str:
    return remembered_date(local_date(at, app.settings.zone))


def tell_buyer(app: Mailing, session: Session, event: DeclarationRecorded) -> None:
    """A month declared whose alert left, or may still leave: the buyer is told it has
    arrived."""
    _withdraw_orphans(app, session, event)
    alert = _alert_naming(session, event.clause_id, event.company_id, event.month)
    if alert is None:
        return
    since_alert = [
        row
        for row in _notices(session, event.clause_id, event.company_id, event.month)
        if row.created_at >= alert.created_at and row.state != OutboxState.CANCELLED
    ]
    corrected = False
    if since_alert:
        waiting = [row for row in since_alert if row.state in NOT_LEFT]
        if event.replaces is None or len(waiting) < len(since_alert):
            # Told already (a notice left, or the same recording handled twice).
            return
        # A correction while the notice waits: it would give the figures replaced.
        for row in waiting:
            withdraw(
                row,
                f"Remplacé : la déclaration a été corrigée le {_day(app, event.at)} ; l'avis "
                "part avec les chiffres corrigés.",
            )
        corrected = True
    elif event.replaces is not None:
        # A correction of a month not told since the alert: declared before it left (an alert
        # being sent cannot be withdrawn), the buyer was not told then and is not now.
        return
    declaration = session.get(Declaration, event.declaration_id)
    if declaration is None:
        raise LookupError(f"declaration {event.declaration_id} vanished inside its transaction")
    clause = session.get_one(Clause, event.clause_id)
    company = session.get_one(Company, event.company_id)
    party = notices.award_party(session, clause.id, company.id)
    covered = key_months(alert.key)
    assert covered is not None  # read by ``_alert_naming``
    declared = set(
        session.scalars(
            select(Declaration.month).where(
                Declaration.clause_id == clause.id, Declaration.company_id == company.id
            )
        )
    )
    left_after = party.last_month if party is not None else None
    zone = app.settings.zone
    late = LateDeclaration(
        month=event.month,
        declared_on=local_date(event.at, zone),
        total_hours=declaration.total_hours,
        # Who worked that month; a line at 0 h is someone who did not (said apart).
        participants=sum(1 for line in declaration.lines if line.hours > 0),
        participants_at_zero=sum(1 for line in declaration.lines if line.hours == 0),
        alerted_on=local_date(alert.sent_at or alert.created_at, zone),
        # The alert's other months, but for those after the company's last month (it left the
        # site since): they are asked of it no more.
        still_missing=tuple(
            m
            for m in covered.months
            if m not in declared | {event.month} and (left_after is None or m <= left_after)
        ),
        corrected=corrected,
        alert_left=alert.state == OutboxState.SENT,
        other_owed=_other_owed(
            session, clause, company.id, declared | {event.month, *covered.months}, left_after
        ),
    )
    settings = app.settings
    recipients = [
        *notices.buyer_recipients(clause.market.operation.buyer),
        Recipient(settings.facilitator_name, settings.facilitator_email),
    ]
    key = notice_key(clause.id, company.id, event.month, event.at)
    queued = queue_email(
        session,
        app.renderer,
        key=key,
        kind=KIND,
        recipients=recipients,
        context=late_declaration_context(
            lot_of(clause),
            party_of(party) if party is not None else None,
            company.name,
            late,
            settings,
        ),
        now=event.at,
        clause_id=clause.id,
    )
    hold = _not_before(app, alert, event.at)
    if queued and hold > event.at:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.key == key, OutboxMessage.state == OutboxState.PENDING)
            .values(next_attempt_at=hold)
            .execution_options(synchronize_session=False)
        )


def _withdraw_orphans(app: Mailing, session: Session, event: DeclarationRecorded) -> None:
    """The notices of this company on this lot still waiting whose month no alert names that
    may still reach the buyer: written while their alert was on the wire, put back to wait
    since, it was then withdrawn, its months all arrived, or written again without the month
    (``reminder_emails.withdraw_answered``, run before this handler)."""
    waiting = session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.clause_id == event.clause_id,
            OutboxMessage.kind == KIND,
            OutboxMessage.key.like(f"{KEY_PREFIX}:{event.clause_id}:{event.company_id}:%"),
            OutboxMessage.state.in_(NOT_LEFT),
        )
        .order_by(OutboxMessage.id)
        .with_for_update()
    ).all()
    for row in waiting:
        month = date.fromisoformat(row.key.split(":")[3] + "-01")
        alert = _alert_naming(session, event.clause_id, event.company_id, month)
        if alert is None:
            withdraw(
                row,
                f"Retiré le {_day(app, event.at)} : l'alerte qui signalait ce mois manquant a "
                "été retirée avant de partir ; cet avis n'avait plus lieu d'être.",
            )
        elif alert.created_at > row.created_at:
            withdraw(
                row,
                f"Retiré le {_day(app, event.at)} : une alerte plus récente nomme ce mois ; "
                "cet avis, écrit pour la précédente, n'avait plus lieu d'être.",
            )


def withdraw_cancelled(app: Mailing, session: Session, event: DeclarationCancelled) -> None:
    """The notice of a declaration cancelled that has not left is withdrawn: the month is
    missing again."""
    for row in _notices(session, event.clause_id, event.company_id, event.month):
        if row.state in NOT_LEFT:
            withdraw(
                row,
                f"Retiré : la déclaration a été annulée le {_day(app, event.at)} par "
                f"{event.actor}, cet avis n'était plus vrai.",
            )
