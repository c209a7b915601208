"""What ``clauses audit verify`` reports: findings (something is wrong) and remarks (a figure
differs for a reason the rows record), each naming its object."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.utils import parseaddr
from zoneinfo import ZoneInfo

CHECK_HISTORY = "historique"
CHECK_OUTBOX = "courriels"
CHECK_SUMMARY = "synthèse"
CHECK_RECEIPT = "accusé de réception"
CHECK_DECLARATION = "déclaration"


@dataclass(frozen=True)
class Finding:
    """One problem (or one remark): which check found it, what it concerns, what it says."""

    check: str
    subject: str
    problem: str

    @property
    def line(self) -> str:
        return f"{self.subject} : {self.problem}"


@dataclass(frozen=True)
class AuditReport:
    clauses: int
    messages: int
    summary_key: str | None  # the latest facilitator summary (kept for ``--json`` readers)
    findings: tuple[Finding, ...]
    summaries: int = 0  # summary emails whose figures and tables were checked
    receipts: int = 0
    declarations: int = 0
    remarks: tuple[Finding, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.findings


def local_moment(moment: datetime, zone: ZoneInfo) -> str:
    """``23/03/2027 à 06:00`` in the configured time zone."""
    return f"{moment.astimezone(zone):%d/%m/%Y à %H:%M}"


def _readable(address: str) -> str:
    """``=?utf-8?b?…?= <a@b>`` (how the outbox stores a name with accents) as ``Hélène <a@b>``."""
    name, email = parseaddr(address)
    if not email:
        return address.strip()
    with suppress(HeaderParseError, LookupError, UnicodeDecodeError):  # else shown as stored
        name = str(make_header(decode_header(name)))
    return f"{name} <{email}>" if name else email


def recipients_phrase(recipients: str) -> str:
    """The outbox's ``Name <a@b>`` lines on one line, names decoded."""
    return ", ".join(_readable(line) for line in recipients.splitlines() if line.strip())


def email_subject(row_id: int, what: str, recipients: str) -> str:
    """``Courriel n° 498 (synthèse de février 2027 …, à Camille Martin <…>)``."""
    return f"Courriel n° {row_id} ({what}, à {recipients_phrase(recipients)})"
