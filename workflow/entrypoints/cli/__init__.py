"""The ``clauses`` command. Each area lives in its own module and registers its commands here."""

from __future__ import annotations

import logging

import click

from workflow.app.admin import init_database
from workflow.entrypoints.cli import (
    audit,
    catalog,
    clause_corrections,
    clauses,
    company_departures,
    corrections,
    imports,
    mail,
    participants,
    privacy,
    report,
    search,
    service,
    summary,
    tokens,
    users,
)
from workflow.entrypoints.cli.common import CliState, console, handle_errors
from workflow.entrypoints.cli.french import FrenchGroup
from workflow.entrypoints.cli.params import guard_parameters


@click.group(cls=FrenchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Suivi des clauses sociales d'insertion : étapes, déclarations, relances et synthèses."""
    state = ctx.ensure_object(CliState)
    # The service's log lines are for operators (``serve``, ``tick --log``); without a handler,
    # Python would print the English warnings bare under the French output.
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.NullHandler())
    ctx.call_on_close(state.close)


@cli.command("init")
@handle_errors
def init_command() -> None:
    """Crée ou met à jour la base de données (sans risque si relancé)."""
    from workflow.entrypoints.cli.common import get_app

    ready = init_database(get_app())
    console.print(f"Base de données prête (schéma {ready.revision}) : {ready.database}")
    if ready.slow_search:
        console.print(
            f"Attention : {ready.slow_search} ; les recherches donnent les mêmes résultats mais "
            "lisent toutes les lignes. Voir le README, « Recherche rapide sur PostgreSQL »."
        )


for module in (
    audit,
    catalog,
    clause_corrections,
    clauses,
    company_departures,
    corrections,
    imports,
    mail,
    participants,
    privacy,
    report,
    search,
    service,
    summary,
    tokens,
    users,
):
    for command in module.COMMANDS:
        cli.add_command(command)
imports.import_group.add_command(participants.import_outcomes_command)
guard_parameters([cli])  # N° past an INTEGER column, control characters: exit 2


def main() -> None:
    cli(prog_name="clauses")
