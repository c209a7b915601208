"""The audit reads a receipt at zero hours in its words of today and of before 7 December 2026
(« ce mois-ci », which a user trial found said of a month a year old)."""

from __future__ import annotations

from workflow.services.audit.reading import receipt_hours


def test_both_wordings_of_a_month_at_zero_are_read() -> None:
    for said in (
        "Aucune heure d'insertion en octobre 2026 : votre déclaration à zéro est bien notée.",
        "Aucune heure d'insertion ce mois-ci : votre déclaration à zéro est bien notée.",
    ):
        found = receipt_hours(f"Bonjour,\n\n{said}\n")
        assert found is not None and found.total == "0\u00a0h", said
