"""Comparing tables and figure lines cell by cell: what an email printed against what it should
have printed. Pure functions; every difference names its table, row and column."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import Enum

from workflow.services.audit.reading import SentTable, same_text


@dataclass(frozen=True)
class Reference:
    """The table a part should hold: its cells as text and which columns are figures."""

    title: str
    columns: tuple[str, ...]
    numeric: tuple[bool, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Voices:
    """Who said what, in the sentences: the email against the data, or one part against the
    other."""

    said: str = "le courriel disait"
    says: str = "les données disent"
    of_sent: str = "du courriel"
    of_truth: str = "des données"
    in_truth: str = "dans les données"


EMAIL_AGAINST_DATA = Voices()


class Gap(Enum):
    CELL = "cell"
    MISSING_ROW = "missing_row"
    EXTRA_ROW = "extra_row"
    RENAMED_ROW = "renamed_row"
    MISSING_TABLE = "missing_table"
    EXTRA_TABLE = "extra_table"
    MISSING_COLUMN = "missing_column"
    MISSING_FIGURE = "missing_figure"
    EXTRA_FIGURE = "extra_figure"


@dataclass(frozen=True)
class Difference:
    gap: Gap
    table: str  # a table's title, or "" for a headline figure
    row: str = ""  # a row's label, or a figure's label
    column: str = ""
    sent: str = ""
    truth: str = ""

    def sentence(self, voices: Voices = EMAIL_AGAINST_DATA) -> str:
        table, v = f"tableau « {self.table} »", voices
        if self.gap is Gap.CELL and not self.table:
            return f"chiffre « {self.row} » : {v.said} « {self.sent} », {v.says} « {self.truth} »"
        if self.gap is Gap.CELL:
            return (
                f"{table}, ligne « {self.row} », colonne « {self.column} » : "
                f"{v.said} « {self.sent} », {v.says} « {self.truth} »"
            )
        if self.gap is Gap.MISSING_FIGURE:
            return f"chiffre « {self.row} » : absent {v.of_sent}, {v.says} « {self.truth} »"
        if self.gap is Gap.EXTRA_FIGURE:
            return f"chiffre « {self.row} » : {v.said} « {self.sent} », absent {v.of_truth}"
        if self.gap is Gap.MISSING_ROW:
            return f"{table}, ligne « {self.row} » : absente {v.of_sent}, {v.says} {self.truth}"
        if self.gap is Gap.EXTRA_ROW:
            return f"{table}, ligne « {self.row} » : absente {v.of_truth}, {v.said} {self.sent}"
        if self.gap is Gap.RENAMED_ROW:
            return (
                f"{table}, ligne « {self.sent} » : s'appelle « {self.truth} » {v.in_truth}, "
                "avec les mêmes chiffres"
            )
        if self.gap is Gap.MISSING_COLUMN:
            return f"{table}, colonne « {self.column} » : absente {v.of_sent}"
        if self.gap is Gap.MISSING_TABLE:
            return f"{table} : absent {v.of_sent}, {v.says} {self.truth}"
        return f"{table} : absent {v.of_truth}, {v.said} {self.sent}"

    def said_only(self, voices: Voices = EMAIL_AGAINST_DATA) -> str:
        """What the email said in this cell, without a figure of the data: for a cell the data
        cannot give for the email's moment (``as_of``)."""
        table, v = f"tableau « {self.table} »", voices
        where = f"{table}, ligne « {self.row} »" if self.table else f"chiffre « {self.row} »"
        if self.gap is Gap.CELL and self.table:
            return f"{where}, colonne « {self.column} » : {v.said} « {self.sent} »"
        if self.gap in (Gap.CELL, Gap.EXTRA_FIGURE):
            return f"{where} : {v.said} « {self.sent} »"
        if self.gap is Gap.EXTRA_ROW:
            return f"{where} : {v.said} {self.sent}"
        if self.gap is Gap.MISSING_FIGURE:
            return f"{where} : absent {v.of_sent}"
        if self.gap is Gap.MISSING_ROW:
            return f"{where} : absente {v.of_sent}"
        if self.gap is Gap.EXTRA_TABLE:
            return f"{table} : {v.said} {self.sent}"
        if self.gap is Gap.MISSING_TABLE:
            return f"{table} : absent {v.of_sent}"
        return self.sentence(voices)


def compare_figures(truth: Sequence[tuple[str, str]], sent: Mapping[str, str]) -> list[Difference]:
    """Headline lines (label, value): each one the truth has, the email must print the same."""
    found: list[Difference] = []
    labels = set()
    for label, value in truth:
        labels.add(label)
        shown = sent.get(label)
        if shown is None:
            found.append(Difference(Gap.MISSING_FIGURE, "", label, truth=value))
        elif not same_text(shown, value):
            found.append(Difference(Gap.CELL, "", label, sent=shown, truth=value))
    found.extend(
        Difference(Gap.EXTRA_FIGURE, "", label, sent=value)
        for label, value in sent.items()
        if label not in labels
    )
    return found


def _lines(count: int) -> str:
    return f"{count} ligne{'s' if count > 1 else ''}" if count else "un tableau vide"


def _described(columns: Sequence[str], row: Sequence[str], numeric: Sequence[bool]) -> str:
    cells = [f"{c} « {v} »" for c, v, n in zip(columns, row, numeric, strict=False) if n]
    return ", ".join(cells) or "sans chiffre"


def compare_tables(truth: Sequence[Reference], sent: Sequence[SentTable]) -> list[Difference]:
    """Every table of ``truth`` against the one of the same title in ``sent``, row by row (rows
    found by their labels, whatever their order) and cell by cell."""
    sent_by_title = {table.title: table for table in sent}
    found: list[Difference] = []
    for table in truth:
        shown = sent_by_title.pop(table.title, None)
        if shown is None:
            found.append(Difference(Gap.MISSING_TABLE, table.title, truth=_lines(len(table.rows))))
        else:
            found.extend(_compare_rows(table, shown))
    found.extend(
        Difference(Gap.EXTRA_TABLE, table.title, sent=_lines(len(table.rows)))
        for table in sent_by_title.values()
    )
    return found


def _key(row: Sequence[str], labels: Sequence[int]) -> str:
    return " – ".join(row[i] for i in labels if i < len(row))


def _compare_rows(truth: Reference, sent: SentTable) -> list[Difference]:
    found: list[Difference] = []
    position = {title: i for i, title in enumerate(sent.columns)}
    for column in truth.columns:
        if column not in position:
            found.append(Difference(Gap.MISSING_COLUMN, truth.title, column=column))
    columns = truth.columns
    # The sent row rearranged in the truth's columns ("" where a column is missing).
    shown_rows = [
        tuple(row[position[c]] if position.get(c, len(row)) < len(row) else "" for c in columns)
        for row in sent.rows
    ]
    labels = [i for i, numeric in enumerate(truth.numeric) if not numeric]
    figures = [i for i, numeric in enumerate(truth.numeric) if numeric]
    waiting: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    for row in shown_rows:
        waiting[_key(row, labels)].append(row)
    unmatched_truth: list[tuple[str, ...]] = []
    for row in truth.rows:
        key = _key(row, labels)
        if not waiting.get(key):
            unmatched_truth.append(row)
            continue
        shown = waiting[key].pop(0)
        found.extend(
            Difference(Gap.CELL, truth.title, key, truth.columns[i], shown[i], row[i])
            for i in figures
            if truth.columns[i] in position and not same_text(shown[i], row[i])
        )
    unmatched_sent = [row for rows in waiting.values() for row in rows]
    found.extend(_unmatched(truth, labels, figures, unmatched_truth, unmatched_sent))
    return found


def _unmatched(
    truth: Reference,
    labels: list[int],
    figures: list[int],
    missing: list[tuple[str, ...]],
    extra: list[tuple[str, ...]],
) -> list[Difference]:
    """Rows on one side only. Taken in order, a row of each side with the same figures is one
    row renamed (a company, a lot renamed since); a table of labels only has no such evidence."""
    found: list[Difference] = []
    if figures:
        while missing and extra:
            pair = next(
                (
                    (m, e)
                    for m in missing
                    for e in extra
                    if all(same_text(m[i], e[i]) for i in figures)
                ),
                None,
            )
            if pair is None:
                break
            missing.remove(pair[0])
            extra.remove(pair[1])
            found.append(
                Difference(
                    Gap.RENAMED_ROW,
                    truth.title,
                    sent=_key(pair[1], labels),
                    truth=_key(pair[0], labels),
                )
            )
    found.extend(
        Difference(
            Gap.MISSING_ROW,
            truth.title,
            _key(row, labels),
            truth=_described(truth.columns, row, truth.numeric),
        )
        for row in missing
    )
    found.extend(
        Difference(
            Gap.EXTRA_ROW,
            truth.title,
            _key(row, labels),
            sent=_described(truth.columns, row, truth.numeric),
        )
        for row in extra
    )
    return found


def column_totals(
    columns: Sequence[str], numeric: Sequence[bool], rows: Sequence[Sequence[str]]
) -> dict[str, Decimal] | None:
    """Each figure column added up (``1 234`` read as 1234); None when a cell is no number."""
    totals: dict[str, Decimal] = {}
    for index, column in enumerate(columns):
        if not numeric[index]:
            continue
        total = Decimal(0)
        for row in rows:
            cell = "".join(row[index].split()).replace(",", ".") if index < len(row) else ""
            try:
                total += Decimal(cell)
            except InvalidOperation:
                return None
        totals[column] = total
    return totals
