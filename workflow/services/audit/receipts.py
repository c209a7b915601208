"""Declarations and their receipts: the hours a receipt stated are the ones recorded then.

A declaration is one row, overwritten by a correction (``record_declaration``), so what it said
before lives only in its history rows (« déclaration de mars 2026 de X : 120 h (remplace
100 h) », one per recording, at the recording's instant) and in the receipts sent then. So:

- each declaration has a history row at its recording instant stating its total, and its total
  is the sum of its lines;
- a receipt sent at the declaration's recording instant states its total and each participant's
  hours as the rows give them; an older receipt (a correction followed) is followed by a later
  receipt or history row of the declaration, and states the total its own history row gives;
- a receipt written again (``:maj:``) at an instant its declaration was itself recorded again
  (an import correcting two months of the company) states that recording;
- the cumul a receipt states is the company's declarations on the lot up to that month, each as
  recorded by then (a month recorded in the same import may or may not be in it: both pass);
  « then » is when the receipt was written again, for one rewritten while it waited because
  another month changed (``:maj:<instant>`` at the end of its key).

A cancelled declaration (``declaration_cancellations.cancel_declaration``) is gone with its lines; its history keeps what it
said (« declaration_cancelled »: its number, month, company, total). It is read back as a
declaration that existed until then (``DeclarationFacts.cancelled_at``): its receipts are checked
against its recordings (not its lines, gone), and it counts in the cumul of a receipt written
while it existed, not after. The month declared again is a new declaration, whose recordings are
the ones after the cancellation.

A receipt is read, not written again: only its figure lines count (``reading.receipt_hours``),
never its greeting. Receipts greet their correspondent by name (« Bonjour Paul Lambert, ») since
2026-12-05; those sent before say « Bonjour, » and are just as true.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from itertools import combinations
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.orm import OutboxMessage
from workflow.adapters.templates import french_hours, french_month
from workflow.services.audit.findings import (
    CHECK_DECLARATION,
    CHECK_RECEIPT,
    Finding,
    email_subject,
    local_moment,
)
from workflow.services.audit.reading import parse_hours, receipt_hours

# The facts the checks read, outside this package (the summaries read them too, and this package
# imports the summaries): re-exported, so that the audit's modules and tests import them here.
from workflow.services.declaration_facts import (
    CANCELLED_COUNTS,
    CANCELLED_EVENT,
    CANCELLED_REASON,
    DECLARATION_EVENT,
    DeclarationFacts,
    Declarations,
    Recording,
    attach_recordings,
    load_declarations,
    touched_lots,
)
from workflow.services.outbox import OutboxState

__all__ = [
    "CANCELLED_COUNTS",
    "CANCELLED_EVENT",
    "CANCELLED_REASON",
    "DECLARATION_EVENT",
    "LINES_DIGEST",
    "RECEIPT_KIND",
    "REWRITTEN",
    "DeclarationFacts",
    "Declarations",
    "Recording",
    "attach_recordings",
    "check_declarations",
    "check_receipts",
    "load_declarations",
    "touched_lots",
]

RECEIPT_KIND = "declaration_receipt"
#: Same-instant months beyond this many are not combined (2^n sums): the cumul is not judged.
_MAX_SAME_INSTANT = 8

#: ``services.receipt_withdrawals.REWRITTEN``: what a rewritten receipt's key adds to the first's.
REWRITTEN = ":maj:"
#: The fingerprint of the lines a receipt key ends with (``services.notices``).
LINES_DIGEST = re.compile(r":[0-9a-f]{12}$")


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


# --- The declarations themselves ------------------------------------------------------------------


def check_declarations(facts: Declarations, zone: ZoneInfo) -> list[Finding]:
    findings: list[Finding] = []
    for declaration in sorted(facts.values(), key=lambda d: d.id):
        subject = (
            f"Déclaration n° {declaration.id} ({french_month(declaration.month)}, "
            f"{declaration.company}, clause n° {declaration.clause_id})"
        )
        total = declaration.total_hours
        recording = declaration.recording_at(declaration.recorded_at)
        if recording is None:
            findings.append(
                Finding(
                    CHECK_DECLARATION,
                    subject,
                    f"enregistrée le {local_moment(declaration.recorded_at, zone)} avec "
                    f"« {french_hours(total)} », aucune ligne d'historique de cet instant ne le "
                    "dit (changée sans passer par une déclaration ?)",
                )
            )
        elif recording.hours != total:
            findings.append(
                Finding(
                    CHECK_DECLARATION,
                    subject,
                    f"« Total du mois » : l'historique du "
                    f"{local_moment(recording.at, zone)} (ligne n° {recording.history_id}) dit "
                    f"« {french_hours(recording.hours)} », la déclaration dit "
                    f"« {french_hours(total)} »",
                )
            )
        lines = sum(declaration.lines.values(), Decimal(0))
        if lines != total:
            findings.append(
                Finding(
                    CHECK_DECLARATION,
                    subject,
                    f"« Total du mois » « {french_hours(total)} » n'est pas la somme de ses "
                    f"lignes « {french_hours(lines)} »",
                )
            )
    return findings


# --- The receipts ---------------------------------------------------------------------------------


#: A company's declarations on a lot, by (clause, company).
_ByParty = dict[tuple[int, int], list[DeclarationFacts]]


@dataclass(frozen=True)
class _Receipt:
    id: int
    declaration_id: int
    at: datetime  # the recording it acknowledges
    recipients: str
    body: str
    #: When its words were written: the recording's instant, or the instant it was written
    #: again (``:maj:`` in its key) after another month of the company's changed on the lot.
    written_at: datetime


def _instant(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return _utc(moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC))


def _receipts(session: Session) -> list[_Receipt]:
    found = []
    for row_id, key, recipients, created_at, body in session.execute(
        select(
            OutboxMessage.id, OutboxMessage.key, OutboxMessage.recipients,
            OutboxMessage.created_at, OutboxMessage.body_text,
        )
        .where(
            OutboxMessage.kind == RECEIPT_KIND,
            OutboxMessage.key.like("receipt:%"),
            # Withdrawn before it left (replaced by a correction, the month cancelled): it told
            # nobody anything. One recorded at the instant of its replacement (two instances
            # share the history's instant) would read as that replacement's.
            OutboxMessage.state != OutboxState.CANCELLED.value,
        )
        .order_by(OutboxMessage.id)
    ):  # fmt: skip
        first, _, rewritten = key.partition(REWRITTEN)
        _, declaration, instant = [*first.split(":", 2), "", ""][:3]
        instant = LINES_DIGEST.sub("", instant)  # « …+00:00:<lines digest> » since 2026-12-03
        at = _instant(instant) or _utc(
            created_at if created_at.tzinfo is not None else created_at.replace(tzinfo=UTC)
        )
        if declaration.isdigit():
            written_at = (_instant(rewritten) if rewritten else None) or at
            found.append(_Receipt(row_id, int(declaration), at, recipients, body, written_at))
    return found


def check_receipts(
    session: Session, facts: Declarations, zone: ZoneInfo
) -> tuple[int, list[Finding]]:
    """Each receipt against the declaration as recorded at its instant (one query); the
    receipt of a declaration since cancelled against what its history says it was."""
    receipts = _receipts(session)
    by_party: _ByParty = defaultdict(list)
    for facts_of in facts.all():
        by_party[(facts_of.clause_id, facts_of.company_id)].append(facts_of)
    sent_at: dict[int, list[datetime]] = defaultdict(list)
    for receipt in receipts:
        sent_at[receipt.declaration_id].append(receipt.at)
    findings: list[Finding] = []
    for receipt in receipts:
        declaration = facts.receipt_owner(receipt.declaration_id, receipt.at)
        if declaration is None:
            continue  # the outbox check says the declaration is gone
        subject = email_subject(
            receipt.id, f"accusé de réception de la déclaration {declaration.label}",
            receipt.recipients,
        )  # fmt: skip
        problems = _receipt_problems(receipt, declaration, by_party, sent_at, zone)
        findings.extend(Finding(CHECK_RECEIPT, subject, p) for p in problems)
    return len(receipts), findings


def _receipt_problems(
    receipt: _Receipt,
    declaration: DeclarationFacts,
    by_party: _ByParty,
    sent_at: dict[int, list[datetime]],
    zone: ZoneInfo,
) -> list[str]:
    stated = receipt_hours(receipt.body)
    if stated is None:
        return ["aucune ligne « Total du mois » lisible dans le courriel"]
    at, recorded = receipt.at, declaration.recorded_at
    if receipt.written_at > at and declaration.recording_at(receipt.written_at) is not None:
        # Written again at an instant the declaration itself was recorded again (one import
        # correcting two months: the other month's event rewrote it before its own withdrew
        # it): its words are those of that recording.
        at = receipt.written_at
    when = local_moment(at, zone)
    problems: list[str] = []
    if at > recorded:
        return [
            f"envoyé pour l'enregistrement du {when}, mais la déclaration date du "
            f"{local_moment(recorded, zone)} : cet enregistrement manque à la base"
        ]
    if at == recorded:
        total: Decimal | None = declaration.total_hours
        truth = "la déclaration dit"
        if declaration.cancelled_at is None:  # a cancelled one's lines went with it
            problems += _line_problems(stated.lines, declaration.lines)
        else:
            truth = f"l'historique du {when} dit"
    else:
        later = [t for t in sent_at[declaration.id] if at < t] + [
            r.at for r in declaration.recordings if at < r.at
        ]
        if not later:
            problems.append(
                f"la déclaration a été changée le {local_moment(recorded, zone)} sans accusé de "
                "réception ni ligne d'historique depuis cet accusé"
            )
        recording = declaration.recording_at(at)
        total = recording.hours if recording is not None else None
        truth = f"l'historique du {when} dit"
    shown = parse_hours(stated.total)
    if total is not None and shown != total:
        problems.append(
            f"« Total du mois » : le courriel disait « {stated.total} », {truth} "
            f"« {french_hours(total)} »"
        )
    if stated.cumulated is not None and total is not None:
        problems += _cumul_problems(
            stated.cumulated, declaration, total, receipt.written_at, by_party
        )
    return problems


def _line_problems(stated: dict[str, str], rows: dict[str, Decimal]) -> list[str]:
    problems = []
    for reference in sorted(set(stated) | set(rows)):
        said, hours = stated.get(reference), rows.get(reference)
        if said is None and hours is not None:
            problems.append(
                f"ligne « {reference} » : absente du courriel, la déclaration dit "
                f"« {french_hours(hours)} »"
            )
        elif said is not None and hours is None:
            problems.append(
                f"ligne « {reference} » : le courriel disait « {said} », absente de la déclaration"
            )
        elif said is not None and hours is not None and parse_hours(said) != hours:
            problems.append(
                f"ligne « {reference} » : le courriel disait « {said} », la déclaration dit "
                f"« {french_hours(hours)} »"
            )
    return problems


def _cumul_problems(
    said: str,
    declaration: DeclarationFacts,
    total: Decimal,
    at: datetime,
    by_party: _ByParty,
) -> list[str]:
    """The company's months on the lot up to this one, each as recorded by ``at``. A month
    recorded at ``at`` itself came in the same transaction, before or after this one: the
    receipt may count it or not."""
    certain, maybe = total, []
    for other in by_party[(declaration.clause_id, declaration.company_id)]:
        if other is declaration or other.month > declaration.month:
            continue
        hours, same_instant = other.hours_then(at)
        if hours is None:
            continue
        if same_instant:
            maybe.append(hours)
        else:
            certain += hours
    if len(maybe) > _MAX_SAME_INSTANT:
        return []
    shown = parse_hours(said)
    sums = {
        certain + sum(chosen) for n in range(len(maybe) + 1) for chosen in combinations(maybe, n)
    }
    if shown in sums:
        return []
    expected = certain + sum(maybe, Decimal(0))
    return [
        f"« Cumul déclaré » : le courriel disait « {said} », les déclarations enregistrées à "
        f"cet instant disent « {french_hours(expected)} »"
    ]
