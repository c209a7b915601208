"""One throwaway database per hypothesis example, the ``clauses`` command on it, and its dump.

Hypothesis runs a test body many times inside one pytest test, so function-scoped fixtures cannot
give each example its own database. A ``World`` is a copy of a prepared SQLite file (made once per
session) in its own temporary folder: examples never see each other's rows, and a failing example
replays alone.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from click.testing import CliRunner, Result

from tests.conftest import Clock, make_settings
from tests.property.dump import dump
from workflow.bootstrap import bootstrap
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.settings import Settings


@dataclass
class World:
    folder: Path
    settings: Settings
    clock: Clock

    def run(self, *args: str) -> Result:
        """``clauses ARGS`` in this process, as the e2e tests run it; an exception the command
        lets escape is raised here (hypothesis then shrinks to the smallest input causing it)."""
        state = CliState()
        state.factory = lambda: bootstrap(self.settings, clock=self.clock)
        return CliRunner().invoke(
            cli, list(args), obj=state, catch_exceptions=False, env={"COLUMNS": "200"}
        )

    def dump(self) -> list[str]:
        return dump(self.settings.database_url)

    def file(self, name: str, content: bytes) -> Path:
        path = self.folder / name
        path.write_bytes(content)
        return path


@contextmanager
def world(template: Path, now: datetime) -> Iterator[World]:
    """A fresh copy of ``template`` with the clock at ``now``; removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="hostile-") as name:
        folder = Path(name)
        database = folder / "clauses.db"
        shutil.copy(template, database)
        settings = make_settings(folder, f"sqlite:///{database}")
        yield World(folder, settings, Clock(now))
