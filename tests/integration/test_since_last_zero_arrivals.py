"""What a summary says arrived since the previous one (user trial, 6 December 2026).

- Declarations of 0 h that arrived late were left out of « Depuis ma synthèse … »: the buyer
  read 10 months missing in February's summary, 6 in March's, and one arrival named. Each is
  now named (« : 0 h ») and counted apart (« dont 2 à 0 h »): previous missing − arrived =
  still missing, and the hours still add up (0 h adds nothing).
- One that arrived late and was corrected before the next summary was told with its corrected
  hours as if it had arrived with them: it says the hours it arrived with and the correction.

One company (Bâtiments Gascons SARL) on a lot from 1 September 2026 to 31 March 2027: September
declared on time, October to December not; after December's summary, October and November
arrive at 0 h and December with 50,25 h, corrected to 55,25 h.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from html import unescape
from pathlib import Path

import pytest
from sqlalchemy import update

from tests.conftest import Clock, make_settings
from tests.integration._ladders import Lot
from tests.integration.test_summary_told_changes import (
    COMPANY,
    SEP,
    a_lot,
    buyer_email,
    declare,
    lot_label,
    plain,
    same_as_the_command,
)
from tests.integration.test_summary_truth import figure_lines, summary_emails
from workflow.adapters.orm import OutboxMessage
from workflow.app.audit import verify_database
from workflow.bootstrap import App, bootstrap
from workflow.domain.summary import summary_due_at
from workflow.domain.summary_rules import EARLIER_PENDING_FIGURE, SINCE_LAST_ZERO_ARRIVALS
from workflow.services.summaries import summary_timing
from workflow.services.ticks import TimedAction, simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

OCT, NOV, DEC = (date(2026, m, 1) for m in (10, 11, 12))
JAN, FEB = date(2027, 1, 1), date(2027, 2, 1)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, escalation_offset=25)


@pytest.fixture
def app(settings: Settings, clock: Clock) -> Iterator[App]:
    application = bootstrap(settings, clock=clock)
    yield application
    application.close()


def late(app: App, lot: Lot, settings: Settings, corrected_on: date) -> list[TimedAction]:
    """September on time; after December's summary, October and November at 0 h, December
    with 50,25 h; December corrected to 55,25 h at ``corrected_on`` 15 h."""
    after = summary_due_at(DEC, summary_timing(settings)) + timedelta(days=2)
    return [
        TimedAction(at(settings, date(2026, 10, 5), 11), "sep",
                    lambda a, t: declare(a, lot, SEP, t, "35")),
        TimedAction(after, "oct", lambda a, t: declare(a, lot, OCT, t, "0")),
        TimedAction(after + timedelta(minutes=5), "nov",
                    lambda a, t: declare(a, lot, NOV, t, "0")),
        TimedAction(after + timedelta(minutes=10), "dec",
                    lambda a, t: declare(a, lot, DEC, t, "50.25")),
        TimedAction(at(settings, corrected_on, 15), "dec-corrected",
                    lambda a, t: declare(a, lot, DEC, t, "55.25", again=True)),
    ]  # fmt: skip


def at(settings: Settings, day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=settings.zone)


def day_of(settings: Settings, moment: datetime) -> str:
    local = moment.astimezone(settings.zone).date()
    months = ["", "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
              "septembre", "octobre", "novembre", "décembre"]  # fmt: skip
    return f"{'1er' if local.day == 1 else local.day} {months[local.month]} {local.year}"


def test_arrivals_at_0_h_are_named_and_a_corrected_arrival_says_both_figures(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot = a_lot(app)
    january_due = summary_due_at(JAN, summary_timing(settings))
    # Corrected before January's summary is written.
    corrected_on = (january_due - timedelta(days=3)).astimezone(settings.zone).date()
    actions = late(app, lot, settings, corrected_on)
    simulate(app, SEP, january_due.astimezone(settings.zone).date() + timedelta(days=1),
             actions=actions)  # fmt: skip

    december = buyer_email(app, lot, DEC)
    assert december.created_at < actions[1].at
    january = buyer_email(app, lot, JAN)
    assert january.created_at > actions[-1].at
    text = plain(january.body_text)
    where = lot_label(app, lot)
    arrived = day_of(settings, actions[1].at)
    assert (
        f"Depuis ma synthèse de décembre 2026 (envoyée le {day_of(settings, december.created_at)}"
    ) in text, text
    assert (
        "3 déclarations des mois qu'elle couvrait sont arrivées en retard (dont 2 à 0 h) ; "
        "le cumul en tient compte :"
    ) in text, text
    assert (
        f"– La déclaration d'octobre 2026 de {COMPANY} ({where}) est arrivée le {arrived} : 0 h ;"
    ) in text, text
    assert (
        f"– La déclaration de novembre 2026 de {COMPANY} ({where}) est arrivée le {arrived} : 0 h ;"
    ) in text, text
    assert (
        f"– La déclaration de décembre 2026 de {COMPANY} ({where}) est arrivée le {arrived} "
        f"(50,25 h), corrigée le {day_of(settings, actions[-1].at)} : 55,25 h."
    ) in text, text
    html = plain(unescape(january.body_html))
    assert "(dont 2 à 0 h)" in html, html
    assert "(50,25 h), corrigée le" in html, html
    # September 35 h + December 55,25 h: the cumul the previous one's 35 h + what is listed.
    cumul = plain(figure_lines(january.body_text)["Heures cumulées depuis le début"])
    assert cumul.startswith("90,25 h"), cumul
    (facilitator,) = [e for e in summary_emails(app) if e.key == "summary:2027-01:facilitator"]
    assert "(dont 2 à 0 h)" in plain(facilitator.body_text)

    same_as_the_command(settings, clock, january, lot.buyer_id)
    assert [str(finding) for finding in verify_database(app).findings] == []


def test_an_arrival_corrected_after_the_next_summary_is_told_as_it_was_then(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot = a_lot(app)
    january_due = summary_due_at(JAN, summary_timing(settings))
    february_due = summary_due_at(FEB, summary_timing(settings))
    # Corrected after January's summary: it said 50,25 h; February's names the correction.
    corrected_on = (january_due + timedelta(days=3)).astimezone(settings.zone).date()
    actions = late(app, lot, settings, corrected_on)
    simulate(app, SEP, february_due.astimezone(settings.zone).date() + timedelta(days=1),
             actions=actions)  # fmt: skip

    january = buyer_email(app, lot, JAN)
    assert january.created_at < actions[-1].at
    text = plain(january.body_text)
    assert (
        f"de décembre 2026 de {COMPANY} ({lot_label(app, lot)}) est arrivée le "
        f"{day_of(settings, actions[1].at)} : 50,25 h."
    ) in text, text
    assert "corrigée" not in text, text
    february = buyer_email(app, lot, FEB)
    text = plain(february.body_text)
    corrected = f"a été corrigée le {day_of(settings, actions[-1].at)} : 50,25 h → 55,25 h"
    assert corrected in text, text
    assert [str(finding) for finding in verify_database(app).findings] == []


def test_an_email_written_before_the_rule_that_left_them_out_is_a_remark(
    app: App, settings: Settings, clock: Clock
) -> None:
    """January's email as the older rule wrote it (the arrivals at 0 h left out, December told
    with its corrected hours alone), kept under the rules of its day: the audit says it would
    say more today, not that it is wrong."""
    lot = a_lot(app)
    january_due = summary_due_at(JAN, summary_timing(settings))
    corrected_on = (january_due - timedelta(days=3)).astimezone(settings.zone).date()
    actions = late(app, lot, settings, corrected_on)
    simulate(app, SEP, january_due.astimezone(settings.zone).date() + timedelta(days=1),
             actions=actions)  # fmt: skip
    december, january = buyer_email(app, lot, DEC), buyer_email(app, lot, JAN)
    older = (
        f"Depuis ma synthèse de décembre 2026 (envoyée le {day_of(settings, december.created_at)}"
        f"), la déclaration de décembre 2026 de {COMPANY} ({lot_label(app, lot)}) est arrivée le "
        f"{day_of(settings, actions[1].at)} : 55,25 h, comptées dans le cumul."
    )
    head, figures = january.body_text.split("\n- ", 1)
    kept = [p for p in head.split("\n\n") if p.startswith(("Bonjour", "Voici"))]
    with app.transaction() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.key == january.key)
            .values(
                body_text="\n\n".join([*kept, older]) + "\n- " + figures,
                rules_revision=EARLIER_PENDING_FIGURE,
            )
        )
    report = verify_database(app)
    assert [str(f) for f in report.findings] == []
    said = [str(r) for r in report.remarks if "0 h et disent" in str(r)]
    assert len(said) == 1, [str(r) for r in report.remarks]
    assert "(dont 2 à 0 h)" in said[0], said

    # The same email under today's rules is a problem: it leaves out what they say.
    with app.transaction() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.key == january.key)
            .values(rules_revision=SINCE_LAST_ZERO_ARRIVALS)
        )
    assert any("de ce qui a changé" in str(f) for f in verify_database(app).findings)
