"""A receipt says what was recorded: one that would no longer be true does not leave.

Invariant over each scenario: every receipt still to leave (waiting, refused, given up) gives the
total of the declaration as it stands, the company's cumul on the lot up to that month as it
stands, and the months it still owes as they stand; a correction leaves one receipt to go, with
the new figures; a cancellation leaves none; a receipt already gone stays as it went."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import Clock
from tests.integration._ladders import Lot, ladder_pass, ladders
from tests.integration.test_clause_corrections import (
    APRIL,
    MARCH,
    REASON,
    add_participants,
    all_left,
    make,
    utc,
)
from tests.text import squash, visible
from workflow.adapters.orm import Clause, Declaration, OutboxMessage, Participant
from workflow.adapters.templates import french_date, french_month
from workflow.app.clause_corrections import cancel_declaration
from workflow.bootstrap import App
from workflow.domain.events import DomainEvent
from workflow.domain.vocabulary import ContractType, DeliveryMode
from workflow.services.declarations import (
    LineInput,
    company_missing_months,
    record_declaration,
)
from workflow.services.outbox import OutboxState

NOT_LEFT = (OutboxState.PENDING, OutboxState.FAILED, OutboxState.DEAD)


def receipts(app: App) -> list[OutboxMessage]:
    with app.transaction() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.kind == "declaration_receipt")
            .order_by(OutboxMessage.id)
        ).all()
        session.expunge_all()
        return list(rows)


def declare(app: App, lot: Lot, month: date, at: datetime, hours: Mapping[str, str]) -> int:
    """A declaration, or its correction, through the real service (its receipt with it)."""
    with app.transaction() as session:
        ids = {p.reference: p.id for p in session.scalars(select(Participant))}
        return record_declaration(
            session,
            clause_id=lot.clause_id,
            company_id=lot.company_ids[0],
            month=month,
            lines=[
                LineInput(ids[ref], Decimal(h), DeliveryMode.DIRECT_HIRING, ContractType.CDD)
                for ref, h in hours.items()
            ],
            actor="Correspondant",
            now=at,
            source="test",
            publish=app.publish,
            replace=True,
        ).id


def total_said(receipt: OutboxMessage) -> str:
    """« Total du mois : 120 h » as the company reads it: « 120 »."""
    found = re.search(r"Total du mois\s*:\s*([0-9 \u00a0\u202f,]+?)\s*h", receipt.body_text)
    assert found is not None, receipt.body_text
    return found.group(1)


def french_number(text: str) -> Decimal:
    return Decimal(re.sub(r"\s", "", text).replace(",", "."))


def cumul_said(receipt: OutboxMessage) -> str:
    """« Cumul déclaré par … jusqu'à avril 2026 inclus : 220 h. »: « 220 »."""
    found = re.search(r"inclus\s*:\s*([0-9 \u00a0\u202f,]+?)\s*h\.", receipt.body_text)
    assert found is not None, receipt.body_text
    return found.group(1)


def owed_said(receipt: OutboxMessage) -> list[str]:
    """The months the receipt says are still to declare: « mars 2026 », …"""
    text = receipt.body_text
    if "Tous les mois ouverts sont déclarés" in text:
        return []
    found = re.search(r"Il reste [^\n]* à déclarer sur ce lot\s*:\n((?:- .*\n(?:  .*\n)*)+)", text)
    assert found is not None, text
    return re.findall(r"^- (\w+ \d{4}) :", found.group(1), re.MULTILINE)


def assert_receipts_to_go_are_true(app: App, now: datetime | None = None) -> None:
    """Each receipt still to leave gives its month's total; with ``now`` (the last thing done),
    also the cumul up to its month and the months still owed as they stand."""
    to_go = [r for r in receipts(app) if r.state in NOT_LEFT]
    with app.transaction() as session:
        declarations = {d.id: d for d in session.scalars(select(Declaration))}
        for receipt in to_go:
            number = int(receipt.key.split(":")[1])
            assert number in declarations, (receipt.key, "the declaration was cancelled")
            declaration = declarations[number]
            assert french_number(total_said(receipt)) == declaration.total_hours, receipt.key
            if now is None:
                continue
            same = [
                d
                for d in declarations.values()
                if (d.clause_id, d.company_id) == (declaration.clause_id, declaration.company_id)
            ]
            cumul = sum((d.total_hours for d in same if d.month <= declaration.month), Decimal(0))
            assert french_number(cumul_said(receipt)) == cumul, receipt.key
            clause = session.get_one(Clause, declaration.clause_id)
            owed = company_missing_months(
                session, clause, declaration.company_id, now=now, zone=app.settings.zone
            )
            assert owed_said(receipt) == [french_month(m) for m in owed]


def test_a_correction_leaves_one_receipt_to_go_with_the_new_figures(app: App) -> None:
    lot = make(app)
    add_participants(app, "P-1")
    declare(app, lot, MARCH, utc(2026, 4, 3, 8), {"P-1": "120"})
    declare(app, lot, MARCH, utc(2026, 4, 3, 9), {"P-1": "80"})

    first, second = receipts(app)
    assert first.state == OutboxState.CANCELLED and total_said(first) == "120"
    assert (first.last_error or "").startswith("Remplacé : la déclaration a été corrigée le ")
    assert second.state == OutboxState.PENDING and total_said(second) == "80"
    assert_receipts_to_go_are_true(app)


def test_a_correction_at_the_same_instant_still_replaces_the_first(app: App) -> None:
    lot = make(app)
    add_participants(app, "P-1")
    declare(app, lot, MARCH, utc(2026, 4, 3, 8), {"P-1": "120"})
    declare(app, lot, MARCH, utc(2026, 4, 3, 8), {"P-1": "80"})

    assert [(r.state, total_said(r)) for r in receipts(app)] == [
        (OutboxState.CANCELLED, "120"),
        (OutboxState.PENDING, "80"),
    ]
    assert_receipts_to_go_are_true(app)


def test_a_cancellation_withdraws_the_receipt_still_waiting(app: App, clock: Clock) -> None:
    lot = make(app)
    add_participants(app, "P-1")
    declare(app, lot, MARCH, utc(2026, 4, 3, 8), {"P-1": "120"})
    clock.set(utc(2026, 4, 6, 9))
    cancel_declaration(
        app, clause=lot.clause_id, company=lot.company_ids[0], month=MARCH, reason=REASON
    )

    [receipt] = receipts(app)
    assert receipt.state == OutboxState.CANCELLED
    assert (receipt.last_error or "").startswith(
        "Retiré : la déclaration a été annulée le 6 avril 2026 par "
    )
    assert (receipt.last_error or "").endswith(", cet accusé de réception n'était plus vrai.")
    assert_receipts_to_go_are_true(app)


def test_a_receipt_already_gone_stays_as_it_went(app: App, clock: Clock) -> None:
    lot = make(app)
    add_participants(app, "P-1")
    declare(app, lot, MARCH, utc(2026, 4, 3, 8), {"P-1": "120"})
    with app.transaction() as session:
        for row in session.scalars(select(OutboxMessage)):
            row.state, row.sent_at = OutboxState.SENT, utc(2026, 4, 3, 8)
    clock.set(utc(2026, 4, 6, 9))
    cancel_declaration(
        app, clause=lot.clause_id, company=lot.company_ids[0], month=MARCH, reason=REASON
    )
    declare(app, lot, MARCH, utc(2026, 4, 7, 8), {"P-1": "80"})

    assert [(r.state, total_said(r)) for r in receipts(app)] == [
        (OutboxState.SENT, "120"),
        (OutboxState.PENDING, "80"),
    ]
    assert_receipts_to_go_are_true(app)


def test_a_correction_s_receipt_says_which_receipt_it_replaces(app: App) -> None:
    """The company may already hold the first receipt (sent before the correction): the second
    says it replaces it, with the first one's date and total, so nobody adds the two."""
    lot = make(app)
    add_participants(app, "P-1")
    declare(app, lot, MARCH, utc(2026, 4, 3, 8), {"P-1": "120"})
    with app.transaction() as session:
        for row in session.scalars(select(OutboxMessage)):
            row.state, row.sent_at = OutboxState.SENT, utc(2026, 4, 3, 8)
    declare(app, lot, MARCH, utc(2026, 4, 7, 8), {"P-1": "80.5"})

    first, second = receipts(app)
    assert second.subject.startswith("Déclaration corrigée : mars 2026")
    assert first.subject.startswith("Déclaration reçue : mars 2026")
    said = squash(second.body_text)
    assert (
        "Elle remplace votre déclaration de ce mois reçue le 3 avril 2026 (120\u00a0h) : ce message "
        "annule le reçu précédent, seuls comptent les chiffres ci-dessous." in said
    )
    assert total_said(second) == "80,50"
    assert "Elle remplace" in squash(visible(second.body_html or ""))
    assert "Elle remplace" not in first.body_text


# --- another month declared or cancelled while a receipt waits ----------------------------------


def test_a_month_declared_while_another_s_receipt_waits_rewrites_that_receipt(app: App) -> None:
    """April's receipt, still waiting, listed March as owed and a cumul without it: March
    declared an hour later, it is withdrawn and leaves again as it now stands."""
    lot = make(app)
    add_participants(app, "P-1")
    declare(app, lot, APRIL, utc(2026, 5, 4, 8), {"P-1": "100"})
    [april] = receipts(app)
    assert owed_said(april) == ["mars 2026"] and cumul_said(april) == "100"

    declare(app, lot, MARCH, utc(2026, 5, 4, 9), {"P-1": "120"})

    first, march, april_again = receipts(app)
    assert first.state == OutboxState.CANCELLED
    assert first.last_error == (
        "Remplacé : le mois de mars 2026 a été déclaré le 4 mai 2026 ; l'accusé de réception "
        "à jour (mois restant à déclarer, cumul) part à sa place."
    )
    assert march.key.startswith(f"receipt:{int(march.key.split(':')[1])}:2026-05-04T09")
    assert april_again.key == f"{first.key}:maj:2026-05-04T09:00:00+00:00"
    assert april_again.state == OutboxState.PENDING
    assert april_again.subject == first.subject
    assert owed_said(april_again) == [] and cumul_said(april_again) == "220"
    assert "Tous les mois ouverts sont déclarés sur ce lot." in april_again.body_text
    # Its link to correct April is the one the first receipt gave (the same expiry).
    link = re.compile(r"http://\S+/declarer/\S+")
    assert link.findall(april_again.body_text) == [link.findall(first.body_text)[-1]]
    assert_receipts_to_go_are_true(app, utc(2026, 5, 4, 9))


def test_months_declared_in_one_act_each_receipt_sees_them_all(app: App) -> None:
    """An act recording April and March at once (as an import does: their events published
    once both are recorded): each receipt sees both, none is rewritten or withdrawn."""
    lot = make(app)
    add_participants(app, "P-1")
    at = utc(2026, 5, 4, 8)
    events: list[tuple[Session, DomainEvent]] = []
    with app.transaction() as session:
        ids = {p.reference: p.id for p in session.scalars(select(Participant))}
        for month, hours in ((APRIL, "100"), (MARCH, "120")):
            record_declaration(
                session,
                clause_id=lot.clause_id,
                company_id=lot.company_ids[0],
                month=month,
                lines=[
                    LineInput(
                        ids["P-1"], Decimal(hours), DeliveryMode.DIRECT_HIRING, ContractType.CDD
                    )
                ],
                actor="Import",
                now=at,
                source="test",
                publish=lambda session, event: events.append((session, event)),
            )
        for event_session, event in events:
            app.publish(event_session, event)

    april, march = receipts(app)
    assert [april.state, march.state] == [OutboxState.PENDING, OutboxState.PENDING]
    assert owed_said(april) == [] and cumul_said(april) == "220"
    assert owed_said(march) == [] and cumul_said(march) == "120"
    assert_receipts_to_go_are_true(app, at)


def test_a_month_cancelled_is_owed_again_in_the_receipt_still_waiting(
    app: App, clock: Clock
) -> None:
    lot = make(app)
    add_participants(app, "P-1")
    declare(app, lot, MARCH, utc(2026, 5, 4, 8), {"P-1": "120"})
    declare(app, lot, APRIL, utc(2026, 5, 4, 9), {"P-1": "100"})
    [april] = [r for r in receipts(app) if r.subject.startswith("Déclaration reçue : avril")]
    assert owed_said(april) == [] and cumul_said(april) == "220"

    clock.set(utc(2026, 5, 5, 9))
    cancel_declaration(
        app, clause=lot.clause_id, company=lot.company_ids[0], month=MARCH, reason=REASON
    )

    by_key = {r.key: r for r in receipts(app)}
    assert by_key[april.key].state == OutboxState.CANCELLED
    assert (by_key[april.key].last_error or "").startswith(
        "Remplacé : le mois de mars 2026 a été annulé le 5 mai 2026 ; "
    )
    again = by_key[f"{april.key}:maj:2026-05-05T09:00:00+00:00"]
    assert owed_said(again) == ["mars 2026"] and cumul_said(again) == "100"
    assert_receipts_to_go_are_true(app, utc(2026, 5, 5, 9))


def test_a_receipt_gone_is_not_rewritten_and_one_unchanged_stays(app: App) -> None:
    """March's receipt has left: April declared after changes nothing of it. April's receipt
    waits: May declared early (before it is owed) changes nothing April's receipt says."""
    lot = make(app)
    add_participants(app, "P-1")
    declare(app, lot, MARCH, utc(2026, 4, 3, 8), {"P-1": "120"})
    with app.transaction() as session:
        for row in session.scalars(select(OutboxMessage)):
            row.state, row.sent_at = OutboxState.SENT, utc(2026, 4, 3, 8)
    declare(app, lot, APRIL, utc(2026, 5, 4, 8), {"P-1": "100"})

    march, april = receipts(app)
    assert march.state == OutboxState.SENT and owed_said(march) == []
    assert april.state == OutboxState.PENDING and cumul_said(april) == "220"
    assert_receipts_to_go_are_true(app, utc(2026, 5, 4, 8))


def test_a_correction_s_receipt_rewritten_still_says_what_it_replaces(app: App) -> None:
    lot = make(app)
    add_participants(app, "P-1")
    declare(app, lot, APRIL, utc(2026, 5, 4, 8), {"P-1": "100"})
    with app.transaction() as session:
        for row in session.scalars(select(OutboxMessage)):
            row.state, row.sent_at = OutboxState.SENT, utc(2026, 5, 4, 8)
    declare(app, lot, APRIL, utc(2026, 5, 5, 8), {"P-1": "90"})
    declare(app, lot, MARCH, utc(2026, 5, 5, 10), {"P-1": "120"})

    _, correction, _, correction_again = receipts(app)
    assert correction.state == OutboxState.CANCELLED
    assert correction_again.subject.startswith("Déclaration corrigée : avril 2026")
    said = squash(correction_again.body_text)
    assert "Elle remplace votre déclaration de ce mois reçue le 4 mai 2026 (100\u00a0h)" in said
    assert cumul_said(correction_again) == "210" and owed_said(correction_again) == []
    assert_receipts_to_go_are_true(app, utc(2026, 5, 5, 10))


def test_a_month_cancelled_before_its_call_is_owed_by_the_date_its_call_will_give(
    app: App, clock: Clock
) -> None:
    """March declared before its call, April after; March cancelled on 30 April at noon: its
    call leaves on Monday 4 May (1 May is off), with a due date of its own. April's receipt,
    rewritten, gives March that date, and does not call it late."""
    lot = make(app)
    add_participants(app, "P-1")
    declare(app, lot, MARCH, utc(2026, 3, 31, 15), {"P-1": "120"})
    all_left(app)
    ladder_pass(app, utc(2026, 4, 1, 7))
    declare(app, lot, APRIL, utc(2026, 4, 30, 9), {"P-1": "100"})
    clock.set(utc(2026, 4, 30, 10))
    cancel_declaration(
        app, clause=lot.clause_id, company=lot.company_ids[0], month=MARCH, reason=REASON
    )
    [april] = [
        r
        for r in receipts(app)
        if r.state == OutboxState.PENDING and r.subject.startswith("Déclaration reçue : avril")
    ]

    ladder_pass(app, utc(2026, 5, 4, 7))
    [march_ladder] = [lad for lad in ladders(app) if lad.month == MARCH]
    assert march_ladder.called_at == utc(2026, 5, 4, 7)
    line = squash(re.search(r"^- mars 2026 : (.*)$", april.body_text, re.MULTILINE)[1])  # type: ignore[index]
    assert "en retard" not in line
    assert f"au plus tard le {french_date(march_ladder.due_on)}" in line, line
    assert_receipts_to_go_are_true(app, utc(2026, 4, 30, 10))


def test_a_receipt_rewritten_keeps_its_links_and_is_not_rewritten_for_nothing(app: App) -> None:
    """March's receipt, rewritten once April is declared, keeps the links it was first written
    with: a correction of April with the same hours two days later changes nothing it says, and
    it stays. A correction of March itself makes April's receipt say « corrigé »."""
    lot = make(app)
    add_participants(app, "P-1")
    declare(app, lot, MARCH, utc(2026, 5, 4, 8), {"P-1": "120"})
    declare(app, lot, APRIL, utc(2026, 5, 6, 8), {"P-1": "100"})
    first_march, _, march_again = receipts(app)
    assert march_again.key.startswith(first_march.key + ":maj:")
    link = re.compile(r"http://\S+/declarer/\S+")
    assert link.findall(march_again.body_text) == link.findall(first_march.body_text)[-1:]

    declare(app, lot, APRIL, utc(2026, 5, 8, 8), {"P-1": "100"})
    assert by_state(app)[march_again.key] == OutboxState.PENDING  # still the one to go

    declare(app, lot, MARCH, utc(2026, 5, 11, 8), {"P-1": "90"})
    cancelled = [r for r in receipts(app) if r.state == OutboxState.CANCELLED]
    assert any(
        (r.last_error or "").startswith(
            "Remplacé : le mois de mars 2026 a été corrigé le 11 mai 2026 ; "
        )
        for r in cancelled
    )
    assert_receipts_to_go_are_true(app, utc(2026, 5, 11, 8))


def by_state(app: App) -> dict[str, str]:
    return {r.key: r.state for r in receipts(app)}
