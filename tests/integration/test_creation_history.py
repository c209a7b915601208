"""The « création » row every record created through ``app.catalog`` leaves (the CLI's
``buyer add``, ``contact-add``, ``company add``, ``correspondent-add``, ``operation add``,
``market add``, and the web forms that call them), on SQLite and PostgreSQL: who created it,
when (the record's own instant), with what; its owner's card lists it first, in French; a
refusal writes none; a merged duplicate's creation is told by the record kept; a deleted
record's creation never shows under a new record given its number.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration.test_corrections import dump, utc
from workflow.adapters.orm import Buyer, Company, Operation, RecordHistory
from workflow.app import catalog, corrections
from workflow.bootstrap import App
from workflow.errors import InputRefused
from workflow.services.catalog import CalendarChange

NBSP = "\u00a0"
SC = f"{NBSP}; "


def q(text: str) -> str:
    return f"«{NBSP}{text}{NBSP}»"


def rows(app: App) -> list[RecordHistory]:
    with app.transaction() as session:
        found = list(session.scalars(select(RecordHistory).order_by(RecordHistory.id)))
        session.expunge_all()
        return found


def test_each_record_created_leaves_one_creation_row_with_its_actor_and_values(
    app: App, clock: Clock
) -> None:
    clock.set(utc(2026, 3, 3, 10, 15))
    buyer = catalog.add_buyer(
        app, "Gers Habitat", kind="bailleur social", notice_preference="mensuel",
        calendar=CalendarChange(due_day=12), actor="Léa Roux",
    )  # fmt: skip
    contact = catalog.add_buyer_contact(
        app, "gers habitat", name="Claire Dupont", email="c.dupont@gh.example", role="Acheteuse"
    )
    operation = catalog.add_operation(app, "Les Tilleuls", buyer=buyer.id, place="Auch")
    market = catalog.add_market(app, "M-2026-01", operation="Les Tilleuls", title="Logements")
    company = catalog.add_company(app, "BTP Exemple", siret="732 829 320 00074", city="Auch")
    person = catalog.add_correspondent(
        app, company.id, name="Paul Chantier", email="paul@btp.example", phone="06 00 00 00 00"
    )

    written = rows(app)
    facilitator = app.settings.facilitator_name
    assert [(r.entity, r.entity_id, r.owner, r.owner_id, r.action, r.actor) for r in written] == [
        ("buyer", buyer.id, "buyer", buyer.id, "create", "Léa Roux"),
        ("buyer_contact", contact.id, "buyer", buyer.id, "create", facilitator),
        ("operation", operation.id, "buyer", buyer.id, "create", facilitator),
        ("market", market.id, "buyer", buyer.id, "create", facilitator),
        ("company", company.id, "company", company.id, "create", facilitator),
        ("correspondent", person.id, "company", company.id, "create", facilitator),
    ]
    assert all(r.before is None and r.reason is None for r in written)
    assert {r.at for r in written} == {utc(2026, 3, 3, 10, 15)}
    with app.transaction() as session:
        # The row's instant is the record's: the card's « life » of the record starts with it.
        assert session.get_one(Buyer, buyer.id).created_at == written[0].at
        assert session.get_one(Company, company.id).created_at == written[4].at
        assert session.get_one(Operation, operation.id).created_at == written[2].at
    assert json.loads(written[1].after or "") == {
        "id": contact.id, "buyer_id": buyer.id, "name": "Claire Dupont",
        "email": "c.dupont@gh.example", "phone": "", "role": "Acheteuse",
    }  # fmt: skip

    card = corrections.buyer_card(app, buyer.id)
    assert [(h.record, h.action_label, h.actor, h.text) for h in card.history] == [
        (
            f"donneur d'ordre n° {buyer.id}", "création", "Léa Roux",
            f"{q('Gers Habitat')} – type {q('bailleur social')}{SC}avis "
            f"{q('la synthèse mensuelle seulement')}{SC}calendrier{NBSP}: échéance le 12",
        ),
        (
            f"contact n° {contact.id}", "création", facilitator,
            f"{q('Claire Dupont')} – e-mail {q('c.dupont@gh.example')}{SC}fonction "
            f"{q('Acheteuse')}",
        ),
        (f"opération n° {operation.id}", "création", facilitator,
         f"{q('Les Tilleuls')} – lieu {q('Auch')}"),
        (
            f"marché n° {market.id}", "création", facilitator,
            f"{q('M-2026-01')} – intitulé {q('Logements')}{SC}opération n° {operation.id} "
            f"{q('Les Tilleuls')}",
        ),
    ]  # fmt: skip
    assert card.history[0].confirmation.startswith(f"Donneur d'ordre n° {buyer.id} ajouté{NBSP}: ")
    company_card = corrections.company_card(app, company.id)
    assert [h.text for h in company_card.history] == [
        f"{q('BTP Exemple')} – SIRET {q('73282932000074')}{SC}ville {q('Auch')}",
        f"{q('Paul Chantier')} – e-mail {q('paul@btp.example')}{SC}téléphone {q('06 00 00 00 00')}",
    ]
    assert company_card.history[0].confirmation.startswith(
        f"Entreprise n° {company.id} ajoutée{NBSP}: "
    )


def test_a_refused_creation_writes_no_row(app: App) -> None:
    buyer = catalog.add_buyer(app, "Gers Habitat")
    before = dump(app)
    with pytest.raises(InputRefused, match="E-mail du contact"):
        catalog.add_buyer_contact(app, buyer.id, name="Claire", email="pas-une-adresse")
    with pytest.raises(InputRefused, match="existe déjà"):
        catalog.add_buyer(app, "Gers Habitat")
    with pytest.raises(InputRefused, match="SIRET"):
        catalog.add_company(app, "BTP", siret="123")
    assert dump(app) == before


def test_a_merged_duplicates_creation_is_told_by_the_record_kept(app: App, clock: Clock) -> None:
    kept = catalog.add_buyer(app, "Gers Habitat")
    clock.set(utc(2026, 3, 4, 9))
    duplicate = catalog.add_buyer(app, "Gers-Habitat 32")
    catalog.add_buyer_contact(app, duplicate.id, name="Nina Sol", email="nina@gh.example")
    clock.set(utc(2026, 3, 5, 9))
    corrections.merge_buyers(app, duplicate.id, into=kept.id, actor="Léa Roux")

    card = corrections.buyer_card(app, kept.id)
    assert [(h.record, h.action_label) for h in card.history] == [
        (f"donneur d'ordre n° {kept.id}", "création"),
        (f"donneur d'ordre n° {duplicate.id}", "création"),
        (f"contact n° {card.contacts[0].id}", "création"),
        (f"donneur d'ordre n° {kept.id}", "fusion d'un doublon"),
    ]


def test_a_deleted_records_creation_stays_with_it(app: App, clock: Clock) -> None:
    """SQLite gives the number of a deleted last row to the next record: its card starts with
    its own creation, not the deleted one's."""
    catalog.add_buyer(app, "Donneur d'ordre 2")
    old = catalog.add_buyer(app, "Ancien bailleur")
    corrections.delete_buyer(app, old.id)
    clock.set(utc(2026, 3, 2, 10))

    new = catalog.add_buyer(app, "Nouveau bailleur")

    assert [h.text for h in corrections.buyer_card(app, new.id).history] == [
        f"{q('Nouveau bailleur')} – avis {q('un avis à chaque étape')}"
    ]
