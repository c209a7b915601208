"""Delivery through aiosmtplib to a real aiosmtpd server on loopback, scripted per test."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trustme
from aiosmtpd.smtp import AuthResult

from tests.conftest import Clock, make_settings
from tests.integration.smtp_server import DROP, ScriptedHandler, free_port, running_server
from tests.integration.test_dispatch import middle, queue, row
from workflow.adapters.mail.smtp import SmtpOptions, SmtpTransport
from workflow.bootstrap import App, bootstrap
from workflow.services.dispatch import dispatch_due
from workflow.services.outbox import Recipient

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=1)


@pytest.fixture
def handler() -> ScriptedHandler:
    return ScriptedHandler()


@pytest.fixture
def smtp_app(
    handler: ScriptedHandler, tmp_path: Path, database_url: str, clock: Clock
) -> Iterator[App]:
    with running_server(handler) as server:
        settings = make_settings(
            tmp_path,
            database_url,
            mail_transport="smtp",
            smtp_host=server.hostname,
            smtp_port=server.port,
            smtp_timeout=5,
        )
        app = bootstrap(settings, clock=clock)
        yield app
        app.close()


def test_it_delivers_through_one_session_with_both_parts_and_all_headers(
    smtp_app: App, handler: ScriptedHandler
) -> None:
    assert isinstance(smtp_app.transport, SmtpTransport)
    queue(smtp_app, "reminder:12:34:2026-02:first", Recipient("Élodie Durand", "elodie@btp.fr"))
    queue(smtp_app, "reminder:12:35:2026-02:first", Recipient("Paul", "paul@btp.fr"))

    report = dispatch_due(smtp_app, NOW)

    assert report.sent == 2
    assert handler.sessions == 1
    first = handler.received[0]
    assert (first.sender, first.recipients) == ("clauses@example.org", ["elodie@btp.fr"])
    message = first.message
    assert str(message["From"]) == "Camille Martin <clauses@example.org>"
    assert str(message["To"]) == "Élodie Durand <elodie@btp.fr>"
    assert str(message["Reply-To"]) == "Camille Martin <camille.martin@example.org>"
    assert str(message["Subject"]) == "Rappel : déclaration de février"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].endswith("@example.org>")
    # When it left (the pass's instant, plus the time since), in the service's time zone (Paris
    # is UTC+1 in March).
    assert message["Date"].startswith("Mon, 02 Mar 2026 10:00:") and message["Date"].endswith(
        " +0100"
    )
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    assert text.get_content().replace("\r\n", "\n") == "Bonjour,\nMerci de déclarer vos heures.\n"
    assert "<p>Merci de déclarer vos heures.</p>" in html.get_content()
    assert row(smtp_app, "reminder:12:34:2026-02:first").state == "sent"


@pytest.mark.parametrize(
    "reply", ["421 4.3.2 Service indisponible", "451 4.3.0 Erreur locale", DROP]
)
def test_it_retries_a_transient_failure_and_delivers_once_the_server_recovers(
    smtp_app: App, handler: ScriptedHandler, reply: str
) -> None:
    handler.data_replies.append(reply)
    queue(smtp_app, "flaky")

    report = dispatch_due(smtp_app, NOW, rand=middle)

    assert (report.retried, report.sent) == (1, 0)
    waiting = row(smtp_app, "flaky")
    assert (waiting.state, waiting.attempts, waiting.next_attempt_at) == ("pending", 1, LATER)
    assert waiting.last_error is not None and waiting.last_error.startswith("Échec passager")
    assert handler.received == []

    assert dispatch_due(smtp_app, LATER).sent == 1
    assert len(handler.received) == 1
    assert row(smtp_app, "flaky").attempts == 2


def test_it_reconnects_after_a_drop_and_sends_the_rest_of_the_batch(
    smtp_app: App, handler: ScriptedHandler
) -> None:
    handler.data_replies.extend(["250 OK", DROP])
    for n in range(3):
        queue(smtp_app, f"m{n}")

    report = dispatch_due(smtp_app, NOW)

    assert (report.sent, report.retried) == (2, 1)
    assert handler.sessions == 2
    assert row(smtp_app, "m1").state == "pending"


def test_it_fails_a_message_refused_for_good_at_once(
    smtp_app: App, handler: ScriptedHandler
) -> None:
    handler.data_replies.append("550 5.7.1 Message refusé")
    queue(smtp_app, "refused")
    queue(smtp_app, "fine")

    report = dispatch_due(smtp_app, NOW)

    assert (report.failed, report.sent) == (1, 1)
    failed = row(smtp_app, "refused")
    assert failed.state == "failed"
    assert failed.last_error == "Refus définitif : 550 5.7.1 Message refusé"


def test_it_sends_to_the_other_recipient_and_records_the_refused_one(
    smtp_app: App, handler: ScriptedHandler
) -> None:
    handler.rcpt_replies["gone@btp.fr"] = "550 5.1.1 Boîte inconnue"
    queue(smtp_app, "two", Recipient("Parti", "gone@btp.fr"), Recipient("Là", "here@btp.fr"))

    report = dispatch_due(smtp_app, NOW)

    assert (report.sent, report.partly_refused) == (1, 1)
    assert handler.received[0].recipients == ["here@btp.fr"]
    sent = row(smtp_app, "two")
    assert sent.state == "sent"
    assert sent.refused_recipients == "gone@btp.fr : 550 5.1.1 Boîte inconnue"
    assert sent.last_error is not None and "gone@btp.fr" in sent.last_error


def test_it_fails_a_message_whose_only_recipient_is_refused(
    smtp_app: App, handler: ScriptedHandler
) -> None:
    handler.rcpt_replies["gone@btp.fr"] = "550 5.1.1 Boîte inconnue"
    queue(smtp_app, "one", Recipient("Parti", "gone@btp.fr"))

    assert dispatch_due(smtp_app, NOW).failed == 1
    assert "gone@btp.fr" in (row(smtp_app, "one").last_error or "")


def test_it_waits_when_nothing_listens(
    tmp_path: Path, database_url: str, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    settings = make_settings(
        tmp_path, database_url, mail_transport="smtp", smtp_host="127.0.0.1", smtp_port=port
    )
    app = bootstrap(settings, clock=clock)
    try:
        queue(app, "a")
        queue(app, "b")

        with caplog.at_level("WARNING"):
            report = dispatch_due(app, NOW, rand=middle)

        assert (report.retried, report.sent, report.outage) == (2, 0, True)
        assert report.stopped is not None
        assert report.stopped.startswith(f"serveur SMTP 127.0.0.1:{port} injoignable : ")
        assert "connexion refusée, aucun serveur n'écoute à cette adresse" in report.stopped
        assert row(app, "b").next_attempt_at == LATER
        assert (row(app, "b").last_error or "").startswith("Envoi impossible : serveur SMTP")
        # One line for the outage, in French, the system's own words kept as a detail.
        [line] = [r for r in caplog.records if getattr(r, "action", "") == "mail.unreachable"]
        assert line.getMessage() == report.stopped
        assert line.detail  # type: ignore[attr-defined]
    finally:
        app.close()


def test_it_waits_for_a_slow_answer_after_the_final_dot_with_its_own_timeout(
    tmp_path: Path, sqlite_url: str, clock: Clock, handler: ScriptedHandler
) -> None:
    """The server scans each message for 1.5 s: longer than the command timeout (0.5 s), which
    would give up on mail the server keeps; the final-dot timeout (5 s) waits for it."""
    handler.answer_delay = lambda received: 1.5
    with running_server(handler) as server:
        settings = make_settings(
            tmp_path,
            sqlite_url,
            mail_transport="smtp",
            smtp_host=server.hostname,
            smtp_port=server.port,
            smtp_timeout=0.5,
            smtp_data_timeout=5,
        )
        app = bootstrap(settings, clock=clock)
        try:
            queue(app, "scanned")
            assert SmtpOptions.from_settings(settings).data_timeout == 5
            assert dispatch_due(app, NOW).sent == 1
            assert len(handler.received) == 1

            # The same server with a final-dot timeout shorter than its scan: a transient
            # failure, as before the setting existed.
            short = replace(SmtpOptions.from_settings(settings), data_timeout=0.5)
            queue(app, "cut-short")
            report = dispatch_due(app, NOW, transport=SmtpTransport(short), rand=middle)
            assert (report.sent, report.retried) == (0, 1)
            assert "le serveur n'a pas répondu dans le délai" in (
                row(app, "cut-short").last_error or ""
            )
        finally:
            app.close()


@pytest.fixture(scope="module")
def certificates() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A throw-away CA and a certificate for 127.0.0.1: (server context, client context)."""
    authority = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server)
    client = ssl.create_default_context()
    authority.configure_trust(client)
    return server, client


def authenticator(
    server: object, session: object, envelope: object, mechanism: str, auth_data: object
) -> AuthResult:
    login = (getattr(auth_data, "login", None), getattr(auth_data, "password", None))
    # handled=False: let aiosmtpd answer the refusal itself (535).
    return AuthResult(success=login == (b"clauses", b"s3cret"), handled=False)


def tls_app(
    tmp_path: Path,
    url: str,
    clock: Clock,
    port: int,
    tls: str,
    client: ssl.SSLContext,
    login: bool = True,
    password: str = "s3cret",
) -> App:
    account = {"smtp_username": "clauses", "smtp_password": password} if login else {}
    settings = make_settings(
        tmp_path,
        url,
        mail_transport="smtp",
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_tls=tls,
        # Generous: on a loaded 2-core CI machine a TLS handshake with aiosmtpd can take seconds,
        # and a timeout here would read as a transient failure, not as the bug under test.
        smtp_timeout=30,
        **account,
    )
    options = replace(SmtpOptions.from_settings(settings), tls_context=client)
    return bootstrap(settings, clock=clock, transport=SmtpTransport(options))


def test_it_upgrades_with_starttls_and_authenticates(
    tmp_path: Path,
    sqlite_url: str,
    clock: Clock,
    certificates: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    server_context, client_context = certificates
    handler = ScriptedHandler()
    with running_server(
        handler,
        tls_context=server_context,
        require_starttls=True,
        auth_required=True,
        authenticator=authenticator,
    ) as server:
        app = tls_app(tmp_path, sqlite_url, clock, server.port, "starttls", client_context)
        try:
            queue(app, "starttls")
            assert dispatch_due(app, NOW).sent == 1
        finally:
            app.close()
    assert len(handler.received) == 1


def test_it_speaks_implicit_tls(
    tmp_path: Path,
    sqlite_url: str,
    clock: Clock,
    certificates: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    server_context, client_context = certificates
    handler = ScriptedHandler()
    # aiosmtpd only counts STARTTLS as encrypted for AUTH, so this server asks for no login.
    with running_server(handler, ssl_context=server_context) as server:
        app = tls_app(tmp_path, sqlite_url, clock, server.port, "tls", client_context, login=False)
        try:
            queue(app, "implicit-tls")
            assert dispatch_due(app, NOW).sent == 1
        finally:
            app.close()
    assert len(handler.received) == 1


def test_it_keeps_mail_waiting_when_the_password_is_wrong(
    tmp_path: Path,
    sqlite_url: str,
    clock: Clock,
    certificates: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    server_context, client_context = certificates
    with running_server(
        ScriptedHandler(),
        tls_context=server_context,
        require_starttls=True,
        auth_required=True,
        authenticator=authenticator,
    ) as server:
        app = tls_app(
            tmp_path, sqlite_url, clock, server.port, "starttls", client_context, password="faux"
        )
        try:
            queue(app, "wrong-password")
            report = dispatch_due(app, NOW)
            assert (report.retried, report.failed, report.outage) == (1, 0, True)
            assert report.stopped is not None and "535" in report.stopped
            # A server that answers no is not « injoignable »: it refuses the session.
            assert "refuse la session : identifiant ou mot de passe refusé" in report.stopped
        finally:
            app.close()
