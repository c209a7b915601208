"""What a receipt, a planned end's notice and a cancellation's email say stays true when they
leave (user trial, three false statements).

- A receipt still waiting announced « Le mois suivant : avril 2026 … » and counted the months
  still owed; the lot's planned end moved before April, its end recorded (« achever »), its
  contract terminated or the lot suspended while it waited: it is written again as of that
  moment (``receipt_withdrawals``), the first one withdrawn with its reason.
- A planned end moved into the past, after its last month's due date: the companies and the
  buyer read that the date has passed, not that the declaration « est attendue » by it.
- A declaration corrected by the facilitator, then cancelled: the company reads when it sent it
  and when it was corrected, not the correction's day as its reception.

Each scenario leaves ``clauses audit verify`` clean."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import Lot, make_lot
from tests.integration.test_clause_corrections import add_participants, declare, walk
from tests.integration.test_receipt_withdrawals import declare as declare_again
from tests.text import squash, visible
from workflow.adapters.orm import OutboxMessage
from workflow.app import clauses as clause_app
from workflow.app.audit import verify_database
from workflow.app.clause_corrections import cancel_declaration
from workflow.bootstrap import App
from workflow.domain.stages import ClauseEvent
from workflow.domain.vocabulary import PartyRole
from workflow.services.outbox import OutboxState

MARCH, APRIL = date(2026, 3, 1), date(2026, 4, 1)
#: The month to come, as a receipt announces it (« Prochaine déclaration : avril 2026, à
#: déclarer à partir du 30 avril 2026 et au plus tard le 11 mai 2026. »).
NEXT_APRIL = "avril 2026, à déclarer à partir du"
NEXT = ("Prochaine déclaration", "Le mois suivant")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def emails(app: App, kind: str) -> list[OutboxMessage]:
    with app.transaction() as session:
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
        ).all()
        session.expunge_all()
        return list(rows)


def clean(app: App) -> None:
    assert [f.line for f in verify_database(app).findings] == []


def march_declared(app: App, clock: Clock) -> Lot:
    """A lot from 2 March to 31 December 2026; March declared on 3 April, its receipt waiting:
    it announces April as the month to come."""
    lot = make_lot(app)
    add_participants(app, "P-1")
    clock.set(utc(2026, 4, 3, 8))
    declare(app, lot, MARCH, utc(2026, 4, 3, 8), {"P-1": "120"})
    [receipt] = emails(app, "declaration_receipt")
    assert NEXT_APRIL in squash(receipt.body_text)
    return lot


def rewritten(app: App, cause: str) -> OutboxMessage:
    """The first receipt withdrawn for ``cause``, the one written again waiting: returned."""
    first, again = emails(app, "declaration_receipt")
    assert first.state == OutboxState.CANCELLED
    assert first.last_error == (
        f"Remplacé : {cause} ; l'accusé de réception à jour (mois restant à déclarer, mois "
        "suivant) part à sa place."
    )
    assert again.state == OutboxState.PENDING
    assert again.key.startswith(f"{first.key}:maj:")
    assert again.subject == first.subject
    return again


def test_a_planned_end_moved_before_the_next_month_rewrites_the_receipt_waiting(
    app: App, clock: Clock
) -> None:
    lot = march_declared(app, clock)
    # Moved, April still in the works: the receipt still says true, it stays as it is.
    clock.set(utc(2026, 4, 3, 8, 30))
    clause_app.set_planned_end(app, lot.clause_id, date(2026, 11, 30), reason="avenant n° 1")
    [receipt] = emails(app, "declaration_receipt")
    assert receipt.state == OutboxState.PENDING

    clock.set(utc(2026, 4, 3, 9))
    clause_app.set_planned_end(app, lot.clause_id, date(2026, 3, 31), reason="avenant n° 2")

    again = rewritten(app, "la fin prévue du lot a été portée au 31 mars 2026 le 3 avril 2026")
    for words in NEXT:
        assert words not in again.body_text
        assert words not in visible(again.body_html or "")
    clean(app)


@pytest.mark.parametrize(
    ("event", "cause"),
    [
        (ClauseEvent.FINISH, "la fin d'exécution du lot a été enregistrée le 3 avril 2026"),
        (ClauseEvent.TERMINATE, "la résiliation du marché a été enregistrée le 3 avril 2026"),
    ],
)
def test_an_end_recorded_before_the_next_month_rewrites_the_receipt_waiting(
    app: App, clock: Clock, event: ClauseEvent, cause: str
) -> None:
    lot = march_declared(app, clock)
    clock.set(utc(2026, 4, 3, 9))
    clause_app.advance_clause(
        app, lot.clause_id, event, reason="fin des travaux", end_date=date(2026, 3, 31)
    )

    again = rewritten(app, cause)
    assert all(words not in again.body_text for words in NEXT)
    clean(app)


def test_a_suspension_rewrites_the_receipt_that_announced_the_next_month(
    app: App, clock: Clock
) -> None:
    lot = march_declared(app, clock)
    clock.set(utc(2026, 4, 3, 9))
    clause_app.advance_clause(app, lot.clause_id, ClauseEvent.SUSPEND, reason="intempéries")

    again = rewritten(app, "la suspension du lot a été enregistrée le 3 avril 2026")
    # April is still to come, with no date: the lot may resume any day.
    assert (
        f"{NEXT_APRIL} 30 avril 2026 ; le chantier étant suspendu, sa date limite vous sera "
        "donnée avec son appel, après la reprise." in squash(again.body_text)
    )
    clean(app)


# --- a planned end moved into the past ------------------------------------------------------------


def test_a_planned_end_moved_past_its_last_month_s_due_date_says_the_date_has_passed(
    app: App, clock: Clock
) -> None:
    """Two lots cut to 15 April, April called and not declared: the first on 5 May, before its
    date (11 May, the date its call gave), which the emails give; the second on 25 May, when
    that date is gone: they say so."""
    before, past = make_lot(app), make_lot(app)
    walk(app, date(2026, 4, 1), date(2026, 5, 4))
    clock.set(utc(2026, 5, 5, 8))
    clause_app.set_planned_end(app, before.clause_id, date(2026, 4, 15), reason="avenant n° 1")
    walk(app, date(2026, 5, 5), date(2026, 5, 22))
    clock.set(utc(2026, 5, 25, 8))
    clause_app.set_planned_end(app, past.clause_id, date(2026, 4, 15), reason="avenant n° 1")

    company_before, company_past = emails(app, "company_planned_end")
    assert (
        "Votre dernière déclaration sur ce lot sera celle d'avril 2026, à envoyer au plus tard "
        "le 11 mai 2026." in squash(company_before.body_text)
    )
    said = squash(company_past.body_text)
    assert (
        "Votre dernière déclaration sur ce lot est celle d'avril 2026 ; elle était attendue au "
        "plus tard le 11 mai 2026 : cette date est passée, merci de me l'envoyer dès que "
        "possible." in said
    )
    assert "sera celle" not in said and "à envoyer au plus tard" not in said
    assert "était attendue au plus tard le 11 mai 2026" in squash(
        visible(company_past.body_html or "")
    )
    buyer_before, buyer_past = emails(app, "notice_planned_end")
    assert (
        "La dernière déclaration, celle d'avril 2026, est attendue au plus tard le 11 mai 2026."
        in squash(buyer_before.body_text)
    )
    told = squash(buyer_past.body_text)
    assert (
        "La dernière déclaration, celle d'avril 2026, était attendue au plus tard le 11 mai "
        "2026 : cette date est passée, une entreprise qui ne l'a pas encore envoyée est en "
        "retard." in told
    )
    assert "est attendue au plus tard" not in told
    assert "était attendue au plus tard le 11 mai 2026" in squash(
        visible(buyer_past.body_html or "")
    )
    clean(app)


# --- a declaration corrected, then cancelled ------------------------------------------------------


@pytest.mark.parametrize(
    ("corrected_at", "said"),
    [
        (utc(2026, 4, 7, 9), "reçue le 3 avril 2026 et corrigée le 7 avril 2026 : 80 h"),
        (utc(2026, 4, 3, 15), "reçue et corrigée le 3 avril 2026 : 80 h"),
    ],
)
def test_a_cancelled_declaration_corrected_before_says_when_it_was_received_and_corrected(
    app: App, clock: Clock, corrected_at: datetime, said: str
) -> None:
    """March received on 3 April, corrected (the facilitator's ``--replace``), then cancelled:
    its reception is the 3rd, not the correction's day. The co-contractor's March, never
    corrected, cancelled too: its one reception."""
    lot = make_lot(app, companies=("Bâtiments Test", "Plâtres Sud"))
    add_participants(app, "P-1", "P-2")
    clock.set(utc(2026, 4, 3, 8))
    declare(app, lot, MARCH, utc(2026, 4, 3, 8), {"P-1": "120"})
    declare(app, lot, MARCH, utc(2026, 4, 3, 8), {"P-2": "50"}, company=1)
    clock.set(corrected_at)
    declare_again(app, lot, MARCH, corrected_at, {"P-1": "80"})
    clock.set(utc(2026, 4, 8, 9))
    for company in lot.company_ids:
        cancel_declaration(
            app, clause=lot.clause_id, company=company, month=MARCH, reason="en double"
        )

    holder, other = emails(app, "declaration_cancelled")
    assert said.replace(" h", "\u00a0h") in squash(holder.body_text)
    assert said.replace(" h", "\u00a0h") in squash(visible(holder.body_html or ""))
    assert "reçue le 3 avril 2026 : 50\u00a0h" in squash(other.body_text)
    assert "corrigée" not in other.body_text
    clean(app)


def test_an_award_corrected_to_end_before_the_next_month_rewrites_the_receipt_waiting(
    app: App, clock: Clock
) -> None:
    """The award recorded again with a planned end of 31 March (review: only the planned end's
    own command rewrote the receipt): it no longer announces April."""
    lot = march_declared(app, clock)
    clock.set(utc(2026, 4, 3, 9))
    clause_app.award_clause(
        app,
        str(lot.clause_id),
        parties=(
            clause_app.PartyChoice(str(lot.company_ids[0]), PartyRole.HOLDER, keep_recorded=True),
        ),
        start_date=date(2026, 3, 2),
        planned_end_date=date(2026, 3, 31),
        reason="avenant n° 2",
    )
    again = rewritten(app, "l'attribution du lot a été corrigée le 3 avril 2026")
    for words in NEXT:
        assert words not in again.body_text
        assert words not in visible(again.body_html or "")
    clean(app)
