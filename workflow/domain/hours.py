"""The hours calculation ("note de calcul") and the parsing of the figures it takes.

hours = amount excl. tax x labour share x insertion rate / loaded hourly cost, rounded down.
Everything is Decimal so that 833.333... never becomes 833.9999 and then 834.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from workflow.errors import InputRefused

#: Below this a clause is rarely worth it (DOMAIN.md): a warning, never a refusal.
LOW_HOURS_WARNING = 150

_SPACES = re.compile(r"[\s\u00a0\u202f]")


def parse_decimal(text: str | int | float | Decimal, field: str) -> Decimal:
    """Read a number as a French spreadsheet writes it: ``3 780 000,00``, ``28,5`` or ``28.5``."""
    if isinstance(text, Decimal):
        return text
    if isinstance(text, int | float):
        return Decimal(str(text))
    cleaned = _SPACES.sub("", text).replace("€", "")
    if cleaned.count(",") == 1 and "." in cleaned:
        # "1.234,56": dots are thousands separators.
        cleaned = cleaned.replace(".", "")
    cleaned = cleaned.replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise InputRefused(f"{field} : « {text} » n'est pas un nombre.") from None
    if not value.is_finite():
        raise InputRefused(f"{field} : « {text} » n'est pas un nombre.")
    return value


def parse_ratio(text: str | int | float | Decimal, field: str) -> Decimal:
    """Read a share or a rate: ``0.5``, ``0,5``, ``50%`` or ``50 %``; must lie in (0, 1]."""
    raw = str(text).strip()
    is_percent = raw.endswith("%")
    value = parse_decimal(raw.rstrip("%").strip() if is_percent else text, field)
    if is_percent:
        value = value / 100
    if not (0 < value <= 1):
        raise InputRefused(
            f"{field} : « {raw} » doit être compris entre 0 (exclu) et 1, par exemple 0,5 ou 50 %."
        )
    return value


def parse_positive(text: str | int | float | Decimal, field: str) -> Decimal:
    value = parse_decimal(text, field)
    if value <= 0:
        raise InputRefused(f"{field} : « {text} » doit être strictement positif.")
    return value


@dataclass(frozen=True)
class HoursCalculation:
    """A calculation note: the inputs, the exact result and the whole hours kept."""

    amount_excl_tax: Decimal
    labour_share: Decimal
    insertion_rate: Decimal
    hourly_cost: Decimal

    @property
    def exact(self) -> Decimal:
        return self.amount_excl_tax * self.labour_share * self.insertion_rate / self.hourly_cost

    @property
    def hours(self) -> int:
        return math.floor(self.exact)

    @property
    def is_low(self) -> bool:
        return self.hours < LOW_HOURS_WARNING


def compute_hours(
    amount_excl_tax: Decimal,
    labour_share: Decimal,
    insertion_rate: Decimal,
    hourly_cost: Decimal,
) -> HoursCalculation:
    """Check the four figures and return the calculation note."""
    if amount_excl_tax <= 0:
        raise InputRefused(f"Montant HT : {amount_excl_tax} doit être strictement positif.")
    if hourly_cost <= 0:
        raise InputRefused(f"Coût horaire chargé : {hourly_cost} doit être strictement positif.")
    for name, ratio in (("Part main-d'œuvre", labour_share), ("Taux d'insertion", insertion_rate)):
        if not (0 < ratio <= 1):
            raise InputRefused(f"{name} : {ratio} doit être compris entre 0 (exclu) et 1.")
    return HoursCalculation(amount_excl_tax, labour_share, insertion_rate, hourly_cost)
