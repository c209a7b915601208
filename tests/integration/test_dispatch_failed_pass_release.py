"""A pass whose outcome commit fails gives back at once every row it claimed and did not hand over.

The dispatcher claims the next batch while the current one is on the wire. When the database
refuses an outcome (here a trigger refuses to mark one row sent: a real refusal of the real
database, on SQLite and on PostgreSQL), the pass fails; the rows it had claimed ahead, and the rows
of its batch not handed to the server yet, must be waiting again right away, not ``sending``
until their lease ends (20 minutes). The rows handed to the server stay ``sending``, noted handed
over, for ``mark_uncertain``: never sent twice. The next pass sends each waiting row once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError

from tests.conftest import Clock, make_settings
from tests.integration.smtp_server import Received, ScriptedHandler, running_server
from tests.integration.test_dispatch import NOW, queue
from workflow.adapters.mail.message import message_id
from workflow.adapters.orm import OutboxMessage
from workflow.bootstrap import App, bootstrap
from workflow.services.dispatch import dispatch_due

COUNT = 12
REFUSED = "m01"

SQLITE_TRIGGER = (
    "CREATE TRIGGER refuse_outcome BEFORE UPDATE OF state ON outbox "
    f"WHEN NEW.state = 'sent' AND OLD.key = '{REFUSED}' "
    "BEGIN SELECT RAISE(ABORT, 'résultat refusé par la base'); END"
)
POSTGRES_TRIGGER = (
    "CREATE FUNCTION refuse_outcome() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'résultat refusé par la base'; END $$",
    "CREATE TRIGGER refuse_outcome BEFORE UPDATE ON outbox FOR EACH ROW "
    f"WHEN (NEW.state = 'sent' AND OLD.key = '{REFUSED}') EXECUTE FUNCTION refuse_outcome()",
)


def refuse_outcome(engine: Engine) -> None:
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.execute(text(SQLITE_TRIGGER))
        else:
            for statement in POSTGRES_TRIGGER:
                connection.execute(text(statement))


def fix(engine: Engine) -> None:
    """The fault fixed: the trigger gone (the PostgreSQL database outlives the test)."""
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.execute(text("DROP TRIGGER IF EXISTS refuse_outcome"))
        else:
            connection.execute(text("DROP TRIGGER IF EXISTS refuse_outcome ON outbox"))
            connection.execute(text("DROP FUNCTION IF EXISTS refuse_outcome()"))


@pytest.fixture
def handler() -> ScriptedHandler:
    return ScriptedHandler()


@pytest.fixture
def smtp_app(
    handler: ScriptedHandler, database_url: str, tmp_path: Path, clock: Clock
) -> Iterator[App]:
    with running_server(handler) as server:
        settings = make_settings(
            tmp_path,
            database_url,
            mail_transport="smtp",
            smtp_host=server.hostname,
            smtp_port=server.port,
            smtp_timeout=5,
            smtp_data_timeout=10,
        )
        application = bootstrap(settings, clock=clock)
        try:
            yield application
        finally:
            fix(application.engine)
            application.close()


def outbox_rows(app: App) -> dict[str, tuple[str, str | None, bool, bool]]:
    """Each row's state, owner, whether it has a lease and whether it is noted handed over."""
    with app.transaction() as session:
        rows = session.execute(
            select(
                OutboxMessage.key,
                OutboxMessage.state,
                OutboxMessage.claimed_by,
                OutboxMessage.lease_until.is_not(None),
                OutboxMessage.send_started_at.is_not(None),
            )
        ).all()
    return {key: (state, owner, leased, started) for key, state, owner, leased, started in rows}


def message_keys(app: App) -> dict[str, str]:
    """Each row's key by the Message-ID its message carries."""
    with app.transaction() as session:
        found = session.execute(select(OutboxMessage.key, OutboxMessage.message_token)).all()
    return {message_id(key, "clauses@example.org", token): key for key, token in found}


def arrivals(app: App, handler: ScriptedHandler) -> Counter[str]:
    """How many times each row's message reached the server, by key."""
    keys = message_keys(app)
    return Counter(keys[str(r.message["Message-ID"])] for r in handler.arrived)


def test_a_failed_outcome_commit_gives_the_rows_claimed_ahead_back_at_once(
    smtp_app: App, handler: ScriptedHandler
) -> None:
    app = smtp_app
    keys = [f"m{n:02d}" for n in range(COUNT)]
    for key in keys:
        queue(app, key)
    refuse_outcome(app.engine)
    keys_by_id = message_keys(app)

    def answer_delay(received: Received) -> float:
        # The server takes its time over the message after the refused one: the failed commit
        # is known by then, so the pass fails within its first batch, the second claimed ahead.
        return 0.5 if keys_by_id[str(received.message["Message-ID"])] == "m02" else 0.0

    handler.answer_delay = answer_delay

    # Batches of 4: the second batch is claimed while the first is on the wire.
    with pytest.raises(DBAPIError) as caught:
        dispatch_due(app, NOW, batch_size=4, group_size=1)

    assert "résultat refusé par la base" in str(caught.value.orig)
    arrived = arrivals(app, handler)
    rows = outbox_rows(app)
    assert arrived[REFUSED] == 1 and set(arrived.values()) == {1}
    # The refused row was handed over: it stays claimed, noted handed over (uncertain once its
    # lease is over), never given back to be sent twice; so does any row accepted after it
    # whose outcome went down with it.
    assert rows[REFUSED][0] == "sending" and rows[REFUSED][3]
    for key in keys:
        state, owner, leased, started = rows[key]
        if key in arrived:
            assert state == "sent" or (state == "sending" and started), (key, rows[key])
        else:
            # Never handed over (claimed ahead, or later in the batch): waiting again now.
            assert (state, owner, leased, started) == ("pending", None, False, False), (
                key,
                rows[key],
            )
    waiting = [key for key in keys if key not in arrived]
    assert {"m04", "m05", "m06", "m07"} <= set(waiting)  # the second batch, claimed ahead

    fix(app.engine)
    # At once, on the real clock: no lease had to end for them.
    report = dispatch_due(app, NOW, batch_size=4, group_size=1)

    assert report.sent == len(waiting) and report.lost == 0
    again = arrivals(app, handler)
    assert set(again) == set(keys) and set(again.values()) == {1}  # each exactly once
    rows = outbox_rows(app)
    assert all(rows[key][0] == "sent" for key in waiting)
    assert all(
        rows[key][0] == "sent" or (rows[key][0] == "sending" and rows[key][3]) for key in keys
    )
