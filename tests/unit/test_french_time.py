"""The time of day as French writes it in a sentence: « à 7 h », « à 7 h 05 », « à 14 h 30 »,
never « à 07:00 » (user trial: both forms in the same week's emails)."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from workflow.adapters.templates import french_time
from workflow.services.outage_copies import moment

NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("value", "said"),
    [
        (time(7, 0), f"7{NBSP}h"),
        (time(7, 5), f"7{NBSP}h{NBSP}05"),
        (time(14, 30), f"14{NBSP}h{NBSP}30"),
        (time(0, 0), f"0{NBSP}h"),
        (datetime(2026, 3, 2, 9, 0), f"9{NBSP}h"),
    ],
)
def test_french_time(value: time | datetime, said: str) -> None:
    assert french_time(value) == said


def test_a_moment_is_said_in_the_service_s_zone_in_french() -> None:
    # 08:05 UTC is 09:05 in Paris in March (winter time).
    instant = datetime(2026, 3, 2, 8, 5, tzinfo=ZoneInfo("UTC"))
    assert moment(instant, ZoneInfo("Europe/Paris")) == f"2 mars 2026 à 9{NBSP}h{NBSP}05"
