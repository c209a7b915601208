"""The months a company of a lot still owes up to a last month, as the call ladder asks them.

Two emails list them, each month with its due date: the company that left the site
(``departure_notices``, up to its last month) and each company of a terminated lot
(``termination_notices``, up to the termination); the buyer's notice of the termination names
them too. All read them here, with the ladder's own rule (``reminders._open_batch`` and
``_climb_batch``, ``declarations.missing_months``): from the company's first month on the lot
(``first_month_of``) up to the last month asked, never after its own last month on the lot
(``AwardParty.last_month``) nor the lot's end (its recorded end, else its planned one, as
``LotCalendar.end_month``); neither declared nor spent whole in a suspension of the lot (never
called: « month fully suspended, not called »). A lot closed no longer asks for any (its months
« plus demandée », ``declaration_views``), an abandoned one never did.

Before, the departure's email counted every undeclared month: a company leaving a lot that had
been suspended for a whole month was told it still owed that month, which nobody would ever ask.

``owed_up_to_many`` reads them for many companies of many lots at once (the annual report's
declarations never received, over a whole territory) in a bounded number of statements: the
declarations of the lots in lists of ``IN_BATCH``, their suspensions in one; ``owed_up_to`` is
its call for one company. Each company is given as an ``Owing`` (the few columns of its lot and
of its award the rule reads), so a caller that has them from its own query loads no object.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.batching import IN_BATCH, chunked
from workflow.adapters.orm import AwardParty, Clause, Declaration
from workflow.domain.calendar import (
    Interval,
    add_months,
    month_fully_within,
    month_start,
    months_between,
)
from workflow.domain.stages import FINAL_STAGES, Stage
from workflow.services.lot_calendars import first_month_of, suspensions

#: A company of a lot: (``Clause.id``, ``AwardParty.company_id``).
Pair = tuple[int, int]


@dataclass(frozen=True)
class Owing:
    """A company of a lot as the rule reads it: the lot's stage, start and end (recorded, else
    planned), the company's first and last months on it (``AwardParty``)."""

    clause_id: int
    company_id: int
    stage: str
    start_date: date | None
    lot_end: date | None
    first_month: date | None = None
    last_month: date | None = None

    @classmethod
    def of(cls, clause: Clause, party: AwardParty) -> Owing:
        return cls(
            clause.id,
            party.company_id,
            clause.stage,
            clause.start_date,
            clause.end_date or clause.planned_end_date,
            party.first_month,
            party.last_month,
        )


def window(clause: Clause, party: AwardParty, last: date) -> tuple[date, date] | None:
    """The months the lot asks of ``party`` up to ``last`` (any day of it), as first and last
    month: from its first month on the lot (``first_month_of``) to ``last``'s, or its own last
    month on the lot (it left the site) if that comes first; None before the lot has a start.
    The last month may come before the first (nothing asked then). The lot's end is not
    applied: ``owed_up_to`` stops there too, the termination's count of the months declared
    (``notices._declared_within``) at the termination."""
    return _window(Owing.of(clause, party), last)


def _window(owing: Owing, last: date) -> tuple[date, date] | None:
    start = month_start(owing.start_date) if owing.start_date else None
    first = first_month_of(owing.first_month, start)
    if first is None:
        return None
    end = month_start(last)
    if owing.last_month is not None:
        end = min(end, month_start(owing.last_month))
    return first, end


def owed_up_to(
    session: Session,
    clause: Clause,
    party: AwardParty,
    last: date,
    zone: ZoneInfo,
    *,
    now: datetime | None = None,
    released_too: bool = False,
) -> list[date]:
    """The months of ``party`` from its first on the lot up to ``last`` (any day of it) that it
    has not declared and that the ladder asks, or will ask, of it (module docstring): those it
    still owes, called already or to be called, in order. ``owed_up_to_many`` for one company
    (two statements, none for a lot that asks nothing); ``now`` and ``released_too`` are its."""
    owing = Owing.of(clause, party)
    owed = owed_up_to_many(session, [owing], last, zone, now=now, released_too=released_too)
    return owed[(owing.clause_id, owing.company_id)]


def owed_up_to_many(
    session: Session,
    companies: Iterable[Owing],
    last: date,
    zone: ZoneInfo,
    *,
    now: datetime | None = None,
    released_too: bool = False,
    since: date | None = None,
    suspended: Mapping[int, Sequence[Interval]] | None = None,
) -> dict[Pair, list[date]]:
    """``owed_up_to`` for each of ``companies`` (a company of a lot, ``Owing.of``), by (lot,
    company), exactly as one call each would give, in a bounded number of statements: the
    declarations of the lots concerned, in lists of ``IN_BATCH`` lots, and their suspensions in
    one (``lot_calendars.suspensions``), none when no lot asks anything.

    ``now``: a suspension still running is counted up to it, a month it has not covered whole
    yet being owed if the works resume before that month ends (the ladder decides when it
    opens it); None: as the lot's history holds it (a terminated lot has none running).

    ``released_too``: a closed lot's months are counted as they stood just before it was
    closed, instead of none. Closing releases them (the ladder asks them no more: « plus
    demandée »), so every email about what a company still owes must say none; the annual
    report, though, must say which months the lot was closed without, since their hours will
    never reach the funders. An abandoned lot never asked for any: still none.

    ``since``: only the months from ``since``'s on (the others are not read): the same list
    cut there. ``suspended``: the lots' suspensions when the caller has read them already
    (``suspensions``, for these lots at least), so they are not read twice."""
    owed: dict[Pair, list[date]] = {}
    asked: dict[Pair, tuple[date, date]] = {}
    for owing in companies:
        key = (owing.clause_id, owing.company_id)
        owed[key] = []
        stage = Stage(owing.stage)
        if stage in FINAL_STAGES and not (released_too and stage is Stage.CLOSED):
            continue
        bounds = _window(owing, last)
        if bounds is None:
            continue
        first, end = bounds
        if owing.lot_end is not None:
            end = min(end, month_start(owing.lot_end))
        if since is not None:
            first = max(first, month_start(since))
        if first <= end:
            asked[key] = (first, end)
    if not asked:
        return owed
    lots = sorted({cid for cid, _ in asked})
    begin = min(first for first, _ in asked.values())
    until = add_months(max(end for _, end in asked.values()), 1)
    declared: dict[Pair, set[date]] = defaultdict(set)
    for chunk in chunked(lots, IN_BATCH):
        for cid, company_id, month in session.execute(
            select(Declaration.clause_id, Declaration.company_id, Declaration.month).where(
                Declaration.clause_id.in_(chunk),
                Declaration.month >= begin,
                Declaration.month < until,
            )
        ):
            if (cid, company_id) in asked:
                declared[(cid, company_id)].add(month_start(month))
    if suspended is None:
        suspended = suspensions(session, lots)
    for key, (first, end) in asked.items():
        stretches = list(suspended.get(key[0], ()))
        if now is not None:
            stretches = [Interval(i.start, now) if i.end is None else i for i in stretches]
        done = declared.get(key, set())
        owed[key] = [
            month
            for month in months_between(first, end)
            if month not in done and not (stretches and month_fully_within(month, stretches, zone))
        ]
    return owed
