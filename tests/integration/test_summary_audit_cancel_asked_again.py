"""A late month cancelled and asked again leaves the earlier summaries as they were written.

A cancelled declaration asks its month again (``reminders.resume_ladder``): when none of the
month's steps had reached the company (here every email waits in the outbox, as behind a stopped
sender, and the declaration withdrew the month's call, reminders and alert), the month is called
afresh, a new call with a new due date on its ladder. The audit (``clauses audit verify``) and the
replay (``clauses summary --month M --now T``) then read the month's ladder of today for moments
before the cancellation: February's summary had said the month « manquante » (its call of 1 March
gave 10 March), the audit said it « pas encore due, appel prévu le 5 mai 2027 »; March's summary
had said the declaration « est arrivée » late, the audit « est arrivée sans retard »; and March's
« toujours manquantes » lost a month still missing then. The ladder of a past moment is now the
one its history gives (``services.ladders_then``).
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import make_lot
from tests.integration.test_company_rename_history import (
    FEB,
    MAR,
    action,
    cancelling,
    declaring,
    headline,
    problems,
    since_last,
    summary_email,
)
from tests.integration.test_ladder_scenarios import paris
from tests.integration.test_summary_replay_after_correction import summary_cli
from tests.text import squash
from workflow.adapters.orm import Clause, DeclarationLadder
from workflow.bootstrap import App
from workflow.services.ladders_then import earlier_calls
from workflow.services.ticks import simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

APR = date(2027, 4, 1)
ALPHA, BETA, GAMMA = "Alpha Construction", "Bêta Insertion", "Gamma Travaux"


def test_a_late_month_cancelled_and_asked_again_keeps_the_earlier_summaries_true(
    app: App, settings: Settings, clock: Clock
) -> None:
    """Bêta declares February late on 2 April, Gamma on 26 April (after March's summary, which
    says it « toujours manquante »); both are cancelled on 5 May and asked again with a new call.
    The audit finds nothing in the summaries written before, nor after; the replays of February
    and March give their emails' figures."""
    lot = make_lot(
        app,
        start=date(2027, 1, 4),
        end=date(2027, 9, 30),
        companies=(ALPHA, BETA, GAMMA),
        at=paris(date(2027, 1, 4), 8),
    )
    with app.transaction() as session:
        where = f"{session.get_one(Clause, lot.clause_id).market.reference} lot 1"
    before_cancel = [
        action(paris(date(2027, 2, 3), 10), "jan A", declaring(lot, 0, date(2027, 1, 1), {"P-0101": "100"})),
        action(paris(date(2027, 2, 3), 11), "jan B", declaring(lot, 1, date(2027, 1, 1), {"P-0201": "35"})),
        action(paris(date(2027, 2, 3), 12), "jan C", declaring(lot, 2, date(2027, 1, 1), {"P-0301": "20"})),
        action(paris(date(2027, 3, 3), 10), "feb A", declaring(lot, 0, FEB, {"P-0101": "110.75"})),
        action(paris(date(2027, 4, 2), 8), "feb B", declaring(lot, 1, FEB, {"P-0201": "40"})),
        action(paris(date(2027, 4, 3), 10), "mar A", declaring(lot, 0, MAR, {"P-0101": "120"})),
        action(paris(date(2027, 4, 6), 10), "mar B", declaring(lot, 1, MAR, {"P-0201": "50"})),
        action(paris(date(2027, 4, 6), 11), "mar C", declaring(lot, 2, MAR, {"P-0301": "25"})),
        action(paris(date(2027, 4, 26), 10), "feb C", declaring(lot, 2, FEB, {"P-0301": "30"})),
    ]  # fmt: skip
    simulate(app, date(2027, 1, 4), date(2027, 5, 4), actions=before_cancel, dispatch=False)
    assert problems(app) == []
    february, march = summary_email(app, FEB), summary_email(app, MAR)
    feb_said, mar_said = headline(february.body_text), headline(march.body_text)
    assert f"1 reçue sur 3 attendues ; 2 manquantes : {BETA} ({where}" in squash(
        february.body_text.replace("\u00a0", " ")
    )
    assert since_last(march.body_text).startswith(
        "Depuis ma synthèse de février 2027 (établie le 22 mars 2027), la déclaration de "
        f"février 2027 de {BETA} ({where} – Gros œuvre) est arrivée le 2 avril 2027 : 40 h"
    ), since_last(march.body_text)
    assert any(f"{GAMMA}" in line and "février 2027" in line for line in mar_said), mar_said

    after_cancel = [
        action(paris(date(2027, 5, 5), 9, 20), "cancel feb B", cancelling(lot, 1, FEB)),
        action(paris(date(2027, 5, 5), 9, 25), "cancel feb C", cancelling(lot, 2, FEB)),
    ]
    simulate(app, date(2027, 5, 5), date(2027, 6, 4), actions=after_cancel, dispatch=False)
    # The cancellations called February afresh: the ladders hold the new call and due date.
    with app.transaction() as session:
        calls = session.scalars(
            select(DeclarationLadder.called_at).where(
                DeclarationLadder.month == FEB,
                DeclarationLadder.company_id.in_(lot.company_ids[1:]),
            )
        ).all()
    assert all(c is not None and c >= paris(date(2027, 5, 5), 9) for c in calls), calls
    # What the history gives of February before: the call of 1 March, « au plus tard le
    # 10 mars 2027 », until each cancellation.
    with app.transaction() as session:
        earlier = earlier_calls(session)
    assert {key: [(c.called_at, c.due_on) for c in found] for key, found in earlier.items()} == {
        (lot.clause_id, company, FEB): [(paris(date(2027, 3, 1), 9), date(2027, 3, 10))]
        for company in lot.company_ids[1:]
    }

    found = problems(app)
    assert found == [], "\n".join(found)
    clock.set(paris(date(2027, 6, 4), 12))
    for email, said in ((february, feb_said), (march, mar_said)):
        replay = summary_cli(
            settings,
            clock,
            "--month",
            f"{email.key.split(':')[1]}",
            "--buyer",
            str(lot.buyer_id),
            "--now",
            email.created_at.isoformat(),
        )
        assert headline(replay) == said, replay
