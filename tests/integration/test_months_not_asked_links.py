"""The pages of links for months a company is not asked, because of its own dates on the lot:
after its last month (it left the site after the link was sent) or before its first month (the
month it joined the works, corrected later), on SQLite and PostgreSQL.

Found on a read of the link pages (2026-12-07): once such a link had expired, its page told the
company « Vous pouvez répondre au courriel reçu avec votre tableau », an invitation to declare a
month no one asks of it; and a month before both a corrected start and a later first month read
« le premier mois à déclarer est mars 2027 » though the company's first month was April. Each
page now names the company's own first or last month, as the page of a valid link does.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import Clock, make_settings
from tests.integration._ladders import Lot, make_lot
from tests.integration.test_declaration_link_validity_closed_lots import links_at, page_text
from tests.integration.test_end_date_correction import paris, run_cli
from tests.integration.test_start_corrected_after_welcome import correct_start
from workflow.adapters.orm import AwardParty
from workflow.bootstrap import App
from workflow.entrypoints.web.site import create_site
from workflow.settings import Settings

HOLDER, SECOND = "Bâtiments Garonne", "Gimone Second Œuvre SAS"
INVITATION = "répondre au courriel reçu avec votre tableau"
FORM = "Vérifier la déclaration"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


def contact(settings: Settings) -> str:
    return f"écrivez à {settings.facilitator_name} ({settings.facilitator_email}"


def set_first_month(app: App, lot: Lot, month: date) -> None:
    """The second company's first month corrected to ``month``, in the database: no command
    corrects it for a company already in the award (``test_first_month_corrected_expected``)."""
    with app.transaction() as session:
        session.scalars(
            select(AwardParty).where(
                AwardParty.clause_id == lot.clause_id,
                AwardParty.company_id == lot.company_ids[1],
            )
        ).one().first_month = month


def test_a_link_of_a_month_after_the_company_left_says_so_once_expired(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot = make_lot(
        app,
        start=date(2026, 9, 1),
        end=date(2027, 12, 31),
        companies=(HOLDER, SECOND),
        at=paris(date(2026, 9, 1), 10),
    )
    clock.set(paris(date(2027, 5, 3), 10))  # April's call leaves with this link
    (april,) = links_at(app, lot.clause_id, lot.company_ids[1], date(2027, 4, 1), clock)
    code, said = run_cli(
        settings, clock, paris(date(2027, 5, 5), 10), "clause", "company-left",
        str(lot.clause_id), "--company", SECOND, "--last-month", "03/2027",
        "--reason", "sa part est finie",
    )  # fmt: skip
    assert code == 0, said
    client = TestClient(create_site(app))

    clock.set(paris(date(2027, 5, 6), 10))
    valid = page_text(client.get(april))
    assert "elle a quitté le chantier, son dernier mois à déclarer est mars 2027" in valid, valid
    assert FORM not in valid, valid

    clock.set(paris(date(2027, 9, 1), 10))  # April's link expired in July
    expired = client.get(april)
    assert expired.status_code == 410
    text = page_text(expired)
    assert "Lien expiré" in text, text
    assert (
        "Avril 2027 ne vous est pas demandé : votre entreprise a quitté le chantier du lot 1 "
        "« Gros œuvre » (marché M-"
    ) in text and (
        "son dernier mois à déclarer est mars 2027. Vous n'avez rien à déclarer pour avril "
        "2027, et aucun nouveau lien ne vous sera envoyé pour ce mois. Si elle y a travaillé "
        f"en avril 2027, {contact(settings)}"
    ) in text, text
    assert INVITATION not in text and "Le prochain courriel" not in text, text
    assert "Pour toute question" not in text, text  # the facilitator named once


def test_a_month_before_a_later_first_month_names_the_companys_own_first_month(
    app: App, settings: Settings, clock: Clock
) -> None:
    """A lot started on 5 January, its start corrected to 1 March (nothing declared before)
    and the second company's first month to April: February's link names April, on the valid
    page and on the expired one, never the start's March."""
    awarded = paris(date(2027, 1, 4), 10)
    clock.set(awarded)
    lot = make_lot(
        app,
        start=date(2027, 1, 5),
        end=date(2027, 9, 30),
        companies=(HOLDER, SECOND),
        at=awarded,
    )
    clock.set(paris(date(2027, 3, 1), 10))  # February's call leaves with this link
    (february,) = links_at(app, lot.clause_id, lot.company_ids[1], date(2027, 2, 1), clock)
    (holders,) = links_at(app, lot.clause_id, lot.company_ids[0], date(2027, 2, 1), clock)
    correct_start(app, lot, date(2027, 3, 1), paris(date(2027, 3, 2), 10))
    set_first_month(app, lot, date(2027, 4, 1))
    client = TestClient(create_site(app))

    clock.set(paris(date(2027, 3, 3), 10))
    valid = page_text(client.get(february))
    assert (
        "Février 2027 ne vous est pas demandé : votre entreprise déclare sur le lot 1 « Gros "
        "œuvre » (marché M-"
    ) in valid and (
        "à partir d'avril 2027, premier mois retenu quand elle a rejoint les travaux. Si elle "
        f"y a travaillé en février 2027, {contact(settings)}"
    ) in valid, valid
    assert "premier mois à déclarer est mars 2027" not in valid and FORM not in valid, valid
    # The holder's first month is the start's: its page names March.
    held = page_text(client.get(holders))
    assert "est fixé au 1er mars 2027, et le premier mois à déclarer est mars 2027" in held, held

    clock.set(paris(date(2027, 7, 1), 10))  # both links expired
    expired = page_text(client.get(february))
    assert (
        "Février 2027 ne vous est pas demandé : votre entreprise déclare sur le lot 1 « Gros "
        "œuvre » (marché M-"
    ) in expired and (
        "à partir d'avril 2027, premier mois retenu quand elle a rejoint les travaux. Vous "
        "n'avez rien à déclarer pour février 2027, et aucun nouveau lien ne vous sera envoyé "
        f"pour ce mois. Si elle y a travaillé en février 2027, {contact(settings)}"
    ) in expired, expired
    assert "mars 2027" not in expired and INVITATION not in expired, expired
    held = page_text(client.get(holders))
    assert "le premier mois à déclarer est mars 2027" in held and INVITATION not in held, held
