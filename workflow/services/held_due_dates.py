"""The due date each month owed was or will be given its company, for many lot x company at once:
the one rule of every email, page, list and report that dates a month owed.

- a month whose call left: its call's date, pushed later by the working days the lot spent
  suspended after the call (a running suspension up to the day of ``at``): the date the ladder
  counts its reminders and its alert from (``reminders._climb_batch``, ``calendar.pushed_due``)
  and ``declaration list`` shows (``declaration_views.held_due``), never the call's bare date,
  which a suspension between the call and it made pass with days the company could not use;
- the lot suspended at ``at``: any other month has no date (None, « vous sera demandée à la
  reprise »): nothing is called while it is suspended (``reminders._in_called_lot``), and the
  call after the resumption gives a date counted from its day, which nobody knows yet; never
  the scheduled date, which the suspension made pass without a call;
- else the date the call to come will give: the company's next call as the pass sends it
  (``company_pauses.next_call``: a call overdue after a resumption or a termination leaves at
  the next call time with ``due_after_call``'s date; a ladder opened and waiting for its slot
  holds it), then the schedule of the later months (a late start's catch-up call gives its
  months one later date, which the welcome announced).

``owed_due_dates_many`` reads it for any number of lots in a constant number of statements (the
lots, their ladders, their suspensions; for the months not called yet on a lot at work, their
calendars, starts, parties and declared months), so that a buyer's calendar page of hundreds of
lots, the annual report and one company's receipt follow the same rule at the same cost per
lot. ``pushed_due_dates`` is its first bullet alone, from ladders and suspensions already read;
``next_call_dates_many`` its last one alone (the months the next call asks, with their date), for
all the companies of the lots a notice announces it on, in the same constant statements.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.batching import IN_BATCH, chunked
from workflow.adapters.orm import AwardParty, Clause, Declaration, DeclarationLadder
from workflow.domain.calendar import (
    Interval,
    LadderDays,
    LadderStep,
    expected_due_dates,
    is_working_day,
    local_date,
    pushed_due,
    suspended_days,
)
from workflow.domain.stages import Stage
from workflow.services import company_pauses
from workflow.services.lot_calendars import (
    LotCalendar,
    execution_starts,
    lot_calendars,
    suspensions,
)
from workflow.settings import Settings

Pair = tuple[int, int]  # (clause id, company id)
Key = tuple[int, int, date]  # (clause id, company id, month)

#: The stages whose companies have a next call to come (a suspended lot calls nothing).
_CALLING = (Stage.EXECUTION.value, Stage.FOLLOW_UP.value)
#: The stages whose months are dated from the day the lot started, not from ``at``.
_STARTED = (Stage.EXECUTION.value, Stage.SUSPENDED.value, Stage.FOLLOW_UP.value)


class CalledMonth(Protocol):
    """What the rule reads of a month's ladder (a ``DeclarationLadder`` or a row of its
    columns)."""

    @property
    def clause_id(self) -> int: ...
    @property
    def company_id(self) -> int: ...
    @property
    def month(self) -> date: ...
    @property
    def due_on(self) -> date: ...
    @property
    def called_at(self) -> datetime | None: ...


def pushed_due_dates(
    ladders: Iterable[CalledMonth],
    suspended: Mapping[int, Sequence[Interval]],
    zone: ZoneInfo,
    today: date,
) -> dict[Key, date]:
    """The due date of each called month of ``ladders`` (those whose call left; the others are
    left out): its call's date pushed later by the working days its lot spent suspended after
    the call, a running suspension counted up to ``today`` (a local date). ``suspended``: each
    lot's suspensions (``lot_calendars.suspensions``)."""
    days: dict[int, LadderDays] = {}
    pushed: dict[Key, date] = {}
    for ladder in ladders:
        if ladder.called_at is None:
            continue
        cid = ladder.clause_id
        if cid not in days:
            days[cid] = LadderDays(suspended_days(suspended.get(cid, ()), zone, today))
        called_on = local_date(ladder.called_at, zone)
        due_on = ladder.due_on
        if days[cid].suspended or not is_working_day(due_on) or due_on <= called_on:
            due_on = pushed_due(due_on, called_on, days[cid])
        # Else (most months, no suspension) the count of working days from the call lands on
        # the date itself: no need to count them.
        pushed[(cid, ladder.company_id, ladder.month)] = due_on
    return pushed


def owed_due_dates_many(
    session: Session,
    pairs: Iterable[Pair],
    settings: Settings,
    at: datetime,
    *,
    wanted: Collection[Key] | None = None,
) -> dict[Pair, dict[date, date | None]]:
    """The due date of each month of each (lot, company) of ``pairs`` as the company was or
    will be told it at ``at`` (the module's rule): every month of its lot's calendar and of its
    ladders. ``wanted``: only these months (lot, company, month) are needed; then the calendar
    and the next call are read only for a month not called on a lot at work (minutes between
    a pass's opening and its call), and only the wanted months are returned.

    ``IN_BATCH`` lots at a time: a constant number of statements per chunk, and no parameter
    list longer than the others of the project."""
    asked = sorted(set(pairs))
    lots = sorted({cid for cid, _ in asked})
    found: dict[Pair, dict[date, date | None]] = {}
    for chunk in chunked(lots, IN_BATCH):
        these = set(chunk)
        found.update(
            _owed_due_dates_of(
                session, [p for p in asked if p[0] in these], settings, at, wanted=wanted
            )
        )
    return found


def _owed_due_dates_of(
    session: Session,
    asked: Sequence[Pair],
    settings: Settings,
    at: datetime,
    *,
    wanted: Collection[Key] | None,
) -> dict[Pair, dict[date, date | None]]:
    """``owed_due_dates_many`` for ``asked``, sorted, of at most ``IN_BATCH`` lots."""
    if not asked:
        return {}
    zone = settings.zone
    ids = sorted({cid for cid, _ in asked})
    clauses = {c.id: c for c in session.scalars(select(Clause).where(Clause.id.in_(ids)))}
    ladders: dict[Pair, list[DeclarationLadder]] = defaultdict(list)
    statement = select(DeclarationLadder).where(DeclarationLadder.clause_id.in_(ids))
    companies = sorted({company for _, company in asked})
    if len(companies) == 1:
        statement = statement.where(DeclarationLadder.company_id == companies[0])
    kept = set(asked)
    for ladder in session.scalars(statement):
        if (ladder.clause_id, ladder.company_id) in kept:
            ladders[(ladder.clause_id, ladder.company_id)].append(ladder)
    suspended = suspensions(session, ids)
    held = pushed_due_dates(
        (ladder for rows in ladders.values() for ladder in rows),
        suspended,
        zone,
        local_date(at, zone),
    )
    if wanted is None:
        full = asked
    else:
        # A month called has its pushed date, any other of a suspended lot none: the rest of
        # the rule only for a month not called on a lot at work.
        full = sorted(
            {
                (cid, company)
                for cid, company, month in wanted
                if (cid, company) in kept
                and (cid, company, month) not in held
                and clauses[cid].stage != Stage.SUSPENDED.value
            }
        )
    dated = _dated(session, clauses, full, ladders, suspended, settings, at)
    found: dict[Pair, dict[date, date | None]] = {}
    for pair in asked:
        cid, company = pair
        dates: dict[date, date | None] = dict(dated.get(pair, {}))
        if clauses[cid].stage == Stage.SUSPENDED.value:
            dates = dict.fromkeys(dates, None)
            dates.update({ladder.month: None for ladder in ladders[pair]})
        dates.update(
            {
                ladder.month: held[(cid, company, ladder.month)]
                for ladder in ladders[pair]
                if ladder.called_at is not None
            }
        )
        if wanted is not None:
            dates = {m: d for m, d in dates.items() if (cid, company, m) in wanted}
        found[pair] = dates
    return found


def _dated(
    session: Session,
    clauses: Mapping[int, Clause],
    pairs: Sequence[Pair],
    ladders: Mapping[Pair, Sequence[DeclarationLadder]],
    suspended: Mapping[int, Sequence[Interval]],
    settings: Settings,
    at: datetime,
) -> dict[Pair, dict[date, date]]:
    """Each pair's months as the calendar and the calls to come date them, before the called
    months take their pushed dates: the lot's schedule from when it started (a lot not started
    yet taken to start at ``at``), the date each ladder holds, then the months the company's
    next call asks with the date it gives them, on a lot whose calls run."""
    if not pairs:
        return {}
    zone = settings.zone
    ids = sorted({cid for cid, _ in pairs})
    lots = lot_calendars(session, ids, settings)
    starts = execution_starts(session, [cid for cid in ids if clauses[cid].stage in _STARTED])
    calling = [pair for pair in pairs if clauses[pair[0]].stage in _CALLING]
    coming = _calls_to_come(session, calling, lots, ladders, suspended, starts, at, zone)
    expected: dict[int, dict[date, date]] = {}
    dated: dict[Pair, dict[date, date]] = {}
    for pair in pairs:
        cid, _ = pair
        clause = clauses[cid]
        if cid not in expected:
            expected[cid] = _expected(lots[cid], starts.get(cid, at), zone)
        dates = dict(expected[cid])
        if clause.stage != Stage.SUSPENDED.value:
            dates.update({ladder.month: ladder.due_on for ladder in ladders.get(pair, ())})
            dates.update(coming.get(pair, {}))
        dated[pair] = dates
    return dated


def next_call_dates_many(
    session: Session, pairs: Iterable[Pair], settings: Settings, at: datetime
) -> dict[Pair, dict[date, date]]:
    """The months each (lot, company) of ``pairs``' next call asks, seen at ``at``, each with
    the one date it gives them, as the passes will send it (``company_pauses.next_call``, their
    replay): the last bullet of the module's rule alone, for the notices that announce it
    (``notices.announced_due_dates``). None for a lot whose calls do not run (not in execution
    or in follow-up) or a company not among its parties. ``IN_BATCH`` lots at a time, a
    constant number of statements per chunk."""
    asked = sorted(set(pairs))
    zone = settings.zone
    found: dict[Pair, dict[date, date]] = {}
    for chunk in chunked(sorted({cid for cid, _ in asked}), IN_BATCH):
        ids = sorted(
            session.scalars(
                select(Clause.id).where(Clause.id.in_(chunk), Clause.stage.in_(_CALLING))
            )
        )
        if not ids:
            continue
        these = set(ids)
        calling = [pair for pair in asked if pair[0] in these]
        kept = set(calling)
        ladders: dict[Pair, list[DeclarationLadder]] = defaultdict(list)
        for ladder in session.scalars(
            select(DeclarationLadder).where(DeclarationLadder.clause_id.in_(ids))
        ):
            if (ladder.clause_id, ladder.company_id) in kept:
                ladders[(ladder.clause_id, ladder.company_id)].append(ladder)
        found.update(
            _calls_to_come(
                session,
                calling,
                lot_calendars(session, ids, settings),
                ladders,
                suspensions(session, ids),
                execution_starts(session, ids),
                at,
                zone,
            )
        )
    return found


def _calls_to_come(
    session: Session,
    calling: Sequence[Pair],
    lots: Mapping[int, LotCalendar],
    ladders: Mapping[Pair, Sequence[DeclarationLadder]],
    suspended: Mapping[int, Sequence[Interval]],
    starts: Mapping[int, datetime],
    at: datetime,
    zone: ZoneInfo,
) -> dict[Pair, dict[date, date]]:
    """``_next_call`` for each pair of ``calling`` (lots whose calls run) that is a party of its
    lot: their parties and declared months in two statements."""
    if not calling:
        return {}
    calling_ids = sorted({cid for cid, _ in calling})
    wanted = set(calling)
    parties: dict[Pair, AwardParty] = {}
    declared: dict[Pair, set[date]] = defaultdict(set)
    for party in session.scalars(select(AwardParty).where(AwardParty.clause_id.in_(calling_ids))):
        if (party.clause_id, party.company_id) in wanted:
            parties[(party.clause_id, party.company_id)] = party
    for cid, company, month in session.execute(
        select(Declaration.clause_id, Declaration.company_id, Declaration.month).where(
            Declaration.clause_id.in_(calling_ids)
        )
    ):
        if (cid, company) in wanted:
            declared[(cid, company)].add(month)
    return {
        (cid, company): _next_call(
            lots[cid],
            party,
            ladders.get((cid, company), ()),
            declared[(cid, company)],
            suspended.get(cid, ()),
            starts.get(cid, at),
            at,
            zone,
        )
        for (cid, company), party in parties.items()
    }


def _expected(lot: LotCalendar, started: datetime, zone: ZoneInfo) -> dict[date, date]:
    """The due dates the ladder will give the lot's months, from when it started
    (``notices._expected_due_dates``)."""
    if lot.start_month is None or lot.end_month is None:
        return {}
    found, _ = expected_due_dates(lot.start_month, lot.end_month, lot.rules, zone, started)
    return found


def _next_call(
    lot: LotCalendar,
    party: AwardParty,
    ladders: Sequence[DeclarationLadder],
    declared: set[date],
    suspended: Sequence[Interval],
    started: datetime,
    at: datetime,
    zone: ZoneInfo,
) -> dict[date, date]:
    """The months the company's next call asks, seen at ``at``, each with the one date it gives
    them, as the passes will send it (``company_pauses.next_call``, their replay)."""
    waiting = sorted(
        (ladder.month, ladder.next_step_at)
        for ladder in ladders
        if ladder.called_at is None
        and ladder.next_step == LadderStep.CALL.value
        and ladder.month not in declared
    )
    calls = company_pauses.PartyCalls(
        party.next_call_month, party.next_call_at, tuple(waiting), party.first_month
    )
    intervals = [Interval(i.start, i.end or at) for i in suspended]
    found = company_pauses.next_call(
        calls, company_pauses.for_party(lot, party), intervals, declared, started, at, zone
    )
    return dict.fromkeys(found.months, found.due_on) if found is not None else {}


def asked_again_due(due_on: date, asked_again_on: date | None) -> date:
    """The date a month asked again after a cancelled declaration holds its company to
    (``DeclarationLadder.asked_again_on``): its own due date (pushed) while that had not passed
    on the day of the cancellation (« d'ici le … »), else that day (« dès que possible »): the
    later of the two, as the cancellation's email and the reminders tell it
    (``reminder_emails.asked_again``)."""
    return due_on if asked_again_on is None or asked_again_on <= due_on else asked_again_on
