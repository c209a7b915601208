"""A subcontractor joining a lot in execution, end to end through the application (SQLite and
PostgreSQL): armed in the correction's transaction, welcomed with its months from the one it
joined, called for that month only, its hours accepted, and counted by no reader of the
declarations expected (the monthly summaries' « attendues », ``declaration list``, the months a
company owes, the audit) for the months before it joined.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import Lot, declare, ladder_pass, make_lot
from tests.integration.test_planned_end import paris, scheduled_calls
from tests.text import squash
from workflow.adapters.orm import AwardParty, Clause, Company, Correspondent, OutboxMessage
from workflow.app import clauses as clause_app
from workflow.app import declarations as declaration_app
from workflow.app.clauses import PartyChoice
from workflow.bootstrap import App
from workflow.domain.calendar import is_working_day
from workflow.domain.vocabulary import PartyRole
from workflow.services.audit import verify
from workflow.services.declarations import company_missing_months
from workflow.services.online_declarations import LineForm
from workflow.services.summaries import compile_for

pytestmark = pytest.mark.scenario

SEPTEMBER, OCTOBER, NOVEMBER = date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)
END = date(2027, 1, 31)


def passes(app: App, first: date, last: date) -> None:
    day = first
    while day <= last:
        if is_working_day(day):
            ladder_pass(app, paris(day, 10))
        day += timedelta(days=1)


def joined_in_november(app: App, clock: Clock) -> tuple[Lot, int]:
    """The holder declared September and October; on 16 November a subcontractor joins."""
    lot = make_lot(app, start=SEPTEMBER, end=END, at=paris(date(2026, 8, 31), 10))
    passes(app, date(2026, 10, 1), date(2026, 11, 2))
    declare(app, lot, SEPTEMBER, paris(date(2026, 10, 5), 11))
    declare(app, lot, OCTOBER, paris(date(2026, 11, 3), 11))
    with app.transaction() as session:
        company = Company(
            name="Échafaudages Sud",
            created_at=paris(date(2026, 8, 1), 10),
            correspondents=[Correspondent(name="Inès Durand", email="ines@echafaudages.example")],
        )
        session.add(company)
        session.flush()
        sub = company.id
    clock.set(paris(date(2026, 11, 16), 10))
    recorded = clause_app.award_clause(
        app,
        lot.clause_id,
        parties=(
            PartyChoice(lot.company_ids[0], PartyRole.HOLDER),
            PartyChoice(sub, PartyRole.SUBCONTRACTOR, None, 500),
        ),
        start_date=SEPTEMBER,
        planned_end_date=END,
        actor="Camille",
    )
    assert recorded.result is clause_app.clause_service.AwardResult.CORRECTED
    return lot, sub


def test_the_joining_company_is_armed_at_once_and_welcomed_from_its_month(
    app: App, clock: Clock
) -> None:
    lot, sub = joined_in_november(app, clock)

    # Armed in the correction's transaction: November's call at its usual moment, no pass run.
    with app.transaction() as session:
        armed = session.execute(
            select(AwardParty.next_call_month, AwardParty.next_call_at).where(
                AwardParty.clause_id == lot.clause_id, AwardParty.company_id == sub
            )
        ).one()
        welcome = session.scalars(
            select(OutboxMessage.body_text).where(
                OutboxMessage.kind == "company_welcome",
                OutboxMessage.key.like(f"welcome:{lot.clause_id}:{sub}:%"),
            )
        ).one()
    assert tuple(armed) == (NOVEMBER, scheduled_calls(app, lot, [NOVEMBER])[NOVEMBER])
    text = squash(welcome)
    assert (
        "- Vos déclarations : à partir de novembre 2026. Votre entreprise rejoint le lot en "
        "cours de travaux : je ne vous demande pas les mois d'avant."
    ) in text
    assert "septembre 2026 à envoyer" not in text and "octobre 2026 à envoyer" not in text
    assert "novembre 2026 à envoyer au plus tard le" in text


def test_no_reader_expects_its_months_before_it_joined(app: App, clock: Clock) -> None:
    lot, sub = joined_in_november(app, clock)
    passes(app, date(2026, 11, 17), date(2026, 12, 3))
    clock.set(paris(date(2026, 12, 20), 10))

    listed = declaration_app.declaration_list(app, company=sub)
    assert [(line.month, line.state.value) for line in listed.lines] == [(NOVEMBER, "to_call")]
    with app.transaction() as session:
        clause = session.get_one(Clause, lot.clause_id)
        owed = company_missing_months(session, clause, sub, now=clock(), zone=app.settings.zone)
    assert owed == [NOVEMBER]
    for month, expected in ((SEPTEMBER, 1), (OCTOBER, 1), (NOVEMBER, 2)):
        summary = compile_for(app, month, now=clock())
        declarations = summary.overall.declarations
        assert declarations.expected == expected, month
        assert "Échafaudages Sud" not in {m.company for m in declarations.missing} or (
            month == NOVEMBER
        )
    earlier = compile_for(app, NOVEMBER, now=clock()).overall.declarations.earlier
    assert [e.company for e in earlier] == []

    declaration_app.declare_lines(
        app,
        clause=lot.clause_id,
        company=sub,
        month=NOVEMBER,
        lines=[
            LineForm(
                reference="P-0042",
                hours="70",
                contract="cdd",
                mode="direct_hiring",
                criterion="long_term_jobseeker",
            )
        ],
        zero=False,
        actor="Inès Durand",
        source="web",
    )
    listed = declaration_app.declaration_list(app, company=sub)
    assert [(line.month, line.hours) for line in listed.lines] == [(NOVEMBER, Decimal("70"))]
    assert [f.line for f in verify(app).findings] == []
