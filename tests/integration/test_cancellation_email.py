"""The company told that the facilitator cancelled its declaration (SQLite and PostgreSQL): the
email read as the company reads it (lot, month, total cancelled, reason, the date its ladder now
holds it to, a link that opens the month's page), queued once, delivered once; a receipt still
waiting never leaves beside it; a company without an address is simply not written to.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import Lot, ladder_pass, ladders
from tests.integration.test_clause_corrections import (
    MARCH,
    REASON,
    add_participants,
    clean,
    declare,
    make,
    utc,
)
from tests.text import squash, visible
from workflow.adapters.mail.memory import MemoryTransport
from workflow.adapters.orm import Clause, Correspondent, DeclarationLadder, OutboxMessage
from workflow.adapters.templates import french_date
from workflow.app import corrections
from workflow.app.clause_corrections import cancel_declaration, informed_sentence
from workflow.bootstrap import App
from workflow.entrypoints.web.site import create_site
from workflow.errors import NotFound
from workflow.services.audit import verify
from workflow.services.dispatch import dispatch_due
from workflow.services.ticks import run_pass

NBSP = "\u00a0"
KIND = "declaration_cancelled"


def at(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def memory(app: App) -> MemoryTransport:
    transport = MemoryTransport()
    app.transport = transport
    return transport


def rows(app: App, kind: str) -> list[OutboxMessage]:
    with app.transaction() as session:
        found = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
        ).all()
        session.expunge_all()
        return list(found)


def march_ladder(app: App, lot: Lot) -> DeclarationLadder:
    [ladder] = [
        lad for lad in ladders(app) if lad.month == MARCH and lad.company_id == lot.company_ids[0]
    ]
    return ladder


def facts(app: App, lot: Lot) -> tuple[str, str, str]:
    """The lot's operation, market reference and the correspondent's address."""
    with app.transaction() as session:
        clause = session.get_one(Clause, lot.clause_id)
        correspondent = session.scalars(
            select(Correspondent).where(Correspondent.company_id == lot.company_ids[0])
        ).one()
        return clause.market.operation.name, clause.market.reference, correspondent.email


def link_path(body: str) -> str:
    found = re.findall(r"https?://\S+/declarer/\S+", body)
    assert len(found) == 1, body
    return urlparse(found[0]).path


def test_the_company_reads_what_was_cancelled_why_and_by_when_to_declare_again(
    app: App, clock: Clock, memory: MemoryTransport
) -> None:
    """Declared before its call (31 March), its receipt delivered; cancelled on 14 April, after
    the due date: the month is called again with a new due date, the one the email gives."""
    lot = make(app)
    add_participants(app, "P-1", "P-2")
    number = declare(app, lot, MARCH, utc(2026, 3, 31, 15), {"P-1": "120", "P-2": "30.5"})
    run_pass(app, at(2026, 3, 31, 15, 1))
    assert [m.kind for m in rows(app, "declaration_receipt")] == ["declaration_receipt"]
    assert rows(app, "declaration_receipt")[0].state == "sent"
    ladder_pass(app, utc(2026, 4, 1, 7))  # declared: no call for March

    clock.set(utc(2026, 4, 14, 16))  # 18:00 in Paris
    cancelled = cancel_declaration(
        app, clause=lot.clause_id, company="Bâtiments Test", month=MARCH, reason=REASON
    )

    operation, market, address = facts(app, lot)
    assert cancelled.informed == (address,)
    assert informed_sentence(cancelled) == (
        f"L'entreprise en est informée par courriel ({address}) : le motif, et la date à "
        "laquelle déclarer de nouveau ce mois."
    )
    ladder = march_ladder(app, lot)
    assert ladder.next_step == "call"
    [email] = rows(app, KIND)
    assert email.key == (
        f"cancellation:{lot.clause_id}:{lot.company_ids[0]}:{number}:2026-04-14T16:00:00+00:00"
    )
    assert address in email.recipients and email.clause_id == lot.clause_id
    assert email.subject == (
        f"Déclaration de mars 2026 annulée, à déclarer de nouveau – {operation}, lot 1 – Gros œuvre"
    )
    text = squash(email.body_text)
    assert (
        "J'ai annulé le 14 avril 2026 votre déclaration des heures d'insertion de mars 2026 "
        f"pour le lot 1 «{NBSP}Gros œuvre{NBSP}» ({operation}), reçue le 31 mars 2026 : "
        f"150,50{NBSP}h, 2 lignes. L'accusé de réception que vous avez reçu pour elle ne vaut "
        f"plus : ces heures ne comptent plus dans le cumul de Bâtiments Test sur ce lot."
    ) in text
    assert f"Motif de l'annulation : « {REASON} »" in text
    assert f"- Marché : {market} – Travaux - Lot : 1 – Gros œuvre" in text
    # The date the ladder holds the company to, read in the database: the resumed call's.
    assert ladder.due_on > date(2026, 4, 15)
    assert (
        f"Le mois de mars 2026 est de nouveau attendu : merci de déclarer à nouveau ce "
        f"mois d'ici le {french_date(ladder.due_on)}."
    ) in text
    assert "Un appel à déclarer vous le redemandera le 15 avril 2026." in text
    assert "Camille Martin" in text and "camille.martin@example.org" in text
    # Its participants are never named, in either part.
    for part in (email.body_text, email.body_html, email.subject):
        assert "P-1" not in part and "P-2" not in part
    html = visible(email.body_html)
    assert f"merci de déclarer à nouveau ce mois d'ici le {french_date(ladder.due_on)}" in html
    assert REASON in html

    # The link opens March's page, for this company, to declare it again.
    page = TestClient(create_site(app)).get(link_path(email.body_text))
    assert page.status_code == 200
    shown = visible(page.text)
    assert "Heures d'insertion de mars 2026" in shown and "Bâtiments Test" in shown

    # Cancelling again is refused and writes nothing more.
    with pytest.raises(NotFound, match="rien à annuler"):
        cancel_declaration(
            app, clause=lot.clause_id, company="Bâtiments Test", month=MARCH, reason=REASON
        )
    assert [m.key for m in rows(app, KIND)] == [email.key]

    # The clock runs: the email leaves once, to the company, and never again.
    for moment in (at(2026, 4, 14, 16, 1), utc(2026, 4, 15, 7), utc(2026, 4, 16, 7)):
        clock.set(moment)
        run_pass(app, moment)
    assert memory.keys().count(email.key) == 1
    [sent] = [m for m in memory.sent if m.key == email.key]
    assert sent.recipients == (address,)
    assert [m.state for m in rows(app, KIND)] == ["sent"]
    clean(app)


def test_a_receipt_still_waiting_never_leaves_beside_the_cancellation(
    app: App, clock: Clock, memory: MemoryTransport
) -> None:
    """Declared, then cancelled before the receipt left: the receipt is withdrawn and the email
    says it will not come, rather than that the one received no longer holds."""
    lot = make(app)
    ladder_pass(app, utc(2026, 4, 1, 7))
    dispatch_due(app, at(2026, 4, 1, 7, 5))  # March's call leaves
    add_participants(app, "P-1")
    declare(app, lot, MARCH, utc(2026, 4, 9, 10), {"P-1": "42"})
    clock.set(at(2026, 4, 9, 10, 0))
    cancel_declaration(
        app, clause=lot.clause_id, company="Bâtiments Test", month=MARCH, reason=REASON
    )

    [receipt] = rows(app, "declaration_receipt")
    assert receipt.state == "cancelled"
    [email] = rows(app, KIND)
    text = squash(email.body_text)
    assert (
        "Son accusé de réception, qui n'était pas encore parti, ne vous sera pas envoyé : "
        "ces heures ne comptent pas dans le cumul de Bâtiments Test sur ce lot."
    ) in text
    assert "que vous avez reçu" not in text
    # Due on 10 April, still ahead: the date its call gave.
    ladder = march_ladder(app, lot)
    assert ladder.due_on == date(2026, 4, 10)
    assert f"merci de déclarer à nouveau ce mois d'ici le {french_date(ladder.due_on)}." in text

    moment = at(2026, 4, 9, 10, 1)
    clock.set(moment)
    run_pass(app, moment)
    sent = memory.keys()
    assert [k for k in sent if k.startswith(("receipt:", "cancellation:"))] == [email.key]
    clean(app)


def test_after_its_due_date_the_company_reads_when_its_reminders_take_up_again(
    app: App, clock: Clock
) -> None:
    lot = make(app)
    ladder_pass(app, utc(2026, 4, 1, 7))
    dispatch_due(app, at(2026, 4, 1, 7, 5))  # March's call leaves
    declare(app, lot, MARCH, utc(2026, 4, 9, 10), {})
    clock.set(utc(2026, 4, 22, 10))
    cancelled = cancel_declaration(
        app, clause=lot.clause_id, company="Bâtiments Test", month=MARCH, reason=REASON
    )

    ladder = march_ladder(app, lot)
    assert cancelled.ladder is not None and cancelled.ladder.at == ladder.next_step_at
    [email] = rows(app, KIND)
    text = squash(email.body_text)
    assert "reçue le 9 avril 2026 : une déclaration à zéro heure." in text.replace(NBSP, " ")
    assert (
        "Le mois de mars 2026 est de nouveau attendu. Il était à déclarer au plus tard le 10 "
        "avril 2026 : merci de le déclarer à nouveau dès que possible."
    ) in text
    # Cancelled on Wednesday 22 April: reminder 1 keeps its 3 working days after it.
    assert ladder.next_step == "reminder_1" and ladder.next_step_at == utc(2026, 4, 27, 7)
    assert (
        "Sans nouvelle déclaration, les rappels reprendront où ils en étaient : le "
        "prochain partira le 27 avril 2026."
    ) in text
    clean(app)


def test_a_company_without_an_address_is_not_written_to_and_the_facilitator_is_told(
    app: App, clock: Clock
) -> None:
    lot = make(app)
    declare(app, lot, MARCH, utc(2026, 4, 3, 8), {})
    with app.transaction() as session:
        for correspondent in session.scalars(select(Correspondent)):
            correspondent.email = ""
    clock.set(utc(2026, 4, 6, 9))
    cancelled = cancel_declaration(
        app, clause=lot.clause_id, company="Bâtiments Test", month=MARCH, reason=REASON
    )

    assert cancelled.informed == ()
    assert informed_sentence(cancelled) == (
        "Bâtiments Test n'a pas de correspondant avec une adresse e-mail : elle n'est pas "
        "informée de l'annulation par courriel, prévenez-la vous-même."
    )
    assert rows(app, KIND) == []
    clean(app)


def test_the_email_names_a_declaration_number_given_again_only_once_per_cancellation(
    app: App, clock: Clock
) -> None:
    """Declared, cancelled, declared again (SQLite may give the freed number again), cancelled
    again: two cancellations, two emails, each with its own figures."""
    lot = make(app)
    add_participants(app, "P-1")
    declare(app, lot, MARCH, utc(2026, 4, 3, 8), {"P-1": "10"})
    clock.set(utc(2026, 4, 6, 9))
    cancel_declaration(
        app, clause=lot.clause_id, company="Bâtiments Test", month=MARCH, reason=REASON
    )
    declare(app, lot, MARCH, utc(2026, 4, 7, 8), {"P-1": "20"})
    clock.set(utc(2026, 4, 8, 9))
    cancel_declaration(
        app, clause=lot.clause_id, company="Bâtiments Test", month=MARCH, reason="Autre lot"
    )

    first, second = rows(app, KIND)
    assert first.key != second.key
    assert f"10{NBSP}h, 1 ligne" in squash(first.body_text)
    assert f"20{NBSP}h, 1 ligne" in squash(second.body_text)
    assert "« Autre lot »" in second.body_text
    clean(app)


def test_the_audit_finds_a_cancellation_email_whose_cancellation_does_not_exist(
    app: App, clock: Clock
) -> None:
    lot = make(app)
    declare(app, lot, MARCH, utc(2026, 4, 3, 8), {})
    clock.set(utc(2026, 4, 6, 9))
    cancel_declaration(
        app, clause=lot.clause_id, company="Bâtiments Test", month=MARCH, reason=REASON
    )
    clean(app)
    with app.transaction() as session:
        row = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == KIND)).one()
        row.key = row.key.replace("2026-04-06T09", "2026-04-06T10")
        number = row.key.split(":")[3]
    found = [f.line for f in verify(app).findings]
    assert (
        len(found) == 1
        and (
            f"aucune annulation de la déclaration n° {number} sur la clause n° {lot.clause_id} "
            "à l'instant 2026-04-06T10:00:00+00:00"
        )
        in found[0]
    )


def test_a_corrected_address_gets_the_cancellation_email_not_yet_sent(
    app: App, clock: Clock
) -> None:
    lot = make(app)
    declare(app, lot, MARCH, utc(2026, 4, 3, 8), {})
    clock.set(utc(2026, 4, 6, 9))
    cancel_declaration(
        app, clause=lot.clause_id, company="Bâtiments Test", month=MARCH, reason=REASON
    )
    _, _, typo = facts(app, lot)

    done = corrections.edit_correspondent(
        app, typo, email="paul.roux@batiments.example", reason="adresse mal recopiée"
    )

    [email] = rows(app, KIND)
    assert email.id in done.readdressed
    assert "paul.roux@batiments.example" in email.recipients and typo not in email.recipients
    clean(app)
