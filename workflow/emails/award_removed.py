"""The short email to a company taken out of a lot's award after it was told it was in it.

``services.award_company_notices`` writes one when an award correction (``AwardCorrected``)
takes out a company whose welcome, or whose last « attribution corrigée », left (or may have):
without it, the company would keep believing it must declare its months, and be left to guess
why no call ever comes. It names the lot, the day the company left the award, what the award
gave it until then, and what it owes now: nothing. That is the service's rule, not a hope:
``services.clauses.apply_award`` refuses to take out a company that declared or was called on
the lot, so a company taken out was never asked a month; its party row gone, no call or reminder
is ever written for it, and the links of the emails it got are refused
(``app.online_declarations``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING, Any

from workflow.domain.french_numbers import french_hours
from workflow.domain.stages import Stage
from workflow.domain.vocabulary import PARTY_ROLE_LABELS, PartyRole
from workflow.emails.envelope import Recipient
from workflow.emails.family import EmailFamily, Sample
from workflow.emails.lots import Lot, lot_context
from workflow.emails.samples import LOT, PARTNER

if TYPE_CHECKING:
    from workflow.settings import Settings

KIND = "company_award_removed"
KINDS = (KIND,)
#: The sample's reader: the co-contractor's correspondent.
SAMPLE_CORRESPONDENT = Recipient("Inès Moreau", "ines.moreau@example.org")


def award_removed_context(
    lot: Lot,
    company: str,
    correspondent: Recipient,
    *,
    removed_on: date,
    was: str,
    since_welcome: bool,
    told_on: date | None,
    may_arrive: bool,
) -> dict[str, Any]:
    """``removed_on``: the day of the correction that took the company out (local);
    ``was``: what the award gave it until then, in the words of the correction's history
    (« cotraitant, 200 h d'insertion »); ``since_welcome``: the last email that told it of the
    award is its welcome (else an « attribution corrigée »), sent on ``told_on`` (None: not known
    to have left); ``may_arrive``: that email was still leaving (``sending``, ``uncertain``) and
    may reach the company after this one. Pure."""
    return {
        "clause": lot_context(lot),
        "company": {"name": company},
        "correspondent": {"name": correspondent.name, "email": correspondent.email},
        "removed_on": removed_on,
        "was": was,
        "since_welcome": since_welcome,
        "told_on": told_on,
        "may_arrive": may_arrive,
    }


def sample(kind: str, settings: Settings) -> Sample:
    """The co-contractor welcomed on 9 February, taken out of the award on 23 February, before
    the start."""
    lot = replace(LOT, stage=Stage.AWARD.value)
    # As ``services.clauses._award_changes`` words it, without the correspondent's name.
    role = PARTY_ROLE_LABELS[PartyRole(PARTNER.role)]
    context = award_removed_context(
        lot,
        PARTNER.company,
        SAMPLE_CORRESPONDENT,
        removed_on=date(2026, 2, 23),
        was=f"{role}, {french_hours(PARTNER.hours_share or 0)} d'insertion",
        since_welcome=True,
        told_on=date(2026, 2, 9),
        may_arrive=False,
    )
    return Sample((SAMPLE_CORRESPONDENT,), context)


FAMILY = EmailFamily("award_removed", KINDS, sample)
