"""Importing participants' outcomes ("sorties") from a spreadsheet saved as CSV.

Same rules as the other imports: the whole file is read and every line checked (cells, market and
lot, participant, and whether the outcome may be recorded), each for all it can be (a participant
named twice on a lot even when the date is wrong; the other cells even without a market column),
any problem refuses the file as a whole with the line and column of each error (by line, then
column), then every line is written through ``write_outcome`` in the caller's single transaction.
Importing the same file again changes nothing: each line is then reported as already recorded.
A participant may have several outcomes on one clause (dated events), one a day: two lines of one
pair on one day with different types are refused, the very same line twice is recorded once.

The file's clauses are locked once, in the order of their ids, before anything is checked: two
imports naming the same clauses in different orders then queue instead of deadlocking, and the
checks see what the other one committed. The checks ask the database a fixed number of questions
per file, not per line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.batching import select_in
from workflow.adapters.csv_files import Column, CsvTable, ImportLimits, RowReader
from workflow.adapters.declaration_columns import LOT_ALIASES, MARKET_ALIASES
from workflow.adapters.orm import Clause, Participant
from workflow.adapters.spreadsheets import read_table
from workflow.domain.calendar import local_date
from workflow.domain.events import require_aware
from workflow.domain.outcomes import OutcomeType, match_outcome_type, outcome_type_problem
from workflow.domain.stages import Stage
from workflow.errors import FieldError, FileRefused

# The market and lot lookup of the declaration import, with its French messages.
from workflow.services.declaration_imports import Resolver
from workflow.services.outcomes import (
    Change,
    Known,
    RecordedOutcome,
    known_of_pairs,
    outcome_problems,
    report_unchanged,
    write_outcome,
)
from workflow.services.participants import REFERENCE_MAX

OUTCOME_COLUMNS = (
    Column(
        "reference",
        "Référence participant",
        ("participant", "référence", "réf. participant", "référence du participant"),
    ),
    Column("market", "N° marché", MARKET_ALIASES, required=False),
    Column("lot", "Lot", LOT_ALIASES, required=False),
    Column(
        "type",
        "Type de sortie",
        ("sortie", "type", "situation à la sortie", "nature de la sortie"),
    ),
    Column("date", "Date", ("date de sortie", "date de la sortie")),
)


#: How big an outcomes file may be; a larger one is refused before any cell is read.
OUTCOMES_LIMITS = ImportLimits(
    max_bytes=20_000_000,
    max_rows=50_000,
    advice="découpez-le, par exemple un fichier par lot",
)


@dataclass(frozen=True)
class _Row:
    line: int
    participant: Participant
    clause: Clause
    outcome_type: OutcomeType
    on: date

    @property
    def pair(self) -> tuple[int, int]:
        return (self.participant.id, self.clause.id)


@dataclass
class OutcomesImport:
    source: str
    outcomes: list[RecordedOutcome] = field(default_factory=list)
    warnings: list[FieldError] = field(default_factory=list)
    #: One sentence per closed clause the file records or corrects an outcome on: what that
    #: does to the figures already given (``closed_clause_sentence``), in the file's order.
    closed: list[str] = field(default_factory=list)

    def count(self, change: Change) -> int:
        return sum(1 for o in self.outcomes if o.change is change)

    @property
    def nothing_new(self) -> bool:
        return all(o.change is Change.UNCHANGED for o in self.outcomes)


def _participants(session: Session, table: CsvTable) -> dict[str, Participant]:
    references = {" ".join(row.cells.get("reference", "").split()) for row in table.rows}
    # In chunks: a file may name more people than a database takes values in one ``IN``.
    found = select_in(
        session,
        lambda chunk: select(Participant).where(Participant.reference.in_(chunk)),
        references,
    )
    return {p.reference: p for p in found}


def _read_row(
    reader: RowReader, resolver: Resolver | None, participants: dict[str, Participant]
) -> tuple[tuple[Participant, Clause] | None, _Row | None]:
    """The participant and lot the line names (None when either is refused, or the lot unknown
    without a market column: ``resolver`` None), and the whole line (None when any cell is
    refused)."""
    reference = reader.text("reference", max_length=REFERENCE_MAX)
    participant = participants.get(reference) if reference else None
    if reference and participant is None:
        reader.fail(
            "reference",
            f"participant « {reference} » inconnu : il est créé par sa première déclaration "
            "d'heures.",
        )
    clause = resolver.clause(reader) if resolver is not None else None
    raw_type = reader.raw("type")
    outcome_type = match_outcome_type(raw_type) if raw_type else None
    if not raw_type:
        reader.fail("type", "valeur manquante.")
    elif outcome_type is None:
        reader.fail("type", outcome_type_problem(raw_type))
    on = reader.day("date")
    # A lot that contradicts --clause comes back with that clause: the line is refused, but
    # still checked for a participant named twice on the lot.
    pair = (participant, clause) if participant and clause else None
    if not reader.ok or not (participant and clause and outcome_type and on):
        return pair, None
    return pair, _Row(reader.row.line, participant, clause, outcome_type, on)


def _lock_clauses(session: Session, rows: list[_Row]) -> None:
    """Lock every clause of the file in one statement, by id, and read them afresh."""
    ids = sorted({row.clause.id for row in rows})
    if ids:
        session.scalars(
            select(Clause)
            .where(Clause.id.in_(ids))
            .order_by(Clause.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).all()


def parse_outcomes(
    session: Session,
    table: CsvTable,
    *,
    clause_id: int | None,
    today: date,
    replace: bool,
) -> tuple[list[_Row], dict[tuple[int, int], Known]]:
    """Check every line of an outcomes file against the database; refuse it whole if needed.

    Returns the lines with what the database holds of each, the file's clauses locked."""
    errors: list[FieldError] = []
    # Without the market column every line's lot is unknown: said once, on the header; the
    # other cells and the participants are still checked.
    resolver = None
    if clause_id is None and not table.has("market"):
        errors.append(
            FieldError(1, "N° marché", "colonne manquante (ou indiquez la clause avec --clause).")
        )
    else:
        resolver = Resolver(session, clause_id)
    participants = _participants(session, table)
    rows: list[_Row] = []
    # Each (participant, clause) may have several outcomes, one a day: the lines already read
    # of each pair, by date, so a second situation on one day is refused with the first's line.
    seen: dict[tuple[int, int], dict[date, _Row]] = {}
    named_lines: dict[tuple[int, int], int] = {}
    for csv_row in table.rows:
        reader = RowReader(table, csv_row, errors)
        named, row = _read_row(reader, resolver, participants)
        if named is None:
            continue
        participant, clause = named
        pair = (participant.id, clause.id)
        if replace and pair in named_lines:
            # --replace corrects the pair's only outcome: two lines could not both be it.
            reader.fail(
                "reference",
                f"participant « {participant.reference} » : même clause déjà indiquée ligne "
                f"{named_lines[pair]} ; avec --replace, une seule ligne par participant et par "
                "clause (elle corrige sa sortie).",
            )
            continue
        named_lines.setdefault(pair, csv_row.line)
        if row is None:
            continue
        earlier = seen.setdefault(pair, {}).get(row.on)
        if earlier is not None and earlier.outcome_type is row.outcome_type:
            continue  # the very same outcome twice: recorded once, as a re-import would
        if earlier is not None:
            reader.fail(
                "type",
                f"participant « {participant.reference} » : une autre sortie de la même clause "
                f"le {row.on:%d/%m/%Y} est déjà indiquée ligne {earlier.line} "
                f"({earlier.outcome_type.label}) : une seule situation par jour.",
            )
            continue
        seen[pair][row.on] = row
        rows.append(row)
    _lock_clauses(session, rows)
    known = known_of_pairs(session, {row.pair: row.line for row in rows})
    for row in rows:
        for problem in outcome_problems(
            session,
            row.participant,
            row.clause,
            row.outcome_type,
            row.on,
            today=today,
            replace=replace,
            known=known[row.pair],
        ):
            errors.append(FieldError(row.line, None, problem))
    if errors:
        raise FileRefused(table.source, table.in_order(errors))
    return rows, known


def import_outcomes_file(
    session: Session,
    path: Path,
    *,
    actor: str,
    now: datetime,
    zone: ZoneInfo,
    clause_id: int | None = None,
    replace: bool = False,
    groups: Mapping[str, str] | None = None,
    limits: ImportLimits = OUTCOMES_LIMITS,
) -> OutcomesImport:
    """Record every outcome the file holds, or nothing at all; ``groups`` is the
    ``outcome_groups`` setting (the group stored and said is the one in force)."""
    today = local_date(require_aware(now), zone)
    table = read_table(path, OUTCOME_COLUMNS, limits=limits)
    rows, known = parse_outcomes(session, table, clause_id=clause_id, today=today, replace=replace)
    # The file's closed clauses, read before anything is written (as locked): no question more
    # for a file on open clauses.
    closed: dict[int, Clause] = {}
    for row in rows:
        if Stage(row.clause.stage) is Stage.CLOSED:
            closed.setdefault(row.clause.id, row.clause)
    written = [
        write_outcome(
            session,
            row.participant,
            row.clause,
            row.outcome_type,
            row.on,
            existing=known[row.pair].existing,
            replace=replace,
            actor=actor,
            now=now,
            groups=groups,
        )
        for row in rows
    ]
    session.flush()
    recorded = [w.recorded() for w in written]
    # The closed clauses the file changes an outcome on, each said once, in the file's order.
    changed = {o.clause_id for o in recorded if o.change is not Change.UNCHANGED}
    return OutcomesImport(
        source=table.source,
        outcomes=recorded,
        warnings=list(table.warnings),
        closed=[
            closed_clause_sentence(session, clause, zone)
            for clause_id, clause in closed.items()
            if clause_id in changed
        ],
    )


def closed_clause_sentence(session: Session, clause: Clause, zone: ZoneInfo) -> str:
    """« Clause n° 12 (marché 2026-014 lot 01 – Gros œuvre) clôturée : ses sorties comptent
    dans les synthèses mensuelles et le bilan annuel de leur date ; le bilan de l'opération
    adressé au donneur d'ordre le 02/12/2026 n'est pas modifié. », as ``participant outcome``
    says it of one outcome (``outcomes.closed_note``): closing took the report's last version,
    never sent again."""
    said = (
        f"{clause.label} clôturée : ses sorties comptent dans les synthèses mensuelles et le "
        "bilan annuel de leur date"
    )
    return said + report_unchanged(session, clause, zone)
