"""The email a company gets when the facilitator cancels one of its monthly declarations: which
lot and month, what was cancelled and why, and by when to declare the month again.

For the company only, and without its participants: the reason is the facilitator's own words
about the company's declaration; the lines are counted, never listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from workflow.domain.calendar import (
    LadderStep,
    at_local,
    due_date,
    local_date,
    reminder_number,
)
from workflow.domain.declaration_links import expiry
from workflow.emails.family import EmailFamily, Sample
from workflow.emails.ladder import facilitator_context
from workflow.emails.links import DeclarationLink, links_context, sample_links
from workflow.emails.lots import Lot, lot_context
from workflow.emails.phrases import month_phrase
from workflow.emails.samples import HOLDER, HOLDER_CORRESPONDENT, LOT

if TYPE_CHECKING:
    from workflow.settings import Settings

KIND = "declaration_cancelled"
KINDS = (KIND,)
#: A cancellation email's key: ``cancellation:<clause>:<company>:<declaration>:<instant>``.
KEY_PREFIX = "cancellation"


def cancellation_key(clause_id: int, company_id: int, declaration_id: int, at: datetime) -> str:
    """One key per cancellation: the declaration's number, and the instant it was cancelled (a
    number freed by a deletion may be given again to a later declaration)."""
    return (
        f"{KEY_PREFIX}:{clause_id}:{company_id}:{declaration_id}:{at.astimezone(UTC).isoformat()}"
    )


@dataclass(frozen=True)
class CancelledMonth:
    """One declaration as it stood when it was cancelled, and the cancellation."""

    id: int
    month: date
    total_hours: Decimal
    lines: int
    recorded_at: datetime
    cancelled_at: datetime
    reason: str
    #: When it was first received, when a correction recorded it again since (``recorded_at``
    #: is then the correction's): the email says both, never the correction as the reception.
    first_recorded_at: datetime | None = None


@dataclass(frozen=True)
class Expected:
    """What the company is held to now that the month is owed again: the due date its ladder
    holds it to, and the ladder's next step (None when its reminders had not started, or when
    every step was already sent: ``all_sent``). ``due_on`` None: the lot is suspended and the
    month was not called; it is asked at the resumption, with the date its call gives then."""

    due_on: date | None
    step: str | None = None
    step_at: datetime | None = None
    all_sent: bool = False
    #: The lot is suspended: nothing leaves until it resumes, on a day nobody knows yet.
    suspended: bool = False


def _next_step(expected: Expected, zone: ZoneInfo, written_on: date) -> dict[str, Any] | None:
    if expected.step is None or expected.step_at is None:
        return None
    if expected.step == LadderStep.CALL:
        what = "call"
    elif expected.step == LadderStep.ESCALATION:
        what = "escalation"
    else:
        what = "reminder"
    on = local_date(expected.step_at, zone)
    return {
        "what": what,
        "number": reminder_number(expected.step),
        "on": on,
        # Due before the day it is written (the service was stopped, its pass has not caught
        # up yet): it leaves at the service's next pass, never « le » a day gone by.
        "overdue": on < written_on,
    }


def cancellation_context(
    lot: Lot,
    company: str,
    cancelled: CancelledMonth,
    expected: Expected,
    settings: Settings,
    *,
    correspondent: str | None = None,
    receipt_sent: bool = True,
    link: DeclarationLink | None = None,
    written_at: datetime | None = None,
) -> dict[str, Any]:
    """``receipt_sent``: a receipt of the declaration may have reached the company (one that had
    not left was withdrawn: the email then says it will not come); ``link``: the month's page,
    where the company declares it again. ``written_at``: when the email is written, the
    cancellation's instant unless it is written again later (``stale_promises``): a due date
    passed by then is « il était à déclarer au plus tard le … », never « d'ici le … »."""
    zone = settings.zone
    cancelled_on = local_date(cancelled.cancelled_at, zone)
    written_on = local_date(written_at, zone) if written_at is not None else cancelled_on
    # Corrected since its first reception: that reception, then the correction's day.
    first = cancelled.first_recorded_at
    received = first if first is not None and first < cancelled.recorded_at else None
    return {
        "clause": lot_context(lot),
        "company": {"name": company},
        "correspondent": {"name": correspondent} if correspondent else None,
        "declaration": {
            "id": cancelled.id,
            "month": cancelled.month,
            "month_phrase": month_phrase(cancelled.month),
            "total_hours": cancelled.total_hours,
            "lines_count": cancelled.lines,
            "received_on": local_date(received or cancelled.recorded_at, zone),
            "corrected_on": None if received is None else local_date(cancelled.recorded_at, zone),
            "cancelled_on": cancelled_on,
        },
        "reason": cancelled.reason,
        "receipt_sent": receipt_sent,
        "due_on": expected.due_on,
        # The date has passed: « d'ici le » would ask for the past.
        "late": expected.due_on is not None and expected.due_on < written_on,
        # No date was given (suspended before its call): « demandée à la reprise du chantier ».
        "at_resumption": expected.due_on is None,
        "next": None if expected.suspended else _next_step(expected, zone, written_on),
        "suspended": expected.suspended,
        "all_sent": expected.all_sent,
        "facilitator": facilitator_context(settings),
        "declaration_links": links_context([link] if link is not None else []),
    }


def promised_until(expected: Expected, written_at: datetime, zone: ZoneInfo) -> datetime | None:
    """The instant after which the email written at ``written_at`` says something untrue: the
    end of the day of its next step (« le prochain partira le … », an alert, a call), or of the
    day it asks the month by (« d'ici le … »), whichever comes first. None when it promises no
    date (a month asked no more, a suspended lot, every reminder sent, a due date already
    passed: « il était à déclarer au plus tard le … », a step overdue: « sous peu »). Always after ``written_at``:
    an email written again is never stale at once."""
    written_on = local_date(written_at, zone)
    days: list[date] = []
    step = None if expected.suspended else _next_step(expected, zone, written_on)
    if step is not None and not step["overdue"]:
        days.append(step["on"])
    if expected.due_on is not None and expected.due_on >= written_on:
        days.append(expected.due_on)
    # A date is true all day long (the email names a day, not an hour): false from the next.
    return at_local(min(days) + timedelta(days=1), time(0), zone) if days else None


#: October 2026 of the sample lot's holder: received on 6 November, cancelled on the 20th
#: (after its due date), its reminders taking up again with the first one.
SAMPLE = CancelledMonth(
    id=7,
    month=date(2026, 10, 1),
    total_hours=Decimal("312.5"),
    lines=3,
    recorded_at=datetime(2026, 11, 6, 10, 12, tzinfo=UTC),
    cancelled_at=datetime(2026, 11, 20, 14, 5, tzinfo=UTC),
    reason=(
        "Une partie des heures a été réalisée sur le lot 4 (menuiseries), pas sur ce lot : "
        "merci de déclarer le mois sans elles."
    ),
)


def sample(kind: str, settings: Settings) -> Sample:
    due_on = due_date(SAMPLE.month, settings.declaration_due_day)
    cancelled_on = local_date(SAMPLE.cancelled_at, settings.zone)
    link = sample_links(
        settings.base_url, [SAMPLE.month], expiry(cancelled_on, settings.link_days, due_on)
    )[0]
    context = cancellation_context(
        LOT,
        HOLDER.company,
        SAMPLE,
        Expected(
            due_on=due_on,
            step="reminder_1",
            step_at=datetime(2026, 11, 23, 8, 0, tzinfo=UTC),
        ),
        settings,
        correspondent=HOLDER.correspondent,
        link=link,
    )
    return Sample((HOLDER_CORRESPONDENT,), context)


FAMILY = EmailFamily("cancellations", KINDS, sample)
