"""Clauses through their whole life on a real database (SQLite and PostgreSQL): every change writes
its history row and event in the same transaction, every refusal leaves the database as it was."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import Clock
from workflow.adapters.orm import Clause, ClauseHistory
from workflow.bootstrap import App
from workflow.domain.events import (
    EVENT_TYPES,
    ClauseAdvanced,
    ClauseAwarded,
    ClauseIdentified,
    DomainEvent,
    FinalReportRecorded,
)
from workflow.domain.stages import ClauseEvent, Stage
from workflow.domain.vocabulary import NoticePreference, PartyRole
from workflow.errors import ConcurrentChange, InputRefused, NotFound, TransitionRefused
from workflow.services import catalog
from workflow.services import clauses as service
from workflow.services.catalog import CalendarChange
from workflow.services.clauses import ClauseParameters, PartyInput, no_publish

SIRET_A = "73282932000074"
SIRET_B = "35600000000048"  # La Poste's head office: passes Luhn


class Recorder:
    """Stands in for the notice service: keeps what was published, writes nothing."""

    def __init__(self) -> None:
        self.events: list[DomainEvent] = []

    def __call__(self, app: App, session: Session, event: DomainEvent) -> None:
        self.events.append(event)


@pytest.fixture
def recorder(app: App) -> Recorder:
    recording = Recorder()
    app.handlers = {kind: [recording] for kind in EVENT_TYPES}
    return recording


@dataclass(frozen=True)
class Territory:
    buyer_id: int
    market_id: int
    company_id: int
    correspondent_id: int
    partner_id: int


@pytest.fixture
def territory(app: App, recorder: Recorder) -> Territory:
    now = app.clock()
    with app.transaction() as session:
        buyer = catalog.add_buyer(
            session,
            name="Département de l'Exemple",
            kind="département",
            now=now,
            settings=app.settings,
        )
        catalog.add_buyer_contact(
            session, buyer.id, name="Anne Achat", email="anne.achat@example.org", role="acheteuse"
        )
        operation = catalog.add_operation(
            session, buyer.id, name="Collège de l'Exemple", place="Auch", now=now
        )
        market = catalog.add_market(
            session, operation.id, reference="M-2026-01", title="Construction"
        )
        company = catalog.add_company(session, name="BTP Exemple", siret=SIRET_A, now=now)
        person = catalog.add_correspondent(
            session,
            company.id,
            name="Paul Chantier",
            email="paul@example.org",
            now=now,
            actor="test",
            publish=no_publish,
        )
        partner = catalog.add_company(session, name="Insertion Services", now=now)
        return Territory(buyer.id, market.id, company.id, person.id, partner.id)


MAIN_LOT = ClauseParameters(
    amount_excl_tax=Decimal(3_780_000),
    labour_share=Decimal("0.5"),
    insertion_rate=Decimal("0.075"),
    hourly_cost=Decimal(30),
)


def add_lot(
    app: App, territory: Territory, number: str = "1", params: ClauseParameters = MAIN_LOT
) -> int:
    with app.transaction() as session:
        clause = catalog.add_lot(
            session,
            territory.market_id,
            lot_number=number,
            lot_title="Gros œuvre",
            params=params,
            actor="Camille Martin",
            now=app.clock(),
            publish=app.publish,
            settings=app.settings,
        )
        return clause.id


def advance(
    app: App,
    clause_id: int,
    event: ClauseEvent,
    *,
    reason: str | None = None,
    end_date: date | None = None,
) -> ClauseAdvanced:
    with app.transaction() as session:
        return service.advance_clause(
            session,
            clause_id,
            event,
            actor="Camille Martin",
            reason=reason,
            now=app.clock(),
            publish=app.publish,
            end_date=end_date,
        )


def award(app: App, clause_id: int, territory: Territory) -> None:
    with app.transaction() as session:
        service.record_award(
            session,
            clause_id,
            parties=[
                PartyInput(
                    territory.company_id, PartyRole.HOLDER, territory.correspondent_id, 4000
                ),
                PartyInput(territory.partner_id, PartyRole.SUBCONTRACTOR, None, 725),
            ],
            start_date=date(2026, 4, 1),
            planned_end_date=date(2027, 6, 30),
            actor="Camille Martin",
            now=app.clock(),
            publish=app.publish,
        )


def report(app: App, clause_id: int) -> None:
    with app.transaction() as session:
        service.record_final_report(
            session,
            clause_id,
            text="4 900 heures réalisées, 2 CDI.",
            actor="Camille Martin",
            now=app.clock(),
            publish=app.publish,
        )


@dataclass(frozen=True)
class Snapshot:
    stage: str
    version: int
    history: int
    end_date: date | None
    parties: int


def snapshot(app: App, clause_id: int) -> Snapshot:
    with app.transaction() as session:
        clause = session.get_one(Clause, clause_id)
        count = session.scalar(
            select(func.count())
            .select_from(ClauseHistory)
            .where(ClauseHistory.clause_id == clause_id)
        )
        return Snapshot(
            clause.stage, clause.version, int(count or 0), clause.end_date, len(clause.parties)
        )


def history(app: App, clause_id: int) -> list[tuple[str, str | None, str]]:
    with app.transaction() as session:
        rows = session.scalars(
            select(ClauseHistory)
            .where(ClauseHistory.clause_id == clause_id)
            .order_by(ClauseHistory.id)
        )
        return [(row.event, row.from_stage, row.to_stage) for row in rows]


def walk_to(app: App, clause_id: int, territory: Territory, stage: Stage) -> None:
    """Move a fresh clause to ``stage`` the legitimate way."""
    path = [Stage.DRAFTING, Stage.AWARD, Stage.EXECUTION, Stage.FOLLOW_UP]
    for target in path[: path.index(stage) + 1]:
        if target is Stage.DRAFTING:
            advance(app, clause_id, ClauseEvent.DRAFT)
        elif target is Stage.AWARD:
            advance(app, clause_id, ClauseEvent.AWARD)
        elif target is Stage.EXECUTION:
            award(app, clause_id, territory)
            advance(app, clause_id, ClauseEvent.START)
        else:
            advance(app, clause_id, ClauseEvent.FINISH, end_date=date(2027, 5, 31))


# --- the whole life ---------------------------------------------------------------------------


def test_it_walks_a_clause_from_identification_to_closed(
    app: App, clock: Clock, territory: Territory, recorder: Recorder
) -> None:
    clause_id = add_lot(app, territory)
    clock.set(clock.now + timedelta(days=10))
    advance(app, clause_id, ClauseEvent.DRAFT, reason="lot retenu avec le donneur d'ordre")
    clock.set(clock.now + timedelta(days=30))
    advance(app, clause_id, ClauseEvent.AWARD)
    award(app, clause_id, territory)
    advance(app, clause_id, ClauseEvent.START)
    clock.set(clock.now + timedelta(days=400))
    advance(app, clause_id, ClauseEvent.FINISH, end_date=date(2027, 5, 31))
    report(app, clause_id)
    advance(app, clause_id, ClauseEvent.CLOSE, reason="bilan remis")

    assert history(app, clause_id) == [
        ("identify", None, "identification"),
        ("draft", "identification", "drafting"),
        ("award", "drafting", "award"),
        ("award_recorded", "award", "award"),
        ("start", "award", "execution"),
        ("finish", "execution", "follow_up"),
        ("final_report", "follow_up", "follow_up"),
        ("close", "follow_up", "closed"),
    ]
    state = snapshot(app, clause_id)
    assert (state.stage, state.version, state.end_date, state.parties) == (
        "closed",
        6,
        date(2027, 5, 31),
        2,
    )
    kinds = [type(e).__name__ for e in recorder.events]
    assert kinds == [
        "ClauseIdentified",
        "ClauseAdvanced",
        "ClauseAdvanced",
        "ClauseAwarded",
        "ClauseAdvanced",
        "ClauseAdvanced",
        "FinalReportRecorded",
        "ClauseAdvanced",
    ]
    assert isinstance(recorder.events[0], ClauseIdentified)
    assert isinstance(recorder.events[3], ClauseAwarded)
    assert isinstance(recorder.events[6], FinalReportRecorded)
    last = recorder.events[-1]
    assert isinstance(last, ClauseAdvanced)
    assert (last.from_stage, last.to_stage, last.reason) == (
        Stage.FOLLOW_UP,
        Stage.CLOSED,
        "bilan remis",
    )


def test_it_keeps_who_when_and_why_in_each_history_row(
    app: App, clock: Clock, territory: Territory
) -> None:
    clause_id = add_lot(app, territory)
    clock.set(clock.now + timedelta(hours=3))
    advance(app, clause_id, ClauseEvent.DRAFT, reason="retenu en comité")
    with app.transaction() as session:
        row = session.scalars(select(ClauseHistory).where(ClauseHistory.event == "draft")).one()
        assert (row.actor, row.at, row.reason) == ("Camille Martin", clock.now, "retenu en comité")
        clause = session.get_one(Clause, clause_id)
        assert clause.stage_changed_at == clock.now


# --- refusals change nothing ------------------------------------------------------------------


def test_it_leaves_the_database_unchanged_when_an_event_is_not_allowed(
    app: App, territory: Territory, recorder: Recorder
) -> None:
    clause_id = add_lot(app, territory)
    advance(app, clause_id, ClauseEvent.DRAFT)
    before = snapshot(app, clause_id)
    published = len(recorder.events)
    with pytest.raises(TransitionRefused) as refused:
        advance(app, clause_id, ClauseEvent.START)
    message = refused.value.message
    assert f"Clause n° {clause_id} (marché M-2026-01 lot 1 – Gros œuvre)" in message
    assert "« calibrage et rédaction »" in message
    assert "« démarrer » n'y est pas permis" in message
    assert message.endswith("Permis maintenant\u00a0: attribuer, abandonner.")
    assert "attribuer (award), abandonner (abandon)" in refused.value.command_line_message
    assert snapshot(app, clause_id) == before
    assert len(recorder.events) == published


def test_it_leaves_the_database_unchanged_when_a_guard_refuses(
    app: App, territory: Territory, recorder: Recorder
) -> None:
    clause_id = add_lot(app, territory, params=ClauseParameters())
    advance(app, clause_id, ClauseEvent.DRAFT)
    before = snapshot(app, clause_id)
    with pytest.raises(TransitionRefused, match="il manque le nombre d'heures d'insertion"):
        advance(app, clause_id, ClauseEvent.AWARD)
    assert snapshot(app, clause_id) == before
    with app.transaction() as session:
        service.set_hours_override(
            session, clause_id, 300, reason="arbitrage", actor="Camille Martin", now=app.clock()
        )
    assert advance(app, clause_id, ClauseEvent.AWARD).to_stage is Stage.AWARD


def test_it_refuses_to_start_before_the_award_is_recorded(app: App, territory: Territory) -> None:
    clause_id = add_lot(app, territory)
    walk_to(app, clause_id, territory, Stage.AWARD)
    before = snapshot(app, clause_id)
    with pytest.raises(TransitionRefused) as refused:
        advance(app, clause_id, ClauseEvent.START)
    assert "une entreprise attributaire avec l'adresse e-mail de son correspondant" in (
        refused.value.message
    )
    assert "la date de démarrage" in refused.value.message
    assert snapshot(app, clause_id) == before


def test_it_refuses_to_finish_without_an_end_date_and_keeps_a_bad_one_out(
    app: App, territory: Territory
) -> None:
    clause_id = add_lot(app, territory)
    walk_to(app, clause_id, territory, Stage.EXECUTION)
    before = snapshot(app, clause_id)
    with pytest.raises(TransitionRefused, match="il manque la date de fin d'exécution"):
        advance(app, clause_id, ClauseEvent.FINISH)
    with pytest.raises(InputRefused, match="antérieure au démarrage 01/04/2026"):
        advance(app, clause_id, ClauseEvent.FINISH, end_date=date(2026, 3, 1))
    assert snapshot(app, clause_id) == before


def test_it_refuses_to_close_without_the_final_report(app: App, territory: Territory) -> None:
    clause_id = add_lot(app, territory)
    walk_to(app, clause_id, territory, Stage.FOLLOW_UP)
    before = snapshot(app, clause_id)
    with pytest.raises(TransitionRefused, match="il manque le bilan de l'opération"):
        advance(app, clause_id, ClauseEvent.CLOSE)
    assert snapshot(app, clause_id) == before


def test_it_records_the_award_and_the_report_only_at_their_stage(
    app: App, territory: Territory
) -> None:
    clause_id = add_lot(app, territory)
    before = snapshot(app, clause_id)
    with pytest.raises(InputRefused, match="l'attribution s'enregistre à l'étape « attribution »"):
        award(app, clause_id, territory)
    with pytest.raises(InputRefused, match="le bilan s'enregistre à l'étape « suivi et bilan »"):
        report(app, clause_id)
    assert snapshot(app, clause_id) == before


def test_it_refuses_an_award_that_names_a_company_twice_or_a_foreign_correspondent(
    app: App, territory: Territory
) -> None:
    clause_id = add_lot(app, territory)
    walk_to(app, clause_id, territory, Stage.AWARD)
    before = snapshot(app, clause_id)

    def record(parties: list[PartyInput]) -> None:
        with app.transaction() as session:
            service.record_award(
                session,
                clause_id,
                parties=parties,
                start_date=date(2026, 4, 1),
                planned_end_date=date(2027, 6, 30),
                actor="Camille Martin",
                now=app.clock(),
                publish=app.publish,
            )

    holder = PartyInput(territory.company_id, PartyRole.HOLDER, territory.correspondent_id)
    with pytest.raises(InputRefused, match="figure deux fois"):
        record([holder, PartyInput(territory.company_id, PartyRole.SUBCONTRACTOR)])
    with pytest.raises(InputRefused, match="n'appartient pas à l'entreprise Insertion Services"):
        record(
            [
                holder,
                PartyInput(
                    territory.partner_id, PartyRole.CO_CONTRACTOR, territory.correspondent_id
                ),
            ]
        )
    with pytest.raises(InputRefused, match="exactement une entreprise titulaire"):
        record([PartyInput(territory.partner_id, PartyRole.CO_CONTRACTOR)])
    with pytest.raises(NotFound, match="Aucune entreprise n° 999"):
        record([PartyInput(999, PartyRole.HOLDER)])
    assert snapshot(app, clause_id) == before


def test_it_refuses_a_stale_version_with_a_clear_message(app: App, territory: Territory) -> None:
    clause_id = add_lot(app, territory)
    before = snapshot(app, clause_id)
    with app.transaction() as session, pytest.raises(ConcurrentChange) as conflict:
        service.advance_clause(
            session,
            clause_id,
            ClauseEvent.DRAFT,
            actor="Camille Martin",
            reason=None,
            now=app.clock(),
            publish=app.publish,
            expected_version=before.version + 5,
        )
    assert "a changé (version 1, vous aviez la version 6)" in conflict.value.message
    assert snapshot(app, clause_id) == before


def test_it_says_which_clause_does_not_exist(app: App, territory: Territory) -> None:
    with pytest.raises(NotFound, match="Aucune clause n° 404"):
        advance(app, 404, ClauseEvent.DRAFT)


# --- side paths -------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", [Stage.IDENTIFICATION, Stage.DRAFTING, Stage.AWARD])
def test_it_abandons_a_clause_before_execution_and_then_refuses_everything(
    app: App, territory: Territory, stage: Stage
) -> None:
    clause_id = add_lot(app, territory)
    if stage is not Stage.IDENTIFICATION:
        walk_to(app, clause_id, territory, stage)
    advance(app, clause_id, ClauseEvent.ABANDON, reason="marché infructueux")
    assert history(app, clause_id)[-1] == ("abandon", stage.value, "abandoned")
    after = snapshot(app, clause_id)
    assert after.stage == "abandoned"
    for event in ClauseEvent:
        with pytest.raises(TransitionRefused, match=r"aucun \(étape finale\)"):
            advance(app, clause_id, event)
    assert snapshot(app, clause_id) == after


@pytest.mark.parametrize("stage", [Stage.EXECUTION, Stage.FOLLOW_UP])
def test_it_refuses_to_abandon_once_execution_has_started(
    app: App, territory: Territory, stage: Stage
) -> None:
    clause_id = add_lot(app, territory)
    walk_to(app, clause_id, territory, stage)
    with pytest.raises(TransitionRefused, match="« abandonner » n'y est pas permis"):
        advance(app, clause_id, ClauseEvent.ABANDON)


def test_it_suspends_and_resumes_an_execution(app: App, territory: Territory) -> None:
    clause_id = add_lot(app, territory)
    walk_to(app, clause_id, territory, Stage.EXECUTION)
    advance(app, clause_id, ClauseEvent.SUSPEND, reason="chantier arrêté (intempéries)")
    assert snapshot(app, clause_id).stage == "suspended"
    with pytest.raises(TransitionRefused) as refused:
        advance(app, clause_id, ClauseEvent.FINISH, end_date=date(2027, 5, 31))
    assert (
        "Permis maintenant : reprendre (resume), résilier (terminate)."
        in refused.value.command_line_message
    )
    assert "Permis maintenant\u00a0: reprendre, résilier." in refused.value.message
    assert snapshot(app, clause_id).end_date is None
    advance(app, clause_id, ClauseEvent.RESUME)
    advance(app, clause_id, ClauseEvent.FINISH, end_date=date(2027, 5, 31))
    assert history(app, clause_id)[-3:] == [
        ("suspend", "execution", "suspended"),
        ("resume", "suspended", "execution"),
        ("finish", "execution", "follow_up"),
    ]


# --- hours: computed, imposed, recalculated ---------------------------------------------------


def test_it_keeps_the_computed_hours_beside_the_imposed_ones(
    app: App, territory: Territory
) -> None:
    clause_id = add_lot(app, territory)
    with app.transaction() as session:
        service.set_hours_override(
            session, clause_id, 5000, reason="avenant n° 1", actor="Camille Martin", now=app.clock()
        )
    with app.transaction() as session:
        clause = session.get_one(Clause, clause_id)
        assert (clause.hours_computed, clause.hours_override, clause.hours_target) == (
            4725,
            5000,
            5000,
        )
        assert clause.override_reason == "avenant n° 1"
    assert history(app, clause_id)[-1] == ("hours_override", "identification", "identification")


@pytest.mark.parametrize(
    ("hours", "reason", "words"),
    [(0, "avenant", "doit être un nombre entier positif"), (100, "  ", "indiquez la raison")],
)
def test_it_refuses_an_override_without_hours_or_reason(
    app: App, territory: Territory, hours: int, reason: str, words: str
) -> None:
    clause_id = add_lot(app, territory)
    before = snapshot(app, clause_id)
    with app.transaction() as session, pytest.raises(InputRefused, match=words):
        service.set_hours_override(
            session, clause_id, hours, reason=reason, actor="Camille Martin", now=app.clock()
        )
    assert snapshot(app, clause_id) == before


def test_it_freezes_the_hours_of_a_closed_clause(app: App, territory: Territory) -> None:
    clause_id = add_lot(app, territory)
    advance(app, clause_id, ClauseEvent.ABANDON)
    with app.transaction() as session, pytest.raises(InputRefused, match="ne changent plus"):
        service.set_hours_override(
            session, clause_id, 10, reason="x", actor="Camille Martin", now=app.clock()
        )


def test_it_recomputes_the_hours_when_a_figure_changes(app: App, territory: Territory) -> None:
    clause_id = add_lot(app, territory, params=ClauseParameters(amount_excl_tax=Decimal(1_000_000)))
    with app.transaction() as session:
        clause, calculation = service.set_parameters(
            session,
            clause_id,
            labour_share=Decimal("0.5"),
            insertion_rate=Decimal("0.05"),
            hourly_cost=Decimal(30),
            actor="Camille Martin",
            now=app.clock(),
        )
        assert calculation is not None and calculation.hours == 833
        assert clause.hours_computed == 833
    walk_to(app, clause_id, territory, Stage.AWARD)
    with app.transaction() as session, pytest.raises(InputRefused, match="imposez le nombre"):
        service.set_parameters(
            session, clause_id, hourly_cost=Decimal(25), actor="Camille Martin", now=app.clock()
        )


# --- the catalogue ----------------------------------------------------------------------------


def test_it_creates_a_lot_with_its_history_row_and_event(
    app: App, territory: Territory, recorder: Recorder
) -> None:
    clause_id = add_lot(app, territory)
    assert history(app, clause_id) == [("identify", None, "identification")]
    assert recorder.events == [
        ClauseIdentified(clause_id=clause_id, at=app.clock(), actor="Camille Martin")
    ]
    with app.transaction() as session:
        clause = session.get_one(Clause, clause_id)
        assert (clause.hours_computed, clause.stage, clause.version) == (4725, "identification", 1)
        assert clause.labour_share == Decimal("0.5")
        assert clause.insertion_rate == Decimal("0.075")


def test_it_refuses_a_second_lot_with_the_same_number(app: App, territory: Territory) -> None:
    first = add_lot(app, territory, number="2")
    with pytest.raises(
        InputRefused, match=f"Le lot 2 du marché « M-2026-01 » existe déjà \\(clause n° {first}\\)"
    ):
        add_lot(app, territory, number="2")


def test_it_refuses_figures_the_database_would_cut(app: App, territory: Territory) -> None:
    params = ClauseParameters(amount_excl_tax=Decimal("1000.005"))
    with pytest.raises(
        InputRefused, match=re.escape("Montant HT : « 1000.005 » a plus de deux décimales")
    ):
        add_lot(app, territory, number="9", params=params)
    with app.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Clause)) == 0


def test_it_requires_a_reason_for_hours_imposed_at_creation(app: App, territory: Territory) -> None:
    with pytest.raises(InputRefused, match="indiquez la raison"):
        add_lot(app, territory, params=ClauseParameters(hours_override=300))


def test_it_refuses_duplicate_buyers_operations_markets_and_sirets(
    app: App, territory: Territory
) -> None:
    now = app.clock()
    cases: list[tuple[Callable[[Session], object], str]] = [
        (
            lambda s: catalog.add_buyer(
                s, name=" Département  de l'Exemple ", now=now, settings=app.settings
            ),
            "existe déjà (n° 1)",
        ),
        (
            lambda s: catalog.add_operation(
                s, territory.buyer_id, name="Collège de l'Exemple", now=now
            ),
            "existe déjà chez",
        ),
        (lambda s: catalog.add_market(s, 1, reference="M-2026-01"), "existe déjà dans l'opération"),
        (
            lambda s: catalog.add_company(s, name="Autre", siret="732 829 320 00074", now=now),
            "déjà celui de l'entreprise « BTP Exemple »",
        ),
    ]
    for action, words in cases:
        with app.transaction() as session, pytest.raises(InputRefused, match=re.escape(words)):
            action(session)


@pytest.mark.parametrize(
    ("call", "words"),
    [
        ("contact", "Aucun donneur d'ordre n° 77. La liste : « clauses buyer list »."),
        ("operation", "Aucun donneur d'ordre n° 77."),
        ("market", "Aucune opération n° 77."),
        ("lot", "Aucun marché n° 77."),
        ("correspondent", "Aucune entreprise n° 77."),
    ],
)
def test_it_names_what_it_could_not_find(
    app: App, territory: Territory, call: str, words: str
) -> None:
    now = app.clock()
    with app.transaction() as session, pytest.raises(NotFound) as missing:
        if call == "contact":
            catalog.add_buyer_contact(session, 77, name="X", email="x@example.org")
        elif call == "operation":
            catalog.add_operation(session, 77, name="X", now=now)
        elif call == "market":
            catalog.add_market(session, 77, reference="X")
        elif call == "lot":
            catalog.add_lot(
                session,
                77,
                lot_number="1",
                lot_title="X",
                params=ClauseParameters(),
                actor="a",
                now=now,
                publish=app.publish,
                settings=app.settings,
            )
        else:
            catalog.add_correspondent(
                session,
                77,
                name="X",
                email="x@example.org",
                now=now,
                actor="test",
                publish=app.publish,
            )
    # The command line names the command that lists them; the web pages and the API do not.
    assert words in missing.value.command_line_message
    assert words.split(" La liste")[0] in missing.value.message
    assert "clauses " not in missing.value.message


def test_it_keeps_a_buyers_preference_and_calendar(app: App, territory: Territory) -> None:
    with app.transaction() as session:
        buyer = catalog.add_buyer(
            session,
            name="Ville de l'Exemple",
            notice_preference="mensuel",
            calendar=CalendarChange(due_day=15, reminder_offsets="2, 5", escalation_offset=12),
            now=app.clock(),
            settings=app.settings,
        )
        buyer_id = buyer.id
    with app.transaction() as session:
        listed = {b.id: b for b in catalog.list_buyers(session)}
        stored = listed[buyer_id]
        assert stored.notice_preference == NoticePreference.MONTHLY_ONLY.value
        assert (stored.declaration_due_day, stored.reminder_offsets, stored.escalation_offset) == (
            15,
            "2,5",
            12,
        )
        assert [c.email for c in listed[territory.buyer_id].contacts] == ["anne.achat@example.org"]


def test_it_accepts_la_postes_establishments_and_stores_the_bare_digits(
    app: App, territory: Territory
) -> None:
    with app.transaction() as session:
        company = catalog.add_company(
            session, name="La Poste", siret="356 000 000 00048", now=app.clock()
        )
        branch = catalog.add_company(
            session, name="La Poste Auch", siret="35600000049837", now=app.clock()
        )
        assert (company.siret, branch.siret) == (SIRET_B, "35600000049837")
