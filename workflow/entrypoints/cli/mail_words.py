"""The outbox in the words the commands print: what each kind of email is, and the French keys
of a sending pass (``mail send --json``, ``tick --json``)."""

from __future__ import annotations

from typing import Any

from workflow.app import mail

# Shared with the web pages (the privacy export); imported from here by the commands.
from workflow.app.command_words import KIND_LABELS as KIND_LABELS
from workflow.app.command_words import kind_label as kind_label

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
