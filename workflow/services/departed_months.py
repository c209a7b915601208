"""The months a company that left the site no longer owes, for the readers of the months owed.

``AwardParty.last_month`` (``company_departures`` records it): a month after it is asked of
that company no more. Of its own module, importing only the tables, so that every reader (the
day's tasks, the summaries, ``declaration list``) can use it without importing the recording
side and the clauses' services.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, select, text

from workflow.adapters.orm import AwardParty

#: The companies that left a lot, as the partial index ``ix_award_parties_left`` is written.
LEFT_PARTIES = "last_month IS NOT NULL"


def not_after_departure(clause_id: Any, company_id: Any, month: Any) -> ColumnElement[bool]:
    """SQL: ``month`` (a first of the month) of the company ``company_id`` on the lot
    ``clause_id`` is not after its last month, where it left the site (most companies never
    did: every month). Written as the partial index ``ix_award_parties_left`` is, so that the
    few companies that left are read from it alone."""
    return ~(
        select(AwardParty.id)
        .where(
            text(LEFT_PARTIES),
            AwardParty.clause_id == clause_id,
            AwardParty.company_id == company_id,
            AwardParty.last_month < month,
        )
        .exists()
    )
