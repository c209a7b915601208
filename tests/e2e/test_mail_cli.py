"""``clauses mail list / retry / send`` through click's CliRunner, on both backends."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.conftest import Clock
from tests.integration.test_dispatch import queue, row
from workflow.adapters.mail import PermanentFailure
from workflow.adapters.mail.files import FileTransport
from workflow.adapters.mail.memory import MemoryTransport
from workflow.bootstrap import App
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.services.outbox import Recipient


def run(app: App, *args: str) -> Result:
    state = CliState()
    state.factory = lambda: app
    return CliRunner().invoke(cli, list(args), obj=state, catch_exceptions=False)


@pytest.fixture
def memory(app: App) -> MemoryTransport:
    app.transport = MemoryTransport()
    return app.transport


def test_it_sends_what_is_due_and_lists_it(app: App, clock: Clock, tmp_path: Path) -> None:
    app.transport = FileTransport(tmp_path / "mail")
    queue(app, "reminder:1", Recipient("Élodie Durand", "elodie@btp.fr"), now=clock.now)

    sent = run(app, "mail", "send")
    listed = run(app, "mail", "list", "--state", "sent", "--json")

    assert sent.exit_code == 0, sent.output
    assert "1 envoyé(s)" in sent.output
    assert "fichiers .eml" in sent.output
    data = json.loads(listed.output)
    assert [m["cle"] for m in data["courriels"]] == ["reminder:1"]
    assert data["courriels"][0]["destinataires"] == "elodie@btp.fr"
    assert data["par_etat"]["sent"] == 1
    assert len(list((tmp_path / "mail" / "reminder").glob("*.eml"))) == 1


def test_it_lists_in_french_with_counts_per_state(
    app: App, clock: Clock, memory: MemoryTransport
) -> None:
    queue(app, "reminder:1", now=clock.now)

    result = run(app, "mail", "list")

    assert result.exit_code == 0
    assert "en attente" in result.output
    assert "en attente : 1 · en cours d'envoi : 0 · envoyé : 0" in result.output


def test_it_refuses_an_unknown_state_in_french(app: App) -> None:
    result = run(app, "mail", "list", "--state", "perdu")

    assert result.exit_code == 1
    assert "État de courriel « perdu » inconnu" in result.output


def test_it_retries_failed_messages_from_the_command_line(
    app: App, clock: Clock, memory: MemoryTransport
) -> None:
    memory.script = lambda message: PermanentFailure("550 5.1.1 inconnu")
    queue(app, "a", now=clock.now)
    queue(app, "b", now=clock.now)
    assert "2 refusé(s)" in run(app, "mail", "send").output
    memory.script = None
    clock.set(clock.now + timedelta(hours=1))

    one = run(app, "mail", "retry", str(row(app, "a").id))
    rest = run(app, "mail", "retry", "--all-failed", "--json")
    again = run(app, "mail", "send", "--json")

    assert one.exit_code == 0 and "1 courriel(s) remis en file" in one.output
    assert json.loads(rest.output) == {
        "remis_en_file": [row(app, "b").id],
        "readresses": {},
        "ecrits_a_nouveau": {},
        "retires": {},
    }
    assert json.loads(again.output)["envoyes"] == 2
    assert row(app, "a").state == "sent"


def test_it_refuses_to_resend_a_sent_message(
    app: App, clock: Clock, memory: MemoryTransport
) -> None:
    queue(app, "a", now=clock.now)
    run(app, "mail", "send")

    result = run(app, "mail", "retry", str(row(app, "a").id))

    assert result.exit_code == 1
    assert "il est « envoyé », il ne peut pas être renvoyé" in result.output


def test_it_asks_for_a_number_or_all_failed(app: App) -> None:
    result = run(app, "mail", "retry")

    assert result.exit_code == 2
    assert "soit un numéro de courriel, soit --all-failed" in result.output
