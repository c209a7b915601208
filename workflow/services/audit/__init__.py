"""``clauses audit verify``: after a restore, does the database still tell one consistent story?

Read-only checks, each a list of findings (one problem each, in French), plus remarks (figures
that differ for a reason the rows record):

- ``histories``: every clause's history is a chain of permitted transitions ending at its stage;
- ``outbox``: every outbox row names, through its key, a cause that exists, and has its kind;
- ``summary_emails``: every monthly summary email (the facilitator's and each buyer's), figure
  lines and table cells, against the figures recompiled as known when it was written; its HTML
  part against its text part;
- ``receipts``: every declaration has the history row of its recording, its total is the sum of
  its lines; every receipt states the hours recorded at its instant.

A restore that lost a transaction, mixed two backups or kept rows edited by hand shows up here.
Everything is read in one transaction, with one query per table and one compilation per summary
email, never a query per cell.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workflow.services.audit.findings import (
    CHECK_DECLARATION,
    CHECK_HISTORY,
    CHECK_OUTBOX,
    CHECK_RECEIPT,
    CHECK_SUMMARY,
    AuditReport,
    Finding,
)
from workflow.services.audit.histories import check_histories
from workflow.services.audit.outbox import check_outbox
from workflow.services.audit.reading import printed_figures, receipt_hours, text_tables
from workflow.services.audit.receipts import (
    check_declarations,
    check_receipts,
    load_declarations,
)
from workflow.services.audit.summary_emails import (
    check_summaries,
    latest_facilitator_key,
    summary_emails,
)

if TYPE_CHECKING:
    from workflow.runtime import App

__all__ = [
    "CHECK_DECLARATION",
    "CHECK_HISTORY",
    "CHECK_OUTBOX",
    "CHECK_RECEIPT",
    "CHECK_SUMMARY",
    "AuditReport",
    "Finding",
    "printed_figures",
    "receipt_hours",
    "text_tables",
    "verify",
]


def verify(app: App) -> AuditReport:
    """Run every check in one read-only transaction; nothing is written."""
    zone = app.settings.zone
    with app.transaction() as session:
        clauses, findings = check_histories(session)
        messages, outbox = check_outbox(session)
        findings += outbox
        declarations = load_declarations(session)
        findings += check_declarations(declarations, zone)
        receipts, receipt_findings = check_receipts(session, declarations, zone)
        findings += receipt_findings
        emails = summary_emails(session)
        summary_findings, remarks = check_summaries(session, app.settings, emails, declarations)
        findings += summary_findings
        session.rollback()
    return AuditReport(
        clauses=clauses,
        messages=messages,
        summary_key=latest_facilitator_key(emails),
        findings=tuple(findings),
        summaries=len(emails),
        receipts=receipts,
        declarations=len(declarations),
        remarks=tuple(remarks),
    )
