"""The command line on a SQLite copy of the schema, for the e2e modules that share it.

``sqlite_settings`` (not ``settings``, which runs on both backends) and ``run``, the CLI on a wide
terminal so that table cells are not wrapped. A module defining its own ``run`` keeps it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.conftest import Clock, make_settings
from workflow.bootstrap import bootstrap
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.settings import Settings

Invoke = Callable[..., Result]


@pytest.fixture
def sqlite_settings(tmp_path: Path, sqlite_url: str) -> Settings:
    return make_settings(tmp_path, sqlite_url)


@pytest.fixture
def run(sqlite_settings: Settings, clock: Clock) -> Invoke:
    def invoke(*args: str) -> Result:
        state = CliState()
        state.factory = lambda: bootstrap(sqlite_settings, clock=clock)
        return CliRunner().invoke(
            cli, list(args), obj=state, catch_exceptions=False, env={"COLUMNS": "200"}
        )

    return invoke
