"""An award corrected during the works (SQLite and PostgreSQL): a subcontractor joining a lot in
execution is added, declares from the month it joins (never asked for the months before), is
called for that month only and its hours are accepted; a company that declared is not removed,
the start does not move after a month declared.

User trial: `clauses clause award` on a lot « mise en œuvre » was refused (« l'attribution
s'enregistre à l'étape « attribution » »), so the subcontractor's hours were refused at import
(« n'est pas attributaire »).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import Lot, declare, ladder_pass, make_lot
from tests.integration.test_planned_end import paris
from workflow.adapters.orm import (
    AwardParty,
    ClauseHistory,
    Company,
    Correspondent,
    Declaration,
    DeclarationLadder,
    OutboxMessage,
    Participant,
)
from workflow.bootstrap import App
from workflow.domain.calendar import is_working_day
from workflow.domain.stages import ClauseEvent
from workflow.domain.vocabulary import ContractType, DeliveryMode, PartyRole
from workflow.errors import InputRefused
from workflow.services.clauses import (
    AWARD_CORRECTED,
    AwardOutcome,
    AwardResult,
    PartyInput,
    advance_clause,
    apply_award,
)
from workflow.services.declarations import LineInput, record_declaration

pytestmark = pytest.mark.scenario

SEPTEMBER, OCTOBER, NOVEMBER = date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)
END = date(2027, 1, 31)


def started_lot(app: App, *companies: str) -> Lot:
    return make_lot(
        app,
        start=SEPTEMBER,
        end=END,
        companies=companies or ("Bâtiments Test",),
        at=paris(date(2026, 8, 31), 10),
    )


def passes(app: App, first: date, last: date) -> None:
    """A ladder pass every working day at 10:00 in Paris."""
    day = first
    while day <= last:
        if is_working_day(day):
            ladder_pass(app, paris(day, 10))
        day += timedelta(days=1)


def newcomer(app: App, name: str = "Échafaudages Sud") -> int:
    with app.transaction() as session:
        company = Company(
            name=name,
            created_at=paris(date(2026, 8, 1), 10),
            correspondents=[Correspondent(name="Inès Durand", email="ines@echafaudages.example")],
        )
        session.add(company)
        session.flush()
        return company.id


def parties_of(app: App, lot: Lot) -> list[PartyInput]:
    with app.transaction() as session:
        rows = session.scalars(
            select(AwardParty).where(AwardParty.clause_id == lot.clause_id).order_by(AwardParty.id)
        ).all()
        return [
            PartyInput(p.company_id, PartyRole(p.role), p.correspondent_id, p.hours_share)
            for p in rows
        ]


def correct(
    app: App,
    lot: Lot,
    parties: list[PartyInput],
    at: datetime,
    *,
    start: date = SEPTEMBER,
    joining_from: date | None = None,
) -> AwardOutcome:
    with app.transaction() as session:
        return apply_award(
            session,
            lot.clause_id,
            parties=parties,
            start_date=start,
            planned_end_date=END,
            actor="Camille",
            now=at,
            publish=app.publish,
            joining_from=joining_from,
            zone=app.settings.zone,
        )


def subcontractor(company_id: int, hours: int | None = 300) -> PartyInput:
    return PartyInput(company_id, PartyRole.SUBCONTRACTOR, hours_share=hours)


def ladder_months(app: App, lot: Lot, company_id: int) -> list[date]:
    with app.transaction() as session:
        return list(
            session.scalars(
                select(DeclarationLadder.month)
                .where(
                    DeclarationLadder.clause_id == lot.clause_id,
                    DeclarationLadder.company_id == company_id,
                )
                .order_by(DeclarationLadder.month)
            )
        )


def first_month(app: App, lot: Lot, company_id: int) -> date | None:
    with app.transaction() as session:
        return session.scalar(
            select(AwardParty.first_month).where(
                AwardParty.clause_id == lot.clause_id, AwardParty.company_id == company_id
            )
        )


def test_a_subcontractor_joining_in_november_is_welcomed_called_for_november_only_and_declares(
    app: App, clock: Clock
) -> None:
    lot = started_lot(app)
    holder = lot.company_ids[0]
    passes(app, date(2026, 10, 1), date(2026, 11, 2))
    declare(app, lot, SEPTEMBER, paris(date(2026, 10, 5), 11))
    declare(app, lot, OCTOBER, paris(date(2026, 11, 3), 11))
    sub = newcomer(app)
    at = paris(date(2026, 11, 16), 10)
    clock.set(at)

    outcome = correct(app, lot, [*parties_of(app, lot), subcontractor(sub)], at)

    assert outcome.result is AwardResult.CORRECTED
    assert outcome.added_company_ids == (sub,)
    assert first_month(app, lot, sub) == NOVEMBER  # the month of the correction
    assert first_month(app, lot, holder) is None  # from the lot's start, as before
    with app.transaction() as session:
        history = session.scalars(
            select(ClauseHistory.reason).where(
                ClauseHistory.clause_id == lot.clause_id, ClauseHistory.event == AWARD_CORRECTED
            )
        ).all()
        welcomes = session.scalars(
            select(OutboxMessage.key).where(
                OutboxMessage.kind == "company_welcome",
                OutboxMessage.key.like(f"welcome:{lot.clause_id}:{sub}:%"),
            )
        ).all()
    assert history == [
        "attribution corrigée : Échafaudages Sud : non attributaire → sous-traitant, "
        "300\u00a0h d'insertion, déclare à partir de novembre 2026"
    ]
    assert len(welcomes) == 1

    passes(app, date(2026, 11, 17), date(2026, 12, 3))

    # Called for November only: never for September nor October, before it joined.
    assert ladder_months(app, lot, sub) == [NOVEMBER]
    assert ladder_months(app, lot, holder) == [SEPTEMBER, OCTOBER, NOVEMBER]
    with app.transaction() as session:
        participant = Participant(
            reference="P-0042", criterion="long_term_jobseeker", created_at=at
        )
        session.add(participant)
        session.flush()
        record_declaration(
            session,
            clause_id=lot.clause_id,
            company_id=sub,
            month=NOVEMBER,
            lines=[
                LineInput(
                    participant.id, Decimal("70"), DeliveryMode.DIRECT_HIRING, ContractType.CDD
                )
            ],
            actor="Inès Durand",
            now=paris(date(2026, 12, 4), 10),
            source="test",
            publish=app.publish,
        )
        declared = session.scalars(
            select(Declaration.total_hours).where(Declaration.company_id == sub)
        ).all()
    assert declared == [Decimal("70")]


def test_the_first_month_can_be_given_and_is_kept_within_the_lot(app: App) -> None:
    lot = started_lot(app)
    passes(app, date(2026, 10, 1), date(2026, 10, 2))
    at = paris(date(2026, 10, 20), 10)
    sub, other = newcomer(app), newcomer(app, "Peintures Ouest")
    kept = parties_of(app, lot)

    with pytest.raises(InputRefused) as early:
        correct(app, lot, [*kept, subcontractor(sub)], at, joining_from=date(2026, 8, 1))
    assert early.value.message == (
        "Premier mois des entreprises ajoutées : août 2026 est avant le démarrage du lot "
        "(septembre 2026)."
    )
    with pytest.raises(InputRefused, match="aucune entreprise n'est ajoutée"):
        correct(app, lot, kept, at, joining_from=NOVEMBER)

    correct(app, lot, [*kept, subcontractor(sub)], at, joining_from=date(2026, 12, 1))
    assert first_month(app, lot, sub) == date(2026, 12, 1)
    correct(
        app,
        lot,
        [*kept, subcontractor(sub), subcontractor(other)],
        paris(date(2026, 10, 21), 10),
        joining_from=SEPTEMBER,
    )
    assert first_month(app, lot, other) == SEPTEMBER  # a month already past: caught up
    assert first_month(app, lot, sub) == date(2026, 12, 1)  # kept as it was given

    passes(app, date(2026, 10, 22), date(2026, 11, 3))
    assert ladder_months(app, lot, other) == [SEPTEMBER, OCTOBER]
    assert ladder_months(app, lot, sub) == []


def test_a_company_that_declared_stays_and_the_start_does_not_pass_a_month_declared(
    app: App,
) -> None:
    lot = started_lot(app, "Bâtiments Test", "Charpentes Nord")
    partner = lot.company_ids[1]
    passes(app, date(2026, 10, 1), date(2026, 10, 2))
    declare(app, lot, SEPTEMBER, paris(date(2026, 10, 5), 11), company=1)
    at = paris(date(2026, 10, 20), 10)
    holder_only = [p for p in parties_of(app, lot) if p.company_id != partner]

    with pytest.raises(InputRefused) as removed:
        correct(app, lot, holder_only, at)
    assert removed.value.message.startswith(
        "Charpentes Nord a déjà déclaré septembre 2026 sur ce lot : elle reste dans l'attribution"
    )
    # What to do when it left the site: record its last month (``company_departures``).
    assert (
        f"clauses clause company-left {lot.clause_id} --company {partner} --last-month MM/AAAA"
        in removed.value.message
    )
    with pytest.raises(InputRefused) as moved:
        correct(app, lot, parties_of(app, lot), at, start=date(2026, 10, 1))
    assert moved.value.message == (
        "Démarrage : le 01/10/2026 est après septembre 2026, mois déjà déclaré par "
        "Charpentes Nord ; le démarrage ne peut pas suivre un mois déjà demandé. Si personne "
        "n'a travaillé sur le lot avant le 01/10/2026, enregistrez ces mois à zéro heure pour "
        "chaque entreprise qui ne les a pas déclarés (clauses declaration zero --clause "
        f"{lot.clause_id} --company N° --month MM/AAAA) : leurs relances s'arrêtent ; le temps "
        "écoulé reste compté depuis le démarrage enregistré, en septembre 2026."
    )
    assert first_month(app, lot, partner) is None


def test_a_company_joining_a_suspended_lot_is_called_after_the_resumption(app: App) -> None:
    lot = started_lot(app)
    passes(app, date(2026, 10, 1), date(2026, 10, 2))
    with app.transaction() as session:
        advance_clause(
            session,
            lot.clause_id,
            ClauseEvent.SUSPEND,
            actor="Camille",
            reason="intempéries",
            now=paris(date(2026, 10, 12), 10),
            publish=app.publish,
        )
    sub = newcomer(app)

    correct(app, lot, [*parties_of(app, lot), subcontractor(sub)], paris(date(2026, 10, 20), 10))

    assert first_month(app, lot, sub) == OCTOBER
    passes(app, date(2026, 10, 21), date(2026, 11, 3))
    assert ladder_months(app, lot, sub) == []  # suspended: nobody called
    with app.transaction() as session:
        advance_clause(
            session,
            lot.clause_id,
            ClauseEvent.RESUME,
            actor="Camille",
            reason=None,
            now=paris(date(2026, 11, 4), 10),
            publish=app.publish,
        )
    passes(app, date(2026, 11, 5), date(2026, 11, 6))
    assert ladder_months(app, lot, sub) == [OCTOBER]


def test_a_start_moved_later_before_any_call_calls_from_the_new_first_month(app: App) -> None:
    """Started on 1 September, nobody called yet: the start corrected to 1 October, September is
    asked of nobody (the companies wait for October's call, armed again)."""
    lot = started_lot(app)
    holder = lot.company_ids[0]

    correct(app, lot, parties_of(app, lot), paris(date(2026, 9, 21), 10), start=OCTOBER)

    passes(app, date(2026, 9, 22), date(2026, 11, 3))
    assert ladder_months(app, lot, holder) == [OCTOBER]
    with pytest.raises(InputRefused) as earlier:
        correct(app, lot, parties_of(app, lot), paris(date(2026, 11, 4), 10), start=SEPTEMBER)
    assert earlier.value.message == (
        "Démarrage : le 01/09/2026 avancerait le lot avant octobre 2026, mois dont la "
        "déclaration a déjà été demandée à Bâtiments Test ; les mois d'avant n'ont été demandés "
        "à aucune entreprise : le démarrage n'avance plus une fois un mois demandé."
    )


def test_a_company_added_after_the_planned_end_by_default_is_refused_with_what_to_do(
    app: App,
) -> None:
    """A lot still in execution past its planned end: a company added without a first month
    would join the month after the last one, owing nothing and welcomed « à partir de … »
    (review): refused like a first month given after the end, saying what to do."""
    lot = started_lot(app)
    sub = newcomer(app)
    kept = parties_of(app, lot)
    after_end = paris(date(END.year, END.month, END.day) + timedelta(days=40), 10)

    with pytest.raises(InputRefused) as refused:
        correct(app, lot, [*kept, subcontractor(sub)], after_end)
    assert "est après la fin prévue du lot" in refused.value.message
    assert "--from MM/AAAA" in refused.value.message
    assert first_month(app, lot, sub) is None
    assert [p.company_id for p in parties_of(app, lot)] == [p.company_id for p in kept]
