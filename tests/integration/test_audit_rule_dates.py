"""The audit reads a summary the older way only when it may have been written before the rule.

Each rule that changed what a monthly summary says has its number (``domain.summary_rules``),
and the audit of an email written before it compares it with what the older rule printed: the
difference is a remark naming the rule. Found in review: nothing said when an email was written,
so an email written today whose pace says what the older rule said (« dans le rythme » where
the data say « rythme à confirmer ») was a remark, never a problem. Each summary's outbox row
now keeps the number of the rules it was written under (``rules_revision``): an older rule's
reading applies only to a row of a lower number, or to one written before the rules were kept
(NULL). The emails' own moment cannot tell: the simulations below write them in 2026 at dates of their
own.
"""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect, select, update

from tests.integration.test_summary_late_start import plain
from tests.integration.test_summary_pace_unconfirmed import _rewrite, first_month
from tests.integration.test_summary_planned_end_passed import _as_written_before, _territory
from tests.integration.test_summary_truth import Email
from workflow.adapters.db import alembic_config, current_revision, make_engine
from workflow.adapters.orm import OutboxMessage
from workflow.app.audit import verify_database
from workflow.bootstrap import App
from workflow.domain.summary_rules import (
    PACE_ONLY_WHEN_DUE,
    PACE_TO_CONFIRM,
    PAST_PLANNED_END_FOLLOWED,
    RULES,
    SUMMARY_RULES,
    TERMINATION_AGAINST_PLANNED_END,
    written_before,
)
from workflow.emails import summaries as summary_email
from workflow.services.audit.cells import Difference, Gap
from workflow.services.audit.findings import Finding
from workflow.services.audit.summary_emails import _sort_out
from workflow.services.outbox import RULES_OF_KIND

pytestmark = pytest.mark.scenario

PACE_RULE = "écrite avant que le rythme soit dit « à confirmer »"
PAST_END_RULE = "le service suit désormais de telles clauses dans le mois"


def rules_revision(app: App, key: str) -> int | None:
    with app.transaction() as session:
        return session.scalar(select(OutboxMessage.rules_revision).where(OutboxMessage.key == key))


def set_rules_of(app: App, key: str, rules: int | None) -> None:
    with app.transaction() as session:
        session.execute(
            update(OutboxMessage).where(OutboxMessage.key == key).values(rules_revision=rules)
        )


def about(app: App, email: Email) -> tuple[list[str], list[str]]:
    """The audit's problems and remarks about ``email`` (its subject names its row)."""
    report = verify_database(app)
    mine = f"Courriel n° {_row_id(app, email.key)} ("

    def of(findings: tuple[Finding, ...]) -> list[str]:
        return [plain(f.problem) for f in findings if f.subject.startswith(mine)]

    return of(report.findings), of(report.remarks)


def _row_id(app: App, key: str) -> int:
    with app.transaction() as session:
        found = session.scalar(select(OutboxMessage.id).where(OutboxMessage.key == key))
    assert found is not None
    return found


def test_a_pace_in_the_older_words_is_a_problem_in_an_email_written_under_the_rule(
    app: App,
) -> None:
    _, emails = first_month(app)
    buyer = next(e for e in emails if e.buyer_id is not None)
    # Written now: under the latest rules, whatever moment the simulation gave it.
    assert buyer.created_at.year == 2026
    for email in emails:
        assert rules_revision(app, email.key) == SUMMARY_RULES
    _rewrite(app, buyer, "à confirmer", "dans le rythme")
    set_rules_of(app, buyer.key, SUMMARY_RULES)  # the rewrite may take it as an older row's

    problems, remarks = about(app, buyer)
    assert problems, remarks
    assert any("dans le rythme" in p and "rythme à confirmer" in p for p in problems), problems
    assert not any(PACE_RULE in r for r in remarks), remarks

    # The same words in a row written before the rules were kept: the older rule's, a remark.
    set_rules_of(app, buyer.key, None)
    problems, remarks = about(app, buyer)
    assert problems == []
    assert any(PACE_RULE in r for r in remarks), remarks

    # Written under the rules of the day before: the day before the pace waited for the
    # declarations owed, a remark too.
    set_rules_of(app, buyer.key, TERMINATION_AGAINST_PLANNED_END)  # the last of 5 December
    assert TERMINATION_AGAINST_PLANNED_END < PACE_TO_CONFIRM
    problems, remarks = about(app, buyer)
    assert problems == []
    assert any(PACE_RULE in r for r in remarks), remarks


def test_a_lot_past_its_planned_end_among_the_achieved_is_a_problem_under_the_rule(
    app: App,
) -> None:
    t = _territory(app)
    assert rules_revision(app, t.buyer.key) == SUMMARY_RULES
    _as_written_before(app, t.buyer, t.past)
    set_rules_of(app, t.buyer.key, SUMMARY_RULES)  # the rewrite may take it as an older row's

    problems, remarks = about(app, t.buyer)
    assert problems, remarks
    assert not any(PAST_END_RULE in r for r in remarks), remarks

    set_rules_of(app, t.buyer.key, None)
    problems, remarks = about(app, t.buyer)
    assert problems == []
    assert any(PAST_END_RULE in r and "(depuis le 5 décembre 2026)" in r for r in remarks)

    # Under the rules of the day the lots past their planned end were followed: the same.
    set_rules_of(app, t.buyer.key, PAST_PLANNED_END_FOLLOWED)
    problems, remarks = about(app, t.buyer)
    assert problems, remarks
    assert not any(PAST_END_RULE in r for r in remarks), remarks


def test_a_pace_judged_where_none_is_due_is_a_remark_only_before_its_rule() -> None:
    old_pace = Difference(
        Gap.EXTRA_FIGURE,
        "",
        "Rythme à fin juin 2026",
        sent="0 % des heures prévues réalisées pour 33 % du temps écoulé, en retard",
    )
    problems, remarks = _sort_out([old_pace], [], {}, {})
    assert problems == [] and len(remarks) == 1
    problems, remarks = _sort_out([old_pace], [], {}, {}, unpaced_before=False)
    assert len(problems) == 1 and remarks == []


def test_the_rules_are_numbered_and_kept_on_every_summary() -> None:
    assert list(RULES) == list(range(1, len(RULES) + 1))  # each the next number, none twice
    assert max(RULES) == SUMMARY_RULES
    assert set(RULES_OF_KIND) == set(summary_email.KINDS)
    assert all(RULES_OF_KIND[kind] == SUMMARY_RULES for kind in summary_email.KINDS)
    # A row of no number may predate any rule; one of a number, only the rules after it.
    assert written_before(None, PACE_ONLY_WHEN_DUE)
    assert written_before(PACE_ONLY_WHEN_DUE, PAST_PLANNED_END_FOLLOWED)
    assert not written_before(PACE_ONLY_WHEN_DUE, PACE_ONLY_WHEN_DUE)
    assert not any(written_before(SUMMARY_RULES, rule) for rule in RULES)


def test_migration_0028_adds_the_rules_column_and_takes_it_back(database_url: str) -> None:
    engine = make_engine(database_url)
    config = alembic_config(engine)

    def columns() -> dict[str, object]:
        with engine.connect() as connection:
            return {c["name"]: c["type"] for c in inspect(connection).get_columns("outbox")}

    try:
        command.upgrade(config, "head")
        assert "rules_revision" in columns()
        command.downgrade(config, "0027")
        assert current_revision(engine) == "0027"
        assert "rules_revision" not in columns()
        assert "promised_until" in columns()  # 0027's column stays
        command.upgrade(config, "0028")
        assert "INT" in str(columns()["rules_revision"]).upper()
    finally:
        # The PostgreSQL database is shared by the session's tests: leave it at head.
        command.upgrade(config, "head")
        engine.dispose()
