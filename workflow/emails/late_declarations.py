"""The buyer told that a month its alert said missing has arrived since
(``services.late_declaration_notices``).

The alert before formal notice (``declaration_escalation``) asks the buyer how to proceed; the
buyer may go on to a formal notice. When the company then declares that month (hours or zero,
by any channel), the buyer reads it from the facilitator: the month, the day it came, what it
says (total and count of participants, never their names) and the day of the alert.

A participant declared at 0 h for the month did not work on the lot that month: the notice counts
those who worked and names the others apart (« 3 participants ayant travaillé (1 autre déclaré à
0 h) »), in the very words the import of the file says (``participants_phrase``).
"""

from __future__ import annotations

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
KINDS = (KIND,)
#: Its key: ``late_declared:<clause>:<company>:<YYYY-MM>:<instant of the recording>``.
KEY_PREFIX = "late_declared"


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
    late: LateDeclaration,
    settings: Settings,
) -> dict[str, Any]:
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
        "still_missing": list(late.still_missing),
        "still_missing_count": len(late.still_missing),
        "still_missing_phrase": months_phrase(late.still_missing) if late.still_missing else "",
        "corrected": late.corrected,
        "alert_left": late.alert_left,
        "other_owed_count": len(late.other_owed),
        "other_owed_phrase": months_named(late.other_owed, of=True),
        "facilitator": facilitator_context(settings),
    }


def sample(kind: str, settings: Settings) -> Sample:
    """September 2026 of the sample lot's holder, declared three days after the alert."""
    late = LateDeclaration(
        month=date(2026, 9, 1),
        declared_on=date(2026, 11, 5),
        total_hours=Decimal("124"),
        participants=3,
        alerted_on=date(2026, 11, 2),
    )
    context = late_declaration_context(LOT, HOLDER, HOLDER.company, late, settings)
    facilitator = Recipient(settings.facilitator_name, settings.facilitator_email)
    return Sample((BUYER_CONTACT, facilitator), context)


FAMILY = EmailFamily("late_declarations", KINDS, sample)
