"""A company that left the site, suspended before its last month's call opened, still hears.

The subcontractor of ``test_company_left_pauses`` leaves after March 2027 (recorded on 20
March) without declaring March. The works are suspended on 1 April at 07:00, before the day's
pass opens March's call: no ladder of March exists yet, but March is owed all the same. Its
suspension and resumption emails reach it, and name March, never a month after it.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select

from tests.integration._ladders import Lot, declare, ladders, make_lot
from tests.integration.test_company_left_pauses import RESUMED, SUSPENDED, _pause_emails
from tests.integration.test_company_left_site import (
    GONE,
    HOLDER,
    MAR,
    MONTHS,
    SEP,
    _cli,
    local,
    months_told,
)
from workflow.adapters.orm import OutboxMessage
from workflow.bootstrap import App
from workflow.services.ticks import TimedAction, simulate

pytestmark = pytest.mark.scenario


def _suspended_before_marchs_call(app: App) -> Lot:
    lots: list[Lot] = []
    actions = [
        TimedAction(
            local(app, SEP, 8),
            "lot",
            lambda app, at: lots.append(
                make_lot(app, start=SEP, end=date(2027, 12, 31), companies=(HOLDER, GONE), at=at)
            ),
        )
    ]
    for month in MONTHS[:6]:  # September to February, both companies
        following = date(month.year + month.month // 12, month.month % 12 + 1, 3)
        for company in (0, 1):
            actions.append(
                TimedAction(
                    local(app, following, 11 + company),
                    f"{company} {month:%Y-%m}",
                    lambda app, at, month=month, company=company: declare(
                        app, lots[0], month, at, company=company
                    ),
                )
            )

    def leave(app: App, at: datetime) -> None:
        args = ("clause", "company-left", str(lots[0].clause_id), "--company", GONE)
        _cli(app, at, *args, "--last-month", "03/2027", "--reason", "sa part est finie")

    def advance(event: str, *extra: str) -> TimedAction:
        return TimedAction(
            local(app, date(2027, 4, 1) if event == "suspendre" else date(2027, 4, 20), 7),
            event,
            lambda app, at: _cli(
                app, at, "clause", "advance", str(lots[0].clause_id), event, *extra
            ),
        )

    actions += [
        TimedAction(local(app, date(2027, 3, 20), 15), "départ", leave),
        advance("suspendre", "--reason", "intempéries"),
        advance("reprendre"),
    ]
    simulate(app, SEP, date(2027, 4, 21), actions=actions)
    return lots[0]


def test_a_company_gone_owing_march_before_its_call_is_told(app: App) -> None:
    lot = _suspended_before_marchs_call(app)
    holder, gone = lot.company_ids
    # The premise: March's call had not opened when the works were suspended.
    with app.transaction() as session:
        suspended_at = session.scalar(
            select(OutboxMessage.created_at).where(
                OutboxMessage.clause_id == lot.clause_id,
                OutboxMessage.kind == SUSPENDED,
                OutboxMessage.key.like(f"%:company-{holder}@%"),
            )
        )
    assert suspended_at is not None
    march = [lad for lad in ladders(app) if lad.company_id == gone and lad.month == MAR]
    assert all(lad.called_at is None or lad.called_at > suspended_at for lad in march)
    told = _pause_emails(app, lot, gone)
    assert set(told) == {SUSPENDED, RESUMED}
    for text in told.values():
        assert "mars 2027" in text, text
        assert not months_told(text), text
