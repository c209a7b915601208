"""The monthly summary and the annual report as the dashboard shows them (``/bilans``), and the
files it gives to download.

The figures come from ``workflow.app.reports`` (the very code path of the emails and of
``clauses summary`` / ``clauses report annual``); the tables are those the command prints, each
cut to ``PAGE_ROWS`` lines on the page (a territory of 10^5 lots has as many clause lines); the
files are the bytes the command writes, under the name it gives them, so a download and
``--format csv`` for the same moment are the same file.

A report is compiled once (``compile_summary``, ``compile_annual``) into its view and its two
files; ``workflow.app.report_snapshots`` keeps them and the page reads them from there.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from workflow.adapters import annual_report_files as annual_files
from workflow.adapters import reports as summary_files
from workflow.adapters.templates import french_count, french_number
from workflow.app.reports import annual_report, monthly_summary
from workflow.bootstrap import App
from workflow.domain.annual_report import AnnualReport
from workflow.domain.calendar import add_months
from workflow.domain.monthly_summary import MonthlySummary
from workflow.domain.summary import latest_due_month
from workflow.services.summaries import summary_timing

FileFormat = Literal["csv", "xlsx"]
FILE_FORMATS: tuple[FileFormat, ...] = ("csv", "xlsx")
MEDIA_TYPES: dict[FileFormat, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
#: Lines of a table the page shows; the files have them all.
PAGE_ROWS = 50
#: Months offered in the month list, back from the last summary that left.
MONTHS_OFFERED = 36
#: Years offered in the year list, back from the current one.
YEARS_OFFERED = 10
#: The annual report's table of hours per buyer, whose last line is their total.
BUYERS_SHEET = "Heures par donneur d'ordre"
#: The table of hours per month runs from the first declared month: the page shows its end.
RECENT_FIRST = frozenset({"Heures par mois"})


@dataclass(frozen=True)
class ReportFile:
    """A file to download: its name (the one ``clauses`` gives it), its type, its bytes."""

    name: str
    media_type: str
    content: bytes


@dataclass(frozen=True)
class ShownTable:
    """A table as the page shows it: cells formatted the French way, at most ``PAGE_ROWS``
    lines, and what was left out said in ``note``."""

    title: str
    columns: tuple[str, ...]
    numeric: tuple[bool, ...]
    rows: tuple[tuple[str, ...], ...]
    total: int  # lines a person reads in the complete table (lines of zeros left out)
    note: str | None = None
    totals: frozenset[int] = frozenset()  # indexes of rows that add the others up

    @property
    def hidden(self) -> int:
        return self.total - len(self.rows)


@dataclass(frozen=True)
class BuyerChoice:
    id: int
    name: str


@dataclass(frozen=True)
class SummaryView:
    """A month's summary as compiled for the page: what it shows, formatted, tables cut."""

    month: date
    buyer_id: int | None
    title: str
    figures: tuple[tuple[str, str], ...]
    chart_svg: str
    tables: tuple[ShownTable, ...]
    file_stem: str


@dataclass(frozen=True)
class AnnualView:
    """The funders' report of a year as compiled for the page."""

    year: int
    buyer_id: int | None
    title: str
    headline: str
    provisional: str | None  # the year is not over: its figures are provisional
    tables: tuple[ShownTable, ...]
    notes: tuple[str, ...]
    file_stem: str


@dataclass(frozen=True)
class CompiledReport:
    """One compile of a report: the page's view and the two files, from the same figures."""

    view: SummaryView | AnnualView
    compiled_at: datetime
    csv: bytes
    xlsx: bytes

    def view_json(self) -> str:
        return view_to_json(self.view)


def _cut(
    title: str,
    columns: Sequence[tuple[str, bool]],
    rows: Sequence[tuple[Any, ...]],
    cells: Callable[[tuple[Any, ...]], tuple[str, ...]],
    recent_first: bool = False,
) -> ShownTable:
    """``rows`` cut to ``PAGE_ROWS`` lines, then formatted by ``cells`` (only those: a
    territory's 10^4 clause lines cost a second to format), with the sentence saying how many
    more there are."""
    total = len(rows)
    note = None
    if total > PAGE_ROWS:
        others = total - PAGE_ROWS
        rest = french_count(others, "autre ligne", "autres lignes")
        if recent_first:
            rows = rows[-PAGE_ROWS:]
            note = f"Les {PAGE_ROWS} derniers mois\u00a0; {rest}, plus anciennes, "
        else:
            rows = rows[:PAGE_ROWS]
            note = f"Les {PAGE_ROWS} premières lignes sur {french_number(total)}\u00a0; {rest} "
        note += "dans les fichiers CSV et XLSX, qui donnent le tableau complet."
    return ShownTable(
        title,
        tuple(c for c, _ in columns),
        tuple(n for _, n in columns),
        tuple(cells(row) for row in rows),
        total,
        note,
    )


# --- The monthly summary --------------------------------------------------------------------------


def _summary_tables(summary: MonthlySummary) -> tuple[ShownTable, ...]:
    shown = []
    for table in summary_files.build_tables(summary):
        kinds = [c.kind for c in table.columns]

        def cells(
            row: tuple[Any, ...], kinds: list[summary_files.ColumnKind] = kinds
        ) -> tuple[str, ...]:
            return tuple(summary_files.format_cell(v, k) for v, k in zip(row, kinds, strict=True))

        columns = [(c.title, not c.is_label) for c in table.columns]
        recent_first = table.sheet in RECENT_FIRST
        shown.append(_cut(table.title, columns, table.shown_rows(), cells, recent_first))
    return tuple(shown)


def summary_stem(month: date, buyer_id: int | None) -> str:
    """The file's name without its suffix, as ``clauses summary`` names it."""
    return f"synthese-{month:%Y-%m}" + (f"-donneur-{buyer_id}" if buyer_id is not None else "")


def compile_summary(
    app: App, month: date, *, buyer_id: int | None = None, now: datetime | None = None
) -> CompiledReport:
    """The summary of ``month`` compiled once at ``now`` (the app's clock when not given), by
    the code of the emails and of ``clauses summary``: the page's view, and the very bytes
    ``clauses summary --format csv|xlsx`` writes for the same moment."""
    moment = now or app.clock()
    summary = monthly_summary(app, month, buyer=buyer_id, now=moment)
    view = SummaryView(
        month=summary.month,
        buyer_id=summary.buyer_id,
        title=summary_files.summary_title(summary),
        figures=tuple(summary_files.figure_lines(summary)),
        chart_svg=summary_files.hours_chart_svg(summary),
        tables=_summary_tables(summary),
        file_stem=summary_stem(summary.month, summary.buyer_id),
    )
    return CompiledReport(
        view,
        summary.compiled_at or moment,
        summary_files.render_summary(summary, "csv"),
        summary_files.render_summary(summary, "xlsx"),
    )


def summary_months(now: datetime, chosen: date, app: App) -> tuple[tuple[date, ...], date]:
    """The months to choose from, the most recent first, and the month of the last summary that
    left at ``now`` (the page's default)."""
    default = latest_due_month(now, summary_timing(app.settings))
    months = [add_months(default, -i) for i in range(MONTHS_OFFERED)]
    if chosen not in months:
        months = sorted({*months, chosen}, reverse=True)
    return tuple(months), default


# --- The annual report ----------------------------------------------------------------------------


def _annual_tables(report: AnnualReport) -> tuple[ShownTable, ...]:
    shown = []
    for table in annual_files.build_tables(report):
        kinds = [c.kind for c in table.columns]

        def cells(row: tuple[Any, ...], kinds: list[annual_files.Kind] = kinds) -> tuple[str, ...]:
            return tuple(annual_files.format_cell(v, k) for v, k in zip(row, kinds, strict=True))

        columns = [(c.title, not c.is_label) for c in table.columns]
        rows = table.shown_rows()
        if table.sheet != BUYERS_SHEET or not rows:
            shown.append(_cut(table.title, columns, rows, cells))
            continue
        # The buyers' table ends with its total line: kept in view however many buyers there
        # are (the first ones, then the total), and set apart as the HTML report does.
        cut = _cut(table.title, columns, rows[:-1], cells)
        shown.append(
            ShownTable(
                cut.title,
                cut.columns,
                cut.numeric,
                (*cut.rows, cells(rows[-1])),
                cut.total + 1,
                cut.note,
                frozenset({len(cut.rows)}),
            )
        )
    return tuple(shown)


def annual_stem(year: int, buyer_id: int | None) -> str:
    """The file's name without its suffix, as ``clauses report annual`` names it."""
    return f"bilan-annuel-{year}" + (f"-donneur-{buyer_id}" if buyer_id is not None else "")


def compile_annual(app: App, year: int, *, buyer_id: int | None = None) -> CompiledReport:
    """The funders' report of ``year`` compiled once, as known now: the page's view and the very
    bytes ``clauses report annual --format csv|xlsx`` writes."""
    report = annual_report(app, year, buyer=buyer_id)
    stamp = annual_files.stamp(report)
    provisional = None
    if report.provisional_at is not None and stamp is not None:
        provisional = stamp.split(". ", 1)[-1]
    view = AnnualView(
        year=report.year,
        buyer_id=report.buyer_id,
        title=annual_files.report_title(report),
        headline=report.headline,
        provisional=provisional,
        tables=_annual_tables(report),
        notes=tuple(annual_files.footnotes(report)),
        file_stem=annual_stem(report.year, report.buyer_id),
    )
    return CompiledReport(
        view,
        report.compiled_at or app.clock(),
        annual_files.render_annual_report(report, "csv"),
        annual_files.render_annual_report(report, "xlsx"),
    )


def annual_years(now: datetime, chosen: int, app: App) -> tuple[tuple[int, ...], int, int]:
    """The years to choose from (the most recent first), last year (the default), this year."""
    current = now.astimezone(app.settings.zone).year
    years = [current - i for i in range(YEARS_OFFERED)]
    if chosen not in years:
        years = sorted({*years, chosen}, reverse=True)
    return tuple(years), current - 1, current


# --- Kept as JSON ---------------------------------------------------------------------------------


def _table_to_json(table: ShownTable) -> dict[str, Any]:
    return {
        "title": table.title,
        "columns": list(table.columns),
        "numeric": list(table.numeric),
        "rows": [list(row) for row in table.rows],
        "total": table.total,
        "note": table.note,
        "totals": sorted(table.totals),
    }


def _table_from_json(data: dict[str, Any]) -> ShownTable:
    return ShownTable(
        data["title"],
        tuple(data["columns"]),
        tuple(data["numeric"]),
        tuple(tuple(row) for row in data["rows"]),
        data["total"],
        data["note"],
        frozenset(data["totals"]),
    )


def view_to_json(view: SummaryView | AnnualView) -> str:
    """The view as the snapshot keeps it: what the page shows, formatted already."""
    common: dict[str, Any] = {
        "buyer_id": view.buyer_id,
        "title": view.title,
        "tables": [_table_to_json(t) for t in view.tables],
        "file_stem": view.file_stem,
    }
    data: dict[str, Any]
    if isinstance(view, SummaryView):
        data = {
            "kind": "summary",
            "month": view.month.isoformat(),
            "figures": [list(f) for f in view.figures],
            "chart_svg": view.chart_svg,
            **common,
        }
    else:
        data = {
            "kind": "annual",
            "year": view.year,
            "headline": view.headline,
            "provisional": view.provisional,
            "notes": list(view.notes),
            **common,
        }
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def view_from_json(text: str) -> SummaryView | AnnualView:
    data = json.loads(text)
    tables = tuple(_table_from_json(t) for t in data["tables"])
    if data["kind"] == "summary":
        return SummaryView(
            month=date.fromisoformat(data["month"]),
            buyer_id=data["buyer_id"],
            title=data["title"],
            figures=tuple((label, value) for label, value in data["figures"]),
            chart_svg=data["chart_svg"],
            tables=tables,
            file_stem=data["file_stem"],
        )
    return AnnualView(
        year=data["year"],
        buyer_id=data["buyer_id"],
        title=data["title"],
        headline=data["headline"],
        provisional=data["provisional"],
        tables=tables,
        notes=tuple(data["notes"]),
        file_stem=data["file_stem"],
    )
