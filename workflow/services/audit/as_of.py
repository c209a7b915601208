"""A summary recompiled for its moment, with the hours each declaration had at that moment.

``compile_summary(now=…)`` counts a declaration once its row's ``recorded_at`` is at or before
``now``. A declaration corrected since carries its correction's instant, and a cancelled one is
gone: the recompilation leaves out, whole, a month that was known at the summary's moment. So
an import with ``--replace`` that moved hours from October to November gave, for the November
summary, a recompiled « 0 h » for both months, a figure that was never true (and a remark
quoting it), and it hid any real error of the email in those cells behind the correction.

The history keeps what each recording said (``DeclarationFacts.hours_then``): its total, not its
lines. So the figures made of totals are put back as they stood at the summary's moment: each
clause's hours of the month and cumulated (its progress, pace and the order of the clause lines
follow), each scope's progress and clauses followed, the hours by month, and the month's
declarations received then are no longer listed as missing or not due, nor an earlier month's
among those « toujours manquantes ». Those cells are then
compared with what was true at the moment, and a difference in them is a problem.

The figures made of lines (participants, hours by mode, contracts, the outcomes that count while
their participant has hours) cannot be put back: the lines a declaration had before a
correction or a cancellation are not kept. There the difference is still explained by the
change, without quoting a recompiled figure that nobody ever had
(``summary_emails.LINE_TABLES``).

A declaration whose recording at the moment the history does not give (no history row), or whose
clause the recompilation does not count at all, is left as before: left out, explained by its
change.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal

from workflow.domain.calendar import add_months, month_start
from workflow.domain.monthly_summary import (
    BuyerFigures,
    ClauseLine,
    Declarations,
    Figures,
    MonthHours,
    MonthlySummary,
)
from workflow.domain.summary import Progress, combine_progress
from workflow.services.audit.receipts import DeclarationFacts

#: A declaration as the audit names it: its number, and the history row that cancelled it.
DeclarationKey = tuple[int, int | None]


def declaration_key(facts: DeclarationFacts) -> DeclarationKey:
    return facts.id, facts.cancelled_by


def corrected_or_cancelled(declarations: list[DeclarationFacts]) -> list[DeclarationFacts]:
    """The only declarations a recompilation can leave out while they were known: those with a
    recording before their row's instant, or cancelled. Read once for every email (a handful
    among a territory's declarations)."""
    return [
        facts
        for facts in declarations
        if facts.cancelled_at is not None or any(r.at < facts.recorded_at for r in facts.recordings)
    ]


@dataclass(frozen=True)
class _Missed:
    """A declaration known at the moment that the recompilation leaves out, with its hours."""

    key: DeclarationKey
    clause_id: int
    company_id: int
    buyer_id: int
    month: date
    hours: Decimal


def _missed(declarations: list[DeclarationFacts], moment: datetime, month: date) -> list[_Missed]:
    """Declarations of a month up to ``month``, recorded by ``moment``, that the rows read as of
    ``moment`` no longer give: corrected since (their row carries the correction's instant) or
    cancelled since (their row is gone)."""
    found = []
    for facts in declarations:
        if facts.month > month:
            continue
        if facts.cancelled_at is None and facts.recorded_at <= moment:
            continue  # the row itself, as it was then: the recompilation counts it
        hours, _ = facts.hours_then(moment)
        if hours is None:
            continue
        found.append(
            _Missed(
                declaration_key(facts),
                facts.clause_id,
                facts.company_id,
                facts.buyer_id,
                facts.month,
                hours,
            )
        )
    return found


def _progress(progress: Progress, month_hours: Decimal, cumulated: Decimal) -> Progress:
    """One clause's progress with more hours (``clause_progress``: a paced clause's done hours
    are its cumulated ones)."""
    paced = progress.expected is not None and progress.paced_target
    return replace(
        progress,
        hours_month=progress.hours_month + month_hours,
        hours_cumulated=progress.hours_cumulated + cumulated,
        paced_done=progress.paced_done + cumulated if paced else progress.paced_done,
    )


def _declarations(
    found: Declarations,
    received: set[tuple[int, int]],
    received_earlier: set[tuple[int, int, date]],
) -> Declarations:
    """The month's declarations of a scope, those received then no longer missing; and the
    earlier months received then (cancelled since) no longer « toujours manquantes » (a
    December declaration cancelled in April read as missing in January's summary, which had
    rightly not listed it: the audit called the email wrong)."""
    earlier = []
    for late in found.earlier:
        months = tuple(
            m for m in late.months if (late.clause_id, late.company_id, m) not in received_earlier
        )
        if months:
            earlier.append(replace(late, months=months))
    return replace(
        found,
        missing=tuple(m for m in found.missing if (m.clause_id, m.company_id) not in received),
        pending=tuple(m for m in found.pending if (m.clause_id, m.company_id) not in received),
        earlier=tuple(earlier),
    )


def _hours_by_month(
    series: tuple[MonthHours, ...], added: dict[date, Decimal], last: date
) -> tuple[MonthHours, ...]:
    if not added:
        return series
    by_month = {m.month: m.hours for m in series}
    for month, hours in added.items():
        by_month[month] = by_month.get(month, Decimal(0)) + hours
    months = []
    current = month_start(min(by_month))
    while current <= last:
        months.append(MonthHours(current, by_month.get(current, Decimal(0))))
        current = add_months(current, 1)
    return tuple(months)


@dataclass(frozen=True)
class AsOf:
    """The summary with the totals of its moment, and the declarations put back in it."""

    summary: MonthlySummary
    #: The declarations whose hours are the ones of the moment (``declaration_key``).
    restored: frozenset[DeclarationKey]


def at_its_moment(
    summary: MonthlySummary, declarations: list[DeclarationFacts], moment: datetime
) -> AsOf:
    """``summary`` (compiled for ``moment``) with each declaration's total as recorded then."""
    month = summary.month
    lines = {line.clause_id: line for line in summary.clauses}
    # Only the declarations of this summary's clauses (a buyer's: its own).
    missed = [m for m in _missed(declarations, moment, month) if m.clause_id in lines]
    if not missed:
        return AsOf(summary, frozenset())
    month_hours: dict[int, Decimal] = defaultdict(Decimal)
    cumulated: dict[int, Decimal] = defaultdict(Decimal)
    by_month: dict[int | None, dict[date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    received: set[tuple[int, int]] = set()
    received_earlier: set[tuple[int, int, date]] = set()
    for m in missed:
        cumulated[m.clause_id] += m.hours
        by_month[None][m.month] += m.hours
        by_month[m.buyer_id][m.month] += m.hours
        if m.month == month:
            month_hours[m.clause_id] += m.hours
            received.add((m.clause_id, m.company_id))
        else:
            received_earlier.add((m.clause_id, m.company_id, m.month))
    clauses: list[ClauseLine] = []
    for line in summary.clauses:
        if line.clause_id not in cumulated:
            clauses.append(line)
            continue
        progress = _progress(line.progress, month_hours[line.clause_id], cumulated[line.clause_id])
        clauses.append(
            replace(line, progress=progress, followed=line.followed or progress.hours_month > 0)
        )

    def figures(found: Figures, scope: list[ClauseLine]) -> Figures:
        return replace(
            found,
            progress=combine_progress(c.progress for c in scope),
            followed=sum(1 for c in scope if c.followed),
            declarations=_declarations(found.declarations, received, received_earlier),
        )

    buyers = tuple(
        BuyerFigures(
            b.buyer_id,
            b.name,
            figures(b.figures, [c for c in clauses if c.buyer_id == b.buyer_id]),
        )
        for b in summary.buyers
    )
    scope = None if summary.buyer_id is None else summary.buyer_id
    restored = replace(
        summary,
        overall=figures(summary.overall, clauses),
        buyers=buyers,
        clauses=tuple(clauses),
        hours_by_month=_hours_by_month(summary.hours_by_month, by_month[scope], month),
    )
    return AsOf(restored, frozenset(m.key for m in missed))
