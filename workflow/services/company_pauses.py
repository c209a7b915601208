"""The companies of a lot told of its suspension and of its resumption.

While a lot is suspended its companies get no call and no reminder (``services.reminders``
skips lots not in a calling stage); on resumption the calls start again, a late one first. A
company that sees its reminders stop, then start again, without a word, does not know what it
still owes: each company of the award with a correspondent gets one email per event, keyed by
the change's history row and the company (``company_key``), queued in the transaction of the
change (``services.notices.notify_advanced`` calls ``tell_companies``). At the suspension, the
lot's ladder emails still waiting in the outbox are withdrawn first, their steps put back to be
sent again after the resumption (``suspension_withdrawals``): a call queued at 09:00 and not yet
sent does not leave during the suspension with a date it moves.

What they read is what the ladder does, read from the same rows and computed with the same
calendar functions:

- at the suspension, the months called and not declared, with the date their call gave (a
  date on or after the first suspended day is moved later by the suspension, which is not over:
  the email says so and gives the new one at the resumption), and the months not called yet
  that will be after it (a month whose call was just withdrawn among them: it never left);
- at the resumption, those months again with the dates their reminders will count from
  (``pushed_due``), and the next call: its day, its months and its one due date, as the passes
  will open and climb them (``next_call``, the replay of ``reminders.rearm_lot``,
  ``_open_batch`` and the call's grouping in ``_climb_batch``). The handler runs before
  ``rearm_lot`` (bootstrap's order): a party it will arm is armed here in thought, the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from workflow.adapters.orm import AwardParty, Clause, ClauseHistory, DeclarationLadder
from workflow.domain.calendar import (
    CalendarRules,
    Interval,
    LadderDays,
    LadderStep,
    add_months,
    at_local,
    due_after_call,
    first_call_not_before,
    local_date,
    month_fully_within,
    month_schedule,
    month_start,
    months_between,
    planned_step_day,
    pushed_due,
    replan_step,
    sending_slot,
    suspended_days,
)
from workflow.domain.events import ClauseAdvanced
from workflow.domain.stages import ClauseEvent, Stage
from workflow.emails.company_pauses import (
    RESUMED,
    SUSPENDED,
    NextCall,
    OwedMonth,
    resumed_context,
    resumption_promised_until,
    suspended_context,
)
from workflow.emails.notices import resumption_context as notice_resumption
from workflow.services.declarations import declared_months_of
from workflow.services.email_facts import lot_of, party_recipient
from workflow.services.lot_calendars import (
    LotCalendar,
    execution_starts,
    first_month_of,
    lot_calendars,
    suspensions,
)
from workflow.services.mailing import Mailing
from workflow.services.outbox import Promise, Recipient, key_exists, queue_email
from workflow.services.resumption_withdrawals import untold_context, untold_suspension
from workflow.services.stale_promises import (
    PromiseRewrite,
    Superseded,
    left_execution_since,
)
from workflow.services.suspension_withdrawals import withdraw_for_suspension
from workflow.settings import Settings

log = logging.getLogger(__name__)

KINDS_BY_EVENT = {ClauseEvent.SUSPEND: SUSPENDED, ClauseEvent.RESUME: RESUMED}


def company_key(clause_id: int, kind: str, company_id: int, stamp: str) -> str:
    """``notice:<lot>:<kind>:company-<id>@<instant>``: the buyer notices' form (the audit reads
    it: the kind, the lot, a history row of the lot at that instant), the company in the cause
    so that each company of the lot gets its own row; the instant is the history row's."""
    return f"notice:{clause_id}:{kind}:company-{company_id}@{stamp}"


@dataclass(frozen=True)
class PartyCalls:
    """Where a party's calls stand (``AwardParty.next_call_*``) and the months its ladders owe."""

    next_call_month: date | None
    next_call_at: datetime | None
    #: Ladders whose call has not left yet: (month, when it is planned).
    pending_calls: tuple[tuple[date, datetime | None], ...] = ()
    #: The month a company joining during the works declares from (``AwardParty.first_month``).
    first_month: date | None = None


def tell_companies(app: Mailing, session: Session, event: ClauseAdvanced) -> None:
    """Event handler: one email to each company of the lot suspended or resumed."""
    kind = KINDS_BY_EVENT.get(event.event)
    if kind is None:
        return
    clause = session.get_one(Clause, event.clause_id)
    if kind == SUSPENDED:
        # First: what they read is the ladder as the withdrawal leaves it (a call withdrawn is
        # a month asked after the resumption, not a date given).
        withdraw_for_suspension(session, app.settings, clause.id, event.at)
    stamp = event.at.astimezone(UTC).isoformat()
    lot = lot_calendars(session, [clause.id], app.settings)[clause.id]
    for party in clause.parties:
        recipient = party_recipient(party)
        if recipient is None:
            continue  # the digest lists awards missing a correspondent
        if left_owing_nothing(party, lot, event.at, app.settings.zone):
            continue
        key = company_key(clause.id, kind, party.company_id, stamp)
        if key_exists(session, key):
            continue
        until = None
        if kind == SUSPENDED:
            context = suspension_context(session, app.settings, clause, party, recipient, event)
        else:
            context, until = resumption_email(
                session, app.settings, clause, party, recipient, event, event.at
            )
        queue_email(
            session,
            app.renderer,
            key=key,
            kind=kind,
            recipients=[recipient],
            context=context,
            now=event.at,
            clause_id=clause.id,
            # Still waiting once its first date has passed (the service stopped), it is
            # written again as it stands when it leaves (``write_resumption_again``).
            promise=(
                None
                if until is None
                else Promise(until, _resumption_facts(event, party.company_id))
            ),
        )


def _called_ladders(session: Session, party: AwardParty) -> list[DeclarationLadder]:
    """The party's ladders not declared; for a company that left the site, none after its last
    month (``company_departures`` closed them: those months are not owed, not « relances
    arrêtées »)."""
    statement = (
        select(DeclarationLadder)
        .where(
            DeclarationLadder.clause_id == party.clause_id,
            DeclarationLadder.company_id == party.company_id,
            DeclarationLadder.declared_at.is_(None),
        )
        .order_by(DeclarationLadder.month)
    )
    if party.last_month is not None:
        statement = statement.where(DeclarationLadder.month <= party.last_month)
    return list(session.scalars(statement))


def owed_months(
    ladders: Sequence[DeclarationLadder],
    declared: set[date],
    days: LadderDays,
    zone: ZoneInfo,
    *,
    pushed_from: date | None = None,
    resumed: tuple[CalendarRules, datetime] | None = None,
) -> list[OwedMonth]:
    """The months called and not declared, each with the date its reminders count from (the
    call's, moved by the suspended working days ``days`` knows). ``pushed_from``: the first day
    of a suspension still running, whose days are not known yet: a date on or after it will be
    moved again. ``resumed``: the lot's rules and the instant it resumes: each month with the
    step its ladder sends next and the day it leaves (``next_step_after``)."""
    owed: list[OwedMonth] = []
    for ladder in ladders:
        if ladder.called_at is None or ladder.month in declared:
            continue
        due_on = pushed_due(ladder.due_on, local_date(ladder.called_at, zone), days)
        pushed = pushed_from is not None and due_on >= pushed_from
        step, on = (
            next_step_after(ladder, resumed[0], days, resumed[1], zone)
            if resumed is not None
            else (None, None)
        )
        owed.append(
            OwedMonth(
                ladder.month,
                due_on,
                pushed,
                ladder.next_step != LadderStep.DONE,
                next_step=step,
                next_on=on,
            )
        )
    return owed


def next_step_after(
    ladder: DeclarationLadder,
    rules: CalendarRules,
    days: LadderDays,
    at: datetime,
    zone: ZoneInfo,
) -> tuple[str | None, date | None]:
    """The step a called ladder sends next once its lot resumes at ``at``, and the day it
    leaves, as ``reminders._climb_batch`` moves it: the pass that finds it due (at its
    ``next_step_at``, or at the resumption if that has passed: the climb skipped the lot while
    it was suspended) plans the step from the due date the call gave and the step sent before
    it, the suspended days pushing both (``planned_step_day``), and sends it at its slot
    (``sending_slot``). A month whose ladder passed its last reminder gets the buyer's alert
    next (``escalation``); (None, None) when every step was sent."""
    if ladder.called_at is None or ladder.next_step in (LadderStep.DONE, LadderStep.CALL):
        return None, None
    schedule = month_schedule(ladder.month, rules, zone)
    names = [s.name for s in schedule.steps]
    step = ladder.next_step
    if step not in names:
        replanned = replan_step(step, schedule, schedule)
        step = replanned.name if replanned is not None else LadderStep.ESCALATION
    previous_on = local_date(ladder.stepped_at, zone) if ladder.stepped_at else None
    day = planned_step_day(
        schedule,
        rules,
        step,
        due_on=ladder.due_on,
        called_on=local_date(ladder.called_at, zone),
        previous_on=previous_on,
        days=days,
    )
    found = max(ladder.next_step_at or at, at)
    slot = sending_slot(at_local(day, rules.call_time, zone), found, rules.call_time, zone)
    return step, local_date(slot, zone)


# --- the suspension ---------------------------------------------------------------------------


def suspension_context(
    session: Session,
    settings: Settings,
    clause: Clause,
    party: AwardParty,
    recipient: Recipient,
    event: ClauseAdvanced,
) -> dict[str, object]:
    zone = settings.zone
    day = local_date(event.at, zone)
    earlier = [i for i in suspensions(session, [clause.id]).get(clause.id, []) if i.end]
    days = LadderDays(suspended_days(earlier, zone, day))
    declared = set(declared_months_of(session, clause.id, party.company_id))
    ladders = _called_ladders(session, party)
    lot = for_party(lot_calendars(session, [clause.id], settings)[clause.id], party)
    later = _called_after(party, lot, ladders, declared, day, event.at, zone)
    return suspended_context(
        lot_of(clause),
        party.company.name,
        recipient,
        at=day,
        reason=event.reason,
        owed=owed_months(ladders, declared, days, zone, pushed_from=day),
        later=later,
    )


def _called_after(
    party: AwardParty,
    lot: LotCalendar,
    ladders: Sequence[DeclarationLadder],
    declared: set[date],
    day: date,
    at: datetime,
    zone: ZoneInfo,
) -> list[date]:
    """The months up to the suspension's, worked at least in part before it, not called yet:
    the passes call them once the lot resumes (a month the suspension covers whole is not).

    A month whose ladder is opened but whose call waits for its slot (``called_at`` unset: the
    pass opened it outside the call hour) is among them, though before ``next_call_month``: no
    email was queued for it, and the climb skips a suspended lot (``reminders._in_called_lot``),
    so its call leaves at the resumption (``next_call``'s ``pending_calls``)."""
    running = [Interval(at, None)]
    waiting = {
        ladder.month
        for ladder in ladders
        if ladder.called_at is None
        and ladder.next_step != LadderStep.DONE
        and ladder.month not in declared
        and not month_fully_within(ladder.month, running, zone)
    }
    first = party.next_call_month or first_month_of(party.first_month, lot.start_month)
    if first is None or lot.end_month is None:
        return sorted(waiting)
    last = min(month_start(day), lot.end_month)
    opened = {ladder.month for ladder in ladders if ladder.called_at is not None}
    later = {
        m
        for m in months_between(first, last)
        if m not in opened and m not in declared and not month_fully_within(m, running, zone)
    }
    return sorted(later | waiting)


# --- the resumption ---------------------------------------------------------------------------


def resumption_context(
    session: Session,
    settings: Settings,
    clause: Clause,
    party: AwardParty,
    recipient: Recipient,
    event: ClauseAdvanced,
) -> dict[str, object]:
    context, _ = resumption_email(session, settings, clause, party, recipient, event, event.at)
    return context


def resumption_email(
    session: Session,
    settings: Settings,
    clause: Clause,
    party: AwardParty,
    recipient: Recipient,
    event: ClauseAdvanced,
    written_at: datetime,
) -> tuple[dict[str, object], datetime | None]:
    """The resumption's email as it stands at ``written_at`` (the resumption's instant, or the
    moment a stale one leaves: the next call and steps the passes send from then, the months
    called before the resumption still owed), and the instant its text stops being true."""
    zone = settings.zone
    later = written_at > event.at
    facts = _resumption(
        session,
        settings,
        clause,
        party,
        replace(event, at=written_at) if later else event,
        # A month called since the resumption is not « demandée avant la suspension »: its call
        # reached the company (the pass that caught up sent it before this email).
        called_by=event.at if later else None,
    )
    context = resumed_context(
        lot_of(clause),
        party.company.name,
        recipient,
        at=local_date(event.at, zone),
        suspended_on=facts.suspended_on,
        reason=event.reason,
        owed=facts.owed,
        next_call=facts.next_call,
        skipped=facts.skipped,
        written_on=local_date(written_at, zone),
        # Its suspension's email never left (withdrawn by the resumption): this one says the
        # suspension and its dates, written now or again later.
        untold=untold_context(
            untold_suspension(session, settings, clause.id, event.at, company_id=party.company_id)
        ),
    )
    return context, resumption_promised_until(facts.owed, facts.next_call, written_at, zone)


def _resumption_facts(event: ClauseAdvanced, company_id: int) -> dict[str, object]:
    """What the resumption's email is written from that no later moment changes."""
    return {
        "clause_id": event.clause_id,
        "company_id": company_id,
        "from_stage": str(event.from_stage),
        "to_stage": str(event.to_stage),
        "at": event.at.isoformat(),
        "actor": event.actor,
        "reason": event.reason,
    }


def write_resumption_again(
    app: Mailing,
    session: Session,
    facts: Mapping[str, Any],
    recipient: Recipient,
    now: datetime,
) -> PromiseRewrite:
    """The resumption's email of one company as ``tell_companies`` would write it at ``now``:
    the same resumption, its next call and steps as the ladder has them now."""
    clause = session.get_one(Clause, int(facts["clause_id"]))
    if left_execution_since(session, clause.id, datetime.fromisoformat(facts["at"])):
        # Suspended, ended or terminated again since: that change's email says what holds.
        raise Superseded("le lot a changé d'étape depuis la reprise qu'il annonçait")
    party = session.scalars(
        select(AwardParty).where(
            AwardParty.clause_id == clause.id, AwardParty.company_id == int(facts["company_id"])
        )
    ).one()
    event = ClauseAdvanced(
        clause_id=clause.id,
        event=ClauseEvent.RESUME,
        from_stage=Stage(facts["from_stage"]),
        to_stage=Stage(facts["to_stage"]),
        at=datetime.fromisoformat(facts["at"]),
        actor=str(facts["actor"]),
        reason=facts["reason"],
    )
    # The correspondent of now, if there is one with an address; else the one first written to.
    reader = party_recipient(party) or recipient
    context, until = resumption_email(session, app.settings, clause, party, reader, event, now)
    return PromiseRewrite(recipients=(reader,), context=context, promised_until=until)


@dataclass(frozen=True)
class _Resumption:
    """What a party's ladder does after the lot resumes (``resumption_context``)."""

    suspended_on: date | None
    owed: list[OwedMonth]
    next_call: NextCall | None
    skipped: list[date]


def _resumption(
    session: Session,
    settings: Settings,
    clause: Clause,
    party: AwardParty,
    event: ClauseAdvanced,
    *,
    called_by: datetime | None = None,
) -> _Resumption:
    """``called_by``: only the months called by then are owed (a resumption's email written
    again later: those called since are not « demandées avant la suspension »)."""
    zone = settings.zone
    day = local_date(event.at, zone)
    # Closed at the resumption (a preview of a lot still suspended resumes it in thought).
    intervals = [
        Interval(i.start, i.end or event.at)
        for i in suspensions(session, [clause.id]).get(clause.id, [])
    ]
    days = LadderDays(suspended_days(intervals, zone, day))
    declared = set(declared_months_of(session, clause.id, party.company_id))
    ladders = _called_ladders(session, party)
    if called_by is not None:
        ladders = [
            ladder
            for ladder in ladders
            if ladder.called_at is None or ladder.called_at <= called_by
        ]
    lot = for_party(lot_calendars(session, [clause.id], settings)[clause.id], party)
    started = execution_starts(session, [clause.id]).get(clause.id, event.at)
    calls = PartyCalls(
        party.next_call_month,
        party.next_call_at,
        tuple(
            (ladder.month, ladder.next_step_at)
            for ladder in ladders
            if ladder.called_at is None and ladder.month not in declared
        ),
        party.first_month,
    )
    last = intervals[-1] if intervals else None
    return _Resumption(
        local_date(last.start, zone) if last is not None else None,
        owed_months(ladders, declared, days, zone, resumed=(lot.rules, event.at)),
        next_call(calls, lot, intervals, declared, started, event.at, zone),
        _skipped(lot, last, declared, zone),
    )


def for_party(lot: LotCalendar, party: AwardParty) -> LotCalendar:
    """The lot's calendar as one company declares it: a company that left the site
    (``AwardParty.last_month``) is asked no month after its last one, so the resumption never
    announces it a call for those (``reminders`` opens none)."""
    last = party.last_month
    if last is None or (lot.end_month is not None and lot.end_month <= last):
        return lot
    return replace(lot, end_month=last)


def left_owing_nothing(party: AwardParty, lot: LotCalendar, at: datetime, zone: ZoneInfo) -> bool:
    """The company left the site before the month of ``at`` and owes nothing of the lot any
    more: every month from its first to its last declared (those after are released). A
    suspension or resumption of works it no longer takes part in is not its concern. Its
    ladders are not enough: the last month's call may not have opened yet (the works suspended
    on the first day of the next month, before the pass), and that month is owed all the same."""
    last = party.last_month
    if last is None or last >= month_start(local_date(at, zone)):
        return False
    first = first_month_of(party.first_month, lot.start_month)
    if first is None or first > last:
        return True
    session = object_session(party)
    if session is None:
        return False
    declared = set(declared_months_of(session, party.clause_id, party.company_id))
    return all(month in declared for month in months_between(first, last))


def lot_resumption(
    session: Session, settings: Settings, clause: Clause, at: datetime
) -> dict[str, object]:
    """``notice_resumed``'s account of what the service sends after the lot resumes at ``at``:
    the first call to any company with a correspondent (the latest due date among the calls of
    that day) and each declaration still owed with its next step and day, as each company's
    ``company_lot_resumed`` tells it (``resumption_context``)."""
    event = _event(clause, ClauseEvent.RESUME, at, None)
    facts = [
        _resumption(session, settings, clause, party, event)
        for party in clause.parties
        # No call nor reminder goes to a company without one (``reminders._has_correspondent``).
        if party_recipient(party) is not None
    ]
    return resumption_notice(facts, local_date(at, settings.zone))


def resumption_notice(facts: Sequence[_Resumption], today: date) -> dict[str, object]:
    """``notice_resumed``'s account from each company's resumption (``_resumption``), written on
    ``today``: the first call (the latest due date among the calls of that day), each
    declaration still owed with its next step, day and due date, the months covered whole."""
    calls = [f.next_call for f in facts if f.next_call is not None]
    owed = [(o.month, o.next_step, o.next_on, o.due_on) for f in facts for o in f.owed]
    skipped = sorted({m for f in facts for m in f.skipped})
    first = min((c.on for c in calls), default=None)
    next_one = None
    if first is not None:
        same_day = [c for c in calls if c.on == first]
        months = sorted({m for c in same_day for m in c.months})
        next_one = (first, months, max(c.due_on for c in same_day))
    return notice_resumption(next_one, owed, skipped, today)


def _skipped(
    lot: LotCalendar, last: Interval | None, declared: set[date], zone: ZoneInfo
) -> list[date]:
    """The lot's months the suspension just ended covered whole: nobody is asked for them."""
    if last is None or lot.start_month is None or lot.end_month is None:
        return []
    return [
        m
        for m in months_between(lot.start_month, lot.end_month)
        if m not in declared and month_fully_within(m, [last], zone)
    ]


def _armed(
    calls: PartyCalls, lot: LotCalendar, started: datetime, zone: ZoneInfo, at: datetime
) -> PartyCalls:
    """The party as ``reminders.rearm_lot`` leaves it, in the same transaction: one with no
    call planned gets one, unless it is parked past the lot's end."""
    month, call_at = calls.next_call_month, calls.next_call_at
    if call_at is not None:
        return calls
    if month is not None and lot.end_month is not None and month > lot.end_month:
        return calls
    if month is None and calls.first_month is not None:
        started = max(started, at)  # joined during the works: armed by the resumption itself
    month = month or first_month_of(calls.first_month, lot.start_month)
    if month is None:
        return calls
    call_at = max(
        month_schedule(month, lot.rules, zone).call_at,
        first_call_not_before(started, lot.rules.call_time, zone),
    )
    return PartyCalls(month, call_at, calls.pending_calls, calls.first_month)


def _due_months(month: date, lot: LotCalendar, now: datetime, zone: ZoneInfo) -> list[date]:
    """``reminders._due_months``: from ``month`` on, each month whose call has passed at
    ``now`` (the first one is due: its party's call time has passed)."""
    months: list[date] = []
    while lot.end_month is None or month <= lot.end_month:
        if months and month_schedule(month, lot.rules, zone).call_at > now:
            break
        months.append(month)
        month = add_months(month, 1)
    return months


def next_call(
    calls: PartyCalls,
    lot: LotCalendar,
    intervals: Sequence[Interval],
    declared: set[date],
    started: datetime,
    at: datetime,
    zone: ZoneInfo,
) -> NextCall | None:
    """The first call the passes send the party after a resumption at ``at``, the service
    passing every minute from then on: None when no month is left to call.

    Each opening is replayed as ``reminders._open_batch`` does it at the pass that finds the
    party due: the months whose call has passed, less those spent entirely suspended and those
    already declared, called at ``sending_slot`` of the party's call time. The first call takes
    every month opened with a slot by then (``_climb_batch`` sends the calls of one company in
    one email), with one date: the latest ``due_after_call`` of theirs, on the day it leaves.
    """
    rules = lot.rules
    calls = _armed(calls, lot, started, zone, at)
    opened = [
        (month, sending_slot(planned or at, at, rules.call_time, zone))
        for month, planned in calls.pending_calls
    ]
    month, call_at = calls.next_call_month, calls.next_call_at
    while month is not None and call_at is not None:
        now = max(call_at, at)  # the pass that finds the party due
        first = min((slot for _, slot in opened), default=None)
        if first is not None and now > first:
            break
        months = _due_months(month, lot, now, zone)
        if not months:
            break
        slot = sending_slot(call_at, now, rules.call_time, zone)
        opened.extend(
            (m, slot)
            for m in months
            if m not in declared and not month_fully_within(m, intervals, zone)
        )
        month = add_months(months[-1], 1)
        past_end = lot.end_month is not None and month > lot.end_month
        call_at = None if past_end else month_schedule(month, rules, zone).call_at
    if not opened:
        return None
    first = min(slot for _, slot in opened)
    called = sorted({m for m, slot in opened if slot <= first})
    call_on = local_date(first, zone)
    due_on = max(due_after_call(month_schedule(m, rules, zone), call_on, zone) for m in called)
    return NextCall(call_on, tuple(called), due_on)


# --- the resumption after the planned end -------------------------------------------------------


def planned_end_passed(session: Session, clause_id: int, today: date) -> date | None:
    """The lot's planned end when it passed before ``today`` (its day excluded, as the day's
    tasks count it) and no end is recorded: resumed, the lot's companies are called for no
    month after the planned end's (``reminders._open_batch`` parks them, ``rearm_lot`` calls
    them once it is moved or the end recorded), which the facilitator is told
    (``emails.company_pauses.past_planned_end_sentence``); None otherwise."""
    row = session.execute(
        select(Clause.planned_end_date, Clause.end_date).where(Clause.id == clause_id)
    ).one_or_none()
    if row is None:
        return None
    planned_end, end = row
    if planned_end is None or end is not None or planned_end >= today:
        return None
    return planned_end


# --- ``clauses mail preview --clause`` ----------------------------------------------------------


def preview_context(
    session: Session, settings: Settings, clause: Clause, kind: str, now: datetime
) -> tuple[Recipient, dict[str, object]] | None:
    """The first company's email of ``kind`` as it would leave now: a lot in execution
    suspended now, a suspended lot as told at its suspension or resumed now. None when the
    lot's stage has no such email to show, or no company a correspondent to write to."""
    stage = Stage(clause.stage)
    if kind == SUSPENDED and stage == Stage.EXECUTION:
        event = _event(clause, ClauseEvent.SUSPEND, now, None)
    elif kind == SUSPENDED and stage == Stage.SUSPENDED:
        row = _latest_row(session, clause.id, ClauseEvent.SUSPEND)
        at, reason = (row.at, row.reason) if row is not None else (clause.stage_changed_at, None)
        event = _event(clause, ClauseEvent.SUSPEND, at, reason)
    elif kind == RESUMED and stage == Stage.SUSPENDED:
        event = _event(clause, ClauseEvent.RESUME, now, None)
    else:
        return None
    for party in clause.parties:
        recipient = party_recipient(party)
        if recipient is None:
            continue
        if kind == SUSPENDED:
            return recipient, suspension_context(session, settings, clause, party, recipient, event)
        return recipient, resumption_context(session, settings, clause, party, recipient, event)
    return None


def _event(clause: Clause, what: ClauseEvent, at: datetime, reason: str | None) -> ClauseAdvanced:
    stage = Stage(clause.stage)
    after = Stage.SUSPENDED if what == ClauseEvent.SUSPEND else Stage.EXECUTION
    return ClauseAdvanced(clause.id, what, stage, after, at, "preview", reason)


def _latest_row(session: Session, clause_id: int, what: ClauseEvent) -> ClauseHistory | None:
    return session.scalar(
        select(ClauseHistory)
        .where(ClauseHistory.clause_id == clause_id, ClauseHistory.event == what.value)
        .order_by(ClauseHistory.id.desc())
        .limit(1)
    )
