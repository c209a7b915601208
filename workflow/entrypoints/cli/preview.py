"""``clauses mail preview KIND``: an email as its recipient will read it, before anyone gets it."""

from __future__ import annotations

from pathlib import Path

import click

from workflow.app.mail import preview_email
from workflow.entrypoints.cli.common import error_console, get_app, handle_errors

DEFAULT_OUT = Path("var/preview")


@click.command("preview")
@click.argument("kind", metavar="TYPE")
@click.option(
    "--clause",
    default=None,
    help="Utiliser les données réelles de cette clause (N° ou RÉFÉRENCE/LOT, par exemple "
    "2026-014/01) au lieu de l'exemple.",
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
def preview_command(kind: str, clause: str | None, out_dir: Path) -> None:
    """Montre un courriel (texte à l'écran, .eml et .html dans un dossier).

    TYPE est le nom d'un modèle de templates/emails, par exemple notice_awarded ou
    company_welcome ; un type inconnu affiche la liste des types.
    """
    written = preview_email(get_app(), kind, clause, out_dir=out_dir)
    preview = written.preview
    if preview.note:
        error_console.print(preview.note, soft_wrap=True)
    recipients = ", ".join(f"{r.name} <{r.email}>" for r in preview.recipients)
    click.echo(f"À : {recipients}")
    click.echo(f"Objet : {preview.rendered.subject}")
    click.echo("")
    click.echo(preview.rendered.text.rstrip("\n"))
    # The files go to stderr's notes so that stdout stays the email's text alone.
    error_console.print(f"Écrits : {written.eml} et {written.html}", soft_wrap=True, markup=False)
