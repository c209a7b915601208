"""A buyer's resumption notice held for want of a contact names, when it finally leaves, the
service's next sendings as they stand that day, never a day already past (SQLite and
PostgreSQL).

The lot of ``a_lot_suspended_with_april_owed``, whose buyer has no contact, resumes on 20 May
2026: its notice is held. The passes run on through 15 June (April's reminders and May's call
leave to the companies); a contact is added that morning and the next pass releases the notice.
Read as the buyer reads it (the ``.eml``, plain and HTML), it names no day before 15 June but
the resumption's own, July's call, and the alert April's ladder plans now (its reminders all
sent): the very ones the passes later send, on those days; and it leaves once. Written as at the
resumption, it counted May (called on 1 June) among « 3 déclarations demandées avant la
suspension » and gave no promise to keep: left in the outbox until 25 June, it named 19 and
24 June.
"""

from __future__ import annotations

import email
import email.policy
import re
from datetime import date, timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import Lot, declare, ladders, make_lot
from tests.integration.test_company_pause_notices import advance
from tests.integration.test_ladder_scenarios import paris
from tests.integration.test_stale_promises import MONTHS, french_day
from tests.text import squash, visible
from workflow.adapters.mail.files import FileTransport
from workflow.adapters.orm import AwardParty, HeldNotice, OutboxMessage
from workflow.adapters.templates import french_date
from workflow.app import catalog
from workflow.bootstrap import App
from workflow.domain.calendar import local_date
from workflow.domain.stages import ClauseEvent
from workflow.services.ticks import run_pass
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

KIND = "notice_resumed"
NBSP = "\u00a0"
#: Every day the notice names, in its French spelling (« 1er juin 2026 », « 19 juin 2026 »).
DAY = re.compile(r"\b(\d{1,2}(?:er)? (?:" + "|".join(MONTHS) + r") \d{4})\b")
#: The days of the service the notice names (« partira le … », « vous en serez alerté le … »).
PROMISED = re.compile(r"(?:partira|alerté) le (\d+(?:er)? \w+ \d{4})")
RESUMED_ON = date(2026, 5, 20)
DELIVERED_ON = date(2026, 6, 15)


def received(settings: Settings) -> list[EmailMessage]:
    """The notices the dispatcher wrote to the mail folder, as the buyer's mail client reads
    them."""
    return [
        email.message_from_bytes(
            path.read_bytes(), _class=EmailMessage, policy=email.policy.default
        )
        for path in sorted((settings.mail_dir / KIND).glob("*.eml"))
    ]


def part(message: EmailMessage, subtype: str) -> str:
    body = message.get_body(preferencelist=(subtype,))
    assert body is not None
    content = body.get_content()
    return squash(visible(content) if subtype == "html" else content).replace(NBSP, " ")


def outbox(app: App, kind_prefix: str) -> list[OutboxMessage]:
    with app.transaction() as session:
        found = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.kind.startswith(kind_prefix))
            .order_by(OutboxMessage.id)
        ).all()
        session.expunge_all()
        return list(found)


def held(app: App) -> list[tuple[str, str | None]]:
    with app.transaction() as session:
        return [
            (row.kind, row.outcome)
            for row in session.scalars(select(HeldNotice).order_by(HeldNotice.id))
        ]


def suspended_without_buyer_contact(app: App) -> Lot:
    """``a_lot_suspended_with_april_owed``, its buyer without a contact: March declared by both
    companies, April by the co-contractor only; suspended on 7 May 2026."""
    lot = make_lot(
        app,
        start=date(2026, 3, 2),
        end=date(2026, 12, 31),
        companies=("Titulaire", "Cotraitant"),
        at=paris(date(2026, 3, 2), 8),
        buyer_contacts=False,
    )
    run_pass(app, paris(date(2026, 4, 1), 9))
    for company in (0, 1):
        declare(app, lot, date(2026, 3, 1), paris(date(2026, 4, 3), 10), company)
    run_pass(app, paris(date(2026, 5, 4), 9))
    declare(app, lot, date(2026, 4, 1), paris(date(2026, 5, 5), 10), 1)
    advance(app, lot, ClauseEvent.SUSPEND, paris(date(2026, 5, 7), 15), "Fouilles archéologiques")
    return lot


def next_steps(app: App, lot: Lot, settings: Settings) -> tuple[date, str, date]:
    """What the ladders do now: the companies' next call; April's next step and its day."""
    with app.transaction() as session:
        calls = [
            p.next_call_at
            for p in session.scalars(select(AwardParty)).all()
            if p.next_call_at is not None
        ]
    call_on = min(local_date(at, settings.zone) for at in calls)
    [april] = [
        lad
        for lad in ladders(app)
        if lad.month == date(2026, 4, 1) and lad.company_id == lot.company_ids[0]
    ]
    assert april.next_step is not None and april.next_step_at is not None
    return call_on, april.next_step, local_date(april.next_step_at, settings.zone)


def created_on(app: App, settings: Settings, day: date) -> list[tuple[str, str]]:
    """The kind and text of each email queued on that day."""
    return [
        (m.kind, squash(m.body_text))
        for m in outbox(app, "")
        if local_date(m.created_at, settings.zone) == day
    ]


def held_until_a_contact_comes(app: App, clock: Clock, settings: Settings) -> Lot:
    """The lot resumed on 20 May 2026, its buyer's notice held; the passes run through 15 June
    09:00, when a contact is added (the facilitator's own command)."""
    app.transport = FileTransport(settings.mail_dir)
    lot = suspended_without_buyer_contact(app)
    resumed = paris(RESUMED_ON, 10)
    clock.set(resumed)
    advance(app, lot, ClauseEvent.RESUME, resumed, "Reprise du gros œuvre")
    # No contact: the resumption is held, nothing queued for the buyer.
    assert outbox(app, "notice_") == []
    assert held(app)[-1] == (KIND, None)

    # The passes go on through the days the resumption would have named (28 May, 1 June).
    for day in (date(2026, 5, 21), date(2026, 5, 28), date(2026, 6, 1), date(2026, 6, 12)):
        clock.set(paris(day, 9))
        run_pass(app, paris(day, 9))
    assert outbox(app, "notice_") == [] and received(settings) == []

    # 15 June: a contact is added (the facilitator's own command), then the passes.
    clock.set(paris(DELIVERED_ON, 9))
    run_pass(app, paris(DELIVERED_ON, 9))
    catalog.add_buyer_contact(
        app, lot.buyer_id, name="Claire Dupont", email="claire.dupont@example.org", actor="test"
    )
    return lot


def test_a_held_resumption_notice_names_the_next_steps_of_its_delivery_day(
    app: App, clock: Clock, settings: Settings
) -> None:
    """On SQLite and, with ``CLAUSES_TEST_DATABASE_URL``, PostgreSQL (the ``app`` fixture)."""
    lot = held_until_a_contact_comes(app, clock, settings)
    release = paris(DELIVERED_ON, 10)
    clock.set(release)
    run_pass(app, release)
    run_pass(app, release + timedelta(minutes=1))
    # The ladders on that day: April's reminders all sent since, its alert comes next.
    call_on, step, step_on = next_steps(app, lot, settings)
    assert (call_on, step, step_on) == (date(2026, 7, 1), "escalation", date(2026, 6, 24))

    [message] = received(settings)
    assert message["To"] == "Claire Dupont <claire.dupont@example.org>"
    text, html = part(message, "plain"), part(message, "html")
    for body in (text, html):
        # The resumption is told as it was, with the suspension the buyer never read (its
        # notice held too, superseded: ``resumption_withdrawals``), and the day it could not
        # leave.
        assert "a été suspendue le 7 mai 2026, puis a repris le 20 mai 2026." in body
        assert (
            "Ce message n'avait pas pu vous être envoyé le 20 mai 2026 : aucun contact n'était "
            "enregistré."
        ) in body
        # Apart from that day, it names none before the day it is delivered.
        past = {d for d in map(french_day, DAY.findall(body)) if d < DELIVERED_ON}
        # The suspension's day (its notice, held too, never read) and the resumption's.
        assert past == {date(2026, 5, 7), RESUMED_ON}, body
        for gone in ("1er juin", "28 mai", "10 juin"):
            assert gone not in body
        # Its next call and reminder are the ladders' of now.
        assert (
            f"Le prochain appel à déclarer partira le {french_date(call_on)} : les entreprises "
            "y déclareront les heures d'insertion du mois de juin 2026, au plus tard le 10 "
            "juillet 2026."
        ) in body
        assert (
            "Une déclaration demandée avant la suspension reste attendue (avril 2026, date limite passée). "
            "Tous les rappels ont été envoyés : sans déclaration, vous en serez alerté le "
            f"{french_date(step_on)}."
        ) in body
        promised = [french_day(day) for day in PROMISED.findall(body)]
        assert promised and all(day >= DELIVERED_ON for day in promised)

    # Once: the later passes send no other resumption notice, and they do what it named:
    # the alert on its day, the call on its day, neither before.
    queued: dict[date, list[tuple[str, str]]] = {}
    # A pass each day, as the service runs them.
    for day in (DELIVERED_ON + timedelta(days=n) for n in range(1, 17)):
        clock.set(paris(day, 9))
        run_pass(app, paris(day, 9))
        queued[day] = created_on(app, settings, day)
    assert len(received(settings)) == 1
    [row] = outbox(app, KIND)
    assert row.state == "sent" and row.sent_at is not None
    assert local_date(row.sent_at, settings.zone) == DELIVERED_ON
    # It kept the end of the first day it names: written again had it waited past it.
    assert row.promised_until is not None
    assert local_date(row.promised_until - timedelta(seconds=1), settings.zone) == step_on
    sent = [(day, kind, text) for day, emails in queued.items() for kind, text in emails]
    assert [
        day
        for day, kind, text in sent
        # April's own alert: a later one names April among the months it already reported.
        if kind == "declaration_escalation" and "heures d'insertion d'avril 2026" in text
    ] == [step_on]
    assert [day for day, kind, _ in sent if kind == "declaration_call"] == [call_on, call_on]


def test_a_released_resumption_notice_that_waits_past_its_date_is_written_again(
    app: App, clock: Clock, settings: Settings
) -> None:
    """Released on 15 June but left in the outbox (no sending) until 25 June, past the alert
    of 24 June it names: it leaves written again from the ladders of that day."""
    lot = held_until_a_contact_comes(app, clock, settings)
    for day in (DELIVERED_ON + timedelta(days=n) for n in range(0, 10)):
        clock.set(paris(day, 10))
        run_pass(app, paris(day, 10), dispatch=False)
    [first] = outbox(app, KIND)
    assert "vous en serez alerté le 24 juin 2026" in squash(first.body_text)
    restart = paris(date(2026, 6, 25), 10)
    clock.set(restart)
    run_pass(app, restart)
    call_on, step, step_on = next_steps(app, lot, settings)
    assert step == "escalation"
    [message] = received(settings)
    for body in (part(message, "plain"), part(message, "html")):
        past = {d for d in map(french_day, DAY.findall(body)) if d < restart.date()}
        # The suspension's day (its notice, held too, never read) and the resumption's.
        assert past == {date(2026, 5, 7), RESUMED_ON}, body
        assert f"Le prochain appel à déclarer partira le {french_date(call_on)}" in body
        assert f"vous en serez alerté le {french_date(step_on)}." in body
        # Written again, it still says the day it could not leave.
        assert "pu vous être envoyé le 20 mai 2026" in squash(body), body
    old, new = outbox(app, KIND)
    assert (old.state, new.state, new.key) == ("cancelled", "sent", f"{first.key}~2")
