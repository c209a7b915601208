"""The months a change makes owed: those of a lot whose call is to come after the change and was
not before it.

Recording a lot's end after its planned one (« achever ») or moving its planned end later
(« lot set-end ») makes owed the months past the old end: their calls had stopped there
(``reminders._open_batch`` parks the company; ``reminders.rearm_lot`` arms it again), so nobody
asked for them yet. Whoever made the change is told which months, of which company, when the
next pass asks for them and the due date that call gives: the calls to come as
``declaration list`` reads them (``declaration_views``, the pass's own rule), no rule of its own.

Both readings are made by the caller inside the transaction of the change, at its moment, the
lot locked before the first (``app.clauses``): read in two transactions around the change, a
call sent or a month declared in between by another writer would count as something the change
did, and the moment of each reading would differ.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from workflow.domain.calendar import local_date
from workflow.domain.calls_to_come import usual_call_at
from workflow.services.declaration_views import (
    DeclarationState,
    ExpectedDeclaration,
    expected_declarations,
)
from workflow.settings import Settings

CallKey = tuple[int, date]  # (company, month)


@dataclass(frozen=True)
class Asked:
    """Months of one company that a change made owed, all called by the same call to come."""

    company_id: int
    company: str
    months: tuple[date, ...]
    call_at: datetime
    due_on: date  # the due date that call gives them
    late: bool  # after the months' usual call: the next pass sends it


def calls_to_come(
    session: Session, settings: Settings, clause_id: int, now: datetime
) -> dict[CallKey, ExpectedDeclaration]:
    """The lot's months owed whose call has not left yet (« appel à venir ») at ``now``, as
    ``declaration list`` reads them, by company and month."""
    lines = expected_declarations(
        session,
        settings,
        today=local_date(now, settings.zone),
        now=now,
        clause_id=clause_id,
    )
    return {
        (line.company_id, line.month): line
        for line in lines
        if line.state is DeclarationState.TO_CALL
    }


def made_owed(
    before: dict[CallKey, ExpectedDeclaration],
    after: dict[CallKey, ExpectedDeclaration],
    settings: Settings,
) -> tuple[Asked, ...]:
    """The months whose call is to come ``after`` a change and was not ``before`` it (an end
    recorded or moved after months long past: their calls had stopped at the old end), grouped
    by company and call, in company order."""
    return grouped((line for key, line in after.items() if key not in before), settings)


def grouped(lines: Iterable[ExpectedDeclaration], settings: Settings) -> tuple[Asked, ...]:
    """``lines`` (calls to come) by company and call, in company order; a line nobody can date
    (its lot suspended: at the resumption) is left out."""
    groups: dict[tuple[str, int, datetime, date], list[date]] = {}
    for line in lines:
        if line.call_at is None:
            continue
        group = (line.company, line.company_id, line.call_at, line.due_on)
        groups.setdefault(group, []).append(line.month)
    return tuple(
        Asked(
            company_id,
            company,
            tuple(sorted(months)),
            call_at,
            due_on,
            call_at > usual_call_at(min(months), settings.call_time, settings.zone),
        )
        for (company, company_id, call_at, due_on), months in sorted(groups.items())
    )
