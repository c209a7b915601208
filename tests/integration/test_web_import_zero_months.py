"""The facilitator's import page says both months: the one at zero and the one left blank."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from tests.conftest import Clock
from tests.integration.test_declarations import NOVEMBER, start_sample
from tests.integration.test_web_imports import confirm, send, sign_in, site
from tests.text import visible
from workflow.adapters.declaration_columns import declaration_titles
from workflow.bootstrap import App

__all__ = ["site"]


def test_zero_month_and_blank_month_on_the_import_page(
    app: App, site: TestClient, clock: Clock, tmp_path: Path
) -> None:
    start_sample(app)
    clock.set(NOVEMBER)
    csrf = sign_in(site)
    titles = declaration_titles()
    base = {"SIRET": "412 345 678 00012", "N° marché": "2026-014", "Lot": "01"}
    rows = [titles]
    for month, hours in (("09/2026", ""), ("10/2026", "0")):
        cells = {**base, "Mois": month, "Heures": hours}
        rows.append([cells.get(t, "") for t in titles])
    path = tmp_path / "zero.csv"
    path.write_bytes("\r\n".join(";".join(r) for r in rows).encode("cp1252"))
    preview = send(site, "declarations", path, csrf)
    assert preview.status_code == 200, visible(preview.text)
    shown = visible(preview.text).replace("\u00a0", " ")
    assert "Aucune heure ce mois-là : déclaration à zéro heure, sans participant." in shown
    assert "Déclaration de septembre 2026 de Bâtiments Gascons SARL" in shown
    assert "septembre 2026 : aucune ligne, pas déclaré ; toujours attendu" in shown
    done = confirm(site, "declarations", preview.text)
    assert done.status_code == 200, visible(done.text)
    said = visible(done.text).replace("\u00a0", " ")
    assert "septembre 2026 : aucune ligne, pas déclaré ; toujours attendu" in said
