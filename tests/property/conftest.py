"""Hypothesis profiles and the prepared databases the property tests copy for each example.

Profiles: ``clauses`` (the default: few examples, so that the package stays within a few minutes
in CI) and ``thorough`` (``HYPOTHESIS_PROFILE=thorough``: many more, for a hunt by hand). The
examples that once found a bug are kept in each test with ``@example`` and run in every profile;
hypothesis's database of failures lives in ``var/hypothesis`` (never committed).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

from tests.conftest import Clock, make_settings
from tests.integration.test_declarations import DECLARATION, start_sample
from workflow.bootstrap import bootstrap
from workflow.services.declaration_imports import import_declaration_file

ROOT = Path(__file__).resolve().parents[2]
NOVEMBER = datetime(2026, 11, 5, 9, 0, tzinfo=UTC)

#: What both profiles share: no deadline (one example runs a whole command on a database, its
#: time varies with the machine's load), the failures database under var/.
settings.register_profile(
    "base",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=DirectoryBasedExampleDatabase(str(ROOT / "var" / "hypothesis")),
    print_blob=True,
)
settings.register_profile("clauses", settings.get_profile("base"), max_examples=25)
settings.register_profile("thorough", settings.get_profile("base"), max_examples=400)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "clauses"))


def examples(share: float) -> int:
    """A share of the profile's examples, for the tests whose examples cost most."""
    current = settings.default
    assert current is not None
    return max(5, int(current.max_examples * share))


def _copy(source: Path, target: Path) -> Path:
    target.write_bytes(source.read_bytes())
    return target


@pytest.fixture(scope="session")
def empty_template(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The schema and nothing else."""
    return _copy(sqlite_template, tmp_path_factory.mktemp("empty") / "clauses.db")


@pytest.fixture(scope="session")
def started_template(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample territory, every awarded lot in execution since March 2026."""
    folder = tmp_path_factory.mktemp("started")
    path = _copy(sqlite_template, folder / "clauses.db")
    app = bootstrap(make_settings(folder, f"sqlite:///{path}"), handlers={})
    try:
        start_sample(app)
    finally:
        app.close()
    return path


@pytest.fixture(scope="session")
def declared_template(started_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The started territory with October 2026 declared for lot 01 (4 participants), on
    5 November 2026: what an outcomes file refers to."""
    folder = tmp_path_factory.mktemp("declared")
    path = _copy(started_template, folder / "clauses.db")
    app = bootstrap(make_settings(folder, f"sqlite:///{path}"), clock=Clock(NOVEMBER))
    try:
        with app.transaction() as session:
            import_declaration_file(
                session, DECLARATION, actor="Camille Martin", now=NOVEMBER, publish=app.publish
            )
    finally:
        app.close()
    return path
