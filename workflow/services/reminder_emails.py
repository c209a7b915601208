"""The three emails of the declaration ladder: the call, the reminders (company), the alert before
formal notice (buyer and facilitator). Contexts are plain values, so previews need no database.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.orm import Clause, Company, DeclarationLadder, OutboxMessage
from workflow.domain.calendar import (
    LadderStep,
    MonthSchedule,
    ScheduledStep,
    local_date,
    month_schedule,
    working_days_between,
)
from workflow.domain.vocabulary import PARTY_ROLE_LABELS, PartyRole
from workflow.services import notices
from workflow.services.lot_calendars import default_rules
from workflow.services.outbox import Recipient
from workflow.settings import Settings

if TYPE_CHECKING:
    from workflow.bootstrap import App

KIND_CALL = "declaration_call"
KIND_REMINDER = "declaration_reminder"
KIND_ESCALATION = "declaration_escalation"
KINDS = (KIND_CALL, KIND_REMINDER, KIND_ESCALATION)

STEP_LABELS = {
    LadderStep.CALL: "appel à déclaration",
    LadderStep.ESCALATION: "alerte au donneur d'ordre",
}


def step_key(clause_id: int, company_id: int, month: date, step: str) -> str:
    return f"reminder:{clause_id}:{company_id}:{month:%Y-%m}:{step}"


def step_kind(step: str) -> str:
    if step == LadderStep.CALL:
        return KIND_CALL
    if step == LadderStep.ESCALATION:
        return KIND_ESCALATION
    return KIND_REMINDER


def step_label(step: str) -> str:
    if step.startswith(LadderStep.REMINDER + "_"):
        return f"rappel n° {step.rsplit('_', 1)[1]}"
    return STEP_LABELS.get(step, step)


def facilitator_context(settings: Settings) -> dict[str, str]:
    return {
        "name": settings.facilitator_name,
        "title": settings.facilitator_title,
        "email": settings.facilitator_email,
        "phone": settings.facilitator_phone,
        "organisation": settings.facilitator_organisation,
    }


def ladder_message(
    app: App,
    session: Session,
    clause: Clause,
    ladder: DeclarationLadder,
    schedule: MonthSchedule,
    step: ScheduledStep,
    now: datetime,
) -> tuple[list[Recipient], dict[str, Any]] | None:
    """Recipients and context of ``step``, or None when there is nobody to write to."""
    settings = app.settings
    party = next((p for p in clause.parties if p.company_id == ladder.company_id), None)
    company = party.company if party else session.get_one(Company, ladder.company_id)
    correspondent = notices.party_correspondent(party) if party else None
    context = ladder_context(
        clause=notices.clause_context(clause),
        company=company.name,
        role=PARTY_ROLE_LABELS[PartyRole(party.role)] if party else "",
        hours_share=party.hours_share if party else None,
        correspondent=correspondent.name if correspondent else None,
        schedule=schedule,
        step=step.name,
        today=local_date(now, settings.zone),
        settings=settings,
    )
    if step.name == LadderStep.ESCALATION:
        context["buyer"] = {"name": clause.market.operation.buyer.name}
        context["sent"] = sent_steps(session, ladder, settings)
        buyer = notices.buyer_recipients(clause.market.operation.buyer)
        recipients = [*buyer, Recipient(settings.facilitator_name, settings.facilitator_email)]
        return recipients, context
    if correspondent is None or not correspondent.email.strip():
        return None
    return [Recipient(correspondent.name, correspondent.email)], context


def ladder_context(
    *,
    clause: dict[str, Any],
    company: str,
    role: str,
    hours_share: int | None,
    correspondent: str | None,
    schedule: MonthSchedule,
    step: str,
    today: date,
    settings: Settings,
) -> dict[str, Any]:
    """The context of the three kinds: plain values only, so previews need no database."""
    from workflow.services.declarations import month_phrase

    reminders = [s for s in schedule.steps if s.name.startswith(LadderStep.REMINDER + "_")]
    number = int(step.rsplit("_", 1)[1]) if step.startswith(LadderStep.REMINDER + "_") else 0
    zone = settings.zone
    escalation = schedule.step(LadderStep.ESCALATION)
    return {
        "clause": clause,
        "company": {"name": company, "role": role},
        "hours_share": hours_share,
        "correspondent": {"name": correspondent} if correspondent else None,
        "month": schedule.month,
        "month_phrase": month_phrase(schedule.month),
        "due_on": schedule.due_on,
        "step": step,
        "number": number,
        "reminders_total": len(reminders),
        "last_reminder": bool(reminders) and number == len(reminders),
        "late_days": working_days_between(schedule.due_on, today),
        "escalation_on": escalation.at.astimezone(zone).date(),
        "facilitator": facilitator_context(settings),
    }


def sent_steps(
    session: Session, ladder: DeclarationLadder, settings: Settings
) -> list[dict[str, Any]]:
    """What the company was already sent for this month, with dates, for its buyer's alert."""
    prefix = step_key(ladder.clause_id, ladder.company_id, ladder.month, "")
    rows = session.execute(
        select(OutboxMessage.key, OutboxMessage.created_at)
        .where(OutboxMessage.key.startswith(prefix, autoescape=True))
        .order_by(OutboxMessage.created_at, OutboxMessage.id)
    ).all()
    return [
        {"label": step_label(key.removeprefix(prefix)), "on": at.astimezone(settings.zone).date()}
        for key, at in rows
        if not key.endswith(LadderStep.ESCALATION)
    ]


# --- previews ---------------------------------------------------------------------------------


def preview_context(kind: str) -> dict[str, Any] | None:
    """A sample context for ``clauses mail preview`` (the sample lot of ``services.previews``)."""
    if kind not in KINDS:
        return None
    from workflow.services.previews import sample_clause

    settings = Settings()
    clause = sample_clause()
    holder = clause.parties[0]
    month = date(2026, 10, 1)
    schedule = month_schedule(month, default_rules(settings), settings.zone)
    step = {
        KIND_CALL: LadderStep.CALL,
        KIND_REMINDER: f"{LadderStep.REMINDER}_1",
        KIND_ESCALATION: LadderStep.ESCALATION,
    }[kind]
    context = ladder_context(
        clause=notices.clause_context(clause),
        company=holder.company.name,
        role=PARTY_ROLE_LABELS[PartyRole(holder.role)],
        hours_share=holder.hours_share,
        correspondent=holder.correspondent.name if holder.correspondent else None,
        schedule=schedule,
        step=step,
        today=schedule.step(step).at.astimezone(settings.zone).date(),
        settings=settings,
    )
    if kind == KIND_ESCALATION:
        context["buyer"] = {"name": clause.market.operation.buyer.name}
        context["sent"] = [
            {"label": step_label(s.name), "on": s.at.astimezone(settings.zone).date()}
            for s in schedule.steps
            if s.name != LadderStep.ESCALATION
        ]
    return context
