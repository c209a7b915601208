"""The monthly summary as tables, printed or written: text (rich), CSV, XLSX and HTML.

Every format is built from the same list of ``Table`` so that the CLI, the files and the emails
show the same figures. The HTML report is one self-contained page (inline CSS, an inline SVG bar
chart of hours per month): no script, nothing fetched from the network.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from html import escape
from typing import TYPE_CHECKING, Any, Literal

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from rich.console import Console
from rich.table import Table as RichTable

from workflow.adapters.templates import french_date, french_hours, french_month, french_number
from workflow.adapters.templates import french_percent as _french_percent

if TYPE_CHECKING:
    from workflow.domain.summary import Progress
    from workflow.services.summaries import Figures, MonthlySummary

Format = Literal["text", "csv", "xlsx", "html"]
FORMATS: tuple[Format, ...] = ("text", "csv", "xlsx", "html")
# "status" is a word that is a figure (the pace), not a label of the line.
ColumnKind = Literal["text", "month", "int", "hours", "percent", "status"]
LABEL_KINDS = ("text", "month")
#: Under a table with nothing to show (text and XLSX alike).
NOTHING = "(aucun élément)"


@dataclass(frozen=True)
class Column:
    title: str
    kind: ColumnKind = "text"

    @property
    def is_label(self) -> bool:
        return self.kind in LABEL_KINDS


@dataclass(frozen=True)
class Table:
    sheet: str  # a short name: the XLSX sheet (31 characters at most)
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Any, ...], ...]
    keep_zeros: bool = False  # a time series or a scope list: a zero there says something

    def shown_rows(self) -> list[tuple[Any, ...]]:
        """The rows a person reads (text, HTML, email): lines of zeros left out."""
        if self.keep_zeros:
            return list(self.rows)
        return [row for row in self.rows if not _is_zero_row(self, row)]


# --- Building the tables --------------------------------------------------------------------------


def french_percent(value: Decimal | None) -> str:
    return "–" if value is None else _french_percent(value)


def _pace(progress: Progress) -> str:
    if progress.time_fraction is None or progress.target_fraction is None:
        return "–"
    return "en retard" if progress.behind else "dans les temps"


def _scopes(summary: MonthlySummary) -> list[tuple[str, Figures]]:
    if summary.for_buyer:
        return [(summary.buyer_name or "", summary.overall)]
    return [("Ensemble", summary.overall)] + [(b.name, b.figures) for b in summary.buyers]


def _scoped_table(
    summary: MonthlySummary,
    sheet: str,
    title: str,
    columns: Sequence[Column],
    rows_of: Any,
    keep_zeros: bool = False,
) -> Table:
    """A breakdown for each scope: a leading "Périmètre" column in the facilitator's view."""
    scopes = _scopes(summary)
    with_scope = not summary.for_buyer
    lead = (Column("Périmètre"),) if with_scope else ()
    rows = [
        ((name,) if with_scope else ()) + tuple(row)
        for name, figures in scopes
        for row in rows_of(figures)
    ]
    return Table(sheet, title, lead + tuple(columns), tuple(rows), keep_zeros)


def build_tables(summary: MonthlySummary) -> list[Table]:
    progress_columns = (
        Column("Clauses suivies", "int"),
        Column("Heures prévues", "hours"),
        Column("Heures du mois", "hours"),
        Column("Heures cumulées", "hours"),
        Column("% de l'objectif", "percent"),
        Column("% du temps écoulé", "percent"),
        Column("Rythme", "status"),
    )

    def progress_row(p: Progress) -> tuple[Any, ...]:
        return (
            p.clauses,
            p.hours_target,
            p.hours_month,
            p.hours_cumulated,
            p.target_fraction,
            p.time_fraction,
            _pace(p),
        )

    people = (Column("Nouveaux", "int"), Column("Actifs", "int"), Column("Cumul", "int"))

    def people_rows(attribute: str) -> Any:
        def rows(f: Figures) -> list[tuple[Any, ...]]:
            return [(c.label, c.new, c.active, c.cumulated) for c in getattr(f, attribute)]

        return rows

    def count_rows(attribute: str) -> Any:
        def rows(f: Figures) -> list[tuple[Any, ...]]:
            return [(c.label, c.month, c.cumulated) for c in getattr(f, attribute)]

        return rows

    # A buyer's own name on every line of its own report says nothing.
    show_buyer = not summary.for_buyer
    clause_columns = (
        Column("N°", "int"),
        *((Column("Donneur d'ordre"),) if show_buyer else ()),
        Column("Marché"),
        Column("Lot"),
        Column("Intitulé"),
        Column("Étape"),
        Column("Heures prévues", "hours"),
        Column("Heures du mois", "hours"),
        Column("Heures cumulées", "hours"),
        Column("% de l'objectif", "percent"),
        Column("% du temps écoulé", "percent"),
    )
    return [
        _scoped_table(
            summary,
            "Avancement",
            "Heures d'insertion : mois, cumul et objectif",
            progress_columns,
            lambda f: [progress_row(f.progress)],
            keep_zeros=True,
        ),
        Table(
            "Clauses",
            "Avancement par clause",
            clause_columns,
            tuple(
                (
                    c.clause_id,
                    *((c.buyer,) if show_buyer else ()),
                    c.market,
                    c.lot or "–",
                    c.title,
                    c.stage_label,
                    c.progress.hours_target or None,
                    c.progress.hours_month,
                    c.progress.hours_cumulated,
                    c.progress.target_fraction,
                    c.progress.time_fraction,
                )
                for c in summary.clauses
            ),
        ),
        Table(
            "Heures par mois",
            "Heures réalisées par mois",
            (Column("Mois", "month"), Column("Heures", "hours")),
            tuple((m.month, m.hours) for m in summary.hours_by_month),
            keep_zeros=True,
        ),
        _scoped_table(
            summary,
            "Participants par critère",
            "Participants par critère d'éligibilité",
            (Column("Critère"), *people),
            people_rows("by_criterion"),
        ),
        _scoped_table(
            summary,
            "Participants par sexe",
            "Participants par sexe",
            (Column("Sexe"), *people),
            people_rows("by_sex"),
        ),
        _scoped_table(
            summary,
            "Participants par âge",
            "Participants par tranche d'âge",
            (Column("Tranche d'âge"), *people),
            people_rows("by_age_band"),
        ),
        _scoped_table(
            summary,
            "Heures par modalité",
            "Heures par modalité de réalisation",
            (Column("Modalité"), Column("Mois", "hours"), Column("Cumul", "hours")),
            count_rows("hours_by_mode"),
        ),
        _scoped_table(
            summary,
            "Contrats par type",
            "Contrats par type (participants distincts)",
            (Column("Type de contrat"), Column("Mois", "int"), Column("Cumul", "int")),
            count_rows("contracts_by_type"),
        ),
        _scoped_table(
            summary,
            "Sorties par groupe",
            "Sorties par groupe",
            (Column("Groupe"), Column("Mois", "int"), Column("Cumul", "int")),
            count_rows("outcomes_by_group"),
        ),
        _scoped_table(
            summary,
            "Clauses par étape",
            "Clauses par étape",
            (Column("Étape"), Column("Clauses", "int")),
            lambda f: [(s.label, s.clauses) for s in f.clauses_by_stage],
        ),
    ]


def format_cell(value: Any, kind: ColumnKind) -> str:
    """A cell as a French reader expects it."""
    if value is None:
        return "–"
    if kind == "hours":
        return french_hours(value)
    if kind == "percent":
        return french_percent(value)
    if kind == "int":
        return french_number(value)
    if kind == "month" and isinstance(value, date):
        return french_month(value)
    return str(value)


def _is_zero_row(table: Table, row: tuple[Any, ...]) -> bool:
    values = [v for v, c in zip(row, table.columns, strict=True) if not c.is_label]
    return bool(values) and all(not v for v in values)


def email_tables(summary: MonthlySummary) -> list[dict[str, Any]]:
    """The tables for the emails: formatted, rows of zeros left out, empty tables dropped."""
    result = []
    for table in build_tables(summary):
        if table.sheet == "Heures par mois":
            continue  # a chart's data: in the HTML report, not worth a table in a message
        rows = [
            [format_cell(v, c.kind) for v, c in zip(row, table.columns, strict=True)]
            for row in table.shown_rows()
        ]
        if not rows:
            continue
        result.append(
            {
                "title": table.title,
                "columns": [c.title for c in table.columns],
                "numeric": [not c.is_label for c in table.columns],
                "rows": rows,
                "text": text_table([c.title for c in table.columns], rows),
            }
        )
    return result


def text_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Plain-text columns for the text part of an email."""
    widths = [
        max(len(str(x)) for x in [title, *(r[i] for r in rows)]) for i, title in enumerate(columns)
    ]
    lines = ["  ".join(str(t).ljust(w) for t, w in zip(columns, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


# --- Printing and rendering -----------------------------------------------------------------------


def summary_title(summary: MonthlySummary) -> str:
    who = f" – {summary.buyer_name}" if summary.buyer_name else ""
    return f"Synthèse mensuelle des clauses sociales – {french_month(summary.month)}{who}"


def headline(summary: MonthlySummary) -> str:
    p = summary.overall.progress
    people = summary.overall.participants
    shares = []
    if p.target_fraction is not None:
        shares.append(f"{french_percent(p.target_fraction)} de l'objectif")
    if p.time_fraction is not None:
        shares.append(f"{french_percent(p.time_fraction)} du temps écoulé")
    return (
        f"{french_hours(p.hours_month)} réalisées dans le mois, {french_hours(p.hours_cumulated)} "
        f"cumulées sur {french_hours(p.hours_target)} prévues"
        + (f" ({', '.join(shares)})" if shares else "")
        + f" ; {_plural(people.active, 'participant actif', 'participants actifs')} dont "
        f"{_plural(people.new, 'nouveau', 'nouveaux')}."
    )


def _plural(count: int, one: str, many: str) -> str:
    return f"{french_number(count)} {one if count < 2 else many}"


def print_summary(console: Console, summary: MonthlySummary) -> None:
    """The summary as rich tables, as the CLI prints it."""
    console.print(f"[bold]{summary_title(summary)}[/]")
    console.print(headline(summary))
    for table in build_tables(summary):
        rich = RichTable(title=table.title, title_justify="left", header_style="bold")
        for column in table.columns:
            rich.add_column(column.title, justify="left" if column.is_label else "right")
        shown = table.shown_rows()
        for row in shown:
            rich.add_row(*(format_cell(v, c.kind) for v, c in zip(row, table.columns, strict=True)))
        console.print(rich)
        if not shown:
            console.print(NOTHING)


def _text(summary: MonthlySummary) -> bytes:
    buffer = io.StringIO()
    console = Console(file=buffer, width=160, color_system=None, highlight=False)
    print_summary(console, summary)
    return buffer.getvalue().encode("utf-8")


#: What a figure of the CSV counts, in its "unité" column.
CSV_UNITS: dict[ColumnKind, str] = {"hours": "h", "percent": "%", "int": "nombre"}
CSV_HEADER = ("tableau", "ligne", "indicateur", "valeur", "unité")


def _label_cell(value: Any, kind: ColumnKind) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return f"{value:%Y-%m}" if kind == "month" else value.isoformat()
    return str(value)


def _csv_number(value: Any, kind: ColumnKind) -> str:
    """A figure as French Excel reads a number: decimal comma, no thousands separator.

    Percentages are written as numbers of percent (37,67 for 0.3767), labelled "%" in the unit
    column: a fraction would read as 0,3767 in a French spreadsheet.
    """
    if value is None:
        return ""
    if not isinstance(value, (int, Decimal)):
        return str(value)
    number = Decimal(value)
    if kind == "percent":
        number = (number * 100).quantize(Decimal("0.01"))
    text = format(number.normalize(), "f") if number else "0"
    return text.replace(".", ",")


def _csv(summary: MonthlySummary) -> bytes:
    """One tidy CSV for French Excel: a line per figure (table, row, measure, value, unit).

    ``;`` separator, decimal commas and UTF-8 with a BOM, which is how Excel recognises the
    encoding of a file opened with a double click. Every row is kept, zeros included: it is data
    for a pivot table, not a page to read.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for table in build_tables(summary):
        for row in table.rows:
            cells = list(zip(row, table.columns, strict=True))
            label = " – ".join(_label_cell(v, c.kind) for v, c in cells if c.is_label)
            for value, column in cells:
                if not column.is_label:
                    writer.writerow(
                        [
                            table.title,
                            label,
                            column.title,
                            _csv_number(value, column.kind),
                            CSV_UNITS.get(column.kind, ""),
                        ]
                    )
    return buffer.getvalue().encode("utf-8-sig")


XLSX_FORMATS: dict[ColumnKind, str] = {
    "int": "#,##0",
    "hours": "#,##0.00",
    "percent": "0%",
    "month": "mm/yyyy",
    "text": "@",
    "status": "@",
}


def _sheet_name(name: str, taken: set[str]) -> str:
    clean = "".join(ch for ch in name if ch not in "[]:*?/\\")[:31]
    candidate, number = clean, 2
    while candidate.lower() in taken:
        suffix = f" ({number})"
        candidate, number = clean[: 31 - len(suffix)] + suffix, number + 1
    taken.add(candidate.lower())
    return candidate


def _xlsx(summary: MonthlySummary) -> bytes:
    """One sheet per table; numbers stay numbers (formats do the French display).

    The rows are those of the text output: lines of zeros left out, and "(aucun élément)" under
    the headers of a table with nothing to show.
    """
    workbook = Workbook()
    workbook.remove(workbook.active)  # type: ignore[arg-type]
    taken: set[str] = set()
    for table in build_tables(summary):
        sheet = workbook.create_sheet(_sheet_name(table.sheet, taken))
        sheet.append([c.title for c in table.columns])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        shown = table.shown_rows()
        for row in shown:
            sheet.append([_xlsx_value(v) for v in row])
        if not shown:
            sheet.append([NOTHING])
            sheet["A2"].font = Font(italic=True)
        for index, column in enumerate(table.columns, start=1):
            letter = get_column_letter(index)
            width = max([len(column.title), *(len(str(r[index - 1] or "")) for r in shown)])
            sheet.column_dimensions[letter].width = min(60, width + 2)
            if column.kind != "text" and shown:
                for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                    cell.number_format = XLSX_FORMATS[column.kind]
        sheet.freeze_panes = "A2"
    if summary.compiled_at is not None:
        stamp = summary.compiled_at.replace(tzinfo=None)
        workbook.properties.created = stamp
        workbook.properties.modified = stamp
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def hours_chart_svg(summary: MonthlySummary, width: int = 640, height: int = 240) -> str:
    """An inline SVG bar chart of the hours per month (titles give the exact figure on hover)."""
    months = summary.hours_by_month
    top, bottom, left = 24, 40, 8
    plot = height - top - bottom
    peak = max((m.hours for m in months), default=Decimal(0)) or Decimal(1)
    slot = (width - 2 * left) / max(1, len(months))
    bar = slot * 0.7
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="Heures réalisées par mois">',
        f'<line x1="{left}" y1="{top + plot}" x2="{width - left}" y2="{top + plot}" '
        'stroke="#9aa5b1" stroke-width="1"/>',
    ]
    for index, month in enumerate(months):
        h = float(month.hours / peak) * plot
        x = left + index * slot + (slot - bar) / 2
        y = top + plot - h
        label = escape(french_month(month.month))
        value = escape(french_hours(month.hours))
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="#000091">'
            f"<title>{label} : {value}</title></rect>"
        )
        center = x + bar / 2
        parts.append(
            f'<text x="{center:.1f}" y="{y - 4:.1f}" font-size="10" text-anchor="middle" '
            f'fill="#1f2933">{escape(french_number(month.hours))}</text>'
        )
        short = escape(french_date(month.month, "MMM yy"))
        parts.append(
            f'<text x="{center:.1f}" y="{top + plot + 16:.1f}" font-size="10" '
            f'text-anchor="middle" fill="#52606d">{short}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


HTML_STYLE = """
body { font-family: Arial, Helvetica, sans-serif; color: #1f2933; margin: 24px; }
h1 { font-size: 22px; color: #000091; } h2 { font-size: 17px; color: #000091; margin-top: 28px; }
table { border-collapse: collapse; margin: 8px 0 16px 0; }
th { text-align: left; font-size: 13px; color: #52606d; border-bottom: 1px solid #d9dee3;
     padding: 6px 10px; }
td { font-size: 14px; border-bottom: 1px solid #eef1f4; padding: 6px 10px; }
td.num { text-align: right; white-space: nowrap; }
.muted { color: #52606d; font-size: 13px; }
"""


def _html(summary: MonthlySummary) -> bytes:
    title = escape(summary_title(summary))
    body = [
        f"<h1>{title}</h1>",
        f"<p>{escape(headline(summary))}</p>",
        "<h2>Heures réalisées par mois</h2>",
        hours_chart_svg(summary),
    ]
    for table in build_tables(summary):
        body.append(f"<h2>{escape(table.title)}</h2>")
        shown = table.shown_rows()
        if not shown:
            body.append('<p class="muted">Aucun élément.</p>')
            continue
        head = "".join(f"<th>{escape(c.title)}</th>" for c in table.columns)
        rows = []
        for row in shown:
            cells = "".join(
                f"<td{'' if c.is_label else ' class=num'}>{escape(format_cell(v, c.kind))}</td>"
                for v, c in zip(row, table.columns, strict=True)
            )
            rows.append(f"<tr>{cells}</tr>")
        body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")
    if summary.compiled_at is not None:
        stamp = f"{summary.compiled_at:%d/%m/%Y à %H:%M}"
        body.append(f'<p class="muted">Établie le {escape(stamp)} (UTC).</p>')
    page = (
        '<!DOCTYPE html>\n<html lang="fr">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n<style>{HTML_STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
    return page.encode("utf-8")


def render_summary(summary: MonthlySummary, fmt: Format) -> bytes:
    """The summary as the bytes of a file in ``fmt``."""
    if fmt == "text":
        return _text(summary)
    if fmt == "csv":
        return _csv(summary)
    if fmt == "xlsx":
        return _xlsx(summary)
    if fmt == "html":
        return _html(summary)
    raise ValueError(f"unknown summary format {fmt!r}")
