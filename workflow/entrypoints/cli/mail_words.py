"""The outbox in the words the commands print: what each kind of email is, and the French keys
of a sending pass (``mail send --json``, ``tick --json``)."""

from __future__ import annotations

from typing import Any

from workflow.app import mail

#: What each kind of email is, in the words of the people who receive it.
KIND_LABELS = {
    "declaration_call": "Appels à déclarer (entreprises)",
    "declaration_reminder": "Rappels (entreprises)",
    "declaration_escalation": "Alertes avant mise en demeure (donneurs d'ordre)",
    "declaration_receipt": "Accusés de réception de déclaration",
    "company_welcome": "Accueils des entreprises attributaires",
    "facilitator_digest": "Récapitulatifs des tâches (facilitatrice)",
    "monthly_summary": "Synthèses mensuelles (facilitatrice)",
    "monthly_summary_buyer": "Synthèses mensuelles (donneurs d'ordre)",
    "notice_identified": "Avis : clause repérée",
    "notice_drafted": "Avis : clause rédigée",
    "notice_awarded": "Avis : attribution",
    "notice_execution_started": "Avis : démarrage",
    "notice_suspended": "Avis : suspension",
    "notice_resumed": "Avis : reprise",
    "notice_execution_ended": "Avis : fin d'exécution",
    "notice_final_report": "Avis : bilan",
    "notice_abandoned": "Avis : abandon",
    "notice_reopened": "Avis : réouverture après abandon",
    "notice_award_corrected": "Avis : attribution corrigée",
}


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind)


#: ``mail send --json``'s keys, French like ``mail list --json``'s (the log keeps the English names).
SEND_KEYS = {
    "claimed": "pris",
    "sent": "envoyes",
    "retried": "a_retenter",
    "failed": "refuses",
    "dead": "abandonnes",
    "partly_refused": "envoyes_avec_refus",
    "uncertain": "incertains",
    "lost": "repris_ailleurs",
    "stopped": "interruption",
    "outage": "panne",
}


def send_data(report: mail.Sending) -> dict[str, Any]:
    return {SEND_KEYS[key]: value for key, value in report.as_dict().items()}
