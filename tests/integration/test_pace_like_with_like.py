"""The pace of a clause seen on a given day (the facilitator's digest, a clause's page) compares
like with like: the hours declared up to the last month due with the time elapsed up to that
month's end, as the monthly summary does. Against the time elapsed today, a clause on pace read
one to two months behind every day (« 89 % de l'objectif pour 100 % du temps écoulé » for a lot
declaring exactly its share each month, whose last month could not be declared yet).

A lot worked from 2 March to 31 December 2026, 500 h: on 4 December the last month due is
October (November is due on 10 December); the straight pace expects 400 h by 31 October."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from tests.conftest import Clock
from tests.integration._ladders import Lot, make_lot
from tests.text import squash
from workflow.adapters.orm import Declaration
from workflow.app.clause_board import clause_page
from workflow.bootstrap import App
from workflow.domain.summary import last_month_due
from workflow.emails.digest import Category
from workflow.services.digest import compile_digest

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)  # Friday, 10:00 in Paris


def declared(app: App, lot: Lot, hours: dict[date, str]) -> None:
    with app.transaction() as session:
        session.add_all(
            Declaration(
                clause_id=lot.clause_id, company_id=lot.company_ids[0], month=month,
                total_hours=Decimal(h), recorded_at=NOW, recorded_by="test",
            )
            for month, h in hours.items()
        )  # fmt: skip


def pace_items(app: App, lot: Lot) -> list[str]:
    with app.transaction() as session:
        digest = compile_digest(session, NOW, app.settings)
    return [
        squash(item.detail)
        for item in digest.items
        if item.category is Category.PACE and item.clause_id == lot.clause_id
    ]


def test_the_last_month_due_is_the_one_whose_due_date_has_passed() -> None:
    assert last_month_due(date(2026, 12, 4), 10) == date(2026, 10, 1)
    assert last_month_due(date(2026, 12, 10), 10) == date(2026, 10, 1)  # due today: not yet
    assert last_month_due(date(2026, 12, 11), 10) == date(2026, 11, 1)
    # 10 January 2027 is a Sunday: December is due on Monday the 11th.
    assert last_month_due(date(2027, 1, 11), 10) == date(2026, 11, 1)


def test_a_lot_on_pace_is_not_called_behind_for_months_not_yet_due(app: App, clock: Clock) -> None:
    clock.set(NOW)
    lot = make_lot(app)
    declared(app, lot, {date(2026, m, 1): "50" for m in range(3, 11)})  # March–October: 400 h

    assert pace_items(app, lot) == []
    page = clause_page(app, lot.clause_id)
    assert page.pace_month == date(2026, 10, 1)
    assert (page.hours_through, page.expected_today) == (Decimal(400), Decimal("400.00"))
    assert page.gap == Decimal(0)


def test_a_lot_behind_is_told_with_the_month_its_figures_stop_at(app: App, clock: Clock) -> None:
    clock.set(NOW)
    lot = make_lot(app)
    # 200 h up to October, and November declared early: it counts in what is left to do.
    declared(app, lot, {date(2026, 3, 1): "120", date(2026, 10, 1): "80", date(2026, 11, 1): "50"})

    assert pace_items(app, lot) == [
        "200\u00a0h déclarées jusqu'à fin octobre 2026 (dernier mois dû) sur 500\u00a0h prévues "
        "(40\u00a0% de l'objectif pour 80\u00a0% du temps écoulé à fin octobre 2026) ; reste "
        "250\u00a0h."
    ]
    page = clause_page(app, lot.clause_id)
    assert page.gap == Decimal(-200)
