"""``declaration list`` gives no due date that moves while a lot is suspended.

User trial (7 December 2026): March called on 1 April and due on 12 April, its lot suspended on
8 April; the list said « manquante … 14/04/2027 » on 9 April and « 25/05/2027 » on 20 May (the
suspended days pushing it every day), ``"a_la_reprise": false``, while the company's suspension
email said « je vous donnerai la nouvelle [date] à la reprise » and the summary « lot suspendu,
échéance reportée à la reprise ». It now says « à la reprise » until the resumption gives the
date, then that date, which the reminders hold the company to.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time

import pytest
from click.testing import CliRunner

from tests.integration._ladders import make_lot
from tests.integration.test_ladder_scenarios import paris
from workflow.bootstrap import App
from workflow.domain.calendar import at_local
from workflow.domain.stages import ClauseEvent
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.services.clauses import advance_clause
from workflow.services.ticks import simulate

pytestmark = pytest.mark.scenario

SEP = date(2026, 9, 1)


def listed(app: App, at: datetime, clause_id: int) -> dict[str, object]:
    """September's line of ``declaration list --json`` at ``at``."""
    state = CliState()
    state.factory = lambda: app
    real = app.clock
    app.clock = lambda: at
    try:
        result = CliRunner().invoke(
            cli,
            ["declaration", "list", "--clause", str(clause_id), "--month", "09/2026", "--json"],
            obj=state,
        )
    finally:
        app.clock = real
    assert result.exit_code == 0, result.output
    (line,) = json.loads(result.output)["lignes"]
    return dict(line)


def test_a_month_asked_before_the_suspension_is_due_at_the_resumption(app: App) -> None:
    zone = app.settings.zone
    lot = make_lot(app, start=SEP, end=date(2027, 6, 30), at=paris(SEP, 10))
    simulate(app, SEP, date(2026, 10, 6))  # September called on 1 October, due on 12 October
    before = listed(app, at_local(date(2026, 10, 6), time(12), zone), lot.clause_id)
    assert (before["etat"], before["echeance"], before["a_la_reprise"]) == (
        "missing",
        "2026-10-12",
        False,
    )
    with app.transaction() as session:
        advance_clause(session, lot.clause_id, ClauseEvent.SUSPEND, actor="test",
                       reason="intempéries", now=paris(date(2026, 10, 7), 10), publish=app.publish)  # fmt: skip
    for day in (date(2026, 10, 8), date(2026, 10, 20), date(2026, 11, 30)):
        during = listed(app, at_local(day, time(12), zone), lot.clause_id)
        assert (during["etat"], during["echeance"], during["a_la_reprise"]) == (
            "missing",
            None,
            True,
        ), (day, during)
    with app.transaction() as session:
        advance_clause(session, lot.clause_id, ClauseEvent.RESUME, actor="test",
                       reason="reprise", now=paris(date(2026, 12, 1), 10), publish=app.publish)  # fmt: skip
    after = listed(app, at_local(date(2026, 12, 1), time(12), zone), lot.clause_id)
    assert after["a_la_reprise"] is False and after["echeance"] is not None, after
    assert after["echeance"] > "2026-12-01"
