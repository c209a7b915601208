"""What the facilitator reads on demand: the monthly summary, the digest of the day, the
annual report for the funders.

Each is compiled by the very code the emails use, at the app's clock unless a moment is given, so
a report asked for now shows the figures an email written now would. A buyer is named by its N°
or its name (``workflow.app.lookup.find_buyer``); the report then carries the buyer's N°.
"""

from __future__ import annotations

from datetime import date, datetime

from workflow.app.lookup import find_buyer
from workflow.app.unit import reading
from workflow.bootstrap import App
from workflow.domain.annual_report import AnnualReport
from workflow.domain.monthly_summary import MonthlySummary
from workflow.domain.summary import latest_due_month
from workflow.emails.digest import Digest
from workflow.services.annual_report import compile_annual_report
from workflow.services.digest import compile_digest
from workflow.services.summaries import compile_summary, summary_timing
from workflow.services.summary_replays import Replay, as_known_at

__all__ = [
    "AnnualReport",
    "Digest",
    "MonthlySummary",
    "Replay",
    "annual_report",
    "daily_digest",
    "monthly_summary",
    "summary_as_known",
]


def _buyer_id(app: App, buyer: str | int | None) -> int | None:
    if buyer is None:
        return None
    with reading(app) as session:
        return find_buyer(session, buyer).id


def monthly_summary(
    app: App,
    month: date | None = None,
    *,
    buyer: str | int | None = None,
    now: datetime | None = None,
) -> MonthlySummary:
    """The figures of ``month`` as known at ``now`` (the app's clock when not given), for every
    buyer or for ``buyer`` (N° or name).

    Without a month: the last month whose summary has left at ``now``. Earlier in a month, the
    declarations of the month before are not all due yet, and its figures would be read too soon.
    """
    return summary_as_known(app, month, buyer=buyer, now=now).summary


def summary_as_known(
    app: App,
    month: date | None = None,
    *,
    buyer: str | int | None = None,
    now: datetime | None = None,
) -> Replay:
    """``monthly_summary``, with the declarations corrected or cancelled since a past ``now``
    named (``summary_replays``): their totals are the ones of that moment, as the email had
    them; their lines, no longer known, are in none of the tables by participant. So are the
    lots whose dates changed since (an end recorded or corrected, a planned end moved): their
    time elapsed is counted from their dates of then, or, when the history does not give them,
    from today's, and they are named; so are the lots whose hours target was imposed since and
    the companies that left since, counted with their target and their months of then."""
    clock = app.clock()
    moment = now or clock
    buyer_id = _buyer_id(app, buyer)
    if month is None:
        month = latest_due_month(moment, summary_timing(app.settings))
    with reading(app) as session:
        # The very code path of the emails, at this moment: same figures as an email written
        # then. Only a past moment can have seen a declaration since corrected or cancelled.
        summary = compile_summary(
            session,
            month,
            buyer_id=buyer_id,
            now=moment,
            zone=app.settings.zone,
            outcome_groups=app.settings.outcome_groups,
        )
        if now is None:
            return Replay(summary, ())
        # A moment asked for is replayed even when it is not before the clock: a change may be
        # recorded at a later instant than the clock says now (a facilitator's faked clock, a
        # demo's world ahead of today), and the replay reads only the rows changed after it.
        return as_known_at(session, summary, moment, app.settings.call_time)


def daily_digest(app: App, now: datetime | None = None) -> Digest:
    """The facilitator's tasks of the day at ``now`` (the app's clock when not given); nothing is
    sent."""
    moment = now or app.clock()
    with reading(app) as session:
        return compile_digest(session, moment, app.settings)


def annual_report(
    app: App, year: int | None = None, *, buyer: str | int | None = None
) -> AnnualReport:
    """The funders' report of calendar ``year`` (by default last year, in the service's time
    zone), for every buyer or for ``buyer`` (N° or name). A year not over yet is compiled as
    known now, and says so."""
    zone = app.settings.zone
    now = app.clock().astimezone(zone)
    if year is None:
        year = now.year - 1
    with reading(app) as session:
        buyer_id = None if buyer is None else find_buyer(session, buyer).id
        return compile_annual_report(
            session,
            year,
            buyer_id=buyer_id,
            groups=app.settings.outcome_groups,
            now=now,
            zone=zone,
        )
