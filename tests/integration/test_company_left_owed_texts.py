"""What a company that left the site, and its buyer, read of the months after its last month.

The subcontractor of ``test_company_left_site`` (last month March 2027) was called for April
before its departure was recorded (5 May): April's call left. Every later text speaks of April
as asked no more, never as owed: the buyer's notice that March arrived late does not name
April « déjà demandée » (``late_declaration_notices``).
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select

from tests.integration._ladders import Lot, declare, ladders, make_lot
from tests.integration.test_company_left_site import (
    APR,
    FEB,
    GONE,
    HOLDER,
    MONTHS,
    SEP,
    _cli,
    ladder_emails,
    local,
    months_told,
)
from tests.text import squash
from workflow.adapters.orm import AwardParty, OutboxMessage
from workflow.bootstrap import App
from workflow.domain.vocabulary import PartyRole
from workflow.services.clauses import PartyInput, apply_award
from workflow.services.ticks import TimedAction, simulate

pytestmark = pytest.mark.scenario

LATE = "notice_late_declaration_received"


def _lot_gone_after_aprils_call(
    app: App,
    *,
    march_on: date | None,
    corrected_on: date | None = None,
    april_on: date | None = None,
    april_cancelled_on: date | None = None,
) -> Lot:
    """Both companies from September 2026; the subcontractor declares September to February,
    leaves after March; its departure is recorded on 5 May 2027 (April's call left on 3 May);
    it declares March on ``march_on`` (None: never); the lot's planned end is corrected (31
    March 2028) on ``corrected_on``; the facilitator records April (asked no more) on
    ``april_on`` and cancels it on ``april_cancelled_on``. The real passes run up to 31 May."""
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
    for month in MONTHS[:-1]:
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

    def leave(app: App, at: datetime) -> None:
        args = ("clause", "company-left", str(lots[0].clause_id), "--company", GONE)
        _cli(app, at, *args, "--last-month", "03/2027", "--reason", "sa part est finie")

    def correct(app: App, at: datetime) -> None:
        with app.transaction() as session:
            parties = [
                PartyInput(p.company_id, PartyRole(p.role), p.correspondent_id, p.hours_share)
                for p in session.scalars(
                    select(AwardParty)
                    .where(AwardParty.clause_id == lots[0].clause_id)
                    .order_by(AwardParty.id)
                )
            ]
            apply_award(
                session,
                lots[0].clause_id,
                parties=parties,
                start_date=SEP,
                planned_end_date=date(2028, 3, 31),
                actor="Camille",
                now=at,
                publish=app.publish,
                zone=app.settings.zone,
            )

    actions.append(TimedAction(local(app, date(2027, 5, 5), 15), "départ", leave))
    if march_on is not None:
        actions.append(
            TimedAction(
                local(app, march_on, 11),
                f"{GONE} 2027-03",
                lambda app, at: declare(app, lots[0], date(2027, 3, 1), at, company=1),
            )
        )
    if april_on is not None:
        actions.append(
            TimedAction(
                local(app, april_on, 11),
                f"{GONE} 2027-04",
                lambda app, at: declare(app, lots[0], APR, at, company=1),
            )
        )
    if april_cancelled_on is not None:
        actions.append(
            TimedAction(
                local(app, april_cancelled_on, 11),
                "annulation",
                lambda app, at: _cli(
                    app,
                    at,
                    "declaration",
                    "cancel",
                    "--clause",
                    str(lots[0].clause_id),
                    "--company",
                    str(lots[0].company_ids[1]),
                    "--month",
                    "04/2027",
                    "--reason",
                    "déclaré par erreur",
                ),
            )
        )
    if corrected_on is not None:
        actions.append(TimedAction(local(app, corrected_on, 16), "correction", correct))
    simulate(app, SEP, date(2027, 5, 31), actions=actions)
    return lots[0]


def _texts(app: App, lot: Lot, kind: str, company_id: int | None = None) -> list[str]:
    """The emails of ``kind`` of the lot (to ``company_id``'s correspondent only, if given)."""
    with app.transaction() as session:
        statement = select(OutboxMessage).where(
            OutboxMessage.clause_id == lot.clause_id, OutboxMessage.kind == kind
        )
        if company_id is not None:
            party = session.scalars(
                select(AwardParty).where(
                    AwardParty.clause_id == lot.clause_id, AwardParty.company_id == company_id
                )
            ).one()
            statement = statement.where(
                OutboxMessage.recipients.contains(
                    party.correspondent.email if party.correspondent else "?"
                )
            )
        rows = session.scalars(statement.order_by(OutboxMessage.id)).all()
        return [squash(f"{row.subject} {row.body_text}") for row in rows]


def test_the_buyers_late_notice_names_no_month_after_the_departure(app: App) -> None:
    lot = _lot_gone_after_aprils_call(app, march_on=date(2027, 5, 20))
    told = _texts(app, lot, LATE)
    assert told, "March, alerted, declared late: the buyer is told"
    for text in told:
        assert "mars 2027" in text
        assert not months_told(text), text  # never April « déjà demandée »
        assert "déjà demandée" not in text


CORRECTED = "company_award_corrected"


def test_the_award_correction_lists_no_month_after_the_departure(app: App) -> None:
    # March owed, April called before the departure was recorded: the correction of 10 May
    # lists March among the months awaited, never April.
    lot = _lot_gone_after_aprils_call(app, march_on=None, corrected_on=date(2027, 5, 10))
    holder, gone = lot.company_ids
    told = _texts(app, lot, CORRECTED, gone)
    assert len(told) == 1
    text = told[0]
    assert "mars 2027 à envoyer au plus tard le 12 avril 2027" in text, text
    # April is not awaited (the table's rows follow one another: « … 12 avril 2027 avril
    # 2027 à envoyer … », which ``months_told`` would take for a day).
    assert "avril 2027 à envoyer" not in text, text
    assert not months_told(text), text
    # The company staying reads its months as before.
    assert len(_texts(app, lot, CORRECTED, holder)) == 1


def test_a_company_gone_owing_nothing_gets_no_award_correction(app: App) -> None:
    # March declared on 20 May: it owes nothing; the correction of 25 May (its planned end, of
    # works it no longer takes part in) is not written to it; the company staying is told.
    lot = _lot_gone_after_aprils_call(
        app, march_on=date(2027, 5, 20), corrected_on=date(2027, 5, 25)
    )
    holder, gone = lot.company_ids
    assert _texts(app, lot, CORRECTED, gone) == []
    assert len(_texts(app, lot, CORRECTED, holder)) == 1


CANCELLED = "declaration_cancelled"


def test_a_cancelled_month_after_the_departure_is_not_asked_again(app: App) -> None:
    # April (asked no more since the departure of 5 May) recorded by the facilitator on 10 May,
    # cancelled on 12 May: its ladder stays stopped, no reminder nor alert leaves for it up to
    # the end of May, and the company is not told that its reminders are all sent and April
    # « compte de nouveau parmi vos déclarations en retard », nor given a page to declare it.
    lot = _lot_gone_after_aprils_call(
        app, march_on=None, april_on=date(2027, 5, 10), april_cancelled_on=date(2027, 5, 12)
    )
    gone = lot.company_ids[1]
    april = [lad for lad in ladders(app) if lad.company_id == gone and lad.month == APR]
    assert [(lad.next_step, lad.next_step_at, lad.declared_at) for lad in april] == [
        ("done", None, None)
    ]
    cancelled_at = local(app, date(2027, 5, 12), 11)
    after = [
        e
        for e in ladder_emails(app, lot)
        if e.company_id == gone and APR in e.months and e.state != "cancelled"
    ]
    with app.transaction() as session:
        written = {
            row.key: row.created_at
            for row in session.scalars(
                select(OutboxMessage).where(OutboxMessage.clause_id == lot.clause_id)
            )
        }
    assert [e.key for e in after if written[e.key] >= cancelled_at] == []
    told = _texts(app, lot, CANCELLED, gone)
    assert len(told) == 1
    text = told[0]
    assert "avril 2027" in text
    assert "Tous les rappels de ce mois" not in text, text
    assert "déclarations en retard" not in text, text
    assert "/declarer/" not in text, text
