"""How long a company's declaration link lasts, and what its page says once it has expired.

A link lasts ``link_days`` (60) after the later of its email's day and its month's due date: the
welcome of a lot awarded on 15 June 2026 to start in September gives September's link, due on
Monday 12 October, and that link works until 11 December 2026 (counted from the welcome's day it
would have died on 14 August, before September even opened).

An expired link says only what will really happen: the page of a lot whose follow-up is closed
or abandoned, or of a month after the lot's end, says that nothing is asked, that no new link will
come and whom to write to; a month still owed with no call or reminder left to leave says to write
to the facilitator, not that the next email will bring a link. The page of a closed lot no longer
tells until when its link is valid.

Through the real ASGI application over the real App, commands and passes, on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Protocol
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import declare, make_lot
from tests.integration.test_declaration_page_closed import NOV, OCTOBER, declared_lot, links
from tests.integration.test_end_date_correction import paris, run_cli
from tests.integration.test_online_declaration import declarations, form
from tests.text import visible
from workflow.adapters.orm import Clause, OutboxMessage
from workflow.bootstrap import App
from workflow.domain.declaration_links import expiry
from workflow.domain.stages import Stage
from workflow.entrypoints.web.site import create_site
from workflow.services.declaration_links import month_links
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

MAR, APR, SEP = date(2026, 3, 1), date(2026, 4, 1), date(2026, 9, 1)
VALID = "Ce lien est valable jusqu'au"
NEXT_EMAIL = "Le prochain courriel"
FORM = "Vérifier la déclaration"


class Response(Protocol):
    @property
    def text(self) -> str: ...


def page_text(response: Response) -> str:
    """The page's words, a link's text run in as it reads (« (adresse, téléphone) »)."""
    text = visible(response.text).replace("\u00a0", " ")
    return text.replace("( ", "(").replace(" ,", ",").replace(" )", ")")


def contact(settings: Settings) -> str:
    """The facilitator as the pages name her."""
    phone = f", {settings.facilitator_phone}" if settings.facilitator_phone else ""
    return f"{settings.facilitator_name} ({settings.facilitator_email}{phone})"


def links_at(app: App, clause_id: int, company_id: int, month: date, clock: Clock) -> list[str]:
    """The path of the company's link for ``month``, written now (as a call would)."""
    with app.transaction() as session:
        made = month_links(session, app.settings, clause_id, company_id, [month], clock())
    return [urlparse(link.url).path for link in made]


def welcome_link(app: App, clause_id: int, company_id: int) -> tuple[str, str]:
    """The text of the company's welcome and the path of its one link: the one to leave (the
    lot started since the award, the first one was written again for it)."""
    with app.transaction() as session:
        body = session.scalars(
            select(OutboxMessage.body_text).where(
                OutboxMessage.kind == "company_welcome",
                OutboxMessage.key.startswith(f"welcome:{clause_id}:{company_id}:"),
                OutboxMessage.state != "cancelled",
            )
        ).one()
    found = re.findall(r"https?://\S+/declarer/\S+", body)
    assert len(found) == 1, body
    return body, urlparse(found[0]).path


def test_the_rule_counts_from_the_due_date_when_it_is_after_the_email() -> None:
    welcomed = date(2026, 6, 15)
    assert expiry(welcomed, 60) == date(2026, 8, 14)
    assert expiry(welcomed, 60, date(2026, 10, 12)) == date(2026, 12, 11)
    # A month already due is counted from the email's day, as before.
    assert expiry(welcomed, 60, date(2026, 6, 10)) == date(2026, 8, 14)


def test_each_link_of_an_email_counts_from_its_own_month(app: App, clock: Clock) -> None:
    """Written on 4 May, March's link (due on 10 April) lasts until 3 July, April's (due on
    Monday 11 May) until 10 July: the same links whatever months the email gives with them."""
    lot = make_lot(app, start=date(2026, 3, 1), at=paris(date(2026, 3, 2), 10))
    clock.set(paris(date(2026, 5, 4), 10))
    with app.transaction() as session:
        both = month_links(
            session, app.settings, lot.clause_id, lot.company_ids[0], [MAR, APR], clock()
        )
        alone = month_links(
            session, app.settings, lot.clause_id, lot.company_ids[0], [MAR], clock()
        )
    assert [link.expires_on for link in both] == [date(2026, 7, 3), date(2026, 7, 10)]
    assert alone == both[:1]


def test_a_welcome_link_for_a_month_due_months_later_works_until_its_due_date_and_60_days(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot = make_lot(app, start=SEP, end=date(2026, 12, 31), at=paris(date(2026, 6, 15), 10))
    body, path = welcome_link(app, lot.clause_id, lot.company_ids[0])
    assert "septembre 2026" in body
    assert "pour ce lot, jusqu'au 11 décembre 2026 ;" in " ".join(body.split()), body
    client = TestClient(create_site(app))

    # After the scheduled due date (12 October), long after the welcome's day plus 60 days:
    # still usable. No pass ran, so September was never called: the page gives the date its
    # catch-up call will give (``notices.owed_due_dates``, as the receipts and the emails do),
    # never a date passed that nobody was given.
    clock.set(paris(date(2026, 10, 20), 10))
    shown = client.get(path)
    assert shown.status_code == 200, page_text(shown)
    text = page_text(shown)
    assert FORM in text and "À déclarer au plus tard le vendredi 30 octobre 2026" in text, text
    assert f"{VALID} 11 décembre 2026" in text, text

    # The day after its last day: expired, and no promise of an email that will not come
    # (no call nor reminder of September is left to leave).
    clock.set(paris(date(2026, 12, 12), 10))
    expired = client.get(path)
    assert expired.status_code == 410
    text = page_text(expired)
    assert "Lien expiré" in text and "Ce lien de déclaration a expiré." in text
    assert NEXT_EMAIL not in text, text
    assert (
        "Rien n'a été enregistré. Vous pouvez répondre au courriel reçu avec votre tableau, ou "
        f"écrire à {contact(settings)}."
    ) in text, text


def test_an_expired_link_of_a_month_declared_says_it_arrived_and_asks_nothing(
    app: App, settings: Settings, clock: Clock
) -> None:
    """September declared on 22 October through another way (the call's link, a file, the
    facilitator): its welcome link, expired, says it arrived, instead of inviting the company
    to send its table again (user trial, 7 December 2026)."""
    lot = make_lot(app, start=SEP, end=date(2026, 12, 31), at=paris(date(2026, 6, 15), 10))
    _, path = welcome_link(app, lot.clause_id, lot.company_ids[0])
    declare(app, lot, SEP, paris(date(2026, 10, 22), 11))
    client = TestClient(create_site(app))

    clock.set(paris(date(2026, 12, 12), 10))
    expired = client.get(path)

    assert expired.status_code == 410
    text = page_text(expired)
    assert "Lien expiré" in text and "Ce lien de déclaration a expiré." in text
    assert re.search(
        r"Votre déclaration des heures d'insertion de septembre 2026 pour le lot 1 « Gros œuvre » "
        r"\(marché M-\d+\) m'est parvenue le 22 octobre 2026 : vous n'avez rien à déclarer pour "
        r"ce mois\.",
        text,
    ), text
    assert f"Pour corriger cette déclaration, écrivez à {contact(settings)}." in text, text
    assert "répondre au courriel reçu" not in text and NEXT_EMAIL not in text, text


def test_an_expired_link_of_a_closed_lot_says_nothing_is_asked_and_no_link_will_come(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot, client = declared_lot(app, clock)  # November's link written on 2 December
    (november,) = links(app, lot, NOV)
    assert VALID in page_text(client.get(november))
    at = paris(date(2026, 12, 3), 10)
    for args in (
        ("clause", "advance", str(lot.clause_id), "achever", "--end-date", "30/11/2026"),
        ("clause", "report", str(lot.clause_id), "--text", "Bilan de l'opération."),
        ("clause", "advance", str(lot.clause_id), "cloturer"),
    ):
        code, said = run_cli(settings, clock, at, *args)
        assert code == 0, (args, said)

    # Still valid, the closed lot's page gives no date for a link that allows nothing.
    clock.set(paris(date(2026, 12, 3), 11))
    shown = client.get(november)
    text = page_text(shown)
    assert "est clôturé" in text and VALID not in text, text
    assert "«\u00a0Gros œuvre\u00a0»" in visible(shown.text)  # a web page's French spaces
    assert "est clôturé\u00a0: aucune déclaration" in visible(shown.text)

    # November was due on 10 December: the link lasts until 8 February 2027.
    clock.set(paris(date(2027, 2, 9), 10))
    said = "Le suivi des heures d'insertion du lot 1 « Gros œuvre » (marché M-"
    after = (
        "est clôturé : aucune déclaration n'est plus attendue pour novembre 2026, vous n'avez "
        "rien à faire et aucun nouveau lien ne vous sera envoyé."
    )
    write = f"Pour toute question, écrivez à {contact(settings)}."
    for response in (
        client.get(november),
        client.post(november, data=form(OCTOBER, "confirmer")),
    ):
        assert response.status_code == 410
        text = page_text(response)
        assert "Lien expiré" in text and "Ce lien de déclaration a expiré." in text
        assert said in text and after in text and write in text, text
        assert NEXT_EMAIL not in text and "répondre au courriel reçu" not in text, text
    months = [d.month for d in declarations(app, lot.clause_id, lot.company_ids[0])]
    assert NOV not in months


def test_an_expired_link_of_an_abandoned_lot_says_it_is_stopped(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot = make_lot(app, start=date(2026, 4, 1), at=paris(date(2026, 4, 1), 10))
    (april,) = links_at(app, lot.clause_id, lot.company_ids[0], date(2026, 4, 1), clock)
    with app.transaction() as session:
        # Abandoned (a lot is abandoned from its award at the latest: the stage is set here
        # directly, the page reads nothing else of it).
        session.get_one(Clause, lot.clause_id).stage = Stage.ABANDONED.value
    clock.set(paris(date(2026, 8, 1), 10))  # April due on 11 May: valid until 10 July
    expired = TestClient(create_site(app)).get(april)
    assert expired.status_code == 410
    text = page_text(expired)
    assert "est arrêté : aucune déclaration n'est plus attendue pour avril 2026" in text, text
    assert "aucun nouveau lien ne vous sera envoyé" in text and NEXT_EMAIL not in text, text
    assert f"Pour toute question, écrivez à {contact(settings)}." in text, text


def test_an_expired_link_of_a_month_after_the_lots_end_says_it_is_not_asked(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot = make_lot(app, start=date(2026, 4, 1), at=paris(date(2026, 4, 1), 10))
    (june,) = links_at(app, lot.clause_id, lot.company_ids[0], date(2026, 6, 1), clock)
    code, said = run_cli(
        settings,
        clock,
        paris(date(2026, 6, 3), 10),
        "clause",
        "advance",
        str(lot.clause_id),
        "achever",
        "--end-date",
        "29/05/2026",
    )
    assert code == 0, said
    clock.set(paris(date(2026, 10, 1), 10))  # June due on 10 July: valid until 8 September
    expired = TestClient(create_site(app)).get(june)
    assert expired.status_code == 410
    text = page_text(expired)
    assert (
        "Juin 2026 ne vous est plus demandé : l'exécution du lot 1 « Gros œuvre » (marché M-"
    ) in text, text
    assert "s'est achevée le 29 mai 2026. Vous n'avez rien à déclarer pour ce mois" in text
    assert "aucun nouveau lien ne vous sera envoyé" in text and NEXT_EMAIL not in text, text
