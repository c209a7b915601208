"""Many months are said as ranges in the departure emails (user trial, 7 December 2026: the
buyer's subject named eight months one by one, « juillet 2026, août 2026, … et février
2027 »), as the alert already names the months it signalled before."""

from __future__ import annotations

from datetime import date

from workflow.emails.company_departures import _days_phrase, months_list
from workflow.emails.phrases import months_compact, months_said


def months(*pairs: tuple[int, int]) -> list[date]:
    return [date(year, month, 1) for year, month in pairs]


def test_a_few_months_are_named_many_in_a_row_a_range() -> None:
    assert months_compact(months((2026, 7), (2026, 8))) == "de juillet et d'août 2026"
    eight = [date(2026 + (m > 12), (m - 1) % 12 + 1, 1) for m in range(7, 15)]
    assert months_compact(eight) == "de juillet 2026 à février 2027"
    assert months_list(eight) == "de juillet 2026 à février 2027"
    assert (
        months_compact(months((2026, 3), (2026, 4), (2026, 5), (2026, 6))) == "de mars à juin 2026"
    )
    gaps = months((2026, 1), (2026, 3), (2026, 4), (2026, 5), (2026, 6), (2026, 9))
    assert months_compact(gaps) == ("de janvier 2026, de mars à juin 2026 et de septembre 2026")
    assert months_list(months((2026, 9), (2026, 10), (2026, 11))) == (
        "de septembre, octobre et novembre 2026"
    )


def test_many_alerts_are_said_by_their_first_and_last_days() -> None:
    days = [date(2026, 8, 31), date(2026, 10, 1), date(2026, 11, 2), date(2027, 4, 1)]
    assert _days_phrase(days) == "du 31 août 2026 au 1er avril 2027"
    same = [date(2027, 1, 4), date(2027, 2, 1), date(2027, 3, 3), date(2027, 4, 1)]
    assert _days_phrase(same) == "du 4 janvier au 1er avril 2027"
    assert _days_phrase(days[:2]) == "du 31 août et du 1er octobre 2026"


def test_a_departure_s_answer_says_many_months_as_a_range() -> None:
    eight = [date(2026 + (m > 12), (m - 1) % 12 + 1, 1) for m in range(7, 15)]
    assert months_said(eight) == "les mois de juillet 2026 à février 2027"
    assert months_said(eight[:2]) == "juillet et août 2026"
    assert months_said(eight[5:7]) == "décembre 2026 et janvier 2027"
    assert months_said(months((2027, 1), (2027, 2), (2027, 3))) == "janvier, février et mars 2027"
