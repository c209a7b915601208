"""``clauses mail ...``: the outbox (list, retry, send) and template previews."""

from __future__ import annotations

import click


@click.group("mail")
def mail_group() -> None:
    """Courriels : file d'envoi, nouvelles tentatives, aperçus."""


COMMANDS: list[click.Command] = [mail_group]
