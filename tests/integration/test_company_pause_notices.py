"""The companies of a lot hear of its suspension and of its resumption, with true dates.

A walk-through found that a company saw its reminders stop without a word when its lot was
suspended, then start again. Each company now gets one email at each event: at the suspension,
the months it still owes and the ones it will be asked for later; at the resumption, the day of
its next call, its months and its due date. The resumption's figures are checked against the
call the passes really send afterwards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import Lot, declare, ladders, make_lot
from tests.integration.test_ladder_scenarios import paris
from tests.text import squash
from workflow.adapters.orm import OutboxMessage
from workflow.adapters.templates import french_date
from workflow.bootstrap import App
from workflow.domain.calendar import local_date
from workflow.domain.events import ClauseAdvanced
from workflow.domain.stages import ClauseEvent, Stage
from workflow.errors import InputRefused
from workflow.services.clauses import advance_clause, set_planned_end
from workflow.services.company_pauses import tell_companies
from workflow.services.dispatch import dispatch_due
from workflow.services.previews import build_preview
from workflow.services.ticks import run_pass

pytestmark = pytest.mark.scenario

SUSPENDED = "company_lot_suspended"
RESUMED = "company_lot_resumed"


def advance(app: App, lot: Lot, event: ClauseEvent, at: datetime, reason: str | None) -> None:
    with app.transaction() as session:
        advance_clause(
            session,
            lot.clause_id,
            event,
            actor="test",
            reason=reason,
            now=at,
            publish=app.publish,
        )


def emails(app: App, kind: str) -> list[OutboxMessage]:
    with app.transaction() as session:
        return list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.kind == kind)
                .order_by(OutboxMessage.created_at, OutboxMessage.id)
            )
        )


def a_lot_suspended_with_april_owed(app: App) -> Lot:
    """March declared by both companies, April by the co-contractor only; suspended on
    7 May 2026, before April's due date (11 May)."""
    lot = make_lot(
        app,
        start=date(2026, 3, 2),
        end=date(2026, 12, 31),
        companies=("Titulaire", "Cotraitant"),
        at=paris(date(2026, 3, 2), 8),
    )
    # The calls leave (``clauses mail send``): one still waiting is withdrawn at the suspension.
    run_pass(app, paris(date(2026, 4, 1), 9))
    for company in (0, 1):
        declare(app, lot, date(2026, 3, 1), paris(date(2026, 4, 3), 10), company)
    run_pass(app, paris(date(2026, 5, 4), 9))
    declare(app, lot, date(2026, 4, 1), paris(date(2026, 5, 5), 10), 1)
    advance(app, lot, ClauseEvent.SUSPEND, paris(date(2026, 5, 7), 15), "Fouilles archéologiques")
    # The suspension's emails leave (``clauses mail send``): one still waiting at the
    # resumption would be withdrawn, the resumption's email saying the suspension instead
    # (``resumption_withdrawals``).
    dispatch_due(app, paris(date(2026, 5, 7), 15, 5))
    return lot


def test_each_company_reads_what_it_owes_when_the_lot_is_suspended(app: App, clock: Clock) -> None:
    lot = a_lot_suspended_with_april_owed(app)
    sent = emails(app, SUSPENDED)
    assert len(sent) == 2, [m.recipients for m in sent]
    holder, partner = (squash(m.body_text) for m in sent)
    assert sent[0].subject.startswith("Clause d'insertion suspendue – ")
    assert "est suspendue depuis le 7 mai 2026." in holder
    assert "Motif indiqué : Fouilles archéologiques" in holder
    assert "vous ne recevrez ni appel à déclarer ni rappel pour ce lot" in holder
    # April was called on 4 May, due on 11 May: the suspension began before, its working days
    # will not count; the new date is given at the resumption.
    assert (
        "- avril 2026 : attendue le 11 mai 2026 ; la suspension repousse cette date (ses jours "
        "ouvrés ne comptent pas dans le délai) : je vous donnerai la nouvelle à la reprise"
    ) in holder, holder
    assert (
        "La déclaration de mai 2026, pas encore demandée, vous sera demandée après la reprise, "
        "pour les heures réalisées en dehors de la suspension."
    ) in holder
    assert "avril 2026 :" not in partner
    assert "Aucune déclaration demandée avant la suspension n'est en attente" in partner
    # One row per company, keyed by the change; the same event handled again writes nothing.
    at = paris(date(2026, 5, 7), 15)
    stamp = at.astimezone(UTC).isoformat()
    assert sorted(m.key for m in sent) == sorted(
        f"notice:{lot.clause_id}:{SUSPENDED}:company-{c}@{stamp}" for c in lot.company_ids
    )
    event = ClauseAdvanced(
        lot.clause_id, ClauseEvent.SUSPEND, Stage.EXECUTION, Stage.SUSPENDED, at, "test", None
    )
    with app.transaction() as session:
        tell_companies(app, session, event)
    assert len(emails(app, SUSPENDED)) == 2


_ANNOUNCED = re.compile(
    r"Le (?P<on>\d{1,2}(?:er)? \S+ \d{4}), vous recevrez l'appel à déclarer les heures "
    r"d'insertion (?:du mois|des mois) (?P<months>.+?) réalisées par .+?, déclarations? à rendre "
    r"au plus tard le (?P<due>\d{1,2}(?:er)? \S+ \d{4})\."
)


@dataclass(frozen=True)
class Resumption:
    at: datetime
    #: What the passes then do: the call's day and months, April's date, its first reminder.
    call_day: date
    months: tuple[date, ...]
    months_of: str
    april_due: date
    reminder_day: date


RESUMPTIONS = {
    # Wednesday 10:00: the day's call hour (09:00–10:00) has passed, the call leaves the next
    # morning; May (worked 1–6 May) is called, June (all suspended) is not.
    "after-the-call-hour": Resumption(
        paris(date(2026, 7, 15), 10),
        date(2026, 7, 16),
        (date(2026, 5, 1),),
        "de mai 2026",
        date(2026, 7, 17),
        date(2026, 7, 22),
    ),
    # 08:00: the call leaves the same day at 09:00.
    "before-the-call-hour": Resumption(
        paris(date(2026, 7, 15), 8),
        date(2026, 7, 15),
        (date(2026, 5, 1),),
        "de mai 2026",
        date(2026, 7, 17),
        date(2026, 7, 22),
    ),
    # Friday 31 July 15:00: May's call waits for Monday 3 August 09:00, July's own call time;
    # both leave in one email, with the later of their two dates.
    "on-the-eve-of-a-call": Resumption(
        paris(date(2026, 7, 31), 15),
        date(2026, 8, 3),
        (date(2026, 5, 1), date(2026, 7, 1)),
        "de mai et de juillet 2026",
        date(2026, 8, 4),
        date(2026, 8, 7),
    ),
}


@pytest.mark.parametrize("case", RESUMPTIONS)
def test_the_call_after_the_resumption_is_the_one_its_email_announced(
    app: App, clock: Clock, case: str
) -> None:
    expected = RESUMPTIONS[case]
    lot = a_lot_suspended_with_april_owed(app)
    advance(app, lot, ClauseEvent.RESUME, expected.at, "Fouilles terminées")
    sent = emails(app, RESUMED)
    assert len(sent) == 2
    holder = squash(sent[0].body_text)
    resumed_on = french_date(local_date(expected.at, app.settings.zone))
    assert f"suspendue depuis le 7 mai 2026, reprend à compter du {resumed_on}." in holder
    assert "Le mois de juin 2026, passé entièrement en suspension, ne vous sera pas demandé." in (
        holder
    )
    # April's four working days between its call (4 May) and its due date (11 May; 8 May is a
    # holiday): 5 and 6 May were counted, the two left count from the resumption.
    assert f"- avril 2026 : à rendre au plus tard le {french_date(expected.april_due)}" in holder
    announced = _ANNOUNCED.search(holder)
    assert announced is not None, holder
    assert announced["on"] == french_date(expected.call_day)
    assert announced["months"] == expected.months_of
    assert f"prochain appel à déclarer le {announced['on']}" in sent[0].subject
    # The passes, from the minute after the resumption to the day after the announced call.
    moments = [expected.at + timedelta(minutes=1)]
    day = local_date(expected.at, app.settings.zone)
    while day <= expected.call_day + timedelta(days=1):
        moments += [paris(day, 9), paris(day, 9, 5)]
        day += timedelta(days=1)
    for moment in sorted(m for m in moments if m > expected.at):
        run_pass(app, moment, dispatch=False)
    after = [m for m in emails(app, "declaration_call") if m.created_at > expected.at]
    holder_calls = [m for m in after if lot_company_key(m, lot, 0)]
    assert len(holder_calls) == 1, [m.key for m in after]
    call = holder_calls[0]
    assert local_date(call.created_at, app.settings.zone) == expected.call_day
    called = [
        ladder
        for ladder in ladders(app)
        if ladder.company_id == lot.company_ids[0]
        and ladder.called_at is not None
        and ladder.called_at > expected.at
    ]
    assert tuple(ladder.month for ladder in called) == expected.months
    assert {french_date(ladder.due_on) for ladder in called} == {announced["due"]}
    assert f"au plus tard le {announced['due']}" in squash(call.subject)
    # No ladder of June: the month spent suspended is not asked.
    assert not [ladder for ladder in ladders(app) if ladder.month == date(2026, 6, 1)]
    # April's first reminder, three working days after its date, holds the company to the date
    # the resumption announced.
    run_pass(app, paris(expected.reminder_day, 9), dispatch=False)
    reminders = [
        m
        for m in emails(app, "declaration_reminder")
        if lot_company_key(m, lot, 0) and "2026-04" in m.key
    ]
    assert len(reminders) == 1, [m.key for m in emails(app, "declaration_reminder")]
    assert french_date(expected.april_due) in squash(reminders[0].body_text)


def lot_company_key(message: OutboxMessage, lot: Lot, company: int) -> bool:
    return message.key.startswith(f"reminder:{lot.clause_id}:{lot.company_ids[company]}:")


def test_the_preview_of_a_clause_reads_what_its_companies_get(app: App, clock: Clock) -> None:
    """``clauses mail preview --clause``: a suspended lot's suspension email is the one sent; its
    resumption, previewed at an instant, announces the call the resumption at that instant does."""
    lot = a_lot_suspended_with_april_owed(app)
    clock.set(paris(date(2026, 6, 1), 12))
    preview = build_preview(app, SUSPENDED, lot.clause_id)
    sent = emails(app, SUSPENDED)[0]
    assert preview.note is None
    assert preview.rendered.text == sent.body_text
    resumed_at = paris(date(2026, 7, 31), 15)
    clock.set(resumed_at)
    previewed = build_preview(app, RESUMED, lot.clause_id)
    advance(app, lot, ClauseEvent.RESUME, resumed_at, None)
    assert previewed.rendered.text == emails(app, RESUMED)[0].body_text
    announced = _ANNOUNCED.search(squash(previewed.rendered.text))
    assert announced is not None and announced["on"] == "3 août 2026"
    # Resumed, the lot has no resumption to preview any more.
    with pytest.raises(InputRefused, match="n'est pas suspendu"):
        build_preview(app, RESUMED, lot.clause_id)


def test_a_company_parked_past_the_old_end_hears_of_the_call_its_rearming_brings(
    app: App, clock: Clock
) -> None:
    """The lot was to end in April: April called on 4 May, the company then waits for nothing
    (parked). Suspended on 7 May, prolonged to December while suspended (nothing is armed
    then), resumed on 15 July at 10:00: the resumption arms it again (``rearm_lot``, which
    runs after this email is written) and May is called the next morning, as announced."""
    lot = make_lot(
        app,
        start=date(2026, 3, 2),
        end=date(2026, 4, 30),
        companies=("Titulaire",),
        at=paris(date(2026, 3, 2), 8),
    )
    run_pass(app, paris(date(2026, 4, 1), 9))
    declare(app, lot, date(2026, 3, 1), paris(date(2026, 4, 3), 10))
    run_pass(app, paris(date(2026, 5, 4), 9))
    advance(app, lot, ClauseEvent.SUSPEND, paris(date(2026, 5, 7), 15), None)
    with app.transaction() as session:
        set_planned_end(
            session,
            lot.clause_id,
            date(2026, 12, 31),
            reason="avenant n° 1",
            actor="test",
            now=paris(date(2026, 6, 10), 10),
            publish=app.publish,
        )
    resumed_at = paris(date(2026, 7, 15), 10)
    advance(app, lot, ClauseEvent.RESUME, resumed_at, None)
    (resumed,) = emails(app, RESUMED)
    announced = _ANNOUNCED.search(squash(resumed.body_text))
    assert announced is not None, squash(resumed.body_text)
    assert (announced["on"], announced["months"]) == ("16 juillet 2026", "de mai 2026")
    for moment in (resumed_at + timedelta(minutes=1), paris(date(2026, 7, 16), 9)):
        run_pass(app, moment, dispatch=False)
    after = [m for m in emails(app, "declaration_call") if m.created_at > resumed_at]
    assert len(after) == 1
    assert local_date(after[0].created_at, app.settings.zone) == date(2026, 7, 16)
    assert f"au plus tard le {announced['due']}" in squash(after[0].subject)
    assert "de mai 2026" in after[0].subject
