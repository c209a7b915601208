"""The 08:00 pass names the same few months some 150,000 times at 10^5 lots (the months owed of
each line of the earlier missing declarations, in the emails and in their CSV files): Babel
formats each month once, not once a line (BENCHMARKS.md, summaries: 9 of the 67 profiled
seconds of the pass went to Babel parsing the same pattern again)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date

from workflow.adapters.reports import months_listed
from workflow.adapters.templates import _month_name, french_month


@pytest.fixture
def babel_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[date]]:
    """The months Babel is asked to format, while the real Babel formats them."""
    calls: list[date] = []

    def counting(value: date, *args: Any, **kwargs: Any) -> str:
        calls.append(value)
        return str(format_date(value, *args, **kwargs))

    # A month formatted by an earlier test must be formatted again here.
    forget = _month_name.cache_clear
    forget()
    monkeypatch.setattr("workflow.adapters.templates.babel_format_date", counting)
    yield calls
    forget()


def test_a_thousand_lines_owing_the_same_months_format_each_month_once(
    babel_calls: list[date],
) -> None:
    owed = [date(2026, 8, 1), date(2026, 9, 1), date(2026, 11, 1), date(2027, 1, 1)]
    lines = [months_listed(owed[: 1 + n % 4]) for n in range(1000)]
    # What the recipient reads, line after line, is unchanged.
    assert lines[0] == "août 2026"
    assert lines[1] == "août et septembre 2026"
    assert lines[2] == "août, septembre et novembre 2026"
    assert lines[3] == "août, septembre, novembre 2026 et janvier 2027"
    assert lines[999] == lines[3]
    assert sorted(set(babel_calls)) == owed
    assert len(babel_calls) == len(owed)


def test_a_month_reads_the_same_from_its_first_day_or_another(babel_calls: list[date]) -> None:
    assert french_month(date(2026, 10, 1)) == "octobre 2026"
    assert french_month(date(2026, 10, 17)) == "octobre 2026"
    assert french_month(date(2027, 2, 1)) == "février 2027"
    assert french_month(date(2026, 10, 1)) == "octobre 2026"
    assert babel_calls == [date(2026, 10, 1), date(2027, 2, 1)]


def test_the_same_instant_in_two_zones_reads_the_month_of_each_wall_clock(
    babel_calls: list[date],
) -> None:
    utc = datetime(2026, 10, 31, 23, 30, tzinfo=UTC)
    paris = utc.astimezone(ZoneInfo("Europe/Paris"))
    assert utc == paris
    assert french_month(utc) == "octobre 2026"
    assert french_month(paris) == "novembre 2026"
