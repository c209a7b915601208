"""The resumption's emails say what the service really sends next.

The defects: a lot resumed after its planned end got the company subject « prochain appel à
déclarer » above « Aucun autre appel à déclarer n'est prévu sur ce lot », and a buyer notice
saying the companies are called again each month, due the 10th; a company whose months had
passed their last reminder read « Les rappels reprennent pour ces déclarations » when the next
thing to leave was the buyer's alert. Now each owed month says its next reminder and its day,
or the day the buyer will be alerted; the buyer notice says the next call (or that none is
left) and when reminders and alerts resume. The days announced are checked against the day
the real passes send the step.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import Lot, ladder_emails, make_lot
from tests.integration.test_ladder_scenarios import paris
from tests.text import squash
from workflow.adapters.mail.memory import MemoryTransport
from workflow.adapters.orm import OutboxMessage
from workflow.adapters.templates import french_date
from workflow.bootstrap import App, bootstrap
from workflow.domain.calendar import LadderStep
from workflow.domain.stages import ClauseEvent
from workflow.services.clauses import advance_clause
from workflow.services.dispatch import dispatch_due
from workflow.services.ladder_keys import key_months
from workflow.services.ticks import run_pass
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

MARCH = date(2026, 3, 1)


@pytest.fixture
def mail_app(settings: Settings, clock: Clock) -> Iterator[App]:
    application = bootstrap(settings, clock=clock, transport=MemoryTransport())
    yield application
    application.close()


def advance(app: App, lot: Lot, event: ClauseEvent, at: datetime) -> None:
    with app.transaction() as session:
        advance_clause(
            session, lot.clause_id, event, actor="test", reason=None, now=at, publish=app.publish
        )


def of_kind(app: App, kind: str) -> list[OutboxMessage]:
    with app.transaction() as session:
        return list(
            session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
            )
        )


def passes(app: App, first: date, last: date) -> None:
    """The 09:05 pass (with its dispatch) of every day from ``first`` to ``last``."""
    day = first
    while day <= last:
        run_pass(app, paris(day, 9, 5))
        day += timedelta(days=1)


def first_sent(app: App, lot: Lot, month: date, step: str, first: date, last: date) -> date:
    """The day the passes queue ``step`` for ``month``, passing every day from ``first``."""
    day = first
    while day <= last:
        run_pass(app, paris(day, 9, 5))
        for message in ladder_emails(app):
            parsed = key_months(message.key)
            if (
                parsed
                and (parsed.clause_id, parsed.step) == (lot.clause_id, step)
                and month in parsed.months
            ):
                return day
        day += timedelta(days=1)
    raise AssertionError(f"{step} never left for {month}")


def test_months_past_their_last_reminder_announce_the_buyer_alert_on_the_day_it_leaves(
    mail_app: App,
) -> None:
    app = mail_app
    lot = make_lot(
        app, start=date(2026, 3, 2), end=date(2026, 12, 31), at=paris(date(2026, 3, 2), 8)
    )
    # March: called on 1 April (due 10 April), reminded twice; suspended after the second.
    passes(app, date(2026, 4, 1), date(2026, 4, 22))
    reminders = [
        parsed.step
        for parsed in map(key_months, (m.key for m in ladder_emails(app)))
        if parsed and parsed.step != LadderStep.CALL and MARCH in parsed.months
    ]
    assert reminders == ["reminder_1", "reminder_2"], reminders
    advance(app, lot, ClauseEvent.SUSPEND, paris(date(2026, 4, 22), 10))
    resumed_at = paris(date(2026, 5, 11), 10)
    advance(app, lot, ClauseEvent.RESUME, resumed_at)

    (resumed,) = of_kind(app, "company_lot_resumed")
    body = squash(resumed.body_text)
    assert "Les rappels reprennent" not in body, body
    found = re.search(
        r"- mars 2026 : attendue depuis le [^;]+ ; tous les rappels ont été envoyés : sans "
        r"déclaration, le donneur d'ordre en sera alerté le (\d+(?:er)? \w+ \d{4})",
        body,
    )
    assert found, body
    announced = found.group(1)

    alerted = first_sent(
        app, lot, MARCH, LadderStep.ESCALATION, date(2026, 5, 11), date(2026, 7, 31)
    )
    assert announced == french_date(alerted), (announced, alerted)
    assert alerted == date(2026, 5, 22)  # 15 working days after 10 April, pushed by the suspension

    (notice,) = of_kind(app, "notice_resumed")
    told = squash(notice.body_text)
    assert "chaque mois" not in told, told
    assert (
        "Une déclaration demandée avant la suspension reste attendue (mars 2026, date limite passée). "
        f"Tous les rappels ont été envoyés : sans déclaration, vous en serez alerté le {announced}."
    ) in told, told


def test_a_lot_resumed_after_its_planned_end_promises_no_call(mail_app: App) -> None:
    app = mail_app
    lot = make_lot(
        app, start=date(2026, 3, 2), end=date(2026, 3, 31), at=paris(date(2026, 3, 2), 8)
    )
    passes(app, date(2026, 4, 1), date(2026, 4, 14))  # March called on 1 April, due 10 April
    advance(app, lot, ClauseEvent.SUSPEND, paris(date(2026, 4, 15), 10))
    dispatch_due(app, paris(date(2026, 4, 15), 10, 5))  # the suspension's emails leave
    advance(app, lot, ClauseEvent.RESUME, paris(date(2026, 5, 4), 10))

    (resumed,) = of_kind(app, "company_lot_resumed")
    assert "prochain appel" not in resumed.subject, resumed.subject
    assert resumed.subject.startswith(
        "Reprise de la clause d'insertion : déclaration toujours attendue"
    ), resumed.subject
    body = squash(resumed.body_text)
    assert "Aucun autre appel à déclarer n'est prévu sur ce lot." in body, body
    found = re.search(r"- mars 2026 : [^;]+ ; prochain rappel le (\d+(?:er)? \w+ \d{4})", body)
    assert found, body

    (notice,) = of_kind(app, "notice_resumed")
    told = squash(notice.body_text)
    assert "chaque mois" not in told, told
    assert "au plus tard le 10 du mois suivant" not in told, told
    assert "Aucun autre appel à déclarer ne partira sur ce lot." in told, told
    assert (
        "Une déclaration demandée avant la suspension reste attendue (mars 2026, date limite passée). "
        f"Les rappels reprennent : le prochain partira le {found.group(1)}."
    ) in told, told

    reminded = first_sent(app, lot, MARCH, "reminder_1", date(2026, 5, 4), date(2026, 7, 31))
    assert found.group(1) == french_date(reminded), (found.group(1), reminded)


def test_the_buyer_reads_the_due_date_the_company_reads_and_the_month_nobody_is_asked(
    mail_app: App,
) -> None:
    """User trial (7 December 2026): the buyer's notice said « reste attendue (mois de mars
    2027) » where the company's gave March's new due date and said May, suspended whole, is
    not asked. March called on 1 April (due 10 April), the lot suspended on 8 April and resumed
    on 1 June: the buyer reads the due date the company reads, and that May is asked of nobody."""
    app = mail_app
    lot = make_lot(
        app, start=date(2026, 3, 2), end=date(2026, 12, 31), at=paris(date(2026, 3, 2), 8)
    )
    passes(app, date(2026, 4, 1), date(2026, 4, 7))
    advance(app, lot, ClauseEvent.SUSPEND, paris(date(2026, 4, 8), 10))
    dispatch_due(app, paris(date(2026, 4, 8), 10, 5))
    advance(app, lot, ClauseEvent.RESUME, paris(date(2026, 6, 1), 10))

    (resumed,) = of_kind(app, "company_lot_resumed")
    body = squash(resumed.body_text)
    found = re.search(r"- mars 2026 : à rendre au plus tard le (\d+(?:er)? \w+ \d{4})", body)
    assert found, body
    assert "mai 2026" in body, body  # May, suspended whole, is not asked of it

    (notice,) = of_kind(app, "notice_resumed")
    told = squash(notice.body_text)
    assert (
        "Une déclaration demandée avant la suspension reste attendue (mars 2026, date limite le "
        f"{found.group(1)})."
    ) in told, told
    assert (
        "Mai 2026, que la suspension a couvert en entier, n'est demandé à aucune entreprise."
        in (told)
    ), told
