"""The receipt of a month the facilitator corrected herself says so.

The defect: after ``clauses declaration zero --replace --reason …`` the company read « Merci :
votre déclaration … est bien enregistrée. Je l'ai enregistrée pour vous le 3 décembre 2026,
comme vous me l'avez indiqué. », false when she corrected it on her own (a month declared on
the wrong lot). Now: « J'ai corrigé votre déclaration … le 3 décembre 2026. » and what it
replaces. On the sample territory (``test_zero_correction_reason``), on SQLite and PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from tests.conftest import Clock
from tests.integration.test_corrected_outcomes import october_with_the_cdi
from tests.integration.test_declarations import ids
from tests.integration.test_outcomes_audit_and_cancel import (
    DECEMBER_3,
    run_cli,
    sample,  # noqa: F401 (fixture)
)
from tests.integration.test_zero_correction_reason import REASON, zero
from tests.text import squash
from workflow.adapters.orm import OutboxMessage
from workflow.bootstrap import App
from workflow.services.dispatch import dispatch_due
from workflow.settings import Settings


def test_the_receipt_of_a_month_corrected_to_zero_says_the_facilitator_corrected_it(
    sample: App,  # noqa: F811
    settings: Settings,
    clock: Clock,
    tmp_path: Path,
) -> None:
    october_with_the_cdi(sample, settings, clock, tmp_path)
    dispatch_due(sample, clock())  # the receipt of 5 November left: the correction cancels it
    clock.set(DECEMBER_3)
    with sample.transaction() as session:
        before = session.scalars(
            select(OutboxMessage.id).where(OutboxMessage.kind == "declaration_receipt")
        ).all()

    run_cli(settings, clock, *zero(*ids(sample), "--reason", REASON))

    with sample.transaction() as session:
        [(subject, text, html)] = session.execute(
            select(OutboxMessage.subject, OutboxMessage.body_text, OutboxMessage.body_html).where(
                OutboxMessage.kind == "declaration_receipt", OutboxMessage.id.not_in(before)
            )
        ).all()
    assert squash(subject).startswith("Déclaration corrigée : octobre 2026 – "), subject
    said = squash(text).replace("\xa0", " ")
    assert "J'ai corrigé votre déclaration des heures d'insertion pour octobre 2026, " in said
    assert "), le 3 décembre 2026. Votre déclaration de ce mois reçue le 5 novembre 2026 " in said
    assert (
        "(250,17 h) est remplacée par celle-ci : ce message annule le reçu précédent, seuls "
        "comptent les chiffres ci-dessous." in said
    ), said
    # October, corrected in December: « en octobre 2026 », never « ce mois-ci » (user trial).
    assert (
        "Aucune heure d'insertion en octobre 2026 : votre déclaration à zéro est bien notée" in said
    )
    assert "ce mois-ci" not in said and "ce mois-ci" not in html
    for false in ("Merci :", "comme vous me l'avez indiqué", "enregistrée pour vous"):
        assert false not in said, said
        assert false not in html
    assert "J'ai corrigé votre déclaration" in html
