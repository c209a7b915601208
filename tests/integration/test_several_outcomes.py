"""Several dated outcomes of one participant on one clause (a short training in March 2027, then
a CDI in September 2027): in any period each participant x clause counts once, by its latest
outcome dated in that period (``outcome_counts.latest_up_to``), on SQLite and PostgreSQL.

- The annual report of 2027 counts the person once, as CDI (« Emploi durable »), not as CDI and
  short training; the report of 2026 still counts a 2026 outcome superseded in 2027.
- The monthly summary of April 2027 counts the short training (cumulated), September's the CDI
  (in the month and cumulated), once; the cumulated figures count each pair by its latest
  outcome up to the month's end.
- Everywhere: total = sum of the groups = sum of the types, never more than the pairs.
- ``clauses audit verify`` still agrees with what was sent: the April summary sent with the
  training, checked after the CDI (dated after April's end) is recorded.

The second outcome of a pair goes straight into the table (the recording side is another
change): these tests read the figures only.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration.test_declarations import ids, start_sample
from tests.integration.test_outcomes_audit_and_cancel import declare
from tests.integration.test_summary_truth import text_tables
from workflow.adapters.orm import Buyer, Clause, Market, Operation, OutboxMessage, Outcome
from workflow.adapters.orm import Participant as ParticipantRow
from workflow.app.audit import verify_database
from workflow.bootstrap import App
from workflow.domain.annual_report import AnnualReport
from workflow.domain.monthly_summary import Figures
from workflow.domain.outcomes import OutcomeType
from workflow.domain.summary import summary_due_at
from workflow.services.annual_report import compile_annual_report
from workflow.services.summaries import compile_summary, queue_monthly_summaries, summary_timing
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

NOVEMBER_5 = datetime(2026, 11, 5, 9, 0, tzinfo=UTC)
LATER = datetime(2028, 1, 20, 9, 0, tzinfo=UTC)  # every figure below compiled once all is known
MARCH, APRIL, MAY, SEPTEMBER = (date(2027, m, 1) for m in (3, 4, 5, 9))

SHORT_TRAINING = OutcomeType.SHORT_TRAINING.label  # « Formation courte (non qualifiante) »
QUALIFYING = OutcomeType.QUALIFYING_TRAINING.label
SHORT_CDD = OutcomeType.SHORT_CDD.label
CDI = OutcomeType.CDI.label


@pytest.fixture
def sample(app: App, settings: Settings, clock: Clock, tmp_path: Path) -> App:
    """The sample territory, lot 01 of the middle school: October 2026 declared with P-0007
    and P-0012 (the hours their outcomes count by)."""
    handlers, app.handlers = app.handlers, {}
    start_sample(app)
    app.handlers = handlers
    declare(settings, clock, tmp_path, NOVEMBER_5, "10/2026", P_0007="151,67", P_0012="98,5")
    return app


def add_outcome(app: App, reference: str, kind: OutcomeType, on: date) -> None:
    """One more outcome of ``reference`` on lot 01, written as a row."""
    clause_id = ids(app)[0]
    with app.transaction() as session:
        person = session.scalars(
            select(ParticipantRow.id).where(ParticipantRow.reference == reference)
        ).one()
        session.add(
            Outcome(
                participant_id=person,
                clause_id=clause_id,
                group=kind.group.value,
                type=kind.value,
                date=on,
            )
        )


def careers(app: App) -> None:
    """P-0007: short training on 15 March 2027, CDI on 20 September 2027. P-0012: qualifying
    training on 16 November 2026, CDD of 3 months on 10 May 2027."""
    add_outcome(app, "P-0007", OutcomeType.SHORT_TRAINING, date(2027, 3, 15))
    add_outcome(app, "P-0012", OutcomeType.QUALIFYING_TRAINING, date(2026, 11, 16))
    add_outcome(app, "P-0012", OutcomeType.SHORT_CDD, date(2027, 5, 10))
    add_outcome(app, "P-0007", OutcomeType.CDI, date(2027, 9, 20))


def buyer_of_lot(app: App) -> int:
    clause_id = ids(app)[0]
    with app.transaction() as session:
        return session.scalars(
            select(Buyer.id)
            .join(Operation, Operation.buyer_id == Buyer.id)
            .join(Market, Market.operation_id == Operation.id)
            .join(Clause, Clause.market_id == Market.id)
            .where(Clause.id == clause_id)
        ).one()


# --- the annual report ----------------------------------------------------------------------------


def annual(app: App, year: int, buyer_id: int | None = None) -> AnnualReport:
    with app.transaction() as session:
        return compile_annual_report(
            session, year, buyer_id=buyer_id, groups=app.settings.outcome_groups, now=LATER,
            zone=app.settings.zone,
        )  # fmt: skip


def annual_outcomes(report: AnnualReport) -> tuple[int, dict[str, int], dict[str, int]]:
    """(total, {type: count}, {group: count}) as the report prints them, with the parts
    adding up to the total."""
    by_type = {line.label: line.count for line in report.outcomes_by_type if line.count}
    by_group = {str(line.label): int(line.value) for line in report.outcomes_by_group if line.value}
    assert sum(by_type.values()) == sum(by_group.values()) == report.outcomes
    return report.outcomes, by_type, by_group


def test_the_annual_report_counts_each_person_once_by_the_latest_outcome_of_its_year(
    sample: App,
) -> None:
    careers(sample)

    for buyer in (None, buyer_of_lot(sample)):
        report = annual(sample, 2027, buyer)
        # P-0007 is a CDI in 2027, not a CDI and a short training; P-0012 a short CDD.
        assert annual_outcomes(report) == (
            2,
            {CDI: 1, SHORT_CDD: 1},
            {"Emploi durable": 1, "Emploi de transition": 1},
        )
        assert "1 CDI, 1 CDD de moins de 6 mois" in report.headline
        assert "formation" not in report.headline
        # 2026 keeps P-0012's qualifying training: a 2027 outcome never changes 2026's figures.
        assert annual_outcomes(annual(sample, 2026, buyer)) == (
            1,
            {QUALIFYING: 1},
            {"Sortie positive": 1},
        )


def test_two_outcomes_on_the_same_day_count_once_by_the_last_recorded(sample: App) -> None:
    add_outcome(sample, "P-0007", OutcomeType.SHORT_TRAINING, date(2027, 6, 1))
    add_outcome(sample, "P-0007", OutcomeType.CDI, date(2027, 6, 1))

    assert annual_outcomes(annual(sample, 2027)) == (1, {CDI: 1}, {"Emploi durable": 1})
    assert outcome_tables(summary_figures(sample, date(2027, 6, 1))) == (
        {CDI: (1, 1)},
        {"Emploi durable": (1, 1)},
    )


# --- the monthly summaries ------------------------------------------------------------------------


def summary_figures(app: App, month: date, buyer_id: int | None = None) -> Figures:
    with app.transaction() as session:
        return compile_summary(
            session, month, buyer_id=buyer_id, now=LATER, zone=app.settings.zone,
            outcome_groups=app.settings.outcome_groups,
        ).overall  # fmt: skip


def outcome_tables(
    figures: Figures,
) -> tuple[dict[str, tuple[int, int]], dict[str, tuple[int, int]]]:
    """« Sorties par type » and « Sorties par groupe », {label: (month, cumulated)} without the
    zero rows; both tables add up to the same totals."""
    by_type = {c.label: (c.month, c.cumulated) for c in figures.outcomes_by_type if c.cumulated}
    by_group = {str(c.label): (int(c.month), int(c.cumulated)) for c in figures.outcomes_by_group}
    by_group = {label: counts for label, counts in by_group.items() if counts[1]}
    assert totals(by_type.values()) == totals(by_group.values())
    return by_type, by_group


def totals(counts: Iterable[tuple[int, int]]) -> tuple[int, int]:
    listed = list(counts)
    return sum(c[0] for c in listed), sum(c[1] for c in listed)


def test_each_summary_counts_each_person_once_by_the_latest_outcome_up_to_its_month_end(
    sample: App,
) -> None:
    careers(sample)

    for buyer in (None, buyer_of_lot(sample)):
        # March: P-0007's short training in the month; P-0012's training of 2026 cumulated.
        assert outcome_tables(summary_figures(sample, MARCH, buyer)) == (
            {QUALIFYING: (0, 1), SHORT_TRAINING: (1, 1)},
            {"Sortie positive": (0, 1), "Autre": (1, 1)},
        )
        # April: the short training still counts, cumulated; nothing in the month.
        assert outcome_tables(summary_figures(sample, APRIL, buyer)) == (
            {QUALIFYING: (0, 1), SHORT_TRAINING: (0, 1)},
            {"Sortie positive": (0, 1), "Autre": (0, 1)},
        )
        # May: P-0012's short CDD supersedes their qualifying training in the cumulated.
        assert outcome_tables(summary_figures(sample, MAY, buyer)) == (
            {SHORT_CDD: (1, 1), SHORT_TRAINING: (0, 1)},
            {"Emploi de transition": (1, 1), "Autre": (0, 1)},
        )
        # September: P-0007 is a CDI, once; two people, two outcomes cumulated.
        assert outcome_tables(summary_figures(sample, SEPTEMBER, buyer)) == (
            {CDI: (1, 1), SHORT_CDD: (0, 1)},
            {"Emploi durable": (1, 1), "Emploi de transition": (0, 1)},
        )


# --- the audit of summaries sent before a later outcome -------------------------------------------


def sent_outcomes(
    app: App, key: str
) -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str]]]:
    """The two outcome tables of a summary email as its recipient reads them."""
    with app.transaction() as session:
        body = session.scalars(
            select(OutboxMessage.body_text).where(OutboxMessage.key == key)
        ).one()
    tables = text_tables(body)
    return (
        {r["Type"]: (r["Mois"], r["Cumul"]) for r in tables["Sorties par type"]},
        {r["Groupe"]: (r["Mois"], r["Cumul"]) for r in tables["Sorties par groupe"]},
    )


def queue_summary_of(app: App, clock: Clock, month: date) -> None:
    moment = summary_due_at(month, summary_timing(app.settings))
    clock.set(moment)
    assert queue_monthly_summaries(app, moment) > 0


def test_the_summary_sent_with_the_training_still_verifies_once_the_cdi_is_recorded(
    sample: App, clock: Clock
) -> None:
    add_outcome(sample, "P-0007", OutcomeType.SHORT_TRAINING, date(2027, 3, 15))
    queue_summary_of(sample, clock, APRIL)
    april = "summary:2027-04:facilitator"
    assert sent_outcomes(sample, april) == (
        {SHORT_TRAINING: ("0", "1")},
        {"Autre": ("0", "1")},
    )

    add_outcome(sample, "P-0007", OutcomeType.CDI, date(2027, 9, 20))
    queue_summary_of(sample, clock, SEPTEMBER)

    # September's says one CDI, not a CDI and a short training.
    assert sent_outcomes(sample, "summary:2027-09:facilitator") == (
        {CDI: ("1", "1")},
        {"Emploi durable": ("1", "1")},
    )
    # April's, recompiled for its moment, still counts the training: the CDI is dated after
    # April's end. Nothing to explain, nothing wrong.
    report = verify_database(sample)
    assert [f.line for f in report.findings] == []
    assert [r.line for r in report.remarks] == []
