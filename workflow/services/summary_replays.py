"""A monthly summary asked for a past moment gives the figures its email gave.

``compile_summary(now=T)`` counts a declaration once its row's ``recorded_at`` is at or before
``T``. A declaration corrected since carries its correction's instant, and a cancelled one is
gone: replayed after a correction, the October summary sent on 23 November read « 0 h », « 0
reçue sur 2 attendues » where the email had said 370,17 h and one received (user trial). The
audit already puts those totals back as they stood (``audit.as_of.at_its_moment``, from what each
declaration's history says it held then); ``clauses summary --now`` uses the very same rule, so
the replay, the email and the audit agree.

The same holds for each lot's dates (user trial F7): an end recorded or corrected, a planned end
moved or an award corrected after the email gave, replayed, another « temps écoulé » than the
email. Each lot's start, planned end and end are the ones its history rows say it had at the
moment (``audit.dates_then``, which the audit reads too), and its time elapsed is counted from
them.

What cannot be put back is said, not guessed: the lines a declaration had before a correction
are not kept, so the tables by participant, delivery mode and contract leave it out. Each such
declaration is returned (``ChangedSince``) for the reader to name it. So are the lots whose
dates changed since (``Replay.dates``), and those whose dates of then the history does not give
(``Replay.untold``: a change made without its row), counted with today's dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from workflow.domain.monthly_summary import MonthlySummary
from workflow.services.audit.as_of import at_its_moment, corrected_or_cancelled, declaration_key
from workflow.services.audit.dates_then import DatesThen, load_date_history, with_dates_then
from workflow.services.audit.receipts import DeclarationFacts, load_declarations


@dataclass(frozen=True)
class ChangedSince:
    """A declaration the summary knew at its moment, corrected or cancelled since."""

    company: str
    clause_id: int
    month: date
    hours_then: Decimal
    changed_at: datetime
    cancelled: bool


@dataclass(frozen=True)
class Replay:
    summary: MonthlySummary
    changed: tuple[ChangedSince, ...]
    #: The lots whose dates changed since the moment, counted with their dates of then.
    dates: tuple[DatesThen, ...] = ()
    #: The lots whose dates of then the history does not give, counted with today's.
    untold: tuple[DatesThen, ...] = ()


def _changed_at(facts: DeclarationFacts, moment: datetime) -> datetime:
    """When it stopped being what the summary counted: its cancellation, or the first
    recording after the moment (its row's instant when its history says none)."""
    if facts.cancelled_at is not None:
        return facts.cancelled_at
    later = [r.at for r in facts.recordings if r.at > moment]
    return min(later, default=facts.recorded_at)


def as_known_at(session: Session, summary: MonthlySummary, moment: datetime) -> Replay:
    """``summary`` (compiled for ``moment``) with each declaration's total as recorded then and
    each lot's time elapsed from its dates of then.

    Reads only the declarations recorded, corrected or cancelled after ``moment`` and the lots
    whose dates changed after it: none for a summary of the present, a handful for the replay
    of an email."""
    known = corrected_or_cancelled(load_declarations(session, changed_after=moment).all())
    restored = at_its_moment(summary, known, moment)
    changed = []
    for facts in known:
        if declaration_key(facts) not in restored.restored:
            continue
        hours, _ = facts.hours_then(moment)
        changed.append(
            ChangedSince(
                company=facts.company,
                clause_id=facts.clause_id,
                month=facts.month,
                hours_then=hours if hours is not None else Decimal(0),
                changed_at=_changed_at(facts, moment),
                cancelled=facts.cancelled_at is not None,
            )
        )
    changed.sort(key=lambda c: (c.month, c.company, c.clause_id))
    lots = {line.clause_id for line in summary.clauses}
    history = load_date_history(session, moment, lots)
    dated = with_dates_then(session, restored.summary, history, moment, summary.zone)
    return Replay(dated.summary, tuple(changed), dated.restored, dated.untold)
