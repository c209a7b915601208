"""Spreadsheets brought in whole or not at all: lots, monthly declarations, outcomes; and the
sample territory.

Each import is one command: the file is read and checked entirely first, then recorded in one
transaction with its history rows and the notices it causes (a declaration's receipt), or
refused with every error named by line and column and nothing written.

With ``dry_run``, an import is done in full then rolled back: what it returns is what it would
create or change, and its refusal is the one the real import gives (the « Importer un tableau »
page shows it before the facilitator confirms), never a second account of it that could drift.
A file sent from a page is kept under the name it was sent with (``uploaded_file``), so the
import names it as the command line names the file it is given. A dry run that would replace a
month already recorded also says what is recorded now (``DeclarationsImported.replacing``), read
once the run is rolled back: the figures the page shows the facilitator before she confirms.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path, PureWindowsPath
from typing import TypeVar, cast

from sqlalchemy import func, select

from workflow.adapters.orm import Declaration, DeclarationLine
from workflow.app.lookup import find_clause
from workflow.app.unit import Unit, reading, unit_of_work
from workflow.bootstrap import App
from workflow.sample import SampleSummary, load_sample_into
from workflow.services.declaration_imports import (
    BlankMonth,
    DeclarationSummary,
    import_declaration_file,
)
from workflow.services.imports import ImportedLot, import_lots_file
from workflow.services.outcome_imports import import_outcomes_file
from workflow.services.outcomes import Change, RecordedOutcome

__all__ = [
    "DeclarationsImported",
    "LotsImported",
    "OutcomesImported",
    "RecordedDeclaration",
    "import_declarations",
    "import_lots",
    "import_outcomes",
    "load_sample",
    "uploaded_file",
]

T = TypeVar("T")


class _Undone(Exception):
    """Carries a dry run's result out of the transaction it rolls back."""

    def __init__(self, value: object) -> None:
        super().__init__("dry run undone")
        self.value = value


def _run(app: App, actor: str | None, dry_run: bool, work: Callable[[Unit], T]) -> T:
    """``work`` in one unit of work: committed, or with ``dry_run`` rolled back as a whole
    (the notices it queued too) once its result is known."""
    try:
        with unit_of_work(app, actor) as unit:
            value = work(unit)
            if dry_run:
                raise _Undone(value)
    except _Undone as undone:
        return cast(T, undone.value)
    return value


#: The longest name a sent file keeps: a declaration keeps it (200 characters at most), and a
#: name of accented letters must stay within what a file system takes (255 bytes).
MAX_NAME = 100


#: What every usual file system takes in a file's name, in bytes (UTF-8), with room to spare.
MAX_NAME_BYTES = 200


def file_name(sent: str | None) -> str:
    """The name a browser sent a file under, without any folder (``C:\\Users\\…\\lots.csv`` ->
    ``lots.csv``) nor control characters; ``fichier`` when it sends none."""
    name = PureWindowsPath((sent or "").replace("/", "\\")).name
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip().lstrip(".")
    if len(name) > MAX_NAME:
        stem, dot, suffix = name.rpartition(".")
        short = dot and len(suffix) <= 5
        name = f"{stem[: MAX_NAME - 6]}.{suffix}" if short else name[:MAX_NAME]
    # A file system takes 255 bytes a name, not characters: 100 characters of Chinese or Greek
    # are up to 300 bytes. Shortened by whole characters until it fits.
    while len(name.encode()) > MAX_NAME_BYTES:
        stem, dot, suffix = name.rpartition(".")
        name = f"{stem[:-1]}.{suffix}" if dot and len(suffix) <= 5 and stem else name[:-1]
    return name or "fichier"


@contextmanager
def uploaded_file(name: str | None, content: bytes) -> Iterator[Path]:
    """``content`` as a file named as it was sent, in a folder of its own removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="clauses-import-") as folder:
        path = Path(folder) / file_name(name)
        path.write_bytes(content)
        yield path


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


def import_lots(
    app: App, path: Path, *, actor: str | None = None, dry_run: bool = False
) -> LotsImported:
    """Import a lots file (CSV, .xlsx or .ods): the buyers, operations, markets and clauses it
    names that do not exist yet; a second import of the same file creates nothing. With
    ``dry_run``, what it would create, nothing kept (a clause to create has no N° yet)."""

    def work(unit: Unit) -> LotsImported:
        result = import_lots_file(
            unit.session, path, actor=unit.actor, now=unit.now, publish=unit.app.publish
        )
        return LotsImported(
            source=result.source,
            lots=tuple(result.lots),
            created=dict(result.created),
            warnings=tuple(str(w) for w in result.warnings),
        )

    return _run(app, actor, dry_run, work)


@dataclass(frozen=True)
class RecordedDeclaration:
    """A month as it is recorded, before an import replaces it."""

    total_hours: Decimal
    lines: int
    #: When and by whom it was recorded, in the territory's time zone.
    recorded_at: datetime
    recorded_by: str
    validated_at: datetime | None
    validated_by: str | None


@dataclass(frozen=True)
class DeclarationsImported:
    source: str
    declarations: tuple[DeclarationSummary, ...]
    warnings: tuple[str, ...]
    #: With ``dry_run``: what each declaration the import would replace holds now, by its N°.
    replacing: Mapping[int, RecordedDeclaration] = field(default_factory=dict)
    #: The months of the file left blank, which it does not declare (``BlankMonth``).
    blank_months: tuple[BlankMonth, ...] = ()


def recorded_declarations(app: App, ids: Sequence[int]) -> dict[int, RecordedDeclaration]:
    """The declarations ``ids`` as they are recorded (one that is gone is left out)."""
    if not ids:
        return {}
    zone = app.settings.zone
    with reading(app) as session:
        counts: dict[int, int] = {
            declaration_id: count
            for declaration_id, count in session.execute(
                select(DeclarationLine.declaration_id, func.count())
                .where(DeclarationLine.declaration_id.in_(ids))
                .group_by(DeclarationLine.declaration_id)
            )
        }
        return {
            d.id: RecordedDeclaration(
                total_hours=d.total_hours,
                lines=counts.get(d.id, 0),
                recorded_at=d.recorded_at.astimezone(zone),
                recorded_by=d.recorded_by,
                validated_at=d.validated_at.astimezone(zone) if d.validated_at else None,
                validated_by=d.validated_by,
            )
            for d in session.scalars(select(Declaration).where(Declaration.id.in_(ids)))
        }


def import_declarations(
    app: App,
    path: Path,
    *,
    clause: str | int | None = None,
    replace: bool = False,
    actor: str | None = None,
    dry_run: bool = False,
    reason: str | None = None,
) -> DeclarationsImported:
    """Record every company x lot x month of a declaration file, or nothing; with ``clause``
    (N° or « RÉFÉRENCE/LOT »), every line is about that lot. With ``dry_run``, what it would
    record, nothing kept (no receipt queued either).

    With ``replace``, a month recorded before that the file changes is a correction: refused
    without ``reason``, which its history row keeps (« (remplace 120 h, motif : …) »); each
    summary says what it replaced (``DeclarationSummary.replaced_hours`` …)."""

    def work(unit: Unit) -> DeclarationsImported:
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
            reason=reason,
        )
        return DeclarationsImported(
            source=result.source,
            declarations=tuple(result.declarations),
            warnings=tuple(str(w) for w in result.warnings),
            blank_months=tuple(result.blank_months),
        )

    imported = _run(app, actor, dry_run, work)
    if not dry_run:
        return imported
    # Rolled back: the months it would replace read as they are recorded.
    ids = [d.declaration_id for d in imported.declarations if d.replaced]
    return dataclasses.replace(imported, replacing=recorded_declarations(app, ids))


@dataclass(frozen=True)
class OutcomesImported:
    source: str
    outcomes: tuple[RecordedOutcome, ...]
    warnings: tuple[str, ...]
    #: One sentence per closed clause an outcome is recorded or corrected on: its final report
    #: already sent is not modified (``outcome_imports.closed_clause_sentence``).
    closed: tuple[str, ...] = ()

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
    dry_run: bool = False,
) -> OutcomesImported:
    """Record every outcome of an outcomes file, or nothing; with ``clause``, every line is
    about that lot. With ``dry_run``, what it would record or correct, nothing kept."""

    def work(unit: Unit) -> OutcomesImported:
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
            closed=tuple(result.closed),
        )

    return _run(app, actor, dry_run, work)


def load_sample(app: App, *, actor: str | None = None) -> SampleSummary:
    """Create whatever part of the sample territory is missing (nothing the second time)."""
    with unit_of_work(app, actor) as unit:
        return load_sample_into(
            unit.session, now=unit.now, actor=unit.actor, publish=unit.app.publish
        )
