"""The funders' annual report says what its hours leave out: the lots terminated in the year and
the monthly declarations expected and never received.

User trial: the 2026 report of a territory whose lot was terminated (« marché résilié ») on
15 November with declarations still missing said nothing of either; a funder took its hours as
complete, and a lot closed without its declarations vanished from view altogether. Now its key
figures count the lots terminated and the declarations not received (a company x a month, by the
ladder's rule, ``months_owed.owed_up_to``, once the due date its call gave has passed), a table
lists each lot terminated with its date and one each lot with declarations missing, and the
definitions say what they count. The totals are the sums of their lines.

The lot of ``test_lot_terminated``: two companies from September 2026; the holder declares
September (35 h) and October, the co-contractor September; terminated on 20 November, effective
on the 15th. Owed, never declared: the co-contractor's October and November, the holder's
November.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from tests.conftest import Clock
from tests.integration._ladders import Lot, declare
from tests.integration.test_end_date_correction import paris, run_cli
from tests.integration.test_lot_terminated import app, plain, running_lot, settings, terminate
from workflow.adapters.annual_report_files import render_annual_report, table_rows
from workflow.adapters.orm import Buyer, Clause
from workflow.bootstrap import App
from workflow.domain.annual_report import AnnualReport
from workflow.services.annual_report import compile_annual_report
from workflow.services.ticks import simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

__all__ = ["app", "settings"]  # the fixtures, imported to be used here

OCT = date(2026, 10, 1)


def annual(app: App, at: datetime, buyer_id: int | None = None) -> AnnualReport:
    with app.transaction() as session:
        return compile_annual_report(
            session, 2026, buyer_id=buyer_id, now=at, zone=app.settings.zone
        )


def names(app: App, lot: Lot) -> tuple[str, str]:
    """The buyer's name and the lot's words (« M-3 lot 1 – Gros œuvre »)."""
    with app.transaction() as session:
        clause = session.get_one(Clause, lot.clause_id)
        words = f"{clause.market.reference} lot {clause.lot_number} – {clause.lot_title}"
        return session.get_one(Buyer, lot.buyer_id).name, words


def key_figures(report: AnnualReport) -> dict[str, object]:
    return dict(table_rows(report, "Chiffres clés"))


def add_up(report: AnnualReport) -> None:
    """Each total is the sum of its lines."""
    figures = key_figures(report)
    assert figures["Marchés résiliés"] == len(table_rows(report, "Marchés résiliés"))
    missing = table_rows(report, "Déclarations non reçues")
    assert figures["Déclarations non reçues"] == report.undeclared_months
    assert sum(row[2] for row in missing) == report.undeclared_months


def test_the_annual_report_names_the_lot_terminated_and_the_declarations_never_received(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot = running_lot(app, date(2026, 11, 19))
    terminate(settings, clock, lot, paris(date(2026, 11, 20), 10), "15/11/2026")
    simulate(app, date(2026, 11, 20), date(2026, 12, 5))
    buyer, words = names(app, lot)
    named = f"{buyer} – {words}"

    # 5 December, the year not over: November was called on 1 December, its due date is to
    # come; the co-contractor's October is past its due date.
    early = annual(app, paris(date(2026, 12, 5), 10))
    assert early.terminated[0].on == date(2026, 11, 15)
    assert table_rows(early, "Déclarations non reçues") == (
        (f"{named} (marché résilié le 15/11/2026)", 1, 1),
    )
    add_up(early)

    simulate(app, date(2026, 12, 6), date(2027, 2, 10))
    report = annual(app, paris(date(2027, 2, 11), 9))
    assert key_figures(report)["Marchés résiliés"] == 1
    assert key_figures(report)["Déclarations non reçues"] == 3
    assert table_rows(report, "Marchés résiliés") == ((named, "15/11/2026", report.hours),)
    assert report.hours == 35
    assert table_rows(report, "Déclarations non reçues") == (
        (f"{named} (marché résilié le 15/11/2026)", 2, 3),
    )
    add_up(report)

    # As the funder reads it: the command's text, and the same in every format.
    code, printed = run_cli(settings, clock, paris(date(2027, 2, 11), 9), "report", "annual",
                            "--year", "2026")  # fmt: skip
    assert code == 0, printed
    printed = " ".join(plain(printed).replace("│", " ").split())
    for expected in (
        "Marchés résiliés 1",
        "Déclarations non reçues 3",
        "Marchés résiliés en 2026",
        f"{named} 15/11/2026 35 h",
        "Déclarations mensuelles de 2026 non reçues, par lot",
        "Déclarations non reçues : déclarations mensuelles de 2026 qu'une entreprise devait",
    ):
        assert expected in printed, (expected, printed)
    for fmt in ("csv", "html"):
        shown = plain(render_annual_report(report, fmt).decode("utf-8-sig"))
        assert "Marchés résiliés en 2026" in shown and "marché résilié le 15/11/2026" in shown

    # One buyer's report: the same lot, without the buyer's name before it.
    mine = annual(app, paris(date(2027, 2, 11), 9), lot.buyer_id)
    assert table_rows(mine, "Déclarations non reçues") == (
        (f"{words} (marché résilié le 15/11/2026)", 2, 3),
    )
    add_up(mine)

    # The co-contractor's October arrives late: one month fewer.
    declare(app, lot, OCT, paris(date(2027, 2, 11), 10), company=1)
    assert annual(app, paris(date(2027, 2, 11), 11)).undeclared_months == 2

    # The lot closed without the two Novembers: they are no longer asked, and still said.
    code, said = run_cli(settings, clock, paris(date(2027, 2, 12), 10), "clause", "report",
                         str(lot.clause_id), "--text", "Chantier arrêté.")  # fmt: skip
    assert code == 0, said
    code, said = run_cli(settings, clock, paris(date(2027, 2, 12), 11), "clause", "advance",
                         str(lot.clause_id), "cloturer")  # fmt: skip
    assert code == 0, said
    closed = annual(app, paris(date(2027, 2, 12), 12))
    assert table_rows(closed, "Déclarations non reçues") == (
        (
            f"{named} (marché résilié le 15/11/2026, clôturé sans ces déclarations)",
            2,
            2,
        ),
    )
    assert table_rows(closed, "Marchés résiliés") == ((named, "15/11/2026", closed.hours),)
    add_up(closed)
