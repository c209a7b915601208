"""``clauses audit verify`` after a restore: a whole simulated year verifies clean, and each kind of
damage a bad restore or a hand edit leaves is reported, in French, on the line that names it.

The demo (``run_demo``: 14 months through the real passes, every kind of email) is lived once per
backend; each test works on its own copy (a file copy on SQLite, ``CREATE DATABASE … TEMPLATE`` on
PostgreSQL), damages it with plain SQL as a person or a partial restore would, and audits it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, delete, func, select, text, update
from sqlalchemy.engine import Engine, make_url

from tests.conftest import PG_ENV, make_settings
from tests.integration.test_summary_truth import figure_lines, number, text_tables
from workflow.adapters.db import make_engine, normalise_url, upgrade
from workflow.adapters.orm import (
    AwardParty,
    Clause,
    ClauseHistory,
    Declaration,
    DeclarationLadder,
    DeclarationLine,
    OutboxMessage,
    Outcome,
    Participant,
)
from workflow.adapters.templates import french_hours
from workflow.app.reports import summary_as_known
from workflow.bootstrap import App, bootstrap
from workflow.domain.vocabulary import ContractType, DeliveryMode, Sex
from workflow.services.audit import (
    CHECK_DECLARATION,
    CHECK_HISTORY,
    CHECK_OUTBOX,
    CHECK_RECEIPT,
    CHECK_SUMMARY,
    AuditReport,
    verify,
)
from workflow.services.declaration_cancellations import cancel_declaration
from workflow.services.declarations import LineInput, record_declaration
from workflow.services.participants import update_participant
from workflow.services.reminder_emails import key_months

pytestmark = pytest.mark.slow  # the demo is lived once per backend (about 25 s)


def _pg_admin() -> tuple[str, Engine]:
    base = normalise_url(os.environ[PG_ENV])
    return base, create_engine(base, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def pg_lived_demo(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo lived on PostgreSQL once per worker (its database's name), a template every
    test copies (``restored``): not again each time the random order came back to this module
    (34-49 s each)."""
    from workflow.services.demo import run_demo

    folder = tmp_path_factory.mktemp("audit-demo")
    base, admin = _pg_admin()
    name = f"clauses_audit_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    app = bootstrap(make_settings(folder, url, mail_transport="file"))
    run_demo(app)
    app.close()  # a template database takes no connection while it is copied
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def demo_source(request: pytest.FixtureRequest) -> tuple[str, str]:
    """The lived demo, as (backend, where): a SQLite file (``lived_demo``, the run's one), or
    a PostgreSQL database name (``pg_lived_demo``); never written, ``restored`` copies it."""
    if request.param == "sqlite":
        return "sqlite", str(request.getfixturevalue("lived_demo"))
    return "postgres", str(request.getfixturevalue("pg_lived_demo"))


@pytest.fixture
def restored(demo_source: tuple[str, str], tmp_path: Path) -> Iterator[App]:
    """A fresh copy of the demo, as a restore gives it back."""
    backend, source = demo_source
    if backend == "sqlite":
        shutil.copy(source, tmp_path / "restored.db")
        url = f"sqlite:///{tmp_path / 'restored.db'}"
        copy = None
    else:
        base, admin = _pg_admin()
        copy = f"clauses_restored_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{copy}" TEMPLATE "{source}"'))
        url = make_url(base).set(database=copy).render_as_string(hide_password=False)
    app = bootstrap(make_settings(tmp_path, url, mail_transport="file"))
    yield app
    app.close()
    if copy is not None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)'))
        admin.dispose()


def hours(printed: str) -> Decimal:
    """``1\u202f916,50\u00a0h`` -> 1916.50 (test_summary_truth's reading)."""
    return number(printed)


def lines(report: AuditReport, check: str | None = None) -> list[str]:
    return [f.line for f in report.findings if check is None or f.check == check]


def clause_at(app: App, stage: str) -> int:
    with app.transaction() as session:
        found = session.scalars(select(Clause.id).where(Clause.stage == stage).order_by(Clause.id))
        return found.first() or pytest.fail(f"the demo has no clause at {stage}")


# --- Clean ---------------------------------------------------------------------------------------


def test_a_whole_simulated_year_verifies_clean(restored: App) -> None:
    report = verify(restored)
    assert report.findings == ()
    with restored.transaction() as session:
        assert report.clauses == session.scalar(select(func.count()).select_from(Clause))
        assert report.messages == session.scalar(select(func.count()).select_from(OutboxMessage))
        kinds = set(session.scalars(select(OutboxMessage.kind)))
    # Every kind of key was read, not an outbox of one kind: the check is not vacuous.
    assert {"declaration_call", "declaration_reminder", "declaration_escalation"} <= kinds
    assert {"company_welcome", "declaration_receipt", "monthly_summary"} <= kinds
    assert any(k.startswith("notice_") for k in kinds) and "facilitator_digest" in kinds
    assert report.summary_key == "summary:2027-02:facilitator"
    # Every summary email (the facilitator's and each buyer's), receipt and declaration was read:
    # figure by figure and cell by cell, nothing differed, and nothing needed explaining.
    with restored.transaction() as session:
        counted = dict(
            session.execute(
                select(OutboxMessage.kind, func.count()).group_by(OutboxMessage.kind)
            ).all()
        )
        assert report.declarations == session.scalar(select(func.count()).select_from(Declaration))
    assert report.summaries == counted["monthly_summary"] + counted["monthly_summary_buyer"]
    assert counted["monthly_summary_buyer"] > counted["monthly_summary"] == 12
    assert report.receipts == counted["declaration_receipt"] == report.declarations
    assert report.remarks == ()


# --- Histories -----------------------------------------------------------------------------------


def test_a_history_row_lost_from_the_middle_breaks_the_chain(restored: App) -> None:
    clause_id = clause_at(restored, "execution")
    with restored.transaction() as session:
        award = session.scalars(
            select(ClauseHistory).where(
                ClauseHistory.clause_id == clause_id, ClauseHistory.event == "award"
            )
        ).one()
        lost = award.id
        following = session.scalars(
            select(ClauseHistory)
            .where(ClauseHistory.clause_id == clause_id, ClauseHistory.id > lost)
            .order_by(ClauseHistory.at, ClauseHistory.id)
        ).first()
        assert following is not None
        broken = (following.id, following.event, following.at)
        session.execute(delete(ClauseHistory).where(ClauseHistory.id == lost))
    report = verify(restored)
    row_id, event, at = broken
    assert lines(report, CHECK_HISTORY) == [
        f"Clause n° {clause_id} : ligne d'historique n° {row_id} ({event}, {at:%d/%m/%Y %H:%M}) : "
        "part de l'étape « attribution » alors que la clause était à « calibrage et rédaction » "
        "(une ligne manque ou a été changée)"
    ]
    # The buyer's notice of that step named the lost row: it has lost its cause too.
    outbox = lines(report, CHECK_OUTBOX)
    assert outbox and all(f"la ligne d'historique n° {lost} n'existe pas" in o for o in outbox)


def test_a_stage_changed_by_hand_is_not_where_the_history_ends(restored: App) -> None:
    clause_id = clause_at(restored, "execution")
    with restored.transaction() as session:
        session.execute(update(Clause).where(Clause.id == clause_id).values(stage="closed"))
    report = verify(restored)
    assert lines(report, CHECK_HISTORY) == [
        f"Clause n° {clause_id} : l'historique finit à l'étape « mise en œuvre » mais la "
        "clause est à « clôturée »"
    ]


# --- Outbox --------------------------------------------------------------------------------------


def test_messages_of_a_deleted_clause_are_reported(restored: App) -> None:
    clause_id = clause_at(restored, "execution")
    with restored.transaction() as session:
        # A partial restore: the clause and all it owns are gone, its outbox rows are not.
        declarations = select(Declaration.id).where(Declaration.clause_id == clause_id)
        session.execute(
            delete(DeclarationLine).where(DeclarationLine.declaration_id.in_(declarations))
        )
        for table in (Declaration, DeclarationLadder, AwardParty, ClauseHistory):
            session.execute(delete(table).where(table.clause_id == clause_id))
        session.execute(
            update(Outcome).where(Outcome.clause_id == clause_id).values(clause_id=None)
        )
        orphans = session.scalars(
            select(OutboxMessage.id).where(OutboxMessage.clause_id == clause_id)
        ).all()
        session.execute(
            update(OutboxMessage).where(OutboxMessage.clause_id == clause_id).values(clause_id=None)
        )
        session.execute(delete(Clause).where(Clause.id == clause_id))
    assert orphans
    report = verify(restored)
    outbox = [f for f in report.findings if f.check == CHECK_OUTBOX]
    missing = f"la clause n° {clause_id} n'existe pas"
    reported = {int(f.subject.split()[2]) for f in outbox if f.problem == missing}
    # Each of its messages whose key names it is reported (receipts name the declaration).
    with restored.transaction() as session:
        naming = {
            i
            for i, key in session.execute(
                select(OutboxMessage.id, OutboxMessage.key).where(OutboxMessage.id.in_(orphans))
            )
            if not key.startswith("receipt:")
        }
    assert reported == naming and naming
    assert all(f.line.startswith(f"Courriel n° {f.subject.split()[2]} (") for f in outbox)


def test_a_reminder_naming_a_month_the_ladder_no_longer_has(restored: App) -> None:
    with restored.transaction() as session:
        row_id, key = session.execute(
            select(OutboxMessage.id, OutboxMessage.key)
            .where(OutboxMessage.kind == "declaration_call", OutboxMessage.state == "sent")
            .order_by(OutboxMessage.id)
        ).first() or pytest.fail("no call sent in the demo")
        parsed = key_months(key)
        assert parsed is not None
        month = parsed.months[0]
        session.execute(
            delete(DeclarationLadder).where(
                DeclarationLadder.clause_id == parsed.clause_id,
                DeclarationLadder.company_id == parsed.company_id,
                DeclarationLadder.month == month,
            )
        )
        others = session.scalars(
            select(OutboxMessage.id).where(OutboxMessage.key.like("reminder:%"))
        ).all()
    report = verify(restored)
    expected = (
        f"Courriel n° {row_id} (sent, clé {key}) : aucun suivi des déclarations de "
        f"{month:%m/%Y} pour l'entreprise n° {parsed.company_id} sur la clause n° "
        f"{parsed.clause_id}"
    )
    assert expected in lines(report, CHECK_OUTBOX)
    # Only the emails of that month's ladder are concerned (its call, reminders, alert).
    for finding in report.findings:
        assert finding.check == CHECK_OUTBOX and f"de {month:%m/%Y} pour" in finding.problem
    assert len(report.findings) < len(others)


def test_a_message_whose_kind_disagrees_with_its_key(restored: App) -> None:
    with restored.transaction() as session:
        row = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "declaration_receipt")
        ).first()
        assert row is not None
        row.kind, key, row_id = "company_welcome", row.key, row.id
    assert lines(verify(restored)) == [
        f"Courriel n° {row_id} (sent, clé {key}) : type « company_welcome » alors que la clé "
        "dit « declaration_receipt »"
    ]


# --- Summaries, receipts, declarations ---------------------------------------------------------

FACILITATOR = "Camille Martin <camille.martin@example.org>"
#: The sample's contact at the Département (the outbox stores her name RFC 2047-encoded).
DEPARTMENT = "Hélène Duprat <helene.duprat@example.org>"


def outbox_row(app: App, key: str) -> OutboxMessage:
    with app.transaction() as session:
        row = session.scalars(select(OutboxMessage).where(OutboxMessage.key == key)).one()
        session.expunge(row)
        return row


def sent_cell(body: str, table: str, row_starts: str, column: str) -> str:
    """A cell of a summary's text part, read as its recipient reads it (test_summary_truth's
    parser, not the audit's)."""
    rows = [r for r in text_tables(body)[table] if next(iter(r.values())).startswith(row_starts)]
    assert len(rows) == 1, (table, row_starts, rows)
    return rows[0][column]


def february_declaration(app: App, clause_id: int) -> Declaration:
    with app.transaction() as session:
        found = session.scalars(
            select(Declaration).where(
                Declaration.clause_id == clause_id, Declaration.month == date(2027, 2, 1)
            )
        ).first() or pytest.fail("the demo has no February declaration on that lot")
        session.expunge(found)
        return found


def test_hours_changed_by_hand_after_the_summaries_are_reported_cell_by_cell(
    restored: App,
) -> None:
    """10 hours added to a declaration, no history row, after February's summaries left: each
    email, its cell and both values; the receipt and the declaration's own history too."""
    facilitator = outbox_row(restored, "summary:2027-02:facilitator")
    buyer = outbox_row(restored, "summary:2027-02:buyer:1")
    clause_id = 1  # the structural lot, the Département's, declared on time every month
    declaration = february_declaration(restored, clause_id)
    assert declaration.recorded_at <= facilitator.created_at
    with restored.transaction() as session:
        session.execute(
            update(Declaration)
            .where(Declaration.id == declaration.id)
            .values(total_hours=Declaration.total_hours + Decimal(10))
        )
        receipt_id = session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.key.like(f"receipt:{declaration.id}:%"))
        )
    was, now = declaration.total_hours, declaration.total_hours + 10
    report = verify(restored)
    assert not report.ok
    summary_lines = lines(report, CHECK_SUMMARY)
    # The facilitator's email: the headline line and the lot's row of the clause table.
    month = sent_cell(
        facilitator.body_text, "Avancement par clause", "Département de l'Exemple – n° 1 –", "Mois"
    )
    assert hours(month) == was
    label = next(
        r["Clause"]
        for r in text_tables(facilitator.body_text)["Avancement par clause"]
        if r["Clause"].startswith("Département de l'Exemple – n° 1 –")
    )
    subject = (
        f"Courriel n° {facilitator.id} (synthèse de février 2027 de la facilitatrice, à "
        f"{FACILITATOR})"
    )
    assert (
        f"{subject} : tableau « Avancement par clause », ligne « {label} », colonne « Mois » : "
        f"le courriel disait « {month} », les données disent « {french_hours(now)} »"
    ) in summary_lines
    headline = figure_lines(facilitator.body_text)["Heures réalisées dans le mois"]
    assert (
        f"{subject} : chiffre « Heures réalisées dans le mois » : le courriel disait "
        f"« {headline} », les données disent « {french_hours(hours(headline) + 10)} »"
    ) in summary_lines
    # The buyer's own email, every buyer's and not only the facilitator's.
    buyer_subject = (
        f"Courriel n° {buyer.id} (synthèse de février 2027 du donneur d'ordre Département de "
        f"l'Exemple, à {DEPARTMENT})"
    )
    buyer_month = sent_cell(buyer.body_text, "Avancement par clause", "n° 1 –", "Mois")
    assert any(
        line.startswith(f"{buyer_subject} : tableau « Avancement par clause », ligne « n° 1 –")
        and line.endswith(
            f"colonne « Mois » : le courriel disait « {buyer_month} », les données disent "
            f"« {french_hours(now)} »"
        )
        for line in summary_lines
    )
    # Only February's two emails of that buyer's scope: no other month, no other buyer.
    assert {f.subject for f in report.findings if f.check == CHECK_SUMMARY} == {
        subject,
        buyer_subject,
    }
    # The receipt said what was recorded; the row no longer does.
    assert any(
        line.startswith(f"Courriel n° {receipt_id} (accusé de réception de la déclaration de "
                        "février 2027 de Bâtiments Gascons SARL sur la clause n° 1, à ")
        and line.endswith(
            f": « Total du mois » : le courriel disait « {french_hours(was)} », la déclaration "
            f"dit « {french_hours(now)} »"
        )
        for line in lines(report, CHECK_RECEIPT)
    )  # fmt: skip
    # The declaration's own history row says what was recorded, and its lines still add up.
    declared = lines(report, CHECK_DECLARATION)
    assert len(declared) == 2 and all(
        d.startswith(f"Déclaration n° {declaration.id} (février 2027, Bâtiments Gascons SARL, "
                     "clause n° 1) : « Total du mois » ")
        for d in declared
    )  # fmt: skip
    assert declared[1].endswith(
        f"« {french_hours(now)} » n'est pas la somme de ses lignes « {french_hours(was)} »"
    )
    assert report.remarks == ()


def test_one_figure_altered_in_a_stored_buyer_summary_is_reported_on_its_cell(
    restored: App,
) -> None:
    """October's summary to the Département, months before the last one: one cell of its text
    part altered in the outbox. Its cell against the data, and its HTML part against its text."""
    email = outbox_row(restored, "summary:2026-10:buyer:1")
    table, row, column = "Heures par modalité de réalisation", "Embauche directe", "Cumul"
    true_value = sent_cell(email.body_text, table, row, column)
    forged = french_hours(hours(true_value) + 1000)
    lines_of = email.body_text.splitlines()
    start = lines_of.index(table)
    index = next(i for i in range(start, len(lines_of)) if lines_of[i].startswith(row))
    assert lines_of[index].endswith(true_value)
    lines_of[index] = lines_of[index].removesuffix(true_value) + forged
    with restored.transaction() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == email.id)
            .values(body_text="\n".join(lines_of) + "\n")
        )
    report = verify(restored)
    subject = (
        f"Courriel n° {email.id} (synthèse d'octobre 2026 du donneur d'ordre Département de "
        f"l'Exemple, à {DEPARTMENT})"
    )
    assert lines(report) == [
        f"{subject} : tableau « {table} », ligne « {row} », colonne « {column} » : le courriel "
        f"disait « {forged} », les données disent « {true_value} »",
        f"{subject} : tableau « {table} », ligne « {row} », colonne « {column} » : la partie "
        f"HTML disait « {true_value} », la partie texte dit « {forged} »",
    ]


def test_a_row_dropped_from_a_stored_summary_is_reported_with_the_figures_it_had(
    restored: App,
) -> None:
    email = outbox_row(restored, "summary:2026-10:facilitator")
    table = "Avancement par clause"
    # The roofing lot's row: nothing recorded since moves it (the cleaning lot's end, recorded
    # in February, could move its own row and the line of the lots achieved, not this one).
    dropped = next(r for r in text_tables(email.body_text)[table] if " – n° 2 – " in r["Clause"])
    body = "\n".join(
        line for line in email.body_text.splitlines() if not line.startswith(dropped["Clause"])
    )
    assert email.body_text.count(dropped["Clause"]) == 1
    with restored.transaction() as session:
        session.execute(
            update(OutboxMessage).where(OutboxMessage.id == email.id).values(body_text=body)
        )
    found = lines(verify(restored))
    subject = (
        f"Courriel n° {email.id} (synthèse d'octobre 2026 de la facilitatrice, à {FACILITATOR})"
    )
    assert found[0] == (
        f"{subject} : tableau « {table} », ligne « {dropped['Clause']} » : absente du courriel, "
        f"les données disent Mois « {dropped['Mois']} », Cumul / prévues "
        f"« {dropped['Cumul / prévues']} », Temps « {dropped['Temps']} »"
    )
    assert len(found) == 2 and "absente de la partie texte" in found[1]


def test_a_receipt_altered_in_the_outbox_is_reported_on_its_line(restored: App) -> None:
    declaration = february_declaration(restored, 1)
    with restored.transaction() as session:
        receipt = session.scalars(
            select(OutboxMessage).where(OutboxMessage.key.like(f"receipt:{declaration.id}:%"))
        ).one()
        line = next(x for x in receipt.body_text.splitlines() if x.startswith("- P-0007 "))
        said = line.split(" : ", 1)[1].split(" – ")[0]
        receipt.body_text = receipt.body_text.replace(line, line.replace(said, "12\u00a0h", 1))
        receipt_id = receipt.id
    found = lines(verify(restored))
    assert len(found) == 1
    assert found[0].startswith(f"Courriel n° {receipt_id} (accusé de réception de la déclaration ")
    assert found[0].endswith(
        f"ligne « P-0007 » : le courriel disait « 12\u00a0h », la déclaration dit « {said} »"
    )


def test_a_declaration_corrected_through_the_service_is_no_mismatch(restored: App) -> None:
    """A correction of October, recorded in March with its history row and its receipt: the
    old receipt is followed by the new one; the summaries written since October differ from
    the rows recompiled for their moment, and say why in remarks, not problems."""
    corrected_at = datetime(2027, 3, 25, 9, 0, tzinfo=UTC)
    with restored.transaction() as session:
        october = session.scalars(
            select(Declaration).where(
                Declaration.clause_id == 1, Declaration.month == date(2026, 10, 1)
            )
        ).one()
        lines_in = [
            LineInput(
                line.participant_id, line.hours + 5, DeliveryMode(line.delivery_mode),
                ContractType(line.contract_type),
            )
            for line in october.lines
        ]  # fmt: skip
        record_declaration(
            session, clause_id=1, company_id=october.company_id, month=october.month,
            lines=lines_in, actor="test", now=corrected_at, source="correction",
            publish=restored.publish, replace=True, zone=restored.settings.zone,
        )  # fmt: skip
        receipts = session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.key.like(f"receipt:{october.id}:%"))
        )
    assert receipts == 2
    report = verify(restored)
    assert report.findings == ()
    explained = [r.line for r in report.remarks]
    # Every summary written between the first recording and the correction, in its scope
    # (the facilitator's and the Département's), October's included.
    assert {r.subject.split(" (")[0] for r in report.remarks} == {
        f"Courriel n° {outbox_row(restored, key).id}"
        for month in ("2026-10", "2026-11", "2026-12", "2027-01", "2027-02")
        for key in (f"summary:{month}:facilitator", f"summary:{month}:buyer:1")
    }
    assert all(
        "expliquées par ce qui a été enregistré depuis : déclaration d'octobre 2026 de "
        "Bâtiments Gascons SARL sur la clause n° 1 corrigée le 25/03/2027 à 10:00" in line
        for line in explained
    )


def test_an_earlier_month_cancelled_since_is_no_mismatch_in_its_missing_months(
    restored: App,
) -> None:
    """December 2026 of Charpentes de l'Arrats, declared in January, cancelled in April: the
    January and February summaries had rightly not listed it among the « Déclarations des mois
    précédents toujours manquantes », and they are not called wrong for it (user trial: six
    problems, « les données disent 10 ; Charpentes de l'Arrats … décembre 2026 »); replayed for
    its moment, January's summary lists the same months as its email."""
    cancelled_at = datetime(2027, 4, 2, 8, 0, tzinfo=UTC)
    with restored.transaction() as session:
        december = session.scalars(
            select(Declaration).where(
                Declaration.clause_id == 2, Declaration.month == date(2026, 12, 1)
            )
        ).one()
        cancel_declaration(
            session, clause_id=2, company_id=december.company_id, month=december.month,
            reason="heures d'un autre chantier", actor="test", now=cancelled_at,
            settings=restored.settings, publish=restored.publish,
        )  # fmt: skip
    report = verify(restored)
    assert report.findings == (), [f.problem for f in report.findings]

    email = outbox_row(restored, "summary:2027-01:buyer:1")
    restored.clock = lambda: cancelled_at
    replay = summary_as_known(
        restored, date(2027, 1, 1), buyer=1, now=email.created_at.replace(tzinfo=UTC)
    )
    said = number(figure_lines(email.body_text)[EARLIER].split(" ;")[0])
    assert replay.summary.overall.declarations.earlier_count == said
    assert all(
        e.company != "Charpentes de l'Arrats" for e in replay.summary.overall.declarations.earlier
    )


EARLIER = "Déclarations des mois précédents toujours manquantes"


def test_a_declaration_rewritten_without_trace_is_reported_on_its_receipt(restored: App) -> None:
    """Its recording instant moved and its hours changed, as a bad restore of one table would
    leave it: no later receipt, no history row."""
    declaration = february_declaration(restored, 1)
    later = datetime(2027, 3, 20, 9, 0, tzinfo=UTC)
    with restored.transaction() as session:
        session.execute(
            update(Declaration).where(Declaration.id == declaration.id).values(recorded_at=later)
        )
    found = lines(verify(restored))
    assert any(
        line.endswith(
            ": la déclaration a été changée le 20/03/2027 à 10:00 sans accusé de réception ni "
            "ligne d'historique depuis cet accusé"
        )
        and line.startswith("Courriel n° ")
        for line in found
    )
    assert any(
        line.startswith(f"Déclaration n° {declaration.id} (février 2027, ")
        and "enregistrée le 20/03/2027 à 10:00" in line
        for line in found
    )


def test_a_participant_corrected_since_is_a_remark_not_a_problem(restored: App) -> None:
    with restored.transaction() as session:
        participant = session.scalars(
            select(Participant).where(Participant.reference == "P-0007")
        ).one()
        assert participant.sex == "M"
        update_participant(
            session, "P-0007", now=datetime(2027, 3, 25, 9, 0, tzinfo=UTC),
            zone=restored.settings.zone, sex=Sex.FEMALE,
        )  # fmt: skip
    report = verify(restored)
    assert report.findings == ()
    assert report.remarks and all(
        "dans les tableaux de participants, aux mêmes totaux" in r.problem
        and "« Participants par sexe »" in r.problem
        for r in report.remarks
    )


# --- The command ---------------------------------------------------------------------------------


def run_command(app: App, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAUSES_")}
    env.update(CLAUSES_DATABASE_URL=app.settings.database_url, CLAUSES_CONFIG="")
    clauses = Path(sys.executable).parent / "clauses"
    return subprocess.run(
        [str(clauses), "audit", "verify", *args],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_the_command_exits_0_when_clean_and_1_with_a_line_per_problem(
    restored: App, tmp_path: Path
) -> None:
    clean = run_command(restored, tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert clean.stdout.startswith("Aucun problème (8 clauses, ")
    clause_id = clause_at(restored, "execution")
    with restored.transaction() as session:
        session.execute(update(Clause).where(Clause.id == clause_id).values(stage="follow_up"))
    damaged = run_command(restored, tmp_path)
    assert damaged.returncode == 1, damaged.stderr
    assert damaged.stdout.splitlines() == [
        f"Clause n° {clause_id} : l'historique finit à l'étape « mise en œuvre » mais la clause "
        "est à « suivi et bilan »",
        damaged.stdout.splitlines()[-1],
    ]
    assert damaged.stdout.splitlines()[-1].startswith("1 problème trouvé (8 clauses, ")
    as_json = run_command(restored, tmp_path, "--json")
    assert as_json.returncode == 1
    data = json.loads(as_json.stdout)
    assert data["conforme"] is False and data["synthese"] == "summary:2027-02:facilitator"
    assert data["syntheses"] > 12 and data["accuses"] == data["declarations"] > 0
    assert data["remarques"] == []
    assert data["problemes"] == [
        {
            "controle": CHECK_HISTORY,
            "objet": f"Clause n° {clause_id}",
            "probleme": "l'historique finit à l'étape « mise en œuvre » mais la clause est à "
            "« suivi et bilan »",
        }
    ]


def test_the_command_prints_remarks_without_failing_and_fails_on_an_altered_cell(
    restored: App, tmp_path: Path
) -> None:
    with restored.transaction() as session:
        update_participant(
            session, "P-0007", now=datetime(2027, 3, 25, 9, 0, tzinfo=UTC),
            zone=restored.settings.zone, sex=Sex.FEMALE,
        )  # fmt: skip
    explained = run_command(restored, tmp_path)
    assert explained.returncode == 0, explained.stdout + explained.stderr
    printed = explained.stdout.splitlines()
    assert printed[-1].startswith("Aucun problème (8 clauses, ")
    assert printed[-1].endswith(
        " synthèses mensuelles, 47 accusés de réception, 47 déclarations vérifiés)."
    )
    assert printed[:-1] and all(
        line.startswith("Remarque – Courriel n° ") and "aux mêmes totaux" in line
        for line in printed[:-1]
    )
    email = outbox_row(restored, "summary:2027-02:buyer:1")
    headline = figure_lines(email.body_text)["Heures réalisées dans le mois"]
    forged = email.body_text.replace(
        f"- Heures réalisées dans le mois\u00a0: {headline}",
        "- Heures réalisées dans le mois\u00a0: 1\u00a0h",
    )
    with restored.transaction() as session:
        session.execute(
            update(OutboxMessage).where(OutboxMessage.id == email.id).values(body_text=forged)
        )
    damaged = run_command(restored, tmp_path)
    assert damaged.returncode == 1
    problems = [line for line in damaged.stdout.splitlines() if line.startswith("Courriel n° ")]
    assert problems == [
        f"Courriel n° {email.id} (synthèse de février 2027 du donneur d'ordre Département de "
        f"l'Exemple, à {DEPARTMENT}) : chiffre « Heures réalisées dans le mois » : le courriel "
        f"disait « 1\u00a0h », les données disent « {headline} »",
        f"Courriel n° {email.id} (synthèse de février 2027 du donneur d'ordre Département de "
        f"l'Exemple, à {DEPARTMENT}) : chiffre « Heures réalisées dans le mois » : la partie "
        f"HTML disait « {headline} », la partie texte dit « 1\u00a0h »",
    ]
    assert damaged.stdout.splitlines()[-1].startswith("2 problèmes trouvés (8 clauses, ")
