"""A declaration of a month its company was never called for, that the previous summary called
missing, is not said to have arrived « sans retard » (review, 6 December 2026).

Lot C (Menuiseries Test) is loaded by hand: its company has nobody to write to, so the service
never arms it, never opens a ladder for it, never calls it. June's summary (23 July 2026) counts
its June missing by its own rule (``is_late`` without a due date: no call planned, the
contract's calendar). Its June arrives on 24 July: July's summary said it « arrivée sans retard
», which contradicted what the buyer read a month before. It is now late, as the summary's rule
said; lots A (called, late) and B (a catch-up call, on time) read as before. The audit, which
recomputes what each email says, finds nothing.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import delete, select, update

from tests.integration._ladders import Lot, make_lot
from tests.integration.test_summary_arrivals_late_or_not import ARRIVED, email, label, text
from tests.integration.test_summary_late_start import STARTED_ON, declare, declare_hours, local
from tests.integration.test_summary_truth import check_email, summary_emails
from workflow.adapters.orm import AwardParty, Correspondent, DeclarationLadder
from workflow.app.audit import verify_database
from workflow.bootstrap import App
from workflow.services.ticks import TimedAction, simulate

pytestmark = pytest.mark.scenario

APR, MAY, JUN = (date(2026, m, 1) for m in (4, 5, 6))


def by_hand(app: App, lot: Lot) -> None:
    """Nobody to write to at the lot's company: the service never calls it."""
    with app.transaction() as session:
        session.execute(
            update(AwardParty)
            .where(AwardParty.clause_id == lot.clause_id)
            .values(correspondent_id=None, next_call_month=None, next_call_at=None)
        )
        session.execute(delete(Correspondent).where(Correspondent.company_id.in_(lot.company_ids)))


def scenario(app: App) -> tuple[Lot, Lot, Lot]:
    """Lots A, B and C up to the day after July's summary (20 August 2026)."""
    called = make_lot(app, start=JUN, end=date(2026, 12, 31), at=local(app, JUN, 8))
    unarmed = make_lot(
        app,
        start=JUN,
        end=date(2026, 12, 31),
        companies=("Menuiseries Test",),
        at=local(app, JUN, 8),
    )
    by_hand(app, unarmed)
    late: list[Lot] = []
    arrived = local(app, ARRIVED, 11)
    actions = [
        TimedAction(
            local(app, STARTED_ON, 10),
            "lot B démarré en retard",
            lambda app, at: late.append(
                make_lot(
                    app, start=APR, end=date(2026, 12, 31), companies=("Peintures Test",), at=at
                )
            ),
        ),
        TimedAction(arrived, "juin (lot A)", lambda app, at: declare_hours(app, called, JUN, "35", at)),
        TimedAction(arrived, "avril (lot B)", lambda app, at: declare_hours(app, late[0], APR, "20", at)),
        TimedAction(arrived, "mai (lot B)", lambda app, at: declare_hours(app, late[0], MAY, "30", at)),
        TimedAction(arrived, "juin (lot B)", lambda app, at: declare(app, late[0], JUN, at)),
        TimedAction(arrived, "juin (lot C)", lambda app, at: declare_hours(app, unarmed, JUN, "12", at)),
    ]  # fmt: skip
    simulate(app, JUN, date(2026, 8, 21), actions=actions, dispatch=False)
    return called, late[0], unarmed


def test_a_month_never_called_and_said_missing_arrives_late(app: App) -> None:
    lot_a, lot_b, lot_c = scenario(app)
    with app.transaction() as session:
        ladders = session.scalars(
            select(DeclarationLadder.id).where(DeclarationLadder.clause_id == lot_c.clause_id)
        ).all()
        party = session.scalars(
            select(AwardParty).where(AwardParty.clause_id == lot_c.clause_id)
        ).one()
        assert (party.next_call_month, party.next_call_at) == (None, None)
    assert ladders == []
    # June's summary to C's buyer called its June missing: no call planned, the calendar.
    june_c = text(email(app, f"summary:2026-06:buyer:{lot_c.buyer_id}").body_text)
    assert "1 manquante" in june_c, june_c

    opening = "Depuis ma synthèse de juin 2026 (établie le 23 juillet 2026), "
    july_c_body = email(app, f"summary:2026-07:buyer:{lot_c.buyer_id}").body_text
    july_c = text(july_c_body)
    assert (
        f"{opening}la déclaration de juin 2026 de Menuiseries Test ({label(app, lot_c)}) est "
        "arrivée le 24 juillet 2026 : 12 h, comptées dans le cumul."
    ) in july_c, july_c
    assert "sans retard" not in july_c_body.split("\n- ", 1)[0], july_c

    # The facilitator: A's and C's late, B's three on time, each line saying which.
    july_body = email(app, "summary:2026-07:facilitator").body_text
    july = text(july_body)
    assert (
        f"{opening}5 déclarations des mois qu'elle couvrait sont arrivées (dont 2 en retard et "
        "1 à 0 h) ; le cumul en tient compte :"
    ) in july, july
    assert july.count("est arrivée sans retard le 24 juillet 2026") == 3, july
    assert "de Menuiseries Test (clause n° " in july
    lines = text(" ".join(july_body.split("\n\n"))).split(" – La déclaration ")
    (line_c,) = [line for line in lines if line.startswith("de juin 2026 de Menuiseries Test")]
    assert "est arrivée en retard le 24 juillet 2026 : 12 h" in line_c, line_c
    (line_a,) = [line for line in lines if line.startswith("de juin 2026 de Bâtiments Test")]
    assert "est arrivée en retard le 24 juillet 2026 : 35 h" in line_a, line_a
    assert lot_a.clause_id != lot_b.clause_id

    for found in summary_emails(app):
        # C's months have no ladder to check its missing ones against (by design).
        check_email(app, found, ladders=found.buyer_id not in (None, lot_c.buyer_id))
    assert [str(f) for f in verify_database(app).findings] == []
