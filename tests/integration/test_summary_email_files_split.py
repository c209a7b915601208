"""The summary email's attached files and its shortened clause table, built faster (issue 12).

``email_files`` builds only the three sheets it attaches (``progress_table``, ``missing_table``,
``clauses_table``), no longer every table of the spreadsheet; ``email_tables`` ranks the
clauses with ``heapq.nsmallest`` on keys worked out once, no longer a full sort. Nothing a
recipient reads may change: on a generated territory, every attached file is the wide CSV of
the spreadsheet's sheet of the same name, and the clauses an email shows are the first ones
of a full sort by the former key, in its order, ties kept in the order of the list (a table
short enough to show whole keeps the order of the list).
"""

from __future__ import annotations

import io
import random
import zipfile
from collections import Counter
from decimal import Decimal

import pytest
from rich.console import Console

from bench.generate import generate
from tests.integration.test_summary_email_bytes import FIRST_MORNING, OCTOBER
from workflow.adapters import reports
from workflow.adapters.reports import (
    EMAIL_ROWS,
    LongTable,
    build_tables,
    clauses_table,
    csv_name,
    email_files,
    email_tables,
    missing_table,
    progress_table,
)
from workflow.bootstrap import App
from workflow.domain.monthly_summary import MonthlySummary
from workflow.domain.summary import Progress
from workflow.services.summaries import compile_month

SHEETS = {
    LongTable.BUYERS: "Avancement",
    LongTable.MISSING: "Déclarations manquantes",
    LongTable.EARLIER: "Mois précédents manquants",
    LongTable.CLAUSES: "Clauses",
}


@pytest.fixture
def summaries(app: App, database_url: str) -> list[MonthlySummary]:
    """October's summaries of 600 generated lots (seed 5): the facilitator's, six buyers'."""
    generate(600, 5, database_url, console=Console(file=io.StringIO()))
    settings = app.settings
    with app.transaction() as session:
        batch = compile_month(
            session,
            OCTOBER,
            now=FIRST_MORNING,
            zone=settings.zone,
            outcome_groups=settings.outcome_groups,
        )
    return [batch.summary, *(batch.of_buyer(b) for b in batch.informed)]


def _files(summary: MonthlySummary) -> dict[str, bytes]:
    """The attached CSV files by name, out of the ZIP archive when there is one."""
    found: dict[str, bytes] = {}
    for attachment in email_files(summary).attachments:
        if attachment.filename.endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(attachment.content)) as archive:
                found |= {name: archive.read(name) for name in archive.namelist()}
        else:
            found[attachment.filename] = attachment.content
    return found


def test_each_attached_file_is_the_spreadsheet_sheet_of_its_name(
    summaries: list[MonthlySummary],
) -> None:
    attached = 0
    for summary in summaries:
        sheets = {t.sheet: t for t in build_tables(summary)}
        # The sheets built alone are the spreadsheet's, at their place in it.
        assert progress_table(summary) == sheets["Avancement"]
        assert missing_table(summary) == sheets["Déclarations manquantes"]
        assert clauses_table(summary) == sheets["Clauses"]
        expected = {
            csv_name(summary, table): reports._wide_csv(sheets[SHEETS[table]])
            for table in reports._long_tables(summary)
        }
        assert _files(summary) == expected
        attached += len(expected)
    # Not vacuous: the facilitator's clauses at least are cut and attached.
    assert attached >= 1


def _behind_by(progress: Progress) -> Decimal:
    """The former ranking's measure, as it was written."""
    if not progress.behind or progress.pace_fraction is None or progress.time_fraction is None:
        return Decimal(0)
    return progress.time_fraction - progress.pace_fraction


def test_the_email_shows_the_clauses_a_full_sort_puts_first_in_its_order(
    summaries: list[MonthlySummary],
) -> None:
    cut = 0
    for summary in summaries:
        with_buyer = not summary.for_buyer
        missing = Counter(m.clause_id for m in summary.overall.declarations.missing)
        followed = [c for c in summary.followed_clauses if not reports._nothing(c.progress)]
        ranked = sorted(  # stable: ties keep the order of the list
            followed,
            key=lambda c: (
                not missing[c.clause_id],
                not c.progress.behind,
                -_behind_by(c.progress),
            ),
        )
        # A table short enough to show whole keeps the order of the list.
        shown = ranked[:EMAIL_ROWS] if len(followed) > EMAIL_ROWS else followed
        expected = [reports._clause_label(c, with_buyer) for c in shown]
        table = next(t for t in email_tables(summary) if t["title"] == "Avancement par clause")
        assert [row[0] for row in table["rows"][: len(expected)]] == expected
        cut += len(followed) > EMAIL_ROWS
    assert cut >= 1


def test_the_first_rows_are_those_of_a_stable_sort_ties_included() -> None:
    draw = random.Random(12)
    for size in (0, EMAIL_ROWS, EMAIL_ROWS + 1, 500):
        rows = [(draw.randint(0, 3), n) for n in range(size)]  # many ties on the first field

        def urgency(row: tuple[int, int]) -> int:
            return row[0]

        order = sorted(rows, key=urgency) if size > EMAIL_ROWS else rows
        shown, others = reports._first(rows, urgency)
        assert shown == order[:EMAIL_ROWS]
        assert others == [r for r in rows if r not in shown]
        assert reports._first(rows, None) == (rows[:EMAIL_ROWS], rows[EMAIL_ROWS:])
