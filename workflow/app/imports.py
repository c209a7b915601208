"""Spreadsheets brought in whole or not at all: lots, monthly declarations, outcomes; and the
sample territory.

Each import is one command: the file is read and checked entirely first, then recorded in one
transaction with its history rows and the notices it causes (a declaration's receipt), or
refused with every error named by line and column and nothing written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from workflow.app.lookup import find_clause
from workflow.app.unit import unit_of_work
from workflow.bootstrap import App
from workflow.sample import SampleSummary, load_sample_into
from workflow.services.declaration_imports import DeclarationSummary, import_declaration_file
from workflow.services.imports import ImportedLot, import_lots_file
from workflow.services.outcome_imports import import_outcomes_file
from workflow.services.outcomes import Change, RecordedOutcome

__all__ = [
    "DeclarationsImported",
    "LotsImported",
    "OutcomesImported",
    "import_declarations",
    "import_lots",
    "import_outcomes",
    "load_sample",
]


@dataclass(frozen=True)
class LotsImported:
    source: str
    lots: tuple[ImportedLot, ...]
    #: How many buyers, operations, markets and clauses the file created.
    created: Mapping[str, int]
    warnings: tuple[str, ...]

    @property
    def nothing_new(self) -> bool:
        return not any(self.created.values())


def import_lots(app: App, path: Path, *, actor: str | None = None) -> LotsImported:
    """Import a lots file (CSV, .xlsx or .ods): the buyers, operations, markets and clauses it
    names that do not exist yet; a second import of the same file creates nothing."""
    with unit_of_work(app, actor) as unit:
        result = import_lots_file(
            unit.session, path, actor=unit.actor, now=unit.now, publish=unit.app.publish
        )
    return LotsImported(
        source=result.source,
        lots=tuple(result.lots),
        created=dict(result.created),
        warnings=tuple(str(w) for w in result.warnings),
    )


@dataclass(frozen=True)
class DeclarationsImported:
    source: str
    declarations: tuple[DeclarationSummary, ...]
    warnings: tuple[str, ...]


def import_declarations(
    app: App,
    path: Path,
    *,
    clause: str | int | None = None,
    replace: bool = False,
    actor: str | None = None,
) -> DeclarationsImported:
    """Record every company x lot x month of a declaration file, or nothing; with ``clause``
    (N° or « RÉFÉRENCE/LOT »), every line is about that lot."""
    with unit_of_work(app, actor) as unit:
        clause_id = find_clause(unit.session, clause).id if clause is not None else None
        result = import_declaration_file(
            unit.session,
            path,
            actor=unit.actor,
            now=unit.now,
            publish=unit.app.publish,
            clause_id=clause_id,
            replace=replace,
            zone=app.settings.zone,
        )
    return DeclarationsImported(
        source=result.source,
        declarations=tuple(result.declarations),
        warnings=tuple(str(w) for w in result.warnings),
    )


@dataclass(frozen=True)
class OutcomesImported:
    source: str
    outcomes: tuple[RecordedOutcome, ...]
    warnings: tuple[str, ...]

    def count(self, change: Change) -> int:
        return sum(1 for o in self.outcomes if o.change is change)

    @property
    def nothing_new(self) -> bool:
        return all(o.change is Change.UNCHANGED for o in self.outcomes)


def import_outcomes(
    app: App,
    path: Path,
    *,
    clause: str | int | None = None,
    replace: bool = False,
    actor: str | None = None,
) -> OutcomesImported:
    """Record every outcome of an outcomes file, or nothing; with ``clause``, every line is
    about that lot."""
    with unit_of_work(app, actor) as unit:
        clause_id = find_clause(unit.session, clause).id if clause is not None else None
        result = import_outcomes_file(
            unit.session,
            path,
            actor=unit.actor,
            now=unit.now,
            zone=app.settings.zone,
            clause_id=clause_id,
            replace=replace,
            groups=app.settings.outcome_groups,
        )
    return OutcomesImported(
        source=result.source,
        outcomes=tuple(result.outcomes),
        warnings=tuple(str(w) for w in result.warnings),
    )


def load_sample(app: App, *, actor: str | None = None) -> SampleSummary:
    """Create whatever part of the sample territory is missing (nothing the second time)."""
    with unit_of_work(app, actor) as unit:
        return load_sample_into(
            unit.session, now=unit.now, actor=unit.actor, publish=unit.app.publish
        )
