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
from workflow.app.reports import annual_report
from workflow.entrypoints.cli.common import (
    console,
    get_app,
    handle_errors,
    report_options,
    say,
    write_report,
)


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
def annual_command(year: int | None, buyer: str | None, fmt: str, output: Path | None) -> None:
    """Bilan annuel : heures (par donneur d'ordre, par modalité), entreprises accompagnées,
    participants, contrats, sorties par type et par groupe, clauses par étape, et la phrase
    « + de 18 000 heures d'insertion, 51 entreprises accompagnées, … »."""
    report = annual_report(get_app(), year, buyer=buyer)
    chosen = cast(Format, fmt)
    written = write_report(
        chosen,
        output,
        f"bilan-annuel-{report.year}"
        + (f"-donneur-{report.buyer_id}" if report.buyer_id is not None else ""),
        show=lambda: print_annual_report(console, report),
        render=lambda: render_annual_report(report, chosen),
        what="le bilan",
    )
    if written is not None:
        say(f"Bilan annuel {report.year} écrit dans {written}")
        say(report.headline)


COMMANDS: list[click.Command] = [report_group]
