"""The three emails of the declaration ladder: the call, the reminders (company), the alert before
formal notice (buyer and facilitator). Contexts are plain values, so previews need no database.

One email may cover several months of one company on one lot (a catch-up call after a late start
or a stop, the reminders of those months that fall due together): its key names the company, the
lot, the months and the step, ``reminder:<clause>:<company>:2026-09..2026-11:call``, so it is
derived from what caused it, never from the clock. ``key_months`` reads the months back, which is
how the buyer's alert and the digest tell what was really sent for a month.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.orm import Clause, Company, OutboxMessage
from workflow.domain.calendar import (
    LadderDays,
    LadderStep,
    add_months,
    local_date,
    month_schedule,
    reminder_number,
)
from workflow.domain.vocabulary import PARTY_ROLE_LABELS, PartyRole
from workflow.services import notices
from workflow.services.declaration_howto import build_howto, declaration_material
from workflow.services.declarations import months_phrase
from workflow.services.lot_calendars import default_rules
from workflow.services.outbox import Attachment, OutboxState, Recipient
from workflow.settings import Settings

if TYPE_CHECKING:
    from workflow.runtime import App

KIND_CALL = "declaration_call"
KIND_REMINDER = "declaration_reminder"
KIND_ESCALATION = "declaration_escalation"
KINDS = (KIND_CALL, KIND_REMINDER, KIND_ESCALATION)

STEP_LABELS = {
    LadderStep.CALL: "appel à déclaration",
    LadderStep.ESCALATION: "alerte au donneur d'ordre",
}


#: The most months one email lists (a longer catch-up is split): keeps keys short.
MAX_MONTHS_PER_EMAIL = 12
KEY_PREFIX = "reminder"


def months_text(months: Iterable[date]) -> str:
    """``2026-09..2026-11,2027-01``: the months as runs of consecutive months."""
    ordered = sorted(set(months))
    runs: list[list[date]] = []
    for month in ordered:
        if runs and add_months(runs[-1][-1], 1) == month:
            runs[-1].append(month)
        else:
            runs.append([month])
    return ",".join(
        f"{run[0]:%Y-%m}" if len(run) == 1 else f"{run[0]:%Y-%m}..{run[-1]:%Y-%m}" for run in runs
    )


def parse_months(text: str) -> list[date]:
    """The months of ``months_text``; [] when it is not such a text."""
    found: list[date] = []
    try:
        for run in text.split(","):
            first, _, last = run.partition("..")
            start = datetime.strptime(first, "%Y-%m").date()
            end = datetime.strptime(last, "%Y-%m").date() if last else start
            while start <= end:
                found.append(start)
                start = add_months(start, 1)
    except ValueError:
        return []
    return found


def step_key(clause_id: int, company_id: int, months: date | Iterable[date], step: str) -> str:
    """The key of the email of ``step`` for ``months`` (one month or several)."""
    listed = [months] if isinstance(months, date) else list(months)
    return f"{KEY_PREFIX}:{clause_id}:{company_id}:{months_text(listed)}:{step}"


@dataclass(frozen=True)
class LadderKey:
    clause_id: int
    company_id: int
    months: tuple[date, ...]
    step: str


def key_months(key: str) -> LadderKey | None:
    """What a ladder email's key covers; None for any other key."""
    parts = key.split(":")
    if len(parts) != 5 or parts[0] != KEY_PREFIX:
        return None
    try:
        clause_id, company_id = int(parts[1]), int(parts[2])
    except ValueError:
        return None
    months = parse_months(parts[3])
    if not months:
        return None
    return LadderKey(clause_id, company_id, tuple(months), parts[4])


def step_kind(step: str) -> str:
    if step == LadderStep.CALL:
        return KIND_CALL
    if step == LadderStep.ESCALATION:
        return KIND_ESCALATION
    return KIND_REMINDER


def step_label(step: str) -> str:
    number = reminder_number(step)
    if number is not None:
        return f"rappel n° {number}"
    return STEP_LABELS.get(step, step)


def step_participle(step: str, masculine: str) -> str:
    """« envoyé » for the call and the reminders, « envoyée » for the alert (une alerte)."""
    return masculine + "e" if step == LadderStep.ESCALATION else masculine


def facilitator_context(settings: Settings) -> dict[str, str]:
    return {
        "name": settings.facilitator_name,
        "title": settings.facilitator_title,
        "email": settings.facilitator_email,
        "phone": settings.facilitator_phone,
        "organisation": settings.facilitator_organisation,
    }


@dataclass(frozen=True)
class LadderGroup:
    """The months of one company on one lot whose same step leaves now, in one email."""

    clause_id: int
    company_id: int
    step: str
    months: tuple[date, ...]
    #: The due date the company is held to (the call's, pushed by suspended days).
    due_on: date
    reminders_total: int
    #: When the buyer would be alerted (told in the last reminder).
    escalation_on: date | None
    days: LadderDays = field(default_factory=LadderDays)


@dataclass(frozen=True)
class LadderMessage:
    recipients: list[Recipient]
    context: dict[str, Any]
    attachments: Sequence[Attachment] = ()


def ladder_message(
    app: App,
    session: Session,
    clause: Clause,
    group: LadderGroup,
    now: datetime,
) -> LadderMessage | None:
    """Recipients, context and attachments of ``group``'s email, or None when there is nobody
    to write to."""
    settings = app.settings
    party = next((p for p in clause.parties if p.company_id == group.company_id), None)
    company = party.company if party else session.get_one(Company, group.company_id)
    correspondent = notices.party_correspondent(party) if party else None
    context = ladder_context(
        clause=notices.clause_context(clause),
        company=company.name,
        role=PARTY_ROLE_LABELS[PartyRole(party.role)] if party else "",
        hours_share=party.hours_share if party else None,
        correspondent=correspondent.name if correspondent else None,
        group=group,
        today=local_date(now, settings.zone),
        settings=settings,
    )
    if group.step == LadderStep.ESCALATION:
        context["buyer"] = {"name": clause.market.operation.buyer.name}
        context["sent"] = steps_done(
            ladder_history(session, [group.clause_id]),
            group.clause_id,
            group.company_id,
            group.months,
            group.reminders_total,
            settings.zone,
        )
        buyer = notices.buyer_recipients(clause.market.operation.buyer)
        recipients = [*buyer, Recipient(settings.facilitator_name, settings.facilitator_email)]
        return LadderMessage(recipients, context)
    if correspondent is None or not correspondent.email.strip():
        return None
    recipients = [Recipient(correspondent.name, correspondent.email)]
    if group.step != LadderStep.CALL:
        return LadderMessage(recipients, context)
    # The call says exactly which columns to send, from the importer's own definitions, and
    # attaches the templates. It gives one due date to all its months (a catch-up call its own,
    # later than the scheduled ones): the list of months says that date, as the subject does.
    material = declaration_material(
        session,
        clause,
        company,
        group.months,
        settings,
        due_dates=dict.fromkeys(group.months, group.due_on),
    )
    context["declaration_howto"] = material.howto
    return LadderMessage(recipients, context, material.attachments)


def ladder_context(
    *,
    clause: dict[str, Any],
    company: str,
    role: str,
    hours_share: int | None,
    correspondent: str | None,
    group: LadderGroup,
    today: date,
    settings: Settings,
) -> dict[str, Any]:
    """The context of the three kinds: plain values only, so previews need no database."""
    number = reminder_number(group.step) or 0
    months = sorted(group.months)
    return {
        "clause": clause,
        "company": {"name": company, "role": role},
        "hours_share": hours_share,
        "correspondent": {"name": correspondent} if correspondent else None,
        # ``month`` is the oldest month; ``months`` all those the email covers.
        "month": months[0],
        "months": months,
        "months_count": len(months),
        "month_phrase": months_phrase(months),
        "due_on": group.due_on,
        "step": group.step,
        "number": number,
        "reminders_total": group.reminders_total,
        "last_reminder": group.reminders_total > 0 and number == group.reminders_total,
        "late_days": group.days.between(group.due_on, today),
        "escalation_on": group.escalation_on,
        "facilitator": facilitator_context(settings),
    }


# --- what was really sent -------------------------------------------------------------------


@dataclass(frozen=True)
class SentStep:
    """One ladder email as the outbox holds it."""

    step: str
    months: tuple[date, ...]
    key: str
    created_at: datetime
    state: str
    sent_at: datetime | None


LadderHistory = dict[tuple[int, int, date], list[SentStep]]


def ladder_history(session: Session, clause_ids: Iterable[int]) -> LadderHistory:
    """Every ladder email of these lots, by (lot, company, month) covered, oldest first."""
    ids = sorted(set(clause_ids))
    history: LadderHistory = {}
    if not ids:
        return history
    rows = session.execute(
        select(
            OutboxMessage.key,
            OutboxMessage.created_at,
            OutboxMessage.state,
            OutboxMessage.sent_at,
        )
        .where(OutboxMessage.clause_id.in_(ids), OutboxMessage.kind.in_(KINDS))
        .order_by(OutboxMessage.created_at, OutboxMessage.id)
    ).all()
    for key, created_at, state, sent_at in rows:
        parsed = key_months(key)
        if parsed is None:
            continue
        sent = SentStep(parsed.step, parsed.months, key, created_at, state, sent_at)
        for month in parsed.months:
            history.setdefault((parsed.clause_id, parsed.company_id, month), []).append(sent)
    return history


def sent_state(sent: SentStep, zone: Any) -> str:
    """« envoyé le 3 décembre 2026 », « en cours d'envoi », « non distribué »: the truth of one
    email, agreed with its step (une alerte)."""
    from workflow.adapters.templates import french_date

    if sent.state == OutboxState.SENT:
        day = local_date(sent.sent_at or sent.created_at, zone)
        return f"{step_participle(sent.step, 'envoyé')} le {french_date(day)}"
    if sent.state in (OutboxState.FAILED, OutboxState.DEAD):
        return f"{step_participle(sent.step, 'non distribué')} (adresse refusée)"
    if sent.state == OutboxState.CANCELLED:
        # Taken back by the facilitator (``clauses mail cancel``): it never left.
        return f"{step_participle(sent.step, 'annulé')} avant envoi par la facilitatrice"
    return f"en cours d'envoi depuis le {french_date(local_date(sent.created_at, zone))}"


def steps_before_escalation(reminders_total: int) -> list[str]:
    return [LadderStep.CALL, *(f"{LadderStep.REMINDER}_{n}" for n in range(1, reminders_total + 1))]


def steps_done(
    history: LadderHistory,
    clause_id: int,
    company_id: int,
    months: Sequence[date],
    reminders_total: int,
    zone: Any,
) -> list[dict[str, str]]:
    """Each step before the alert, sent or not, for ``months`` of one company on one lot.

    Read from the outbox, never inferred from where the ladder stands: a step no email covers
    is said « non envoyé ». The months are named when an email covered only some of them."""
    from workflow.adapters.templates import french_month

    entries: list[dict[str, str]] = []
    for step in steps_before_escalation(reminders_total):
        emails: dict[str, SentStep] = {}
        missing: list[date] = []
        for month in months:
            found = [e for e in history.get((clause_id, company_id, month), []) if e.step == step]
            if not found:
                missing.append(month)
            for email in found:
                emails.setdefault(email.key, email)
        for email in sorted(emails.values(), key=lambda e: e.created_at):
            covered = [m for m in months if m in email.months]
            partial = len(months) > 1 and len(covered) < len(months)
            entries.append(
                {
                    "label": step_label(step),
                    "text": sent_state(email, zone)
                    + (f" (pour {', '.join(french_month(m) for m in covered)})" if partial else ""),
                }
            )
        if missing:
            partial = len(months) > 1 and len(missing) < len(months)
            entries.append(
                {
                    "label": step_label(step),
                    "text": "non envoyé"
                    + (f" (pour {', '.join(french_month(m) for m in missing)})" if partial else ""),
                }
            )
    return entries


# --- previews ---------------------------------------------------------------------------------


def preview_context(kind: str) -> dict[str, Any] | None:
    """A sample context for ``clauses mail preview`` (the sample lot of ``services.previews``):
    October 2026 called on time, each step on its scheduled day."""
    if kind not in KINDS:
        return None
    from workflow.services.previews import sample_clause

    settings = Settings()
    zone = settings.zone
    clause = sample_clause()
    holder = clause.parties[0]
    month = date(2026, 10, 1)
    schedule = month_schedule(month, default_rules(settings), zone)
    step = {
        KIND_CALL: LadderStep.CALL,
        KIND_REMINDER: f"{LadderStep.REMINDER}_1",
        KIND_ESCALATION: LadderStep.ESCALATION,
    }[kind]
    reminders = [s for s in schedule.steps if reminder_number(s.name) is not None]
    group = LadderGroup(
        clause_id=clause.id,
        company_id=holder.company_id,
        step=step,
        months=(month,),
        due_on=schedule.due_on,
        reminders_total=len(reminders),
        escalation_on=local_date(schedule.step(LadderStep.ESCALATION).at, zone),
    )
    context = ladder_context(
        clause=notices.clause_context(clause),
        company=holder.company.name,
        role=PARTY_ROLE_LABELS[PartyRole(holder.role)],
        hours_share=holder.hours_share,
        correspondent=holder.correspondent.name if holder.correspondent else None,
        group=group,
        today=local_date(schedule.step(step).at, zone),
        settings=settings,
    )
    if kind == KIND_CALL:
        context["declaration_howto"] = build_howto(
            clause,
            holder.company,
            [month],
            due_day=settings.declaration_due_day,
            due_dates={month: context["due_on"]},
        )
    if kind == KIND_ESCALATION:
        from workflow.adapters.templates import french_date

        context["buyer"] = {"name": clause.market.operation.buyer.name}
        context["sent"] = [
            {
                "label": step_label(s.name),
                "text": f"envoyé le {french_date(local_date(s.at, zone))}",
            }
            for s in schedule.steps
            if s.name != LadderStep.ESCALATION
        ]
    return context
