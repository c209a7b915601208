"""The buyer told that a month its alert said missing has arrived since
(``services.late_declaration_notices``).

The alert before formal notice (``declaration_escalation``) asks the buyer how to proceed; the
buyer may go on to a formal notice. When the company then declares that month (hours or zero,
by any channel), the buyer reads it from the facilitator: the month, the day it came, what it
says (total and count of participants, never their names) and the day of the alert.

A participant declared at 0 h for the month did not work on the lot that month: the notice counts
those who worked and names the others apart (« 3 participants ayant travaillé (1 autre déclaré à
0 h) »), in the very words the import of the file says (``participants_phrase``).

Months recorded together (one file, the company's page) make one notice (``grouped``): « Les
déclarations des heures d'insertion de septembre, d'octobre et de novembre 2026 de … me sont
parvenues le … », a line per month with its total and participants, the alert that named each
(its day; one line per alert when they were several), and what is still missing. One month
alone reads as it always did.

A month the buyer was told had arrived, whose declaration the facilitator cancels once that
notice left (or may have: its sending not confirmed), is told again (``CANCELLED_KIND``): the
declaration received on such day (its hours) that the notice of such day told of was cancelled on
such day, with the reason (the words the company read, and that the alert of a month asked again
quotes to the buyer); the month is missing again, asked again of the company, and the question of
the alert stands again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from workflow.emails.envelope import Recipient
from workflow.emails.family import EmailFamily, Sample
from workflow.emails.ladder import facilitator_context
from workflow.emails.lots import Lot, Party, lot_context
from workflow.emails.notices import months_named
from workflow.emails.phrases import month_phrase, months_phrase
from workflow.emails.samples import BUYER_CONTACT, HOLDER, LOT

if TYPE_CHECKING:
    from workflow.settings import Settings

KIND = "notice_late_declaration_received"
#: The buyer told that a month it was told had arrived was cancelled since: missing again.
CANCELLED_KIND = "notice_late_declaration_cancelled"
KINDS = (KIND, CANCELLED_KIND)
#: Its key: ``late_declared:<clause>:<company>:<YYYY-MM>:<instant of the recording>``; the
#: months recorded together, ``ladder_keys.months_text`` (``2026-04..2026-06``).
KEY_PREFIX = "late_declared"
#: ``late_cancelled:<clause>:<company>:<YYYY-MM>:<instant of the cancellation>``.
CANCELLED_PREFIX = "late_cancelled"


@dataclass(frozen=True)
class LateDeclaration:
    """One month declared after the buyer was alerted that it was missing."""

    month: date
    declared_on: date
    total_hours: Decimal
    #: The participants with hours that month (those who worked).
    participants: int
    #: The day the alert naming the month left (written, when it had not left).
    alerted_on: date
    #: The other months that alert named and that are still missing.
    still_missing: tuple[date, ...] = ()
    #: A correction of a declaration whose notice had not left yet: the notice gives the
    #: figures as corrected.
    corrected: bool = False
    #: The alert was sent when the month arrived. Not: it was on the wire, maybe delivered, or
    #: still waiting (``alerted_on`` is then the day it was written): the notice says that if
    #: it reaches the buyer after this notice, what it says of this month no longer holds.
    alert_left: bool = True
    #: The company's other months called and not received on the lot, outside that alert:
    #: the notice is about one month, not the company's whole record (user trial: « plus
    #: manquant » read as compliant by a buyer while ten months were still owed).
    other_owed: tuple[date, ...] = ()
    #: The declaration's other participants, on a line at 0 h: they did not work that month.
    participants_at_zero: int = 0


def participants_phrase(worked: int, at_zero: int) -> str:
    """Who a month's declaration counts, the same words wherever it is told (the import's
    result, the buyer's notice): those who worked, and apart those declared at 0 h, who did not
    work that month. « 3 participants » ; « 3 participants ayant travaillé (1 autre déclaré à
    0 h) » ; « aucun participant ayant travaillé (2 déclarés à 0 h) »."""
    people = f"{worked} participant{'s' if worked > 1 else ''}"
    if not at_zero:
        return people
    others = "s" if at_zero > 1 else ""
    if not worked:
        return f"aucun participant ayant travaillé ({at_zero} déclaré{others} à 0\u00a0h)"
    return f"{people} ayant travaillé ({at_zero} autre{others} déclaré{others} à 0\u00a0h)"


def late_declaration_context(
    lot: Lot,
    party: Party | None,
    company: str,
    lates: LateDeclaration | Sequence[LateDeclaration],
    settings: Settings,
) -> dict[str, Any]:
    """One month, as it always read; several recorded together (a file, the company's page):
    one notice, a line per month (``grouped``), the alerts that named them, and what is still
    missing of them."""
    months = [lates] if isinstance(lates, LateDeclaration) else sorted(lates, key=_month_of)
    if not months:
        raise ValueError("a notice of no month")
    late = months[0]
    still_missing = sorted({m for item in months for m in item.still_missing})
    alerts = _alerts(months)
    return {
        "clause": lot_context(lot),
        "company": {"name": company, "role": party.role_label if party else ""},
        "month": late.month,
        "month_phrase": month_phrase(late.month),
        "declared_on": late.declared_on,
        "total_hours": late.total_hours,
        "zero": late.total_hours == 0,
        "participants": late.participants,
        "participants_phrase": participants_phrase(late.participants, late.participants_at_zero),
        "alerted_on": late.alerted_on,
        "still_missing": still_missing,
        "still_missing_count": len(still_missing),
        "still_missing_phrase": months_phrase(still_missing) if still_missing else "",
        "corrected": late.corrected,
        "alert_left": late.alert_left,
        "other_owed_count": len(late.other_owed),
        "other_owed_phrase": months_named(late.other_owed, of=True),
        "facilitator": facilitator_context(settings),
        # Several months: the notice names them together, then says each.
        "grouped": len(months) > 1,
        "months_named": months_named([item.month for item in months]),
        "months_of": months_named([item.month for item in months], of=True),
        "same_day": len({item.declared_on for item in months}) == 1,
        "months": [
            {
                "month": item.month,
                "declared_on": item.declared_on,
                "total_hours": item.total_hours,
                "zero": item.total_hours == 0,
                "participants_phrase": participants_phrase(
                    item.participants, item.participants_at_zero
                ),
                "corrected": item.corrected,
            }
            for item in months
        ],
        "alerts": alerts,
        "alerts_count": len(alerts),
        "all_left": all(item.alert_left for item in months),
    }


def _month_of(late: LateDeclaration) -> date:
    return late.month


def _alerts(months: Sequence[LateDeclaration]) -> list[dict[str, Any]]:
    """The alerts that named the months, one entry per day and state, in order: the months
    each said missing (« d'avril et de mai 2026 »), and whether it left."""
    grouped: dict[tuple[date, bool], list[date]] = {}
    for item in months:
        grouped.setdefault((item.alerted_on, item.alert_left), []).append(item.month)
    return [
        {
            "alerted_on": day,
            "left": left,
            "months": named,
            "months_count": len(named),
            "months_named": months_named(named),
        }
        for (day, left), named in sorted(grouped.items(), key=lambda entry: entry[0][0])
    ]


@dataclass(frozen=True)
class LateCancellation:
    """A month the buyer was told had arrived after its alert, whose declaration the
    facilitator cancelled since: the month is missing again."""

    month: date
    #: When the declaration cancelled was received (first, when corrected since).
    received_on: date
    #: Its figures as they stood when it was cancelled.
    total_hours: Decimal
    #: The day the notice telling the buyer it arrived left (written, when not confirmed).
    told_on: date
    #: That notice is known to have left; not: its sending is not confirmed (on the wire,
    #: maybe delivered), the buyer may never have read it.
    told_left: bool
    cancelled_on: date
    #: The facilitator's words, as the company read them (and as the alert that names a month
    #: asked again after a cancellation quotes them to the buyer).
    reason: str
    #: The day of the alert that named the month (None: no alert that reached the buyer, or
    #: may, names it any more: one given up and cancelled by hand since).
    alerted_on: date | None
    #: The day a correction recorded it again, after its first reception (None: never).
    corrected_on: date | None = None
    #: The lot is suspended: nothing is asked of the company before it resumes.
    suspended: bool = False


def late_cancellation_context(
    lot: Lot, party: Party | None, company: str, cancelled: LateCancellation, settings: Settings
) -> dict[str, Any]:
    """What ``notice_late_declaration_cancelled`` reads: the month, its reception and hours, the
    notice that told it, the cancellation and its reason, the alert whose question stands
    again."""
    return {
        "clause": lot_context(lot),
        "company": {"name": company, "role": party.role_label if party else ""},
        "month": cancelled.month,
        "month_phrase": month_phrase(cancelled.month),
        "received_on": cancelled.received_on,
        "corrected_on": cancelled.corrected_on,
        "total_hours": cancelled.total_hours,
        "zero": cancelled.total_hours == 0,
        "told_on": cancelled.told_on,
        "told_left": cancelled.told_left,
        "cancelled_on": cancelled.cancelled_on,
        "reason": cancelled.reason,
        "alerted_on": cancelled.alerted_on,
        "suspended": cancelled.suspended,
        "facilitator": facilitator_context(settings),
    }


def sample(kind: str, settings: Settings) -> Sample:
    """September 2026 of the sample lot's holder, declared three days after the alert; for
    ``CANCELLED_KIND``, that declaration cancelled a week later."""
    facilitator = Recipient(settings.facilitator_name, settings.facilitator_email)
    if kind == CANCELLED_KIND:
        cancelled = LateCancellation(
            month=date(2026, 9, 1),
            received_on=date(2026, 11, 5),
            total_hours=Decimal("124"),
            told_on=date(2026, 11, 5),
            told_left=True,
            cancelled_on=date(2026, 11, 12),
            reason="Heures d'un autre chantier déclarées sur ce lot",
            alerted_on=date(2026, 11, 2),
        )
        context = late_cancellation_context(LOT, HOLDER, HOLDER.company, cancelled, settings)
        return Sample((BUYER_CONTACT, facilitator), context)
    late = LateDeclaration(
        month=date(2026, 9, 1),
        declared_on=date(2026, 11, 5),
        total_hours=Decimal("124"),
        participants=3,
        alerted_on=date(2026, 11, 2),
    )
    context = late_declaration_context(LOT, HOLDER, HOLDER.company, late, settings)
    return Sample((BUYER_CONTACT, facilitator), context)


FAMILY = EmailFamily("late_declarations", KINDS, sample)
