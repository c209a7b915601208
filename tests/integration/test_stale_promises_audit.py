"""``clauses audit verify`` reads the keys of emails written again by ``stale_promises``: a
buyer's resumption notice rewritten after a stop (``notice:<clause>:notice_resumed:h<N>~2``)
names the same history row as the first one, and the audit finds nothing (SQLite and
PostgreSQL). A user trial saw « l'instant « h12~2 » de la clé est illisible » and exit code 1
on a healthy database."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.conftest import Clock
from tests.integration.test_company_pause_notices import a_lot_suspended_with_april_owed, advance
from tests.integration.test_ladder_scenarios import paris
from tests.integration.test_stale_promises_buyer import rows
from workflow.adapters.mail.files import FileTransport
from workflow.bootstrap import App
from workflow.domain.stages import ClauseEvent
from workflow.services.audit import verify
from workflow.services.ticks import run_pass
from workflow.settings import Settings

pytestmark = pytest.mark.scenario


def test_the_audit_reads_a_notice_written_again_as_its_first_sending(
    app: App, clock: Clock, settings: Settings
) -> None:
    app.transport = FileTransport(settings.mail_dir)
    lot = a_lot_suspended_with_april_owed(app)
    # Resumed on 20 May while the service is stopped; it restarts on 15 June.
    resumed = paris(date(2026, 5, 20), 10)
    clock.set(resumed)
    advance(app, lot, ClauseEvent.RESUME, resumed, "Reprise du gros œuvre")
    restart = paris(date(2026, 6, 15), 9)
    clock.set(restart)
    run_pass(app, restart)
    run_pass(app, restart + timedelta(minutes=1))
    *_, old, new = rows(app)
    assert (old.state, new.state) == ("cancelled", "sent")
    assert new.key == f"{old.key}~2" and old.key.split(":")[3].startswith("h")

    report = verify(app)

    assert [finding.line for finding in report.findings] == []
