"""``clauses participant ...`` and ``clauses import outcomes``: participants and their outcomes.

Participants are pseudonymous: the CLI shows their reference and criterion, never a name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from workflow.adapters.templates import french_hours
from workflow.domain.outcomes import OUTCOME_TYPE_LABELS, OutcomeType, parse_outcome_type
from workflow.domain.vocabulary import OUTCOME_GROUP_LABELS
from workflow.entrypoints.cli.common import (
    console,
    get_app,
    handle_errors,
    json_option,
    parse_date_fr,
    print_json,
    print_table,
)
from workflow.entrypoints.cli.imports import plural
from workflow.errors import InputRefused
from workflow.services.outcome_imports import OutcomesImport, import_outcomes_file
from workflow.services.outcomes import (
    Change,
    OutcomeLine,
    ParticipantLine,
    RecordedOutcome,
    list_participants,
    record_outcome,
)

CHANGE_WORDS = {
    Change.CREATED: "enregistrée",
    Change.UNCHANGED: "déjà enregistrée",
    Change.REPLACED: "corrigée",
}

actor_option = click.option(
    "--actor", default=None, help="Qui enregistre (par défaut : la facilitatrice)."
)
replace_option = click.option(
    "--replace", is_flag=True, help="Remplace une sortie déjà enregistrée pour ce participant."
)


def say(text: str, style: str | None = None) -> None:
    console.print(text, style=style, soft_wrap=True, markup=False)


def parse_type(text: str) -> OutcomeType:
    try:
        return parse_outcome_type(text)
    except InputRefused as exc:
        raise InputRefused(f"--type {exc.message}") from None


def outcome_data(line: OutcomeLine) -> dict[str, Any]:
    return {
        "participant": line.reference,
        "clause": line.clause_id,
        "marche": line.market,
        "lot": line.lot_number,
        "type": line.type,
        "type_libelle": line.type_label,
        "groupe": line.group,
        "groupe_libelle": line.group_label,
        "date": line.on,
    }


def recorded_data(recorded: RecordedOutcome) -> dict[str, Any]:
    previous = recorded.previous
    return {
        "sortie": recorded.outcome_id,
        "participant": recorded.reference,
        "clause": recorded.clause_id,
        "type": recorded.outcome_type,
        "type_libelle": recorded.outcome_type.label,
        "groupe": recorded.outcome_type.group,
        "groupe_libelle": OUTCOME_GROUP_LABELS[recorded.outcome_type.group],
        "date": recorded.on,
        "resultat": CHANGE_WORDS[recorded.change],
        "modifie": recorded.change is not Change.UNCHANGED,
        "remplace": {"type_libelle": previous[0], "date": previous[1]} if previous else None,
    }


@click.group("participant")
def participant_group() -> None:
    """Participants (références pseudonymes) et leurs sorties."""


@participant_group.command("outcome")
@click.argument("reference", metavar="REFERENCE")
@click.option("--clause", "clause_id", type=int, required=True, help="La clause quittée.")
@click.option(
    "--type",
    "type_text",
    required=True,
    help="Type de sortie, ex. « CDI », « CDD de moins de 6 mois », « formation qualifiante », "
    "« perdu de vue » (la liste : clauses participant types).",
)
@click.option("--date", "date_text", required=True, help="Date de la sortie (jj/mm/aaaa).")
@replace_option
@actor_option
@json_option
@handle_errors
def outcome_command(
    reference: str,
    clause_id: int,
    type_text: str,
    date_text: str,
    replace: bool,
    actor: str | None,
    as_json: bool,
) -> None:
    """Enregistre la sortie d'un participant d'une clause où il a travaillé (sans risque si
    relancé : la même sortie n'est enregistrée qu'une fois)."""
    outcome_type = parse_type(type_text)
    on = parse_date_fr(date_text, "--date")
    app = get_app()
    now = app.clock()
    with app.transaction() as session:
        recorded = record_outcome(
            session,
            reference=reference,
            clause_id=clause_id,
            outcome_type=outcome_type,
            on=on,
            actor=actor or app.settings.facilitator_name,
            now=now,
            zone=app.settings.zone,
            replace=replace,
        )
    if as_json:
        print_json(recorded_data(recorded))
    else:
        say(recorded.message)


def participant_data(line: ParticipantLine) -> dict[str, Any]:
    return {
        "reference": line.reference,
        "critere": line.criterion,
        "critere_libelle": line.criterion_label,
        "heures": line.hours,
        "clauses": list(line.clause_ids),
        "sorties": [outcome_data(o) for o in line.outcomes],
    }


def outcome_cell(line: OutcomeLine, with_clause: bool) -> str:
    where = f", clause n° {line.clause_id}" if with_clause and line.clause_id else ""
    return f"{line.type_label} ({line.group_label.lower()}) le {line.on:%d/%m/%Y}{where}"


@participant_group.command("list")
@click.option("--clause", "clause_id", type=int, default=None, help="Une seule clause.")
@json_option
@handle_errors
def list_command(clause_id: int | None, as_json: bool) -> None:
    """Liste les participants : critère, heures déclarées, clauses et sorties."""
    app = get_app()
    with app.transaction() as session:
        lines = list_participants(session, clause_id)
    if as_json:
        print_json([participant_data(line) for line in lines])
        return
    scope = f" de la clause n° {clause_id}" if clause_id is not None else ""
    hours_column = "Heures sur la clause" if clause_id is not None else "Heures déclarées"
    print_table(
        f"Participants{scope}",
        ["Référence", "Critère", hours_column, "Clauses", "Sorties"],
        [
            [
                line.reference,
                line.criterion_label,
                french_hours(line.hours),
                ", ".join(f"n° {n}" for n in line.clause_ids) or "–",
                "\n".join(outcome_cell(o, clause_id is None) for o in line.outcomes) or "–",
            ]
            for line in lines
        ],
    )
    outcomes = sum(len(line.outcomes) for line in lines)
    say(
        f"{plural(len(lines), 'participant', 'participants')}, "
        f"{plural(outcomes, 'sortie enregistrée', 'sorties enregistrées')}."
    )


@participant_group.command("types")
@json_option
def types_command(as_json: bool) -> None:
    """Liste les types de sortie acceptés, par groupe."""
    rows = [(t, OUTCOME_TYPE_LABELS[t], OUTCOME_GROUP_LABELS[t.group]) for t in OutcomeType]
    if as_json:
        print_json(
            [
                {"type": t, "type_libelle": label, "groupe": t.group, "groupe_libelle": group}
                for t, label, group in rows
            ]
        )
        return
    print_table("Types de sortie", ["Type", "Groupe"], [[label, group] for _, label, group in rows])


# --- import -------------------------------------------------------------------------------------


def import_data(result: OutcomesImport) -> dict[str, Any]:
    return {
        "fichier": result.source,
        "rien_de_nouveau": result.nothing_new,
        "enregistrees": result.count(Change.CREATED),
        "corrigees": result.count(Change.REPLACED),
        "deja_enregistrees": result.count(Change.UNCHANGED),
        "sorties": [recorded_data(o) for o in result.outcomes],
        "avertissements": [str(w) for w in result.warnings],
    }


def print_import(result: OutcomesImport) -> None:
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
            f"Sorties enregistrées : {result.count(Change.CREATED)}, corrigées : "
            f"{result.count(Change.REPLACED)}, déjà enregistrées : "
            f"{result.count(Change.UNCHANGED)}."
        )
    if result.warnings:
        say("Attention :", style="bold yellow")
        for warning in result.warnings:
            say(f"  - {warning}", style="yellow")


@click.command("outcomes")
@click.argument(
    "path", metavar="FICHIER", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--clause", "clause_id", type=int, help="La clause (sinon : marché et lot).")
@replace_option
@actor_option
@json_option
@handle_errors
def import_outcomes_command(
    path: Path, clause_id: int | None, replace: bool, actor: str | None, as_json: bool
) -> None:
    """Importe des sorties de participants (colonnes : Référence participant ; N° marché ; Lot ;
    Type de sortie ; Date). Tout le fichier est vérifié d'abord : une erreur, rien n'est importé."""
    app = get_app()
    now = app.clock()
    with app.transaction() as session:
        result = import_outcomes_file(
            session,
            path,
            actor=actor or app.settings.facilitator_name,
            now=now,
            zone=app.settings.zone,
            clause_id=clause_id,
            replace=replace,
        )
    if as_json:
        print_json(import_data(result))
    else:
        print_import(result)


COMMANDS: list[click.Command] = [participant_group]
