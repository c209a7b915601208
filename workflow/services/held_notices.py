"""Releasing the buyer notices held for want of a contact, once the buyer has one.

``services.notices`` holds a notice (``HeldNotice``) its buyer wants but cannot receive: no
contact with an e-mail address. A step of every pass (``release_held_notices``) looks for lots
whose held notices now have somewhere to go, whichever way the contact came (the command, the
web, a lots import, an address corrected, two buyers merged): the clock, not each of those paths.

Per lot, only the latest held notice leaves, written from the lot as it stands now and saying
the day it could not leave; the older ones are marked superseded. A buyer who missed several
milestones needs to know where its lot stands, not to read in one morning four messages about
stages long past, each with today's figures (the lot's state at the time is not kept): the
latest one is the one that is still true. For the same reason a held notice is superseded too
when a later notice of the lot was queued since (the buyer already reads where it stands), and
dropped when the buyer no longer wants milestone notices (its final report always leaves).

A lot closed or abandoned since is released like any other: its latest held notice is then the
one that says so (the abandon, the final report, the end of execution and its figures), and it
is the one message a buyer that heard nothing must not miss. An abandon undone while its notice
is held is settled as superseded by the reopening (``notices.withdraw_abandon_notice``), and the
reopening is not held: the buyer, that never heard of the abandon, hears of neither.

A resumption released names the service's next sendings (call, reminder, alert) as the ladders
have them when it leaves, not as they were at the resumption, and keeps that promise
(``stale_promises``): written again should it wait in the outbox past the first of them.

A corrected award released alone is written as the award notice: a buyer that never read the
award has nothing to compare the corrections with, and the award as it stands tells it all.
A corrected end released is written as such, with the figures of the moment it leaves; to a
buyer that was never told the end (its notice held too, and superseded by this one), it says
the end only, not which date it replaces (``notices.end_told``).

The release of a lot is claimed like the outbox's rows: locked and skipped by another instance
on PostgreSQL, each row settled only while still waiting (compare-and-set), and queued under
the key the notice would have had (``INSERT … ON CONFLICT DO NOTHING``): run twice, or by two
instances at once, one message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from jinja2 import TemplateError
from sqlalchemy import CursorResult, distinct, func, select, text, update
from sqlalchemy.orm import Session

from workflow.adapters.dialects import skipping_locked
from workflow.adapters.orm import (
    WAITING_NOTICES,
    Buyer,
    BuyerContact,
    Clause,
    ClauseHistory,
    HeldNotice,
    Market,
    Operation,
    OutboxMessage,
)
from workflow.domain.events import require_aware
from workflow.emails.notices import ALWAYS_SENT_KINDS, HISTORY_KINDS, KINDS
from workflow.services.notices import (
    HELD_SUPERSEDED,
    RESUMED_NOTICE,
    buyer_recipients,
    history_reason,
    local_day,
    milestone_context,
    resumed_notice_until,
    wants_each_milestone,
)
from workflow.services.outbox import Promise, queue_email

if TYPE_CHECKING:
    from workflow.runtime import App

log = logging.getLogger(__name__)

RELEASED = "released"
SUPERSEDED = HELD_SUPERSEDED
DROPPED = "dropped"

StopCheck = Callable[[], bool]


def _never() -> bool:
    return False


class _Moved(Exception):
    """Another transaction settled one of the lot's held notices first: leave it to it."""


def _waiting() -> Any:
    # The partial index's own predicate, word for word (SQLite uses it only then).
    return text(WAITING_NOTICES)


def _reachable() -> Any:
    """The held notice's lot has, now, a buyer with a contact with an address."""
    return (
        select(BuyerContact.id)
        .join(Operation, Operation.buyer_id == BuyerContact.buyer_id)
        .join(Market, Market.operation_id == Operation.id)
        .join(Clause, Clause.market_id == Market.id)
        .where(Clause.id == HeldNotice.clause_id, func.trim(BuyerContact.email) != "")
        .exists()
    )


def releasable_clauses(session: Session) -> list[int]:
    """The lots with a held notice that now has somewhere to go (read on the partial index)."""
    return list(
        session.scalars(
            select(HeldNotice.clause_id)
            .where(_waiting(), _reachable())
            .distinct()
            .order_by(HeldNotice.clause_id)
        )
    )


def release_held_notices(app: App, now: datetime, stop: StopCheck = _never) -> int:
    """Queue, per lot whose buyer now has a contact, its latest held notice; the number queued.

    One short transaction per lot: a lot whose notice cannot be written (a template error) is
    logged and left held, the others leave."""
    require_aware(now)
    with app.transaction() as session:
        clause_ids = releasable_clauses(session)
    released = 0
    for clause_id in clause_ids:
        if stop():
            break
        try:
            with app.transaction() as session:
                released += release_clause(app, session, clause_id, now)
        except _Moved:
            log.info(
                "held notices settled meanwhile",
                extra={"action": "held_notice.moved", "clause_id": clause_id},
            )
        except (TemplateError, ValueError) as exc:
            log.error(
                "held notice release failed",
                extra={"action": "held_notice.failed", "clause_id": clause_id, "error": str(exc)},
            )
    if released:
        log.info(
            "held notices released", extra={"action": "held_notice.released", "count": released}
        )
    return released


def release_clause(app: App, session: Session, clause_id: int, now: datetime) -> int:
    """Settle the lot's held notices and queue the latest if it still has to leave: 1 when a
    message was queued, else 0."""
    held = session.scalars(
        skipping_locked(
            select(HeldNotice)
            .where(HeldNotice.clause_id == clause_id, _waiting())
            .order_by(HeldNotice.held_at, HeldNotice.id),
            session,
        )
    ).all()
    if not held:
        return 0  # another instance holds them, or settled them
    clause = session.get_one(Clause, clause_id)
    buyer = clause.market.operation.buyer
    recipients = buyer_recipients(buyer)
    if not recipients:
        return 0  # the contact went away since the lots were read: wait for another
    latest = held[-1]
    outcome = latest_outcome(session, buyer, latest)
    if outcome == DROPPED:
        # The buyer reads its milestones in the monthly summary now, but what always leaves
        # (the final report) still does: the latest such held notice goes in its place.
        always = [h for h in held[:-1] if h.kind in ALWAYS_SENT_KINDS]
        if always and latest_outcome(session, buyer, always[-1]) == RELEASED:
            _settle(session, [latest], DROPPED, now)
            held, latest, outcome = held[:-1], always[-1], RELEASED
    _settle(session, [h for h in held if h is not latest], SUPERSEDED, now)
    _settle(session, [latest], outcome, now)
    if outcome != RELEASED:
        return 0
    kind, context = released_message(app, session, clause, latest, now)
    promise = None
    if kind == RESUMED_NOTICE:
        # It names the service's next sendings as they stand now: written again should it wait
        # past the first of them (``stale_promises``).
        until = resumed_notice_until(context["resumption"], now, app.settings.zone)
        if until is not None:
            facts = {
                "clause_id": clause_id,
                "at": latest.held_at.isoformat(),
                "reason": context.get("reason"),
                # Written again, it still says the day it could not leave.
                "held_since": local_day(latest.held_at, app.settings.zone).isoformat(),
            }
            promise = Promise(until, facts)
    queued = queue_email(
        session,
        app.renderer,
        key=latest.key,
        kind=kind,
        recipients=recipients,
        context=context,
        now=now,
        clause_id=clause_id,
        promise=promise,
    )
    return int(queued)


def latest_outcome(session: Session, buyer: Buyer, latest: HeldNotice) -> str:
    if _told_since(session, latest.clause_id, latest.held_at):
        return SUPERSEDED
    if not (wants_each_milestone(buyer) or latest.kind in ALWAYS_SENT_KINDS):
        return DROPPED
    return RELEASED


def _told_since(session: Session, clause_id: int, since: datetime) -> bool:
    """A buyer notice of the lot was queued since (the contact came before a later milestone)."""
    found = session.scalar(
        select(OutboxMessage.id)
        .where(
            OutboxMessage.clause_id == clause_id,
            OutboxMessage.kind.in_(KINDS),
            OutboxMessage.created_at >= since,
        )
        .limit(1)
    )
    return found is not None


def _settle(session: Session, held: Sequence[HeldNotice], outcome: str, now: datetime) -> None:
    """Compare-and-set: only rows still waiting; any other means another run got there first."""
    if not held:
        return
    result = session.execute(
        update(HeldNotice)
        .where(HeldNotice.id.in_([notice.id for notice in held]), _waiting())
        .values(settled_at=now, outcome=outcome)
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], result).rowcount != len(held):
        raise _Moved


def released_message(
    app: App, session: Session, clause: Clause, held: HeldNotice, now: datetime
) -> tuple[str, dict[str, Any]]:
    """The kind and context of a held notice as it leaves: from the lot as it stands now, on the
    day of its milestone, saying the day it could not leave (a resumption's, the service's next
    sendings as the ladders have them ``now``)."""
    zone = app.settings.zone
    kind, at = held.kind, held.held_at
    if kind == "notice_award_corrected":
        kind = "notice_awarded"
        at = clause.awarded_at or at
    # An end corrected reads its dates in its row, never its reason (``milestone_context``).
    reason = _reason(session, clause.id, held) if kind in HISTORY_KINDS else None
    context = milestone_context(
        app,
        session,
        clause,
        kind,
        at=at,
        reason=reason,
        held_since=local_day(held.held_at, zone),
        written_at=now,
    )
    return kind, context


def _reason(session: Session, clause_id: int, held: HeldNotice) -> str | None:
    """The history row the key names (``h<id>``), else the one of the event at its time."""
    if held.cause.startswith("h") and held.cause[1:].isdigit():
        row = session.get(ClauseHistory, int(held.cause[1:]))
        if row is not None:
            return row.reason
    return history_reason(session, clause_id, held.history_event, held.held_at)


def waiting_by_buyer(session: Session) -> dict[int, tuple[int, int]]:
    """For the digest's « Donneurs d'ordre sans contact »: per buyer (the lot's buyer now), the
    held notices still waiting and the lots they belong to (one message per lot will leave)."""
    rows = session.execute(
        select(
            Operation.buyer_id,
            func.count(HeldNotice.id),
            func.count(distinct(HeldNotice.clause_id)),
        )
        .select_from(HeldNotice)
        .join(Clause, Clause.id == HeldNotice.clause_id)
        .join(Market, Market.id == Clause.market_id)
        .join(Operation, Operation.id == Market.operation_id)
        .where(_waiting())
        .group_by(Operation.buyer_id)
    )
    return {buyer_id: (int(notices), int(lots)) for buyer_id, notices, lots in rows}
