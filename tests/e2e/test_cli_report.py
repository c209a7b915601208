"""``clauses report annual`` on the Gers territory of 2017, in every format, as a funder gets it."""

from __future__ import annotations

import csv
import html
import io
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.conftest import Clock
from tests.e2e.conftest import Invoke
from tests.integration import gers_2017
from tests.integration.test_annual_report import FLYER
from tests.text import squash
from workflow.bootstrap import bootstrap
from workflow.settings import Settings


@pytest.fixture
def gers(sqlite_settings: Settings, clock: Clock) -> gers_2017.Built:
    app = bootstrap(sqlite_settings, clock=clock)
    try:
        return gers_2017.build(app, clock)
    finally:
        app.close()


def test_it_prints_the_flyers_line_and_the_tables(run: Invoke, gers: gers_2017.Built) -> None:
    result = run("report", "annual", "--year", "2017")

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Bilan annuel des clauses sociales d'insertion – 2017"
    assert lines[1] == FLYER
    assert "│ Entreprises accompagnées     │       51 │" in result.output
    # 09:00 UTC, in Paris, as French writes a date and an hour (it read « le 15/02/2018 à 10:00 »).
    assert "Établi le 15 février 2018 à 10\u00a0h." in result.output


def test_the_year_defaults_to_last_year(run: Invoke, gers: gers_2017.Built, clock: Clock) -> None:
    # The clock stands in February 2018 once the scenario is built.
    assert run("report", "annual").output.splitlines()[1] == FLYER


def test_it_writes_a_french_excel_csv(run: Invoke, gers: gers_2017.Built, tmp_path: Path) -> None:
    path = tmp_path / "bilan.csv"
    result = run("report", "annual", "--year", "2017", "--format", "csv", "--output", str(path))

    assert result.exit_code == 0, result.output
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["tableau", "ligne", "indicateur", "valeur", "unité"]
    # The line starts with "+": a spreadsheet would read it as a formula, so it is neutralised.
    assert rows[1][1:4] == ["En une ligne", "Phrase", "'" + FLYER]
    figures = {(r[0], r[1], r[2]): (r[3], r[4]) for r in rows[2:]}
    assert figures[("Chiffres clés 2017", "Heures d'insertion réalisées", "Valeur")] == (
        "18165",
        "h",
    )
    assert figures[("Chiffres clés 2017", "Entreprises accompagnées", "Valeur")] == ("51", "nombre")
    assert figures[
        ("Sorties par type", "Formation courte (non qualifiante) – Autre", "Sorties")
    ] == (
        "11",
        "nombre",
    )
    # Lines of zeros are data in a CSV: kept.
    assert figures[("Sorties par groupe", "Sortie positive", "Sorties")] == ("0", "nombre")
    # Hours are « h », a line of 0 h too (user trial: « Mise à disposition (AI);Heures;0;nombre »).
    hours = {key: unit for key, (_, unit) in figures.items() if key[2] == "Heures"}
    assert any(value == "0" for key, (value, _) in figures.items() if key in hours)
    assert set(hours.values()) == {"h"}


def test_without_output_the_csv_goes_to_standard_output(run: Invoke, gers: gers_2017.Built) -> None:
    result = run("report", "annual", "--year", "2017", "--format", "csv")

    assert result.stdout_bytes.startswith(b"\xef\xbb\xbftableau;ligne;")


def test_it_writes_an_xlsx_workbook(run: Invoke, gers: gers_2017.Built, tmp_path: Path) -> None:
    path = tmp_path / "bilan.xlsx"
    result = run("report", "annual", "--year", "2017", "--format", "xlsx", "--output", str(path))

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [f"Bilan annuel 2017 écrit dans {path}", FLYER]
    book = load_workbook(path)
    front = book["Bilan"]
    assert front["A2"].value == FLYER and front["A2"].data_type == "s"  # text, not a formula
    key = {front.cell(r, 1).value: front.cell(r, 2).value for r in range(4, 9)}
    assert key == {
        "Heures d'insertion réalisées": 18165,
        "Entreprises accompagnées": 51,
        "Clauses suivies": 17,
        "Participants": key["Participants"],
        "Sorties": 18,
    }
    by_group = {
        r[0]: r[1] for r in book["Sorties par groupe"].iter_rows(min_row=2, values_only=True)
    }
    assert by_group == {
        "Emploi durable": 7,
        "Emploi de transition": 0,
        "Sortie positive": 0,
        "Autre": 11,
    }


def test_it_writes_a_standalone_html_page(
    run: Invoke, gers: gers_2017.Built, tmp_path: Path
) -> None:
    path = tmp_path / "bilan.html"
    result = run("report", "annual", "--year", "2017", "--format", "html", "--output", str(path))

    assert result.exit_code == 0, result.output
    page = path.read_text(encoding="utf-8")
    assert f'<p class="headline">{html.escape(FLYER)}</p>' in page
    assert "max-width: 600px" in page and "<script" not in page and "http" not in page
    assert "<td class=num>18\u202f165\u00a0h</td>" in page
    # The notes as a page writes French: no line of a phone starts with « : » or « ; », and
    # « 1 000 h » never splits (user trial: ordinary spaces there).
    notes = page[page.index('<ul class="notes">') :]
    assert "Heures\u00a0: heures déclarées" in notes
    assert " :" not in notes and " ;" not in notes
    assert "à partir de 1\u202f000\u00a0h" in notes
    assert "Établi le 15 février 2018 à 10\u00a0h." in notes


def test_a_buyer_report_restricts_every_figure(run: Invoke, gers: gers_2017.Built) -> None:
    department = gers.buyers[gers_2017.DEPARTMENT]
    result = run("report", "annual", "--year", "2017", "--buyer", str(department))

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert (
        lines[0] == f"Bilan annuel des clauses sociales d'insertion – 2017 – {gers_2017.DEPARTMENT}"
    )
    assert lines[1].startswith("+ de 8\u202f000 heures d'insertion, 18 entreprises accompagnées")
    assert "Ville d'Auch" not in result.output
    assert "Heures réalisées par donneur d'ordre" not in result.output  # one buyer: said above


def test_an_unknown_buyer_or_a_bad_year_is_refused_in_french(
    run: Invoke, gers: gers_2017.Built
) -> None:
    unknown = run("report", "annual", "--year", "2017", "--buyer", "99")
    bad_year = run("report", "annual", "--year", "17")

    assert unknown.exit_code == 1
    assert re.search(r"Donneur d'ordre «[\u00a0 ]99[\u00a0 ]» introuvable", unknown.output)
    assert bad_year.exit_code == 1 and "--year : 17 n'est pas une année" in bad_year.output


def test_the_buyer_is_taken_by_its_name_and_an_ambiguous_one_lists_the_candidates(
    run: Invoke, gers: gers_2017.Built
) -> None:
    department = gers.buyers[gers_2017.DEPARTMENT]
    habitat = gers.buyers[gers_2017.HABITAT]
    by_number = run("report", "annual", "--year", "2017", "--buyer", str(department))
    by_name = run("report", "annual", "--year", "2017", "--buyer", "departement du GERS")
    ambiguous = run("report", "annual", "--year", "2017", "--buyer", "Gers")

    assert by_name.exit_code == 0, by_name.output
    assert by_name.output == by_number.output
    assert by_name.output.splitlines()[0].endswith(f"– {gers_2017.DEPARTMENT}")
    # Two buyers have « Gers » in their name: neither is chosen, both are named with their N°.
    assert ambiguous.exit_code == 1
    lines = ambiguous.output.splitlines()
    assert re.fullmatch(
        r"Refusé : Donneur d'ordre «[\u00a0 ]Gers[\u00a0 ]» : 2 correspondent, précisez par le "
        r"numéro :",
        lines[0],
    ), lines[0]
    assert lines[1:] == [
        f"  - n° {department} {gers_2017.DEPARTMENT}",
        f"  - n° {habitat} {gers_2017.HABITAT}",
    ]


def test_the_help_says_the_buyer_goes_by_number_or_name(run: Invoke) -> None:
    shown = squash(run("report", "annual", "--help").output)

    assert "--buyer DONNEUR Un donneur d'ordre, par son N° ou son nom" in shown
    assert "une partie du nom suffit si un seul donneur d'ordre y répond" in shown


def test_a_year_not_over_is_said_provisional_with_its_stages_at_that_date(
    run: Invoke, gers: gers_2017.Built, clock: Clock
) -> None:
    """Run on 15 February 2018 for 2018: the figures stop that day, and the report says so."""
    result = run("report", "annual", "--year", "2018")
    finished = run("report", "annual", "--year", "2017")

    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "Année 2018 en cours : chiffres provisoires" in flat
    assert "Clauses par étape au 15 février 2018" in flat
    assert "31 décembre 2018" not in flat
    assert "provisoires" not in finished.output
    assert "Clauses par étape au 31 décembre 2017" in " ".join(finished.output.split())
    # The spreadsheet's file says it too: it carried no date nor « provisoires » (user trial, 7
    # December 2026), a funder opening it took a year in progress for a year's figures.
    rows = list(
        csv.reader(
            io.StringIO(run("report", "annual", "--year", "2018", "--format", "csv").output),
            delimiter=";",
        )
    )
    assert rows[-1][1:3] == ["Établissement", "Note"], rows[-1]
    assert rows[-1][3].startswith("Établi le 15 février 2018 à 10\u00a0h. Année 2018 en cours : ")
    assert "chiffres provisoires" in rows[-1][3]
