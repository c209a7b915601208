"""The annual report's headline (French plurals, the « + de » rule) and its safe exports."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from workflow.adapters.annual_report_files import render_annual_report
from workflow.services.annual_report import AnnualReport, Line, OutcomeTypeLine, hours_phrase


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        (Decimal(18165), "+ de 18\u202f000 heures d'insertion"),
        (Decimal(18000), "18\u202f000 heures d'insertion"),  # nothing dropped: no « + de »
        (Decimal("1000.01"), "+ de 1\u202f000 heures d'insertion"),
        (Decimal("999.5"), "+ de 999 heures d'insertion"),  # below 1 000: to the hour
        (Decimal(833), "833 heures d'insertion"),
        (Decimal(1), "1 heure d'insertion"),
        (Decimal("1.5"), "+ de 1 heure d'insertion"),
        (Decimal(0), "0 heure d'insertion"),
        (Decimal(25_100_000), "25\u202f100\u202f000 heures d'insertion"),
    ],
)
def test_hours_are_rounded_down_and_never_overstated(hours: Decimal, expected: str) -> None:
    assert hours_phrase(hours) == expected


def made_up(buyer: str, outcomes: dict[str, int]) -> AnnualReport:
    return AnnualReport(
        year=2017,
        buyer_id=None,
        buyer_name=None,
        compiled_at=None,
        hours=Decimal(1200),
        hours_by_buyer=(Line("1", buyer, Decimal(1200)),),
        hours_by_mode=(),
        companies=1,
        clauses_followed=1,
        participants=0,
        participants_by_criterion=(),
        participants_by_sex=(),
        participants_by_age_band=(),
        contracts_by_type=(),
        outcomes=sum(outcomes.values()),
        outcomes_by_type=tuple(
            OutcomeTypeLine(code, code, "other", "Autre", n) for code, n in outcomes.items()
        ),
        outcomes_by_group=(Line("other", "Autre", sum(outcomes.values())),),
        clauses_by_stage=(),
    )


def test_the_headline_says_one_in_the_singular_and_leaves_out_situations_without_work() -> None:
    report = made_up(
        "Ville",
        {"short_training": 1, "qualifying_training": 2, "lost_contact": 4, "jobseeker": 1},
    )

    assert report.headline == (
        "+ de 1\u202f000 heures d'insertion, 1 entreprise accompagnée, 2 formations qualifiantes, "
        "1 formation courte"
    )


def test_a_buyer_named_like_a_formula_stays_text_in_csv_and_xlsx() -> None:
    report = made_up('=HYPERLINK("http://example.org","x")', {})

    rows = list(
        csv.reader(
            io.StringIO(render_annual_report(report, "csv").decode("utf-8-sig")), delimiter=";"
        )
    )
    book = load_workbook(io.BytesIO(render_annual_report(report, "xlsx")))
    cells = [c for row in book["Heures par donneur d'ordre"].iter_rows() for c in row]

    labels = [r[1] for r in rows if r[0] == "Heures réalisées par donneur d'ordre"]
    assert labels == ["'" + '=HYPERLINK("http://example.org","x")', "Total"]
    [name] = [c for c in cells if str(c.value).startswith("=HYPERLINK")]
    assert name.data_type == "s"
