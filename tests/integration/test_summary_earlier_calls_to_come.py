"""A month owed whose call has not left yet is in the summary's figures, as in ``declaration list``.

Found by a user trial: a lot recorded as started on a Friday afternoon, its start date weeks
back, owes the months since; its catch-up call leaves at the next pass, Monday at 09:00. The
summary of May, written that Monday at 07:00, listed May « pas encore due (appel prévu le 22
juin) » but said nothing of April: not among the earlier months, not in the pace's « à
confirmer », while ``declaration list`` said it « appel à venir ». April is now « attendue, pas
encore due » with its call to come (``summary_rules.EARLIER_CALLS_TO_COME``), and the audit,
reading that email once the call has left, finds what it said. An email written before the
rule is read the older way, one remark naming the month.

The invariant, at moments before the call, at the summary's and after the call: the company x
lot x month the summary counts owed (the month's missing and not due, the earlier months'
missing and not due) are those ``declaration list`` says owed up to the month.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time

import pytest
from sqlalchemy import update

from tests.integration._ladders import Lot, make_lot
from tests.integration.test_lot_terminated import plain
from workflow.adapters.orm import OutboxMessage
from workflow.adapters.reports import figure_lines
from workflow.app.audit import verify_database
from workflow.bootstrap import App
from workflow.domain.calendar import at_local
from workflow.domain.monthly_summary import MonthlySummary
from workflow.domain.summary_rules import EARLIER_CALLS_TO_COME, STAGE_BY_END
from workflow.services import summaries
from workflow.services.declaration_views import OWED_STATES, expected_declarations
from workflow.services.summaries import compile_for
from workflow.services.ticks import TimedAction, run_pass, simulate

pytestmark = [pytest.mark.scenario, pytest.mark.postgres]

MAY, APR = date(2026, 5, 1), date(2026, 4, 1)
RECORDED = (date(2026, 6, 19), time(14))  # a Friday afternoon
SUMMARY_KEY = "summary:2026-05:facilitator"


def local(app: App, day: date, at: time) -> datetime:
    return at_local(day, at, app.settings.zone)


def scenario(app: App, until: date = date(2026, 6, 22)) -> tuple[Lot, Lot]:
    """Lot A on time since March; lot B recorded started on Friday 19 June at 14:00 with a start
    date of 1 April; the real passes up to ``until`` (May's summary leaves on Monday 22 June at
    07:00, B's catch-up call at 09:00)."""
    lots: list[Lot] = []
    simulate(
        app,
        date(2026, 3, 2),
        until,
        actions=[
            TimedAction(
                local(app, date(2026, 3, 2), time(8)),
                "a",
                lambda app, at: lots.append(make_lot(app, start=date(2026, 3, 2), at=at)),
            ),
            TimedAction(
                local(app, *RECORDED),
                "b",
                lambda app, at: lots.append(
                    make_lot(app, start=APR, at=at, companies=("Entreprise Tardive",))
                ),
            ),
        ],
        dispatch=False,
    )
    return lots[0], lots[1]


def owed_in_summary(summary: MonthlySummary) -> set[tuple[int, int, date]]:
    """What the summary counts owed: company x lot x month, the month's and the earlier ones'."""
    found = summary.overall.declarations
    owed = {(d.clause_id, d.company_id, summary.month) for d in (*found.missing, *found.pending)}
    owed |= {(e.clause_id, e.company_id, m) for e in found.earlier for m in e.months}
    owed |= {(e.clause_id, e.company_id, e.month) for e in found.earlier_pending}
    return owed


def owed_in_list(app: App, now: datetime) -> set[tuple[int, int, date]]:
    """What ``declaration list`` says owed at ``now``, up to May."""
    with app.transaction() as session:
        lines = expected_declarations(
            session,
            app.settings,
            today=now.astimezone(app.settings.zone).date(),
            now=now,
        )
    return {
        (ln.clause_id, ln.company_id, ln.month)
        for ln in lines
        if ln.state in OWED_STATES and ln.month <= MAY
    }


def said(summary: MonthlySummary) -> dict[str, str]:
    return {label: plain(value) for label, value in figure_lines(summary)}


def test_a_late_start_s_earlier_month_is_owed_in_the_summary_before_its_call(app: App) -> None:
    _, lot_b = scenario(app, until=date(2026, 6, 19))
    (late,) = lot_b.company_ids
    before = local(app, date(2026, 6, 19), time(14, 5))
    summary = compile_for(app, MAY, now=before)
    assert owed_in_summary(summary) == owed_in_list(app, before)
    (april,) = summary.overall.declarations.earlier_pending
    assert (april.clause_id, april.company_id, april.month) == (lot_b.clause_id, late, APR)
    assert not april.called
    assert april.call_at == local(app, date(2026, 6, 22), time(9))
    figures = said(summary)
    waiting = figures["Déclarations des mois précédents attendues, pas encore dues"]
    assert re.fullmatch(
        r"avril 2026 de Entreprise Tardive \(M-\d+ lot 1 – Gros œuvre – Donneur d'ordre \d+, "
        r"appel prévu le 22 juin 2026\)",
        waiting,
    ), waiting
    # The pace waits for it too: lot A's March, April and May, lot B's April and May.
    assert "à confirmer (5 déclarations non reçues)" in figures["Rythme à fin mai 2026"]

    # Lot B's buyer reads it too.
    own = compile_for(app, MAY, buyer_id=lot_b.buyer_id, now=before)
    assert [e.month for e in own.overall.declarations.earlier_pending] == [APR]


def test_the_summary_written_before_the_call_is_found_by_the_audit_after_it(app: App) -> None:
    scenario(app)
    email = _email(app, SUMMARY_KEY)
    assert email.created_at == local(app, date(2026, 6, 22), time(7))
    assert "avril 2026 de Entreprise Tardive" in email.body_text
    assert "appel prévu le 22 juin 2026" in plain(email.body_text)
    # The call leaves at 09:00: April and May asked, due on the date the call gave.
    run_pass(app, local(app, date(2026, 6, 22), time(9)), dispatch=False)
    after = local(app, date(2026, 6, 22), time(9, 5))
    summary = compile_for(app, MAY, now=after)
    assert owed_in_summary(summary) == owed_in_list(app, after)
    (april,) = summary.overall.declarations.earlier_pending
    assert april.called and april.due_on is not None
    assert (
        "à déclarer d'ici le"
        in said(summary)["Déclarations des mois précédents attendues, pas encore dues"]
    )
    # Read again after the call, the email of 07:00 says what was true then.
    report = verify_database(app)
    assert [str(f) for f in report.findings] == []
    assert not [r for r in report.remarks if "7 décembre 2026" in str(r)]


@contextmanager
def _older_rule() -> Iterator[None]:
    """Summaries compiled as before ``EARLIER_CALLS_TO_COME``: no month without a ladder."""
    real = summaries._months_to_call
    summaries._months_to_call = lambda *args: []  # type: ignore[assignment]
    try:
        yield
    finally:
        summaries._months_to_call = real  # type: ignore[assignment]


def test_an_email_written_before_the_rule_is_read_the_older_way(app: App) -> None:
    with _older_rule():
        _, lot_b = scenario(app)
    email = _email(app, SUMMARY_KEY)
    assert "Entreprise Tardive" in email.body_text  # May, « appel prévu »
    assert "avril 2026 de Entreprise Tardive" not in email.body_text
    run_pass(app, local(app, date(2026, 6, 22), time(9)), dispatch=False)
    with app.transaction() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.key.like("summary:2026-05:%"))
            .values(rules_revision=STAGE_BY_END)
        )
    report = verify_database(app)
    assert [str(f) for f in report.findings] == []
    remarks = [plain(str(r)) for r in report.remarks if "7 décembre 2026" in str(r)]
    assert len(remarks) == 2, [str(r) for r in report.remarks]  # the facilitator's, B's buyer's
    for remark in remarks:
        assert f"avril 2026 de Entreprise Tardive (n° {lot_b.clause_id}) n'y figurait pas" in remark

    # Written under the rule, the same emails are problems.
    with app.transaction() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.key.like("summary:2026-05:%"))
            .values(rules_revision=EARLIER_CALLS_TO_COME)
        )
    assert len(verify_database(app).findings) >= 2


def _email(app: App, key: str) -> OutboxMessage:
    with app.transaction() as session:
        found = session.query(OutboxMessage).filter(OutboxMessage.key == key).one()
        session.expunge(found)
        return found
