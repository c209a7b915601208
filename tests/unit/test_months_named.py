"""Months named after a noun repeat « de » (« les déclarations de février et de mars 2027 »),
elided before a vowel; without ``of`` the names are listed as they are."""

from __future__ import annotations

from datetime import date

import pytest

from workflow.emails.notices import months_named


@pytest.mark.parametrize(
    ("months", "of", "said"),
    [
        ([date(2027, 2, 1), date(2027, 3, 1)], True, "de février et de mars 2027"),
        ([date(2027, 3, 1), date(2027, 4, 1)], True, "de mars et d'avril 2027"),
        (
            [date(2027, 1, 1), date(2027, 2, 1), date(2027, 3, 1)],
            True,
            "de janvier, de février et de mars 2027",
        ),
        ([date(2026, 12, 1), date(2027, 1, 1)], True, "de décembre 2026 et de janvier 2027"),
        ([date(2027, 4, 1)], True, "d'avril 2027"),
        (
            [date(2027, 4, 1), date(2027, 5, 1), date(2027, 6, 1), date(2027, 7, 1)],
            True,
            "d'avril à juillet 2027",
        ),
        ([date(2027, 2, 1), date(2027, 3, 1)], False, "février et mars 2027"),
    ],
)
def test_months_named(months: list[date], of: bool, said: str) -> None:
    assert months_named(months, of=of) == said
