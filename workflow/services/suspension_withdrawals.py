"""The ladder emails of a lot suspended that had not left: withdrawn, their steps sent again
after the resumption.

A pass queues a call at 09:00; the mail leaves later (``clauses mail send``, a server down, a
retry wait). Suspended at 10:00, the lot's company would still get that call, with a due date
the suspension moves, next to the suspension's email saying that its dates move and that the
new ones come at the resumption; a buyer's alert could leave for a lot suspended. So, in the
suspension's transaction (``company_pauses.tell_companies`` calls ``withdraw_for_suspension``
before it writes the companies' emails, which then read the ladders as this leaves them):

- every ladder email of the lot that has not left (``outbox.NOT_LEFT``: waiting in the outbox,
  queued or waiting for a retry or for the server; refused for good or given up, which
  « Renvoyer » would send during the suspension) is withdrawn, its reason kept in the email log
  (« Retiré : lot suspendu le … »); « Renvoyer » then refuses it (``outbox_corrections``). One
  that may have left (sending, uncertain) stays as it is. Only this lot's keys
  (``reminder:<lot>:…``) are read: an email covers one company's months on one lot, no other
  lot is touched;
- each month of those emails whose latest steps were withdrawn goes back to the first of them,
  as if it had not been sent: a call withdrawn leaves the month waiting on its call (no call,
  no date given: the suspension's email lists the month among those asked after the
  resumption), a reminder or the alert on that step, counted from the step really sent before
  it. The passes skip a suspended lot; after the resumption they send that step again as any
  step due, with the dates the resumption gives (``due_after_call`` for a call, the suspended
  days pushing the reminders and the alert), under the key of its second sending
  (``ladder_keys.sent_again_key``): the alert therefore never precedes the call and the
  reminders it escalates.

A step withdrawn whose month moved on meanwhile (a later step already left) is withdrawn all
the same and not sent again.

What was withdrawn is told as a finish tells it (``lot_ends.released_sentence``): one sentence
by company (``withdrawn_sentence``, « Bâtiments Sud : 1 courriel en attente retiré (rappel
n° 1) ; il sera envoyé de nouveau après la reprise, … », « 1 courriel non parti retiré (appel à
déclaration, refusé) … » for one refused or given up), kept on the session
(``told_withdrawals``) for the interface that suspended the lot to print it (``clauses clause
advance N suspendre``). Not in the suspension's history row: the buyer's notice of the
suspension quotes its reason (``_tell``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.orm import Company, DeclarationLadder, OutboxMessage
from workflow.adapters.templates import remembered_date
from workflow.domain.calendar import LadderStep, local_date, month_schedule
from workflow.emails.ladder import KINDS, step_label
from workflow.services.ladder_keys import KEY_PREFIX, key_months, withdrawn_by_service
from workflow.services.lot_calendars import lot_calendars
from workflow.services.outbox import NOT_LEFT, STATE_LABELS, OutboxState
from workflow.settings import Settings

log = logging.getLogger(__name__)

NBSP = "\u00a0"


@dataclass(frozen=True)
class SuspensionWithdrawal:
    """One ladder email withdrawn at a suspension, and whether its step goes again."""

    outbox_id: int
    company_id: int
    step: str
    months: tuple[date, ...]
    #: Its step is sent again after the resumption (for at least one of its months).
    again: bool
    #: Its state when withdrawn: ``pending``, or ``failed``/``dead`` (it could not be delivered).
    state: str = OutboxState.PENDING.value

    def label(self) -> str:
        """« rappel n° 1 », « appel, refusé » for one that could not be delivered."""
        named = step_label(self.step)
        if self.state == OutboxState.PENDING.value:
            return named
        return f"{named}, {STATE_LABELS.get(self.state, self.state)}"


def withdrawal_reason(day: date, again: bool) -> str:
    """« Retiré : lot suspendu le 10 décembre 2026 avant le départ de ce courriel ; il sera
    envoyé de nouveau après la reprise, avec les dates qu'elle donne, si le mois est encore
    à déclarer. »"""
    said = f"Retiré{NBSP}: lot suspendu le {remembered_date(day)} avant le départ de ce courriel"
    if again:
        said += (
            f"{NBSP}; il sera envoyé de nouveau après la reprise, avec les dates qu'elle donne, "
            "si le mois est encore à déclarer"
        )
    return said + "."


#: ``Session.info`` key: the sentences of what the suspensions of this transaction withdrew.
TOLD_KEY = "suspension_withdrawals"


def withdrawn_sentence(company: str, withdrawals: list[SuspensionWithdrawal]) -> str:
    """« Bâtiments Sud : 1 courriel en attente retiré (rappel n° 1) ; il sera envoyé de
    nouveau après la reprise, avec les dates qu'elle donne, si le mois est encore à déclarer. »
    (the steps named as the finish names them, ``step_label``); « 2 courriels non partis
    retirés (appel à déclaration, refusé ; rappel n° 1) … » when one of them could not be
    delivered."""
    count = len(withdrawals)
    if all(w.state == OutboxState.PENDING.value for w in withdrawals):
        emails = (
            "1 courriel en attente retiré"
            if count == 1
            else f"{count} courriels en attente retirés"
        )
        labels = ", ".join(w.label() for w in withdrawals)
    else:
        emails = (
            "1 courriel non parti retiré" if count == 1 else f"{count} courriels non partis retirés"
        )
        labels = f"{NBSP}; ".join(w.label() for w in withdrawals)
    said = f"{company}{NBSP}: {emails} ({labels})"
    again = [w for w in withdrawals if w.again]
    if again:
        if len(again) == count:
            subject = "il sera envoyé" if count == 1 else "ils seront envoyés"
        else:
            named = ", ".join(step_label(w.step) for w in again)
            subject = f"{named} sera envoyé" if len(again) == 1 else f"{named} seront envoyés"
        said += (
            f"{NBSP}; {subject} de nouveau après la reprise, avec les dates qu'elle donne, si le "
            "mois est encore à déclarer"
        )
    return said + "."


def told_withdrawals(session: Session) -> tuple[str, ...]:
    """The sentences of what the suspensions of this transaction withdrew, taken off the
    session: the interface that suspended the lot prints them."""
    told: list[str] = session.info.pop(TOLD_KEY, [])
    return tuple(told)


def _tell(session: Session, done: list[SuspensionWithdrawal]) -> None:
    """One sentence by company, kept on the session for the interface that suspended the lot.

    Not added to the suspension's history row, unlike the finish's: the buyer's notice of the
    suspension quotes that row's reason (« Motif indiqué : … », ``notices.history_reason``),
    and the facilitator's emails withdrawn are none of the buyer's business; each withdrawn
    email keeps its own reason in the email log (« Retiré : lot suspendu le … »)."""
    by_company: dict[int, list[SuspensionWithdrawal]] = defaultdict(list)
    for withdrawal in done:
        by_company[withdrawal.company_id].append(withdrawal)
    names = {
        company.id: company.name
        for company in session.scalars(select(Company).where(Company.id.in_(by_company)))
    }
    sentences = [
        withdrawn_sentence(names.get(company_id, f"entreprise n°{NBSP}{company_id}"), ws)
        for company_id, ws in sorted(
            by_company.items(), key=lambda item: (names.get(item[0], ""), item[0])
        )
    ]
    session.info.setdefault(TOLD_KEY, []).extend(sentences)


def withdraw_for_suspension(
    session: Session, settings: Settings, clause_id: int, at: datetime
) -> list[SuspensionWithdrawal]:
    """In the suspension's transaction: withdraw the lot's ladder emails still waiting, and
    put each month back on the first step withdrawn (module docstring)."""
    # The ladders locked first, as ``lot_ends`` locks them: a pass climbing them holds them
    # until its emails are written, which the read below then sees; read again as locked.
    ladders = {
        (ladder.company_id, ladder.month): ladder
        for ladder in session.scalars(
            select(DeclarationLadder)
            .where(DeclarationLadder.clause_id == clause_id)
            .order_by(DeclarationLadder.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    rows = session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.clause_id == clause_id,
            OutboxMessage.kind.in_(KINDS),
            OutboxMessage.key.startswith(f"{KEY_PREFIX}:{clause_id}:", autoescape=True),
            OutboxMessage.state.in_(NOT_LEFT),
        )
        .order_by(OutboxMessage.id)
        .with_for_update()
    ).all()
    if not rows:
        return []
    zone = settings.zone
    rules = lot_calendars(session, [clause_id], settings)[clause_id].rules
    # Each (company, month): the steps withdrawn now, with the instant their email was queued.
    withdrawn: dict[tuple[int, date], dict[str, datetime]] = defaultdict(dict)
    covered: list[tuple[OutboxMessage, int, str, tuple[date, ...]]] = []
    for row in rows:
        parsed = key_months(row.key)
        if parsed is None or parsed.clause_id != clause_id:
            continue
        covered.append((row, parsed.company_id, parsed.step, parsed.months))
        for month in parsed.months:
            withdrawn[(parsed.company_id, month)][parsed.step] = row.created_at
    # Each month put back on its first step withdrawn: (company, month) -> the steps from it on.
    again: dict[tuple[int, date], list[str]] = {}
    for (company_id, month), steps in withdrawn.items():
        ladder = ladders.get((company_id, month))
        if ladder is None or ladder.declared_at is not None:
            continue
        names = [s.name for s in month_schedule(month, rules, zone).steps]
        from_step = _put_back(session, ladder, steps, names)
        if from_step is not None:
            again[(company_id, month)] = names[names.index(from_step) :]
    day = local_date(at, zone)
    done: list[SuspensionWithdrawal] = []
    for row, company_id, step, months in covered:
        goes_again = any(step in again.get((company_id, m), ()) for m in months)
        state = str(row.state)
        row.state = OutboxState.CANCELLED.value
        row.next_attempt_at = None
        row.last_error = withdrawal_reason(day, goes_again)
        done.append(SuspensionWithdrawal(row.id, company_id, step, months, goes_again, state))
        log.info(
            "ladder email withdrawn at a suspension",
            extra={
                "action": "ladder.withdrawn_suspended",
                "outbox_id": row.id,
                "clause_id": clause_id,
                "company_id": company_id,
                "months": [f"{m:%Y-%m}" for m in months],
                "step": step,
                "again": goes_again,
                "state": state,
            },
        )
    _tell(session, done)
    return done


def _put_back(
    session: Session,
    ladder: DeclarationLadder,
    steps: dict[str, datetime],
    names: list[str],
) -> str | None:
    """Put ``ladder`` back on the first of its latest steps that were all withdrawn now
    (``steps``, with the instant each was queued), as if they had not been sent; that step, or
    None when the step it last passed was not withdrawn (it left: nothing is put back)."""
    if ladder.next_step == LadderStep.DONE:
        index = len(names)
    elif ladder.next_step in names:
        index = names.index(ladder.next_step)
    else:
        return None  # a name of another calendar: left as it is (``reminders`` replans it)
    first: int | None = None
    while index - 1 >= 0 and names[index - 1] in steps:
        index -= 1
        first = index
    if first is None:
        return None
    step = names[first]
    passed = names[first:]
    # Due again since its email was queued: the pass counts its moment again after the
    # resumption (a reminder or the alert pushed by the suspended days, a call at its slot).
    ladder.next_step, ladder.next_step_at = step, steps[step]
    if LadderStep.ESCALATION in passed:
        ladder.escalated_at = None
    if step == LadderStep.CALL:
        # As the pass opened it: no call left, no step passed; ``due_on`` stays the date the
        # call would have given, which the call gives again when it leaves.
        ladder.called_at = None
        ladder.stepped_at = None
    else:
        ladder.stepped_at = _sent_on(session, ladder, names[first - 1])
    log.info(
        "ladder put back on a step withdrawn at a suspension",
        extra={
            "action": "ladder.put_back",
            "clause_id": ladder.clause_id,
            "company_id": ladder.company_id,
            "month": f"{ladder.month:%Y-%m}",
            "step": step,
        },
    )
    return step


def _sent_on(session: Session, ladder: DeclarationLadder, step: str) -> datetime | None:
    """When the email of ``step`` covering the ladder's month was queued (the latest, if it was
    sent again): the instant the ladder passed that step (``stepped_at``)."""
    if step == LadderStep.CALL:
        return ladder.called_at
    found: datetime | None = None
    for key, created_at, state, last_error in session.execute(
        select(
            OutboxMessage.key,
            OutboxMessage.created_at,
            OutboxMessage.state,
            OutboxMessage.last_error,
        ).where(
            OutboxMessage.clause_id == ladder.clause_id,
            OutboxMessage.key.startswith(
                f"{KEY_PREFIX}:{ladder.clause_id}:{ladder.company_id}:", autoescape=True
            ),
        )
    ):
        parsed = key_months(key)
        if (
            parsed is None
            or parsed.step != step
            or ladder.month not in parsed.months
            or withdrawn_by_service(state, last_error)
        ):
            continue
        found = created_at if found is None else max(found, created_at)
    return found
