"""A synthetic territory, as the service would have left it at one instant: the rows, not the load.

``Territory(lots, seed, settings, as_of)`` yields batches of rows (``{table: [tuple, ...]}``), first
the reference tables (buyers, companies, participants, the periodic jobs) a few thousand rows at a
time, then the lots 250 at a time, each batch in foreign-key order. The same arguments give the
same rows: one ``random.Random(seed)`` drives everything, and nothing reads the clock.

Memory stays flat in the number of lots: a batch is forgotten once yielded, and what the lots
need of the reference rows (a lot's market and buyer, a company's name and first correspondent,
the companies' weights) is kept as small numbers in arrays, its texts made again when needed.
An object per lot and a reference batch of 2×10^5 rows took the load to 294 MB at 10^5 lots; it
now peaks at about 140 MB, 130 MB of which at 10^3 (BENCHMARKS.md).

What "as the service would have left it" means here, so that ``clauses tick``, the summaries and
``clauses audit verify`` accept the result:

- every lot has a history that is a chain of the stage machine's transitions, starting with its
  identification; actions that do not move it (award recorded, declarations, final report) keep
  the stage they found;
- lots in execution, suspended, in follow-up or closed started within the last twelve months, so
  that every month they were called is in the year generated. Every step of every ladder left on
  its scheduled day (``month_schedule``, the settings' calendar): the service never stopped.
  Companies declare mostly before the due date, some late, some never; a ladder stops at its
  declaration, and is left waiting on its next step (in the future) or done after the buyer's
  alert;
- nothing is due at ``as_of``: each party's next call is the next month's, every undeclared
  ladder of a lot being called waits on a step after ``as_of`` (a suspended lot's may wait on
  one already past: no pass climbs it while the lot is suspended, as in the service), pending
  emails wait for a retry after it, and the digest of every working day and the summary of
  every month already due are recorded as done. No lot was suspended in the past and resumed
  (the days of a suspension move the ladder's dates); suspended lots were suspended this month,
  after the month's calls (early in a month, before any such day, they stay in execution);
- every outbox row names its cause through its key (ladder step, declaration receipt, welcome,
  buyer notice, digest), in every state but ``sending`` (a row is ``sending`` only while a live
  dispatcher holds it; the rows of one that crashed are ``uncertain``, which are generated).
  Bodies are short texts, not rendered templates, except what the audit reads back: a receipt
  states the month's total, each participant's hours and the cumul as the service's receipt
  does, and each declaration's history row its total. The monthly summaries' emails are not
  written (their figures would have to be the service's: ``clauses audit verify`` checks
  them), only the fact that they went (``periodic_runs``). Welcome emails carry no attachment.

Values are what the database stores: amounts and hours as scaled integers (``adapters.types``),
instants as naive UTC datetimes.
"""

from __future__ import annotations

import bisect
import math
import random
import unicodedata
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from bench.territory_spreads import (
    BUYER_KINDS,
    CANCELLED,
    COMPANY_WORDS,
    CRITERIA,
    CRITERION_WEIGHTS,
    DEAD,
    DONE,
    FAILED,
    FIRST_NAMES,
    FLOOR_REASON,
    FOOTER_HTML,
    FOOTER_TEXT,
    HOURLY_COSTS,
    KIND_SUBJECTS,
    LAST_NAMES,
    MAX_HOURS,
    MAX_MONTHLY_HOURS,
    MIN_HOURS,
    MIN_MONTHLY_HOURS,
    NOTICE_SUBJECT,
    ONE_SECOND,
    OUTCOME_WEIGHTS,
    OUTCOMES,
    PATHS,
    PLACES,
    RECENT,
    RECENT_PENDING,
    SEND_DELAYS,
    STAGES,
    STEP_KINDS,
    TRADES,
    UNCERTAIN,
)
from workflow.adapters import templates
from workflow.adapters.templates import french_date, french_hours
from workflow.domain.calendar import (
    CalendarRules,
    LadderStep,
    MonthSchedule,
    add_months,
    at_local,
    first_call_not_before,
    is_working_day,
    month_schedule,
    month_start,
)
from workflow.domain.outcomes import OUTCOME_GROUPS
from workflow.domain.stages import CALLING_STAGES, Stage
from workflow.domain.summary import SummaryTiming, latest_due_month, summary_due_at
from workflow.domain.vocabulary import (
    CONTRACT_LABELS,
    DELIVERY_MODE_LABELS,
    PartyRole,
)
from workflow.emails import phrases
from workflow.services.outbox import Recipient
from workflow.services.outbox_corrections import CANCELLED_PREFIX
from workflow.services.reminder_emails import KEY_PREFIX
from workflow.services.summaries import JOB as SUMMARY_JOB
from workflow.services.summaries import summary_timing
from workflow.settings import Settings

Row = tuple[Any, ...]
Batch = dict[str, list[Row]]

#: The columns written, table by table, in foreign-key order (the order batches are written in).
COLUMNS: dict[str, tuple[str, ...]] = {
    "buyers": ("id", "name", "kind", "notice_preference", "created_at"),
    "buyer_contacts": ("id", "buyer_id", "name", "email", "phone", "role"),
    "operations": ("id", "buyer_id", "name", "place", "created_at"),
    "markets": ("id", "operation_id", "reference", "title"),
    "companies": ("id", "name", "siret", "city", "created_at"),
    "correspondents": ("id", "company_id", "name", "email", "phone"),
    "participants": (
        "id",
        "reference",
        "criterion",
        "proof",
        "validated_on",
        "sex",
        "birth_year",
        "created_at",
    ),
    "periodic_runs": ("job", "period", "done_at"),
    "clauses": (
        "id",
        "market_id",
        "lot_number",
        "lot_title",
        "trade",
        "amount_excl_tax",
        "labour_share",
        "insertion_rate",
        "hourly_cost",
        "hours_computed",
        "hours_override",
        "override_reason",
        "stage",
        "version",
        "stage_changed_at",
        "planned_notification",
        "awarded_at",
        "start_date",
        "planned_end_date",
        "end_date",
        "final_report_at",
        "final_report",
        "created_at",
    ),
    "award_parties": (
        "id",
        "clause_id",
        "company_id",
        "role",
        "correspondent_id",
        "hours_share",
        "next_call_month",
        "next_call_at",
    ),
    "clause_history": (
        "id",
        "clause_id",
        "at",
        "actor",
        "event",
        "from_stage",
        "to_stage",
        "reason",
    ),
    "declarations": (
        "id",
        "clause_id",
        "company_id",
        "month",
        "total_hours",
        "recorded_at",
        "recorded_by",
        "source",
    ),
    "declaration_lines": (
        "id",
        "declaration_id",
        "participant_id",
        "hours",
        "delivery_mode",
        "contract_type",
    ),
    "declaration_ladders": (
        "id",
        "clause_id",
        "company_id",
        "month",
        "due_on",
        "next_step",
        "next_step_at",
        "declared_at",
        "escalated_at",
        "called_at",
        "stepped_at",
        "held",
    ),
    "outbox": (
        "id",
        "key",
        "kind",
        "clause_id",
        "recipients",
        "subject",
        "body_text",
        "body_html",
        "state",
        "attempts",
        "next_attempt_at",
        "claimed_at",
        "last_error",
        "refused_recipients",
        "created_at",
        "sent_at",
        "claimed_by",
        "lease_until",
        "send_started_at",
        "message_token",
    ),
    "outcomes": ("id", "participant_id", "clause_id", "group", "type", "date"),
}
TABLES = tuple(COLUMNS)

#: Lots per batch: a batch's rows are held in memory, then written table by table. 1,000 lots
#: (about 5×10^4 rows) cost 50 MB of peak, 250 about 13 MB for the same CPU (3×10^4 lots:
#: 11.9 s of this process against 11.8 s).
LOTS_PER_BATCH = 250
#: Rows of the reference tables (markets, companies, participants) per batch: they are written
#: as they are made, never held all at once (5×10^4 companies at 10^5 lots).
REFERENCE_ROWS = 5000


def empty_batch() -> Batch:
    return {table: [] for table in TABLES}


MODE_LABELS = {mode.value: label for mode, label in DELIVERY_MODE_LABELS.items()}
CONTRACT_TEXT = {contract.value: label for contract, label in CONTRACT_LABELS.items()}
#: Where each name is in its list: a company or a correspondent kept for the lots is kept as
#: these small numbers (one byte each), its texts made again when a lot needs them.
FIRST_NAME_INDEX = {name: n for n, name in enumerate(FIRST_NAMES)}
LAST_NAME_INDEX = {name: n for n, name in enumerate(LAST_NAMES)}
COMPANY_WORD_INDEX = {word: n for n, word in enumerate(COMPANY_WORDS)}


@cache
def hours_text(scaled: int) -> str:
    """``french_hours`` of hundredths of an hour, remembered: Babel is slow, values repeat."""
    return french_hours(Decimal(scaled) / 100)


@cache
def month_phrase(month: date) -> str:
    return phrases.month_phrase(month)


@cache
def french_month(month: date) -> str:
    return templates.french_month(month)


@cache
def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if c.isascii() and c.isalnum()).lower()


def luhn_siret(number: int) -> str:
    """A 14-digit SIRET-shaped number passing the Luhn check, unique for ``number``."""
    body = f"{number:013d}"
    total = 0
    for index, char in enumerate(reversed(body)):
        digit = int(char)
        if index % 2 == 0:  # doubled: the check digit will be rightmost
            digit *= 2
            digit -= 9 if digit > 9 else 0
        total += digit
    return body + str((10 - total % 10) % 10)


class WorkingDays:
    """French working days of a span, for picking and counting them quickly."""

    def __init__(self, first: date, last: date) -> None:
        self.days: list[date] = []
        day = first
        while day <= last:
            if is_working_day(day):
                self.days.append(day)
            day += timedelta(days=1)
        self.index = {day: n for n, day in enumerate(self.days)}

    def at_or_after(self, day: date) -> int:
        return bisect.bisect_left(self.days, day)

    def pick(self, rng: random.Random, first: date, last: date) -> date | None:
        """A working day in [first, last], None when there is none."""
        low, high = self.at_or_after(first), bisect.bisect_right(self.days, last) - 1
        if low > high:
            return None
        return self.days[low + int(rng.random() * (high - low + 1))]

    def add(self, day: date, count: int) -> date:
        """``count`` working days after (before, when negative) the working day ``day``."""
        return self.days[self.index[day] + count]


@dataclass(frozen=True)
class MonthFacts:
    """What every ladder of one month shares: its steps (naive UTC), call day and due date."""

    steps: tuple[tuple[str, datetime], ...]
    call_day: date
    due_on: date
    due_index: int  # of the due date in ``WorkingDays.days``
    key_text: str  # ``2026-10``, as ``step_key`` writes one month
    label: str  # ``10/2026``


@dataclass
class Person:
    name: str
    email: str
    formatted: str


def named(first: int, last: int, tag: str) -> Person:
    """The person of these names (places in the spreads' lists); ``tag`` makes the address
    unique."""
    first_name, last_name = FIRST_NAMES[first], LAST_NAMES[last]
    name = f"{first_name} {last_name}"
    email = f"{_ascii(first_name)}.{_ascii(last_name)}.{tag}@example.org"
    return Person(name, email, Recipient(name, email).formatted())


@dataclass(frozen=True)
class BuyerContext:
    """What the rows of a lot need to know of its buyer (one per buyer, shared by its lots)."""

    buyer_id: int
    buyer_wants_notices: bool
    buyer_recipients: str
    #: The buyer's alert goes to the buyer's contacts and to the facilitator.
    escalation_recipients: str


@dataclass
class Events:
    """One lot's history before it is written: (instant, order, event, stage moved to, reason)."""

    rows: list[tuple[datetime, int, str, str | None, str | None]] = field(default_factory=list)

    def add(self, at: datetime, event: str, moved_to: str | None, reason: str | None) -> int:
        self.rows.append((at, len(self.rows), event, moved_to, reason))
        return len(self.rows) - 1


class Territory:
    """The rows of a territory of ``lots`` lots (see the module's docstring)."""

    def __init__(self, lots: int, seed: int, settings: Settings, as_of: datetime) -> None:
        if lots < 1:
            raise ValueError("at least one lot")
        if as_of.tzinfo is None:
            raise ValueError("as_of must be aware")
        self.lots = lots
        self.rng = random.Random(seed)
        self.settings = settings
        self.zone: ZoneInfo = settings.zone
        self.rules: CalendarRules = settings.calendar_rules
        self.as_of = as_of.astimezone(UTC)
        self.as_of_naive = self.as_of.replace(tzinfo=None)
        self.today = self.as_of.astimezone(self.zone).date()
        self.window_start = add_months(month_start(self.today), -12)
        self.days = WorkingDays(
            self.window_start - timedelta(days=3 * 366), self.today + timedelta(days=3 * 366)
        )
        self.schedules: dict[date, MonthSchedule] = {}
        self.months: dict[date, MonthFacts] = {}
        self.midnights: dict[date, datetime] = {}
        self.dispatchers: dict[date, str] = {}
        self.last_called = self._last_called_month()
        self.actor = settings.facilitator_name
        self.facilitator = Recipient(settings.facilitator_name, settings.facilitator_email)
        self.next_id: dict[str, int] = dict.fromkeys(TABLES, 1)
        # What the lots need of the reference rows, kept once these are written: per lot, ints
        # in arrays (not an object per lot: 10^5 of them held the whole load); per buyer, its
        # texts. The rows themselves are not kept.
        self.buyer_contexts: list[BuyerContext] = []
        self.lot_markets = array("i")  # by lot index: its market's id
        self.lot_buyers = array("i")  # by lot index: its buyer's position in buyer_contexts
        self.company_weights = array("d")  # cumulated, for bisect
        self.company_words = array("B")  # by company index: COMPANY_WORDS, LAST_NAMES
        self.company_last_names = array("B")
        self.correspondent_ids = array("i")  # by company index: its first correspondent
        self.correspondent_first_names = array("B")
        self.correspondent_last_names = array("B")
        self.participants = 0

    # --- helpers ------------------------------------------------------------------------------

    def ids(self, table: str, count: int = 1) -> int:
        first = self.next_id[table]
        self.next_id[table] = first + count
        return first

    def utc(self, day: date, hour: int, minute: int = 0) -> datetime:
        """The naive UTC instant of a local wall-clock time (as the database stores it); from
        07:00 on (the day's offset is the one at noon: DST changes at night)."""
        base = self.midnights.get(day)
        if base is None:
            noon = at_local(day, time(12), self.zone).replace(tzinfo=None)
            base = self.midnights[day] = noon - timedelta(hours=12)
        return base + timedelta(hours=hour, minutes=minute)

    def below(self, count: int) -> int:
        """A random integer in [0, count): ``randrange`` without its checks (hot paths)."""
        return int(self.rng.random() * count)

    def month(self, month: date) -> MonthFacts:
        found = self.months.get(month)
        if found is None:
            schedule = self.schedule(month)
            found = MonthFacts(
                steps=tuple((s.name, s.at.replace(tzinfo=None)) for s in schedule.steps),
                call_day=schedule.call_at.astimezone(self.zone).date(),
                due_on=schedule.due_on,
                due_index=self.days.at_or_after(schedule.due_on),
                key_text=f"{month:%Y-%m}",
                label=f"{month:%m/%Y}",
            )
            self.months[month] = found
        return found

    def schedule(self, month: date) -> MonthSchedule:
        found = self.schedules.get(month)
        if found is None:
            found = month_schedule(month, self.rules, self.zone)
            self.schedules[month] = found
        return found

    def call_at(self, month: date) -> datetime:
        return self.schedule(month).call_at.replace(tzinfo=None)

    def _last_called_month(self) -> date:
        month = add_months(month_start(self.today), -1)
        while self.schedule(month).call_at > self.as_of:
            month = add_months(month, -1)
        return month

    def pick_day(self, first: date, last: date) -> date | None:
        return self.days.pick(self.rng, first, last)

    def lognormal(self, median: float, sigma: float) -> float:
        return median * math.exp(self.rng.gauss(0.0, sigma))

    def name(self) -> tuple[int, int]:
        """A person's first and last names, drawn: their places in the spreads' lists."""
        first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
        return FIRST_NAME_INDEX[first], LAST_NAME_INDEX[last]

    def person(self, tag: str) -> Person:
        return named(*self.name(), tag)

    def company_name(self, company_id: int) -> str:
        index = company_id - 1
        word, last = self.company_words[index], self.company_last_names[index]
        return f"{COMPANY_WORDS[word]} {LAST_NAMES[last]} n° {company_id}"

    def correspondent(self, position: int) -> tuple[int, Person]:
        """The first correspondent of the company at ``position``: its id, its person."""
        first = self.correspondent_first_names[position]
        last = self.correspondent_last_names[position]
        return self.correspondent_ids[position], named(first, last, f"c{position + 1}")

    # --- the batches --------------------------------------------------------------------------

    def batches(self) -> Iterator[tuple[int, Batch]]:
        """(lots done so far, rows) in the order they must be written. A batch is handed over
        and forgotten: nothing here holds its rows afterwards."""
        for batch in self._reference():
            yield 0, batch
        for first in range(0, self.lots, LOTS_PER_BATCH):
            last = min(first + LOTS_PER_BATCH, self.lots)
            batch = empty_batch()
            for index in range(first, last):
                self._lot(index, batch)
            yield last, batch

    def _reference(self) -> Iterator[Batch]:
        """The buyers and their markets, the companies, the participants, the periodic jobs, in
        batches of about ``REFERENCE_ROWS`` rows; what the lots need of them is kept aside."""
        created = self.utc(self.window_start - timedelta(days=800), 10)
        yield from self._buyers(created)
        yield from self._companies(created)
        yield from self._participants()
        batch = empty_batch()
        self._periodic(batch)
        yield batch

    def _buyers(self, created: datetime) -> Iterator[Batch]:
        batch = empty_batch()
        rng = self.rng
        # Buyers (about one per 100 lots), each with its share of the lots: a few large ones.
        buyers = max(1, round(self.lots / 100))
        weights = [self.lognormal(1.0, 0.7) for _ in range(buyers)]
        total = sum(weights)
        shares = [max(1, int(self.lots * w / total)) for w in weights]
        shares[-1] = max(1, shares[-1] + self.lots - sum(shares))
        while sum(shares) > self.lots:  # rounding gave too many: take back from the largest
            shares[shares.index(max(shares))] -= 1
        market_ref = 0
        for number, share in enumerate(shares, start=1):
            label, kind = rng.choice(BUYER_KINDS)
            place = rng.choice(PLACES)
            buyer_id = self.ids("buyers")
            preference = "each_milestone" if rng.random() < 0.6 else "monthly_only"
            batch["buyers"].append(
                (buyer_id, f"{label} de {place} n° {number}", kind, preference, created)
            )
            contacts = []
            for _ in range(1 if rng.random() < 0.7 else 2):
                contact = self.person(f"b{buyer_id}")
                contacts.append(contact.formatted)
                batch["buyer_contacts"].append(
                    (
                        self.ids("buyer_contacts"),
                        buyer_id,
                        contact.name,
                        contact.email,
                        "05 62 00 00 00",
                        "Responsable de la commande publique",
                    )
                )
            buyer_position = len(self.buyer_contexts)
            self.buyer_contexts.append(
                BuyerContext(
                    buyer_id,
                    preference == "each_milestone",
                    "\n".join(contacts),
                    "\n".join([*contacts, self.facilitator.formatted()]),
                )
            )
            placed = 0
            operation_number = 0
            while placed < share:
                operation_number += 1
                operation_id = self.ids("operations")
                batch["operations"].append(
                    (
                        operation_id,
                        buyer_id,
                        f"Opération {operation_number} – {rng.choice(PLACES)}",
                        rng.choice(PLACES),
                        created,
                    )
                )
                for _ in range(rng.choice((1, 1, 2, 2, 3, 4))):
                    if placed >= share:
                        break
                    market_ref += 1
                    market_id = self.ids("markets")
                    batch["markets"].append(
                        (
                            market_id,
                            operation_id,
                            f"{self.today.year - 1}-{market_ref:06d}",
                            f"Marché n° {market_ref}",
                        )
                    )
                    lots = min(share - placed, rng.choice((1, 1, 1, 2, 3, 4, 5, 6, 8)))
                    self.lot_markets.extend([market_id] * lots)
                    self.lot_buyers.extend([buyer_position] * lots)
                    placed += lots
                if len(batch["markets"]) >= REFERENCE_ROWS:  # a large buyer's go on in the next
                    yield batch
                    batch = empty_batch()
        yield batch

    def _companies(self, created: datetime) -> Iterator[Batch]:
        """Companies (about one per two lots), a few of which win many lots."""
        batch = empty_batch()
        rng = self.rng
        companies = max(2, round(self.lots / 2))
        for index in range(companies):
            company_id = self.ids("companies")
            word, last_name = rng.choice(COMPANY_WORDS), rng.choice(LAST_NAMES)
            self.company_words.append(COMPANY_WORD_INDEX[word])
            self.company_last_names.append(LAST_NAME_INDEX[last_name])
            self.company_weights.append(self.lognormal(1.0, 1.0))
            batch["companies"].append(
                (
                    company_id,
                    self.company_name(company_id),
                    luhn_siret(index + 1),
                    rng.choice(PLACES),
                    created,
                )
            )
            for rank in range(1 if rng.random() < 0.85 else 2):
                first, last = self.name()
                correspondent = named(first, last, f"c{company_id}")
                correspondent_id = self.ids("correspondents")
                if rank == 0:
                    self.correspondent_ids.append(correspondent_id)
                    self.correspondent_first_names.append(first)
                    self.correspondent_last_names.append(last)
                batch["correspondents"].append(
                    (
                        correspondent_id,
                        company_id,
                        correspondent.name,
                        correspondent.email,
                        "05 62 00 00 01",
                    )
                )
            if len(batch["companies"]) >= REFERENCE_ROWS:
                yield batch
                batch = empty_batch()
        yield batch
        cumulated = 0.0
        for position, weight in enumerate(self.company_weights):
            cumulated += weight
            self.company_weights[position] = cumulated

    def _participants(self) -> Iterator[Batch]:
        """Participants (about 0.6 per lot): pseudonymous references only."""
        batch = empty_batch()
        rng = self.rng
        self.participants = max(10, round(self.lots * 0.6))
        for index in range(self.participants):
            validated = self.window_start - timedelta(days=rng.randint(0, 400))
            batch["participants"].append(
                (
                    self.ids("participants"),
                    f"P{index + 1:07d}",
                    rng.choices(CRITERIA, CRITERION_WEIGHTS)[0].value,
                    "Avis motivé du prescripteur",
                    validated,
                    "F" if rng.random() < 0.3 else "M",
                    rng.randint(1960, 2006),
                    self.utc(validated, 11),
                )
            )
            if len(batch["participants"]) >= REFERENCE_ROWS:
                yield batch
                batch = empty_batch()
        yield batch

    def _periodic(self, batch: Batch) -> None:
        """The digest of every working day and the summary of every month due: done."""
        settings = self.settings
        digest_from = max(self.window_start, self.today - timedelta(days=365))
        for day in self.days.days[self.days.at_or_after(digest_from) :]:
            moment = at_local(day, settings.digest_time, self.zone)
            if moment > self.as_of:
                break
            done = moment.replace(tzinfo=None)
            batch["periodic_runs"].append(("daily_digest", day.isoformat(), done))
            self._outbox(
                batch,
                key=f"digest:{day.isoformat()}",
                kind="facilitator_digest",
                clause_id=None,
                recipients=self.facilitator.formatted(),
                at=done,
                text=f"Récapitulatif des tâches du {day:%d/%m/%Y}.",
            )
        timing: SummaryTiming = summary_timing(settings)
        latest = latest_due_month(self.as_of, timing)
        month = self.window_start
        while month <= latest:
            done = summary_due_at(month, timing).astimezone(UTC).replace(tzinfo=None)
            batch["periodic_runs"].append((SUMMARY_JOB, f"{month:%Y-%m}", done))
            month = add_months(month, 1)

    # --- outbox ---------------------------------------------------------------------------

    def dispatcher(self, at: datetime) -> str:
        """The dispatcher run that sent a row: one a day (``claimed_by`` stays on sent rows)."""
        day = at.date()
        found = self.dispatchers.get(day)
        if found is None:
            ordinal = day.toordinal()
            found = f"clauses-1-{4000 + ordinal % 5000}-{ordinal * 2654435761 % 2**32:08x}"
            self.dispatchers[day] = found
        return found

    def _outbox(
        self,
        batch: Batch,
        *,
        key: str,
        kind: str,
        clause_id: int | None,
        recipients: str,
        at: datetime,
        text: str,
    ) -> None:
        draw = self.rng.random()
        bits = self.rng.getrandbits(64)
        subject = KIND_SUBJECTS.get(kind, NOTICE_SUBJECT)
        if clause_id is not None:
            subject = f"{subject} – clause n° {clause_id}"
        owner: str | None = self.dispatcher(at)
        state, attempts, next_at, error = "sent", 1, None, None
        claimed_at = sent_at = started = None
        if draw < RECENT_PENDING and self.as_of_naive - at < RECENT:
            # A transient failure: retried after ``as_of`` (nothing due now).
            state, attempts = "pending", 1 + bits % 4
            next_at = self.as_of_naive + timedelta(minutes=10 + bits % 350)
            error = "Échec temporaire : 421 4.7.0 Réessayez plus tard"
            owner = None
        elif draw < FAILED:
            state, error = "failed", "Refus définitif : 550 5.1.1 Boîte aux lettres inconnue"
        elif draw < FAILED + DEAD:
            state, attempts = "dead", 6
            error = "Échec temporaire : 451 4.3.0 Erreur temporaire du serveur"
        elif draw < FAILED + DEAD + UNCERTAIN:
            state, attempts = "uncertain", 0
            claimed_at = at + ONE_SECOND
            started = claimed_at + ONE_SECOND
        elif draw < FAILED + DEAD + UNCERTAIN + CANCELLED:
            state, attempts = "cancelled", 0
            local = at + ONE_SECOND
            error = (
                f"{CANCELLED_PREFIX}la facilitatrice le {french_date(local)} à {local:%H:%M} : "
                "entreprise déjà relancée par téléphone"
            )
        else:
            sent_at = at + SEND_DELAYS[bits % len(SEND_DELAYS)]
        batch["outbox"].append(
            (
                self.ids("outbox"),
                key,
                kind,
                clause_id,
                recipients,
                subject,
                f"Bonjour,\n\n{text}\n\n{FOOTER_TEXT}",
                f"<html><body><p>{text}</p>{FOOTER_HTML}</body></html>",
                state,
                attempts,
                next_at,
                claimed_at,
                error,
                None,
                at,
                sent_at,
                owner,
                None,
                started,
                f"{bits:016x}",
            )
        )

    # --- one lot --------------------------------------------------------------------------------

    def _parameters(self, clause_id: int, stage: Stage) -> tuple[Any, ...]:
        """amount, share, rate, cost (scaled), computed hours, override, reason, trade."""
        rng = self.rng
        trade, share = rng.choice(TRADES)
        if stage is Stage.IDENTIFICATION and rng.random() < 0.3:
            return (None, None, None, None, None, None, None, trade)
        # Most contracts are under 100 k€ (median 80 k€), a few reach millions.
        euros = int(min(3_000_000, max(8_000, self.lognormal(80_000, 0.9))) / 100) * 100
        amount = euros * 100
        cost = rng.choice(HOURLY_COSTS)
        wanted = min(MAX_HOURS, max(MIN_HOURS, self.lognormal(450, 0.8)))
        # The rate that gives about the hours wanted, to the half point, within 5 to 20 %.
        exact = wanted * (cost / 100) / (euros * share / 1_000_000)
        rate = min(200_000, max(50_000, round(exact * 200) * 5_000))
        hours = amount * share * rate // (cost * 10**12)
        override, reason = (MIN_HOURS, FLOOR_REASON) if hours < MIN_HOURS else (None, None)
        return (amount, share, rate, cost, hours, override, reason, trade)

    def _lot(self, index: int, batch: Batch) -> None:
        rng = self.rng
        market_id = self.lot_markets[index]
        context = self.buyer_contexts[self.lot_buyers[index]]
        clause_id = self.ids("clauses")
        draw, stage = rng.random(), Stage.ABANDONED
        for candidate, share in STAGES:
            if draw < share:
                stage = candidate
                break
            draw -= share
        plan = _Plan(self, clause_id, market_id, context, stage)
        plan.build(batch)


class _Plan:
    """The life of one lot up to ``as_of``, then its rows."""

    def __init__(
        self,
        world: Territory,
        clause_id: int,
        market_id: int,
        context: BuyerContext,
        stage: Stage,
    ) -> None:
        self.world = world
        self.rng = world.rng
        self.clause_id = clause_id
        self.market_id = market_id
        self.context = context
        self.stage = stage
        self.events = Events()
        self.start_date: date | None = None
        self.planned_end: date | None = None
        self.end_date: date | None = None
        self.awarded_at: datetime | None = None
        self.final_report_at: datetime | None = None
        self.suspended_at: datetime | None = None
        self.notices: list[tuple[int, str]] = []  # (event index, kind)
        self.awarded_event: int | None = None

    # --- the dates ------------------------------------------------------------------------------

    def _day(self, first: date, last: date) -> date | None:
        return self.world.pick_day(first, last)

    def _before(self, day: date, low: int, high: int) -> date:
        return self.world.days.add(day, -self.rng.randint(low, high))

    def build(self, batch: Batch) -> None:
        today = self.world.today
        stage = self.stage
        if stage in (Stage.EXECUTION, Stage.SUSPENDED, Stage.FOLLOW_UP, Stage.CLOSED):
            self._executed(today)
        else:
            self._before_execution(today)
        self._rows(batch)

    def _opening(self, award_day: date) -> None:
        """identification, drafting and the award (drafting -> award) before ``award_day``."""
        w = self.world
        draft_day = self._before(award_day, 10, 80)
        identify_day = self._before(draft_day, 4, 60)
        self._identify(identify_day)
        self._move(w.utc(draft_day, 11), "draft", Stage.DRAFTING, "clause rédigée")
        self._move(w.utc(award_day, 14), "award", Stage.AWARD, "marché publié, offres reçues")

    def _identify(self, day: date) -> None:
        index = self.events.add(self.world.utc(day, 10), "identify", "identification", None)
        self.notices.append((index, "notice_identified"))

    def _move(self, at: datetime, event: str, stage: Stage, reason: str | None) -> None:
        index = self.events.add(at, event, stage.value, reason)
        kind = {
            "award": "notice_drafted",
            "start": "notice_execution_started",
            "suspend": "notice_suspended",
            "finish": "notice_execution_ended",
            "abandon": "notice_abandoned",
        }.get(event)
        if kind is not None:
            self.notices.append((index, kind))

    def _award_recorded(self, day: date) -> None:
        self.awarded_at = self.world.utc(day, 15)
        self.awarded_event = self.events.add(self.awarded_at, "award_recorded", None, None)

    def _executed(self, today: date) -> None:
        w, rng = self.world, self.rng
        stage = self.stage
        window = w.window_start
        if stage is Stage.CLOSED:
            start = self._day(window, today - timedelta(days=170))
        elif stage is Stage.FOLLOW_UP:
            start = self._day(window, today - timedelta(days=80))
        else:
            start = self._day(window, today - timedelta(days=7))
        assert start is not None
        self.start_date = start
        award_day = self._before(start, 25, 80)
        self._opening(award_day)
        self._award_recorded(self._before(start, 5, 20))
        self._move(w.utc(start, 10), "start", Stage.EXECUTION, "réunion de démarrage tenue")
        if stage is Stage.SUSPENDED:
            # After this month's calls (see the module's docstring), and before ``as_of``.
            first = w.days.days[w.days.at_or_after(month_start(today))] + timedelta(days=1)
            day = self._day(max(first, start + timedelta(days=20)), today - timedelta(days=1))
            if day is None:
                self.stage = stage = Stage.EXECUTION
            else:
                self.suspended_at = w.utc(day, 11, 30)
                self._move(self.suspended_at, "suspend", Stage.SUSPENDED, "chantier arrêté")
        if stage in (Stage.EXECUTION, Stage.SUSPENDED):
            self.planned_end = today + timedelta(days=rng.randint(20, 540))
            return
        last = today - timedelta(days=100 if stage is Stage.CLOSED else 20)
        end = self._day(start + timedelta(days=45), last)
        assert end is not None
        self.end_date = end
        self.planned_end = end + timedelta(days=rng.randint(-30, 60))
        if self.planned_end < start:
            self.planned_end = end
        finish_day = w.days.add(end, rng.randint(1, 8))
        self._move(w.utc(finish_day, 11), "finish", Stage.FOLLOW_UP, "travaux réceptionnés")
        if stage is Stage.CLOSED:
            due = w.schedule(month_start(end)).due_on
            report_day = w.days.add(w.days.days[w.days.at_or_after(due)], 22)
            self.final_report_at = w.utc(report_day, 14)
            index = self.events.add(self.final_report_at, "final_report", None, "bilan enregistré")
            self.notices.append((index, "notice_final_report"))
            close_day = w.days.add(report_day, rng.randint(1, 5))
            self._move(w.utc(close_day, 16), "close", Stage.CLOSED, "clause clôturée")

    def _before_execution(self, today: date) -> None:
        w, rng = self.world, self.rng
        stage = self.stage
        origin = stage
        if stage is Stage.ABANDONED:
            origin = rng.choice((Stage.IDENTIFICATION, Stage.DRAFTING, Stage.AWARD))
        last = today - timedelta(days=1 if stage is not Stage.ABANDONED else 10)
        if origin is Stage.IDENTIFICATION:
            day = self._day(today - timedelta(days=120), last)
            assert day is not None
            self._identify(day)
            moved = day
        elif origin is Stage.DRAFTING:
            draft = self._day(today - timedelta(days=120), last)
            assert draft is not None
            self._identify(self._before(draft, 4, 60))
            self._move(w.utc(draft, 11), "draft", Stage.DRAFTING, "clause rédigée")
            moved = draft
        else:
            award = self._day(today - timedelta(days=150), last)
            assert award is not None
            self._opening(award)
            moved = award
            recorded = self._day(award + timedelta(days=10), last)
            if stage is Stage.AWARD and recorded is not None and rng.random() < 0.5:
                self._award_recorded(recorded)
                start = self._day(today + timedelta(days=5), today + timedelta(days=60))
                assert start is not None
                self.start_date = start
                self.planned_end = start + timedelta(days=rng.randint(90, 540))
                moved = recorded
        if stage is Stage.ABANDONED:
            day = self._day(moved + timedelta(days=3), today - timedelta(days=1))
            day = day or w.days.add(moved, 1)
            self._move(w.utc(day, 15), "abandon", Stage.ABANDONED, "procédure sans suite")

    # --- the rows -------------------------------------------------------------------------------

    def _rows(self, batch: Batch) -> None:
        w = self.world
        clause_id = self.clause_id
        params = w._parameters(clause_id, self.stage)
        parties = self._parties(batch, params[5] or params[4])
        self._ladders_and_declarations(batch, parties)
        history_ids = self._history(batch)
        self._notices(batch, history_ids, parties)
        moving = [row for row in self.events.rows if row[3] is not None]
        stage_changed = max(row[0] for row in moving)
        identify_at = self.events.rows[0][0]
        amount, share, rate, cost, hours, override, reason, trade = params
        planned_notification = None
        if self.stage not in (Stage.IDENTIFICATION,) and amount is not None:
            planned_notification = identify_at.date() + timedelta(days=120)
        batch["clauses"].append(
            (
                clause_id,
                self.market_id,
                self._lot_number(),
                trade,
                trade,
                amount,
                share if amount is not None else None,
                rate,
                cost,
                hours,
                override,
                reason,
                self.stage.value,
                len(moving),
                stage_changed,
                planned_notification,
                self.awarded_at,
                self.start_date,
                self.planned_end,
                self.end_date,
                self.final_report_at,
                "Objectif atteint ; 3 contrats signés." if self.final_report_at else None,
                identify_at,
            )
        )

    def _lot_number(self) -> str:
        # The lots of one market follow each other: number them within it.
        markets = self.world.lot_markets
        index = self.clause_id - 1
        market = self.market_id
        number = 1
        while index - number >= 0 and markets[index - number] == market:
            number += 1
        alone = (index + 1 >= len(markets) or markets[index + 1] != market) and (number == 1)
        return "" if alone else str(number)

    def _parties(self, batch: Batch, hours: int | None) -> list[_Party]:
        if self.awarded_at is None:
            return []
        w, rng = self.world, self.rng
        roles = [PartyRole.HOLDER]
        if rng.random() < 0.25:
            roles.append(PartyRole.CO_CONTRACTOR)
        if rng.random() < 0.2:
            roles.append(PartyRole.SUBCONTRACTOR)
        chosen: list[int] = []
        while len(chosen) < len(roles):
            position = bisect.bisect_left(w.company_weights, rng.random() * w.company_weights[-1])
            position = min(position, len(w.company_weights) - 1)
            if position not in chosen:
                chosen.append(position)
        parties = []
        for role, position in zip(roles, chosen, strict=True):
            correspondent_id, person = w.correspondent(position)
            share = None
            if len(roles) > 1 and hours is not None:
                share = (
                    hours * 7 // 10
                    if role is PartyRole.HOLDER
                    else hours * 3 // 10 // (len(roles) - 1)
                )
            company_id = position + 1
            party = _Party(
                w.ids("award_parties"),
                company_id,
                w.company_name(company_id),
                role,
                correspondent_id,
                person,
                share,
            )
            weights = (5, 15, 25, 25, 15, 10, 5) if role is PartyRole.HOLDER else (30, 40, 30)
            count = min(w.participants, rng.choices(range(len(weights)), weights)[0])
            for participant in rng.sample(range(1, w.participants + 1), count):
                mode, contract, _ = rng.choices(PATHS, [p[2] for p in PATHS])[0]
                party.workers.append((participant, mode.value, contract.value))
            # Each participant's monthly hours: the lot ends near its target (not everyone
            # works every month, some months are not declared).
            target = share if share is not None else (hours or 0)
            party.pace = target * 160 // (self._duration() * max(1, count))
            parties.append(party)
        return parties

    def _duration(self) -> int:
        """The lot's months of work, start to (planned) end."""
        last = self.end_date or self.planned_end
        if self.start_date is None or last is None:
            return 1
        return max(
            1, (last.year - self.start_date.year) * 12 + last.month - self.start_date.month + 1
        )

    def _months(self) -> list[date]:
        """The months called so far (every month from the start's to the end's, called)."""
        if self.start_date is None or self.stage not in (
            Stage.EXECUTION,
            Stage.SUSPENDED,
            Stage.FOLLOW_UP,
            Stage.CLOSED,
        ):
            return []
        assert self.planned_end is not None
        end = month_start(self.end_date or self.planned_end)
        last = min(end, self.world.last_called)
        months = []
        month = month_start(self.start_date)
        while month <= last:
            months.append(month)
            month = add_months(month, 1)
        return months

    def _ladders_and_declarations(self, batch: Batch, parties: list[_Party]) -> None:
        w, rng = self.world, self.rng
        months = self._months()
        executed = self.stage in (Stage.EXECUTION, Stage.SUSPENDED, Stage.FOLLOW_UP, Stage.CLOSED)
        end_month = month_start(self.end_date or self.planned_end) if self.planned_end else None
        for party in parties:
            # Where the party's calls stand (``arm_parties`` and ``open_due_ladders``).
            if executed and end_month is not None:
                following = add_months(months[-1], 1) if months else month_start(self.start_date)  # type: ignore[arg-type]
                party.next_call_month = following
                if following <= end_month:
                    assert self.start_date is not None
                    armed = at_local(self.start_date, time(10), w.zone)
                    not_before = first_call_not_before(armed, w.rules.call_time, w.zone)
                    party.next_call_at = max(w.call_at(following), not_before.replace(tzinfo=None))
            # Each participant works a stretch of the months: most from the start, half of
            # what is left at least.
            spans = []
            for _ in party.workers:
                first = rng.randrange(len(months)) if months and rng.random() < 0.2 else 0
                left = max(1, len(months) - first)
                spans.append((first, first + rng.randint(max(1, left // 2), left)))
            for position, month in enumerate(months):
                active = [
                    worker
                    for worker, (first, last) in zip(party.workers, spans, strict=True)
                    if first <= position < last
                ]
                self._month(batch, party, month, active)
            self._receipts(batch, party)
            if self.stage in (Stage.FOLLOW_UP, Stage.CLOSED):
                for worker, (_first, last) in zip(party.workers, spans, strict=True):
                    if rng.random() < 0.5 and months:
                        ended = add_months(months[min(last, len(months)) - 1], 1)
                        day = min(ended + timedelta(days=rng.randint(0, 40)), w.today)
                        kind = rng.choices(OUTCOMES, OUTCOME_WEIGHTS)[0]
                        batch["outcomes"].append(
                            (
                                w.ids("outcomes"),
                                worker[0],
                                self.clause_id,
                                OUTCOME_GROUPS[kind].value,
                                kind.value,
                                day,
                            )
                        )
            batch["award_parties"].append(
                (
                    party.id,
                    self.clause_id,
                    party.company_id,
                    party.role.value,
                    party.correspondent_id,
                    party.hours_share,
                    party.next_call_month,
                    party.next_call_at,
                )
            )

    def _month(
        self, batch: Batch, party: _Party, month: date, active: list[tuple[int, str, str]]
    ) -> None:
        """One company's month on this lot: its ladder, its declaration, their emails."""
        w, rng = self.world, self.rng
        facts = w.month(month)
        steps = facts.steps
        draw = rng.random()
        if self.stage is Stage.CLOSED:
            draw *= 0.88  # a closed lot had all its months declared
        recorded: datetime | None = None
        if draw < 0.72:
            day = w.pick_day(facts.call_day, facts.due_on)
        elif draw < 0.88:
            day = w.days.days[facts.due_index + 1 + w.below(20)]
        else:
            day = None
        if day is not None:
            recorded = w.utc(day, 10 + w.below(8), w.below(60))
            if recorded >= (self.suspended_at or w.as_of_naive):
                recorded = None
        next_step: str
        next_at: datetime | None
        if recorded is not None:
            sent = [step for step in steps if step[1] < recorded]
            next_step, next_at = LadderStep.DONE, None
        else:
            until = min(self.suspended_at or w.as_of_naive, w.as_of_naive)
            sent = [step for step in steps if step[1] <= until]
            # Waiting on its next step, or done once the buyer was alerted.
            next_step, next_at = steps[len(sent)] if len(sent) < len(steps) else (DONE, None)
        escalated = sent[-1][1] if sent[-1][0] == LadderStep.ESCALATION else None
        batch["declaration_ladders"].append(
            (
                w.ids("declaration_ladders"),
                self.clause_id,
                party.company_id,
                month,
                facts.due_on,
                next_step,
                next_at,
                recorded,
                escalated,
                steps[0][1],
                sent[-1][1],
                # Held while its lot is not called (``clauses._move`` keeps it so).
                self.stage.value not in CALLING_STAGES,
            )
        )
        # ``step_key`` of one month, written directly (it would format the month every time).
        prefix = f"{KEY_PREFIX}:{self.clause_id}:{party.company_id}:{facts.key_text}:"
        for name, at in sent:
            if name == LadderStep.ESCALATION:
                recipients = self.context.escalation_recipients
            else:
                recipients = party.person.formatted
            w._outbox(
                batch,
                key=prefix + name,
                kind=STEP_KINDS[name],
                clause_id=self.clause_id,
                recipients=recipients,
                at=at,
                text=f"Heures d'insertion de {facts.label} : {name}.",
            )
        if recorded is None:
            return
        declaration_id = w.ids("declarations")
        total = 0
        lines = []
        for participant, mode, contract in active:
            # Around the party's pace, to the half hour, within a month's legal hours.
            hours = int(party.pace * (0.6 + 0.8 * rng.random())) // 50 * 50
            hours = min(MAX_MONTHLY_HOURS, max(MIN_MONTHLY_HOURS, hours))
            total += hours
            lines.append((participant, hours, mode, contract))
            batch["declaration_lines"].append(
                (w.ids("declaration_lines"), declaration_id, participant, hours, mode, contract)
            )
        batch["declarations"].append(
            (
                declaration_id,
                self.clause_id,
                party.company_id,
                month,
                total,
                recorded,
                party.person.name,
                "courriel",
            )
        )
        company = party.company_name
        # ``record_declaration``'s own history reason: the audit reads the total back from it.
        text = f"déclaration {month_phrase(month)} de {company} : {hours_text(total)}"
        self.events.add(recorded, "declaration", None, text)
        party.declared.append(_Declared(declaration_id, month, recorded, total, lines))

    def _receipts(self, batch: Batch, party: _Party) -> None:
        """One receipt per declaration, stating what the service's receipt states: the month's
        total, each participant's hours and the cumul of the months up to it known then."""
        w = self.world
        company = party.company_name
        for declared in party.declared:
            cumulated = sum(
                other.total
                for other in party.declared
                if other.month <= declared.month and other.recorded <= declared.recorded
            )
            if declared.lines:
                count = len(declared.lines)
                rows = [
                    f"Total du mois : {hours_text(declared.total)}, {count} "
                    f"{'ligne' if count == 1 else 'lignes'}"
                ]
                rows += [
                    f"- P{participant:07d} : {hours_text(hours)} – "
                    f"{MODE_LABELS[mode]} – {CONTRACT_TEXT[contract]}"
                    for participant, hours, mode, contract in declared.lines
                ]
            else:
                rows = [
                    "Aucune heure d'insertion ce mois-ci : votre déclaration à zéro est bien notée."
                ]
            rows.append(
                f"Cumul déclaré par {company} sur ce lot jusqu'à {french_month(declared.month)} "
                f"inclus : {hours_text(cumulated)}."
            )
            w._outbox(
                batch,
                key=f"receipt:{declared.id}:{declared.recorded.replace(tzinfo=UTC).isoformat()}",
                kind="declaration_receipt",
                clause_id=self.clause_id,
                recipients=party.person.formatted,
                at=declared.recorded,
                text="Votre déclaration des heures d'insertion est bien enregistrée.\n\n"
                + "\n".join(rows),
            )

    def _history(self, batch: Batch) -> list[int]:
        """The history rows in time order; the id of each event, by its index."""
        w = self.world
        ids = [0] * len(self.events.rows)
        stage: str | None = None
        for at, order, event, moved_to, reason in sorted(self.events.rows):
            row_id = w.ids("clause_history")
            ids[order] = row_id
            to_stage = moved_to or stage
            assert to_stage is not None
            batch["clause_history"].append(
                (row_id, self.clause_id, at, w.actor, event, stage, to_stage, reason)
            )
            stage = to_stage
        return ids

    def _notices(self, batch: Batch, history_ids: list[int], parties: list[_Party]) -> None:
        w = self.world
        context = self.context
        if context.buyer_recipients:
            for index, kind in self.notices:
                if not context.buyer_wants_notices and kind != "notice_final_report":
                    continue
                at = self.events.rows[index][0]
                w._outbox(
                    batch,
                    key=f"notice:{self.clause_id}:{kind}:h{history_ids[index]}",
                    kind=kind,
                    clause_id=self.clause_id,
                    recipients=context.buyer_recipients,
                    at=at,
                    text=f"La clause n° {self.clause_id} a franchi une étape.",
                )
        if self.awarded_at is None:
            return
        stamp = self.awarded_at.replace(tzinfo=UTC).isoformat()
        if context.buyer_wants_notices and context.buyer_recipients:
            w._outbox(
                batch,
                key=f"notice:{self.clause_id}:notice_awarded:{stamp}",
                kind="notice_awarded",
                clause_id=self.clause_id,
                recipients=context.buyer_recipients,
                at=self.awarded_at,
                text=f"La clause n° {self.clause_id} est attribuée.",
            )
        for party in parties:
            w._outbox(
                batch,
                key=f"welcome:{self.clause_id}:{party.company_id}:{stamp}",
                kind="company_welcome",
                clause_id=self.clause_id,
                recipients=party.person.formatted,
                at=self.awarded_at,
                text=f"Votre entreprise a une clause d'insertion (clause n° {self.clause_id}).",
            )


@dataclass
class _Party:
    id: int
    company_id: int
    company_name: str
    role: PartyRole
    correspondent_id: int
    person: Person
    hours_share: int | None
    workers: list[tuple[int, str, str]] = field(default_factory=list)
    pace: int = 0  # a participant's monthly hours, in hundredths
    declared: list[_Declared] = field(default_factory=list)
    next_call_month: date | None = None
    next_call_at: datetime | None = None


@dataclass(frozen=True)
class _Declared:
    id: int
    month: date
    recorded: datetime
    total: int
    lines: list[tuple[int, int, str, str]]
