"""Changing a lot's or a buyer's declaration calendar after the fact, on both backends: the
history row, the ladders still running moved onto the new calendar, and refusals that change
nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from tests.integration._ladders import Lot, declare, ladder_emails, ladder_pass, ladders, make_lot
from workflow.adapters.orm import Buyer, Clause, ClauseHistory, Market
from workflow.bootstrap import App
from workflow.domain.calendar import is_working_day
from workflow.domain.stages import ClauseEvent
from workflow.errors import InputRefused, NotFound
from workflow.services import catalog
from workflow.services.calendar_changes import (
    DEFAULT,
    CalendarChange,
    CalendarChanged,
    set_buyer,
    set_lot_calendar,
)
from workflow.services.clauses import (
    ClauseParameters,
    advance_clause,
    get_clause,
    record_final_report,
)
from workflow.services.digest import Category, compile_digest
from workflow.services.lot_calendars import (
    Overrides,
    RuleSource,
    clause_calendar,
    explain_calendar,
    lot_calendars,
)

MARCH = date(2026, 3, 1)
APRIL = date(2026, 4, 1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def nine(day: int, month: int = 4) -> datetime:
    """09:00 in Paris in summer time, when every step of the ladder goes out."""
    return utc(2026, month, day, 7)


def walk(app: App, first: date, last: date) -> None:
    day = first
    while day <= last:
        if is_working_day(day):
            ladder_pass(app, datetime(day.year, day.month, day.day, 7, tzinfo=UTC))
        day += timedelta(days=1)


def set_lot(
    app: App, lot: Lot | int, change: CalendarChange, at: datetime, reason: str | None = None
) -> CalendarChanged:
    clause_id = lot if isinstance(lot, int) else lot.clause_id
    with app.transaction() as session:
        return set_lot_calendar(
            session,
            clause_id,
            change,
            actor="Camille Martin",
            now=at,
            settings=app.settings,
            reason=reason,
        )


def change_buyer(app: App, buyer_id: int, at: datetime, **values: object) -> CalendarChanged:
    with app.transaction() as session:
        _, result = set_buyer(
            session,
            buyer_id,
            actor="Camille Martin",
            now=at,
            settings=app.settings,
            **values,  # type: ignore[arg-type]
        )
        return result


def steps(app: App, month: date, company: int | None = None) -> list[tuple[str, datetime]]:
    """The ladder emails of ``month`` (of one company if given): step name and when queued."""
    tag = f":{month:%Y-%m}:"
    return [
        (m.key.rsplit(":", 1)[1], m.created_at)
        for m in ladder_emails(app)
        if tag in m.key and (company is None or f":{company}{tag}" in m.key)
    ]


def history(app: App, clause_id: int) -> list[ClauseHistory]:
    with app.transaction() as session:
        return list(
            session.scalars(
                select(ClauseHistory)
                .where(ClauseHistory.clause_id == clause_id, ClauseHistory.event == "calendar")
                .order_by(ClauseHistory.id)
            )
        )


def same_buyer(app: App, lot: Lot, other: Lot) -> None:
    """Move ``other``'s market under ``lot``'s buyer: two lots of one buyer."""
    with app.transaction() as session:
        market = session.get_one(Clause, lot.clause_id).market
        session.execute(
            update(Market)
            .where(Market.id == session.get_one(Clause, other.clause_id).market_id)
            .values(operation_id=market.operation_id)
        )


# --- a lot's calendar -------------------------------------------------------------------------


def test_it_moves_the_running_ladder_when_the_lots_due_day_changes(app: App) -> None:
    lot = make_lot(app)
    ladder_pass(app, nine(1))  # March called; due 10 April, reminder 1 on 15 April

    result = set_lot(app, lot, CalendarChange(due_day=3), nine(2), reason="avenant n° 2")

    assert result.changes == ("échéance : le 3 (lot), avant le 10 (réglage général)",)
    assert (result.lots, result.replanned.ladders, result.replanned.due_now) == (
        (lot.clause_id,),
        1,
        0,
    )
    [march] = ladders(app)
    # Friday 3 April; Easter Monday 6 April is not a working day: J+3 is Thursday 9 April.
    assert (march.due_on, march.next_step, march.next_step_at) == (
        date(2026, 4, 3),
        "reminder_1",
        nine(9),
    )
    [row] = history(app, lot.clause_id)
    assert (row.actor, row.at, row.from_stage, row.to_stage) == (
        "Camille Martin",
        nine(2),
        "execution",
        "execution",
    )
    assert row.reason == (
        "calendrier des déclarations du lot : échéance : le 3 (lot), avant le 10 (réglage "
        "général) ; motif : avenant n° 2"
    )

    walk(app, date(2026, 4, 2), date(2026, 5, 4))

    assert steps(app, MARCH) == [
        ("call", nine(1)),
        ("reminder_1", nine(9)),
        ("reminder_2", nine(15)),
        ("escalation", nine(27)),
    ]
    april = [lad for lad in ladders(app) if lad.month == APRIL]
    assert [lad.due_on for lad in april] == [date(2026, 5, 4)]  # opened with the new rules


def test_it_sends_the_escalation_next_when_reminders_are_removed(app: App) -> None:
    lot = make_lot(app)
    walk(app, date(2026, 4, 1), date(2026, 4, 15))  # reminder 1 sent on 15 April

    result = set_lot(app, lot, CalendarChange(reminder_offsets="3"), nine(16))

    assert result.changes == ("rappels : J+3 (lot), avant J+3, J+7 (réglage général)",)
    [march] = ladders(app)
    assert (march.next_step, march.next_step_at) == ("escalation", nine(4, 5))
    walk(app, date(2026, 4, 16), date(2026, 5, 4))
    assert [name for name, _ in steps(app, MARCH)] == ["call", "reminder_1", "escalation"]


def test_it_sends_an_added_reminder_before_the_escalation(app: App) -> None:
    lot = make_lot(app)
    walk(app, date(2026, 4, 1), date(2026, 4, 21))  # reminder 2 sent: waiting on escalation

    set_lot(app, lot, CalendarChange(reminder_offsets="3, 7, 9"), utc(2026, 4, 21, 12))

    walk(app, date(2026, 4, 22), date(2026, 5, 4))
    assert steps(app, MARCH) == [
        ("call", nine(1)),
        ("reminder_1", nine(15)),
        ("reminder_2", nine(21)),
        ("reminder_3", nine(23)),
        ("escalation", nine(4, 5)),
    ]


def test_a_step_the_new_calendar_puts_in_the_past_goes_once_at_the_next_pass(app: App) -> None:
    lot = make_lot(app)
    walk(app, date(2026, 4, 1), date(2026, 4, 16))  # waiting on reminder 2 (21 April)
    moment = utc(2026, 4, 16, 10)

    result = set_lot(app, lot, CalendarChange(due_day=1), moment)

    assert (result.replanned.ladders, result.replanned.due_now) == (1, 1)
    [march] = ladders(app)
    assert (march.due_on, march.next_step, march.next_step_at) == (
        APRIL,
        "reminder_2",
        nine(13),  # 7 working days after 1 April: already past
    )
    first = ladder_pass(app, moment)
    again = ladder_pass(app, moment + timedelta(minutes=5))
    assert (first.reminders, again.reminders) == (1, 0)
    assert steps(app, MARCH)[-1] == ("reminder_2", moment)
    with app.transaction() as session:
        digest = compile_digest(session, utc(2026, 4, 17, 7), app.settings)
    [item] = [i for i in digest.items if i.category is Category.DECLARATION]
    assert item.days == 16  # counted from the new due date
    assert "le plus ancien dû le 1er avril 2026 (16 jours de retard)" in item.detail
    walk(app, date(2026, 4, 17), date(2026, 4, 23))
    assert steps(app, MARCH)[-1] == ("escalation", nine(23))


def test_it_leaves_declared_and_escalated_months_alone(app: App) -> None:
    lot = make_lot(app, companies=("Titulaire", "Cotraitant"))
    ladder_pass(app, nine(1))
    declare(app, lot, MARCH, nine(14), company=0)
    walk(app, date(2026, 4, 2), date(2026, 5, 4))  # March escalated for the co-contractor
    before = {(lad.month, lad.company_id): lad for lad in ladders(app)}

    result = set_lot(app, lot, CalendarChange(due_day=3), nine(5, 5))

    assert result.replanned.ladders == 2  # April, called on 4 May, for both companies
    after = {(lad.month, lad.company_id): lad for lad in ladders(app)}
    for company in lot.company_ids:
        old, new = before[(MARCH, company)], after[(MARCH, company)]
        assert (new.due_on, new.next_step, new.next_step_at, new.escalated_at) == (
            old.due_on,
            old.next_step,
            old.next_step_at,
            old.escalated_at,
        )
        assert after[(APRIL, company)].due_on == date(2026, 5, 4)


def test_it_goes_back_to_the_buyers_rules_with_the_default_word(app: App) -> None:
    lot = make_lot(app, buyer_due_day=15)
    set_lot(app, lot, CalendarChange(due_day=12, escalation_offset=20), nine(1))

    result = set_lot(app, lot, CalendarChange(due_day=DEFAULT), nine(2))

    assert result.changes == ("échéance : le 15 (donneur d'ordre), avant le 12 (lot)",)
    with app.transaction() as session:
        clause = get_clause(session, lot.clause_id)
        calendar = clause_calendar(clause, app.settings)
        assert (clause.declaration_due_day, clause.escalation_offset) == (None, 20)
    assert (calendar.rules.due_day, calendar.due_day_from) == (15, RuleSource.BUYER)
    assert (calendar.rules.reminder_offsets, calendar.reminders_from) == (
        (3, 7),
        RuleSource.DEFAULT,
    )
    assert (calendar.rules.escalation_offset, calendar.escalation_from) == (20, RuleSource.LOT)

    set_lot(app, lot, CalendarChange.reset(), nine(3))
    with app.transaction() as session:
        assert Overrides.of(get_clause(session, lot.clause_id)) == Overrides()
    assert len(history(app, lot.clause_id)) == 3


def test_it_writes_nothing_when_nothing_changes(app: App) -> None:
    lot = make_lot(app, lot_offsets="2,5")
    result = set_lot(app, lot, CalendarChange(reminder_offsets="2, 5", due_day=DEFAULT), nine(2))
    assert result.changes == () and result.lots == ()
    assert history(app, lot.clause_id) == []


# --- a buyer's calendar and notices -------------------------------------------------------------


def test_it_replans_the_lots_that_follow_their_buyers_calendar(app: App) -> None:
    first = make_lot(app)
    second = make_lot(app, lot_offsets="2,5")
    same_buyer(app, first, second)
    ladder_pass(app, nine(1))

    result = change_buyer(
        app,
        first.buyer_id,
        nine(2),
        notice_preference="mensuel",
        calendar=CalendarChange(due_day=3, reminder_offsets="4,8"),
        reason="demande de l'acheteur",
    )

    assert result.changes == (
        "avis : la synthèse mensuelle seulement, avant un avis à chaque étape",
        "échéance : le 3 (donneur d'ordre), avant le 10 (réglage général)",
        "rappels : J+4, J+8 (donneur d'ordre), avant J+3, J+7 (réglage général)",
    )
    assert result.lots == (first.clause_id, second.clause_id)
    assert result.replanned.ladders == 2
    with app.transaction() as session:
        buyer = session.get_one(Buyer, first.buyer_id)
        assert (buyer.notice_preference, Overrides.of(buyer)) == (
            "monthly_only",
            Overrides(3, "4,8", None),
        )
        name = buyer.name
    due = {lad.clause_id: (lad.due_on, lad.next_step_at) for lad in ladders(app)}
    assert due == {
        first.clause_id: (date(2026, 4, 3), nine(10)),  # J+4 from the buyer
        second.clause_id: (date(2026, 4, 3), nine(8)),  # J+2 of its own
    }
    [row] = history(app, second.clause_id)
    assert row.reason == (
        f"calendrier du donneur d'ordre « {name} » changé : "
        "échéance : le 3 (donneur d'ordre), avant le 10 (réglage général) ; motif : demande de "
        "l'acheteur"
    )
    assert "rappels : J+4, J+8" in history(app, first.clause_id)[0].reason


def test_it_changes_only_the_notices_without_touching_the_lots(app: App) -> None:
    lot = make_lot(app)
    result = change_buyer(app, lot.buyer_id, nine(2), notice_preference="monthly_only")
    assert result.changes == (
        "avis : la synthèse mensuelle seulement, avant un avis à chaque étape",
    )
    assert result.lots == () and history(app, lot.clause_id) == []


def test_a_lot_with_all_its_own_rules_is_not_touched_by_its_buyer(app: App) -> None:
    lot = make_lot(app)
    set_lot(
        app, lot, CalendarChange(due_day=12, reminder_offsets="3", escalation_offset=9), nine(1)
    )
    result = change_buyer(app, lot.buyer_id, nine(2), calendar=CalendarChange(due_day=5))
    assert result.lots == ()
    assert len(history(app, lot.clause_id)) == 1


# --- refusals -----------------------------------------------------------------------------------


def snapshot(app: App, lot: Lot) -> tuple[object, ...]:
    with app.transaction() as session:
        clause = session.get_one(Clause, lot.clause_id)
        buyer = session.get_one(Buyer, lot.buyer_id)
        stored = (Overrides.of(clause), Overrides.of(buyer), buyer.notice_preference)
    return (
        *stored,
        [(lad.due_on, lad.next_step, lad.next_step_at) for lad in ladders(app)],
        [row.id for row in history(app, lot.clause_id)],
    )


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (
            CalendarChange(escalation_offset=5),
            "Clause n° {id} (marché M-{n} lot 1 – Gros œuvre) : le rappel à J+7 (réglage général) "
            "ne viendrait pas avant le signalement au donneur d'ordre à J+5 (lot), il ne "
            "partirait jamais.",
        ),
        (
            CalendarChange(reminder_offsets="3,15,20"),
            "les rappels à J+15, J+20 (lot) ne viendraient pas avant le signalement au donneur "
            "d'ordre à J+15 (réglage général)",
        ),
        (CalendarChange(due_day=0), "Jour d'échéance des déclarations : 0 doit être entre 1 et 28."),
        (CalendarChange(reminder_offsets="7,3"), "Jours de rappel « 7,3 » : jours ouvrés croissants"),
        (CalendarChange(reminder_offsets="3,61"), "60 jours ouvrés au plus"),
        (CalendarChange(escalation_offset=61), "doit être entre 1 et 60 jours ouvrés"),
    ],
)  # fmt: skip
def test_it_refuses_a_lot_calendar_and_changes_nothing(
    app: App, change: CalendarChange, words: str
) -> None:
    lot = make_lot(app)
    ladder_pass(app, nine(1))
    before = snapshot(app, lot)
    with app.transaction() as session:
        reference = session.get_one(Clause, lot.clause_id).market.reference
    expected = words.format(id=lot.clause_id, n=reference.split("-")[1])
    with pytest.raises(InputRefused) as refused:
        set_lot(app, lot, change, nine(2))
    assert expected in refused.value.message
    assert snapshot(app, lot) == before


def test_it_refuses_a_buyer_change_that_would_silence_a_lots_reminders(app: App) -> None:
    first = make_lot(app)
    second = make_lot(app, lot_offsets="2,9")
    same_buyer(app, first, second)
    ladder_pass(app, nine(1))
    before = snapshot(app, first), snapshot(app, second)

    with pytest.raises(InputRefused) as refused:
        change_buyer(
            app,
            first.buyer_id,
            nine(2),
            notice_preference="mensuel",
            calendar=CalendarChange(escalation_offset=8),
        )

    message = refused.value.message
    assert message.startswith(f"Clause n° {second.clause_id} (marché")
    assert (
        "le rappel à J+9 (lot) ne viendrait pas avant le signalement au donneur d'ordre à J+8 "
        "(donneur d'ordre)"
    ) in message
    assert f"ou changez d'abord le calendrier du lot (clauses lot set {second.clause_id} …)" in (
        message
    )
    assert (snapshot(app, first), snapshot(app, second)) == before


def test_it_refuses_a_buyer_calendar_whose_own_reminders_would_never_go(app: App) -> None:
    lot = make_lot(app)
    with pytest.raises(InputRefused, match="Le donneur d'ordre « Donneur d'ordre"):
        change_buyer(app, lot.buyer_id, nine(2), calendar=CalendarChange(escalation_offset=7))


def test_it_refuses_to_change_a_closed_lot(app: App) -> None:
    lot = make_lot(app)
    with app.transaction() as session:
        advance_clause(
            session, lot.clause_id, ClauseEvent.FINISH, actor="test", reason=None,
            now=nine(1), publish=app.publish, end_date=date(2026, 3, 31),
        )  # fmt: skip
        record_final_report(
            session, lot.clause_id, text="bilan", actor="test", now=nine(1), publish=app.publish
        )
        advance_clause(
            session, lot.clause_id, ClauseEvent.CLOSE, actor="test", reason=None,
            now=nine(1), publish=app.publish,
        )  # fmt: skip
    with pytest.raises(InputRefused, match="clôturée » : son calendrier des déclarations ne sert"):
        set_lot(app, lot, CalendarChange(due_day=5), nine(2))


def test_it_names_a_missing_lot_or_buyer(app: App) -> None:
    with pytest.raises(NotFound, match=r"Aucune clause n° 999\."):
        set_lot(app, 999, CalendarChange(due_day=5), nine(2))
    with pytest.raises(NotFound, match=r"Aucun donneur d'ordre n° 999\."):
        change_buyer(app, 999, nine(2), notice_preference="mensuel")


def test_it_refuses_at_creation_a_calendar_whose_reminders_would_never_go(app: App) -> None:
    now = nine(1)
    with (
        app.transaction() as session,
        pytest.raises(InputRefused, match=r"le rappel à J\+7 \(réglage général\)"),
    ):
        catalog.add_buyer(
            session,
            name="Ville",
            calendar=catalog.CalendarInput(escalation_offset=6),
            now=now,
            settings=app.settings,
        )
    lot = make_lot(app)
    with app.transaction() as session:
        market_id = session.get_one(Clause, lot.clause_id).market_id
        with pytest.raises(InputRefused, match=r"Le lot « Peinture » : le rappel à J\+7"):
            catalog.add_lot(
                session,
                market_id,
                lot_number="2",
                lot_title="Peinture",
                params=ClauseParameters(),
                actor="test",
                now=now,
                publish=app.publish,
                calendar=catalog.CalendarInput(escalation_offset=7),
                settings=app.settings,
            )


# --- where each rule comes from -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("buyer", "lot"),
    [
        (Overrides(), Overrides()),
        (Overrides(15, "2,4", 12), Overrides()),
        (Overrides(15, None, 12), Overrides(None, "5", None)),
        (Overrides(None, "2", None), Overrides(20, None, 30)),
    ],
)
def test_it_explains_the_same_rules_the_ladders_apply(
    app: App, buyer: Overrides, lot: Overrides
) -> None:
    made = make_lot(app)
    with app.transaction() as session:
        holder = session.get_one(Buyer, made.buyer_id)
        clause = session.get_one(Clause, made.clause_id)
        for target, values in ((holder, buyer), (clause, lot)):
            target.declaration_due_day, target.reminder_offsets, target.escalation_offset = values
        session.flush()
        applied = lot_calendars(session, [made.clause_id], app.settings)[made.clause_id].rules
        assert clause_calendar(clause, app.settings).rules == applied
        assert explain_calendar(app.settings, buyer=buyer, lot=lot).rules == applied
