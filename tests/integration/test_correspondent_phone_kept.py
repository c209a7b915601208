"""A person renamed without a new phone keeps the former person's phone: the command says so, and
how to correct or clear it; ``--phone ""`` clears it."""

from __future__ import annotations

from datetime import UTC, datetime

from click.testing import CliRunner, Result
from fastapi.testclient import TestClient

from tests.integration.test_web_corrections import PASSWORD, USER, sign_in
from tests.text import squash, visible
from workflow.adapters.orm import Buyer, BuyerContact, Company, Correspondent
from workflow.app import web_accounts
from workflow.bootstrap import App
from workflow.entrypoints.cli import cli as cli_group
from workflow.entrypoints.cli.common import CliState
from workflow.entrypoints.web.site import create_site

NBSP = "\u00a0"


def cli(app: App, *args: str) -> Result:
    state = CliState()
    state.factory = lambda: app
    return CliRunner().invoke(cli_group, list(args), obj=state, catch_exceptions=False)


def said(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return squash(result.stdout).replace(NBSP, " ")


def people(app: App) -> tuple[int, int]:
    now = datetime(2026, 12, 1, 9, tzinfo=UTC)
    with app.transaction() as session:
        company = Company(name="EI Haddad", created_at=now)
        company.correspondents = [
            Correspondent(
                name="Karim Haddad", email="karim.haddad@example.org", phone="05 62 06 66 66"
            )
        ]
        buyer = Buyer(
            name="Gers Habitat",
            created_at=now,
            contacts=[
                BuyerContact(name="Anne Achat", email="anne@example.org", phone="05 62 00 11 22")
            ],
        )
        session.add_all([company, buyer])
        session.flush()
        return company.correspondents[0].id, buyer.contacts[0].id


def phone_of(app: App, model: type[Correspondent] | type[BuyerContact], record_id: int) -> str:
    with app.transaction() as session:
        return session.get_one(model, record_id).phone or ""


def test_a_correspondent_renamed_keeps_the_phone_and_is_told_how_to_change_it(app: App) -> None:
    person, _ = people(app)

    out = said(
        cli(
            app,
            "company",
            "correspondent-edit",
            str(person),
            "--name",
            "Inès Morel",
            "--email",
            "ines.morel@example.org",
            "--reason",
            "Karim Haddad a quitté l'EI",
        )
    )

    assert (
        "Téléphone « 05 62 06 66 66 » gardé : s'il était celui de Karim Haddad, corrigez-le "
        'avec --phone (ou --phone "" pour l\'effacer).'
    ) in out
    assert phone_of(app, Correspondent, person) == "05 62 06 66 66"

    cleared = said(cli(app, "company", "correspondent-edit", str(person), "--phone", ""))

    assert "téléphone « 05 62 06 66 66 » → (vide)" in cleared
    assert "gardé" not in cleared
    assert phone_of(app, Correspondent, person) == ""


def test_a_new_phone_or_the_same_name_says_nothing_of_a_kept_phone(app: App) -> None:
    person, _ = people(app)

    renamed = said(
        cli(
            app,
            "company",
            "correspondent-edit",
            str(person),
            "--name",
            "Inès Morel",
            "--phone",
            "05 62 07 77 77",
        )
    )
    readdressed = said(
        cli(
            app,
            "company",
            "correspondent-edit",
            str(person),
            "--email",
            "ines@example.org",
        )
    )

    assert "gardé" not in renamed and "gardé" not in readdressed
    assert phone_of(app, Correspondent, person) == "05 62 07 77 77"


def test_a_buyer_contact_renamed_keeps_the_phone_and_is_told_how_to_change_it(app: App) -> None:
    _, contact = people(app)

    out = said(cli(app, "buyer", "contact-edit", str(contact), "--name", "Bruno Vidal"))

    assert (
        "Téléphone « 05 62 00 11 22 » gardé : s'il était celui de Anne Achat, corrigez-le "
        'avec --phone (ou --phone "" pour l\'effacer).'
    ) in out
    said(cli(app, "buyer", "contact-edit", str(contact), "--phone", ""))
    assert phone_of(app, BuyerContact, contact) == ""


def test_the_web_correction_of_a_correspondent_renamed_says_the_phone_was_kept(
    app: App,
) -> None:
    person, _ = people(app)
    web_accounts.add_user(app, login="lea", name=USER, password=PASSWORD)
    site = TestClient(create_site(app))
    csrf = sign_in(site)
    path = f"/corrections/correspondants/{person}"

    done = site.post(
        path,
        data={
            "csrf": csrf,
            "name": "Inès Morel",
            "email": "karim.haddad@example.org",
            "phone": "05 62 06 66 66",
        },
        follow_redirects=False,
    )

    assert done.status_code == 303, visible(done.text)
    page = visible(site.get(done.headers["location"]).text).replace(NBSP, " ")
    assert (
        "Téléphone « 05 62 06 66 66 » gardé : s'il était celui de Karim Haddad, corrigez-le "
        "dans le champ « Téléphone » ci-dessus (ou cochez « Effacer le téléphone »)."
    ) in page
    cleared = site.post(
        path,
        data={
            "csrf": csrf,
            "name": "Inès Morel",
            "email": "karim.haddad@example.org",
            "phone": "",
            "clear_phone": "1",
        },
        follow_redirects=False,
    )
    assert cleared.status_code == 303, visible(cleared.text)
    after = visible(site.get(cleared.headers["location"]).text).replace(NBSP, " ")
    assert "téléphone « 05 62 06 66 66 » → (vide)" in after
    assert "Téléphone « 05 62 06 66 66 » gardé" not in after
    assert phone_of(app, Correspondent, person) == ""
