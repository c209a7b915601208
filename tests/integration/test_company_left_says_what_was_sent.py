"""The departure email says to ignore only what the company received for a month no longer
asked (user trial: « l'appel et les rappels » of a month that had had its call only)."""

from __future__ import annotations

from datetime import date

import pytest

from tests.integration.test_company_departure_notices import COMPANY_KIND, _emails, _lot
from tests.text import squash
from workflow.bootstrap import App
from workflow.emails.company_departures import released_sent

pytestmark = pytest.mark.scenario

OCT, NOV = date(2026, 10, 1), date(2026, 11, 1)


def test_a_month_called_only_is_said_called_only(app: App) -> None:
    # Recorded on 5 May: April, called on 3 May, got no reminder yet.
    lot, _ = _lot(app, left_on=date(2027, 5, 5), until=date(2027, 5, 6))
    [email] = _emails(app, lot, COMPANY_KIND)
    text = squash(email.body_text)
    assert (
        "Le mois d'avril 2027, déjà demandé, ne vous est plus demandé : vous pouvez ignorer "
        "l'appel reçu pour lui." in text
    ), text
    assert "rappel" not in text.split("déjà demandé", 1)[1].split(".", 1)[0]


def test_the_words_follow_what_was_sent() -> None:
    assert released_sent([OCT], [0]) == "l'appel reçu pour lui"
    assert released_sent([OCT], [1]) == "l'appel et le rappel reçus pour lui"
    assert released_sent([OCT], [2]) == "l'appel et les 2 rappels reçus pour lui"
    assert released_sent([OCT, NOV], [0, 0]) == "les 2 appels reçus pour eux"
    assert released_sent([OCT, NOV], [2, 1]) == "les 2 appels et les 3 rappels reçus pour eux"
    assert released_sent([OCT], None) == "les courriels reçus pour lui"
