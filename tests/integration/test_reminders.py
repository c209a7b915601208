"""The declaration ladder against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select, update

from tests.integration._ladders import (
    declare,
    ladder_emails,
    ladder_keys,
    ladder_pass,
    ladders,
    make_lot,
)
from workflow.adapters.orm import (
    AwardParty,
    Buyer,
    BuyerContact,
    Clause,
    Company,
    Correspondent,
    Declaration,
    Market,
    Operation,
)
from workflow.bootstrap import App
from workflow.domain.calendar import is_working_day
from workflow.domain.stages import ClauseEvent
from workflow.services.clauses import advance_clause
from workflow.services.dispatch import dispatch_due
from workflow.services.reminders import step_key


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(n) for n in range((last - first).days + 1)]


def walk(app: App, first: date, last: date, hour_utc: int = 7) -> None:
    """A pass every working day at ``hour_utc``:00 UTC (09:00 in Paris in summer); nothing of
    the ladder ever falls due on weekends and holidays."""
    for day in days(first, last):
        if is_working_day(day):
            ladder_pass(app, datetime(day.year, day.month, day.day, hour_utc, tzinfo=UTC))


MARCH = date(2026, 3, 1)


def test_it_calls_a_company_on_the_first_working_day_at_nine_local_time(app: App) -> None:
    lot = make_lot(app)
    company = lot.company_ids[0]

    ladder_pass(app, utc(2026, 4, 1, 6, 59))
    assert ladder_keys(app) == []

    report = ladder_pass(app, utc(2026, 4, 1, 7, 0))

    assert report.calls == 1
    [call] = ladder_emails(app)
    assert call.key == f"reminder:{lot.clause_id}:{company}:2026-03:call"
    assert call.kind == "declaration_call"
    assert call.created_at == utc(2026, 4, 1, 7, 0)
    assert "c1" in call.recipients or "@example.org" in call.recipients
    assert "10 avril 2026" in call.subject
    assert "mars 2026" in call.body_text
    [ladder] = ladders(app)
    assert (ladder.month, ladder.due_on, ladder.next_step) == (
        MARCH,
        date(2026, 4, 10),
        "reminder_1",
    )


def test_it_reminds_twice_then_alerts_the_buyer_and_the_facilitator(app: App) -> None:
    lot = make_lot(app, companies=("Charpentes Test",))

    walk(app, date(2026, 4, 1), date(2026, 5, 4))

    march = [m for m in ladder_emails(app) if ":2026-03:" in m.key]
    assert [(m.key.rsplit(":", 1)[1], m.created_at) for m in march] == [
        ("call", utc(2026, 4, 1, 7)),
        ("reminder_1", utc(2026, 4, 15, 7)),  # 3 working days after Friday 10 April
        ("reminder_2", utc(2026, 4, 21, 7)),
        ("escalation", utc(2026, 5, 4, 7)),  # 15 working days: 1 May is a holiday
    ]
    escalation = march[-1]
    assert escalation.kind == "declaration_escalation"
    assert "acheteur" in escalation.recipients
    assert "camille.martin@example.org" in escalation.recipients
    assert "mise en demeure" in escalation.subject
    assert "Charpentes Test" in escalation.body_text
    # Read from the outbox: these passes queue without sending (``ladder_pass``).
    assert "Rappel n° 2 : en cours d'envoi depuis le 21 avril 2026" in escalation.body_text
    reminder_2 = march[2]
    assert "Dernier rappel" in reminder_2.subject
    assert "pénalités" in reminder_2.body_text
    [ladder] = [lad for lad in ladders(app) if lad.month == MARCH]
    assert ladder.next_step == "done" and ladder.next_step_at is None
    assert ladder.escalated_at == utc(2026, 5, 4, 7)
    assert lot.clause_id == escalation.clause_id


def test_it_stops_the_ladder_the_moment_the_service_records_a_declaration(app: App) -> None:
    lot = make_lot(app)
    ladder_pass(app, utc(2026, 4, 1, 7))

    declare(app, lot, MARCH, utc(2026, 4, 14, 16))  # zero hours: still a declaration
    walk(app, date(2026, 4, 15), date(2026, 5, 31))

    march = [k for k in ladder_keys(app) if ":2026-03:" in k]
    assert march == [step_key(lot.clause_id, lot.company_ids[0], MARCH, "call")]
    [ladder] = [lad for lad in ladders(app) if lad.month == MARCH]
    assert ladder.declared_at == utc(2026, 4, 14, 16)
    assert ladder.next_step_at is None


def test_it_stops_the_ladder_when_a_declaration_appears_by_another_path(app: App) -> None:
    """An import that writes the row without touching the ladder: the next step sees it."""
    lot = make_lot(app)
    ladder_pass(app, utc(2026, 4, 1, 7))
    with app.transaction() as session:
        session.add(
            Declaration(
                clause_id=lot.clause_id,
                company_id=lot.company_ids[0],
                month=MARCH,
                total_hours=0,
                recorded_at=utc(2026, 4, 9, 10),
                recorded_by="import",
            )
        )

    report = ladder_pass(app, utc(2026, 4, 15, 7))

    assert report.reminders == 0 and report.closed_declared == 1
    assert [k.rsplit(":", 1)[1] for k in ladder_keys(app)] == ["call"]
    [ladder] = ladders(app)
    assert ladder.declared_at == utc(2026, 4, 9, 10) and ladder.next_step == "done"


def test_a_month_declared_before_its_call_is_never_called(app: App) -> None:
    lot = make_lot(app)
    declare(app, lot, MARCH, utc(2026, 3, 31, 15))

    ladder_pass(app, utc(2026, 4, 1, 7))

    assert ladder_keys(app) == []
    [ladder] = ladders(app)
    assert ladder.declared_at == utc(2026, 3, 31, 15) and ladder.next_step == "done"


def test_a_pass_run_twice_queues_nothing_new(app: App) -> None:
    make_lot(app, companies=("A", "B"))
    first = ladder_pass(app, utc(2026, 4, 1, 7))
    again = ladder_pass(app, utc(2026, 4, 1, 7))
    later = ladder_pass(app, utc(2026, 4, 1, 12))

    assert first.calls == 2
    assert (again.opened, again.calls, later.opened, later.calls) == (0, 0, 0, 0)
    assert len(ladder_keys(app)) == 2
    assert len(ladders(app)) == 2


def test_after_a_downtime_no_reminder_is_skipped_and_each_keeps_its_pace(app: App) -> None:
    lot = make_lot(app)
    ladder_pass(app, utc(2026, 4, 1, 7))

    # Down from 2 to 21 April; at 12:00 on the 22nd, after the call hour: nothing yet.
    late = ladder_pass(app, utc(2026, 4, 22, 10))
    assert (late.reminders, late.steps_deferred) == (0, 1)
    walk(app, date(2026, 4, 23), date(2026, 5, 31))

    march = [
        (m.key.rsplit(":", 1)[1], m.created_at) for m in ladder_emails(app) if ":2026-03:" in m.key
    ]
    assert march == [
        ("call", utc(2026, 4, 1, 7)),
        ("reminder_1", utc(2026, 4, 23, 7)),  # missed on 15 April: the next call time
        ("reminder_2", utc(2026, 4, 29, 7)),  # 7 - 3 = 4 working days after reminder 1
        ("escalation", utc(2026, 5, 13, 7)),  # 15 - 7 = 8 after reminder 2 (1 and 8 May off)
    ]
    assert lot.clause_id == ladders(app)[0].clause_id


def test_a_call_that_comes_late_lists_every_month_due_and_gives_a_new_due_date(app: App) -> None:
    """A lot recorded in execution months after its start: one call for all the months due,
    the working day after, and no company reminded or reported before it was called."""
    lot = make_lot(app, start=date(2026, 1, 5), at=utc(2026, 3, 16, 9))

    same_day = ladder_pass(app, utc(2026, 3, 16, 10))
    report = ladder_pass(app, utc(2026, 3, 17, 8))  # 09:00 in Paris (winter time)

    assert (same_day.opened, same_day.calls) == (0, 0)
    assert (report.opened, report.calls, report.escalations) == (2, 1, 0)
    january, february = date(2026, 1, 1), date(2026, 2, 1)
    assert ladder_keys(app) == [
        step_key(lot.clause_id, lot.company_ids[0], [january, february], "call")
    ]
    [call] = ladder_emails(app)
    assert "de janvier et de février 2026" in call.subject
    # 6 working days after Tuesday 17 March, as from 2 to 10 March.
    assert "25 mars 2026" in call.subject
    assert [(lad.month, lad.due_on, lad.next_step) for lad in ladders(app)] == [
        (january, date(2026, 3, 25), "reminder_1"),
        (february, date(2026, 3, 25), "reminder_1"),
    ]


def test_a_suspended_lot_is_left_alone_and_its_fully_suspended_months_are_not_called(
    app: App,
) -> None:
    lot = make_lot(app)
    ladder_pass(app, utc(2026, 4, 1, 7))  # March called
    dispatch_due(app, utc(2026, 4, 1, 7, 5))  # and its call sent: one waiting is withdrawn
    with app.transaction() as session:
        advance_clause(
            session,
            lot.clause_id,
            ClauseEvent.SUSPEND,
            actor="test",
            reason="fouilles",
            now=utc(2026, 4, 14, 8),
            publish=app.publish,
        )
    walk(app, date(2026, 4, 15), date(2026, 7, 9))
    suspended_keys = ladder_keys(app)
    with app.transaction() as session:
        advance_clause(
            session,
            lot.clause_id,
            ClauseEvent.RESUME,
            actor="test",
            reason="reprise",
            now=utc(2026, 7, 10, 8),
            publish=app.publish,
        )

    walk(app, date(2026, 7, 10), date(2026, 8, 3))

    assert [k.rsplit(":", 1)[1] for k in suspended_keys] == ["call"]
    months = sorted({lad.month for lad in ladders(app)})
    # April (partly worked) is called on resumption; May and June were fully suspended.
    assert months == [date(2026, 3, 1), date(2026, 4, 1), date(2026, 7, 1)]
    april_call = step_key(lot.clause_id, lot.company_ids[0], date(2026, 4, 1), "call")
    calls = {m.key: m.created_at for m in ladder_emails(app)}
    assert calls[april_call] == utc(2026, 7, 10, 7)


def test_buyer_and_lot_overrides_change_the_calendar(app: App) -> None:
    lot = make_lot(app, buyer_due_day=15, lot_offsets="2")

    walk(app, date(2026, 4, 1), date(2026, 5, 15))

    march = [m for m in ladder_emails(app) if ":2026-03:" in m.key]
    assert [(m.key.rsplit(":", 1)[1], m.created_at.date()) for m in march] == [
        ("call", date(2026, 4, 1)),
        ("reminder_1", date(2026, 4, 17)),  # due Wednesday 15 April, 2 working days later
        ("escalation", date(2026, 5, 7)),  # 15 working days, 1 and 8 May are holidays
    ]
    [ladder] = [lad for lad in ladders(app) if lad.month == MARCH]
    assert ladder.due_on == date(2026, 4, 15) and lot.buyer_id


def test_a_finished_lot_is_called_for_its_last_month_then_never_again(app: App) -> None:
    lot = make_lot(app, start=date(2026, 3, 2), end=date(2026, 12, 31))
    ladder_pass(app, utc(2026, 4, 1, 7))
    with app.transaction() as session:
        advance_clause(
            session,
            lot.clause_id,
            ClauseEvent.FINISH,
            actor="test",
            reason=None,
            now=utc(2026, 4, 20, 8),
            publish=app.publish,
            end_date=date(2026, 4, 17),
        )

    walk(app, date(2026, 4, 21), date(2026, 7, 31))

    months = sorted({lad.month for lad in ladders(app)})
    assert months == [date(2026, 3, 1), date(2026, 4, 1)]  # April is declared in follow-up
    with app.transaction() as session:
        party = session.scalars(select(AwardParty)).one()
        assert party.next_call_at is None and party.next_call_month == date(2026, 5, 1)


def test_each_company_of_a_lot_has_its_own_ladder(app: App) -> None:
    lot = make_lot(app, companies=("Titulaire", "Cotraitant"))
    ladder_pass(app, utc(2026, 4, 1, 7))
    declare(app, lot, MARCH, utc(2026, 4, 8, 9), company=1)

    walk(app, date(2026, 4, 2), date(2026, 4, 15))

    holder, partner = lot.company_ids
    assert sorted(ladder_keys(app)) == sorted(
        [
            step_key(lot.clause_id, holder, MARCH, "call"),
            step_key(lot.clause_id, partner, MARCH, "call"),
            step_key(lot.clause_id, holder, MARCH, "reminder_1"),
        ]
    )


def test_a_lot_put_in_execution_without_the_services_is_called_too(app: App) -> None:
    now = utc(2026, 2, 1, 9)
    with app.transaction() as session:
        buyer = Buyer(
            name="Commune directe",
            created_at=now,
            contacts=[BuyerContact(name="Maire", email="maire@example.org")],
        )
        company = Company(name="Voirie directe", created_at=now)
        company.correspondents.append(Correspondent(name="Chef", email="chef@example.org"))
        market = Market(
            operation=Operation(buyer=buyer, name="Voirie", created_at=now), reference="V-1"
        )
        clause = Clause(
            market=market,
            lot_title="Voirie",
            stage="execution",
            stage_changed_at=now,
            created_at=now,
            hours_override=100,
            start_date=date(2026, 2, 2),
            planned_end_date=date(2026, 6, 30),
        )
        session.add_all([buyer, company, market, clause])
        session.flush()
        # No correspondent named on the party: the company's first one is called.
        session.add(AwardParty(clause_id=clause.id, company_id=company.id, role="holder"))

    report = ladder_pass(app, utc(2026, 3, 2, 8))

    assert report.armed == 1 and report.calls == 1
    [call] = ladder_emails(app)
    assert "chef@example.org" in call.recipients


def test_an_escalation_without_buyer_contact_still_reaches_the_facilitator(app: App) -> None:
    make_lot(app, buyer_contacts=False)
    walk(app, date(2026, 4, 1), date(2026, 5, 4))
    [escalation] = [m for m in ladder_emails(app) if m.kind == "declaration_escalation"]
    assert escalation.recipients.endswith("<camille.martin@example.org>")


def test_a_broken_calendar_override_falls_back_to_the_default(app: App) -> None:
    lot = make_lot(app)
    with app.transaction() as session:
        session.execute(
            update(Clause).where(Clause.id == lot.clause_id).values(reminder_offsets="trois")
        )
    walk(app, date(2026, 4, 1), date(2026, 4, 15))
    assert [k.rsplit(":", 1)[1] for k in ladder_keys(app)] == ["call", "reminder_1"]
