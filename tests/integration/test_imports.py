"""Lots import and the sample territory, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import Clock
from workflow.adapters.csv_files import parse_siret
from workflow.adapters.orm import (
    Buyer,
    BuyerContact,
    Clause,
    ClauseHistory,
    Company,
    Correspondent,
    Market,
    Operation,
    Participant,
)
from workflow.bootstrap import App
from workflow.domain.events import EVENT_TYPES, ClauseIdentified, DomainEvent
from workflow.domain.stages import ClauseEvent, Stage
from workflow.errors import FileRefused
from workflow.sample import SAMPLE_AWARDS, load_sample, resolve_award
from workflow.services.clauses import advance_clause, record_award
from workflow.services.imports import IMPOSED_REASON, LotsImport, import_lots_file

DATA = Path(__file__).resolve().parent.parent / "data"
LOTS = DATA / "lots-excel-fr.csv"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def record_events(app: App) -> list[DomainEvent]:
    events: list[DomainEvent] = []
    for kind in EVENT_TYPES:
        app.subscribe(kind, lambda _app, _session, event: events.append(event))
    return events


def import_lots(app: App, path: Path = LOTS) -> LotsImport:
    with app.transaction() as session:
        return import_lots_file(session, path, actor="Camille Martin", now=NOW, publish=app.publish)


def count(session: Session, entity: type) -> int:
    return session.scalar(select(func.count()).select_from(entity)) or 0


def counts(app: App) -> dict[str, int]:
    with app.transaction() as session:
        return {
            entity.__tablename__: count(session, entity)
            for entity in (Buyer, Operation, Market, Clause, ClauseHistory)
        }


def clause_of(session: Session, market: str, lot: str) -> Clause:
    return session.scalars(
        select(Clause).join(Market).where(Market.reference == market, Clause.lot_number == lot)
    ).one()


def test_it_imports_the_sample_lots_with_their_hours(app: App) -> None:
    events = record_events(app)

    result = import_lots(app)

    assert result.created == {"buyers": 3, "operations": 3, "markets": 3, "clauses": 6}
    assert [lot.hours_target for lot in result.lots] == [4725, 426, 761, 341, 1200, 47]
    assert [str(w)[:12] for w in result.warnings] == ["ligne 7 : 47"]
    with app.transaction() as session:
        gros_oeuvre = clause_of(session, "2026-014", "01")
        assert (gros_oeuvre.hours_computed, gros_oeuvre.hours_override) == (4725, None)
        assert gros_oeuvre.stage == Stage.IDENTIFICATION.value
        assert gros_oeuvre.planned_notification == date(2026, 3, 15)
        assert gros_oeuvre.market.operation.buyer.name == "Département de l'Exemple"
        cleaning = clause_of(session, "2026-AC-03", "")
        assert cleaning.hours_computed is None
        assert (cleaning.hours_override, cleaning.override_reason) == (1200, IMPOSED_REASON)
        assert cleaning.hours_target == 1200
        assert clause_of(session, "2026-V1", "").hours_target == 47
        history = session.scalars(select(ClauseHistory.event)).all()
        assert history == ["identify"] * 6
    identified = [e for e in events if isinstance(e, ClauseIdentified)]
    assert len(identified) == 6


def test_it_creates_nothing_when_the_same_file_comes_twice(app: App) -> None:
    import_lots(app)
    before = counts(app)

    again = import_lots(app)

    assert again.nothing_new
    assert not any(lot.created for lot in again.lots)
    assert counts(app) == before


def test_it_recognises_a_lot_whose_leading_zero_excel_dropped(app: App, tmp_path: Path) -> None:
    import_lots(app)
    resaved = tmp_path / "lots.csv"
    text = LOTS.read_bytes().decode("cp1252").replace(";01;", ";1;")
    resaved.write_text(text.upper().replace("2026-AC-03", "2026-ac-03"), encoding="utf-8")

    again = import_lots(app, resaved)

    assert again.nothing_new


def test_it_imports_nothing_when_one_line_is_bad(app: App, tmp_path: Path) -> None:
    broken = tmp_path / "lots.csv"
    text = LOTS.read_bytes().decode("cp1252")
    broken.write_bytes((text + "Autre;Autre acheteur;X-1;;Lot;beaucoup;50 %;5 %;30;;\n").encode())

    with pytest.raises(FileRefused) as caught:
        import_lots(app, broken)

    assert "ligne 8, colonne « Montant HT (€) » : « beaucoup » n'est pas un nombre" in (
        caught.value.message
    )
    assert counts(app) == dict.fromkeys(counts(app), 0)


def test_it_reports_an_existing_clause_with_other_figures_and_leaves_it(
    app: App, tmp_path: Path
) -> None:
    import_lots(app)
    changed = tmp_path / "lots.csv"
    text = LOTS.read_bytes().decode("cp1252").replace("3 780 000,00", "4 000 000,00")
    changed.write_text(text, encoding="utf-8")

    again = import_lots(app, changed)

    assert again.nothing_new
    assert any(
        "existe déjà avec 4" in str(w) and "Rien n'a été modifié" in str(w) for w in again.warnings
    )
    with app.transaction() as session:
        assert clause_of(session, "2026-014", "01").hours_computed == 4725


# --- the sample territory -----------------------------------------------------------------------


def test_it_loads_the_sample_territory_once(app: App) -> None:
    first = load_sample(app, NOW)
    second = load_sample(app, NOW)

    assert not first.already_loaded
    assert first.created["buyers"] == 3
    assert 4 <= first.created["companies"] <= 6
    assert first.created["clauses"] == 8
    assert second.already_loaded
    assert second.clause_ids == first.clause_ids
    with app.transaction() as session:
        kinds = set(session.scalars(select(Buyer.kind)))
        assert kinds == {"Département", "Communauté d'agglomération", "Commune"}
        assert count(session, BuyerContact) == 3
        sirets = session.scalars(select(Company.siret)).all()
        assert all(parse_siret(s or "") == s for s in sirets)
        emails = [
            *session.scalars(select(BuyerContact.email)),
            *session.scalars(select(Correspondent.email)),
        ]
        assert all(e.endswith("@example.org") for e in emails)
        college = clause_of(session, "2026-014", "01")
        assert college.market.operation.name == "Construction du collège de Saint-Arrats"
        assert college.hours_target == 4725
        assert {c.stage for c in session.scalars(select(Clause))} == {"identification"}
        assert all(c.hours_target for c in session.scalars(select(Clause)))
        assert count(session, Participant) >= 4


def test_it_finds_nothing_new_in_the_lots_file_after_the_sample(app: App) -> None:
    load_sample(app, NOW)

    assert import_lots(app).nothing_new


def test_it_gives_the_demo_what_record_award_needs(app: App, clock: Clock) -> None:
    load_sample(app, NOW)

    with app.transaction() as session:
        for award in SAMPLE_AWARDS:
            resolved = resolve_award(session, award)
            for event in (ClauseEvent.DRAFT, ClauseEvent.AWARD):
                advance_clause(
                    session,
                    resolved.clause_id,
                    event,
                    actor="démo",
                    reason=None,
                    now=NOW,
                    publish=app.publish,
                )
            record_award(
                session,
                resolved.clause_id,
                parties=resolved.parties,
                start_date=resolved.start_date,
                planned_end_date=resolved.planned_end_date,
                actor="démo",
                now=NOW,
                publish=app.publish,
            )
            advance_clause(
                session,
                resolved.clause_id,
                ClauseEvent.START,
                actor="démo",
                reason=None,
                now=NOW,
                publish=app.publish,
            )

    with app.transaction() as session:
        started = session.scalars(select(Clause).where(Clause.stage == "execution")).all()
        assert len(started) == len(SAMPLE_AWARDS)
        gros_oeuvre = clause_of(session, "2026-014", "01")
        assert [p.role for p in gros_oeuvre.parties] == ["holder", "subcontractor"]
        assert gros_oeuvre.parties[0].company.siret == "41234567800012"
