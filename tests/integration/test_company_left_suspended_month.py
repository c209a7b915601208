"""A company that leaves a lot once suspended for a whole month is not told it owes that month.

The lot of ``test_company_left_site`` (Bâtiments Garonne, holder; Gimone Second Œuvre SAS,
subcontractor), started 1 September 2026. Both declare September to November. The works are
suspended on 10 December 2026 and resume on 8 February 2027: January is suspended whole, so
the ladder never calls it (« month fully suspended, not called »), while December and February
(worked in part) are called. The subcontractor's departure is recorded on 10 March 2027, last
month February; the contract is terminated on 12 April 2027, effective 31 March.

Before, the departure's email (``departure_notices.owed_up_to``) counted every undeclared month:
it told the company it still owed January, which nobody would ever ask, while the termination's
emails (then ``termination_notices.owed_up_to``) left it out. Both read the one rule now
(``months_owed.owed_up_to``): the two emails name the same months, January in neither, each
with the due date its call gave.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import pytest
from sqlalchemy import select

from tests.integration._ladders import Lot, declare, make_lot
from tests.integration.test_company_left_site import GONE, HOLDER, SEP, _cli, local
from tests.text import squash
from workflow.adapters.orm import OutboxMessage
from workflow.app.audit import verify_database
from workflow.bootstrap import App
from workflow.services.ticks import TimedAction, simulate

pytestmark = pytest.mark.scenario

SUSPENDED_ON, RESUMED_ON = date(2026, 12, 10), date(2027, 2, 8)
LEFT_ON, TERMINATED_ON = date(2027, 3, 10), date(2027, 4, 12)


def _lot(app: App, *, terminated: bool) -> Lot:
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
    for month in (SEP, date(2026, 10, 1), date(2026, 11, 1)):
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

    def cli(*args: str) -> Callable[[App, datetime], None]:
        def run(app: App, at: datetime) -> None:
            _cli(app, at, *[a.format(lot=lots[0].clause_id) for a in args])

        return run

    left = ("--company", GONE, "--last-month", "02/2027", "--reason", "sa part est finie")
    actions += [
        TimedAction(
            local(app, SUSPENDED_ON, 7),
            "suspendre",
            cli("clause", "advance", "{lot}", "suspendre", "--reason", "intempéries"),
        ),
        TimedAction(
            local(app, RESUMED_ON, 7), "reprendre", cli("clause", "advance", "{lot}", "reprendre")
        ),
        TimedAction(
            local(app, LEFT_ON, 15), "départ", cli("clause", "company-left", "{lot}", *left)
        ),
    ]
    if terminated:
        ended = ("--end-date", "31/03/2027", "--reason", "Défaillance du titulaire")
        actions.append(
            TimedAction(
                local(app, TERMINATED_ON, 9),
                "résilier",
                cli("clause", "advance", "{lot}", "resilier", *ended),
            )
        )
    simulate(app, SEP, TERMINATED_ON if terminated else date(2027, 3, 11), actions=actions)
    return lots[0]


def _texts(app: App, lot: Lot, kind: str) -> list[str]:
    with app.transaction() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.clause_id == lot.clause_id, OutboxMessage.kind == kind)
            .order_by(OutboxMessage.id)
        ).all()
        return [squash(row.body_text) for row in rows]


def _owed_part(text: str) -> str:
    """The departure email's « what is left to declare », up to its online links."""
    return text.split("CE QU'IL VOUS RESTE À DÉCLARER", 1)[1].split("Si personne", 1)[0]


def test_the_company_leaving_is_not_told_it_owes_the_month_suspended_whole(app: App) -> None:
    lot = _lot(app, terminated=False)
    (text,) = _texts(app, lot, "company_left")
    owed = _owed_part(text)
    # December (called at the resumption) and February, each with the due date its call gave,
    # as before; January, which the works spent suspended and the ladder never called, is not
    # owed (it was: « janvier 2027 : attendue le 10 février 2027, date passée »), nor offered
    # a page to declare it.
    assert owed == (
        " Jusqu'à février 2027, j'attends encore vos déclarations : "
        "- décembre 2026 : attendue le 15 février 2027, date passée : merci de la déclarer dès "
        "que possible "
        "- février 2027 : à envoyer au plus tard le 10 mars 2027 "
    ), owed
    assert "janvier 2027 :" not in text, text
    findings = verify_database(app).findings
    assert findings == (), [f.check + " | " + f.problem[:150] for f in findings]


def test_the_departure_and_the_termination_name_the_same_months(app: App) -> None:
    lot = _lot(app, terminated=True)
    (left,) = _texts(app, lot, "company_left")
    terminated = _texts(app, lot, "company_lot_terminated")
    # One email to each company: the holder owes December to March, the company gone December
    # and February (its last month), never January.
    assert len(terminated) == 2, terminated
    holder, gone = (next(t for t in terminated if name in t) for name in (HOLDER, GONE))
    for text in (holder, gone, left):
        assert "janvier 2027 :" not in text, text
    assert "- décembre 2026 :" in gone and "- février 2027 :" in gone, gone
    assert "- mars 2027 :" not in gone, gone
    assert "- mars 2027 :" in holder, holder
    # The buyer's notice of the termination names the same months for each company.
    (notice,) = _texts(app, lot, "notice_execution_ended")
    expected = "Déclarations encore attendues jusqu'à la résiliation : "
    assert expected in notice, notice
    listed = notice.split(expected, 1)[1]
    assert f"- {GONE} : décembre 2026 et février 2027" in listed, listed
    assert f"- {HOLDER} : décembre 2026, février 2027 et mars 2027" in listed, listed
