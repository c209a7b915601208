"""An award correction's history row with the facilitator's reason after its changes
(« ; motif : … »), and the rows written before reasons were kept: ``award_changes_of`` and the
audit's dates of then (``audit.dates_then``) read both alike, a reason holding « ; », « : » or
« → » never taken for a change. Hours imposed say the figure they replace."""

from __future__ import annotations

from datetime import UTC, date, datetime

from workflow.domain.events import AwardChange
from workflow.services.audit.dates_then import PLANNED_END, START, _moves
from workflow.services.clauses import (
    award_changes_of,
    award_correction_reason,
    award_motive_of,
    hours_override_reason,
)

AT = datetime(2026, 10, 2, 9, tzinfo=UTC)
CHANGES = (
    AwardChange("Démarrage", "1er octobre 2026", "15 octobre 2026"),
    AwardChange("Heures confiées à Alpha SA", "100\u00a0h", "120\u00a0h"),
)
#: Made of the row's own separators, and naming a date field: still no change.
TRICKY = "avenant n° 1 ; Fin prévue : 31 mars 2027 → 30 juin 2027"


def dates(reason: str) -> dict[str, tuple[object, object]]:
    return {m.field: (m.before, m.after) for m in _moves(7, AT, "award_corrected", reason)}


def test_a_row_with_a_reason_lists_the_same_changes_as_one_without() -> None:
    old = award_correction_reason(CHANGES)
    new = award_correction_reason(CHANGES, TRICKY)

    assert old == (
        "attribution corrigée : Démarrage : 1er octobre 2026 → 15 octobre 2026 ; "
        "Heures confiées à Alpha SA : 100\u00a0h → 120\u00a0h"
    )
    assert new == f"{old} ; motif : {TRICKY}"
    assert award_changes_of(old) == award_changes_of(new) == CHANGES
    assert (award_motive_of(old), award_motive_of(new)) == (None, TRICKY)
    # The reason names a planned end: the audit never reads it as one moved.
    assert dates(old) == dates(new) == {START: (date(2026, 10, 1), date(2026, 10, 15))}
    assert PLANNED_END not in dates(new)


def test_hours_imposed_say_the_figure_before_with_its_thousands_separator() -> None:
    assert hours_override_reason(4725, 5000, " Avenant n° 1 ") == (
        "heures imposées : 4\u202f725\u00a0h → 5\u202f000\u00a0h ; Avenant n° 1"
    )
    assert hours_override_reason(None, 1200, "arbitrage") == (
        "heures imposées : non fixées → 1\u202f200\u00a0h ; arbitrage"
    )
