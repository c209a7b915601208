"""The company's welcome, sent at award: its role, its share, the months it will declare and how.

``services.notices.welcome_award`` sends one to each company of an award with a correspondent;
a late start's welcome announces the catch-up call's date (``CatchUp``), never the scheduled ones
already past.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from workflow.domain.calendar import CatchUp, month_start
from workflow.domain.declaration_links import expiry
from workflow.emails.envelope import Recipient
from workflow.emails.family import EmailFamily, Sample
from workflow.emails.howto import build_howto
from workflow.emails.links import DeclarationLink, links_context, sample_links
from workflow.emails.lots import Lot, Party, lot_context, parties_context, schedule_context
from workflow.emails.phrases import months_phrase
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
) -> dict[str, Any]:
    """``howto`` is the ``declaration_howto`` of this company's first months
    (``services.declaration_howto.declaration_material``). ``due_dates`` and ``catch_up``
    (``domain.calendar.expected_due_dates``): the dates the ladder will really give."""
    due_dates = due_dates or {}
    schedule = [
        {"month": row["month"], "due_on": due_dates.get(row["month"]) or row["due_on"]}
        for row in schedule_context(lot, due_day)
    ]
    return {
        "clause": lot_context(lot),
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
            "call_on": catch_up.call_on,
            "due_on": catch_up.due_on,
        },
        "due_day": due_day,
        "declaration_howto": howto,
        "declaration_links": links_context(links),
    }


def award_corrected_context(
    welcome: dict[str, Any], changes: Sequence[tuple[str, str, str]]
) -> dict[str, Any]:
    """The welcome's context as it would be written now (``welcome_context``), with what
    changed for the company (what, before, after): the corrected award's short email."""
    return {
        **welcome,
        "changes": [{"what": w, "before": b, "after": a} for w, b, a in changes],
    }


def sample(kind: str, settings: Settings) -> Sample:
    """The holder welcomed at award, before the start: its first month is the start's."""
    due_day = settings.declaration_due_day
    assert LOT.start_date is not None
    first = month_start(LOT.start_date)
    howto = build_howto(LOT, HOLDER.company, HOLDER.siret, [first], due_day=due_day)
    # Welcomed at the award, a month before the start.
    expires_on = expiry(SAMPLE_AWARDED_ON, settings.link_days)
    context = welcome_context(
        LOT,
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
            context, [("Démarrage", "16 février 2026", "2 mars 2026")]
        )
    return Sample((HOLDER_CORRESPONDENT,), context)


FAMILY = EmailFamily("welcome", KINDS, sample)
