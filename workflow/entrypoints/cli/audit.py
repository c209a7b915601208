"""``clauses audit verify``: after a restore, check that the rows still tell one story."""

from __future__ import annotations

import click

from workflow.entrypoints.cli.common import (
    get_app,
    handle_errors,
    json_option,
    plural,
    print_json,
    say,
)
from workflow.services.audit import verify


@click.group("audit")
def audit_group() -> None:
    """Contrôles de cohérence de la base (après une restauration, une mise à jour)."""


@audit_group.command("verify")
@json_option
@handle_errors
def verify_command(as_json: bool) -> None:
    """Vérifie, sans rien modifier, que l'historique de chaque clause est une suite de
    transitions permises menant à son étape, que chaque courriel de la boîte d'envoi a une cause
    qui existe, et que les chiffres de la dernière synthèse mensuelle sont ceux des données.
    Une ligne par problème ; code de sortie 0 si tout va bien, 1 sinon."""
    report = verify(get_app())
    if as_json:
        print_json(
            {
                "clauses": report.clauses,
                "courriels": report.messages,
                "synthese": report.summary_key,
                "conforme": report.ok,
                "problemes": [
                    {"controle": f.check, "objet": f.subject, "probleme": f.problem}
                    for f in report.findings
                ],
            }
        )
    else:
        for finding in report.findings:
            say(finding.line)
        checked = (
            f"{plural(report.clauses, 'clause', 'clauses')}, "
            f"{plural(report.messages, 'courriel', 'courriels')}"
            + (f", synthèse {report.summary_key.split(':')[1]}" if report.summary_key else "")
        )
        if report.ok:
            say(f"Aucun problème ({checked} vérifiés).")
        else:
            found = plural(len(report.findings), "problème trouvé", "problèmes trouvés")
            say(f"{found} ({checked} vérifiés).")
    if not report.ok:
        raise SystemExit(1)


COMMANDS: list[click.Command] = [audit_group]
