"""A closure (or a final report) racing with a declaration of the lot, on PostgreSQL (two
sessions at once).

The closure names the months still owed and stops asking them. It reads them only once it holds
the clause's row (``clauses.get_clause(for_update=True)``), the row a declaration locks first: a
declaration committed while the closure waits is read as received, neither named as missing in
the history row nor released. Read before the lock (as it was), the month was named missing,
and released, though the company had declared it. The final report reads them under the same
lock. In the other order (the closure first, the declaration waiting), the declaration reads the
clause again once it holds the lock (``get_clause``'s ``populate_existing``) and is refused.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text

from tests.conftest import Clock, _empty_postgres, make_settings
from tests.integration._ladders import make_lot
from workflow.adapters.orm import ClauseHistory
from workflow.app import clauses as clause_app
from workflow.app import declarations
from workflow.bootstrap import App, bootstrap
from workflow.domain.stages import ClauseEvent
from workflow.emails.notices import Outstanding
from workflow.errors import InputRefused
from workflow.services.clauses import advance_clause, get_clause
from workflow.services.declarations import record_declaration

NBSP = "\u00a0"
COMPANY = "Bâtiments Course"
MARCH, APRIL = date(2026, 3, 1), date(2026, 4, 1)


def waiting_on_a_lock(app: App) -> bool:
    with app.engine.connect() as conn:
        waiting = conn.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
        )
    return bool(waiting)


def close_reasons(app: App, clause_id: int) -> list[str | None]:
    with app.transaction() as session:
        return list(
            session.scalars(
                select(ClauseHistory.reason)
                .where(ClauseHistory.clause_id == clause_id, ClauseHistory.event == "close")
                .order_by(ClauseHistory.id)
            )
        )


@pytest.mark.postgres
def test_a_declaration_committed_while_the_closure_waits_is_not_named_missing(
    postgres_url: str, tmp_path: Path, clock: Clock
) -> None:
    _empty_postgres(postgres_url)
    app = bootstrap(make_settings(tmp_path, postgres_url), clock=clock, handlers={})
    results: dict[str, object] = {}

    def closure() -> None:
        try:
            results["closed"] = clause_app.advance_clause(app, clause_id, ClauseEvent.CLOSE)
        except Exception as exc:  # surfaced by the assertion below, never swallowed
            results["closed"] = exc

    try:
        lot = make_lot(
            app,
            start=date(2026, 3, 2),
            end=date(2026, 12, 31),
            companies=(COMPANY,),
            at=datetime(2026, 3, 2, 9, tzinfo=UTC),
        )
        clause_id = lot.clause_id
        clock.set(datetime(2026, 5, 11, 9, tzinfo=UTC))
        clause_app.advance_clause(app, clause_id, ClauseEvent.FINISH, end_date=date(2026, 4, 30))
        clause_app.record_final_report(app, clause_id, "Bilan.")
        clock.set(datetime(2026, 5, 12, 9, tzinfo=UTC))

        # The company declares March (zero hours) in a transaction that holds the clause's row;
        # the closure starts meanwhile, and the declaration commits once the closure waits.
        with app.sessions() as first, first.begin():
            record_declaration(
                first,
                clause_id=clause_id,
                company_id=lot.company_ids[0],
                month=MARCH,
                lines=[],
                actor="entreprise",
                now=datetime(2026, 5, 12, 8, 59, tzinfo=UTC),
                source="test",
                publish=app.publish,
            )
            thread = threading.Thread(target=closure)
            thread.start()
            give_up = time.monotonic() + 30
            while thread.is_alive() and not waiting_on_a_lock(app) and time.monotonic() < give_up:
                time.sleep(0.01)
        thread.join(timeout=30)
        assert not thread.is_alive()

        closed = results["closed"]
        assert isinstance(closed, clause_app.Advanced), closed
        # Only April is owed, and only April is released.
        assert closed.outstanding == (Outstanding(COMPANY, (APRIL,), lot.company_ids[0]),)
        assert close_reasons(app, clause_id) == [
            f"Déclarations non reçues à la clôture, plus demandées{NBSP}: {COMPANY} (avril 2026)."
        ]
    finally:
        app.close()


@pytest.mark.postgres
def test_a_declaration_waiting_for_the_closure_then_finds_the_clause_closed(
    postgres_url: str, tmp_path: Path, clock: Clock
) -> None:
    """The other order: the closure holds the row; « declaration zero » waits for it, then is
    refused (the clause is closed), rather than recorded on a lot that no longer asks it."""
    _empty_postgres(postgres_url)
    app = bootstrap(make_settings(tmp_path, postgres_url), clock=clock, handlers={})
    results: dict[str, object] = {}
    try:
        lot = make_lot(
            app,
            start=date(2026, 3, 2),
            end=date(2026, 12, 31),
            companies=(COMPANY,),
            at=datetime(2026, 3, 2, 9, tzinfo=UTC),
        )
        clause_id = lot.clause_id
        clock.set(datetime(2026, 5, 11, 9, tzinfo=UTC))
        clause_app.advance_clause(app, clause_id, ClauseEvent.FINISH, end_date=date(2026, 4, 30))
        clause_app.record_final_report(app, clause_id, "Bilan.")
        clock.set(datetime(2026, 5, 12, 9, tzinfo=UTC))

        def declaration() -> None:
            try:
                results["declared"] = declarations.declare_zero(
                    app, clause=clause_id, company=lot.company_ids[0], month=MARCH
                )
            except Exception as exc:  # surfaced by the assertion below, never swallowed
                results["declared"] = exc

        with app.sessions() as first, first.begin():
            get_clause(first, clause_id, for_update=True)
            thread = threading.Thread(target=declaration)
            thread.start()
            give_up = time.monotonic() + 30
            while thread.is_alive() and not waiting_on_a_lock(app) and time.monotonic() < give_up:
                time.sleep(0.01)
            advance_clause(
                first,
                clause_id,
                ClauseEvent.CLOSE,
                actor="test",
                reason=None,
                now=datetime(2026, 5, 12, 9, tzinfo=UTC),
                publish=app.publish,
            )
        thread.join(timeout=30)
        assert not thread.is_alive()
        refused = results["declared"]
        assert isinstance(refused, InputRefused), refused
        assert "clôturée" in refused.message, refused.message
    finally:
        app.close()


@pytest.mark.postgres
def test_a_declaration_committed_while_the_final_report_waits_is_not_named_missing(
    postgres_url: str, tmp_path: Path, clock: Clock
) -> None:
    """The final report reads the months still owed under the same lock: its history row (and
    the buyer's email, which reads it back) does not name a month declared meanwhile."""
    _empty_postgres(postgres_url)
    app = bootstrap(make_settings(tmp_path, postgres_url), clock=clock, handlers={})
    results: dict[str, object] = {}
    try:
        lot = make_lot(
            app,
            start=date(2026, 3, 2),
            end=date(2026, 12, 31),
            companies=(COMPANY,),
            at=datetime(2026, 3, 2, 9, tzinfo=UTC),
        )
        clause_id = lot.clause_id
        clock.set(datetime(2026, 5, 11, 9, tzinfo=UTC))
        clause_app.advance_clause(app, clause_id, ClauseEvent.FINISH, end_date=date(2026, 4, 30))

        def report() -> None:
            try:
                results["report"] = clause_app.record_final_report(app, clause_id, "Bilan.")
            except Exception as exc:  # surfaced by the assertion below, never swallowed
                results["report"] = exc

        with app.sessions() as first, first.begin():
            record_declaration(
                first,
                clause_id=clause_id,
                company_id=lot.company_ids[0],
                month=MARCH,
                lines=[],
                actor="entreprise",
                now=datetime(2026, 5, 11, 8, 59, tzinfo=UTC),
                source="test",
                publish=app.publish,
            )
            thread = threading.Thread(target=report)
            thread.start()
            give_up = time.monotonic() + 30
            while thread.is_alive() and not waiting_on_a_lock(app) and time.monotonic() < give_up:
                time.sleep(0.01)
        thread.join(timeout=30)
        assert not thread.is_alive()

        recorded = results["report"]
        assert isinstance(recorded, clause_app.ReportRecorded), recorded
        assert recorded.outstanding == (Outstanding(COMPANY, (APRIL,), lot.company_ids[0]),)
    finally:
        app.close()
