"""The companies' notice of a lot's planned end moved (an amendment, ``clauses lot set-end``):
the months it no longer asks of them (an earlier end) or asks in addition, with the date each
is due by (a later end).

``services.planned_end_company_notices`` reads the facts; the months and dates are the buyer's
own notice's (``notice_planned_end``, ``emails.notices.end_move_context``), cut to the months
the company declares (a company that left the site declares none after its last month).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING, Any

from workflow.emails.envelope import Recipient
from workflow.emails.family import EmailFamily, Sample
from workflow.emails.lots import Lot, lot_context, schedule_context
from workflow.emails.notices import EndMove, end_move_context, months_named
from workflow.emails.samples import HOLDER, HOLDER_CORRESPONDENT, LOT

if TYPE_CHECKING:
    from workflow.settings import Settings

KIND = "company_planned_end"
KINDS = (KIND,)


def _sentence(text: str | None) -> str | None:
    """A reason as typed, read as a sentence: its final stop added when it has none."""
    given = " ".join((text or "").split())
    if not given:
        return None
    return given if given.endswith((".", "!", "?", "…")) else given + "."


def company_planned_end_context(
    lot: Lot,
    company: str,
    correspondent: Recipient | None,
    *,
    move: EndMove,
    due_day: int,
    at: date,
    reason: str | None,
    due_dates: Mapping[date, date] | None = None,
    first_month: date | None = None,
    last_month: date | None = None,
    declared: Collection[date] = (),
) -> dict[str, Any]:
    """``move``: the planned end before and after; ``due_dates``: the dates the buyer's notice
    announces (a month called, or whose call the next pass sends late, keeps the date its call
    gives); ``at``: the local day of the change; ``first_month``: the company joined during the
    works, it declares no month before this one; ``last_month``: it left the site, it declares
    no month after this one; ``declared``: the months it already declared (its last
    month already declared is not said awaited)."""
    moved = end_move_context(lot, move, schedule_context(lot, due_day, due_dates))

    def its(month: date) -> bool:
        return (first_month is None or month >= first_month) and (
            last_month is None or month <= last_month
        )

    mine = [entry for entry in moved["added"] if its(entry["month"])]
    removed = [m for m in moved["removed"] if its(m) and m not in declared]
    added = [entry["month"] for entry in mine]
    last = moved["last_month"]
    return {
        "clause": lot_context(lot),
        "company": {"name": company},
        "correspondent": None if correspondent is None else {"name": correspondent.name},
        "at": at,
        "before": move.before,
        "after": move.after,
        "later": moved["later"],
        "earlier": moved["earlier"],
        "reason": _sentence(reason),
        "added": mine,
        "added_count": len(added),
        "added_named": months_named(added),
        "added_of": months_named(added, of=True),
        "removed_count": len(removed),
        "removed_named": months_named(removed),
        "removed_of": months_named(removed, of=True),
        "last_month": last,
        "last_declared": last in declared,
        # Joined after the new end's month: nothing at all is left to declare on the lot.
        "nothing_left": first_month is not None and first_month > last,
        "last_due_on": moved["last_due_on"],
        # The new end moved into the past: the last month's date may be gone already, said so.
        "last_due_passed": moved["last_due_on"] is not None and moved["last_due_on"] < at,
        # Calls run (execution) or the welcome gave the dates (award): they are said; during a
        # suspension no call leaves, the dates come with the resumption.
        "suspended": moved["suspended"],
        "not_started": moved["not_started"],
    }


# --- the sample -------------------------------------------------------------------------------


def sample(kind: str, settings: Settings) -> Sample:
    """The sample lot (works from 2 March 2026 to 30 June 2027) prolonged by an amendment to
    30 September 2027, recorded on 12 May 2027: July to September are asked in addition, each
    due on the 10th of the month after."""
    lot = replace(LOT, stage="execution", end_date=None, planned_end_date=date(2027, 9, 30))
    context = company_planned_end_context(
        lot,
        HOLDER.company,
        HOLDER_CORRESPONDENT,
        move=EndMove(date(2027, 6, 30), date(2027, 9, 30)),
        due_day=10,
        at=date(2027, 5, 12),
        reason="avenant n° 2 : intempéries",
    )
    return Sample((HOLDER_CORRESPONDENT,), context)


FAMILY = EmailFamily("planned_ends", KINDS, sample)
