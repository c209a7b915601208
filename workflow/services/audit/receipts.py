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
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import combinations
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, select, true, union
from sqlalchemy.orm import Session

from workflow.adapters.orm import (
    Buyer,
    Clause,
    ClauseHistory,
    Company,
    Declaration,
    DeclarationLine,
    Market,
    Operation,
    OutboxMessage,
    Participant,
)
from workflow.adapters.templates import french_hours, french_month
from workflow.emails.phrases import month_phrase
from workflow.services.audit.findings import (
    CHECK_DECLARATION,
    CHECK_RECEIPT,
    Finding,
    email_subject,
    local_moment,
)
from workflow.services.audit.reading import parse_hours, receipt_hours

RECEIPT_KIND = "declaration_receipt"
DECLARATION_EVENT = "declaration"
#: ``services.declarations.DECLARATION_CANCELLED`` (the audit reads rows, it imports no writer).
CANCELLED_EVENT = "declaration_cancelled"
#: ``services.declarations.cancellation_reason``.
CANCELLED_REASON = re.compile(
    r"déclaration n°\s(?P<id>\d+) (?P<month>(?:d'|de )\S+ \d{4}) de (?P<company>.+?) annulée "
    r"\((?P<hours>[^()]+?) retirées\) : .*",
    re.DOTALL,
)
#: ``record_declaration``'s history reason; after « – », what it did to the lot's outcomes
#: (``outcome_counts.count_sentences``: « 1 sortie (P-0007, CDI) n'est plus comptée … »).
_REASON = re.compile(
    r"déclaration (?P<month>(?:d'|de )\S+ \d{4}) de (?P<company>.+) : (?P<hours>[^:()]+?)"
    r"(?: \(remplace [^()]+?(?:, motif : (?P<motif>[^()]+))?\))?"
    r"(?: – (?P<counts>\d+ sorties? \(.*))?",
    re.DOTALL,
)
#: What a cancellation's history reason ends with when it took outcomes out of the figures
#: (`` – `` and ``outcome_counts.uncounted_sentence``), after the facilitator's own reason.
CANCELLED_COUNTS = re.compile(
    r" – (?P<counts>\d+ sorties? \(.*?\) (?:n'est plus comptée|ne sont plus comptées) tant que "
    r"[^()]*)$",
    re.DOTALL,
)
#: Same-instant months beyond this many are not combined (2^n sums): the cumul is not judged.
_MAX_SAME_INSTANT = 8

#: ``services.receipt_withdrawals.REWRITTEN``: what a rewritten receipt's key adds to the first's.
REWRITTEN = ":maj:"
#: The fingerprint of the lines a receipt key ends with (``services.notices``).
LINES_DIGEST = re.compile(r":[0-9a-f]{12}$")


@dataclass(frozen=True)
class Recording:
    """One recording of a declaration, as its history row states it."""

    history_id: int
    at: datetime
    hours: Decimal
    #: What it did to the lot's outcomes, as its row says (« 1 sortie (P-0007, CDI) n'est plus
    #: comptée … »); None when it says nothing (none moved, or a row written before it said so).
    counts: str | None = None
    #: Why the facilitator corrected the month (« (remplace 120 h, motif : …) »), or None.
    motif: str | None = None


@dataclass
class DeclarationFacts:
    id: int
    clause_id: int
    company_id: int
    company: str
    buyer_id: int
    buyer: str
    month: date
    total_hours: Decimal
    recorded_at: datetime
    lines: dict[str, Decimal] = field(default_factory=dict)  # participant reference -> hours
    recordings: list[Recording] = field(default_factory=list)  # in time order
    #: A cancelled declaration, read back from its history: when it was cancelled, by which row.
    cancelled_at: datetime | None = None
    cancelled_by: int | None = None
    #: The outcomes that cancellation took out of the figures, as its row says; None if none.
    cancelled_counts: str | None = None

    @property
    def label(self) -> str:
        """``de mars 2026 de Bâtiments Gascons SARL sur la clause n° 1``."""
        return f"{month_phrase(self.month)} de {self.company} sur la clause n° {self.clause_id}"

    def recording_at(self, moment: datetime) -> Recording | None:
        """The last recording at ``moment``: two can share an instant (a clock held still, as
        ``clauses web --now`` does), and the later row is the one that stood."""
        return next((r for r in reversed(self.recordings) if r.at == moment), None)

    def hours_then(self, moment: datetime) -> tuple[Decimal | None, bool]:
        """Its total as recorded by ``moment`` (None: not yet, or cancelled by then), and whether
        that recording was at ``moment`` itself. Its history says what it was; without one, the
        row itself."""
        if self.cancelled_at is not None and moment >= self.cancelled_at:
            return None, False
        timeline = [(r.at, r.hours) for r in self.recordings]
        if self.recording_at(self.recorded_at) is None:
            timeline.append((self.recorded_at, self.total_hours))
        known = [(at, hours) for at, hours in timeline if at <= moment]
        if not known:
            return None, False
        # The latest by time, and of two at the same instant the later written (the timeline
        # is in history order, the row itself last): a correction made in the same second as
        # the declaration it replaces is the one that stood.
        _, (at, hours) = max(enumerate(known), key=lambda item: (item[1][0], item[0]))
        return hours, at == moment


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


class Declarations(dict[int, DeclarationFacts]):
    """The declarations that exist, by number, and (``cancelled``) those cancelled since, read
    back from their history, in the order they were cancelled."""

    def __init__(self) -> None:
        super().__init__()
        self.cancelled: list[DeclarationFacts] = []

    def all(self) -> list[DeclarationFacts]:
        """Those that exist and those cancelled."""
        return [*self.values(), *self.cancelled]

    def receipt_owner(self, declaration_id: int, at: datetime) -> DeclarationFacts | None:
        """The declaration a receipt keyed ``receipt:<declaration_id>:<at>`` was sent for: a
        cancelled one if it was cancelled after ``at`` (a number may be given again once its
        declaration is gone), else the one that has this number now."""
        cancelled = [
            c
            for c in self.cancelled
            if c.id == declaration_id and c.cancelled_at is not None and c.cancelled_at > at
        ]
        if cancelled:
            return min(cancelled, key=lambda c: c.cancelled_at or at)
        return self.get(declaration_id)


def load_declarations(session: Session, changed_after: datetime | None = None) -> Declarations:
    """Every declaration with its lines and its recordings, and every declaration cancelled:
    five queries in all.

    With ``changed_after``: only the lots where a summary compiled for that moment may leave a
    declaration out (one recorded or corrected after it, one cancelled after it), each with all
    its declarations and history; none on the day's figures, a few on a replay of a past
    email."""
    changed: ColumnElement[bool] = true()
    clauses: ColumnElement[bool] = true()
    if changed_after is not None:
        # Every declaration of the lots touched since, not only those changed: a history row
        # finds its declaration among all of its lot's month (a lot where two companies
        # declared October gave one company's recording to the other, through the fallback
        # for a renamed company); a subquery, never one parameter per declaration.
        touched = union(
            select(Declaration.clause_id).where(Declaration.recorded_at > changed_after),
            select(ClauseHistory.clause_id).where(
                ClauseHistory.event == CANCELLED_EVENT, ClauseHistory.at > changed_after
            ),
        )
        changed = Declaration.clause_id.in_(touched)
        clauses = ClauseHistory.clause_id.in_(touched)
    rows = session.execute(
        select(
            Declaration.id, Declaration.clause_id, Declaration.company_id, Company.name,
            Operation.buyer_id, Buyer.name, Declaration.month, Declaration.total_hours,
            Declaration.recorded_at,
        )
        .join(Company, Company.id == Declaration.company_id)
        .join(Clause, Clause.id == Declaration.clause_id)
        .join(Market, Market.id == Clause.market_id)
        .join(Operation, Operation.id == Market.operation_id)
        .join(Buyer, Buyer.id == Operation.buyer_id)
        .where(changed)
    )  # fmt: skip
    found = Declarations()
    for row in rows:
        found[row[0]] = DeclarationFacts(
            row[0], row[1], row[2], row[3], row[4], row[5], row[6], Decimal(row[7]), _utc(row[8])
        )
    for declaration_id, reference, hours in session.execute(
        select(DeclarationLine.declaration_id, Participant.reference, DeclarationLine.hours)
        .join(Participant, Participant.id == DeclarationLine.participant_id)
        .join(Declaration, Declaration.id == DeclarationLine.declaration_id)
        .where(changed)
    ):
        if declaration_id in found:
            found[declaration_id].lines[reference] = Decimal(hours)
    _attach_recordings(session, found, clauses)
    return found


def _attach_recordings(session: Session, found: Declarations, clauses: ColumnElement[bool]) -> None:
    """Each ``declaration`` history row to the declaration it names: same clause and month, the
    company by its name (or the only company that declared that month, after a rename). The rows
    before a cancellation of that month go to the cancelled declaration
    (``declaration_cancelled``, read back into ``found.cancelled``)."""
    by_month: dict[tuple[int, str], list[DeclarationFacts]] = defaultdict(list)
    for facts in found.values():
        by_month[(facts.clause_id, month_phrase(facts.month))].append(facts)
    history = session.execute(
        select(
            ClauseHistory.id, ClauseHistory.clause_id, ClauseHistory.at, ClauseHistory.event,
            ClauseHistory.reason,
        )
        .where(ClauseHistory.event.in_([DECLARATION_EVENT, CANCELLED_EVENT]), clauses)
        .order_by(ClauseHistory.at, ClauseHistory.id)
    )  # fmt: skip
    # The recordings of each (clause, month, company) since its last cancellation.
    pending: dict[tuple[int, str, str], list[Recording]] = defaultdict(list)
    for history_id, clause_id, at, event, reason in history:
        if event == CANCELLED_EVENT:
            cancelled = CANCELLED_REASON.fullmatch(reason or "")
            if cancelled is not None:
                key = (clause_id, cancelled["month"], cancelled["company"])
                found.cancelled.append(
                    _cancelled_facts(
                        history_id, clause_id, _utc(at), cancelled, pending.pop(key, [])
                    )
                )
            continue
        parsed = _REASON.fullmatch(reason or "")
        hours = parse_hours(parsed["hours"]) if parsed else None
        if parsed is None or hours is None:
            continue
        pending[(clause_id, parsed["month"], parsed["company"])].append(
            Recording(history_id, _utc(at), hours, parsed["counts"], parsed["motif"])
        )
    for (clause_id, month, company), recordings in pending.items():
        candidates = by_month.get((clause_id, month), [])
        named = [c for c in candidates if c.company == company]
        chosen = named or (candidates if len(candidates) == 1 else [])
        for facts in chosen[:1]:
            facts.recordings.extend(recordings)
            facts.recordings.sort(key=lambda r: (r.at, r.history_id))
    if found.cancelled:
        _complete_cancelled(session, found)


def _cancelled_facts(
    history_id: int,
    clause_id: int,
    at: datetime,
    cancelled: re.Match[str],
    recordings: list[Recording],
) -> DeclarationFacts:
    """A cancelled declaration as its history gives it; its company and buyer numbers are
    filled by ``_complete_cancelled``."""
    hours = parse_hours(cancelled["hours"])
    last = recordings[-1] if recordings else None
    counts = CANCELLED_COUNTS.search(cancelled.string)
    return DeclarationFacts(
        id=int(cancelled["id"]),
        clause_id=clause_id,
        company_id=0,
        company=cancelled["company"],
        buyer_id=0,
        buyer="",
        month=_month_of(cancelled["month"]),
        total_hours=hours if hours is not None else (last.hours if last else Decimal(0)),
        recorded_at=last.at if last is not None else at,
        recordings=recordings,
        cancelled_at=at,
        cancelled_by=history_id,
        cancelled_counts=counts["counts"] if counts else None,
    )


def _month_of(phrase: str) -> date:
    """``d'octobre 2026`` -> 2026-10-01 (``month_phrase`` read back)."""
    text = phrase.removeprefix("d'").removeprefix("de ")
    for number in range(1, 13):
        candidate = date(2000, number, 1)
        name = french_month(candidate).rsplit(" ", 1)[0]
        if text.startswith(name + " "):
            return date(int(text.rsplit(" ", 1)[1]), number, 1)
    return date.min


def _complete_cancelled(session: Session, found: Declarations) -> None:
    """The company (by its name) and the buyer of each cancelled declaration: two queries."""
    companies: dict[str, int] = {}
    for company_id, name in session.execute(select(Company.id, Company.name).order_by(Company.id)):
        companies.setdefault(name, company_id)
    buyers = {
        clause_id: (buyer_id, name)
        for clause_id, buyer_id, name in session.execute(
            select(Clause.id, Operation.buyer_id, Buyer.name)
            .join(Market, Market.id == Clause.market_id)
            .join(Operation, Operation.id == Market.operation_id)
            .join(Buyer, Buyer.id == Operation.buyer_id)
        )
    }
    for facts in found.cancelled:
        facts.company_id = companies.get(facts.company, 0)
        facts.buyer_id, facts.buyer = buyers.get(facts.clause_id, (0, ""))


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
        .where(OutboxMessage.kind == RECEIPT_KIND, OutboxMessage.key.like("receipt:%"))
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
