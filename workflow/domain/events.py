"""Domain events: frozen, past tense, with aware UTC timestamps.

Services return them after a change; the notice service turns them into outbox rows in the same
transaction, so a stage change and its emails are saved together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from workflow.domain.stages import ClauseEvent, Stage


def require_aware(moment: datetime, what: str = "now") -> datetime:
    """Naive datetimes are a bug waiting for the next DST change: refuse them early."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {moment!r}")
    return moment


@dataclass(frozen=True)
class ClauseIdentified:
    clause_id: int
    at: datetime
    actor: str


@dataclass(frozen=True)
class ClauseAdvanced:
    clause_id: int
    event: ClauseEvent
    from_stage: Stage
    to_stage: Stage
    at: datetime
    actor: str
    reason: str | None


@dataclass(frozen=True)
class ClauseAwarded:
    """The award parties were recorded: the buyer is told who holds it, the companies welcomed."""

    clause_id: int
    at: datetime
    actor: str


@dataclass(frozen=True)
class FinalReportRecorded:
    clause_id: int
    at: datetime
    actor: str


@dataclass(frozen=True)
class DeclarationRecorded:
    clause_id: int
    company_id: int
    month: date
    declaration_id: int
    at: datetime
    #: What the month held before, when this recording corrects it (its receipt says so).
    replaces: Replaced | None = None


@dataclass(frozen=True)
class DeclarationsRecorded:
    """The months of one company on one lot recorded at one instant (one transaction: a file,
    the company's page, a call), published once after their ``DeclarationRecorded``: what is
    said of the recording as a whole (the buyer's notice of months its alert said missing) is
    said once, after every month's own handlers ran. ``record_counting`` publishes one for its
    month; a channel recording several months merges them (``declarations.grouped``)."""

    clause_id: int
    company_id: int
    #: In order.
    months: tuple[date, ...]
    at: datetime
    #: The months whose recording corrected one recorded before.
    corrected: tuple[date, ...] = ()


@dataclass(frozen=True)
class Replaced:
    """A declaration as it stood before a correction replaced it."""

    total_hours: Decimal
    recorded_at: datetime


@dataclass(frozen=True)
class ClauseReopened:
    """An abandon undone: the clause is back at the stage it was abandoned from."""

    clause_id: int
    from_stage: Stage
    to_stage: Stage
    at: datetime
    actor: str
    reason: str


@dataclass(frozen=True)
class AwardChange:
    """One thing a corrected award changed, as people read it: what, before, after."""

    what: str
    before: str
    after: str


#: The « before » of a company newly bound by a corrected award (« non attributaire → titulaire »).
NOT_BOUND = "non attributaire"


@dataclass(frozen=True)
class AwardCorrected:
    """The award was recorded again with other data: the buyer is told what changed once, the
    companies newly bound welcomed (the others were already)."""

    clause_id: int
    at: datetime
    actor: str
    changes: tuple[AwardChange, ...]
    added_company_ids: tuple[int, ...]


@dataclass(frozen=True)
class DeclarationCancelled:
    """A declaration withdrawn (its lines with it): its month is expected again."""

    clause_id: int
    company_id: int
    month: date
    declaration_id: int
    total_hours: Decimal
    at: datetime
    actor: str
    reason: str
    #: When it was recorded (its latest recording), and its count of lines: the company is
    #: told which declaration was cancelled.
    recorded_at: datetime
    lines: int


@dataclass(frozen=True)
class PlannedEndMoved:
    """The planned end of a lot moved (an amendment): the calls follow it to its month."""

    clause_id: int
    before: date
    after: date
    at: datetime
    actor: str
    reason: str


@dataclass(frozen=True)
class EndDateCorrected:
    """The day a finished lot's work ended, recorded by « achever », was corrected (a typo): the
    months between the two dates are released (an earlier end) or owed again (a later one)."""

    clause_id: int
    before: date
    after: date
    at: datetime
    actor: str
    reason: str


@dataclass(frozen=True)
class CorrespondentAdded:
    """A company has one more correspondent: its companies' calls may now have someone to go
    to (a party with nobody to write to is not armed)."""

    company_id: int
    correspondent_id: int
    at: datetime
    actor: str


@dataclass(frozen=True)
class CompaniesMerged:
    """A duplicate company merged into ``company_id``: its awards may now have someone to write
    to (the duplicate's correspondents, or the kept company's)."""

    company_id: int
    merged_id: int
    at: datetime
    actor: str


DomainEvent = (
    ClauseIdentified
    | ClauseAdvanced
    | ClauseAwarded
    | FinalReportRecorded
    | DeclarationRecorded
    | DeclarationsRecorded
    | ClauseReopened
    | AwardCorrected
    | DeclarationCancelled
    | PlannedEndMoved
    | EndDateCorrected
    | CorrespondentAdded
    | CompaniesMerged
)

#: Every event type, for whoever listens to them all (a test's recorder).
EVENT_TYPES: tuple[type[DomainEvent], ...] = (
    ClauseIdentified,
    ClauseAdvanced,
    ClauseAwarded,
    FinalReportRecorded,
    DeclarationRecorded,
    DeclarationsRecorded,
    ClauseReopened,
    AwardCorrected,
    DeclarationCancelled,
    PlannedEndMoved,
    EndDateCorrected,
    CorrespondentAdded,
    CompaniesMerged,
)
