"""Many emails refused with one answer: the digest says whose side the answer blames.

A user trial: 34 emails refused « 550 5.1.1 Boîte aux lettres inconnue » were told to come from
the sending server, « pas les adresses » — 5.1.1 says the recipient's address does not exist, and
sending them all again reaches the same bad addresses. The enhanced status code (RFC 3463) says
whose side it is: 5.1.x the addresses, 5.7.x the sending server's policy or login; one answer for
several domains hints at the sending side only when the code does not blame the address; else the
digest claims no cause. On the dashboard, each group links to the email log of its own state.

Over the real services and the real ASGI application, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from tests.conftest import Clock
from tests.integration.test_dashboard import dashboard_site, sign_in
from tests.integration.test_dispatch import NOW, queue
from tests.text import visible
from workflow.adapters.orm import OutboxMessage
from workflow.bootstrap import App
from workflow.emails.digest import DigestItem
from workflow.services.digest import compile_digest
from workflow.services.outbox import OutboxState, Recipient

UNKNOWN_MAILBOX = "Refus définitif : 550 5.1.1 Boîte aux lettres inconnue"
SERVER_SIDE = "la cause est le serveur d'envoi ou ses réglages"


def _refused(app: App, error: str, domains: list[str], state: str = "failed") -> DigestItem:
    """One email to each domain, all refused with ``error``: the digest's one line for them."""
    keys = [f"refused:{n}" for n in range(len(domains))]
    for key, domain in zip(keys, domains, strict=True):
        queue(app, key, Recipient("Paul Lambert", f"paul.lambert@{domain}"), now=NOW)
    with app.transaction() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.key.in_(keys))
            .values(state=state, attempts=1, last_error=error)
        )
        digest = compile_digest(session, NOW + timedelta(days=1), app.settings)
    [item] = [item for item in digest.items if item.category == "email"]
    return item


def test_unknown_mailboxes_at_different_domains_are_blamed_on_the_addresses(app: App) -> None:
    item = _refused(app, UNKNOWN_MAILBOX, ["btp-gers.fr", "exemple.org", "renov-auch.fr"])

    assert item.title == "3 courriels refusés définitivement, tous pour la même raison"
    assert item.action.startswith(
        "La même réponse pour tous : l'adresse n'existe pas chez le destinataire (5.1.1). "
        "Corrigez l'adresse de chaque destinataire (clauses company correspondent-edit pour le "
        "correspondant d'une entreprise, clauses buyer contact-edit pour le contact d'un "
        "donneur d'ordre), puis remettez en file chaque courriel corrigé (clauses mail retry N°)"
    )
    assert SERVER_SIDE not in item.action and "pas les adresses" not in item.action
    assert "--all-failed" not in item.action  # all of them again: the same bad addresses
    assert item.action.endswith("Leurs destinataires : clauses mail list --state failed.")
    assert item.web is not None
    assert "page Corrections" in item.web.todo and SERVER_SIDE not in item.web.todo
    assert (item.web.label, item.web.path) == (
        "Voir les courriels refusés",
        "/courriels?etat=failed",
    )


@pytest.mark.parametrize(
    ("error", "domains", "said"),
    [
        (
            "Refus définitif : 550 5.1.2 Domaine introuvable",
            ["btp-gers.fr"] * 3,
            "La même réponse pour tous : le domaine de l'adresse n'existe pas (5.1.2).",
        ),
        (
            "Refus définitif : 553 5.1.3 Adresse mal formée",
            ["btp-gers.fr"] * 3,
            "La même réponse pour tous : l'adresse est mal écrite (5.1.3).",
        ),
        (
            # Microsoft 365's answer to an address that does not exist.
            "Refus définitif : 550 5.4.1 Recipient address rejected: Access denied",
            ["mairie-test.fr"] * 3,
            "La même réponse pour tous : l'adresse du destinataire est refusée (5.4.1).",
        ),
    ],
)
def test_other_bad_addresses_say_what_is_wrong_with_them(
    app: App, error: str, domains: list[str], said: str
) -> None:
    item = _refused(app, error, domains)
    assert item.action.startswith(f"{said} Corrigez l'adresse de chaque destinataire")
    assert SERVER_SIDE not in item.action


@pytest.mark.parametrize(
    ("error", "domains", "said"),
    [
        (
            "Refus définitif : 550 5.7.1 Relais refusé",
            ["btp-gers.fr"] * 3,
            "La même réponse (5.7.1) pour tous : la cause est le serveur d'envoi ou ses réglages "
            "(CLAUSES_SMTP_*), pas les adresses.",
        ),
        (
            "Refus définitif : 554 Message refusé",
            ["btp-gers.fr", "exemple.org", "renov-auch.fr"],
            "La même réponse (554) pour tous, adressés à 3 domaines différents : la cause est le "
            "serveur d'envoi ou ses réglages (CLAUSES_SMTP_*), pas les adresses.",
        ),
    ],
)
def test_a_policy_refusal_or_one_answer_for_many_domains_is_the_sending_side(
    app: App, error: str, domains: list[str], said: str
) -> None:
    item = _refused(app, error, domains)
    assert item.action == (
        f"{said} Une fois la cause réglée, les remettre tous en file "
        "(clauses mail retry --all-failed)."
    )


@pytest.mark.parametrize(
    "error",
    [
        "Refus définitif : 554 Message refusé",
        # A policy answer of one recipient's server (its filter), not of the sending side.
        "Refus définitif : 550 5.7.1 Message rejected as spam",
    ],
)
def test_an_answer_that_does_not_say_whose_side_claims_no_cause(app: App, error: str) -> None:
    item = _refused(app, error, ["btp-gers.fr"] * 3)
    assert item.action.startswith("Une même réponse pour tous ; lisez-la :")
    assert SERVER_SIDE not in item.action and "pas les adresses" not in item.action
    assert error.removeprefix("Refus définitif : ") in item.detail


def _log_ids(html: str) -> set[int]:
    return {int(n) for n in re.findall(r'href="/courriels/(\d+)" aria-label', html)}


def test_each_group_on_the_dashboard_opens_the_log_of_its_own_state(app: App, clock: Clock) -> None:
    site: TestClient = dashboard_site(app, clock)
    with app.transaction() as session:
        ids = session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)).all()
        assert len(ids) >= 6
        refused, given_up = set(ids[:3]), set(ids[3:6])
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(refused))
            .values(state=OutboxState.FAILED, last_error=UNKNOWN_MAILBOX)
        )
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(given_up))
            .values(
                state=OutboxState.DEAD,
                last_error="Abandon après 6 tentatives : 451 4.3.0 file pleine",
            )
        )
    sign_in(site)

    board = site.get("/tableau-de-bord").text
    links = dict(re.findall(r'<a class="action" href="(/courriels[^"]*)">([^<]+)</a>', board))
    assert links == {
        "/courriels?etat=failed": "Voir les courriels refusés",
        "/courriels?etat=dead": "Voir les courriels abandonnés",
    }
    assert "l'adresse n'existe pas chez le destinataire (5.1.1)" in visible(board)
    assert _log_ids(site.get("/courriels?etat=failed").text) == refused
    assert _log_ids(site.get("/courriels?etat=dead").text) == given_up
