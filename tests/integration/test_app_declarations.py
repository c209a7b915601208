"""What is declared, at zero, missing or late: ``app.declarations.declaration_list`` on figures
known by hand, on SQLite and PostgreSQL.

The sample's lot 2026-014/01 started on 6 April 2026 with two companies: Bâtiments Gascons SARL
(the holder) and Gascogne Insertion Bâtiment (its subcontractor). With the default calendar a
month is due on the 10th of the next one (a working day): April on Monday 11 May (10 May is a
Sunday), May on Wednesday 10 June, June on Friday 10 July. Bâtiments Gascons declares April
(151,67 h) and May at zero hours, Gascogne Insertion April (35 h); the other three months are
left undeclared.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import ladder_pass
from tests.integration.test_declarations import start_sample
from workflow.adapters.orm import Company, DeclarationLadder, Participant
from workflow.app.declarations import (
    DeclarationList,
    DeclarationState,
    ExpectedDeclaration,
    declaration_list,
    declare_zero,
)
from workflow.app.unit import unit_of_work
from workflow.bootstrap import App
from workflow.domain.vocabulary import ContractType, DeliveryMode
from workflow.services.declarations import LineInput, record_declaration

LOT = "2026-014/01"
HOLDER = "Bâtiments Gascons SARL"
SUBCONTRACTOR = "Gascogne Insertion Bâtiment (EI)"
APRIL, MAY, JUNE = date(2026, 4, 1), date(2026, 5, 1), date(2026, 6, 1)
DECLARED, ZERO = DeclarationState.DECLARED, DeclarationState.ZERO
MISSING, LATE = DeclarationState.MISSING, DeclarationState.LATE


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC)


def declare(app: App, company: str, month: date, hours: dict[str, Decimal]) -> None:
    with unit_of_work(app) as unit:
        session = unit.session
        people = {
            p.reference: p.id
            for p in session.scalars(select(Participant).where(Participant.reference.in_(hours)))
        }
        record_declaration(
            session,
            clause_id=1,
            company_id=session.scalars(select(Company.id).where(Company.name == company)).one(),
            month=month,
            lines=[
                LineInput(
                    people[reference],
                    worked,
                    DeliveryMode.DIRECT_HIRING,
                    ContractType.CDD,
                )
                for reference, worked in hours.items()
            ],
            actor="test",
            now=unit.now,
            source="test",
            publish=unit.app.publish,
            zone=app.settings.zone,
        )


@pytest.fixture
def declared(app: App, clock: Clock) -> App:
    # The notices are not what these tests look at: no rendering of receipts and welcomes.
    app.handlers = {}
    start_sample(app)
    clock.set(at(date(2026, 5, 20)))
    declare(app, HOLDER, APRIL, {"P-0007": Decimal("120"), "P-0012": Decimal("31.67")})
    declare(app, SUBCONTRACTOR, APRIL, {"P-0031": Decimal("35")})
    clock.set(at(date(2026, 6, 15)))
    declare_zero(app, clause=LOT, company=HOLDER, month=MAY)
    return app


Row = tuple[date, str, DeclarationState, Decimal | None, date, int]


def rows(listed: DeclarationList) -> list[Row]:
    return [
        (line.month, line.company, line.state, line.hours, line.due_on, line.late_days)
        for line in listed.lines
    ]


def counts(listed: DeclarationList, month: date | None) -> tuple[int, int, int, int, int, Decimal]:
    totals = listed.total if month is None else next(t for t in listed.months if t.month == month)
    return (
        totals.expected,
        totals.declared,
        totals.zero,
        totals.missing,
        totals.late,
        totals.hours,
    )


def assert_totals_add_up(listed: DeclarationList) -> None:
    """Each month's totals are its lines counted; the grand total, the months added up."""

    def by_state(lines: list[ExpectedDeclaration], state: DeclarationState) -> int:
        return sum(1 for line in lines if line.state is state)

    assert [t.month for t in listed.months] == sorted({line.month for line in listed.lines})
    for totals in listed.months:
        lines = [line for line in listed.lines if line.month == totals.month]
        assert totals.expected == len(lines)
        assert (totals.declared, totals.zero, totals.missing, totals.late) == tuple(
            by_state(lines, s) for s in (DECLARED, ZERO, MISSING, LATE)
        )
        assert totals.hours == sum((line.hours or Decimal(0) for line in lines), Decimal(0))
    for field in ("expected", "declared", "zero", "missing", "late", "hours"):
        assert getattr(listed.total, field) == sum(getattr(t, field) for t in listed.months)


def test_each_line_and_each_total_before_and_after_the_due_date(
    declared: App, clock: Clock
) -> None:
    clock.set(at(date(2026, 7, 2)))  # June is open (since 30 June), due on 10 July
    before = declaration_list(declared, clause=LOT)

    clock.set(at(date(2026, 7, 20)))  # past June's due date
    after = declaration_list(declared, clause=LOT)

    assert rows(before) == [
        (APRIL, HOLDER, DECLARED, Decimal("151.67"), date(2026, 5, 11), 0),
        (APRIL, SUBCONTRACTOR, DECLARED, Decimal("35"), date(2026, 5, 11), 0),
        (MAY, HOLDER, ZERO, Decimal("0"), date(2026, 6, 10), 0),
        # Working days after 10 June up to 2 July: 11, 12, 15-19, 22-26, 29, 30 June, 1, 2 July.
        (MAY, SUBCONTRACTOR, LATE, None, date(2026, 6, 10), 16),
        (JUNE, HOLDER, MISSING, None, date(2026, 7, 10), 0),
        (JUNE, SUBCONTRACTOR, MISSING, None, date(2026, 7, 10), 0),
    ]
    assert counts(before, APRIL) == (2, 2, 0, 0, 0, Decimal("186.67"))
    assert counts(before, MAY) == (2, 0, 1, 0, 1, Decimal(0))
    assert counts(before, JUNE) == (2, 0, 0, 2, 0, Decimal(0))
    assert counts(before, None) == (6, 2, 1, 2, 1, Decimal("186.67"))
    assert_totals_add_up(before)
    # 14 July is a public holiday: 13, 15, 16, 17 and 20 July count, 5 days.
    assert rows(after)[3:] == [
        (MAY, SUBCONTRACTOR, LATE, None, date(2026, 6, 10), 27),
        (JUNE, HOLDER, LATE, None, date(2026, 7, 10), 5),
        (JUNE, SUBCONTRACTOR, LATE, None, date(2026, 7, 10), 5),
    ]
    assert counts(after, JUNE) == (2, 0, 0, 0, 2, Decimal(0))
    assert counts(after, None) == (6, 2, 1, 0, 3, Decimal("186.67"))
    assert_totals_add_up(after)
    assert (after.clause_id, after.today) == (1, date(2026, 7, 20))


def test_missing_only_a_company_and_a_month(declared: App, clock: Clock) -> None:
    clock.set(at(date(2026, 7, 20)))

    missing = declaration_list(declared, clause=LOT, missing_only=True)
    by_name = declaration_list(declared, clause=LOT, company="gascogne insertion")
    by_siret = declaration_list(declared, company="412 345 678 00012")
    may = declaration_list(declared, clause=1, month=MAY)

    assert [(r[0], r[1], r[2]) for r in rows(missing)] == [
        (MAY, SUBCONTRACTOR, LATE),
        (JUNE, HOLDER, LATE),
        (JUNE, SUBCONTRACTOR, LATE),
    ]
    assert counts(missing, None) == (3, 0, 0, 0, 3, Decimal(0))
    assert [t.month for t in missing.months] == [MAY, JUNE]
    assert_totals_add_up(missing)
    assert [(r[0], r[2], r[3]) for r in rows(by_name)] == [
        (APRIL, DECLARED, Decimal("35")),
        (MAY, LATE, None),
        (JUNE, LATE, None),
    ]
    assert by_name.company == SUBCONTRACTOR
    # Bâtiments Gascons holds lot 01 only: its three months, whatever the lot filter.
    assert [(r[0], r[2]) for r in rows(by_siret)] == [
        (APRIL, DECLARED),
        (MAY, ZERO),
        (JUNE, LATE),
    ]
    assert [(r[1], r[2]) for r in rows(may)] == [(HOLDER, ZERO), (SUBCONTRACTOR, LATE)]


def test_the_whole_territory_adds_up_and_a_month_not_open_is_not_expected(
    declared: App, clock: Clock
) -> None:
    clock.set(at(date(2026, 7, 20)))  # July opens on Friday 31 July

    listed = declaration_list(declared)

    assert_totals_add_up(listed)
    assert max(line.month for line in listed.lines) == JUNE
    # Lot 2026-V1 (TP du Savès, 4 May to 31 July): May and June owed, July not open yet.
    v1 = [(line.month, line.state) for line in listed.lines if line.market == "2026-V1"]
    assert v1 == [(MAY, LATE), (JUNE, LATE)]
    # Lot 02 (Charpentes de l'Arrats) started on 1 June: June only.
    lot_02 = [
        line.month for line in listed.lines if (line.market, line.lot_number) == ("2026-014", "02")
    ]
    assert lot_02 == [JUNE]
    assert counts(listed, None)[5] == Decimal("186.67")


def test_a_late_call_gives_the_due_date_the_list_holds_the_company_to(
    declared: App, clock: Clock
) -> None:
    """The scheduler's first pass (the lot was never called: no pass ran before) calls the
    months still owed on Monday 20 July at 09:00, Paris time, in one catch-up email. A call that
    leaves late gives the company as many working days as a call on time (7, from 1 July to 10
    July): from 20 July, 29 July. The list holds the company to that date, as the digest
    does: nothing is late any more."""
    now = datetime(2026, 7, 20, 7, 0, tzinfo=UTC)  # 09:00 in Paris, the call time
    clock.set(now)
    ladder_pass(declared, now)

    listed = declaration_list(declared, clause=LOT)

    with declared.transaction() as session:
        ladders = {
            (lad.company_id, lad.month): (lad.due_on, lad.called_at)
            for lad in session.scalars(
                select(DeclarationLadder).where(DeclarationLadder.clause_id == 1)
            )
        }
    assert all(line.called for line in listed.lines)
    assert [r for r in rows(listed) if r[2] in (MISSING, LATE)] == [
        (MAY, SUBCONTRACTOR, MISSING, None, date(2026, 7, 29), 0),
        (JUNE, HOLDER, MISSING, None, date(2026, 7, 29), 0),
        (JUNE, SUBCONTRACTOR, MISSING, None, date(2026, 7, 29), 0),
    ]
    for line in listed.lines:
        if line.state is MISSING:
            assert ladders[(line.company_id, line.month)] == (date(2026, 7, 29), now)
    assert counts(listed, None) == (6, 2, 1, 3, 0, Decimal("186.67"))
    assert_totals_add_up(listed)
