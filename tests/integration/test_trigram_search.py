"""On PostgreSQL, the searches read trigram indexes (migration 0017); nothing changes on SQLite.

The board's search (``/clauses?recherche=…``) and the corrections search (``search``) match each
record's ``search_text`` with ``LIKE '%text%'``, and a SIRET typed as digits with
``companies.siret LIKE '%digits%'``: no B-tree answers those, and at 10^5 lots every search read
every lot's text. Migration 0017 puts a GIN index of ``pg_trgm``'s ``gin_trgm_ops`` on each of
them, on PostgreSQL only. Here: the migration adds exactly those indexes on PostgreSQL and
changes nothing of an SQLite schema; the statements the two searches send read them and find
the same lots and companies (explained with the full reads of a table forbidden, as
``test_query_plans`` forbids sequential scans: the sample's tables are too small for the planner
to prefer an index; at 10^5 lots it takes them unasked); a role that may not create the
extension still migrates to the head, logs in French why the indexes are missing, and its
searches still find.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from click.testing import CliRunner
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from tests.conftest import _empty_postgres, make_settings
from tests.integration.test_declarations import start_sample
from tests.integration.test_query_plans import nodes
from tests.integration.test_smoke import head_revision
from tests.text import squash
from workflow.adapters.db import alembic_config, current_revision, make_engine, normalise_url
from workflow.app.clause_board import clause_board
from workflow.app.clauses import list_clauses
from workflow.app.search import search
from workflow.bootstrap import App, bootstrap
from workflow.entrypoints.cli import cli
from workflow.sample.data import BATIMENTS_GASCONS, GASCOGNE_INSERTION

#: The columns each search matches with ``LIKE '%…%'``: the board the lots' five kinds, the
#: corrections search all eight; both the companies' SIRET when the text is digits.
BOARD = ("clauses", "markets", "operations", "buyers", "companies")
CORRECTIONS = (*BOARD, "buyer_contacts", "correspondents", "participants")
TRIGRAM_COLUMNS = (*((table, "search_text") for table in CORRECTIONS), ("companies", "siret"))


def schema(engine: Engine) -> set[str]:
    """The schema's indexes as the database writes them (PostgreSQL), or everything in
    ``sqlite_master`` (SQLite)."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = connection.exec_driver_sql(
                "SELECT type || ' ' || name || ' ' || coalesce(sql, '') FROM sqlite_master"
            )
        else:
            rows = connection.exec_driver_sql(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema()"
            )
        return {str(row[0]) for row in rows}


def test_the_migration_adds_the_trigram_indexes_on_postgresql_and_nothing_on_sqlite(
    app: App,
) -> None:
    config = alembic_config(app.engine)
    try:
        command.downgrade(config, "0016")
        before = schema(app.engine)
        command.upgrade(config, "0017")
        after = schema(app.engine)
    finally:
        command.upgrade(config, "head")
    if app.engine.dialect.name == "sqlite":
        assert after == before
        return
    assert before - after == set()
    assert after - before == {
        f"CREATE INDEX ix_{table}_{column}_trgm ON public.{table} USING gin ({column} gin_trgm_ops)"
        for table, column in TRIGRAM_COLUMNS
    }


def lots_by_reference(app: App) -> dict[str, int]:
    start_sample(app)
    return {
        f"{c.market}/{c.lot_number}" if c.lot_number else c.market: c.id for c in list_clauses(app)
    }


def board_lots(app: App, text: str) -> set[int]:
    board = clause_board(app, text=text)
    ids = [card.id for column in board.columns for card in column.cards]
    assert board.total == len(ids) == len(set(ids)), text
    return set(ids)


def companies_found(app: App, text: str) -> list[str]:
    return [f.label for f in search(app, text).found if f.kind == "company"]


#: What reads a table end to end: a sequential scan, and an index scan with no condition (the
#: planner's choice for a table of a few rows). A plan left without them reads the trigram index
#: if there is one; a bitmap scan still reads the other indexes by their conditions.
FULL_READS = ("enable_seqscan", "enable_indexscan", "enable_indexonlyscan")


def trigram_reads(app: App, run: Callable[[], object]) -> tuple[set[str], set[str]]:
    """The trigram indexes the ``LIKE`` statements ``run`` sends read, and the tables they read
    end to end or filter row by row on a ``LIKE``, explained with the full reads forbidden."""
    sent: list[tuple[str, Any]] = []

    def record(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if " LIKE " in statement:
            sent.append((statement, parameters))

    event.listen(app.engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        event.remove(app.engine, "before_cursor_execute", record)
    assert sent
    indexes: set[str] = set()
    scanned: set[str] = set()
    with app.engine.connect() as connection:
        # The plans follow the statistics: gathered here, on this test's rows, not left by
        # whichever tests ran before in the same database (a CI run in random order once
        # planned the buyers' search from another test's statistics, without its index).
        connection.exec_driver_sql("ANALYZE")
        for scan in FULL_READS:
            connection.exec_driver_sql(f"SET {scan} = off")
        for statement, parameters in sent:
            explained = connection.exec_driver_sql(
                "EXPLAIN (FORMAT JSON) " + statement, parameters
            ).scalar()
            document = explained if isinstance(explained, list) else json.loads(str(explained))
            for node in nodes(document[0]["Plan"]):
                if node["Node Type"] == "Seq Scan" or "~~" in node.get("Filter", ""):
                    scanned.add(str(node.get("Relation Name", node["Node Type"])))
                if str(node.get("Index Name", "")).endswith("_trgm"):
                    indexes.add(str(node["Index Name"]))
        connection.rollback()
    return indexes, scanned


def trigram(*tables: str, siret: bool = False) -> set[str]:
    return {f"ix_{t}_search_text_trgm" for t in tables} | (
        {"ix_companies_siret_trgm"} if siret else set()
    )


@pytest.mark.postgres
def test_the_searches_read_the_trigram_indexes_and_find_the_same_lots(
    postgres_app: App,
) -> None:
    app = postgres_app
    lots = lots_by_reference(app)
    lot_01 = {lots["2026-014/01"]}
    gascons = "Bâtiments Gascons SARL (SIRET 41234567800012)"
    middle = BATIMENTS_GASCONS[3:12]  # « 345678000 », neither its start nor its end
    spaced = f"{BATIMENTS_GASCONS[:3]} {BATIMENTS_GASCONS[3:6]} {BATIMENTS_GASCONS[6:9]}"

    # A piece of a name, from the middle of a word, any case and accents; a piece of a SIRET.
    for typed in ("Gascons", "ASCON", "bâtiments gascons", middle, spaced):
        assert board_lots(app, typed) == lot_01, typed
    assert companies_found(app, "ascons") == [gascons]
    assert companies_found(app, middle) == [gascons]
    assert companies_found(app, GASCOGNE_INSERTION[2:11]) == [
        "Gascogne Insertion Bâtiment (EI) (SIRET 83345678900019)"
    ]
    # Three characters, the fewest a trigram holds; « % » still matches itself only.
    assert board_lots(app, "œuv") == board_lots(app, "oeuv") != set()
    assert board_lots(app, "gas%ons") == set()

    for run, read in (
        (lambda: clause_board(app, text="Gascons"), trigram(*BOARD)),
        (lambda: clause_board(app, text=middle), trigram(*BOARD, siret=True)),
        (lambda: search(app, "Gascons"), trigram(*CORRECTIONS)),
        (lambda: search(app, middle), trigram(*CORRECTIONS, siret=True)),
    ):
        indexes, scanned = trigram_reads(app, run)
        assert indexes == read
        assert scanned.isdisjoint(CORRECTIONS), scanned


@pytest.fixture
def postgres_app(postgres_url: str, tmp_path: Path) -> Iterator[App]:
    _empty_postgres(postgres_url)
    application = bootstrap(make_settings(tmp_path, postgres_url))
    yield application
    application.close()


@pytest.fixture
def no_extension_url(postgres_url: str) -> Iterator[str]:
    """An empty database whose role may create tables but not extensions: it owns neither the
    database nor the server (what a hosted PostgreSQL may give)."""
    admin = create_engine(normalise_url(postgres_url), isolation_level="AUTOCOMMIT")
    suffix = uuid.uuid4().hex[:10]
    name, role = f"clauses_noext_{suffix}", f"clauses_noext_{suffix}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = make_url(postgres_url).set(database=name)
    database = create_engine(normalise_url(base.render_as_string(hide_password=False)))
    with database.begin() as conn:
        conn.execute(text(f'GRANT USAGE, CREATE ON SCHEMA public TO "{role}"'))
    database.dispose()
    try:
        yield base.set(username=role, password=None).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


@pytest.mark.postgres
def test_without_the_right_to_create_the_extension_the_upgrade_goes_on_and_says_why(
    no_extension_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = make_engine(no_extension_url)
    with caplog.at_level(logging.WARNING, logger="workflow.migrations"):
        app = bootstrap(make_settings(tmp_path, no_extension_url))
        try:
            assert app.init_database() == head_revision()
        finally:
            app.close()
    [warning] = [r for r in caplog.records if r.name == "workflow.migrations"]
    said = warning.getMessage()
    assert getattr(warning, "action", None) == "migration.trigrams_skipped"
    assert said.startswith(
        "index de recherche par trigrammes non créés : le rôle de connexion n'a pas pu créer "
        "l'extension pg_trgm (il faut être propriétaire de la base ou superutilisateur ; "
        'détail : permission denied to create extension "pg_trgm").'
    ), said
    assert "donnent les mêmes résultats, mais lisent toutes les lignes" in said
    assert "CREATE EXTENSION pg_trgm (en superutilisateur)" in said
    assert not any("_trgm " in definition for definition in schema(engine))
    assert current_revision(engine) == head_revision()
    engine.dispose()

    # ``clauses init`` (run again: nothing to migrate) says it too, in the operator's words.
    monkeypatch.setenv("CLAUSES_DATABASE_URL", no_extension_url)
    monkeypatch.setenv("CLAUSES_MAIL_DIR", str(tmp_path / "mail"))
    result = CliRunner().invoke(cli, ["init"])
    assert result.exit_code == 0, result.output
    assert squash(result.output).endswith(
        "Attention : l'extension PostgreSQL pg_trgm n'a pas pu être créée (elle n'est pas "
        "installée sur le serveur, ou le rôle de connexion n'a pas le droit de la créer : il "
        "faut être propriétaire de la base ou superutilisateur) ; les recherches donnent les "
        "mêmes résultats mais lisent toutes les lignes. Voir le README, « Recherche rapide sur "
        "PostgreSQL »."
    ), result.output

    # The searches work all the same, reading every row.
    app = bootstrap(make_settings(tmp_path, no_extension_url))
    try:
        lots = lots_by_reference(app)
        assert board_lots(app, "Gascons") == {lots["2026-014/01"]}
        assert companies_found(app, BATIMENTS_GASCONS[3:12]) == [
            "Bâtiments Gascons SARL (SIRET 41234567800012)"
        ]
    finally:
        app.close()


@pytest.fixture
def extension_elsewhere_url(postgres_url: str) -> Iterator[str]:
    """An empty database whose ``pg_trgm`` lives in a schema of its own, out of the search path
    (as hosted PostgreSQL often installs extensions)."""
    admin = create_engine(normalise_url(postgres_url), isolation_level="AUTOCOMMIT")
    name = f"clauses_extschema_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    database = create_engine(normalise_url(url))
    with database.begin() as conn:
        conn.execute(text("CREATE SCHEMA extensions"))
        conn.execute(text("CREATE EXTENSION pg_trgm SCHEMA extensions"))
    database.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.postgres
def test_an_extension_in_a_schema_of_its_own_is_used_by_its_name(
    extension_elsewhere_url: str, tmp_path: Path
) -> None:
    """Out of the search path, ``gin_trgm_ops`` alone is unknown: the migration names it with
    its schema, and the indexes are made; the searches find the same lots."""
    app = bootstrap(make_settings(tmp_path, extension_elsewhere_url))
    try:
        assert app.init_database() == head_revision()
        made = [d for d in schema(app.engine) if "_trgm " in d]
        assert len(made) == 9 and all("extensions.gin_trgm_ops" in d for d in made), made
        lots = lots_by_reference(app)
        assert board_lots(app, "Gascons") == {lots["2026-014/01"]}
    finally:
        app.close()
