"""The email templates: a snapshot of every kind's text part, escaping, French formats.

Snapshots live in ``tests/unit/snapshots/<kind>.txt`` (subject, blank line, text part), one per
template directory, each rendered from a fixed sample context (no today's date, no setting read
from the environment). After a deliberate change of wording, regenerate them with
``UPDATE_SNAPSHOTS=1 pytest tests/unit`` and read the diff before committing it.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from jinja2 import StrictUndefined, UndefinedError

from workflow.adapters.orm import Buyer, Clause, Market, Operation
from workflow.adapters.templates import (
    EmailEnvironment,
    TemplateRenderer,
    french_date,
    remembered,
)
from workflow.emails import registry, samples
from workflow.emails.howto import build_howto
from workflow.emails.lots import schedule_context
from workflow.emails.notices import notice_context
from workflow.emails.welcome import welcome_context
from workflow.services import notices
from workflow.settings import Settings

SNAPSHOTS = Path(__file__).parent / "snapshots"
SIGNATURE = {
    "name": "Camille Martin",
    "title": "Facilitatrice des clauses sociales",
    "organisation": "Maison de l'emploi de l'Exemple",
    "email": "camille.martin@example.org",
    "phone": "05 62 00 00 00",
    "extra": "",
}


@pytest.fixture(scope="module")
def renderer() -> TemplateRenderer:
    return TemplateRenderer(signature=SIGNATURE)


ALL_KINDS = registry.kinds()
#: The kinds about one lot, whose HTML title names it.
LOT_KINDS = [
    kind
    for family in registry.FAMILIES
    if family.name in ("notices", "welcome", "receipts")
    for kind in family.kinds
]


@pytest.fixture(scope="module")
def settings() -> Settings:
    # Everything the contexts read is pinned: ``model_construct`` reads no environment variable,
    # no .env and no config/clauses.toml, so a snapshot is the same on every machine.
    return Settings.model_construct(
        database_url="sqlite://",
        timezone="Europe/Paris",
        declaration_due_day=10,
        reminder_offsets="3,7",
        escalation_offset=15,
        call_time=time(9, 0),
        facilitator_name=SIGNATURE["name"],
        facilitator_title=SIGNATURE["title"],
        facilitator_organisation=SIGNATURE["organisation"],
        facilitator_email=SIGNATURE["email"],
        facilitator_phone=SIGNATURE["phone"],
        facilitator_signature="",
    )


@pytest.fixture
def pinned(settings: Settings) -> Settings:
    return settings


def sample(kind: str, settings: Settings) -> dict[str, Any]:
    return dict(registry.sample(kind, settings).context)


def snapshot_text(renderer: TemplateRenderer, kind: str, settings: Settings) -> str:
    rendered = renderer.render(kind, sample(kind, settings))
    return f"{rendered.subject}\n\n{rendered.text}"


def test_every_template_has_a_family_that_writes_it_and_each_kind_a_template(
    renderer: TemplateRenderer,
) -> None:
    # Adding a kind touches ``workflow/emails/`` and ``templates/emails/`` only: both must agree.
    assert renderer.kinds() == ALL_KINDS
    kinds = [kind for family in registry.FAMILIES for kind in family.kinds]
    assert len(kinds) == len(set(kinds)), "a kind written by two families"


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_it_renders_the_text_part_as_in_its_snapshot(
    renderer: TemplateRenderer, pinned: Settings, kind: str
) -> None:
    text = snapshot_text(renderer, kind, pinned)
    path = SNAPSHOTS / f"{kind}.txt"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no snapshot for {kind}: run UPDATE_SNAPSHOTS=1 pytest {__file__}"
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_it_renders_the_same_text_whatever_the_day(
    renderer: TemplateRenderer, pinned: Settings, kind: str
) -> None:
    # A sample context that read the clock would make the snapshot fail some other day.
    texts = set()
    for day in (datetime(2019, 1, 1, 3, 0, tzinfo=UTC), datetime(2031, 7, 14, 22, 0, tzinfo=UTC)):
        with time_machine.travel(day, tick=False):
            texts.add(snapshot_text(renderer, kind, pinned))
    assert len(texts) == 1


@pytest.mark.parametrize("kind", LOT_KINDS)
def test_it_inlines_the_css_of_the_html_part(
    renderer: TemplateRenderer, settings: Settings, kind: str
) -> None:
    context = sample(kind, settings)
    html = renderer.render(kind, context).html
    assert "<style" not in html
    assert 'style="' in html
    assert "Camille Martin" in html
    assert "<title>" in html and "lot 3 – Gros œuvre" in html


def test_it_escapes_a_company_name_in_the_html_part(
    renderer: TemplateRenderer, settings: Settings
) -> None:
    holder = replace(samples.HOLDER, company="<script>alert('x')</script> & Fils")
    howto = build_howto(samples.LOT, holder.company, None, [date(2026, 3, 1)], due_day=10)
    context = welcome_context(
        samples.LOT,
        (holder, samples.PARTNER),
        holder,
        samples.HOLDER_CORRESPONDENT,
        due_day=10,
        howto=howto,
    )

    rendered = renderer.render("company_welcome", context)

    assert "<script>" not in rendered.html
    assert "&lt;script&gt;" in rendered.html
    assert "&amp; Fils" in rendered.html
    # The text part is plain text: no entities there.
    assert "<script>alert('x')</script> & Fils est titulaire" in rendered.text


def test_it_keeps_a_line_break_out_of_the_subject(
    renderer: TemplateRenderer, settings: Settings
) -> None:
    lot = replace(samples.LOT, operation="Collège\r\nBcc: victime@example.org")
    context = notice_context(lot, samples.PARTIES, due_day=10, at=date(2026, 3, 2), reason=None)

    subject = renderer.render("notice_identified", context).subject

    assert "\n" not in subject and "\r" not in subject
    assert subject.startswith("Clause d'insertion repérée – Collège Bcc: victime@example.org")


def test_it_never_gives_a_remembered_date_to_an_equal_instant_of_another_zone() -> None:
    remembered_date = remembered(french_date)
    evening = datetime(2026, 8, 31, 22, 30, tzinfo=UTC)
    in_paris = evening.astimezone(ZoneInfo("Europe/Paris"))  # the same instant, 1 September
    assert evening == in_paris

    assert remembered_date(evening) == "31 août 2026"
    assert remembered_date(in_paris) == "1er septembre 2026"
    assert remembered_date(evening) == "31 août 2026"


def test_it_reads_a_dict_key_or_a_dict_method_as_jinja_does() -> None:
    environment = EmailEnvironment(undefined=StrictUndefined)
    template = environment.from_string("{{ d.name }} {{ d.items is callable }} {{ n.real }}")

    assert template.render(d={"name": "Élodie", "items": "x"}, n=3) == "Élodie True 3"
    with pytest.raises(UndefinedError):
        environment.from_string("{{ d.missing }}").render(d={})


def test_it_writes_the_first_of_the_month_the_french_way() -> None:
    assert french_date(date(2026, 9, 1)) == "1er septembre 2026"
    assert french_date(date(2026, 9, 2)) == "2 septembre 2026"
    # With its weekday too (the digest's first sentence), as its subject writes it.
    assert french_date(date(2027, 4, 1), "EEEE d MMMM y") == "jeudi 1er avril 2027"
    assert french_date(date(2027, 4, 2), "EEEE d MMMM y") == "vendredi 2 avril 2027"
    # A date in figures keeps its « 1 ».
    assert french_date(date(2027, 4, 1), "d/MM/y") == "1/04/2027"


def test_it_follows_the_lot_due_day_over_the_buyer_and_the_default(settings: Settings) -> None:
    buyer = Buyer(name="Département de l'Exemple", declaration_due_day=None)
    market = Market(operation=Operation(buyer=buyer, name="Collège"), reference="2025-014")
    clause = Clause(
        id=42, market=market, lot_title="Gros œuvre", declaration_due_day=None, stage="execution"
    )
    assert notices.due_day_of(clause, settings) == 10
    buyer.declaration_due_day = 15
    assert notices.due_day_of(clause, settings) == 15
    clause.declaration_due_day = 5

    assert notices.due_day_of(clause, settings) == 5
    schedule = schedule_context(samples.LOT, notices.due_day_of(clause, settings))
    # March 2026 to June 2027; 5 April 2026 is Easter Sunday, Easter Monday is a holiday.
    assert len(schedule) == 16
    assert schedule[0] == {"month": date(2026, 3, 1), "due_on": date(2026, 4, 7)}
    assert schedule[-1]["month"] == date(2027, 6, 1)


def test_it_masks_participant_references_in_a_final_report() -> None:
    text = "P-2026-031 et p-2026-0311 ont signé ; P-2026-03 aussi."
    masked = notices.mask_references(text, ["P-2026-03", "P-2026-031", "P-2026-0311"])
    assert masked == f"{notices.MASK} et {notices.MASK} ont signé ; {notices.MASK} aussi."
    assert notices.mask_references(None, ["X"]) is None


def test_it_describes_the_columns_the_declaration_import_reads(settings: Settings) -> None:
    from workflow.adapters.declaration_columns import DECLARATION_COLUMNS

    context = sample("company_welcome", settings)
    titles = [column["title"] for column in context["declaration_howto"]["columns"]]
    # Every column the import reads, in its order, named as it recognises it: criterion included.
    assert titles == [column.label for column in DECLARATION_COLUMNS]
    assert all(any(c.matches(t) for c in DECLARATION_COLUMNS) for t in titles)
    assert "Critère d'éligibilité" in titles
