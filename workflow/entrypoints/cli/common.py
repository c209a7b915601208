"""What every CLI command shares: the lazily built App, French output, JSON output, exit codes.

Exit codes: 0 success, 1 refused input (``InputRefused``, ``ConcurrentChange``, bad settings) or a
database fault (connection lost, disk full: « Erreur : » instead of « Refusé : »), 2 usage (click's
own), 3 mail could not leave (``EXIT_DELIVERY_FAILED``).
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from workflow.adapters.templates import french_hours

# Shared with the web pages; imported from here by every command.
from workflow.app.command_words import number as number
from workflow.app.command_words import plural as plural
from workflow.app.command_words import to_jsonable as to_jsonable
from workflow.bootstrap import App, bootstrap
from workflow.errors import ClausesError, DatabaseTrouble, InputRefused

P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])

#: Where xlsx and html reports (monthly summaries, annual reports) go when no --output is given.
REPORTS_DIR = Path("var/reports")
REPORT_SUFFIXES = {"text": "txt", "csv": "csv", "xlsx": "xlsx", "html": "html"}

#: The width of output redirected to a file or a pipe. rich would use 80 columns there, and cut
#: table cells ("Périmè…") or split numbers ("271,67 / h") in what is read later, whole.
REDIRECTED_WIDTH = 200


def _width(stream: Any) -> int | None:
    """None (rich measures the terminal) on a terminal or when ``COLUMNS`` says the width;
    ``REDIRECTED_WIDTH`` when the output goes to a file or a pipe."""
    if os.environ.get("COLUMNS"):
        return None
    isatty = getattr(stream, "isatty", None)
    return None if isatty is not None and isatty() else REDIRECTED_WIDTH


console = Console(highlight=False, width=_width(sys.stdout))
error_console = Console(stderr=True, highlight=False, width=_width(sys.stderr))

json_option = click.option("--json", "as_json", is_flag=True, help="Sortie JSON pour les machines.")
reason_option = click.option(
    "--reason", default=None, help="Motif de la correction, inscrit à l'historique."
)

actor_option = click.option(
    "--actor",
    default=None,
    help="Qui agit, inscrit à l'historique (par défaut : la facilitatrice).",
)


def say(text: str, style: str | None = None, *, markup: bool = False) -> None:
    """One message, never cut by rich at the terminal's width (tests and pipes read it whole).

    Plain text unless ``markup``: names and reasons people typed may hold brackets that rich
    would read as tags. With ``markup``, pass what people typed through ``rich.markup.escape``.
    """
    console.print(text, style=style, soft_wrap=True, markup=markup)


def hours_text(value: int | Decimal | float | None, missing: str = "–") -> str:
    """``4 725 h``, ``151,67 h``; ``missing`` when there is no figure."""
    return missing if value is None else french_hours(value)


class CliState:
    """Holds the App for one CLI run; built on first use so ``--help`` needs no database."""

    def __init__(self) -> None:
        self._app: App | None = None
        self.factory: Callable[[], App] = bootstrap

    @property
    def app(self) -> App:
        if self._app is None:
            self._app = self.factory()
        return self._app

    def close(self) -> None:
        if self._app is not None:
            self._app.close()


def get_app() -> App:
    return click.get_current_context().find_object(CliState).app  # type: ignore[union-attr]


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn the service's refusals into a French message and exit code 1.

    A fault of the database (connection cut, disk full: ``DatabaseTrouble.fault``) is not a
    refusal of the request: it reads « Erreur » instead of « Refusé »."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except DatabaseTrouble as exc:
            label = "Erreur" if exc.fault else "Refusé"
            # Escaped: a path or the server's words may hold brackets rich would take for tags.
            text = escape(exc.command_line_message)
            error_console.print(f"[bold red]{label} :[/] {text}", soft_wrap=True)
            raise SystemExit(1) from None
        except ClausesError as exc:
            # The command line's own hint (« La liste : « clauses company list » »).
            error_console.print(f"[bold red]Refusé :[/] {exc.command_line_message}", soft_wrap=True)
            raise SystemExit(1) from None

    return wrapper


def print_json(data: Any) -> None:
    click.echo(json.dumps(to_jsonable(data), ensure_ascii=False, indent=2))


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        table.add_column(column)
    for row in rows:
        # Cells are data (names, reasons), never markup: « [relevé corrigé] » or « [bold] » in
        # a reason or a company's name is printed as typed, not read by rich as a style.
        table.add_row(*("" if cell is None else escape(str(cell)) for cell in row))
    console.print(table)
    if not rows:
        console.print("(aucun élément)")


def report_options(formats: Sequence[str], html_help: str) -> Callable[[F], F]:
    """``--buyer``, ``--format`` and ``--output``, as every report command takes them."""

    def decorate(command: F) -> F:
        options = [
            click.option(
                "--buyer",
                metavar="DONNEUR",
                help="Un donneur d'ordre, par son N° ou son nom (par exemple « Gers "
                "Habitat » ; une partie du nom suffit si un seul donneur d'ordre y répond) : "
                "ses clauses seules.",
            ),
            click.option(
                "--format",
                "fmt",
                type=click.Choice(formats),
                default="text",
                show_default=True,
                help="text (tableaux), csv (pour Excel : « ; », virgule décimale), xlsx (un onglet "
                f"par tableau) ou html ({html_help}).",
            ),
            click.option(
                "--output",
                type=click.Path(dir_okay=False, path_type=Path),
                help="Fichier à écrire (par défaut, xlsx et html vont dans var/reports/).",
            ),
        ]
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def write_report(
    fmt: str,
    output: Path | None,
    default_name: str,
    *,
    show: Callable[[], None],
    render: Callable[[], bytes],
    what: str,
) -> Path | None:
    """A report in ``fmt``: text on screen (``show``), csv on stdout, else the file ``output``
    (by default ``REPORTS_DIR/default_name.<suffix>``), whose path is returned; None when
    nothing was written to a file. ``what`` names the report in the error: « la synthèse »."""
    if output is None and fmt == "text":
        show()
        return None
    data = render()
    if output is None and fmt == "csv":
        # Bytes as they are (BOM, CRLF): redirected to a file, it opens as such in Excel.
        click.echo(data, nl=False)
        return None
    if output is None:
        output = REPORTS_DIR / f"{default_name}.{REPORT_SUFFIXES[fmt]}"
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(data)
    except OSError as exc:
        raise InputRefused(f"Impossible d'écrire {what} dans {output} : {exc.strerror}.") from None
    return output


#: The years the service's calendars cover (holidays, time zones, the database's instants).
YEARS = range(1900, 3000)

T = TypeVar("T")


def within_calendar(year: int, text: str, field: str, value: T) -> T:
    """``value`` when ``year`` is one the calendars know, else a French refusal naming ``field``."""
    if year not in YEARS:
        raise InputRefused(f"{field} : « {text} » : année entre 1900 et 2999 attendue.")
    return value


def parse_date_fr(text: str, field: str) -> date:
    """Accept ``25/11/2026`` as people write it and ``2026-11-25`` as machines do."""
    for pattern in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            parsed = datetime.strptime(text.strip(), pattern).date()
        except ValueError:
            continue
        return within_calendar(parsed.year, text, field, parsed)
    raise InputRefused(f"{field} : « {text} » n'est pas une date (jj/mm/aaaa).")
