"""What a company reads when its award is corrected during the works, once some of its months are
declared (SQLite and PostgreSQL): the email lists the months already called that it still owes
(never declared, or cancelled since and so asked again), with the due date their call gave, and
none that it declared; when it declared every month called, one sentence says nothing more is
awaited, with no table of dates.

Review: the email listed every month already called, declared ones included (« Les mois déjà
appelés gardent la date limite … septembre 2026 à envoyer au plus tard le 12 octobre 2026 »), so
a company that had sent September read it among the dates still to meet."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.integration._ladders import Lot
from tests.integration.test_award_during_works_g import (
    NOVEMBER,
    OCTOBER,
    SEPTEMBER,
    parties_of,
    started_lot,
)
from tests.integration.test_award_works_emails_x import (
    called_dates,
    correct_end,
    corrected_bodies,
    passes,
)
from tests.integration.test_clause_corrections import all_left
from tests.integration.test_planned_end import paris
from tests.text import squash, visible
from workflow.adapters.orm import OutboxMessage
from workflow.adapters.templates import french_date
from workflow.bootstrap import App
from workflow.services.declaration_cancellations import cancel_declaration
from workflow.services.declarations import record_declaration

pytestmark = pytest.mark.scenario


def declare(app: App, lot: Lot, month: date, day: date) -> None:
    """The lot's company declares ``month`` without hours on ``day`` (its receipt leaves)."""
    with app.transaction() as session:
        record_declaration(
            session,
            clause_id=lot.clause_id,
            company_id=lot.company_ids[0],
            month=month,
            lines=[],
            actor="Paul Lambert",
            now=paris(day, 11),
            source="test",
            publish=app.publish,
        )
    all_left(app)


def cancel(app: App, lot: Lot, month: date, day: date) -> None:
    with app.transaction() as session:
        cancel_declaration(
            session,
            clause_id=lot.clause_id,
            company_id=lot.company_ids[0],
            month=month,
            reason="déclarée sur le mauvais lot",
            actor="Camille",
            now=paris(day, 11),
            settings=app.settings,
            publish=app.publish,
        )
    all_left(app)


def corrected_html(app: App) -> str:
    with app.transaction() as session:
        html = session.scalars(
            select(OutboxMessage.body_html).where(OutboxMessage.kind == "company_award_corrected")
        ).one()
    return squash(visible(html)).replace("\u00a0", " ")


def declarations_part(body: str) -> str:
    return body.partition("VOS DÉCLARATIONS")[2].partition("DÉCLARER EN LIGNE")[0]


def test_the_corrected_award_lists_only_the_called_months_still_awaited(app: App) -> None:
    """September declared, October declared then cancelled (asked again), November never
    declared: the email gives October and November with their calls' due dates, never
    September."""
    lot = started_lot(app)
    all_left(app)  # the welcome left: the calls follow it
    passes(app, date(2026, 10, 1), date(2026, 12, 4))
    called = called_dates(app, lot)
    assert sorted(called) == [SEPTEMBER, OCTOBER, NOVEMBER]
    declare(app, lot, SEPTEMBER, date(2026, 10, 5))
    declare(app, lot, OCTOBER, date(2026, 11, 4))
    cancel(app, lot, OCTOBER, date(2026, 11, 6))

    correct_end(app, lot, parties_of(app, lot), paris(date(2026, 12, 8), 10))

    [body] = corrected_bodies(app)
    part = declarations_part(body)
    assert (
        "Les travaux sont en cours : chaque mois vous est demandé par un appel à déclarer au "
        "début du mois suivant, qui donne sa date limite. Les mois déjà appelés dont j'attends "
        "encore la déclaration gardent la date limite que leur appel vous a donnée : "
        f"octobre 2026 à envoyer au plus tard le {french_date(called[OCTOBER])} "
        f"novembre 2026 à envoyer au plus tard le {french_date(called[NOVEMBER])}"
    ) in part
    assert "septembre" not in part
    assert french_date(called[SEPTEMBER]) not in part
    html = corrected_html(app)
    assert (
        "Les mois déjà appelés dont j'attends encore la déclaration gardent la date limite que "
        "leur appel vous a donnée : Mois déclaré À envoyer au plus tard le "
        f"octobre 2026 {french_date(called[OCTOBER])} "
        f"novembre 2026 {french_date(called[NOVEMBER])}"
    ) in html
    assert "septembre 2026" not in html.partition("Vos déclarations")[2]


def test_one_month_still_awaited_is_said_in_the_singular(app: App) -> None:
    lot = started_lot(app)
    all_left(app)
    passes(app, date(2026, 10, 1), date(2026, 12, 4))
    called = called_dates(app, lot)
    declare(app, lot, SEPTEMBER, date(2026, 10, 5))
    declare(app, lot, OCTOBER, date(2026, 11, 4))

    correct_end(app, lot, parties_of(app, lot), paris(date(2026, 12, 8), 10))

    [body] = corrected_bodies(app)
    part = declarations_part(body)
    assert (
        "Le mois déjà appelé dont j'attends encore la déclaration garde la date limite que son "
        f"appel vous a donnée : novembre 2026 à envoyer au plus tard le "
        f"{french_date(called[NOVEMBER])}"
    ) in part
    assert "septembre" not in part and "octobre 2026" not in part


def test_every_called_month_declared_is_said_in_one_sentence_with_no_dates(app: App) -> None:
    lot = started_lot(app)
    all_left(app)
    passes(app, date(2026, 10, 1), date(2026, 11, 4))
    assert sorted(called_dates(app, lot)) == [SEPTEMBER, OCTOBER]
    declare(app, lot, SEPTEMBER, date(2026, 10, 5))
    declare(app, lot, OCTOBER, date(2026, 11, 4))

    correct_end(app, lot, parties_of(app, lot), paris(date(2026, 11, 10), 10))

    [body] = corrected_bodies(app)
    part = declarations_part(body)
    assert (
        "qui donne sa date limite. Vous m'avez transmis la déclaration de chaque mois déjà "
        "appelé : je n'en attends aucune autre pour l'instant."
    ) in part
    assert "à envoyer au plus tard" not in part
    assert "septembre" not in part and "octobre 2026" not in part
    html = corrected_html(app)
    assert "je n'en attends aucune autre pour l'instant." in html
    assert "Mois déclaré" not in html
