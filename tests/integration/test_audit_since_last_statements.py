"""What ``audit verify`` asks of the database to read again what each summary says since its
recipient's previous one (``summary_emails._since_last_findings``).

It asked, per summary email, for the recipient's previous summary (a ranked window query), the
months claimed as not sent and the labels of the lots: three statements more for every email,
twelve summaries a year for the facilitator and each buyer. They are read once per audit now,
whatever the number of emails; what the audit says is unchanged (``test_audit*``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import pytest
from sqlalchemy import event

from tests.integration._ladders import make_lot
from tests.integration.test_end_date_correction import paris
from tests.integration.test_lot_terminated import declare_hours
from tests.integration.test_terminated_lot_pace import app, settings
from workflow.bootstrap import App
from workflow.services.audit.receipts import load_declarations
from workflow.services.audit.summary_emails import check_summaries, printed_since, summary_emails
from workflow.services.ticks import TimedAction, simulate

pytestmark = pytest.mark.scenario

__all__ = ["app", "settings"]  # the fixtures

JAN = date(2027, 1, 1)


@contextmanager
def statements(app: App) -> Iterator[list[str]]:
    sent: list[str] = []

    def record(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        sent.append(statement)

    event.listen(app.engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(app.engine, "before_cursor_execute", record)


def since_last_statements(sent: list[str]) -> dict[str, int]:
    """The statements of what the emails say since the previous summary: the previous summaries
    (the outbox's rows), the months claimed as not sent (``periodic_runs``), the lots'
    labels (references and lot titles of some clauses, by id)."""
    lowered = [" ".join(s.lower().split()) for s in sent]
    return {
        "previous": sum("from outbox" in s for s in lowered),
        "skipped": sum("from periodic_runs" in s for s in lowered),
        "labels": sum(
            s.startswith(
                "select clauses.id, markets.reference, clauses.lot_number, clauses.lot_title"
            )
            for s in lowered
        ),
    }


def audited(app: App, count: int) -> tuple[int, dict[str, int], int]:
    """The first ``count`` summary emails audited: problems, the since-last statements, and
    all statements."""
    with app.transaction() as session:
        emails = summary_emails(session)[:count]
        assert len(emails) == count
        declarations = load_declarations(session)
        with statements(app) as sent:
            problems, _ = check_summaries(session, app.settings, emails, declarations)
        session.rollback()
    return len(problems), since_last_statements(sent), len(sent)


def test_the_since_last_reading_costs_the_same_for_three_emails_and_for_all(app: App) -> None:
    lots = [make_lot(app, start=JAN, end=date(2027, 12, 31), at=paris(JAN, 10)) for _ in range(2)]
    # Each month declared early in the next, with hours; March of the first lot arrives late,
    # on 12 May: the May summaries name it among the declarations arrived since.
    actions = [
        TimedAction(paris(date(2027, m + 1, 4 + n), 11), f"{m}-{n}",
                    lambda a, at, m=m, lot=lot: declare_hours(a, lot, date(2027, m, 1), at, "7"))
        for m in range(1, 6) for n, lot in enumerate(lots) if (m, n) != (3, 0)
    ] + [
        TimedAction(paris(date(2027, 5, 12), 11), "late",
                    lambda a, at: declare_hours(a, lots[0], date(2027, 3, 1), at, "12")),
    ]  # fmt: skip
    simulate(app, JAN, date(2027, 6, 30), actions=actions)
    with app.transaction() as session:
        total = len(summary_emails(session))
    assert total >= 12  # five months, the facilitator and two buyers

    with app.transaction() as session:
        (april,) = [
            e
            for e in summary_emails(session)
            if e.key == f"summary:2027-04:buyer:{lots[0].buyer_id}"
        ]
    # What the audit reads again below, from the previous summary and the lot's label.
    said = printed_since(april.body_text)
    assert said.startswith("Depuis ma synthèse de mars 2027"), said
    assert " lot 1 – Gros œuvre) est arrivée le 12 mai 2027 : 12 h" in said, said
    few_problems, few, few_all = audited(app, 3)
    all_problems, every, every_all = audited(app, total)
    assert (few_problems, all_problems) == (0, 0)
    # Read once per audit, whatever the number of emails.
    assert few == every, (few, every)
    assert every["previous"] <= 1 and every["skipped"] <= 1 and every["labels"] <= 1, every
    assert every_all > few_all  # each email is still compiled for its moment
