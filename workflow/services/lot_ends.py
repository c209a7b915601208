"""The months a lot no longer owes once the day its work ended is recorded (« achever »).

The end of the work is a fact from the field, often recorded weeks later: the works ended on
15 October, the facilitator records it on 3 December, after the service called the company for
November on 1 December (the end was not known then). November can no longer be declared
(``declarations.column_problems``: a month after the end), so it is no longer owed:

- a month after the end already declared refuses the end (``refuse_declared_after``): its hours
  would stay counted past the end; the facilitator checks the date or cancels that declaration
  first;
- a month after the end only called (or opened, its call waiting) is released, in the finish's
  transaction (``release_months_after``): its ladder stops (``next_step`` done, nothing left to
  send), its reminder or buyer's alert still waiting in the outbox is withdrawn with its reason,
  and the company's next call is set back to the first month after the end, parked (no call
  planned): a later end would call it again from there.
- one email still waiting may cover a month still owed with one released (a catch-up call, the
  reminders of October and November leaving together): it would ask for November, whose form is
  then refused. It is written again for the months still owed only (``ladder_rewrites``): the
  same kind and step, the same recipients and planned send time, rendered by the pass's own
  builder (``reminder_emails.ladder_message``) under the key of those months (``step_key``, so a
  second run writes nothing), and the first one withdrawn, its reason kept.

The ladder rows stay: the emails already sent name them (the audit and the ladder's history read
them). What reads the months owed leaves out a month after the lot's end: the day's tasks
(``digest._overdue``, through ``ends_of``), ``declaration list`` (``within_end``), the buyer's
notices (their schedule stops at the end), the monthly summaries (``summaries._works_in``), the receipts
(``declarations.missing_months``).

What was released, and what was written again, is told in French (``released_sentence``) to
the person who recorded the end, and kept in the history row of the finish (``history_reason``).
The companies whose call for a month released had left are told by email, in the same
transaction, by the caller (``company_end_notices``: this module writes no email of its own).

The end recorded may be corrected (a typo: 31/10 for 30/11, ``end_date_corrections``). An
earlier end releases the months it adds, as the finish does (``release_months_after``). A later
one makes the months between the two ends owed again (``owe_again``): each ladder the finish
stopped takes up again at the first step that never reached the company (an email withdrawn did
not reach it), so a reminder or the buyer's alert never goes for a month whose call and earlier
reminders did not leave; counted from the due date the call gave, as the pass counts it. A step
whose email the finish withdrew is sent again by the pass, under the key of its next sending
(``ladder_keys.sent_again_key``). A step of which an email covering the month was cancelled by
the facilitator (``clauses mail cancel``), alone or with other months of the company
(``2026-10..2026-11``), is not sent again (its key stays taken): that month stays stopped and
is named to her (``owed_sentence``). The months never called are called by the pass once the
company is armed again (``reminders.rearm_lot``, by the interface that corrects the end).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from workflow.adapters.orm import (
    AwardParty,
    Clause,
    Company,
    Declaration,
    DeclarationLadder,
    OutboxMessage,
)
from workflow.adapters.templates import french_month, french_time
from workflow.domain.calendar import (
    CalendarRules,
    LadderDays,
    LadderStep,
    MonthSchedule,
    add_months,
    at_local,
    due_after_call,
    local_date,
    month_fully_within,
    month_schedule,
    month_start,
    months_between,
    planned_step_day,
    reminder_number,
    sending_slot,
    suspended_days,
)
from workflow.domain.terminations import reason_of
from workflow.emails.ladder import step_label, step_participle
from workflow.errors import Hint, InputRefused
from workflow.services.ladder_keys import KEY_PREFIX, key_months, withdrawn_by_service

# The interface that records the end hands in how to write a ladder email again; the emails
# waiting that it applies to. Re-exported: the clauses and the end's corrections name them here.
from workflow.services.ladder_rewrites import REWRITTEN_STATES as REWRITTEN_STATES
from workflow.services.ladder_rewrites import LadderRewriter as LadderRewriter
from workflow.services.ladder_rewrites import write_again
from workflow.services.lot_calendars import lot_calendars, suspensions
from workflow.services.outbox import NOT_LEFT, OutboxState

if TYPE_CHECKING:
    from datetime import datetime

    from workflow.settings import Settings

log = logging.getLogger(__name__)


NBSP = "\u00a0"


@dataclass(frozen=True)
class ReleasedMonths:
    """The months one company no longer owes on a lot whose work ended before them."""

    company_id: int
    company: str
    end_date: date
    months: tuple[date, ...]
    #: The steps of the emails withdrawn before they left (« rappel n° 1 »…), in the order found.
    withdrawn: tuple[str, ...] = ()
    #: The steps of the emails written again for the months still owed only, in the order found.
    rewritten: tuple[str, ...] = ()
    #: The months those no longer name (of ``months``).
    rewritten_without: tuple[date, ...] = ()
    #: The emails still waiting that name a released month and could not be written again (no
    #: interface to write with, no correspondent any more, a template broken): (step, N° of the
    #: email), for the facilitator to cancel; and the released months they still name.
    still_asking: tuple[tuple[str, int], ...] = ()
    still_asking_months: tuple[date, ...] = ()
    #: The end is a termination (« résilier »): its sentence says the contract was terminated
    #: on that day, never that the work ended.
    terminated: bool = False


# --- what reads the months owed ---------------------------------------------------------------


def within_end(month: Any) -> Any:
    """SQL: ``month`` (a first of the month) is not after the end of its lot's work, where the
    statement joins ``Clause`` (no end recorded yet: every month)."""
    return or_(Clause.end_date.is_(None), month <= Clause.end_date)


def ends_of(session: Session, clause_ids: Iterable[int], size: int = 1000) -> dict[int, date]:
    """The day the work ended of those of ``clause_ids`` that have one: a month after it is owed
    no more (a first of the month after that day)."""
    wanted = sorted(set(clause_ids))
    found: dict[int, date] = {}
    for start in range(0, len(wanted), size):
        found.update(
            (cid, end)
            for cid, end in session.execute(
                select(Clause.id, Clause.end_date).where(
                    Clause.id.in_(wanted[start : start + size]), Clause.end_date.is_not(None)
                )
            )
            if end is not None
        )
    return found


# --- recording the end ------------------------------------------------------------------------


#: How a refused end says what cannot be: a finish's words, or a termination's.
FINISH_WORDS = ("l'exécution ne peut pas s'achever", "la date de fin")
TERMINATION_WORDS = ("le marché ne peut pas être résilié", "la date de résiliation")


def refuse_declared_after(
    session: Session,
    clause: Clause,
    end_date: date,
    field: str,
    words: tuple[str, str] = FINISH_WORDS,
) -> None:
    """Refuse an end before a month a company already declared (as ``set_planned_end`` refuses
    a planned end before it): its hours would count past the end. ``field`` names the date as
    the interface calls it; ``words``, what ends (a finish, a termination: its hours would be
    counted after the contract ended, so the date is checked or the declaration cancelled)."""
    found = session.execute(
        select(Declaration.month, Declaration.company_id, Company.name)
        .join(Company, Company.id == Declaration.company_id)
        .where(Declaration.clause_id == clause.id, Declaration.month > end_date)
        .order_by(Declaration.month, Company.name)
    ).all()
    if not found:
        return
    month, company_id, company = found[0]
    if len(found) == 1:
        which = f"{french_month(month)}, mois déjà déclaré par {company}"
        what = "cette déclaration"
    else:
        which = _and([f"{french_month(m)} ({name})" for m, _, name in found]) + (
            ", mois déjà déclarés"
        )
        what = "ces déclarations, une à une"
    raise InputRefused(
        f"{field}{NBSP}: le {end_date:%d/%m/%Y} est avant {which}{NBSP}; {words[0]} avant un "
        f"mois déclaré. Vérifiez {words[1]}, ou annulez d'abord {what}",
        hint=Hint(
            f"{NBSP}: clauses declaration cancel --clause {clause.id} --company {company_id} "
            f"--month {month:%m/%Y} --reason «{NBSP}…{NBSP}».",
            f"{NBSP}: page «{NBSP}Corrections{NBSP}» du lot, «{NBSP}Annuler…{NBSP}» sur la ligne "
            "du mois.",
        ),
    )


def release_months_after(
    session: Session,
    clause: Clause,
    end_date: date,
    *,
    field: str,
    rewriter: LadderRewriter | None = None,
    terminated: bool = False,
) -> tuple[ReleasedMonths, ...]:
    """In the caller's transaction: refuse the end if a month after it is declared, else stop
    the ladder of every month after it, withdraw their emails still waiting, and park each
    company on the first month after the end. Returns what was released, by company.

    An email still waiting that also covers a month still owed is written again for those
    months only through ``rewriter``; without it (no interface to write emails with), it stays
    as it is."""
    # The parties locked first: a pass opening months of this lot holds them until it has
    # written its ladders, which the read below then sees. The ladders locked next: a pass
    # climbing them, or a declaration recording one, waits for this transaction (or this one
    # for it, and then reads what it did). Read again as locked (``populate_existing``).
    parties = session.scalars(
        select(AwardParty)
        .where(AwardParty.clause_id == clause.id)
        .order_by(AwardParty.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    ladders = session.scalars(
        select(DeclarationLadder)
        .where(DeclarationLadder.clause_id == clause.id, DeclarationLadder.month > end_date)
        .order_by(DeclarationLadder.company_id, DeclarationLadder.month)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    refuse_declared_after(session, clause, end_date, field)
    first_not_owed = add_months(month_start(end_date), 1)
    for party in parties:
        if party.next_call_month is not None and party.next_call_month >= first_not_owed:
            # Parked on the first month no longer owed: a later end calls it again from there.
            party.next_call_month, party.next_call_at = first_not_owed, None
    by_company: dict[int, list[date]] = defaultdict(list)
    for ladder in ladders:
        if ladder.declared_at is not None:
            continue  # not reached: refused above
        ladder.next_step, ladder.next_step_at = LadderStep.DONE, None
        by_company[ladder.company_id].append(ladder.month)
    if not by_company:
        return ()
    withdrawn, rewritten, kept = _withdraw_waiting(
        session, rewriter, clause, end_date, by_company, terminated=terminated
    )
    names = dict(
        session.execute(
            select(Company.id, Company.name).where(Company.id.in_(sorted(by_company)))
        ).all()
    )
    return tuple(
        ReleasedMonths(
            company_id=company_id,
            company=names[company_id],
            end_date=end_date,
            months=tuple(months),
            withdrawn=tuple(withdrawn.get(company_id, ())),
            rewritten=tuple(step for step, _ in rewritten.get(company_id, ())),
            rewritten_without=tuple(
                sorted({m for _, dropped in rewritten.get(company_id, ()) for m in dropped})
            ),
            still_asking=tuple((step, row_id) for step, row_id, _ in kept.get(company_id, ())),
            still_asking_months=tuple(
                sorted({m for _, _, dropped in kept.get(company_id, ()) for m in dropped})
            ),
            terminated=terminated,
        )
        for company_id, months in sorted(by_company.items(), key=lambda i: names[i[0]])
    )


def _ladder_emails_not_left(session: Session, clause: Clause) -> list[OutboxMessage]:
    """The lot's calls, reminders and alerts that have not left (waiting, refused, given up),
    locked: an end or a closure withdraws them or writes them again."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.clause_id == clause.id,
                OutboxMessage.key.like(f"{KEY_PREFIX}:{clause.id}:%"),
                OutboxMessage.state.in_(NOT_LEFT),
            )
            .order_by(OutboxMessage.id)
            .with_for_update()
        )
    )


def _withdraw_waiting(
    session: Session,
    rewriter: LadderRewriter | None,
    clause: Clause,
    end_date: date,
    released: dict[int, list[date]],
    *,
    terminated: bool = False,
) -> tuple[
    dict[int, list[str]],
    dict[int, list[tuple[str, tuple[date, ...]]]],
    dict[int, list[tuple[str, int, tuple[date, ...]]]],
]:
    """The ladder emails of the released companies that have not left (waiting, refused, given
    up) and cover only months no longer owed or declared are withdrawn, their reason kept in the
    email log, as ``reminder_emails.withdraw_answered`` does for a month declared; one that may
    have left (sending, uncertain) stays as it is. One that also covers a month still owed is
    written again for the months still owed (``ladder_rewrites.write_again``). Returns, by
    company, the steps withdrawn, the steps written again with the months they no longer name,
    and the emails that will still leave naming a released month (not written again) with their
    N° and those months.
    """
    rows = _ladder_emails_not_left(session, clause)
    if not rows:
        return {}, {}, {}
    declared = {
        (company_id, month)
        for company_id, month in session.execute(
            select(Declaration.company_id, Declaration.month).where(
                Declaration.clause_id == clause.id
            )
        )
    }
    withdrawn: dict[int, list[str]] = defaultdict(list)
    rewritten: dict[int, list[tuple[str, tuple[date, ...]]]] = defaultdict(list)
    kept: dict[int, list[tuple[str, int, tuple[date, ...]]]] = defaultdict(list)
    for row in rows:
        covered = key_months(row.key)
        if covered is None or covered.company_id not in released:
            continue
        months = set(covered.months)
        dropped = tuple(sorted(months & set(released[covered.company_id])))
        if not dropped:
            continue
        owed = tuple(
            m for m in sorted(months) if m <= end_date and (covered.company_id, m) not in declared
        )
        if not owed:
            row.state = OutboxState.CANCELLED
            row.next_attempt_at = None
            row.last_error = (
                f"Retiré{NBSP}: {ended_words(end_date, terminated)}, "
                f"{_no_longer_asked(sorted(months))}{NBSP}; ce courriel n'avait plus lieu d'être."
            )
            withdrawn[covered.company_id].append(step_label(covered.step))
        elif row.state in REWRITTEN_STATES:
            failure = (
                "no interface to write emails with"
                if rewriter is None
                else write_again(
                    rewriter,
                    session,
                    clause,
                    row,
                    covered,
                    owed,
                    f"{ended_words(end_date, terminated)}, {_no_longer_asked(dropped)}",
                )
            )
            if failure is None:
                rewritten[covered.company_id].append((step_label(covered.step), dropped))
            else:
                log.error(
                    "ladder email not written again",
                    extra={
                        "action": "ladder.rewrite_failed",
                        "outbox_id": row.id,
                        "clause_id": clause.id,
                        "company_id": covered.company_id,
                        "key": row.key,
                        "error": failure,
                    },
                )
                kept[covered.company_id].append((step_label(covered.step), row.id, dropped))
    return withdrawn, rewritten, kept


# --- the clause closed: nothing is owed any more ----------------------------------------------


def stop_at_close(session: Session, clause: Clause, closed_on: date) -> dict[int, list[str]]:
    """In the closure's transaction: a closed clause asks no month any more (the pass calls and
    reminds only lots in execution or follow-up, ``reminders.CALLING_STAGES``), so the ladder of
    every month not declared stops (``next_step`` done) and every ladder email of the lot that
    has not left (waiting, refused, given up) is withdrawn, its reason kept in the email log, as
    the finish withdraws those of the months after the end. One that may have left (sending,
    uncertain) stays as it is. Returns, by company, the steps withdrawn (« rappel n° 1 »…)."""
    ladders = session.scalars(
        select(DeclarationLadder)
        .where(
            DeclarationLadder.clause_id == clause.id,
            DeclarationLadder.declared_at.is_(None),
            DeclarationLadder.next_step != LadderStep.DONE,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    for ladder in ladders:
        ladder.next_step, ladder.next_step_at = LadderStep.DONE, None
    rows = _ladder_emails_not_left(session, clause)
    withdrawn: dict[int, list[str]] = defaultdict(list)
    for row in rows:
        covered = key_months(row.key)
        if covered is None:
            continue
        row.state = OutboxState.CANCELLED
        row.next_attempt_at = None
        row.last_error = (
            f"Retiré{NBSP}: la clause a été clôturée le {closed_on:%d/%m/%Y}, "
            f"{_no_longer_asked(sorted(covered.months))}{NBSP}; ce courriel n'avait plus lieu "
            "d'être."
        )
        withdrawn[covered.company_id].append(step_label(covered.step))
    return withdrawn


# --- a later end: the months owed again -----------------------------------------------------


@dataclass(frozen=True)
class OwedMonth:
    """A month after the end first recorded, up to the corrected one: owed again, and where its
    reminders stand."""

    month: date
    #: The steps that reached the company for it (its emails not withdrawn), in ladder order.
    sent: tuple[str, ...]
    #: The step its reminders wait on again and when it leaves (a month never called: its call,
    #: sent by the pass once the company is armed again); None: every step had already left.
    step: str | None
    at: datetime | None
    #: The date the company is held to: the one its call gave, or will give.
    due_on: date | None
    #: The N° of the email withdrawn at the finish that holds the key of ``step``: the pass
    #: cannot send that step again, the month stays stopped and the facilitator is told.
    blocked_by: int | None = None


@dataclass(frozen=True)
class OwedAgain:
    """The months one company owes again on a lot whose end was corrected to a later day."""

    company_id: int
    company: str
    end_date: date
    months: tuple[OwedMonth, ...]


def owe_again(
    session: Session, clause: Clause, before: date, settings: Settings, now: datetime
) -> tuple[OwedAgain, ...]:
    """In the caller's transaction, ``clause.end_date`` already moved later than ``before``: the
    ladders of the months between the two ends that the finish stopped take up again at the
    first step that never reached the company (``_resume``). Returns, by company, every month
    owed again and where it stands; the months never called are called by the pass once the
    company is armed again (``reminders.rearm_lot``), at the slot given here."""
    end_date = clause.end_date
    assert end_date is not None and end_date > before
    first, last = add_months(month_start(before), 1), month_start(end_date)
    if last < first:
        return ()  # the same last month: nothing was released, nothing is owed again
    zone = settings.zone
    suspended = suspensions(session, [clause.id]).get(clause.id, [])
    # A month the lot spent suspended whole is asked of nobody (``reminders`` skips it, as
    # ``company_pauses._skipped`` says): it is not owed again.
    months = [m for m in months_between(first, last) if not month_fully_within(m, suspended, zone)]
    if not months:
        return ()
    # Locked as ``release_months_after`` locks them: a pass climbing these ladders, or
    # opening this lot's months, waits for this transaction.
    parties = session.scalars(
        select(AwardParty)
        .where(AwardParty.clause_id == clause.id)
        .order_by(AwardParty.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    ladders = {
        (ladder.company_id, ladder.month): ladder
        for ladder in session.scalars(
            select(DeclarationLadder)
            .where(
                DeclarationLadder.clause_id == clause.id,
                DeclarationLadder.month >= first,
                DeclarationLadder.month <= last,
            )
            .order_by(DeclarationLadder.company_id, DeclarationLadder.month)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    rules = lot_calendars(session, [clause.id], settings)[clause.id].rules
    today = local_date(now, zone)
    days = LadderDays(suspended_days(suspended, zone, today))
    emails = _ladder_emails(session, clause)
    owed: list[OwedAgain] = []
    names = dict(
        session.execute(
            select(Company.id, Company.name).where(
                Company.id.in_(sorted({p.company_id for p in parties}))
            )
        ).all()
    )
    for party in sorted(parties, key=lambda p: (names[p.company_id], p.id)):
        found: list[OwedMonth] = []
        for month in months:
            schedule = month_schedule(month, rules, zone)
            ladder = ladders.get((party.company_id, month))
            if ladder is None:
                # Never called: the pass calls it at its slot once the company is armed again.
                at = sending_slot(schedule.call_at, now, rules.call_time, zone)
                due = due_after_call(schedule, local_date(at, zone), zone)
                found.append(OwedMonth(month, (), LadderStep.CALL, at, due))
            elif ladder.declared_at is None:
                mails = emails.get((party.company_id, month), [])
                found.append(_resume(ladder, schedule, rules, days, mails, now, zone, clause.id))
        if found:
            found = _one_catch_up_date(found)
            owed.append(
                OwedAgain(party.company_id, names[party.company_id], end_date, tuple(found))
            )
    return tuple(owed)


def _one_catch_up_date(found: list[OwedMonth]) -> list[OwedMonth]:
    """The calls of one company leaving at one slot go in one email, which gives them one date:
    the latest of theirs (``reminders._open_batch``)."""
    latest: dict[datetime, date] = {}
    for owed in found:
        if owed.step == LadderStep.CALL and owed.at is not None and owed.due_on is not None:
            latest[owed.at] = max(latest.get(owed.at, owed.due_on), owed.due_on)
    return [
        OwedMonth(o.month, o.sent, o.step, o.at, latest[o.at], o.blocked_by)
        if o.step == LadderStep.CALL and o.at in latest
        else o
        for o in found
    ]


#: One ladder email of a lot as the correction reads it: its step, state, N°, key, and whether
#: the service withdrew it before it left (``ladder_keys.withdrawn_by_service``: the finish).
_Email = tuple[str, str, int, str, bool]


def _ladder_emails(session: Session, clause: Clause) -> dict[tuple[int, date], list[_Email]]:
    """Every ladder email of ``clause``, under each (company, month) it covers."""
    found: dict[tuple[int, date], list[_Email]] = defaultdict(list)
    for key, state, row_id, last_error in session.execute(
        select(OutboxMessage.key, OutboxMessage.state, OutboxMessage.id, OutboxMessage.last_error)
        .where(
            OutboxMessage.clause_id == clause.id,
            OutboxMessage.key.like(f"{KEY_PREFIX}:{clause.id}:%"),
        )
        .order_by(OutboxMessage.id)
    ):
        covered = key_months(key)
        if covered is None:
            continue
        for month in covered.months:
            found[(covered.company_id, month)].append(
                (covered.step, state, row_id, key, withdrawn_by_service(state, last_error))
            )
    return found


def _withdrawn(emails: Sequence[_Email], step: str) -> int | None:
    """The N° of the last email of ``step`` covering the month that a person cancelled before
    it left (« Annulé par … », ``clauses mail cancel``), if any: its key stays taken and the
    pass does not send that step again. Whatever months its key covers: the pass writes one
    email for the months of a company leaving together (``2026-10..2026-11``), so the months
    owed again at this step would take that very key again. One the finish withdrew (« Retiré
    … ») is sent again by the pass, under the key of its next sending (``ladder_keys``)."""
    held = [
        row_id
        for name, state, row_id, _, by_service in emails
        if name == step and state == OutboxState.CANCELLED and not by_service
    ]
    return held[-1] if held else None


def _resume(
    ladder: DeclarationLadder,
    schedule: MonthSchedule,
    rules: CalendarRules,
    days: LadderDays,
    emails: Sequence[_Email],
    now: datetime,
    zone: ZoneInfo,
    clause_id: int,
) -> OwedMonth:
    """Take up again the ladder of a month owed again at the first step whose email never
    reached the company: one withdrawn (at the finish, or by the facilitator) does not count,
    so the ladder never climbs past a step the company did not get. The moment is the one the
    pass counts (``planned_step_day``: from the due date the call gave and the step before),
    at its next call time if it has passed (``sending_slot``)."""
    names = [s.name for s in schedule.steps]
    reminders = sum(1 for name in names if reminder_number(name) is not None)
    reached = -1
    for step, state, _, _, _ in emails:
        if state == OutboxState.CANCELLED:
            continue
        number = reminder_number(step)
        if step in names:
            reached = max(reached, names.index(step))
        elif number is not None:
            # A reminder of a calendar since changed: as many reminders sent, at most all.
            reached = max(reached, min(number, reminders))
    sent = tuple(names[: reached + 1])
    month = ladder.month
    if reached + 1 >= len(names):
        ladder.next_step, ladder.next_step_at = LadderStep.DONE, None
        return OwedMonth(month, sent, None, None, ladder.due_on)
    step = names[reached + 1]
    held = _withdrawn(emails, step)
    if held is not None:
        # Cancelled before it left by the facilitator: the pass would find this step's key
        # taken and climb on without an email. The month stays stopped, named to her. (One the
        # finish withdrew is sent again, under the key of its next sending.)
        return OwedMonth(month, sent, step, None, ladder.due_on, blocked_by=held)
    call_time = rules.call_time
    if step == LadderStep.CALL:
        at = sending_slot(schedule.call_at, now, call_time, zone)
        # The date the call will give when it leaves (the pass writes it again then).
        ladder.due_on = due_after_call(schedule, local_date(at, zone), zone)
    else:
        called_on = local_date(ladder.called_at or schedule.call_at, zone)
        previous_on = local_date(ladder.stepped_at, zone) if ladder.stepped_at else None
        day = planned_step_day(
            schedule,
            rules,
            step,
            due_on=ladder.due_on,
            called_on=called_on,
            previous_on=previous_on,
            days=days,
        )
        at = sending_slot(at_local(day, call_time, zone), now, call_time, zone)
    ladder.next_step, ladder.next_step_at = step, at
    log.info(
        "ladder taken up again after a later end",
        extra={
            "action": "ladder.owed_again",
            "clause_id": clause_id,
            "company_id": ladder.company_id,
            "month": f"{month:%Y-%m}",
            "step": step,
            "at": at.isoformat(),
        },
    )
    return OwedMonth(month, sent, step, at, ladder.due_on)


# --- what is told -------------------------------------------------------------------------------


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " et " + items[-1]


def _no_longer_asked(months: Sequence[date]) -> str:
    """« novembre 2026 n'est plus demandé », « novembre 2026 et décembre 2026 ne sont plus
    demandés »."""
    if len(months) == 1:
        return f"{french_month(months[0])} n'est plus demandé"
    return f"{_and([french_month(m) for m in months])} ne sont plus demandés"


def released_sentence(released: ReleasedMonths) -> str:
    """« Novembre 2026 n'est plus demandé à Bâtiments Sud : l'exécution s'est achevée le
    15/10/2026 ; 1 courriel en attente retiré (rappel n° 1) ; 1 courriel en attente écrit à
    nouveau sans novembre 2026 (rappel n° 2). »"""
    months = _no_longer_asked(released.months)
    said = f"{months[:1].upper()}{months[1:]} à {released.company}{NBSP}: {_ended(released)}"
    count = len(released.withdrawn)
    if count:
        emails = (
            "1 courriel en attente retiré"
            if count == 1
            else (f"{count} courriels en attente retirés")
        )
        said += f"{NBSP}; {emails} ({', '.join(released.withdrawn)})"
    count = len(released.rewritten)
    if count:
        emails = (
            "1 courriel en attente écrit à nouveau"
            if count == 1
            else f"{count} courriels en attente écrits à nouveau"
        )
        without = _and([french_month(m) for m in released.rewritten_without])
        said += f"{NBSP}; {emails} sans {without} ({', '.join(released.rewritten)})"
    if released.still_asking:
        said += f"{NBSP}; {_still_asking(released)}"
    return said + "."


def _ended(released: ReleasedMonths) -> str:
    return ended_words(released.end_date, released.terminated)


def ended_words(end_date: date, terminated: bool) -> str:
    """« l'exécution s'est achevée le 15/10/2026 », or « le marché a été résilié le
    15/10/2026 » for a lot ended by a termination: why a month after it is no longer asked."""
    if terminated:
        return f"le marché a été résilié le {end_date:%d/%m/%Y}"
    return f"l'exécution s'est achevée le {end_date:%d/%m/%Y}"


def _still_asking(released: ReleasedMonths) -> str:
    """« 1 courriel en attente demande encore novembre 2026 et n'a pas pu être écrit à nouveau
    (rappel n° 1, courriel n° 532) : annulez-le depuis le journal des courriels s'il ne doit pas
    partir »: the same words in the history, on the command line and on the lot's page; each
    interface then says how it cancels one (``clauses mail cancel 532``, « Annuler ce
    courriel » on its page)."""
    named = _and([french_month(m) for m in released.still_asking_months])
    emails = ", ".join(f"{step}, courriel n°{NBSP}{n}" for step, n in released.still_asking)
    if len(released.still_asking) == 1:
        return (
            f"1 courriel en attente demande encore {named} et n'a pas pu être écrit à nouveau "
            f"({emails}){NBSP}: annulez-le depuis le journal des courriels s'il ne doit pas "
            "partir"
        )
    return (
        f"{len(released.still_asking)} courriels en attente demandent encore {named} et n'ont "
        f"pas pu être écrits à nouveau ({emails}){NBSP}: annulez depuis le journal des "
        "courriels ceux qui ne doivent pas partir"
    )


def history_reason(reason: str | None, released: Sequence[ReleasedMonths]) -> str | None:
    """The finish's history row: the reason given, then what the end released. A
    termination's row (its head ``domain.terminations.termination_reason``'s) tells each month
    released as no longer asked because the contract was terminated on that day."""
    if not released:
        return reason
    if reason_of(reason) is not None:
        released = [replace(r, terminated=True) for r in released]
    told = " ".join(released_sentence(r) for r in released)
    given = (reason or "").strip()
    if not given:
        return told
    return f"{given if given.endswith(('.', '!', '?')) else given + '.'} {told}"


def owed_sentence(owed: OwedAgain, zone: ZoneInfo) -> str:
    """« Novembre 2026 est désormais demandé à Bâtiments Sud : l'exécution s'est achevée le
    30/11/2026 ; novembre 2026 : rappel n° 1 le 14/12/2026 à 09:00, date limite le
    10/12/2026. »"""
    months = [o.month for o in owed.months]
    if len(months) == 1:
        asked = f"{french_month(months[0])} est désormais demandé"
    else:
        asked = f"{_and([french_month(m) for m in months])} sont désormais demandés"
    said = (
        f"{asked[:1].upper()}{asked[1:]} à {owed.company}{NBSP}: l'exécution s'est achevée le "
        f"{owed.end_date:%d/%m/%Y}"
    )
    for month in owed.months:
        said += f"{NBSP}; {french_month(month.month)}{NBSP}: {_standing(month, zone)}"
    return said + "."


def _standing(owed: OwedMonth, zone: ZoneInfo) -> str:
    """Where one month owed again stands, as the facilitator reads it."""
    if owed.step is None:
        return "toutes ses relances étaient déjà parties, alerte au donneur d'ordre comprise"
    label = step_label(owed.step)
    if owed.blocked_by is not None:
        return (
            f"son {label} avait été {step_participle(owed.step, 'annulé')} à la main avant de "
            f"partir (courriel n°{NBSP}{owed.blocked_by}) et ne peut pas être "
            f"{step_participle(owed.step, 'envoyé')} de nouveau par les relances automatiques, "
            f"qui s'arrêtent là pour ce mois{NBSP}: relancez vous-même l'entreprise"
        )
    assert owed.at is not None
    local = owed.at.astimezone(zone)
    due = f", date limite le {owed.due_on:%d/%m/%Y}" if owed.due_on is not None else ""
    return f"{label} le {local:%d/%m/%Y} à {french_time(local)}{due}"


def correction_reason(
    before: date,
    after: date,
    reason: str,
    released: Sequence[ReleasedMonths],
    owed: Sequence[OwedAgain],
    zone: ZoneInfo,
) -> str:
    """The history row of an end corrected: « fin d'exécution : 31/10/2026 → 30/11/2026 ;
    faute de frappe. » then what it released or asks again."""
    given = reason.strip()
    said = (
        f"fin d'exécution{NBSP}: {before:%d/%m/%Y} → {after:%d/%m/%Y}{NBSP}; "
        f"{given if given.endswith(('.', '!', '?')) else given + '.'}"
    )
    told = [released_sentence(r) for r in released] + [owed_sentence(o, zone) for o in owed]
    return " ".join([said, *told])
