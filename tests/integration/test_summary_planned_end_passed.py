"""A lot past its planned end, its end not recorded, is not « achevée ».

Found by a user trial: a lot awarded 02/03–31/03/2026, started, still in execution in May (the
facilitator never recorded the end of its works). April's summary counted it on the line « 1
clause achevée avant avril 2026 »: its buyer read that the work had ended, which nobody said.

Now it is followed in April, listed one by one, its stage saying where it stands (« mise en
œuvre – fin prévue le 31/03/2026 dépassée »), its hours, target and pace kept; its company's
April declaration is not expected (after the planned end the service calls it no more: neither
« manquante » nor « pas encore due » would be true). Once the end of its works is recorded
(``achever --end-date 31/03/2026``), April's summary compiled again counts it among the
achieved, as before. A summary written under the older rule is audited with a remark naming
the rule, not a problem; any other difference in it still is one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time
from decimal import Decimal

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.integration._ladders import Lot, make_lot
from tests.integration.test_summary_late_start import declare_hours, plain
from tests.integration.test_summary_truth import (
    Email,
    figure_lines,
    summary_emails,
    text_tables,
)
from tests.text import squash
from workflow.adapters.orm import Clause, OutboxMessage
from workflow.adapters.reports import clauses_table
from workflow.app.audit import verify_database
from workflow.bootstrap import App
from workflow.domain.calendar import at_local
from workflow.domain.monthly_summary import ClauseLine, MonthlySummary
from workflow.domain.stages import ClauseEvent
from workflow.emails.summaries import summary_email
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.services.clauses import advance_clause
from workflow.services.summaries import compile_for
from workflow.services.ticks import TimedAction, simulate

pytestmark = pytest.mark.scenario

NBSP = "\u00a0"
MAR, APR = date(2026, 3, 1), date(2026, 4, 1)
STAGE = "mise en œuvre – fin prévue le 31/03/2026 dépassée"
CLAUSES = "Avancement par clause"


def local(app: App, day: date, hour: int) -> datetime:
    return at_local(day, time(hour), app.settings.zone)


@dataclass(frozen=True)
class Territory:
    past: Lot  # 02/03–31/03/2026, still in execution: its end never recorded
    running: Lot  # 02/03–31/12/2026, another buyer's
    ended: Lot  # 02/03–31/03/2026, its end recorded on 2 April: achieved before April
    facilitator: Email  # April's summaries, sent by the clock
    buyer: Email  # the buyer of the lot past its planned end


def _finish(app: App, lot: Lot, at: datetime) -> None:
    with app.transaction() as session:
        advance_clause(
            session,
            lot.clause_id,
            ClauseEvent.FINISH,
            actor="test",
            reason=None,
            now=at,
            publish=app.publish,
            end_date=date(2026, 3, 31),
            today=at.date(),
        )


def _territory(app: App) -> Territory:
    """Three lots started on 2 March, March declared, the real passes up to 31 May."""
    lots: list[Lot] = []
    started = local(app, date(2026, 3, 2), 8)

    def lot(end: date) -> TimedAction:
        return TimedAction(
            started,
            f"lot jusqu'au {end}",
            lambda app, at: lots.append(make_lot(app, start=date(2026, 3, 2), end=end, at=at)),
        )

    declared = local(app, date(2026, 4, 3), 11)
    actions = [
        lot(date(2026, 3, 31)),
        lot(date(2026, 12, 31)),
        lot(date(2026, 3, 31)),
        TimedAction(
            declared, "A mars", lambda app, at: declare_hours(app, lots[0], MAR, "120", at)
        ),
        TimedAction(declared, "B mars", lambda app, at: declare_hours(app, lots[1], MAR, "40", at)),
        TimedAction(declared, "C mars", lambda app, at: declare_hours(app, lots[2], MAR, "80", at)),
        TimedAction(
            local(app, date(2026, 4, 2), 10), "C achevé", lambda app, at: _finish(app, lots[2], at)
        ),
        TimedAction(
            local(app, date(2026, 5, 5), 11),
            "B avril",
            lambda app, at: declare_hours(app, lots[1], APR, "60", at),
        ),
    ]
    simulate(app, date(2026, 3, 2), date(2026, 5, 31), actions=actions, dispatch=False)
    past, running, ended = lots
    april = {e.key: e for e in summary_emails(app) if e.month == APR}
    return Territory(
        past,
        running,
        ended,
        april["summary:2026-04:facilitator"],
        april[f"summary:2026-04:buyer:{past.buyer_id}"],
    )


def _cli(app: App, at: datetime, *args: str) -> str:
    """A ``clauses`` command at ``at``."""
    state = CliState()
    state.factory = lambda: app
    real_clock = app.clock
    app.clock = lambda: at
    try:
        result = CliRunner().invoke(cli, list(args), obj=state)
    finally:
        app.clock = real_clock
    assert result.exit_code == 0, result.output
    return result.output


def _row(app: App, lot: Lot, stage: str, *, buyer: bool = False) -> str:
    """A clause's line in the email's clauses table."""
    with app.transaction() as session:
        market = session.get_one(Clause, lot.clause_id).market
        name = market.operation.buyer.name
        who = f"{name} – " if buyer else ""
        return f"{who}n° {lot.clause_id} – {market.reference} lot 1 – Gros œuvre ({stage})"


def _adds_up(summary: MonthlySummary) -> None:
    """The clauses table (the spreadsheet's and the CSV's) adds up to the headline."""
    table = clauses_table(summary)
    columns = [c.title for c in table.columns]
    total = summary.overall.progress
    for column, figure in (
        ("Heures prévues", total.hours_target),
        ("Heures du mois", total.hours_month),
        ("Heures cumulées", total.hours_cumulated),
    ):
        at = columns.index(column)
        assert sum(Decimal(row[at] or 0) for row in table.rows) == figure, column
    lines = summary.followed_clauses
    assert len(lines) + summary.earlier_clauses.clauses == total.clauses
    # The expected declarations are the buyers' added up.
    expected = summary.overall.declarations.expected
    assert expected == sum(b.figures.declarations.expected for b in summary.buyers)


def test_a_lot_past_its_planned_end_is_followed_until_its_end_is_recorded(app: App) -> None:
    t = _territory(app)

    # The buyer's April summary lists the lot, where it stands; nothing says it is achieved,
    # nothing is expected of its company for April.
    mine = t.buyer.body_text
    shown = figure_lines(mine)
    assert shown["Déclarations d'avril 2026"] == "aucune attendue"
    assert shown["Clauses comptées"] == "1, dont 1 suivie dans le mois"
    assert "achevée" not in mine
    assert "pas encore due" not in mine and "manquante" not in mine
    (row,) = text_tables(mine)[CLAUSES]
    assert {column: plain(cell) for column, cell in row.items()} == {
        "Clause": _row(app, t.past, STAGE),
        "Mois": "0 h",
        "Cumul / prévues": "120 h / 500 h (24 %)",
        "Temps": "100 %",
    }
    # Its pace kept: 24 % of its hours for all of its time.
    assert plain(shown["Rythme à fin avril 2026"]).endswith("pour 100 % du temps écoulé, en retard")
    assert squash(STAGE) in squash(t.buyer.body_html)

    # The facilitator's: the lot one by one, the lot ended on the line of the achieved.
    shown = figure_lines(t.facilitator.body_text)
    assert shown["Déclarations d'avril 2026"] == "toutes reçues (1 sur 1)"
    assert shown["Clauses comptées"] == "3, dont 2 suivies dans le mois"
    rows = {r["Clause"]: r for r in text_tables(t.facilitator.body_text)[CLAUSES]}
    assert set(rows) == {
        _row(app, t.past, STAGE, buyer=True),
        _row(app, t.running, "mise en œuvre", buyer=True),
        "1 clause achevée avant avril 2026",
    }
    assert (
        plain(rows["1 clause achevée avant avril 2026"]["Cumul / prévues"]) == "80 h / 500 h (16 %)"
    )

    # ``clauses summary`` at the email's moment: the same compile, the same words.
    summary = compile_for(app, APR, now=t.facilitator.created_at)
    (past,) = [c for c in summary.clauses if c.clause_id == t.past.clause_id]
    assert (past.followed, past.stage_label) == (True, STAGE)
    declarations = summary.overall.declarations
    assert declarations.expected == 1 and declarations.received == 1
    assert t.past.clause_id not in {
        m.clause_id for m in declarations.missing + declarations.pending
    }
    _adds_up(summary)
    table = clauses_table(summary)
    assert [r[5] for r in table.rows] == [STAGE, "mise en œuvre", ""]
    printed = _cli(
        app, t.facilitator.created_at, "summary", "--month", "2026-04", "--format", "csv"
    )
    assert STAGE in printed and "1 clause achevée avant avril 2026" in printed
    assert "2 clauses achevées" not in printed
    # What the clock sent is what the data say: the audit finds nothing.
    assert verify_database(app).findings == ()

    # The facilitator records the end of its works: April's summary counts it as achieved.
    finished = local(app, date(2026, 6, 1), 10)
    _cli(
        app,
        finished,
        "clause",
        "advance",
        str(t.past.clause_id),
        "achever",
        "--end-date",
        "31/03/2026",
    )
    summary = compile_for(app, APR, now=finished)
    (past,) = [c for c in summary.clauses if c.clause_id == t.past.clause_id]
    assert (past.followed, past.stage_label) == (False, "mise en œuvre")
    assert summary.earlier_clauses.clauses == 2
    assert summary.overall.followed == 1
    _adds_up(summary)
    assert [r[4] for r in clauses_table(summary).rows][-1] == "2 clauses achevées avant avril 2026"
    # The emails said what the data said then: replayed with the lot's dates of then (its end
    # not recorded yet, ``audit.dates_then``), they differ in nothing (user trial F7).
    report = verify_database(app)
    assert report.findings == ()
    assert report.remarks == ()


def _as_written_before(app: App, email: Email, past: Lot) -> None:
    """Write ``email`` again as the code before the change did: the lot past its planned end
    on the line of the achieved, not followed; no rules kept on its row (``rules_revision``)."""
    summary = compile_for(app, email.month, buyer_id=email.buyer_id, now=email.created_at)

    def older(line: ClauseLine) -> ClauseLine:
        if line.clause_id != past.clause_id:
            return line
        return replace(line, followed=False, past_planned_end=False)

    overall = replace(summary.overall, followed=summary.overall.followed - 1)
    summary = replace(summary, clauses=tuple(older(c) for c in summary.clauses), overall=overall)
    context, _ = summary_email(summary)
    rendered = app.renderer.render(email.kind, context)
    with app.transaction() as session:
        row = session.scalars(select(OutboxMessage).where(OutboxMessage.key == email.key)).one()
        row.body_text, row.body_html = rendered.text, rendered.html
        row.rules_revision = None


def test_a_summary_written_under_the_older_rule_is_a_remark_not_a_problem(app: App) -> None:
    t = _territory(app)
    _as_written_before(app, t.facilitator, t.past)
    _as_written_before(app, t.buyer, t.past)
    facilitator = {e.key: e for e in summary_emails(app)}[t.facilitator.key]
    rows = {r["Clause"] for r in text_tables(facilitator.body_text)[CLAUSES]}
    assert "2 clauses achevées avant avril 2026" in rows  # as the older code wrote it
    buyer = {e.key: e for e in summary_emails(app)}[t.buyer.key]
    assert [r["Clause"] for r in text_tables(buyer.body_text)[CLAUSES]] == [
        "1 clause achevée avant avril 2026"
    ]

    report = verify_database(app)
    assert report.findings == ()
    said = [r.problem for r in report.remarks if "parmi les clauses achevées" in r.problem]
    assert len(said) == 2
    for message in said:
        assert (
            f"la clause n° {t.past.clause_id} (fin prévue le 31/03/2026), en cours à la fin du "
            "mois sans fin d'exécution enregistrée, y était comptée parmi les clauses achevées "
            "; le service suit désormais de telles clauses dans le mois, chacune sur sa ligne, "
            "en disant leur fin prévue dépassée (depuis le 5 décembre 2026)"
        ) in plain(squash(message))

    # Narrow: any other difference in such an email is still a problem.
    with app.transaction() as session:
        row = session.scalars(select(OutboxMessage).where(OutboxMessage.key == t.buyer.key)).one()
        figure = f"Heures cumulées depuis le début{NBSP}: 120{NBSP}h"
        assert figure in row.body_text
        row.body_text = row.body_text.replace(figure, figure.replace("120", "125"))
    report = verify_database(app)
    assert [plain(squash(f.problem)) for f in report.findings] == [
        "chiffre « Heures cumulées depuis le début » : le courriel disait « 125 h sur 500 h "
        "prévues (24 % de l'objectif) », les données disent « 120 h sur 500 h prévues (24 % de "
        "l'objectif) »",
        # (the text part alone was changed: its HTML part says otherwise)
        "chiffre « Heures cumulées depuis le début » : la partie HTML disait « 120 h sur 500 h "
        "prévues (24 % de l'objectif) », la partie texte dit « 125 h sur 500 h prévues (24 % de "
        "l'objectif) »",
    ]


def test_a_planned_end_moved_since_a_summary_is_a_remark_not_a_problem(app: App) -> None:
    """User trial: an amendment moved a lot's planned end (« lot set-end »); the summaries sent
    before, whose time elapsed it moves, were read as problems by the audit. The change is in
    the history: a remark names it, as for an end recorded."""
    t = _territory(app)
    moved = local(app, date(2026, 6, 1), 10)
    _cli(
        app,
        moved,
        "lot",
        "set-end",
        str(t.running.clause_id),
        "31/03/2027",
        "--reason",
        "avenant n° 2",
    )
    # Replayed with the planned end of then (``audit.dates_then``): nothing to explain (F7).
    report = verify_database(app)
    assert report.findings == ()
    assert report.remarks == ()
