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


#: Beyond this many months, a list of months says those in a row as a range.
MONTHS_NAMED = 3


def month_runs(months: Sequence[date]) -> list[list[date]]:
    """``months`` in order, cut into runs of months in a row."""
    runs: list[list[date]] = []
    for month in sorted(set(months)):
        if runs:
            last = runs[-1][-1]
            following = date(last.year + last.month // 12, last.month % 12 + 1, 1)
            if month == following:
                runs[-1].append(month)
                continue
        runs.append([month])
    return runs


def joined(parts: Sequence[str]) -> str:
    """« a », « a et b », « a, b et c »."""
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " et " + parts[-1]


def months_compact(months: Sequence[date]) -> str:
    """Like ``months_phrase`` up to ``MONTHS_NAMED`` months; beyond, the months in a row as a
    range (« de juillet 2026 à février 2027 », « de mars à juin 2026 »), the others named: a
    departure releasing eight months named them one by one, subject included (user trial)."""
    ordered = sorted(set(months))
    if len(ordered) <= MONTHS_NAMED:
        return months_phrase(ordered)
    parts = []
    for run in month_runs(ordered):
        if len(run) >= MONTHS_NAMED:
            first, last = run[0], run[-1]
            start = month_phrase(first)
            if first.year == last.year:
                start = start.rsplit(" ", 1)[0]
            parts.append(f"{start} à {french_month(last)}")
        else:
            parts.extend(month_phrase(m) for m in run)
    return joined(parts)


def months_said(months: Sequence[date]) -> str:
    """The months as a sentence's subject or object names them: « juillet et août 2026 »
    (``joined`` month names) up to ``MONTHS_NAMED``, beyond « les mois de juillet 2026 à
    février 2027 » (``months_compact``): a departure's answer named eight months one by one."""
    ordered = sorted(set(months))
    if len(ordered) > MONTHS_NAMED:
        return f"les mois {months_compact(ordered)}"
    named = [french_month(m) for m in ordered]
    if len({m.year for m in ordered}) == 1:
        # One year, said once: « janvier, février et mars 2027 ».
        named = [n.rsplit(" ", 1)[0] for n in named[:-1]] + named[-1:]
    return joined(named)


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
