"""Two recordings of one month at the same instant (two instances whose clocks differ share the
history's instant, ``history_instant``): the first one's receipt, withdrawn before it left
(« Remplacé : la déclaration a été corrigée … »), told nobody anything, and ``clauses audit
verify`` does not hold it against the second recording. The receipt that left is checked."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from tests.integration.test_clause_corrections import (
    MARCH,
    add_participants,
    clean,
    declare,
    make,
    utc,
)
from workflow.adapters.orm import OutboxMessage, Participant
from workflow.bootstrap import App
from workflow.domain.vocabulary import ContractType, DeliveryMode
from workflow.services.audit import verify
from workflow.services.declarations import LineInput, record_declaration
from workflow.services.dispatch import dispatch_due


def test_a_receipt_withdrawn_at_the_instant_of_its_replacement_is_not_checked(app: App) -> None:
    lot = make(app)
    add_participants(app, "P-1")
    instant = utc(2026, 4, 3, 10)
    declare(app, lot, MARCH, instant, {"P-1": "0"})
    with app.transaction() as session:
        [participant] = session.scalars(select(Participant)).all()
        record_declaration(
            session,
            clause_id=lot.clause_id,
            company_id=lot.company_ids[0],
            month=MARCH,
            lines=[
                LineInput(
                    participant.id, Decimal(200), DeliveryMode.DIRECT_HIRING, ContractType.CDD
                )
            ],
            actor="Correspondant",
            now=instant,
            source="test",
            publish=app.publish,
            replace=True,
        )
    dispatch_due(app, utc(2026, 4, 3, 11))
    with app.transaction() as session:
        receipts = session.execute(
            select(OutboxMessage.state, OutboxMessage.body_text)
            .where(OutboxMessage.kind == "declaration_receipt")
            .order_by(OutboxMessage.id)
        ).all()
    assert [state for state, _ in receipts] == ["cancelled", "sent"]
    assert "Total du mois : 200 h" in receipts[1][1].replace("\u00a0", " "), receipts[1][1]

    clean(app)
    assert verify(app).receipts == 1  # the receipt that left was read
