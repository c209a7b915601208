"""The pace chart of a clause's page: each figure where it belongs, every text escaped.

The SVG is read back as XML: a bar's height is the hours declared up to its month over the
axis's top, the pace line ends at the target at the end of the work, the axis speaks French.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date
from decimal import Decimal

from workflow.domain.pace_chart import (
    BOTTOM,
    HEIGHT,
    LEFT,
    RIGHT,
    TOP,
    WIDTH,
    expected_by,
    pace_rows,
    pace_svg,
)

SVG = "{http://www.w3.org/2000/svg}"
START, END = date(2026, 3, 2), date(2027, 2, 28)
PLOT_H = HEIGHT - TOP - BOTTOM
PLOT_W = WIDTH - LEFT - RIGHT


def parsed(markup: str) -> ET.Element:
    return ET.fromstring(markup)


def bars(root: ET.Element) -> list[ET.Element]:
    return [r for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]


def axis_top(root: ET.Element) -> Decimal:
    """The hours of the highest grid line, read from its French label (« 1 500 h »)."""
    labels = [t.text or "" for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "end"]
    return Decimal(labels[-1].replace("\u202f", "").replace("\u00a0h", "").replace(",", "."))


def test_each_bar_is_the_hours_declared_up_to_its_month() -> None:
    declared = {date(2026, 3, 1): Decimal("100"), date(2026, 4, 1): Decimal("186.67")}
    rows = pace_rows(declared, 1200, START, END, until=date(2026, 5, 4))
    root = parsed(pace_svg(rows, 1200, START, END, title="Lot 01"))

    assert [(r.month, r.declared, r.cumulative) for r in rows[:2]] == [
        (date(2026, 3, 1), Decimal("100"), Decimal("100")),
        (date(2026, 4, 1), Decimal("186.67"), Decimal("286.67")),
    ]
    # The month under way cannot be declared yet: no bar, not « 0 h déclarées dans le mois »
    # (a user trial read it as a month declared empty); months to come neither.
    assert all(r.declared is None for r in rows[2:])
    assert len(rows) == 12 and rows[-1].month == date(2027, 2, 1)
    drawn = bars(root)
    assert [(b.get("data-month"), b.get("data-hours")) for b in drawn] == [
        ("2026-03", "100"),
        ("2026-04", "186.67"),
    ]
    top = axis_top(root)
    assert top == Decimal(1500)  # round grid lines above the target
    for bar, cumulative in zip(drawn, ("100", "286.67"), strict=True):
        height = float(bar.get("height") or 0)
        assert abs(height - float(Decimal(cumulative) / top) * PLOT_H) < 0.01
        assert abs(float(bar.get("y") or 0) + height - (TOP + PLOT_H)) < 0.01  # on the axis
    # The later bar stands further right, each in its month's slot.
    xs = [float(b.get("x") or 0) for b in drawn]
    assert xs == sorted(xs) and LEFT < xs[0] < LEFT + PLOT_W / 12


def test_the_pace_runs_from_zero_at_the_start_to_the_target_at_the_end() -> None:
    rows = pace_rows({}, 1200, START, END, until=date(2026, 5, 4))
    root = parsed(pace_svg(rows, 1200, START, END, title="Lot 01"))

    line = next(p for p in root.iter(f"{SVG}polyline") if p.get("class") == "pace")
    points = [tuple(map(float, p.split(","))) for p in (line.get("points") or "").split()]
    (x0, y0), (x1, y1) = points[0], points[-1]
    top = float(axis_top(root))
    assert abs(y0 - (TOP + PLOT_H)) < 0.01  # 0 h
    assert abs(y1 - (TOP + PLOT_H - 1200 / top * PLOT_H)) < 0.01  # the target
    assert abs(x0 - (LEFT + 1 / 31 * PLOT_W / 12)) < 0.01  # the 2nd of March, one day in
    assert abs(x1 - (LEFT + PLOT_W)) < 0.01  # the end of the 28th of February
    assert expected_by(END, 1200, START, END) == Decimal(1200)
    assert expected_by(date(2026, 3, 1), 1200, START, END) == Decimal(0)
    assert rows[0].expected == expected_by(date(2026, 3, 31), 1200, START, END)
    assert rows[-1].expected == Decimal(1200)


def test_a_clause_with_no_declaration_draws_no_height_and_says_so() -> None:
    rows = pace_rows({}, 1200, START, END, until=date(2026, 4, 10))
    markup = pace_svg(rows, 1200, START, END, title="Lot 01")
    root = parsed(markup)

    assert [b.get("height") for b in bars(root)] == ["0"]  # March, empty; April under way
    desc = root.find(f"{SVG}desc")
    assert desc is not None and "Aucune heure déclarée pour l'instant." in (desc.text or "")
    # No dates and no hours at all: a chart that says there is nothing to draw.
    empty = parsed(pace_svg(pace_rows({}, None, None, None), None, None, None, title="Lot 03"))
    assert not bars(empty) and "Rien à tracer" in "".join(empty.itertext())


def test_a_month_over_the_target_raises_the_axis_above_it() -> None:
    rows = pace_rows({date(2026, 4, 1): Decimal("1500.5")}, 1200, START, END, date(2026, 5, 4))
    root = parsed(pace_svg(rows, 1200, START, END, title="Lot 01"))

    april = next(b for b in bars(root) if b.get("data-month") == "2026-04")
    assert april.get("data-hours") == "1500.5"
    top = axis_top(root)
    assert top > Decimal("1500.5")
    assert float(april.get("y") or 0) >= TOP  # inside the drawing, not cut at its top
    title = april.find(f"{SVG}title")
    assert title is not None
    assert title.text == (
        "avril 2026\u00a0: 1\u202f500,50\u00a0h déclarées dans le mois, 1\u202f500,50\u00a0h en tout,"
        " 197,80\u00a0h attendues"
    )


def test_every_text_is_escaped_and_the_picture_is_named_in_french() -> None:
    rows = pace_rows({date(2026, 3, 1): Decimal(35)}, 1200, START, END, date(2026, 3, 20))
    markup = pace_svg(rows, 1200, START, END, title='Lot <b>"A" & B</b>', ident="x")
    root = parsed(markup)  # well-formed: nothing of the title broke out

    assert "<b>" not in markup and "&lt;b&gt;&quot;A&quot; &amp; B&lt;/b&gt;" in markup
    assert root.get("role") == "img" and root.get("width") == "100%"
    assert root.get("viewBox") == f"0 0 {WIDTH} {HEIGHT}"
    assert root.get("aria-labelledby") == "x-titre x-description"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None and title.text == 'Lot <b>"A" & B</b>'
    assert desc is not None and desc.text == (
        "Heures d'insertion déclarées en cumul, mois par mois, de mars 2026 à février 2027, "
        "comparées au rythme attendu\u00a0: une droite de 0\u00a0h le 2 mars 2026 à 1\u202f200\u00a0h "
        "le 28 février 2027. Fin mars 2026\u00a0: 35\u00a0h déclarées pour 98,90\u00a0h attendues."
    )
    words = [t.text for t in root.iter(f"{SVG}text")]
    assert "mars" in words and "2026" in words and "janv." in words and "2027" in words
    assert "1\u202f000\u00a0h" in words and "objectif 1\u202f200\u00a0h" in words
