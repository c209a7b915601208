"""The buyer is told a month arrived whenever the alert naming it may reach the buyer.

The notice that a month the buyer's alert said missing has arrived
(``notice_late_declaration_received``) was queued only when that alert was recorded sent. An
alert on the wire (sending), maybe delivered (uncertain), or still waiting because it also names
a month still missing (``reminder_emails.withdraw_answered`` withdraws only an alert whose months
have all arrived) may reach the buyer, naming a month received: no word followed, and the buyer
could put a compliant company on notice. The notice now follows such an alert, says it may
arrive after it, is dated not to overtake it, and is withdrawn if the alert is withdrawn before
it leaves.

On the real passes and dispatcher of a simulated clock, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

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


def test_a_waiting_alert_naming_a_month_still_missing_is_followed_by_the_notice(
    settings: Settings, clock: Clock
) -> None:
    app = bootstrap(settings, clock=clock)
    try:
        zone = app.settings.zone
        lot, alert = two_months_alerted(app)
        assert alert.next_attempt_at is not None
        declared_at = at_local(date(2026, 12, 7), time(8, 30), zone)
        assert declared_at < alert.next_attempt_at  # queued for 09:00, its slot
        declare(app, lot, SEP, declared_at)

        # October still missing: the alert stays, and leaves naming September too.
        [alert] = rows(app, ALERT)
        assert alert.state == OutboxState.PENDING
        [notice] = rows(app, KIND)
        text = squash(notice.body_text)
        assert ("sa déclaration des heures d'insertion de septembre 2026 pour le lot") in text, text
        assert "que mon alerte du 7 décembre 2026 vous signale manquante" in text, text
        assert UNSURE in text
        assert (
            "L'autre mois signalé dans mon alerte du 7 décembre 2026 (octobre 2026) reste "
            "attendu : je vous écrirai de même à son arrivée."
        ) in text, text
        # Not due before the alert: the dispatcher takes the alert first.
        assert notice.next_attempt_at == alert.next_attempt_at
        run_pass(app, alert.next_attempt_at)
        [alert] = rows(app, ALERT)
        [notice] = rows(app, KIND)
        assert (alert.state, notice.state) == (OutboxState.SENT, OutboxState.SENT)
        assert alert.sent_at is not None and notice.sent_at is not None
        assert notice.sent_at >= alert.sent_at
    finally:
        app.close()


def test_the_notice_of_a_waiting_alert_withdrawn_since_does_not_leave(
    settings: Settings, clock: Clock
) -> None:
    app = bootstrap(settings, clock=clock)
    try:
        zone = app.settings.zone
        lot, _ = two_months_alerted(app)
        declare(app, lot, SEP, at_local(date(2026, 12, 7), time(8, 10), zone))
        [notice] = rows(app, KIND)
        assert notice.state == OutboxState.PENDING
        # October arrives before the alert leaves: the alert is withdrawn, never reaching the
        # buyer; the notice of September, which presents it, goes with it.
        declare(app, lot, OCT, at_local(date(2026, 12, 7), time(8, 20), zone))
        assert [r.state for r in rows(app, ALERT)] == [OutboxState.CANCELLED]
        [notice] = rows(app, KIND)
        assert notice.state == OutboxState.CANCELLED
        assert notice.last_error == (
            "Retiré le 7 décembre 2026 : l'alerte qui signalait ce mois manquant a été retirée "
            "avant de partir ; cet avis n'avait plus lieu d'être."
        )
        run_pass(app, datetime(2026, 12, 7, 9, 1, tzinfo=zone))
        assert [r.state for r in rows(app, KIND)] == [OutboxState.CANCELLED]
    finally:
        app.close()
