"""What ``clauses audit verify`` reads back from a stored email, and how it compares it: the
receipt's hours and the summary's tables, from the emails the templates really render."""

from __future__ import annotations

from decimal import Decimal

import pytest

from workflow.adapters.reports import email_tables
from workflow.adapters.templates import TemplateRenderer, french_hours
from workflow.emails import registry
from workflow.emails.receipts import SAMPLE_DECLARATION
from workflow.emails.summaries import sample_summary, summary_context
from workflow.services.audit.cells import Gap, Reference, compare_tables
from workflow.services.audit.reading import (
    SentTable,
    html_parts,
    parse_hours,
    printed_figures,
    receipt_hours,
    text_tables,
)
from workflow.settings import Settings

NBSP = "\u00a0"


@pytest.fixture(scope="module")
def renderer() -> TemplateRenderer:
    signature = {
        "name": "Camille Martin",
        "title": "Facilitatrice",
        "organisation": "MDE",
        "email": "c@example.org",
        "phone": "",
        "extra": "",
    }
    return TemplateRenderer(signature=signature)


def references(buyer: bool) -> list[Reference]:
    return [
        Reference(
            t["title"], tuple(t["columns"]), tuple(t["numeric"]), tuple(map(tuple, t["rows"]))
        )
        for t in email_tables(sample_summary(buyer=buyer))
    ]


def test_it_reads_a_receipts_hours_as_the_company_reads_them(renderer: TemplateRenderer) -> None:
    context = registry.sample("declaration_receipt", Settings()).context
    body = renderer.render("declaration_receipt", context).text
    stated = receipt_hours(body)
    assert stated is not None
    declaration = SAMPLE_DECLARATION
    assert parse_hours(stated.total) == declaration.total_hours == Decimal("312.5")
    assert {ref: parse_hours(hours) for ref, hours in stated.lines.items()} == {
        line.reference: line.hours for line in declaration.lines
    }
    assert stated.cumulated is not None and parse_hours(stated.cumulated) == 2450


@pytest.mark.parametrize("buyer", [False, True])
def test_it_reads_back_every_cell_a_summary_printed_in_both_parts(
    renderer: TemplateRenderer, buyer: bool
) -> None:
    summary = sample_summary(buyer=buyer)
    kind = "monthly_summary_buyer" if buyer else "monthly_summary"
    rendered = renderer.render(kind, summary_context(summary))
    truth = references(buyer)
    assert truth and compare_tables(truth, text_tables(rendered.text)) == []
    figures, tables = html_parts(rendered.html)
    assert compare_tables(truth, tables) == []
    assert figures == printed_figures(rendered.text) != {}


def test_one_cell_changed_is_one_difference_naming_table_row_and_column(
    renderer: TemplateRenderer,
) -> None:
    truth = references(False)
    clauses = next(t for t in truth if t.title == "Avancement par clause")
    row = clauses.rows[0]
    forged = (row[0], french_hours(Decimal("999")), *row[2:])
    sent = [
        SentTable(t.title, t.columns, (forged, *t.rows[1:]) if t is clauses else t.rows)
        for t in truth
    ]
    found = compare_tables(truth, sent)
    assert [d.sentence() for d in found] == [
        f"tableau « Avancement par clause », ligne « {row[0]} », colonne « Mois » : le courriel "
        f"disait « 999{NBSP}h », les données disent « {row[1]} »"
    ]


def test_a_renamed_row_keeps_its_figures_and_a_table_of_names_has_no_renaming() -> None:
    numbers = Reference("Sorties par groupe", ("Groupe", "Mois"), (False, True), (("A", "1"),))
    assert [
        d.gap
        for d in compare_tables(
            [numbers], [SentTable("Sorties par groupe", ("Groupe", "Mois"), (("B", "1"),))]
        )
    ] == [Gap.RENAMED_ROW]
    assert [
        d.gap
        for d in compare_tables(
            [numbers], [SentTable("Sorties par groupe", ("Groupe", "Mois"), (("B", "2"),))]
        )
    ] == [Gap.MISSING_ROW, Gap.EXTRA_ROW]
    names = Reference("Manquantes", ("Entreprise", "Lot"), (False, False), (("X", "1"),))
    found = compare_tables([names], [SentTable("Manquantes", ("Entreprise", "Lot"), (("Y", "1"),))])
    assert [d.sentence() for d in found] == [
        "tableau « Manquantes », ligne « X – 1 » : absente du courriel, les données disent "
        "sans chiffre",
        "tableau « Manquantes », ligne « Y – 1 » : absente des données, le courriel disait "
        "sans chiffre",
    ]  # fmt: skip
