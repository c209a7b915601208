"""French phrases the emails and the messages around them share: months as a sentence says them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from workflow.adapters.templates import french_date, french_month

_WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


def month_phrase(month: date) -> str:
    """``d'octobre 2026``, ``de mars 2026``: French elides « de » before a vowel."""
    name = french_month(month)
    return f"d'{name}" if name[0] in "aeiouyéâ" else f"de {name}"


def months_phrase(months: Sequence[date]) -> str:
    """``de septembre 2026``; ``de septembre, d'octobre et de novembre 2026``; across years
    each month keeps its year."""
    ordered = sorted(set(months))
    if len(ordered) == 1:
        return month_phrase(ordered[0])
    same_year = len({m.year for m in ordered}) == 1
    phrases = [month_phrase(m) for m in ordered]
    if same_year:
        phrases = [p.rsplit(" ", 1)[0] for p in phrases[:-1]] + [phrases[-1]]
    return ", ".join(phrases[:-1]) + " et " + phrases[-1]


def french_day(day: date) -> str:
    """``vendredi 30 avril 2027``."""
    return f"{_WEEKDAYS[day.weekday()]} {french_date(day)}"


def label_of(labels: dict[Any, str], value: str) -> str:
    """The French label of a stored code (``cdd`` → « CDD »); the code itself when unknown."""
    for member, label in labels.items():
        if member.value == value:
            return label
    return value


def parse_hours(text: str) -> Decimal | None:
    """``1 916,50 h`` -> 1916.50 (what ``french_hours`` writes, read back); None when it is no
    number of hours. The audit reads the emails' figures with it, the declarations' facts the
    totals their history rows wrote."""
    cleaned = "".join(text.split()).removesuffix("h").replace(",", ".")
    try:
        return Decimal(cleaned)
    except InvalidOperation:
        return None
