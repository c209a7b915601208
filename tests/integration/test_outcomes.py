"""Participants' outcomes ("sorties"): the service, its refusals, the CSV import and the summary,
on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select, text

from tests.conftest import Clock, _empty_postgres, make_settings
from tests.integration.test_declarations import (
    DATA,
    DECLARATION,
    NOVEMBER,
    ids,
    import_file,
    start_sample,
)
from workflow.adapters.orm import Clause, ClauseHistory, Outcome
from workflow.bootstrap import App, bootstrap
from workflow.domain.outcomes import OutcomeType
from workflow.domain.stages import ClauseEvent
from workflow.errors import FileRefused, InputRefused, NotFound
from workflow.sample.data import CHARPENTES_ARRATS
from workflow.services.clauses import advance_clause, no_publish, record_final_report
from workflow.services.outcome_imports import OutcomesImport, import_outcomes_file
from workflow.services.outcomes import (
    Change,
    RecordedOutcome,
    list_outcomes,
    list_participants,
    record_outcome,
)
from workflow.services.summaries import Figures, compile_summary

OUTCOMES = DATA / "outcomes-excel-fr.csv"
PARIS = ZoneInfo("Europe/Paris")
OCTOBER_30 = date(2026, 10, 30)


@pytest.fixture
def declared(app: App, clock: Clock) -> App:
    """The sample in execution, and October 2026 declared on lot 01 of the middle school:
    P-0007, P-0012 and P-0031 worked; P-0040 is declared at 0 h."""
    handlers, app.handlers = app.handlers, {}
    start_sample(app)
    clock.set(NOVEMBER)
    import_file(app)
    app.handlers = handlers
    return app


def record(
    app: App,
    reference: str = "P-0007",
    outcome_type: OutcomeType = OutcomeType.CDI,
    on: date = OCTOBER_30,
    *,
    clause_id: int | None = None,
    now: datetime = NOVEMBER,
    replace: bool = False,
) -> RecordedOutcome:
    with app.transaction() as session:
        return record_outcome(
            session,
            reference=reference,
            clause_id=clause_id if clause_id is not None else ids(app)[0],
            outcome_type=outcome_type,
            on=on,
            actor="Camille Martin",
            now=now,
            zone=PARIS,
            replace=replace,
        )


def refusal(app: App, **options: object) -> str:
    with pytest.raises(InputRefused) as caught:
        record(app, **options)  # type: ignore[arg-type]
    return caught.value.message


def stored(app: App) -> list[tuple[str, str, date]]:
    with app.transaction() as session:
        return [
            (o.type, o.group, o.date) for o in session.scalars(select(Outcome).order_by(Outcome.id))
        ]


def outcome_history(app: App) -> list[ClauseHistory]:
    with app.transaction() as session:
        return list(
            session.scalars(
                select(ClauseHistory)
                .where(ClauseHistory.event == "outcome")
                .order_by(ClauseHistory.id)
            )
        )


# --- recording ----------------------------------------------------------------------------------


def test_it_records_an_outcome_with_its_group_and_a_history_row(declared: App) -> None:
    clause_id = ids(declared)[0]

    done = record(declared)

    assert done.change is Change.CREATED
    assert done.message == (
        f"Sortie n° {done.outcome_id} enregistrée : P-0007, clause n° {clause_id}, CDI (emploi "
        "durable) le 30/10/2026."
    )
    assert stored(declared) == [("cdi", "lasting_job", OCTOBER_30)]
    [row] = outcome_history(declared)
    assert (row.clause_id, row.from_stage, row.to_stage) == (clause_id, "execution", "execution")
    assert (row.actor, row.at) == ("Camille Martin", NOVEMBER)
    assert row.reason == "sortie de P-0007 : CDI (emploi durable) le 30/10/2026"


def test_recording_the_same_outcome_twice_changes_nothing_and_says_so(declared: App) -> None:
    first = record(declared)
    second = record(declared, now=datetime(2026, 11, 6, 10, tzinfo=UTC))

    assert second.change is Change.UNCHANGED
    assert second.outcome_id == first.outcome_id
    assert second.message.startswith("Rien de nouveau : la sortie de P-0007 de la clause")
    assert len(stored(declared)) == 1
    assert len(outcome_history(declared)) == 1


def test_another_type_the_same_day_is_refused_and_replace_corrects_the_only_one(
    declared: App,
) -> None:
    first = record(declared, outcome_type=OutcomeType.SHORT_CDD)

    message = refusal(declared, outcome_type=OutcomeType.LONG_CDD)
    corrected = record(declared, outcome_type=OutcomeType.LONG_CDD, replace=True)

    assert message == (
        f"P-0007 a déjà une sortie le 30/10/2026 sur la clause n° {ids(declared)[0]} "
        f"(n° {first.outcome_id} : CDD de moins de 6 mois le 30/10/2026) : une seule situation "
        f"par jour. Si elle est fausse, corrigez-la : « clauses participant outcome-fix "
        f"{first.outcome_id} --type … --date … --reason … »."
    )
    assert corrected.change is Change.REPLACED
    assert corrected.previous == ("CDD de moins de 6 mois", OCTOBER_30)
    assert stored(declared) == [("cdd_6_months_or_more", "lasting_job", OCTOBER_30)]
    last = outcome_history(declared)[-1]
    assert last.reason == (
        "sortie de P-0007 : CDD de 6 mois ou plus (emploi durable) le 30/10/2026 "
        "(remplace CDD de moins de 6 mois le 30/10/2026)"
    )


def waiting_on_a_lock(app: App) -> bool:
    with app.engine.connect() as conn:
        waiting = conn.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
        )
    return bool(waiting)


@pytest.mark.postgres
def test_two_runs_at_once_record_the_outcome_once(
    postgres_url: str, tmp_path: Path, clock: Clock
) -> None:
    """The first run holds the clause's row lock until it commits; the second waits for it, then
    finds the outcome and changes nothing. Without the lock both would insert a row."""
    _empty_postgres(postgres_url)
    app = bootstrap(make_settings(tmp_path, postgres_url), clock=clock, handlers={})
    results: dict[str, object] = {}

    def second_run() -> None:
        try:
            results["second"] = record(app).change
        except Exception as exc:  # surfaced by the assertion below, never swallowed
            results["second"] = exc

    try:
        start_sample(app)
        clock.set(NOVEMBER)
        import_file(app)
        clause_id = ids(app)[0]
        with app.sessions() as first, first.begin():
            record_outcome(
                first,
                reference="P-0007",
                clause_id=clause_id,
                outcome_type=OutcomeType.CDI,
                on=OCTOBER_30,
                actor="Alice",
                now=NOVEMBER,
                zone=PARIS,
            )
            thread = threading.Thread(target=second_run)
            thread.start()
            # Commit only once the second run waits on the lock (or, were there no lock, is done).
            give_up = time.monotonic() + 30
            while thread.is_alive() and not waiting_on_a_lock(app) and time.monotonic() < give_up:
                time.sleep(0.01)
        thread.join(timeout=30)
        assert not thread.is_alive()
        assert results == {"second": Change.UNCHANGED}
        assert stored(app) == [("cdi", "lasting_job", OCTOBER_30)]
        assert [row.actor for row in outcome_history(app)] == ["Alice"]
    finally:
        app.close()


# --- refusals -----------------------------------------------------------------------------------


def test_it_refuses_an_unknown_participant_or_clause(declared: App) -> None:
    with pytest.raises(NotFound, match="Aucun participant « P-9999 »"):
        record(declared, reference="P-9999")
    with pytest.raises(NotFound, match="Aucune clause n° 999"):
        record(declared, clause_id=999)
    assert stored(declared) == []


def test_it_refuses_a_participant_without_hours_on_the_clause(declared: App) -> None:
    at_zero = refusal(declared, reference="P-0040")  # declared at 0 h on lot 01
    elsewhere = refusal(declared, reference="P-0007", clause_id=ids(declared, lot="02")[0])

    assert "P-0040 n'a aucune heure déclarée sur la clause n°" in at_zero
    assert "heures déclarées sur" not in at_zero
    assert "P-0007 n'a aucune heure déclarée" in elsewhere
    assert f"(heures déclarées sur : clause n° {ids(declared)[0]})" in elsewhere
    assert stored(declared) == [] and outcome_history(declared) == []


def test_it_refuses_a_date_before_the_first_month_worked(declared: App) -> None:
    message = refusal(declared, on=date(2026, 9, 30))

    assert message.startswith(
        "Date de sortie 30/09/2026 antérieure à octobre 2026, premier mois déclaré pour P-0007 "
        "sur la clause n°"
    )
    assert record(declared, on=date(2026, 10, 1)).change is Change.CREATED


def test_it_refuses_a_future_date_in_the_service_time_zone(declared: App) -> None:
    # 23:30 UTC on 5 November is already 6 November in Paris (UTC+1 after the DST change).
    late_evening = datetime(2026, 11, 5, 23, 30, tzinfo=UTC)

    future = refusal(declared, on=date(2026, 11, 7), now=late_evening)
    today_in_paris = record(declared, on=date(2026, 11, 6), now=late_evening)

    assert "Date de sortie 07/11/2026 dans le futur" in future
    assert "aujourd'hui : 06/11/2026" in future
    assert today_in_paris.change is Change.CREATED


def test_it_records_an_outcome_on_a_closed_clause(declared: App) -> None:
    """Outcomes are often known months after the lot closed (a follow-up at 6 months)."""
    clause_id = ids(declared)[0]
    with declared.transaction() as session:
        advance_clause(
            session,
            clause_id,
            ClauseEvent.FINISH,
            actor="démo",
            reason=None,
            now=NOVEMBER,
            publish=no_publish,
            end_date=date(2026, 10, 31),
        )
        record_final_report(
            session, clause_id, text="Bilan.", actor="démo", now=NOVEMBER, publish=no_publish
        )
    in_follow_up = record(declared, reference="P-0012")
    with declared.transaction() as session:
        advance_clause(
            session,
            clause_id,
            ClauseEvent.CLOSE,
            actor="démo",
            reason=None,
            now=NOVEMBER,
            publish=no_publish,
        )

    after_closure = record(declared, now=datetime(2027, 4, 30, 10, tzinfo=UTC))
    again = record(declared, reference="P-0012")

    assert in_follow_up.change is Change.CREATED
    assert after_closure.change is Change.CREATED
    assert after_closure.message.startswith(f"Sortie n° {after_closure.outcome_id} enregistrée")
    assert again.change is Change.UNCHANGED  # still safe to run twice
    assert len(stored(declared)) == 2
    with declared.transaction() as session:
        assert session.get_one(Clause, clause_id).stage == "closed"  # the closure stays


# --- reading ------------------------------------------------------------------------------------


def test_it_lists_participants_with_their_hours_and_outcomes(declared: App) -> None:
    clause_id, roofing = ids(declared)[0], ids(declared, lot="02")[0]
    record(declared)
    record(declared, reference="P-0031", outcome_type=OutcomeType.QUALIFYING_TRAINING)

    with declared.transaction() as session:
        everyone = {p.reference: p for p in list_participants(session)}
        on_clause = list_participants(session, clause_id)
        outcomes = list_outcomes(session, clause_id)
        elsewhere = list_outcomes(session, roofing)

    assert len(everyone) == 6  # the sample's participants, with or without hours
    assert everyone["P-0063"].hours == 0 and everyone["P-0063"].clause_ids == ()
    assert [p.reference for p in on_clause] == ["P-0007", "P-0012", "P-0031", "P-0040"]
    assert [p.hours for p in on_clause] == [
        Decimal("151.67"),
        Decimal("98.5"),
        Decimal("120"),
        Decimal("0"),
    ]
    assert on_clause[0].criterion_label == "Demandeur d'emploi de longue durée"
    assert [(o.type_label, o.group_label) for o in everyone["P-0007"].outcomes] == [
        ("CDI", "Emploi durable")
    ]
    assert [(o.reference, o.group) for o in outcomes] == [
        ("P-0007", "lasting_job"),
        ("P-0031", "positive_exit"),
    ]
    assert (outcomes[0].market, outcomes[0].lot_number) == ("2026-014", "01")
    assert elsewhere == []


def test_the_monthly_summary_counts_the_recorded_outcomes(declared: App) -> None:
    record(declared)  # October
    record(
        declared, reference="P-0012", outcome_type=OutcomeType.SHORT_TEMP_WORK, on=date(2026, 11, 2)
    )

    with declared.transaction() as session:
        october = compile_summary(session, date(2026, 10, 1), now=NOVEMBER, zone=PARIS)
        november = compile_summary(session, date(2026, 11, 1), now=NOVEMBER, zone=PARIS)

    def groups(figures: Figures) -> dict[str, tuple[int, int]]:
        counts = figures.outcomes_by_group
        return {c.code: (int(c.month), int(c.cumulated)) for c in counts if c.cumulated}

    assert groups(october.overall) == {"lasting_job": (1, 1)}
    assert groups(november.overall) == {"lasting_job": (0, 1), "transitional_job": (1, 1)}
    by_buyer = {b.name: groups(b.figures) for b in november.buyers if groups(b.figures)}
    assert by_buyer == {
        "Département de l'Exemple": {"lasting_job": (0, 1), "transitional_job": (1, 1)}
    }


# --- the CSV import -----------------------------------------------------------------------------


def import_outcomes(app: App, path: Path = OUTCOMES, **options: object) -> OutcomesImport:
    with app.transaction() as session:
        return import_outcomes_file(
            session,
            path,
            actor="Camille Martin",
            now=NOVEMBER,
            zone=PARIS,
            **options,  # type: ignore[arg-type]
        )


def test_it_imports_the_outcomes_of_a_french_excel_file_once(declared: App) -> None:
    first = import_outcomes(declared)
    second = import_outcomes(declared)

    assert [(o.reference, o.outcome_type, o.change) for o in first.outcomes] == [
        ("P-0007", OutcomeType.CDI, Change.CREATED),
        ("P-0012", OutcomeType.SHORT_TEMP_WORK, Change.CREATED),
        ("P-0031", OutcomeType.QUALIFYING_TRAINING, Change.CREATED),
    ]
    assert not first.nothing_new
    assert second.nothing_new and second.count(Change.UNCHANGED) == 3
    assert [group for _, group, _ in stored(declared)] == [
        "lasting_job",
        "transitional_job",
        "positive_exit",
    ]
    assert len(outcome_history(declared)) == 3


def test_it_refuses_a_bad_outcomes_file_whole_with_every_error(
    declared: App, tmp_path: Path
) -> None:
    text = OUTCOMES.read_bytes().decode("cp1252")
    text = text.replace(
        "P-0012;2026-014;1;Intérim de moins de 6 mois;31/10/2026",
        "P-0012;2026-014;1;CDD;31/13/2026",
    )
    text = text.replace("P-0031;2026-014;01", "P-0099;2026-014;04")
    text += (
        "P-0040;2026-014;01;Perdu de vue;02/11/2026\r\n"
        "P-0007;2026-014;01;Formation courte;30/10/2026\r\n"
    )
    broken = tmp_path / "sorties.csv"
    broken.write_bytes(text.encode("cp1252"))

    with pytest.raises(FileRefused) as caught:
        import_outcomes(declared, broken)

    lines = caught.value.message.splitlines()
    assert lines[0] == "sorties.csv : 6 erreurs, rien n'a été importé."
    assert lines[1].startswith("  - ligne 3, colonne « Type de sortie » : « CDD » : précisez")
    assert lines[2] == (
        "  - ligne 3, colonne « Date » : « 31/13/2026 » n'est pas une date (jj/mm/aaaa)."
    )
    assert lines[3].startswith(
        "  - ligne 4, colonne « Référence participant » : participant « P-0099 » inconnu"
    )
    assert lines[4].startswith("  - ligne 4, colonne « Lot » : le marché 2026-014 n'a pas de lot")
    assert lines[5].startswith("  - ligne 5 : P-0040 n'a aucune heure déclarée")
    assert lines[6] == (
        "  - ligne 6, colonne « Type de sortie » : participant « P-0007 » : une autre sortie de "
        "la même clause le 30/10/2026 est déjà indiquée ligne 2 (CDI) : une seule situation par "
        "jour."
    )
    assert stored(declared) == [] and outcome_history(declared) == []


def test_it_imports_with_a_fixed_clause_when_the_file_has_no_market(
    declared: App, tmp_path: Path
) -> None:
    path = tmp_path / "sorties.csv"
    path.write_bytes(
        "Participant;Sortie;Date de sortie\r\nP-0007;cdi;2026-10-30\r\n".encode("cp1252")
    )

    with pytest.raises(FileRefused) as without:
        import_outcomes(declared, path)
    result = import_outcomes(declared, path, clause_id=ids(declared)[0])

    assert "colonne manquante (ou indiquez la clause avec --clause)" in without.value.message
    assert [(o.reference, o.on) for o in result.outcomes] == [("P-0007", OCTOBER_30)]


def test_with_a_fixed_clause_a_lot_that_differs_is_the_lines_only_error(
    declared: App, tmp_path: Path
) -> None:
    path = tmp_path / "sorties.csv"
    path.write_bytes(
        "Participant;N° marché;Lot;Sortie;Date\r\nP-0007;2026-014;02;CDI;30/10/2026\r\n".encode(
            "cp1252"
        )
    )

    with pytest.raises(FileRefused) as caught:
        import_outcomes(declared, path, clause_id=ids(declared)[0])

    assert caught.value.message.splitlines() == [
        "sorties.csv : 1 erreur, rien n'a été importé.",
        "  - ligne 2, colonne « Lot » : « 02 » ne correspond pas à la clause n° "
        f"{ids(declared)[0]} (marché 2026-014 lot 01 – Gros œuvre – maçonnerie) (option --clause).",
    ]
    assert stored(declared) == []


@contextmanager
def statements(app: App) -> Iterator[list[str]]:
    """The SQL statements the App's engine sends while the block runs, first word upper."""
    sent: list[str] = []

    def spy(conn: object, cursor: object, statement: str, *args: object) -> None:
        sent.append(statement.split(None, 1)[0].upper())

    event.listen(app.engine, "before_cursor_execute", spy)
    try:
        yield sent
    finally:
        event.remove(app.engine, "before_cursor_execute", spy)


def test_an_import_asks_as_many_questions_for_three_lines_as_for_one(
    declared: App, tmp_path: Path
) -> None:
    one = tmp_path / "une-sortie.csv"
    one.write_bytes(b"".join(OUTCOMES.read_bytes().splitlines(keepends=True)[:2]))

    with statements(declared) as for_one:
        import_outcomes(declared, one)
    with statements(declared) as for_three:  # P-0007 again (unchanged), P-0012 and P-0031 new
        import_outcomes(declared, OUTCOMES)

    assert for_three.count("SELECT") == for_one.count("SELECT")
    assert for_three.count("INSERT") <= 2 * 2  # at most an outcome and a history row a new line
    assert len(stored(declared)) == 3


def declare_lot_02(app: App, tmp_path: Path) -> None:
    """October 2026 on lot 02 too (Charpentes de l'Arrats): P-0007 worked there as well."""
    path = tmp_path / "lot-02.csv"
    header = DECLARATION.read_bytes().decode("cp1252").splitlines()[0]
    line = (
        f"{CHARPENTES_ARRATS};Charpentes de l'Arrats;2026-014;02;10/2026;P-0007;"
        "Demandeur d'emploi de longue durée;CDD;Embauche directe;70"
    )
    path.write_bytes(f"{header}\r\n{line}\r\n".encode("cp1252"))
    import_file(app, path)


@pytest.mark.postgres
def test_an_import_locks_its_clauses_in_the_order_of_their_ids(
    postgres_url: str, tmp_path: Path, clock: Clock
) -> None:
    """Two imports naming the same lots in opposite orders deadlocked when each locked a lot at
    its first line. Here another transaction holds the lower lot while the import, whose file
    names the higher lot first, runs: the import waits for the lower one without having taken
    the higher one, which the other transaction can therefore still take."""
    _empty_postgres(postgres_url)
    app = bootstrap(make_settings(tmp_path, postgres_url), clock=clock, handlers={})
    results: dict[str, object] = {}
    try:
        start_sample(app)
        clock.set(NOVEMBER)
        import_file(app)
        declare_lot_02(app, tmp_path)
        lot_01, lot_02 = ids(app)[0], ids(app, lot="02")[0]
        low, high = sorted((lot_01, lot_02))
        path = tmp_path / "sorties.csv"
        first, second = ("02", "01") if lot_02 == high else ("01", "02")
        path.write_bytes(
            (
                "Participant;N° marché;Lot;Sortie;Date\r\n"
                f"P-0007;2026-014;{first};CDI;30/10/2026\r\n"
                f"P-0007;2026-014;{second};CDI;30/10/2026\r\n"
            ).encode("cp1252")
        )

        def run_import() -> None:
            try:
                results["import"] = [o.change for o in import_outcomes(app, path).outcomes]
            except Exception as exc:  # surfaced by the assertion below, never swallowed
                results["import"] = exc

        with app.sessions() as other, other.begin():
            other.execute(select(Clause).where(Clause.id == low).with_for_update())
            thread = threading.Thread(target=run_import)
            thread.start()
            give_up = time.monotonic() + 30
            while thread.is_alive() and not waiting_on_a_lock(app) and time.monotonic() < give_up:
                time.sleep(0.01)
            # Raises LockNotAvailable were the higher lot already the import's.
            other.execute(select(Clause).where(Clause.id == high).with_for_update(nowait=True))
        thread.join(timeout=30)
        assert not thread.is_alive()
        assert results == {"import": [Change.CREATED, Change.CREATED]}
    finally:
        app.close()


# --- the field's words and the mapping in force -------------------------------------------------


def test_it_records_the_gers_flyers_outcome_types(declared: App) -> None:
    done = [
        record(declared, "P-0007", OutcomeType.APPRENTICESHIP),
        record(declared, "P-0012", OutcomeType.PROFESSIONALISATION),
        record(declared, "P-0031", OutcomeType.SHORT_TRAINING),
    ]

    assert [r.description for r in done] == [
        "Contrat d'apprentissage (emploi durable) le 30/10/2026",
        "Contrat de professionnalisation (emploi durable) le 30/10/2026",
        "Formation courte (non qualifiante) (autre) le 30/10/2026",
    ]
    assert [(kind, group) for kind, group, _ in stored(declared)] == [
        ("apprenticeship_contract", "lasting_job"),
        ("professionalisation_contract", "lasting_job"),
        ("short_training", "other"),
    ]


def test_the_mapping_in_force_is_stored_said_and_read(declared: App) -> None:
    moved = {"short_training": "positive_exit"}
    with declared.transaction() as session:
        recorded = record_outcome(
            session,
            reference="P-0031",
            clause_id=ids(declared)[0],
            outcome_type=OutcomeType.SHORT_TRAINING,
            on=OCTOBER_30,
            actor="Camille Martin",
            now=NOVEMBER,
            zone=PARIS,
            groups=moved,
        )
    record(declared, "P-0012", OutcomeType.SHORT_TRAINING)  # under the default mapping

    with declared.transaction() as session:
        by_default = {o.reference: o.group for o in list_outcomes(session)}
        in_force = {o.reference: o.group_label for o in list_outcomes(session, groups=moved)}

    assert recorded.message.endswith(
        "Formation courte (non qualifiante) (sortie positive) le 30/10/2026."
    )
    # The rows keep the group of their recording; readers use the mapping they are given.
    assert sorted(group for _, group, _ in stored(declared)) == ["other", "positive_exit"]
    assert by_default == {"P-0031": "other", "P-0012": "other"}
    assert in_force == {"P-0031": "Sortie positive", "P-0012": "Sortie positive"}


def test_the_final_report_counts_outcomes_by_type_and_by_the_group_in_force(
    declared: App,
) -> None:
    """The buyer's final report gives each outcome's type in the field's words, and its group as
    the ``outcome_groups`` setting says at reading time (never the group stored at entry)."""
    from workflow.services.notices import clause_results

    clause_id = ids(declared)[0]
    record(declared)  # CDI
    record(declared, reference="P-0012", outcome_type=OutcomeType.SHORT_TRAINING)
    record(declared, reference="P-0031", outcome_type=OutcomeType.PROFESSIONALISATION)
    with declared.transaction() as session:
        clause = session.get_one(Clause, clause_id)
        default = clause_results(session, clause)
        moved = clause_results(session, clause, {"short_training": "positive_exit"})

    assert [(c.label, c.value) for c in default.outcome_types] == [
        ("CDI", 1),
        ("Contrat de professionnalisation", 1),
        ("Formation courte (non qualifiante)", 1),
    ]
    groups = {c.label: c.value for c in default.outcomes}
    assert (groups["Emploi durable"], groups["Sortie positive"], groups["Autre"]) == (2, 0, 1)
    assert sum(c.value for c in default.outcomes) == sum(c.value for c in default.outcome_types)
    moved_groups = {c.label: c.value for c in moved.outcomes}
    assert (moved_groups["Sortie positive"], moved_groups["Autre"]) == (1, 0)
