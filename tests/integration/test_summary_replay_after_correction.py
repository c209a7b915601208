"""``clauses summary --month M --now T`` after a correction gives the figures of the email sent
at T (user trial: once a declaration was corrected, replaying the October summary read « 0 h »,
« 0 reçue sur 2 attendues », where the email had said 370,17 h and one received, while
``audit verify`` found nothing: it put the totals back, the command did not).

On the sample lot (SQLite and PostgreSQL): October declared on 5 November, November on
5 December, both summaries sent at their moment; on 28 December one ``--replace`` import moves
P-0007's 151,67 h from October to November. Each summary replayed at its moment gives its
email's hours, declarations received and pace, and names the correction; a summary of the
present gives today's figures and names nothing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import make_lot
from tests.integration.test_audit_import_moves import (
    import_moving_hours,
    two_months_sent,
)
from tests.integration.test_outcomes_audit_and_cancel import sample  # noqa: F401 (fixture)
from workflow.adapters.orm import OutboxMessage, Participant
from workflow.app.reports import monthly_summary, summary_as_known
from workflow.bootstrap import App, bootstrap
from workflow.domain.vocabulary import ContractType, DeliveryMode
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.services.declarations import LineInput, record_declaration
from workflow.settings import Settings

OCTOBER = date(2026, 10, 1)
NOVEMBER_2 = datetime(2026, 11, 2, 9, tzinfo=UTC)
CDD = ContractType.CDD

#: The figures made of totals, which the history keeps for every moment.
TOTALS = (
    "Heures réalisées dans le mois",
    "Déclarations d'octobre 2026",
    "Déclarations de novembre 2026",
    "Heures cumulées depuis le début",
    "Rythme à fin",
)


def summary_cli(settings: Settings, clock: Clock, *args: str) -> str:
    state = CliState()
    state.factory = lambda: bootstrap(settings, clock=clock)
    result = CliRunner().invoke(cli, ["summary", *args], obj=state, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output.replace("\u00a0", " ")


def totals(text: str) -> list[str]:
    return [
        line.strip()
        for line in text.replace("\u00a0", " ").splitlines()
        if line.strip().startswith("- ") and any(line.strip()[2:].startswith(t) for t in TOTALS)
    ]


def sent(app: App, key: str) -> tuple[str, str]:
    """The email's plain text and its instant as ``--now`` reads it."""
    with app.transaction() as session:
        body, at = session.execute(
            select(OutboxMessage.body_text, OutboxMessage.created_at).where(
                OutboxMessage.key == key
            )
        ).one()
    return body, at.isoformat()


def test_a_summary_replayed_after_a_correction_gives_its_emails_totals(
    sample: App,  # noqa: F811
    settings: Settings,
    clock: Clock,
    tmp_path: Path,
) -> None:
    two_months_sent(sample, settings, clock, tmp_path)
    import_moving_hours(settings, clock, tmp_path)

    for month, key, changed in (
        ("2026-10", "summary:2026-10:buyer:1", "1 déclaration comptée"),
        ("2026-10", "summary:2026-10:facilitator", "1 déclaration comptée"),
        ("2026-11", "summary:2026-11:buyer:1", "2 déclarations comptées"),
        ("2026-11", "summary:2026-11:facilitator", "2 déclarations comptées"),
    ):
        body, at = sent(sample, key)
        buyer = ["--buyer", "1"] if "buyer" in key else []
        replay = summary_cli(settings, clock, "--month", month, *buyer, "--now", at)
        expected = totals(body)
        assert len(expected) >= 4, body
        assert totals(replay) == expected, (key, replay)
        assert f"{changed} dans cette synthèse" in replay, replay

    # November's summary counted October and November as they stood on 22 December: both
    # months were corrected since, and both are named.
    body, at = sent(sample, "summary:2026-11:buyer:1")
    replay = summary_cli(settings, clock, "--month", "2026-11", "--buyer", "1", "--now", at)
    assert "2 déclarations comptées dans cette synthèse ont été corrigées" in replay, replay
    assert "octobre 2026, clause n° 1 : 250,17 h alors" in replay, replay
    assert "novembre 2026, clause n° 1 : 100 h alors" in replay, replay

    # Today's figures: the corrected months as they are now, nothing named.
    now = summary_cli(settings, clock, "--month", "2026-11", "--buyer", "1")
    assert "corrigée" not in now, now
    assert "- Heures réalisées dans le mois : 251,67 h" in now.replace("\u00a0", " "), now


def test_a_replay_gives_each_company_its_own_hours_when_two_declared_the_month(
    app: App,
) -> None:
    """Two companies declared October on one lot; one corrected it since. The replay reads that
    lot's whole history: the corrected company's hours of then are its own (200 h), never the
    other company's recording (170,17 h) given to it through the fallback for a renamed
    company, which the first filtered read did (review)."""
    lot = make_lot(app, companies=("Alpha SA", "Bravo SARL"))
    with app.transaction() as session:
        people = [
            Participant(reference=r, criterion="long_term_jobseeker", created_at=NOVEMBER_2)
            for r in ("P-A", "P-B")
        ]
        session.add_all(people)
        session.flush()
        ids = [p.id for p in people]

    def declare(company: int, hours: str, at: datetime, *, replace: bool = False) -> None:
        with app.transaction() as session:
            record_declaration(
                session,
                clause_id=lot.clause_id,
                company_id=lot.company_ids[company],
                month=OCTOBER,
                lines=[LineInput(ids[company], Decimal(hours), DeliveryMode.DIRECT_HIRING, CDD)],
                actor="Facilitatrice",
                now=at,
                source="relevé",
                publish=app.publish,
                replace=replace,
            )

    declare(1, "200", datetime(2026, 11, 5, 9, tzinfo=UTC))
    declare(0, "170.17", datetime(2026, 11, 6, 9, tzinfo=UTC))
    then = datetime(2026, 11, 23, 6, tzinfo=UTC)
    before = monthly_summary(app, OCTOBER, now=then)
    declare(1, "50", datetime(2026, 11, 28, 9, tzinfo=UTC), replace=True)

    today = datetime(2026, 12, 1, 9, tzinfo=UTC)
    app.clock = lambda: today
    replay = summary_as_known(app, OCTOBER, now=then)

    assert replay.summary.overall.progress.hours_month == Decimal("370.17")
    assert replay.summary.overall.progress == before.overall.progress
    [changed] = replay.changed
    assert (changed.company, changed.hours_then) == ("Bravo SARL", Decimal(200))
