"""The one list of email families: who writes which kind, and its sample."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workflow.emails import (
    award_removed,
    cancellations,
    company_departures,
    company_ends,
    company_pauses,
    digest,
    ladder,
    late_declarations,
    notices,
    planned_ends,
    receipts,
    summaries,
    welcome,
)
from workflow.emails.family import EmailFamily, Sample

if TYPE_CHECKING:
    from workflow.settings import Settings

FAMILIES: tuple[EmailFamily, ...] = (
    notices.FAMILY,
    company_pauses.FAMILY,
    company_ends.FAMILY,
    planned_ends.FAMILY,
    company_departures.FAMILY,
    welcome.FAMILY,
    award_removed.FAMILY,
    ladder.FAMILY,
    late_declarations.FAMILY,
    receipts.FAMILY,
    cancellations.FAMILY,
    digest.FAMILY,
    summaries.FAMILY,
)
_BY_KIND = {kind: family for family in FAMILIES for kind in family.kinds}


def kinds() -> list[str]:
    """Every kind a family writes, sorted (``templates/emails/`` has one folder for each)."""
    return sorted(_BY_KIND)


def family_of(kind: str) -> EmailFamily | None:
    return _BY_KIND.get(kind)


def sample(kind: str, settings: Settings) -> Sample:
    """``kind`` written for the sample territory; KeyError for a kind no family writes."""
    return _BY_KIND[kind].sample(kind, settings)
