"""What the ladders need to know of each lot, read in one query per batch: its calendar rules
(lot override, else the buyer's, else the settings), its first and last month to declare, the
stretches it spent suspended, and which of its months are already declared.

Also where each rule of a lot comes from (``explain_calendar``, for ``clause show``) and the
re-planning of the ladders still running when a lot's or a buyer's calendar changes
(``replan_ladders``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text, tuple_
from sqlalchemy.orm import Session

from workflow.adapters.orm import (
    SUSPENSION_ROWS,
    Buyer,
    CalendarOverrides,
    Clause,
    ClauseHistory,
    Declaration,
    DeclarationLadder,
    Market,
    Operation,
)
from workflow.domain.calendar import (
    CalendarRules,
    Interval,
    LadderDays,
    LadderStep,
    RuleOverrides,
    at_local,
    due_after_call,
    local_date,
    month_schedule,
    month_start,
    planned_step_day,
    replan_step,
    resolve_rules,
)
from workflow.domain.calendar import ExplainedCalendar as ExplainedCalendar
from workflow.domain.calendar import RuleSource as RuleSource
from workflow.domain.stages import Stage
from workflow.settings import Settings, parse_offsets

log = logging.getLogger("workflow.services.reminders")

#: Above this many lots, ``suspensions`` reads every suspension rather than each lot's.
MANY_LOTS = 200


def _offsets(value: str | None, owner: str) -> tuple[int, ...] | None:
    if not value:
        return None
    try:
        return parse_offsets(value)
    except ValueError:
        # Written by hand in the database: fall back to the next level instead of stopping.
        log.warning(
            "unreadable reminder offsets, default used",
            extra={"action": "ladder.bad_offsets", "owner": owner, "value": value},
        )
        return None


@dataclass(frozen=True)
class LotCalendar:
    rules: CalendarRules
    start_month: date | None
    #: The last month to declare: the actual end if known, else the planned end.
    end_month: date | None


def first_month_of(joined: date | None, start_month: date | None) -> date | None:
    """A company's first month to declare on a lot: the lot's start month, or the month it
    joined when it was added during the works (``AwardParty.first_month``), the later of the two
    (a start moved later since). The one rule for the ladders and every reader of the months a
    company owes."""
    if joined is None or start_month is None:
        return start_month
    return max(month_start(joined), start_month)


def lot_calendars(
    session: Session, clause_ids: Iterable[int], settings: Settings
) -> dict[int, LotCalendar]:
    """Each lot's rules (lot override, else buyer's, else settings) and months, in one query."""
    ids = sorted(set(clause_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(
            Clause.id,
            Clause.declaration_due_day,
            Clause.reminder_offsets,
            Clause.escalation_offset,
            Buyer.id,
            Buyer.declaration_due_day,
            Buyer.reminder_offsets,
            Buyer.escalation_offset,
            Clause.start_date,
            Clause.planned_end_date,
            Clause.end_date,
        )
        .join(Market, Market.id == Clause.market_id)
        .join(Operation, Operation.id == Market.operation_id)
        .join(Buyer, Buyer.id == Operation.buyer_id)
        .where(Clause.id.in_(ids))
    ).all()
    defaults = settings.calendar_rules
    calendars = {}
    for cid, c_day, c_off, c_esc, bid, b_day, b_off, b_esc, start, planned, end in rows:
        rules = resolve_rules(
            defaults,
            lot=Overrides(c_day, c_off, c_esc).parsed(f"clause {cid}"),
            buyer=Overrides(b_day, b_off, b_esc).parsed(f"buyer {bid}"),
        ).rules
        last = end or planned
        calendars[cid] = LotCalendar(
            rules=rules,
            start_month=month_start(start) if start else None,
            end_month=month_start(last) if last else None,
        )
    return calendars


def suspensions(session: Session, clause_ids: Iterable[int]) -> dict[int, list[Interval]]:
    """The suspended stretches of each lot, read from its history."""
    ids = sorted(set(clause_ids))
    found: dict[int, list[Interval]] = defaultdict(list)
    if not ids:
        return found
    # The partial index ``ix_clause_history_suspensions`` holds these rows only; SQLite uses it
    # for a WHERE term written as its own predicate, literally (no parameters).
    statement = select(ClauseHistory.clause_id, ClauseHistory.at, ClauseHistory.to_stage).where(
        ClauseHistory.from_stage.is_distinct_from(ClauseHistory.to_stage),
        text(f"({SUSPENSION_ROWS})"),
    )
    if len(ids) <= MANY_LOTS:
        statement = statement.where(ClauseHistory.clause_id.in_(ids))
    # Else (the dashboard's thousands of late lots) every suspension of the territory, a few
    # rows, costs less than a list of thousands of lots to look each one up.
    wanted = set(ids)
    rows = session.execute(
        statement.order_by(ClauseHistory.clause_id, ClauseHistory.at, ClauseHistory.id)
    ).all()
    for clause_id, at, to_stage in rows:
        if clause_id not in wanted:
            continue
        if to_stage == Stage.SUSPENDED.value:
            found[clause_id].append(Interval(at, None))
        elif found[clause_id] and found[clause_id][-1].end is None:
            found[clause_id][-1] = Interval(found[clause_id][-1].start, at)
    return found


def execution_starts(session: Session, clause_ids: Iterable[int]) -> dict[int, datetime]:
    """When each lot entered execution (its « démarrer », when the company was welcomed): the
    latest move from award to execution in its history, else (a lot put in execution without
    the services) when it last changed stage."""
    ids = sorted(set(clause_ids))
    if not ids:
        return {}
    started: dict[int, datetime] = {
        cid: at
        for cid, at in session.execute(
            select(ClauseHistory.clause_id, func.max(ClauseHistory.at))
            .where(
                ClauseHistory.clause_id.in_(ids),
                ClauseHistory.from_stage == Stage.AWARD.value,
                ClauseHistory.to_stage == Stage.EXECUTION.value,
            )
            .group_by(ClauseHistory.clause_id)
        )
    }
    missing = [cid for cid in ids if cid not in started]
    if missing:
        for cid, at in session.execute(
            select(Clause.id, Clause.stage_changed_at).where(Clause.id.in_(missing))
        ):
            started[cid] = at
    return started


def declared_months(
    session: Session, keys: Sequence[tuple[int, int, date]]
) -> dict[tuple[int, int, date], datetime]:
    """Which (lot, company, month) already have their declaration, and since when."""
    if not keys:
        return {}
    rows = session.execute(
        select(
            Declaration.clause_id,
            Declaration.company_id,
            Declaration.month,
            Declaration.recorded_at,
        ).where(
            tuple_(Declaration.clause_id, Declaration.company_id, Declaration.month).in_(
                list(set(keys))
            )
        )
    ).all()
    return {(c, co, m): at for c, co, m, at in rows}


# --- where each rule comes from -----------------------------------------------------------------


SOURCE_LABELS: dict[RuleSource, str] = {
    RuleSource.LOT: "lot",
    RuleSource.BUYER: "donneur d'ordre",
    RuleSource.DEFAULT: "réglage général",
}


class Overrides(NamedTuple):
    """The three calendar columns of a buyer or a lot, None where the level above applies."""

    due_day: int | None = None
    reminder_offsets: str | None = None
    escalation_offset: int | None = None

    @classmethod
    def of(cls, holder: CalendarOverrides) -> Overrides:
        return cls(holder.declaration_due_day, holder.reminder_offsets, holder.escalation_offset)

    def write_to(self, holder: CalendarOverrides) -> None:
        holder.declaration_due_day = self.due_day
        holder.reminder_offsets = self.reminder_offsets
        holder.escalation_offset = self.escalation_offset

    def parsed(self, owner: str) -> RuleOverrides:
        """The columns as rules; unreadable offsets (``owner`` names them in the log) are
        left to the level above."""
        return RuleOverrides(
            self.due_day, _offsets(self.reminder_offsets, owner), self.escalation_offset
        )


def explain_calendar(
    settings: Settings, *, buyer: Overrides, lot: Overrides | None = None
) -> ExplainedCalendar:
    """The rules ``lot_calendars`` applies, with their origin (both call ``resolve_rules``);
    without ``lot``, the calendar a buyer gives to its lots that override nothing."""
    return resolve_rules(
        settings.calendar_rules,
        lot=(lot or Overrides()).parsed("lot"),
        buyer=buyer.parsed("buyer"),
    )


def clause_calendar(clause: Clause, settings: Settings) -> ExplainedCalendar:
    buyer = clause.market.operation.buyer
    return explain_calendar(settings, buyer=Overrides.of(buyer), lot=Overrides.of(clause))


# --- re-planning running ladders ----------------------------------------------------------------


@dataclass(frozen=True)
class Replanned:
    """What a calendar change did to the ladders already running."""

    ladders: int = 0  # ladders whose due date or next step moved
    due_now: int = 0  # of which the next step is already due: it goes at the next pass


def replan_ladders(
    session: Session,
    before: Mapping[int, CalendarRules],
    after: Mapping[int, CalendarRules],
    *,
    zone: ZoneInfo,
    now: datetime,
) -> Replanned:
    """Move every running ladder of the lots whose rules changed onto their new calendar.

    A ladder is running until its month is declared or its escalation sent. Its due date
    (``due_on``, which the digest reads to count days late) and its next step are recomputed
    with ``replan_step``: steps already sent stay sent, the next one takes the new calendar's
    time counted from the call really sent (``due_after_call``) and the step sent before it,
    even if that time is already past (then the next pass sends it, at its call time). A month
    not called yet keeps its call slot. Calls not yet written (``AwardParty.next_call_at``)
    need nothing: the call is on the first working day of the month at the settings' hour,
    whatever the lot's calendar. The rows are locked, so a
    pass climbing them at the same moment finishes first or waits for this change.
    """
    changed = sorted(cid for cid, rules in after.items() if before.get(cid, rules) != rules)
    if not changed:
        return Replanned()
    running = session.scalars(
        select(DeclarationLadder)
        .where(
            DeclarationLadder.clause_id.in_(changed),
            DeclarationLadder.declared_at.is_(None),
            DeclarationLadder.next_step != LadderStep.DONE,
        )
        .order_by(DeclarationLadder.id)
        .with_for_update()
    ).all()
    moved = due = 0
    for ladder in running:
        rules = after[ladder.clause_id]
        old = month_schedule(ladder.month, before[ladder.clause_id], zone)
        new = month_schedule(ladder.month, rules, zone)
        replanned = replan_step(ladder.next_step, old, new)
        if replanned is None:  # done: the query leaves such ladders out
            continue
        name, at = replanned.name, replanned.at
        due_on = new.due_on
        if name == LadderStep.CALL:
            # Not called yet: it keeps its call slot and will take its due date at its call.
            at = ladder.next_step_at or at
        else:
            # Counted, as the pass counts it, from the call and the step really sent (the pass
            # adds the suspended days when it comes to it: never earlier than this).
            called_on = local_date(ladder.called_at or old.call_at, zone)
            due_on = due_after_call(new, called_on, zone)
            day = planned_step_day(
                new,
                rules,
                name,
                due_on=due_on,
                called_on=called_on,
                previous_on=local_date(ladder.stepped_at, zone) if ladder.stepped_at else None,
                days=LadderDays(),
            )
            at = at_local(day, rules.call_time, zone)
        if (ladder.due_on, ladder.next_step, ladder.next_step_at) == (due_on, name, at):
            continue
        log.info(
            "ladder re-planned",
            extra={
                "action": "ladder.replanned",
                "clause_id": ladder.clause_id,
                "company_id": ladder.company_id,
                "month": f"{ladder.month:%Y-%m}",
                "from_step": ladder.next_step,
                "to_step": name,
                "due_on": due_on.isoformat(),
                "next_step_at": at.isoformat(),
            },
        )
        ladder.due_on, ladder.next_step, ladder.next_step_at = due_on, name, at
        moved += 1
        due += at <= now
    session.flush()
    return Replanned(ladders=moved, due_now=due)
