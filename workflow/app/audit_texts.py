"""What ``clauses audit verify`` prints after its findings, in the words the dashboard's page
« Contrôle de cohérence » shows too: what was checked, and the verdict."""

from __future__ import annotations

from workflow.app.audit import AuditReport
from workflow.app.command_words import plural

#: Before a remark's line: a gap that a change recorded since explains, not a problem.
REMARK = "Remarque – "


def checked(report: AuditReport) -> str:
    """``3 clauses, 12 courriels, … vérifiés`` without the last word: what the checks read."""
    return ", ".join(
        (
            plural(report.clauses, "clause", "clauses"),
            plural(report.messages, "courriel", "courriels"),
            plural(report.summaries, "synthèse mensuelle", "synthèses mensuelles"),
            plural(report.receipts, "accusé de réception", "accusés de réception"),
            plural(report.declarations, "déclaration", "déclarations"),
        )
    )


def verdict(report: AuditReport) -> str:
    """« Aucun problème (… vérifiés). » or « 2 problèmes trouvés (… vérifiés). »"""
    if report.ok:
        return f"Aucun problème ({checked(report)} vérifiés)."
    found = plural(len(report.findings), "problème trouvé", "problèmes trouvés")
    return f"{found} ({checked(report)} vérifiés)."
