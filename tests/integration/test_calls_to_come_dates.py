"""A month owed whose call has not left yet is neither late nor missing, and its call is never
planned on a day already past.

Found by a user trial: a lot planned to end on 31 March, its companies' calls parked past that
end, so April and May were asked of nobody. On 10 June the facilitator records the end of its
works on 15 May: April and May become owed, and the next pass calls them (``rearm_lot``). Until
that pass, ``declaration list --missing`` said « avril … en retard (22 jours ouvrés) » from the
calendar's date, and May « manquante »; May's summary said « appel prévu le 4 mai », a day long
gone. Both now read the call to come by the pass's own rule (``domain.calls_to_come``): the next
call slot, 11 June at 09:00 (today's has passed), and the due date that call gives both months
(the latest of theirs: May's usual seven working days, 22 June). After the pass they are asked:
« manquante », due on that very date, which the summary names.
"""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from click.testing import CliRunner

from tests.integration._ladders import Lot, make_lot
from tests.text import squash
from workflow.app.audit import verify_database
from workflow.bootstrap import App
from workflow.domain.calendar import at_local
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.services.declaration_views import DeclarationState, expected_declarations
from workflow.services.ticks import TimedAction, run_pass, simulate

pytestmark = pytest.mark.scenario

MAR, APR, MAY = date(2026, 3, 1), date(2026, 4, 1), date(2026, 5, 1)


def local(app: App, day: date, hour: int, minute: int = 0) -> datetime:
    return at_local(day, time(hour, minute), app.settings.zone)


def _cli(app: App, at: datetime, *args: str) -> str:
    """A ``clauses`` command at ``at``, its output with its lines and spaces squashed."""
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


def _rows(listed: str) -> dict[str, list[str]]:
    """The lines of ``declaration list``'s table, by month: their cells."""
    rows: dict[str, list[str]] = {}
    for line in listed.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if len(cells) == 6 and cells[0].endswith("2026"):
            rows.setdefault(cells[0], cells)
    return rows


def _pending_of_may(app: App, at: datetime, lot: Lot) -> str:
    """What May's summary says of the lot's company, as ``clauses summary`` prints it."""
    printed = squash(_cli(app, at, "summary", "--month", "2026-05", "--buyer", str(lot.buyer_id)))
    said = printed[printed.index("- Déclarations de mai 2026") :]
    return said[: said.index(" - ", 2)]


def _lot_past_its_planned_end(app: App) -> Lot:
    """A lot of 2 March – 31 March 2026, its end not recorded, the real passes up to 9 June:
    March called (and never declared), April and May called to nobody."""
    lots: list[Lot] = []
    started = local(app, date(2026, 3, 2), 8)
    simulate(
        app,
        date(2026, 3, 2),
        date(2026, 6, 9),
        actions=[
            TimedAction(
                started,
                "lot",
                lambda app, at: lots.append(
                    make_lot(app, start=date(2026, 3, 2), end=date(2026, 3, 31), at=at)
                ),
            )
        ],
        dispatch=False,
    )
    return lots[0]


def test_months_whose_call_is_to_come_are_neither_late_nor_called_on_a_past_day(
    app: App,
) -> None:
    lot = _lot_past_its_planned_end(app)
    ended = local(app, date(2026, 6, 10), 14)
    said = squash(
        _cli(
            app, ended, "clause", "advance", str(lot.clause_id), "achever", "--end-date",
            "15/05/2026",
        )
    )  # fmt: skip
    # The command names what it makes owed, and when it is asked.
    assert (
        "Avril et mai 2026 seront demandés à Bâtiments Test au prochain passage, le 11 juin 2026 "
        "(à déclarer au plus tard le 22 juin 2026)."
    ) in said

    # Before the next pass: March late (called on 1 April, due on 10 April); April and May
    # owed, their call to come on 11 June (today's 09:00 has passed), due on 22 June.
    listed = _cli(
        app, local(app, date(2026, 6, 10), 14, 5), "declaration", "list", "--clause",
        str(lot.clause_id), "--missing",
    )  # fmt: skip
    rows = _rows(listed)
    assert list(rows) == ["mars 2026", "avril 2026", "mai 2026"]
    assert rows["mars 2026"][3].startswith("en retard (")
    assert rows["mars 2026"][5] == "10/04/2026"
    for month in ("avril 2026", "mai 2026"):
        assert rows[month][3].startswith("appel à venir"), rows[month]
        assert rows[month][5] == "22/06/2026"
    assert not any(cell == "à déclarer" for row in rows.values() for cell in row)
    with app.transaction() as session:
        lines = expected_declarations(
            session,
            app.settings,
            today=date(2026, 6, 10),
            now=local(app, date(2026, 6, 10), 14, 5),
            clause_id=lot.clause_id,
        )
    to_call = {ln.month: ln for ln in lines if ln.state is DeclarationState.TO_CALL}
    assert sorted(to_call) == [APR, MAY]
    assert {ln.call_at for ln in to_call.values()} == {local(app, date(2026, 6, 11), 9)}
    assert {ln.late_days for ln in to_call.values()} == {0}
    # Asked this morning, before 09:00: today's call.
    with app.transaction() as session:
        (early,) = {
            ln.call_at
            for ln in expected_declarations(
                session,
                app.settings,
                today=date(2026, 6, 10),
                now=local(app, date(2026, 6, 10), 8),
                clause_id=lot.clause_id,
            )
            if ln.state is DeclarationState.TO_CALL
        }
    assert early == local(app, date(2026, 6, 10), 9)

    # May's summary: not due yet, its call planned on the next pass's day, not on 4 May.
    said = _pending_of_may(app, local(app, date(2026, 6, 10), 14, 1), lot)
    assert "1 pas encore due : Bâtiments Test" in said
    assert "appel prévu le 11 juin 2026" in said
    assert "appel prévu le 4 mai 2026" not in said and "manquante" not in said

    # The pass of 11 June calls them: due on the date the list announced, which the summary and
    # the list now say.
    run_pass(app, local(app, date(2026, 6, 10), 14, 6), dispatch=False)
    run_pass(app, local(app, date(2026, 6, 11), 9), dispatch=False)
    after = local(app, date(2026, 6, 11), 9, 5)
    rows = _rows(
        _cli(app, after, "declaration", "list", "--clause", str(lot.clause_id), "--missing")
    )
    for month in ("avril 2026", "mai 2026"):
        assert rows[month][3] == "à déclarer"
        assert rows[month][5] == "22/06/2026"
    said = _pending_of_may(app, after, lot)
    assert "à déclarer d'ici le 22 juin 2026" in said
    assert "appel prévu" not in said
    assert verify_database(app).findings == ()


def test_a_later_planned_end_names_the_months_it_asks_and_its_last_month_to_come(
    app: App,
) -> None:
    """The same lot, its planned end moved to 30 June (« lot set-end »): April and May are
    asked at the next pass; June, the last month, is not called yet: « sera le dernier mois
    demandé », with its usual call, not « le dernier mois appelé »."""
    lot = _lot_past_its_planned_end(app)
    said = squash(
        _cli(
            app, local(app, date(2026, 6, 10), 14), "lot", "set-end", str(lot.clause_id),
            "30/06/2026", "--reason", "avenant n° 2",
        )
    )  # fmt: skip
    assert "le dernier mois appelé" not in said
    assert (
        "Les appels à déclarer suivent\u00a0: juin 2026 sera le dernier mois demandé, appel prévu "
        "le 1er juillet 2026."
    ) in said
    assert (
        "Avril et mai 2026 seront demandés à Bâtiments Test au prochain passage, le 11 juin 2026 "
        "(à déclarer au plus tard le 22 juin 2026)."
    ) in said
    rows = _rows(
        _cli(
            app, local(app, date(2026, 6, 10), 14, 5), "declaration", "list", "--clause",
            str(lot.clause_id), "--missing",
        )
    )  # fmt: skip
    assert [rows[m][3].startswith("appel à venir") for m in ("avril 2026", "mai 2026")] == [
        True,
        True,
    ]
