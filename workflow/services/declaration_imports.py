"""Importing a company's monthly declarations from the CSV a facilitator receives.

The whole file is read and every line checked first (cells, SIRET, market and lot, participants,
and whether each company x lot x month may be declared); any problem refuses the file as a whole
with the line and column of each error. Then each company x lot x month found in the file is
recorded through ``record_declaration`` in the caller's single transaction.

The optional "Sexe" and "Année de naissance" columns describe the participant, not the month: they
fill those fields of a participant created by the file, and of a known one only where empty. A value
that contradicts the one recorded, or another line of the file, refuses the file.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflow.adapters.csv_files import Column, CsvTable, RowReader, parse_siret, read_csv
from workflow.adapters.orm import Clause, Company, Market, Participant
from workflow.domain.events import require_aware
from workflow.domain.participants import birth_year_problem, parse_birth_year, parse_sex
from workflow.domain.vocabulary import (
    CONTRACT_ALIASES,
    CONTRACT_LABELS,
    CRITERION_ALIASES,
    CRITERION_LABELS,
    DELIVERY_MODE_ALIASES,
    DELIVERY_MODE_LABELS,
    ContractType,
    Criterion,
    DeliveryMode,
    Sex,
    normalise,
)
from workflow.errors import FieldError, FileRefused, InputRefused
from workflow.services.clauses import Publish, get_clause
from workflow.services.declarations import (
    LineInput,
    clause_ref,
    declaration_problems,
    find_declaration,
    hours_problem,
    record_declaration,
)
from workflow.services.imports import LOT_ALIASES, MARKET_ALIASES, lot_key
from workflow.services.participants import REFERENCE_MAX, get_or_create_participant


def _key(text: str) -> str:
    return normalise(text)


DECLARATION_COLUMNS = (
    Column("siret", "SIRET", ("n° siret", "numéro siret", "siret de l'entreprise")),
    Column("company", "Entreprise", ("raison sociale", "nom de l'entreprise"), required=False),
    Column("market", "N° marché", MARKET_ALIASES, required=False),
    Column("lot", "Lot", LOT_ALIASES, required=False),
    Column("month", "Mois", ("mois déclaré", "période", "mois de réalisation")),
    Column(
        "reference",
        "Référence participant",
        ("participant", "référence", "réf. participant", "référence du participant"),
    ),
    Column(
        "criterion",
        "Critère d'éligibilité",
        ("critère", "public", "public éligible", "critère d'éligibilité du participant"),
        required=False,
    ),
    Column("contract", "Type de contrat", ("contrat", "nature du contrat")),
    Column(
        "mode",
        "Modalité de réalisation",
        ("modalité", "modalités de réalisation", "mode de réalisation"),
    ),
    Column("hours", "Heures", ("heures réalisées", "nombre d'heures", "heures d'insertion")),
    Column("sex", "Sexe", ("genre",), required=False),
    Column("birth_year", "Année de naissance", ("année naissance", "naissance"), required=False),
)


@dataclass(frozen=True)
class _Line:
    line: int
    reference: str
    criterion: Criterion | None
    sex: Sex | None
    birth_year: int | None
    hours: Decimal
    mode: DeliveryMode
    contract: ContractType


@dataclass
class _Group:
    clause: Clause
    company: Company
    month: date
    first_line: int
    lines: list[_Line] = field(default_factory=list)


@dataclass(frozen=True)
class DeclarationSummary:
    declaration_id: int
    clause_id: int
    clause_label: str
    company_id: int
    company: str
    month: date
    total_hours: Decimal
    lines: int
    participants_at_zero: int
    new_participants: tuple[str, ...]
    completed_participants: tuple[str, ...]  # known ones whose empty sex or birth year was filled
    criteria: dict[str, int]  # criterion -> participants
    delivery_modes: dict[str, Decimal]  # delivery mode -> hours
    replaced: bool


@dataclass
class DeclarationImport:
    source: str
    declarations: list[DeclarationSummary] = field(default_factory=list)
    warnings: list[FieldError] = field(default_factory=list)


class Resolver:
    """Companies by SIRET and lots by market reference and lot number, each looked up once."""

    def __init__(self, session: Session, clause_id: int | None) -> None:
        self.session = session
        self.fixed = get_clause(session, clause_id) if clause_id is not None else None
        self.companies: dict[str, Company | None] = {}
        self.clauses: dict[tuple[str, str], Clause | str] = {}

    def company(self, reader: RowReader) -> Company | None:
        raw = reader.raw("siret")
        siret = parse_siret(raw)
        if siret is None:
            reader.fail("siret", f"« {raw} » n'est pas un SIRET valide (14 chiffres, clé Luhn).")
            return None
        if siret not in self.companies:
            self.companies[siret] = self.session.scalar(
                select(Company).where(Company.siret == siret)
            )
        found = self.companies[siret]
        if found is None:
            reader.fail(
                "siret",
                f"aucune entreprise enregistrée avec le SIRET {siret} : ajoutez-la d'abord.",
            )
        return found

    def clause(self, reader: RowReader) -> Clause | None:
        market = " ".join(reader.raw("market").split())
        lot = " ".join(reader.raw("lot").split())
        if self.fixed is not None:
            return self._check_fixed(reader, self.fixed, market, lot)
        if not market:
            reader.fail("market", "valeur manquante (ou indiquez la clause avec --clause).")
            return None
        key = (_key(market), lot_key(lot))
        if key not in self.clauses:
            self.clauses[key] = self._find(market, lot)
        found = self.clauses[key]
        if isinstance(found, str):
            reader.fail("lot" if found.startswith("le marché") else "market", found)
            return None
        return found

    def _check_fixed(self, reader: RowReader, clause: Clause, market: str, lot: str) -> Clause:
        if market and _key(market) != _key(clause.market.reference):
            reader.fail(
                "market",
                f"« {market} » ne correspond pas à {clause_ref(clause)} (option --clause).",
            )
        elif lot and lot_key(lot) != lot_key(clause.lot_number):
            reader.fail(
                "lot", f"« {lot} » ne correspond pas à {clause_ref(clause)} (option --clause)."
            )
        return clause

    def _find(self, market: str, lot: str) -> Clause | str:
        """The clause, or the French reason it cannot be chosen."""
        # lower() in SQL narrows the search; the forgiving comparison is then done here.
        markets = self.session.scalars(
            select(Market).where(func.lower(Market.reference) == market.lower())
        )
        candidates = [c for m in markets if _key(m.reference) == _key(market) for c in m.clauses]
        if not candidates:
            return f"aucun marché enregistré sous la référence « {market} »."
        if len({c.market_id for c in candidates}) > 1:
            return f"plusieurs marchés portent la référence « {market} » : indiquez --clause."
        lots = ", ".join(c.lot_number or "(unique)" for c in candidates)
        if lot:
            matching = [c for c in candidates if lot_key(c.lot_number) == lot_key(lot)]
            if not matching:
                return f"le marché {market} n'a pas de lot « {lot} » ; lots connus : {lots}."
            return matching[0]
        if len(candidates) > 1:
            return f"le marché {market} compte plusieurs lots ({lots}) : indiquez le lot."
        return candidates[0]


def _parse_sex(reader: RowReader) -> Sex | None:
    raw = reader.raw("sex")
    if not raw:
        return None
    sex = parse_sex(raw)
    if sex is None:
        reader.fail("sex", f"« {raw} » : indiquez F ou M (Femme, Homme ou H sont compris).")
    return sex


def _parse_birth_year(reader: RowReader, now: datetime) -> int | None:
    raw = reader.raw("birth_year")
    if not raw:
        return None
    year = parse_birth_year(raw)
    if year is None:
        reader.fail("birth_year", f"« {raw} » : indiquez l'année sur 4 chiffres (ex. 1987).")
        return None
    if problem := birth_year_problem(year, now.year):
        reader.fail("birth_year", f"« {raw} » : {problem}")
        return None
    return year


def _parse_declaration_line(reader: RowReader, now: datetime) -> _Line | None:
    reference = reader.text("reference", max_length=REFERENCE_MAX)
    criterion = reader.choice("criterion", CRITERION_LABELS, CRITERION_ALIASES, required=False)
    contract = reader.choice("contract", CONTRACT_LABELS, CONTRACT_ALIASES)
    mode = reader.choice("mode", DELIVERY_MODE_LABELS, DELIVERY_MODE_ALIASES)
    hours = reader.decimal("hours")
    if hours is not None and (problem := hours_problem(hours)):
        reader.fail("hours", problem)
    sex = _parse_sex(reader)
    birth_year = _parse_birth_year(reader, now)
    if not reader.ok:
        return None
    assert reference and contract and mode and hours is not None
    return _Line(reader.row.line, reference, criterion, sex, birth_year, hours, mode, contract)


def _check_participants(
    session: Session, table: CsvTable, groups: Sequence[_Group], errors: list[FieldError]
) -> list[FieldError]:
    """New participants need a criterion; a different criterion for a known one is a warning."""
    references = {line.reference for group in groups for line in group.lines}
    known = {
        p.reference: p
        for p in session.scalars(select(Participant).where(Participant.reference.in_(references)))
    }
    _check_identities(table, groups, known, errors)
    warnings: list[FieldError] = []
    column = table.column_name("criterion")
    for group in groups:
        for line in group.lines:
            participant = known.get(line.reference)
            if participant is None and line.criterion is None:
                errors.append(
                    FieldError(
                        line.line,
                        column,
                        f"participant « {line.reference} » inconnu : son critère d'éligibilité "
                        "est nécessaire pour le créer.",
                    )
                )
            elif participant and line.criterion and line.criterion.value != participant.criterion:
                warnings.append(
                    FieldError(
                        line.line,
                        column,
                        f"participant « {line.reference} » : le critère enregistré "
                        f"(« {CRITERION_LABELS[Criterion(participant.criterion)]} ») est conservé.",
                    )
                )
    return warnings


#: The participant's own fields a line may carry: key, French name, option of ``participant set``.
_IDENTITY_FIELDS = (("sex", "sexe", "--sex"), ("birth_year", "année de naissance", "--birth-year"))


def _identity(line: _Line, key: str) -> Sex | int | None:
    return line.sex if key == "sex" else line.birth_year


def _recorded(participant: Participant | None, key: str) -> str | int | None:
    if participant is None:
        return None
    return participant.sex if key == "sex" else participant.birth_year


def _check_identities(
    table: CsvTable,
    groups: Sequence[_Group],
    known: dict[str, Participant],
    errors: list[FieldError],
) -> None:
    """One sex and birth year per participant, agreeing with what is recorded; then every line
    of a participant carries the file's values, so whichever group comes first fills them."""
    lines = sorted((line for group in groups for line in group.lines), key=lambda ln: ln.line)
    first: dict[tuple[str, str], tuple[Sex | int, int]] = {}
    for line in lines:
        for key, label, option in _IDENTITY_FIELDS:
            value = _identity(line, key)
            if value is None:
                continue
            reference = line.reference
            earlier = first.setdefault((reference, key), (value, line.line))
            recorded = _recorded(known.get(reference), key)
            if earlier[0] != value:
                problem = (
                    f"participant « {reference} » : {label} {value} ici mais {earlier[0]} "
                    f"ligne {earlier[1]}."
                )
            elif earlier[1] == line.line and recorded is not None and recorded != value:
                # Said once, on the participant's first line: the later ones repeat it.
                problem = (
                    f"participant « {reference} » enregistré avec {label} {recorded}, le fichier "
                    f"indique {value} : corrigez le fichier, ou d'abord le participant "
                    f"(clauses participant set {reference} {option} {value})."
                )
            else:
                continue
            errors.append(FieldError(line.line, table.column_name(key), problem))
    for group in groups:
        group.lines = [_with_file_identity(line, first) for line in group.lines]


def _with_file_identity(line: _Line, first: dict[tuple[str, str], tuple[Sex | int, int]]) -> _Line:
    sex = first.get((line.reference, "sex"))
    year = first.get((line.reference, "birth_year"))
    return replace(
        line, sex=Sex(str(sex[0])) if sex else None, birth_year=int(year[0]) if year else None
    )


def parse_declarations(
    session: Session,
    table: CsvTable,
    *,
    clause_id: int | None,
    replace: bool,
    now: datetime,
) -> tuple[list[_Group], list[FieldError]]:
    """Check every line and every reference of a declaration file; refuse it whole if needed."""
    errors: list[FieldError] = []
    if clause_id is None and not table.has("market"):
        errors.append(
            FieldError(1, "N° marché", "colonne manquante (ou indiquez la clause avec --clause).")
        )
        raise FileRefused(table.source, errors)
    resolver = Resolver(session, clause_id)
    groups: dict[tuple[int, int, date], _Group] = {}
    seen: dict[tuple[int, int, date, str], int] = {}
    warnings = list(table.warnings)
    named: set[str] = set()
    for row in table.rows:
        reader = RowReader(table, row, errors)
        company = resolver.company(reader)
        clause = resolver.clause(reader)
        month = reader.month("month")
        line = _parse_declaration_line(reader, now)
        if company is None or clause is None or month is None or line is None:
            continue
        given = reader.raw("company")
        if given and _key(given) != _key(company.name) and company.siret not in named:
            named.add(company.siret or "")
            warnings.append(
                FieldError(
                    row.line,
                    table.column_name("company"),
                    f"« {given} » : le SIRET désigne {company.name}, qui est retenue.",
                )
            )
        group_key = (clause.id, company.id, month)
        duplicate = (*group_key, normalise(line.reference))
        if duplicate in seen:
            reader.fail(
                "reference",
                f"participant « {line.reference} » déjà déclaré ligne {seen[duplicate]} pour "
                "ce mois et ce lot.",
            )
            continue
        seen[duplicate] = row.line
        group = groups.setdefault(group_key, _Group(clause, company, month, row.line))
        group.lines.append(line)
    warnings.extend(_check_participants(session, table, list(groups.values()), errors))
    for group in groups.values():
        for problem in declaration_problems(
            session, group.clause, group.company, group.month, now=now, replace=replace
        ):
            errors.append(FieldError(group.first_line, None, problem))
    if errors:
        raise FileRefused(table.source, sorted(errors, key=lambda e: e.line or 0))
    return list(groups.values()), warnings


def _record_group(
    session: Session,
    group: _Group,
    *,
    source: str,
    replace: bool,
    actor: str,
    now: datetime,
    publish: Publish,
) -> DeclarationSummary:
    lines: list[LineInput] = []
    created: list[str] = []
    completed: list[str] = []
    criteria: dict[str, int] = defaultdict(int)
    modes: dict[str, Decimal] = defaultdict(Decimal)
    for line in group.lines:
        participant, is_new = get_or_create_participant(
            session,
            reference=line.reference,
            criterion=line.criterion or Criterion.OTHER_VALIDATED,
            now=now,
            sex=line.sex,
            birth_year=line.birth_year,
        )
        if is_new:
            created.append(participant.reference)
        elif _fill(participant, line):
            completed.append(participant.reference)
        criteria[participant.criterion] += 1
        modes[line.mode.value] += line.hours
        lines.append(LineInput(participant.id, line.hours, line.mode, line.contract))
    replaced = find_declaration(session, group.clause.id, group.company.id, group.month) is not None
    declaration = record_declaration(
        session,
        clause_id=group.clause.id,
        company_id=group.company.id,
        month=group.month,
        lines=lines,
        actor=actor,
        now=now,
        source=source,
        publish=publish,
        replace=replace,
    )
    return DeclarationSummary(
        declaration_id=declaration.id,
        clause_id=group.clause.id,
        clause_label=group.clause.label,
        company_id=group.company.id,
        company=group.company.name,
        month=group.month,
        total_hours=declaration.total_hours,
        lines=len(lines),
        participants_at_zero=sum(1 for line in lines if line.hours == 0),
        new_participants=tuple(created),
        completed_participants=tuple(completed),
        criteria=dict(criteria),
        delivery_modes=dict(modes),
        replaced=replaced,
    )


def _fill(participant: Participant, line: _Line) -> bool:
    """Give a known participant the file's sex and birth year where none is recorded."""
    filled = False
    if participant.sex is None and line.sex is not None:
        participant.sex, filled = line.sex.value, True
    if participant.birth_year is None and line.birth_year is not None:
        participant.birth_year, filled = line.birth_year, True
    return filled


def import_declaration_file(
    session: Session,
    path: Path,
    *,
    actor: str,
    now: datetime,
    publish: Publish,
    clause_id: int | None = None,
    replace: bool = False,
) -> DeclarationImport:
    """Record every company x lot x month the file holds, or nothing at all."""
    require_aware(now)
    table = read_csv(path, DECLARATION_COLUMNS)
    groups, warnings = parse_declarations(
        session, table, clause_id=clause_id, replace=replace, now=now
    )
    result = DeclarationImport(source=table.source, warnings=warnings)
    for group in groups:
        try:
            summary = _record_group(
                session,
                group,
                source=f"fichier {table.source}",
                replace=replace,
                actor=actor,
                now=now,
                publish=publish,
            )
        except InputRefused as exc:
            raise FileRefused(
                table.source, [FieldError(group.first_line, None, exc.message)]
            ) from None
        result.declarations.append(summary)
    return result
