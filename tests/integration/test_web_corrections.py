"""The corrections of the dashboard (/corrections) over the real ASGI application and the real
App, on SQLite and PostgreSQL.

Every form's POST is checked against the application function the command line calls, run on a
twin record with the same values: both leave the same history rows (record_history,
clause_history), the signed-in user's name as the actor, the reason given. A refusal shows the
service's French message with what was typed (422) and leaves every table as it was; a POST
without the session's CSRF token does nothing; the signed-in user is not the facilitator of the
settings, so an actor defaulted by mistake would show.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.conftest import Clock
from tests.integration._ladders import declare, make_lot
from tests.integration.test_corrections import (
    add_buyer,
    add_company,
    add_lot,
    add_market,
    add_operation,
    dump,
)
from tests.integration.test_dashboard import login_token
from tests.integration.test_declaration_howto import lot_01
from tests.integration.test_declarations import start_sample
from tests.integration.test_online_declaration import CALLED, TWO_PEOPLE, call_link, form
from tests.text import visible
from workflow.adapters.orm import (
    AwardParty,
    BuyerContact,
    Clause,
    ClauseHistory,
    Company,
    Declaration,
    Operation,
    RecordHistory,
)
from workflow.app import clause_corrections, corrections, web_accounts
from workflow.app.clauses import advance_clause, clause_detail
from workflow.app.declarations import declaration_list
from workflow.bootstrap import App
from workflow.domain.stages import ClauseEvent
from workflow.entrypoints.web.site import create_site
from workflow.services.declaration_views import OWED_STATES
from workflow.services.declarations import cancellation_reason
from workflow.services.ticks import run_pass

PASSWORD = "un mot de passe assez long"
#: Not the facilitator of the settings (« Camille Martin »): the actor must come from the login.
USER = "Léa Roux"
APRIL = date(2026, 4, 1)
NBSP = "\u00a0"


def q(text: str) -> str:
    return f"«{NBSP}{text}{NBSP}»"


@pytest.fixture
def site(app: App, clock: Clock) -> TestClient:
    """The sample territory called for April, lot 01's holder's April declared, Léa's account."""
    start_sample(app)
    clock.set(CALLED)
    run_pass(app, CALLED)
    clause_id, holder_id, _ = lot_01(app)
    client = TestClient(create_site(app))
    client.post(call_link(app, clause_id, holder_id), data=form(TWO_PEOPLE, "confirmer"))
    web_accounts.add_user(app, login="lea", name=USER, password=PASSWORD)
    return client


def sign_in(client: TestClient) -> str:
    """Signs Léa in; the CSRF token of her session's forms."""
    response = client.post(
        "/connexion",
        data={"csrf": login_token(client), "identifiant": "lea", "mot_de_passe": PASSWORD},
        follow_redirects=False,
    )
    assert response.status_code == 303, visible(response.text)
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/corrections").text)
    assert found is not None
    return found.group(1)


def last_id(app: App, model: type[RecordHistory] | type[ClauseHistory]) -> int:
    with app.transaction() as session:
        return int(session.scalar(select(func.max(model.id))) or 0)


def record_rows(app: App, after: int) -> list[tuple[Any, ...]]:
    """The record history rows written after row ``after``, without the N° of what they are of
    (a twin record has its own)."""
    with app.transaction() as session:
        rows = session.scalars(
            select(RecordHistory).where(RecordHistory.id > after).order_by(RecordHistory.id)
        )
        return [
            (r.entity, r.owner, r.action, r.before, r.after, r.reason, r.actor, r.at) for r in rows
        ]


def clause_rows(app: App, after: int) -> list[tuple[Any, ...]]:
    with app.transaction() as session:
        rows = session.scalars(
            select(ClauseHistory).where(ClauseHistory.id > after).order_by(ClauseHistory.id)
        )
        return [(r.event, r.from_stage, r.to_stage, r.reason, r.actor, r.at) for r in rows]


def holder_id(app: App) -> int:
    return lot_01(app)[1]


def value_of(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found is not None, name
    return found.group(1)


# --- the login and the CSRF token ---------------------------------------------------------------


def test_the_pages_are_behind_the_login_and_a_post_without_its_token_changes_nothing(
    app: App, site: TestClient
) -> None:
    company = holder_id(app)
    clause_id = lot_01(app)[0]
    for path in (
        "/corrections",
        "/corrections?q=gascons",
        f"/corrections/entreprises/{company}",
        f"/corrections/entreprises/{company}/fusion?doublon=2",
        f"/corrections/lots/{clause_id}/annulation",
        f"/corrections/lots/{clause_id}/reouverture",
    ):
        assert site.get(path, follow_redirects=False).headers["location"].startswith("/connexion")
    posts = {
        f"/corrections/entreprises/{company}": {"city": "Condom", "reason": "essai"},
        "/corrections/donneurs-d-ordre/1": {"name": "Autre nom"},
        f"/corrections/entreprises/{company}/fusion": {"doublon": "2"},
        f"/corrections/lots/{clause_id}/annulation": {
            "entreprise": str(company),
            "mois": "2026-04",
            "reason": "essai",
        },
    }
    before = dump(app)
    for path, data in posts.items():
        response = site.post(path, data=data, follow_redirects=False)
        assert response.headers["location"].startswith("/connexion")
    csrf = sign_in(site)
    before = dump(app)
    for path, data in posts.items():
        for token in ("", "faux" + csrf):
            refused = site.post(path, data={**data, "csrf": token})
            assert refused.status_code == 403
            assert "Le jeton de sécurité du formulaire manque" in visible(refused.text)
    assert dump(app) == before


# --- finding the record -------------------------------------------------------------------------


def test_the_search_links_each_record_to_its_correction_form(app: App, site: TestClient) -> None:
    sign_in(site)
    clause_id, company, _ = lot_01(app)

    page = site.get("/corrections", params={"q": "gascons"}).text
    assert f'href="/corrections/entreprises/{company}"' in page
    assert "Bâtiments Gascons SARL (SIRET 41234567800012)" in visible(page)
    lots = site.get("/corrections", params={"q": "2026-014"}).text
    assert f'href="/corrections/lots/{clause_id}"' in lots
    assert re.search(r'href="/corrections/marches/\d+"', lots)
    # A correspondent is found by its address and leads to its company's page.
    person = site.get("/corrections", params={"q": "sophie.lacoste@example.org"}).text
    assert f'href="/corrections/entreprises/{company}"' in person
    assert "Fiche de son entreprise" in visible(person)
    # The page says what each form does.
    assert "fusionner un doublon" in visible(page)

    short = site.get("/corrections", params={"q": "a"})
    assert short.status_code == 422
    assert f"Recherche {q('a')} : donnez au moins 2 lettres ou chiffres." in visible(short.text)


# --- edits --------------------------------------------------------------------------------------


def test_a_company_corrected_from_its_form_leaves_the_row_the_command_leaves(
    app: App, site: TestClient
) -> None:
    csrf = sign_in(site)
    company = holder_id(app)
    twin = add_company(app, "Jumelle SARL")
    corrections.edit_company(app, twin, city="Auch", actor="test")

    shown = site.get(f"/corrections/entreprises/{company}").text
    # The form shows the current values; sent back as they are, they change nothing.
    assert value_of(shown, "name") == "Bâtiments Gascons SARL"
    assert value_of(shown, "siret") == "41234567800012"
    assert value_of(shown, "city") == "Auch"
    start = last_id(app, RecordHistory)
    done = site.post(
        f"/corrections/entreprises/{company}",
        data={"csrf": csrf, "name": "Bâtiments Gascons SARL", "siret": "41234567800012",
              "city": "Condom", "reason": "adresse du siège"},
        follow_redirects=False,
    )  # fmt: skip
    assert done.status_code == 303
    web_rows = record_rows(app, start)

    middle = last_id(app, RecordHistory)
    corrections.edit_company(app, twin, city="Condom", reason="adresse du siège", actor=USER)
    assert web_rows == record_rows(app, middle)
    assert web_rows[0][3:7] == ('{"city": "Auch"}', '{"city": "Condom"}', "adresse du siège", USER)

    page = visible(site.get(done.headers["location"]).text)
    assert f"Entreprise corrigée : ville {q('Auch')} → {q('Condom')}." in page
    assert "Motif : adresse du siège" in page
    assert value_of(site.get(done.headers["location"]).text, "city") == "Condom"

    # « Effacer » clears the SIRET, as --siret "" does; an emptied field changes nothing.
    start = last_id(app, RecordHistory)
    site.post(
        f"/corrections/entreprises/{company}",
        data={"csrf": csrf, "name": "", "siret": "41234567800012", "clear_siret": "1", "city": ""},
    )
    assert [(r[3], r[4]) for r in record_rows(app, start)] == [
        ('{"siret": "41234567800012"}', '{"siret": null}')
    ]
    same = site.post(
        f"/corrections/entreprises/{company}",
        data={"csrf": csrf, "name": "Bâtiments Gascons SARL", "city": "Condom"},
    )
    assert "Rien à changer : l'entreprise n° " in visible(same.text)


def test_a_buyer_a_market_and_a_lot_corrected_from_their_forms_leave_the_commands_rows(
    app: App, site: TestClient
) -> None:
    csrf = sign_in(site)
    buyer = add_buyer(app, "Office de l'habitat", kind="bailleur")
    twin_buyer = add_buyer(app, "Office jumeau", kind="bailleur")
    operation = add_operation(app, buyer, "Résidence")
    twin_operation = add_operation(app, twin_buyer, "Résidence")
    market, twin_market = add_market(app, operation, "M-1"), add_market(app, twin_operation, "M-2")
    corrections.edit_market(app, market, title="Travaux", actor="test")
    corrections.edit_market(app, twin_market, title="Travaux", actor="test")
    lot, twin_lot = (
        add_lot(app, market, "1", "Gros œuvre"),
        add_lot(app, twin_market, "1", "Gros œuvre"),
    )

    cases: list[tuple[str, dict[str, str], Any, int, dict[str, str]]] = [
        ("donneurs-d-ordre", {"name": "", "kind": "bailleur social"}, corrections.edit_buyer,
         twin_buyer, {"kind": "bailleur social"}),
        ("marches", {"reference": "M-1", "title": "Travaux neufs"}, corrections.edit_market,
         twin_market, {"title": "Travaux neufs"}),
        ("lots", {"title": "Gros œuvre, VRD", "lot_number": "1", "trade": "Maçonnerie"},
         corrections.edit_lot, twin_lot, {"title": "Gros œuvre, VRD", "trade": "Maçonnerie"}),
    ]  # fmt: skip
    for (slug, data, edit, twin, same), record in zip(cases, (buyer, market, lot), strict=True):
        assert site.get(f"/corrections/{slug}/{record}").status_code == 200
        start, clause_start = last_id(app, RecordHistory), last_id(app, ClauseHistory)
        done = site.post(
            f"/corrections/{slug}/{record}",
            data={"csrf": csrf, **data, "reason": "faute de frappe"},
            follow_redirects=False,
        )
        assert done.status_code == 303, visible(done.text)
        web_rows, web_clause = record_rows(app, start), clause_rows(app, clause_start)
        start, clause_start = last_id(app, RecordHistory), last_id(app, ClauseHistory)
        edit(app, twin, **same, reason="faute de frappe", actor=USER)
        assert web_rows == record_rows(app, start) and len(web_rows) == 1
        assert web_clause == clause_rows(app, clause_start)
        assert web_rows[0][6] == USER
        page = visible(site.get(done.headers["location"]).text)
        assert "corrigé : " in page and "Motif : faute de frappe" in page
    # The lot's correction is told in its clause's history too, by whom.
    assert web_clause and web_clause[0][0] == "lot" and web_clause[0][4] == USER


# --- refusals -----------------------------------------------------------------------------------


def test_a_refused_input_shows_the_french_message_and_the_values_typed_and_changes_nothing(
    app: App, site: TestClient
) -> None:
    csrf = sign_in(site)
    clause_id, company, partner = lot_01(app)
    before = dump(app)

    siret = site.post(
        f"/corrections/entreprises/{company}",
        data={
            "csrf": csrf,
            "name": "Bâtiments Gascons",
            "siret": "4123456780001",
            "city": "Gimont",
        },
    )
    assert siret.status_code == 422
    assert f"SIRET {q('4123456780001')} : 14 chiffres attendus" in visible(siret.text)
    assert "Rien n'a été modifié." in visible(siret.text)
    for name, typed in (
        ("name", "Bâtiments Gascons"),
        ("siret", "4123456780001"),
        ("city", "Gimont"),
    ):
        assert value_of(siret.text, name) == typed

    itself = site.post(
        f"/corrections/entreprises/{company}/fusion", data={"csrf": csrf, "doublon": str(company)}
    )
    assert itself.status_code == 422
    assert "donnez deux fiches différentes à fusionner" in visible(itself.text)
    preview = site.get(f"/corrections/entreprises/{company}/fusion", params={"doublon": company})
    assert preview.status_code == 422 and "deux fiches différentes" in visible(preview.text)

    no_reason = site.post(
        f"/corrections/lots/{clause_id}/annulation",
        data={"csrf": csrf, "entreprise": str(company), "mois": "2026-04", "reason": " "},
    )
    assert no_reason.status_code == 422
    assert f"indiquez le motif (champ {q('Motif')})" in visible(no_reason.text)
    assert 'value="2026-04"' in no_reason.text
    bad_month = site.post(
        f"/corrections/lots/{clause_id}/annulation",
        data={"csrf": csrf, "entreprise": str(company), "mois": "avril", "reason": "essai"},
    )
    assert bad_month.status_code == 422 and "Mois : " in visible(bad_month.text)
    not_declared = site.post(
        f"/corrections/lots/{clause_id}/annulation",
        data={"csrf": csrf, "entreprise": str(partner), "mois": "2026-04", "reason": "essai"},
    )
    assert not_declared.status_code == 422
    assert "rien à annuler" in visible(not_declared.text)
    not_abandoned = site.post(
        f"/corrections/lots/{clause_id}/reouverture", data={"csrf": csrf, "reason": "essai"}
    )
    assert not_abandoned.status_code == 422
    assert "seule une clause abandonnée se rouvre" in visible(not_abandoned.text)
    assert dump(app) == before

    for path in ("/corrections/entreprises/999999", "/corrections/lots/999999/annulation",
                 "/corrections/marches/999999", "/corrections/donneurs-d-ordre/999999"):  # fmt: skip
        unknown = site.get(path)
        assert unknown.status_code == 404 and "Fiche introuvable" in visible(unknown.text)
    assert "Aucune entreprise n° 999999" in visible(
        site.get("/corrections/entreprises/999999").text
    )
    assert site.get("/corrections/entreprises/abc").status_code == 404
    assert site.get("/corrections/entreprises/99999999999999999999").status_code == 404
    kept = site.get(f"/corrections/entreprises/{company}?fait=99999999999999999999")
    assert kept.status_code == 200 and "corrigée" not in visible(kept.text)
    posted = site.post("/corrections/entreprises/999999", data={"csrf": csrf, "city": "Auch"})
    assert posted.status_code == 404
    assert dump(app) == before


# --- merges -------------------------------------------------------------------------------------


def test_a_company_merge_is_previewed_then_moves_what_the_command_moves(
    app: App, site: TestClient
) -> None:
    csrf = sign_in(site)
    pairs = []
    for _ in range(2):
        kept = make_lot(app, companies=("Bâtiments du Sud",))
        moved = make_lot(app, companies=("Batiments du Sud SARL",))
        declare(app, moved, date(2026, 3, 1), CALLED)
        pairs.append((kept.company_ids[0], moved.company_ids[0], moved.clause_id))
    (kept, duplicate, clause_id), (twin_kept, twin_duplicate, _) = pairs
    before = dump(app)

    preview = site.get(f"/corrections/entreprises/{kept}/fusion", params={"doublon": duplicate})
    assert preview.status_code == 200
    shown = visible(preview.text)
    assert "Confirmer la fusion ?" in shown
    assert f"Passera au n° {kept} : 1 attribution, 1 déclaration" in shown
    assert "Le doublon, supprimé" in shown and "La fiche qui reste" in shown
    assert dump(app) == before  # the preview kept nothing

    start = last_id(app, RecordHistory)
    done = site.post(
        f"/corrections/entreprises/{kept}/fusion",
        data={"csrf": csrf, "doublon": str(duplicate), "reason": "doublon"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"].startswith(
        f"/corrections/entreprises/{kept}?fait="
    )
    web_rows = record_rows(app, start)
    start = last_id(app, RecordHistory)
    command = corrections.merge_companies(
        app, twin_duplicate, into=twin_kept, reason="doublon", actor=USER
    )
    app_rows = record_rows(app, start)

    # The same two rows, but for the N° of what they name.
    def numbers_out(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        return [tuple(re.sub(r"\d+", "N", str(v)) for v in row[:5]) + row[5:] for row in rows]

    assert numbers_out(web_rows) == numbers_out(app_rows) and len(web_rows) == 2
    assert [r[6] for r in web_rows] == [USER, USER]
    with app.transaction() as session:
        assert session.get(Company, duplicate) is None
        assert session.scalars(
            select(AwardParty.company_id).where(AwardParty.clause_id == clause_id)
        ).all() == [kept]
        assert session.scalars(
            select(Declaration.company_id).where(Declaration.clause_id == clause_id)
        ).all() == [kept]
    assert {m.what: len(m.ids) for m in command.moved}["declarations"] == 1
    page = visible(site.get(done.headers["location"]).text)
    assert (
        f"Fusion faite : doublon n° {duplicate} {q('Batiments du Sud SARL')} fusionné ici : 1 attribution, 1 déclaration"
        in page
    )
    # The duplicate's address now says where it went.
    gone = site.get(f"/corrections/entreprises/{duplicate}")
    assert gone.status_code == 404
    assert f"n'existe plus : elle a été fusionnée dans le n° {kept}" in visible(gone.text)


def test_a_buyer_merge_moves_operations_and_contacts_as_the_command_does(
    app: App, site: TestClient
) -> None:
    csrf = sign_in(site)
    pairs = []
    for n in range(2):
        kept = add_buyer(app, f"Gers Habitat {n}")
        duplicate = add_buyer(app, f"Gers-Habitat doublon {n}", kind="bailleur")
        add_operation(app, duplicate, "Les Tilleuls")
        with app.transaction() as session:
            session.add(BuyerContact(buyer_id=duplicate, name="Anne", email=f"anne{n}@example.org"))
        pairs.append((kept, duplicate))
    (kept, duplicate), (twin_kept, twin_duplicate) = pairs

    shown = visible(
        site.get(
            f"/corrections/donneurs-d-ordre/{kept}/fusion",
            params={"doublon": "Gers-Habitat doublon 0"},
        ).text
    )
    assert f"Passera au n° {kept} : 1 opération, 1 contact." in shown
    assert f"Complété sur le n° {kept} : type (vide) → {q('bailleur')}." in shown
    start = last_id(app, RecordHistory)
    done = site.post(
        f"/corrections/donneurs-d-ordre/{kept}/fusion",
        data={"csrf": csrf, "doublon": str(duplicate)},
        follow_redirects=False,
    )
    assert done.status_code == 303
    web_rows = record_rows(app, start)
    start = last_id(app, RecordHistory)
    corrections.merge_buyers(app, twin_duplicate, into=twin_kept, actor=USER)
    app_rows = record_rows(app, start)

    def numbers_out(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        return [tuple(re.sub(r"\d+", "N", str(v)) for v in row[:5]) + row[5:] for row in rows]

    assert numbers_out(web_rows) == numbers_out(app_rows)
    with app.transaction() as session:
        assert session.scalars(
            select(Operation.buyer_id)
            .where(Operation.name == "Les Tilleuls")
            .order_by(Operation.id)
        ).all() == [kept, twin_kept]


# --- a declaration cancelled, a clause reopened -----------------------------------------------


def test_a_cancelled_declaration_leaves_the_figures_and_the_month_is_expected_again(
    app: App, site: TestClient
) -> None:
    csrf = sign_in(site)
    clause_id, company, _ = lot_01(app)
    assert clause_detail(app, clause_id).hours_done == Decimal("186.67")
    with app.transaction() as session:
        number = session.scalars(select(Declaration.id)).one()

    lot = site.get(f"/corrections/lots/{clause_id}").text
    link = f"/corrections/lots/{clause_id}/annulation?entreprise={company}&amp;mois=2026-04"
    assert link in lot and "186,67\u00a0h" in visible(lot)
    form_page = site.get(link.replace("&amp;", "&")).text
    assert 'value="2026-04"' in form_page and f'value="{company}" selected' in form_page

    start = last_id(app, ClauseHistory)
    done = site.post(
        f"/corrections/lots/{clause_id}/annulation",
        data={"csrf": csrf, "entreprise": str(company), "mois": "2026-04",
              "reason": "Heures déclarées sur le mauvais lot"},
    )  # fmt: skip
    assert done.status_code == 200, visible(done.text)
    page = visible(done.text)
    assert (
        "Déclaration d'avril 2026 de Bâtiments Gascons SARL annulée (clause n° "
        f"{clause_id}) : 186,67\u00a0h retirées, 2 lignes." in page
    )
    assert "Le mois est de nouveau attendu" in page
    assert (
        "L'entreprise en est informée par courriel (sophie.lacoste@example.org) : le motif, "
        "et la date à laquelle déclarer de nouveau ce mois." in page
    )
    assert clause_rows(app, start) == [
        (
            "declaration_cancelled",
            "execution",
            "execution",
            cancellation_reason(
                number, APRIL, "Bâtiments Gascons SARL", Decimal("186.67"),
                "Heures déclarées sur le mauvais lot",
            ),
            USER,
            CALLED,
        )
    ]  # fmt: skip
    assert clause_detail(app, clause_id).hours_done == Decimal(0)
    [line] = declaration_list(app, clause=clause_id, company=company, month=APRIL).lines
    assert line.state in OWED_STATES


def test_a_clause_reopened_from_its_form_leaves_the_row_the_command_leaves(
    app: App, site: TestClient
) -> None:
    csrf = sign_in(site)
    with app.transaction() as session:
        waiting = session.scalars(
            select(Clause.id).where(Clause.stage == "identification").order_by(Clause.id)
        ).all()
    clause_id, twin = waiting[:2]
    for number in (clause_id, twin):
        advance_clause(app, number, ClauseEvent.ABANDON, reason="marché infructueux", actor="test")

    lot = visible(site.get(f"/corrections/lots/{clause_id}").text)
    assert "Rouvrir la clause" in lot
    empty = site.post(
        f"/corrections/lots/{clause_id}/reouverture", data={"csrf": csrf, "reason": ""}
    )
    assert empty.status_code == 422
    assert f"indiquez pourquoi la rouvrir (champ {q('Motif')})" in visible(empty.text)

    start = last_id(app, ClauseHistory)
    done = site.post(
        f"/corrections/lots/{clause_id}/reouverture",
        data={"csrf": csrf, "reason": "Consultation relancée"},
    )
    assert done.status_code == 200
    assert f"Clause n° {clause_id} rouverte : abandonnée → repérage (abandon annulé)." in visible(
        done.text
    )
    web_rows = clause_rows(app, start)
    start = last_id(app, ClauseHistory)
    clause_corrections.reopen_clause(app, twin, reason="Consultation relancée", actor=USER)
    assert web_rows == clause_rows(app, start)
    assert web_rows[0][0] == "reopen" and web_rows[0][4] == USER
