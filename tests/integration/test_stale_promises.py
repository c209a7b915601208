"""An email that waited through a stop of the service never promises a date already past
(SQLite and PostgreSQL).

The facilitator cancels a company's declaration while the service is stopped: the email says
« le prochain partira le 27 avril 2026 » and waits in the outbox. The service restarts on 7 May:
its pass catches the ladder up (the reminder of 27 April leaves now), and the email is delivered
that day. Read as the company reads it (the ``.eml`` the dispatcher writes), it names the next
step as the ladder has it then, never 27 April; the first one is withdrawn with its reason, and a
second pass (or a second instance) sends nothing more. An email that leaves before its date is
left as it was written.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import Clock, _empty_postgres, make_settings
from tests.integration._ladders import Lot, ladders
from tests.integration.test_clause_corrections import MARCH, REASON, declare, make, walk
from tests.integration.test_company_pause_notices import (
    RESUMED,
    a_lot_suspended_with_april_owed,
    advance,
    emails,
)
from tests.integration.test_ladder_scenarios import paris
from tests.text import squash, visible
from workflow.adapters.mail.files import FileTransport
from workflow.adapters.orm import DeclarationLadder, OutboxMessage
from workflow.adapters.templates import french_date
from workflow.app.clause_corrections import cancel_declaration
from workflow.bootstrap import App, bootstrap
from workflow.domain.calendar import local_date
from workflow.domain.stages import ClauseEvent
from workflow.services.dispatch import dispatch_due
from workflow.services.promise_rewriters import REWRITERS
from workflow.services.stale_promises import write_stale_again
from workflow.services.ticks import run_pass
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

KIND = "declaration_cancelled"
NBSP = "\u00a0"
#: Days named after a promise in the email (« partira le … », « d'ici le … »).
PROMISED = re.compile(
    r"(?:partira|redemandera|d'ici|informer [^.]*?) le (\d+(?:er)? \w+ \d{4})", re.UNICODE
)
MONTHS = {
    name: number
    for number, name in enumerate(
        (
            "janvier",
            "février",
            "mars",
            "avril",
            "mai",
            "juin",
            "juillet",
            "août",
            "septembre",
            "octobre",
            "novembre",
            "décembre",
        ),
        start=1,
    )
}


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def french_day(text: str) -> date:
    day, month, year = text.split()
    return date(int(year), MONTHS[month], int(day.removesuffix("er")))


def rows(app: App) -> list[OutboxMessage]:
    with app.transaction() as session:
        found = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == KIND).order_by(OutboxMessage.id)
        ).all()
        session.expunge_all()
        return list(found)


def received(settings: Settings) -> list[EmailMessage]:
    """The cancellation emails the dispatcher wrote to the mail folder, as a mail client reads
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


def march_ladder(app: App, lot: Lot) -> DeclarationLadder:
    [ladder] = [lad for lad in ladders(app) if lad.month == MARCH]
    return ladder


def stopped_after_cancel(app: App, clock: Clock, settings: Settings) -> Lot:
    """Called on 1 April, declared on the 9th, the service's passes until the 22nd; stopped then,
    and the facilitator cancels the declaration on the 22nd at noon: its reminder 1 is due on
    27 April, as the email waiting in the outbox says."""
    app.transport = FileTransport(settings.mail_dir)
    lot = make(app)
    walk(app, date(2026, 4, 1), date(2026, 4, 1))
    declare(app, lot, MARCH, utc(2026, 4, 9, 10), {})
    walk(app, date(2026, 4, 10), date(2026, 4, 22))
    clock.set(utc(2026, 4, 22, 10))
    cancel_declaration(app, clause=lot.clause_id, company=_company(), month=MARCH, reason=REASON)
    [waiting] = rows(app)
    assert waiting.state == "pending"
    assert (
        "Sans nouvelle déclaration, les rappels reprendront où ils en étaient : le prochain "
        "partira le 27 avril 2026."
    ) in squash(waiting.body_text)
    assert received(settings) == []
    return lot


def _company() -> str:
    return "Bâtiments Test"


def test_a_cancellation_that_waited_through_a_stop_names_the_next_step_of_the_day_it_leaves(
    app: App, clock: Clock, settings: Settings
) -> None:
    lot = stopped_after_cancel(app, clock, settings)
    [first] = rows(app)

    # The service restarts on Thursday 7 May at 09:00 in Paris: one pass, then another.
    restart = utc(2026, 5, 7, 7)
    clock.set(restart)
    run_pass(app, restart)
    run_pass(app, restart + timedelta(minutes=1))

    # The ladder caught up: reminder 1 left at the restart; its next step is what it says now.
    ladder = march_ladder(app, lot)
    assert ladder.next_step == "reminder_2"
    assert ladder.next_step_at is not None
    next_on = local_date(ladder.next_step_at, settings.zone)
    assert next_on > date(2026, 5, 7)

    [message] = received(settings)  # delivered once, whatever the passes
    text = plain(message)
    assert "27 avril" not in text
    assert (
        "Sans nouvelle déclaration, les rappels reprendront où ils en étaient : le prochain "
        f"partira le {french_date(next_on)}."
    ) in text
    # Its due date had passed already when it was cancelled: said as past, never « d'ici ».
    assert (
        "Le mois de mars 2026 est de nouveau attendu. Il était à déclarer au plus tard le 10 "
        "avril 2026 : merci de le déclarer à nouveau dès que possible."
    ) in text
    # Whatever it promises is still to come on the day it is read.
    promised = [french_day(day) for day in PROMISED.findall(text)]
    assert promised and all(day >= date(2026, 5, 7) for day in promised)
    # The cancellation itself is told as it was.
    assert "J'ai annulé le 22 avril 2026 votre déclaration des heures d'insertion de mars 2026" in (
        text
    )
    assert f"Motif de l'annulation : « {REASON} »" in text

    old, new = rows(app)
    assert old.id == first.id and old.key == first.key
    assert old.state == "cancelled" and old.sent_at is None
    assert old.last_error == (
        f"Remplacé{NBSP}: il annonçait le 27 avril 2026, date passée avant son départ{NBSP}; "
        "le même courriel, écrit à nouveau le 7 mai 2026 d'après ce qui est prévu ce jour-là, "
        "part à sa place."
    )
    assert new.key == f"{first.key}~2"
    assert new.state == "sent" and new.created_at == restart
    # It keeps its own promise: written again once more should another stop outlast it.
    assert new.promised_until is not None
    assert local_date(new.promised_until - timedelta(seconds=1), settings.zone) == next_on

    # A third pass, a day later: nothing more leaves.
    run_pass(app, restart + timedelta(days=1))
    assert len(received(settings)) == 1
    assert [r.state for r in rows(app)] == ["cancelled", "sent"]


def test_a_cancellation_that_leaves_before_its_date_is_sent_as_written(
    app: App, clock: Clock, settings: Settings
) -> None:
    stopped_after_cancel(app, clock, settings)
    [first] = rows(app)

    # Restarted on Friday 24 April, before the reminder of the 27th: the email is still true.
    restart = utc(2026, 4, 24, 7)
    clock.set(restart)
    run_pass(app, restart)

    [message] = received(settings)
    assert (
        "Sans nouvelle déclaration, les rappels reprendront où ils en étaient : le prochain "
        "partira le 27 avril 2026."
    ) in plain(message)
    [row] = rows(app)
    assert (row.id, row.key, row.state, row.body_text) == (
        first.id,
        first.key,
        "sent",
        first.body_text,
    )


@pytest.fixture
def pg_apps(postgres_url: str, tmp_path: Path, clock: Clock) -> Iterator[tuple[App, App]]:
    """Two instances of the service on one PostgreSQL database."""
    _empty_postgres(postgres_url)
    settings = make_settings(tmp_path, postgres_url)
    first = bootstrap(settings, clock=clock)
    second = bootstrap(settings, clock=clock)
    yield first, second
    first.close()
    second.close()


@pytest.mark.postgres
def test_two_instances_write_a_stale_email_again_once(
    pg_apps: tuple[App, App], clock: Clock, tmp_path: Path
) -> None:
    """While one instance writes the stale email again (its row locked, not committed yet), the
    other skips it: one new email, one withdrawal; then both deliver, and it leaves once."""
    app, other = pg_apps
    settings = make_settings(tmp_path, "postgresql://unused")
    stopped_after_cancel(app, clock, settings)
    other.transport = FileTransport(settings.mail_dir)
    restart = utc(2026, 5, 7, 7)
    clock.set(restart)
    with app.transaction() as session:
        assert write_stale_again(app, session, restart, restart, REWRITERS) == 1
        with other.transaction() as racing:
            assert write_stale_again(other, racing, restart, restart, REWRITERS) == 0
    with other.transaction() as late:
        assert write_stale_again(other, late, restart, restart, REWRITERS) == 0
    assert [(r.state, r.key.endswith("~2")) for r in rows(app)] == [
        ("cancelled", False),
        ("pending", True),
    ]

    run_pass(app, restart)
    run_pass(other, restart)
    [message] = received(settings)
    assert "27 avril" not in plain(message)
    assert [r.state for r in rows(app)] == ["cancelled", "sent"]


def test_a_resumption_that_waited_through_a_stop_names_the_calls_and_reminders_to_come(
    app: App, clock: Clock, settings: Settings
) -> None:
    """The lot resumes on 20 May while the service is stopped: the holder's email says « Le 1er
    juin 2026, vous recevrez l'appel à déclarer … mai 2026 » and April « à rendre au plus tard
    le 22 mai 2026 ; prochain rappel le 28 mai 2026 ». The service restarts on 15 June: May's
    call and April's reminder leave, and the email the holder reads names July's call and the
    reminder of April the ladder plans now."""
    lot = a_lot_suspended_with_april_owed(app)
    resumed = paris(date(2026, 5, 20), 10)
    clock.set(resumed)
    advance(app, lot, ClauseEvent.RESUME, resumed, "Reprise")
    waiting = emails(app, RESUMED)
    holder = squash(waiting[0].body_text)
    assert waiting[0].subject.startswith(
        "Reprise de la clause d'insertion : prochain appel à déclarer le 1er juin 2026"
    )
    assert "Le 1er juin 2026, vous recevrez l'appel à déclarer" in holder
    assert (
        "- avril 2026 : à rendre au plus tard le 22 mai 2026 ; prochain rappel le 28 mai 2026"
        in (holder)
    )

    restart = paris(date(2026, 6, 15), 9)
    clock.set(restart)
    run_pass(app, restart)
    run_pass(app, restart + timedelta(minutes=1))

    rows_now = emails(app, RESUMED)
    assert [(m.state, m.key.endswith("~2")) for m in rows_now] == [
        ("cancelled", False),
        ("cancelled", False),
        ("sent", True),
        ("sent", True),
    ]
    assert rows_now[0].last_error == (
        f"Remplacé{NBSP}: il annonçait le 22 mai 2026, date passée avant son départ{NBSP}; le "
        "même courriel, écrit à nouveau le 15 juin 2026 d'après ce qui est prévu ce jour-là, "
        "part à sa place."
    )
    [april] = [
        lad
        for lad in ladders(app)
        if lad.month == date(2026, 4, 1) and lad.company_id == lot.company_ids[0]
    ]
    assert april.next_step is not None and april.next_step.startswith("reminder_")
    assert april.next_step_at is not None
    reminder_on = local_date(april.next_step_at, settings.zone)
    assert reminder_on == date(2026, 6, 19)
    sent = rows_now[2]
    text = squash(sent.body_text)
    assert "1er juin" not in sent.subject + text and "28 mai" not in text
    assert sent.subject.startswith(
        "Reprise de la clause d'insertion : prochain appel à déclarer le 1er juillet 2026"
    )
    # The resumption itself as it was; what comes next as the ladder has it on 15 June.
    assert "suspendue depuis le 7 mai 2026, reprend à compter du 20 mai 2026." in text
    assert (
        "Le 1er juillet 2026, vous recevrez l'appel à déclarer les heures d'insertion du mois "
        "de juin 2026 réalisées par Titulaire, déclaration à rendre au plus tard le 10 juillet "
        "2026."
    ) in text
    assert (
        "- avril 2026 : attendue depuis le 22 mai 2026 ; prochain rappel le "
        f"{french_date(reminder_on)}"
    ) in text
    # May, called at the restart, was not « demandée avant la suspension ».
    assert "mai 2026 : " not in text


def test_a_delivery_alone_after_a_stop_never_names_the_overdue_step_s_day(
    app: App, clock: Clock, settings: Settings
) -> None:
    """``clauses mail send`` on 7 May, before any pass of the service: the ladder has not caught
    up (its reminder of 27 April has not left yet). The email says the reminder leaves soon,
    not on a day gone by."""
    stopped_after_cancel(app, clock, settings)
    restart = utc(2026, 5, 7, 7)
    clock.set(restart)
    dispatch_due(app, restart, outage_now=True)

    [message] = received(settings)
    text = plain(message)
    assert "27 avril" not in text
    assert (
        "Sans nouvelle déclaration, les rappels reprendront où ils en étaient : le prochain "
        "partira sous peu."
    ) in text
    old, new = rows(app)
    assert (old.state, new.state, new.key) == ("cancelled", "sent", f"{old.key}~2")
    assert "le prochain partira sous peu." in visible(new.body_html)
    assert "27 avril" not in visible(new.body_html)
    # It promises no day any more: nothing to write again later.
    assert new.promised_until is None
