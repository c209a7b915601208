"""The application layer's reference data and calendar changes, on SQLite and PostgreSQL: records
added and found by the names people know (another dash, another case, a SIRET with spaces),
ambiguous or unknown ones refused with nothing written, calendars changed by name or « RÉF/LOT »
with their history rows."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.conftest import Clock
from workflow.app import calendars, catalog, clauses
from workflow.app.catalog import BuyerView, ContactView, OperationView
from workflow.app.clauses import Figures
from workflow.app.lookup import AmbiguousDesignation
from workflow.bootstrap import App
from workflow.domain.stages import ClauseEvent, Stage
from workflow.domain.vocabulary import NoticePreference
from workflow.errors import InputRefused, NotFound
from workflow.services.calendar_changes import DEFAULT, CalendarChange
from workflow.services.lot_calendars import RuleSource


def everything(app: App) -> tuple[object, ...]:
    """What a refusal must leave as it was: every list the catalogue gives."""
    return (
        catalog.list_buyers(app),
        catalog.list_companies(app),
        catalog.list_operations(app),
        catalog.list_markets(app),
        clauses.list_clauses(app),
    )


def test_the_catalogue_is_built_by_the_names_people_know(app: App, clock: Clock) -> None:
    habitat = catalog.add_buyer(app, "Gers Habitat", kind="bailleur", notice_preference="mensuel")
    catalog.add_buyer(app, "Gers-Habitat Services")
    contact = catalog.add_buyer_contact(
        app, "GERS–HABITAT", name="Anne Achat", email="anne@example.org", role="acheteuse"
    )
    operation = catalog.add_operation(app, "Résidence Les Tilleuls", buyer="gers habitat")
    market = catalog.add_market(app, "2026-014", operation="residence les tilleuls")
    lot = catalog.add_lot(
        app,
        market="2026-014",
        lot_number="01",
        title="Gros œuvre",
        figures=Figures(Decimal(3_780_000), Decimal("0.5"), Decimal("0.075"), Decimal(30)),
    )
    company = catalog.add_company(app, "Bâti Sud", siret="732 829 320 00074", city="Auch")
    person = catalog.add_correspondent(
        app, "732 829 320 00074", name="Paul Chantier", email="paul@example.org"
    )

    assert contact == ContactView(
        contact.id, habitat.id, "Gers Habitat", "Anne Achat", "anne@example.org", "", "acheteuse"
    )
    assert operation == OperationView(
        operation.id, habitat.id, "Gers Habitat", "Résidence Les Tilleuls", "", 0
    )
    assert (market.operation, market.buyer, market.lots) == (
        "Résidence Les Tilleuls",
        "Gers Habitat",
        0,
    )
    # 3 780 000 € × 50 % × 7,5 % ÷ 30 €/h = 4 725 h, at « repérage », at the clock's instant.
    assert (lot.clause.hours_computed, lot.clause.stage) == (4725, Stage.IDENTIFICATION)
    assert lot.calculation is not None and lot.calculation.hours == 4725
    assert (person.company_id, person.company) == (company.id, "Bâti Sud")
    assert clauses.clause_detail(app, "2026-014/01").history[0].at == clock()

    [listed] = [b for b in catalog.list_buyers(app) if b.id == habitat.id]
    assert listed == BuyerView(
        habitat.id,
        "Gers Habitat",
        "bailleur",
        NoticePreference.MONTHLY_ONLY,
        None,
        None,
        None,
        (contact,),
    )
    [found] = catalog.list_companies(app)
    assert (found.siret, found.city, found.correspondents) == ("73282932000074", "Auch", (person,))
    assert [m.lots for m in catalog.list_markets(app, operation="Résidence Les Tilleuls")] == [1]
    assert catalog.list_operations(app, buyer="Gers Habitat") == (
        OperationView(operation.id, habitat.id, "Gers Habitat", "Résidence Les Tilleuls", "", 1),
    )
    assert catalog.list_operations(app, buyer="Gers-Habitat Services") == ()


def test_an_ambiguous_or_unknown_designation_writes_nothing(app: App) -> None:
    first = catalog.add_buyer(app, "Gers Habitat")
    second = catalog.add_buyer(app, "Gers-Habitat Services")
    catalog.add_company(app, "Bâti Sud", siret="732 829 320 00074")
    before = everything(app)

    with pytest.raises(AmbiguousDesignation) as ambiguous:
        catalog.add_operation(app, "Voirie", buyer="gers")
    with pytest.raises(NotFound) as missing:  # the command line names the list
        catalog.add_buyer_contact(app, "Conseil départemental", name="X", email="x@example.org")
    assert "clauses buyer list" in missing.value.command_line_message
    with pytest.raises(NotFound, match="Aucune entreprise de SIRET"):
        catalog.add_correspondent(app, "123 456 789 00015", name="X", email="x@example.org")
    with pytest.raises(NotFound) as missing:  # the command line names the list
        catalog.add_lot(app, market="2099-001", title="Rien")
    assert "clauses market list" in missing.value.command_line_message
    with pytest.raises(InputRefused, match="existe déjà"):
        catalog.add_buyer(app, "Gers Habitat")

    assert f"n° {first.id} Gers Habitat" in ambiguous.value.message
    assert f"n° {second.id} Gers-Habitat Services" in ambiguous.value.message
    assert everything(app) == before


def test_calendars_change_by_buyer_name_and_by_lot_reference(app: App) -> None:
    buyer = catalog.add_buyer(app, "Gers Habitat")
    catalog.add_operation(app, "Résidence", buyer=buyer.id)
    catalog.add_market(app, "2026-014", operation="Résidence")
    lot = catalog.add_lot(app, market="2026-014", lot_number="01", title="Gros œuvre")
    catalog.add_lot(app, market="2026-014", lot_number="02", title="Menuiseries")
    clauses.advance_clause(app, "2026-014/02", ClauseEvent.ABANDON, reason="infructueux")

    changed = calendars.set_buyer(
        app,
        "gers habitat",
        notice_preference="mensuel",
        calendar=CalendarChange(due_day=15),
        reason="délibération",
        actor="Léa",
    )
    lot_changed = calendars.set_lot_calendar(
        app, "2026-014/1", CalendarChange(escalation_offset=20), reason="avenant n° 2"
    )
    unchanged = calendars.set_lot_calendar(app, "2026-014/01", CalendarChange(escalation_offset=20))

    assert (changed.buyer.notice_preference, changed.buyer.due_day) == (
        NoticePreference.MONTHLY_ONLY,
        15,
    )
    assert changed.result.lots == (lot.clause.id,)  # not the abandoned lot 02
    assert changed.result.calendar.rules.due_day == 15
    assert lot_changed.clause_id == lot.clause.id
    assert lot_changed.result.calendar.escalation_from is RuleSource.LOT
    assert lot_changed.result.calendar.due_day_from is RuleSource.BUYER
    assert unchanged.result.changes == ()
    history = clauses.clause_detail(app, lot.clause.id).history
    assert [(h.event, h.actor) for h in history[-2:]] == [
        ("calendar", "Léa"),
        ("calendar", "Camille Martin"),
    ]
    assert history[-2].reason is not None and history[-2].reason.endswith("motif : délibération")

    before = everything(app)
    with pytest.raises(InputRefused, match="ne viendrait pas avant le signalement"):
        calendars.set_lot_calendar(app, "2026-014/01", CalendarChange(escalation_offset=5))
    with pytest.raises(AmbiguousDesignation, match="2026-014/02 Menuiseries"):
        calendars.set_lot_calendar(app, "2026-014", CalendarChange(due_day=DEFAULT))
    assert everything(app) == before
