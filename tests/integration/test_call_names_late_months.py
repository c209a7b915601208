"""A call or a reminder names the company's earlier months on the lot still owed and late
(user trial: on 2 November the October call said nothing of a September overdue since
12 October, reminded twice, whose alert to the buyer left the same minute)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, time

import pytest
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import Lot, declare, ladder_emails, make_lot
from workflow.adapters.mail.memory import MemoryTransport
from workflow.adapters.orm import Declaration, OutboxMessage
from workflow.bootstrap import App, bootstrap
from workflow.domain.calendar import at_local
from workflow.services.reminder_emails import key_months
from workflow.services.ticks import TimedAction, simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

SEP, OCT, NOV = (date(2026, m, 1) for m in (9, 10, 11))


def paris(day: date, hour: int, minute: int = 0) -> datetime:
    return at_local(day, time(hour, minute), Settings().zone)


@pytest.fixture
def mail_app(settings: Settings, clock: Clock) -> Iterator[App]:
    application = bootstrap(settings, clock=clock, transport=MemoryTransport())
    yield application
    application.close()


def declaring(lot: Lot, company: int, month: date, day: date) -> TimedAction:
    """A zero-hour declaration of ``month`` by the lot's ``company``-th company, at 10:00."""

    def run(app: App, when: datetime) -> None:
        declare(app, lot, month, when, company=company)

    return TimedAction(at=paris(day, 10), label=f"déclaration {month:%Y-%m}", run=run)


def emails_of(app: App, clause_id: int, company_id: int, step: str) -> list[OutboxMessage]:
    found = []
    for message in ladder_emails(app):
        parsed = key_months(message.key)
        if (
            message.clause_id == clause_id
            and parsed is not None
            and parsed.company_id == company_id
            and parsed.step == step
        ):
            found.append(message)
    return found


FRENCH_MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
_MONTH = r"(" + "|".join(FRENCH_MONTHS) + r") ([0-9]{4})"
_DATE = r"(1er|[0-9]{1,2}) (" + "|".join(FRENCH_MONTHS) + r") ([0-9]{4})"
_ONE = re.compile(rf"Par ailleurs, la déclaration (?:de |d'){_MONTH}, attendue le {_DATE},")
_ITEM = re.compile(rf"^- {_MONTH}, attendue le {_DATE}", re.MULTILINE)


def _date(day: str, name: str, year: str) -> date:
    return date(int(year), FRENCH_MONTHS.index(name) + 1, 1 if day == "1er" else int(day))


def named_late(text: str) -> dict[date, date]:
    """The months an email names as late, each with the due date it gives."""
    found = {}
    for month, year, *due in _ONE.findall(text):
        found[_date("1", month, year)] = _date(*due)
    if "ces déclarations ne me sont toujours pas parvenues :" in text:
        tail = text.split("ces déclarations ne me sont toujours pas parvenues :", 1)[1]
        for month, year, *due in _ITEM.findall(tail.split("\n\n", 1)[0]):
            found[_date("1", month, year)] = _date(*due)
    return found


def assert_late_months_were_called_and_past_due(app: App) -> int:
    """Every month a call or a reminder names as late was called for that company on that lot
    before the email, its due date (the one the email gives) had passed, and it was not
    declared by then. Returns how many months were named."""
    zone = app.settings.zone
    emails = ladder_emails(app)
    with app.transaction() as session:
        declared = {
            (d.clause_id, d.company_id, d.month): d.recorded_at
            for d in session.scalars(select(Declaration))
        }
    named = 0
    for email in emails:
        parsed = key_months(email.key)
        assert parsed is not None
        if parsed.step == "escalation":
            continue
        for month, due_on in named_late(email.body_text).items():
            named += 1
            where = (email.clause_id, parsed.company_id)
            assert month not in parsed.months, email.key
            assert month < max(parsed.months), email.key
            calls = [
                e
                for e in emails
                if e.clause_id == email.clause_id
                and (k := key_months(e.key)) is not None
                and k.company_id == parsed.company_id
                and k.step == "call"
                and month in k.months
                and e.created_at < email.created_at
            ]
            assert calls, (email.key, month)
            assert due_on < email.created_at.astimezone(zone).date(), (email.key, month)
            received = declared.get((*where, month))
            assert received is None or received > email.created_at, (email.key, month)
    return named


def test_the_call_of_october_names_september_late_and_what_happened_to_it(
    mail_app: App,
) -> None:
    """Bâtiments Gascons never declares; Toitures à jour declares each month on time;
    Enduits tardifs sends September on 5 November, late."""
    lot = make_lot(
        mail_app,
        start=SEP,
        end=date(2027, 6, 30),
        companies=("Bâtiments Gascons", "Toitures à jour", "Enduits tardifs"),
        at=paris(date(2026, 9, 1), 8),
    )
    gascons, on_time, tardy = lot.company_ids
    actions = [
        declaring(lot, 1, SEP, date(2026, 10, 5)),
        declaring(lot, 1, OCT, date(2026, 11, 4)),
        declaring(lot, 1, NOV, date(2026, 12, 4)),
        declaring(lot, 2, SEP, date(2026, 11, 5)),
    ]

    simulate(mail_app, date(2026, 9, 1), date(2026, 12, 10), actions=actions)

    # Gascons: the October call of 2 November, queued the same minute as September's alert
    # (after it in the pass): the alert is said planned that day, not done, and that day is
    # « aujourd'hui » (it read « le 2 novembre 2026 » in an email of 2 November).
    october = emails_of(mail_app, lot.clause_id, gascons, "call")[1]
    alert = emails_of(mail_app, lot.clause_id, gascons, "escalation")[0]
    assert key_months(october.key).months == (OCT,)  # type: ignore[union-attr]
    assert october.created_at == alert.created_at == paris(date(2026, 11, 2), 9)
    assert (
        "Par ailleurs, la déclaration de septembre 2026, attendue le 12 octobre 2026, ne m'est "
        "toujours pas parvenue (relancée deux fois ; je dois en informer le donneur d'ordre "
        "aujourd'hui)." in october.body_text
    )
    assert (
        "(relancée deux fois&nbsp;; je dois en informer le donneur d'ordre aujourd'hui)."
        in october.body_html
    )
    # Its October reminder: September's alert is in the outbox by then.
    reminder = emails_of(mail_app, lot.clause_id, gascons, "reminder_1")[1]
    assert key_months(reminder.key).months == (OCT,)  # type: ignore[union-attr]
    assert (
        "la déclaration de septembre 2026, attendue le 12 octobre 2026, ne m'est toujours pas "
        "parvenue (relancée deux fois ; signalée au donneur d'ordre le 2 novembre 2026)."
        in reminder.body_text
    )
    # Its November call: two months late, a short list.
    november = emails_of(mail_app, lot.clause_id, gascons, "call")[2]
    assert key_months(november.key).months == (NOV,)  # type: ignore[union-attr]
    assert "Par ailleurs, ces déclarations ne me sont toujours pas parvenues :\n" in (
        november.body_text
    )
    assert named_late(november.body_text) == {
        SEP: date(2026, 10, 12),
        OCT: date(2026, 11, 10),
    }
    assert "- septembre 2026, attendue le 12 octobre 2026 (relancée deux fois ; signalée" in (
        november.body_text
    )
    # Up to date: no sentence.
    for email in emails_of(mail_app, lot.clause_id, on_time, "call")[1:]:
        assert "Par ailleurs" not in email.body_text, email.key
        assert named_late(email.body_text) == {}, email.key
    # Late on 2 November, declared on the 5th: named in the October call, no longer after.
    tardy_calls = emails_of(mail_app, lot.clause_id, tardy, "call")
    assert named_late(tardy_calls[1].body_text) == {SEP: date(2026, 10, 12)}
    assert named_late(tardy_calls[2].body_text) == {OCT: date(2026, 11, 10)}
    assert "septembre" not in tardy_calls[2].body_text
    tardy_reminder = emails_of(mail_app, lot.clause_id, tardy, "reminder_1")[1]
    assert key_months(tardy_reminder.key).months == (OCT,)  # type: ignore[union-attr]
    assert "septembre" not in tardy_reminder.body_text
    # The invariant over every email of the run.
    assert assert_late_months_were_called_and_past_due(mail_app) >= 4
