"""What a company is told to send, and the templates it receives: written from the importer's own
column definitions (``declaration_imports.DECLARATION_COLUMNS``), so that a company following its
email always sends a file the import accepts.

``declaration_material`` gives, from one reading of the lot, the ``declaration_howto`` variable
the partial ``templates/emails/_base/declaration_howto.{txt,html}`` renders and the matching
templates (CSV for French Excel, and .xlsx) for a lot, a company and its months, pre-filled with
the participants the company already declared on that lot.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.orm import Clause, Company, Declaration, DeclarationLine, Participant
from workflow.adapters.spreadsheets import CSV_TYPE, XLSX_TYPE, csv_template, xlsx_template
from workflow.domain.calendar import (
    CalendarRules,
    due_after_call,
    due_date,
    first_call_not_before,
    local_date,
    month_schedule,
    month_start,
    months_between,
)
from workflow.domain.vocabulary import CONTRACT_LABELS, CRITERION_LABELS, DELIVERY_MODE_LABELS
from workflow.services.declaration_imports import DECLARATION_COLUMNS, declaration_titles
from workflow.services.declarations import opens_on
from workflow.services.lot_calendars import lot_calendars
from workflow.services.outbox import Attachment

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

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


def spaced_siret(siret: str | None) -> str:
    """``412 345 678 00012``: readable, and a CSV cell Excel keeps as text (14 bare digits
    become 4,12346E+13). The import reads it back with or without the spaces."""
    if not siret:
        return ""
    digits = re.sub(r"\D", "", siret)
    if len(digits) != 14:
        return siret
    return f"{digits[:3]} {digits[3:6]} {digits[6:9]} {digits[9:]}"


def _month_cell(month: date | None) -> str:
    return f"{month:%m/%Y}" if month else ""


def _label(labels: dict[Any, str], value: str) -> str:
    for member, label in labels.items():
        if member.value == value:
            return label
    return value


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
            "month": _month_cell(month),
        }
        people: Sequence[KnownParticipant | None] = participants or [None] * BLANK_LINES
        for person in people:
            cells = dict(lot_cells)
            if person is not None:
                cells.update(
                    reference=person.reference,
                    criterion=_label(CRITERION_LABELS, person.criterion),
                    contract=_label(CONTRACT_LABELS, person.contract),
                    mode=_label(DELIVERY_MODE_LABELS, person.mode),
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


def attachment_stem(clause: Clause, months: Sequence[date]) -> str:
    """``declaration-2026-014-lot-01-2026-10``: the lot and the months, in plain ASCII."""
    lot = f"-lot-{clause.lot_number}" if clause.lot_number else ""
    if not months:
        period = ""
    elif len(months) == 1:
        period = f"-{months[0]:%Y-%m}"
    else:
        period = f"-{min(months):%Y-%m}-a-{max(months):%Y-%m}"
    raw = f"declaration-{clause.market.reference}{lot}{period}"
    ascii_only = raw.encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_only).strip("-.")[:80] or "declaration"


def build_attachments(
    clause: Clause,
    company: Company,
    months: Sequence[date],
    participants: Sequence[KnownParticipant],
) -> list[Attachment]:
    """The CSV (French Excel) and .xlsx templates; pure, for previews and tests."""
    titles = declaration_titles()
    stem = attachment_stem(clause, months)
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


def build_howto(
    clause: Clause,
    company: Company,
    months: Sequence[date],
    *,
    due_day: int,
    participants: int = 0,
    attached: bool = True,
    due_dates: Mapping[date, date] | None = None,
) -> dict[str, Any]:
    """The ``declaration_howto`` context: columns with what goes in each, accepted values, the
    months concerned and, when ``attached``, the names of the templates ``build_attachments``
    writes for the same lot and months; pure.

    ``due_dates``: the date each month is really due when it is not the scheduled one (the
    due date a catch-up call gives, ``expected_due_dates``); the scheduled date otherwise."""
    due_dates = due_dates or {}
    prefilled = {
        "siret": spaced_siret(company.siret),
        "company": company.name,
        "market": clause.market.reference,
        "lot": clause.lot_number or "",
        "month": ", ".join(_month_cell(m) for m in months),
    }
    columns = []
    for column in DECLARATION_COLUMNS:
        meaning = column.hint.format(
            market=f"le numéro du marché, {clause.market.reference}",
            lot=f"le numéro du lot, {clause.lot_number}"
            if clause.lot_number
            else "le numéro du lot (à laisser vide : le marché n'a qu'un lot)",
        )
        columns.append(
            {
                "title": column.label,
                "meaning": meaning,
                # Optional for the import when known otherwise (--clause, a known participant);
                # a company is asked for them all the same.
                "required": column.required or column.key in ("market", "lot", "criterion"),
                "value": prefilled.get(column.key) or None,
            }
        )
    stem = attachment_stem(clause, months)
    return {
        "titles": declaration_titles(),
        "columns": columns,
        "criteria": list(CRITERION_LABELS.values()),
        "contract_types": list(CONTRACT_LABELS.values()),
        "delivery_modes": list(DELIVERY_MODE_LABELS.values()),
        "months": [
            {
                "month": m,
                "opens_on": opens_on(m),
                "due_on": due_dates.get(m) or due_date(m, due_day),
            }
            for m in months
        ],
        "participants": participants,
        "attachments": [
            {"filename": f"{stem}.{extension}", "format": name}
            for extension, name in (("csv", "CSV pour Excel"), ("xlsx", "classeur Excel"))
        ]
        if attached
        else [],
    }


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
        clause,
        company,
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


@dataclass(frozen=True)
class CatchUp:
    """The first call of a lot started late: the months it will ask for together, the day it
    leaves and the one due date it gives them."""

    months: tuple[date, ...]
    call_on: date
    due_on: date


def expected_due_dates(
    start_month: date,
    end_month: date,
    rules: CalendarRules,
    zone: ZoneInfo,
    started_at: datetime,
) -> tuple[dict[date, date], CatchUp | None]:
    """The due date each month of the lot will be given, as the ladder will give it
    (``reminders.arm_parties`` then the call): the first call leaves at the later of the first
    month's scheduled call and ``first_call_not_before(started_at)``; every month whose call is
    due by then goes in it, with one date, the latest ``due_after_call`` of theirs; the later
    months keep their scheduled date (their calls leave on time). Pure.

    ``started_at`` is when the lot entered (or, for a welcome sent at award, at the earliest
    enters) execution. The CatchUp is None when the first call leaves on its schedule.
    """
    months = months_between(month_start(start_month), month_start(end_month))
    if not months:
        return {}, None
    schedules = {m: month_schedule(m, rules, zone) for m in months}
    first_call = max(
        schedules[months[0]].call_at,
        first_call_not_before(started_at, rules.call_time, zone),
    )
    call_on = local_date(first_call, zone)
    grouped = [m for m in months if schedules[m].call_at <= first_call]
    due_on = max(due_after_call(schedules[m], call_on, zone) for m in grouped)
    dates = {m: schedules[m].due_on for m in months}
    dates.update({m: due_on for m in grouped})
    late = len(grouped) > 1 or due_on != schedules[grouped[0]].due_on
    return dates, CatchUp(tuple(grouped), call_on, due_on) if late else None
