"""What is declared and what is not: one line per company x lot x month expected.

A month is expected from a company on a lot when its declaration was recorded, when its call
went out (its row in ``declaration_ladders``), or when the company owes it today: a month of a
lot in execution (or suspended, in follow-up, closed) from the start month up to the last month
already open and not past the end, that the lot did not spend entirely suspended
(``declarations.missing_months``, what the receipts list as still owed). Never, undeclared, a
month outside the company's own months on the lot (before its first, after its last), though
its call went out before they were recorded (``company_months``, the monthly summary's rule).
A lot in follow-up, suspended or closed owes no month after the one it left execution in, as
the declaration itself refuses them (``declarations.column_problems``).

Each line has its state: declared (with its hours), zero hours, call to come (owed, its call not
sent yet), missing (called, not yet due) or late (past the due date the company is held to, by
as many days as the ladder counts: working days on which the lot was not suspended, as the
digest and the buyer's alert count them). The due date is the one its call gave, pushed later by
the suspended days after it (``calendar.pushed_due``), else the scheduled one of the lot's
calendar.

A month whose call has not left (its lot's end recorded or moved later after its usual call,
the company's calls parked past the old end until then; a late start; a ladder opened and
waiting for its slot) was given no date: it is never late nor missing. Its line says when the
next pass calls it and the due date that call will give (``domain.calls_to_come``, the pass's
own rule), never a date already past. A company with no call planned (no correspondent, lots
loaded by hand) is held to the lot's calendar, as the monthly summary holds it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, joinedload

from workflow.adapters.orm import (
    UNVALIDATED,
    AwardParty,
    Clause,
    Company,
    Declaration,
    DeclarationLadder,
    DeclarationLine,
)
from workflow.domain.calendar import (
    Interval,
    LadderDays,
    LadderStep,
    local_date,
    month_schedule,
    month_start,
    pushed_due,
    suspended_days,
)
from workflow.domain.calls_to_come import call_to_come, due_of_call
from workflow.domain.company_months import expected_of_company, on_its_months
from workflow.domain.stages import Stage
from workflow.services.declarations import missing_months
from workflow.services.held_due_dates import asked_again_due
from workflow.services.lot_calendars import LotCalendar, lot_calendars, suspensions
from workflow.services.lot_ends import within_end
from workflow.settings import Settings

#: Stages in which a lot's companies owe their months (the others only show what was declared).
OWING_STAGES = (
    Stage.EXECUTION.value,
    Stage.SUSPENDED.value,
    Stage.FOLLOW_UP.value,
    Stage.CLOSED.value,
)
#: Stages that owe no month after the one the lot left execution in.
_LEFT_EXECUTION = frozenset({Stage.SUSPENDED, Stage.FOLLOW_UP, Stage.CLOSED})


class DeclarationState(StrEnum):
    DECLARED = "declared"
    ZERO = "zero"
    MISSING = "missing"
    LATE = "late"
    #: Owed, its call not sent yet: no date was given, it is neither missing nor late.
    TO_CALL = "to_call"
    #: Never received, and no longer asked: the lot's follow-up was closed (``clôturer``).
    RELEASED = "released"


STATE_LABELS: dict[DeclarationState, str] = {
    DeclarationState.DECLARED: "déclarée",
    DeclarationState.ZERO: "zéro heure",
    # Not late: « manquante » is the summaries' and the alerts' word for late (user trial).
    DeclarationState.MISSING: "à déclarer",
    DeclarationState.LATE: "en retard",
    DeclarationState.TO_CALL: "appel à venir",
    DeclarationState.RELEASED: "plus demandée",
}

#: The states ``--missing`` keeps: what the company still owes.
OWED_STATES = frozenset({DeclarationState.MISSING, DeclarationState.LATE, DeclarationState.TO_CALL})

Key = tuple[int, int, date]  # (clause id, company id, month)


@dataclass(frozen=True)
class ExpectedDeclaration:
    """One company x lot x month expected, and where it stands."""

    clause_id: int
    market: str
    lot_number: str
    lot_title: str
    company_id: int
    company: str
    siret: str | None
    month: date
    due_on: date  # the due date the company is held to (its call to come: the one it will give)
    state: DeclarationState
    hours: Decimal | None  # the hours declared (0 for zero hours); None when not declared
    recorded_at: datetime | None  # when the declaration was recorded
    late_days: int  # counted days past the due date; 0 unless late
    called: bool  # the month's call went out (its ladder exists)
    #: Its call to come (``TO_CALL``): when the next pass sends it; None otherwise, or when
    #: nobody can date it (its lot suspended: at the resumption).
    call_at: datetime | None = None
    #: Called, not received, not late, its lot suspended now: the suspension pushes its due
    #: date day after day, the new one is given at the resumption (the company's suspension
    #: email says so, and the summary « lot suspendu, échéance reportée à la reprise »).
    due_waits: bool = False

    @property
    def due_at_resumption(self) -> bool:
        """No due date can be said today: its call, or its due date, waits for its suspended
        lot to resume. The list says « à la reprise » (user trial, 7 December 2026: it gave a
        date that moved every day)."""
        return self.at_resumption or self.due_waits

    @property
    def at_resumption(self) -> bool:
        """Its call to come waits for its suspended lot to resume (``call_at`` None): no date
        was given, and none can be said, the call giving one counted from the day it leaves.
        Every reader says « à la reprise » then, never ``due_on`` (the scheduled date, which
        the suspension makes pass without a call)."""
        return self.state is DeclarationState.TO_CALL and self.call_at is None


def held_due(
    ladder: DeclarationLadder | None, scheduled: date, days: LadderDays, settings: Settings
) -> date:
    """The due date the company is held to: its call's (pushed by the suspended days after the
    call, as the digest counts it), else the lot calendar's."""
    if ladder is None:
        return scheduled
    if ladder.called_at is None:
        return ladder.due_on
    return pushed_due(ladder.due_on, local_date(ladder.called_at, settings.zone), days)


def expected_declarations(
    session: Session,
    settings: Settings,
    *,
    today: date,
    now: datetime | None = None,
    clause_id: int | None = None,
    company_id: int | None = None,
    month: date | None = None,
) -> list[ExpectedDeclaration]:
    """Every company x lot x month expected on ``today`` (a local date), in month order, then
    by market, lot and company; only one lot, one company or one month when given.

    ``now`` (the same moment as ``today``) says whether today's call time has passed, for the
    calls to come (``_moment``)."""
    zone = settings.zone
    declared = _declarations(session, clause_id, company_id, month)
    ladders = _ladders(session, clause_id, company_id, month)
    parties = _owing_parties(session, clause_id, company_id)
    ids = {k[0] for k in declared} | {k[0] for k in ladders} | {p.clause_id for p in parties}
    clauses = _clauses(session, ids)
    suspended = suspensions(session, ids)
    keys: set[Key] = set(declared) | set(ladders)
    next_calls = {(p.clause_id, p.company_id): (p.next_call_month, p.next_call_at) for p in parties}
    for cid, party, joined, left, _, _ in parties:
        for owed in _owed_months(clauses[cid], suspended.get(cid, []), today, settings):
            # A company joining during the works owes the months from the one it joined, one
            # that left them up to its last month.
            if (month is None or owed == month) and on_its_months(owed, joined, left):
                keys.add((cid, party, owed))
    # A month after the last of a company that left the site is not expected, though its call
    # (sent before its departure was recorded) left a ladder, stopped since
    # (``company_departures``); nor one before its first month, called before that first
    # month was corrected to a later one (review: listed « en retard », counted owed by the
    # clause's page, while the monthly summary expected it of nobody). One the facilitator
    # recorded all the same is shown, declared, and counted among the expected
    # (``company_months``, the monthly summary's rule too).
    months_on_lot = {
        (p.clause_id, p.company_id): (p.first_month, p.last_month)
        for p in parties
        if p.first_month is not None or p.last_month is not None
    }
    keys = {
        key
        for key in keys
        if expected_of_company(
            key[2], *months_on_lot.get((key[0], key[1]), (None, None)), declared=key in declared
        )
    }
    if not keys:
        return []
    calendars = lot_calendars(session, ids, settings)
    days = {cid: LadderDays(suspended_days(suspended.get(cid, []), zone, today)) for cid in ids}
    companies = {
        row.id: row
        for row in session.scalars(
            select(Company).where(Company.id.in_(sorted({k[1] for k in keys})))
        )
    }
    # The calls to come, by the moment they leave: one call lists the months it sends, and
    # gives them one due date (``_call_dues``).
    to_call: dict[Key, datetime | None] = {}
    for key in keys:
        cid, company_key, month_key = key
        if key in declared or Stage(clauses[cid].stage) is Stage.CLOSED:
            continue
        planned = _planned_call(ladders.get(key), next_calls.get((cid, company_key)), month_key)
        if planned is None:
            continue
        if Stage(clauses[cid].stage) is Stage.SUSPENDED:
            to_call[key] = None  # at the resumption, a day nobody knows
        else:
            rules = calendars[cid].rules
            moment = _moment(now, today, planned, zone)
            to_call[key] = call_to_come(month_key, planned, moment, rules.call_time, zone)
    call_dues = _call_dues(to_call, ladders, calendars, settings)
    lines = []
    for key in keys:
        cid, company_key, month_key = key
        clause, company, ladder = clauses[cid], companies[company_key], ladders.get(key)
        scheduled = month_schedule(month_key, calendars[cid].rules, zone).due_on
        due = held_due(ladder, scheduled, days[cid], settings)
        if ladder is not None:
            # Asked again after a cancelled declaration: late from that day once its due date
            # had passed, as its reminders count it.
            due = asked_again_due(due, ladder.asked_again_on)
        found = declared.get(key)
        late_days = 0
        if found is not None:
            state = DeclarationState.DECLARED if found.hours > 0 else DeclarationState.ZERO
        elif Stage(clause.stage) is Stage.CLOSED:
            # Closing the follow-up stops asking for it (the companies are told so): it is
            # owed no more, and never late.
            state = DeclarationState.RELEASED
        elif key in to_call:
            # Nobody asked for it yet: no date was given, nothing is late.
            state, due = DeclarationState.TO_CALL, call_dues.get(key, due)
        elif due < today:
            state, late_days = DeclarationState.LATE, days[cid].between(due, today)
        else:
            state = DeclarationState.MISSING
        waits = (
            state is DeclarationState.MISSING
            and ladder is not None
            and ladder.called_at is not None
            and Stage(clause.stage) is Stage.SUSPENDED
        )
        lines.append(
            ExpectedDeclaration(
                clause_id=cid,
                market=clause.market.reference,
                lot_number=clause.lot_number,
                lot_title=clause.lot_title,
                company_id=company.id,
                company=company.name,
                siret=company.siret,
                month=month_key,
                due_on=due,
                state=state,
                hours=found.hours if found is not None else None,
                recorded_at=found.recorded_at if found is not None else None,
                late_days=late_days,
                # Its ladder exists (a month declared before its call included), but for a
                # call still to come.
                called=ladder is not None and state is not DeclarationState.TO_CALL,
                call_at=to_call.get(key),
                due_waits=waits,
            )
        )
    return sorted(
        lines,
        key=lambda ln: (
            ln.month,
            ln.market,
            ln.lot_number,
            ln.clause_id,
            ln.company,
            ln.company_id,
        ),
    )


@dataclass(frozen=True)
class _Declared:
    hours: Decimal
    recorded_at: datetime


def _declarations(
    session: Session, clause_id: int | None, company_id: int | None, month: date | None
) -> dict[Key, _Declared]:
    statement = select(
        Declaration.clause_id,
        Declaration.company_id,
        Declaration.month,
        Declaration.total_hours,
        Declaration.recorded_at,
    )
    if clause_id is not None:
        statement = statement.where(Declaration.clause_id == clause_id)
    if company_id is not None:
        statement = statement.where(Declaration.company_id == company_id)
    if month is not None:
        statement = statement.where(Declaration.month == month)
    return {
        (cid, company, on): _Declared(Decimal(hours), at)
        for cid, company, on, hours, at in session.execute(statement)
    }


def _ladders(
    session: Session, clause_id: int | None, company_id: int | None, month: date | None
) -> dict[Key, DeclarationLadder]:
    """The ladders of lots that still owe their months (an abandoned lot's calls are over), but
    those of months after the day the work ended (called before it was recorded, ``lot_ends``)."""
    statement = (
        select(DeclarationLadder)
        .join(Clause, Clause.id == DeclarationLadder.clause_id)
        .where(Clause.stage.in_(OWING_STAGES), within_end(DeclarationLadder.month))
    )
    if clause_id is not None:
        statement = statement.where(DeclarationLadder.clause_id == clause_id)
    if company_id is not None:
        statement = statement.where(DeclarationLadder.company_id == company_id)
    if month is not None:
        statement = statement.where(DeclarationLadder.month == month)
    return {(lad.clause_id, lad.company_id, lad.month): lad for lad in session.scalars(statement)}


def _owing_parties(session: Session, clause_id: int | None, company_id: int | None) -> list[Any]:
    """(lot, company, month it joined during the works or None, its last month when it left
    them or None, next call's month, its moment) of every party of a started lot that owes its
    months."""
    statement = (
        select(
            AwardParty.clause_id,
            AwardParty.company_id,
            AwardParty.first_month,
            AwardParty.last_month,
            AwardParty.next_call_month,
            AwardParty.next_call_at,
        )
        .join(Clause, Clause.id == AwardParty.clause_id)
        .where(Clause.stage.in_(OWING_STAGES), Clause.start_date.is_not(None))
    )
    if clause_id is not None:
        statement = statement.where(AwardParty.clause_id == clause_id)
    if company_id is not None:
        statement = statement.where(AwardParty.company_id == company_id)
    return list(session.execute(statement))


def _moment(now: datetime | None, today: date, planned: datetime, zone: ZoneInfo) -> datetime:
    """The moment a call to come is seen from: ``now``; without it, the start of ``today`` for a
    call planned today or later (it leaves then), the end of ``today`` for one planned before
    (the next pass sends it at the next call time: the next working day's, at worst a day late,
    never a day already past)."""
    if now is not None:
        return now
    start = datetime.combine(today, time.min, tzinfo=zone)
    return start if planned >= start else datetime.combine(today, time.max, tzinfo=zone)


def _planned_call(
    ladder: DeclarationLadder | None,
    next_call: tuple[date | None, datetime | None] | None,
    month: date,
) -> datetime | None:
    """When the month's call, not sent yet, is planned, as the database holds it: its ladder's,
    opened and waiting for its slot; without a ladder, the company's next call when it is for
    this month or an earlier one (one call lists them all). None when it was sent, or when no
    call is planned (the company held to the lot's calendar)."""
    if ladder is not None:
        waiting = ladder.called_at is None and ladder.next_step == LadderStep.CALL
        return ladder.next_step_at if waiting else None
    if next_call is None:
        return None
    next_month, next_at = next_call
    if next_month is None or next_at is None or next_month > month:
        return None
    return next_at


def _call_dues(
    to_call: dict[Key, datetime | None],
    ladders: dict[Key, DeclarationLadder],
    calendars: dict[int, LotCalendar],
    settings: Settings,
) -> dict[Key, date]:
    """The due date each dated call to come will give its months: one call per company x lot
    and moment, listing the months it sends, the latest of their dates (``due_of_call``), never
    earlier than the one an opened ladder already holds for it."""
    grouped: dict[tuple[int, int, datetime], list[Key]] = defaultdict(list)
    for key, at in to_call.items():
        if at is not None:
            grouped[(key[0], key[1], at)].append(key)
    dues: dict[Key, date] = {}
    for (cid, _, at), keys in grouped.items():
        due = due_of_call([k[2] for k in keys], at, calendars[cid].rules, settings.zone)
        held = [ladders[k].due_on for k in keys if k in ladders]
        dues.update(dict.fromkeys(keys, max([due, *held])))
    return dues


def _clauses(session: Session, ids: Iterable[int]) -> dict[int, Clause]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    statement = select(Clause).options(joinedload(Clause.market)).where(Clause.id.in_(wanted))
    return {clause.id: clause for clause in session.scalars(statement)}


def _owed_months(
    clause: Clause, suspended: list[Interval], today: date, settings: Settings
) -> list[date]:
    """The months the lot's companies owe on ``today``, declared or not."""
    months = missing_months(clause, [], suspended, today=today, zone=settings.zone)
    if Stage(clause.stage) in _LEFT_EXECUTION:
        left = month_start(clause.stage_changed_at.date())
        months = [m for m in months if m <= left]
    return months


@dataclass(frozen=True)
class ToValidate:
    """A declaration the facilitator has not validated yet, oldest month first."""

    clause_id: int
    clause_label: str
    company_id: int
    company: str
    month: date
    total_hours: Decimal
    lines: int
    recorded_at: datetime
    recorded_by: str


def declarations_to_validate(session: Session, *, limit: int = 100) -> list[ToValidate]:
    """The ``limit`` oldest months received and not validated, each with its count of lines."""
    lines = (
        select(func.count(DeclarationLine.id))
        .where(DeclarationLine.declaration_id == Declaration.id)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Declaration, Company.name, lines)
        .join(Company, Company.id == Declaration.company_id)
        # As the partial index ``ix_declarations_to_validate`` is written, so that it is used.
        .where(text(UNVALIDATED))
        .order_by(Declaration.month, Declaration.clause_id, Company.name)
        .limit(limit)
    ).all()
    clauses = _clauses(session, {declaration.clause_id for declaration, _, _ in rows})
    return [
        ToValidate(
            clause_id=declaration.clause_id,
            clause_label=clauses[declaration.clause_id].label,
            company_id=declaration.company_id,
            company=company,
            month=declaration.month,
            total_hours=declaration.total_hours,
            lines=count,
            recorded_at=declaration.recorded_at,
            recorded_by=declaration.recorded_by,
        )
        for declaration, company, count in rows
    ]


def count_to_validate(session: Session) -> int:
    """How many months received wait for the facilitator's validation (read from the partial
    index of those months alone)."""
    return int(
        session.scalar(select(func.count()).select_from(Declaration).where(text(UNVALIDATED))) or 0
    )
