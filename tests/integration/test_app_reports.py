"""Reports through the application layer: the buyer named as people know it, the default month
and year, the same figures as the emails' code path. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from tests.conftest import Clock
from tests.integration import summary_dataset
from tests.integration.summary_dataset import Dataset
from workflow.app.lookup import AmbiguousDesignation
from workflow.app.reports import annual_report, daily_digest, monthly_summary
from workflow.bootstrap import App
from workflow.errors import NotFound
from workflow.services.annual_report import compile_annual_report
from workflow.services.summaries import compile_summary

MARCH = date(2026, 3, 1)
#: 22 April 2026, 07:00 in Paris: March's summary has just left.
AFTER_MARCH_SUMMARY = datetime(2026, 4, 22, 5, 0, tzinfo=UTC)


@pytest.fixture
def data(app: App) -> Dataset:
    with app.transaction() as session:
        return summary_dataset.build(session)


def test_a_buyers_summary_is_the_emails_figures_whatever_the_buyer_is_called(
    app: App, data: Dataset
) -> None:
    now = AFTER_MARCH_SUMMARY
    by_name = monthly_summary(app, MARCH, buyer="VILLE D\u2019AUCH", now=now)
    by_number = monthly_summary(app, MARCH, buyer=str(data.auch), now=now)
    with app.transaction() as session:
        expected = compile_summary(
            session,
            MARCH,
            buyer_id=data.auch,
            now=now,
            zone=app.settings.zone,
            outcome_groups=app.settings.outcome_groups,
        )

    assert by_name == by_number == expected
    assert (by_name.buyer_id, by_name.buyer_name) == (data.auch, "Ville d'Auch")


def test_without_a_month_the_summary_is_the_last_one_sent(app: App, data: Dataset) -> None:
    assert monthly_summary(app, now=datetime(2026, 4, 21, 12, 0, tzinfo=UTC)).month == date(
        2026, 2, 1
    )
    assert monthly_summary(app, now=AFTER_MARCH_SUMMARY).month == MARCH


def test_an_unknown_or_ambiguous_buyer_is_refused(app: App, data: Dataset) -> None:
    with pytest.raises(NotFound) as missing:  # the command line names the list
        monthly_summary(app, MARCH, buyer="Toulouse")
    assert "clauses buyer list" in missing.value.command_line_message
    # « d » is in « Département du Gers » and in « Ville d'Auch », not in « Office HLM ».
    with pytest.raises(AmbiguousDesignation) as ambiguous:
        annual_report(app, 2026, buyer="d")
    assert ambiguous.value.message.splitlines()[1:] == [
        f"  - n° {data.gers} Département du Gers",
        f"  - n° {data.auch} Ville d'Auch",
    ]


def test_the_annual_report_defaults_to_last_year_and_takes_the_buyer_by_name(
    app: App, data: Dataset, clock: Clock
) -> None:
    clock.set(datetime(2027, 1, 15, 9, 0, tzinfo=UTC))

    everyone = annual_report(app)
    hlm = annual_report(app, buyer="office hlm")
    with app.transaction() as session:
        expected = compile_annual_report(
            session,
            2026,
            buyer_id=data.hlm,
            groups=app.settings.outcome_groups,
            now=clock.now.astimezone(app.settings.zone),
            zone=app.settings.zone,
        )

    assert everyone.year == 2026 and everyone.buyer_id is None
    assert hlm == expected and hlm.buyer_name == "Office HLM"
    assert hlm.hours < everyone.hours


def test_the_digest_is_the_one_of_the_clocks_day(app: App, data: Dataset, clock: Clock) -> None:
    clock.set(datetime(2026, 6, 1, 6, 0, tzinfo=UTC))

    digest = daily_digest(app)

    assert digest.day == date(2026, 6, 1) and digest.working_day
    assert digest == daily_digest(app, clock.now)
    assert {item.category.value for item in digest.items} >= {"waiting"}
