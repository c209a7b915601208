"""Two recordings of one declaration at the same instant (a clock held still, as ``clauses web
--now`` does: a company declares, then corrects in the same minute): the later row is the total
that stood, for the summaries' « X h → Y h » and for the audit alike (user trial: the August
summary said « 218 h → 200 h » where the previous one had counted 238 h)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from workflow.services.audit.receipts import DeclarationFacts, Recording

HELD = datetime(2027, 8, 2, 8, 0, tzinfo=UTC)


def _facts(recorded_at: datetime, total: str) -> DeclarationFacts:
    return DeclarationFacts(
        id=48,
        clause_id=1,
        company_id=1,
        company="Bâtiments Gascons SARL",
        buyer_id=1,
        buyer="Département de l'Exemple",
        month=date(2027, 2, 1),
        total_hours=Decimal(total),
        recorded_at=recorded_at,
        recordings=[
            Recording(history_id=700, at=HELD, hours=Decimal("218")),
            Recording(history_id=701, at=HELD, hours=Decimal("238")),
        ],
    )


def test_the_later_of_two_recordings_at_one_instant_is_the_total_then() -> None:
    facts = _facts(HELD, "238")
    assert facts.hours_then(HELD) == (Decimal("238"), True)
    assert facts.hours_then(datetime(2027, 8, 20, tzinfo=UTC)) == (Decimal("238"), False)
    recording = facts.recording_at(HELD)
    assert recording is not None and recording.history_id == 701


def test_a_later_correction_still_wins_over_both() -> None:
    later = datetime(2027, 9, 1, 8, 0, tzinfo=UTC)
    facts = _facts(later, "200")
    facts.recordings.append(Recording(history_id=800, at=later, hours=Decimal("200")))
    assert facts.hours_then(datetime(2027, 8, 23, tzinfo=UTC)) == (Decimal("238"), False)
    assert facts.hours_then(later) == (Decimal("200"), True)
