"""Buyer notices held for want of a contact, released by the clock once the buyer has one, on
SQLite and PostgreSQL: once, to that contact, the latest only, with the lot's figures."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from tests.conftest import Clock, make_settings
from tests.integration.test_notices import Walk, at, make_territory
from tests.text import squash, visible
from workflow.adapters.orm import Buyer, DeclarationLadder, HeldNotice, OutboxMessage
from workflow.app import catalog, clauses, corrections, imports
from workflow.bootstrap import App, bootstrap
from workflow.domain.stages import ClauseEvent
from workflow.domain.vocabulary import PartyRole
from workflow.services import ticks
from workflow.services.held_notices import (
    release_clause,
    release_held_notices,
    waiting_by_buyer,
)
from workflow.settings import Settings

ACTOR = "Camille Martin"
BUYER = "Commune de Lectoure"
LOTS = (
    "Opération;Donneur d'ordre;N° marché;Lot;Intitulé du lot;Montant HT (€);Part main-d'œuvre;"
    "Taux d'insertion;Coût horaire chargé (€);Heures imposées;Notification prévue\n"
    f"Construction du gymnase;{BUYER};2026-031;01;Gros œuvre;1 000 000,00;50 %;5 %;30,00;;"
    "15/02/2026\n"
)
HELD_SENTENCE = (
    "Ce message n'avait pas pu vous être envoyé le {day}\u00a0: aucun contact n'était enregistré."
)


def buyer_notices(app: App) -> list[OutboxMessage]:
    with app.transaction() as session:
        return list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.kind.startswith("notice_"))
                .order_by(OutboxMessage.id)
            )
        )


def held(app: App) -> list[tuple[str, str | None]]:
    """Each held notice's kind and how it was settled (None: still held), oldest first."""
    with app.transaction() as session:
        return [
            (row.kind, row.outcome)
            for row in session.scalars(select(HeldNotice).order_by(HeldNotice.id))
        ]


def import_and_award(app: App, clock: Clock, tmp_path: Path) -> int:
    """A lot imported for a buyer the import creates (no contact), drafted, awarded."""
    path = tmp_path / "lots.csv"
    path.write_text(LOTS, encoding="utf-8")
    clock.set(at(date(2026, 1, 12)))
    clause_id = imports.import_lots(app, path, actor=ACTOR).lots[0].clause_id
    clock.set(at(date(2026, 1, 19)))
    clauses.advance_clause(app, clause_id, ClauseEvent.DRAFT, actor=ACTOR)
    clock.set(at(date(2026, 2, 2)))
    clauses.advance_clause(app, clause_id, ClauseEvent.AWARD, actor=ACTOR)
    company = catalog.add_company(app, "Bâtiments Gascons", actor=ACTOR)
    catalog.add_correspondent(
        app, company.id, name="Paul Lambert", email="paul.lambert@example.org", actor=ACTOR
    )
    clock.set(at(date(2026, 2, 9)))
    clauses.award_clause(
        app,
        clause_id,
        parties=(clauses.PartyChoice(company.id, PartyRole.HOLDER, hours_share=833),),
        start_date=date(2026, 3, 2),
        planned_end_date=date(2026, 6, 30),
        actor=ACTOR,
    )
    return clause_id


def test_a_buyer_without_contact_learns_where_its_lot_stands_once_a_contact_is_added(
    app: App, clock: Clock, tmp_path: Path
) -> None:
    clause_id = import_and_award(app, clock, tmp_path)
    # Identified, drafted (award stage), awarded: nothing queued for the buyer, all held.
    assert buyer_notices(app) == []
    assert held(app) == [
        ("notice_identified", None),
        ("notice_drafted", None),
        ("notice_awarded", None),
    ]
    # The company, which has a correspondent, was welcomed as usual.
    with app.transaction() as session:
        kinds = session.scalars(select(OutboxMessage.kind)).all()
    assert "company_welcome" in kinds

    # A pass while the buyer still has no contact releases nothing.
    ticks.run_pass(app, at(date(2026, 2, 10)), dispatch=False)
    assert buyer_notices(app) == []
    assert [outcome for _, outcome in held(app)] == [None, None, None]

    clock.set(at(date(2026, 2, 11)))
    catalog.add_buyer_contact(
        app, BUYER, name="Claire Dupont", email="claire.dupont@example.org", actor=ACTOR
    )
    report = ticks.run_pass(app, datetime(2026, 2, 11, 9, 5, tzinfo=UTC), dispatch=False)
    # The pass counts it among what it queued (``tick`` says it).
    assert (report.held_notices, report.as_dict()["held_notices"]) == (1, 1)

    # The latest only, to the new contact, under the key it would have had.
    (notice,) = buyer_notices(app)
    assert notice.kind == "notice_awarded"
    assert notice.recipients == "Claire Dupont <claire.dupont@example.org>"
    assert notice.clause_id == clause_id
    assert notice.key == f"notice:{clause_id}:notice_awarded:2026-02-09T09:00:00+00:00"
    text = squash(notice.body_text)
    assert HELD_SENTENCE.format(day="9 février 2026") in text
    assert "L'attribution du lot 01" in text and "Donneur d'ordre : Commune de Lectoure" in text
    assert "(le 9 février 2026)" in text
    assert "Bâtiments Gascons (titulaire) : 833\u00a0h d'insertion" in text
    assert "correspondant insertion : Paul Lambert" in text
    # 1 000 000 € × 50 % × 5 % ÷ 30 €/h = 833 h, 4 monthly declarations (March to June).
    assert "Heures d'insertion à réaliser : 833\u00a0h" in text
    assert "soit 4 déclarations mensuelles" in text
    assert HELD_SENTENCE.format(day="9 février 2026") in visible(notice.body_html)
    assert held(app) == [
        ("notice_identified", "superseded"),
        ("notice_drafted", "superseded"),
        ("notice_awarded", "released"),
    ]

    # Released once: the next passes queue nothing more.
    again = ticks.run_pass(app, datetime(2026, 2, 11, 9, 35, tzinfo=UTC), dispatch=False)
    ticks.run_pass(app, datetime(2026, 2, 12, 9, 5, tzinfo=UTC), dispatch=False)
    assert [row.id for row in buyer_notices(app)] == [notice.id]
    assert again.held_notices == 0


def test_a_contact_whose_address_is_corrected_receives_them_too(app: App, clock: Clock) -> None:
    """Whatever path gives the buyer an address: here a contact that had none gets one."""
    clock.set(at(date(2025, 10, 6)))
    territory = make_territory(app, clock)
    with app.transaction() as session:
        buyer = session.scalars(select(Buyer)).one()
        buyer.contacts[0].email = " "
        del buyer.contacts[1]
    walk = Walk(app, clock, territory)
    walk.create()
    assert held(app) == [("notice_identified", None)]
    ticks.run_pass(app, at(date(2025, 10, 7)), dispatch=False)
    assert buyer_notices(app) == []

    with app.transaction() as session:
        buyer = session.scalars(select(Buyer)).one()
        buyer.contacts[0].email = "claire.dupont@example.org"
    ticks.run_pass(app, at(date(2025, 10, 8)), dispatch=False)
    (notice,) = buyer_notices(app)
    assert notice.kind == "notice_identified"
    assert notice.recipients == "Claire Dupont <claire.dupont@example.org>"
    text = squash(notice.body_text)
    assert HELD_SENTENCE.format(day="6 octobre 2025") in text
    assert "a été repéré le 6 octobre 2025" in text
    assert "Heures d'insertion estimées : 4\u202f725\u00a0h" in text


def contactless_walk(app: App, clock: Clock) -> Walk:
    clock.set(at(date(2025, 10, 6)))
    territory = make_territory(app, clock)
    with app.transaction() as session:
        buyer = session.scalars(select(Buyer)).one()
        buyer.contacts.clear()
    return Walk(app, clock, territory)


def add_contact(app: App, clock: Clock, day: date) -> None:
    clock.set(at(day))
    catalog.add_buyer_contact(
        app,
        "Département de l'Exemple",
        name="Claire Dupont",
        email="claire.dupont@example.org",
        actor=ACTOR,
    )


def test_a_lot_ended_meanwhile_reports_the_figures_of_the_day_it_leaves(
    app: App, clock: Clock
) -> None:
    walk = contactless_walk(app, clock)
    walk.create()
    walk.advance(ClauseEvent.DRAFT, date(2025, 11, 3))
    walk.advance(ClauseEvent.AWARD, date(2025, 12, 15))
    walk.award(date(2026, 2, 9))
    walk.advance(ClauseEvent.START, date(2026, 3, 2))
    walk.declare(date(2026, 3, 1), ("120", "80.5"), date(2026, 4, 7))
    walk.advance(ClauseEvent.FINISH, date(2026, 6, 26), end_date=date(2026, 6, 26))
    # A month declared late, after the end: the notice leaves with it counted.
    walk.declare(date(2026, 4, 1), ("60",), date(2026, 7, 8))
    assert buyer_notices(app) == []
    assert [kind for kind, _ in held(app)] == [
        "notice_identified",
        "notice_drafted",
        "notice_awarded",
        "notice_execution_started",
        "notice_execution_ended",
    ]

    add_contact(app, clock, date(2026, 7, 9))
    ticks.run_pass(app, at(date(2026, 7, 10)), dispatch=False)
    (notice,) = buyer_notices(app)
    assert notice.kind == "notice_execution_ended"
    # 120 + 80,5 + 60 = 260,5 h of a 4 725 h target, May and June still to declare.
    assert notice.subject.startswith(
        "Fin d'exécution : 260,50 h d'insertion déclarées à ce jour sur 4 725 h"
    )
    text = squash(notice.body_text)
    assert "Heures déclarées à ce jour : 260,50" in text
    assert (
        "Déclarations mensuelles reçues : 2 sur 8 (4 mois × 2 entreprises), 6 encore attendues"
        in text
    )
    assert HELD_SENTENCE.format(day="26 juin 2026") in text
    assert [outcome for _, outcome in held(app)] == ["superseded"] * 4 + ["released"]


def test_a_late_start_notice_gives_the_due_date_the_call_gave(app: App, clock: Clock) -> None:
    """Released after the first call left: the first month is announced with the due date the
    company was given (a catch-up call's), not the schedule's, long past."""
    walk = contactless_walk(app, clock)
    walk.create()
    walk.advance(ClauseEvent.DRAFT, date(2025, 11, 3))
    walk.advance(ClauseEvent.AWARD, date(2025, 12, 15))
    walk.award(date(2026, 2, 9))
    walk.advance(ClauseEvent.START, date(2026, 3, 2))
    ticks.run_pass(app, at(date(2026, 4, 1)), dispatch=False)
    with app.transaction() as session:
        ladders = session.scalars(
            select(DeclarationLadder).where(DeclarationLadder.month == date(2026, 3, 1))
        ).all()
        assert ladders  # the call for March left
        for ladder in ladders:
            ladder.due_on = date(2026, 4, 24)  # as a catch-up call holds it
    add_contact(app, clock, date(2026, 4, 20))
    ticks.run_pass(app, at(date(2026, 4, 21)), dispatch=False)

    (notice,) = buyer_notices(app)
    assert notice.kind == "notice_execution_started"
    text = squash(notice.body_text)
    assert "La première déclaration, pour mars 2026, est attendue le 24 avril 2026." in text


def test_an_abandoned_lot_tells_its_buyer_it_was_abandoned_and_why(app: App, clock: Clock) -> None:
    walk = contactless_walk(app, clock)
    walk.create()
    walk.advance(ClauseEvent.DRAFT, date(2025, 11, 3))
    walk.advance(ClauseEvent.ABANDON, date(2025, 12, 1), reason="Consultation sans suite")

    add_contact(app, clock, date(2026, 1, 5))
    ticks.run_pass(app, at(date(2026, 1, 6)), dispatch=False)
    (notice,) = buyer_notices(app)
    assert notice.kind == "notice_abandoned"
    text = squash(notice.body_text)
    assert "Motif indiqué : Consultation sans suite" in text
    assert HELD_SENTENCE.format(day="1er décembre 2025") in text
    assert held(app) == [("notice_identified", "superseded"), ("notice_abandoned", "released")]


def test_a_notice_queued_after_the_contact_came_supersedes_the_held_ones(
    app: App, clock: Clock
) -> None:
    """The contact came, then a milestone before the next pass: its notice says where the lot
    stands; the older held one does not follow it."""
    walk = contactless_walk(app, clock)
    walk.create()
    walk.advance(ClauseEvent.DRAFT, date(2025, 11, 3))
    add_contact(app, clock, date(2025, 12, 15))
    walk.advance(ClauseEvent.AWARD, date(2025, 12, 15))
    assert [row.kind for row in buyer_notices(app)] == ["notice_drafted"]

    ticks.run_pass(app, at(date(2025, 12, 16)), dispatch=False)
    assert [row.kind for row in buyer_notices(app)] == ["notice_drafted"]
    assert held(app) == [("notice_identified", "superseded")]


def test_a_buyer_that_chose_the_monthly_summary_since_gets_no_milestone(
    app: App, clock: Clock
) -> None:
    walk = contactless_walk(app, clock)
    walk.create()
    with app.transaction() as session:
        buyer = session.scalars(select(Buyer)).one()
        buyer.notice_preference = "monthly_only"
    add_contact(app, clock, date(2025, 10, 7))
    ticks.run_pass(app, at(date(2025, 10, 8)), dispatch=False)
    assert buyer_notices(app) == []
    assert held(app) == [("notice_identified", "dropped")]


def test_a_held_final_report_still_leaves_when_the_latest_notice_is_dropped(
    app: App, clock: Clock
) -> None:
    """Final report held, then the lot reopened (held too), then the buyer chose the monthly
    summary: the reopening is dropped, but the final report, which always leaves, still does."""
    walk = contactless_walk(app, clock)
    walk.create()
    with app.transaction() as session:
        [identified] = session.scalars(select(HeldNotice)).all()
        for n, (kind, event_name) in enumerate(
            (("notice_final_report", "final_report"), ("notice_reopened", "reopen")), start=1
        ):
            session.add(
                HeldNotice(
                    key=f"notice:{identified.clause_id}:{kind}:test",
                    clause_id=identified.clause_id,
                    buyer_id=identified.buyer_id,
                    kind=kind,
                    history_event=event_name,
                    cause="test",
                    held_at=identified.held_at + timedelta(hours=n),
                )
            )
        session.scalars(select(Buyer)).one().notice_preference = "monthly_only"
    add_contact(app, clock, date(2025, 10, 7))
    ticks.run_pass(app, at(date(2025, 10, 8)), dispatch=False)

    assert [row.kind for row in buyer_notices(app)] == ["notice_final_report"]
    assert held(app) == [
        ("notice_identified", "superseded"),
        ("notice_final_report", "released"),
        ("notice_reopened", "dropped"),
    ]


def test_the_same_events_handled_again_hold_nothing_more(app: App, clock: Clock) -> None:
    walk = contactless_walk(app, clock)
    walk.create()
    walk.advance(ClauseEvent.DRAFT, date(2025, 11, 3))
    walk.advance(ClauseEvent.AWARD, date(2025, 12, 15))
    before = held(app)
    with app.transaction() as session:
        for event in walk.territory.events:
            app.publish(session, event)
    assert held(app) == before == [("notice_identified", None), ("notice_drafted", None)]


def test_a_release_run_twice_queues_one_message(app: App, clock: Clock) -> None:
    walk = contactless_walk(app, clock)
    walk.create()
    add_contact(app, clock, date(2025, 10, 7))
    now = at(date(2025, 10, 8))
    with app.transaction() as session:
        assert release_clause(app, session, walk.clause_id, now) == 1
    with app.transaction() as session:
        assert release_clause(app, session, walk.clause_id, now) == 0
    assert release_held_notices(app, now) == 0
    assert len(buyer_notices(app)) == 1


@pytest.mark.postgres
def test_a_lot_being_released_by_one_instance_is_skipped_by_another(
    postgres_url: str, tmp_path: Path, clock: Clock
) -> None:
    from tests.conftest import _empty_postgres

    _empty_postgres(postgres_url)
    settings = make_settings(tmp_path, postgres_url)
    first, second = bootstrap(settings, clock=clock), bootstrap(settings, clock=clock)
    try:
        walk = contactless_walk(first, clock)
        walk.create()
        add_contact(first, clock, date(2025, 10, 7))
        now = at(date(2025, 10, 8))
        # The first instance holds the lot's rows (not committed yet): the second skips them.
        with first.transaction() as one:
            assert release_clause(first, one, walk.clause_id, now) == 1
            with second.transaction() as other:
                assert release_clause(second, other, walk.clause_id, now) == 0
        # Committed: settled, nothing left to release.
        assert release_held_notices(second, now) == 0
        assert len(buyer_notices(first)) == 1
    finally:
        first.close()
        second.close()


@pytest.mark.postgres
def test_two_passes_at_once_queue_the_released_notice_once(
    postgres_url: str, tmp_path: Path, clock: Clock
) -> None:
    from tests.conftest import _empty_postgres

    _empty_postgres(postgres_url)
    settings: Settings = make_settings(tmp_path, postgres_url)
    apps = [bootstrap(settings, clock=clock) for _ in range(2)]
    try:
        walk = contactless_walk(apps[0], clock)
        walk.create()
        add_contact(apps[0], clock, date(2025, 10, 7))
        now = at(date(2025, 10, 8))
        barrier = threading.Barrier(2, timeout=10)
        errors: list[BaseException] = []

        def run(app: App) -> None:
            try:
                barrier.wait()
                ticks.run_pass(app, now, dispatch=False)
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(app,)) for app in apps]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        notices = buyer_notices(apps[0])
        assert [(row.kind, row.recipients) for row in notices] == [
            ("notice_identified", "Claire Dupont <claire.dupont@example.org>")
        ]
        assert held(apps[0]) == [("notice_identified", "released")]
    finally:
        for app in apps:
            app.close()


def test_a_released_notice_is_written_to_files_as_the_buyer_reads_it(
    app: App, clock: Clock, tmp_path: Path
) -> None:
    """One released notice on disk (text and HTML): what a person checks by reading it."""
    import_and_award(app, clock, tmp_path)
    clock.set(at(date(2026, 2, 11)))
    catalog.add_buyer_contact(
        app, BUYER, name="Claire Dupont", email="claire.dupont@example.org", actor=ACTOR
    )
    ticks.run_pass(app, at(date(2026, 2, 12)), dispatch=False)
    (notice,) = buyer_notices(app)
    out = tmp_path / "released"
    out.mkdir()
    (out / "notice.txt").write_text(f"Objet : {notice.subject}\n\n{notice.body_text}")
    (out / "notice.html").write_text(notice.body_html)
    # Said once, near the top, before the lot's facts.
    text = notice.body_text
    assert text.count("n'avait pas pu vous être envoyé") == 1
    assert text.index("n'avait pas pu") < text.index("Bâtiments Gascons")


@pytest.mark.postgres
def test_every_query_of_a_release_has_an_index_to_use(
    postgres_url: str, tmp_path: Path, clock: Clock
) -> None:
    """As ``test_query_plans`` checks the passes: each statement a release sends, explained
    with sequential scans off, reads no large table (the held notices among them) end to end."""
    from tests.conftest import _empty_postgres
    from tests.integration.test_query_plans import explainable, full_scans

    _empty_postgres(postgres_url)
    app = bootstrap(make_settings(tmp_path, postgres_url), clock=clock)
    sent: dict[str, Any] = {}

    def record(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        sent.setdefault(statement, parameters[0] if many and parameters else parameters)

    try:
        walk = contactless_walk(app, clock)
        walk.create()
        walk.advance(ClauseEvent.DRAFT, date(2025, 11, 3))
        walk.advance(ClauseEvent.AWARD, date(2025, 12, 15))
        add_contact(app, clock, date(2026, 1, 5))
        event.listen(app.engine, "before_cursor_execute", record)
        assert release_held_notices(app, at(date(2026, 1, 6))) == 1
        event.remove(app.engine, "before_cursor_execute", record)
        statements = [(s, p) for s, p in sent.items() if explainable(s)]
        assert sum("held_notices" in s for s, _ in statements) >= 3
        with app.engine.connect() as connection:
            connection.exec_driver_sql("SET enable_seqscan = off")
            found = {
                " ".join(s.split())[:300]: tables
                for s, p in statements
                if (tables := full_scans(connection, s, p))
            }
    finally:
        app.close()
    assert found == {}


def test_a_buyer_merged_into_one_with_a_contact_has_its_notices_released_there(
    app: App, clock: Clock, tmp_path: Path
) -> None:
    """The imported buyer was a duplicate: merged into the one that has a contact, its lot's
    latest notice goes to that contact (the release reads the lot's buyer as it is now)."""
    clause_id = import_and_award(app, clock, tmp_path)
    kept = catalog.add_buyer(app, "Ville de Lectoure", actor=ACTOR)
    catalog.add_buyer_contact(
        app, kept.id, name="Anne Roux", email="anne.roux@example.org", actor=ACTOR
    )
    ticks.run_pass(app, at(date(2026, 2, 10)), dispatch=False)
    assert buyer_notices(app) == []

    clock.set(at(date(2026, 2, 11)))
    corrections.merge_buyers(app, BUYER, into=kept.id, reason="Doublon de l'import", actor=ACTOR)
    ticks.run_pass(app, at(date(2026, 2, 12)), dispatch=False)
    (notice,) = buyer_notices(app)
    assert (notice.kind, notice.clause_id) == ("notice_awarded", clause_id)
    assert notice.recipients == "Anne Roux <anne.roux@example.org>"
    assert "Donneur d'ordre : Ville de Lectoure" in squash(notice.body_text)


def test_the_digest_can_count_what_waits_for_each_buyer(app: App, clock: Clock) -> None:
    walk = contactless_walk(app, clock)
    walk.create()
    walk.advance(ClauseEvent.DRAFT, date(2025, 11, 3))
    walk.advance(ClauseEvent.AWARD, date(2025, 12, 15))
    with app.transaction() as session:
        buyer_id = session.scalars(select(Buyer.id)).one()
        assert waiting_by_buyer(session) == {buyer_id: (2, 1)}
    add_contact(app, clock, date(2026, 1, 5))
    ticks.run_pass(app, at(date(2026, 1, 6)), dispatch=False)
    with app.transaction() as session:
        assert waiting_by_buyer(session) == {}
