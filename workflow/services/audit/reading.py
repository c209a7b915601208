"""Reading a stored email as its recipient does: the figure lines and the tables of a summary
(text part and HTML part), and the hours a receipt states. Pure functions over the bodies."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

from workflow.emails.phrases import parse_hours as parse_hours

NBSP = "\u00a0"
NNBSP = "\u202f"
#: The line under a text table's header: one run of dashes per column, two spaces apart.
_DASHES = re.compile(r"-+(?: {2}-+)*")


@dataclass(frozen=True)
class SentTable:
    """A table as the email printed it: its title, column titles and cells, all as text."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def printed_figures(body: str) -> dict[str, str]:
    """The ``- label : value`` headline lines of a summary's text part, as its reader sees them."""
    found: dict[str, str] = {}
    for line in body.splitlines():
        if line.startswith("- ") and f"{NBSP}: " in line:
            label, value = line[2:].split(f"{NBSP}: ", 1)
            found[label] = value
    return found


def _cells(line: str, spans: list[tuple[int, int]]) -> tuple[str, ...]:
    # The last column runs to the end of the line: nothing is cut if a cell grew wider.
    last = len(spans) - 1
    return tuple(
        (line[start:] if index == last else line[start:end]).strip()
        for index, (start, end) in enumerate(spans)
    )


def text_tables(body: str) -> list[SentTable]:
    """Each plain-text table of a summary's text part: title, header, dashes, rows."""
    lines = body.splitlines()
    tables: list[SentTable] = []
    for i in range(1, len(lines) - 1):
        if not lines[i].strip() or not _DASHES.fullmatch(lines[i + 1]):
            continue
        spans = [(m.start(), m.end()) for m in re.finditer(r"-+", lines[i + 1])]
        rows = []
        for line in lines[i + 2 :]:
            if not line.strip():
                break
            rows.append(_cells(line, spans))
        tables.append(SentTable(lines[i - 1].strip(), _cells(lines[i], spans), tuple(rows)))
    return tables


class _HtmlReader(HTMLParser):
    """The summary's HTML part: ``<h2>`` titles, then tables of ``<th>``/``<td>`` cells; the
    table with ``role="presentation"`` holds the headline figures (a ``<th>`` and a ``<td>``)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.figures: dict[str, str] = {}
        self.tables: list[SentTable] = []
        self._title = ""
        self._heading: list[str] | None = None
        self._rows: list[tuple[str, ...]] | None = None
        self._presentation = False
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "h2":
            self._heading = []
        elif tag == "table":
            self._rows, self._presentation = [], ("role", "presentation") in attrs
        elif tag == "tr" and self._rows is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_data(self, data: str) -> None:
        for sink in (self._cell, self._heading):
            if sink is not None:
                sink.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2" and self._heading is not None:
            self._title, self._heading = " ".join("".join(self._heading).split()), None
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._rows is not None:
            self._rows.append(tuple(self._row))
            self._row = None
        elif tag == "table" and self._rows is not None:
            self._close_table(self._rows)
            self._rows = None

    def _close_table(self, rows: list[tuple[str, ...]]) -> None:
        if self._presentation:
            self.figures.update((row[0], row[1]) for row in rows if len(row) == 2)
        elif rows:
            self.tables.append(SentTable(self._title, rows[0], tuple(rows[1:])))


def html_parts(body: str) -> tuple[dict[str, str], list[SentTable]]:
    """The headline figures and the tables of a summary's HTML part."""
    reader = _HtmlReader()
    reader.feed(body)
    reader.close()
    return reader.figures, reader.tables


def same_text(a: str, b: str) -> bool:
    """Two printed values are the same whatever spaces (plain, no-break, narrow) they use."""
    return "".join(a.split()) == "".join(b.split())


# --- A declaration receipt ------------------------------------------------------------------------

_TOTAL = re.compile(r"Total du mois\s*:\s*(?P<hours>.+?), \d+ lignes?")
#: A receipt of a month at zero hours: « … en octobre 2026 : », « … ce mois-ci : » before 7
#: December 2026.
_ZERO = re.compile(r"Aucune heure d'insertion (?:ce mois-ci|en \S+ \d{4})\s*:")
_LINE = re.compile(r"- (?P<reference>\S+)\s*:\s*(?P<hours>[^–]+?) – .*")
_CUMUL = re.compile(r"Cumul déclaré par .+ inclus\s*:\s*(?P<hours>.+?)(?: sur .+ attendues)?\.")


@dataclass(frozen=True)
class ReceiptHours:
    """What a receipt states: the month's total, each participant's hours, the cumul."""

    total: str
    lines: dict[str, str]
    cumulated: str | None


def receipt_hours(body: str) -> ReceiptHours | None:
    """The hours a receipt's text part states; None when it has no total line."""
    lines = body.splitlines()
    total: str | None = None
    participants: dict[str, str] = {}
    cumulated: str | None = None
    for index, line in enumerate(lines):
        if total is None and _ZERO.match(line):
            total = "0\u00a0h"
        elif total is None and (found := _TOTAL.fullmatch(line)):
            total = found["hours"]
            for following in lines[index + 1 :]:
                row = _LINE.fullmatch(following)
                if row is None:
                    break
                participants[row["reference"]] = row["hours"].strip()
        elif cumulated is None and (cumul := _CUMUL.fullmatch(line)):
            cumulated = cumul["hours"]
    if total is None:
        return None
    return ReceiptHours(total, participants, cumulated)
