"""The facilitator's task digest on both backends: items, their order, and when it is sent."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import click
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import Clock, make_settings
from tests.integration.test_dashboard import sign_in
from workflow.adapters.orm import (
    AwardParty,
    Buyer,
    BuyerContact,
    Clause,
    Company,
    Correspondent,
    Declaration,
    DeclarationLadder,
    DeclarationLine,
    HeldNotice,
    Market,
    Operation,
    OutboxMessage,
    Participant,
)
from workflow.app import web_accounts
from workflow.bootstrap import App, bootstrap
from workflow.domain.calendar import at_local
from workflow.domain.stages import (
    FINAL_STAGES,
    TRANSITIONS,
    Stage,
    allowed_events,
    parse_event,
)
from workflow.emails.digest import Category, WebActionKind
from workflow.entrypoints.cli import cli
from workflow.entrypoints.web.site import create_site
from workflow.services.clauses import PARAMETER_STAGES
from workflow.services.declarations import declaration_problems
from workflow.services.digest import compile_digest, queue_daily_digest
from workflow.services.outbox_corrections import cancel_email

# Monday 30 March 2026, 08:00 in Paris: the first working day in summer time (CEST, UTC+2).
NOW = datetime(2026, 3, 30, 6, 0, tzinfo=UTC)
TODAY = date(2026, 3, 30)
T0 = datetime(2025, 9, 1, 8, 0, tzinfo=UTC)


@dataclass
class Built:
    clauses: dict[str, int]
    emails: dict[str, int]


def spaces(text: str) -> str:
    """French formatting puts non-breaking spaces in numbers; compare with plain ones."""
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def _clause(market: Market, lot: str, stage: str, since: datetime, **values: object) -> Clause:
    return Clause(
        market=market,
        lot_number=lot,
        lot_title=f"Lot {lot}",
        stage=stage,
        version=1,
        stage_changed_at=since,
        created_at=T0,
        **values,
    )


def _email(key: str, state: str, **values: object) -> OutboxMessage:
    return OutboxMessage(
        key=key,
        kind="declaration_call",
        recipients="Jean Dupont <jean@example.org>",
        subject=f"Sujet {key}",
        body_text="",
        body_html="",
        state=state,
        attempts=5,
        next_attempt_at=None,
        created_at=T0,
        **values,
    )


def build(app: App) -> Built:
    with app.transaction() as session:
        buyer = Buyer(name="Département du Gers", created_at=T0)
        # Reachable: a buyer without a contact is a task of its own (tested below).
        buyer.contacts.append(BuyerContact(name="Service marchés", email="marches@gers.example.fr"))
        market = Market(
            operation=Operation(buyer=buyer, name="Collège", created_at=T0), reference="2025-001"
        )
        session.add(market)
        late = _clause(
            market, "1", "execution", T0, hours_computed=900,
            start_date=date(2025, 10, 1), planned_end_date=date(2026, 12, 31),
        )  # fmt: skip
        on_time = _clause(
            market, "2", "execution", T0, hours_computed=900,
            start_date=date(2025, 10, 1), planned_end_date=date(2026, 12, 31),
        )  # fmt: skip
        behind = _clause(
            market, "3", "execution", T0, hours_computed=1000,
            start_date=date(2025, 10, 1), planned_end_date=TODAY + timedelta(days=20),
        )  # fmt: skip
        on_pace = _clause(
            market, "4", "execution", T0, hours_computed=1000,
            start_date=date(2025, 10, 1), planned_end_date=TODAY + timedelta(days=20),
        )  # fmt: skip
        ending_later = _clause(
            market, "5", "execution", T0, hours_computed=1000,
            start_date=date(2025, 10, 1), planned_end_date=TODAY + timedelta(days=31),
        )  # fmt: skip
        drafting = _clause(market, "6", "drafting", NOW - timedelta(days=100))
        fresh = _clause(market, "7", "identification", NOW - timedelta(days=10))
        award = _clause(market, "8", "award", NOW - timedelta(days=5), hours_computed=300)
        report = _clause(market, "9", "follow_up", NOW - timedelta(days=20), end_date=TODAY)
        reported = _clause(market, "10", "follow_up", NOW - timedelta(days=20), final_report_at=NOW)
        clauses = {
            "late": late, "on_time": on_time, "behind": behind, "on_pace": on_pace,
            "ending_later": ending_later, "drafting": drafting, "fresh": fresh, "award": award,
            "report": report, "reported": reported,
        }  # fmt: skip
        session.add_all(clauses.values())
        company = Company(name="Bâtir Gascogne", created_at=T0)
        other = Company(name="Routes du Sud", created_at=T0)
        session.add_all([company, other])
        session.flush()
        person = Correspondent(
            company=company, name="Jean Dupont", email="jean@example.org", phone="05 62 00 00 01"
        )
        session.add(person)
        session.flush()
        session.add(
            AwardParty(
                clause_id=late.id, company_id=company.id, role="holder", correspondent_id=person.id
            )
        )

        def ladder(clause: Clause, who: Company, month: date, due: date, **values: object) -> None:
            session.add(
                DeclarationLadder(
                    clause_id=clause.id, company_id=who.id, month=month, due_on=due, **values
                )
            )

        ladder(
            late, company, date(2026, 1, 1), date(2026, 2, 10),
            next_step="done", next_step_at=None, escalated_at=datetime(2026, 3, 3, 8, tzinfo=UTC),
        )  # fmt: skip
        ladder(
            late, company, date(2026, 2, 1), date(2026, 3, 10),
            next_step="reminder_2", next_step_at=datetime(2026, 3, 19, 8, tzinfo=UTC),
        )  # fmt: skip
        # What January's ladder really sent: its second reminder never left (skipped by an
        # older version of the service), which the digest must say rather than « envoyée ».
        for step, kind, sent_on in (
            ("call", "declaration_call", datetime(2026, 2, 2, 8, tzinfo=UTC)),
            ("reminder_1", "declaration_reminder", datetime(2026, 2, 13, 8, tzinfo=UTC)),
            ("escalation", "declaration_escalation", datetime(2026, 3, 3, 8, tzinfo=UTC)),
        ):
            session.add(
                OutboxMessage(
                    key=f"reminder:{late.id}:{company.id}:2026-01:{step}", kind=kind,
                    clause_id=late.id, recipients="Jean Dupont <jean@example.org>",
                    subject=step, body_text="", body_html="", state="sent", attempts=1,
                    created_at=sent_on, sent_at=sent_on,
                )
            )  # fmt: skip
        ladder(
            on_time, other, date(2026, 2, 1), date(2026, 3, 10),
            next_step="done", next_step_at=None, declared_at=datetime(2026, 3, 9, tzinfo=UTC),
        )  # fmt: skip
        ladder(
            on_time, other, date(2026, 3, 1), TODAY,
            next_step="call", next_step_at=None,
        )  # due today: not late yet  # fmt: skip

        for clause, hours in ((behind, "100"), (on_pace, "950"), (ending_later, "0")):
            session.add(
                Declaration(
                    clause_id=clause.id, company_id=other.id, month=date(2026, 2, 1),
                    total_hours=Decimal(hours), recorded_at=T0, recorded_by="test",
                )
            )  # fmt: skip
        failed = _email("a", "failed", last_error="550 boîte inconnue")
        dead = _email(
            "b", "dead", last_error="Abandon après 5 tentatives",
            refused_recipients="jean@example.org",
        )  # fmt: skip
        session.add_all([failed, dead, _email("c", "sent"), _email("d", "pending")])
        session.flush()
        return Built(
            clauses={name: c.id for name, c in clauses.items()},
            emails={"failed": failed.id, "dead": dead.id},
        )


def test_it_lists_what_needs_the_facilitator_most_urgent_first(app: App) -> None:
    built = build(app)
    with app.transaction() as session:
        digest = compile_digest(session, NOW, app.settings)
    assert digest.day == TODAY and digest.working_day
    assert [(i.category, i.clause_id) for i in digest.items] == [
        (Category.EMAIL, None),  # dead: nothing will retry it
        (Category.EMAIL, None),
        (Category.DECLARATION, built.clauses["late"]),
        (Category.PACE, built.clauses["behind"]),
        (Category.AWARD, built.clauses["award"]),
        (Category.FINAL_REPORT, built.clauses["report"]),
        (Category.WAITING, built.clauses["drafting"]),
    ]
    dead, failed, declaration, pace, award, report, waiting = (
        replace(i, title=spaces(i.title), detail=spaces(i.detail), action=spaces(i.action))
        for i in digest.items
    )
    assert f"(clauses mail retry {built.emails['dead']})" in dead.action
    assert "adresses refusées : jean@example.org" in dead.detail
    assert "550 boîte inconnue" in failed.detail
    assert "janvier et février 2026" in declaration.title
    assert "Bâtir Gascogne" in declaration.title
    # Due on 10 February: 34 working days to Monday 30 March, as the alert counts them (48
    # calendar days).
    assert "(34 jours ouvrés de retard)" in declaration.detail
    assert declaration.days == 34
    assert declaration.detail.endswith(
        "appel à déclaration envoyé le 2 février 2026 ; rappel n° 1 envoyé le 13 février 2026 ; "
        "rappel n° 2 sauté, non envoyé ; alerte au donneur d'ordre envoyée le 3 mars 2026."
    )
    assert "Jean Dupont, jean@example.org, 05 62 00 00 01" in declaration.action
    assert "dans 20 jours" in pace.title
    # Like with like: February is the last month due on 30 March, its end 75 % of the time.
    assert pace.detail == (
        "100 h déclarées jusqu'à fin février 2026 (dernier mois dû) sur 1 000 h prévues (10 % "
        "de l'objectif pour 75 % du temps écoulé à fin février 2026) ; reste 900 h."
    )
    assert "titulaire" in award.detail and "date de démarrage" in award.detail
    assert f"clauses clause advance {built.clauses['report']} cloturer" in report.action
    assert "depuis 100 jours (seuil : 90 jours)" in waiting.detail.lower()


def test_a_cancelled_step_email_is_said_cancelled_and_not_counted_as_undelivered(
    app: App,
) -> None:
    """A reminder the facilitator took back (``clauses mail cancel``) never left: the ladder says
    so, and the email is not one of the « courriels non distribués »."""
    built = build(app)
    with app.transaction() as session:
        reminder = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "declaration_reminder")
        ).one()
        reminder.state, reminder.sent_at = "pending", None
        session.flush()
        cancel_email(session, reminder.id, actor="Camille Martin", reason="doublon", now=NOW)
        cancel_email(
            session, built.emails["failed"], actor="Camille Martin", reason="doublon", now=NOW
        )
        digest = compile_digest(session, NOW, app.settings)

    [declaration] = [i for i in digest.items if i.category == Category.DECLARATION]
    assert spaces(declaration.detail).endswith(
        "appel à déclaration envoyé le 2 février 2026 ; rappel n° 1 annulé, non envoyé ; "
        "rappel n° 2 sauté, non envoyé ; alerte au donneur d'ordre envoyée le 3 mars 2026."
    )
    emails = [i for i in digest.items if i.category == Category.EMAIL]
    assert len(emails) == 1  # the abandoned one; the cancelled refusal is gone
    assert f"clauses mail retry {built.emails['dead']}" in emails[0].action


def test_it_queues_one_digest_on_a_working_day_at_its_hour(app: App) -> None:
    build(app)
    assert queue_daily_digest(app, NOW - timedelta(minutes=1)) == 0  # 07:59 in Paris
    assert queue_daily_digest(app, NOW) == 1
    assert queue_daily_digest(app, NOW + timedelta(hours=3)) == 0
    with app.transaction() as session:
        messages = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "facilitator_digest")
        ).all()
        assert [m.key for m in messages] == ["digest:2026-03-30"]
        message = messages[0]
        assert message.recipients == "Camille Martin <camille.martin@example.org>"
        assert "30 mars 2026" in message.subject and "7 points" in message.subject
        text = message.body_text
        assert text.index("Courriels non distribués") < text.index("Déclarations d'heures")
        assert "Bilans à envoyer" in message.body_html


@pytest.mark.parametrize(
    "day",
    [
        datetime(2026, 3, 28, 9, 0, tzinfo=UTC),  # a Saturday
        datetime(2026, 5, 1, 9, 0, tzinfo=UTC),  # Labour Day, a Friday
        datetime(2026, 4, 6, 9, 0, tzinfo=UTC),  # Easter Monday
    ],
)
def test_it_sends_no_digest_on_weekends_and_holidays(app: App, day: datetime) -> None:
    build(app)
    assert queue_daily_digest(app, day) == 0
    with app.transaction() as session:
        assert (
            session.scalars(
                select(OutboxMessage.key).where(OutboxMessage.kind == "facilitator_digest")
            ).all()
            == []
        )


def test_it_sends_nothing_when_there_is_nothing_to_do(app: App) -> None:
    with app.transaction() as session:
        assert compile_digest(session, NOW, app.settings).items == ()
    assert queue_daily_digest(app, NOW) == 0
    with app.transaction() as session:
        assert session.scalars(select(OutboxMessage.key)).all() == []


def test_it_does_not_back_fill_missed_days(app: App) -> None:
    build(app)
    # Down on Monday, back on Tuesday at noon: only Tuesday's digest.
    assert queue_daily_digest(app, datetime(2026, 3, 31, 10, 0, tzinfo=UTC)) == 1
    with app.transaction() as session:
        keys = session.scalars(
            select(OutboxMessage.key).where(OutboxMessage.kind == "facilitator_digest")
        ).all()
    assert keys == ["digest:2026-03-31"]


def test_it_reads_the_digest_hour_in_winter_time_too(app: App) -> None:
    build(app)
    # Friday 27 March 2026, still winter time (CET, UTC+1): 08:00 local is 07:00 UTC.
    assert queue_daily_digest(app, datetime(2026, 3, 27, 6, 59, tzinfo=UTC)) == 0
    assert queue_daily_digest(app, datetime(2026, 3, 27, 7, 0, tzinfo=UTC)) == 1


# --- wording -------------------------------------------------------------------------------------


def one_late_lot(app: App, months: list[date], due: date) -> int:
    """A lot in execution whose holder has not declared ``months``; the oldest is due on ``due``."""
    with app.transaction() as session:
        market = Market(
            operation=Operation(
                buyer=Buyer(
                    name="Ville d'Auch",
                    created_at=T0,
                    contacts=[BuyerContact(name="Voirie", email="voirie@auch.example.fr")],
                ),
                name="Voirie",
                created_at=T0,
            ),
            reference="2025-002",
        )
        clause = _clause(
            market, "1", "execution", T0, hours_computed=500,
            start_date=date(2025, 1, 6), planned_end_date=date(2026, 12, 31),
        )  # fmt: skip
        company = Company(name="Routes du Gers", created_at=T0)
        session.add_all([clause, company])
        session.flush()
        session.add(AwardParty(clause_id=clause.id, company_id=company.id, role="holder"))
        for index, month in enumerate(sorted(months)):
            session.add(
                DeclarationLadder(
                    clause_id=clause.id, company_id=company.id, month=month,
                    due_on=due + timedelta(days=index),
                    next_step="escalation", next_step_at=NOW + timedelta(days=3),
                )
            )  # fmt: skip
        return clause.id


@pytest.mark.parametrize(
    ("months", "words"),
    [
        ([date(2025, 4, 1)], "heures d'avril 2025 non déclarées"),
        ([date(2025, 8, 1)], "heures d'août 2025 non déclarées"),
        ([date(2025, 10, 1)], "heures d'octobre 2025 non déclarées"),
        ([date(2025, 3, 1)], "heures de mars 2025 non déclarées"),
        ([date(2025, 4, 1), date(2025, 5, 1)], "heures d'avril et mai 2025 non déclarées"),
        ([date(2025, 9, 1), date(2025, 10, 1)], "heures de septembre et octobre 2025"),
    ],
)
def test_it_elides_de_before_a_month_that_starts_with_a_vowel(
    app: App, months: list[date], words: str
) -> None:
    one_late_lot(app, months, due=TODAY - timedelta(days=3))
    with app.transaction() as session:
        [item] = compile_digest(session, NOW, app.settings).items
    assert words in item.title
    assert "de avril" not in item.title and "de août" not in item.title


@pytest.mark.parametrize(
    ("due", "words"),
    [
        # Friday to Monday 30 March: one working day, though three calendar days.
        (date(2026, 3, 27), "(1 jour ouvré de retard)"),
        (date(2026, 3, 26), "(2 jours ouvrés de retard)"),
    ],
)
def test_it_counts_working_days_late_and_says_jour_in_the_singular_for_one(
    app: App, due: date, words: str
) -> None:
    one_late_lot(app, [date(2026, 2, 1)], due=due)
    with app.transaction() as session:
        [item] = compile_digest(session, NOW, app.settings).items
    assert words in item.detail


def test_it_suggests_recording_the_award_then_the_report_before_closing(app: App) -> None:
    built = build(app)
    with app.transaction() as session:
        items = {i.category: i for i in compile_digest(session, NOW, app.settings).items}
    award, report = items[Category.AWARD].action, items[Category.FINAL_REPORT].action
    award_id, report_id = built.clauses["award"], built.clauses["report"]
    assert f"clauses clause award {award_id} --company ENTREPRISE --correspondent" in award
    assert award.index("clause award") < award.index(f"clause advance {award_id} demarrer")
    assert "attribuée depuis 5 jours" in items[Category.AWARD].detail
    assert f"clauses clause report {report_id} --file bilan.txt" in report
    assert report.index("clause report") < report.index(f"clause advance {report_id} cloturer")


# --- every suggested command exists and suits the clause's stage ---------------------------------

COMMAND = re.compile(r"clauses ([^;)]+)")


def suggested(action: str) -> list[list[str]]:
    return [shlex.split(found.group(1)) for found in COMMAND.finditer(action)]


def resolve(tokens: list[str]) -> tuple[list[str], click.Command, list[str], dict[str, str]]:
    """The command's path, the click command, its positional values and its options."""
    command: click.Command = cli
    path: list[str] = []
    rest = list(tokens)
    while isinstance(command, click.Group) and rest and rest[0] in command.commands:
        path.append(rest[0])
        command = command.commands[rest.pop(0)]
    options = {opt: p for p in command.params for opt in p.opts if isinstance(p, click.Option)}
    positional: list[str] = []
    given: dict[str, str] = {}
    while rest:
        token = rest.pop(0)
        if token.startswith("--"):
            assert token in options, f"{' '.join(path)} has no option {token}"
            given[token] = "" if options[token].is_flag else rest.pop(0)
        else:
            positional.append(token)
    arguments = [p for p in command.params if isinstance(p, click.Argument)]
    assert len(positional) == len(arguments), f"clauses {' '.join(tokens)}"
    return path, command, positional, given


def check_stage(
    session: Session,
    path: list[str],
    positional: list[str],
    given: dict[str, str],
    moved: dict[int, Stage],
) -> None:
    """The command is accepted at the clause's stage (guards aside): its stage now, or the one
    an earlier ``clause advance`` of the same action leads to (``moved``)."""
    if path[0] == "mail":
        message = session.get_one(OutboxMessage, int(positional[0]))
        assert message.state in ("failed", "dead")
        return
    if path[0] == "company":
        return
    if path == ["participant", "validate"]:
        participant = session.scalar(
            select(Participant).where(Participant.reference == positional[0])
        )
        assert participant is not None and participant.validated_on is None
        return
    number = positional[0] if path[0] == "clause" else given["--clause"]
    clause = session.get_one(Clause, int(number))
    stage = moved.get(clause.id, Stage(clause.stage))
    verb = path[1]
    if path == ["clause", "advance"]:
        event = parse_event(positional[1])
        assert event in allowed_events(stage), (clause.id, stage)
        moved[clause.id] = TRANSITIONS[(stage, event)][0]
    elif path == ["clause", "award"]:
        assert stage is Stage.AWARD
    elif path == ["clause", "report"]:
        assert stage is Stage.FOLLOW_UP
    elif path == ["clause", "figures"]:
        assert stage in PARAMETER_STAGES
    elif path == ["clause", "hours"]:
        assert stage not in FINAL_STAGES
    elif path == ["declaration", "zero"]:
        company = session.get_one(Company, int(given["--company"]))
        month = datetime.strptime(given["--month"], "%m/%Y").date()
        assert declaration_problems(session, clause, company, month, now=NOW) == []
    elif path == ["declaration", "import"]:
        assert stage in (Stage.EXECUTION, Stage.SUSPENDED, Stage.FOLLOW_UP)
    else:
        assert verb == "show", path


def test_every_suggested_command_exists_and_suits_the_stage(
    tmp_path: Path, database_url: str, clock: Clock
) -> None:
    waits = {s: 1 for s in ("identification", "drafting", "award", "execution", "follow_up")}
    settings = make_settings(tmp_path, database_url, stage_wait_days={**waits, "suspended": 1})
    app = bootstrap(settings, clock=clock)
    try:
        build(app)
        with app.transaction() as session:
            market = session.scalars(select(Market)).first()
            assert market is not None
            session.add(_clause(market, "11", "suspended", T0, hours_computed=100))
        with app.transaction() as session:
            digest = compile_digest(session, NOW, app.settings)
            seen = set()
            for item in digest.items:
                commands = suggested(item.action)
                assert commands, item.action
                moved: dict[int, Stage] = {}
                for tokens in commands:
                    path, _, positional, given = resolve(tokens)
                    check_stage(session, path, positional, given, moved)
                    seen.add(" ".join(path))
    finally:
        app.close()
    assert {
        "mail retry", "declaration zero", "declaration import", "clause hours", "clause award",
        "clause advance", "clause report", "clause figures", "company correspondent-add",
    } <= seen  # fmt: skip


def test_it_asks_to_check_eligibility_of_participants_with_hours(app: App) -> None:
    built = build(app)
    clause_id = built.clauses["behind"]
    with app.transaction() as session:
        declaration = session.scalars(
            select(Declaration).where(Declaration.clause_id == clause_id)
        ).one()
        people = {
            reference: Participant(
                reference=reference, criterion="long_term_jobseeker", created_at=T0,
                validated_on=date(2026, 1, 5) if reference == "P-OK" else None,
            )
            for reference in ("P-OK", "P-2", "P-1", "P-ZERO")
        }  # fmt: skip
        session.add_all(people.values())
        session.flush()
        for reference, hours in (("P-OK", 35), ("P-2", 20), ("P-1", 45), ("P-ZERO", 0)):
            session.add(
                DeclarationLine(
                    declaration_id=declaration.id, participant_id=people[reference].id,
                    hours=Decimal(hours), delivery_mode="direct_hiring", contract_type="cdd",
                )
            )  # fmt: skip
    with app.transaction() as session:
        digest = compile_digest(session, NOW, app.settings)
        items = [i for i in digest.items if i.category is Category.ELIGIBILITY]
        assert len(items) == 1 and items[0].clause_id == clause_id
        assert items[0].title.startswith("Éligibilité à vérifier : 2 participants, clause n° ")
        assert items[0].detail == "Heures déclarées sans justificatif validé : P-1, P-2."
        [tokens] = suggested(items[0].action)
        path, _, positional, given = resolve(tokens)
        check_stage(session, path, positional, given, {})
    order = [i.category for i in digest.items]
    assert order.index(Category.FINAL_REPORT) < order.index(Category.ELIGIBILITY)
    assert order.index(Category.ELIGIBILITY) < order.index(Category.WAITING)


def test_a_report_due_for_a_clause_finished_later_than_now_never_counts_negative_days(
    app: App,
) -> None:
    """A finish recorded with a later moment (a clock put back, a moment given by hand): the
    task says « aujourd'hui », never « depuis -86 jour »."""
    built = build(app)
    with app.transaction() as session:
        digest = compile_digest(session, NOW - timedelta(days=30), app.settings)
    [report] = [i for i in digest.items if i.clause_id == built.clauses["report"]]
    assert report.detail.startswith("Achevée aujourd'hui") and report.weight == 0


def test_days_since_are_calendar_days_the_same_at_eight_and_at_six_pm(app: App) -> None:
    """Finished on 10 March at 10:00 in Paris: on 30 March that is 20 days, in the 08:00 digest
    (19 days and 22 hours of elapsed time) as on the dashboard at 18:00."""
    built = build(app)
    with app.transaction() as session:
        clause = session.get_one(Clause, built.clauses["report"])
        clause.stage_changed_at = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
        clause.end_date = None  # loaded by hand without an end: counted from its stage change
    said = []
    for moment in (NOW, NOW + timedelta(hours=10)):
        with app.transaction() as session:
            items = {i.category: i for i in compile_digest(session, moment, app.settings).items}
        said.append(items[Category.FINAL_REPORT].detail)
    assert said[0] == said[1] and said[0].startswith("Achevée depuis 20 jours")


def test_days_since_count_from_the_end_of_execution_not_from_its_recording(app: App) -> None:
    """User trial: works ended on 10 March, the end recorded on 25 March: on 30 March the
    digest read « Achevée depuis 5 jours (fin d'exécution le 10 mars 2026) », contradicting
    its own date, and ranked the lot below those ended after it. It is 20 days, from the end."""
    built = build(app)
    with app.transaction() as session:
        clause = session.get_one(Clause, built.clauses["report"])
        clause.end_date = date(2026, 3, 10)
        clause.stage_changed_at = datetime(2026, 3, 25, 9, 0, tzinfo=UTC)
    with app.transaction() as session:
        items = {i.category: i for i in compile_digest(session, NOW, app.settings).items}
    report = items[Category.FINAL_REPORT]
    assert report.detail == (
        "Achevée depuis 20 jours (fin d'exécution le 10 mars 2026), bilan pas encore enregistré."
    )
    assert report.weight == 20


def test_a_buyer_nobody_can_write_to_is_a_task_until_it_has_a_contact(app: App) -> None:
    """Its notices and summaries are not even queued: the digest is where it shows."""
    built = build(app)
    with app.transaction() as session:
        buyer = session.scalars(select(Buyer)).one()
        in_progress = session.scalar(
            select(func.count(Clause.id)).where(Clause.stage.not_in(["closed", "abandoned"]))
        )
        for contact in list(buyer.contacts):
            contact.email = "  "  # an address left blank is no address
        buyer_id = buyer.id
    with app.transaction() as session:
        items = [
            i
            for i in compile_digest(session, NOW, app.settings).items
            if i.category == Category.NO_CONTACT
        ]
    [item] = items
    assert item.title == "Département du Gers n'a aucun contact avec une adresse e-mail"
    assert item.detail == (
        f"{in_progress} clauses en cours : aucun avis d'étape en attente pour l'instant ; ses "
        "synthèses mensuelles ne partent pas."
    )
    assert item.weight == in_progress and item.web is not None
    assert item.web.buyer_id == buyer_id and "contact-add" in item.action

    # Two notices held for one of its lots: the task counts them (they leave with a contact).
    with app.transaction() as session:
        lot = session.scalars(select(Clause).order_by(Clause.id)).first()
        assert lot is not None
        for n, kind in enumerate(("notice_identified", "notice_drafted")):
            session.add(
                HeldNotice(
                    key=f"notice:{lot.id}:{kind}:held",
                    clause_id=lot.id,
                    buyer_id=buyer_id,
                    kind=kind,
                    history_event="identify" if n == 0 else "draft",
                    cause="test",
                    held_at=NOW,
                )
            )
    with app.transaction() as session:
        [item] = [
            i
            for i in compile_digest(session, NOW, app.settings).items
            if i.category == Category.NO_CONTACT
        ]
    assert item.detail == (
        f"{in_progress} clauses en cours : 2 avis d'étape en attente (1 lot) ; le dernier de "
        "chaque lot partira dès qu'un contact avec une adresse sera enregistré ; ses synthèses "
        "mensuelles ne partent pas."
    )
    assert in_progress and built.clauses  # the scenario has lots in progress

    with app.transaction() as session:
        session.scalars(select(BuyerContact)).first().email = "marches@gers.example.fr"  # type: ignore[union-attr]
    with app.transaction() as session:
        categories = {i.category for i in compile_digest(session, NOW, app.settings).items}
    assert Category.NO_CONTACT not in categories


@pytest.mark.parametrize(("changed", "listed"), [(91, True), (90, False)])
def test_a_clause_waits_too_long_in_the_digest_and_on_the_dashboard_alike(
    app: App, changed: int, listed: bool
) -> None:
    """Drafting waits 90 days at most. Changed at 20:00 in Paris 91 (90) calendar days before
    30 March: listed (not listed) at 08:00 as at 18:30 — by the calendar, not by periods of 24
    hours, which made the 08:00 digest leave out what the dashboard showed the same evening."""
    built = build(app)
    day = TODAY - timedelta(days=changed)
    with app.transaction() as session:
        clause = session.get_one(Clause, built.clauses["drafting"])
        clause.stage_changed_at = at_local(day, time(20, 0), app.settings.zone)
    seen = []
    for moment in (NOW, NOW + timedelta(hours=10, minutes=30)):
        with app.transaction() as session:
            items = compile_digest(session, moment, app.settings).items
        seen.append([i.detail for i in items if i.clause_id == built.clauses["drafting"]])
    assert seen[0] == seen[1]
    assert bool(seen[0]) is listed
    if listed:
        assert seen[0][0].startswith("Depuis 91 jours (seuil : 90 jours)")


# --- the email with a site: its words and links -----------------------------------------------

#: A command line to type (« clauses sociales » is no command).
CLI_COMMAND = re.compile(r"\bclauses (mail|declaration|clause|participant|buyer|company|digest)\b")
SITE = "https://clauses.exemple.fr"


def _digest_email(app: App) -> OutboxMessage:
    assert queue_daily_digest(app, NOW) == 1
    with app.transaction() as session:
        return session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "facilitator_digest")
        ).one()


def test_with_a_site_the_digest_email_says_what_to_do_there_and_links_to_it(
    tmp_path: Path, database_url: str, clock: Clock
) -> None:
    """Read as the facilitator: each entry in the site's words, with the absolute address of
    the page where it is done, and the page is there (signed in, each one answers, with the
    part the link points to)."""
    waits = {s: 1 for s in ("identification", "drafting", "award", "execution", "follow_up")}
    settings = make_settings(
        tmp_path, database_url, base_url=SITE + "/", stage_wait_days={**waits, "suspended": 1}
    )
    app = bootstrap(settings, clock=clock)
    clock.set(NOW)
    try:
        built = build(app)
        with app.transaction() as session:
            buyer = session.scalars(select(Buyer)).one()
            for contact in buyer.contacts:
                contact.email = ""  # a buyer nobody can write to: its own entry
            buyer_id = buyer.id
            failed = session.scalars(
                select(OutboxMessage.id).where(OutboxMessage.subject == "Sujet a")
            ).one()
        message = _digest_email(app)
        text, page = message.body_text, message.body_html

        assert not CLI_COMMAND.search(text), CLI_COMMAND.search(text)
        assert not CLI_COMMAND.search(page)
        entries = text.count("\n* ")
        links = re.findall(r"\n  (Ouvrir [^\n]+)\u00a0: (\S+)", text)
        assert len(links) == entries and entries >= 8
        assert all(link.startswith(SITE + "/") for _, link in links)
        by_link = dict((link, label) for label, link in links)
        report = built.clauses["report"]
        assert by_link[f"{SITE}/clauses/{report}#bilan-form"] == "Ouvrir le formulaire du bilan"
        assert by_link[f"{SITE}/courriels/{failed}"] == "Ouvrir le courriel"
        assert by_link[f"{SITE}/tableau-de-bord#rubrique-declaration"] == (
            "Ouvrir le tableau de bord"
        )
        buyer_link = f"{SITE}/corrections/donneurs-d-ordre/{buyer_id}#ajout-contact"
        assert by_link[buyer_link] == "Ouvrir les contacts du donneur d'ordre"
        assert "bouton «\u00a0Enregistrer un mois sans heure\u00a0» du tableau de bord" in text
        assert f"tableau de bord\u00a0: {SITE}/tableau-de-bord\n" in text
        assert f'<a href="{SITE}/clauses/{report}#bilan-form"' in page
        assert re.search(f'<a href="{SITE}/tableau-de-bord"[^>]*>tableau de bord</a>', page)

        # Each address answers on the site, signed in, with what its fragment points to.
        web_accounts.add_user(app, login="camille", name="Camille Martin", password="x" * 16)
        client = TestClient(create_site(app), base_url=SITE)
        sign_in(client, password="x" * 16)
        for link in by_link:
            path, _, fragment = link.removeprefix(SITE).partition("#")
            answer = client.get(path)
            assert answer.status_code == 200, link
            if fragment:
                assert f'id="{fragment}"' in answer.text, link
    finally:
        app.close()


def test_without_a_site_the_digest_email_keeps_the_commands(app: App) -> None:
    """No CLAUSES_BASE_URL: whoever reads it works with the command line."""
    build(app)
    text = _digest_email(app).body_text
    assert "clauses declaration zero --clause" in text and "clauses mail retry" in text
    assert "https://" not in text and "http://" not in text and "Ouvrir " not in text
    assert text.count("\n* ") == len(re.findall("\n  À faire[ \u00a0]: [^\n]*clauses ", text))
    assert "avec : clauses digest" in text


def test_every_task_has_its_action_in_the_site_words_without_a_command(
    tmp_path: Path, database_url: str, clock: Clock
) -> None:
    """Whatever its kind and stage: the dashboard, the API and the email with a site use it."""
    waits = {s: 1 for s in ("identification", "drafting", "award", "execution", "follow_up")}
    settings = make_settings(tmp_path, database_url, stage_wait_days={**waits, "suspended": 1})
    app = bootstrap(settings, clock=clock)
    try:
        build(app)
        with app.transaction() as session:
            market = session.scalars(select(Market)).first()
            assert market is not None
            session.add(_clause(market, "11", "suspended", T0, hours_computed=100))
        with app.transaction() as session:
            items = compile_digest(session, NOW, app.settings).items
    finally:
        app.close()
    kinds = set()
    for item in items:
        assert item.web is not None and item.web.todo, item.title
        assert not CLI_COMMAND.search(item.web.todo), item.web.todo
        assert item.web.path.startswith("/"), item.web
        kinds.add(item.web.kind)
    assert len(items) >= 10 and kinds >= {
        WebActionKind.RESEND, WebActionKind.DECLARATION, WebActionKind.OPEN_CLAUSE,
        WebActionKind.FINAL_REPORT,
    }  # fmt: skip
