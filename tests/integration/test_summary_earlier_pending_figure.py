"""The declarations of earlier months not due yet are one of the summary's figures (6 December
2026).

A suspension's resumption pushes March's due date past April's summary: April's email says
« Déclarations des mois précédents attendues, pas encore dues : mars 2027 de … (…, échéance
reportée au 25 mai 2027) ». That sentence was a paragraph of the email's templates only:
``clauses summary`` did not print it and ``audit verify`` did not read it. Now it is a line of
``figure_lines``: the email, ``clauses summary --now`` at the email's moment and the audit say
the same words; an email that says otherwise is a problem; an email written before, with the
paragraph, is checked by its paragraph; one that says nothing of them is a remark quoting what
it would say now.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from tests.integration._ladders import Lot, declare, make_lot
from tests.integration.test_end_date_correction import paris
from tests.integration.test_lot_terminated import plain
from tests.integration.test_summary_truth import Email, figure_lines, summary_emails
from tests.integration.test_terminated_lot_pace import app, buyer_email, settings
from workflow.adapters.orm import Clause, Market, OutboxMessage
from workflow.app.audit import verify_database
from workflow.bootstrap import App
from workflow.domain.stages import ClauseEvent
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.services.audit.reading import html_parts
from workflow.services.clauses import advance_clause
from workflow.services.ticks import TimedAction, simulate

pytestmark = pytest.mark.scenario

__all__ = ["app", "settings"]  # the fixtures

JAN, MAR, APR = date(2027, 1, 1), date(2027, 3, 1), date(2027, 4, 1)
TITLE = "Déclarations des mois précédents attendues, pas encore dues"
NBSP = "\u00a0"


def event(app: App, lot: Lot, at: datetime, kind: ClauseEvent, reason: str | None) -> None:
    with app.transaction() as session:
        advance_clause(
            session, lot.clause_id, kind, actor="test", reason=reason, now=at, publish=app.publish
        )


def pushed_by_a_suspension(app: App) -> tuple[Lot, str]:
    """Lot 1 suspended on 8 April 2027, resumed on 20 May: March's due date moves to 25 May,
    past April's summary (1 June). Another buyer's lot runs."""
    lot = make_lot(
        app, start=JAN, end=date(2027, 12, 31), at=paris(JAN, 10),
        companies=("Titulaire", "Cotraitant"),
    )  # fmt: skip
    actions = [
        TimedAction(paris(date(2027, m + 1, 5), 11 + c), f"{m}-{c}",
                    lambda a, at, m=m, c=c: declare(a, lot, date(2027, m, 1), at, company=c))
        for m in (1, 2) for c in (0, 1)
    ] + [
        TimedAction(paris(date(2027, 4, 8), 10), "suspend",
                    lambda a, at: event(a, lot, at, ClauseEvent.SUSPEND, "Fouilles")),
        TimedAction(paris(date(2027, 5, 20), 10), "resume",
                    lambda a, at: event(a, lot, at, ClauseEvent.RESUME, None)),
    ]  # fmt: skip
    make_lot(app, start=JAN, end=date(2027, 12, 31), at=paris(JAN, 10))
    simulate(app, JAN, date(2027, 5, 31), actions=actions)
    with app.transaction() as session:
        market = session.get_one(Clause, lot.clause_id).market
        assert isinstance(market, Market)
        return lot, f"{market.reference} lot 1 – Gros œuvre"


def cli_summary(app: App, *args: str) -> str:
    state = CliState()
    state.factory = lambda: app
    result = CliRunner().invoke(cli, ["summary", *args], obj=state)
    assert result.exit_code == 0, result.output
    return result.output


def at_its_moment(email: Email) -> str:
    return email.created_at.astimezone(UTC).isoformat()


def rewrite(
    app: App, key: str, text: str, html: str | None = None, *, before_rules: bool = False
) -> None:
    """The email's parts written again; ``before_rules``, by a service that did not keep the
    rules it wrote under (``rules_revision`` NULL): the audit may read it the older way."""
    values: dict[str, object] = {"body_text": text}
    values |= {"body_html": html} if html else {}
    values |= {"rules_revision": None} if before_rules else {}
    with app.transaction() as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.key == key).values(values))


def problems(app: App) -> list[str]:
    return [f.problem for f in verify_database(app).findings]


def remarks(app: App) -> list[str]:
    return [f.problem for f in verify_database(app).remarks]


def test_the_email_the_cli_and_the_audit_say_the_same_earlier_months_not_due_yet(
    app: App,
) -> None:
    lot, label = pushed_by_a_suspension(app)
    april = buyer_email(app, lot, APR)
    (facilitator,) = [e for e in summary_emails(app) if e.key == "summary:2027-04:facilitator"]
    assert april.created_at > paris(date(2027, 5, 20), 10)

    said = (
        f"mars 2027 de Cotraitant ({label}, échéance reportée au 25 mai 2027) ; "
        f"mars 2027 de Titulaire ({label}, échéance reportée au 25 mai 2027)"
    )
    # The email: one of its figures, in both parts.
    assert plain(figure_lines(april.body_text)[TITLE]) == said
    html_figures, _ = html_parts(april.body_html)
    assert plain(html_figures[TITLE]) == said
    # The facilitator's names the buyer after each lot.
    assert "mars 2027 de Cotraitant (" in figure_lines(facilitator.body_text)[TITLE]
    assert "Gros œuvre – " in figure_lines(facilitator.body_text)[TITLE]
    # The CLI at the email's moment prints the same line.
    printed = cli_summary(
        app, "--month", "2027-04", "--buyer", str(lot.buyer_id), "--now", at_its_moment(april)
    )
    assert f"- {TITLE}{NBSP}: " in printed
    assert plain(figure_lines(printed)[TITLE]) == said
    # Never counted among the missing.
    assert "toujours manquantes" not in april.body_text
    # The audit recomputes it and finds nothing to say.
    assert problems(app) == []

    # An email that says another due date: a problem naming the figure.
    rewrite(
        app, april.key, april.body_text.replace("25 mai 2027", "26 mai 2027"),
        april.body_html.replace("25 mai 2027", "26 mai 2027"),
    )  # fmt: skip
    found = problems(app)
    assert len(found) == 1, found
    assert TITLE in found[0] and "26 mai 2027" in found[0] and "25 mai 2027" in found[0], found


def test_an_email_written_before_is_read_by_its_paragraph_or_remarked(app: App) -> None:
    lot, label = pushed_by_a_suspension(app)
    april = buyer_email(app, lot, APR)
    line = next(x for x in april.body_text.splitlines() if x.startswith(f"- {TITLE}"))
    value = line.split(f"{NBSP}: ", 1)[1]
    without = april.body_text.replace(f"{line}\n", "")
    # Written before 6 December 2026: a paragraph below the figures, saying the same.
    last = next(x for x in without.splitlines() if x.startswith("- Clauses comptées"))
    older = without.replace(f"{last}\n", f"{last}\n\n{TITLE}{NBSP}: {value}.\n", 1)
    assert older != without
    row = re.search(
        rf"<tr><th[^>]*>{TITLE}</th><td[^>]*>(?P<said>[^<]*)</td></tr>", april.body_html
    )
    assert row is not None, april.body_html
    html = april.body_html.replace(row.group(0), "", 1)
    old_html = html.replace("</table>", f"</table>\n<p>{TITLE}&nbsp;: {row['said']}.</p>", 1)
    assert old_html != html
    rewrite(app, april.key, older, old_html, before_rules=True)
    assert problems(app) == []
    assert not [r for r in remarks(app) if TITLE in r]
    # The paragraph is checked like the figure.
    rewrite(
        app, april.key, older.replace("25 mai 2027", "26 mai 2027"),
        old_html.replace("25 mai 2027", "26 mai 2027"), before_rules=True,
    )  # fmt: skip
    found = problems(app)
    assert len(found) == 1 and TITLE in found[0], found
    # Written before the service said them at all: a remark quoting what it would say now.
    rewrite(app, april.key, without, html, before_rules=True)
    assert problems(app) == []
    noted = [r for r in remarks(app) if TITLE in r]
    assert len(noted) == 1, remarks(app)
    assert (
        "écrite avant que les synthèses disent les déclarations des mois précédents" in (noted[0])
    )
    assert f"mars 2027 de Cotraitant ({label}, échéance reportée au 25 mai 2027)" in noted[0]
