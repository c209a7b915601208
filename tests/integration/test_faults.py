"""Faults of the installation, caused for real around real ``clauses`` processes.

- **The database connection cut in the middle of a pass** (PostgreSQL): the pass's backend is
  terminated with ``pg_terminate_backend`` while it waits, inside a transaction, for a lock the test
  holds on the outbox. ``clauses tick`` says so in French and exits 1; the transaction under way
  left nothing (no call queued without its ladder step, no ladder step without its call); the next
  pass does the work, each email once. ``clauses serve`` logs the failed pass and its next pass
  does the work. Connections cut *between* two transactions of a pass are replaced unnoticed
  (``pool_pre_ping``): the pass ends normally. Cut while the sender records what the server
  accepted: nothing is sent twice, nothing is lost, the unrecorded ones end ``uncertain``.
- **The mail folder unwritable or full**: the whole batch waits in the outbox (exit code 3, one
  French line), nothing is half-written on disk, and once the folder is fixed the next pass sends
  each waiting message once. Unwritable: the folder's mode is ``0o500`` (as root, the command runs
  without ``CAP_DAC_OVERRIDE``, so the mode applies to it too). Full: a real ``ENOSPC``, the mail
  folder being a small tmpfs, which needs the right to mount (root with ``CAP_SYS_ADMIN``).
- **The SQLite disk full**: the database file on a small tmpfs, an import that needs more room
  than is left; and, where mounting is not allowed, the same import under a file size limit
  (``RLIMIT_FSIZE``, what ``ulimit -f`` or systemd's ``LimitFSIZE`` set). The import is refused in
  French, naming the file, and the database is unchanged and readable; with room, it succeeds.
- **SIGKILL during an import** (SQLite and PostgreSQL): killed while its transaction is writing,
  nothing of it is in the database, which opens fine; run again, it imports once.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import OperationalError

from tests.conftest import _empty_postgres, make_settings
from tests.integration._ladders import ladder_pass, make_lot
from tests.integration.smtp_server import ScriptedHandler, running_server
from tests.text import squash
from workflow.adapters.db import database_fault, make_engine, sqlite_path
from workflow.adapters.mail import ConnectionFailure
from workflow.adapters.mail.files import folder_failure
from workflow.adapters.orm import (
    Base,
    Buyer,
    BuyerContact,
    DeclarationLadder,
    Market,
    Operation,
    OutboxMessage,
)
from workflow.adapters.templates import french_number
from workflow.bootstrap import App, bootstrap
from workflow.services.clauses import ClauseParameters, create_clause

CLAUSES = Path(sys.executable).parent / "clauses"
#: A pass whose calls for March 2026 are due (local time, Europe/Paris), long before any real
#: clock that runs these tests: SMTP may send what it queued.
PASS_AT = "2026-04-08T09:00"
PASS_INSTANT = datetime(2026, 4, 8, 7, 0, tzinfo=UTC)
#: Generous bounds on waiting for a process to reach the state a test needs; never asserted on.
DEADLINE = 120.0
#: Six lots as a facilitator's Excel saves them.
EXCEL_LOTS = Path(__file__).parents[1] / "data" / "lots-excel-fr.csv"


# --- processes and their environment --------------------------------------------------------


def environment(database_url: str, tmp_path: Path, **more: str) -> dict[str, str]:
    """Only what is written here: none of the caller's own ``CLAUSES_*`` or ``PG*`` settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUSES_", "PG"))}
    env.update(
        CLAUSES_DATABASE_URL=database_url,
        CLAUSES_CONFIG="",
        CLAUSES_MAIL_DIR=str(tmp_path / "mail"),
        CLAUSES_WEB_PORT="0",  # ``serve`` starts its pages too: any free port
        CLAUSES_FACILITATOR_NAME="Camille Martin",
        CLAUSES_FACILITATOR_EMAIL="camille.martin@example.org",
        CLAUSES_FACILITATOR_ORGANISATION="Maison de l'emploi de l'Exemple",
        COLUMNS="200",
    )
    env.update(more)
    return env


def clauses(
    env: dict[str, str], cwd: Path, *args: str, prefix: tuple[str, ...] = (), **options: Any
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, str(CLAUSES), *args],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=600, check=False, **options,
    )  # fmt: skip


def start(env: dict[str, str], cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(CLAUSES), *args],
        env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def wait_for(
    condition: Callable[[], Any], what: str, process: subprocess.Popen[str] | None = None
) -> Any:
    """Poll ``condition`` until it returns something true; fail if ``process`` ended first."""
    deadline = time.monotonic() + DEADLINE
    while True:
        found = condition()
        if found:
            return found
        if process is not None and process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"le processus a fini avant : {what}\n{out}\n{err}")
        if time.monotonic() > deadline:
            if process is not None:
                process.kill()
            pytest.fail(f"délai dépassé : {what}")
        time.sleep(0.02)


# --- what the database holds ----------------------------------------------------------------


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in key order: two snapshots are equal when nothing changed."""
    with engine.connect() as conn:
        return {
            table.name: [
                tuple(row)
                for row in conn.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in Base.metadata.sorted_tables
        }


def count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def call_pairs(engine: Engine) -> tuple[set[tuple[int, int]], Counter[tuple[int, int]]]:
    """(lot, company) whose March ladder says it was called; and the call emails queued for
    each, from their keys (``reminder:<clause>:<company>:<month>:call``)."""
    with engine.connect() as conn:
        called = {
            (clause, company)
            for clause, company in conn.execute(
                select(DeclarationLadder.clause_id, DeclarationLadder.company_id).where(
                    DeclarationLadder.called_at.is_not(None)
                )
            )
        }
        keys = conn.scalars(
            select(OutboxMessage.key).where(OutboxMessage.kind == "declaration_call")
        ).all()
    queued: Counter[tuple[int, int]] = Counter()
    for key in keys:
        _, clause, company, *_ = key.split(":")
        queued[(int(clause), int(company))] += 1
    return called, queued


def outbox_states(engine: Engine) -> Counter[str]:
    with engine.connect() as conn:
        return Counter(conn.scalars(select(OutboxMessage.state)).all())


def eml_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.eml")) if folder.exists() else []


# --- PostgreSQL: backends of one process ------------------------------------------------------


@pytest.fixture
def pg_app(postgres_url: str, tmp_path: Path) -> Iterator[App]:
    _empty_postgres(postgres_url)
    application = bootstrap(make_settings(tmp_path, postgres_url), handlers={})
    yield application
    application.close()


def backends(engine: Engine, name: str) -> list[tuple[int, str, str | None, str]]:
    """(pid, state, wait event type, query) of every backend of the process named ``name``
    (its ``PGAPPNAME``)."""
    with engine.connect() as conn:
        return [
            (int(pid), str(state), wait, str(query))
            for pid, state, wait, query in conn.execute(
                text(
                    "SELECT pid, state, wait_event_type, query FROM pg_stat_activity "
                    "WHERE application_name = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
        ]


def terminate(engine: Engine, name: str) -> set[int]:
    """What an administrator or a server restart does to the process's connections: the pids
    of its backends, once they are gone (not only signalled: a backend still exiting could
    answer the pool's ping)."""
    with engine.connect() as conn:
        killed = {
            int(pid)
            for pid, done in conn.execute(
                text(
                    "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND application_name = :name "
                    "AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            if done
        }
    wait_for(lambda: not killed & {b[0] for b in backends(engine, name)}, "connexions fermées")
    return killed


# --- 1. the database connection cut during a pass --------------------------------------------


@pytest.mark.postgres
@pytest.mark.slow
def test_a_connection_cut_mid_pass_leaves_no_half_written_call_and_the_next_pass_sends_each_once(
    pg_app: App, postgres_url: str, tmp_path: Path
) -> None:
    lots = [make_lot(pg_app, companies=("Bâtiments A", "Bâtiments B")) for _ in range(10)]
    pairs = {(lot.clause_id, company) for lot in lots for company in lot.company_ids}
    engine = pg_app.engine
    name = f"faults-{uuid.uuid4().hex[:8]}"
    env = environment(postgres_url, tmp_path, PGAPPNAME=name)

    # The test holds the outbox: the pass opens the month's ladders (committed), then waits
    # inside the transaction that queues the first calls and moves their ladders on.
    blocker = engine.connect()
    try:
        blocker.execute(text("LOCK TABLE outbox IN SHARE ROW EXCLUSIVE MODE"))
        tick = start(env, tmp_path, "tick", "--now", PASS_AT)
        waiting = wait_for(
            lambda: [b for b in backends(engine, name) if b[2] == "Lock"],
            "le passage attend le verrou de la file d'envoi",
            tick,
        )
        assert waiting[0][3].startswith("INSERT INTO outbox")
        assert terminate(engine, name)
    finally:
        blocker.rollback()
        blocker.close()
    out, err = tick.communicate(timeout=DEADLINE)

    assert tick.returncode == 1, out + err
    database = postgres_url.replace("postgresql://", "postgresql+psycopg://")
    assert squash(err) == (
        f"Erreur : La connexion à la base {database} a été coupée en pleine opération (serveur "
        "arrêté ou redémarré, connexion fermée par l'administrateur, réseau coupé) : la "
        "transaction en cours a été annulée en entier, ce qui était validé avant elle reste. "
        "Relancez la commande quand la base répond (détail : terminating connection due to "
        "administrator command)."
    )
    assert "Traceback" not in err
    # What was committed stays (the ladders opened); of the cut transaction, nothing.
    assert count(engine, "declaration_ladders") == len(pairs)
    called, queued = call_pairs(engine)
    assert called == set() and queued == Counter()
    assert count(engine, "outbox") == 0 and eml_files(tmp_path / "mail") == []

    again = clauses(environment(postgres_url, tmp_path), tmp_path, "tick", "--now", PASS_AT)

    assert again.returncode == 0, again.stdout + again.stderr
    assert "20 appels à déclarer" in again.stdout and "20 courriels envoyés" in again.stdout
    called, queued = call_pairs(engine)
    assert called == pairs and queued == Counter(dict.fromkeys(pairs, 1))
    assert outbox_states(engine) == Counter(sent=20)
    files = eml_files(tmp_path / "mail")
    assert len(files) == 20 and len({f.name for f in files}) == 20


def identified_lots(app: App, lots: int) -> None:
    """``lots`` lots just identified: one notice each to their buyer's contact, no ladder."""
    with app.transaction() as session:
        buyer = Buyer(
            name="Département de l'Exemple",
            created_at=PASS_INSTANT,
            contacts=[BuyerContact(name="Alice Acheteuse", email="alice@example.org")],
        )
        market = Market(
            operation=Operation(buyer=buyer, name="Collège", created_at=PASS_INSTANT),
            reference="2026-014",
            title="Travaux",
        )
        session.add(market)
        session.flush()
        for number in range(1, lots + 1):
            create_clause(
                session,
                market,
                lot_number=str(number),
                lot_title=f"Lot {number}",
                params=ClauseParameters(hours_override=500, override_reason="essai"),
                actor="test",
                now=PASS_INSTANT,
                publish=app.publish,
            )


@pytest.mark.postgres
@pytest.mark.slow
def test_the_service_redoes_a_pass_cut_mid_transaction_at_once(
    pg_app: App, postgres_url: str, tmp_path: Path
) -> None:
    app = bootstrap(make_settings(tmp_path, postgres_url))  # with its notices
    try:
        identified_lots(app, 10)
    finally:
        app.close()
    engine = pg_app.engine
    assert outbox_states(engine) == Counter(pending=10)
    name = f"faults-{uuid.uuid4().hex[:8]}"
    env = environment(postgres_url, tmp_path, PGAPPNAME=name, CLAUSES_PASS_INTERVAL="1")
    log = tmp_path / "serve.log"
    blocker = engine.connect()
    with log.open("w") as err:
        serve = subprocess.Popen(
            [str(CLAUSES), "serve"], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
            stderr=err, text=True,
        )  # fmt: skip
    try:
        # The first pass writes to (or claims rows of) the outbox and
        # waits inside its transaction for the lock the test holds.
        blocker.execute(text("LOCK TABLE outbox IN EXCLUSIVE MODE"))
        waiting = wait_for(
            lambda: [b for b in backends(engine, name) if b[2] == "Lock"],
            "le premier passage attend le verrou de la file d'envoi",
            serve,
        )
        blocked = waiting[0][3]
        # A write, or the claim of sends left interrupted (SELECT … FOR UPDATE SKIP LOCKED).
        assert blocked.startswith(("INSERT INTO outbox", "UPDATE outbox")) or (
            blocked.startswith("SELECT outbox.id") and "FOR UPDATE" in blocked
        ), blocked
        assert terminate(engine, name)
        blocker.rollback()
        wait_for(
            lambda: not {"pending", "sending"} & set(outbox_states(engine)),
            "tout est envoyé",
            serve,
        )
    finally:
        blocker.rollback()
        blocker.close()
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=DEADLINE)

    assert serve.returncode == 0, log.read_text()
    actions = Counter(json.loads(line).get("action") for line in log.read_text().splitlines())
    # One French line for the cut pass, which the service redid at once (not at the next one).
    assert actions["pass.retried"] == 1 and actions["pass.failed"] == 0
    assert actions["pass.done"] >= 1
    with engine.connect() as conn:
        notices = conn.execute(
            select(OutboxMessage.state, OutboxMessage.attempts).where(
                OutboxMessage.kind == "notice_identified"
            )
        ).all()
    # Each notice sent once, by a pass after the cut; nothing in the outbox waits.
    assert sorted(notices) == [("sent", 1)] * 10
    assert len(eml_files(tmp_path / "mail" / "notice_identified")) == 10


class HoldingHandler(ScriptedHandler):
    """Accepts everything, but keeps the ``hold_at``-th message's reply until ``release``."""

    def __init__(self, hold_at: int) -> None:
        super().__init__()
        self.hold_at = hold_at
        self.holding = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if len(self.arrived) + 1 == self.hold_at:
            self.holding.set()
            while not self.release.is_set():
                await asyncio.sleep(0.02)
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.postgres
@pytest.mark.slow
def test_connections_cut_between_the_transactions_of_a_pass_are_replaced_unnoticed(
    pg_app: App, postgres_url: str, tmp_path: Path
) -> None:
    for _ in range(5):
        make_lot(pg_app, companies=("Bâtiments A", "Bâtiments B"))
    ladder_pass(pg_app, PASS_INSTANT)
    engine = pg_app.engine
    assert outbox_states(engine) == Counter(pending=10)
    name = f"faults-{uuid.uuid4().hex[:8]}"
    handler = HoldingHandler(hold_at=3)
    with running_server(handler) as server:
        env = environment(
            postgres_url,
            tmp_path,
            PGAPPNAME=name,
            CLAUSES_MAIL_TRANSPORT="smtp",
            CLAUSES_SMTP_HOST="127.0.0.1",
            CLAUSES_SMTP_PORT=str(server.port),
        )
        send = start(env, tmp_path, "mail", "send")
        try:
            wait_for(handler.holding.is_set, "le 3e courriel est chez le serveur", send)
            # The first two outcomes are committed (within 50 ms of their acceptance): from
            # here the sender does nothing with the database until the server replies, so
            # the cut falls between transactions. (Without this wait, a loaded machine could
            # let that commit begin between the check below and the kill: a cut inside a
            # transaction, the case of the tests above, not this one.)
            wait_for(lambda: outbox_states(engine)["sent"] == 2, "2 résultats enregistrés", send)
            # The sender waits for the server's reply; its connections wait in its pool.
            wait_for(
                lambda: all(b[1] == "idle" for b in backends(engine, name)),
                "aucune transaction ouverte",
                send,
            )
            assert terminate(engine, name)
        finally:
            handler.release.set()
        out, err = send.communicate(timeout=DEADLINE)

    assert send.returncode == 0, out + err
    assert "10 envoyé(s), 0 à retenter plus tard" in squash(out)
    assert outbox_states(engine) == Counter(sent=10)
    arrived = Counter(r.message["Message-ID"] for r in handler.arrived)
    assert len(arrived) == 10 and set(arrived.values()) == {1}


def recording_waits(engine: Engine, name: str) -> bool:
    """Whether the sender named ``name`` waits to record an outcome (the test holds the lock)."""
    return any(
        wait == "Lock" and query.startswith("UPDATE outbox SET state")
        for _, _, wait, query in backends(engine, name)
    )


def last_lease(engine: Engine) -> datetime:
    """When the last lease on the outbox ends (stored in UTC, without its zone)."""
    with engine.connect() as conn:
        until = conn.scalar(select(func.max(OutboxMessage.lease_until)))
    assert until is not None
    return until.replace(tzinfo=UTC) if until.tzinfo is None else until


@pytest.mark.postgres
@pytest.mark.slow
def test_a_connection_cut_while_outcomes_are_recorded_sends_nothing_twice_and_loses_nothing(
    pg_app: App, postgres_url: str, tmp_path: Path, record_property: Any
) -> None:
    """The cut falls while the sender records what the server accepted (the test holds the
    outbox, so the recording waits in its transaction), twice: one cut is made good, the commit
    made again on a new connection (``test_dispatch_connection_cut``). What it had not recorded
    is the crash window: once their lease is over, those rows are ``uncertain``, never sent
    again silently; the rows it had not handed over leave with the next pass."""
    for _ in range(5):
        make_lot(pg_app, companies=("Bâtiments A", "Bâtiments B"))
    ladder_pass(pg_app, PASS_INSTANT)
    engine = pg_app.engine
    name = f"faults-{uuid.uuid4().hex[:8]}"
    handler = HoldingHandler(hold_at=3)
    with running_server(handler) as server:
        env = environment(
            postgres_url,
            tmp_path,
            PGAPPNAME=name,
            CLAUSES_MAIL_TRANSPORT="smtp",
            CLAUSES_SMTP_HOST="127.0.0.1",
            CLAUSES_SMTP_PORT=str(server.port),
            # A short lease (it must well outlast the longest send, which the settings check):
            # the test need not wait 20 minutes for the next pass.
            CLAUSES_SMTP_TIMEOUT="1",
            CLAUSES_SMTP_DATA_TIMEOUT="1",
            CLAUSES_MAIL_LEASE="12",
        )
        send = start(env, tmp_path, "mail", "send")
        blocker = engine.connect()
        try:
            wait_for(handler.holding.is_set, "le 3e courriel est chez le serveur", send)
            blocker.execute(text("LOCK TABLE outbox IN EXCLUSIVE MODE"))
            handler.release.set()
            wait_for(
                lambda: recording_waits(engine, name),
                "l'enregistrement des courriels acceptés attend",
                send,
            )
            assert terminate(engine, name)
            # A cut under a commit of outcomes is made good once, on a new connection (which
            # waits for the same lock): cut again, the pass fails and the crash window opens.
            wait_for(
                lambda: recording_waits(engine, name),
                "l'enregistrement refait sur une nouvelle connexion attend",
                send,
            )
            assert terminate(engine, name)
        finally:
            handler.release.set()
            blocker.rollback()
            blocker.close()
        out, err = send.communicate(timeout=DEADLINE)
        before_cut = {r.message["Message-ID"] for r in handler.arrived}

        assert send.returncode == 1, out + err
        assert squash(err).startswith("Erreur : La connexion à la base ")
        assert "a été coupée en pleine opération" in err
        # The next pass, once the leases of the cut pass are over (on the real clock).
        time.sleep(max(0.0, (last_lease(engine) - datetime.now(UTC)).total_seconds()))
        again = clauses(env, tmp_path, "mail", "send")

    assert again.returncode == 0, again.stdout + again.stderr
    arrived = Counter(r.message["Message-ID"] for r in handler.arrived)
    states = outbox_states(engine)
    print(f"arrivés avant la coupure : {len(before_cut)}, incertains : {states['uncertain']}")
    record_property("arrives_avant_la_coupure", len(before_cut))
    record_property("incertains", states["uncertain"])
    # Nothing twice, nothing lost: every row reached the server once, and is either recorded
    # sent or, in the crash window, shown uncertain (at most those that arrived before the cut).
    assert set(arrived.values()) == {1} and len(arrived) == 10
    assert states["sent"] + states["uncertain"] == 10
    assert 0 < len(before_cut) < 10 and states["uncertain"] <= len(before_cut)
    if states["uncertain"]:
        assert "courriel(s) incertain(s) (peut-être déjà arrivés)" in squash(again.stdout)


# --- 2. the mail folder unwritable or full ----------------------------------------------------


def without_dac_override() -> tuple[str, ...]:
    """A prefix under which a folder's mode applies to the command: root ignores modes unless
    it runs without ``CAP_DAC_OVERRIDE`` (and ``CAP_DAC_READ_SEARCH``)."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("tests lancés en root sans setpriv : un dossier 0o500 resterait inscriptible")
    return (setpriv, "--bounding-set=-dac_override,-dac_read_search", "--")


@contextmanager
def small_disk(folder: Path, size: str) -> Iterator[Path]:
    """A real filesystem of ``size`` (tmpfs) mounted on ``folder``; unmounted afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    mount = shutil.which("mount")
    done = None
    if mount is not None:
        options = f"size={size},mode=0755"
        command = [mount, "-t", "tmpfs", "-o", options, "tmpfs", str(folder)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done is None or done.returncode != 0:
        why = done.stderr.strip() if done else "pas de commande mount"
        pytest.skip(f"un petit disque (tmpfs) ne peut pas être monté ici ({why}) : il faut root")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def resize(folder: Path, size: str) -> None:
    """Make room on the small disk, as freeing space on a real one would."""
    subprocess.run(["mount", "-o", f"remount,size={size}", str(folder)], check=True)


@pytest.fixture
def sqlite_app(sqlite_url: str, tmp_path: Path) -> Iterator[App]:
    application = bootstrap(make_settings(tmp_path, sqlite_url), handlers={})
    yield application
    application.close()


def mail_rows(engine: Engine) -> list[tuple[str, int, str | None]]:
    """(state, attempts, last error) of every outbox row, oldest first."""
    with engine.connect() as conn:
        return [
            (state, attempts, error)
            for state, attempts, error in conn.execute(
                select(
                    OutboxMessage.state, OutboxMessage.attempts, OutboxMessage.last_error
                ).order_by(OutboxMessage.id)
            )
        ]


def test_an_unwritable_mail_folder_keeps_every_message_waiting_until_it_is_fixed(
    sqlite_app: App, sqlite_url: str, tmp_path: Path
) -> None:
    for _ in range(2):
        make_lot(sqlite_app, companies=("Bâtiments A", "Bâtiments B"))
    folder = tmp_path / "mail" / "declaration_call"
    folder.mkdir(parents=True)
    folder.chmod(0o500)
    env = environment(sqlite_url, tmp_path)
    prefix = without_dac_override()
    engine = sqlite_app.engine
    refusal = f"dossier du courrier inaccessible : {folder} (écriture non permise)"

    first = clauses(env, tmp_path, "tick", "--now", PASS_AT, prefix=prefix)
    second = clauses(env, tmp_path, "mail", "send", prefix=prefix)

    assert first.returncode == 3, first.stdout + first.stderr
    assert squash(first.stdout).endswith(
        "4 appels à déclarer, 0 rappel, 0 alerte au donneur d'ordre, 0 récapitulatif, "
        "0 synthèse ; 0 courriel envoyé (4 à retenter, 0 en échec, 0 abandonnés)."
    )
    assert squash(first.stderr) == f"Envoi interrompu : {refusal}"
    assert second.returncode == 3, second.stdout + second.stderr
    assert squash(second.stdout) == (
        f"Envoi par fichiers .eml dans {tmp_path / 'mail'}/<type de courriel>/ : 0 envoyé(s), "
        "4 à retenter plus tard, 0 refusé(s), 0 abandonné(s)."
    )
    assert squash(second.stderr) == f"Envoi interrompu : {refusal}"
    # The calls are queued and their ladders moved on: the messages wait, nothing is on disk.
    called, queued = call_pairs(engine)
    assert called == set(queued) and set(queued.values()) == {1} and len(queued) == 4
    rows = mail_rows(engine)
    assert [(state, attempts) for state, attempts, _ in rows] == [("pending", 2)] * 4
    assert all(str(error).endswith(f" : {refusal}") for _, _, error in rows)
    assert list(folder.iterdir()) == []

    # Fixed; the next attempt would send them within minutes; the operator sends them now.
    folder.chmod(0o755)
    with engine.connect() as conn:
        waiting = conn.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)).all()
    for number in waiting:
        assert clauses(env, tmp_path, "mail", "retry", str(number)).returncode == 0
    fixed = clauses(env, tmp_path, "mail", "send", prefix=prefix)
    after = clauses(env, tmp_path, "mail", "send", prefix=prefix)

    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "4 envoyé(s), 0 à retenter plus tard" in squash(fixed.stdout)
    assert [state for state, _, _ in mail_rows(engine)] == ["sent"] * 4
    assert len(eml_files(tmp_path / "mail")) == 4 and len(list(folder.iterdir())) == 4
    assert after.returncode == 0 and "0 envoyé(s)" in after.stdout


def test_a_full_mail_folder_sends_what_fits_and_the_rest_once_room_is_made(
    sqlite_app: App, sqlite_url: str, tmp_path: Path
) -> None:
    for _ in range(3):
        make_lot(sqlite_app, companies=("Bâtiments A", "Bâtiments B"))
    engine = sqlite_app.engine
    env = environment(sqlite_url, tmp_path)
    with small_disk(tmp_path / "mail", "80k") as disk:
        folder = disk / "declaration_call"
        first = clauses(env, tmp_path, "tick", "--now", PASS_AT)
        written = eml_files(disk)
        rows = mail_rows(engine)

        assert first.returncode == 3, first.stdout + first.stderr
        full = f"dossier du courrier plein : {folder} (plus de place sur le disque)"
        assert squash(first.stderr) == f"Envoi interrompu : {full}"
        # What fitted is sent (a call is about 30 kB), the rest waits; no half-written file.
        sent = [row for row in rows if row[0] == "sent"]
        assert 0 < len(sent) < 6 and len(written) == len(sent)
        assert sorted(p.name for p in folder.iterdir()) == [p.name for p in written]
        waiting = [row for row in rows if row[0] == "pending"]
        assert len(waiting) == 6 - len(sent) and {row[1] for row in waiting} == {1}
        assert all(str(error).endswith(f" : {full}") for _, _, error in waiting)

        resize(disk, "1m")
        again = clauses(env, tmp_path, "mail", "send")

        assert again.returncode == 0, again.stdout + again.stderr
        assert f"{6 - len(sent)} envoyé(s), 0 à retenter plus tard" in squash(again.stdout)
        after = mail_rows(engine)
        assert [row[0] for row in after] == ["sent"] * 6
        # Sent once each: the first ones were not sent again.
        assert sorted(row[1] for row in after) == [1] * len(sent) + [2] * (6 - len(sent))
        assert len(eml_files(disk)) == 6 and len(list(folder.iterdir())) == 6


# --- 3. the SQLite disk full ----------------------------------------------------------------


def lots_csv(path: Path, lines: int) -> Path:
    """A lots file as Excel saves it in French (Windows-1252, « ; », CRLF), ten lots a market."""
    header = (
        "Opération;Donneur d'ordre;N° marché;Lot;Intitulé du lot;Montant HT (€);"
        "Part main-d'œuvre;Taux d'insertion;Coût horaire chargé (€);Heures imposées;"
        "Notification prévue"
    )
    rows = [
        f"Construction n° {n // 10} à Saint-Arrats;Département de l'Exemple;2026-{n // 10:04d};"
        f"{n % 10 + 1:02d};Gros œuvre – maçonnerie {n};1 780 000,00;50 %;7,5 %;30,00;;15/03/2026"
        for n in range(lines)
    ]
    path.write_bytes("\r\n".join([header, *rows, ""]).encode("cp1252"))
    return path


def sqlite_state(url: str) -> tuple[dict[str, list[tuple[Any, ...]]], str]:
    """Every row, and SQLite's own integrity check, read by a new connection."""
    engine = make_engine(url)
    try:
        rows = snapshot(engine)
        with engine.connect() as conn:
            check = str(conn.exec_driver_sql("PRAGMA integrity_check").scalar_one())
    finally:
        engine.dispose()
    return rows, check


def fill(folder: Path, leave: int, name: str = "filler") -> Path:
    """A file taking all the room on ``folder``'s disk but ``leave`` bytes."""
    filler = folder / name
    free = shutil.disk_usage(folder).free
    with filler.open("wb") as out:
        out.truncate(0)
        out.write(b"\0" * max(0, free - leave))
    return filler


def test_a_full_disk_refuses_an_sqlite_import_and_leaves_the_database_as_it_was(
    tmp_path: Path, sqlite_template: Path
) -> None:
    lots = lots_csv(tmp_path / "lots.csv", 800)
    # Room for the 800 lots and their indexes once the disk is free again (1 MB before the
    # clauses' three indexes of migration 0019).
    with small_disk(tmp_path / "disk", "2m") as disk:
        database = disk / "clauses.db"
        shutil.copy(sqlite_template, database)
        url = f"sqlite:///{database}"
        env = environment(url, tmp_path)
        assert clauses(env, tmp_path, "import", "lots", str(EXCEL_LOTS)).returncode == 0
        before, _ = sqlite_state(url)
        filler = fill(disk, leave=64 * 1024)

        full = clauses(env, tmp_path, "import", "lots", str(lots))
        after, check = sqlite_state(url)

        assert full.returncode == 1, full.stdout + full.stderr
        assert squash(full.stderr) == (
            f"Erreur : La base SQLite {database} est pleine : plus de place sur le disque, ou "
            "taille limite atteinte ; rien de l'opération n'a été enregistré, la base reste "
            f"comme avant. Libérez de la place sur le disque de {disk}, puis relancez la "
            "commande (détail : database or disk is full)."
        )
        assert "Traceback" not in full.stderr
        assert after == before and check == "ok"
        assert len(before["clauses"]) == 6

        # Not a byte left: SQLite cannot even open its shared-memory file to read.
        last = fill(disk, leave=0, name="filler-2")
        unreadable = clauses(env, tmp_path, "clause", "list")

        assert unreadable.returncode == 1, unreadable.stdout + unreadable.stderr
        assert squash(unreadable.stderr) == (
            f"Erreur : La base SQLite {database} n'a pas pu lire ou écrire ses fichiers : le "
            "disque est plein (aucun octet libre) ; rien de l'opération n'a été enregistré, la "
            f"base reste comme avant. Libérez de la place sur le disque de {disk}, puis relancez "
            "la commande (détail : disk I/O error)."
        )

        filler.unlink()
        last.unlink()
        again = clauses(env, tmp_path, "import", "lots", str(lots), "--json")

        assert again.returncode == 0, again.stdout + again.stderr
        assert '"clauses": 800' in again.stdout
        rows, check = sqlite_state(url)
        assert len(rows["clauses"]) == 806 and check == "ok"


def test_a_file_size_limit_refuses_an_sqlite_import_and_leaves_the_database_as_it_was(
    sqlite_template: Path, tmp_path: Path
) -> None:
    """The same fault wherever a disk cannot be mounted: the kernel refuses to let the
    process's files grow (``RLIMIT_FSIZE``), as a service's ``LimitFSIZE`` would. The folder's
    name has brackets, which the terminal's markup must not eat."""
    database = tmp_path / "base [essai]" / "clauses.db"
    database.parent.mkdir()
    shutil.copy(sqlite_template, database)
    url = f"sqlite:///{database}"
    env = environment(url, tmp_path)
    assert clauses(env, tmp_path, "import", "lots", str(EXCEL_LOTS)).returncode == 0
    before, _ = sqlite_state(url)
    lots = lots_csv(tmp_path / "lots.csv", 800)
    limit = 64 * 1024

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    refused = clauses(env, tmp_path, "import", "lots", str(lots), preexec_fn=limited)
    after, check = sqlite_state(url)

    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert squash(refused.stderr) == (
        f"Erreur : La base SQLite {database} n'a pas pu lire ou écrire ses fichiers : la taille "
        f"des fichiers est limitée pour ce processus (ulimit -f : {french_number(limit)} "
        "octets) ; rien de l'opération n'a été enregistré, la base reste comme avant. Relevez "
        "cette limite (ulimit -f, ou LimitFSIZE du service systemd), puis relancez la commande "
        "(détail : disk I/O error)."
    )
    assert after == before and check == "ok"

    again = clauses(env, tmp_path, "import", "lots", str(lots), "--json")

    assert again.returncode == 0, again.stdout + again.stderr
    assert len(sqlite_state(url)[0]["clauses"]) == 806


# --- 4. SIGKILL during an import ------------------------------------------------------------


def import_writing(engine: Engine, name: str) -> bool:
    """Whether the import named ``name`` is inside its transaction, writing."""
    if engine.dialect.name == "postgresql":
        # It holds the lock that inserting rows into ``clauses`` takes.
        with engine.connect() as conn:
            return bool(
                conn.scalar(
                    text(
                        "SELECT count(*) FROM pg_locks JOIN pg_stat_activity USING (pid) "
                        "WHERE application_name = :name AND relation = 'clauses'::regclass "
                        "AND mode = 'RowExclusiveLock'"
                    ),
                    {"name": name},
                )
            )
    # SQLite: it holds the write lock (``BEGIN IMMEDIATE``), so this one cannot take it.
    database = sqlite_path(str(engine.url))
    probe = sqlite3.connect(database, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as exc:
        return "locked" in str(exc)
    finally:
        probe.close()


@pytest.mark.slow
def test_an_import_killed_while_it_writes_leaves_nothing_and_imports_once_when_run_again(
    database_url: str, tmp_path: Path
) -> None:
    lots = lots_csv(tmp_path / "lots.csv", 2000)
    name = f"faults-{uuid.uuid4().hex[:8]}"
    env = environment(database_url, tmp_path, PGAPPNAME=name)
    assert clauses(env, tmp_path, "import", "lots", str(EXCEL_LOTS)).returncode == 0
    engine = make_engine(database_url)
    try:
        before = snapshot(engine)
        importing = start(env, tmp_path, "import", "lots", str(lots), "--json")
        wait_for(lambda: import_writing(engine, name), "l'import écrit", importing)
        importing.kill()
        importing.communicate(timeout=DEADLINE)
        engine.dispose()  # what follows opens the database anew, as the next command would

        assert importing.returncode == -signal.SIGKILL
        assert snapshot(engine) == before
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"

        again = clauses(env, tmp_path, "import", "lots", str(lots), "--json")

        assert again.returncode == 0, again.stdout + again.stderr
        assert '"clauses": 2000' in again.stdout
        assert count(engine, "clauses") == 2006
    finally:
        engine.dispose()


# --- the words for faults not caused above -----------------------------------------------------


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (errno.EROFS, "dossier du courrier inaccessible : {folder} (disque en lecture seule)"),
        (errno.EDQUOT, "dossier du courrier plein : {folder} (quota de disque dépassé)"),
        (
            errno.ENOTDIR,
            "dossier du courrier inaccessible : {folder} (un fichier porte le nom d'un "
            "dossier du chemin)",
        ),
        (
            errno.EIO,
            "écriture impossible dans le dossier du courrier : {folder} (Input/output error)",
        ),
    ],
)
def test_every_mail_folder_fault_is_named_in_french_and_makes_the_batch_wait(
    code: int, words: str, tmp_path: Path
) -> None:
    folder = tmp_path / "mail" / "declaration_call"
    error = OSError(code, os.strerror(code), str(folder / "x.eml.tmp"))

    failure = folder_failure(error, folder)

    assert isinstance(failure, ConnectionFailure)
    assert failure.message == words.format(folder=folder)
    assert failure.detail == str(error)


def test_a_postgresql_server_out_of_disk_is_named_as_such() -> None:
    class DiskFull(Exception):
        sqlstate = "53100"

    orig = DiskFull('could not extend file "base/16384/16415": No space left on device')
    url = "postgresql://clauses:secret@db.exemple.fr/clauses"

    words = database_fault(OperationalError("INSERT", {}, orig), url)

    assert words == (
        "Le serveur de la base postgresql://clauses:***@db.exemple.fr/clauses n'a plus de place "
        "sur son disque : rien de l'opération n'a été enregistré. Libérez de la place sur le "
        "serveur PostgreSQL, puis relancez la commande (détail : could not extend file "
        '"base/16384/16415": No space left on device).'
    )
