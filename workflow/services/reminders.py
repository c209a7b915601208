"""The declaration ladders: each company in execution is called every month, then reminded, then
its buyer is alerted, until the month's declaration arrives.

The database says what is due, through two indexed columns:

- ``AwardParty.next_call_at``: when this company is next called, for ``next_call_month``. When it
  is due, ``open_due_ladders`` writes the ``DeclarationLadder`` row (unique per lot x company x
  month) of every month whose call is due by now, and moves the party past them.
- ``DeclarationLadder.next_step_at``: when the ladder's ``next_step`` is due. ``climb_due_ladders``
  queues that step's email and moves the ladder to the following step with a compare-and-set, in
  the same transaction.

The ladder as it really runs (``domain.calendar``):

- no step is ever skipped: call, then each reminder, then the buyer's alert, each counted from the
  step really sent before it; the escalation can therefore never overtake a reminder;
- a call that leaves late gives a new due date (``due_after_call``), from which reminders and the
  alert are counted; suspended working days push the due date and the steps later
  (``LadderDays``); a month entirely suspended is not called;
- every step leaves at the configured call time of a working day (``sending_slot``): after a stop
  the steps resume at that time, one after the other at the ladder's pace;
- the first call of a newly armed party waits for the next working day (``first_call_not_before``);
- the months of one company on one lot whose same step leaves at the same moment go in one email
  listing them (one catch-up call after a late start or a stop, not one call per month), keyed by
  the months it covers (``reminder_emails.step_key``); each month keeps its own row;
- a step whose email the service withdrew before it left (the lot suspended: the ladder is put
  back on it, ``suspension_withdrawals``; the month declared, then its declaration cancelled:
  ``resume_ladder``) is sent again when the ladder comes back to it, under the key of its next
  sending (``ladder_keys.sent_again_key``); one a person cancelled is not.

Both loops work in short transactions of ``BATCH_SIZE`` rows, claimed with ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL (SQLite serialises writers with ``BEGIN IMMEDIATE``), and go on until
nothing is due. A pass run twice, or two instances at once, therefore queue each step of each
month once. Recording a declaration stops its ladder in the declaration's own transaction
(``services.declarations``); a ladder found declared here is closed without an email.

A party is armed (given its first ``next_call_at``) in the transaction of the change that makes
it callable (``rearm_lot``: its lot starts, is called again, its end moves later;
``arm_company``: its company gets a correspondent, or another company is merged into it), so that
a pass reads no party that is not due: in a country, tens of thousands of companies wait on lots
not started or finished.
Once a day the first pass also arms whatever a change made outside these services left unarmed
(``arm_daily``). Lots in follow-up are still called up to their end month (the last month of
work is declared after the work ends). Suspended lots get nothing while suspended.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from jinja2 import TemplateError
from sqlalchemy import exists, or_, select, text, tuple_, update
from sqlalchemy.orm import Session, selectinload

from workflow.adapters.dialects import insert_ignoring
from workflow.adapters.orm import (
    DUE_LADDERS,
    OPEN_LADDERS,
    UNARMED_PARTIES,
    AwardParty,
    Buyer,
    Clause,
    Company,
    Correspondent,
    DeclarationLadder,
    Market,
    Operation,
    OutboxMessage,
    PeriodicRun,
)
from workflow.domain.calendar import (
    CalendarRules,
    LadderDays,
    LadderStep,
    MonthSchedule,
    add_months,
    at_local,
    due_after_call,
    first_call_not_before,
    local_date,
    month_fully_within,
    month_schedule,
    planned_step_day,
    pushed_due,
    reminder_count,
    reminder_number,
    replan_step,
    sending_slot,
    step_offsets,
    suspended_days,
)
from workflow.domain.company_months import on_its_months
from workflow.domain.events import require_aware
from workflow.domain.stages import CALLING_STAGES as CALLING_STAGES
from workflow.emails.ladder import KINDS, LadderGroup, step_kind
from workflow.services.ladder_keys import sent_again_key, withdrawn_by_service
from workflow.services.lot_calendars import (
    LotCalendar,
    declared_months,
    execution_starts,
    first_month_of,
    lot_calendars,
    suspensions,
)
from workflow.services.outbox import queue_email
from workflow.services.receipt_withdrawals import LateCall, rewrite_for_late_calls
from workflow.services.reminder_emails import (
    KEY_PREFIX,
    MAX_MONTHS_PER_EMAIL,
    LateReading,
    key_months,
    ladder_message,
    step_key,
)

if TYPE_CHECKING:
    from workflow.runtime import App
    from workflow.settings import Settings

log = logging.getLogger(__name__)

BATCH_SIZE = 200

StopCheck = Callable[[], bool]


def _never() -> bool:
    return False


@dataclass
class LadderReport:
    """What the ladder part of one pass did."""

    armed: int = 0
    opened: int = 0
    closed_declared: int = 0
    months_skipped_suspended: int = 0
    calls: int = 0
    reminders: int = 0
    escalations: int = 0
    #: Due steps held back to their call time, their pace after a stop, or a suspension.
    steps_deferred: int = 0
    no_recipient: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _in_called_lot(clause_id: Any) -> Any:
    """The row's lot is one whose companies are called now.

    A correlated ``EXISTS`` rather than a join, so that the due rows are walked on their indexed
    instant (``next_call_at``, ``next_step_at``), in the order asked, and each lot looked up by
    its key: without statistics SQLite drove the join from ``ix_clauses_stage`` instead, through
    every lot in execution and every one of its rows, then sorted them all, on every pass. With
    nothing due, that made an idle pass grow with the territory (issue 12).
    """
    return exists().where(Clause.id == clause_id, Clause.stage.in_(CALLING_STAGES))


# --- (a) arming parties and opening the month's ladders ---------------------------------------


def _has_correspondent() -> Any:
    return or_(
        AwardParty.correspondent_id.is_not(None),
        exists().where(Correspondent.company_id == AwardParty.company_id),
    )


def arm_statement() -> Any:
    """The next batch of parties to arm: never armed, their lot called now, someone to write to."""
    return (
        select(AwardParty)
        .where(
            # Never armed, written as the partial index ``ix_award_parties_unarmed`` is (so that
            # SQLite uses it too): a party parked past its lot's end, tens of thousands of them
            # in a country, is armed again by the change that moves the end (``rearm_lot``).
            text(UNARMED_PARTIES),
            # The lot looked up by its key (``_in_called_lot``'s reason: joined, SQLite would
            # walk every lot in execution instead).
            exists().where(
                Clause.id == AwardParty.clause_id,
                Clause.stage.in_(CALLING_STAGES),
                Clause.start_date.is_not(None),
            ),
            _has_correspondent(),
        )
        .order_by(AwardParty.id)
        .limit(BATCH_SIZE)
        .with_for_update(skip_locked=True, of=AwardParty)
    )


def arm_parties(app: App, now: datetime, stop: StopCheck = _never) -> int:
    """Give a first ``next_call_at`` to every party of a lot in execution that has none.

    The first call waits for the call time of the working day after the lot started (the day
    its companies were welcomed, ``first_call_not_before``), unless the first month's call is
    later anyway. The changes that make a party callable arm it themselves (``rearm_lot``,
    ``arm_company``); this sweep is the pass's safety net, run once a day (``arm_daily``).
    """
    statement = arm_statement()
    armed = 0
    while not stop():
        with app.transaction() as session:
            parties = session.scalars(statement).all()
            if not parties:
                break
            _arm(session, app.settings, parties, now)
            armed += len(parties)
    return armed


#: ``periodic_runs.job`` of the daily sweep of the parties never armed (one row a day).
ARM_SWEEP = "arm_sweep"


def arm_daily(app: App, now: datetime, stop: StopCheck = _never) -> int:
    """The pass's step (a): ``arm_parties`` once a local day, then one indexed question a pass.

    Sweeping every pass read each party never armed and looked up its lot: 4,729 of them at
    10^5 lots, mostly on lots awarded and not started, so an idle pass grew with the territory
    (issue 12). The changes that make a party callable arm it in their own transaction; what
    the sweep can still find is a party written outside the services (a script, SQL by hand,
    a version before these handlers), armed by the next day's first pass at the latest. The
    day is recorded once the sweep went through: an interrupted sweep is taken up again.
    """
    day = f"{local_date(now, app.settings.zone):%Y-%m-%d}"
    with app.transaction() as session:
        done = session.scalar(
            select(PeriodicRun.done_at).where(
                PeriodicRun.job == ARM_SWEEP, PeriodicRun.period == day
            )
        )
    if done is not None:
        return 0
    armed = arm_parties(app, now, stop)
    if stop():
        return armed
    with app.transaction() as session:
        put_right = resync_held_ladders(session)
        session.execute(
            insert_ignoring(session, PeriodicRun, "job", "period").values(
                job=ARM_SWEEP, period=day, done_at=now
            )
        )
    if put_right:
        log.warning(
            "ladders released by the daily sweep",
            extra={"action": "ladder.held_resynced", "count": put_right, "day": day},
        )
    if armed:
        log.info(
            "parties armed by the daily sweep",
            extra={"action": "ladder.armed_by_sweep", "count": armed, "day": day},
        )
    return armed


def resync_held_ladders(session: Session) -> int:
    """Each month not declared held while its lot is called, released; how many. Every change
    of stage keeps the mark (``clauses._move``): what this finds is a ladder marked outside the
    services (a script, SQL by hand). A held month of a lot called would never be reminded: the
    daily sweep releases it by the next day at the latest, as it arms a forgotten party. Reads
    the months not declared only (``ix_declaration_ladders_open``).

    It only releases. A month left unheld on a lot not called (opened by a pass at the very
    moment its lot was suspended, PostgreSQL) costs one look per pass and is never reminded
    (the climb checks the lot's stage); holding it here could race a resumption committed
    during this statement, whose ladders it would hold again, a day without reminders
    (review)."""
    called = exists().where(
        Clause.id == DeclarationLadder.clause_id, Clause.stage.in_(CALLING_STAGES)
    )
    result = session.execute(
        update(DeclarationLadder)
        .where(text(OPEN_LADDERS), DeclarationLadder.held.is_(True), called)
        .values(held=False)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _callable_lot(session: Session, clause_id: int) -> Clause | None:
    lot = session.get(Clause, clause_id)
    if lot is None or lot.stage not in CALLING_STAGES or lot.start_date is None:
        return None
    return lot


def rearm_lot(app: App, session: Session, event: Any) -> None:
    """Event handler: arm the parties of ``event.clause_id`` that have someone to write to and
    no call planned, when the lot is called (it starts, is called again after a suspension or
    a reopening) or its end moves: those never armed get their first call, those
    parked past the old end come back when their month is in the lot again (an amendment, a
    finish later than planned), called at their usual dates.

    One lot's few parties, in the transaction of the change; a no-op when none waits.
    """
    clause_id = event.clause_id
    if _callable_lot(session, clause_id) is None:
        return
    # Every party of the lot locked, then filtered here: a pass opening a party's last month
    # holds its lock and parks it on commit; asked for ``next_call_at IS NULL``, PostgreSQL would
    # skip that party without waiting (its committed row still has a call), and it would stay
    # parked past the new end. Locked, it is read again once the pass has committed.
    parties = session.scalars(
        select(AwardParty)
        .where(AwardParty.clause_id == clause_id, _has_correspondent())
        .order_by(AwardParty.id)
        .with_for_update(of=AwardParty)
        .execution_options(populate_existing=True)
    ).all()
    end_month = lot_calendars(session, [clause_id], app.settings)[clause_id].end_month
    waiting = [
        party
        for party in parties
        if party.next_call_at is None
        and (
            party.next_call_month is None  # never armed
            or end_month is None
            or party.next_call_month <= end_month
        )
        # A company that left the lot (``AwardParty.last_month``) is not called past its last
        # month, whatever the lot's end.
        and not _past_last_month(party, party.next_call_month)
    ]
    if waiting:
        _arm(session, app.settings, waiting, require_aware(event.at))


def arm_company(app: App, session: Session, event: Any) -> None:
    """Event handler: a company got a correspondent, or a duplicate was merged into it; arm its
    parties never armed on lots called now that have someone to write to (before, there was
    nobody). A few rows, by the index on ``company_id``."""
    parties = session.scalars(
        select(AwardParty)
        .where(
            AwardParty.company_id == event.company_id,
            text(UNARMED_PARTIES),
            _has_correspondent(),
        )
        .order_by(AwardParty.id)
        .with_for_update(of=AwardParty)
        .execution_options(populate_existing=True)
    ).all()
    waiting = [
        party
        for party in parties
        if party.next_call_at is None
        and party.next_call_month is None
        and _callable_lot(session, party.clause_id) is not None
    ]
    if waiting:
        _arm(session, app.settings, waiting, require_aware(event.at))


def _arm(
    session: Session, settings: Settings, parties: Sequence[AwardParty], now: datetime
) -> None:
    """Give each party its next call: its ``next_call_month`` (for a party never called, its
    first month: the lot's first, or the month it joined during the works) at that month's call
    time, not before the working day after the lot started, nor, for a company joining during
    the works (welcomed then), before the working day after ``now``."""
    ids = [p.clause_id for p in parties]
    calendars = lot_calendars(session, ids, settings)
    started = execution_starts(session, ids)
    zone = settings.zone
    for party in parties:
        lot = calendars[party.clause_id]
        welcomed = started.get(party.clause_id, now)
        if party.first_month is not None and party.next_call_month is None:
            welcomed = max(welcomed, now)  # joined during the works: welcomed now
        month = party.next_call_month or first_month_of(party.first_month, lot.start_month)
        assert month is not None  # start_date is set: filtered by the callers
        party.next_call_month = month
        party.next_call_at = max(
            month_schedule(month, lot.rules, zone).call_at,
            first_call_not_before(welcomed, lot.rules.call_time, zone),
        )
        log.info(
            "party armed",
            extra={
                "action": "ladder.armed",
                "clause_id": party.clause_id,
                "company_id": party.company_id,
                "month": f"{month:%Y-%m}",
                "call_at": party.next_call_at.isoformat(),
            },
        )


def open_due_ladders(
    app: App, now: datetime, report: LadderReport, stop: StopCheck = _never
) -> None:
    """Write the ladder of every month whose call is due, and move each party past them.

    A party late by several months (a late start, a stop of the service) gets all its due months
    opened at once, their calls waiting for the same slot so that they leave in one email.
    """
    require_aware(now)
    statement = (
        select(AwardParty)
        .where(AwardParty.next_call_at <= now, _in_called_lot(AwardParty.clause_id))
        .order_by(AwardParty.next_call_at, AwardParty.id)
        .limit(BATCH_SIZE)
        .with_for_update(skip_locked=True, of=AwardParty)
    )
    while not stop():
        with app.transaction() as session:
            parties = session.scalars(statement).all()
            if not parties:
                return
            _open_batch(app, session, parties, now, report)


def _past_last_month(party: AwardParty, month: date | None) -> bool:
    """``month`` follows the last month of a company that left the lot during the works
    (``AwardParty.last_month``, ``company_departures``): it is asked of it no more."""
    return month is not None and party.last_month is not None and month > party.last_month


def _due_months(party: AwardParty, lot: LotCalendar, now: datetime, zone: ZoneInfo) -> list[date]:
    """The months of ``party`` whose call is due at ``now``, from its ``next_call_month`` on, up
    to the lot's end and the company's last month on it (it left the site)."""
    months: list[date] = []
    month = party.next_call_month
    while (
        month is not None
        and (lot.end_month is None or month <= lot.end_month)
        and not _past_last_month(party, month)
    ):
        # The first month is due (``next_call_at`` has passed, and it is never before the
        # month's scheduled call); the following ones when their own call has passed.
        if months and month_schedule(month, lot.rules, zone).call_at > now:
            break
        months.append(month)
        month = add_months(month, 1)
    return months


def _open_batch(
    app: App,
    session: Session,
    parties: Sequence[AwardParty],
    now: datetime,
    report: LadderReport,
) -> None:
    zone = app.settings.zone
    ids = [p.clause_id for p in parties]
    calendars = lot_calendars(session, ids, app.settings)
    suspended = suspensions(session, ids)
    due = {p.id: _due_months(p, calendars[p.clause_id], now, zone) for p in parties}
    declared = declared_months(
        session, [(p.clause_id, p.company_id, m) for p in parties for m in due[p.id]]
    )
    rows: list[dict[str, Any]] = []
    late: list[LateCall] = []
    for party in parties:
        lot = calendars[party.clause_id]
        months = due[party.id]
        if not months:
            # Past the end (it moved earlier), or past the company's last month (it left the
            # site): park the party; a later end re-arms it.
            party.next_call_at = None
            continue
        extra = {"clause_id": party.clause_id, "company_id": party.company_id}
        assert party.next_call_at is not None  # selected on it
        # Every call opened now waits for the same slot: they leave together, in one email.
        call_at = sending_slot(party.next_call_at, now, lot.rules.call_time, zone)
        called: list[dict[str, Any]] = []
        scheduled: list[date] = []
        for month in months:
            if month_fully_within(month, suspended.get(party.clause_id, []), zone):
                report.months_skipped_suspended += 1
                log.info(
                    "month fully suspended, not called",
                    extra={"action": "ladder.month_suspended", "month": f"{month:%Y-%m}", **extra},
                )
                continue
            schedule = month_schedule(month, lot.rules, zone)
            declared_at = declared.get((party.clause_id, party.company_id, month))
            row = {
                "clause_id": party.clause_id,
                "company_id": party.company_id,
                "month": month,
                # The date its call will give when it leaves at ``call_at`` (the climb writes
                # it again then): a month opened late (a resumption, a stop of the service,
                # a late start) is not « late » from a date nobody was given while its call
                # waits for its slot (the day's tasks, ``declaration list``, the receipts).
                "due_on": due_after_call(schedule, local_date(call_at, zone), zone),
                "next_step": LadderStep.DONE if declared_at else LadderStep.CALL,
                "next_step_at": None if declared_at else call_at,
                "declared_at": declared_at,
                "escalated_at": None,
                "called_at": None,
                "stepped_at": None,
            }
            rows.append(row)
            if not declared_at:
                called.append(row)
                scheduled.append(schedule.due_on)
            log.info(
                "ladder opened",
                extra={
                    "action": "ladder.opened",
                    "month": f"{month:%Y-%m}",
                    "call_at": call_at.isoformat(),
                    "already_declared": declared_at is not None,
                    **extra,
                },
            )
        if called:
            # The calls opened now leave in one email, which gives them one date: the latest
            # of theirs (``_climb_batch``). Each month holds it from now on, as the call will.
            due_on = max(row["due_on"] for row in called)
            for row in called:
                row["due_on"] = due_on
            if any(day < due_on for day in scheduled):
                late.append(
                    LateCall(
                        party.clause_id,
                        party.company_id,
                        tuple(row["month"] for row in called),
                        local_date(call_at, zone),
                        due_on,
                    )
                )
        following = add_months(months[-1], 1)
        party.next_call_month = following
        if (lot.end_month is not None and following > lot.end_month) or _past_last_month(
            party, following
        ):
            party.next_call_at = None  # done; ``next_call_month`` stays past the end
        else:
            party.next_call_at = month_schedule(following, lot.rules, zone).call_at
    if rows:
        statement = (
            insert_ignoring(session, DeclarationLadder, "clause_id", "company_id", "month")
            .values(rows)
            .returning(DeclarationLadder.clause_id, DeclarationLadder.company_id)
        )
        # RETURNING counts what was really inserted (rowcount of a multi-row insert is not
        # reliable on every driver).
        inserted = session.execute(statement).all()
        report.opened += len(inserted)
        # A call opened late gives its months a new due date: the company's receipts still
        # waiting (a long stop, mail held) are written again with it before they leave, the
        # same morning as the call. Only the openings really written here (not another
        # instance's), in one read for the batch.
        opened = {(clause_id, company_id) for clause_id, company_id in inserted}
        rewrite_for_late_calls(
            app, session, [c for c in late if (c.clause_id, c.company_id) in opened], now
        )


# --- (b) climbing the ladders -----------------------------------------------------------------


def _due_ladders(now: datetime) -> Any:
    return select(DeclarationLadder).where(
        DeclarationLadder.next_step_at <= now,
        # Written as the partial index ``ix_declaration_ladders_due`` is (SQLite's condition to
        # use it): the ladders of suspended or ended lots, whose passed steps stay where they
        # were, are not even looked at. At 10^5 lots they were about 1,200, looked up one by
        # one on every pass (issue 12).
        text(DUE_LADDERS),
        # The lot's stage checked all the same: a ladder opened by a pass while its lot was
        # being suspended (PostgreSQL, two transactions) is not held.
        _in_called_lot(DeclarationLadder.clause_id),
    )


def climb_due_ladders(
    app: App, now: datetime, report: LadderReport, stop: StopCheck = _never
) -> None:
    """Queue the due step of every undeclared ladder and move it to its next step.

    A batch takes the due ladders in index order, then every other due ladder of the same
    companies on the same lots, so that the months of one company leave in one email.
    """
    require_aware(now)
    failed: set[int] = set()
    while not stop():
        statement = (
            _due_ladders(now)
            .order_by(DeclarationLadder.next_step_at, DeclarationLadder.id)
            .limit(BATCH_SIZE)
            .with_for_update(skip_locked=True, of=DeclarationLadder)
        )
        if failed:
            statement = statement.where(DeclarationLadder.id.not_in(sorted(failed)))
        with app.transaction() as session:
            ladders = list(session.scalars(statement).all())
            if not ladders:
                return
            pairs = sorted({(lad.clause_id, lad.company_id) for lad in ladders})
            seen = {lad.id for lad in ladders}
            siblings = session.scalars(
                _due_ladders(now)
                .where(
                    tuple_(DeclarationLadder.clause_id, DeclarationLadder.company_id).in_(pairs),
                    DeclarationLadder.id.not_in(sorted(seen | failed)),
                )
                .order_by(DeclarationLadder.id)
                .with_for_update(skip_locked=True, of=DeclarationLadder)
            ).all()
            ladders.extend(siblings)
            _climb_batch(app, session, ladders, now, report, failed)


def _load_lots(session: Session, clause_ids: Iterable[int]) -> dict[int, Clause]:
    statement = (
        select(Clause)
        .where(Clause.id.in_(sorted(set(clause_ids))))
        .options(
            selectinload(Clause.market)
            .selectinload(Market.operation)
            .selectinload(Operation.buyer)
            .selectinload(Buyer.contacts),
            selectinload(Clause.parties)
            .selectinload(AwardParty.company)
            .selectinload(Company.correspondents),
            selectinload(Clause.parties).selectinload(AwardParty.correspondent),
        )
    )
    return {clause.id: clause for clause in session.scalars(statement)}


@dataclass(frozen=True)
class _Due:
    """One ladder whose step leaves now, and where it goes next."""

    ladder: DeclarationLadder
    schedule: MonthSchedule
    step: str
    #: The due date the company is held to once this step is sent (for a call: its new one).
    due_on: date


def _climb_batch(
    app: App,
    session: Session,
    ladders: Sequence[DeclarationLadder],
    now: datetime,
    report: LadderReport,
    failed: set[int],
) -> None:
    zone = app.settings.zone
    today = local_date(now, zone)
    ids = [ladder.clause_id for ladder in ladders]
    lots = _load_lots(session, ids)
    calendars = lot_calendars(session, ids, app.settings)
    suspended = suspensions(session, ids)
    declared = declared_months(
        session, [(lad.clause_id, lad.company_id, lad.month) for lad in ladders]
    )
    days_of = {
        cid: LadderDays(suspended_days(suspended.get(cid, []), zone, today)) for cid in set(ids)
    }
    groups: dict[tuple[int, int, str, date], list[_Due]] = defaultdict(list)
    for ladder in sorted(ladders, key=lambda lad: (lad.clause_id, lad.company_id, lad.month)):
        declared_at = declared.get((ladder.clause_id, ladder.company_id, ladder.month))
        if declared_at is not None or ladder.next_step == LadderStep.DONE:
            # The declaration arrived by a path that did not close the ladder: close it now.
            ladder.declared_at = declared_at or ladder.declared_at
            ladder.next_step, ladder.next_step_at = LadderStep.DONE, None
            report.closed_declared += declared_at is not None
            continue
        ended = lots[ladder.clause_id].end_date
        if ended is not None and ladder.month > ended:
            # A month after the day the work ended is owed no more (``lot_ends``): a finish
            # recorded before that release existed left its ladder climbing. Stopped, silently.
            ladder.next_step, ladder.next_step_at = LadderStep.DONE, None
            log.info(
                "month after the end, not reminded",
                extra={
                    "action": "ladder.after_end",
                    "clause_id": ladder.clause_id,
                    "company_id": ladder.company_id,
                    "month": f"{ladder.month:%Y-%m}",
                },
            )
            continue
        party = next(
            (p for p in lots[ladder.clause_id].parties if p.company_id == ladder.company_id), None
        )
        if party is not None and not on_its_months(
            ladder.month, party.first_month, party.last_month
        ):
            # A month outside the company's own months on the lot (called before its first
            # month was corrected to a later one) is asked of it no more, as ``declaration
            # list`` and the summaries say (``company_months``): stopped, silently, never
            # reminded nor alerted to the buyer.
            ladder.next_step, ladder.next_step_at = LadderStep.DONE, None
            log.info(
                "month outside the company's months, not reminded",
                extra={
                    "action": "ladder.outside_company_months",
                    "clause_id": ladder.clause_id,
                    "company_id": ladder.company_id,
                    "month": f"{ladder.month:%Y-%m}",
                },
            )
            continue
        rules = calendars[ladder.clause_id].rules
        schedule = month_schedule(ladder.month, rules, zone)
        days = days_of[ladder.clause_id]
        step = _current_step(ladder, schedule)
        if step == LadderStep.CALL:
            planned = ladder.next_step_at or now
            due_on = due_after_call(schedule, today, zone)
        else:
            called_on = _called_on(ladder, schedule, zone)
            previous_on = local_date(ladder.stepped_at, zone) if ladder.stepped_at else None
            planned = at_local(
                planned_step_day(
                    schedule,
                    rules,
                    step,
                    due_on=ladder.due_on,
                    called_on=called_on,
                    previous_on=previous_on,
                    days=days,
                ),
                rules.call_time,
                zone,
            )
            due_on = pushed_due(ladder.due_on, called_on, days)
        slot = sending_slot(planned, now, rules.call_time, zone)
        if slot > now:
            # Not yet: a suspension, the pace after a stop or the call time holds it back.
            ladder.next_step, ladder.next_step_at = step, slot
            report.steps_deferred += 1
            continue
        # Calls of one company go together whatever their months' due dates (the call gives
        # one); later steps go together when they hold the company to the same date.
        group_due = date.min if step == LadderStep.CALL else due_on
        groups[(ladder.clause_id, ladder.company_id, step, group_due)].append(
            _Due(ladder, schedule, step, due_on)
        )
    # What the calls and reminders say of the earlier months still late, and the alerts of the
    # steps sent, read once for the batch (``LateReading``), not once per email.
    newest: dict[tuple[int, int], date] = {}
    for (clause_id, company_id, step, _), members in groups.items():
        if step != LadderStep.ESCALATION:
            top = max(m.ladder.month for m in members)
            newest[(clause_id, company_id)] = max(newest.get((clause_id, company_id), top), top)
    reading = LateReading(
        session,
        lots,
        newest,
        {cid for (cid, _, step, _) in groups if step == LadderStep.ESCALATION},
        now,
        app.settings,
        suspended,
    )
    for (clause_id, _, step, _), members in sorted(
        groups.items(), key=lambda item: (item[0][0], item[0][1], item[0][3], item[0][2])
    ):
        if step == LadderStep.CALL:
            # One call for all the months of a company due now, with one due date: the latest
            # of theirs, so that none gets fewer days than a call on time would have given it.
            due_on = max(m.due_on for m in members)
            members = [_Due(m.ladder, m.schedule, m.step, due_on) for m in members]
        _send_group(
            app,
            session,
            lots[clause_id],
            members,
            now,
            report,
            failed,
            rules=calendars[clause_id].rules,
            days=days_of[clause_id],
            reading=reading,
        )


def _current_step(ladder: DeclarationLadder, schedule: MonthSchedule) -> str:
    """The ladder's next step as a step of today's calendar (a row edited by hand, or a
    calendar changed under it, still resumes: ``replan_step`` maps any name)."""
    names = {s.name for s in schedule.steps}
    if ladder.next_step in names:
        return ladder.next_step
    step = replan_step(ladder.next_step, schedule, schedule)
    return step.name if step is not None else LadderStep.ESCALATION


def _called_on(ladder: DeclarationLadder, schedule: MonthSchedule, zone: ZoneInfo) -> date:
    # Rows written before the call was recorded: their call left on schedule.
    return local_date(ladder.called_at or schedule.call_at, zone)


def _send_group(
    app: App,
    session: Session,
    clause: Clause,
    members: Sequence[_Due],
    now: datetime,
    report: LadderReport,
    failed: set[int],
    *,
    rules: CalendarRules,
    days: LadderDays,
    reading: LateReading | None = None,
) -> None:
    """Queue one email for ``members`` (one company, one lot, one step) and move each ladder."""
    first = members[0]
    step = first.step
    for start in range(0, len(members), MAX_MONTHS_PER_EMAIL):
        chunk = members[start : start + MAX_MONTHS_PER_EMAIL]
        moved = [
            (m, written)
            for m in chunk
            if (written := _advance(session, m, rules, now, days, app.settings.zone))
        ]
        if not moved:
            continue
        months = tuple(m.ladder.month for m, _ in moved)
        key = step_key(clause.id, first.ladder.company_id, months, step)
        extra: dict[str, Any] = {
            "clause_id": clause.id,
            "company_id": first.ladder.company_id,
            "months": [f"{m:%Y-%m}" for m in months],
            "step": step,
            "key": key,
        }
        alerts = [
            written["next_step_at"]
            for _, written in moved
            if written["next_step"] == LadderStep.ESCALATION
        ]
        group = LadderGroup(
            clause_id=clause.id,
            company_id=first.ladder.company_id,
            step=step,
            months=months,
            due_on=first.due_on,
            reminders_total=reminder_count(first.schedule),
            escalation_on=local_date(min(alerts), app.settings.zone) if alerts else None,
            days=days,
        )
        try:
            message = ladder_message(app, session, clause, group, now, reading)
            queued = False
            if message is None:
                report.no_recipient += 1
                log.warning(
                    "no correspondent, step passed without an email",
                    extra={"action": "ladder.no_recipient", **extra},
                )
            else:
                sending = 1
                while True:
                    extra["key"] = sent_again_key(key, sending)
                    queued = queue_email(
                        session,
                        app.renderer,
                        key=extra["key"],
                        kind=step_kind(step),
                        recipients=message.recipients,
                        context=message.context,
                        now=now,
                        clause_id=clause.id,
                        attachments=message.attachments,
                    )
                    # The key taken by an email the service withdrew before it left (the lot
                    # suspended, its work ended): the step is sent again under the next
                    # sending's key. Taken by any other (sent, waiting, cancelled by a person):
                    # not sent again.
                    if queued or not _withdrawn_by_service(session, extra["key"]):
                        break
                    sending += 1
                if queued and reading is not None:
                    reading.record(extra["key"], now)
        except (TemplateError, ValueError) as exc:
            # The step was not sent: put the ladders back where they were.
            for member, _ in moved:
                _restore(session, member.ladder)
                failed.add(member.ladder.id)
            report.failed += len(moved)
            log.error(
                "ladder step failed",
                extra={"action": "ladder.step_failed", "error": str(exc), **extra},
            )
            continue
        if queued:
            if step == LadderStep.CALL:
                report.calls += 1
            elif step == LadderStep.ESCALATION:
                report.escalations += 1
            else:
                report.reminders += 1
        log.info(
            "ladder step queued",
            extra={"action": "ladder.step_queued", "queued": queued, **extra},
        )


def _withdrawn_by_service(session: Session, key: str) -> bool:
    """The email of ``key`` was withdrawn by the service before it left (``ladder_keys``)."""
    found = session.execute(
        select(OutboxMessage.state, OutboxMessage.last_error).where(OutboxMessage.key == key)
    ).first()
    return found is not None and withdrawn_by_service(found.state, found.last_error)


def _advance(
    session: Session,
    member: _Due,
    rules: CalendarRules,
    now: datetime,
    days: LadderDays,
    zone: ZoneInfo,
) -> dict[str, Any] | None:
    """Compare-and-set on ``next_step``: the values written when this pass moved the ladder past
    its step, None when someone else moved it (a declaration).

    The call writes the month's due date: the scheduled one, or the later one a late call gives
    (``due_after_call``), with today's rules; every later step is counted from it, and from the
    step sent before it (``planned_step_day``).
    """
    ladder, schedule, step = member.ladder, member.schedule, member.step
    today = local_date(now, zone)
    names = [s.name for s in schedule.steps]
    index = names.index(step)
    following = names[index + 1] if index + 1 < len(names) else None
    values: dict[str, Any] = {"stepped_at": now, "next_step": following or LadderStep.DONE}
    if step == LadderStep.CALL:
        values.update(called_at=now, due_on=member.due_on)
        due_on, called_on = member.due_on, today
    else:
        due_on, called_on = ladder.due_on, _called_on(ladder, schedule, zone)
    if step == LadderStep.ESCALATION:
        values["escalated_at"] = now
    values["next_step_at"] = None
    if following is not None:
        day = planned_step_day(
            schedule,
            rules,
            following,
            due_on=due_on,
            called_on=called_on,
            previous_on=today,
            days=days,
        )
        values["next_step_at"] = at_local(day, rules.call_time, zone)
    result = session.execute(
        update(DeclarationLadder)
        .where(
            DeclarationLadder.id == ladder.id,
            DeclarationLadder.next_step == ladder.next_step,
            DeclarationLadder.declared_at.is_(None),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if int(getattr(result, "rowcount", 0) or 0) != 1:
        log.info(
            "ladder moved meanwhile",
            extra={"action": "ladder.moved", "ladder_id": ladder.id, "step": step},
        )
        return None
    return values


def _restore(session: Session, ladder: DeclarationLadder) -> None:
    """Undo ``_advance`` (the ORM object still holds the values read: the update did not
    synchronise it)."""
    session.execute(
        update(DeclarationLadder)
        .where(DeclarationLadder.id == ladder.id)
        .values(
            next_step=ladder.next_step,
            next_step_at=ladder.next_step_at,
            due_on=ladder.due_on,
            called_at=ladder.called_at,
            stepped_at=ladder.stepped_at,
            escalated_at=ladder.escalated_at,
        )
        .execution_options(synchronize_session=False)
    )


# --- (c) a ladder taken up again ---------------------------------------------------------------


@dataclass(frozen=True)
class LadderResumption:
    """Where a month's ladder stands again once its declaration was cancelled."""

    month: date
    #: The steps already sent for the month (call, reminders, alert), in ladder order.
    sent: tuple[str, ...]
    #: The step it waits on, and when that step leaves; None: every step was already sent.
    step: str | None
    at: datetime | None
    #: The date the company is held to (the call's, once it left).
    due_on: date


def resume_ladder(
    session: Session,
    settings: Settings,
    *,
    clause_id: int,
    company_id: int,
    month: date,
    now: datetime,
) -> LadderResumption | None:
    """Take up again, in the caller's transaction, the ladder a declaration stopped, now that
    this declaration is cancelled (``declaration_cancellations.cancel_declaration``).

    It resumes where it stood: the steps already sent stay sent (their keys would refuse them
    anyway) and none is skipped, so the buyer is never alerted before the company had every
    reminder. The ladder waits on the step after the last one sent, at the moment it would have
    had if the declaration had never come: counted from the due date the call gave, suspended
    days pushing it, and from the step sent before it; a moment already past leaves at the next
    call time (``sending_slot``), the following steps at the ladder's pace. The cancellation
    itself counts as a step sent today: the next reminder or the alert keeps its usual gap
    after it (the company, told of the cancellation, has that long to declare again). A month
    whose call never left (the company declared before it, or while the call waited in the
    outbox: the declaration withdrew it, « Retiré : le mois a été déclaré … ») is called: even
    past its scheduled due date, a reminder or an alert never goes for a month the company was
    not asked for, and a call that leaves late gives a new due date (``due_after_call``), as
    after a late start. A reminder or the alert withdrawn so is sent again likewise, under the
    key of its next sending (``ladder_keys.sent_again_key``), before any later step.

    None when the month has no ladder yet: its call is not due, and the pass will open it as
    for any month, no declaration stopping it now. A month all of whose steps were sent stays
    without a next step (``done``), declared no more. None too for a month after the last one
    of a company that left the site (``AwardParty.last_month``; the facilitator may still
    record such a month): it is asked of it no more, so its ladder stays stopped (``done``),
    neither called nor reminded again, and the buyer never alerted for it.
    """
    require_aware(now)
    last_month = session.scalar(
        select(AwardParty.last_month).where(
            AwardParty.clause_id == clause_id, AwardParty.company_id == company_id
        )
    )
    if last_month is not None and month > last_month:
        released = session.scalar(
            select(DeclarationLadder)
            .where(
                DeclarationLadder.clause_id == clause_id,
                DeclarationLadder.company_id == company_id,
                DeclarationLadder.month == month,
            )
            .with_for_update()
        )
        if released is not None:
            released.declared_at = None
            released.next_step, released.next_step_at = LadderStep.DONE, None
        return None
    ladder = session.scalar(
        select(DeclarationLadder)
        .where(
            DeclarationLadder.clause_id == clause_id,
            DeclarationLadder.company_id == company_id,
            DeclarationLadder.month == month,
        )
        .with_for_update()
    )
    if ladder is None:
        return None
    zone = settings.zone
    rules = lot_calendars(session, [clause_id], settings)[clause_id].rules
    schedule = month_schedule(month, rules, zone)
    names = [s.name for s in schedule.steps]
    today = local_date(now, zone)
    days = LadderDays(
        suspended_days(suspensions(session, [clause_id]).get(clause_id, []), zone, today)
    )
    sent = _steps_sent(session, ladder, names)
    following = len(sent.steps)
    ladder.declared_at = None
    # Asked again today: once its due date has passed, the company is held to this day (« dès
    # que possible »), as the cancellation's email and the reminders say; the facilitator's
    # readers count the days late from it too (``declaration_views``, ``digest``).
    ladder.asked_again_on = today
    if following >= len(names):
        ladder.next_step, ladder.next_step_at = LadderStep.DONE, None
        return LadderResumption(month, sent.steps, None, None, ladder.due_on)
    step = names[following]
    # The row as the steps really sent leave it: a step whose email was withdrawn before it
    # left (the month declared while it waited) was not passed, and is sent again.
    ladder.escalated_at = None
    if step == LadderStep.CALL:
        # As the pass opened it: no call left, no step passed.
        ladder.called_at = None
        ladder.stepped_at = None
        planned = schedule.call_at
    else:
        ladder.stepped_at = sent.at.get(names[following - 1], ladder.stepped_at)
        called_on = _called_on(ladder, schedule, zone)
        previous_on = local_date(ladder.stepped_at, zone) if ladder.stepped_at else None
        day = planned_step_day(
            schedule,
            rules,
            step,
            due_on=ladder.due_on,
            called_on=called_on,
            previous_on=previous_on,
            days=days,
        )
        # The company learns today that its declaration no longer stands (the cancellation's
        # email): counted as the step before, so the next reminder or the buyer's alert keeps
        # the ladder's gap after it (the due date's own gap before reminder 1). Without it, a
        # month declared on time and cancelled on the eve of its alert date had the buyer told
        # the next morning that the company sent nothing.
        offsets = step_offsets(rules)
        before = names[following - 1]
        day = max(day, days.add(today, offsets[step] - offsets.get(before, 0)))
        planned = at_local(day, rules.call_time, zone)
    at = sending_slot(planned, now, rules.call_time, zone)
    if step == LadderStep.CALL:
        # The date the call will give when it leaves (``climb_due_ladders`` writes it again
        # then): read before that by the receipts, the day's tasks and ``declaration cancel``,
        # which would otherwise call the month late from a date nobody was given.
        ladder.due_on = due_after_call(schedule, local_date(at, zone), zone)
    ladder.next_step, ladder.next_step_at = step, at
    log.info(
        "ladder resumed after a cancelled declaration",
        extra={
            "action": "ladder.resumed",
            "clause_id": clause_id,
            "company_id": company_id,
            "month": f"{month:%Y-%m}",
            "step": step,
            "at": at.isoformat(),
        },
    )
    return LadderResumption(month, sent.steps, step, at, ladder.due_on)


@dataclass(frozen=True)
class _Sent:
    """The steps of a month that reached their recipients, in ladder order, and the instant
    of each one's latest sending."""

    steps: tuple[str, ...]
    at: dict[str, datetime]


def _steps_sent(session: Session, ladder: DeclarationLadder, names: Sequence[str]) -> _Sent:
    """The steps of ``names`` already sent for the ladder's month, in ladder order.

    A step is sent when one of its emails covering the month (one email may cover several
    months) was not withdrawn by the service before it left: sent, on its way, or cancelled by
    a person (« Annulé par … »: never sent again). The row's marks (``called_at``,
    ``stepped_at`` past the call, ``escalated_at``) count a step only when it passed without
    an email (no one to write to): not when the step's email, queued at that very instant, was
    withdrawn by the service (the month declared, the lot suspended or its work ended) — the
    company never got it, and it is sent again, before any later step."""
    rows = session.execute(
        select(
            OutboxMessage.key,
            OutboxMessage.state,
            OutboxMessage.last_error,
            OutboxMessage.created_at,
        ).where(
            OutboxMessage.clause_id == ladder.clause_id,
            OutboxMessage.kind.in_(KINDS),
            OutboxMessage.key.startswith(
                f"{KEY_PREFIX}:{ladder.clause_id}:{ladder.company_id}:", autoescape=True
            ),
        )
    )
    reminders = sum(1 for name in names if reminder_number(name) is not None)
    reached = -1
    sent_at: dict[str, datetime] = {}
    # Each step: the latest instant one of its emails was queued and then withdrawn.
    withdrawn_at: dict[str, datetime] = {}
    for key, state, last_error, created_at in rows:
        parsed = key_months(key)
        if parsed is None or ladder.month not in parsed.months:
            continue
        number = reminder_number(parsed.step)
        if parsed.step in names:
            index = names.index(parsed.step)
        elif number is not None:
            # A reminder of a calendar since changed: as many reminders sent, at most all.
            index = min(number, reminders)
        else:
            continue
        step = names[index]
        if withdrawn_by_service(state, last_error):
            withdrawn_at[step] = max(withdrawn_at.get(step, created_at), created_at)
            continue
        reached = max(reached, index)
        sent_at[step] = max(sent_at.get(step, created_at), created_at)

    def passed(step: str, at: datetime | None) -> bool:
        """The row marks ``step`` passed at ``at``, other than by an email withdrawn since."""
        if at is None:
            return False
        withdrawn = withdrawn_at.get(step)
        if withdrawn is not None and at <= withdrawn:
            return False
        sent_at.setdefault(step, at)
        return True

    if names and passed(names[-1], ladder.escalated_at):
        reached = len(names) - 1
    called, stepped = ladder.called_at, ladder.stepped_at
    if called is not None and passed(names[0], called):
        reached = max(reached, 0)
        if (
            len(names) > 1
            and stepped is not None
            and stepped > called
            and passed(names[1], stepped)
        ):
            reached = max(reached, 1)
    sent = tuple(names[: reached + 1])
    return _Sent(sent, {step: at for step, at in sent_at.items() if step in sent})


__all__ = [
    "KINDS",
    "LadderReport",
    "LadderResumption",
    "arm_parties",
    "climb_due_ladders",
    "open_due_ladders",
    "resume_ladder",
    "step_key",
]
