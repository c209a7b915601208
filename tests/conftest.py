"""Shared fixtures: one App per backend (SQLite file, real PostgreSQL), a settable clock.

The PostgreSQL side needs ``CLAUSES_TEST_DATABASE_URL`` (``.ci/run`` sets it); without it those
tests are skipped with a message saying how to enable them. Each test run creates its own database
on that server, migrates it once and empties it between tests, so runs never see each other.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from workflow.adapters.db import make_engine, normalise_url, upgrade
from workflow.adapters.orm import Base
from workflow.bootstrap import App, bootstrap
from workflow.settings import Settings

# pytest-xdist's workers get COLUMNS=80 and LINES=24 in their environment. Rich reads them once,
# when the CLI's Console is created at import, and would then draw every table 80 columns wide
# whatever COLUMNS a test gives the command: a worker must see what a plain run sees.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for name in ("COLUMNS", "LINES"):
        os.environ.pop(name, None)


@pytest.hookimpl(trylast=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Name a failing test the moment it fails, not only in the summary at the end.

    Under pytest-xdist the progress line shows an ``F`` and the names wait for the last line: a
    CI run stopped by its time limit, or read while it runs, said how many failed but not which.
    Printed by the controller (which receives every worker's reports), on stderr so that the
    progress dots on stdout stay as they are."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    if report.failed:
        print(f"\nFAILED (now) {report.nodeid} [{report.when}]", file=sys.stderr, flush=True)


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test marked ``scenario`` lives months of the service pass by pass (``ticks.simulate``,
    the demo): hundreds of passes, each a dozen transactions, to read what people were told.
    It runs on SQLite only. Run on both databases, these tests made two thirds of the suite's
    time (PostgreSQL 1.6 times SQLite's on two cores) and the CI outgrew its 90 minutes, while
    their PostgreSQL half ran no SQL that is not run there by the demo's whole year
    (``test_audit``, once per database), the tests of several instances sharing one database
    (``test_ticks``, ``test_three_instances``, ``test_ladder_scenarios``) and every service's
    own tests, which all stay on both. A scenario test marked ``postgres`` keeps both."""
    if "database_url" not in metafunc.fixturenames:
        return
    if metafunc.definition.get_closest_marker("scenario") is None:
        return
    if metafunc.definition.get_closest_marker("postgres") is not None:
        return
    # A parametrize marker on the definition overrides the fixture's own parameters
    # (``database_url`` then sees only "sqlite"), where ``metafunc.parametrize`` would clash.
    metafunc.definition.add_marker(
        pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
    )


PG_ENV = "CLAUSES_TEST_DATABASE_URL"
PG_HOWTO = (
    f"PostgreSQL tests skipped: set {PG_ENV}=postgresql://postgres@127.0.0.1:5432/test "
    "(any database the user may CREATE DATABASE from) to run them; .ci/run always does."
)


@pytest.fixture(autouse=True)
def _logging_put_back() -> Iterator[None]:
    """Give each test the process's logging as it found it.

    ``clauses serve`` and ``clauses tick --log`` configure logging for the whole process (root
    handlers, APScheduler quietened to warnings): run in-process by a test, that setup used to leak
    into every later test, so a test could pass or fail depending on what ran before it.
    """
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    apscheduler = logging.getLogger("apscheduler")
    quiet = apscheduler.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    apscheduler.setLevel(quiet)


class Clock:
    """A clock the test moves by hand; the App reads it like the real one."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, now: datetime) -> None:
        assert now.tzinfo is not None
        self.now = now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "clauses.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def lived_demo(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Path:
    """The demo's year lived through the real passes (``run_demo``), as a SQLite file that the
    modules reading the demo each copy (``demo_copy``). Built once per run, by the first xdist
    worker to need it (a lock in the run's own temporary folder, which the workers share), not
    once per module and again each time the random order came back to one (30 s each, the CI's
    slowest set-ups). Never written after it is built: its readers work on their copy."""
    from workflow.services.demo import run_demo

    base = tmp_path_factory.getbasetemp()
    # A worker's folder is ``pytest-N/popen-gwX``: its parent is this run's, shared by the
    # workers; without xdist, ``pytest-N`` itself (its parent holds every earlier run).
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder = shared / "lived-demo"
    done = folder / "demo.db"
    with open(shared / "lived-demo.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            folder.mkdir(exist_ok=True)
            building = folder / "building.db"
            shutil.copy(sqlite_template, building)
            app = bootstrap(make_settings(folder, f"sqlite:///{building}", mail_transport="file"))
            try:
                run_demo(app)
            finally:
                app.close()
            building.rename(done)  # whole or absent: a worker stopped midway leaves no demo
    return done


def demo_copy(lived_demo: Path, folder: Path) -> App:
    """A copy of the lived demo in ``folder``, with its own settings and mail folder."""
    shutil.copy(lived_demo, folder / "demo.db")
    return bootstrap(
        make_settings(folder, f"sqlite:///{folder / 'demo.db'}", mail_transport="file")
    )


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    base = os.environ.get(PG_ENV)
    if not base:
        if os.environ.get("CLAUSES_REQUIRE_POSTGRES"):
            pytest.fail(
                f"{PG_ENV} is not set but CLAUSES_REQUIRE_POSTGRES is: CI never skips these"
            )
        pytest.skip(PG_HOWTO)
    base = normalise_url(base)
    name = f"clauses_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    emptying = _emptying.pop(url, None)
    if emptying is not None:
        emptying[0].dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


_emptying: dict[str, tuple[Engine, str]] = {}


def _empty_postgres(url: str) -> None:
    """Every table emptied and every id counter put back to 1, in one round trip.

    DELETE, children first, then the sequences of those tables restarted: 5 ms on the suite's
    tables of a few rows, where ``TRUNCATE … RESTART IDENTITY CASCADE`` took 85 ms (it
    replaces the files of 27 tables and 22 sequences), before each of the suite's 1,700
    PostgreSQL tests. Should a foreign key refuse the order (a cycle added to the schema),
    the TRUNCATE does it."""
    tables = [t.name for t in Base.metadata.sorted_tables]
    if url not in _emptying:
        engine = make_engine(url)
        with engine.connect() as conn:
            sequences = conn.scalars(
                text(
                    "SELECT DISTINCT s.oid::regclass::text FROM pg_class s "
                    "JOIN pg_depend d ON d.objid = s.oid AND d.deptype IN ('a', 'i') "
                    "JOIN pg_class t ON t.oid = d.refobjid "
                    "WHERE s.relkind = 'S' AND t.relname = ANY(:tables) ORDER BY 1"
                ),
                {"tables": tables},
            ).all()
        statements = [f'DELETE FROM "{name}"' for name in reversed(tables)]
        statements += [f"ALTER SEQUENCE {name} RESTART" for name in sequences]
        _emptying[url] = (engine, "; ".join(statements))
    engine, sql = _emptying[url]
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(sql)
    except IntegrityError:
        listed = ", ".join(f'"{name}"' for name in tables)
        with engine.begin() as conn:
            conn.exec_driver_sql(f"TRUNCATE {listed} RESTART IDENTITY CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every test using it runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "clauses.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    _empty_postgres(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "clauses.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


def make_settings(tmp_path: Path, database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "mail_dir": tmp_path / "mail",
        "facilitator_name": "Camille Martin",
        "facilitator_email": "camille.martin@example.org",
        "facilitator_organisation": "Maison de l'emploi de l'Exemple",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


@pytest.fixture
def app(settings: Settings, clock: Clock) -> Iterator[App]:
    application = bootstrap(settings, clock=clock)
    yield application
    application.close()
