"""The words a company that left the site reads of the months after its last month (March 2027),
in the emails of a cancellation and of an award correction (``test_company_left_owed_texts``'s
lot): a month asked no more is said to be so, never « de nouveau attendu », and no call is
announced for the months after it."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.integration.test_company_left_owed_texts import (
    CANCELLED,
    CORRECTED,
    _lot_gone_after_aprils_call,
    _texts,
)
from tests.integration.test_company_left_site import GONE
from tests.text import squash, visible
from workflow.adapters.orm import OutboxMessage
from workflow.bootstrap import App

pytestmark = pytest.mark.scenario


def _html(app: App, kind: str, company_name: str) -> str:
    """The visible HTML part of the lot's only ``kind`` email naming ``company_name``."""
    with app.transaction() as session:
        (html,) = [
            body
            for body in session.scalars(
                select(OutboxMessage.body_html).where(OutboxMessage.kind == kind)
            )
            if company_name in (body or "")
        ]
    return squash(visible(html or "")).replace("\u00a0", " ")


def test_a_cancelled_month_after_the_departure_is_said_asked_no_more(app: App) -> None:
    lot = _lot_gone_after_aprils_call(
        app, march_on=None, april_on=date(2027, 5, 10), april_cancelled_on=date(2027, 5, 12)
    )
    (text,) = _texts(app, lot, CANCELLED, lot.company_ids[1])
    assert "de nouveau attendu" not in text, text
    assert "déclarer à nouveau" not in text, text
    assert "zéro heure » suffit" not in text, text
    assert (
        f"CE QUE CELA CHANGE Le mois d'avril 2027 ne vous est plus demandé : {GONE} a quitté le "
        "chantier, son dernier mois à déclarer est mars 2027. Je n'attends pas de nouvelle "
        "déclaration pour ce mois, et aucun rappel ne vous sera envoyé pour lui."
    ) in text, text
    html = _html(app, CANCELLED, GONE)
    assert "de nouveau attendu" not in html
    assert f"ne vous est plus demandé : {GONE} a quitté le chantier" in html, html


def test_the_award_correction_announces_no_call_after_the_departure(app: App) -> None:
    lot = _lot_gone_after_aprils_call(app, march_on=None, corrected_on=date(2027, 5, 10))
    (text,) = _texts(app, lot, CORRECTED, lot.company_ids[1])
    assert "chaque mois vous est demandé" not in text, text
    assert (
        f"{GONE} a quitté le chantier : son dernier mois à déclarer est mars 2027, aucun mois "
        "suivant ne vous est demandé. Le mois déjà appelé dont j'attends encore la déclaration "
        "garde la date limite que son appel vous a donnée : mars 2027 à envoyer au plus tard le "
        "12 avril 2027"
    ) in text, text
    html = _html(app, CORRECTED, f"{GONE} a quitté")
    assert "chaque mois vous est demandé" not in html
    assert "son dernier mois à déclarer est mars 2027, aucun mois suivant" in html, html
    # The company staying reads of its calls as before.
    (staying,) = _texts(app, lot, CORRECTED, lot.company_ids[0])
    assert "chaque mois vous est demandé par un appel à déclarer" in staying
