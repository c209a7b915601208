"""Milestone notices to buyers, welcomes and receipts to companies, turned from domain events.

Its handlers (``notify_*``, ``welcome_award``, ``acknowledge_declaration``), wired to their events
by ``bootstrap``, run inside the transaction that changed the clause (``App.publish``), so a stage
change and the emails it causes are saved together or not at all. Each key is built from the cause
(the history row of the change, the award's time, the declaration's id), so handling the same event
twice writes nothing new.

Buyers hear of each milestone only when their preference is ``each_milestone``; the others read it in
the monthly summary. Buyer emails carry counts, never a participant's reference.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, distinct, func, select
from sqlalchemy.orm import Session

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
    Outcome,
    Participant,
)
from workflow.domain.calendar import due_date, months_between
from workflow.domain.events import (
    AwardChange,
    AwardCorrected,
    ClauseAdvanced,
    ClauseAwarded,
    ClauseIdentified,
    ClauseReopened,
    DeclarationRecorded,
    FinalReportRecorded,
)
from workflow.domain.outcomes import group_of, outcome_label, outcome_order
from workflow.domain.stages import LABELS, REOPEN, ClauseEvent, Stage
from workflow.domain.vocabulary import (
    CONTRACT_LABELS,
    DELIVERY_MODE_LABELS,
    OUTCOME_GROUP_LABELS,
    PARTY_ROLE_LABELS,
    NoticePreference,
    PartyRole,
)
from workflow.services.declaration_howto import (
    CatchUp,
    build_howto,
    declaration_material,
    expected_due_dates,
)
from workflow.services.declarations import (
    company_missing_months,
    declared_months_of,
    missing_months,
    months_phrase,
    next_month_to_open,
    opens_on,
)
from workflow.services.lot_calendars import clause_calendar, execution_starts, lot_calendars
from workflow.services.mailing import Mailing
from workflow.services.outbox import Recipient, key_exists, queue_email
from workflow.settings import Settings

#: Stage changes a buyer hears of. Entering drafting is left out: the identification notice has
#: just said the facilitator is writing the clause. Closing is left out: the final report said it.
ADVANCE_NOTICES: dict[ClauseEvent, str] = {
    ClauseEvent.AWARD: "notice_drafted",  # drafting -> award: clause written, tender launched
    ClauseEvent.START: "notice_execution_started",
    ClauseEvent.SUSPEND: "notice_suspended",
    ClauseEvent.RESUME: "notice_resumed",
    ClauseEvent.FINISH: "notice_execution_ended",
    ClauseEvent.ABANDON: "notice_abandoned",
}

BUYER_KINDS = (
    "notice_identified",
    "notice_drafted",
    "notice_awarded",
    "notice_execution_started",
    "notice_execution_ended",
    "notice_final_report",
    "notice_abandoned",
    "notice_suspended",
    "notice_resumed",
    "notice_reopened",
    "notice_award_corrected",
)
#: The history event of an award corrected (``services.clauses.AWARD_CORRECTED``: not imported,
#: the clauses service imports this module's neighbours).
AWARD_CORRECTED_EVENT = "award_corrected"
#: Buyer kinds whose context carries the clause's results (hours done, outcomes...).
RESULT_KINDS = frozenset({"notice_execution_ended", "notice_final_report"})
#: Buyer kinds sent whatever the buyer's notice preference.
ALWAYS_SENT_KINDS = frozenset({"notice_final_report"})
#: Buyer kinds that quote the reason the facilitator gave for the change (others have a fixed one).
REASON_KINDS = frozenset(BUYER_KINDS) - {
    "notice_identified",
    "notice_awarded",
    "notice_final_report",
    "notice_award_corrected",
}

MASK = "[participant]"


# --- what the database knows of a clause's results -------------------------------------------


@dataclass(frozen=True)
class Count:
    label: str
    value: int | Decimal


@dataclass(frozen=True)
class CompanyHours:
    name: str
    role: str
    hours_share: int | None
    hours_done: Decimal


@dataclass(frozen=True)
class ClauseResults:
    """Aggregates of one clause, computed in SQL; ``report_text`` has references masked."""

    hours_done: Decimal = Decimal(0)
    participants: int = 0
    months_declared: int = 0
    by_company: list[CompanyHours] = field(default_factory=list)
    by_mode: list[Count] = field(default_factory=list)
    contracts: list[Count] = field(default_factory=list)
    outcomes: list[Count] = field(default_factory=list)
    #: The same outcomes by type, in the words of the field (« CDI », « Formation courte »).
    outcome_types: list[Count] = field(default_factory=list)
    report_text: str | None = None


def _label(labels: dict[Any, str], value: str) -> str:
    for member, label in labels.items():
        if member.value == value:
            return label
    return value


def _pairs(session: Session, statement: Select[Any, Any]) -> dict[Any, Any]:
    return {row[0]: row[1] for row in session.execute(statement)}


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
    participants = session.scalar(
        select(func.count(distinct(DeclarationLine.participant_id))).where(line_filter)
    )
    months = session.scalar(
        select(func.count(distinct(Declaration.month))).where(Declaration.clause_id == clause.id)
    )
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
        .where(line_filter)
        .group_by(DeclarationLine.contract_type),
    )
    per_outcome: dict[str, int] = {}
    per_type: dict[str, int] = {}
    for type_code, count in session.execute(
        select(Outcome.type, func.count(Outcome.id))
        .where(Outcome.clause_id == clause.id)
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
            | Participant.id.in_(
                select(Outcome.participant_id).where(Outcome.clause_id == clause.id)
            )
        )
    ).all()
    return ClauseResults(
        hours_done=Decimal(hours_done or 0),
        participants=int(participants or 0),
        months_declared=int(months or 0),
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
            Count(_label(DELIVERY_MODE_LABELS, mode), Decimal(hours or 0))
            for mode, hours in sorted(per_mode.items(), key=lambda item: -(item[1] or 0))
        ],
        contracts=[
            Count(_label(CONTRACT_LABELS, kind), int(count))
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


# --- contexts (pure: ORM objects and figures in, plain dicts out) -----------------------------


def due_day_of(clause: Clause, settings: Settings) -> int:
    """The lot's override, else the buyer's, else the service default: the one rule of
    ``resolve_rules`` (through ``clause_calendar``), so a notice and the ladder agree."""
    return clause_calendar(clause, settings).rules.due_day


def clause_context(clause: Clause) -> dict[str, Any]:
    market = clause.market
    operation = market.operation
    number, name = clause.lot_number, clause.lot_title
    return {
        "id": clause.id,
        "title": f"{operation.name}, lot {number} – {name}"
        if number
        else f"{operation.name} – {name}",
        "buyer": operation.buyer.name,
        "operation": operation.name,
        "place": operation.place,
        "market": market.reference,
        "market_title": market.title,
        "lot_number": clause.lot_number,
        "lot_title": clause.lot_title,
        "lot": f"{number} – {name}" if number else name,
        # "le lot 3 « Gros œuvre »": what the sentences say
        "lot_phrase": f"lot {number} « {name} »" if number else f"lot « {name} »",
        "trade": clause.trade,
        "stage": LABELS[Stage(clause.stage)],
        "amount_excl_tax": clause.amount_excl_tax,
        "labour_share": clause.labour_share,
        "insertion_rate": clause.insertion_rate,
        "hourly_cost": clause.hourly_cost,
        "hours_computed": clause.hours_computed,
        "hours_override": clause.hours_override,
        "override_reason": clause.override_reason,
        "hours_target": clause.hours_target,
        "planned_notification": clause.planned_notification,
        "start_date": clause.start_date,
        "planned_end_date": clause.planned_end_date,
        "end_date": clause.end_date,
    }


def parties_context(clause: Clause) -> list[dict[str, Any]]:
    """Companies bound by the clause, the holder first; no personal data beyond a contact name."""
    ordered = sorted(clause.parties, key=lambda p: p.role != PartyRole.HOLDER.value)
    return [
        {
            "company": party.company.name,
            "city": party.company.city,
            "role": PARTY_ROLE_LABELS[PartyRole(party.role)],
            "is_holder": party.role == PartyRole.HOLDER.value,
            "hours_share": party.hours_share,
            "correspondent": party.correspondent.name if party.correspondent else None,
        }
        for party in ordered
    ]


def schedule_context(clause: Clause, settings: Settings) -> list[dict[str, date]]:
    """Every month to declare, from the start month to the planned end month, with its due date."""
    if clause.start_date is None:
        return []
    last = clause.planned_end_date or clause.end_date or clause.start_date
    day = due_day_of(clause, settings)
    return [
        {"month": m, "due_on": due_date(m, day)} for m in months_between(clause.start_date, last)
    ]


def results_context(results: ClauseResults, hours_target: int | None) -> dict[str, Any]:
    ratio = (
        results.hours_done / Decimal(hours_target) if hours_target else None
    )  # None: no target to compare with
    return {
        "hours_done": results.hours_done,
        "hours_target": hours_target,
        "ratio": ratio,
        "reached": ratio is not None and ratio >= 1,
        "participants": results.participants,
        "months_declared": results.months_declared,
        "by_company": [vars(c) for c in results.by_company],
        "by_mode": [vars(c) for c in results.by_mode],
        "contracts": [vars(c) for c in results.contracts],
        "outcomes": [vars(c) for c in results.outcomes],
        "outcomes_total": sum(int(c.value) for c in results.outcomes),
        "outcome_types": [vars(c) for c in results.outcome_types],
        "report_text": results.report_text,
    }


def notice_context(
    clause: Clause,
    settings: Settings,
    *,
    at: date,
    reason: str | None,
    results: ClauseResults | None = None,
) -> dict[str, Any]:
    """Context of every buyer notice; ``results`` only for the kinds that report figures."""
    return {
        "clause": clause_context(clause),
        "buyer": {"name": clause.market.operation.buyer.name},
        "at": at,
        "reason": reason,
        "parties": parties_context(clause),
        "schedule": schedule_context(clause, settings),
        "due_day": due_day_of(clause, settings),
        "results": None if results is None else results_context(results, clause.hours_target),
    }


def welcome_months(clause: Clause, declared: Iterable[date], today: date) -> list[date]:
    """The months a welcome prepares the company for: those already open and not declared
    (a late start), else the next one to open; none before a start date is known."""
    missing = missing_months(clause, declared, [], today=today, zone=ZoneInfo("UTC"))
    if missing:
        return missing
    following = next_month_to_open(clause, declared, today)
    return [following] if following is not None else []


def welcome_context(
    clause: Clause,
    party: AwardParty,
    correspondent: Correspondent,
    settings: Settings,
    *,
    howto: dict[str, Any] | None = None,
    due_dates: Mapping[date, date] | None = None,
    catch_up: CatchUp | None = None,
) -> dict[str, Any]:
    """``howto`` is ``declaration_material(...).howto`` for this company and its months; without
    it (a preview with no database) the same is written from the clause alone.

    ``due_dates`` and ``catch_up`` (``declaration_howto.expected_due_dates``): the dates the
    ladder will really give, so that a late start's welcome announces the catch-up call's due
    date, never the scheduled ones already past."""
    # reminder_emails imports this module: its phrase helper is imported where used.

    due_dates = due_dates or {}
    if howto is None:
        months = welcome_months(clause, [], clause.start_date) if clause.start_date else []
        howto = build_howto(
            clause,
            party.company,
            months[:1],
            due_day=due_day_of(clause, settings),
            due_dates=due_dates,
        )
    schedule = [
        {"month": row["month"], "due_on": due_dates.get(row["month"]) or row["due_on"]}
        for row in schedule_context(clause, settings)
    ]
    return {
        "clause": clause_context(clause),
        "company": {"name": party.company.name},
        "correspondent": {"name": correspondent.name, "email": correspondent.email},
        "role": PARTY_ROLE_LABELS[PartyRole(party.role)],
        "is_holder": party.role == PartyRole.HOLDER.value,
        "hours_share": party.hours_share,
        "parties": parties_context(clause),
        "schedule": schedule,
        "catch_up": None
        if catch_up is None
        else {
            "months": list(catch_up.months),
            "month_phrase": months_phrase(catch_up.months),
            "call_on": catch_up.call_on,
            "due_on": catch_up.due_on,
        },
        "due_day": due_day_of(clause, settings),
        "declaration_howto": howto,
    }


def receipt_context(
    clause: Clause,
    company: Company,
    declaration: Declaration,
    *,
    cumulated: Decimal,
    hours_share: int | None,
    settings: Settings,
    missing: Sequence[date] = (),
    next_month: date | None = None,
    due_dates: Mapping[date, date] | None = None,
) -> dict[str, Any]:
    """For the company only: its own participants' references are shown to it, nobody else.

    ``missing``: the months this company still owes on the lot (``company_missing_months`` at
    the receipt's moment); ``next_month``: the next one to open (``next_month_to_open``);
    ``due_dates``: the date each month's call gave (``ladder_due_dates``), when not the
    scheduled one (a catch-up call)."""
    day = due_day_of(clause, settings)
    due_dates = due_dates or {}

    def due(month: date) -> date:
        return due_dates.get(month) or due_date(month, day)

    received_on = declaration.recorded_at.astimezone(settings.zone).date()
    lines = [
        {
            "reference": line.participant.reference,
            "hours": line.hours,
            "mode": _label(DELIVERY_MODE_LABELS, line.delivery_mode),
            "contract": _label(CONTRACT_LABELS, line.contract_type),
        }
        for line in declaration.lines
    ]
    return {
        "clause": clause_context(clause),
        "company": {"name": company.name},
        "declaration": {
            "id": declaration.id,
            "month": declaration.month,
            "total_hours": declaration.total_hours,
            "lines_count": len(lines),
            "received_on": received_on,
            "lines": lines,
        },
        "cumulated": cumulated,
        "hours_share": hours_share,
        "missing": [
            {
                "month": month,
                "due_on": due(month),
                "late": due(month) < received_on,
            }
            for month in sorted(missing)
        ],
        "next": None
        if next_month is None
        else {
            "month": next_month,
            "opens_on": opens_on(next_month),
            "due_on": due_date(next_month, day),
        },
    }


# --- from events to outbox rows ---------------------------------------------------------------


def notify_identified(app: Mailing, session: Session, event: ClauseIdentified) -> None:
    _buyer_notice(app, session, event.clause_id, "notice_identified", "identify", event.at)


def notify_advanced(app: Mailing, session: Session, event: ClauseAdvanced) -> None:
    """A notice for the stage changes buyers hear of; none for the others (a suspension is
    told in the monthly summary)."""
    kind = ADVANCE_NOTICES.get(event.event)
    if kind is not None:
        _buyer_notice(app, session, event.clause_id, kind, event.event.value, event.at)


def notify_reopened(app: Mailing, session: Session, event: ClauseReopened) -> None:
    """The buyer told of the abandon hears that the clause is back, at which stage and why."""
    _buyer_notice(app, session, event.clause_id, "notice_reopened", REOPEN, event.at)


def notify_final_report(app: Mailing, session: Session, event: FinalReportRecorded) -> None:
    _buyer_notice(app, session, event.clause_id, "notice_final_report", "final_report", event.at)


def buyer_recipients(buyer: Buyer) -> list[Recipient]:
    return [Recipient(c.name, c.email) for c in buyer.contacts if c.email.strip()]


def wants_each_milestone(buyer: Buyer) -> bool:
    return buyer.notice_preference == NoticePreference.EACH_MILESTONE.value


def party_correspondent(party: AwardParty) -> Correspondent | None:
    """The correspondent named at award, else the company's first one."""
    if party.correspondent is not None:
        return party.correspondent
    return party.company.correspondents[0] if party.company.correspondents else None


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


def _history_reason(
    session: Session, clause_id: int, history_event: str, at: datetime
) -> str | None:
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
    if not wanted or not recipients:
        return
    key = f"notice:{clause_id}:{kind}:{_cause(session, clause_id, history_event, at)}"
    results = (
        clause_results(session, clause, app.settings.outcome_groups)
        if kind in RESULT_KINDS
        else None
    )
    context = notice_context(
        clause,
        app.settings,
        at=local_day(at, app.settings.zone),
        reason=(
            _history_reason(session, clause_id, history_event, at) if kind in REASON_KINDS else None
        ),
        results=results,
    )
    queue_email(
        session,
        app.renderer,
        key=key,
        kind=kind,
        recipients=recipients,
        context=context,
        now=at,
        clause_id=clause_id,
    )


def welcome_award(app: Mailing, session: Session, event: ClauseAwarded) -> None:
    """The buyer is told who holds the lot; each company is welcomed with its first call."""
    clause = _load_clause(session, event.clause_id)
    stamp = event.at.astimezone(UTC).isoformat()
    buyer = clause.market.operation.buyer
    recipients = buyer_recipients(buyer)
    if wants_each_milestone(buyer) and recipients:
        queue_email(
            session,
            app.renderer,
            key=f"notice:{clause.id}:notice_awarded:{stamp}",
            kind="notice_awarded",
            recipients=recipients,
            context=notice_context(
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
    zone = app.settings.zone
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
        months = company_missing_months(session, clause, party.company_id, now=at, zone=zone)
        if not months:
            following = next_month_to_open(
                clause,
                declared_months_of(session, clause.id, party.company_id),
                local_day(at, zone),
            )
            months = [following] if following is not None else []
        material = declaration_material(
            session, clause, party.company, months, app.settings, due_dates=due_dates
        )
        queue_email(
            session,
            app.renderer,
            key=key,
            kind="company_welcome",
            recipients=[Recipient(correspondent.name, correspondent.email)],
            context=welcome_context(
                clause,
                party,
                correspondent,
                app.settings,
                howto=material.howto,
                due_dates=due_dates,
                catch_up=catch_up,
            ),
            now=at,
            clause_id=clause.id,
            attachments=material.attachments,
        )


def changes_context(changes: Iterable[AwardChange]) -> list[dict[str, str]]:
    return [{"what": c.what, "before": c.before, "after": c.after} for c in changes]


def correct_award(app: Mailing, session: Session, event: AwardCorrected) -> None:
    """An award recorded again with other data: the buyer gets one corrected notice (what
    changed, before and after, and the award as it stands), each company newly bound its
    welcome; the companies already welcomed are not written to again."""
    clause = _load_clause(session, event.clause_id)
    buyer = clause.market.operation.buyer
    recipients = buyer_recipients(buyer)
    if wants_each_milestone(buyer) and recipients:
        cause = _cause(session, clause.id, AWARD_CORRECTED_EVENT, event.at)
        context = notice_context(
            clause, app.settings, at=local_day(event.at, app.settings.zone), reason=None
        )
        context["changes"] = changes_context(event.changes)
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
    if clause.stage in (Stage.EXECUTION.value, Stage.FOLLOW_UP.value):
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


def ladder_due_dates(session: Session, clause_id: int, company_id: int) -> dict[date, date]:
    """The due date each month's ladder holds the company to (the call's, once it left)."""
    return {
        month: due_on
        for month, due_on in session.execute(
            select(DeclarationLadder.month, DeclarationLadder.due_on).where(
                DeclarationLadder.clause_id == clause_id,
                DeclarationLadder.company_id == company_id,
            )
        )
    }


def acknowledge_declaration(app: Mailing, session: Session, event: DeclarationRecorded) -> None:
    """The company's receipt of the declaration it made."""
    declaration = session.get(Declaration, event.declaration_id)
    if declaration is None:
        raise LookupError(f"declaration {event.declaration_id} vanished inside its transaction")
    clause = _load_clause(session, event.clause_id)
    company = session.get_one(Company, event.company_id)
    party = session.scalar(
        select(AwardParty).where(
            AwardParty.clause_id == clause.id, AwardParty.company_id == company.id
        )
    )
    correspondent = party_correspondent(party) if party is not None else None
    if correspondent is None and company.correspondents:
        correspondent = company.correspondents[0]
    if correspondent is None or not correspondent.email.strip():
        return
    queue_email(
        session,
        app.renderer,
        # A corrected declaration keeps its id: the recording time tells the two receipts apart.
        key=f"receipt:{declaration.id}:{event.at.astimezone(UTC).isoformat()}",
        kind="declaration_receipt",
        recipients=[Recipient(correspondent.name, correspondent.email)],
        context=receipt_context(
            clause,
            company,
            declaration,
            cumulated=company_hours(session, clause.id, company.id, through=declaration.month),
            hours_share=party.hours_share if party is not None else None,
            settings=app.settings,
            missing=company_missing_months(
                session, clause, company.id, now=event.at, zone=app.settings.zone
            ),
            due_dates=ladder_due_dates(session, clause.id, company.id),
            next_month=next_month_to_open(
                clause,
                declared_months_of(session, clause.id, company.id),
                local_day(event.at, app.settings.zone),
            ),
        ),
        now=event.at,
        clause_id=clause.id,
    )


def local_day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()
