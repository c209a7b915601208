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
- Once per recording, not once per month (user trial: three months in one file made three
  notices in the same minute, each saying the others were still missing): every channel
  publishes ``DeclarationsRecorded`` for the months of a company on a lot it recorded together,
  after each month's ``DeclarationRecorded`` (whose handlers withdraw the alerts answered), and
  one notice names them all, a line each, with the alert that named each.
- Once per alert: under ``late_declared:<clause>:<company>:<months>:<instant>``, the instant
  of the recording, the months as ``ladder_keys.months_text`` (one month: ``2026-09``, the key
  it always had; several: ``2026-09..2026-11``); a month already told since the alert left is
  not told again (a second recording is a correction). A month cancelled and declared again
  after a new alert is told again: the buyer was alerted again.
- Whatever the buyer's notice preference: like the alert itself, which goes to every buyer,
  it is the answer to a question the buyer was asked, not a milestone of the lot.
- Withdrawn, its reason kept, when the declaration is cancelled before it leaves (as the
  receipts are, ``receipt_withdrawals``); written again with the corrected figures when the
  declaration is corrected before it leaves. A notice of several months is withdrawn whole
  when one of them is cancelled (it is never sent naming a month cancelled), and its other
  months, still received, are told at once in a new notice without it, keyed at the
  cancellation's instant; so too when one of its months loses its alert, or is corrected (the
  new notice then names the months recorded with the correction as well).
- Cancelled once the notice left, or may have (sent, on the wire, maybe delivered; user trial:
  the buyer told nothing believed the month arrived and dropped its formal notice while the
  month was missing again): the buyer is told (``tell_cancelled``, ``late_cancelled:<clause>:
  <company>:<YYYY-MM>:<instant of the cancellation>``), to the same readers, whatever the
  preference: the declaration cancelled, the reason, the month missing again, the alert's
  question standing again. Declared again before that notice leaves: it is withdrawn, the
  notice that the month arrived is true again, none other follows. Declared again after it
  left: the month is told arrived again (``_standing``), a notice read missing being no longer
  the buyer's last word on it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from workflow.adapters.orm import Clause, Company, Declaration, OutboxMessage
from workflow.adapters.templates import remembered_date
from workflow.domain.calendar import local_date, month_start
from workflow.domain.events import DeclarationCancelled, DeclarationRecorded, DeclarationsRecorded
from workflow.domain.stages import Stage
from workflow.emails.ladder import KIND_ESCALATION
from workflow.emails.late_declarations import (
    CANCELLED_KIND,
    CANCELLED_PREFIX,
    KEY_PREFIX,
    KIND,
    LateCancellation,
    LateDeclaration,
    late_cancellation_context,
    late_declaration_context,
)
from workflow.emails.notices import months_named
from workflow.emails.phrases import month_phrase, months_phrase
from workflow.services import notices
from workflow.services.cancellation_notices import first_received, released_after
from workflow.services.email_facts import lot_of, party_of
from workflow.services.ladder_keys import KEY_PREFIX as LADDER_PREFIX
from workflow.services.ladder_keys import key_months, months_text, parse_months
from workflow.services.mailing import Mailing
from workflow.services.outbox import (
    NOT_LEFT,
    OutboxState,
    Recipient,
    key_exists,
    queue_email,
    withdraw,
)


def notice_key(clause_id: int, company_id: int, months: date | Iterable[date], at: datetime) -> str:
    """``late_declared:<clause>:<company>:<months>:<instant>``: one month as ``2026-09`` (the
    key of a notice of one month, as it always was), several as ``ladder_keys.months_text``
    (``2026-04..2026-06``)."""
    listed = [months] if isinstance(months, date) else list(months)
    instant = at.astimezone(UTC).isoformat()
    return f"{KEY_PREFIX}:{clause_id}:{company_id}:{months_text(listed)}:{instant}"


def notice_months(key: str) -> tuple[date, ...]:
    """The months a notice's key names; () when it is not such a key."""
    parts = key.split(":", 4)
    if len(parts) < 5 or parts[0] != KEY_PREFIX:
        return ()
    return tuple(parse_months(parts[3]))


def _company_prefix(clause_id: int, company_id: int) -> str:
    return f"{KEY_PREFIX}:{clause_id}:{company_id}:"


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
    """The notices of this company on this lot that name ``month`` (alone, or with the other
    months recorded with it)."""
    rows = session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.clause_id == clause_id,
            OutboxMessage.kind == KIND,
            OutboxMessage.key.like(_company_prefix(clause_id, company_id) + "%"),
        )
        .order_by(OutboxMessage.id)
        .with_for_update()
    ).all()
    return [row for row in rows if month in notice_months(row.key)]


def _other_owed(
    session: Session,
    clause: Clause,
    company_id: int,
    leave_out: set[date],
    left_after: date | None,
) -> tuple[date, ...]:
    """The company's months on the lot whose call left and that are not received, but for
    ``leave_out`` (declared, the months told, their alerts' own): none after the lot's end, nor
    after ``left_after``, the company's last month where it left the site (a call of a later
    month that left before its departure was recorded is asked of it no more)."""
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


def _declaration(
    session: Session, clause_id: int, company_id: int, month: date
) -> Declaration | None:
    return session.scalar(
        select(Declaration).where(
            Declaration.clause_id == clause_id,
            Declaration.company_id == company_id,
            Declaration.month == month,
        )
    )


def _owed_alert(
    session: Session, clause_id: int, company_id: int, month: date
) -> OutboxMessage | None:
    """The alert naming ``month``, declared, whose notice is owed and not written (none since
    that alert, or withdrawn): a month of a notice withdrawn for another of its months (that
    one cancelled, or its alert gone) is told again."""
    if _declaration(session, clause_id, company_id, month) is None:
        return None
    alert = _alert_naming(session, clause_id, company_id, month)
    if alert is None:
        return None
    since_alert = [
        row
        for row in _notices(session, clause_id, company_id, month)
        if row.created_at >= alert.created_at and row.state != OutboxState.CANCELLED
    ]
    if _standing(session, clause_id, company_id, month, since_alert):
        return None
    return alert


def tell_buyer(
    app: Mailing, session: Session, event: DeclarationRecorded | DeclarationsRecorded
) -> None:
    """Months declared whose alert left, or may still leave: the buyer is told they arrived.

    Each month's own recording (``DeclarationRecorded``, after ``withdraw_answered``) withdraws
    the notices still waiting that its withdrawals left without an alert (``_withdraw_orphans``);
    the recording as a whole (``DeclarationsRecorded``, once every month's handlers ran) writes
    one notice for all its months (``_tell_months``): the buyer alerted of three months that
    the company sends in one file reads one notice, not three in the same minute each saying
    the others are still missing."""
    if isinstance(event, DeclarationsRecorded):
        _forget_waiting_cancellations(session)
        _tell_months(app, session, event)
    else:
        _withdraw_untrue_cancellation(app, session, event)
        _withdraw_orphans(app, session, event.clause_id, event.company_id, event.at)


def _tell_months(app: Mailing, session: Session, event: DeclarationsRecorded) -> None:
    told: dict[date, OutboxMessage] = {}
    corrected: set[date] = set()
    replaced: dict[int, OutboxMessage] = {}
    # Each month decided on the notices as they stand, before any is withdrawn below.
    for month in event.months:
        alert = _alert_naming(session, event.clause_id, event.company_id, month)
        if alert is None:
            continue
        since_alert = _standing(
            session,
            event.clause_id,
            event.company_id,
            month,
            [
                row
                for row in _notices(session, event.clause_id, event.company_id, month)
                if row.created_at >= alert.created_at and row.state != OutboxState.CANCELLED
            ],
        )
        if since_alert:
            waiting = [row for row in since_alert if row.state in NOT_LEFT]
            if (
                month not in event.corrected
                or len(waiting) < len(since_alert)
                # Written at this very instant (this recording handled again, or its month told
                # again for another's withdrawal): it carries these figures already, and the
                # notice written in its place would have its very key.
                or any(row.created_at == event.at for row in waiting)
            ):
                # Told already (a notice left, or the same recording handled twice).
                continue
            # A correction while the notice waits: it would give the figures replaced.
            replaced.update((row.id, row) for row in waiting)
            corrected.add(month)
        elif month in event.corrected:
            # A correction of a month not told since the alert: declared before it left (an
            # alert being sent cannot be withdrawn), the buyer was not told then and is not now.
            continue
        told[month] = alert
    others: set[date] = set()
    for row in replaced.values():
        named = notice_months(row.key)
        fixed = [m for m in named if m in corrected]
        withdraw(
            row,
            f"Remplacé : la déclaration a été corrigée le {_day(app, event.at)} ; l'avis part "
            "avec les chiffres corrigés."
            if len(named) == 1
            else (
                f"Remplacé : la déclaration {months_phrase(fixed)} a été corrigée le "
                if len(fixed) == 1
                else f"Remplacé : les déclarations {months_phrase(fixed)} ont été corrigées le "
            )
            + f"{_day(app, event.at)} ; l'avis part de nouveau, avec les chiffres corrigés.",
        )
        others.update(named)
    # The other months of a notice withdrawn so, not recorded now: told again with them.
    for month in sorted(others - told.keys()):
        if (alert := _owed_alert(session, event.clause_id, event.company_id, month)) is not None:
            told[month] = alert
    _write_notice(app, session, event.clause_id, event.company_id, told, corrected, event.at)


def _write_notice(
    app: Mailing,
    session: Session,
    clause_id: int,
    company_id: int,
    told: dict[date, OutboxMessage],
    corrected: set[date],
    at: datetime,
) -> set[date]:
    """One notice, written at ``at``, for the months of ``told``, each with the alert that
    named it (an alert each, or one for several). Returns the months it names: none when
    ``told`` is empty, or when a notice of the same key exists already.

    The notice leaves when the slowest of its alerts may (``_not_before``): a month whose alert
    left waits, with the others, for an alert on the wire to end its send (at most the lease),
    or for one waiting to leave. Accepted: one notice, not one per alert, is what the buyer
    asked for, and the wait is short."""
    if not told:
        return set()
    clause = session.get_one(Clause, clause_id)
    company = session.get_one(Company, company_id)
    party = notices.award_party(session, clause.id, company.id)
    declared = set(
        session.scalars(
            select(Declaration.month).where(
                Declaration.clause_id == clause.id, Declaration.company_id == company.id
            )
        )
    )
    left_after = party.last_month if party is not None else None
    alerted: set[date] = set()
    for alert in told.values():
        covered = key_months(alert.key)
        assert covered is not None  # read by ``_alert_naming``
        alerted.update(covered.months)
    other_owed = _other_owed(
        session, clause, company.id, declared | set(told) | alerted, left_after
    )
    zone = app.settings.zone
    lates = []
    for month in sorted(told):
        alert = told[month]
        covered = key_months(alert.key)
        assert covered is not None
        declaration = _declaration(session, clause.id, company.id, month)
        if declaration is None:
            raise LookupError(f"declaration of {month:%Y-%m} vanished inside its transaction")
        lates.append(
            LateDeclaration(
                month=month,
                declared_on=local_date(declaration.recorded_at, zone),
                total_hours=declaration.total_hours,
                # Who worked that month; a line at 0 h is someone who did not (said apart).
                participants=sum(1 for line in declaration.lines if line.hours > 0),
                participants_at_zero=sum(1 for line in declaration.lines if line.hours == 0),
                alerted_on=local_date(alert.sent_at or alert.created_at, zone),
                # The alert's other months, but for those after the company's last month (it
                # left the site since): they are asked of it no more.
                still_missing=tuple(
                    m
                    for m in covered.months
                    if m not in declared and (left_after is None or m <= left_after)
                ),
                corrected=month in corrected,
                alert_left=alert.state == OutboxState.SENT,
                other_owed=other_owed,
            )
        )
    settings = app.settings
    recipients = [
        *notices.buyer_recipients(clause.market.operation.buyer),
        Recipient(settings.facilitator_name, settings.facilitator_email),
    ]
    key = notice_key(clause.id, company.id, sorted(told), at)
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
            lates,
            settings,
        ),
        now=at,
        clause_id=clause.id,
    )
    hold = max(_not_before(app, alert, at) for alert in told.values())
    for month in told:
        # A notice that the month was cancelled, on the wire: this one, saying it arrived
        # again, leaves after it (its lease ends its send).
        if any(
            row.state == OutboxState.SENDING
            for row in _cancellation_notices(session, clause.id, company.id, month)
        ):
            hold = max(hold, at + timedelta(seconds=app.settings.mail_lease))
    if queued and hold > at:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.key == key, OutboxMessage.state == OutboxState.PENDING)
            .values(next_attempt_at=hold)
            .execution_options(synchronize_session=False)
        )
    return set(told) if queued else set()


def _withdraw_orphans(
    app: Mailing, session: Session, clause_id: int, company_id: int, at: datetime
) -> None:
    """The notices of this company on this lot still waiting that name a month no alert that
    may still reach the buyer names: written while their alert was on the wire, put back to
    wait since, it was then withdrawn, its months all arrived, or written again without the
    month (``reminder_emails.withdraw_answered``, run before this handler). A notice of several
    months is withdrawn whole; its other months are told again at once, in a notice of their
    own (``_owed_alert``)."""
    waiting = session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.clause_id == clause_id,
            OutboxMessage.kind == KIND,
            OutboxMessage.key.like(_company_prefix(clause_id, company_id) + "%"),
            OutboxMessage.state.in_(NOT_LEFT),
        )
        .order_by(OutboxMessage.id)
        .with_for_update()
    ).all()
    again: set[date] = set()
    # Each notice of several months withdrawn, its reason so far and its months still received.
    rewritten: list[tuple[OutboxMessage, str, list[date]]] = []
    for row in waiting:
        named = notice_months(row.key)
        gone: list[date] = []
        newer: list[date] = []
        for month in named:
            alert = _alert_naming(session, clause_id, company_id, month)
            if alert is None:
                gone.append(month)
            elif alert.created_at > row.created_at:
                newer.append(month)
        if not gone and not newer:
            continue
        if len(named) > 1:
            stale = sorted([*gone, *newer])
            causes = []
            if gone:
                missing = "manquant" if len(gone) == 1 else "manquants"
                causes.append(
                    f"l'alerte qui signalait {months_named(gone)} {missing} a été retirée "
                    "avant de partir"
                )
            if newer:
                causes.append(f"une alerte plus récente nomme {months_named(newer)}")
            reason = (
                f"Retiré le {_day(app, at)} : "
                + " et ".join(causes)
                + " ; cet avis n'avait plus lieu d'être pour "
                + ("ce mois" if len(stale) == 1 else "ces mois")
            )
            # Withdrawn first: its other months are owed again (``_owed_alert``).
            withdraw(row, reason + ".")
            others = [m for m in named if m not in stale]
            rewritten.append((row, reason, others))
            again.update(others)
        elif gone:
            withdraw(
                row,
                f"Retiré le {_day(app, at)} : l'alerte qui signalait ce mois manquant a "
                "été retirée avant de partir ; cet avis n'avait plus lieu d'être.",
            )
        else:
            withdraw(
                row,
                f"Retiré le {_day(app, at)} : une alerte plus récente nomme ce mois ; "
                "cet avis, écrit pour la précédente, n'avait plus lieu d'être.",
            )
    queued = _tell_again(app, session, clause_id, company_id, again, at)
    for row, reason, others in rewritten:
        row.last_error = reason + _retold(others, queued) + "."


def _retold(others: list[date], queued: set[date]) -> str:
    """What the reason of a notice of several months withdrawn adds of its other months: those
    told again in the new notice (« ; ses autres mois (…) sont dits dans un nouvel avis »),
    nothing when none is (none left, or none owed any more)."""
    retold = sorted(m for m in others if m in queued)
    if not retold:
        return ""
    if len(retold) > 1:
        return f" ; ses autres mois ({months_named(retold)}) sont dits dans un nouvel avis"
    if len(others) == 1:
        return f" ; son autre mois ({months_named(retold)}) est dit dans un nouvel avis"
    return f" ; un autre de ses mois ({months_named(retold)}) est dit dans un nouvel avis"


def _tell_again(
    app: Mailing, session: Session, clause_id: int, company_id: int, months: set[date], at: datetime
) -> set[date]:
    """The months of a notice withdrawn for another of its months, still owed: one notice.
    Returns the months it names (none: none owed any more, or none left)."""
    told = {}
    for month in sorted(months):
        if (alert := _owed_alert(session, clause_id, company_id, month)) is not None:
            told[month] = alert
    return _write_notice(app, session, clause_id, company_id, told, set(), at)


def withdraw_cancelled(app: Mailing, session: Session, event: DeclarationCancelled) -> None:
    """The notice of a declaration cancelled that has not left is withdrawn: the month is
    missing again. A notice of several months (recorded together) is withdrawn whole, never
    sent naming a month cancelled; its other months, still received, are told again at once in
    a notice of their own, written at the cancellation's instant (``_owed_alert``)."""
    again: set[date] = set()
    rewritten: list[tuple[OutboxMessage, str, list[date]]] = []
    for row in _notices(session, event.clause_id, event.company_id, event.month):
        if row.state not in NOT_LEFT:
            continue
        named = notice_months(row.key)
        said = f"le {_day(app, event.at)} par {event.actor}"
        if len(named) == 1:
            withdraw(
                row, f"Retiré : la déclaration a été annulée {said}, cet avis n'était plus vrai."
            )
        else:
            reason = (
                f"Retiré : la déclaration {month_phrase(event.month)} a été annulée {said}, cet "
                "avis n'était plus vrai"
            )
            # Withdrawn first: its other months are owed again (``_owed_alert``).
            withdraw(row, reason + ".")
            others = [m for m in named if m != event.month]
            rewritten.append((row, reason, others))
            again.update(others)
    queued = _tell_again(app, session, event.clause_id, event.company_id, again, event.at)
    for row, reason, others in rewritten:
        row.last_error = reason + _retold(others, queued) + "."


#: A notice in one of these states reached the buyer, or may have: sent, on the wire, maybe
#: delivered. One waiting, refused or given up is withdrawn when its declaration is cancelled
#: (``withdraw_cancelled``): the buyer never read it.
MAY_HAVE_LEFT = (OutboxState.SENT, OutboxState.SENDING, OutboxState.UNCERTAIN)


def cancellation_key(clause_id: int, company_id: int, month: date, at: datetime) -> str:
    """``late_cancelled:<clause>:<company>:<YYYY-MM>:<instant of the cancellation>``."""
    instant = at.astimezone(UTC).isoformat()
    return f"{CANCELLED_PREFIX}:{clause_id}:{company_id}:{month:%Y-%m}:{instant}"


def _cancellation_notices(
    session: Session, clause_id: int, company_id: int, month: date
) -> list[OutboxMessage]:
    """The notices telling the buyer that ``month`` of this company on this lot, told arrived,
    was cancelled since, in order, withdrawn ones included."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.clause_id == clause_id,
                OutboxMessage.kind == CANCELLED_KIND,
                OutboxMessage.key.like(
                    f"{CANCELLED_PREFIX}:{clause_id}:{company_id}:{month:%Y-%m}:%"
                ),
            )
            .order_by(OutboxMessage.id)
        ).all()
    )


def _standing(
    session: Session,
    clause_id: int,
    company_id: int,
    month: date,
    told: list[OutboxMessage],
) -> list[OutboxMessage]:
    """The notices of ``told`` that the buyer still holds true for ``month``: not followed by a
    notice, not withdrawn, that its declaration was cancelled (``tell_cancelled``). A month
    cancelled, told missing again, then declared again is told again: the buyer read it
    missing."""
    since = [
        row.id
        for row in _cancellation_notices(session, clause_id, company_id, month)
        if row.state != OutboxState.CANCELLED
    ]
    return [row for row in told if not any(later > row.id for later in since)]


def tell_cancelled(app: Mailing, session: Session, event: DeclarationCancelled) -> None:
    """A month the buyer was told had arrived after its alert, by a notice that left or may
    have (sent, on the wire, maybe delivered: ``MAY_HAVE_LEFT``), whose declaration is
    cancelled: the buyer is told it is missing again (``CANCELLED_KIND``), to the notice's
    readers, whatever the buyer's notice preference. Runs after ``withdraw_cancelled``, which
    withdraws a notice not left: the buyer never read it, nothing is told.

    A notice on the wire or maybe delivered counts as read: a buyer who read that the month
    arrived, and nothing after, may drop a formal notice; one who never got it reads that a
    declaration was cancelled, which is true, and says its sending is not confirmed. Once per
    cancellation (its key holds the cancellation's instant); none when the buyer was already
    told the month cancelled since the last notice of its arrival; none for a month after the
    company's last one on the site (asked no more: not missing)."""
    told = [
        row
        for row in _notices(session, event.clause_id, event.company_id, event.month)
        if row.state in MAY_HAVE_LEFT
    ]
    standing = _standing(session, event.clause_id, event.company_id, event.month, told)
    if not standing:
        return
    notice = standing[-1]
    key = cancellation_key(event.clause_id, event.company_id, event.month, event.at)
    if key_exists(session, key):
        return
    if released_after(session, event.clause_id, event.company_id, event.month) is not None:
        return
    clause = session.get_one(Clause, event.clause_id)
    company = session.get_one(Company, event.company_id)
    party = notices.award_party(session, clause.id, company.id)
    settings = app.settings
    zone = settings.zone
    alert = _alert_naming(session, clause.id, company.id, event.month)
    # Its first reception, and the correction that gave the figures cancelled, if any (as the
    # company's email says them: ``emails.cancellations``).
    first = first_received(session, event)
    corrected = first is not None and first < event.recorded_at
    received_on = local_date(first if corrected and first else event.recorded_at, zone)
    corrected_on = local_date(event.recorded_at, zone) if corrected else None
    cancelled = LateCancellation(
        month=event.month,
        received_on=received_on,
        corrected_on=corrected_on,
        total_hours=event.total_hours,
        told_on=local_date(notice.sent_at or notice.created_at, zone),
        told_left=notice.state == OutboxState.SENT,
        cancelled_on=local_date(event.at, zone),
        reason=event.reason,
        alerted_on=(None if alert is None else local_date(alert.sent_at or alert.created_at, zone)),
        suspended=clause.stage == Stage.SUSPENDED,
    )
    recipients = [
        *notices.buyer_recipients(clause.market.operation.buyer),
        Recipient(settings.facilitator_name, settings.facilitator_email),
    ]
    _forget_waiting_cancellations(session)
    queued = queue_email(
        session,
        app.renderer,
        key=key,
        kind=CANCELLED_KIND,
        recipients=recipients,
        context=late_cancellation_context(
            lot_of(clause),
            party_of(party) if party is not None else None,
            company.name,
            cancelled,
            settings,
        ),
        now=event.at,
        clause_id=clause.id,
    )
    if queued and notice.state == OutboxState.SENDING:
        # Not before the notice it corrects, on the wire: its lease ends its send.
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.key == key, OutboxMessage.state == OutboxState.PENDING)
            .values(next_attempt_at=event.at + timedelta(seconds=settings.mail_lease))
            .execution_options(synchronize_session=False)
        )


def _withdraw_untrue_cancellation(
    app: Mailing, session: Session, event: DeclarationRecorded
) -> None:
    """A notice that the month was cancelled, still waiting when the month is declared again:
    withdrawn, the buyer never reads it. The buyer's last word on the month is then the notice
    that it arrived, true again (a new declaration, whose figures may differ, as a correction
    after that notice left is not told either); none other follows."""
    for row in _waiting_cancellations(session, event).get(f"{event.month:%Y-%m}", []):
        if row.state in NOT_LEFT:
            withdraw(
                row,
                f"Retiré : le mois a été déclaré de nouveau le {_day(app, event.at)}, "
                "cet avis n'était plus vrai.",
            )


#: ``session.info`` key: the transaction, and the cancellation notices still waiting of each
#: company on a lot recorded at an instant in it (``_waiting_cancellations``).
_WAITING_CANCELLATIONS = "late_declaration_notices.waiting_cancellations"


def _forget_waiting_cancellations(session: Session) -> None:
    """``_waiting_cancellations`` read again from here on: a recording handled, or a
    cancellation notice written."""
    session.info.pop(_WAITING_CANCELLATIONS, None)


def _waiting_cancellations(
    session: Session, event: DeclarationRecorded
) -> dict[str, list[OutboxMessage]]:
    """The notices that a month of this company on this lot was cancelled, still waiting, by
    month (``YYYY-MM``), in order: one query per recording (a file of 10^4 months is one
    recording per company and lot), not one per month. Read once, at its first month's
    handler; the months of one recording are handled in the same transaction, and no
    cancellation notice is written among them (one is written when a month is cancelled)."""
    transaction = session.get_transaction()
    known = session.info.get(_WAITING_CANCELLATIONS)
    if transaction is None or known is None or known[0] is not transaction:
        known = (transaction, {})
        session.info[_WAITING_CANCELLATIONS] = known
    recordings: dict[tuple[int, int, datetime], dict[str, list[OutboxMessage]]] = known[1]
    recording = (event.clause_id, event.company_id, event.at)
    if recording not in recordings:
        by_month: dict[str, list[OutboxMessage]] = defaultdict(list)
        for row in session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.clause_id == event.clause_id,
                OutboxMessage.kind == CANCELLED_KIND,
                OutboxMessage.key.like(
                    f"{CANCELLED_PREFIX}:{event.clause_id}:{event.company_id}:%"
                ),
                OutboxMessage.state.in_(NOT_LEFT),
            )
            .order_by(OutboxMessage.id)
        ):
            # ``cancellation_key``: late_cancelled:<clause>:<company>:<YYYY-MM>:<instant>.
            by_month[row.key.split(":", 4)[3]].append(row)
        recordings[recording] = by_month
    return recordings[recording]
