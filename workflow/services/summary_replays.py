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

The same holds for each lot's hours target and each company's months (user trial, 6 December
2026: the replay silently differed from the email). A target imposed since (« clause hours »)
is put back to the one of then, from the first row after the moment (« heures imposées : 450 h
→ 400 h ; … »; ``Replay.targets``); a row that does not say it (written before 6 December
2026) leaves today's, named as such. A company whose departure was recorded since
(« company-left ») keeps its months of then (``Replay.departures``): no last month, or the one
the last departure row up to the moment set; its declaration of the month is expected again
when the email asked it (one of its months then, of a month the lot asked then: not past its
planned end or its end, nor spent entirely suspended, ``_lot_asked``; review 7: the replay said
« est attendue » of a month the email had not asked), missing or not due yet as the email said,
by the month's ladder (« pas encore due alors »), received when it was declared by then; and
its earlier months still owed then among the « toujours manquantes », so the declarations
expected and received and the pace (« à confirmer (N déclarations non reçues) ») are the
email's. The row keeps the company's number (``clause_history.company_id``, 0029), so a rename
since, even to a name another company had, or a merge since does not hide it; a row written
before names the company only: it is matched against every name the company had (its
corrections, the companies merged into it, ``record_history``), a name two companies had given
to neither. One thing is not kept, so it is rebuilt by the summaries' own rules: the call
planned then for a month not called by the moment (the departure parks the company's next
call), taken as the month's usual call (« appel prévu le 1er décembre 2026 »).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from workflow.adapters.batching import chunked
from workflow.adapters.orm import (
    AwardParty,
    Clause,
    ClauseHistory,
    Company,
    Declaration,
    DeclarationLadder,
)
from workflow.adapters.templates import french_month
from workflow.domain.calendar import (
    Interval,
    LadderDays,
    local_date,
    month_fully_within,
    pushed_due,
    suspended_days,
)
from workflow.domain.calls_to_come import call_to_come, usual_call_at
from workflow.domain.company_months import on_its_months
from workflow.domain.monthly_summary import (
    BuyerFigures,
    ClauseLine,
    Declarations,
    EarlierMissing,
    EarlierPending,
    Figures,
    MissingDeclaration,
    MonthlySummary,
    is_late,
    terminated_elapsed,
    terminated_paces,
)
from workflow.domain.stages import FINAL_STAGES, Stage
from workflow.domain.summary import clause_progress, combine_progress, elapsed_fraction, month_end
from workflow.services.audit.as_of import at_its_moment, corrected_or_cancelled, declaration_key
from workflow.services.audit.dates_then import (
    DatesThen,
    TerminatedSince,
    load_date_history,
    suspensions_known_at,
    with_dates_then,
)
from workflow.services.audit.receipts import DeclarationFacts, load_declarations
from workflow.services.company_departures import COMPANY_LEFT
from workflow.services.history_companies import company_aliases
from workflow.services.lot_calendars import suspensions


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
    """A lot whose hours target was imposed after the moment (« clause hours »): ``before``,
    the one of then (None: not set), which the replay counts against the hours, as the email
    did; ``after``, today's; ``told``: False when the history does not say the one of then (a
    row written before 6 December 2026): today's is counted, and the reader told."""

    clause_id: int
    before: int | None
    after: int | None
    at: datetime
    told: bool = True


@dataclass(frozen=True)
class CompanyLeft:
    """A company whose departure was recorded after the moment (« company-left »), its last
    month today (``last_month``) before the summary's: the replay counts its months of then
    (``last_then``: the last month a departure recorded by the moment set, None: none), as the
    email did."""

    clause_id: int
    company: str
    last_month: date
    at: datetime
    company_id: int = 0
    last_then: date | None = None
    #: Its declaration of the summary's month was among the email's expected: one of its months
    #: then, of a month the lot asked then (started by the month's end, not ended nor past its
    #: planned end before it, not abandoned by the moment, the month not spent entirely
    #: suspended as known then), or declared by then all the same. False: the email did not
    #: ask it (review 7: the replay said « est attendue » of a month the lot did not ask).
    expected: bool = False
    #: ... and recorded by the moment: received, as the email said (no « n'attend plus »).
    declared: bool = False
    #: ... else late at the moment: among the email's « manquantes »; False, among its « pas
    #: encore dues » (its call not sent, or its due date not passed then).
    late: bool = False
    #: The months before the summary's still owed at the moment, put back among the earlier
    #: ones (« toujours manquantes », or « attendues, pas encore dues »).
    earlier: tuple[date, ...] = ()


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
    #: The lots whose hours target changed since the moment, counted with the one of then
    #: (today's when the history does not say it: ``TargetChanged.told``).
    targets: tuple[TargetChanged, ...] = ()
    #: The companies that left since the moment, counted with their months of then.
    departures: tuple[CompanyLeft, ...] = ()


def _changed_at(facts: DeclarationFacts, moment: datetime) -> datetime:
    """When it stopped being what the summary counted: its cancellation, or the first
    recording after the moment (its row's instant when its history says none)."""
    if facts.cancelled_at is not None:
        return facts.cancelled_at
    later = [r.at for r in facts.recordings if r.at > moment]
    return min(later, default=facts.recorded_at)


def as_known_at(
    session: Session, summary: MonthlySummary, moment: datetime, call_time: time | None = None
) -> Replay:
    """``summary`` (compiled for ``moment``) with each declaration's total as recorded then,
    each lot's time elapsed from its dates of then, its hours target of then, and each
    company's months of then (``with_companies_then``; ``call_time``: the settings', for the
    call to come of a month not called then).

    Reads only the declarations recorded, corrected or cancelled after ``moment``, the lots
    whose dates changed after it and the history rows of targets and departures after it: none
    for a summary of the present, a handful for the replay of an email."""
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
    targets = targets_changed(session, lots, moment)
    departures = companies_left(session, lots, moment, summary.month, known)
    then = with_targets_then(session, dated.summary, targets, moment)
    then, departures = with_companies_then(session, then, departures, moment, call_time)
    return Replay(
        then,
        tuple(changed),
        dated.restored,
        dated.untold,
        dated.terminated_since,
        targets,
        departures,
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


def _rescoped(summary: MonthlySummary, lines: list[ClauseLine], declarations: Any = None) -> Any:
    """``summary`` with ``lines`` for its clauses, each scope's progress, clauses followed and
    terminated paces added up again from them; ``declarations`` (scope -> ``Declarations``),
    when given, replacing the scopes' own."""

    def figures(found: Figures, scope: list[ClauseLine], key: int | None) -> Figures:
        declared = found.declarations
        if declarations is not None and key in declarations:
            declared = declarations[key]
        return replace(
            found,
            progress=combine_progress(c.progress for c in scope),
            followed=sum(1 for c in scope if c.followed),
            terminated=terminated_paces(scope),
            declarations=declared,
        )

    buyers = tuple(
        BuyerFigures(
            b.buyer_id,
            b.name,
            figures(b.figures, [c for c in lines if c.buyer_id == b.buyer_id], b.buyer_id),
        )
        for b in summary.buyers
    )
    scope = summary.buyer_id  # a buyer's summary: its figures are its own scope's
    return replace(
        summary,
        overall=figures(summary.overall, lines, scope),
        buyers=buyers,
        clauses=tuple(lines),
    )


def with_targets_then(
    session: Session,
    summary: MonthlySummary,
    targets: Collection[TargetChanged],
    moment: datetime,
) -> MonthlySummary:
    """``summary`` with each lot's hours target of ``moment`` where the history says it
    (``TargetChanged.told``): its hours against the target and its pace as the email had them,
    the time elapsed unchanged (the dates of then, ``with_dates_then``)."""
    then = {t.clause_id: t.before for t in targets if t.told}
    if not then:
        return summary
    last = month_end(summary.month)
    stretches: dict[int, list[Interval]] | None = None
    lines: list[ClauseLine] = []
    for line in summary.clauses:
        if line.clause_id not in then:
            lines.append(line)
            continue
        p = line.progress
        elapsed: Decimal | None
        if p.expected is not None and p.hours_target:
            elapsed = p.expected / Decimal(p.hours_target)
        else:
            # No pace today (no target): the time elapsed from the lot's dates, as counted.
            if stretches is None:
                stretches = suspensions(session, then)
            known = suspensions_known_at(stretches.get(line.clause_id, ()), moment)
            until = moment.astimezone(summary.zone).date()
            days = suspended_days(known, summary.zone, until) if known else frozenset[date]()
            elapsed = (
                terminated_elapsed(line.start_date, line.end_date, line.terminated_on, last, days)
                if line.terminated_on is not None
                else elapsed_fraction(line.start_date, line.end_date, last, days)
            )
        progress = clause_progress(then[line.clause_id], p.hours_month, p.hours_cumulated, elapsed)
        lines.append(replace(line, progress=progress))
    rescoped: MonthlySummary = _rescoped(summary, lines)
    return rescoped


#: The departure's row, after its reason (``company_departures.history_reason``): « Gimone
#: Second Œuvre SAS a quitté le chantier : son dernier mois à déclarer est mars 2027, … ».
_LEFT_TAIL = " a quitté le chantier : son dernier mois à déclarer est "
_LEFT = "{}" + _LEFT_TAIL
_MONTH_NAMES = {french_month(date(2000, n, 1)).rsplit(" ", 1)[0]: n for n in range(1, 13)}
_MONTH_TEXT = re.compile(r"(\w+) (\d{4})")


def _said_month(text: str) -> date | None:
    found = _MONTH_TEXT.match(text)
    if found is None or found.group(1) not in _MONTH_NAMES:
        return None
    return date(int(found.group(2)), _MONTH_NAMES[found.group(1)], 1)


def _left_month(reason: str | None, names: Collection[str]) -> tuple[int, date | None] | None:
    """Whether the departure row ``reason`` names one of ``names`` (the length of the name it
    names: the longest wins, « Test » is not « Charpentes Test »), and the last month it set."""
    text = (reason or "").replace("\u00a0", " ")
    best: tuple[int, date | None] | None = None
    for name in names:
        marker = _LEFT.format(name.replace("\u00a0", " "))
        at = text.find(marker)
        # After the reason, which ends its sentence (``_as_recorded``), or at the start.
        while at >= 0 and not (at == 0 or text[max(0, at - 2) : at] in (". ", "! ", "? ")):
            at = text.find(marker, at + 1)
        if at < 0:
            continue
        if best is None or len(name) > best[0]:
            best = (len(name), _said_month(text[at + len(marker) :]))
    return best


def _row_month(reason: str | None) -> date | None:
    """The last month a departure row set, whatever the name before it: after its last « a
    quitté le chantier : son dernier mois à déclarer est » (the reason given comes first)."""
    text = (reason or "").replace("\u00a0", " ")
    at = text.rfind(_LEFT_TAIL)
    return _said_month(text[at + len(_LEFT_TAIL) :]) if at >= 0 else None


def companies_left(
    session: Session,
    lots: Collection[int],
    moment: datetime,
    month: date,
    known: Collection[DeclarationFacts] = (),
) -> tuple[CompanyLeft, ...]:
    """The companies whose departure was recorded after ``moment`` with a last month today
    before ``month``, with their months of then: the last month the departure rows up to the
    moment set (None: none), whether the month was theirs then (and declared by then), and
    their earlier months still owed then (called, not declared by then, neither released by
    the lot's end nor its closure). ``known``: the declarations corrected or cancelled since
    (``as_known_at``), declared then all the same.

    The row keeps the company's number (0029): that company, or the one it was merged into
    since. A row written before names the company only (« Gimone Second Œuvre SAS a quitté le
    chantier : son dernier mois à déclarer est … »): matched against every name it had
    (``company_names``), the longest name found winning, a name two companies had given to
    neither.

    ``CompanyLeft.expected`` says here that the month was one of the company's months then;
    ``with_companies_then`` says whether the email asked it (the lot asking it then)."""
    rows = session.execute(
        select(ClauseHistory.clause_id, ClauseHistory.at, ClauseHistory.reason)
        .where(ClauseHistory.event == COMPANY_LEFT, ClauseHistory.at > moment)
        .order_by(ClauseHistory.at, ClauseHistory.id)
    ).all()
    touched = sorted({cid for cid, _, _ in rows if cid in lots})
    if not touched:
        return ()
    parties: dict[int, list[tuple[int, str, date | None, date]]] = defaultdict(list)
    for chunk in chunked(touched):
        for cid, company_id, name, first, last in session.execute(
            select(
                AwardParty.clause_id,
                AwardParty.company_id,
                Company.name,
                AwardParty.first_month,
                AwardParty.last_month,
            )
            .join(Company, Company.id == AwardParty.company_id)
            .where(
                AwardParty.clause_id.in_(chunk),
                AwardParty.last_month.is_not(None),
                AwardParty.last_month < month,
            )
            .order_by(AwardParty.clause_id, AwardParty.company_id)
        ):
            if last is not None:
                parties[cid].append((company_id, name, first, last))
    if not parties:
        return ()
    names, owner = company_aliases(session, {p[0] for found in parties.values() for p in found})
    # Every departure row of those lots, in order: those up to the moment set the months of then.
    history: dict[int, list[tuple[datetime, str | None, int | None]]] = defaultdict(list)
    for chunk in chunked(sorted(parties)):
        for cid, at, reason, row_company in session.execute(
            select(
                ClauseHistory.clause_id,
                ClauseHistory.at,
                ClauseHistory.reason,
                ClauseHistory.company_id,
            )
            .where(ClauseHistory.clause_id.in_(chunk), ClauseHistory.event == COMPANY_LEFT)
            .order_by(ClauseHistory.at, ClauseHistory.id)
        ):
            history[cid].append((at, reason, row_company))
    left: list[tuple[int, int, str, date | None, date, datetime, date | None]] = []
    for cid, found in parties.items():
        first_after: dict[int, datetime] = {}
        then: dict[int, date | None] = {}
        departed = {company_id for company_id, _, _, _ in found}
        for at, reason, row_company in history[cid]:
            if row_company is not None:
                # The row says which company left (0029): that one, or the one it was merged
                # into since; its name then may be any company's today.
                company_id = owner.get(row_company, row_company)
                if company_id in departed:
                    if at > moment:
                        first_after.setdefault(company_id, at)
                    else:
                        then[company_id] = _row_month(reason)
                continue
            # A row written before 0029: the company it names, by every name it had.
            said = [
                (matched, company_id)
                for company_id, _, _, _ in found
                if (matched := _left_month(reason, names[company_id])) is not None
            ]
            if not said:
                continue
            longest = max(length for (length, _), _ in said)
            best = [(month_said, cid_) for (length, month_said), cid_ in said if length == longest]
            if len(best) > 1:
                # Two companies of the lot had that name (a rename to a name another one had):
                # which one left is not known; counted as today rather than guessed (review).
                continue
            ((last_said, company_id),) = best
            if at > moment:
                first_after.setdefault(company_id, at)
            else:
                then[company_id] = last_said
        for company_id, name, first, last in found:
            if company_id in first_after:
                left.append(
                    (
                        cid,
                        company_id,
                        name,
                        first,
                        last,
                        first_after[company_id],
                        then.get(company_id),
                    )
                )
    if not left:
        return ()
    declared = _declared_then(session, left, moment, month, known)
    owed = _owed_then(session, left, moment, month, declared)
    return tuple(
        sorted(
            (
                CompanyLeft(
                    cid,
                    name,
                    last,
                    at,
                    company_id,
                    last_then,
                    expected=on_its_months(month, first, last_then),
                    declared=(cid, company_id, month) in declared,
                    earlier=owed.get((cid, company_id), ()),
                )
                for cid, company_id, name, first, last, at, last_then in left
            ),
            key=lambda c: (c.clause_id, c.company),
        )
    )


def _declared_then(
    session: Session,
    left: Collection[tuple[int, int, str, date | None, date, datetime, date | None]],
    moment: datetime,
    month: date,
    known: Collection[DeclarationFacts],
) -> set[tuple[int, int, date]]:
    """(lot, company, month) of the departed companies' months up to ``month`` declared by
    ``moment``: a row recorded by then (or corrected since a version recorded by then), or a
    declaration corrected or cancelled since whose history says it was there then."""
    pairs = {(cid, company_id) for cid, company_id, *_ in left}
    found: set[tuple[int, int, date]] = {
        (f.clause_id, f.company_id, f.month)
        for f in known
        if (f.clause_id, f.company_id) in pairs and f.hours_then(moment)[0] is not None
    }
    for chunk in chunked(sorted({cid for cid, _ in pairs})):
        for cid, company_id, declared_month in session.execute(
            select(Declaration.clause_id, Declaration.company_id, Declaration.month).where(
                Declaration.clause_id.in_(chunk),
                Declaration.month <= month,
                or_(
                    Declaration.recorded_at <= moment,
                    Declaration.replaced_recorded_at <= moment,
                ),
            )
        ):
            if (cid, company_id) in pairs:
                found.add((cid, company_id, declared_month))
    return found


def _owed_then(
    session: Session,
    left: Collection[tuple[int, int, str, date | None, date, datetime, date | None]],
    moment: datetime,
    month: date,
    declared: Collection[tuple[int, int, date]],
) -> dict[tuple[int, int], tuple[date, ...]]:
    """The months before ``month`` after each departed company's last month today, among its
    months then, called by ``moment`` and not declared by then (``summaries._earlier_missing``'s
    rule, its departure aside): of a lot not closed nor abandoned then, not after its end."""
    lasts = {
        (cid, company_id): (first, last, then) for cid, company_id, _, first, last, _, then in left
    }
    lots = sorted({cid for cid, _ in lasts})
    final = [stage.value for stage in FINAL_STAGES]
    found: dict[tuple[int, int], list[date]] = defaultdict(list)
    for chunk in chunked(lots):
        closed = set(
            session.scalars(
                select(ClauseHistory.clause_id).where(
                    ClauseHistory.clause_id.in_(chunk),
                    ClauseHistory.to_stage.in_(final),
                    ClauseHistory.at < moment,
                )
            )
        )
        for cid, company_id, owed_month, end in session.execute(
            select(
                DeclarationLadder.clause_id,
                DeclarationLadder.company_id,
                DeclarationLadder.month,
                Clause.end_date,
            )
            .join(Clause, Clause.id == DeclarationLadder.clause_id)
            .where(
                DeclarationLadder.clause_id.in_(chunk),
                DeclarationLadder.month < month,
                DeclarationLadder.called_at <= moment,
                or_(
                    DeclarationLadder.declared_at.is_(None), DeclarationLadder.declared_at > moment
                ),
            )
            .order_by(DeclarationLadder.month)
        ):
            key = (cid, company_id)
            if key not in lasts or cid in closed or (cid, company_id, owed_month) in declared:
                continue
            first, last, then = lasts[key]
            if owed_month <= last or (then is not None and owed_month > then):
                continue  # owed today all the same, or released before the moment
            if first is not None and owed_month < first:
                continue  # before its first month: never asked of it (``_earlier_missing``)
            if end is not None and owed_month > end:
                continue
            found[key].append(owed_month)
    return {key: tuple(months) for key, months in found.items()}


def _stages_at(session: Session, lots: Collection[int], moment: datetime) -> dict[int, str]:
    """Each lot's stage at ``moment``: its last history row by then, else its stage (a lot
    loaded without history), as the summaries read it (``stage_now``)."""
    found: dict[int, str] = {}
    for chunk in chunked(sorted(lots)):
        for cid, stage in session.execute(
            select(Clause.id, Clause.stage).where(Clause.id.in_(chunk))
        ):
            found[cid] = stage
        latest: dict[int, str] = {}
        for cid, to_stage in session.execute(
            select(ClauseHistory.clause_id, ClauseHistory.to_stage)
            .where(ClauseHistory.clause_id.in_(chunk), ClauseHistory.at <= moment)
            .order_by(ClauseHistory.clause_id, ClauseHistory.at, ClauseHistory.id)
        ):
            latest[cid] = to_stage
        found.update(latest)
    return found


#: The stages of a lot whose companies owe their declarations (``summaries.STARTED``).
_STARTED = frozenset(
    stage.value for stage in (Stage.EXECUTION, Stage.SUSPENDED, Stage.FOLLOW_UP, Stage.CLOSED)
)


def _lot_asked(
    line: ClauseLine,
    month: date,
    stage_then: str | None,
    stretches: Collection[Interval],
    moment: datetime,
    zone: ZoneInfo,
) -> bool:
    """The lot asked its companies for ``month`` at ``moment`` (``summaries._clauses``'
    ``asked``, on the line's dates of then, ``with_dates_then``): started by the month's end,
    not ended nor past its planned end before the month began, not abandoned by the moment
    (its stage then one of the started ones), and the month not spent entirely suspended, by
    the suspensions known then."""
    started = (
        line.stage in _STARTED
        and line.start_date is not None
        and line.start_date <= month_end(month)
    )
    runs = line.end_date is None or line.end_date >= month
    if not (started and runs and stage_then in _STARTED):
        return False
    return not month_fully_within(month, suspensions_known_at(stretches, moment), zone)


def with_companies_then(
    session: Session,
    summary: MonthlySummary,
    departures: Collection[CompanyLeft],
    moment: datetime,
    call_time: time | None = None,
) -> tuple[MonthlySummary, tuple[CompanyLeft, ...]]:
    """``summary`` with the departed companies' declarations of then (``companies_left``): the
    month's expected again when the email asked it (one of the company's months then, of a month
    the lot asked then, ``_lot_asked``; or declared by then all the same), received when
    declared by then, else missing or not due yet by the month's ladder (``is_late``, as the
    summaries judge it), and the earlier months still owed then among the « toujours
    manquantes » or « attendues, pas encore dues »: the declarations expected, received and
    owed, and so the pace's « à confirmer », as the email said them. With the departures, each
    saying whether the email expected its month (``CompanyLeft.expected``) and, not received,
    whether it was late (``CompanyLeft.late``).

    A month not called by then: its call to come, as the summaries say it (« appel prévu le
    1er décembre 2026 »), from the month's usual call (the departure parked the company's next
    call, the one planned then is not kept) at ``call_time`` (the settings'; None: the time of
    the lot's other calls planned, every call being planned at it; none: « appel à venir »)."""
    zone, month = summary.zone, summary.month
    lines = {line.clause_id: line for line in summary.clauses}
    # ``companies_left`` says whether the month was one of the company's months then; whether
    # the lot asked it then is judged here, from its line.
    mine = [d for d in departures if d.clause_id in lines and (d.expected or d.earlier)]
    if not mine:
        none_asked = tuple(
            replace(d, expected=d.declared and d.clause_id in lines) for d in departures
        )
        return summary, none_asked
    lots = sorted({d.clause_id for d in mine})
    stretches = suspensions(session, lots)
    stages = _stages_at(session, lots, moment)
    ladders: dict[tuple[int, int, date], tuple[date | None, datetime | None]] = {}
    counted: set[tuple[int, int]] = set()
    next_call: dict[tuple[int, int], date | None] = {}
    for chunk in chunked(lots):
        for cid, company_id, ladder_month, due_day, call in session.execute(
            select(
                DeclarationLadder.clause_id,
                DeclarationLadder.company_id,
                DeclarationLadder.month,
                DeclarationLadder.due_on,
                DeclarationLadder.called_at,
            ).where(DeclarationLadder.clause_id.in_(chunk), DeclarationLadder.month <= month)
        ):
            ladders[cid, company_id, ladder_month] = (due_day, call)
        # Counted by the summary already (its row recorded by the moment, « declared all the
        # same »): expected and received, among the months not asked.
        counted.update(
            (cid, company_id)
            for cid, company_id in session.execute(
                select(Declaration.clause_id, Declaration.company_id).where(
                    Declaration.clause_id.in_(chunk),
                    Declaration.month == month,
                    Declaration.recorded_at <= moment,
                )
            )
        )
        for cid, company_id, next_month, next_at in session.execute(
            select(
                AwardParty.clause_id,
                AwardParty.company_id,
                AwardParty.next_call_month,
                AwardParty.next_call_at,
            ).where(AwardParty.clause_id.in_(chunk))
        ):
            next_call[cid, company_id] = next_month
            if call_time is None and next_at is not None:
                call_time = next_at.astimezone(zone).time()
    today = moment.astimezone(zone).date()

    def to_come(cid: int, company_id: int) -> datetime | None:
        """The month's call, not sent by the moment: when it leaves, seen then."""
        next_month = next_call.get((cid, company_id))
        if call_time is None or next_month is None or next_month > month:
            return None
        usual = usual_call_at(month, call_time, zone)
        return call_to_come(month, usual, moment, call_time, zone)

    def judged(
        cid: int, company_id: int, owed_month: date
    ) -> tuple[bool, date | None, bool, bool, bool]:
        """Late, its due date (pushed by the suspensions known then), called by the moment,
        suspended at it, its due date pushed by a suspension."""
        due_on, called_at = ladders.get((cid, company_id, owed_month), (None, None))
        known = suspensions_known_at(stretches.get(cid, ()), moment)
        if due_on is not None and called_at is not None and known:
            days = LadderDays(suspended_days(known, zone, today))
            due_on = pushed_due(due_on, local_date(called_at, zone), days)
        late = is_late(
            owed_month,
            moment,
            zone,
            due_on=due_on,
            called_at=called_at,
            next_call_month=next_call.get((cid, company_id)),
        )
        called = called_at is not None and called_at <= moment
        return late, due_on, called, any(i.end is None for i in known), bool(known)

    scopes = [summary.overall.declarations] + [b.figures.declarations for b in summary.buyers]
    keys: list[int | None] = [summary.buyer_id] + [b.buyer_id for b in summary.buyers]
    found: dict[int | None, Declarations] = dict(zip(keys, scopes, strict=True))
    judged_departures: dict[tuple[int, int], CompanyLeft] = {}
    for d in sorted(mine, key=lambda d: (d.clause_id, d.company_id)):
        line = lines[d.clause_id]
        own = (line.clause_id, line.buyer_id, line.buyer, d.company_id, d.company)
        lot = (line.market, line.lot, line.title)
        lot_asks = _lot_asked(
            line, month, stages.get(d.clause_id), stretches.get(d.clause_id, ()), moment, zone
        )
        # Asked of it then: one of its months then (``companies_left``), the lot asking it.
        asked = d.expected and lot_asks
        expected, unasked = 0, 0
        missing: list[MissingDeclaration] = []
        pending: list[MissingDeclaration] = []
        late = False
        if d.declared:
            # Declared by then: expected and received all the same, « declared all the same »
            # (``unasked``) when the email did not ask it.
            if (d.clause_id, d.company_id) in counted:
                unasked = -1 if asked else 0  # counted today as not asked (its month gone)
            else:
                expected, unasked = 1, 0 if asked else 1
        elif asked:
            expected = 1
            late, due_on, called, on_hold, _ = judged(d.clause_id, d.company_id, month)
            if late:
                missing.append(MissingDeclaration(*own, *lot))
            else:
                pending.append(
                    MissingDeclaration(
                        *own,
                        *lot,
                        due_on=due_on if called else None,
                        call_at=None if called or on_hold else to_come(d.clause_id, d.company_id),
                        suspended=on_hold,
                    )
                )
        late_months: list[date] = []
        waiting: list[EarlierPending] = []
        for owed_month in d.earlier:
            if month_fully_within(owed_month, stretches.get(d.clause_id, []), zone):
                continue
            late, due_on, _, on_hold, pushed = judged(d.clause_id, d.company_id, owed_month)
            if late:
                late_months.append(owed_month)
            else:
                waiting.append(
                    EarlierPending(
                        *own, *lot, owed_month, None if on_hold else due_on, pushed=pushed
                    )
                )
        for key in {summary.buyer_id, line.buyer_id}:
            if key not in found:
                continue
            found[key] = _added(
                found[key], expected, unasked, missing, pending, late_months, waiting, own, lot
            )
        judged_departures[d.clause_id, d.company_id] = replace(
            d, expected=d.declared or asked, late=late
        )
    rescoped: MonthlySummary = _rescoped(summary, list(summary.clauses), found)
    return rescoped, tuple(
        judged_departures.get(
            (d.clause_id, d.company_id),
            replace(d, expected=d.declared and d.clause_id in lines, late=False),
        )
        for d in departures
    )


def _added(
    found: Declarations,
    expected: int,
    unasked: int,
    missing: list[MissingDeclaration],
    pending: list[MissingDeclaration],
    late: list[date],
    waiting: list[EarlierPending],
    own: tuple[int, int, str, int, str],
    lot: tuple[str, str, str],
) -> Declarations:
    """A scope's declarations with a departed company's of then, each list in the summaries'
    order (buyer, company, lot; and month)."""

    def order(m: MissingDeclaration) -> tuple[str, str, int]:
        return (m.buyer, m.company, m.clause_id)

    earlier = list(found.earlier)
    if late:
        at = next(
            (i for i, e in enumerate(earlier) if (e.clause_id, e.company_id) == (own[0], own[3])),
            None,
        )
        if at is None:
            earlier.append(EarlierMissing(*own, *lot, tuple(late)))
        else:
            earlier[at] = replace(earlier[at], months=tuple(sorted({*earlier[at].months, *late})))
        earlier.sort(key=lambda e: (e.buyer, e.company, e.clause_id, e.company_id))
    return replace(
        found,
        expected=found.expected + expected,
        missing=tuple(sorted((*found.missing, *missing), key=order)),
        pending=tuple(sorted((*found.pending, *pending), key=order)),
        earlier=tuple(earlier),
        earlier_pending=tuple(
            sorted(
                (*found.earlier_pending, *waiting),
                key=lambda e: (e.buyer, e.company, e.clause_id, e.company_id, e.month),
            )
        ),
        unasked=max(0, found.unasked + unasked),
    )
