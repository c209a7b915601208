"""The dates a lot's history rows say it had before each change (``audit.dates_then``), read
back from the very words the services write: an award corrected, a planned end moved, an end
corrected; and a chain with a change made without its row is said, not guessed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from workflow.domain.events import AwardChange
from workflow.services.audit.dates_then import (
    END,
    PLANNED_END,
    START,
    DateHistory,
    DatesThen,
    LotDates,
    _moves,
)
from workflow.services.clauses import award_correction_reason
from workflow.services.lot_ends import correction_reason

AT = datetime(2026, 12, 28, 9, tzinfo=UTC)
BEFORE = datetime(2026, 11, 30, 9, tzinfo=UTC)


def test_an_award_correction_gives_the_start_and_planned_end_it_replaced() -> None:
    reason = award_correction_reason(
        (
            AwardChange("Démarrage", "1er septembre 2026", "16 septembre 2026"),
            AwardChange("Heures confiées à Alpha SA", "100 h", "120 h"),
            AwardChange("Fin prévue", "31 mars 2027", "30 juin 2027"),
        )
    )
    moves = {m.field: (m.before, m.after) for m in _moves(7, AT, "award_corrected", reason)}
    assert moves == {
        START: (date(2026, 9, 1), date(2026, 9, 16)),
        PLANNED_END: (date(2027, 3, 31), date(2027, 6, 30)),
    }


def test_an_end_correction_and_a_planned_end_move_give_the_day_they_replaced() -> None:
    reason = correction_reason(
        date(2026, 12, 15), date(2026, 12, 18), "PV", (), (), ZoneInfo("Europe/Paris")
    )
    [end] = _moves(8, AT, "end_date_corrected", reason)
    assert (end.field, end.before, end.after) == (END, date(2026, 12, 15), date(2026, 12, 18))
    [planned] = _moves(
        9, AT, "planned_end", "fin prévue\u00a0: 30 juin 2027 → 1er mars 2027\u00a0; avenant"
    )
    assert (planned.before, planned.after) == (date(2027, 6, 30), date(2027, 3, 1))


def test_a_change_without_its_row_leaves_the_date_of_then_untold() -> None:
    """Finished on 28/11 (15/12), corrected on 04/01 (15/12 → 18/12), moved by hand to 21/12
    with no row, corrected again on 10/01 (21/12 → 24/12). On 05/01 the end was 18/12 or 21/12:
    nobody knows, it is said. On 01/12 it was 15/12 whatever came after the first correction."""
    rows = [
        *_moves(5, datetime(2026, 11, 28, tzinfo=UTC), "finish", None),
        *_moves(6, datetime(2027, 1, 4, tzinfo=UTC), "end_date_corrected",
                "fin d'exécution : 15/12/2026 → 18/12/2026 ; PV."),
        *_moves(7, datetime(2027, 1, 10, tzinfo=UTC), "end_date_corrected",
                "fin d'exécution : 21/12/2026 → 24/12/2026 ; PV."),
    ]  # fmt: skip
    today = LotDates(date(2026, 3, 2), date(2027, 6, 30), date(2026, 12, 24))
    history = DateHistory(BEFORE, {1: today}, {1: rows})
    between = history.at(1, datetime(2027, 1, 5, tzinfo=UTC))
    assert between is not None
    assert between.untold == (END,)
    assert between.then.end == date(2026, 12, 24)  # today's, said as such
    first = history.at(1, datetime(2026, 12, 1, tzinfo=UTC))
    assert first is not None and first.untold == () and first.then.end == date(2026, 12, 15)
    assert history.at(1, datetime(2026, 11, 1, tzinfo=UTC)) == DatesThen(
        1, LotDates(today.start, today.planned_end, None), today
    )
