"""The 08:00 pass's summary emails, byte for byte as the per-cell templates wrote them.

The tables of the summary emails are now written in Python (``emails.summaries.table_html``)
and the emails queued ``QUEUE_BATCH`` at a time (``outbox.queue_emails``), for speed
(BENCHMARKS.md, summaries). Nothing a recipient reads may change: every email of a generated
territory (the facilitator's and six buyers', long tables cut, attachments) is rendered again
with the former template of the tables, the loop of cells in Jinja, and compared with the
outbox row the pass wrote: subject, text, HTML, recipients and attachments.
"""

from __future__ import annotations

import io
import shutil
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console
from sqlalchemy import select, update

from bench.generate import generate
from workflow.adapters.orm import Buyer, OutboxMessage
from workflow.adapters.templates import TemplateRenderer, templates_root
from workflow.bootstrap import App
from workflow.emails.summaries import KIND_BUYER, KIND_FACILITATOR, summary_email
from workflow.services.outbox import EmailToQueue, message_attachments, queue_emails
from workflow.services.summaries import compile_month, queue_monthly_summaries

PARIS = ZoneInfo("Europe/Paris")
#: The morning October's summaries are due after the generator's instant (20 November), an hour
#: late: a week later, with no pass since, they would say they are late (« le service était
#: interrompu »), which the recompiled context below does not.
FIRST_MORNING = datetime(2026, 11, 23, 9, 5, tzinfo=PARIS)
OCTOBER = date(2026, 10, 1)

#: ``monthly_summary/_tables.html`` before the tables were written in Python.
PER_CELL_TABLES = """\
{% for table in tables %}
<h2>{{ table.title }}</h2>
<table class="figures">
  <tr>{% for column in table.columns %}<th>{{ column }}</th>{% endfor %}</tr>
  {% for row in table.rows %}
  <tr>{% for cell in row %}{% if table.numeric[loop.index0] %}<td class="num">{{ cell }}</td>\
{% else %}<td style="overflow-wrap:anywhere;vertical-align:top">{{ cell }}</td>{% endif %}\
{% endfor %}</tr>
  {% endfor %}
</table>
{% if table.note %}
<p class="muted">{{ table.note }}</p>
{% endif %}
{% endfor %}
"""


@pytest.fixture
def territory(app: App, database_url: str) -> App:
    """600 lots, six buyers, a year of declarations (``bench/generate.py``, seed 5); a buyer
    named with every character HTML escapes, so that the escaping is compared too."""
    generate(600, 5, database_url, console=Console(file=io.StringIO()))
    with app.transaction() as session:
        first = session.scalars(select(Buyer.id).order_by(Buyer.id)).first()
        session.execute(
            update(Buyer).where(Buyer.id == first).values(name='Ville <d\'Aÿ> & "Fils"')
        )
    return app


def per_cell_renderer(app: App, tmp_path: Path) -> TemplateRenderer:
    """The email templates as they were: the tables' cells looped over in Jinja."""
    root = tmp_path / "templates"
    shutil.copytree(templates_root(), root)
    (root / "emails" / "monthly_summary" / "_tables.html").write_text(PER_CELL_TABLES)
    return TemplateRenderer(root, app.renderer.signature)


def test_the_summary_emails_are_the_bytes_the_per_cell_templates_wrote(
    territory: App, tmp_path: Path
) -> None:
    assert queue_monthly_summaries(territory, FIRST_MORNING) == 7  # the facilitator, six buyers
    before = per_cell_renderer(territory, tmp_path)
    settings = territory.settings
    with territory.transaction() as session:
        rows = {
            row.key: row
            for row in session.scalars(
                select(OutboxMessage).where(OutboxMessage.key.like("summary:2026-10:%"))
            )
        }
        files = message_attachments(session, [row.id for row in rows.values()])
        batch = compile_month(
            session,
            OCTOBER,
            now=FIRST_MORNING,
            zone=settings.zone,
            outcome_groups=settings.outcome_groups,
        )
        summaries = {"summary:2026-10:facilitator": (KIND_FACILITATOR, batch.summary)} | {
            f"summary:2026-10:buyer:{b}": (KIND_BUYER, batch.of_buyer(b)) for b in batch.informed
        }
        assert set(rows) == set(summaries)
        cut = 0
        for key, (kind, summary) in summaries.items():
            context, attachments = summary_email(summary)
            expected = before.render(kind, context)
            row = rows[key]
            assert (row.subject, row.body_text) == (expected.subject, expected.text), key
            assert row.body_html == expected.html, key
            assert [(a.filename, a.content) for a in files.get(row.id, [])] == [
                (a.filename, a.content) for a in attachments
            ], key
            cut += bool(attachments)
    # Not vacuous: long tables cut (the facilitator's at least), the odd name escaped.
    assert cut >= 1
    # (The CSS inliner writes the quotes back as they are.)
    assert 'Ville &lt;d\'Aÿ&gt; &amp; "Fils"' in rows["summary:2026-10:facilitator"].body_html


def test_a_batch_writes_each_key_once_and_counts_what_it_wrote(app: App) -> None:
    """``queue_emails``: a key already written, or twice in the batch, is written once; the
    attachments go with the rows written, in their order."""
    from workflow.adapters.mail.message import Attachment
    from workflow.services.outbox import Recipient

    to = [Recipient("Donneur", "donneur@example.org")]
    context = {"subject_line": "x"}
    now = FIRST_MORNING

    def email(key: str, *files: str) -> EmailToQueue:
        attached = tuple(Attachment(f, "text/csv", f.encode()) for f in files)
        return EmailToQueue(key, "test_batch", to, context, attachments=attached)

    class Renderer:
        def render(self, kind: str, context: object) -> object:
            from workflow.adapters.templates import RenderedEmail

            return RenderedEmail("Sujet", "texte", "<p>html</p>")

    renderer = Renderer()
    with app.transaction() as session:
        first = queue_emails(session, renderer, [email("k1", "a.csv")], now=now)  # type: ignore[arg-type]
    with app.transaction() as session:
        emails = [email("k1"), email("k2", "b.csv", "c.csv"), email("k2"), email("k3")]
        second = queue_emails(session, renderer, emails, now=now, batch=3)  # type: ignore[arg-type]
        written = {
            row.key: row.id
            for row in session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == "test_batch")
            )
        }
        files = message_attachments(session, list(written.values()))
    assert (first, second) == (1, 2)
    assert sorted(written) == ["k1", "k2", "k3"]
    assert [a.filename for a in files[written["k1"]]] == ["a.csv"]
    assert [a.filename for a in files[written["k2"]]] == ["b.csv", "c.csv"]
    assert written["k3"] not in files
