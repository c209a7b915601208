"""A database that is not initialised or not reachable: one French line and exit code 1, no traceback."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from workflow.entrypoints.cli import cli


def closed_port() -> int:
    """A loopback port nobody listens on (bound then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_a_database_never_initialised_says_to_run_init(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAUSES_DATABASE_URL", f"sqlite:///{tmp_path / 'vide.db'}")
    result = CliRunner().invoke(cli, ["clause", "list"])

    assert result.exit_code == 1
    assert "n'est pas initialisée ou pas à jour : lancez « clauses init »" in result.stderr
    assert "Traceback" not in result.output + result.stderr


@pytest.mark.parametrize("command", [["init"], ["clause", "list"], ["serve"]])
def test_a_postgresql_server_out_of_reach_is_named_without_its_password(
    command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"postgresql://clauses:secret@127.0.0.1:{closed_port()}/clauses"
    monkeypatch.setenv("CLAUSES_DATABASE_URL", url)
    result = CliRunner().invoke(cli, command)

    assert result.exit_code == 1, result.output
    assert "ne répond pas ou a refusé l'opération" in result.stderr
    assert "secret" not in result.stderr and "clauses:***@127.0.0.1" in result.stderr


@pytest.mark.postgres
def test_init_does_not_print_the_database_password(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_password = make_url(postgres_url).set(password="secret-pw")
    monkeypatch.setenv("CLAUSES_DATABASE_URL", with_password.render_as_string(hide_password=False))
    result = CliRunner().invoke(cli, ["init"])
    # Trust authentication ignores the password: init succeeds and must not echo it.
    assert result.exit_code == 0, result.output
    assert "secret-pw" not in result.output and "***" in result.output


def test_a_schema_behind_and_a_concurrent_change_get_their_own_words() -> None:
    from sqlalchemy.exc import IntegrityError, OperationalError

    from workflow.app.faults import database_trouble

    class Orig(Exception):
        pass

    behind = database_trouble(OperationalError("SELECT", {}, Orig("no such column: x.y")), None)
    clash = database_trouble(IntegrityError("INSERT", {}, Orig("UNIQUE constraint failed")), None)
    assert "lancez « clauses init »" in behind
    assert clash.startswith("Changement concurrent sur les mêmes données : rien n'a été enregistré")
