"""A lot whose contract is terminated during the works (« marché résilié »): `résilier`.

User trial: a contract terminated in November could only be « achevé », which the buyer and the
companies read as a normal end. Now `clauses clause advance N resilier --end-date … --reason …`
ends the lot on the termination date, from execution or from a suspension: no month after it is
asked, the months before it still owed stay owed (late declarations still taken), the buyer's
notice and each company's email say « résilié » with the date and the reason, and the figures
(`clause show`, `summary`) count the hours declared before it. A termination before a month
already declared is refused, nothing changed.

Two companies (Titulaire, Cotraitant) from 1 September 2026, planned end 31 March 2027, 500 h.
The holder declares September (35 h) and October (0 h); the co-contractor September (0 h).
The contract is terminated on 20 November 2026, effective on 15 November.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import Clock, make_settings
from tests.integration._ladders import Lot, declare, make_lot
from tests.integration.test_end_date_correction import paris, run_cli
from tests.text import squash
from workflow.adapters.orm import Clause, ClauseHistory, DeclarationLadder, OutboxMessage
from workflow.bootstrap import App, bootstrap
from workflow.domain.vocabulary import ContractType, Criterion, DeliveryMode
from workflow.services.declarations import LineInput, record_declaration
from workflow.services.lot_calendars import suspensions
from workflow.services.participants import create_participant
from workflow.services.ticks import TimedAction, simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

NBSP = "\u00a0"
SEP, OCT, NOV, DEC = (date(2026, m, 1) for m in (9, 10, 11, 12))
REASON = "Défaillance du titulaire (liquidation judiciaire)"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, escalation_offset=25)


@pytest.fixture
def app(settings: Settings, clock: Clock) -> Iterator[App]:
    application = bootstrap(settings, clock=clock)
    yield application
    application.close()


def plain(text: str) -> str:
    return squash(text).replace(NBSP, " ").replace("\u202f", " ")


def declare_hours(app: App, lot: Lot, month: date, at: datetime, hours: str) -> None:
    with app.transaction() as session:
        person = create_participant(
            session, reference=f"RS-{lot.clause_id}-{month:%m}", criterion=Criterion.MINIMUM_INCOME,
            now=at,
        )  # fmt: skip
        record_declaration(
            session,
            clause_id=lot.clause_id,
            company_id=lot.company_ids[0],
            month=month,
            lines=[
                LineInput(person.id, Decimal(hours), DeliveryMode.DIRECT_HIRING, ContractType.CDD)
            ],
            actor="test",
            now=at,
            source="test",
            publish=app.publish,
        )


def running_lot(app: App, until: date) -> Lot:
    lot = make_lot(
        app, start=SEP, end=date(2027, 3, 31), at=paris(SEP, 10),
        companies=("Titulaire", "Cotraitant"),
    )  # fmt: skip
    actions = [
        TimedAction(paris(date(2026, 10, 5), 11), "sep-t",
                    lambda a, at: declare_hours(a, lot, SEP, at, "35")),
        TimedAction(paris(date(2026, 10, 6), 11), "sep-c",
                    lambda a, at: declare(a, lot, SEP, at, company=1)),
        TimedAction(paris(date(2026, 11, 5), 11), "oct-t", lambda a, at: declare(a, lot, OCT, at)),
    ]  # fmt: skip
    simulate(app, SEP, until, actions=actions)
    return lot


def emails(app: App, lot: Lot, kind: str) -> list[OutboxMessage]:
    with app.transaction() as session:
        return list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.clause_id == lot.clause_id, OutboxMessage.kind == kind)
                .order_by(OutboxMessage.id)
            )
        )


def called_months(app: App, lot: Lot) -> set[date]:
    with app.transaction() as session:
        return set(
            session.scalars(
                select(DeclarationLadder.month).where(
                    DeclarationLadder.clause_id == lot.clause_id,
                    DeclarationLadder.called_at.is_not(None),
                )
            )
        )


def terminate(settings: Settings, clock: Clock, lot: Lot, at: datetime, end: str) -> str:
    code, said = run_cli(settings, clock, at, "clause", "advance", str(lot.clause_id),
                         "resilier", "--end-date", end, "--reason", REASON)  # fmt: skip
    assert code == 0, said
    return said


def test_a_terminated_lot_says_so_to_everyone_and_asks_nothing_after_its_date(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot = running_lot(app, date(2026, 11, 19))
    # Before October, declared by the holder: refused, nothing changed.
    code, said = run_cli(settings, clock, paris(date(2026, 11, 20), 9), "clause", "advance",
                         str(lot.clause_id), "resilier", "--end-date", "15/09/2026",
                         "--reason", REASON)  # fmt: skip
    assert code != 0
    assert (
        "--end-date : le 15/09/2026 est avant octobre 2026, mois déjà déclaré par Titulaire ; "
        "le marché ne peut pas être résilié avant un mois déclaré. Vérifiez la date de "
        "résiliation, ou annulez d'abord cette déclaration" in plain(said)
    ), said
    # Without a reason: refused.
    code, said = run_cli(settings, clock, paris(date(2026, 11, 20), 9), "clause", "advance",
                         str(lot.clause_id), "resilier", "--end-date", "15/11/2026")  # fmt: skip
    assert code != 0 and "indiquez le motif de la résiliation" in plain(said), said
    with app.transaction() as session:
        assert session.get_one(Clause, lot.clause_id).stage == "execution"

    said = terminate(settings, clock, lot, paris(date(2026, 11, 20), 10), "15/11/2026")
    assert "mise en œuvre → suivi et bilan" in said, said

    with app.transaction() as session:
        clause = session.get_one(Clause, lot.clause_id)
        assert (clause.stage, clause.end_date) == ("follow_up", date(2026, 11, 15))
        row = session.scalars(
            select(ClauseHistory).where(ClauseHistory.clause_id == lot.clause_id)
            .order_by(ClauseHistory.id.desc()).limit(1)
        ).one()  # fmt: skip
        assert row.event == "terminate"
        assert plain(row.reason or "").startswith(
            f"Marché résilié le 15/11/2026, motif : « {REASON} »."
        )

    # The buyer's notice: terminated, with the date, the reason and the months still owed.
    [notice] = emails(app, lot, "notice_execution_ended")
    text = plain(notice.body_text)
    assert notice.subject.startswith("Marché résilié le 15 novembre 2026 : 35 h"), notice.subject
    assert (
        "Le marché du lot 1 « Gros œuvre » a été résilié le 15 novembre 2026. "
        f"Motif : {REASON}." in text
    ), text
    assert "aucun mois après novembre 2026 n'est demandé aux entreprises" in text
    assert "s'est achevée" not in text
    assert (
        "Déclarations encore attendues jusqu'à la résiliation : - Cotraitant : octobre et "
        "novembre 2026 - Titulaire : novembre 2026" in text
    ), text
    # September to November for two companies: 6 owed, 3 received.
    assert (
        "Déclarations mensuelles reçues : 3 sur 6 (3 mois × 2 entreprises), 3 encore attendues"
        in text
    ), text

    # Each company: one email, terminated, the months it still owes.
    terminated = {
        m.recipients: plain(m.body_text) for m in emails(app, lot, "company_lot_terminated")
    }
    assert len(terminated) == 2, terminated
    [holder] = [t for r, t in terminated.items() if "-0@" in r]
    [partner] = [t for r, t in terminated.items() if "-1@" in r]
    for body in (holder, partner):
        assert (
            f"Le marché du lot 1 « Gros œuvre » a été résilié le 15 novembre 2026. Motif : {REASON}."
            in body
        ), body
        assert "aucun mois après novembre 2026 ne vous sera demandé" in body
    assert "il me manque encore votre déclaration de ce mois" in holder, holder
    assert "- novembre 2026 : à déclarer au plus tard le" in holder
    assert "octobre 2026" not in holder.split("il me manque")[1]
    assert "il me manque encore vos déclarations de ces mois" in partner, partner
    assert "- octobre 2026 : à déclarer dès que possible, la date limite était le" in partner
    assert "- novembre 2026 : à déclarer au plus tard le" in partner

    # Handled again: nothing more.
    assert len(emails(app, lot, "company_lot_terminated")) == 2

    # The passes go on: November is called (it is owed), December and later never are; the
    # co-contractor's October is still reminded, and its late declaration taken.
    simulate(app, date(2026, 11, 20), date(2027, 2, 10))
    assert called_months(app, lot) == {SEP, OCT, NOV}
    declare(app, lot, OCT, paris(date(2027, 2, 11), 10), company=1)

    # The figures: the hours declared before the termination, as show and summary give them.
    code, shown = run_cli(settings, clock, paris(date(2027, 2, 12), 10), "clause", "show",
                          str(lot.clause_id))  # fmt: skip
    assert code == 0, shown
    shown = plain(shown)
    assert f"Marché résilié le 15/11/2026 ({REASON})" in shown, shown
    assert "Heures réalisées (déclarées) : 35 h sur 500 h prévues" in shown, shown
    code, summary = run_cli(settings, clock, paris(date(2027, 2, 12), 10), "summary", "--month",
                            "2026-11")  # fmt: skip
    assert code == 0, summary
    assert "Heures cumulées depuis le début : 35 h sur 500 h prévues" in plain(summary), summary

    # The final report: terminated, the work up to its date.
    code, said = run_cli(settings, clock, paris(date(2027, 2, 12), 11), "clause", "report",
                         str(lot.clause_id), "--text", "Chantier arrêté.")  # fmt: skip
    assert code == 0, said
    [report] = emails(app, lot, "notice_final_report")
    assert (
        f"Le marché a été résilié le 15 novembre 2026 (motif : {REASON}) : ce bilan porte sur "
        "les travaux réalisés jusqu'à cette date." in plain(report.body_text)
    ), report.body_text
    # November not declared by either company: the report says « déclarées », not « réalisées ».
    assert "- Heures d'insertion déclarées : 35 h sur 500 h prévues" in plain(report.body_text)


def test_a_suspended_lot_terminated_ends_its_suspension(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot = running_lot(app, date(2026, 11, 9))
    code, said = run_cli(settings, clock, paris(date(2026, 11, 10), 10), "clause", "advance",
                         str(lot.clause_id), "suspendre", "--reason", "Intempéries")  # fmt: skip
    assert code == 0, said

    terminate(settings, clock, lot, paris(date(2026, 11, 24), 10), "10/11/2026")

    with app.transaction() as session:
        clause = session.get_one(Clause, lot.clause_id)
        assert (clause.stage, clause.end_date) == ("follow_up", date(2026, 11, 10))
        [interval] = suspensions(session, [lot.clause_id])[lot.clause_id]
        assert interval.end == paris(date(2026, 11, 24), 10)
    # No resumption is announced: the works do not resume.
    assert emails(app, lot, "company_lot_resumed") == []
    assert emails(app, lot, "notice_resumed") == []
    [notice] = emails(app, lot, "notice_execution_ended")
    assert "a été résilié le 10 novembre 2026" in plain(notice.body_text)
    partner = [plain(m.body_text) for m in emails(app, lot, "company_lot_terminated")
               if "-1@" in m.recipients]  # fmt: skip
    assert len(partner) == 1
    assert "- octobre 2026 :" in partner[0] and "- novembre 2026 :" in partner[0], partner[0]

    # The months owed before the termination are still called and reminded after it.
    simulate(app, date(2026, 11, 24), date(2027, 1, 20))
    assert called_months(app, lot) == {SEP, OCT, NOV}
    with app.transaction() as session:
        reminded = session.scalars(
            select(OutboxMessage.key).where(
                OutboxMessage.clause_id == lot.clause_id,
                OutboxMessage.kind == "declaration_reminder",
                OutboxMessage.created_at > paris(date(2026, 11, 24), 10),
            )
        ).all()
    assert any(":2026-10" in key for key in reminded), reminded
