"""Every outbox row names, through its key, a cause that exists (clause, company, ladder month,
history row, declaration, buyer) and has the kind its key implies."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.orm import (
    Buyer,
    Clause,
    ClauseHistory,
    Company,
    Declaration,
    DeclarationLadder,
    OutboxMessage,
    PeriodicRun,
)
from workflow.emails import award_removed as award_removed_email
from workflow.emails import cancellations as cancellation_email
from workflow.emails import digest as digest_email
from workflow.emails import late_declarations as late_declaration_email
from workflow.emails import summaries as summary_email
from workflow.emails import welcome as welcome_email
from workflow.emails.ladder import step_kind
from workflow.services import digest
from workflow.services.audit.departures import PREFIXES as DEPARTURE_PREFIXES
from workflow.services.audit.departures import check_departure_email
from workflow.services.audit.findings import CHECK_OUTBOX, Finding
from workflow.services.audit.receipts import CANCELLED_EVENT, CANCELLED_REASON
from workflow.services.ladder_keys import parse_months
from workflow.services.reminder_emails import key_months

#: Kinds of the emails whose key is ``notice:<clause>:<kind>:<cause>``.
WELCOME_KIND = "company_welcome"
RECEIPT_KIND = "declaration_receipt"
#: ``services.award_company_notices.KEY_PREFIX``: a corrected award told to a company welcomed.
AWARD_CORRECTED_PREFIX = "award_corrected"
#: ``services.award_company_notices.REMOVED_PREFIX``: a company told it was taken out.
AWARD_REMOVED_PREFIX = "award_removed"


def _first_sending(text: str) -> str:
    """The cause of a key without its sending mark: an email written again once the date it
    promised had passed (``stale_promises``) keeps the first one's key, with its sending after
    « ~ » (``h12~2``, ``2026-05-07T07:00:00+00:00~2``): the same cause, the same instant."""
    base, mark, sending = text.rpartition("~")
    return base if mark and sending.isdigit() else text


def _instant(text: str) -> datetime | None:
    text = _first_sending(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


class _Lookup:
    """The rows keys name, each read once."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.clauses = set(session.scalars(select(Clause.id)))
        self.companies = set(session.scalars(select(Company.id)))
        self.buyers = set(session.scalars(select(Buyer.id)))
        self.ladders = {
            (c, k, m)
            for c, k, m in session.execute(
                select(
                    DeclarationLadder.clause_id,
                    DeclarationLadder.company_id,
                    DeclarationLadder.month,
                )
            )
        }
        self.history: dict[int, tuple[int, str, datetime]] = {
            i: (c, e, a)
            for i, c, e, a in session.execute(
                select(
                    ClauseHistory.id, ClauseHistory.clause_id, ClauseHistory.event, ClauseHistory.at
                )
            )
        }
        self.instants: set[tuple[int, datetime]] = {
            (c, a.astimezone(UTC)) for c, _, a in self.history.values()
        }
        self.declarations: dict[int, int] = {
            i: c for i, c in session.execute(select(Declaration.id, Declaration.clause_id))
        }
        # Declarations cancelled since: (number, clause, when), read from their history rows.
        self.cancelled: list[tuple[int, int, datetime]] = []
        for clause_id, at, reason in session.execute(
            select(ClauseHistory.clause_id, ClauseHistory.at, ClauseHistory.reason).where(
                ClauseHistory.event == CANCELLED_EVENT
            )
        ):
            found = CANCELLED_REASON.fullmatch(reason or "")
            if found is not None:
                self.cancelled.append((int(found["id"]), clause_id, at.astimezone(UTC)))
        # The same, to look one up at once (one per cancellation email).
        self.cancellations = set(self.cancelled)
        # And by (clause, when) alone: a buyer's notice that a month was cancelled.
        self.cancellation_instants = {(clause, when) for _, clause, when in self.cancelled}
        self.runs: set[tuple[str, str]] = {
            (j, p) for j, p in session.execute(select(PeriodicRun.job, PeriodicRun.period))
        }

    def clause(self, problems: list[str], clause_id: int | None) -> bool:
        if clause_id is None:
            problems.append("la clé ne nomme pas de clause lisible")
            return False
        if clause_id not in self.clauses:
            problems.append(f"la clause n° {clause_id} n'existe pas")
            return False
        return True

    def company(self, problems: list[str], company_id: int | None) -> None:
        if company_id is None or company_id not in self.companies:
            problems.append(f"l'entreprise n° {company_id} n'existe pas")

    def cancelled_clause(self, declaration_id: int, at: datetime | None) -> int | None:
        """The clause of declaration ``declaration_id`` if it was cancelled after ``at`` (any
        time, without one): a receipt keyed so was sent for it."""
        later = [
            (when, clause_id)
            for number, clause_id, when in self.cancelled
            if number == declaration_id and (at is None or when > at)
        ]
        return min(later)[1] if later else None

    def moment(self, problems: list[str], clause_id: int, text: str) -> None:
        """The history row written at the instant a key names (an award, a change)."""
        moment = _instant(text)
        if moment is None:
            problems.append(f"l'instant « {text} » de la clé est illisible")
        elif (clause_id, moment.astimezone(UTC)) not in self.instants:
            problems.append(
                f"aucune ligne d'historique de la clause n° {clause_id} à l'instant {text}"
            )


def _reminder(look: _Lookup, row: OutboxMessage, problems: list[str]) -> None:
    parsed = key_months(row.key)
    if parsed is None:
        problems.append("clé de relance illisible")
        return
    if look.clause(problems, parsed.clause_id):
        look.company(problems, parsed.company_id)
        for month in parsed.months:
            if (parsed.clause_id, parsed.company_id, month) not in look.ladders:
                problems.append(
                    f"aucun suivi des déclarations de {month:%m/%Y} pour l'entreprise "
                    f"n° {parsed.company_id} sur la clause n° {parsed.clause_id}"
                )
    _kind(problems, row, step_kind(parsed.step))
    _same_clause(problems, row, parsed.clause_id)


def _notice(look: _Lookup, row: OutboxMessage, parts: list[str], problems: list[str]) -> None:
    if len(parts) < 4:
        problems.append("clé d'avis illisible")
        return
    clause_id = _int(parts[1])
    kind, cause = parts[2], _first_sending(":".join(parts[3:]))
    _kind(problems, row, kind)
    _same_clause(problems, row, clause_id)
    if not look.clause(problems, clause_id):
        return
    assert clause_id is not None
    if cause.startswith("h") and cause[1:].isdigit():
        history = look.history.get(int(cause[1:]))
        if history is None:
            problems.append(f"la ligne d'historique n° {cause[1:]} n'existe pas")
        elif history[0] != clause_id:
            problems.append(
                f"la ligne d'historique n° {cause[1:]} est celle de la clause n° {history[0]}"
            )
    else:
        look.moment(problems, clause_id, cause.partition("@")[2] or cause)


def _welcome(
    look: _Lookup,
    row: OutboxMessage,
    parts: list[str],
    problems: list[str],
    kind: str = WELCOME_KIND,
) -> None:
    """``welcome:<clause>:<company>:<instant>`` (the award, or the correction that wrote the
    welcome again), ``award_corrected:<clause>:<company>:<instant>`` (the correction told to
    a company already welcomed) and ``award_removed:<clause>:<company>:<instant>`` (a company
    told it was taken out): a history row of that clause at that instant."""
    if len(parts) < 4:
        problems.append("clé d'accueil illisible")
        return
    clause_id = _int(parts[1])
    _kind(problems, row, kind)
    _same_clause(problems, row, clause_id)
    if look.clause(problems, clause_id):
        assert clause_id is not None
        look.company(problems, _int(parts[2]))
        look.moment(problems, clause_id, ":".join(parts[3:]))


def _receipt(look: _Lookup, row: OutboxMessage, parts: list[str], problems: list[str]) -> None:
    _kind(problems, row, RECEIPT_KIND)
    declaration_id = _int(parts[1]) if len(parts) > 2 else None
    cancelled = (
        look.cancelled_clause(declaration_id, _instant(":".join(parts[2:])))
        if declaration_id is not None
        else None
    )
    if cancelled is not None:
        _same_clause(problems, row, cancelled)  # sent before its declaration was cancelled
    elif declaration_id is None or declaration_id not in look.declarations:
        problems.append(f"la déclaration n° {parts[1] if len(parts) > 1 else '?'} n'existe pas")
    else:
        _same_clause(problems, row, look.declarations[declaration_id])


def _cancellation(look: _Lookup, row: OutboxMessage, parts: list[str], problems: list[str]) -> None:
    """``cancellation:<clause>:<company>:<declaration>:<instant>``: the history row of that
    declaration's cancellation, at that instant, on that clause."""
    _kind(problems, row, cancellation_email.KIND)
    if len(parts) < 5:
        problems.append("clé d'annulation illisible")
        return
    clause_id, declaration_id = _int(parts[1]), _int(parts[3])
    _same_clause(problems, row, clause_id)
    if not look.clause(problems, clause_id):
        return
    look.company(problems, _int(parts[2]))
    moment = _instant(":".join(parts[4:]))
    if moment is None:
        problems.append(f"l'instant « {':'.join(parts[4:])} » de la clé est illisible")
    elif (declaration_id, clause_id, moment.astimezone(UTC)) not in look.cancellations:
        problems.append(
            f"aucune annulation de la déclaration n° {parts[3]} sur la clause n° {clause_id} "
            f"à l'instant {':'.join(parts[4:])}"
        )


def _late_declaration(
    look: _Lookup, row: OutboxMessage, parts: list[str], problems: list[str]
) -> None:
    """``late_declared:<clause>:<company>:<months>:<instant>``: months of that company on that
    clause (one, ``2026-09``, or those recorded together, ``2026-04..2026-06``) that each had a
    ladder (its alert left), and the history row of their recording then (or of the
    cancellation of another month of a notice written again without it)."""
    _kind(problems, row, late_declaration_email.KIND)
    if len(parts) < 5:
        problems.append("clé d'avis de déclaration reçue après l'alerte illisible")
        return
    clause_id, company_id = _int(parts[1]), _int(parts[2])
    _same_clause(problems, row, clause_id)
    if not look.clause(problems, clause_id):
        return
    assert clause_id is not None
    look.company(problems, company_id)
    months = parse_months(parts[3])
    if not months:
        problems.append(f"mois « {parts[3]} » de la clé illisible")
        return
    for month in months:
        if (clause_id, company_id, month) not in look.ladders:
            problems.append(
                f"aucun suivi des déclarations de {month:%m/%Y} pour l'entreprise "
                f"n° {company_id} sur la clause n° {clause_id}"
            )
    look.moment(problems, clause_id, ":".join(parts[4:]))


def _late_cancellation(
    look: _Lookup, row: OutboxMessage, parts: list[str], problems: list[str]
) -> None:
    """``late_cancelled:<clause>:<company>:<YYYY-MM>:<instant>``: a month of that company on
    that clause that had a ladder (its alert left), and the history row of a declaration's
    cancellation on that clause at that instant."""
    _kind(problems, row, late_declaration_email.CANCELLED_KIND)
    if len(parts) < 5:
        problems.append("clé d'avis d'annulation d'une déclaration reçue après l'alerte illisible")
        return
    clause_id, company_id = _int(parts[1]), _int(parts[2])
    _same_clause(problems, row, clause_id)
    if not look.clause(problems, clause_id):
        return
    look.company(problems, company_id)
    months = parse_months(parts[3])
    if len(months) != 1:
        problems.append(f"mois « {parts[3]} » de la clé illisible")
        return
    if (clause_id, company_id, months[0]) not in look.ladders:
        problems.append(
            f"aucun suivi des déclarations de {months[0]:%m/%Y} pour l'entreprise "
            f"n° {company_id} sur la clause n° {clause_id}"
        )
    text = ":".join(parts[4:])
    moment = _instant(text)
    if moment is None:
        problems.append(f"l'instant « {text} » de la clé est illisible")
    elif (clause_id, moment.astimezone(UTC)) not in look.cancellation_instants:
        problems.append(
            f"aucune annulation de déclaration sur la clause n° {clause_id} à l'instant {text}"
        )


def _digest(look: _Lookup, row: OutboxMessage, parts: list[str], problems: list[str]) -> None:
    _kind(problems, row, digest_email.KIND)
    period = parts[1] if len(parts) == 2 else ""
    try:
        date.fromisoformat(period)
    except ValueError:
        problems.append("jour du récapitulatif illisible")
        return
    if (digest.JOB, period) not in look.runs:
        problems.append(f"le récapitulatif du {period} n'est pas noté comme fait")


def _summary(look: _Lookup, row: OutboxMessage, parts: list[str], problems: list[str]) -> None:
    try:
        datetime.strptime(parts[1], "%Y-%m")
    except (IndexError, ValueError):
        problems.append("mois de la synthèse illisible")
        return
    if parts[2:] == ["facilitator"]:
        _kind(problems, row, summary_email.KIND_FACILITATOR)
    elif len(parts) == 4 and parts[2] == "buyer":
        _kind(problems, row, summary_email.KIND_BUYER)
        buyer_id = _int(parts[3])
        if buyer_id is None or buyer_id not in look.buyers:
            problems.append(f"le donneur d'ordre n° {parts[3]} n'existe pas")
    else:
        problems.append("destinataire de la synthèse illisible")


def _kind(problems: list[str], row: OutboxMessage, expected: str) -> None:
    if row.kind != expected:
        problems.append(f"type « {row.kind} » alors que la clé dit « {expected} »")


def _same_clause(problems: list[str], row: OutboxMessage, clause_id: int | None) -> None:
    if row.clause_id is not None and row.clause_id != clause_id:
        problems.append(f"rattaché à la clause n° {row.clause_id}, sa clé nomme la n° {clause_id}")


def check_outbox(session: Session) -> tuple[int, list[Finding]]:
    look = _Lookup(session)
    findings: list[Finding] = []
    rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    for row in rows:
        parts = row.key.split(":")
        problems: list[str] = []
        prefix = parts[0]
        if prefix == "reminder":
            _reminder(look, row, problems)
        elif prefix == "notice":
            _notice(look, row, parts, problems)
        elif prefix == "welcome":
            _welcome(look, row, parts, problems)
        elif prefix == AWARD_CORRECTED_PREFIX:
            _welcome(look, row, parts, problems, welcome_email.CORRECTED_KIND)
        elif prefix == AWARD_REMOVED_PREFIX:
            _welcome(look, row, parts, problems, award_removed_email.KIND)
        elif prefix == "receipt":
            _receipt(look, row, parts, problems)
        elif prefix == cancellation_email.KEY_PREFIX:
            _cancellation(look, row, parts, problems)
        elif prefix == late_declaration_email.KEY_PREFIX:
            _late_declaration(look, row, parts, problems)
        elif prefix == late_declaration_email.CANCELLED_PREFIX:
            _late_cancellation(look, row, parts, problems)
        elif prefix == "digest":
            _digest(look, row, parts, problems)
        elif prefix == "summary":
            _summary(look, row, parts, problems)
        elif prefix in DEPARTURE_PREFIXES:
            check_departure_email(session, row, parts, problems)
        else:
            problems.append("clé de forme inconnue, aucune cause connue")
        subject = f"Courriel n° {row.id} ({row.state}, clé {row.key})"
        findings.extend(Finding(CHECK_OUTBOX, subject, p) for p in problems)
    return len(rows), findings
