"""The monthly summary and the annual report as the dashboard shows them (``/bilans``), and the
files it gives to download.

The figures come from ``workflow.app.reports`` (the very code path of the emails and of
``clauses summary`` / ``clauses report annual``); the tables are those the command prints, each
cut to ``PAGE_ROWS`` lines on the page (a territory of 10^5 lots has as many clause lines); the
files are the bytes the command writes, under the name it gives them, so a download and
``--format csv`` for the same moment are the same file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from workflow.adapters import annual_report_files as annual_files
from workflow.adapters import reports as summary_files
from workflow.adapters.templates import french_count, french_number
from workflow.app.catalog import list_buyers
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
    summary: MonthlySummary
    title: str
    stamp: str | None
    figures: tuple[tuple[str, str], ...]
    chart_svg: str
    tables: tuple[ShownTable, ...]
    months: tuple[date, ...]  # to choose from, the most recent first
    default_month: date
    buyers: tuple[BuyerChoice, ...]
    file_stem: str


@dataclass(frozen=True)
class AnnualView:
    report: AnnualReport
    title: str
    stamp: str | None
    tables: tuple[ShownTable, ...]
    notes: tuple[str, ...]
    years: tuple[int, ...]  # to choose from, the most recent first
    default_year: int
    current_year: int
    buyers: tuple[BuyerChoice, ...]
    file_stem: str


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


def _buyers(app: App) -> tuple[BuyerChoice, ...]:
    return tuple(BuyerChoice(b.id, b.name) for b in list_buyers(app))


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


def summary_stem(summary: MonthlySummary) -> str:
    """The file's name without its suffix, as ``clauses summary`` names it."""
    return f"synthese-{summary.month:%Y-%m}" + (
        f"-donneur-{summary.buyer_id}" if summary.buyer_id is not None else ""
    )


def summary_view(
    app: App,
    month: date | None = None,
    *,
    buyer: str | int | None = None,
    now: datetime | None = None,
) -> SummaryView:
    """The summary of ``month`` (by default the last one that left) as the page shows it, with
    the months and buyers to choose from."""
    moment = now or app.clock()
    summary = monthly_summary(app, month, buyer=buyer, now=moment)
    default = latest_due_month(moment, summary_timing(app.settings))
    months = [add_months(default, -i) for i in range(MONTHS_OFFERED)]
    if summary.month not in months:
        months = sorted({*months, summary.month}, reverse=True)
    return SummaryView(
        summary=summary,
        title=summary_files.summary_title(summary),
        stamp=summary_files.compiled_phrase(summary),
        figures=tuple(summary_files.figure_lines(summary)),
        chart_svg=summary_files.hours_chart_svg(summary),
        tables=_summary_tables(summary),
        months=tuple(months),
        default_month=default,
        buyers=_buyers(app),
        file_stem=summary_stem(summary),
    )


def summary_file(
    app: App,
    month: date,
    fmt: FileFormat,
    *,
    buyer: str | int | None = None,
    now: datetime | None = None,
) -> ReportFile:
    """The summary of ``month`` as the file ``clauses summary --format csv|xlsx`` writes."""
    summary = monthly_summary(app, month, buyer=buyer, now=now)
    return ReportFile(
        f"{summary_stem(summary)}.{fmt}",
        MEDIA_TYPES[fmt],
        summary_files.render_summary(summary, fmt),
    )


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


def annual_stem(report: AnnualReport) -> str:
    """The file's name without its suffix, as ``clauses report annual`` names it."""
    return f"bilan-annuel-{report.year}" + (
        f"-donneur-{report.buyer_id}" if report.buyer_id is not None else ""
    )


def annual_view(app: App, year: int | None = None, *, buyer: str | int | None = None) -> AnnualView:
    """The funders' report of ``year`` (by default last year) as the page shows it, with the
    years and buyers to choose from."""
    report = annual_report(app, year, buyer=buyer)
    current = app.clock().astimezone(app.settings.zone).year
    years = [current - i for i in range(YEARS_OFFERED)]
    if report.year not in years:
        years = sorted({*years, report.year}, reverse=True)
    return AnnualView(
        report=report,
        title=annual_files.report_title(report),
        stamp=annual_files.stamp(report),
        tables=_annual_tables(report),
        notes=tuple(annual_files.footnotes(report)),
        years=tuple(years),
        default_year=current - 1,
        current_year=current,
        buyers=_buyers(app),
        file_stem=annual_stem(report),
    )


def annual_file(
    app: App, year: int, fmt: FileFormat, *, buyer: str | int | None = None
) -> ReportFile:
    """The report of ``year`` as the file ``clauses report annual --format csv|xlsx`` writes."""
    report = annual_report(app, year, buyer=buyer)
    return ReportFile(
        f"{annual_stem(report)}.{fmt}",
        MEDIA_TYPES[fmt],
        annual_files.render_annual_report(report, fmt),
    )
