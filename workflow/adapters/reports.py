"""The monthly summary as tables, printed or written: text (rich), CSV, XLSX and HTML.

Every format is built from the same list of ``Table`` so that the CLI, the files and the emails
show the same figures. The HTML report is one self-contained page (inline CSS, an inline SVG bar
chart of hours per month): no script, nothing fetched from the network.
"""

from __future__ import annotations

import codecs
import csv
import heapq
import io
import re
import zipfile
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from functools import cache, lru_cache
from html import escape
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from zoneinfo import ZoneInfo

from babel import Locale
from babel.numbers import NumberPattern, get_decimal_symbol, get_group_symbol, parse_pattern
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text

from workflow.adapters.mail.message import Attachment
from workflow.adapters.safe_cells import FORMULA_STARTS, csv_text, xlsx_row
from workflow.adapters.templates import (
    french_date,
    french_month,
    french_time,
)
from workflow.domain.french_numbers import LOCALE
from workflow.domain.summary import (
    Pace,
    awaiting,
    combine_progress,
    owed_hours,
    pace_of,
    paced_lots,
    unreceived_declarations,
)

if TYPE_CHECKING:
    from workflow.domain.monthly_summary import (
        ClauseLine,
        Declarations,
        Figures,
        MissingDeclaration,
        MonthlySummary,
    )
    from workflow.domain.summary import Progress

#: Months in the chart of hours (the table of hours per month has them all).
CHART_MONTHS = 12

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
        # A row of zeros: all its figures nothing. Which cells are figures read once a table.
        figures = [i for i, c in enumerate(self.columns) if not c.is_label]
        if not figures:
            return list(self.rows)
        return [row for row in self.rows if any(row[i] for i in figures)]


# --- Building the tables --------------------------------------------------------------------------


def french_percent(value: Decimal | None) -> str:
    return _cell_percent(value)


def judged(figures: Figures, paced: Mapping[int, Decimal | None] | None) -> Progress:
    """A scope's progress with the declarations its paced lots (``paced``: ``paced_lots`` of
    the summary's clauses) still owe for the month and the months before it
    (``unreceived_declarations``): its pace « à confirmer » while they are not in, unless ahead
    without them. ``paced`` None: the rule of the emails written before 6 December 2026, the
    pace judged on the hours declared whatever was still owed (``audit verify`` compares those
    emails with what they printed then)."""
    if paced is None:
        return figures.progress
    declarations = figures.declarations
    return awaiting(
        figures.progress,
        unreceived_declarations(declarations, paced),
        owed_hours(declarations, paced),
    )


def judged_lots(
    summary: MonthlySummary, *, confirm_pace: bool = True
) -> dict[int, Decimal | None] | None:
    """The ``paced`` argument of ``judged`` for ``summary``'s scopes, worked out once: a buyer's
    declarations only name its own lots, so one set serves every scope. None with
    ``confirm_pace`` False (the older rule, see ``judged``)."""
    return paced_lots(summary.clauses) if confirm_pace else None


def _pace(progress: Progress, terminated: Sequence[date] = ()) -> str:
    pace = progress.pace
    if pace is None or progress.target_fraction is None:
        return "–"
    return terminated_words(terminated) or pace.label


def terminated_words(terminated: Sequence[date]) -> str | None:
    """What a scope whose paced lots were all terminated says in place of the pace's verdict
    (``Figures.terminated``): « marché résilié le 15 novembre 2026 »; for several lots
    « 2 marchés résiliés, le dernier le 3 décembre 2026 ». None for any other scope."""
    if not terminated:
        return None
    if len(terminated) == 1:
        return f"marché résilié le {french_date(terminated[0])}"
    return (
        f"{_number(len(terminated))} marchés résiliés, le dernier le {french_date(max(terminated))}"
    )


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


def _percent_pair(a: Decimal, b: Decimal) -> tuple[str, str]:
    """Two shares to compare: with one decimal when whole percents would look equal."""
    digits = 1 if round(a * 100) == round(b * 100) else 0
    # ``french_percent(a, digits)``'s pattern.
    pattern = "#,##0" + ("." + "0" * digits if digits else "") + "\u00a0%"
    return _babel(a, pattern), _babel(b, pattern)


def pace_phrase(progress: Progress, terminated: Sequence[date] = ()) -> str | None:
    """The "rythme" verdict with its two sides; None when it cannot be said. For a scope whose
    paced lots were all terminated (``Figures.terminated``), the termination in place of the
    verdict: « 24 % des heures prévues réalisées pour 28 % du temps écoulé, marché résilié le
    15 novembre 2026 » (its time stopped on that day, ``monthly_summary.terminated_elapsed``)."""
    done, elapsed, pace = progress.pace_fraction, progress.time_fraction, progress.pace
    if done is None or elapsed is None or pace is None:
        return None
    done_text, elapsed_text = _percent_pair(done, elapsed)
    return f"{done_text} des heures prévues réalisées pour {elapsed_text} du temps écoulé, " + (
        terminated_words(terminated) or _verdict(pace, progress.unreceived)
    )


def _verdict(pace: Pace, unreceived: int) -> str:
    """The verdict's words; to be confirmed, with how many declarations it waits for: « rythme
    à confirmer (2 déclarations non reçues) »."""
    if pace is not Pace.UNCONFIRMED:
        return pace.label
    waiting = _count(unreceived, "déclaration non reçue", "déclarations non reçues")
    return f"rythme {pace.label} ({waiting})"


def declarations_phrase(
    declarations: Declarations, with_buyer: bool, zone: ZoneInfo | None = None
) -> str:
    """How many of the month's declarations are in, whose are missing (late: past the due date
    the company's call gave it) and whose are not due yet, with the date each is due (or its
    call planned): the first ``EMAIL_NAMES`` companies of each named, the others counted (the
    tables of missing and not yet due declarations, and their files, list them all)."""
    expected, missing, pending = (
        declarations.expected,
        declarations.missing,
        declarations.pending,
    )
    if not expected:
        return "aucune attendue"
    if not missing and not pending:
        return f"toutes reçues ({_number(expected)} sur {_number(expected)})"

    def lot_of(m: MissingDeclaration) -> str:
        return m.lot_label + (f" – {m.buyer}" if with_buyer else "")

    def listed(found: tuple[MissingDeclaration, ...], name: Callable[..., str], table: str) -> str:
        names = ", ".join(name(m) for m in found[:EMAIL_NAMES])
        if len(found) > EMAIL_NAMES:
            others = len(found) - EMAIL_NAMES
            names += f" et {_count(others, 'autre', 'autres')}, dans le tableau {table}"
        return names

    parts = [
        f"{_number(declarations.received)} reçue{'s' if declarations.received > 1 else ''} "
        f"sur {_number(expected)} attendue{'s' if expected > 1 else ''}"
    ]
    if missing:
        names = listed(
            missing, lambda m: f"{m.company} ({lot_of(m)})", "des déclarations manquantes"
        )
        parts.append(f"{_count(len(missing), 'manquante', 'manquantes')} : {names}")
    if pending:
        names = listed(
            pending,
            lambda m: f"{m.company} ({lot_of(m)}, {_when_due(m, zone)})",
            "des déclarations pas encore dues",
        )
        parts.append(f"{_count(len(pending), 'pas encore due', 'pas encore dues')} : {names}")
    return " ; ".join(parts)


def _when_due(missing: MissingDeclaration, zone: ZoneInfo | None) -> str:
    """When a declaration not due yet is due: the date its call gave, else its call to come."""
    if missing.suspended and missing.due_on is not None:
        # The date moves with the suspension: none that would not hold.
        return "lot suspendu, échéance reportée à la reprise"
    if missing.due_on is not None:
        return f"à déclarer d'ici le {french_date(missing.due_on)}"
    return _when_called(missing.call_at, missing.suspended, zone)


def _when_called(call_at: datetime | None, suspended: bool, zone: ZoneInfo | None) -> str:
    """A declaration whose call has not left: when it leaves (« appel prévu le … »)."""
    if suspended:
        return "lot suspendu, appel à la reprise"
    if call_at is not None:
        return f"appel prévu le {french_date(call_at.astimezone(zone or UTC).date())}"
    return "appel à venir"


def of_month(month: date) -> str:
    """``d'août 2026``, ``de mars 2026``: French elides "de" before a vowel."""
    name = french_month(month)
    return f"d'{name}" if name[0] in "aeiouyéè" else f"de {name}"


#: The headline line, table and sheet of the declarations of earlier months still missing.
EARLIER_TITLE = "Déclarations des mois précédents toujours manquantes"
EARLIER_SHEET = "Mois précédents manquants"


def months_listed(months: Sequence[date]) -> str:
    """« avril et mai 2026 », « novembre, décembre 2026 et janvier 2027 »: each month named, the
    year after the last month of each year (a month received in between is never said to be
    missing); more than three months in a row: « d'avril à septembre 2026 », « de novembre 2026
    à février 2027 »."""
    if len(months) == 1:  # most lines owe one month: 100,000 of them in a 10^5-lot pass
        return french_month(months[0])
    ordered = sorted(set(months))
    first, last = ordered[0], ordered[-1]
    span = (last.year - first.year) * 12 + last.month - first.month + 1
    if len(ordered) > 3 and span == len(ordered):
        start = french_month(first) if first.year != last.year else french_month(first)[:-5]
        return f"{of_month(first).removesuffix(french_month(first))}{start} à {french_month(last)}"
    names = [
        french_month(m)
        if n == len(ordered) - 1 or ordered[n + 1].year != m.year
        else french_month(m).rsplit(" ", 1)[0]
        for n, m in enumerate(ordered)
    ]
    if len(names) == 1:
        return names[0]
    return f"{', '.join(names[:-1])} et {names[-1]}"


def earlier_phrase(declarations: Declarations, with_buyer: bool) -> str:
    """How many declarations of earlier months are still missing, and whose with their months:
    the first ``EMAIL_NAMES`` companies x lots named, the others counted (the table of the
    earlier months, and its file, list them all)."""
    earlier = declarations.earlier
    parts = [_number(declarations.earlier_count)]
    for e in earlier[:EMAIL_NAMES]:
        lot = e.lot_label + (f" – {e.buyer}" if with_buyer else "")
        parts.append(f"{e.company} ({lot}) : {months_listed(e.months)}")
    text = " ; ".join(parts)
    if len(earlier) > EMAIL_NAMES:
        others = len(earlier) - EMAIL_NAMES
        text += (
            f" ; et {_count(others, 'autre entreprise', 'autres entreprises')}"
            " ou lots, dans le tableau des mois précédents"
        )
    return text


#: The headline line of the declarations of earlier months still expected and not due yet.
EARLIER_PENDING_TITLE = "Déclarations des mois précédents attendues, pas encore dues"


def earlier_pending_phrase(
    declarations: Declarations, with_buyer: bool, zone: ZoneInfo | None = None
) -> str | None:
    """The declarations of earlier months still expected and not due yet (« mars 2027 de
    Titulaire (… , échéance reportée au 25 mai 2027) »): a suspension pushed their due date past
    the summary's moment. Neither missing nor the month's: said on their own line, so that the
    month's summary that showed them « pas encore dues » is not contradicted by their vanishing
    from the next one; the first ``EMAIL_NAMES`` named, the others counted. None when there are
    none."""
    waiting = declarations.earlier_pending
    if not waiting:
        return None
    parts = []
    for e in waiting[:EMAIL_NAMES]:
        lot = e.lot_label + (f" – {e.buyer}" if with_buyer else "")
        if not e.called:
            when = _when_called(e.call_at, e.suspended, zone)
        elif e.due_on is None:
            when = "lot suspendu, échéance reportée à la reprise"
        elif e.pushed:
            when = f"échéance reportée au {french_date(e.due_on)}"
        else:
            when = f"à déclarer d'ici le {french_date(e.due_on)}"
        parts.append(f"{french_month(e.month)} de {e.company} ({lot}, {when})")
    text = " ; ".join(parts)
    if len(waiting) > EMAIL_NAMES:
        others = len(waiting) - EMAIL_NAMES
        text += f" ; et {others} autre{'s' if others > 1 else ''}"
    return text


def figure_lines(
    summary: MonthlySummary, *, confirm_pace: bool = True, progress: Progress | None = None
) -> list[tuple[str, str]]:
    """The summary's headline figures, as (label, value): the emails, the CLI and the HTML
    report print these very lines. ``confirm_pace`` False: the pace as judged before 6
    December 2026 (``judged``). ``progress``: the overall progress ``judged`` gives, when the
    caller has it already (an email reads it for its alert too)."""
    figures = summary.overall
    p = (
        progress
        if progress is not None
        else judged(figures, judged_lots(summary, confirm_pace=confirm_pace))
    )
    people = figures.participants
    month = french_month(summary.month)
    cumulated = f"{_cell_hours(p.hours_cumulated)} sur {_cell_hours(p.hours_target)} prévues"
    if p.target_fraction is not None:
        cumulated += f" ({french_percent(p.target_fraction)} de l'objectif)"
    lines = [
        ("Heures réalisées dans le mois", _cell_hours(p.hours_month)),
        (
            f"Déclarations {of_month(summary.month)}",
            declarations_phrase(figures.declarations, not summary.for_buyer, summary.zone),
        ),
    ]
    if figures.declarations.earlier:
        lines.append((EARLIER_TITLE, earlier_phrase(figures.declarations, not summary.for_buyer)))
    waiting = earlier_pending_phrase(figures.declarations, not summary.for_buyer, summary.zone)
    if waiting is not None:
        lines.append((EARLIER_PENDING_TITLE, waiting))
    lines.append(("Heures cumulées depuis le début", cumulated))
    pace = pace_phrase(p, figures.terminated)
    if pace is not None:
        lines.append((f"Rythme à fin {month}", pace))
    lines.append(
        (
            "Participants actifs dans le mois",
            f"{_number(people.active)}, dont "
            f"{_count(people.new, 'nouveau', 'nouveaux')} "
            f"({_number(people.cumulated)} depuis le début)",
        )
    )
    lines.append(
        (
            "Clauses comptées",
            f"{_number(p.clauses)}, dont {_number(figures.followed)} "
            f"suivie{'s' if figures.followed > 1 else ''} dans le mois",
        )
    )
    return lines


def _clause_label(line: ClauseLine, with_buyer: bool) -> str:
    lot = f" lot {line.lot}" if line.lot else ""
    who = f"{line.buyer} – " if with_buyer else ""
    return f"{who}n° {line.clause_id} – {line.market}{lot} – {line.title} ({line.stage_label})"


_PROGRESS_COLUMNS = (
    Column("Clauses comptées", "int"),
    Column("Heures prévues", "hours"),
    Column("Heures du mois", "hours"),
    Column("Heures cumulées", "hours"),
    Column("% de l'objectif", "percent"),
    Column("% du temps écoulé", "percent"),
    Column("Rythme", "status"),
)


def _progress_row(figures: Figures, paced: Mapping[int, Decimal | None]) -> tuple[Any, ...]:
    p = judged(figures, paced)
    return (
        p.clauses,
        p.hours_target,
        p.hours_month,
        p.hours_cumulated,
        p.target_fraction,
        p.time_fraction,
        _pace(p, figures.terminated),
    )


def progress_table(summary: MonthlySummary) -> Table:
    """The « Avancement » sheet: the hours against the target, for each scope."""
    paced = paced_lots(summary.clauses)
    return _scoped_table(
        summary,
        "Avancement",
        "Heures d'insertion : mois, cumul et objectif",
        _PROGRESS_COLUMNS,
        lambda f: [_progress_row(f, paced)],
        keep_zeros=True,
    )


def _missing_columns(show_buyer: bool) -> tuple[Column, ...]:
    return (
        *((Column("Donneur d'ordre"),) if show_buyer else ()),
        Column("Entreprise"),
        Column("Marché"),
        Column("Lot"),
        Column("Intitulé"),
    )


def missing_table(summary: MonthlySummary) -> Table:
    """The « Déclarations manquantes » sheet."""
    # A buyer's own name on every line of its own report says nothing.
    show_buyer = not summary.for_buyer
    return Table(
        "Déclarations manquantes",
        f"Déclarations {of_month(summary.month)} manquantes",
        _missing_columns(show_buyer),
        tuple(
            (
                *((m.buyer,) if show_buyer else ()),
                m.company,
                m.market,
                m.lot or "–",
                m.title,
            )
            for m in summary.overall.declarations.missing
        ),
    )


def earlier_table(summary: MonthlySummary) -> Table:
    """The « Mois précédents manquants » sheet: a line per company x lot with declarations of
    months before the summary's still missing at its moment, its months named and counted."""
    show_buyer = not summary.for_buyer
    return Table(
        EARLIER_SHEET,
        EARLIER_TITLE,
        (*_missing_columns(show_buyer), Column("Mois"), Column("Déclarations", "int")),
        tuple(
            (
                *((e.buyer,) if show_buyer else ()),
                e.company,
                e.market,
                e.lot or "–",
                e.title,
                months_listed(e.months),
                len(e.months),
            )
            for e in summary.overall.declarations.earlier
        ),
    )


def clauses_table(summary: MonthlySummary) -> Table:
    """The « Clauses » sheet: every clause followed in the month, then one line for those
    achieved before it."""
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
    clause_rows: list[tuple[Any, ...]] = [
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
        for c in summary.followed_clauses
    ]
    earlier = summary.earlier_clauses
    if earlier.clauses:
        # One line for the clauses achieved before the month, so the table adds up to the total.
        clause_rows.append(
            (
                None,
                *(("",) if show_buyer else ()),
                "",
                "",
                f"{_count(earlier.clauses, 'clause achevée', 'clauses achevées')} avant "
                f"{french_month(summary.month)}",
                "",
                earlier.hours_target or None,
                earlier.hours_month,
                earlier.hours_cumulated,
                earlier.target_fraction,
                earlier.time_fraction,
            )
        )
    return Table("Clauses", "Avancement par clause", clause_columns, tuple(clause_rows))


def build_tables(summary: MonthlySummary) -> list[Table]:
    """Every table of the summary, in the order of the spreadsheet's sheets. The long ones
    (« Avancement », « Déclarations manquantes », « Clauses ») are functions of their own: an
    email's attached files build just those (``email_files``)."""
    people = (Column("Nouveaux", "int"), Column("Actifs", "int"), Column("Cumul", "int"))

    def people_rows(attribute: str) -> Any:
        def rows(f: Figures) -> list[tuple[Any, ...]]:
            return [(c.label, c.new, c.active, c.cumulated) for c in getattr(f, attribute)]

        return rows

    def count_rows(attribute: str) -> Any:
        def rows(f: Figures) -> list[tuple[Any, ...]]:
            return [(c.label, c.month, c.cumulated) for c in getattr(f, attribute)]

        return rows

    show_buyer = not summary.for_buyer
    return [
        progress_table(summary),
        _scoped_table(
            summary,
            "Déclarations",
            f"Déclarations {of_month(summary.month)}",
            (
                Column("Attendues", "int"),
                Column("Reçues", "int"),
                Column("Manquantes", "int"),
                Column("Pas encore dues", "int"),
            ),
            lambda f: [
                (
                    f.declarations.expected,
                    f.declarations.received,
                    len(f.declarations.missing),
                    len(f.declarations.pending),
                )
            ],
        ),
        missing_table(summary),
        # Only when there are some: a summary without them keeps its sheets.
        *((earlier_table(summary),) if summary.overall.declarations.earlier else ()),
        Table(
            "Déclarations pas encore dues",
            f"Déclarations {of_month(summary.month)} pas encore dues",
            (*_missing_columns(show_buyer), Column("Échéance")),
            tuple(
                (
                    *((m.buyer,) if show_buyer else ()),
                    m.company,
                    m.market,
                    m.lot or "–",
                    m.title,
                    _when_due(m, summary.zone),
                )
                for m in summary.overall.declarations.pending
            ),
        ),
        clauses_table(summary),
        Table(
            "Heures par mois",
            "Heures réalisées par mois (depuis le premier mois déclaré)",
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
            "Sorties par type",
            "Sorties par type",
            (Column("Type"), Column("Groupe"), Column("Mois", "int"), Column("Cumul", "int")),
            lambda f: [(c.label, c.group_label, c.month, c.cumulated) for c in f.outcomes_by_type],
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
            "Clauses par étape (à la fin du mois)",
            (Column("Étape"), Column("Clauses", "int")),
            lambda f: [(s.label, s.clauses) for s in f.clauses_by_stage],
        ),
    ]


_FRENCH = Locale.parse(LOCALE)
#: The French symbols Babel's patterns write (the same ``latn`` numbering system as theirs).
_GROUP = get_group_symbol(_FRENCH, numbering_system="latn")
_DECIMAL = get_decimal_symbol(_FRENCH, numbering_system="latn")


@cache
def _number_pattern(pattern: str) -> NumberPattern:
    return parse_pattern(pattern)


@cache
def _plain_pattern(pattern: str) -> NumberPattern | None:
    """``pattern`` parsed, when ``_babel`` may apply it itself: no exponent, no significant
    digits, no currency sign (the summaries' own patterns); None for any other."""
    parsed = _number_pattern(pattern)
    if parsed.exp_prec or "@" in parsed.pattern or "¤" in pattern or not parsed.number_pattern:
        return None
    return parsed


@lru_cache(maxsize=8192)
def _babel(value: int | Decimal, pattern: str) -> str:
    """What Babel's ``format_decimal`` and ``format_percent`` give for ``pattern`` in French (the
    very call they make), the locale and the pattern parsed once, and the last results kept (a
    pass writes the same counts and shares in a thousand emails). Equal values give the same
    text with these patterns, whatever their type or exponent.

    Babel's own ``NumberPattern.apply``, its steps taken here with the same ``Decimal``
    operations, its symbols looked up once: Babel looks the locale's group and decimal symbols
    up again for each number (15 µs a number against 5 µs here), and the 08:00 pass of a
    10^5-lot territory formats some 85,000 numbers no earlier email had (BENCHMARKS.md,
    summaries). ``test_summary_cells_fast`` compares the two on every kind of value; anything
    but a finite number goes to Babel itself."""
    parsed = _plain_pattern(pattern)
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    if parsed is None or not number.is_finite():
        return str(_number_pattern(pattern).apply(value, _FRENCH))
    number = number.scaleb(parsed.scale)
    negative = int(number.is_signed())
    least, most = parsed.frac_prec
    rounded = abs(number).normalize().quantize(_quantum(most))
    whole, _, fraction = f"{rounded:f}".partition(".")
    # ``NumberPattern._format_int``: padded to the least digits, then grouped from the right.
    if len(whole) < parsed.int_prec[0]:
        whole = "0" * (parsed.int_prec[0] - len(whole)) + whole
    size, grouped = parsed.grouping[0], ""
    while len(whole) > size:
        grouped = _GROUP + whole[-size:] + grouped
        whole = whole[:-size]
        size = parsed.grouping[1]
    # ``NumberPattern._format_frac``.
    fraction = fraction or "0"
    if len(fraction) < least:
        fraction += "0" * (least - len(fraction))
    if most == 0 or (least == 0 and int(fraction) == 0):
        fraction = ""
    else:
        while len(fraction) > least and fraction[-1] == "0":
            fraction = fraction[:-1]
        fraction = _DECIMAL + fraction
    text = f"{parsed.prefix[negative]}{whole}{grouped}{fraction}{parsed.suffix[negative]}"
    if "'" in text:  # Babel's quoted literals, as it unquotes them
        text = re.sub(r"'([^']*)'", lambda m: m.group(1) or "'", text)
    return text


@cache
def _quantum(digits: int) -> Decimal:
    return Decimal(10) ** (-digits)


# The two below kept too: the same hours and shares come back in a thousand emails
# (``typed``: 1 and 1.0 are told apart).
@lru_cache(maxsize=8192, typed=True)
def _cell_hours(value: int | float | Decimal) -> str:
    """``french_hours``: ``4 725 h``, ``151,67 h``."""
    # A Decimal is its own ``Decimal(str(...))``: the same digits and exponent.
    amount = value if type(value) is Decimal else Decimal(str(value))
    pattern = "#,##0" if amount == amount.to_integral_value() else "#,##0.00"
    return f"{_babel(amount, pattern)}\u00a0h"


@lru_cache(maxsize=8192, typed=True)
def _cell_percent(value: Decimal | None) -> str:
    """``french_percent``: ``45 %``; a dash for nothing."""
    return "–" if value is None else _babel(value, "#,##0\u00a0%")


def _number(value: int | Decimal) -> str:
    """``french_number``: ``12 345``."""
    return _babel(value, "#,##0")


def _count(count: int, one: str, many: str) -> str:
    """``french_count``: ``0 courriel``, ``12 345 courriels``."""
    return f"{_babel(count, '#,##0')} {one if count < 2 else many}"


def format_cell(value: Any, kind: ColumnKind) -> str:
    """A cell as a French reader expects it."""
    if value is None:
        return "–"
    if kind == "hours":
        return _cell_hours(value)
    if kind == "percent":
        return _cell_percent(value)
    if kind == "int":
        return _babel(value, "#,##0")
    if kind == "month" and isinstance(value, date):
        return french_month(value)
    return str(value)


def _email_table(
    title: str,
    columns: Sequence[Column],
    rows: Sequence[tuple[Any, ...]],
    note: str | None = None,
) -> dict[str, Any] | None:
    table = Table("", title, tuple(columns), tuple(rows))
    # Each column's formatting chosen once (``format_cell``), not once a cell.
    cells = [_cell_format(c.kind) for c in table.columns]
    shown = [[cell(v) for cell, v in zip(cells, row, strict=True)] for row in table.shown_rows()]
    if not shown:
        return None
    titles = [c.title for c in columns]
    return {
        "title": title,
        "columns": titles,
        "numeric": [not c.is_label for c in columns],
        "rows": shown,
        "text": text_table(titles, shown),
        "note": note,
    }


def _dash_or(format_value: Callable[[Any], str]) -> Callable[[Any], str]:
    def cell(value: Any) -> str:
        return "–" if value is None else format_value(value)

    return cell


def _month_cell(value: Any) -> str:
    return french_month(value) if isinstance(value, date) else str(value)


#: ``format_cell`` for each kind of column: the same text, the kind read once a table.
_CELL_FORMATS: dict[str, Callable[[Any], str]] = {
    "hours": _dash_or(_cell_hours),
    "percent": _cell_percent,  # its own dash for nothing
    "int": _dash_or(_number),
    "month": _dash_or(_month_cell),
}
_TEXT_CELL = _dash_or(str)


def _cell_format(kind: ColumnKind) -> Callable[[Any], str]:
    return _CELL_FORMATS.get(kind, _TEXT_CELL)


# --- Long tables in an email ----------------------------------------------------------------------

#: Lines of a long table (one per clause, per buyer, per missing declaration) that an email
#: shows; the others are added up on one line and listed in full in a CSV file attached to it.
#: An email stays readable and its size bounded whatever the size of the territory.
EMAIL_ROWS = 50
#: Companies named in the headline line of the month's declarations.
EMAIL_NAMES = 10
#: Above this many bytes, an email's CSV files go in one ZIP archive (CSV shrinks about tenfold).
ZIP_ABOVE = 1_000_000

T = TypeVar("T")


class LongTable(StrEnum):
    """The tables that grow with the territory, and the name of their complete file."""

    BUYERS = "donneurs-d-ordre"
    MISSING = "declarations-manquantes"
    EARLIER = "declarations-mois-precedents"
    CLAUSES = "clauses"


def csv_name(summary: MonthlySummary, table: LongTable) -> str:
    return f"synthese-{summary.month:%Y-%m}-{table.value}.csv"


def _first(rows: Sequence[T], urgency: Callable[[T], Any] | None) -> tuple[list[T], list[T]]:
    """The ``EMAIL_ROWS`` rows an email shows (the most urgent first, when ``urgency`` ranks
    them; else the first ones, in their order) and the others, in their order."""
    if len(rows) <= EMAIL_ROWS:
        return list(rows), []
    if urgency is None:
        return list(rows[:EMAIL_ROWS]), list(rows[EMAIL_ROWS:])
    # Each row's urgency once (a Decimal subtraction for each of a territory's 74,000 clauses),
    # and only the first rows ranked: the index in the key keeps ties in their order, as the
    # full sort did.
    ranked = heapq.nsmallest(EMAIL_ROWS, zip(map(urgency, rows), range(len(rows)), strict=True))
    kept = {i for _, i in ranked}
    return [rows[i] for _, i in ranked], [r for i, r in enumerate(rows) if i not in kept]


def _lateness(progress: Progress, terminated: object = None) -> tuple[bool, Decimal]:
    """(not behind the pace, minus how far the hours are behind the time in shares of the
    target, 0 when not behind): the most late first. Each share worked out once, the pace
    rule applied to them (``Progress.behind`` works both out again at each call, and an email
    ranks a territory's 74,000 clauses). A scope or a lot whose pace is no longer judged, its
    contract terminated (``terminated``: a date, or the dates of ``Figures.terminated``), is
    not behind; nor one whose pace is to be confirmed (``Progress.unreceived``)."""
    done, elapsed = progress.pace_fraction, progress.time_fraction
    if (
        terminated
        or done is None
        or elapsed is None
        or pace_of(done, elapsed, progress.unreceived, progress.owed_share) is not Pace.BEHIND
    ):
        return True, Decimal(0)
    return False, done - elapsed


def _where(files: Mapping[LongTable, str] | None, summary: MonthlySummary, table: LongTable) -> str:
    """Where the complete table is: an attachment, or a file inside the attached archive."""
    if files and table in files:
        return files[table]
    return f"la pièce jointe «\u00a0{csv_name(summary, table)}\u00a0»"


def _long_tables(summary: MonthlySummary) -> dict[LongTable, int]:
    """The long tables of ``summary``'s email that have more lines than it shows: how many."""
    with_buyer = not summary.for_buyer
    sizes = {
        LongTable.CLAUSES: sum(1 for c in summary.followed_clauses if not _nothing(c.progress)),
        LongTable.MISSING: len(summary.overall.declarations.missing),
        LongTable.EARLIER: len(summary.overall.declarations.earlier),
        LongTable.BUYERS: (
            sum(1 for b in summary.buyers if b.figures.progress.clauses) if with_buyer else 0
        ),
    }
    return {table: size for table, size in sizes.items() if size > EMAIL_ROWS}


def _nothing(progress: Progress) -> bool:
    """A clause line the email leaves out like any line of zeros: no hours, no target, no time
    (``_of_target`` is None, the time share none or zero)."""
    return not (
        progress.hours_month
        or progress.hours_cumulated
        or progress.hours_target
        or progress.time_fraction
    )


def email_tables(
    summary: MonthlySummary,
    files: Mapping[LongTable, str] | None = None,
    *,
    confirm_pace: bool = True,
    paced: Mapping[int, Decimal | None] | None = None,
) -> list[dict[str, Any]]:
    """The tables of a summary email: at most five narrow columns, so that they fit a 600 px
    message (the full tables, one column per figure and one line per scope, are in the
    spreadsheet the email points to). The breakdowns are the email's own scope (the whole
    territory, or the buyer's clauses); the facilitator's email adds a line per buyer.
    Formatted, rows of zeros left out, empty tables dropped.

    A long table (a line per buyer, per clause, per missing declaration) shows ``EMAIL_ROWS``
    lines: the buyers and clauses that need attention most, the first missing declarations.
    One more line adds the others up, so that the columns still add up to the headline; a note
    under the table says how many lines are left out and where they are in full (``files``:
    where each table's CSV file is, by default an attachment of its own name). A buyer's
    « Rythme » is ``judged`` (``confirm_pace`` False: as before 6 December 2026; ``paced``:
    ``judged_lots(summary)`` when the caller has it already)."""
    month = french_month(summary.month)
    with_buyer = not summary.for_buyer
    figures = summary.overall
    tables: list[dict[str, Any] | None] = []
    hours = Column("Mois", "hours")
    cumulated = Column("Cumul", "hours")
    missing_by_clause = Counter(m.clause_id for m in figures.declarations.missing)
    if with_buyer:
        missing_by_buyer = Counter(m.buyer_id for m in figures.declarations.missing)
        if paced is None:
            paced = judged_lots(summary, confirm_pace=confirm_pace)
        # Each buyer's progress as its row says it: one whose pace waits for declarations is
        # not ranked among those behind, its missing declarations rank it.
        listed = [
            (b, judged(b.figures, paced)) for b in summary.buyers if b.figures.progress.clauses
        ]
        shown, others = _first(
            listed,
            lambda bp: (
                *_lateness(bp[1], bp[0].figures.terminated),
                -missing_by_buyer[bp[0].buyer_id],
            ),
        )
        rows = [(b.name, p, b.figures.terminated) for b, p in shown]
        note = None
        if others:
            rest = f"… et {_count(len(others), 'autre donneur', 'autres donneurs')} d'ordre"
            rows.append((rest, combine_progress(p for _, p in others), ()))
            note = (
                f"Les {_number(len(shown))} donneurs d'ordre qui demandent le plus "
                "d'attention (en retard sur le rythme, le plus grand retard d'abord, puis "
                f"déclarations manquantes) ; la ligne «\u00a0{rest}\u00a0» additionne les autres, "
                f"détaillés dans {_where(files, summary, LongTable.BUYERS)}."
            )
        tables.append(
            _email_table(
                "Par donneur d'ordre",
                (
                    Column("Donneur d'ordre"),
                    hours,
                    cumulated,
                    Column("Objectif", "percent"),
                    Column("Rythme", "status"),
                ),
                [
                    (name, p.hours_month, p.hours_cumulated, p.target_fraction, _pace(p, ended))
                    for name, p, ended in rows
                ],
                note,
            )
        )
    missing, not_shown = _first(figures.declarations.missing, None)
    missing_rows = [
        (m.company, m.lot_label + (f" ({m.buyer})" if with_buyer else "")) for m in missing
    ]
    note = None
    if not_shown:
        rest = f"… et {_count(len(not_shown), 'autre', 'autres')}"
        missing_rows.append((rest, "voir la pièce jointe"))
        note = (
            f"Les {_number(len(missing))} premières, "
            + ("par donneur d'ordre puis entreprise" if with_buyer else "par entreprise")
            + f" ; les {_number(len(not_shown))} autres sont dans "
            f"{_where(files, summary, LongTable.MISSING)}."
        )
    tables.append(
        _email_table(
            f"Déclarations {of_month(summary.month)} manquantes",
            (Column("Entreprise"), Column("Lot")),
            missing_rows,
            note,
        )
    )
    # Earlier months still missing (a late start's skipped months, a month never declared): a
    # line per company x lot with its months, the first ones shown, all of them attached.
    earlier_shown, not_listed = _first(figures.declarations.earlier, None)
    earlier_rows = [
        (
            e.company,
            e.lot_label + (f" ({e.buyer})" if with_buyer else ""),
            months_listed(e.months),
        )
        for e in earlier_shown
    ]
    note = None
    if not_listed:
        rest = f"… et {_count(len(not_listed), 'autre', 'autres')}"
        earlier_rows.append((rest, "voir la pièce jointe", "–"))
        note = (
            f"Les {_number(len(earlier_shown))} premières lignes, "
            + ("par donneur d'ordre puis entreprise" if with_buyer else "par entreprise")
            + f" ; les {_number(len(not_listed))} autres sont dans "
            f"{_where(files, summary, LongTable.EARLIER)}."
        )
    tables.append(
        _email_table(
            EARLIER_TITLE,
            (Column("Entreprise"), Column("Lot"), Column("Mois")),
            earlier_rows,
            note,
        )
    )
    # Not due yet (a late start's catch-up call, a call that left late): named apart from the
    # missing ones, each with the date the company was given, so that no one reads them late.
    pending, later = _first(figures.declarations.pending, None)
    pending_rows = [
        (
            m.company,
            m.lot_label + (f" ({m.buyer})" if with_buyer else ""),
            _when_due(m, summary.zone),
        )
        for m in pending
    ]
    note = None
    if later:
        pending_rows.append((f"… et {_count(len(later), 'autre', 'autres')}", "–", "–"))
        note = (
            f"Les {_number(len(pending))} premières ; les {_number(len(later))} "
            "autres ne sont pas encore dues non plus."
        )
    tables.append(
        _email_table(
            f"Déclarations {of_month(summary.month)} pas encore dues",
            (Column("Entreprise"), Column("Lot"), Column("Échéance")),
            pending_rows,
            note,
        )
    )
    followed = [c for c in summary.followed_clauses if not _nothing(c.progress)]
    shown_clauses, other_clauses = _first(
        followed,
        lambda c: (not missing_by_clause[c.clause_id], *_lateness(c.progress, c.terminated_on)),
    )
    clause_rows: list[tuple[Any, ...]] = [
        (
            _clause_label(c, with_buyer),
            c.progress.hours_month,
            _of_target(c.progress),
            c.progress.time_fraction,
        )
        for c in shown_clauses
    ]
    note = None
    if other_clauses:
        # A lot terminated before the month is listed, not followed in it: not « suivie ».
        words = (
            ("autre clause suivie", "autres clauses suivies")
            if all(c.followed for c in other_clauses)
            else ("autre clause suivie ou résiliée", "autres clauses suivies ou résiliées")
        )
        rest = f"… et {_count(len(other_clauses), *words)}"
        together = combine_progress(c.progress for c in other_clauses)
        clause_rows.append(
            (rest, together.hours_month, _of_target(together), together.time_fraction)
        )
        note = (
            f"Les {_number(len(shown_clauses))} clauses suivies qui demandent le plus "
            "d'attention (déclarations du mois manquantes, puis en retard sur le rythme, le plus "
            f"grand retard d'abord) ; la ligne «\u00a0{rest}\u00a0» additionne les autres, détaillées une "
            f"à une dans {_where(files, summary, LongTable.CLAUSES)}."
        )
    earlier = summary.earlier_clauses
    if earlier.clauses:
        clause_rows.append(
            (
                f"{_count(earlier.clauses, 'clause achevée', 'clauses achevées')} avant {month}",
                earlier.hours_month,
                _of_target(earlier),
                earlier.time_fraction,
            )
        )
    tables.append(
        _email_table(
            "Avancement par clause",
            (
                Column("Clause"),
                hours,
                Column("Cumul / prévues", "status"),
                Column("Temps", "percent"),
            ),
            clause_rows,
            note,
        )
    )
    people = (Column("Nouveaux", "int"), Column("Actifs", "int"), Column("Cumul", "int"))
    for title, first, counts in (
        ("Participants par critère d'éligibilité", "Critère", figures.by_criterion),
        ("Participants par sexe", "Sexe", figures.by_sex),
        ("Participants par tranche d'âge", "Tranche d'âge", figures.by_age_band),
    ):
        tables.append(
            _email_table(
                title,
                (Column(first), *people),
                [(c.label, c.new, c.active, c.cumulated) for c in counts],
            )
        )
    tables.append(
        _email_table(
            "Heures par modalité de réalisation",
            (Column("Modalité"), hours, cumulated),
            [(c.label, c.month, c.cumulated) for c in figures.hours_by_mode],
        )
    )
    numbers = (Column("Mois", "int"), Column("Cumul", "int"))
    tables.append(
        _email_table(
            "Contrats par type (participants distincts)",
            (Column("Type de contrat"), *numbers),
            [(c.label, c.month, c.cumulated) for c in figures.contracts_by_type],
        )
    )
    tables.append(
        _email_table(
            "Sorties par type",
            (Column("Type"), Column("Groupe"), *numbers),
            [(c.label, c.group_label, c.month, c.cumulated) for c in figures.outcomes_by_type],
        )
    )
    tables.append(
        _email_table(
            "Sorties par groupe",
            (Column("Groupe"), *numbers),
            [(c.label, c.month, c.cumulated) for c in figures.outcomes_by_group],
        )
    )
    tables.append(
        _email_table(
            "Clauses par étape (à la fin du mois)",
            (Column("Étape"), Column("Clauses", "int")),
            [(s.label, s.clauses) for s in figures.clauses_by_stage],
        )
    )
    return [t for t in tables if t is not None]


# --- The complete long tables, attached ----------------------------------------------------------


@dataclass(frozen=True)
class EmailFiles:
    """The files attached to a summary email, and where each long table is in them."""

    attachments: tuple[Attachment, ...]
    where: dict[LongTable, str]  # "la pièce jointe « … »", for the note under the table

    @property
    def names(self) -> list[str]:
        return [a.filename for a in self.attachments]


def _wide_csv(table: Table) -> bytes:
    """One table as a CSV file for French Excel, a line per row and a column per column (``;``,
    decimal commas, UTF-8 with a BOM); percentages as numbers of percent, as in the tidy CSV.

    Encoded as it is written, into bytes: a ``StringIO`` held the whole text (two bytes a
    character once a « – » is in it), then a copy, then the bytes, 43 MB at once for the
    10 MB clauses' file of a 10^5-lot territory, the peak of the whole 08:00 pass. The BOM is
    written first and the text encoded as plain UTF-8: the same bytes as ``utf-8-sig``, whose
    encoder Python's text layer takes the slow way, once a line."""
    buffer = io.BytesIO()
    buffer.write(codecs.BOM_UTF8)
    text = io.TextIOWrapper(buffer, encoding="utf-8", newline="")
    writer = csv.writer(text, delimiter=";", lineterminator="\r\n")
    writer.writerow([csv_text(c.title) for c in table.columns])
    # Written column by column, a chunk of lines at a time: each column's cells converted by one
    # comprehension of its kind (not a function call for each of a line's cells), then the lines
    # zipped back. The clauses' file of a 10^5-lot territory has 74,000 lines, a thousand
    # buyers' files as many again; a chunk keeps their cells from being held all at once.
    kinds = [(c.is_label, c.kind) for c in table.columns]
    rows = table.rows
    for start in range(0, len(rows), CSV_CHUNK):
        chunk = rows[start : start + CSV_CHUNK]
        columns = zip(*chunk, strict=True)
        cells = [
            _csv_labels(values, kind) if label else _csv_figures(values, kind)
            for (label, kind), values in zip(kinds, columns, strict=True)
        ]
        writer.writerows(zip(*cells, strict=True))
    text.flush()
    text.detach()  # the wrapper would close the buffer when collected
    return buffer.getvalue()


#: Lines of a CSV file converted together (``_wide_csv``).
CSV_CHUNK = 1_000


def _csv_labels(values: Sequence[Any], kind: ColumnKind) -> list[str]:
    """``csv_text(_label_cell(value, kind))`` of each value, a text taken the short way."""
    return [
        ("'" + v if v.startswith(FORMULA_STARTS) else v)
        if type(v) is str
        else csv_text(_label_cell(v, kind))
        for v in values
    ]


def _csv_figures(values: Sequence[Any], kind: ColumnKind) -> list[str]:
    """``_csv_value(value, kind)`` of each value, a number or nothing taken the short way."""
    return [
        _csv_number(v, kind)
        if v is None or type(v) is Decimal or type(v) is int
        else _csv_value(v, kind)
        for v in values
    ]


def email_files(summary: MonthlySummary) -> EmailFiles:
    """The complete tables an email shortens, as CSV files: nothing when it shortens none. The
    clauses' file is the spreadsheet's « Clauses » sheet (every clause followed in the month,
    then the line of those achieved before it), the buyers' file its « Avancement » sheet, the
    missing declarations' its « Déclarations manquantes » sheet. Above ``ZIP_ABOVE`` bytes the
    files go in one ZIP archive."""
    long = _long_tables(summary)
    if not long:
        return EmailFiles((), {})
    # Just the sheets attached: the others (every breakdown for every buyer) cost as much again.
    sheets = {
        LongTable.BUYERS: progress_table,
        LongTable.MISSING: missing_table,
        LongTable.EARLIER: earlier_table,
        LongTable.CLAUSES: clauses_table,
    }
    files = [
        Attachment(csv_name(summary, table), CSV_TYPE, _wide_csv(sheets[table](summary)))
        for table in LongTable
        if table in long
    ]
    if sum(len(f.content) for f in files) <= ZIP_ABOVE:
        where = {t: f"la pièce jointe «\u00a0{csv_name(summary, t)}\u00a0»" for t in long}
        return EmailFiles(tuple(files), where)
    archive = f"synthese-{summary.month:%Y-%m}.zip"
    buffer = io.BytesIO()
    # The archive's dates are the summary's moment: the same figures give the same bytes.
    moment = summary.compiled_at
    stamp = moment.astimezone(summary.zone).timetuple()[:6] if moment else (1980, 1, 1, 0, 0, 0)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        for file in files:
            info = zipfile.ZipInfo(file.filename, stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            package.writestr(info, file.content)
    where = {
        t: f"le fichier «\u00a0{csv_name(summary, t)}\u00a0» de la pièce jointe «\u00a0{archive}\u00a0»"
        for t in long
    }
    return EmailFiles((Attachment(archive, "application/zip", buffer.getvalue()),), where)


CSV_TYPE = "text/csv; charset=utf-8"


def _of_target(progress: Progress) -> str | None:
    """``2 140 h / 4 725 h (45 %)``: the cumulated hours against the target, in one cell."""
    if not progress.hours_cumulated and not progress.hours_target:
        return None
    text = f"{_cell_hours(progress.hours_cumulated)} / {_cell_hours(progress.hours_target)}"
    if progress.target_fraction is not None:
        text += f" ({_cell_percent(progress.target_fraction)})"
    return text


def text_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Plain-text columns for the text part of an email.

    Each column's width read once over the column, and each line written by one format of
    left-aligned fields (``ljust``'s padding): a thousand emails of fifty lines each."""
    widths = [max(map(len, cells)) for cells in zip(columns, *rows, strict=True)]
    line = "  ".join(f"{{:<{w}}}" if w else "{}" for w in widths)
    lines = [line.format(*columns).rstrip(), "  ".join("-" * w for w in widths)]
    lines += [line.format(*row).rstrip() for row in rows]
    return "\n".join(lines)


# --- Printing and rendering -----------------------------------------------------------------------


def summary_title(summary: MonthlySummary) -> str:
    who = f" – {summary.buyer_name}" if summary.buyer_name else ""
    return f"Synthèse mensuelle des clauses sociales – {french_month(summary.month)}{who}"


def compiled_phrase(summary: MonthlySummary) -> str | None:
    """When the figures were taken: declarations recorded after that are not in them."""
    if summary.compiled_at is None:
        return None
    local = summary.compiled_at.astimezone(summary.zone)
    return f"Chiffres arrêtés le {french_date(local.date())} à {french_time(local)}."


def headline(summary: MonthlySummary) -> str:
    """The figure lines in one paragraph (the HTML report's first lines)."""
    return " ; ".join(f"{label} : {value}" for label, value in figure_lines(summary)) + "."


#: Rows above which the CLI prints a table as plain columns rather than a rich table: rich
#: measures and folds every cell, 12 s for the 7,500 clauses of 10^4 lots (the spreadsheet,
#: ``--format xlsx``, is the way to read such a table).
RICH_ROWS = 500


#: Lines of a long table written at once: enough to keep the writes few, few enough that a
#: table of 10^5 lots is never one string of 20 MB.
PLAIN_CHUNK = 2_000
_CELL = "\x1f"  # between a row's cells while its widths are measured: no formatted cell holds it


def _print_plain(console: Console, table: Table, shown: list[tuple[Any, ...]]) -> None:
    """A long table as plain columns, figures aligned right: the same cells as the rich one.

    Each row is formatted once and kept as one string until the columns' widths are known:
    a list of ten strings per row of 10^5 lots weighed 75 MB more than the summary itself."""
    widths = [len(c.title) for c in table.columns]
    rows: list[str] = []
    for row in shown:
        cells = [format_cell(v, c.kind) for v, c in zip(row, table.columns, strict=True)]
        for i, cell in enumerate(cells):
            if len(cell) > widths[i]:
                widths[i] = len(cell)
        rows.append(_CELL.join(cells))

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.ljust(width) if column.is_label else cell.rjust(width)
            for cell, width, column in zip(cells, widths, table.columns, strict=True)
        ).rstrip()

    console.print(Text(table.title, style="italic"))
    console.print(Text(line([c.title for c in table.columns]), style="bold"), soft_wrap=True)
    console.print("  ".join("─" * w for w in widths), soft_wrap=True, highlight=False)
    # Thousands of lines of plain text: written as they are, rich has nothing to lay out.
    for start in range(0, len(rows), PLAIN_CHUNK):
        chunk = rows[start : start + PLAIN_CHUNK]
        console.out("\n".join(line(r.split(_CELL)) for r in chunk), highlight=False)


def print_summary(console: Console, summary: MonthlySummary) -> None:
    """The summary as rich tables, as the CLI prints it."""
    console.print(Text(summary_title(summary), style="bold"))
    stamp = compiled_phrase(summary)
    if stamp:
        console.print(Text(stamp))
    for label, value in figure_lines(summary):
        # Text, not markup: a company named "[bold]" is printed as it is.
        console.print(Text(f"- {label}\u00a0: {value}"), soft_wrap=True)
    for table in build_tables(summary):
        shown = table.shown_rows()
        if len(shown) > RICH_ROWS:
            _print_plain(console, table, shown)
            continue
        rich = RichTable(title=table.title, title_justify="left", header_style="bold")
        for column in table.columns:
            # Never an ellipsis: a label too long for the screen folds onto the next line, a
            # figure ("271,67 h", "12 / 500 h") is never split.
            if column.is_label:
                rich.add_column(column.title, justify="left", overflow="fold")
            else:
                rich.add_column(column.title, justify="right", no_wrap=True)
        for row in shown:
            rich.add_row(
                *(Text(format_cell(v, c.kind)) for v, c in zip(row, table.columns, strict=True))
            )
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


@lru_cache(maxsize=8192, typed=True)
def _csv_number(value: Any, kind: ColumnKind) -> str:
    """A figure as French Excel reads a number: decimal comma, no thousands separator.

    Percentages are written as numbers of percent (37,67 for 0.3767), labelled "%" in the unit
    column: a fraction would read as 0,3767 in a French spreadsheet.

    The last results kept (the same hours and counts come back on thousands of lines): equal
    values of one type give the same text (``normalize`` and ``quantize`` ignore the exponent),
    and ``typed`` keeps 1, 1.0 and True apart.
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


def _csv_value(value: Any, kind: ColumnKind) -> str:
    """A number as a number; a word (the pace) as text no spreadsheet evaluates."""
    if isinstance(value, (int, Decimal)) or value is None:
        return _csv_number(value, kind)
    return csv_text(str(value))


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
                    # Names typed by people (a buyer, a company, a lot) go through csv_text: an
                    # organisation called "=HYPERLINK(...)" stays text in the spreadsheet.
                    writer.writerow(
                        [
                            csv_text(table.title),
                            csv_text(label),
                            csv_text(column.title),
                            _csv_value(value, column.kind),
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
        sheet.append(xlsx_row(sheet, [c.title for c in table.columns]))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        shown = table.shown_rows()
        for row in shown:
            # Text through xlsx_row: a name starting with "=" is a text cell, never a formula.
            sheet.append(xlsx_row(sheet, [_xlsx_value(v) for v in row]))
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
    """An inline SVG bar chart of the hours of the last months (titles give the exact figure on
    hover). Drawn in a ``width`` x ``height`` viewBox and scaled to the page: at most its own
    width, never wider than its container (a 600 px message or a phone)."""
    months = summary.chart_months
    top, bottom, left = 24, 40, 8
    plot = height - top - bottom
    peak = max((m.hours for m in months), default=Decimal(0)) or Decimal(1)
    slot = (width - 2 * left) / max(1, len(months))
    bar = slot * 0.7
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" style="display:block;width:100%;max-width:{width}px;height:auto" '
        'preserveAspectRatio="xMinYMin meet" role="img" aria-label="Heures réalisées par mois">',
        f'<line x1="{left}" y1="{top + plot}" x2="{width - left}" y2="{top + plot}" '
        'stroke="#9aa5b1" stroke-width="1"/>',
    ]
    for index, month in enumerate(months):
        h = float(month.hours / peak) * plot
        x = left + index * slot + (slot - bar) / 2
        y = top + plot - h
        label = escape(french_month(month.month))
        value = escape(_cell_hours(month.hours))
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="#000091">'
            f"<title>{label} : {value}</title></rect>"
        )
        center = x + bar / 2
        parts.append(
            f'<text x="{center:.1f}" y="{y - 4:.1f}" font-size="10" text-anchor="middle" '
            f'fill="#1f2933">{escape(_number(month.hours))}</text>'
        )
        short = escape(french_date(month.month, "MMM yy"))
        parts.append(
            f'<text x="{center:.1f}" y="{top + plot + 16:.1f}" font-size="10" '
            f'text-anchor="middle" fill="#52606d">{short}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


#: The report's page: tables as wide as the page; below 700 px each row becomes a block of
#: "column : value" lines (the column title comes from ``data-label``), so that nothing is wider
#: than a 600 px window.
HTML_STYLE = """
body { font-family: Arial, Helvetica, sans-serif; color: #1f2933; margin: 0; }
main { max-width: 1100px; margin: 0 auto; padding: 16px; }
h1 { font-size: 22px; color: #000091; } h2 { font-size: 17px; color: #000091; margin-top: 28px; }
table { border-collapse: collapse; margin: 8px 0 16px 0; width: 100%; }
th { text-align: left; font-size: 13px; color: #52606d; border-bottom: 1px solid #d9dee3;
     padding: 6px 8px; }
td { font-size: 14px; border-bottom: 1px solid #eef1f4; padding: 6px 8px;
     overflow-wrap: anywhere; }
td.num { text-align: right; white-space: nowrap; }
ul.figures { padding-left: 20px; } ul.figures li { margin: 4px 0; line-height: 1.4; }
.muted { color: #52606d; font-size: 13px; }
@media (max-width: 700px) {
  table, tbody, tr, td { display: block; width: auto; }
  thead { display: none; }
  tr { border-bottom: 1px solid #d9dee3; padding: 6px 0; }
  td, td.num { border: none; padding: 2px 0; text-align: left; white-space: normal; }
  td[data-label]::before { content: attr(data-label) " : "; color: #52606d; font-size: 13px; }
}
"""


def _html(summary: MonthlySummary) -> bytes:
    title = escape(summary_title(summary))
    items = "".join(
        f"<li><strong>{escape(label)}</strong>\u00a0: {escape(value)}</li>"
        for label, value in figure_lines(summary)
    )
    body = [
        f"<h1>{title}</h1>",
        f'<ul class="figures">{items}</ul>',
        f"<h2>Heures réalisées par mois ({CHART_MONTHS} derniers mois)</h2>",
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
                f'<td{"" if c.is_label else " class=num"} data-label="{escape(c.title)}">'
                f"{escape(format_cell(v, c.kind))}</td>"
                for v, c in zip(row, table.columns, strict=True)
            )
            rows.append(f"<tr>{cells}</tr>")
        body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")
    stamp = compiled_phrase(summary)
    if stamp:
        body.append(f'<p class="muted">{escape(stamp)}</p>')
    page = (
        '<!DOCTYPE html>\n<html lang="fr">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n<style>{HTML_STYLE}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(body)
        + "\n</main>\n</body>\n</html>\n"
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
