"""The company's welcome, sent at award: its role, its share, the months it will declare and how.

``services.notices.welcome_award`` sends one to each company of an award with a correspondent;
a late start's welcome announces the catch-up call's date (``CatchUp``), never the scheduled ones
already past. Written before the start (always, from the services: an award is recorded at the
stage « attribution »), it gives its first call's date and due date as what follows a start
recorded by the day before that call (``first_call_context``): recorded later, the call leaves
the working day after it. A started lot's dates (a preview) are stated as facts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from workflow.adapters.templates import french_date
from workflow.domain.calendar import CatchUp, add_months, due_date, first_working_day, month_start
from workflow.domain.declaration_links import expiry
from workflow.domain.stages import Stage
from workflow.emails.envelope import Recipient
from workflow.emails.family import EmailFamily, Sample
from workflow.emails.howto import build_howto
from workflow.emails.links import DeclarationLink, links_context, sample_links
from workflow.emails.lots import NOT_STARTED as NOT_STARTED
from workflow.emails.lots import Lot, Party, lot_context, parties_context, schedule_context
from workflow.emails.phrases import month_phrase, months_phrase, months_said
from workflow.emails.samples import HOLDER, HOLDER_CORRESPONDENT, LOT, PARTIES

if TYPE_CHECKING:
    from workflow.settings import Settings

KIND = "company_welcome"
#: The short email to a company already welcomed whose award was corrected after its welcome
#: left (``services.award_company_notices``): what changed for it, and its first declaration.
CORRECTED_KIND = "company_award_corrected"
KINDS = (KIND, CORRECTED_KIND)
#: The day the sample lot was awarded (``emails.notices.SAMPLE_MILESTONES``).
SAMPLE_AWARDED_ON = date(2026, 2, 9)
#: The stages of a lot whose works are under way: its months' calls leave, or left, one by one
#: at the start of each month (or wait for the resumption); a schedule computed from the start
#: would be untrue (its first month long past, a catch-up call dated in the past).
IN_WORKS = frozenset({Stage.EXECUTION.value, Stage.SUSPENDED.value})


def first_call_context(
    schedule: Sequence[Mapping[str, date]], catch_up: CatchUp | None
) -> dict[str, Any] | None:
    """The first call the company will get: the months it asks for, the day it leaves, the due
    date it gives, and ``record_by``, the last day a start recorded then still gives these dates.

    The ladder's first call leaves at the later of the first month's scheduled call and the
    working day after the start is recorded (``domain.calendar.expected_due_dates``): a start
    recorded on or before the day before the call keeps the call and its due date; recorded
    later, the call leaves the working day after it, with the usual delay counted from it. Pure.
    """
    if catch_up is not None:
        months: list[date] = list(catch_up.months)
        call_on, due_on, late = catch_up.call_on, catch_up.due_on, True
    elif schedule:
        first = schedule[0]
        months = [first["month"]]
        call_on = first_working_day(add_months(first["month"], 1))
        due_on, late = first["due_on"], False
    else:
        return None
    return {
        "months": months,
        "month_phrase": months_phrase(months),
        "call_on": call_on,
        "due_on": due_on,
        "record_by": call_on - timedelta(days=1),
        "late": late,
    }


def months_ended_said(months: Sequence[date], today: date | None) -> str:
    """« Les mois de janvier et de février 2027 sont déjà terminés », or, the last of them the
    month of ``today`` (a welcome written on 20 or 31 March for a call on 1 April), « …, et celui
    de mars 2027 s'achève le 31 mars 2027 »: it said « sont déjà terminés » of March on the 20th.
    ``today`` None: the sample's award day, long before. Pure."""
    current = month_start(today) if today is not None else None
    past = [m for m in sorted(months) if current is None or m < current]
    ending = [m for m in months if current is not None and m >= current]
    if not ending:
        many = len(past) > 1
        return f"{'Les mois' if many else 'Le mois'} {months_phrase(past)} " + (
            "sont déjà terminés" if many else "est déjà terminé"
        )
    last_day = add_months(ending[0], 1) - timedelta(days=1)
    ends = f"s'achève le {french_date(last_day)}"
    if not past:
        return f"Le mois {month_phrase(ending[0])} {ends}"
    many = len(past) > 1
    done = f"{'Les mois' if many else 'Le mois'} {months_phrase(past)} " + (
        "sont déjà terminés" if many else "est déjà terminé"
    )
    return f"{done}, et celui {month_phrase(ending[0])} {ends}"


def welcome_context(
    lot: Lot,
    parties: Sequence[Party],
    party: Party,
    correspondent: Recipient,
    *,
    due_day: int,
    howto: dict[str, Any],
    due_dates: Mapping[date, date] | None = None,
    catch_up: CatchUp | None = None,
    links: Sequence[DeclarationLink] = (),
    joined: date | None = None,
    called: Mapping[date, date] | None = None,
    today: date | None = None,
) -> dict[str, Any]:
    """``howto`` is the ``declaration_howto`` of this company's first months
    (``services.declaration_howto.declaration_material``). ``due_dates`` and ``catch_up``
    (``domain.calendar.expected_due_dates``): the dates the ladder will really give.
    ``joined``: the first month of a company joining during the works, which declares from it
    (the months before are not in its schedule). ``called``: for a lot in works
    (``IN_WORKS``), the months whose call to this company left, with the due date it gave: the
    only dates written; the next months' calls leave at the start of each month (in
    suspension, after the resumption), with no first-call or catch-up schedule. None: the
    dates of ``due_dates`` (a lot not started, a company joining the works now)."""
    due_dates = due_dates or {}
    works = lot.stage in IN_WORKS and called is not None
    if works:
        catch_up = None
        schedule = [
            {"month": month, "due_on": due_on}
            for month, due_on in sorted((called or {}).items())
            if joined is None or month >= joined
        ]
    else:
        schedule = [
            {"month": row["month"], "due_on": due_dates.get(row["month"]) or row["due_on"]}
            for row in schedule_context(lot, due_day)
            if joined is None or row["month"] >= joined
        ]
    first_call = None if works else first_call_context(schedule, catch_up)
    if first_call is not None:
        first_call["ended_said"] = months_ended_said(first_call["months"], today)
        # Written on the last day a start recorded still gives these dates (a welcome leaving on
        # 31 March at 20:05 for a call on 1 April): « aujourd'hui même, le 31 mars 2027 », not
        # « au plus tard le 31 mars 2027 », a promise of four hours read as one of days (user
        # trial). Held past that day, the welcome is written again (``promised_until``).
        first_call["record_today"] = today is not None and first_call["record_by"] == today
    return {
        "clause": lot_context(lot),
        # Not started: every date of the first call holds only if the start is recorded in time,
        # and the templates say so; started, the ladder's dates are facts.
        "started": lot.stage not in NOT_STARTED,
        "first_call": first_call,
        "works": works,
        "suspended": lot.stage == Stage.SUSPENDED.value,
        # Its planned start behind the day it is written: the company is asked whether the
        # works began, not to fix a start meeting (``today``: None, the sample's award day).
        "start_passed": today is not None and lot.start_passed(today),
        # The works under way on the day it is written (started, its start date reached): the
        # start-up meeting is behind them. A start recorded ahead of its date (on 20 March for
        # 1 April) keeps the meeting to fix; a lot past its works proposes neither.
        "works_begun": today is not None
        and lot.stage in IN_WORKS
        and lot.start_date is not None
        and lot.start_date <= today,
        "works_over": lot.stage not in NOT_STARTED and lot.stage not in IN_WORKS,
        "company": {"name": party.company},
        "correspondent": {"name": correspondent.name, "email": correspondent.email},
        "role": party.role_label,
        "is_holder": party.is_holder,
        "hours_share": party.hours_share,
        "parties": parties_context(parties),
        "schedule": schedule,
        "catch_up": None
        if catch_up is None
        else {
            "months": list(catch_up.months),
            "month_phrase": months_phrase(catch_up.months),
            "ended_said": months_ended_said(catch_up.months, today),
            "call_on": catch_up.call_on,
            "due_on": catch_up.due_on,
        },
        "due_day": due_day,
        "joined": month_phrase(joined) if joined is not None else None,
        "declaration_howto": howto,
        "declaration_links": links_context(links),
    }


def award_corrected_context(
    welcome: dict[str, Any],
    changes: Sequence[tuple[str, str, str]],
    *,
    since_welcome: bool = True,
    no_longer_asked: Sequence[date] = (),
    newly_asked: Sequence[date] = (),
    template_attached: bool = False,
) -> dict[str, Any]:
    """The welcome's context as it would be written now (``welcome_context``), with what
    changed for the company (what, before, after): the corrected award's short email.
    ``since_welcome``: the « before » is what its welcome said; else what the email of an
    earlier correction said (the last one that left). ``no_longer_asked``: the months that email
    asked that the start, moved later, leaves before it; ``newly_asked``: the months the start,
    moved earlier, brings in, which that email did not ask. ``template_attached``: the declaration
    template of its first months (``declaration_howto``) goes with it, replacing the one the
    earlier email carried."""
    howto_months = [row["month"] for row in welcome["declaration_howto"]["months"]]
    first_call = welcome.get("first_call")
    if first_call:
        # Nothing writes this email again if it is held past the day it was written (a welcome
        # is, ``promised_until``): « aujourd'hui même » would then be false; the date stays true.
        first_call = {**first_call, "record_today": False}
    return {
        **welcome,
        "first_call": first_call,
        "changes": [{"what": w, "before": b, "after": a} for w, b, a in changes],
        # A start moved, already past and not recorded: the welcome's question on the start
        # named the old date, which « le reste … reste valable » would keep (user trial).
        "start_changed": any(w == "Démarrage" for w, _, _ in changes),
        "since_welcome": since_welcome,
        "no_longer_asked": None
        if not no_longer_asked
        else {"months": len(no_longer_asked), "said": months_said(no_longer_asked)},
        "newly_asked": None
        if not newly_asked
        else {"months": len(newly_asked), "said": months_said(newly_asked)},
        "template": {"months": months_said(howto_months)}
        if template_attached and howto_months
        else None,
    }


def sample(kind: str, settings: Settings) -> Sample:
    """The holder welcomed at award, before the start: its first month is the start's."""
    due_day = settings.declaration_due_day
    # Welcomed at the award: the lot is not started yet (a welcome always leaves then).
    lot = replace(LOT, stage=Stage.AWARD.value)
    assert lot.start_date is not None
    first = month_start(lot.start_date)
    howto = build_howto(lot, HOLDER.company, HOLDER.siret, [first], due_day=due_day)
    # Welcomed at the award, a month before the start.
    expires_on = expiry(SAMPLE_AWARDED_ON, settings.link_days, due_date(first, due_day))
    context = welcome_context(
        lot,
        PARTIES,
        HOLDER,
        HOLDER_CORRESPONDENT,
        due_day=due_day,
        howto=howto,
        links=sample_links(settings.base_url, [first], expires_on),
    )
    if kind == CORRECTED_KIND:
        # Corrected after the welcome left: the start put back a fortnight.
        context = award_corrected_context(
            context,
            [("Démarrage", "16 février 2026", "2 mars 2026")],
            no_longer_asked=[date(2026, 2, 1)],
            template_attached=True,
        )
    return Sample((HOLDER_CORRESPONDENT,), context)


FAMILY = EmailFamily("welcome", KINDS, sample)
