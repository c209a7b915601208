"""``clauses user add|passwd``: the accounts of the facilitator's web dashboard."""

from __future__ import annotations

import sys

import click

from workflow.app import web_accounts
from workflow.entrypoints.cli.common import get_app, handle_errors, say
from workflow.errors import InputRefused


def _password(from_stdin: bool) -> str:
    """Typed twice, hidden; or the first line of stdin (``--password-stdin``, for scripts)."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = click.prompt("Mot de passe", hide_input=True, err=True)
    second = click.prompt("Mot de passe (encore)", hide_input=True, err=True)
    if first != second:
        raise InputRefused("Les deux mots de passe tapés diffèrent : rien n'a été modifié.")
    return str(first)


password_stdin = click.option(
    "--password-stdin",
    "from_stdin",
    is_flag=True,
    help="Lit le mot de passe sur l'entrée standard (première ligne) au lieu de le demander.",
)


@click.group("user")
def user_group() -> None:
    """Comptes du tableau de bord web (identifiant et mot de passe)."""


@user_group.command("add")
@click.argument("login", metavar="IDENTIFIANT")
@click.option("--name", required=True, help="Prénom et nom : ils signent les actions faites.")
@password_stdin
@handle_errors
def user_add(login: str, name: str, from_stdin: bool) -> None:
    """Crée un compte ; le mot de passe (12 caractères au moins) est demandé deux fois."""
    stored = web_accounts.add_user(
        get_app(), login=login, name=name, password=_password(from_stdin)
    )
    say(f"Compte « {stored} » créé pour {name} : connexion sur /connexion.")


@user_group.command("passwd")
@click.argument("login", metavar="IDENTIFIANT")
@password_stdin
@handle_errors
def user_passwd(login: str, from_stdin: bool) -> None:
    """Change le mot de passe d'un compte ; ses sessions ouvertes se ferment."""
    name = web_accounts.change_password(get_app(), login=login, password=_password(from_stdin))
    say(f"Mot de passe de « {login} » ({name}) changé ; ses sessions ouvertes sont fermées.")


COMMANDS: list[click.Command] = [user_group]
