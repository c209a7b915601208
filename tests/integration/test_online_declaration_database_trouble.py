"""A database that fails under the company's declaration page (not migrated, disk full) shows a
French page saying nothing was saved and what to do, never a bare « Internal Server Error »
(user trial). The database is made unusable for real: a table the page reads is renamed away,
then put back, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.conftest import Clock
from tests.integration.test_declaration_howto import lot_01
from tests.integration.test_online_declaration import (
    TWO_PEOPLE,
    call_link,
    called_territory,
    declarations,
    form,
)
from tests.text import visible
from workflow.bootstrap import App
from workflow.entrypoints.web.site import create_site


@contextmanager
def table_away(app: App, table: str) -> Iterator[None]:
    """``table`` missing, as in a base not migrated to the code's version."""
    with app.engine.begin() as conn:
        conn.execute(text(f"ALTER TABLE {table} RENAME TO {table}_away"))
    try:
        yield
    finally:
        with app.engine.begin() as conn:
            conn.execute(text(f"ALTER TABLE {table}_away RENAME TO {table}"))


def test_a_database_fault_on_the_declaration_page_is_said_in_french(app: App, clock: Clock) -> None:
    called = called_territory(app, clock)
    clause_id, holder_id, _ = lot_01(called)
    path = call_link(called, clause_id, holder_id)
    client = TestClient(create_site(called), raise_server_exceptions=False)

    with table_away(called, "declaration_lines"):
        for page in (
            client.get(path),
            client.post(path, data=form(TWO_PEOPLE, "confirmer"), follow_redirects=False),
        ):
            shown = visible(page.text)
            assert page.status_code == 503, shown
            assert "Internal Server Error" not in page.text
            assert "rien n'a été enregistré" in shown
            assert "Réessayez dans quelques minutes" in shown
            assert "contactez Camille Martin (camille.martin@example.org" in shown
            # The base's address and the SQL are for the logs, not for the company.
            assert "declaration_lines" not in shown and "sqlite" not in shown

    assert declarations(called, clause_id, holder_id) == []
    # The base back, the same link works.
    assert client.get(path).status_code == 200
