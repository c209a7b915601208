"""The incomplete awards of the day's tasks, ranked and counted by the database (issue 12).

An award is incomplete while its lot, at the award stage, has no start date or no holder with
a correspondent's address (``digest._awards``). The full digest reads every lot at the award
stage (7,035 at 10^5 lots) and which of them have a holder ready, and ranks them in Python:
about 30 ms of SQL and as much again to tell each one's days. The day's tasks need only the
first few: as for the final reports, the lots awarded on the day of the ``limit``-th longest
waiting or before are read, found by ``ix_clauses_stage_changed``, and the others counted.

Which lots at the award stage are incomplete is also what the waiting section says of the
award-stage lots it writes (« Compléter l'attribution » or « Organiser la réunion de
démarrage »): ``FirstAwards`` answers for the lots read, and asks the database for any other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from workflow.adapters.orm import AwardParty, Clause, Correspondent
from workflow.adapters.types import raw
from workflow.domain.calendar import at_local, local_date
from workflow.domain.stages import Stage
from workflow.domain.vocabulary import PartyRole
from workflow.settings import Settings


def _holder_ready() -> Any:
    """SQL, for the lot of the outer query: a holder with a correspondent's address."""
    return (
        select(AwardParty.id)
        .join(Correspondent, Correspondent.id == AwardParty.correspondent_id)
        .where(
            AwardParty.clause_id == Clause.id,
            AwardParty.role == PartyRole.HOLDER.value,
            Correspondent.email != "",
        )
    )


def _incomplete() -> ColumnElement[bool]:
    """SQL: the lot is at the award stage and its award incomplete. The holder is looked up
    lot by lot, as a scalar subquery: written as an EXISTS under the OR, PostgreSQL hashes every
    holder and correspondent of the territory (79,000 and 57,000 rows, 60-100 ms) to answer for
    the few dozen lots an ordered read of ``ix_clauses_stage_changed`` visits."""
    ready = _holder_ready().limit(1).scalar_subquery()
    return and_(
        Clause.stage == Stage.AWARD.value,
        or_(Clause.start_date.is_(None), ready.is_(None)),
    )


def _started_with_holder_ready(statement: Any) -> Any:
    """``statement`` over the holders ready (with a correspondent's address) of the lots at the
    award stage with a start date: the complete awards, in one hash join."""
    return (
        statement.join(Correspondent, Correspondent.id == AwardParty.correspondent_id)
        .join(Clause, Clause.id == AwardParty.clause_id)
        .where(
            AwardParty.role == PartyRole.HOLDER.value,
            Correspondent.email != "",
            Clause.stage == Stage.AWARD.value,
            Clause.start_date.is_not(None),
        )
    )


def count_incomplete(session: Session) -> int:
    """How many awards are incomplete: the lots at the award stage but those with a start date
    and a holder ready. Those are found by one join of the holders with their correspondents
    (a hash join, about 20 ms at 10^5 lots): asked lot by lot (an anti-join, 3,235 probes),
    PostgreSQL took 70-85 ms of one core, or 25-30 ms of three in parallel."""
    award = Clause.stage == Stage.AWARD.value
    lots = select(func.count()).select_from(Clause).where(award).scalar_subquery()
    complete = _started_with_holder_ready(
        select(func.count(AwardParty.clause_id.distinct()))
    ).scalar_subquery()
    return int(session.scalar(select(lots - complete)) or 0)


@dataclass
class FirstAwards:
    """The incomplete awards that can be among the first ``limit`` (``rows``: the lot, whether
    it has no start date, the instant it entered the award stage as read), and how many there
    are in all. As a container: whether a lot's award is incomplete, for any lot."""

    session: Session
    rows: list[tuple[int, bool, Any]]
    count: int
    #: Every lot at the award stage told so far: incomplete or not.
    told: dict[int, bool] = field(default_factory=dict)

    def __contains__(self, clause_id: object) -> bool:
        if not isinstance(clause_id, int):
            return False
        told = self.told.get(clause_id)
        if told is None:
            told = self.told[clause_id] = bool(
                self.session.scalar(select(Clause.id).where(Clause.id == clause_id, _incomplete()))
            )
        return told


def every_incomplete_award(session: Session) -> list[tuple[int, bool, Any]]:
    """Every incomplete award (the lot, whether it has no start date, the instant it entered
    the award stage as read), for the full digest. In two reads: the lots at the award stage,
    then which of those with a start date have their holder with an address. Asked as one
    query (an EXISTS per lot), PostgreSQL read every award and correspondent twice and compiled
    the plan (JIT): 120 ms at 10^5 lots."""
    award = Clause.stage == Stage.AWARD.value
    # The start date only said missing or not, the instant read raw (``digest._DaysSince``).
    lots = session.execute(
        select(Clause.id, Clause.start_date.is_(None), raw(Clause.stage_changed_at)).where(award)
    ).all()
    ready = set(session.scalars(_started_with_holder_ready(select(AwardParty.clause_id))))
    return [
        (cid, bool(no_start), since)
        for cid, no_start, since in lots
        if no_start or cid not in ready
    ]


def first_incomplete_awards(session: Session, settings: Settings, limit: int) -> FirstAwards | None:
    """The incomplete awards that can be among the ``limit`` longest waiting, and the count of
    all; None when there are fewer than ``limit`` (they are all read as the full digest reads
    them). The days since a lot was awarded grow as its instant is older and lots awarded the
    same day are equals that the lot orders: the lots awarded on the day of the ``limit``-th
    oldest instant, or before, are every lot the first ones can be."""
    if limit <= 0:
        return None
    edge = session.scalar(
        select(Clause.stage_changed_at)
        .where(_incomplete())
        .order_by(Clause.stage_changed_at)
        .offset(limit - 1)
        .limit(1)
    )
    if edge is None:
        return None
    next_day = local_date(edge, settings.zone) + timedelta(days=1)
    before = Clause.stage_changed_at < at_local(next_day, time(0), settings.zone)
    award = Clause.stage == Stage.AWARD.value
    # Every lot at the award stage up to that day, told incomplete or not: the waiting section
    # writes the longest waiting of them and asks.
    ready = _holder_ready().limit(1).scalar_subquery()
    told: dict[int, bool] = {}
    rows: list[tuple[int, bool, Any]] = []
    for cid, no_start, holder, since in session.execute(
        select(Clause.id, Clause.start_date.is_(None), ready, raw(Clause.stage_changed_at))
        .where(award, before)
        .order_by(Clause.stage_changed_at, Clause.id)
    ):
        incomplete = bool(no_start) or holder is None
        told[cid] = incomplete
        if incomplete:
            rows.append((cid, bool(no_start), since))
    return FirstAwards(session, rows, count_incomplete(session), told)
