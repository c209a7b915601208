"""Whether an outcome (« sortie ») counts, and what a change of a lot's declarations did to that.

An outcome counts in the figures while its participant has hours worked on its clause
(``counted``). Anything that takes declaration lines away (a cancellation, a correction without
the person) can take an outcome out; anything that brings lines back (the month declared again,
a correction with the person) can put one back. Each such change reads ``counted_outcomes``
before it and ``count_change`` after it, in its transaction, and says what moved with the same
sentences (``count_sentences``) in its output and its history row.

A participant may have several outcomes on one clause (a short training in March, then a CDI in
September). Every figure counts each (participant, clause) once in a period, by its latest
outcome dated in that period (``latest_up_to``): the CDI supersedes the training in the year of
both, while an earlier period whose end comes before the CDI still counts the training.

Apart from ``outcomes`` (which re-exports these): ``declarations`` needs them to say what a
correction did, and ``outcomes`` reads ``declarations``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Exists, and_, or_, select, true
from sqlalchemy.orm import Session, aliased

from workflow.adapters.orm import Declaration, DeclarationLine, Outcome, Participant
from workflow.domain.outcomes import OUTCOME_TYPE_LABELS
from workflow.domain.participants import worked
from workflow.domain.vocabulary import label_of

#: What a history reason says of outcomes a change left uncounted (``uncounted_sentence``);
#: the listings read it back to say since when.
NO_LONGER_COUNTED = ("n'est plus comptée", "ne sont plus comptées")
#: What it says of outcomes a change made count again (``recounted_sentence``).
COUNTED_AGAIN = ("est de nouveau comptée", "sont de nouveau comptées")


def worked_on(participant: Any, clause: Any) -> tuple[ColumnElement[bool], ...]:
    """Lines (joined to their declaration) of hours ``worked`` by ``participant`` on ``clause``,
    ids or columns: the one condition behind an outcome, both to record it and to count it."""
    return (
        Declaration.clause_id == clause,
        DeclarationLine.participant_id == participant,
        worked(DeclarationLine.hours),
    )


def counted(known: ColumnElement[bool] | None = None) -> ColumnElement[bool]:
    """Whether an ``Outcome`` row counts in the figures, as a condition on a query of
    ``Outcome``: its participant has hours worked on its clause (``worked_on``), in a
    declaration ``known`` when given (a summary compiled as of an instant). An outcome tied to
    no clause has no lines to check against and counts as before."""
    lines: Exists = (
        select(DeclarationLine.id)
        .join(Declaration, Declaration.id == DeclarationLine.declaration_id)
        .where(*worked_on(Outcome.participant_id, Outcome.clause_id))
        .where(known if known is not None else true())
        .correlate(Outcome)
        .exists()
    )
    return or_(Outcome.clause_id.is_(None), lines)


def latest_up_to(day: date | None = None) -> ColumnElement[bool]:
    """Whether an ``Outcome`` row is the one its (participant, clause) counts by up to ``day``
    (every date when None), as a condition on a query of ``Outcome``: dated up to ``day``, and
    no outcome of the same pair dated after it up to ``day`` (on the same date, none recorded
    after it: the highest id). A period from ``first`` to ``day`` counts the rows also dated
    from ``first``: a pair's latest up to ``day`` is its latest in the period when dated in it,
    and a pair whose latest up to ``day`` is older has no outcome in the period at all.

    So a later outcome supersedes an earlier one in every period holding both (a figure counts
    each pair once: total = sum of the types = sum of the groups, never more than the pairs),
    and never changes a period ended before it. One ``NOT EXISTS`` probing the pair's few rows
    through ``ix_outcomes_participant_id``: no query per row. The outcomes tied to no clause
    (older data) are the participant's own pair."""
    later = aliased(Outcome)
    newer = (
        select(later.id)
        .where(
            later.participant_id == Outcome.participant_id,
            later.clause_id.is_not_distinct_from(Outcome.clause_id),
            or_(later.date > Outcome.date, and_(later.date == Outcome.date, later.id > Outcome.id)),
        )
        .correlate(Outcome)
    )
    if day is None:
        return ~newer.exists()
    return and_(Outcome.date <= day, ~newer.where(later.date <= day).exists())


@dataclass(frozen=True)
class UncountedOutcome:
    """An outcome named in a sentence: its participant's reference and its type's label."""

    reference: str
    type_label: str


#: The same, for an outcome that counts again.
NamedOutcome = UncountedOutcome


@dataclass(frozen=True)
class CountChange:
    """What a change of a lot's declarations did to its outcomes: those that counted before
    and no longer do, those that did not and count again."""

    uncounted: tuple[UncountedOutcome, ...] = ()
    recounted: tuple[UncountedOutcome, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.uncounted or self.recounted)


def counted_outcomes(session: Session, clause_id: int) -> frozenset[int]:
    """The ids of the outcomes on ``clause_id`` that count now (``counted``). Read before and
    after a change of the clause's declarations, in its transaction, for ``count_change``."""
    return frozenset(
        session.scalars(select(Outcome.id).where(Outcome.clause_id == clause_id, counted()))
    )


def _named(session: Session, ids: Collection[int]) -> tuple[UncountedOutcome, ...]:
    if not ids:
        return ()
    return tuple(
        UncountedOutcome(reference, label_of(OUTCOME_TYPE_LABELS, kind))
        for reference, kind in session.execute(
            select(Participant.reference, Outcome.type)
            .join(Participant, Participant.id == Outcome.participant_id)
            .where(Outcome.id.in_(ids))
            .order_by(Participant.reference, Outcome.id)
        )
    )


def count_change(session: Session, clause_id: int, counted_before: Collection[int]) -> CountChange:
    """The outcomes on ``clause_id`` that counted before a change (``counted_before``, from
    ``counted_outcomes`` in the same transaction) and no longer do, and those that did not and
    count now. One whose participant had only 0 h lines left, or whose hours went earlier, had
    stopped counting already: not this change's doing. No outcome is written by a change of
    declarations, so the ids compared are the same rows."""
    before, after = frozenset(counted_before), counted_outcomes(session, clause_id)
    return CountChange(_named(session, before - after), _named(session, after - before))


def uncounted_outcomes(
    session: Session, clause_id: int, counted_before: Collection[int]
) -> tuple[UncountedOutcome, ...]:
    """The outcomes a change took out (``count_change``), for a cancellation, which puts none
    back."""
    return count_change(session, clause_id, counted_before).uncounted


def _listed(outcomes: Collection[UncountedOutcome]) -> str:
    return " ; ".join(f"{o.reference}, {o.type_label}" for o in outcomes)


def uncounted_sentence(outcomes: Collection[UncountedOutcome]) -> str | None:
    """« 1 sortie (P-0001, CDI) n'est plus comptée tant que ses heures ne sont pas déclarées à
    nouveau. »; None when there is none."""
    if not outcomes:
        return None
    named = _listed(outcomes)
    if len(outcomes) == 1:
        return (
            f"1 sortie ({named}) {NO_LONGER_COUNTED[0]} tant que ses heures ne sont pas "
            "déclarées à nouveau."
        )
    return (
        f"{len(outcomes)} sorties ({named}) {NO_LONGER_COUNTED[1]} tant que leurs heures ne "
        "sont pas déclarées à nouveau."
    )


def recounted_sentence(outcomes: Collection[UncountedOutcome]) -> str | None:
    """« 1 sortie (P-0001, CDI) est de nouveau comptée. »; None when there is none."""
    if not outcomes:
        return None
    named = _listed(outcomes)
    if len(outcomes) == 1:
        return f"1 sortie ({named}) {COUNTED_AGAIN[0]}."
    return f"{len(outcomes)} sorties ({named}) {COUNTED_AGAIN[1]}."


def count_sentences(change: CountChange) -> str | None:
    """What a change did to the lot's outcomes, in French (the outcomes taken out first, then
    those counted again); None when it moved none."""
    said = [
        s
        for s in (uncounted_sentence(change.uncounted), recounted_sentence(change.recounted))
        if s is not None
    ]
    return " ".join(said) or None
