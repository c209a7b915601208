"""A correction imported from the site (« Importer un tableau ») or sent to the JSON API says,
as the command line does, which outcomes it takes out of the figures or puts back.

On the sample territory (lot 01 of the middle school), on SQLite and PostgreSQL: October 2026
declared on 5 November with P-0007 and P-0012, P-0007's CDI recorded on the 10th. October
corrected without P-0007 from the import page, « Remplacer » ticked: the verification page says
what the import would do (« Après l'import : 1 sortie (P-0007, CDI) n'est plus comptée … ») and
changes nothing, the annual report still counting the CDI; the confirmed import says it as done,
and the annual report leaves the CDI out, its total the sum of its parts. Imported again with
P-0007, the page says the CDI counts again. ``POST /api/v1/declarations`` answers with the
command's ``--json`` keys (``sorties_non_comptees``, ``sorties_de_nouveau_comptees``,
``sorties_message``).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import Clock
from tests.integration.test_corrected_outcomes import (
    BACK,
    CDI,
    GONE,
    last_declaration_history,
    october_with_the_cdi,
    outcome_figures,
)
from tests.integration.test_declarations import ids
from tests.integration.test_outcomes_audit_and_cancel import (
    DECEMBER_3,
    declaration_file,
    listed,
    sample,  # noqa: F401 (fixture)
)
from tests.integration.test_web_imports import (
    confirm,
    dump,
    send,
    sign_in,
    site,  # noqa: F401 (fixture)
)
from tests.text import visible
from workflow.app import api_tokens
from workflow.bootstrap import App
from workflow.entrypoints.web.site import create_site
from workflow.settings import Settings

AFTER = "Après l'import\u00a0: "
#: The figures of the annual report (total, by type, sums of types and of groups) with the CDI
#: counted, and without it.
Figures = tuple[int, dict[str, int], list[int]]
WITH_THE_CDI: Figures = (1, {CDI: 1}, [1, 1])
WITHOUT: Figures = (0, {}, [0, 0])


def figures(app: App) -> Figures:
    """The annual report's outcome total, its types, and the sums of its types and groups."""
    total, types, *sums = outcome_figures(app)
    return total, types, sums


def import_october(client: TestClient, csrf: str, tmp_path: Path, **hours: str) -> tuple[str, str]:
    """October sent from the page with « Remplacer » ticked: the verification page's words, then
    the confirmed import's."""
    path = declaration_file(tmp_path, "10/2026", {k.replace("_", "-"): v for k, v in hours.items()})
    preview = send(client, "declarations", path, csrf, remplacer="1", motif="Erreur de saisie")
    assert preview.status_code == 200, visible(preview.text)
    return visible(preview.text), visible(confirm(client, "declarations", preview.text).text)


def test_a_correction_imported_from_the_page_says_which_outcome_stops_counting_then_again(
    sample: App,  # noqa: F811
    site: TestClient,  # noqa: F811
    settings: Settings,
    clock: Clock,
    tmp_path: Path,
) -> None:
    october_with_the_cdi(sample, settings, clock, tmp_path)
    clock.set(DECEMBER_3)
    csrf = sign_in(site)
    before = dump(sample)

    path = declaration_file(tmp_path, "10/2026", {"P-0012": "98,5"})
    preview = send(site, "declarations", path, csrf, remplacer="1", motif="Erreur de saisie")

    assert preview.status_code == 200, visible(preview.text)
    shown = visible(preview.text)
    assert "remplacera celle déjà enregistrée" in shown
    assert f"{AFTER}{GONE}" in shown
    # Only what the import would do: nothing recorded, the CDI still counted.
    assert dump(sample) == before
    assert listed(sample) == {"P-0007": (True, None)}
    assert figures(sample) == WITH_THE_CDI

    done = visible(confirm(site, "declarations", preview.text).text)

    assert "remplacée" in done
    assert GONE in done and AFTER not in done
    assert last_declaration_history(sample).endswith(
        f"(remplace 250,17 h, motif : Erreur de saisie) – {GONE}"
    )
    assert listed(sample)["P-0007"][0] is False
    assert figures(sample) == WITHOUT

    clock.set(DECEMBER_3 + timedelta(hours=1))
    again, redone = import_october(site, csrf, tmp_path, P_0007="151,67", P_0012="98,5")

    assert f"{AFTER}{BACK}" in again and "n'est plus comptée" not in again
    assert BACK in redone and AFTER not in redone
    assert last_declaration_history(sample).endswith(
        f"(remplace 98,50 h, motif : Erreur de saisie) – {BACK}"
    )
    assert figures(sample) == WITH_THE_CDI


def test_a_correction_that_moves_no_outcome_says_nothing_of_them_on_the_page(
    sample: App,  # noqa: F811
    site: TestClient,  # noqa: F811
    settings: Settings,
    clock: Clock,
    tmp_path: Path,
) -> None:
    october_with_the_cdi(sample, settings, clock, tmp_path)
    clock.set(DECEMBER_3)
    csrf = sign_in(site)

    checked, done = import_october(site, csrf, tmp_path, P_0007="151,67", P_0012="90")

    assert "sortie" not in checked and "sortie" not in done
    assert figures(sample) == WITH_THE_CDI


# --- the JSON API -------------------------------------------------------------------------------


def october_line(reference: str, hours: str) -> dict[str, str]:
    contract, mode = {
        "P-0007": ("cdd", "direct_hiring"),
        "P-0012": ("temp_work", "provision_etti"),
    }[reference]
    return {"reference": reference, "heures": hours, "contrat": contract, "modalite": mode}


def test_the_api_answers_a_correction_with_the_outcomes_it_takes_out_or_puts_back(
    sample: App,  # noqa: F811
    settings: Settings,
    clock: Clock,
    tmp_path: Path,
) -> None:
    october_with_the_cdi(sample, settings, clock, tmp_path)
    clock.set(DECEMBER_3)
    clause_id, company_id = ids(sample)
    token, _ = api_tokens.create_token(sample, name="Logiciel du PLIE", read_only=False)
    client = TestClient(create_site(sample))

    def declare(*lines: dict[str, str]) -> dict[str, Any]:
        body = {"clause": clause_id, "entreprise": company_id, "mois": "2026-10", "lignes": lines}
        answer = client.post(
            "/api/v1/declarations", headers={"Authorization": f"Bearer {token}"}, json=body
        )
        assert answer.status_code == 201, answer.text
        said = answer.json()
        assert isinstance(said, dict)
        return said

    without = declare(october_line("P-0012", "98,5"))

    assert without == {
        "declaration": without["declaration"],
        "sorties_non_comptees": [{"participant": "P-0007", "type_libelle": "CDI"}],
        "sorties_de_nouveau_comptees": [],
        "sorties_message": GONE,
    }
    assert last_declaration_history(sample).endswith(f"(remplace 250,17 h) – {GONE}")
    assert figures(sample) == WITHOUT

    clock.set(DECEMBER_3 + timedelta(hours=1))
    both = (october_line("P-0007", "151,67"), october_line("P-0012", "98,5"))
    again = declare(*both)

    assert again == {
        "declaration": without["declaration"],
        "sorties_non_comptees": [],
        "sorties_de_nouveau_comptees": [{"participant": "P-0007", "type_libelle": "CDI"}],
        "sorties_message": BACK,
    }
    assert figures(sample) == WITH_THE_CDI
    # The schema tells a client of the three keys.
    schema = client.get("/api/v1/openapi.json").json()["components"]["schemas"]["DeclarationOut"]
    keys = ["sorties_non_comptees", "sorties_de_nouveau_comptees", "sorties_message"]
    assert set(keys) <= set(schema["required"])
    assert all(schema["properties"][key]["description"] for key in keys)
    # Sent twice: nothing recorded again, nothing moved, nothing said.
    assert declare(*both) == {
        "declaration": without["declaration"],
        "sorties_non_comptees": [],
        "sorties_de_nouveau_comptees": [],
        "sorties_message": None,
    }
