"""A receipt still waiting when its company leaves the site is written again (user trial: the
same batch carried the receipt « Le mois suivant : avril 2027, à déclarer à partir du 30 avril
2027 … » and the departure's email « Aucun mois après mars 2027 ne vous sera demandé »).

``workflow/app/company_departures.py`` calls ``receipt_withdrawals.rewrite_for_departure``.
SQLite and PostgreSQL; the audit stays clean."""

from __future__ import annotations

from datetime import date

from tests.conftest import Clock
from tests.integration._ladders import make_lot
from tests.integration.test_clause_corrections import add_participants, declare
from tests.integration.test_receipts_stay_true import NEXT, NEXT_APRIL, clean, emails, utc
from tests.text import squash, visible
from workflow.app.company_departures import record_departure
from workflow.bootstrap import App
from workflow.services.outbox import OutboxState

MARCH = date(2026, 3, 1)


def test_a_departure_rewrites_the_receipt_that_announced_a_month_after_it(
    app: App, clock: Clock
) -> None:
    """Both companies declare March on 3 April, their receipts waiting; the co-contractor leaves
    after March: its receipt is written again, the holder's (still true) stays as it is."""
    lot = make_lot(app, companies=("Bâtiments Test", "Plâtres Sud"))
    add_participants(app, "P-1", "P-2")
    clock.set(utc(2026, 4, 3, 8))
    declare(app, lot, MARCH, utc(2026, 4, 3, 8), {"P-1": "120"}, company=0)
    declare(app, lot, MARCH, utc(2026, 4, 3, 8), {"P-2": "40"}, company=1)
    holder, receipt = emails(app, "declaration_receipt")
    assert NEXT_APRIL in squash(receipt.body_text)

    clock.set(utc(2026, 4, 3, 8, 12))
    record_departure(app, lot.clause_id, lot.company_ids[1], MARCH, reason="Fin de sa part")

    holder_now, first, again = emails(app, "declaration_receipt")
    assert (holder_now.id, holder_now.state) == (holder.id, OutboxState.PENDING)
    assert first.id == receipt.id and first.state == OutboxState.CANCELLED
    assert first.last_error == (
        "Remplacé : le départ du chantier a été enregistré le 3 avril 2026, dernier mois mars "
        "2026 ; l'accusé de réception à jour (mois restant à déclarer, mois suivant) part à sa "
        "place."
    )
    assert again.state == OutboxState.PENDING and again.key.startswith(f"{first.key}:maj:")
    for words in (*NEXT, NEXT_APRIL):
        assert words not in again.body_text
        assert words not in visible(again.body_html or "")
    [left] = emails(app, "company_left")
    assert "Aucun mois après mars 2026 ne vous sera demandé" in squash(left.body_text)
    clean(app)
