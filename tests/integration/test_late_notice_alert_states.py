"""The buyer is told a month arrived whenever the alert naming it may reach the buyer.

The notice that a month the buyer's alert said missing has arrived
(``notice_late_declaration_received``) was queued only when that alert was recorded sent. An
alert on the wire (sending), or maybe delivered (uncertain), may reach the buyer, naming a month
received: no word followed, and the buyer could put a compliant company on notice. The notice
now follows such an alert, says it may arrive after it, is dated not to overtake it, and is
withdrawn if the alert is withdrawn before it leaves (put back to wait after a failed try, its
months then all arrived).

An alert still waiting that also names a month still missing is written again for the months
still missing (``reminder_emails.withdraw_answered``): the buyer never reads one naming the month
received, and no notice follows.

On the real passes and dispatcher of a simulated clock, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from sqlalchemy import select, update

from tests.conftest import Clock
from tests.integration._ladders import Lot, declare, make_lot
from tests.integration.test_ladder_scenarios import paris
from tests.text import squash, visible
from workflow.adapters.orm import OutboxMessage
from workflow.adapters.templates import french_date
from workflow.bootstrap import App, bootstrap
from workflow.domain.calendar import at_local, local_date
from workflow.emails.envelope import OutboxState
from workflow.services.declarations import record_declaration
from workflow.services.dispatch import Claim, Outcome, claim_due, new_owner, record_outcomes
from workflow.services.ticks import run_pass, simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

SEP, OCT = date(2026, 9, 1), date(2026, 10, 1)
KIND = "notice_late_declaration_received"
ALERT = "declaration_escalation"
NBSP = "\u00a0"
UNSURE = (
    "Cette alerte n'était pas encore partie, ou son envoi n'était pas confirmé, quand la "
    "déclaration m'est parvenue : si elle vous parvient après ce message, ne tenez pas compte "
    "de ce qu'elle dit de ce mois."
)


def rows(app: App, kind: str) -> list[OutboxMessage]:
    with app.transaction() as session:
        found = list(
            session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
            )
        )
        for row in found:
            session.expunge(row)
        return found


def on_the_wire(app: App) -> tuple[Lot, OutboxMessage, str]:
    """September called, reminded, its alert queued and taken by a dispatcher run that has not
    recorded it yet (sending); every other email recorded sent. Returns the lot, the alert and
    the run's owner."""
    lot = make_lot(app, start=SEP, end=date(2027, 6, 30), at=paris(SEP, 10))
    simulate(app, SEP, date(2026, 11, 6), dispatch=False)
    [alert] = rows(app, ALERT)
    assert alert.next_attempt_at is not None
    owner = new_owner()
    claimed = claim_due(app, alert.next_attempt_at + timedelta(minutes=1), 1000, Claim(owner))
    assert alert.id in {c.id for c in claimed}
    record_outcomes(
        app,
        owner,
        [
            Outcome(c.id, OutboxState.SENT, c.attempts + 1, sent_at=c.created_at)
            for c in claimed
            if c.id != alert.id
        ],
    )
    [alert] = rows(app, ALERT)
    assert alert.state == OutboxState.SENDING
    return lot, alert, owner


def test_an_alert_on_the_wire_is_followed_by_the_notice_never_overtaken(
    settings: Settings, clock: Clock
) -> None:
    app = bootstrap(settings, clock=clock)
    try:
        zone = app.settings.zone
        lot, alert, owner = on_the_wire(app)
        written_on = local_date(alert.created_at, zone)
        declared_at = at_local(written_on, time(11), zone)
        declare(app, lot, SEP, declared_at)

        [notice] = rows(app, KIND)
        text = squash(notice.body_text)
        assert (
            f"que mon alerte du {french_date(written_on)} vous signale manquante : zéro heure"
        ) in text, text
        assert UNSURE in text, text
        html = visible(notice.body_html)
        assert f"que mon alerte du {french_date(written_on)} vous signale manquante{NBSP}:" in html
        assert UNSURE.replace(" : ", f"{NBSP}: ") in html, html
        # Dated after the send in progress: the lease it has to end.
        lease = timedelta(seconds=app.settings.mail_lease)
        assert notice.next_attempt_at == declared_at + lease

        # A pass a minute later sends nothing of it: the alert has not left.
        run_pass(app, declared_at + timedelta(minutes=1))
        assert [r.state for r in rows(app, KIND)] == [OutboxState.PENDING]

        # The alert's send ends (recorded sent); the notice leaves after it.
        alert_sent_at = declared_at + timedelta(minutes=2)
        record_outcomes(app, owner, [Outcome(alert.id, OutboxState.SENT, 1, sent_at=alert_sent_at)])
        run_pass(app, declared_at + lease + timedelta(minutes=1))
        [alert] = rows(app, ALERT)
        [notice] = rows(app, KIND)
        assert (alert.state, notice.state) == (OutboxState.SENT, OutboxState.SENT)
        assert notice.sent_at is not None and notice.sent_at > alert_sent_at

        # The same month recorded again (a correction) after the notice left: not told twice.
        with app.transaction() as session:
            record_declaration(
                session,
                clause_id=lot.clause_id,
                company_id=lot.company_ids[0],
                month=SEP,
                lines=[],
                actor="test",
                now=declared_at + timedelta(hours=3),
                source="test",
                publish=app.publish,
                replace=True,
            )
        assert len(rows(app, KIND)) == 1
    finally:
        app.close()


def test_an_alert_maybe_delivered_is_followed_by_the_notice_at_once(
    settings: Settings, clock: Clock
) -> None:
    app = bootstrap(settings, clock=clock)
    try:
        zone = app.settings.zone
        lot, alert, _ = on_the_wire(app)
        # Its claim ended while it was on the wire: maybe delivered, never sent again silently.
        with app.transaction() as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == alert.id)
                .values(state=OutboxState.UNCERTAIN, lease_until=None)
            )
        written_on = local_date(alert.created_at, zone)
        declared_at = at_local(written_on, time(15), zone)
        declare(app, lot, SEP, declared_at)

        [notice] = rows(app, KIND)
        assert notice.next_attempt_at == declared_at
        text = squash(notice.body_text)
        assert f"que mon alerte du {french_date(written_on)} vous signale manquante" in text
        assert UNSURE in text, text
        run_pass(app, declared_at + timedelta(minutes=1))
        assert [r.state for r in rows(app, KIND)] == [OutboxState.SENT]
        assert [r.state for r in rows(app, ALERT)] == [OutboxState.UNCERTAIN]
    finally:
        app.close()


def two_months_alerted(app: App) -> tuple[Lot, OutboxMessage]:
    """A lot started late: September and October called together on 4 November, reminded
    together, and one alert naming both queued on 7 December, not sent yet."""
    lot = make_lot(app, start=SEP, end=date(2027, 6, 30), at=paris(date(2026, 11, 3), 10))
    simulate(app, date(2026, 11, 3), date(2026, 12, 7), dispatch=False)
    [alert] = rows(app, ALERT)
    assert alert.key.endswith(":2026-09..2026-10:escalation"), alert.key
    assert alert.state == OutboxState.PENDING
    return lot, alert


def test_a_waiting_alert_naming_a_month_declared_leaves_without_it_and_no_notice_follows(
    settings: Settings, clock: Clock
) -> None:
    """Before, the alert left as written, naming September too, and a notice followed it
    saying September had arrived. Now the alert is written again for October only: the buyer
    never reads September missing, so there is nothing to correct."""
    app = bootstrap(settings, clock=clock)
    try:
        zone = app.settings.zone
        lot, alert = two_months_alerted(app)
        assert alert.next_attempt_at is not None
        declared_at = at_local(date(2026, 12, 7), time(8, 30), zone)
        assert declared_at < alert.next_attempt_at  # queued for 09:00, its slot
        declare(app, lot, SEP, declared_at)

        # October still missing: the alert is written again for October only, the first one
        # withdrawn; the buyer gets no notice about September, never said missing.
        old, new = rows(app, ALERT)
        assert (old.id, old.state) == (alert.id, OutboxState.CANCELLED)
        assert old.last_error == (
            f"Remplacé{NBSP}: septembre 2026 a été déclaré le 7 décembre 2026{NBSP}; le même "
            "courriel, écrit à nouveau pour octobre 2026 seulement, part à sa place."
        )
        assert new.key == alert.key.replace("2026-09..2026-10", "2026-10")
        assert (new.state, new.next_attempt_at) == (OutboxState.PENDING, alert.next_attempt_at)
        assert squash(new.subject).startswith(
            "Alerte avant mise en demeure : déclaration d'octobre 2026 de"
        ), new.subject
        assert "septembre" not in new.body_text.lower()
        assert rows(app, KIND) == []
        run_pass(app, alert.next_attempt_at)
        assert [r.state for r in rows(app, ALERT)] == [OutboxState.CANCELLED, OutboxState.SENT]
        assert rows(app, KIND) == []
    finally:
        app.close()


def test_the_notice_of_an_alert_withdrawn_since_does_not_leave(
    settings: Settings, clock: Clock
) -> None:
    """The alert naming September and October is on the wire when September arrives: the
    notice follows it. Its send fails for now, it waits again; October arrives before it
    leaves: the alert is withdrawn, never reaching the buyer, and the notice with it."""
    app = bootstrap(settings, clock=clock)
    try:
        zone = app.settings.zone
        lot, alert = two_months_alerted(app)
        assert alert.next_attempt_at is not None
        owner = new_owner()
        claimed = claim_due(app, alert.next_attempt_at, 1000, Claim(owner))
        assert alert.id in {c.id for c in claimed}
        record_outcomes(
            app,
            owner,
            [
                Outcome(c.id, OutboxState.SENT, c.attempts + 1, sent_at=c.created_at)
                for c in claimed
                if c.id != alert.id
            ],
        )
        declare(app, lot, SEP, at_local(date(2026, 12, 7), time(9, 1), zone))
        # On the wire: it may have left as written, naming September; the notice follows.
        assert [r.state for r in rows(app, ALERT)] == [OutboxState.SENDING]
        [notice] = rows(app, KIND)
        assert notice.state == OutboxState.PENDING
        retry = at_local(date(2026, 12, 7), time(10), zone)
        failed = Outcome(
            alert.id,
            OutboxState.PENDING,
            1,
            next_attempt_at=retry,
            last_error="Échec passager : 421 service temporairement indisponible",
        )
        assert record_outcomes(app, owner, [failed]) == []
        # October arrives before the alert leaves: the alert is withdrawn, never reaching the
        # buyer; the notice of September, which presents it, goes with it.
        declare(app, lot, OCT, at_local(date(2026, 12, 7), time(9, 20), zone))
        assert [r.state for r in rows(app, ALERT)] == [OutboxState.CANCELLED]
        [notice] = rows(app, KIND)
        assert notice.state == OutboxState.CANCELLED
        assert notice.last_error == (
            "Retiré le 7 décembre 2026 : l'alerte qui signalait ce mois manquant a été retirée "
            "avant de partir ; cet avis n'avait plus lieu d'être."
        )
        run_pass(app, retry + timedelta(minutes=1))
        assert [r.state for r in rows(app, KIND)] == [OutboxState.CANCELLED]
        assert [r.state for r in rows(app, ALERT)] == [OutboxState.CANCELLED]
    finally:
        app.close()
