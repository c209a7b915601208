"""What the monthly summary emails say is true: for every summary email of a scenario.

Two scenarios: the demo (``run_demo``, 14 simulated months through the real passes) and the small
hand-built territory of ``summary_dataset`` with a late declaration. For EVERY email of both
kinds in the outbox, the text part is parsed and each figure it prints is checked:

- against the summary compiled at the email's creation moment by the code path of
  ``clauses summary`` (``compile_for``), and against that command's own output at that moment;
- against the raw declarations recorded by then (hours of the month, cumulated hours);
- against itself: the per-buyer and per-clause tables add up to the headline figures, and the
  "rythme" verdict follows from the clause table's hours and time shares;
- buyers' emails name no participant.

Over the demo, for every month and every scope, the cumulated hours equal the sum of the
"heures par mois" table from the first month and never lose a month's hours, whatever became of
the clauses since (the closed road repair lot included).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from tests.conftest import demo_copy
from tests.integration import summary_dataset
from tests.integration._ladders import declare, make_lot
from tests.integration.test_declarations import import_file, start_sample
from workflow.adapters.orm import (
    Clause,
    Declaration,
    DeclarationLadder,
    Market,
    Operation,
    OutboxMessage,
    Participant,
)
from workflow.adapters.reports import figure_lines as summary_figure_lines
from workflow.adapters.reports import of_month
from workflow.bootstrap import App
from workflow.domain.calendar import add_months, at_local
from workflow.domain.summary import (
    PACE_TOLERANCE,
    Pace,
    awaiting,
    owed_hours,
    paced_lots,
    summary_due_at,
    unreceived_declarations,
)
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.services.annual_report import AnnualReport, compile_annual_report
from workflow.services.summaries import (
    KIND_BUYER,
    KIND_FACILITATOR,
    MonthlySummary,
    compile_for,
    queue_monthly_summaries,
    summary_timing,
)
from workflow.services.ticks import TimedAction, simulate

pytestmark = pytest.mark.scenario

NBSP, NNBSP = "\u00a0", "\u202f"
PARIS = ZoneInfo("Europe/Paris")


# --- Reading an email as its recipient does -------------------------------------------------------


def number(text: str) -> Decimal:
    """``1 916,50 h`` -> 1916.50; ``30 %`` -> 30."""
    cleaned = text.replace(NNBSP, "").replace(NBSP, "").replace(" ", "")
    return Decimal(cleaned.removesuffix("h").removesuffix("%").replace(",", "."))


def figure_lines(body: str) -> dict[str, str]:
    """The ``- label : value`` lines at the top of the message."""
    found = {}
    for line in body.splitlines():
        if line.startswith("- ") and f"{NBSP}: " in line:
            label, value = line[2:].split(f"{NBSP}: ", 1)
            found[label] = value
    return found


def text_tables(body: str) -> dict[str, list[dict[str, str]]]:
    """Each plain-text table (title, header, dashes, rows) as a list of {column: cell}."""
    lines = body.splitlines()
    tables: dict[str, list[dict[str, str]]] = {}
    for i in range(len(lines) - 2):
        dashes = lines[i + 2]
        if not re.fullmatch(r"-+( {2}-+)*", dashes):
            continue
        spans = [(m.start(), m.end()) for m in re.finditer(r"-+", dashes)]

        def cells(line: str, spans: list[tuple[int, int]] = spans) -> list[str]:
            result = []
            for index, (start, end) in enumerate(spans):
                last = index == len(spans) - 1
                result.append((line[start:] if last else line[start:end]).strip())
            return result

        header = cells(lines[i + 1])
        rows = []
        for line in lines[i + 3 :]:
            if not line.strip():
                break
            rows.append(dict(zip(header, cells(line), strict=True)))
        tables[lines[i]] = rows
    return tables


def close(printed: str, value: Decimal | None) -> bool:
    """A percentage as printed (whole, or with one decimal) against the exact fraction."""
    assert value is not None
    tolerance = Decimal("0.05") if "," in printed else Decimal("0.5")
    return abs(number(printed) - value * 100) <= tolerance + Decimal("0.0001")


# --- The check of one email -----------------------------------------------------------------------


@dataclass(frozen=True)
class Email:
    key: str
    kind: str
    created_at: datetime
    body_text: str
    body_html: str
    subject: str

    @property
    def month(self) -> date:
        return datetime.strptime(self.key.split(":")[1], "%Y-%m").date()

    @property
    def buyer_id(self) -> int | None:
        parts = self.key.split(":")
        return int(parts[3]) if parts[2] == "buyer" else None


def summary_emails(app: App) -> list[Email]:
    with app.transaction() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.kind.in_([KIND_FACILITATOR, KIND_BUYER]))
            .order_by(OutboxMessage.created_at, OutboxMessage.key)
        ).all()
        return [
            Email(m.key, m.kind, m.created_at, m.body_text, m.body_html, m.subject) for m in rows
        ]


def raw_hours(app: App, email: Email, *, cumulated: bool) -> Decimal:
    """The declarations recorded by the email's moment, straight from the table."""
    month = Declaration.month <= email.month if cumulated else Declaration.month == email.month
    statement = (
        select(func.coalesce(func.sum(Declaration.total_hours), 0))
        .join(Clause, Clause.id == Declaration.clause_id)
        .join(Market, Market.id == Clause.market_id)
        .join(Operation, Operation.id == Market.operation_id)
        .where(month, Declaration.recorded_at <= email.created_at)
    )
    if email.buyer_id is not None:
        statement = statement.where(Operation.buyer_id == email.buyer_id)
    with app.transaction() as session:
        return Decimal(session.scalar(statement) or 0)


def cli_output(app: App, email: Email) -> str:
    state = CliState()
    state.factory = lambda: app
    args = ["summary", "--month", f"{email.month:%Y-%m}"]
    if email.buyer_id is not None:
        args += ["--buyer", str(email.buyer_id)]
    real_clock = app.clock
    app.clock = lambda: email.created_at
    try:
        result = CliRunner().invoke(cli, args, obj=state, env={"COLUMNS": "200"})
    finally:
        app.clock = real_clock
    assert result.exit_code == 0, result.output
    return result.output


def check_email(app: App, email: Email, *, ladders: bool) -> MonthlySummary:
    summary = compile_for(app, email.month, buyer_id=email.buyer_id, now=email.created_at)
    figures = summary.overall
    progress = figures.progress
    shown = figure_lines(email.body_text)
    what = f"{email.key} ({email.created_at:%Y-%m-%d %H:%M})"

    # Hours of the month and cumulated, as compiled and as recorded.
    month_hours = number(shown["Heures réalisées dans le mois"])
    assert month_hours == progress.hours_month == raw_hours(app, email, cumulated=False), what
    cumul = re.fullmatch(
        r"(.+) sur (.+) prévues(?: \((.+) de l'objectif\))?",
        shown["Heures cumulées depuis le début"],
    )
    assert cumul, what
    assert number(cumul[1]) == progress.hours_cumulated == raw_hours(app, email, cumulated=True)
    assert number(cumul[2]) == progress.hours_target, what
    assert (cumul[3] is None) == (progress.target_fraction is None), what
    if cumul[3]:
        assert close(cumul[3], progress.target_fraction), what
    assert progress.hours_cumulated == sum(m.hours for m in summary.hours_by_month), what

    # The declarations of the month: counts and the companies named.
    declarations = figures.declarations
    said = shown[f"Déclarations {of_month(email.month)}"]
    if declarations.expected == 0:
        assert said == "aucune attendue", what
    elif not declarations.missing and not declarations.pending:
        assert said == f"toutes reçues ({declarations.expected} sur {declarations.expected})"
    else:
        parts = re.fullmatch(
            r"(\d+) reçues? sur (\d+) attendues?"
            r"(?: ; (\d+) manquantes? : (.+?))?(?: ; (\d+) pas encore dues? : (.+))?",
            said,
        )
        assert parts, what
        assert int(parts[1]) == declarations.received, what
        assert int(parts[2]) == declarations.expected, what
        assert int(parts[3] or 0) == len(declarations.missing), what
        assert int(parts[5] or 0) == len(declarations.pending), what
        for missing in declarations.missing:
            assert f"{missing.company} ({missing.lot_label}" in parts[4], what
        for pending in declarations.pending:
            assert f"{pending.company} ({pending.lot_label}" in parts[6], what
        table = text_tables(email.body_text).get(
            f"Déclarations {of_month(email.month)} manquantes", []
        )
        assert [row["Entreprise"] for row in table] == [m.company for m in declarations.missing]
    if ladders:
        # Independently, from the ladders: a month called « manquante » (late) had its call
        # before the summary, and the due date that call gave is past on the day it was sent;
        # a month not due yet is named apart, its due date (when called) not past. Every
        # company called and not declared by then is in one of the two.
        late, called = called_undeclared(app, email)
        named = {(m.clause_id, m.company_id) for m in declarations.missing}
        assert named <= late, what
        assert named | {(m.clause_id, m.company_id) for m in declarations.pending} >= called, what
        today = email.created_at.astimezone(app.settings.zone).date()
        for pending in declarations.pending:
            assert pending.due_on is None or pending.due_on >= today, what

    # Participants and clauses.
    people = re.fullmatch(
        r"(\d+), dont (\d+) nouveaux? \((\d+) depuis le début\)",
        shown["Participants actifs dans le mois"],
    )
    assert people, what
    assert tuple(int(x) for x in people.groups()) == (
        figures.participants.active,
        figures.participants.new,
        figures.participants.cumulated,
    ), what
    counted = re.fullmatch(r"(\d+), dont (\d+) suivies? dans le mois", shown["Clauses comptées"])
    assert counted and (int(counted[1]), int(counted[2])) == (progress.clauses, figures.followed)

    tables = text_tables(email.body_text)
    # The clause table adds up to the headline, the closed clauses' line included.
    clause_rows = tables.get("Avancement par clause", [])
    targets, done, weighted = Decimal(0), Decimal(0), Decimal(0)
    assert sum((number(r["Mois"]) for r in clause_rows), Decimal(0)) == progress.hours_month
    cumulated_sum, target_sum = Decimal(0), Decimal(0)
    for row in clause_rows:
        if row["Cumul / prévues"] == "–":
            continue
        hours_done, _, rest = row["Cumul / prévues"].partition(" / ")
        hours_target = rest.split(" (")[0]
        cumulated_sum += number(hours_done)
        target_sum += number(hours_target)
        if row["Temps"] != "–" and number(hours_target):
            targets += number(hours_target)
            done += number(hours_done)
            weighted += number(hours_target) * number(row["Temps"]) / 100
    assert cumulated_sum == progress.hours_cumulated, what
    assert target_sum == progress.hours_target, what

    # The pace: like with like, at the end of the month, over the clause table's dated clauses.
    from workflow.adapters.templates import french_month

    pace = shown.get(f"Rythme à fin {french_month(email.month)}")
    if progress.time_fraction is None:
        assert pace is None, what
    else:
        assert pace is not None, what
        parts = re.fullmatch(
            r"(.+) des heures prévues réalisées pour (.+) du temps écoulé, "
            r"(en retard|dans le rythme|en avance|rythme à confirmer "
            r"\((\d+) déclarations? non reçues?\))",
            pace,
        )
        assert parts, what
        assert close(parts[1], progress.pace_fraction), what
        assert close(parts[2], progress.time_fraction), what
        # To be confirmed while the paced lots still owe declarations of the months up to
        # this one (late or not due yet), unless ahead without them or behind whatever they
        # bring (each at most its lot's monthly share): as many as said.
        paced = paced_lots(summary.clauses)
        owed = unreceived_declarations(declarations, paced)
        judged = awaiting(progress, owed, owed_hours(declarations, paced))
        assert (parts[3] == "en retard") == judged.behind, what
        assert int(parts[4] or 0) == (owed if judged.pace is Pace.UNCONFIRMED else 0), what
        if parts[4] is None and targets:
            # Recomputed from the clause table (rounded figures: one point of slack), with the
            # documented tolerance of PACE_TOLERANCE (5 points) either way.
            done_share, time_share = done / targets * 100, weighted / targets * 100
            tolerance = PACE_TOLERANCE * 100
            if done_share < time_share - tolerance - 1:
                assert parts[3] == "en retard", what
            elif done_share > time_share + tolerance + 1:
                assert parts[3] == "en avance", what
            elif abs(done_share - time_share) < tolerance - 1:
                assert parts[3] == "dans le rythme", what

    # The facilitator's line per buyer adds up to the territory.
    if email.buyer_id is None:
        per_buyer = tables.get("Par donneur d'ordre", [])
        by_name = {b.name: b.figures.progress for b in summary.buyers}
        for row in per_buyer:
            assert number(row["Mois"]) == by_name[row["Donneur d'ordre"]].hours_month, what
            assert number(row["Cumul"]) == by_name[row["Donneur d'ordre"]].hours_cumulated
        assert sum((number(r["Mois"]) for r in per_buyer), Decimal(0)) == progress.hours_month
        assert sum((number(r["Cumul"]) for r in per_buyer), Decimal(0)) == (
            progress.hours_cumulated
        ), what
    else:
        with app.transaction() as session:
            references = session.scalars(select(Participant.reference)).all()
        for reference in references:
            assert reference not in email.body_text + email.body_html + email.subject, what

    # The command run at that moment prints the very same figure lines.
    printed = cli_output(app, email)
    for label, value in shown.items():
        assert f"- {label}{NBSP}: {value}" in printed, f"{what}: {label}"
    return summary


def called_undeclared(app: App, email: Email) -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
    """The (lot, company) pairs of the month not declared by the email's moment whose call had
    left by then: those whose due date (the ladder's) was past that day, and all of them."""
    statement = (
        select(
            DeclarationLadder.clause_id,
            DeclarationLadder.company_id,
            DeclarationLadder.due_on,
            DeclarationLadder.called_at,
        )
        .join(Clause, Clause.id == DeclarationLadder.clause_id)
        .join(Market, Market.id == Clause.market_id)
        .join(Operation, Operation.id == Market.operation_id)
        .where(DeclarationLadder.month == email.month)
    )
    if email.buyer_id is not None:
        statement = statement.where(Operation.buyer_id == email.buyer_id)
    today = email.created_at.astimezone(app.settings.zone).date()
    with app.transaction() as session:
        rows = [
            ((int(c), int(co)), due_on, called_at)
            for c, co, due_on, called_at in session.execute(statement)
            if called_at is not None and called_at <= email.created_at
        ]
        declared = {
            (c, co)
            for c, co in session.execute(
                select(Declaration.clause_id, Declaration.company_id).where(
                    Declaration.month == email.month,
                    Declaration.recorded_at <= email.created_at,
                )
            )
        }
    called = {pair for pair, _, _ in rows} - declared
    return {pair for pair, due_on, _ in rows if due_on < today} - declared, called


# --- The demo -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, lived_demo: Path) -> Iterator[App]:
    app = demo_copy(lived_demo, tmp_path_factory.mktemp("demo"))
    yield app
    app.close()


def test_every_demo_summary_email_says_what_the_data_said_then(demo: App) -> None:
    emails = summary_emails(demo)
    facilitator = [e for e in emails if e.kind == KIND_FACILITATOR]
    # March 2026 to February 2027: the first clause starts on 2 March; January and February,
    # when clauses were only being entered, have nothing to summarise and get no email.
    assert [e.month for e in facilitator] == [
        add_months(date(2026, 3, 1), i) for i in range(12)
    ] and len(emails) > 30
    with_hours = 0
    for email in emails:
        summary = check_email(demo, email, ladders=True)
        # At the very moment: after the last reminder of the month, never before.
        assert email.created_at == summary_due_at(email.month, summary_timing(demo.settings))
        if summary.overall.declarations.expected:
            with_hours += 1
            assert summary.overall.progress.hours_month > 0 or summary.overall.declarations.missing
    assert with_hours >= 12
    # The months the user saw at 0 h now carry their hours.
    august = next(e for e in facilitator if e.month == date(2026, 8, 1))
    assert "Heures réalisées dans le mois\u00a0: 365,50\u00a0h" in august.body_text


def test_the_demo_cumulated_hours_never_lose_the_past(demo: App) -> None:
    end = datetime(2027, 4, 1, tzinfo=UTC)
    with demo.transaction() as session:
        buyers = [None, *session.scalars(select(Operation.buyer_id).distinct()).all()]
    for buyer in buyers:
        previous: MonthlySummary | None = None
        month = date(2026, 1, 1)
        while month <= date(2027, 2, 1):
            summary = compile_for(demo, month, buyer_id=buyer, now=end)
            progress = summary.overall.progress
            where = f"{month:%Y-%m} buyer {buyer}"
            assert progress.hours_cumulated == sum(m.hours for m in summary.hours_by_month), where
            if summary.hours_by_month:
                assert summary.hours_by_month[-1].month == month, where
                assert summary.hours_by_month[-1].hours == progress.hours_month, where
            if previous is not None:
                before = previous.overall
                assert progress.hours_cumulated == (
                    before.progress.hours_cumulated + progress.hours_month
                ), where
                assert progress.hours_target >= before.progress.hours_target, where
                assert summary.overall.participants.cumulated >= before.participants.cumulated
                for now_count, then_count in zip(
                    summary.overall.outcomes_by_type, before.outcomes_by_type, strict=True
                ):
                    assert now_count.cumulated == then_count.cumulated + now_count.month, where
            previous = summary
            month = add_months(month, 1)


# --- A small territory built by hand, with a late declaration -------------------------------------


def test_every_summary_email_of_a_small_territory_says_what_was_known_then(app: App) -> None:
    with app.transaction() as session:
        data = summary_dataset.build(session)
        summary_dataset.move_on(session, data)
    timing = summary_timing(app.settings)
    march_sent = summary_due_at(date(2026, 3, 1), timing)
    assert queue_monthly_summaries(app, march_sent) > 0  # January to March, caught up at once
    april_sent = summary_due_at(date(2026, 4, 1), timing)
    assert queue_monthly_summaries(app, april_sent) > 0
    # Bâtir Gascogne's April arrives a week after April's summary, before May's.
    with app.transaction() as session:
        clause = session.get_one(Clause, data.clauses["c1"])
        company = clause.parties[0].company_id
        session.add(
            Declaration(
                clause_id=clause.id, company_id=company, month=date(2026, 4, 1),
                total_hours=Decimal("51.25"), recorded_at=april_sent + timedelta(days=7),
                recorded_by="test",
            )
        )  # fmt: skip
    assert queue_monthly_summaries(app, summary_due_at(date(2026, 5, 1), timing)) > 0
    emails = summary_emails(app)
    assert {e.kind for e in emails} == {KIND_FACILITATOR, KIND_BUYER}
    for email in emails:
        check_email(app, email, ladders=False)
    april = next(e for e in emails if e.key == "summary:2026-04:facilitator")
    may = next(e for e in emails if e.key == "summary:2026-05:facilitator")
    # April's email said what was missing then; May's cumulated hours have the late April.
    assert (
        "Bâtir Gascogne (2025-001 lot 1"
        in figure_lines(april.body_text)["Déclarations d'avril 2026"]
    )
    april_cumul = number(
        figure_lines(april.body_text)["Heures cumulées depuis le début"].split(" sur ")[0]
    )
    may_cumul = number(
        figure_lines(may.body_text)["Heures cumulées depuis le début"].split(" sur ")[0]
    )
    may_month = number(figure_lines(may.body_text)["Heures réalisées dans le mois"])
    assert may_cumul == april_cumul + Decimal("51.25") + may_month


def test_the_demo_alerts_no_buyer_before_the_call_and_reminders(demo: App) -> None:
    """The demo's whole outbox keeps the ladder's order: for every lot, company and month, the
    call, then each reminder, then the alert, each at its place in the calendar."""
    from tests.integration.ladder_invariants import ladder_violations

    with demo.transaction() as session:
        assert ladder_violations(session, demo.settings) == []
        escalations = session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.kind == "declaration_escalation")
        )
    # The demo has a company that never declares: the rule is exercised, not vacuous.
    assert escalations


# --- A late start: the catch-up call gives the past months a due date days ahead -------------


def test_a_late_start_s_summaries_call_late_only_what_is_past_its_catch_up_due_date(
    app: App,
) -> None:
    """A lot working since 1 September, entered and started on Wednesday 2 December 2026: the
    service asks its two companies for September to November in one catch-up call the next
    working day, with a new due date. No summary leaves before that due date was given (at the
    first pass, October's would have named both companies « pas encore due », pace « en
    retard »): November's leaves the summary delay after it, with the cumulated figures. The
    holder declares its three months on 9 December, its co-contractor never. For every summary
    email in the outbox the months called late had their call before it and a due date (the
    ladder's) before it, and the email says what ``clauses summary`` prints at that moment."""
    zone = app.settings.zone
    started = at_local(date(2026, 12, 2), time(8), zone)
    lot = make_lot(
        app,
        start=date(2026, 9, 1),
        end=date(2027, 6, 30),
        companies=("Bâtiments Test", "Peintures Test"),
        at=started,
    )
    declared_at = at_local(date(2026, 12, 9), time(10), zone)
    actions = [
        TimedAction(
            declared_at,
            f"déclaration de {month:%m/%Y}",
            lambda app, at, month=month: declare(app, lot, month, at),
        )
        for month in (date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1))
    ]
    simulate(app, date(2026, 12, 2), date(2027, 1, 22), actions=actions, dispatch=False)

    emails = summary_emails(app)
    assert {e.month for e in emails} == {date(2026, m, 1) for m in (11, 12)}
    checked = {e.key: check_email(app, e, ladders=True) for e in emails}

    # October, as ``clauses summary`` gives it on 2 December, the morning before the catch-up
    # call: both companies are expected, none is late; each is named with its call to come, in
    # the buyer's summary as in the facilitator's, and no pace is judged.
    october = compile_for(app, date(2026, 10, 1), buyer_id=lot.buyer_id, now=started)
    declarations = october.overall.declarations
    assert (declarations.expected, declarations.missing, len(declarations.pending)) == (2, (), 2)
    said = dict(summary_figure_lines(october))["Déclarations d'octobre 2026"]
    assert said.startswith("0 reçue sur 2 attendues ; 2 pas encore dues : Bâtiments Test (")
    assert "appel prévu le 3 décembre 2026" in said and "manquante" not in said
    assert "Rythme à fin octobre 2026" not in dict(summary_figure_lines(october))
    # On 24 December, November's: the catch-up call's due date is past; the holder declared.
    november = checked["summary:2026-11:facilitator"].overall.declarations
    assert [m.company for m in november.missing] == ["Peintures Test"]
    assert (november.received, november.pending) == (1, ())


# --- Active participants: one rule for the summaries and the annual report -------------------


def first_year_parts(app: App, year: int, now: datetime) -> tuple[int, dict[str, int], int]:
    """The year's monthly summaries added up: the participants new in each month (each counted
    once, in the month of their first hours), by criterion; and the most active in a month."""
    new, by_criterion, most = 0, dict[str, int](), 0
    for month in (date(year, m, 1) for m in range(1, 13)):
        figures = compile_for(app, month, now=now).overall
        new += figures.participants.new
        most = max(most, figures.participants.active)
        for count in figures.by_criterion:
            by_criterion[count.code] = by_criterion.get(count.code, 0) + count.new
    return new, {k: v for k, v in by_criterion.items() if v}, most


def annual(app: App, year: int, now: datetime) -> AnnualReport:
    with app.transaction() as session:
        return compile_annual_report(session, year, now=now, zone=app.settings.zone)


def test_the_sample_import_s_participant_at_zero_hours_is_active_nowhere(app: App) -> None:
    """The sample declaration: four participants in October 2026, one of them at 0 h. Neither
    the monthly summary nor the annual report counts that one: 3 and 3 (the summary said 4)."""
    handlers, app.handlers = app.handlers, {}
    start_sample(app)
    app.handlers = handlers
    import_file(app)
    now = datetime(2026, 12, 1, 9, tzinfo=UTC)
    october = compile_for(app, date(2026, 10, 1), now=now).overall
    people = october.participants
    assert (people.active, people.new, people.cumulated) == (3, 3, 3)
    criteria = {c.code: c.active for c in october.by_criterion if c.active}
    assert criteria == {"long_term_jobseeker": 1, "minimum_income": 1, "young_low_qualified": 1}
    # As the facilitator reads it (the email and ``clauses summary`` print these lines).
    printed = dict(summary_figure_lines(compile_for(app, date(2026, 10, 1), now=now)))
    assert printed["Participants actifs dans le mois"] == "3, dont 3 nouveaux (3 depuis le début)"
    report = annual(app, 2026, now)
    assert report.participants == people.active == 3
    # The sum of the parts: the year's participants are those active in its months' summaries.
    assert first_year_parts(app, 2026, now)[:2] == (
        report.participants,
        {line.code: int(line.value) for line in report.participants_by_criterion if line.value},
    )


def test_the_demo_s_annual_participants_are_the_sum_of_its_monthly_summaries(demo: App) -> None:
    """Over the demo's first year, every participant of the annual report is counted new in
    exactly one monthly summary (the month of their first hours), by criterion too; in its
    second, the year's participants are at least the busiest month's active ones and at most
    the months' active ones added up."""
    end = datetime(2027, 4, 1, tzinfo=UTC)
    report = annual(demo, 2026, end)
    new, by_criterion, most = first_year_parts(demo, 2026, end)
    assert report.participants > 0
    assert (new, by_criterion) == (
        report.participants,
        {line.code: int(line.value) for line in report.participants_by_criterion if line.value},
    )
    assert most <= report.participants
    following = annual(demo, 2027, end)
    months = [compile_for(demo, date(2027, m, 1), now=end).overall for m in range(1, 13)]
    active = [f.participants.active for f in months]
    assert max(active) <= following.participants <= sum(active)


def test_the_demo_s_annual_report_says_what_december_s_summary_says(demo: App) -> None:
    """The annual report of 2026 and December 2026's summary, compiled at the same moment (in
    January and at the demo's end), for the territory and each buyer: the same stages at the end
    of the year, and the year's hours are the sum of December's « heures par mois » for 2026 (the
    demo begins in 2026); the report's hours by buyer add up to its total."""
    for moment in (datetime(2027, 1, 20, 9, tzinfo=UTC), datetime(2027, 4, 1, tzinfo=UTC)):
        december = compile_for(demo, date(2026, 12, 1), now=moment)
        report = annual(demo, 2026, moment)
        assert report.hours > 0
        assert sum(line.value for line in report.hours_by_buyer) == report.hours
        scopes = [(None, december)] + [
            (b.buyer_id, compile_for(demo, date(2026, 12, 1), buyer_id=b.buyer_id, now=moment))
            for b in december.buyers
        ]
        for buyer_id, summary in scopes:
            with demo.transaction() as session:
                mine = compile_annual_report(
                    session, 2026, buyer_id=buyer_id, now=moment, zone=demo.settings.zone
                )
            yearly = {line.code: line.value for line in mine.clauses_by_stage if line.value}
            monthly = {s.code: s.clauses for s in summary.overall.clauses_by_stage if s.clauses}
            assert yearly == monthly, (moment, buyer_id)
            if moment.year == 2027 and moment.month == 4:
                # The report reads every declaration recorded (it has no ``--now``): its hours
                # are compared at the demo's end, when all of them are.
                months = sum(h.hours for h in summary.hours_by_month if h.month.year == 2026)
                assert mine.hours == months, (moment, buyer_id)
