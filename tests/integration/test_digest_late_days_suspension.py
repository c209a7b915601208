"""The facilitator's digest says the suspension its days late leave out, as the buyer's alert does.

User trial: the digest told each late company « N jours ouvrés de retard » in the ladder's days,
which leave out the lot's suspended working days, silently: a facilitator checking the figure
against a calendar found it too small and was not told why. The buyer's alert already names the
suspension (``late_days_context``); the digest now says the same figure the same way, for the
oldest month it reports. A lot never suspended keeps its line as it was.

The scenario of ``test_alert_suspension_said``: September, due on 12 October 2026, still missing
on the day of the alert; one lot suspended from 19 October to 16 November, one never suspended.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import Lot, make_lot
from tests.integration.test_alert_suspension_said import passes
from tests.integration.test_ladder_scenarios import paris
from tests.integration.test_suspension_withdraws_ladder import advance
from tests.text import squash, visible
from workflow.adapters.orm import OutboxMessage
from workflow.bootstrap import App
from workflow.domain.calendar import local_date
from workflow.domain.stages import ClauseEvent
from workflow.emails.digest import Category
from workflow.services.digest import compile_tasks

pytestmark = pytest.mark.scenario

SEPTEMBER = "2026-09"
SPAN = "hors suspension du 19 octobre au 16 novembre 2026"
#: « … : 15 jours ouvrés de retard aujourd'hui, hors suspension … (20 jours ouvrés non comptés). »
ALERT_LATE = re.compile(
    r"le 12 octobre 2026 : (\d+) jours? ouvrés? de retard aujourd'hui"
    r"(?:, (hors suspension [^(]+) \((\d+) jours? ouvrés? non comptés?\))?\."
)


def _alert(app: App, lot: Lot) -> tuple[date, str, str]:
    """The buyer's alert for September on ``lot``: its local day, text and HTML."""
    with app.transaction() as session:
        alerts = [
            (local_date(m.created_at, app.settings.zone), m.body_text, m.body_html)
            for m in session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.kind == "declaration_escalation",
                    OutboxMessage.clause_id == lot.clause_id,
                    OutboxMessage.key.like(f"%{SEPTEMBER}%"),
                )
            )
        ]
    assert len(alerts) == 1
    return alerts[0]


def _digest(app: App, day: date) -> tuple[str, str]:
    """The digest queued on ``day``: its text and its HTML as read."""
    with app.transaction() as session:
        message = session.scalars(
            select(OutboxMessage).where(OutboxMessage.key == f"digest:{day.isoformat()}")
        ).one()
        return squash(message.body_text), visible(message.body_html)


def _line(lot: Lot) -> str:
    """The start of the lot's late company's detail, as the digest writes it."""
    return f"clause n° {lot.clause_id} "


def test_the_digest_says_the_suspension_its_days_late_leave_out(app: App, clock: Clock) -> None:
    at = paris(date(2026, 8, 25), 10)
    suspended = make_lot(app, start=date(2026, 9, 1), end=date(2027, 6, 30), at=at)
    never = make_lot(
        app, start=date(2026, 9, 1), end=date(2027, 6, 30), companies=("Toitures Test",), at=at
    )
    passes(app, date(2026, 10, 1), date(2026, 10, 16))
    advance(app, suspended, ClauseEvent.SUSPEND, paris(date(2026, 10, 19), 8), "Intempéries")
    passes(app, date(2026, 10, 19), date(2026, 11, 13))
    advance(app, suspended, ClauseEvent.RESUME, paris(date(2026, 11, 16), 8), "Reprise")
    passes(app, date(2026, 11, 16), date(2026, 12, 1))

    # The suspended lot: the digest of the alert's day says its figure and the span left out
    # (September and October late, September the oldest).
    day, alert_text, _ = _alert(app, suspended)
    told = ALERT_LATE.search(squash(alert_text))
    assert told is not None and told.group(2) == SPAN
    late, left_out = int(told.group(1)), int(told.group(3))
    assert (late, left_out) == (15, 20)  # 35 working days from 12 October to 1 December
    text, html = _digest(app, day)
    said = (
        f"2 mois en retard, le plus ancien dû le 12 octobre 2026 ({late} jours ouvrés de "
        f"retard, {SPAN}, soit {left_out} jours ouvrés non comptés) ;"
    )
    assert said in text
    assert said in html
    # The dashboard (the day's first tasks, read another way) says the same.
    with app.transaction() as session:
        tasks = compile_tasks(session, paris(day, 9, 30), app.settings, 30)
    details = [
        item.detail
        for section in tasks.sections
        if section.category == Category.DECLARATION
        for item in section.items
        if item.clause_id == suspended.clause_id
    ]
    assert len(details) == 1 and said in details[0]

    # The lot never suspended: its line as before, its figure its alert's, nothing left out.
    day, alert_text, _ = _alert(app, never)
    told = ALERT_LATE.search(squash(alert_text))
    assert told is not None and told.group(2) is None
    late = int(told.group(1))
    text, html = _digest(app, day)
    said = (
        f"1 mois en retard, le plus ancien dû le 12 octobre 2026 ({late} jours ouvrés de retard) ; "
    )
    for read in (text, html):
        entry = read[read.index(_line(never)) :]
        assert entry[: entry.index("À faire")].count("hors") == 0
        assert said in entry[: entry.index("À faire")]


#: « rappel n° 2 prévu le 2 novembre 2026 », « alerte au donneur d'ordre prévue le … ».
PLANNED = re.compile(r"prévue? le (\d+(?:er)? \w+ \d{4})")
MONTHS = [
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
]  # fmt: skip


def _day(text: str) -> date:
    day, month, year = text.split()
    return date(int(year), MONTHS.index(month) + 1, int(day.removesuffix("er")))


def test_the_digest_never_announces_a_step_of_a_suspended_lot_on_a_day_gone(
    app: App, clock: Clock
) -> None:
    """User trial: a week into a suspension, the digest still read « alerte au donneur d'ordre
    prévue le 1er juin 2027 », the date the ladder kept from before it, passed; nothing left
    then, and the alert went a fortnight later, pushed by the suspension. Every step a digest
    announces is on its day or later; a suspended lot's is announced after the resumption."""
    at = paris(date(2026, 8, 25), 10)
    suspended = make_lot(app, start=date(2026, 9, 1), end=date(2027, 6, 30), at=at)
    make_lot(app, start=date(2026, 9, 1), end=date(2027, 6, 30), companies=("Toitures",), at=at)
    passes(app, date(2026, 10, 1), date(2026, 10, 16))
    advance(app, suspended, ClauseEvent.SUSPEND, paris(date(2026, 10, 19), 8), "Intempéries")
    passes(app, date(2026, 10, 19), date(2026, 11, 13))
    advance(app, suspended, ClauseEvent.RESUME, paris(date(2026, 11, 16), 8), "Reprise")
    passes(app, date(2026, 11, 16), date(2026, 12, 1))

    with app.transaction() as session:
        digests = [
            (date.fromisoformat(m.key.removeprefix("digest:")), squash(m.body_text))
            for m in session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.kind == "facilitator_digest")
                .order_by(OutboxMessage.id)
            )
        ]
    during = [text for day, text in digests if date(2026, 10, 20) <= day <= date(2026, 11, 13)]
    assert during, "no digest during the suspension"
    for day, text in digests:
        for planned in PLANNED.findall(text):
            assert _day(planned) >= day, (day, planned, text)
    for text in during:
        entry = text[text.index(_line(suspended)) :]
        entry = entry[: entry.index("À faire")]
        assert "après la reprise du lot (suspendu), à une date repoussée des jours de " in entry, (
            entry
        )
