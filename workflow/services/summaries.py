"""The monthly summary ("synthèse mensuelle"): figures compiled in SQL, emails queued once a month.

Every figure is an SQL aggregate (``GROUP BY``, ``SUM``, ``COUNT``), the same on SQLite and
PostgreSQL; Python only folds the aggregated rows into tables. All the summaries of a month (the
facilitator's and every buyer's) are compiled together (``compile_month``) from a fixed number of
queries over the whole territory, grouped by buyer (and by clause for the clause lines), whatever
the number of buyers: one over the clauses with their stage at the end of the month and their
hours, one over the parties owing the month's declaration, one over the declaration lines (every
breakdown of participants, modes and contracts, and the outcomes that count), hours by month.
One buyer's summary (``compile_summary(buyer_id=...)``, the CLI's ``--buyer``) is the same
queries restricted to its clauses. A summary of month M is compiled
*as known at an instant* ``now`` (the moment the email is written, or the moment the CLI runs):
a declaration counts once it was recorded at or before ``now`` (``Declaration.recorded_at``; a
declaration corrected later carries the correction's instant). So the email and
``clauses summary --month M`` run at the same moment show the same figures, and a summary
compiled later shows what arrived since. Without ``now``, every recorded declaration counts.

What each figure covers (a *scope* is the whole territory, or one buyer's clauses; "up to M"
means every month from the first one to M included):

- **Heures du mois / heures cumulées**: ``Declaration.total_hours`` of M / of the months up to M,
  over *every* clause of the scope whatever its stage now or then (execution, follow-up,
  closed...). The cumulated figure therefore never loses the past, and equals the sum of the
  rows of the "heures par mois" table, which runs from the scope's first declared month to M.
- **Which clauses a summary of M covers** (one rule for every figure: counted clauses, target,
  pace, expected and missing declarations, stages). The service asks a lot's companies for every
  month from its start date, whenever the lot was recorded or started (the ladders do); the
  summary follows the same months. So a clause *started by the end of M* counts in M: its start
  date is on or before M's last day and its stage at the end of M is started (execution,
  suspended, follow-up or closed), even if it was recorded or started later. Its stage at the
  end of M (``_stage_rule``): the one in its history then if the history says it was started
  then; else, if it is started by ``now``, the one its dates imply (execution from the start
  date, follow-up after the end date); else its history then (identification, drafting,
  award), or its current stage for a clause recorded without history. A clause recorded after
  ``now`` is in nothing (as known at ``now``). Among the counted clauses, those not ended before
  M began (end date, actual else planned, on or after M's first day; or hours in M) are
  *followed in M* and listed one by one. So is a lot *past its planned end*: in execution or
  suspended at the end of M, its planned end before M began and no end recorded
  (``Clause.end_date`` NULL). Nobody said its work ended: it is not achieved, its line says
  where it stands (« mise en œuvre – fin prévue le 31/03/2027 dépassée »), its hours, target
  and pace kept. Its companies are not asked for M, though (after the planned end the service
  calls them no more, their ladders parked past the lot's end, ``reminders.rearm_lot``, until
  the facilitator records the real end or moves the planned end): it adds no expected
  declaration, but for one of M the facilitator records on it (below). The others ("achevées
  avant le mois": their end, recorded, else planned for a lot finished without one, before M
  began) are added up on one line, their hours and target
  kept; a lot whose end is recorded later joins them in the summaries compiled after that.
  Any clause with hours declared up to M is counted too. The target is
  ``COALESCE(override, computed)``.
- **% de l'objectif**: hours cumulated over the target, both over the counted clauses.
- **Rythme**: over the counted clauses that have a target and both dates, the share of their
  target done by the end of M against the share of their time elapsed at the end of M
  (target-weighted), never against today (see ``workflow.domain.summary.Progress``). The time
  is counted in the days a lot could be worked: the days it spent suspended (as known at
  ``now``, one still running counted up to that day) are out of the time elapsed and of its
  period (``elapsed_fraction``), as the digest counts them. No pace is judged in a scope none
  of whose expected declarations of M was due yet, every one « pas encore due » (a buyer whose
  only lot started late, its catch-up call to come): its hours of M cannot be in
  (``monthly_summary.Figures``). A lot terminated (« marché résilié », its end the termination
  day, its target unchanged) has its time counted against its *planned* end, stopped on the
  termination day (``monthly_summary.terminated_elapsed``): the months before the termination
  read what they read before it was recorded (the summaries sent then can be made again), and
  from the month of the termination on its line says « marché résilié le 15/11/2026 » and a
  scope whose paced lots were all terminated says « marché résilié le 15 novembre 2026 » in
  place of the verdict (``Figures.terminated``): nobody is « en retard » for the months the
  termination took away. Terminated on a day of M or before, it was not in execution at the end
  of M, even when the termination was recorded after M (its history then said execution): its
  line and the stage table say « suivi et bilan » (``_elapsed_workable``).
- **Déclarations attendues / manquantes / pas encore dues** for M: one per company bound to a
  lot (holder, co-contractor, subcontractor) of a clause followed in M by the rule above (a
  lot past its planned end excepted: nobody asks its companies for M) and not abandoned by
  ``now``, M not spent entirely suspended, M among the company's months on the lot (from the
  one it joined to its last, ``domain.company_months``). A declaration of M recorded by ``now``
  for a month not asked (before the company's first, after its last, spent entirely suspended,
  after the planned end of a lot past it: the facilitator recorded it) is expected and received
  all the same, as ``declaration list`` counts it (``Declarations.unasked``: before 6 December
  2026 only its hours were counted).
  Not received: no declaration of M
  recorded by ``now``. Among those, *missing* (late) only once the company had its call for M
  by ``now`` and the due date that call gave is past (``monthly_summary.is_late``: the
  ladder's ``due_on``, pushed by suspended working days as the digest counts them, the date
  the receipts and the digest read); the others are *not due yet*, named with that due date,
  or with their call to come (a late start's catch-up call). Companies are named (buyers may
  read them), participants never. Earlier months (``_earlier_missing``): late ones are
  « toujours manquantes »; one still owed whose due date a suspension pushed past the
  summary's moment is said apart, « attendues, pas encore dues » with that due date
  (``Declarations.earlier_pending``), never counted missing nor dropped.
- **Participants**: active = hours worked in M (a declaration line of more than 0 h: a line at
  0 h is no activity, ``workflow.domain.participants.worked``, the annual report's rule); new =
  their first month with hours in the scope is M; cumulated = hours in a month up to M.
  Counted once per scope, by criterion, sex and age band. So a year's participants in the
  annual report are the people active in at least one of its months' summaries.
- **Hours by delivery mode**: declaration lines, in M and up to M.
- **Contracts by type**: distinct participant x contract type with hours, in M and up to M.
- **Outcomes**: each participant x clause once, by its latest ``Outcome`` dated up to M's end
  (``outcome_counts.latest_up_to``: a CDI in September supersedes a short training in March;
  the summary of April still counts the training), in the month when that outcome is dated in
  M, grouped by ``Outcome.type`` in SQL and folded into reporting groups at reading time by
  ``group_of`` (the ``outcome_groups`` setting over the default mapping; the stored
  ``Outcome.group`` is not read), each while it counts (``services.outcomes.counted``: its
  participant has hours worked on its clause in the declarations known at the time; a
  cancellation of their only month there leaves it out until the month is declared again).
  Outcomes tied to no clause count only in the overall scope. Outcomes have no recording
  instant: one recorded after the summary with a date up to M's end changes the figures
  compiled after it; one dated after M's end never does.
- **Stages** (clauses by stage, each clause's stage, the buyers written to): the stage at the
  end of M by the rule above, read from the append-only ``clause_history`` (its latest row
  before the month's end, in the configured time zone) or implied by the dates of a clause
  started later with an earlier start date. Clauses that were not there at the end of M and are
  not started now (identified later, say) are left out. A lot its history says running at the
  end of M (execution, suspended) whose end was recorded later, by ``now``, on a day before M's
  last (« achever --end-date 26/02/2027 » on 5 April) is « suivi et bilan » at the end of M, in
  the stage table and on its line, as its dates imply and « Avancement par clause » reads it
  (among the « clauses achevées avant » M, or ended in it): before 6 December 2026 the table
  said the history's stage beside « 1 clause achevée avant mars 2027 »
  (``_ended_by_then``, ``MonthlySummary.ended_since``, ``summary_rules.STAGE_BY_END``).

The summary of M is queued once M's declarations are due and the reminders have had their
effect: ``summary_delay`` working days after the due date of the general calendar (default: the
working day after the last reminder), at ``summary_time`` (see ``summary_timing``), and not
before the same delay after the first due date really given for M (``_first_deadline_passed``):
after a long stop, or when every lot of the territory started late, the calls of M leave late
with a later due date, and until one has left while a company still has its call to come, M has
no summary at all. A pass sends
the summary of the *latest* due month only, once at least one clause is followed in it (by the
rule above, so a clause recorded in December with a September start brings October's summary
at the next pass, November's on its day). Older months never sent (a first start with
back-dated clauses, a long downtime) are not sent in a burst weeks late, the next summary carries
the cumulated figures: they are claimed as skipped (``periodic_runs`` job
``monthly_summary_skipped``), logged (``summary.skipped``) and named, with their hours, in the
summary that goes (below); ``clauses summary --month M`` produces any of them on demand.

Each email also says, above its figures, what its figures alone cannot (``_queue_month``),
so that its reader, holding the previous summary it got, can add up « previous cumul + this
month's hours + the hours listed = this cumul » (``since_last``). Its previous summary is
named with its month and the day it left (« Depuis ma synthèse de février 2027 (envoyée le 22
mars 2027) »): the latest written to the same recipient before this one, of an earlier month,
that left or may still leave (``_previous_summaries``, one row per recipient ranked in SQL; one
refused, given up or taken back never reached its reader and is not it). Listed: the
declarations of the months it covered that were corrected or cancelled since, each with the
total it had then and has now (« 370,17 h → 334,17 h »), and those that arrived since (« est
arrivée le 22 mars 2027 : 76 h »; at 0 h too, its month no longer missing; corrected since
it arrived, « est arrivée le 22 mars 2027 (50,25 h), corrigée le 2 avril 2027 : 55,25 h »),
read from the declarations' history
(``declaration_changes``), the first ``LISTED`` named and the rest counted with their hours,
said « en retard » only when they came after the date their company was held to (its month's
call left by then, its date, pushed by the suspensions after it, passed on the day it arrived:
``CalledMonth``), « sans retard » when they came by it or before their call left (a late
start's catch-up call gives the earlier months a later date); a month no call was ever made
for is late when the previous summary called it « manquante » by its own rule (no call
planned: lots loaded by hand, months from before the service), else nothing is said of it
either way (``CalledMonth.late``); and how many were late when not all (« 4 déclarations …
sont arrivées (dont 1 en retard) »), « sans retard » in the opening only when each was;
the months between the two with no summary to this recipient, with their hours (those claimed
as skipped, the service interrupted, always: which, and that they are produced on request);
and, built more than a working day after its planned moment while no pass ran from that moment
on (the service was down), that it is late and that its figures are those of the moment it was
built (``_on_time``: they are, ``compile_month`` at ``now``, the declarations received
meanwhile counted). ``audit verify`` recomputes what each email says there for its moment and
adds it up with the previous email's printed cumul (``audit.summary_emails``).
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from decimal import Decimal
from itertools import groupby
from operator import itemgetter
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    func,
    literal_column,
    null,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.orm import Session

from workflow.adapters.batching import chunked, stream_rows
from workflow.adapters.dialects import insert_ignoring, is_postgresql
from workflow.adapters.orm import (
    OPEN_LADDERS,
    AwardParty,
    Buyer,
    BuyerContact,
    Clause,
    ClauseHistory,
    Company,
    Declaration,
    DeclarationLadder,
    DeclarationLine,
    Market,
    Operation,
    OutboxMessage,
    Outcome,
    Participant,
    PeriodicRun,
)
from workflow.adapters.types import Hours
from workflow.domain.calendar import (
    Interval,
    LadderDays,
    LadderStep,
    add_months,
    add_working_days,
    at_local,
    local_date,
    month_fully_within,
    month_start,
    pushed_due,
    suspended_days,
)
from workflow.domain.calls_to_come import call_to_come
from workflow.domain.company_months import expected_of_company
from workflow.domain.events import require_aware
from workflow.domain.monthly_summary import (
    BuyerFigures,
    ClauseLine,
    Count,
    DeclarationChange,
    Declarations,
    EarlierMissing,
    EarlierPending,
    EndedSince,
    Figures,
    MissingDeclaration,
    MonthHours,
    MonthlySummary,
    OutcomeCount,
    ParticipantCount,
    StageCount,
    category_counts,
    is_late,
    outcome_tables,
    summary_late,
    terminated_elapsed,
    terminated_paces,
)
from workflow.domain.participants import worked
from workflow.domain.stages import FINAL_STAGES, Stage
from workflow.domain.stages import LABELS as STAGE_LABELS
from workflow.domain.summary import (
    AGE_BAND_LABELS,
    AgeBand,
    SummaryTiming,
    clause_progress,
    combine_progress,
    elapsed_fraction,
    latest_due_month,
    month_end,
    months_to_summarise,
    summary_due_at,
)
from workflow.domain.vocabulary import (
    CONTRACT_LABELS,
    CRITERION_LABELS,
    DELIVERY_MODE_LABELS,
    SEX_LABELS,
    UNKNOWN,
    UNKNOWN_LABEL,
    category_label,
)
from workflow.emails.envelope import OutboxState
from workflow.emails.summaries import (
    KIND_BUYER,
    KIND_FACILITATOR,
    KINDS,
    LateArrival,
    SinceLast,
    UnsentMonth,
    summary_email,
)
from workflow.errors import NotFound
from workflow.services.declaration_facts import (
    DeclarationFacts,
    load_declarations,
    touched_lots,
)
from workflow.services.departed_months import not_after_departure
from workflow.services.ladders_then import EarlierCall, earlier_calls, ladder_then
from workflow.services.outbox import EmailToQueue, Recipient, queue_emails
from workflow.services.outcome_counts import latest_up_to
from workflow.services.terminations import terminated_lots

if TYPE_CHECKING:
    from workflow.runtime import App
    from workflow.settings import Settings

log = logging.getLogger(__name__)

JOB = "monthly_summary"
#: Older months never sent, claimed by the summary that went in their stead.
JOB_SKIPPED = "monthly_summary_skipped"
#: Stages of a lot whose work has begun: its companies owe their monthly declarations.
STARTED = (
    Stage.EXECUTION.value,
    Stage.SUSPENDED.value,
    Stage.FOLLOW_UP.value,
    Stage.CLOSED.value,
)
#: Stages of a lot whose work is running: past its planned end with no end recorded, it is
#: not achieved (``_past_planned_end``).
RUNNING = (Stage.EXECUTION.value, Stage.SUSPENDED.value)
#: Stages at the end of a month whose buyer gets that month's summary (``_Clauses.informed``):
#: a suspended lot's buyer reads where it stands; a lot in follow-up (achieved or terminated,
#: its final report not recorded) may still owe declarations of its months.
WRITTEN_TO = (Stage.EXECUTION.value, Stage.SUSPENDED.value, Stage.FOLLOW_UP.value)


# --- SQL helpers ----------------------------------------------------------------------------------


def _dec(value: Decimal | int | None) -> Decimal:
    return Decimal(0) if value is None else Decimal(value)


_ZERO = Decimal(0)


Scoped = dict[int | None, Any]


def _buyer_clauses(buyer_id: int) -> Any:
    """The ids of one buyer's clauses, as a subquery."""
    return (
        select(Clause.id)
        .join(Market, Market.id == Clause.market_id)
        .join(Operation, Operation.id == Market.operation_id)
        .where(Operation.buyer_id == buyer_id)
    )


# --- The figures ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Period:
    month: date
    last: date
    end_instant: datetime  # the first instant after the month, UTC
    as_of: datetime | None  # declarations recorded after it are not known yet
    zone: ZoneInfo

    def received(self) -> ColumnElement[bool]:
        """Declarations known at ``as_of``."""
        if self.as_of is None:
            return true()
        return Declaration.recorded_at <= self.as_of


def _period(month: date, zone: ZoneInfo | None, as_of: datetime | None = None) -> _Period:
    """``month`` ends at local midnight in ``zone`` (UTC when not given)."""
    where = zone or ZoneInfo("UTC")
    end_instant = datetime.combine(add_months(month, 1), time(0), tzinfo=where)
    return _Period(month, month_end(month), end_instant.astimezone(UTC), as_of, where)


def _history_stage(instant: datetime) -> Any:
    """Each clause's stage just before ``instant`` from its history, NULL without a row then,
    as a correlated subquery (one index lookup per clause): for questions that stop at the
    first clause found (``_has_followed_clause``)."""
    return (
        select(ClauseHistory.to_stage)
        .where(ClauseHistory.clause_id == Clause.id, ClauseHistory.at < instant)
        .order_by(ClauseHistory.at.desc(), ClauseHistory.id.desc())
        .limit(1)
        .correlate(Clause)
        .scalar_subquery()
    )


def _latest_history(instant: datetime, buyer_id: int | None) -> Any:
    """Each clause's latest history row before ``instant`` (``clause_id``, ``to_stage``): the
    latest instant, and among rows at the same instant the last written. One pass over the
    history (the buyer's clauses' only, for one buyer), ranked per clause; joined to the
    clauses, it gives every clause's stage then without a lookup per clause and per use."""
    rank = func.row_number().over(
        partition_by=ClauseHistory.clause_id,
        order_by=(ClauseHistory.at.desc(), ClauseHistory.id.desc()),
    )
    ranked = select(
        ClauseHistory.clause_id.label("clause_id"),
        ClauseHistory.to_stage.label("to_stage"),
        rank.label("rank"),
    ).where(ClauseHistory.at < instant)
    if buyer_id is not None:
        ranked = ranked.where(ClauseHistory.clause_id.in_(_buyer_clauses(buyer_id)))
    inner = ranked.subquery()
    return select(inner.c.clause_id, inner.c.to_stage).where(inner.c.rank == 1).subquery()


def _end_date() -> ColumnElement[date]:
    return func.coalesce(Clause.end_date, Clause.planned_end_date)


def _stage_rule(period: _Period, recorded: Any, stage_now: Any) -> ColumnElement[Any]:
    """Each clause's stage at the end of the month, by the one rule of the module docstring;
    NULL for a clause that is not in the month's picture at all (recorded later, not started).

    ``recorded`` is its history's stage just before the month's end (NULL without a row then),
    ``stage_now`` its stage as known at ``as_of``.

    1. Its history then says it was started (execution, suspended, follow-up, closed): that.
    2. Else, if it is started by ``as_of`` and its start date is on or before the month's last
       day, the stage its dates imply: follow-up when its recorded end is before that last day,
       or its planned end for a lot finished since without one; else execution. The service
       calls its companies for every month from the start date: the summary follows the work,
       whenever it was recorded. A lot still running whose planned end alone is past was not
       said to be finished: in execution then, followed as a lot past its planned end
       (``_past_planned_end``; a lot recorded late with a back-dated start read « achevée »).
    3. Else its history then (identification, drafting, award...), or its current stage when
       it existed then without any history row (data loaded by hand).
    """
    implied = case(
        (and_(Clause.end_date.is_not(None), Clause.end_date < period.last), Stage.FOLLOW_UP.value),
        (
            and_(
                Clause.end_date.is_(None),
                Clause.planned_end_date < period.last,
                stage_now.not_in(RUNNING),
            ),
            Stage.FOLLOW_UP.value,
        ),
        else_=Stage.EXECUTION.value,
    )
    return case(
        (recorded.in_(STARTED), recorded),
        (
            and_(
                stage_now.in_(STARTED),
                Clause.start_date.is_not(None),
                Clause.start_date <= period.last,
            ),
            implied,
        ),
        (recorded.is_not(None), recorded),
        (Clause.created_at < period.end_instant, Clause.stage),
        else_=None,
    )


@dataclass(frozen=True)
class _Stages:
    """Each clause's stage at the end of the month by the one rule (``then``) and as known at
    ``as_of`` (``now``), from the history's latest rows before those instants: the summary's
    lines (``_clauses``, which joins them where its plan wants them) and
    ``stages_at_month_end`` (``joined``) read them alike."""

    at_end: Any
    at_now: Any | None
    now: ColumnElement[Any]
    then: ColumnElement[Any]

    @classmethod
    def of(cls, period: _Period, buyer_id: int | None) -> _Stages:
        at_end = _latest_history(period.end_instant, buyer_id)
        at_now = None
        stage_now: ColumnElement[Any] = Clause.stage.expression
        if period.as_of is not None:
            at_now = _latest_history(period.as_of, buyer_id)
            stage_now = func.coalesce(at_now.c.to_stage, Clause.stage)
        return cls(at_end, at_now, stage_now, _stage_rule(period, at_end.c.to_stage, stage_now))

    def joined(self, statement: Select[Any]) -> Select[Any]:
        """``statement`` (its FROM on ``Clause``) with the history's rows it reads."""
        statement = statement.outerjoin(self.at_end, self.at_end.c.clause_id == Clause.id)
        if self.at_now is not None:
            statement = statement.outerjoin(self.at_now, self.at_now.c.clause_id == Clause.id)
        return statement


def _known(period: _Period) -> ColumnElement[bool]:
    """Clauses recorded by ``as_of``: one recorded after an email was written is not in it."""
    if period.as_of is None:
        return true()
    return Clause.created_at <= period.as_of


def _works_in(period: _Period) -> ColumnElement[bool]:
    """Not ended before the month began."""
    end = _end_date()
    return or_(end.is_(None), end >= period.month)


def _past_planned_end(stage_then: ColumnElement[Any]) -> ColumnElement[bool]:
    """Running at the end of the month (execution, suspended) with no end recorded: with
    ``_works_in`` false, a lot past its planned end, followed all the same (``_clauses``)."""
    return and_(Clause.end_date.is_(None), stage_then.in_(RUNNING))


def _ended_by_then(then: str | None, now_stage: str | None, ended: date | None, last: date) -> bool:
    """Whether a lot its history said running at the end of the month (execution, suspended)
    had ended by then by its dates as known at ``as_of``: its end recorded by that moment (its
    stage then follow-up or closed) on a day before the month's last, the day the dates imply
    follow-up from (``_stage_rule``). The end of execution recorded on 5 April, back-dated to
    26 February, left the March summary saying « mise en œuvre » of a lot its « Avancement par
    clause » counted among the clauses achieved before March (user trial, 6 December 2026):
    the summary counts it « suivi et bilan » (``summary_rules.STAGE_BY_END``)."""
    return (
        then in RUNNING
        and ended is not None
        and ended < last
        and now_stage in (Stage.FOLLOW_UP.value, Stage.CLOSED.value)
    )


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, 1), else_=0)


@dataclass
class _Clauses:
    """Every clause of the scope, read once: the counted ones' lines, the stages at the end of
    the month, the clauses whose companies owe the month's declaration and the buyers to write
    to."""

    lines: list[ClauseLine]
    stages: Scoped
    #: Started by the end of M, not ended before it (a lot past its planned end is not asked),
    #: not abandoned since.
    asked: set[int]
    informed: set[int]  # buyers with a clause in execution, suspended or in follow-up, or hours
    #: The suspended stretches of the counted lots ever suspended (``_suspended``), all of them
    #: (``_suspensions_known`` says which were known at ``as_of``).
    suspended: dict[int, list[Interval]] = field(default_factory=dict)
    #: The lots counted « suivi et bilan » by their end recorded since (``_ended_by_then``).
    ended_since: dict[int, EndedSince] = field(default_factory=dict)
    #: Every lot ever suspended, counted or not (``_ever_suspended``), read once.
    ever_suspended: frozenset[int] = frozenset()


def _clauses(session: Session, period: _Period, buyer_id: int | None) -> _Clauses:
    """One query over the clauses of the scope with their stage at the end of the month (and
    as known at ``as_of``) from two ranked passes over the history, and their hours of the month
    and up to it from one GROUP BY over the declarations. The rest is done row by row here,
    where each clause is looked at once."""
    m = period.month
    hours = select(
        Declaration.clause_id.label("clause_id"),
        func.sum(case((Declaration.month == m, Declaration.total_hours), else_=0)).label(
            "month_hours"
        ),
        func.sum(Declaration.total_hours).label("cumulated"),
        # Any declaration of the month with hours: its buyer is written to.
        func.max(_flag(and_(Declaration.month == m, Declaration.total_hours > 0))).label("worked"),
    ).where(Declaration.month <= m, period.received())
    if buyer_id is not None:
        hours = hours.where(Declaration.clause_id.in_(_buyer_clauses(buyer_id)))
    hours_sub = hours.group_by(Declaration.clause_id).subquery()
    stages = _Stages.of(period, buyer_id)
    stage_now, stage_then = stages.now, stages.then
    statement = (
        select(
            Clause.id,
            Operation.buyer_id,
            Buyer.name,
            Market.reference,
            Clause.lot_number,
            Clause.lot_title,
            Clause.stage,
            stage_then,
            stage_now,
            _flag(_known(period)),
            func.coalesce(Clause.hours_override, Clause.hours_computed),
            Clause.start_date,
            _end_date(),
            Clause.end_date,
            hours_sub.c.month_hours,
            hours_sub.c.cumulated,
            hours_sub.c.worked,
        )
        .select_from(Clause)
        .join(Market, Market.id == Clause.market_id)
        .join(Operation, Operation.id == Market.operation_id)
        .join(Buyer, Buyer.id == Operation.buyer_id)
        .outerjoin(stages.at_end, stages.at_end.c.clause_id == Clause.id)
        .outerjoin(hours_sub, hours_sub.c.clause_id == Clause.id)
        .order_by(Buyer.name, Clause.id)
    )
    if stages.at_now is not None:
        statement = statement.outerjoin(stages.at_now, stages.at_now.c.clause_id == Clause.id)
    if buyer_id is not None:
        statement = statement.where(Operation.buyer_id == buyer_id)
    found = _Clauses([], defaultdict(lambda: defaultdict(int)), set(), set())
    last, first = period.last, m
    # A suspended lot is still followed: its buyer reads where it stands (suspended, its pace)
    # every month, as for a lot in follow-up, instead of hearing nothing until the resumption.
    working = WRITTEN_TO
    # The same buyer's name, market reference or trade on thousands of lines: one string each.
    texts: dict[str, str] = {}
    # Likewise one object for a date, a buyer or a target on many lines (a start date, a
    # buyer's id: each row brings its own), 8 MB of 10^5 lines. Apart: an int and a Decimal
    # equal to it are one key.
    days: dict[date, date] = {}
    numbers: dict[int, int] = {}
    for row in stream_rows(session, statement):
        (cid, bid, bname, ref, lot, title, stage, then, now_stage, known, tgt, start, stop,
         ended, month_h, cumul, worked) = row  # fmt: skip
        started = bool(known) and start is not None and start <= last and then in STARTED
        runs = stop is None or stop >= first
        # Its planned end passed before the month, still running then, no end recorded: not
        # achieved (followed, listed one by one), and its companies not asked (their calls wait
        # past the lot's end until the end is recorded or the planned end moved).
        overdue = started and not runs and ended is None and then in RUNNING
        if known and _ended_by_then(then, now_stage, ended, last):
            # Its history said it running at the month's end (its end recorded later), its end
            # before the month's last day: no longer « mise en œuvre » then, as its line says.
            found.ended_since[cid] = EndedSince(cid, bid, then, ended)
            then = Stage.FOLLOW_UP.value
        if started and runs and now_stage in STARTED:
            found.asked.add(cid)
        if known and then is not None:
            found.stages[None][then] += 1
            found.stages[bid][then] += 1
        if (known and then in working) or worked:
            found.informed.add(bid)
        # Any hours up to M keep a clause counted, whatever became of it since.
        if not (started or (known and cumul is not None)):
            continue
        elapsed = elapsed_fraction(start, stop, last)
        tgt = numbers.setdefault(tgt, tgt) if tgt is not None else None
        # Most clauses have no hours in the month: one zero for all of them.
        month_h = month_h if month_h else _ZERO
        progress = clause_progress(tgt, month_h, cumul if cumul is not None else _ZERO, elapsed)
        followed = (started and (runs or overdue)) or month_h > 0
        bname = texts.setdefault(bname, bname)
        ref = texts.setdefault(ref, ref)
        lot = texts.setdefault(lot, lot)
        title = texts.setdefault(title, title)
        shown = then or stage
        shown = texts.setdefault(shown, shown)
        start = days.setdefault(start, start) if start is not None else None
        stop = days.setdefault(stop, stop) if stop is not None else None
        bid = numbers.setdefault(bid, bid)
        found.lines.append(
            ClauseLine(
                cid, bid, bname, ref, lot, title, shown, start, stop, progress, followed, overdue
            )
        )
    _elapsed_workable(session, period, found, buyer_id)
    return found


def _elapsed_workable(
    session: Session, period: _Period, found: _Clauses, buyer_id: int | None = None
) -> None:
    """The time elapsed of the counted lots ever suspended or terminated; the others keep the
    figure ``_clauses`` gave them. One read of the stretches of the lots ever suspended and one
    of the lots terminated, a few among thousands (``_suspended``, ``terminated_lots``).

    - Suspended: counted in the days they could be worked (``elapsed_fraction`` without their
      suspended days): the suspensions known at ``as_of``, one still running then counting up
      to that day (up to the month's last day when compiled without a moment).
    - Terminated (« marché résilié »): against the planned end, up to the termination day
      (``terminated_elapsed``), never against the termination day as if it were the planned
      end (a lot terminated on 15 November read 80 % of its time elapsed at the end of
      October, « en retard », for 22 % of its planned works: user trial, 5 December 2026). A
      month before the termination reads what it read before the termination was recorded;
      from the month of the termination on, the line says it (``ClauseLine.terminated_on``)
      and a scope whose paced lots were all terminated says so in place of the verdict
      (``Figures.terminated``)."""
    ids = {line.clause_id for line in found.lines}
    found.ever_suspended = frozenset(_ever_suspended(session))
    found.suspended = _suspended(session, ids, found.ever_suspended)
    ended = terminated_lots(
        session, ids, _buyer_clauses(buyer_id) if buyer_id is not None else None
    )
    if not found.suspended and not ended:
        return
    zone, last = period.zone, period.last
    until = period.as_of.astimezone(zone).date() if period.as_of is not None else last
    for index, line in enumerate(found.lines):
        stretches = found.suspended.get(line.clause_id)
        known = _suspensions_known(stretches, period.as_of) if stretches else []
        termination = ended.get(line.clause_id)
        if not known and termination is None:
            continue
        days = suspended_days(known, zone, until) if known else frozenset[date]()
        terminated_on = None
        if termination is None:
            elapsed = elapsed_fraction(line.start_date, line.end_date, last, days)
        else:
            elapsed = terminated_elapsed(
                line.start_date, termination.planned_end, termination.on, last, days
            )
            terminated_on = termination.on if termination.on <= last else None
        p = line.progress
        progress = clause_progress(p.hours_target, p.hours_month, p.hours_cumulated, elapsed)
        stage = line.stage
        if terminated_on is not None:
            # Terminated by the month's end: this rule says « suivi et bilan » of it, older
            # than ``STAGE_BY_END``.
            found.ended_since.pop(line.clause_id, None)
        if terminated_on is not None and stage in RUNNING:
            # Terminated on a day of the month or before: it was not in execution at the end of
            # the month, whatever its history said then (a termination recorded in June with its
            # day in May read « mise en œuvre – marché résilié le 15/05/2027 »; user trial, 6
            # December 2026). The line and the stage table say the same, as ``terminated_on``
            # does; a month before the termination day reads what it read before.
            stage = Stage.FOLLOW_UP.value
            for scope in (None, line.buyer_id):
                found.stages[scope][line.stage] -= 1
                if not found.stages[scope][line.stage]:
                    del found.stages[scope][line.stage]
                found.stages[scope][stage] += 1
        found.lines[index] = replace(
            line, stage=stage, progress=progress, terminated_on=terminated_on
        )


def stages_at_month_end(
    session: Session,
    month: date,
    *,
    buyer_id: int | None = None,
    now: datetime | None = None,
    zone: ZoneInfo | None = None,
) -> dict[str, int]:
    """How many clauses of the scope were in each stage at the end of ``month``, as its summary
    compiled at ``now`` counts them in « Clauses par étape » (``_clauses``, then
    ``_elapsed_workable`` for a termination on the month's last day): for the annual report's
    stages at the end of the year, which are December's. One GROUP BY; the lots its history
    says running then whose end, recorded since, came by the month's last day are grouped one
    by one (a handful) to be judged by the same rules (``_ended_by_then``, a termination).
    The two readings are held together by ``tests/integration/test_annual_stages_as_december.py``."""
    period = _period(month, zone, now)
    stages = _Stages.of(period, buyer_id)
    stage_now, then = stages.now, stages.then
    ended_by_last = and_(
        then.in_(RUNNING),
        Clause.end_date <= period.last,
        stage_now.in_((Stage.FOLLOW_UP.value, Stage.CLOSED.value)),
    )
    # Each of those lots a group of its own, with its end and its stage now; the others one
    # group a stage.
    lot = case((ended_by_last, Clause.id), else_=null())
    ended_on = case((ended_by_last, Clause.end_date), else_=null())
    stage_known = case((ended_by_last, stage_now), else_=null())
    statement = (
        select(then, lot, ended_on, stage_known, func.count())
        .select_from(Clause)
        .where(_known(period))
        .group_by(then, lot, ended_on, stage_known)
    )
    statement = stages.joined(statement)
    if buyer_id is not None:
        statement = statement.where(Clause.id.in_(_buyer_clauses(buyer_id)))
    counts: Counter[str] = Counter()
    on_last_day: dict[int, str] = {}
    for stage, clause_id, ended, now_stage, count in session.execute(statement):
        if stage is None:
            continue  # not in the month's picture (recorded later, not started)
        if clause_id is not None and _ended_by_then(stage, now_stage, ended, period.last):
            stage = Stage.FOLLOW_UP.value
        elif clause_id is not None:
            on_last_day[clause_id] = stage  # ended on the last day: by a termination only
        counts[stage] += int(count)
    for clause_id, termination in terminated_lots(session, on_last_day).items():
        if termination.on <= period.last:
            counts[on_last_day[clause_id]] -= 1
            counts[Stage.FOLLOW_UP.value] += 1
    return {stage: count for stage, count in counts.items() if count}


def as_ended_at_termination(session: Session, summary: MonthlySummary) -> MonthlySummary | None:
    """``summary`` as compiled before 5 December 2026 (``audit verify`` reads the emails written
    then with it): a lot whose termination was recorded by the summary's moment had its time
    elapsed counted against the termination day as its end (``elapsed_fraction`` to the lot's
    end as it stands), nothing said of the termination; None when no counted lot had been
    terminated by then (or without a moment)."""
    moment = summary.compiled_at
    if moment is None:
        return None
    ids = {line.clause_id for line in summary.clauses}
    ended = {cid: lot for cid, lot in terminated_lots(session, ids).items() if lot.at <= moment}
    if not ended:
        return None
    period = _period(summary.month, summary.zone, moment)
    zone, last = period.zone, period.last
    until = moment.astimezone(zone).date()
    stretches = _suspended(session, set(ended))
    lines = []
    for line in summary.clauses:
        if line.clause_id in ended:
            known = _suspensions_known(stretches.get(line.clause_id, ()), moment)
            days = suspended_days(known, zone, until) if known else frozenset[date]()
            elapsed = elapsed_fraction(line.start_date, line.end_date, last, days)
            p = line.progress
            progress = clause_progress(p.hours_target, p.hours_month, p.hours_cumulated, elapsed)
            line = replace(line, progress=progress, terminated_on=None)
        lines.append(line)

    def again(figures: Figures, scope: list[ClauseLine]) -> Figures:
        return replace(
            figures,
            progress=combine_progress(c.progress for c in scope),
            terminated=terminated_paces(scope),
        )

    buyers = tuple(
        replace(b, figures=again(b.figures, [c for c in lines if c.buyer_id == b.buyer_id]))
        for b in summary.buyers
    )
    return replace(
        summary, clauses=tuple(lines), overall=again(summary.overall, lines), buyers=buyers
    )


def _ever_suspended(session: Session) -> set[int]:
    """The lots ever suspended: one DISTINCT over the history."""
    return set(
        session.scalars(
            select(ClauseHistory.clause_id)
            .where(ClauseHistory.to_stage == Stage.SUSPENDED.value)
            .distinct()
        )
    )


def _suspended(
    session: Session, clause_ids: set[int] | None, ever: AbstractSet[int] | None = None
) -> dict[int, list[Interval]]:
    """The suspended stretches of these lots (None: of every lot), a few hundred at a time:
    only lots ever suspended are looked up (``ever``, when the caller read them already)."""
    from workflow.services.lot_calendars import suspensions

    if ever is None:
        ever = _ever_suspended(session)
    found: dict[int, list[Any]] = {}
    for chunk in chunked(sorted(set(ever) if clause_ids is None else clause_ids & set(ever))):
        found.update(suspensions(session, chunk))
    return found


def _declarations(
    session: Session,
    period: _Period,
    buyer_id: int | None,
    asked: set[int],
    suspended: Mapping[int, list[Interval]],
) -> Scoped:
    """Per scope: (expected, missing declarations) of the month, see the module docstring.
    ``suspended``: the stretches ``_clauses`` read for the counted lots (the asked ones are
    among them)."""
    m = period.month
    received = (
        select(Declaration.id)
        .where(
            Declaration.clause_id == AwardParty.clause_id,
            Declaration.company_id == AwardParty.company_id,
            Declaration.month == m,
            period.received(),
        )
        .exists()
    )
    statement = (
        select(
            AwardParty.clause_id,
            Operation.buyer_id,
            Buyer.name,
            AwardParty.company_id,
            Company.name,
            Market.reference,
            Clause.lot_number,
            Clause.lot_title,
            received,
            DeclarationLadder.due_on,
            DeclarationLadder.called_at,
            AwardParty.next_call_month,
            AwardParty.next_call_at,
            DeclarationLadder.next_step,
            DeclarationLadder.next_step_at,
            AwardParty.first_month,
            AwardParty.last_month,
        )
        .select_from(AwardParty)
        .join(Clause, Clause.id == AwardParty.clause_id)
        .join(Company, Company.id == AwardParty.company_id)
        # The month's ladder (unique per lot x company x month): the call and the due date the
        # company was given, which say whether a missing declaration is late yet.
        .outerjoin(
            DeclarationLadder,
            and_(
                DeclarationLadder.clause_id == AwardParty.clause_id,
                DeclarationLadder.company_id == AwardParty.company_id,
                DeclarationLadder.month == m,
            ),
        )
        .join(Market, Market.id == Clause.market_id)
        .join(Operation, Operation.id == Market.operation_id)
        .join(Buyer, Buyer.id == Operation.buyer_id)
        # What a column says in SQL; the stages (at the end of M, and abandoned since: its
        # companies are no longer asked for anything) come from ``asked``. A lot past its
        # planned end is not asked for M, but a declaration of M the facilitator recorded on it
        # is expected and received all the same (``company_months``).
        .where(
            _known(period),
            Clause.start_date.is_not(None),
            Clause.start_date <= period.last,
            or_(_works_in(period), received),
        )
        .order_by(Buyer.name, Company.name, Clause.id)
    )
    if buyer_id is not None:
        statement = statement.where(Operation.buyer_id == buyer_id)
    zone = period.zone
    today = period.as_of.astimezone(zone).date() if period.as_of is not None else None
    expected: dict[int | None, int] = defaultdict(int)
    unasked: dict[int | None, int] = defaultdict(int)  # declared all the same
    missing: dict[int | None, list[MissingDeclaration]] = defaultdict(list)
    pending: dict[int | None, list[MissingDeclaration]] = defaultdict(list)
    texts: dict[str, str] = {}  # one string for a name on many lines
    # The month's ladders a cancellation re-dated after the summary's moment (called afresh):
    # as they stood at it (``ladders_then``); none for the day's summary.
    redated = (
        {}
        if period.as_of is None
        else {
            (cid, company_id): calls
            for (cid, company_id, month), calls in earlier_calls(
                session, cancelled_after=period.as_of, until_month=m
            ).items()
            if month == m
        }
    )
    for row in stream_rows(session, statement):
        cid, bid, bname, company_id, company, ref, lot, title, got = row[:9]
        due_on, called_at, next_month, next_at, ladder_step, ladder_at, first, last = row[9:]
        if period.as_of is not None and (cid, company_id) in redated:
            due_on, called_at = ladder_then(
                due_on, called_at, redated[(cid, company_id)], period.as_of, period.zone
            )
        if called_at is None and ladder_step == LadderStep.CALL:
            # Opened, its call waiting for its slot: the party has moved on to the next
            # month, the ladder holds when this one's call leaves.
            next_month, next_at = m, ladder_at
        # Not asked: a lot not asked for M (past its planned end, ``_clauses``), a month before
        # the one the company joined the works or after its last (``company_departures``), or
        # spent entirely suspended; declared all the same (the facilitator recorded it),
        # expected and received, as ``declaration list`` counts it.
        lot_asks = cid in asked and not (
            cid in suspended and month_fully_within(m, suspended[cid], zone)
        )
        unasked_month = not expected_of_company(m, first, last, declared=False, lot_asks=lot_asks)
        if unasked_month and not got:
            continue
        expected[None] += 1
        expected[bid] += 1
        if got:
            if unasked_month:
                unasked[None] += 1
                unasked[bid] += 1
            continue
        known = _suspensions_known(suspended.get(cid, ()), period.as_of)
        if due_on is not None and called_at is not None and known:
            # Suspended working days after the call push its due date, as the digest counts it:
            # those known at the summary's moment (a suspension recorded since, or its end, is
            # not what the summary could say, nor what the audit must find when it recompiles).
            days = LadderDays(suspended_days(known, zone, today or due_on))
            due_on = pushed_due(due_on, local_date(called_at, zone), days)
        b, co, r, lo, ti = (texts.setdefault(t, t) for t in (bname, company, ref, lot, title))
        if is_late(
            m,
            period.as_of,
            zone,
            due_on=due_on,
            called_at=called_at,
            next_call_month=next_month,
        ):
            line = MissingDeclaration(cid, bid, b, company_id, co, r, lo, ti)
            missing[None].append(line)
            missing[bid].append(line)
            continue
        called = called_at is not None and period.as_of is not None and called_at <= period.as_of
        # Suspended at the summary's moment: its call, or its due date, waits for the
        # resumption, a day nobody knows then.
        on_hold = period.as_of is not None and any(i.end is None for i in known)
        line = MissingDeclaration(
            cid,
            bid,
            b,
            company_id,
            co,
            r,
            lo,
            ti,
            due_on=due_on if called else None,
            # A lot suspended at the summary's moment: no « appel prévu le … » from a call time
            # that passed while it was suspended, no date that will move (and the same words
            # when the audit compiles it again later).
            call_at=None
            if called or on_hold
            else _call_to_come(period, called_at, next_month, next_at),
            suspended=on_hold,
        )
        pending[None].append(line)
        pending[bid].append(line)
    return {
        scope: Declarations(
            count,
            tuple(missing.get(scope, [])),
            tuple(pending.get(scope, [])),
            unasked=unasked.get(scope, 0),
        )
        for scope, count in expected.items()
    }


def _earlier_missing(
    session: Session,
    period: _Period,
    buyer_id: int | None,
    ever_suspended: AbstractSet[int] | None = None,
    asked: AbstractSet[int] = frozenset(),
) -> Scoped:
    """Per scope: the declarations of months before M still missing at the summary's moment,
    by company x lot (``EarlierMissing``), in the order of the month's missing ones (buyer,
    company, lot); and, apart, those still expected and not late yet (``EarlierPending``: a
    due date pushed by a suspension past the summary's moment), each month with its due date. A late start's skipped months have no summary of their own: the next one
    names them, and so does every one after it until they are received or no longer asked.

    One query over the reminder ladders of earlier months (a month owed has its ladder, opened
    by the service's call): called by ``as_of``, not declared then (the ladder's ``declared_at``
    after it, or none, and no declaration of the month recorded by then, nor corrected since
    a version recorded by then), of a lot neither
    closed nor abandoned then (a closure releases the months still owed, « plus demandée »)
    and not after the day its work ended (``lot_ends``: owed no more). Then, as for M
    (``_declarations``), late by ``is_late`` at the due date the call gave, pushed by the
    suspended working days known at ``as_of``; a month spent entirely suspended is not asked.

    A month owed whose call had not left by ``as_of``, of a lot its companies were asked for
    then (``asked``: started and running, ``_clauses``), is « attendue, pas encore due » with
    its call to come (``EarlierPending.called`` False, ``summary_rules.EARLIER_CALLS_TO_COME``),
    as ``declaration list`` says « appel à venir »: its ladder opened and waiting for its slot,
    or called after ``as_of`` (read again later: when its call left), or, without a ladder, the
    company's next call planned for it or an earlier month (``_months_to_call``: a lot recorded
    as started after its start date, until its catch-up call leaves).
    """
    m, as_of, zone = period.month, period.as_of, period.zone
    ladder = DeclarationLadder
    # Received by ``as_of``: recorded by then, or corrected since a version recorded by then
    # (a correction moves ``recorded_at``, and the ladder's ``declared_at``, to its own instant;
    # the month was no less received at the summary's moment, and the audit compiling it again
    # must find what the email said).
    received_then: ColumnElement[bool] = (
        true()
        if as_of is None
        else or_(Declaration.recorded_at <= as_of, Declaration.replaced_recorded_at <= as_of)
    )
    declared = select(Declaration.id).where(
        Declaration.clause_id == ladder.clause_id,
        Declaration.company_id == ladder.company_id,
        Declaration.month == ladder.month,
        received_then,
    )
    final_then = _final_then(period, ladder.clause_id)
    if as_of is None:
        open_then: Any = text(OPEN_LADDERS)
    else:
        open_then = or_(text(OPEN_LADDERS), ladder.declared_at > as_of)
        # A month a cancellation asked again after ``as_of`` (called afresh since): called then
        # by its earlier call (``ladders_then``), read below.
        redated = earlier_calls(session, cancelled_after=as_of, until_month=m)
    # The ladders' own columns, their lot's and company's: the buyers' names (a few hundred)
    # are read apart (joined here, a bad estimate of the rows left made the planner loop over
    # the buyers for every row).
    statement = (
        select(
            ladder.clause_id,
            ladder.company_id,
            ladder.month,
            ladder.due_on,
            ladder.called_at,
            Operation.buyer_id,
            Market.reference,
            Clause.lot_number,
            Clause.lot_title,
            Company.name,
            ladder.next_step,
            ladder.next_step_at,
        )
        .select_from(ladder)
        .join(Clause, Clause.id == ladder.clause_id)
        .join(Company, Company.id == ladder.company_id)
        .join(Market, Market.id == Clause.market_id)
        .join(Operation, Operation.id == Market.operation_id)
        .where(
            ladder.month < m,
            open_then,
            # Called by then, or not (its call to come): sorted out below.
            ~declared.exists(),
            ~final_then,
            or_(Clause.end_date.is_(None), ladder.month <= Clause.end_date),
            # Nor after the last month of a company that left the site (its ladder, called
            # before the departure was recorded, stopped then): owed no more.
            not_after_departure(ladder.clause_id, ladder.company_id, ladder.month),
            # Nor before the first month of a company that joined the works, called before
            # that first month was corrected to a later one: never asked of it, as the month's
            # own count (``expected_of_company``) and ``declaration list`` say (review: « toujours
            # manquantes » and « rythme à confirmer » for a month the lot's page owed no more).
            ~select(AwardParty.id)
            .where(
                AwardParty.clause_id == ladder.clause_id,
                AwardParty.company_id == ladder.company_id,
                AwardParty.first_month > ladder.month,
            )
            .exists(),
            _known(period),
        )
        .order_by(ladder.clause_id, ladder.company_id, ladder.month)
    )
    if buyer_id is not None:
        statement = statement.where(Operation.buyer_id == buyer_id)
    # The rows are streamed, never all held (55,000 at 10^5 lots, 45 MB as rows): the stretches
    # of every lot ever suspended (a few thousand) and the buyers' names are read before them.
    # A buyer's summary (the audit compiles one per email) reads its own lots' only.
    # ``ever_suspended``: the lots ever suspended, as ``_clauses`` read them (no second scan).
    suspended = _suspended(
        session,
        None if buyer_id is None else set(session.scalars(_buyer_clauses(buyer_id))),
        ever_suspended,
    )
    buyers = _names(session, Buyer, None if buyer_id is None else {buyer_id})
    rows = stream_rows(session, statement)
    today = as_of.astimezone(zone).date() if as_of is not None else None
    texts: dict[str, str] = {}  # one string for a name on many lines
    lines: list[EarlierMissing] = []
    waiting: list[EarlierPending] = []
    for (cid, company_id), group in groupby(rows, key=itemgetter(0, 1)):
        months: list[date] = []
        for row in group:
            month, due_on, called_at, bid, ref, lot, title, company, step, step_at = row[2:]
            if as_of is not None and (cid, company_id, month) in redated:
                due_on, called_at = ladder_then(
                    due_on, called_at, redated[(cid, company_id, month)], as_of, zone
                )
            stretches = suspended.get(cid, ())
            if stretches and month_fully_within(month, stretches, zone):
                continue  # nobody is asked to declare a month spent entirely suspended
            known = _suspensions_known(stretches, as_of)
            if called_at is None or (as_of is not None and called_at > as_of):
                # Not called by then: owed all the same if its lot asked for it then, its call
                # to come (when it left, read again later; its slot, opened and waiting).
                if cid not in asked:
                    continue
                if called_at is None:
                    waits = step == LadderStep.CALL and step_at is not None
                    called_at = _earlier_call(period, month, step_at) if waits else None
                b, co, r, lo, ti = (
                    texts.setdefault(t, t) for t in (buyers[bid], company, ref, lot, title)
                )
                waiting.append(
                    _to_call((cid, bid, b, company_id, co, r, lo, ti), month, called_at, known)
                )
                continue
            if known:
                days = LadderDays(suspended_days(known, zone, today or due_on))
                due_on = pushed_due(due_on, local_date(called_at, zone), days)
            if is_late(
                month, as_of, zone, due_on=due_on, called_at=called_at, next_call_month=None
            ):
                months.append(month)
                continue
            # Called, still owed, not late: its due date pushed by a suspension past the
            # summary's moment (a month's summary said it « pas encore due »; the next one must
            # not lose it). Still suspended then: its due date waits for the resumption.
            on_hold = as_of is not None and any(i.end is None for i in known)
            b, co, r, lo, ti = (
                texts.setdefault(t, t) for t in (buyers[bid], company, ref, lot, title)
            )
            waiting.append(
                EarlierPending(
                    cid,
                    bid,
                    b,
                    company_id,
                    co,
                    r,
                    lo,
                    ti,
                    month,
                    None if on_hold else due_on,
                    bool(known),
                )
            )
        if months:
            b, co, r, lo, ti = (
                texts.setdefault(t, t) for t in (buyers[bid], company, ref, lot, title)
            )
            lines.append(EarlierMissing(cid, bid, b, company_id, co, r, lo, ti, tuple(months)))
    waiting += _months_to_call(session, period, buyer_id, asked, suspended, buyers, texts)
    # In the order of the month's missing ones: buyer, company, lot.
    lines.sort(key=lambda e: (e.buyer, e.company, e.clause_id, e.company_id))
    waiting.sort(key=lambda e: (e.buyer, e.company, e.clause_id, e.company_id, e.month))
    found: dict[int | None, tuple[list[EarlierMissing], list[EarlierPending]]] = defaultdict(
        lambda: ([], [])
    )
    for line in lines:
        found[None][0].append(line)
        found[line.buyer_id][0].append(line)
    for pending in waiting:
        found[None][1].append(pending)
        found[pending.buyer_id][1].append(pending)
    return {scope: (tuple(m), tuple(p)) for scope, (m, p) in found.items()}


def _final_then(period: _Period, clause_id: Any) -> ColumnElement[bool]:
    """The lot ``clause_id`` (``Clause`` in the query's FROM) closed or abandoned by ``as_of``
    (now, without one): its months still owed were released. Final stages are final: a lot
    closed or abandoned then stays so."""
    final = [stage.value for stage in FINAL_STAGES]
    if period.as_of is None:
        return Clause.stage.in_(final)
    return (
        select(ClauseHistory.id)
        .where(
            ClauseHistory.clause_id == clause_id,
            ClauseHistory.to_stage.in_(final),
            ClauseHistory.at < period.as_of,
        )
        .exists()
    )


def _earlier_call(period: _Period, month: date, planned: datetime | None) -> datetime | None:
    """When the call of ``month`` (the summary's, or an earlier one), not sent yet, leaves, seen
    at the summary's moment (``planned``: its ladder's slot, or the company's next call): the
    next pass after that moment sends it (``calls_to_come.call_to_come``); ``planned`` itself
    for the day's summary."""
    if planned is None or period.as_of is None:
        return planned
    call_time = planned.astimezone(period.zone).time()
    return call_to_come(month, planned, period.as_of, call_time, period.zone)


def _to_call(
    lot: tuple[int, int, str, int, str, str, str, str],
    month: date,
    call_at: datetime | None,
    known: list[Interval],
) -> EarlierPending:
    """An earlier month owed whose call had not left: its call to come, none while its lot is
    suspended at the summary's moment (the call waits for the resumption, a day nobody knows)."""
    on_hold = any(i.end is None for i in known)
    return EarlierPending(
        *lot, month, None, called=False, call_at=None if on_hold else call_at, suspended=on_hold
    )


def _months_to_call(
    session: Session,
    period: _Period,
    buyer_id: int | None,
    asked: AbstractSet[int],
    suspended: Mapping[int, list[Interval]],
    buyers: Mapping[int, str],
    texts: dict[str, str],
) -> list[EarlierPending]:
    """The earlier months owed without a ladder yet, their call to come: a company whose next
    call (``AwardParty.next_call_month``) is for a month before M, on a lot its companies were
    asked for then (``asked``), owes every month from that one to M's previous, among its
    months on the lot (``company_months``) and the lot's (from its start date's to its end's),
    none spent entirely suspended nor received by ``as_of``, as ``declaration list`` lists them
    « appel à venir ». One call will list them all. A late start, until its catch-up call
    leaves (at the next pass); few rows, read by the index of the calls."""
    m, as_of, zone = period.month, period.as_of, period.zone
    statement = (
        select(
            AwardParty.clause_id,
            AwardParty.company_id,
            AwardParty.next_call_month,
            AwardParty.next_call_at,
            AwardParty.first_month,
            AwardParty.last_month,
            Clause.start_date,
            Clause.end_date,
            Operation.buyer_id,
            Market.reference,
            Clause.lot_number,
            Clause.lot_title,
            Company.name,
        )
        .join(Clause, Clause.id == AwardParty.clause_id)
        .join(Company, Company.id == AwardParty.company_id)
        .join(Market, Market.id == Clause.market_id)
        .join(Operation, Operation.id == Market.operation_id)
        .where(
            AwardParty.next_call_at.is_not(None),
            AwardParty.next_call_month < m,
            _known(period),
            ~_final_then(period, AwardParty.clause_id),
        )
        .order_by(AwardParty.clause_id, AwardParty.company_id)
    )
    if buyer_id is not None:
        statement = statement.where(Operation.buyer_id == buyer_id)
    candidates = [row for row in session.execute(statement) if row[0] in asked]
    if not candidates:
        return []
    lots = sorted({row[0] for row in candidates})
    # Months that have a ladder are the ladders' (``_earlier_missing``); one received by then
    # is not owed.
    taken: set[tuple[int, int, date]] = set()
    for chunk in chunked(lots):
        taken.update(
            (cid, company_id, month)
            for cid, company_id, month in session.execute(
                select(
                    DeclarationLadder.clause_id,
                    DeclarationLadder.company_id,
                    DeclarationLadder.month,
                ).where(DeclarationLadder.clause_id.in_(chunk), DeclarationLadder.month < m)
            )
        )
        received = select(Declaration.clause_id, Declaration.company_id, Declaration.month).where(
            Declaration.clause_id.in_(chunk), Declaration.month < m
        )
        if as_of is not None:
            received = received.where(
                or_(Declaration.recorded_at <= as_of, Declaration.replaced_recorded_at <= as_of)
            )
        taken.update(
            (cid, company_id, month) for cid, company_id, month in session.execute(received)
        )
    found: list[EarlierPending] = []
    for row in candidates:
        cid, company_id, next_month, next_at, first, last, start, end = row[:8]
        bid, ref, lot, title, company = row[8:]
        if next_month is None:
            continue
        stretches = suspended.get(cid, ())
        known = _suspensions_known(stretches, as_of)
        month = max(month_start(next_month), month_start(start or next_month), first or date.min)
        while month < m:
            if (last is not None and month > last) or (end is not None and month > end):
                break
            owed = (cid, company_id, month) not in taken and not (
                stretches and month_fully_within(month, stretches, zone)
            )
            if owed:
                b, co, r, lo, ti = (
                    texts.setdefault(t, t) for t in (buyers[bid], company, ref, lot, title)
                )
                found.append(
                    _to_call(
                        (cid, bid, b, company_id, co, r, lo, ti),
                        month,
                        _earlier_call(period, month, next_at),
                        known,
                    )
                )
            month = add_months(month, 1)
    return found


def _names(session: Session, table: type[Buyer], ids: set[int] | None) -> dict[int, str]:
    """The names of these buyers (None: of every buyer), a thousand at a time."""
    if ids is None:
        return {row_id: name for row_id, name in session.execute(select(table.id, table.name))}
    found: dict[int, str] = {}
    for chunk in chunked(sorted(ids)):
        statement = select(table.id, table.name).where(table.id.in_(chunk))
        found.update((row_id, name) for row_id, name in session.execute(statement))
    return found


def _suspensions_known(intervals: Iterable[Interval], as_of: datetime | None) -> list[Interval]:
    """The suspensions as they stood at ``as_of``: none begun after it, one ended after it still
    running (``end`` None). All of them when there is no moment."""
    if as_of is None:
        return list(intervals)
    return [
        Interval(i.start, i.end if i.end is not None and i.end <= as_of else None)
        for i in intervals
        if i.start <= as_of
    ]


def _call_to_come(
    period: _Period,
    called_at: datetime | None,
    next_month: date | None,
    next_at: datetime | None,
) -> datetime | None:
    """When the month's call leaves: its ladder's call, sent after the summary's moment (what
    really happened, as the audit compiling it again reads it); else the call planned, its
    ladder's waiting for its slot or the company's next call when it is for this month or an
    earlier one (a catch-up call covers them all), as the next pass after the summary's moment
    sends it (``calls_to_come.call_to_come``: never a day already past, such as the usual call
    of a month whose lot's end was recorded after it). None when not known.

    The call time is the planned call's own (every call is planned at the settings' call time,
    which the summary, compiled without the settings, does not otherwise know)."""
    if called_at is not None:
        return called_at
    if next_at is None or next_month is None or next_month > period.month:
        return None
    return _earlier_call(period, period.month, next_at)


@dataclass
class _LineFigures:
    """What the declaration lines say, per scope (None: the whole scope compiled)."""

    #: {("criterion" | "sex" | "band", code): (new, active, cumulated)}
    participants: Scoped
    #: {delivery mode: (hours in the month, hours up to it)}
    modes: Scoped
    #: {contract type: (participants in the month, participants up to it)}
    contracts: Scoped
    #: {outcome type: (in the month, up to its end)}, those that count (``counted``)
    outcomes: Scoped


def _hours_of(value: Any) -> Decimal:
    """A sum of ``Hours`` read without its column type (a branch of a UNION): the type's own
    conversion, an integer number of hundredths over the scale."""
    return Decimal(int(value or 0)) / Hours.scale


def _age_band(birth_year: Any, year: int) -> ColumnElement[str]:
    """``workflow.domain.summary.age_band`` in SQL: the band of someone born in ``birth_year``
    during ``year`` (the benchmark's hand-written queries fold birth years with the domain's
    function, and ``test_summaries`` compares the two)."""
    age = year - birth_year
    return case(
        (or_(birth_year.is_(None), birth_year > year), AgeBand.UNKNOWN.value),
        (age < 26, AgeBand.UNDER_26.value),
        (age < 50, AgeBand.FROM_26_TO_49.value),
        else_=AgeBand.FROM_50.value,
    )


#: The breakdowns of participants: by eligibility criterion, by sex, by age band.
PEOPLE = ("criterion", "sex", "band")


def _line_figures(session: Session, period: _Period, buyer_id: int | None) -> _LineFigures:
    """Participants, hours by delivery mode, contracts by type and outcomes, per buyer and
    overall, in ONE statement over the declaration lines: one pass over the lines known at
    ``as_of`` with hours worked (``worked``), grouped by clause, participant, contract type and
    delivery mode (a ``WITH`` the database computes once), then grouped again (a ``UNION ALL``
    of GROUP BYs, a few rows per buyer):

    - participants per buyer, and over the territory (someone working for two buyers is one
      participant of the territory): active = hours worked in M; new = their first month with
      hours in the scope is M; cumulated = hours up to M; by criterion, by sex, by age band;
    - hours by delivery mode per buyer (the territory's are the buyers' added up): the lines'
      hours, in M and up to M;
    - contracts by type per buyer, and over the territory: distinct participant x contract
      type with hours, in M and up to M;
    - outcomes, each participant x clause by its latest dated up to M's end (in the month
      when dated in M), per buyer (the territory's are the buyers' added up, with the outcomes
      tied to no clause): each while it counts (``services.outcomes.counted``:
      its participant has hours worked on its clause in the declarations known at ``as_of``,
      whatever their month), asked of the grouped lines instead of the lines again.

    The lines are grouped by clause first and given their buyer once grouped (a quarter of the
    rows); they cover every month known, a month after M counting for outcomes only. Each
    participant's breakdowns are counted once per buyer and criterion x sex x age band, then
    added up by breakdown, where each breakdown read every participant again.
    """
    m = period.month
    upto = Declaration.month <= m
    # Each clause x participant x contract type x delivery mode with hours worked, known then.
    by_clause = (
        select(
            Declaration.clause_id.label("clause_id"),
            DeclarationLine.participant_id.label("participant_id"),
            DeclarationLine.contract_type.label("kind"),
            DeclarationLine.delivery_mode.label("mode"),
            # NULL when all its hours are after M: counted for outcomes, nothing else.
            func.min(case((upto, Declaration.month), else_=null())).label("first_month"),
            func.max(_flag(Declaration.month == m)).label("active"),
            func.sum(case((Declaration.month == m, DeclarationLine.hours), else_=0)).label(
                "month_hours"
            ),
            func.sum(case((upto, DeclarationLine.hours), else_=0)).label("hours"),
        )
        .select_from(DeclarationLine)
        .join(Declaration, Declaration.id == DeclarationLine.declaration_id)
        # Lines at 0 h are no activity (``worked``): the annual report counts the same people.
        .where(period.received(), worked(DeclarationLine.hours))
        .group_by(
            Declaration.clause_id,
            DeclarationLine.participant_id,
            DeclarationLine.contract_type,
            DeclarationLine.delivery_mode,
        )
    )
    clause_buyers = (
        select(Clause.id.label("clause_id"), Operation.buyer_id.label("buyer_id"))
        .join(Market, Market.id == Clause.market_id)
        .join(Operation, Operation.id == Market.operation_id)
    )
    if buyer_id is not None:
        by_clause = by_clause.where(Declaration.clause_id.in_(_buyer_clauses(buyer_id)))
        clause_buyers = clause_buyers.where(Operation.buyer_id == buyer_id)
    lines = by_clause.cte("lines_by_clause")
    buyers = clause_buyers.cte("clause_buyers")
    d = (
        select(
            buyers.c.buyer_id,
            lines.c.participant_id,
            lines.c.kind,
            lines.c.mode,
            lines.c.first_month,
            lines.c.active,
            lines.c.month_hours,
            lines.c.hours,
        )
        .join(buyers, buyers.c.clause_id == lines.c.clause_id)
        .where(lines.c.first_month.is_not(None))
        .cte("declared")
    )
    # Each participant of each buyer: first month, active, and what the breakdowns read.
    person = (
        select(
            d.c.buyer_id,
            d.c.participant_id,
            func.min(d.c.first_month).label("first_month"),
            func.max(d.c.active).label("active"),
        )
        .group_by(d.c.buyer_id, d.c.participant_id)
        .subquery()
    )
    persons = (
        select(
            person.c.buyer_id,
            person.c.participant_id,
            person.c.first_month,
            person.c.active,
            Participant.criterion.label("criterion"),
            Participant.sex.label("sex"),
            _age_band(Participant.birth_year, m.year).label("band"),
        )
        .join(Participant, Participant.id == person.c.participant_id)
        .cte("persons_by_buyer")
    )
    # Each participant of the territory, from theirs by buyer (the first month of all, active
    # for any): they are one person of the territory, however many buyers they worked for.
    breakdowns = [persons.c[breakdown] for breakdown in PEOPLE]
    anyone = (
        select(
            func.min(persons.c.first_month).label("first_month"),
            func.max(persons.c.active).label("active"),
            *breakdowns,
        )
        .group_by(persons.c.participant_id, *breakdowns)
        .subquery()
    )
    none = null()

    def tag(name: str) -> Any:
        return literal_column(f"'{name}'")

    def people(source: Any, by_buyer: bool) -> list[Any]:
        """The three breakdowns: the participants counted once per criterion x sex x age band
        (and buyer), then added up by breakdown."""
        keys = [source.c.buyer_id] if by_buyer else []
        kinds = [source.c[breakdown] for breakdown in PEOPLE]
        found = (
            select(
                *keys,
                *kinds,
                func.sum(_flag(source.c.first_month == m)).label("new"),
                func.sum(source.c.active).label("active"),
                func.count().label("everyone"),
            )
            .group_by(*keys, *kinds)
            .cte("people_by_buyer" if by_buyer else "people")
        )
        return [
            select(
                tag(("p" if by_buyer else "P") + breakdown),
                found.c.buyer_id if by_buyer else none,
                found.c[breakdown],
                func.sum(found.c.new),
                func.sum(found.c.active),
                func.sum(found.c.everyone),
            ).group_by(*([found.c.buyer_id] if by_buyer else []), found.c[breakdown])
            for breakdown in PEOPLE
        ]

    def contracts(by_buyer: bool) -> Any:
        keys = [d.c.buyer_id] if by_buyer else []
        seen = (
            select(*keys, d.c.kind, d.c.participant_id, func.max(d.c.active).label("active"))
            .group_by(*keys, d.c.kind, d.c.participant_id)
            .subquery()
        )
        return select(
            tag("c" if by_buyer else "C"),
            seen.c.buyer_id if by_buyer else none,
            seen.c.kind,
            func.sum(seen.c.active),
            func.count(),
            none,
        ).group_by(*([seen.c.buyer_id] if by_buyer else []), seen.c.kind)

    modes = select(
        tag("m"), d.c.buyer_id, d.c.mode, func.sum(d.c.month_hours), func.sum(d.c.hours), none
    ).group_by(d.c.buyer_id, d.c.mode)
    outcomes = _counted_outcomes(period, buyer_id, lines, buyers)
    branches = [*people(persons, True), modes, contracts(True), outcomes]
    if buyer_id is None:
        branches += [*people(anyone, False), contracts(False)]
    found = _LineFigures(*(defaultdict(dict) for _ in range(4)))
    territory_modes: dict[str | None, tuple[int, int]] = {}
    territory_outcomes: dict[str, tuple[int, int]] = {}
    for name, bid, key, first, second, third in session.execute(union_all(*branches)):
        if name[0] in "pP":
            found.participants[bid][(name[1:], key)] = (
                int(first or 0),
                int(second or 0),
                int(third),
            )
        elif name == "m":
            found.modes[bid][key] = (_hours_of(first), _hours_of(second))
            if buyer_id is None:  # the territory's: added up in hundredths, as SQL would
                before = territory_modes.get(key, (0, 0))
                territory_modes[key] = (before[0] + int(first or 0), before[1] + int(second or 0))
        elif name == "o":
            counts = (int(first or 0), int(second))
            if bid is not None:  # an outcome tied to no clause counts in the territory's only
                found.outcomes[bid][str(key)] = counts
            before = territory_outcomes.get(str(key), (0, 0))
            territory_outcomes[str(key)] = (before[0] + counts[0], before[1] + counts[1])
        else:
            found.contracts[bid][key] = (Decimal(int(first or 0)), Decimal(int(second)))
    if territory_modes:
        found.modes[None] = {
            k: (_hours_of(m), _hours_of(c)) for k, (m, c) in territory_modes.items()
        }
    if territory_outcomes and buyer_id is None:
        found.outcomes[None] = territory_outcomes
    if buyer_id is not None:
        for table in (found.participants, found.modes, found.contracts, found.outcomes):
            if buyer_id in table:
                table[None] = table[buyer_id]
    return found


def _counted_outcomes(period: _Period, buyer_id: int | None, lines: Any, buyers: Any) -> Any:
    """The branch of ``_line_figures`` for outcomes: per buyer and type, each participant x
    clause once, by its latest outcome dated up to M's end (``latest_up_to``), in the month when
    that one is dated in M (its latest in M, then), each while it counts. ``counted`` asks
    whether its participant has a line of hours worked on its clause among the declarations
    known at ``as_of``: ``lines`` (those very lines, grouped by clause and participant) answers
    it from rows the statement holds already, where ``counted`` would read the lines again.
    ``buyers``: the buyer of each clause of the scope. Outcomes tied to no clause come with no
    buyer (NULL), for the territory only."""
    in_month = case((Outcome.date >= period.month, 1), else_=0)
    worked_on_clause = (
        select(lines.c.clause_id)
        .where(
            lines.c.clause_id == Outcome.clause_id,
            lines.c.participant_id == Outcome.participant_id,
        )
        .correlate(Outcome)
        .exists()
    )
    statement = select(
        literal_column("'o'"),
        buyers.c.buyer_id,
        Outcome.type,
        func.sum(in_month),
        func.count(),
        null(),
    ).where(latest_up_to(period.last))
    if buyer_id is None:
        statement = statement.select_from(Outcome).outerjoin(
            buyers, buyers.c.clause_id == Outcome.clause_id
        )
        statement = statement.where(or_(Outcome.clause_id.is_(None), worked_on_clause))
    else:
        statement = statement.select_from(Outcome).join(
            buyers, buyers.c.clause_id == Outcome.clause_id
        )
        statement = statement.where(worked_on_clause)
    return statement.group_by(buyers.c.buyer_id, Outcome.type)


def _hours_by_month(
    session: Session, period: _Period, buyer_id: int | None
) -> dict[int | None, tuple[MonthHours, ...]]:
    """Per scope, every month from the scope's first declared one to M, zeros included: one
    GROUP BY buyer and month; the territory's months are the buyers' added up (every declaration
    is of a clause, of a market, of an operation, of one buyer)."""
    statement = (
        select(Operation.buyer_id, Declaration.month, func.sum(Declaration.total_hours))
        .select_from(Declaration)
        .join(Clause, Clause.id == Declaration.clause_id)
        .join(Market, Market.id == Clause.market_id)
        .join(Operation, Operation.id == Market.operation_id)
        .where(Declaration.month <= period.month, period.received())
        .group_by(Operation.buyer_id, Declaration.month)
    )
    if buyer_id is not None:
        statement = statement.where(Operation.buyer_id == buyer_id)
    found: dict[int | None, dict[date, Decimal]] = defaultdict(dict)
    for bid, month, hours in session.execute(statement):
        for scope in (None, int(bid)):
            found[scope][month] = found[scope].get(month, Decimal(0)) + _dec(hours)
    series = {}
    for scope, by_month in found.items():
        months = []
        current = month_start(min(by_month))
        while current <= period.month:
            months.append(MonthHours(current, by_month.get(current, Decimal(0))))
            current = add_months(current, 1)
        series[scope] = tuple(months)
    return series


# --- Folding aggregated rows into tables ----------------------------------------------------------


def _people(
    found: Mapping[tuple[str, Any], tuple[int, int, int]],
    breakdown: str,
    codes: Iterable[str],
    labels: Mapping[Any, str],
    key: Callable[[Any], str] = str,
) -> tuple[ParticipantCount, ...]:
    """One breakdown of participants: every category of the closed list, then any other."""
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for (kind, code), figures in found.items():
        if kind != breakdown:
            continue
        target = sums[key(code)]
        for i, value in enumerate(figures):
            target[i] += value
    order = [str(c) for c in codes]
    extra = sorted(k for k in sums if k not in order)
    return tuple(
        ParticipantCount(code, category_label(labels, code), *sums.get(code, [0, 0, 0]))
        for code in order + extra
    )


@dataclass(frozen=True)
class _Found:
    """The aggregated rows of one scope, before folding."""

    participants: Mapping[tuple[str, Any], tuple[int, int, int]]  # see ``_LineFigures``
    modes: Mapping[str | None, tuple[Decimal, Decimal]]
    contracts: Mapping[str | None, tuple[Decimal, Decimal]]
    outcomes: Mapping[str, tuple[int, int]]
    stages: Mapping[str, int]
    declarations: Declarations


def _figures(
    lines: Iterable[ClauseLine],
    found: _Found,
    outcome_groups: Mapping[str, str] | None,
) -> Figures:
    scope_lines = list(lines)
    participants = found.participants
    # Every participant is in one criterion: the breakdown by criterion adds up to everyone.
    totals = [sum(f[i] for (kind, _), f in participants.items() if kind == "criterion")
              for i in range(3)]  # fmt: skip
    sex_labels: dict[str, str] = {str(k): v for k, v in SEX_LABELS.items()}
    sex_labels[UNKNOWN] = UNKNOWN_LABEL
    age_labels: dict[str, str] = {str(k): v for k, v in AGE_BAND_LABELS.items()}
    by_type, by_group = outcome_tables(found.outcomes, outcome_groups)
    return Figures(
        terminated=terminated_paces(scope_lines),
        progress=combine_progress(c.progress for c in scope_lines),
        followed=sum(1 for c in scope_lines if c.followed),
        declarations=found.declarations,
        participants=ParticipantCount("all", "Ensemble", *totals),
        by_criterion=_people(
            participants, "criterion", list(CRITERION_LABELS), CRITERION_LABELS, lambda c: c
        ),
        by_sex=_people(participants, "sex", list(sex_labels), sex_labels, lambda s: s or UNKNOWN),
        by_age_band=_people(participants, "band", list(age_labels), age_labels),
        hours_by_mode=category_counts(found.modes, DELIVERY_MODE_LABELS),
        contracts_by_type=category_counts(found.contracts, CONTRACT_LABELS),
        outcomes_by_type=by_type,
        outcomes_by_group=by_group,
        clauses_by_stage=tuple(
            StageCount(stage.value, STAGE_LABELS[stage], found.stages.get(stage.value, 0))
            for stage in Stage
        ),
    )


def _reporting(session: Session) -> None:
    """PostgreSQL settings for this transaction only (``SET LOCAL``), made for queries that read
    whole tables once a month: no JIT compilation (it took longer than running them: 1.3 s of
    4.2 s for the declaration lines of 10^5 lots), and enough memory for their hash tables and
    sorts not to spill to disk (the declaration lines of 10^5 lots grouped by buyer and
    participant: 5.1 s with the default 4 MB, 3.0 s with 64 MB)."""
    session.execute(text("SET LOCAL jit = off"))
    session.execute(text(f"SET LOCAL work_mem = '{REPORTING_WORK_MEM}'"))


#: ``work_mem`` of the transaction compiling the summaries (``_reporting``).
REPORTING_WORK_MEM = "64MB"


@dataclass(frozen=True)
class MonthSummaries:
    """A month's summaries, compiled together: the territory's (or one buyer's, when compiled
    for one buyer) and each buyer's, from one set of GROUP BY queries over the whole scope."""

    summary: MonthlySummary  # the scope's: the facilitator's, or the buyer's it was compiled for
    by_buyer: Mapping[int, MonthlySummary]  # each buyer's own, as ``compile_summary`` gives it
    #: Buyers with clauses in execution or follow-up at the end of the month (by the rule of
    #: ``_stage_rule``), or with hours declared in it: those written to.
    informed: tuple[int, ...]
    #: The suspended stretches ``_clauses`` read (the counted lots ever suspended) and every lot
    #: ever suspended: ``_queue_month`` hands them to ``called_months``, which reads no more.
    suspended: Mapping[int, list[Interval]] = field(default_factory=dict)
    ever_suspended: frozenset[int] = frozenset()

    def of_buyer(self, buyer_id: int) -> MonthlySummary:
        return self.by_buyer[buyer_id]


def compile_month(
    session: Session,
    month: date,
    *,
    buyer_id: int | None = None,
    now: datetime | None = None,
    zone: ZoneInfo | None = None,
    outcome_groups: Mapping[str, str] | None = None,
) -> MonthSummaries:
    """Every summary of ``month`` as known at ``now``: the territory's and each buyer's (or one
    buyer's, for ``buyer_id``), from a fixed number of queries whatever the number of buyers.

    ``zone`` says where the month ends for instants (clause creation, stages); UTC when not
    given. ``outcome_groups`` is the setting of the same name (type -> group overrides).
    """
    if now is not None:
        require_aware(now)
    month = month_start(month)
    buyer_name = None
    if buyer_id is not None:
        buyer = session.get(Buyer, buyer_id)
        if buyer is None:
            raise NotFound(f"Aucun donneur d'ordre n° {buyer_id}.")
        buyer_name = buyer.name
    period = _period(month, zone, now)
    if is_postgresql(session):
        _reporting(session)

    clauses = _clauses(session, period, buyer_id)
    lines = clauses.lines
    declarations = _declarations(session, period, buyer_id, clauses.asked, clauses.suspended)
    earlier_missing = _earlier_missing(
        session, period, buyer_id, clauses.ever_suspended, clauses.asked
    )
    for scope, (earlier, waiting) in earlier_missing.items():
        declarations[scope] = replace(
            declarations.get(scope, Declarations(0, ())), earlier=earlier, earlier_pending=waiting
        )
    declared = _line_figures(session, period, buyer_id)
    people, modes, contracts = declared.participants, declared.modes, declared.contracts
    outcomes = declared.outcomes
    stages = clauses.stages
    hours = _hours_by_month(session, period, buyer_id)
    clauses.asked = set()  # no longer needed

    by_buyer_lines: dict[int | None, list[ClauseLine]] = defaultdict(list)
    for line in lines:
        by_buyer_lines[line.buyer_id].append(line)
    by_buyer_lines[None] = lines

    def figures_of(scope: int | None) -> Figures:
        found = _Found(
            people.get(scope, {}),
            modes.get(scope, {}),
            contracts.get(scope, {}),
            outcomes.get(scope, {}),
            stages.get(scope, {}),
            declarations.get(scope, Declarations(0, ())),
        )
        return _figures(by_buyer_lines.get(scope, []), found, outcome_groups)

    buyer_ids = {
        key
        for table in (people, modes, contracts, outcomes, stages, declarations)
        for key in table
        if key is not None
    } | {line.buyer_id for line in lines}
    names: dict[int, str] = {}
    for chunk in chunked(sorted(buyer_ids)):
        statement = select(Buyer.id, Buyer.name).where(Buyer.id.in_(chunk))
        names.update((bid, name) for bid, name in session.execute(statement))
    buyers = tuple(
        BuyerFigures(bid, names[bid], figures_of(bid))
        for bid in sorted(buyer_ids, key=lambda b: (names[b], b))
    )

    def summary_of(
        scope: int | None, figures: Figures, listed: tuple[BuyerFigures, ...]
    ) -> MonthlySummary:
        return MonthlySummary(
            month=month,
            buyer_id=scope,
            buyer_name=names.get(scope) if scope is not None else None,
            compiled_at=now,
            overall=figures,
            buyers=listed,
            clauses=tuple(by_buyer_lines.get(scope, ())),
            hours_by_month=hours.get(scope, ()),
            zone=period.zone,
            ended_since=tuple(e for e in ended_since if scope is None or e.buyer_id == scope),
        )

    ended_since = tuple(clauses.ended_since[cid] for cid in sorted(clauses.ended_since))
    by_buyer = {b.buyer_id: summary_of(b.buyer_id, b.figures, (b,)) for b in buyers}
    informed = tuple(sorted(b for b in clauses.informed if buyer_id is None or b == buyer_id))
    # Written to for hours of clauses the month does not count (loaded by hand, recorded after
    # ``now``): a summary with nothing but its hours by month, as compiled for it alone.
    for bid in (b for b in informed if b not in by_buyer):
        names[bid] = session.get_one(Buyer, bid).name
        by_buyer[bid] = summary_of(bid, figures_of(bid), ())
    if buyer_id is None:
        summary = summary_of(None, figures_of(None), buyers)
    elif buyer_id in by_buyer:
        summary = by_buyer[buyer_id]
    else:  # a buyer with nothing in the month: its summary says so
        summary = replace(
            summary_of(None, figures_of(None), ()), buyer_id=buyer_id, buyer_name=buyer_name
        )
    return MonthSummaries(summary, by_buyer, informed, clauses.suspended, clauses.ever_suspended)


def compile_summary(
    session: Session,
    month: date,
    *,
    buyer_id: int | None = None,
    now: datetime | None = None,
    zone: ZoneInfo | None = None,
    outcome_groups: Mapping[str, str] | None = None,
) -> MonthlySummary:
    """The figures of ``month`` as known at ``now``, overall and per buyer, or for one buyer
    (see ``compile_month``, which compiles them all at once)."""
    return compile_month(
        session, month, buyer_id=buyer_id, now=now, zone=zone, outcome_groups=outcome_groups
    ).summary


def compile_for(
    app: App, month: date, *, buyer_id: int | None = None, now: datetime | None = None
) -> MonthlySummary:
    """The summary as the service and ``clauses summary`` compile it: at ``now`` (the app's
    clock when not given), with the configured zone and outcome groups. One code path, so an
    email and the command run at the same moment show the same figures."""
    moment = now or app.clock()
    with app.transaction() as session:
        return compile_summary(
            session,
            month,
            buyer_id=buyer_id,
            now=moment,
            zone=app.settings.zone,
            outcome_groups=app.settings.outcome_groups,
        )


# --- Queueing the emails --------------------------------------------------------------------------


def summary_timing(settings: Settings) -> SummaryTiming:
    """The general calendar's moment for the monthly summaries (lots and buyers with a calendar
    of their own do not move it: one summary covers them all)."""
    return SummaryTiming(
        due_day=settings.declaration_due_day,
        delay=settings.summary_delay_days,
        at=settings.summary_time,
        zone=settings.zone,
    )


def _first_activity(session: Session) -> date | None:
    """The earliest month a summary could cover: the first start date or declared month (the
    months the work was done in, never the day it was recorded)."""
    first_start = session.scalar(select(func.min(Clause.start_date)))
    first_declaration = session.scalar(select(func.min(Declaration.month)))
    candidates = [month_start(d) for d in (first_start, first_declaration) if d is not None]
    return min(candidates) if candidates else None


def _has_followed_clause(session: Session, month: date, now: datetime, zone: ZoneInfo) -> bool:
    """At least one clause followed in ``month`` as known at ``now`` (the rule of the summary
    itself), or one in follow-up then (its buyer is written to, ``WRITTEN_TO``): without either, a summary would
    say nothing and go to nobody. Asked as "is there one", so that the database stops at the
    first clause found: with hours declared in the month; started by the end of the month and
    not ended before it (or past its planned end, its end not recorded); in follow-up at the
    end of the month.

    The last: a territory whose only lot was terminated (or achieved) in November, with its
    declarations still missing, sent no December summary, not even recorded as skipped, while
    ``compile_month`` writes to that lot's buyer (its lot in follow-up) and the README says a
    buyer with a lot in follow-up gets one; it is there that its missing months are named."""
    period = _period(month, zone, now)
    stage_now = (
        func.coalesce(_history_stage(now), Clause.stage) if now is not None else Clause.stage
    )
    stage_then = _stage_rule(period, _history_stage(period.end_instant), stage_now)
    # Two questions, not one with an OR: each has its index (declarations by month, lots by
    # start date), where the OR of both made PostgreSQL read every lot (issue 12, item 4).
    worked = (
        select(Declaration.clause_id)
        .join(Clause, Clause.id == Declaration.clause_id)
        .where(Declaration.month == month, period.received(), _known(period))
        .group_by(Declaration.clause_id)
        .having(func.sum(Declaration.total_hours) > 0)
        .limit(1)
    )
    if session.execute(worked).first() is not None:
        return True
    started = (
        select(Clause.id)
        .where(
            _known(period),
            Clause.start_date.is_not(None),
            Clause.start_date <= period.last,
            or_(_works_in(period), _past_planned_end(stage_then)),
            stage_then.in_(STARTED),
        )
        .limit(1)
    )
    if session.execute(started).first() is not None:
        return True
    # Asked last, and only when nothing ran in the month: a lot in follow-up then, started by
    # its end (the stage rule, as ``_clauses`` reads it for the buyers it writes to). Never a
    # lot in execution whose works start after the month (started early in the service: the
    # month counts no clause, its summary would go to a buyer with nothing to read).
    in_follow_up = (
        select(Clause.id)
        .where(
            _known(period),
            Clause.start_date.is_not(None),
            Clause.start_date <= period.last,
            stage_then == Stage.FOLLOW_UP.value,
        )
        .limit(1)
    )
    return session.execute(in_follow_up).first() is not None


def _last_done(session: Session) -> date | None:
    period = session.scalar(select(func.max(PeriodicRun.period)).where(PeriodicRun.job == JOB))
    if period is None:
        return None
    return datetime.strptime(period, "%Y-%m").date()


def claim_period(session: Session, job: str, period: str, now: datetime) -> bool:
    """Record that ``job`` produced ``period``; False when someone already had.

    ``ON CONFLICT DO NOTHING``: a second instance waits for the first one's transaction and then
    inserts nothing, so the emails that follow are written by exactly one of them.
    """
    statement = insert_ignoring(session, PeriodicRun, "job", "period").values(
        job=job, period=period, done_at=now
    )
    return bool(getattr(session.execute(statement), "rowcount", 0))


def _contacts(session: Session, buyer_ids: Iterable[int]) -> dict[int, list[Recipient]]:
    """Each buyer's contacts with an address, in their order: a few queries for all of them."""
    found: dict[int, list[Recipient]] = defaultdict(list)
    for chunk in chunked(sorted(buyer_ids)):
        statement = (
            select(BuyerContact.buyer_id, BuyerContact.name, BuyerContact.email)
            .where(BuyerContact.buyer_id.in_(chunk))
            .order_by(BuyerContact.buyer_id, BuyerContact.id)
        )
        for bid, name, email in session.execute(statement):
            if email:
                found[bid].append(Recipient(name, email))
    return found


def _email(
    summary: MonthlySummary,
    key: str,
    kind: str,
    to: list[Recipient],
    since: SinceLast | None = None,
) -> EmailToQueue:
    context, attachments = summary_email(summary, since)
    return EmailToQueue(key, kind, to, context, attachments=attachments)


@dataclass(frozen=True)
class _Previous:
    """A recipient's latest summary written before this one: its month, its moment (the
    ``now`` it was compiled at, its outbox row's ``created_at``) and when it left (None: not
    yet)."""

    month: date
    at: datetime
    sent_at: datetime | None = None


#: States of a summary that never reached its reader, nor will by itself: refused, given up,
#: taken back (``outbox.OutboxState``). Such a summary is not « ma synthèse précédente »: its
#: reader never saw its figures.
NEVER_LEFT = (OutboxState.FAILED.value, OutboxState.DEAD.value, OutboxState.CANCELLED.value)
#: Where the recipient starts in a summary's key, ``summary:2027-02:buyer:12`` (SQL counts
#: from 1): « facilitator », « buyer:12 ».
_RECIPIENT_AT = len("summary:2027-02:") + 1


def _previous_summaries(
    session: Session, before: datetime, month: date | None = None
) -> tuple[_Previous | None, dict[int, _Previous]]:
    """The facilitator's latest summary written before ``before``, and each buyer's, of a month
    before ``month`` when given: one row per recipient, ranked in SQL (``row_number`` over the
    recipient part of the key, the same on SQLite and PostgreSQL), never every summary ever
    written. A summary that never left (``NEVER_LEFT``) does not count."""
    recipient = func.substr(OutboxMessage.key, _RECIPIENT_AT)
    rank = func.row_number().over(
        partition_by=recipient,
        order_by=(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()),
    )
    ranked = select(
        OutboxMessage.key.label("key"),
        OutboxMessage.created_at.label("created_at"),
        OutboxMessage.sent_at.label("sent_at"),
        rank.label("rank"),
    ).where(
        OutboxMessage.kind.in_(KINDS),
        OutboxMessage.key.like("summary:%"),
        OutboxMessage.created_at < before,
        OutboxMessage.state.not_in(NEVER_LEFT),
    )
    if month is not None:
        # Keys name the month as « YYYY-MM » from their 9th character: an earlier month sorts
        # before, whatever the collation.
        ranked = ranked.where(func.substr(OutboxMessage.key, 9, 7) < f"{month:%Y-%m}")
    inner = ranked.subquery()
    rows = session.execute(
        select(inner.c.key, inner.c.created_at, inner.c.sent_at).where(inner.c.rank == 1)
    )
    facilitator: _Previous | None = None
    buyers: dict[int, _Previous] = {}
    for key, created_at, sent_at in rows:
        parts = key.split(":")
        if len(parts) < 3:
            continue
        try:
            found = _Previous(
                datetime.strptime(parts[1], "%Y-%m").date(),
                created_at,
                sent_at,
            )
        except ValueError:
            continue
        if parts[2:] == ["facilitator"]:
            facilitator = found
        elif len(parts) == 4 and parts[2] == "buyer" and parts[3].isdigit():
            buyers[int(parts[3])] = found
    return facilitator, buyers


def previous_summary(
    session: Session, before: datetime, month: date, buyer_id: int | None
) -> _Previous | None:
    """One recipient's previous summary as ``_queue_month`` finds it (``audit verify`` asks it
    of each email it reads again)."""
    facilitator, buyers = _previous_summaries(session, before, month)
    return facilitator if buyer_id is None else buyers.get(buyer_id)


def skipped_months(session: Session, now: datetime) -> dict[date, datetime]:
    """The months claimed as not sent by ``now`` (``JOB_SKIPPED``), with the moment each was
    claimed (the moment of the summary that went in their stead)."""
    rows = session.execute(
        select(PeriodicRun.period, PeriodicRun.done_at).where(
            PeriodicRun.job == JOB_SKIPPED, PeriodicRun.done_at <= now
        )
    )
    found = {}
    for period, done_at in rows:
        try:
            found[datetime.strptime(period, "%Y-%m").date()] = done_at
        except ValueError:
            continue
    return found


def _total_then(group: list[DeclarationFacts], moment: datetime) -> Decimal | None:
    """The total the declarations of one company x lot x month gave at ``moment`` (a cancelled
    one and the month declared again are two facts of the same month); None: none then."""
    totals = [hours for hours, _ in (f.hours_then(moment) for f in group) if hours is not None]
    return sum(totals, Decimal(0)) if totals else None


_UTC = ZoneInfo("UTC")
#: (clause id, company id, month): a company's month on a lot.
MonthKey = tuple[int, int, date]


@dataclass(frozen=True)
class CalledMonth:
    """A company's month as its arrival's lateness is read from: its ladder's call, when it
    left, with the due date it gave and its lot's suspensions, from which the date the company
    was held to is counted (``late_at``); else what the summary's own rule (``is_late``) reads
    of a month without a call (``late``).

    ``due_on`` and ``called_at`` None: no call left for the month. ``opened``: its ladder exists
    all the same, its call waiting for its slot (the summary said it « pas encore due »).
    Without a ladder: the company's next call month and the months it is asked
    (``AwardParty``), which say whether the summary called it « manquante »."""

    due_on: date | None
    called_at: datetime | None
    suspended: tuple[Interval, ...] = ()
    opened: bool = True
    next_call_month: date | None = None
    first_month: date | None = None
    last_month: date | None = None
    #: Its calls before a cancellation asked it again, called afresh (``ladders_then``): a
    #: moment before the call of today reads the one in force then.
    earlier: tuple[EarlierCall, ...] = ()

    def late_at(self, moment: datetime, zone: ZoneInfo) -> bool:
        """Whether a declaration recorded at ``moment`` came after the due date its company was
        held to, as the summary says a month missing is late (``_declarations``, ``is_late``):
        its call left by then and the date it gave, pushed by the suspended working days after
        it known by then, is past on the local day of ``moment``: the call in force at
        ``moment`` (``ladders_then``)."""
        due_on, called_at = ladder_then(self.due_on, self.called_at, self.earlier, moment, zone)
        if due_on is None or called_at is None:
            return False
        day = local_date(moment, zone)
        known = _suspensions_known(self.suspended, moment)
        if known:
            days = LadderDays(suspended_days(known, zone, day))
            due_on = pushed_due(due_on, local_date(called_at, zone), days)
        return is_late(
            date.min, moment, zone, due_on=due_on, called_at=called_at, next_call_month=None
        )

    def late(
        self, month: date, arrived_at: datetime, previous_at: datetime, zone: ZoneInfo
    ) -> bool | None:
        """Whether a declaration of ``month`` that arrived at ``arrived_at``, not counted by the
        summary of ``previous_at``, arrived late: True, False, or None when nothing says.

        - Its call left: after the date it was held to or not (``late_at``).
        - Its ladder opened, its call not left: not late (the summary said it « pas encore
          due »; its company was not asked yet).
        - No ladder (lots loaded by hand, no call planned; months from before the service
          started): late when the previous summary called it « manquante » by its own rule
          (``is_late`` without a due date, at ``previous_at``: no call planned, or the next one
          for a later month), a month the company is asked; else None: nobody gave it a date,
          and « sans retard » would contradict nothing but assert what nobody checked."""
        due_on, called_at = ladder_then(self.due_on, self.called_at, self.earlier, arrived_at, zone)
        if called_at is not None and due_on is not None:
            return self.late_at(arrived_at, zone)
        if self.opened:
            return False
        if not expected_of_company(month, self.first_month, self.last_month, declared=False):
            return None
        missing = is_late(
            month,
            previous_at,
            zone,
            due_on=None,
            called_at=None,
            next_call_month=self.next_call_month,
        )
        return True if missing else None


def called_months(
    session: Session,
    keys: Iterable[MonthKey],
    suspended: Mapping[int, list[Interval]] | None = None,
    ever_suspended: AbstractSet[int] | None = None,
) -> dict[MonthKey, CalledMonth]:
    """The months ``keys`` with what tells their arrival late or not (``CalledMonth``): their
    ladders (called or only opened) and, for those without one, their company's next call month
    and months (``AwardParty``); with their lots' suspensions. Two reads, ``IN_BATCH`` lots at a
    time, of the months asked only, and the suspensions of those ever suspended: the few lots a
    summary names.

    ``suspended``, ``ever_suspended``: the stretches the caller already read (``_clauses``: the
    counted lots ever suspended) and which lots were ever suspended; only the lots among the
    latter and not the former are read again. Not given: read here (``_suspended``)."""
    wanted = set(keys)
    months = sorted({k[2] for k in wanted})
    ladders: dict[MonthKey, tuple[date | None, datetime | None]] = {}
    parties: dict[tuple[int, int], tuple[date | None, date | None, date | None]] = {}
    for chunk in chunked(sorted({k[0] for k in wanted})):
        for cid, company_id, month, due_on, called_at in session.execute(
            select(
                DeclarationLadder.clause_id,
                DeclarationLadder.company_id,
                DeclarationLadder.month,
                DeclarationLadder.due_on,
                DeclarationLadder.called_at,
            ).where(DeclarationLadder.clause_id.in_(chunk), DeclarationLadder.month.in_(months))
        ):
            if (cid, company_id, month) in wanted:
                ladders[(cid, company_id, month)] = (due_on, called_at)
        lots = set(chunk)
        if not any(k[0] in lots and k not in ladders for k in wanted):
            continue
        for cid, company_id, next_month, first, last in session.execute(
            select(
                AwardParty.clause_id,
                AwardParty.company_id,
                AwardParty.next_call_month,
                AwardParty.first_month,
                AwardParty.last_month,
            ).where(AwardParty.clause_id.in_(chunk))
        ):
            parties[(cid, company_id)] = (next_month, first, last)
    lots_called = {k[0] for k, (_, called_at) in ladders.items() if called_at is not None}
    if suspended is None or ever_suspended is None:
        stretches = _suspended(session, lots_called) if lots_called else {}
    else:
        stretches = dict(suspended)
        unread = (lots_called & set(ever_suspended)) - set(suspended)
        if unread:
            stretches.update(_suspended(session, unread, ever_suspended))
    # Those a cancellation asked again, called afresh: their earlier calls (``ladders_then``).
    earlier = earlier_calls(session, keys=ladders) if ladders else {}
    found: dict[MonthKey, CalledMonth] = {}
    for key in wanted:
        cid, company_id, month = key
        if key in ladders:
            due, left = ladders[key]
            found[key] = CalledMonth(
                due, left, tuple(stretches.get(cid, ())), earlier=earlier.get(key, ())
            )
        elif (cid, company_id) in parties:
            next_month, first, last = parties[(cid, company_id)]
            found[key] = CalledMonth(None, None, (), False, next_month, first, last)
    return found


def declaration_changes(
    declarations: Iterable[DeclarationFacts],
    previous: _Previous,
    now: datetime,
    before_month: date,
    lots: Mapping[int, str] | None = None,
    called: Mapping[MonthKey, CalledMonth] | None = None,
    zone: ZoneInfo | None = None,
) -> tuple[tuple[DeclarationChange, ...], tuple[LateArrival, ...]]:
    """The declarations of a month the ``previous`` summary covered (up to its own and before
    ``before_month``) whose total changed between its moment and ``now``: corrected, or
    cancelled (declared again or not), counted by it (``DeclarationChange``); or not counted by
    it, arrived since (``LateArrival``). Read from the declarations' history
    (``audit.receipts.load_declarations``: a row per recording and per cancellation), each side
    as it stood at its moment: what the previous email said, what this one counts. The caller
    hands only the recipient's own declarations (a buyer's lots, or the whole territory).

    An arrival is late only when its month's call had left by then and the date the company was
    held to had passed on the day it arrived, in ``zone`` (``called``, ``CalledMonth.late_at``):
    one whose call left late (a late start's or a late award's catch-up call gives the earlier
    months a later date, the previous summary said them « pas encore due »), or that was never
    asked of its company, arrived on time, and saying « en retard » of it to a buyer would blame
    a company that kept its date (review, 6 December 2026)."""
    groups: dict[tuple[int, str, date], list[DeclarationFacts]] = defaultdict(list)
    for facts in declarations:
        if facts.month > previous.month or facts.month >= before_month:
            continue
        groups[(facts.clause_id, facts.company, facts.month)].append(facts)
    changes = []
    arrivals = []
    for (clause_id, company, month), group in groups.items():
        before = _total_then(group, previous.at)
        after = _total_then(group, now)
        if after == before or (before is None and after is None):
            # Nothing moved, or arrived and cancelled since. One arrived at 0 h moves no hour
            # but is told: the reader counted it among the missing months (user trial, 6
            # December 2026: 10 missing became 6 with one arrival named).
            continue
        instants = [
            at
            for facts in group
            for at in (
                *(r.at for r in facts.recordings),
                facts.recorded_at,
                *((facts.cancelled_at,) if facts.cancelled_at is not None else ()),
            )
            if previous.at < at <= now
        ]
        if not instants:
            continue
        first = group[0]
        buyer = next((f.buyer for f in group if f.buyer), "")
        if before is None:
            # Not counted by the previous summary: arrived since, its hours in this cumul. Told
            # with the hours it arrived with and, corrected since, when and to what: « arrivée
            # le 22 mars (50,25 h), corrigée le 2 avril : 55,25 h ».
            arrived_at = min(instants)
            arrived = _total_then(group, arrived_at)
            corrected = arrived is not None and arrived != after
            company_id = next((f.company_id for f in group if f.company_id), 0)
            # Without the called months (a caller that did not read them), nothing is said
            # « sans retard » that nobody checked: the older wording. A month ``called`` does
            # not hold (no ladder, no company on the lot): nothing said either way (None).
            ladder = (called or {}).get((clause_id, company_id, month))
            late: bool | None = True
            if called is not None:
                late = (
                    None
                    if ladder is None
                    else ladder.late(month, arrived_at, previous.at, zone or _UTC)
                )
            arrivals.append(
                LateArrival(
                    clause_id,
                    first.buyer_id,
                    buyer,
                    company,
                    month,
                    after or _ZERO,
                    arrived_at,
                    lot=(lots or {}).get(clause_id, ""),
                    arrived_hours=arrived if corrected else None,
                    corrected_at=max(instants) if corrected else None,
                    late=late,
                )
            )
            continue
        cancelled = any(
            f.cancelled_at is not None and previous.at < f.cancelled_at <= now for f in group
        )
        changes.append(
            DeclarationChange(
                clause_id=clause_id,
                buyer_id=first.buyer_id,
                buyer=buyer,
                company=company,
                month=month,
                before=before,
                after=after,
                changed_at=max(instants),
                cancelled=cancelled,
                lot=(lots or {}).get(clause_id, ""),
            )
        )
    changes.sort(key=lambda c: (c.month, c.company, c.clause_id))
    arrivals.sort(key=lambda a: (a.month, a.company, a.clause_id))
    return tuple(changes), tuple(arrivals)


def since_last(
    summary: MonthlySummary,
    declarations: Iterable[DeclarationFacts],
    previous: _Previous | None,
    now: datetime,
    skipped: Mapping[date, datetime],
    lots: Mapping[int, str] | None = None,
    called: Mapping[MonthKey, CalledMonth] | None = None,
) -> SinceLast:
    """What a recipient's summary says happened since its previous one beyond this month's
    hours, so that « previous cumul + this month's hours + the hours it lists » is its cumul:
    the declarations of the months the previous one covered, corrected, cancelled or arrived
    since (``declaration_changes``); the months between the two with no summary to this
    recipient, with their hours as this summary counts them (its ``hours_by_month``): those
    claimed as not sent (``skipped``: the service was interrupted) always, the others (nothing
    of its lots followed then, or their email never left) when they have hours. Without a
    previous summary, the months skipped at this very moment, the recipient being told which
    summaries did not go. ``called``: the called months of the declarations handed
    (``called_months``), which tell an arrival late from one on time."""
    month = summary.month
    hours = {m.month: m.hours for m in summary.hours_by_month}
    if previous is None:
        unsent = tuple(
            UnsentMonth(m, hours.get(m, _ZERO), True)
            for m in sorted(skipped)
            if m < month and skipped[m] == now
        )
        return SinceLast(unsent=unsent)
    changes, arrivals = declaration_changes(
        declarations, previous, now, month, lots, called, summary.zone
    )
    between: list[UnsentMonth] = []
    current = add_months(previous.month, 1)
    while current < month:
        figure = hours.get(current, _ZERO)
        if current in skipped or figure:
            between.append(UnsentMonth(current, figure, current in skipped))
        current = add_months(current, 1)
    return SinceLast(
        month=previous.month,
        left_at=previous.sent_at or previous.at,
        sent=previous.sent_at is not None,
        changes=changes,
        arrivals=arrivals,
        unsent=tuple(between),
    )


def as_before_stage_by_end(summary: MonthlySummary) -> MonthlySummary | None:
    """``summary`` as written before ``summary_rules.STAGE_BY_END``: each lot its history said
    running at the end of the month, its end recorded since on a day before the month's last,
    counted in « Clauses par étape » and on its line in the stage its history said then
    (``audit.summary_emails`` reads such an email against it); None without such a lot."""
    if not summary.ended_since:
        return None
    was = {e.clause_id: e for e in summary.ended_since}
    follow_up = Stage.FOLLOW_UP.value
    clauses = tuple(
        replace(c, stage=was[c.clause_id].stage)
        if c.clause_id in was and c.stage == follow_up
        else c
        for c in summary.clauses
    )

    def staged(figures: Figures, ended: Iterable[EndedSince]) -> Figures:
        moved: Counter[str] = Counter()
        for e in ended:
            moved[e.stage] += 1
            moved[follow_up] -= 1
        if not moved:
            return figures
        counts = tuple(
            replace(c, clauses=c.clauses + moved[c.code]) for c in figures.clauses_by_stage
        )
        return replace(figures, clauses_by_stage=counts)

    buyers = tuple(
        replace(
            b,
            figures=staged(b.figures, (e for e in summary.ended_since if e.buyer_id == b.buyer_id)),
        )
        for b in summary.buyers
    )
    return replace(
        summary,
        overall=staged(summary.overall, summary.ended_since),
        buyers=buyers,
        clauses=clauses,
        ended_since=(),
    )


def as_before_earlier_calls_to_come(summary: MonthlySummary) -> MonthlySummary | None:
    """``summary`` as written before ``summary_rules.EARLIER_CALLS_TO_COME``: the earlier
    months owed whose call had not left at its moment in no figure (not among the earlier
    months « attendues, pas encore dues », nor in the pace's « à confirmer »); None without
    such a month (``audit.summary_emails`` reads such an email against it)."""
    if not any(not e.called for e in summary.overall.declarations.earlier_pending):
        return None

    def called(figures: Figures) -> Figures:
        declarations = figures.declarations
        kept = tuple(e for e in declarations.earlier_pending if e.called)
        return replace(figures, declarations=replace(declarations, earlier_pending=kept))

    buyers = tuple(replace(b, figures=called(b.figures)) for b in summary.buyers)
    return replace(summary, overall=called(summary.overall), buyers=buyers)


def as_before_zero_arrivals(since: SinceLast) -> SinceLast:
    """``since`` as a summary written before ``summary_rules.SINCE_LAST_ZERO_ARRIVALS`` told
    it: the declarations arrived at 0 h left out, one corrected since it arrived told with its
    hours now alone (``audit.summary_emails`` reads such an email against it)."""
    kept = tuple(
        replace(a, arrived_hours=None, corrected_at=None) for a in since.arrivals if a.hours
    )
    return replace(since, arrivals=kept)


def as_before_on_time_arrivals(since: SinceLast) -> SinceLast:
    """``since`` as a summary written before ``summary_rules.ARRIVALS_LATE_OR_NOT`` told it:
    every declaration arrived since said « en retard », one that arrived before the date its
    company was held to included (``audit.summary_emails`` reads such an email against it)."""
    return replace(since, arrivals=tuple(replace(a, late=True) for a in since.arrivals))


def lot_labels(session: Session, clause_ids: Iterable[int]) -> dict[int, str]:
    """« 2026-014 lot 05 – Peinture intérieure » for each of ``clause_ids`` (the label of the
    summary's tables, ``MissingDeclaration.lot_label``), in chunks of ``IN_BATCH``: the few lots
    whose declarations a summary says changed or arrived late."""
    found: dict[int, str] = {}
    for chunk in chunked(sorted(set(clause_ids))):
        for clause_id, market, lot, title in session.execute(
            select(Clause.id, Market.reference, Clause.lot_number, Clause.lot_title)
            .join(Market, Market.id == Clause.market_id)
            .where(Clause.id.in_(chunk))
        ):
            found[clause_id] = f"{market}{f' lot {lot}' if lot else ''} – {title}"
    return found


def _changed_declarations(
    session: Session, since: datetime, now: datetime, before_month: date
) -> list[DeclarationFacts]:
    """The declarations, with their history, of the lots where one of a month before
    ``before_month`` was recorded again (or late) or cancelled between ``since`` and ``now``:
    the few lots ``declaration_changes`` looks at. Not ``load_declarations(changed_after=…)``:
    every lot whose month was declared since is touched then, the whole territory each month.
    Their totals and history, not their lines: a change is told by its totals."""
    lots = touched_lots(since, until=now, before_month=before_month)
    return load_declarations(session, lots=lots, lines=False).all()


def _arrival_keys(
    known: Iterable[DeclarationFacts], previous: list[_Previous], month: date
) -> set[MonthKey]:
    """The company's months among ``known`` an email of ``month`` may say arrived since its
    previous summary (``previous``: every recipient's): of a month no later than the latest
    previous summary's, before ``month``, recorded (or corrected, or cancelled) after the
    earliest previous summary's moment, as ``audit.summary_emails`` keeps them. The touched
    lots' other months are not looked up (``called_months``)."""
    if not previous:
        return set()
    since = min(p.at for p in previous)
    latest = max(p.month for p in previous)
    found: set[MonthKey] = set()
    for facts in known:
        if facts.month > latest or facts.month >= month:
            continue
        instants = [facts.recorded_at, *(r.at for r in facts.recordings)]
        if facts.cancelled_at is not None:
            instants.append(facts.cancelled_at)
        if any(at > since for at in instants):
            found.add((facts.clause_id, facts.company_id, facts.month))
    return found


def _on_time(session: Session, planned: datetime, now: datetime, zone: ZoneInfo) -> datetime | None:
    """``planned`` when the summary built at ``now`` is late for it (``summary_late``) because
    the service was interrupted then: it had run before that moment (a digest, a summary
    claimed), and no pass produced anything from that moment to this pass; else None. A
    summary held on purpose while the service ran (its month's first due dates to come, a lot
    recorded later with an earlier start) is not said late: the digests of the days between
    show the service was there. Nor is the first one of a service just started (nothing ran
    before: it was not interrupted, it was not there)."""
    if not summary_late(planned, now, zone):
        return None

    def ran(*conditions: ColumnElement[bool]) -> bool:
        found = session.scalar(select(PeriodicRun.job).where(*conditions).limit(1))
        return found is not None

    if not ran(PeriodicRun.done_at < planned):
        return None
    if ran(PeriodicRun.done_at >= planned, PeriodicRun.done_at < now):
        return None
    return planned


def _queue_month(
    app: App, session: Session, month: date, now: datetime, planned: datetime | None = None
) -> int:
    """The facilitator's and every buyer's summary of ``month``, compiled together.

    Each email says what happened since its recipient's previous summary beyond the month's
    hours (``since_last``: declarations corrected, cancelled or arrived since, months without a
    summary), and, built late after a stop of the service (``planned``, ``_on_time``), that it
    is late and of which moment its figures are.

    The emails are built one after the other as ``queue_emails`` asks for them, and written
    ``QUEUE_BATCH`` at a time: a thousand buyers' emails are never all held at once."""
    period = f"{month:%Y-%m}"
    settings = app.settings
    compiled = compile_month(
        session, month, now=now, zone=settings.zone, outcome_groups=settings.outcome_groups
    )
    contacts = _contacts(session, compiled.informed)
    delayed_from = _on_time(session, planned, now, settings.zone) if planned else None
    previous, previous_of = _previous_summaries(session, now, month)
    informed = set(compiled.informed)
    previous_of = {b: p for b, p in previous_of.items() if b in informed}
    told_of = [p for p in (previous, *previous_of.values()) if p is not None]
    known = (
        _changed_declarations(session, min(p.at for p in told_of), now, month) if told_of else []
    )
    skipped = skipped_months(session, now)
    labels = lot_labels(session, (f.clause_id for f in known))
    called = called_months(
        session,
        _arrival_keys(known, told_of, month),
        compiled.suspended,
        compiled.ever_suspended,
    )
    # Each buyer's own declarations, sorted out once: a thousand buyers never each walk the
    # whole territory's changes.
    known_of: dict[int, list[DeclarationFacts]] = defaultdict(list)
    for facts in known:
        known_of[facts.buyer_id].append(facts)

    def told(
        summary: MonthlySummary, since: _Previous | None, buyer: int | None
    ) -> tuple[MonthlySummary, SinceLast]:
        mine = known if buyer is None else known_of.get(buyer, [])
        found = since_last(summary, mine, since, now, skipped, labels, called)
        if not found.changes and delayed_from is None:
            return summary, found
        return replace(summary, changes=found.changes, delayed_from=delayed_from), found

    def emails() -> Iterator[EmailToQueue]:
        facilitator = [Recipient(settings.facilitator_name, settings.facilitator_email)]
        key = f"summary:{period}:facilitator"
        summary, found = told(compiled.summary, previous, None)
        yield _email(summary, key, KIND_FACILITATOR, facilitator, found)
        for buyer_id in compiled.informed:
            if not contacts.get(buyer_id):
                log.warning(
                    "summary buyer without contact",
                    extra={"action": "summary_skipped", "buyer_id": buyer_id, "period": period},
                )
                continue
            key = f"summary:{period}:buyer:{buyer_id}"
            summary, found = told(compiled.of_buyer(buyer_id), previous_of.get(buyer_id), buyer_id)
            yield _email(summary, key, KIND_BUYER, contacts[buyer_id], found)

    return queue_emails(session, app.renderer, emails(), now=now)


#: Stages of a lot whose companies are called now (``services.reminders.CALLING_STAGES``): a
#: suspended lot's calls wait for its resumption, a day nobody knows.
CALLED = (Stage.EXECUTION.value, Stage.FOLLOW_UP.value)


def _awaits_call(session: Session, month: date, now: datetime, zone: ZoneInfo) -> bool:
    """Whether a company still has its call for ``month`` to come, planned, while its declaration
    is expected and not received at ``now``: its lot followed in the month (the summary's rule),
    called now (in execution or in follow-up), the company's next call planned
    (``next_call_at``) for this month or an earlier one (a catch-up call covers them all), no
    declaration of the month recorded for it. Asked as "is there one", from the planned calls
    (an index of the few parties with one), the lot and the declaration by their keys.

    Companies never called by the service (no correspondent, no call planned: lots loaded by
    hand) do not count: no call will give them a due date, the summary takes them at the
    contract's calendar (``monthly_summary.is_late``). Nor do lots suspended now, whose call
    waits for a resumption nobody can date."""
    period = _period(month, zone, now)
    stage_now = func.coalesce(_history_stage(now), Clause.stage)
    stage_then = _stage_rule(period, _history_stage(period.end_instant), stage_now)
    declared = (
        select(Declaration.id)
        .where(
            Declaration.clause_id == AwardParty.clause_id,
            Declaration.company_id == AwardParty.company_id,
            Declaration.month == month,
            period.received(),
        )
        .exists()
    )
    statement = (
        select(AwardParty.id)
        .join(Clause, Clause.id == AwardParty.clause_id)
        .where(
            AwardParty.next_call_at.is_not(None),
            AwardParty.next_call_month <= month,
            Clause.stage.in_(CALLED),
            _known(period),
            Clause.start_date.is_not(None),
            Clause.start_date <= period.last,
            _works_in(period),
            stage_then.in_(STARTED),
            ~declared,
        )
        .limit(1)
    )
    return session.execute(statement).first() is not None


def _first_deadline_passed(
    session: Session, month: date, now: datetime, timing: SummaryTiming
) -> datetime | None:
    """When ``month``'s summary may leave as far as its companies' due dates go: ``timing``'s
    delay after the earliest due date the companies were given for it (each ladder holds the
    date its call gave, or will give, from the moment it is opened); None while no company was
    given one yet and one still has its call to come (``_awaits_call``): the summary waits.

    In a month like the others the earliest is the calendar's own and this moment is the
    summary's usual one. After a long stop of the service every call of the month left late,
    each with a later due date: the summary waits for them, as DOMAIN asks (« it cannot leave
    before the declaration deadline of M »), instead of leaving before any, every declaration
    « pas encore due ». The same for a territory whose only lots started late: their catch-up
    call gives the month its first due date, days ahead; until it leaves, the month has none,
    and a summary then would tell the buyer « 0 reçue », « en retard » before anyone was asked
    anything. One lot started late among others on time holds nothing back (the others gave
    the month its due date). A month whose expected declarations no call will ever ask for
    (no correspondent, no call planned, lots suspended now), or all received already, is not
    held.
    """
    earliest = session.scalar(
        select(func.min(DeclarationLadder.due_on)).where(DeclarationLadder.month == month)
    )
    if earliest is None:
        if _awaits_call(session, month, now, timing.zone):
            return None
        return datetime.min.replace(tzinfo=UTC)
    return at_local(add_working_days(earliest, timing.delay), timing.at, timing.zone)


def queue_monthly_summaries(app: App, now: datetime) -> int:
    """Queue the summary of the latest month due at ``now`` if not produced yet; the number of
    emails queued.

    Only the latest due month goes, as soon as one clause was followed in it (by the rule of
    the summary: start date on or before its end, whenever the clause was recorded) and the
    summary delay has passed since the first due date its companies were given (none given
    yet while a call is to come: it waits, ``_first_deadline_passed``). Older
    months never produced (a first start with clauses back-dated, a long downtime) are not sent
    in a burst weeks late: the latest summary carries the cumulated figures. They are claimed
    under ``JOB_SKIPPED``, logged (``summary.skipped``) and named with their hours in the summary
    that goes (``since_last``); ``clauses summary --month`` produces them on demand. The month is claimed in ``periodic_runs`` and its emails written in one
    transaction, so a repeated pass or a second instance produce it once.
    """
    require_aware(now)
    zone = app.settings.zone
    timing = summary_timing(app.settings)
    latest = latest_due_month(now, timing)
    with app.transaction() as session:
        last_done = _last_done(session)
        if last_done is not None and last_done >= latest:
            return 0
        if not _has_followed_clause(session, latest, now, zone):
            return 0
        allowed = _first_deadline_passed(session, latest, now, timing)
        if allowed is None or now < allowed:
            return 0
        owed = months_to_summarise(latest, _first_activity(session), last_done)
    period = f"{latest:%Y-%m}"
    with app.transaction() as session:
        if not claim_period(session, JOB, period, now):
            return 0
        skipped = [
            month
            for month in owed[:-1]
            if _has_followed_clause(session, month, now, zone)
            and claim_period(session, JOB_SKIPPED, f"{month:%Y-%m}", now)
        ]
        # Planned: its day on the calendar, or later when held for its first due dates.
        planned = max(summary_due_at(latest, timing), allowed)
        count = _queue_month(app, session, latest, now, planned)
    if skipped:
        log.info(
            "summary.skipped",
            extra={
                "action": "summary_months_skipped",
                "periods": [f"{m:%Y-%m}" for m in skipped],
                "sent": period,
            },
        )
    log.info(
        "monthly summary queued",
        extra={"action": "summary_queued", "period": period, "emails": count},
    )
    return count


__all__ = [
    "BuyerFigures",
    "ClauseLine",
    "Count",
    "Declarations",
    "Figures",
    "MissingDeclaration",
    "MonthHours",
    "MonthSummaries",
    "MonthlySummary",
    "OutcomeCount",
    "ParticipantCount",
    "StageCount",
    "claim_period",
    "compile_for",
    "compile_month",
    "compile_summary",
    "queue_monthly_summaries",
    "summary_timing",
]
