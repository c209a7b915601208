"""The monthly summary, as a tree of frozen dataclasses: what it says about each scope (all
clauses, or one buyer's), clause by clause and month by month.

``services.summaries`` compiles it from the database; ``adapters.reports`` writes it as text,
csv, xlsx or html, and the email templates read it. Nothing here reads a database.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from workflow.domain.calendar import add_months, add_working_days, at_local
from workflow.domain.outcomes import OutcomeType, group_of
from workflow.domain.stages import LABELS as STAGE_LABELS
from workflow.domain.summary import Progress, combine_progress, elapsed_fraction, unpaced
from workflow.domain.vocabulary import OUTCOME_GROUP_LABELS, UNKNOWN, category_label

#: Months shown in the chart of hours per month (the table has them all).
CHART_MONTHS = 12


# --- The summary, as a tree of frozen dataclasses -------------------------------------------------


@dataclass(frozen=True)
class Count:
    """One line of a breakdown: a category with its figure in the month and cumulated."""

    code: str
    label: str
    month: Decimal
    cumulated: Decimal


@dataclass(frozen=True)
class OutcomeCount:
    """Outcomes of one type, with the reporting group it folds into."""

    code: str
    label: str
    group: str
    group_label: str
    month: int
    cumulated: int


@dataclass(frozen=True)
class ParticipantCount:
    code: str
    label: str
    new: int
    active: int
    cumulated: int


@dataclass(frozen=True)
class StageCount:
    code: str
    label: str
    clauses: int


@dataclass(frozen=True, slots=True)
class CompanyLot:
    """A company on a lot, as the summary's lists name it (« Marché lot 2 – Titre »)."""

    clause_id: int
    buyer_id: int
    buyer: str
    company_id: int
    company: str
    market: str
    lot: str
    title: str

    @property
    def lot_label(self) -> str:
        lot = f" lot {self.lot}" if self.lot else ""
        return f"{self.market}{lot} – {self.title}"


@dataclass(frozen=True, slots=True)
class MissingDeclaration(CompanyLot):
    """A company's declaration of the month not received (a company, never a participant).

    Late ones (``Declarations.missing``) carry no dates. One not due yet
    (``Declarations.pending``) says when it is due, as the company's call told it (``due_on``),
    or, its call still to come, when that call leaves (``call_at``: as the next pass after the
    summary's moment sends it, ``calls_to_come.call_to_come``, never a day already past then;
    None when not known).
    """

    due_on: date | None = None
    call_at: datetime | None = None
    #: Its lot suspended at the summary's moment: its call, or its due date, waits for the
    #: resumption.
    suspended: bool = False


@dataclass(frozen=True, slots=True)
class EarlierMissing(CompanyLot):
    """A company x lot's declarations of months before the summary's still missing at its
    moment (a late start's skipped months, a month never declared): each month late by the
    rule of ``is_late``, not received, not released (the lot closed or abandoned then, or the
    month after its end). A company, never a participant."""

    months: tuple[date, ...]  # in order


@dataclass(frozen=True, slots=True)
class EarlierPending(CompanyLot):
    """A company x lot's declaration of a month before the summary's still expected at its
    moment and not late yet: its due date pushed past the summary's moment by a suspension (a
    resumption on 20 May moved March's due date to 25 May), or its call still to come (a lot
    recorded as started after its start date, its catch-up call leaving at the next pass). Said among the earlier months
    (« attendues, pas encore dues »), never counted among the missing: the month's summary had
    shown it not due (« lot suspendu, échéance reportée à la reprise »), the next one must not
    lose it. ``due_on`` None: the lot still suspended at the summary's moment, its due date
    waiting for the resumption."""

    month: date
    due_on: date | None
    #: Its lot was suspended after the call: its due date was pushed (« échéance reportée »).
    pushed: bool = False
    #: False: its call had not left at the summary's moment (a late start's earlier months, a
    #: ladder opened and waiting for its slot, a lot's months called at its resumption): owed
    #: all the same, as ``declaration list`` says « appel à venir », said with ``call_at``
    #: (``summary_rules.EARLIER_CALLS_TO_COME``; before, such a month was in no figure).
    called: bool = True
    #: Its call to come (``called`` False): when the next pass after the summary's moment sends
    #: it (``calls_to_come.call_to_come``), or when it left, read again later; None when its
    #: lot is suspended then (the call waits for the resumption) or the day is not known.
    call_at: datetime | None = None
    #: Its lot suspended at the summary's moment: its call waits for the resumption.
    suspended: bool = False


@dataclass(frozen=True)
class Declarations:
    """The month's declarations in one scope: how many were expected, which are missing (late:
    past the due date the company's call gave it, ``is_late``), which are not due yet; and the
    declarations of earlier months still missing at the summary's moment (``earlier``), by
    company x lot, apart from the month's figures (« X reçues sur Y attendues » is the month's
    alone)."""

    expected: int
    missing: tuple[MissingDeclaration, ...]
    pending: tuple[MissingDeclaration, ...] = ()
    earlier: tuple[EarlierMissing, ...] = ()
    #: The declarations of earlier months still expected and not due yet (``EarlierPending``),
    #: in the order of ``earlier``: not in ``earlier_count``.
    earlier_pending: tuple[EarlierPending, ...] = ()
    #: Among ``expected`` (and received): the month's declarations recorded for a month not
    #: asked of their company (before its first month on the lot, after its last, spent entirely
    #: suspended), counted since 6 December 2026 (``company_months``): the audit takes them out
    #: again to read an email written before.
    unasked: int = 0

    @property
    def earlier_count(self) -> int:
        """How many declarations of earlier months are still missing (months, not lots)."""
        return sum(len(e.months) for e in self.earlier)

    @property
    def received(self) -> int:
        return self.expected - len(self.missing) - len(self.pending)

    @property
    def none_due(self) -> bool:
        """Declarations were expected and none of them was due yet (every one « pas encore
        due »: its call to come, or its due date ahead): nothing of the month could be in."""
        return self.expected > 0 and len(self.pending) == self.expected


def is_late(
    month: date,
    as_of: datetime | None,
    zone: ZoneInfo,
    *,
    due_on: date | None,
    called_at: datetime | None,
    next_call_month: date | None,
) -> bool:
    """Whether a declaration of ``month`` not received at ``as_of`` is late, as the company was
    told: only once its call left (``called_at``, its month's ladder) and the due date that
    call gave (``due_on``, the ladder's, as the digest and the receipts read it) is past, the
    day after it in ``zone``. A late start's catch-up call gives the past months a due date days
    ahead: until then they are not due, whatever the contract's calendar said.

    Without a ladder for the month: a company whose next call is for this month or an earlier
    one (``next_call_month``) still has it to come, so nothing is late; one never called by the
    service (lots loaded by hand, with no call planned) is taken at the contract's calendar, the
    summary leaving after its due date: late. Without ``as_of`` (no moment), missing is late.
    """
    if as_of is None:
        return True
    if due_on is not None:
        return (
            called_at is not None and called_at <= as_of and due_on < as_of.astimezone(zone).date()
        )
    return next_call_month is None or next_call_month > month


@dataclass(frozen=True)
class Figures:
    """Everything the summary says about one scope (all clauses, or one buyer's).

    No pace is judged in a scope where none of the month's expected declarations was due yet
    (``Declarations.none_due``: a late start's catch-up call to come, or its due date ahead):
    its hours of the month cannot be in, and « en retard » would tell a buyer its company is
    behind before anyone asked it anything. ``progress`` is then kept without its pace
    (``unpaced``), as for a scope without dated clauses: no « Rythme » line, no verdict on the
    buyer's line. Applied whenever the figures are made (``dataclasses.replace`` included), so
    that figures whose declarations change (the audit putting back those received at the
    summary's moment) say it by the same rule.
    """

    progress: Progress
    followed: int  # clauses followed in the month, among ``progress.clauses``
    declarations: Declarations
    participants: ParticipantCount
    by_criterion: tuple[ParticipantCount, ...]
    by_sex: tuple[ParticipantCount, ...]
    by_age_band: tuple[ParticipantCount, ...]
    hours_by_mode: tuple[Count, ...]
    contracts_by_type: tuple[Count, ...]
    outcomes_by_type: tuple[OutcomeCount, ...]
    outcomes_by_group: tuple[Count, ...]
    clauses_by_stage: tuple[StageCount, ...]

    #: The termination days (« marché résilié ») of the scope's lots whose pace is judged, when
    #: every one of them was terminated by the end of the month (``terminated_paces``): their
    #: hours can no longer catch up with the objective, so no verdict is judged against it, the
    #: termination said in its place (``adapters.reports.pace_phrase``). Empty otherwise.
    terminated: tuple[date, ...] = ()

    def __post_init__(self) -> None:
        if self.declarations.none_due and self.progress.expected is not None:
            object.__setattr__(self, "progress", unpaced(self.progress))


@dataclass(frozen=True)
class BuyerFigures:
    buyer_id: int
    name: str
    figures: Figures


@dataclass(frozen=True, slots=True)
class EndedSince:
    """A lot whose history said it running at the end of the month (``stage``: execution or
    suspended), its end recorded since, by the summary's moment, on ``end_date`` before the
    month's last day: the summary counts it in the stage after execution (« suivi et bilan »),
    as « Avancement par clause » reads it (``summary_rules.STAGE_BY_END``); the emails written
    before counted it in ``stage``."""

    clause_id: int
    buyer_id: int
    stage: str
    end_date: date


@dataclass(frozen=True, slots=True)
class ClauseLine:
    """Progress of one counted clause (no participant in it: buyers may read it). With slots:
    a summary of 10^5 lots holds as many."""

    clause_id: int
    buyer_id: int
    buyer: str
    market: str
    lot: str
    title: str
    stage: str
    start_date: date | None
    end_date: date | None
    progress: Progress
    #: Its work period touches the month, or it has hours in it, or its planned end passed
    #: without its end recorded (``past_planned_end``); else: achieved before it.
    followed: bool = True
    #: In execution or suspended at the end of the month, its planned end (``end_date``) before
    #: the month began and no end recorded: not achieved, so followed and listed, its stage
    #: saying so (its companies are not asked for the month: their calls wait past the end).
    past_planned_end: bool = False
    #: The day its contract was terminated (« marché résilié »), from the month of the
    #: termination on (None before it, and for a lot not terminated). Its time elapsed is
    #: counted against its planned end up to that day (``terminated_elapsed``): the termination
    #: stops the works, it does not make the planned ones elapse sooner.
    terminated_on: date | None = None

    @property
    def stage_label(self) -> str:
        """The stage at the end of the month; for a lot past its planned end, that the planned
        end passed (« mise en œuvre – fin prévue le 31/03/2027 dépassée »): the stage alone would
        hide it, « achevée » would be false; for a terminated lot, that it was (« suivi et
        bilan – marché résilié le 15/11/2026 »). No parentheses: the email writes the label in
        parentheses after the lot."""
        label = category_label(STAGE_LABELS, self.stage)
        if self.terminated_on is not None:
            return f"{label} – marché résilié le {self.terminated_on:%d/%m/%Y}"
        if self.past_planned_end and self.end_date is not None:
            return f"{label} – fin prévue le {self.end_date:%d/%m/%Y} dépassée"
        return label


def terminated_paces(lines: Iterable[ClauseLine]) -> tuple[date, ...]:
    """``Figures.terminated`` of a scope made of ``lines``: the termination days of its lots
    whose pace is judged (a target and dates), in order, when all of them were terminated by
    the end of the month; empty when one of them was not, or none has a pace."""
    found = []
    for line in lines:
        if line.progress.expected is None:
            continue
        if line.terminated_on is None:
            return ()
        found.append(line.terminated_on)
    return tuple(sorted(found))


def terminated_elapsed(
    start: date | None,
    planned_end: date | None,
    terminated_on: date,
    on: date,
    suspended: AbstractSet[date] = frozenset(),
) -> Decimal | None:
    """The time elapsed at the end of ``on`` of a lot terminated on ``terminated_on``: the share
    of its planned works (start to planned end, ``elapsed_fraction``) passed by then, stopped on
    the termination day. The months before the termination read the same figure as before it
    was recorded; those after keep the share the termination left (the even pace the target
    asked by that day), never 100 %: the termination ended the works early, the companies are
    not behind for the months it took away."""
    return elapsed_fraction(start, planned_end, min(on, terminated_on), suspended)


@dataclass(frozen=True)
class MonthHours:
    month: date
    hours: Decimal


@dataclass(frozen=True, slots=True)
class DeclarationChange:
    """A declaration its recipient's previous summary counted (a month up to that summary's,
    recorded by its moment), whose total changed since that moment and by the summary's: a
    correction, or a cancellation (``after`` None: not declared again by then). The cumulated
    hours of the summary read the new total; the previous one read ``before``: said, so that
    the buyer does not find its hours gone down unexplained (user trial: 370,17 h, then
    334,17 h)."""

    clause_id: int
    buyer_id: int
    buyer: str
    company: str
    month: date
    before: Decimal
    after: Decimal | None
    #: The last change between the two moments (a correction's recording, or the cancellation).
    changed_at: datetime
    #: Cancelled in between, then declared again (``after`` set): not a mere correction.
    cancelled: bool = False
    #: « 2026-014 lot 05 – Peinture intérieure »: how the summary's tables name the lot (a
    #: buyer knows its markets, not the service's clause numbers); "" when unknown.
    lot: str = ""


def summary_late(planned: datetime, built: datetime, zone: ZoneInfo) -> bool:
    """Whether a summary built at ``built`` is late for its ``planned`` moment: more than one
    working day after it (the next working day at the same local time). A pass a few hours
    late is no news to a reader; a summary of the first working day read on the fourth is."""
    local = planned.astimezone(zone)
    limit = at_local(add_working_days(local.date(), 1), local.time(), zone)
    return built > limit


@dataclass(frozen=True)
class MonthlySummary:
    month: date
    buyer_id: int | None  # set when the summary is one buyer's
    buyer_name: str | None
    compiled_at: datetime | None
    overall: Figures
    buyers: tuple[BuyerFigures, ...]
    clauses: tuple[ClauseLine, ...]  # every counted clause; ``followed`` tells them apart
    hours_by_month: tuple[MonthHours, ...]  # from the scope's first declared month to ``month``
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    #: Set on the emails only (``services.summaries``; the figures never read them): the
    #: declarations counted by the recipient's previous summary and changed since, by
    #: ``compiled_at``, in order of month, company and clause.
    changes: tuple[DeclarationChange, ...] = ()
    #: The moment this summary was planned for, when it is built late (``summary_late``)
    #: because the service was not running then: the email says so, and that its figures are
    #: those of ``compiled_at``. None when on time.
    delayed_from: datetime | None = None
    #: False: the rule of the emails written before 6 December 2026, a lot terminated before
    #: the month counted among the « clauses achevées avant » it (``audit verify`` compares
    #: those emails with what they printed then, as for ``as_ended_at_termination``).
    terminated_listed: bool = True
    #: The lots of the scope counted « suivi et bilan » at the end of the month by their end
    #: recorded since, though their history then said them running (``EndedSince``).
    ended_since: tuple[EndedSince, ...] = ()

    @property
    def for_buyer(self) -> bool:
        return self.buyer_id is not None

    @property
    def followed_clauses(self) -> tuple[ClauseLine, ...]:
        """The clauses listed one by one: those followed in the month, then those whose
        contract was terminated before it (``terminated_clauses``), their stage saying « marché
        résilié le 15/11/2026 »."""
        followed = tuple(c for c in self.clauses if c.followed)
        return (*followed, *self.terminated_clauses) if self.terminated_listed else followed

    @property
    def terminated_clauses(self) -> tuple[ClauseLine, ...]:
        """The counted clauses whose contract was terminated before the month (« marché
        résilié »): not followed in it, yet never « achevées » (user trial, 5 December 2026: a
        lot terminated on 15 November was counted among the clauses achieved before December
        while the pace line said « marché résilié »)."""
        return tuple(c for c in self.clauses if not c.followed and c.terminated_on is not None)

    @property
    def earlier_clauses(self) -> Progress:
        """The counted clauses achieved before the month, added up (never one past its planned
        end without its end recorded: that one is followed; nor one terminated: that one is
        listed, ``terminated_clauses``)."""
        listed = self.terminated_listed
        return combine_progress(
            c.progress
            for c in self.clauses
            if not c.followed and not (listed and c.terminated_on is not None)
        )

    @property
    def chart_months(self) -> tuple[MonthHours, ...]:
        """The last ``CHART_MONTHS`` months up to the summary's, zeros included."""
        found = {m.month: m.hours for m in self.hours_by_month}
        first = add_months(self.month, 1 - CHART_MONTHS)
        return tuple(
            MonthHours(add_months(first, i), found.get(add_months(first, i), Decimal(0)))
            for i in range(CHART_MONTHS)
        )


# --- Folding aggregated rows into tables ----------------------------------------------------


def outcome_type_label(code: str) -> str:
    """A type's French label; a code this version does not know is shown as it is."""
    try:
        return OutcomeType(code).label
    except (ValueError, KeyError):
        return code


def category_counts(
    found: Mapping[str | None, tuple[Decimal, Decimal]], labels: Mapping[Any, str]
) -> tuple[Count, ...]:
    """Every category of the closed list (zeros included, for stable reports), then any other."""
    rows = [
        Count(str(code), text, *found.get(str(code), (Decimal(0), Decimal(0))))
        for code, text in labels.items()
    ]
    known = {str(code) for code in labels}
    for code, (month, cumulated) in sorted(found.items(), key=lambda i: str(i[0])):
        if code not in known:
            rows.append(Count(code or UNKNOWN, category_label(labels, code), month, cumulated))
    return tuple(rows)


def outcome_tables(
    found: Mapping[str, tuple[int, int]], groups: Mapping[str, str] | None
) -> tuple[tuple[OutcomeCount, ...], tuple[Count, ...]]:
    """Outcomes by type (every known type, then any other code) and folded into groups."""
    codes = [t.value for t in OutcomeType]
    codes += sorted(code for code in found if code not in codes)
    by_type = []
    by_group: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for code in codes:
        month, cumulated = found.get(code, (0, 0))
        group = group_of(code, groups).value
        by_type.append(
            OutcomeCount(
                code,
                outcome_type_label(code),
                group,
                category_label(OUTCOME_GROUP_LABELS, group),
                month,
                cumulated,
            )
        )
        by_group[group][0] += month
        by_group[group][1] += cumulated
    grouped = {g: (Decimal(v[0]), Decimal(v[1])) for g, v in by_group.items()}
    return tuple(by_type), category_counts(grouped, OUTCOME_GROUP_LABELS)  # type: ignore[arg-type]
