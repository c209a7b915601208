"""The resumption's email to a company: a day already past is « sous peu », and a suspension its
reader never read is told with its dates and reason (text and HTML, French typography)."""

from __future__ import annotations

from datetime import date

from tests.text import squash, visible
from workflow.adapters.templates import TemplateRenderer
from workflow.emails.company_pauses import RESUMED, NextCall, OwedMonth, resumed_context
from workflow.emails.samples import HOLDER, HOLDER_CORRESPONDENT, LOT

NBSP = "\u00a0"
SIGNATURE = {
    "name": "Camille Martin",
    "title": "Facilitatrice des clauses sociales",
    "organisation": "Maison de l'emploi de l'Exemple",
    "email": "camille.martin@example.org",
    "phone": "05 62 00 00 00",
    "extra": "",
}


def render(reason: str | None = None, **changes: object) -> tuple[str, str, str]:
    context = resumed_context(
        LOT,
        HOLDER.company,
        HOLDER_CORRESPONDENT,
        at=date(2026, 9, 1),
        suspended_on=date(2026, 8, 3),
        reason=reason,
        owed=[
            OwedMonth(
                date(2026, 7, 1),
                date(2026, 9, 8),
                next_step="reminder_1",
                next_on=date(2026, 9, 11),
            ),
            OwedMonth(
                date(2026, 6, 1),
                date(2026, 8, 20),
                next_step="escalation",
                next_on=date(2026, 9, 14),
            ),
        ],
        next_call=NextCall(date(2026, 9, 16), (date(2026, 8, 1),), date(2026, 9, 25)),
        skipped=[],
        **changes,  # type: ignore[arg-type]
    )
    rendered = TemplateRenderer(signature=SIGNATURE).render(RESUMED, context)
    return rendered.subject, squash(rendered.text), squash(visible(rendered.html))


def test_a_step_day_already_past_when_written_again_is_sous_peu() -> None:
    """Written again on 15 September (``stale_promises``) before a pass caught the ladders up:
    July's reminder of the 11th and June's alert of the 14th are « sous peu », never a past
    day; the call of the 16th is still named."""
    _, text, html = render(written_on=date(2026, 9, 15))
    assert "- juillet 2026 : attendue depuis le 8 septembre 2026 ; prochain rappel sous peu" in (
        text
    ), text
    assert "le donneur d'ordre en sera alerté sous peu" in text, text
    assert "11 septembre 2026" not in text and "14 septembre 2026" not in text
    assert "Le 16 septembre 2026, vous recevrez l'appel à déclarer" in text
    assert "prochain rappel sous peu" in html and "11 septembre" not in html
    # Written on the resumption's day, the days are named.
    _, text, _ = render()
    assert "prochain rappel le 11 septembre 2026" in text
    assert "en sera alerté le 14 septembre 2026" in text


def test_a_suspension_never_read_is_told_with_its_dates_and_reason() -> None:
    subject, text, html = render(
        untold={"on": date(2026, 8, 3), "reason": "Fouilles archéologiques"},
        reason="Fouilles terminées",
    )
    assert subject.startswith("Suspension et reprise de la clause d'insertion : ")
    assert (
        "a été suspendue le 3 août 2026, puis a repris le 1er septembre 2026. "
        "Motif de la suspension : Fouilles archéologiques "
        "Mon courriel vous annonçant la suspension n'était pas encore parti lors de la reprise : "
        "je ne vous l'ai pas envoyé, ce message vous dit l'une et l'autre. "
        "Précision sur la reprise : Fouilles terminées"
    ) in text, text
    assert f"Motif de la suspension{NBSP}: Fouilles archéologiques" in html, html
    assert "suspendue depuis" not in text
    # The same day: « le jour même ».
    _, text, _ = render(untold={"on": date(2026, 9, 1), "reason": None})
    assert "a été suspendue le 1er septembre 2026, puis a repris le jour même." in text, text
    assert "Aucun motif n'a été indiqué pour la suspension." in text, text
