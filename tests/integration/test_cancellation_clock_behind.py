"""The facilitator is told the truth about the cancellation's email when the command's clock is
behind the clause's latest history row (two instances whose clocks differ): the email's key
holds the history's instant (``history_instant``), and the command looks it up by that one."""

from __future__ import annotations

from datetime import UTC, timedelta

from sqlalchemy import select

from tests.conftest import Clock
from tests.integration.test_clause_corrections import (
    MARCH,
    REASON,
    add_participants,
    clean,
    declare,
    make,
    utc,
)
from workflow.adapters.orm import ClauseHistory, Correspondent, OutboxMessage
from workflow.app.clause_corrections import cancel_declaration, informed_sentence
from workflow.bootstrap import App


def test_a_cancellation_typed_on_a_clock_behind_the_history_names_the_address_written_to(
    app: App, clock: Clock
) -> None:
    lot = make(app)
    add_participants(app, "P-1")
    declare(app, lot, MARCH, utc(2026, 4, 3, 10), {"P-1": "35"})
    with app.transaction() as session:
        latest = max(
            session.scalars(
                select(ClauseHistory.at).where(ClauseHistory.clause_id == lot.clause_id)
            )
        )
        address = session.scalars(
            select(Correspondent.email).where(Correspondent.company_id == lot.company_ids[0])
        ).one()
    # Another instance, three minutes behind, cancels the month.
    clock.set(latest.replace(tzinfo=UTC) - timedelta(minutes=3))

    cancelled = cancel_declaration(
        app, clause=lot.clause_id, company="Bâtiments Test", month=MARCH, reason=REASON
    )

    with app.transaction() as session:
        [queued] = session.scalars(
            select(OutboxMessage.recipients).where(OutboxMessage.kind == "declaration_cancelled")
        ).all()
    assert address in queued
    assert cancelled.informed == (address,)
    assert informed_sentence(cancelled).startswith(
        f"L'entreprise en est informée par courriel ({address})"
    )
    clean(app)
