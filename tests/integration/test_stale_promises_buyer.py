"""The buyer's notice of a resumption that waited through a stop of the service never names a
day already past (SQLite and PostgreSQL).

The lot resumes on 20 May 2026 while the service is stopped: the buyer's notice says « Le
prochain appel à déclarer partira le 1er juin 2026 » and « Les rappels reprennent : le prochain
partira le 28 mai 2026 », and waits in the outbox. The service restarts on 15 June: its pass
catches the ladders up (May's call and April's reminder leave), and the notice delivered that day,
read as the buyer reads it (the ``.eml`` the dispatcher writes), names July's call and the
reminder April's ladder plans now; the first one is withdrawn with its reason, and a later pass
sends nothing more.
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
from tests.integration._ladders import Lot, ladders
from tests.integration.test_company_pause_notices import a_lot_suspended_with_april_owed, advance
from tests.integration.test_ladder_scenarios import paris
from tests.integration.test_stale_promises import french_day
from tests.text import squash, visible
from workflow.adapters.mail.files import FileTransport
from workflow.adapters.orm import AwardParty, OutboxMessage
from workflow.adapters.templates import french_date
from workflow.bootstrap import App
from workflow.domain.calendar import local_date
from workflow.domain.stages import ClauseEvent
from workflow.services.ticks import run_pass
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

KIND = "notice_resumed"
NBSP = "\u00a0"
#: The days of the service the notice names (« partira le … », « vous en serez alerté le … »).
PROMISED = re.compile(r"(?:partira|alerté) le (\d+(?:er)? \w+ \d{4})")


def rows(app: App) -> list[OutboxMessage]:
    with app.transaction() as session:
        found = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == KIND).order_by(OutboxMessage.id)
        ).all()
        session.expunge_all()
        return list(found)


def received(settings: Settings) -> list[EmailMessage]:
    """The notices the dispatcher wrote to the mail folder, as the buyer's mail client reads
    them."""
    return [
        email.message_from_bytes(
            path.read_bytes(), _class=EmailMessage, policy=email.policy.default
        )
        for path in sorted((settings.mail_dir / KIND).glob("*.eml"))
    ]


def plain(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return squash(body.get_content())


def html(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("html",))
    assert body is not None
    return squash(visible(body.get_content()))


def resumed_while_stopped(app: App, clock: Clock, settings: Settings) -> tuple[Lot, OutboxMessage]:
    """The lot of ``a_lot_suspended_with_april_owed`` resumed on 20 May 2026 at 10:00 while the
    service is stopped: the buyer's notice waits in the outbox, promising 1 June's call and
    28 May's reminder."""
    app.transport = FileTransport(settings.mail_dir)
    lot = a_lot_suspended_with_april_owed(app)
    resumed = paris(date(2026, 5, 20), 10)
    clock.set(resumed)
    advance(app, lot, ClauseEvent.RESUME, resumed, "Reprise du gros œuvre")
    [waiting] = rows(app)
    assert waiting.state == "pending"
    text = squash(waiting.body_text)
    assert (
        "Le prochain appel à déclarer partira le 1er juin 2026 : les entreprises y déclareront "
        "les heures d'insertion du mois de mai 2026, au plus tard le 10 juin 2026."
    ) in text
    assert "Les rappels reprennent : le prochain partira le 28 mai 2026." in text
    # It keeps the end of the first day it names: written again should it wait past it.
    assert waiting.promised_until is not None
    assert local_date(waiting.promised_until - timedelta(seconds=1), settings.zone) == date(
        2026, 5, 28
    )
    assert received(settings) == []
    return lot, waiting


def delivered_after_the_promised_day(app: App, clock: Clock, settings: Settings) -> None:
    lot, first = resumed_while_stopped(app, clock, settings)

    # The service restarts on Monday 15 June at 09:00 in Paris: one pass, then another.
    restart = paris(date(2026, 6, 15), 9)
    clock.set(restart)
    run_pass(app, restart)
    run_pass(app, restart + timedelta(minutes=1))

    # What the ladders do now: the next call of each company, April's next reminder.
    with app.transaction() as session:
        parties = session.scalars(select(AwardParty)).all()
        calls = [p.next_call_at for p in parties if p.next_call_at is not None]
        call_on = min(local_date(at, settings.zone) for at in calls)
    [april] = [
        lad
        for lad in ladders(app)
        if lad.month == date(2026, 4, 1) and lad.company_id == lot.company_ids[0]
    ]
    assert april.next_step is not None and april.next_step.startswith("reminder_")
    assert april.next_step_at is not None
    reminder_on = local_date(april.next_step_at, settings.zone)
    assert (call_on, reminder_on) == (date(2026, 7, 1), date(2026, 6, 19))

    [message] = received(settings)  # delivered once, whatever the passes
    text = plain(message)
    assert message["To"] == first.recipients
    for gone in ("1er juin", "28 mai", "10 juin"):
        assert gone not in text and gone not in html(message)
    assert (
        f"Le prochain appel à déclarer partira le {french_date(call_on)} : les entreprises y "
        "déclareront les heures d'insertion du mois de juin 2026, au plus tard le 10 juillet "
        "2026."
    ) in text
    assert (
        "Une déclaration demandée avant la suspension reste attendue (avril 2026, date limite passée). Les "
        f"rappels reprennent : le prochain partira le {french_date(reminder_on)}."
    ) in text
    assert f"le prochain partira le{NBSP}" not in text  # plain text: a plain space
    assert f"Les rappels reprennent : le prochain partira le {french_date(reminder_on)}." in (
        html(message).replace(NBSP, " ")
    )
    # Whatever it promises is still to come on the day the buyer reads it.
    promised = [french_day(day) for day in PROMISED.findall(text)]
    assert promised and all(day >= date(2026, 6, 15) for day in promised)
    # The resumption itself is told as it was.
    assert (
        f"la clause sociale d'insertion du lot 1 «{NBSP}Gros œuvre{NBSP}» reprend à compter du 20 "
        "mai 2026."
    ) in text
    assert "Précision : Reprise du gros œuvre" in text

    old, new = rows(app)
    assert (old.id, old.key, old.state, old.sent_at) == (first.id, first.key, "cancelled", None)
    assert old.last_error == (
        f"Remplacé{NBSP}: il annonçait le 28 mai 2026, date passée avant son départ{NBSP}; le "
        "même courriel, écrit à nouveau le 15 juin 2026 d'après ce qui est prévu ce jour-là, "
        "part à sa place."
    )
    assert (new.key, new.state, new.created_at) == (f"{first.key}~2", "sent", restart)
    # It keeps its own promise: written again once more should another stop outlast it.
    assert new.promised_until is not None
    assert local_date(new.promised_until - timedelta(seconds=1), settings.zone) == reminder_on

    # A pass a day later: nothing more leaves.
    run_pass(app, restart + timedelta(days=1))
    assert len(received(settings)) == 1
    assert [r.state for r in rows(app)] == ["cancelled", "sent"]


def test_a_resumption_notice_that_waited_through_a_stop_names_what_the_ladders_do_then(
    app: App, clock: Clock, settings: Settings
) -> None:
    """On SQLite and, with ``CLAUSES_TEST_DATABASE_URL``, PostgreSQL (the ``app`` fixture)."""
    delivered_after_the_promised_day(app, clock, settings)


def test_a_resumption_notice_that_leaves_before_its_date_is_sent_as_written(
    app: App, clock: Clock, settings: Settings
) -> None:
    _, first = resumed_while_stopped(app, clock, settings)
    # Restarted on Monday 25 May, before the reminder of the 28th: the notice is still true.
    restart = paris(date(2026, 5, 25), 9)
    clock.set(restart)
    run_pass(app, restart)

    [message] = received(settings)
    assert "Les rappels reprennent : le prochain partira le 28 mai 2026." in plain(message)
    [row] = rows(app)
    assert (row.id, row.key, row.state, row.body_text) == (
        first.id,
        first.key,
        "sent",
        first.body_text,
    )
