"""The buyer's alert before formal notice names the company's earlier months on the lot still
missing that the buyer was already alerted of (user trial: the tenth monthly alert for the same
company read as if it were the first, saying nothing of nine months still missing, each alerted).

« Par ailleurs, je vous ai déjà signalé 2 déclarations toujours manquantes de cette entreprise
sur ce lot : septembre 2026 (alerte du 2 novembre 2026) et octobre 2026 (alerte du …). » Many
months are said compactly (« de septembre 2026 à décembre 2026 (alertes du … au …) »). Only what
is still true: a month declared since is not named, and an alert still waiting whose list names
a month declared in between is written again without it.

On the real passes and dispatcher of a simulated clock, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, time

import pytest
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import Lot, declare, ladder_emails, make_lot
from tests.integration.test_late_list_rewrite import Server, delivered_text
from workflow.adapters.mail.memory import MemoryTransport
from workflow.adapters.orm import Declaration, OutboxMessage
from workflow.bootstrap import App, bootstrap
from workflow.domain.calendar import at_local, local_date
from workflow.emails.envelope import OutboxState
from workflow.emails.ladder import LateMonth, alerted_before_context, alerted_list_names
from workflow.services.reminder_emails import key_months
from workflow.services.ticks import TimedAction, simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

NBSP = "\u00a0"
AUG, SEP, OCT, NOV, DEC = (date(2026, m, 1) for m in (8, 9, 10, 11, 12))
JAN = date(2027, 1, 1)
MONDAY = date(2026, 11, 2)
INTRO = "Par ailleurs, je vous ai déjà signalé "


def paris(day: date, hour: int, minute: int = 0) -> datetime:
    return at_local(day, time(hour, minute), Settings().zone)


@pytest.fixture
def server() -> Server:
    return Server()


@pytest.fixture
def app(settings: Settings, clock: Clock, server: Server) -> Iterator[App]:
    application = bootstrap(settings, clock=clock, transport=MemoryTransport(server))
    yield application
    application.close()


def declaring(lot: Lot, company: int, month: date, at: datetime) -> TimedAction:
    def run(app: App, when: datetime) -> None:
        declare(app, lot, month, when, company=company)

    return TimedAction(at=at, label=f"déclaration {month:%Y-%m}", run=run)


def alerts_of(app: App, lot: Lot, company_id: int) -> dict[date, list[OutboxMessage]]:
    """The company's alerts on the lot, by the month they are about, oldest first."""
    found: dict[date, list[OutboxMessage]] = {}
    for email in ladder_emails(app):
        parsed = key_months(email.key)
        if (
            parsed is not None
            and email.clause_id == lot.clause_id
            and parsed.company_id == company_id
            and parsed.step == "escalation"
        ):
            assert len(parsed.months) == 1, email.key
            found.setdefault(parsed.months[0], []).append(email)
    return found


def said(text: str) -> str | None:
    """The sentence of the alert about the earlier months already alerted, or None."""
    if INTRO not in text:
        return None
    return INTRO + text.split(INTRO, 1)[1].split("\n\n", 1)[0]


def alert_day(app: App, email: OutboxMessage) -> str:
    from workflow.adapters.templates import french_date

    return french_date(local_date(email.created_at, app.settings.zone))


def test_each_monthly_alert_names_the_earlier_months_still_missing_already_alerted(
    app: App,
) -> None:
    """Bâtiments Gascons never declares; Enduits tardifs sends October on 15 December, after
    its alert."""
    lot = make_lot(
        app,
        start=SEP,
        end=date(2027, 6, 30),
        companies=("Bâtiments Gascons", "Enduits tardifs"),
        at=paris(SEP, 8),
    )
    gascons, tardy = lot.company_ids
    simulate(
        app,
        SEP,
        date(2027, 3, 5),
        actions=[declaring(lot, 1, OCT, paris(date(2026, 12, 15), 10))],
    )

    alerts = alerts_of(app, lot, gascons)
    assert sorted(alerts) == [SEP, OCT, NOV, DEC, JAN]
    first = {month: emails[0] for month, emails in alerts.items()}
    day = {month: alert_day(app, email) for month, email in first.items()}
    assert day[SEP] == "2 novembre 2026"
    # The first alert has nothing earlier to name.
    assert said(first[SEP].body_text) is None
    assert said(first[OCT].body_text) == (
        "Par ailleurs, je vous ai déjà signalé une déclaration toujours manquante de cette "
        "entreprise sur ce lot : septembre 2026 (alerte du 2 novembre 2026)."
    )
    assert said(first[DEC].body_text) == (
        "Par ailleurs, je vous ai déjà signalé 3 déclarations toujours manquantes de cette "
        f"entreprise sur ce lot : septembre 2026 (alerte du {day[SEP]}), octobre 2026 (alerte "
        f"du {day[OCT]}) et novembre 2026 (alerte du {day[NOV]})."
    )
    # Many months: a range, and the alerts by their first and last day.
    assert said(first[JAN].body_text) == (
        "Par ailleurs, je vous ai déjà signalé 4 déclarations toujours manquantes de cette "
        f"entreprise sur ce lot : de septembre 2026 à décembre 2026 (alertes du {day[SEP]} au "
        f"{day[DEC]})."
    )
    assert (
        f"sur ce lot&nbsp;: de septembre 2026 à décembre 2026 (alertes du {day[SEP]}"
        in first[JAN].body_html
    )
    # What the buyer read.
    assert said(delivered_text(app, first[JAN].key).replace("\r\n", "\n")) == said(
        first[JAN].body_text
    )

    # Enduits tardifs: October declared on 15 December is no longer named.
    tardy_alerts = {month: emails[0] for month, emails in alerts_of(app, lot, tardy).items()}
    assert sorted(tardy_alerts) == [SEP, OCT, NOV, DEC, JAN]
    tday = {month: alert_day(app, email) for month, email in tardy_alerts.items()}
    assert said(tardy_alerts[NOV].body_text) == (
        "Par ailleurs, je vous ai déjà signalé une déclaration toujours manquante de cette "
        f"entreprise sur ce lot : septembre 2026 (alerte du {tday[SEP]})."
    )
    assert said(tardy_alerts[JAN].body_text) == (
        "Par ailleurs, je vous ai déjà signalé 3 déclarations toujours manquantes de cette "
        f"entreprise sur ce lot : septembre 2026 (alerte du {tday[SEP]}), novembre 2026 (alerte "
        f"du {tday[NOV]}) et décembre 2026 (alerte du {tday[DEC]})."
    )

    # The invariant over every alert of the run: each month named was alerted before the
    # alert, not declared by then, earlier than the alert's own month.
    with app.transaction() as session:
        declared = {
            (d.clause_id, d.company_id, d.month): d.recorded_at
            for d in session.scalars(select(Declaration))
        }
    named = 0
    for company_id in lot.company_ids:
        by_month = alerts_of(app, lot, company_id)
        for month, emails in by_month.items():
            for email in emails:
                for earlier, earlier_alerts in by_month.items():
                    if not alerted_list_names(email.body_text, earlier):
                        continue
                    named += 1
                    assert earlier < month, email.key
                    assert any(a.created_at < email.created_at for a in earlier_alerts)
                    received = declared.get((lot.clause_id, company_id, earlier))
                    assert received is None or received > email.created_at, email.key
    assert named == 0 + 1 + 2 + 3 + 4 + (0 + 1 + 1 + 2 + 3)


def test_an_alert_waiting_leaves_without_a_month_declared_in_between(
    app: App, server: Server
) -> None:
    """A lot started in August, never declared: September's alert, queued on Monday
    2 November while the mail server is down, names August (alerted in October). August is
    declared at 10:00: the alert is written again without it, and the buyer reads no word of
    August in it (the notice of August's arrival tells it)."""
    lot = make_lot(
        app, start=AUG, end=date(2027, 6, 30), companies=("Bâtiments Gascons",), at=paris(AUG, 8)
    )
    [company_id] = lot.company_ids
    simulate(app, AUG, date(2026, 11, 1))
    server.down = True
    simulate(app, MONDAY, MONDAY, actions=[declaring(lot, 0, AUG, paris(MONDAY, 10))])
    server.down = False
    simulate(app, date(2026, 11, 3), date(2026, 11, 3))

    alerts = alerts_of(app, lot, company_id)
    [august] = alerts[AUG]
    [first, again] = alerts[SEP]
    assert first.created_at == paris(MONDAY, 9)
    assert said(first.body_text) == (
        "Par ailleurs, je vous ai déjà signalé une déclaration toujours manquante de cette "
        f"entreprise sur ce lot : août 2026 (alerte du {alert_day(app, august)})."
    )
    assert alerted_list_names(first.body_text, AUG)
    assert first.state == OutboxState.CANCELLED
    assert first.last_error == (
        f"Remplacé{NBSP}: août 2026, qu'elle disait encore manquant, a été déclaré le "
        f"2 novembre 2026{NBSP}; le même courriel, écrit à nouveau sans ce mois, part à sa "
        "place."
    )
    assert again.key == f"{first.key}~2"
    assert again.state == OutboxState.SENT
    assert said(again.body_text) is None
    assert "août" not in delivered_text(app, again.key)


def _late(month: date, alerted_on: date) -> LateMonth:
    return LateMonth(month=month, due_on=month, reminders=2, alerted_on=alerted_on, alert_on=None)


def test_the_compact_list_says_runs_as_ranges_and_is_read_back() -> None:
    """Months in a row said as a range, the others one by one; each month listed, and only
    those, read back from the words."""
    months = [date(2026, m, 1) for m in (4, 5, 6, 7, 9, 11, 12)] + [date(2027, 1, 1)]
    context = alerted_before_context(
        [_late(m, date(m.year + (m.month + 2 > 12), (m.month + 1) % 12 + 1, 3)) for m in months]
    )
    assert context is not None
    assert context["intro"] == (
        "Par ailleurs, je vous ai déjà signalé 8 déclarations toujours manquantes de cette "
        "entreprise sur ce lot"
    )
    assert context["listed"] == (
        "d'avril 2026 à juillet 2026, septembre 2026 et de novembre 2026 à janvier 2027 "
        "(alertes du 3 juin 2026 au 3 mars 2027)"
    )
    text = f"Bonjour,\n\n{context['intro']} : {context['listed']}.\n\n- Lot : 01"
    every = [date(2026, m, 1) for m in range(1, 13)] + [date(2027, m, 1) for m in (1, 2)]
    assert [m for m in every if alerted_list_names(text, m)] == months
    assert re.search(r"\bmars 2027\b", text)  # an alert's day is not a month named
    assert not alerted_list_names(text, date(2027, 3, 1))
    assert alerted_before_context([]) is None


def test_a_month_received_then_cancelled_is_not_said_alerted_by_its_alert_before(
    app: App, clock: Clock
) -> None:
    """September, alerted on 2 November, arrives on 20 November (the buyer is told it has),
    then is cancelled on the 25th and asked again of the company. The later alerts do not say
    « je vous ai déjà signalé … septembre 2026 (alerte du 2 novembre 2026) »: the buyer was told
    since that it had arrived. They name the months alerted since, still missing."""
    from workflow.app.clause_corrections import cancel_declaration

    lot = make_lot(
        app, start=SEP, end=date(2027, 6, 30), companies=("Bâtiments Gascons",), at=paris(SEP, 8)
    )
    [company_id] = lot.company_ids
    simulate(
        app,
        SEP,
        date(2026, 11, 24),
        actions=[declaring(lot, 0, SEP, paris(date(2026, 11, 20), 10))],
    )
    clock.set(paris(date(2026, 11, 25), 16))
    cancel_declaration(
        app,
        clause=lot.clause_id,
        company=company_id,
        month=SEP,
        reason="Heures saisies sur le mauvais lot",
        actor="Camille Martin",
    )
    simulate(app, date(2026, 11, 26), date(2027, 2, 5))

    alerts = {month: emails[0] for month, emails in alerts_of(app, lot, company_id).items()}
    assert sorted(alerts) == [SEP, OCT, NOV, DEC]
    assert alert_day(app, alerts[SEP]) == "2 novembre 2026"
    day = {month: alert_day(app, email) for month, email in alerts.items()}
    assert said(alerts[OCT].body_text) is None
    assert said(alerts[DEC].body_text) == (
        "Par ailleurs, je vous ai déjà signalé 2 déclarations toujours manquantes de cette "
        f"entreprise sur ce lot : octobre 2026 (alerte du {day[OCT]}) et novembre 2026 (alerte "
        f"du {day[NOV]})."
    )
    for month in (OCT, NOV, DEC):
        assert not alerted_list_names(alerts[month].body_text, SEP), month
