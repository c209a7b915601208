"""The emails of a company that left the site (``services.departure_notices``).

- ``company_left``: to the company's correspondent, once its last month on the lot is
  recorded: which lot, its last month, that no month after it will be asked, and what it still
  owes up to it (each month with its due date and page), or that it has nothing left to declare.
- ``notice_company_left``: to the buyer (and the facilitator, as the alert), only when an alert
  before formal notice named a month the departure releases: that month is not expected any
  more, a formal notice about it would have no object.

Neither names a participant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from workflow.emails.envelope import Recipient
from workflow.emails.family import EmailFamily, Sample
from workflow.emails.ladder import facilitator_context
from workflow.emails.links import DeclarationLink, links_context, sample_links
from workflow.emails.lots import Lot, lot_context
from workflow.emails.phrases import month_phrase, months_phrase
from workflow.emails.samples import BUYER_CONTACT, LOT, PARTNER

if TYPE_CHECKING:
    from workflow.settings import Settings

KIND_COMPANY = "company_left"
KIND_BUYER = "notice_company_left"
KINDS = (KIND_COMPANY, KIND_BUYER)
#: Their keys: ``company_left:<clause>:<company>:<YYYY-MM of the last month>`` and
#: ``company_left_buyer:…``; a last month moved earlier is a new email, the same one again none.
KEY_PREFIX = "company_left"
BUYER_KEY_PREFIX = "company_left_buyer"


def company_key(clause_id: int, company_id: int, last_month: date) -> str:
    return f"{KEY_PREFIX}:{clause_id}:{company_id}:{last_month:%Y-%m}"


def buyer_key(clause_id: int, company_id: int, last_month: date) -> str:
    return f"{BUYER_KEY_PREFIX}:{clause_id}:{company_id}:{last_month:%Y-%m}"


@dataclass(frozen=True)
class OwedMonth:
    """A month up to the last one the company has not declared, and its due date."""

    month: date
    due_on: date


@dataclass(frozen=True)
class CompanyLeft:
    """What the company is told: its last month, the months up to it still owed, and those
    already asked of it that no longer are."""

    company: str
    last_month: date
    today: date
    owed: tuple[OwedMonth, ...] = ()
    released: tuple[date, ...] = ()
    #: The company's role on the lot (« sous-traitant »), for the buyer.
    role: str = ""


def _owed(owed: Sequence[OwedMonth], today: date) -> list[dict[str, Any]]:
    return [
        {
            "month": o.month,
            "phrase": month_phrase(o.month),
            "due_on": o.due_on,
            "late": o.due_on < today,
        }
        for o in sorted(owed, key=lambda o: o.month)
    ]


def company_left_context(
    lot: Lot,
    left: CompanyLeft,
    settings: Settings,
    *,
    correspondent: str | None = None,
    links: Sequence[DeclarationLink] = (),
) -> dict[str, Any]:
    return {
        "clause": lot_context(lot),
        "company": {"name": left.company, "role": left.role},
        "correspondent": {"name": correspondent} if correspondent else None,
        "last_month": left.last_month,
        "last_month_phrase": month_phrase(left.last_month),
        "owed": _owed(left.owed, left.today),
        "owed_count": len(left.owed),
        "released": list(left.released),
        "released_count": len(left.released),
        "released_phrase": months_phrase(left.released) if left.released else "",
        "facilitator": facilitator_context(settings),
        "declaration_links": links_context(links),
    }


@dataclass(frozen=True)
class AlertCorrected:
    """The months an alert to the buyer named that the departure releases, and the day of
    that alert (the first, when several)."""

    months: tuple[date, ...]
    alerted_on: date
    #: Every alert naming them was recorded sent; else one may still reach the buyer.
    alert_left: bool = True


def buyer_context(
    lot: Lot, left: CompanyLeft, alert: AlertCorrected, settings: Settings
) -> dict[str, Any]:
    return {
        **company_left_context(lot, left, settings),
        "alerted_on": alert.alerted_on,
        "alert_left": alert.alert_left,
        "corrected": list(alert.months),
        "corrected_count": len(alert.months),
        "corrected_phrase": months_phrase(alert.months),
    }


#: The sample partner's correspondent, who gets its emails.
PARTNER_CORRESPONDENT = Recipient("Inès Moreau", "ines.moreau@example.org")

#: The sample: the partner of the sample lot leaves after September 2026, recorded on 7
#: December; September is still owed (late), October (called, then alerted on 2 December) is
#: asked no more.
SAMPLE = CompanyLeft(
    company=PARTNER.company,
    last_month=date(2026, 9, 1),
    today=date(2026, 12, 7),
    owed=(OwedMonth(date(2026, 9, 1), date(2026, 10, 12)),),
    released=(date(2026, 10, 1),),
    role=PARTNER.role_label,
)


def sample(kind: str, settings: Settings) -> Sample:
    if kind == KIND_BUYER:
        alert = AlertCorrected((date(2026, 10, 1),), date(2026, 12, 2))
        facilitator = Recipient(settings.facilitator_name, settings.facilitator_email)
        return Sample((BUYER_CONTACT, facilitator), buyer_context(LOT, SAMPLE, alert, settings))
    links = sample_links(settings.base_url, [SAMPLE.last_month], date(2027, 1, 6))
    context = company_left_context(
        LOT, SAMPLE, settings, correspondent=PARTNER_CORRESPONDENT.name, links=links
    )
    return Sample((PARTNER_CORRESPONDENT,), context)


FAMILY = EmailFamily("company_departures", KINDS, sample)
