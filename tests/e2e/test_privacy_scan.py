"""What the logs, the messages and the emails of a simulated year hold: never a participant's
data, never a person's address in the logs, never a secret.

The demo's fourteen months run in a real process on PostgreSQL, through a database URL carrying a
password and with an SMTP password set, logging every line (DEBUG, JSON, as ``clauses serve``
does). Then the commands an operator runs, and the faults they meet: a pass in the future, a
server refusing the login, a server refusing recipients, a server away, a database away or
misnamed, ``clauses serve`` started and stopped. Every log line, every output and every .eml is
then read:

- the logs never hold a participant's reference, proof or birth year, nor a whole email address
  (an outbox row is named by its number; a refused address keeps its domain only);
- no log, output, stored error or email holds the database or SMTP password;
- an email to a buyer names no participant; an email to a company names only the participants
  that company declared.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.engine import make_url

from tests.integration.smtp_server import ScriptedHandler, free_port, running_server
from workflow.adapters.db import make_engine, normalise_url
from workflow.adapters.orm import (
    BuyerContact,
    Correspondent,
    Declaration,
    DeclarationLine,
    OutboxMessage,
    Participant,
)
from workflow.sample.data import PARTICIPANTS
from workflow.services.privacy_mentions import attachment_text

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

SMTP_PASSWORD = "Smtp-S3cret-" + uuid.uuid4().hex[:8]
INVENTED_DB_PASSWORD = "Db-S3cret-" + uuid.uuid4().hex[:8]
REFERENCES = [p.reference for p in PARTICIPANTS]
PROOFS = [p.proof for p in PARTICIPANTS]
BIRTH_YEARS = [str(p.birth_year) for p in PARTICIPANTS]
#: A whole address: a local part, then a domain (``…@example.org`` is a masked one).
ADDRESS = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")

DEMO_YEAR = """
import logging
from workflow.bootstrap import bootstrap
from workflow.entrypoints.scheduler import configure_logging
from workflow.services.demo import run_demo

configure_logging(level=logging.DEBUG)
app = bootstrap()
run_demo(app)
app.close()
"""


@dataclass
class Run:
    """What one process said: its command, exit code, standard output and error."""

    what: str
    code: int
    out: str
    err: str

    @property
    def log_lines(self) -> list[str]:
        """The JSON log lines among what it wrote on stderr."""
        return [line for line in self.err.splitlines() if line.startswith("{")]


@dataclass
class Year:
    url: str
    mail_dir: Path
    secrets: tuple[str, ...]
    runs: list[Run] = field(default_factory=list)

    def logs(self) -> list[tuple[str, str]]:
        return [(run.what, line) for run in self.runs for line in run.log_lines]


def _environment(url: str, mail_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAUSES_")}
    env.update(
        CLAUSES_DATABASE_URL=url,
        CLAUSES_MAIL_DIR=str(mail_dir),
        CLAUSES_SMTP_PASSWORD=SMTP_PASSWORD,
        CLAUSES_WEB_PORT="0",
        COLUMNS="200",
    )
    env.update(extra)
    return env


def _run(year: Year, what: str, args: list[str], cwd: Path, **env: str) -> Run:
    result = subprocess.run(
        args,
        env=_environment(env.pop("url", year.url), year.mail_dir, **env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
    )
    run = Run(what, result.returncode, result.stdout, result.stderr)
    year.runs.append(run)
    return run


#: The ``clauses`` command as a person runs it.
CLAUSES = [sys.executable, "-c", "from workflow.entrypoints.cli import main; main()"]


def clauses(year: Year, what: str, *args: str, cwd: Path, **env: str) -> Run:
    return _run(year, what, [*CLAUSES, *args], cwd, **env)


@pytest.fixture(scope="session")
def database(postgres_url: str) -> Iterator[tuple[str, str]]:
    """A database of its own, reached through a URL with a password: the server's own if the
    test URL has one, else an invented one (a trusting server ignores it)."""
    base = make_url(normalise_url(postgres_url))
    name = f"clauses_scan_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    password = base.password or INVENTED_DB_PASSWORD
    url = base.set(database=name, password=password).render_as_string(hide_password=False)
    try:
        yield url, str(password)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# Session-wide, not per module: the suite runs one file on one worker (``--dist loadfile``,
# the Makefile), which may run its tests with other files' between them; a module fixture was
# then torn down and lived again.
@pytest.fixture(scope="session")
def year(database: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Year:
    url, db_password = database
    folder = tmp_path_factory.mktemp("scan")
    lived = Year(url, folder / "mail", (db_password, SMTP_PASSWORD))
    assert clauses(lived, "init", "init", cwd=folder).code == 0
    demo = _run(lived, "demo year", [sys.executable, "-c", DEMO_YEAR], folder)
    assert demo.code == 0, demo.err[-3000:]
    tick = clauses(lived, "tick", "tick", "--log", "--now", "2027-04-01T09:00", cwd=folder)
    assert tick.code == 0, tick.err[-3000:]
    export = clauses(lived, "export", "privacy", "export", "--participant", "P-0007", cwd=folder)
    assert export.code == 0, export.err
    _smtp_faults(lived, folder)
    _database_faults(lived, folder)
    _serve(lived, folder)
    return lived


def _waiting_again(url: str) -> list[str]:
    """Five receipts of 2026 put back in the outbox, as if their server had been away: the
    dispatcher (on the real clock) sends them again. Their recipients are returned."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            rows = conn.execute(
                select(OutboxMessage.id, OutboxMessage.recipients)
                .where(
                    OutboxMessage.kind == "declaration_receipt",
                    OutboxMessage.created_at < datetime(2026, 11, 1, tzinfo=UTC),
                )
                .order_by(OutboxMessage.id)
                .limit(5)
            ).all()
            conn.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_([r.id for r in rows]))
                .values(
                    state="pending",
                    sent_at=None,
                    attempts=0,
                    next_attempt_at=datetime(2026, 11, 1, tzinfo=UTC),
                )
            )
    finally:
        engine.dispose()
    return [a for r in rows for _, a in getaddresses(r.recipients.splitlines())]


def _smtp_faults(year: Year, folder: Path) -> None:
    smtp = {
        "CLAUSES_MAIL_TRANSPORT": "smtp",
        "CLAUSES_SMTP_HOST": "127.0.0.1",
        "CLAUSES_SMTP_USERNAME": "clauses",
        "CLAUSES_SMTP_TIMEOUT": "10",
    }
    addresses = _waiting_again(year.url)

    def refuse_login(*_: Any) -> AuthResult:
        return AuthResult(success=False, handled=False)

    with running_server(
        ScriptedHandler(), auth_require_tls=False, authenticator=refuse_login
    ) as server:
        port = str(server.port)
        refused = clauses(
            year, "login refused", "tick", "--log", cwd=folder, **smtp, CLAUSES_SMTP_PORT=port
        )
    assert refused.code == 3, refused.err[-2000:]

    addresses = _waiting_again(year.url)  # the refusal put them off till later
    handler = ScriptedHandler()
    handler.rcpt_replies = {a: f"550 5.1.1 <{a}>: Recipient address rejected" for a in addresses}
    with running_server(
        handler, auth_require_tls=False, authenticator=lambda *_: AuthResult(success=True)
    ) as server:
        rejected = clauses(
            year,
            "recipients refused",
            "tick",
            "--log",
            cwd=folder,
            **smtp,
            CLAUSES_SMTP_PORT=str(server.port),
        )
    assert rejected.code == 0, rejected.err[-2000:]
    assert any('"action": "mail.failed"' in line for line in rejected.log_lines), rejected.err

    _waiting_again(year.url)
    away = clauses(
        year, "server away", "tick", "--log", cwd=folder, **smtp, CLAUSES_SMTP_PORT=str(free_port())
    )
    assert away.code == 3, away.err[-2000:]


def _database_faults(year: Year, folder: Path) -> None:
    url = make_url(year.url)
    for what, broken in (
        ("database missing", url.set(database="absent_" + uuid.uuid4().hex[:6])),
        ("database away", url.set(port=free_port())),
    ):
        run = clauses(
            year,
            what,
            "tick",
            "--log",
            cwd=folder,
            url=broken.render_as_string(hide_password=False),
        )
        assert run.code == 1, run.err
        assert "Refusé : La base postgresql+psycopg://postgres:***@127.0.0.1:" in run.err
    misnamed = url.render_as_string(hide_password=False).replace("postgresql", "postgres", 1)
    run = clauses(year, "database misnamed", "participant", "list", cwd=folder, url=misnamed)
    assert run.code == 1 and "CLAUSES_DATABASE_URL" in run.err, run.err


def _serve(year: Year, folder: Path) -> None:
    process = subprocess.Popen(
        [*CLAUSES, "serve", "--interval", "3600"],
        env=_environment(year.url, year.mail_dir),
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    seen = []
    for line in process.stderr:  # its first pass starts with it; SIGTERM lets that pass end
        seen.append(line)
        if '"action": "service.started"' in line:
            break
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    year.runs.append(Run("serve", process.returncode, out, "".join(seen) + err))
    assert process.returncode == 0, "".join(seen) + err


# --- the checks -----------------------------------------------------------------------------------


def emails(year: Year) -> list[tuple[Path, EmailMessage]]:
    return [
        (
            path,
            email.message_from_bytes(
                path.read_bytes(), _class=EmailMessage, policy=email.policy.default
            ),
        )
        for path in sorted(year.mail_dir.rglob("*.eml"))
    ]


def readable(message: EmailMessage) -> str:
    """Everything a recipient can read: headers, text, HTML and attached files."""
    parts = [str(message["Subject"]), str(message["To"])]
    for part in message.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        if part.get_filename():
            parts.append(attachment_text(payload))
        else:
            parts.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
    return "\n".join(parts)


def named(text: str) -> set[str]:
    return {r for r in REFERENCES if re.search(rf"(?<!\w){re.escape(r)}(?!\w)", text)}


def test_the_year_was_lived_and_logged(year: Year) -> None:
    kinds = {path.parent.name for path, _ in emails(year)}
    assert {"declaration_receipt", "declaration_call", "monthly_summary_buyer"} <= kinds
    actions = {json.loads(line).get("action") for _, line in year.logs()}
    assert {"pass.done", "mail.dispatch", "mail.failed", "mail.unreachable"} <= actions
    assert {"service.started", "service.stopped", "simulate.action"} <= actions
    assert len(year.logs()) > 1000


def test_no_log_line_holds_a_participant(year: Year) -> None:
    found = [
        (what, line)
        for what, line in year.logs()
        if named(line)
        or any(proof in line for proof in PROOFS)
        or any(re.search(rf"(?<!\d){y}(?!\d)", line) for y in BIRTH_YEARS)
    ]
    assert found == []


def test_no_log_line_holds_a_whole_email_address(year: Year) -> None:
    """A log names an outbox row by its number; a refused address keeps its domain only."""
    found = [(what, line) for what, line in year.logs() if ADDRESS.search(line)]
    assert found == []
    refused = [line for what, line in year.logs() if '"action": "mail.failed"' in line]
    assert refused and all("…@example.org" in line for line in refused)


def test_no_secret_anywhere(year: Year) -> None:
    outputs = [(run.what, run.out + run.err) for run in year.runs]
    mails = [(str(path), readable(message)) for path, message in emails(year)]
    engine = make_engine(year.url)
    with engine.connect() as conn:
        stored = [
            (f"outbox {row.id}", f"{row.last_error} {row.refused_recipients} {row.body_text}")
            for row in conn.execute(
                select(
                    OutboxMessage.id,
                    OutboxMessage.last_error,
                    OutboxMessage.refused_recipients,
                    OutboxMessage.body_text,
                )
            )
        ]
    engine.dispose()
    for secret in year.secrets:
        assert [what for what, said in outputs + mails + stored if secret in said] == []
    # The outputs did name the database: with its password hidden.
    assert any("://postgres:***@127.0.0.1:" in said for _, said in outputs)


def test_buyers_read_no_participant_and_companies_only_their_own(year: Year) -> None:
    engine = make_engine(year.url)
    with engine.connect() as conn:
        buyers = set(conn.scalars(select(BuyerContact.email)))
        company_of = dict(conn.execute(select(Correspondent.email, Correspondent.company_id)).all())
        declared: dict[int, set[str]] = {}
        for company_id, reference in conn.execute(
            select(Declaration.company_id, Participant.reference)
            .join(DeclarationLine, DeclarationLine.declaration_id == Declaration.id)
            .join(Participant, Participant.id == DeclarationLine.participant_id)
            .distinct()
        ):
            declared.setdefault(company_id, set()).add(reference)
    engine.dispose()
    to_buyers = to_companies = 0
    for path, message in emails(year):
        recipients = {a for _, a in getaddresses([str(message["To"])])}
        text = readable(message)
        if recipients & buyers:
            to_buyers += 1
            assert named(text) == set(), path
            assert not any(proof in text for proof in PROOFS), path
        for address in recipients & set(company_of):
            to_companies += 1
            assert named(text) <= declared.get(company_of[address], set()), path
    assert to_buyers > 20 and to_companies > 50
