"""What the monthly summaries ask of the database (issue 12: the 08:00 pass under 10 s at 10^5
lots): the declaration lines are read once, their outcomes counted from the same grouped rows,
and every lot's stage at an instant is read from the history index made for it (migration
0018), on SQLite and PostgreSQL.

The figures themselves are compared with hand-written SQL by ``test_summaries`` (and at 10^5
lots by ``bench/bench_summaries.py --part check``); here a summary of the sample is also read
as a person reads it, so that the single statement is seen to give the same counts.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event

from tests.conftest import Clock
from tests.integration.test_declarations import NOVEMBER, ids, import_file, start_sample
from workflow.bootstrap import App
from workflow.domain.outcomes import OutcomeType
from workflow.services.outcomes import record_outcome
from workflow.services.summaries import MonthlySummary, compile_for

PARIS = ZoneInfo("Europe/Paris")
OCTOBER = date(2026, 10, 1)
INDEX = "ix_clause_history_latest"


@pytest.fixture
def declared(app: App, clock: Clock) -> App:
    """The sample in execution, October 2026 declared on lot 01 of the middle school (P-0007,
    P-0012 and P-0031 worked, P-0040 declared at 0 h), and two outcomes recorded: P-0007's
    CDI on 30 October, P-0012's short temping on 2 November (after October)."""
    handlers, app.handlers = app.handlers, {}
    start_sample(app)
    clock.set(NOVEMBER)
    import_file(app)
    app.handlers = handlers
    for reference, kind, on in (
        ("P-0007", OutcomeType.CDI, date(2026, 10, 30)),
        ("P-0012", OutcomeType.SHORT_TEMP_WORK, date(2026, 11, 2)),
    ):
        with app.transaction() as session:
            record_outcome(
                session,
                reference=reference,
                clause_id=ids(app)[0],
                outcome_type=kind,
                on=on,
                actor="Camille Martin",
                now=NOVEMBER,
                zone=PARIS,
            )
    return app


@contextmanager
def statements(app: App) -> Iterator[list[tuple[str, Any]]]:
    """The statements sent to the database inside the block, with their parameters."""
    sent: list[tuple[str, Any]] = []

    def record(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        sent.append((statement, parameters))

    event.listen(app.engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(app.engine, "before_cursor_execute", record)


def october(app: App) -> tuple[MonthlySummary, list[tuple[str, Any]]]:
    """October's summary of the territory as ``clauses summary --month 2026-10`` compiles it
    on 5 November, and the statements it sent."""
    with statements(app) as sent:
        summary = compile_for(app, OCTOBER, now=NOVEMBER)
    return summary, sent


def test_the_declaration_lines_are_read_once_and_give_the_outcomes_too(declared: App) -> None:
    summary, sent = october(declared)

    reading = [s for s, _ in sent if "declaration_lines" in s]
    # One statement for participants, modes, contracts and outcomes (were three: the lines,
    # then the outcomes of the territory and of each buyer, each reading the lines again).
    assert len(reading) == 1
    assert "FROM outcomes" in reading[0]
    assert sum("FROM outcomes" in s for s, _ in sent) == 1

    figures = summary.overall
    # P-0040 declared at 0 h is no participant; the three others worked in October.
    everyone = figures.participants
    assert (everyone.new, everyone.active, everyone.cumulated) == (3, 3, 3)
    # P-0007's CDI counts in October; P-0012's temping of 2 November is not October's.
    by_type = {o.code: (o.month, o.cumulated) for o in figures.outcomes_by_type if o.cumulated}
    assert by_type == {OutcomeType.CDI.value: (1, 1)}
    (buyer,) = [b for b in summary.buyers if b.figures.participants.cumulated]
    assert buyer.name == "Département de l'Exemple"
    assert buyer.figures.participants.active == 3
    assert {o.code: o.cumulated for o in buyer.figures.outcomes_by_type if o.cumulated} == {
        OutcomeType.CDI.value: 1
    }


def test_every_lot_s_stage_at_an_instant_is_read_from_the_history_index(declared: App) -> None:
    _, sent = october(declared)
    ranked = [(s, p) for s, p in sent if "row_number() OVER" in s and "clause_history" in s]
    assert len(ranked) == 1  # the lots of the summary, with their stage then and now
    statement, parameters = ranked[0]
    with declared.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            # The sample is a few rows: a full read, or a few rows sorted, would be the
            # planner's choice. Forbidden, the plan says which index gives each lot's rows in
            # the ranked order (as it does at 10^5 lots).
            for plan_kind in ("seqscan", "bitmapscan", "sort"):
                connection.exec_driver_sql(f"SET enable_{plan_kind} = off")
            plan = connection.exec_driver_sql("EXPLAIN " + statement, parameters).all()
            # An index only scan once the table is vacuumed (its visibility map set).
            assert str(plan).count(f"Scan using {INDEX} on clause_history") == 2, plan
        else:
            plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            assert f"COVERING INDEX {INDEX}" in str(plan), plan
