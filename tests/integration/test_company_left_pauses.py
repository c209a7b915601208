"""The suspension and resumption emails of a lot, to a company that left its site.

A company that left the site (``clauses clause company-left``, last month March) still owed
March when the lot was suspended in May: its suspension email names March as still owed, never
a month after it, and its resumption email announces no call (the passes open none for it after
March); the company staying gets both as before, its next call named. A company that left
owing nothing is not written to at all: the works it no longer takes part in stop and start
without it.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select

from tests.integration._ladders import Lot, declare, make_lot
from tests.integration.test_company_left_site import (
    FEB,
    GONE,
    HOLDER,
    MONTHS,
    SEP,
    _cli,
    local,
    months_told,
)
from tests.text import squash
from workflow.adapters.orm import OutboxMessage
from workflow.bootstrap import App
from workflow.services.ticks import TimedAction, simulate

pytestmark = pytest.mark.scenario

SUSPENDED, RESUMED = "company_lot_suspended", "company_lot_resumed"


def _lived(app: App, *, gone_declares_march: bool) -> Lot:
    """The lot of ``test_company_left_site`` (two companies, the subcontractor gone after
    March, recorded on 20 March), suspended on 10 May and resumed on 1 June 2027."""
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
    for month in MONTHS[:-2]:  # the holder: September to March
        following = date(month.year + month.month // 12, month.month % 12 + 1, 3)
        actions.append(
            TimedAction(
                local(app, following, 11),
                f"{HOLDER} {month:%Y-%m}",
                lambda app, at, month=month: declare(app, lots[0], month, at, company=0),
            )
        )
        if month <= FEB or gone_declares_march:
            actions.append(
                TimedAction(
                    local(app, following, 12),
                    f"{GONE} {month:%Y-%m}",
                    lambda app, at, month=month: declare(app, lots[0], month, at, company=1),
                )
            )

    def leave(app: App, at: datetime) -> None:
        args = ("clause", "company-left", str(lots[0].clause_id), "--company", GONE)
        _cli(app, at, *args, "--last-month", "03/2027", "--reason", "sa part est finie")

    actions += [
        TimedAction(local(app, date(2027, 3, 20), 15), "départ", leave),
        TimedAction(
            local(app, date(2027, 5, 10), 15),
            "suspension",
            lambda app, at: _cli(
                app,
                at,
                "clause",
                "advance",
                str(lots[0].clause_id),
                "suspendre",
                "--reason",
                "intempéries",
            ),
        ),
        TimedAction(
            local(app, date(2027, 6, 1), 10),
            "reprise",
            lambda app, at: _cli(app, at, "clause", "advance", str(lots[0].clause_id), "reprendre"),
        ),
    ]
    simulate(app, SEP, date(2027, 6, 2), actions=actions)
    return lots[0]


def _pause_emails(app: App, lot: Lot, company_id: int) -> dict[str, str]:
    with app.transaction() as session:
        rows = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.clause_id == lot.clause_id,
                OutboxMessage.kind.in_([SUSPENDED, RESUMED]),
                OutboxMessage.key.like(f"%:company-{company_id}@%"),
            )
        ).all()
        return {row.kind: squash(f"{row.subject} {row.body_text}") for row in rows}


def test_a_company_gone_owing_march_is_told_of_march_only(app: App) -> None:
    lot = _lived(app, gone_declares_march=False)
    holder, gone = lot.company_ids
    told = _pause_emails(app, lot, gone)
    assert set(told) == {SUSPENDED, RESUMED}
    for text in told.values():
        assert "mars 2027" in text
        assert not months_told(text), text  # never April, May or June as a month to declare
    assert "Aucun autre appel à déclarer n'est prévu sur ce lot." in told[RESUMED]
    assert "prochain appel" not in told[RESUMED].lower()
    # The company staying is told its next call.
    staying = _pause_emails(app, lot, holder)
    assert set(staying) == {SUSPENDED, RESUMED}
    assert "prochain appel à déclarer le" in staying[RESUMED]


def test_a_company_gone_owing_nothing_is_not_written_to(app: App) -> None:
    lot = _lived(app, gone_declares_march=True)
    holder, gone = lot.company_ids
    assert _pause_emails(app, lot, gone) == {}
    assert set(_pause_emails(app, lot, holder)) == {SUSPENDED, RESUMED}
