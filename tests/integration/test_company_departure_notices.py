"""A company that left the site is told so by email, and its buyer only when an alert it had
received named a month the departure releases.

The lot of ``test_company_left_site``: Bâtiments Garonne (holder) and Gimone Second Œuvre SAS,
started 1 September 2026; the subcontractor declares September to February and leaves after
March. The real passes run; its departure is recorded through the command line, twice.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select

from tests.integration._ladders import Lot, declare, make_lot
from tests.integration.test_company_left_site import (
    APR,
    FEB,
    GONE,
    HOLDER,
    MAR,
    MONTHS,
    SEP,
    _cli,
    ladder_emails,
    local,
)
from tests.text import squash
from workflow.adapters.orm import OutboxMessage
from workflow.app.audit import verify_database
from workflow.bootstrap import App
from workflow.domain.calendar import LadderStep
from workflow.services.outbox import OutboxState
from workflow.services.ticks import TimedAction, simulate

pytestmark = pytest.mark.scenario

COMPANY_KIND, BUYER_KIND = "company_left", "notice_company_left"


def _lot(
    app: App, *, left_on: date, until: date, march_on: date | None = None
) -> tuple[Lot, list[str]]:
    """The lot; March declared by the subcontractor on ``march_on`` (None: never); its
    departure (last month March) recorded on ``left_on`` twice, an hour apart; the passes run
    up to ``until``. Returns the lot and the two outputs of the command."""
    lots: list[Lot] = []
    said: list[str] = []
    actions = [
        TimedAction(
            local(app, SEP, 8),
            "lot",
            lambda app, at: lots.append(
                make_lot(app, start=SEP, end=date(2027, 12, 31), companies=(HOLDER, GONE), at=at)
            ),
        )
    ]
    for month in MONTHS:
        if date(month.year + month.month // 12, month.month % 12 + 1, 3) > until:
            break
        following = date(month.year + month.month // 12, month.month % 12 + 1, 3)
        actions.append(
            TimedAction(
                local(app, following, 11),
                f"{HOLDER} {month:%Y-%m}",
                lambda app, at, month=month: declare(app, lots[0], month, at, company=0),
            )
        )
        if month <= FEB:
            actions.append(
                TimedAction(
                    local(app, following, 12),
                    f"{GONE} {month:%Y-%m}",
                    lambda app, at, month=month: declare(app, lots[0], month, at, company=1),
                )
            )
    if march_on is not None:
        actions.append(
            TimedAction(
                local(app, march_on, 11),
                f"{GONE} 2027-03",
                lambda app, at: declare(app, lots[0], MAR, at, company=1),
            )
        )

    def leave(app: App, at: datetime) -> None:
        args = ("clause", "company-left", str(lots[0].clause_id), "--company", GONE)
        said.append(_cli(app, at, *args, "--last-month", "03/2027", "--reason", "part finie"))

    actions.append(TimedAction(local(app, left_on, 15), "départ", leave))
    actions.append(TimedAction(local(app, left_on, 16), "départ, de nouveau", leave))
    simulate(app, SEP, until, actions=actions)
    return lots[0], said


def _emails(app: App, lot: Lot, kind: str) -> list[OutboxMessage]:
    with app.transaction() as session:
        return list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.clause_id == lot.clause_id, OutboxMessage.kind == kind)
                .order_by(OutboxMessage.id)
            )
        )


def test_the_company_is_told_once_what_it_still_owes(app: App) -> None:
    # Recorded on 5 May: March (due in April) is still owed, April (called on 3 May) is not.
    lot, said = _lot(app, left_on=date(2027, 5, 5), until=date(2027, 5, 10))
    told = _emails(app, lot, COMPANY_KIND)
    assert len(told) == 1, "run twice, written once"
    email = told[0]
    text = squash(f"{email.subject} {email.body_text}")
    # The subcontractor's correspondent (second company of the lot), not the holder's.
    assert email.recipients.endswith("-1@example.org>"), email.recipients
    assert f"J'ai enregistré le départ de {GONE} du chantier du lot" in text, text
    assert "son dernier mois à déclarer pour ce lot est mars 2027" in text
    assert "Aucun mois après mars 2027 ne vous sera demandé" in text
    assert "Le mois d'avril 2027, déjà demandé, ne vous est plus demandé" in text, text
    # March, due in April, is owed and late; its page is given.
    assert "- mars 2027 : attendue le" in text and "date passée" in text, text
    assert "1 mois reste à déclarer" in text
    assert "/declarer/" in text
    assert "avril 2027 :" not in text and "plus rien à déclarer" not in text
    assert "Elle en est informée" not in said[1]
    assert said[1].startswith("Rien à changer")
    # No alert named April (called two days before): the buyer hears nothing.
    assert _emails(app, lot, BUYER_KIND) == []
    assert verify_database(app).findings == ()


def test_a_company_that_declared_everything_is_told_it_owes_nothing(app: App) -> None:
    lot, _ = _lot(app, left_on=date(2027, 5, 5), until=date(2027, 5, 6), march_on=date(2027, 4, 20))
    told = _emails(app, lot, COMPANY_KIND)
    assert len(told) == 1
    text = squash(f"{told[0].subject} {told[0].body_text}")
    assert "plus rien à déclarer" in told[0].subject
    assert (
        "Toutes les déclarations demandées jusqu'à mars 2027 sont reçues : vous n'avez plus "
        "rien à déclarer pour ce lot." in text
    ), text
    assert "/declarer/" not in text


def test_the_buyer_alerted_for_a_released_month_is_told_it_is_not_expected(app: App) -> None:
    # Recorded on 14 June: April's alert reached the buyer in May; the departure releases it.
    lot, said = _lot(app, left_on=date(2027, 6, 14), until=date(2027, 6, 16))
    gone = lot.company_ids[1]
    alerts = [
        e
        for e in ladder_emails(app, lot)
        if e.company_id == gone and e.step == LadderStep.ESCALATION and APR in e.months
    ]
    assert alerts and alerts[0].state == OutboxState.SENT, "April's alert left in May"
    told = _emails(app, lot, BUYER_KIND)
    assert len(told) == 1, "run twice, written once"
    email = told[0]
    text = squash(f"{email.subject} {email.body_text}")
    assert "acheteur" in email.recipients
    assert (
        "la déclaration d'avril 2027 n'est plus attendue, l'entreprise a quitté le chantier, "
        "son dernier mois à déclarer étant mars 2027" in text
    ), text
    # May, called on 1 June, was never alerted: the buyer is not told of it.
    assert "mai 2027" not in text, text
    # March, still owed, is named as such.
    assert "me doit encore sa déclaration de mars 2027 (attendue le 12 avril 2027)" in text, text
    assert "Le donneur d'ordre, alerté pour avril 2027, est informé" in squash(said[0])
    assert len(_emails(app, lot, COMPANY_KIND)) == 1
    assert verify_database(app).findings == ()


LATE = "notice_late_declaration_received"
OCT, NOV = date(2026, 10, 1), date(2026, 11, 1)


def test_one_alert_of_two_months_corrected_for_the_released_one(app: App) -> None:
    # Awarded late (2 November, works from 1 September): one catch-up call, then one alert on
    # 4 December, name September and October together. The subcontractor's departure is
    # recorded on 7 December (last month September): October, alerted, is released; November,
    # called on 1 December, not alerted. It declares September on 8 December.
    lots: list[Lot] = []

    def leave(app: App, at: datetime) -> None:
        args = ("clause", "company-left", str(lots[0].clause_id), "--company", GONE)
        _cli(app, at, *args, "--last-month", "09/2026", "--reason", "part finie")

    simulate(
        app,
        date(2026, 11, 2),
        date(2026, 12, 10),
        actions=[
            TimedAction(
                local(app, date(2026, 11, 2), 8),
                "lot",
                lambda app, at: lots.append(
                    make_lot(
                        app, start=SEP, end=date(2027, 12, 31), companies=(HOLDER, GONE), at=at
                    )
                ),
            ),
            TimedAction(local(app, date(2026, 12, 7), 15), "départ", leave),
            TimedAction(
                local(app, date(2026, 12, 8), 11),
                f"{GONE} 2026-09",
                lambda app, at: declare(app, lots[0], SEP, at, company=1),
            ),
        ],
    )
    lot = lots[0]
    gone = lot.company_ids[1]
    alerts = [
        e
        for e in ladder_emails(app, lot)
        if e.company_id == gone and e.step == LadderStep.ESCALATION
    ]
    assert [(e.months, e.state) for e in alerts] == [((SEP, OCT), OutboxState.SENT)]
    # The buyer: October is not expected any more; November was never alerted.
    told = _emails(app, lot, BUYER_KIND)
    assert len(told) == 1
    text = squash(f"{told[0].subject} {told[0].body_text}")
    assert "la déclaration d'octobre 2026 n'est plus attendue" in text, text
    assert "son dernier mois à déclarer étant septembre 2026" in text
    assert "de novembre 2026" not in text, text  # (September's due date is in November)
    # September declared after its alert: the buyer's notice names neither October (in the
    # same alert, but released: ``still_missing`` stops at the last month) nor November.
    late = _emails(app, lot, LATE)
    late_gone = [e for e in late if GONE in e.subject]
    assert len(late_gone) == 1
    notice = squash(f"{late_gone[0].subject} {late_gone[0].body_text}")
    assert "septembre 2026" in notice
    assert "octobre 2026" not in notice, notice
    assert "de novembre 2026" not in notice, notice
    assert "reste attendu" not in notice and "restent attendus" not in notice
    assert verify_database(app).findings == ()
