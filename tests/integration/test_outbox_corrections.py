"""Correcting the outbox (issue 9, item 5): cancelling a message that has not left, and putting a
refused one back in the queue addressed to its recipient's corrected address.

Through a real SMTP server on the loopback (aiosmtpd), on SQLite and PostgreSQL. A cancelled
message never leaves, says who cancelled it, when and why, and is counted neither as waiting nor as
failed (digest, ``mail list``); a sent one cannot be cancelled. A retried message goes to the address
its recipient has now: the correspondent whose address was corrected, the correspondent now named on
the lot, the buyer's contact whose address changed (the others keep theirs).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select, update

from tests.conftest import Clock, make_settings
from tests.integration.smtp_server import ScriptedHandler, running_server
from tests.integration.test_dispatch import queue, row
from tests.integration.test_notices import Territory, Walk, at, make_territory
from tests.text import squash
from workflow.adapters.orm import AwardParty, BuyerContact, Correspondent, OutboxMessage
from workflow.bootstrap import App, bootstrap
from workflow.domain.stages import ClauseEvent
from workflow.entrypoints.cli import cli as cli_group
from workflow.entrypoints.cli.common import CliState
from workflow.errors import InputRefused, NotFound
from workflow.services import outbox, outbox_corrections
from workflow.services.audit import verify
from workflow.services.digest import compile_digest
from workflow.services.dispatch import dispatch_due
from workflow.services.outbox import OUTAGE_ERROR_PREFIX
from workflow.services.outbox_corrections import cancel_email, retry_email

# Monday 2 March 2026, 10:00 in Paris.
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
REFUSED = "550 5.1.1 boîte inconnue"


@pytest.fixture
def smtp(tmp_path: Path, database_url: str, clock: Clock) -> Iterator[tuple[App, ScriptedHandler]]:
    handler = ScriptedHandler()
    with running_server(handler) as server:
        settings = make_settings(
            tmp_path,
            database_url,
            mail_transport="smtp",
            smtp_host=server.hostname,
            smtp_port=server.port,
        )
        app = bootstrap(settings, clock=clock)
        try:
            yield app, handler
        finally:
            app.close()


def cancel(
    app: App, key: str, reason: str = "envoyé par erreur"
) -> outbox_corrections.CancelledEmail:
    with app.transaction() as session:
        return cancel_email(
            session,
            row(app, key).id,
            actor="Camille Martin",
            reason=reason,
            now=NOW,
            zone=app.settings.zone,
        )


def refused_cancel(app: App, key: str, reason: str = "envoyé par erreur") -> str:
    before = row(app, key)
    with pytest.raises(InputRefused) as refused:
        cancel(app, key, reason)
    after = row(app, key)
    assert (after.state, after.last_error, after.next_attempt_at) == (
        before.state,
        before.last_error,
        before.next_attempt_at,
    )
    return refused.value.message


def to_addresses(handler: ScriptedHandler) -> list[str]:
    return sorted(a.addr_spec for r in handler.received for a in r.message["To"].addresses)


# --- cancelling ------------------------------------------------------------------------------------


def test_a_cancelled_email_never_leaves_and_says_who_cancelled_it_when_and_why(
    smtp: tuple[App, ScriptedHandler],
) -> None:
    app, handler = smtp
    queue(app, "kept", now=NOW)
    queue(app, "taken back", now=NOW)

    done = cancel(app, "taken back", "adresse d'un ancien salarié")

    note = "Annulé par Camille Martin le 2 mars 2026 à 10\u00a0h : adresse d'un ancien salarié"
    assert (done.state, done.note) == ("pending", note)
    cancelled = row(app, "taken back")
    assert (cancelled.state, cancelled.last_error, cancelled.next_attempt_at) == (
        "cancelled",
        note,
        None,
    )
    report = dispatch_due(app, NOW)
    assert (report.claimed, report.sent) == (1, 1)
    assert len(handler.received) == 1
    assert row(app, "taken back").state == "cancelled"
    # Even « mail send » taking every waiting message at once leaves it alone.
    assert dispatch_due(app, NOW, outage_now=True).claimed == 0
    with app.transaction() as session:
        counts = outbox.count_by_state(session)
    assert (counts["cancelled"], counts["pending"], counts["sent"]) == (1, 0, 1)
    assert outbox.STATE_LABELS["cancelled"] == "annulé"
    assert outbox.parse_state("annulé") == "cancelled"


def test_a_sent_a_sending_or_an_already_cancelled_email_is_not_cancelled(
    smtp: tuple[App, ScriptedHandler],
) -> None:
    app, _ = smtp
    for key in ("sent", "sending", "twice"):
        queue(app, key, now=NOW)
    with app.transaction() as session:
        session.execute(
            update(OutboxMessage).where(OutboxMessage.key != "sent").values(next_attempt_at=None)
        )
    assert dispatch_due(app, NOW).sent == 1
    sent_id = row(app, "sent").id

    assert refused_cancel(app, "sent") == (
        f"Courriel n° {sent_id} : rien n'a été annulé, il est déjà envoyé le 2 mars 2026 à "
        "10\u00a0h ; un courriel parti ne se reprend pas."
    )

    with app.transaction() as session:
        session.execute(
            update(OutboxMessage).where(OutboxMessage.key == "sending").values(state="sending")
        )
    assert "il est en cours d'envoi ; attendez la fin du passage" in refused_cancel(app, "sending")

    cancel(app, "twice")
    assert refused_cancel(app, "twice").endswith(
        "il l'est déjà (Annulé par Camille Martin le 2 mars 2026 à 10\u00a0h : envoyé par erreur)."
    )

    assert refused_cancel(app, "sending", reason="  ").endswith(
        "une raison est nécessaire pour l'annuler."
    )
    with pytest.raises(NotFound) as missing, app.transaction() as session:
        cancel_email(session, 9999, actor="Camille Martin", reason="doublon", now=NOW)
    assert missing.value.message == "Courriel n° 9999 introuvable dans la file d'envoi."


def test_cancelled_emails_are_neither_failed_nor_waiting_in_the_digest(app: App) -> None:
    for key in ("refused", "uncertain", "waiting 1", "waiting 2"):
        queue(app, key, now=NOW)
    with app.transaction() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.key == "refused")
            .values(state="failed", last_error=f"Refus définitif : {REFUSED}")
        )
        session.execute(
            update(OutboxMessage).where(OutboxMessage.key == "uncertain").values(state="uncertain")
        )
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.key.startswith("waiting"))
            .values(last_error=f"{OUTAGE_ERROR_PREFIX}serveur SMTP injoignable")
        )

    def email_lines() -> list[str]:
        with app.transaction() as session:
            digest = compile_digest(session, NOW, app.settings)
        return [item.title for item in digest.items if item.category == "email"]

    before = email_lines()
    assert "Envoi des courriels impossible : 2 courriels en attente" in before
    assert any(title.startswith("Courriel refusé définitivement") for title in before)
    assert any(title.startswith("Courriel incertain") for title in before)

    for key in ("refused", "uncertain", "waiting 1"):
        cancel(app, key)

    assert email_lines() == ["Envoi des courriels impossible : 1 courriel en attente"]
    with app.transaction() as session:
        assert outbox.undelivered(session) == []
        waiting = outbox.outage_waiting(session)
        counts = outbox.count_by_state(session)
    assert waiting is not None and waiting.count == 1
    assert (counts["cancelled"], counts["failed"], counts["uncertain"], counts["pending"]) == (
        3,
        0,
        0,
        1,
    )


def test_a_cancelled_notice_keeps_the_audit_clean(app: App, clock: Clock) -> None:
    clock.set(at(date(2025, 10, 6)))
    walk = Walk(app, clock, make_territory(app, clock))
    walk.create()
    with app.transaction() as session:
        notice = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "notice_identified")
        ).one()
        cancel_email(
            session, notice.id, actor="Camille Martin", reason="déjà dit au téléphone", now=NOW
        )

    report = verify(app)

    assert report.messages == 1  # the cancelled notice is read, and found to have a cause
    assert report.findings == ()


# --- retrying to the corrected address ----------------------------------------------------------


def awarded(app: App, clock: Clock) -> tuple[Walk, Territory]:
    """A lot awarded on 9 February 2026: welcomes to both companies, the award notice to the
    buyer's two contacts."""
    clock.set(at(date(2025, 10, 6)))
    territory = make_territory(app, clock)
    walk = Walk(app, clock, territory)
    walk.create()
    walk.advance(ClauseEvent.DRAFT, date(2025, 11, 3))
    walk.advance(ClauseEvent.AWARD, date(2025, 12, 15))
    walk.award(date(2026, 2, 9))
    return walk, territory


def message_to(app: App, kind: str, address: str) -> OutboxMessage:
    with app.transaction() as session:
        found = [
            m
            for m in session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind))
            if address in m.recipients
        ]
        assert len(found) == 1, found
        session.expunge(found[0])
        return found[0]


def test_a_refused_welcome_goes_again_to_the_correspondent_s_corrected_address(
    smtp: tuple[App, ScriptedHandler], clock: Clock
) -> None:
    app, handler = smtp
    _, territory = awarded(app, clock)
    handler.rcpt_replies["paul.lambert@example.org"] = REFUSED
    dispatch_due(app, clock())
    welcome = message_to(app, "company_welcome", "paul.lambert@example.org")
    assert welcome.state == "failed"

    # The facilitator corrects the typo in the correspondent's address.
    with app.transaction() as session:
        session.get_one(
            Correspondent, territory.holder_correspondent_id
        ).email = "paul.lambert@batiments-sud-ouest.fr"
        retried = retry_email(session, welcome.id, now=clock(), settings=app.settings)

    assert retried.state == "failed"
    assert retried.recipients == "Paul Lambert <paul.lambert@batiments-sud-ouest.fr>"
    assert retried.readdressed() == (
        "paul.lambert@example.org → paul.lambert@batiments-sud-ouest.fr"
    )
    handler.reset()
    assert dispatch_due(app, clock()).sent == 1
    assert to_addresses(handler) == ["paul.lambert@batiments-sud-ouest.fr"]
    assert handler.received[0].recipients == ["paul.lambert@batiments-sud-ouest.fr"]
    after = message_to(app, "company_welcome", "batiments-sud-ouest.fr")
    assert (after.id, after.state, after.refused_recipients) == (welcome.id, "sent", None)


def test_a_refused_welcome_goes_to_the_correspondent_now_named_on_the_lot(
    smtp: tuple[App, ScriptedHandler], clock: Clock
) -> None:
    app, handler = smtp
    _, territory = awarded(app, clock)
    handler.rcpt_replies["ines@example.org"] = REFUSED
    dispatch_due(app, clock())
    welcome = message_to(app, "company_welcome", "ines@example.org")
    assert welcome.state == "failed"

    # Inès has left the company: Julie Roux is now its correspondent on the lot.
    with app.transaction() as session:
        julie = Correspondent(
            company_id=territory.partner_id, name="Julie Roux", email="julie.roux@example.org"
        )
        session.add(julie)
        session.flush()
        session.execute(
            update(AwardParty)
            .where(AwardParty.company_id == territory.partner_id)
            .values(correspondent_id=julie.id)
        )
        retried = retry_email(session, welcome.id, now=clock(), settings=app.settings)

    assert retried.recipients == "Julie Roux <julie.roux@example.org>"
    handler.reset()
    assert dispatch_due(app, clock()).sent == 1
    assert to_addresses(handler) == ["julie.roux@example.org"]


def test_retrying_every_failed_email_readdresses_only_the_contacts_whose_address_changed(
    smtp: tuple[App, ScriptedHandler], clock: Clock
) -> None:
    app, handler = smtp
    awarded(app, clock)
    # The buyer's server refused both contacts for a while.
    handler.rcpt_replies["claire.dupont@example.org"] = REFUSED
    handler.rcpt_replies["marc.petit@example.org"] = REFUSED
    dispatch_due(app, clock())
    notice = message_to(app, "notice_awarded", "claire.dupont@example.org")
    assert notice.state == "failed"
    handler.reset()

    with app.transaction() as session:
        claire = session.scalars(
            select(BuyerContact).where(BuyerContact.name == "Claire Dupont")
        ).one()
        claire.email = "c.dupont@departement-exemple.fr"
        retried = outbox_corrections.retry_failed_emails(
            session, now=clock(), settings=app.settings
        )

    # The buyer's two notices so far (identified, awarded: the drafted one gave way to the
    # award's before it left), each re-addressed alike.
    assert notice.id in [r.id for r in retried]
    assert [r.readdressed() for r in retried] == [
        "claire.dupont@example.org, marc.petit@example.org → "
        "c.dupont@departement-exemple.fr, marc.petit@example.org"
    ] * 2
    assert {r.recipients for r in retried} == {
        "Claire Dupont <c.dupont@departement-exemple.fr>\nMarc Petit <marc.petit@example.org>"
    }
    assert dispatch_due(app, clock()).sent == 2
    assert to_addresses(handler) == sorted(
        ["c.dupont@departement-exemple.fr", "marc.petit@example.org"] * 2
    )


def test_a_retry_with_no_address_changed_keeps_the_recipients(
    smtp: tuple[App, ScriptedHandler], clock: Clock
) -> None:
    app, handler = smtp
    awarded(app, clock)
    handler.rcpt_replies["paul.lambert@example.org"] = REFUSED
    dispatch_due(app, clock())
    welcome = message_to(app, "company_welcome", "paul.lambert@example.org")

    with app.transaction() as session:
        retried = retry_email(session, welcome.id, now=clock(), settings=app.settings)

    assert retried.readdressed_from is None and retried.readdressed() is None
    assert retried.recipients == welcome.recipients
    assert row(app, welcome.key).state == "pending"


# --- the same, from the command line ----------------------------------------------------------------


def cli(app: App, *args: str) -> Result:
    state = CliState()
    state.factory = lambda: app
    return CliRunner().invoke(cli_group, list(args), obj=state, catch_exceptions=False)


def test_mail_cancel_takes_back_a_waiting_email_and_says_so_in_french(
    smtp: tuple[App, ScriptedHandler], clock: Clock
) -> None:
    app, handler = smtp
    clock.set(NOW)
    queue(app, "taken back", now=NOW)
    number = row(app, "taken back").id

    done = cli(app, "mail", "cancel", str(number), "--reason", "entreprise relancée par téléphone",
               "--actor", "Camille Martin")  # fmt: skip
    again = cli(app, "mail", "cancel", str(number), "--reason", "encore")
    listed = cli(app, "mail", "list", "--state", "annulé", "--json")

    assert done.exit_code == 0, done.output
    said = squash(done.stdout)
    assert f"Courriel n° {number} annulé (il était «\u00a0en attente\u00a0»)" in said
    assert "Il ne partira pas." in said
    assert (
        "Annulé par Camille Martin le 2 mars 2026 à 10\u00a0h : entreprise relancée par téléphone"
    ) in said
    assert again.exit_code == 1
    assert f"Courriel n° {number} : rien n'a été annulé, il l'est déjà" in squash(again.stderr)
    assert [m["id"] for m in json.loads(listed.stdout)["courriels"]] == [number]
    assert dispatch_due(app, clock()).claimed == 0 and handler.received == []


def test_mail_cancel_refuses_a_sent_email_and_asks_for_a_reason(
    smtp: tuple[App, ScriptedHandler], clock: Clock
) -> None:
    app, _ = smtp
    clock.set(NOW)
    queue(app, "gone", now=NOW)
    assert dispatch_due(app, clock()).sent == 1
    number = row(app, "gone").id

    sent = cli(app, "mail", "cancel", str(number), "--reason", "trop tard")
    no_reason = cli(app, "mail", "cancel", str(number))
    missing = cli(app, "mail", "cancel", "999", "--reason", "inconnu")

    assert sent.exit_code == 1
    assert (
        "il est déjà envoyé le 2 mars 2026 à 10\u00a0h ; un courriel parti ne se reprend pas"
        in (squash(sent.stderr))
    )
    assert no_reason.exit_code == 2 and "--reason" in no_reason.stderr
    assert missing.exit_code == 1
    assert "Courriel n° 999 introuvable" in missing.stderr
    assert row(app, "gone").state == "sent"


def test_mail_retry_says_which_addresses_it_corrected(
    smtp: tuple[App, ScriptedHandler], clock: Clock
) -> None:
    app, handler = smtp
    awarded(app, clock)
    handler.rcpt_replies["claire.dupont@example.org"] = REFUSED
    handler.rcpt_replies["marc.petit@example.org"] = REFUSED
    dispatch_due(app, clock())
    notice = message_to(app, "notice_awarded", "claire.dupont@example.org")
    with app.transaction() as session:
        claire = session.scalars(
            select(BuyerContact).where(BuyerContact.name == "Claire Dupont")
        ).one()
        claire.email = "c.dupont@departement-exemple.fr"
    handler.reset()

    one = cli(app, "mail", "retry", str(notice.id))
    rest = cli(app, "mail", "retry", "--all-failed", "--json")

    assert one.exit_code == 0, one.output
    assert squash(one.stdout).endswith(
        f"n° {notice.id} : adressé aux adresses à jour (claire.dupont@example.org, "
        "marc.petit@example.org → c.dupont@departement-exemple.fr, marc.petit@example.org)."
    )
    others = json.loads(rest.stdout)
    # The identified notice (the drafted one gave way to the award's before it left).
    assert len(others["remis_en_file"]) == 1 and notice.id not in others["remis_en_file"]
    assert set(others["readresses"]) == {str(i) for i in others["remis_en_file"]}
    assert dispatch_due(app, clock()).sent == 2
    assert "claire.dupont@example.org" not in to_addresses(handler)
