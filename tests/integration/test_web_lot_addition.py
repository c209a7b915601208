"""« Ajouter un lot à ce marché »: ``clauses lot add`` from a market's correction page, over the
real ASGI application and the real App, on SQLite and PostgreSQL.

The form reads what is typed as the command reads its options (« 1 000 000 », « 50 % »,
« 0,05 », « 15/09/2026 », « 3, 7 ») and calls the function the command calls: the lot it creates
is, column for column, the one the command creates with the same words on a twin market of the
same database, with the same « repérage » history row but for the actor (the signed-in user,
not the facilitator of the settings). A refusal names the field in French, keeps what was
typed (422) and leaves every table as it was; the command refuses the same input. A POST without
its CSRF token does nothing.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration.test_corrections import (
    add_buyer,
    add_lot,
    add_market,
    add_operation,
    dump,
)
from tests.integration.test_web_corrections import NBSP, PASSWORD, USER, q, sign_in, value_of
from tests.text import visible
from workflow.adapters.orm import Clause, ClauseHistory
from workflow.app import web_accounts
from workflow.bootstrap import App, bootstrap
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.entrypoints.web.site import create_site
from workflow.settings import Settings

#: The facilitator of the settings: the command's actor when none is given.
FACILITATOR = "Camille Martin"


@pytest.fixture
def territory(app: App) -> dict[str, int]:
    """A buyer, an operation and two twin markets: the web adds to one, the command to the
    other."""
    buyer = add_buyer(app, "Commune de Lectoure", kind="Commune")
    operation = add_operation(app, buyer, "Groupe scolaire")
    return {
        "web": add_market(app, operation, "2026-014"),
        "cli": add_market(app, operation, "2026-015"),
    }


@pytest.fixture
def site(app: App, clock: Clock, territory: dict[str, int]) -> TestClient:
    web_accounts.add_user(app, login="lea", name=USER, password=PASSWORD)
    return TestClient(create_site(app))


def run_lot_add(settings: Settings, clock: Clock, *args: str) -> Result:
    """``clauses lot add ARGS`` on the test's database and clock."""
    state = CliState()
    state.factory = lambda: bootstrap(settings, clock=clock)
    try:
        return CliRunner().invoke(cli, ["lot", "add", *args], obj=state, catch_exceptions=False)
    finally:
        state.close()


def form_path(market: int) -> str:
    return f"/corrections/marches/{market}/lot"


def clause_of(app: App, market: int) -> dict[str, Any]:
    """The market's one clause, every column but its N° and its market's."""
    with app.transaction() as session:
        [clause] = session.scalars(select(Clause).where(Clause.market_id == market))
        return {
            column.key: getattr(clause, column.key)
            for column in Clause.__table__.columns
            if column.key not in ("id", "market_id")
        }


def history_of(app: App, market: int) -> list[dict[str, Any]]:
    """The history rows of the market's clauses, every column but the row's and clause's N°."""
    with app.transaction() as session:
        rows = session.scalars(
            select(ClauseHistory)
            .join(Clause, Clause.id == ClauseHistory.clause_id)
            .where(Clause.market_id == market)
            .order_by(ClauseHistory.id)
        )
        return [
            {
                column.key: getattr(row, column.key)
                for column in ClauseHistory.__table__.columns
                if column.key not in ("id", "clause_id")
            }
            for row in rows
        ]


def added_rows(before: dict[str, list[tuple[Any, ...]]], after: dict[str, Any]) -> dict[str, int]:
    """How many rows each table gained."""
    return {
        table: len(after[table]) - len(rows)
        for table, rows in before.items()
        if len(after[table]) != len(rows)
    }


# --- the lot the form creates is the lot the command creates ------------------------------------

#: The option of ``clauses lot add`` each field of the form stands for.
OPTIONS = {
    "title": "--title",
    "lot_number": "--number",
    "trade": "--trade",
    "amount": "--amount",
    "labour_share": "--labour-share",
    "rate": "--rate",
    "hourly_cost": "--hourly-cost",
    "hours": "--hours",
    "hours_reason": "--hours-reason",
    "planned_notification": "--planned-notification",
    "due_day": "--due-day",
    "reminder_offsets": "--reminder-offsets",
    "escalation_offset": "--escalation-offset",
}


def options(fields: dict[str, str]) -> list[str]:
    """The command line typing the same words as the form's fields (but the thousands spaces
    of « 1 200 » hours, which the form takes and click's whole numbers do not)."""
    typed: list[str] = []
    for name, value in fields.items():
        typed += [OPTIONS[name], re.sub(r"\s", "", value) if name == "hours" else value]
    return typed


#: (what the form's fields get, what the confirmation says of the hours)
TYPED = [
    pytest.param(
        {
            "title": "Gros œuvre",
            "lot_number": "01",
            "trade": "Maçonnerie",
            "amount": "1 000 000",
            "labour_share": "50 %",
            "rate": "0,05",
            "hourly_cost": "30",
            "planned_notification": "15/09/2026",
            "due_day": "10",
            "reminder_offsets": "3, 7",
            "escalation_offset": "12",
        },
        "833 heures d'insertion calculées",
        id="four-figures-and-calendar",
    ),
    pytest.param(
        {
            "title": "Voirie",
            "lot_number": "02",
            "amount": "250 000,50",
            "rate": "7,5%",
            "hours": "1 200",
            "hours_reason": "Avenant n° 2",
        },
        "1 200 heures imposées (Avenant n° 2)",
        id="hours-imposed-two-figures",
    ),
    pytest.param({"title": "Lot unique"}, "Heures d'insertion à calculer", id="title-alone"),
]


@pytest.mark.parametrize(("fields", "hours_said"), TYPED)
def test_the_lot_added_from_its_markets_page_is_the_lot_the_command_adds(
    app: App,
    site: TestClient,
    settings: Settings,
    clock: Clock,
    territory: dict[str, int],
    fields: dict[str, str],
    hours_said: str,
) -> None:
    csrf = sign_in(site)
    market, twin = territory["web"], territory["cli"]
    # The market's page leads to the form.
    market_page = site.get(f"/corrections/marches/{market}").text
    assert f'<a href="{form_path(market)}">Ajouter un lot à ce marché</a>' in market_page
    form = site.get(form_path(market))
    assert form.status_code == 200
    assert f'action="{form_path(market)}"' in form.text and 'name="csrf"' in form.text

    before = dump(app)
    done = site.post(form_path(market), data={"csrf": csrf, **fields}, follow_redirects=False)
    assert done.status_code == 303, visible(done.text)
    found = re.fullmatch(rf"{form_path(market)}\?ajout=(\d+)#ajout", done.headers["location"])
    assert found is not None, done.headers["location"]
    clause_id = int(found.group(1))
    web_added = added_rows(before, dump(app))

    before = dump(app)
    ran = run_lot_add(settings, clock, "--market", "2026-015", *options(fields))
    assert ran.exit_code == 0, ran.output
    cli_added = added_rows(before, dump(app))

    # The same rows, in the same tables: the clause and its « repérage » row, no record history.
    assert web_added == cli_added and web_added["clauses"] == 1
    assert "record_history" not in web_added
    web_clause, cli_clause = clause_of(app, market), clause_of(app, twin)
    # The search text names the market: the twin's reference is the one difference.
    web_clause["search_text"] = web_clause["search_text"].replace("2026 014", "2026 015")
    assert web_clause == cli_clause
    web_rows, cli_rows = history_of(app, market), history_of(app, twin)
    assert [r["actor"] for r in web_rows] == [USER] and [r["actor"] for r in cli_rows] == [
        FACILITATOR
    ]
    assert [{**r, "actor": None} for r in web_rows] == [{**r, "actor": None} for r in cli_rows]
    assert (web_rows[0]["event"], web_rows[0]["from_stage"], web_rows[0]["to_stage"]) == (
        "identify", None, "identification",
    )  # fmt: skip

    # The confirmation says what was created and by whom, and leads to the clause.
    shown = site.get(done.headers["location"])
    text = visible(shown.text)
    lot = f"Lot {fields['lot_number']}" if fields.get("lot_number") else "Lot unique"
    assert (
        f"{lot} – {fields['title']} ajouté au marché 2026-014{NBSP}: clause n°{NBSP}{clause_id}, "
        f"à l'étape {q('Repérage')}."
    ) in text
    assert hours_said in text.replace("\u202f", " ").replace(NBSP, " ")
    assert f"Inscrit à l'historique de la clause au nom de {USER}." in text
    assert f'href="/clauses/{clause_id}"' in shown.text
    assert "Ajouter un autre lot à ce marché" in text
    assert site.get(f"/clauses/{clause_id}").status_code == 200


def test_the_computed_hours_are_the_calculation_of_the_typed_figures(
    app: App, site: TestClient, territory: dict[str, int]
) -> None:
    csrf = sign_in(site)
    market = territory["web"]
    site.post(
        form_path(market),
        data={"csrf": csrf, "title": "Gros œuvre", "amount": "3 780 000,00",
              "labour_share": "0,35", "rate": "5 %", "hourly_cost": "28,50"},
    )  # fmt: skip
    clause = clause_of(app, market)
    # 3 780 000 × 0,35 × 0,05 ÷ 28,5 = 2 321,05…: rounded down.
    assert clause["hours_computed"] == 2321
    assert (str(clause["labour_share"]), str(clause["insertion_rate"])) in (
        ("0.35", "0.05"), ("0.350000", "0.050000"),
    )  # fmt: skip
    assert clause["hours_override"] is None and clause["stage"] == "identification"


# --- refusals -------------------------------------------------------------------------------------

#: (fields typed beside the title « Gros œuvre », the refusal the page shows)
REFUSALS = [
    pytest.param(
        {"rate": "abc"},
        f"Taux d'insertion{NBSP}: {q('abc')} n'est pas un nombre.",
        id="rate-not-a-number",
    ),
    pytest.param(
        {"title": ""},
        f"Intitulé du lot{NBSP}: une valeur est nécessaire.",
        id="title-missing",
    ),
    pytest.param(
        {"hours": "1200"},
        f"Heures imposées{NBSP}: indiquez la raison (champ {q('Raison des heures imposées')}).",
        id="hours-without-reason",
    ),
    pytest.param(
        {"hours_reason": "Avenant n° 2"},
        f"Raison des heures imposées{NBSP}: elle accompagne des heures imposées",
        id="reason-without-hours",
    ),
    pytest.param(
        {"labour_share": "150"},
        f"Part de main-d'œuvre{NBSP}: {q('150')} doit être compris entre 0 (exclu) et 1",
        id="share-above-one",
    ),
    pytest.param(
        {"amount": "0"},
        f"Montant HT{NBSP}: {q('0')} doit être strictement positif.",
        id="amount-zero",
    ),
    pytest.param(
        {"hourly_cost": "28,555"},
        f"Coût horaire chargé{NBSP}: {q('28.555')} a plus de deux décimales",
        id="cost-past-the-cent",
    ),
    pytest.param(
        {"planned_notification": "31/02/2026"},
        f"Notification prévue du marché{NBSP}: {q('31/02/2026')} n'est pas une date (jj/mm/aaaa).",
        id="date-that-does-not-exist",
    ),
    pytest.param(
        {"due_day": "31"},
        f"Jour d'échéance des déclarations{NBSP}: 31 doit être entre 1 et 28.",
        id="due-day-past-28",
    ),
    pytest.param(
        {"reminder_offsets": "7,3"},
        f"Jours de rappel {q('7,3')}{NBSP}: jours ouvrés croissants et positifs",
        id="reminders-not-rising",
    ),
    pytest.param(
        {"reminder_offsets": "3,15", "escalation_offset": "10"},
        "Choisissez un signalement plus tardif (champ "
        + q("Délai de signalement au donneur d'ordre")
        + ")",
        id="reminder-after-escalation",
    ),
    pytest.param(
        {"lot_number": "01"},
        f"Le lot 01 du marché {q('2026-014')} existe déjà",
        id="lot-number-taken",
    ),
]


@pytest.mark.parametrize(("fields", "said"), REFUSALS)
def test_a_refused_lot_names_the_field_keeps_what_was_typed_and_writes_nothing(
    app: App,
    site: TestClient,
    settings: Settings,
    clock: Clock,
    territory: dict[str, int],
    fields: dict[str, str],
    said: str,
) -> None:
    csrf = sign_in(site)
    market = territory["web"]
    add_lot(app, market, "01", "Lot déjà saisi")  # « lot-number-taken » meets it
    add_lot(app, territory["cli"], "01", "Lot déjà saisi")
    typed = {"title": "Gros œuvre", "trade": "Maçonnerie", "amount": "1 000 000", **fields}
    before = dump(app)

    refused = site.post(form_path(market), data={"csrf": csrf, **typed})

    assert refused.status_code == 422
    text = visible(refused.text)
    assert "Ajout refusé" in text and "Rien n'a été enregistré." in text
    assert said in text, text
    for name, value in typed.items():
        assert value_of(refused.text, name) == value.replace("'", "&#39;")
    assert dump(app) == before
    # The command refuses the same words: one set of rules.
    ran = run_lot_add(settings, clock, "--market", "2026-015", *options(typed))
    assert ran.exit_code != 0, ran.output
    assert dump(app) == before


# --- the CSRF token, the login, a market gone -----------------------------------------------------


def test_without_login_or_token_no_lot_is_added(
    app: App, site: TestClient, territory: dict[str, int]
) -> None:
    market = territory["web"]
    data = {"title": "Gros œuvre", "amount": "1 000 000"}
    asked = site.get(form_path(market), follow_redirects=False)
    assert asked.status_code == 303
    assert (
        asked.headers["location"] == f"/connexion?suite=%2Fcorrections%2Fmarches%2F{market}%2Flot"
    )
    before = dump(app)
    anonymous = site.post(form_path(market), data=data, follow_redirects=False)
    assert anonymous.headers["location"].startswith("/connexion")
    assert dump(app) == before

    csrf = sign_in(site)
    before = dump(app)  # her session is one more row
    for token in ("", "faux" + csrf, csrf[:-1]):
        refused = site.post(form_path(market), data={**data, "csrf": token})
        assert refused.status_code == 403
        assert "Le jeton de sécurité du formulaire manque" in visible(refused.text)
    assert dump(app) == before

    gone = site.post(form_path(999999), data={**data, "csrf": csrf})
    assert gone.status_code == 404
    assert site.get(form_path(999999)).status_code == 404
    assert dump(app) == before


def test_the_confirmation_tells_only_a_lot_of_this_market(
    app: App, site: TestClient, territory: dict[str, int]
) -> None:
    sign_in(site)
    other = add_lot(app, territory["cli"], "01", "Lot d'un autre marché")
    page = visible(site.get(f"{form_path(territory['web'])}?ajout={other}").text)
    assert "ajouté au marché" not in page and "Ajouter un lot à ce marché" in page
    for junk in ("abc", "99999999999999999999", "-1"):
        assert site.get(f"{form_path(territory['web'])}?ajout={junk}").status_code == 200


# --- from « Créer une fiche » ---------------------------------------------------------------------


def test_new_record_page_leads_to_the_markets_lot_form(
    app: App, site: TestClient, territory: dict[str, int]
) -> None:
    sign_in(site)
    page = site.get("/corrections/nouveau").text
    assert "s'ajoutent par un tableau des lots" not in page  # no longer import-only
    assert 'action="/corrections/nouveau/lot"' in page and 'href="#lot"' in page

    for typed in ("2026-014", str(territory["web"]), " 2026-014 "):
        going = site.get("/corrections/nouveau/lot", params={"marche": typed},
                         follow_redirects=False)  # fmt: skip
        assert going.status_code == 303
        assert going.headers["location"] == form_path(territory["web"])

    before = dump(app)
    unknown = site.get("/corrections/nouveau/lot", params={"marche": "2099-999"})
    assert unknown.status_code == 422
    assert f"Marché {q('2099-999')} introuvable." in visible(unknown.text)
    assert value_of(unknown.text, "marche") == "2099-999"
    empty = site.get("/corrections/nouveau/lot", params={"marche": ""})
    assert empty.status_code == 422
    assert f"Marché{NBSP}: indiquez son N° ou sa référence" in visible(empty.text)
    assert dump(app) == before
