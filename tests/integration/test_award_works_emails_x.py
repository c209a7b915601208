"""What a company already told of its award reads when the award is corrected during the works
(SQLite and PostgreSQL): the months already called keep the due date their call gave; the email
promises no first month, no catch-up call and no date computed from the start; a suspended lot's
companies are told the calls resume after the resumption, with no date. A company's receipt names
no month to come before the one it joined. A final report rewritten at the closure names missing
only the months still undeclared at the closure.

Review of 487cffe: a planned end corrected in execution told every company « Le premier mois à
déclarer est septembre 2026 : l'appel … vous parviendra au début du mois suivant »; in suspension,
that every elapsed month would be asked in one call the next working day."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.integration._ladders import Lot, ladder_pass
from tests.integration.test_award_during_works_g import (
    END,
    NOVEMBER,
    OCTOBER,
    SEPTEMBER,
    newcomer,
    parties_of,
    started_lot,
    subcontractor,
)
from tests.integration.test_clause_corrections import all_left
from tests.integration.test_planned_end import paris
from tests.text import squash
from workflow.adapters.orm import Declaration, DeclarationLadder, OutboxMessage
from workflow.adapters.templates import french_date
from workflow.bootstrap import App
from workflow.domain.calendar import is_working_day
from workflow.domain.stages import ClauseEvent
from workflow.services.clauses import PartyInput, advance_clause, apply_award
from workflow.services.declarations import record_declaration

pytestmark = pytest.mark.scenario

LATER_END = date(2027, 3, 31)
DATE = re.compile(r"\b\d{1,2}(?:er)? [a-zéû]+ 20\d\d\b")


def passes(app: App, first: date, last: date) -> None:
    """A ladder pass every working day at the call time, 09:00 in Paris, its emails leaving."""
    day = first
    while day <= last:
        if is_working_day(day):
            ladder_pass(app, paris(day, 9))
            all_left(app)
        day += timedelta(days=1)


def correct_end(app: App, lot: Lot, parties: list[PartyInput], at: datetime) -> None:
    with app.transaction() as session:
        apply_award(
            session,
            lot.clause_id,
            parties=parties,
            start_date=SEPTEMBER,
            planned_end_date=LATER_END,
            actor="Camille",
            now=at,
            publish=app.publish,
            zone=app.settings.zone,
        )


def corrected_bodies(app: App) -> list[str]:
    with app.transaction() as session:
        return [
            squash(body)
            for body in session.scalars(
                select(OutboxMessage.body_text)
                .where(OutboxMessage.kind == "company_award_corrected")
                .order_by(OutboxMessage.id)
            )
        ]


def called_dates(app: App, lot: Lot) -> dict[date, date]:
    with app.transaction() as session:
        return {
            month: due_on
            for month, due_on in session.execute(
                select(DeclarationLadder.month, DeclarationLadder.due_on).where(
                    DeclarationLadder.clause_id == lot.clause_id,
                    DeclarationLadder.company_id == lot.company_ids[0],
                    DeclarationLadder.called_at.is_not(None),
                )
            )
        }


def suspend(app: App, lot: Lot, at: datetime) -> None:
    with app.transaction() as session:
        advance_clause(
            session,
            lot.clause_id,
            ClauseEvent.SUSPEND,
            actor="Camille",
            reason="intempéries",
            now=at,
            publish=app.publish,
        )


def test_a_planned_end_corrected_in_execution_keeps_the_calls_dates_and_promises_no_schedule(
    app: App,
) -> None:
    lot = started_lot(app)
    all_left(app)  # the welcome left: the calls follow it
    passes(app, date(2026, 10, 1), date(2026, 12, 4))
    all_left(app)
    called = called_dates(app, lot)
    assert sorted(called) == [SEPTEMBER, OCTOBER, NOVEMBER]

    correct_end(app, lot, parties_of(app, lot), paris(date(2026, 12, 8), 10))

    [body] = corrected_bodies(app)
    assert "Le premier mois à déclarer" not in body
    assert "déjà terminé" not in body
    assert (
        "Les travaux sont en cours : chaque mois vous est demandé par un appel à déclarer au "
        "début du mois suivant, qui donne sa date limite. Les mois déjà appelés dont j'attends "
        "encore la déclaration gardent la date limite que leur appel vous a donnée :"
    ) in body
    for due_on in called.values():
        assert f"à envoyer au plus tard le {french_date(due_on)}" in body
    # Every date its declarations' part names is a call's due date (the links' expiry apart).
    part = body.partition("VOS DÉCLARATIONS")[2].partition("DÉCLARER EN LIGNE")[0]
    assert set(DATE.findall(part)) == {french_date(d) for d in called.values()}


def test_a_planned_end_corrected_in_suspension_says_the_calls_resume_with_no_date(
    app: App,
) -> None:
    lot = started_lot(app)
    all_left(app)  # the welcome left: the calls follow it
    passes(app, date(2026, 10, 1), date(2026, 10, 2))
    suspend(app, lot, paris(date(2026, 10, 12), 10))
    all_left(app)

    correct_end(app, lot, parties_of(app, lot), paris(date(2026, 12, 8), 10))

    [body] = corrected_bodies(app)
    assert (
        "L'exécution du lot est suspendue : aucun appel à déclarer ni rappel ne part pendant "
        "la suspension. Les appels reprendront après la reprise des travaux."
    ) in body
    assert "déjà terminé" not in body
    assert "vous les demandera" not in body
    assert "à envoyer au plus tard" not in body


def test_a_company_joining_a_suspended_lot_is_promised_no_date(app: App) -> None:
    lot = started_lot(app)
    all_left(app)  # the welcome left: the calls follow it
    passes(app, date(2026, 10, 1), date(2026, 10, 2))
    suspend(app, lot, paris(date(2026, 10, 12), 10))
    sub = newcomer(app)

    with app.transaction() as session:
        apply_award(
            session,
            lot.clause_id,
            parties=[*parties_of(app, lot), subcontractor(sub)],
            start_date=SEPTEMBER,
            planned_end_date=END,
            actor="Camille",
            now=paris(date(2026, 10, 20), 10),
            publish=app.publish,
            zone=app.settings.zone,
        )
        body = squash(
            session.scalars(
                select(OutboxMessage.body_text).where(
                    OutboxMessage.kind == "company_welcome",
                    OutboxMessage.key.like(f"welcome:{lot.clause_id}:{sub}:%"),
                )
            ).one()
        )
    assert "Les appels reprendront après la reprise des travaux." in body
    assert "à envoyer au plus tard le" not in body
    assert "vous le demandera" not in body


def test_a_receipt_names_no_next_month_before_the_month_the_company_joined(app: App) -> None:
    """Joined on 20 October from January 2027 (``--from 01/2027``), a month recorded before it
    (by a version that let it in) and corrected: its receipt's next declaration is January 2027,
    not October 2026, never asked of it. (A new month before the first is refused:
    ``test_first_month_declarations``.)"""
    lot = started_lot(app)
    sub = newcomer(app)
    at = paris(date(2026, 10, 20), 10)
    with app.transaction() as session:
        apply_award(
            session,
            lot.clause_id,
            parties=[*parties_of(app, lot), subcontractor(sub)],
            start_date=SEPTEMBER,
            planned_end_date=END,
            actor="Camille",
            now=at,
            publish=app.publish,
            joining_from=date(2027, 1, 1),
            zone=app.settings.zone,
        )
    with app.transaction() as session:
        session.add(
            Declaration(
                clause_id=lot.clause_id,
                company_id=sub,
                month=SEPTEMBER,
                total_hours=Decimal(12),
                recorded_at=at,
                recorded_by="Inès Durand",
                source="test",
            )
        )
    with app.transaction() as session:
        record_declaration(
            session,
            clause_id=lot.clause_id,
            company_id=sub,
            month=SEPTEMBER,
            lines=[],
            actor="Inès Durand",
            now=at,
            source="test",
            publish=app.publish,
            replace=True,
        )
        body = squash(
            session.scalars(
                select(OutboxMessage.body_text).where(OutboxMessage.kind == "declaration_receipt")
            ).one()
        )
    assert "Prochaine déclaration : janvier 2027" in body
    assert "octobre 2026, à déclarer" not in body
