"""A lot's ladders are held while it is not called (suspended, closed) and released when it is
again (``DeclarationLadder.held``, kept by every change of stage, migration 0032): the climb's
index (``ix_declaration_ladders_due``) leaves the held ones out, so that an idle pass does not
look up, one by one, the passed steps of every suspended lot (issue 12). Held or not, the
company is reminded exactly as before: after the resumption, its month is called again."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from alembic import command
from sqlalchemy import Engine, inspect, select, text

from tests.conftest import Clock
from tests.integration._ladders import make_lot
from tests.integration.test_migration_0029_departure_company import table_indexes
from tests.integration.test_welcome_promise import paris
from workflow.adapters.db import alembic_config, current_revision, make_engine
from workflow.adapters.orm import DeclarationLadder
from workflow.app.clauses import advance_clause, record_final_report
from workflow.bootstrap import App
from workflow.domain.stages import ClauseEvent
from workflow.emails.ladder import KIND_CALL
from workflow.services.reminders import BATCH_SIZE, _due_ladders
from workflow.services.ticks import run_pass


def held(app: App, clause_id: int) -> list[bool]:
    with app.transaction() as session:
        return list(
            session.scalars(
                select(DeclarationLadder.held)
                .where(DeclarationLadder.clause_id == clause_id)
                .order_by(DeclarationLadder.month)
            )
        )


def at(
    app: App, clock: Clock, moment: datetime, event: ClauseEvent, clause_id: int, **more: Any
) -> None:
    clock.set(moment)
    advance_clause(app, clause_id, event, **more)


def test_a_lot_s_ladders_are_held_while_it_is_not_called_and_its_company_still_reminded(
    app: App, clock: Clock
) -> None:
    lot = make_lot(app, start=date(2026, 3, 2), end=date(2026, 12, 31))
    other = make_lot(app, start=date(2026, 3, 2), end=date(2026, 12, 31))
    for day in (date(2026, 4, 1), date(2026, 5, 4)):
        clock.set(paris(day, 9))
        run_pass(app, paris(day, 9), dispatch=False)
    assert held(app, lot.clause_id) == [False, False]  # March and April, called

    at(app, clock, paris(date(2026, 5, 5), 10), ClauseEvent.SUSPEND, clause_id=lot.clause_id,
       reason="Fouilles archéologiques")  # fmt: skip
    assert held(app, lot.clause_id) == [True, True]
    assert held(app, other.clause_id) == [False, False]  # another lot is left as it is
    # Its steps passed during the suspension are out of the climb's reach; nothing leaves.
    run_pass(app, paris(date(2026, 6, 1), 9), dispatch=False)
    assert held(app, lot.clause_id) == [True, True]

    at(app, clock, paris(date(2026, 6, 2), 10), ClauseEvent.RESUME, clause_id=lot.clause_id)
    assert held(app, lot.clause_id) == [False, False]
    # Released, its months are reminded as before the change (the climb finds them again).
    calls_before = _steps(app, lot.clause_id)
    for day in (date(2026, 6, 3), date(2026, 6, 10), date(2026, 6, 17), date(2026, 7, 1)):
        run_pass(app, paris(day, 9), dispatch=False)
    assert len(_steps(app, lot.clause_id)) > len(calls_before)

    at(app, clock, paris(date(2026, 7, 2), 10), ClauseEvent.FINISH, clause_id=lot.clause_id,
       end_date=date(2026, 6, 30))  # fmt: skip
    assert set(held(app, lot.clause_id)) == {False}  # follow-up: its last months still owed
    clock.set(paris(date(2026, 7, 2), 11))
    record_final_report(app, lot.clause_id, "bilan")
    at(app, clock, paris(date(2026, 7, 2), 12), ClauseEvent.CLOSE, clause_id=lot.clause_id)
    assert set(held(app, lot.clause_id)) == {True}


def _steps(app: App, clause_id: int) -> list[tuple[str, str]]:
    with app.transaction() as session:
        return [
            (key, kind)
            for key, kind in session.execute(
                text(
                    "SELECT key, kind FROM outbox WHERE clause_id = :c "
                    "AND kind LIKE 'declaration_%' ORDER BY id"
                ),
                {"c": clause_id},
            )
        ]


def test_the_climb_reads_its_due_steps_from_the_index_without_the_held_ones(
    app: App, sqlite_url: str
) -> None:
    """SQLite uses a partial index only for a query written as its own condition: the climb's
    query walks ``ix_declaration_ladders_due``, in its order, with no sort."""
    del app
    engine = make_engine(sqlite_url)
    try:
        statement = (
            _due_ladders(paris(date(2026, 6, 1), 9))
            .order_by(DeclarationLadder.next_step_at, DeclarationLadder.id)
            .limit(BATCH_SIZE)
        )
        compiled = statement.compile(engine, compile_kwargs={"literal_binds": True})
        with engine.connect() as connection:
            plan = " | ".join(
                row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")
            )
        assert "ix_declaration_ladders_due" in plan, plan
        assert "TEMP B-TREE" not in plan, plan
    finally:
        engine.dispose()


def test_migration_0032_holds_the_ladders_of_lots_not_called_and_takes_it_back(
    app: App, database_url: str, clock: Clock
) -> None:
    called = make_lot(app, start=date(2026, 3, 2), end=date(2026, 12, 31))
    suspended = make_lot(app, start=date(2026, 3, 2), end=date(2026, 12, 31))
    run_pass(app, paris(date(2026, 4, 1), 9), dispatch=False)
    at(app, clock, paris(date(2026, 4, 2), 10), ClauseEvent.SUSPEND,
       clause_id=suspended.clause_id, reason="Intempéries")  # fmt: skip
    engine: Engine = make_engine(database_url)
    config = alembic_config(engine)

    def columns() -> dict[str, dict[str, object]]:
        with engine.connect() as connection:
            return {c["name"]: c for c in inspect(connection).get_columns("declaration_ladders")}

    try:
        indexes = table_indexes(engine, "declaration_ladders")
        due = {sql for sql in indexes if "ix_declaration_ladders_due" in sql}
        assert len(due) == 1 and "NOT HELD" in next(iter(due)).upper(), due
        assert columns()["held"]["nullable"] is False
        command.downgrade(config, "0031")
        assert current_revision(engine) == "0031"
        assert "held" not in columns()
        assert table_indexes(engine, "declaration_ladders") == indexes - due
        # Back up: the suspended lot's ladders are held, the called lot's are not.
        command.upgrade(config, "0032")
        assert table_indexes(engine, "declaration_ladders") == indexes
        assert held(app, suspended.clause_id) == [True]
        assert held(app, called.clause_id) == [False]
    finally:
        # The PostgreSQL database is shared by the session's tests: leave it at head.
        command.upgrade(config, "head")
        engine.dispose()


def test_a_call_leaves_for_a_lot_never_suspended(app: App, clock: Clock) -> None:
    """The new condition takes nothing from a lot called: its month's call leaves."""
    lot = make_lot(app, start=date(2026, 3, 2), end=date(2026, 12, 31))
    clock.set(paris(date(2026, 4, 1), 9))
    run_pass(app, paris(date(2026, 4, 1), 9), dispatch=False)
    assert [kind for _, kind in _steps(app, lot.clause_id)] == [KIND_CALL]


def test_the_daily_sweep_releases_a_month_held_by_a_hand_written_change(
    app: App, clock: Clock
) -> None:
    """A month held while its lot is called (SQL by hand, a script) would never be reminded:
    the first pass of the next day releases it, and its reminder leaves. A month left unheld on
    a suspended lot stays so (the sweep only releases): it is not reminded all the same."""
    lot = make_lot(app, start=date(2026, 3, 2), end=date(2026, 12, 31))
    suspended = make_lot(app, start=date(2026, 3, 2), end=date(2026, 12, 31))
    clock.set(paris(date(2026, 4, 1), 9))
    run_pass(app, paris(date(2026, 4, 1), 9), dispatch=False)
    at(app, clock, paris(date(2026, 4, 1), 10), ClauseEvent.SUSPEND,
       clause_id=suspended.clause_id, reason="Intempéries")  # fmt: skip
    with app.transaction() as session:
        session.execute(
            text("UPDATE declaration_ladders SET held = NOT held"),  # both wrong now
        )
    assert held(app, lot.clause_id) == [True] and held(app, suspended.clause_id) == [False]

    run_pass(app, paris(date(2026, 4, 2), 9, 30), dispatch=False)  # the day's first pass
    assert held(app, lot.clause_id) == [False] and held(app, suspended.clause_id) == [False]
    with app.transaction() as session:
        reminder_at = session.scalar(
            select(DeclarationLadder.next_step_at).where(
                DeclarationLadder.clause_id == lot.clause_id
            )
        )
    assert reminder_at is not None
    run_pass(app, reminder_at, dispatch=False)

    kinds = [kind for _, kind in _steps(app, lot.clause_id)]
    assert kinds[0] == KIND_CALL and len(kinds) == 2, kinds  # the call, then its reminder
    assert [kind for _, kind in _steps(app, suspended.clause_id)] == [KIND_CALL]
