"""The words of a closure: the buyer's final report written once the clause is closed, and the
company told of months released at the closure, late or not yet due."""

from __future__ import annotations

from datetime import date

import pytest

from tests.text import squash, visible
from workflow.adapters.templates import TemplateRenderer
from workflow.emails.company_ends import RELEASED, released_context
from workflow.emails.notices import Outstanding, notice_context, outstanding_reason, sample_results
from workflow.emails.samples import HOLDER, HOLDER_CORRESPONDENT, LOT, PARTIES

NBSP = "\u00a0"
OCT, NOV, DEC = date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1)
CLOSED_ON = date(2027, 1, 8)


@pytest.fixture(scope="module")
def renderer() -> TemplateRenderer:
    return TemplateRenderer(signature={"name": "Camille Martin", "title": "", "organisation": "",
                                       "email": "c@example.org", "phone": "", "extra": ""})  # fmt: skip


def report(
    renderer: TemplateRenderer, missing: list[date], closed_on: date | None
) -> tuple[str, str]:
    reason = outstanding_reason([Outstanding(HOLDER.company, tuple(missing))] if missing else [])
    context = notice_context(
        LOT,
        PARTIES,
        due_day=10,
        at=date(2027, 1, 8),
        reason=reason,
        results=sample_results(),
        closed_on=closed_on,
    )
    rendered = renderer.render("notice_final_report", context)
    return squash(rendered.text), visible(rendered.html)


@pytest.mark.parametrize(
    ("missing", "said"),
    [
        (
            [DEC],
            "La clause a été clôturée le 8 janvier 2027 : ce mois n'est plus demandé et ses heures "
            "ne seront comptées dans aucun total.",
        ),
        (
            [NOV, DEC],
            "La clause a été clôturée le 8 janvier 2027 : ces mois ne sont plus demandés et leurs "
            "heures ne seront comptées dans aucun total.",
        ),
        ([], "La clause a été clôturée le 8 janvier 2027. Merci"),
    ],
)
def test_a_final_report_written_once_closed_says_so(
    renderer: TemplateRenderer, missing: list[date], said: str
) -> None:
    text, html = report(renderer, missing, CLOSED_ON)
    assert said in text, text
    assert "d'ici là" not in text and "sera ensuite clôturée" not in text
    assert said.replace(" : ", f"{NBSP}: ") in html, html


def test_a_final_report_before_the_closure_still_says_what_comes(
    renderer: TemplateRenderer,
) -> None:
    text, html = report(renderer, [DEC], None)
    assert (
        "La clause sera ensuite clôturée : ce mois ne sera alors plus demandé ; d'ici là, il "
        "peut encore être déclaré."
    ) in text, text
    assert f"La clause sera ensuite clôturée{NBSP}: ce mois" in html


def released(
    renderer: TemplateRenderer, months: list[date], not_due: dict[date, date]
) -> tuple[str, str, str]:
    context = released_context(
        LOT,
        HOLDER.company,
        HOLDER_CORRESPONDENT,
        end_date=date(2026, 12, 31),
        months=months,
        may_arrive=[],
        closed_on=CLOSED_ON,
        not_due=not_due,
    )
    rendered = renderer.render(RELEASED, context)
    return squash(rendered.subject), squash(rendered.text), visible(rendered.html)


@pytest.mark.parametrize(
    ("months", "not_due", "said"),
    [
        (
            [DEC],
            {DEC: date(2027, 1, 11)},
            "La déclaration de décembre 2026 vous avait été demandée pour le 11 janvier 2027 ; "
            "elle n'était pas encore due. Elle ne vous est plus demandée : vous n'avez plus rien "
            "à déclarer pour ce lot.",
        ),
        (
            [NOV, DEC],
            {DEC: date(2027, 1, 11)},
            "La déclaration de novembre 2026 vous avait été demandée et ne m'est pas parvenue ; "
            "celle de décembre 2026, demandée pour le 11 janvier 2027, n'était pas encore due. "
            "Elles ne vous sont plus demandées : vous n'avez plus rien à déclarer pour ce lot.",
        ),
        (
            [OCT, NOV, DEC],
            {DEC: date(2027, 1, 11)},
            "Les déclarations d'octobre et de novembre 2026 vous avaient été demandées et ne me "
            "sont pas parvenues ; celle de décembre 2026, demandée pour le 11 janvier 2027, "
            "n'était pas encore due. Elles ne vous sont plus demandées",
        ),
        (
            [NOV, DEC],
            {NOV: date(2027, 1, 8), DEC: date(2027, 1, 11)},
            "Les déclarations de novembre et de décembre 2026 vous avaient été demandées ; elles "
            "n'étaient pas encore dues. Elles ne vous sont plus demandées",
        ),
        (
            [NOV],
            {},
            "La déclaration de novembre 2026 vous avait été demandée et ne m'est pas parvenue. "
            "Elle ne vous est plus demandée : vous n'avez plus rien à déclarer pour ce lot.",
        ),
    ],
)
def test_the_company_reads_months_late_and_months_not_yet_due_apart(
    renderer: TemplateRenderer, months: list[date], not_due: dict[date, date], said: str
) -> None:
    subject, text, html = released(renderer, months, not_due)
    assert said in text, text
    assert said.replace(" : ", f"{NBSP}: ").replace(" ; ", f"{NBSP}; ") in html, html
    assert subject.startswith("Clause clôturée : déclaration")
    if all(m in not_due for m in months):
        assert "parvenu" not in text, text
