"""Changing a lot's or a buyer's declaration calendar after the fact, on both backends: the
history row, the ladders still running moved onto the new calendar, and refusals that change
nothing."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.conftest import Clock, _empty_postgres, make_settings
from tests.integration._ladders import Lot, declare, ladder_emails, ladder_pass, ladders, make_lot
from workflow.adapters.orm import (
    Buyer,
    Clause,
    ClauseHistory,
    DeclarationLadder,
    Market,
    RecordHistory,
)
from workflow.bootstrap import App, bootstrap
from workflow.domain.calendar import at_local, is_working_day
from workflow.domain.stages import ClauseEvent
from workflow.emails.digest import Category
from workflow.errors import InputRefused, NotFound
from workflow.services import catalog, reminders
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
from workflow.services.digest import compile_digest
from workflow.services.lot_calendars import (
    LotCalendar,
    Overrides,
    RuleSource,
    clause_calendar,
    explain_calendar,
    lot_calendars,
)
from workflow.services.record_history import history_entry
from workflow.services.reminders import LadderReport, open_due_ladders
from workflow.settings import Settings

MARCH = date(2026, 3, 1)
APRIL = date(2026, 4, 1)
PARIS = ZoneInfo("Europe/Paris")
MINUTE = timedelta(minutes=1)


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


def test_a_step_the_new_calendar_moves_earlier_keeps_its_distance_from_the_last_one(
    app: App,
) -> None:
    lot = make_lot(app)
    walk(app, date(2026, 4, 1), date(2026, 4, 16))  # reminder 1 sent on 15 April
    moment = utc(2026, 4, 16, 10)

    result = set_lot(app, lot, CalendarChange(due_day=1), moment)

    # Due on 1 April now: reminder 2 would be 7 working days later (13 April, already past),
    # but it keeps its 4 working days after reminder 1, sent on 15 April.
    assert (result.replanned.ladders, result.replanned.due_now) == (1, 0)
    [march] = ladders(app)
    assert (march.due_on, march.next_step, march.next_step_at) == (APRIL, "reminder_2", nine(21))
    first = ladder_pass(app, moment)
    due = ladder_pass(app, nine(21))
    again = ladder_pass(app, nine(21) + timedelta(minutes=5))
    assert (first.reminders, due.reminders, again.reminders) == (0, 1, 0)
    assert steps(app, MARCH)[-1] == ("reminder_2", nine(21))
    with app.transaction() as session:
        digest = compile_digest(session, utc(2026, 4, 17, 7), app.settings)
    [item] = [i for i in digest.items if i.category is Category.DECLARATION]
    assert item.days == 11  # working days from the new due date (Easter Monday excluded)
    assert "le plus ancien dû le 1er avril 2026 (11 jours ouvrés de retard)" in item.detail
    # The alert too: 15 working days after 1 April would be 23 April, but it comes 15 - 7 = 8
    # working days after reminder 2 (1 May is a holiday).
    walk(app, date(2026, 4, 22), date(2026, 5, 5))
    assert steps(app, MARCH)[-1] == ("escalation", nine(4, 5))


def test_a_ladder_edited_by_hand_does_not_stop_a_change(app: App) -> None:
    lot = make_lot(app)
    ladder_pass(app, nine(1))
    with app.transaction() as session:
        session.execute(update(DeclarationLadder).values(next_step="relance"))

    result = set_lot(app, lot, CalendarChange(due_day=3), nine(2))

    assert result.replanned.ladders == 1
    [march] = ladders(app)
    # Where the climb resumes a step name it does not know: the first step after the call.
    assert (march.due_on, march.next_step, march.next_step_at) == (
        date(2026, 4, 3),
        "reminder_1",
        nine(9),
    )


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
        f"calendrier du donneur d'ordre « {name} » changé : "
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
    # The buyer's own history keeps it: who, when, from what to what, in words.
    with app.transaction() as session:
        [row] = session.scalars(
            select(RecordHistory).where(
                RecordHistory.entity == "buyer", RecordHistory.entity_id == lot.buyer_id
            )
        ).all()
        entry = history_entry(row)
    assert (row.actor, row.at, row.action) == ("Camille Martin", nine(2), "edit")
    assert entry.text == (
        "avis «\xa0un avis à chaque étape\xa0» → «\xa0la synthèse mensuelle seulement\xa0»"
    )
    # Asked again: nothing changes, no second row.
    change_buyer(app, lot.buyer_id, nine(3), notice_preference="mensuel")
    with app.transaction() as session:
        assert session.scalars(
            select(RecordHistory.id).where(RecordHistory.entity == "buyer")
        ).all() == [row.id]


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
        (CalendarChange(reminder_offsets="7,3"), "Jours de rappel « 7,3 » : jours ouvrés croissants"),
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
    with pytest.raises(InputRefused, match="Le donneur d'ordre « Donneur d'ordre"):
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
    with pytest.raises(InputRefused, match="clôturée » : son calendrier des déclarations ne sert"):
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
            calendar=CalendarChange(escalation_offset=6),
            now=now,
            settings=app.settings,
        )
    lot = make_lot(app)
    with app.transaction() as session:
        market_id = session.get_one(Clause, lot.clause_id).market_id
        with pytest.raises(InputRefused, match=r"Le lot « Peinture » : le rappel à J\+7"):
            catalog.add_lot(
                session,
                market_id,
                lot_number="2",
                lot_title="Peinture",
                params=ClauseParameters(),
                actor="test",
                now=now,
                publish=app.publish,
                calendar=CalendarChange(escalation_offset=7),
                settings=app.settings,
            )


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (CalendarChange(due_day=0), "Jour d'échéance des déclarations : 0 doit être entre 1 et 28."),
        (CalendarChange(reminder_offsets="7,3"), "Jours de rappel « 7,3 » : jours ouvrés croissants"),
        (CalendarChange(escalation_offset=61), "doit être entre 1 et 60 jours ouvrés"),
    ],
)  # fmt: skip
def test_it_checks_a_calendar_at_creation_as_it_does_a_change(
    app: App, change: CalendarChange, words: str
) -> None:
    with app.transaction() as session, pytest.raises(InputRefused, match=words):
        catalog.add_buyer(
            session, name="Ville", calendar=change, now=nine(1), settings=app.settings
        )
    with app.transaction() as session:
        assert session.scalar(select(Buyer).where(Buyer.name == "Ville")) is None


def test_it_stores_a_calendar_given_at_creation_checked_and_tidied(app: App) -> None:
    with app.transaction() as session:
        buyer = catalog.add_buyer(
            session,
            name="Ville",
            calendar=CalendarChange(
                due_day=15, reminder_offsets=" 2, 5", escalation_offset=DEFAULT
            ),
            now=nine(1),
            settings=app.settings,
        )
        assert Overrides.of(buyer) == Overrides(15, "2,5", None)


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


# --- a change racing the opening of a month (PostgreSQL) ----------------------------------------


def stale_rules(
    monkeypatch: pytest.MonkeyPatch, app: App, lot: Lot, change: CalendarChange, at: datetime
) -> CalendarChanged:
    """Make the next opening of ladders read the lot's rules as they were before ``change``.

    On PostgreSQL nothing orders a pass opening a month and a ``lot set``: the pass may read the
    rules, the change commit (re-planning no ladder, as the month's does not exist yet), then
    the pass insert the ladder with the old due date. Here the pass is given the rules read
    before the change, which is exactly what it would have read.
    """
    with app.transaction() as session:
        before = lot_calendars(session, [lot.clause_id], app.settings)
    result = set_lot(app, lot, change, at)
    real = reminders.lot_calendars

    def racing(session: Session, ids: Iterable[int], settings: Settings) -> dict[int, LotCalendar]:
        return {**real(session, ids, settings), **before}

    monkeypatch.setattr(reminders, "lot_calendars", racing)
    return result


def test_a_month_opened_with_the_rules_of_just_before_a_change_is_put_right_by_its_call(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    lot = make_lot(app)
    ladder_pass(app, nine(31, 3))  # the party is armed: March is called on 1 April

    result = stale_rules(monkeypatch, app, lot, CalendarChange(due_day=3), nine(1) - MINUTE)
    open_due_ladders(app, nine(1), LadderReport())
    monkeypatch.undo()

    assert result.replanned.ladders == 0
    [march] = ladders(app)
    assert (march.due_on, march.next_step) == (date(2026, 4, 10), "call")  # the old rules
    report = ladder_pass(app, nine(1))  # the same pass goes on with the call
    assert report.calls == 1
    [march] = ladders(app)
    assert (march.due_on, march.next_step, march.next_step_at) == (
        date(2026, 4, 3),
        "reminder_1",
        nine(9),  # Easter Monday (6 April) is not counted
    )
    with app.transaction() as session:
        digest = compile_digest(session, nine(8), app.settings)
    [item] = [i for i in digest.items if i.category is Category.DECLARATION]
    # Working days from Friday 3 April (Easter Monday excluded), not from 10 April (nothing
    # late then).
    assert item.days == 2


@pytest.fixture
def pg_app(postgres_url: str, tmp_path: Path, clock: Clock) -> Iterator[App]:
    _empty_postgres(postgres_url)
    application = bootstrap(make_settings(tmp_path, postgres_url), clock=clock)
    yield application
    application.close()


@pytest.mark.postgres
def test_a_change_committed_while_a_pass_opens_the_month_is_followed_from_the_call(
    pg_app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real interleaving, with two connections: the pass reads the rules, ``lot set``
    commits in between, then the pass inserts the ladder."""
    app = pg_app
    lot = make_lot(app)
    ladder_pass(app, nine(31, 3))
    real = reminders.lot_calendars
    changed: list[CalendarChanged] = []

    def read_then_change(
        session: Session, ids: Iterable[int], settings: Settings
    ) -> dict[int, LotCalendar]:
        read = real(session, ids, settings)
        if not changed:  # another connection: commits while this pass holds its transaction
            changed.append(set_lot(app, lot, CalendarChange(due_day=3), nine(1)))
        return read

    monkeypatch.setattr(reminders, "lot_calendars", read_then_change)
    open_due_ladders(app, nine(1), LadderReport())
    monkeypatch.undo()

    assert changed[0].replanned.ladders == 0
    [march] = ladders(app)
    assert march.due_on == date(2026, 4, 10)
    ladder_pass(app, nine(1))
    [march] = ladders(app)
    assert (march.due_on, march.next_step, march.next_step_at) == (
        date(2026, 4, 3),
        "reminder_1",
        nine(9),
    )


# --- across the summer time change and Easter Monday --------------------------------------------


def nine_in_paris(day: date) -> datetime:
    return at_local(day, time(9), PARIS)


def walk_paris(app: App, first: date, last: date) -> None:
    """A pass at 09:00 in Paris each working day, whatever the offset that day."""
    day = first
    while day <= last:
        if is_working_day(day):
            ladder_pass(app, nine_in_paris(day))
        day += timedelta(days=1)


def test_it_replans_a_ladder_across_the_clock_change_and_easter_monday(app: App) -> None:
    lot = make_lot(app, start=date(2026, 2, 2))
    walk_paris(app, date(2026, 3, 2), date(2026, 3, 13))  # February: called, reminded on 13 March
    [february] = ladders(app)
    assert (february.next_step, february.next_step_at) == ("reminder_2", utc(2026, 3, 19, 8))

    result = set_lot(app, lot, CalendarChange(due_day=20), nine_in_paris(date(2026, 3, 16)))

    assert result.replanned.ladders == 1
    [february] = ladders(app)
    # Due Friday 20 March; J+7 is Tuesday 31 March, after the clocks went forward on Sunday 29.
    assert (february.due_on, february.next_step, february.next_step_at) == (
        date(2026, 3, 20),
        "reminder_2",
        utc(2026, 3, 31, 7),
    )
    walk_paris(app, date(2026, 3, 17), date(2026, 4, 14))
    # The escalation: 15 working days after 20 March, Easter Monday (6 April) not counted.
    assert steps(app, date(2026, 2, 1)) == [
        ("call", utc(2026, 3, 2, 8)),
        ("reminder_1", utc(2026, 3, 13, 8)),
        ("reminder_2", utc(2026, 3, 31, 7)),
        ("escalation", utc(2026, 4, 13, 7)),
    ]
    march = [lad for lad in ladders(app) if lad.month == MARCH]
    assert [lad.due_on for lad in march] == [date(2026, 4, 20)]  # opened with the new rules
