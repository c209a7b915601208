"""``clauses token create|list|revoke``: the bearer tokens of the JSON API (``/api/v1/``)."""

from __future__ import annotations

import click

from workflow.adapters.templates import french_date
from workflow.app import api_tokens
from workflow.entrypoints.cli.common import get_app, handle_errors, print_table, say


@click.group("token")
def token_group() -> None:
    """Jetons de l'API JSON (/api/v1/) : un par programme qui l'appelle."""


@token_group.command("create")
@click.option("--name", required=True, help="Qui l'utilise : il signe ce que le jeton écrit.")
@click.option("--read-only", "read_only", is_flag=True, help="Lecture seule : ne peut rien écrire.")
@handle_errors
def token_create(name: str, read_only: bool) -> None:
    """Crée un jeton ; il n'est montré qu'une fois (la base n'en garde que l'empreinte)."""
    token, made = api_tokens.create_token(get_app(), name=name, read_only=read_only)
    scope = "lecture seule" if made.read_only else "lecture et écriture"
    say(f"Jeton « {made.name} » créé ({scope}). Gardez-le, il ne sera plus montré :")
    click.echo(token)
    say("En-tête des appels : « Authorization: Bearer <jeton> ».")


@token_group.command("list")
@handle_errors
def token_list() -> None:
    """Les jetons, actifs ou révoqués (jamais le jeton lui-même)."""
    views = api_tokens.list_tokens(get_app())
    if not views:
        say("Aucun jeton (« clauses token create --name … »).")
        return
    print_table(
        "Jetons de l'API",
        ["N°", "Nom", "Portée", "Créé le", "Dernier usage", "État"],
        [
            [
                str(v.id),
                v.name,
                "lecture seule" if v.read_only else "lecture et écriture",
                french_date(v.created_at),
                french_date(v.last_used_at) if v.last_used_at else "jamais",
                f"révoqué le {french_date(v.revoked_at)}" if v.revoked_at else "actif",
            ]
            for v in views
        ],
    )


@token_group.command("revoke")
@click.argument("name", metavar="NOM")
@handle_errors
def token_revoke(name: str) -> None:
    """Révoque un jeton : refusé dès maintenant."""
    revoked = api_tokens.revoke_token(get_app(), name=name)
    say(f"Jeton « {revoked.name} » révoqué : l'API le refuse désormais.")


COMMANDS: list[click.Command] = [token_group]
