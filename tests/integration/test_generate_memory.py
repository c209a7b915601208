"""``bench/generate.py`` streams: its memory does not grow with the territory (issue 12).

At 10^5 lots the generator peaked at 294 MB, over the 250 MB every benchmark must stay under: the
reference rows (5×10^4 companies, 6×10^4 participants…) came in one batch, and an object per lot
and per company was held for the whole load. The rows are now handed over in bounded batches and
what the lots need of the reference rows is kept as small numbers. Measured here in this process,
on the rows ``generate`` writes (``SearchTexts`` included), without a database.
"""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from bench import territory as territory_module
from bench.generate import DEFAULT_AS_OF, SearchTexts, parse_as_of
from bench.territory import Territory
from workflow.settings import load_settings

REFERENCE = ("buyers", "buyer_contacts", "operations", "markets", "companies", "participants")


def territory(lots: int) -> Territory:
    settings = load_settings(database_url="sqlite://")
    return Territory(lots, 1, settings, parse_as_of(DEFAULT_AS_OF, settings.zone))


def kept_after_load(lots: int) -> int:
    """Bytes still held once every batch of ``lots`` lots went through, batches dropped as the
    generator drops them once written."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        land = territory(lots)
        texts = SearchTexts()
        for _done, batch in land.batches():
            texts.add(batch)
            del batch
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
        del land, texts
        return kept
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_what_is_kept_for_the_lots_is_a_few_numbers_per_lot() -> None:
    kept_after_load(200)  # the caches of the process (locale data, calendars) filled first
    small, large = kept_after_load(500), kept_after_load(2500)
    per_lot = (large - small) / 2000
    # Two ids per lot, a few per company, a market's reference: about 70 bytes. An object per
    # lot and per company (names, addresses) was about 440.
    assert per_lot < 150, f"{per_lot:.0f} octets gardés par lot"


def test_no_batch_holds_a_whole_reference_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(territory_module, "REFERENCE_ROWS", 100)
    monkeypatch.setattr(territory_module, "LOTS_PER_BATCH", 50)
    land = territory(600)
    written = dict.fromkeys(territory_module.TABLES, 0)
    lots_done = 0
    for done, batch in land.batches():
        for table in REFERENCE:
            # A batch ends once its table reached the bound: an operation's markets (up to four)
            # may overshoot it.
            assert len(batch[table]) < 100 + 4, (table, len(batch[table]))
        assert len(batch["clauses"]) == done - lots_done <= 50
        lots_done = max(lots_done, done)
        for table, rows in batch.items():
            written[table] += len(rows)
    # Everything still comes: 300 companies, 360 participants, every lot.
    assert written["companies"] == 300
    assert written["participants"] == 360
    assert written["clauses"] == 600
