"""``clauses report annual``: the funders' annual report, on screen or as a file."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import click

from workflow.adapters.annual_report_files import (
    FORMATS,
    Format,
    print_annual_report,
    render_annual_report,
)
from workflow.entrypoints.cli.common import (
    console,
    get_app,
    handle_errors,
    report_options,
    say,
    write_report,
)
from workflow.services.annual_report import compile_annual_report


@click.group("report")
def report_group() -> None:
    """Bilans pour les financeurs."""


@report_group.command("annual")
@click.option(
    "--year",
    type=int,
    default=None,
    help="Année civile du bilan, AAAA (par défaut : l'année dernière).",
)
@report_options(FORMATS, "page autonome, lisible sur téléphone")
@handle_errors
def annual_command(year: int | None, buyer_id: int | None, fmt: str, output: Path | None) -> None:
    """Bilan annuel : heures (par donneur d'ordre, par modalité), entreprises accompagnées,
    participants, contrats, sorties par type et par groupe, clauses par étape, et la phrase
    « + de 18 000 heures d'insertion, 51 entreprises accompagnées, … »."""
    app = get_app()
    now = app.clock()
    zone = app.settings.zone
    if year is None:
        year = now.astimezone(zone).year - 1
    with app.transaction() as session:
        report = compile_annual_report(
            session,
            year,
            buyer_id=buyer_id,
            groups=app.settings.outcome_groups,
            now=now.astimezone(zone),
            zone=zone,
        )
    chosen = cast(Format, fmt)
    written = write_report(
        chosen,
        output,
        f"bilan-annuel-{year}" + (f"-donneur-{buyer_id}" if buyer_id else ""),
        show=lambda: print_annual_report(console, report),
        render=lambda: render_annual_report(report, chosen),
        what="le bilan",
    )
    if written is not None:
        say(f"Bilan annuel {year} écrit dans {written}")
        say(report.headline)


COMMANDS: list[click.Command] = [report_group]
