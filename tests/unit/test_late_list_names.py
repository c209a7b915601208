"""``emails.ladder.late_list_names`` reads the months a call or a reminder names as late from the
words its template really renders (``_base/late_before.txt``): one month in a sentence, several
in a list; never a month the email merely mentions elsewhere (its own month, a due date)."""

from __future__ import annotations

from datetime import date

import pytest

from workflow.adapters.templates import TemplateRenderer
from workflow.emails import registry
from workflow.emails.ladder import (
    KIND_CALL,
    KIND_REMINDER,
    LateMonth,
    late_before_context,
    late_list_names,
)
from workflow.settings import Settings

APR, AUG, SEP, OCT = (date(2026, m, 1) for m in (4, 8, 9, 10))


@pytest.fixture(scope="module")
def renderer() -> TemplateRenderer:
    return TemplateRenderer(
        signature={
            "name": "Camille Martin",
            "title": "Facilitatrice",
            "organisation": "MDE",
            "email": "camille.martin@example.org",
            "phone": "",
            "extra": "",
        }
    )


def body(renderer: TemplateRenderer, kind: str, late: list[LateMonth]) -> str:
    """The plain text of the sample October ``kind`` naming ``late``."""
    context = dict(registry.sample(kind, Settings()).context)
    context["late_before"] = late_before_context(late, date(2026, 11, 2))
    return renderer.render(kind, context).text


def late(month: date, due_on: date, reminders: int = 0) -> LateMonth:
    return LateMonth(month, due_on, reminders, alerted_on=None, alert_on=None)


@pytest.mark.parametrize("kind", [KIND_CALL, KIND_REMINDER])
def test_one_month_in_a_sentence(renderer: TemplateRenderer, kind: str) -> None:
    text = body(renderer, kind, [late(SEP, date(2026, 10, 12), 2)])
    assert "Par ailleurs, la déclaration de septembre 2026, attendue le 12 octobre 2026" in text
    assert late_list_names(text, SEP)
    # October is the email's own month; August is not named; September's due date is in
    # October: none of them is read as late.
    assert not late_list_names(text, OCT)
    assert not late_list_names(text, AUG)


@pytest.mark.parametrize("kind", [KIND_CALL, KIND_REMINDER])
def test_several_months_in_a_list(renderer: TemplateRenderer, kind: str) -> None:
    text = body(renderer, kind, [late(APR, date(2026, 5, 11)), late(SEP, date(2026, 10, 12), 1)])
    assert "ces déclarations ne me sont toujours pas parvenues :\n- avril 2026" in text
    assert late_list_names(text, APR)
    assert late_list_names(text, SEP)
    assert not late_list_names(text, AUG)
    assert not late_list_names(text, OCT)


def test_nothing_late(renderer: TemplateRenderer) -> None:
    text = body(renderer, KIND_CALL, [])
    assert "Par ailleurs" not in text
    assert not any(late_list_names(text, m) for m in (APR, AUG, SEP, OCT))


def test_an_alert_planned_for_the_email_s_own_day_is_said_today() -> None:
    """A call of 2 November, September's alert planned that day: « aujourd'hui », not « le 2
    novembre 2026 » as of a day to come; planned later, its date; queued before, done."""
    today = date(2026, 11, 2)

    def status(alerted_on: date | None, alert_on: date | None) -> list[str]:
        month = LateMonth(SEP, date(2026, 10, 12), 2, alerted_on=alerted_on, alert_on=alert_on)
        return list(late_before_context([month], today)[0]["status"])

    assert status(None, today) == [
        "relancée deux fois",
        "je dois en informer le donneur d'ordre aujourd'hui",
    ]
    assert status(None, date(2026, 11, 9))[1] == (
        "je dois en informer le donneur d'ordre le 9 novembre 2026"
    )
    assert status(date(2026, 10, 26), None)[1] == ("signalée au donneur d'ordre le 26 octobre 2026")
