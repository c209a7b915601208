"""A company recorded twice is merged after its duplicate was called: the link of that call works.

The duplicate (the sample holder of lot 01, called for April by the real pass) is merged into the
record that stays; the link of its call email opens the surviving company's page for the same lot
and month, reads its template, and records the declaration for it (the month's ladder closes, the
receipt goes to its correspondent), on SQLite and PostgreSQL. A chain of merges is followed; a
company really removed from the lot is still refused.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import urlparse

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration.test_declaration_howto import lot_01
from tests.integration.test_declarations import MARCH, advance
from tests.integration.test_online_declaration import (
    APRIL,
    TWO_PEOPLE,
    XLSX,
    call_link,
    call_workbook,
    called_territory,
    declarations,
    fill,
    form,
)
from tests.text import visible
from workflow.adapters.orm import AwardParty, Company, DeclarationLadder, OutboxMessage
from workflow.app import catalog, corrections
from workflow.app.clauses import PartyChoice, award_clause
from workflow.bootstrap import App
from workflow.domain.stages import ClauseEvent
from workflow.domain.vocabulary import PartyRole
from workflow.entrypoints.web.site import create_site
from workflow.sample import SAMPLE_AWARDS, load_sample, resolve_award
from workflow.services.clauses import record_award

#: The name the sample holder has on the duplicate record (the link was emailed to it).
DUPLICATE = "Bâtiments Gascons SARL"
#: The record that stays: the same company, entered again under another spelling.
KEPT = "SARL Gascons (bâtiment)"
REMOVED = (
    "Ce lien de déclaration ne correspond plus à un lot de votre entreprise : "
    "l'attribution a changé depuis l'envoi du courriel."
)


def kept_company(app: App, name: str = KEPT) -> int:
    """The same company entered again (no SIRET), with the same correspondent."""
    company = catalog.add_company(app, name, city="Auch")
    catalog.add_correspondent(
        app, company.id, name="Sophie Lacoste", email="sophie.lacoste@example.org"
    )
    return company.id


def receipt_of(app: App, declaration_id: int) -> OutboxMessage:
    with app.transaction() as session:
        receipt = session.scalars(
            select(OutboxMessage).where(OutboxMessage.key.startswith(f"receipt:{declaration_id}:"))
        ).one()
        session.expunge(receipt)
        return receipt


def april_ladder(app: App, clause_id: int, company_id: int) -> DeclarationLadder:
    with app.transaction() as session:
        ladder = session.scalars(
            select(DeclarationLadder).where(
                DeclarationLadder.clause_id == clause_id,
                DeclarationLadder.company_id == company_id,
                DeclarationLadder.month == APRIL,
            )
        ).one()
        session.expunge(ladder)
        return ladder


def test_the_call_of_a_duplicate_merged_since_declares_for_the_company_that_stays(
    app: App, clock: Clock
) -> None:
    called = called_territory(app, clock)
    clause_id, duplicate_id, _ = lot_01(called)
    path = call_link(called, clause_id, duplicate_id)  # the link of the email the duplicate got
    workbook = call_workbook(called, clause_id, duplicate_id)
    kept_id = kept_company(called)

    corrections.merge_companies(called, duplicate_id, into=kept_id, reason="doublon")
    client = TestClient(create_site(called))

    # The page of the company that stays, for the same lot and month.
    page = client.get(path)
    assert page.status_code == 200, visible(page.text)
    text = visible(page.text)
    assert KEPT in text and DUPLICATE not in text
    assert "Heures d'insertion d'avril 2026" in text and "Gros œuvre – maçonnerie" in text
    assert "ne correspond plus" not in text

    # The template attached to the duplicate's call is read as the kept company's.
    data = fill(
        workbook,
        2,
        {
            "Référence participant": "P-0200",
            "Critère d'éligibilité": "Demandeur d'emploi de longue durée",
            "Type de contrat": "CDD",
            "Modalité de réalisation": "Embauche directe",
            "Heures": 120.5,
        },
    )
    shown = client.post(f"{path}/fichier", files={"fichier": ("avril.xlsx", data, XLSX)})
    assert shown.status_code == 200, visible(shown.text)
    assert "1 participant, 120,50\u00a0h au total" in visible(shown.text)

    # The form checked, then recorded for the kept company, as any declaration is.
    checked = client.post(path, data=form(TWO_PEOPLE, "verifier"))
    assert checked.status_code == 200 and "186,67\u00a0h au total" in visible(checked.text)
    done = client.post(path, data=form(TWO_PEOPLE, "confirmer"), follow_redirects=False)
    assert done.status_code == 303, visible(done.text)
    assert "Déclaration enregistrée" in visible(client.get(done.headers["location"]).text)

    [april] = declarations(called, clause_id, kept_id)
    assert april.month == APRIL and april.total_hours == Decimal("186.67")
    assert april.recorded_by == f"{KEPT} (déclaration en ligne)"
    ladder = april_ladder(called, clause_id, kept_id)
    assert ladder.next_step_at is None and ladder.declared_at is not None
    receipt = receipt_of(called, april.id)
    assert "sophie.lacoste@example.org" in receipt.recipients
    with called.transaction() as session:
        party = session.scalars(
            select(AwardParty).where(
                AwardParty.clause_id == clause_id, AwardParty.company_id == kept_id
            )
        ).one()
        assert party.correspondent is not None
        assert party.correspondent.company_id == kept_id
        assert party.correspondent.email in receipt.recipients

    # The duplicate's number given since to a new company (SQLite reuses a deleted highest
    # number): the link is still the kept company's, never the newcomer's.
    with called.transaction() as session:
        session.add(
            Company(id=duplicate_id, name="Nouvelle Entreprise", city="Mirande", created_at=clock())
        )
    again = visible(client.get(path).text)
    assert KEPT in again and "Nouvelle Entreprise" not in again
    assert "Déjà enregistré pour avril 2026" in again


def test_a_chain_of_merges_is_followed_to_the_company_that_stays(app: App, clock: Clock) -> None:
    called = called_territory(app, clock)
    clause_id, first_id, _ = lot_01(called)
    path = call_link(called, clause_id, first_id)
    second_id = kept_company(called, "Gascons Bâtiments")
    last_id = kept_company(called, KEPT)

    corrections.merge_companies(called, first_id, into=second_id, reason="doublon")
    corrections.merge_companies(called, second_id, into=last_id, reason="doublon")
    client = TestClient(create_site(called))

    page = client.get(path)
    assert page.status_code == 200, visible(page.text)
    text = visible(page.text)
    assert KEPT in text and "Gascons Bâtiments" not in text and DUPLICATE not in text
    done = client.post(path, data=form(TWO_PEOPLE, "confirmer"), follow_redirects=False)
    assert done.status_code == 303, visible(done.text)

    [april] = declarations(called, clause_id, last_id)
    assert april.month == APRIL and april.recorded_by == f"{KEPT} (déclaration en ligne)"
    assert april_ladder(called, clause_id, last_id).declared_at is not None
    assert "sophie.lacoste@example.org" in receipt_of(called, april.id).recipients


def welcome_link(app: App, clause_id: int, company_id: int) -> str:
    """The path of the link in the welcome that company got for lot 01."""
    with app.transaction() as session:
        body = session.scalars(
            select(OutboxMessage.body_text).where(
                OutboxMessage.kind == "company_welcome",
                OutboxMessage.key.startswith(f"welcome:{clause_id}:{company_id}:"),
            )
        ).one()
    return urlparse(re.findall(r"https?://\S+/declarer/\S+", body)[0]).path


def test_a_company_removed_from_the_lot_is_still_refused(app: App, clock: Clock) -> None:
    """Lot 01 awarded (the welcomes carry April's link), then the award corrected without its
    subcontractor: the subcontractor's link, and the same link once it is merged into another
    company that is not on the lot either, allow nothing."""
    load_sample(app, MARCH)
    with app.transaction() as session:
        award = next(a for a in SAMPLE_AWARDS if (a.market, a.lot_number) == ("2026-014", "01"))
        resolved = resolve_award(session, award)
        for event in (ClauseEvent.DRAFT, ClauseEvent.AWARD):
            advance(app, session, resolved.clause_id, event)
        record_award(
            session,
            resolved.clause_id,
            parties=resolved.parties,
            start_date=resolved.start_date,
            planned_end_date=resolved.planned_end_date,
            actor="démo",
            now=MARCH,
            publish=app.publish,
        )
    clause_id, holder_id, partner_id = lot_01(app)
    path = welcome_link(app, clause_id, partner_id)
    client = TestClient(create_site(app))
    assert client.get(path).status_code == 200

    award_clause(
        app,
        clause_id,
        parties=(PartyChoice(holder_id, PartyRole.HOLDER, hours_share=3925),),
        start_date=resolved.start_date,
        planned_end_date=resolved.planned_end_date,
    )
    clock.set(datetime(2026, 5, 4, 9, 0, tzinfo=UTC))  # April is over: declarable, were it allowed

    for followed in (client.get(path), client.post(path, data=form(TWO_PEOPLE, "confirmer"))):
        assert followed.status_code == 403
        assert REMOVED in visible(followed.text)
        assert "Rien n'a été enregistré." in visible(followed.text)
    assert declarations(app, clause_id, partner_id) == []

    # Merged since into another company, which is not on the lot either: still refused.
    other_id = kept_company(app, "Gascogne Insertion")
    corrections.merge_companies(app, partner_id, into=other_id, reason="doublon")
    refused = client.get(path)
    assert refused.status_code == 403 and REMOVED in visible(refused.text)
    assert declarations(app, clause_id, other_id) == []
