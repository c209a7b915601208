"""Which months get a summary, and when: the months the work was done in, never the day a clause
was recorded; after a late start or a long stop, the latest due month only, at its time.

Scenario of a facilitator's trial: on 2 December 2026 a lot is awarded with a start date of
1 September and started; the real passes then run every day (``simulate``). The service asks the
company for September to November at once: the summaries must follow the same months.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.integration._ladders import ladder_pass, make_lot
from workflow.adapters.orm import Declaration, OutboxMessage, PeriodicRun
from workflow.bootstrap import App
from workflow.domain.calendar import at_local
from workflow.domain.summary import summary_due_at
from workflow.services.summaries import (
    JOB,
    JOB_SKIPPED,
    KIND_BUYER,
    KIND_FACILITATOR,
    compile_for,
    queue_monthly_summaries,
    summary_timing,
)
from workflow.services.ticks import simulate

pytestmark = pytest.mark.scenario

NBSP, NNBSP = "\u00a0", "\u202f"
SEP, OCT, NOV, DEC = (date(2026, m, 1) for m in (9, 10, 11, 12))
STARTED_ON = date(2026, 12, 2)


def local(app: App, day: date, hour: int, minute: int = 0) -> datetime:
    return at_local(day, time(hour, minute), app.settings.zone)


def summaries(app: App) -> list[OutboxMessage]:
    with app.transaction() as session:
        statement = (
            select(OutboxMessage)
            .where(OutboxMessage.kind.in_([KIND_FACILITATOR, KIND_BUYER]))
            .order_by(OutboxMessage.created_at, OutboxMessage.key)
        )
        return list(session.scalars(statement))


def runs(app: App, job: str) -> list[str]:
    with app.transaction() as session:
        statement = select(PeriodicRun.period).where(PeriodicRun.job == job)
        return list(session.scalars(statement.order_by(PeriodicRun.period)))


def figure(body: str, label: str) -> str:
    for line in body.splitlines():
        if line.startswith(f"- {label}{NBSP}: "):
            # Spaces as a reader sees them (French typography puts no-break ones).
            value = line.split(f"{NBSP}: ", 1)[1]
            return value.replace(NBSP, " ").replace(NNBSP, " ")
    raise AssertionError(f"{label!r} not in {body}")


def test_a_late_start_gets_the_summary_of_each_month_due_once_a_due_date_was_given(
    app: App,
) -> None:
    lot = make_lot(app, start=SEP, end=date(2027, 6, 30), at=local(app, STARTED_ON, 8))

    simulate(app, STARTED_ON, date(2027, 1, 22), dispatch=False)

    sent = [(m.key.split(":")[1], m.key.split(":")[2], m.created_at) for m in summaries(app)]
    facilitator = [(month, at) for month, who, at in sent if who == "facilitator"]
    # October was due on 23 November, before the clause was entered, but no company had been
    # asked for it: at the first pass after the start its summary would have said « 0 reçue »
    # and « en retard » before the call. It waits for the first due date really given: the
    # catch-up call of 3 December gave September to November 14 December (not the calendar's
    # 10th), the summary delay after it is 24 December at 07:00. November is then the latest
    # month due: it goes, and carries the cumulated figures; September and October are never
    # sent. December on 21 January.
    assert facilitator == [
        ("2026-11", local(app, date(2026, 12, 24), 7)),
        ("2026-12", local(app, date(2027, 1, 21), 7)),
    ]
    assert sorted(month for month, who, _ in sent if who == "buyer") == ["2026-11", "2026-12"]
    assert runs(app, JOB) == ["2026-11", "2026-12"]
    assert runs(app, JOB_SKIPPED) == ["2026-09", "2026-10"]

    # One rule for every figure of October's summary, as ``clauses summary`` gives it on the
    # first pass: the clause started on 1 September is counted, with its target, its stage
    # then, and its expected declaration. Not missing: the company has not had its call yet
    # (the catch-up call leaves the next working day, with a new due date), so nothing is late
    # on 2 December whatever the contract's calendar said, and no pace is judged.
    first_pass = local(app, STARTED_ON, 8)
    summary = compile_for(app, OCT, now=first_pass)
    assert [(c.clause_id, c.stage, c.followed) for c in summary.clauses] == [
        (lot.clause_id, "execution", True)
    ]
    declarations = summary.overall.declarations
    assert summary.overall.progress.clauses == declarations.expected == 1
    assert [(m.company, m.call_at) for m in declarations.pending] == [
        ("Bâtiments Test", local(app, date(2026, 12, 3), 9))
    ]
    assert summary.overall.progress.hours_target == 500
    assert summary.overall.progress.pace is None
    stages = {s.code: s.clauses for s in summary.overall.clauses_by_stage if s.clauses}
    assert stages == {"execution": 1}
    # November's, on 24 December: the due date the catch-up call gave is past.
    november = next(m for m in summaries(app) if m.key == "summary:2026-11:facilitator")
    assert figure(november.body_text, "Déclarations de novembre 2026").startswith(
        "0 reçue sur 1 attendue ; 1 manquante : Bâtiments Test"
    )


def test_months_declared_late_do_not_bring_a_burst_of_old_summaries(app: App) -> None:
    lot = make_lot(app, start=SEP, end=date(2027, 6, 30), at=local(app, STARTED_ON, 8))
    with app.transaction() as session:
        for month, hours in ((SEP, "35"), (OCT, "70"), (NOV, "42.5")):
            session.add(
                Declaration(
                    clause_id=lot.clause_id, company_id=lot.company_ids[0], month=month,
                    total_hours=Decimal(hours), recorded_at=local(app, STARTED_ON, 8, 30),
                    recorded_by="test",
                )
            )  # fmt: skip

    assert queue_monthly_summaries(app, local(app, STARTED_ON, 9)) == 2  # October's, 2 emails
    assert queue_monthly_summaries(app, local(app, date(2026, 12, 3), 7)) == 0
    assert [m.key for m in summaries(app)] == [
        f"summary:2026-10:buyer:{lot.buyer_id}",
        "summary:2026-10:facilitator",
    ]
    assert runs(app, JOB_SKIPPED) == ["2026-09"]
    october = next(m for m in summaries(app) if m.key == "summary:2026-10:facilitator")
    # The latest summary carries what the skipped one would have said, cumulated.
    assert figure(october.body_text, "Heures réalisées dans le mois") == "70 h"
    assert figure(october.body_text, "Heures cumulées depuis le début").startswith(
        "105 h sur 500 h prévues"
    )


def test_nothing_goes_while_no_clause_is_followed_in_the_latest_due_month(app: App) -> None:
    # Awarded on 2 December, starting on 1 January 2027: nothing to say about October.
    make_lot(app, start=date(2027, 1, 1), end=date(2027, 6, 30), at=local(app, STARTED_ON, 8))
    assert queue_monthly_summaries(app, local(app, date(2026, 12, 3), 7)) == 0
    assert queue_monthly_summaries(app, local(app, date(2026, 12, 22), 7)) == 0
    assert runs(app, JOB) == [] and runs(app, JOB_SKIPPED) == []
    # January is the first month with a followed clause: its summary leaves on its day, once
    # its call (1 February) gave the company its due date.
    ladder_pass(app, local(app, date(2027, 2, 1), 9))
    due = summary_due_at(date(2027, 1, 1), summary_timing(app.settings))
    assert queue_monthly_summaries(app, due) == 2
    assert runs(app, JOB) == ["2027-01"] and runs(app, JOB_SKIPPED) == []
