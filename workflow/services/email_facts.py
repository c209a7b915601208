"""The plain values the emails are written from (``emails.lots``), read off the ORM's rows: the
one place where a clause becomes a ``Lot`` and its award rows ``Party`` values."""

from __future__ import annotations

from workflow.adapters.orm import AwardParty, Clause, Correspondent, Declaration
from workflow.domain.vocabulary import ENTERED_FOR_COMPANY
from workflow.emails.envelope import Recipient
from workflow.emails.lots import Lot, Party
from workflow.emails.receipts import Declared, DeclaredLine


def lot_of(clause: Clause) -> Lot:
    market = clause.market
    operation = market.operation
    return Lot(
        id=clause.id,
        buyer=operation.buyer.name,
        operation=operation.name,
        place=operation.place,
        market=market.reference,
        market_title=market.title,
        lot_number=clause.lot_number,
        lot_title=clause.lot_title,
        trade=clause.trade,
        stage=clause.stage,
        amount_excl_tax=clause.amount_excl_tax,
        labour_share=clause.labour_share,
        insertion_rate=clause.insertion_rate,
        hourly_cost=clause.hourly_cost,
        hours_computed=clause.hours_computed,
        hours_override=clause.hours_override,
        override_reason=clause.override_reason,
        planned_notification=clause.planned_notification,
        start_date=clause.start_date,
        planned_end_date=clause.planned_end_date,
        end_date=clause.end_date,
        final_report=clause.final_report,
    )


def party_of(party: AwardParty) -> Party:
    """``correspondent`` is the one named at award (the parties' list shows only that one)."""
    return Party(
        company_id=party.company_id,
        company=party.company.name,
        city=party.company.city,
        siret=party.company.siret,
        role=party.role,
        hours_share=party.hours_share,
        correspondent=party.correspondent.name if party.correspondent else None,
    )


def party_correspondent(party: AwardParty) -> Correspondent | None:
    """The correspondent named at award, else the company's first one."""
    if party.correspondent is not None:
        return party.correspondent
    return party.company.correspondents[0] if party.company.correspondents else None


def party_recipient(party: AwardParty) -> Recipient | None:
    """Whom the company's emails on the lot are written to (``party_correspondent``), if it has
    an address: the ladder's reader."""
    correspondent = party_correspondent(party)
    if correspondent is None or not correspondent.email.strip():
        return None
    return Recipient(correspondent.name, correspondent.email)


def parties_of(clause: Clause) -> list[Party]:
    return [party_of(party) for party in clause.parties]


def declared_of(declaration: Declaration) -> Declared:
    return Declared(
        id=declaration.id,
        month=declaration.month,
        total_hours=declaration.total_hours,
        recorded_at=declaration.recorded_at,
        entered_for_company=declaration.source in ENTERED_FOR_COMPANY,
        lines=tuple(
            DeclaredLine(
                line.participant.reference, line.hours, line.delivery_mode, line.contract_type
            )
            for line in declaration.lines
        ),
    )
