"""The monthly summary on both backends: exact figures of a hand-worked dataset, and its emails."""

from __future__ import annotations

import csv
import html
import io
import logging
import re
import threading
import zipfile
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from rich.console import Console
from sqlalchemy import func, select

from bench.bench_summaries import Moment, baseline, compare, from_baseline, from_summaries
from bench.generate import generate
from tests.integration import summary_dataset
from tests.integration.summary_dataset import Dataset
from workflow.adapters import reports
from workflow.adapters.orm import Buyer, Company, Declaration, OutboxMessage, PeriodicRun
from workflow.adapters.reports import (
    EMAIL_ROWS,
    RICH_ROWS,
    build_tables,
    email_files,
    email_tables,
    format_cell,
    french_percent,
    print_summary,
    render_summary,
)
from workflow.adapters.templates import french_hours, french_number
from workflow.bootstrap import App, bootstrap
from workflow.emails.summaries import KIND_FACILITATOR, sample_summary, summary_email
from workflow.errors import NotFound
from workflow.services.audit import verify
from workflow.services.audit.findings import CHECK_SUMMARY
from workflow.services.audit.reading import parse_hours, printed_figures, text_tables
from workflow.services.outbox import Attachment, message_attachments
from workflow.services.summaries import (
    Declarations,
    Figures,
    MonthlySummary,
    compile_month,
    compile_summary,
    queue_monthly_summaries,
)
from workflow.settings import Settings

PARIS = ZoneInfo("Europe/Paris")
MARCH = date(2026, 3, 1)
# 1 April 2026, 07:00 in Paris (summer time since 29 March): the figures of March are compiled.
DUE = datetime(2026, 4, 1, 5, 0, tzinfo=UTC)
# March is due on Friday 10 April, reminded 3 and 7 working days later (15 and 21 April): its
# summary leaves the working day after the last reminder, Wednesday 22 April at 07:00 in Paris.
SENT = datetime(2026, 4, 22, 5, 0, tzinfo=UTC)


@pytest.fixture
def data(app: App) -> Dataset:
    with app.transaction() as session:
        return summary_dataset.build(session)


def compile_march(app: App, buyer_id: int | None = None) -> MonthlySummary:
    with app.transaction() as session:
        return compile_summary(session, MARCH, buyer_id=buyer_id, now=DUE, zone=PARIS)


def rows(items: tuple[object, ...], *fields: str) -> dict[str, tuple[object, ...]]:
    """code -> selected figures, leaving out lines of zeros."""
    result = {}
    for item in items:
        values = tuple(getattr(item, f) for f in fields)
        if any(values):
            result[getattr(item, "code")] = values  # noqa: B009
    return result


def elapsed(days: int, total: int) -> Decimal:
    return Decimal(days) / Decimal(total)


def test_it_compiles_the_hours_against_the_target(app: App, data: Dataset) -> None:
    summary = compile_march(app)
    progress = summary.overall.progress
    assert progress.clauses == 3
    assert progress.hours_target == 1800  # 1000 + 500 (override wins over 600) + 300
    assert progress.hours_month == Decimal("170.25")
    assert progress.hours_cumulated == Decimal("405.75")
    assert isinstance(progress.hours_month, Decimal)  # SUM over scaled integers comes back exact
    assert progress.target_fraction == Decimal("405.75") / 1800
    expected = (
        1000 * elapsed(31 + 28 + 31, 365) + 500 * elapsed(28 + 31, 120) + 300 * elapsed(31, 184)
    )
    assert progress.time_fraction == expected / 1800
    assert progress.behind
    by_clause = {c.clause_id: c.progress for c in summary.clauses}
    c1, c2, c3 = (data.clauses[k] for k in ("c1", "c2", "c3"))
    assert set(by_clause) == {c1, c2, c3}  # not the identification, abandoned or drafting ones
    assert (by_clause[c1].hours_month, by_clause[c1].hours_cumulated) == (
        Decimal("75.25"),
        Decimal("260.75"),
    )
    assert by_clause[c2].hours_target == 500
    assert by_clause[c2].hours_cumulated == 120
    assert by_clause[c3].time_fraction == elapsed(31, 184)


def test_it_counts_participants_new_active_and_cumulated(app: App, data: Dataset) -> None:
    overall = compile_march(app).overall
    # PAR-0002 is declared in March at 0 h: on the list, not active (no hours, no activity).
    assert (overall.participants.new, overall.participants.active) == (1, 3)
    assert overall.participants.cumulated == 4  # PAR-0005 only comes in April
    fields = ("new", "active", "cumulated")
    assert rows(overall.by_criterion, *fields) == {
        "long_term_jobseeker": (0, 1, 1),
        "minimum_income": (0, 1, 2),
        "disabled_worker": (1, 1, 1),
    }
    assert rows(overall.by_sex, *fields) == {"F": (0, 1, 1), "M": (0, 1, 2), "unknown": (1, 1, 1)}
    assert rows(overall.by_age_band, *fields) == {
        "under_26": (0, 1, 1),
        "26_49": (0, 0, 1),
        "50_plus": (0, 1, 1),
        "unknown": (1, 1, 1),
    }


def test_it_breaks_down_modes_contracts_outcomes_and_stages(app: App, data: Dataset) -> None:
    overall = compile_march(app).overall
    assert rows(overall.hours_by_mode, "month", "cumulated") == {
        "direct_hiring": (Decimal("100.25"), Decimal("250.25")),
        "provision_etti": (0, Decimal("35.5")),
        "subcontracting": (60, 110),
        "training": (10, 10),
    }
    # Distinct participant x contract type with hours: PAR-0002 had a CDDI in February only,
    # and worked under temp work in February only (0 h in March).
    assert rows(overall.contracts_by_type, "month", "cumulated") == {
        "cdi": (1, 1),
        "cdd": (1, 1),
        "temp_work": (0, 1),
        "cddi": (1, 2),
        "training": (1, 1),
    }
    assert rows(overall.outcomes_by_group, "month", "cumulated") == {
        "lasting_job": (1, 1),
        "transitional_job": (1, 1),
        "positive_exit": (0, 1),
        "other": (1, 1),  # tied to no clause: counted overall only
    }
    # The clause created at 00:30 on 1 April in Paris is not counted.
    assert rows(overall.clauses_by_stage, "clauses") == {
        "identification": (1,),
        "drafting": (1,),
        "execution": (3,),
        "abandoned": (1,),
    }


def test_it_ends_the_month_at_local_midnight(app: App, data: Dataset) -> None:
    with app.transaction() as session:
        in_utc = compile_summary(session, MARCH)  # no zone: the month ends at midnight UTC
    stages = {s.code: s.clauses for s in in_utc.overall.clauses_by_stage}
    assert stages["identification"] == 2


def test_it_counts_each_clause_in_its_stage_at_the_end_of_the_month(
    app: App, data: Dataset
) -> None:
    with app.transaction() as session:
        summary_dataset.move_on(session, data)
    summary = compile_march(app)
    assert rows(summary.overall.clauses_by_stage, "clauses") == {
        "identification": (1,),  # clause 4, abandoned in April
        "drafting": (1,),  # clause 7, started in April
        "execution": (3,),  # clause 2 among them: it ended at 00:30 on 1 April in Paris
        "abandoned": (1,),
    }
    hlm = next(b.figures for b in summary.buyers if b.buyer_id == data.hlm)
    assert rows(hlm.clauses_by_stage, "clauses") == {"drafting": (1,)}
    c1, c2, c3 = (data.clauses[k] for k in ("c1", "c2", "c3"))
    # Clause 7's start date is in March, but it was still being drafted: not followed in March.
    assert {c.clause_id: c.stage for c in summary.clauses} == {
        c1: "execution",
        c2: "execution",
        c3: "execution",
    }
    assert "suivi et bilan" not in render_summary(summary, "text").decode()


def test_it_ends_the_month_of_a_stage_at_local_midnight(app: App, data: Dataset) -> None:
    with app.transaction() as session:
        summary_dataset.move_on(session, data)
        in_utc = compile_summary(session, MARCH)  # 22:30 UTC on 31 March is still in March
        april = compile_summary(session, date(2026, 4, 1), zone=PARIS)
    # Compiled with everything known now: clause 7, started in April with a start date of
    # 16 March, is in execution at the end of March by its dates (its companies owe March).
    assert rows(in_utc.overall.clauses_by_stage, "clauses") == {
        "identification": (2,),
        "execution": (3,),
        "follow_up": (1,),
        "abandoned": (1,),
    }
    assert rows(april.overall.clauses_by_stage, "clauses") == {
        "identification": (1,),  # clause 6, created on 1 April
        "execution": (3,),
        "follow_up": (1,),
        "abandoned": (2,),
    }


def test_it_writes_to_buyers_by_their_clauses_stage_at_the_end_of_the_month(
    app: App, data: Dataset
) -> None:
    with app.transaction() as session:
        summary_dataset.move_on(session, data)
        for period in ("2026-01", "2026-02"):
            session.add(PeriodicRun(job="monthly_summary", period=period, done_at=DUE))
    # On 22 April the HLM office's clause is in execution (started on 15 April) with a start
    # date of 16 March: the service asks its companies for March, so March's summary covers it
    # and its buyer gets one, although the clause was still being drafted on 31 March.
    assert queue_monthly_summaries(app, SENT) == 4
    hlm = outbox(app)[f"summary:2026-03:buyer:{data.hlm}"]
    assert "Clauses comptées\u00a0: 1" in hlm.body_text, hlm.body_text
    with app.transaction() as session:
        then = compile_summary(session, MARCH, buyer_id=data.hlm, now=SENT, zone=PARIS)
        before = compile_summary(session, MARCH, buyer_id=data.hlm, now=DUE, zone=PARIS)
    assert [(c.clause_id, c.stage) for c in then.clauses] == [(data.clauses["c7"], "execution")]
    assert rows(then.overall.clauses_by_stage, "clauses") == {"execution": (1,)}
    # Known on 1 April, it was not started: not counted, in drafting.
    assert before.clauses == () and rows(before.overall.clauses_by_stage, "clauses") == {
        "drafting": (1,)
    }


def test_it_gives_each_buyer_its_own_figures(app: App, data: Dataset) -> None:
    summary = compile_march(app)
    buyers = {b.buyer_id: b.figures for b in summary.buyers}
    assert set(buyers) == {data.gers, data.auch, data.hlm}
    gers, auch = buyers[data.gers], buyers[data.auch]
    assert (gers.progress.hours_month, gers.progress.hours_cumulated) == (
        Decimal("145.25"),
        Decimal("380.75"),
    )
    assert gers.progress.hours_target == 1500
    assert (auch.participants.new, auch.participants.active) == (2, 2)  # new to Auch's clauses
    assert (gers.participants.new, gers.participants.active) == (0, 2)  # PAR-0002 at 0 h
    assert rows(auch.outcomes_by_group, "month", "cumulated") == {"transitional_job": (1, 1)}
    assert rows(buyers[data.hlm].clauses_by_stage, "clauses") == {"drafting": (1,)}


def test_it_keeps_a_buyer_summary_to_its_own_clauses(app: App, data: Dataset) -> None:
    summary = compile_march(app, buyer_id=data.auch)
    assert summary.for_buyer and summary.buyer_name == "Ville d'Auch"
    assert [b.buyer_id for b in summary.buyers] == [data.auch]
    assert [c.clause_id for c in summary.clauses] == [data.clauses["c3"]]
    figures: Figures = summary.overall
    assert figures.progress.hours_month == 25
    assert figures.participants.cumulated == 2
    assert rows(figures.hours_by_mode, "month", "cumulated") == {"direct_hiring": (25, 25)}
    assert rows(figures.clauses_by_stage, "clauses") == {"identification": (1,), "execution": (1,)}
    # From the buyer's first declared month: March, Auch's only one so far.
    assert [(m.month, m.hours) for m in summary.hours_by_month] == [(MARCH, 25)]
    text = render_summary(summary, "text").decode()
    html = render_summary(summary, "html").decode()
    for other in ("Gers", "HLM", "2025-001", *data.participants.values()):
        assert other not in text
        assert other not in html


def test_it_refuses_an_unknown_buyer(app: App, data: Dataset) -> None:
    with pytest.raises(NotFound, match="Aucun donneur d'ordre n° 999"):
        compile_march(app, buyer_id=999)


def test_it_writes_one_sheet_per_table_and_an_html_chart(app: App, data: Dataset) -> None:
    summary = compile_march(app)
    workbook = load_workbook(io.BytesIO(render_summary(summary, "xlsx")))
    tables = build_tables(summary)
    assert workbook.sheetnames == [t.sheet for t in tables]
    progress = workbook["Avancement"]
    assert [c.value for c in progress[2]][:5] == ["Ensemble", 3, 1800, 170.25, 405.75]
    html = render_summary(summary, "html").decode()
    assert (
        "<svg" in html
        and "<script" not in html
        and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    )
    assert "mars 2026 : 170,25" in html  # the bar's title


def test_it_shows_in_the_workbook_the_rows_the_text_shows(app: App, data: Dataset) -> None:
    with app.transaction() as session:
        january = compile_summary(session, date(2026, 1, 1), now=DUE, zone=PARIS)
    workbook = load_workbook(io.BytesIO(render_summary(january, "xlsx")))
    text = render_summary(january, "text").decode()
    # No outcome yet in January: the text says so under the title, and so does the sheet.
    assert "(aucun élément)" in text.split("Sorties par groupe")[1].split("Clauses par étape")[0]
    outcomes = [[c for c in row if c is not None] for row in workbook["Sorties par groupe"].values]
    assert outcomes == [["Périmètre", "Groupe", "Mois", "Cumul"], ["(aucun élément)"]]
    # Lines of zeros are left out, as on screen; a time series keeps its zeros.
    for table in build_tables(january):
        sheet = workbook[table.sheet]
        assert sheet.max_row == 1 + max(1, len(table.shown_rows())), table.sheet
    assert [c.value for c in workbook["Heures par mois"]["B"]] == ["Heures", 70]
    march = workbook_of(compile_march(app))
    scopes = {row[0] for row in march["Sorties par groupe"].iter_rows(min_row=2, values_only=True)}
    assert scopes == {"Ensemble", "Département du Gers", "Ville d'Auch"}  # HLM: only zeros


def workbook_of(summary: MonthlySummary) -> Any:
    return load_workbook(io.BytesIO(render_summary(summary, "xlsx")))


def test_it_writes_a_csv_for_french_excel(app: App, data: Dataset) -> None:
    data_bytes = render_summary(compile_march(app), "csv")
    assert data_bytes.startswith(b"\xef\xbb\xbf")  # the BOM: Excel then reads UTF-8
    text = data_bytes.decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    assert lines[0] == ["tableau", "ligne", "indicateur", "valeur", "unité"]
    title = "Heures d'insertion : mois, cumul et objectif"
    assert [title, "Ensemble", "Heures du mois", "170,25", "h"] in lines
    assert [title, "Ensemble", "Heures prévues", "1800", "h"] in lines  # no thousands separator
    assert [title, "Ensemble", "% de l'objectif", "22,54", "%"] in lines  # 405.75 / 1800
    assert [title, "Ensemble", "Rythme", "en retard", ""] in lines
    assert ["Participants par critère d'éligibilité", "Ville d'Auch – Travailleur handicapé (RQTH)",
            "Nouveaux", "1", "nombre"] in lines  # fmt: skip
    hours_title = "Heures réalisées par mois (depuis le premier mois déclaré)"
    assert [hours_title, "2026-03", "Heures", "170,25", "h"] in lines
    # Data for a pivot table: lines of zeros are kept, unlike on screen.
    assert ["Sorties par groupe", "Office HLM – Emploi durable", "Mois", "0", "nombre"] in lines
    assert "\r\n" in text and "\n\n" not in text


# --- Queueing -------------------------------------------------------------------------------------


def outbox(app: App) -> dict[str, OutboxMessage]:
    with app.transaction() as session:
        return {m.key: m for m in session.scalars(select(OutboxMessage))}


def test_it_sends_march_once_the_working_day_after_the_last_reminder(
    app: App, data: Dataset
) -> None:
    with app.transaction() as session:
        for period in ("2026-01", "2026-02"):
            session.add(PeriodicRun(job="monthly_summary", period=period, done_at=DUE))
    # Not on the first working day of April, nor on the due date: the figures are not in.
    assert queue_monthly_summaries(app, DUE) == 0
    assert queue_monthly_summaries(app, datetime(2026, 4, 10, 12, 0, tzinfo=UTC)) == 0
    assert queue_monthly_summaries(app, SENT - timedelta(minutes=1)) == 0
    assert queue_monthly_summaries(app, SENT) == 3
    assert queue_monthly_summaries(app, SENT) == 0
    assert queue_monthly_summaries(app, datetime(2026, 4, 30, 12, 0, tzinfo=UTC)) == 0
    sent = outbox(app)
    assert set(sent) == {
        "summary:2026-03:facilitator",
        f"summary:2026-03:buyer:{data.gers}",
        f"summary:2026-03:buyer:{data.auch}",
    }  # the HLM office has nothing in execution and no hours: no email
    facilitator = sent["summary:2026-03:facilitator"]
    assert facilitator.kind == "monthly_summary"
    assert facilitator.recipients == "Camille Martin <camille.martin@example.org>"
    assert "mars 2026" in facilitator.subject
    assert (
        "Ville d'Auch" in facilitator.body_text and "Département du Gers" in facilitator.body_text
    )
    gers = sent[f"summary:2026-03:buyer:{data.gers}"]
    assert gers.kind == "monthly_summary_buyer"
    assert [line.split("<")[-1] for line in gers.recipients.splitlines()] == [
        "anne.achat@gers.example>",
        "bruno@gers.example>",
    ]
    assert "145,25" in gers.body_text
    for message in (gers, sent[f"summary:2026-03:buyer:{data.auch}"]):
        for reference in data.participants.values():
            assert reference not in message.body_text + message.body_html + message.subject
    assert "Ville d'Auch" not in gers.body_text + gers.body_html


def test_it_counts_working_days_over_a_holiday_in_winter_time(app: App, data: Dataset) -> None:
    with app.transaction() as session:
        for month in range(1, 10):
            session.add(PeriodicRun(job="monthly_summary", period=f"2026-{month:02}", done_at=DUE))
    # October is due on Tuesday 10 November; the 11th is Armistice Day: 8 working days later is
    # Monday 23 November, 07:00 CET = 06:00 UTC.
    assert queue_monthly_summaries(app, datetime(2026, 11, 2, 6, 0, tzinfo=UTC)) == 0
    assert queue_monthly_summaries(app, datetime(2026, 11, 23, 5, 59, tzinfo=UTC)) == 0
    assert queue_monthly_summaries(app, datetime(2026, 11, 23, 6, 0, tzinfo=UTC)) == 3
    assert "summary:2026-10:facilitator" in outbox(app)


def periodic_runs(app: App, job: str) -> list[str]:
    with app.transaction() as session:
        statement = select(PeriodicRun.period).where(PeriodicRun.job == job)
        return list(session.scalars(statement.order_by(PeriodicRun.period)))


def test_it_sends_only_the_latest_due_month_after_a_downtime(
    app: App, data: Dataset, caplog: pytest.LogCaptureFixture
) -> None:
    # Running on 28 February: January is due (sent on the 20th), not February. Auch's clause
    # only started in March: January goes to the facilitator and the Gers.
    assert queue_monthly_summaries(app, datetime(2026, 2, 28, 9, 0, tzinfo=UTC)) == 2
    # Stopped on the 28th, restarted on 23 April: March only, the latest due month. February's
    # summary, two months late, is not sent in a burst: March's carries the cumulated figures.
    with caplog.at_level(logging.INFO, logger="workflow.services.summaries"):
        assert queue_monthly_summaries(app, datetime(2026, 4, 23, 8, 0, tzinfo=UTC)) == 3
    assert queue_monthly_summaries(app, datetime(2026, 4, 23, 8, 5, tzinfo=UTC)) == 0
    keys = sorted(k for k in outbox(app) if k.endswith("facilitator"))
    assert keys == ["summary:2026-01:facilitator", "summary:2026-03:facilitator"]
    assert periodic_runs(app, "monthly_summary") == ["2026-01", "2026-03"]
    assert periodic_runs(app, "monthly_summary_skipped") == ["2026-02"]
    skipped = [r for r in caplog.records if r.getMessage() == "summary.skipped"]
    assert [getattr(r, "periods", None) for r in skipped] == [["2026-02"]]


def test_it_sends_nothing_before_there_is_any_activity(app: App) -> None:
    assert queue_monthly_summaries(app, DUE) == 0
    with app.transaction() as session:
        assert session.scalar(select(func.count()).select_from(PeriodicRun)) == 0


def test_it_sends_each_summary_once_when_two_instances_run_at_once(
    app: App, data: Dataset, settings: Settings
) -> None:
    others = [bootstrap(settings) for _ in range(2)]
    results: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(others))

    def run(instance: App) -> None:
        try:
            start.wait()
            results.append(queue_monthly_summaries(instance, SENT))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(o,)) for o in others]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for instance in others:
        instance.close()
    assert not errors
    assert sorted(results) == [0, 3]  # March only, by one of them; January, February skipped
    assert len(outbox(app)) == 3
    assert periodic_runs(app, "monthly_summary") == ["2026-03"]
    assert periodic_runs(app, "monthly_summary_skipped") == ["2026-01", "2026-02"]


# --- Missing declarations, figures as known at an instant, the past kept --------------------------


APRIL = date(2026, 4, 1)


def compile_april(app: App, now: datetime, buyer_id: int | None = None) -> MonthlySummary:
    with app.transaction() as session:
        return compile_summary(session, APRIL, buyer_id=buyer_id, now=now, zone=PARIS)


def test_it_names_the_companies_whose_declaration_is_missing(app: App, data: Dataset) -> None:
    summary = compile_april(app, datetime(2026, 5, 20, 5, 0, tzinfo=UTC))
    declarations = summary.overall.declarations
    # Three lots work in April, each with one company; only Auch's clause 3 has declared.
    assert (declarations.expected, declarations.received) == (3, 1)
    assert [(m.company, m.clause_id) for m in declarations.missing] == [
        ("Bâtir Gascogne", data.clauses["c1"]),
        ("Routes du Sud", data.clauses["c2"]),
    ]
    by_buyer = {b.buyer_id: b.figures.declarations for b in summary.buyers}
    assert (by_buyer[data.gers].expected, len(by_buyer[data.gers].missing)) == (2, 2)
    assert (by_buyer[data.auch].expected, by_buyer[data.auch].missing) == (1, ())
    text = render_summary(summary, "text").decode()
    assert "1 reçue sur 3 attendues ; 2 manquantes : Bâtir Gascogne (2025-001 lot 1" in text
    # The buyer's own summary names its companies, never another buyer's.
    gers = render_summary(compile_april(app, summary.compiled_at or SENT, data.gers), "text")
    assert "0 reçue sur 2 attendues" in gers.decode() and "Auch" not in gers.decode()


def test_it_counts_what_was_recorded_by_the_moment_it_is_compiled(app: App, data: Dataset) -> None:
    before = datetime(2026, 5, 20, 5, 0, tzinfo=UTC)
    arrival = datetime(2026, 5, 25, 14, 0, tzinfo=UTC)
    with app.transaction() as session:
        session.add(
            Declaration(
                clause_id=data.clauses["c1"], company_id=company_of(app, "Bâtir Gascogne"),
                month=APRIL, total_hours=Decimal("44.5"), recorded_at=arrival,
                recorded_by="test",
            )
        )  # fmt: skip
    then = compile_april(app, before)
    later = compile_april(app, arrival)
    assert then.overall.progress.hours_month == 30  # Auch's April only
    assert later.overall.progress.hours_month == Decimal("74.5")
    assert len(then.overall.declarations.missing) == 2
    assert [m.company for m in later.overall.declarations.missing] == ["Routes du Sud"]
    assert then.hours_by_month[-1].hours == 30 and later.hours_by_month[-1].hours == Decimal("74.5")


def company_of(app: App, name: str) -> int:
    with app.transaction() as session:
        found = session.scalar(select(Company.id).where(Company.name == name))
    assert found is not None
    return found


def test_it_keeps_the_hours_of_a_clause_that_ended_before_the_month(
    app: App, data: Dataset
) -> None:
    # Clause 2 ends in May and is closed in June: its 120 hours stay in the later months'
    # cumulated figures, the Gers' and the territory's, with its target.
    with app.transaction() as session:
        summary_dataset.move(
            session,
            data.clauses["c2"],
            "finish",
            datetime(2026, 5, 31, 15, 0, tzinfo=UTC),
            end_date=date(2026, 5, 29),
        )
        summary_dataset.move(
            session, data.clauses["c2"], "close", datetime(2026, 6, 10, 9, 0, tzinfo=UTC)
        )
    with app.transaction() as session:
        july = compile_summary(
            session, date(2026, 7, 1), now=datetime(2026, 8, 25, tzinfo=UTC), zone=PARIS
        )
    gers = next(b.figures for b in july.buyers if b.buyer_id == data.gers)
    assert gers.progress.hours_cumulated == Decimal("380.75")  # 260.75 + 120, as in March
    assert gers.progress.hours_target == 1500 and gers.progress.clauses == 2
    assert july.overall.progress.hours_cumulated == sum(m.hours for m in july.hours_by_month)
    assert july.overall.progress.hours_cumulated == Decimal("435.75")  # with Auch's April
    earlier = july.earlier_clauses
    assert (earlier.clauses, earlier.hours_cumulated) == (1, 120)
    # The closed clause is added up on one line of the clause table, which sums to the total.
    clauses = next(t for t in build_tables(july) if t.sheet == "Clauses")
    assert sum(row[-3] for row in clauses.rows) == Decimal("435.75")
    assert "1 clause achevée avant juillet 2026" in [row[4] for row in clauses.rows]


def test_it_reads_outcome_types_and_folds_them_into_groups_by_the_settings(
    app: App, data: Dataset
) -> None:
    with app.transaction() as session:
        default = compile_summary(session, MARCH, now=DUE, zone=PARIS)
        moved = compile_summary(
            session, MARCH, now=DUE, zone=PARIS, outcome_groups={"cdi": "transitional_job"}
        )
    by_type = {c.code: (c.month, c.cumulated, c.group) for c in default.overall.outcomes_by_type}
    assert by_type["cdi"] == (1, 1, "lasting_job")  # the stored group says "other": not read
    assert by_type["qualifying_training"] == (0, 1, "positive_exit")
    assert rows(moved.overall.outcomes_by_group, "month", "cumulated") == {
        "transitional_job": (2, 2),
        "positive_exit": (0, 1),
        "other": (1, 1),
    }


# --- Exports safe to open -------------------------------------------------------------------------

FORMULA = '=HYPERLINK("http://evil.example","Cliquez")'


def test_it_writes_a_formula_like_name_as_text_in_csv_and_xlsx(app: App, data: Dataset) -> None:
    routes = company_of(app, "Routes du Sud")
    with app.transaction() as session:
        session.get_one(Buyer, data.auch).name = FORMULA
        session.get_one(Company, routes).name = "+33 Routes"
    with app.transaction() as session:
        summary = compile_summary(session, APRIL, now=datetime(2026, 5, 20, tzinfo=UTC), zone=PARIS)
    lines = list(
        csv.reader(io.StringIO(render_summary(summary, "csv").decode("utf-8-sig")), delimiter=";")
    )
    cells = [cell for line in lines for cell in line]
    assert not [c for c in cells if c.startswith(("=", "+", "@"))]
    assert any(c.startswith("'" + FORMULA) for c in cells)
    workbook = workbook_of(summary)
    found = []
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and cell.value.startswith(("=", "+")):
                    found.append((sheet.title, cell.data_type, cell.value))
    assert found, "the names are in the workbook"
    assert {data_type for _, data_type, _ in found} == {"s"}  # text cells, never formulas
    assert ("Déclarations manquantes", "s", "+33 Routes") in found


# --- A generated territory: every summary at once, long tables in the emails ----------------------

OCTOBER = date(2026, 10, 1)
#: The first morning after the generator's instant: October's summaries are due.
FIRST_MORNING = datetime(2026, 12, 1, 9, 5, tzinfo=PARIS)
#: The generator's own instant, in the middle of November.
AS_OF = datetime(2026, 11, 20, 10, 30, tzinfo=PARIS)


@pytest.fixture
def territory(app: App, database_url: str) -> App:
    """600 lots, six buyers, a year of declarations (``bench/generate.py``, seed 5)."""
    generate(600, 5, database_url, console=Console(file=io.StringIO()))
    return app


def by_hand(app: App, month: date, now: datetime) -> dict[Any, dict[str, Any]]:
    """The month's figures from the benchmark's hand-written GROUP BY queries."""
    moment = Moment(month, now, PARIS)
    with app.engine.connect() as connection:
        raw = baseline(connection, moment)
        connection.rollback()
    return from_baseline(raw, moment)


def test_every_summary_compiled_at_once_is_the_one_compiled_alone_and_by_hand(
    territory: App,
) -> None:
    groups = territory.settings.outcome_groups
    for month, now in ((OCTOBER, FIRST_MORNING), (date(2026, 9, 1), AS_OF)):
        with territory.transaction() as session:
            batch = compile_month(session, month, now=now, zone=PARIS, outcome_groups=groups)
            alone = {
                buyer: compile_summary(
                    session, month, buyer_id=buyer, now=now, zone=PARIS, outcome_groups=groups
                )
                for buyer in batch.by_buyer
            }
        overall = batch.summary.overall
        # Not vacuous: every kind of figure has something to compare.
        assert len(alone) == 6 and len(batch.summary.clauses) > 300
        assert overall.declarations.missing and overall.participants.active
        assert sum(s.clauses for s in overall.clauses_by_stage if s.code != "execution")
        assert set(batch.informed) <= set(alone)
        for buyer, summary in alone.items():
            assert batch.of_buyer(buyer) == summary, f"{month:%Y-%m}, buyer {buyer}"
        # Every scope's figures, clause lines, buyers written to: as the SQL written by hand.
        assert compare(from_summaries(batch), by_hand(territory, month, now)) == []


def outbox_row(app: App, key: str) -> tuple[OutboxMessage, list[Attachment]]:
    with app.transaction() as session:
        row = session.scalars(select(OutboxMessage).where(OutboxMessage.key == key)).one()
        session.expunge(row)
        return row, message_attachments(session, [row.id]).get(row.id, [])


def sheet(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline=""), delimiter=";"))


def test_long_tables_are_cut_in_the_email_and_complete_in_its_attachments(
    territory: App,
) -> None:
    assert queue_monthly_summaries(territory, FIRST_MORNING) == 7  # the facilitator, six buyers
    email, files = outbox_row(territory, "summary:2026-10:facilitator")
    with territory.transaction() as session:
        summary = compile_summary(session, OCTOBER, now=email.created_at, zone=PARIS)
    followed = summary.followed_clauses
    missing = summary.overall.declarations.missing
    assert len(followed) > 2 * EMAIL_ROWS and len(missing) > EMAIL_ROWS
    tables = {t.title: t for t in text_tables(email.body_text)}

    # The clause table: the 50 clauses that need attention most, one line adding up the
    # others, the line of those achieved before October; its columns add up to the headline.
    clauses = tables["Avancement par clause"]
    rest = len(followed) - EMAIL_ROWS
    assert len(clauses.rows) == EMAIL_ROWS + 2
    assert clauses.rows[EMAIL_ROWS][0] == f"… et {french_number(rest)} autres clauses suivies"
    assert clauses.rows[-1][0].endswith("clauses achevées avant octobre 2026")
    headline = printed_figures(email.body_text)
    month_hours = sum((parse_hours(r[1]) or Decimal(0) for r in clauses.rows), Decimal(0))
    assert french_hours(month_hours) == headline["Heures réalisées dans le mois"]
    cumulated = sum(
        (parse_hours(r[2].split(" / ")[0]) or Decimal(0) for r in clauses.rows), Decimal(0)
    )
    assert cumulated == summary.overall.progress.hours_cumulated
    # Those with a declaration missing come first, then those behind: here 50 with missing ones.
    shown = [int(re.findall(r"– n° (\d+) – ", row[0])[0]) for row in clauses.rows[:EMAIL_ROWS]]
    lacking = {m.clause_id for m in missing}
    assert len(lacking & {c.clause_id for c in followed}) >= EMAIL_ROWS
    assert set(shown) <= lacking
    note = (
        f"la ligne «\u00a0… et {french_number(rest)} autres clauses suivies\u00a0» additionne "
        "les autres, détaillées une à une dans la pièce jointe "
        "«\u00a0synthese-2026-10-clauses.csv\u00a0»."
    )
    assert note in email.body_text and note in html.unescape(email.body_html)

    # Missing declarations: the first 50, then how many more and where.
    lines = tables["Déclarations d'octobre 2026 manquantes"].rows
    assert len(lines) == EMAIL_ROWS + 1
    assert lines[-1] == (
        f"… et {french_number(len(missing) - EMAIL_ROWS)} autres",
        "voir la pièce jointe",
    )
    said = headline["Déclarations d'octobre 2026"]
    late = next(part for part in said.split(" ; ") if " manquantes : " in part)
    assert late.endswith(
        f"et {french_number(len(missing) - 10)} autres, dans le tableau des déclarations manquantes"
    )
    assert late.count(" n° ") == 2 * 10  # ten companies named, each with its buyer
    # Companies whose call left late (a lot started late) are not due yet on 1 December: named
    # apart, each with the due date its call gave, never among the missing ones.
    pending = summary.overall.declarations.pending
    assert pending and not {(m.clause_id, m.company_id) for m in pending} & {
        (m.clause_id, m.company_id) for m in missing
    }
    assert all(m.due_on is not None and m.due_on >= FIRST_MORNING.date() for m in pending)
    # Each named with its due date, or, its lot suspended that morning, with no date that
    # will move.
    first = pending[0]
    when = "lot suspendu, échéance reportée" if first.suspended else "à déclarer d'ici le "
    assert f"{first.company} ({first.lot_label} – {first.buyer}, {when}" in said

    # Earlier months still missing (months before October never declared): the first 50
    # companies x lots with their months, the others in their attachment.
    earlier = summary.overall.declarations.earlier
    assert len(earlier) > EMAIL_ROWS
    previous = tables["Déclarations des mois précédents toujours manquantes"].rows
    assert len(previous) == EMAIL_ROWS + 1
    assert previous[-1] == (
        f"… et {french_number(len(earlier) - EMAIL_ROWS)} autres",
        "voir la pièce jointe",
        "–",
    )

    # The attachments: every followed clause, every missing declaration, of the month and
    # earlier.
    assert [f.filename for f in files] == [
        "synthese-2026-10-declarations-manquantes.csv",
        "synthese-2026-10-declarations-mois-precedents.csv",
        "synthese-2026-10-clauses.csv",
    ]
    before = sheet(files[1].content)
    assert before[0][-2:] == ["Mois", "Déclarations"]
    assert [(row[0], row[1]) for row in before[1:]] == [(e.buyer, e.company) for e in earlier]
    assert sum(int(row[-1]) for row in before[1:]) == summary.overall.declarations.earlier_count
    files = [files[0], files[2]]
    assert "Pièces jointes (tableaux complets, pour un tableur) : " in email.body_text
    complete = sheet(files[1].content)
    assert complete[0][:2] == ["N°", "Donneur d'ordre"]
    assert [int(row[0]) for row in complete[1:-1]] == [c.clause_id for c in followed]
    earlier = len(summary.clauses) - len(followed)
    assert complete[-1][4] == f"{french_number(earlier)} clauses achevées avant octobre 2026"
    listed = sheet(files[0].content)
    assert [(row[0], row[1]) for row in listed[1:]] == [(m.buyer, m.company) for m in missing]

    # A buyer's email: its own clauses, in full in its attachment when its table is cut.
    for buyer in summary.buyers:
        _, attached = outbox_row(territory, f"summary:2026-10:buyer:{buyer.buyer_id}")
        own = [c.clause_id for c in followed if c.buyer_id == buyer.buyer_id]
        named = {f.filename: f.content for f in attached}
        if len(own) > EMAIL_ROWS:
            assert [
                int(row[0]) for row in sheet(named["synthese-2026-10-clauses.csv"])[1:-1]
            ] == own
        else:
            assert "synthese-2026-10-clauses.csv" not in named

    # What the audit reads in every summary email (cut tables included) is what the data say.
    report = verify(territory)
    assert report.summaries == 7
    assert [f.line for f in report.findings if f.check == CHECK_SUMMARY] == []


def many(summary: MonthlySummary, count: int) -> MonthlySummary:
    """The sample summary with ``count`` buyers, clauses and missing declarations."""
    line = summary.clauses[0]
    figures = summary.overall
    missing = figures.declarations.missing[0]
    lines = tuple(
        replace(
            line,
            clause_id=i,
            title=f"Lot {i:05}",
            progress=replace(line.progress, hours_month=Decimal(i % 40)),
        )
        for i in range(count)
    )
    buyers = tuple(
        replace(summary.buyers[0], buyer_id=i, name=f"Commune n° {i:05}") for i in range(count)
    )
    declarations = Declarations(
        count * 2, tuple(replace(missing, clause_id=i) for i in range(count))
    )
    return replace(
        summary,
        clauses=lines + summary.clauses[1:],
        buyers=buyers,
        overall=replace(figures, declarations=declarations),
    )


def test_an_email_stays_the_same_size_whatever_the_territory(app: App) -> None:
    small, large = many(sample_summary(), 60), many(sample_summary(), 6000)
    sizes = []
    for summary in (small, large):
        context, files = summary_email(summary)
        rendered = app.renderer.render(KIND_FACILITATOR, context)
        sizes.append((len(rendered.html), len(rendered.text)))
        # Whatever it leaves out, it says how many and where they are.
        assert (
            f"… et {french_number(len(summary.clauses) - 1 - EMAIL_ROWS)} autres clauses suivies"
            in rendered.text
        )
        assert (
            f"… et {french_number(len(summary.buyers) - EMAIL_ROWS)} autres donneurs d'ordre"
            in rendered.text
        )
        assert [f.filename for f in files] == (
            ["synthese-2026-03-donneurs-d-ordre.csv", "synthese-2026-03-declarations-manquantes.csv",
             "synthese-2026-03-clauses.csv"]
            if summary is small
            else ["synthese-2026-03.zip"]  # a megabyte of CSV: one archive
        )  # fmt: skip
    # A hundred times more lines: the same email, but for the digits of the counts (which also
    # widen a column of the text part's tables a little).
    for small_size, large_size in zip(sizes[0], sizes[1], strict=True):
        assert small_size <= large_size < small_size * 1.06
    assert sizes[1][0] < 150_000


def test_large_attachments_go_in_one_zip_archive(monkeypatch: pytest.MonkeyPatch) -> None:
    summary = many(sample_summary(), 600)
    plain = email_files(summary)
    monkeypatch.setattr(reports, "ZIP_ABOVE", 10_000)
    zipped = email_files(summary)
    assert [f.filename for f in zipped.attachments] == ["synthese-2026-03.zip"]
    with zipfile.ZipFile(io.BytesIO(zipped.attachments[0].content)) as archive:
        assert {i.filename: archive.read(i) for i in archive.infolist()} == {
            f.filename: f.content for f in plain.attachments
        }
    tables = {t["title"]: t for t in email_tables(summary, zipped.where)}
    assert tables["Avancement par clause"]["note"].endswith(
        "dans le fichier «\u00a0synthese-2026-03-clauses.csv\u00a0» de la pièce jointe "
        "«\u00a0synthese-2026-03.zip\u00a0»."
    )
    assert email_files(summary).attachments == zipped.attachments  # the same bytes each time


def test_table_cells_read_as_the_french_numbers_of_the_emails() -> None:
    """The summary tables format their thousands of cells with Babel's patterns parsed once:
    the same text as ``french_hours``, ``french_number`` and ``french_percent``."""
    values = [Decimal(n) / 100 for n in range(-250_000, 2_500_000, 997)]
    values += [Decimal("0.005"), Decimal("1234567.895"), Decimal(0)]
    for value in values:
        assert format_cell(value, "hours") == french_hours(value)
        assert format_cell(int(value), "int") == french_number(int(value))
        share = value / 1000
        assert format_cell(share, "percent") == french_percent(share)


def test_the_command_prints_a_long_table_as_plain_columns(app: App) -> None:
    """Over ``RICH_ROWS`` lines (the clauses of a big territory) a table is printed as plain
    columns, with the cells a rich table would have shown; short ones stay rich tables."""
    summary = many(sample_summary(), RICH_ROWS + 1)
    buffer = io.StringIO()
    print_summary(Console(file=buffer, width=100, color_system=None), summary)
    printed = buffer.getvalue().splitlines()
    start = printed.index("Avancement par clause")
    header = printed[start + 1]
    assert header.split() == ["N°", "Donneur", "d'ordre", "Marché", "Lot", "Intitulé", "Étape",
                              "Heures", "prévues", "Heures", "du", "mois", "Heures", "cumulées",
                              "%", "de", "l'objectif", "%", "du", "temps", "écoulé"]  # fmt: skip
    rows = printed[start + 3 : start + 3 + RICH_ROWS + 2]
    first = summary.clauses[0]
    expected = [
        french_number(first.clause_id), first.buyer, first.market, first.lot, first.title,
        first.stage_label, french_hours(first.progress.hours_target),
        french_hours(first.progress.hours_month), french_hours(first.progress.hours_cumulated),
        french_percent(first.progress.target_fraction), french_percent(first.progress.time_fraction),
    ]  # fmt: skip
    assert re.split(r"\s{2,}", rows[0].strip()) == expected
    assert [int(re.split(r"\s{2,}", r.strip())[0].replace("\u202f", "")) for r in rows[:-1]] == [
        c.clause_id for c in summary.followed_clauses
    ]
    assert "1 clause achevée avant mars 2026" in rows[-1]
    # A short table keeps its rich frame.
    assert "┃ Mois           ┃ Heures ┃" in printed
