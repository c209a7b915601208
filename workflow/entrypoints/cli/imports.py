"""``clauses import lots``, ``clauses declaration import|zero|list`` and ``clauses sample load``.

Each command calls one function of ``workflow.app.imports`` or ``workflow.app.declarations`` and
renders what it returns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import click

from workflow.adapters.csv_files import parse_month
from workflow.adapters.templates import french_date, french_hours, french_month
from workflow.app import declarations as declaration_commands
from workflow.app import imports as commands
from workflow.app.declarations import (
    STATE_LABELS,
    DeclarationList,
    DeclarationState,
    ExpectedDeclaration,
    Totals,
    counts_data,
)
from workflow.app.imports import LotsImported
from workflow.domain.vocabulary import (
    CRITERION_LABELS,
    DELIVERY_MODE_LABELS,
    Criterion,
    DeliveryMode,
)
from workflow.emails.phrases import month_phrase
from workflow.entrypoints.cli.common import (
    actor_option,
    get_app,
    handle_errors,
    json_option,
    number,
    plural,
    print_json,
    print_table,
    say,
)
from workflow.errors import FieldError, InputRefused
from workflow.services.declaration_imports import BlankMonth, DeclarationSummary
from workflow.services.imports import ImportedLot

#: A clause and a company designated as people know them.
CLAUSE_HELP = "son N° ou la référence du marché et le lot, ex. « 2026-014/01 »"
COMPANY_HELP = "son N°, son SIRET ou son nom"

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


def created_text(created: Mapping[str, int]) -> str:
    parts = [plural(n, *_CREATED_WORDS[key]) for key, n in created.items() if n]
    return ", ".join(parts)


def lot_hours(lot: ImportedLot) -> str:
    if lot.hours_override is not None:
        return f"{french_hours(lot.hours_override)} imposées"
    if lot.hours_computed is not None:
        return french_hours(lot.hours_computed)
    return "à calculer"


def lots_data(result: LotsImported) -> dict[str, Any]:
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


def print_lots(result: LotsImported) -> None:
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
    result = commands.import_lots(get_app(), path, actor=actor)
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
        "participants_ayant_travaille": summary.participants_worked,
        "aucune_heure": summary.at_zero,
        "nouveaux_participants": list(summary.new_participants),
        "participants_completes": list(summary.completed_participants),
        # Who worked, by criterion (as « participants_ayant_travaille »); those at 0 h apart.
        "criteres": summary.criteria,
        "criteres_a_zero": summary.criteria_at_zero,
        "modalites": summary.delivery_modes,
        "remplacee": summary.replaced,
        "inchangee": summary.unchanged,
        # What a replaced month held (None otherwise), and the motif its history row keeps.
        "heures_remplacees": summary.replaced_hours,
        "lignes_remplacees": summary.replaced_lines,
        "remplacee_enregistree_le": summary.replaced_recorded_at,
        "motif": summary.reason,
        **counts_data(summary.counts),
    }


def replaced_sentence(summary: DeclarationSummary) -> str | None:
    """« Remplace la déclaration du 12 avril 2027 : 120,00 h, 3 participants ayant travaillé (1
    autre déclaré à 0 h). Motif : … » (``participants_phrase``), or
    None for a month that was not recorded before."""
    if summary.replaced_hours is None or summary.replaced_recorded_at is None:
        return None
    recorded = summary.replaced_recorded_at.astimezone(get_app().settings.zone)
    motif = f" Motif : {summary.reason}" if summary.reason else ""
    return (
        f"Remplace la déclaration du {french_date(recorded)} : "
        f"{french_hours(summary.replaced_hours)}, {summary.replaced_said}.{motif}"
    )


def blank_month_data(blank: BlankMonth) -> dict[str, Any]:
    return {
        "clause": blank.clause_id,
        "entreprise": blank.company,
        "entreprise_id": blank.company_id,
        "mois": blank.month,
        "ligne": blank.first_line,
        "toujours_attendu": blank.owed,
        "enregistree_le": blank.recorded_at,
        "heures_enregistrees": blank.recorded_hours,
        "message": blank.said,
    }


def print_blank_month(blank: BlankMonth) -> None:
    """A month of the file left blank: not declared, said so (never silently dropped)."""
    verb = "inchangée" if blank.recorded_at is not None else "non reçue"
    say(
        f"Déclaration {month_phrase(blank.month)} {verb} : {blank.company} – {blank.clause_label}",
        style="bold" if blank.recorded_at is not None else "bold yellow",
    )
    say(f"  {blank.said}")


def _by_criterion(counts: Mapping[str, int]) -> str:
    """« Bénéficiaire du RSA : 2 ; Travailleur handicapé (RQTH) : 1 »."""
    return " ; ".join(f"{CRITERION_LABELS[Criterion(c)]} : {n}" for c, n in counts.items())


def print_declaration(summary: DeclarationSummary) -> None:
    if summary.unchanged_since is not None:
        recorded = summary.unchanged_since.astimezone(get_app().settings.zone)
        say(
            f"Déclaration {month_phrase(summary.month)} inchangée : {summary.company} – "
            f"{summary.clause_label}",
            style="bold",
        )
        say(
            f"  Le fichier donne les lignes enregistrées le "
            f"{french_date(recorded)} ({french_hours(summary.total_hours)}) : "
            "rien n'est modifié, aucun accusé de réception."
        )
        if summary.completed_participants:
            # The file may still give a sex or birth year the service lacked: said as ever.
            say(
                "  Sexe ou année de naissance complétés : "
                f"{', '.join(summary.completed_participants)}."
            )
        return
    verb = "remplacée" if summary.replaced else "enregistrée"
    say(
        f"Déclaration {month_phrase(summary.month)} {verb} : {summary.company} – "
        f"{summary.clause_label}",
        style="bold",
    )
    if replaced := replaced_sentence(summary):
        say(f"  {replaced}")
    if summary.at_zero:
        say("  Aucune heure ce mois-là : déclaration à zéro heure, sans participant.")
        if said := summary.counts_said:
            say(f"  {said}")
        return
    say(f"  {french_hours(summary.total_hours)} au total, {summary.participants_said}.")
    if summary.new_participants:
        say(f"  Nouveaux participants : {', '.join(summary.new_participants)}.")
    if summary.completed_participants:
        say(
            f"  Sexe ou année de naissance complétés : {', '.join(summary.completed_participants)}."
        )
    # The criteria count who worked, as « 3 participants ayant travaillé » above does
    # (``participants.worked``); those declared at 0 h are said apart, never added in.
    if summary.criteria:
        say(f"  Par critère ({len(summary.criteria)}) : {_by_criterion(summary.criteria)}.")
    if at_zero := summary.criteria_at_zero:
        say(f"  Déclarés à 0 h, hors de ces comptes : {_by_criterion(at_zero)}.")
    if summary.delivery_modes:
        modes = " ; ".join(
            f"{DELIVERY_MODE_LABELS[DeliveryMode(m)]} : {french_hours(h)}"
            for m, h in summary.delivery_modes.items()
        )
        say(f"  Par modalité ({len(summary.delivery_modes)}) : {modes}.")
    if said := summary.counts_said:
        say(f"  {said}")


@click.group("declaration")
def declaration_group() -> None:
    """Déclarations mensuelles des heures d'insertion."""


@declaration_group.command("import")
@click.argument(
    "path", metavar="FICHIER", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--clause",
    default=None,
    help=f"La clause déclarée : {CLAUSE_HELP} (sinon : les colonnes marché et lot).",
)
@click.option(
    "--replace", is_flag=True, help="Remplace une déclaration déjà enregistrée pour ce mois."
)
@click.option(
    "--reason",
    default=None,
    help="Motif de la correction, gardé à l'historique de chaque déclaration remplacée : "
    "obligatoire avec --replace quand le fichier modifie un mois déjà enregistré.",
)
@actor_option
@json_option
@handle_errors
def declaration_import(
    path: Path,
    clause: str | None,
    replace: bool,
    reason: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Enregistre les déclarations mensuelles d'heures d'un fichier CSV, .xlsx ou .ods
    (entreprise x lot x mois) : tout le fichier, ou rien s'il contient une erreur. Avec
    --replace, corrige les mois déjà enregistrés que le fichier modifie : une correction, dont
    le motif (--reason, obligatoire) est gardé à l'historique ; un mois que le fichier donne
    tel qu'il est enregistré reste inchangé. Une ligne sans participant avec 0 dans « Heures »
    déclare son mois à zéro heure ; un mois du fichier dont toutes les lignes sont vides n'est
    pas déclaré, et le résultat le nomme."""
    result = commands.import_declarations(
        get_app(), path, clause=clause, replace=replace, actor=actor, reason=reason
    )
    if as_json:
        print_json(
            {
                "fichier": result.source,
                "declarations": [declaration_data(s) for s in result.declarations],
                "mois_sans_ligne": [blank_month_data(b) for b in result.blank_months],
                "avertissements": [str(w) for w in result.warnings],
            }
        )
        return
    for summary in result.declarations:
        print_declaration(summary)
    for blank in result.blank_months:
        print_blank_month(blank)
    print_warnings(result.warnings)


def parse_month_option(text: str) -> date:
    month = parse_month(text)
    if month is None:
        raise InputRefused(
            f"--month : « {text} » n'est pas un mois (mm/aaaa, par exemple 10/2026)."
        )
    return month


@declaration_group.command("zero")
@click.option("--clause", required=True, help=f"La clause déclarée : {CLAUSE_HELP}.")
@click.option("--company", required=True, help=f"L'entreprise : {COMPANY_HELP}.")
@click.option("--month", required=True, help="Le mois sans heure, mm/aaaa (ex. 10/2026).")
@click.option("--replace", is_flag=True, help="Remplace une déclaration déjà enregistrée.")
@click.option(
    "--reason",
    default=None,
    help="Motif de la correction, gardé à l'historique : obligatoire avec --replace quand le "
    "mois enregistré compte des heures.",
)
@actor_option
@json_option
@handle_errors
def declaration_zero(
    clause: str,
    company: str,
    month: str,
    replace: bool,
    reason: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Déclare un mois sans heure d'insertion pour une entreprise et une clause. Avec --replace,
    corrige à zéro heure un mois déjà enregistré : une correction, dont le motif (--reason,
    obligatoire si le mois comptait des heures) est gardé à l'historique."""
    month_start = parse_month_option(month)
    declared = declaration_commands.declare_zero(
        get_app(),
        clause=clause,
        company=company,
        month=month_start,
        replace=replace,
        actor=actor,
        reason=reason,
        reason_field="--reason",
    )
    if as_json:
        print_json(
            {
                "declaration": declared.declaration_id,
                "clause": declared.clause_id,
                "entreprise": declared.company,
                "mois": declared.month,
                "heures": 0,
                "inchangee": declared.unchanged_since is not None,
                "remplacee": declared.replaced_hours is not None,
                "heures_remplacees": declared.replaced_hours,
                "motif": declared.reason,
                "avertissements": list(declared.warnings),
                **counts_data(declared.counts),
            }
        )
    elif declared.unchanged_since is not None:
        recorded = declared.unchanged_since.astimezone(get_app().settings.zone)
        say(
            f"Déclaration {month_phrase(declared.month)} de {declared.company} (clause n° "
            f"{declared.clause_id}) déjà enregistrée à zéro heure le {french_date(recorded)} : "
            "rien n'est modifié, aucun accusé de réception."
        )
    else:
        replaced = ""
        if declared.replaced_hours is not None:
            motif = f" ; motif : {declared.reason}" if declared.reason else ""
            replaced = f" (remplace {french_hours(declared.replaced_hours)}{motif})"
        say(
            f"Déclaration {month_phrase(declared.month)} à zéro heure enregistrée : "
            f"{declared.company}, clause n° {declared.clause_id}{replaced}."
        )
        if said := declared.counts_said:
            say(said)
        print_warnings(declared.warnings)


@declaration_group.command("validate")
@click.option("--clause", required=True, help=f"La clause déclarée : {CLAUSE_HELP}.")
@click.option("--company", required=True, help=f"L'entreprise : {COMPANY_HELP}.")
@click.option("--month", required=True, help="Le mois vérifié, mm/aaaa (ex. 10/2026).")
@actor_option
@json_option
@handle_errors
def declaration_validate(
    clause: str, company: str, month: str, actor: str | None, as_json: bool
) -> None:
    """Valide la déclaration d'un mois, vérifiée : la page web de l'entreprise la montre validée
    et ne permet plus de la modifier. Une correction enregistrée ensuite lève la validation."""
    validated = declaration_commands.validate_declaration(
        get_app(), clause=clause, company=company, month=parse_month_option(month), actor=actor
    )
    if as_json:
        print_json(
            {
                "declaration": validated.declaration_id,
                "clause": validated.clause_id,
                "entreprise": validated.company,
                "mois": validated.month,
                "heures": validated.total_hours,
                "validee_le": validated.validated_at,
                "validee_par": validated.validated_by,
                "deja_validee": validated.already,
            }
        )
        return
    local = validated.validated_at.astimezone(get_app().settings.zone)
    what = (
        f"Déclaration {month_phrase(validated.month)} de {validated.company} "
        f"(clause n° {validated.clause_id}, {french_hours(validated.total_hours)})"
    )
    if validated.already:
        say(
            f"{what} déjà validée le {french_date(local)} par {validated.validated_by} : rien n'a été modifié."
        )
    else:
        say(f"{what} validée : la page de l'entreprise ne permet plus de la modifier.")


# --- what is declared ---------------------------------------------------------------------------


def clause_cell(line: ExpectedDeclaration) -> str:
    lot = f"/{line.lot_number}" if line.lot_number else ""
    return f"n° {line.clause_id} {line.market}{lot}"


def state_cell(line: ExpectedDeclaration) -> str:
    label = STATE_LABELS[line.state]
    if line.state is DeclarationState.LATE:
        return f"{label} ({plural(line.late_days, 'jour ouvré', 'jours ouvrés')})"
    if line.state is DeclarationState.TO_CALL and line.call_at is not None:
        # The day the next pass calls it; the due date that call gives is in « Échéance ».
        return f"{label} (le {line.call_at.astimezone(get_app().settings.zone):%d/%m/%Y})"
    if line.due_at_resumption:
        return f"{label} (lot suspendu)"
    return label


def totals_data(totals: Totals) -> dict[str, Any]:
    return {
        "attendues": totals.expected,
        "declarees": totals.declared,
        "zero_heure": totals.zero,
        "manquantes": totals.missing,
        "en_retard": totals.late,
        "plus_demandees": totals.released,
        "appels_a_venir": totals.to_call,
        "heures": totals.hours,
    }


def declaration_list_data(listed: DeclarationList) -> dict[str, Any]:
    return {
        "date": listed.today,
        "clause": listed.clause_id,
        "entreprise": listed.company,
        "entreprise_id": listed.company_id,
        "mois": listed.month,
        "manquantes_seulement": listed.missing_only,
        "lignes": [
            {
                "mois": line.month,
                "clause": line.clause_id,
                "marche": line.market,
                "lot": line.lot_number,
                "intitule": line.lot_title,
                "entreprise": line.company,
                "entreprise_id": line.company_id,
                "siret": line.siret,
                "etat": line.state,
                "etat_libelle": STATE_LABELS[line.state],
                "heures": line.hours,
                # A month its suspended lot will call at the resumption has no date yet.
                "echeance": None if line.due_at_resumption else line.due_on,
                "a_la_reprise": line.due_at_resumption,
                "jours_de_retard": line.late_days,
                "enregistree_le": line.recorded_at,
                "appel_envoye": line.called,
                "appel_prevu": line.call_at,
            }
            for line in listed.lines
        ],
        "totaux_par_mois": [{"mois": t.month, **totals_data(t)} for t in listed.months],
        "total": totals_data(listed.total),
    }


def list_title(listed: DeclarationList) -> str:
    what = "Déclarations pas encore reçues" if listed.missing_only else "Déclarations"
    scope = []
    if listed.clause_label is not None:
        scope.append(listed.clause_label[0].lower() + listed.clause_label[1:])
    if listed.company is not None:
        scope.append(listed.company)
    if listed.month is not None:
        scope.append(french_month(listed.month))
    where = f" – {', '.join(scope)}" if scope else ""
    return f"{what}{where} (au {listed.today:%d/%m/%Y})"


def totals_row(
    label: str, totals: Totals, released: bool = False, to_call: bool = False
) -> list[str]:
    return [
        label,
        number(totals.expected),
        number(totals.declared),
        number(totals.zero),
        *([number(totals.to_call)] if to_call else []),
        number(totals.missing),
        number(totals.late),
        *([number(totals.released)] if released else []),
        french_hours(totals.hours),
    ]


def totals_sentence(totals: Totals) -> str:
    return (
        f"{plural(totals.expected, 'déclaration attendue', 'déclarations attendues')} : "
        f"{plural(totals.declared, 'déclarée', 'déclarées')}, "
        f"{number(totals.zero)} à zéro heure, "
        + (
            f"{plural(totals.to_call, 'pas encore demandée', 'pas encore demandées')} "
            "(appel à venir), "
            if totals.to_call
            else ""
        )
        + f"{number(totals.missing)} à déclarer, "
        f"{number(totals.late)} en retard"
        + (
            f", {plural(totals.released, 'plus demandée', 'plus demandées')} (suivi clôturé)"
            if totals.released
            else ""
        )
        + f" ; {french_hours(totals.hours)} déclarées."
    )


def due_cell(line: ExpectedDeclaration) -> str:
    """The due date the company was or will be given; « à la reprise » for a month its
    suspended lot will ask after the resumption (never the scheduled date, passed uncalled), or
    asked and not late yet, its due date pushed by the suspension until the resumption gives
    the new one (never a date that moves every day)."""
    return "à la reprise" if line.due_at_resumption else f"{line.due_on:%d/%m/%Y}"


def print_declaration_list(listed: DeclarationList) -> None:
    print_table(
        list_title(listed),
        ["Mois", "Clause", "Entreprise", "État", "Heures", "Échéance"],
        [
            [
                french_month(line.month),
                clause_cell(line),
                line.company,
                state_cell(line),
                french_hours(line.hours) if line.hours is not None else "–",
                due_cell(line),
            ]
            for line in listed.lines
        ],
    )
    if not listed.lines:
        return
    # The column of months no longer asked only where a closed lot has some.
    released = listed.total.released > 0
    # The column of months whose call is to come only where there are some.
    to_call = listed.total.to_call > 0
    print_table(
        "Totaux par mois",
        [
            "Mois",
            "Attendues",
            "Déclarées",
            "Zéro heure",
            *(["Appel à venir"] if to_call else []),
            "À déclarer",
            "En retard",
            *(["Plus demandées"] if released else []),
            "Heures",
        ],
        [
            *(
                totals_row(french_month(t.month), t, released, to_call)
                for t in listed.months
                if t.month
            ),
            totals_row("Total", listed.total, released, to_call),
        ],
    )
    if listed.missing_only:
        # Only what is owed is listed: « 0 déclarée » would read as a fact about the lot.
        total = listed.total
        asked = (
            f"{plural(total.to_call, 'pas encore demandée', 'pas encore demandées')} "
            "(appel à venir), "
            if total.to_call
            else ""
        )
        say(
            f"{plural(total.owed, 'déclaration pas encore reçue', 'déclarations pas encore reçues')} : "
            f"{asked}{number(total.missing)} à déclarer (échéance à venir), "
            f"{number(total.late)} en retard."
        )
    else:
        say(totals_sentence(listed.total))


@declaration_group.command("list")
@click.option("--clause", default=None, help=f"Une seule clause : {CLAUSE_HELP}.")
@click.option("--company", default=None, help=f"Une seule entreprise : {COMPANY_HELP}.")
@click.option("--month", default=None, help="Un seul mois, mm/aaaa (ex. 10/2026).")
@click.option(
    "--missing",
    "missing_only",
    is_flag=True,
    help=(
        "Seulement les déclarations pas encore reçues : à déclarer (échéance à venir), en "
        "retard, pas encore demandées (appel à venir)."
    ),
)
@json_option
@handle_errors
def declaration_list(
    clause: str | None,
    company: str | None,
    month: str | None,
    missing_only: bool,
    as_json: bool,
) -> None:
    """Liste les déclarations attendues, une ligne par entreprise x lot x mois, avec leur
    état : déclarée (ses heures), zéro heure, à déclarer (le mois est demandé, l'échéance pas
    encore passée), appel à venir (pas encore demandé) ou en retard (l'échéance est passée : jours ouvrés de retard, hors jours de
    suspension, comptés comme dans le point quotidien). Puis les totaux par mois. Un mois est
    attendu d'une entreprise attributaire dès qu'il est ouvert, jusqu'à la fin d'exécution (un
    mois entièrement suspendu ne l'est pas)."""
    month_start = parse_month_option(month) if month is not None else None
    listed = declaration_commands.declaration_list(
        get_app(),
        clause=clause,
        company=company,
        month=month_start,
        missing_only=missing_only,
    )
    if as_json:
        print_json(declaration_list_data(listed))
    else:
        print_declaration_list(listed)


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
    summary = commands.load_sample(get_app())
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
