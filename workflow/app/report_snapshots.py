"""The dashboard's reports (``/bilans``) kept as compiled: a dated snapshot per report.

A month's summary or a year's report, for the territory or one buyer, is compiled once
(``report_files.compile_summary`` / ``compile_annual``: the code of the emails and of the
commands) into the page's view and its CSV and XLSX files, and kept (``report_snapshots``
table). The page and the downloads then read the snapshot: fast, and always the same compile, so
a file downloaded says what the page says. The page tells when the figures were computed, and
whether something was recorded since (``services.report_snapshots.data_marks``); « Recalculer
maintenant » compiles again and replaces the snapshot. With no snapshot yet, the first view (or
download) compiles and keeps one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from workflow.adapters.templates import french_date
from workflow.app import report_files
from workflow.app.lookup import find_buyer
from workflow.app.report_files import (
    AnnualView,
    BuyerChoice,
    CompiledReport,
    FileFormat,
    ReportFile,
    SummaryView,
)
from workflow.app.unit import reading, unit_of_work
from workflow.bootstrap import App
from workflow.domain.summary import latest_due_month
from workflow.services import report_snapshots as snapshots
from workflow.services.report_snapshots import SnapshotKey
from workflow.services.summaries import summary_timing


@dataclass(frozen=True)
class Freshness:
    """When the figures shown were computed, for whom, and whether the data moved since."""

    compiled_at: datetime
    compiled_by: str
    changed_since: bool
    phrase: str  # « Chiffres calculés le 3 décembre 2026 à 10 h 12 »


@dataclass(frozen=True)
class Recomputed:
    """What « Recalculer maintenant » found: whether a figure of the report moved since the
    computation it replaced (``None``: none was kept)."""

    changed: bool | None

    @property
    def code(self) -> str:
        """The page's confirmation, carried in its address (``recalcul=…``)."""
        return {None: "nouveau", True: "change", False: "identique"}[self.changed]


#: The confirmation of each ``Recomputed.code``, as the report page says it.
RECOMPUTED_PHRASES = {
    "nouveau": "Chiffres calculés à l'instant.",
    "change": "Chiffres recalculés à l'instant\u00a0: des chiffres ont changé depuis le calcul "
    "précédent.",
    "identique": "Chiffres recalculés à l'instant\u00a0: aucun chiffre n'a changé depuis le "
    "calcul précédent.",
}


@dataclass(frozen=True)
class SummaryPage:
    view: SummaryView
    freshness: Freshness
    months: tuple[date, ...]  # to choose from, the most recent first
    default_month: date
    buyers: tuple[BuyerChoice, ...]


@dataclass(frozen=True)
class AnnualPage:
    view: AnnualView
    freshness: Freshness
    years: tuple[int, ...]  # to choose from, the most recent first
    default_year: int
    current_year: int
    buyers: tuple[BuyerChoice, ...]


def computed_phrase(app: App, moment: datetime) -> str:
    """« Chiffres calculés le 3 décembre 2026 à 10 h 12 », in the service's time zone."""
    local = moment.astimezone(app.settings.zone)
    return (
        f"Chiffres calculés le {french_date(local.date())} à "
        f"{local.hour}\u00a0h\u00a0{local.minute:02d}"
    )


def _summary_key(month: date, buyer_id: int | None) -> SnapshotKey:
    return SnapshotKey.of("summary", f"{month:%Y-%m}", buyer_id)


def _annual_key(year: int, buyer_id: int | None) -> SnapshotKey:
    return SnapshotKey.of("annual", f"{year:04d}", buyer_id)


def _refresh(
    app: App, key: SnapshotKey, compile: Callable[[], CompiledReport], actor: str
) -> tuple[CompiledReport, str]:
    """Compile, then keep: the marks are read before the compile, so a change recorded while
    it runs is told as a change (the figures may hold it already: a recompute then shows the
    same), never missed."""
    with reading(app) as session:
        marks = snapshots.data_marks(session)
    compiled = compile()
    with unit_of_work(app, actor) as unit:
        snapshots.store(
            unit.session,
            key,
            compiled_at=compiled.compiled_at,
            compiled_by=unit.actor,
            marks=marks,
            view=compiled.view_json(),
            csv=compiled.csv,
            xlsx=compiled.xlsx,
        )
    return compiled, unit.actor


@dataclass(frozen=True)
class _Read:
    key: SnapshotKey
    stored: snapshots.StoredView | None
    changed: bool
    buyers: tuple[BuyerChoice, ...]


def _read(app: App, key_of: Callable[[int | None], SnapshotKey], buyer: int | None) -> _Read:
    """The buyer named (refused when there is none), the snapshot's view and whether the data
    moved since it, the buyers to choose from: one reading transaction."""
    with reading(app) as session:
        buyer_id = None if buyer is None else find_buyer(session, buyer).id
        key = key_of(buyer_id)
        stored = snapshots.read_view(session, key)
        changed = stored is not None and snapshots.data_marks(session) != stored.marks
        buyers = tuple(BuyerChoice(b.id, b.name) for b in snapshots.buyer_names(session))
    return _Read(key, stored, changed, buyers)


def _freshness(app: App, compiled_at: datetime, by: str, changed: bool) -> Freshness:
    return Freshness(compiled_at, by, changed, computed_phrase(app, compiled_at))


def _buyer_of(key: SnapshotKey) -> int | None:
    return None if key.scope == snapshots.EVERY_BUYER else key.scope


# --- The monthly summary --------------------------------------------------------------------------


def default_month(app: App, now: datetime | None = None) -> date:
    """The month of the last summary that left: the page's month when none is chosen."""
    return latest_due_month(now or app.clock(), summary_timing(app.settings))


def summary_page(
    app: App, month: date | None = None, *, buyer: int | None = None, actor: str | None = None
) -> SummaryPage:
    """The summary of ``month`` (by default the last one that left) as last computed, with the
    months and buyers to choose from; computed now (and kept) when it never was."""
    now = app.clock()
    chosen = month or default_month(app, now)
    read = _read(app, lambda b: _summary_key(chosen, b), buyer)
    if read.stored is None:
        compiled, by = recompute_summary_key(app, read.key, actor)
        view, freshness = compiled.view, _freshness(app, compiled.compiled_at, by, False)
    else:
        stored = read.stored
        view = report_files.view_from_json(stored.view)
        freshness = _freshness(app, stored.compiled_at, stored.compiled_by, read.changed)
    assert isinstance(view, SummaryView)
    months, default = report_files.summary_months(now, chosen, app)
    return SummaryPage(view, freshness, months, default, read.buyers)


def recompute_summary_key(
    app: App, key: SnapshotKey, actor: str | None
) -> tuple[CompiledReport, str]:
    month = date.fromisoformat(f"{key.period}-01")
    buyer_id = _buyer_of(key)
    return _refresh(
        app,
        key,
        lambda: report_files.compile_summary(app, month, buyer_id=buyer_id),
        actor or "",
    )


def recompute_summary(
    app: App, month: date, *, buyer: int | None = None, actor: str | None = None
) -> Recomputed:
    """Compile the summary of ``month`` again and keep it in place of the one kept."""
    read = _read(app, lambda b: _summary_key(month, b), buyer)
    compiled, _ = recompute_summary_key(app, read.key, actor)
    return _compared(read, compiled)


def _compared(read: _Read, compiled: CompiledReport) -> Recomputed:
    """The figures as the page shows them (the view), before and after: the compile time is
    not in the view, so equal views mean no figure moved."""
    if read.stored is None:
        return Recomputed(None)
    return Recomputed(read.stored.view != compiled.view_json())


def summary_file(
    app: App,
    month: date,
    fmt: FileFormat,
    *,
    buyer: int | None = None,
    actor: str | None = None,
) -> ReportFile:
    """The file of the summary the page shows (the same compile), as ``clauses summary --format
    csv|xlsx`` wrote it then; compiled now (and kept) when it never was."""
    return _file(
        app,
        fmt,
        buyer,
        lambda b: _summary_key(month, b),
        lambda key: recompute_summary_key(app, key, actor)[0],
        lambda b: report_files.summary_stem(month, b),
    )


def _file(
    app: App,
    fmt: FileFormat,
    buyer: int | None,
    key_of: Callable[[int | None], SnapshotKey],
    compile: Callable[[SnapshotKey], CompiledReport],
    stem_of: Callable[[int | None], str],
) -> ReportFile:
    with reading(app) as session:
        buyer_id = None if buyer is None else find_buyer(session, buyer).id
        key = key_of(buyer_id)
        content = snapshots.read_file(session, key, fmt)
    if content is None:
        compiled = compile(key)
        content = compiled.csv if fmt == "csv" else compiled.xlsx
    return ReportFile(f"{stem_of(buyer_id)}.{fmt}", report_files.MEDIA_TYPES[fmt], content)


# --- The annual report ----------------------------------------------------------------------------


def default_year(app: App, now: datetime | None = None) -> int:
    """Last year, in the service's time zone: the page's year when none is chosen."""
    return (now or app.clock()).astimezone(app.settings.zone).year - 1


def annual_page(
    app: App, year: int | None = None, *, buyer: int | None = None, actor: str | None = None
) -> AnnualPage:
    """The funders' report of ``year`` (by default last year) as last computed, with the years
    and buyers to choose from; computed now (and kept) when it never was."""
    now = app.clock()
    chosen = default_year(app, now) if year is None else year
    read = _read(app, lambda b: _annual_key(chosen, b), buyer)
    if read.stored is None:
        compiled, by = recompute_annual_key(app, read.key, actor)
        view, freshness = compiled.view, _freshness(app, compiled.compiled_at, by, False)
    else:
        stored = read.stored
        view = report_files.view_from_json(stored.view)
        freshness = _freshness(app, stored.compiled_at, stored.compiled_by, read.changed)
    assert isinstance(view, AnnualView)
    years, default, current = report_files.annual_years(now, chosen, app)
    return AnnualPage(view, freshness, years, default, current, read.buyers)


def recompute_annual_key(
    app: App, key: SnapshotKey, actor: str | None
) -> tuple[CompiledReport, str]:
    year = int(key.period)
    buyer_id = _buyer_of(key)
    return _refresh(
        app,
        key,
        lambda: report_files.compile_annual(app, year, buyer_id=buyer_id),
        actor or "",
    )


def recompute_annual(
    app: App, year: int, *, buyer: int | None = None, actor: str | None = None
) -> Recomputed:
    """Compile the report of ``year`` again and keep it in place of the one kept."""
    read = _read(app, lambda b: _annual_key(year, b), buyer)
    compiled, _ = recompute_annual_key(app, read.key, actor)
    return _compared(read, compiled)


def annual_file(
    app: App, year: int, fmt: FileFormat, *, buyer: int | None = None, actor: str | None = None
) -> ReportFile:
    """The file of the report the page shows (the same compile), as ``clauses report annual
    --format csv|xlsx`` wrote it then; compiled now (and kept) when it never was."""
    return _file(
        app,
        fmt,
        buyer,
        lambda b: _annual_key(year, b),
        lambda key: recompute_annual_key(app, key, actor)[0],
        lambda b: report_files.annual_stem(year, b),
    )
