"""``clauses mail preview KIND``: an email as its recipient will read it, before anyone gets it."""

from __future__ import annotations

from pathlib import Path

import click

from workflow.entrypoints.cli.common import error_console, get_app, handle_errors
from workflow.services.previews import build_preview, write_preview

DEFAULT_OUT = Path("var/preview")


@click.command("preview")
@click.argument("kind", metavar="TYPE")
@click.option(
    "--clause",
    "clause_id",
    type=int,
    default=None,
    help="Utiliser les données réelles de cette clause au lieu de l'exemple.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_OUT,
    show_default=True,
    help="Dossier où écrire le .eml et le .html.",
)
@handle_errors
def preview_command(kind: str, clause_id: int | None, out_dir: Path) -> None:
    """Montre un courriel (texte à l'écran, .eml et .html dans un dossier).

    TYPE est le nom d'un modèle de templates/emails, par exemple notice_awarded ou
    company_welcome ; un type inconnu affiche la liste des types.
    """
    app = get_app()
    preview = build_preview(app, kind, clause_id)
    if preview.note:
        error_console.print(preview.note, soft_wrap=True)
    recipients = ", ".join(f"{r.name} <{r.email}>" for r in preview.recipients)
    click.echo(f"À : {recipients}")
    click.echo(f"Objet : {preview.rendered.subject}")
    click.echo("")
    click.echo(preview.rendered.text.rstrip("\n"))
    eml, html = write_preview(preview, out_dir, app.settings, app.clock())
    # The files go to stderr's notes so that stdout stays the email's text alone.
    error_console.print(f"Écrits : {eml} et {html}", soft_wrap=True, markup=False)
