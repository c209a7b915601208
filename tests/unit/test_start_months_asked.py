"""The months a start correction takes from a company, or gives it, read from the change alone."""

from __future__ import annotations

from datetime import date

from workflow.domain.events import AwardChange
from workflow.services.award_company_notices import newly_asked, no_longer_asked

JAN, FEB, MAR, APR = (date(2027, m, 1) for m in (1, 2, 3, 4))


def start(before: str, after: str) -> list[AwardChange]:
    return [AwardChange("Démarrage", before, after)]


def test_a_start_moved_later_takes_the_months_before_it_and_gives_none() -> None:
    later = start("5 janvier 2027", "1er mars 2027")
    assert no_longer_asked(later, None) == [JAN, FEB]
    assert newly_asked(later, None) == []


def test_a_start_moved_earlier_gives_the_months_before_the_old_one_and_takes_none() -> None:
    earlier = start("1er mars 2027", "5 janvier 2027")
    assert newly_asked(earlier, None) == [JAN, FEB]
    assert no_longer_asked(earlier, None) == []


def test_a_start_moved_within_its_month_or_not_at_all_changes_no_month() -> None:
    within = start("5 janvier 2027", "18 janvier 2027")
    assert newly_asked(within, None) == [] == no_longer_asked(within, None)
    other = [AwardChange("Fin prévue", "30 septembre 2027", "31 octobre 2027")]
    assert newly_asked(other, None) == [] == no_longer_asked(other, None)


def test_a_company_is_told_only_of_the_months_between_its_first_and_its_last() -> None:
    earlier = start("1er avril 2027", "5 janvier 2027")
    assert newly_asked(earlier, FEB) == [FEB, MAR]
    assert newly_asked(earlier, None, left=FEB) == [JAN, FEB]
    later = start("5 janvier 2027", "1er avril 2027")
    assert no_longer_asked(later, FEB) == [FEB, MAR]
    assert no_longer_asked(later, None, left=FEB) == [JAN, FEB]
