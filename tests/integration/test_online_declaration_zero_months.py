"""A catch-up template with one month at zero and one left blank, sent from the web page."""

from __future__ import annotations

from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Clock
from tests.integration._ladders import Lot
from tests.integration.test_online_declaration_catch_up import (
    APR,
    FEB,
    MAR,
    attached_csv,
    catch_up_call,
    filled,
    hidden_lines,
    late,
    month_links,
    recorded,
)
from tests.text import visible
from workflow.bootstrap import App
from workflow.entrypoints.web.site import create_site
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

__all__ = ["late"]


def test_a_month_at_zero_and_a_month_left_blank_from_the_web(
    late: tuple[App, Lot], settings: Settings, clock: Clock
) -> None:
    app, lot = late
    call = catch_up_call(app, lot)
    links = month_links(call.body_text)
    _, rows, encoding = attached_csv(app, call)
    data = filled(rows, encoding, {"02/2027": [("P-CU-1", "151,67")]})
    # March: « 0 » on its first blank line, nothing else; April: left blank.
    text = data.decode(encoding).split("\r\n")
    titles = text[0].split(";")
    for index, line in enumerate(text):
        cells = line.split(";")
        if len(cells) == len(titles) and cells[titles.index("Mois")] == "03/2027":
            cells[titles.index("Heures")] = "0"
            text[index] = ";".join(cells)
            break
    data = "\r\n".join(text).encode(encoding)
    client = TestClient(create_site(app))
    shown = client.post(
        f"{links['février 2027']}/fichier", files={"fichier": ("rempli.csv", data, "text/csv")}
    )
    assert shown.status_code == 200, visible(shown.text)
    page = visible(shown.text).replace("\u00a0", " ")

    assert "Mars 2027 Aucune heure ce mois-là" in page
    assert "avril 2027 : aucune ligne, pas déclaré ; toujours attendu" in page
    posted = {**hidden_lines(shown.text), "action": "confirmer"}
    done = client.post(links["février 2027"], data=posted, follow_redirects=False)
    assert done.status_code == 303, visible(done.text)
    assert recorded(app, lot) == {FEB: Decimal("151.67"), MAR: Decimal(0)}
    assert APR not in recorded(app, lot)
