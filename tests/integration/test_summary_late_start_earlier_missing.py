"""A late start's skipped months are named by the summaries that follow, until received.

Found by a user trial: a lot started on 15 July 2026 with work since 1 April; the catch-up
call of 16 July gave April, May and June the due date of 27 July; June's summary (6 August) is
the first sent, April and May skipped. The company declaring nothing, June's summary named
June's missing declaration only, and no summary ever told the buyer or the facilitator that
April and May were missing too.

Now a summary of M also names the declarations of earlier months still missing at its moment
(called, due date past, not received, not released), by company x lot with their months, in a
headline line and a table of its own; « X reçues sur Y attendues » stays M's alone. The email
says what ``clauses summary --month M --now <its moment>`` says, and the audit finds nothing.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time

import pytest
from sqlalchemy import select

from tests.integration._ladders import Lot, declare, make_lot
from tests.integration.test_summary_truth import (
    Email,
    check_email,
    figure_lines,
    summary_emails,
    text_tables,
)
from workflow.adapters.orm import Company, DeclarationLadder
from workflow.adapters.reports import EARLIER_TITLE, email_tables
from workflow.adapters.reports import figure_lines as printed_lines
from workflow.app.audit import verify_database
from workflow.bootstrap import App
from workflow.domain.calendar import at_local
from workflow.services.summaries import compile_for
from workflow.services.ticks import TimedAction, simulate

pytestmark = pytest.mark.scenario

NBSP, NNBSP = "\u00a0", "\u202f"
APR, MAY, JUN, JUL, AUG = (date(2026, m, 1) for m in (4, 5, 6, 7, 8))
STARTED_ON = date(2026, 7, 15)


def local(app: App, day: date, hour: int) -> datetime:
    return at_local(day, time(hour), app.settings.zone)


def plain(value: str) -> str:
    return value.replace(NBSP, " ").replace(NNBSP, " ")


def company_name(app: App, lot: Lot) -> str:
    with app.transaction() as session:
        return session.get_one(Company, lot.company_ids[0]).name


def months_named(app: App, email: Email, company: str) -> set[date]:
    """The months an email names as missing for ``company``: its month when the company is in
    the month's missing table, and the months of its line in the earlier months' table."""
    named: set[date] = set()
    tables = text_tables(email.body_text)
    month_rows = next(
        (rows for title, rows in tables.items() if title.endswith(" manquantes")
         and title.startswith("Déclarations ") and title != EARLIER_TITLE),
        [],
    )  # fmt: skip
    if any(row["Entreprise"] == company for row in month_rows):
        named.add(email.month)
    summary = compile_for(app, email.month, buyer_id=email.buyer_id, now=email.created_at)
    for line in summary.overall.declarations.earlier:
        if line.company == company:
            named.update(line.months)
    return named


def test_a_late_start_s_skipped_months_are_named_until_received(app: App) -> None:
    lots: list[Lot] = []
    start = TimedAction(
        local(app, STARTED_ON, 10),
        "lot démarré en retard",
        lambda app, at: lots.append(make_lot(app, start=APR, end=date(2026, 12, 31), at=at)),
    )
    # April alone is declared, on 10 August: after June's summary, before July's.
    april = TimedAction(
        local(app, date(2026, 8, 10), 11),
        "déclaration d'avril",
        lambda app, at: declare(app, lots[0], APR, at),
    )
    simulate(app, STARTED_ON, date(2026, 9, 23), actions=[start, april], dispatch=False)
    (lot,) = lots
    company = company_name(app, lot)
    emails = summary_emails(app)
    assert sorted({e.month for e in emails}) == [JUN, JUL, AUG]

    june = next(e for e in emails if e.key == f"summary:2026-06:buyer:{lot.buyer_id}")
    shown = {label: plain(value) for label, value in figure_lines(june.body_text).items()}
    # The month's own figure is June's alone; April and May are named apart, with their months.
    assert shown["Déclarations de juin 2026"].startswith("0 reçue sur 1 attendue ; 1 manquante")
    earlier = shown[EARLIER_TITLE]
    assert re.fullmatch(
        rf"2 ; {re.escape(company)} \(M-\d+ lot 1 – .+\) : avril et mai 2026", earlier
    )
    (row,) = text_tables(june.body_text)[EARLIER_TITLE]
    assert (row["Entreprise"], row["Mois"]) == (company, "avril et mai 2026")
    facilitator = next(e for e in emails if e.key == "summary:2026-06:facilitator")
    assert plain(figure_lines(facilitator.body_text)[EARLIER_TITLE]).startswith("2 ; ")

    # July's (20 August): April received since, May and June still missing.
    july = next(e for e in emails if e.key == f"summary:2026-07:buyer:{lot.buyer_id}")
    (row,) = text_tables(july.body_text)[EARLIER_TITLE]
    assert row["Mois"] == "mai et juin 2026"
    assert plain(figure_lines(july.body_text)[EARLIER_TITLE]).startswith("2 ; ")

    # As of its moment: June's summary compiled again later still names April.
    again = compile_for(app, JUN, buyer_id=lot.buyer_id, now=june.created_at)
    assert [line.months for line in again.overall.declarations.earlier] == [(APR, MAY)]
    # Compiled now, April is no longer missing.
    later = compile_for(app, JUN, buyer_id=lot.buyer_id, now=local(app, date(2026, 9, 23), 8))
    assert [line.months for line in later.overall.declarations.earlier] == [(MAY,)]

    # Every email says what ``clauses summary`` says at its moment: its headline lines and its
    # tables are the command's, printed from the same compilation.
    for email in emails:
        check_email(app, email, ladders=True)
        summary = compile_for(app, email.month, buyer_id=email.buyer_id, now=email.created_at)
        assert figure_lines(email.body_text) == dict(printed_lines(summary)), email.key
        by_title = {t["title"]: t for t in email_tables(summary)}
        if summary.overall.declarations.earlier:
            assert by_title[EARLIER_TITLE]["text"] in email.body_text, email.key
        else:
            assert EARLIER_TITLE not in email.body_text, email.key

    # Every month owed and missing by the last summary appears in at least one summary sent.
    last = max(e.created_at for e in emails)
    with app.transaction() as session:
        owed = set(
            session.scalars(
                select(DeclarationLadder.month).where(
                    DeclarationLadder.clause_id == lot.clause_id,
                    DeclarationLadder.called_at <= last,
                    DeclarationLadder.due_on < last.astimezone(app.settings.zone).date(),
                )
            )
        )
    assert owed >= {APR, MAY, JUN, JUL}
    named: set[date] = set()
    for email in emails:
        named |= months_named(app, email, company)
    assert owed - {APR} <= named
    assert APR in named  # named by June's summary, before it was received

    assert verify_database(app).findings == ()
