"""The buyer's notice of a company's departure lists the months it still owes as a sentence
lists things: commas, then « et » before the last (user trial, 7 December 2026: « d'avril 2026
(…), de mai 2026 (…), de juin 2026 (…) »)."""

from __future__ import annotations

from datetime import date

from tests.text import squash
from tests.unit.test_templates import SIGNATURE
from workflow.adapters.templates import TemplateRenderer
from workflow.emails import registry
from workflow.settings import Settings


def _owed(phrase: str, due_on: date) -> dict[str, object]:
    return {"phrase": phrase, "due_on": due_on, "late": True, "at_resumption": False}


def _render(owed: list[dict[str, object]]) -> tuple[str, str]:
    context = dict(registry.sample("notice_company_left", Settings()).context)
    context.update(owed=owed, owed_count=len(owed))
    rendered = TemplateRenderer(signature=SIGNATURE).render("notice_company_left", context)
    return squash(rendered.text), squash(rendered.html).replace("&nbsp;", " ")


def test_three_months_owed_end_with_et() -> None:
    text, html = _render(
        [
            _owed("d'avril 2026", date(2026, 5, 11)),
            _owed("de mai 2026", date(2026, 6, 10)),
            _owed("de juin 2026", date(2026, 7, 10)),
        ]
    )
    said = (
        "me doit encore ses déclarations d'avril 2026 (attendue le 11 mai 2026), de mai 2026 "
        "(attendue le 10 juin 2026) et de juin 2026 (attendue le 10 juillet 2026) : ce message "
        "ne les concerne pas."
    )
    assert said in text, text
    assert said in html, html


def test_two_months_are_joined_by_et_and_one_stands_alone() -> None:
    two, _ = _render(
        [_owed("d'avril 2026", date(2026, 5, 11)), _owed("de mai 2026", date(2026, 6, 10))]
    )
    assert "d'avril 2026 (attendue le 11 mai 2026) et de mai 2026 (attendue le 10 juin" in two
    one, _ = _render([_owed("de mai 2026", date(2026, 6, 10))])
    assert "sa déclaration de mai 2026 (attendue le 10 juin 2026) : ce message ne la" in one
