"""A territory whose only lot started late: no summary before anyone was asked anything.

Found by a user trial: a fresh territory, one lot in execution, started on Wednesday 15 July
2026 with work since 1 April (awarded 01/04–31/12/2026), then the real passes. May's summary
left on 16 July at 07:00, two hours before the catch-up call for April to June (due 27 July),
and told the buyer « 0 reçue sur 1 attendue ; 1 pas encore due » and « 0 % des heures prévues
réalisées pour 22 % du temps écoulé, en retard »: behind before anyone had asked the company
anything, and before May's deadline, against DOMAIN (« it cannot leave before the declaration
deadline of M »).

Now a month for which no company was given a due date yet, while one still has its call to
come, has no summary: it waits for the first due date really given, then the usual delay. May
and June then share the catch-up call's 27 July: the pass of 6 August sends June, the latest
month due, with the cumulated figures, and records April and May as skipped. Each email says
what ``clauses summary`` printed at its moment, and the audit finds nothing.

A buyer whose only lot started late among others on time is not held (the others gave the month
its due date), but its summary no longer judges a pace while none of its declarations of the
month was due: no « en retard » before the call.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.integration._ladders import Lot, declare, make_lot
from tests.integration.test_summary_truth import (
    check_email,
    figure_lines,
    summary_emails,
)
from workflow.adapters.orm import DeclarationLadder, PeriodicRun
from workflow.app.audit import verify_database
from workflow.bootstrap import App
from workflow.domain.calendar import add_working_days, at_local
from workflow.domain.vocabulary import ContractType, Criterion, DeliveryMode
from workflow.services.declarations import LineInput, record_declaration
from workflow.services.participants import create_participant
from workflow.services.summaries import JOB, JOB_SKIPPED, compile_for
from workflow.services.ticks import TimedAction, simulate

pytestmark = pytest.mark.scenario

NBSP, NNBSP = "\u00a0", "\u202f"
APR, MAY, JUN, JUL = (date(2026, m, 1) for m in (4, 5, 6, 7))
STARTED_ON = date(2026, 7, 15)
CATCH_UP_DUE = date(2026, 7, 27)  # the call of Thursday 16 July, 09:00, for April to June


def local(app: App, day: date, hour: int) -> datetime:
    return at_local(day, time(hour), app.settings.zone)


def runs(app: App, job: str) -> list[str]:
    with app.transaction() as session:
        statement = select(PeriodicRun.period).where(PeriodicRun.job == job)
        return list(session.scalars(statement.order_by(PeriodicRun.period)))


def due_dates(app: App, lot: Lot) -> dict[date, date]:
    with app.transaction() as session:
        rows = session.execute(
            select(DeclarationLadder.month, DeclarationLadder.due_on).where(
                DeclarationLadder.clause_id == lot.clause_id
            )
        ).all()
    return {month: due for month, due in rows}


def plain(value: str) -> str:
    return value.replace(NBSP, " ").replace(NNBSP, " ")


def declare_hours(app: App, lot: Lot, month: date, hours: str, at: datetime) -> None:
    """A declaration of ``hours`` worked by one participant, through the real service."""
    with app.transaction() as session:
        reference = f"P-{lot.clause_id}-{month:%Y%m}"
        person = create_participant(
            session, reference=reference, criterion=Criterion.LONG_TERM_JOBSEEKER, now=at
        )
        record_declaration(
            session,
            clause_id=lot.clause_id,
            company_id=lot.company_ids[0],
            month=month,
            lines=[
                LineInput(person.id, Decimal(hours), DeliveryMode.DIRECT_HIRING, ContractType.CDD)
            ],
            actor="test",
            now=at,
            source="test",
            publish=app.publish,
        )


def test_a_lone_late_start_has_no_summary_before_its_catch_up_due_date(app: App) -> None:
    started = local(app, STARTED_ON, 10)
    lots: list[Lot] = []
    start = TimedAction(
        started,
        "lot démarré en retard",
        lambda app, at: lots.append(make_lot(app, start=APR, end=date(2026, 12, 31), at=at)),
    )
    # The company declares April to June on Friday 24 July, before the catch-up call's date.
    declared = local(app, date(2026, 7, 24), 11)
    hours = {APR: "35", MAY: "70", JUN: "42.5"}
    declarations = [
        TimedAction(
            declared,
            f"déclaration de {month:%m/%Y}",
            lambda app, at, month=month, h=h: declare_hours(app, lots[0], month, h, at),
        )
        for month, h in hours.items()
    ]
    simulate(app, STARTED_ON, date(2026, 8, 21), actions=[start, *declarations], dispatch=False)
    (lot,) = lots

    # The catch-up call of 16 July gave April, May and June one due date, 27 July.
    assert {m: d for m, d in due_dates(app, lot).items() if m <= JUN} == {
        APR: CATCH_UP_DUE,
        MAY: CATCH_UP_DUE,
        JUN: CATCH_UP_DUE,
    }
    settings = app.settings
    first_allowed = at_local(
        add_working_days(CATCH_UP_DUE, settings.summary_delay_days),
        settings.summary_time,
        settings.zone,
    )
    assert first_allowed == local(app, date(2026, 8, 6), 7)

    # Nothing on 16 July (May's summary left then, before the call), nor before the working
    # day after the catch-up call's last reminder: then June's, the latest month due, and
    # July's at its usual time. April and May are recorded as skipped, never sent.
    emails = summary_emails(app)
    sent = sorted({(e.month, e.created_at) for e in emails})
    assert sent == [(JUN, first_allowed), (JUL, local(app, date(2026, 8, 20), 7))]
    assert {e.key for e in emails if e.month == JUN} == {
        "summary:2026-06:facilitator",
        f"summary:2026-06:buyer:{lot.buyer_id}",
    }
    assert runs(app, JOB) == ["2026-06", "2026-07"]
    assert runs(app, JOB_SKIPPED) == ["2026-04", "2026-05"]

    # Every email says what ``clauses summary`` printed at its moment (figures, declarations
    # against the ladders, pace), and the audit, compiling them again, finds nothing.
    for email in emails:
        check_email(app, email, ladders=True)
    june = next(e for e in emails if e.key == f"summary:2026-06:buyer:{lot.buyer_id}")
    shown = {label: plain(value) for label, value in figure_lines(june.body_text).items()}
    assert shown["Heures réalisées dans le mois"] == "42,50 h"
    # June carries the months skipped, cumulated.
    assert shown["Heures cumulées depuis le début"].startswith("147,50 h sur 500 h prévues")
    assert shown["Déclarations de juin 2026"] == "toutes reçues (1 sur 1)"
    assert "pas encore due" not in june.body_text
    assert verify_database(app).findings == ()


def test_a_month_no_company_was_asked_for_waits_for_its_first_due_date(app: App) -> None:
    """The pass of 16 July at 07:00, before the catch-up call of 09:00: May is the latest month
    due by the general calendar, its lot is followed, nobody was called for it: nothing leaves.
    Without the call (the company declared May already), nothing holds it."""
    started = local(app, STARTED_ON, 10)
    lots: list[Lot] = []
    start = TimedAction(
        started,
        "lot démarré en retard",
        lambda app, at: lots.append(make_lot(app, start=APR, end=date(2026, 12, 31), at=at)),
    )
    simulate(app, STARTED_ON, date(2026, 7, 16), actions=[start], dispatch=False)
    (lot,) = lots
    assert due_dates(app, lot)  # the catch-up call left at 09:00 on 16 July
    assert summary_emails(app) == []
    assert runs(app, JOB) == []
    # ``clauses summary`` still gives May on demand, its declaration not due yet.
    may = compile_for(app, MAY, now=local(app, date(2026, 7, 16), 7)).overall
    assert (may.declarations.expected, len(may.declarations.pending)) == (1, 1)


def test_a_buyer_whose_lot_started_late_reads_no_pace_verdict_before_any_due_date(
    app: App,
) -> None:
    """Lot A works from 1 June and declares June on time; lot B, another buyer's, started on
    15 July with work since 1 April. June's summary leaves on 23 July (A's due date of 10 July
    set the moment, B's catch-up call gave B 27 July): B's buyer reads its declaration « pas
    encore due » and no pace verdict (« en retard » before its deadline would be false); the
    facilitator reads the territory's pace, B's buyer line without a verdict."""
    on_time = make_lot(app, start=JUN, end=date(2026, 12, 31), at=local(app, date(2026, 6, 1), 8))
    late: list[Lot] = []
    actions = [
        TimedAction(
            local(app, date(2026, 7, 8), 11),
            "déclaration de juin (lot A)",
            lambda app, at: declare(app, on_time, JUN, at),
        ),
        TimedAction(
            local(app, STARTED_ON, 10),
            "lot B démarré en retard",
            lambda app, at: late.append(
                make_lot(
                    app,
                    start=APR,
                    end=date(2026, 12, 31),
                    companies=("Peintures Test",),
                    at=at,
                )
            ),
        ),
    ]
    simulate(app, date(2026, 6, 1), date(2026, 7, 24), actions=actions, dispatch=False)
    (lot_b,) = late

    emails = summary_emails(app)
    june = {e.key: e for e in emails if e.month == JUN}
    assert {e.created_at for e in june.values()} == {local(app, date(2026, 7, 23), 7)}
    # May was never sent: on 16 July at 07:00 nobody had been called for it.
    assert all(e.month == JUN for e in emails), [e.key for e in emails]
    for email in emails:
        check_email(app, email, ladders=True)

    buyer_b = june[f"summary:2026-06:buyer:{lot_b.buyer_id}"]
    shown = {label: plain(value) for label, value in figure_lines(buyer_b.body_text).items()}
    said = shown["Déclarations de juin 2026"]
    assert said.startswith("0 reçue sur 1 attendue ; 1 pas encore due : Peintures Test (")
    assert said.endswith("à déclarer d'ici le 27 juillet 2026)")
    assert not any(label.startswith("Rythme") for label in shown), shown
    assert "en retard" not in buyer_b.body_text and "en retard" not in buyer_b.body_html

    summary = compile_for(app, JUN, now=buyer_b.created_at)
    by_buyer = {b.buyer_id: b.figures for b in summary.buyers}
    assert by_buyer[lot_b.buyer_id].progress.pace is None
    assert by_buyer[on_time.buyer_id].progress.pace is not None
    # The territory has a declaration due (A's, received): its pace is judged.
    assert summary.overall.progress.pace is not None
    facilitator = june["summary:2026-06:facilitator"]
    assert any(label.startswith("Rythme") for label in figure_lines(facilitator.body_text))
    assert verify_database(app).findings == ()
