"""The pace of a terminated lot in the monthly summaries (« marché résilié »).

User trial (5 December 2026): a lot planned from 1 September 2026 to 31 May 2027, terminated on
20 November with effect on 15 November, its 500 h target unchanged. Its time elapsed was
measured up to the termination day as if it were the planned end: the October summary sent
after the termination read « 80 % du temps écoulé, en retard » for 22 % of the planned works,
November « 100 % », blaming the companies for the months the termination took away; the
September summary sent before it could no longer be made again (« 39 % » where the email said
« 11 % »), and ``audit verify`` reported problems.

Now the months before the termination read the time against the planned end, whenever compiled;
from the termination on, the time stops on its day and the termination is said in place of the

pytestmark = pytest.mark.scenario
verdict. A termination recorded after a summary it changes is a remark naming that lot, never
another lot's change.

500 h from 1 September 2026 to 31 May 2027 (273 days): September 45 h (9 % for 30/273 = 11 %),
October 50 h (19 % for 61/273 = 22 %), November 30 h up to the termination (25 % for
76/273 = 28 %).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import Clock, make_settings
from tests.integration._ladders import Lot, declare, make_lot
from tests.integration.test_end_date_correction import paris, run_cli
from tests.integration.test_lot_terminated import declare_hours, plain
from tests.integration.test_summary_truth import Email, figure_lines, summary_emails, text_tables
from workflow.adapters.orm import Clause, Market, OutboxMessage
from workflow.adapters.reports import figure_lines as summary_figure_lines
from workflow.app.audit import verify_database
from workflow.bootstrap import App, bootstrap
from workflow.domain.stages import ClauseEvent
from workflow.domain.vocabulary import PartyRole
from workflow.services.clauses import (
    ClauseParameters,
    PartyInput,
    advance_clause,
    create_clause,
    record_award,
)
from workflow.services.summaries import compile_for
from workflow.services.ticks import TimedAction, simulate
from workflow.settings import Settings

SEP, OCT, NOV, DEC = (date(2026, m, 1) for m in (9, 10, 11, 12))
PLANNED_END = date(2027, 5, 31)
REASON = "Liquidation judiciaire du titulaire"
NAMES = {SEP: "septembre 2026", OCT: "octobre 2026", NOV: "novembre 2026"}


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


@pytest.fixture
def app(settings: Settings, clock: Clock) -> Iterator[App]:
    application = bootstrap(settings, clock=clock)
    yield application
    application.close()


def terminate(app: App, lot: Lot, at: datetime, on: date) -> None:
    with app.transaction() as session:
        advance_clause(
            session, lot.clause_id, ClauseEvent.TERMINATE, actor="test", reason=REASON, now=at,
            publish=app.publish, end_date=on, today=at.date(),
        )  # fmt: skip


def months_declared(lot: Lot, terminated_at: datetime | None) -> list[TimedAction]:
    """September, October and November declared by both companies (the holder's hours, the
    co-contractor's 0 h); the termination recorded at ``terminated_at``, effective 15 November."""
    actions = [
        TimedAction(paris(date(2026, 10, 5), 11), "sep-t",
                    lambda a, at: declare_hours(a, lot, SEP, at, "45")),
        TimedAction(paris(date(2026, 10, 5), 12), "sep-c",
                    lambda a, at: declare(a, lot, SEP, at, company=1)),
        TimedAction(paris(date(2026, 11, 5), 11), "oct-t",
                    lambda a, at: declare_hours(a, lot, OCT, at, "50")),
        TimedAction(paris(date(2026, 11, 5), 12), "oct-c",
                    lambda a, at: declare(a, lot, OCT, at, company=1)),
        TimedAction(paris(date(2026, 12, 4), 11), "nov-t",
                    lambda a, at: declare_hours(a, lot, NOV, at, "30")),
        TimedAction(paris(date(2026, 12, 4), 12), "nov-c",
                    lambda a, at: declare(a, lot, NOV, at, company=1)),
    ]  # fmt: skip
    if terminated_at is not None:
        actions.append(
            TimedAction(terminated_at, "résilier",
                        lambda a, at: terminate(a, lot, at, date(2026, 11, 15)))
        )  # fmt: skip
    return actions


def buyer_email(app: App, lot: Lot, month: date) -> Email:
    key = f"summary:{month:%Y-%m}:buyer:{lot.buyer_id}"
    (email,) = [e for e in summary_emails(app) if e.key == key]
    return email


def pace_of(body: str, month: str) -> str:
    return plain(figure_lines(body)[f"Rythme à fin {month}"])


def test_summaries_sent_before_a_termination_stay_true_and_november_says_it(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot = make_lot(
        app, start=SEP, end=PLANNED_END, at=paris(SEP, 10), companies=("Titulaire", "Cotraitant")
    )
    # Terminated on 20 November, effective on the 15th: after September's summary, before
    # October's.
    terminated_at = paris(date(2026, 11, 20), 14)
    simulate(app, SEP, date(2026, 12, 31), actions=months_declared(lot, terminated_at))
    sep, oct_, nov = (buyer_email(app, lot, m) for m in (SEP, OCT, NOV))
    assert sep.created_at < terminated_at < oct_.created_at < nov.created_at

    # Before the termination: the time against the planned end, as it was.
    assert pace_of(sep.body_text, "septembre 2026") == (
        "9 % des heures prévues réalisées pour 11 % du temps écoulé, dans le rythme"
    )
    assert pace_of(oct_.body_text, "octobre 2026") == (
        "19 % des heures prévues réalisées pour 22 % du temps écoulé, dans le rythme"
    )
    # November: the time stopped on the termination day, the termination said in place of the
    # verdict; the lot's line says it too.
    assert pace_of(nov.body_text, "novembre 2026") == (
        "25 % des heures prévues réalisées pour 28 % du temps écoulé, marché résilié le "
        "15 novembre 2026"
    )
    (row,) = text_tables(nov.body_text)["Avancement par clause"]
    assert plain(row["Clause"]).endswith("(suivi et bilan – marché résilié le 15/11/2026)"), row
    assert plain(row["Temps"]) == "28 %"
    assert "en retard" not in nov.body_text

    # Made again after the termination for each email's moment: the figures the email gave.
    for email, month in ((sep, SEP), (oct_, OCT), (nov, NOV)):
        again = compile_for(app, month, buyer_id=lot.buyer_id, now=email.created_at)
        assert {k: plain(v) for k, v in summary_figure_lines(again)} == {
            k: plain(v) for k, v in figure_lines(email.body_text).items()
        }, month
        moment = email.created_at.astimezone(settings.zone).strftime("%Y-%m-%dT%H:%M")
        code, said = run_cli(
            settings, clock, paris(date(2027, 1, 5), 10), "summary", "--month",
            f"{month:%Y-%m}", "--buyer", str(lot.buyer_id), "--now", moment,
        )  # fmt: skip
        assert code == 0, said
        label = f"Rythme à fin {NAMES[month]}"
        assert f"{label} : {pace_of(email.body_text, NAMES[month])}" in plain(said), said

    # December: the lot among those achieved before the month, its pace still not judged.
    dec = compile_for(app, DEC, buyer_id=lot.buyer_id, now=paris(date(2027, 1, 5), 10))
    assert plain(dict(summary_figure_lines(dec))["Rythme à fin décembre 2026"]).endswith(
        "pour 28 % du temps écoulé, marché résilié le 15 novembre 2026"
    )

    report = verify_database(app)
    assert report.findings == (), [f.problem for f in report.findings]

    # October's email as the service wrote it before 5 December 2026, the time counted up to the
    # termination day: a remark naming the lot and the rule, not a problem.
    with app.transaction() as session:
        sent = session.scalars(select(OutboxMessage).where(OutboxMessage.key == oct_.key)).one()
        for part, space in (("body_text", "\u00a0"), ("body_html", "&nbsp;")):
            body = getattr(sent, part)
            assert body.count(f"22{space}%") == 2 and body.count("écoulé, dans le rythme") == 1
            body = body.replace(f"22{space}%", f"80{space}%")
            setattr(sent, part, body.replace("écoulé, dans le rythme", "écoulé, en retard"))
        sent.rules_revision = None  # written before the rules were kept on the row
    report = verify_database(app)
    assert report.findings == (), [f.problem for f in report.findings]
    (remark,) = [r.problem for r in report.remarks if "octobre 2026 du donneur" in r.subject]
    assert (
        "2 différences (dont chiffre « Rythme à fin octobre 2026 » : le courriel disait « 19 % des "
        "heures prévues réalisées pour 80 % du temps écoulé, en retard », les données disent "
        "« 19 % des heures prévues réalisées pour 22 % du temps écoulé, dans le rythme ») : la "
        f"clause n° {lot.clause_id} (marché résilié le 15/11/2026) y avait son temps écoulé "
        "compté jusqu'à la résiliation comme jusqu'à une fin prévue ; le service le compte "
        "désormais face à la fin prévue du marché" in plain(remark)
    ), remark


def add_unrelated_lot(app: App, lot: Lot, at: datetime) -> int:
    """A second lot of the same buyer (same market), awarded at ``at``, not started: it moves
    nothing in the summaries."""
    with app.transaction() as session:
        market = session.get_one(Clause, lot.clause_id).market
        assert isinstance(market, Market)
        clause = create_clause(
            session, market, lot_number="2", lot_title="Charpente",
            params=ClauseParameters(hours_override=300, override_reason="essai"), actor="test",
            now=at, publish=app.publish,
        )  # fmt: skip
        for event in (ClauseEvent.DRAFT, ClauseEvent.AWARD):
            advance_clause(
                session, clause.id, event, actor="test", reason=None, now=at, publish=app.publish
            )
        record_award(
            session, clause.id,
            parties=[PartyInput(company_id=lot.company_ids[0], role=PartyRole.HOLDER)],
            start_date=date(2027, 3, 1), planned_end_date=date(2027, 12, 31), actor="test",
            now=at, publish=app.publish,
        )  # fmt: skip
        return clause.id


def test_a_termination_recorded_after_a_summary_is_a_remark_naming_its_lot(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot = make_lot(
        app, start=SEP, end=PLANNED_END, at=paris(SEP, 10), companies=("Titulaire", "Cotraitant")
    )
    simulate(app, SEP, date(2026, 12, 27), actions=months_declared(lot, None))
    nov = buyer_email(app, lot, NOV)
    # Sent with the lot running: its pace judged against the planned end at the end of November.
    assert pace_of(nov.body_text, "novembre 2026") == (
        "25 % des heures prévues réalisées pour 33 % du temps écoulé, en retard"
    )
    # Recorded on 28 December, effective on 15 November; another lot of the buyer awarded the
    # day after.
    terminate(app, lot, paris(date(2026, 12, 28), 10), date(2026, 11, 15))
    other = add_unrelated_lot(app, lot, paris(date(2026, 12, 29), 10))

    again = compile_for(app, NOV, buyer_id=lot.buyer_id, now=nov.created_at)
    assert plain(dict(summary_figure_lines(again))["Rythme à fin novembre 2026"]) == (
        "25 % des heures prévues réalisées pour 28 % du temps écoulé, marché résilié le "
        "15 novembre 2026"
    )
    report = verify_database(app)
    assert report.findings == (), [f.problem for f in report.findings]
    # The buyer's November summary and the facilitator's: each a remark naming the lot
    # terminated, never the other lot's award.
    remarks = {r.subject: r.problem for r in report.remarks if "novembre 2026" in r.subject}
    assert len(remarks) == 2, remarks
    for remark in remarks.values():
        assert (
            "différences (dont chiffre « Rythme à fin novembre 2026 » : le courriel disait « 25 % "
            "des heures prévues réalisées pour 33 % du temps écoulé, en retard », les données "
            "disent « 25 % des heures prévues réalisées pour 28 % du temps écoulé, marché résilié "
            "le 15 novembre 2026 »)" in plain(remark)
        ), remark
        assert f"clause n° {other}" not in remark and "attribution" not in remark, remark
