"""Importing participants' outcomes ("sorties") from a spreadsheet saved as CSV.

Same rules as the other imports: the whole file is read and every line checked (cells, market and
lot, participant, and whether the outcome may be recorded), any problem refuses the file as a
whole with the line and column of each error, then every line is recorded through
``record_outcome`` in the caller's single transaction. Importing the same file again changes
nothing: each line is then reported as already recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.csv_files import Column, CsvTable, RowReader, read_csv
from workflow.adapters.orm import Clause, Participant
from workflow.domain.outcomes import OutcomeType, match_outcome_type, outcome_type_problem
from workflow.errors import FieldError, FileRefused, InputRefused

# The market and lot lookup of the declaration import, with its French messages.
from workflow.services.declaration_imports import _Resolver
from workflow.services.imports import LOT_ALIASES, MARKET_ALIASES
from workflow.services.outcomes import (
    Change,
    RecordedOutcome,
    local_today,
    outcome_problems,
    record_outcome,
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


@dataclass(frozen=True)
class _Row:
    line: int
    participant: Participant
    clause: Clause
    outcome_type: OutcomeType
    on: date


@dataclass
class OutcomesImport:
    source: str
    outcomes: list[RecordedOutcome] = field(default_factory=list)
    warnings: list[FieldError] = field(default_factory=list)

    def count(self, change: Change) -> int:
        return sum(1 for o in self.outcomes if o.change is change)

    @property
    def nothing_new(self) -> bool:
        return all(o.change is Change.UNCHANGED for o in self.outcomes)


def _participants(session: Session, table: CsvTable) -> dict[str, Participant]:
    references = {" ".join(row.cells.get("reference", "").split()) for row in table.rows}
    found = session.scalars(select(Participant).where(Participant.reference.in_(references)))
    return {p.reference: p for p in found}


def _read_row(
    reader: RowReader, resolver: _Resolver, participants: dict[str, Participant]
) -> _Row | None:
    reference = reader.text("reference", max_length=REFERENCE_MAX)
    participant = participants.get(reference) if reference else None
    if reference and participant is None:
        reader.fail(
            "reference",
            f"participant « {reference} » inconnu : il est créé par sa première déclaration "
            "d'heures.",
        )
    clause = resolver.clause(reader)
    raw_type = reader.raw("type")
    outcome_type = match_outcome_type(raw_type) if raw_type else None
    if not raw_type:
        reader.fail("type", "valeur manquante.")
    elif outcome_type is None:
        reader.fail("type", outcome_type_problem(raw_type))
    on = reader.day("date")
    if participant is None or clause is None or outcome_type is None or on is None:
        return None
    return _Row(reader.row.line, participant, clause, outcome_type, on)


def parse_outcomes(
    session: Session,
    table: CsvTable,
    *,
    clause_id: int | None,
    today: date,
    replace: bool,
) -> list[_Row]:
    """Check every line of an outcomes file against the database; refuse it whole if needed."""
    errors: list[FieldError] = []
    if clause_id is None and not table.has("market"):
        errors.append(
            FieldError(1, "N° marché", "colonne manquante (ou indiquez la clause avec --clause).")
        )
        raise FileRefused(table.source, errors)
    resolver = _Resolver(session, clause_id)
    participants = _participants(session, table)
    rows: list[_Row] = []
    seen: dict[tuple[int, int], int] = {}
    for csv_row in table.rows:
        reader = RowReader(table, csv_row, errors)
        row = _read_row(reader, resolver, participants)
        if row is None:
            continue
        key = (row.participant.id, row.clause.id)
        if key in seen:
            reader.fail(
                "reference",
                f"participant « {row.participant.reference} » : sortie de la même clause déjà "
                f"indiquée ligne {seen[key]} (une sortie par participant et par clause).",
            )
            continue
        seen[key] = row.line
        for problem in outcome_problems(
            session,
            row.participant,
            row.clause,
            row.outcome_type,
            row.on,
            today=today,
            replace=replace,
        ):
            errors.append(FieldError(row.line, None, problem))
        rows.append(row)
    if errors:
        raise FileRefused(table.source, sorted(errors, key=lambda e: e.line or 0))
    return rows


def import_outcomes_file(
    session: Session,
    path: Path,
    *,
    actor: str,
    now: datetime,
    zone: ZoneInfo,
    clause_id: int | None = None,
    replace: bool = False,
) -> OutcomesImport:
    """Record every outcome the file holds, or nothing at all."""
    today = local_today(now, zone)
    table = read_csv(path, OUTCOME_COLUMNS)
    rows = parse_outcomes(session, table, clause_id=clause_id, today=today, replace=replace)
    result = OutcomesImport(source=table.source, warnings=list(table.warnings))
    for row in rows:
        try:
            recorded = record_outcome(
                session,
                reference=row.participant.reference,
                clause_id=row.clause.id,
                outcome_type=row.outcome_type,
                on=row.on,
                actor=actor,
                now=now,
                zone=zone,
                replace=replace,
            )
        except InputRefused as exc:
            raise FileRefused(table.source, [FieldError(row.line, None, exc.message)]) from None
        result.outcomes.append(recorded)
    return result
