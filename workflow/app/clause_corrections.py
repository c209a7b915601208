"""Corrections of a clause's records, each leaving its history row (who, when, what, why).

- ``cancel_declaration``: a monthly declaration withdrawn, its lines with it; the month is expected
  again and its reminders resume where they stood (not a month after the last one of a company
  that left the site: it stays asked no more);
- ``reopen_clause``: an abandon undone, back to the stage the clause was abandoned from;
- ``correct_end_date``: the day a finished lot's work ended, recorded wrong (« achever »):
  the months between the two dates released, or owed again and asked for again.

Re-recording an award with the same data, or with other data, is ``clauses.award_clause`` itself
(``services.clauses.apply_award`` tells which it was).

A clause is designated by its N° or « RÉFÉRENCE/LOT » (``2026-014/01``), a company by its N°,
SIRET or name (``lookup``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from workflow.adapters.templates import french_month, french_time
from workflow.app.lookup import find_clause, find_company
from workflow.app.unit import unit_of_work
from workflow.domain.calendar import local_date
from workflow.domain.stages import Stage
from workflow.emails.ladder import step_label
from workflow.emails.phrases import french_day
from workflow.runtime import App
from workflow.services import (
    cancellation_notices,
    declaration_cancellations,
    end_date_corrections,
    notices,
)
from workflow.services import clauses as clause_service
from workflow.services.lot_ends import OwedAgain, ReleasedMonths
from workflow.services.outcomes import UncountedOutcome, uncounted_sentence
from workflow.services.reminder_emails import LadderRewrite

__all__ = [
    "CancelledDeclaration",
    "ClauseReopened",
    "EndDateCorrection",
    "LadderStanding",
    "cancel_declaration",
    "correct_end_date",
    "informed_sentence",
    "ladder_sentence",
    "reopen_clause",
    "uncounted_sentence",
]

Designation = str | int


@dataclass(frozen=True)
class LadderStanding:
    """Where the month's reminders stand again: the step they wait on and when it leaves."""

    sent: tuple[str, ...]  # the steps already sent (``call``, ``reminder_1`` …)
    step: str | None  # None: every step was already sent, none is left
    step_label: str | None  # « rappel n° 1 », « alerte au donneur d'ordre » …
    at: datetime | None
    #: None: no date was given, none is known yet (``at_resumption``).
    due_on: date | None
    #: The company's last month, when it left the site before this month: the month is asked
    #: of it no more, cancelled or not (its ladder stays stopped).
    left_after: date | None = None
    #: The lot is suspended: nothing leaves for the month before it resumes.
    suspended: bool = False
    #: The lot is suspended and the month was never called: it is asked at the resumption,
    #: with the date its call gives then (``notices.owed_due_dates``); no step nor date now.
    at_resumption: bool = False


def ladder_sentence(ladder: LadderStanding | None, zone: ZoneInfo) -> str:
    """What happens next for a month whose declaration was cancelled, in one sentence (the
    command's output and the dashboard's confirmation)."""
    if ladder is not None and ladder.left_after is not None:
        return (
            "Le mois n'est pas de nouveau attendu : l'entreprise a quitté le chantier, son "
            f"dernier mois à déclarer est {french_month(ladder.left_after)} ; aucune relance "
            "ne part pour lui."
        )
    if ladder is not None and ladder.at_resumption:
        # Never the time its call was planned for: nothing leaves while the lot is suspended.
        return (
            "Le mois est de nouveau attendu ; le chantier étant suspendu, aucun appel à "
            "déclarer n'était parti pour lui : il sera demandé à l'entreprise à la reprise du "
            "chantier, avec sa date limite, et ses relances suivront."
        )
    if ladder is None:
        return "Le mois est de nouveau attendu ; ses relances n'avaient pas commencé."
    if ladder.suspended and ladder.step is not None:
        return (
            "Le mois est de nouveau attendu ; le chantier étant suspendu, aucune relance ne "
            "part pendant la suspension ; à la reprise du chantier, ses relances reprendront "
            f"où elles en étaient : {ladder.step_label}."
        )
    if ladder.step is None or ladder.at is None:
        return (
            "Le mois est de nouveau attendu ; toutes ses relances étaient déjà parties, alerte "
            "au donneur d'ordre comprise : il figure parmi les déclarations manquantes."
        )
    local = ladder.at.astimezone(zone)
    when = f"le {french_day(local.date())} à {french_time(local)}"
    if not ladder.sent:
        # Declared before its call: it is asked for first, reminders (and the buyer's alert)
        # only after, counted from the date the call gives.
        return (
            "Le mois est de nouveau attendu ; aucun appel à déclarer n'était parti pour lui : "
            f"l'appel part {when}, avec sa date limite, et ses relances suivront."
        )
    return (
        "Le mois est de nouveau attendu ; ses relances reprennent où elles en étaient : "
        f"{ladder.step_label}, {when}."
    )


def informed_sentence(cancelled: CancelledDeclaration) -> str:
    """Whether the company hears of the cancellation (the command's output and the dashboard's
    confirmation): the email is queued in the same transaction, or nobody has an address."""
    if not cancelled.informed:
        return (
            f"{cancelled.company} n'a pas de correspondant avec une adresse e-mail : elle "
            "n'est pas informée de l'annulation par courriel, prévenez-la vous-même."
        )
    if cancelled.ladder is not None and cancelled.ladder.left_after is not None:
        return (
            f"L'entreprise en est informée par courriel ({', '.join(cancelled.informed)}) : "
            "le motif, et que ce mois ne lui est plus demandé."
        )
    if cancelled.ladder is not None and cancelled.ladder.at_resumption:
        return (
            f"L'entreprise en est informée par courriel ({', '.join(cancelled.informed)}) : "
            "le motif, et que ce mois lui sera demandé à la reprise du chantier."
        )
    return (
        f"L'entreprise en est informée par courriel ({', '.join(cancelled.informed)}) : "
        "le motif, et la date à laquelle déclarer de nouveau ce mois."
    )


@dataclass(frozen=True)
class CancelledDeclaration:
    declaration_id: int
    clause_id: int
    clause_label: str
    company_id: int
    company: str
    month: date
    total_hours: Decimal
    lines: int
    recorded_at: datetime
    reason: str
    at: datetime
    #: None when the month's reminders had not started: its call comes at its time.
    ladder: LadderStanding | None
    #: The addresses the company is told at (reason, new due date); empty: nobody there has one.
    informed: tuple[str, ...] = ()
    #: Outcomes that no longer count: their participant has no other hours on the lot
    #: (``uncounted_sentence`` says it).
    uncounted: tuple[UncountedOutcome, ...] = ()


def cancel_declaration(
    app: App,
    *,
    clause: Designation,
    company: Designation,
    month: date,
    reason: str,
    actor: str | None = None,
) -> CancelledDeclaration:
    """Withdraw the declaration of ``month`` (its first day) of ``company`` on ``clause``, with
    the reason why: its hours leave the figures, the month is expected again and its reminders
    resume where they stood (never a fresh call after its due date); the company is told by
    email, with the reason (``informed`` says at which address)."""
    with unit_of_work(app, actor) as unit:
        found_clause = find_clause(unit.session, clause)
        found_company = find_company(unit.session, company)
        cancelled = declaration_cancellations.cancel_declaration(
            unit.session,
            clause_id=found_clause.id,
            company_id=found_company.id,
            month=month,
            reason=reason,
            actor=unit.actor,
            now=unit.now,
            settings=app.settings,
            publish=unit.app.publish,
        )
        ladder = cancelled.ladder
        left_after = cancellation_notices.released_after(
            unit.session, cancelled.clause_id, cancelled.company_id, cancelled.month
        )
        standing = (
            None
            if ladder is None
            else LadderStanding(
                sent=ladder.sent,
                step=ladder.step,
                step_label=None if ladder.step is None else step_label(ladder.step),
                at=ladder.at,
                due_on=ladder.due_on,
                left_after=left_after,
                suspended=cancelled.suspended,
            )
        )
        if cancelled.at_resumption:
            # No call leaves before the resumption: neither the time it was planned for nor
            # the date it would have given (``notices.owed_due_dates``: « à la reprise »).
            sent = () if ladder is None else ladder.sent
            standing = LadderStanding(
                sent, None, None, None, None, suspended=True, at_resumption=True
            )
        if standing is None and left_after is not None:
            # Never opened (its call was not due when the company left): nothing will open it.
            due_on = cancellation_notices.released_due_on(
                unit.session, found_clause, found_company.id, cancelled.month, app.settings
            )
            standing = LadderStanding((), None, None, None, due_on, left_after)
        return CancelledDeclaration(
            declaration_id=cancelled.declaration_id,
            clause_id=cancelled.clause_id,
            clause_label=cancelled.clause_label,
            company_id=cancelled.company_id,
            company=cancelled.company,
            month=cancelled.month,
            total_hours=cancelled.total_hours,
            lines=cancelled.lines,
            recorded_at=cancelled.recorded_at,
            reason=cancelled.reason,
            at=unit.now,
            informed=cancelled.informed,
            uncounted=cancelled.uncounted,
            ladder=standing,
        )


@dataclass(frozen=True)
class ClauseReopened:
    """An abandon undone: the clause back from « abandonnée » to ``to_stage``, at ``at``."""

    clause_id: int
    from_stage: Stage
    to_stage: Stage
    reason: str
    at: datetime
    #: The abandon notice had not left: it was withdrawn, and the buyer hears nothing of the
    #: reopening either (``notices.notify_reopened``).
    abandon_withdrawn: bool = False


def reopen_clause(
    app: App, clause: Designation, *, reason: str, actor: str | None = None
) -> ClauseReopened:
    """Undo the abandon of ``clause``: back to the stage it was abandoned from, the reason kept
    in its history; its buyer, told of the abandon, is told it is back. Refused, with why, when
    the clause is not abandoned or no reason is given."""
    with unit_of_work(app, actor) as unit:
        clause_id = find_clause(unit.session, clause).id
        reopened = clause_service.reopen_clause(
            unit.session,
            clause_id,
            reason=reason,
            actor=unit.actor,
            now=unit.now,
            publish=unit.app.publish,
        )
        return ClauseReopened(
            clause_id=clause_id,
            from_stage=reopened.from_stage,
            to_stage=reopened.to_stage,
            reason=reopened.reason,
            at=unit.now,
            abandon_withdrawn=notices.abandon_withdrawn(unit.session, clause_id, unit.now),
        )


@dataclass(frozen=True)
class EndDateCorrection:
    """The day the work of a finished lot ended, ``before`` → ``after`` (equal: nothing
    changed); the months it released (an earlier end) or asks for again (a later one)."""

    clause_id: int
    before: date
    after: date
    at: datetime
    released: tuple[ReleasedMonths, ...] = ()
    owed: tuple[OwedAgain, ...] = ()

    @property
    def changed(self) -> bool:
        return self.before != self.after


def correct_end_date(
    app: App,
    clause: Designation,
    end_date: date,
    *,
    reason: str,
    actor: str | None = None,
    field: str = "Date de fin d'exécution",
    reason_field: str = "Motif",
) -> EndDateCorrection:
    """Correct the day the work of ``clause`` (finished, in follow-up) ended, the reason kept in
    its history: an earlier end releases the months after it as the finish does; a later one
    asks the companies again for the months between the two ends. ``field`` and
    ``reason_field`` name the date and the reason as the interface does."""
    with unit_of_work(app, actor) as unit:
        clause_id = find_clause(unit.session, clause).id
        done = end_date_corrections.correct_end_date(
            unit.session,
            clause_id,
            end_date,
            reason=reason,
            actor=unit.actor,
            now=unit.now,
            today=local_date(unit.now, app.settings.zone),
            settings=app.settings,
            publish=unit.app.publish,
            rewriter=LadderRewrite(unit.app),
            field=field,
            reason_field=reason_field,
        )
        return EndDateCorrection(
            clause_id, done.before, done.after, unit.now, done.released, done.owed
        )
