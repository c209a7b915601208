"""``clauses participant ...`` and ``clauses import outcomes``: participants and their outcomes.

Participants are pseudonymous: the CLI shows their reference, criterion, sex, birth year and
eligibility proof, never a name. Each command calls one function of ``workflow.app.participants``
(or ``app.imports``) and renders what it returns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from workflow.adapters.templates import french_hours
from workflow.app import imports as import_commands
from workflow.app import participants as commands
from workflow.app.imports import OutcomesImported
from workflow.app.participants import AddedParticipant
from workflow.domain.outcomes import OutcomeType, parse_outcome_type
from workflow.domain.participants import parse_birth_year, parse_sex
from workflow.domain.summary import AGE_BAND_LABELS, age_band
from workflow.domain.vocabulary import (
    CRITERION_ALIASES,
    CRITERION_LABELS,
    OUTCOME_GROUP_LABELS,
    Criterion,
    Sex,
    match_label,
)
from workflow.entrypoints.cli.common import (
    actor_option,
    get_app,
    handle_errors,
    json_option,
    number,
    parse_date_fr,
    plural,
    print_json,
    print_table,
    reason_option,
    say,
)
from workflow.errors import InputRefused
from workflow.services.outcomes import (
    Change,
    OutcomeEdit,
    OutcomeLine,
    ParticipantLine,
    RecordedOutcome,
)
from workflow.services.participants import ParticipantChange

CHANGE_WORDS = {
    Change.CREATED: "enregistrée",
    Change.UNCHANGED: "déjà enregistrée",
    Change.REPLACED: "corrigée",
}

replace_option = click.option(
    "--replace",
    is_flag=True,
    help="Corrige la sortie déjà enregistrée pour ce participant sur cette clause, s'il n'en a "
    "qu'une (sinon : clauses participant outcome-fix N°).",
)

TYPE_HELP = (
    "Type de sortie, ex. « CDI », « CDD de moins de 6 mois », « contrat d'apprentissage », "
    "« contrat pro », « formation courte », « formation qualifiante », « perdu de vue » (la "
    "liste : clauses participant types)."
)

#: A clause designated as people know it.
CLAUSE_HELP = "son N° ou la référence du marché et le lot, ex. « 2026-014/01 »"


def parse_type(text: str) -> OutcomeType:
    try:
        return parse_outcome_type(text)
    except InputRefused as exc:
        raise InputRefused(f"--type {exc.message}") from None


def outcome_data(line: OutcomeLine) -> dict[str, Any]:
    return {
        "sortie": line.id,
        "participant": line.reference,
        "clause": line.clause_id,
        "marche": line.market,
        "lot": line.lot_number,
        "type": line.type,
        "type_libelle": line.type_label,
        "groupe": line.group,
        "groupe_libelle": line.group_label,
        "date": line.on,
        "comptee": line.counted,
        "non_comptee": line.not_counted,
    }


def recorded_data(recorded: RecordedOutcome) -> dict[str, Any]:
    previous = recorded.previous
    return {
        "sortie": recorded.outcome_id,
        "participant": recorded.reference,
        "clause": recorded.clause_id,
        "type": recorded.outcome_type,
        "type_libelle": recorded.outcome_type.label,
        "groupe": recorded.group,
        "groupe_libelle": OUTCOME_GROUP_LABELS[recorded.group],
        "date": recorded.on,
        "resultat": CHANGE_WORDS[recorded.change],
        "modifie": recorded.change is not Change.UNCHANGED,
        "remplace": {"type_libelle": previous[0], "date": previous[1]} if previous else None,
    }


@click.group("participant")
def participant_group() -> None:
    """Participants (références pseudonymes) : enregistrement, sexe, année de naissance,
    éligibilité, sorties."""


@participant_group.command("outcome")
@click.argument("reference", metavar="REFERENCE")
@click.option("--clause", required=True, help=f"La clause quittée : {CLAUSE_HELP}.")
@click.option(
    "--type",
    "type_text",
    required=True,
    help=TYPE_HELP,
)
@click.option("--date", "date_text", required=True, help="Date de la sortie (jj/mm/aaaa).")
@replace_option
@actor_option
@json_option
@handle_errors
def outcome_command(
    reference: str,
    clause: str,
    type_text: str,
    date_text: str,
    replace: bool,
    actor: str | None,
    as_json: bool,
) -> None:
    """Enregistre une sortie d'un participant d'une clause où il a travaillé, même clôturée.
    Un participant peut en avoir plusieurs (une formation courte puis un CDI), une par jour ;
    sans risque si relancé : la même sortie n'est enregistrée qu'une fois. Pour corriger ou
    retirer une sortie : outcome-fix, outcome-remove."""
    outcome_type = parse_type(type_text)
    on = parse_date_fr(date_text, "--date")
    recorded = commands.record_outcome(
        get_app(),
        reference,
        clause=clause,
        outcome_type=outcome_type,
        on=on,
        replace=replace,
        actor=actor,
    )
    if as_json:
        print_json(recorded_data(recorded))
    else:
        say(recorded.message)


def edit_data(edit: OutcomeEdit) -> dict[str, Any]:
    return {
        "sortie": edit.outcome_id,
        "participant": edit.reference,
        "clause": edit.clause_id,
        "avant": edit.before,
        "apres": edit.after,
        "retiree": edit.removed,
        "motif": edit.reason,
        "modifie": edit.changed,
        # A withdrawal asked again: the day the first one was made (its reason is ``motif``).
        "deja_retiree_le": edit.already.on if edit.already is not None else None,
        "message": edit.message,
    }


def print_edit(edit: OutcomeEdit, as_json: bool) -> None:
    if as_json:
        print_json(edit_data(edit))
    else:
        say(edit.message)


required_reason = click.option(
    "--reason",
    default=None,
    help="Pourquoi (obligatoire) : inscrit à l'historique de la clause avec qui et quand.",
)


@participant_group.command("outcome-fix")
@click.argument("outcome_id", metavar="N°", type=int)
@click.option("--type", "type_text", default=None, help=f"Le bon type. {TYPE_HELP}")
@click.option("--date", "date_text", default=None, help="La bonne date (jj/mm/aaaa).")
@required_reason
@actor_option
@json_option
@handle_errors
def outcome_fix_command(
    outcome_id: int,
    type_text: str | None,
    date_text: str | None,
    reason: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Corrige la sortie N° (son numéro : clauses participant list) : son type, sa date ou les
    deux, avec un motif gardé à l'historique de la clause (l'ancienne et la nouvelle)."""
    if type_text is None and date_text is None:
        raise click.UsageError("Rien à corriger : indiquez --type, --date ou les deux.")
    outcome_type = parse_type(type_text) if type_text is not None else None
    on = parse_date_fr(date_text, "--date") if date_text is not None else None
    edit = commands.fix_outcome(
        get_app(), outcome_id, outcome_type=outcome_type, on=on, reason=reason, actor=actor
    )
    print_edit(edit, as_json)


@participant_group.command("outcome-remove")
@click.argument("outcome_id", metavar="N°", type=int)
@required_reason
@actor_option
@json_option
@handle_errors
def outcome_remove_command(
    outcome_id: int, reason: str | None, actor: str | None, as_json: bool
) -> None:
    """Retire la sortie N° enregistrée par erreur (son numéro : clauses participant list) : elle
    ne compte plus ; l'historique de la clause garde qui, quand, laquelle et pourquoi (celui du
    participant pour une sortie ancienne sans clause). Sans risque si relancé : une sortie déjà
    retirée est dite retirée, avec la date et le motif, rien ne change."""
    edit = commands.remove_outcome(get_app(), outcome_id, reason=reason, actor=actor)
    print_edit(edit, as_json)


def participant_data(line: ParticipantLine, this_year: int) -> dict[str, Any]:
    band = age_band(line.birth_year, this_year)
    return {
        "reference": line.reference,
        "critere": line.criterion,
        "critere_libelle": line.criterion_label,
        "sexe": line.sex,
        "annee_naissance": line.birth_year,
        "tranche_age": band,
        "tranche_age_libelle": AGE_BAND_LABELS[band],
        "eligibilite_validee": line.validated_on is not None,
        "justificatif": line.proof or None,
        "date_validation": line.validated_on,
        "heures": line.hours,
        "clauses": list(line.clause_ids),
        "sorties": [outcome_data(o) for o in line.outcomes],
    }


def outcome_cell(line: OutcomeLine, with_clause: bool) -> str:
    where = f", clause n° {line.clause_id}" if with_clause and line.clause_id else ""
    text = (
        f"n° {line.id} : {line.type_label} ({line.group_label.lower()}) le "
        f"{line.on:%d/%m/%Y}{where}"
    )
    return text if line.not_counted is None else f"{text} – {line.not_counted}"


def eligibility_cell(line: ParticipantLine) -> str:
    return "à valider" if line.validated_on is None else f"{line.validated_on:%d/%m/%Y}"


def to_complete(lines: list[ParticipantLine]) -> str | None:
    """What the facilitator still has to record, and with which command; None when nothing."""
    missing = sum(1 for line in lines if line.sex is None or line.birth_year is None)
    unchecked = sum(1 for line in lines if line.validated_on is None)
    parts = []
    if missing:
        parts.append(
            f"{plural(missing, 'participant', 'participants')} sans sexe ou année de naissance "
            "(clauses participant set)"
        )
    if unchecked:
        parts.append(
            f"{plural(unchecked, 'éligibilité', 'éligibilités')} à valider "
            "(clauses participant validate)"
        )
    return f"À compléter : {' ; '.join(parts)}." if parts else None


@participant_group.command("list")
@click.option("--clause", default=None, help=f"Une seule clause : {CLAUSE_HELP}.")
@json_option
@handle_errors
def list_command(clause: str | None, as_json: bool) -> None:
    """Liste les participants : critère, sexe, année de naissance, éligibilité validée, heures
    déclarées, clauses et sorties (jamais de nom)."""
    listed = commands.participant_list(get_app(), clause)
    lines, clause_id = list(listed.lines), listed.clause_id
    if as_json:
        print_json([participant_data(line, listed.this_year) for line in lines])
        return
    scope = f" de la clause n° {clause_id}" if clause_id is not None else ""
    hours_column = "Heures sur la clause" if clause_id is not None else "Heures déclarées"
    print_table(
        f"Participants{scope}",
        [
            *("Référence", "Critère", "Sexe", "Naissance", "Éligibilité"),
            *(hours_column, "Clauses", "Sorties"),
        ],
        [
            [
                line.reference,
                line.criterion_label,
                line.sex or "–",
                line.birth_year or "–",
                eligibility_cell(line),
                french_hours(line.hours),
                ", ".join(f"n° {n}" for n in line.clause_ids) or "–",
                "\n".join(outcome_cell(o, clause_id is None) for o in line.outcomes) or "–",
            ]
            for line in lines
        ],
    )
    outcomes = sum(len(line.outcomes) for line in lines)
    uncounted = sum(1 for line in lines for o in line.outcomes if not o.counted)
    aside = f" (dont {plural(uncounted, 'non comptée', 'non comptées')} dans les bilans)"
    aside = aside if uncounted else ""
    say(
        f"{plural(len(lines), 'participant', 'participants')}, "
        f"{plural(outcomes, 'sortie enregistrée', 'sorties enregistrées')}{aside}."
    )
    if note := to_complete(lines):
        say(note)


# --- completing and validating ------------------------------------------------------------------


def change_data(change: ParticipantChange) -> dict[str, Any]:
    return {
        "participant": change.reference,
        "modifie": change.changed,
        "changements": [
            {"champ": c.field, "libelle": c.label, "avant": c.before, "apres": c.after}
            for c in change.changes
        ],
        "message": change.message,
        "critere": change.criterion,
        "sexe": change.sex,
        "annee_naissance": change.birth_year,
        "justificatif": change.proof or None,
        "date_validation": change.validated_on,
    }


def print_change(change: ParticipantChange, as_json: bool) -> None:
    if as_json:
        print_json(change_data(change))
    else:
        say(change.message)


def parse_sex_option(text: str) -> Sex:
    sex = parse_sex(text)
    if sex is None:
        raise InputRefused(f"--sex « {text} » : indiquez F (femme) ou M (homme).")
    return sex


def parse_birth_year_option(text: str) -> int:
    year = parse_birth_year(text)
    if year is None:
        raise InputRefused(f"--birth-year « {text} » : indiquez l'année sur 4 chiffres (ex. 1987).")
    return year


def parse_criterion_option(text: str) -> Criterion:
    criterion = match_label(text, CRITERION_LABELS, CRITERION_ALIASES)
    if criterion is None:
        accepted = " ; ".join(f"« {label} »" for label in CRITERION_LABELS.values())
        raise InputRefused(
            f"--criterion « {text} » n'est pas reconnu. Valeurs acceptées : {accepted} "
            "(ou RSA, RQTH, DELD, QPV, IAE, senior)."
        )
    return criterion


@participant_group.command("set")
@click.argument("reference", metavar="REFERENCE")
@click.option("--sex", "sex_text", default=None, help="F (femme) ou M (homme).")
@click.option("--birth-year", "birth_year_text", default=None, help="Année de naissance (aaaa).")
@click.option(
    "--criterion",
    "criterion_text",
    default=None,
    help="Critère d'éligibilité, ex. « RSA », « RQTH », « Demandeur d'emploi de longue durée ».",
)
@reason_option
@actor_option
@json_option
@handle_errors
def set_command(
    reference: str,
    sex_text: str | None,
    birth_year_text: str | None,
    criterion_text: str | None,
    reason: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Complète ou corrige un participant : seuls les champs indiqués changent. Changer de
    critère retire la validation d'éligibilité, à refaire avec « participant validate ».
    Chaque changement est gardé à l'historique (« clauses privacy export » le montre)."""
    if sex_text is None and birth_year_text is None and criterion_text is None:
        raise click.UsageError(
            "Rien à modifier : indiquez --sex, --birth-year ou --criterion (au moins un)."
        )
    sex = parse_sex_option(sex_text) if sex_text is not None else None
    birth_year = parse_birth_year_option(birth_year_text) if birth_year_text is not None else None
    criterion = parse_criterion_option(criterion_text) if criterion_text is not None else None
    change = commands.update_participant(
        get_app(),
        reference,
        sex=sex,
        birth_year=birth_year,
        criterion=criterion,
        reason=reason,
        actor=actor,
    )
    print_change(change, as_json)


@participant_group.command("validate")
@click.argument("reference", metavar="REFERENCE")
@click.option(
    "--proof",
    required=True,
    help="La pièce vérifiée, ex. « Attestation France Travail DELD » (sans nom ni numéro).",
)
@click.option(
    "--date",
    "date_text",
    default=None,
    help="Date de la validation (jj/mm/aaaa ; par défaut : aujourd'hui).",
)
@reason_option
@actor_option
@json_option
@handle_errors
def validate_command(
    reference: str,
    proof: str,
    date_text: str | None,
    reason: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Enregistre le justificatif d'éligibilité vérifié et la date de validation (sans risque si
    relancé : le même justificatif garde sa date)."""
    on = parse_date_fr(date_text, "--date") if date_text is not None else None
    change = commands.validate_eligibility(
        get_app(), reference, proof=proof, on=on, reason=reason, actor=actor
    )
    print_change(change, as_json)


def added_data(added: AddedParticipant) -> dict[str, Any]:
    return {
        "participant": added.reference,
        "automatique": added.auto,
        "critere": added.criterion,
        "critere_libelle": added.criterion_label,
        "sexe": added.sex,
        "annee_naissance": added.birth_year,
        "justificatif": added.proof,
        "date_validation": added.validated_on,
        "message": added.message,
    }


@participant_group.command("add")
@click.argument("reference", metavar="[RÉF]", required=False)
@click.option(
    "--auto",
    is_flag=True,
    help="Au lieu de RÉF : la prochaine référence libre, de la forme P-AAAA-NNNN (l'année "
    "d'enregistrement, puis le rang du participant parmi tous ceux enregistrés cette année-là, "
    "importés compris, ex. P-2026-0042). Une référence donnée ne l'est jamais deux fois, même "
    "après une purge.",
)
@click.option(
    "--criterion",
    "criterion_text",
    required=True,
    help="Critère d'éligibilité, ex. « RSA », « RQTH », « DELD », « Demandeur d'emploi de "
    "longue durée ».",
)
@click.option(
    "--proof",
    default=None,
    help="La pièce vérifiée, ex. « Attestation France Travail DELD » (sans nom ni numéro) : "
    "l'éligibilité est alors validée.",
)
@click.option(
    "--date",
    "date_text",
    default=None,
    help="Date de la validation, avec --proof (jj/mm/aaaa ; par défaut : aujourd'hui).",
)
@click.option("--sex", "sex_text", default=None, help="F (femme) ou M (homme).")
@click.option("--birth-year", "birth_year_text", default=None, help="Année de naissance (aaaa).")
@json_option
@handle_errors
def add_command(
    reference: str | None,
    auto: bool,
    criterion_text: str,
    proof: str | None,
    date_text: str | None,
    sex_text: str | None,
    birth_year_text: str | None,
    as_json: bool,
) -> None:
    """Enregistre un participant avant sa première déclaration, sous la référence RÉF choisie
    (pseudonyme : jamais de nom) ou, avec --auto, sous la prochaine référence libre, à donner à
    l'entreprise pour ses déclarations. Mêmes règles qu'un fichier de déclaration : critère
    exigé, au moins 14 ans cette année ; une référence ne commence pas par = + - @ (un tableur
    la lirait comme une formule) et ne s'écrit pas comme un prénom et un nom (« Jean
    Dupont » est refusé)."""
    if auto and reference is not None:
        raise click.UsageError(f"--auto donne la référence : n'indiquez pas aussi « {reference} ».")
    if not auto and reference is None:
        raise click.UsageError(
            "Indiquez la référence du participant (RÉF) ou --auto pour la prochaine libre."
        )
    if date_text is not None and proof is None:
        raise click.UsageError("--date est la date de validation : indiquez aussi --proof.")
    criterion = parse_criterion_option(criterion_text)
    sex = parse_sex_option(sex_text) if sex_text is not None else None
    birth_year = parse_birth_year_option(birth_year_text) if birth_year_text is not None else None
    on = parse_date_fr(date_text, "--date") if date_text is not None else None
    added = commands.add_participant(
        get_app(),
        None if auto else reference,
        criterion=criterion,
        sex=sex,
        birth_year=birth_year,
        proof=proof,
        validated_on=on,
    )
    if as_json:
        print_json(added_data(added))
    else:
        say(added.message)


@participant_group.command("types")
@json_option
@handle_errors
def types_command(as_json: bool) -> None:
    """Liste les types de sortie acceptés, par groupe (selon le réglage outcome_groups s'il
    change le classement par défaut)."""
    rows = commands.outcome_types(get_app())
    if as_json:
        print_json(
            [
                {
                    "type": row.type,
                    "type_libelle": row.type_label,
                    "groupe": row.group,
                    "groupe_libelle": row.group_label,
                }
                for row in rows
            ]
        )
        return
    print_table(
        "Types de sortie", ["Type", "Groupe"], [[row.type_label, row.group_label] for row in rows]
    )


# --- import -------------------------------------------------------------------------------------


def import_data(result: OutcomesImported) -> dict[str, Any]:
    return {
        "fichier": result.source,
        "rien_de_nouveau": result.nothing_new,
        "enregistrees": result.count(Change.CREATED),
        "corrigees": result.count(Change.REPLACED),
        "deja_enregistrees": result.count(Change.UNCHANGED),
        "sorties": [recorded_data(o) for o in result.outcomes],
        "avertissements": [str(w) for w in result.warnings],
        # Each closed clause an outcome was recorded or corrected on: its final report is kept.
        "clauses_cloturees": list(result.closed),
    }


def print_import(result: OutcomesImported) -> None:
    print_table(
        f"Import des sorties de {result.source}",
        ["Participant", "Clause", "Sortie", "Résultat"],
        [
            [o.reference, f"n° {o.clause_id}", o.description, CHANGE_WORDS[o.change]]
            for o in result.outcomes
        ],
    )
    if result.nothing_new:
        say(
            f"Rien de nouveau : {plural(len(result.outcomes), 'sortie', 'sorties')} du fichier, "
            "toutes déjà enregistrées."
        )
    else:
        say(
            f"Sorties enregistrées : {number(result.count(Change.CREATED))}, corrigées : "
            f"{number(result.count(Change.REPLACED))}, déjà enregistrées : "
            f"{number(result.count(Change.UNCHANGED))}."
        )
    for sentence in result.closed:
        say(sentence)
    if result.warnings:
        say("Attention :", style="bold yellow")
        for warning in result.warnings:
            say(f"  - {warning}", style="yellow")


@click.command("outcomes")
@click.argument(
    "path", metavar="FICHIER", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--clause",
    default=None,
    help=f"La clause de toutes les lignes : {CLAUSE_HELP} (sinon : les colonnes marché et lot).",
)
@replace_option
@actor_option
@json_option
@handle_errors
def import_outcomes_command(
    path: Path, clause: str | None, replace: bool, actor: str | None, as_json: bool
) -> None:
    """Importe des sorties de participants d'un CSV, .xlsx ou .ods (colonnes : Référence
    participant ; N° marché ; Lot ; Type de sortie ; Date). Tout le fichier est vérifié d'abord :
    une erreur, rien n'est importé."""
    result = import_commands.import_outcomes(
        get_app(), path, clause=clause, replace=replace, actor=actor
    )
    if as_json:
        print_json(import_data(result))
    else:
        print_import(result)


COMMANDS: list[click.Command] = [participant_group]
