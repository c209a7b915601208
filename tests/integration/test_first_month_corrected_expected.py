"""A month called before a company's first month on the lot, its first month corrected later,
is expected of it nowhere (SQLite and PostgreSQL).

Found by a review: a lot started on 1 September 2026, two companies; September called for both
on the first working day of October, then the first month of the second one (Gimone Second
Œuvre SAS) corrected to October (it joined the works then). The monthly summary no longer
expected its September (``company_months.expected_of_company``), but ``clauses declaration
list`` kept it, « en retard », and the clause's page counted it among the declarations owed:
« rythme à confirmer (1 déclaration non reçue) ». One rule holds everywhere now: a month
before a company's first month (or after its last) is expected of it only when it was declared
all the same; its call sent before the correction does not make it owed, as a month after the
last of a company that left the site (``clauses clause company-left``) is not.

No command corrects the first month of a company already in the award (``clause award --from``
gives it to the companies it adds only): the review wrote it in the database, as the test does.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.integration._ladders import Lot, declare, make_lot
from tests.integration.test_company_left_site import ladder_emails
from tests.integration.test_end_corrected_notice import declare_hours
from tests.text import squash
from workflow.adapters.orm import AwardParty, DeclarationLadder
from workflow.app.audit import verify_database
from workflow.app.clause_board import ClausePage, clause_page, owed_through
from workflow.bootstrap import App
from workflow.domain.calendar import LadderStep, at_local
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.services.ticks import TimedAction, simulate

pytestmark = pytest.mark.scenario

HOLDER, SECOND = "Bâtiments Garonne", "Gimone Second Œuvre SAS"
SEP, OCT, NOV = date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)


def local(app: App, day: date, hour: int) -> datetime:
    return at_local(day, time(hour), app.settings.zone)


def _cli(app: App, at: datetime, *args: str) -> str:
    """A ``clauses`` command at ``at``."""
    state = CliState()
    state.factory = lambda: app
    real_clock = app.clock
    app.clock = lambda: at
    try:
        result = CliRunner().invoke(cli, list(args), obj=state, env={"COLUMNS": "200"})
    finally:
        app.clock = real_clock
    assert result.exit_code == 0, result.output
    return result.output


def _correct_first_month(app: App, lot: Lot, month: date) -> None:
    """The second company's first month corrected to ``month``, in the database, as the review
    did: no command corrects it for a company already in the award."""
    with app.transaction() as session:
        party = session.scalars(
            select(AwardParty).where(
                AwardParty.clause_id == lot.clause_id,
                AwardParty.company_id == lot.company_ids[1],
            )
        ).one()
        party.first_month = month


def _scenario(app: App) -> Lot:
    """The lot, the real passes from 1 September to 20 November 2026: September called for both
    companies on 1 October, the holder declaring September and October, the second company's
    first month corrected to October on 5 October, its October declared."""
    lots: list[Lot] = []
    actions = [
        TimedAction(
            local(app, SEP, 8),
            "lot",
            lambda app, at: lots.append(
                make_lot(app, start=SEP, end=date(2027, 6, 30), companies=(HOLDER, SECOND), at=at)
            ),
        ),
        TimedAction(
            local(app, date(2026, 10, 2), 11),
            f"{HOLDER} 2026-09",
            lambda app, at: declare_hours(app, lots[0], SEP, at, "50"),
        ),
        TimedAction(
            local(app, date(2026, 10, 5), 15),
            "premier mois corrigé",
            lambda app, at: _correct_first_month(app, lots[0], OCT),
        ),
        TimedAction(
            local(app, date(2026, 11, 3), 11),
            f"{HOLDER} 2026-10",
            lambda app, at: declare_hours(app, lots[0], OCT, at, "50"),
        ),
        TimedAction(
            local(app, date(2026, 11, 3), 12),
            f"{SECOND} 2026-10",
            lambda app, at: declare(app, lots[0], OCT, at, company=1),
        ),
    ]
    simulate(app, SEP, date(2026, 11, 20), actions=actions)
    return lots[0]


def _at(app: App) -> datetime:
    return local(app, date(2026, 11, 20), 10)


def _page(app: App, lot: Lot) -> ClausePage:
    """The clause's page on 20 November (its pace said at the end of October, the last month
    due)."""
    real_clock = app.clock
    app.clock = lambda: _at(app)
    try:
        return clause_page(app, lot.clause_id)
    finally:
        app.clock = real_clock


def _summary(app: App, lot: Lot, month: str) -> str:
    printed = _cli(app, _at(app), "summary", "--month", month, "--buyer", str(lot.buyer_id))
    return squash(printed).replace("\u00a0", " ")


def test_a_month_called_before_the_corrected_first_month_is_expected_nowhere(app: App) -> None:
    lot = _scenario(app)
    second = lot.company_ids[1]
    with app.transaction() as session:
        called = session.scalar(
            select(DeclarationLadder).where(
                DeclarationLadder.clause_id == lot.clause_id,
                DeclarationLadder.company_id == second,
                DeclarationLadder.month == SEP,
            )
        )
        assert called is not None and called.called_at is not None, "September was called"

    # ``declaration list``: September of the second company is neither late nor missing, no
    # longer expected, as its month after a departure; its October is.
    args = ("declaration", "list", "--clause", str(lot.clause_id))
    listed = json.loads(_cli(app, _at(app), *args, "--json"))
    lines = {(line["mois"], line["entreprise"]): line["etat"] for line in listed["lignes"]}
    assert lines == {
        ("2026-09-01", HOLDER): "declared",
        ("2026-10-01", HOLDER): "declared",
        ("2026-10-01", SECOND): "zero",
    }, lines
    totals = {t["mois"]: t["attendues"] for t in listed["totaux_par_mois"]}
    assert totals == {"2026-09-01": 1, "2026-10-01": 2}
    assert (listed["total"]["en_retard"], listed["total"]["manquantes"]) == (0, 0)
    printed = squash(_cli(app, _at(app), *args))
    assert "en retard (" not in printed and "à déclarer |" not in printed, printed
    assert printed.replace("\u00a0", " ").endswith(
        "3 déclarations attendues : 2 déclarées, 1 à zéro heure, 0 à déclarer, 0 en retard ; "
        "100 h déclarées."
    ), printed
    missing = json.loads(_cli(app, _at(app), *args, "--missing", "--json"))
    assert missing["lignes"] == []

    # The monthly summary of September expects what the list does: the holder's alone.
    assert "Déclarations de septembre 2026 : toutes reçues (1 sur 1)" in _summary(
        app, lot, "2026-09"
    )

    # The clause's page counts no declaration owed up to October: its pace is said.
    page = _page(app, lot)
    assert page.pace_month == OCT
    assert owed_through(page.declarations, page.pace_month) == 0
    assert page.pace_said is not None and "non reçue" not in page.pace_said, page.pace_said
    assert page.total.expected == listed["total"]["attendues"] == 3
    assert verify_database(app).findings == ()


def test_its_call_is_not_followed_and_no_later_summary_names_it(app: App) -> None:
    """After the correction, September's ladder of the second company is stopped: no reminder
    nor alert to the buyer for it; October's summary names it neither among the earlier
    months still missing nor in its pace, which is the one the clause's page says."""
    lot = _scenario(app)
    second = lot.company_ids[1]
    sent = {(e.months, e.step) for e in ladder_emails(app, lot) if e.company_id == second}
    assert sent == {((SEP,), LadderStep.CALL), ((OCT,), LadderStep.CALL)}, sent
    with app.transaction() as session:
        september = session.scalars(
            select(DeclarationLadder).where(
                DeclarationLadder.clause_id == lot.clause_id,
                DeclarationLadder.company_id == second,
                DeclarationLadder.month == SEP,
            )
        ).one()
        assert (september.next_step, september.next_step_at) == (LadderStep.DONE, None)

    october = _summary(app, lot, "2026-10")
    assert "Déclarations d'octobre 2026 : toutes reçues (2 sur 2)" in october, october
    assert "mois précédents toujours manquantes" not in october, october
    page = _page(app, lot)
    assert page.pace_said is not None
    assert f"Rythme à fin octobre 2026 : {page.pace_said.replace(chr(0xA0), ' ')} -" in october
    assert "non reçue" not in october
    assert verify_database(app).findings == ()
