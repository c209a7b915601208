"""The emails of a company that left the site (``services.departure_notices``).

- ``company_left``: to the company's correspondent, once its last month on the lot is
  recorded: which lot, its last month, that no month after it will be asked, and what it still
  owes up to it (each month with its due date and page), or that it has nothing left to declare.
- ``notice_company_left``: to the buyer (and the facilitator, as the alert), only when an alert
  before formal notice named a month the departure releases: that month is not expected any
  more, a formal notice about it would have no object. Each alert is named by its day, those
  still waiting « si elle vous parvient », the months and the verbs plural when several.

A departure moved earlier after its emails left writes new ones that say they replace the
email of that day (``CompanyLeft.replaces_on``).

Neither names a participant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, Any

from workflow.adapters.templates import french_date, french_month
from workflow.emails.envelope import Recipient
from workflow.emails.family import EmailFamily, Sample
from workflow.emails.ladder import facilitator_context
from workflow.emails.links import DeclarationLink, links_context, sample_links
from workflow.emails.lots import Lot, lot_context
from workflow.emails.phrases import MONTHS_NAMED, month_phrase, months_compact, months_phrase
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
    """A month up to the last one the company has not declared, and its due date: the one its
    call gave (pushed later by the days the lot spent suspended after the call, as the reminders
    count it) or will give; None while the lot is suspended and the month not called yet (it
    is asked after the resumption, with a date counted from then: « à la reprise »)."""

    month: date
    due_on: date | None


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
    #: The reminders that reached the company for each of ``released`` (same order): what the
    #: email says to ignore is what was sent (« l'appel », « l'appel et les 2 rappels »; user
    #: trial: « l'appel et les rappels » of a month that had had its call only). None: not
    #: known, the email says « les courriels ».
    released_reminders: tuple[int, ...] | None = None
    #: The day an email of an earlier last month left (the departure moved earlier since):
    #: this one replaces it. None: no earlier one reached its reader (withdrawn before it left).
    replaces_on: date | None = None


def _owed(owed: Sequence[OwedMonth], today: date) -> list[dict[str, Any]]:
    return [
        {
            "month": o.month,
            "phrase": month_phrase(o.month),
            "due_on": o.due_on,
            "late": o.due_on is not None and o.due_on < today,
            "at_resumption": o.due_on is None,
        }
        for o in sorted(owed, key=lambda o: o.month)
    ]


def released_sent(released: Sequence[date], reminders: Sequence[int] | None) -> str:
    """What the company received for the months no longer asked, to ignore: « l'appel reçu
    pour lui », « l'appel et les 2 rappels reçus pour lui », « les 3 appels et le rappel reçus
    pour eux »; « les courriels reçus pour lui » when the reminders are not known."""
    many = len(released) > 1
    them = "eux" if many else "lui"
    if reminders is None or len(reminders) != len(released):
        return f"les courriels reçus pour {them}"
    total = sum(reminders)
    calls = f"les {len(released)} appels" if many else "l'appel"
    if total == 0:
        return f"{calls} reçu{'s' if many else ''} pour {them}"
    sent = "le rappel" if total == 1 else f"les {total} rappels"
    return f"{calls} et {sent} reçus pour {them}"


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
        "released_phrase": months_compact(left.released) if left.released else "",
        "released_sent": released_sent(left.released, left.released_reminders),
        "replaces_on": left.replaces_on,
        "facilitator": facilitator_context(settings),
        "declaration_links": links_context(links),
    }


@dataclass(frozen=True)
class AlertNamed:
    """One alert to the buyer that named months the departure releases: its day (sent, or
    written when still waiting), those months, and whether it was recorded sent (else it may
    still reach the buyer)."""

    on: date
    months: tuple[date, ...]
    left: bool = True


@dataclass(frozen=True)
class AlertCorrected:
    """The alerts to the buyer that named months the departure releases, in their order."""

    alerts: tuple[AlertNamed, ...]

    @property
    def months(self) -> tuple[date, ...]:
        return tuple(sorted({m for alert in self.alerts for m in alert.months}))


def _days_phrase(days: Sequence[date]) -> str:
    """« du 4 janvier, du 1er février et du 3 mars 2027 »: the year once when they share it;
    beyond ``MONTHS_NAMED`` days, the first and the last (« du 31 août 2026 au 1er avril
    2027 »), as the alert names the alerts before it."""
    ordered = sorted(set(days))
    if len(ordered) > MONTHS_NAMED:
        first, last = ordered[0], ordered[-1]
        start = french_date(first, "d MMMM") if first.year == last.year else french_date(first)
        return f"du {start} au {french_date(last)}"
    same_year = len({d.year for d in ordered}) == 1
    phrases = [
        f"du {french_date(d, 'd MMMM') if same_year and i < len(ordered) - 1 else french_date(d)}"
        for i, d in enumerate(ordered)
    ]
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " et " + phrases[-1]


def months_list(months: Sequence[date]) -> str:
    """« d'octobre 2026 »; « de septembre, octobre et novembre 2026 »; « de novembre 2026,
    décembre 2026 et janvier 2027 »: one « de », each year once when they share it; beyond
    ``MONTHS_NAMED`` months, those in a row as a range (``months_compact``)."""
    ordered = sorted(set(months))
    if len(ordered) > MONTHS_NAMED:
        return months_compact(ordered)
    first = month_phrase(ordered[0])
    if len(ordered) == 1:
        return first
    same_year = len({m.year for m in ordered}) == 1
    names = [french_month(m) for m in ordered]
    if same_year:
        names = [n.rsplit(" ", 1)[0] for n in names[:-1]] + [names[-1]]
    article = first[: len(first) - len(french_month(ordered[0]))]
    return article + ", ".join(names[:-1]) + " et " + names[-1]


def alerts_phrase(alerts: Sequence[AlertNamed]) -> str:
    """Who said the months were missing, with its verb: « Mon alerte du 4 janvier 2027 vous
    signalait », « Mes alertes du 4 janvier et du 1er février 2027 vous signalaient »; an alert
    still waiting « si elle vous parvient » (« vous signale »), each alert as it stands."""
    sent = [a.on for a in alerts if a.left]
    waiting = [a.on for a in alerts if not a.left]
    if not waiting:
        return (
            f"Mon alerte {_days_phrase(sent)} vous signalait"
            if len(sent) == 1
            else f"Mes alertes {_days_phrase(sent)} vous signalaient"
        )
    if not sent:
        return (
            f"Mon alerte {_days_phrase(waiting)}, si elle vous parvient, vous signale"
            if len(waiting) == 1
            else f"Mes alertes {_days_phrase(waiting)}, si elles vous parviennent, vous signalent"
        )
    head = (
        f"Mon alerte {_days_phrase(sent)}"
        if len(sent) == 1
        else f"Mes alertes {_days_phrase(sent)}"
    )
    tail = (
        f"celle {_days_phrase(waiting)} si elle vous parvient"
        if len(waiting) == 1
        else f"celles {_days_phrase(waiting)} si elles vous parviennent"
    )
    return f"{head} (et {tail}) vous signalaient"


def buyer_context(
    lot: Lot, left: CompanyLeft, alert: AlertCorrected, settings: Settings
) -> dict[str, Any]:
    months = alert.months
    return {
        **company_left_context(lot, left, settings),
        "alerts_phrase": alerts_phrase(alert.alerts),
        "alert_count": len(alert.alerts),
        "corrected": list(months),
        "corrected_count": len(months),
        "corrected_phrase": months_phrase(months),
        "corrected_list": months_list(months),
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
    released_reminders=(2,),
    role=PARTNER.role_label,
)


#: The buyer's sample: the same departure recorded on 3 February 2027, after three alerts named
#: October (2 December), November (4 January) and December (2 February, still waiting).
BUYER_SAMPLE = replace(
    SAMPLE,
    today=date(2027, 2, 3),
    released=(date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1), date(2027, 1, 1)),
    released_reminders=(2, 2, 2, 0),
)
BUYER_ALERTS = AlertCorrected(
    (
        AlertNamed(date(2026, 12, 2), (date(2026, 10, 1),)),
        AlertNamed(date(2027, 1, 4), (date(2026, 11, 1),)),
        AlertNamed(date(2027, 2, 2), (date(2026, 12, 1),), left=False),
    )
)


def sample(kind: str, settings: Settings) -> Sample:
    if kind == KIND_BUYER:
        facilitator = Recipient(settings.facilitator_name, settings.facilitator_email)
        context = buyer_context(LOT, BUYER_SAMPLE, BUYER_ALERTS, settings)
        return Sample((BUYER_CONTACT, facilitator), context)
    links = sample_links(settings.base_url, [SAMPLE.last_month], date(2027, 1, 6))
    context = company_left_context(
        LOT, SAMPLE, settings, correspondent=PARTNER_CORRESPONDENT.name, links=links
    )
    return Sample((PARTNER_CORRESPONDENT,), context)


FAMILY = EmailFamily("company_departures", KINDS, sample)
