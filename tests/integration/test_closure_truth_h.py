"""What the buyer and the company read once a clause is closed right after its final report.

The user's trial: ``clauses clause report`` then ``clauses clause advance … clôturer`` back to
back (README, « Un parcours complet »). The buyer's « Bilan » email, queued at the report, left
at the next pass, after the closure, and said « La clause sera ensuite clôturée : ce mois ne
sera alors plus demandé ; d'ici là, il peut encore être déclaré »: false, the clause was closed
and the month no longer asked. And the company was told of a month whose due date had not
passed at the closure that it « ne m'est pas parvenue », as of a month late.

Here: October never declared (late since November), November asked again by the end corrected
on 4 December, its due date from its call (1 December) not passed yet; the report recorded and
the clause closed that day, the passes then run. On the real commands and passes of a simulated
clock, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import Clock, make_settings
from tests.integration import test_notices as notices_walk
from tests.integration._ladders import Lot
from tests.integration.test_end_date_correction import (
    a_lot_finished_a_month_too_early,
    correct,
    run_cli,
)
from tests.text import squash, visible
from workflow.adapters.orm import Buyer, DeclarationLadder, OutboxMessage
from workflow.app import catalog
from workflow.app.audit import verify_database
from workflow.bootstrap import App, bootstrap
from workflow.domain.calendar import at_local
from workflow.services import ticks
from workflow.services.ticks import simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

NBSP = "\u00a0"
COMPANY = "Bâtiments Test"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, escalation_offset=25)


@pytest.fixture
def app(settings: Settings, clock: Clock) -> Iterator[App]:
    application = bootstrap(settings, clock=clock)
    yield application
    application.close()


def paris(day: date, hour: int, minute: int = 0) -> datetime:
    return at_local(day, time(hour, minute), Settings().zone)


def emails(app: App, lot: Lot, kind: str) -> list[OutboxMessage]:
    with app.transaction() as session:
        found = list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.clause_id == lot.clause_id, OutboxMessage.kind == kind)
                .order_by(OutboxMessage.id)
            )
        )
        for message in found:
            session.expunge(message)
        return found


def reported_then_closed(
    app: App, settings: Settings, clock: Clock, tmp_path: Path
) -> tuple[Lot, str]:
    """The report at 11:00 on 4 December, the closure at 11:05, nothing sent in between.
    Returns the lot and what the closure printed."""
    lot, _, due_on = a_lot_finished_a_month_too_early(app, settings, clock)
    correct(settings, clock, lot, paris(date(2026, 12, 4), 10), "30/11/2026")
    assert due_on > date(2026, 12, 4), "November is not due yet at the closure"
    report = tmp_path / "bilan5.txt"
    report.write_text("Bonne collaboration de l'entreprise.", encoding="utf-8")
    code, said = run_cli(settings, clock, paris(date(2026, 12, 4), 11), "clause", "report",
                         str(lot.clause_id), "--file", str(report))  # fmt: skip
    assert code == 0, said
    code, said = run_cli(settings, clock, paris(date(2026, 12, 4), 11, 5), "clause", "advance",
                         str(lot.clause_id), "clôturer")  # fmt: skip
    assert code == 0, said
    return lot, said


def test_the_report_notice_leaving_after_the_closure_says_the_clause_is_closed(
    app: App, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    lot, _ = reported_then_closed(app, settings, clock, tmp_path)

    simulate(app, date(2026, 12, 4), date(2026, 12, 5))

    reports = emails(app, lot, "notice_final_report")
    [sent] = [m for m in reports if m.state == "sent"]
    text = squash(sent.body_text)
    assert "d'ici là" not in text and "sera ensuite clôturée" not in text, text
    assert (
        "La clause a été clôturée le 4 décembre 2026 : ces mois ne sont plus demandés et leurs "
        "heures ne seront comptées dans aucun total."
    ) in text, text
    # The figures and the months missing are those of the report, as before.
    assert "Ce bilan n'est pas complet : 2 déclarations mensuelles n'ont pas été reçues" in text
    assert f"- {COMPANY} : octobre et novembre 2026" in text
    html = visible(sent.body_html or "")
    assert f"La clause a été clôturée le 4 décembre 2026{NBSP}: ces mois" in html, html
    assert "d'ici là" not in html
    # The one queued at the report never left: withdrawn, its reason kept.
    [first] = [m for m in reports if m.state == "cancelled"]
    assert first.id < sent.id
    assert first.last_error == (
        "Remplacé : la clause a été clôturée le 4 décembre 2026 avant le départ de ce "
        "courriel ; le même bilan, qui dit la clôture, part à sa place."
    )
    assert [str(finding) for finding in verify_database(app).findings] == []


def test_a_report_notice_sent_before_the_closure_is_not_written_again(
    app: App, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    """Sent before the closure, it told the truth of its day (the clause still to be closed):
    nothing is written again."""
    lot, _, _ = a_lot_finished_a_month_too_early(app, settings, clock)
    correct(settings, clock, lot, paris(date(2026, 12, 4), 10), "30/11/2026")
    report = tmp_path / "bilan5.txt"
    report.write_text("Bilan.", encoding="utf-8")
    code, said = run_cli(settings, clock, paris(date(2026, 12, 4), 11), "clause", "report",
                         str(lot.clause_id), "--file", str(report))  # fmt: skip
    assert code == 0, said
    simulate(app, date(2026, 12, 4), date(2026, 12, 5))
    code, said = run_cli(settings, clock, paris(date(2026, 12, 7), 10), "clause", "advance",
                         str(lot.clause_id), "clôturer")  # fmt: skip
    assert code == 0, said

    [sent] = emails(app, lot, "notice_final_report")
    assert sent.state == "sent"
    assert "La clause sera ensuite clôturée" in squash(sent.body_text)


def test_the_company_reads_late_and_not_yet_due_months_apart(
    app: App, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    lot, said = reported_then_closed(app, settings, clock, tmp_path)
    # The facilitator's closure warning does not call November late either.
    assert "en retard" not in said, said

    [told] = [
        m
        for m in emails(app, lot, "company_months_released")
        if m.subject.startswith("Clause clôturée")
    ]
    assert squash(told.subject).startswith(
        "Clause clôturée : déclarations d'octobre et de novembre 2026 plus demandées – "
    )
    text = squash(told.body_text)
    with app.transaction() as session:
        [due_on] = session.scalars(
            select(DeclarationLadder.due_on).where(
                DeclarationLadder.clause_id == lot.clause_id,
                DeclarationLadder.month == date(2026, 11, 1),
            )
        ).all()
    assert due_on is not None
    due = f"{due_on.day} décembre 2026" if due_on.day != 1 else "1er décembre 2026"
    assert (
        "La déclaration d'octobre 2026 vous avait été demandée et ne m'est pas parvenue ; celle "
        f"de novembre 2026, demandée pour le {due}, n'était pas encore due. Elles ne vous sont "
        "plus demandées : vous n'avez plus rien à déclarer pour ce lot."
    ) in text, text
    assert "ne me sont pas parvenues" not in text
    html = visible(told.body_html or "")
    assert f"n'était pas encore due. Elles ne vous sont plus demandées{NBSP}: " in html, html


def test_a_report_notice_held_for_want_of_a_contact_leaves_saying_the_closure(
    app: App, clock: Clock
) -> None:
    """The buyer had no contact at the report: its notice was held, the clause closed, then a
    contact added. The notice released is written from the clause closed (« render from the
    clause's state »)."""
    clock.set(notices_walk.at(date(2025, 10, 6)))
    territory = notices_walk.make_territory(app, clock)
    with app.transaction() as session:
        buyer = session.scalars(select(Buyer)).one()
        buyer.contacts.clear()
    notices_walk.Walk(app, clock, territory).whole_life()  # reported 15/09, closed 30/09/2026
    clock.set(notices_walk.at(date(2026, 10, 5)))
    catalog.add_buyer_contact(
        app,
        "Département de l'Exemple",
        name="Claire Dupont",
        email="claire.dupont@example.org",
        actor="Camille Martin",
    )
    ticks.run_pass(app, notices_walk.at(date(2026, 10, 6)), dispatch=False)

    with app.transaction() as session:
        [report] = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "notice_final_report")
        ).all()
        text = squash(report.body_text)
    assert "La clause a été clôturée le 30 septembre 2026. Merci" in text, text
    assert "sera ensuite clôturée" not in text
