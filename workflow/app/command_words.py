"""Words the command line and the dashboard's pages both write: counts in French, what each kind of
email is, and values made fit for JSON.

They live below the entry points so that a page and a command print the same words without one
entry point importing the other (``lint-imports``: the application layer imports no entry point).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from workflow.adapters.templates import french_number

#: What each kind of email is, in the words of the people who receive it.
KIND_LABELS = {
    "declaration_call": "Appels à déclarer (entreprises)",
    "declaration_reminder": "Rappels (entreprises)",
    "declaration_escalation": "Alertes avant mise en demeure (donneurs d'ordre)",
    "notice_late_declaration_received": "Déclarations reçues après l'alerte (donneurs d'ordre)",
    "notice_late_declaration_cancelled": (
        "Déclarations reçues après l'alerte puis annulées (donneurs d'ordre)"
    ),
    "declaration_receipt": "Accusés de réception de déclaration",
    "declaration_cancelled": "Déclarations annulées (entreprises)",
    "company_welcome": "Accueils des entreprises attributaires",
    "company_award_corrected": "Attributions corrigées (entreprises déjà accueillies)",
    "company_award_removed": "Retraits de l'attribution (entreprises déjà accueillies)",
    "facilitator_digest": "Récapitulatifs des tâches (facilitatrice)",
    "monthly_summary": "Synthèses mensuelles (facilitatrice)",
    "monthly_summary_buyer": "Synthèses mensuelles (donneurs d'ordre)",
    "notice_identified": "Avis : clause repérée",
    "notice_drafted": "Avis : clause rédigée",
    "notice_awarded": "Avis : attribution",
    "notice_execution_started": "Avis : démarrage",
    "notice_suspended": "Avis : suspension",
    "notice_resumed": "Avis : reprise",
    "company_lot_suspended": "Avis : suspension (entreprises)",
    "company_lot_resumed": "Avis : reprise (entreprises)",
    "company_months_released": "Avis : mois plus demandés (entreprises)",
    "company_months_owed_again": "Avis : mois de nouveau demandés (entreprises)",
    "company_planned_end": "Avis : fin prévue changée (entreprises)",
    "company_left": "Avis : départ du chantier (entreprises)",
    "company_lot_terminated": "Avis : marché résilié (entreprises)",
    "company_lot_abandoned": "Avis : abandon (entreprises)",
    "notice_company_left": "Avis : départ d'une entreprise du chantier",
    "notice_execution_ended": "Avis : fin d'exécution",
    "notice_final_report": "Avis : bilan",
    "notice_abandoned": "Avis : abandon",
    "notice_reopened": "Avis : réouverture après abandon",
    "notice_award_corrected": "Avis : attribution corrigée",
    "notice_planned_end": "Avis : fin prévue changée",
    "notice_end_corrected": "Avis : date de fin corrigée",
}


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind)


def number(value: int | Decimal | float) -> str:
    """A count or a quantity as French writes it: ``12 345`` (Babel's narrow no-break space
    between thousands), ``151,67`` (decimal comma, two decimals only when there are some)."""
    amount = Decimal(str(value))
    return french_number(amount, 0 if amount == amount.to_integral_value() else 2)


def plural(count: int, one: str, many: str) -> str:
    """``0 clause``, ``1 clause``, ``12 345 clauses``: French keeps 0 in the singular."""
    return f"{number(count)} {one if count < 2 else many}"


def released_words(count: int) -> str:
    """What a closure does to the ``count`` monthly declarations it no longer asks, as
    ``clause advance … clôturer`` prints it and the lot's page says it, in the singular for
    one."""
    if count == 1:
        return (
            "Ce mois n'est plus demandé : ses rappels et alertes sont arrêtés, les courriels qui "
            "le demandaient encore sont retirés, et l'entreprise appelée pour lui en est prévenue "
            "par courriel. Ses heures ne sont comptées ni dans le bilan ni dans aucun total."
        )
    return (
        "Ces mois ne sont plus demandés : leurs rappels et alertes sont arrêtés, les courriels "
        "qui les demandaient encore sont retirés, et chaque entreprise appelée pour l'un d'eux "
        "en est prévenue par courriel. Leurs heures ne sont comptées ni dans le bilan ni dans "
        "aucun total."
    )


def to_jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value
