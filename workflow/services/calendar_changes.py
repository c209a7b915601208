"""Changing a buyer's or a lot's declaration calendar after it was created, and a buyer's notice
preference.

Each rule (due day, reminder days, escalation day) is taken from the lot, else from its buyer,
else from the settings; a change sets or clears one level. Everything is checked before anything
is written, so a refusal changes nothing. In the same transaction:

- each lot whose calendar really changes gets a history row naming the change;
- its ladders still running (month not declared, escalation not sent) are re-planned by
  ``lot_calendars.replan_ladders``: the steps already sent stay sent, the next one takes the new
  calendar's date (sent at the next pass if that date is already past), and the digest counts
  the days late from the new due date.

Months not yet called need nothing: they are opened with the rules of the day they are called.
A month opened at the very moment of the change, with the rules read just before it, is put right
by its call (``reminders._advance`` writes the due date of the rules the call was sent with).

``CalendarChange`` (with ``DEFAULT``) is the same input as ``add_buyer`` and ``add_lot`` take, so
it lives in ``catalog``; it is re-exported here, where it is used most.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.orm import Buyer, Clause, Market, Operation
from workflow.domain.events import require_aware
from workflow.domain.stages import FINAL_STAGES, LABELS, Stage
from workflow.domain.vocabulary import NoticePreference
from workflow.errors import InputRefused, NotFound
from workflow.services.catalog import DEFAULT as DEFAULT
from workflow.services.catalog import (
    NOTICE_PREFERENCE_LABELS,
    offsets_text,
    parse_notice_preference,
    refuse_dropped_reminders,
)
from workflow.services.catalog import CalendarChange as CalendarChange
from workflow.services.catalog import Reset as Reset
from workflow.services.catalog import is_default_word as is_default_word
from workflow.services.clauses import add_history, get_clause
from workflow.services.corrections import Act, Action, RecordKind
from workflow.services.lot_calendars import (
    SOURCE_LABELS,
    ExplainedCalendar,
    Overrides,
    Replanned,
    explain_calendar,
    replan_ladders,
)
from workflow.settings import Settings

#: The history event of a calendar change (``clause show`` prints it in French).
HISTORY_EVENT = "calendar"


# --- French wording -----------------------------------------------------------------------------


def _day(day: int) -> str:
    return "le 1er" if day == 1 else f"le {day}"


def _days(count: int) -> str:
    return f"{count} jour{'s' if count > 1 else ''} ouvré{'s' if count > 1 else ''}"


def calendar_lines(calendar: ExplainedCalendar) -> list[str]:
    """The calendar as a person reads it, each rule with where it comes from."""
    rules = calendar.rules
    offsets = list(rules.reminder_offsets)
    reminders = (
        " et ".join([", ".join(str(o) for o in offsets[:-1]), str(offsets[-1])])
        if len(offsets) > 1
        else str(offsets[0])
    )
    lines = [
        f"échéance : {_day(rules.due_day)} du mois suivant "
        f"({SOURCE_LABELS[calendar.due_day_from]})",
        f"rappels : {reminders} jour{'s' if offsets[-1] > 1 else ''} ouvré"
        f"{'s' if offsets[-1] > 1 else ''} après l'échéance "
        f"({SOURCE_LABELS[calendar.reminders_from]})",
        f"signalement au donneur d'ordre : {_days(rules.escalation_offset)} après l'échéance "
        f"({SOURCE_LABELS[calendar.escalation_from]})",
    ]
    if calendar.dropped_reminders:
        lines.append(
            f"(rappels à {offsets_text(calendar.dropped_reminders)} jamais envoyés : ils "
            "viendraient après le signalement)"
        )
    return lines


def describe_changes(before: ExplainedCalendar, after: ExplainedCalendar) -> list[str]:
    """One phrase per rule whose value or origin changed: « échéance : le 5 (lot), avant … »."""
    b, a = before.rules, after.rules
    rows = [
        ("échéance", _day(b.due_day), before.due_day_from, _day(a.due_day), after.due_day_from),
        (
            "rappels",
            offsets_text(b.reminder_offsets),
            before.reminders_from,
            offsets_text(a.reminder_offsets),
            after.reminders_from,
        ),
        (
            "signalement au donneur d'ordre",
            f"J+{b.escalation_offset}",
            before.escalation_from,
            f"J+{a.escalation_offset}",
            after.escalation_from,
        ),
    ]
    return [
        f"{what} : {new} ({SOURCE_LABELS[new_from]}), avant {old} ({SOURCE_LABELS[old_from]})"
        for what, old, old_from, new, new_from in rows
        if (old, old_from) != (new, new_from)
    ]


def _reason(prefix: str, changes: Sequence[str], reason: str | None) -> str:
    text = f"{prefix} : {' ; '.join(changes)}"
    motive = " ".join((reason or "").split())
    return f"{text} ; motif : {motive}" if motive else text


# --- results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CalendarChanged:
    """What a ``set`` did: the changes in French, the calendar now, the lots and ladders moved."""

    changes: tuple[str, ...]
    calendar: ExplainedCalendar
    lots: tuple[int, ...] = ()
    replanned: Replanned = field(default_factory=Replanned)


# --- lots ---------------------------------------------------------------------------------------


def set_lot_calendar(
    session: Session,
    clause_id: int,
    change: CalendarChange,
    *,
    actor: str,
    now: datetime,
    settings: Settings,
    reason: str | None = None,
) -> CalendarChanged:
    """Set or clear the lot's own rules; its running ladders follow the new calendar."""
    require_aware(now)
    clause = get_clause(session, clause_id, for_update=True)
    stage = Stage(clause.stage)
    if stage in FINAL_STAGES:
        raise InputRefused(
            f"{clause.label} est à l'étape « {LABELS[stage]} » : son calendrier des "
            "déclarations ne sert plus et ne change plus."
        )
    buyer = Overrides.of(clause.market.operation.buyer)
    old = Overrides.of(clause)
    new = change.applied(old)
    before = explain_calendar(settings, buyer=buyer, lot=old)
    after = explain_calendar(settings, buyer=buyer, lot=new)
    if new == old:
        return CalendarChanged(changes=(), calendar=after)
    refuse_dropped_reminders(after, clause.label)
    changes = describe_changes(before, after)
    new.write_to(clause)
    add_history(
        session,
        clause,
        event=HISTORY_EVENT,
        actor=actor,
        reason=_reason("calendrier des déclarations du lot", changes, reason),
        now=now,
    )
    session.flush()
    replanned = replan_ladders(
        session, {clause.id: before.rules}, {clause.id: after.rules}, zone=settings.zone, now=now
    )
    return CalendarChanged(tuple(changes), after, (clause.id,), replanned)


# --- buyers -------------------------------------------------------------------------------------


def _live_lots(session: Session, buyer_id: int) -> Sequence[Clause]:
    """The buyer's lots still able to be called (not closed nor abandoned), locked."""
    return session.scalars(
        select(Clause)
        .join(Market, Market.id == Clause.market_id)
        .join(Operation, Operation.id == Market.operation_id)
        .where(
            Operation.buyer_id == buyer_id,
            Clause.stage.not_in([s.value for s in FINAL_STAGES]),
        )
        .order_by(Clause.id)
        .with_for_update(of=Clause)
    ).all()


def _buyer_settings(buyer: Buyer) -> dict[str, Any]:
    """What ``set_buyer`` may change, under the names a buyer's correction history uses."""
    return {
        "notice_preference": buyer.notice_preference,
        "declaration_due_day": buyer.declaration_due_day,
        "reminder_offsets": buyer.reminder_offsets,
        "escalation_offset": buyer.escalation_offset,
    }


def set_buyer(
    session: Session,
    buyer_id: int,
    *,
    notice_preference: str | NoticePreference | None = None,
    calendar: CalendarChange | None = None,
    actor: str,
    now: datetime,
    settings: Settings,
    reason: str | None = None,
) -> tuple[Buyer, CalendarChanged]:
    """Change a buyer's notice preference and calendar rules.

    The rules apply to every lot of the buyer that does not set its own: each of them whose
    calendar really changes gets a history row and its running ladders re-planned. A lot whose
    reminders would come after its escalation with the new rules is named in the refusal.
    """
    require_aware(now)
    buyer = session.get(Buyer, buyer_id, with_for_update=True)
    if buyer is None:
        raise NotFound(f"Aucun donneur d'ordre n° {buyer_id}. La liste : « clauses buyer list ».")
    changes: list[str] = []
    current = NoticePreference(buyer.notice_preference)
    preference = current
    if notice_preference is not None:
        preference = parse_notice_preference(notice_preference)
        if preference is not current:
            changes.append(
                f"avis : {NOTICE_PREFERENCE_LABELS[preference]}, avant "
                f"{NOTICE_PREFERENCE_LABELS[current]}"
            )
    old = Overrides.of(buyer)
    new = (calendar or CalendarChange()).applied(old)
    before = explain_calendar(settings, buyer=old)
    after = explain_calendar(settings, buyer=new)
    moved: list[tuple[Clause, ExplainedCalendar, ExplainedCalendar]] = []
    if new != old:
        refuse_dropped_reminders(after, f"Le donneur d'ordre « {buyer.name} »")
        for lot in _live_lots(session, buyer.id):
            lot_before = explain_calendar(settings, buyer=old, lot=Overrides.of(lot))
            lot_after = explain_calendar(settings, buyer=new, lot=Overrides.of(lot))
            if lot_after.rules == lot_before.rules:
                continue
            refuse_dropped_reminders(
                lot_after,
                lot.label,
                f", ou changez d'abord le calendrier du lot (clauses lot set {lot.id} …)",
            )
            moved.append((lot, lot_before, lot_after))
        changes += describe_changes(before, after)
    result = CalendarChanged(changes=tuple(changes), calendar=after)
    if not changes:
        return buyer, result
    settings_before = _buyer_settings(buyer)
    buyer.notice_preference = preference.value
    new.write_to(buyer)
    # The buyer's own record of the change (its lots get theirs below): a preference changed
    # alone touches no lot, and « every change a history row » holds for it too.
    settings_after = _buyer_settings(buyer)
    changed = [name for name in settings_after if settings_after[name] != settings_before[name]]
    Act.of(actor, now, reason).write(
        session,
        RecordKind.BUYER,
        buyer.id,
        (RecordKind.BUYER, buyer.id),
        Action.EDIT,
        {name: settings_before[name] for name in changed},
        {name: settings_after[name] for name in changed},
    )
    for lot, lot_before, lot_after in moved:
        add_history(
            session,
            lot,
            event=HISTORY_EVENT,
            actor=actor,
            reason=_reason(
                f"calendrier du donneur d'ordre « {buyer.name} » changé",
                describe_changes(lot_before, lot_after),
                reason,
            ),
            now=now,
        )
    session.flush()
    replanned = replan_ladders(
        session,
        {lot.id: lot_before.rules for lot, lot_before, _ in moved},
        {lot.id: lot_after.rules for lot, _, lot_after in moved},
        zone=settings.zone,
        now=now,
    )
    return buyer, replace(result, lots=tuple(lot.id for lot, _, _ in moved), replanned=replanned)
