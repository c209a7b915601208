"""Each lot's dates as they were known at a summary's moment, and its time elapsed from them.

``compile_summary(now=T)`` reads a lot's start, planned end and end as they stand today. A lot
whose end was recorded (« achever », « résilier ») or corrected, whose planned end moved or
whose award was corrected after T gave, replayed for T, another « temps écoulé » than the email
sent at T (user trial F7): the replay promised the email's figures, the audit could only call
the difference a remark.

Every change of those dates writes a history row (``clause_history``) saying the value before
it: « fin d'exécution : 31/10/2026 → 30/11/2026 » (``end_date_corrections``), « fin prévue :
31 mars 2027 → 30 juin 2027 » (``clauses.set_planned_end``), « Démarrage : 2 mars 2026 →
16 mars 2026 » (``clauses.award_correction_reason``); before the end is recorded (« finish »,
« terminate ») a lot has none, before its award neither start nor planned end. So a date at T
is the value before the first change after T, or the one of today when none came after.

What the history does not give is said, not guessed (``Untold``): a row whose words cannot be
read back, or a gap in the chain (the value the last change up to T left is not the one the
next change replaced, or not today's when none came since: a change was made without its row,
loaded by hand or before the rows said their dates, and nobody knows whether before T). Such a
lot keeps today's dates and is named.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.batching import IN_BATCH, chunked
from workflow.adapters.orm import Clause, ClauseHistory
from workflow.adapters.templates import french_month
from workflow.domain.calendar import Interval, suspended_days
from workflow.domain.monthly_summary import (
    BuyerFigures,
    ClauseLine,
    Figures,
    MonthlySummary,
    terminated_elapsed,
    terminated_paces,
)
from workflow.domain.stages import ClauseEvent, Stage
from workflow.domain.summary import (
    clause_progress,
    combine_progress,
    elapsed_fraction,
    month_end,
)
from workflow.services.clauses import CORRECTION_PREFIX, award_changes_of
from workflow.services.end_date_corrections import END_DATE_CORRECTED
from workflow.services.lot_calendars import suspensions
from workflow.services.terminations import terminated_lots

START, PLANNED_END, END = "start", "planned_end", "end"
#: The dates in the words of a reader, as the replay names them.
DATE_WORDS = {
    START: "démarrage",
    PLANNED_END: "fin prévue",
    END: "fin d'exécution",
}
AWARD_RECORDED = "award_recorded"
AWARD_CORRECTED = "award_corrected"
PLANNED_END_EVENT = "planned_end"
ENDING = (ClauseEvent.FINISH.value, ClauseEvent.TERMINATE.value)
DATE_EVENTS = (AWARD_RECORDED, AWARD_CORRECTED, PLANNED_END_EVENT, END_DATE_CORRECTED, *ENDING)
#: Stages of a lot whose work has begun, and of one still running (``summaries``' own rule).
_STARTED = frozenset(
    s.value for s in (Stage.EXECUTION, Stage.SUSPENDED, Stage.FOLLOW_UP, Stage.CLOSED)
)
_RUNNING = frozenset(s.value for s in (Stage.EXECUTION, Stage.SUSPENDED))


class _Unread:
    """A value a history row changed but does not say (the end a finish recorded)."""


UNREAD: Final = _Unread()
Value = date | None | _Unread

_SHORT = re.compile(r"(\d{2})/(\d{2})/(\d{4})")
#: « janvier » … « décembre », as the texts read back were written (``french_month``).
_MONTHS = {french_month(date(2000, number, 1)).rsplit(" ", 1)[0]: number for number in range(1, 13)}
_LONG = re.compile(r"(\d{1,2})(?:er)? (\w+) (\d{4})")
_END_MOVE = re.compile(r"^fin d'exécution\s*: (\d{2}/\d{2}/\d{4}) → (\d{2}/\d{2}/\d{4})")
_PLANNED_MOVE = re.compile(r"^fin prévue\s*: (.+?) → (.+?)\s*;")


def _short(text: str) -> Value:
    found = _SHORT.fullmatch(text.strip())
    if not found:
        return UNREAD
    day, month, year = (int(g) for g in found.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return UNREAD


def _long(text: str) -> Value:
    """« 1er septembre 2026 », « 31 mars 2027 » (``french_date``); « non renseigné »: None."""
    cleaned = text.replace("\u00a0", " ").strip()
    if cleaned == "non renseigné":
        return None
    found = _LONG.fullmatch(cleaned)
    if not found or found.group(2) not in _MONTHS:
        return UNREAD
    try:
        return date(int(found.group(3)), _MONTHS[found.group(2)], int(found.group(1)))
    except ValueError:
        return UNREAD


@dataclass(frozen=True)
class _Move:
    """One history row's change of one date: the value before it, and after it."""

    at: datetime
    history_id: int
    field: str
    before: Value
    after: Value


def _moves(history_id: int, at: datetime, event: str, reason: str | None) -> list[_Move]:
    text = (reason or "").replace("\u00a0", " ")
    if event in ENDING:
        # A lot in execution or suspended has no end: the finish records it (its row does
        # not repeat the day; the next correction, or today's value, says it).
        return [_Move(at, history_id, END, None, UNREAD)]
    if event == END_DATE_CORRECTED:
        found = _END_MOVE.match(text)
        before, after = (_short(found.group(1)), _short(found.group(2))) if found else (UNREAD,) * 2
        return [_Move(at, history_id, END, before, after)]
    if event == PLANNED_END_EVENT:
        found = _PLANNED_MOVE.match(text)
        before, after = (_long(found.group(1)), _long(found.group(2))) if found else (UNREAD,) * 2
        return [_Move(at, history_id, PLANNED_END, before, after)]
    if event == AWARD_RECORDED:
        # Before its award a lot has no dates; the row does not repeat them.
        return [_Move(at, history_id, f, None, UNREAD) for f in (START, PLANNED_END)]
    # A corrected award lists the dates it moved (none: it moved none).
    if not text.startswith(CORRECTION_PREFIX):
        return [_Move(at, history_id, f, UNREAD, UNREAD) for f in (START, PLANNED_END)]
    moved = []
    for change in award_changes_of(text):
        field = {"Démarrage": START, "Fin prévue": PLANNED_END}.get(change.what)
        if field is not None:
            moved.append(_Move(at, history_id, field, _long(change.before), _long(change.after)))
    return moved


@dataclass(frozen=True)
class LotDates:
    start: date | None
    planned_end: date | None
    end: date | None

    @property
    def stop(self) -> date | None:
        """The end the summaries count the time against: recorded, else planned."""
        return self.end if self.end is not None else self.planned_end

    def of(self, field: str) -> date | None:
        return {START: self.start, PLANNED_END: self.planned_end, END: self.end}[field]


@dataclass(frozen=True)
class DatesThen:
    """A lot's dates at a moment (``then``) and today (``now``); ``untold``: the dates whose
    value then the history does not give (today's kept in ``then``)."""

    clause_id: int
    then: LotDates
    now: LotDates
    untold: tuple[str, ...] = ()

    @property
    def moved(self) -> bool:
        return self.then != self.now


@dataclass(frozen=True)
class DateHistory:
    """Today's dates and every date change of the lots whose dates changed after ``since``."""

    since: datetime
    today: dict[int, LotDates]
    moves: dict[int, list[_Move]]

    def at(self, clause_id: int, moment: datetime) -> DatesThen | None:
        """The lot's dates at ``moment`` (at or after ``since``); None when none changed after
        it (today's are the ones of then)."""
        moves = self.moves.get(clause_id)
        now = self.today.get(clause_id)
        if now is None or not moves or all(m.at <= moment for m in moves):
            return None
        values: dict[str, date | None] = {}
        untold: list[str] = []
        for field in (START, PLANNED_END, END):
            mine = [m for m in moves if m.field == field]
            later = [m for m in mine if m.at > moment]
            value: Value = later[0].before if later else now.of(field)
            # What the last change up to the moment left must be that value: else a change was
            # made without its row between the two, before or after the moment, nobody knows.
            # (A change without its row after the first one since does not touch the moment.)
            prior = [m.after for m in mine if m.at <= moment][-1:]
            if isinstance(value, _Unread) or _differ([*prior, value]):
                untold.append(field)
                value = now.of(field)
            assert not isinstance(value, _Unread)
            values[field] = value
        then = LotDates(values[START], values[PLANNED_END], values[END])
        return DatesThen(clause_id, then, now, tuple(untold))


def _differ(pair: list[Value]) -> bool:
    """Two known values of the chain that are not the same (an unread one agrees with all)."""
    if len(pair) < 2 or any(isinstance(v, _Unread) for v in pair):
        return False
    return pair[0] != pair[1]


def load_date_history(
    session: Session, since: datetime, clause_ids: Iterable[int] | None = None
) -> DateHistory:
    """The lots with a date change after ``since`` (the rows of those events, by the history's
    index ``ix_clause_history_event_at``; an award is one, so a year's audit names every lot
    awarded in it), then, a chunk of lots at a time, their every date change and today's
    dates."""
    changed = select(ClauseHistory.clause_id).where(
        ClauseHistory.event.in_(DATE_EVENTS), ClauseHistory.at > since
    )
    ids = set(session.scalars(changed.distinct()))
    if clause_ids is not None:
        ids &= set(clause_ids)
    if not ids:
        return DateHistory(since, {}, {})
    moves: dict[int, list[_Move]] = defaultdict(list)
    today: dict[int, LotDates] = {}
    # In chunks: a year of awards names thousands of lots, more than one parameter list holds.
    for chunk in chunked(sorted(ids), IN_BATCH):
        for history_id, clause_id, at, event, reason in session.execute(
            select(
                ClauseHistory.id,
                ClauseHistory.clause_id,
                ClauseHistory.at,
                ClauseHistory.event,
                ClauseHistory.reason,
            )
            .where(ClauseHistory.clause_id.in_(chunk), ClauseHistory.event.in_(DATE_EVENTS))
            .order_by(ClauseHistory.clause_id, ClauseHistory.at, ClauseHistory.id)
        ):
            moves[clause_id] += _moves(history_id, at, event, reason)
        for cid, start, planned, end in session.execute(
            select(Clause.id, Clause.start_date, Clause.planned_end_date, Clause.end_date).where(
                Clause.id.in_(chunk)
            )
        ):
            today[cid] = LotDates(start, planned, end)
    return DateHistory(since, today, dict(moves))


@dataclass(frozen=True)
class TerminatedSince:
    """A lot whose termination was recorded after the moment (``at``) on a day of the month or
    before (``on``): its line says « marché résilié », which the email could not say."""

    clause_id: int
    on: date
    at: datetime


@dataclass(frozen=True)
class Dated:
    """The summary with each lot's time elapsed from its dates of the moment; ``restored``: the
    lots whose dates of then differ from today's and were put back; ``untold``: the lots whose
    dates of then the history does not give, counted with today's; ``terminated_since``: the
    lots read as terminated though their termination was recorded after the moment."""

    summary: MonthlySummary
    restored: tuple[DatesThen, ...]
    untold: tuple[DatesThen, ...]
    terminated_since: tuple[TerminatedSince, ...] = ()


def suspensions_known_at(intervals: Iterable[Interval], moment: datetime) -> list[Interval]:
    """The suspensions as they stood at ``moment`` (``summaries``' rule): none begun after
    it, one ended after it still running."""
    return [
        Interval(i.start, i.end if i.end is not None and i.end <= moment else None)
        for i in intervals
        if i.start <= moment
    ]


def with_dates_then(
    session: Session,
    summary: MonthlySummary,
    history: DateHistory,
    moment: datetime,
    zone: ZoneInfo,
) -> Dated:
    """``summary`` (compiled for ``moment``) with the time elapsed of each lot whose dates
    changed since counted from its dates of then, as the summary's rule counts it (the
    suspensions known then; a lot terminated by then against its planned end, stopped on its
    termination day), and whether the lot was followed in the month or achieved before it.

    A lot whose termination was recorded after the moment is counted from its start and planned
    end of then too, not left with today's: its start corrected before the termination read,
    replayed, the corrected start's time elapsed (user trial, 6 December 2026: « 12 % » for the
    email's « 21 % »), nothing said. Its termination is no date of then: it changes nothing in
    the months before its day (``terminated_elapsed`` reads them against the planned end, as
    the email did); from its day on, the summaries' own rule says « marché résilié », which the
    email could not say: ``Dated.terminated_since`` names those lots."""
    found = {
        line.clause_id: dated
        for line in summary.clauses
        if (dated := history.at(line.clause_id, moment)) is not None
    }
    restored = {cid: d for cid, d in found.items() if d.moved}
    untold = tuple(d for d in found.values() if d.untold)
    if not restored:
        return Dated(summary, (), untold)
    ended = terminated_lots(session, set(restored))
    month, last = summary.month, month_end(summary.month)
    stretches = suspensions(session, restored)
    until = moment.astimezone(zone).date()
    lines: list[ClauseLine] = []
    since: list[TerminatedSince] = []
    for line in summary.clauses:
        dated = restored.get(line.clause_id)
        if dated is None:
            lines.append(line)
            continue
        then = dated.then
        known = suspensions_known_at(stretches.get(line.clause_id, ()), moment)
        days = suspended_days(known, zone, until) if known else frozenset[date]()
        termination = ended.get(line.clause_id)
        p = line.progress
        if termination is not None and termination.at > moment and line.terminated_on is not None:
            # Recorded after the moment, on a day of the month or before: the summaries' rule
            # says « marché résilié » (its line and stage as compiled), counted from the start
            # and planned end of then; the email could not say it, the reader is told.
            elapsed = terminated_elapsed(then.start, then.planned_end, termination.on, last, days)
            progress = clause_progress(p.hours_target, p.hours_month, p.hours_cumulated, elapsed)
            lines.append(replace(line, start_date=then.start, progress=progress))
            since.append(TerminatedSince(line.clause_id, termination.on, termination.at))
            continue
        if termination is not None and termination.at <= moment and then.end is not None:
            elapsed = terminated_elapsed(then.start, then.planned_end, then.end, last, days)
        else:
            # Not terminated then (a termination recorded since, on a day after the month,
            # changes nothing in it): as any lot, from its dates of then.
            elapsed = elapsed_fraction(then.start, then.stop, last, days)
        progress = clause_progress(p.hours_target, p.hours_month, p.hours_cumulated, elapsed)
        started = line.stage in _STARTED and then.start is not None and then.start <= last
        runs = then.stop is None or then.stop >= month
        overdue = started and not runs and then.end is None and line.stage in _RUNNING
        followed = (started and (runs or overdue)) or p.hours_month > 0
        lines.append(
            replace(
                line,
                start_date=then.start,
                end_date=then.stop,
                progress=progress,
                followed=followed,
                past_planned_end=overdue,
            )
        )

    def figures(found: Figures, scope: list[ClauseLine]) -> Figures:
        return replace(
            found,
            progress=combine_progress(c.progress for c in scope),
            followed=sum(1 for c in scope if c.followed),
            terminated=terminated_paces(scope),
        )

    buyers = tuple(
        BuyerFigures(
            b.buyer_id, b.name, figures(b.figures, [c for c in lines if c.buyer_id == b.buyer_id])
        )
        for b in summary.buyers
    )
    dated_summary = replace(
        summary,
        overall=figures(summary.overall, lines),
        buyers=buyers,
        clauses=tuple(lines),
    )
    return Dated(dated_summary, tuple(restored.values()), untold, tuple(since))


__all__ = [
    "DATE_WORDS",
    "DateHistory",
    "Dated",
    "DatesThen",
    "LotDates",
    "TerminatedSince",
    "load_date_history",
    "with_dates_then",
]
