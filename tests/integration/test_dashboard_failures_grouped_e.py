"""The emails in trouble on the dashboard and the API's tasks, grouped by the database (issue 12:
the day's tasks at 10^5 lots read 13,082 refused, given-up and uncertain messages and grouped
them in Python).

- the first tasks of the emails' section (``compile_tasks``) are exactly the first of the full
  digest (``compile_digest``, which still reads every message) and its count: groups of three
  and more, more than ten (« … »), groups of one or two (each message its own line), an answer
  missing, empty or « inconnue » (one group), uncertain messages (always one line each), a group
  whose words name its domains, on SQLite and PostgreSQL;
- on PostgreSQL, a group of forty messages refused for the same reason is not read message by
  message: the tasks read a few rows of the outbox, not every message in trouble.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, update

from tests.conftest import Clock, _empty_postgres, make_settings
from tests.integration.test_dispatch import NOW, queue
from workflow.adapters.orm import OutboxMessage
from workflow.app.unit import reading
from workflow.bootstrap import App, bootstrap
from workflow.services.digest import compile_digest, compile_tasks
from workflow.services.outbox import Recipient

LATER = NOW + timedelta(days=1)


def _trouble(app: App, groups: list[tuple[str, str | None, list[str]]]) -> None:
    """Messages queued one group after the other in turn (so the groups' first messages are
    interleaved), then each put in its state with its answer."""
    keys: list[list[str]] = [[] for _ in groups]
    longest = max(len(domains) for _, _, domains in groups)
    for n in range(longest):
        for g, (_, _, domains) in enumerate(groups):
            if n < len(domains):
                key = f"trouble:{g}:{n}"
                queue(app, key, Recipient("Paul Lambert", f"paul.lambert@{domains[n]}"), now=NOW)
                keys[g].append(key)
    with app.transaction() as session:
        for (state, error, _), group_keys in zip(groups, keys, strict=True):
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.key.in_(group_keys))
                .values(state=state, attempts=1, last_error=error)
            )


GROUPS: list[tuple[str, str | None, list[str]]] = [
    (
        "failed",
        "Refus définitif : 550 5.1.1 Boîte aux lettres inconnue",
        ["btp-gers.fr", "exemple.org", "renov-auch.fr"] * 4,
    ),
    ("dead", "Échec temporaire : 451 4.3.0 Erreur temporaire du serveur", ["a.fr", "b.fr"] * 2),
    ("failed", "Refus définitif : 554 5.7.1 Relay access denied", ["a.fr"] * 3),
    ("failed", "Refus définitif : 552 Mailbox full", ["a.fr", "b.fr"]),
    ("failed", None, ["c.fr"]),
    ("failed", "", ["d.fr"]),
    ("failed", "inconnue", ["e.fr"]),
    ("uncertain", "Connexion interrompue", ["a.fr", "f.fr"]),
    ("dead", "Échec temporaire : 421 Trop de connexions", ["g.fr"]),
]


def test_the_emails_in_trouble_shown_are_the_full_digest_s_first(app: App) -> None:
    _trouble(app, GROUPS)
    with reading(app) as session:
        digest = compile_digest(session, LATER, app.settings)
        emails = [item for item in digest.items if item.category == "email"]
        # 12 refused, 4 given up, 3 relay, 3 « inconnue » as lines; 2 + 2 uncertain + 1 alone.
        assert len(emails) == 4 + 2 + 2 + 1
        for shown in (0, 1, 2, 3, 4, 5, 8, 30):
            tasks = compile_tasks(session, LATER, app.settings, shown)
            assert tasks == digest.first(shown), shown
    said = {item.title: item for item in emails}
    twelve = said["12 courriels refusés définitivement, tous pour la même raison"]
    assert twelve.detail.endswith(" …).")  # ten numbers of twelve
    unknown = said["3 courriels refusés définitivement, tous pour la même raison"]
    assert unknown.detail.startswith("Erreur : inconnue (N° ")
    given_up = said["4 courriels abandonnés après plusieurs tentatives, tous pour la même raison"]
    assert "adressés à 2 domaines différents" in given_up.action


@pytest.fixture
def postgres_app(postgres_url: str, tmp_path: Path, clock: Clock) -> Iterator[App]:
    """PostgreSQL only (the rows are counted from its answers), never a skipped SQLite run."""
    _empty_postgres(postgres_url)
    application = bootstrap(make_settings(tmp_path, postgres_url), clock=clock)
    yield application
    application.close()


@pytest.mark.postgres
def test_a_large_group_in_trouble_is_not_read_message_by_message(postgres_app: App) -> None:
    app = postgres_app
    refused = "Refus définitif : 550 5.1.1 Boîte aux lettres inconnue"
    _trouble(app, [("failed", refused, ["btp-gers.fr"] * 40), ("uncertain", None, ["a.fr"] * 2)])
    rows: list[int] = []

    def count(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if "FROM outbox" in statement:
            rows.append(cursor.rowcount)

    event.listen(app.engine, "after_cursor_execute", count)
    try:
        with reading(app) as session:
            tasks = compile_tasks(session, LATER, app.settings, 30)
    finally:
        event.remove(app.engine, "after_cursor_execute", count)
    [section] = tasks.sections
    assert section.count == 3
    assert section.items[0].title == "40 courriels refusés définitivement, tous pour la même raison"
    # Its first ten numbers and the two uncertain ones, then those two read to be written.
    assert sum(rows) <= 20, rows
