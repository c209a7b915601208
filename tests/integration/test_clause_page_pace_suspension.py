"""A clause's web page counts the pace (« rythme ») of a suspended lot as the monthly summary
and the digest do: in the days the lot could be worked.

The lots of ``test_pace_after_suspension``: twelve months (1 November 2025 to 31 October 2026,
365 days, 500 h), A and B suspended from 2 February to 4 May 2026 (92 dates touched), N never
suspended. On 23 July 2026, the moment the summary of June leaves, June is the last month due:
the page of each lot says of June what ``clauses summary --month 2026-06`` says, word for word.
By hand, for A and B: 150 of 273 workable days passed at the end of June, 500 x 150 / 273 =
274,73 h expected (not 500 x 242 / 365 = 331,51 h, which called A « en retard » with its 275 h).
The expected line stays level through the suspension: 500 x 93 / 273 = 170,33 h at the end of
February (92 days of November to January and 1 February), March and April alike.

Over the real ASGI application, signed in, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Clock
from tests.integration._ladders import Lot
from tests.integration.test_dashboard import PASSWORD, sign_in
from tests.integration.test_pace_after_suspension import (
    JUN,
    NBSP,
    Lots,
    app,
    lots,
    run_cli,
    settings,
)
from tests.text import visible
from workflow.app import web_accounts
from workflow.bootstrap import App
from workflow.domain.summary import summary_due_at
from workflow.entrypoints.web.site import create_site
from workflow.services.summaries import summary_timing
from workflow.settings import Settings

__all__ = ["app", "lots", "settings"]  # the fixtures, imported to be used here

H = f"{NBSP}h"


@pytest.fixture
def site(app: App, clock: Clock, lots: Lots) -> TestClient:
    """Camille signed in on 23 July 2026, when the summary of June leaves."""
    clock.set(summary_due_at(JUN, summary_timing(app.settings)))
    web_accounts.add_user(app, login="camille", name="Camille Martin", password=PASSWORD)
    client = TestClient(create_site(app))
    sign_in(client)
    return client


def page_of(site: TestClient, lot: Lot) -> str:
    response = site.get(f"/clauses/{lot.clause_id}")
    assert response.status_code == 200, visible(response.text)
    return response.text


def summary_says(settings: Settings, clock: Clock, lot: Lot) -> str:
    """What ``clauses summary --month 2026-06`` tells the lot's buyer of its pace, after « : »."""
    printed = run_cli(settings, clock, "summary", "--month", "2026-06", "--buyer", str(lot.buyer_id))  # fmt: skip
    found = re.search(
        f"- Rythme à fin juin 2026{NBSP}: (.*? du temps écoulé, (?:dans le rythme|en retard|en avance|rythme à confirmer \\(\\d+ déclarations? non reçues?\\)))",
        printed,
    )
    assert found is not None, printed
    return found.group(1)


def expected_by_month(page: str) -> dict[str, str]:
    """The « Cumul attendu » column of the page's table, by month as read."""
    table = page[page.index('id="rythme-table"') : page.index("</table>", page.index('id="rythme-table"'))]  # fmt: skip
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table, re.S):
        cells = [visible(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        if len(cells) == 4:
            rows[cells[0]] = cells[3]
    return rows


def test_the_page_of_a_suspended_lot_says_what_the_summary_of_the_month_says(
    site: TestClient, settings: Settings, clock: Clock, lots: Lots
) -> None:
    a, b = lots.suspended_on_pace, lots.suspended_behind
    said_a = summary_says(settings, clock, a)
    # February (one day before the suspension, a Sunday) declared at 0 h: every month owed is
    # in, the page and the summary judge the pace alike.
    assert said_a == f"55,0{NBSP}% des heures prévues réalisées pour 54,9{NBSP}% du temps écoulé, dans le rythme"  # fmt: skip
    page = visible(page_of(site, a))
    assert f"Rythme à fin juin 2026 {said_a} (temps compté hors 92 jours de suspension)" in page  # fmt: skip
    assert "Février 2026" in page or "février 2026" in page
    # The hours expected by the end of June, and A's 275 h a little ahead of them: not the
    # 331,51 h of the twelve months counted whole, which read 56,51 h « de retard ».
    assert f"Rythme attendu à fin juin 2026 274,73{H}" in page
    assert f"Écart au rythme 0,27{H} au-dessus du rythme attendu" in page
    assert "sous le rythme" not in page.split("Écart au rythme", 1)[1].split("Participants", 1)[0]

    # B is behind, however the time is counted: the page and the summary say it alike.
    said_b = summary_says(settings, clock, b)
    assert said_b == f"40{NBSP}% des heures prévues réalisées pour 55{NBSP}% du temps écoulé, en retard"  # fmt: skip
    page_b = visible(page_of(site, b))
    assert f"Rythme à fin juin 2026 {said_b} (temps compté hors 92 jours de suspension)" in page_b  # fmt: skip
    assert f"Écart au rythme 74,73{H} sous le rythme attendu" in page_b


def test_the_expected_line_of_a_suspended_lot_is_level_through_the_suspension(
    site: TestClient, lots: Lots
) -> None:
    html = page_of(site, lots.suspended_on_pace)
    expected = expected_by_month(html)
    months = ("janvier 2026", "février 2026", "mars 2026", "avril 2026", "mai 2026", "juin 2026")
    # 92, 93, 93, 93, 120 and 150 workable days of 273 behind it at the end of each month.
    assert [expected[m] for m in months] == [
        f"168,50{H}", f"170,33{H}", f"170,33{H}", f"170,33{H}", f"219,78{H}", f"274,73{H}"
    ]  # fmt: skip
    assert expected["octobre 2026"] == f"500{H}"
    # What a screen reader says of the picture, and its key.
    assert (
        f"une ligne de 0{H} le 1er novembre 2025 à 500{H} le 31 octobre 2026, à plat pendant "
        "92 jours de suspension."
    ) in visible(html)
    assert "à plat pendant la suspension" in visible(html)
    # The line drawn: level from the beginning of 2 February to the end of 4 May.
    [points] = re.findall(r'<polyline class="pace"[^>]* points="([^"]+)"', html)
    ys = [point.split(",")[1] for point in points.split()]
    # Up from the start, level, up to the target at the end (the chart's last day): SVG's y
    # grows downwards.
    assert len(ys) == 4
    assert float(ys[0]) > float(ys[1]) == float(ys[2]) > float(ys[3])


def test_a_lot_never_suspended_reads_as_it_always_did(
    site: TestClient, settings: Settings, clock: Clock, lots: Lots
) -> None:
    n = lots.never_suspended
    said = summary_says(settings, clock, n)
    assert said == f"64{NBSP}% des heures prévues réalisées pour 66{NBSP}% du temps écoulé, dans le rythme"  # fmt: skip
    html = page_of(site, n)
    page = visible(html)
    assert f"Rythme à fin juin 2026 {said} Écart" in page  # no days of suspension to tell
    assert "suspension" not in page.split("Calendrier des déclarations", 1)[0]
    # 500 x 242 / 365, every day of the twelve months counted.
    assert f"Rythme attendu à fin juin 2026 331,51{H}" in page
    expected = expected_by_month(html)
    assert [expected[m] for m in ("février 2026", "mars 2026", "avril 2026")] == [
        f"164,38{H}", f"206,85{H}", f"247,95{H}"
    ]  # fmt: skip
    assert f"une droite de 0{H} le 1er novembre 2025 à 500{H} le 31 octobre 2026." in page
    [points] = re.findall(r'<polyline class="pace"[^>]* points="([^"]+)"', html)
    assert len(points.split()) == 2  # from the start to the end: the end is the chart's last day
