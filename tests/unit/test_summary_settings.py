"""``CLAUSES_SUMMARY_DELAY``: when the monthly summary leaves, after the month's due date."""

from __future__ import annotations

import pytest

from workflow.errors import SettingsInvalid
from workflow.settings import load_settings


def test_it_defaults_to_the_working_day_after_the_last_reminder() -> None:
    assert load_settings(reminder_offsets="3,7").summary_delay_days == 8
    assert load_settings(reminder_offsets="2,5,9", escalation_offset=12).summary_delay_days == 10


def test_it_takes_a_delay_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUSES_SUMMARY_DELAY", "3")
    assert load_settings().summary_delay_days == 3


@pytest.mark.parametrize("value", ["0", "61", "-2"])
def test_it_refuses_a_delay_that_would_read_the_figures_too_soon_in_french(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CLAUSES_SUMMARY_DELAY", value)
    with pytest.raises(SettingsInvalid) as refused:
        load_settings()
    assert str(refused.value) == (
        f"Réglage invalide CLAUSES_SUMMARY_DELAY = {value!r} : nombre de jours ouvrés après la "
        "date limite de déclaration attendu, de 1 à 60 (sans réglage : le jour ouvré qui suit la "
        "dernière relance)"
    )


def test_it_refuses_a_delay_that_is_not_a_number_in_french(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLAUSES_SUMMARY_DELAY", "huit")
    with pytest.raises(SettingsInvalid, match="CLAUSES_SUMMARY_DELAY = 'huit' : nombre entier"):
        load_settings()
