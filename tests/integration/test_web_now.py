"""``clauses web --now``: the pages as they were at a moment, the clock starting there, so the
demo (which runs to March 2027) can be looked at as its companies and facilitator saw it. The
real ``clauses web`` process on a SQLite file, on a free port."""

from __future__ import annotations

import html
import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import make_settings
from tests.integration.test_declaration_howto import lot_01
from tests.integration.test_declarations import start_sample
from tests.integration.test_online_declaration import CALLED, call_link
from workflow.adapters.db import make_engine, upgrade
from workflow.bootstrap import bootstrap
from workflow.services.ticks import run_pass

pytestmark = pytest.mark.slow


def page_status(url: str, env: dict[str, str], *now: str) -> tuple[int, str]:
    """The status and text of ``url`` served by a fresh ``clauses web [--now …]``."""
    command = [sys.executable, "-c", "from workflow.entrypoints.cli import main; main()"]
    process = subprocess.Popen(
        [*command, "web", *now], env=env, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    watchdog = threading.Timer(60, process.kill)
    watchdog.start()
    try:
        assert process.stderr is not None
        port = None
        for raw in process.stderr:
            line = json.loads(raw)
            if line["action"] == "web.started":
                port = line["port"]
                break
        assert port is not None
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{url}", timeout=10) as answer:
                return answer.status, html.unescape(answer.read().decode("utf-8"))
        except urllib.error.HTTPError as refused:
            return refused.code, html.unescape(refused.read().decode("utf-8"))
    finally:
        watchdog.cancel()
        process.terminate()
        process.communicate(timeout=60)


def called_sample(tmp_path: Path) -> tuple[str, dict[str, str]]:
    """The sample territory on a SQLite file, its calls of 4 May 2026 at 09:00 made: the
    signed link of lot 01's holder (valid 60 days), and the environment of a ``clauses web``
    on it on a free port."""
    url = f"sqlite:///{tmp_path / 'clauses.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    app = bootstrap(make_settings(tmp_path, url), clock=lambda: CALLED)
    start_sample(app)
    run_pass(app, CALLED)
    clause_id, holder_id, _ = lot_01(app)
    link = call_link(app, clause_id, holder_id)
    app.close()
    return link, {**os.environ, "CLAUSES_DATABASE_URL": url, "CLAUSES_WEB_PORT": "0"}


def test_the_pages_can_be_seen_as_they_were_at_a_moment(tmp_path: Path) -> None:
    link, env = called_sample(tmp_path)

    status, page = page_status(link, env, "--now", "2026-05-05T10:00")
    assert status == 200 and "Heures d'insertion d'avril 2026" in page

    # On the real clock, months later, the same link has expired.
    status, page = page_status(link, env)
    assert status == 410 and "expiré" in page


def test_a_moment_before_what_the_database_holds_is_refused(tmp_path: Path) -> None:
    """A site served before the latest recorded action would show what was recorded after its
    moment and date its own changes after it (user trial): refused, the site not started."""
    _, env = called_sample(tmp_path)  # the last pass: 4 May 2026 at 09:00
    command = [sys.executable, "-c", "from workflow.entrypoints.cli import main; main()"]
    refused = subprocess.run(
        [*command, "web", "--now", "2026-05-03T10:00"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0
    said = " ".join((refused.stdout + refused.stderr).split())
    assert "--now : le 3 mai 2026 à 10 h est antérieur à la dernière action enregistrée" in said
    assert "servez-le à partir du 04/05/2026" in said and "Le site n'a pas été lancé." in said
    assert "web.started" not in said
