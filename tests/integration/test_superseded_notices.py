"""A buyer notice a later act contradicts before it leaves is withdrawn, its reason in the email
log, on SQLite and PostgreSQL, through the real commands on the sample territory.

- « Clause rédigée, nous attendons l'attribution » still waiting when the award is recorded: the
  award notice leaves alone; the drafted notice is « Remplacé : … ».
- « Clause d'insertion abandonnée » still waiting (or held for want of a contact) when the clause
  is reopened: it is withdrawn and the buyer hears nothing of the abandon nor of its undoing.

Once the first notice has left, nothing changes. ``clauses audit verify`` stays clean.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from sqlalchemy import delete, select

from tests.conftest import Clock
from workflow.adapters.orm import BuyerContact, Clause, HeldNotice, Market, Operation, OutboxMessage
from workflow.bootstrap import App, bootstrap
from workflow.emails.envelope import OutboxState
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.sample import load_sample
from workflow.services import notices
from workflow.services.audit import verify
from workflow.services.dispatch import dispatch_due
from workflow.services.held_notices import release_held_notices
from workflow.settings import Settings

CLEANING = 7  # « Nettoyage des bâtiments »
ABANDONED = 3


def utc(day: int, month: int = 2, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def run(settings: Settings, clock: Clock, at: datetime, *args: str) -> str:
    clock.set(at)
    state = CliState()
    state.factory = lambda: bootstrap(settings, clock=clock)
    result = CliRunner().invoke(cli, list(args), obj=state, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def sample(app: App, clock: Clock) -> None:
    clock.set(utc(2))
    load_sample(app, utc(2))
    dispatch_due(app, utc(2, minute=1))  # the notices of the sample's lots leave


def rows(app: App, clause_id: int, kind: str) -> list[tuple[str, str | None]]:
    with app.transaction() as session:
        return [
            (state, last_error)
            for state, last_error in session.execute(
                select(OutboxMessage.state, OutboxMessage.last_error)
                .where(OutboxMessage.clause_id == clause_id, OutboxMessage.kind == kind)
                .order_by(OutboxMessage.id)
            )
        ]


def clean(app: App) -> None:
    report = verify(app)
    assert report.ok, report.findings


def drafted_then_awarded(settings: Settings, clock: Clock, *, send_between: App | None) -> None:
    run(settings, clock, utc(3), "clause", "advance", str(CLEANING), "rédiger", "--reason", "x")
    run(settings, clock, utc(16), "clause", "advance", str(CLEANING), "attribuer")
    if send_between is not None:
        dispatch_due(send_between, utc(16) + timedelta(seconds=30))
    run(
        settings,
        clock,
        utc(16, minute=1),
        *("clause", "award", str(CLEANING), "--company", "4"),
        *("--start", "02/03/2026", "--end", "30/09/2026"),
    )


def test_an_award_recorded_before_the_drafted_notice_left_withdraws_it(
    app: App, settings: Settings, clock: Clock
) -> None:
    sample(app, clock)
    drafted_then_awarded(settings, clock, send_between=None)
    dispatch_due(app, utc(16, minute=2))

    assert rows(app, CLEANING, "notice_drafted") == [
        (
            OutboxState.CANCELLED,
            "Remplacé : l'attribution du lot a été enregistrée le 16 février 2026 avant le départ "
            "de ce courriel ; l'avis d'attribution part à sa place.",
        )
    ]
    assert rows(app, CLEANING, "notice_awarded") == [(OutboxState.SENT, None)]
    clean(app)


def test_a_drafted_notice_waiting_a_retry_is_withdrawn_too(
    app: App, settings: Settings, clock: Clock
) -> None:
    sample(app, clock)
    run(settings, clock, utc(3), "clause", "advance", str(CLEANING), "rédiger", "--reason", "x")
    run(settings, clock, utc(16), "clause", "advance", str(CLEANING), "attribuer")
    with app.transaction() as session:  # refused for good by the mail server
        row = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.clause_id == CLEANING, OutboxMessage.kind == "notice_drafted"
            )
        ).one()
        row.state, row.attempts, row.last_error = OutboxState.FAILED, 1, "550 boîte pleine"
    run(
        settings,
        clock,
        utc(16, minute=1),
        *("clause", "award", str(CLEANING), "--company", "4"),
        *("--start", "02/03/2026", "--end", "30/09/2026"),
    )

    [(state, reason)] = rows(app, CLEANING, "notice_drafted")
    assert state == OutboxState.CANCELLED
    assert reason is not None and reason.startswith("Remplacé : l'attribution du lot")
    clean(app)


def test_a_drafted_notice_already_sent_stays_and_the_award_follows(
    app: App, settings: Settings, clock: Clock
) -> None:
    sample(app, clock)
    drafted_then_awarded(settings, clock, send_between=app)
    dispatch_due(app, utc(16, minute=2))

    assert rows(app, CLEANING, "notice_drafted") == [(OutboxState.SENT, None)]
    assert rows(app, CLEANING, "notice_awarded") == [(OutboxState.SENT, None)]
    clean(app)


def abandon(settings: Settings, clock: Clock) -> None:
    run(
        settings,
        clock,
        utc(16),
        *("clause", "advance", str(ABANDONED), "abandonner", "--reason", "Lot infructueux"),
    )


def reopen(settings: Settings, clock: Clock) -> str:
    return run(
        settings,
        clock,
        utc(17),
        *("clause", "reopen", str(ABANDONED), "--reason", "Abandon saisi par erreur"),
    )


def test_reopened_before_the_abandon_notice_left_the_buyer_reads_nothing(
    app: App, settings: Settings, clock: Clock
) -> None:
    sample(app, clock)
    abandon(settings, clock)
    reopen(settings, clock)
    dispatch_due(app, utc(17, minute=5))

    assert rows(app, ABANDONED, "notice_abandoned") == [
        (
            OutboxState.CANCELLED,
            "Retiré : l'abandon a été annulé le 17 février 2026 avant le départ de ce courriel ; "
            "le donneur d'ordre n'est prévenu ni de l'abandon ni de la réouverture.",
        )
    ]
    assert rows(app, ABANDONED, "notice_reopened") == []
    with app.transaction() as session:
        assert notices.abandon_withdrawn(session, ABANDONED, utc(17))
    clean(app)


def test_reopened_after_the_abandon_notice_left_the_buyer_hears_of_it(
    app: App, settings: Settings, clock: Clock
) -> None:
    sample(app, clock)
    abandon(settings, clock)
    dispatch_due(app, utc(16, minute=5))
    reopen(settings, clock)
    dispatch_due(app, utc(17, minute=5))

    assert rows(app, ABANDONED, "notice_abandoned") == [(OutboxState.SENT, None)]
    assert rows(app, ABANDONED, "notice_reopened") == [(OutboxState.SENT, None)]
    with app.transaction() as session:
        assert not notices.abandon_withdrawn(session, ABANDONED, utc(17))
    clean(app)


def test_an_abandon_held_for_want_of_a_contact_is_settled_and_nothing_leaves_later(
    app: App, settings: Settings, clock: Clock
) -> None:
    sample(app, clock)
    with app.transaction() as session:
        buyer_id = session.scalar(
            select(Operation.buyer_id)
            .join(Market, Market.operation_id == Operation.id)
            .join(Clause, Clause.market_id == Market.id)
            .where(Clause.id == ABANDONED)
        )
        contacts = session.execute(
            select(BuyerContact.name, BuyerContact.email).where(BuyerContact.buyer_id == buyer_id)
        ).all()
        session.execute(delete(BuyerContact).where(BuyerContact.buyer_id == buyer_id))
    abandon(settings, clock)
    reopen(settings, clock)
    with app.transaction() as session:
        held = session.execute(
            select(HeldNotice.kind, HeldNotice.outcome).where(HeldNotice.clause_id == ABANDONED)
        ).all()
        assert [tuple(h) for h in held] == [("notice_abandoned", "superseded")]
        assert notices.abandon_withdrawn(session, ABANDONED, utc(17))
        for name, email in contacts:  # the buyer has a contact again
            session.add(BuyerContact(buyer_id=buyer_id, name=name, email=email))
    release_held_notices(app, utc(18))
    dispatch_due(app, utc(18, minute=5))

    assert rows(app, ABANDONED, "notice_abandoned") == []
    assert rows(app, ABANDONED, "notice_reopened") == []
    clean(app)
