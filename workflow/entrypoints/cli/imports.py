"""``clauses import lots``, ``clauses declaration import|zero`` and ``clauses sample load``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select

from workflow.adapters.csv_files import parse_month, parse_siret
from workflow.adapters.orm import Company
from workflow.adapters.templates import french_hours
from workflow.domain.vocabulary import (
    CRITERION_LABELS,
    DELIVERY_MODE_LABELS,
    Criterion,
    DeliveryMode,
)
from workflow.entrypoints.cli.common import (
    actor_option,
    get_app,
    handle_errors,
    json_option,
    plural,
    print_json,
    print_table,
    say,
)
from workflow.errors import FieldError, InputRefused, NotFound
from workflow.sample import load_sample
from workflow.services.declaration_imports import DeclarationSummary, import_declaration_file
from workflow.services.declarations import month_phrase, record_declaration
from workflow.services.imports import ImportedLot, LotsImport, import_lots_file

csv_argument = click.argument(
    "path", metavar="FICHIER", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)


def print_warnings(warnings: Sequence[FieldError | str]) -> None:
    if not warnings:
        return
    say("Attention :", style="bold yellow")
    for warning in warnings:
        say(f"  - {warning}", style="yellow")


# --- lots ---------------------------------------------------------------------------------------

_CREATED_WORDS = {
    "buyers": ("donneur d'ordre", "donneurs d'ordre"),
    "contacts": ("contact", "contacts"),
    "companies": ("entreprise", "entreprises"),
    "correspondents": ("correspondant", "correspondants"),
    "operations": ("opération", "opérations"),
    "markets": ("marché", "marchés"),
    "clauses": ("clause", "clauses"),
    "participants": ("participant", "participants"),
}


def created_text(created: dict[str, int]) -> str:
    parts = [plural(n, *_CREATED_WORDS[key]) for key, n in created.items() if n]
    return ", ".join(parts)


def lot_hours(lot: ImportedLot) -> str:
    if lot.hours_override is not None:
        return f"{french_hours(lot.hours_override)} imposées"
    if lot.hours_computed is not None:
        return french_hours(lot.hours_computed)
    return "à calculer"


def lots_data(result: LotsImport) -> dict[str, Any]:
    return {
        "fichier": result.source,
        "rien_de_nouveau": result.nothing_new,
        "crees": {
            "donneurs_d_ordre": result.created["buyers"],
            "operations": result.created["operations"],
            "marches": result.created["markets"],
            "clauses": result.created["clauses"],
        },
        "lots": [
            {
                "ligne": lot.line,
                "clause": lot.clause_id,
                "donneur_d_ordre": lot.buyer,
                "operation": lot.operation,
                "marche": lot.market,
                "lot": lot.lot_number,
                "intitule": lot.title,
                "heures_calculees": lot.hours_computed,
                "heures_imposees": lot.hours_override,
                "heures_prevues": lot.hours_target,
                "creee": lot.created,
            }
            for lot in result.lots
        ],
        "avertissements": [str(w) for w in result.warnings],
    }


def print_lots(result: LotsImport) -> None:
    print_table(
        f"Import des lots de {result.source}",
        ["Ligne", "Donneur d'ordre", "Marché", "Lot", "Intitulé", "Heures", "Clause"],
        [
            [
                lot.line,
                lot.buyer,
                lot.market,
                lot.lot_number or "–",
                lot.title,
                lot_hours(lot),
                f"n° {lot.clause_id} {'créée' if lot.created else 'existante'}",
            ]
            for lot in result.lots
        ],
    )
    if result.nothing_new:
        say(
            f"Rien de nouveau : les {plural(len(result.lots), 'lot', 'lots')} du fichier "
            "existent déjà, aucune création."
        )
    else:
        say(f"Créés : {created_text(result.created)}.")
    print_warnings(result.warnings)


@click.group("import")
def import_group() -> None:
    """Importer les tableurs : CSV, classeurs .xlsx (Excel) et .ods (LibreOffice)."""


@import_group.command("lots")
@csv_argument
@actor_option
@json_option
@handle_errors
def import_lots_command(path: Path, actor: str | None, as_json: bool) -> None:
    """Importe des lots et leurs paramètres de calcul d'un CSV, .xlsx ou .ods (crée donneurs
    d'ordre, opérations, marchés et clauses manquants ; un second import du même fichier ne crée
    rien)."""
    app = get_app()
    now = app.clock()
    with app.transaction() as session:
        result = import_lots_file(
            session,
            path,
            actor=actor or app.settings.facilitator_name,
            now=now,
            publish=app.publish,
        )
    if as_json:
        print_json(lots_data(result))
    else:
        print_lots(result)


# --- declarations -------------------------------------------------------------------------------


def declaration_data(summary: DeclarationSummary) -> dict[str, Any]:
    return {
        "declaration": summary.declaration_id,
        "clause": summary.clause_id,
        "entreprise": summary.company,
        "entreprise_id": summary.company_id,
        "mois": summary.month,
        "heures": summary.total_hours,
        "lignes": summary.lines,
        "participants_a_zero": summary.participants_at_zero,
        "nouveaux_participants": list(summary.new_participants),
        "participants_completes": list(summary.completed_participants),
        "criteres": summary.criteria,
        "modalites": summary.delivery_modes,
        "remplacee": summary.replaced,
    }


def print_declaration(summary: DeclarationSummary) -> None:
    verb = "remplacée" if summary.replaced else "enregistrée"
    say(
        f"Déclaration {month_phrase(summary.month)} {verb} : {summary.company} – "
        f"{summary.clause_label}",
        style="bold",
    )
    zero = f", dont {summary.participants_at_zero} à 0 h" if summary.participants_at_zero else ""
    say(
        f"  {french_hours(summary.total_hours)} au total, "
        f"{plural(summary.lines, 'participant', 'participants')}{zero}."
    )
    if summary.new_participants:
        say(f"  Nouveaux participants : {', '.join(summary.new_participants)}.")
    if summary.completed_participants:
        say(
            f"  Sexe ou année de naissance complétés : {', '.join(summary.completed_participants)}."
        )
    if summary.criteria:
        criteria = " ; ".join(
            f"{CRITERION_LABELS[Criterion(c)]} : {n}" for c, n in summary.criteria.items()
        )
        say(f"  Par critère ({len(summary.criteria)}) : {criteria}.")
    if summary.delivery_modes:
        modes = " ; ".join(
            f"{DELIVERY_MODE_LABELS[DeliveryMode(m)]} : {french_hours(h)}"
            for m, h in summary.delivery_modes.items()
        )
        say(f"  Par modalité ({len(summary.delivery_modes)}) : {modes}.")


@click.group("declaration")
def declaration_group() -> None:
    """Déclarations mensuelles des heures d'insertion."""


@declaration_group.command("import")
@click.argument(
    "path", metavar="FICHIER", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--clause", "clause_id", type=int, help="La clause déclarée (sinon : marché et lot).")
@click.option(
    "--replace", is_flag=True, help="Remplace une déclaration déjà enregistrée pour ce mois."
)
@actor_option
@json_option
@handle_errors
def declaration_import(
    path: Path, clause_id: int | None, replace: bool, actor: str | None, as_json: bool
) -> None:
    """Enregistre les déclarations mensuelles d'heures d'un fichier CSV, .xlsx ou .ods
    (entreprise x lot x mois) : tout le fichier, ou rien s'il contient une erreur."""
    app = get_app()
    now = app.clock()
    with app.transaction() as session:
        result = import_declaration_file(
            session,
            path,
            actor=actor or app.settings.facilitator_name,
            now=now,
            publish=app.publish,
            clause_id=clause_id,
            replace=replace,
            zone=app.settings.zone,
        )
    if as_json:
        print_json(
            {
                "fichier": result.source,
                "declarations": [declaration_data(s) for s in result.declarations],
                "avertissements": [str(w) for w in result.warnings],
            }
        )
        return
    for summary in result.declarations:
        print_declaration(summary)
    print_warnings(result.warnings)


def find_company(session: Any, text: str) -> Company:
    """A company by its number or its SIRET."""
    wanted = text.strip()
    if re.fullmatch(r"\d{1,9}", wanted):
        company = session.get(Company, int(wanted))
    else:
        siret = parse_siret(wanted)
        if siret is None:
            raise InputRefused(
                f"--company : « {text} » n'est ni un numéro d'entreprise ni un SIRET."
            )
        company = session.scalar(select(Company).where(Company.siret == siret))
    if company is None:
        raise NotFound(f"Aucune entreprise « {text} ».")
    assert isinstance(company, Company)
    return company


@declaration_group.command("zero")
@click.option("--clause", "clause_id", type=int, required=True, help="La clause déclarée.")
@click.option("--company", required=True, help="L'entreprise : son numéro ou son SIRET.")
@click.option("--month", required=True, help="Le mois sans heure, mm/aaaa (ex. 10/2026).")
@click.option("--replace", is_flag=True, help="Remplace une déclaration déjà enregistrée.")
@actor_option
@json_option
@handle_errors
def declaration_zero(
    clause_id: int, company: str, month: str, replace: bool, actor: str | None, as_json: bool
) -> None:
    """Déclare un mois sans heure d'insertion pour une entreprise et une clause."""
    month_start = parse_month(month)
    if month_start is None:
        raise InputRefused(
            f"--month : « {month} » n'est pas un mois (mm/aaaa, par exemple 10/2026)."
        )
    app = get_app()
    now = app.clock()
    with app.transaction() as session:
        found = find_company(session, company)
        declaration = record_declaration(
            session,
            clause_id=clause_id,
            company_id=found.id,
            month=month_start,
            lines=[],
            actor=actor or app.settings.facilitator_name,
            now=now,
            source="déclaration à zéro (ligne de commande)",
            publish=app.publish,
            replace=replace,
            zone=app.settings.zone,
        )
        name = found.name
    if as_json:
        print_json(
            {
                "declaration": declaration.id,
                "clause": clause_id,
                "entreprise": name,
                "mois": month_start,
                "heures": 0,
            }
        )
    else:
        say(
            f"Déclaration {month_phrase(month_start)} à zéro heure enregistrée : {name}, "
            f"clause n° {clause_id}."
        )


# --- sample territory ---------------------------------------------------------------------------


@click.group("sample")
def sample_group() -> None:
    """Territoire d'exemple (organisations fictives)."""


@sample_group.command("load")
@json_option
@handle_errors
def sample_load(as_json: bool) -> None:
    """Charge le territoire d'exemple : un Département, une agglomération, une commune, le collège
    de Saint-Arrats et ses lots, des entreprises et des participants (sans risque si relancé)."""
    app = get_app()
    summary = load_sample(app, app.clock())
    if as_json:
        print_json(
            {
                "deja_charge": summary.already_loaded,
                "crees": summary.created,
                "clauses": [
                    {"marche": market, "lot": lot, "clause": clause_id}
                    for (market, lot), clause_id in summary.clause_ids.items()
                ],
                "entreprises": [
                    {"siret": siret, "entreprise": company_id}
                    for siret, company_id in summary.company_ids.items()
                ],
                "avertissements": list(summary.warnings),
            }
        )
        return
    if summary.already_loaded:
        say("Le territoire d'exemple est déjà chargé : rien de nouveau.")
        return
    say(f"Territoire d'exemple chargé : {created_text(summary.created)}.")
    say(
        f"{plural(len(summary.clause_ids), 'clause', 'clauses')} à l'étape « repérage » : "
        "« clauses clause list » pour les voir."
    )
    print_warnings(summary.warnings)


COMMANDS: list[click.Command] = [import_group, declaration_group, sample_group]
