"""The facilitator's dashboard: the day's tasks as the digest email lists them, the first few of
each section with each section's count, and what else waits for her (months to validate,
emails in trouble).

A large territory has thousands of tasks: only those shown are written
(``services.digest.compile_tasks``), the same as the digest's first ones of each section.

What the page says was just done (``done``) and what its confirmation page asks (``zero_month``)
are read from the database by ids, never taken from the address: a link cannot make the page say
that something was done when it was not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import func, select

from workflow.adapters.orm import (
    Buyer,
    Clause,
    Company,
    Declaration,
    Market,
    Operation,
    OutboxMessage,
    Participant,
)
from workflow.app.unit import reading
from workflow.bootstrap import App
from workflow.emails.digest import DayTasks, DigestItem, Section, WebAction, WebActionKind
from workflow.services.declaration_views import (
    ToValidate,
    count_to_validate,
    declarations_to_validate,
)
from workflow.services.digest import compile_tasks
from workflow.services.outbox import OutboxState

__all__ = [
    "Dashboard",
    "DayTasks",
    "DigestItem",
    "Done",
    "DoneKind",
    "Section",
    "ToValidate",
    "WebAction",
    "WebActionKind",
    "ZeroMonth",
    "dashboard",
    "day_tasks",
    "done",
    "zero_month",
]


@dataclass(frozen=True)
class Dashboard:
    tasks: DayTasks  # the day's tasks, as the digest email would list them now
    to_validate: tuple[ToValidate, ...]  # the oldest months received and not validated
    waiting_validation: int  # every month received and not validated, those shown included
    #: Emails that need her: refused, given up, or maybe delivered (uncertain).
    mail_to_look_at: int


def day_tasks(app: App, *, per_section: int, now: datetime | None = None) -> DayTasks:
    """The ``per_section`` most urgent tasks of each section of the digest at ``now`` (the app's
    clock when not given), in its order, and how many each section has; nothing is sent."""
    moment = now or app.clock()
    with reading(app) as session:
        return compile_tasks(session, moment, app.settings, per_section)


#: The emails that need her: refused, given up, or maybe delivered (uncertain).
TROUBLED = (OutboxState.FAILED, OutboxState.DEAD, OutboxState.UNCERTAIN)


def dashboard(app: App, *, per_section: int) -> Dashboard:
    """Its first screen: ``per_section`` tasks of each section, as many months to validate."""
    moment = app.clock()
    with reading(app) as session:
        tasks = compile_tasks(session, moment, app.settings, per_section)
        # The oldest, and the count of all (a partial index holds those months alone).
        shown = max(per_section, 1)
        waiting = tuple(declarations_to_validate(session, limit=shown))
        waiting_validation = count_to_validate(session)
        # Three states of the outbox's index, not a count of every message by state.
        troubled = session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.state.in_(TROUBLED))
        )
    return Dashboard(
        tasks=tasks,
        to_validate=waiting,
        waiting_validation=waiting_validation,
        mail_to_look_at=int(troubled or 0),
    )


# --- what was just done, and the month without hours to confirm ----------------------------------


class DoneKind(StrEnum):
    """What the dashboard's address says was just done (``?fait=…``)."""

    VALIDATED = "validee"  # a month's declaration validated
    ZERO = "zero"  # a month recorded without hours
    ELIGIBILITY = "eligibilite"  # a participant's eligibility validated


@dataclass(frozen=True)
class Done:
    """What was just done, as the database tells it now."""

    kind: DoneKind
    clause_id: int | None = None
    company: str = ""
    month: date | None = None
    reference: str = ""  # the participant's pseudonym, for an eligibility


def done(
    app: App,
    kind: str,
    *,
    clause: int | None = None,
    company: int | None = None,
    month: date | None = None,
    reference: str = "",
) -> Done | None:
    """The confirmation of ``kind`` when the database shows it done: the declaration of
    ``company`` on ``clause`` for ``month`` validated, or recorded without hours; the
    participant ``reference``'s eligibility validated. None when it does not (an address
    typed or altered), so that the page says nothing rather than something false."""
    try:
        what = DoneKind(kind)
    except ValueError:
        return None
    with reading(app) as session:
        if what == DoneKind.ELIGIBILITY:
            validated = session.scalar(
                select(Participant.reference).where(
                    Participant.reference == reference, Participant.validated_on.is_not(None)
                )
            )
            return None if validated is None else Done(what, reference=validated)
        if clause is None or company is None or month is None:
            return None
        row = session.execute(
            select(Company.name, Declaration.total_hours, Declaration.validated_at)
            .join(Company, Company.id == Declaration.company_id)
            .where(
                Declaration.clause_id == clause,
                Declaration.company_id == company,
                Declaration.month == month.replace(day=1),
            )
        ).first()
    if row is None:
        return None
    name, total_hours, validated_at = row
    if what == DoneKind.VALIDATED and validated_at is None:
        return None
    if what == DoneKind.ZERO and total_hours != 0:
        return None
    return Done(what, clause_id=clause, company=name, month=month.replace(day=1))


@dataclass(frozen=True)
class ZeroMonth:
    """A month to record without hours, as its confirmation page names it."""

    clause_id: int
    clause_label: str  # « marché 2026-014 lot 3 – Gros œuvre, Département de l'Exemple »
    company_id: int
    company: str
    month: date
    already_declared: bool  # a declaration of that month is recorded: nothing to add


def zero_month(app: App, *, clause: int, company: int, month: date) -> ZeroMonth | None:
    """The lot, the company and the month a month without hours would be recorded for, read
    from the database; None when the lot or the company does not exist."""
    first = month.replace(day=1)
    with reading(app) as session:
        lot = session.execute(
            select(Market.reference, Clause.lot_number, Clause.lot_title, Buyer.name)
            .join(Market, Market.id == Clause.market_id)
            .join(Operation, Operation.id == Market.operation_id)
            .join(Buyer, Buyer.id == Operation.buyer_id)
            .where(Clause.id == clause)
        ).first()
        name = session.scalar(select(Company.name).where(Company.id == company))
        if lot is None or name is None:
            return None
        declared = session.scalar(
            select(Declaration.id).where(
                Declaration.clause_id == clause,
                Declaration.company_id == company,
                Declaration.month == first,
            )
        )
    reference, lot_number, title, buyer = lot
    lot_text = f" lot {lot_number}" if lot_number else ""
    return ZeroMonth(
        clause_id=clause,
        clause_label=f"marché {reference}{lot_text} – {title}, {buyer}",
        company_id=company,
        company=name,
        month=first,
        already_declared=declared is not None,
    )
