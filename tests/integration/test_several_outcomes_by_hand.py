"""The benchmark's hand-written summary queries (``bench/bench_summaries.py``) rank each
participant x clause's outcomes with a window (``row_number()``), where the service asks for no
later outcome (``outcome_counts.latest_up_to``, a ``NOT EXISTS``): on a lot where people have
several outcomes, on the same day too, both give every figure of each month alike, on SQLite and
PostgreSQL.
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from bench.bench_summaries import Moment, baseline, compare, from_baseline, from_summaries
from tests.integration.test_several_outcomes import LATER, add_outcome, careers, sample
from workflow.bootstrap import App
from workflow.domain.outcomes import OutcomeType
from workflow.services.summaries import compile_month

__all__ = ["sample"]  # the fixture, used by name
PARIS = ZoneInfo("Europe/Paris")


def test_the_summaries_count_the_latest_outcomes_as_the_queries_written_by_hand(
    sample: App,
) -> None:
    careers(sample)
    add_outcome(sample, "P-0007", OutcomeType.JOBSEEKER, date(2027, 6, 1))
    add_outcome(sample, "P-0007", OutcomeType.SHORT_CDD, date(2027, 6, 1))  # recorded after

    for month in (date(2027, m, 1) for m in (3, 4, 5, 6, 9)):
        with sample.transaction() as session:
            batch = compile_month(
                session, month, now=LATER, zone=PARIS, outcome_groups=sample.settings.outcome_groups
            )
        outcomes = batch.summary.overall.outcomes_by_type
        assert sum(c.cumulated for c in outcomes) == 2, month  # two people, once each
        moment = Moment(month, LATER, PARIS)
        with sample.engine.connect() as connection:
            raw = baseline(connection, moment)
            connection.rollback()
        assert compare(from_summaries(batch), from_baseline(raw, moment)) == [], month
