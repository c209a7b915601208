"""Contexts for ``clauses mail preview``: see an email as its recipient will, before anyone gets it.

Samples are unsaved ORM objects passed through the very context builders the notices use, so a
preview has the shape of the real email; with a clause id the database's data is used instead.
Kinds owned by other services (reminders, digest, summaries) are asked to their module's
``preview_context(kind)``; modules not written yet are skipped.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.orm import (
    AwardParty,
    Buyer,
    BuyerContact,
    Clause,
    ClauseHistory,
    Company,
    Correspondent,
    Declaration,
    DeclarationLine,
    Market,
    Operation,
    Participant,
)
from workflow.adapters.templates import RenderedEmail
from workflow.domain.events import AwardChange
from workflow.domain.stages import REOPEN
from workflow.errors import InputRefused
from workflow.services import notices
from workflow.services.clauses import AWARD_CORRECTED, award_changes_of, get_clause
from workflow.services.declarations import (
    company_missing_months,
    declared_months_of,
    next_month_to_open,
)
from workflow.services.outbox import Recipient

if TYPE_CHECKING:
    from workflow.runtime import App
    from workflow.settings import Settings

#: Modules that own the other kinds; each may offer ``preview_context(kind) -> dict | None``.
FOREIGN_MODULES = (
    "workflow.services.reminders",
    "workflow.services.digest",
    "workflow.services.summaries",
)
SAMPLE_RECIPIENT = Recipient("Destinataire d'exemple", "destinataire@example.org")
OWN_KINDS = (*notices.BUYER_KINDS, "company_welcome", "declaration_receipt")

#: When each sample milestone happened, and what the facilitator wrote about it.
SAMPLE_MILESTONES: dict[str, tuple[date, str | None]] = {
    "notice_identified": (date(2025, 10, 6), None),
    "notice_drafted": (date(2025, 12, 15), None),
    "notice_awarded": (date(2026, 2, 9), None),
    "notice_execution_started": (date(2026, 3, 2), None),
    "notice_suspended": (date(2026, 8, 3), "Chantier arrêté pendant les fouilles archéologiques"),
    "notice_resumed": (date(2026, 9, 1), "Fouilles terminées, reprise du gros œuvre"),
    "notice_execution_ended": (date(2027, 6, 25), None),
    "notice_final_report": (date(2027, 9, 15), None),
    "notice_abandoned": (date(2026, 1, 12), "Consultation déclarée sans suite"),
    "notice_reopened": (
        date(2026, 1, 26),
        "Consultation relancée : le marché est de nouveau ouvert",
    ),
    "notice_award_corrected": (date(2026, 2, 16), None),
}
#: What the sample corrected award changed.
SAMPLE_AWARD_CHANGES = (
    AwardChange(
        "Heures confiées à Bâtiments du Sud-Ouest", "3\u202f700\u00a0h", "3\u202f500\u00a0h"
    ),
    AwardChange(
        "Menuiseries de l'Exemple",
        "non attributaire",
        "cotraitant, 1\u202f225\u00a0h d'insertion, correspondant : Inès Moreau",
    ),
    AwardChange("Démarrage", "16 février 2026", "2 mars 2026"),
)
#: The stage the sample clause is reopened at (it was abandoned at the award).
SAMPLE_REOPENED_STAGE = "award"
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
}


@dataclass(frozen=True)
class Preview:
    kind: str
    key: str
    recipients: list[Recipient]
    rendered: RenderedEmail
    note: str | None = None


# --- the sample territory ---------------------------------------------------------------------


def sample_clause() -> Clause:
    """A middle school's structural work lot, 4 725 h, two companies: fictional, example.org."""
    buyer = Buyer(
        id=1,
        name="Département de l'Exemple",
        kind="departement",
        notice_preference="each_milestone",
        declaration_due_day=None,
        contacts=[
            BuyerContact(
                name="Claire Dupont",
                email="claire.dupont@example.org",
                role="Direction des bâtiments",
            )
        ],
    )
    operation = Operation(
        id=1, buyer=buyer, name="Construction du collège des Tilleuls", place="Val-d'Exemple"
    )
    market = Market(id=1, operation=operation, reference="2025-014", title="Travaux du collège")
    holder = Company(id=1, name="Bâtiments du Sud-Ouest", city="Val-d'Exemple")
    partner = Company(id=2, name="Menuiseries de l'Exemple", city="Pont-d'Exemple")
    holder.correspondents = [
        Correspondent(id=1, name="Paul Lambert", email="paul.lambert@example.org")
    ]
    partner.correspondents = [
        Correspondent(id=2, name="Inès Moreau", email="ines.moreau@example.org")
    ]
    clause = Clause(
        id=42,
        market=market,
        lot_number="3",
        lot_title="Gros œuvre",
        trade="Maçonnerie",
        amount_excl_tax=Decimal("3780000"),
        labour_share=Decimal("0.5"),
        insertion_rate=Decimal("0.075"),
        hourly_cost=Decimal("30"),
        hours_computed=4725,
        hours_override=None,
        override_reason=None,
        declaration_due_day=None,
        stage="execution",
        planned_notification=date(2026, 2, 1),
        start_date=date(2026, 3, 2),
        planned_end_date=date(2027, 6, 30),
        end_date=date(2027, 6, 25),
        final_report=(
            "Chantier exemplaire : l'entreprise titulaire a recruté localement dès le "
            "démarrage, avec l'appui de la Mission locale et d'une ETTI du territoire."
        ),
    )
    clause.parties = [
        AwardParty(
            company=holder,
            company_id=1,
            role="holder",
            correspondent=holder.correspondents[0],
            hours_share=3500,
        ),
        AwardParty(
            company=partner,
            company_id=2,
            role="co_contractor",
            correspondent=partner.correspondents[0],
            hours_share=1225,
        ),
    ]
    return clause


def sample_results() -> notices.ClauseResults:
    return notices.ClauseResults(
        hours_done=Decimal("4512.5"),
        participants=11,
        months_declared=16,
        by_company=[
            notices.CompanyHours("Bâtiments du Sud-Ouest", "titulaire", 3500, Decimal("3362.5")),
            notices.CompanyHours("Menuiseries de l'Exemple", "cotraitant", 1225, Decimal("1150")),
        ],
        by_mode=[
            notices.Count("Embauche directe", Decimal("2310")),
            notices.Count("Mise à disposition (ETTI)", Decimal("1702.5")),
            notices.Count("Formation", Decimal("500")),
        ],
        contracts=[
            notices.Count("CDD", 5),
            notices.Count("Intérim d'insertion", 4),
            notices.Count("Contrat d'apprentissage", 2),
        ],
        outcomes=[
            notices.Count("Emploi durable", 3),
            notices.Count("Emploi de transition", 4),
            notices.Count("Sortie positive", 2),
            notices.Count("Autre", 2),
        ],
        outcome_types=[
            notices.Count("CDI", 1),
            notices.Count("Contrat de professionnalisation", 2),
            notices.Count("CDD de moins de 6 mois", 3),
            notices.Count("Contrat aidé", 1),
            notices.Count("Formation qualifiante", 2),
            notices.Count("Formation courte (non qualifiante)", 1),
            notices.Count("Demandeur d'emploi", 1),
        ],
        report_text=sample_clause().final_report,
    )


def sample_declaration() -> Declaration:
    lines = [
        ("P-2026-031", "151.67", "direct_hiring", "cdd"),
        ("P-2026-044", "98.5", "provision_etti", "temp_work"),
        ("P-2026-052", "62.33", "direct_hiring", "apprenticeship"),
    ]
    return Declaration(
        id=7,
        month=date(2026, 10, 1),
        total_hours=Decimal("312.5"),
        recorded_at=datetime(2026, 11, 6, 10, 12, tzinfo=UTC),
        recorded_by="Paul Lambert",
        lines=[
            DeclarationLine(
                participant=Participant(reference=ref, criterion="long_term_jobseeker"),
                hours=Decimal(hours),
                delivery_mode=mode,
                contract_type=contract,
            )
            for ref, hours, mode, contract in lines
        ],
    )


def sample_context(kind: str, settings: Settings) -> tuple[list[Recipient], dict[str, Any]]:
    clause = sample_clause()
    holder = clause.parties[0]
    if kind == "company_welcome":
        correspondent = holder.correspondent
        assert correspondent is not None
        context = notices.welcome_context(clause, holder, correspondent, settings)
        return [Recipient(correspondent.name, correspondent.email)], context
    if kind == "declaration_receipt":
        correspondent = holder.company.correspondents[0]
        context = notices.receipt_context(
            clause,
            holder.company,
            sample_declaration(),
            cumulated=Decimal("2450"),
            hours_share=holder.hours_share,
            settings=settings,
            # A company that skipped two months: the receipt lists them (late) before the next.
            missing=[date(2026, 8, 1), date(2026, 9, 1)],
            next_month=date(2026, 11, 1),
        )
        return [Recipient(correspondent.name, correspondent.email)], context
    at, reason = SAMPLE_MILESTONES[kind]
    results = sample_results() if kind in notices.RESULT_KINDS else None
    if kind == "notice_reopened":
        clause.stage = SAMPLE_REOPENED_STAGE
    context = notices.notice_context(clause, settings, at=at, reason=reason, results=results)
    if kind == "notice_award_corrected":
        context["changes"] = notices.changes_context(SAMPLE_AWARD_CHANGES)
    return notices.buyer_recipients(clause.market.operation.buyer), context


# --- real data of one clause ------------------------------------------------------------------


def clause_preview_context(
    session: Session, kind: str, clause_id: int, settings: Settings
) -> tuple[list[Recipient], dict[str, Any]]:
    clause = get_clause(session, clause_id)
    if kind == "company_welcome":
        return _welcome_of(clause, settings)
    if kind == "declaration_receipt":
        return _receipt_of(session, clause, settings)
    history = session.scalar(
        select(ClauseHistory)
        .where(ClauseHistory.clause_id == clause.id, ClauseHistory.event == HISTORY_EVENTS[kind])
        .order_by(ClauseHistory.id.desc())
        .limit(1)
    )
    moment = history.at if history is not None else clause.stage_changed_at
    reason = history.reason if history is not None and kind in notices.REASON_KINDS else None
    results = (
        notices.clause_results(session, clause, settings.outcome_groups)
        if kind in notices.RESULT_KINDS
        else None
    )
    context = notices.notice_context(
        clause,
        settings,
        at=notices.local_day(moment, settings.zone),
        reason=reason,
        results=results,
    )
    if kind == "notice_award_corrected":
        if history is None:
            raise InputRefused(
                f"{clause.label} n'a pas d'attribution corrigée : pas d'avis de correction à "
                "montrer. Essayez sans --clause pour un exemple."
            )
        context["changes"] = notices.changes_context(award_changes_of(history.reason))
    buyer = clause.market.operation.buyer
    return notices.buyer_recipients(buyer) or [
        Recipient(buyer.name, "sans-contact@example.invalid")
    ], context


def _welcome_of(clause: Clause, settings: Settings) -> tuple[list[Recipient], dict[str, Any]]:
    for party in clause.parties:
        correspondent = notices.party_correspondent(party)
        if correspondent is not None:
            context = notices.welcome_context(clause, party, correspondent, settings)
            return [Recipient(correspondent.name, correspondent.email)], context
    raise InputRefused(
        f"{clause.label} n'a pas encore d'entreprise attributaire avec un correspondant : "
        "pas de courriel d'accueil à montrer. Essayez sans --clause pour un exemple."
    )


def _receipt_of(
    session: Session, clause: Clause, settings: Settings
) -> tuple[list[Recipient], dict[str, Any]]:
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
    correspondent = notices.party_correspondent(party) if party is not None else None
    recipient = (
        Recipient(correspondent.name, correspondent.email)
        if correspondent is not None
        else Recipient(company.name, "sans-correspondant@example.invalid")
    )
    context = notices.receipt_context(
        clause,
        company,
        declaration,
        cumulated=notices.company_hours(session, clause.id, company.id),
        hours_share=party.hours_share if party is not None else None,
        settings=settings,
        missing=company_missing_months(
            session, clause, company.id, now=declaration.recorded_at, zone=settings.zone
        ),
        next_month=next_month_to_open(
            clause,
            declared_months_of(session, clause.id, company.id),
            declaration.recorded_at.astimezone(settings.zone).date(),
        ),
    )
    return [recipient], context


# --- kinds owned by other services ------------------------------------------------------------


def foreign_context(kind: str) -> dict[str, Any] | None:
    """Ask each module that may own ``kind``; the first context offered wins."""
    for name in FOREIGN_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and name.startswith(exc.name):
                continue  # that service is not written yet
            raise
        provider: Callable[[str], dict[str, Any] | None] | None = getattr(
            module, "preview_context", None
        )
        if provider is None:
            continue
        context = provider(kind)
        if context is not None:
            return context
    return None


# --- the preview itself -----------------------------------------------------------------------


def unknown_kind(kind: str, kinds: list[str]) -> InputRefused:
    return InputRefused(
        f"Type de courriel inconnu « {kind} ». Types disponibles : {', '.join(kinds)}."
    )


def build_preview(app: App, kind: str, clause_id: int | None = None) -> Preview:
    """Render ``kind`` with sample data, or with clause ``clause_id``'s data for our own kinds."""
    kinds = app.renderer.kinds()
    if kind not in kinds:
        raise unknown_kind(kind, kinds)
    note = None
    if kind in OWN_KINDS:
        if clause_id is None:
            recipients, context = sample_context(kind, app.settings)
        else:
            with app.transaction() as session:
                recipients, context = clause_preview_context(session, kind, clause_id, app.settings)
    else:
        offered = foreign_context(kind)
        if offered is None:
            raise InputRefused(
                f"Aucun exemple de données pour « {kind} » : le service qui envoie ce courriel "
                "ne propose pas encore de preview_context()."
            )
        recipients, context = [SAMPLE_RECIPIENT], offered
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
