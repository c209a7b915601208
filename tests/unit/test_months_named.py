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
        # Thirteen months in a row and one after a gap (user trial: fourteen months were
        # listed one by one): the run as a span, the other alone.
        (
            [date(2026, m, 1) for m in range(4, 13)] + [date(2027, m, 1) for m in (1, 2, 3, 4, 6)],
            True,
            "d'avril 2026 à avril 2027 et de juin 2027",
        ),
        (
            [date(2027, 1, 1), date(2027, 2, 1)] + [date(2027, m, 1) for m in range(4, 10)],
            True,
            "de janvier 2027, de février 2027 et d'avril à septembre 2027",
        ),
        (
            [date(2027, m, 1) for m in (1, 3, 4, 5, 6)],
            False,
            "janvier 2027 et de mars à juin 2027",
        ),
    ],
)
def test_months_named(months: list[date], of: bool, said: str) -> None:
    assert months_named(months, of=of) == said
