"""The buyer alerted that a month is missing is told when it arrives afterwards.

Found by a user trial: the alert before formal notice asks the buyer how to proceed, and the
buyer may go on to a formal notice; nothing told the buyer that the company had declared the
month since. A notice (``notice_late_declaration_received``) is queued in the transaction that
records the month, only when the alert left, once, and withdrawn when the declaration is
cancelled before it leaves.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, time

import pytest
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import declare, make_lot
from tests.integration.test_ladder_scenarios import paris
from tests.text import squash
from workflow.adapters.orm import OutboxMessage
from workflow.adapters.templates import french_date
from workflow.app.clause_corrections import cancel_declaration
from workflow.bootstrap import App, bootstrap, default_handlers
from workflow.domain.calendar import add_working_days, at_local, local_date
from workflow.domain.events import DeclarationCancelled, DeclarationRecorded
from workflow.services import late_declaration_notices
from workflow.services.audit.outbox import check_outbox
from workflow.services.declarations import record_declaration
from workflow.services.ticks import simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

SEP = date(2026, 9, 1)
KIND = "notice_late_declaration_received"


@pytest.fixture
def wired(settings: Settings, clock: Clock) -> Iterator[App]:
    """The service as it runs: its default handlers tell the buyer and withdraw on a
    cancellation."""
    handlers = default_handlers()
    assert late_declaration_notices.tell_buyer in handlers[DeclarationRecorded]
    assert late_declaration_notices.withdraw_cancelled in handlers[DeclarationCancelled]
    application = bootstrap(settings, clock=clock)
    yield application
    application.close()


def _rows(app: App, kind: str) -> list[OutboxMessage]:
    with app.transaction() as session:
        return list(
            session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
            )
        )


def _alerted(app: App) -> OutboxMessage:
    """September called, reminded and its alert sent to the buyer."""
    simulate(app, SEP, date(2026, 11, 6))
    [alert] = _rows(app, "declaration_escalation")
    assert alert.state == "sent"
    return alert


def test_the_buyer_is_told_when_the_month_alerted_arrives(wired: App, clock: Clock) -> None:
    app = wired
    zone = app.settings.zone
    lot = make_lot(
        app,
        start=SEP,
        end=date(2027, 6, 30),
        companies=("Bâtiments Gascons SARL",),
        at=paris(SEP, 10),
    )
    alert = _alerted(app)
    alerted_on = local_date(alert.sent_at or alert.created_at, zone)
    declared_on = add_working_days(alerted_on, 2)
    declare(app, lot, SEP, at_local(declared_on, time(11), zone))

    [notice] = _rows(app, KIND)
    assert notice.state == "pending"
    assert notice.key.startswith(f"late_declared:{lot.clause_id}:{lot.company_ids[0]}:2026-09:")
    assert "acheteur" in notice.recipients and "camille.martin@example.org" in notice.recipients
    assert notice.subject.startswith(
        "Déclaration reçue après mon alerte : septembre 2026, Bâtiments Gascons SARL"
    )
    text = squash(notice.body_text)
    assert (
        f"Bâtiments Gascons SARL, titulaire, m'a transmis le {french_date(declared_on)} sa "
        "déclaration des heures d'insertion de septembre 2026 pour le lot"
    ) in text
    assert (
        f"que je vous avais signalée manquante le {french_date(alerted_on)} : zéro heure (personne "
        "n'a travaillé sur le lot ce mois-là)."
    ) in text
    assert "une mise en demeure de transmettre cette déclaration n'aurait plus d'objet" in text

    # The same month recorded again (a correction) after the notice left: not told twice.
    simulate(app, declared_on, add_working_days(declared_on, 1))
    assert _rows(app, KIND)[0].state == "sent"
    declare_again_at = at_local(add_working_days(declared_on, 1), time(15), zone)
    with app.transaction() as session:
        record_declaration(
            session,
            clause_id=lot.clause_id,
            company_id=lot.company_ids[0],
            month=SEP,
            lines=[],
            actor="test",
            now=declare_again_at,
            source="test",
            publish=app.publish,
            replace=True,
        )
    assert len(_rows(app, KIND)) == 1
    with app.transaction() as session:
        _, findings = check_outbox(session)
    assert [f for f in findings if "late_declared" in f.subject] == []


def test_no_notice_when_the_alert_never_left(wired: App, clock: Clock) -> None:
    app = wired
    zone = app.settings.zone
    lot = make_lot(app, start=SEP, end=date(2027, 6, 30), at=paris(SEP, 10))
    simulate(app, SEP, date(2026, 11, 6), dispatch=False)
    [alert] = _rows(app, "declaration_escalation")
    assert alert.state == "pending"
    declare(app, lot, SEP, at_local(date(2026, 11, 6), time(11), zone))
    assert _rows(app, "declaration_escalation")[0].state == "cancelled"  # withdrawn, never left
    assert _rows(app, KIND) == []


def test_the_notice_is_withdrawn_when_the_declaration_is_cancelled_before_it_leaves(
    wired: App, clock: Clock
) -> None:
    app = wired
    zone = app.settings.zone
    lot = make_lot(app, start=SEP, end=date(2027, 6, 30), at=paris(SEP, 10))
    alert = _alerted(app)
    declared_on = add_working_days(local_date(alert.created_at, zone), 1)
    declare(app, lot, SEP, at_local(declared_on, time(11), zone))
    clock.set(at_local(declared_on, time(12), zone))
    cancel_declaration(
        app,
        clause=lot.clause_id,
        company=lot.company_ids[0],
        month=SEP,
        reason="Déclaration envoyée sur le mauvais lot",
        actor="Camille Martin",
    )
    [notice] = _rows(app, KIND)
    assert notice.state == "cancelled"
    assert notice.last_error is not None
    assert notice.last_error.startswith("Retiré : la déclaration a été annulée le ")
    # Declared again: the buyer, never told, is told now, under a key of its own.
    declare(app, lot, SEP, at_local(declared_on, time(15), zone))
    withdrawn, again = _rows(app, KIND)
    assert again.state == "pending" and again.key != withdrawn.key


def test_a_correction_before_the_notice_leaves_writes_it_again(wired: App, clock: Clock) -> None:
    app = wired
    zone = app.settings.zone
    lot = make_lot(app, start=SEP, end=date(2027, 6, 30), at=paris(SEP, 10))
    alert = _alerted(app)
    declared_on = add_working_days(local_date(alert.created_at, zone), 1)
    declare(app, lot, SEP, at_local(declared_on, time(11), zone))
    with app.transaction() as session:
        record_declaration(
            session,
            clause_id=lot.clause_id,
            company_id=lot.company_ids[0],
            month=SEP,
            lines=[],
            actor="test",
            now=at_local(declared_on, time(12), zone),
            source="test",
            publish=app.publish,
            replace=True,
        )
    first, second = _rows(app, KIND)
    assert first.state == "cancelled" and first.last_error is not None
    assert first.last_error.startswith("Remplacé : la déclaration a été corrigée le ")
    assert second.state == "pending"
    assert "Elle a été corrigée depuis : ces chiffres sont ceux de la correction." in squash(
        second.body_text
    )
