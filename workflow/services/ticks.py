"""One whole pass of the service clock, and the same passes run over a simulated calendar.

``run_pass(app, now)`` is everything the service does at ``now``, in short transactions:
(a) arm new parties and open the ladders of the months whose call is due, (b) climb the due ladder
steps, (c) the facilitator's digest and the monthly summaries (each decides whether it is due),
(d) dispatch the outbox. Everything it writes is keyed by the scheduled period, so running it again,
late, or from two instances at once produces nothing new.

``simulate`` runs those same passes at the instants a live service would hit (the configured local
times of every day), with the clock injected: nothing sleeps, and a year takes seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflow.adapters.orm import OutboxMessage
from workflow.domain.calendar import at_local, is_working_day
from workflow.domain.events import require_aware
from workflow.services.outbox import OutageWaiting, outage_waiting
from workflow.services.reminders import (
    LadderReport,
    StopCheck,
    arm_daily,
    climb_due_ladders,
    open_due_ladders,
)

if TYPE_CHECKING:
    from workflow.runtime import App
    from workflow.services.dispatch import DispatchReport
    from workflow.settings import Settings

log = logging.getLogger(__name__)


def _never() -> bool:
    return False


class PassFigures:
    """What a pass report and its frozen view (``app.service.PassDone``) both say, written once:
    the emails queued, those sent, and the figures under the names of the log (``pass.done``)."""

    now: datetime
    ladders: Any  # LadderReport, or its frozen copy
    digests: int
    summaries: int
    #: Buyer notices held for want of a contact, released once it has one (``held_notices``).
    held_notices: int
    dispatch: Any  # DispatchReport, or its view; None when nothing was due to leave
    interrupted: bool

    @property
    def queued(self) -> int:
        ladders = self.ladders
        steps: int = ladders.calls + ladders.reminders + ladders.escalations
        return steps + self.digests + self.summaries + self.held_notices

    @property
    def sent(self) -> int:
        sent: int = self.dispatch.sent if self.dispatch else 0
        return sent

    def as_dict(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            **self.ladders.as_dict(),
            "digests": self.digests,
            "summaries": self.summaries,
            "held_notices": self.held_notices,
            "dispatch": self.dispatch.as_dict() if self.dispatch else None,
            "interrupted": self.interrupted,
        }


@dataclass
class PassReport(PassFigures):
    now: datetime
    ladders: LadderReport = field(default_factory=LadderReport)
    digests: int = 0
    summaries: int = 0
    held_notices: int = 0
    dispatch: DispatchReport | None = None
    #: True when a stop was asked for in the middle: the rest is left for the next pass.
    interrupted: bool = False
    #: Mail waiting for a route that is down, read after a pass that sent nothing (``note_outage``);
    #: None when nothing waits for it. Not in ``as_dict`` (the CLI's keys).
    waiting: OutageWaiting | None = None

    @property
    def delivery_failed(self) -> bool:
        """The route is down and nothing could be sent: what ``tick`` exits 3 for, so that a
        monitor sees an outage even in a pass that tried nothing (every message waiting for its
        retry slot)."""
        if self.dispatch is not None and self.dispatch.outage:
            return True
        return self.waiting is not None and self.sent == 0

    def delivery_trouble(self, zone: Any) -> str | None:
        """The one French line for the error output when ``delivery_failed``; else None."""
        if self.dispatch is not None and self.dispatch.outage:
            return f"Envoi interrompu : {self.dispatch.stopped}"
        if not self.delivery_failed or self.waiting is None:
            return None
        from workflow.services.outage_copies import moment

        waiting = self.waiting
        count = waiting.count
        text = (
            f"Envoi impossible : {count} courriel{'s' if count > 1 else ''} "
            f"{'attendent' if count > 1 else 'attend'} le retour du serveur d'envoi, le plus "
            f"ancien depuis le {moment(waiting.oldest, zone)}"
        )
        if waiting.next_retry is not None and waiting.next_retry > self.now:
            text += f" ; nouvel essai automatique le {moment(waiting.next_retry, zone)}"
        return text + f". Dernière erreur : {waiting.cause}"


def queue_work(app: App, now: datetime, stop: StopCheck = _never) -> PassReport:
    """Steps (a) to (c): everything that writes outbox rows, none of the sending."""
    require_aware(now)
    report = PassReport(now=now)
    report.ladders.armed = arm_daily(app, now, stop)
    open_due_ladders(app, now, report.ladders, stop)
    climb_due_ladders(app, now, report.ladders, stop)
    if stop():
        report.interrupted = True
        return report
    from workflow.services.held_notices import release_held_notices

    # The buyer notices held for want of a contact leave once the buyer has one, before the
    # digest counts what still waits.
    report.held_notices = release_held_notices(app, now, stop)
    from workflow.services.digest import queue_daily_digest
    from workflow.services.summaries import queue_monthly_summaries

    report.digests = queue_daily_digest(app, now)
    report.summaries = queue_monthly_summaries(app, now)
    report.interrupted = stop()
    return report


def log_pass(report: PassReport) -> None:
    # An idle pass (the usual case, once a minute) is only worth a debug line.
    idle = report.queued == 0 and report.dispatch is None and not report.ladders.armed
    log.log(
        logging.DEBUG if idle else logging.INFO,
        "pass done",
        extra={"action": "pass.done", **report.as_dict()},
    )


def outbox_has_due(app: App, now: datetime) -> bool:
    """One indexed lookup, so an idle pass opens no mail connection at all.

    The same rows as the dispatcher's claim: with ``CLAUSES_UNCERTAIN_MAIL=resend`` the uncertain
    ones too (else a queue left with only those would never be sent again), and over a transport
    that reaches inboxes nothing dated after the real clock (else mail queued for the future
    would open a connection, for nothing, at every pass)."""
    with app.transaction() as session:
        return _has_due(app, session, now)


def _has_due(app: App, session: Session, now: datetime) -> bool:
    from workflow.services.dispatch import due_condition, real_now

    wall = real_now()
    condition = due_condition(
        now,
        wall,
        resend_uncertain=app.settings.uncertain_mail == "resend",
        sendable_until=wall if app.transport.reaches_inboxes else None,
    )
    return session.scalar(select(OutboxMessage.id).where(condition).limit(1)) is not None


def note_outage(app: App, report: PassReport) -> None:
    """After a pass that sent nothing, read what waits for a route that is down (one indexed
    look-up): ``report.delivery_failed`` then tells an outage even when no message was due. A
    pass that sent something proved the route works, and sent what waited for it."""
    if report.sent and not (report.dispatch and report.dispatch.outage):
        report.waiting = None
        return
    with app.transaction() as session:
        report.waiting = outage_waiting(session)


def run_pass(
    app: App, now: datetime, *, dispatch: bool = True, stop: StopCheck = _never
) -> PassReport:
    """One pass at ``now``: queue what is due, then (unless told not to) send the outbox and
    note what waits for a route that is down (``PassReport.delivery_failed``).

    Mail waiting for the route is not tried before its retry slot here (the service's passes
    would otherwise knock at a dead server every minute); once one message goes through, the
    dispatcher sends all of them in the same pass."""
    report = queue_work(app, now, stop)
    if dispatch and not stop():
        with app.transaction() as session:
            due = _has_due(app, session, now)
            if not due:
                # Nothing to send: what waits for the route is read in the same transaction.
                report.waiting = outage_waiting(session)
        if due:
            from workflow.services.dispatch import dispatch_due

            report.dispatch = dispatch_due(app, now)
            note_outage(app, report)
    log_pass(report)
    return report


# --- simulation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimedAction:
    """Something a person does at a given moment of a simulation (a declaration, a stage change).

    ``run`` receives the app and ``at``, and opens its own transaction.
    """

    at: datetime
    label: str
    run: Callable[[App, datetime], None]


def pass_times(settings: Settings) -> tuple[time, ...]:
    """The local times at which a day's work falls due: summaries, digest, calls and reminders."""
    return tuple(sorted({settings.summary_time, settings.digest_time, settings.call_time}))


def simulation_instants(start: date, end: date, settings: Settings) -> list[datetime]:
    """Every instant a live service would find work at, from ``start`` to ``end`` included.

    On working days: each configured local time (turned into UTC per day, so a DST change keeps
    09:00 at 09:00). Nothing falls due on weekends and holidays; one pass at the call time still
    runs there, so an outbox retry or a hand-made change is never left waiting until Monday.
    """
    zone = settings.zone
    times = pass_times(settings)
    instants: list[datetime] = []
    day = start
    while day <= end:
        chosen = times if is_working_day(day) else (settings.call_time,)
        instants.extend(at_local(day, moment, zone) for moment in chosen)
        day += timedelta(days=1)
    return instants


class SimulatedClock:
    """What ``app.clock`` returns during a simulation: the instant being played."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class SimulationReport:
    start: datetime
    end: datetime
    passes: int = 0
    actions: int = 0
    sent: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def queued(self) -> int:
        return sum(self.by_kind.values())


def timeline(
    instants: Iterable[datetime], actions: Sequence[TimedAction]
) -> Iterator[tuple[datetime, list[TimedAction]]]:
    """Instants in order, each with the actions that happen at it (actions get a pass too)."""
    by_instant: dict[datetime, list[TimedAction]] = {}
    for instant in instants:
        by_instant.setdefault(instant, [])
    for action in actions:
        require_aware(action.at, "action time")
        by_instant.setdefault(action.at, []).append(action)
    for instant in sorted(by_instant):
        yield instant, by_instant[instant]


def emails_by_kind(app: App, start: datetime, end: datetime) -> dict[str, int]:
    """Outbox rows created in [start, end], counted by kind with one SQL aggregate."""
    with app.transaction() as session:
        rows = session.execute(
            select(OutboxMessage.kind, func.count())
            .where(OutboxMessage.created_at >= start, OutboxMessage.created_at <= end)
            .group_by(OutboxMessage.kind)
            .order_by(OutboxMessage.kind)
        ).all()
    return {kind: int(count) for kind, count in rows}


def simulate(
    app: App,
    start: date,
    end: date,
    *,
    actions: Sequence[TimedAction] = (),
    dispatch: bool = True,
    on_pass: Callable[[PassReport], None] | None = None,
) -> SimulationReport:
    """Run the real passes from ``start`` to ``end`` (local days, included) on an injected clock."""
    zone = app.settings.zone
    first = at_local(start, time(0), zone)
    last = at_local(end + timedelta(days=1), time(0), zone) - timedelta(microseconds=1)
    result = SimulationReport(start=first, end=last)
    instants = simulation_instants(start, end, app.settings)
    outside = [a for a in actions if not first <= a.at <= last]
    if outside:
        raise ValueError(
            f"action {outside[0].label!r} at {outside[0].at} is outside the simulation"
        )
    real_clock = app.clock
    clock = SimulatedClock(first)
    app.clock = clock
    try:
        for instant, happening in timeline(instants, actions):
            clock.now = instant
            for action in happening:
                action.run(app, instant)
                result.actions += 1
                log.info(
                    "simulated action",
                    extra={
                        "action": "simulate.action",
                        "at": instant.isoformat(),
                        "label": action.label,
                    },
                )
            report = run_pass(app, instant, dispatch=dispatch)
            result.passes += 1
            result.sent += report.sent
            if on_pass is not None:
                on_pass(report)
    finally:
        app.clock = real_clock
    result.by_kind = emails_by_kind(app, first, last)
    return result
