"""A monthly summary asked for a past moment gives the figures its email gave.

``compile_summary(now=T)`` counts a declaration once its row's ``recorded_at`` is at or before
``T``. A declaration corrected since carries its correction's instant, and a cancelled one is
gone: replayed after a correction, the October summary sent on 23 November read « 0 h », « 0
reçue sur 2 attendues » where the email had said 370,17 h and one received (user trial). The
audit already puts those totals back as they stood (``audit.as_of.at_its_moment``, from what each
declaration's history says it held then); ``clauses summary --now`` uses the very same rule, so
the replay, the email and the audit agree.

The same holds for each lot's dates (user trial F7): an end recorded or corrected, a planned end
moved or an award corrected after the email gave, replayed, another « temps écoulé » than the
email. Each lot's start, planned end and end are the ones its history rows say it had at the
moment (``audit.dates_then``, which the audit reads too), and its time elapsed is counted from
them.

What cannot be put back is said, not guessed: the lines a declaration had before a correction
are not kept, so the tables by participant, delivery mode and contract leave it out. Each such
declaration is returned (``ChangedSince``) for the reader to name it. So are the lots whose
dates changed since (``Replay.dates``: a lot terminated since among them, counted from its start
and planned end of then), and those whose dates of then the history does not give
(``Replay.untold``: a change made without its row), counted with today's dates; so are the lots
whose termination, recorded since, took effect in the month or before (``Replay.terminated``):
their line says « marché résilié », which the email could not say.

Nor do the lots keep their hours target of then, nor the companies their place in the
declarations expected: a target imposed since (« clause hours », ``Replay.targets``, the target
of then from the history row: « heures imposées : 450 h → 400 h ; … ») and a company that left
since, its last month before the summary's (« company-left », ``Replay.departures``), are
counted as they stand today and named (user trial, 6 December 2026: the replay silently
differed from the email).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflow.adapters.batching import chunked
from workflow.adapters.orm import AwardParty, Clause, ClauseHistory, Company
from workflow.domain.monthly_summary import MonthlySummary
from workflow.services.audit.as_of import at_its_moment, corrected_or_cancelled, declaration_key
from workflow.services.audit.dates_then import (
    DatesThen,
    TerminatedSince,
    load_date_history,
    with_dates_then,
)
from workflow.services.audit.receipts import DeclarationFacts, load_declarations
from workflow.services.company_departures import COMPANY_LEFT


@dataclass(frozen=True)
class ChangedSince:
    """A declaration the summary knew at its moment, corrected or cancelled since."""

    company: str
    clause_id: int
    month: date
    hours_then: Decimal
    changed_at: datetime
    cancelled: bool


@dataclass(frozen=True)
class TargetChanged:
    """A lot whose hours target was imposed after the moment (« clause hours »): the summary
    counts today's (``after``) against the hours; ``before``, the one of then (None: not set);
    ``told``: False when the history does not say it (a row of the lot's creation)."""

    clause_id: int
    before: int | None
    after: int | None
    at: datetime
    told: bool = True


@dataclass(frozen=True)
class CompanyLeft:
    """A company whose departure was recorded after the moment (« company-left »), its last
    month before the summary's: its declarations of the month are no longer expected."""

    clause_id: int
    company: str
    last_month: date
    at: datetime


@dataclass(frozen=True)
class Replay:
    summary: MonthlySummary
    changed: tuple[ChangedSince, ...]
    #: The lots whose dates changed since the moment, counted with their dates of then.
    dates: tuple[DatesThen, ...] = ()
    #: The lots whose dates of then the history does not give, counted with today's.
    untold: tuple[DatesThen, ...] = ()
    #: The lots terminated on a day of the month or before, recorded after the moment: read
    #: « marché résilié », which the email could not say.
    terminated: tuple[TerminatedSince, ...] = ()
    #: The lots whose hours target changed since the moment, counted with today's.
    targets: tuple[TargetChanged, ...] = ()
    #: The companies that left since the moment, no longer expected in the month.
    departures: tuple[CompanyLeft, ...] = ()


def _changed_at(facts: DeclarationFacts, moment: datetime) -> datetime:
    """When it stopped being what the summary counted: its cancellation, or the first
    recording after the moment (its row's instant when its history says none)."""
    if facts.cancelled_at is not None:
        return facts.cancelled_at
    later = [r.at for r in facts.recordings if r.at > moment]
    return min(later, default=facts.recorded_at)


def as_known_at(session: Session, summary: MonthlySummary, moment: datetime) -> Replay:
    """``summary`` (compiled for ``moment``) with each declaration's total as recorded then and
    each lot's time elapsed from its dates of then.

    Reads only the declarations recorded, corrected or cancelled after ``moment`` and the lots
    whose dates changed after it: none for a summary of the present, a handful for the replay
    of an email."""
    known = corrected_or_cancelled(load_declarations(session, changed_after=moment).all())
    restored = at_its_moment(summary, known, moment)
    changed = []
    for facts in known:
        if declaration_key(facts) not in restored.restored:
            continue
        hours, _ = facts.hours_then(moment)
        changed.append(
            ChangedSince(
                company=facts.company,
                clause_id=facts.clause_id,
                month=facts.month,
                hours_then=hours if hours is not None else Decimal(0),
                changed_at=_changed_at(facts, moment),
                cancelled=facts.cancelled_at is not None,
            )
        )
    changed.sort(key=lambda c: (c.month, c.company, c.clause_id))
    lots = {line.clause_id for line in summary.clauses}
    history = load_date_history(session, moment, lots)
    dated = with_dates_then(session, restored.summary, history, moment, summary.zone)
    return Replay(
        dated.summary,
        tuple(changed),
        dated.restored,
        dated.untold,
        dated.terminated_since,
        targets_changed(session, lots, moment),
        companies_left(session, lots, moment, summary.month),
    )


HOURS_OVERRIDE = "hours_override"
#: The row of hours imposed: « heures imposées : 4 725 h → 5 000 h ; avenant n° 1 »
#: (``clauses.hours_override_reason``), before it « 450 h imposées : avenant n° 1 ».
_IMPOSED_MOVE = re.compile(r"^heures imposées\s*: (.+?) → (.+?) ;")
_IMPOSED = re.compile(r"^(\d+) h imposées")
_NOT_SET = "non fixées"


def _rows_after(
    session: Session, event: str, lots: Collection[int], moment: datetime
) -> list[tuple[int, datetime, str | None]]:
    """The rows of ``event`` after ``moment`` (by the history's index on event and instant,
    a handful), of the summary's lots, in order."""
    rows = session.execute(
        select(ClauseHistory.clause_id, ClauseHistory.at, ClauseHistory.reason)
        .where(ClauseHistory.event == event, ClauseHistory.at > moment)
        .order_by(ClauseHistory.at, ClauseHistory.id)
    ).all()
    return [(cid, at, reason) for cid, at, reason in rows if cid in lots]


def _hours(text: str) -> int | None:
    """« 4 725 h » (thin spaces and all) as a number; None when it is no such figure."""
    digits = re.sub(r"[\s\u00a0\u202f]", "", text).removesuffix("h")
    return int(digits) if digits.isdigit() else None


def _target_before(reason: str | None, side: int = 1) -> tuple[int | None, bool]:
    """The target the first row after the moment replaced, and whether it says it; with
    ``side`` 2, the one it set."""
    found = _IMPOSED_MOVE.match((reason or "").replace("\u00a0", " "))
    if found is None:
        return None, False
    was = found.group(side).strip()
    if was == _NOT_SET:
        return None, True
    hours = _hours(was)
    return hours, hours is not None


def targets_changed(
    session: Session, lots: Collection[int], moment: datetime
) -> tuple[TargetChanged, ...]:
    """The lots whose hours target was imposed after ``moment``, today's target differing from
    the one of then: the one the first row since replaced, or, from a row that does not say it
    (written before 6 December 2026), the last imposed by the moment."""
    first: dict[int, tuple[datetime, tuple[int | None, bool]]] = {}
    for cid, at, reason in _rows_after(session, HOURS_OVERRIDE, lots, moment):
        first.setdefault(cid, (at, _target_before(reason)))
    if not first:
        return ()
    then = {cid: said for cid, (_, said) in first.items()}
    today: dict[int, int | None] = {}
    for chunk in chunked(sorted(first)):
        unsaid = [cid for cid in chunk if not then[cid][1]]
        for cid, reason in session.execute(
            select(ClauseHistory.clause_id, ClauseHistory.reason)
            .where(
                ClauseHistory.clause_id.in_(unsaid),
                ClauseHistory.event == HOURS_OVERRIDE,
                ClauseHistory.at <= moment,
            )
            .order_by(ClauseHistory.at, ClauseHistory.id)
        ):
            found = _IMPOSED.match(reason or "")
            # A row up to the moment: the figure it set was in force then.
            then[cid] = (int(found.group(1)), True) if found else _target_before(reason, 2)
        for cid, target in session.execute(
            select(Clause.id, func.coalesce(Clause.hours_override, Clause.hours_computed)).where(
                Clause.id.in_(chunk)
            )
        ):
            today[cid] = int(target) if target is not None else None
    return tuple(
        TargetChanged(cid, then[cid][0], today.get(cid), at, told=then[cid][1])
        for cid, (at, _) in sorted(first.items())
        if not then[cid][1] or then[cid][0] != today.get(cid)
    )


def companies_left(
    session: Session, lots: Collection[int], moment: datetime, month: date
) -> tuple[CompanyLeft, ...]:
    """The companies whose departure was recorded after ``moment`` with a last month before
    ``month``: the summary no longer expects their declaration of it, the email did. The row
    names the company (« Gimone Second Œuvre SAS a quitté le chantier »)."""
    rows = _rows_after(session, COMPANY_LEFT, lots, moment)
    if not rows:
        return ()
    found: dict[tuple[int, str], CompanyLeft] = {}
    for chunk in chunked(sorted({cid for cid, _, _ in rows})):
        for cid, name, last in session.execute(
            select(AwardParty.clause_id, Company.name, AwardParty.last_month)
            .join(Company, Company.id == AwardParty.company_id)
            .where(
                AwardParty.clause_id.in_(chunk),
                AwardParty.last_month.is_not(None),
                AwardParty.last_month < month,
            )
        ):
            said = f"{name} a quitté le chantier"
            at = next(
                (a for c, a, r in rows if c == cid and said in (r or "").replace("\u00a0", " ")),
                None,
            )
            if at is not None and last is not None:
                found[cid, name] = CompanyLeft(cid, name, last, at)
    return tuple(sorted(found.values(), key=lambda c: (c.clause_id, c.company)))
