"""Numbers as French writes them: ``12 345`` (a narrow no-break space between thousands),
``151,67`` (a decimal comma), ``4 725 h``, ``1 courriel`` / ``3 courriels``.

In the domain because reports' own sentences (the annual report's headline) are made of them;
the email filters in ``adapters.templates`` are these same functions.
"""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_decimal

LOCALE = "fr_FR"


def french_number(value: int | float | Decimal, digits: int = 0) -> str:
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return str(format_decimal(value, format=pattern, locale=LOCALE))


def french_count(count: int, one: str, many: str) -> str:
    """``0 courriel``, ``1 courriel``, ``12 345 courriels``: French keeps 0 in the singular."""
    return f"{french_number(count)} {one if count < 2 else many}"


def french_hours(value: int | float | Decimal) -> str:
    """Hours keep their hundredths only when they have some: ``4 725 h``, ``151,67 h``."""
    amount = Decimal(str(value))
    digits = 0 if amount == amount.to_integral_value() else 2
    return f"{french_number(amount, digits)}\u00a0h"
