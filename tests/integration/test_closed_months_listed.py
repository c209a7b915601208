"""After a clause is closed with months never declared, `declaration list` says those months are
no longer asked (« plus demandée »), not « en retard »; `--missing` leaves them out (the
company was told they are no longer asked, the digest has no task for them); the totals still
add up to the months expected. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Clock
from tests.integration.test_closure_missing_months import (  # noqa: F401
    a_lot_reported_with_october_and_november_missing,
    app,
    paris,
    settings,
)
from tests.integration.test_end_date_correction import run_cli
from tests.text import squash
from workflow.app import api_tokens
from workflow.bootstrap import App
from workflow.entrypoints.web.site import create_site
from workflow.settings import Settings

pytestmark = pytest.mark.scenario


def test_a_closed_lots_months_never_declared_are_listed_as_no_longer_asked(
    app: App,  # noqa: F811
    settings: Settings,  # noqa: F811
    clock: Clock,
    tmp_path: Path,
) -> None:
    lot, _ = a_lot_reported_with_october_and_november_missing(app, settings, clock, tmp_path)
    at = paris(date(2026, 12, 15), 11, 30)
    code, said = run_cli(settings, clock, at, "clause", "advance", str(lot.clause_id), "clôturer")
    assert code == 0, said
    later = paris(date(2027, 1, 20), 10)

    code, said = run_cli(settings, clock, later, "declaration", "list", "--clause",
                         str(lot.clause_id), "--json")  # fmt: skip
    assert code == 0, said
    listed = json.loads(said)
    states = {line["mois"][:7]: line["etat"] for line in listed["lignes"]}
    assert states["2026-10"] == states["2026-11"] == "released", states
    assert "late" not in states.values() and "missing" not in states.values(), states
    total = listed["total"]
    assert total["plus_demandees"] == 2 and total["en_retard"] == 0
    assert total["attendues"] == sum(
        total[key]
        for key in ("declarees", "zero_heure", "manquantes", "en_retard", "plus_demandees")
    )

    code, said = run_cli(settings, clock, later, "declaration", "list", "--clause",
                         str(lot.clause_id))  # fmt: skip
    assert code == 0, said
    text = squash(said)
    assert "plus demandée" in text and "en retard (" not in text, text
    assert "2 plus demandées (suivi clôturé)" in text, text

    code, said = run_cli(settings, clock, later, "declaration", "list", "--clause",
                         str(lot.clause_id), "--missing", "--json")  # fmt: skip
    assert code == 0, said
    assert json.loads(said)["lignes"] == []


def test_the_api_closure_names_the_declarations_no_longer_asked(
    app: App,  # noqa: F811
    settings: Settings,  # noqa: F811
    clock: Clock,
    tmp_path: Path,
) -> None:
    """Closed through the JSON API, the answer names what the command line names: the months
    never received, by company, now no longer asked."""
    lot, _ = a_lot_reported_with_october_and_november_missing(app, settings, clock, tmp_path)
    clock.set(paris(date(2026, 12, 15), 11, 30))
    writer, _ = api_tokens.create_token(app, name="Logiciel du PLIE", read_only=False)
    client = TestClient(create_site(app))

    answer = client.post(
        f"/api/v1/clauses/{lot.clause_id}/avancer",
        json={"evenement": "close"},
        headers={"Authorization": f"Bearer {writer}"},
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["declarations_non_recues"] == [
        {"entreprise": "Bâtiments Test", "mois": ["2026-10", "2026-11"]}
    ]
