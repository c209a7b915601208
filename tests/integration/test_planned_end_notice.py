"""The buyer told when its lot's planned end moves (an amendment, « avenant »), on SQLite and
PostgreSQL: one notice to each of its contacts, with the old and new ends, the reason as typed and
the months the companies will, or will no longer, be asked to declare, each due date the one the
calls then give; handled again, nothing written twice; not sent to a buyer reading the monthly
summary only; held for a buyer without contact, released once it has one."""

from __future__ import annotations

import re
from datetime import date, datetime, time

import pytest
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import Lot, make_lot
from tests.text import squash, visible
from workflow.adapters.orm import (
    Buyer,
    BuyerContact,
    ClauseHistory,
    DeclarationLadder,
    HeldNotice,
    OutboxMessage,
)
from workflow.adapters.templates import french_date
from workflow.app import catalog as catalog_app
from workflow.app import clauses as clause_app
from workflow.bootstrap import App
from workflow.domain.calendar import at_local, month_schedule
from workflow.domain.events import PlannedEndMoved
from workflow.domain.vocabulary import NoticePreference
from workflow.services import ticks
from workflow.services.dispatch import dispatch_due
from workflow.services.lot_calendars import lot_calendars
from workflow.services.ticks import TimedAction, simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

NBSP = "\u00a0"
KIND = "notice_planned_end"
HELD_SENTENCE = (
    "Ce message n'avait pas pu vous être envoyé le {day}\u00a0: aucun contact n'était enregistré."
)


def paris(day: date, hour: int, minute: int = 0) -> datetime:
    return at_local(day, time(hour, minute), Settings().zone)


def plain(text: str) -> str:
    return text.replace(NBSP, " ").replace("\u202f", " ")


def notices_of(app: App, lot: Lot) -> list[OutboxMessage]:
    with app.transaction() as session:
        return list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.kind == KIND, OutboxMessage.clause_id == lot.clause_id)
                .order_by(OutboxMessage.id)
            )
        )


def planned_end_rows(app: App, lot: Lot) -> list[int]:
    with app.transaction() as session:
        return list(
            session.scalars(
                select(ClauseHistory.id)
                .where(
                    ClauseHistory.clause_id == lot.clause_id,
                    ClauseHistory.event == "planned_end",
                )
                .order_by(ClauseHistory.id)
            )
        )


def outbox_and_held(app: App) -> tuple[list[str], list[str]]:
    with app.transaction() as session:
        return (
            sorted(session.scalars(select(OutboxMessage.key))),
            sorted(session.scalars(select(HeldNotice.key))),
        )


def captured(app: App) -> list[PlannedEndMoved]:
    """The planned ends moved, as published (to hand them again)."""
    events: list[PlannedEndMoved] = []
    app.subscribe(PlannedEndMoved, lambda _app, _session, event: events.append(event))
    return events


def move(lot: Lot, end: date, reason: str, moment: datetime) -> TimedAction:
    def run(app: App, at: datetime) -> None:
        clause_app.set_planned_end(app, lot.clause_id, end, reason=reason, actor="Léa")

    return TimedAction(at=moment, label=reason, run=run)


def due_dates_said(text: str) -> dict[str, str]:
    """« - janvier 2027 : déclaration attendue au plus tard le 10 février 2027 » → month: date."""
    return dict(
        re.findall(r"- (\w+ \d{4})\s?: déclaration attendue au plus tard le ([^-]+?\d{4})", text)
    )


def scheduled_due(app: App, lot: Lot, month: date) -> str:
    with app.transaction() as session:
        rules = lot_calendars(session, [lot.clause_id], app.settings)[lot.clause_id].rules
    return french_date(month_schedule(month, rules, app.settings.zone).due_on)


def called_due(app: App, lot: Lot) -> dict[date, date]:
    """The due date each month's call gave the company."""
    with app.transaction() as session:
        rows = session.execute(
            select(DeclarationLadder.month, DeclarationLadder.due_on).where(
                DeclarationLadder.clause_id == lot.clause_id
            )
        )
        return {month: due_on for month, due_on in rows}


def test_the_buyer_is_told_once_of_each_move_with_the_months_added_then_no_longer_asked(
    app: App,
) -> None:
    """Ending on 31 December 2026, extended on 15 November to 31 March 2027, cut on 15 December
    to 31 January 2027: two notices, each to both contacts, whose dates the calls then keep."""
    lot = make_lot(app, start=date(2026, 10, 1), end=date(2026, 12, 31),
                   at=paris(date(2026, 10, 1), 10))  # fmt: skip
    with app.transaction() as session:
        buyer = session.get_one(Buyer, lot.buyer_id)
        buyer.contacts.append(BuyerContact(name="Claire Dupont", email="claire@example.org"))
        contacts = sorted(f"{c.name} <{c.email}>" for c in buyer.contacts)
    events = captured(app)
    extended = move(lot, date(2027, 3, 31), "avenant n° 2 : intempéries",
                    paris(date(2026, 11, 15), 10))  # fmt: skip
    cut = move(lot, date(2027, 1, 31), "avenant n° 3 : travaux réduits",
               paris(date(2026, 12, 15), 10))  # fmt: skip

    # The extension's notice leaves before the cut (``clauses mail send``): one still waiting
    # would be withdrawn, the cut's notice telling the whole move (``_unread_planned_ends``).
    delivered = TimedAction(
        at=paris(date(2026, 11, 15), 11),
        label="clauses mail send",
        run=lambda app, at: dispatch_due(app, at),
    )
    simulate(
        app,
        date(2026, 11, 2),
        date(2027, 3, 20),
        actions=[extended, delivered, cut],
        dispatch=False,
    )

    first, second = notices_of(app, lot)
    extension_row, cut_row = planned_end_rows(app, lot)
    for notice, row in ((first, extension_row), (second, cut_row)):
        assert sorted(notice.recipients.splitlines()) == contacts
        assert notice.key == f"notice:{lot.clause_id}:{KIND}:h{row}"

    # The extension: both ends, the reason as typed, each month added with its due date.
    text = squash(first.body_text)
    assert first.subject.startswith("Fin prévue reportée au 31 mars 2027 – ")
    assert (
        f"La fin prévue du lot 1 «{NBSP}Gros œuvre{NBSP}» passe du 31 décembre 2026 au "
        "31 mars 2027 (changement enregistré le 15 novembre 2026)."
    ) in text
    # As typed (the typography puts its no-break spaces); the history's wording is not quoted.
    assert "Motif indiqué : avenant n° 2 : intempéries - Donneur d'ordre" in plain(text)
    assert "Motif indiqué : fin prévue" not in plain(text)
    assert (
        "Les entreprises seront appelées à déclarer chacun des 3 mois ajoutés, janvier, février "
        "et mars 2027, aux dates habituelles"
    ) in text
    added = [date(2027, 1, 1), date(2027, 2, 1), date(2027, 3, 1)]
    assert due_dates_said(text) == {
        "janvier 2027": scheduled_due(app, lot, added[0]),
        "février 2027": scheduled_due(app, lot, added[1]),
        "mars 2027": scheduled_due(app, lot, added[2]),
    }
    assert "janvier 2027" in visible(first.body_html)
    assert "passe du 31 décembre 2026 au 31 mars 2027" in visible(first.body_html)

    # The cut: February and March no longer asked, January the last, due when its call says.
    text = squash(second.body_text)
    assert second.subject.startswith("Fin prévue avancée au 31 janvier 2027 – ")
    assert "passe du 31 mars 2027 au 31 janvier 2027" in text
    assert "Motif indiqué : avenant n° 3 : travaux réduits" in plain(text)
    assert (
        "Aucun mois après janvier 2027 ne sera demandé : les déclarations de février et de "
        "mars 2027 ne seront plus demandées aux entreprises."
    ) in plain(text)
    called = called_due(app, lot)
    january = french_date(called[date(2027, 1, 1)])
    assert (
        f"La dernière déclaration, celle de janvier 2027, est attendue au plus tard le {january}."
    ) in plain(text)
    # What the calendar then did: January called at the date the extension announced, no month
    # after it.
    assert due_dates_said(squash(first.body_text))["janvier 2027"] == january
    assert sorted(called) == [
        date(2026, 10, 1),
        date(2026, 11, 1),
        date(2026, 12, 1),
        date(2027, 1, 1),
    ]

    # Handled again: nothing written twice.
    before = outbox_and_held(app)
    with app.transaction() as session:
        for event in list(events):  # handling them captures them again
            app.publish(session, event)
    assert outbox_and_held(app) == before
    assert len(notices_of(app, lot)) == 2


def test_a_buyer_reading_the_monthly_summary_only_is_not_told(app: App, clock: Clock) -> None:
    lot = make_lot(app, start=date(2026, 10, 1), end=date(2026, 12, 31),
                   at=paris(date(2026, 10, 1), 10))  # fmt: skip
    with app.transaction() as session:
        buyer = session.get_one(Buyer, lot.buyer_id)
        buyer.notice_preference = NoticePreference.MONTHLY_ONLY.value
    clock.set(paris(date(2026, 10, 15), 10))
    clause_app.set_planned_end(app, lot.clause_id, date(2027, 1, 29), reason="avenant n° 1")

    assert notices_of(app, lot) == []
    with app.transaction() as session:
        assert session.scalars(select(HeldNotice)).all() == []

    # The same buyer choosing each milestone again hears of the next move, and of it only.
    with app.transaction() as session:
        buyer = session.get_one(Buyer, lot.buyer_id)
        buyer.notice_preference = NoticePreference.EACH_MILESTONE.value
    clock.set(paris(date(2026, 10, 20), 10))
    clause_app.set_planned_end(app, lot.clause_id, date(2027, 2, 26), reason="avenant n° 2")
    (notice,) = notices_of(app, lot)
    text = squash(notice.body_text)
    assert "passe du 29 janvier 2027 au 26 février 2027" in text
    assert "Le mois ajouté, février 2027, sera demandé aux entreprises" in text


def test_a_buyer_without_contact_has_it_held_then_released_once_it_has_one(
    app: App, clock: Clock
) -> None:
    lot = make_lot(app, start=date(2026, 10, 1), end=date(2026, 12, 31),
                   at=paris(date(2026, 10, 1), 10), buyer_contacts=False)  # fmt: skip
    events = captured(app)
    clock.set(paris(date(2026, 11, 15), 10))
    clause_app.set_planned_end(
        app, lot.clause_id, date(2027, 3, 31), reason="avenant n° 2 : intempéries"
    )
    assert notices_of(app, lot) == []
    (row,) = planned_end_rows(app, lot)
    key = f"notice:{lot.clause_id}:{KIND}:h{row}"
    with app.transaction() as session:
        held = session.scalars(select(HeldNotice).where(HeldNotice.kind == KIND)).one()
        assert (held.key, held.outcome) == (key, None)
        buyer_name = session.get_one(Buyer, lot.buyer_id).name

    # Handled again while held: held once, nothing queued.
    before = outbox_and_held(app)
    with app.transaction() as session:
        for event in list(events):  # handling them captures them again
            app.publish(session, event)
    assert outbox_and_held(app) == before

    clock.set(paris(date(2026, 11, 20), 10))
    catalog_app.add_buyer_contact(
        app, buyer_name, name="Claire Dupont", email="claire@example.org", actor="Léa"
    )
    ticks.run_pass(app, paris(date(2026, 11, 20), 10, 5), dispatch=False)

    (notice,) = notices_of(app, lot)
    assert notice.key == key
    assert notice.recipients == "Claire Dupont <claire@example.org>"
    text = squash(notice.body_text)
    assert HELD_SENTENCE.format(day="15 novembre 2026") in text
    assert "passe du 31 décembre 2026 au 31 mars 2027" in text
    assert "Motif indiqué : avenant n° 2 : intempéries" in plain(text)
    assert "chacun des 3 mois ajoutés, janvier, février et mars 2027" in text
    with app.transaction() as session:
        held = session.scalars(select(HeldNotice).where(HeldNotice.kind == KIND)).one()
        assert held.outcome == "released"

    # Released once: another pass queues nothing more.
    ticks.run_pass(app, paris(date(2026, 11, 21), 10, 5), dispatch=False)
    assert [n.id for n in notices_of(app, lot)] == [notice.id]


def test_an_amendment_recorded_after_the_old_end_announces_the_dates_the_catch_up_call_gives(
    app: App,
) -> None:
    """Ending on 31 October 2026, extended on 15 December to 31 March 2027: November's call is
    past its schedule and leaves the next morning with a later date, which the notice announces
    (not « 10 décembre 2026 », already past); December to March keep their usual dates. Each
    date told is the one the company's call then gives."""
    lot = make_lot(app, start=date(2026, 10, 1), end=date(2026, 10, 31),
                   at=paris(date(2026, 10, 1), 10))  # fmt: skip
    late = move(lot, date(2027, 3, 31), "avenant n° 2", paris(date(2026, 12, 15), 10))

    simulate(app, date(2026, 11, 2), date(2027, 4, 20), actions=[late], dispatch=False)

    (notice,) = notices_of(app, lot)
    said = due_dates_said(squash(notice.body_text))
    called = called_due(app, lot)
    months = {
        "novembre 2026": date(2026, 11, 1),
        "décembre 2026": date(2026, 12, 1),
        "janvier 2027": date(2027, 1, 1),
        "février 2027": date(2027, 2, 1),
        "mars 2027": date(2027, 3, 1),
    }
    assert said == {name: french_date(called[month]) for name, month in months.items()}
    # November's catch-up: a date after the day of the notice; then the usual ones.
    assert called[date(2026, 11, 1)] > date(2026, 12, 15)
    assert said["novembre 2026"] != scheduled_due(app, lot, date(2026, 11, 1))
    assert said["décembre 2026"] == scheduled_due(app, lot, date(2026, 12, 1))
