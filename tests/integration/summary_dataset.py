"""A small territory built with ORM rows, whose March 2026 figures are worked out by hand.

Month under test: March 2026. Three buyers; the Gers has clauses 1 and 2 (and an abandoned one),
Auch has clause 3 (and one in identification, and one created just after the month's end in
Paris time), the HLM office only has a clause in drafting.

Hand-worked figures for March 2026 (see the test module for the assertions):
- hours: month 75.25 + 70 + 25 = 170.25; cumulated 260.75 + 120 + 25 = 405.75; target 1800.
- participants overall: new 1 (P4), active 4, cumulated 4; Auch: new 2 (P1, P4), active 2.

Each clause has the ``clause_history`` rows that led it to its stage, all before the end of March
(clause 3's award and start share one instant: the start, written last, wins). ``move_on`` then
changes stages after March, as the following months would.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from workflow.adapters.orm import (
    AwardParty,
    Buyer,
    BuyerContact,
    Clause,
    ClauseHistory,
    Company,
    Correspondent,
    Declaration,
    DeclarationLine,
    Market,
    Operation,
    Outcome,
    Participant,
)

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@dataclass
class Dataset:
    gers: int
    auch: int
    hlm: int
    clauses: dict[str, int]
    participants: dict[str, str]  # name -> reference


def _clause(
    market: Market,
    lot: str,
    stage: str,
    *,
    computed: int | None = None,
    override: int | None = None,
    start: date | None = None,
    end: date | None = None,
    created_at: datetime = T0,
) -> Clause:
    return Clause(
        market=market,
        lot_number=lot,
        lot_title=f"Lot {lot or 'unique'}",
        stage=stage,
        version=1,
        stage_changed_at=created_at,
        hours_computed=computed,
        hours_override=override,
        override_reason="avenant" if override else None,
        start_date=start,
        planned_end_date=end,
        created_at=created_at,
    )


#: The stage each event leaves a clause in (events that keep the stage are not listed).
EVENT_STAGES = {
    "draft": "drafting",
    "award": "award",
    "start": "execution",
    "finish": "follow_up",
    "close": "closed",
    "abandon": "abandoned",
}


def _at(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 9, 0, tzinfo=UTC)


def history(
    session: Session, clause: Clause, created: datetime, *steps: tuple[str, datetime]
) -> None:
    """The append-only rows of ``clause``: identified at ``created``, then each (event, at)."""
    stage = "identification"
    rows = [ClauseHistory(clause_id=clause.id, at=created, actor="test", event="identify",
                          from_stage=None, to_stage=stage)]  # fmt: skip
    for event, at in steps:
        before, stage = stage, EVENT_STAGES.get(event, stage)
        rows.append(
            ClauseHistory(clause_id=clause.id, at=at, actor="test", event=event,
                          from_stage=before, to_stage=stage)
        )  # fmt: skip
    session.add_all(rows)


def move(session: Session, clause_id: int, event: str, at: datetime, **changes: object) -> None:
    """Advance a clause as the service would: its stage, and one more history row."""
    clause = session.get_one(Clause, clause_id)
    stage = EVENT_STAGES.get(event, clause.stage)
    session.add(
        ClauseHistory(clause_id=clause_id, at=at, actor="test", event=event,
                      from_stage=clause.stage, to_stage=stage)
    )  # fmt: skip
    clause.stage, clause.stage_changed_at = stage, at
    for name, value in changes.items():
        setattr(clause, name, value)


def move_on(session: Session, data: Dataset) -> None:
    """Stage changes after March 2026, none of which the March summary may show.

    Clause 2 ends at 00:30 on 1 April in Paris (22:30 UTC on 31 March); the HLM office's clause 7
    is awarded and started in April with a start date back in March; clause 4 is abandoned.
    """
    clauses = data.clauses
    move(session, clauses["c2"], "finish", datetime(2026, 3, 31, 22, 30, tzinfo=UTC))
    move(session, clauses["c7"], "award", _at(4, 8))
    move(
        session, clauses["c7"], "start", _at(4, 15),
        start_date=date(2026, 3, 16), planned_end_date=date(2026, 12, 31),
    )  # fmt: skip
    move(session, clauses["c4"], "abandon", _at(4, 20))
    session.flush()


def build(session: Session) -> Dataset:
    gers = Buyer(name="Département du Gers", created_at=T0)
    auch = Buyer(name="Ville d'Auch", created_at=T0)
    hlm = Buyer(name="Office HLM", created_at=T0)
    gers.contacts = [
        BuyerContact(name="Anne Achat", email="anne.achat@gers.example"),
        BuyerContact(name="Bruno Marchés", email="bruno@gers.example"),
    ]
    auch.contacts = [BuyerContact(name="Claire Ville", email="claire@auch.example")]
    hlm.contacts = [BuyerContact(name="Denis HLM", email="denis@hlm.example")]
    session.add_all([gers, auch, hlm])
    m1 = Market(
        operation=Operation(buyer=gers, name="Collège", created_at=T0), reference="2025-001"
    )
    m2 = Market(operation=Operation(buyer=auch, name="Voirie", created_at=T0), reference="2025-002")
    m3 = Market(operation=Operation(buyer=hlm, name="Logements", created_at=T0), reference="H-1")
    c1 = _clause(
        m1, "1", "execution", computed=1000, start=date(2026, 1, 1), end=date(2026, 12, 31)
    )
    c2 = _clause(
        m1, "2", "execution", computed=600, override=500,
        start=date(2026, 2, 1), end=date(2026, 5, 31),
    )  # fmt: skip
    c3 = _clause(m2, "", "execution", computed=300, start=date(2026, 3, 1), end=date(2026, 8, 31))
    c4 = _clause(m2, "A", "identification", created_at=datetime(2026, 2, 10, tzinfo=UTC))
    c5 = _clause(m1, "3", "abandoned")
    # 00:30 on 1 April in Paris (summer time since 29 March): after the month's end.
    c6 = _clause(m2, "B", "identification", created_at=datetime(2026, 3, 31, 22, 30, tzinfo=UTC))
    c7 = _clause(m3, "", "drafting", computed=200)
    session.add_all([c1, c2, c3, c4, c5, c6, c7])
    k1 = Company(name="Bâtir Gascogne", created_at=T0)
    k2 = Company(name="Routes du Sud", created_at=T0)
    session.add_all([k1, k2])
    session.flush()
    march_start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    history(session, c1, T0, ("draft", _at(1, 12)), ("award", _at(1, 26)), ("start", _at(2, 2)))
    history(session, c2, T0, ("draft", _at(1, 12)), ("award", _at(1, 19)), ("start", _at(2, 2)))
    history(
        session, c3, T0, ("draft", _at(1, 12)), ("award", _at(2, 9)),
        ("award_recorded", march_start), ("start", march_start),
    )  # fmt: skip
    history(session, c4, c4.created_at)
    history(session, c5, T0, ("abandon", _at(2, 16)))
    history(session, c6, c6.created_at)
    history(session, c7, T0, ("draft", _at(1, 20)))
    for clause, company in ((c1, k1), (c2, k2), (c3, k2)):
        contact = Correspondent(company=company, name="Corr", email=f"c{clause.id}@example.org")
        session.add(contact)
        session.flush()
        session.add(
            AwardParty(
                clause_id=clause.id, company_id=company.id, role="holder",
                correspondent_id=contact.id,
            )
        )  # fmt: skip

    def person(ref: str, criterion: str, sex: str | None, born: int | None) -> Participant:
        return Participant(
            reference=ref, criterion=criterion, sex=sex, birth_year=born, created_at=T0
        )

    p1 = person("PAR-0001", "long_term_jobseeker", "F", 2003)
    p2 = person("PAR-0002", "minimum_income", "M", 1980)
    p3 = person("PAR-0003", "minimum_income", "M", 1970)
    p4 = person("PAR-0004", "disabled_worker", None, None)
    p5 = person("PAR-0005", "iae", "F", 1990)
    session.add_all([p1, p2, p3, p4, p5])
    session.flush()

    def declare(
        clause: Clause, company: Company, month: date, *lines: tuple[Participant, str, str, str]
    ) -> None:
        total = sum((Decimal(h) for _, h, _, _ in lines), Decimal(0))
        session.add(
            Declaration(
                clause_id=clause.id,
                company_id=company.id,
                month=month,
                total_hours=total,
                recorded_at=T0,
                recorded_by="test",
                lines=[
                    DeclarationLine(
                        participant=p, hours=Decimal(h), delivery_mode=mode, contract_type=kind
                    )
                    for p, h, mode, kind in lines
                ],
            )
        )

    jan, feb, mar, apr = (date(2026, m, 1) for m in (1, 2, 3, 4))
    declare(c1, k1, jan, (p1, "70", "direct_hiring", "cdd"))
    declare(
        c1, k1, feb, (p1, "80", "direct_hiring", "cdd"), (p2, "35.5", "provision_etti", "temp_work")
    )
    declare(
        c1, k1, mar, (p1, "75.25", "direct_hiring", "cdd"), (p2, "0", "provision_etti", "temp_work")
    )
    declare(c2, k2, feb, (p3, "40", "subcontracting", "cddi"), (p2, "10", "subcontracting", "cddi"))
    declare(c2, k2, mar, (p3, "60", "subcontracting", "cddi"), (p1, "10", "training", "training"))
    declare(c3, k2, mar, (p4, "20", "direct_hiring", "cdi"), (p1, "5", "direct_hiring", "cdd"))
    declare(c3, k2, apr, (p5, "30", "direct_hiring", "cdi"))
    # Types are read, never the stored group: the first row's group is stale on purpose (a
    # mapping changed since it was written), the summary must still count it as a lasting job.
    session.add_all(
        [
            Outcome(participant_id=p1.id, clause_id=c1.id, group="other", type="cdi", date=date(2026, 3, 15)),
            Outcome(participant_id=p2.id, clause_id=c1.id, group="positive_exit", type="qualifying_training", date=date(2026, 2, 10)),
            Outcome(participant_id=p4.id, clause_id=c3.id, group="transitional_job", type="cdd_under_6_months", date=date(2026, 3, 31)),
            Outcome(participant_id=p3.id, clause_id=None, group="other", type="lost_contact", date=date(2026, 3, 2)),
            Outcome(participant_id=p1.id, clause_id=c1.id, group="lasting_job", type="cdi", date=date(2026, 4, 1)),
        ]
    )  # fmt: skip
    session.flush()
    return Dataset(
        gers=gers.id,
        auch=auch.id,
        hlm=hlm.id,
        clauses={f"c{i}": c.id for i, c in enumerate((c1, c2, c3, c4, c5, c6, c7), start=1)},
        participants={f"p{i}": p.reference for i, p in enumerate((p1, p2, p3, p4, p5), start=1)},
    )
