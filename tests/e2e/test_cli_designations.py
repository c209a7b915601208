"""Records named at the command line as people know them: a buyer by its name written with another
dash or case, a company by its SIRET with spaces, a lot by « RÉF/LOT »; an ambiguous name is
refused with the candidates, an unknown one with where the list is, and neither changes anything.
Then ``clause show`` gives the hours declared against the target and the final report."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from tests.conftest import Clock
from tests.e2e.conftest import Invoke
from tests.text import squash

SIRET = "732 829 320 00074"
APRIL = datetime(2026, 4, 2, 8, 0, tzinfo=UTC)  # March can be declared
HEADER = (
    "SIRET;Entreprise;N° marché;Lot;Mois;Référence participant;Critère d'éligibilité;"
    "Type de contrat;Modalité de réalisation;Heures"
)


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return squash(result.stdout)


def data(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def refused(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Refusé : "), result.stderr
    return result.stderr


def snapshot(run: Invoke) -> list[Any]:
    """Every list the catalogue gives and every clause as shown: what a refusal leaves as is."""
    lists = [data(run(what, "list", "--json")) for what in ("buyer", "company", "operation")]
    lists += [data(run("market", "list", "--json"))]
    shown = [
        data(run("clause", "show", str(c["id"]), "--json"))
        for c in data(run("lot", "list", "--json"))
    ]
    return lists + shown


@pytest.fixture
def territory(run: Invoke) -> Invoke:
    """Gers Habitat (n° 1) and Gers-Habitat Services (n° 2); market 2026-014 with lots 01 (600 h
    imposed) and 02; Bâti Sud (SIRET 732 829 320 00074) and Bâti Nord, all named by words."""
    assert ok(run("init"))
    ok(run("buyer", "add", "Gers Habitat", "--kind", "bailleur"))
    ok(run("buyer", "add", "Gers-Habitat Services"))
    ok(run("operation", "add", "Résidence Les Tilleuls", "--buyer", "GERS–HABITAT"))
    ok(run("market", "add", "2026-014", "--operation", "residence les tilleuls"))
    for number, title in (("01", "Gros œuvre"), ("02", "Menuiseries")):
        ok(
            run("lot", "add", "--market", "2026-014", "--number", number, "--title", title,
                "--hours", "600", "--hours-reason", "arbitrage du donneur d'ordre")
        )  # fmt: skip
    ok(run("company", "add", "Bâti Sud", "--siret", SIRET))
    ok(run("company", "add", "Bâti Nord"))
    ok(run("company", "correspondent-add", SIRET, "--name", "Paul", "--email", "paul@example.org"))
    return run


def test_records_are_found_by_name_dash_case_siret_and_reference(territory: Invoke) -> None:
    run = territory
    contact = data(
        run("buyer", "contact-add", "gers habitat", "--name", "Anne", "--email", "anne@example.org",
            "--json")
    )  # fmt: skip
    [operation] = data(run("operation", "list", "--buyer", "Gers-Habitat", "--json"))
    [market] = data(run("market", "list", "--operation", "RÉSIDENCE LES TILLEULS", "--json"))
    lots = data(run("clause", "list", "--market", "2026-014", "--json"))
    companies = {c["nom"]: c for c in data(run("company", "list", "--json"))}

    assert (contact["donneur_d_ordre_id"], contact["donneur_d_ordre"]) == (1, "Gers Habitat")
    assert (operation["donneur_d_ordre"], operation["nom"]) == (
        "Gers Habitat",
        "Résidence Les Tilleuls",
    )
    assert (market["reference"], market["donneur_d_ordre"], market["lots"]) == (
        "2026-014",
        "Gers Habitat",
        2,
    )
    assert [(lot["lot"], lot["intitule"]) for lot in lots] == [
        ("01", "Gros œuvre"),
        ("02", "Menuiseries"),
    ]
    assert [c["email"] for c in companies["Bâti Sud"]["correspondants"]] == ["paul@example.org"]
    assert data(run("clause", "list", "--buyer", "Gers-Habitat Services", "--json")) == []

    assert "Clause n° 2 – Menuiseries (marché 2026-014 lot 02)" in ok(
        run("clause", "show", "2026-014/02")
    )
    assert data(run("clause", "show", "2026-014/2", "--json"))["id"] == 2  # « 2 » is lot 02
    moved = ok(run("clause", "advance", "2026-014/01", "rédiger"))
    assert moved == "Clause n° 1 : repérage → calibrage et rédaction"
    changed = ok(run("lot", "set", "2026-014/01", "--due-day", "5"))
    assert changed.startswith("Clause n° 1 : calendrier des déclarations changé.")
    said = ok(run("buyer", "set", "gers habitat", "--notices", "mensuel"))
    assert said.startswith("Donneur d'ordre n° 1 (Gers Habitat) modifié :")
    # A N° still designates the record first.
    assert data(run("clause", "show", "1", "--json"))["lot"] == "01"


def test_a_clause_is_awarded_to_companies_named_by_siret_and_name(territory: Invoke) -> None:
    run = territory
    ok(run("clause", "advance", "2026-014/01", "rédiger"))
    ok(run("clause", "advance", "2026-014/01", "attribuer"))

    awarded = data(
        run("clause", "award", "2026-014/01", "--company", SIRET, "--hours", "500",
            "--start", "01/03/2026", "--end", "31/12/2026",
            "--subcontractor", "bati nord::100", "--json")
    )  # fmt: skip

    holder, partner = awarded["entreprises"]
    assert (holder["entreprise"], holder["role"], holder["email"], holder["heures"]) == (
        "Bâti Sud",
        "titulaire",
        "paul@example.org",  # its only correspondent
        500,
    )
    assert (partner["entreprise"], partner["role"], partner["heures"]) == (
        "Bâti Nord",
        "sous-traitant",
        100,
    )


@pytest.mark.parametrize(
    ("args", "candidates"),
    [
        (("operation", "add", "Voirie", "--buyer", "gers"),
         ["Donneur d'ordre", "2 correspondent", "n° 1 Gers Habitat", "n° 2 Gers-Habitat Services"]),
        (("buyer", "set", "habitat", "--notices", "mensuel"),
         ["n° 1 Gers Habitat", "n° 2 Gers-Habitat Services"]),
        (("clause", "show", "2026-014"),
         ["Clause", "n° 1 2026-014/01 Gros œuvre", "n° 2 2026-014/02 Menuiseries"]),
        (("lot", "set", "2026-014", "--due-day", "5"),
         ["n° 1 2026-014/01 Gros œuvre", "n° 2 2026-014/02 Menuiseries"]),
        (("company", "correspondent-add", "bâti", "--name", "X", "--email", "x@example.org"),
         ["Entreprise", "n° 1 Bâti Sud (SIRET 73282932000074)", "n° 2 Bâti Nord"]),
        (("clause", "list", "--buyer", "GERS"), ["n° 1 Gers Habitat", "n° 2 Gers-Habitat Services"]),
    ],
    ids=["operation --buyer", "buyer set", "clause show", "lot set", "correspondent-add", "list"],
)  # fmt: skip
def test_an_ambiguous_designation_is_refused_with_its_candidates(
    territory: Invoke, args: tuple[str, ...], candidates: list[str]
) -> None:
    before = snapshot(territory)

    message = refused(territory(*args))

    assert "précisez par le numéro" in message
    for candidate in candidates:
        assert candidate in message, (candidate, message)
    assert snapshot(territory) == before


def test_an_ambiguous_company_in_an_award_records_nothing(territory: Invoke) -> None:
    run = territory
    ok(run("clause", "advance", "2026-014/01", "rédiger"))
    ok(run("clause", "advance", "2026-014/01", "attribuer"))
    before = snapshot(run)

    message = refused(
        run("clause", "award", "2026-014/01", "--company", SIRET, "--start", "01/03/2026",
            "--end", "31/12/2026", "--co-contractor", "bâti")
    )  # fmt: skip

    assert "n° 2 Bâti Nord" in message and "n° 1 Bâti Sud" in message
    assert snapshot(run) == before


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("operation", "add", "Voirie", "--buyer", "Conseil départemental"),
         ["Donneur d'ordre «", "Conseil départemental", "» introuvable", "clauses buyer list"]),
        (("market", "add", "2026-099", "--operation", "Collège"),
         ["Opération «", "Collège", "» introuvable", "clauses operation list"]),
        (("lot", "add", "--market", "2099-001", "--title", "Peinture"),
         ["Marché «", "2099-001", "» introuvable", "clauses market list"]),
        (("clause", "show", "2026-014/07"),
         ["Clause «", "2026-014/07", "le marché 2026-014 a les lots 01, 02."]),
        (("clause", "advance", "2099-001/01", "rédiger"),
         ["Clause «", "2099-001/01", "ex. 2026-014/01", "clauses clause list"]),
        (("company", "correspondent-add", "123 456 789 00015", "--name", "X", "--email", "x@example.org"),
         ["Aucune entreprise de SIRET", "123 456 789 00015", "clauses company list"]),
        (("company", "correspondent-add", "Maçonnerie Dupont", "--name", "X", "--email", "x@example.org"),
         ["Entreprise «", "Maçonnerie Dupont", "» introuvable", "clauses company list"]),
    ],
    ids=["buyer", "operation", "market", "lot of a market", "market of a clause", "siret", "company"],
)  # fmt: skip
def test_an_unknown_designation_says_where_the_list_is(
    territory: Invoke, args: tuple[str, ...], words: list[str]
) -> None:
    before = snapshot(territory)

    message = squash(refused(territory(*args)))

    for word in words:
        assert word in message, (word, message)
    assert snapshot(territory) == before


def test_a_number_no_record_can_have_is_still_a_usage_error(territory: Invoke) -> None:
    result = territory("clause", "show", "99999999999")

    assert result.exit_code == 2, result.output
    assert "nombre trop grand (au plus 2\u202f147\u202f483\u202f647)" in result.stderr


def test_the_help_says_what_designates_a_record(territory: Invoke) -> None:
    assert "N° ou nom du donneur d'ordre." in squash(territory("operation", "add", "--help").stdout)
    assert "N° ou référence du marché." in squash(territory("lot", "add", "--help").stdout)
    assert "N° de la clause ou référence du marché et lot, ex. 2026-014/01." in squash(
        territory("clause", "show", "--help").stdout
    )
    assert "SIRET de l'entreprise" in squash(territory("clause", "award", "--help").stdout)


# --- hours done against the target, and the final report -----------------------------------


def declaration_file(folder: Path, lines: list[tuple[str, str]]) -> Path:
    """March 2026 of Bâti Sud on 2026-014/01, one line per (participant, hours)."""
    rows = [
        f"73282932000074;Bâti Sud;2026-014;01;03/2026;{reference};Bénéficiaire du RSA;CDD;"
        f"Embauche directe;{hours}"
        for reference, hours in lines
    ]
    path = folder / "mars.csv"
    path.write_text("\r\n".join([HEADER, *rows]) + "\r\n", encoding="utf-8")
    return path


def test_show_gives_the_hours_declared_against_the_target_and_the_report(
    territory: Invoke, clock: Clock, tmp_path: Path
) -> None:
    run = territory
    for event in ("rédiger", "attribuer"):
        ok(run("clause", "advance", "2026-014/01", event))
    ok(
        run("clause", "award", "2026-014/01", "--company", "Bâti Sud",
            "--start", "01/03/2026", "--end", "31/12/2026")
    )  # fmt: skip
    ok(run("clause", "advance", "2026-014/01", "démarrer"))
    started = data(run("clause", "show", "2026-014/01", "--json"))
    assert (started["heures_realisees"], started["taux_realisation"]) == (0, 0)
    assert (
        "Heures réalisées (déclarées) : 0\u00a0h sur 600\u00a0h prévues (0,0\u00a0%), reste 600\u00a0h"
        in ok(run("clause", "show", "2026-014/01"))
    )

    clock.set(APRIL)
    path = declaration_file(tmp_path, [("P-0001", "151,67"), ("P-0002", "98,5"), ("P-0003", "0")])
    ok(run("declaration", "import", str(path)))
    shown = data(run("clause", "show", "2026-014/01", "--json"))
    text = ok(run("clause", "show", "2026-014/01"))

    # 151,67 + 98,5 + 0 = 250,17 h of 600 h: 41,695 %, cut (never rounded up) to 41,6 %.
    assert shown["heures_prevues"] == 600
    assert shown["heures_realisees"] == 250.17
    assert shown["taux_realisation"] == 0.4169
    assert shown["entreprises"][0]["heures_realisees"] == 250.17
    assert (
        "Heures réalisées (déclarées) : 250,17\u00a0h sur 600\u00a0h prévues (41,6\u00a0%), "
        "reste 349,83\u00a0h"
    ) in text
    assert "Entreprise titulaire : Bâti Sud (déclarées : 250,17\u00a0h)" in text
    assert shown["texte_bilan"] is None and "Bilan de l'opération" not in text
    # The other lot of the market has nothing declared and is not started: no line for it.
    other = data(run("clause", "show", "2026-014/02", "--json"))
    assert (other["heures_realisees"], other["taux_realisation"]) == (0, 0)
    assert "Heures réalisées" not in ok(run("clause", "show", "2026-014/02"))

    ok(run("clause", "advance", "2026-014/01", "achever", "--end-date", "31/03/2026"))
    report = "Objectif non atteint : 250 heures.\nUne embauche en CDI."
    ok(run("clause", "report", "2026-014/01", "--text", report))
    shown = data(run("clause", "show", "2026-014/01", "--json"))
    text = run("clause", "show", "2026-014/01").stdout

    assert shown["texte_bilan"] == report
    assert datetime.fromisoformat(shown["bilan"]) == APRIL
    assert "Bilan de l'opération (enregistré le 02/04/2026) :\n" in text
    assert "  Objectif non atteint : 250 heures.\n  Une embauche en CDI.\n" in text


def test_a_clause_without_hours_to_reach_has_no_rate(territory: Invoke) -> None:
    run = territory
    ok(run("lot", "add", "--market", "2026-014", "--number", "03", "--title", "Peinture"))

    shown = data(run("clause", "show", "2026-014/03", "--json"))

    assert (shown["heures_prevues"], shown["heures_realisees"], shown["taux_realisation"]) == (
        None,
        0,
        None,
    )
