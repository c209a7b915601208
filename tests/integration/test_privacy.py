"""Personal data (GDPR): the export of everything held on a participant, and the purge of what is
past retention, on SQLite and PostgreSQL (``privacy_scenario``: a 2018 territory)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from tests.conftest import Clock
from tests.integration import gers_2017
from tests.integration import privacy_scenario as scenario
from tests.integration.privacy_scenario import CLOSED_ON, Built, local
from workflow.adapters.orm import (
    Base,
    Clause,
    ClauseHistory,
    OutboxAttachment,
    OutboxMessage,
    Participant,
    PrivacyPurge,
)
from workflow.bootstrap import App
from workflow.domain.privacy import Retention
from workflow.domain.stages import ClauseEvent, Stage
from workflow.domain.vocabulary import Criterion
from workflow.errors import NotFound
from workflow.services.annual_report import compile_annual_report
from workflow.services.audit import verify
from workflow.services.clauses import advance_clause, no_publish, record_final_report
from workflow.services.participants import create_participant
from workflow.services.privacy import (
    TOKEN_PREFIX,
    PurgeReport,
    export_participant,
    purge,
)
from workflow.services.privacy_mentions import attachment_text
from workflow.services.summaries import compile_for

FIVE_YEARS = Retention(60)
#: Five years and a bit after lot A closed (3 September 2018): its participants are past.
PURGE_DAY = local(date(2024, 6, 3), 9)


@pytest.fixture
def built(app: App, clock: Clock) -> Built:
    return scenario.build(app, clock)


def dump(app: App) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary key order: what « unchanged » is checked against."""
    with app.engine.connect() as conn:
        return {
            table.name: [
                tuple(row) for row in conn.execute(table.select().order_by(*table.primary_key))
            ]
            for table in Base.metadata.sorted_tables
        }


def run_purge(app: App, *, dry_run: bool = False, at: Any = PURGE_DAY) -> PurgeReport:
    return purge(app, FIVE_YEARS, at, "Camille Martin", dry_run=dry_run)


def mentions(text: str | None, reference: str) -> bool:
    return bool(text) and re.search(rf"(?<!\w){re.escape(reference)}(?!\w)", text or "") is not None


# --- export ---------------------------------------------------------------------------------------


def test_the_export_gives_everything_held_on_a_participant(app: App, built: Built) -> None:
    held = export_participant(app, "PRV-1")

    assert (held.reference, held.criterion, held.sex, held.birth_year) == (
        "PRV-1",
        "minimum_income",
        "F",
        1990,
    )
    assert (held.proof, held.validated_on) == ("attestation CAF", date(2018, 1, 15))
    assert [(line.month, line.hours) for line in held.lines] == [
        (month, 100) for month in scenario.MONTHS_A
    ]
    assert {
        (line.clause_id, line.company, line.market, line.lot_number) for line in held.lines
    } == {(built.clause_a, "Bâtiments Test", "2018-PRV", "01")}
    assert held.hours == 600
    assert [(o.type_label, o.group_label, o.on) for o in held.outcomes] == [
        ("CDI", "Emploi durable", date(2018, 7, 15))
    ]
    assert [h.reason for h in held.history] == [
        "sortie de PRV-1 : CDI (emploi durable) le 15/07/2018"
    ]
    assert [(t.clause_id, t.field, t.text) for t in held.texts] == [
        (built.clause_a, "final_report", scenario.FINAL_REPORT)
    ]
    # Six receipts naming her, and the calls whose templates list her (from March on):
    # all to the company that declared her, none to the buyer, none a digest (she is validated).
    kinds = [m.kind for m in held.mails]
    assert kinds.count("declaration_receipt") == 6
    assert kinds.count("declaration_call") >= 2
    assert set(kinds) == {"declaration_receipt", "declaration_call"}
    assert {r for m in held.mails for r in m.recipients} == {
        f"Correspondant Bâtiments Test <{scenario.COMPANY_A_CONTACT}>"
    }
    calls = [m for m in held.mails if m.kind == "declaration_call"]
    assert all(m.places == ("pièce jointe",) for m in calls)
    # Retention: five years after lot A closed, she may be purged from the day after.
    assert held.running_clauses == ()
    assert held.last_activity == scenario.CLOSED_ON
    assert held.purge_from == date(2023, 9, 4)
    assert held.purged_at is None


def test_a_reference_inside_another_is_not_taken_for_it(app: App, built: Built) -> None:
    """PRV-1 is not PRV-12: the digests name PRV-12 only, and the export of PRV-1 leaves them."""
    held_12 = export_participant(app, "PRV-12")

    assert "facilitator_digest" in {m.kind for m in held_12.mails}
    assert "facilitator_digest" not in {m.kind for m in export_participant(app, "PRV-1").mails}
    assert held_12.history == ()


def test_a_participant_on_a_running_clause_is_kept_as_long_as_it_runs(
    app: App, built: Built
) -> None:
    held = export_participant(app, "PRV-2")

    assert held.running_clauses == (built.clause_b,)
    assert held.purge_from is None
    assert {line.clause_id for line in held.lines} == {built.clause_a, built.clause_b}


def test_an_unknown_reference_is_refused_in_french(app: App, built: Built) -> None:
    with pytest.raises(NotFound, match="Aucun participant « PRV-9 »"):
        export_participant(app, "PRV-9")


# --- purge ----------------------------------------------------------------------------------------


def test_the_purge_takes_who_is_past_retention_and_no_one_else(app: App, built: Built) -> None:
    report = run_purge(app)

    assert [c.reference for c in report.candidates] == ["PRV-1", "PRV-12", "PRV-IDLE"]
    assert report.running == 2  # PRV-2 and PRV-OPEN work on lot B, still running
    assert report.purge_id is not None
    with app.transaction() as session:
        references = set(session.scalars(select(Participant.reference)))
    assert {"PRV-2", "PRV-OPEN"} <= references
    assert not {"PRV-1", "PRV-12", "PRV-IDLE"} & references
    assert len([r for r in references if r.startswith(TOKEN_PREFIX)]) == 3


def test_retention_is_counted_from_the_end_of_the_clause(app: App, built: Built) -> None:
    """Lot A closed on 3 September 2018: five years later, on the 3rd, it is not yet past; the
    participant never declared (recorded on 2 January 2018) is."""
    before = run_purge(app, dry_run=True, at=local(date(2023, 9, 3), 9))
    after = run_purge(app, dry_run=True, at=local(date(2023, 9, 4), 9))

    assert [c.reference for c in before.candidates] == ["PRV-IDLE"]
    assert [c.reference for c in after.candidates] == ["PRV-1", "PRV-12", "PRV-IDLE"]


def test_the_purge_removes_the_personal_fields_and_keeps_what_reports_count(
    app: App, built: Built
) -> None:
    with app.transaction() as session:
        ids = {
            p.reference: p.id
            for p in session.scalars(select(Participant).where(Participant.reference.like("PRV-%")))
        }

    run_purge(app)

    with app.transaction() as session:
        after = {p.id: p for p in session.scalars(select(Participant))}
        first, twelve, idle = after[ids["PRV-1"]], after[ids["PRV-12"]], after[ids["PRV-IDLE"]]
        # PRV-1, born 1990, was 26 to 49 in every year from 2018 to 2024: the year kept says
        # only that (the one nearest to 35 years old in 2018), never 1990.
        assert (first.criterion, first.sex, first.birth_year) == ("minimum_income", "F", 1983)
        assert (first.proof, first.validated_on) == ("", date(2018, 1, 1))
        # PRV-12, born 1993, turned 26 in 2019: the reports of 2018 and 2019 already tell the
        # year, which is kept.
        assert (twelve.sex, twelve.birth_year, twelve.validated_on) == ("M", 1993, None)
        # Never declared: counted nowhere, nothing of theirs is kept.
        assert (idle.sex, idle.birth_year, idle.proof, idle.validated_on) == (
            None,
            None,
            "",
            date(2018, 1, 1),
        )
        others = after[ids["PRV-2"]]
        assert (others.reference, others.birth_year, others.proof) == (
            "PRV-2",
            1965,
            "attestation France Travail",
        )


def test_the_purge_rewrites_every_mention_and_drops_the_templates(app: App, built: Built) -> None:
    run_purge(app)

    with app.transaction() as session:
        token = {
            p.id: p.reference
            for p in session.scalars(select(Participant).where(Participant.reference.like("anon%")))
        }
        reasons = [r for r in session.scalars(select(ClauseHistory.reason)) if r]
        report_text = session.get(Clause, built.clause_a).final_report  # type: ignore[union-attr]
        messages = list(session.scalars(select(OutboxMessage)))
        files = list(session.scalars(select(OutboxAttachment)))
    gone = ("PRV-1", "PRV-12", "PRV-IDLE")
    texts = [*reasons, report_text or ""]
    texts += [m.subject + m.body_text + m.body_html for m in messages]
    texts += [attachment_text(f.content) for f in files]
    assert not [t for t in texts for ref in gone if mentions(t, ref)]
    assert any(t.startswith("sortie de anonyme-") for t in reasons)
    assert report_text is not None and report_text.count(TOKEN_PREFIX) == 2
    assert set(re.findall(r"anonyme-[0-9a-f]+", report_text)) <= set(token.values())
    # Lot B's people stay named where they were: their receipts and lot B's templates.
    assert any(mentions(t, "PRV-OPEN") for t in texts)
    assert any(mentions(attachment_text(f.content), "PRV-OPEN") for f in files)
    # The digests (to the facilitator) named PRV-12 while lot A ran: by its token now. Once the
    # lot is closed they no longer ask to validate anyone of it.
    closed = local(CLOSED_ON)
    digests = [m for m in messages if m.kind == "facilitator_digest"]
    before = [m.body_text for m in digests if m.created_at < closed]
    after = [m.body_text for m in digests if m.created_at >= closed]
    assert before and all(TOKEN_PREFIX in text for text in before)
    assert after and not any(TOKEN_PREFIX in text for text in after)


def test_the_purge_writes_one_history_row_with_what_went(app: App, built: Built) -> None:
    report = run_purge(app)

    with app.transaction() as session:
        rows = list(session.scalars(select(PrivacyPurge)))
    assert len(rows) == 1
    row = rows[0]
    assert (row.id, row.actor, row.at, row.retention, row.cutoff) == (
        report.purge_id,
        "Camille Martin",
        PURGE_DAY,
        "5 ans",
        date(2019, 6, 3),
    )
    assert (row.participants, row.history_rows, row.clause_texts) == (3, 1, 1)
    assert row.messages == report.messages > 0
    assert row.attachments == report.attachments > 0
    assert row.summary.startswith("3 participants anonymisés")
    assert "PRV" not in row.summary


def test_a_second_purge_changes_nothing_and_says_so(app: App, built: Built) -> None:
    run_purge(app)
    before = dump(app)

    again = run_purge(app, at=local(date(2024, 6, 4), 9))

    assert again.candidates == ()
    assert (again.already_purged, again.running, again.purge_id) == (3, 2, None)
    assert dump(app) == before


def test_a_dry_run_changes_nothing_and_says_what_would_go(app: App, built: Built) -> None:
    before = dump(app)

    report = run_purge(app, dry_run=True)

    assert dump(app) == before
    assert [c.reference for c in report.candidates] == ["PRV-1", "PRV-12", "PRV-IDLE"]
    assert report.purge_id is None
    assert report.messages == run_purge(app).messages


def test_the_export_of_a_purged_reference_finds_nobody(app: App, built: Built) -> None:
    run_purge(app)

    with pytest.raises(NotFound, match="anonymisé par une purge"):
        export_participant(app, "PRV-1")


def test_past_figures_are_the_same_after_the_purge(app: App, built: Built) -> None:
    """Summaries of 2018 and the annual report of 2018, before and after: identical."""
    months = [date(2018, m, 1) for m in range(1, 10)]

    def figures() -> list[Any]:
        with app.transaction() as session:
            annual = compile_annual_report(
                session,
                2018,
                groups=app.settings.outcome_groups,
                now=PURGE_DAY,
                zone=app.settings.zone,
            )
        return [annual] + [compile_for(app, month, now=PURGE_DAY) for month in months]

    before = figures()
    run_purge(app)
    after = figures()

    assert after == before
    annual = after[0]
    assert (annual.participants, annual.hours) == (4, 6 * (100 + 80 + 50) + 3 * (20 + 60))
    sexes = {line.code: line.value for line in annual.participants_by_sex}
    assert (sexes["F"], sexes["M"]) == (2, 2)


# --- a real year: the Gers of 2017 ----------------------------------------------------------------


def close_every_lot(app: App) -> None:
    """Every lot of the Gers finished, reported on and closed in March 2018."""
    finished, closed = local(date(2018, 3, 1)), local(date(2018, 3, 15))
    with app.transaction() as session:
        clauses = list(session.scalars(select(Clause).order_by(Clause.id)))
        for clause in clauses:
            if clause.stage == Stage.EXECUTION:
                advance_clause(
                    session,
                    clause.id,
                    ClauseEvent.FINISH,
                    actor="Facilitatrice",
                    reason=None,
                    now=finished,
                    publish=no_publish,
                    end_date=date(2018, 2, 28),
                )
            if clause.stage == Stage.FOLLOW_UP:
                record_final_report(
                    session,
                    clause.id,
                    text=f"Bilan du lot n° {clause.id}.",
                    actor="Facilitatrice",
                    now=closed,
                    publish=no_publish,
                )
                advance_clause(
                    session,
                    clause.id,
                    ClauseEvent.CLOSE,
                    actor="Facilitatrice",
                    reason=None,
                    now=closed,
                    publish=no_publish,
                )


@pytest.mark.slow
def test_the_gers_figures_of_past_years_are_the_same_after_the_purge(
    app: App, clock: Clock
) -> None:
    """The whole territory past retention: every participant anonymised, every report of 2016
    to 2018 (overall and per buyer) and every monthly summary of 2017 unchanged."""
    built = gers_2017.build(app, clock)
    close_every_lot(app)
    moment = local(date(2024, 6, 3), 9)
    buyers = [None, *built.buyers.values()]
    months = [date(2017, m, 1) for m in range(1, 13)] + [date(2018, 1, 1), date(2018, 2, 1)]
    with app.transaction() as session:
        birth_years = dict(session.execute(select(Participant.id, Participant.birth_year)).all())

    def figures() -> list[Any]:
        with app.transaction() as session:
            reports: list[Any] = [
                compile_annual_report(
                    session,
                    year,
                    buyer_id=buyer,
                    groups=app.settings.outcome_groups,
                    now=moment,
                    zone=app.settings.zone,
                )
                for year in (2016, 2017, 2018)
                for buyer in buyers
            ]
        return reports + [compile_for(app, month, now=moment) for month in months]

    before = figures()
    report = purge(app, FIVE_YEARS, moment, "Camille Martin")
    after = figures()

    assert report.participants == len(gers_2017.people()) + 2  # G-2016 and G-2018 too
    assert after == before
    year_2017 = before[len(buyers)]
    assert year_2017.year == 2017 and year_2017.participants == len(gers_2017.people())
    with app.transaction() as session:
        kept = dict(session.execute(select(Participant.id, Participant.birth_year)).all())
        references = set(session.scalars(select(Participant.reference)))
    assert all(r.startswith(TOKEN_PREFIX) for r in references)
    # Most birth years said more than the bands need: those are gone.
    changed = sum(1 for pid, year in birth_years.items() if kept[pid] != year)
    assert changed > len(birth_years) // 2


# --- what errors say ----------------------------------------------------------------------------


def test_a_database_error_carries_no_value_written(app: App) -> None:
    """An error's text reaches the logs (``pass failed``, a traceback): the values of the
    statement stay out of it, the statement itself says what failed."""
    with app.transaction() as session:
        create_participant(
            session, reference="PRV-1", criterion=Criterion.MINIMUM_INCOME, now=PURGE_DAY
        )
    with pytest.raises(DBAPIError) as refused, app.transaction() as session:
        session.add(
            Participant(
                reference="PRV-1",
                criterion="minimum_income",
                proof="notification RQTH (MDPH) n° 1234",
                birth_year=1991,
                created_at=PURGE_DAY,
            )
        )
        session.flush()

    said = str(refused.value)
    assert "INSERT INTO participants" in said
    assert "SQL parameters hidden" in said
    assert "RQTH" not in said and "1991" not in said


def test_the_audit_finds_the_same_after_the_purge(app: App, built: Built) -> None:
    """Receipts, history and outbox still tell one story: references were rewritten alike in
    the rows and in the emails that state them."""
    before = verify(app)
    run_purge(app)
    after = verify(app)

    assert before.ok, before.findings
    assert after.findings == before.findings
    assert (after.clauses, after.messages) == (before.clauses, before.messages)
