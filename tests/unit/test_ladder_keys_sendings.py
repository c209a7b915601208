"""The key of a ladder step sent again after the service withdrew its email (``call~2``) reads
back as that step, for the months it covers; a cancellation by a person keeps its step taken."""

from __future__ import annotations

from datetime import date

from workflow.services.ladder_keys import (
    key_months,
    sent_again_key,
    step_key,
    withdrawn_by_service,
)


def test_a_step_sent_again_reads_back_as_its_step_and_months() -> None:
    key = step_key(12, 34, [date(2026, 10, 1), date(2026, 11, 1)], "reminder_1")
    assert sent_again_key(key, 1) == key
    again = sent_again_key(key, 2)
    assert again == "reminder:12:34:2026-10..2026-11:reminder_1~2"
    parsed = key_months(again)
    assert parsed is not None
    assert (parsed.step, parsed.months, parsed.sending) == (
        "reminder_1",
        (date(2026, 10, 1), date(2026, 11, 1)),
        2,
    )
    assert key_months(key) is not None and key_months(key).sending == 1  # type: ignore[union-attr]
    for broken in (
        "reminder:1:2:2026-10:call~",
        "reminder:1:2:2026-10:call~1",
        "reminder:1:2:2026-10:call~x",
    ):
        assert key_months(broken) is None, broken


def test_only_a_withdrawal_by_the_service_lets_a_step_go_again() -> None:
    assert withdrawn_by_service("cancelled", "Retiré\u00a0: lot suspendu le 1er avril 2026.")
    assert withdrawn_by_service("cancelled", "Retiré : le mois a été déclaré le 3 mai 2026.")
    assert not withdrawn_by_service(
        "cancelled", "Annulé par Camille Martin le 1er avril 2026 à 09:30 : ancienne adresse"
    )
    # Written again by the finish for fewer months: the months it dropped never got it.
    assert withdrawn_by_service("cancelled", "Remplacé\u00a0: l'exécution s'est achevée…")
    assert not withdrawn_by_service("pending", "Retiré : …")
    assert not withdrawn_by_service("cancelled", None)


def test_an_email_the_service_withdrew_is_not_said_cancelled_by_the_facilitator() -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from workflow.services.reminder_emails import SentStep, sent_state

    at = datetime(2026, 4, 1, 7, tzinfo=UTC)
    zone = ZoneInfo("Europe/Paris")
    withdrawn = SentStep(
        "call", (date(2026, 3, 1),), "k", at, "cancelled", None, "Retiré\u00a0: lot suspendu…"
    )
    cancelled = SentStep(
        "escalation", (date(2026, 3, 1),), "k", at, "cancelled", None, "Annulé par Camille…"
    )
    assert sent_state(withdrawn, zone) == "retiré avant envoi"
    assert sent_state(cancelled, zone) == "annulée avant envoi par la facilitatrice"
