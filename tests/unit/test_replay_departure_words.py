"""What ``clauses summary --now`` says of a company that left the site since the moment replayed:
its months of then in the past tense, what is asked today in the present (user trial, 7 December
2026: « dernier mois à déclarer alors aucun » of a company whose months then ran to the lot's end,
and « est attendue » of a December no longer asked since its departure in June)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from workflow.entrypoints.cli.summary import departures_lines
from workflow.services.summary_replays import CompanyLeft

AT = datetime(2027, 3, 31, 18, tzinfo=UTC)


def said(**fields: Any) -> str:
    left = CompanyLeft(1, "Isol'Sud", fields.pop("last_month", date(2026, 6, 1)), AT, **fields)
    summary = SimpleNamespace(month=date(2026, 12, 1), zone=ZoneInfo("Europe/Paris"))
    lines = departures_lines(SimpleNamespace(summary=summary, departures=(left,)))  # type: ignore[arg-type]
    assert lines[0] == (
        "1 entreprise de cette synthèse a quitté le chantier depuis : ses mois à déclarer sont "
        "comptés comme alors, comme dans le courriel."
    )
    return lines[1]


def test_months_then_ran_to_the_lot_s_end_and_december_is_no_longer_asked() -> None:
    assert said(expected=True, late=True, earlier=(date(2026, 7, 1), date(2026, 8, 1))) == (
        "- clause n° 1 : Isol'Sud, départ enregistré le 31/03/2027 ; dernier mois à déclarer "
        "alors celui de la fin du lot, aujourd'hui juin 2026 ; sa déclaration de décembre 2026, "
        "non reçue, était attendue alors : ces chiffres la comptent manquante, comme le courriel "
        "(elle n'est plus demandée aujourd'hui) ; encore dus alors : juillet et août 2026, plus "
        "demandés aujourd'hui"
    )


@pytest.mark.parametrize(
    ("fields", "end"),
    [
        (
            {"expected": True, "declared": True},
            "sa déclaration de décembre 2026, reçue alors, est comptée",
        ),
        (
            {"expected": True},
            "sa déclaration de décembre 2026, non reçue, n'était pas encore due alors : ces "
            "chiffres la comptent parmi les pas encore dues, comme le courriel (elle n'est plus "
            "demandée aujourd'hui)",
        ),
        ({}, "sa déclaration de décembre 2026 n'était pas demandée alors"),
        # Owed then and still owed today (up to its last month, June), and one no longer.
        (
            {"earlier": (date(2026, 5, 1), date(2026, 6, 1), date(2026, 7, 1))},
            "encore dus alors : mai, juin et juillet 2026 (juillet 2026 plus demandé aujourd'hui)",
        ),
        ({"earlier": (date(2026, 5, 1),)}, "encore dus alors : mai 2026"),
        (
            {"last_then": date(2026, 11, 1)},
            "dernier mois à déclarer alors novembre 2026, aujourd'hui juin 2026 ; sa déclaration",
        ),
    ],
)
def test_each_case_in_its_tense(fields: dict[str, Any], end: str) -> None:
    line = said(**fields)
    assert end in line, line
