"""A lot's participants and their outcomes as the web pages show them, and the forms of
/clauses/{N}/participants: a participant recorded before their first declaration (what
``clauses participant add`` does), an outcome typed after a phone call (``clauses
participant outcome``), and one outcome corrected or withdrawn by its N° with a reason
(``clauses participant outcome-fix``, ``outcome-remove``).

Each form's text is read here as the command reads its options, with messages naming the form's
fields; then the very application function the command calls runs (``participants.add_participant``,
``participants.record_outcome``) with the signed-in user as the actor, so the rows written are
the command's rows.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select

from workflow.adapters.orm import (
    Clause,
    ClauseHistory,
    Company,
    Declaration,
    DeclarationLine,
    Outcome,
    Participant,
)
from workflow.app import participants, web_people_corrections
from workflow.app.participants import AddedParticipant
from workflow.app.unit import reading
from workflow.bootstrap import App
from workflow.domain.outcomes import OutcomeType, group_of, parse_outcome_type
from workflow.domain.participants import parse_birth_year
from workflow.domain.stages import FINAL_STAGES, LABELS, Stage
from workflow.domain.vocabulary import (
    CRITERION_LABELS,
    OUTCOME_GROUP_LABELS,
    Criterion,
    Sex,
    label_of,
)
from workflow.errors import InputRefused
from workflow.services import outcomes as outcome_service
from workflow.services.clauses import get_clause
from workflow.services.outcomes import (
    Change,
    OutcomeEdit,
    OutcomeLine,
    RecordedOutcome,
    type_label,
)

NBSP = "\u00a0"

#: The criteria in the order the form offers them: the participant's correction form's order.
CRITERIA = web_people_corrections.CRITERIA


def quoted(text: str) -> str:
    return f"«{NBSP}{text}{NBSP}»"


# --- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LotParticipant:
    """A participant declared on the lot: who declared them, their hours there, their outcome."""

    id: int
    reference: str
    criterion_label: str
    companies: tuple[str, ...]
    hours: Decimal
    outcomes: tuple[OutcomeLine, ...]


@dataclass(frozen=True)
class LotParticipants:
    clause_id: int
    market: str
    lot_number: str
    lot_title: str
    stage_label: str
    #: Closed or abandoned (``FINAL_STAGES``).
    final: bool
    #: Closed: outcomes known after the closure (a follow-up at 6 months) are still recorded.
    closed: bool
    people: tuple[LotParticipant, ...]


def lot_participants(app: App, clause_id: int) -> LotParticipants:
    """The participants with hours declared on the lot ``clause_id`` (the command's
    ``participant list --clause``), with the companies that declared them and their ids for the
    correction pages. NotFound when no clause has that N°."""
    with reading(app) as session:
        clause = get_clause(session, clause_id)
        lines = outcome_service.list_participants(session, clause_id, app.settings.outcome_groups)
        found = session.execute(
            select(Participant.id, Participant.reference, Company.name)
            .join(DeclarationLine, DeclarationLine.participant_id == Participant.id)
            .join(Declaration, Declaration.id == DeclarationLine.declaration_id)
            .join(Company, Company.id == Declaration.company_id)
            .where(Declaration.clause_id == clause_id)
            .distinct()
        ).all()
        ids: dict[str, int] = {}
        companies: dict[str, set[str]] = defaultdict(set)
        for participant_id, reference, company in found:
            ids[reference] = participant_id
            companies[reference].add(company)
        # Someone with an outcome here whose hours were cancelled stays on the page, the outcome
        # shown as not counted (``OutcomeLine.not_counted``).
        for participant_id, reference in session.execute(
            select(Participant.id, Participant.reference)
            .join(Outcome, Outcome.participant_id == Participant.id)
            .where(Outcome.clause_id == clause_id)
        ):
            ids.setdefault(reference, participant_id)
        stage = Stage(clause.stage)
        return LotParticipants(
            clause_id=clause.id,
            market=clause.market.reference,
            lot_number=clause.lot_number,
            lot_title=clause.lot_title,
            stage_label=LABELS[stage],
            final=stage in FINAL_STAGES,
            closed=stage is Stage.CLOSED,
            people=tuple(
                LotParticipant(
                    id=ids[line.reference],
                    reference=line.reference,
                    criterion_label=line.criterion_label,
                    companies=tuple(sorted(companies[line.reference])),
                    hours=line.hours,
                    outcomes=line.outcomes,
                )
                for line in lines
                if line.reference in ids
            ),
        )


def lot_exists(app: App, clause_id: int) -> bool:
    with reading(app) as session:
        return session.scalar(select(Clause.id).where(Clause.id == clause_id)) is not None


@dataclass(frozen=True)
class OutcomeChoices:
    """One group of the outcome types the form offers (``clauses participant types``)."""

    group_label: str
    types: tuple[tuple[str, str], ...]  # (code, label)


def outcome_choices(app: App) -> tuple[OutcomeChoices, ...]:
    """The accepted outcome types, group by group under the ``outcome_groups`` setting."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for line in participants.outcome_types(app):
        groups.setdefault(line.group_label, []).append((line.type.value, line.type_label))
    return tuple(OutcomeChoices(label, tuple(types)) for label, types in groups.items() if types)


# --- the confirmations a redirect's ``?fait=`` names ---------------------------------------------


def page_spaces(text: str) -> str:
    """A service's sentence as the page prints it: a non-breaking space before « : ; » and
    after « n° » (the service writes plain spaces, for the command line)."""
    return re.sub(r" (?=[:;?!»])|(?<=«) |(?<=n°) ", NBSP, text)


def outcome_done(app: App, clause_id: int, outcome_id: int, change: str) -> str | None:
    """What the lot's page says after an outcome was recorded (``change``: « enregistree »,
    « corrigee », « deja »), read from the row itself; None when the outcome is not one of this
    lot (the address was edited or the row corrected since). On a closed lot, it says what the
    outcome does to the figures already given (``outcomes.closed_note``)."""
    with reading(app) as session:
        row = session.get(Outcome, outcome_id)
        if row is None or row.clause_id != clause_id:
            return None
        reference = session.get_one(Participant, row.participant_id).reference
        group = OUTCOME_GROUP_LABELS[group_of(row.type, app.settings.outcome_groups)].lower()
        what = f"{type_label(row.type)} ({group}) le {row.date:%d/%m/%Y}"
        closed = outcome_service.closed_note(
            session, get_clause(session, clause_id), app.settings.zone, "la sortie compte dans"
        )
    if change == "deja":
        return (
            f"Rien de nouveau{NBSP}: la sortie de {reference} est déjà enregistrée telle "
            f"quelle (n°{NBSP}{outcome_id}), {what}."
        )
    verb = "corrigée" if change == "corrigee" else "enregistrée"
    said = f"Sortie n°{NBSP}{outcome_id} de {reference} {verb}{NBSP}: {what}. L'historique de la "
    if closed:
        return said + "clause la garde à votre nom." + page_spaces(closed)
    return said + "clause la garde à votre nom ; synthèses et bilans la comptent."


def edit_done(app: App, clause_id: int, history_id: int) -> str | None:
    """What the lot's page says after an outcome was corrected or withdrawn by its N°, read
    from the clause's history row that keeps it (a withdrawn outcome has no row left); None
    when the row is not such a row of this lot (an edited address)."""
    with reading(app) as session:
        row = session.get(ClauseHistory, history_id)
        if row is None or row.clause_id != clause_id or row.event != outcome_service.HISTORY_EVENT:
            return None
        said = row.reason or ""
        clause = get_clause(session, clause_id)
        zone = app.settings.zone
        corrected = outcome_service.closed_note(
            session, clause, zone, "la sortie corrigée compte dans"
        )
        withdrawn = outcome_service.closed_note(
            session, clause, zone, "la sortie ne compte plus dans"
        )
    found = re.fullmatch(r"sortie n° (\d+) de (.+?) (corrigée|retirée) : (.*)", said, re.S)
    if found is None:
        return None
    number, reference, verb, rest = found.groups()
    rest = rest.rstrip(".").replace(" : ", f"{NBSP}: ")  # the page's spacing, not the file's
    text = f"Sortie n°{NBSP}{number} de {reference} {verb}{NBSP}: {rest}."
    if verb == "retirée":
        if withdrawn:
            return text + page_spaces(withdrawn)
        return (
            text + " Elle ne compte plus dans les synthèses ni les bilans ; l'historique de la "
            "clause garde qui, quand et pourquoi."
        )
    return (
        text
        + " L'historique de la clause garde l'ancienne et la nouvelle, à votre nom."
        + page_spaces(corrected)
    )


def already_removed_done(app: App, clause_id: int, outcome_id: int) -> str | None:
    """What the lot's page says when a withdrawal is asked again (a form sent twice): the one
    already made, from the history that keeps it; None when it is not one of this lot."""
    with reading(app) as session:
        withdrawn = outcome_service.find_withdrawal(session, outcome_id, app.settings.zone)
    if withdrawn is None or withdrawn.clause_id != clause_id:
        return None
    return page_spaces(f"Rien de nouveau : {withdrawn.sentence}.")


#: The word of ``?fait=sortie-N-…`` for each thing ``record_outcome`` may have done.
CHANGE_CODES = {
    Change.CREATED: "enregistree",
    Change.REPLACED: "corrigee",
    Change.UNCHANGED: "deja",
}


def outcome_change_code(recorded: RecordedOutcome) -> str:
    """The word of ``?fait=sortie-N-…`` for what ``record_outcome`` did."""
    return CHANGE_CODES[recorded.change]


@dataclass(frozen=True)
class AddedDone:
    participant_id: int
    reference: str
    message: str


def participant_done(app: App, participant_id: int) -> AddedDone | None:
    """What the lot's page says after a participant was recorded, read from their row."""
    with reading(app) as session:
        row = session.get(Participant, participant_id)
        if row is None:
            return None
        parts = [f"critère {quoted(label_of(CRITERION_LABELS, row.criterion))}"]
        if row.sex is not None:
            parts.append(f"sexe {row.sex}")
        if row.birth_year is not None:
            parts.append(f"année de naissance {row.birth_year}")
        if row.validated_on is not None:
            parts.append(f"éligibilité validée le {row.validated_on:%d/%m/%Y} ({row.proof})")
        else:
            parts.append("éligibilité à valider")
        message = (
            f"Participant {row.reference} enregistré{NBSP}: {' ; '.join(parts)}. Référence à "
            f"donner à l'entreprise, qui l'écrira dans ses déclarations{NBSP}: {row.reference}. "
            "Il figurera dans la liste du lot dès qu'une déclaration portera ses heures."
        )
        return AddedDone(row.id, row.reference, message)


# --- the forms ----------------------------------------------------------------------------------


def _day(text: str, field: str) -> date | None:
    """« 25/11/2026 » as people write it, « 2026-11-25 » as a date field sends it; empty is
    none; else a refusal naming ``field``."""
    cleaned = text.strip()
    if not cleaned:
        return None
    for pattern in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            found = datetime.strptime(cleaned, pattern).date()
        except ValueError:
            continue
        if 1900 <= found.year < 3000:
            return found
    raise InputRefused(f"{field} {quoted(text)}{NBSP}: ce n'est pas une date (jj/mm/aaaa).")


def _criterion(text: str) -> Criterion:
    if not text.strip():
        raise InputRefused(f"Critère d'éligibilité{NBSP}: choisissez-le dans la liste.")
    try:
        return Criterion(text.strip())
    except ValueError:
        raise InputRefused(
            f"Critère d'éligibilité {quoted(text)}{NBSP}: choisissez un des critères de la liste."
        ) from None


def _sex(text: str) -> Sex | None:
    if not text.strip():
        return None
    try:
        return Sex(text.strip().upper())
    except ValueError:
        raise InputRefused(
            f"Sexe {quoted(text)}{NBSP}: choisissez F (femme) ou M (homme)."
        ) from None


def _birth_year(text: str) -> int | None:
    if not text.strip():
        return None
    year = parse_birth_year(text)
    if year is None:
        raise InputRefused(
            f"Année de naissance {quoted(text)}{NBSP}: indiquez l'année sur 4 chiffres "
            "(par exemple 1987)."
        )
    return year


def add_from_form(
    app: App,
    *,
    reference: str,
    auto: bool,
    criterion: str,
    sex: str = "",
    birth_year: str = "",
    proof: str = "",
    validated_on: str = "",
    actor: str,
) -> AddedDone:
    """``clauses participant add`` from the form's text: the same checks (a reference or the
    next free one, never both; a validation date only with its proof), then
    ``participants.add_participant``."""
    typed = reference.strip()
    if auto and typed:
        raise InputRefused(
            f"Référence{NBSP}: la case {quoted('Prochaine référence libre')} donne la référence "
            f"; videz le champ ou décochez la case (vous avez indiqué {quoted(typed)})."
        )
    if not auto and not typed:
        raise InputRefused(
            f"Référence{NBSP}: indiquez la référence pseudonyme du participant (jamais un nom), "
            f"ou cochez {quoted('Prochaine référence libre')}."
        )
    if validated_on.strip() and not proof.strip():
        raise InputRefused(
            f"Date de validation{NBSP}: elle va avec le justificatif vérifié ; indiquez aussi "
            "le justificatif."
        )
    added: AddedParticipant = participants.add_participant(
        app,
        None if auto else typed,
        criterion=_criterion(criterion),
        sex=_sex(sex),
        birth_year=_birth_year(birth_year),
        proof=proof if proof.strip() else None,
        validated_on=_day(validated_on, "Date de validation"),
        actor=actor,
    )
    with reading(app) as session:
        number = session.scalars(
            select(Participant.id).where(Participant.reference == added.reference)
        ).one()
    done = participant_done(app, number)
    assert done is not None  # just recorded, in a committed transaction
    return done


def outcome_type_of(text: str) -> OutcomeType:
    """The type the form's list sends (its code), or typed as the command takes it."""
    cleaned = text.strip()
    if not cleaned:
        raise InputRefused(f"Type de sortie{NBSP}: choisissez-le dans la liste.")
    try:
        return OutcomeType(cleaned)
    except ValueError:
        pass
    try:
        return parse_outcome_type(cleaned)
    except InputRefused:
        raise InputRefused(
            f"Type de sortie {quoted(text)}{NBSP}: choisissez un des types de la liste."
        ) from None


def record_from_form(
    app: App,
    clause_id: int,
    *,
    reference: str,
    outcome_type: str,
    on: str,
    replace: bool,
    actor: str,
) -> RecordedOutcome:
    """``clauses participant outcome REF --clause N --type … --date …`` from the form's text,
    then ``participants.record_outcome`` (its checks: hours declared on the lot, a date between
    the first month declared there and today, one situation a day; ``replace`` corrects the
    only outcome)."""
    if not reference.strip():
        raise InputRefused(f"Participant{NBSP}: choisissez-le dans la liste.")
    kind = outcome_type_of(outcome_type)
    day = _day(on, "Date de sortie")
    if day is None:
        raise InputRefused(f"Date de sortie{NBSP}: indiquez-la (jj/mm/aaaa).")
    return participants.record_outcome(
        app,
        reference,
        clause=clause_id,
        outcome_type=kind,
        on=day,
        replace=replace,
        actor=actor,
    )


def _number(text: str) -> int:
    """The outcome's N° the list sends; refused naming the field otherwise."""
    cleaned = text.strip().removeprefix("n°").strip()
    if not cleaned:
        raise InputRefused(f"Sortie{NBSP}: choisissez-la dans la liste.")
    if not cleaned.isdigit() or len(cleaned) > 9:
        raise InputRefused(f"Sortie {quoted(text)}{NBSP}: choisissez-la dans la liste.")
    return int(cleaned)


def fix_from_form(
    app: App,
    clause_id: int,
    *,
    number: str,
    outcome_type: str,
    on: str,
    reason: str,
    actor: str,
) -> OutcomeEdit:
    """``clauses participant outcome-fix N° --type … --date … --reason …`` from the form's text
    (an empty type or date stays as recorded), on an outcome of this lot."""
    outcome_id = _number(number)
    kind = outcome_type_of(outcome_type) if outcome_type.strip() else None
    day = _day(on, "Date de sortie")
    if kind is None and day is None:
        raise InputRefused(
            f"Type de sortie, Date de sortie{NBSP}: indiquez le bon type, la bonne date ou les "
            "deux (ce qui reste vide ne change pas)."
        )
    if not reason.strip():
        raise InputRefused(
            f"Motif{NBSP}: dites pourquoi la sortie est corrigée, l'historique de la clause le "
            "garde."
        )
    return participants.fix_outcome(
        app, outcome_id, outcome_type=kind, on=day, reason=reason, actor=actor, on_clause=clause_id
    )


def remove_from_form(
    app: App, clause_id: int, *, number: str, reason: str, actor: str
) -> OutcomeEdit:
    """``clauses participant outcome-remove N° --reason …`` from the form's text, on an outcome
    of this lot."""
    outcome_id = _number(number)
    if not reason.strip():
        raise InputRefused(
            f"Motif{NBSP}: dites pourquoi la sortie est retirée, l'historique de la clause le "
            "garde."
        )
    return participants.remove_outcome(
        app, outcome_id, reason=reason, actor=actor, on_clause=clause_id
    )
