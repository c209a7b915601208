"""Milestone notices to buyers, welcomes and receipts to companies, turned from domain events.

Its handlers (``notify_*``, ``welcome_award``, ``acknowledge_declaration``), wired to their events
by ``bootstrap``, run inside the transaction that changed the clause (``App.publish``), so a stage
change and the emails it causes are saved together or not at all. Each key is built from the cause
(the history row of the change, the award's time, the declaration's id), so handling the same event
twice writes nothing new.

A notice its buyer wants but cannot receive (no contact with an address) is held, under the key
it would have had (``HeldNotice``); the clock releases it once the buyer has a contact, whichever
way the contact came (``services.held_notices``).

The kinds and what their templates read are in ``emails.notices``, ``emails.welcome`` and
``emails.receipts``; this module reads the values and decides who gets what. Buyers hear of
each milestone only when their preference is ``each_milestone``; the others read it in
the monthly summary. Buyer emails carry counts, never a participant's reference.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, distinct, func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, object_session
from sqlalchemy.sql.elements import ColumnElement

from workflow.adapters.dialects import insert_ignoring
from workflow.adapters.mail.message import AddressRefused, parse_recipients
from workflow.adapters.orm import (
    AwardParty,
    Buyer,
    Clause,
    ClauseHistory,
    Company,
    Correspondent,
    Declaration,
    DeclarationLadder,
    DeclarationLine,
    HeldNotice,
    OutboxMessage,
    Outcome,
    Participant,
)
from workflow.adapters.templates import french_month, remembered_date
from workflow.domain.calendar import (
    CatchUp,
    add_months,
    at_local,
    due_after_call,
    expected_due_dates,
    local_date,
    month_fully_within,
    month_schedule,
    month_start,
    months_between,
    sending_slot,
)
from workflow.domain.events import (
    AwardChange,
    AwardCorrected,
    ClauseAdvanced,
    ClauseAwarded,
    ClauseIdentified,
    ClauseReopened,
    DeclarationRecorded,
    EndDateCorrected,
    FinalReportRecorded,
    PlannedEndMoved,
    Replaced,
)
from workflow.domain.outcomes import group_of, outcome_label, outcome_order
from workflow.domain.participants import worked
from workflow.domain.report_changes import FIGURE_EVENTS, figure_changes
from workflow.domain.stages import REOPEN, ClauseEvent, Stage
from workflow.domain.vocabulary import (
    CONTRACT_LABELS,
    DELIVERY_MODE_LABELS,
    OUTCOME_GROUP_LABELS,
    PARTY_ROLE_LABELS,
    NoticePreference,
    PartyRole,
)
from workflow.emails.envelope import OutboxState
from workflow.emails.notices import (
    ADVANCE_NOTICES,
    ALWAYS_SENT_KINDS,
    END_CORRECTED,
    HISTORY_KINDS,
    RESULT_KINDS,
    ClauseResults,
    CompanyHours,
    Count,
    EndCorrection,
    EndMove,
    Outstanding,
    months_named,
    notice_context,
    outstanding_context,
    outstanding_of,
)
from workflow.emails.phrases import label_of
from workflow.emails.receipts import receipt_context
from workflow.emails.welcome import NOT_STARTED, welcome_context
from workflow.services import company_pauses
from workflow.services.abandon_notices import tell_abandoned, to_welcome_again
from workflow.services.cancellation_withdrawals import replaced_cancellation
from workflow.services.declaration_howto import declaration_material
from workflow.services.declaration_links import month_links
from workflow.services.declarations import (
    company_missing_months,
    declared_months_of,
    next_month_to_open,
)
from workflow.services.email_facts import (
    declared_of,
    lot_of,
    parties_of,
    party_correspondent,
    party_of,
    party_recipient,
)
from workflow.services.end_declarations import end_declarations
from workflow.services.held_due_dates import (
    next_call_dates_many,
    owed_due_dates_many,
    pushed_due_dates,
)
from workflow.services.lot_calendars import (
    clause_calendar,
    execution_starts,
    first_month_of,
    lot_calendars,
    suspensions,
)
from workflow.services.mailing import Mailing
from workflow.services.months_owed import owed_up_to
from workflow.services.outbox import (
    NOT_LEFT,
    Attachment,
    Promise,
    Recipient,
    key_exists,
    queue_email,
    withdraw,
)
from workflow.services.outcome_counts import counted, latest_up_to
from workflow.services.outdated_reports import REPORT_LEFT
from workflow.services.resumption_withdrawals import (
    untold_context,
    untold_suspension,
    withdraw_overtaken,
)
from workflow.services.stale_promises import (
    AGAIN_MARK,
    MAX_SENDINGS,
    PromiseRewrite,
    Superseded,
    left_execution_since,
    to_first,
    write_again_now,
)
from workflow.services.termination_notices import tell_terminated
from workflow.services.terminations import termination_of
from workflow.settings import Settings

log = logging.getLogger(__name__)

#: The history event of an award corrected (``services.clauses.AWARD_CORRECTED``: not imported,
#: the clauses service imports this module's neighbours).
AWARD_CORRECTED_EVENT = "award_corrected"
#: The history event of an award recorded (its notice is keyed by the award's time).
AWARD_EVENT = "award_recorded"
#: The history event of a planned end moved (``services.clauses.PLANNED_END``), and the notice
#: the buyer gets of it.
PLANNED_END_EVENT = "planned_end"
PLANNED_END_NOTICE = "notice_planned_end"
#: The history event of an end corrected (``services.end_date_corrections.END_DATE_CORRECTED``:
#: not imported, that module imports the clauses service), and the notice the buyer gets of it.
END_CORRECTED_EVENT = "end_date_corrected"
END_CORRECTED_NOTICE = END_CORRECTED
#: The notices that told the buyer a lot's end: a correction replaces the latest of them.
END_TOLD_KINDS = ("notice_execution_ended", END_CORRECTED)
MASK = "[participant]"
#: The notice that tells the buyer the clause is written and the lot awaits its award: the award
#: recorded before it left makes it untrue (« nous attendons désormais l'attribution »).
DRAFTED_NOTICE = ADVANCE_NOTICES[ClauseEvent.AWARD]
#: The notice of an abandon: reopened before it left, it is withdrawn and the buyer hears nothing.
ABANDONED_NOTICE = ADVANCE_NOTICES[ClauseEvent.ABANDON]
#: The buyer's notice of a resumption: it names the service's next sendings (« partira le … »).
RESUMED_NOTICE = ADVANCE_NOTICES[ClauseEvent.RESUME]
#: ``held_notices.SUPERSEDED``: a held notice settled without leaving, a later act having made it
#: untrue (that module imports this one).
HELD_SUPERSEDED = "superseded"
#: The buyer's notice of the final report (``emails.notices.ALWAYS_SENT_KINDS``).
FINAL_REPORT_NOTICE = "notice_final_report"
#: How the reason of an abandon notice withdrawn by the reopening starts.
ABANDON_WITHDRAWN = "Retiré : l'abandon a été annulé"


# --- what the database knows of a clause's results -------------------------------------------


def _pairs(session: Session, statement: Select[Any, Any]) -> dict[Any, Any]:
    return {row[0]: row[1] for row in session.execute(statement)}


def declarations_received(session: Session, clause: Clause) -> int:
    """The monthly declarations the lot received, the « X » of a notice's « X sur Y ».

    One declaration per company x month: a lot with a holder and a subcontractor owes two a
    month, and « 3 sur 11 » counted by months alone hid the subcontractor's missing ones. Only
    the companies of the award as it stands, the ones the expected count « Y » is counted over
    (a subcontractor replaced since keeps its hours in the totals, not a place in this count);
    every month they declared, a month the facilitator recorded outside the months asked of
    the company included (the termination's « Y » counts it as expected: ``_termination``)."""
    received = session.scalar(
        select(func.count(Declaration.id)).where(
            Declaration.clause_id == clause.id,
            Declaration.company_id.in_([party.company_id for party in clause.parties]),
        )
    )
    return int(received or 0)


def clause_results(
    session: Session, clause: Clause, outcome_groups: Mapping[str, str] | None = None
) -> ClauseResults:
    """``outcome_groups`` is the ``outcome_groups`` setting: outcomes are counted by type, then
    folded into their reporting group as the mapping in force says (never the stored group)."""
    declared = select(Declaration.id).where(Declaration.clause_id == clause.id)
    line_filter = DeclarationLine.declaration_id.in_(declared.scalar_subquery())
    hours_done = session.scalar(
        select(func.coalesce(func.sum(Declaration.total_hours), 0)).where(
            Declaration.clause_id == clause.id
        )
    )
    # Who worked: a line at 0 h is no activity (``worked``, the summaries' and the annual
    # report's rule), so the notice counts the people those reports count.
    worked_filter = line_filter & worked(DeclarationLine.hours)
    participants = session.scalar(
        select(func.count(distinct(DeclarationLine.participant_id))).where(worked_filter)
    )
    received = declarations_received(session, clause)
    per_company = _pairs(
        session,
        select(Declaration.company_id, func.sum(Declaration.total_hours))
        .where(Declaration.clause_id == clause.id)
        .group_by(Declaration.company_id),
    )
    per_mode = _pairs(
        session,
        select(DeclarationLine.delivery_mode, func.sum(DeclarationLine.hours))
        .where(line_filter)
        .group_by(DeclarationLine.delivery_mode),
    )
    per_contract = _pairs(
        session,
        select(DeclarationLine.contract_type, func.count(distinct(DeclarationLine.participant_id)))
        .where(worked_filter)
        .group_by(DeclarationLine.contract_type),
    )
    per_outcome: dict[str, int] = {}
    per_type: dict[str, int] = {}
    # An outcome counts while its participant has hours worked on the lot (``counted``, the
    # annual report's and the summaries' rule): a cancelled declaration that took someone's only
    # hours here takes their outcome out of the buyer's figures too, until declared again.
    # Each participant once, by their latest outcome (``latest_up_to``): a short training then
    # a CDI is one CDI, so the total is the people with an outcome, the sum of the groups.
    for type_code, count in session.execute(
        select(Outcome.type, func.count(Outcome.id))
        .where(Outcome.clause_id == clause.id, latest_up_to(), counted())
        .group_by(Outcome.type)
    ):
        group = group_of(type_code, outcome_groups).value
        per_outcome[group] = per_outcome.get(group, 0) + int(count)
        per_type[type_code] = int(count)
    references = session.scalars(
        select(Participant.reference).where(
            Participant.id.in_(
                select(DeclarationLine.participant_id).where(line_filter).scalar_subquery()
            )
            # Every outcome's participant, counted or not: one whose lines were cancelled may
            # still be quoted in the report typed by hand, and stays masked.
            | Participant.id.in_(
                select(Outcome.participant_id).where(Outcome.clause_id == clause.id)
            )
        )
    ).all()
    return ClauseResults(
        hours_done=Decimal(hours_done or 0),
        participants=int(participants or 0),
        declarations_received=received,
        by_company=[
            CompanyHours(
                name=party.company.name,
                role=PARTY_ROLE_LABELS[PartyRole(party.role)],
                hours_share=party.hours_share,
                hours_done=Decimal(per_company.get(party.company_id) or 0),
            )
            for party in clause.parties
        ],
        by_mode=[
            Count(label_of(DELIVERY_MODE_LABELS, mode), Decimal(hours or 0))
            for mode, hours in sorted(per_mode.items(), key=lambda item: -(item[1] or 0))
        ],
        contracts=[
            Count(label_of(CONTRACT_LABELS, kind), int(count))
            for kind, count in sorted(per_contract.items(), key=lambda item: -item[1])
        ],
        outcomes=[
            Count(label, int(per_outcome.get(group.value, 0)))
            for group, label in OUTCOME_GROUP_LABELS.items()
        ],
        outcome_types=[
            Count(outcome_label(code), count)
            for code, count in sorted(per_type.items(), key=lambda item: outcome_order(item[0]))
        ],
        report_text=mask_references(clause.final_report, references),
    )


def mask_references(text: str | None, references: Iterable[str]) -> str | None:
    """A final report typed by hand may quote a participant: buyers must not read who."""
    if text is None:
        return None
    for reference in sorted({r for r in references if r}, key=len, reverse=True):
        text = re.sub(re.escape(reference), MASK, text, flags=re.IGNORECASE)
    return text


# --- contexts (``emails.notices`` writes them from the clause's plain values) ---------------


def due_day_of(clause: Clause, settings: Settings) -> int:
    """The lot's override, else the buyer's, else the service default: the one rule of
    ``resolve_rules`` (through ``clause_calendar``), so a notice and the ladder agree."""
    return clause_calendar(clause, settings).rules.due_day


def buyer_notice_context(
    clause: Clause,
    settings: Settings,
    *,
    at: date,
    reason: str | None,
    results: ClauseResults | None = None,
    changes: Iterable[AwardChange] | None = None,
    held_since: date | None = None,
    move: EndMove | None = None,
    instant: datetime | None = None,
    corrected: EndCorrection | None = None,
) -> dict[str, Any]:
    """A buyer notice's context for this clause as the database holds it (``held_since``: the
    day a released notice could not leave, ``services.held_notices``; ``move``: the planned end
    moved, for its notice, written at ``instant``): a month already called is announced with the
    due date its call gave (the latest, if companies got several)."""
    due_dates = announced_due_dates(clause, settings, at)
    if move is not None and instant is not None:
        due_dates = {**due_dates, **added_month_dates(clause, settings, move, instant)}
    return notice_context(
        lot_of(clause),
        parties_of(clause),
        due_day=due_day_of(clause, settings),
        at=at,
        reason=reason,
        results=results,
        changes=changes,
        held_since=held_since,
        due_dates=due_dates,
        move=move,
        corrected=corrected,
    ) | {
        "termination": _termination(clause, settings.zone),
        # The declarations received and still owed, for the notices that give the figures.
        **end_declarations(clause, settings.zone, results=results),
    }


def _termination(clause: Clause, zone: ZoneInfo) -> dict[str, Any] | None:
    """A lot ended by a termination: its date and reason, which every notice of its end and
    its final report say (« Le marché a été résilié le … »), never a normal end."""
    session = object_session(clause)
    found = termination_of(session, clause) if session is not None else None
    if found is None or session is None:
        return None
    plain = found.reason.rstrip(" .")
    parties = sorted(clause.parties, key=lambda p: p.company.name)
    owed = {p.company_id: owed_up_to(session, clause, p, found.on, zone) for p in parties}
    return {
        "on": found.on,
        "reason": plain + ".",
        "reason_plain": plain,
        "planned_end": clause.planned_end_date,
        "expected": _expected_at(session, clause, found.on),
        # The months up to the termination each company has not declared yet, by name.
        "owed": [
            {"company": party.company.name, "months_named": months_named(months)}
            for party in parties
            if (months := owed[party.company_id])
        ],
        # Its counts (« X sur Y, Z encore attendues ») are the end's, ``end_declarations``.
    }


def _expected_at(session: Session, clause: Clause, on: date) -> int | None:
    """The hours the target's even pace expected by the termination day (the target spread over
    the planned works, start to planned end, day by day), for the notice to say whether the gap
    to the target comes from the termination: only when that pace means something. None for a
    lot without a target or planned dates, terminated after its planned end, or that was
    suspended (its pace stopped for a while: an even pace would say what nobody planned)."""
    start, end, target = clause.start_date, clause.planned_end_date, clause.hours_target
    if start is None or end is None or not target or not start <= on < end:
        return None
    if suspensions(session, [clause.id]).get(clause.id):
        return None
    return target * ((on - start).days + 1) // ((end - start).days + 1)


def added_month_dates(
    clause: Clause, settings: Settings, move: EndMove, instant: datetime
) -> dict[date, date]:
    """The due dates of the months a later planned end adds to a lot in execution, not called
    yet, whose scheduled call has passed at ``instant`` (an amendment recorded after the old
    end): the companies parked past the old end are armed again at once (``reminders.rearm_lot``)
    and the next pass calls these months together at the next call time, with one date, the
    latest ``due_after_call`` of theirs (``reminders._open_batch``), not their scheduled dates,
    already past. The months still to come keep their scheduled dates."""
    if clause.stage != Stage.EXECUTION.value or move.before is None or move.after <= move.before:
        return {}
    rules = clause_calendar(clause, settings).rules
    zone = settings.zone
    called = called_due_dates(clause)
    months = months_between(add_months(month_start(move.before), 1), month_start(move.after))
    schedules = {m: month_schedule(m, rules, zone) for m in months if m not in called}
    late = [m for m, schedule in schedules.items() if schedule.call_at <= instant]
    if not late:
        return {}
    call_at = sending_slot(schedules[late[0]].call_at, instant, rules.call_time, zone)
    due_on = max(due_after_call(schedules[m], local_date(call_at, zone), zone) for m in late)
    return dict.fromkeys(late, due_on)


def announced_due_dates(
    clause: Clause, settings: Settings, on: date, *, instant: datetime | None = None
) -> dict[date, date]:
    """The due dates a notice announces: a month's call's, once it left, pushed by the working
    days the lot spent suspended after the call, the date its companies are held to
    (``held_called_dates``); for a lot in execution, a month not called yet gets the date the
    ladder will give it (a late start's catch-up call gives its months one later date, the one
    the welcome announced; a call overdue after a suspension, the date it gives at the next
    call time: ``owed_due_dates``' rule, the latest among the companies), not the contract's
    date, long past. Before execution the notices count the months and give no date.
    ``instant``: the moment the notice is written (else noon of ``on``), which the next call
    and the suspended days are seen from."""
    session = object_session(clause)
    if session is None:
        return {}
    moment = instant or datetime.combine(on, time(12), tzinfo=settings.zone)
    called = held_called_dates(session, clause, settings, moment)
    if clause.stage not in (Stage.EXECUTION.value, Stage.FOLLOW_UP.value):
        return called
    expected, _ = _expected_due_dates(session, clause, settings, moment)
    coming: dict[date, date] = {}
    pairs = [(clause.id, party.company_id) for party in clause.parties]
    for dates in next_call_dates_many(session, pairs, settings, moment).values():
        for month, due_on in dates.items():
            coming[month] = max(due_on, coming.get(month, due_on))
    return {**expected, **coming, **called}


def held_called_dates(
    session: Session, clause: Clause, settings: Settings, at: datetime
) -> dict[date, date]:
    """Per month of the lot that has a ladder, the latest due date its companies are held to at
    ``at``: a called month's call's date pushed by the working days the lot spent suspended
    after the call (``held_due_dates.pushed_due_dates``, the date their reminders count from),
    a month opened and waiting for its call the date its ladder holds. None before the first
    call: a notice sent at the start announces the schedule."""
    ladders = list(
        session.scalars(select(DeclarationLadder).where(DeclarationLadder.clause_id == clause.id))
    )
    if not ladders:
        return {}
    zone = settings.zone
    pushed = pushed_due_dates(
        ladders, suspensions(session, [clause.id]), zone, local_date(at, zone)
    )
    held: dict[date, date] = {}
    for ladder in ladders:
        due_on = pushed.get((ladder.clause_id, ladder.company_id, ladder.month), ladder.due_on)
        held[ladder.month] = max(due_on, held.get(ladder.month, due_on))
    return held


def milestone_context(
    app: Mailing,
    session: Session,
    clause: Clause,
    kind: str,
    *,
    at: datetime,
    reason: str | None,
    held_since: date | None = None,
    written_at: datetime | None = None,
    earlier_moves: Sequence[tuple[EndMove, str | None]] = (),
) -> dict[str, Any]:
    """The context of the milestone notice ``kind`` on the day of ``at``: with the lot's results
    when the kind tells them (closing, final report, end corrected), as sent at once or
    released later; a planned end moved or an end corrected reads its dates back from
    ``reason``, its history row's (an end corrected never quotes it). ``written_at``: the
    moment a resumption's notice is written again (``write_resumed_notice_again``), its next
    sendings as the ladders have them then. ``earlier_moves``: the planned end's moves whose
    notices never left, replaced by this one (``_unread_planned_ends``): it tells the whole move,
    from the end the buyer last read, and each step with its reason."""
    move = corrected = None
    steps: list[dict[str, Any]] = []
    if kind == PLANNED_END_NOTICE:
        move, reason = planned_end_move_of(reason, clause.planned_end_date)
        if earlier_moves:
            steps = [
                {"after": m.after, "reason": typed} for m, typed in [*earlier_moves, (move, reason)]
            ]
            move = EndMove(earlier_moves[0][0].before, move.after)
    if kind == END_CORRECTED_NOTICE:
        corrected = end_correction_of(reason, clause.end_date, told=end_told(session, clause, at))
        corrected = dataclasses.replace(
            corrected, suspended=suspended_months(session, clause, corrected, app.settings.zone)
        )
        reason = None
    results = (
        clause_results(session, clause, app.settings.outcome_groups)
        if kind in RESULT_KINDS
        else None
    )
    context = buyer_notice_context(
        clause,
        app.settings,
        at=local_day(at, app.settings.zone),
        reason=reason,
        results=results,
        held_since=held_since,
        move=move,
        instant=at,
        corrected=corrected,
    )
    if kind == PLANNED_END_NOTICE:
        # « La fin prévue a changé plusieurs fois » : each step, when notices were merged.
        context["end_steps"] = steps
    if kind == RESUMED_NOTICE:
        # What the service sends next, as each company's ``company_lot_resumed`` tells it.
        context["resumption"] = lot_resumption_as_of(
            session, app.settings, clause, at, written_at or at
        )
        # Its suspension's notice never left (withdrawn by the resumption, or held): this one
        # says the suspension and its dates, as it stands whenever it is written.
        context["untold"] = untold_context(untold_suspension(session, app.settings, clause.id, at))
    if kind == FINAL_REPORT_NOTICE:
        # Written from the clause as it stands: closed since the report (a notice written again
        # at the closure, or held and released after it), it says so, never « d'ici là ».
        context["closed_on"] = closed_on(session, clause, app.settings.zone)
        # A report recorded again (the figures changed since the first): the buyer who read the
        # earlier one is told this one replaces it.
        context["replaces"] = report_replaced(session, clause.id, at, app.settings.zone)
        if "outstanding" in context:
            # The figures are read now: a month the report named as missing and declared since
            # is in them, so it is no longer named « non reçue » (a notice written again at the
            # closure, or held and released later).
            context["outstanding"] = outstanding_context(
                still_outstanding(session, clause.id, outstanding_of(reason))
            )
    return context


def lot_resumption_as_of(
    session: Session, settings: Settings, clause: Clause, resumed_at: datetime, written_at: datetime
) -> dict[str, object]:
    """``notice_resumed``'s account of the service's next sendings after the lot resumed at
    ``resumed_at``, as they stand at ``written_at``: at the resumption itself,
    ``company_pauses.lot_resumption``; later (a notice that waited through a stop of the
    service), the next call and steps the passes send from then, as each company's resumption
    email written again then tells them (``company_pauses.resumption_email``)."""
    if written_at <= resumed_at:
        return company_pauses.lot_resumption(session, settings, clause, resumed_at)
    later = ClauseAdvanced(
        clause.id,
        ClauseEvent.RESUME,
        Stage.SUSPENDED,
        Stage.EXECUTION,
        written_at,
        "stale_promise",
        None,
    )
    # A month called since the resumption is not « demandée avant la suspension »: the pass
    # that caught up called it before this notice leaves. No call nor reminder goes to a
    # company without a correspondent (``reminders._has_correspondent``).
    facts = [
        company_pauses._resumption(session, settings, clause, party, later, called_by=resumed_at)
        for party in clause.parties
        if party_recipient(party) is not None
    ]
    return company_pauses.resumption_notice(facts, local_date(written_at, settings.zone))


def resumed_notice_until(
    resumption: Mapping[str, Any], written_at: datetime, zone: ZoneInfo
) -> datetime | None:
    """The instant after which ``notice_resumed`` written at ``written_at`` says something
    untrue: the end of the first day of the service it names to come (« Le prochain appel à
    déclarer partira le … », « le prochain [rappel] partira le … », « vous en serez alerté le
    … »). None when it names none."""
    call = resumption.get("next_call")
    named = [call["on"]] if call else []
    named += [resumption.get("reminder_on"), resumption.get("alert_on")]
    written_on = local_date(written_at, zone)
    days = [day for day in named if day is not None and day >= written_on]
    # A date is true all day long (the notice names a day, not an hour): false from the next.
    return at_local(min(days) + timedelta(days=1), time(0), zone) if days else None


def write_resumed_notice_again(
    app: Mailing,
    session: Session,
    facts: Mapping[str, Any],
    first: Sequence[Recipient],
    now: datetime,
) -> PromiseRewrite:
    """The buyer's notice of a resumption as ``_buyer_notice`` would write it at ``now``: the
    same resumption (its day, its reason), the next call, reminders and alerts as the ladders
    have them now; to the buyer's contacts of now, else to every one it was first written to."""
    clause = _load_clause(session, int(facts["clause_id"]))
    resumed_at = datetime.fromisoformat(str(facts["at"]))
    if left_execution_since(session, clause.id, resumed_at):
        # Suspended, ended or terminated again since: that change's notice says what holds.
        raise Superseded("le lot a changé d'étape depuis la reprise qu'il annonçait")
    reason = facts.get("reason")
    # Held for want of a contact (``held_notices``): it still says the day it could not leave.
    held_since = facts.get("held_since")
    context = milestone_context(
        app,
        session,
        clause,
        RESUMED_NOTICE,
        at=resumed_at,
        reason=None if reason is None else str(reason),
        held_since=None if held_since is None else date.fromisoformat(str(held_since)),
        written_at=now,
    )
    readers = buyer_recipients(clause.market.operation.buyer) or list(first)
    until = resumed_notice_until(context["resumption"], now, app.settings.zone)
    return PromiseRewrite(recipients=readers, context=context, promised_until=until)


def still_outstanding(
    session: Session, clause_id: int, outstanding: Sequence[Outstanding]
) -> list[Outstanding]:
    """Of the months a final report named as missing, those still not declared now."""
    declared = {
        (name, month)
        for name, month in session.execute(
            select(Company.name, Declaration.month)
            .join(Company, Company.id == Declaration.company_id)
            .where(Declaration.clause_id == clause_id)
        )
    }
    return [
        dataclasses.replace(
            o, months=tuple(m for m in o.months if (o.company, month_start(m)) not in declared)
        )
        for o in outstanding
    ]


def report_replaced(
    session: Session, clause_id: int, at: datetime, zone: ZoneInfo
) -> dict[str, Any] | None:
    """The final report before ``at`` whose notice left (or may have) that a report recorded
    again replaces for the buyer: its local day and what changed the lot's figures between the
    two (history labels: « déclaration mensuelle »…; none when only the text was revised). None
    for a first report."""
    keys = session.scalars(
        select(OutboxMessage.key)
        .where(
            OutboxMessage.clause_id == clause_id,
            OutboxMessage.kind == FINAL_REPORT_NOTICE,
            OutboxMessage.state.in_(REPORT_LEFT),
            OutboxMessage.created_at < at,
        )
        .order_by(OutboxMessage.id)
    ).all()
    days = [
        row.at
        for row in (_report_row(session, clause_id, key.partition("@")[0]) for key in keys)
        if row is not None and row.at < at
    ]
    if not days:
        return None
    since = max(days)
    changes = figure_changes(
        session.scalars(
            select(ClauseHistory.event)
            .where(
                ClauseHistory.clause_id == clause_id,
                ClauseHistory.at > since,
                ClauseHistory.at < at,
                ClauseHistory.event.in_(FIGURE_EVENTS),
            )
            .order_by(ClauseHistory.at, ClauseHistory.id)
        )
    )
    return {"day": local_day(since, zone), "changes": list(changes)}


def withdraw_earlier_reports(app: Mailing, session: Session, clause_id: int, at: datetime) -> None:
    """The notices of an earlier final report of the lot not left yet: withdrawn, their reason
    kept; the report just recorded, with the figures of now, leaves in their place."""
    rows = session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.clause_id == clause_id,
            OutboxMessage.kind == FINAL_REPORT_NOTICE,
            OutboxMessage.state.in_([state.value for state in NOT_LEFT]),
            OutboxMessage.created_at <= at,
        )
        .with_for_update()
    ).all()
    for row in rows:
        withdraw(
            row,
            f"Remplacé : un nouveau bilan du lot a été enregistré le {_day(app, at)} ; il part à "
            "sa place, avec les chiffres à jour.",
        )


def closed_on(session: Session, clause: Clause, zone: ZoneInfo) -> date | None:
    """The local day the clause was closed, from its latest closure's history row: None while
    it is not closed."""
    if Stage(clause.stage) is not Stage.CLOSED:
        return None
    at = session.scalar(
        select(ClauseHistory.at)
        .where(ClauseHistory.clause_id == clause.id, ClauseHistory.event == ClauseEvent.CLOSE.value)
        .order_by(ClauseHistory.at.desc(), ClauseHistory.id.desc())
        .limit(1)
    )
    return None if at is None else local_day(at, zone)


#: The history row of an end corrected: « fin d'exécution : 31/10/2026 → 30/11/2026 ; … »
#: (``lot_ends.correction_reason`` writes it).
_END_CORRECTED_REASON = re.compile(
    r"^fin d'exécution\u00a0?\s*: (?P<before>\d{2}/\d{2}/\d{4}) → (?P<after>\d{2}/\d{2}/\d{4})"
)


def _day_of(text: str) -> date | None:
    try:
        return datetime.strptime(text, "%d/%m/%Y").date()
    except ValueError:
        return None


def end_correction_of(
    reason: str | None, end_date: date | None, *, told: bool = True
) -> EndCorrection:
    """The correction an end's history row tells. The row may be read long after (a held
    notice released, a preview): its dates are the correction's, not the lot's now. A row that
    no longer reads so gives the lot's end, no previous one. Nothing else of the row is kept:
    its reason and what it did to each company are the facilitator's."""
    found = _END_CORRECTED_REASON.match(reason or "")
    if found is not None:
        before, after = _day_of(found["before"]), _day_of(found["after"])
        if before is not None and after is not None:
            return EndCorrection(before, after, told)
    if end_date is None:
        raise ValueError(f"an end corrected, but none is recorded: {reason!r}")
    return EndCorrection(None, end_date, told)


def suspended_months(
    session: Session, clause: Clause, corrected: EndCorrection, zone: ZoneInfo
) -> frozenset[date]:
    """The lot's months, up to the later of the two ends, that a suspension covered whole and
    that nobody declared: no company is asked for them (``company_pauses._skipped``,
    ``reminders``), so the notice names them neither asked again nor no longer asked, nor
    counts them among the declarations expected."""
    intervals = suspensions(session, [clause.id]).get(clause.id, [])
    if not intervals or clause.start_date is None:
        return frozenset()
    last = max(d for d in (corrected.before, corrected.after) if d is not None)
    declared = set(
        session.scalars(
            select(Declaration.month).where(Declaration.clause_id == clause.id).distinct()
        )
    )
    return frozenset(
        m
        for m in months_between(clause.start_date, last)
        if m not in declared and month_fully_within(m, intervals, zone)
    )


def end_told(session: Session, clause: Clause, at: datetime) -> bool:
    """The buyer was told the lot's end before ``at`` (the notice of the end, or of an earlier
    correction, queued and left or leaving): else a correction has nothing to replace, and says
    the end only. A notice withdrawn (cancelled), refused or abandoned told the buyer nothing
    and will not by itself: « et non le … comme nous vous l'avions indiqué » would name a date
    the buyer never read. One waiting, being sent or uncertain counts: it leaves (or left)."""
    unheard = (OutboxState.CANCELLED.value, OutboxState.FAILED.value, OutboxState.DEAD.value)
    found = session.scalar(
        select(OutboxMessage.id)
        .where(
            OutboxMessage.clause_id == clause.id,
            OutboxMessage.kind.in_(END_TOLD_KINDS),
            OutboxMessage.created_at < at,
            OutboxMessage.state.not_in(unheard),
        )
        .limit(1)
    )
    return found is not None


def _month_numbers() -> dict[str, int]:
    """« janvier » → 1 …, as ``french_date`` writes them."""
    return {french_month(date(2000, n, 1)).rsplit(" ", 1)[0]: n for n in range(1, 13)}


#: The history row of a planned end moved: « fin prévue : 31 décembre 2026 → 31 mars 2027 ;
#: avenant n° 2 : intempéries » (``services.clauses.set_planned_end`` writes it).
_PLANNED_END_REASON = re.compile(
    r"^fin prévue\u00a0?\s*: (?P<before>.+?) → (?P<after>.+?)\u00a0?\s*; (?P<typed>.*)$", re.DOTALL
)
_FRENCH_DATE = re.compile(r"^(?P<day>1er|\d{1,2}) (?P<month>\S+) (?P<year>\d{4})$")


def _french_date_of(text: str) -> date | None:
    """« 31 décembre 2026 », « 1er mars 2027 » read back; None for any other text."""
    found = _FRENCH_DATE.match(text.strip())
    month = _month_numbers().get(found["month"]) if found else None
    if found is None or month is None:
        return None
    try:
        return date(int(found["year"]), month, 1 if found["day"] == "1er" else int(found["day"]))
    except ValueError:
        return None


def planned_end_move_of(reason: str | None, planned_end: date | None) -> tuple[EndMove, str | None]:
    """The move a planned end's history row tells, and the reason as the facilitator typed it.

    The row may be read long after (a held notice released, a preview): its dates are the
    move's, not the lot's now. A row that no longer reads so gives the lot's planned end, no
    previous one, and the whole text as its reason."""
    found = _PLANNED_END_REASON.match(reason or "")
    if found is not None:
        before, after = _french_date_of(found["before"]), _french_date_of(found["after"])
        if before is not None and after is not None:
            return EndMove(before, after), found["typed"].strip() or None
    if planned_end is None:
        raise ValueError(f"a planned end moved, but none is recorded: {reason!r}")
    return EndMove(None, planned_end), reason


def called_due_dates(clause: Clause) -> dict[date, date]:
    """Per month of the lot, the latest due date a call gave its companies (none before the
    first call: a notice sent at the start announces the schedule)."""
    session = object_session(clause)
    if session is None:
        return {}
    return {
        month: due_on
        for month, due_on in session.execute(
            select(DeclarationLadder.month, func.max(DeclarationLadder.due_on))
            .where(DeclarationLadder.clause_id == clause.id)
            .group_by(DeclarationLadder.month)
        )
    }


# --- from events to outbox rows ---------------------------------------------------------------


def notify_identified(app: Mailing, session: Session, event: ClauseIdentified) -> None:
    _buyer_notice(app, session, event.clause_id, "notice_identified", "identify", event.at)


def notify_advanced(app: Mailing, session: Session, event: ClauseAdvanced) -> None:
    """A notice for the stage changes buyers hear of; none for the others. A suspension and a
    resumption are told to the lot's companies too: their calls and reminders stop, then
    start again (``company_pauses``). A closure writes again the final report's notice still
    waiting (``rewrite_final_report``): it would say the clause is still to be closed."""
    kind = ADVANCE_NOTICES.get(event.event)
    if event.event is ClauseEvent.RESUME:
        # First: the suspension's emails still waiting are withdrawn, and the resumption's
        # emails written below tell their readers the suspension they never read.
        withdraw_overtaken(session, app.settings, event.clause_id, event.at)
    if event.event is ClauseEvent.START:
        # Before the start's notice: the award's, still waiting, says « le début de
        # l'exécution, dont je vous informerai » and would leave beside it.
        rewrite_award_notice(app, session, event.clause_id, event.at)
        rewrite_welcomes_at_start(app, session, event.clause_id, event.at)
    if kind is not None:
        _buyer_notice(app, session, event.clause_id, kind, event.event.value, event.at)
    if event.event is ClauseEvent.CLOSE and event.to_stage is Stage.CLOSED:
        rewrite_final_report(app, session, event.clause_id, event.at)
    company_pauses.tell_companies(app, session, event)
    if event.event is ClauseEvent.TERMINATE:
        # Each company of the lot: the contract terminated, the months still to declare, each
        # due by the date it was or will be given that company (``owed_due_dates``, the rule of
        # its departure email, its receipts and ``declaration list``); a month that rule does
        # not date, by the one the buyer's notice announces.
        clause = _load_clause(session, event.clause_id)
        day = local_day(event.at, app.settings.zone)
        announced: dict[date, date | None] = dict(
            announced_due_dates(clause, app.settings, day, instant=event.at)
        )
        tell_terminated(
            app,
            session,
            event,
            {
                party.company_id: announced
                | owed_due_dates(session, clause, party.company_id, app.settings, event.at)
                for party in clause.parties
            },
        )
    if event.event is ClauseEvent.ABANDON and event.from_stage is Stage.AWARD:
        # Each company already welcomed on the lot: it has nothing to declare.
        tell_abandoned(app, session, event)


def rewrite_final_report(app: Mailing, session: Session, clause_id: int, at: datetime) -> int:
    """In the closure's transaction: each notice of the lot's final report still waiting (queued
    at the report, not sent yet) says « La clause sera ensuite clôturée … d'ici là, il peut
    encore être déclaré », untrue once it leaves. It is written again from the clause closed
    (``milestone_context``: « La clause a été clôturée le … »), with the report's day, the months
    its history row names as missing and still not declared at the closure, the same recipients
    and held day, and the figures read at the closure (as a held notice released later reads
    them; ``still_outstanding``: a month declared in between is in them, never « non reçue »),
    under its key followed by the
    closure's instant (the audit reads it as caused by the closure); the first one withdrawn,
    its reason kept. One refused for good or given up stays as
    it is, among the undelivered emails, as the closure leaves the ladder's (``lot_ends``); one
    already sent, or leaving, told the truth of its day: the closure's history row is the
    facilitator's. Returns the number written again."""
    rows = _pending_notices(session, clause_id, FINAL_REPORT_NOTICE)
    if not rows:
        return 0
    clause = _load_clause(session, clause_id)
    zone = app.settings.zone
    written = 0
    for row in rows:
        report = _report_row(session, clause_id, row.key)
        if report is None:
            continue  # a key of another form: left as it is
        held = session.scalar(select(HeldNotice.held_at).where(HeldNotice.key == row.key).limit(1))
        context = milestone_context(
            app,
            session,
            clause,
            FINAL_REPORT_NOTICE,
            at=report.at,
            reason=report.reason,
            held_since=None if held is None else local_day(held, zone),
        )
        written += _written_again(
            app,
            session,
            row,
            context,
            at,
            f"Remplacé : la clause a été clôturée le {_day(app, at)} avant le départ de ce "
            "courriel ; le même bilan, qui dit la clôture, part à sa place.",
        )
    return written


def _pending_notices(
    session: Session, clause_id: int, kind: str, *where: ColumnElement[bool]
) -> Sequence[OutboxMessage]:
    """The lot's notices of ``kind`` still waiting, locked: to write again at a change."""
    return session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.clause_id == clause_id,
            OutboxMessage.kind == kind,
            OutboxMessage.state == OutboxState.PENDING.value,
            *where,
        )
        .order_by(OutboxMessage.id)
        .with_for_update()
    ).all()


def _written_again(
    app: Mailing,
    session: Session,
    row: OutboxMessage,
    context: dict[str, Any],
    at: datetime,
    reason: str,
) -> bool:
    """``row`` written again from ``context`` under its key followed by ``at``'s instant (the
    audit reads it as caused by that change), to the same recipients, and withdrawn with
    ``reason``; False, left as it is, when an address is refused since (among the emails to look
    at) or the new key is taken."""
    try:
        recipients = [Recipient(m.name, m.address) for m in parse_recipients(row.recipients)]
    except AddressRefused:
        return False
    if not recipients or not queue_email(
        session,
        app.renderer,
        key=f"{row.key}@{at.astimezone(UTC).isoformat()}",
        kind=row.kind,
        recipients=recipients,
        context=context,
        now=at,
        clause_id=row.clause_id,
    ):
        return False
    withdraw(row, reason)
    return True


def rewrite_award_notice(app: Mailing, session: Session, clause_id: int, at: datetime) -> int:
    """In the start's transaction: each notice of the lot's award still waiting says
    « Prochaine étape : la réunion de démarrage …, puis le début de l'exécution, dont je vous
    informerai », and would reach the buyer with the start's notice (an award and a start
    recorded the same evening, a late start; user trial, 7 December 2026). It is written again
    as of its award (its day, its companies), saying the start recorded and announced apart,
    under its key followed by the start's instant (the audit reads it as caused by the start),
    the same recipients; the first one withdrawn, its reason kept. One being sent, refused or
    held for want of a contact is left as it is. Returns the number written again."""
    # Not one written again at a start already (the same start handled again).
    rows = _pending_notices(session, clause_id, AWARDED_NOTICE, OutboxMessage.key.not_like("%@%"))
    if not rows:
        return 0
    clause = _load_clause(session, clause_id)
    zone = app.settings.zone
    written = 0
    for row in rows:
        context = buyer_notice_context(
            clause, app.settings, at=local_day(row.created_at, zone), reason=None
        )
        written += _written_again(
            app,
            session,
            row,
            {**context, "started_on": local_day(at, zone)},
            at,
            f"Remplacé : le démarrage de l'exécution a été enregistré le {_day(app, at)} avant "
            "le départ de ce courriel ; le même avis, qui le dit, part à sa place.",
        )
    return written


#: The buyer's notice of the award.
AWARDED_NOTICE = "notice_awarded"


def rewrite_welcomes_at_start(app: Mailing, session: Session, clause_id: int, at: datetime) -> int:
    """In the start's transaction: each company's welcome still waiting that was written for a
    start to record (its first call promised for a start recorded in time,
    ``welcome_promised_until``) would leave asking « Les travaux devaient démarrer le 5 janvier
    2027 : s'ils ont commencé, répondez … », its months « à déclarer une fois le démarrage
    enregistré », of a start recorded (an award and its start recorded the same evening). It is
    written again as it stands now, started (``write_welcome_again``: the ladder's dates, no
    question on the start), under its key's next sending, waiting as the first one did; the
    first one withdrawn, its reason kept. Written again once: the new one promises nothing (its
    dates are the ladder's). One that cannot be written again leaves as written, its promise
    kept (``stale_promises`` writes it again if that day goes). Returns the number written
    again."""
    reason = (
        f"Remplacé : le démarrage de l'exécution a été enregistré le {_day(app, at)} avant le "
        "départ de ce courriel ; le même message d'accueil, écrit à nouveau avec les dates du "
        "lot démarré, part à sa place."
    )
    written, seen = 0, set[int]()
    for _ in range(2):
        # Read twice: on PostgreSQL, a welcome being written again by the delivery (its
        # promised day passed, ``stale_promises``) when the start locked its first sending is
        # seen withdrawn, and its new sending, committed while the start waited and still
        # written for a start to record, is not in the first read; the second finds it. The
        # rows written here promise nothing (the lot is started): not read again.
        rows = [
            row
            for row in _pending_notices(
                session, clause_id, WELCOME, OutboxMessage.promise_facts.is_not(None)
            )
            if row.id not in seen
        ]
        seen.update(row.id for row in rows)
        written += sum(_welcome_written_again(app, session, row, at, reason) for row in rows)
    return written


def rewrite_retried_welcome(
    app: Mailing, session: Session, row: OutboxMessage, at: datetime
) -> OutboxMessage | None:
    """A welcome put back in the queue by the facilitator (refused, given up: a wrong address
    corrected) after its lot's start was recorded: written for a start to record, it would
    leave asking whether the works began, of works the service knows under way. Written again
    as at the start (``rewrite_welcomes_at_start``), the first one withdrawn; returns the one
    that leaves in its place, or None when ``row`` leaves as it is (not such a welcome, or it
    could not be written again)."""
    if row.kind != WELCOME or row.promise_facts is None or row.clause_id is None:
        return None
    # Locked: a start recorded at the same moment waits for the retry, then finds the welcome
    # waiting and writes it again itself (``rewrite_welcomes_at_start``), or the retry waits for
    # the start and reads it here (PostgreSQL; SQLite has one writer at a time).
    stage = session.scalar(select(Clause.stage).where(Clause.id == row.clause_id).with_for_update())
    if stage in NOT_STARTED:
        return None  # still to start: its promise holds (``stale_promises`` keeps it)
    # Started since (a lot closed or abandoned since: withdrawn, ``write_welcome_again``).
    reason = (
        f"Remplacé : remis en file le {_day(app, at)}, après l'enregistrement du démarrage de "
        "l'exécution ; le même message d'accueil, écrit à nouveau avec les dates du lot "
        "démarré, part à sa place."
    )
    if not _welcome_written_again(app, session, row, at, reason):
        return None
    base = row.key.split(AGAIN_MARK)[0]
    return session.scalars(
        select(OutboxMessage)
        .where(
            # The lot's welcomes first (an index), then the sendings of this one's key: the
            # newest is the one just written.
            OutboxMessage.clause_id == row.clause_id,
            OutboxMessage.kind == WELCOME,
            OutboxMessage.key.startswith(f"{base}{AGAIN_MARK}", autoescape=True),
        )
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    ).first()


def _welcome_written_again(
    app: Mailing, session: Session, row: OutboxMessage, at: datetime, reason: str
) -> bool:
    """``row``, a welcome still to leave and locked, written again as it stands at ``at`` and
    withdrawn with ``reason``; False when it leaves as written (or is withdrawn, its lot or
    company gone)."""
    try:
        # In a savepoint: the database refusing it leaves it as it was (its promise kept,
        # ``stale_promises`` writes it again if that day goes) and the change goes on.
        with session.begin_nested():
            failure = write_again_now(app, session, row, at, to_first(write_welcome_again))
    except Superseded as gone:
        withdraw(row, f"Retiré : {gone} ; ce courriel n'avait plus lieu d'être.")
        return False
    except DBAPIError:
        failure = "la base a refusé l'opération"
    if failure is not None:
        log.warning(
            "message d'accueil laissé tel quel : il n'a pu être écrit à nouveau",
            extra={"action": "welcome.rewrite_failed", "outbox_id": row.id, "error": failure},
        )
        return False
    withdraw(row, reason)
    return True


def _report_row(session: Session, clause_id: int, key: str) -> ClauseHistory | None:
    """The final report's history row a notice's key names (``notice:<lot>:<kind>:h<id>``)."""
    cause = key.rpartition(":")[2]
    if not (cause.startswith("h") and cause[1:].isdigit()):
        return None
    row = session.get(ClauseHistory, int(cause[1:]))
    if row is None or row.clause_id != clause_id or row.event != "final_report":
        return None
    return row


def notify_reopened(app: Mailing, session: Session, event: ClauseReopened) -> None:
    """The buyer told of the abandon hears that the clause is back, at which stage and why.

    An abandon notice that has not left yet (waiting, refused, given up, or held for want of a
    contact) is withdrawn instead, its reason kept in the email log: the buyer never heard of the
    abandon, and reads nothing of it nor of its undoing (``abandon_withdrawn``)."""
    if event.to_stage is Stage.AWARD:
        # The companies told of the abandon, or whose welcome it withdrew, are welcomed again,
        # as of now: the welcome tells them where they stand (``abandon_notices``).
        day = local_day(event.at, app.settings.zone)
        companies = to_welcome_again(session, event.clause_id, day)
        if companies:
            _welcome(app, session, _load_clause(session, event.clause_id), event.at, companies)
    if withdraw_abandon_notice(app, session, event.clause_id, event.at):
        return
    _buyer_notice(app, session, event.clause_id, "notice_reopened", REOPEN, event.at)


def _latest_notice(session: Session, clause_id: int, kind: str) -> OutboxMessage | None:
    """The lot's latest notice of ``kind`` in the outbox, locked."""
    return session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.clause_id == clause_id, OutboxMessage.kind == kind)
        .order_by(OutboxMessage.id.desc())
        .limit(1)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def _settle_held(session: Session, clause_id: int, kind: str, at: datetime) -> int:
    """The lot's held notices of ``kind`` still waiting, settled as superseded: the number."""
    held = session.scalars(
        select(HeldNotice.id).where(
            HeldNotice.clause_id == clause_id,
            HeldNotice.kind == kind,
            HeldNotice.settled_at.is_(None),
        )
    ).all()
    if held:
        session.execute(
            update(HeldNotice)
            .where(HeldNotice.id.in_(held), HeldNotice.settled_at.is_(None))
            .values(settled_at=at, outcome=HELD_SUPERSEDED)
            .execution_options(synchronize_session=False)
        )
    return len(held)


def withdraw_abandon_notice(app: Mailing, session: Session, clause_id: int, at: datetime) -> bool:
    """The notice of the lot's latest abandon withdrawn if it has not left (waiting, refused or
    given up), the lot's held abandon notices settled: True when the buyer never heard of the
    abandon. An abandon notice that may have left (sending, uncertain) or has left stays."""
    held = _settle_held(session, clause_id, ABANDONED_NOTICE, at)
    row = _abandon_notice(session, clause_id)
    if row is None:
        return held > 0
    if row.state not in NOT_LEFT:
        return False
    withdraw(
        row,
        f"{ABANDON_WITHDRAWN} le {_day(app, at)} avant le départ de ce courriel ; le donneur "
        "d'ordre n'est prévenu ni de l'abandon ni de la réouverture.",
    )
    return True


def _abandon_notice(session: Session, clause_id: int) -> OutboxMessage | None:
    """The outbox row of the notice of the lot's latest abandon (locked), if it was queued."""
    abandoned_at = session.scalar(
        select(ClauseHistory.at)
        .where(
            ClauseHistory.clause_id == clause_id,
            ClauseHistory.event == ClauseEvent.ABANDON.value,
        )
        .order_by(ClauseHistory.at.desc(), ClauseHistory.id.desc())
        .limit(1)
    )
    row = _latest_notice(session, clause_id, ABANDONED_NOTICE)
    if row is None or abandoned_at is None or row.created_at < abandoned_at:
        return None  # none, or that of an earlier abandon
    return row


def abandon_withdrawn(session: Session, clause_id: int, at: datetime) -> bool:
    """Whether the reopening at ``at`` withdrew the abandon notice (``withdraw_abandon_notice``),
    so the buyer hears nothing: for the command to say so."""
    row = _abandon_notice(session, clause_id)
    if row is not None:
        return row.state == OutboxState.CANCELLED and (row.last_error or "").startswith(
            ABANDON_WITHDRAWN
        )
    held = session.scalar(
        select(HeldNotice.id)
        .where(
            HeldNotice.clause_id == clause_id,
            HeldNotice.kind == ABANDONED_NOTICE,
            HeldNotice.settled_at == at,
            HeldNotice.outcome == HELD_SUPERSEDED,
        )
        .limit(1)
    )
    return held is not None


def withdraw_drafted_notice(app: Mailing, session: Session, clause_id: int, at: datetime) -> None:
    """The lot's notice « clause rédigée, nous attendons l'attribution » withdrawn if it has not
    left when the award is recorded: the award notice tells where the lot stands. One held for
    want of a contact is left to ``held_notices``, which releases only the lot's latest."""
    row = _latest_notice(session, clause_id, DRAFTED_NOTICE)
    if row is None or row.state not in NOT_LEFT:
        return
    withdraw(
        row,
        f"Remplacé : l'attribution du lot a été enregistrée le {_day(app, at)} avant le départ "
        "de ce courriel ; l'avis d'attribution part à sa place.",
    )


def _day(app: Mailing, at: datetime) -> str:
    return remembered_date(at.astimezone(app.settings.zone).date())


def notify_planned_end(app: Mailing, session: Session, event: PlannedEndMoved) -> None:
    """The buyer hears that the lot's planned end moved (an amendment), why, and what it
    changes for the companies' declarations: the months it adds or no longer asks for."""
    _buyer_notice(app, session, event.clause_id, PLANNED_END_NOTICE, PLANNED_END_EVENT, event.at)


#: The start of the reason a planned end's notice is withdrawn with when a later move of the same
#: end replaces it before it left (``_unread_planned_ends``).
PLANNED_END_REPLACED = "Remplacé : la fin prévue du lot a de nouveau changé"
PLANNED_END_BACK = "Retiré : la fin prévue du lot est revenue"
_PLANNED_END_MAY_HAVE_LEFT = (
    OutboxState.SENT.value,
    OutboxState.SENDING.value,
    OutboxState.UNCERTAIN.value,
)


def _unread_planned_ends(
    session: Session, clause: Clause
) -> tuple[list[tuple[EndMove, str | None]], list[OutboxMessage]]:
    """The moves of the lot's planned end whose notices the buyer never read, oldest first, each
    with its reason: the notices since the last one that left (or may have: sending, uncertain)
    that are waiting, refused or given up (the caller withdraws them, their reason kept), or
    withdrawn by an earlier move, and their rows. The new notice tells the whole move from the
    first one's ``before``, as ``planned_end_company_notices`` does for the companies; nothing
    when the buyer read the last."""
    rows = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.clause_id == clause.id, OutboxMessage.kind == PLANNED_END_NOTICE)
        .order_by(OutboxMessage.id.desc())
        .with_for_update()
        # The states as locked, not as an earlier read of this transaction loaded them.
        .execution_options(populate_existing=True)
    ).all()
    unread: list[OutboxMessage] = []
    for row in rows:
        if row.state in _PLANNED_END_MAY_HAVE_LEFT:
            break
        reason = row.last_error or ""
        if row.state == OutboxState.CANCELLED and reason.startswith(PLANNED_END_BACK):
            # The end came back to the day the buyer knows: nothing before it is unread, and
            # the moves it undid are not the buyer's to read.
            break
        replaced = row.state == OutboxState.CANCELLED and reason.startswith(PLANNED_END_REPLACED)
        if row.state not in NOT_LEFT and not replaced:
            break  # cancelled by a person, or otherwise: not part of what the buyer missed
        unread.append(row)
    moves: list[tuple[EndMove, str | None]] = []
    for row in reversed(unread):
        history = _report_history(session, clause.id, row.key, PLANNED_END_EVENT)
        if history is None:
            return [], []  # a key of another form: left as it is, this notice tells its move
        moves.append(planned_end_move_of(history.reason, clause.planned_end_date))
    return moves, unread


def _report_history(session: Session, clause_id: int, key: str, event: str) -> ClauseHistory | None:
    """The history row of ``event`` a notice's key names (``notice:<lot>:<kind>:h<id>``)."""
    cause = key.rpartition(":")[2]
    if not (cause.startswith("h") and cause[1:].isdigit()):
        return None
    row = session.get(ClauseHistory, int(cause[1:]))
    if row is None or row.clause_id != clause_id or row.event != event:
        return None
    return row


def notify_end_corrected(app: Mailing, session: Session, event: EndDateCorrected) -> None:
    """The buyer told the lot's end (« achever ») hears the day it really ended, what that
    changes for the companies' declarations and where the clause stands at the moment of
    sending, as the notice of the end told it; never the facilitator's reason. A buyer that
    reads its milestones in the monthly summary reads the corrected end there, as it read the
    end (``_buyer_notice``); the same date again publishes nothing."""
    _buyer_notice(
        app, session, event.clause_id, END_CORRECTED_NOTICE, END_CORRECTED_EVENT, event.at
    )


def notify_final_report(app: Mailing, session: Session, event: FinalReportRecorded) -> None:
    withdraw_earlier_reports(app, session, event.clause_id, event.at)
    _buyer_notice(app, session, event.clause_id, FINAL_REPORT_NOTICE, "final_report", event.at)


def buyer_recipients(buyer: Buyer) -> list[Recipient]:
    return [Recipient(c.name, c.email) for c in buyer.contacts if c.email.strip()]


def wants_each_milestone(buyer: Buyer) -> bool:
    return buyer.notice_preference == NoticePreference.EACH_MILESTONE.value


def _cause(session: Session, clause_id: int, history_event: str, at: datetime) -> str:
    """The history row written with the change: a stable name for it whenever we look again."""
    row_id = session.scalar(
        select(ClauseHistory.id)
        .where(
            ClauseHistory.clause_id == clause_id,
            ClauseHistory.event == history_event,
            ClauseHistory.at == at,
        )
        .order_by(ClauseHistory.id.desc())
        .limit(1)
    )
    if row_id is not None:
        return f"h{row_id}"
    return f"{history_event}@{at.astimezone(UTC).isoformat()}"


def history_reason(
    session: Session, clause_id: int, history_event: str, at: datetime
) -> str | None:
    """The reason the facilitator gave for the change, from its history row."""
    return session.scalar(
        select(ClauseHistory.reason)
        .where(
            ClauseHistory.clause_id == clause_id,
            ClauseHistory.event == history_event,
            ClauseHistory.at == at,
        )
        .order_by(ClauseHistory.id.desc())
        .limit(1)
    )


def hold_notice(
    session: Session,
    clause: Clause,
    *,
    key: str,
    kind: str,
    history_event: str,
    cause: str,
    at: datetime,
) -> None:
    """Keep a notice the buyer wants but cannot receive, under the key it would have had: the
    same event handled twice holds it once (``services.held_notices`` releases it)."""
    if session.autoflush:
        session.flush()
    connection = session.connection()
    connection.execute(
        insert_ignoring(connection, HeldNotice, "key"),
        {
            "key": key,
            "clause_id": clause.id,
            "buyer_id": clause.market.operation.buyer_id,
            "kind": kind,
            "history_event": history_event,
            "cause": cause,
            "held_at": at,
            "settled_at": None,
            "outcome": None,
        },
    )


def _load_clause(session: Session, clause_id: int) -> Clause:
    clause = session.get(Clause, clause_id)
    if clause is None:
        raise LookupError(f"clause {clause_id} vanished inside its own transaction")
    return clause


def _buyer_notice(
    app: Mailing, session: Session, clause_id: int, kind: str, history_event: str, at: datetime
) -> None:
    clause = _load_clause(session, clause_id)
    buyer = clause.market.operation.buyer
    recipients = buyer_recipients(buyer)
    # The final report is the buyer's result, not a milestone: a buyer who chose the monthly
    # summary only still receives it (its summary does not carry the report's text).
    wanted = wants_each_milestone(buyer) or kind in ALWAYS_SENT_KINDS
    if not wanted:
        return
    cause = _cause(session, clause_id, history_event, at)
    key = f"notice:{clause_id}:{kind}:{cause}"
    if not recipients:
        hold_notice(
            session, clause, key=key, kind=kind, history_event=history_event, cause=cause, at=at
        )
        return
    reason = (
        history_reason(session, clause_id, history_event, at) if kind in HISTORY_KINDS else None
    )
    earlier: list[tuple[EndMove, str | None]] = []
    if kind == PLANNED_END_NOTICE:
        if key_exists(session, key):
            return  # the same move handled again: its notice is written, nothing to withdraw
        earlier, unread = _unread_planned_ends(session, clause)
        after = planned_end_move_of(reason, clause.planned_end_date)[0].after
        back = bool(earlier) and earlier[0][0].before == after
        why = (
            f"la fin prévue du lot est revenue le {_day(app, at)} au {remembered_date(after)}, "
            "celle que le donneur d'ordre connaît, avant le départ de ce courriel."
            if back
            else f"{PLANNED_END_REPLACED} le {_day(app, at)} avant le départ de ce courriel ; "
            "l'avis suivant dit le changement entier, depuis la fin prévue que le donneur "
            "d'ordre connaît."
        )
        for row in unread:
            if row.state in NOT_LEFT:
                withdraw(row, f"Retiré : {why}" if back else why)
        if back:
            return  # back to the end the buyer last read: nothing changed for it
    context = milestone_context(
        app, session, clause, kind, at=at, reason=reason, earlier_moves=earlier
    )
    promise = None
    if kind == RESUMED_NOTICE:
        # It names the service's next sendings: held in the outbox past the first of them (the
        # service stopped), it is written again as it stands when it leaves
        # (``stale_promises``).
        until = resumed_notice_until(context["resumption"], at, app.settings.zone)
        if until is not None:
            facts = {"clause_id": clause_id, "at": at.isoformat(), "reason": reason}
            promise = Promise(until, facts)
    queue_email(
        session,
        app.renderer,
        key=key,
        kind=kind,
        recipients=recipients,
        context=context,
        now=at,
        clause_id=clause_id,
        promise=promise,
    )


def welcome_award(app: Mailing, session: Session, event: ClauseAwarded) -> None:
    """The buyer is told who holds the lot; each company is welcomed with its first call."""
    clause = _load_clause(session, event.clause_id)
    stamp = event.at.astimezone(UTC).isoformat()
    buyer = clause.market.operation.buyer
    recipients = buyer_recipients(buyer)
    key = f"notice:{clause.id}:notice_awarded:{stamp}"
    if wants_each_milestone(buyer) and not recipients:
        # No history row names an award: the award's time is its cause, as in the key.
        hold_notice(
            session,
            clause,
            key=key,
            kind="notice_awarded",
            history_event=AWARD_EVENT,
            cause=stamp,
            at=event.at,
        )
    if wants_each_milestone(buyer) and recipients:
        withdraw_drafted_notice(app, session, clause.id, event.at)
        queue_email(
            session,
            app.renderer,
            key=key,
            kind="notice_awarded",
            recipients=recipients,
            context=buyer_notice_context(
                clause, app.settings, at=local_day(event.at, app.settings.zone), reason=None
            ),
            now=event.at,
            clause_id=clause.id,
        )
    _welcome(app, session, clause, event.at)


def _welcome(
    app: Mailing,
    session: Session,
    clause: Clause,
    at: datetime,
    companies: set[int] | None = None,
) -> None:
    """Each company of the award (or of ``companies`` only) welcomed with its first call."""
    stamp = at.astimezone(UTC).isoformat()
    due_dates, catch_up = _expected_due_dates(session, clause, app.settings, at)
    for party in clause.parties:
        if companies is not None and party.company_id not in companies:
            continue
        correspondent = party_correspondent(party)
        if correspondent is None or not correspondent.email.strip():
            continue  # the digest lists awards missing a correspondent
        key = f"welcome:{clause.id}:{party.company_id}:{stamp}"
        if key_exists(session, key):
            continue  # the templates are not built again for nothing
        recipient = Recipient(correspondent.name, correspondent.email)
        context, attachments = welcome_message(
            session, clause, party, recipient, app.settings, at, due_dates, catch_up
        )
        until = welcome_promised_until(context, app.settings)
        queue_email(
            session,
            app.renderer,
            key=key,
            kind=WELCOME,
            recipients=[recipient],
            context=context,
            now=at,
            clause_id=clause.id,
            attachments=attachments,
            promise=None
            if until is None
            else Promise(until, {"clause_id": clause.id, "company_id": party.company_id}),
        )


#: The company's welcome at its award.
WELCOME = "company_welcome"


def welcome_promised_until(context: Mapping[str, Any], settings: Settings) -> datetime | None:
    """Until when a welcome's first call holds: the end of the last day a start recorded then
    still gives its dates (``first_call.record_by``), for a lot not started; None once started
    (its dates are the ladder's). Held past it (an award recorded in the evening, its welcome
    leaving the next morning; a stop of the service), it said « Si j'enregistre le démarrage
    au plus tard le 31 mars » on 1 April (user trial, 7 December 2026): it is written again as
    it stands when it leaves (``stale_promises``, ``write_welcome_again``)."""
    first = context.get("first_call")
    if context.get("started") or not first:
        return None
    return at_local(first["record_by"] + timedelta(days=1), time(0), settings.zone)


def write_welcome_again(
    app: Mailing,
    session: Session,
    facts: Mapping[str, Any],
    recipient: Recipient,
    now: datetime,
) -> PromiseRewrite:
    """A company's welcome as ``_welcome`` would write it at ``now``: the first call a start
    recorded from now would give, or, started since, the ladder's dates. Withdrawn, not written
    again, once the lot was closed or abandoned, or the company is no longer on it."""
    clause = session.get_one(Clause, int(facts["clause_id"]))
    if clause.stage in (Stage.CLOSED.value, Stage.ABANDONED.value):
        raise Superseded("le lot est clôturé ou abandonné depuis l'attribution")
    party = next((p for p in clause.parties if p.company_id == int(facts["company_id"])), None)
    if party is None:
        raise Superseded("l'entreprise n'est plus retenue sur le lot")
    # The correspondent of now, if there is one with an address; else the one first written to.
    reader = party_recipient(party) or recipient
    context, attachments = welcome_message(session, clause, party, reader, app.settings, now)
    until = welcome_promised_until(context, app.settings)
    return PromiseRewrite((reader,), context, until, attachments)


def welcome_message(
    session: Session,
    clause: Clause,
    party: AwardParty,
    recipient: Recipient,
    settings: Settings,
    at: datetime,
    due_dates: dict[date, date] | None = None,
    catch_up: CatchUp | None = None,
) -> tuple[dict[str, Any], list[Attachment]]:
    """The welcome's context and templates for one company welcomed at ``at``: the months it
    already owes (a late start), else the next one to open. ``due_dates`` and ``catch_up``
    (``_expected_due_dates``) are computed once for all the companies of the award; a company
    joining during the works (``AwardParty.first_month``) is armed at ``at``, from its month."""
    if party.first_month is not None:
        due_dates, catch_up = _joined_due_dates(session, clause, party.first_month, settings, at)
    elif due_dates is None:
        due_dates, catch_up = _expected_due_dates(session, clause, settings, at)
    called: dict[date, date] | None = {
        month: due_on
        for month, due_on in ladder_due_dates(
            session, clause.id, party.company_id, called_only=True
        ).items()
        # A company that left the site: a month after its last one, even called before its
        # departure was recorded, is asked of it no more (``AwardParty.last_month``).
        if party.last_month is None or month <= party.last_month
    }
    # The months already called keep the due date their call gave (``welcome_context``).
    due_dates = {**(due_dates or {}), **(called or {})}
    if (
        clause.stage == Stage.EXECUTION.value
        and not called
        and (party.first_month is not None or not _ever_suspended(session, clause.id))
    ):
        # Joining the works now: armed at ``at`` (``_joined_due_dates``), its dates are the
        # ladder's; no call leaves before its welcome. Likewise a lot started, no month called
        # yet, never suspended (a welcome written again after a start recorded late): its first
        # call is the ladder's, from the start (``_expected_due_dates``), said with its day.
        called = None
    zone = settings.zone
    months = company_missing_months(session, clause, party.company_id, now=at, zone=zone)
    if not months:
        following = next_month_to_open(
            clause,
            declared_months_of(session, clause.id, party.company_id),
            local_day(at, zone),
            party.first_month,
            party.last_month,
        )
        months = [following] if following is not None else []
    material = declaration_material(
        session, clause, party.company, months, settings, due_dates=due_dates
    )
    if clause.stage in NOT_STARTED:
        at_start(material.howto, local_day(at, zone))
    context = welcome_context(
        lot_of(clause),
        parties_of(clause),
        party_of(party),
        recipient,
        due_day=due_day_of(clause, settings),
        howto=material.howto,
        due_dates=due_dates,
        catch_up=catch_up,
        links=month_links(
            session, settings, clause.id, party.company_id, months, at, due_dates=due_dates
        ),
        joined=party.first_month,
        called=called,
        today=local_day(at, zone),
    )
    return context, material.attachments


def at_start(howto: dict[str, Any], today: date) -> None:
    """Before the start is recorded, a month whose declarations have opened is declarable once
    it is: its page refuses it until then (``_not_started_reason``). The howto says so, not « à
    déclarer à partir du 29 janvier 2027 », a past date, in a welcome written on 31 March for a
    start of 5 January not recorded yet (user trial). Rows changed in place."""
    for row in howto["months"]:
        row["at_start"] = row["opens_on"] <= today


def _joined_due_dates(
    session: Session, clause: Clause, joined: date, settings: Settings, at: datetime
) -> tuple[dict[date, date], CatchUp | None]:
    """``_expected_due_dates`` of a company joining during the works: its months from the one
    it joined, its first call not before the working day after ``at`` (``reminders._arm``)."""
    lot = lot_calendars(session, [clause.id], settings)[clause.id]
    first = first_month_of(joined, lot.start_month)
    if first is None or lot.end_month is None:
        return {}, None
    return expected_due_dates(first, lot.end_month, lot.rules, settings.zone, at)


def correct_award(app: Mailing, session: Session, event: AwardCorrected) -> None:
    """An award recorded again with other data: the buyer gets one corrected notice (what
    changed, before and after, and the award as it stands), each company newly bound its
    welcome; the companies already welcomed are not written to again."""
    clause = _load_clause(session, event.clause_id)
    buyer = clause.market.operation.buyer
    recipients = buyer_recipients(buyer)
    if wants_each_milestone(buyer) and not recipients:
        cause = _cause(session, clause.id, AWARD_CORRECTED_EVENT, event.at)
        hold_notice(
            session,
            clause,
            key=f"notice:{clause.id}:notice_award_corrected:{cause}",
            kind="notice_award_corrected",
            history_event=AWARD_CORRECTED_EVENT,
            cause=cause,
            at=event.at,
        )
    if (
        wants_each_milestone(buyer)
        and recipients
        and not _award_rewritten(app, session, clause, recipients, event.at)
    ):
        cause = _cause(session, clause.id, AWARD_CORRECTED_EVENT, event.at)
        context = buyer_notice_context(
            clause,
            app.settings,
            at=local_day(event.at, app.settings.zone),
            reason=None,
            changes=event.changes,
        )
        queue_email(
            session,
            app.renderer,
            key=f"notice:{clause.id}:notice_award_corrected:{cause}",
            kind="notice_award_corrected",
            recipients=recipients,
            context=context,
            now=event.at,
            clause_id=clause.id,
        )
    if event.added_company_ids:
        _welcome(app, session, clause, event.at, set(event.added_company_ids))


def _award_rewritten(
    app: Mailing, session: Session, clause: Clause, recipients: Sequence[Recipient], at: datetime
) -> bool:
    """The award notice still waiting (or refused, given up) when the award is corrected: the
    buyer never read it, a « attribution corrigée » would correct something it never read. It
    is written again as the award stands now, on the award's day, under its key followed by its
    sending (``~2``, ``~3`` for a second correction: the audit reads the award's instant, as a
    ``stale_promises`` rewrite), the first one withdrawn, its reason kept; True when so, and no
    correction notice is written. One that left, or may have, stays: the correction follows."""
    handled = session.scalar(
        select(OutboxMessage.id)
        .where(
            OutboxMessage.clause_id == clause.id,
            OutboxMessage.kind == "notice_awarded",
            OutboxMessage.key.contains(AGAIN_MARK),
            OutboxMessage.created_at == at,
        )
        .limit(1)
    )
    if handled is not None:
        # The same correction handled again (a later correction may have replaced its award
        # notice since, and that one may have left): written already.
        return True
    row = _latest_notice(session, clause.id, "notice_awarded")
    if row is None or row.state not in NOT_LEFT:
        return False
    base = row.key.split(AGAIN_MARK)[0]
    awarded_at = clause.awarded_at or at
    context = buyer_notice_context(
        clause, app.settings, at=local_day(awarded_at, app.settings.zone), reason=None
    )
    started = execution_starts(session, [clause.id]).get(clause.id)
    if clause.stage != Stage.AWARD.value and started is not None:
        # Started since it was written (``rewrite_award_notice``): it says so.
        context["started_on"] = local_day(started, app.settings.zone)
    for sending in range(2, MAX_SENDINGS + 2):
        if queue_email(
            session,
            app.renderer,
            key=f"{base}{AGAIN_MARK}{sending}",
            kind="notice_awarded",
            recipients=recipients,
            context=context,
            now=at,
            clause_id=clause.id,
        ):
            break
    else:
        return False
    withdraw(
        row,
        f"Remplacé : l'attribution du lot a été corrigée le {_day(app, at)} avant le départ de ce "
        "courriel ; l'avis d'attribution, écrit d'après l'attribution corrigée, part à sa place.",
    )
    return True


def _ever_suspended(session: Session, clause_id: int) -> bool:
    found = session.scalar(
        select(ClauseHistory.id)
        .where(
            ClauseHistory.clause_id == clause_id,
            ClauseHistory.to_stage == Stage.SUSPENDED.value,
        )
        .limit(1)
    )
    return found is not None


def _expected_due_dates(
    session: Session, clause: Clause, settings: Settings, at: datetime
) -> tuple[dict[date, date], CatchUp | None]:
    """The due dates the ladder will give this lot's months, from when it started; a lot not
    yet started (the welcome leaves at award) is taken to start now, its earliest: a late
    start's catch-up call then leaves the next working day, as ``arm_parties`` sends it."""
    lot = lot_calendars(session, [clause.id], settings)[clause.id]
    if lot.start_month is None or lot.end_month is None:
        return {}, None
    started = at
    if clause.stage in (Stage.EXECUTION.value, Stage.SUSPENDED.value, Stage.FOLLOW_UP.value):
        started = execution_starts(session, [clause.id]).get(clause.id, at)
    return expected_due_dates(lot.start_month, lot.end_month, lot.rules, settings.zone, started)


def company_hours(
    session: Session, clause_id: int, company_id: int, *, through: date | None = None
) -> Decimal:
    """The hours the company declared on the lot; with ``through``, for the months up to that
    one included: a receipt's cumul is the month's, even when a file of several months
    recorded the later ones in the same import."""
    condition = [Declaration.clause_id == clause_id, Declaration.company_id == company_id]
    if through is not None:
        condition.append(Declaration.month <= through)
    total = session.scalar(
        select(func.coalesce(func.sum(Declaration.total_hours), 0)).where(*condition)
    )
    return Decimal(total or 0)


def ladder_due_dates(
    session: Session, clause_id: int, company_id: int, *, called_only: bool = False
) -> dict[date, date]:
    """The due date each month's ladder holds the company to (the call's, once it left);
    ``called_only``: the months whose call left only."""
    statement = select(DeclarationLadder.month, DeclarationLadder.due_on).where(
        DeclarationLadder.clause_id == clause_id,
        DeclarationLadder.company_id == company_id,
    )
    if called_only:
        statement = statement.where(DeclarationLadder.called_at.is_not(None))
    return {month: due_on for month, due_on in session.execute(statement)}


def owed_due_dates(
    session: Session, clause: Clause, company_id: int, settings: Settings, at: datetime
) -> dict[date, date | None]:
    """The due date of each month as the company was or will be told it at ``at``: the one
    rule of every email, page and list that dates a month owed, for this lot x company
    (``held_due_dates.owed_due_dates_many``, which says it: a month called, its call's date
    pushed by the working days the lot spent suspended after the call; the lot suspended, any
    other month none, « à la reprise »; else the date the call to come will give)."""
    pair = (clause.id, company_id)
    return owed_due_dates_many(session, [pair], settings, at)[pair]


def acknowledge_declaration(app: Mailing, session: Session, event: DeclarationRecorded) -> None:
    """The company's receipt of the declaration it made."""
    declaration = session.get(Declaration, event.declaration_id)
    if declaration is None:
        raise LookupError(f"declaration {event.declaration_id} vanished inside its transaction")
    clause = _load_clause(session, event.clause_id)
    company = session.get_one(Company, event.company_id)
    party = award_party(session, clause.id, company.id)
    recipient = company_recipient(session, clause.id, company)
    if recipient is None:
        return
    queue_email(
        session,
        app.renderer,
        # A corrected declaration keeps its id: the recording time tells the two receipts apart,
        # and the lines recorded too (two recordings can share an instant: a stopped clock, a
        # fast client), while the very same lines recorded twice at once still make one.
        key=(
            f"receipt:{declaration.id}:{event.at.astimezone(UTC).isoformat()}:"
            f"{_lines_digest(declaration)}"
        ),
        kind="declaration_receipt",
        recipients=[recipient],
        context=receipt_message(
            session,
            clause,
            company,
            party,
            declaration,
            app.settings,
            event.at,
            replaces=event.replaces,
        ),
        now=event.at,
        clause_id=clause.id,
    )


def company_recipient(session: Session, clause_id: int, company: Company) -> Recipient | None:
    """Who reads a company's emails about its declarations on a lot (its receipts, a
    cancellation): the correspondent named at award, else the company's first one; None when
    that one has no address."""
    correspondent = company_reader(award_party(session, clause_id, company.id), company)
    if correspondent is None or not correspondent.email.strip():
        return None
    return Recipient(correspondent.name, correspondent.email)


def company_reader(party: AwardParty | None, company: Company) -> Correspondent | None:
    """The correspondent a company's emails about its declarations on a lot are written to
    (``company_recipient``), whether or not they have an address: the one named at award
    (``party``: the company's place in the lot's award), else the company's first one."""
    correspondent = party_correspondent(party) if party is not None else None
    if correspondent is None and company.correspondents:
        correspondent = company.correspondents[0]
    return correspondent


def _lines_digest(declaration: Declaration) -> str:
    """A short fingerprint of what a declaration records: people, hours, contract, mode."""
    lines = sorted(
        f"{line.participant_id}|{line.hours}|{line.contract_type}|{line.delivery_mode}"
        for line in declaration.lines
    )
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:12]


def award_party(session: Session, clause_id: int, company_id: int) -> AwardParty | None:
    """The company's place in the lot's award (none for a company no longer in it)."""
    return session.scalar(
        select(AwardParty).where(
            AwardParty.clause_id == clause_id, AwardParty.company_id == company_id
        )
    )


def receipt_message(
    session: Session,
    clause: Clause,
    company: Company,
    party: AwardParty | None,
    declaration: Declaration,
    settings: Settings,
    at: datetime,
    *,
    replaces: Replaced | None = None,
    links_at: datetime | None = None,
) -> dict[str, Any]:
    """The receipt's context as the company reads it at ``at``: the months it still owes then,
    the due dates its calls gave, its cumul up to the declared month; the page of the month
    declared and of each month still owed; what the month held before, when this corrects it,
    or the declaration it replaces when the facilitator had cancelled the month (``cancelled``,
    ``_cancelled_before``). It greets the correspondent it is written to (``company_reader``),
    as the company's other emails do.

    ``links_at``: the day the pages' links count their validity from, when not ``at`` (a
    receipt written again keeps its links, so that only what changed makes it differ)."""
    missing = company_missing_months(session, clause, company.id, now=at, zone=settings.zone)
    months = [declaration.month, *missing]
    links = {
        link.month: link
        for link in month_links(session, settings, clause.id, company.id, months, links_at or at)
    }
    context = receipt_context(
        lot_of(clause),
        company.name,
        declared_of(declaration),
        cumulated=company_hours(session, clause.id, company.id, through=declaration.month),
        hours_share=party.hours_share if party is not None else None,
        due_day=due_day_of(clause, settings),
        zone=settings.zone,
        missing=missing,
        due_dates=owed_due_dates(session, clause, company.id, settings, at),
        correction=links[declaration.month],
        owed_links=links,
        next_month=next_month_to_open(
            clause,
            declared_months_of(session, clause.id, company.id),
            local_day(at, settings.zone),
            party.first_month if party is not None else None,
            party.last_month if party is not None else None,
        ),
        replaces=replaces,
        written_on=local_day(at, settings.zone),
        correspondent=reader.name if (reader := company_reader(party, company)) else None,
        receipt_left=replaces is not None and _earlier_receipt_left(session, declaration, at),
        company_last=_company_last(clause, party, declaration.month),
    )
    context["cancelled"] = (
        None if replaces is not None else _cancelled_before(session, company, declaration, settings)
    )
    return context


def _cancelled_before(
    session: Session, company: Company, declaration: Declaration, settings: Settings
) -> dict[str, Any] | None:
    """The month declared afresh after the facilitator cancelled it: the receipt says this
    declaration replaces the one cancelled that day, its hours and the reason given; whether
    the company read the cancellation's email (``told``: it left, or may have) says whether it
    answers that email or only tells what the company never read. A correction of the month
    since (``replaces``) says what it replaces itself: this is not read then."""
    cancelled = replaced_cancellation(
        session,
        clause_id=declaration.clause_id,
        company_id=company.id,
        company=company.name,
        month=declaration.month,
    )
    if cancelled is None:
        return None
    return {
        "cancelled_on": local_day(cancelled.at, settings.zone),
        "total_hours": cancelled.total_hours,
        "reason": cancelled.reason,
        "told": cancelled.told,
    }


def _company_last(clause: Clause, party: AwardParty | None, month: date) -> bool:
    """``month`` is the last the company declares on the lot because it left the site
    (``AwardParty.last_month``) before the lot's own last month: its receipt thanks it for its
    part, not for « le dernier mois prévu de l'exécution » of works that go on."""
    last = party.last_month if party is not None else None
    if last is None or month_start(month) < month_start(last):
        return False
    lot_end = clause.end_date or clause.planned_end_date
    return lot_end is None or month_start(lot_end) > month_start(last)


#: A receipt in these states was read, or may have been.
RECEIPT_LEFT = tuple(
    state.value for state in (OutboxState.SENT, OutboxState.SENDING, OutboxState.UNCERTAIN)
)


def _earlier_receipt_left(session: Session, declaration: Declaration, at: datetime) -> bool:
    """A receipt of this declaration written before ``at`` left, or may have (sent, being
    sent, uncertain): a correction's receipt cancels it; one withdrawn before it left was never
    read, and there is nothing to cancel."""
    return (
        session.scalar(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.key.like(f"receipt:{declaration.id}:%"),
                OutboxMessage.created_at < at,
                OutboxMessage.state.in_(RECEIPT_LEFT),
            )
            .limit(1)
        )
        is not None
    )


def local_day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()
