"""An email still waiting once the date its text promises has passed, written again as it stands
when it leaves.

A cancellation's email says « le prochain partira le 13 mai 2027 » or « d'ici le 10 mai ». Held
in the outbox while the service is stopped, it would reach the company on 7 June, false when
read: the reminder of 13 May left at the restart, or the ladder moved on. Its row keeps the
instant its text stops being true (``promised_until``, the end of the promised day) and the facts
its builder is run again from (``promise_facts``: what no later moment changes, the cancellation
itself); ``queue_email(promise=…)`` writes them in the row's own INSERT.

Before each delivery (``dispatch.dispatch_due_async``: the pass's, ``clauses mail send``'s,
``serve``'s), ``write_stale_again`` looks for those whose instant has passed (one look through
the partial index ``ix_outbox_promised``; a pass with nothing due never gets there), and writes
each again from the facts of that moment (what its ladder says then: the pass has caught it up
just before) by the builder of its kind (``promise_rewriters``: the cancellation's, the
resumption's to each company, a welcome whose first call held for a start recorded by a day
gone), under a key of its own (``…~2``), to the company's correspondent
of then, waiting as the first one did (its retry slot, an outage); the first one is withdrawn,
« Remplacé : … », its reason kept in the email log, the same way ``ladder_rewrites.write_again``
replaces a ladder email. The claim of the dispatcher takes no row whose promise has passed, so
none leaves with a past date, whatever the order of two instances.

Two instances: each row is taken with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (the other
instance skips it) and withdrawn by a compare-and-set on its state and promise (a row another
instance withdrew or claimed meanwhile is left alone, and no second copy is written); SQLite
has one writer at a time (``BEGIN IMMEDIATE``).

The buyer's resumption notice held for want of a contact keeps its promise too (``held_notices``).

An email that cannot be written again (its builder or template broken since, its lot gone), or
whose announcement no longer holds (``Superseded``: a resumption, the lot suspended again since),
is withdrawn all the same, « Retiré : … », and logged: a false date never leaves. A row the
database refuses to write again is left as it was (a savepoint per row) for the next delivery;
a cut connection fails the pass, which ``serve`` redoes at once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Table, and_, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from workflow.adapters.dialects import skipping_locked
from workflow.adapters.mail.message import AddressRefused, parse_recipients
from workflow.adapters.orm import ClauseHistory, OutboxMessage
from workflow.adapters.templates import french_date
from workflow.domain.calendar import local_date
from workflow.domain.stages import Stage
from workflow.services.mailing import Mailing
from workflow.services.outbox import (
    OUTAGE_ERROR_PREFIX,
    Attachment,
    OutboxState,
    Recipient,
    queue_email,
)

log = logging.getLogger(__name__)

_TABLE = cast(Table, OutboxMessage.__table__)
NBSP = "\u00a0"
#: Marks the key of an email written again: ``<first key>~2``, ``~3``…
AGAIN_MARK = "~"
#: Keys tried for one email at most (each stop past its date writes one more).
MAX_SENDINGS = 100


@dataclass(frozen=True)
class PromiseRewrite:
    """An email written again at the moment it leaves: to whom, what it says, and until when
    that holds (None: it promises no date any more)."""

    recipients: Sequence[Recipient]
    context: Mapping[str, Any]
    promised_until: datetime | None
    #: Its files, written again with it (a welcome's declaration template).
    attachments: Sequence[Attachment] = ()


#: Writes one kind of email again from its facts at ``now``, given whom the first one went to
#: (every recipient, in its order: a buyer's notice goes to all its contacts).
Rewriter = Callable[
    [Mailing, Session, Mapping[str, Any], Sequence[Recipient], datetime], PromiseRewrite
]


#: A company's email, written to one correspondent: its builder takes the one first written to.
CompanyRewriter = Callable[
    [Mailing, Session, Mapping[str, Any], Recipient, datetime], PromiseRewrite
]


def to_first(write: CompanyRewriter) -> Rewriter:
    """A company's builder as a ``Rewriter``: given the one correspondent first written to."""

    def rewrite(
        app: Mailing,
        session: Session,
        facts: Mapping[str, Any],
        first: Sequence[Recipient],
        now: datetime,
    ) -> PromiseRewrite:
        return write(app, session, facts, first[0], now)

    return rewrite


class Superseded(Exception):
    """What an email announced no longer holds at all (a resumption, the lot suspended or ended
    again since): it is withdrawn, never written again. Its message, in French, says why."""


def left_execution_since(session: Session, clause_id: int, at: datetime) -> bool:
    """Whether the lot left execution after ``at`` (suspended, ended, terminated again): a
    resumption announced at ``at`` no longer holds, the emails of that change say what does."""
    found = session.scalar(
        select(ClauseHistory.id)
        .where(
            ClauseHistory.clause_id == clause_id,
            ClauseHistory.at > at,
            ClauseHistory.from_stage == Stage.EXECUTION.value,
            ClauseHistory.to_stage != Stage.EXECUTION.value,
        )
        .limit(1)
    )
    return found is not None


def _stale(due: datetime, wall_now: datetime) -> Any:
    return (
        # The partial index's own term (SQLite uses it only for the identical one).
        OutboxMessage.promised_until.is_not(None),
        OutboxMessage.state.in_((OutboxState.PENDING.value, OutboxState.SENDING.value)),
        OutboxMessage.promised_until <= due,
        # A row another instance is sending (handed to the server, or its lease running) is
        # left to it, and not even locked: its fence and lease refresh must not wait on us.
        or_(
            OutboxMessage.state == OutboxState.PENDING.value,
            and_(
                OutboxMessage.send_started_at.is_(None),
                OutboxMessage.lease_until.is_not(None),
                OutboxMessage.lease_until <= wall_now,
            ),
        ),
    )


def write_stale_again(
    app: Mailing,
    session: Session,
    due: datetime,
    wall_now: datetime,
    rewriters: Mapping[str, Rewriter],
) -> int:
    """Every email still to leave whose promise has passed at ``due`` written again as it
    stands at ``due`` by the builder of its kind (``rewriters``: ``promise_rewriters``, handed
    in, as the builders import this module to keep their promises), the first one withdrawn;
    the number written again. A row being sent by another instance (claimed, its lease
    running, or handed to the server) is left to it."""
    query = select(OutboxMessage).where(*_stale(due, wall_now)).order_by(OutboxMessage.id)
    rows = session.scalars(skipping_locked(query, session)).all()
    written = 0
    for row in rows:
        try:
            # Each row in a savepoint: the database refusing one (a timeout in its builder's
            # reads) leaves it as it was, to be tried at the next delivery, and the others go on.
            with session.begin_nested():
                if _write_again(app, session, row, due, rewriters.get(row.kind)):
                    written += 1
        except DBAPIError:
            log.exception(
                "courriel à écrire à nouveau laissé tel quel : la base a refusé l'opération",
                extra={"action": "mail.stale_promise_failed", "outbox_id": row.id},
            )
    return written


def _write_again(
    app: Mailing, session: Session, row: OutboxMessage, due: datetime, rewriter: Rewriter | None
) -> bool:
    zone = app.settings.zone
    assert row.promised_until is not None
    # The promised day: the one whose end ``promised_until`` is.
    promised = french_date(local_date(row.promised_until - timedelta(microseconds=1), zone))
    # Compare-and-set: only the row as it was read (another instance may have withdrawn it,
    # claimed it or written it again since); on PostgreSQL it is also locked.
    taken = session.execute(
        update(_TABLE)
        .where(
            _TABLE.c.id == row.id,
            _TABLE.c.state == row.state,
            _TABLE.c.promised_until == row.promised_until,
        )
        .values(state=OutboxState.CANCELLED.value, next_attempt_at=None, lease_until=None)
    )
    if not cast(CursorResult[Any], taken).rowcount:
        return False
    why = f"il annonçait le {promised}, date passée avant son départ"
    failure = _queue_again(app, session, row, due, rewriter)
    if failure is not None:
        log.warning(
            "courriel retiré : sa date annoncée est passée et il n'a pu être écrit à nouveau",
            extra={"action": "mail.stale_promise", "outbox_id": row.id, "error": failure},
        )
        reason = f"Retiré{NBSP}: {why}, et il n'a pu être écrit à nouveau ({failure})."
    else:
        reason = (
            f"Remplacé{NBSP}: {why}{NBSP}; le même courriel, écrit à nouveau le "
            f"{french_date(local_date(due, zone))} d'après ce qui est prévu ce jour-là, "
            "part à sa place."
        )
    session.execute(update(_TABLE).where(_TABLE.c.id == row.id).values(last_error=reason))
    log.info(
        "courriel écrit à nouveau : sa date annoncée est passée",
        extra={"action": "mail.stale_promise", "outbox_id": row.id, "replaced": failure is None},
    )
    return failure is None


def write_again_now(
    app: Mailing, session: Session, row: OutboxMessage, at: datetime, rewriter: Rewriter
) -> str | None:
    """``row``, still waiting and locked by the caller, written again at once as it stands at
    ``at`` (a change made its words untrue before it left, in that change's transaction: a
    start recorded under a welcome that asks for it), under its key's next sending, waiting
    as the first one did; None, or why it could not be (nothing written then: the caller
    withdraws the first one only when it was). ``Superseded`` is raised, not returned: what
    it announced no longer holds, and the caller withdraws it as ``write_stale_again`` does."""
    return _queue_again(app, session, row, at, rewriter, superseded_raises=True)


def _queue_again(
    app: Mailing,
    session: Session,
    row: OutboxMessage,
    due: datetime,
    rewriter: Rewriter | None,
    *,
    superseded_raises: bool = False,
) -> str | None:
    """The new email of ``row``, waiting as ``row`` did; None, or why it could not be."""
    if rewriter is None or row.promise_facts is None:
        return f"no builder for {row.kind}"
    try:
        first = [Recipient(m.name, m.address) for m in parse_recipients(row.recipients)]
    except AddressRefused as refused:
        return f"address refused: {refused}"
    if not first:
        return "no recipient"
    try:
        # In a savepoint: a builder that fails leaves nothing half written.
        with session.begin_nested():
            again = rewriter(app, session, json.loads(row.promise_facts), first, due)
            base = row.key.split(AGAIN_MARK)[0]
            for sending in range(2, MAX_SENDINGS + 2):
                key = f"{base}{AGAIN_MARK}{sending}"
                if queue_email(
                    session,
                    app.renderer,
                    key=key,
                    kind=row.kind,
                    recipients=again.recipients,
                    context=again.context,
                    now=due,
                    clause_id=row.clause_id,
                    attachments=again.attachments,
                ):
                    break
            else:
                return f"every key up to {key} taken"
            waiting: dict[str, Any] = {}
            if again.promised_until is not None:
                waiting["promised_until"] = again.promised_until
                waiting["promise_facts"] = row.promise_facts
            if row.next_attempt_at is not None:
                # Its place in the queue (the claim goes by ``next_attempt_at``, then id): it
                # leaves before the emails written during the stop (the reminder the catch-up
                # just queued), as the first one would have; refused for now, when the first
                # one would have been tried.
                waiting["next_attempt_at"] = row.next_attempt_at
            if row.last_error and row.last_error.startswith(OUTAGE_ERROR_PREFIX):
                # Held back by an outage: released with the others when the server answers.
                waiting["last_error"] = row.last_error
            if waiting:
                session.execute(update(_TABLE).where(_TABLE.c.key == key).values(**waiting))
    except DBAPIError:
        raise  # the database itself: the row stays as it was (``write_stale_again``)
    except Superseded as gone:
        if superseded_raises:
            raise
        return str(gone)
    except Exception as error:  # a builder or a template broken since: logged by the caller
        return f"{type(error).__name__}: {error}"
    return None
