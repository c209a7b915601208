"""The annual report for funders, as a tree of frozen dataclasses, and its headline.

``services.annual_report`` compiles it from the database; ``adapters.annual_report_files``
writes it as text, csv, xlsx or html. Its figures are plain values: nothing here reads a database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_FLOOR, Decimal

from workflow.domain.french_numbers import french_number
from workflow.domain.outcomes import OUTCOME_TYPE_WORDS, OutcomeType
from workflow.domain.stages import Stage

#: The stages in which a clause's companies are accompanied (a suspension is still execution).
FOLLOWED_STAGES = (Stage.EXECUTION.value, Stage.SUSPENDED.value, Stage.FOLLOW_UP.value)
#: Situations without activity: counted in the tables, not boasted of in the headline.
NOT_IN_HEADLINE = frozenset({OutcomeType.JOBSEEKER, OutcomeType.INACTIVE, OutcomeType.LOST_CONTACT})
#: The headline's hours are rounded down to the thousand from this figure on ("+ de 18 000").
ROUND_TO_THOUSANDS_FROM = 1000


@dataclass(frozen=True)
class Line:
    """One line of a breakdown: a category and its figure (hours or a count)."""

    code: str
    label: str
    value: Decimal | int


@dataclass(frozen=True)
class ContractLine:
    code: str
    label: str
    participants: int
    hours: Decimal


@dataclass(frozen=True)
class OutcomeTypeLine:
    code: str
    label: str
    group: str
    group_label: str
    count: int


@dataclass(frozen=True)
class TerminatedLine:
    """A lot whose contract was terminated (« marché résilié ») with a date in the year."""

    clause_id: int
    lot: str  # « Département – M-1 lot 1 – Gros œuvre » (the buyer's name over the territory)
    on: date  # the termination date, the lot's end
    hours: Decimal  # declared for the year's months, all before the termination


@dataclass(frozen=True)
class UndeclaredLine:
    """A lot with monthly declarations of the year expected of its companies and not received
    (``services.annual_report``): how many companies, how many company x month."""

    clause_id: int
    lot: str
    state: str  # « marché résilié le 15/11/2026 », « clôturé sans ces déclarations »…
    companies: int
    months: int


@dataclass(frozen=True)
class AnnualReport:
    year: int
    buyer_id: int | None
    buyer_name: str | None
    compiled_at: datetime | None
    hours: Decimal
    hours_by_buyer: tuple[Line, ...]
    hours_by_mode: tuple[Line, ...]
    companies: int
    clauses_followed: int
    participants: int
    participants_by_criterion: tuple[Line, ...]
    participants_by_sex: tuple[Line, ...]
    participants_by_age_band: tuple[Line, ...]
    contracts_by_type: tuple[ContractLine, ...]
    outcomes: int
    outcomes_by_type: tuple[OutcomeTypeLine, ...]
    outcomes_by_group: tuple[Line, ...]
    clauses_by_stage: tuple[Line, ...]
    #: The types the ``outcome_groups`` setting moved: (type label, group label), for a footnote.
    regrouped: tuple[tuple[str, str], ...] = ()
    #: Set when the report is compiled before the year is over: its figures stop at this moment
    #: (local time), so the report says so and gives its stages at that date, not 31 December.
    provisional_at: datetime | None = None
    #: The lots terminated with a date in the year, by date.
    terminated: tuple[TerminatedLine, ...] = ()
    #: The lots with declarations of the year never received, and their total (company x
    #: month), counted on its own: the parts add up to it.
    undeclared: tuple[UndeclaredLine, ...] = ()
    undeclared_months: int = 0

    @property
    def headline(self) -> str:
        return headline(self)

    def outcome_count(self, outcome_type: OutcomeType) -> int:
        return next((o.count for o in self.outcomes_by_type if o.code == outcome_type.value), 0)


# --- The headline ---------------------------------------------------------------------------------


def _count_of(count: int, one: str, many: str) -> str:
    """``1 CDI``, ``3 contrats de professionnalisation``; French keeps 0 and 1 singular."""
    return f"{french_number(count)} {one if count < 2 else many}"


def hours_phrase(hours: Decimal) -> str:
    """``+ de 18 000 heures d'insertion`` for 18 165 h.

    The rule: from 1 000 h the figure is rounded down to the thousand, below to the hour; « + de »
    comes before it whenever the rounding dropped something, so the phrase is never above the
    truth (18 000 h exactly reads « 18 000 heures », 999,5 h reads « + de 999 heures »).
    """
    unit = Decimal(1000) if hours >= ROUND_TO_THOUSANDS_FROM else Decimal(1)
    shown = (hours / unit).to_integral_value(rounding=ROUND_FLOOR) * unit
    more = "+ de " if shown < hours else ""
    return f"{more}{_count_of(int(shown), 'heure', 'heures')} d'insertion"


def headline(report: AnnualReport) -> str:
    """The flyer's line: hours, companies, then each outcome type that was reached, in the
    order of the types (jobs, work-study contracts, trainings...), without the situations with
    no activity (job seekers, inactive, lost contact)."""
    parts = [
        hours_phrase(report.hours),
        _count_of(report.companies, "entreprise accompagnée", "entreprises accompagnées"),
    ]
    for outcome_type in OutcomeType:
        count = report.outcome_count(outcome_type)
        if count and outcome_type not in NOT_IN_HEADLINE:
            parts.append(_count_of(count, *OUTCOME_TYPE_WORDS[outcome_type]))
    return ", ".join(parts)
