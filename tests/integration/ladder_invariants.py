"""Invariants of the declaration ladders over a whole scenario's outbox (reusable on the demo).

For every (lot, company, month) that received a ladder email:

- each step was queued at most once (keys name the months they cover, so a grouped email counts
  for each of its months);
- the call came before reminder 1, before reminder 2..., before the buyer's alert;
- the alert never left without the call and every configured reminder before it;
- the due date the call gave is never earlier than the scheduled one, nor than the call's day
  plus the usual call-to-due working days (a late call gives the company its full time);
- each reminder and the alert are at or after (due date pushed by suspended days + their
  offset in working days not suspended);
- every ladder email left on a working day at the call time, local (``exact``), or after it
  that day;
- a company got at most one call email per lot and day, and never on the day its lot started.

``ladder_violations(session, settings)`` returns what is wrong, in plain sentences; run it over
the demo with::

    from tests.integration.ladder_invariants import ladder_violations
    with app.transaction() as session:
        assert ladder_violations(session, app.settings) == []
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.orm import DeclarationLadder, OutboxMessage
from workflow.domain.calendar import (
    LadderDays,
    LadderStep,
    add_working_days,
    call_gap,
    is_working_day,
    local_date,
    month_schedule,
    pushed_due,
    reminder_count,
    step_offsets,
    suspended_days,
)
from workflow.emails.envelope import OutboxState
from workflow.services.lot_calendars import execution_starts, lot_calendars, suspensions
from workflow.services.reminder_emails import KINDS, key_months
from workflow.settings import Settings


@dataclass(frozen=True)
class LadderEmail:
    key: str
    step: str
    created_at: datetime
    state: str


def ladder_emails_by_month(
    session: Session,
) -> dict[tuple[int, int, date], list[LadderEmail]]:
    """Every ladder email, under each (lot, company, month) it covers, oldest first; but an
    email withdrawn whose step another email brought for that month (written again for the
    months still owed when a finish released the others, ``lot_ends``): what the month got is
    the email written again."""
    found: dict[tuple[int, int, date], list[LadderEmail]] = defaultdict(list)
    rows = session.execute(
        select(OutboxMessage.key, OutboxMessage.created_at, OutboxMessage.state)
        .where(OutboxMessage.kind.in_(KINDS))
        .order_by(OutboxMessage.created_at, OutboxMessage.id)
    ).all()
    for key, created_at, state in rows:
        parsed = key_months(key)
        assert parsed is not None, f"ladder email with an unreadable key: {key}"
        for month in parsed.months:
            found[(parsed.clause_id, parsed.company_id, month)].append(
                LadderEmail(key, parsed.step, created_at, state)
            )
    cancelled = OutboxState.CANCELLED
    for where, emails in found.items():
        reached = {e.step for e in emails if e.state != cancelled}
        found[where] = [e for e in emails if e.state != cancelled or e.step not in reached]
    return found


def ladder_violations(session: Session, settings: Settings, *, exact: bool = True) -> list[str]:
    """What breaks the ladder's invariants in this database; [] when nothing does."""
    zone, call_time = settings.zone, settings.call_time
    by_month = ladder_emails_by_month(session)
    ids = {clause_id for clause_id, _, _ in by_month}
    calendars = lot_calendars(session, ids, settings)
    suspended = suspensions(session, ids)
    started = execution_starts(session, ids)
    rows = {
        (lad.clause_id, lad.company_id, lad.month): lad
        for lad in session.scalars(
            select(DeclarationLadder).where(DeclarationLadder.clause_id.in_(sorted(ids)))
        )
    }
    problems: list[str] = []
    calls_per_day: Counter[tuple[int, int, date]] = Counter()
    seen_calls: set[str] = set()
    for (clause_id, company_id, month), emails in sorted(by_month.items()):
        where = f"lot {clause_id}, company {company_id}, {month:%Y-%m}"
        rules = calendars[clause_id].rules
        schedule = month_schedule(month, rules, zone)
        order = [s.name for s in schedule.steps]
        steps = Counter(e.step for e in emails)
        for step, count in steps.items():
            if count > 1:
                problems.append(f"{where}: {step} queued {count} times")
        first = {e.step: e for e in reversed(emails)}
        for email in emails:
            moment = email.created_at.astimezone(zone)
            if not is_working_day(moment.date()):
                problems.append(f"{where}: {email.step} on a non-working day ({moment})")
            if moment.time() < call_time or (exact and moment.time() != call_time):
                problems.append(f"{where}: {email.step} at {moment:%H:%M}, not the call time")
            if email.step == LadderStep.CALL and email.key not in seen_calls:
                seen_calls.add(email.key)
                calls_per_day[(clause_id, company_id, moment.date())] += 1
        present = [name for name in order if name in first]
        times = [first[name].created_at for name in present]
        if times != sorted(times) or len(set(times)) != len(times):
            problems.append(
                f"{where}: steps out of order: "
                + ", ".join(f"{n} {first[n].created_at:%Y-%m-%d %H:%M}" for n in present)
            )
        if LadderStep.CALL not in first:
            problems.append(f"{where}: {', '.join(present)} without a call")
            continue
        called_on = local_date(first[LadderStep.CALL].created_at, zone)
        start = started.get(clause_id)
        if start is not None and called_on <= local_date(start, zone):
            problems.append(f"{where}: called on {called_on}, the day its lot started")
        ladder = rows.get((clause_id, company_id, month))
        if ladder is None:
            problems.append(f"{where}: emails but no ladder row")
            continue
        if ladder.due_on < schedule.due_on or ladder.due_on < add_working_days(
            called_on, call_gap(schedule, zone)
        ):
            problems.append(
                f"{where}: due on {ladder.due_on} for a call on {called_on} "
                f"(scheduled due {schedule.due_on})"
            )
        if LadderStep.ESCALATION in first:
            missing = [n for n in order if n != LadderStep.ESCALATION and n not in first]
            if missing or reminder_count(schedule) != len(present) - 2:
                problems.append(f"{where}: escalation without {', '.join(missing) or 'reminders'}")
        for name, offset in step_offsets(rules).items():
            if name in first:
                sent_at = first[name].created_at
                sent_on = local_date(sent_at, zone)
                # The suspensions known when the step left (one starting later that day did
                # not hold it back).
                known = [i for i in suspended.get(clause_id, []) if i.start < sent_at]
                days = LadderDays(suspended_days(known, zone, sent_on))
                due = pushed_due(ladder.due_on, called_on, days)
                earliest = days.add(due, offset)
                if sent_on < earliest:
                    problems.append(
                        f"{where}: {name} on {sent_on}, before {earliest} "
                        f"(due {due} + {offset} working days)"
                    )
    for (clause_id, company_id, day), count in sorted(calls_per_day.items()):
        if count > 1:
            problems.append(f"lot {clause_id}, company {company_id}: {count} calls on {day}")
    return problems


def assert_ladder_invariants(session: Session, settings: Settings, *, exact: bool = True) -> None:
    problems = ladder_violations(session, settings, exact=exact)
    assert not problems, "\n".join(problems)
