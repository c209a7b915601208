"""A company that left the site during the works: its last month on the lot recorded
(``services.company_departures``), from the command line.

A clause is designated by its N° or « RÉFÉRENCE/LOT » (``2026-014/01``), a company by its N°,
SIRET or name (``lookup``).
"""

from __future__ import annotations

from datetime import date

from workflow.app.lookup import find_clause, find_company
from workflow.app.unit import unit_of_work
from workflow.runtime import App
from workflow.services import company_departures
from workflow.services.company_departures import Departure, departure_sentence
from workflow.services.reminder_emails import LadderRewrite

__all__ = ["Departure", "departure_sentence", "record_departure"]

Designation = str | int


def record_departure(
    app: App,
    clause: Designation,
    company: Designation,
    last_month: date,
    *,
    reason: str,
    actor: str | None = None,
    field: str = "Dernier mois",
    reason_field: str = "Motif",
) -> Departure:
    """Record that ``company`` left the works of ``clause`` after ``last_month``: no month after
    it is asked of it any more, its emails still waiting for those months withdrawn (or written
    again for the months it still owes). ``field`` and ``reason_field`` name the month and the
    reason as the interface does."""
    with unit_of_work(app, actor) as unit:
        clause_id = find_clause(unit.session, clause).id
        company_id = find_company(unit.session, company).id
        return company_departures.record_departure(
            unit.session,
            clause_id,
            company_id,
            last_month,
            reason=reason,
            actor=unit.actor,
            now=unit.now,
            rewriter=LadderRewrite(unit.app),
            field=field,
            reason_field=reason_field,
        )
