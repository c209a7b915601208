"""The companies told when the end of a lot's work changes a month they were asked for.

The finish (« achever », ``clauses.advance_clause``) or an end corrected earlier
(``end_date_corrections``) releases the months after the end (``lot_ends.release_months_after``):
their ladders stop, their waiting reminders are withdrawn. A company that was called for one of
them, and hears nothing more, does not know it has nothing to declare: each company for which at
least one released month had its call leave gets one email (``company_months_released``) naming
those months, saying its planned reminders are cancelled and, when an email asking for one of
them could not be withdrawn (already leaving, or kept), to ignore it. A month never called needs
no word.

An end corrected later makes months released owed again (``lot_ends.owe_again``); a month whose
call had reached the company resumes at a reminder or later, which may leave days later with no
word on why the month is asked again. Each such company gets one email
(``company_months_owed_again``): the end now recorded « et non le … », the months asked again
with the date their call gave and the day the next reminder leaves (``owe_again``'s, as
``lot_ends.owed_sentence`` prints them and the pass sends them). A month the pass cannot take up
again (a step withdrawn at the finish: ``OwedMonth.blocked_by``, the facilitator is told to
remind the company himself) is said asked again with no date: the facilitator will contact the
company. A month resuming at its call gets the call itself, and no word here.

Both are queued in the transaction of the change, keyed as the company notices of a pause
(``notice:<lot>:<kind>:company-<id>@<instant>``, the instant of the change's history row): a
second run writes nothing, and the corrections of a company's recipients (readdress, retry,
merge, delete) read them as they read those.

Imported by ``services.clauses``: nothing here imports what imports it (not ``company_pauses``,
which reads the declarations); the lot and the recipient come from ``email_facts``, as every
company email reads them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.orm import AwardParty, Clause, DeclarationLadder, OutboxMessage
from workflow.domain.calendar import (
    LadderDays,
    LadderStep,
    local_date,
    pushed_due,
    reminder_number,
    suspended_days,
)
from workflow.emails.company_ends import (
    OWED_AGAIN,
    RELEASED,
    AskedAgain,
    owed_again_context,
    released_context,
)
from workflow.services.declaration_links import month_links
from workflow.services.email_facts import lot_of, party_recipient
from workflow.services.ladder_keys import KEY_PREFIX, key_months
from workflow.services.lot_calendars import suspensions
from workflow.services.outbox import OutboxState, Recipient, key_exists, queue_email
from workflow.settings import Settings

if TYPE_CHECKING:
    from workflow.adapters.templates import TemplateRenderer
    from workflow.services.lot_ends import OwedAgain, ReleasedMonths

#: A call in one of these states reached the company, or may have (on the wire, uncertain).
LEFT = (OutboxState.SENT, OutboxState.SENDING, OutboxState.UNCERTAIN)
#: A ladder email in one of these states has not reached the company and was not withdrawn:
#: it may still leave (on the wire, uncertain, waiting, or put back by the facilitator).
MAY_LEAVE = (
    OutboxState.PENDING,
    OutboxState.SENDING,
    OutboxState.UNCERTAIN,
    OutboxState.FAILED,
    OutboxState.DEAD,
)
#: The zone a closure told without one reads its dates in: the settings' default (``timezone``).
#: Every interface passes its configured zone; this one only stands for a caller that gives none.
DEFAULT_ZONE = ZoneInfo(str(Settings.model_fields["timezone"].default))


def company_key(clause_id: int, kind: str, company_id: int, at: datetime) -> str:
    """``notice:<lot>:<kind>:company-<id>@<instant>``, as ``company_pauses.company_key``."""
    return f"notice:{clause_id}:{kind}:company-{company_id}@{at.astimezone(UTC).isoformat()}"


def tell_released(
    session: Session,
    renderer: TemplateRenderer,
    clause: Clause,
    released: Sequence[ReleasedMonths],
    *,
    at: datetime,
    up_to: date | None = None,
    closed_on: date | None = None,
    zone: ZoneInfo | None = None,
) -> list[int]:
    """One ``company_months_released`` email to each company of ``released`` whose call for at
    least one of its released months left; returns the companies written to. ``up_to``: an end
    corrected earlier, the end it replaces: the months after it were released (and told) before,
    and are left out. ``closed_on``: the clause was closed that day with these months still
    owed (not after the end): the email says the closure, not the end, releases them, and
    tells a month whose due date had not passed that day (« n'était pas encore due ») from a
    month late (« ne m'est pas parvenue »); the due date is the one the company is held to,
    pushed by the lot's suspensions, its days read in ``zone`` (the settings')."""
    if not released:
        return []
    emails = ladder_emails(session, clause.id)
    told: list[int] = []
    for item in released:
        mine = emails.get(item.company_id, [])
        months = {m for m in item.months if up_to is None or m <= up_to}
        called = sorted(
            {
                m
                for step, state, covered in mine
                if step == LadderStep.CALL and state in LEFT
                for m in covered
                if m in months
            }
        )
        if not called:
            continue
        may_arrive = sorted(
            {m for _, state, covered in mine if state in MAY_LEAVE for m in covered if m in called}
        )
        # Closed before a month's due date: that month was asked, not late (« n'était pas
        # encore due »); the due date its call gave, pushed by the lot's suspensions since.
        not_due = (
            _not_due_yet(
                session, clause.id, item.company_id, called, closed_on, zone or DEFAULT_ZONE
            )
            if closed_on is not None
            else {}
        )
        if _tell(
            session,
            renderer,
            clause,
            item.company_id,
            RELEASED,
            at,
            partial(
                released_context,
                lot_of(clause),
                end_date=item.end_date,
                months=called,
                may_arrive=may_arrive,
                closed_on=closed_on,
                not_due={month: due.on for month, due in not_due.items()},
                pushed=[month for month, due in not_due.items() if due.pushed],
            ),
        ):
            told.append(item.company_id)
    return told


def asked_again(owed: OwedAgain, zone: ZoneInfo) -> list[AskedAgain]:
    """The months of ``owed`` whose call had reached the company and that resume past it, as
    the company reads them: the due date and the next reminder's day that ``owe_again`` gave
    (``owed_sentence``'s); none for a month the reminders cannot take up (``blocked_by``)."""
    found: list[AskedAgain] = []
    for month in owed.months:
        if LadderStep.CALL not in month.sent or month.step == LadderStep.CALL:
            continue  # never called, or called again: the call itself tells it
        if month.blocked_by is not None:
            found.append(AskedAgain(month.month, None, None, by_hand=True))
            continue
        reminder_on = (
            local_date(month.at, zone)
            if month.at is not None
            and month.step is not None
            and reminder_number(month.step) is not None
            else None
        )
        found.append(AskedAgain(month.month, month.due_on, reminder_on))
    return found


def tell_owed_again(
    session: Session,
    renderer: TemplateRenderer,
    clause: Clause,
    owed: Sequence[OwedAgain],
    *,
    before: date,
    at: datetime,
    zone: ZoneInfo,
    settings: Settings | None = None,
) -> list[int]:
    """One ``company_months_owed_again`` email to each company of ``owed`` with a month asked
    again whose call had reached it (``asked_again``); returns the companies written to. With
    ``settings``, it carries the company's signed web link for each month the reminders take
    up again (as its calls and reminders do); without them it says to answer the email."""
    told: list[int] = []
    today = local_date(at, zone)
    for item in owed:
        months = asked_again(item, zone)
        if not months:
            continue
        links = (
            month_links(
                session,
                settings,
                clause.id,
                item.company_id,
                [m.month for m in months if not m.by_hand],
                at,
            )
            if settings is not None
            else []
        )
        if _tell(
            session,
            renderer,
            clause,
            item.company_id,
            OWED_AGAIN,
            at,
            partial(
                owed_again_context,
                lot_of(clause),
                end_date=item.end_date,
                before=before,
                months=months,
                today=today,
                links=links,
            ),
        ):
            told.append(item.company_id)
    return told


def _tell(
    session: Session,
    renderer: TemplateRenderer,
    clause: Clause,
    company_id: int,
    kind: str,
    at: datetime,
    context: Callable[[str, Recipient], dict[str, Any]],
) -> bool:
    """Queue ``kind`` to the company's reader on the lot, once per change (its key), its
    ``context`` built from the company's name and that reader; False without a reader with an
    address (the digest lists awards missing a correspondent) or when already queued."""
    party, recipient = _party_recipient(session, clause.id, company_id)
    if party is None or recipient is None:
        return False
    key = company_key(clause.id, kind, company_id, at)
    if key_exists(session, key):
        return False
    return bool(
        queue_email(
            session,
            renderer,
            key=key,
            kind=kind,
            recipients=[recipient],
            context=context(party.company.name, recipient),
            now=at,
            clause_id=clause.id,
        )
    )


# --- what is read -------------------------------------------------------------------------------


def ladder_emails(
    session: Session, clause_id: int
) -> dict[int, list[tuple[str, str, tuple[date, ...]]]]:
    """Every ladder email of the lot by company: (step, state, months covered)."""
    found: dict[int, list[tuple[str, str, tuple[date, ...]]]] = defaultdict(list)
    for key, state in session.execute(
        select(OutboxMessage.key, OutboxMessage.state)
        .where(
            OutboxMessage.clause_id == clause_id,
            OutboxMessage.key.like(f"{KEY_PREFIX}:{clause_id}:%"),
        )
        .order_by(OutboxMessage.id)
    ):
        covered = key_months(key)
        if covered is not None:
            found[covered.company_id].append((covered.step, state, tuple(covered.months)))
    return found


class HeldTo(NamedTuple):
    """The due date a company is held to for a month, and whether a suspension moved it from
    the one its call gave."""

    on: date
    pushed: bool


def _not_due_yet(
    session: Session,
    clause_id: int,
    company_id: int,
    months: Sequence[date],
    closed_on: date,
    zone: ZoneInfo,
) -> dict[date, HeldTo]:
    """Of ``months``, those whose due date had not passed on ``closed_on``, with that date: a
    declaration due that very day is not late yet. The date is the one the company is held to:
    its call's (its ladder's), moved later by the working days the lot spent suspended after the
    call (``pushed_due``), as the digest, the summaries and ``declaration list`` count it, and
    as the resumption's email (``company_lot_resumed``) gave it to the company: a month called,
    then suspended, then closed days after the resumption, is not late on its call's date."""
    intervals = suspensions(session, [clause_id]).get(clause_id, [])
    days = LadderDays(suspended_days(intervals, zone, closed_on))
    found: dict[date, HeldTo] = {}
    for month, due_on, called_at in session.execute(
        select(
            DeclarationLadder.month, DeclarationLadder.due_on, DeclarationLadder.called_at
        ).where(
            DeclarationLadder.clause_id == clause_id,
            DeclarationLadder.company_id == company_id,
            DeclarationLadder.month.in_(sorted(months)),
        )
    ):
        if due_on is None:
            continue
        held = (
            pushed_due(due_on, local_date(called_at, zone), days)
            if called_at is not None
            else due_on
        )
        if held >= closed_on:
            found[month] = HeldTo(held, held != due_on)
    return found


def _party_recipient(
    session: Session, clause_id: int, company_id: int
) -> tuple[AwardParty | None, Recipient | None]:
    """The award of the company on the lot and whom its ladder writes to: the correspondent
    named at award, else the company's first (``email_facts.party_recipient``)."""
    party = session.scalar(
        select(AwardParty).where(
            AwardParty.clause_id == clause_id, AwardParty.company_id == company_id
        )
    )
    if party is None:
        return None, None
    return party, party_recipient(party)
