"""The pace (« rythme ») of a month whose declarations are not all in is « à confirmer ».

Found by a user trial: the summary of a lot's first month read « 0 % des heures prévues réalisées
pour 4 % du temps écoulé, dans le rythme » while both declarations of that month were missing.
The hours that decide between « en retard » and « dans le rythme » were not declared: the
verdict was not known. Now the pace says it is to be confirmed and how many declarations it
waits for (« rythme à confirmer (2 déclarations non reçues) »), each buyer's row of the
facilitator's table « à confirmer »; a month whose declarations are all in keeps its verdict.

A lot of 22 months (2 March 2026 to 31 December 2027, 500 h), a holder and a co-contractor:
at the end of March 4 % of its time has passed (30 of 670 days), so 0 h is within the 5-point
tolerance: the words the user read.

The audit compares each email with the figures of its moment: it accepts the new words, and an
email written before the rule (« dans le rythme » where the rule now says « à confirmer ») is a
remark naming the rule, not a problem; a verdict that neither rule gives is still a problem.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select, update

from tests.integration._ladders import Lot, declare, make_lot
from tests.integration.test_summary_late_start import declare_hours, local, plain
from tests.integration.test_summary_truth import (
    Email,
    cli_output,
    figure_lines,
    summary_emails,
    text_tables,
)
from workflow.adapters.orm import OutboxMessage
from workflow.app.audit import verify_database
from workflow.bootstrap import App
from workflow.domain.summary import Pace
from workflow.services.summaries import compile_for
from workflow.services.ticks import TimedAction, simulate

pytestmark = pytest.mark.scenario

NBSP = "\u00a0"
MAR, APR = date(2026, 3, 1), date(2026, 4, 1)
STARTED = date(2026, 3, 2)
ENDS = date(2027, 12, 31)
PACE = "Rythme à fin mars 2026"
#: 0 h of 500 h for 30 of 670 days: within the tolerance, the verdict the trial read.
SHARES = f"0{NBSP}% des heures prévues réalisées pour 4{NBSP}% du temps écoulé, "
WAITING = "rythme à confirmer (2 déclarations non reçues)"


def first_month(app: App, *declared: int) -> tuple[Lot, list[Email]]:
    """The lot started on 2 March, its companies ``declared`` (by index) declaring March on 3
    April, before its due date; the passes run to 30 April, when March's summary has left."""
    lot = make_lot(
        app,
        start=STARTED,
        end=ENDS,
        companies=("Bâtiments Test", "Peintures Test"),
        at=local(app, STARTED, 8),
    )
    at = local(app, date(2026, 4, 3), 11)
    actions = [
        TimedAction(
            at,
            f"déclaration de mars (entreprise {company})",
            (
                (lambda app, at: declare_hours(app, lot, MAR, "21", at))
                if company == 0
                else (lambda app, at, company=company: declare(app, lot, MAR, at, company))
            ),
        )
        for company in declared
    ]
    simulate(app, STARTED, date(2026, 4, 30), actions=actions, dispatch=False)
    emails = [e for e in summary_emails(app) if e.month == MAR]
    assert {e.key for e in emails} == {
        "summary:2026-03:facilitator",
        f"summary:2026-03:buyer:{lot.buyer_id}",
    }
    return lot, emails


def said(email: Email) -> dict[str, str]:
    return {label: plain(value) for label, value in figure_lines(email.body_text).items()}


def printed_pace(app: App, email: Email, label: str = PACE) -> str:
    """What ``clauses summary`` prints of the pace at the email's moment."""
    printed = cli_output(app, email)
    (line,) = [row for row in printed.splitlines() if row.startswith(f"- {label}")]
    return plain(line.removeprefix(f"- {label}{NBSP}: "))


def test_a_first_month_whose_declarations_are_missing_has_its_pace_to_confirm(app: App) -> None:
    _, emails = first_month(app)
    for email in emails:
        shown = said(email)
        # Both declarations missing, past their due date, when the summary left.
        assert shown["Déclarations de mars 2026"].startswith(
            "0 reçue sur 2 attendues ; 2 manquantes"
        )
        assert shown[PACE] == plain(SHARES + WAITING), email.key
        assert "dans le rythme" not in email.body_text + email.body_html, email.key
        assert WAITING in email.body_html, email.key
        # The command run at that moment says the same, word for word.
        assert printed_pace(app, email) == shown[PACE], email.key
        # The figures behind it: two declarations of the paced lot owed, none received; on
        # the hours alone the verdict would have been « dans le rythme ».
        summary = compile_for(app, MAR, buyer_id=email.buyer_id, now=email.created_at)
        assert len(summary.overall.declarations.missing) == 2
        assert summary.overall.progress.pace is Pace.ON_PACE
    facilitator = next(e for e in emails if e.buyer_id is None)
    (row,) = text_tables(facilitator.body_text)["Par donneur d'ordre"]
    assert row["Rythme"] == "à confirmer"
    assert verify_database(app).findings == ()

    # Written before the rule: « dans le rythme » in the headline and the buyer's row. A
    # remark naming the rule and what the email would say now, not a problem.
    for email in emails:
        _rewrite(app, email, "à confirmer", "dans le rythme")
    report = verify_database(app)
    assert report.findings == ()
    remarks = [plain(r.problem) for r in report.remarks if "« à confirmer »" in r.problem]
    assert len(remarks) == 2, [r.line for r in report.remarks]
    for remark in remarks:
        assert "écrite avant que le rythme soit dit « à confirmer »" in remark
        assert f"les données disent « {plain(SHARES)}{WAITING} »" in remark

    # A verdict neither rule gives is still a problem.
    buyer = next(e for e in emails if e.buyer_id is not None)
    _rewrite(app, buyer, "dans le rythme", "en avance")
    problems = [plain(f.line) for f in verify_database(app).findings]
    assert len(problems) == 1, problems
    assert "du temps écoulé, en avance »" in problems[0] and WAITING in problems[0], problems


def _rewrite(app: App, email: Email, verdict: str, written: str) -> None:
    """The email as if written with ``written`` in place of ``verdict``, in both parts (the
    headline's « rythme à confirmer (…) » as a whole), by a service that did not keep the rules
    it wrote under (``rules_revision`` NULL): the audit may read it the older way."""
    with app.transaction() as session:
        text, html = session.execute(
            select(OutboxMessage.body_text, OutboxMessage.body_html).where(
                OutboxMessage.key == email.key
            )
        ).one()
        assert verdict in text and verdict in html
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.key == email.key)
            .values(
                body_text=text.replace(WAITING, written).replace(verdict, written),
                body_html=html.replace(WAITING, written).replace(verdict, written),
                rules_revision=None,
            )
        )


def test_a_month_whose_declarations_are_all_in_keeps_its_verdict(app: App) -> None:
    _, emails = first_month(app, 0, 1)
    for email in emails:
        shown = said(email)
        assert shown["Déclarations de mars 2026"] == "toutes reçues (2 sur 2)"
        # 21 h of 500 h: 4,2 % for 4,5 %.
        assert shown[PACE] == plain(
            f"4,2{NBSP}% des heures prévues réalisées pour 4,5{NBSP}% du temps écoulé, "
            "dans le rythme"
        ), email.key
        assert "à confirmer" not in email.body_text + email.body_html, email.key
        assert printed_pace(app, email) == shown[PACE], email.key
    facilitator = next(e for e in emails if e.buyer_id is None)
    (row,) = text_tables(facilitator.body_text)["Par donneur d'ordre"]
    assert row["Rythme"] == "dans le rythme"
    assert verify_database(app).findings == ()


def test_a_declaration_of_an_earlier_month_still_owed_keeps_the_pace_to_confirm(
    app: App,
) -> None:
    """The co-contractor declares March, the holder does not: March's summary waits for one
    declaration. Both declare April; the holder's March is still missing at April's summary:
    the hours up to the end of April lack it, the pace still waits for it."""
    lot = make_lot(
        app,
        start=STARTED,
        end=ENDS,
        companies=("Bâtiments Test", "Peintures Test"),
        at=local(app, STARTED, 8),
    )
    actions = [
        TimedAction(
            local(app, date(2026, 4, 3), 11),
            "déclaration de mars (cotraitant)",
            lambda app, at: declare(app, lot, MAR, at, 1),
        ),
        *(
            TimedAction(
                local(app, date(2026, 5, 4), 11),
                f"déclaration d'avril (entreprise {company})",
                lambda app, at, company=company: declare(app, lot, APR, at, company),
            )
            for company in (0, 1)
        ),
    ]
    simulate(app, STARTED, date(2026, 5, 29), actions=actions, dispatch=False)
    emails = summary_emails(app)
    march = [e for e in emails if e.month == MAR]
    april = [e for e in emails if e.month == APR]
    assert len(march) == len(april) == 2
    for email in march:
        shown = said(email)
        assert shown["Déclarations de mars 2026"].startswith(
            "1 reçue sur 2 attendues ; 1 manquante"
        )
        assert shown[PACE] == plain(SHARES + "rythme à confirmer (1 déclaration non reçue)")
        assert printed_pace(app, email) == shown[PACE], email.key
    for email in april:
        shown = said(email)
        assert shown["Déclarations d'avril 2026"] == "toutes reçues (2 sur 2)"
        assert shown["Déclarations des mois précédents toujours manquantes"].startswith("1 ;")
        pace = shown["Rythme à fin avril 2026"]
        assert pace.endswith("du temps écoulé, rythme à confirmer (1 déclaration non reçue)")
        assert printed_pace(app, email, "Rythme à fin avril 2026") == pace, email.key
    assert verify_database(app).findings == ()
