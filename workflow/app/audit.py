"""``audit verify``: after a restore or an upgrade, do the rows still tell one story?

The checks are ``services.audit``'s, read in one transaction that writes nothing.
"""

from __future__ import annotations

from workflow.app.faults import translated_faults
from workflow.bootstrap import App
from workflow.services.audit import AuditReport, Finding, verify

__all__ = ["AuditReport", "Finding", "verify_database"]


def verify_database(app: App) -> AuditReport:
    """Every check (histories, outbox causes, summaries cell by cell, receipts); nothing is
    written."""
    with translated_faults(app):
        return verify(app)
