"""A month received, corrected days later, then cancelled and asked again: its reminders and the
buyer's alert give the first reception and the correction, as the cancellation's email did
(« reçue le 6 novembre 2026 et corrigée le 9 novembre 2026 »), never the correction's day alone
as if it were when the company sent it."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import make_lot
from tests.integration.test_ladder_scenarios import paris
from tests.text import squash
from workflow.adapters.orm import OutboxMessage
from workflow.app.clause_corrections import cancel_declaration
from workflow.bootstrap import App
from workflow.domain.calendar import at_local
from workflow.services.declarations import record_declaration
from workflow.services.ticks import simulate

pytestmark = pytest.mark.scenario

SEP = date(2026, 9, 1)
OCT = date(2026, 10, 1)
REASON = "Heures du lot 02 déclarées sur le lot 01"


def _declare(app: App, clause_id: int, company_id: int, at: datetime, *, replace: bool) -> None:
    with app.transaction() as session:
        record_declaration(
            session,
            clause_id=clause_id,
            company_id=company_id,
            month=OCT,
            lines=[],
            actor="test",
            now=at,
            source="test",
            publish=app.publish,
            replace=replace,
        )


def _bodies(app: App, step: str) -> tuple[str, str]:
    with app.transaction() as session:
        row = session.scalars(
            select(OutboxMessage).where(OutboxMessage.key.like(f"%:2026-10:{step}"))
        ).one()
        return squash(row.body_text), squash(row.body_html).replace("&nbsp;", " ")


@pytest.mark.parametrize(
    ("corrected_day", "received_words", "corrected_words"),
    [
        (
            9,
            "reçue le 6 novembre 2026 et corrigée le 9 novembre 2026",
            "corrigée le 9 novembre 2026",
        ),
        (6, "reçue et corrigée le 6 novembre 2026", "corrigée le même jour"),
    ],
)
def test_the_reminders_and_the_alert_give_the_first_reception_and_the_correction(
    app: App, clock: Clock, corrected_day: int, received_words: str, corrected_words: str
) -> None:
    zone = app.settings.zone
    lot = make_lot(
        app,
        start=SEP,
        end=date(2027, 12, 31),
        companies=("Bâtiments Gascons SARL",),
        at=paris(SEP, 10),
    )
    company = lot.company_ids[0]
    simulate(app, SEP, date(2026, 11, 5))
    _declare(
        app, lot.clause_id, company, at_local(date(2026, 11, 6), time(11), zone), replace=False
    )
    correction = at_local(date(2026, 11, corrected_day), time(15), zone)
    _declare(app, lot.clause_id, company, correction, replace=True)
    simulate(app, date(2026, 11, 6), date(2027, 4, 16))
    clock.set(at_local(date(2027, 4, 16), time(16), zone))
    cancel_declaration(
        app, clause=lot.clause_id, company=company, month=OCT, reason=REASON, actor="Camille Martin"
    )
    simulate(app, date(2027, 4, 17), date(2027, 5, 31))

    # The cancellation's email: the first reception and the correction.
    with app.transaction() as session:
        cancelled = session.scalars(
            select(OutboxMessage.body_text).where(OutboxMessage.kind == "declaration_cancelled")
        ).one()
    assert received_words in squash(cancelled), squash(cancelled)

    # The reminder says the same, in its sentence and in what was done.
    text, html = _bodies(app, "reminder_1")
    assert "Bâtiments Gascons SARL pour le lot" in text
    assert f", {received_words} (motif : « {REASON} »)" in text, text
    assert f", {received_words} (motif : « {REASON} »)" in html.replace("\u00a0", " "), html
    assert "reçue le 9 novembre" not in text.replace(received_words, "")

    # The buyer's alert: sent on the first reception's day, corrected later.
    text, html = _bodies(app, "escalation")
    assert (
        "m'avait transmis le 6 novembre 2026 sa déclaration des heures d'insertion d'octobre"
        in (text)
    ), text
    assert f", {corrected_words}. Je l'ai annulée le 16 avril 2027" in text, text
    assert f", {corrected_words}. Je l'ai annulée le 16 avril 2027" in html.replace("\u00a0", " ")
    done = text.split("CE QUI A ÉTÉ FAIT", 1)[1].split("CE QUE JE VOUS PROPOSE", 1)[0]
    lines = [line.strip() for line in done.split("- ") if line.strip()]
    assert f"Déclaration : {received_words}" in lines, lines
