"""The lot of ``test_company_name_swap_history`` read by ``load_declarations`` and the audit:
each row, written before it kept the company's number, is the company's that had the name at
the row's instant (``HistoryCompanies.by_name(..., at=...)``): « Bâtiments Test »'s recording
of 3 March stays its own though « Constructions Sud » is called so today, and the
cancellation of 5 May « de Bâtiments Test » is Constructions Sud's (SQLite and PostgreSQL)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.integration.test_company_name_swap_history import FIRST, swapped_names
from tests.integration.test_company_rename_history import FEB, problems
from workflow.bootstrap import App
from workflow.services.declaration_facts import load_declarations

pytestmark = pytest.mark.scenario


def test_the_rows_of_a_name_two_companies_had_go_to_the_one_that_had_it_then(app: App) -> None:
    lot = swapped_names(app)
    first, second = lot.company_ids
    with app.transaction() as session:
        facts = load_declarations(session)
        [first_feb] = [f for f in facts.values() if f.company_id == first and f.month == FEB]
        assert [r.hours for r in first_feb.recordings] == [Decimal("110.75")]
        [second_feb] = facts.cancelled
        assert (second_feb.company_id, second_feb.company) == (second, FIRST)
        assert [r.hours for r in second_feb.recordings] == [Decimal("60.25")]
    # The monthly summaries sent read the same rows as they were: nothing to report.
    assert problems(app) == []
