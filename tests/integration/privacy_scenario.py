"""A small territory of 2018 built through the services, for the personal data tests.

Lot A (« Gros œuvre ») runs January to June 2018 for Bâtiments Test: PRV-1, PRV-12 and PRV-2
work on it; it is finished, its outcomes and its final report (which names PRV-1 and PRV-12) are
recorded, and it is closed on 3 September 2018. Lot B (« Peinture ») runs from January 2018 to
2030 for Peintures Test, with PRV-2 and PRV-OPEN. PRV-IDLE was recorded and never declared.

The service's passes run at chosen moments, so that the outbox holds what a year leaves:
receipts naming each company's participants, calls with declaration templates listing them,
digests naming those without a validated eligibility (PRV-12, PRV-OPEN).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select

from tests.conftest import Clock
from workflow.adapters.orm import OutboxMessage
from workflow.bootstrap import App
from workflow.domain.calendar import at_local
from workflow.domain.outcomes import OutcomeType
from workflow.domain.stages import ClauseEvent
from workflow.domain.vocabulary import ContractType, Criterion, DeliveryMode, PartyRole, Sex
from workflow.services.catalog import (
    add_buyer,
    add_buyer_contact,
    add_company,
    add_correspondent,
    add_lot,
    add_market,
    add_operation,
)
from workflow.services.clauses import (
    ClauseParameters,
    PartyInput,
    advance_clause,
    no_publish,
    record_award,
    record_final_report,
)
from workflow.services.declarations import LineInput, record_declaration
from workflow.services.outcomes import record_outcome
from workflow.services.participants import create_participant, find_participant
from workflow.services.ticks import run_pass

PARIS = ZoneInfo("Europe/Paris")
ACTOR = "Camille Martin"
FINAL_REPORT = (
    "Chantier achevé. PRV-1 a été embauchée en CDI par l'entreprise ; PRV-12 a quitté le "
    "chantier en juin."
)
CLOSED_ON = date(2018, 9, 3)
BUYER_CONTACT = "acheteur@ville-test.fr"
COMPANY_A_CONTACT = "paul.martin@batiments-test.fr"
COMPANY_B_CONTACT = "lea.durand@peintures-test.fr"


@dataclass(frozen=True)
class Person:
    reference: str
    criterion: Criterion
    sex: Sex
    birth_year: int
    proof: str  # "" : eligibility not validated
    validated_on: date | None


PEOPLE = (
    Person(
        "PRV-1", Criterion.MINIMUM_INCOME, Sex.FEMALE, 1990, "attestation CAF", date(2018, 1, 15)
    ),
    Person("PRV-12", Criterion.YOUNG_LOW_QUALIFIED, Sex.MALE, 1993, "", None),
    Person(
        "PRV-2",
        Criterion.LONG_TERM_JOBSEEKER,
        Sex.MALE,
        1965,
        "attestation France Travail",
        date(2018, 1, 16),
    ),
    Person("PRV-OPEN", Criterion.QPV_RESIDENT, Sex.FEMALE, 1980, "", None),
    Person(
        "PRV-IDLE",
        Criterion.DISABLED_WORKER,
        Sex.MALE,
        1985,
        "notification RQTH",
        date(2018, 1, 20),
    ),
)
#: Hours a month on each lot (January to June on A, January to March on B).
HOURS_A = {"PRV-1": Decimal(100), "PRV-12": Decimal(80), "PRV-2": Decimal(50)}
HOURS_B = {"PRV-2": Decimal(20), "PRV-OPEN": Decimal(60)}
MONTHS_A = tuple(date(2018, m, 1) for m in range(1, 7))
MONTHS_B = tuple(date(2018, m, 1) for m in range(1, 4))
#: The moments the service's passes run (local time): calls, digests.
PASSES = (
    (date(2018, 2, 1), time(9)),
    (date(2018, 3, 1), time(9)),
    (date(2018, 4, 3), time(9)),
)


@dataclass(frozen=True)
class Built:
    clause_a: int
    clause_b: int
    company_a: int
    company_b: int


def local(day: date, hour: int = 10) -> datetime:
    return at_local(day, time(hour), PARIS)


def build(app: App, clock: Clock) -> Built:
    setup = local(date(2018, 1, 2))
    clock.set(setup)
    with app.transaction() as session:
        buyer = add_buyer(session, name="Ville de Test", now=setup, settings=app.settings)
        add_buyer_contact(session, buyer.id, name="Acheteur Test", email=BUYER_CONTACT)
        operation = add_operation(session, buyer.id, name="Groupe scolaire", now=setup)
        market = add_market(session, operation.id, reference="2018-PRV")
        lots = [
            add_lot(
                session,
                market.id,
                lot_number=number,
                lot_title=title,
                params=ClauseParameters(
                    amount_excl_tax=Decimal(300_000),
                    labour_share=Decimal("0.5"),
                    insertion_rate=Decimal("0.1"),
                    hourly_cost=Decimal(30),
                ),
                actor=ACTOR,
                now=setup,
                publish=app.publish,
                settings=app.settings,
            ).id
            for number, title in (("01", "Gros œuvre"), ("02", "Peinture"))
        ]
        companies = []
        for name, email in (
            ("Bâtiments Test", COMPANY_A_CONTACT),
            ("Peintures Test", COMPANY_B_CONTACT),
        ):
            company = add_company(session, name=name, city="Auch", now=setup)
            person = add_correspondent(
                session,
                company.id,
                name=f"Correspondant {name}",
                email=email,
                now=setup,
                actor="test",
                publish=no_publish,
            )
            companies.append((company.id, person.id))
        for person in PEOPLE:
            create_participant(
                session,
                reference=person.reference,
                criterion=person.criterion,
                now=setup,
                sex=person.sex,
                birth_year=person.birth_year,
                proof=person.proof,
                validated_on=person.validated_on,
            )
        for clause_id, (company_id, correspondent_id), end in zip(
            lots, companies, (date(2018, 6, 30), date(2030, 12, 31)), strict=True
        ):
            for event in (ClauseEvent.DRAFT, ClauseEvent.AWARD):
                _advance(app, session, clause_id, event, setup)
            record_award(
                session,
                clause_id,
                parties=[PartyInput(company_id, PartyRole.HOLDER, correspondent_id)],
                start_date=date(2018, 1, 8),
                planned_end_date=end,
                actor=ACTOR,
                now=setup,
                publish=app.publish,
            )
            _advance(app, session, clause_id, ClauseEvent.START, setup)
    built = Built(lots[0], lots[1], companies[0][0], companies[1][0])
    _live_the_year(app, clock, built)
    return built


def _advance(
    app: App, session: object, clause_id: int, event: ClauseEvent, now: datetime, **kw: object
) -> None:
    advance_clause(
        session,  # type: ignore[arg-type]
        clause_id,
        event,
        actor=ACTOR,
        reason=None,
        now=now,
        publish=app.publish,
        **kw,  # type: ignore[arg-type]
    )


def _live_the_year(app: App, clock: Clock, built: Built) -> None:
    moments: list[tuple[datetime, str, object]] = []
    for month in MONTHS_A:
        moments.append((_declared_on(month), "declare", (built.clause_a, built.company_a, month)))
    for month in MONTHS_B:
        moments.append((_declared_on(month), "declare", (built.clause_b, built.company_b, month)))
    for day, at in PASSES:
        moments.append((at_local(day, at, PARIS), "pass", None))
    for at, what, args in sorted(moments, key=lambda m: (m[0], m[1])):
        clock.set(at)
        if what == "pass":
            run_pass(app, at)
        else:
            clause_id, company_id, month = args  # type: ignore[misc]
            hours = HOURS_A if clause_id == built.clause_a else HOURS_B
            _declare(app, clause_id, company_id, month, hours, at)
    _finish_a(app, clock, built)


def _declared_on(month: date) -> datetime:
    following = date(month.year + (month.month == 12), month.month % 12 + 1, 5)
    return local(following, 14)


def _declare(
    app: App,
    clause_id: int,
    company_id: int,
    month: date,
    hours: dict[str, Decimal],
    now: datetime,
) -> None:
    with app.transaction() as session:
        lines = []
        for reference, worked in hours.items():
            participant = find_participant(session, reference)
            assert participant is not None
            lines.append(
                LineInput(participant.id, worked, DeliveryMode.DIRECT_HIRING, ContractType.CDD)
            )
        record_declaration(
            session,
            clause_id=clause_id,
            company_id=company_id,
            month=month,
            lines=lines,
            actor=ACTOR,
            now=now,
            source="relevé mensuel",
            publish=app.publish,
        )
    # Its receipt leaves within the minute (nothing of it waits a month to be rewritten).
    with app.transaction() as session:
        for row in session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.kind == "declaration_receipt", OutboxMessage.state == "pending"
            )
        ):
            row.state, row.sent_at = "sent", now


def _finish_a(app: App, clock: Clock, built: Built) -> None:
    finished = local(date(2018, 7, 6))  # after June was declared (the 5th)
    clock.set(finished)
    with app.transaction() as session:
        _advance(
            app, session, built.clause_a, ClauseEvent.FINISH, finished, end_date=date(2018, 6, 30)
        )
    for reference, outcome, on in (
        ("PRV-1", OutcomeType.CDI, date(2018, 7, 15)),
        ("PRV-2", OutcomeType.QUALIFYING_TRAINING, date(2018, 7, 10)),
    ):
        recorded = local(date(2018, 7, 20))
        clock.set(recorded)
        with app.transaction() as session:
            record_outcome(
                session,
                reference=reference,
                clause_id=built.clause_a,
                outcome_type=outcome,
                on=on,
                actor=ACTOR,
                now=recorded,
                zone=PARIS,
            )
    reported = local(date(2018, 8, 1))
    clock.set(reported)
    with app.transaction() as session:
        record_final_report(
            session,
            built.clause_a,
            text=FINAL_REPORT,
            actor=ACTOR,
            now=reported,
            publish=app.publish,
        )
    closed = local(CLOSED_ON)
    clock.set(closed)
    with app.transaction() as session:
        _advance(app, session, built.clause_a, ClauseEvent.CLOSE, closed)
    run_pass(app, local(date(2018, 9, 4), 9))
