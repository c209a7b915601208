"""The summaries and the annual report on the dashboard (/bilans), with their downloads.

Over the real ASGI application and the real App, on SQLite and PostgreSQL: everything is behind
the login, downloads included; the page's figures are those of ``monthly_summary`` at the same
moment (which the emails and ``clauses summary`` use); the downloaded CSV and XLSX are the
command's files, and their totals are both the sum of their lines and the summary's totals; a
buyer chosen gives that buyer's figures only; the annual report's CSV is
``clauses report annual --format csv``'s output; a month, a year, a buyer or a format that does
not read is a French page naming the field, status 422. The page and its files come from the
snapshot the first view (or download) computes and keeps: ``test_report_snapshots`` tests how
it is dated, told stale and recomputed.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient
from markupsafe import escape
from openpyxl import load_workbook

from tests.conftest import Clock
from tests.integration import gers_2017, summary_dataset
from tests.integration.summary_dataset import Dataset
from tests.integration.test_dashboard import PASSWORD, sign_in
from tests.text import visible
from workflow.adapters.annual_report_files import render_annual_report
from workflow.adapters.reports import build_tables, figure_lines, format_cell, render_summary
from workflow.app import catalog, report_files, web_accounts
from workflow.app.reports import annual_report, monthly_summary
from workflow.bootstrap import App
from workflow.domain.monthly_summary import MonthlySummary
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.entrypoints.web.site import create_site

MARCH = date(2026, 3, 1)
#: 22 April 2026, 07:00 in Paris: March's summary has just left.
AFTER_MARCH_SUMMARY = datetime(2026, 4, 22, 5, 0, tzinfo=UTC)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def data(app: App, clock: Clock) -> Dataset:
    """The small territory whose March 2026 figures are worked out by hand, Camille's account,
    the clock just after March's summary left."""
    clock.set(AFTER_MARCH_SUMMARY)
    with app.transaction() as session:
        built = summary_dataset.build(session)
    web_accounts.add_user(app, login="camille", name="Camille Martin", password=PASSWORD)
    return built


@pytest.fixture
def client(app: App, data: Dataset) -> TestClient:
    client = TestClient(create_site(app))
    sign_in(client)
    return client


def run(app: App, *args: str) -> Result:
    state = CliState()
    state.factory = lambda: app
    return CliRunner().invoke(cli, list(args), obj=state, catch_exceptions=False)


def csv_rows(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM: Excel reads the accents
    assert b"\r\n" in content
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))


def number(text: str) -> Decimal:
    """A CSV figure as French Excel reads it: a decimal comma, no thousands separator."""
    assert re.fullmatch(r"-?\d+(,\d+)?", text), text
    return Decimal(text.replace(",", "."))


def figures_of(rows: Sequence[Sequence[str]], table: str, measure: str) -> dict[str, Decimal]:
    """{line: value} of one measure of one table of the tidy CSV."""
    return {r[1]: number(r[3]) for r in rows[1:] if r[0] == table and r[2] == measure and r[3]}


def sheet_rows(content: bytes, sheet: str) -> list[tuple[Any, ...]]:
    book = load_workbook(io.BytesIO(content))
    return [tuple(row) for row in book[sheet].iter_rows(values_only=True)]


def cells(content: bytes) -> dict[str, list[tuple[Any, ...]]]:
    """Every sheet's values: a workbook's bytes carry the second they were zipped in."""
    book = load_workbook(io.BytesIO(content))
    return {
        name: [tuple(r) for r in book[name].iter_rows(values_only=True)] for name in book.sheetnames
    }


def table_of(page: str, title: str) -> list[list[str]]:
    """The body rows of the page's table under the heading ``title``, cell by cell."""
    section = page.split(f"<h2>{escape(title)}</h2>", 1)[1].split("</section>", 1)[0]
    body = section.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [
        [visible(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


# --- behind the login ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/bilans",
        "/bilans?mois=2026-03",
        "/bilans/2026-03.csv",
        "/bilans/2026-03.xlsx?acheteur=1",
        "/bilans/annuel",
        "/bilans/annuel/2025.csv",
        "/bilans/annuel/2025.xlsx",
        "/bilans/2026-13.csv",
    ],
)
def test_every_page_and_file_is_behind_the_login(app: App, data: Dataset, path: str) -> None:
    response = TestClient(create_site(app)).get(path, follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"].startswith("/connexion")
    assert "content-disposition" not in response.headers


# --- the monthly summary -------------------------------------------------------------------------


def test_the_page_shows_the_summary_that_left_as_the_email_and_the_command_say(
    app: App, client: TestClient, data: Dataset
) -> None:
    page = client.get("/bilans")
    summary = monthly_summary(app, now=AFTER_MARCH_SUMMARY)

    assert page.status_code == 200
    assert summary.month == MARCH  # by default, the last summary that left
    text = visible(page.text)
    assert "Synthèse mensuelle des clauses sociales – mars 2026" in text
    for label, value in figure_lines(summary):
        assert f"{label}\u00a0: {value}" in text
    assert "170,25\u00a0h" in text  # the hand-worked hours of March
    # The progress table: the whole territory, then a line per buyer, as the command prints.
    overall = summary.overall.progress
    rows = table_of(page.text, "Heures d'insertion : mois, cumul et objectif")
    assert rows[0][:5] == [
        "Ensemble",
        format_cell(overall.clauses, "int"),
        format_cell(overall.hours_target, "hours"),
        format_cell(overall.hours_month, "hours"),
        format_cell(overall.hours_cumulated, "hours"),
    ]
    assert [r[0] for r in rows[1:]] == [b.name for b in summary.buyers]
    assert [r[3] for r in rows[1:]] == [
        format_cell(b.figures.progress.hours_month, "hours") for b in summary.buyers
    ]
    clauses = table_of(page.text, "Avancement par clause")
    assert [r[0] for r in clauses if r[0] != "–"] == [
        str(c.clause_id) for c in summary.followed_clauses
    ]
    assert 'href="/bilans/2026-03.csv"' in page.text and 'href="/bilans/2026-03.xlsx"' in page.text
    assert '<option value="2026-03" selected>' in page.text


def test_the_csv_is_the_commands_and_its_totals_add_up(
    app: App, client: TestClient, data: Dataset, tmp_path: Path
) -> None:
    response = client.get("/bilans/2026-03.csv")
    summary = monthly_summary(app, MARCH, now=AFTER_MARCH_SUMMARY)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="synthese-2026-03.csv"'
    assert response.content == render_summary(summary, "csv")
    # ``clauses summary`` writes these very bytes for the same moment.
    written = tmp_path / "synthese.csv"
    result = run(app, "summary", "--month", "2026-03", "--format", "csv", "--output", str(written))
    assert result.exit_code == 0, result.output
    assert written.read_bytes() == response.content

    rows = csv_rows(response.content)
    assert rows[0] == ["tableau", "ligne", "indicateur", "valeur", "unité"]
    progress = "Heures d'insertion : mois, cumul et objectif"
    for measure, expected in (
        ("Heures du mois", summary.overall.progress.hours_month),
        ("Heures cumulées", summary.overall.progress.hours_cumulated),
        ("Heures prévues", summary.overall.progress.hours_target),
    ):
        by_scope = figures_of(rows, progress, measure)
        clause_lines = figures_of(rows, "Avancement par clause", measure)
        assert by_scope["Ensemble"] == expected
        assert sum(v for k, v in by_scope.items() if k != "Ensemble") == expected
        assert sum(clause_lines.values()) == expected
    assert figures_of(rows, progress, "Heures du mois")["Ensemble"] == Decimal("170.25")
    months = figures_of(
        rows, "Heures réalisées par mois (depuis le premier mois déclaré)", "Heures"
    )
    assert months["2026-03"] == Decimal("170.25")


def test_the_xlsx_is_the_commands_and_its_totals_add_up(
    app: App, client: TestClient, data: Dataset, tmp_path: Path
) -> None:
    response = client.get("/bilans/2026-03.xlsx")
    summary = monthly_summary(app, MARCH, now=AFTER_MARCH_SUMMARY)

    assert response.status_code == 200
    assert response.headers["content-type"] == XLSX
    assert response.headers["content-disposition"] == 'attachment; filename="synthese-2026-03.xlsx"'
    assert cells(response.content) == cells(render_summary(summary, "xlsx"))
    written = tmp_path / "synthese.xlsx"
    result = run(app, "summary", "--month", "2026-03", "--format", "xlsx", "--output", str(written))
    assert result.exit_code == 0, result.output
    assert cells(written.read_bytes()) == cells(response.content)
    progress = sheet_rows(response.content, "Avancement")
    assert progress[0][:5] == (
        "Périmètre",
        "Clauses comptées",
        "Heures prévues",
        "Heures du mois",
        "Heures cumulées",
    )
    ensemble = next(r for r in progress if r[0] == "Ensemble")
    assert Decimal(str(ensemble[3])) == summary.overall.progress.hours_month == Decimal("170.25")
    clauses = sheet_rows(response.content, "Clauses")
    month_column = clauses[0].index("Heures du mois")
    assert sum(Decimal(str(r[month_column] or 0)) for r in clauses[1:]) == Decimal("170.25")


def test_a_buyer_chosen_gives_that_buyers_figures_only(
    app: App, client: TestClient, data: Dataset
) -> None:
    mine = monthly_summary(app, MARCH, buyer=data.auch, now=AFTER_MARCH_SUMMARY)
    whole = monthly_summary(app, MARCH, now=AFTER_MARCH_SUMMARY)
    assert mine.overall.progress.hours_month != whole.overall.progress.hours_month

    page = client.get(f"/bilans?mois=2026-03&acheteur={data.auch}")
    text = visible(page.text)
    assert page.status_code == 200
    assert "Synthèse mensuelle des clauses sociales – mars 2026 – Ville d'Auch" in text
    for label, value in figure_lines(mine):
        assert f"{label}\u00a0: {value}" in text
    assert "Département du Gers" not in visible(page.text.split("<h1>", 1)[1].split("</form>")[1])
    assert f'<option value="{data.auch}" selected>' in page.text
    assert f'href="/bilans/2026-03.csv?acheteur={data.auch}"' in page.text

    response = client.get(f"/bilans/2026-03.csv?acheteur={data.auch}")
    name = f"synthese-2026-03-donneur-{data.auch}.csv"
    assert response.headers["content-disposition"] == f'attachment; filename="{name}"'
    assert response.content == render_summary(mine, "csv")
    rows = csv_rows(response.content)
    progress = figures_of(rows, "Heures d'insertion : mois, cumul et objectif", "Heures du mois")
    # One scope, the buyer's: no « Périmètre » column, and no line of another buyer.
    assert progress == {"": mine.overall.progress.hours_month}
    clause_lines = figures_of(rows, "Avancement par clause", "Heures du mois")
    assert sum(clause_lines.values()) == mine.overall.progress.hours_month == Decimal(25)
    assert all("Gers" not in r[1] for r in rows[1:])

    workbook = client.get(f"/bilans/2026-03.xlsx?acheteur={data.auch}")
    assert cells(workbook.content) == cells(render_summary(mine, "xlsx"))


def test_a_long_clause_table_shows_its_first_lines_and_says_how_many_more(
    monkeypatch: pytest.MonkeyPatch, app: App, client: TestClient, data: Dataset
) -> None:
    """A country's 10^5 lines are not sent to a browser: here two lines stand for fifty."""
    monkeypatch.setattr(report_files, "PAGE_ROWS", 1)
    summary = monthly_summary(app, MARCH, now=AFTER_MARCH_SUMMARY)
    table = next(t for t in build_tables(summary) if t.sheet == "Clauses")
    lines = len(table.shown_rows())
    assert lines > 1

    page = client.get("/bilans?mois=2026-03")

    clauses = table_of(page.text, "Avancement par clause")
    assert len(clauses) == 1 and clauses[0][0] == str(summary.followed_clauses[0].clause_id)
    text = visible(page.text)
    assert f"Les 1 premières lignes sur {lines}\u00a0; {lines - 1} autre" in text
    assert "dans les fichiers CSV et XLSX, qui donnent le tableau complet." in text
    rows = csv_rows(client.get("/bilans/2026-03.csv").content)
    numbers = [r[3] for r in rows if r[0] == "Avancement par clause" and r[2] == "N°"]
    assert len(numbers) == len(table.rows) >= lines  # every line, zeros included


def summary_at(app: App, month: date) -> MonthlySummary:
    return monthly_summary(app, month, now=AFTER_MARCH_SUMMARY)


def test_another_month_is_chosen_from_the_list(app: App, client: TestClient, data: Dataset) -> None:
    page = client.get("/bilans?mois=2026-02")
    february = summary_at(app, date(2026, 2, 1))

    assert page.status_code == 200
    assert "février 2026" in visible(page.text.split("<h1>")[1].split("</h1>")[0])
    for label, value in figure_lines(february):
        assert f"{label}\u00a0: {value}" in visible(page.text)
    assert client.get("/bilans/2026-02.csv").content == render_summary(february, "csv")


# --- the annual report ---------------------------------------------------------------------------


@pytest.fixture
def gers(app: App, clock: Clock) -> TestClient:
    """The Gers territory of 2017, the clock in February 2018, Camille signed in."""
    gers_2017.build(app, clock)
    web_accounts.add_user(app, login="camille", name="Camille Martin", password=PASSWORD)
    client = TestClient(create_site(app))
    sign_in(client)
    return client


def test_the_annual_report_is_last_years_and_its_csv_is_the_commands(
    app: App, gers: TestClient
) -> None:
    report = annual_report(app)
    assert report.year == 2017

    page = gers.get("/bilans/annuel")
    text = visible(page.text)
    assert page.status_code == 200
    assert "Bilan annuel des clauses sociales d'insertion – 2017" in text
    assert report.headline in text
    assert "+ de 18\u202f000 heures d'insertion, 51 entreprises accompagnées" in text
    key = table_of(page.text, "Chiffres clés 2017")
    assert key[0] == ["Heures d'insertion réalisées", "18\u202f165\u00a0h"]
    assert key[1] == ["Entreprises accompagnées", "51"]
    by_buyer = table_of(page.text, "Heures réalisées par donneur d'ordre")
    assert by_buyer[-1] == ["Total", "18\u202f165\u00a0h"]
    assert '<tr class="total">' in page.text
    assert 'href="/bilans/annuel/2017.csv"' in page.text

    response = gers.get("/bilans/annuel/2017.csv")
    assert response.headers["content-disposition"] == 'attachment; filename="bilan-annuel-2017.csv"'
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    printed = run(app, "report", "annual", "--year", "2017", "--format", "csv")
    assert printed.exit_code == 0
    assert response.content == printed.stdout_bytes == render_annual_report(report, "csv")
    rows = csv_rows(response.content)
    hours = figures_of(rows, "Heures réalisées par donneur d'ordre", "Heures")
    assert hours.pop("Total") == sum(hours.values()) == report.hours == Decimal(18165)

    workbook = gers.get("/bilans/annuel/2017.xlsx")
    assert workbook.headers["content-type"] == XLSX
    assert cells(workbook.content) == cells(render_annual_report(report, "xlsx"))
    front = sheet_rows(workbook.content, "Bilan")
    assert front[1][0] == report.headline
    buyers = sheet_rows(workbook.content, "Heures par donneur d'ordre")
    assert buyers[-1] == ("Total", 18165)
    assert sum(Decimal(str(r[1])) for r in buyers[1:-1]) == Decimal(18165)


def test_a_buyers_annual_report_counts_its_clauses_only(app: App, gers: TestClient) -> None:
    department = annual_report(app, 2017, buyer=gers_2017.DEPARTMENT)
    buyer_id = department.buyer_id
    assert buyer_id is not None

    page = gers.get(f"/bilans/annuel?annee=2017&acheteur={buyer_id}")
    text = visible(page.text)
    assert page.status_code == 200
    assert f"2017 – {gers_2017.DEPARTMENT}" in text
    assert department.headline in text
    assert "Heures réalisées par donneur d'ordre" not in text
    response = gers.get(f"/bilans/annuel/2017.csv?acheteur={buyer_id}")
    name = f"bilan-annuel-2017-donneur-{buyer_id}.csv"
    assert response.headers["content-disposition"] == f'attachment; filename="{name}"'
    printed = run(
        app, "report", "annual", "--year", "2017", "--buyer", str(buyer_id), "--format", "csv"
    )
    assert response.content == printed.stdout_bytes
    key = figures_of(csv_rows(response.content), "Chiffres clés 2017", "Valeur")
    assert key["Heures d'insertion réalisées"] == department.hours == Decimal(8925)


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/bilans?mois=2026-13", "Mois\u00a0: «\u00a02026-13\u00a0» n'est pas un mois"),
        ("/bilans?mois=mars", "Mois\u00a0: «\u00a0mars\u00a0» n'est pas un mois"),
        ("/bilans?mois=0999-01", "Mois\u00a0: «\u00a00999-01\u00a0»\u00a0: année entre 1900"),
        ("/bilans/2026-13.csv", "Mois\u00a0: «\u00a02026-13\u00a0» n'est pas un mois"),
        ("/bilans/2026-03.pdf", "Format\u00a0: «\u00a02026-03.pdf\u00a0»"),
        ("/bilans/2026-03", "Format\u00a0: «\u00a02026-03\u00a0»"),
        ("/bilans?acheteur=999", "Donneur d'ordre\u00a0: aucun donneur d'ordre n'a le n°\u00a0999"),
        ("/bilans?acheteur=abc", "Donneur d'ordre\u00a0: «\u00a0abc\u00a0»"),
        ("/bilans/2026-03.xlsx?acheteur=999", "Donneur d'ordre\u00a0: aucun donneur d'ordre"),
        ("/bilans/annuel?annee=abc", "Année\u00a0: «\u00a0abc\u00a0» n'est pas une année"),
        ("/bilans/annuel?annee=99999", "Année\u00a0: «\u00a099999\u00a0» n'est pas une année"),
        ("/bilans/annuel/abc.csv", "Année\u00a0: «\u00a0abc\u00a0» n'est pas une année"),
        ("/bilans/annuel/2017.ods", "Format\u00a0: «\u00a02017.ods\u00a0»"),
        ("/bilans/annuel?acheteur=999", "Donneur d'ordre\u00a0: aucun donneur d'ordre"),
        ("/bilans/annuel/2025.csv?acheteur=999", "Donneur d'ordre\u00a0: aucun donneur d'ordre"),
    ],
)
def test_what_does_not_read_is_refused_in_french_naming_the_field(
    client: TestClient, path: str, field: str
) -> None:
    response = client.get(path)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "content-disposition" not in response.headers
    assert "Bilan non disponible" in response.text
    assert field in visible(response.text)


def test_the_edges_of_the_calendar_are_answered(client: TestClient) -> None:
    for path in (
        "/bilans?mois=1900-01",
        "/bilans?mois=2999-12",
        "/bilans/annuel?annee=1900",
        "/bilans/annuel?annee=2999",
        "/bilans/1900-01.csv",
        "/bilans/2999-12.xlsx",
        "/bilans/annuel/1900.xlsx",
    ):
        assert client.get(path).status_code == 200, path


def test_a_month_is_read_as_the_command_reads_it(app: App, client: TestClient) -> None:
    march = client.get("/bilans?mois=2026-03").text.split("<h1>")[1].split("</h1>")[0]
    for written in ("2026-3", "03/2026", "3/2026", " 2026-03 "):
        page = client.get("/bilans", params={"mois": written})
        assert page.text.split("<h1>")[1].split("</h1>")[0] == march, written
    assert client.get("/bilans/2026-3.csv").content == client.get("/bilans/2026-03.csv").content


def test_a_territory_with_nothing_yet_has_summaries_of_zeros(app: App, clock: Clock) -> None:
    clock.set(AFTER_MARCH_SUMMARY)
    web_accounts.add_user(app, login="camille", name="Camille Martin", password=PASSWORD)
    client = TestClient(create_site(app))
    sign_in(client)

    page = client.get("/bilans")
    assert page.status_code == 200
    assert "Heures réalisées dans le mois\u00a0: 0\u00a0h" in visible(page.text)
    assert client.get("/bilans/2026-03.csv").status_code == 200
    assert client.get("/bilans/2026-03.xlsx").status_code == 200
    annual = client.get("/bilans/annuel")
    assert annual.status_code == 200
    assert "0 heure d'insertion, 0 entreprise accompagnée" in visible(annual.text)
    assert client.get("/bilans/annuel/2025.xlsx").status_code == 200


def test_a_number_two_buyers_names_hold_is_refused_not_guessed(
    app: App, client: TestClient
) -> None:
    catalog.add_buyer(app, "Bailleur 77 Nord", kind="Bailleur social")
    catalog.add_buyer(app, "Bailleur 77 Sud", kind="Bailleur social")

    for path in ("/bilans?acheteur=77", "/bilans/2026-03.csv?acheteur=77"):
        response = client.get(path)
        assert response.status_code == 422
        assert (
            "Donneur d'ordre\u00a0: «\u00a077\u00a0» désigne plusieurs donneurs d'ordre"
            in visible(response.text)
        )
