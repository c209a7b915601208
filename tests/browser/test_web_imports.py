"""The facilitator imports spreadsheets from « Importer un tableau », in a real Chromium, without
any script of the page's: she checks a file, reads what it would create, confirms; a file with
an error is refused with its line and column. Every page she passes (the forms, a refusal, a
preview, a recorded import) passes axe-core and is photographed at 1280 and 390 px."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import select

from tests.browser.conftest import Chromium
from tests.browser.pages import PASSWORD, looker, sign_in, title_of
from tests.browser.test_online_declaration import free_port
from tests.conftest import Clock, make_settings
from tests.integration.test_declarations import NOVEMBER, start_sample
from workflow.adapters.orm import Clause, ClauseHistory, Declaration, Market
from workflow.app import web_accounts
from workflow.bootstrap import App, bootstrap
from workflow.entrypoints.web.site import create_site

pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture
def site(tmp_path: Path, sqlite_url: str) -> Iterator[tuple[App, str]]:
    """The sample territory in execution in November 2026, served on loopback."""
    clock = Clock(NOVEMBER)
    app = bootstrap(make_settings(tmp_path, sqlite_url), clock=clock)
    start_sample(app)
    web_accounts.add_user(app, login="lea", name="Léa Roux", password=PASSWORD)
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
        yield app, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        app.close()


look_at = looker("imports")


def test_the_facilitator_checks_then_imports_lots_and_a_declaration(
    chromium: Chromium, site: tuple[App, str], screenshots: Path, tmp_path: Path
) -> None:
    app, base = site
    # New lots: the sample's lots file for another market of the same middle school.
    new_lots = tmp_path / "lots-2026-099.csv"
    new_lots.write_bytes(
        (DATA / "lots-excel-fr.csv").read_bytes().replace(b"2026-014", b"2026-099")
    )
    wrong = tmp_path / "lots-faux.csv"
    wrong.write_bytes(new_lots.read_bytes().replace(b";5 %;", b";cinq %;", 1))

    def work(page: Any) -> dict[str, Any]:
        problems: list[str] = []
        sign_in(page, base + "/connexion")
        page.goto(base + "/courriels")  # any page behind the login shows the link
        page.get_by_role("link", name="Importer un tableau").first.click()
        title = title_of(page)
        problems += look_at(page, "formulaires", screenshots)

        page.locator("#fichier-lots").set_input_files(str(wrong))
        page.locator("#fichier-lots").locator("xpath=ancestor::form").get_by_role(
            "button", name="Vérifier le fichier"
        ).click()
        refused = page.locator("main").inner_text()
        problems += look_at(page, "refus", screenshots)

        page.locator("#fichier-lots").set_input_files(str(new_lots))
        page.locator("#fichier-lots").locator("xpath=ancestor::form").get_by_role(
            "button", name="Vérifier le fichier"
        ).click()
        preview = page.locator("main").inner_text()
        problems += look_at(page, "apercu-lots", screenshots)
        page.get_by_role("button", name="Confirmer l'import").click()
        done = page.locator("main").inner_text()
        problems += look_at(page, "lots-importes", screenshots)

        page.get_by_role("link", name="Importer un autre tableau").click()
        page.locator("#fichier-declarations").set_input_files(
            str(DATA / "declaration-excel-fr.csv")
        )
        page.locator("#clause-declarations").fill("2026-014/01")
        page.locator("#fichier-declarations").locator("xpath=ancestor::form").get_by_role(
            "button", name="Vérifier le fichier"
        ).click()
        declaration = page.locator("main").inner_text()
        problems += look_at(page, "apercu-declaration", screenshots)
        page.get_by_role("button", name="Confirmer l'import").click()
        declared = page.locator("main").inner_text()
        problems += look_at(page, "declaration-importee", screenshots)
        return {
            "problems": problems,
            "title": title,
            "refused": refused,
            "preview": preview,
            "done": done,
            "declaration": declaration,
            "declared": declared,
        }

    seen = chromium.look(work)

    assert seen["problems"] == []
    assert seen["title"].startswith("Importer un tableau")
    assert "lots-faux.csv\u00a0: 1\u00a0erreur, rien n'a été importé." in seen["refused"]
    assert "ligne 3, colonne «\u00a0Taux d'insertion\u00a0»" in seen["refused"]
    assert "Rien n'est encore enregistré" in seen["preview"]
    assert "Seront créés\u00a0: 1\u00a0marché, 4\u00a0clauses." in seen["preview"]
    assert "Import de «\u00a0lots-2026-099.csv\u00a0» enregistré" in seen["done"]
    assert "370,17\u00a0h au total" in seen["declaration"]
    assert "enregistrée" in seen["declared"] and "Import enregistré" in seen["declared"]
    with app.transaction() as session:
        new = session.scalars(
            select(Clause.id).join(Market).where(Market.reference == "2026-099")
        ).all()
        assert len(new) == 4
        actors = session.scalars(
            select(ClauseHistory.actor).where(ClauseHistory.clause_id.in_(new))
        ).all()
        assert actors == ["Léa Roux"] * 4
        declaration = session.scalars(select(Declaration).order_by(Declaration.id.desc())).first()
        assert declaration is not None and declaration.recorded_by == "Léa Roux"
