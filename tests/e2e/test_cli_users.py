"""``clauses user add|passwd``: the dashboard's accounts, from the command line."""

from __future__ import annotations

from click.testing import CliRunner, Result

from tests.conftest import Clock
from workflow.app import web_accounts
from workflow.bootstrap import bootstrap
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.settings import Settings


def run(settings: Settings, clock: Clock, *args: str, typed: str) -> Result:
    state = CliState()
    state.factory = lambda: bootstrap(settings, clock=clock)
    return CliRunner().invoke(cli, ["user", *args], obj=state, input=typed)


def test_an_account_is_made_with_a_password_typed_twice_then_changed(
    sqlite_settings: Settings, clock: Clock
) -> None:
    typed = "un mot de passe assez long\nun mot de passe assez long\n"
    made = run(sqlite_settings, clock, "add", "Camille", "--name", "Camille Martin", typed=typed)
    assert made.exit_code == 0, made.output
    assert "Compte « camille » créé pour Camille Martin" in made.stdout
    assert "un mot de passe" not in made.output  # never echoed

    mismatch = run(sqlite_settings, clock, "passwd", "camille", typed="premier essai long\nautre\n")
    assert mismatch.exit_code == 1
    assert "Les deux mots de passe tapés diffèrent" in mismatch.stderr
    short = run(sqlite_settings, clock, "passwd", "camille", "--password-stdin", typed="court\n")
    assert short.exit_code == 1 and "12 caractères au moins" in short.stderr
    twice = run(sqlite_settings, clock, "add", "camille", "--name", "C", typed=typed)
    assert twice.exit_code == 1 and "existe déjà" in twice.stderr

    changed = run(
        sqlite_settings,
        clock,
        "passwd",
        "camille",
        "--password-stdin",
        typed="nouveau mot de passe!\n",
    )
    assert changed.exit_code == 0, changed.output
    app = bootstrap(sqlite_settings, clock=clock)
    try:
        assert web_accounts.log_in(
            app, login="camille", password="nouveau mot de passe!"
        ).user.name == ("Camille Martin")
    finally:
        app.close()
