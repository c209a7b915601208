"""The emails of a company that left the site (``services.departure_notices``) name, through
their key ``company_left[_buyer]:<clause>:<company>:<YYYY-MM>``, a departure that was recorded:
a company of that lot's award whose last month is that month or an earlier one (a last month
may be moved earlier since), and a history row of a departure on that lot.

Its own module: ``audit.outbox`` hands it the rows of these two prefixes (a departure is rare,
its rows are read one by one)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.orm import AwardParty, ClauseHistory, OutboxMessage
from workflow.emails.company_departures import (
    BUYER_KEY_PREFIX,
    KEY_PREFIX,
    KIND_BUYER,
    KIND_COMPANY,
)
from workflow.services.company_departures import COMPANY_LEFT

#: The key prefixes of these emails, and the kind each implies.
PREFIXES = {KEY_PREFIX: KIND_COMPANY, BUYER_KEY_PREFIX: KIND_BUYER}


def check_departure_email(
    session: Session, row: OutboxMessage, parts: list[str], problems: list[str]
) -> None:
    expected = PREFIXES[parts[0]]
    if row.kind != expected:
        problems.append(f"type « {row.kind} » alors que la clé dit « {expected} »")
    if len(parts) != 4 or not parts[1].isdigit() or not parts[2].isdigit():
        problems.append("clé de courriel de départ du chantier illisible")
        return
    clause_id, company_id = int(parts[1]), int(parts[2])
    if row.clause_id is not None and row.clause_id != clause_id:
        problems.append(f"rattaché à la clause n° {row.clause_id}, sa clé nomme la n° {clause_id}")
    try:
        month = datetime.strptime(parts[3], "%Y-%m").date()
    except ValueError:
        problems.append(f"mois « {parts[3]} » de la clé illisible")
        return
    last = session.scalar(
        select(AwardParty.last_month).where(
            AwardParty.clause_id == clause_id, AwardParty.company_id == company_id
        )
    )
    if last is None or last > month:
        problems.append(
            f"l'entreprise n° {company_id} n'a pas quitté le chantier de la clause n° "
            f"{clause_id} en {month:%m/%Y} ou avant"
        )
    recorded = session.scalar(
        select(ClauseHistory.id)
        .where(ClauseHistory.clause_id == clause_id, ClauseHistory.event == COMPANY_LEFT)
        .limit(1)
    )
    if recorded is None:
        problems.append(f"aucun départ d'entreprise à l'historique de la clause n° {clause_id}")
