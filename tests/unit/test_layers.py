"""The layers hold: the import-linter contracts of pyproject.toml, and the issue's own check that
no entry point touches the database but through the application layer."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_are_kept() -> None:
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(linter), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_entry_points_hold_no_transaction_no_clock_no_sqlalchemy() -> None:
    """What a web route would otherwise have to copy: a transaction, the clock, a query."""
    pattern = re.compile(r"sqlalchemy|app\.transaction|app\.clock")
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted((ROOT / "workflow" / "entrypoints").rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == []
