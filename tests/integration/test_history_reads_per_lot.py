"""The reads of the review of 23c283e stay a fixed number of queries, whatever the lots or the
months: the lots' parties that an old history row (written before it kept the company's number)
is matched among, read in one query for every lot (``declaration_facts.attach_recordings``,
which streams the history a lot at a time), and the cancellation notices a recording of several
months may withdraw, read once per recording (``late_declaration_notices``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from tests.conftest import Clock
from tests.integration._ladders import make_lot
from tests.integration.test_ladder_scenarios import paris
from workflow.adapters.orm import ClauseHistory, Participant
from workflow.app.clause_corrections import cancel_declaration
from workflow.bootstrap import App
from workflow.domain.events import DomainEvent
from workflow.domain.vocabulary import ContractType, DeliveryMode
from workflow.services.declaration_facts import load_declarations
from workflow.services.declarations import LineInput, grouped, record_counting

FEB = date(2027, 2, 1)


@contextmanager
def statements(session: Session) -> Iterator[list[tuple[str, Any]]]:
    """The statements the session's connection runs meanwhile, with their parameters."""
    seen: list[tuple[str, Any]] = []
    engine = session.get_bind()

    def note(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def record(
    session: Session,
    clause_id: int,
    company_id: int,
    month: date,
    at: datetime,
    publish: Any,
    reference: str,
) -> None:
    person = session.scalar(select(Participant).where(Participant.reference == reference))
    if person is None:
        person = Participant(reference=reference, criterion="long_term_jobseeker", created_at=at)
        session.add(person)
        session.flush()
    record_counting(
        session,
        clause_id=clause_id,
        company_id=company_id,
        month=month,
        lines=[LineInput(person.id, Decimal(10), DeliveryMode.DIRECT_HIRING, ContractType.CDD)],
        actor="Facilitatrice",
        now=at,
        source="relevé",
        publish=publish,
    )


def test_the_parties_of_every_lot_an_old_row_needs_are_read_in_one_query(
    app: App, clock: Clock
) -> None:
    """Three lots where both companies declared February and the second's was cancelled, the
    cancellations in another order than the lots'; their history rows as written before they
    kept the company's number. Each cancelled February is its company's, with its recording,
    in the order they were cancelled, and the lots' parties are read once, not once a lot."""
    lots = [
        make_lot(
            app,
            start=date(2027, 1, 4),
            end=date(2027, 9, 30),
            companies=(f"Gascons {n}", f"Insertion {n}"),
            at=paris(date(2027, 1, 4), 8),
        )
        for n in range(3)
    ]
    for n, lot in enumerate(lots):
        with app.transaction() as session:
            for company in (0, 1):
                at = paris(date(2027, 3, 3), 10 + company, n)
                record(
                    session, lot.clause_id, lot.company_ids[company], FEB, at, app.publish,
                    f"P-{n}{company}",
                )  # fmt: skip
    for hour, lot in enumerate(reversed(lots), start=9):
        clock.set(paris(date(2027, 3, 4), hour))
        cancel_declaration(
            app, clause=lot.clause_id, company=lot.company_ids[1], month=FEB, reason="erreur"
        )
    with app.transaction() as session:
        session.execute(update(ClauseHistory).values(company_id=None))
        with statements(session) as seen:
            found = load_declarations(session)
        cancelled = [(f.clause_id, f.company_id, len(f.recordings)) for f in found.cancelled]
        assert cancelled == [(lot.clause_id, lot.company_ids[1], 1) for lot in reversed(lots)]
        kept = sorted((f.clause_id, f.company_id, len(f.recordings)) for f in found.values())
        assert kept == sorted((lot.clause_id, lot.company_ids[0], 1) for lot in lots)
        parties = [s for s, _ in seen if "FROM award_parties" in s]
        assert len(parties) == 1, parties


def test_a_recording_of_several_months_reads_the_cancellation_notices_once(app: App) -> None:
    """Five months recorded together (one file): one read of the notices that a month was
    cancelled, not one per month."""
    lot = make_lot(
        app,
        start=date(2026, 3, 2),
        end=date(2026, 12, 31),
        companies=("Bâtiments Groupés",),
        at=paris(date(2026, 3, 2), 8),
    )
    at = paris(date(2026, 9, 3), 10)
    with app.transaction() as session:
        events: list[DomainEvent] = []
        with statements(session) as seen:
            for number in range(3, 8):
                record(
                    session, lot.clause_id, lot.company_ids[0], date(2026, number, 1), at,
                    lambda _session, e: events.append(e), "P-0500",
                )  # fmt: skip
            for each in grouped(events):
                app.publish(session, each)
        reads = [
            s
            for s, parameters in seen
            if "late_cancelled:" in str(parameters) and "outbox" in s.lower()
        ]
        assert len(reads) == 1, reads
