"""Instances whose clocks disagree: a clause's history still tells its stages in the order written.

Several ``clauses serve`` share one database, each stamping the history rows it writes with its
own clock. Found by a user trial: the lot was awarded by one instance at 10:05, then started a
minute later by another whose clock was three minutes behind (« 10:03 »). Every reader of « the
stage of a lot at an instant » takes its latest history row by (instant, N°): the award, written
first but stamped last. The lot read « attribution » for ever: March's summary counted
« Clauses comptées : 0 », expected no declaration (« aucune attendue ») and, this lot being the
territory's only one, was never sent; the audit reported its history broken.

Now a history row is stamped with the writer's clock, or with the clause's latest instant when
that clock is behind it (``clauses.history_instant``): in (instant, N°) order a clause's rows are
in the order they were written. The domain event of the change carries the instant stored, so
the notices still find their row by it (the buyer reads the reason of an abandon, never « Aucun
motif n'a été indiqué »), and ``Clause.stage_changed_at`` is that instant too.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import event, select

from tests.conftest import _empty_postgres, make_settings
from tests.integration.test_summary_truth import check_email, figure_lines, summary_emails
from workflow.adapters.orm import (
    Buyer,
    BuyerContact,
    Clause,
    ClauseHistory,
    Company,
    Correspondent,
    Market,
    Operation,
    OutboxMessage,
)
from workflow.app.audit import verify_database
from workflow.bootstrap import App, bootstrap
from workflow.domain.stages import ClauseEvent
from workflow.domain.vocabulary import PartyRole
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.services.clauses import (
    ClauseParameters,
    PartyInput,
    advance_clause,
    create_clause,
    record_award,
    set_hours_override,
)
from workflow.services.summaries import compile_for
from workflow.services.ticks import TimedAction, simulate

NBSP = "\u00a0"
MARCH = date(2026, 3, 1)
SET_UP = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
#: Instance A, its clock right, records the award.
AWARDED = datetime(2026, 3, 2, 10, 5, tzinfo=UTC)
#: Instance B, its clock three minutes behind A's, writes the next change a minute later.
SKEW = timedelta(minutes=3)
B_CLOCK = datetime(2026, 3, 2, 10, 3, tzinfo=UTC)
#: When the facilitator runs ``clauses summary --month 2026-03``.
ASKED = datetime(2026, 4, 10, 9, 0, tzinfo=UTC)
ABANDON_REASON = "Marché déclaré sans suite par la commune"


@dataclass(frozen=True)
class Lot:
    clause_id: int
    company_id: int
    correspondent_id: int


def lot_at_award(app: App) -> Lot:
    """A lot drafted and put out to tender (« attribution »), nobody awarded it yet."""
    with app.transaction() as session:
        buyer = Buyer(
            name="Ville d'Exemple",
            created_at=SET_UP,
            contacts=[BuyerContact(name="Alex Acheteur", email="acheteur@example.org")],
        )
        operation = Operation(buyer=buyer, name="École des Tilleuls", created_at=SET_UP)
        market = Market(operation=operation, reference="M-2026-01", title="Travaux")
        company = Company(
            name="Bâtiments Sud",
            created_at=SET_UP,
            correspondents=[Correspondent(name="Claude Chef", email="chef@example.org")],
        )
        session.add_all([buyer, operation, market, company])
        session.flush()
        clause = create_clause(
            session,
            market,
            lot_number="1",
            lot_title="Gros œuvre",
            params=ClauseParameters(hours_override=500, override_reason="essai"),
            actor="test",
            now=SET_UP,
            publish=app.publish,
        )
        for event in (ClauseEvent.DRAFT, ClauseEvent.AWARD):
            advance_clause(
                session,
                clause.id,
                event,
                actor="test",
                reason=None,
                now=SET_UP,
                publish=app.publish,
            )
        return Lot(clause.id, company.id, company.correspondents[0].id)


def award(app: App, lot: Lot, now: datetime) -> None:
    with app.transaction() as session:
        record_award(
            session,
            lot.clause_id,
            parties=[
                PartyInput(
                    company_id=lot.company_id,
                    role=PartyRole.HOLDER,
                    correspondent_id=lot.correspondent_id,
                )
            ],
            start_date=date(2026, 3, 2),
            planned_end_date=date(2026, 12, 31),
            actor="instance A",
            now=now,
            publish=app.publish,
        )


def advance(
    app: App, lot: Lot, event: ClauseEvent, now: datetime, reason: str | None = None
) -> None:
    with app.transaction() as session:
        advance_clause(
            session,
            lot.clause_id,
            event,
            actor="instance B",
            reason=reason,
            now=now,
            publish=app.publish,
        )


def history(app: App, lot: Lot) -> list[ClauseHistory]:
    """The lot's rows as every reader orders them: by instant, then N°."""
    with app.transaction() as session:
        statement = select(ClauseHistory).where(ClauseHistory.clause_id == lot.clause_id)
        return list(session.scalars(statement.order_by(ClauseHistory.at, ClauseHistory.id)))


def summary_command(app: App, month: date, now: datetime) -> str:
    state = CliState()
    state.factory = lambda: app
    real_clock = app.clock
    app.clock = lambda: now
    try:
        result = CliRunner().invoke(
            cli, ["summary", "--month", f"{month:%Y-%m}"], obj=state, env={"COLUMNS": "200"}
        )
    finally:
        app.clock = real_clock
    assert result.exit_code == 0, result.output
    return result.output


def stages_at_end_of_march(app: App) -> dict[str, int]:
    summary = compile_for(app, MARCH, now=ASKED)
    return {s.label: s.clauses for s in summary.overall.clauses_by_stage if s.clauses}


def test_a_lot_started_by_an_instance_whose_clock_is_behind_is_started(app: App) -> None:
    lot = lot_at_award(app)
    award(app, lot, AWARDED)
    advance(app, lot, ClauseEvent.START, B_CLOCK)  # written after the award, stamped before

    # March's summary, compiled and printed by the command, counts the lot as started.
    assert stages_at_end_of_march(app) == {"mise en œuvre": 1}
    printed = figure_lines(summary_command(app, MARCH, ASKED))
    assert printed["Clauses comptées"] == "1, dont 1 suivie dans le mois"
    assert printed["Déclarations de mars 2026"] != "aucune attendue"

    rows = history(app, lot)
    # In the readers' order, the rows are in the order they were written: the start is last,
    # at the award's instant (B's clock was behind it), never before it.
    assert [(r.event, r.to_stage) for r in rows] == [
        ("identify", "identification"),
        ("draft", "drafting"),
        ("award", "award"),
        ("award_recorded", "award"),
        ("start", "execution"),
    ]
    assert rows[-1].at == AWARDED
    assert [r.id for r in rows] == sorted(r.id for r in rows)
    with app.transaction() as session:
        assert session.get_one(Clause, lot.clause_id).stage_changed_at == AWARDED

    # The audit reads the same chain: identification, drafting, award, execution.
    assert verify_database(app).findings == ()


def test_an_abandon_written_behind_the_clock_is_the_lot_s_last_stage_and_tells_its_reason(
    app: App,
) -> None:
    lot = lot_at_award(app)
    award(app, lot, AWARDED)
    advance(app, lot, ClauseEvent.ABANDON, B_CLOCK, reason=ABANDON_REASON)

    # March's summary counts the lot abandoned, as it is.
    assert stages_at_end_of_march(app) == {"abandonnée": 1}
    rows = history(app, lot)
    assert [r.event for r in rows][-2:] == ["award_recorded", "abandon"]
    assert rows[-1].to_stage == "abandoned"

    # The buyer's notice found the abandon's row by the event's instant: it quotes the reason
    # and is keyed by the row's N°.
    with app.transaction() as session:
        notice = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "notice_abandoned")
        ).one()
        # The company's welcome, written with the award and not left, is withdrawn.
        welcome = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "company_welcome")
        ).one()
    assert notice.key == f"notice:{lot.clause_id}:notice_abandoned:h{rows[-1].id}"
    assert f"Motif indiqué : {ABANDON_REASON}\n" in notice.body_text
    assert "Aucun motif" not in notice.body_text
    assert welcome.state == "cancelled"
    assert (welcome.last_error or "").startswith("Retiré : lot abandonné le 02/03/2026")
    assert verify_database(app).findings == ()


def test_march_s_summary_leaves_for_a_lot_started_behind_the_clock_as_the_command_says(
    app: App,
) -> None:
    lots: list[Lot] = []
    awarded_then_started = [
        TimedAction(SET_UP, "lot en attribution", lambda app, at: lots.append(lot_at_award(app))),
        TimedAction(AWARDED, "attribution (instance A)", lambda app, at: award(app, lots[0], at)),
        # A minute later by A's clock; B's says three minutes less.
        TimedAction(
            AWARDED + timedelta(minutes=1),
            "démarrage (instance B)",
            lambda app, at: advance(app, lots[0], ClauseEvent.START, at - SKEW),
        ),
    ]
    # March's summary leaves on 22 April, after the call of 1 April and its reminders.
    simulate(app, date(2026, 3, 2), date(2026, 4, 23), actions=awarded_then_started, dispatch=False)

    march = [e for e in summary_emails(app) if e.month == MARCH]
    # The facilitator's and the buyer's, each saying what ``clauses summary`` printed then.
    assert sorted(e.kind for e in march) == ["monthly_summary", "monthly_summary_buyer"]
    for email in march:
        check_email(app, email, ladders=True)
        shown = figure_lines(email.body_text)
        assert shown["Clauses comptées"] == "1, dont 1 suivie dans le mois"
        assert shown["Déclarations de mars 2026"] != "aucune attendue"
    assert verify_database(app).findings == ()


def test_the_audit_names_the_clocks_in_a_history_written_out_of_order_before_the_rule(
    app: App,
) -> None:
    """Rows written before the rule, as they were: the award by A at 10:05, then the start by B
    stamped 10:03. The chain read by instant breaks; the audit says why, not « une ligne
    manque »."""
    lot = lot_at_award(app)
    with app.transaction() as session:
        clause = session.get_one(Clause, lot.clause_id)
        for at, event, to_stage in (
            (AWARDED, "award_recorded", "award"),
            (B_CLOCK, "start", "execution"),
        ):
            session.add(
                ClauseHistory(
                    clause_id=clause.id,
                    at=at,
                    actor="ancienne version",
                    event=event,
                    from_stage="award",
                    to_stage=to_stage,
                )
            )
            session.flush()
        clause.stage = "execution"
        ids = session.scalars(
            select(ClauseHistory.id)
            .where(ClauseHistory.clause_id == clause.id)
            .order_by(ClauseHistory.id.desc())
            .limit(2)
        ).all()
    start_id, award_id = ids
    state = CliState()
    state.factory = lambda: app
    result = CliRunner().invoke(cli, ["audit", "verify"], obj=state, env={"COLUMNS": "200"})
    printed = " ".join(result.output.split())
    assert (
        f"Clause n° {lot.clause_id} : ligne d'historique n° {award_id} (award_recorded, "
        "02/03/2026 10:05) : part de l'étape « attribution » alors que la clause était à "
        f"« mise en œuvre » ; la ligne n° {start_id} (start, 02/03/2026 10:03) a été écrite "
        "après elle mais datée avant : les horloges des instances qui les ont écrites ne "
        "concordaient pas"
    ) in printed.replace(NBSP, " ")
    assert "une ligne manque" not in printed


def test_the_latest_instant_of_a_clause_is_read_from_the_history_index(app: App) -> None:
    """One lookup per row written, on the index of each lot's rows newest first (0018), never
    a read of the lot's whole history (a long one: years of declarations)."""
    lot = lot_at_award(app)
    award(app, lot, AWARDED)
    sent: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    event.listen(app.engine, "before_cursor_execute", record)
    try:
        advance(app, lot, ClauseEvent.START, B_CLOCK)
    finally:
        event.remove(app.engine, "before_cursor_execute", record)
    (statement, parameters), *_ = [
        (s, p)
        for s, p in sent
        if s.lstrip().startswith("SELECT clause_history.at")
        and "ORDER BY clause_history.at DESC" in s
    ]
    index = "ix_clause_history_latest"
    with app.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            for plan_kind in ("seqscan", "bitmapscan", "sort"):
                connection.exec_driver_sql(f"SET enable_{plan_kind} = off")
            plan = connection.exec_driver_sql("EXPLAIN " + statement, parameters).all()
            assert f"Scan using {index} on clause_history" in str(plan), plan
        else:
            plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            assert f"INDEX {index}" in str(plan), plan


@pytest.mark.postgres
def test_a_change_waiting_on_another_instance_s_start_is_dated_after_it(
    postgres_url: str, tmp_path: Path
) -> None:
    """Two instances at once on PostgreSQL: A starts the lot (10:05 by its clock) and has not
    committed; B, three minutes behind, imposes the lot's hours and waits on the lot's row. Once
    A commits, B's row is written after A's and dated with it: the chain reads award, execution,
    hours imposed in execution, and the audit finds nothing."""
    _empty_postgres(postgres_url)  # one instance per SQLite file: PostgreSQL only
    app = bootstrap(make_settings(tmp_path, postgres_url), clock=lambda: AWARDED)
    try:
        lot = lot_at_award(app)
        award(app, lot, SET_UP + timedelta(minutes=30))
        waiting = threading.Event()
        errors: list[BaseException] = []

        def instance_b() -> None:
            try:
                with app.transaction() as session:
                    waiting.set()
                    set_hours_override(
                        session,
                        lot.clause_id,
                        600,
                        reason="avenant n° 1",
                        actor="instance B",
                        now=B_CLOCK,
                    )
            except BaseException as error:  # reported by the main thread
                errors.append(error)

        with app.transaction() as session:
            advance_clause(
                session,
                lot.clause_id,
                ClauseEvent.START,
                actor="instance A",
                reason=None,
                now=AWARDED,
                publish=app.publish,
            )
            session.flush()
            other = threading.Thread(target=instance_b)
            other.start()
            assert waiting.wait(10)
            other.join(1)  # B is blocked on the lot's row, locked by A's start
            assert other.is_alive()
        other.join(10)
        assert not errors, errors
        assert verify_database(app).findings == ()
        rows = history(app, lot)
        assert [(r.event, r.from_stage, r.to_stage) for r in rows][-2:] == [
            ("start", "award", "execution"),
            ("hours_override", "execution", "execution"),
        ]
        assert rows[-1].at == AWARDED
    finally:
        app.close()
