"""The summary's clause table shows ``EMAIL_ROWS`` lots and adds the others up on one line:
when a lot terminated before the month is among those others, the line says so (« suivies ou
résiliées »), since a terminated lot is listed, not followed, in that month."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from tests.integration.test_summaries import many
from workflow.adapters.reports import EMAIL_ROWS, email_tables
from workflow.adapters.templates import french_number
from workflow.emails.summaries import sample_summary


def _rest_line(tables: list[dict[str, object]]) -> str:
    clauses = next(t for t in tables if t["title"] == "Avancement par clause")
    rows = clauses["rows"]
    assert isinstance(rows, list)
    return str(rows[EMAIL_ROWS][0])


def test_the_line_adding_up_the_other_lots_names_a_terminated_one_among_them() -> None:
    summary = many(sample_summary(), EMAIL_ROWS + 10)
    followed = [c for c in summary.clauses if c.followed]
    assert len(followed) > EMAIL_ROWS + 1
    # The least urgent lot (no month missing here: every lot has one; the smallest delay),
    # terminated before the month: it is not followed any more, it stays listed.
    last = followed[-1]
    terminated = replace(last, followed=False, terminated_on=date(2026, 9, 15))
    clauses = tuple(terminated if c is last else c for c in summary.clauses)
    summary = replace(summary, clauses=clauses)
    listed = summary.followed_clauses
    assert terminated in listed and terminated not in summary.clauses[:EMAIL_ROWS]
    rest = len(listed) - EMAIL_ROWS

    line = _rest_line(email_tables(summary))

    assert line == f"… et {french_number(rest)} autres clauses suivies ou résiliées"


def test_the_line_keeps_suivies_alone_when_every_other_lot_is_followed() -> None:
    summary = many(sample_summary(), EMAIL_ROWS + 10)
    rest = len(summary.followed_clauses) - EMAIL_ROWS

    assert _rest_line(email_tables(summary)) == f"… et {french_number(rest)} autres clauses suivies"
