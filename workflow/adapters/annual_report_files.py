"""The funders' annual report as a person reads it: text (rich), CSV, XLSX and a standalone HTML page.

Every format is built from the same list of ``Table`` and the same footnotes, so the terminal,
the spreadsheet and the page a funder receives say the same thing. The HTML page is one
self-contained file (inline CSS, no script, nothing fetched) that reads on a 600 px wide screen:
at most three columns a table, long labels wrap, figures never do. Text people typed (buyer
names) goes through ``safe_cells`` in CSV and XLSX.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from html import escape
from typing import Any, Literal

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from rich.console import Console
from rich.markup import escape as escape_markup
from rich.table import Table as RichTable

from workflow.adapters.safe_cells import csv_text, xlsx_row
from workflow.adapters.templates import (
    french_date,
    french_hours,
    french_number,
    french_time,
    non_breaking,
)
from workflow.domain.annual_report import AnnualReport

Format = Literal["text", "csv", "xlsx", "html"]
FORMATS: tuple[Format, ...] = ("text", "csv", "xlsx", "html")
Kind = Literal["text", "int", "hours"]
NOTHING = "(aucun élément)"


@dataclass(frozen=True)
class Column:
    title: str
    kind: Kind = "text"

    @property
    def is_label(self) -> bool:
        return self.kind == "text"


@dataclass(frozen=True)
class Table:
    sheet: str  # the XLSX sheet's name (31 characters at most)
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Any, ...], ...]
    keep_zeros: bool = False  # key figures: a zero there says something
    #: Key figures: one column holds hours and counts, the value's type says which (the hours
    #: are a ``Decimal``); elsewhere the column's kind does, a row of 0 h included.
    mixed_units: bool = False

    def shown_rows(self) -> list[tuple[Any, ...]]:
        """The rows a person reads: lines of zeros left out (the CSV keeps them all)."""
        if self.keep_zeros:
            return list(self.rows)
        return [
            row
            for row in self.rows
            if any(v for v, c in zip(row, self.columns, strict=True) if not c.is_label)
        ]


def report_title(report: AnnualReport) -> str:
    who = f" – {report.buyer_name}" if report.buyer_name else ""
    return f"Bilan annuel des clauses sociales d'insertion – {report.year}{who}"


def build_tables(report: AnnualReport) -> list[Table]:
    tables = [
        Table(
            "Chiffres clés",
            f"Chiffres clés {report.year}",
            (Column("Indicateur"), Column("Valeur", "hours")),
            (
                ("Heures d'insertion réalisées", report.hours),
                ("Entreprises accompagnées", report.companies),
                ("Clauses suivies", report.clauses_followed),
                ("Participants", report.participants),
                ("Sorties", report.outcomes),
                ("Marchés résiliés", len(report.terminated)),
                ("Déclarations non reçues", report.undeclared_months),
            ),
            keep_zeros=True,
            mixed_units=True,
        ),
    ]
    if report.buyer_id is None:
        tables.append(
            Table(
                "Heures par donneur d'ordre",
                "Heures réalisées par donneur d'ordre",
                (Column("Donneur d'ordre"), Column("Heures", "hours")),
                (
                    *((line.label, line.value) for line in report.hours_by_buyer),
                    ("Total", report.hours),
                ),
            )
        )
    tables += [
        Table(
            "Heures par modalité",
            "Heures par modalité de réalisation",
            (Column("Modalité"), Column("Heures", "hours")),
            tuple((line.label, line.value) for line in report.hours_by_mode),
        ),
        # What the hours leave out: the lots whose contract was terminated, the months expected
        # and never declared (a funder would otherwise read the hours as complete).
        Table(
            "Marchés résiliés",
            f"Marchés résiliés en {report.year}",
            (
                Column("Lot"),
                Column("Résilié le"),
                Column(f"Heures déclarées en {report.year}", "hours"),
            ),
            tuple((t.lot, f"{t.on:%d/%m/%Y}", t.hours) for t in report.terminated),
            keep_zeros=True,
        ),
        Table(
            "Déclarations non reçues",
            f"Déclarations mensuelles de {report.year} non reçues, par lot",
            (
                Column("Lot"),
                Column("Entreprises", "int"),
                Column("Déclarations non reçues", "int"),
            ),
            tuple((f"{u.lot} ({u.state})", u.companies, u.months) for u in report.undeclared),
            keep_zeros=True,
        ),
        Table(
            "Participants par critère",
            "Participants par critère d'éligibilité",
            (Column("Critère"), Column("Participants", "int")),
            tuple((line.label, line.value) for line in report.participants_by_criterion),
        ),
        Table(
            "Participants par sexe",
            "Participants par sexe",
            (Column("Sexe"), Column("Participants", "int")),
            tuple((line.label, line.value) for line in report.participants_by_sex),
        ),
        Table(
            "Participants par âge",
            f"Participants par tranche d'âge (âge atteint en {report.year})",
            (Column("Tranche d'âge"), Column("Participants", "int")),
            tuple((line.label, line.value) for line in report.participants_by_age_band),
        ),
        Table(
            "Contrats par type",
            "Contrats par type (participants distincts)",
            (Column("Type de contrat"), Column("Participants", "int"), Column("Heures", "hours")),
            tuple((c.label, c.participants, c.hours) for c in report.contracts_by_type),
        ),
        Table(
            "Sorties par type",
            "Sorties par type",
            (Column("Type de sortie"), Column("Groupe"), Column("Sorties", "int")),
            tuple((o.label, o.group_label, o.count) for o in report.outcomes_by_type),
        ),
        Table(
            "Sorties par groupe",
            "Sorties par groupe",
            (Column("Groupe"), Column("Sorties", "int")),
            tuple((line.label, line.value) for line in report.outcomes_by_group),
        ),
        Table(
            "Clauses par étape",
            stages_title(report),
            (Column("Étape"), Column("Clauses", "int")),
            tuple(
                (line.label[:1].upper() + line.label[1:], line.value)
                for line in report.clauses_by_stage
            ),
        ),
    ]
    return tables


def footnotes(report: AnnualReport) -> list[str]:
    """What each figure counts, in the words a funder reads."""
    year = report.year
    notes = [
        f"Heures : heures déclarées par les entreprises pour les mois de janvier à décembre {year}.",
        "Entreprises accompagnées : entreprises distinctes attributaires (titulaires, cotraitantes "
        "ou sous-traitantes) d'une clause en mise en œuvre (suspension comprise) ou en suivi et bilan à un "
        f"moment de {year} (y compris une clause démarrée à une date de {year} enregistrée "
        f"après), ou ayant déclaré des heures pour un mois de {year}. Clauses suivies : ces mêmes "
        "clauses.",
        f"Participants : personnes distinctes avec des heures déclarées pour un mois de {year} ; "
        "l'âge est celui atteint dans l'année (seule l'année de naissance est conservée).",
        "Contrats : participants distincts par type de contrat ; une personne embauchée sous deux "
        "contrats compte dans chacun.",
        # Each participant x clause once, by its latest outcome of the year
        # (``outcome_counts.latest_up_to``): the total is people, not outcomes.
        f"Sorties : sorties datées de {year}, chaque participant comptant une fois par clause, "
        f"par sa dernière sortie de {year} (une formation courte en mars puis un CDI en "
        "septembre : un CDI) ; classées par groupe selon le classement par défaut "
        "(emploi durable, emploi de transition, sortie positive, autre)"
        + (
            " modifié par le réglage outcome_groups : "
            + ", ".join(f"{label} → {group.lower()}" for label, group in report.regrouped)
            if report.regrouped
            else ""
        )
        # The rule is the hours, whatever took them: a cancelled declaration, or one corrected
        # without the person (``outcome_counts.counted``).
        + ". Une sortie est comptée tant que le participant a des heures déclarées sur la clause "
        "où elle est enregistrée : si une déclaration annulée, ou corrigée sans lui, lui retire "
        "toutes ses heures sur cette clause, elle n'est plus comptée jusqu'à ce que des heures "
        "lui soient de nouveau déclarées.",
        # December's summary counts the stages by the same rule (``summaries.stages_at_month_end``).
        "Clauses par étape : l'étape de chaque clause à la date du bilan, lue dans son historique."
        if report.provisional_at is not None
        else f"Clauses par étape : l'étape de chaque clause au 31 décembre {year}, comme la "
        "synthèse mensuelle de décembre la compte : celle de son historique, sauf pour une fin "
        "d'exécution ou une résiliation datée d'avant le 31 décembre et enregistrée après (en "
        f"suivi et bilan) ou un démarrage daté de {year} et enregistré après (en mise en œuvre).",
        f"Marchés résiliés : lots dont le marché a été résilié pendant les travaux, à une date "
        f"de {year} ; leurs heures sont celles déclarées jusqu'à la résiliation, aucun mois "
        "suivant n'étant demandé aux entreprises.",
        f"Déclarations non reçues : déclarations mensuelles de {year} qu'une entreprise devait "
        "sur un lot (de son premier mois sur le lot jusqu'à la fin du lot, sa résiliation ou son "
        "départ du chantier, hors mois entièrement suspendus) et qu'elle n'avait pas faites à la "
        "date du bilan, une fois passée la date limite qui lui a été donnée ; chacune compte pour "
        "une entreprise et un mois. Celles d'un lot clôturé sans elles ne seront plus demandées. Les "
        "heures de ces mois manquent au bilan : les heures réalisées sont un minimum.",
        "En une ligne : heures arrondies au millier inférieur à partir de 1\u202f000\u00a0h (« + de » "
        "quand l'arrondi retranche des heures) ; les situations sans activité (demandeur "
        "d'emploi, inactivité, perdu de vue) figurent dans les tableaux, pas dans la ligne.",
    ]
    if report.buyer_id is not None:
        notes.append(
            "Périmètre d'un donneur d'ordre : ses clauses seules ; une sortie enregistrée sans "
            "clause n'y est pas comptée."
        )
    return notes


def format_cell(value: Any, kind: Kind) -> str:
    if value is None:
        return "–"
    if kind == "hours" and isinstance(value, Decimal):
        return french_hours(value)
    if kind in ("int", "hours") and isinstance(value, (int, Decimal)):
        return french_number(value)
    return str(value)


def stamp(report: AnnualReport) -> str | None:
    if report.compiled_at is None:
        return None
    at = report.compiled_at  # local already (``compile_annual_report``)
    done = f"Établi le {french_date(at.date())} à {french_time(at)}."
    if report.provisional_at is not None:
        # A year not over: its last months are not all declared yet (nor even due).
        return (
            f"{done} Année {report.year} en cours : chiffres provisoires, arrêtés à cette date ; "
            "les déclarations des derniers mois ne sont pas encore toutes arrivées."
        )
    return done


def stages_title(report: AnnualReport) -> str:
    if report.provisional_at is not None:
        return f"Clauses par étape au {french_date(report.provisional_at.date())}"
    return f"Clauses par étape au 31 décembre {report.year}"


# --- text -----------------------------------------------------------------------------------------


def print_annual_report(console: Console, report: AnnualReport) -> None:
    """The report as rich tables, as the CLI prints it."""
    console.print(f"[bold]{escape_markup(report_title(report))}[/]")
    console.print(report.headline, markup=False, soft_wrap=True)
    for table in build_tables(report):
        # The title above the table, not in it: rich would wrap it to the table's width.
        console.print(f"\n[bold]{escape_markup(table.title)}[/]")
        rich = RichTable(header_style="bold")
        for column in table.columns:
            rich.add_column(column.title, justify="left" if column.is_label else "right")
        shown = table.shown_rows()
        for row in shown:
            rich.add_row(
                *(
                    escape_markup(format_cell(v, c.kind))
                    for v, c in zip(row, table.columns, strict=True)
                )
            )
        console.print(rich)
        if not shown:
            console.print(NOTHING)
    console.print("Définitions", style="bold")
    for note in footnotes(report):
        console.print(f"• {note}", markup=False)
    if (when := stamp(report)) is not None:
        console.print(when, markup=False)


def _text(report: AnnualReport) -> bytes:
    buffer = io.StringIO()
    print_annual_report(Console(file=buffer, width=100, color_system=None, highlight=False), report)
    return buffer.getvalue().encode("utf-8")


# --- CSV ------------------------------------------------------------------------------------------

CSV_HEADER = ("tableau", "ligne", "indicateur", "valeur", "unité")
CSV_UNITS: dict[Kind, str] = {"hours": "h", "int": "nombre"}


def _csv_number(value: Any) -> str:
    """A figure as French Excel reads a number: decimal comma, no thousands separator."""
    if not isinstance(value, (int, Decimal)):
        return csv_text(str(value))
    number = Decimal(value)
    return (format(number.normalize(), "f") if number else "0").replace(".", ",")


def _csv(report: AnnualReport) -> bytes:
    """One tidy CSV for French Excel: a line per figure (table, row, measure, value, unit).

    ``;`` separator, decimal commas, UTF-8 with a BOM (how Excel recognises the encoding on a
    double click); every row kept, zeros included; every text cell neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    writer.writerow(
        [csv_text(report_title(report)), "En une ligne", "Phrase", csv_text(report.headline), ""]
    )
    for table in build_tables(report):
        for row in table.rows:
            cells = list(zip(row, table.columns, strict=True))
            label = " – ".join(str(v) for v, c in cells if c.is_label)
            for value, column in cells:
                if column.is_label:
                    continue
                # Key figures mix counts and hours in one column: the unit follows the value.
                # Elsewhere the column's: a delivery mode with no hours (0, an int) is « h ».
                kind: Kind = (
                    ("hours" if isinstance(value, Decimal) else "int")
                    if table.mixed_units
                    else column.kind
                )
                writer.writerow(
                    [
                        csv_text(table.title),
                        csv_text(label),
                        csv_text(column.title),
                        _csv_number(value),
                        CSV_UNITS[kind],
                    ]
                )
    for note in footnotes(report):
        writer.writerow(["Définitions", "", "Note", csv_text(note), ""])
    if (when := stamp(report)) is not None:
        # A provisional year's file says so, as the other formats do.
        writer.writerow(
            [csv_text(report_title(report)), "Établissement", "Note", csv_text(when), ""]
        )
    return buffer.getvalue().encode("utf-8-sig")


# --- XLSX -----------------------------------------------------------------------------------------

XLSX_FORMATS: dict[Kind, str] = {"int": "#,##0", "hours": "#,##0.00"}


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _xlsx(report: AnnualReport) -> bytes:
    """A first sheet with the title, the headline, the key figures and the definitions, then a
    sheet a table."""
    workbook = Workbook()
    front = workbook.active
    assert front is not None
    front.title = "Bilan"
    front.append(xlsx_row(front, [report_title(report)]))
    front["A1"].font = Font(bold=True, size=14)
    front.append(xlsx_row(front, [report.headline]))
    front["A2"].font = Font(bold=True)
    front.append([])
    tables = build_tables(report)
    key = tables[0]
    for label, value in key.rows:
        front.append(xlsx_row(front, [label, _xlsx_value(value)]))
        cell = front.cell(row=front.max_row, column=2)
        cell.number_format = XLSX_FORMATS["int" if isinstance(value, int) else "hours"]
    front.append([])
    front.append(xlsx_row(front, ["Définitions"]))
    front.cell(row=front.max_row, column=1).font = Font(bold=True)
    for note in footnotes(report):
        front.append(xlsx_row(front, [note]))
        front.cell(row=front.max_row, column=1).alignment = Alignment(wrap_text=True)
    if (when := stamp(report)) is not None:
        front.append(xlsx_row(front, [when]))
    front.column_dimensions["A"].width = 100
    front.column_dimensions["B"].width = 14
    for table in tables[1:]:
        sheet = workbook.create_sheet(table.sheet[:31])
        sheet.append(xlsx_row(sheet, [c.title for c in table.columns]))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in table.rows:
            sheet.append(xlsx_row(sheet, [_xlsx_value(v) for v in row]))
        for index, column in enumerate(table.columns, start=1):
            letter = sheet.cell(row=1, column=index).column_letter
            width = max([len(column.title), *(len(str(r[index - 1])) for r in table.rows)])
            sheet.column_dimensions[letter].width = min(60, width + 2)
            if not column.is_label:
                for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                    cell.number_format = XLSX_FORMATS[column.kind]
        sheet.freeze_panes = "A2"
    if report.compiled_at is not None:
        moment = report.compiled_at.replace(tzinfo=None)
        workbook.properties.created = moment
        workbook.properties.modified = moment
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- HTML -----------------------------------------------------------------------------------------

HTML_STYLE = """
body { font-family: Arial, Helvetica, sans-serif; color: #1f2933; margin: 0 auto; padding: 12px;
       max-width: 600px; box-sizing: border-box; }
h1 { font-size: 20px; color: #000091; margin: 8px 0 12px 0; }
h2 { font-size: 16px; color: #000091; margin: 24px 0 6px 0; }
.headline { font-size: 17px; font-weight: bold; background: #f5f5fe; border-left: 4px solid #000091;
            padding: 10px 12px; margin: 0 0 12px 0; }
table { border-collapse: collapse; width: 100%; margin: 4px 0 12px 0; }
th { text-align: left; font-size: 13px; color: #52606d; border-bottom: 1px solid #d9dee3;
     padding: 6px 6px; }
td { font-size: 14px; border-bottom: 1px solid #eef1f4; padding: 6px 6px;
     overflow-wrap: anywhere; }
th.num, td.num { text-align: right; white-space: nowrap; width: 1%; }
tr.total td { font-weight: bold; border-top: 1px solid #9aa5b1; }
.notes { color: #52606d; font-size: 13px; padding-left: 18px; }
.muted { color: #52606d; font-size: 13px; }
"""


def _html_table(table: Table) -> str:
    shown = table.shown_rows()
    if not shown:
        return '<p class="muted">Aucun élément.</p>'
    head = "".join(
        f"<th{'' if c.is_label else ' class=num'}>{escape(c.title)}</th>" for c in table.columns
    )
    rows = []
    for row in shown:
        total = ' class="total"' if row[0] == "Total" else ""
        cells = "".join(
            f"<td{'' if c.is_label else ' class=num'}>{escape(format_cell(v, c.kind))}</td>"
            for v, c in zip(row, table.columns, strict=True)
        )
        rows.append(f"<tr{total}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _html(report: AnnualReport) -> bytes:
    title = escape(report_title(report))
    body = [f"<h1>{title}</h1>", f'<p class="headline">{escape(report.headline)}</p>']
    for table in build_tables(report):
        body.append(f"<h2>{escape(table.title)}</h2>")
        body.append(_html_table(table))
    body.append("<h2>Définitions</h2>")
    body.append(
        '<ul class="notes">'
        # A page's spaces before « : ; » are non-breaking: no line starts with a colon.
        + "".join(f"<li>{escape(non_breaking(note))}</li>" for note in footnotes(report))
        + "</ul>"
    )
    if (when := stamp(report)) is not None:
        body.append(f'<p class="muted">{escape(non_breaking(when))}</p>')
    page = (
        '<!DOCTYPE html>\n<html lang="fr">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n<style>{HTML_STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
    return page.encode("utf-8")


def render_annual_report(report: AnnualReport, fmt: Format) -> bytes:
    """The report as the bytes of a file in ``fmt``."""
    if fmt == "text":
        return _text(report)
    if fmt == "csv":
        return _csv(report)
    if fmt == "xlsx":
        return _xlsx(report)
    if fmt == "html":
        return _html(report)
    raise ValueError(f"unknown annual report format {fmt!r}")


def table_rows(report: AnnualReport, sheet: str) -> Sequence[tuple[Any, ...]]:
    """The rows of one table by its sheet name (for tests and callers that need one figure)."""
    return next(t.rows for t in build_tables(report) if t.sheet == sheet)
