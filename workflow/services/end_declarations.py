"""The monthly declarations of a lot at its end, counted for the buyer's notices of the end.

The notice of the end (or of a termination) and the notice of an end corrected tell the buyer
how many declarations were received out of how many, and how many are still owed
(``emails.end_counts``). They are counted here, company by company, with the rule of ``clauses
declaration list`` (``declaration_views``) and of the companies' own emails
(``months_owed.owed_up_to_many``): from each company's first month on the lot up to the lot's
end (its recorded one, else its planned one), never after its own last month (it left the
site), never a month the lot spent suspended whole; a month declared all the same (recorded by
the facilitator outside its months) counts as received and as expected. So X + Z = Y, and Y is
what ``declaration list --clause N`` expects once the month of the end is open.

The month of the end is counted owed from the day of the end: it will be asked of the
companies, though ``declaration list`` shows it only from the day it can be declared (its last
working day); a notice saying « réalisées » before then would be untrue.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from workflow.adapters.orm import Clause, Declaration
from workflow.domain.calendar import month_start
from workflow.emails.end_counts import DeclarationCounts, declarations_context
from workflow.emails.notices import months_named
from workflow.services.months_owed import Owing, owed_up_to_many


def end_counts(session: Session, clause: Clause, zone: ZoneInfo) -> DeclarationCounts:
    """The declarations the companies of the award as it stands received and still owe, up to
    the lot's end (module docstring). Two statements at most, three with suspensions."""
    parties = list(clause.parties)
    declared: dict[int, set[date]] = defaultdict(set)
    received = 0
    if parties:
        for company_id, month in session.execute(
            select(Declaration.company_id, Declaration.month).where(
                Declaration.clause_id == clause.id,
                Declaration.company_id.in_([p.company_id for p in parties]),
            )
        ):
            declared[company_id].add(month_start(month))
            received += 1
    last = clause.end_date or clause.planned_end_date
    owed = (
        owed_up_to_many(session, [Owing.of(clause, p) for p in parties], last, zone)
        if last is not None
        else {}
    )
    asked = [declared[p.company_id] | set(owed.get((clause.id, p.company_id), ())) for p in parties]
    # « (n mois × m entreprises) » is true only when every company is asked the same months.
    same = bool(asked) and all(months == asked[0] for months in asked)
    named = sorted(
        (p.company.name, months_named(months))
        for p in parties
        if (months := owed.get((clause.id, p.company_id)))
    )
    return DeclarationCounts(
        received=received,
        owed=sum(len(months) for months in owed.values()),
        companies=len(parties),
        months_each=len(asked[0]) if same else None,
        owed_named=tuple(named),
    )


def end_declarations(clause: Clause, zone: ZoneInfo, *, results: object | None) -> dict[str, Any]:
    """``{"declarations": …}`` for a buyer notice that reports the lot's figures (``results``
    given, ``emails.notices.RESULT_KINDS``), as the database holds them now; nothing for the
    others."""
    session = object_session(clause)
    if results is None or session is None:
        return {}
    return {"declarations": declarations_context(end_counts(session, clause, zone))}
