from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from workflow.adapters.db import current_revision, make_engine, normalise_url
from workflow.bootstrap import App


def head_revision() -> str:
    """The newest migration of the code: what a migrated database must be at."""
    from alembic.script import ScriptDirectory

    from workflow.adapters.db import MIGRATIONS

    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None
    return head


def test_it_migrates_each_backend(app: App) -> None:
    assert app.init_database() == head_revision()


def test_the_migrations_build_the_schema_the_code_declares(app: App) -> None:
    """Every table, column, index and constraint of ``adapters/orm.py`` is made by a migration,
    and nothing else is: an index added to the models without its migration would exist in the
    tests' databases and be missing from every database in service."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from workflow.adapters.orm import Base

    app.init_database()
    with app.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


@pytest.fixture
def empty_postgres(postgres_url: str) -> Iterator[str]:
    """A database with nothing in it, on the test server (``postgres_url`` checks it is there)."""
    admin = create_engine(normalise_url(postgres_url), isolation_level="AUTOCOMMIT")
    name = f"clauses_empty_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.postgres
@pytest.mark.slow
def test_instances_starting_together_on_an_empty_database_all_migrate_it(
    empty_postgres: str, tmp_path: Path
) -> None:
    """What several `clauses serve --migrate` containers do on their first start."""
    env = {**os.environ, "CLAUSES_DATABASE_URL": empty_postgres}
    go = tmp_path / "go"
    # Each process imports everything, then waits for one signal: the migrations start together.
    script = (
        "import sys, time, pathlib\n"
        "from workflow.entrypoints.cli import main\n"
        "while not pathlib.Path(sys.argv[1]).exists(): time.sleep(0.002)\n"
        "sys.argv = ['clauses', 'init']\n"
        "main()\n"
    )
    starts = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(go)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(6)
    ]
    time.sleep(3)  # let them all reach the wait
    go.touch()
    results = [(p.communicate(timeout=120)[1], p.returncode) for p in starts]

    assert [code for _, code in results] == [0] * 6, results
    engine = make_engine(empty_postgres)
    assert current_revision(engine) == head_revision()
    engine.dispose()
