"""The picture of a clause's pace: the hours declared so far, month by month and added up, against
the straight line from 0 at the start of the work to the target at its end.

A facilitator reads at a glance whether a lot is on track: each bar is the hours declared up to
the end of its month, the line is where they should be if the hours came evenly over the days the
lot could be worked: the days it spent suspended count neither in the time passed nor in its
period (``elapsed_fraction``, the rule of the monthly summary and of the digest), so the line
stays level through a suspension and climbs a little faster the rest of the time. The figures are
also returned as rows (``pace_rows``) for the table the page shows beside the picture, so a
screen reader, or someone who wants the exact figure, reads the same numbers.

Pure: months, hours, target and dates in, rows and SVG text out. Every text placed in the SVG
is escaped (a lot's title may hold « < » or « & »).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from html import escape

from babel.dates import format_date

from workflow.domain.french_numbers import LOCALE, french_hours
from workflow.domain.summary import days_suspended, elapsed_fraction

#: The drawing's own units; the page scales it to its width (``width="100%"``). Narrow enough
#: that its 14-unit text still reads at about 12 px on a 390 px phone.
WIDTH = 420
HEIGHT = 260
LEFT, RIGHT, TOP, BOTTOM = 62, 12, 14, 44
FONT = 14
#: The least room a month's label needs; past that, every other (third…) month is labelled.
LABEL_ROOM = 46
CENTS = Decimal("0.01")

BAR_COLOUR = "#000091"  # the site's blue: 12.6:1 on white
PACE_COLOUR = "#b34000"  # the site's warning orange: 5.6:1 on white
TEXT_COLOUR = "#1e1e1e"
GRID_COLOUR = "#cccccc"


@dataclass(frozen=True)
class PaceRow:
    """One month of the chart: what was declared in it and up to its end, and what the pace
    expects by its end (None without a target or dates)."""

    month: date
    #: None for a month not over at ``until`` (its own or later) with nothing declared for it:
    #: nothing can be declared for it yet.
    declared: Decimal | None
    cumulative: Decimal | None
    expected: Decimal | None


def month_of(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def _months(first: date, last: date) -> list[date]:
    months, month = [], month_of(first)
    while month <= last:
        months.append(month)
        month = next_month(month)
    return months


def expected_by(
    day: date,
    target: int | None,
    start: date | None,
    end: date | None,
    suspended: AbstractSet[date] = frozenset(),
) -> Decimal | None:
    """The hours the straight pace expects done by the end of ``day``: 0 before the start, the
    target from the end on, in between in proportion of the days of work elapsed.

    The days in ``suspended`` (``workflow.domain.calendar.suspended_days``) are no days of work:
    the share of time is ``elapsed_fraction``'s, the one the monthly summary and the digest give,
    and nothing more is expected during a suspension. None when every day was suspended."""
    if not target or start is None or end is None or end < start:
        return None
    if day < start:
        return Decimal(0)
    if day >= end:
        return Decimal(target)
    if not any(start <= off <= end for off in suspended):
        # Whole days over whole days: the exact figure, to the cent, as it always was.
        elapsed = Decimal((day - start).days + 1)
        total = Decimal((end - start).days + 1)
        return (Decimal(target) * elapsed / total).quantize(CENTS, ROUND_HALF_UP)
    share = elapsed_fraction(start, end, day, suspended)
    if share is None:
        return None
    return (Decimal(target) * share).quantize(CENTS, ROUND_HALF_UP)


def suspended_runs(
    suspended: AbstractSet[date], start: date | None, end: date | None
) -> list[tuple[date, date]]:
    """The stretches of consecutive suspended days within [start, end] (first and last day of
    each), in order: where the pace line stays level."""
    if start is None or end is None:
        return []
    runs: list[tuple[date, date]] = []
    for day in sorted(d for d in suspended if start <= d <= end):
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def pace_line(
    target: int | None,
    start: date | None,
    end: date | None,
    suspended: AbstractSet[date] = frozenset(),
) -> tuple[tuple[date, Decimal], ...]:
    """The corners of the pace line: each a day and the hours expected when it begins (by the
    end of the day before), from 0 on the first day of the work to the target the day after its
    last; level from the first day of each suspension to the day after its last (nothing more
    is expected while no work is possible). Empty without a target or dates, or when every day
    of the work was suspended."""
    if not target or start is None or end is None or end < start:
        return ()
    if elapsed_fraction(start, end, end, suspended) is None:
        return ()
    corners = [(start, Decimal(0))]
    for first, last in suspended_runs(suspended, start, end):
        level = expected_by(first - timedelta(days=1), target, start, end, suspended)
        assert level is not None  # some day of the work was workable
        corners += [(first, level), (last + timedelta(days=1), level)]
    corners.append((end + timedelta(days=1), Decimal(target)))
    # A suspension from the first day (or through the last) adds no corner of its own.
    return tuple(c for i, c in enumerate(corners) if i == 0 or c != corners[i - 1])


def pace_rows(
    declared: Mapping[date, Decimal],
    target: int | None,
    start: date | None,
    end: date | None,
    until: date | None = None,
    suspended: AbstractSet[date] = frozenset(),
) -> tuple[PaceRow, ...]:
    """One row per month from the first of the work (or of a declaration) to the last (the end
    of the work, or the last month declared if later); ``until``'s month (today's) and those after
    it have no hours yet unless some were declared. ``declared`` maps a month (any day of it) to the hours declared for it; the
    hours expected leave out the days in ``suspended`` (``expected_by``)."""
    by_month: dict[date, Decimal] = {}
    for month, hours in declared.items():
        by_month[month_of(month)] = by_month.get(month_of(month), Decimal(0)) + Decimal(hours)
    bounds = sorted(by_month) + [d for d in (start, end) if d is not None]
    if not bounds:
        return ()
    first, last = min(bounds), max(bounds)
    if end is None and until is not None and start is not None and until > last:
        last = until  # a lot without an end date: up to today
    rows, total = [], Decimal(0)
    for month in _months(first, last):
        month_end = next_month(month) - timedelta(days=1)
        expected = expected_by(month_end, target, start, end, suspended)
        # The month still going on (``until``'s) cannot be declared yet either: a 0 there
        # would read as a month declared empty.
        if until is not None and month >= month_of(until) and month not in by_month:
            rows.append(PaceRow(month, None, None, expected))
            continue
        hours = by_month.get(month, Decimal(0))
        total += hours
        rows.append(PaceRow(month, hours, total, expected))
    return tuple(rows)


# --- the drawing ------------------------------------------------------------------------------


def _nice_step(top: Decimal) -> Decimal:
    """A round step (1, 2, 2.5 or 5 times a power of ten) giving four to six grid lines."""
    raw = float(top) / 4 if top > 0 else 1.0
    power = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    for factor in (1, 2, 2.5, 5, 10):
        if factor * power >= raw:
            return Decimal(str(factor * power))
    return Decimal(str(10 * power))


def _num(value: float) -> str:
    """A coordinate, short: ``12.5``, ``40``."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _short_month(month: date) -> str:
    return str(format_date(month, "MMM", locale=LOCALE))


def _long_month(month: date) -> str:
    return str(format_date(month, "MMMM y", locale=LOCALE))


def _day(day: date) -> str:
    """``1er mars 2026``, ``28 février 2027``: French writes the first of the month 1er."""
    text = str(format_date(day, "d MMMM y", locale=LOCALE))
    return "1er" + text[1:] if day.day == 1 else text


def _days(count: int) -> str:
    """« 1 jour », « 92 jours »."""
    return f"{count} jour{'s' if count > 1 else ''}"


def _text(x: float, y: float, words: str, anchor: str = "middle", **extra: str) -> str:
    more = "".join(f' {key.replace("_", "-")}="{escape(value)}"' for key, value in extra.items())
    return f'<text x="{_num(x)}" y="{_num(y)}" text-anchor="{anchor}"{more}>{escape(words)}</text>'


def describe(
    rows: tuple[PaceRow, ...],
    target: int | None,
    start: date | None,
    end: date | None,
    suspended: AbstractSet[date] = frozenset(),
) -> str:
    """The chart in one French paragraph: what a screen reader says for the picture."""
    done = [r for r in rows if r.cumulative is not None]
    if not rows:
        return "Aucune heure déclarée et pas encore de dates d'exécution\u00a0: rien à tracer."
    parts = [
        "Heures d'insertion déclarées en cumul, mois par mois, "
        f"de {_long_month(rows[0].month)} à {_long_month(rows[-1].month)}"
    ]
    off = days_suspended(suspended, start, end)
    if target and start and end and off:
        parts[0] += (
            ", comparées au rythme attendu\u00a0: une ligne de 0\u00a0h le "
            f"{_day(start)} à {french_hours(target)} le {_day(end)}, à plat pendant "
            f"{_days(off)} de suspension."
        )
    elif target and start and end:
        parts[0] += (
            ", comparées au rythme attendu\u00a0: une droite de 0\u00a0h le "
            f"{_day(start)} à {french_hours(target)} le {_day(end)}."
        )
    else:
        parts[0] += " ; pas de rythme attendu à comparer (heures prévues ou dates manquantes)."
    if not done or not any(r.declared for r in done):
        parts.append("Aucune heure déclarée pour l'instant.")
    else:
        last = done[-1]
        assert last.cumulative is not None
        sentence = f"Fin {_long_month(last.month)}\u00a0: {french_hours(last.cumulative)} déclarées"
        if last.expected is not None:
            sentence += f" pour {french_hours(last.expected)} attendues"
        parts.append(sentence + ".")
    return " ".join(parts)


def pace_svg(
    rows: tuple[PaceRow, ...],
    target: int | None,
    start: date | None,
    end: date | None,
    *,
    title: str,
    ident: str = "rythme",
    suspended: AbstractSet[date] = frozenset(),
) -> str:
    """The chart of ``rows`` (from ``pace_rows``) as SVG markup, scaled to its container's width;
    its ``<title>`` is ``title``, its ``<desc>`` says what it shows. ``ident`` prefixes the ids
    of its title and description (unique in the page). The pace line is level through the days
    in ``suspended`` (``expected_by``): give the same days as to ``pace_rows``."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    bottom = TOP + plot_h
    title_id, desc_id = f"{ident}-titre", f"{ident}-description"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
        f'role="img" aria-labelledby="{escape(title_id)} {escape(desc_id)}" class="pace-chart" '
        f'font-family="system-ui, sans-serif" font-size="{FONT}" fill="{TEXT_COLOUR}">',
        f'<title id="{escape(title_id)}">{escape(title)}</title>',
        f'<desc id="{escape(desc_id)}">{escape(describe(rows, target, start, end, suspended))}</desc>',
    ]
    if not rows:
        parts.append(_text(WIDTH / 2, HEIGHT / 2, "Rien à tracer pour l'instant"))
        parts.append("</svg>")
        return "\n".join(parts)

    tallest = max([r.cumulative or Decimal(0) for r in rows] + [Decimal(target or 0)])
    step = _nice_step(tallest)
    top = max(step, step * math.ceil(tallest / step)) if tallest else step * 4
    if tallest and top - tallest < step / 4:
        top += step  # room above the tallest bar or the target

    def y_of(hours: Decimal) -> float:
        return bottom - float(hours / top) * plot_h

    slot = plot_w / len(rows)

    def x_of(day: date) -> float:
        """Where a day begins, along the months of the rows."""
        index = next((i for i, r in enumerate(rows) if r.month == month_of(day)), None)
        if index is None:
            return LEFT if day < rows[0].month else LEFT + plot_w
        days = (next_month(rows[index].month) - rows[index].month).days
        return LEFT + (index + (day.day - 1) / days) * slot

    # The grid and the hours axis.
    tick = Decimal(0)
    while tick <= top:
        y = y_of(tick)
        parts.append(
            f'<line x1="{LEFT}" y1="{_num(y)}" x2="{LEFT + plot_w}" y2="{_num(y)}" '
            f'stroke="{GRID_COLOUR}" stroke-width="1"/>'
        )
        parts.append(_text(LEFT - 6, y + FONT / 3, french_hours(tick), anchor="end"))
        tick += step

    # The bars: hours declared up to the end of each month.
    for index, row in enumerate(rows):
        if row.cumulative is None or row.declared is None:
            continue
        x, height = LEFT + index * slot + slot * 0.15, float(row.cumulative / top) * plot_h
        tip = (
            f"{_long_month(row.month)}\u00a0: {french_hours(row.declared)} déclarées dans le mois, "
            f"{french_hours(row.cumulative)} en tout"
            + (f", {french_hours(row.expected)} attendues" if row.expected is not None else "")
        )
        parts.append(
            f'<rect class="bar" x="{_num(x)}" y="{_num(bottom - height)}" '
            f'width="{_num(slot * 0.7)}" height="{_num(height)}" fill="{BAR_COLOUR}" '
            f'data-month="{row.month:%Y-%m}" data-hours="{row.declared}" '
            f'data-cumulative="{row.cumulative}"><title>{escape(tip)}</title></rect>'
        )

    # The pace: from 0 at the start to the target at the end, level through each suspension,
    # then level.
    corners = pace_line(target, start, end, suspended)
    if target and corners:
        x_end = x_of(corners[-1][0])
        points = [(x_of(day), y_of(hours)) for day, hours in corners]
        if x_end < LEFT + plot_w:
            points.append((LEFT + plot_w, y_of(Decimal(target))))
        parts.append(
            '<polyline class="pace" fill="none" stroke="'
            + PACE_COLOUR
            + '" stroke-width="3" stroke-dasharray="8 4" points="'
            + " ".join(f"{_num(x)},{_num(y)}" for x, y in points)
            + '"/>'
        )
        level = _num(y_of(Decimal(target)))
        parts.append(
            f'<line class="target" x1="{LEFT}" y1="{level}" x2="{LEFT + plot_w}" y2="{level}" '
            f'stroke="{TEXT_COLOUR}" stroke-width="1" stroke-dasharray="2 3"/>'
        )
        parts.append(
            _text(
                LEFT + 6,
                y_of(Decimal(target)) - 5,
                f"objectif {french_hours(target)}",
                anchor="start",
                stroke="#ffffff",
                stroke_width="4",
                paint_order="stroke",
                class_="target",
            )
        )

    # The months axis: a short name under every month there is room for, the year under
    # the first month and every January.
    every = max(1, math.ceil(LABEL_ROOM / slot))
    parts.append(
        f'<line x1="{LEFT}" y1="{bottom}" x2="{LEFT + plot_w}" y2="{bottom}" '
        f'stroke="{TEXT_COLOUR}" stroke-width="1"/>'
    )
    shown_year: int | None = None
    for index, row in enumerate(rows):
        if index % every:
            continue
        x = LEFT + (index + 0.5) * slot
        parts.append(_text(x, bottom + FONT + 4, _short_month(row.month)))
        if row.month.year != shown_year:
            parts.append(_text(x, bottom + 2 * FONT + 8, str(row.month.year)))
            shown_year = row.month.year
    parts.append("</svg>")
    return "\n".join(parts)
