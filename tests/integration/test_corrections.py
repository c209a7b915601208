"""Corrections of the reference data on SQLite and PostgreSQL: edits with their history row
(before → after, who, when, why), deletions refused while something depends on the record,
merges of duplicate buyers and companies, and a correspondent's new address used by the very
next email. Every refusal leaves every table as it was."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from email.utils import getaddresses
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import declare, ladder_emails, ladder_pass, make_lot
from workflow.adapters.db import alembic_config, current_revision
from workflow.adapters.mail import PermanentFailure
from workflow.adapters.mail.memory import MemoryTransport
from workflow.adapters.orm import (
    AwardParty,
    Base,
    Buyer,
    BuyerContact,
    Clause,
    ClauseHistory,
    Company,
    Correspondent,
    Declaration,
    DeclarationLadder,
    Market,
    Operation,
    OutboxMessage,
    RecordHistory,
)
from workflow.app import corrections
from workflow.bootstrap import App
from workflow.domain.calendar import is_working_day
from workflow.errors import InputRefused, NotFound
from workflow.services import catalog
from workflow.services.audit.histories import check_histories
from workflow.services.audit.outbox import check_outbox
from workflow.services.catalog import CalendarChange
from workflow.services.clauses import ClauseParameters
from workflow.services.dispatch import dispatch_due
from workflow.services.outbox_corrections import retry_message

NBSP = "\u00a0"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def q(text: str) -> str:
    """« text » as the service writes it, with no-break spaces."""
    return f"«{NBSP}{text}{NBSP}»"


def dump(app: App) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table: « nothing changed » is checked against it."""
    with app.engine.connect() as conn:
        return {
            table.name: [
                tuple(row) for row in conn.execute(table.select().order_by(*table.primary_key))
            ]
            for table in Base.metadata.sorted_tables
        }


def history(app: App, entity: str | None = None) -> list[RecordHistory]:
    with app.transaction() as session:
        statement = select(RecordHistory).order_by(RecordHistory.id)
        if entity is not None:
            statement = statement.where(RecordHistory.entity == entity)
        rows = list(session.scalars(statement))
        session.expunge_all()
        return rows


def loaded(value: str | None) -> Any:
    return json.loads(value) if value else None


def refused(app: App, call: Any, *args: Any, **kwargs: Any) -> str:
    """The French refusal of ``call`` as the command line prints it (its hints name the
    commands), checked to have changed nothing."""
    before = dump(app)
    with pytest.raises(InputRefused) as caught:
        call(app, *args, **kwargs)
    assert dump(app) == before
    return caught.value.command_line_message


def add_buyer(app: App, name: str, **values: Any) -> int:
    with app.transaction() as session:
        return catalog.add_buyer(
            session,
            name=name,
            now=app.clock(),
            settings=app.settings,
            calendar=values.pop("calendar", None),
            **values,
        ).id


def add_operation(app: App, buyer_id: int, name: str) -> int:
    with app.transaction() as session:
        return catalog.add_operation(session, buyer_id, name=name, now=app.clock()).id


def add_market(app: App, operation_id: int, reference: str) -> int:
    with app.transaction() as session:
        return catalog.add_market(session, operation_id, reference=reference).id


def add_lot(app: App, market_id: int, number: str, title: str) -> int:
    with app.transaction() as session:
        return catalog.add_lot(
            session,
            market_id,
            lot_number=number,
            lot_title=title,
            params=ClauseParameters(),
            actor="test",
            now=app.clock(),
            publish=app.publish,
            settings=app.settings,
        ).id


def add_company(app: App, name: str, siret: str | None = None) -> int:
    with app.transaction() as session:
        return catalog.add_company(session, name=name, siret=siret, now=app.clock()).id


def add_correspondent(app: App, company_id: int, name: str, email: str) -> int:
    with app.transaction() as session:
        return catalog.add_correspondent(
            session,
            company_id,
            name=name,
            email=email,
            now=app.clock(),
            actor="test",
            publish=app.publish,
        ).id


def correspondent_of(app: App, company_id: int) -> Correspondent:
    with app.transaction() as session:
        person = session.scalars(
            select(Correspondent).where(Correspondent.company_id == company_id)
        ).first()
        assert person is not None
        session.expunge(person)
        return person


def addresses(message: OutboxMessage) -> list[str]:
    return [address for _, address in getaddresses(message.recipients.split("\n"))]


# --- edits ---------------------------------------------------------------------------------------


def test_a_buyer_edit_records_who_when_what_before_and_after_and_why(
    app: App, clock: Clock
) -> None:
    buyer = add_buyer(app, "Gers-Habitat", kind="bailleur")
    clock.set(utc(2026, 3, 3, 10, 15))

    done = corrections.edit_buyer(
        app, "Gers-Habitat", name="Gers Habitat", kind="bailleur social", reason="faute de frappe",
        actor="Léa Roux",
    )  # fmt: skip

    with app.transaction() as session:
        stored = session.get_one(Buyer, buyer)
        assert (stored.name, stored.kind) == ("Gers Habitat", "bailleur social")
    [row] = history(app)
    assert (row.entity, row.entity_id, row.owner, row.owner_id, row.action) == (
        "buyer", buyer, "buyer", buyer, "edit",
    )  # fmt: skip
    assert loaded(row.before) == {"name": "Gers-Habitat", "kind": "bailleur"}
    assert loaded(row.after) == {"name": "Gers Habitat", "kind": "bailleur social"}
    assert (row.actor, row.at, row.reason) == (
        "Léa Roux",
        utc(2026, 3, 3, 10, 15),
        "faute de frappe",
    )
    assert done.history_id == row.id
    assert [c.text() for c in done.changes] == [
        f"nom {q('Gers-Habitat')} → {q('Gers Habitat')}",
        f"type {q('bailleur')} → {q('bailleur social')}",
    ]

    # The same values again: nothing to change, nothing written.
    again = corrections.edit_buyer(app, buyer, name="Gers Habitat", kind="bailleur social")
    assert (again.changes, again.history_id) == ((), None)
    assert len(history(app)) == 1

    # The card lists the correction, with the facilitator as actor when none is given.
    corrections.edit_buyer(app, buyer, kind="")
    card = corrections.buyer_card(app, "gers habitat")
    assert [(h.actor, h.action_label, h.text, h.reason) for h in card.history] == [
        (
            "Léa Roux",
            "modification",
            f"nom {q('Gers-Habitat')} → {q('Gers Habitat')} ; type {q('bailleur')} → "
            f"{q('bailleur social')}",
            "faute de frappe",
        ),
        ("Camille Martin", "modification", f"type {q('bailleur social')} → (vide)", None),
    ]


def test_a_buyer_renamed_to_another_buyers_name_is_refused_with_the_merge_to_run(
    app: App,
) -> None:
    first = add_buyer(app, "Gers Habitat")
    second = add_buyer(app, "Gers-Habitat 2")

    same = refused(app, corrections.edit_buyer, second, name="Gers Habitat")
    near = refused(app, corrections.edit_buyer, second, name="GERS-HABITAT")

    assert same == (
        f"Le donneur d'ordre n° {first} s'appelle déjà {q('Gers Habitat')}. S'il s'agit du même, "
        f"fusionnez-les : {q(f'clauses buyer merge {second} --into {first}')}."
    )
    assert near.startswith(f"Le donneur d'ordre n° {first} s'appelle {q('Gers Habitat')}, le même")
    assert history(app) == []


def test_company_siret_is_checked_unique_and_can_be_cleared(app: App) -> None:
    holder = add_company(app, "Bâtiments du Sud", siret="73282932000074")
    other = add_company(app, "Bâtiment du Sud")

    bad_key = refused(app, corrections.edit_company, other, siret="732 829 320 00075")
    taken = refused(app, corrections.edit_company, other, siret="732 829 320 00074")
    assert "la clé de contrôle ne correspond pas" in bad_key
    assert taken == (
        f"Le SIRET 73282932000074 est déjà celui de l'entreprise n° {holder} "
        f"{q('Bâtiments du Sud')}. S'il s'agit de la même entreprise, fusionnez-les : "
        f"{q(f'clauses company merge {other} --into {holder}')}."
    )

    cleared = corrections.edit_company(app, "73282932000074", siret="", city="Auch")
    assert [(c.field, c.before, c.after) for c in cleared.changes] == [
        ("siret", "73282932000074", None),
        ("city", "", "Auch"),
    ]
    set_again = corrections.edit_company(app, other, siret="732 829 320 00074")
    assert [(c.before, c.after) for c in set_again.changes] == [(None, "73282932000074")]
    with app.transaction() as session:
        assert session.get_one(Company, holder).siret is None
        assert session.get_one(Company, other).siret == "73282932000074"
    rows = history(app, "company")
    assert [(r.entity_id, loaded(r.before), loaded(r.after)) for r in rows] == [
        (holder, {"siret": "73282932000074", "city": ""}, {"siret": None, "city": "Auch"}),
        (other, {"siret": None}, {"siret": "73282932000074"}),
    ]


def test_operation_market_and_lot_edits_keep_their_uniqueness_and_tell_the_clause_history(
    app: App, clock: Clock
) -> None:
    buyer = add_buyer(app, "Ville d'Auch")
    operation = add_operation(app, buyer, "Groupe scolaire")
    add_operation(app, buyer, "Médiathèque")
    market = add_market(app, operation, "2026-014")
    add_market(app, operation, "2026-015")
    first = add_lot(app, market, "1", "Gros oeuvre")
    add_lot(app, market, "2", "Charpente")

    assert "s'appelle déjà" in refused(
        app, corrections.edit_operation, operation, name="Médiathèque"
    )
    assert "a déjà la référence" in refused(
        app, corrections.edit_market, "2026-014", reference="2026-015"
    )
    lot_taken = refused(app, corrections.edit_lot, "2026-014/01", lot_number="02")
    assert lot_taken == (
        f"Le marché {q('2026-014')} a déjà le lot 2 (clause n° {first + 1}) : choisissez un "
        f"autre numéro pour la clause n° {first}."
    )

    clock.set(utc(2026, 3, 4, 8))
    corrections.edit_operation(
        app, "Groupe scolaire", name="Groupe scolaire Jean Jaurès", place="Auch"
    )
    corrections.edit_market(app, "2026-014", reference="2026-014-A", title="Construction")
    done = corrections.edit_lot(
        app, "2026-014-A/1", title="Gros œuvre", lot_number="01", reason="intitulé du CCAP"
    )

    assert done.name == "2026-014-A/01 Gros œuvre"
    with app.transaction() as session:
        clause = session.get_one(Clause, first)
        assert (clause.lot_title, clause.lot_number, clause.market.reference) == (
            "Gros œuvre", "01", "2026-014-A",
        )  # fmt: skip
        assert clause.market.operation.name == "Groupe scolaire Jean Jaurès"
        lot_row = session.scalars(
            select(ClauseHistory).where(
                ClauseHistory.clause_id == first, ClauseHistory.event == "lot"
            )
        ).one()
        assert (lot_row.from_stage, lot_row.to_stage, lot_row.at) == (
            clause.stage, clause.stage, utc(2026, 3, 4, 8),
        )  # fmt: skip
        assert lot_row.reason == (
            f"Intitulé {q('Gros oeuvre')} → {q('Gros œuvre')} ; numéro de lot {q('1')} → "
            f"{q('01')}. Motif : intitulé du CCAP"
        )
        # The audit reads it as an action that keeps the clause at its stage.
        assert check_histories(session)[1] == []
    card = corrections.buyer_card(app, buyer)
    assert [(h.record, h.text) for h in card.history] == [
        (f"opération n° {operation}", f"nom {q('Groupe scolaire')} → {q('Groupe scolaire Jean Jaurès')} ; lieu (vide) → {q('Auch')}"),
        (f"marché n° {market}", f"référence {q('2026-014')} → {q('2026-014-A')} ; intitulé (vide) → {q('Construction')}"),
        (f"lot (clause n° {first})", f"intitulé {q('Gros oeuvre')} → {q('Gros œuvre')} ; numéro de lot {q('1')} → {q('01')}"),
    ]  # fmt: skip


# --- a correspondent's new address ------------------------------------------------------------


def walk(app: App, first: date, last: date) -> None:
    day = first
    while day <= last:
        if is_working_day(day):
            ladder_pass(app, datetime(day.year, day.month, day.day, 7, tzinfo=UTC))
        day += timedelta(days=1)


def test_a_corrected_address_gets_the_retried_call_the_next_reminder_and_the_receipt(
    app: App, clock: Clock
) -> None:
    lot = make_lot(app)
    company = lot.company_ids[0]
    person = correspondent_of(app, company)
    typo = person.email
    ladder_pass(app, utc(2026, 4, 1, 7))
    # The server refuses the mistyped address: the welcome and the call are refused for good.
    refusing = MemoryTransport(script=lambda m: PermanentFailure("550 5.1.1 boîte inconnue"))
    dispatch_due(app, utc(2026, 4, 1, 7, 1), transport=refusing)
    [call] = ladder_emails(app)
    assert (call.state, addresses(call)) == ("failed", [typo])

    clock.set(utc(2026, 4, 2, 9))
    done = corrections.edit_correspondent(
        app, typo, email="paul.roux@batiments.example", reason="adresse mal recopiée"
    )

    with app.transaction() as session:
        # The one to leave: the lot started since the award, the welcome was written again.
        welcome = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.key.like(f"welcome:{lot.clause_id}:%"),
                OutboxMessage.state != "cancelled",
            )
        ).one()
        refreshed = session.get_one(OutboxMessage, call.id)
        assert addresses(refreshed) == ["paul.roux@batiments.example"]
        assert refreshed.state == "failed"  # readdressed, not sent behind the facilitator's back
        assert addresses(welcome) == ["paul.roux@batiments.example"]
    assert done.readdressed == tuple(sorted((welcome.id, call.id)))
    [row] = history(app, "correspondent")
    assert (row.entity_id, row.owner, row.owner_id) == (person.id, "company", company)
    assert loaded(row.before) == {"email": typo}
    assert loaded(row.after) == {
        "email": "paul.roux@batiments.example",
        "readdressed_emails": sorted((welcome.id, call.id)),
    }

    # « clauses mail retry » of the refused call: it leaves for the new address.
    with app.transaction() as session:
        retry_message(session, call.id, utc(2026, 4, 2, 9, 5))
    accepting = MemoryTransport()
    dispatch_due(app, utc(2026, 4, 2, 9, 6), transport=accepting)
    assert [(m.key, m.recipients) for m in accepting.sent] == [
        (call.key, ("paul.roux@batiments.example",))
    ]

    # The next reminder is queued for the new address, and so is the receipt of a declaration.
    walk(app, date(2026, 4, 2), date(2026, 4, 15))
    reminder = next(m for m in ladder_emails(app) if m.key.endswith(":reminder_1"))
    assert reminder.created_at == utc(2026, 4, 15, 7)
    assert addresses(reminder) == ["paul.roux@batiments.example"]
    declare(app, lot, date(2026, 3, 1), utc(2026, 4, 16, 10))
    with app.transaction() as session:
        receipt = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "declaration_receipt")
        ).one()
        assert addresses(receipt) == ["paul.roux@batiments.example"]
        # Every email that may still leave (a withdrawn one, the welcome written before the
        # start, keeps what it was written with, never to leave).
        everything = session.scalars(
            select(OutboxMessage.recipients).where(OutboxMessage.state != "cancelled")
        ).all()
    assert not any(typo in recipients for recipients in everything)


def test_a_buyer_contacts_new_address_gets_the_notices_not_yet_sent(app: App) -> None:
    lot = make_lot(app)
    with app.transaction() as session:
        contact = session.scalars(
            select(BuyerContact).where(BuyerContact.buyer_id == lot.buyer_id)
        ).one()
        old = contact.email
        waiting = session.scalars(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.clause_id == lot.clause_id,
                OutboxMessage.key.like("notice:%"),
                # The drafted notice gave way to the award's, recorded before it left.
                OutboxMessage.state == "pending",
            )
            .order_by(OutboxMessage.id)
        ).all()
    assert waiting  # the award's notices, queued, not sent

    done = corrections.edit_contact(
        app, old, buyer=lot.buyer_id, email="achats@habitat.example", role="acheteuse"
    )

    assert done.readdressed == tuple(waiting)
    with app.transaction() as session:
        for message in session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(waiting))):
            assert "achats@habitat.example" in addresses(message)
            assert old not in addresses(message)
    [row] = history(app, "buyer_contact")
    assert loaded(row.after) == {
        "email": "achats@habitat.example",
        "role": "acheteuse",
        "readdressed_emails": list(waiting),
    }
    [entry] = corrections.buyer_card(app, lot.buyer_id).history
    assert [c.field for c in entry.changes] == ["email", "role"]
    assert entry.text.endswith(
        f" ; {len(waiting)} courriels pas encore partis readressés "
        f"(n° {', '.join(str(n) for n in waiting)})"
    )


# --- deletions -----------------------------------------------------------------------------------


def test_a_deletion_is_refused_with_what_depends_on_the_record(app: App) -> None:
    lot = make_lot(app)
    company = lot.company_ids[0]
    ladder_pass(app, utc(2026, 4, 1, 7))
    with app.transaction() as session:
        clause = session.get_one(Clause, lot.clause_id)
        market, operation = clause.market_id, clause.market.operation_id
        person = session.scalars(
            select(Correspondent.id).where(Correspondent.company_id == company)
        ).one()

    buyer_no = refused(app, corrections.delete_buyer, lot.buyer_id)
    company_no = refused(app, corrections.delete_company, company)
    person_no = refused(app, corrections.delete_correspondent, person)
    operation_no = refused(app, corrections.delete_operation, operation)
    market_no = refused(app, corrections.delete_market, market)

    assert f"n'est pas supprimé : 1 opération (n° {operation}) en dépend." in buyer_no
    # Three emails: the call, and the welcome twice (written again for the lot started, the
    # first one withdrawn and kept in the email log).
    assert company_no == (
        f"L'entreprise n° {company} {q('Bâtiments Test')} n'est pas supprimée : 1 attribution "
        f"(clause n° {lot.clause_id}), 1 suivi des relances et 3 courriels en dépendent. Si elle "
        "fait double emploi avec une autre, fusionnez-les : "
        f"{q(f'clauses company merge {company} --into N°')}."
    )
    assert f"1 attribution qui le désigne (clause n° {lot.clause_id}) en dépend." in person_no
    assert f"1 marché (n° {market}) en dépend." in operation_no
    assert f"1 lot (clause n° {lot.clause_id}) en dépend." in market_no
    assert history(app) == []


def test_what_nothing_uses_is_deleted_and_its_history_kept(app: App, clock: Clock) -> None:
    lot = make_lot(app)
    company = lot.company_ids[0]
    spare = add_correspondent(app, company, "Zoé Bernard", "zoe@batiments.example")
    fresh = add_buyer(app, "Commune de Fleurance")
    with app.transaction() as session:
        anne = catalog.add_buyer_contact(
            session, fresh, name="Anne Petit", email="anne@fleurance.example"
        ).id
    operation = add_operation(app, lot.buyer_id, "Opération créée par erreur")
    market = add_market(app, operation, "X-1")
    clock.set(utc(2026, 3, 5, 14, 30))

    gone_person = corrections.delete_correspondent(
        app, "zoe@batiments.example", reason="a quitté l'entreprise"
    )
    gone_buyer = corrections.delete_buyer(app, "Fleurance", reason="doublon de saisie")
    corrections.delete_market(app, "X-1")
    corrections.delete_operation(app, operation)

    assert (gone_person.id, gone_person.name) == (spare, "Zoé Bernard <zoe@batiments.example>")
    assert gone_buyer.removed == (f"contact n° {anne} Anne Petit <anne@fleurance.example>",)
    with app.transaction() as session:
        assert session.get(Buyer, fresh) is None
        assert session.get(Correspondent, spare) is None
        assert session.get(Market, market) is None
        assert session.get(Operation, operation) is None
        assert (
            session.scalars(select(BuyerContact).where(BuyerContact.buyer_id == fresh)).all() == []
        )
    rows = history(app)
    assert [(r.entity, r.action, r.owner, r.owner_id) for r in rows] == [
        ("correspondent", "delete", "company", company),
        ("buyer", "delete", "buyer", fresh),
        ("market", "delete", "buyer", lot.buyer_id),
        ("operation", "delete", "buyer", lot.buyer_id),
    ]
    assert loaded(rows[1].before)["contacts"][0]["email"] == "anne@fleurance.example"
    assert rows[0].reason == "a quitté l'entreprise"

    # The record is gone, what it was is not: designated again, it says where it went.
    with pytest.raises(NotFound) as again:
        corrections.delete_buyer(app, fresh)
    assert again.value.message == (
        f"Le donneur d'ordre n° {fresh} {q('Commune de Fleurance')} n'existe plus : il a été "
        "supprimé le 05/03/2026 à 15:30 (Camille Martin)."
    )
    company_card = corrections.company_card(app, company)
    assert [(h.record, h.action_label, h.text) for h in company_card.history] == [
        (f"correspondant n° {spare}", "suppression", f"{q('Zoé Bernard')} supprimé")
    ]
    buyer_card = corrections.buyer_card(app, lot.buyer_id)
    assert [(h.record, h.text) for h in buyer_card.history] == [
        (f"marché n° {market}", f"{q('X-1')} supprimé"),
        (f"opération n° {operation}", f"{q('Opération créée par erreur')} supprimée"),
    ]


def test_a_new_record_under_a_deleted_ones_number_has_none_of_its_history(
    app: App, clock: Clock
) -> None:
    """SQLite gives the number of a deleted last row to the next record."""
    named = add_buyer(app, "Donneur d'ordre 2")
    old = add_buyer(app, "Ancien bailleur")
    corrections.edit_buyer(app, old, kind="bailleur")
    corrections.delete_buyer(app, old)
    clock.set(utc(2026, 3, 2, 10))

    new = add_buyer(app, "Nouveau bailleur")

    assert corrections.buyer_card(app, new).history == ()
    with pytest.raises(NotFound, match="n'existe plus : il a été supprimé le 02/03/2026 à 10:00"):
        corrections.buyer_card(app, "Ancien bailleur")
    if new != old:  # PostgreSQL never gives a number twice: the old one tells where it went,
        # rather than finding « Donneur d'ordre 2 » by a name that contains the digits.
        with pytest.raises(NotFound, match=f"n° {old} .* n'existe plus"):
            corrections.buyer_card(app, old)
    assert corrections.buyer_card(app, named).name == "Donneur d'ordre 2"


# --- merging buyers ------------------------------------------------------------------------------


def test_merging_buyers_moves_operations_and_contacts_and_is_told_twice(
    app: App, clock: Clock
) -> None:
    lot = make_lot(app)  # the buyer that stays, with a lot in execution
    with app.transaction() as session:
        kept_contact = session.scalars(
            select(BuyerContact).where(BuyerContact.buyer_id == lot.buyer_id)
        ).one()
        kept_address = kept_contact.email
        session.get_one(Buyer, lot.buyer_id).kind = ""
    duplicate = add_buyer(app, "Gers-Habitat", kind="bailleur")
    with app.transaction() as session:
        same = catalog.add_buyer_contact(
            session, duplicate, name="Acheteur", email=kept_address.upper()
        ).id
        other = catalog.add_buyer_contact(
            session, duplicate, name="Nina Sol", email="nina@gh.example"
        ).id
    operation = add_operation(app, duplicate, "Résidence Les Pins")
    market = add_market(app, operation, "2026-020")
    moved_lot = add_lot(app, market, "", "Voirie")
    clock.set(utc(2026, 3, 6, 11))

    done = corrections.merge_buyers(
        app, duplicate, into=lot.buyer_id, reason="doublon", actor="Léa Roux"
    )

    assert (done.source_id, done.target_id) == (duplicate, lot.buyer_id)
    assert {m.what: m.ids for m in done.moved} == {
        "operations": (operation,),
        "contacts": (other,),
        "duplicate_contacts": (same,),
        "kept_summaries": (),
    }
    assert [(c.field, c.before, c.after) for c in done.filled] == [("kind", "", "bailleur")]
    with app.transaction() as session:
        assert session.get(Buyer, duplicate) is None
        assert session.get(BuyerContact, same) is None
        assert session.get_one(BuyerContact, other).buyer_id == lot.buyer_id
        assert session.get_one(Operation, operation).buyer_id == lot.buyer_id
        assert session.get_one(Clause, moved_lot).market.operation.buyer_id == lot.buyer_id
        assert session.get_one(Buyer, lot.buyer_id).kind == "bailleur"
    source_row, target_row = history(app, "buyer")
    assert (source_row.entity_id, source_row.action, target_row.entity_id, target_row.action) == (
        duplicate, "merge", lot.buyer_id, "absorb",
    )  # fmt: skip
    assert loaded(target_row.after)["moved"] == {
        "operations": [operation], "contacts": [other], "duplicate_contacts": [same],
        "kept_summaries": [],
    }  # fmt: skip
    assert loaded(source_row.before)["name"] == "Gers-Habitat"
    assert (target_row.actor, target_row.at, target_row.reason) == (
        "Léa Roux",
        utc(2026, 3, 6, 11),
        "doublon",
    )

    card = corrections.buyer_card(app, lot.buyer_id)
    assert card.merged_from == (duplicate,)
    assert [h.text for h in card.history] == [
        f"doublon n° {duplicate} {q('Gers-Habitat')} fusionné ici : 1 opération, 1 contact, "
        f"1 contact en double retiré ; complété : type (vide) → {q('bailleur')}"
    ]
    # Run twice: the source is gone, and the message says where it went.
    for designation in (duplicate, "Gers-Habitat"):
        with pytest.raises(NotFound) as again:
            corrections.merge_buyers(app, designation, into=lot.buyer_id)
        assert again.value.message.startswith(
            f"Le donneur d'ordre n° {duplicate} {q('Gers-Habitat')} n'existe plus : il a été "
            f"fusionné dans le n° {lot.buyer_id} "
        )


def test_a_buyer_merge_that_would_break_a_rule_is_refused(app: App) -> None:
    kept = add_buyer(app, "Ville d'Auch")
    duplicate = add_buyer(app, "Ville d Auch", calendar=CalendarChange(due_day=5))
    add_operation(app, kept, "Médiathèque")
    clash = add_operation(app, duplicate, "Médiathèque")

    same_name = refused(app, corrections.merge_buyers, duplicate, into=kept)
    source, target = q("Ville d Auch"), q("Ville d'Auch")
    assert same_name == (
        f"Le donneur d'ordre n° {duplicate} {source} ne peut pas être "
        f"fusionné dans le n° {kept} {target} : tous deux ont une opération du même nom : "
        f"{q('Médiathèque')} (n° {clash} et n° {clash - 1}). Renommez l'une des deux "
        f"({q(f'clauses operation edit {clash} --name …')}) avant la fusion."
    )
    corrections.edit_operation(app, clash, name="Médiathèque (extension)")
    add_lot(app, add_market(app, clash, "M-9"), "", "Peinture")

    calendar = refused(app, corrections.merge_buyers, duplicate, into=kept)
    assert "leurs lots ne suivent pas les mêmes réglages" in calendar
    assert "échéance le 5, un avis à chaque étape ; n° " in calendar
    assert refused(app, corrections.merge_buyers, kept, into=kept).startswith(
        f"Le doublon et la fiche qui reste sont le donneur d'ordre n° {kept}"
    )


# --- merging companies ---------------------------------------------------------------------------


def test_merging_companies_moves_awards_declarations_ladders_and_email_keys(
    app: App, clock: Clock
) -> None:
    kept_lot = make_lot(app, companies=("Bâtiments du Sud",))
    moved_lot = make_lot(app, companies=("Batiments du Sud SARL",))
    kept, duplicate = kept_lot.company_ids[0], moved_lot.company_ids[0]
    with app.transaction() as session:
        session.get_one(Company, duplicate).siret = "73282932000074"
    ladder_pass(app, utc(2026, 4, 1, 7))
    declare(app, moved_lot, date(2026, 3, 1), utc(2026, 4, 3, 9))
    clock.set(utc(2026, 4, 7, 8))

    done = corrections.merge_companies(app, "732 829 320 00074", into=kept, reason="doublon")

    moved = {m.what: m.ids for m in done.moved}
    with app.transaction() as session:
        assert session.get(Company, duplicate) is None
        assert session.get_one(Company, kept).siret == "73282932000074"
        assert session.scalars(
            select(AwardParty.company_id).where(AwardParty.clause_id == moved_lot.clause_id)
        ).all() == [kept]
        assert session.scalars(select(Declaration.company_id)).all() == [kept]
        assert set(session.scalars(select(DeclarationLadder.company_id))) == {kept}
        keys = session.scalars(
            select(OutboxMessage.key).where(
                OutboxMessage.clause_id == moved_lot.clause_id,
                OutboxMessage.key.like("welcome:%") | OutboxMessage.key.like("reminder:%"),
            )
        ).all()
        assert keys and all(k.split(":")[2] == str(kept) for k in keys)
        assert len(moved["emails"]) == len(keys)
        # The audit still finds a cause for every email.
        assert check_outbox(session)[1] == []
        person = session.scalars(
            select(Correspondent).where(Correspondent.company_id == kept).order_by(Correspondent.id)
        ).all()
    assert len(moved["award_parties"]) == len(moved["declarations"]) == 1
    assert len(person) == 2 and moved["correspondents"] == (person[1].id,)
    assert [(c.field, c.after) for c in done.filled] == [("siret", "73282932000074")]

    # The moved ladder goes on under the kept company, and its reminder is keyed with it.
    walk(app, date(2026, 4, 7), date(2026, 5, 15))
    april = [m.key for m in ladder_emails(app) if f"reminder:{moved_lot.clause_id}:" in m.key]
    assert april and all(k.split(":")[2] == str(kept) for k in april)

    card = corrections.company_card(app, kept)
    assert card.merged_from == (duplicate,)
    assert [line.clause_id for line in card.lots] == [kept_lot.clause_id, moved_lot.clause_id]
    assert card.history[-1].text.startswith(
        f"doublon n° {duplicate} {q('Batiments du Sud SARL')} fusionné ici : 1 attribution, "
        "1 déclaration, "
    )
    with pytest.raises(NotFound, match="n'existe plus : elle a été fusionnée dans le n° "):
        corrections.merge_companies(app, duplicate, into=kept)


def test_a_company_merge_that_would_break_a_rule_is_refused(app: App) -> None:
    both = make_lot(app, companies=("Charpentes Test", "Charpentes-Test"))
    first, second = both.company_ids
    shared = refused(app, corrections.merge_companies, second, into=first)
    assert shared == (
        f"L'entreprise n° {second} {q('Charpentes-Test')} ne peut pas être "
        f"fusionnée dans le n° {first} {q('Charpentes Test')} : toutes deux sont attributaires "
        f"du lot (clause n° {both.clause_id}) : l'entreprise y figurerait deux fois. Retirez "
        "l'une des deux de l'attribution d'abord."
    )
    one = add_company(app, "Eiffage Gers", siret="73282932000074")
    two = add_company(app, "Eiffage Landes", siret="44201458000017")
    sirets = refused(app, corrections.merge_companies, two, into=one)
    assert (
        "leurs SIRET diffèrent (44201458000017 et 73282932000074) : ce sont deux établissements"
        in sirets
    )
    assert history(app) == []


# --- the migration -------------------------------------------------------------------------------


def test_the_history_table_comes_and_goes_with_its_migration(app: App) -> None:
    from alembic import command
    from sqlalchemy import inspect

    from tests.integration.test_smoke import head_revision

    corrections.edit_buyer(app, add_buyer(app, "Test"), kind="commune")
    config = alembic_config(app.engine)
    try:
        command.downgrade(config, "0005")
        assert current_revision(app.engine) == "0005"
        assert not inspect(app.engine).has_table("record_history")
    finally:
        command.upgrade(config, "head")
    assert current_revision(app.engine) == head_revision()
    assert history(app) == []
    corrections.edit_buyer(app, "Test", kind="")
    assert [loaded(r.after) for r in history(app)] == [{"kind": ""}]
