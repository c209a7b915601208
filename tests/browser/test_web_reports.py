"""The facilitator downloads a month's summary from /bilans in a real Chromium, and reads it.

The service's pages run in uvicorn on a free loopback port over a real SQLite database holding
the small territory whose March 2026 figures are worked out by hand. She signs in, opens
« Bilans », clicks the CSV link and the XLSX link: the files Chromium saves hold the figure the
page shows. The pages pass axe-core (no serious or critical violation), are no wider than the
window, and are photographed at 1280 and 390 px (kept in ``CLAUSES_SCREENSHOTS`` when set).
The page says when its figures were computed; after a declaration is corrected it keeps them,
says that changes were recorded since, and « Recalculer maintenant » shows the new ones.
"""

from __future__ import annotations

import csv
import io
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from openpyxl import load_workbook

from tests.browser.conftest import Chromium
from tests.browser.pages import PASSWORD, sign_in
from tests.browser.test_online_declaration import free_port, look_at
from tests.conftest import Clock, make_settings
from tests.integration import summary_dataset
from tests.integration.summary_dataset import Dataset
from workflow.app import declarations, web_accounts
from workflow.bootstrap import App, bootstrap
from workflow.entrypoints.web.site import create_site

pytestmark = pytest.mark.slow

#: 22 April 2026, 07:00 in Paris: March's summary has just left.
AFTER_MARCH_SUMMARY = datetime(2026, 4, 22, 5, 0, tzinfo=UTC)
PROGRESS = "Heures d'insertion : mois, cumul et objectif"


@pytest.fixture
def site(tmp_path: Path, sqlite_url: str) -> Iterator[tuple[App, str, Dataset, Clock]]:
    """The hand-worked territory, Camille's account, its pages served on loopback."""
    clock = Clock(AFTER_MARCH_SUMMARY)
    app = bootstrap(make_settings(tmp_path, sqlite_url), clock=clock)
    with app.transaction() as session:
        data = summary_dataset.build(session)
    web_accounts.add_user(app, login="camille", name="Camille Martin", password=PASSWORD)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_site(app), host="127.0.0.1", port=port, log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the web server did not start"
        time.sleep(0.05)
    try:
        yield app, f"http://127.0.0.1:{port}", data, clock
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        app.close()


def test_she_downloads_the_months_summary_and_finds_the_pages_figure_in_it(
    chromium: Chromium, site: tuple[App, str, Dataset, Clock], screenshots: Path, tmp_path: Path
) -> None:
    _, base, _, _ = site

    def work(page: Any) -> dict[str, Any]:
        problems: list[str] = []
        sign_in(page, base + "/bilans", "camille")
        page.get_by_role("link", name="Bilans").first.click()
        problems += look_at(page, "bilans", screenshots)
        heading = page.locator("h1").inner_text()
        computed = page.get_by_label("Date des chiffres").inner_text()
        # The figure the page shows: the whole territory's hours of the month.
        shown = page.locator("li", has_text="Heures réalisées dans le mois").inner_text()
        with page.expect_download() as csv_download:
            page.get_by_role("link", name="Fichier CSV").click()
        csv_path = tmp_path / csv_download.value.suggested_filename
        csv_download.value.save_as(csv_path)
        with page.expect_download() as xlsx_download:
            page.get_by_role("link", name="Classeur XLSX").click()
        xlsx_path = tmp_path / xlsx_download.value.suggested_filename
        xlsx_download.value.save_as(xlsx_path)
        # One buyer, chosen in the list.
        page.get_by_label("Donneur d'ordre").select_option(label="Ville d'Auch")
        page.get_by_role("button", name="Afficher").click()
        auch = page.locator("li", has_text="Heures réalisées dans le mois").inner_text()
        auch_heading = page.locator("h1").inner_text()
        with page.expect_download() as auch_download:
            page.get_by_role("link", name="Fichier CSV").click()
        auch_name = auch_download.value.suggested_filename
        page.get_by_role("link", name="Bilan annuel").click()
        problems += look_at(page, "bilan-annuel", screenshots)
        annual = page.locator("h1").inner_text()
        return {
            "problems": problems,
            "heading": heading,
            "computed": computed,
            "shown": shown,
            "csv": csv_path,
            "xlsx": xlsx_path,
            "auch": auch,
            "auch_heading": auch_heading,
            "auch_name": auch_name,
            "annual": annual,
        }

    seen = chromium.look(work)

    assert seen["problems"] == []
    assert seen["heading"] == "Synthèse mensuelle des clauses sociales – mars 2026"
    assert "Chiffres calculés le 22 avril 2026 à 7\u00a0h\u00a000" in seen["computed"]
    assert "Des changements" not in seen["computed"]
    assert seen["shown"] == "Heures réalisées dans le mois\u00a0: 170,25\u00a0h"
    assert seen["csv"].name == "synthese-2026-03.csv"
    rows = list(csv.reader(io.StringIO(seen["csv"].read_text("utf-8-sig")), delimiter=";"))
    in_csv = next(r for r in rows if r[:3] == [PROGRESS, "Ensemble", "Heures du mois"])
    assert in_csv[3:] == ["170,25", "h"]  # the page's figure, as French Excel reads a number
    assert seen["xlsx"].name == "synthese-2026-03.xlsx"
    sheet = load_workbook(seen["xlsx"])["Avancement"]
    ensemble = next(r for r in sheet.iter_rows(values_only=True) if r[0] == "Ensemble")
    assert Decimal(str(ensemble[3])) == Decimal("170.25")
    assert seen["auch_heading"].endswith("mars 2026 – Ville d'Auch")
    assert seen["auch"] == "Heures réalisées dans le mois\u00a0: 25\u00a0h"
    assert seen["auch_name"].startswith("synthese-2026-03-donneur-")
    assert seen["annual"] == "Bilan annuel des clauses sociales d'insertion – 2025"


def test_she_sees_a_change_recorded_since_and_recomputes(
    chromium: Chromium, site: tuple[App, str, Dataset, Clock], screenshots: Path
) -> None:
    """The page keeps its figures when a declaration is corrected, says so, and shows the new
    figures once she clicks « Recalculer maintenant »."""
    app, base, data, clock = site

    def open_reports(page: Any) -> None:
        sign_in(page, base + "/bilans", "camille")
        page.goto(base + "/bilans")

    def first(page: Any) -> str:
        open_reports(page)
        return str(page.locator("li", has_text="Heures réalisées dans le mois").inner_text())

    before = chromium.look(first)
    clock.set(AFTER_MARCH_SUMMARY + timedelta(hours=3, minutes=5))
    # Routes du Sud corrects its March on Auch's lot: 25 h become none.
    declarations.declare_zero(
        app,
        clause=data.clauses["c3"],
        company="Routes du Sud",
        month=date(2026, 3, 1),
        replace=True,
        actor="Camille Martin",
        reason="Erreur de saisie : personne sur le lot en mars",
    )

    def then(page: Any) -> dict[str, Any]:
        open_reports(page)
        problems = look_at(page, "bilans-changements", screenshots)
        stale = page.get_by_label("Date des chiffres").inner_text()
        kept = page.locator("li", has_text="Heures réalisées dans le mois").inner_text()
        page.get_by_role("button", name="Recalculer maintenant").click()
        page.wait_for_load_state()
        fresh = page.get_by_label("Date des chiffres").inner_text()
        shown = page.locator("li", has_text="Heures réalisées dans le mois").inner_text()
        return {
            "problems": problems,
            "stale": stale,
            "kept": kept,
            "fresh": fresh,
            "shown": shown,
            "url": page.url,
        }

    seen = chromium.look(then)

    assert seen["problems"] == []
    assert before == seen["kept"] == "Heures réalisées dans le mois\u00a0: 170,25\u00a0h"
    assert (
        "Des données ont été enregistrées depuis\u00a0; elles peuvent changer ces chiffres\u00a0: recalculez pour le savoir."
        in (seen["stale"])
    )
    assert "Chiffres calculés le 22 avril 2026 à 7\u00a0h\u00a000" in seen["stale"]
    assert seen["url"] == base + "/bilans?mois=2026-03&recalcul=change"
    assert "des chiffres ont changé depuis le calcul précédent" in seen["fresh"]
    assert seen["shown"] == "Heures réalisées dans le mois\u00a0: 145,25\u00a0h"
    assert "Chiffres calculés le 22 avril 2026 à 10\u00a0h\u00a005" in seen["fresh"]
    assert "Des changements" not in seen["fresh"]
