"""``clauses privacy export`` and ``clauses privacy purge``: personal data (GDPR).

The export is for a person who asks what is held on them (through the facilitator): the text
reads as a letter's annex, the JSON is for a machine. The purge asks for ``--yes``: without it,
it only shows what would go, as ``--dry-run`` does.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from workflow.app.privacy import participant_data, purge_participants

# The words are shared with the web pages (« Données détenues », « Données personnelles »).
from workflow.app.privacy_texts import (
    export_json,
    export_text,
    parse_older_than,
    purge_data,
    purge_lines,
)
from workflow.entrypoints.cli.common import (
    actor_option,
    get_app,
    handle_errors,
    json_option,
    print_json,
    say,
)
from workflow.errors import InputRefused


@click.group("privacy")
def privacy_group() -> None:
    """Données personnelles (RGPD) : ce qui est détenu sur un participant, purge après la
    durée de conservation."""


# --- export ---------------------------------------------------------------------------------------


@privacy_group.command("export")
@click.option(
    "--participant",
    "reference",
    required=True,
    help="Référence pseudonyme du participant (ou son N°).",
)
@json_option
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Fichier à écrire (lisible par son seul propriétaire) au lieu de l'écran.",
)
@handle_errors
def export_command(reference: str, as_json: bool, output: Path | None) -> None:
    """Données détenues sur un participant (RGPD).

    Tout ce que la base détient, pour le droit d'accès : identité pseudonyme, critère,
    justificatif, heures déclarées mois par mois (lot, entreprise), sorties, lignes
    d'historique, textes et courriels qui le nomment avec leurs destinataires, et la durée de
    conservation (article 15 du RGPD)."""
    app = get_app()
    zone = app.settings.zone
    held = participant_data(app, reference)
    text = export_json(held) if as_json else export_text(held, zone)
    if output is None:
        if as_json:
            click.echo(text, nl=False)
        else:
            say(text.rstrip("\n"))
        return
    write_private(output, text)
    say(
        f"Export des données de {held.reference} écrit dans {output} (données personnelles : "
        "à remettre à la personne seule, puis à supprimer)."
    )


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only: it holds personal data."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise InputRefused(
            f"--output : impossible d'écrire l'export dans {path} : {exc.strerror}."
        ) from None


# --- purge ----------------------------------------------------------------------------------------


@privacy_group.command("purge")
@click.option(
    "--older-than",
    "older_than",
    default=None,
    metavar="DURÉE",
    help="Durée de conservation : 5a ou 5y (5 ans), 18m ou 18mois (18 mois). Par défaut, le "
    "réglage CLAUSES_PRIVACY_RETENTION (5 ans).",
)
@click.option("--dry-run", is_flag=True, help="Montre ce qui serait anonymisé, sans rien modifier.")
@click.option(
    "--yes", is_flag=True, help="Anonymise pour de bon ; sans cette option, rien n'est modifié."
)
@actor_option
@json_option
@handle_errors
def purge_command(
    older_than: str | None, dry_run: bool, yes: bool, actor: str | None, as_json: bool
) -> None:
    """Anonymise les participants au-delà de la durée de conservation.

    Sont pris ceux dont toutes les clauses sont closes et la dernière activité (fin du dernier
    mois déclaré, dernière sortie, clôture ou abandon de leurs clauses) remonte à plus que la
    durée : référence remplacée partout (historique, bilans, courriels), justificatif effacé,
    année de naissance ramenée à leurs tranches d'âge, modèles de déclaration joints supprimés.
    Heures, sorties, critère et sexe restent : les chiffres des synthèses et bilans passés ne
    changent pas. Une ligne d'historique par purge ; relancée, la purge ne trouve plus rien."""
    retention = parse_older_than(older_than)
    report = purge_participants(get_app(), retention, dry_run=dry_run or not yes, actor=actor)
    if as_json:
        print_json(purge_data(report))
        return
    for line in purge_lines(report, asked_yes=yes):
        say(line)


COMMANDS: list[click.Command] = [privacy_group]
