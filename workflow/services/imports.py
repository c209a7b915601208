"""Importing a facilitator's spreadsheets: lots with their clause parameters, monthly declarations.

Both imports read the whole file, check every line and every reference to the database first, and
refuse the file as a whole (``FileRefused``, every error with its line and column, by line then
column) before writing anything; a line is checked for all it can be (a lot named twice even when
its figures are wrong, the other lines even when a calculation column is missing). They then run
inside the caller's single transaction, so a failure half-way leaves nothing behind either.
Importing the same lots twice creates nothing the second time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.csv_files import Column, CsvTable, ImportLimits, RowReader
from workflow.adapters.declaration_columns import LOT_ALIASES, MARKET_ALIASES
from workflow.adapters.orm import Buyer, Clause, Market, Operation
from workflow.adapters.spreadsheets import read_table
from workflow.adapters.templates import french_hours
from workflow.domain.events import require_aware
from workflow.domain.hours import LOW_HOURS_WARNING
from workflow.domain.vocabulary import (
    normalise,
)
from workflow.errors import FieldError, FileRefused, InputRefused
from workflow.services.clauses import ClauseParameters, Publish, create_clause

IMPOSED_REASON = "heures imposées au marché"

LOT_COLUMNS = (
    Column("operation", "Opération", ("nom de l'opération", "chantier")),
    Column("buyer", "Donneur d'ordre", ("acheteur", "maître d'ouvrage", "pouvoir adjudicateur")),
    Column("market", "N° marché", MARKET_ALIASES),
    Column("lot", "Lot", LOT_ALIASES, required=False),
    Column("title", "Intitulé du lot", ("intitulé", "objet", "objet du lot", "libellé du lot")),
    Column("amount", "Montant HT (€)", ("montant", "montant hors taxes"), required=False),
    Column(
        "labour_share",
        "Part main-d'œuvre",
        ("part de main-d'œuvre", "main-d'œuvre", "part mo"),
        required=False,
    ),
    Column("rate", "Taux d'insertion", ("taux",), required=False),
    Column("hourly_cost", "Coût horaire chargé (€)", ("coût horaire",), required=False),
    Column("imposed", "Heures imposées", ("heures imposées au marché",), required=False),
    Column(
        "notification",
        "Notification prévue",
        ("date de notification", "notification", "date de notification prévue"),
        required=False,
    ),
)
_FIGURES = ("amount", "labour_share", "rate", "hourly_cost")

#: How big a lots file may be: a territory's whole catalogue is a few hundred lines; a larger file
#: is refused before any cell is read, like a declaration file.
LOTS_LIMITS = ImportLimits(
    max_bytes=20_000_000,
    max_rows=50_000,
    advice="découpez-le, par exemple un fichier par donneur d'ordre",
)


def lot_key(lot_number: str) -> str:
    """``01`` and ``1`` are the same lot: Excel drops leading zeros when a file is re-saved."""
    text = normalise(lot_number)
    return text.lstrip("0") or ("0" if text else "")


def _key(text: str) -> str:
    return normalise(text)


def guess_buyer_kind(name: str) -> str:
    lowered = normalise(name)
    for prefix, kind in (
        ("departement", "Département"),
        ("region", "Région"),
        ("communaute d'agglomeration", "Communauté d'agglomération"),
        ("communaute de communes", "Communauté de communes"),
        ("commune", "Commune"),
        ("ville", "Commune"),
    ):
        if lowered.startswith(prefix):
            return kind
    return ""


# --- lots ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LotRow:
    """One lot to import, already checked."""

    line: int | None
    buyer: str
    operation: str
    market: str
    lot_number: str
    title: str
    params: ClauseParameters
    planned_notification: date | None = None
    place: str = ""

    @property
    def hours_target(self) -> int | None:
        if self.params.hours_override is not None:
            return self.params.hours_override
        calculation = self.params.calculation()
        return calculation.hours if calculation else None

    @property
    def identity(self) -> tuple[str, str, str, str]:
        return (_key(self.buyer), _key(self.operation), _key(self.market), lot_key(self.lot_number))


@dataclass(frozen=True)
class ImportedLot:
    line: int | None
    clause_id: int
    buyer: str
    operation: str
    market: str
    lot_number: str
    title: str
    hours_computed: int | None
    hours_override: int | None
    created: bool

    @property
    def hours_target(self) -> int | None:
        return self.hours_override if self.hours_override is not None else self.hours_computed


@dataclass
class LotsImport:
    source: str
    lots: list[ImportedLot] = field(default_factory=list)
    created: dict[str, int] = field(
        default_factory=lambda: {"buyers": 0, "operations": 0, "markets": 0, "clauses": 0}
    )
    warnings: list[FieldError] = field(default_factory=list)

    @property
    def nothing_new(self) -> bool:
        return not any(self.created.values())


def _parse_lot(
    reader: RowReader, absent: Sequence[str] = ()
) -> tuple[tuple[str, str, str, str] | None, LotRow | None]:
    """The lot the line names (None when its buyer, operation, market or lot is refused) and
    the whole line (None when any cell is refused). A calculation column in ``absent`` is said
    missing once, on the header: not as a missing value on each line."""
    buyer = reader.text("buyer")
    operation = reader.text("operation")
    market = reader.text("market", max_length=60)
    lot = reader.text("lot", required=False, max_length=20)
    lot_number = lot or ""
    title = reader.text("title")
    imposed = reader.whole("imposed", required=False)
    needed = {key: imposed is None and key not in absent for key in _FIGURES}
    amount = reader.positive("amount", required=needed["amount"])
    share = reader.ratio("labour_share", required=needed["labour_share"])
    rate = reader.ratio("rate", required=needed["rate"])
    cost = reader.positive("hourly_cost", required=needed["hourly_cost"])
    notification = reader.day("notification", required=False)
    identity = None
    if buyer and operation and market and (lot is not None or not reader.raw("lot").strip()):
        identity = (_key(buyer), _key(operation), _key(market), lot_key(lot_number))
    if not reader.ok or (imposed is None and absent):
        return identity, None
    assert buyer and operation and market and title
    params = ClauseParameters(
        amount_excl_tax=amount,
        labour_share=share,
        insertion_rate=rate,
        hourly_cost=cost,
        hours_override=imposed,
        override_reason=IMPOSED_REASON if imposed is not None else None,
    )
    try:
        calculation = params.checked().calculation()
    except InputRefused as exc:
        reader.refuse(None, exc)
        return identity, None
    if calculation is not None and calculation.hours == 0 and imposed is None:
        reader.fail(
            "amount",
            "le calcul donne 0 heure d'insertion : vérifiez les chiffres ou renseignez "
            "« Heures imposées ».",
        )
        return identity, None
    return identity, LotRow(
        line=reader.row.line,
        buyer=buyer,
        operation=operation,
        market=market,
        lot_number=lot_number,
        title=title,
        params=params,
        planned_notification=notification,
    )


def low_hours_warning(row: LotRow) -> FieldError | None:
    target = row.hours_target
    if target is None or target >= LOW_HOURS_WARNING:
        return None
    return FieldError(
        row.line,
        None,
        f"{french_hours(target)} pour « {row.title} », sous les {LOW_HOURS_WARNING} h environ en "
        "dessous desquelles une clause vaut rarement la peine : à vérifier (ce n'est pas un refus).",
    )


def _missing_figures(table: CsvTable) -> list[str]:
    """The columns of the calculation a file lacks while one of its lines needs them: every
    line, without an « Heures imposées » column; else the lines that leave it blank. A renamed
    column is said once, as missing, rather than as a missing value on every line."""
    absent = [key for key in _FIGURES if not table.has(key)]
    if not absent:
        return []
    if table.has("imposed") and all(row.cells.get("imposed") for row in table.rows):
        return []
    return absent


def parse_lots(table: CsvTable) -> tuple[list[LotRow], list[FieldError]]:
    """Check every line of a lots file, each for all it can be checked for (a lot named twice
    whatever its figures); raise ``FileRefused`` listing every error, by line and column."""
    absent = _missing_figures(table)
    errors = [table.missing(key) for key in absent]
    rows: list[LotRow] = []
    seen: dict[tuple[str, str, str, str], int] = {}
    for csv_row in table.rows:
        reader = RowReader(table, csv_row, errors)
        identity, row = _parse_lot(reader, absent)
        if identity is not None:
            if identity in seen:
                reader.fail("lot", f"ce lot figure déjà ligne {seen[identity]}.")
                continue
            seen[identity] = csv_row.line
        if row is not None:
            rows.append(row)
    if errors:
        raise FileRefused(table.source, table.in_order(errors))
    warnings = list(table.warnings)
    warnings.extend(w for row in rows if (w := low_hours_warning(row)))
    return rows, warnings


class _Catalog:
    """Buyers, operations, markets and clauses found or created during one import."""

    def __init__(self, session: Session, now: datetime, result: LotsImport) -> None:
        self.session = session
        self.now = now
        self.result = result
        self.buyers = {_key(b.name): b for b in session.scalars(select(Buyer))}

    def buyer(self, name: str) -> Buyer:
        found = self.buyers.get(_key(name))
        if found is None:
            found = Buyer(name=name, kind=guess_buyer_kind(name), created_at=self.now)
            self.session.add(found)
            self.session.flush()
            self.buyers[_key(name)] = found
            self.result.created["buyers"] += 1
        return found

    def operation(self, buyer: Buyer, name: str, place: str) -> Operation:
        for operation in buyer.operations:
            if _key(operation.name) == _key(name):
                return operation
        operation = Operation(buyer=buyer, name=name, place=place, created_at=self.now)
        self.session.add(operation)
        self.session.flush()
        self.result.created["operations"] += 1
        return operation

    def market(self, operation: Operation, reference: str) -> Market:
        for market in operation.markets:
            if _key(market.reference) == _key(reference):
                return market
        market = Market(operation=operation, reference=reference)
        self.session.add(market)
        self.session.flush()
        self.result.created["markets"] += 1
        return market


def _differs(clause: Clause, row: LotRow) -> bool:
    return clause.hours_target != row.hours_target


def import_lots(
    session: Session,
    rows: Sequence[LotRow],
    *,
    source: str,
    actor: str,
    now: datetime,
    publish: Publish,
    warnings: Sequence[FieldError] = (),
) -> LotsImport:
    """Create what is missing for checked rows; existing clauses are reported, never changed."""
    require_aware(now)
    result = LotsImport(source=source, warnings=list(warnings))
    catalog = _Catalog(session, now, result)
    for row in rows:
        market = catalog.market(
            catalog.operation(catalog.buyer(row.buyer), row.operation, row.place), row.market
        )
        clause = next(
            (c for c in market.clauses if lot_key(c.lot_number) == lot_key(row.lot_number)), None
        )
        created = clause is None
        if clause is None:
            clause = create_clause(
                session,
                market,
                lot_number=row.lot_number,
                lot_title=row.title,
                params=row.params,
                actor=actor,
                now=now,
                publish=publish,
                planned_notification=row.planned_notification,
            )
            result.created["clauses"] += 1
        elif _differs(clause, row):
            result.warnings.append(
                FieldError(
                    row.line,
                    None,
                    f"{clause.label} existe déjà avec {_hours_text(clause.hours_target)} ; le "
                    f"fichier en donne {_hours_text(row.hours_target)}. Rien n'a été modifié.",
                )
            )
        result.lots.append(
            ImportedLot(
                line=row.line,
                clause_id=clause.id,
                buyer=row.buyer,
                operation=row.operation,
                market=row.market,
                lot_number=clause.lot_number,
                title=clause.lot_title,
                hours_computed=clause.hours_computed,
                hours_override=clause.hours_override,
                created=created,
            )
        )
    return result


def _hours_text(hours: int | None) -> str:
    return "des heures à calculer" if hours is None else french_hours(hours)


def import_lots_file(
    session: Session,
    path: Path,
    *,
    actor: str,
    now: datetime,
    publish: Publish,
    limits: ImportLimits = LOTS_LIMITS,
) -> LotsImport:
    """Import a lots file (CSV, .xlsx or .ods: the content decides), or nothing."""
    table = read_table(path, LOT_COLUMNS, limits=limits)
    rows, warnings = parse_lots(table)
    return import_lots(
        session, rows, source=table.source, actor=actor, now=now, publish=publish, warnings=warnings
    )
