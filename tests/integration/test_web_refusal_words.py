"""What the web pages and the API say when they refuse: their own words, never a command to type.

A refusal carries its hint for each interface (``workflow.errors.Hint``): the command line keeps
« La liste : « clauses company list » », « fusionnez-les : « clauses company merge … » » and the
events' codes (« achever (finish) »), which its commands take; the web pages and the API name a
page instead, and the events by their French labels only. Over the real ASGI application and the
real App, on SQLite and PostgreSQL; the CLI runs on the same App.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration.test_dashboard import PASSWORD, dashboard_site, sign_in
from tests.integration.test_declaration_howto import lot_01
from tests.integration.test_online_declaration import call_link, form
from tests.text import squash, visible
from workflow.adapters.orm import Clause, ClauseHistory, Company, Declaration, RecordHistory
from workflow.app import api_tokens, corrections
from workflow.bootstrap import App
from workflow.domain.stages import PIPELINE_RANK
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.errors import InputRefused

NBSP = "\u00a0"


def q(text: str) -> str:
    return f"«{NBSP}{text}{NBSP}»"


def run(app: App, *args: str) -> Result:
    """The command line on the test's App."""
    state = CliState()
    state.factory = lambda: app
    return CliRunner().invoke(cli, list(args), obj=state, env={"COLUMNS": "200"})


def cli_refusal(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Refusé : "), result.stderr
    return squash(result.stderr)


@pytest.fixture
def site(app: App, clock: Clock) -> TestClient:
    return dashboard_site(app, clock)


def writer(app: App) -> dict[str, str]:
    token, _ = api_tokens.create_token(app, name="Logiciel du PLIE", read_only=False)
    return {"Authorization": f"Bearer {token}"}


def history_count(app: App) -> tuple[int, int]:
    with app.transaction() as session:
        return (
            len(session.scalars(select(ClauseHistory.id)).all()),
            len(session.scalars(select(RecordHistory.id)).all()),
        )


def declared(app: App) -> list[tuple[object, ...]]:
    with app.transaction() as session:
        rows = session.scalars(select(Declaration).order_by(Declaration.id))
        return [(d.id, d.clause_id, d.company_id, d.month, d.validated_at) for d in rows]


# --- 1. the hints: a page on the web and in the API, the command on the command line ----------


def test_a_company_given_another_ones_siret_is_refused_with_the_page_to_merge_them(
    app: App, site: TestClient
) -> None:
    csrf = sign_in(site)
    _, holder, partner = lot_01(app)
    with app.transaction() as session:
        holder_siret = session.get(Company, holder).siret  # type: ignore[union-attr]
        partner_name = session.get(Company, partner).name  # type: ignore[union-attr]
    before = history_count(app)

    page = site.post(
        f"/corrections/entreprises/{partner}",
        data={"csrf": csrf, "name": partner_name, "siret": holder_siret, "city": ""},
    )
    typed = run(app, "company", "edit", str(partner), "--siret", str(holder_siret))

    assert page.status_code == 422
    text = visible(page.text)
    assert "S'il s'agit de la même entreprise, fusionnez-les depuis la page" in text
    assert (
        f"fusionnez-les depuis la page {q('Corrections')} de l'entreprise n° {holder}, section "
        f"{q('Fusionner un doublon')} (le doublon{NBSP}: n° {partner})." in text
    )
    assert "clauses company" not in text and "merge" not in text
    said = cli_refusal(typed)
    assert f"fusionnez-les : {q(f'clauses company merge {partner} --into {holder}')}." in said
    assert "page" not in said
    assert history_count(app) == before  # refused on both: nothing recorded


def test_a_record_not_found_names_the_search_page_in_the_api_and_the_list_command_on_the_cli(
    app: App, site: TestClient
) -> None:
    headers = writer(app)

    missing = site.get("/api/v1/clauses/999999", headers=headers)
    typed = run(app, "clause", "show", "999999")

    assert missing.status_code == 404
    erreur = missing.json()["erreur"]
    assert erreur.startswith("Aucune clause n° 999999") or "999999" in erreur
    assert f"La liste{NBSP}: le tableau de la page {q('Clauses')}." in erreur
    assert "clauses clause" not in erreur
    assert f"La liste : {q('clauses clause list')}." in cli_refusal(typed)

    # The service's own refusal, as each interface reads it.
    with pytest.raises(InputRefused) as refused:
        corrections.edit_company(app, 999999, city="Auch")
    assert refused.value.message == (
        f"Entreprise {q('999999')} introuvable. Pour la retrouver{NBSP}: la recherche de la "
        f"page {q('Corrections')}."
    )
    assert refused.value.command_line_message == (
        f"Entreprise {q('999999')} introuvable. La liste : {q('clauses company list')}."
    )


def test_a_month_not_declared_is_refused_for_validation_without_the_commands_words(
    app: App, site: TestClient
) -> None:
    csrf = sign_in(site)
    clause_id, _, partner = lot_01(app)
    before = history_count(app)

    page = site.post(
        "/declarations/valider",
        data={"csrf": csrf, "clause_id": clause_id, "company_id": partner, "month": "2026-03-01"},
    )
    typed = run(
        app, "declaration", "validate", "--clause", str(clause_id), "--company", str(partner),
        "--month", "03/2026",
    )  # fmt: skip

    assert 400 <= page.status_code < 500
    text = visible(page.text)
    assert "rien à valider (les déclarations attendues sont sur la page de la clause)." in text
    assert "clauses declaration" not in text
    assert f"rien à valider ({q('clauses declaration list --missing')})." in cli_refusal(typed)
    with app.transaction() as session:
        assert session.scalars(select(Declaration.validated_at).where(
            Declaration.company_id == partner, Declaration.validated_at.is_not(None)
        )).all() == []  # fmt: skip
    assert history_count(app) == before


# --- 2. the stage machine: French labels on the web and in the API ----------------------------


def test_an_event_not_allowed_names_the_allowed_ones_in_french_only_on_the_web_and_the_api(
    app: App, site: TestClient
) -> None:
    csrf = sign_in(site)
    clause_id, _, _ = lot_01(app)  # in execution: achever or suspendre
    before = history_count(app)

    page = site.post(
        f"/clauses/{clause_id}/evenement",
        data={"csrf": csrf, "evenement": "abandon", "motif_evenement": "essai"},
    )
    api = site.post(
        f"/api/v1/clauses/{clause_id}/avancer",
        headers=writer(app),
        json={"evenement": "abandonner", "motif": "essai"},
    )
    typed = run(app, "clause", "advance", str(clause_id), "abandonner", "--reason", "essai")

    assert page.status_code == 422 and api.status_code == 422
    for text in (visible(page.text), api.json()["erreur"]):
        assert f"Permis maintenant{NBSP}: achever, suspendre, résilier." in text
        assert "(finish)" not in text and "(suspend)" not in text
    assert (
        "Permis maintenant : achever (finish), suspendre (suspend), résilier (terminate)."
        in cli_refusal(typed)
    )
    with app.transaction() as session:
        assert session.get(Clause, clause_id).stage == "execution"  # type: ignore[union-attr]
    assert history_count(app) == before


# --- 3. the API: events in French, clauses in the pipeline's order ----------------------------


def test_the_api_takes_an_event_by_its_french_label_and_documents_both(
    app: App, site: TestClient
) -> None:
    clause_id, _, _ = lot_01(app)
    headers = writer(app)

    paused = site.post(
        f"/api/v1/clauses/{clause_id}/avancer",
        headers=headers,
        json={"evenement": "suspendre", "motif": "Intempéries"},
    )
    resumed = site.post(
        f"/api/v1/clauses/{clause_id}/avancer", headers=headers, json={"evenement": "Reprendre"}
    )
    unknown = site.post(
        f"/api/v1/clauses/{clause_id}/avancer", headers=headers, json={"evenement": "voler"}
    )

    assert paused.status_code == 200, paused.text
    assert paused.json()["etape"] == "suspended"
    assert resumed.status_code == 200 and resumed.json()["etape"] == "execution"
    assert unknown.status_code == 422
    assert "evenement" in unknown.json()["erreur"]
    assert "valeur hors de la liste (attendu : " in unknown.json()["erreur"]
    assert "suspendre, reprendre, résilier ou le code anglais)" in unknown.json()["erreur"]
    with app.transaction() as session:
        rows = session.scalars(
            select(ClauseHistory)
            .where(ClauseHistory.clause_id == clause_id, ClauseHistory.event.in_(
                ("suspend", "resume")
            ))
            .order_by(ClauseHistory.id)
        ).all()  # fmt: skip
    assert [(r.event, r.actor, r.reason) for r in rows] == [
        ("suspend", "Logiciel du PLIE", "Intempéries"),
        ("resume", "Logiciel du PLIE", None),
    ]
    detail = site.get(f"/api/v1/clauses/{clause_id}", headers=headers).json()
    assert detail["evenements_possibles_libelles"] == ["achever", "suspendre", "résilier"]

    schema = site.get("/api/v1/openapi.json").json()
    event = schema["components"]["schemas"]["AdvanceIn"]["properties"]["evenement"]
    assert {"achever", "démarrer", "finish", "start"} <= set(event["enum"])
    assert "libellé français" in event["description"]


def test_the_api_lists_clauses_in_the_pipelines_order_not_by_the_english_code(
    app: App, site: TestClient
) -> None:
    headers = writer(app)

    listed = site.get("/api/v1/clauses?nombre=500", headers=headers).json()
    pages = [
        site.get(f"/api/v1/clauses?nombre=3&debut={n}", headers=headers).json()
        for n in range(0, len(listed), 3)
    ]

    stages = [c["etape"] for c in listed]
    # The sample: lots still in « repérage » and the awarded ones in « mise en œuvre »; by code,
    # « execution » would come before « identification ».
    assert {"identification", "execution"} <= set(stages)
    ranks = [(PIPELINE_RANK[c["etape"]], c["numero"]) for c in listed]
    assert ranks == sorted(ranks)
    assert stages.index("identification") < stages.index("execution")
    assert [c for page in pages for c in page] == listed  # the pages follow the same order
    with app.transaction() as session:
        assert len(listed) == len(session.scalars(select(Clause.id)).all())


# --- 4. the company's form names every problem of every line ---------------------------------


def test_the_online_form_names_every_problem_of_every_line_and_records_nothing(
    app: App, site: TestClient
) -> None:
    clause_id, holder, _ = lot_01(app)
    path = call_link(app, clause_id, holder)
    before, recorded = history_count(app), declared(app)
    bad = {
        "reference": ["P-NEUF-1", "P-NEUF-2", "P-NEUF-1"],
        "hours": ["abc", "300", ""],
        "contract": ["inconnu", "cdd", "cdd"],
        "mode": ["", "direct_hiring", "autre"],
        "criterion": ["", "long_term_jobseeker", "long_term_jobseeker"],
    }

    for action in ("verifier", "confirmer"):
        refused = site.post(path, data=form(bad, action))
        assert refused.status_code == 422
        text = visible(refused.text)
        for line, field, words in [
            (1, "heures", "«\u00a0abc\u00a0» n'est pas un nombre d'heures (exemple : 151,67)."),
            # A choice refused is said as a file's import says it (``domain.choices``).
            (1, "type de contrat", "«\u00a0inconnu\u00a0» n'est pas reconnu. Valeurs acceptées :"),
            (1, "modalité", "valeur manquante : choisissez une valeur dans la liste :"),
            (1, "critère d'éligibilité", "son critère d'éligibilité est nécessaire pour"),
            (2, "heures", "250"),
            (3, "référence", "« P-NEUF-1 » figure déjà ligne 1."),
            (3, "heures", "indiquez les heures"),
            (3, "modalité", "«\u00a0autre\u00a0» n'est pas reconnu. Valeurs acceptées :"),
        ]:
            assert f"ligne {line}, {field}" in text and words in text, (line, field)
        assert text.count("ligne 1, ") == 4 and text.count("ligne 3, ") == 3
        assert "ligne 2, type de contrat" not in text and "ligne 2, critère" not in text

    assert declared(app) == recorded
    assert history_count(app) == before


# --- 5. the login lockout counts real time, whatever the App's clock says ---------------------


def test_a_login_lockout_ends_by_real_time_even_when_the_apps_clock_is_frozen(
    app: App, site: TestClient, clock: Clock
) -> None:
    wall = Clock(clock() + timedelta(days=200))  # real time, apart from the App's clock
    app.wall_clock = wall

    def attempt(password: str) -> int:
        found = site.get("/connexion").text.split('name="csrf" value="')[1].split('"')[0]
        return site.post(
            "/connexion",
            data={"csrf": found, "identifiant": "camille", "mot_de_passe": password},
            follow_redirects=False,
        ).status_code

    for _ in range(5):
        assert attempt("non") == 401
    assert attempt(PASSWORD) == 401  # locked, even with the right password

    # ``clauses web --now`` freezes the App's clock: moving it or not changes nothing.
    clock.set(clock() + timedelta(hours=2))
    assert attempt(PASSWORD) == 401
    wall.set(wall() + timedelta(minutes=14))
    assert attempt(PASSWORD) == 401
    wall.set(wall() + timedelta(minutes=2))
    assert attempt(PASSWORD) == 303
    assert site.get("/tableau-de-bord").status_code == 200  # signed in


def test_login_failures_are_dated_by_real_time(app: App, site: TestClient, clock: Clock) -> None:
    from workflow.adapters.orm import LoginFailure

    wall = Clock(clock() + timedelta(days=3))
    app.wall_clock = wall
    found = site.get("/connexion").text.split('name="csrf" value="')[1].split('"')[0]
    site.post("/connexion", data={"csrf": found, "identifiant": "camille", "mot_de_passe": "x"})
    with app.transaction() as session:
        assert session.scalars(select(LoginFailure.at)).all() == [wall()]
