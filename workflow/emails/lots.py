"""The lot an email is about, as plain values: what every family's context says of it.

Services read a ``Lot`` and its ``Party`` rows from the database (``services.email_facts``);
previews write them by hand. Nothing here knows the ORM.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from workflow.domain.calendar import due_date, months_between
from workflow.domain.stages import LABELS, Stage
from workflow.domain.vocabulary import PARTY_ROLE_LABELS, PartyRole

#: The stages of a lot whose execution has not started: its first call's date is the one the
#: ladder will give only if the start is recorded in time (``welcome.first_call_context``).
NOT_STARTED = frozenset({Stage.IDENTIFICATION.value, Stage.DRAFTING.value, Stage.AWARD.value})


@dataclass(frozen=True)
class Lot:
    """One lot carrying a clause, with its market, operation and buyer."""

    id: int
    buyer: str
    operation: str
    place: str | None
    market: str
    market_title: str | None
    lot_number: str | None
    lot_title: str
    trade: str | None
    stage: str
    amount_excl_tax: Decimal | None = None
    labour_share: Decimal | None = None
    insertion_rate: Decimal | None = None
    hourly_cost: Decimal | None = None
    hours_computed: int | None = None
    hours_override: int | None = None
    override_reason: str | None = None
    planned_notification: date | None = None
    start_date: date | None = None
    planned_end_date: date | None = None
    end_date: date | None = None
    final_report: str | None = None

    @property
    def hours_target(self) -> int | None:
        return self.hours_override if self.hours_override is not None else self.hours_computed

    def start_passed(self, today: date) -> bool:
        """Its planned start is behind ``today`` and not recorded: its messages say so rather
        than speak of a start to come (« Prochaine étape : la réunion de démarrage » two months
        after it; user trial)."""
        return self.stage in NOT_STARTED and self.start_date is not None and self.start_date < today


@dataclass(frozen=True)
class Party:
    """A company bound by the clause: its role (``PartyRole`` value), its share, the
    correspondent named for it (or its first one)."""

    company_id: int
    company: str
    city: str | None
    siret: str | None
    role: str
    hours_share: int | None
    correspondent: str | None

    @property
    def role_label(self) -> str:
        return PARTY_ROLE_LABELS[PartyRole(self.role)]

    @property
    def is_holder(self) -> bool:
        return self.role == PartyRole.HOLDER.value


def lot_context(lot: Lot) -> dict[str, Any]:
    number, name = lot.lot_number, lot.lot_title
    return {
        "id": lot.id,
        "title": f"{lot.operation}, lot {number} – {name}"
        if number
        else f"{lot.operation} – {name}",
        "buyer": lot.buyer,
        "operation": lot.operation,
        "place": lot.place,
        "market": lot.market,
        "market_title": lot.market_title,
        "lot_number": lot.lot_number,
        "lot_title": lot.lot_title,
        "lot": f"{number} – {name}" if number else name,
        # "le lot 3 « Gros œuvre »": what the sentences say
        "lot_phrase": f"lot {number} « {name} »" if number else f"lot « {name} »",
        "trade": lot.trade,
        "stage": LABELS[Stage(lot.stage)],
        "amount_excl_tax": lot.amount_excl_tax,
        "labour_share": lot.labour_share,
        "insertion_rate": lot.insertion_rate,
        "hourly_cost": lot.hourly_cost,
        "hours_computed": lot.hours_computed,
        "hours_override": lot.hours_override,
        "override_reason": lot.override_reason,
        "hours_target": lot.hours_target,
        "planned_notification": lot.planned_notification,
        "start_date": lot.start_date,
        "planned_end_date": lot.planned_end_date,
        "end_date": lot.end_date,
    }


def parties_context(parties: Sequence[Party]) -> list[dict[str, Any]]:
    """Companies bound by the clause, the holder first; no personal data beyond a contact name."""
    ordered = sorted(parties, key=lambda p: not p.is_holder)
    return [
        {
            "company": party.company,
            "city": party.city,
            "role": party.role_label,
            "is_holder": party.is_holder,
            "hours_share": party.hours_share,
            "correspondent": party.correspondent,
        }
        for party in ordered
    ]


def schedule_context(
    lot: Lot, due_day: int, due_dates: Mapping[date, date] | None = None
) -> list[dict[str, date]]:
    """Every month to declare, from the start month to the end month (the real end once known,
    else the planned one), with its due date: the one a call already gave (``due_dates``) when
    there is one, else the scheduled one."""
    if lot.start_date is None:
        return []
    last = lot.end_date or lot.planned_end_date or lot.start_date
    given = due_dates or {}
    return [
        {"month": m, "due_on": given.get(m) or due_date(m, due_day)}
        for m in months_between(lot.start_date, last)
    ]
