"""The service clock: one pass (``tick``), passes over a simulated calendar (``simulate``, the
demonstration), and what ``clauses serve`` builds its passes from.

A pass is everything due at one instant (``services.ticks``): arm new parties, open and climb
the ladders, the digest and the monthly summaries, then send the outbox; each step in short
transactions of its own, keyed by the scheduled period, so a pass run again does nothing twice.

For the long-running service (``entrypoints.scheduler``): ``pass_moment`` reads the clock once,
``run_pass_async`` does the pass at that instant and turns a fault of the database into
``PassFault``, which says whether the connection was cut mid-transaction (the pass may be run
again at once) and the French words for the log; ``single_instance`` keeps a second service off an
SQLite file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from workflow.adapters.db import database_fault, sqlite_path
from workflow.adapters.orm import (
    ClauseHistory,
    Declaration,
    OutboxMessage,
    PeriodicRun,
    RecordHistory,
)
from workflow.adapters.templates import french_date, french_time
from workflow.app.admin import database_shown
from workflow.app.faults import translated_faults
from workflow.app.mail import Sending, sending
from workflow.bootstrap import App
from workflow.domain.monthly_summary import MonthlySummary
from workflow.domain.stages import history_label
from workflow.domain.summary import summary_due_at
from workflow.errors import InputRefused, SchedulerAlreadyRunning
from workflow.services import demo, ticks
from workflow.services.dispatch import dispatch_due_async, real_now
from workflow.services.summaries import compile_for, summary_timing
from workflow.settings import Settings, load_settings

__all__ = [
    "AGAIN",
    "DEMO_DATABASE",
    "DEMO_DIR",
    "DEMO_MAIL",
    "Demonstration",
    "Ladders",
    "LastRecord",
    "PassDone",
    "PassFault",
    "Simulated",
    "SimulationTarget",
    "fresh_demonstration_settings",
    "last_recorded",
    "pass_moment",
    "play_demonstration",
    "run_pass_async",
    "run_tick",
    "simulate_days",
    "simulation_passes",
    "simulation_start_refusal",
    "simulation_target",
    "single_instance",
    "site_moment_refusal",
]

#: What follows a failed pass of the service, in its log line.
AGAIN = "le prochain passage refait le travail"


# --- what a pass did ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ladders:
    """What the ladder part of a pass did (``services.reminders.LadderReport``, frozen)."""

    armed: int
    opened: int
    closed_declared: int
    months_skipped_suspended: int
    calls: int
    reminders: int
    escalations: int
    #: Due steps held back to their call time, their pace after a stop, or a suspension.
    steps_deferred: int
    no_recipient: int
    failed: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class PassDone(ticks.PassFigures):
    """One pass at ``now``: emails queued by kind of work, then what the sending did."""

    now: datetime
    ladders: Ladders
    digests: int
    summaries: int
    #: Buyer notices held for want of a contact, sent now that it has one.
    held_notices: int
    #: None when nothing was due to leave (no connection to the mail server was opened).
    dispatch: Sending | None
    #: True when a stop was asked for in the middle: the rest is left for the next pass.
    interrupted: bool
    #: Set when mail could not leave: the server out of reach during this pass, or mail waiting
    #: for it while nothing was sent. One French line (what ``tick`` exits 3 with), else None.
    delivery_trouble: str | None = None


def pass_done(app: App, report: ticks.PassReport) -> PassDone:
    transport = app.transport.describe()
    return PassDone(
        now=report.now,
        ladders=Ladders(**report.ladders.as_dict()),
        digests=report.digests,
        summaries=report.summaries,
        held_notices=report.held_notices,
        dispatch=sending(report.dispatch, transport) if report.dispatch else None,
        interrupted=report.interrupted,
        delivery_trouble=report.delivery_trouble(app.settings.zone),
    )


# --- one pass, now or at a given instant ----------------------------------------------------------


def run_tick(app: App, now: datetime | None = None) -> PassDone:
    """One whole pass at ``now`` (the app's clock when not given), sending included.

    Another instant than the real one is refused over SMTP: calls and summaries of months not
    over would reach real inboxes."""
    smtp = app.settings.mail_transport == "smtp"
    if now is not None and smtp and abs(now - real_now()) > timedelta(minutes=1):
        raise InputRefused(
            "--now : un passage à un autre instant que maintenant enverrait de vrais "
            "courriels par SMTP ; lancez-le avec CLAUSES_MAIL_TRANSPORT=file (fichiers .eml)."
        )
    moment = now or app.clock()
    with translated_faults(app):
        report = ticks.run_pass(app, moment)
    return pass_done(app, report)


# --- simulated calendars --------------------------------------------------------------------------


@dataclass(frozen=True)
class Simulated:
    """Passes replayed from ``start`` to ``end`` (the first and last instants of the days)."""

    start: datetime
    end: datetime
    passes: int
    actions: int
    sent: int
    #: Emails queued during the simulation by kind, in the order of the kinds.
    by_kind: tuple[tuple[str, int], ...]

    @property
    def queued(self) -> int:
        return sum(count for _, count in self.by_kind)


def _simulated(report: ticks.SimulationReport) -> Simulated:
    return Simulated(
        start=report.start,
        end=report.end,
        passes=report.passes,
        actions=report.actions,
        sent=report.sent,
        by_kind=tuple(sorted(report.by_kind.items())),
    )


@dataclass(frozen=True)
class SimulationTarget:
    """Where a simulation writes: the database (without its password) and the mail."""

    database: str
    transport: str


def simulation_target(
    app: App, *, dispatch: bool = True, start: date | None = None
) -> SimulationTarget:
    """Where ``simulate_days`` would write; refused when it would send real mail, or (given its
    first day) when it would replay time the database has already lived."""
    if app.settings.mail_transport == "smtp" and dispatch:
        # Simulated dates, real inboxes: companies would get months of reminders in a minute.
        raise InputRefused(
            "La simulation enverrait de vrais courriels par SMTP : lancez-la avec "
            "CLAUSES_MAIL_TRANSPORT=file (fichiers .eml) ou avec --no-dispatch."
        )
    if start is not None:
        refusal = simulation_start_refusal(app, start)
        if refusal is not None:
            raise InputRefused(refusal)
    return SimulationTarget(database=database_shown(app), transport=app.transport.describe())


@dataclass(frozen=True)
class LastRecord:
    """The latest instant the database already holds something at, and what it is (French,
    « un courriel préparé »)."""

    at: datetime
    what: str


def last_recorded(app: App) -> LastRecord | None:
    """What the service or a person did last, as written in the database: a pass of the service
    (its daily sweep, digest, summaries), an email queued, a stage change, a declaration recorded,
    a correction. None on a database where nothing happened yet.

    A simulation must start after it: its passes read the lots as they are now, so a pass played
    before a resumption recorded later would call a month the lot was still suspended in."""
    # At the same instant, the first named wins: a resumption rather than the notice it queued,
    # a declaration's history row (which says a correction, a month without hours) rather
    # than the declaration.
    sources: list[tuple[Any, str]] = [
        (Declaration.recorded_at, "une déclaration enregistrée"),
        (RecordHistory.at, "une fiche de référence corrigée"),
        (PeriodicRun.done_at, "un passage du service"),
        (OutboxMessage.created_at, "un courriel préparé"),
    ]
    latest: LastRecord | None = None
    with translated_faults(app), app.transaction() as session:
        row = session.execute(
            select(
                ClauseHistory.at,
                ClauseHistory.event,
                ClauseHistory.from_stage,
                ClauseHistory.to_stage,
                ClauseHistory.clause_id,
                ClauseHistory.reason,
            )
            .order_by(ClauseHistory.at.desc(), ClauseHistory.id.desc())
            .limit(1)
        ).first()
        if row is not None:
            latest = LastRecord(at=row.at, what=history_what(*row[1:]))
        for column, what in sources:
            at = session.scalar(select(func.max(column)))
            if at is not None and (latest is None or at > latest.at):
                latest = LastRecord(at=at, what=what)
    return latest


#: What a history row that changes no stage records, with its article, as « la dernière action
#: enregistrée » names it (``domain.stages.HISTORY_LABELS`` gives the bare nouns).
_HISTORY_WHAT: dict[str, str] = {
    "declaration_validated": "une déclaration validée",
    "declaration_cancelled": "une déclaration annulée",
    "final_report": "un bilan enregistré",
    "outcome": "une sortie de participant enregistrée",
    "award_recorded": "une attribution enregistrée",
    "award_corrected": "une attribution corrigée",
    "hours_override": "des heures imposées",
    "parameters": "des paramètres du calcul changés",
    "calendar": "un calendrier des déclarations changé",
    "lot": "une correction du lot",
    "planned_end": "une fin prévue changée",
    "end_date_corrected": "une date de fin corrigée",
    "company_left": "le départ d'une entreprise du chantier",
}
#: ``declarations.record_declaration``'s reason of a month recorded at zero hours (« … : 0 h »,
#: then maybe what it replaced or did to the outcomes).
_ZERO_HOURS = re.compile(r" : 0\sh(?: \(| –|$)")


def history_what(
    event: str, from_stage: str | None, to_stage: str, clause_id: int, reason: str | None
) -> str:
    """What one history row records, in French with its article: a stage change, a declaration
    recorded (« un mois sans heure enregistré »), corrected, validated…, on its clause."""
    text = reason or ""
    if event == "declaration":
        if " (remplace " in text:
            what = "une déclaration corrigée"
        elif _ZERO_HOURS.search(text):
            what = "un mois sans heure enregistré"
        else:
            what = "une déclaration enregistrée"
    elif from_stage != to_stage:
        return "un changement d'étape d'une clause"
    else:
        what = _HISTORY_WHAT.get(event) or f"« {history_label(event)} »"
    return f"{what} sur la clause n° {clause_id}"


def _first_pass(app: App, day: date) -> datetime:
    return ticks.simulation_instants(day, day, app.settings)[0]


def first_allowed_day(app: App, after: datetime) -> date:
    """The first day whose passes all come after ``after``: its own day when its first pass does,
    else the next one. A pass at the very instant of the last one is that pass again."""
    day = after.astimezone(app.settings.zone).date()
    while _first_pass(app, day) <= after:
        day += timedelta(days=1)
    return day


def simulation_start_refusal(app: App, start: date) -> str | None:
    """The French refusal of a simulation starting on ``start`` when its first pass would come
    before what the database already holds (``last_recorded``); None when it may start."""
    last = last_recorded(app)
    if last is None:
        return None
    if _first_pass(app, start) > last.at:
        return None
    local = last.at.astimezone(app.settings.zone)
    allowed = first_allowed_day(app, last.at)
    return (
        f"--from : le {start:%d/%m/%Y} est antérieur à la dernière action enregistrée dans la "
        f"base ({last.what}, le {french_date(local)} à {french_time(local)}) ; une simulation ne "
        f"rejoue pas le passé : simulez à partir du {allowed:%d/%m/%Y}. Rien n'a été changé."
    )


def site_moment_refusal(app: App, moment: datetime) -> str | None:
    """The French refusal of a site served as at ``moment`` (``clauses web --now``) when the
    database already holds something recorded after it; None when it may be served.

    Such a site would mix two moments: its pages show what was recorded after ``moment`` (a
    declaration of 22 March on a site of 19 March), and a change made on it is dated after the
    latest history row (its rows must stay in order), so its emails would say « enregistré le 22
    mars » on a site that says 19 March (user trial)."""
    last = last_recorded(app)
    if last is None or moment >= last.at:
        return None
    zone = app.settings.zone
    asked, local = moment.astimezone(zone), last.at.astimezone(zone)
    return (
        f"--now : le {french_date(asked)} à {french_time(asked)} est antérieur à la dernière "
        f"action enregistrée dans la base ({last.what}, le {french_date(local)} à "
        f"{french_time(local)}) ; le site mêlerait deux moments (ses pages montreraient ce qui a "
        "été enregistré après, et une modification y serait datée après cette action) : "
        f"servez-le à partir du {local:%d/%m/%Y} à {local:%H:%M}, ou sans --now. Le site n'a "
        "pas été lancé."
    )


def simulation_passes(app: App, start: date, end: date) -> int:
    """How many passes a simulation from ``start`` to ``end`` (local days, included) makes."""
    return len(ticks.simulation_instants(start, end, app.settings))


def _each_pass(
    app: App, on_pass: Callable[[PassDone], None] | None
) -> Callable[[ticks.PassReport], None] | None:
    if on_pass is None:
        return None
    return lambda report: on_pass(pass_done(app, report))


def simulate_days(
    app: App,
    start: date,
    end: date,
    *,
    dispatch: bool = True,
    on_pass: Callable[[PassDone], None] | None = None,
) -> Simulated:
    """The real passes from ``start`` to ``end`` (local days, included) on a simulated clock,
    written to the app's database; ``on_pass`` hears of each pass as it ends.

    Refused (nothing written) when ``start`` comes before what the database already holds."""
    simulation_target(app, dispatch=dispatch, start=start)
    with translated_faults(app):
        report = ticks.simulate(
            app, start, end, dispatch=dispatch, on_pass=_each_pass(app, on_pass)
        )
    return _simulated(report)


@dataclass(frozen=True)
class Demonstration:
    """The sample territory lived for 14 months, and its last monthly summary as received."""

    simulation: Simulated
    last_summary_month: date
    summary_sent_at: datetime
    summary: MonthlySummary


#: The demonstration's calendar and what it plays (for the screen before it starts).
DEMO_FIRST_DAY = demo.FIRST_DAY
DEMO_LAST_DAY = demo.LAST_DAY
DEMO_CAST = demo.CAST


#: The demonstration's own place: its database and its mail, and nothing else of the real
#: folders.
DEMO_DIR = Path("var/demo")
DEMO_DATABASE = DEMO_DIR / "clauses.db"
DEMO_MAIL = DEMO_DIR / "mail"


def fresh_demonstration_settings() -> Settings:
    """``var/demo/clauses.db`` and ``var/demo/mail/``, both emptied first.

    Only the demonstration's own folder is cleared: the real defaults (``var/clauses.db``,
    ``var/mail/``) may hold a facilitator's data and mail, and the demonstration never reads,
    writes nor empties them.
    """
    for suffix in ("", "-wal", "-shm", "-journal"):
        DEMO_DATABASE.with_name(DEMO_DATABASE.name + suffix).unlink(missing_ok=True)
    shutil.rmtree(DEMO_MAIL, ignore_errors=True)
    DEMO_DIR.mkdir(parents=True, exist_ok=True)
    return load_settings(
        database_url=f"sqlite:///{DEMO_DATABASE}", mail_transport="file", mail_dir=DEMO_MAIL
    )


def play_demonstration(
    app: App, *, on_pass: Callable[[PassDone], None] | None = None
) -> Demonstration:
    """Create the schema of the app's (fresh) database, load the sample territory into it and
    live 14 months of it through the real passes."""
    with translated_faults(app):
        app.init_database()
        report = demo.run_demo(app, on_pass=_each_pass(app, on_pass))
        # The figures the recipients read: the summary as compiled when its email left.
        month = report.last_summary_month
        sent_at = summary_due_at(month, summary_timing(app.settings))
        summary = compile_for(app, month, now=sent_at)
    return Demonstration(
        simulation=_simulated(report.simulation),
        last_summary_month=month,
        summary_sent_at=sent_at,
        summary=summary,
    )


# --- the long-running service ---------------------------------------------------------------------


class PassFault(Exception):
    """The database could not do a pass; the transaction under way left nothing.

    ``connection_cut``: the connection was cut mid-transaction (server restarted, backend
    terminated); the pool reconnects, and the pass run again redoes only what is left.
    ``words``: what the service's log says, in French; ``detail``: the driver's first line."""

    def __init__(self, words: str, *, connection_cut: bool, detail: str) -> None:
        super().__init__(words)
        self.words = words
        self.connection_cut = connection_cut
        self.detail = detail


@contextlib.contextmanager
def _pass_faults(app: App) -> Iterator[None]:
    try:
        yield
    except DBAPIError as exc:
        url = app.settings.database_url
        words = database_fault(exc, url, again=AGAIN) or (
            f"passage échoué, la base a refusé l'opération : {exc.orig} ; {AGAIN}"
        )
        detail = str(exc.orig).splitlines()[0] if exc.orig else ""
        raise PassFault(words, connection_cut=exc.connection_invalidated, detail=detail) from exc


def pass_moment(app: App) -> datetime:
    """The instant of the pass about to run: the clock is read once, here, for all of it."""
    return app.clock()


async def run_pass_async(app: App, now: datetime, should_stop: Callable[[], bool]) -> PassDone:
    """One pass at ``now`` for the service: the queueing in worker threads, then (unless a stop
    was asked for) the sending; logged as ``pass.done``. A fault of the database raises
    ``PassFault``."""
    with _pass_faults(app):
        report = await asyncio.to_thread(ticks.queue_work, app, now, should_stop)
        due = await asyncio.to_thread(ticks.outbox_has_due, app, now)
        if due and not should_stop():
            report.dispatch = await dispatch_due_async(app, now, should_stop=should_stop)
    ticks.log_pass(report)
    return pass_done(app, report)


@contextlib.contextmanager
def single_instance(database_url: str) -> Iterator[Path | None]:
    """Hold ``<db>.lock`` while the service runs on an SQLite file; nothing on PostgreSQL.

    The lock is the kernel's (``flock``): it goes away with the process, even after a crash, so a
    stale file never blocks a restart.
    """
    database = sqlite_path(database_url)
    if database is None:
        yield None
        return
    import fcntl

    lock = database.with_name(database.name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    handle = lock.open("a+")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        handle.close()
        raise SchedulerAlreadyRunning(
            f"Un service « clauses serve » tourne déjà sur la base SQLite {database} "
            f"(processus {holder}, verrou {lock}). Arrêtez-le avant d'en lancer un autre : "
            "sur SQLite, un seul service à la fois. Pour plusieurs instances, utilisez PostgreSQL."
        ) from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield lock
    finally:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        handle.close()
