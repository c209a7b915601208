"""The templates a company receives with its welcome and calls, and what they say to send.

``declaration_material`` gives, from one reading of the lot, the ``declaration_howto`` variable
(``emails.howto.build_howto``) and the matching templates (CSV for French Excel, and .xlsx) for a
lot, a company and its months, pre-filled with the participants the company already declared on
that lot. Both are written from the importer's own column definitions
(``adapters.declaration_columns``), so a company following its email sends a file it accepts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.declaration_columns import DECLARATION_COLUMNS, declaration_titles
from workflow.adapters.orm import Clause, Company, Declaration, DeclarationLine, Participant
from workflow.adapters.spreadsheets import CSV_TYPE, XLSX_TYPE, csv_template, xlsx_template
from workflow.domain.vocabulary import CONTRACT_LABELS, CRITERION_LABELS, DELIVERY_MODE_LABELS
from workflow.emails.howto import attachment_stem, build_howto, month_cell, spaced_siret
from workflow.emails.phrases import label_of
from workflow.services.email_facts import lot_of
from workflow.services.lot_calendars import lot_calendars
from workflow.services.outbox import Attachment

if TYPE_CHECKING:
    from workflow.settings import Settings

#: Lines left for the company to fill when it has declared nobody yet on the lot, per month.
BLANK_LINES = 3
#: Columns Excel must keep as typed: a SIRET's 14 digits, a lot's leading zero, ``10/2026``.
_TEXT_KEYS = frozenset(
    {"siret", "company", "market", "lot", "month", "reference", "criterion", "contract", "mode"}
)
_CHOICES = {
    "criterion": list(CRITERION_LABELS.values()),
    "contract": list(CONTRACT_LABELS.values()),
    "mode": list(DELIVERY_MODE_LABELS.values()),
}


@dataclass(frozen=True)
class KnownParticipant:
    """A participant the company already declared on the lot, with its last month's details."""

    reference: str
    criterion: str
    contract: str
    mode: str
    sex: str | None
    birth_year: int | None


def template_rows(
    clause: Clause,
    company: Company,
    months: Sequence[date],
    participants: Sequence[KnownParticipant],
    *,
    spaced: bool,
) -> list[list[str]]:
    """One line per month and known participant (or ``BLANK_LINES`` lines to fill), in the order
    of ``declaration_titles()``; hours, and the person's cells of blank lines, left empty."""
    siret = spaced_siret(company.siret) if spaced else (company.siret or "")
    rows: list[list[str]] = []
    periods: Sequence[date | None] = months or [None]
    for month in periods:
        lot_cells = {
            "siret": siret,
            "company": company.name,
            "market": clause.market.reference,
            "lot": clause.lot_number or "",
            "month": month_cell(month),
        }
        people: Sequence[KnownParticipant | None] = participants or [None] * BLANK_LINES
        for person in people:
            cells = dict(lot_cells)
            if person is not None:
                cells.update(
                    reference=person.reference,
                    criterion=label_of(CRITERION_LABELS, person.criterion),
                    contract=label_of(CONTRACT_LABELS, person.contract),
                    mode=label_of(DELIVERY_MODE_LABELS, person.mode),
                    sex=person.sex or "",
                    birth_year=str(person.birth_year) if person.birth_year else "",
                )
            rows.append([cells.get(column.key, "") for column in DECLARATION_COLUMNS])
    return rows


def known_participants(session: Session, clause_id: int, company_id: int) -> list[KnownParticipant]:
    """Everyone the company declared on the lot, with the contract and mode of their latest
    month; in the order they first appeared."""
    rows = session.execute(
        select(
            Participant.reference,
            Participant.criterion,
            Participant.sex,
            Participant.birth_year,
            DeclarationLine.contract_type,
            DeclarationLine.delivery_mode,
        )
        .join(DeclarationLine, DeclarationLine.participant_id == Participant.id)
        .join(Declaration, Declaration.id == DeclarationLine.declaration_id)
        .where(Declaration.clause_id == clause_id, Declaration.company_id == company_id)
        .order_by(Declaration.month, DeclarationLine.id)
    ).all()
    found: dict[str, KnownParticipant] = {}
    for reference, criterion, sex, birth_year, contract, mode in rows:
        found[reference] = KnownParticipant(reference, criterion, contract, mode, sex, birth_year)
    return list(found.values())


def build_attachments(
    clause: Clause,
    company: Company,
    months: Sequence[date],
    participants: Sequence[KnownParticipant],
) -> list[Attachment]:
    """The CSV (French Excel) and .xlsx templates; pure, for previews and tests."""
    titles = declaration_titles()
    stem = attachment_stem(clause.market.reference, clause.lot_number, months)
    data, encoding = csv_template(
        titles, template_rows(clause, company, months, participants, spaced=True)
    )
    keys = [column.key for column in DECLARATION_COLUMNS]
    workbook = xlsx_template(
        titles,
        template_rows(clause, company, months, participants, spaced=False),
        sheet_title="Déclaration",
        text_columns=[i for i, key in enumerate(keys) if key in _TEXT_KEYS],
        number_formats={keys.index("hours"): "0.00"},
        choices={keys.index(key): values for key, values in _CHOICES.items()},
        widths={keys.index("criterion"): 40.0, keys.index("mode"): 32.0},
    )
    return [
        Attachment(f"{stem}.csv", f"{CSV_TYPE}; charset={encoding}", data),
        Attachment(f"{stem}.xlsx", XLSX_TYPE, workbook),
    ]


@dataclass(frozen=True)
class DeclarationMaterial:
    """What an email asking for ``months`` carries: the ``declaration_howto`` variable and the
    templates it names, written from one reading of the lot's known participants."""

    howto: dict[str, Any]
    attachments: list[Attachment]


def declaration_material(
    session: Session,
    clause: Clause,
    company: Company,
    months: Sequence[date],
    settings: Settings,
    *,
    due_dates: Mapping[date, date] | None = None,
) -> DeclarationMaterial:
    """The howto and the templates for ``months`` of this lot, pre-filled for this company.

    ``due_dates``: each month's real due date when it differs from the schedule (a call gives
    its own, ``LadderGroup.due_on``; a welcome the one the catch-up call will give)."""
    ordered = sorted(months)
    due_day = lot_calendars(session, [clause.id], settings)[clause.id].rules.due_day
    participants = known_participants(session, clause.id, company.id)
    howto = build_howto(
        lot_of(clause),
        company.name,
        company.siret,
        ordered,
        due_day=due_day,
        participants=len(participants),
        due_dates=due_dates,
    )
    return DeclarationMaterial(howto, build_attachments(clause, company, ordered, participants))


def declaration_attachments(
    session: Session, clause_id: int, company_id: int, months: Sequence[date]
) -> list[Attachment]:
    """The templates to attach for ``months`` of this lot, pre-filled for this company."""
    clause = session.get_one(Clause, clause_id)
    company = session.get_one(Company, company_id)
    participants = known_participants(session, clause_id, company_id)
    return build_attachments(clause, company, sorted(months), participants)
