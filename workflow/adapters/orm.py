"""SQLAlchemy 2 typed mappings: the whole schema in one place.

Migrations in ``workflow/migrations`` are generated from these classes. Due dates live in indexed
columns (``AwardParty.next_call_at``, ``DeclarationLadder.next_step_at``, ``OutboxMessage.next_attempt_at``)
so that each scheduler pass asks the database what is due instead of scanning clauses.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    Connection,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    column,
    desc,
    event,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from workflow.adapters.types import Hours, Money, Ratio, UTCDateTime

#: The predicates of the partial indexes, written as the queries that use them write them
#: (SQLite uses a partial index only for a WHERE term identical to its own, without parameters).
OPEN_LADDERS = "declared_at IS NULL"
#: The ladders the climb walks: not declared, their lot called (``held``, migration 0032).
DUE_LADDERS = "declared_at IS NULL AND NOT held"
#: The open months asked again after a cancelled declaration (``asked_again_on``, 0030).
ASKED_AGAIN = "asked_again_on IS NOT NULL AND declared_at IS NULL"
UNARMED_PARTIES = "next_call_at IS NULL AND next_call_month IS NULL"
PLANNED_CALLS = "next_call_at IS NOT NULL"
UNVALIDATED = "validated_at IS NULL"
SUSPENSION_ROWS = "to_stage = 'suspended' OR from_stage = 'suspended'"
ENDED_LOTS = "end_date IS NOT NULL"
#: The lots closed or abandoned: they take no declaration (the day's tasks leave them out).
FINAL_LOTS = "stage IN ('closed', 'abandoned')"
#: The emails in trouble (refused, given up, maybe delivered): the day's tasks and the
#: dashboard read them alone.
TROUBLED_MAIL = "state IN ('failed', 'dead', 'uncertain')"
#: The lots in follow-up with a final report recorded, their last report and its notices: the
#: day's tasks look for the reports outdated among them (``services.outdated_reports``).
REPORTED_LOTS = "stage = 'follow_up' AND final_report_at IS NOT NULL"
REPORT_ROWS = "event = 'final_report'"
TERMINATION_ROWS = "event = 'terminate'"
REPORT_NOTICES = "kind = 'notice_final_report'"
#: The emails held back by an outage of the route (``outbox.OUTAGE_ERROR_PREFIX``, « Envoi
#: impossible : »): none when the server answers, read after each pass that sent nothing (0033).
#: Written without « % »: the generator's bulk loader renders the models' indexes through the
#: driver, which doubled it on PostgreSQL (``LIKE 'Envoi impossible%%'``, which the planner could
#: not match with the query's own term).
OUTAGE_MAIL = "state = 'pending' AND substr(last_error, 1, 16) = 'Envoi impossible'"
#: Emails whose text promises a date (a next reminder, a date to declare by): the dispatcher
#: writes again those still waiting once it has passed (``services.stale_promises``).
PROMISING_MAIL = "promised_until IS NOT NULL"

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class CalendarOverrides:
    """Per-buyer or per-lot changes to the declaration calendar; None means the default."""

    declaration_due_day: Mapped[int | None] = mapped_column(Integer, default=None)
    reminder_offsets: Mapped[str | None] = mapped_column(String(40), default=None)  # "3,7"
    escalation_offset: Mapped[int | None] = mapped_column(Integer, default=None)


class Buyer(CalendarOverrides, Base):
    __tablename__ = "buyers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(60), default="")
    notice_preference: Mapped[str] = mapped_column(String(20), default="each_milestone")
    #: The searched fields, normalised (``adapters.search_text`` keeps it on every write).
    search_text: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    contacts: Mapped[list[BuyerContact]] = relationship(
        back_populates="buyer", cascade="all, delete-orphan", order_by="BuyerContact.id"
    )
    operations: Mapped[list[Operation]] = relationship(back_populates="buyer")


class BuyerContact(Base):
    __tablename__ = "buyer_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("buyers.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str] = mapped_column(String(40), default="")
    role: Mapped[str] = mapped_column(String(100), default="")
    #: The searched fields, normalised (``adapters.search_text`` keeps it on every write).
    search_text: Mapped[str | None] = mapped_column(Text, default=None)

    buyer: Mapped[Buyer] = relationship(back_populates="contacts")


class Operation(Base):
    __tablename__ = "operations"
    __table_args__ = (UniqueConstraint("buyer_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("buyers.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    place: Mapped[str] = mapped_column(String(200), default="")
    #: The searched fields, normalised (``adapters.search_text`` keeps it on every write).
    search_text: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    buyer: Mapped[Buyer] = relationship(back_populates="operations")
    markets: Mapped[list[Market]] = relationship(back_populates="operation")


class Market(Base):
    __tablename__ = "markets"
    __table_args__ = (UniqueConstraint("operation_id", "reference"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    operation_id: Mapped[int] = mapped_column(ForeignKey("operations.id"), index=True)
    reference: Mapped[str] = mapped_column(String(60))
    title: Mapped[str] = mapped_column(String(200), default="")
    #: The searched fields, normalised (``adapters.search_text`` keeps it on every write).
    search_text: Mapped[str | None] = mapped_column(Text, default=None)

    operation: Mapped[Operation] = relationship(back_populates="markets")
    clauses: Mapped[list[Clause]] = relationship(back_populates="market")


class Clause(CalendarOverrides, Base):
    """One lot of a market carrying an insertion clause: the unit the stage machine moves."""

    __tablename__ = "clauses"
    __table_args__ = (
        UniqueConstraint("market_id", "lot_number"),
        # The lots whose work ended: the day's tasks leave out the months after the end
        # (migration 0019).
        Index(
            "ix_clauses_ended",
            "id",
            "end_date",
            sqlite_where=text(ENDED_LOTS),
            postgresql_where=text(ENDED_LOTS),
        ),
        # The lots in a stage by planned end: the contracts ending soon (migration 0019).
        Index("ix_clauses_stage_planned_end", "stage", "planned_end_date"),
        # The lots in a stage by the instant they entered it: the longest waiting first
        # (migration 0019).
        Index("ix_clauses_stage_changed", "stage", "stage_changed_at"),
        # The lots in a stage by planned start: the awarded lots whose start has passed, not
        # recorded (migration 0031).
        Index("ix_clauses_stage_start", "stage", "start_date"),
        # The lots closed or abandoned, by number: the day's tasks leave out their ladders
        # (migration 0020).
        Index(
            "ix_clauses_final",
            "id",
            sqlite_where=text(FINAL_LOTS),
            postgresql_where=text(FINAL_LOTS),
        ),
        # The lots in follow-up with a report recorded: the day's tasks look for the reports
        # outdated among them, not among every lot in follow-up (migration 0024).
        Index(
            "ix_clauses_reported",
            "id",
            sqlite_where=text(REPORTED_LOTS),
            postgresql_where=text(REPORTED_LOTS),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    market_id: Mapped[int] = mapped_column(ForeignKey("markets.id"), index=True)
    lot_number: Mapped[str] = mapped_column(String(20), default="")  # "" for a single-lot market
    lot_title: Mapped[str] = mapped_column(String(200))
    trade: Mapped[str] = mapped_column(String(100), default="")
    amount_excl_tax: Mapped[Decimal | None] = mapped_column(Money, default=None)
    labour_share: Mapped[Decimal | None] = mapped_column(Ratio, default=None)
    insertion_rate: Mapped[Decimal | None] = mapped_column(Ratio, default=None)
    hourly_cost: Mapped[Decimal | None] = mapped_column(Money, default=None)
    hours_computed: Mapped[int | None] = mapped_column(Integer, default=None)
    hours_override: Mapped[int | None] = mapped_column(Integer, default=None)
    override_reason: Mapped[str | None] = mapped_column(Text, default=None)
    stage: Mapped[str] = mapped_column(String(20), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    stage_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    planned_notification: Mapped[date | None] = mapped_column(Date, default=None)
    awarded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Indexed: which lots a month's summary covers (started by its end) and the first month
    # any lot started are asked of every lot at every summary (issue 12: no full scan).
    start_date: Mapped[date | None] = mapped_column(Date, default=None, index=True)
    planned_end_date: Mapped[date | None] = mapped_column(Date, default=None)
    end_date: Mapped[date | None] = mapped_column(Date, default=None)
    final_report_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    final_report: Mapped[str | None] = mapped_column(Text, default=None)
    #: The searched fields, normalised (``adapters.search_text`` keeps it on every write).
    search_text: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    market: Mapped[Market] = relationship(back_populates="clauses")
    parties: Mapped[list[AwardParty]] = relationship(
        back_populates="clause", cascade="all, delete-orphan", order_by="AwardParty.id"
    )
    history: Mapped[list[ClauseHistory]] = relationship(
        back_populates="clause", order_by="ClauseHistory.id"
    )

    @property
    def hours_target(self) -> int | None:
        return self.hours_override if self.hours_override is not None else self.hours_computed

    @property
    def label(self) -> str:
        lot = f" lot {self.lot_number}" if self.lot_number else ""
        return f"Clause n° {self.id} (marché {self.market.reference}{lot} – {self.lot_title})"


class Company(Base):
    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    siret: Mapped[str | None] = mapped_column(String(14), unique=True, default=None)
    city: Mapped[str] = mapped_column(String(100), default="")
    #: The searched fields, normalised (``adapters.search_text`` keeps it on every write).
    search_text: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    correspondents: Mapped[list[Correspondent]] = relationship(
        back_populates="company", order_by="Correspondent.id"
    )


class Correspondent(Base):
    """The person at a company who receives calls and reminders ("correspondant·e insertion")."""

    __tablename__ = "correspondents"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str] = mapped_column(String(40), default="")
    #: The searched fields, normalised (``adapters.search_text`` keeps it on every write).
    search_text: Mapped[str | None] = mapped_column(Text, default=None)

    company: Mapped[Company] = relationship(back_populates="correspondents")


class AwardParty(Base):
    """A company bound by the clause: the holder, a co-contractor or a subcontractor.

    ``next_call_month``/``next_call_at`` say which month this company is next called to declare
    and when: the scheduler's pass selects on ``next_call_at`` and moves it forward.
    ``first_month``: its first month to declare when it joined during the works
    (``lot_calendars.first_month_of``); ``last_month``: its last, when it left during them.
    """

    __tablename__ = "award_parties"
    __table_args__ = (
        UniqueConstraint("clause_id", "company_id"),
        # The calls planned, which the pass opens when due (``reminders.open_due_ladders``):
        # partial, so that the parties with none (most of a country's: parked past their lot's
        # end) are out of it, and SQLite does not read them through it for ``arm_parties``
        # (migration 0016).
        Index(
            "ix_award_parties_next_call_at",
            "next_call_at",
            sqlite_where=text(PLANNED_CALLS),
            postgresql_where=text(PLANNED_CALLS),
        ),
        # The parties never armed, which the pass arms (``reminders.arm_parties``): a few
        # thousand among the parties of every lot (migration 0016).
        Index(
            "ix_award_parties_unarmed",
            "id",
            "clause_id",
            sqlite_where=text(UNARMED_PARTIES),
            postgresql_where=text(UNARMED_PARTIES),
        ),
        # The companies that left a lot during the works (``company_departures``): a few
        # among every lot's parties, which the readers of the months owed leave out past their
        # last month (the day's tasks, the summaries) without reading the others (migration
        # 0023). The predicate as written there (``LEFT_PARTIES``).
        Index(
            "ix_award_parties_left",
            "clause_id",
            "company_id",
            "last_month",
            sqlite_where=text("last_month IS NOT NULL"),
            postgresql_where=text("last_month IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clause_id: Mapped[int] = mapped_column(ForeignKey("clauses.id"), index=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    correspondent_id: Mapped[int | None] = mapped_column(
        ForeignKey("correspondents.id"), default=None
    )
    hours_share: Mapped[int | None] = mapped_column(Integer, default=None)
    next_call_month: Mapped[date | None] = mapped_column(Date, default=None)
    next_call_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    #: The first month this company declares: set when it joined the lot in execution (an award
    #: corrected then, ``services.clauses.apply_award``); None: the lot's start month.
    first_month: Mapped[date | None] = mapped_column(Date, default=None)
    #: The last month this company declares: set when it left the lot during the works
    #: (``services.company_departures``); None: up to the lot's end.
    last_month: Mapped[date | None] = mapped_column(Date, default=None)

    clause: Mapped[Clause] = relationship(back_populates="parties")
    company: Mapped[Company] = relationship()
    correspondent: Mapped[Correspondent | None] = relationship()


class Participant(Base):
    """Kept minimal on purpose (GDPR): a pseudonymous reference, never a name."""

    __tablename__ = "participants"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    criterion: Mapped[str] = mapped_column(String(40))
    proof: Mapped[str] = mapped_column(String(200), default="")
    validated_on: Mapped[date | None] = mapped_column(Date, default=None)
    sex: Mapped[str | None] = mapped_column(String(1), default=None)
    birth_year: Mapped[int | None] = mapped_column(Integer, default=None)
    #: The searched fields, normalised (``adapters.search_text`` keeps it on every write).
    search_text: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Declaration(Base):
    """A company's monthly statement of insertion hours for one lot; zero hours is a declaration."""

    __tablename__ = "declarations"
    __table_args__ = (
        UniqueConstraint("clause_id", "company_id", "month"),
        Index("ix_declarations_month", "month"),
        # The months recorded since a moment: each month's summaries name the declarations
        # corrected since the previous ones (``summaries._changed_declarations``; 0026).
        Index("ix_declarations_recorded_at", "recorded_at"),
        # The months received and not validated yet, oldest first: the dashboard's list and
        # its count read these rows only.
        Index(
            "ix_declarations_to_validate",
            "month",
            "clause_id",
            sqlite_where=text(UNVALIDATED),
            postgresql_where=text(UNVALIDATED),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clause_id: Mapped[int] = mapped_column(ForeignKey("clauses.id"), index=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    month: Mapped[date] = mapped_column(Date)  # first day of the month declared
    total_hours: Mapped[Decimal] = mapped_column(Hours)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(200), default="")
    #: Checked by the facilitator (``clauses declaration validate``): the company's page is then
    #: read-only. A correction she records afterwards clears it.
    validated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    validated_by: Mapped[str | None] = mapped_column(String(100), default=None)
    #: What this month held before the correction that made it what it is (none for a month
    #: recorded once): its receipt, written again while it waits, says what it replaces.
    replaced_total_hours: Mapped[Decimal | None] = mapped_column(Hours, default=None)
    replaced_recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    lines: Mapped[list[DeclarationLine]] = relationship(
        back_populates="declaration", cascade="all, delete-orphan", order_by="DeclarationLine.id"
    )


class DeclarationLine(Base):
    __tablename__ = "declaration_lines"
    __table_args__ = (UniqueConstraint("declaration_id", "participant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("declarations.id"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    hours: Mapped[Decimal] = mapped_column(Hours)
    delivery_mode: Mapped[str] = mapped_column(String(30))
    contract_type: Mapped[str] = mapped_column(String(30))

    declaration: Mapped[Declaration] = relationship(back_populates="lines")
    participant: Mapped[Participant] = relationship()


class Outcome(Base):
    """What became of a participant ("sortie"): grouped for reporting."""

    __tablename__ = "outcomes"

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    clause_id: Mapped[int | None] = mapped_column(ForeignKey("clauses.id"), index=True)
    group: Mapped[str] = mapped_column(String(30))
    type: Mapped[str] = mapped_column(String(60))
    # Indexed: summaries and the annual report count the outcomes up to a day.
    date: Mapped[date] = mapped_column(Date, index=True)


class ClauseHistory(Base):
    """Append-only: one row per stage change or notable action, in the same transaction."""

    __tablename__ = "clause_history"
    __table_args__ = (
        # The stretches a lot was suspended (``lot_calendars.suspensions``): a few rows of a
        # long history, read for thousands of lots by the dashboard's late declarations.
        Index(
            "ix_clause_history_suspensions",
            "clause_id",
            "at",
            "id",
            sqlite_where=text(SUSPENSION_ROWS),
            postgresql_where=text(SUSPENSION_ROWS),
        ),
        # Each lot's rows newest first, with the stage: its stage at an instant is the first
        # entry (the monthly summaries read every lot's twice, from the index alone; 0018).
        Index(
            "ix_clause_history_latest",
            "clause_id",
            desc(column("at")),
            desc(column("id")),
            "to_stage",
        ),
        # Each lot's final reports, newest first: its last one in one step (migration 0024).
        Index(
            "ix_clause_history_reports",
            "clause_id",
            desc(column("at")),
            desc(column("id")),
            sqlite_where=text(REPORT_ROWS),
            postgresql_where=text(REPORT_ROWS),
        ),
        # The lots terminated during their works: a handful of rows every monthly summary, the
        # lot list and the board read (``terminations``; migration 0025).
        Index(
            "ix_clause_history_terminations",
            "clause_id",
            "at",
            "id",
            sqlite_where=text(TERMINATION_ROWS),
            postgresql_where=text(TERMINATION_ROWS),
        ),
        # The rows of one kind written since a moment: the digest's online corrections since the
        # previous digest, the summaries' cancellations since the previous summary (0026).
        Index("ix_clause_history_event_at", "event", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clause_id: Mapped[int] = mapped_column(ForeignKey("clauses.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(100))
    event: Mapped[str] = mapped_column(String(30))
    from_stage: Mapped[str | None] = mapped_column(String(20))
    to_stage: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    #: The company a row tells of (a company's departure, « company_left »; a declaration's
    #: recording), its number then (0029; NULL on the rows written before, and on the rows of no
    #: company): its readers (the replay of a summary) find it though its name was given to
    #: another company since. No foreign key, as in ``record_history``: the row outlives a
    #: company merged into another.
    company_id: Mapped[int | None] = mapped_column(default=None)

    clause: Mapped[Clause] = relationship(back_populates="history")


class RecordHistory(Base):
    """Append-only: one row per correction of the reference data (a buyer or its contact, a
    company or its correspondent, an operation, a market, a lot's descriptive fields): who, when,
    what before and after (JSON text, the changed fields only for an edit), and why.

    No foreign key on purpose: the row outlives the record it tells of (deleted, or merged into
    another). ``owner``/``owner_id`` name the buyer or company whose ``show`` lists it.
    """

    __tablename__ = "record_history"
    __table_args__ = (
        Index("ix_record_history_entity", "entity", "entity_id"),
        Index("ix_record_history_owner", "owner", "owner_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # buyer, buyer_contact, company, correspondent, operation, market, clause (a lot)
    entity: Mapped[str] = mapped_column(String(20))
    entity_id: Mapped[int] = mapped_column(Integer)
    owner: Mapped[str] = mapped_column(String(20))  # buyer or company
    owner_id: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(20))  # edit, delete, merge, absorb
    before: Mapped[str | None] = mapped_column(Text, default=None)
    after: Mapped[str | None] = mapped_column(Text, default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None)


class DeclarationLadder(Base):
    """The reminder ladder of one company x lot x month: call, reminders, escalation.

    ``next_step`` is the step to send at ``next_step_at``; recording the declaration sets
    ``declared_at`` and clears ``next_step_at``, which stops the ladder in the same transaction.
    ``due_on`` is the due date the month's call gave, or will give when it leaves at its slot
    (written when the month is opened, again when the call leaves);
    ``called_at`` and ``stepped_at`` say when its call and its latest step were really queued,
    from which the following steps are counted.
    """

    __tablename__ = "declaration_ladders"
    __table_args__ = (
        UniqueConstraint("clause_id", "company_id", "month"),
        # The months not declared yet, in the order the dashboard groups them: a few thousand
        # among every month of every lot (``digest._overdue``, ``missing_declarations``). With
        # the due date and the call that ``digest._overdue`` reads: from the index alone.
        Index(
            "ix_declaration_ladders_open",
            "clause_id",
            "company_id",
            "month",
            "due_on",
            "called_at",
            sqlite_where=text(OPEN_LADDERS),
            postgresql_where=text(OPEN_LADDERS),
        ),
        # The earliest due date given for a month, which its summary waits for (migration 0015).
        Index("ix_declaration_ladders_month_due", "month", "due_on"),
        # The steps the climb looks for on every pass, in its order, without the ladders of the
        # lots suspended or ended, whose steps past stay there (migration 0032).
        Index(
            "ix_declaration_ladders_due",
            "next_step_at",
            "id",
            sqlite_where=text(DUE_LADDERS),
            postgresql_where=text(DUE_LADDERS),
        ),
        # The few open months asked again after a cancelled declaration, with what the day's
        # tasks read of them: from the index alone (migration 0030).
        Index(
            "ix_declaration_ladders_asked_again",
            "clause_id",
            "company_id",
            "month",
            "asked_again_on",
            sqlite_where=text(ASKED_AGAIN),
            postgresql_where=text(ASKED_AGAIN),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clause_id: Mapped[int] = mapped_column(ForeignKey("clauses.id"), index=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    month: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    next_step: Mapped[str] = mapped_column(String(20))
    next_step_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    declared_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    called_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    stepped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    #: The day (local) its declaration was last cancelled and the month asked again
    #: (``reminders.resume_ladder``): once past its due date, the company is held to that day,
    #: as the cancellation's email and the reminders say (« dès que possible »), and the
    #: facilitator's readers count the days late from it (migration 0030).
    asked_again_on: Mapped[date | None] = mapped_column(Date, default=None)
    #: Its lot is not called now (suspended, ended, closed): its steps wait, and the climb does
    #: not look at them (``ix_declaration_ladders_due``). Kept by every change of stage, in its
    #: transaction (``clauses._move``); the climb still checks the lot's stage itself (migration
    #: 0032).
    held: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


class OutboxMessage(Base):
    """Every email, written in the transaction that caused it; ``key`` makes a retry harmless."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "state", "next_attempt_at"),
        # The emails in trouble with what the day's tasks read of them (their cause, lot and
        # recipients' domains), a few thousand among millions of messages: on PostgreSQL read
        # from this index alone, not from a table page each (migration 0022).
        Index(
            "ix_outbox_troubled",
            "state",
            "id",
            # Not the answer nor the recipients: an index row holds about 2,700 bytes at most.
            postgresql_include=["clause_id"],
            sqlite_where=text(TROUBLED_MAIL),
            postgresql_where=text(TROUBLED_MAIL),
        ),
        # The emails an outage holds back, none most of the time: each pass that sent nothing
        # looks for them (``outbox.outage_waiting``), which read every waiting email to check
        # its error, 4 ms at 10^5 lots on SQLite (issue 12, migration 0033). Keyed by the state
        # the query asks, so that SQLite, without statistics, prefers it to ``ix_outbox_due``.
        Index(
            "ix_outbox_outage",
            "state",
            sqlite_where=text(OUTAGE_MAIL),
            postgresql_where=text(OUTAGE_MAIL),
        ),
        # Each lot's notices of its final report, with their key and state: whether the buyer
        # was told a report, read from this index alone (migration 0024).
        Index(
            "ix_outbox_report_notices",
            "clause_id",
            postgresql_include=["key", "state"],
            sqlite_where=text(REPORT_NOTICES),
            postgresql_where=text(REPORT_NOTICES),
        ),
        # The few emails whose text promises a date, by state and date: those still waiting
        # once it has passed are found in one look before each delivery (migration 0027).
        Index(
            "ix_outbox_promised",
            "state",
            "promised_until",
            sqlite_where=text(PROMISING_MAIL),
            postgresql_where=text(PROMISING_MAIL),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(60), index=True)
    clause_id: Mapped[int | None] = mapped_column(ForeignKey("clauses.id"), index=True)
    recipients: Mapped[str] = mapped_column(Text)  # "Name <a@b>" joined by newlines
    subject: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    refused_recipients: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # The claim: which dispatcher run holds the row (``sending``) and until when. The holder
    # extends the lease before each send and records only while it still holds the row.
    claimed_by: Mapped[str | None] = mapped_column(String(80), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Set when the holder hands the row to the server: a lease that ends after it leaves the
    # message ``uncertain`` (maybe delivered), one that ends before lets another take it.
    send_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Random, drawn at queuing: the Message-ID's own part, the same on every retry of the row.
    message_token: Mapped[str | None] = mapped_column(String(32), default=None)
    # The instant after which the text says something untrue (« le prochain partira le 13 mai »,
    # « d'ici le 10 mai »), and the facts its builder is run again from then, as JSON
    # (``services.stale_promises``); None for an email that promises nothing.
    promised_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    promise_facts: Mapped[str | None] = mapped_column(Text, default=None)
    # The number of the latest rule of what a monthly summary says that it was written under
    # (``domain.summary_rules``): the audit reads it the older way only for a rule after that
    # one. None for other emails, and for summaries written before the rules were kept.
    rules_revision: Mapped[int | None] = mapped_column(Integer, default=None)
    # Loaded explicitly in batches by the dispatcher (never lazily one message at a time).
    attachments: Mapped[list[OutboxAttachment]] = relationship(
        back_populates="message",
        order_by="OutboxAttachment.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class OutboxAttachment(Base):
    """A file sent with an outbox message (a declaration template), in the order written."""

    __tablename__ = "outbox_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    # CASCADE: a queued email taken back (a ladder moved meanwhile) takes its files with it.
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(120))
    content: Mapped[bytes] = mapped_column(LargeBinary)

    message: Mapped[OutboxMessage] = relationship(back_populates="attachments")


#: Held notices neither released nor superseded yet: written as ``services.held_notices``
#: writes it (SQLite uses a partial index only for the identical WHERE term).
WAITING_NOTICES = "settled_at IS NULL"


class HeldNotice(Base):
    """A buyer notice that could not be queued: the buyer had no contact with an address.

    The clock releases it once the buyer has one (``services.held_notices``). ``key`` is the
    outbox key the notice would have had, and has once released: a release run twice, or by two
    instances, writes one message. ``buyer_id`` says whom it was held for, without a foreign key
    (a buyer merged away is deleted): the release reads the lot's buyer as it is then.
    ``outcome`` says how it was settled: released, superseded (a later notice of the lot told
    the buyer where it stands) or dropped (the buyer no longer wants milestone notices).
    """

    __tablename__ = "held_notices"
    __table_args__ = (
        Index(
            "ix_held_notices_waiting",
            "clause_id",
            "held_at",
            "id",
            sqlite_where=text(WAITING_NOTICES),
            postgresql_where=text(WAITING_NOTICES),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    clause_id: Mapped[int] = mapped_column(ForeignKey("clauses.id"), index=True)
    buyer_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(60))
    # The history row's event and time: the cause the key is built from, and the reason quoted.
    history_event: Mapped[str] = mapped_column(String(30))
    cause: Mapped[str] = mapped_column(String(120))
    held_at: Mapped[datetime] = mapped_column(UTCDateTime)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    outcome: Mapped[str | None] = mapped_column(String(12), default=None)


class PeriodicRun(Base):
    """Which period a periodic job (digest, monthly summary) has already produced."""

    __tablename__ = "periodic_runs"

    job: Mapped[str] = mapped_column(String(40), primary_key=True)
    period: Mapped[str] = mapped_column(String(40), primary_key=True)
    done_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ServiceSecret(Base):
    """A secret the service made itself, once per database, so that every instance sharing the
    database uses the same one (``declaration_links``: the key that signs companies' links when
    no ``CLAUSES_LINK_SECRET`` is set)."""

    __tablename__ = "service_secrets"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebUser(Base):
    """A person who signs in to the dashboard (``clauses user add``); the password is kept as an
    argon2 hash only."""

    __tablename__ = "web_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class WebSession(Base):
    """An open dashboard session: ``id`` is the SHA-256 of the cookie's token, never the token."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web_users.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class LoginFailure(Base):
    """One failed login, counted per login to slow down password guessing."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_login_at", "login", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(60))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiToken(Base):
    """A bearer token of the JSON API (``clauses token create``): its SHA-256 only."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    read_only: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class PrivacyPurge(Base):
    """One run of ``clauses privacy purge`` that removed something: who, when, under which
    retention, and how much. Never the references purged: the row would keep what it removed."""

    __tablename__ = "privacy_purges"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(100))
    retention: Mapped[str] = mapped_column(String(40))  # « 5 ans », « 18 mois »
    cutoff: Mapped[date] = mapped_column(Date)  # what ended before this day was purged
    participants: Mapped[int] = mapped_column(Integer)
    history_rows: Mapped[int] = mapped_column(Integer)
    clause_texts: Mapped[int] = mapped_column(Integer)
    messages: Mapped[int] = mapped_column(Integer)
    attachments: Mapped[int] = mapped_column(Integer)
    summary: Mapped[str] = mapped_column(Text)  # what was done, in French


class PurgedParticipant(Base):
    """A participant whose personal data a purge removed: a later purge leaves them alone."""

    __tablename__ = "purged_participants"

    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), primary_key=True)
    purge_id: Mapped[int] = mapped_column(ForeignKey("privacy_purges.id"), index=True)


class ReportSnapshot(Base):
    """A report of the dashboard (``/bilans``) as compiled once: the page's view (JSON) and its
    CSV and XLSX files, all from the same compile, so the page and its downloads agree.

    One row per report: ``kind`` (``summary``: a month's summary, ``annual``: the funders'
    report), ``period`` (``2026-03`` or ``2017``) and ``scope`` (the buyer's N°, 0 for every
    buyer). A recompute replaces it (an upsert that keeps the newest compile). ``marks`` are
    the last ids of the tables the figures come from when it was compiled: when they have moved
    since, the page says the data changed. No foreign key: a buyer merged away leaves a row no
    page asks for.
    """

    __tablename__ = "report_snapshots"

    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    scope: Mapped[int] = mapped_column(Integer, primary_key=True)
    compiled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    compiled_by: Mapped[str] = mapped_column(String(100))
    marks: Mapped[str] = mapped_column(String(400))
    view: Mapped[str] = mapped_column(Text)
    csv: Mapped[bytes] = mapped_column(LargeBinary)
    xlsx: Mapped[bytes] = mapped_column(LargeBinary)


#: The rows a write left without their ``search_text`` (none, unless a path forgot it): the
#: predicate of their partial indexes, written as the search writes it (SQLite uses a partial
#: index only for a WHERE term identical to its own). The mapper events that write the text are
#: in ``adapters.search_text`` (registered by ``adapters.db``, which every session comes from).
UNWRITTEN = "search_text IS NULL"


def _unwritten_index(model: type[Any]) -> Index:
    """The rows of ``model`` without their text: an empty index, so the search's look for them
    costs nothing."""
    table: Table = model.__table__
    return Index(
        f"ix_{table.name}_search_text_unwritten",
        table.c.id,
        sqlite_where=text(UNWRITTEN),
        postgresql_where=text(UNWRITTEN),
    )


#: Every model with a ``search_text``; made with the models' tables (an ``Index`` on a table's
#: column belongs to that table).
SEARCHED: tuple[type[Any], ...] = (
    Buyer,
    BuyerContact,
    Company,
    Correspondent,
    Operation,
    Market,
    Participant,
    Clause,
)
UNWRITTEN_INDEXES = tuple(_unwritten_index(model) for model in SEARCHED)

#: PostgreSQL's trigram operator class (extension ``pg_trgm``): a GIN index of it answers
#: ``LIKE '%text%'`` for a text of 3 characters or more, which a B-tree cannot.
TRIGRAMS = "gin_trgm_ops"


def _trigram_index(model: type[Any], column: str) -> Index:
    """The searches' ``LIKE '%…%'`` on ``column`` read from an index, on PostgreSQL only
    (migration 0017, which skips them when the extension cannot be created; SQLite scans)."""
    table: Table = model.__table__
    return Index(
        f"ix_{table.name}_{column}_trgm",
        table.c[column],
        postgresql_using="gin",
        postgresql_ops={column: TRIGRAMS},
    ).ddl_if(dialect="postgresql")


#: Every ``search_text`` (``search`` matches all eight kinds, the board five) and the companies'
#: SIRET, which both searches match on their own when the text is digits.
TRIGRAM_INDEXES = (
    *(_trigram_index(model, "search_text") for model in SEARCHED),
    _trigram_index(Company, "siret"),
)


@event.listens_for(Base.metadata, "before_create")
def _trigram_extension(_metadata: MetaData, connection: Connection, **_kw: Any) -> None:
    """A schema made from the models (``metadata.create_all``) needs the operator class first."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
