"""Whole scenarios of the declaration ladder, run by the real passes (``simulate``), checked by
the ladder's invariants over the whole outbox (``ladder_invariants``) and by what the emails say.

The scenarios are those a user reproduced: a lot started months after its start date, a lot
suspended in January and resumed in February, a service stopped from 1 March to 9 April, and two
instances running the passes on one PostgreSQL.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
from sqlalchemy import select, text

from tests.conftest import Clock, make_settings
from tests.integration._ladders import Lot, ladder_emails, ladders, make_lot
from tests.integration.ladder_invariants import assert_ladder_invariants, ladder_violations
from workflow.adapters.db import make_engine
from workflow.adapters.mail.memory import MemoryTransport
from workflow.adapters.orm import Base, OutboxMessage
from workflow.bootstrap import App, bootstrap
from workflow.domain.calendar import at_local, opens_on
from workflow.domain.stages import ClauseEvent
from workflow.services.clauses import advance_clause
from workflow.services.digest import compile_digest
from workflow.services.reminder_emails import key_months
from workflow.services.reminders import step_key
from workflow.services.ticks import TimedAction, run_pass, simulate, simulation_instants
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

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
SEP, OCT, NOV, DEC = (date(2026, m, 1) for m in (9, 10, 11, 12))


def paris(day: date, hour: int, minute: int = 0) -> datetime:
    return at_local(day, time(hour, minute), Settings().zone)


@pytest.fixture
def transport() -> MemoryTransport:
    return MemoryTransport()


@pytest.fixture
def mail_app(settings: Settings, clock: Clock, transport: MemoryTransport) -> Iterator[App]:
    application = bootstrap(settings, clock=clock, transport=transport)
    yield application
    application.close()


def check(app: App, *, exact: bool = True) -> None:
    with app.transaction() as session:
        assert_ladder_invariants(session, app.settings, exact=exact)


def company_emails(app: App, lot: Lot, step: str | None = None) -> list[OutboxMessage]:
    return [
        m
        for m in ladder_emails(app)
        if m.clause_id == lot.clause_id and (step is None or m.key.endswith(f":{step}"))
    ]


def company_of(message: OutboxMessage) -> int:
    parsed = key_months(message.key)
    assert parsed is not None
    return parsed.company_id


def months_of(message: OutboxMessage) -> tuple[date, ...]:
    parsed = key_months(message.key)
    assert parsed is not None
    return parsed.months


def stage_change(clause_id: int, event: ClauseEvent, reason: str) -> TimedAction:
    def run(app: App, at: datetime) -> None:
        with app.transaction() as session:
            advance_clause(
                session, clause_id, event, actor="test", reason=reason, now=at, publish=app.publish
            )

    return TimedAction(at=datetime.min.replace(tzinfo=UTC), label=reason, run=run)


def at(action: TimedAction, moment: datetime) -> TimedAction:
    return TimedAction(at=moment, label=action.label, run=action.run)


# --- a late start --------------------------------------------------------------------------------


def test_a_late_start_gets_one_catch_up_call_the_next_day_then_the_ladder_at_its_pace(
    mail_app: App, transport: MemoryTransport
) -> None:
    """Started on 2 December with a start date of 1 September: September to November are due."""
    lot = make_lot(mail_app, start=SEP, end=date(2027, 6, 30), at=paris(date(2026, 12, 2), 8, 0))

    simulate(mail_app, date(2026, 12, 2), date(2027, 2, 26))

    check(mail_app)
    calls = company_emails(mail_app, lot, "call")
    # One call for the three months, the next working day at 09:00, not three on the 2nd.
    first = calls[0]
    assert months_of(first) == (SEP, OCT, NOV)
    assert first.key == step_key(lot.clause_id, lot.company_ids[0], [SEP, OCT, NOV], "call")
    assert first.created_at == paris(date(2026, 12, 3), 9)
    with mail_app.transaction() as session:
        welcome = list(
            session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "company_welcome"))
        )
    assert welcome and all(w.created_at.date() < first.created_at.date() for w in welcome)
    assert len(transport.sent) > len(welcome)
    # The due date is counted from that call: 7 working days, as 1 -> 10 December.
    assert "14 décembre 2026" in first.subject
    assert "septembre, d'octobre et de novembre 2026" in first.body_text
    assert "Les mois de septembre, d'octobre et de novembre 2026 sont terminés" in first.body_text
    for ladder in ladders(mail_app):
        if ladder.month in (SEP, OCT, NOV):
            assert ladder.due_on == date(2026, 12, 14)
            assert ladder.called_at == first.created_at
    # Reminders and alert of those months: one email each, counted from 14 December.
    steps = [
        (m.key.rsplit(":", 1)[1], m.created_at)
        for m in company_emails(mail_app, lot)
        if months_of(m) == (SEP, OCT, NOV)
    ]
    assert steps == [
        ("call", paris(date(2026, 12, 3), 9)),
        ("reminder_1", paris(date(2026, 12, 17), 9)),
        ("reminder_2", paris(date(2026, 12, 23), 9)),
        # 15 working days after 14 December: Christmas and New Year's Day do not count.
        ("escalation", paris(date(2027, 1, 6), 9)),
    ]
    alert = company_emails(mail_app, lot, "escalation")[0]
    assert "ses déclarations des heures d'insertion de septembre" in alert.body_text
    assert "Si les déclarations ne parviennent toujours pas" in alert.body_text
    assert "Appel à déclaration : envoyé le 3 décembre 2026" in alert.body_text
    assert "Rappel n° 1 : envoyé le 17 décembre 2026" in alert.body_text
    assert "Rappel n° 2 : envoyé le 23 décembre 2026" in alert.body_text
    # December is called on its own day, and no company got two calls the same day.
    december = [m for m in calls if months_of(m) == (DEC,)]
    assert [m.created_at for m in december] == [paris(date(2027, 1, 4), 9)]


_FRENCH_DATE = re.compile(r"\b(1er|[0-9]{1,2}) (" + "|".join(FRENCH_MONTHS) + r") ([0-9]{4})\b")


def french_dates(text: str) -> list[date]:
    """Every date written in French in ``text`` (« 14 décembre 2026 », « 1er octobre 2026 »)."""
    return [
        date(int(year), FRENCH_MONTHS.index(name) + 1, 1 if day == "1er" else int(day))
        for day, name, year in _FRENCH_DATE.findall(text)
    ]


def month_lines(text: str) -> dict[date, list[date]]:
    """The dates of each line naming a month of the lot first (« - septembre 2026 : … »,
    « septembre 2026   à envoyer au plus tard le … »): what the email says of that month."""
    found: dict[date, list[date]] = {}
    for line in text.splitlines():
        stripped = line.strip().lstrip("- ")
        if "://" in stripped:
            # A month's link line gives the link's last day (« (jusqu'au 31 janvier 2027) »
            # when the links end on different days), not a deadline.
            continue
        for index, name in enumerate(FRENCH_MONTHS):
            match = re.match(rf"{name} ([0-9]{{4}})\b", stripped)
            if match:
                month = date(int(match.group(1)), index + 1, 1)
                found.setdefault(month, []).extend(french_dates(stripped[match.end() :]))
    return found


def test_a_late_starts_welcome_and_catch_up_call_give_the_ladders_due_date_for_every_month(
    mail_app: App,
) -> None:
    """Awarded and started on 2 December with a start date of 1 September: the welcome (at
    award) and the catch-up call (3 December) give September to November the due date the
    ladder holds the company to after the call, never their scheduled dates, long past."""
    lot = make_lot(mail_app, start=SEP, end=date(2027, 6, 30), at=paris(date(2026, 12, 2), 8, 0))

    simulate(mail_app, date(2026, 12, 2), date(2026, 12, 4))

    [call] = company_emails(mail_app, lot, "call")
    with mail_app.transaction() as session:
        [first, welcome] = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.kind == "company_welcome")
            .order_by(OutboxMessage.id)
        ).all()
        session.expunge_all()
    # Written at the award, before the start: the catch-up call's dates held for a start
    # recorded that very day, 2 December. The start recorded before it left, it was written
    # again for the lot started, and the call's dates are facts.
    assert first.state == "cancelled" and welcome.key == f"{first.key}~2"
    assert (
        "Si j'enregistre le démarrage aujourd'hui même, le 2 décembre 2026, cet appel partira "
        "le 3 décembre 2026, à m'envoyer au plus tard le 14 décembre 2026." in first.body_text
    )
    due = {ladder.month: ladder.due_on for ladder in ladders(mail_app)}
    assert set(months_of(call)) == {SEP, OCT, NOV}
    assert {due[m] for m in (SEP, OCT, NOV)} == {date(2026, 12, 14)}
    for message in (welcome, call):
        said = month_lines(message.body_text)
        # Each catch-up month is named with its dates, and every due date given is the row's.
        for month in (SEP, OCT, NOV):
            assert said.get(month), (message.kind, month)
            deadlines = [d for d in said[month] if d != opens_on(month)]
            assert deadlines == [due[month]] * len(deadlines) and deadlines, (message.kind, month)
        assert "12 octobre 2026" not in message.body_text
        assert "10 novembre 2026" not in message.body_text
    assert "au plus tard le 14 décembre 2026" in call.subject + call.body_text
    assert (
        "Les mois de septembre, d'octobre et de novembre 2026 sont déjà terminés : un seul appel "
        "à déclarer vous les demandera le 3 décembre 2026, à envoyer au plus tard le 14 décembre "
        "2026 (le délai habituel, compté à partir de cet appel)."
        in " ".join(welcome.body_text.split())
    ), welcome.body_text
    # A month without hours is explained once per email; the welcome does not assume a man.
    assert welcome.body_text.count("zéro heure") == call.body_text.count("zéro heure") == 1
    assert "le correspondant" not in welcome.body_text
    # The call really left that day; the welcome's later months keep their scheduled dates.
    assert call.created_at == paris(date(2026, 12, 3), 9)
    assert month_lines(welcome.body_text)[DEC] == [date(2027, 1, 11)]


def test_the_user_scenario_two_ticks_on_the_start_day_send_no_call_and_no_alert(
    app: App,
) -> None:
    lot = make_lot(app, start=SEP, end=date(2027, 6, 30), at=paris(date(2026, 12, 2), 7, 45))

    run_pass(app, paris(date(2026, 12, 2), 8, 15), dispatch=False)
    run_pass(app, paris(date(2026, 12, 2), 9, 5), dispatch=False)

    assert company_emails(app, lot) == []
    run_pass(app, paris(date(2026, 12, 3), 9, 5), dispatch=False)
    [call] = company_emails(app, lot)
    assert (months_of(call), call.kind) == ((SEP, OCT, NOV), "declaration_call")
    check(app, exact=False)  # a pass at 09:05: in the call hour


# --- a suspension --------------------------------------------------------------------------------


def test_suspended_days_push_the_reminders_and_the_alert_later(
    mail_app: App, transport: MemoryTransport
) -> None:
    lot = make_lot(mail_app, start=OCT, end=date(2027, 6, 30), at=paris(date(2026, 10, 1), 10))
    suspend = at(
        stage_change(lot.clause_id, ClauseEvent.SUSPEND, "fouilles"), paris(date(2027, 1, 14), 10)
    )
    resume = at(
        stage_change(lot.clause_id, ClauseEvent.RESUME, "reprise"), paris(date(2027, 2, 15), 10)
    )

    simulate(mail_app, date(2026, 10, 1), date(2027, 4, 30), actions=[suspend, resume])

    check(mail_app)
    december = [
        (m.key.rsplit(":", 1)[1], m.created_at.astimezone(mail_app.settings.zone).date())
        for m in company_emails(mail_app, lot)
        if months_of(m) == (DEC,)
    ]
    assert december == [
        ("call", date(2027, 1, 4)),
        ("reminder_1", date(2027, 1, 14)),  # 09:00, before the suspension at 10:00
        # Due on 11 January; 14 January to 15 February suspended do not count: reminder 2 is
        # 7 counted days after the due date, the alert 15.
        ("reminder_2", date(2027, 2, 22)),
        ("escalation", date(2027, 3, 4)),
    ]
    # Nothing was sent while suspended, nor on the day of the resumption at 10:00.
    zone = mail_app.settings.zone
    for message in company_emails(mail_app, lot):
        day = message.created_at.astimezone(zone).date()
        assert not date(2027, 1, 15) <= day <= date(2027, 2, 15), message.key
    # January (worked until the 14th) is called after the resumption, at 09:00.
    january = [m for m in company_emails(mail_app, lot, "call") if date(2027, 1, 1) in months_of(m)]
    assert [m.created_at for m in january] == [paris(date(2027, 2, 16), 9)]


# --- a long stop of the service ----------------------------------------------------------------


def stop_scenario(app: App, *, stopped: bool) -> Lot:
    lot = make_lot(
        app,
        start=date(2026, 9, 1),
        end=date(2027, 12, 31),
        at=paris(date(2026, 9, 1), 10),
        companies=("Titulaire", "Cotraitant"),
    )
    if stopped:
        simulate(app, date(2026, 9, 1), date(2027, 2, 28))
        simulate(app, date(2027, 4, 9), date(2027, 7, 30))
    else:
        simulate(app, date(2026, 9, 1), date(2027, 7, 30))
    return lot


def test_after_a_long_stop_no_step_is_lost_and_they_follow_at_the_ladders_pace(
    mail_app: App,
) -> None:
    lot = stop_scenario(mail_app, stopped=True)

    check(mail_app)
    zone = mail_app.settings.zone
    holder = lot.company_ids[0]
    feb, mar = date(2027, 2, 1), date(2027, 3, 1)
    mine = [m for m in company_emails(mail_app, lot) if company_of(m) == holder]
    catch_up = [m for m in mine if m.key.endswith(":call") and feb in months_of(m)]
    # February and March, both due during the stop, are called once, together, at 09:00 on
    # the restart day (a Friday), not at 07:00 when the first pass ran.
    assert [(months_of(m), m.created_at) for m in catch_up] == [
        ((feb, mar), paris(date(2027, 4, 9), 9))
    ]
    steps = [
        (m.key.rsplit(":", 1)[1], m.created_at.astimezone(zone).date())
        for m in mine
        if months_of(m) == (feb, mar)
    ]
    assert [name for name, _ in steps] == ["call", "reminder_1", "reminder_2", "escalation"]
    # Due 7 working days after the call (9 -> 20 April), reminders 3 and 7 days after,
    # the alert 15 working days after (8 May and Ascension are holidays).
    assert [day for _, day in steps] == [
        date(2027, 4, 9),
        date(2027, 4, 23),
        date(2027, 4, 29),
        date(2027, 5, 12),
    ]
    # Every month that went unanswered ended with its alert, as without the stop.
    alerted = {m for msg in company_emails(mail_app, lot, "escalation") for m in months_of(msg)}
    assert {feb, mar} <= alerted
    # A ladder waiting on its alert when the service stopped (January: call 1 February) is
    # alerted on the restart day, at 09:00, after its two reminders.
    january = [
        (m.key.rsplit(":", 1)[1], m.created_at) for m in mine if months_of(m) == (date(2027, 1, 1),)
    ]
    assert january[-1] == ("escalation", paris(date(2027, 4, 9), 9))


@pytest.mark.slow
def test_the_stop_loses_no_alert_compared_with_the_same_run_without_it(
    settings: Settings, tmp_path: Path, clock: Clock, database_url: str
) -> None:
    counts = []
    for stopped in (False, True):
        own = make_settings(tmp_path / str(stopped), database_url)
        app = bootstrap(own, clock=clock, transport=MemoryTransport())
        if stopped:
            _empty(app)
        lot = stop_scenario(app, stopped=stopped)
        with app.transaction() as session:
            assert ladder_violations(session, own) == []
        alerted = Counter(
            (lot.company_ids.index(company_of(m)), month)
            for m in ladder_emails(app)
            if m.kind == "declaration_escalation"
            for month in months_of(m)
        )
        counts.append(alerted)
        app.close()
    without, with_stop = counts
    assert max(with_stop.values()) == 1
    # Each (company, month) alerted without the stop is alerted with it too.
    assert set(without) == set(with_stop)
    assert len(without) > 7


def _empty(app: App) -> None:
    with app.transaction() as session:
        for table in reversed(Base.metadata.sorted_tables):
            session.execute(table.delete())


# --- the digest tells what was sent --------------------------------------------------------------


def test_the_digest_says_what_was_sent_and_when_the_next_step_is(mail_app: App) -> None:
    lot = make_lot(mail_app, start=SEP, end=date(2027, 6, 30), at=paris(date(2026, 12, 2), 8))
    simulate(mail_app, date(2026, 12, 2), date(2026, 12, 18))

    with mail_app.transaction() as session:
        digest = compile_digest(session, paris(date(2026, 12, 18), 8), mail_app.settings)
    [item] = [
        i for i in digest.items if i.clause_id == lot.clause_id and i.category == "declaration"
    ]
    assert "3 mois en retard" in item.detail
    assert "dû le 14 décembre 2026" in item.detail
    assert "appel à déclaration envoyé le 3 décembre 2026" in item.detail
    assert "rappel n° 1 envoyé le 17 décembre 2026" in item.detail
    assert "rappel n° 2 prévu le 23 décembre 2026" in item.detail
    assert "alerte" not in item.detail


# --- two instances on one PostgreSQL -------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.slow
def test_two_instances_keep_the_ladder_invariants(postgres_url: str, tmp_path: Path) -> None:
    engine = make_engine(postgres_url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    settings = make_settings(tmp_path, postgres_url)
    transports = [MemoryTransport(), MemoryTransport()]
    apps = [bootstrap(settings, transport=t) for t in transports]
    lots = [
        make_lot(
            apps[0],
            start=SEP,
            end=date(2027, 6, 30),
            at=paris(date(2026, 12, 2), 8),
            companies=("A", "B"),
        ),
        make_lot(
            apps[0],
            start=date(2026, 6, 1),
            end=date(2027, 3, 31),
            at=paris(date(2026, 12, 2), 8),
            companies=("C",),
        ),
    ]
    instants = [
        i
        for i in simulation_instants(date(2026, 12, 2), date(2027, 2, 26), settings)
        if not paris(date(2027, 1, 11), 0) <= i < paris(date(2027, 1, 25), 0)  # a stop
    ]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def instance(app: App) -> None:
        try:
            for instant in instants:
                barrier.wait()
                run_pass(app, instant)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=instance, args=(a,)) for a in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    sent = Counter(m.key for t in transports for m in t.sent)
    assert sent and max(sent.values()) == 1
    with apps[0].transaction() as session:
        assert_ladder_invariants(session, settings)
        keys = list(session.scalars(select(OutboxMessage.key)))
    # The late lots got one catch-up call per company, listing all their months.
    first_calls = [
        k for k in keys if k.endswith(":call") and key_months(k) and len(key_months(k).months) > 1
    ]
    assert len(first_calls) == 3 and all(lot.clause_id for lot in lots)
    for app in apps:
        app.close()
