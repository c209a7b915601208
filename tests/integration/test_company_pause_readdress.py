"""A company's notice of its lot suspended follows its correspondent's corrected address.

A code review found that these notices (``notice:<lot>:<kind>:company-<id>@<instant>``, the
buyer notices' key form) were taken for the buyer's: ``mail retry`` of a refused one compared it
with the buyer's contacts (a buyer contact bearing the correspondent's name got the company's
email), correcting the correspondent's address left a waiting one on the old address, and a
company merge left their keys naming the absorbed company. Through a real SMTP server on the
loopback, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import Clock, make_settings
from tests.integration._ladders import Lot, make_lot
from tests.integration.smtp_server import ScriptedHandler, running_server
from tests.integration.test_ladder_scenarios import paris
from tests.text import squash
from workflow.adapters.orm import BuyerContact, Company, Correspondent, OutboxMessage
from workflow.bootstrap import App, bootstrap
from workflow.domain.stages import ClauseEvent
from workflow.entrypoints.cli import cli as cli_group
from workflow.entrypoints.cli.common import CliState
from workflow.services.audit import verify
from workflow.services.clauses import advance_clause
from workflow.services.dispatch import dispatch_due

pytestmark = pytest.mark.scenario

SUSPENDED = "company_lot_suspended"
REFUSED = "550 5.1.1 boîte inconnue"
NEW_ADDRESS = "correspondant@titulaire-sud.fr"


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


def cli(app: App, *args: str) -> Result:
    state = CliState()
    state.factory = lambda: app
    return CliRunner().invoke(cli_group, list(args), obj=state, catch_exceptions=False)


def to_addresses(handler: ScriptedHandler) -> list[str]:
    return sorted(a.addr_spec for r in handler.received for a in r.message["To"].addresses)


def suspended_lot(app: App, clock: Clock, handler: ScriptedHandler, *, refuse: bool) -> Lot:
    """A lot started on 2 March 2026 whose earlier emails have left, suspended on 10 March;
    the holder's correspondent's server refuses its address when ``refuse``. A buyer contact
    bears the correspondent's name (the same person's namesake at the buyer)."""
    clock.set(paris(date(2026, 3, 2), 8))
    lot = make_lot(app, companies=("Titulaire Sud",), at=clock())
    dispatch_due(app, clock())
    with app.transaction() as session:
        person = correspondent(session, lot)
        contact = session.scalars(
            select(BuyerContact).where(BuyerContact.buyer_id == lot.buyer_id)
        ).one()
        contact.name = person.name
        refused = person.email
    handler.reset()
    if refuse:
        handler.rcpt_replies[refused] = REFUSED
    clock.set(paris(date(2026, 3, 10), 15))
    with app.transaction() as session:
        advance_clause(
            session,
            lot.clause_id,
            ClauseEvent.SUSPEND,
            actor="test",
            reason="Fouilles archéologiques",
            now=clock(),
            publish=app.publish,
        )
    return lot


def correspondent(session: Session, lot: Lot) -> Correspondent:
    company = session.get_one(Company, lot.company_ids[0])
    return company.correspondents[0]


def notice(app: App) -> OutboxMessage:
    with app.transaction() as session:
        found = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == SUSPENDED)).one()
        session.expunge(found)
        return found


def buyer_address(app: App, lot: Lot) -> str:
    with app.transaction() as session:
        return session.scalars(
            select(BuyerContact.email).where(BuyerContact.buyer_id == lot.buyer_id)
        ).one()


def old_address(app: App, lot: Lot) -> tuple[int, str, str]:
    """The correspondent's number, name and address."""
    with app.transaction() as session:
        person = correspondent(session, lot)
        return person.id, person.name, person.email


def test_a_waiting_suspension_notice_goes_to_the_correspondent_s_corrected_address(
    smtp: tuple[App, ScriptedHandler], clock: Clock
) -> None:
    app, handler = smtp
    lot = suspended_lot(app, clock, handler, refuse=False)
    number, name, old = old_address(app, lot)
    waiting = notice(app)
    assert (waiting.state, waiting.recipients) == ("pending", f"{name} <{old}>")

    done = cli(app, "company", "correspondent-edit", str(number), "--email", NEW_ADDRESS,
               "--actor", "Camille Martin")  # fmt: skip

    assert done.exit_code == 0, done.output
    assert notice(app).recipients == f"{name} <{NEW_ADDRESS}>"
    assert dispatch_due(app, clock()).sent == 2  # with the buyer's own notice
    assert to_addresses(handler) == sorted([NEW_ADDRESS, buyer_address(app, lot)])
    assert notice(app).state == "sent"


def test_a_refused_suspension_notice_is_readdressed_by_the_correction(
    smtp: tuple[App, ScriptedHandler], clock: Clock
) -> None:
    app, handler = smtp
    lot = suspended_lot(app, clock, handler, refuse=True)
    number, name, _ = old_address(app, lot)
    dispatch_due(app, clock())
    assert notice(app).state == "failed"
    handler.reset()

    done = cli(app, "company", "correspondent-edit", str(number), "--email", NEW_ADDRESS,
               "--actor", "Camille Martin")  # fmt: skip
    retried = cli(app, "mail", "retry", str(notice(app).id))

    assert done.exit_code == 0 and retried.exit_code == 0, done.output + retried.output
    assert notice(app).recipients == f"{name} <{NEW_ADDRESS}>"
    assert dispatch_due(app, clock()).sent == 1
    assert to_addresses(handler) == [NEW_ADDRESS]


def test_mail_retry_sends_a_refused_notice_to_the_correspondent_never_to_a_buyer_namesake(
    smtp: tuple[App, ScriptedHandler], clock: Clock
) -> None:
    app, handler = smtp
    lot = suspended_lot(app, clock, handler, refuse=True)
    _, name, old = old_address(app, lot)
    dispatch_due(app, clock())
    refused = notice(app)
    assert refused.state == "failed"
    handler.reset()
    # The address corrected outside ``correspondent-edit`` (as an import would): the retry
    # alone must find the new one.
    with app.transaction() as session:
        correspondent(session, lot).email = NEW_ADDRESS

    retried = cli(app, "mail", "retry", str(refused.id))

    assert retried.exit_code == 0, retried.output
    assert squash(retried.stdout).endswith(
        f"n° {refused.id} : adressé aux adresses à jour ({old} → {NEW_ADDRESS})."
    )
    assert notice(app).recipients == f"{name} <{NEW_ADDRESS}>"
    assert dispatch_due(app, clock()).sent == 1
    assert to_addresses(handler) == [NEW_ADDRESS]


def test_a_merge_renames_the_notice_s_key_and_the_audit_accepts_it(
    smtp: tuple[App, ScriptedHandler], clock: Clock
) -> None:
    app, handler = smtp
    lot = suspended_lot(app, clock, handler, refuse=False)
    source = lot.company_ids[0]
    with app.transaction() as session:
        kept = Company(
            name="Titulaire Sud SAS",
            created_at=clock(),
            correspondents=[Correspondent(name="Léa Garcia", email="lea.garcia@example.org")],
        )
        session.add(kept)
        session.flush()
        target = kept.id
    before = notice(app).key
    assert f":company-{source}@" in before

    merged = cli(app, "company", "merge", str(source), "--into", str(target),
                 "--actor", "Camille Martin", "--reason", "doublon")  # fmt: skip

    assert merged.exit_code == 0, merged.output
    after = notice(app)
    assert after.key == before.replace(f":company-{source}@", f":company-{target}@")
    report = verify(app)
    assert report.findings == ()
    # The moved correspondent keeps the notice: correcting its address readdresses it.
    number, name, _ = old_address_of(app, target)
    done = cli(app, "company", "correspondent-edit", str(number), "--email", NEW_ADDRESS,
               "--actor", "Camille Martin")  # fmt: skip
    assert done.exit_code == 0, done.output
    assert notice(app).recipients == f"{name} <{NEW_ADDRESS}>"


def old_address_of(app: App, company_id: int) -> tuple[int, str, str]:
    with app.transaction() as session:
        found = session.scalars(
            select(Correspondent)
            .where(Correspondent.company_id == company_id, Correspondent.name != "Léa Garcia")
            .order_by(Correspondent.id)
        ).one()
        return found.id, found.name, found.email
