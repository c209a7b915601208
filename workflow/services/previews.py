"""``clauses mail preview``: see an email as its recipient will, before anyone gets it.

Without a clause, the kind's family writes it for the sample territory (``emails.registry``);
with one, the notices, the welcome and the receipt are written from that clause's data through
the very functions the services send them with. The other kinds (ladder, digest, summaries, the
buyer's notice of a month received after its alert, ``notice_late_declaration_received``) are
shown with their sample and a note.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.orm import Clause, ClauseHistory, Company, Declaration
from workflow.adapters.templates import RenderedEmail
from workflow.domain.stages import REOPEN, ClauseEvent, Stage
from workflow.emails import company_pauses as company_pause_emails
from workflow.emails import notices as notice_emails
from workflow.emails import receipts, registry, welcome
from workflow.errors import InputRefused
from workflow.services import company_pauses, email_facts, notices
from workflow.services.clauses import AWARD_CORRECTED, award_changes_of, get_clause
from workflow.services.outbox import Recipient
from workflow.services.terminations import termination_of

if TYPE_CHECKING:
    from workflow.runtime import App
    from workflow.settings import Settings

#: Families whose email ``--clause`` writes from that clause's data.
CLAUSE_FAMILIES = frozenset({"notices", "welcome", "receipts", company_pause_emails.FAMILY.name})
#: The history event each buyer notice follows, to find its date and reason with ``--clause``.
HISTORY_EVENTS = {
    "notice_identified": "identify",
    "notice_drafted": "award",
    "notice_awarded": "award_recorded",
    "notice_execution_started": "start",
    "notice_suspended": "suspend",
    "notice_resumed": "resume",
    "notice_execution_ended": "finish",
    "notice_final_report": "final_report",
    "notice_abandoned": "abandon",
    "notice_reopened": REOPEN,
    "notice_award_corrected": AWARD_CORRECTED,
    notices.PLANNED_END_NOTICE: notices.PLANNED_END_EVENT,
    notices.END_CORRECTED_NOTICE: notices.END_CORRECTED_EVENT,
}


#: The end of the works is told by the same notice whether they finished or the contract was
#: terminated (``emails.notices.ADVANCE_NOTICES``): its preview follows whichever ended the lot,
#: from its row (its day and reason), as the notice sent was written.
ENDED_NOTICE = "notice_execution_ended"
ENDING_EVENTS = (ClauseEvent.FINISH.value, ClauseEvent.TERMINATE.value)


def _events_of(kind: str) -> tuple[str, ...]:
    """The history events a buyer notice of ``kind`` follows."""
    return ENDING_EVENTS if kind == ENDED_NOTICE else (HISTORY_EVENTS[kind],)


def ended_note(session: Session, kind: str, clause_id: int) -> str | None:
    """For the end's notice of a lot ended by a termination, which notice the preview shows:
    the termination's, as it was written, not a normal end's; None otherwise."""
    if kind != ENDED_NOTICE:
        return None
    clause = get_clause(session, clause_id)
    found = termination_of(session, clause)
    if found is None:
        return None
    return (
        f"{clause.label} : marché {found.said}. L'avis de fin d'exécution d'un lot résilié "
        "est celui de la résiliation (sa date, son motif, les déclarations encore attendues "
        "jusqu'à elle) : c'est lui qui est montré, avec les chiffres de ce jour."
    )


#: The buyer's notice of a resumption: it says what leaves next (``company_pauses.lot_resumption``).
RESUMED_NOTICE = "notice_resumed"


@dataclass(frozen=True)
class Preview:
    kind: str
    key: str
    recipients: list[Recipient]
    rendered: RenderedEmail
    note: str | None = None


# --- real data of one clause ------------------------------------------------------------------


def clause_preview_context(
    session: Session, kind: str, clause_id: int, settings: Settings, now: datetime
) -> tuple[list[Recipient], dict[str, Any]]:
    clause = get_clause(session, clause_id)
    if kind == welcome.KIND:
        return _welcome_of(session, clause, settings, now)
    if kind == receipts.KIND:
        return _receipt_of(session, clause, settings)
    if kind in company_pause_emails.KINDS:
        return _company_pause_of(session, clause, kind, settings, now)
    history = session.scalar(
        select(ClauseHistory)
        .where(ClauseHistory.clause_id == clause.id, ClauseHistory.event.in_(_events_of(kind)))
        .order_by(ClauseHistory.id.desc())
        .limit(1)
    )
    if kind == "notice_award_corrected" and history is None:
        raise InputRefused(
            f"{clause.label} n'a pas d'attribution corrigée : pas d'avis de correction à "
            "montrer. Essayez sans --clause pour un exemple."
        )
    if kind == notices.PLANNED_END_NOTICE and history is None:
        raise InputRefused(
            f"{clause.label} n'a jamais changé de fin prévue : pas d'avis à montrer. Essayez "
            "sans --clause pour un exemple."
        )
    if kind == notices.END_CORRECTED_NOTICE and history is None:
        raise InputRefused(
            f"{clause.label} n'a jamais eu de date de fin d'exécution corrigée : pas d'avis à "
            "montrer. Essayez sans --clause pour un exemple."
        )
    moment = history.at if history is not None else clause.stage_changed_at
    reason = history.reason if history is not None and kind in notice_emails.HISTORY_KINDS else None
    if kind == RESUMED_NOTICE and clause.stage == Stage.SUSPENDED.value:
        # A lot still suspended: its notice as if it resumed now (no reason given yet), as
        # ``company_lot_resumed``'s preview shows it; not an earlier resumption's date.
        moment, reason = now, None
    move = corrected = None
    if kind == notices.PLANNED_END_NOTICE:
        move, reason = notices.planned_end_move_of(reason, clause.planned_end_date)
    if kind == notices.END_CORRECTED_NOTICE:
        # The dates of the latest correction; never its reason (the facilitator's).
        corrected = notices.end_correction_of(
            reason, clause.end_date, told=notices.end_told(session, clause, moment)
        )
        # As the notice sent: a month suspended whole is asked of nobody.
        corrected = dataclasses.replace(
            corrected,
            suspended=notices.suspended_months(session, clause, corrected, settings.zone),
        )
        reason = None
    context = notices.buyer_notice_context(
        clause,
        settings,
        at=notices.local_day(moment, settings.zone),
        reason=reason,
        results=notices.clause_results(session, clause, settings.outcome_groups)
        if kind in notice_emails.RESULT_KINDS
        else None,
        changes=award_changes_of(history.reason)
        if kind == "notice_award_corrected" and history is not None
        else None,
        move=move,
        corrected=corrected,
    )
    if kind == RESUMED_NOTICE:
        # What the service sends next (the next call, each declaration still owed and its next
        # reminder or alert), as the notice sent at that moment tells it.
        context["resumption"] = company_pauses.lot_resumption(session, settings, clause, moment)
    buyer = clause.market.operation.buyer
    return notices.buyer_recipients(buyer) or [
        Recipient(buyer.name, "sans-contact@example.invalid")
    ], context


def _company_pause_of(
    session: Session, clause: Clause, kind: str, settings: Settings, now: datetime
) -> tuple[list[Recipient], dict[str, Any]]:
    """A lot in execution as if suspended now; a suspended lot as told at its suspension, or
    as if resumed now: what the passes would do from now on (a lot resumed since has moved on,
    its email is in the outbox)."""
    found = company_pauses.preview_context(session, settings, clause, kind, now)
    if found is None:
        what = (
            "n'est pas suspendu"
            if kind == company_pause_emails.RESUMED
            else "n'est ni en mise en œuvre ni suspendu"
        )
        raise InputRefused(
            f"{clause.label} {what}, ou aucune de ses entreprises n'a de "
            "correspondant : pas de courriel à montrer. Essayez sans --clause pour un exemple."
        )
    recipient, context = found
    return [recipient], context


def _welcome_of(
    session: Session, clause: Clause, settings: Settings, now: datetime
) -> tuple[list[Recipient], dict[str, Any]]:
    """The welcome as it would leave now: the months the company owes now, else the next one."""
    for party in clause.parties:
        correspondent = email_facts.party_correspondent(party)
        if correspondent is not None:
            recipient = Recipient(correspondent.name, correspondent.email)
            context, _ = notices.welcome_message(session, clause, party, recipient, settings, now)
            return [recipient], context
    raise InputRefused(
        f"{clause.label} n'a pas encore d'entreprise attributaire avec un correspondant : "
        "pas de courriel d'accueil à montrer. Essayez sans --clause pour un exemple."
    )


def _receipt_of(
    session: Session, clause: Clause, settings: Settings
) -> tuple[list[Recipient], dict[str, Any]]:
    """The receipt of the lot's latest declaration, as it was written when it was recorded."""
    declaration = session.scalar(
        select(Declaration)
        .where(Declaration.clause_id == clause.id)
        .order_by(Declaration.month.desc(), Declaration.id.desc())
        .limit(1)
    )
    if declaration is None:
        raise InputRefused(
            f"{clause.label} n'a encore aucune déclaration mensuelle : pas d'accusé de réception "
            "à montrer. Essayez sans --clause pour un exemple."
        )
    company = session.get_one(Company, declaration.company_id)
    party = next((p for p in clause.parties if p.company_id == company.id), None)
    correspondent = email_facts.party_correspondent(party) if party is not None else None
    recipient = (
        Recipient(correspondent.name, correspondent.email)
        if correspondent is not None
        else Recipient(company.name, "sans-correspondant@example.invalid")
    )
    context = notices.receipt_message(
        session, clause, company, party, declaration, settings, declaration.recorded_at
    )
    return [recipient], context


# --- the preview itself -----------------------------------------------------------------------


def unknown_kind(kind: str, kinds: list[str]) -> InputRefused:
    return InputRefused(
        f"Type de courriel inconnu « {kind} ». Types disponibles : {', '.join(kinds)}."
    )


def _from_clause(kind: str) -> bool:
    """The kinds ``clause_preview_context`` can write from one clause's data. The others of a
    clause family (an award correction told to a company, needing the correction it tells) are
    shown with sample data and a note, not a crash."""
    return (
        kind in (welcome.KIND, receipts.KIND)
        or kind in company_pause_emails.KINDS
        or kind in HISTORY_EVENTS
    )


def build_preview(app: App, kind: str, clause_id: int | None = None) -> Preview:
    """Render ``kind`` with sample data, or with clause ``clause_id``'s data for the kinds
    written from one clause."""
    kinds = app.renderer.kinds()
    family = registry.family_of(kind)
    if kind not in kinds or family is None:
        raise unknown_kind(kind, kinds)
    note = None
    if clause_id is not None and family.name in CLAUSE_FAMILIES and _from_clause(kind):
        with app.transaction() as session:
            recipients, context = clause_preview_context(
                session, kind, clause_id, app.settings, app.clock()
            )
            note = ended_note(session, kind, clause_id)
    else:
        sample = family.sample(kind, app.settings)
        recipients, context = list(sample.recipients), dict(sample.context)
        if clause_id is not None:
            note = f"--clause ignoré pour « {kind} » : aperçu avec des données d'exemple."
    key = f"preview:{kind}:{clause_id if clause_id is not None else 'sample'}"
    return Preview(kind, key, recipients, app.renderer.render(kind, context), note)


def eml_bytes(preview: Preview, settings: Settings, now: datetime) -> bytes:
    """The message as the dispatcher would put it on the wire."""
    from workflow.adapters.mail.message import Mailbox, MessageParts, build_message
    from workflow.services.dispatch import MessageFactory

    factory = MessageFactory(settings)  # the sender and reply-to the dispatcher puts on the wire
    parts = MessageParts(
        key=preview.key,
        sender=factory.sender,
        reply_to=factory.reply_to,
        recipients=[Mailbox(r.name, r.email) for r in preview.recipients],
        subject=preview.rendered.subject,
        text=preview.rendered.text,
        html=preview.rendered.html,
        date=now,
    )
    return build_message(parts, settings.zone)


def write_preview(preview: Preview, out_dir: Path, settings: Settings, now: datetime) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    eml = out_dir / f"{preview.kind}.eml"
    html = out_dir / f"{preview.kind}.html"
    eml.write_bytes(eml_bytes(preview, settings, now))
    html.write_text(preview.rendered.html, encoding="utf-8")
    return [eml, html]
