"""The application layer's clause commands and queries, on SQLite and PostgreSQL: each command is
one transaction at one instant, by one actor, with its events heard inside it; a refusal leaves
nothing; a clause is found by « RÉF/LOT »; ``clause_detail`` gives the hours declared against the
target, company by company, and the final report's text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from tests.conftest import Clock
from workflow.app import catalog, clauses
from workflow.app.clause_views import ClauseSummary
from workflow.app.clauses import Figures, PartyChoice
from workflow.app.lookup import AmbiguousDesignation
from workflow.bootstrap import App
from workflow.domain.events import ClauseAdvanced, ClauseAwarded
from workflow.domain.stages import ClauseEvent, Stage
from workflow.domain.vocabulary import ContractType, Criterion, DeliveryMode, PartyRole
from workflow.emails.notices import Outstanding
from workflow.errors import InputRefused, NotFound
from workflow.services.declarations import LineInput, record_declaration
from workflow.services.participants import create_participant

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MAY = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)  # March and April are open to declarations
SIRET = "73282932000074"


@dataclass(frozen=True)
class Territory:
    buyer: int
    market: int
    lot_01: int
    lot_02: int
    holder: int
    partner: int


@pytest.fixture
def territory(app: App, clock: Clock) -> Territory:
    """Two lots of market 2026-014 (Gers Habitat); lot 01 computes 4 725 h from its figures."""
    clock.set(START)
    buyer = catalog.add_buyer(app, "Gers Habitat")
    catalog.add_operation(app, "Résidence Les Tilleuls", buyer="gers-habitat")
    market = catalog.add_market(app, "2026-014", operation="résidence les tilleuls")
    figures = Figures(Decimal(3_780_000), Decimal("0.5"), Decimal("0.075"), Decimal(30))
    lot_01 = catalog.add_lot(
        app, market="2026-014", lot_number="01", title="Gros œuvre", figures=figures
    )
    lot_02 = catalog.add_lot(app, market="2026-014", lot_number="02", title="Menuiseries")
    holder = catalog.add_company(app, "Bâti Sud", siret="732 829 320 00074")
    catalog.add_correspondent(
        app, "732 829 320 00074", name="Paul Chantier", email="paul@example.org"
    )
    partner = catalog.add_company(app, "Bâti Nord Insertion")
    catalog.add_correspondent(
        app, "bati nord insertion", name="Inès Moreau", email="ines@example.org"
    )
    return Territory(buyer.id, market.id, lot_01.clause.id, lot_02.clause.id, holder.id, partner.id)


def start_lot_01(app: App) -> None:
    clauses.advance_clause(app, "2026-014/01", ClauseEvent.DRAFT)
    clauses.advance_clause(app, "2026-014/1", ClauseEvent.AWARD)
    clauses.award_clause(
        app,
        "2026-014/01",
        parties=(
            PartyChoice(SIRET, PartyRole.HOLDER, hours_share=4000),
            PartyChoice("Bâti Nord", PartyRole.SUBCONTRACTOR, hours_share=725),
        ),
        start_date=date(2026, 3, 2),
        planned_end_date=date(2026, 12, 31),
    )
    clauses.advance_clause(app, "2026-014/01", ClauseEvent.START)


def declare(app: App, clause_id: int, company_id: int, month: date, hours: tuple[str, ...]) -> None:
    """One month of one company, one line per participant, through the real service."""
    with app.transaction() as session:
        lines = [
            LineInput(
                participant_id=participant(session, f"P-{company_id}{month:%m}{i}"),
                hours=Decimal(h),
                delivery_mode=DeliveryMode.DIRECT_HIRING,
                contract_type=ContractType.CDD,
            )
            for i, h in enumerate(hours)
        ]
        record_declaration(
            session,
            clause_id=clause_id,
            company_id=company_id,
            month=month,
            lines=lines,
            actor="test",
            now=MAY,
            source="test",
            publish=app.publish,
        )


def participant(session: Session, reference: str) -> int:
    made = create_participant(
        session, reference=reference, criterion=Criterion.MINIMUM_INCOME, now=MAY
    )
    return made.id


def test_a_clause_gives_the_hours_declared_against_its_target(
    app: App, clock: Clock, territory: Territory
) -> None:
    start_lot_01(app)
    clock.set(MAY)
    declare(app, territory.lot_01, territory.holder, date(2026, 3, 1), ("151.67", "98.5"))
    declare(app, territory.lot_01, territory.holder, date(2026, 4, 1), ("120", "0"))
    declare(app, territory.lot_01, territory.partner, date(2026, 3, 1), ("35.25",))

    detail = clauses.clause_detail(app, "2026-014/01")

    assert detail.summary.hours_target == 4725
    # 151,67 + 98,5 + 120 + 0 by the holder, 35,25 by the subcontractor.
    assert detail.hours_done == Decimal("405.42")
    assert detail.completion == Decimal("0.0858")  # 405,42 / 4 725 = 0,08580…
    by_company = {p.company: (p.role, p.hours_share, p.hours_done) for p in detail.parties}
    assert by_company == {
        "Bâti Sud": (PartyRole.HOLDER, 4000, Decimal("370.17")),
        "Bâti Nord Insertion": (PartyRole.SUBCONTRACTOR, 725, Decimal("35.25")),
    }
    # The other lot of the market declared nothing.
    assert clauses.clause_detail(app, "2026-014/02").hours_done == 0


def test_a_clause_without_target_has_no_completion_and_its_report_is_given(
    app: App, clock: Clock, territory: Territory
) -> None:
    start_lot_01(app)
    clock.set(MAY)  # the work ended on 30 April: it is said once that day has come
    clauses.advance_clause(app, territory.lot_01, ClauseEvent.FINISH, end_date=date(2026, 4, 30))
    report = "Objectif dépassé.\nDeux embauches en CDI."
    recorded = clauses.record_final_report(app, "2026-014/01", report, actor="Léa Bilan")

    detail = clauses.clause_detail(app, territory.lot_01)
    untouched = clauses.clause_detail(app, territory.lot_02)

    assert (detail.final_report, detail.final_report_at) == (report, MAY)
    # March and April were never declared by either company: the report says so.
    missing = (date(2026, 3, 1), date(2026, 4, 1))
    assert recorded == clauses.ReportRecorded(
        territory.lot_01,
        MAY,
        (
            Outstanding("Bâti Nord Insertion", missing, recorded.outstanding[0].company_id),
            Outstanding("Bâti Sud", missing, recorded.outstanding[1].company_id),
        ),
    )
    assert detail.history[-1].actor == "Léa Bilan"
    assert (untouched.summary.hours_target, untouched.completion) == (None, None)
    assert untouched.final_report is None


def test_a_command_is_one_moment_one_actor_and_its_events_are_heard_inside_it(
    app: App, clock: Clock, territory: Territory
) -> None:
    heard: list[tuple[type, int, datetime]] = []

    def listen(app: App, session: Session, event: ClauseAdvanced | ClauseAwarded) -> None:
        heard.append((type(event), event.clause_id, event.at))

    app.subscribe(ClauseAdvanced, listen)
    app.subscribe(ClauseAwarded, listen)
    clock.set(datetime(2026, 3, 3, 10, 30, tzinfo=UTC))

    moved = clauses.advance_clause(app, "2026-014/01", ClauseEvent.DRAFT, reason="CCAP prêt")

    assert moved == clauses.Advanced(
        territory.lot_01, Stage.IDENTIFICATION, Stage.DRAFTING, clock()
    )
    assert heard == [(ClauseAdvanced, territory.lot_01, clock())]
    last = clauses.clause_detail(app, territory.lot_01).history[-1]
    assert (last.at, last.actor, last.event, last.reason) == (
        clock(),
        "Camille Martin",  # the facilitator of the settings when nobody is named
        "draft",
        "CCAP prêt",
    )


def test_a_refused_award_changes_nothing(app: App, territory: Territory) -> None:
    clauses.advance_clause(app, territory.lot_01, ClauseEvent.DRAFT)
    clauses.advance_clause(app, territory.lot_01, ClauseEvent.AWARD)
    before = clauses.clause_detail(app, territory.lot_01)

    with pytest.raises(AmbiguousDesignation) as ambiguous:
        clauses.award_clause(
            app,
            "2026-014/01",
            parties=(
                PartyChoice(SIRET, PartyRole.HOLDER),
                PartyChoice("bâti", PartyRole.CO_CONTRACTOR),  # Bâti Sud or Bâti Nord?
            ),
            start_date=date(2026, 3, 2),
            planned_end_date=date(2026, 12, 31),
        )
    with pytest.raises(InputRefused, match="exactement une entreprise titulaire"):
        clauses.award_clause(
            app,
            "2026-014/01",
            parties=(PartyChoice(SIRET, PartyRole.CO_CONTRACTOR),),
            start_date=date(2026, 3, 2),
            planned_end_date=date(2026, 12, 31),
        )

    assert f"n° {territory.holder} Bâti Sud" in ambiguous.value.message
    assert f"n° {territory.partner} Bâti Nord Insertion" in ambiguous.value.message
    assert clauses.clause_detail(app, territory.lot_01) == before


def test_the_holders_only_correspondent_is_chosen_and_the_award_is_returned(
    app: App, territory: Territory
) -> None:
    start_lot_01(app)

    detail = clauses.clause_detail(app, "2026-014/01")

    assert detail.summary.stage is Stage.EXECUTION
    assert [(p.company, p.correspondent, p.email) for p in detail.parties] == [
        ("Bâti Sud", "Paul Chantier", "paul@example.org"),
        ("Bâti Nord Insertion", "Inès Moreau", "ines@example.org"),
    ]
    assert [h.event for h in detail.history] == [
        "identify",
        "draft",
        "award",
        "award_recorded",
        "start",
    ]


def test_clauses_are_listed_by_buyer_name_market_reference_and_stage(
    app: App, territory: Territory
) -> None:
    clauses.advance_clause(app, "2026-014/02", ClauseEvent.DRAFT)
    other = catalog.add_buyer(app, "Ville d'Auch")
    catalog.add_operation(app, "Voirie", buyer=other.id)
    catalog.add_market(app, "2026-V1", operation="voirie")
    catalog.add_lot(app, market="2026-V1", title="Réfection")

    def ids(found: tuple[ClauseSummary, ...]) -> list[int]:
        return [c.id for c in found]

    assert ids(clauses.list_clauses(app, buyer="GERS HABITAT")) == [
        territory.lot_01,  # « repérage » comes before « calibrage et rédaction » in a clause's
        territory.lot_02,  # life, whatever the English codes' alphabetical order
    ]
    assert ids(clauses.list_clauses(app, market="2026-014", stage=Stage.IDENTIFICATION)) == [
        territory.lot_01
    ]
    assert len(clauses.list_clauses(app)) == 3
    with pytest.raises(NotFound) as missing:  # the command line names the list
        clauses.list_clauses(app, buyer="Conseil départemental")
    assert "clauses buyer list" in missing.value.command_line_message


def test_hours_imposed_and_figures_changed_are_returned_as_they_are_stored(
    app: App, territory: Territory
) -> None:
    imposed = clauses.impose_hours(app, "2026-014/01", 5000, reason="avenant n° 1")
    changed = clauses.change_figures(app, "2026-014/01", Figures(amount=Decimal(1_000_000)))

    assert (imposed.hours_computed, imposed.hours_override, imposed.hours_target) == (
        4725,
        5000,
        5000,
    )
    # 1 000 000 × 50 % × 7,5 % ÷ 30 = 1 250; the imposed figure still wins.
    assert (changed.clause.hours_computed, changed.clause.hours_target) == (1250, 5000)
    assert changed.calculation is not None and changed.calculation.hours == 1250
    assert clauses.clause_detail(app, territory.lot_01).summary == changed.clause
