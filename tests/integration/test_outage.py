"""An outage of the mail server as the facilitator lives it.

The server is out of reach for a day: mail waits, is never given up for it, the morning digest says
« Envoi des courriels impossible » with how many wait and since when (not one « corriger l'adresse »
line per message), and a copy of that digest is written under ``var/mail-secours/`` since it is stuck
behind the same server; a digest written before the outage was known gets a notice saying it at the
top of its copy. The server comes back: everything leaves once, the digest included, in the first
pass that gets one message through or at once with ``clauses mail send`` (``outage_now``), not
hours later at each one's retry slot. A ``tick`` pass that tries nothing while mail waits for the
route still reports the outage (exit code 3 at the command line).
Identical refusals are one line; a single one keeps its own line and the action that fits it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
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
from workflow.adapters.templates import french_time
from workflow.bootstrap import App, bootstrap
from workflow.emails.digest import KIND
from workflow.services.digest import compile_digest, queue_daily_digest
from workflow.services.dispatch import MAX_ATTEMPTS, dispatch_due
from workflow.services.outage_copies import copy_folder
from workflow.services.ticks import run_pass

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


@contextmanager
def server_back(
    tmp_path: Path, database_url: str, clock: Clock
) -> Iterator[tuple[App, ScriptedHandler]]:
    """The same database, its SMTP server answering again (on another port: the dead one stays
    dead for ``down``)."""
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
            yield up, handler
        finally:
            up.close()


def _subjects(handler: ScriptedHandler) -> Counter[str]:
    return Counter(str(received.message["Subject"]) for received in handler.arrived)


def _keys(handler: ScriptedHandler) -> Counter[str]:
    """Which rows arrived, told by their Message-ID (made of the row's key)."""
    return Counter(str(received.message["Message-ID"]) for received in handler.arrived)


def _outage_for_a_while(app: App, keys: list[str]) -> datetime:
    """Queue ``keys`` at QUEUED and fail three passes on them; the instant of the last one."""
    for key in keys:
        queue(app, key, now=QUEUED)
    moment = QUEUED
    for _ in range(3):
        assert dispatch_due(app, moment).outage
        moment += timedelta(hours=1)
    return moment - timedelta(hours=1)


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
    assert "Le plus ancien attend depuis le 2 mars 2026 à 9\u00a0h" in outage[0].detail
    assert "injoignable : connexion refusée" in outage[0].detail
    # What it says will happen is what the tests below see happen.
    assert squash(outage[0].action).startswith(
        "Rétablir le serveur d'envoi ou les réglages CLAUSES_SMTP_* (ou le dossier "
        "CLAUSES_MAIL_DIR). Ensuite, au prochain essai automatique, dès qu'un courriel passe, "
        "tous ceux qui attendent partent dans le même passage ; «\u00a0clauses mail send\u00a0» les "
        "envoie tous tout de suite."
    )
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
    with server_back(tmp_path, database_url, clock) as (up, handler):
        report = dispatch_due(up, morning + timedelta(days=1))
    assert report.sent == 6 and not report.outage
    arrived = _subjects(handler)
    assert sum(arrived.values()) == 6
    assert arrived[digest_row.subject] == 1
    assert {row(down, key).state for key in [*KEYS, "digest:2026-03-04"]} == {"sent"}


def test_a_digest_written_before_the_outage_is_copied_with_the_outage_said_first(
    down: App, tmp_path: Path
) -> None:
    # A refused message gives the digest something to say; the server was fine when it was written.
    queue(down, "refused", now=QUEUED)
    _fail(down, ["refused"], "failed", "Refus définitif : 550 5.1.1 boîte inconnue")
    for key in KEYS[:3]:
        queue(down, key, now=QUEUED)
    assert queue_daily_digest(down, QUEUED) == 1
    digest_row = row(down, "digest:2026-03-02")
    assert "Envoi des courriels impossible" not in squash(digest_row.body_text)

    # The pass finds the server out of reach: the digest waits with the three others.
    assert dispatch_due(down, QUEUED).outage

    [path] = (tmp_path / "mail-secours" / KIND).glob("*.eml")
    copy = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    text_part = copy.get_body(preferencelist=("plain",))
    html_part = copy.get_body(preferencelist=("html",))
    assert text_part is not None and html_part is not None
    text = squash(text_part.get_content())
    folder = copy_folder(down.settings)
    assert text.startswith("COPIE DE SECOURS : ce récapitulatif n'a pas pu partir par courriel.")
    assert (
        "Le serveur d'envoi des courriels est injoignable depuis le 2 mars 2026 à 9\u00a0h "
        "(panne constatée encore le" in text
    )
    assert "4 courriels attendent son retour, ce récapitulatif compris" in text
    assert "Dernière erreur : serveur SMTP 127.0.0.1:" in text
    assert "injoignable : connexion refusée" in text
    assert f"Cette copie a été écrite dans {folder}/ à cause de cette panne." in text
    # Then the digest itself, as it was written (its refused message).
    assert text.index("COPIE DE SECOURS") < text.index("Courriel refusé définitivement")
    html = squash(html_part.get_content())
    assert html.index("COPIE DE SECOURS") < html.index("Courriel refusé définitivement")
    assert "4 courriels attendent son retour" in html
    # The row that will leave by email once the server is back is the digest as written.
    assert row(down, "digest:2026-03-02").body_text == digest_row.body_text
    assert row(down, "digest:2026-03-02").state == "pending"


def test_once_the_server_is_back_one_pass_sends_everything_that_waited_whatever_its_slot(
    down: App, tmp_path: Path, database_url: str, clock: Clock
) -> None:
    last_failure = _outage_for_a_while(down, KEYS)
    slots = [row(down, key).next_attempt_at for key in KEYS]
    assert min(slots) > last_failure + timedelta(minutes=20)  # the third wait: 30 minutes

    back = last_failure + timedelta(minutes=1)
    queue(down, "new", now=back)  # due at once: the service's next pass tries it
    with server_back(tmp_path, database_url, clock) as (up, handler):
        report = dispatch_due(up, back)

    # The new message went through: the route is back, and every waiting one left with it.
    assert (report.sent, report.released, report.outage) == (6, 5, False)
    assert sum(_keys(handler).values()) == 6
    assert all(count == 1 for count in _keys(handler).values())
    assert {row(down, key).state for key in [*KEYS, "new"]} == {"sent"}


def test_mail_send_takes_what_waits_for_the_route_at_once_and_tick_waits_for_the_slot(
    down: App, tmp_path: Path, database_url: str, clock: Clock
) -> None:
    last_failure = _outage_for_a_while(down, KEYS)
    back = last_failure + timedelta(minutes=1)
    with server_back(tmp_path, database_url, clock) as (up, handler):
        # An automatic pass: nothing is due before the slots, no connection to a server that
        # may still be down.
        assert dispatch_due(up, back).claimed == 0
        assert handler.sessions == 0
        # « clauses mail send »: the person asks for it now.
        report = dispatch_due(up, back, outage_now=True)
        again = dispatch_due(up, back, outage_now=True)
    assert (report.sent, report.outage) == (5, False)
    assert again.claimed == 0
    assert sum(_keys(handler).values()) == 5
    assert {row(down, key).state for key in KEYS} == {"sent"}


def test_mail_send_during_the_outage_tries_and_reports_it(down: App) -> None:
    last_failure = _outage_for_a_while(down, KEYS)
    report = dispatch_due(down, last_failure + timedelta(minutes=1), outage_now=True)
    assert report.outage and report.claimed == 5 and report.sent == 0
    assert {row(down, key).state for key in KEYS} == {"pending"}
    assert all(row(down, key).attempts == 4 for key in KEYS)


def test_a_tick_that_tries_nothing_during_an_outage_still_reports_it(
    down: App, tmp_path: Path, database_url: str, clock: Clock
) -> None:
    zone = down.settings.zone
    # Monday 2 March, 09:00 Paris: the first pass meets the dead server (its digest had nothing
    # to say yet: the day is done for it).
    for key in KEYS:
        queue(down, key, now=QUEUED)
    first = run_pass(down, QUEUED)
    assert first.dispatch is not None and first.dispatch.outage
    assert first.delivery_failed
    trouble = first.delivery_trouble(zone)
    assert trouble is not None and trouble.startswith("Envoi interrompu : serveur SMTP 127.0.0.1:")

    # Half a minute later: everything waits for its retry slot (a minute after a first failure,
    # up to 6 hours after later ones), nothing is tried.
    later = run_pass(down, QUEUED + timedelta(seconds=30))
    assert later.dispatch is None and later.sent == 0
    assert later.delivery_failed
    slot = min(row(down, key).next_attempt_at for key in KEYS)
    local = slot.astimezone(zone)
    said = later.delivery_trouble(zone)
    assert said is not None
    assert squash(said).startswith(
        "Envoi impossible : 5 courriels attendent le retour du serveur d'envoi, le plus ancien "
        "depuis le 2 mars 2026 à 9\u00a0h ; nouvel essai automatique le 2 mars 2026 à "
        f"{french_time(local)}. Dernière erreur : serveur SMTP 127.0.0.1:"
    )

    # The server is back and a pass gets mail through: nothing to report any more.
    queue(down, "new", now=QUEUED + timedelta(minutes=2))
    with server_back(tmp_path, database_url, clock) as (up, handler):
        back = run_pass(up, QUEUED + timedelta(minutes=2))
    assert back.sent == 6 and not back.delivery_failed
    assert back.delivery_trouble(zone) is None
    assert sum(_keys(handler).values()) == 6


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
