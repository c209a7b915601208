"""``clauses audit verify``: after a restore, check that the rows still tell one story."""

from __future__ import annotations

import click

from workflow.app.audit import Finding, verify_database

# The verdict is shared with the web page « Contrôle de cohérence ».
from workflow.app.audit_texts import REMARK, verdict
from workflow.entrypoints.cli.common import (
    get_app,
    handle_errors,
    json_option,
    print_json,
    say,
)


@click.group("audit")
def audit_group() -> None:
    """Contrôles de cohérence de la base (après une restauration, une mise à jour)."""


def _as_json(finding: Finding) -> dict[str, str]:
    return {"controle": finding.check, "objet": finding.subject, "probleme": finding.problem}


@audit_group.command("verify")
@json_option
@handle_errors
def verify_command(as_json: bool) -> None:
    """Vérifie, sans rien modifier, que l'historique de chaque clause est une suite de
    transitions permises menant à son étape, que chaque courriel de la boîte d'envoi a une cause
    qui existe, que chaque synthèse mensuelle (de la facilitatrice et de chaque donneur d'ordre)
    dit, chiffre par chiffre et case par case, ce que donnent les données à l'instant où elle a
    été écrite, et que chaque accusé de réception dit les heures enregistrées à son instant.
    Une ligne par problème, puis les remarques (écarts qu'explique un changement enregistré
    depuis) ; code de sortie 0 si tout va bien, 1 sinon."""
    report = verify_database(get_app())
    if as_json:
        print_json(
            {
                "clauses": report.clauses,
                "courriels": report.messages,
                "synthese": report.summary_key,
                "syntheses": report.summaries,
                "accuses": report.receipts,
                "declarations": report.declarations,
                "conforme": report.ok,
                "problemes": [_as_json(f) for f in report.findings],
                "remarques": [_as_json(f) for f in report.remarks],
            }
        )
    else:
        for finding in report.findings:
            say(finding.line)
        for remark in report.remarks:
            say(f"{REMARK}{remark.line}")
        say(verdict(report))
    if not report.ok:
        raise SystemExit(1)


COMMANDS: list[click.Command] = [audit_group]
