"""The Gers territory of 2017 (DOMAIN.md), built through the services as a facilitator would.

The flyer of that year: over 18,000 insertion hours, 51 companies followed, the new middle school
alone 4,725 hours; outcomes 3 CDI, 1 apprenticeship, 3 professionalisation contracts, 11 short
trainings. The plan below is plain data: the tests derive every expected figure from it, never
from the database, then compare with what the report says.

Around the year, what must NOT count in 2017: a clause closed in 2016 with its own company and
participant, a declaration of January 2018 by a participant new in 2018, an outcome dated 2018,
a clause finished in February 2018 (still in execution at the end of 2017) and one created in 2018.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from tests.conftest import Clock
from workflow.bootstrap import App
from workflow.domain.outcomes import OutcomeType
from workflow.domain.stages import ClauseEvent
from workflow.domain.vocabulary import ContractType, Criterion, DeliveryMode, PartyRole, Sex
from workflow.services.catalog import (
    add_buyer,
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
from workflow.services.participants import create_participant

YEAR = 2017
DEPARTMENT = "Département du Gers"
AUCH = "Ville d'Auch"
HABITAT = "Office public de l'habitat du Gers"
#: A line of a declaration: about four weeks of a full-time job.
CHUNK = Decimal(140)


@dataclass(frozen=True)
class LotPlan:
    buyer: str
    operation: str
    market: str
    lot: str
    title: str
    hours: int  # declared over 2017; the target is the same
    finished: date | None = None  # the day it moved to follow-up (end of execution before)


def _lot(buyer: str, operation: str, market: str, lot: str, title: str, **kw: object) -> LotPlan:
    hours = 4725 if (market, lot) == ("2016-031", "01") else 840
    return LotPlan(buyer, operation, market, lot, title, hours, **kw)  # type: ignore[arg-type]


COLLEGE = "Construction du collège de Fleurance"
LOTS: tuple[LotPlan, ...] = (
    _lot(DEPARTMENT, COLLEGE, "2016-031", "01", "Gros œuvre – maçonnerie"),
    _lot(DEPARTMENT, COLLEGE, "2016-031", "02", "Charpente – couverture"),
    _lot(DEPARTMENT, COLLEGE, "2016-031", "03", "Menuiseries extérieures"),
    _lot(DEPARTMENT, COLLEGE, "2016-031", "04", "Plâtrerie – peinture"),
    _lot(DEPARTMENT, COLLEGE, "2016-031", "05", "Électricité", finished=date(2018, 2, 15)),
    _lot(DEPARTMENT, "Voirie départementale 2017", "2017-002", "", "Entretien des routes"),
    _lot(AUCH, "Médiathèque du Grand Auch", "2016-112", "01", "Démolition – désamiantage"),
    _lot(AUCH, "Médiathèque du Grand Auch", "2016-112", "02", "Gros œuvre"),
    _lot(
        AUCH, "Médiathèque du Grand Auch", "2016-112", "03", "Cloisons", finished=date(2017, 12, 20)
    ),
    _lot(
        AUCH, "Médiathèque du Grand Auch", "2016-112", "04", "Peinture", finished=date(2017, 12, 20)
    ),
    _lot(AUCH, "Espaces verts", "2017-015", "", "Entretien des parcs", finished=date(2017, 12, 20)),
    _lot(HABITAT, "Réhabilitation de 120 logements", "2016-OPH-07", "01", "Isolation"),
    _lot(HABITAT, "Réhabilitation de 120 logements", "2016-OPH-07", "02", "Menuiseries"),
    _lot(HABITAT, "Réhabilitation de 120 logements", "2016-OPH-07", "03", "Plomberie"),
    _lot(HABITAT, "Réhabilitation de 120 logements", "2016-OPH-07", "04", "Électricité"),
    _lot(HABITAT, "Réhabilitation de 120 logements", "2016-OPH-07", "05", "Peinture"),
    _lot(HABITAT, "Entretien du parc", "2017-OPH-02", "", "Nettoyage des parties communes"),
)
ROLES = (PartyRole.HOLDER, PartyRole.CO_CONTRACTOR, PartyRole.SUBCONTRACTOR)
#: How each kind of party delivers its hours.
MODES = {
    PartyRole.HOLDER: (DeliveryMode.DIRECT_HIRING, ContractType.CDD),
    PartyRole.CO_CONTRACTOR: (DeliveryMode.PROVISION_ETTI, ContractType.TEMP_WORK),
    PartyRole.SUBCONTRACTOR: (DeliveryMode.SUBCONTRACTING, ContractType.CDDI),
}
#: The subcontractor of the last lot declared nothing in 2017: it is accompanied all the same.
SILENT = (len(LOTS) - 1, PartyRole.SUBCONTRACTOR)
CRITERIA = (
    Criterion.LONG_TERM_JOBSEEKER,
    Criterion.MINIMUM_INCOME,
    Criterion.YOUNG_LOW_QUALIFIED,
    Criterion.DISABLED_WORKER,
    Criterion.JOBSEEKER_OVER_50,
    Criterion.QPV_RESIDENT,
)
BIRTH_YEARS = (1995, 1970, 1984, 1962, 1999, 1978, 1990)


def company_name(lot: int, role: PartyRole) -> str:
    return f"Entreprise {lot + 1:02d}-{ROLES.index(role) + 1}"


def shares(hours: int) -> dict[PartyRole, int]:
    """The lot's hours: a quarter by the co-contractor, a sixth by the subcontractor."""
    co, sub = hours // 4, hours // 6
    return {
        PartyRole.HOLDER: hours - co - sub,
        PartyRole.CO_CONTRACTOR: co,
        PartyRole.SUBCONTRACTOR: sub,
    }


@dataclass(frozen=True)
class PlannedLine:
    lot: int
    role: PartyRole
    month: date
    reference: str
    hours: Decimal

    @property
    def mode(self) -> DeliveryMode:
        return MODES[self.role][0]

    @property
    def contract(self) -> ContractType:
        return MODES[self.role][1]


def planned_lines() -> list[PlannedLine]:
    """Every company's hours in lines of at most 140 h, a participant at most one line a month."""
    lines = []
    for index, lot in enumerate(LOTS):
        split = shares(lot.hours)
        if (index, PartyRole.SUBCONTRACTOR) == SILENT:
            split[PartyRole.HOLDER] += split.pop(PartyRole.SUBCONTRACTOR)
        for role, hours in split.items():
            left, i = Decimal(hours), 0
            while left > 0:
                chunk = min(CHUNK, left)
                reference = f"G-{index + 1:02d}{ROLES.index(role) + 1}-{i // 12 + 1}"
                lines.append(PlannedLine(index, role, date(YEAR, i % 12 + 1, 1), reference, chunk))
                left -= chunk
                i += 1
    return lines


@dataclass(frozen=True)
class Person:
    criterion: Criterion
    sex: Sex
    birth_year: int


def people() -> dict[str, Person]:
    references = sorted({line.reference for line in planned_lines()})
    return {
        reference: Person(
            CRITERIA[i % len(CRITERIA)],
            Sex.FEMALE if i % 3 == 0 else Sex.MALE,
            BIRTH_YEARS[i % len(BIRTH_YEARS)],
        )
        for i, reference in enumerate(references)
    }


FLYER = (
    [OutcomeType.CDI] * 3
    + [OutcomeType.APPRENTICESHIP]
    + [OutcomeType.PROFESSIONALISATION] * 3
    + [OutcomeType.SHORT_TRAINING] * 11
)


def planned_outcomes() -> list[tuple[str, int, OutcomeType]]:
    """The flyer's 18 outcomes, on the first participant of each company in turn."""
    firsts: list[tuple[str, int]] = []
    for line in planned_lines():
        if (line.reference, line.lot) not in firsts and line.reference.endswith("-1"):
            firsts.append((line.reference, line.lot))
    # Every third company: the outcomes spread over the three buyers.
    chosen = firsts[::2][: len(FLYER)]
    return [(ref, lot, kind) for (ref, lot), kind in zip(chosen, FLYER, strict=True)]


OUTCOME_DAY = date(YEAR, 12, 20)
LATE_OUTCOME = ("G-012-1", 0, OutcomeType.LOST_CONTACT, date(2018, 1, 10))


# --- building it --------------------------------------------------------------------------------


def at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@dataclass
class Built:
    buyers: dict[str, int]
    clauses: dict[int, int]  # lot index -> clause id
    companies: dict[tuple[int, PartyRole], int]


def _advance(
    app: App, session: Session, clause_id: int, event: ClauseEvent, now: datetime, **kw: object
) -> None:
    advance_clause(
        session,
        clause_id,
        event,
        actor="Facilitatrice",
        reason=None,
        now=now,
        publish=app.publish,
        **kw,  # type: ignore[arg-type]
    )


def _months(start: date, end: date) -> Iterator[date]:
    month = start
    while month <= end:
        yield month
        month = date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def build(app: App, clock: Clock) -> Built:
    """The territory, the year's declarations and outcomes, and what surrounds the year."""
    handlers, app.handlers = app.handlers, {}  # the notices are not what this scenario is about
    try:
        return _build(app, clock)
    finally:
        app.handlers = handlers


def _award(
    app: App,
    session: Session,
    clause_id: int,
    companies: list[tuple[PartyRole, int]],
    start: date,
    end: date,
    now: datetime,
) -> None:
    _advance(app, session, clause_id, ClauseEvent.DRAFT, now)
    _advance(app, session, clause_id, ClauseEvent.AWARD, now)
    record_award(
        session,
        clause_id,
        parties=[
            PartyInput(company_id, role, correspondents[company_id])
            for role, company_id in companies
        ],
        start_date=start,
        planned_end_date=end,
        actor="Facilitatrice",
        now=now,
        publish=app.publish,
    )
    _advance(app, session, clause_id, ClauseEvent.START, now)


#: Company id -> its correspondent's id: the award names who receives the calls.
correspondents: dict[int, int] = {}


def _company(session: Session, name: str, now: datetime) -> int:
    company = add_company(session, name=name, city="Auch", now=now)
    correspondents[company.id] = add_correspondent(
        session,
        company.id,
        name=f"Correspondant {name}",
        email=f"c{company.id}@example.org",
        now=now,
        actor="test",
        publish=no_publish,
    ).id
    return company.id


def _params(hours: int) -> ClauseParameters:
    # amount × 50 % × 10 % ÷ 30 €/h = hours
    return ClauseParameters(
        amount_excl_tax=Decimal(hours * 600),
        labour_share=Decimal("0.5"),
        insertion_rate=Decimal("0.1"),
        hourly_cost=Decimal(30),
    )


def _build(app: App, clock: Clock) -> Built:
    settings = app.settings
    built = Built({}, {}, {})
    setup = at(date(2016, 6, 1))
    clock.set(setup)
    with app.transaction() as session:
        operations: dict[tuple[str, str], int] = {}
        markets: dict[str, int] = {}
        for name in (DEPARTMENT, AUCH, HABITAT):
            built.buyers[name] = add_buyer(
                session, name=name, kind="collectivité", now=setup, settings=settings
            ).id

        def market_id(buyer: str, operation: str, reference: str, now: datetime) -> int:
            if (buyer, operation) not in operations:
                operations[(buyer, operation)] = add_operation(
                    session, built.buyers[buyer], name=operation, place="Gers", now=now
                ).id
            if reference not in markets:
                markets[reference] = add_market(
                    session, operations[(buyer, operation)], reference=reference
                ).id
            return markets[reference]

        # 2016: a clause of the Département done and closed before the year.
        old = add_lot(
            session,
            market_id(DEPARTMENT, "Aménagement du bourg de Vic", "2015-090", setup),
            lot_number="",
            lot_title="Voirie et réseaux",
            params=_params(300),
            actor="Facilitatrice",
            now=setup,
            publish=app.publish,
            settings=settings,
        ).id
        old_company = _company(session, "Entreprise de 2016", setup)
        _award(
            app,
            session,
            old,
            [(PartyRole.HOLDER, old_company)],
            date(2016, 7, 1),
            date(2016, 11, 30),
            setup,
        )
        veteran = create_participant(
            session,
            reference="G-2016",
            criterion=Criterion.IAE,
            now=setup,
            sex=Sex.MALE,
            birth_year=1980,
        )
    _declare(
        app,
        old,
        old_company,
        date(2016, 11, 1),
        [(veteran.id, Decimal(150))],
        at(date(2016, 12, 12)),
    )
    with app.transaction() as session:
        _advance(
            app,
            session,
            old,
            ClauseEvent.FINISH,
            at(date(2016, 12, 15)),
            end_date=date(2016, 11, 30),
        )
        record_final_report(
            session,
            old,
            text="Bilan 2016.",
            actor="Facilitatrice",
            now=at(date(2016, 12, 15)),
            publish=app.publish,
        )
        _advance(app, session, old, ClauseEvent.CLOSE, at(date(2016, 12, 20)))

    # December 2016: the 17 lots of 2017, awarded and started, 51 companies.
    award_day = at(date(2016, 12, 1))
    clock.set(award_day)
    with app.transaction() as session:
        for index, lot in enumerate(LOTS):
            clause = add_lot(
                session,
                market_id(lot.buyer, lot.operation, lot.market, award_day),
                lot_number=lot.lot,
                lot_title=lot.title,
                params=_params(lot.hours),
                actor="Facilitatrice",
                now=award_day,
                publish=app.publish,
                settings=settings,
            )
            built.clauses[index] = clause.id
            parties = []
            for role in ROLES:
                company = _company(session, company_name(index, role), award_day)
                built.companies[(index, role)] = company
                parties.append((role, company))
            _award(app, session, clause.id, parties, date(2017, 1, 2), date(2018, 6, 30), award_day)
        created = at(date(2016, 12, 1))
        ids: dict[str, int] = {}
        for reference, person in people().items():
            ids[reference] = create_participant(
                session,
                reference=reference,
                criterion=person.criterion,
                now=created,
                sex=person.sex,
                birth_year=person.birth_year,
            ).id
        # June 2017: a clause spotted, still at identification at the end of the year.
        add_lot(
            session,
            market_id(DEPARTMENT, "Restauration scolaire", "2017-044", award_day),
            lot_number="",
            lot_title="Cuisine centrale",
            params=ClauseParameters(),
            actor="Facilitatrice",
            now=at(date(2017, 6, 1)),
            publish=app.publish,
            settings=settings,
        )

    # 2017, month by month: each company declares its month on the 12th of the next one.
    lines = planned_lines()
    for month in _months(date(YEAR, 1, 1), date(YEAR, 12, 1)):
        if month.month == 12:
            with app.transaction() as session:
                for index, lot in enumerate(LOTS):
                    if lot.finished and lot.finished.year == YEAR:
                        _advance(
                            app,
                            session,
                            built.clauses[index],
                            ClauseEvent.FINISH,
                            at(lot.finished),
                            end_date=date(2017, 12, 15),
                        )
        declared_on = at(date(month.year + (month.month == 12), month.month % 12 + 1, 12))
        clock.set(declared_on)
        by_company: dict[tuple[int, PartyRole], list[tuple[int, Decimal]]] = {}
        for line in lines:
            if line.month == month:
                by_company.setdefault((line.lot, line.role), []).append(
                    (ids[line.reference], line.hours)
                )
        for (lot_index, role), hours in by_company.items():
            _declare(
                app,
                built.clauses[lot_index],
                built.companies[(lot_index, role)],
                month,
                hours,
                declared_on,
                MODES[role],
            )

    # January 2018: the flyer's outcomes, recorded once known.
    recorded_on = at(date(2018, 1, 20))
    clock.set(recorded_on)
    for reference, lot_index, kind in planned_outcomes():
        _outcome(app, reference, built.clauses[lot_index], kind, OUTCOME_DAY, recorded_on)

    # After the year: none of this is 2017's.
    later = at(date(2018, 2, 15))
    clock.set(later)
    with app.transaction() as session:
        newcomer = create_participant(
            session,
            reference="G-2018",
            criterion=Criterion.IAE,
            now=later,
            sex=Sex.FEMALE,
            birth_year=2000,
        ).id
    _declare(
        app,
        built.clauses[0],
        built.companies[(0, PartyRole.HOLDER)],
        date(2018, 1, 1),
        [(newcomer, Decimal(120))],
        later,
    )
    reference, lot_index, kind, day = LATE_OUTCOME
    _outcome(app, reference, built.clauses[lot_index], kind, day, later)
    with app.transaction() as session:
        for index, lot in enumerate(LOTS):
            if lot.finished and lot.finished.year > YEAR:
                _advance(
                    app,
                    session,
                    built.clauses[index],
                    ClauseEvent.FINISH,
                    later,
                    end_date=date(2018, 2, 10),
                )
        add_lot(
            session,
            market_id(AUCH, "Gymnase", "2018-003", later),
            lot_number="",
            lot_title="Gros œuvre",
            params=ClauseParameters(),
            actor="Facilitatrice",
            now=later,
            publish=app.publish,
            settings=settings,
        )
    return built


def _declare(
    app: App,
    clause_id: int,
    company_id: int,
    month: date,
    hours: list[tuple[int, Decimal]],
    now: datetime,
    how: tuple[DeliveryMode, ContractType] = (DeliveryMode.DIRECT_HIRING, ContractType.CDD),
) -> None:
    with app.transaction() as session:
        record_declaration(
            session,
            clause_id=clause_id,
            company_id=company_id,
            month=month,
            lines=[LineInput(person, h, *how) for person, h in hours],
            actor="Facilitatrice",
            now=now,
            source="relevé",
            publish=app.publish,
        )


def _outcome(
    app: App, reference: str, clause_id: int, kind: OutcomeType, on: date, now: datetime
) -> None:
    with app.transaction() as session:
        record_outcome(
            session,
            reference=reference,
            clause_id=clause_id,
            outcome_type=kind,
            on=on,
            actor="Facilitatrice",
            now=now,
            zone=app.settings.zone,
            groups=app.settings.outcome_groups,
        )
