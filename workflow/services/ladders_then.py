"""A month's ladder as it stood at a past moment, when a cancellation re-dated it since.

A declaration cancelled asks its month again (``reminders.resume_ladder``). When none of the
month's steps had reached the company (its call waited in the outbox and the declaration withdrew
it, « Retiré : le mois a été déclaré … »), the ladder is called afresh: ``called_at`` and
``due_on`` are the new call's, and the earlier call is no longer on the row. A summary written
before the cancellation said the month as the earlier call left it (« manquante » once the date
it gave had passed), and told its late arrival late: read against the row of today, the audit
and the replay would say « pas encore due, appel prévu le … » and « arrivée sans retard ».

The rule: at a moment before the ladder's current call (or with no call on the row), the month
was held to the latest earlier call made by then (the outbox's call email of the month,
``reminder:<clause>:<company>:<months>:call``, whose ``created_at`` is the instant the ladder
was called) unless a cancellation of the month's declaration came between that call and the
moment (it asked the month again: the row of today holds from then on). Its due date is the one
its email stated (« au plus tard le … », which the ladder held, ``climb_due_ladders``); were the
email unreadable, the month's first reminder or alert after that call proves the date had passed
by the day before it, and before any such step the date is taken as not passed. Only months
whose declaration was cancelled are read (a few history rows, by ``ix_clause_history_event_at``
when a moment bounds them), and their lots' ladder emails.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from workflow.adapters.batching import chunked
from workflow.adapters.orm import ClauseHistory, DeclarationLadder, OutboxMessage
from workflow.adapters.templates import french_month
from workflow.domain.calendar import LadderStep, local_date
from workflow.emails.phrases import month_phrase
from workflow.services.declaration_facts import CANCELLED_EVENT, CANCELLED_REASON
from workflow.services.ladder_keys import KEY_PREFIX, key_months

MonthKey = tuple[int, int, date]

_DUE = re.compile(r"au plus tard le (?P<day>1er|\d{1,2}) (?P<month>[^\W\d_]+) (?P<year>\d{4})")


@dataclass(frozen=True)
class EarlierCall:
    """A call of a month made before a cancellation asked the month again."""

    called_at: datetime
    #: The due date its email stated; None if the email does not read so.
    due_on: date | None
    #: The cancellation after which the month was asked again (the call no longer held).
    voided_at: datetime
    #: The month's first reminder or alert after this call, if any.
    stepped_at: datetime | None


def _month_numbers() -> dict[str, int]:
    return {french_month(date(2000, n, 1)).rsplit(" ", 1)[0]: n for n in range(1, 13)}


def stated_due(body_text: str) -> date | None:
    """The due date a call's email stated (« au plus tard le 10 mars 2027 »); None if none."""
    found = _DUE.search(body_text.replace("\u00a0", " "))
    month = _month_numbers().get(found["month"]) if found else None
    if found is None or month is None:
        return None
    day = 1 if found["day"] == "1er" else int(found["day"])
    try:
        return date(int(found["year"]), month, day)
    except ValueError:
        return None


def earlier_calls(
    session: Session,
    *,
    keys: Iterable[MonthKey] | None = None,
    cancelled_after: datetime | None = None,
    until_month: date | None = None,
) -> dict[MonthKey, tuple[EarlierCall, ...]]:
    """The months whose declaration was cancelled (after ``cancelled_after``, when given: only
    where a ladder of the company was not called by then, the one a cancellation re-dates;
    among ``keys``, when given; up to ``until_month``, when given) with the calls each had
    before a cancellation, oldest first."""
    wanted = None if keys is None else set(keys)
    statement = select(
        ClauseHistory.clause_id, ClauseHistory.company_id, ClauseHistory.reason, ClauseHistory.at
    ).where(ClauseHistory.event == CANCELLED_EVENT)
    if cancelled_after is not None:
        ladder = DeclarationLadder
        statement = statement.where(
            ClauseHistory.at > cancelled_after,
            select(ladder.id)
            .where(
                ladder.clause_id == ClauseHistory.clause_id,
                or_(
                    ClauseHistory.company_id.is_(None),
                    ladder.company_id == ClauseHistory.company_id,
                ),
                or_(ladder.called_at.is_(None), ladder.called_at > cancelled_after),
            )
            .exists(),
        )
    statements = [statement]
    if wanted is not None:
        # A few hundred lots at a time (PostgreSQL takes at most 65,535 parameters).
        lots = sorted({k[0] for k in wanted})
        statements = [statement.where(ClauseHistory.clause_id.in_(c)) for c in chunked(lots)]
    phrases: dict[str, date] = {}
    # (lot, company or None for a row written before it kept one) -> months cancelled
    targets: dict[tuple[int, int | None], set[date]] = defaultdict(set)
    cancelled = (row for each in statements for row in session.execute(each))
    for cid, company_id, reason, _ in cancelled:
        found = CANCELLED_REASON.match(reason or "")
        if found is None:
            continue
        said = found["month"]
        if said not in phrases:
            month = _month_of(said)
            if month is None:
                continue
            phrases[said] = month
        if until_month is None or phrases[said] <= until_month:
            targets[(cid, company_id)].add(phrases[said])
    if not targets:
        return {}
    found_calls: dict[MonthKey, tuple[EarlierCall, ...]] = {}
    for cid in sorted({cid for cid, _ in targets}):
        months_of = {company: months for (c, company), months in targets.items() if c == cid}
        cancels = _cancellations(session, cid)
        calls: dict[tuple[int, date], list[tuple[datetime, date | None]]] = defaultdict(list)
        steps: dict[tuple[int, date], list[datetime]] = defaultdict(list)
        rows = session.execute(
            select(OutboxMessage.key, OutboxMessage.created_at, OutboxMessage.body_text).where(
                OutboxMessage.clause_id == cid,
                OutboxMessage.key.startswith(f"{KEY_PREFIX}:{cid}:", autoescape=True),
            )
        )
        for key, created_at, body in rows:
            parsed = key_months(key)
            if parsed is None:
                continue
            asked = months_of.get(parsed.company_id, set()) | months_of.get(None, set())
            for month in set(parsed.months) & asked:
                if parsed.step == LadderStep.CALL:
                    calls[(parsed.company_id, month)].append((created_at, stated_due(body)))
                else:
                    steps[(parsed.company_id, month)].append(created_at)
        for (company_id, month), made in calls.items():
            month_key = (cid, company_id, month)
            if wanted is not None and month_key not in wanted:
                continue
            voids = sorted(
                at for (company, undone), ats in cancels.items() for at in ats
                if undone == month and company in (company_id, None)
            )  # fmt: skip
            earlier: list[EarlierCall] = []
            for called_at, due_on in sorted(made, key=lambda c: c[0]):
                voided = next((at for at in voids if at > called_at), None)
                if voided is None:
                    continue  # the call of today, or one no cancellation followed
                after = [at for at in steps[(company_id, month)] if called_at < at <= voided]
                earlier.append(EarlierCall(called_at, due_on, voided, min(after, default=None)))
            if earlier:
                found_calls[month_key] = tuple(earlier)
    return found_calls


def _month_of(said: str) -> date | None:
    """« de février 2027 », « d'avril 2027 » read back."""
    name, _, year = said.removeprefix("d'").removeprefix("de ").rpartition(" ")
    number = _month_numbers().get(name)
    if number is None or not year.isdigit():
        return None
    month = date(int(year), number, 1)
    return month if month_phrase(month) == said else None


def _cancellations(session: Session, cid: int) -> dict[tuple[int | None, date], list[datetime]]:
    """Every cancellation of the lot's declarations: (company or None, month) -> instants."""
    found: dict[tuple[int | None, date], list[datetime]] = defaultdict(list)
    for company_id, reason, at in session.execute(
        select(ClauseHistory.company_id, ClauseHistory.reason, ClauseHistory.at).where(
            ClauseHistory.clause_id == cid, ClauseHistory.event == CANCELLED_EVENT
        )
    ):
        said = CANCELLED_REASON.match(reason or "")
        month = _month_of(said["month"]) if said else None
        if month is not None:
            found[(company_id, month)].append(at)
    return found


def ladder_then(
    due_on: date | None,
    called_at: datetime | None,
    earlier: Iterable[EarlierCall],
    moment: datetime,
    zone: ZoneInfo,
) -> tuple[date | None, datetime | None]:
    """The ladder's (due date, call) as they stood at ``moment`` (see the module docstring):
    the row's own once its call was made by then; else the earlier call in force then."""
    if called_at is not None and called_at <= moment:
        return due_on, called_at
    for call in sorted(earlier, key=lambda c: c.called_at, reverse=True):
        if call.called_at <= moment < call.voided_at:
            if call.due_on is not None:
                return call.due_on, call.called_at
            if call.stepped_at is not None:
                # A reminder or the alert goes only after the due date has passed.
                return local_date(call.stepped_at, zone) - timedelta(days=1), call.called_at
            return local_date(moment, zone), call.called_at
    return due_on, called_at


__all__ = ["EarlierCall", "earlier_calls", "ladder_then", "stated_due"]
