"""A suspension withdraws the lot's ladder emails that could not be delivered, not only those
waiting; « Renvoyer » refuses an email the service withdrew.

The defect: March's call refused by the server (« refusé ») stayed as it was when the lot was
suspended; « Renvoyer » during the suspension sent the company a call with its old due date,
next to the suspension's email saying that its dates move. Now the suspension withdraws it
(« Retiré : lot suspendu le … »), says so (``courriels_retires``), and calls March again after
the resumption, under the key of the call's second sending; a retry of the withdrawn email is
refused, saying why.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import Lot, declare, ladder_emails, make_lot
from tests.integration.test_ladder_scenarios import paris
from workflow.adapters.mail import PermanentFailure
from workflow.adapters.mail.memory import MemoryTransport
from workflow.adapters.orm import OutboxMessage
from workflow.app import mail
from workflow.bootstrap import App, bootstrap
from workflow.domain.calendar import LadderStep, local_date
from workflow.entrypoints.cli import cli as cli_group
from workflow.entrypoints.cli.common import CliState
from workflow.errors import InputRefused
from workflow.services.dispatch import dispatch_due
from workflow.services.ladder_keys import key_months
from workflow.services.ticks import run_pass
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

MARCH = date(2026, 3, 1)
NBSP = "\u00a0"


@pytest.fixture
def transport() -> MemoryTransport:
    return MemoryTransport()


@pytest.fixture
def mail_app(settings: Settings, clock: Clock, transport: MemoryTransport) -> Iterator[App]:
    application = bootstrap(settings, clock=clock, transport=transport)
    yield application
    application.close()


def march_calls(app: App, lot: Lot) -> list[OutboxMessage]:
    found = []
    for message in ladder_emails(app):
        parsed = key_months(message.key)
        if (
            parsed
            and (parsed.clause_id, parsed.step) == (lot.clause_id, LadderStep.CALL)
            and MARCH in parsed.months
        ):
            found.append(message)
    return found


def advance(settings: Settings, clock: Clock, lot: Lot, event: str, *more: str) -> str:
    state = CliState()
    state.factory = lambda: bootstrap(settings, clock=clock)
    result = CliRunner().invoke(
        cli_group,
        ["clause", "advance", str(lot.clause_id), event, *more],
        obj=state,
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_a_refused_call_is_withdrawn_at_the_suspension_and_called_again_after_it(
    mail_app: App, settings: Settings, clock: Clock, transport: MemoryTransport
) -> None:
    app = mail_app
    lot = make_lot(
        app, start=date(2026, 3, 2), end=date(2026, 12, 31), at=paris(date(2026, 3, 2), 8)
    )
    # Wednesday 1 April 09:00: March's call refused by the server for good.
    run_pass(app, paris(date(2026, 4, 1), 9), dispatch=False)
    refusing = MemoryTransport(script=lambda m: PermanentFailure("550 5.1.1 boîte inconnue"))
    dispatch_due(app, paris(date(2026, 4, 1), 9, 1), transport=refusing)
    (call,) = march_calls(app, lot)
    assert call.state == "failed"

    clock.set(paris(date(2026, 4, 1), 10))
    said = json.loads(
        advance(settings, clock, lot, "suspendre", "--reason", "Fouilles archéologiques", "--json")
    )
    assert said["courriels_retires"] == [
        f"Bâtiments Test{NBSP}: 1 courriel non parti retiré (appel à déclaration, "
        f"refusé){NBSP}; il sera envoyé de nouveau après la reprise, avec les dates qu'elle "
        "donne, si le mois est encore à déclarer."
    ]
    (call,) = march_calls(app, lot)
    assert call.state == "cancelled"
    assert call.last_error == (
        f"Retiré{NBSP}: lot suspendu le 1er avril 2026 avant le départ de ce courriel{NBSP}; "
        "il sera envoyé de nouveau après la reprise, avec les dates qu'elle donne, si le mois "
        "est encore à déclarer."
    )

    # « Renvoyer » during the suspension: refused, saying why; nothing leaves.
    clock.set(paris(date(2026, 4, 2), 10))
    with pytest.raises(InputRefused) as refused:
        mail.retry_message(app, call.id)
    assert str(refused.value) == (
        f"Courriel n° {call.id} : il ne peut pas être renvoyé, le service l'a retiré avant son "
        f"départ (« Retiré{NBSP}: lot suspendu le 1er avril 2026 avant le départ de ce "
        f"courriel{NBSP}; il sera envoyé de nouveau après la reprise, avec les dates qu'elle "
        "donne, si le mois est encore à déclarer »). Si son étape est de nouveau due, le "
        "service l'enverra lui-même, dans un nouveau courriel."
    )
    with app.transaction() as session:
        assert session.get_one(OutboxMessage, call.id).state == "cancelled"
    dispatch_due(app, paris(date(2026, 4, 2), 10, 1))
    assert not [m for m in transport.parsed() if "déclarer" in str(m["Subject"]).lower()]

    # Resumed on Monday 20 April at 10:00: March is called the next morning, once.
    clock.set(paris(date(2026, 4, 20), 10))
    advance(settings, clock, lot, "reprendre")
    for moment in (paris(date(2026, 4, 21), 9), paris(date(2026, 4, 21), 9, 1)):
        run_pass(app, moment, dispatch=False)
    calls = march_calls(app, lot)
    assert [(m.key.rsplit(":", 1)[1], m.state) for m in calls] == [
        ("call", "cancelled"),
        ("call~2", "pending"),
    ]
    assert local_date(calls[1].created_at, app.settings.zone) == date(2026, 4, 21)


def test_a_retry_of_an_email_withdrawn_for_a_declared_month_is_refused(
    mail_app: App, clock: Clock
) -> None:
    """Whatever withdrew it: a month declared while its call was refused."""
    app = mail_app
    lot = make_lot(
        app, start=date(2026, 3, 2), end=date(2026, 12, 31), at=paris(date(2026, 3, 2), 8)
    )
    run_pass(app, paris(date(2026, 4, 1), 9), dispatch=False)
    refusing = MemoryTransport(script=lambda m: PermanentFailure("550 5.1.1 boîte inconnue"))
    dispatch_due(app, paris(date(2026, 4, 1), 9, 1), transport=refusing)
    declare(app, lot, MARCH, paris(date(2026, 4, 1), 10))
    (call,) = march_calls(app, lot)
    assert call.state == "cancelled"
    clock.set(paris(date(2026, 4, 1), 11))
    with pytest.raises(InputRefused, match="le service l'a retiré avant son départ"):
        mail.retry_message(app, call.id)
    with app.transaction() as session:
        assert session.scalars(
            select(OutboxMessage.state).where(OutboxMessage.id == call.id)
        ).one() == ("cancelled")
