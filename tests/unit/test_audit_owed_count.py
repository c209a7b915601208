"""A company gone, a calendar or an award recorded since a summary explains its pace when the
pace differs only by the declarations it counts owed: their count, or the verdict once the last
one owed was released (review: « rythme à confirmer (1 déclaration non reçue) » → « en
retard » was a problem); a count from 1,000 on has its digits grouped by Babel. A pace whose
figures moved is never explained that way."""

from __future__ import annotations

from workflow.services.audit.cells import Difference, Gap
from workflow.services.audit.summary_emails import _only_owed_count

NB = "\u00a0"
FIGURES = f"54{NB}% des heures prévues réalisées pour 65{NB}% du temps écoulé"


def _headline(sent: str, truth: str) -> Difference:
    return Difference(Gap.CELL, "", "Rythme à fin février 2027", "", sent, truth)


def test_a_count_that_moved_is_explained() -> None:
    sent = f"{FIGURES}, rythme à confirmer (4 déclarations non reçues)"
    truth = f"{FIGURES}, rythme à confirmer (3 déclarations non reçues)"
    assert _only_owed_count(_headline(sent, truth))


def test_the_last_one_owed_released_is_explained() -> None:
    sent = f"{FIGURES}, rythme à confirmer (1 déclaration non reçue)"
    assert _only_owed_count(_headline(sent, f"{FIGURES}, en retard"))


def test_a_grouped_count_is_read() -> None:
    sent = f"{FIGURES}, rythme à confirmer (1\u202f234 déclarations non reçues)"
    truth = f"{FIGURES}, rythme à confirmer (1\u202f233 déclarations non reçues)"
    assert _only_owed_count(_headline(sent, truth))


def test_figures_that_moved_are_not_explained() -> None:
    sent = f"{FIGURES}, rythme à confirmer (4 déclarations non reçues)"
    truth = f"54{NB}% des heures prévues réalisées pour 64{NB}% du temps écoulé, rythme à " + (
        "confirmer (3 déclarations non reçues)"
    )
    assert not _only_owed_count(_headline(sent, truth))
    assert not _only_owed_count(_headline(f"{FIGURES}, dans le rythme", f"{FIGURES}, en retard"))


def test_a_buyers_cell_is_explained_only_around_a_pace_to_confirm() -> None:
    row = Difference(
        Gap.CELL, "Par donneur d'ordre", "Acheteur", "Rythme", "à confirmer", "en retard"
    )
    assert _only_owed_count(row)
    other = Difference(
        Gap.CELL, "Par donneur d'ordre", "Acheteur", "Rythme", "en avance", "en retard"
    )
    assert not _only_owed_count(other)


def test_a_pace_to_confirm_on_one_side_only_is_explained() -> None:
    """The April summary of a lot past its planned end waited for one declaration owed; the end
    recorded since made April owed and not yet due: no pace judged now (test_calls_to_come)."""
    said = f"0{NB}% des heures prévues réalisées pour 100{NB}% du temps écoulé, rythme à " + (
        "confirmer (1 déclaration non reçue)"
    )
    extra = Difference(Gap.EXTRA_FIGURE, "", "Rythme à fin avril 2026", "", said, "")
    assert _only_owed_count(extra)
    judged = Difference(
        Gap.EXTRA_FIGURE, "", "Rythme à fin avril 2026", "", f"{FIGURES}, en retard"
    )
    assert not _only_owed_count(judged)
