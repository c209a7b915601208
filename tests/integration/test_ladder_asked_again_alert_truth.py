"""A month declared on time, cancelled months later and asked again: its reminders and the
buyer's alert say what happened (received, cancelled with its reason, asked again), and count the
delay from the new request, not from the month's first due date.

Found by a user trial: October 2026 sent on time on 6 November, cancelled on 16 April 2027; the
alert told the buyer that the company « n'a pas transmis sa déclaration … Elle était attendue le
10 novembre 2026 : 124 jours ouvrés de retard », listing only the call and the April reminders.
"""

from __future__ import annotations

from datetime import date, time

import pytest
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import declare, ladder_emails, make_lot
from tests.integration.test_ladder_scenarios import paris
from tests.text import squash
from workflow.adapters.orm import DeclarationLadder, OutboxMessage
from workflow.app.clause_corrections import cancel_declaration
from workflow.bootstrap import App
from workflow.domain.calendar import LadderDays, at_local, local_date
from workflow.services.ticks import simulate

pytestmark = pytest.mark.scenario

SEP = date(2026, 9, 1)
OCT = date(2026, 10, 1)
REASON = "Heures du lot 02 déclarées sur le lot 01"


def _body(app: App, key_end: str) -> tuple[str, str, str]:
    with app.transaction() as session:
        row = session.scalars(
            select(OutboxMessage).where(OutboxMessage.key.like(f"%:2026-10:{key_end}"))
        ).one()
        return row.subject, squash(row.body_text), squash(row.body_html)


def test_the_alert_of_a_month_asked_again_tells_the_truth(app: App, clock: Clock) -> None:
    zone = app.settings.zone
    lot = make_lot(
        app,
        start=SEP,
        end=date(2027, 12, 31),
        companies=("Bâtiments Gascons SARL",),
        at=paris(SEP, 10),
    )
    simulate(app, SEP, date(2026, 11, 5))
    declare(app, lot, OCT, at_local(date(2026, 11, 6), time(11), zone))
    with app.transaction() as session:
        due_on = (
            session.scalars(select(DeclarationLadder).where(DeclarationLadder.month == OCT))
            .one()
            .due_on
        )
    assert due_on == date(2026, 11, 10)
    simulate(app, date(2026, 11, 6), date(2027, 4, 16))
    clock.set(at_local(date(2027, 4, 16), time(16), zone))
    cancelled = cancel_declaration(
        app,
        clause=lot.clause_id,
        company=lot.company_ids[0],
        month=OCT,
        reason=REASON,
        actor="Camille Martin",
    )
    assert cancelled.ladder is not None and cancelled.ladder.step == "reminder_1"
    simulate(app, date(2027, 4, 17), date(2027, 5, 31))

    steps = [m.key.rsplit(":", 1)[1] for m in ladder_emails(app) if ":2026-10:" in m.key]
    assert steps == ["call", "reminder_1", "reminder_2", "escalation"]

    subject, text, html = _body(app, "reminder_1")
    assert "redemandée le 16 avril 2027" in subject
    assert (
        "Le 16 avril 2027, j'ai annulé la déclaration des heures d'insertion d'octobre 2026 de "
        "Bâtiments Gascons SARL pour le lot"
    ) in text
    assert ", reçue le 6 novembre 2026 (motif : « " + REASON + " »)" in text
    assert "je vous ai demandé de la transmettre à nouveau dès que possible" in text
    assert "je n'ai pas encore reçu" not in text
    assert "(motif&nbsp;: «&nbsp;" + REASON in html

    subject, text, html = _body(app, "escalation")
    with app.transaction() as session:
        alert = session.scalars(
            select(OutboxMessage).where(OutboxMessage.key.like("%:2026-10:escalation"))
        ).one()
        alert_day = local_date(alert.created_at, zone)
    assert "redemandée le 16 avril 2027, non reçue" in subject
    assert "n'a pas transmis" not in text
    assert "10 novembre 2026 : " not in text
    assert (
        "Bâtiments Gascons SARL, titulaire, m'avait transmis le 6 novembre 2026 sa déclaration "
        "des heures d'insertion d'octobre 2026 pour le lot"
    ) in text
    assert (
        "Je l'ai annulée le 16 avril 2027 (motif : « " + REASON + " ») et la lui ai redemandée "
        "le même jour, à transmettre dès que possible (le mois était attendue le"
    ).replace("attendue", "attendu") in text
    assert "comptés depuis cette nouvelle demande" in text
    # The delay counts from 16 April 2027 (the day it was asked again), not from 10 November.
    expected = LadderDays().between(date(2027, 4, 16), alert_day)
    assert f"ne m'est pas parvenue depuis : {expected} jours ouvrés de retard aujourd'hui" in text
    # What was done, in order: the call, the declaration received and cancelled, the reminders.
    done = text.split("CE QUI A ÉTÉ FAIT", 1)[1].split("CE QUE JE VOUS PROPOSE", 1)[0]
    lines = [line.strip() for line in done.split("- ") if line.strip()]
    assert lines[0].startswith("Appel à déclaration : envoyé le 2 novembre 2026")
    assert lines[1] == "Déclaration : reçue le 6 novembre 2026"
    assert lines[2] == (
        "Déclaration : annulée le 16 avril 2027 (motif : « " + REASON + " ») et redemandée à "
        "l'entreprise le même jour"
    )
    assert lines[3].startswith("Rappel n° 1 : envoyé le ")
    assert lines[4].startswith("Rappel n° 2 : envoyé le ")
