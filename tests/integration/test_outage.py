"""An outage of the mail server as the facilitator lives it.

The server is out of reach for a day: mail waits, is never given up for it, the morning digest says
« Envoi des courriels impossible » with how many wait and since when (not one « corriger l'adresse »
line per message), and a copy of that digest is written under ``var/mail-secours/`` since it is stuck
behind the same server. The server comes back: everything leaves once, the digest included.
Identical refusals are one line; a single one keeps its own line and the action that fits it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from sqlalchemy import update

from tests.conftest import Clock, make_settings
from tests.integration.smtp_server import ScriptedHandler, free_port, running_server
from tests.integration.test_dispatch import queue, row
from tests.text import squash
from workflow.adapters.orm import OutboxMessage
from workflow.bootstrap import App, bootstrap
from workflow.services.digest import KIND, compile_digest, queue_daily_digest
from workflow.services.dispatch import MAX_ATTEMPTS, dispatch_due
from workflow.services.outage_copies import copy_folder

# Monday 2 March 2026, 09:00 in Paris; the day after, the digest leaves at 08:00 Paris (07:00 UTC).
QUEUED = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
KEYS = [f"call:{n}" for n in range(5)]


@pytest.fixture
def down(tmp_path: Path, database_url: str, clock: Clock) -> Iterator[App]:
    """SMTP settings pointing at a loopback port nobody listens on."""
    settings = make_settings(
        tmp_path, database_url, mail_transport="smtp", smtp_host="127.0.0.1", smtp_port=free_port()
    )
    app = bootstrap(settings, clock=clock)
    yield app
    app.close()


def test_an_outage_waits_is_told_once_in_the_digest_with_a_copy_on_disk_then_all_leaves_once(
    down: App, tmp_path: Path, database_url: str, clock: Clock
) -> None:
    for key in KEYS:
        queue(down, key, now=QUEUED)

    # A day of passes against a dead server: more failures than a message's attempts allow.
    moment = QUEUED
    for _ in range(MAX_ATTEMPTS + 2):
        report = dispatch_due(down, moment)
        assert report.outage
        moment += timedelta(hours=8)  # past the longest retry delay, jitter included
    waiting = [row(down, key) for key in KEYS]
    assert {message.state for message in waiting} == {"pending"}  # never given up for an outage
    assert all(message.attempts == MAX_ATTEMPTS + 2 for message in waiting)
    assert all(
        message.last_error.startswith("Envoi impossible : serveur SMTP") for message in waiting
    )

    # The next morning's digest: one line for the outage, with the figures.
    morning = datetime(2026, 3, 4, 7, 0, tzinfo=UTC)
    with down.transaction() as session:
        digest = compile_digest(session, morning, down.settings)
    outage = [item for item in digest.items if item.title.startswith("Envoi des courriels")]
    assert [item.title for item in outage] == [
        "Envoi des courriels impossible : 5 courriels en attente"
    ]
    assert "Le plus ancien attend depuis le 2 mars 2026 à 09:00" in outage[0].detail
    assert "injoignable : connexion refusée" in outage[0].detail
    assert not [item for item in digest.items if "Corriger l'adresse" in item.action]
    assert queue_daily_digest(down, morning) == 1
    digest_row = row(down, "digest:2026-03-04")
    text = squash(digest_row.body_text)
    assert "Envoi des courriels impossible : 5 courriels en attente" in text
    assert f"aussi copié dans {copy_folder(down.settings)}/" in text

    # The digest is stuck behind the same server: a copy is written where she can open it.
    assert dispatch_due(down, morning).outage
    copies = list((tmp_path / "mail-secours" / KIND).glob("*.eml"))
    assert len(copies) == 1
    copy = BytesParser(policy=policy.default).parsebytes(copies[0].read_bytes())
    assert copy["Subject"] == digest_row.subject
    assert copy["To"].addresses[0].addr_spec == "camille.martin@example.org"
    assert row(down, "digest:2026-03-04").state == "pending"  # a copy, not a delivery

    # The server is back: every message leaves once, the digest with them.
    handler = ScriptedHandler()
    with running_server(handler) as server:
        settings = make_settings(
            tmp_path,
            database_url,
            mail_transport="smtp",
            smtp_host=server.hostname,
            smtp_port=server.port,
        )
        up = bootstrap(settings, clock=clock)
        try:
            report = dispatch_due(up, morning + timedelta(days=1))
        finally:
            up.close()
    assert report.sent == 6 and not report.outage
    arrived = Counter(str(received.message["Subject"]) for received in handler.arrived)
    assert sum(arrived.values()) == 6
    assert arrived[digest_row.subject] == 1
    assert {row(down, key).state for key in [*KEYS, "digest:2026-03-04"]} == {"sent"}


def _fail(app: App, keys: list[str], state: str, error: str) -> None:
    with app.transaction() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.key.in_(keys))
            .values(state=state, attempts=MAX_ATTEMPTS, last_error=error)
        )


def test_identical_failures_are_one_line_and_a_single_one_keeps_its_own(app: App) -> None:
    server_wide = [f"same:{n}" for n in range(4)]
    for key in [*server_wide, "alone", "refused"]:
        queue(app, key, now=QUEUED)
    _fail(app, server_wide, "dead", "Abandon après 6 tentatives : 451 4.3.0 file pleine")
    _fail(app, ["alone"], "dead", "Abandon après 6 tentatives : 452 boîte pleine")
    _fail(app, ["refused"], "failed", "Refus définitif : 550 5.1.1 boîte inconnue")

    with app.transaction() as session:
        digest = compile_digest(session, QUEUED + timedelta(days=1), app.settings)
    emails = [item for item in digest.items if item.category == "email"]

    assert emails[0].title == (
        "4 courriels abandonnés après plusieurs tentatives, tous pour la même raison"
    )
    grouped = emails[0]
    assert "451 4.3.0 file pleine" in grouped.detail
    assert "clauses mail retry --all-failed" in grouped.action
    assert "pas les adresses" in grouped.action
    alone = next(item for item in emails if "452" in item.detail)
    assert alone.title.startswith("Courriel abandonné après plusieurs tentatives : «\u00a0")
    assert "Vérifier la cause" in alone.action and "Corriger l'adresse" not in alone.action
    refused = next(item for item in emails if "550" in item.detail)
    assert refused.action.startswith("Corriger l'adresse")
    assert len(emails) == 3
