"""A territory's summary emails, their CSS inlined with the tables left out of the inliner's
parse (``adapters.templates.TableShortcut``), byte for byte as the whole document inlined.

A territory is generated (``bench/generate.py``, 600 lots, seed 5), a buyer and companies named
with every character HTML escapes, and each summary email of October (the facilitator's, each
buyer's) rendered twice: by the renderer, and by the same renderer inlining every email's whole
HTML as it did before. Subject, text and HTML must be the same strings.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import date, datetime
from zoneinfo import ZoneInfo

from rich.console import Console
from sqlalchemy import select, update

from bench.generate import generate
from workflow.adapters.orm import Buyer, Company
from workflow.adapters.templates import TemplateRenderer
from workflow.bootstrap import App
from workflow.emails.summaries import KIND_BUYER, KIND_FACILITATOR, summary_email
from workflow.services.summaries import compile_month

PARIS = ZoneInfo("Europe/Paris")
FIRST_MORNING = datetime(2026, 11, 23, 9, 5, tzinfo=PARIS)
OCTOBER = date(2026, 10, 1)
ODD_NAMES = ['Ville <d\'Aÿ> & "Fils"', "L'Île\u00a0&amp; <b>Co</b>", "A > B « C »"]


class Counted(TemplateRenderer):
    """The renderer, counting what the CSS inliner is given."""

    def __init__(self, signature: Mapping[str, str]) -> None:
        super().__init__(signature=signature)
        self.given: list[int] = []
        self.whole: list[int] = []

    def _inline(self, html: str) -> str:
        self.whole.append(len(html))
        return super()._inline(html)

    def _inline_whole(self, html: str) -> str:
        self.given.append(len(html))
        return super()._inline_whole(html)


class WholeInliner(TemplateRenderer):
    """The renderer as it was: every email's whole HTML through the inliner."""

    def _inline(self, html: str) -> str:
        return self._inline_whole(html)


def test_the_summary_emails_inline_the_same_bytes(app: App, database_url: str) -> None:
    generate(600, 5, database_url, console=Console(file=io.StringIO()))
    with app.transaction() as session:
        first = session.scalars(select(Buyer.id).order_by(Buyer.id)).first()
        session.execute(update(Buyer).where(Buyer.id == first).values(name=ODD_NAMES[0]))
        companies = session.scalars(select(Company.id).order_by(Company.id).limit(2)).all()
        for company, name in zip(companies, ODD_NAMES[1:], strict=True):
            session.execute(update(Company).where(Company.id == company).values(name=name))
    signature = app.renderer.signature
    new = Counted(signature=signature)
    old = WholeInliner(signature=signature)
    settings = app.settings
    with app.transaction() as session:
        batch = compile_month(
            session,
            OCTOBER,
            now=FIRST_MORNING,
            zone=settings.zone,
            outcome_groups=settings.outcome_groups,
        )
        summaries = [(KIND_FACILITATOR, batch.summary)] + [
            (KIND_BUYER, batch.of_buyer(b)) for b in batch.informed
        ]
    assert len(summaries) == 7
    odd = 0
    for kind, summary in summaries:
        context, _attachments = summary_email(summary)
        expected = old.render(kind, context)
        assert new.render(kind, context) == expected, (kind, summary.buyer_id)
        odd += '&lt;d\'Aÿ&gt; &amp; "Fils"' in expected.html
        odd += "L'Île&nbsp;&amp;amp; &lt;b&gt;Co&lt;/b&gt;" in expected.html
    # Not vacuous: the odd names are in the tables, and the inliner read the emails shortened.
    assert odd >= 2
    assert len(new.given) == len(new.whole) == 7
    assert sum(new.given) < sum(new.whole) * 0.7
