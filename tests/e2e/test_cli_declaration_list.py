"""``clauses declaration list``: what is declared, at zero, missing or late, from the command line.

The sample's lot 2026-014/01 (clause n° 1) started on 6 April 2026 with Bâtiments Gascons SARL
(holder) and Gascogne Insertion Bâtiment (its subcontractor). On 5 November 2026 Bâtiments
Gascons declares October (370,17 h, the sample file) and Gascogne Insertion September at zero
hours, designated by name and by « 2026-014/01 ». September was due on Monday 12 October (the
10th is a Saturday), October on Tuesday 10 November.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import Result

from tests.conftest import Clock
from tests.e2e.conftest import Invoke
from tests.e2e.test_cli_imports import NOVEMBER
from tests.integration.test_declarations import DECLARATION, start_sample
from workflow.bootstrap import bootstrap
from workflow.settings import Settings

HOLDER = "Bâtiments Gascons SARL"
SUBCONTRACTOR = "Gascogne Insertion Bâtiment (EI)"
LATER = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def declared(run: Invoke, sqlite_settings: Settings, clock: Clock) -> Invoke:
    app = bootstrap(sqlite_settings, clock=clock, handlers={})
    start_sample(app)
    app.close()
    clock.set(NOVEMBER)
    assert run("declaration", "import", str(DECLARATION)).exit_code == 0
    zero = run(
        "declaration",
        "zero",
        *("--clause", "2026-014/01", "--company", "Gascogne Insertion", "--month", "09/2026"),
    )
    assert zero.exit_code == 0, zero.output
    assert zero.stdout.strip() == (
        f"Déclaration de septembre 2026 à zéro heure enregistrée : {SUBCONTRACTOR}, clause n° 1."
    )
    return run


def listing(run: Invoke, *args: str) -> dict[str, Any]:
    result = run("declaration", "list", "--json", *args)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def row(result: Result, *words: str) -> str:
    """The one table line holding every word."""
    [found] = [line for line in result.stdout.splitlines() if all(w in line for w in words)]
    return found


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("│").split("│")]


def test_it_lists_each_company_and_month_of_a_lot_with_its_state(declared: Invoke) -> None:
    data = listing(declared, "--clause", "2026-014/01", "--month", "10/2026")
    september = listing(declared, "--clause", "1", "--month", "09/2026")

    assert [
        (ln["entreprise"], ln["etat"], ln["etat_libelle"], ln["heures"], ln["echeance"])
        for ln in data["lignes"]
    ] == [
        (HOLDER, "declared", "déclarée", 370.17, "2026-11-10"),
        (SUBCONTRACTOR, "missing", "à déclarer", None, "2026-11-10"),
    ]
    assert data["totaux_par_mois"] == [
        {
            "mois": "2026-10-01",
            "attendues": 2,
            "declarees": 1,
            "zero_heure": 0,
            "manquantes": 1,
            "en_retard": 0,
            "plus_demandees": 0,
            "appels_a_venir": 0,
            "heures": 370.17,
        }
    ]
    # Bâtiments Gascons never declared September: 18 working days late on 5 November
    # (13 to 16, 19 to 23, 26 to 30 October, 2 to 5 November; 1 November is a Sunday).
    assert [
        (ln["entreprise"], ln["etat"], ln["heures"], ln["echeance"], ln["jours_de_retard"])
        for ln in september["lignes"]
    ] == [
        (HOLDER, "late", None, "2026-10-12", 18),
        (SUBCONTRACTOR, "zero", 0, "2026-10-12", 0),
    ]
    assert (data["clause"], data["mois"], data["date"]) == (1, "2026-10-01", "2026-11-05")


def test_the_table_says_the_states_in_french_then_the_totals_per_month(
    declared: Invoke, clock: Clock
) -> None:
    clock.set(LATER)  # October was due on 10 November; 11 November is a public holiday

    table = declared("declaration", "list", "--clause", "2026-014/01")

    assert table.exit_code == 0, table.output
    assert "Déclarations – clause n° 1 (marché 2026-014 lot 01" in table.stdout
    assert "(au 20/11/2026)" in table.stdout
    assert cells(row(table, "octobre 2026", HOLDER)) == [
        "octobre 2026",
        "n° 1 2026-014/01",
        HOLDER,
        "déclarée",
        "370,17\u00a0h",
        "10/11/2026",
    ]
    assert cells(row(table, "octobre 2026", SUBCONTRACTOR))[3:] == [
        "en retard (7 jours ouvrés)",
        "–",
        "10/11/2026",
    ]
    assert cells(row(table, "septembre 2026", SUBCONTRACTOR))[3:5] == ["zéro heure", "0\u00a0h"]
    assert "Totaux par mois" in table.stdout
    # April to October, two companies each: 14 lines.
    assert cells(row(table, "Total")) == ["Total", "14", "1", "1", "0", "12", "370,17\u00a0h"]
    assert (
        "14 déclarations attendues : 1 déclarée, 1 à zéro heure, 0 à déclarer, 12 en retard ; "
        "370,17\u00a0h déclarées."
    ) in table.stdout


def test_missing_keeps_only_what_is_owed_and_its_totals_add_up(
    declared: Invoke, clock: Clock
) -> None:
    clock.set(LATER)

    everything = listing(declared)
    owed = listing(declared, "--missing")
    by_siret = listing(declared, "--missing", "--company", "412 345 678 00012")

    assert {ln["etat"] for ln in owed["lignes"]} <= {"missing", "late"}
    assert len(owed["lignes"]) == sum(
        1 for ln in everything["lignes"] if ln["etat"] in ("missing", "late")
    )
    for data in (everything, owed, by_siret):
        for month in data["totaux_par_mois"]:
            lines = [ln for ln in data["lignes"] if ln["mois"] == month["mois"]]
            assert month["attendues"] == len(lines)
            assert month["heures"] == sum(ln["heures"] or 0 for ln in lines)
            for key, state in (
                ("declarees", "declared"),
                ("zero_heure", "zero"),
                ("manquantes", "missing"),
                ("en_retard", "late"),
                ("plus_demandees", "released"),
            ):
                assert month[key] == sum(1 for ln in lines if ln["etat"] == state)
        total = data["total"]
        assert total["attendues"] == len(data["lignes"])
        for key in (
            "declarees",
            "zero_heure",
            "manquantes",
            "en_retard",
            "plus_demandees",
            "heures",
        ):
            assert total[key] == pytest.approx(sum(m[key] for m in data["totaux_par_mois"]))
    # Bâtiments Gascons holds lot 01 only: April to September owed there, October declared.
    assert [(ln["clause"], ln["mois"]) for ln in by_siret["lignes"]] == [
        (1, f"2026-{month:02d}-01") for month in range(4, 10)
    ]
    assert by_siret["entreprise"] == HOLDER
    # In words, the owed ones only: nothing that reads as « 0 déclarée » for the lot.
    said = declared("declaration", "list", "--missing")
    total = owed["total"]
    owing = total["manquantes"] + total["en_retard"]
    last = said.stdout.strip().splitlines()[-1]
    assert last.startswith(f"{owing} déclarations pas encore reçues : "), last
    assert last.endswith(f"{total['en_retard']} en retard."), last
    assert "déclarée" not in last


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--month", "septembre"), "--month : « septembre » n'est pas un mois"),
        (("--clause", "2026-014/42"), "le marché 2026-014 a les lots"),
        (("--company", "Entreprise inconnue"), "Entreprise inconnue"),
    ],
)
def test_it_refuses_what_it_cannot_find(
    declared: Invoke, args: tuple[str, ...], message: str
) -> None:
    result = declared("declaration", "list", *args)

    assert result.exit_code == 1
    assert message in result.stderr


def test_a_month_is_validated_once_by_name_and_a_second_time_changes_nothing(
    declared: Invoke,
) -> None:
    args = ("--clause", "2026-014/01", "--company", "Bâtiments Gascons", "--month", "10/2026")
    first = declared("declaration", "validate", *args)
    again = declared("declaration", "validate", *args, "--json")
    missing = declared(
        "declaration", "validate", "--clause", "2026-014/01", "--company", "Gascogne Insertion",
        "--month", "10/2026",
    )  # fmt: skip

    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == (
        f"Déclaration d'octobre 2026 de {HOLDER} (clause n° 1, 370,17\u00a0h) validée : la page "
        "de l'entreprise ne permet plus de la modifier."
    )
    data = json.loads(again.stdout)
    assert data["deja_validee"] is True and data["heures"] == 370.17
    assert missing.exit_code == 1
    assert "Aucune déclaration d'octobre 2026 de Gascogne Insertion Bâtiment (EI)" in missing.stderr
    history = declared("clause", "show", "1")
    assert history.stdout.count("déclaration validée") == 1
