"""The receipt of a month declared again after the facilitator cancelled it says it replaces the
declaration cancelled that day (``cancellation_withdrawals.replaced_cancellation``), on SQLite
and PostgreSQL, through the commands, the online page, the real outbox and the file transport.

User trial: « clauses declaration cancel … --month 04/2026 --reason "erreur de lot" », the
company read « Déclaration d'avril 2026 annulée, à déclarer de nouveau », declared April again
and read a plain « Déclaration reçue », as if nothing had happened. Now the receipt answers the
email it read (« comme je vous l'ai écrit … ce mois n'est plus à déclarer de nouveau »). When
that email never left (withdrawn because the month was declared again first), the receipt
still says the earlier declaration was cancelled that day, and speaks of no email.
"""

from __future__ import annotations

import html
import re
from email.message import EmailMessage

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration.test_cancellation_withdrawn_when_declared_again import (
    APRIL,
    CANCELLED,
    LUC,
    RECEIPT,
    Run,
    cancellation_rows,
    delivered,
    paris,
    plain,
    run,
)
from tests.integration.test_cancelled_outcomes import DECEMBER_7, cancel_october, scenario
from tests.integration.test_declaration_howto import lot_01
from tests.integration.test_declarations import DECLARATION
from tests.integration.test_online_declaration import (
    TWO_PEOPLE,
    call_link,
    called_territory,
    form,
)
from tests.text import squash, visible
from workflow.adapters.orm import OutboxMessage
from workflow.adapters.templates import french_hours
from workflow.app.clause_corrections import cancel_declaration
from workflow.bootstrap import App
from workflow.entrypoints.web.site import create_site
from workflow.services.declaration_imports import import_declaration_file
from workflow.settings import Settings

__all__ = ["run", "scenario"]  # the fixtures, shared with the withdrawal's and outcomes' tests

#: April at zero, cancelled on 5 May; the company read the cancellation's email.
TOLD = (
    "Elle remplace votre déclaration de ce mois à zéro heure, que j'avais annulée le 5 mai "
    "2026, comme je vous l'ai écrit (motif : « erreur de lot ») : ce mois n'est plus à "
    "déclarer de nouveau, seuls comptent les chiffres ci-dessous."
)
#: The same, its email withdrawn before it left: the company never read it.
NOT_TOLD = (
    "Elle remplace votre déclaration de ce mois à zéro heure, que j'avais annulée le 5 mai "
    "2026 (motif : « erreur de lot ») ; seuls comptent les chiffres ci-dessous."
)
ONE_PERSON = {key: values[:1] for key, values in TWO_PEOPLE.items()}


def spaced(text: str) -> str:
    """``text`` with its no-break spaces as plain ones (hours, French punctuation)."""
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def html_part(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("html",))
    assert body is not None
    # Its tags taken out as such: « <strong>…</strong>, comme » reads « …, comme ».
    return spaced(squash(html.unescape(re.sub(r"<[^>]+>", "", body.get_content()))))


def test_the_receipt_answers_the_cancellation_the_company_read(
    app: App, run: Run, settings: Settings
) -> None:
    run.cancel("2026-05-05", "10:00")
    run.send("2026-05-05", "10:05")
    [told] = delivered(settings, CANCELLED, LUC)
    assert told["Subject"].startswith("Déclaration d'avril 2026 annulée, à déclarer de nouveau")
    assert "J'ai annulé le 5 mai 2026 votre déclaration" in plain(told)

    run.zero("2026-05-05", "10:10")
    run.send("2026-05-05", "10:20")
    first, again = delivered(settings, RECEIPT, LUC)
    # The receipt of 4 May, an ordinary one, replaced nothing.
    assert "Elle remplace" not in plain(first) and "annulée" not in plain(first)
    assert "Je l'ai enregistrée pour vous le 5 mai 2026" in plain(again)
    assert TOLD in spaced(plain(again))
    assert TOLD in html_part(again)
    assert cancellation_rows(app) == [("1", "sent", None)]
    assert "Aucun problème" in run("2026-05-05", "10:30", "audit", "verify")


def test_a_cancellation_never_read_is_told_without_its_email(
    app: App, run: Run, settings: Settings
) -> None:
    run.cancel("2026-05-05", "10:00")
    run.zero("2026-05-05", "10:10")
    run.send("2026-05-05", "10:20")

    assert delivered(settings, CANCELLED, LUC) == []
    _, again = delivered(settings, RECEIPT, LUC)
    for text in (spaced(plain(again)), html_part(again)):
        assert NOT_TOLD in text
        assert "écrit" not in text and "courriel" not in text
    assert [state for _, state, _ in cancellation_rows(app)] == ["cancelled"]
    assert "Aucun problème" in run("2026-05-05", "10:30", "audit", "verify")


def test_declared_again_online_the_receipt_gives_the_hours_cancelled(
    app: App, clock: Clock, settings: Settings
) -> None:
    """Lot 01 of the sample territory: April declared online from its call on 4 May (two
    people), cancelled on 5 May, its email delivered, declared again online with one person,
    then corrected online: the correction's receipt says what it replaces, not the
    cancellation."""
    called_territory(app, clock)
    clause_id, holder_id, _ = lot_01(app)
    path = call_link(app, clause_id, holder_id)
    client = TestClient(create_site(app))
    client.post(path, data=form(TWO_PEOPLE, "confirmer"))
    sender = Run(settings, clock)
    sender.send("2026-05-04", "10:05")
    clock.set(paris("2026-05-05", "10:00"))
    cancelled = cancel_declaration(
        app, clause=clause_id, company=holder_id, month=APRIL, reason="erreur de lot"
    )
    [address] = cancelled.informed
    sender.send("2026-05-05", "10:05")
    [told] = delivered(settings, CANCELLED, address)
    assert spaced(f": {french_hours(cancelled.total_hours)}, 2 lignes.") in spaced(plain(told))

    clock.set(paris("2026-05-05", "10:10"))
    done = client.post(path, data=form(ONE_PERSON, "confirmer"), follow_redirects=False)
    assert done.status_code == 303, visible(done.text)
    sender.send("2026-05-05", "10:20")
    _, again = delivered(settings, RECEIPT, address)
    expected = spaced(
        f"Elle remplace votre déclaration de ce mois ({french_hours(cancelled.total_hours)}), "
        "que j'avais annulée le 5 mai 2026, comme je vous l'ai écrit (motif : « erreur de "
        "lot ») : ce mois n'est plus à déclarer de nouveau, seuls comptent les chiffres "
        "ci-dessous."
    )
    assert expected in spaced(plain(again))
    assert expected in html_part(again)
    assert "Total du mois : 151,67 h, 1 ligne" in spaced(plain(again))

    # Corrected online the next day: replaced the one declared again, not the cancelled one.
    clock.set(paris("2026-05-06", "09:00"))
    done = client.post(path, data=form(TWO_PEOPLE, "confirmer"), follow_redirects=False)
    assert done.status_code == 303, visible(done.text)
    sender.send("2026-05-06", "09:05")
    *_, corrected = delivered(settings, RECEIPT, address)
    text = spaced(plain(corrected))
    assert (
        "Elle remplace votre déclaration de ce mois reçue le 5 mai 2026 (151,67 h) : ce "
        "message annule le reçu précédent, seuls comptent les chiffres ci-dessous." in text
    )
    assert "annulée" not in text
    assert "Aucun problème" in sender("2026-05-06", "09:10", "audit", "verify")


def test_declared_again_online_before_the_cancellation_left(
    app: App, clock: Clock, settings: Settings
) -> None:
    called_territory(app, clock)
    clause_id, holder_id, _ = lot_01(app)
    path = call_link(app, clause_id, holder_id)
    client = TestClient(create_site(app))
    client.post(path, data=form(TWO_PEOPLE, "confirmer"))
    clock.set(paris("2026-05-05", "10:00"))
    cancelled = cancel_declaration(
        app, clause=clause_id, company=holder_id, month=APRIL, reason="erreur de lot"
    )
    [address] = cancelled.informed

    clock.set(paris("2026-05-05", "10:10"))
    done = client.post(path, data=form(ONE_PERSON, "confirmer"), follow_redirects=False)
    assert done.status_code == 303, visible(done.text)
    sender = Run(settings, clock)
    sender.send("2026-05-05", "10:20")
    assert delivered(settings, CANCELLED, address) == []
    *_, again = delivered(settings, RECEIPT, address)
    expected = spaced(
        f"Elle remplace votre déclaration de ce mois ({french_hours(cancelled.total_hours)}), "
        "que j'avais annulée le 5 mai 2026 (motif : « erreur de lot ») ; seuls comptent les "
        "chiffres ci-dessous."
    )
    for text in (spaced(plain(again)), html_part(again)):
        assert expected in text
        assert "écrit" not in text and "courriel" not in text


def test_the_reason_is_the_facilitators_own_words(
    scenario: App, settings: Settings, clock: Clock
) -> None:
    """A cancellation that took an outcome out of the figures: its history row adds « – 1 sortie
    (P-0007, CDI) n'est plus comptée … » after the reason; the receipt quotes the reason only,
    as the cancellation's email did. October declared again by file before that email left."""
    said = cancel_october(scenario, settings, clock)
    assert "1 sortie (P-0007, CDI) n'est plus comptée" in said
    assert ": 370,17 h retirées" in spaced(said)  # what the receipt says was cancelled
    clock.set(DECEMBER_7)
    with scenario.transaction() as session:
        import_declaration_file(
            session, DECLARATION, actor="Camille Martin", now=DECEMBER_7,
            publish=scenario.publish, zone=scenario.settings.zone,
        )  # fmt: skip
    with scenario.transaction() as session:
        # October's receipt of 7 December (November's, waiting, is written again beside it).
        [receipt] = session.scalars(
            select(OutboxMessage.body_text).where(
                OutboxMessage.kind == RECEIPT,
                OutboxMessage.created_at == DECEMBER_7,
                OutboxMessage.body_text.contains("pour octobre 2026,"),
            )
        ).all()
        cancellation_state = session.scalars(
            select(OutboxMessage.state).where(OutboxMessage.kind == CANCELLED)
        ).one()
    assert cancellation_state == "cancelled"
    assert (
        "Elle remplace votre déclaration de ce mois (370,17 h), que j'avais annulée le 4 "
        "décembre 2026 (motif : « Heures saisies sur le mauvais lot ») ; seuls comptent les "
        "chiffres ci-dessous." in spaced(squash(receipt))
    )
    assert "sortie" not in receipt
