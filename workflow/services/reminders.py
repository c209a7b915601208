"""The declaration ladders: each company in execution is called every month, then reminded, then
its buyer is alerted, until the month's declaration arrives.

The database says what is due, through two indexed columns:

- ``AwardParty.next_call_at``: when this company is next called, for ``next_call_month``. When it
  is due, ``open_due_ladders`` writes that month's ``DeclarationLadder`` row (unique per lot x
  company x month) and moves the party on to the next month, or past the end month.
- ``DeclarationLadder.next_step_at``: when the ladder's ``next_step`` is due. ``climb_due_ladders``
  queues that step's email (key ``reminder:<clause>:<company>:<YYYY-MM>:<step>``) and moves the
  ladder to the following step with a compare-and-set, in the same transaction.

Both loops work in short transactions of ``BATCH_SIZE`` rows, claimed with ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL (SQLite serialises writers with ``BEGIN IMMEDIATE``), and go on until
nothing is due, which is how a catch-up after downtime happens. A pass run twice, or two
instances at once, therefore queue each email once. Recording a declaration stops its ladder in
the declaration's own transaction (``services.declarations``); a ladder found declared here is
closed without an email.

A party is armed (given its first ``next_call_at``) by the pass itself, whatever put its lot in
execution: CLI, import or test. Lots in follow-up are still called up to their end month (the last
month of work is declared after the work ends). Suspended lots get nothing while suspended, and a
month spent entirely suspended is not called at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jinja2 import TemplateError
from sqlalchemy import delete, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload

from workflow.adapters.orm import (
    AwardParty,
    Buyer,
    Clause,
    Company,
    Correspondent,
    DeclarationLadder,
    Market,
    Operation,
    OutboxMessage,
)
from workflow.domain.calendar import (
    LadderStep,
    MonthSchedule,
    ScheduledStep,
    add_months,
    month_fully_within,
    month_schedule,
    plan_step,
)
from workflow.domain.events import require_aware
from workflow.domain.stages import Stage
from workflow.services.lot_calendars import (
    declared_months,
    default_rules,
    lot_calendars,
    suspensions,
)
from workflow.services.outbox import queue_email
from workflow.services.reminder_emails import (
    KINDS,
    ladder_message,
    preview_context,
    step_key,
    step_kind,
)

if TYPE_CHECKING:
    from workflow.bootstrap import App

log = logging.getLogger(__name__)

#: Lots whose companies are called: in execution, and in follow-up for the months up to the end.
CALLING_STAGES = (Stage.EXECUTION.value, Stage.FOLLOW_UP.value)
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
    steps_skipped: int = 0
    no_recipient: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


# --- (a) arming parties and opening the month's ladders ---------------------------------------


def _has_correspondent() -> Any:
    return or_(
        AwardParty.correspondent_id.is_not(None),
        exists().where(Correspondent.company_id == AwardParty.company_id),
    )


def arm_parties(app: App, now: datetime, stop: StopCheck = _never) -> int:
    """Give a first ``next_call_at`` to every party of a lot in execution that has none.

    Also re-arms a party whose end month moved later (an amendment, a late finish): its
    ``next_call_month`` was left on the month after the old end, which is now callable.
    """
    end = func.coalesce(Clause.end_date, Clause.planned_end_date)
    statement = (
        select(AwardParty)
        .join(Clause, Clause.id == AwardParty.clause_id)
        .where(
            Clause.stage.in_(CALLING_STAGES),
            Clause.start_date.is_not(None),
            AwardParty.next_call_at.is_(None),
            or_(AwardParty.next_call_month.is_(None), AwardParty.next_call_month <= end),
            _has_correspondent(),
        )
        .order_by(AwardParty.id)
        .limit(BATCH_SIZE)
        .with_for_update(skip_locked=True, of=AwardParty)
    )
    armed = 0
    zone = app.settings.zone
    while not stop():
        with app.transaction() as session:
            parties = session.scalars(statement).all()
            if not parties:
                break
            calendars = lot_calendars(session, (p.clause_id for p in parties), app.settings)
            for party in parties:
                lot = calendars[party.clause_id]
                month = party.next_call_month or lot.start_month
                assert month is not None  # start_date is set: filtered above
                party.next_call_month = month
                party.next_call_at = month_schedule(month, lot.rules, zone).call_at
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
            armed += len(parties)
    return armed


def open_due_ladders(
    app: App, now: datetime, report: LadderReport, stop: StopCheck = _never
) -> None:
    """Write the ladder of every month whose call is due, and move each party to its next month.

    Loops until no call is due, so after downtime each missed month gets its ladder, in order.
    """
    require_aware(now)
    statement = (
        select(AwardParty)
        .join(Clause, Clause.id == AwardParty.clause_id)
        .where(AwardParty.next_call_at <= now, Clause.stage.in_(CALLING_STAGES))
        .order_by(AwardParty.next_call_at, AwardParty.id)
        .limit(BATCH_SIZE)
        .with_for_update(skip_locked=True, of=AwardParty)
    )
    while not stop():
        with app.transaction() as session:
            parties = session.scalars(statement).all()
            if not parties:
                return
            _open_batch(app, session, parties, report)


def _open_batch(
    app: App, session: Session, parties: Sequence[AwardParty], report: LadderReport
) -> None:
    zone = app.settings.zone
    ids = [p.clause_id for p in parties]
    calendars = lot_calendars(session, ids, app.settings)
    suspended = suspensions(session, ids)
    keys = [
        (p.clause_id, p.company_id, p.next_call_month)
        for p in parties
        if p.next_call_month is not None
    ]
    declared = declared_months(session, keys)
    rows: list[dict[str, Any]] = []
    for party in parties:
        lot = calendars[party.clause_id]
        month = party.next_call_month
        if month is None or (lot.end_month is not None and month > lot.end_month):
            # Past the end (it moved earlier): park the party; a later end re-arms it.
            party.next_call_at = None
            continue
        extra = {"clause_id": party.clause_id, "company_id": party.company_id}
        if month_fully_within(month, suspended.get(party.clause_id, []), zone):
            report.months_skipped_suspended += 1
            log.info(
                "month fully suspended, not called",
                extra={"action": "ladder.month_suspended", "month": f"{month:%Y-%m}", **extra},
            )
        else:
            schedule = month_schedule(month, lot.rules, zone)
            declared_at = declared.get((party.clause_id, party.company_id, month))
            rows.append(
                {
                    "clause_id": party.clause_id,
                    "company_id": party.company_id,
                    "month": month,
                    "due_on": schedule.due_on,
                    "next_step": LadderStep.DONE if declared_at else LadderStep.CALL,
                    "next_step_at": None if declared_at else schedule.call_at,
                    "declared_at": declared_at,
                    "escalated_at": None,
                }
            )
            log.info(
                "ladder opened",
                extra={
                    "action": "ladder.opened",
                    "month": f"{month:%Y-%m}",
                    "due_on": schedule.due_on.isoformat(),
                    "already_declared": declared_at is not None,
                    **extra,
                },
            )
        following = add_months(month, 1)
        party.next_call_month = following
        if lot.end_month is not None and following > lot.end_month:
            party.next_call_at = None  # done; ``next_call_month`` stays past the end
        else:
            party.next_call_at = month_schedule(following, lot.rules, zone).call_at
    if rows:
        statement = (
            _insert(session)(DeclarationLadder)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["clause_id", "company_id", "month"])
            .returning(DeclarationLadder.id)
        )
        # RETURNING counts what was really inserted (rowcount of a multi-row insert is not
        # reliable on every driver).
        report.opened += len(session.execute(statement).all())


# --- (b) climbing the ladders -----------------------------------------------------------------


def climb_due_ladders(
    app: App, now: datetime, report: LadderReport, stop: StopCheck = _never
) -> None:
    """Queue the due step of every undeclared ladder and move it to its next step."""
    require_aware(now)
    failed: set[int] = set()
    while not stop():
        statement = (
            select(DeclarationLadder)
            .join(Clause, Clause.id == DeclarationLadder.clause_id)
            .where(
                DeclarationLadder.next_step_at <= now,
                DeclarationLadder.declared_at.is_(None),
                Clause.stage.in_(CALLING_STAGES),
            )
            .order_by(DeclarationLadder.next_step_at, DeclarationLadder.id)
            .limit(BATCH_SIZE)
            .with_for_update(skip_locked=True, of=DeclarationLadder)
        )
        if failed:
            statement = statement.where(DeclarationLadder.id.not_in(sorted(failed)))
        with app.transaction() as session:
            ladders = session.scalars(statement).all()
            if not ladders:
                return
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


def _climb_batch(
    app: App,
    session: Session,
    ladders: Sequence[DeclarationLadder],
    now: datetime,
    report: LadderReport,
    failed: set[int],
) -> None:
    ids = [ladder.clause_id for ladder in ladders]
    lots = _load_lots(session, ids)
    calendars = lot_calendars(session, ids, app.settings)
    declared = declared_months(
        session, [(lad.clause_id, lad.company_id, lad.month) for lad in ladders]
    )
    for ladder in ladders:
        declared_at = declared.get((ladder.clause_id, ladder.company_id, ladder.month))
        if declared_at is not None or ladder.next_step == LadderStep.DONE:
            # The declaration arrived by a path that did not close the ladder: close it now.
            ladder.declared_at = declared_at or ladder.declared_at
            ladder.next_step, ladder.next_step_at = LadderStep.DONE, None
            report.closed_declared += declared_at is not None
            continue
        schedule = month_schedule(
            ladder.month, calendars[ladder.clause_id].rules, app.settings.zone
        )
        try:
            _climb_one(app, session, lots[ladder.clause_id], ladder, schedule, now, report)
        except (TemplateError, ValueError) as exc:
            failed.add(ladder.id)
            report.failed += 1
            log.error(
                "ladder step failed",
                extra={
                    "action": "ladder.step_failed",
                    "ladder_id": ladder.id,
                    "step": ladder.next_step,
                    "error": str(exc),
                },
            )


def _climb_one(
    app: App,
    session: Session,
    clause: Clause,
    ladder: DeclarationLadder,
    schedule: MonthSchedule,
    now: datetime,
    report: LadderReport,
) -> None:
    plan = plan_step(schedule, ladder.next_step, now)
    step = plan.send
    key = step_key(ladder.clause_id, ladder.company_id, ladder.month, step.name)
    extra: dict[str, Any] = {
        "clause_id": ladder.clause_id,
        "company_id": ladder.company_id,
        "month": f"{ladder.month:%Y-%m}",
        "step": step.name,
        "key": key,
    }
    if plan.skipped:
        # Several steps came due at once (downtime): only the latest one goes out.
        report.steps_skipped += len(plan.skipped)
        log.warning(
            "overdue steps skipped, latest sent",
            extra={
                "action": "ladder.steps_skipped",
                "skipped": [s.name for s in plan.skipped],
                **extra,
            },
        )
    queued = False
    message = ladder_message(app, session, clause, ladder, schedule, step, now)
    if message is None:
        report.no_recipient += 1
        log.warning(
            "no correspondent, step passed",
            extra={"action": "ladder.no_recipient", **extra},
        )
    else:
        recipients, context = message
        queued = queue_email(
            session,
            app.renderer,
            key=key,
            kind=step_kind(step.name),
            recipients=recipients,
            context=context,
            now=now,
            clause_id=ladder.clause_id,
        )
    if not _advance(
        session,
        ladder,
        schedule,
        plan.following,
        escalated=step.name == LadderStep.ESCALATION,
        now=now,
    ):
        # Someone else moved this ladder (a declaration): take our email back.
        if queued:
            session.execute(delete(OutboxMessage).where(OutboxMessage.key == key))
        log.info("ladder moved meanwhile", extra={"action": "ladder.moved", **extra})
        return
    if queued:
        if step.name == LadderStep.CALL:
            report.calls += 1
        elif step.name == LadderStep.ESCALATION:
            report.escalations += 1
        else:
            report.reminders += 1
    following = plan.following
    log.info(
        "ladder step queued",
        extra={
            "action": "ladder.step_queued",
            "queued": queued,
            "next_step": following.name if following else LadderStep.DONE,
            "next_step_at": following.at.isoformat() if following else None,
            **extra,
        },
    )


def _advance(
    session: Session,
    ladder: DeclarationLadder,
    schedule: MonthSchedule,
    following: ScheduledStep | None,
    *,
    escalated: bool,
    now: datetime,
) -> bool:
    """Compare-and-set on ``next_step``: True when this pass moved the ladder.

    The due date is written again from ``schedule`` (today's rules), as the next step is. A
    ladder opened with the rules read just before a ``lot set`` or ``buyer set`` committed (on
    PostgreSQL nothing orders the two; the change re-planned no ladder, this one did not exist
    yet) would otherwise keep the old date, and the digest count its days late from it forever:
    it heals at its call, normally sent by the same pass.
    """
    values: dict[str, Any] = {
        "due_on": schedule.due_on,
        "next_step": following.name if following else LadderStep.DONE,
        "next_step_at": following.at if following else None,
    }
    if escalated:
        values["escalated_at"] = now
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
    return int(getattr(result, "rowcount", 0) or 0) == 1


__all__ = [
    "KINDS",
    "LadderReport",
    "arm_parties",
    "climb_due_ladders",
    "default_rules",
    "open_due_ladders",
    "preview_context",
    "step_key",
]
