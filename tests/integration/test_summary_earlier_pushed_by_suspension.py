"""Earlier months owed but pushed by a suspension (user trial, 6 December 2026).

Lot 5 suspended on 8 April, resumed on 20 May: the resumption moved March's due dates of its two
companies past 20 May. March's summary had shown them « lot suspendu, échéance reportée à la
reprise »; April's, written after the resumption, listed neither among the earlier months
missing (not late) nor anywhere else: they vanished. Now April's summary says them, among the
earlier months, « attendues, pas encore dues » with the due date the resumption gave, never
counted among the missing; and ``audit verify`` finds nothing to say of it.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from tests.conftest import Clock
from tests.integration._ladders import Lot, declare, make_lot
from tests.integration.test_end_date_correction import paris
from tests.integration.test_lot_terminated import plain
from tests.integration.test_summary_truth import figure_lines
from tests.integration.test_terminated_lot_pace import app, buyer_email, settings
from workflow.adapters.orm import Clause, Market
from workflow.app.audit import verify_database
from workflow.bootstrap import App
from workflow.domain.stages import ClauseEvent
from workflow.services.clauses import advance_clause
from workflow.services.ticks import TimedAction, simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

__all__ = ["app", "settings"]  # the fixtures

JAN, FEB, MAR, APR = (date(2027, m, 1) for m in (1, 2, 3, 4))


def event(app: App, lot: Lot, at: datetime, kind: ClauseEvent, reason: str | None) -> None:
    with app.transaction() as session:
        advance_clause(
            session, lot.clause_id, kind, actor="test", reason=reason, now=at, publish=app.publish
        )


def test_earlier_months_pushed_by_a_suspension_are_said_not_due_yet(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot = make_lot(
        app, start=JAN, end=date(2027, 12, 31), at=paris(JAN, 10),
        companies=("Titulaire", "Cotraitant"),
    )  # fmt: skip
    actions = [
        TimedAction(paris(date(2027, m + 1, 5), 11 + c), f"{m}-{c}",
                    lambda a, at, m=m, c=c: declare(a, lot, date(2027, m, 1), at, company=c))
        for m in (1, 2) for c in (0, 1)
    ] + [
        TimedAction(paris(date(2027, 4, 8), 10), "suspend",
                    lambda a, at: event(a, lot, at, ClauseEvent.SUSPEND, "Fouilles")),
        TimedAction(paris(date(2027, 5, 20), 10), "resume",
                    lambda a, at: event(a, lot, at, ClauseEvent.RESUME, None)),
    ]  # fmt: skip
    # Another buyer's lot, running: its calls leave on time.
    make_lot(app, start=JAN, end=date(2027, 12, 31), at=paris(JAN, 10))
    simulate(app, JAN, date(2027, 5, 31), actions=actions)
    mar, apr = buyer_email(app, lot, MAR), buyer_email(app, lot, APR)
    with app.transaction() as session:
        market = session.get_one(Clause, lot.clause_id).market
        assert isinstance(market, Market)
        label = f"{market.reference} lot 1 – Gros œuvre"
    assert mar.created_at < paris(date(2027, 5, 20), 10) < apr.created_at

    # March's summary, the lot suspended: not due yet, the due date waiting for the resumption.
    said = plain(figure_lines(mar.body_text)["Déclarations de mars 2027"])
    assert said.endswith(
        f"2 pas encore dues : Cotraitant ({label}, lot suspendu, échéance reportée "
        f"à la reprise), Titulaire ({label}, lot suspendu, échéance reportée à la "
        "reprise)"
    ), said
    # April's, written after the resumption: March still expected, said with its new due date,
    # not counted missing.
    body = plain(apr.body_text)
    assert (
        "Déclarations des mois précédents attendues, pas encore dues : mars 2027 de Cotraitant "
        f"({label}, échéance reportée au 25 mai 2027) ; mars 2027 de Titulaire "
        f"({label}, échéance reportée au 25 mai 2027)" in body
    ), body
    assert "toujours manquantes" not in body
    assert "reportée au 25 mai 2027" in apr.body_html

    report = verify_database(app)
    assert report.findings == (), [f.problem for f in report.findings]
