"""A waiting email covering a month just declared and a month still missing is written again.

The user's case: a lot started on 1 September 2026, its start recorded on 3 November; the pass
calls the company once for September and October (a catch-up call, one due date), so their
reminders, and the buyer's alert, leave together: one email for both. The company declares
October the morning that email waits in the outbox (queued for its slot, or refused for now by
the mail server). It was left as written, September still missing: it told the company, or the
buyer, that October was missing too, which was false. It is now written again for September
only, leaving in its place at the same time to the same people under September's key, and the
first one withdrawn, its reason kept (as the finish does for a month released, ``lot_ends``).
An email that may have left (sending) is left as it is.

On the real passes and dispatcher of a simulated clock, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import delete, select, update

from tests.conftest import Clock
from tests.integration._ladders import Lot, declare, ladder_emails, ladders, make_lot
from tests.integration.ladder_invariants import assert_ladder_invariants
from tests.integration.test_ladder_scenarios import paris
from tests.text import squash, visible
from workflow.adapters.mail.memory import MemoryTransport
from workflow.adapters.orm import AwardParty, Correspondent, OutboxMessage
from workflow.adapters.templates import remembered_date
from workflow.app.audit import verify_database
from workflow.app.clause_corrections import cancel_declaration
from workflow.bootstrap import App, bootstrap
from workflow.domain.calendar import LadderStep, local_date
from workflow.emails.envelope import OutboxState
from workflow.services.dispatch import Claim, Outcome, claim_due, new_owner, record_outcomes
from workflow.services.reminder_emails import key_months, ladder_history
from workflow.services.ticks import run_pass, simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

NBSP = "\u00a0"
AUG, SEP, OCT = date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 1)
COMPANY = "Bâtiments Test"
LATE_NOTICE = "notice_late_declaration_received"


@pytest.fixture
def app(settings: Settings, clock: Clock) -> Iterator[App]:
    application = bootstrap(settings, clock=clock)
    application.transport = MemoryTransport()
    yield application
    application.close()


def sent_keys(app: App) -> list[str]:
    transport = app.transport
    assert isinstance(transport, MemoryTransport)
    return transport.keys()


def row(app: App, key: str) -> OutboxMessage:
    with app.transaction() as session:
        found = session.scalars(select(OutboxMessage).where(OutboxMessage.key == key)).one()
        session.expunge(found)
        return found


def rows_of(app: App, kind: str) -> list[OutboxMessage]:
    with app.transaction() as session:
        found = list(session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)))
        for each in found:
            session.expunge(each)
        return found


def waiting(app: App, step: str, start: date = SEP) -> tuple[Lot, date, str]:
    """A lot started on ``start``, recorded on 3 November: the catch-up call of 4 November for
    every month up to October, sent; then their ``step`` queued together at its slot, not sent
    yet. Returns the lot, that day, and the waiting email's key."""
    lot = make_lot(app, start=start, end=date(2027, 6, 30), at=paris(date(2026, 11, 3), 10))
    simulate(app, date(2026, 11, 3), date(2026, 11, 4))
    months = f"{start:%Y-%m}..2026-10"
    prefix = f"reminder:{lot.clause_id}:{lot.company_ids[0]}"
    assert [m.key for m in ladder_emails(app)] == [f"{prefix}:{months}:call"]
    while True:
        [ladder] = [lad for lad in ladders(app) if lad.month == SEP]
        assert ladder.next_step_at is not None
        day = local_date(ladder.next_step_at, app.settings.zone)
        if ladder.next_step == step:
            break
        simulate(app, day, day)
    simulate(app, day, day, dispatch=False)  # queued at its slot, not sent yet
    key = f"{prefix}:{months}:{step}"
    assert row(app, key).state == OutboxState.PENDING
    return lot, day, key


def replaced(declared: str, day: date, still: str = "septembre 2026") -> str:
    return (
        f"Remplacé{NBSP}: {declared} a été déclaré le {remembered_date(day)}{NBSP}; le même "
        f"courriel, écrit à nouveau pour {still} seulement, part à sa place."
    )


def assert_each_step_once(app: App, lot: Lot, step: str) -> None:
    """What the buyer's alert and the day's tasks read of the emails each month got
    (``ladder_history``): each step once, the email written again and not the one withdrawn for
    September; the one withdrawn for October, which it never reached."""
    with app.transaction() as session:
        history = ladder_history(session, [lot.clause_id])
    company = lot.company_ids[0]
    september = history[(lot.clause_id, company, SEP)]
    assert len({e.step for e in september}) == len(september)
    assert all(e.state != OutboxState.CANCELLED for e in september)
    october = [e for e in history[(lot.clause_id, company, OCT)] if e.step == step]
    assert [e.state for e in october] == [OutboxState.CANCELLED]


def test_a_reminder_refused_for_now_leaves_for_september_only_once_october_is_declared(
    app: App,
) -> None:
    lot, day, old_key = waiting(app, "reminder_1")
    # Refused for now by the mail server at 9:00: tried again at 11:00.
    retry = paris(day, 11)
    with app.transaction() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.key == old_key)
            .values(
                attempts=1,
                next_attempt_at=retry,
                last_error="Échec passager : 421 service temporairement indisponible",
            )
        )
    old = row(app, old_key)
    assert "de septembre et d'octobre 2026" in squash(old.subject)

    declare(app, lot, OCT, paris(day, 10))

    # The first one withdrawn, with why; the new one under September's key, to the same
    # person, queued at the same moment and tried when the first one would have been.
    withdrawn = row(app, old_key)
    assert (withdrawn.state, withdrawn.next_attempt_at, withdrawn.sent_at) == (
        OutboxState.CANCELLED,
        None,
        None,
    )
    assert withdrawn.last_error == replaced("octobre 2026", day)
    new_key = old_key.replace("2026-09..2026-10", "2026-09")
    new = row(app, new_key)
    parsed = key_months(new.key)
    assert parsed is not None and (parsed.months, parsed.step) == ((SEP,), "reminder_1")
    assert (new.kind, new.state, new.recipients) == (old.kind, OutboxState.PENDING, old.recipients)
    assert (new.created_at, new.next_attempt_at) == (old.created_at, retry)

    # What the company reads: September alone, its due date, its link; never October.
    assert squash(new.subject).startswith(
        "Rappel : déclaration des heures d'insertion de septembre 2026 attendue le 16 novembre 2026"
    ), new.subject
    text = squash(new.body_text)
    assert (
        "je n'ai pas encore reçu la déclaration des heures d'insertion de septembre 2026 de "
        f"{COMPANY} pour le lot 1 «{NBSP}Gros œuvre{NBSP}». Elle était attendue le 16 novembre "
        "2026."
    ) in text, text
    assert "Si personne n'a travaillé sur le lot en septembre 2026, une réponse" in text
    links = re.findall(r"https?://\S+/declarer/\S+", new.body_text)
    assert len(links) == 1 and "- septembre 2026 : " in text
    assert "septembre 2026" in visible(new.body_html)
    for part in (new.subject, new.body_text, new.body_html):
        assert "octobre" not in part.lower()

    # Two passes once the retry is due: the new one leaves once; the first one never.
    run_pass(app, retry)
    run_pass(app, retry + timedelta(minutes=1))
    assert sent_keys(app).count(new_key) == 1
    assert old_key not in sent_keys(app)
    sent = row(app, new_key)
    assert sent.state == OutboxState.SENT
    assert sent.sent_at is not None and sent.sent_at >= retry
    assert_each_step_once(app, lot, "reminder_1")
    assert [str(finding) for finding in verify_database(app).findings] == []


def test_a_buyers_alert_leaves_for_september_only_once_october_is_declared(app: App) -> None:
    lot, day, old_key = waiting(app, LadderStep.ESCALATION)
    old = row(app, old_key)
    assert old.next_attempt_at is not None
    declared_at = paris(day, 8, 30)
    assert declared_at < old.next_attempt_at  # queued for 9:00, its slot

    declare(app, lot, OCT, declared_at)

    withdrawn = row(app, old_key)
    assert (withdrawn.state, withdrawn.last_error) == (
        OutboxState.CANCELLED,
        replaced("octobre 2026", day),
    )
    new_key = old_key.replace("2026-09..2026-10", "2026-09")
    new = row(app, new_key)
    assert (new.kind, new.state, new.recipients) == (old.kind, OutboxState.PENDING, old.recipients)
    assert (new.created_at, new.next_attempt_at) == (old.created_at, old.next_attempt_at)

    # What the buyer reads: September is missing, and how it was asked; never October.
    assert squash(new.subject).startswith(
        f"Alerte avant mise en demeure : déclaration de septembre 2026 de {COMPANY} non reçue"
    ), new.subject
    text = squash(new.body_text)
    assert (
        f"{COMPANY}, titulaire, n'a pas transmis sa déclaration des heures d'insertion de "
        f"septembre 2026 pour le lot 1 «{NBSP}Gros œuvre{NBSP}». Elle était attendue le 16 "
        "novembre 2026"
    ) in text, text
    assert "- Appel à déclaration : envoyé le 4 novembre 2026" in text, text
    for part in (new.subject, new.body_text, new.body_html):
        assert "octobre" not in part.lower()
    # The buyer never got an alert naming October: no word that it arrived.
    assert rows_of(app, LATE_NOTICE) == []

    simulate(app, day, day)
    simulate(app, day, day)
    assert sent_keys(app).count(new_key) == 1
    assert old_key not in sent_keys(app)
    assert row(app, new_key).state == OutboxState.SENT
    assert rows_of(app, LATE_NOTICE) == []
    assert_each_step_once(app, lot, LadderStep.ESCALATION)
    assert [str(finding) for finding in verify_database(app).findings] == []


def on_the_wire(app: App, key: str, at: datetime) -> str:
    """The email ``key`` taken by a dispatcher run that has not recorded it yet (sending); the
    others it took recorded sent. Returns the run's owner."""
    owner = new_owner()
    claimed = claim_due(app, at, 1000, Claim(owner))
    [mine] = [c for c in claimed if c.key == key]
    others = [c for c in claimed if c.id != mine.id]
    record_outcomes(
        app, owner, [Outcome(c.id, OutboxState.SENT, c.attempts + 1, sent_at=at) for c in others]
    )
    assert row(app, key).state == OutboxState.SENDING
    return owner


def test_a_reminder_on_the_wire_is_left_as_it_is_and_written_again_once_back_waiting(
    app: App,
) -> None:
    """August, September and October called together. The reminder naming all three is being
    sent when August is declared: it may have left, it is left as it is. Its send fails for
    now, it waits again; October declared then: it is written again for September only, and
    says August was declared already."""
    lot, day, old_key = waiting(app, "reminder_1", start=AUG)
    old = row(app, old_key)
    assert old.next_attempt_at is not None
    owner = on_the_wire(app, old_key, old.next_attempt_at)

    declare(app, lot, AUG, paris(day, 9, 1))

    assert row(app, old_key).state == OutboxState.SENDING
    assert [m.key for m in ladder_emails(app) if m.key.endswith(":reminder_1")] == [old_key]

    retry = paris(day, 11)
    unrecorded = record_outcomes(
        app,
        owner,
        [
            Outcome(
                old.id,
                OutboxState.PENDING,
                1,
                next_attempt_at=retry,
                last_error="Échec passager : 421 service temporairement indisponible",
            )
        ],
    )
    assert unrecorded == [] and row(app, old_key).state == OutboxState.PENDING
    declare(app, lot, OCT, paris(day, 10))

    assert row(app, old_key).last_error == (
        f"Remplacé{NBSP}: octobre 2026 a été déclaré le {remembered_date(day)}, août 2026 "
        f"l'était déjà{NBSP}; le même courriel, écrit à nouveau pour septembre 2026 seulement, "
        "part à sa place."
    )
    new_key = old_key.replace("2026-08..2026-10", "2026-09")
    new = row(app, new_key)
    assert (new.state, new.next_attempt_at) == (OutboxState.PENDING, retry)
    assert "la déclaration des heures d'insertion de septembre 2026 de" in squash(new.body_text)
    for part in (new.subject, new.body_text, new.body_html):
        assert "octobre" not in part.lower() and "août" not in part.lower()
    run_pass(app, retry)
    assert sent_keys(app).count(new_key) == 1 and old_key not in sent_keys(app)


def test_a_reminder_being_sent_when_october_is_declared_is_left_as_it_is(app: App) -> None:
    lot, day, old_key = waiting(app, "reminder_1")
    old = row(app, old_key)
    assert old.next_attempt_at is not None
    owner = on_the_wire(app, old_key, old.next_attempt_at)

    declare(app, lot, OCT, paris(day, 9, 1))

    # It may have left already: neither withdrawn nor written again.
    still = row(app, old_key)
    assert (still.state, still.last_error) == (OutboxState.SENDING, None)
    assert [m.key for m in ladder_emails(app) if m.key.endswith(":reminder_1")] == [old_key]
    sent = Outcome(old.id, OutboxState.SENT, 1, sent_at=old.next_attempt_at)
    assert record_outcomes(app, owner, [sent]) == []
    simulate(app, day, day)
    assert [m.key for m in ladder_emails(app) if m.key.endswith(":reminder_1")] == [old_key]


def test_a_reminder_that_cannot_be_written_again_leaves_as_written_and_is_logged(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    """The company has nobody to write to any more: the reminder cannot be written again. It
    stays as it was (the declaration is recorded all the same), and the log says why."""
    lot, day, old_key = waiting(app, "reminder_1")
    with app.transaction() as session:
        session.execute(
            update(AwardParty)
            .where(AwardParty.clause_id == lot.clause_id)
            .values(correspondent_id=None)
        )
        session.execute(delete(Correspondent).where(Correspondent.company_id.in_(lot.company_ids)))
    caplog.set_level(logging.ERROR, logger="workflow.services.reminder_emails")

    declare(app, lot, OCT, paris(day, 8))

    kept = row(app, old_key)
    assert (kept.state, kept.last_error) == (OutboxState.PENDING, None)
    assert [m.key for m in ladder_emails(app) if m.key.endswith(":reminder_1")] == [old_key]
    failed = [r for r in caplog.records if getattr(r, "action", "") == "ladder.rewrite_failed"]
    assert [(getattr(r, "key", None), getattr(r, "error", None)) for r in failed] == [
        (old_key, "no correspondent to write to")
    ]


def test_october_cancelled_after_is_reminded_again_the_reminder_it_never_got(
    app: App, clock: Clock
) -> None:
    """The reminder written again for September never reached October: October's declaration
    cancelled the same day, its first reminder goes again (under October's key), and the
    ladder's invariants hold; September's is not sent twice."""
    lot, day, old_key = waiting(app, "reminder_1")
    declare(app, lot, OCT, paris(day, 8))
    simulate(app, day, day)
    clock.set(paris(day, 16))
    cancelled = cancel_declaration(
        app,
        clause=lot.clause_id,
        company=lot.company_ids[0],
        month=OCT,
        reason="Déclaration envoyée sur le mauvais lot",
        actor="Camille Martin",
    )
    assert cancelled.ladder is not None
    assert (cancelled.ladder.sent, cancelled.ladder.step) == (("call",), "reminder_1")

    simulate(app, day + timedelta(days=1), day + timedelta(days=14))
    september = old_key.replace("2026-09..2026-10", "2026-09")
    october = old_key.replace("2026-09..2026-10", "2026-10")
    assert sent_keys(app).count(september) == 1 and sent_keys(app).count(october) == 1
    assert old_key not in sent_keys(app)
    with app.transaction() as session:
        assert_ladder_invariants(session, app.settings, exact=True)
