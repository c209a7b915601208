"""The hours calculation ("note de calcul") and the parsing of the figures it takes.

hours = amount excl. tax x labour share x insertion rate / loaded hourly cost, rounded down.
Everything is Decimal, and the rounding down is done on the exact fraction, so that 833.333...
never becomes 833.9999 and then 834, and 4725 never becomes 4724.9999 and then 4724.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from fractions import Fraction

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
    if (cleaned.count(",") == 1 and "." in cleaned) or cleaned.count(".") > 1:
        # "1.234,56" or "1.000.000": dots are thousands separators.
        cleaned = cleaned.replace(".", "")
    cleaned = cleaned.replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise InputRefused(f"{field} : « {text} » n'est pas un nombre.") from None
    if not value.is_finite():
        raise InputRefused(f"{field} : « {text} » n'est pas un nombre.")
    return value


#: A unit people type after hours: ``35h``, ``35 h``, ``35 heures``, ``35 h.``.
_HOURS_UNIT = re.compile(r"\s*(?:h|heures?)\.?$", re.IGNORECASE)
#: Hours and minutes, ``12h30``, ``12 h 30``, ``12:30``: not a number of hours, but one it means.
_HOURS_MINUTES = re.compile(r"^\s*(\d{1,3})\s*(?:h|:)\s*([0-5]\d)\s*(?:min)?\s*$", re.IGNORECASE)


def parse_hours(text: str) -> Decimal:
    """Hours as people type them, in the declaration form and in a file alike: ``151,67``,
    ``35h``, ``35 h``, ``35 heures``. Refused with ``not_hours`` (one wording for both)."""
    number = _HOURS_UNIT.sub("", text.strip())
    try:
        if number:
            return parse_decimal(number, "heures")
    except InputRefused:
        pass
    raise InputRefused(not_hours(text))


def not_hours(text: str) -> str:
    """Why ``text`` is not a number of hours; for hours and minutes whose decimal value has two
    decimals at most (« 12h30 »: 12,5), the figure it meant (« vouliez-vous dire 12,5 ? »)."""
    typed = text.strip()
    found = _HOURS_MINUTES.match(typed)
    if found:
        value = Decimal(found[1]) + Decimal(found[2]) / 60
        if value == value.quantize(Decimal("0.01")):
            shown = f"{value.normalize():f}".replace(".", ",")
            return (
                f"«\u00a0{typed}\u00a0» n'est pas un nombre d'heures : vouliez-vous dire {shown} ?"
            )
    return f"«\u00a0{typed}\u00a0» n'est pas un nombre d'heures (exemple : 151,67)."


def parse_ratio(text: str | int | float | Decimal, field: str) -> Decimal:
    """Read a share or a rate: ``0.5``, ``0,5``, ``50%`` or ``50 %``; must lie in (0, 1]."""
    raw = str(text).strip()
    is_percent = raw.endswith("%")
    value = parse_decimal(raw.rstrip("%").strip() if is_percent else text, field)
    if is_percent:
        value = value / 100
    if not (0 < value <= 1):
        hint = f" (vouliez-vous dire {raw} % ?)" if not is_percent and 1 < value <= 100 else ""
        raise InputRefused(
            f"{field} : « {raw} » doit être compris entre 0 (exclu) et 1, par exemple 0,5 ou "
            f"50 %{hint}."
        )
    return value


def parse_positive(text: str | int | float | Decimal, field: str) -> Decimal:
    value = parse_decimal(text, field)
    if value <= 0:
        raise InputRefused(f"{field} : « {text} » doit être strictement positif.")
    return value


#: No public contract comes near it; beyond, a figure is a typing slip (and would not fit the
#: database's cents in a 64-bit integer much further on).
MAX_MONEY = Decimal(10) ** 12


def check_money_range(value: Decimal, field: str) -> Decimal:
    if value > MAX_MONEY:
        raise InputRefused(f"{field} : plus de 1 000 milliards d'euros, vérifiez le montant.")
    return value


def check_money(value: Decimal, field: str) -> Decimal:
    """Amounts are kept to the cent: refuse what would be silently cut."""
    check_money_range(value, field)
    if value != value.quantize(Decimal("0.01"), rounding=ROUND_DOWN):
        raise InputRefused(f"{field} : « {value} » a plus de deux décimales (au centime près).")
    return value


def check_ratio_precision(value: Decimal, field: str) -> Decimal:
    """Shares and rates are kept to the millionth, i.e. four decimals of a percentage."""
    if value != value.quantize(Decimal("0.000001"), rounding=ROUND_DOWN):
        raise InputRefused(
            f"{field} : « {format_percent(value, 8)} » est trop précis "
            "(quatre décimales au plus en pourcentage)."
        )
    return value


@dataclass(frozen=True)
class HoursCalculation:
    """A calculation note: the inputs, the exact result and the whole hours kept."""

    amount_excl_tax: Decimal
    labour_share: Decimal
    insertion_rate: Decimal
    hourly_cost: Decimal

    @property
    def exact_fraction(self) -> Fraction:
        return (
            Fraction(self.amount_excl_tax)
            * Fraction(self.labour_share)
            * Fraction(self.insertion_rate)
            / Fraction(self.hourly_cost)
        )

    @property
    def exact(self) -> Decimal:
        return self.amount_excl_tax * self.labour_share * self.insertion_rate / self.hourly_cost

    @property
    def is_whole(self) -> bool:
        return self.exact_fraction.denominator == 1

    @property
    def hours(self) -> int:
        return math.floor(self.exact_fraction)

    @property
    def is_low(self) -> bool:
        return self.hours < LOW_HOURS_WARNING

    def formula(self) -> str:
        """``1 000 000 € × 50 % × 5 % ÷ 30 €/h``."""
        return (
            f"{format_euros(self.amount_excl_tax)} × {format_percent(self.labour_share)} × "
            f"{format_percent(self.insertion_rate)} ÷ {format_euros(self.hourly_cost)}/h"
        )

    def exact_text(self) -> str:
        """The exact result to two decimals, with an ellipsis when it goes on (``833,33… h``)."""
        shown = self.exact.quantize(Decimal("0.01"), rounding=ROUND_DOWN)
        return f"{format_decimal(shown, 2)}{'' if shown == self.exact else '…'} h"

    def warning(self) -> str | None:
        if not self.is_low:
            return None
        return (
            f"Attention : {format_decimal(self.hours, 0)} h, c'est moins de {LOW_HOURS_WARNING} heures. Une clause "
            "d'insertion est rarement pertinente à ce niveau : envisagez un taux plus élevé, le "
            "regroupement de plusieurs lots ou un autre support."
        )

    def note(self) -> list[str]:
        """The calculation note, line by line, in French."""
        lines = [
            "Note de calcul des heures d'insertion",
            f"  Montant HT du marché ou du lot : {format_euros(self.amount_excl_tax)}",
            f"  Part de main-d'œuvre : {format_percent(self.labour_share)}",
            f"  Taux d'insertion : {format_percent(self.insertion_rate)}",
            f"  Coût horaire chargé : {format_euros(self.hourly_cost)}/h",
            "  Heures = montant HT × part de main-d'œuvre × taux d'insertion ÷ coût horaire",
            f"         = {self.formula()}",
            f"         = {self.exact_text()} (valeur exacte)",
            "  Heures d'insertion retenues (arrondi à l'heure inférieure) : "
            f"{format_decimal(self.hours, 0)} h",
        ]
        warning = self.warning()
        if warning:
            lines.append(warning)
        return lines


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
    check_money_range(amount_excl_tax, "Montant HT")
    check_money_range(hourly_cost, "Coût horaire chargé")
    for name, ratio in (("Part main-d'œuvre", labour_share), ("Taux d'insertion", insertion_rate)):
        if not (0 < ratio <= 1):
            raise InputRefused(f"{name} : {ratio} doit être compris entre 0 (exclu) et 1.")
    return HoursCalculation(amount_excl_tax, labour_share, insertion_rate, hourly_cost)


def format_decimal(value: Decimal | int, places: int = 2) -> str:
    """French writing without a locale database: ``1 234 567,5`` (spaces, decimal comma).

    Trailing zeros after the comma are dropped; at most ``places`` decimals are kept (rounded down).
    """
    value = Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)
    sign = "-" if value < 0 else ""
    whole, _, fraction = f"{abs(value):f}".partition(".")
    fraction = fraction.rstrip("0")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    text = " ".join(groups)
    return f"{sign}{text},{fraction}" if fraction else f"{sign}{text}"


def format_euros(value: Decimal) -> str:
    """``1 000 000 €``, ``28,50 €``: cents shown only when there are some."""
    if value == value.to_integral_value():
        return f"{format_decimal(value, 0)} €"
    text = format_decimal(value, 2)
    if len(text.partition(",")[2]) == 1:
        text += "0"
    return f"{text} €"


def format_percent(ratio: Decimal, places: int = 4) -> str:
    """``0.075`` -> ``7,5 %``."""
    return f"{format_decimal(ratio * 100, places)} %"
