"""Build a synthetic territory for the benchmarks: bulk-loaded, reproducible, accepted by the service.

    .venv/bin/python bench/generate.py --lots 100000 --seed 1 \\
        --database-url postgresql://postgres@127.0.0.1:5432/bench

The schema is made by the project's own migrations (what ``clauses init`` runs), then the rows of
``bench.territory`` are written batch by batch as they are made (``COPY`` on PostgreSQL,
``executemany`` on SQLite) with a progress bar. The database must be empty of lots: a territory is
never merged into another. The same ``--lots``, ``--seed`` and ``--as-of`` give the same rows.

``--as-of`` is the territory's « now »: its year ends there, and nothing is due at that instant
(``bench/bench_idle_pass.py`` passes there). The default is a fixed instant, never the clock, so
that two runs agree.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

if __package__ in (
    None,
    "",
):  # run as a script: the checkout's root holds ``bench`` and ``workflow``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine, text

from bench.bulk_load import Row, writer_for
from bench.territory import COLUMNS, TABLES, Territory
from workflow.adapters.db import make_engine, safe_url, upgrade
from workflow.adapters.search_text import FIELDS, lot_fields, search_text
from workflow.settings import load_settings

#: A Friday morning of late November: October's ladders are between reminders and alerts.
DEFAULT_AS_OF = "2026-11-20T10:30"


def parse_as_of(value: str, zone: ZoneInfo) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def refuse_non_empty(engine: Engine) -> None:
    with engine.connect() as connection:
        if connection.execute(text("SELECT 1 FROM clauses LIMIT 1")).first() is not None:
            raise SystemExit(
                f"La base {safe_url(str(engine.url))} contient déjà des clauses : un territoire "
                "se charge dans une base vide (supprimez-la ou donnez-en une autre)."
            )


#: The tables whose rows carry a ``search_text`` (the service's mapper events write it; rows
#: loaded in bulk get it here, from the same fields and the same normalisation).
SEARCHED = {model.__tablename__: FIELDS[model] for model in FIELDS}
LOTS = "clauses"
SEARCH_COLUMNS = {
    table: (*names, "search_text") if table in SEARCHED or table == LOTS else names
    for table, names in COLUMNS.items()
}


class SearchTexts:
    """Adds each searched row's ``search_text``; remembers the markets' references, which their
    lots' texts hold (a market comes in the batch of its first lot, or an earlier one)."""

    def __init__(self) -> None:
        self.references: dict[int, str] = {}

    def add(self, batch: dict[str, list[Row]]) -> dict[str, list[Row]]:
        markets = COLUMNS["markets"]
        for row in batch.get("markets", ()):
            fields = dict(zip(markets, row, strict=True))
            self.references[fields["id"]] = fields["reference"]
        return {table: self._rows(table, rows) for table, rows in batch.items()}

    def _rows(self, table: str, rows: list[Row]) -> list[Row]:
        names = COLUMNS[table]
        if table == LOTS:
            return [(*row, self._lot_text(dict(zip(names, row, strict=True)))) for row in rows]
        fields = SEARCHED.get(table)
        if fields is None:
            return rows
        return [
            (*row, search_text(*fields(SimpleNamespace(**dict(zip(names, row, strict=True))))))
            for row in rows
        ]

    def _lot_text(self, lot: dict[str, Any]) -> str:
        reference = self.references[lot["market_id"]]
        return search_text(
            *lot_fields(reference, lot["lot_number"], lot["lot_title"], lot["trade"])
        )


@dataclass
class Load:
    """What a load wrote and where its time went (wall seconds; CPU of this process)."""

    rows: dict[str, int] = field(default_factory=dict)
    generating: float = 0.0  # building the rows (this process's CPU, all of it)
    writing: float = 0.0  # handing them to the database
    finishing: float = 0.0  # indexes and constraints put back, sequences, statistics
    cpu: float = 0.0

    @property
    def total(self) -> float:
        return self.generating + self.writing + self.finishing


def generate(
    lots: int,
    seed: int,
    database_url: str,
    as_of: str = DEFAULT_AS_OF,
    *,
    console: Console | None = None,
) -> Load:
    """Create the schema, load the territory; the rows written, by table, and the times."""
    settings = load_settings(database_url=database_url)
    moment = parse_as_of(as_of, settings.zone)
    engine = make_engine(settings.database_url)
    load = Load(rows=dict.fromkeys(TABLES, 0))
    cpu = time.process_time()
    try:
        upgrade(engine)
        refuse_non_empty(engine)
        territory = Territory(lots, seed, settings, moment)
        writer = writer_for(engine, TABLES)
        try:
            with Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console or Console(stderr=True),
                transient=False,
            ) as progress:
                task = progress.add_task("Lots chargés", total=lots)
                batches = territory.batches()
                texts = SearchTexts()
                while True:
                    started = time.perf_counter()
                    found = next(batches, None)
                    load.generating += time.perf_counter() - started
                    if found is None:
                        break
                    done, batch = found
                    # No name may keep a batch once written: it would stay alive while the
                    # next one is built, two batches at the peak instead of one.
                    del found
                    started = time.perf_counter()
                    batch = texts.add(batch)
                    load.generating += time.perf_counter() - started
                    started = time.perf_counter()
                    writer.write(batch, SEARCH_COLUMNS)
                    load.writing += time.perf_counter() - started
                    for table, rows in batch.items():
                        load.rows[table] += len(rows)
                    del batch
                    progress.update(task, completed=done)
                finishing = progress.add_task("Index, contraintes et statistiques", total=1)
                started = time.perf_counter()
                writer.finish(TABLES)
                load.finishing = time.perf_counter() - started
                progress.update(finishing, completed=1)
        finally:
            writer.close()
    finally:
        engine.dispose()
    load.cpu = time.process_time() - cpu
    return load


def _number(value: float) -> str:
    return f"{value:,.0f}".replace(",", "\u202f")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Charge un territoire synthétique reproductible (bancs d'essai)."
    )
    parser.add_argument("--lots", type=int, required=True, help="nombre de lots (clauses)")
    parser.add_argument("--seed", type=int, default=1, help="graine : même graine, mêmes lignes")
    parser.add_argument("--database-url", required=True, help="base vide (SQLite ou PostgreSQL)")
    parser.add_argument(
        "--as-of",
        default=DEFAULT_AS_OF,
        help=f"« maintenant » du territoire, ISO 8601, heure locale sans fuseau (défaut {DEFAULT_AS_OF})",
    )
    args = parser.parse_args(argv)
    if args.lots < 1:
        parser.error("--lots : au moins 1")
    console = Console(stderr=True)
    load = generate(args.lots, args.seed, args.database_url, args.as_of, console=console)
    for table, count in load.rows.items():
        print(f"{table:<22} {_number(count):>12}")
    total = sum(load.rows.values())
    print(
        f"{'en tout':<22} {_number(total):>12} lignes en {load.total:.1f} s "
        f"({_number(total / load.total)} lignes/s)"
    )
    print(
        f"  construire les lignes {load.generating:.1f} s, les écrire {load.writing:.1f} s, "
        f"index, contraintes et statistiques {load.finishing:.1f} s ; "
        f"processeur de ce processus {load.cpu:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
