"""A correction's receipt says it cancels « le reçu précédent » only when that receipt left: one
withdrawn before it left (the month corrected before the outbox was sent) was never read, and the
company would look for a receipt it never had. On SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from tests.conftest import Clock
from tests.integration.test_declarations import DECLARATION
from tests.integration.test_identical_replacement import run, started
from tests.integration.test_import_replace_reason import NOVEMBER_12, changed
from tests.text import squash
from workflow.adapters.orm import OutboxMessage
from workflow.app.audit import verify_database
from workflow.bootstrap import App
from workflow.services.dispatch import dispatch_due

CANCELS = "ce message annule le reçu précédent"


def receipts(app: App) -> list[tuple[str, str, str]]:
    with app.transaction() as session:
        return [
            (row.state, squash(row.subject), squash(row.body_text).replace("\u00a0", " "))
            for row in session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.kind == "declaration_receipt")
                .order_by(OutboxMessage.id)
            )
        ]


def test_a_receipt_never_sent_is_not_said_to_be_cancelled(
    app: App, clock: Clock, tmp_path: Path
) -> None:
    started(app, clock)
    run(app, "declaration", "import", str(DECLARATION))  # its receipt waits in the outbox
    clock.set(NOVEMBER_12)

    run(app, "declaration", "import", str(changed(tmp_path)), "--replace", "--reason", "Erreur")

    (first_state, _, _), (state, subject, body) = receipts(app)
    assert first_state == "cancelled" and state == "pending"
    assert subject.startswith("Déclaration corrigée : octobre 2026")
    assert "Elle remplace votre déclaration de ce mois reçue le 5 novembre 2026 (370,17 h)" in body
    assert CANCELS not in body and "seuls comptent les chiffres ci-dessous" in body, body
    assert verify_database(app).findings == ()


def test_a_receipt_that_left_is_said_to_be_cancelled(
    app: App, clock: Clock, tmp_path: Path
) -> None:
    started(app, clock)
    run(app, "declaration", "import", str(DECLARATION))
    dispatch_due(app, clock())  # the first receipt leaves
    clock.set(NOVEMBER_12)

    run(app, "declaration", "import", str(changed(tmp_path)), "--replace", "--reason", "Erreur")

    (first_state, _, _), (_, _, body) = receipts(app)
    assert first_state == "sent"
    assert CANCELS in body, body
