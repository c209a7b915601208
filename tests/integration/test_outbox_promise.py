"""An email that promises a date is written with its promise in the one INSERT of its row
(``queue_email(promise=…)``, ``EmailToQueue.promise``), on SQLite and PostgreSQL: no moment when
the row waits without it, no second statement; a key that exists keeps the promise it had."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.engine import Connection

from tests.integration.test_dispatch import StubRenderer
from workflow.adapters.orm import OutboxMessage
from workflow.bootstrap import App
from workflow.services.outbox import (
    EmailToQueue,
    Promise,
    Recipient,
    queue_email,
    queue_emails,
)

NOW = datetime(2026, 4, 22, 10, 0, tzinfo=UTC)
UNTIL = datetime(2026, 4, 27, 22, 0, tzinfo=UTC)  # the end of 27 April in Paris
FACTS = {"company_id": 7, "clause_id": 3, "reason": None, "at": NOW.isoformat()}
READER = Recipient("Sophie Lacoste", "sophie.lacoste@example.org")


@contextmanager
def statements(app: App) -> Iterator[list[str]]:
    """The SQL statements run on the outbox while the block runs."""
    seen: list[str] = []

    def record(_conn: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        if re.search(r"\boutbox\b", statement):
            seen.append(statement.split(None, 1)[0].upper())

    event.listen(app.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(app.engine, "before_cursor_execute", record)


def row(app: App, key: str) -> OutboxMessage:
    with app.transaction() as session:
        found = session.scalars(select(OutboxMessage).where(OutboxMessage.key == key)).one()
        session.expunge(found)
        return found


def test_one_email_is_written_with_its_promise_in_its_insert(app: App) -> None:
    with statements(app) as seen, app.transaction() as session:
        assert queue_email(
            session,
            StubRenderer(),  # type: ignore[arg-type]
            key="cancellation:3:7:1:x",
            kind="declaration_cancelled",
            recipients=[READER],
            context={},
            now=NOW,
            promise=Promise(UNTIL, FACTS),
        )
    assert "UPDATE" not in seen and seen.count("INSERT") == 1
    written = row(app, "cancellation:3:7:1:x")
    assert written.promised_until == UNTIL and written.state == "pending"
    assert written.promise_facts == json.dumps(FACTS, sort_keys=True)
    assert json.loads(written.promise_facts) == FACTS

    # Queued again (the event handled twice): nothing written, the promise stays as it was.
    with app.transaction() as session:
        assert not queue_email(
            session,
            StubRenderer(),  # type: ignore[arg-type]
            key="cancellation:3:7:1:x",
            kind="declaration_cancelled",
            recipients=[READER],
            context={},
            now=NOW + timedelta(hours=1),
            promise=Promise(UNTIL + timedelta(days=3), {"company_id": 8}),
        )
    again = row(app, "cancellation:3:7:1:x")
    assert (again.promised_until, again.promise_facts) == (
        written.promised_until,
        written.promise_facts,
    )


def test_a_batch_writes_each_row_with_its_own_promise_or_none(app: App) -> None:
    emails = [
        EmailToQueue("a", "notice_resumed", [READER], {}, promise=Promise(UNTIL, FACTS)),
        EmailToQueue("b", "reminder", [READER], {}),
        EmailToQueue("c", "notice_resumed", [READER], {}, promise=Promise(NOW, {"x": 1})),
    ]
    with statements(app) as seen, app.transaction() as session:
        assert queue_emails(session, StubRenderer(), emails, now=NOW) == 3  # type: ignore[arg-type]
    assert "UPDATE" not in seen and seen.count("INSERT") == 1
    a, b, c = row(app, "a"), row(app, "b"), row(app, "c")
    assert (a.promised_until, json.loads(a.promise_facts or "")) == (UNTIL, FACTS)
    assert (b.promised_until, b.promise_facts) == (None, None)
    assert (c.promised_until, c.promise_facts) == (NOW, '{"x": 1}')
