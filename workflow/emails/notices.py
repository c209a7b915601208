"""The buyer's notices: one at each milestone of its lot, with the figures once work is done.

Buyer emails carry counts, never a participant's reference (``ClauseResults.report_text`` comes
masked). ``services.notices`` decides when one leaves and reads the values; this module says
which kinds there are and what their templates read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from workflow.domain.events import AwardChange
from workflow.domain.stages import ClauseEvent
from workflow.emails.family import EmailFamily, Sample
from workflow.emails.lots import Lot, Party, lot_context, parties_context, schedule_context
from workflow.emails.samples import BUYER_CONTACT, LOT, PARTIES

if TYPE_CHECKING:
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

KINDS = (
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
#: Kinds whose context carries the clause's results (hours done, outcomes...).
RESULT_KINDS = frozenset({"notice_execution_ended", "notice_final_report"})
#: Kinds sent whatever the buyer's notice preference.
ALWAYS_SENT_KINDS = frozenset({"notice_final_report"})
#: Kinds that quote the reason the facilitator gave for the change (others have a fixed one).
REASON_KINDS = frozenset(KINDS) - {
    "notice_identified",
    "notice_awarded",
    "notice_final_report",
    "notice_award_corrected",
}


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
    """Aggregates of one clause (``services.notices.clause_results``); ``report_text`` has
    references masked."""

    hours_done: Decimal = Decimal(0)
    participants: int = 0
    #: Monthly declarations recorded, one per company x month (a lot with two companies owes
    #: two a month).
    declarations_received: int = 0
    by_company: list[CompanyHours] = field(default_factory=list)
    by_mode: list[Count] = field(default_factory=list)
    contracts: list[Count] = field(default_factory=list)
    outcomes: list[Count] = field(default_factory=list)
    #: The same outcomes by type, in the words of the field (« CDI », « Formation courte »).
    outcome_types: list[Count] = field(default_factory=list)
    report_text: str | None = None


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
        "declarations_received": results.declarations_received,
        "by_company": [vars(c) for c in results.by_company],
        "by_mode": [vars(c) for c in results.by_mode],
        "contracts": [vars(c) for c in results.contracts],
        "outcomes": [vars(c) for c in results.outcomes],
        "outcomes_total": sum(int(c.value) for c in results.outcomes),
        "outcome_types": [vars(c) for c in results.outcome_types],
        "report_text": results.report_text,
    }


def changes_context(changes: Iterable[AwardChange]) -> list[dict[str, str]]:
    return [{"what": c.what, "before": c.before, "after": c.after} for c in changes]


def notice_context(
    lot: Lot,
    parties: Sequence[Party],
    *,
    due_day: int,
    at: date,
    reason: str | None,
    results: ClauseResults | None = None,
    changes: Iterable[AwardChange] | None = None,
    held_since: date | None = None,
    due_dates: Mapping[date, date] | None = None,
) -> dict[str, Any]:
    """Context of every buyer notice; ``results`` only for the kinds that report figures,
    ``changes`` only for a corrected award; ``held_since`` only for a notice released late
    (``services.held_notices``): the day it could not leave, its buyer having no contact;
    ``due_dates``: the due date calls already gave for a month (a late notice must not announce
    the scheduled date when the companies were given another)."""
    context: dict[str, Any] = {
        "clause": lot_context(lot),
        "buyer": {"name": lot.buyer},
        "at": at,
        "reason": reason,
        "parties": parties_context(parties),
        "schedule": schedule_context(lot, due_day, due_dates),
        "due_day": due_day,
        "results": None if results is None else results_context(results, lot.hours_target),
        "held_since": held_since,
    }
    if changes is not None:
        context["changes"] = changes_context(changes)
    return context


# --- the sample -------------------------------------------------------------------------------

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


def sample_results() -> ClauseResults:
    return ClauseResults(
        hours_done=Decimal("4512.5"),
        participants=11,
        declarations_received=32,  # 16 months x 2 companies: all in
        by_company=[
            CompanyHours("Bâtiments du Sud-Ouest", "titulaire", 3500, Decimal("3362.5")),
            CompanyHours("Menuiseries de l'Exemple", "cotraitant", 1225, Decimal("1150")),
        ],
        by_mode=[
            Count("Embauche directe", Decimal("2310")),
            Count("Mise à disposition (ETTI)", Decimal("1702.5")),
            Count("Formation", Decimal("500")),
        ],
        contracts=[
            Count("CDD", 5),
            Count("Intérim d'insertion", 4),
            Count("Contrat d'apprentissage", 2),
        ],
        outcomes=[
            Count("Emploi durable", 3),
            Count("Emploi de transition", 4),
            Count("Sortie positive", 2),
            Count("Autre", 2),
        ],
        outcome_types=[
            Count("CDI", 1),
            Count("Contrat de professionnalisation", 2),
            Count("CDD de moins de 6 mois", 3),
            Count("Contrat aidé", 1),
            Count("Formation qualifiante", 2),
            Count("Formation courte (non qualifiante)", 1),
            Count("Demandeur d'emploi", 1),
        ],
        report_text=LOT.final_report,
    )


def sample(kind: str, settings: Settings) -> Sample:
    at, reason = SAMPLE_MILESTONES[kind]
    lot = replace(LOT, stage=SAMPLE_REOPENED_STAGE) if kind == "notice_reopened" else LOT
    context = notice_context(
        lot,
        PARTIES,
        due_day=settings.declaration_due_day,
        at=at,
        reason=reason,
        results=sample_results() if kind in RESULT_KINDS else None,
        changes=SAMPLE_AWARD_CHANGES if kind == "notice_award_corrected" else None,
    )
    return Sample((BUYER_CONTACT,), context)


FAMILY = EmailFamily("notices", KINDS, sample)
