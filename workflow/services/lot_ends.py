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

The ladder rows stay: the emails already sent name them (the audit and the ladder's history read
them). What reads the months owed leaves out a month after the lot's end: the day's tasks
(``digest._overdue``, through ``ends_of``), ``declaration list`` (``within_end``), the buyer's
notices (their schedule stops at the end), the monthly summaries (``summaries._works_in``), the receipts
(``declarations.missing_months``).

What was released is told in French (``released_sentence``) to the person who recorded the end,
and kept in the history row of the finish (``history_reason``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

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
from workflow.adapters.templates import french_month
from workflow.domain.calendar import LadderStep, add_months, month_start
from workflow.emails.ladder import step_label
from workflow.errors import Hint, InputRefused
from workflow.services.ladder_keys import KEY_PREFIX, key_months
from workflow.services.outbox import NOT_LEFT, OutboxState

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


def refuse_declared_after(session: Session, clause: Clause, end_date: date, field: str) -> None:
    """Refuse an end before a month a company already declared (as ``set_planned_end`` refuses
    a planned end before it): its hours would count past the end. ``field`` names the date as
    the interface calls it."""
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
        f"{field}{NBSP}: le {end_date:%d/%m/%Y} est avant {which}{NBSP}; l'exécution ne peut pas "
        f"s'achever avant un mois déclaré. Vérifiez la date de fin, ou annulez d'abord {what}",
        hint=Hint(
            f"{NBSP}: clauses declaration cancel --clause {clause.id} --company {company_id} "
            f"--month {month:%m/%Y} --reason «{NBSP}…{NBSP}».",
            f"{NBSP}: page «{NBSP}Corrections{NBSP}» du lot, «{NBSP}Annuler…{NBSP}» sur la ligne "
            "du mois.",
        ),
    )


def release_months_after(
    session: Session, clause: Clause, end_date: date, *, field: str
) -> tuple[ReleasedMonths, ...]:
    """In the caller's transaction: refuse the end if a month after it is declared, else stop
    the ladder of every month after it, withdraw their emails still waiting, and park each
    company on the first month after the end. Returns what was released, by company."""
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
    withdrawn = _withdraw_waiting(session, clause.id, end_date, by_company)
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
        )
        for company_id, months in sorted(by_company.items(), key=lambda i: names[i[0]])
    )


def _withdraw_waiting(
    session: Session, clause_id: int, end_date: date, released: dict[int, list[date]]
) -> dict[int, list[str]]:
    """The ladder emails of the released companies that have not left (waiting, refused, given
    up) and cover only months no longer owed or declared are withdrawn, their reason kept in the
    email log, as ``reminder_emails.withdraw_answered`` does for a month declared; one that may
    have left (sending, uncertain) stays as it is, and so does one that also covers a month
    still owed. Returns the steps withdrawn, by company."""
    rows = session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.clause_id == clause_id,
            OutboxMessage.key.like(f"{KEY_PREFIX}:{clause_id}:%"),
            OutboxMessage.state.in_(NOT_LEFT),
        )
        .order_by(OutboxMessage.id)
        .with_for_update()
    ).all()
    if not rows:
        return {}
    declared = {
        (company_id, month)
        for company_id, month in session.execute(
            select(Declaration.company_id, Declaration.month).where(
                Declaration.clause_id == clause_id
            )
        )
    }
    withdrawn: dict[int, list[str]] = defaultdict(list)
    for row in rows:
        covered = key_months(row.key)
        if covered is None or covered.company_id not in released:
            continue
        months = set(covered.months)
        if not months & set(released[covered.company_id]):
            continue
        if all(m > end_date or (covered.company_id, m) in declared for m in months):
            row.state = OutboxState.CANCELLED
            row.next_attempt_at = None
            row.last_error = (
                f"Retiré{NBSP}: l'exécution s'est achevée le {end_date:%d/%m/%Y}, "
                f"{_no_longer_asked(sorted(months))}{NBSP}; ce courriel n'avait plus lieu d'être."
            )
            withdrawn[covered.company_id].append(step_label(covered.step))
    return withdrawn


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
    15/10/2026 ; 1 courriel en attente retiré (rappel n° 1). »"""
    months = _no_longer_asked(released.months)
    said = (
        f"{months[:1].upper()}{months[1:]} à {released.company}{NBSP}: l'exécution s'est "
        f"achevée le {released.end_date:%d/%m/%Y}"
    )
    count = len(released.withdrawn)
    if count:
        emails = (
            "1 courriel en attente retiré"
            if count == 1
            else (f"{count} courriels en attente retirés")
        )
        said += f"{NBSP}; {emails} ({', '.join(released.withdrawn)})"
    return said + "."


def history_reason(reason: str | None, released: Sequence[ReleasedMonths]) -> str | None:
    """The finish's history row: the reason given, then what the end released."""
    if not released:
        return reason
    told = " ".join(released_sentence(r) for r in released)
    given = (reason or "").strip()
    if not given:
        return told
    return f"{given if given.endswith(('.', '!', '?')) else given + '.'} {told}"
