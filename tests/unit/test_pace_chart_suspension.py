"""The pace chart of a suspended lot counts the days it could be worked, as the monthly summary
does (``elapsed_fraction``): nothing more is expected while it is suspended.

A lot of twelve months (1 November 2025 to 31 October 2026, 365 days, 500 h) suspended from 2
February to 4 May 2026 (92 days) has 273 workable days: at the end of June, 150 of them passed,
500 x 150 / 273 = 274,73 h expected; 170,33 h (93 days) from the end of 1 February to the
beginning of 5 May.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from workflow.domain.pace_chart import (
    LEFT,
    RIGHT,
    WIDTH,
    expected_by,
    pace_line,
    pace_rows,
    pace_svg,
)
from workflow.domain.summary import elapsed_fraction

SVG = "{http://www.w3.org/2000/svg}"
START, END = date(2025, 11, 1), date(2026, 10, 31)
OFF = frozenset(date(2026, 2, 2) + timedelta(days=n) for n in range(92))
CENTS = Decimal("0.01")


def hours(days: int, of: int) -> Decimal:
    return (Decimal(500) * days / of).quantize(CENTS, ROUND_HALF_UP)


def test_the_hours_expected_are_the_summary_share_of_the_target() -> None:
    assert max(OFF) == date(2026, 5, 4)
    assert expected_by(date(2026, 6, 30), 500, START, END, OFF) == Decimal("274.73")
    # The same share of time as the monthly summary's, to the cent.
    for day in (date(2026, 1, 31), date(2026, 3, 15), date(2026, 5, 31), date(2026, 9, 30)):
        share = elapsed_fraction(START, END, day, OFF)
        assert share is not None
        assert expected_by(day, 500, START, END, OFF) == (500 * share).quantize(CENTS)
    # Level through the suspension: the end of 1 February to the end of 4 May.
    level = {expected_by(date(2026, 2, 1) + timedelta(days=n), 500, START, END, OFF) for n in range(93)}  # fmt: skip
    assert level == {hours(93, 273)} == {Decimal("170.33")}
    assert expected_by(date(2026, 5, 5), 500, START, END, OFF) == hours(94, 273)
    # 0 before the start, the target from the end on.
    assert expected_by(date(2025, 10, 31), 500, START, END, OFF) == 0
    assert expected_by(END, 500, START, END, OFF) == 500


def test_the_rows_stay_level_through_the_suspension() -> None:
    declared = {date(2025, 11, 1): Decimal(55), date(2026, 6, 1): Decimal(55)}
    rows = {r.month: r.expected for r in pace_rows(declared, 500, START, END, date(2026, 7, 23), OFF)}  # fmt: skip
    assert [rows[date(2026, m, 1)] for m in (1, 2, 3, 4, 5, 6)] == [
        hours(92, 273), hours(93, 273), hours(93, 273), hours(93, 273), hours(120, 273), hours(150, 273)
    ]  # fmt: skip
    assert rows[date(2026, 10, 1)] == 500


def test_a_lot_never_suspended_keeps_its_figures() -> None:
    plain = pace_rows({}, 4725, START, END, date(2026, 7, 23))
    assert plain == pace_rows({}, 4725, START, END, date(2026, 7, 23), frozenset())
    # Days suspended outside its work change nothing.
    outside = frozenset({date(2025, 10, 1), date(2026, 11, 2)})
    assert pace_rows({}, 4725, START, END, date(2026, 7, 23), outside) == plain
    for day in (START + timedelta(days=n) for n in range(0, 365, 7)):
        by_hand = (Decimal(4725) * ((day - START).days + 1) / 365).quantize(CENTS, ROUND_HALF_UP)
        assert expected_by(day, 4725, START, END) == by_hand
    assert pace_line(500, START, END) == (
        (START, Decimal(0)),
        (END + timedelta(days=1), Decimal(500)),
    )


def test_the_line_has_a_level_stretch_from_the_first_day_suspended_to_the_day_after_the_last() -> (
    None
):
    assert pace_line(500, START, END, OFF) == (
        (START, Decimal(0)),
        (date(2026, 2, 2), Decimal("170.33")),
        (date(2026, 5, 5), Decimal("170.33")),
        (date(2026, 11, 1), Decimal(500)),
    )
    root = ET.fromstring(
        pace_svg(pace_rows({}, 500, START, END), 500, START, END, title="Lot", suspended=OFF)
    )
    [line] = [p for p in root.iter(f"{SVG}polyline") if p.get("class") == "pace"]
    points = [tuple(float(v) for v in p.split(",")) for p in (line.get("points") or "").split()]
    assert len(points) == 4
    (_, y0), (x1, y1), (x2, y2), (_, y3) = points
    assert y1 == y2 and y0 > y1 > y3  # SVG's y grows downwards
    # Level from the beginning of 2 February (month 4 of 12, day 2 of 28) to the beginning
    # of 5 May (month 7, day 5 of 31).
    slot = (WIDTH - LEFT - RIGHT) / 12
    assert round(x1, 2) == round(LEFT + (3 + 1 / 28) * slot, 2)
    assert round(x2, 2) == round(LEFT + (6 + 4 / 31) * slot, 2)
    desc = root.find(f"{SVG}desc")
    assert desc is not None and "à plat pendant 92 jours de suspension." in (desc.text or "")


def test_a_lot_suspended_all_its_period_expects_nothing_and_draws_no_line() -> None:
    every = frozenset(START + timedelta(days=n) for n in range(365))
    assert expected_by(date(2026, 6, 30), 500, START, END, every) is None
    assert pace_line(500, START, END, every) == ()
    root = ET.fromstring(pace_svg(pace_rows({}, 500, START, END), 500, START, END, title="Lot", suspended=every))  # fmt: skip
    assert not [p for p in root.iter(f"{SVG}polyline") if p.get("class") == "pace"]


def test_a_suspension_from_the_first_day_starts_the_line_level() -> None:
    first_days = frozenset(START + timedelta(days=n) for n in range(30))  # November
    assert pace_line(500, START, END, first_days) == (
        (START, Decimal(0)),
        (date(2025, 12, 1), Decimal(0)),
        (date(2026, 11, 1), Decimal(500)),
    )
