"""A receipt says what was recorded: one that would no longer be true does not leave.

Invariant over each scenario: every receipt still to leave (waiting, refused, given up) gives the
total of the declaration as it stands; a correction leaves one receipt to go, with the new
figures; a cancellation leaves none; a receipt already gone stays as it went."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import Lot
from tests.integration.test_clause_corrections import MARCH, REASON, add_participants, make, utc
from tests.text import squash, visible
from workflow.adapters.orm import Declaration, OutboxMessage, Participant
from workflow.app.clause_corrections import cancel_declaration
from workflow.bootstrap import App
from workflow.domain.vocabulary import ContractType, DeliveryMode
from workflow.services.declarations import LineInput, record_declaration
from workflow.services.outbox import OutboxState

NOT_LEFT = (OutboxState.PENDING, OutboxState.FAILED, OutboxState.DEAD)


def receipts(app: App) -> list[OutboxMessage]:
    with app.transaction() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.kind == "declaration_receipt")
            .order_by(OutboxMessage.id)
        ).all()
        session.expunge_all()
        return list(rows)


def declare(app: App, lot: Lot, month: date, at: datetime, hours: Mapping[str, str]) -> int:
    """A declaration, or its correction, through the real service (its receipt with it)."""
    with app.transaction() as session:
        ids = {p.reference: p.id for p in session.scalars(select(Participant))}
        return record_declaration(
            session,
            clause_id=lot.clause_id,
            company_id=lot.company_ids[0],
            month=month,
            lines=[
                LineInput(ids[ref], Decimal(h), DeliveryMode.DIRECT_HIRING, ContractType.CDD)
                for ref, h in hours.items()
            ],
            actor="Correspondant",
            now=at,
            source="test",
            publish=app.publish,
            replace=True,
        ).id


def total_said(receipt: OutboxMessage) -> str:
    """« Total du mois : 120 h » as the company reads it: « 120 »."""
    found = re.search(r"Total du mois\s*:\s*([0-9 \u00a0\u202f,]+?)\s*h", receipt.body_text)
    assert found is not None, receipt.body_text
    return found.group(1)


def assert_receipts_to_go_are_true(app: App) -> None:
    with app.transaction() as session:
        totals = {d.id: d.total_hours for d in session.scalars(select(Declaration))}
    for receipt in receipts(app):
        if receipt.state in NOT_LEFT:
            declaration = int(receipt.key.split(":")[1])
            assert declaration in totals, (receipt.key, "the declaration was cancelled")
            said = Decimal(re.sub(r"\s", "", total_said(receipt)).replace(",", "."))
            assert said == totals[declaration], receipt.key


def test_a_correction_leaves_one_receipt_to_go_with_the_new_figures(app: App) -> None:
    lot = make(app)
    add_participants(app, "P-1")
    declare(app, lot, MARCH, utc(2026, 4, 3, 8), {"P-1": "120"})
    declare(app, lot, MARCH, utc(2026, 4, 3, 9), {"P-1": "80"})

    first, second = receipts(app)
    assert first.state == OutboxState.CANCELLED and total_said(first) == "120"
    assert (first.last_error or "").startswith("Remplacé : la déclaration a été corrigée le ")
    assert second.state == OutboxState.PENDING and total_said(second) == "80"
    assert_receipts_to_go_are_true(app)


def test_a_correction_at_the_same_instant_still_replaces_the_first(app: App) -> None:
    lot = make(app)
    add_participants(app, "P-1")
    declare(app, lot, MARCH, utc(2026, 4, 3, 8), {"P-1": "120"})
    declare(app, lot, MARCH, utc(2026, 4, 3, 8), {"P-1": "80"})

    assert [(r.state, total_said(r)) for r in receipts(app)] == [
        (OutboxState.CANCELLED, "120"),
        (OutboxState.PENDING, "80"),
    ]
    assert_receipts_to_go_are_true(app)


def test_a_cancellation_withdraws_the_receipt_still_waiting(app: App, clock: Clock) -> None:
    lot = make(app)
    add_participants(app, "P-1")
    declare(app, lot, MARCH, utc(2026, 4, 3, 8), {"P-1": "120"})
    clock.set(utc(2026, 4, 6, 9))
    cancel_declaration(
        app, clause=lot.clause_id, company=lot.company_ids[0], month=MARCH, reason=REASON
    )

    [receipt] = receipts(app)
    assert receipt.state == OutboxState.CANCELLED
    assert (receipt.last_error or "").startswith(
        "Retiré : la déclaration a été annulée le 6 avril 2026 par "
    )
    assert (receipt.last_error or "").endswith(", cet accusé de réception n'était plus vrai.")
    assert_receipts_to_go_are_true(app)


def test_a_receipt_already_gone_stays_as_it_went(app: App, clock: Clock) -> None:
    lot = make(app)
    add_participants(app, "P-1")
    declare(app, lot, MARCH, utc(2026, 4, 3, 8), {"P-1": "120"})
    with app.transaction() as session:
        for row in session.scalars(select(OutboxMessage)):
            row.state, row.sent_at = OutboxState.SENT, utc(2026, 4, 3, 8)
    clock.set(utc(2026, 4, 6, 9))
    cancel_declaration(
        app, clause=lot.clause_id, company=lot.company_ids[0], month=MARCH, reason=REASON
    )
    declare(app, lot, MARCH, utc(2026, 4, 7, 8), {"P-1": "80"})

    assert [(r.state, total_said(r)) for r in receipts(app)] == [
        (OutboxState.SENT, "120"),
        (OutboxState.PENDING, "80"),
    ]
    assert_receipts_to_go_are_true(app)


def test_a_correction_s_receipt_says_which_receipt_it_replaces(app: App) -> None:
    """The company may already hold the first receipt (sent before the correction): the second
    says it replaces it, with the first one's date and total, so nobody adds the two."""
    lot = make(app)
    add_participants(app, "P-1")
    declare(app, lot, MARCH, utc(2026, 4, 3, 8), {"P-1": "120"})
    with app.transaction() as session:
        for row in session.scalars(select(OutboxMessage)):
            row.state, row.sent_at = OutboxState.SENT, utc(2026, 4, 3, 8)
    declare(app, lot, MARCH, utc(2026, 4, 7, 8), {"P-1": "80.5"})

    first, second = receipts(app)
    assert second.subject.startswith("Déclaration corrigée : mars 2026")
    assert first.subject.startswith("Déclaration reçue : mars 2026")
    said = squash(second.body_text)
    assert (
        "Elle remplace votre déclaration de ce mois reçue le 3 avril 2026 (120\u00a0h) : ce message "
        "annule le reçu précédent, seuls comptent les chiffres ci-dessous." in said
    )
    assert total_said(second) == "80,50"
    assert "Elle remplace" in squash(visible(second.body_html or ""))
    assert "Elle remplace" not in first.body_text
