"""The records created from the correction pages (a buyer's contact, a company's correspondent,
a buyer, a company, an operation, a market), over the real ASGI application and the real App, on
SQLite and PostgreSQL.

Each form leaves what the command line's ``app.catalog`` leaves: the record, and one « création »
history row with the signed-in user (not the facilitator of the settings) as the actor. Done, it
leads to the record's correction page, which says what was added. A refusal says why in French,
names the field, keeps what was typed (422) and writes nothing; a POST without its CSRF token
does nothing.
"""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration.test_corrections import add_buyer, add_company, dump
from tests.integration.test_web_corrections import (
    NBSP,
    PASSWORD,
    USER,
    last_id,
    q,
    record_rows,
    sign_in,
    value_of,
)
from tests.text import visible
from workflow.adapters.orm import (
    Buyer,
    BuyerContact,
    Company,
    Correspondent,
    Market,
    Operation,
    RecordHistory,
)
from workflow.app import catalog, web_accounts
from workflow.bootstrap import App
from workflow.entrypoints.web.site import create_site


@pytest.fixture
def site(app: App, clock: Clock) -> TestClient:
    """An empty territory and Léa's account: what the forms create is all there is."""
    web_accounts.add_user(app, login="lea", name=USER, password=PASSWORD)
    return TestClient(create_site(app))


def creation_rows(app: App) -> list[RecordHistory]:
    with app.transaction() as session:
        rows = list(
            session.scalars(
                select(RecordHistory)
                .where(RecordHistory.action == "create")
                .order_by(RecordHistory.id)
            )
        )
        session.expunge_all()
        return rows


def location_row(response: object) -> int:
    """The N° of the history row a redirection's ``?ajout=`` names."""
    location = response.headers["location"]  # type: ignore[attr-defined]
    found = re.search(r"\?ajout=(\d+)#ajout$", location)
    assert found is not None, location
    return int(found.group(1))


# --- a buyer's contact ----------------------------------------------------------------------------


def test_a_contact_added_from_the_buyers_page_is_there_with_its_history_row(
    app: App, site: TestClient
) -> None:
    csrf = sign_in(site)
    buyer = add_buyer(app, "Office de l'habitat")  # the service alone: no row, as before
    page = site.get(f"/corrections/donneurs-d-ordre/{buyer}").text
    notice = visible(page)
    assert "Aucun contact" in notice and "clauses buyer contact-add" not in notice
    assert 'href="#ajout-contact"' in page and 'id="ajout-contact"' in page
    assert f'action="/corrections/donneurs-d-ordre/{buyer}/ajout"' in page

    start = last_id(app, RecordHistory)
    done = site.post(
        f"/corrections/donneurs-d-ordre/{buyer}/ajout",
        data={"csrf": csrf, "name": " Anne  Durand ", "email": "anne@example.org",
              "phone": "05 62 00 00 00", "role": "Chargée d'opération"},
        follow_redirects=False,
    )  # fmt: skip

    assert done.status_code == 303, visible(done.text)
    assert done.headers["location"].startswith(f"/corrections/donneurs-d-ordre/{buyer}?ajout=")
    with app.transaction() as session:
        [contact] = session.scalars(select(BuyerContact).where(BuyerContact.buyer_id == buyer))
        assert (contact.name, contact.email, contact.phone, contact.role) == (
            "Anne Durand", "anne@example.org", "05 62 00 00 00", "Chargée d'opération",
        )  # fmt: skip
        contact_id = contact.id
    [row] = [r for r in creation_rows(app) if r.id > start]
    assert row.id == location_row(done)
    assert (row.entity, row.entity_id, row.owner, row.owner_id, row.action, row.actor) == (
        "buyer_contact", contact_id, "buyer", buyer, "create", USER,
    )  # fmt: skip
    assert row.before is None and json.loads(row.after or "")["email"] == "anne@example.org"

    shown = visible(site.get(done.headers["location"]).text)
    assert (
        f"Contact n° {contact_id} ajouté{NBSP}: {q('Anne Durand')} – e-mail "
        f"{q('anne@example.org')}{NBSP}; téléphone {q('05 62 00 00 00')}{NBSP}; fonction "
        + q("Chargée d'opération")
        + "."
    ) in shown
    assert "Aucun contact" not in shown  # the notice is gone
    # The history tells it, by her.
    assert f"{USER} contact n° {contact_id} création {q('Anne Durand')}" in shown


def test_the_web_contact_leaves_the_row_the_command_leaves(app: App, site: TestClient) -> None:
    csrf = sign_in(site)
    buyer, twin = add_buyer(app, "Office A"), add_buyer(app, "Office B")
    start = last_id(app, RecordHistory)
    site.post(
        f"/corrections/donneurs-d-ordre/{buyer}/ajout",
        data={"csrf": csrf, "name": "Anne Durand", "email": "anne@example.org", "phone": "",
              "role": ""},
    )  # fmt: skip
    web_rows = record_rows(app, start)
    start = last_id(app, RecordHistory)
    catalog.add_buyer_contact(app, twin, name="Anne Durand", email="anne@example.org", actor=USER)
    cli_rows = record_rows(app, start)

    def ids_out(rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
        return [tuple(re.sub(r'"(id|buyer_id)": \d+', "N", str(v)) for v in r) for r in rows]

    assert ids_out(web_rows) == ids_out(cli_rows) and len(web_rows) == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "", "email": "anne@example.org"}, "Nom du contact : une valeur est nécessaire."),
        (
            {"name": "Anne Durand", "email": "anne@example"},
            f"E-mail du contact : {q('anne@example')} n'est pas une adresse e-mail",
        ),
    ],
)
def test_a_refused_contact_says_which_field_keeps_what_was_typed_and_writes_nothing(
    app: App, site: TestClient, data: dict[str, str], field: str
) -> None:
    csrf = sign_in(site)
    buyer = add_buyer(app, "Office de l'habitat")
    before = dump(app)

    refused = site.post(
        f"/corrections/donneurs-d-ordre/{buyer}/ajout",
        data={"csrf": csrf, "phone": "05 62 00 00 00", "role": "Acheteuse", **data},
    )

    assert refused.status_code == 422
    text = visible(refused.text)
    assert "Ajout refusé" in text and field.replace("«\u00a0", "« ").replace(
        "\u00a0»", " »"
    ) in text.replace("«\u00a0", "« ").replace("\u00a0»", " »")
    assert "Rien n'a été enregistré." in text
    assert value_of(refused.text, "email") == data["email"]
    assert value_of(refused.text, "role") == "Acheteuse"
    assert dump(app) == before


# --- a company's correspondent --------------------------------------------------------------------


def test_a_correspondent_added_from_the_companys_page(app: App, site: TestClient) -> None:
    csrf = sign_in(site)
    company = add_company(app, "Bâtiments du Sud-Ouest")
    assert f'action="/corrections/entreprises/{company}/ajout"' in (
        site.get(f"/corrections/entreprises/{company}").text
    )

    done = site.post(
        f"/corrections/entreprises/{company}/ajout",
        data={"csrf": csrf, "name": "Sophie Lacoste", "email": "sophie@example.org",
              "phone": "06 00 00 00 00"},
        follow_redirects=False,
    )  # fmt: skip

    assert done.status_code == 303
    with app.transaction() as session:
        [person] = session.scalars(select(Correspondent).where(Correspondent.company_id == company))
        person_id = person.id
    [row] = creation_rows(app)
    assert (row.entity, row.entity_id, row.owner, row.owner_id, row.actor) == (
        "correspondent", person_id, "company", company, USER,
    )  # fmt: skip
    shown = visible(site.get(done.headers["location"]).text)
    assert f"Correspondant n° {person_id} ajouté{NBSP}: {q('Sophie Lacoste')}" in shown

    before = dump(app)
    refused = site.post(
        f"/corrections/entreprises/{company}/ajout",
        data={"csrf": csrf, "name": "Paul", "email": "paul@@example.org", "phone": ""},
    )
    assert refused.status_code == 422
    assert "E-mail du correspondant" in visible(refused.text)
    assert value_of(refused.text, "name") == "Paul"
    assert dump(app) == before


# --- the login, the CSRF token, a record gone -----------------------------------------------------


def test_without_login_or_token_nothing_is_created(app: App, site: TestClient) -> None:
    buyer = add_buyer(app, "Office de l'habitat")
    company = add_company(app, "Bâtiments du Sud-Ouest")
    posts = {
        f"/corrections/donneurs-d-ordre/{buyer}/ajout": {"name": "A", "email": "a@example.org"},
        f"/corrections/entreprises/{company}/ajout": {"name": "B", "email": "b@example.org"},
        "/corrections/nouveau/donneur-d-ordre": {"name": "Commune de Lectoure"},
        "/corrections/nouveau/entreprise": {"name": "Menuiserie Gasconne"},
        "/corrections/nouveau/operation": {"name": "Piscine", "buyer": str(buyer)},
    }
    assert site.get("/corrections/nouveau", follow_redirects=False).headers["location"] == (
        "/connexion?suite=%2Fcorrections%2Fnouveau"
    )
    before = dump(app)
    for path, data in posts.items():
        response = site.post(path, data=data, follow_redirects=False)
        assert response.headers["location"].startswith("/connexion")
    csrf = sign_in(site)
    before = dump(app)  # her session is one more row
    for path, data in posts.items():
        for token in ("", "faux" + csrf):
            refused = site.post(path, data={**data, "csrf": token})
            assert refused.status_code == 403, path
            assert "Le jeton de sécurité du formulaire manque" in visible(refused.text)
    assert dump(app) == before
    gone = site.post(
        "/corrections/donneurs-d-ordre/999999/ajout",
        data={"csrf": csrf, "name": "A", "email": "a@example.org"},
    )
    assert gone.status_code == 404 and f"Donneur d'ordre {q('999999')} introuvable" in visible(
        gone.text
    )
    assert dump(app) == before


# --- /corrections/nouveau ---------------------------------------------------------------------------


def test_a_buyer_a_company_an_operation_and_a_market_are_created_from_the_new_page(
    app: App, site: TestClient
) -> None:
    csrf = sign_in(site)
    assert 'href="/corrections/nouveau"' in site.get("/corrections").text
    page = visible(site.get("/corrections/nouveau").text)
    for title in ("Nouveau donneur d'ordre", "Nouvelle entreprise", "Nouvelle opération",
                  "Nouveau marché"):  # fmt: skip
        assert title in page

    buyer_done = site.post(
        "/corrections/nouveau/donneur-d-ordre",
        data={"csrf": csrf, "name": "Commune de Lectoure", "kind": "Commune",
              "notices": "mensuel"},
        follow_redirects=False,
    )  # fmt: skip
    assert buyer_done.status_code == 303
    with app.transaction() as session:
        buyer = session.scalars(select(Buyer).where(Buyer.name == "Commune de Lectoure")).one()
        assert (buyer.kind, buyer.notice_preference) == ("Commune", "monthly_only")
        buyer_id = buyer.id
    assert buyer_done.headers["location"].startswith(f"/corrections/donneurs-d-ordre/{buyer_id}?")
    shown = visible(site.get(buyer_done.headers["location"]).text)
    assert (
        f"Donneur d'ordre n° {buyer_id} ajouté{NBSP}: {q('Commune de Lectoure')} – type "
        f"{q('Commune')}{NBSP}; avis {q('la synthèse mensuelle seulement')}."
    ) in shown
    assert "corrigé" not in shown

    company_done = site.post(
        "/corrections/nouveau/entreprise",
        data={"csrf": csrf, "name": "Menuiserie Gasconne", "siret": "732 829 320 00074",
              "city": "Auch"},
        follow_redirects=False,
    )  # fmt: skip
    with app.transaction() as session:
        company = session.scalars(select(Company)).one()
        assert (company.siret, company.city) == ("73282932000074", "Auch")
    assert company_done.headers["location"].startswith(f"/corrections/entreprises/{company.id}?")
    assert f"Entreprise n° {company.id} ajoutée{NBSP}:" in visible(
        site.get(company_done.headers["location"]).text
    )

    operation_done = site.post(
        "/corrections/nouveau/operation",
        data={"csrf": csrf, "name": "Salle des fêtes", "buyer": "commune de lectoure",
              "place": "Lectoure"},
        follow_redirects=False,
    )  # fmt: skip
    with app.transaction() as session:
        operation = session.scalars(select(Operation)).one()
        assert (operation.buyer_id, operation.place) == (buyer_id, "Lectoure")
    assert operation_done.headers["location"].startswith(f"/corrections/operations/{operation.id}?")
    assert f"Opération n° {operation.id} ajoutée{NBSP}: {q('Salle des fêtes')}" in visible(
        site.get(operation_done.headers["location"]).text
    )

    market_done = site.post(
        "/corrections/nouveau/marche",
        data={"csrf": csrf, "reference": "2026-031", "operation": str(operation.id),
              "title": "Rénovation"},
        follow_redirects=False,
    )  # fmt: skip
    with app.transaction() as session:
        market = session.scalars(select(Market)).one()
        assert (market.operation_id, market.title) == (operation.id, "Rénovation")
    market_page = site.get(market_done.headers["location"]).text
    assert f"Marché n° {market.id} ajouté{NBSP}: {q('2026-031')}" in visible(market_page)
    assert f'href="/corrections/marches/{market.id}"' in market_page
    # The market's own page shows its creation in its history.
    own = visible(site.get(f"/corrections/marches/{market.id}").text)
    assert "création" in own and USER in own

    # Four rows, each by her, each in its owner's history.
    rows = creation_rows(app)
    assert [(r.entity, r.owner, r.owner_id, r.actor) for r in rows] == [
        ("buyer", "buyer", buyer_id, USER),
        ("company", "company", company.id, USER),
        ("operation", "buyer", buyer_id, USER),
        ("market", "buyer", buyer_id, USER),
    ]


@pytest.mark.parametrize(
    ("which", "data", "said"),
    [
        ("donneur-d-ordre", {"name": "", "kind": "Commune", "notices": "chaque-etape"},
         "Nom du donneur d'ordre : une valeur est nécessaire."),
        ("entreprise", {"name": "Menuiserie", "siret": "123", "city": "Auch"},
         "SIRET « 123 » : 14 chiffres attendus"),
        ("operation", {"name": "Piscine", "buyer": "Inconnu", "place": ""},
         "Donneur d'ordre « Inconnu » introuvable."),
        ("marche", {"reference": "M-01", "operation": "1", "title": ""},
         "Opération « 1 » introuvable."),
    ],
)  # fmt: skip
def test_a_refused_new_record_keeps_its_form_and_writes_nothing(
    app: App, site: TestClient, which: str, data: dict[str, str], said: str
) -> None:
    csrf = sign_in(site)
    before = dump(app)

    refused = site.post(f"/corrections/nouveau/{which}", data={"csrf": csrf, **data})

    assert refused.status_code == 422
    text = visible(refused.text).replace("\u00a0", " ")
    assert "Ajout refusé" in text and said in text
    for name, value in data.items():
        if name != "notices":
            assert re.search(rf'id="{which}-{name}" name="{name}" value="{re.escape(value)}"',
                             refused.text), name  # fmt: skip
    assert dump(app) == before


def test_the_command_line_writes_the_creation_row_with_its_actor(app: App) -> None:
    """``clauses buyer add`` and the others, through app.catalog: the settings' facilitator."""
    buyer = catalog.add_buyer(app, "Gers Habitat", kind="Bailleur social")
    catalog.add_buyer_contact(app, buyer.id, name="Claire", email="claire@example.org")
    operation = catalog.add_operation(app, "Les Tilleuls", buyer=buyer.id)
    catalog.add_market(app, "M-01", operation=operation.id)
    company = catalog.add_company(app, "BTP Exemple")
    catalog.add_correspondent(app, company.id, name="Paul", email="paul@example.org")
    rows = creation_rows(app)
    assert [(r.entity, r.actor) for r in rows] == [
        ("buyer", app.settings.facilitator_name),
        ("buyer_contact", app.settings.facilitator_name),
        ("operation", app.settings.facilitator_name),
        ("market", app.settings.facilitator_name),
        ("company", app.settings.facilitator_name),
        ("correspondent", app.settings.facilitator_name),
    ]
