"""Months listed as a sentence names them without a preposition: « février, mars et avril 2027 »."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from workflow.adapters.templates import french_month


def months_list(months: Iterable[date]) -> str:
    """``février 2027``; ``février, mars et avril 2027``; across years each month keeps its
    year (``décembre 2026 et janvier 2027``)."""
    ordered = sorted(set(months))
    if not ordered:
        return ""
    names = [french_month(month) for month in ordered]
    if len({month.year for month in ordered}) == 1:
        names = [name.rsplit(" ", 1)[0] for name in names[:-1]] + [names[-1]]
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " et " + names[-1]


def months_of(months: Iterable[date]) -> str:
    """``months_list`` after « de », elided before a vowel: ``de février, mars et avril 2027``,
    ``d'octobre et novembre 2026`` (« vos déclarations d'octobre et novembre 2026 »)."""
    listed = months_list(months)
    if not listed:
        return ""
    return f"d'{listed}" if listed[0] in "aeiouyéâ" else f"de {listed}"
