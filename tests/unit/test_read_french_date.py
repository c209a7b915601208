"""``read_french_date`` reads back what ``french_date`` writes, and nothing else: the award
corrections' history keeps dates as their readers read them (« 1er mars 2027 »)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from workflow.adapters.templates import french_date, read_french_date


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)))
def test_every_date_written_is_read_back(day: date) -> None:
    assert read_french_date(french_date(day)) == day


def test_the_first_of_the_month_and_accented_months() -> None:
    assert read_french_date("1er août 2027") == date(2027, 8, 1)
    assert read_french_date("29 février 2028") == date(2028, 2, 29)
    assert read_french_date(" 5 décembre 2026 ") == date(2026, 12, 5)


def test_what_is_not_a_date_written_so_is_none() -> None:
    for text in ("non renseigné", "", "31 février 2027", "5 janvier", "5 jan 2027", "05/01/2027"):
        assert read_french_date(text) is None, text
    assert read_french_date(french_date(date(2027, 1, 5)) + " à 9 h") is None
    assert read_french_date(french_date(date(2027, 1, 5) + timedelta(days=1))) == date(2027, 1, 6)
