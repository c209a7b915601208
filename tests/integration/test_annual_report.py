"""The funders' annual report over the Gers territory of 2017, built through the services.

Every expected figure comes from the scenario's plan (``gers_2017``), never from the database:
the flyer's line, the hours by buyer and by mode, the companies, the participants, the contracts,
the outcomes by type and group and the clauses by stage at the end of the year.
"""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration import gers_2017
from tests.integration.gers_2017 import DEPARTMENT, LOTS, Built
from tests.text import squash
from workflow.adapters.annual_report_files import render_annual_report
from workflow.adapters.orm import Outcome
from workflow.bootstrap import App
from workflow.domain.outcomes import OutcomeType
from workflow.domain.summary import age_band
from workflow.errors import NotFound
from workflow.services.annual_report import AnnualReport, compile_annual_report

FLYER = (
    "+ de 18\u202f000 heures d'insertion, 51 entreprises accompagnées, 3 CDI, 1 contrat "
    "d'apprentissage, 3 contrats de professionnalisation, 11 formations courtes"
)


@pytest.fixture
def gers(app: App, clock: Clock) -> Built:
    return gers_2017.build(app, clock)


def report(app: App, buyer_id: int | None = None, **options: object) -> AnnualReport:
    with app.transaction() as session:
        return compile_annual_report(
            session,
            options.pop("year", 2017),  # type: ignore[arg-type]
            buyer_id=buyer_id,
            groups=options.pop("groups", app.settings.outcome_groups),  # type: ignore[arg-type]
            now=app.clock(),
            zone=app.settings.zone,
        )


def lines_of(buyer: str | None = None) -> list[gers_2017.PlannedLine]:
    return [
        line for line in gers_2017.planned_lines() if buyer is None or LOTS[line.lot].buyer == buyer
    ]


def figures(lines: list[gers_2017.PlannedLine]) -> dict[str, object]:
    """What the plan says the report must count for these lines."""
    people = gers_2017.people()
    worked = {line.reference for line in lines}
    return {
        "hours": sum((line.hours for line in lines), Decimal(0)),
        "participants": len(worked),
        "sex": Counter(people[r].sex.value for r in worked),
        "criterion": Counter(people[r].criterion.value for r in worked),
        "age": Counter(age_band(people[r].birth_year, 2017).value for r in worked),
        "modes": Counter(
            {m: sum(x.hours for x in lines if x.mode == m) for m in {x.mode for x in lines}}
        ),
        "contracts": {
            kind.value: len({x.reference for x in lines if x.contract == kind})
            for kind in {x.contract for x in lines}
        },
    }


def nonzero(lines: tuple[object, ...]) -> dict[str, object]:
    return {line.code: line.value for line in lines if line.value}  # type: ignore[attr-defined]


# --- the flyer ----------------------------------------------------------------------------------


def test_the_2017_report_says_the_gers_flyer(app: App, gers: Built) -> None:
    done = report(app)
    plan = figures(lines_of())

    assert done.headline == FLYER
    assert done.hours == plan["hours"] == Decimal(18165)
    assert {line.label: line.value for line in done.hours_by_buyer} == {
        buyer: sum(lot.hours for lot in LOTS if lot.buyer == buyer) for buyer in gers.buyers
    }
    assert done.companies == 51  # the silent subcontractor included, 2016's company not
    assert done.clauses_followed == 17
    assert done.participants == plan["participants"]  # not G-2016 nor G-2018
    assert nonzero(done.participants_by_sex) == plan["sex"]
    assert nonzero(done.participants_by_criterion) == plan["criterion"]
    assert nonzero(done.participants_by_age_band) == plan["age"]
    assert nonzero(done.hours_by_mode) == plan["modes"]
    assert {c.code: c.participants for c in done.contracts_by_type} == plan["contracts"]
    assert [(o.code, o.count) for o in done.outcomes_by_type] == [
        (OutcomeType.CDI.value, 3),
        (OutcomeType.APPRENTICESHIP.value, 1),
        (OutcomeType.PROFESSIONALISATION.value, 3),
        (OutcomeType.SHORT_TRAINING.value, 11),
    ]  # the lost contact of January 2018 is not 2017's
    assert nonzero(done.outcomes_by_group) == {"lasting_job": 7, "other": 11}
    assert done.outcomes == 18
    # At the end of 2017 the collège's electricity lot was still in execution (finished in 2018),
    # the gymnasium of 2018 did not exist.
    assert nonzero(done.clauses_by_stage) == {
        "identification": 1,
        "execution": 14,
        "follow_up": 3,
        "closed": 1,
    }


def row(text: str, label: str) -> list[str]:
    """The cells of the text table row starting with ``label``."""
    found = re.search(rf"^│ {re.escape(label)}\s+│(.*)│$", text, re.MULTILINE)
    assert found, f"no row {label!r} in:\n{text}"
    return [cell.strip() for cell in found.group(1).split("│")]


def test_the_printed_report_shows_those_figures(app: App, gers: Built) -> None:
    text = render_annual_report(report(app), "text").decode("utf-8")

    assert FLYER in text.splitlines()
    assert row(text, "Heures d'insertion réalisées") == ["18\u202f165\u00a0h"]
    assert row(text, "Entreprises accompagnées") == ["51"]
    assert row(text, "Sorties") == ["18"]
    assert row(text, DEPARTMENT) == ["8\u202f925\u00a0h"]
    assert row(text, "Total") == ["18\u202f165\u00a0h"]
    assert row(text, "Contrat d'apprentissage") == ["Emploi durable", "1"]
    assert row(text, "Formation courte (non qualifiante)") == ["Autre", "11"]
    assert row(text, "Emploi durable") == ["7"]
    assert row(text, "Mise en œuvre") == ["14"]


# --- one buyer ----------------------------------------------------------------------------------


def test_a_buyer_report_counts_that_buyers_clauses_only(app: App, gers: Built) -> None:
    department = gers.buyers[DEPARTMENT]
    done = report(app, department)
    plan = figures(lines_of(DEPARTMENT))
    lots = {i for i, lot in enumerate(LOTS) if lot.buyer == DEPARTMENT}
    outcomes = Counter(kind.value for _, lot, kind in gers_2017.planned_outcomes() if lot in lots)

    assert done.buyer_name == DEPARTMENT
    assert done.hours == plan["hours"] == Decimal(4725 + 5 * 840)
    assert [(line.label, line.value) for line in done.hours_by_buyer] == [
        (DEPARTMENT, plan["hours"])
    ]
    assert done.companies == 3 * len(lots)
    assert done.clauses_followed == len(lots)
    assert done.participants == plan["participants"]
    assert nonzero(done.participants_by_sex) == plan["sex"]
    assert nonzero(done.hours_by_mode) == plan["modes"]
    assert {c.code: c.participants for c in done.contracts_by_type} == plan["contracts"]
    assert {o.code: o.count for o in done.outcomes_by_type} == outcomes
    assert done.outcomes == sum(outcomes.values()) < 18
    assert nonzero(done.clauses_by_stage) == {"identification": 1, "execution": 6, "closed": 1}
    assert done.headline.startswith(
        "+ de 8\u202f000 heures d'insertion, 18 entreprises accompagnées"
    )


def test_an_unknown_buyer_is_refused(app: App, gers: Built) -> None:
    with pytest.raises(NotFound, match="Aucun donneur d'ordre n° 99"):
        report(app, 99)


# --- totals and parts ---------------------------------------------------------------------------


def test_every_total_equals_the_sum_of_its_parts(app: App, gers: Built) -> None:
    overall = report(app)
    by_buyer = [report(app, buyer_id) for buyer_id in gers.buyers.values()]

    for done in [overall, *by_buyer]:
        assert sum(line.value for line in done.hours_by_buyer) == done.hours
        assert sum(line.value for line in done.hours_by_mode) == done.hours
        assert sum(c.hours for c in done.contracts_by_type) == done.hours
        for breakdown in (
            done.participants_by_sex,
            done.participants_by_criterion,
            done.participants_by_age_band,
        ):
            assert sum(line.value for line in breakdown) == done.participants
        assert sum(o.count for o in done.outcomes_by_type) == done.outcomes
        assert sum(line.value for line in done.outcomes_by_group) == done.outcomes
    assert sum(done.hours for done in by_buyer) == overall.hours
    assert sum(done.outcomes for done in by_buyer) == overall.outcomes  # all tied to a clause
    assert sum(done.clauses_followed for done in by_buyer) == overall.clauses_followed
    # A company or a participant may work for two buyers: these may only add up to more.
    assert sum(done.companies for done in by_buyer) >= overall.companies


# --- the mapping in force -----------------------------------------------------------------------


def test_the_setting_regroups_past_outcomes_without_touching_them(app: App, gers: Built) -> None:
    moved = report(app, groups={"short_training": "positive_exit"})

    assert nonzero(moved.outcomes_by_group) == {"lasting_job": 7, "positive_exit": 11}
    assert moved.regrouped == (("Formation courte (non qualifiante)", "Sortie positive"),)
    assert moved.headline == FLYER  # the line counts types, whatever their group
    text = render_annual_report(moved, "text").decode("utf-8")
    assert (
        "modifié par le réglage outcome_groups : Formation courte (non qualifiante) → sortie positive"
        in squash(text)
    )
    with app.transaction() as session:  # the rows keep the group of their recording
        stored = Counter(session.scalars(select(Outcome.group)))
    assert stored == {"lasting_job": 7, "other": 11 + 1}


def test_a_year_without_activity_says_zero_in_french(app: App, gers: Built) -> None:
    empty = report(app, year=2015)

    assert empty.headline == "0 heure d'insertion, 0 entreprise accompagnée"
    assert (empty.hours, empty.companies, empty.participants, empty.outcomes) == (0, 0, 0, 0)
    for fmt in ("text", "csv", "xlsx", "html"):
        assert render_annual_report(empty, fmt)  # type: ignore[arg-type]
