"""The three emails of the declaration ladder: the call, the reminders (company), the alert before
formal notice (buyer and facilitator).

``services.reminders`` decides when a step leaves and groups the months of one company on one lot
whose same step leaves together (``LadderGroup``); ``services.reminder_emails`` keys them and reads
what was really sent. This module says what the templates read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from workflow.adapters.templates import french_date, french_month
from workflow.domain.calendar import (
    LadderDays,
    LadderStep,
    is_working_day,
    local_date,
    month_schedule,
    reminder_number,
    reminder_step,
    working_days_between,
)
from workflow.domain.declaration_links import expiry
from workflow.emails.envelope import Recipient
from workflow.emails.family import EmailFamily, Sample
from workflow.emails.howto import build_howto
from workflow.emails.links import DeclarationLink, links_context, sample_links
from workflow.emails.lots import Lot, Party, lot_context
from workflow.emails.month_lists import months_list
from workflow.emails.phrases import joined, month_runs, months_phrase
from workflow.emails.samples import BUYER_CONTACT, HOLDER, HOLDER_CORRESPONDENT, LOT

if TYPE_CHECKING:
    from workflow.settings import Settings

KIND_CALL = "declaration_call"
KIND_REMINDER = "declaration_reminder"
KIND_ESCALATION = "declaration_escalation"
KINDS = (KIND_CALL, KIND_REMINDER, KIND_ESCALATION)

STEP_LABELS: dict[str, str] = {
    LadderStep.CALL: "appel à déclaration",
    LadderStep.ESCALATION: "alerte au donneur d'ordre",
}


def step_kind(step: str) -> str:
    if step == LadderStep.CALL:
        return KIND_CALL
    if step == LadderStep.ESCALATION:
        return KIND_ESCALATION
    return KIND_REMINDER


def step_label(step: str) -> str:
    number = reminder_number(step)
    if number is not None:
        return f"rappel n° {number}"
    return STEP_LABELS.get(step, step)


def step_participle(step: str, masculine: str) -> str:
    """« envoyé » for the call and the reminders, « envoyée » for the alert (une alerte)."""
    return masculine + "e" if step == LadderStep.ESCALATION else masculine


def suspended_spans(days: LadderDays, start: date, end: date) -> list[tuple[date, date]]:
    """The suspensions (first and last day, as ``LadderDays.suspended`` holds them) whose days
    ``days.between(start, end)`` leaves out: those with a counted working day in (start, end]."""
    spans: list[tuple[date, date]] = []
    for day in sorted(days.suspended):
        if spans and day == spans[-1][1] + timedelta(days=1):
            spans[-1] = (spans[-1][0], day)
        else:
            spans.append((day, day))
    return [
        (first, last)
        for first, last in spans
        if any(
            start < first + timedelta(n) <= end and is_working_day(first + timedelta(n))
            for n in range((last - first).days + 1)
        )
    ]


def span_phrase(first: date, last: date) -> str:
    """« du 19 octobre au 16 novembre 2026 », « du 28 décembre 2026 au 4 janvier 2027 »,
    « le 19 octobre 2026 »."""
    if first == last:
        return f"le {french_date(first)}"
    start = french_date(first, "d MMMM") if first.year == last.year else french_date(first)
    return f"du {start} au {french_date(last)}"


def late_days_context(days: LadderDays, due_on: date, today: date) -> dict[str, Any]:
    """How late a month due on ``due_on`` is on ``today``, in the days the ladder counts, and
    what it leaves out: ``late_days``, ``suspended_late_days`` (the suspended working days not
    counted) and ``late_days_except`` (« hors suspension du 19 octobre au 16 novembre 2026 »,
    or None). A buyer reading « 15 jours ouvrés de retard » 35 working days after the due date
    is told why (user trial: the suspension was subtracted silently)."""
    late = days.between(due_on, today)
    spans = suspended_spans(days, due_on, today)
    left_out = working_days_between(due_on, today) - late if today > due_on else 0
    phrase = None
    if spans and left_out > 0:
        word = "suspension" if len(spans) == 1 else "suspensions"
        listed = [span_phrase(first, last) for first, last in spans]
        joined = listed[0] if len(listed) == 1 else ", ".join(listed[:-1]) + " et " + listed[-1]
        phrase = f"hors {word} {joined}"
    return {"late_days": late, "suspended_late_days": left_out, "late_days_except": phrase}


def facilitator_context(settings: Settings) -> dict[str, str]:
    return {
        "name": settings.facilitator_name,
        "title": settings.facilitator_title,
        "email": settings.facilitator_email,
        "phone": settings.facilitator_phone,
        "organisation": settings.facilitator_organisation,
    }


@dataclass(frozen=True)
class LadderGroup:
    """The months of one company on one lot whose same step leaves now, in one email."""

    clause_id: int
    company_id: int
    step: str
    months: tuple[date, ...]
    #: The due date the company is held to (the call's, pushed by suspended days).
    due_on: date
    reminders_total: int
    #: When the buyer would be alerted (told in the last reminder).
    escalation_on: date | None
    days: LadderDays = field(default_factory=LadderDays)


def ladder_context(
    *,
    lot: Lot,
    party: Party | None,
    company: str,
    correspondent: str | None,
    group: LadderGroup,
    today: date,
    settings: Settings,
    links: Sequence[DeclarationLink] = (),
) -> dict[str, Any]:
    """The context of the three kinds. ``party`` is None for a company no longer on the award
    (its role and share are then left blank); ``correspondent`` the name the email greets;
    ``links`` the company's web links for these months (none in the buyer's alert).
    The call adds ``declaration_howto``, the alert ``buyer`` and ``sent`` (``services``)."""
    number = reminder_number(group.step) or 0
    months = sorted(group.months)
    return {
        "clause": lot_context(lot),
        "company": {"name": company, "role": party.role_label if party else ""},
        "hours_share": party.hours_share if party else None,
        "correspondent": {"name": correspondent} if correspondent else None,
        # ``month`` is the oldest month; ``months`` all those the email covers.
        "month": months[0],
        "months": months,
        "months_count": len(months),
        "month_phrase": months_phrase(months),
        # « février, mars et avril 2027 »: what a template filled for several months covers
        # (the months asked and, with their links, the earlier ones still late).
        "months_list": months_list([*months, *(link.month for link in links)]),
        "due_on": group.due_on,
        "step": group.step,
        "number": number,
        "reminders_total": group.reminders_total,
        "last_reminder": group.reminders_total > 0 and number == group.reminders_total,
        # ``late_days``, and the suspensions it leaves out (``late_days_except``).
        **late_days_context(group.days, group.due_on, today),
        "escalation_on": group.escalation_on,
        "facilitator": facilitator_context(settings),
        "declaration_links": links_context(links),
        # Months asked again after their declaration was cancelled (``services``): each, and
        # for an email of one such month alone, that month (its due date and delay then count
        # from the new request).
        "asked_again": [],
        "reasked": None,
        # The company's earlier months on the lot still owed and late (``services``): what the
        # call and the reminders say of them, one sentence or a short list.
        "late_before": [],
        # The company's earlier months on the lot the buyer was already alerted of and still
        # missing (``services``): what the alert says of them (``alerted_before_context``).
        "alerted_before": None,
    }


#: « relancée une fois », « deux fois »…: the reminders a month late got.
_TIMES = {1: "une fois", 2: "deux fois", 3: "trois fois", 4: "quatre fois", 5: "cinq fois"}


@dataclass(frozen=True)
class LateMonth:
    """An earlier month of the company on the lot, called, still owed and past its due date
    when a call or a reminder of later months is written, and what happened to it then."""

    month: date
    #: The date the company is held to (``notices.owed_due_dates``).
    due_on: date
    #: The reminders of it that had left.
    reminders: int
    #: The day its alert to the buyer was queued, when the outbox held it before this email.
    alerted_on: date | None
    #: Else the day the ladder plans that alert for, when it is the month's next step.
    alert_on: date | None


def late_before_context(late: Sequence[LateMonth], today: date) -> list[dict[str, Any]]:
    """``late_before``: each month with its due date and what happened, each fact a phrase the
    templates join with « ; » (never a date or a step not certain when the email is written).
    An alert planned for the email's own day (``today``, local) is said « aujourd'hui »: a call
    of 2 November reading « je dois en informer le donneur d'ordre le 2 novembre 2026 » spoke
    of its own day as of a day to come (user trial, 7 December 2026)."""
    items: list[dict[str, Any]] = []
    for month in sorted(late, key=lambda m: m.month):
        status: list[str] = []
        if month.reminders:
            status.append("relancée " + _TIMES.get(month.reminders, f"{month.reminders} fois"))
        if month.alerted_on is not None:
            status.append(f"signalée au donneur d'ordre le {french_date(month.alerted_on)}")
        elif month.alert_on is not None and month.alert_on <= today:
            status.append("je dois en informer le donneur d'ordre aujourd'hui")
        elif month.alert_on is not None:
            status.append(
                f"je dois en informer le donneur d'ordre le {french_date(month.alert_on)}"
            )
        items.append(
            {
                "month": month.month,
                "month_phrase": months_phrase([month.month]),
                "due_on": month.due_on,
                "status": status,
            }
        )
    return items


#: How ``_base/late_before.txt`` opens the late list: one month in a sentence, several in a
#: short list, one line each (« - septembre 2026, attendue le … »), up to a blank line.
_LATE_ONE = "Par ailleurs, la déclaration {phrase}, attendue le "
_LATE_MANY = "Par ailleurs, ces déclarations ne me sont toujours pas parvenues :\n"
_LATE_ITEM = "- {name}, attendue le "


def late_list_names(text: str, month: date) -> bool:
    """Whether the plain text of a call or a reminder names ``month`` among the earlier months
    still late (``late_before``, rendered by ``_base/late_before.txt``): read from the words
    the company will read, not recomputed, since what matters once the month has arrived is
    whether the email waiting still says it is missing (``services.reminder_emails``)."""
    if _LATE_ONE.format(phrase=months_phrase([month])) in text:
        return True
    _, found, tail = text.partition(_LATE_MANY)
    if not found:
        return False
    item = _LATE_ITEM.format(name=french_month(month))
    return any(line.startswith(item) for line in tail.split("\n\n", 1)[0].splitlines())


#: How the alert opens its list of the earlier months already alerted (``_ALERTED_INTRO``),
#: read back by ``alerted_list_names``: keep the two in step.
_ALERTED_INTRO = "Par ailleurs, je vous ai déjà signalé "
_ALERTED_LOT = " de cette entreprise sur ce lot"
#: Up to this many months, each is named with the day of its alert; beyond, runs of months
#: in a row are said as a range and the alerts by their first and last day.
ALERTED_NAMED = 3
#: A run of this many months in a row or more is said « d'avril 2026 à décembre 2026 ».
_RANGE_FROM = 3


def alerted_before_context(alerted: Sequence[LateMonth]) -> dict[str, Any] | None:
    """``alerted_before``: the earlier months of the company on the lot still missing whose
    alert reached the buyer, or may (``LateMonth.alerted_on``), as the alert names them
    (user trial: the tenth monthly alert read as if it were the first). ``intro`` (« Par
    ailleurs, je vous ai déjà signalé 9 déclarations toujours manquantes de cette entreprise
    sur ce lot ») and ``listed``, joined by « : » (a non-breaking space before it in HTML).

    Few months are each named with the day of their alert (« avril 2026 (alerte du 3 juin
    2026) »); many are said compactly, months in a row as a range (« d'avril 2026 à décembre
    2026 (alertes du 3 juin 2026 au 3 février 2027) »). None when there is none."""
    months = sorted((m for m in alerted if m.alerted_on is not None), key=lambda m: m.month)
    if not months:
        return None
    count = len(months)
    what = (
        "une déclaration toujours manquante"
        if count == 1
        else f"{count} déclarations toujours manquantes"
    )
    if count <= ALERTED_NAMED:
        items = joined(
            [
                f"{french_month(m.month)} (alerte du {french_date(m.alerted_on)})"
                for m in months
                if m.alerted_on is not None
            ]
        )
    else:
        parts: list[str] = []
        for run in month_runs([m.month for m in months]):
            if len(run) >= _RANGE_FROM:
                parts.append(f"{months_phrase([run[0]])} à {french_month(run[-1])}")
            else:
                parts.extend(french_month(month) for month in run)
        days = sorted(m.alerted_on for m in months if m.alerted_on is not None)
        alerts = (
            f"alertes du {french_date(days[0])} au {french_date(days[-1])}"
            if days[0] != days[-1]
            else f"alertes du {french_date(days[0])}"
        )
        items = f"{joined(parts)} ({alerts})"
    return {
        "months": [m.month for m in months],
        "count": count,
        "intro": f"{_ALERTED_INTRO}{what}{_ALERTED_LOT}",
        "listed": items,
    }


#: A range of the compact list: « d'avril 2026 à décembre 2026 ».
_ALERTED_RANGE = re.compile(r"(?:de |d')(\w+ \d{4}) à (\w+ \d{4})")


def alerted_list_names(text: str, month: date) -> bool:
    """Whether the plain text of an alert names ``month`` among the earlier months already
    alerted (``alerted_before``): read from the words the buyer will read, as
    ``late_list_names`` reads a call's, to write again an alert waiting whose list names a
    month declared since (``services.reminder_emails``)."""
    _, found, tail = text.partition(_ALERTED_INTRO)
    if not found:
        return False
    _, colon, listed = tail.split("\n\n", 1)[0].partition(" : ")
    if not colon:
        return False
    names = {
        french_month(date(year, number, 1)): date(year, number, 1)
        for year in {int(y) for y in re.findall(r"\b(\d{4})\b", listed)}
        for number in range(1, 13)
    }
    for first, last in _ALERTED_RANGE.findall(listed):
        if first in names and last in names and names[first] <= month <= names[last]:
            return True
    single = re.compile(rf"(?:^|, | et ){re.escape(french_month(month))}(?: \(|,| et |\.?$)")
    return single.search(_ALERTED_RANGE.sub("", listed).strip()) is not None


# --- the sample -------------------------------------------------------------------------------

#: The month the sample ladder asks for: October 2026, called on time.
SAMPLE_MONTH = date(2026, 10, 1)


def sample(kind: str, settings: Settings) -> Sample:
    """October 2026 of the sample lot's holder, each step on its scheduled day."""
    zone = settings.zone
    schedule = month_schedule(SAMPLE_MONTH, settings.calendar_rules, zone)
    step = {
        KIND_CALL: LadderStep.CALL,
        KIND_REMINDER: reminder_step(1),
        KIND_ESCALATION: LadderStep.ESCALATION,
    }[kind]
    reminders = [s for s in schedule.steps if reminder_number(s.name) is not None]
    group = LadderGroup(
        clause_id=LOT.id,
        company_id=HOLDER.company_id,
        step=step,
        months=(SAMPLE_MONTH,),
        due_on=schedule.due_on,
        reminders_total=len(reminders),
        escalation_on=local_date(schedule.step(LadderStep.ESCALATION).at, zone),
    )
    sent_on = local_date(schedule.step(step).at, zone)
    links = (
        ()
        if kind == KIND_ESCALATION
        else sample_links(
            settings.base_url, group.months, expiry(sent_on, settings.link_days, group.due_on)
        )
    )
    context = ladder_context(
        lot=LOT,
        party=HOLDER,
        company=HOLDER.company,
        correspondent=HOLDER.correspondent,
        group=group,
        today=sent_on,
        settings=settings,
        links=links,
    )
    if kind == KIND_CALL:
        context["declaration_howto"] = build_howto(
            LOT,
            HOLDER.company,
            HOLDER.siret,
            [SAMPLE_MONTH],
            due_day=settings.declaration_due_day,
            due_dates={SAMPLE_MONTH: group.due_on},
        )
    if kind != KIND_ESCALATION:
        return Sample((HOLDER_CORRESPONDENT,), context)
    context["buyer"] = {"name": LOT.buyer}
    context["sent"] = [
        {"label": step_label(s.name), "text": f"envoyé le {french_date(local_date(s.at, zone))}"}
        for s in schedule.steps
        if s.name != LadderStep.ESCALATION
    ]
    facilitator = Recipient(settings.facilitator_name, settings.facilitator_email)
    return Sample((BUYER_CONTACT, facilitator), context)


FAMILY = EmailFamily("ladder", KINDS, sample)
