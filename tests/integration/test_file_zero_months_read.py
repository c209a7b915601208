"""A declaration file read (``read_declarations``) names the months it declares at zero hours
(``zero_months``: a « 0 » line with no participant, and no participant line, for the month); the
company's page reads them from there (``FileLines.zero_months``) instead of a made-up line of
« 0 » hours among the file's lines. On SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from tests.conftest import Clock
from tests.integration.test_declaration_howto import lot_01
from tests.integration.test_declaration_template_zero_months import (
    OCTOBER,
    SEPTEMBER,
    SEPTEMBER_PERSON,
    filled,
)
from tests.integration.test_identical_replacement import started
from workflow.adapters.declaration_columns import DECLARATION_COLUMNS
from workflow.adapters.spreadsheets import read_table
from workflow.bootstrap import App
from workflow.domain.declaration_links import LinkScope
from workflow.services.declaration_imports import read_declarations
from workflow.services.online_declarations import lines_from_file


def test_a_file_read_names_its_months_at_zero_hours(app: App, clock: Clock, tmp_path: Path) -> None:
    started(app, clock)
    path = filled(app, tmp_path, {2: SEPTEMBER_PERSON, 5: {"Heures": "0"}})
    clause_id, holder_id, _ = lot_01(app)
    now, zone = app.clock(), app.settings.zone
    with app.transaction() as session:
        read = read_declarations(
            session,
            read_table(path, DECLARATION_COLUMNS),
            clause_id=None,
            replace=False,
            now=now,
            zone=zone,
        )
        assert read.zero_months == (OCTOBER,)
        assert [(g.month, len(g.lines)) for g in read.groups] == [(SEPTEMBER, 1), (OCTOBER, 0)]

        # The company's page: September's person as a line, October as a month at zero.
        scope = LinkScope(clause_id, holder_id, SEPTEMBER, date(2027, 1, 31))
        given = lines_from_file(
            session,
            path.read_bytes(),
            "rempli.csv",
            scope,
            allowed=[SEPTEMBER, OCTOBER],
            now=now,
            zone=zone,
        )
    assert given.zero_months == (OCTOBER,)
    assert [(line.reference, line.hours, line.month) for line in given.lines] == [
        ("P-0500", "80", SEPTEMBER.isoformat())
    ]
