"""``clauses summary`` and ``clauses digest`` through click, on both backends."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from openpyxl import load_workbook

from tests.integration import summary_dataset
from tests.integration.summary_dataset import Dataset
from tests.text import squash
from workflow.adapters.templates import french_hours
from workflow.bootstrap import App
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.services.summaries import compile_summary


@pytest.fixture
def data(app: App) -> Dataset:
    with app.transaction() as session:
        return summary_dataset.build(session)


def run(app: App, *args: str) -> Result:
    state = CliState()
    state.factory = lambda: app
    return CliRunner().invoke(cli, list(args), obj=state)


def test_it_prints_the_month_as_tables(app: App, data: Dataset) -> None:
    result = run(app, "summary", "--month", "2026-03")
    assert result.exit_code == 0, result.output
    assert "Synthèse mensuelle des clauses sociales – mars 2026" in result.output
    assert "- Heures réalisées dans le mois\u00a0: 170,25\u00a0h" in result.output
    assert "- Déclarations de mars 2026\u00a0: toutes reçues (3 sur 3)" in result.output
    assert "Ville d'Auch" in result.output


def test_it_prints_one_buyer_only(app: App, data: Dataset) -> None:
    result = run(app, "summary", "--month", "03/2026", "--buyer", str(data.auch))
    assert result.exit_code == 0, result.output
    assert "Ville d'Auch" in result.output
    assert "Gers" not in result.output
    assert "PAR-0" not in result.output


def test_it_writes_a_workbook_with_one_sheet_per_table(
    app: App, data: Dataset, tmp_path: Path
) -> None:
    target = tmp_path / "mars.xlsx"
    result = run(app, "summary", "--month", "2026-03", "--format", "xlsx", "--output", str(target))
    assert result.exit_code == 0, result.output
    assert str(target) in result.output.replace("\n", "")
    workbook = load_workbook(target)
    assert workbook.sheetnames == [
        "Avancement",
        "Déclarations",
        "Déclarations manquantes",
        "Déclarations pas encore dues",
        "Clauses",
        "Heures par mois",
        "Participants par critère",
        "Participants par sexe",
        "Participants par âge",
        "Heures par modalité",
        "Contrats par type",
        "Sorties par type",
        "Sorties par groupe",
        "Clauses par étape",
    ]
    # From the first declared month (January) to March.
    assert [c.value for c in workbook["Heures par mois"]["B"]] == ["Heures", 70, 165.5, 170.25]


def test_it_summarises_by_default_the_last_month_whose_summary_left(
    app: App, data: Dataset
) -> None:
    # 21 April 2026: March's summary leaves on the 22nd (after its last reminder), so the
    # default month is still February; on the 22nd at 07:00 in Paris it is March.
    app.clock = lambda: datetime(2026, 4, 21, 12, 0, tzinfo=UTC)
    assert "– février 2026" in run(app, "summary").output
    app.clock = lambda: datetime(2026, 4, 22, 5, 0, tzinfo=UTC)
    assert "– mars 2026" in run(app, "summary").output


def test_it_writes_html_under_var_reports_by_default(
    app: App, data: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run(app, "summary", "--month", "2026-03", "--format", "html")
    assert result.exit_code == 0, result.output
    page = (tmp_path / "var" / "reports" / "synthese-2026-03.html").read_text(encoding="utf-8")
    assert "<svg" in page and "<script" not in page
    assert "Heures réalisées par mois" in page


def test_it_prints_csv_to_stdout_for_excel(app: App, data: Dataset) -> None:
    result = run(app, "summary", "--month", "2026-03", "--format", "csv")
    assert result.exit_code == 0, result.output
    # The very bytes of the file: redirected with ">", it opens in French Excel as it is.
    assert result.stdout_bytes.startswith(b"\xef\xbb\xbftableau;ligne;indicateur;valeur;unit")
    assert result.stdout_bytes.count(b"\xef\xbb\xbf") == 1


def test_it_writes_the_same_csv_to_a_file(app: App, data: Dataset, tmp_path: Path) -> None:
    target = tmp_path / "mars.csv"
    printed = run(app, "summary", "--month", "2026-03", "--format", "csv")
    written = run(app, "summary", "--month", "2026-03", "--format", "csv", "--output", str(target))
    assert written.exit_code == 0, written.output
    assert target.read_bytes() == printed.stdout_bytes


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--month", "mars"], "« mars » n'est pas un mois ; attendu AAAA-MM"),
        (["--month", "2026-13"], "n'est pas un mois"),
    ],
)
def test_it_refuses_bad_input_in_french(
    app: App, data: Dataset, args: list[str], message: str
) -> None:
    result = run(app, "summary", *args)
    assert result.exit_code == 1
    # Lines joined as printed (no-break spaces kept: "«\u00a0mars\u00a0»").
    assert message in " ".join(result.output.split("\n"))


def test_it_takes_the_buyer_by_its_name_as_well_as_its_number(
    app: App, data: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    by_number = run(app, "summary", "--month", "2026-03", "--buyer", str(data.auch))
    # Written as people type it: lower case, a typographic apostrophe.
    by_name = run(app, "summary", "--month", "2026-03", "--buyer", "ville d’auch")
    part = run(app, "summary", "--month", "2026-03", "--buyer", "Auch", "--format", "html")

    assert by_name.exit_code == 0, by_name.output
    assert by_name.output == by_number.output
    assert "Ville d'Auch" in by_name.output and "Gers" not in by_name.output
    # A part of the name is enough when it is the only buyer's; the file bears its N°.
    assert part.exit_code == 0, part.output
    page = tmp_path / "var" / "reports" / f"synthese-2026-03-donneur-{data.auch}.html"
    assert "Auch" in page.read_text(encoding="utf-8")


def test_an_unknown_buyer_is_refused_saying_where_the_list_is(app: App, data: Dataset) -> None:
    result = run(app, "summary", "--month", "2026-03", "--buyer", "999")

    assert result.exit_code == 1
    assert re.search(
        r"Refusé : Donneur d'ordre «[\u00a0 ]999[\u00a0 ]» introuvable\. "
        r"La liste : «[\u00a0 ]clauses buyer list[\u00a0 ]»\.",
        squash(result.output),
    ), result.output


def test_it_prints_the_digest_as_json_without_sending(app: App, data: Dataset) -> None:
    result = run(app, "digest", "--now", "2026-06-01T08:00", "--json")
    assert result.exit_code == 0, result.output
    digest = json.loads(result.output)
    assert digest["jour"] == "2026-06-01" and digest["jour_ouvre"] is True
    categories = [e["categorie"] for e in digest["elements"]]
    # Clause 2, planned to end on 31 May 2026, is still in execution on 1 June: that comes
    # first; then the dataset's participants with hours but no eligibility validated yet.
    eligibility = categories.count("eligibility")
    assert eligibility > 0
    assert categories == ["planned_end"] + ["eligibility"] * eligibility + ["waiting"] * 3
    past = digest["elements"][0]
    assert past["clause"] == data.clauses["c2"] and past["jours"] == 1
    assert past["titre"].endswith(
        ": fin prévue le 31 mai 2026 dépassée depuis 1 jour, exécution toujours en cours"
    )
    assert f"clauses lot set-end {data.clauses['c2']} jj/mm/aaaa" in past["a_faire"]
    waiting = digest["elements"][1 + eligibility :]
    assert [e["clause"] for e in waiting] == [
        data.clauses["c7"],  # 146 days in drafting, 56 over its threshold
        data.clauses["c4"],  # 111 days in identification, 51 over
        data.clauses["c6"],  # 61 days in identification, 1 over
    ]
    assert "clauses clause advance" in waiting[0]["a_faire"]
    assert "clauses participant validate" in digest["elements"][1]["a_faire"]


def test_it_says_when_no_digest_would_be_sent(app: App) -> None:
    app.clock = lambda: datetime(2026, 3, 28, 9, 0, tzinfo=UTC)
    result = run(app, "digest")
    assert result.exit_code == 0, result.output
    assert "jour non ouvré" in result.output
    assert "Rien à faire" in result.output


def test_it_refuses_a_bad_now(app: App) -> None:
    result = run(app, "digest", "--now", "demain")
    assert result.exit_code == 1
    assert "n'est pas une date-heure ISO" in result.output


def test_it_shows_the_figures_as_known_at_a_given_moment(app: App, data: Dataset) -> None:
    # Every declaration of the dataset was recorded on 5 January 2026: none was known before.
    before = run(app, "summary", "--month", "2026-03", "--now", "2026-01-04T12:00")
    after = run(app, "summary", "--month", "2026-03", "--now", "2026-04-22T07:00")
    assert "Chiffres arrêtés le 4 janvier 2026 à 12\u00a0h." in before.output
    assert "- Heures réalisées dans le mois\u00a0: 0\u00a0h" in before.output
    assert "- Heures réalisées dans le mois\u00a0: 170,25\u00a0h" in after.output


def test_it_names_the_month_in_words_when_it_writes_a_file(
    app: App, data: Dataset, tmp_path: Path
) -> None:
    target = tmp_path / "s.csv"
    result = run(app, "summary", "--month", "2026-04", "--format", "csv", "--output", str(target))
    assert result.exit_code == 0, result.output
    assert squash(result.output) == f"Synthèse d'avril 2026 écrite dans {target}"
    result = run(app, "summary", "--month", "2026-03", "--format", "csv", "--output", str(target))
    assert squash(result.output) == f"Synthèse de mars 2026 écrite dans {target}"


def test_its_tables_are_whole_when_the_output_goes_to_a_file(
    app: App, data: Dataset, tmp_path: Path
) -> None:
    # As a person runs ``clauses summary --month 2026-03 > s.txt``: the real command, its
    # standard output a pipe, no COLUMNS in the environment.
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env.update(CLAUSES_DATABASE_URL=app.settings.database_url, CLAUSES_TIMEZONE="Europe/Paris")
    clauses = Path(sys.executable).parent / "clauses"
    done = subprocess.run(
        [str(clauses), "summary", "--month", "2026-03", "--now", "2026-04-22T07:00"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    printed = done.stdout
    assert "…" not in printed
    with app.transaction() as session:
        summary = compile_summary(
            session, date(2026, 3, 1), now=datetime(2026, 4, 22, 5, 0, tzinfo=UTC),
            zone=app.settings.zone,
        )  # fmt: skip
    lines = printed.splitlines()
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in lines if line.startswith("│")]
    # Every cell whole on one line: the clause table's rows read as the data says.
    for clause in summary.clauses:
        expected = [str(clause.clause_id), clause.buyer, clause.market, clause.lot or "–",
                    clause.title, clause.stage_label, french_hours(clause.progress.hours_target),
                    french_hours(clause.progress.hours_month),
                    french_hours(clause.progress.hours_cumulated)]  # fmt: skip
        assert any(row[: len(expected)] == expected for row in cells), (expected, printed)
    assert ["Ensemble", "3", french_hours(1800), french_hours(Decimal("170.25"))] in [
        row[:4] for row in cells
    ], printed
    assert max(len(line) for line in lines) > 80  # the width was not cut to 80
