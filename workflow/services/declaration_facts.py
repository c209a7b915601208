"""Declarations as their rows and history tell them: the facts the audit and the summaries read.

A declaration is one row, overwritten by a correction (``record_declaration``), so what it said
before lives only in its history rows (« déclaration de mars 2026 de X : 120 h (remplace
100 h) », one per recording, at the recording's instant). A cancelled one
(``declaration_cancellations.cancel_declaration``) is gone with its lines; its history keeps
what it said (« declaration_cancelled »), read back as a declaration that existed until then
(``DeclarationFacts.cancelled_at``).

``load_declarations`` reads them all, or those of a few lots (``touched_lots``: the lots where a
declaration was recorded or cancelled in a span), with or without their lines, in a fixed number
of queries. The audit checks them against the receipts and the summaries sent
(``audit.receipts``, which re-exports these names); the monthly summary tells what changed since
the previous one (``summaries.declaration_changes``). Outside the audit package, which imports
the summaries: both import this module at their top.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, CompoundSelect, select, true, union
from sqlalchemy.orm import Session

from workflow.adapters.batching import chunked, stream_rows
from workflow.adapters.orm import (
    AwardParty,
    Buyer,
    Clause,
    ClauseHistory,
    Company,
    Declaration,
    DeclarationLine,
    Market,
    Operation,
    Participant,
)
from workflow.adapters.templates import french_month
from workflow.emails.phrases import month_phrase, parse_hours
from workflow.services.history_companies import HistoryCompanies

DECLARATION_EVENT = "declaration"
#: ``services.declarations.DECLARATION_CANCELLED`` (the audit reads rows, it imports no writer).
CANCELLED_EVENT = "declaration_cancelled"
#: ``services.declarations.cancellation_reason``.
CANCELLED_REASON = re.compile(
    r"déclaration n°\s(?P<id>\d+) (?P<month>(?:d'|de )\S+ \d{4}) de (?P<company>.+?) annulée "
    r"\((?P<hours>[^()]+?) retirées\) : (?P<reason>.*)",
    re.DOTALL,
)
#: ``record_declaration``'s history reason; after « – », what it did to the lot's outcomes
#: (``outcome_counts.count_sentences``: « 1 sortie (P-0007, CDI) n'est plus comptée … »).
RECORDED_REASON = re.compile(
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


def touched_lots(
    after: datetime, *, until: datetime | None = None, before_month: date | None = None
) -> CompoundSelect[int]:
    """The lots (clause ids, as a subquery) where a declaration was recorded (or corrected)
    after ``after``, or one cancelled then; up to ``until`` included, when given, and, with
    ``before_month``, only the declarations of a month before it (a late one, or a correction:
    not the month the summary is about, which every lot declares)."""
    recorded = [Declaration.recorded_at > after]
    cancelled = [ClauseHistory.event == CANCELLED_EVENT, ClauseHistory.at > after]
    if until is not None:
        recorded.append(Declaration.recorded_at <= until)
        cancelled.append(ClauseHistory.at <= until)
    if before_month is not None:
        recorded.append(Declaration.month < before_month)
    return union(
        select(Declaration.clause_id).where(*recorded),
        select(ClauseHistory.clause_id).where(*cancelled),
    )


def load_declarations(
    session: Session,
    changed_after: datetime | None = None,
    *,
    lots: CompoundSelect[int] | None = None,
    lines: bool = True,
) -> Declarations:
    """Every declaration with its lines and its recordings, and every declaration cancelled:
    six queries in all (five without the lines), the history streamed (``attach_recordings``).

    With ``lots`` (``touched_lots``), only those lots, each with all its declarations and
    history. ``changed_after`` is ``lots=touched_lots(changed_after)``: the lots where a summary
    compiled for that moment may leave a declaration out (one recorded or corrected after it,
    one cancelled after it); none on the day's figures, a few on a replay of a past email.
    ``lines=False``: without the lines (``DeclarationFacts.lines`` left empty), for a reader of
    the totals and the history alone."""
    if changed_after is not None and lots is None:
        lots = touched_lots(changed_after)
    changed: ColumnElement[bool] = true()
    clauses: ColumnElement[bool] = true()
    if lots is not None:
        # Every declaration of the lots touched, not only those changed: a history row finds
        # its declaration among all of its lot's month (a lot where two companies declared
        # October gave one company's recording to the other, through the fallback for a
        # renamed company); a subquery, never one parameter per lot (PostgreSQL takes at most
        # 65,535), and each read stays one statement.
        changed = Declaration.clause_id.in_(lots)
        clauses = ClauseHistory.clause_id.in_(lots)
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
    if lines:
        for declaration_id, reference, hours in session.execute(
            select(DeclarationLine.declaration_id, Participant.reference, DeclarationLine.hours)
            .join(Participant, Participant.id == DeclarationLine.participant_id)
            .join(Declaration, Declaration.id == DeclarationLine.declaration_id)
            .where(changed)
        ):
            if declaration_id in found:
                found[declaration_id].lines[reference] = Decimal(hours)
    attach_recordings(session, found, clauses)
    return found


def attach_recordings(session: Session, found: Declarations, clauses: ColumnElement[bool]) -> None:
    """Each ``declaration`` history row to the declaration it tells of: same clause and month,
    the company by the row's number (``company_id``, followed through the merges since), or for
    a row written before it kept one, by a name the company had (``history_companies``): never
    another company of the lot, were it the only one left declaring that month. The rows before
    a cancellation of that month go to the cancelled declaration (``declaration_cancelled``,
    read back into ``found.cancelled``).

    The rows are streamed a lot at a time (by lot, then time): only one lot's rows are held, as
    plain strings, never the whole history (millions of rows at 10^5 lots). The companies'
    merges are read once before (one query for the numbers the rows keep); a lot with a row
    that must be found among the lot's parties waits for a few hundred others, whose parties
    are read in one query."""
    by_month: dict[tuple[int, str], list[DeclarationFacts]] = defaultdict(list)
    for facts in found.values():
        by_month[(facts.clause_id, month_phrase(facts.month))].append(facts)
    events = ClauseHistory.event.in_([DECLARATION_EVENT, CANCELLED_EVENT])
    companies = HistoryCompanies(session)
    # Through the session, which writes first what it holds unwritten (the stream below reads
    # on its connection).
    companies.read_merges(
        session.scalars(
            select(ClauseHistory.company_id)
            .where(events, clauses, ClauseHistory.company_id.is_not(None))
            .distinct()
        )
    )
    names_today = {facts.company_id: facts.company for facts in found.values()}
    lots = _LotRecordings(by_month, names_today, companies)
    waiting: list[list[_Row]] = []
    parties: dict[int, list[tuple[int, str]]] = {}
    history = stream_rows(
        session,
        select(
            ClauseHistory.id, ClauseHistory.clause_id, ClauseHistory.at, ClauseHistory.event,
            ClauseHistory.reason, ClauseHistory.company_id,
        )
        .where(events, clauses)
        .order_by(ClauseHistory.clause_id, ClauseHistory.at, ClauseHistory.id),
    )  # fmt: skip
    for lot in _by_lot(history, companies):
        if not lots.attach(lot, parties):
            waiting.append(lot)
            if len(waiting) >= _WAITING_LOTS:
                _attach_waiting(session, lots, waiting, parties)
    _attach_waiting(session, lots, waiting, parties)
    # In the order they were cancelled, as one read in time order gave them.
    found.cancelled.extend(
        sorted(lots.cancelled, key=lambda c: (c.cancelled_at or _EPOCH, c.cancelled_by or 0))
    )
    if found.cancelled:
        _complete_cancelled(session, found, companies)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: How many lots wait for their parties to be read together.
_WAITING_LOTS = 500


@dataclass(frozen=True)
class _Row:
    """A history row of a declaration or of its cancellation, as plain strings."""

    history_id: int
    clause_id: int
    at: datetime
    cancelled: bool
    month: str
    company: str
    hours: str
    counts: str | None
    motif: str | None
    #: The cancelled declaration's number (a cancellation's row), else 0.
    declaration_id: int
    #: The company that holds today the row's number, None for a row without one.
    now_of: int | None


def _by_lot(history: Iterable[Any], companies: HistoryCompanies) -> Iterator[list[_Row]]:
    """The rows read (by lot, then time), one lot's at a time; a row that says nothing readable
    is left out."""
    lot: list[_Row] = []
    for history_id, clause_id, at, event, reason, company_id in history:
        if lot and lot[0].clause_id != clause_id:
            yield lot
            lot = []
        cancelled = event == CANCELLED_EVENT
        text = reason or ""
        said = (CANCELLED_REASON if cancelled else RECORDED_REASON).fullmatch(text)
        if said is None:
            continue
        moment = _utc(at)
        if cancelled:
            found = CANCELLED_COUNTS.search(text)
            counts, motif, declaration_id = (found["counts"] if found else None), None, said["id"]
        else:
            counts, motif, declaration_id = said["counts"], said["motif"], "0"
        lot.append(
            _Row(
                history_id, clause_id, moment, cancelled, said["month"], said["company"],
                said["hours"], counts, motif, int(declaration_id),
                None if company_id is None else companies.now_of(company_id, moment),
            )
        )  # fmt: skip
    if lot:
        yield lot


def _attach_waiting(
    session: Session,
    lots: _LotRecordings,
    waiting: list[list[_Row]],
    parties: dict[int, list[tuple[int, str]]],
) -> None:
    """The lots that waited for their parties: those parties in one query, then each lot."""
    if not waiting:
        return
    clause_ids = sorted({lot[0].clause_id for lot in waiting})
    for clause_id in clause_ids:
        parties[clause_id] = []
    for chunk in chunked(clause_ids):
        for clause_id, company_id, name in session.execute(
            select(AwardParty.clause_id, AwardParty.company_id, Company.name)
            .join(Company, Company.id == AwardParty.company_id)
            .where(AwardParty.clause_id.in_(chunk))
            .distinct()
            .order_by(AwardParty.clause_id, AwardParty.company_id)
        ):
            parties[clause_id].append((company_id, name))
    for lot in waiting:
        lots.attach(lot, parties)
    waiting.clear()
    parties.clear()


class _LotRecordings:
    """Attaches one lot's rows at a time to the declarations they tell of."""

    def __init__(
        self,
        by_month: dict[tuple[int, str], list[DeclarationFacts]],
        names_today: dict[int, str],
        companies: HistoryCompanies,
    ) -> None:
        self.by_month = by_month
        self.names_today = names_today
        self.companies = companies
        self.cancelled: list[DeclarationFacts] = []

    def attach(self, lot: list[_Row], parties: dict[int, list[tuple[int, str]]]) -> bool:
        """The lot's rows attached; False (nothing done) when a row must be found among the
        lot's parties and ``parties`` does not have them yet."""
        clause_id = lot[0].clause_id
        # A row without a number is matched among the month's companies: those that declared
        # it and those the rows with a number name.
        numbered: dict[str, set[int]] = defaultdict(set)
        for row in lot:
            if row.now_of is not None:
                numbered[row.month].add(row.now_of)
        keys: list[int | str] = []
        for row in lot:
            whose = self._whose(row, numbered, parties)
            if whose is None:
                return False
            keys.append(whose)
        # The recordings of each (month, company) since its last cancellation.
        pending: dict[tuple[str, int | str], list[Recording]] = defaultdict(list)
        for row, company in zip(lot, keys, strict=True):
            key = (row.month, company)
            if row.cancelled:
                cancelled = _cancelled_facts(row, pending.pop(key, []))
                if isinstance(company, int):
                    cancelled.company_id = company
                self.cancelled.append(cancelled)
                continue
            hours = parse_hours(row.hours)
            if hours is None:
                continue
            pending[key].append(Recording(row.history_id, row.at, hours, row.counts, row.motif))
        for (month, company), recordings in pending.items():
            chosen = [
                c
                for c in self.by_month.get((clause_id, month), [])
                if company in (c.company_id, c.company)
            ]
            # A row naming the company by its name (not found by number): only today's name of
            # a single declaration of the month, never a company chosen for being the only one.
            if len(chosen) == 1:
                chosen[0].recordings.extend(recordings)
                chosen[0].recordings.sort(key=lambda r: (r.at, r.history_id))
        return True

    def _whose(
        self,
        row: _Row,
        numbered: dict[str, set[int]],
        parties: dict[int, list[tuple[int, str]]],
    ) -> int | str | None:
        """The row's company: its number today, or (no number, none found by name) the name the
        row wrote; None when the lot's parties are needed and not read yet."""
        if row.now_of is not None:
            return row.now_of
        candidates = {
            f.company_id: f.company for f in self.by_month.get((row.clause_id, row.month), [])
        }
        for other in numbered.get(row.month, ()):
            candidates.setdefault(other, self.names_today.get(other, ""))
        chosen = self.companies.by_name(row.company, list(candidates.items()), at=row.at)
        if chosen is None:
            # A company whose month is gone (cancelled), its rows all written before they kept
            # its number: among the lot's parties, by a name it had.
            if row.clause_id not in parties:
                return None
            lot_parties = parties[row.clause_id]
            chosen = (
                self.companies.by_name(row.company, lot_parties, at=row.at) if lot_parties else None
            )
        return row.company if chosen is None else chosen


def _cancelled_facts(row: _Row, recordings: list[Recording]) -> DeclarationFacts:
    """A cancelled declaration as its history gives it; its company and buyer numbers are
    filled by ``_complete_cancelled``."""
    hours = parse_hours(row.hours)
    last = recordings[-1] if recordings else None
    return DeclarationFacts(
        id=row.declaration_id,
        clause_id=row.clause_id,
        company_id=0,
        company=row.company,
        buyer_id=0,
        buyer="",
        month=_month_of(row.month),
        total_hours=hours if hours is not None else (last.hours if last else Decimal(0)),
        recorded_at=last.at if last is not None else row.at,
        recordings=recordings,
        cancelled_at=row.at,
        cancelled_by=row.history_id,
        cancelled_counts=row.counts,
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


def _complete_cancelled(session: Session, found: Declarations, companies: HistoryCompanies) -> None:
    """The company (by its number, else by a name it had) and the buyer of each cancelled
    declaration: two queries, and the record history of the companies named by a row without
    a number."""
    unnumbered = [facts for facts in found.cancelled if facts.company_id == 0]
    if unnumbered:
        everyone = [
            (company_id, name)
            for company_id, name in session.execute(
                select(Company.id, Company.name).order_by(Company.id)
            )
        ]
        for facts in unnumbered:
            facts.company_id = (
                companies.by_name(facts.company, everyone, at=facts.cancelled_at) or 0
            )
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
        facts.buyer_id, facts.buyer = buyers.get(facts.clause_id, (0, ""))
