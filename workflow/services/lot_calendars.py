"""What the ladders need to know of each lot, read in one query per batch: its calendar rules
(lot override, else the buyer's, else the settings), its first and last month to declare, the
stretches it spent suspended, and which of its months are already declared.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import or_, select, tuple_
from sqlalchemy.orm import Session

from workflow.adapters.orm import Buyer, Clause, ClauseHistory, Declaration, Market, Operation
from workflow.domain.calendar import CalendarRules, Interval, month_start, resolve_rules
from workflow.domain.stages import Stage
from workflow.settings import Settings, parse_offsets

log = logging.getLogger("workflow.services.reminders")


def default_rules(settings: Settings) -> CalendarRules:
    return CalendarRules(
        due_day=settings.declaration_due_day,
        reminder_offsets=settings.reminder_offset_list,
        escalation_offset=settings.escalation_offset,
        call_time=settings.call_time,
    )


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
    defaults = default_rules(settings)
    calendars = {}
    for cid, c_day, c_off, c_esc, bid, b_day, b_off, b_esc, start, planned, end in rows:
        rules = resolve_rules(
            defaults,
            due_days=(c_day, b_day),
            reminder_offsets=(_offsets(c_off, f"clause {cid}"), _offsets(b_off, f"buyer {bid}")),
            escalation_offsets=(c_esc, b_esc),
        )
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
    rows = session.execute(
        select(ClauseHistory.clause_id, ClauseHistory.at, ClauseHistory.to_stage)
        .where(
            ClauseHistory.clause_id.in_(ids),
            ClauseHistory.from_stage.is_distinct_from(ClauseHistory.to_stage),
            or_(
                ClauseHistory.to_stage == Stage.SUSPENDED.value,
                ClauseHistory.from_stage == Stage.SUSPENDED.value,
            ),
        )
        .order_by(ClauseHistory.clause_id, ClauseHistory.at, ClauseHistory.id)
    ).all()
    for clause_id, at, to_stage in rows:
        if to_stage == Stage.SUSPENDED.value:
            found[clause_id].append(Interval(at, None))
        elif found[clause_id] and found[clause_id][-1].end is None:
            found[clause_id][-1] = Interval(found[clause_id][-1].start, at)
    return found


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
