"""What a monthly summary tells its reader beyond its figures (user trial, 5 December 2026).

- F2: a declaration the previous summary counted, corrected (or cancelled) since, is named
  with both totals: the buyer's cumulated hours went from 370,17 h to 334,17 h unexplained.
- A lot terminated before the month is never said « achevée » (its pace line said « marché
  résilié »).
- F8: a summary built days after its planned moment because the service was down says so,
  and of which moment its figures are (those of the moment it was built).

One company (Bâtiments Gascons SARL) on a lot from 1 September 2026 to 31 March 2027, 500 h:
September and October declared, October corrected on 7 December.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from html import unescape
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import Clock, make_settings
from tests.integration._ladders import Lot, make_lot
from tests.integration.test_end_date_correction import paris, run_cli
from tests.integration.test_lot_terminated import running_lot, terminate
from tests.integration.test_summary_truth import Email, figure_lines, summary_emails, text_tables
from tests.text import squash
from workflow.adapters.orm import Participant
from workflow.app.audit import verify_database
from workflow.bootstrap import App, bootstrap
from workflow.domain.calendar import add_working_days
from workflow.domain.summary import summary_due_at
from workflow.domain.vocabulary import ContractType, Criterion, DeliveryMode
from workflow.services.declarations import LineInput, record_declaration
from workflow.services.participants import create_participant
from workflow.services.summaries import summary_timing
from workflow.services.ticks import TimedAction, simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

NBSP = "\u00a0"
SEP, OCT, NOV = (date(2026, m, 1) for m in (9, 10, 11))
COMPANY = "Bâtiments Gascons SARL"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, escalation_offset=25)


@pytest.fixture
def app(settings: Settings, clock: Clock) -> Iterator[App]:
    application = bootstrap(settings, clock=clock)
    yield application
    application.close()


def lot_label(app: App, lot: Lot) -> str:
    """« M-1 lot 1 – Gros œuvre »: the lot as the buyer's tables name it."""
    from workflow.services.summaries import lot_labels

    with app.transaction() as session:
        return lot_labels(session, [lot.clause_id])[lot.clause_id]


def plain(text: str) -> str:
    return squash(text).replace(NBSP, " ").replace("\u202f", " ")


def declare(
    app: App, lot: Lot, month: date, at: datetime, *hours: str, again: bool = False
) -> None:
    """One participant per figure of ``hours`` (a month holds at most 250 h each); declared
    ``again``: a correction of the month, the same participants."""
    with app.transaction() as session:
        lines = []
        for index, figure in enumerate(hours):
            reference = f"GS-{month:%m}-{index}"
            found = session.scalar(select(Participant).where(Participant.reference == reference))
            person = found or create_participant(
                session, reference=reference, criterion=Criterion.MINIMUM_INCOME, now=at
            )
            lines.append(
                LineInput(person.id, Decimal(figure), DeliveryMode.DIRECT_HIRING, ContractType.CDD)
            )
        record_declaration(
            session,
            clause_id=lot.clause_id,
            company_id=lot.company_ids[0],
            month=month,
            lines=lines,
            actor="test",
            now=at,
            source="test",
            publish=app.publish,
            replace=again,
        )


def a_lot(app: App) -> Lot:
    return make_lot(
        app, start=SEP, end=date(2027, 3, 31), at=paris(SEP, 10), companies=(COMPANY,)
    )  # fmt: skip


def declared(lot: Lot) -> list[TimedAction]:
    return [
        TimedAction(paris(date(2026, 10, 5), 11), "sep",
                    lambda a, at: declare(a, lot, SEP, at, "35")),
        TimedAction(paris(date(2026, 11, 5), 11), "oct",
                    lambda a, at: declare(a, lot, OCT, at, "200", "170.17")),
    ]  # fmt: skip


def buyer_email(app: App, lot: Lot, month: date) -> Email:
    key = f"summary:{month:%Y-%m}:buyer:{lot.buyer_id}"
    (email,) = [e for e in summary_emails(app) if e.key == key]
    return email


def same_as_the_command(settings: Settings, clock: Clock, email: Email, buyer_id: int) -> None:
    """Each figure the email gave is the one ``clauses summary`` prints at its moment."""
    code, printed = run_cli(settings, clock, email.created_at, "summary", "--month",
                            f"{email.month:%Y-%m}", "--buyer", str(buyer_id))  # fmt: skip
    assert code == 0, printed
    said = figure_lines(email.body_text)
    assert said
    for label, value in said.items():
        assert f"{plain(label)} : {plain(value)}" in plain(printed), (label, value, printed)


def test_the_next_summary_names_a_correction_of_a_month_already_counted(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot = a_lot(app)
    correction = TimedAction(paris(date(2026, 12, 7), 15), "oct-corrected",
                             lambda a, at: declare(a, lot, OCT, at, "200", "134.17", again=True))  # fmt: skip
    simulate(app, SEP, date(2027, 1, 5), actions=[*declared(lot), correction])

    october = buyer_email(app, lot, OCT)
    assert october.created_at < correction.at
    assert "Depuis ma synthèse" not in october.body_text
    assert plain(figure_lines(october.body_text)["Heures cumulées depuis le début"]).startswith(
        "405,17 h"
    ), figure_lines(october.body_text)

    november = buyer_email(app, lot, NOV)
    assert november.created_at > correction.at
    text = plain(november.body_text)
    assert (
        "Depuis ma synthèse d'octobre 2026 (envoyée le 23 novembre 2026), la déclaration "
        "d'octobre 2026 de Bâtiments Gascons SARL "
        f"({lot_label(app, lot)}) a été corrigée le 7 décembre 2026 : "
        "370,17 h → 334,17 h ; le cumul en tient compte."
    ) in text, text
    # The cumul is the corrected one: September 35 h + October 334,17 h, nothing in November.
    cumul = plain(figure_lines(november.body_text)["Heures cumulées depuis le début"])
    assert cumul.startswith("369,17 h"), cumul
    html = plain(unescape(november.body_html))
    assert "370,17 h → 334,17 h ; le cumul en tient compte." in html, html
    # The facilitator reads it too, with the buyer named.
    (facilitator,) = [e for e in summary_emails(app) if e.key == "summary:2026-11:facilitator"]
    assert "a été corrigée le 7 décembre 2026 : 370,17 h → 334,17 h" in plain(facilitator.body_text)

    same_as_the_command(settings, clock, november, lot.buyer_id)
    assert [str(finding) for finding in verify_database(app).findings] == []


def test_a_summary_late_after_a_stop_says_so_and_of_which_moment_its_figures_are(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot = a_lot(app)
    planned = summary_due_at(OCT, summary_timing(settings))
    planned_day = planned.astimezone(settings.zone).date()
    # The service stops the day before October's summary and comes back three working days
    # after it: the pass of the first morning back sends it.
    simulate(app, SEP, planned_day - timedelta(days=1), actions=declared(lot))
    back = add_working_days(planned_day, 3)
    simulate(app, back, back + timedelta(days=2))

    october = buyer_email(app, lot, OCT)
    built = october.created_at.astimezone(settings.zone)
    assert built.date() == back, october.created_at
    text = plain(october.body_text)
    day = f"{built.day}" if built.day > 1 else "1er"
    hour = f"{built.hour} h" + (f" {built.minute:02d}" if built.minute else "")
    expected = (
        f"Cette synthèse aurait dû vous parvenir le {_french(planned_day)} ; le service était "
        f"interrompu. Les chiffres sont ceux du {day} {_MONTHS[built.month]} {built.year} à "
        f"{hour}, moment où je l'ai établie."
    )
    assert expected in text, text
    assert expected in plain(unescape(october.body_html))
    # Those figures are the ones the command gives at that moment, not at the planned one.
    same_as_the_command(settings, clock, october, lot.buyer_id)
    assert [str(finding) for finding in verify_database(app).findings] == []


def test_a_summary_on_time_says_nothing_of_lateness(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot = a_lot(app)
    simulate(app, SEP, date(2026, 12, 5), actions=declared(lot))
    october = buyer_email(app, lot, OCT)
    assert october.created_at == summary_due_at(OCT, summary_timing(settings))
    assert "aurait dû vous parvenir" not in october.body_text


_MONTHS = {11: "novembre", 12: "décembre"}


def _french(day: date) -> str:
    return f"{'1er' if day.day == 1 else day.day} {_MONTHS[day.month]} {day.year}"


def test_a_lot_terminated_before_the_month_is_listed_as_terminated_never_achieved(
    app: App, settings: Settings, clock: Clock
) -> None:
    # The lot of ``test_lot_terminated``: terminated on 20 November, effective on the 15th.
    lot = running_lot(app, date(2026, 11, 19))
    terminate(settings, clock, lot, paris(date(2026, 11, 20), 10), "15/11/2026")
    simulate(app, date(2026, 11, 20), date(2027, 1, 25))

    december = buyer_email(app, lot, date(2026, 12, 1))
    text = plain(december.body_text)
    assert "achevée" not in text, text
    rows = text_tables(december.body_text)["Avancement par clause"]
    (line,) = [r["Clause"] for r in rows]
    assert line.startswith(f"n° {lot.clause_id} – ") and line.endswith(
        "– marché résilié le 15/11/2026)"
    ), rows
    # Its hours still add up to the headline's cumul.
    cumul = plain(figure_lines(december.body_text)["Heures cumulées depuis le début"])
    assert cumul.startswith(plain(rows[0]["Cumul / prévues"]).split(" / ")[0]), (cumul, rows)
    same_as_the_command(settings, clock, december, lot.buyer_id)
    _code, printed = run_cli(settings, clock, december.created_at, "summary", "--month",
                            "2026-12", "--buyer", str(lot.buyer_id))  # fmt: skip
    assert "achevée" not in printed and "marché résilié le 15/11/2026" in plain(printed), printed
    assert [str(finding) for finding in verify_database(app).findings] == []
