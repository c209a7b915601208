"""A lot's end recorded after the month, back-dated before it: « Clauses par étape » says what
« Avancement par clause » says (user trial, 6 December 2026).

Lot A (Bâtiments Test) and lot B (Peintures Test), two buyers' lots, work from 1 June 2026. On
5 October the facilitator records B's end of execution (« achever »), back-dated to 20 August.
September's summaries, written on 22 October, counted B among « 1 clause achevée avant
septembre 2026 » while their stage table still said « mise en œuvre 2 », B's history at the end
of September saying execution: the reader got two answers. Now the table counts B « suivi et
bilan », as its line does; August's summaries, written before the end was recorded, read what
they read. The CLI at September's moment and ``audit verify`` agree; an email written before
the rule (``summary_rules.STAGE_BY_END``) that said B « mise en œuvre » is a remark naming the
rule, and a problem when written under it.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import update

from tests.integration._ladders import Lot, make_lot
from tests.integration.test_lot_terminated import plain
from tests.integration.test_summary_late_start import local
from tests.integration.test_summary_truth import (
    Email,
    check_email,
    summary_emails,
    text_tables,
)
from workflow.adapters.orm import OutboxMessage
from workflow.app import clauses
from workflow.app.audit import verify_database
from workflow.bootstrap import App
from workflow.domain.stages import ClauseEvent
from workflow.domain.summary_rules import ARRIVALS_LATE_OR_NOT, STAGE_BY_END
from workflow.services.summaries import compile_for
from workflow.services.ticks import TimedAction, simulate

pytestmark = pytest.mark.scenario

JUN, AUG, SEP = date(2026, 6, 1), date(2026, 8, 1), date(2026, 9, 1)
ENDED = date(2026, 8, 20)


def scenario(app: App) -> tuple[Lot, Lot]:
    """Lots A and B from 1 June 2026 to 31 October, B's end recorded on 5 October."""
    running = make_lot(app, start=JUN, end=date(2026, 12, 31), at=local(app, JUN, 8))
    ended = make_lot(
        app,
        start=JUN,
        end=date(2026, 12, 31),
        companies=("Peintures Test",),
        at=local(app, JUN, 8),
    )
    finish = TimedAction(
        local(app, date(2026, 10, 5), 10),
        "fin de B, au 20 août",
        lambda app, at: clauses.advance_clause(
            app, ended.clause_id, ClauseEvent.FINISH, end_date=ENDED, reason="Travaux terminés"
        ),
    )
    simulate(app, JUN, date(2026, 10, 31), actions=[finish], dispatch=False)
    return running, ended


def email(app: App, key: str) -> Email:
    (found,) = [e for e in summary_emails(app) if e.key == key]
    return found


def stages(body: str) -> dict[str, str]:
    (table,) = [rows for title, rows in text_tables(body).items() if "par étape" in title]
    return {plain(row["Étape"]): plain(row["Clauses"]) for row in table}


def progress(body: str) -> list[str]:
    return [plain(row["Clause"]) for row in text_tables(body)["Avancement par clause"]]


def test_a_lot_ended_before_the_month_recorded_after_it_is_not_in_execution_then(
    app: App,
) -> None:
    _, lot_b = scenario(app)
    finished = local(app, date(2026, 10, 5), 10)
    august = email(app, "summary:2026-08:facilitator")
    september = email(app, "summary:2026-09:facilitator")
    september_b = email(app, f"summary:2026-09:buyer:{lot_b.buyer_id}")
    assert august.created_at < finished < september.created_at

    # September: B achieved before the month, and « suivi et bilan » in the stage table.
    assert "1 clause achevée avant septembre 2026" in progress(september.body_text)
    said = stages(september.body_text)
    assert said == {"mise en œuvre": "1", "suivi et bilan": "1"}, said
    (b_row,) = text_tables(september_b.body_text)["Avancement par clause"]
    assert "1 clause achevée avant septembre 2026" in plain(b_row["Clause"]), b_row
    assert stages(september_b.body_text) == {"suivi et bilan": "1"}, september_b.body_text

    # August, written before the end was recorded: B in execution, as it was.
    assert stages(august.body_text) == {"mise en œuvre": "2"}
    august_b = email(app, f"summary:2026-08:buyer:{lot_b.buyer_id}")
    assert stages(august_b.body_text) == {"mise en œuvre": "1"}
    (b_line,) = progress(august_b.body_text)
    assert b_line.endswith("(mise en œuvre)"), b_line

    # The summary compiled at September's moment (the CLI's) says the same.
    summary = compile_for(app, SEP, now=september.created_at)
    counts = {s.label: s.clauses for s in summary.overall.clauses_by_stage if s.clauses}
    assert counts == {"mise en œuvre": 1, "suivi et bilan": 1}, counts
    assert [e.clause_id for e in summary.ended_since] == [lot_b.clause_id]

    # The test's own reading of the emails compiles with today's dates: those written since the
    # end was recorded (the audit reads the earlier ones with their dates of then); not against
    # the ladders, whose September call of B left before its end was known.
    for found in summary_emails(app):
        if found.created_at > finished:
            check_email(app, found, ladders=False)
    report = verify_database(app)
    assert [str(f) for f in report.findings] == []
    assert not [r for r in report.remarks if "suivi et bilan" in str(r)]


#: The stage tables of September's emails, as written under ``STAGE_BY_END`` and before it:
#: the facilitator's (A in execution, B achieved) and B's buyer's.
STAGE_TEXT = {
    "facilitator": (
        "Étape           Clauses\n--------------  -------\nmise en œuvre   1\nsuivi et bilan  1\n",
        "Étape          Clauses\n-------------  -------\nmise en œuvre  2\n",
    ),
    "buyer": (
        "Étape           Clauses\n--------------  -------\nsuivi et bilan  1\n",
        "Étape          Clauses\n-------------  -------\nmise en œuvre  1\n",
    ),
}
_FOLLOW_UP_ROW = re.compile(r"\n  <tr><td[^>]*>suivi et bilan</td><td[^>]*>1</td></tr>")
_EXECUTION_CELL = re.compile(r"(>mise en œuvre</td><td[^>]*>)1(</td>)")


def _as_older_rule(app: App, key: str, revision: int) -> None:
    """The email as the rules before ``STAGE_BY_END`` wrote it: B « mise en œuvre » in its
    stage table (text and HTML); kept under the rules numbered ``revision``."""
    found = email(app, key)
    new, old = STAGE_TEXT["facilitator" if key.endswith("facilitator") else "buyer"]
    assert found.body_text.count(new) == 1, found.body_text
    text = found.body_text.replace(new, old)
    head, title, table = found.body_html.partition("Clauses par étape")
    assert title and table.count("suivi et bilan") == 1, found.body_html
    if key.endswith("facilitator"):
        table = _EXECUTION_CELL.sub(r"\g<1>2\g<2>", _FOLLOW_UP_ROW.sub("", table), count=1)
    else:
        table = table.replace(">suivi et bilan<", ">mise en œuvre<", 1)
    assert "suivi et bilan" not in table
    with app.transaction() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.key == key)
            .values(body_text=text, body_html=head + title + table, rules_revision=revision)
        )


def test_an_email_written_before_the_rule_that_said_it_in_execution_is_a_remark(
    app: App,
) -> None:
    _, lot_b = scenario(app)
    keys = ("summary:2026-09:facilitator", f"summary:2026-09:buyer:{lot_b.buyer_id}")
    for key in keys:
        _as_older_rule(app, key, ARRIVALS_LATE_OR_NOT)
    report = verify_database(app)
    assert [str(f) for f in report.findings] == []
    said = [plain(str(r)) for r in report.remarks if "l'étape « suivi et bilan »" in plain(str(r))]
    assert len(said) == 2, [str(r) for r in report.remarks]
    for remark in said:
        assert (
            f"la clause n° {lot_b.clause_id} (« mise en œuvre », fin d'exécution le 20/08/2026) "
            "y était comptée à l'étape que son historique disait à la fin du mois"
        ) in remark, remark
        assert "(6 décembre 2026)" in remark, remark

    # The same emails under today's rules are problems: their two answers disagree.
    with app.transaction() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.key.in_(keys))
            .values(rules_revision=STAGE_BY_END)
        )
    found = [plain(str(f)) for f in verify_database(app).findings]
    assert len([f for f in found if "Clauses par étape" in f]) == 2, found


def test_the_audit_says_the_hours_of_an_unreconciled_cumul_in_french(app: App) -> None:
    """The audit's sentences are read by a person: « 3 549,50 h », never « 3549.50 h ». August's
    email altered to print a cumul of 3 549,50 h: September's does not add up to it."""
    scenario(app)
    key = "summary:2026-08:facilitator"
    found = email(app, key)
    printed = "Heures cumulées depuis le début\u00a0: 0\u00a0h sur"
    assert found.body_text.count(printed) == 1, found.body_text
    altered = found.body_text.replace(
        printed, "Heures cumulées depuis le début\u00a0: 3\u202f549,50\u00a0h sur"
    )
    with app.transaction() as session:
        session.execute(
            update(OutboxMessage).where(OutboxMessage.key == key).values(body_text=altered)
        )
    problems = [f.problem for f in verify_database(app).findings if "n'est pas celui" in f.problem]
    assert problems == [
        "son cumul (0\u00a0h) n'est pas celui de la synthèse précédente (3\u202f549,50\u00a0h, "
        f"{key}) plus les heures du mois (0\u00a0h) et celles qu'elle nomme (0\u00a0h)"
    ], problems
