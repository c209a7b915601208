"""What an alert says of each step before it: the outbox's truth, in words agreed with the step
(« envoyé » for a call or a reminder, « envoyée » for the alert)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from workflow.services.reminder_emails import SentStep, sent_state

PARIS = ZoneInfo("Europe/Paris")
CREATED = datetime(2026, 3, 5, 7, 0, tzinfo=UTC)


def step(name: str, state: str, sent_at: datetime | None = None) -> SentStep:
    return SentStep(name, (date(2026, 2, 1),), f"k:{name}", CREATED, state, sent_at)


@pytest.mark.parametrize(
    ("name", "state", "sent_at", "said"),
    [
        ("call", "sent", datetime(2026, 3, 5, 23, 30, tzinfo=UTC), "envoyé le 6 mars 2026"),
        ("escalation", "sent", CREATED, "envoyée le 5 mars 2026"),
        ("reminder_1", "failed", None, "non distribué (adresse refusée)"),
        ("reminder_2", "dead", None, "non distribué (adresse refusée)"),
        ("reminder_1", "pending", None, "en cours d'envoi depuis le 5 mars 2026"),
        ("reminder_1", "cancelled", None, "annulé avant envoi par la facilitatrice"),
        ("escalation", "cancelled", None, "annulée avant envoi par la facilitatrice"),
    ],
)
def test_each_state_is_told_as_it_is(
    name: str, state: str, sent_at: datetime | None, said: str
) -> None:
    assert sent_state(step(name, state, sent_at), PARIS) == said


@pytest.mark.parametrize(
    ("name", "state", "today", "said"),
    [
        # The digest is written in the pass that queued the step, just before it leaves.
        ("reminder_1", "pending", date(2026, 3, 5), "mis en file d'envoi aujourd'hui"),
        ("escalation", "sending", date(2026, 3, 5), "mise en file d'envoi aujourd'hui"),
        # Still there the next day: a delivery in trouble, said as such.
        ("reminder_1", "pending", date(2026, 3, 6), "en cours d'envoi depuis le 5 mars 2026"),
        ("reminder_1", "uncertain", date(2026, 3, 5), "en cours d'envoi depuis le 5 mars 2026"),
    ],
)
def test_a_step_queued_on_the_digest_s_day_is_said_queued_today(
    name: str, state: str, today: date, said: str
) -> None:
    assert sent_state(step(name, state), PARIS, today) == said
