"""The corrections of contacts, correspondents, operations and participants on the dashboard
(/corrections), over the real ASGI application and the real App, on SQLite and PostgreSQL.

As for the other records (test_web_corrections): every form's POST is checked against the
application function the command line calls, run on a twin record with the same values, and
both leave the same history rows, with the signed-in user as the actor and the reason given. A
refusal says why in French, names the field, keeps what was typed (422) and changes nothing; a
POST without the session's CSRF token does nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration.test_corrections import (
    add_buyer,
    add_company,
    add_correspondent,
    add_lot,
    add_market,
    add_operation,
    dump,
)
from tests.integration.test_declaration_howto import lot_01
from tests.integration.test_declarations import start_sample
from tests.integration.test_online_declaration import CALLED, TWO_PEOPLE, call_link, form
from tests.integration.test_web_corrections import (
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
    BuyerContact,
    Correspondent,
    Operation,
    OutboxMessage,
    Participant,
    RecordHistory,
)
from workflow.app import corrections, participants, web_accounts
from workflow.bootstrap import App
from workflow.domain.vocabulary import Criterion, Sex
from workflow.entrypoints.web.site import create_site
from workflow.services.ticks import run_pass


@pytest.fixture
def site(app: App, clock: Clock) -> TestClient:
    """The sample territory called for April, lot 01's holder's April declared (P-WEB-1 and
    P-WEB-2), Léa's account (test_web_corrections' own site)."""
    start_sample(app)
    clock.set(CALLED)
    run_pass(app, CALLED)
    clause_id, holder_id, _ = lot_01(app)
    client = TestClient(create_site(app))
    client.post(call_link(app, clause_id, holder_id), data=form(TWO_PEOPLE, "confirmer"))
    web_accounts.add_user(app, login="lea", name=USER, password=PASSWORD)
    return client


def add_contact(app: App, buyer_id: int, name: str, email: str, **values: Any) -> int:
    with app.transaction() as session:
        contact = BuyerContact(buyer_id=buyer_id, name=name, email=email, **values)
        session.add(contact)
        session.flush()
        return contact.id


def participant_id(app: App, reference: str) -> int:
    with app.transaction() as session:
        return session.scalars(
            select(Participant.id).where(Participant.reference == reference)
        ).one()


def first_correspondent(app: App, company_id: int) -> int:
    with app.transaction() as session:
        return (
            session.scalars(
                select(Correspondent.id)
                .where(Correspondent.company_id == company_id)
                .order_by(Correspondent.id)
            ).first()
            or 0
        )


def numbers_out(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The rows but for the N° of what they name (a twin record has its own)."""
    return [tuple(re.sub(r"\d+", "N", str(v)) for v in row[:5]) + row[5:] for row in rows]


# --- the login and the CSRF token ---------------------------------------------------------------


def test_the_pages_are_behind_the_login_and_a_post_without_its_token_changes_nothing(
    app: App, site: TestClient
) -> None:
    buyer = add_buyer(app, "Office de l'habitat")
    contact = add_contact(app, buyer, "Anne Durand", "anne@example.org")
    operation = add_operation(app, buyer, "Résidence")
    person = first_correspondent(app, lot_01(app)[1])
    participant = participant_id(app, "P-WEB-1")
    pages = (
        f"/corrections/contacts/{contact}",
        f"/corrections/correspondants/{person}",
        f"/corrections/operations/{operation}",
        f"/corrections/participants/{participant}",
    )
    for path in pages:
        assert site.get(path, follow_redirects=False).headers["location"].startswith("/connexion")
    posts = {
        f"/corrections/contacts/{contact}": {"name": "Anne Martin"},
        f"/corrections/contacts/{contact}/suppression": {"reason": "essai"},
        f"/corrections/correspondants/{person}": {"phone": "05 62 00 00 00"},
        f"/corrections/operations/{operation}/suppression": {},
        f"/corrections/participants/{participant}": {"sex": "M", "birth_year": "1990"},
        f"/corrections/participants/{participant}/validation": {"proof": "Attestation"},
    }
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


# --- finding them -------------------------------------------------------------------------------


def test_the_search_and_the_owners_pages_lead_to_each_form(app: App, site: TestClient) -> None:
    sign_in(site)
    clause_id, company, _ = lot_01(app)
    person = first_correspondent(app, company)
    buyer = add_buyer(app, "Office de l'habitat")
    contact = add_contact(app, buyer, "Anne Durand", "anne.durand@example.org")
    operation = add_operation(app, buyer, "Résidence des Tilleuls")
    participant = participant_id(app, "P-WEB-1")

    found = site.get("/corrections", params={"q": "sophie.lacoste@example.org"}).text
    assert f'href="/corrections/correspondants/{person}"' in found
    assert f'href="/corrections/entreprises/{company}"' in found  # and its owner's page
    assert (
        f'href="/corrections/contacts/{contact}"'
        in site.get("/corrections", params={"q": "anne.durand"}).text
    )
    assert (
        f'href="/corrections/operations/{operation}"'
        in site.get("/corrections", params={"q": "tilleuls"}).text
    )
    assert (
        f'href="/corrections/participants/{participant}"'
        in site.get("/corrections", params={"q": "P-WEB-1"}).text
    )
    # The command line is no longer the only way: the page says what is corrected here.
    page = visible(site.get("/corrections").text)
    assert "Correspondant d'une entreprise" in page and "Participant" in page
    assert "en ligne de commande" not in page

    assert (
        f'href="/corrections/correspondants/{person}"'
        in site.get(f"/corrections/entreprises/{company}").text
    )
    owner = site.get(f"/corrections/donneurs-d-ordre/{buyer}").text
    assert f'href="/corrections/contacts/{contact}"' in owner
    assert f'href="/corrections/operations/{operation}"' in owner
    lot = site.get(f"/corrections/lots/{clause_id}").text
    assert f'href="/corrections/participants/{participant}"' in lot
    assert "P-WEB-1 – 151,67\u00a0h" in visible(lot)
    assert re.search(r'href="/corrections/operations/\d+"', lot)


# --- contacts, correspondents, operations: edits ------------------------------------------------


def test_a_contact_corrected_from_its_form_leaves_the_row_the_command_leaves(
    app: App, site: TestClient
) -> None:
    csrf = sign_in(site)
    buyer, twin_buyer = add_buyer(app, "Office A"), add_buyer(app, "Office B")
    contact = add_contact(app, buyer, "Anne Durand", "anne@example.org", role="Chargée")
    twin = add_contact(app, twin_buyer, "Anne Durand", "anne@example.org", role="Chargée")

    shown = site.get(f"/corrections/contacts/{contact}").text
    assert value_of(shown, "name") == "Anne Durand"
    assert value_of(shown, "email") == "anne@example.org"
    assert value_of(shown, "role") == "Chargée"
    assert f'href="/corrections/donneurs-d-ordre/{buyer}"' in shown  # where it belongs
    start = last_id(app, RecordHistory)
    done = site.post(
        f"/corrections/contacts/{contact}",
        data={"csrf": csrf, "name": "Anne Durand", "email": "anne.durand@example.org",
              "phone": "05 62 00 00 00", "role": "", "clear_role": "1",
              "reason": "nouvelle adresse"},
        follow_redirects=False,
    )  # fmt: skip
    assert done.status_code == 303, visible(done.text)
    web_rows = record_rows(app, start)
    start = last_id(app, RecordHistory)
    corrections.edit_contact(
        app, twin, email="anne.durand@example.org", phone="05 62 00 00 00", role="",
        reason="nouvelle adresse", actor=USER,
    )  # fmt: skip
    assert web_rows == record_rows(app, start) and len(web_rows) == 1
    assert web_rows[0][0:2] == ("buyer_contact", "buyer")
    assert web_rows[0][5:7] == ("nouvelle adresse", USER)
    with app.transaction() as session:
        saved = session.get_one(BuyerContact, contact)
        assert (saved.email, saved.phone, saved.role) == (
            "anne.durand@example.org",
            "05 62 00 00 00",
            "",
        )
    page = visible(site.get(done.headers["location"]).text)
    assert f"Contact corrigé : e-mail {q('anne@example.org')} → {q('anne.durand@example.org')}" in (
        page
    )
    assert "Motif : nouvelle adresse" in page
    # Its own history, and its buyer's card, tell the correction.
    assert "Historique des corrections" in page and USER in page
    buyer_page = visible(site.get(f"/corrections/donneurs-d-ordre/{buyer}").text)
    assert f"contact n° {contact}" in buyer_page


def test_a_correspondent_and_an_operation_corrected_leave_the_commands_rows(
    app: App, site: TestClient
) -> None:
    csrf = sign_in(site)
    company, twin_company = add_company(app, "Maçons du Gers"), add_company(app, "Maçons bis")
    person = add_correspondent(app, company, "Paul Roux", "paul@example.org")
    twin_person = add_correspondent(app, twin_company, "Paul Roux", "paul@example.org")
    buyer, twin_buyer = add_buyer(app, "Commune A"), add_buyer(app, "Commune B")
    operation, twin_operation = (
        add_operation(app, buyer, "École"),
        add_operation(app, twin_buyer, "École"),
    )

    cases: list[tuple[str, int, dict[str, str], Any, int, dict[str, str]]] = [
        ("correspondants", person, {"name": "Paul Roux", "email": "p.roux@example.org",
         "phone": "06 00 00 00 00"}, corrections.edit_correspondent, twin_person,
         {"email": "p.roux@example.org", "phone": "06 00 00 00 00"}),
        ("operations", operation, {"name": "École maternelle", "place": "Auch"},
         corrections.edit_operation, twin_operation, {"name": "École maternelle", "place": "Auch"}),
    ]  # fmt: skip
    for slug, record, data, edit, twin, same in cases:
        assert site.get(f"/corrections/{slug}/{record}").status_code == 200
        start = last_id(app, RecordHistory)
        done = site.post(
            f"/corrections/{slug}/{record}",
            data={"csrf": csrf, **data, "reason": "faute de frappe"},
            follow_redirects=False,
        )
        assert done.status_code == 303, visible(done.text)
        web_rows = record_rows(app, start)
        start = last_id(app, RecordHistory)
        edit(app, twin, **same, reason="faute de frappe", actor=USER)
        assert web_rows == record_rows(app, start) and len(web_rows) == 1
        assert web_rows[0][6] == USER
        page = visible(site.get(done.headers["location"]).text)
        assert "corrigé" in page and "Motif : faute de frappe" in page
    with app.transaction() as session:
        assert session.get_one(Correspondent, person).email == "p.roux@example.org"
        assert session.get_one(Operation, operation).place == "Auch"
    # The same values again: nothing to change, nothing written.
    start = last_id(app, RecordHistory)
    unchanged = site.post(
        f"/corrections/operations/{operation}",
        data={"csrf": csrf, "name": "École maternelle", "place": "Auch"},
    )
    assert f"Rien à changer : l'opération n° {operation} a déjà ces valeurs." in visible(
        unchanged.text
    )
    assert record_rows(app, start) == []


def test_a_refused_edit_shows_the_french_message_and_what_was_typed(
    app: App, site: TestClient
) -> None:
    csrf = sign_in(site)
    buyer = add_buyer(app, "Office A")
    contact = add_contact(app, buyer, "Anne Durand", "anne@example.org")
    operation = add_operation(app, buyer, "École")
    add_operation(app, buyer, "Gymnase")
    before = dump(app)

    bad = site.post(
        f"/corrections/contacts/{contact}",
        data={"csrf": csrf, "name": "Anne", "email": "pas-une-adresse", "role": "Directrice"},
    )
    assert bad.status_code == 422
    text = visible(bad.text)
    assert "E-mail du contact" in text and "Rien n'a été modifié." in text
    assert value_of(bad.text, "email") == "pas-une-adresse"
    assert value_of(bad.text, "name") == "Anne" and value_of(bad.text, "role") == "Directrice"

    # A telephone number is what someone will dial: a word or an address there is refused too.
    not_a_number = site.post(
        f"/corrections/contacts/{contact}",
        data={"csrf": csrf, "name": "Anne Durand", "email": "anne@example.org",
              "phone": "anne.durand@example.org", "role": ""},
    )  # fmt: skip
    assert not_a_number.status_code == 422
    said = visible(not_a_number.text)
    assert "Téléphone du contact" in said and "n'est pas un numéro de téléphone" in said
    assert value_of(not_a_number.text, "phone") == "anne.durand@example.org"
    assert "Rien n'a été modifié." in said

    twice = site.post(
        f"/corrections/operations/{operation}", data={"csrf": csrf, "name": "Gymnase"}
    )
    assert twice.status_code == 422
    assert f"du même donneur d'ordre s'appelle déjà {q('Gymnase')}" in visible(twice.text)
    assert value_of(twice.text, "name") == "Gymnase"
    assert dump(app) == before

    for path in ("/corrections/contacts/999999", "/corrections/correspondants/999999",
                 "/corrections/operations/999999", "/corrections/participants/999999"):  # fmt: skip
        unknown = site.get(path)
        assert unknown.status_code == 404 and "Fiche introuvable" in visible(unknown.text)
    assert "Aucun contact n° 999999" in visible(site.get("/corrections/contacts/999999").text)
    assert site.post("/corrections/contacts/999999", data={"csrf": csrf}).status_code == 404
    assert dump(app) == before


# --- deletions ----------------------------------------------------------------------------------


def test_deletions_leave_the_commands_rows_and_are_refused_where_the_command_refuses(
    app: App, site: TestClient
) -> None:
    csrf = sign_in(site)
    buyer, twin_buyer = add_buyer(app, "Office A"), add_buyer(app, "Office B")
    contact = add_contact(app, buyer, "Anne Durand", "anne@example.org")
    twin_contact = add_contact(app, twin_buyer, "Anne Durand", "anne@example.org")
    # Not their buyers' last contacts (test_the_last_contact_… deletes one).
    for owner in (buyer, twin_buyer):
        add_contact(app, owner, "Marc Petit", "marc@example.org")
    company, twin_company = add_company(app, "Maçons A"), add_company(app, "Maçons B")
    person = add_correspondent(app, company, "Paul Roux", "paul@example.org")
    twin_person = add_correspondent(app, twin_company, "Paul Roux", "paul@example.org")
    operation = add_operation(app, buyer, "École")
    twin_operation = add_operation(app, twin_buyer, "École")

    cases: list[tuple[str, int, Callable[..., object], int, str]] = [
        ("contacts", contact, corrections.delete_contact, twin_contact,
         f"Contact n° {contact} {q('Anne Durand <anne@example.org>')} supprimé"),
        ("correspondants", person, corrections.delete_correspondent, twin_person,
         f"Correspondant n° {person} {q('Paul Roux <paul@example.org>')} supprimé"),
        ("operations", operation, corrections.delete_operation, twin_operation,
         f"Opération n° {operation} {q('École')} supprimée"),
    ]  # fmt: skip
    for slug, record, delete, twin, said in cases:
        start = last_id(app, RecordHistory)
        done = site.post(
            f"/corrections/{slug}/{record}/suppression",
            data={"csrf": csrf, "reason": "saisi par erreur"},
        )
        assert done.status_code == 200, visible(done.text)
        page = visible(done.text)
        assert said in page and "Motif : saisi par erreur" in page
        web_rows = record_rows(app, start)
        start = last_id(app, RecordHistory)
        delete(app, twin, reason="saisi par erreur", actor=USER)
        app_rows = record_rows(app, start)
        assert len(web_rows) == 1 and web_rows[0][2] == "delete" and web_rows[0][6] == USER
        assert numbers_out(web_rows) == numbers_out(app_rows)
        # Its address now says where it went.
        gone = site.get(f"/corrections/{slug}/{record}")
        assert gone.status_code == 404 and "n'existe plus" in visible(gone.text)
    with app.transaction() as session:
        assert session.get(BuyerContact, contact) is None
        assert session.get(Correspondent, person) is None
        assert session.get(Operation, operation) is None

    # Refused: a correspondent an award uses, an operation with a market.
    holder = lot_01(app)[1]
    used = first_correspondent(app, holder)
    with_market = add_operation(app, buyer, "Gymnase")
    market = add_market(app, with_market, "M-9")
    before = dump(app)
    refused = site.post(
        f"/corrections/correspondants/{used}/suppression",
        data={"csrf": csrf, "reason": "parti"},
    )
    assert refused.status_code == 422
    text = visible(refused.text)
    assert "Suppression refusée" in text and "attribution" in text
    assert "Rien n'a été modifié." in text and "parti" in refused.text
    assert "clauses company" not in text  # the web's words, not a command
    kept = site.post(
        f"/corrections/operations/{with_market}/suppression", data={"csrf": csrf, "reason": ""}
    )
    assert kept.status_code == 422 and "marché" in visible(kept.text)
    assert f"n° {market}" in visible(kept.text)
    assert dump(app) == before


LASBORDES = "Commune de Saint-Élix-Theux"
LAST_WARNING = (
    f"C'est le seul contact de {LASBORDES}\u00a0: sans contact, ses avis d'étape attendront "
    "qu'un contact soit ajouté et ses synthèses ne partiront plus. Ajoutez d'abord un autre contact."
)
BOX = "Je supprime quand même le dernier contact"


def identified_notices(app: App, buyer_id: int, operation: str) -> list[str]:
    """The « Clause d'insertion repérée » notices queued for the lots of a new market of
    ``buyer_id``'s (one lot added: the notice its identification queues, if any)."""
    market = add_market(app, add_operation(app, buyer_id, operation), f"M-{operation}")
    clause = add_lot(app, market, "01", "Gros œuvre")
    with app.transaction() as session:
        return list(
            session.scalars(
                select(OutboxMessage.recipients).where(
                    OutboxMessage.clause_id == clause, OutboxMessage.kind == "notice_identified"
                )
            )
        )


def test_the_last_contact_is_deleted_only_once_confirmed_and_its_buyer_page_says_so(
    app: App, site: TestClient
) -> None:
    csrf = sign_in(site)
    buyer, twin_buyer = add_buyer(app, LASBORDES), add_buyer(app, "Commune de Saramon")
    contact = add_contact(app, buyer, "Anne Durand", "mairie@lasbordes.example")
    twin = add_contact(app, twin_buyer, "Anne Durand", "mairie@lasbordes.example")
    # While it has a contact, a lot identified for the buyer tells the contact.
    assert any(
        "mairie@lasbordes.example" in to for to in identified_notices(app, buyer, "Salle des fêtes")
    )

    # The contact's page says it is the last one before anything is deleted.
    page = visible(site.get(f"/corrections/contacts/{contact}").text)
    assert LAST_WARNING in page
    assert "clauses buyer contact-add" not in page
    assert (
        f'href="/corrections/donneurs-d-ordre/{buyer}#ajout-contact"'
        in site.get(f"/corrections/contacts/{contact}").text
    )
    assert "Motif de la suppression (facultatif, gardé à l'historique)" in page
    # A contact that is not the last one is deleted as before, without the warning.
    other = add_contact(app, twin_buyer, "Marc Petit", "marc@saramon.example")
    assert "C'est le seul contact" not in visible(site.get(f"/corrections/contacts/{other}").text)

    # Without the box: refused, nothing changed, asked again with the box and the reason kept.
    before = dump(app)
    asked = site.post(
        f"/corrections/contacts/{contact}/suppression",
        data={"csrf": csrf, "reason": "Partie à la retraite"},
    )
    assert asked.status_code == 422
    text = visible(asked.text)
    assert LAST_WARNING in text and f"cochez «\u00a0{BOX}\u00a0»" in text
    assert "Rien n'a été modifié" in text and "Partie à la retraite" in asked.text
    assert 'name="dernier"' in asked.text and 'name="confirmation"' in asked.text
    assert dump(app) == before
    # Sent again from that page, still without the box: refused the same way, naming it.
    again = site.post(
        f"/corrections/contacts/{contact}/suppression",
        data={"csrf": csrf, "reason": "Partie à la retraite", "confirmation": "1"},
    )
    assert again.status_code == 422
    assert f"La case «\u00a0{BOX}\u00a0» n'était pas cochée." in visible(again.text)
    assert dump(app) == before

    # With the box: deleted, the same row as the command's (which does not ask).
    start = last_id(app, RecordHistory)
    done = site.post(
        f"/corrections/contacts/{contact}/suppression",
        data={"csrf": csrf, "reason": "Partie à la retraite", "confirmation": "1", "dernier": "1"},
    )
    assert done.status_code == 200, visible(done.text)
    said = visible(done.text)
    assert f"Contact n° {contact}" in said and "Motif : Partie à la retraite" in said
    assert (
        f"{LASBORDES} n'a plus aucun contact\u00a0: ses synthèses ne partiront pas et ses avis "
        "d'étape attendront"
    ) in said
    web_rows = record_rows(app, start)
    start = last_id(app, RecordHistory)
    with app.transaction() as session:
        session.delete(session.get_one(BuyerContact, other))  # Saramon's contact is its last
    corrections.delete_contact(app, twin, reason="Partie à la retraite", actor=USER)
    app_rows = record_rows(app, start)
    assert len(web_rows) == 1 and web_rows[0][2] == "delete" and web_rows[0][6] == USER
    assert numbers_out(web_rows) == numbers_out(app_rows)
    with app.transaction() as session:
        assert session.get(BuyerContact, contact) is None
        assert session.get(BuyerContact, twin) is None

    # Since then a lot identified for the buyer queues no notice; its page says why.
    assert identified_notices(app, buyer, "École") == []
    owner = visible(site.get(f"/corrections/donneurs-d-ordre/{buyer}").text)
    assert (
        "Aucun contact\u00a0: les synthèses de ce donneur d'ordre ne partent pas et ses avis "
        "d'étape attendent"
    ) in owner


def test_a_buyer_with_contacts_has_no_warning_on_its_page(app: App, site: TestClient) -> None:
    sign_in(site)
    buyer = add_buyer(app, LASBORDES)
    add_contact(app, buyer, "Anne Durand", "mairie@lasbordes.example")
    page = visible(site.get(f"/corrections/donneurs-d-ordre/{buyer}").text)
    assert "Aucun contact" not in page and "mairie@lasbordes.example" in page


# --- participants -------------------------------------------------------------------------------


def test_a_participant_corrected_and_validated_leaves_the_rows_of_set_and_validate(
    app: App, site: TestClient
) -> None:
    csrf = sign_in(site)
    number = participant_id(app, "P-WEB-1")
    participants.add_participant(
        app, "P-TWIN-1", criterion=Criterion.LONG_TERM_JOBSEEKER, actor="test"
    )
    shown = site.get(f"/corrections/participants/{number}").text
    assert 'value="long_term_jobseeker" selected' in shown
    assert "Demandeur d'emploi de longue durée" in visible(shown)

    start = last_id(app, RecordHistory)
    done = site.post(
        f"/corrections/participants/{number}",
        data={"csrf": csrf, "sex": "F", "birth_year": "1987",
              "criterion": "long_term_jobseeker", "reason": "fiche de l'entreprise"},
    )  # fmt: skip
    assert done.status_code == 200, visible(done.text)
    web_rows = record_rows(app, start)
    start = last_id(app, RecordHistory)
    twin = participants.update_participant(
        app, "P-TWIN-1", sex=Sex.FEMALE, birth_year=1987, reason="fiche de l'entreprise",
        actor=USER,
    )  # fmt: skip
    assert web_rows == record_rows(app, start) and len(web_rows) == 1
    assert web_rows[0][0] == "participant" and web_rows[0][6] == USER
    page = visible(done.text)
    assert twin.message.replace("P-TWIN-1", "P-WEB-1") in page
    assert "Motif : fiche de l'entreprise" in page

    # A new criterion withdraws the validation: the message sends to the form, not the CLI.
    start = last_id(app, RecordHistory)
    first = site.post(
        f"/corrections/participants/{number}/validation",
        data={"csrf": csrf, "proof": "Attestation France Travail"},
    )
    assert first.status_code == 200, visible(first.text)
    participants.validate_eligibility(app, "P-TWIN-1", proof="Attestation France Travail")
    both = record_rows(app, start)
    assert len(both) == 2 and both[0][:6] == both[1][:6]
    assert both[0][6] == USER  # the web's row has its actor; the twin's the facilitator's
    changed = site.post(
        f"/corrections/participants/{number}",
        data={"csrf": csrf, "sex": "F", "birth_year": "1987", "criterion": "minimum_income"},
    )
    text = visible(changed.text)
    assert "Valider l'éligibilité" in text and "clauses participant validate" not in text
    start = last_id(app, RecordHistory)
    validated = site.post(
        f"/corrections/participants/{number}/validation",
        data={"csrf": csrf, "proof": "Attestation CAF RSA", "on": "2026-04-02",
              "reason": "vue en rendez-vous"},
    )  # fmt: skip
    assert validated.status_code == 200
    assert "Éligibilité de P-WEB-1 validée le 02/04/2026 : Attestation CAF RSA" in visible(
        validated.text
    )
    [row] = record_rows(app, start)
    assert row[5:7] == ("vue en rendez-vous", USER)
    with app.transaction() as session:
        saved = session.get_one(Participant, number)
        assert (saved.sex, saved.birth_year, saved.criterion) == ("F", 1987, "minimum_income")
        assert (saved.proof, saved.validated_on) == ("Attestation CAF RSA", date(2026, 4, 2))
    history = visible(site.get(f"/corrections/participants/{number}").text)
    assert "fiche de l'entreprise" in history and "vue en rendez-vous" in history
    # The form sent back as it shows the participant changes nothing and writes nothing.
    start = last_id(app, RecordHistory)
    same = site.post(
        f"/corrections/participants/{number}",
        data={"csrf": csrf, "sex": "F", "birth_year": "1987", "criterion": "minimum_income"},
    )
    assert "Rien à changer : le participant P-WEB-1 a déjà ces valeurs." in visible(same.text)
    assert record_rows(app, start) == []
    assert site.get("/corrections/participants/99999999999999999999").status_code == 404


def test_a_participants_refusals_name_the_field_and_keep_what_was_typed(
    app: App, site: TestClient
) -> None:
    csrf = sign_in(site)
    number = participant_id(app, "P-WEB-2")
    before = dump(app)
    year = site.post(
        f"/corrections/participants/{number}",
        data={"csrf": csrf, "sex": "M", "birth_year": "87", "criterion": "minimum_income"},
    )
    assert year.status_code == 422
    assert f"Année de naissance {q('87')} : indiquez l'année sur 4 chiffres" in visible(year.text)
    assert value_of(year.text, "birth_year") == "87"
    assert 'value="M" selected' in year.text
    young = site.post(
        f"/corrections/participants/{number}",
        data={"csrf": csrf, "birth_year": "2020", "criterion": "minimum_income"},
    )
    assert young.status_code == 422 and "Rien n'a été modifié." in visible(young.text)
    no_proof = site.post(
        f"/corrections/participants/{number}/validation",
        data={"csrf": csrf, "proof": " ", "on": ""},
    )
    assert no_proof.status_code == 422 and "Justificatif : " in visible(no_proof.text)
    bad_day = site.post(
        f"/corrections/participants/{number}/validation",
        data={"csrf": csrf, "proof": "Attestation", "on": "demain"},
    )
    assert bad_day.status_code == 422
    assert f"Date de validation {q('demain')}" in visible(bad_day.text)
    assert value_of(bad_day.text, "proof") == "Attestation"
    future = site.post(
        f"/corrections/participants/{number}/validation",
        data={"csrf": csrf, "proof": "Attestation", "on": "2099-01-01"},
    )
    assert future.status_code == 422
    assert dump(app) == before
