"""A monthly summary asked for a past moment gives the figures its email gave.

``compile_summary(now=T)`` counts a declaration once its row's ``recorded_at`` is at or before
``T``. A declaration corrected since carries its correction's instant, and a cancelled one is
gone: replayed after a correction, the October summary sent on 23 November read « 0 h », « 0
reçue sur 2 attendues » where the email had said 370,17 h and one received (user trial). The
audit already puts those totals back as they stood (``audit.as_of.at_its_moment``, from what each
declaration's history says it held then); ``clauses summary --now`` uses the very same rule, so
the replay, the email and the audit agree.

What cannot be put back is said, not guessed: the lines a declaration had before a correction
are not kept, so the tables by participant, delivery mode and contract leave it out. Each such
declaration is returned (``ChangedSince``) for the reader to name it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from workflow.domain.monthly_summary import MonthlySummary
from workflow.services.audit.as_of import at_its_moment, corrected_or_cancelled, declaration_key
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


def _changed_at(facts: DeclarationFacts, moment: datetime) -> datetime:
    """When it stopped being what the summary counted: its cancellation, or the first
    recording after the moment (its row's instant when its history says none)."""
    if facts.cancelled_at is not None:
        return facts.cancelled_at
    later = [r.at for r in facts.recordings if r.at > moment]
    return min(later, default=facts.recorded_at)


def as_known_at(session: Session, summary: MonthlySummary, moment: datetime) -> Replay:
    """``summary`` (compiled for ``moment``) with each declaration's total as recorded then.

    Reads only the declarations recorded, corrected or cancelled after ``moment``: none for a
    summary of the present, a handful for the replay of an email."""
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
    return Replay(restored.summary, tuple(changed))
