"""The reminder and the alert of several months, one of them asked again after its declaration
was cancelled: that month is named with what happened to it (``reminder_emails.asked_again``)."""

from __future__ import annotations

from datetime import date

from tests.text import squash
from tests.unit.test_templates import SIGNATURE
from workflow.adapters.templates import TemplateRenderer
from workflow.emails import registry
from workflow.settings import Settings

ASKED = {
    "month": date(2026, 9, 1),
    "month_phrase": "de septembre 2026",
    "received_on": date(2026, 10, 6),
    "cancelled_on": date(2026, 11, 3),
    "reason": "Heures du lot 02",
    "due_on": date(2026, 11, 3),
    "late": True,
    "month_due_on": date(2026, 10, 12),
    "corrected_on": None,
    "received_words": "reçue le 6 octobre 2026",
    "corrected_words": None,
}


def _render(kind: str, asked: dict[str, object] = ASKED) -> tuple[str, str]:
    settings = Settings.model_construct(
        database_url="sqlite://",
        timezone="Europe/Paris",
        declaration_due_day=10,
        base_url="https://clauses.example.org",
        link_days=60,
        facilitator_name="Camille Martin",
        facilitator_email="camille.martin@example.org",
        facilitator_phone="05 62 00 00 00",
        facilitator_title="Facilitatrice",
        facilitator_organisation="Maison de l'emploi",
    )
    context = dict(registry.sample(kind, settings).context)
    context.update(
        months=[date(2026, 9, 1), date(2026, 10, 1)],
        months_count=2,
        month_phrase="de septembre et d'octobre 2026",
        asked_again=[asked],
    )
    rendered = TemplateRenderer(signature=SIGNATURE).render(kind, context)
    return squash(rendered.text), squash(rendered.html)


def test_the_alert_names_the_month_asked_again_among_others() -> None:
    text, html = _render("declaration_escalation")
    assert "n'a pas transmis ses déclarations" in text
    assert (
        "Sa déclaration de septembre 2026 m'était parvenue le 6 octobre 2026 ; je l'ai annulée "
        "le 3 novembre 2026 (motif : « Heures du lot 02 ») et la lui ai redemandée le même "
        "jour, à transmettre dès que possible."
    ) in text
    assert "(motif&nbsp;: «&nbsp;Heures du lot 02&nbsp;»)" in html


def test_the_reminder_names_the_month_asked_again_among_others() -> None:
    text, _ = _render("declaration_reminder")
    assert (
        "La déclaration de septembre 2026 m'était parvenue le 6 octobre 2026 ; je l'ai annulée "
        "le 3 novembre 2026 (motif : « Heures du lot 02 ») et vous l'ai redemandée le même jour."
    ) in text


def test_a_month_corrected_before_its_cancellation_is_said_received_then_corrected() -> None:
    """As the cancellation's email said: the first reception, then the correction."""
    corrected = {
        **ASKED,
        "corrected_on": date(2026, 10, 9),
        "received_words": "reçue le 6 octobre 2026 et corrigée le 9 octobre 2026",
        "corrected_words": "corrigée le 9 octobre 2026",
    }
    for kind in ("declaration_reminder", "declaration_escalation"):
        text, html = _render(kind, corrected)
        assert (
            "m'était parvenue le 6 octobre 2026 (corrigée le 9 octobre 2026) ; je l'ai annulée "
            "le 3 novembre 2026"
        ) in text, kind
        assert "m'était parvenue le 6 octobre 2026 (corrigée le 9 octobre 2026)&nbsp;;" in html
