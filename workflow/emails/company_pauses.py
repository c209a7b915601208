"""The companies' notices of a lot suspended and resumed: what the calls and reminders they no
longer get (or get again) mean for their declarations.

``services.company_pauses`` reads the facts (the months owed, the next call the ladder will
send); this module says which kinds there are and what their templates read. The buyer's own
notices of the same events are ``notice_suspended`` and ``notice_resumed``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from workflow.adapters.templates import french_date, french_month
from workflow.domain.calendar import LadderStep, at_local, local_date
from workflow.emails.envelope import Recipient
from workflow.emails.family import EmailFamily, Sample
from workflow.emails.lots import Lot, lot_context
from workflow.emails.notices import SAMPLE_MILESTONES, months_named
from workflow.emails.samples import HOLDER, HOLDER_CORRESPONDENT, LOT

if TYPE_CHECKING:
    from workflow.settings import Settings

SUSPENDED = "company_lot_suspended"
RESUMED = "company_lot_resumed"
KINDS = (SUSPENDED, RESUMED)


@dataclass(frozen=True)
class OwedMonth:
    """A month the company was called for and has not declared, with the due date the ladder
    holds it to; ``pushed``: at a suspension, a date the suspension moves later (its working
    days are not counted), not known until the lot resumes."""

    month: date
    due_on: date
    pushed: bool = False
    #: Reminders or the buyer's alert still to come (False: every step of its ladder was sent).
    reminded: bool = True
    #: At a resumption, what the ladder sends next for it and the day it leaves: a reminder
    #: (``reminder_<n>``) or the buyer's alert (``escalation``); None when nothing is left.
    next_step: str | None = None
    next_on: date | None = None


@dataclass(frozen=True)
class NextCall:
    """The call the ladder sends after a resumption: the day it leaves, the months it asks
    for and the one due date it gives them."""

    on: date
    months: tuple[date, ...]
    due_on: date


def _owed_context(owed: Sequence[OwedMonth], today: date) -> list[dict[str, Any]]:
    return [
        {
            "month": o.month,
            "due_on": o.due_on,
            "pushed": o.pushed,
            # Past: « attendue depuis le … »; else « à rendre au plus tard le … ».
            "late": o.due_on < today,
            # At a resumption: « prochain rappel le … » or « le donneur d'ordre en sera alerté le … ».
            "next": None
            if o.next_on is None or o.next_step is None
            else ("alert" if o.next_step == LadderStep.ESCALATION else "reminder"),
            "next_on": o.next_on,
            # A day already past when the email is written (written again before a pass caught
            # the ladder up): « sous peu », as the cancellation's email says it.
            "next_soon": o.next_on is not None and o.next_on < today,
            "reminded": o.reminded,
        }
        for o in sorted(owed, key=lambda o: o.month)
    ]


def suspended_context(
    lot: Lot,
    company: str,
    correspondent: Recipient | None,
    *,
    at: date,
    reason: str | None,
    owed: Sequence[OwedMonth],
    later: Sequence[date],
) -> dict[str, Any]:
    """``later``: the months worked (at least in part) before the suspension and not called
    yet, which will be after the resumption; the suspension's own month among them is asked
    for the hours worked before it."""
    partial_month = next((m for m in later if (m.year, m.month) == (at.year, at.month)), None)
    return {
        "clause": lot_context(lot),
        "company": {"name": company},
        "correspondent": None if correspondent is None else {"name": correspondent.name},
        "at": at,
        "reason": reason,
        "owed": _owed_context(owed, at),
        "later": list(later),
        "later_count": len(later),
        "later_of": months_named(later, of=True),
        "partial_month": partial_month,
    }


def resumed_context(
    lot: Lot,
    company: str,
    correspondent: Recipient | None,
    *,
    at: date,
    suspended_on: date | None,
    reason: str | None,
    owed: Sequence[OwedMonth],
    next_call: NextCall | None,
    skipped: Sequence[date],
    written_on: date | None = None,
    untold: dict[str, object] | None = None,
) -> dict[str, Any]:
    """``owed`` with the dates the reminders will give (pushed by the suspension's working
    days); ``next_call``: None when no call is left on the lot; ``skipped``: the months spent
    entirely suspended, which nobody is asked to declare. ``written_on``: the day the email is
    written, the resumption's unless it is written again later (``stale_promises``): a due
    date passed by then is « attendue depuis le … ». ``untold``: the suspension's day and reason
    when its email never reached the company (``resumption_withdrawals``): this one says them."""
    return {
        "untold": untold,
        "clause": lot_context(lot),
        "company": {"name": company},
        "correspondent": None if correspondent is None else {"name": correspondent.name},
        "at": at,
        "suspended_on": suspended_on,
        "reason": reason,
        "owed": _owed_context(owed, written_on or at),
        "reminders_resume": any(o.reminded for o in owed),
        "next_call": None
        if next_call is None
        else {
            "on": next_call.on,
            "months": list(next_call.months),
            "months_count": len(next_call.months),
            "months_of": months_named(next_call.months, of=True),
            "due_on": next_call.due_on,
        },
        "skipped": list(skipped),
        "skipped_count": len(skipped),
        "skipped_of": months_named(skipped, of=True),
    }


def resumption_promised_until(
    owed: Sequence[OwedMonth], next_call: NextCall | None, written_at: datetime, zone: ZoneInfo
) -> datetime | None:
    """The instant after which the resumption's email written at ``written_at`` says something
    untrue: the end of the first day it names to come (its next call, a month's due date, its
    next reminder or alert). None when it names none."""
    written_on = local_date(written_at, zone)
    days = [next_call.on] if next_call is not None else []
    for o in owed:
        days.append(o.due_on)
        if o.next_step is not None and o.next_on is not None:
            days.append(o.next_on)
    days = [day for day in days if day >= written_on]
    # A date is true all day long (the email names a day, not an hour): false from the next.
    return at_local(min(days) + timedelta(days=1), time(0), zone) if days else None


def past_planned_end_sentence(clause_id: int, planned_end: date) -> str:
    """What a resumption after the lot's planned end tells the facilitator (``clause advance N
    reprendre``): its companies are called for no month after the planned end's
    (``reminders._open_batch`` parks them) until it is moved or the end recorded, and an
    « ordre de service d'arrêt » usually extends the works by the stop's length. The commands
    are those of the day's task (``services.digest._suspended_past_planned_end``)."""
    return (
        f"Fin prévue le {french_date(planned_end)} dépassée : les mois après "
        f"{french_month(planned_end)} ne sont pas demandés aux entreprises tant que la fin "
        "prévue n'est pas reportée ou la fin d'exécution enregistrée. Demander au donneur "
        "d'ordre la nouvelle fin prévue (un ordre de service d'arrêt prolonge en général le "
        "délai d'exécution de la durée de l'arrêt), puis la reporter (clauses lot set-end "
        f'{clause_id} jj/mm/aaaa --reason "ordre de service de reprise n° …") ; si les travaux '
        f"sont finis, achever la clause (clauses clause advance {clause_id} achever --end-date "
        "jj/mm/aaaa)."
    )


# --- the sample -------------------------------------------------------------------------------


def sample(kind: str, settings: Settings) -> Sample:
    """The sample lot suspended on 3 August 2026, resumed on 1 September 2026 at 10:00: July,
    called on 3 August and due on 10 August, is owed; its five working days after the call are
    counted after the suspension (due 8 September). August, worked on its first two days, is
    called the next morning (its call time has passed) with the date a late call gives."""
    suspended_on, why = SAMPLE_MILESTONES["notice_suspended"]
    lot = LOT
    if kind == SUSPENDED:
        context = suspended_context(
            lot,
            HOLDER.company,
            HOLDER_CORRESPONDENT,
            at=suspended_on,
            reason=why,
            owed=[OwedMonth(date(2026, 7, 1), date(2026, 8, 10), pushed=True)],
            later=[date(2026, 8, 1)],
        )
    else:
        resumed_on, why = SAMPLE_MILESTONES["notice_resumed"]
        context = resumed_context(
            lot,
            HOLDER.company,
            HOLDER_CORRESPONDENT,
            at=resumed_on,
            suspended_on=suspended_on,
            reason=why,
            owed=[
                OwedMonth(
                    date(2026, 7, 1),
                    date(2026, 9, 8),
                    next_step="reminder_1",
                    next_on=date(2026, 9, 11),
                )
            ],
            next_call=NextCall(date(2026, 9, 2), (date(2026, 8, 1),), date(2026, 9, 11)),
            skipped=[],
        )
    return Sample((HOLDER_CORRESPONDENT,), context)


FAMILY = EmailFamily("company_pauses", KINDS, sample)
