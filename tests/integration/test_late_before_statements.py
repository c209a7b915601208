"""The statements the month-start burst costs for the earlier months still late that each call
names (``reminder_emails.late_before``): read once per climb batch (the months owed, the ladders,
the lot's ladder emails), not once per company. Counted on the real pass, deterministically.

Measured on SQLite (statements of ``climb_due_ladders`` on 2 November 2026, 9:00, each company
late for September and called for October; its September alert leaving in the same pass):
see ``burst_statements`` and the figures in the session's report.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time
from typing import Any

import pytest
from sqlalchemy import event

from tests.conftest import Clock
from tests.integration._ladders import make_lot
from tests.integration.test_call_names_late_months import named_late
from workflow.adapters.mail.memory import MemoryTransport
from workflow.adapters.orm import OutboxMessage
from workflow.bootstrap import App, bootstrap
from workflow.domain.calendar import at_local
from workflow.services import reminders
from workflow.services.reminder_emails import key_months
from workflow.services.reminders import LadderReport, climb_due_ladders, open_due_ladders
from workflow.services.ticks import simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

SEP, OCT = date(2026, 9, 1), date(2026, 10, 1)
#: ``reminder_emails._history_rows`` (the key quoted or not, by dialect).
LADDER_HISTORY = "outbox.created_at, outbox.state, outbox.sent_at, outbox.last_error FROM outbox"


def paris(day: date, hour: int) -> datetime:
    return at_local(day, time(hour), Settings().zone)


@pytest.fixture
def app(settings: Settings, clock: Clock) -> Iterator[App]:
    application = bootstrap(settings, clock=clock, transport=MemoryTransport())
    yield application
    application.close()


def burst_statements(app: App, companies: int) -> tuple[list[str], list[OutboxMessage]]:
    """A lot of ``companies`` companies, none declaring: the statements of the climb that
    queues their October calls (and September's alerts) on 2 November, and those calls."""
    lot = make_lot(
        app,
        start=SEP,
        end=date(2027, 6, 30),
        companies=[f"Entreprise {n}" for n in range(companies)],
        at=paris(SEP, 8),
    )
    simulate(app, SEP, date(2026, 11, 1))
    now = paris(date(2026, 11, 2), 9)
    report = LadderReport()
    open_due_ladders(app, now, report)
    statements: list[str] = []

    def counted(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(app.engine, "before_cursor_execute", counted)
    try:
        climb_due_ladders(app, now, report)
    finally:
        event.remove(app.engine, "before_cursor_execute", counted)
    with app.transaction() as session:
        calls = [
            m
            for m in session.query(OutboxMessage).filter(OutboxMessage.created_at == now)
            if (k := key_months(m.key)) is not None
            and k.step == "call"
            and m.clause_id == lot.clause_id
        ]
        for m in calls:
            session.expunge(m)
    assert report.calls == companies
    assert report.escalations == companies
    return statements, calls


@pytest.mark.parametrize("companies", [2, 5])
@pytest.mark.parametrize("batched", [True, False])
def test_a_burst_of_calls_reads_the_late_months_once_per_batch(
    app: App,
    companies: int,
    batched: bool,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not batched:
        monkeypatch.setattr(reminders, "LateReading", lambda *_: None)
    statements, calls = burst_statements(app, companies)
    with capsys.disabled():
        print(f"\n{companies} companies, batched={batched}: {len(statements)} statements")
    # The ladder emails of the lot (``ladder_history``) and its cancellations (``asked_again``):
    # once for the batch, not once per call and per alert.
    history = [s for s in statements if LADDER_HISTORY in s]
    cancellations = [s for s in statements if "FROM clause_history" in s and "event IN" in s]
    if batched:
        assert (len(history), len(cancellations)) == (1, 1)
        # The companies' names (the late lists and the alerts name them, as they were then):
        # read once for the batch too, whatever the number of companies.
        names = [s for s in statements if " FROM companies" in s]
        assert len(names) == 1, names
    else:
        assert (len(history), len(cancellations)) == (2 * companies, 2 * companies)
    # What they say is unchanged: each names September, reminded twice.
    assert len(calls) == companies
    for call in calls:
        assert named_late(call.body_text) == {SEP: date(2026, 10, 12)}
        assert (
            "ne m'est toujours pas parvenue (relancée deux fois ; je dois en informer le donneur "
            "d'ordre aujourd'hui)." in call.body_text
        )
