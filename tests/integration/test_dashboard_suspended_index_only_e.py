"""The months overdue of the lots once suspended, read from the open ladders' index alone (issue
12: at 10^5 lots the day's tasks read them with their ladder's number, from the table: 7,200
pages for 3,000 months, 50-80 ms of the dashboard).

On PostgreSQL, on a generated territory, every statement of the day's tasks that reads the open
ladders of the lots once suspended reads ``declaration_ladders`` by an index-only scan; the
ladder of a company shown is found by its month when its line is written (the lines themselves:
``test_dashboard_tasks_scale.py``).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event

from tests.conftest import _empty_postgres, make_settings
from tests.integration.test_generate import generate
from tests.integration.test_query_plans import nodes
from workflow.app import dashboard as dashboard_view
from workflow.bootstrap import bootstrap

DAY = datetime(2026, 11, 20, 10, 30, tzinfo=ZoneInfo("Europe/Paris"))


@pytest.mark.postgres
@pytest.mark.slow
def test_the_months_of_the_lots_once_suspended_are_read_from_the_index_alone(
    postgres_url: str, tmp_path: Path
) -> None:
    _empty_postgres(postgres_url)
    generate(postgres_url, tmp_path, lots=1500, seed=5)
    app = bootstrap(make_settings(tmp_path, postgres_url), clock=lambda: DAY)
    app.init_database()
    sent: dict[str, Any] = {}

    def record(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        sent.setdefault(statement, parameters)

    scans: dict[str, list[str]] = {}
    try:
        with app.engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()
        event.listen(app.engine, "before_cursor_execute", record)
        tasks = dashboard_view.day_tasks(app, per_section=30, now=DAY + timedelta(days=10))
        event.remove(app.engine, "before_cursor_execute", record)
        # The lots once suspended, named by their history's rows or given as a list of lots.
        suspended = [
            statement
            for statement in sent
            if "FROM declaration_ladders" in statement
            and "DISTINCT ON" not in statement
            and ("'suspended'" in statement or "ANY (" in statement)
        ]
        with app.engine.connect() as connection:
            for statement in suspended:
                explained = connection.exec_driver_sql(
                    "EXPLAIN (FORMAT JSON) " + statement, sent[statement]
                ).scalar()
                document = explained if isinstance(explained, list) else json.loads(str(explained))
                scans[statement] = [
                    str(node["Node Type"])
                    for node in nodes(document[0]["Plan"])
                    if node.get("Relation Name") == "declaration_ladders"
                ]
    finally:
        app.close()
    assert any(section.category == "declaration" for section in tasks.sections)
    assert scans, "the months of the lots once suspended are read"
    assert all(kinds == ["Index Only Scan"] for kinds in scans.values()), scans
