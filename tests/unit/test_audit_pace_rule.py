"""A summary written before the rule that judges no pace where no declaration of the month was
due yet gave a « Rythme » line (and « en retard » on its buyer's row) the recompiled figures no
longer have: a remark that names the rule, never a problem. Any other pace difference, or a
pace missing from the email, stays a problem."""

from __future__ import annotations

from workflow.services.audit.cells import Difference, Gap
from workflow.services.audit.summary_emails import _sort_out

OLD_PACE = Difference(
    Gap.EXTRA_FIGURE,
    "",
    "Rythme à fin juin 2026",
    sent="0 % des heures prévues réalisées pour 33 % du temps écoulé, en retard",
)
OLD_ROW = Difference(
    Gap.CELL, "Par donneur d'ordre", "Commune de Test", "Rythme", sent="en retard", truth="–"
)


def test_a_pace_judged_before_the_rule_is_a_remark() -> None:
    problems, remarks = _sort_out([OLD_PACE, OLD_ROW], [], {}, {})

    assert problems == []
    assert len(remarks) == 1
    assert remarks[0].startswith("2 différences (dont chiffre « Rythme à fin juin 2026 »")
    assert "aucune déclaration du mois n'était encore due" in remarks[0]


def test_a_pace_that_differs_otherwise_is_a_problem() -> None:
    changed = Difference(
        Gap.CELL, "Par donneur d'ordre", "Commune de Test", "Rythme", sent="en avance",
        truth="en retard",
    )  # fmt: skip
    missing = Difference(Gap.MISSING_FIGURE, "", "Rythme à fin juin 2026", truth="en retard")

    problems, remarks = _sort_out([changed, missing], [], {}, {})

    assert len(problems) == 2 and remarks == []
