"""The refusals that PostgreSQL made in English, or by crashing, made in French before it is asked.

PostgreSQL refuses a NUL in text (« A string literal cannot contain NUL ») and a number past its
4-byte INTEGER (« integer out of range »); those used to come back as a database error with the
server's English reason. Now the file or the command line is refused first, and the database
(compared by a full dump of every table) is untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.conftest import Clock, _empty_postgres, make_settings
from tests.integration.test_declarations import start_sample
from tests.property.conftest import NOVEMBER
from tests.property.french import assert_file_refusal, assert_refused_in_french
from tests.property.imports import DECLARATIONS, csv_bytes
from tests.property.world import World
from workflow.bootstrap import bootstrap

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_world(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The started sample territory on PostgreSQL, shared by the module's examples: each of them
    is a refusal, which by the property itself leaves it as it was."""
    folder = tmp_path_factory.mktemp("pg")
    _empty_postgres(postgres_url)
    settings_ = make_settings(folder, postgres_url)
    app = bootstrap(settings_, handlers={})
    try:
        start_sample(app)
    finally:
        app.close()
    yield World(folder, settings_, Clock(NOVEMBER))
    _empty_postgres(postgres_url)


control = st.characters(codec="utf-8", categories=["Cc"], exclude_characters="\t\n\r")


@settings(max_examples=10)
@given(char=control, line=st.integers(1, 4), column=st.integers(0, 9))
@example(char="\x00", line=1, column=5)  # PostgreSQL: « cannot contain NUL (0x00) bytes »
def test_a_control_character_in_a_declaration_is_refused_before_postgresql_sees_it(
    pg_world: World, char: str, line: int, column: int
) -> None:
    rows = DECLARATIONS.rows()
    rows[line][column] = rows[line][column] + char
    path = pg_world.file("controle.csv", csv_bytes(rows, encoding="utf-8"))
    before = pg_world.dump()

    result = pg_world.run(*DECLARATIONS.command, str(path))

    [error] = assert_file_refusal(result, "controle.csv")
    assert error.startswith(f"ligne {line + 1}, colonne «\u00a0{rows[0][column]}\u00a0» :"), error
    assert pg_world.dump() == before


@pytest.mark.parametrize(
    "args",
    [
        ("clause", "show", "2147483648"),
        ("company", "add", "Nul\x00 SARL"),
        ("participant", "set", "P-\x000007", "--sex", "F"),
        ("buyer", "add", "Commune d'Essai", "--due-day", "2147483648"),
    ],
    ids=["id", "nul in a name", "nul in a reference", "day"],
)
def test_a_value_postgresql_cannot_hold_is_a_french_usage_error(
    pg_world: World, args: tuple[str, ...]
) -> None:
    before = pg_world.dump()

    result = pg_world.run(*args)

    assert result.exit_code == 2, result.output
    assert_refused_in_french(result, ["Valeur invalide pour"])
    assert pg_world.dump() == before


def test_a_designation_beyond_postgresql_integers_is_simply_not_found(pg_world: World) -> None:
    # « --clause » takes a number, a reference or « RÉF/LOT »: a number no column can hold is
    # looked up as text, never sent to PostgreSQL as an integer it would overflow on.
    before = pg_world.dump()

    result = pg_world.run("participant", "list", "--clause", "99999999999")

    assert result.exit_code == 1, result.output
    message = assert_refused_in_french(result, ["«\u00a099999999999\u00a0» introuvable"])
    assert "clauses clause list" in message
    assert pg_world.dump() == before


def test_random_bytes_leave_postgresql_as_it_was(pg_world: World, tmp_path: Path) -> None:
    path = pg_world.file("hasard.csv", bytes(range(256)) * 8)
    before = pg_world.dump()

    result = pg_world.run(*DECLARATIONS.command, str(path))

    assert_file_refusal(result, "hasard.csv")
    assert pg_world.dump() == before
