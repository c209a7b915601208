"""A company's declaration typed on its web page: what the page shows, and the reading of the form.

The form is read as a whole before anything is written: every line is checked (reference, hours,
contract, mode, the criterion of a new person) and every problem is named with the line and the
field it is about; one problem refuses the whole form, as a refused file does. A choice refused
and a name typed as a new person's reference are said in the import's words (``domain.choices``,
``services.participants.new_reference_problem``): the web page, the API and a file say them
alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.csv_files import CsvTable, parse_month
from workflow.adapters.declaration_columns import DECLARATION_COLUMNS
from workflow.adapters.orm import Declaration, DeclarationLine, Participant
from workflow.adapters.spreadsheets import read_table_bytes
from workflow.adapters.templates import french_date, french_month
from workflow.domain.characters import forbidden_character
from workflow.domain.choices import (
    CONTRACTS,
    CRITERIA,
    DELIVERY_MODES,
    Choice,
    ChoiceList,
    accepted_values,
    choice_problem,
    match_choice,
)
from workflow.domain.declaration_links import LinkScope
from workflow.domain.hours import parse_hours
from workflow.domain.participants import birth_year_problem, parse_birth_year, parse_sex
from workflow.domain.vocabulary import ContractType, Criterion, DeliveryMode, Sex
from workflow.emails.month_lists import months_list
from workflow.emails.phrases import month_phrase
from workflow.errors import FieldError, FileRefused, InputRefused
from workflow.services.declaration_imports import (
    DECLARATION_LIMITS,
    NOT_YOUR_SIRET,
    PERSON_KEYS,
    read_declarations,
)
from workflow.services.declarations import LineInput, hours_problem
from workflow.services.participants import (
    REFERENCE_MAX,
    create_participant,
    find_participant,
    get_participant,
    new_reference_problem,
)

#: Where a declaration typed on the web says it came from (history, receipts).
ONLINE_SOURCE = "déclaration en ligne"


@dataclass(frozen=True)
class KnownPerson:
    """A participant the company already declared on the lot, in any other month than the one
    shown, with their latest line before it (else their first line after it, for a month before
    the person's first): the page offers them again with that contract and mode."""

    reference: str
    criterion: str
    contract: str
    mode: str
    last_month: date
    last_hours: Decimal


#: The template's columns a file cannot do without: all of them missing, it is another file.
_REQUIRED = tuple(column.key for column in DECLARATION_COLUMNS if column.required)


def known_people(
    session: Session, clause_id: int, company_id: int, month: date
) -> list[KnownPerson]:
    """Everyone the company declared on the lot, whatever the month: the page of an earlier
    month (a reminder, a receipt's link) offers them as the latest month's does, as the emails
    promise (« vous y retrouvez les personnes déjà déclarées »)."""
    rows = session.execute(
        select(
            Participant.reference,
            Participant.criterion,
            DeclarationLine.contract_type,
            DeclarationLine.delivery_mode,
            Declaration.month,
            DeclarationLine.hours,
        )
        .join(DeclarationLine, DeclarationLine.participant_id == Participant.id)
        .join(Declaration, Declaration.id == DeclarationLine.declaration_id)
        .where(
            Declaration.clause_id == clause_id,
            Declaration.company_id == company_id,
            Declaration.month != month,
        )
        .order_by(Declaration.month, DeclarationLine.id)
    ).all()
    found: dict[str, KnownPerson] = {}
    for reference, criterion, contract, mode, declared, hours in rows:
        # In order of months: a line before ``month`` replaces the one before it (the latest
        # before is kept); a line after it counts only for a person not declared before.
        if declared < month or reference not in found:
            found[reference] = KnownPerson(reference, criterion, contract, mode, declared, hours)
    return sorted(found.values(), key=lambda person: person.reference)


@dataclass(frozen=True)
class LineForm:
    """One line of the form as typed: ``criterion`` only matters for a person new to the
    service. An empty ``hours`` means the person did not work on the lot that month."""

    reference: str
    hours: str
    contract: str
    mode: str
    criterion: str = ""
    #: From a filled template only (the form does not ask): kept for a person new to the
    #: service, or given to a known one who has none recorded, as a file import does.
    sex: str = ""
    birth_year: str = ""
    #: Where the line was read, « avril.xlsx, ligne 7 »: a problem found at confirmation is
    #: named where the company can find it in its file, not by its place in the form.
    origin: str = ""
    #: The month the line declares (ISO, ``2027-03-01``), for a line read from a template that
    #: covers several months; empty for the link's own month (every line typed in the form).
    month: str = ""


@dataclass(frozen=True)
class FormProblem:
    line: int | None  # 1-based, as the page numbers its lines; None for the whole form
    field: str | None
    message: str
    origin: str = ""  # the file's name and row, for a line read from a file

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        where = (self.origin or f"ligne {self.line}") + (f", {self.field}" if self.field else "")
        return f"{where} : {self.message}"


class FormRefused(InputRefused):
    """La déclaration n'a pas été enregistrée."""

    def __init__(self, problems: Sequence[FormProblem]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        head = f"{count} point{'s' if count > 1 else ''} à corriger ; rien n'a été enregistré."
        super().__init__("\n".join([head, *(f"- {problem}" for problem in self.problems)]))


@dataclass(frozen=True)
class ParsedLine:
    reference: str
    hours: Decimal
    contract: ContractType
    mode: DeliveryMode
    #: Set for a person the service does not know yet (created with the declaration).
    criterion: Criterion | None
    sex: Sex | None = None
    birth_year: int | None = None


def _choice(
    choices: ChoiceList[Choice], value: str, line: int, field: str, problems: list[FormProblem]
) -> Choice | None:
    """The value chosen (a code from the page's list, a label or an alias from a client), or
    None with its problem added in the words a file's import uses (``domain.choices``)."""
    found = match_choice(choices, value)
    if found is None:
        problems.append(FormProblem(line, field, choice_problem(choices, value)))
    return found


def parse_form(
    session: Session,
    lines: Sequence[LineForm],
    zero: bool,
    *,
    now: datetime,
    recorded: Mapping[str, Decimal] | None = None,
) -> tuple[list[ParsedLine], list[FormProblem]]:
    """The lines to record, and every problem found (the lines are worth nothing if any), each
    named by its file's row when the line was read from one. ``recorded``: the hours recorded
    for the month, by reference, as the form shows them back to correct them (``zero``)."""
    if zero:
        return [], hours_over_zero(lines, recorded or {})
    parsed, problems = _parse_form(session, lines, now)
    origins = {number: line.origin for number, line in enumerate(lines, start=1) if line.origin}
    return parsed, [
        replace(problem, origin=origins[problem.line])
        if problem.line is not None and problem.line in origins
        else problem
        for problem in problems
    ]


ZERO_BOX = "« Aucune heure ce mois-ci »"


def hours_over_zero(
    lines: Sequence[LineForm], recorded: Mapping[str, Decimal]
) -> list[FormProblem]:
    """The box « Aucune heure ce mois-ci » ticked over hours typed: refused, each line named,
    never a typed row dropped without a word (user trial). Not a conflict: hours left blank or
    at 0, and the recorded month's hours the form shows back unchanged (``recorded``, by
    reference): ticking the box is enough to correct a month to zero hours (README)."""
    typed = []
    for number, line in enumerate(lines, start=1):
        text = line.hours.strip()
        if not text:
            continue
        try:
            hours: Decimal | None = parse_hours(text)
        except InputRefused:
            hours = None
        reference = " ".join(line.reference.split())
        if hours == 0 or (hours is not None and recorded.get(reference) == hours):
            continue
        where = line.origin or f"ligne {number}"
        if reference:
            where += f" ({reference})"
        typed.append(f"{where} : {text} h" if hours is not None else f"{where} : « {text} »")
    if not typed:
        return []
    return [
        FormProblem(
            None,
            None,
            f"Vous avez coché {ZERO_BOX} et saisi des heures ({' ; '.join(typed)}) : "
            "décochez la case ou effacez les heures.",
        )
    ]


def _parse_form(
    session: Session, lines: Sequence[LineForm], now: datetime
) -> tuple[list[ParsedLine], list[FormProblem]]:
    problems: list[FormProblem] = []
    parsed: list[ParsedLine] = []
    seen: dict[str, int] = {}
    known = _known(session, lines)
    for number, line in enumerate(lines, start=1):
        reference = " ".join(line.reference.split())
        if not line.hours.strip() and (not reference or reference in known):
            continue  # a line left blank, or a known person who did not work on the lot
        # Every problem of the line, each with its field, in the form's order: the company
        # corrects them all at once instead of discovering them one submission at a time.
        found: list[FormProblem] = []
        usable = _reference_problems(reference, number, seen, found)
        hours = _hours(line.hours, reference, number, found)
        contract = _choice(CONTRACTS, line.contract, number, "type de contrat", found)
        mode = _choice(DELIVERY_MODES, line.mode, number, "modalité", found)
        criterion = None
        if usable and reference not in known:
            # A formula or a name is refused for a person new to the service only: one
            # recorded before these rules is still declared under what was recorded.
            if problem := new_reference_problem(reference):
                found.append(FormProblem(number, "référence", problem))
            if line.criterion.strip():
                criterion = _choice(
                    CRITERIA, line.criterion, number, "critère d'éligibilité", found
                )
            else:
                # Why it is needed, as the importer says it (« … est nécessaire pour le créer »).
                found.append(
                    FormProblem(
                        number,
                        "critère d'éligibilité",
                        f"la personne « {reference} » est déclarée pour la première "
                        "fois : son critère d'éligibilité est nécessaire pour l'enregistrer ; "
                        f"choisissez-le dans la liste : {accepted_values(CRITERIA)}.",
                    )
                )
        elif line.criterion.strip():
            # A known person keeps the criterion recorded, but a value no list holds (sent by
            # a client) is refused rather than dropped without a word.
            _choice(CRITERIA, line.criterion, number, "critère d'éligibilité", found)
        sex, birth_year = _identity(line, number, now, found)
        problems.extend(found)
        if found or hours is None or contract is None or mode is None:
            continue
        parsed.append(ParsedLine(reference, hours, contract, mode, criterion, sex, birth_year))
    if not parsed and not problems:
        problems.append(
            FormProblem(
                None,
                None,
                "Saisissez les heures d'au moins une personne, ou cochez « aucune heure ce mois-ci ».",
            )
        )
    return parsed, problems


def _reference_problems(
    reference: str, number: int, seen: dict[str, int], problems: list[FormProblem]
) -> bool:
    """Whether ``reference`` names a person (else its problem is added); remembered in ``seen``
    so that a second line of the same person is named with the first one's number."""
    if not reference:
        problem = "indiquez la référence de la personne."
    elif (bad := forbidden_character(reference)) is not None:
        problem = f"{bad}."
    elif len(reference) > REFERENCE_MAX:
        problem = f"{REFERENCE_MAX} caractères au plus."
    elif reference in seen:
        problem = f"« {reference} » figure déjà ligne {seen[reference]}."
    else:
        seen[reference] = number
        return True
    problems.append(FormProblem(number, "référence", problem))
    return False


def _hours(typed: str, reference: str, number: int, problems: list[FormProblem]) -> Decimal | None:
    """The line's hours, or None with its problem added."""
    if not typed.strip():
        problems.append(FormProblem(number, "heures", f"indiquez les heures de « {reference} »."))
        return None
    try:
        # The file import's reading and words (« 35 h » read, « 12h30 » refused alike).
        hours = parse_hours(typed)
    except InputRefused as refused:
        problems.append(FormProblem(number, "heures", str(refused)))
        return None
    if problem := hours_problem(hours):
        problems.append(FormProblem(number, "heures", problem))
        return None
    return hours


def _identity(
    line: LineForm, number: int, now: datetime, problems: list[FormProblem]
) -> tuple[Sex | None, int | None]:
    """The sex and birth year a filled template gave (both optional)."""
    sex = parse_sex(line.sex) if line.sex.strip() else None
    if line.sex.strip() and sex is None:
        problems.append(
            FormProblem(number, "sexe", f"« {line.sex} » : indiquez F ou M (Femme, Homme ou H).")
        )
    year = parse_birth_year(line.birth_year) if line.birth_year.strip() else None
    if line.birth_year.strip():
        problem = (
            "indiquez l'année sur 4 chiffres (ex. 1987)."
            if year is None
            else birth_year_problem(year, now.year)
        )
        if problem:
            problems.append(
                FormProblem(number, "année de naissance", f"« {line.birth_year} » : {problem}")
            )
            year = None
    return sex, year


def canonical_references(lines: Sequence[LineForm], known: Iterable[str]) -> list[LineForm]:
    """The lines with each reference written as the company's people on the lot are: « p-0012 »
    typed for « P-0012 » is that person, not a new one."""
    spelled = {reference.casefold(): reference for reference in known}
    return [
        replace(
            line, reference=spelled.get(" ".join(line.reference.split()).casefold(), line.reference)
        )
        for line in lines
    ]


def same_as_recorded(recorded: Declaration | None, parsed: Sequence[ParsedLine]) -> bool:
    """True when ``parsed`` is what is already recorded: a confirmation sent twice (a reload, a
    double click, a client that retries) records nothing and sends no second receipt."""
    if recorded is None:
        return False
    before = sorted(
        (line.participant.reference, line.hours, line.contract_type, line.delivery_mode)
        for line in recorded.lines
    )
    after = sorted((p.reference, p.hours, p.contract.value, p.mode.value) for p in parsed)
    return before == after


def line_inputs(session: Session, parsed: Sequence[ParsedLine], now: datetime) -> list[LineInput]:
    """The lines to record: the people ``parse_form`` gave a criterion are new to the service
    and created now; the others are found by their reference."""
    inputs = []
    for line in parsed:
        # A person new to the service on several months of one file is created with the first
        # month recorded, then found for the next ones (the same transaction).
        created = None if line.criterion is None else find_participant(session, line.reference)
        if created is not None:
            participant = created
        elif line.criterion is None:
            participant = get_participant(session, line.reference)
            # As a file import does: a sex or birth year the service lacks is taken.
            if participant.sex is None and line.sex is not None:
                participant.sex = line.sex.value
            if participant.birth_year is None and line.birth_year is not None:
                participant.birth_year = line.birth_year
        else:
            participant = create_participant(
                session,
                reference=line.reference,
                criterion=line.criterion,
                now=now,
                sex=line.sex,
                birth_year=line.birth_year,
            )
        inputs.append(LineInput(participant.id, line.hours, line.mode, line.contract))
    return inputs


def _known(session: Session, lines: Sequence[LineForm]) -> set[str]:
    """Which references of the form the service knows already: one query for the whole form."""
    wanted = {" ".join(line.reference.split()) for line in lines} - {""}
    if not wanted:
        return set()
    return set(
        session.scalars(select(Participant.reference).where(Participant.reference.in_(wanted)))
    )


def lines_from_file(
    session: Session,
    data: bytes,
    filename: str,
    scope: LinkScope,
    *,
    allowed: Sequence[date] | None = None,
    refusals: Mapping[date, str] | None = None,
    now: datetime,
    zone: ZoneInfo,
) -> FileLines:
    """The lines of a filled template (CSV, .xlsx or .ods) as the form would carry them, each
    with its month, for the company to confirm: read and checked by the importer itself, and
    refused whole, line by line, when it holds anything but the ``allowed`` months of this
    company on this lot (the link's month and the others its links let it declare now: the
    template of a call asking several months covers them all, ``covered_months``; the link's
    month alone when not given). ``refusals``: why a month the link may not declare is refused
    when there is more to say than what the link allows (a month the facilitator validated,
    ``validated_message``), said on its first line instead."""
    allowed = list(allowed) if allowed is not None else [scope.month]
    refusals = refusals or {}
    try:
        table = read_table_bytes(
            data, DECLARATION_COLUMNS, filename or "fichier", DECLARATION_LIMITS
        )
    except FileRefused as refused:
        missing = [e for e in refused.errors if "colonne manquante" in e.message]
        if missing and len(missing) == len(refused.errors) == len(_REQUIRED):
            # Not the template at all (a text file, another table): one sentence, not one line
            # per column it lacks. One column missing or misspelt (« Heure ») is named as the
            # importer names it, with the columns found (user trial, 7 December 2026: « aucune
            # de ses colonnes … n'y est » of a file that had nine of the ten).
            raise FileRefused(
                refused.source,
                [
                    FieldError(
                        None,
                        None,
                        "ce fichier n'est pas le modèle de déclaration (aucune de ses colonnes, "
                        "« Référence participant », « Heures »…, n'y est) : envoyez le modèle "
                        "joint au courriel, rempli.",
                    )
                ],
            ) from None
        raise
    if not any(any(row.cells.get(key) for key in PERSON_KEYS) for row in table.rows):
        # The importer's own refusal names a command; a company on its page has a box instead.
        raise FileRefused(
            table.source,
            [
                FieldError(
                    None,
                    None,
                    "aucune ligne de participant : le modèle n'est pas rempli. Inscrivez une "
                    "ligne par personne ; si personne n'a travaillé sur le lot ce mois-ci, "
                    "cochez « aucune heure ce mois-ci » sur cette page.",
                )
            ],
        )
    # The link names the company: its template's SIRET cell is accepted as the template gives
    # it (empty when none is recorded), a SIRET that is not its own refused in the importer's
    # words for a company (``declaration_imports.NOT_YOUR_SIRET``).
    try:
        read = read_declarations(
            session,
            table,
            clause_id=scope.clause_id,
            replace=True,
            now=now,
            zone=zone,
            from_company=True,
            company_id=scope.company_id,
        )
    except FileRefused as refused:
        raise FileRefused(refused.source, _said_for_link(refused.errors, table, allowed)) from None
    groups = read.groups
    outside = [
        FieldError(
            group.first_line,
            None,
            (refusals.get(group.month) if own else None)
            or outside_message(group.company.name, group.month, allowed),
        )
        for group in groups
        for own in [group.company.id == scope.company_id and group.clause.id == scope.clause_id]
        if not own or group.month not in allowed
    ]
    if outside:
        raise FileRefused(table.source, outside)
    if not groups:
        raise FileRefused(
            table.source,
            [FieldError(None, None, "aucune ligne avec des heures : le modèle est-il rempli ?")],
        )
    blank = tuple(b.said for b in read.blank_months)
    return FileLines(
        [
            LineForm(
                reference=line.reference,
                hours=f"{line.hours:f}".replace(".", ","),
                contract=line.contract.value,
                mode=line.mode.value,
                criterion=line.criterion.value if line.criterion else "",
                sex=line.sex.value if line.sex else "",
                birth_year=str(line.birth_year or ""),
                origin=f"{table.source}, ligne {line.line}",
                month=group.month.isoformat(),
            )
            for group in groups
            for line in group.lines
        ],
        blank,
        read.zero_months,
    )


def zero_line(month: str) -> LineForm:
    """The form's row of a month declared at zero hours (« 0 », nobody named): how the form
    shows a template's month at zero (``FileLines.zero_months``) when the company corrects it."""
    return LineForm(reference="", hours="0", contract="", mode="", month=month)


def no_hours(line: LineForm) -> bool:
    """A row of « 0 » hours naming nobody (``zero_line``): alone in its month, the month is
    declared at zero hours."""
    return (
        not line.reference.strip()
        and not line.contract
        and not line.mode
        and line.hours.strip() in {"0", "0,00", "0,0"}
    )


@dataclass(frozen=True)
class FileLines:
    """What a filled template gives the form: its lines, what it says of each month it leaves
    blank (« octobre 2026 : aucune ligne, pas déclaré ; toujours attendu (…) »,
    ``declaration_imports.BlankMonth``), and the months it declares at zero hours (its « 0 »
    line with no participant: ``DeclarationFile.zero_months``)."""

    lines: list[LineForm]
    blank_months: tuple[str, ...] = ()
    zero_months: tuple[date, ...] = ()


def _said_for_link(
    errors: Sequence[FieldError], table: CsvTable, allowed: Sequence[date]
) -> list[FieldError]:
    """The importer's refusal, a line of another company's SIRET saying which month it declares
    and what the link allows (the link declares for its own company only)."""
    months = {row.line: parse_month(row.cells.get("month", "")) for row in table.rows}
    said = []
    for error in errors:
        month = months.get(error.line) if error.line is not None else None
        if error.message == NOT_YOUR_SIRET and month is not None:
            error = replace(
                error,
                message=(
                    f"ce SIRET n'est pas celui de votre entreprise : cette ligne déclare le mois "
                    f"{month_phrase(month)} d'une autre entreprise. Ce lien permet de déclarer : "
                    f"{months_list(allowed)}, pour votre entreprise sur ce lot. Corrigez le "
                    "SIRET, ou laissez la colonne telle que le modèle la donne."
                ),
            )
        said.append(error)
    return said


def outside_message(company: str, month: date, allowed: Sequence[date]) -> str:
    """Why a line of a month the link does not allow is refused, and what it allows."""
    return (
        f"ce fichier déclare le mois {month_phrase(month)} de {company} ; "
        f"ce lien permet de déclarer : {months_list(allowed)}, pour votre entreprise sur ce lot."
    )


def validated_message(month: date, validated_on: date, validated_by: str | None) -> str:
    """Why a file's lines of a month the facilitator validated are refused, the file with them:
    the month named, when and by whom it was validated, and what to do (the other months are
    recorded once its lines are taken out; an error in it is hers to correct)."""
    by = f" par {validated_by}" if validated_by else ""
    name = french_month(month)
    return (
        f"ce fichier déclare le mois {month_phrase(month)}, dont la déclaration a déjà été "
        f"validée le {french_date(validated_on)}{by} : elle ne peut plus être modifiée ici, "
        f"et rien n'a été enregistré pour les autres mois du fichier. Retirez les lignes de "
        f"{name} du fichier, puis envoyez-le à nouveau ; une erreur en {name} ? Écrivez à la "
        "facilitatrice, qui la corrigera."
    )
