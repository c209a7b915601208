"""Importing a company's monthly declarations from the CSV a facilitator receives.

The whole file is read and every line checked first (cells, SIRET, market and lot, participants,
and whether each company x lot x month may be declared), each check on every line it can be made
on: a line whose hours are wrong still has its participant checked, a month one of whose lines is
wrong is still checked, and a correction without its reason is said with the rest. Any problem
refuses the file as a whole, all of them listed by line then column (``CsvTable.in_order``).
Then each company x lot x month found in the file is recorded through ``record_counting`` in the
caller's single transaction; each says which of the lot's outcomes it took out of the figures or
put back (a correction can take a participant's last hours on the lot).

With ``replace``, a month already recorded that the file changes is a correction: it takes the
facilitator's reason (``reason``), kept in its history row as ``declaration zero --replace``
keeps it (« (remplace 120 h, motif : …) »). Without one the file is refused whole, each month
it would correct named; a month the file gives exactly as recorded changes nothing and needs none.

The optional "Sexe" and "Année de naissance" columns describe the participant, not the month: they
fill those fields of a participant created by the file, and of a known one only where empty. A value
that contradicts the one recorded, or another line of the file, refuses the file.

A month nobody worked on the lot is said in the template itself: a line of that month with no
participant (no reference, criterion, contract, mode, sex or birth year) and 0 in « Heures »
(``no_hours_line``) records it at zero hours, as ``declaration zero`` does; beside lines with
participants it adds nothing. A month of the template whose lines are all left blank is not
declared, and the result names it (``BlankMonth``): the company and the facilitator read that
it is still owed, rather than nothing at all (user trial: October left blank was silently
dropped, and kept being reminded).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from workflow.adapters.batching import select_in
from workflow.adapters.csv_files import CsvRow, CsvTable, ImportLimits, RowReader, parse_siret
from workflow.adapters.declaration_columns import DECLARATION_COLUMNS
from workflow.adapters.orm import (
    Clause,
    ClauseHistory,
    Company,
    Declaration,
    DeclarationLine,
    Market,
    Participant,
)
from workflow.adapters.search_text import search_text
from workflow.adapters.spreadsheets import read_table
from workflow.adapters.templates import french_date, french_hours, french_month
from workflow.domain.calendar import month_start
from workflow.domain.characters import normalized
from workflow.domain.choices import CONTRACTS, CRITERIA, DELIVERY_MODES
from workflow.domain.events import DomainEvent, require_aware
from workflow.domain.participants import birth_year_problem, parse_birth_year, parse_sex, worked
from workflow.domain.vocabulary import (
    CRITERION_LABELS,
    ContractType,
    Criterion,
    DeliveryMode,
    Sex,
    normalise,
)
from workflow.emails.late_declarations import participants_phrase
from workflow.emails.phrases import month_phrase
from workflow.errors import FieldError, FileRefused, Hint, InputRefused
from workflow.services.clauses import Publish, get_clause
from workflow.services.declarations import (
    DEFAULT_ZONE,
    LineInput,
    MonthProblem,
    clause_ref,
    column_problems,
    find_declaration,
    first_month_note,
    grouped,
    history_motif,
    hours_problem,
    last_month_note,
    record_counting,
    same_lines,
)
from workflow.services.imports import lot_key
from workflow.services.months_owed import owed_up_to
from workflow.services.outcome_counts import (
    CountChange,
    UncountedOutcome,
    count_change,
    count_sentences,
    counted_outcomes,
)
from workflow.services.participants import REFERENCE_MAX, new_reference_problem


def _key(text: str) -> str:
    return normalise(text)


def _name_key(name: str) -> str:
    """A company's name as the « Entreprise » column is matched: case, accents, apostrophes
    (’ typed for '), dashes and spaces do not count, as in the search (``search_text``)."""
    return normalized(name)


#: The cells that describe a person's month; a line with none of them is a template line the
#: company did not use (only the lot's columns are filled): it is skipped, not refused.
PERSON_KEYS = ("reference", "criterion", "contract", "mode", "hours", "sex", "birth_year")

#: How a template says that nobody worked on the lot in a month: what the emails sent with it
#: tell (``templates/emails/_base/declaration_howto``) and what a refusal reminds.
NO_HOURS_HOWTO = (
    "si personne n'a travaillé sur le lot un mois, inscrivez 0 dans « Heures » sur une ligne de "
    "ce mois, sans référence de participant"
)


def no_hours_line(table: CsvTable, row: CsvRow) -> bool:
    """A line that says « aucune heure ce mois-là »: 0 in « Heures » (« 0 », « 0,00 », « 0 h »)
    and no cell about a person. A line with a participant and 0 h is that person's month."""
    if any(row.cells.get(key) for key in PERSON_KEYS if key != "hours"):
        return False
    if not row.cells.get("hours"):
        return False
    hours = RowReader(table, row, []).hours("hours")
    return hours is not None and hours == 0


#: How big a declaration file may be: a national-scale month (10^6 lines a year over ~5·10^4
#: companies) is far below; a larger file is refused before any cell is read.
DECLARATION_LIMITS = ImportLimits(
    max_bytes=20_000_000,
    max_rows=50_000,
    advice="découpez-le, par exemple un fichier par lot ou par mois",
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


@dataclass(frozen=True)
class _Person:
    """What a line says of its participant, read even when the line's other cells are wrong
    (hours, SIRET, month…): the participant checks then speak of every line in the same
    refusal as the cells."""

    line: int
    reference: str
    criterion: Criterion | None
    sex: Sex | None
    birth_year: int | None
    #: Its criterion cell is filled, recognised or not (one not recognised is refused there).
    criterion_written: bool


@dataclass
class _Group:
    clause: Clause
    company: Company
    month: date
    first_line: int
    lines: list[_Line] = field(default_factory=list)
    #: False when one of its lines is refused: what the file gives for the month is then unknown.
    complete: bool = True
    #: The lines saying « aucune heure ce mois-là » (``no_hours_line``): with no participant line
    #: the month is recorded at zero hours; beside participant lines they add nothing.
    no_hours_lines: list[int] = field(default_factory=list)

    @property
    def at_zero(self) -> bool:
        """The month is declared with no hours at all, by a « 0 » line and no participant."""
        return not self.lines and bool(self.no_hours_lines)


@dataclass(frozen=True)
class BlankMonth:
    """A company x lot x month of the file whose lines are all left blank: not declared by it.

    ``said``: what the company and the facilitator read of it (« octobre 2026 : aucune ligne,
    pas déclaré ; toujours attendu (…) »)."""

    clause_id: int
    clause_label: str
    company_id: int
    company: str
    month: date
    #: The file's first line of that month.
    first_line: int
    #: The month is owed by the company (``months_owed.owed_up_to``): it will be asked again.
    owed: bool
    #: A declaration recorded before for the month, which the file leaves as it is.
    recorded_at: datetime | None = None
    recorded_hours: Decimal | None = None
    said: str = ""


@dataclass
class _Parsed:
    """A declaration file read and checked: every problem found in ``errors``, none raised."""

    groups: list[_Group]
    warnings: list[FieldError]
    known: dict[str, Participant]
    errors: list[FieldError]
    #: Every line found its company, lot and month (so each month's lines are all known).
    all_placed: bool
    #: The company x lot x months the file holds only blank lines for, by their first line.
    blank: list[tuple[Clause, Company, date, int]] = field(default_factory=list)


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
    #: Criterion -> participants who worked that month (``participants.worked``): the same
    #: rule as « 3 participants ayant travaillé », so the two counts of the output agree.
    criteria: dict[str, int]
    delivery_modes: dict[str, Decimal]  # delivery mode -> hours
    replaced: bool
    #: When the file gives, with ``--replace``, exactly the lines already recorded: the instant
    #: they were recorded. Nothing is written for it (no history, no receipt, a validation kept).
    unchanged_since: datetime | None = None
    #: The lot's outcomes this month took out of the figures (a correction without their
    #: participant's last hours on the lot) or put back (hours declared again).
    counts: CountChange = field(default_factory=CountChange)
    #: When ``replaced``, the declaration it replaced: its hours, its lines and when it was
    #: recorded (aware); and the reason of the correction as the history row keeps it.
    replaced_hours: Decimal | None = None
    replaced_lines: int | None = None
    #: Of those lines, the ones at 0 h (participants who did not work that month).
    replaced_at_zero: int | None = None
    replaced_recorded_at: datetime | None = None
    reason: str | None = None
    #: Criterion -> participants declared at 0 h that month (kept on the company's list,
    #: no work): said apart, never among ``criteria``.
    criteria_at_zero: dict[str, int] = field(default_factory=dict)

    @property
    def unchanged(self) -> bool:
        return self.unchanged_since is not None

    @property
    def counts_said(self) -> str | None:
        """« 1 sortie (P-0007, CDI) n'est plus comptée … » (``count_sentences``), or None."""
        return count_sentences(self.counts)

    @property
    def at_zero(self) -> bool:
        """The month is declared with no hours and no participant (``declaration zero``)."""
        return self.lines == 0

    @property
    def participants_worked(self) -> int:
        """The participants with hours that month: one at 0 h did not work on the lot then."""
        return self.lines - self.participants_at_zero

    @property
    def participants_said(self) -> str:
        """« 3 participants ayant travaillé (1 autre déclaré à 0 h) »: the words of the buyer's
        notice of a late month (``emails.late_declarations.participants_phrase``)."""
        return participants_phrase(self.participants_worked, self.participants_at_zero)

    @property
    def replaced_said(self) -> str | None:
        """The participants of the declaration it replaced, in the same words; None when it
        replaced none."""
        if self.replaced_lines is None:
            return None
        at_zero = self.replaced_at_zero or 0
        return participants_phrase(self.replaced_lines - at_zero, at_zero)


@dataclass
class DeclarationImport:
    source: str
    declarations: list[DeclarationSummary] = field(default_factory=list)
    warnings: list[FieldError] = field(default_factory=list)
    #: The months of the file left blank, not declared by it (``BlankMonth``).
    blank_months: list[BlankMonth] = field(default_factory=list)


#: What a company sending its file from its page reads when the SIRET it typed is not the one
#: recorded for it: its link declares for it alone, and the template's own cell is accepted.
NOT_YOUR_SIRET = (
    "ce SIRET n'est pas celui de votre entreprise : ce lien ne permet de déclarer que pour elle. "
    "Corrigez le SIRET, ou laissez la colonne telle que le modèle la donne."
)


def lot_for_company(clause: Clause) -> str:
    """A lot as its company reads it, with no clause number (the service's own), after « le »
    or « du »: « lot 01 (marché 2026-014 – Gros œuvre – maçonnerie) », « marché 2026-020
    (Voirie) » for a market of one lot."""
    market = clause.market.reference
    if clause.lot_number:
        return f"lot {clause.lot_number} (marché {market} – {clause.lot_title})"
    return f"marché {market} ({clause.lot_title})"


def link_lot_problem(clause: Clause, declared: str) -> str:
    """Why a line of another market or lot is refused on a company's link: what the file
    declares (« le lot 02 »), what the link declares, and what to do."""
    return (
        f"ce fichier déclare {declared} ; ce lien sert à déclarer le {lot_for_company(clause)}. "
        f"Déposez ce fichier depuis le lien reçu pour {declared}, ou corrigez la colonne."
    )


def month_problem_for_company(problem: MonthProblem, clause: Clause, month: date) -> str:
    """A month's problem (``column_problems``) as the company's page says it: a month before
    the lot's start or after its end said from the lot's dates, and the lot named by its number
    in the others, never by the service's clause number (user trial: « la clause n° 2 (marché
    … lot 02 – …) (01/06/2026) »). In lower case, as it follows « ligne 5, colonne « Mois » : »."""
    lot = lot_for_company(clause)
    start, end = clause.start_date, clause.end_date
    declared = f"ce fichier déclare le mois {month_phrase(month)}"
    put_right = "retirez les lignes de ce mois, ou corrigez leur mois."
    said = problem.message
    if problem.key == "month" and start and month < month_start(start) and "démarrage" in said:
        return f"{declared}, avant le démarrage du {lot}, le {french_date(start)} : {put_right}"
    if problem.key == "month" and end and month > month_start(end) and "fin d'exécution" in said:
        return f"{declared}, après la fin d'exécution du {lot}, le {french_date(end)} : {put_right}"
    ref = clause_ref(clause)
    said = said.replace(f"de {ref}", f"du {lot}").replace(ref, f"le {lot}")
    said = said.replace(clause.label, f"Le {lot}")
    return said[:1].lower() + said[1:]


class Resolver:
    """Companies by SIRET and lots by market reference and lot number, each looked up once.

    A company recorded without a SIRET (``company add`` accepts none) gets a template whose SIRET
    cell is empty: such a line is matched by the « Entreprise » column, else by the lot's only
    company. ``own``: the company a signed link declares for, which every line is about."""

    def __init__(
        self, session: Session, clause_id: int | None, *, own_company_id: int | None = None
    ) -> None:
        self.session = session
        self.fixed = get_clause(session, clause_id) if clause_id is not None else None
        self.own = session.get_one(Company, own_company_id) if own_company_id else None
        self.companies: dict[str, Company | None] = {}
        self.named: dict[str, list[Company]] = {}
        self.clauses: dict[tuple[str, str], Clause | str] = {}
        #: The facilitator's notes: a SIRET the file gives for a company recorded without one.
        self.warnings: list[FieldError] = []
        #: (company, SIRET) pairs already noted: a second SIRET given for it is said too.
        self._noted: set[tuple[int, str]] = set()

    def company(self, reader: RowReader, clause: Clause | None = None) -> Company | None:
        """The line's company; ``clause``, the line's lot when known, narrows a match by name
        and gives the company of a line with neither SIRET nor name."""
        raw = reader.raw("siret")
        if self.own is not None:
            return self._own_company(reader, raw)
        if not raw.strip():
            return self._without_siret(reader, clause)
        siret = parse_siret(raw)
        if siret is None:
            reader.fail("siret", f"« {raw} » n'est pas un SIRET valide (14 chiffres, clé Luhn).")
            return None
        found = self._recorded(siret)
        if found is None:
            found = self._recorded_without(reader, clause, siret)
        if found is None:
            reader.fail(
                "siret",
                f"aucune entreprise enregistrée avec le SIRET {siret} : ajoutez-la d'abord.",
            )
        return found

    def _recorded(self, siret: str) -> Company | None:
        """The company recorded with ``siret``, looked up once."""
        if siret not in self.companies:
            self.companies[siret] = self.session.scalar(
                select(Company).where(Company.siret == siret)
            )
        return self.companies[siret]

    def _own_company(self, reader: RowReader, raw: str) -> Company | None:
        """The link's company: the template's cell (its SIRET, or empty when none is recorded)
        is accepted, and so is a SIRET typed when none is recorded, unless another company is
        recorded with it (the link declares for its own company only); it is not stored (the
        company's record changes through the facilitator, with its history)."""
        assert self.own is not None
        if not raw.strip():
            return self.own
        siret = parse_siret(raw)
        if siret is None:
            reader.fail("siret", f"« {raw} » n'est pas un SIRET valide (14 chiffres, clé Luhn).")
            return None
        if self.own.siret is not None and siret != self.own.siret:
            reader.fail("siret", NOT_YOUR_SIRET)
            return None
        other = self._recorded(siret)
        if other is not None and other.id != self.own.id:
            reader.fail("siret", NOT_YOUR_SIRET)
            return None
        return self.own

    def _by_name(self, name: str) -> list[Company]:
        """The companies recorded under ``name``, however it is written (``_name_key``)."""
        key = _name_key(name)
        if key not in self.named:
            # The search column holds the name already normalised (SQLite's lower() folds
            # ASCII only, and no database folds ’ into '); lower() still finds a row written
            # by a path that left that column empty. The comparison is then done here.
            rows = self.session.scalars(
                select(Company)
                .where(
                    or_(
                        Company.search_text == search_text(name),
                        func.lower(Company.name) == " ".join(name.split()).lower(),
                    )
                )
                .order_by(Company.id)
            )
            self.named[key] = [c for c in rows if _name_key(c.name) == key]
        return self.named[key]

    def _named(self, clause: Clause | None, name: str) -> list[Company]:
        """The companies the « Entreprise » column names: the lot's own first, compared here
        on the lot's few companies, else any recorded under that name."""
        if clause is not None:
            key = _name_key(name)
            on_lot = [p.company for p in clause.parties if _name_key(p.company.name) == key]
            if on_lot:
                return on_lot
        return self._by_name(name)

    def _without_siret(self, reader: RowReader, clause: Clause | None) -> Company | None:
        """A line whose SIRET cell is empty: the company named in the « Entreprise » column,
        else the lot's only company; refused, its column named, when that leaves a doubt."""
        given = " ".join(reader.raw("company").split())
        column = reader.table.column_name("company")
        if given:
            candidates = self._named(clause, given)
            if len(candidates) == 1:
                return candidates[0]
            if not candidates:
                # Never the lot's only company by default: an unknown name may be another
                # company's file (or a renamed one's); the facilitator reads whom the lot has.
                reader.fail("company", self._unknown_name(reader, clause, given))
            else:
                numbers = ", ".join(f"n° {c.id}" for c in candidates)
                reader.fail(
                    "company",
                    f"plusieurs entreprises s'appellent « {given} » ({numbers}) : indiquez le "
                    f"SIRET de la bonne dans la colonne « {reader.table.column_name('siret')} ».",
                )
            return None
        if clause is None:
            reader.fail("siret", "valeur manquante.")
            return None
        companies = [party.company for party in clause.parties]
        if len(companies) == 1:
            return companies[0]
        if not companies:
            reader.fail(
                "siret",
                f"valeur manquante, et aucune entreprise n'est retenue sur {clause_ref(clause)}.",
            )
        else:
            names = ", ".join(sorted(c.name for c in companies))
            reader.fail(
                "siret",
                f"valeur manquante : {clause_ref(clause)} compte plusieurs entreprises ({names}) ; "
                f"indiquez le SIRET, ou le nom de l'entreprise dans la colonne « {column} ».",
            )
        return None

    def _unknown_name(self, reader: RowReader, clause: Clause | None, given: str) -> str:
        """Why a name that matches no company, with an empty SIRET, refuses the line: the
        lot's companies named, so that a renamed company's template is put right at once."""
        siret = reader.table.column_name("siret")
        company = reader.table.column_name("company")
        said = (
            f"aucune entreprise enregistrée sous le nom « {given} », et la colonne « {siret} » "
            "est vide"
        )
        if clause is None or not clause.parties:
            return (
                f"{said} : indiquez le SIRET de l'entreprise ou son nom tel qu'il est enregistré."
            )
        names = sorted(party.company.name for party in clause.parties)
        if len(names) == 1:
            return (
                f"{said} ; la seule entreprise de {clause_ref(clause)} est {names[0]} : si la "
                f"ligne est la sienne, inscrivez ce nom dans la colonne « {company} » ; sinon, "
                f"indiquez le SIRET de l'entreprise dans la colonne « {siret} »."
            )
        return (
            f"{said} ; les entreprises de {clause_ref(clause)} sont {', '.join(names)} : "
            f"inscrivez le nom de l'une d'elles dans la colonne « {company} », ou le SIRET de "
            f"l'entreprise dans la colonne « {siret} »."
        )

    def _recorded_without(
        self, reader: RowReader, clause: Clause | None, siret: str
    ) -> Company | None:
        """A SIRET no company has: the company recorded without one that the « Entreprise »
        column names, the facilitator told once per SIRET how to record it. Only by its name:
        with that column empty the SIRET may be a new subcontractor's, not yet recorded, whose
        hours must not be counted for the lot's company (it is refused: add it first)."""
        given = " ".join(reader.raw("company").split())
        if not given:
            return None
        without = [c for c in self._named(clause, given) if c.siret is None]
        if len(without) != 1:
            return None
        found = without[0]
        if (found.id, siret) not in self._noted:
            self._noted.add((found.id, siret))
            self.warnings.append(
                FieldError(
                    reader.row.line,
                    reader.table.column_name("siret"),
                    f"{found.name} n'a pas de SIRET enregistré : la ligne lui est attribuée "
                    f"par son nom ; pour enregistrer ce SIRET : clauses company edit {found.id} "
                    f"--siret {siret} (ou sa fiche, depuis la recherche de la page "
                    "« Corrections »).",
                )
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
        if self.own is not None:
            # A company's link: no option, no clause number; what the file declares, and what
            # the link declares.
            if market and _key(market) != _key(clause.market.reference):
                reader.fail("market", link_lot_problem(clause, f"le marché {market}"))
            elif lot and lot_key(lot) != lot_key(clause.lot_number):
                reader.fail("lot", link_lot_problem(clause, f"le lot {lot}"))
            return clause
        if market and _key(market) != _key(clause.market.reference):
            reader.fail(
                "market",
                f"« {market} » ne correspond pas à {clause_ref(clause)} (option --clause).",
            )
        elif lot and lot_key(lot) != lot_key(clause.lot_number):
            reader.fail(
                "lot", f"« {lot} » ne correspond pas à {clause_ref(clause)} (option --clause)."
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
            return f"aucun marché enregistré sous la référence « {market} »."
        if len({c.market_id for c in candidates}) > 1:
            return f"plusieurs marchés portent la référence « {market} » : indiquez --clause."
        lots = ", ".join(c.lot_number or "(unique)" for c in candidates)
        if lot:
            matching = [c for c in candidates if lot_key(c.lot_number) == lot_key(lot)]
            if not matching:
                return f"le marché {market} n'a pas de lot « {lot} » ; lots connus : {lots}."
            return matching[0]
        if len(candidates) > 1:
            return f"le marché {market} compte plusieurs lots ({lots}) : indiquez le lot."
        return candidates[0]


#: Why a line's empty hours are refused, and how to put it right, as the calls' « Comment
#: déclarer » says it (``declaration_howto``): 0 for a person who did not work, or no line.
BLANK_HOURS = (
    "valeur manquante ; indiquez 0 si cette personne n'a pas travaillé sur le lot ce mois-là, "
    "ou supprimez sa ligne."
)


def _parse_sex(reader: RowReader) -> Sex | None:
    raw = reader.raw("sex")
    if not raw:
        return None
    sex = parse_sex(raw)
    if sex is None:
        reader.fail("sex", f"« {raw} » : indiquez F ou M (Femme, Homme ou H sont compris).")
    return sex


def _parse_birth_year(reader: RowReader, now: datetime) -> int | None:
    raw = reader.raw("birth_year")
    if not raw:
        return None
    year = parse_birth_year(raw)
    if year is None:
        reader.fail("birth_year", f"« {raw} » : indiquez l'année sur 4 chiffres (ex. 1987).")
        return None
    if problem := birth_year_problem(year, now.year):
        reader.fail("birth_year", f"« {raw} » : {problem}")
        return None
    return year


def _parse_declaration_line(
    reader: RowReader, now: datetime
) -> tuple[_Person | None, _Line | None]:
    """The line's participant (None without a usable reference) and the whole line (None when
    any of the row's cells is refused, the ones read before included)."""
    reference = reader.text("reference", max_length=REFERENCE_MAX)
    criterion = reader.choice("criterion", CRITERIA, required=False)
    contract = reader.choice("contract", CONTRACTS)
    mode = reader.choice("mode", DELIVERY_MODES)
    hours = reader.hours("hours", required=False)
    if not reader.raw("hours"):
        # A template's line pre-filled for a person: the call says to write 0 or delete it.
        reader.fail("hours", BLANK_HOURS)
    elif hours is not None and (problem := hours_problem(hours)):
        reader.fail("hours", problem)
    sex = _parse_sex(reader)
    birth_year = _parse_birth_year(reader, now)
    person = None
    if reference is not None:
        written = bool(reader.raw("criterion"))
        person = _Person(reader.row.line, reference, criterion, sex, birth_year, written)
    if not reader.ok:
        return person, None
    assert reference and contract and mode and hours is not None
    line = _Line(reader.row.line, reference, criterion, sex, birth_year, hours, mode, contract)
    return person, line


def _known_participants(session: Session, references: set[str]) -> dict[str, Participant]:
    """The recorded participants among ``references``, looked up in chunks (a file may name more
    people than a database accepts values in one ``IN``)."""
    found = select_in(
        session,
        lambda chunk: select(Participant).where(Participant.reference.in_(chunk)),
        references,
    )
    return {p.reference: p for p in found}


def _the(label: str) -> str:
    """« le sexe », « l'année de naissance »."""
    return "l'" if label[0] in "aeiouyéâ" else "le "


def _declared_by(
    session: Session, company_id: int | None, known: dict[str, Participant]
) -> set[str]:
    """The references among ``known`` that ``company_id`` has declared hours (or a line) for:
    the people a company's page may tell it what is recorded of. None of them without a
    company."""
    if company_id is None or not known:
        return set()
    ids = {p.id: reference for reference, p in known.items()}
    found = select_in(
        session,
        lambda chunk: (
            select(DeclarationLine.participant_id)
            .join(Declaration, Declaration.id == DeclarationLine.declaration_id)
            .where(Declaration.company_id == company_id, DeclarationLine.participant_id.in_(chunk))
            .distinct()
        ),
        list(ids),
    )
    return {ids[participant_id] for participant_id in found}


def _declared_by_others(
    session: Session, company_id: int | None, known: dict[str, Participant], own: AbstractSet[str]
) -> set[str]:
    """The references among ``known`` that other companies than ``company_id`` declared and it
    never did: another company's people, whom its page may not declare (``_others_refused``).
    A person the facilitator registered (``participant add``) and nobody declared yet is not
    among them: the company declares under the reference it was given."""
    if company_id is None:
        return set()
    ids = {p.id: reference for reference, p in known.items() if reference not in own}
    if not ids:
        return set()
    found = select_in(
        session,
        lambda chunk: (
            select(DeclarationLine.participant_id)
            .join(Declaration, Declaration.id == DeclarationLine.declaration_id)
            .where(Declaration.company_id != company_id, DeclarationLine.participant_id.in_(chunk))
            .distinct()
        ),
        list(ids),
    )
    return {ids[participant_id] for participant_id in found}


def _others_refused(
    table: CsvTable, people: Sequence[_Person], others: AbstractSet[str], errors: list[FieldError]
) -> list[_Person]:
    """A company's page refuses a reference another company declared and it never did, once on
    its first line, and says nothing of what is recorded under it: each company chooses its
    people's references, two companies' « P-0012 » are two people, whom the service would
    merge (their hours, criterion, sex and age counted as one person's), and a refusal that
    compared the file's sex or birth year with the recorded ones would tell any link holder
    another company's people, a try at a time (user trial, 7 December 2026). The facilitator,
    told by the company that it is the same person, declares it. The other lines are left to
    the usual checks."""
    said: set[str] = set()
    for line in sorted(people, key=lambda ln: ln.line):
        if line.reference not in others or line.reference in said:
            continue
        said.add(line.reference)
        errors.append(
            FieldError(
                line.line,
                table.column_name("reference"),
                f"la référence « {line.reference} » est déjà celle d'une personne déclarée par "
                "une autre entreprise : donnez à votre salarié une référence propre à votre "
                "entreprise (par exemple précédée de son nom) ; si c'est bien la même personne, "
                "écrivez à la facilitatrice, qui l'enregistrera.",
            )
        )
    return [line for line in people if line.reference not in others]


def _check_participants(
    table: CsvTable,
    people: Sequence[_Person],
    groups: Sequence[_Group],
    known: dict[str, Participant],
    errors: list[FieldError],
    *,
    from_company: bool = False,
    own: AbstractSet[str] | None = None,
    others: AbstractSet[str] = frozenset(),
) -> list[FieldError]:
    """New participants need a criterion; a different criterion for a known one is a warning.

    ``people`` is every line with a reference, refused or not: a line whose hours are wrong
    still says that its participant is unknown and has no criterion. ``others``: the references
    another company declared, which a company's page refuses (``_others_refused``)."""
    if others:
        people = _others_refused(table, people, others, errors)
    _check_identities(table, people, groups, known, errors, from_company=from_company, own=own)
    _check_criteria(table, people, groups, known, errors)
    warnings: list[FieldError] = []
    column = table.column_name("criterion")
    missing_column = (
        "" if table.has("criterion") else f" ; ajoutez la colonne « {column} » au fichier"
    )
    lines = sorted(people, key=lambda ln: ln.line)
    # A new participant needs its criterion once, on any of its lines (the file may declare it
    # for several months): the first one given is the one recorded. A criterion not recognised
    # is refused in its cell, not said missing as well.
    given = {line.reference for line in lines if line.criterion_written}
    reported: set[str] = set()
    named: set[str] = set()
    for line in lines:
        participant = known.get(line.reference)
        # A new reference is checked as the web form and the CLI check it (a formula, a name),
        # for a person new to the service only (once, on their first line): one recorded before
        # these rules is still declared under what was recorded.
        if participant is None and line.reference not in named:
            named.add(line.reference)
            if problem := new_reference_problem(line.reference):
                errors.append(FieldError(line.line, table.column_name("reference"), problem))
        if participant is None and line.reference not in given:
            if line.reference in reported:
                continue
            reported.add(line.reference)
            errors.append(
                FieldError(
                    line.line,
                    column,
                    f"participant « {line.reference} » inconnu : son critère d'éligibilité "
                    f"est nécessaire pour le créer{missing_column}.",
                )
            )
        elif participant and line.criterion and line.criterion.value != participant.criterion:
            warnings.append(
                FieldError(
                    line.line,
                    column,
                    f"participant « {line.reference} » : le critère enregistré "
                    f"(« {CRITERION_LABELS[Criterion(participant.criterion)]} ») est conservé.",
                )
            )
    return warnings


def file_criteria(groups: Sequence[_Group]) -> dict[str, Criterion]:
    """Each participant's criterion as the file first gives it (in line order)."""
    found: dict[str, Criterion] = {}
    for line in sorted((ln for g in groups for ln in g.lines), key=lambda ln: ln.line):
        if line.criterion is not None:
            found.setdefault(line.reference, line.criterion)
    return found


def _check_criteria(
    table: CsvTable,
    people: Sequence[_Person],
    groups: Sequence[_Group],
    known: dict[str, Participant],
    errors: list[FieldError],
) -> None:
    """A person new to the service has one criterion in the file: given on one of its lines
    (the call asks it « pour une personne déclarée pour la première fois »), it is that
    person's on every line of the same reference, so each month read from the file carries it
    (the company's page checks month by month: user trial, a February line left empty after
    January's was refused). Two different criteria for the same new person refuse the file,
    on the later line, naming the earlier one. A known person keeps the criterion recorded
    (``_check_participants`` says so): its lines are left as they are."""
    column = table.column_name("criterion")
    first: dict[str, tuple[Criterion, int]] = {}
    for line in sorted(people, key=lambda ln: ln.line):
        if line.criterion is None or line.reference in known:
            continue
        earlier = first.setdefault(line.reference, (line.criterion, line.line))
        if earlier[0] is not line.criterion:
            errors.append(
                FieldError(
                    line.line,
                    column,
                    f"participant « {line.reference} » : « {CRITERION_LABELS[line.criterion]} » "
                    f"ici mais « {CRITERION_LABELS[earlier[0]]} » ligne {earlier[1]} ; une "
                    "personne n'a qu'un critère d'éligibilité : inscrivez le même sur toutes "
                    "ses lignes, ou sur une seule.",
                )
            )
    for group in groups:
        group.lines = [
            replace(line, criterion=first[line.reference][0])
            if line.criterion is None and line.reference in first
            else line
            for line in group.lines
        ]


#: The participant's own fields a line may carry: key, French name, option of ``participant set``.
_IDENTITY_FIELDS = (("sex", "sexe", "--sex"), ("birth_year", "année de naissance", "--birth-year"))


def _identity(line: _Person, key: str) -> Sex | int | None:
    return line.sex if key == "sex" else line.birth_year


def _recorded(participant: Participant | None, key: str) -> str | int | None:
    if participant is None:
        return None
    return participant.sex if key == "sex" else participant.birth_year


def _check_identities(
    table: CsvTable,
    people: Sequence[_Person],
    groups: Sequence[_Group],
    known: dict[str, Participant],
    errors: list[FieldError],
    *,
    from_company: bool = False,
    own: AbstractSet[str] | None = None,
) -> None:
    """One sex and birth year per participant, agreeing with what is recorded, over every line
    of the file; then every line of a participant carries the file's values, so whichever group
    comes first fills them. ``from_company``: the file is sent from a company's page, which
    cannot correct a participant (the facilitator does); ``own``: the references that company
    has declared before, the only ones whose recorded values its refusals may name (None: the
    facilitator's import, all of them). Another's are refused without them."""
    lines = sorted(people, key=lambda ln: ln.line)
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
                    f"participant « {reference} » : {label} {value} ici mais {earlier[0]} "
                    f"ligne {earlier[1]}."
                )
            elif earlier[1] == line.line and recorded is not None and recorded != value:
                # Said once, on the participant's first line: the later ones repeat it.
                problem = (
                    f"participant « {reference} » enregistré avec {label} {recorded}, le fichier "
                    f"indique {value} : corrigez le fichier, ou d'abord le participant"
                )
                if own is not None and reference not in own:
                    said = (
                        f"participant « {reference} » : le fichier indique "
                        f"{_the(label)}{label} {value}, qui ne "
                        "correspond pas à la personne déjà enregistrée sous cette référence ; "
                        "vérifiez la référence et le fichier ; si c'est bien la même personne, "
                        "écrivez à la facilitatrice."
                    )
                    errors.append(FieldError(line.line, table.column_name(key), said))
                    continue
                if from_company:
                    said = (
                        f"participant « {reference} » enregistré avec {label} {recorded}, le "
                        f"fichier indique {value} : corrigez le fichier ; si c'est "
                        "l'enregistrement qui est faux, écrivez à la facilitatrice, qui le "
                        "corrigera."
                    )
                    errors.append(FieldError(line.line, table.column_name(key), said))
                    continue
                hint = Hint(
                    f" (clauses participant set {reference} {option} {value}).",
                    " (sa fiche, depuis la recherche de la page « Corrections »).",
                )
                errors.append(FieldError(line.line, table.column_name(key), problem, hint))
                continue
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


@dataclass(frozen=True)
class DeclarationFile:
    """A declaration file read and accepted (``read_declarations``): each company x lot x month
    it declares, the warnings, the participants already recorded by reference, the months it
    leaves blank, and the months it declares at zero hours (``zero_months``: a « 0 » line with
    no participant, and no participant line, for the month; their groups hold no line)."""

    groups: list[_Group]
    warnings: list[FieldError]
    known: dict[str, Participant]
    blank_months: list[BlankMonth]
    zero_months: tuple[date, ...] = ()


def read_declarations(
    session: Session,
    table: CsvTable,
    *,
    clause_id: int | None,
    replace: bool,
    now: datetime,
    zone: ZoneInfo = DEFAULT_ZONE,
    from_company: bool = False,
    company_id: int | None = None,
) -> DeclarationFile:
    """Every line and reference of a declaration file checked (``_check_file``), the file refused
    whole if needed, with the months the file leaves blank said (``BlankMonth``): what
    a company's page shows of a file sent from it, as the command line does."""
    parsed = _check_file(
        session,
        table,
        clause_id=clause_id,
        replace=replace,
        now=now,
        zone=zone,
        from_company=from_company,
        company_id=company_id,
    )
    if parsed.errors:
        raise FileRefused(table.source, table.in_order(parsed.errors))
    blank = blank_months(session, parsed.blank, zone=zone, now=now)
    zero = tuple(sorted({group.month for group in parsed.groups if group.at_zero}))
    return DeclarationFile(parsed.groups, parsed.warnings, parsed.known, blank, zero)


def _check_file(
    session: Session,
    table: CsvTable,
    *,
    clause_id: int | None,
    replace: bool,
    now: datetime,
    zone: ZoneInfo,
    from_company: bool = False,
    company_id: int | None = None,
) -> _Parsed:
    """Every check of a declaration file, each one on every line it can be made on: the cells,
    then the participants of every line with a reference (whatever else its line gets wrong),
    then each company x lot x month found. Nothing is raised here but a file with no
    participant line at all."""
    errors: list[FieldError] = []
    # Without the market column every line's lot is unknown: said once, on the header; the
    # other cells and the participants are still checked.
    no_market = clause_id is None and not table.has("market")
    if no_market:
        errors.append(
            FieldError(1, "N° marché", "colonne manquante (ou indiquez la clause avec --clause).")
        )
    resolver = Resolver(session, clause_id, own_company_id=company_id)
    groups: dict[tuple[int, int, date], _Group] = {}
    seen: dict[tuple[int, int, date, str], int] = {}
    warnings = list(table.warnings)
    named: set[int] = set()
    used = [row for row in table.rows if any(row.cells.get(key) for key in PERSON_KEYS)]
    if not used:
        errors.append(
            FieldError(
                None,
                None,
                "aucune ligne de participant : seules les colonnes du lot sont remplies. "
                f"Inscrivez une ligne par personne et par mois ; {NO_HOURS_HOWTO}",
                Hint(
                    " (ou : clauses declaration zero).",
                    " (ou cochez « Aucune heure ce mois-ci » sur la page du mois).",
                ),
            )
        )
        raise FileRefused(table.source, errors)
    people: list[_Person] = []
    all_placed = True
    for row in used:
        reader = RowReader(table, row, errors)
        # The lot first: a line without SIRET is matched among the lot's companies.
        clause = None if no_market else resolver.clause(reader)
        company = resolver.company(reader, clause)
        month = reader.month("month")
        no_hours = no_hours_line(table, row)
        person, line = (None, None) if no_hours else _parse_declaration_line(reader, now)
        if person is not None:
            people.append(person)
        if company is None or clause is None or month is None:
            all_placed = False
            continue
        given = reader.raw("company")
        if given and _name_key(given) != _name_key(company.name) and company.id not in named:
            named.add(company.id)
            warnings.append(
                FieldError(
                    row.line,
                    table.column_name("company"),
                    f"« {given} » : le SIRET désigne {company.name}, qui est retenue.",
                )
            )
        group_key = (clause.id, company.id, month)
        # The month is checked (``column_problems``) whatever its lines get wrong.
        group = groups.setdefault(group_key, _Group(clause, company, month, row.line))
        if no_hours:
            group.no_hours_lines.append(row.line)
            continue
        if person is None or line is None:
            group.complete = False
        if person is None:
            continue
        duplicate = (*group_key, normalise(person.reference))
        if duplicate in seen:
            group.complete = False
            reader.fail(
                "reference",
                f"participant « {person.reference} » déjà déclaré ligne {seen[duplicate]} pour "
                "ce mois et ce lot.",
            )
            continue
        seen[duplicate] = row.line
        if line is not None:
            group.lines.append(line)
    warnings.extend(resolver.warnings)
    blank = [] if no_market else _blank_months(table, resolver, used, groups)
    known = _known_participants(session, {person.reference for person in people})
    # A company's page shows what is recorded of a person only to the company that declared
    # them (user trial, 7 December 2026: any link read another company's participant's sex and
    # birth year by trying their reference).
    own = _declared_by(session, company_id, known) if from_company else None
    others = _declared_by_others(session, company_id, known, own) if own is not None else set()
    warnings.extend(
        _check_participants(
            table,
            people,
            list(groups.values()),
            known,
            errors,
            from_company=from_company,
            own=own,
            others=others,
        )
    )
    for group in groups.values():
        if not from_company:
            for note in _notes(session, group):
                warnings.append(FieldError(group.first_line, table.column_name("month"), note))
        for problem in column_problems(
            session,
            group.clause,
            group.company,
            group.month,
            now=now,
            replace=replace,
            zone=zone,
            from_company=from_company,
        ):
            # After « ligne 11, colonne « Mois » : » French goes on in lower case.
            column = table.column_name(problem.key) if problem.key else None
            said = problem.message[:1].lower() + problem.message[1:]
            if from_company:  # the company's page: its lot by its number, not the clause's
                said = month_problem_for_company(problem, group.clause, group.month)
            errors.append(FieldError(group.first_line, column, said))
    return _Parsed(list(groups.values()), warnings, known, errors, all_placed, blank)


def _blank_months(
    table: CsvTable,
    resolver: Resolver,
    used: Sequence[CsvRow],
    groups: dict[tuple[int, int, date], _Group],
) -> list[tuple[Clause, Company, date, int]]:
    """The company x lot x months of the template's blank lines (only the lot's columns filled)
    that no used line declares: each with its first line. A blank line is never refused: one
    whose lot, company or month cannot be told is passed over, and nothing said of it is kept
    (the resolver's notes are for the lines the file declares)."""
    lines = {row.line for row in used}
    notes = len(resolver.warnings)
    found: dict[tuple[int, int, date], tuple[Clause, Company, date, int]] = {}
    for row in table.rows:
        if row.line in lines:
            continue
        problems: list[FieldError] = []
        scratch = RowReader(table, row, problems)
        clause = resolver.clause(scratch)
        company = resolver.company(scratch, clause)
        month = scratch.month("month", required=False)
        # A lot cell that contradicts --clause still names the fixed clause: passed over too.
        if clause is None or company is None or month is None or problems:
            continue
        key = (clause.id, company.id, month)
        if key not in groups:
            found.setdefault(key, (clause, company, month, row.line))
    del resolver.warnings[notes:]
    return list(found.values())


def blank_months(
    session: Session,
    blank: Sequence[tuple[Clause, Company, date, int]],
    *,
    zone: ZoneInfo,
    now: datetime,
) -> list[BlankMonth]:
    """What is said of each month the file leaves blank (``BlankMonth``): recorded before and
    left as it is, still owed (it will be asked again), or neither."""
    said: list[BlankMonth] = []
    for clause, company, month, first_line in sorted(blank, key=lambda b: (b[2], b[3])):
        name = french_month(month)
        recorded = find_declaration(session, clause.id, company.id, month)
        if recorded is not None:
            when = french_date(recorded.recorded_at.astimezone(zone))
            text = (
                f"{name} : aucune ligne dans le fichier ; la déclaration enregistrée le {when} "
                f"({french_hours(recorded.total_hours)}) reste inchangée."
            )
            said.append(
                BlankMonth(
                    clause.id,
                    clause.label,
                    company.id,
                    company.name,
                    month,
                    first_line,
                    owed=False,
                    recorded_at=recorded.recorded_at,
                    recorded_hours=Decimal(recorded.total_hours),
                    said=text,
                )
            )
            continue
        party = next((p for p in clause.parties if p.company_id == company.id), None)
        owed = party is not None and month in owed_up_to(
            session, clause, party, month, zone, now=now
        )
        text = f"{name} : aucune ligne, pas déclaré"
        text += f" ; toujours attendu ({NO_HOURS_HOWTO})." if owed else "."
        said.append(
            BlankMonth(
                clause.id,
                clause.label,
                company.id,
                company.name,
                month,
                first_line,
                owed=owed,
                said=text,
            )
        )
    return said


def _notes(session: Session, group: _Group) -> list[str]:
    """The facilitator's warnings for a new month nobody asked of the company, recorded as she
    asks and said: before its first month on the lot (``declarations.first_month_note``), after
    its last when it left the site (``declarations.last_month_note``), or
    after the lot's planned end while its end is not recorded (its companies are not called
    then: user trial, 20 h of April counted in a summary that expected no April declaration)."""
    clause, month = group.clause, group.month
    if find_declaration(session, clause.id, group.company.id, month):
        return []
    notes = []
    party = next((p for p in clause.parties if p.company_id == group.company.id), None)
    if party is not None and (note := first_month_note(clause, group.company, party, month)):
        notes.append(note)
    if party is not None and (note := last_month_note(clause, group.company, party, month)):
        notes.append(note)
    planned = clause.planned_end_date
    if clause.end_date is None and planned is not None and month > month_start(planned):
        notes.append(
            f"{french_month(month)} suit la fin prévue de {clause_ref(clause)} "
            f"({planned:%d/%m/%Y}) : la déclaration est enregistrée et ses heures comptent, "
            "mais ce mois n'est demandé à aucune entreprise du lot tant que la fin "
            "d'exécution n'est pas enregistrée ou la fin prévue reportée."
        )
    return notes


def _create_participants(
    session: Session, groups: Sequence[_Group], known: dict[str, Participant], now: datetime
) -> set[str]:
    """Every participant the file names for the first time, added in one flush, with the first
    criterion the file gives it (sex and birth year are already the file's, see
    ``_check_identities``). Returns their references."""
    created: dict[str, Participant] = {}
    criteria = file_criteria(groups)
    for group in sorted(groups, key=lambda g: g.first_line):
        for line in group.lines:
            if line.reference in known or line.reference in created:
                continue
            created[line.reference] = Participant(
                reference=line.reference,
                criterion=criteria.get(line.reference, Criterion.OTHER_VALIDATED).value,
                proof="",
                validated_on=None,
                sex=line.sex.value if line.sex else None,
                birth_year=line.birth_year,
                created_at=now,
            )
    session.add_all(created.values())
    session.flush()
    known.update(created)
    return set(created)


#: What a correction without its reason is told to do, by interface.
REASON_HINT = Hint(
    " : recommencez avec --reason « motif de la correction » (gardé à l'historique de chaque "
    "déclaration remplacée).",
    " : indiquez-le dans le champ « Motif de la correction » (gardé à l'historique de chaque "
    "déclaration remplacée).",
)


def _corrected(
    session: Session, group: _Group, known: dict[str, Participant]
) -> Declaration | None:
    """The declaration recorded for the group's month that the file would change, or None (none
    recorded, or the file gives exactly its lines). Read before anything is written: a
    participant the file creates is not in ``known``, and makes it a change."""
    recorded = find_declaration(session, group.clause.id, group.company.id, group.month)
    if recorded is None:
        return None
    if any(line.reference not in known for line in group.lines):
        return recorded
    lines = [
        LineInput(known[line.reference].id, line.hours, line.mode, line.contract)
        for line in group.lines
    ]
    return None if same_lines(recorded, lines) else recorded


def _check_reason(
    session: Session,
    parsed: _Parsed,
    *,
    reason: str | None,
    zone: ZoneInfo,
) -> list[FieldError]:
    """Each month recorded before that the file corrects without a reason, named on its first
    line (the file is then refused whole, with its other errors). Only a month whose every line
    is read is judged: a line still refused may be the one that makes it what is recorded."""
    if (reason or "").strip() or not parsed.all_placed:
        return []
    errors: list[FieldError] = []
    for group in parsed.groups:
        if not group.complete:
            continue
        recorded = _corrected(session, group, parsed.known)
        if recorded is None:
            continue
        when = french_date(recorded.recorded_at.astimezone(zone))
        count = len(recorded.lines)
        errors.append(
            FieldError(
                group.first_line,
                None,
                f"la déclaration {month_phrase(group.month)} de {group.company.name} pour "
                f"{clause_ref(group.clause)}, enregistrée le {when} "
                f"({french_hours(recorded.total_hours)}, {count} participant"
                f"{'s' if count > 1 else ''}), serait corrigée par le fichier sans motif",
                REASON_HINT,
            )
        )
    return errors


def _record_group(
    session: Session,
    group: _Group,
    *,
    known: dict[str, Participant],
    created: set[str],
    source: str,
    replace: bool,
    actor: str,
    now: datetime,
    publish: Publish,
    zone: ZoneInfo,
    reason: str | None = None,
) -> tuple[DeclarationSummary, ClauseHistory | None]:
    """One month of the file recorded; its history row (None: unchanged, nothing recorded)
    says nothing yet of the outcomes, which the file says as a whole (``_net_counts``)."""
    lines: list[LineInput] = []
    new: list[str] = []
    completed: list[str] = []
    criteria: dict[str, int] = defaultdict(int)
    criteria_at_zero: dict[str, int] = defaultdict(int)
    modes: dict[str, Decimal] = defaultdict(Decimal)
    for line in group.lines:
        participant = known[line.reference]
        if line.reference in created:
            created.discard(line.reference)  # new in the first group that names it
            new.append(participant.reference)
        elif _fill(participant, line):
            completed.append(participant.reference)
        (criteria if worked(line.hours) else criteria_at_zero)[participant.criterion] += 1
        modes[line.mode.value] += line.hours
        lines.append(LineInput(participant.id, line.hours, line.mode, line.contract))
    recorded = find_declaration(session, group.clause.id, group.company.id, group.month)
    # A file sent again as it was: a « corrected » receipt for nothing corrected would mislead
    # the company, and a validation would be lifted for nothing. Nothing is recorded then.
    unchanged = recorded is not None and same_lines(recorded, lines)
    counts = CountChange()
    history = None
    replaced: tuple[Decimal, int, datetime, int] | None = None
    if recorded is not None and unchanged:
        declaration = recorded
    else:
        if recorded is not None:  # read before ``record_counting`` clears its lines
            replaced = (
                Decimal(recorded.total_hours),
                len(recorded.lines),
                recorded.recorded_at,
                sum(1 for line in recorded.lines if line.hours == 0),
            )
        recorded_now = record_counting(
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
            zone=zone,
            history_counts=False,
            correction_reason=reason,
        )
        declaration, counts = recorded_now.declaration, recorded_now.counts
        history = recorded_now.history
    summary = DeclarationSummary(
        declaration_id=declaration.id,
        clause_id=group.clause.id,
        clause_label=group.clause.label,
        company_id=group.company.id,
        company=group.company.name,
        month=group.month,
        total_hours=declaration.total_hours,
        lines=len(lines),
        participants_at_zero=sum(1 for line in lines if line.hours == 0),
        new_participants=tuple(new),
        completed_participants=tuple(completed),
        criteria=dict(criteria),
        delivery_modes=dict(modes),
        replaced=recorded is not None and not unchanged,
        unchanged_since=declaration.recorded_at if unchanged else None,
        counts=counts,
        replaced_hours=replaced[0] if replaced else None,
        replaced_lines=replaced[1] if replaced else None,
        replaced_recorded_at=replaced[2] if replaced else None,
        replaced_at_zero=replaced[3] if replaced else None,
        reason=history_motif(reason) if replaced else None,
        criteria_at_zero=dict(criteria_at_zero),
    )
    return summary, history


def _net_counts(
    session: Session,
    recorded: Sequence[tuple[DeclarationSummary, ClauseHistory | None]],
    counted_before: dict[int, frozenset[int]],
) -> list[DeclarationSummary]:
    """What the file did to each lot's outcomes as a whole, said once: an outcome that stopped
    counting and counts again within the file (hours moved from one month to another) is in
    neither list. An outcome that stopped counting (or counts again) once the file is recorded
    is said by the last month of the file that did it, in its summary and its history row, so
    that the rows and the message say the same thing."""
    net = {
        clause_id: count_change(session, clause_id, before)
        for clause_id, before in counted_before.items()
    }
    taken: list[list[UncountedOutcome]] = [[] for _ in recorded]
    given: list[list[UncountedOutcome]] = [[] for _ in recorded]
    for clause_id, change in net.items():
        on_lot = [i for i, (s, _) in enumerate(recorded) if s.clause_id == clause_id]
        for outcome in change.uncounted:
            by = [i for i in on_lot if outcome in recorded[i][0].counts.uncounted] or on_lot
            taken[by[-1]].append(outcome)
        for outcome in change.recounted:
            by = [i for i in on_lot if outcome in recorded[i][0].counts.recounted] or on_lot
            given[by[-1]].append(outcome)
    summaries: list[DeclarationSummary] = []
    for i, (summary, history) in enumerate(recorded):
        counts = CountChange(tuple(taken[i]), tuple(given[i]))
        if history is not None and (said := count_sentences(counts)):
            history.reason = f"{history.reason} – {said}"  # as ``record_counting`` says it
        summaries.append(replace(summary, counts=counts))
    return summaries


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
    zone: ZoneInfo = DEFAULT_ZONE,
    limits: ImportLimits = DECLARATION_LIMITS,
    reason: str | None = None,
) -> DeclarationImport:
    """Record every company x lot x month the file holds (CSV, .xlsx or .ods), or nothing.

    ``reason``: why the facilitator corrects, with ``replace``, months recorded before; needed
    as soon as the file changes one of them (``_check_reason``)."""
    require_aware(now)
    table = read_table(path, DECLARATION_COLUMNS, limits=limits)
    parsed = _check_file(session, table, clause_id=clause_id, replace=replace, now=now, zone=zone)
    errors = parsed.errors
    if replace:  # without it a month recorded before is refused as such (``column_problems``)
        errors.extend(_check_reason(session, parsed, reason=reason, zone=zone))
    if errors:
        raise FileRefused(table.source, table.in_order(errors))
    groups, warnings, known = parsed.groups, parsed.warnings, parsed.known
    created = _create_participants(session, groups, known, now)
    result = DeclarationImport(
        source=table.source,
        warnings=warnings,
        blank_months=blank_months(session, parsed.blank, zone=zone, now=now),
    )
    # The receipts are written once every month of the file is recorded: the receipt of March
    # must not list April as missing when the same file brings it.
    events: list[tuple[Session, DomainEvent]] = []

    def publish_later(session: Session, event: DomainEvent) -> None:
        events.append((session, event))

    # What the lots' outcomes counted before the file: it says what it did as a whole.
    counted_before = {
        clause_id: counted_outcomes(session, clause_id)
        for clause_id in sorted({group.clause.id for group in groups})
    }
    recorded: list[tuple[DeclarationSummary, ClauseHistory | None]] = []
    for group in groups:
        try:
            recorded_group = _record_group(
                session,
                group,
                known=known,
                created=created,
                source=f"fichier {table.source}",
                replace=replace,
                actor=actor,
                now=now,
                publish=publish_later,
                zone=zone,
                reason=reason,
            )
        except InputRefused as exc:
            raise FileRefused(
                # ``of`` keeps the refusal's hint for each interface (the command to type on
                # the command line, the page's words on the web).
                table.source,
                [FieldError.of(group.first_line, None, exc)],
            ) from None
        recorded.append(recorded_group)
    result.declarations.extend(_net_counts(session, recorded, counted_before))
    # Each month's events, then one per company x lot for its months together (``grouped``).
    for event in grouped([event for _, event in events]):
        publish(session, event)
    return result
