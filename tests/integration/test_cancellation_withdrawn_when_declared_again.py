"""A month declared again before the email of its cancellation left: that email is withdrawn
(``cancellation_withdrawals``), on SQLite and PostgreSQL, through the commands, the real outbox
and the file transport.

User trial: « clauses declaration cancel … --month 04/2026 » at 10:00, « declaration zero … »
at 10:10, « mail send » at 10:20: the company read « Déclaration d'avril 2026 annulée, à
déclarer de nouveau … merci de déclarer à nouveau ce mois d'ici le 13 mai 2026 » beside the
receipt of the month just recorded again. Now it reads the receipt only; the cancellation's
row is withdrawn with its reason, the audit stays clean. One that left already, or that may
have left, is not touched; nor is one of another month or of another company.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from tests.conftest import Clock
from tests.integration.test_declaration_howto import lot_01
from tests.integration.test_online_declaration import (
    TWO_PEOPLE,
    call_link,
    called_territory,
    form,
)
from tests.text import squash, visible
from workflow.adapters.orm import OutboxMessage
from workflow.app.clause_corrections import cancel_declaration
from workflow.bootstrap import App, bootstrap
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.entrypoints.web.site import create_site
from workflow.services.promise_rewriters import REWRITERS
from workflow.services.stale_promises import write_stale_again
from workflow.settings import Settings

APRIL = date(2026, 4, 1)
LOTS = Path(__file__).parents[1] / "data" / "lots-excel-fr.csv"
CLAUSE = "2"
HOLDER, CO_CONTRACTOR = "1", "2"
LUC = "luc@charpentes.example.org"
NINA = "nina@toitures.example.org"
CANCELLED = "declaration_cancelled"
RECEIPT = "declaration_receipt"
APRIL_AGAIN = (
    "Retiré : le mois d'avril 2026 a été déclaré de nouveau le 5 mai 2026, avant le départ de "
    "ce courriel."
)
APRIL_EXPECTED = (
    "Le mois d'avril 2026 est de nouveau attendu : merci de déclarer à nouveau ce mois d'ici "
    "le 13 mai 2026."
)


def paris(day: str, time: str) -> datetime:
    """``2026-05-05``, ``10:00``: the facilitator's wall clock in May (UTC+2)."""
    local = datetime.fromisoformat(f"{day}T{time}")
    return local.replace(tzinfo=UTC) - (datetime(2026, 1, 1, 2) - datetime(2026, 1, 1))


class Run:
    """The commands of the user trial, each at its moment, on the test's database."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings, self.clock = settings, clock

    def __call__(self, day: str, time: str, *args: str) -> str:
        self.clock.set(paris(day, time))
        state = CliState()
        state.factory = lambda: bootstrap(self.settings, clock=self.clock)
        result = CliRunner().invoke(cli, list(args), obj=state, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return squash(result.output)

    def cancel(self, day: str, time: str, company: str = HOLDER, month: str = "04/2026") -> str:
        return self(
            day, time, "declaration", "cancel", "--clause", CLAUSE, "--company", company,
            "--month", month, "--reason", "erreur de lot",
        )  # fmt: skip

    def zero(self, day: str, time: str, company: str = HOLDER, month: str = "04/2026") -> str:
        return self(
            day, time, "declaration", "zero", "--clause", CLAUSE, "--company", company,
            "--month", month,
        )  # fmt: skip

    def send(self, day: str, time: str) -> str:
        return self(day, time, "mail", "send")


@pytest.fixture
def run(app: App, settings: Settings, clock: Clock) -> Run:
    """Lot 02 of the sample awarded to Charpentes de l'Arrats (Luc Bernard) with Toitures du
    Gers as co-contractor (Nina Roux), started on 1 April 2026; April declared at zero by the
    holder on 4 May, its receipt sent."""
    run = Run(settings, clock)
    run("2026-03-02", "09:00", "import", "lots", str(LOTS))
    run("2026-03-02", "09:01", "buyer", "contact-add", "1", "--name", "Anne Lefèvre",
        "--email", "anne@dept.example.org")  # fmt: skip
    run("2026-03-02", "09:02", "company", "add", "Charpentes de l'Arrats")
    run("2026-03-02", "09:02", "company", "add", "Toitures du Gers")
    run("2026-03-02", "09:03", "company", "correspondent-add", HOLDER, "--name", "Luc Bernard",
        "--email", LUC)  # fmt: skip
    run("2026-03-02", "09:03", "company", "correspondent-add", CO_CONTRACTOR, "--name",
        "Nina Roux", "--email", NINA)  # fmt: skip
    run("2026-03-09", "10:00", "clause", "advance", CLAUSE, "rédiger")
    run("2026-03-09", "10:01", "clause", "advance", CLAUSE, "attribuer")
    run("2026-03-09", "10:02", "clause", "award", CLAUSE, "--company", HOLDER,
        "--co-contractor", CO_CONTRACTOR, "--start", "01/04/2026", "--end", "31/12/2026")  # fmt: skip
    run("2026-04-01", "10:00", "clause", "advance", CLAUSE, "démarrer")
    run.zero("2026-05-04", "10:00")
    run.send("2026-05-04", "10:05")
    return run


def delivered(settings: Settings, kind: str, to: str) -> list[EmailMessage]:
    """The emails of ``kind`` the file transport wrote for ``to``, in the order they left."""
    folder = settings.mail_dir / kind
    found = []
    for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        assert isinstance(message, EmailMessage)
        if to in str(message["To"]):
            found.append(message)
    return found


def plain(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return squash(body.get_content())


def cancellation_rows(app: App) -> list[tuple[str, str, str | None]]:
    """Each cancellation email's company part of its key, state and email-log reason."""
    with app.transaction() as session:
        return [
            (row.key.split(":")[2], row.state, row.last_error)
            for row in session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.kind == CANCELLED)
                .order_by(OutboxMessage.id)
            )
        ]


def test_the_company_declared_again_reads_the_receipt_only(
    app: App, run: Run, settings: Settings
) -> None:
    said = run.cancel("2026-05-05", "10:00")
    assert f"L'entreprise en est informée par courriel ({LUC})" in said
    assert cancellation_rows(app) == [(HOLDER, "pending", None)]

    run.zero("2026-05-05", "10:10")
    assert cancellation_rows(app) == [(HOLDER, "cancelled", APRIL_AGAIN)]
    run.send("2026-05-05", "10:20")

    assert delivered(settings, CANCELLED, LUC) == []
    _, again = delivered(settings, RECEIPT, LUC)
    assert again["Subject"].startswith("Déclaration enregistrée pour vous : avril 2026 – ")
    assert "Je l'ai enregistrée pour vous le 5 mai 2026" in plain(again)
    assert "votre déclaration à zéro est bien notée" in plain(again)
    # Withdrawn by the service: « Renvoyer » is refused, it says why.
    with app.transaction() as session:
        row_id = session.scalars(
            select(OutboxMessage.id).where(OutboxMessage.kind == CANCELLED)
        ).one()
    refused = CliRunner().invoke(
        cli, ["mail", "retry", str(row_id)], obj=_state(settings, run.clock)
    )
    assert refused.exit_code != 0
    assert "le service l'a retiré avant son départ" in squash(refused.output)
    assert cancellation_rows(app) == [(HOLDER, "cancelled", APRIL_AGAIN)]
    assert "Aucun problème" in run("2026-05-05", "10:30", "audit", "verify")


def _state(settings: Settings, clock: Clock) -> CliState:
    state = CliState()
    state.factory = lambda: bootstrap(settings, clock=clock)
    return state


def test_cancelled_and_declared_again_twice_sends_no_cancellation(
    app: App, run: Run, settings: Settings
) -> None:
    run.cancel("2026-05-05", "10:00")
    run.zero("2026-05-05", "10:10")
    run.cancel("2026-05-05", "10:15")
    run.zero("2026-05-05", "10:18")
    run.send("2026-05-05", "10:20")

    assert delivered(settings, CANCELLED, LUC) == []
    # The receipt of 10:10 was withdrawn by the cancellation of 10:15: that of 4 May, then
    # the last one.
    assert len(delivered(settings, RECEIPT, LUC)) == 2
    assert cancellation_rows(app) == [
        (HOLDER, "cancelled", APRIL_AGAIN),
        (HOLDER, "cancelled", APRIL_AGAIN),
    ]
    assert "Aucun problème" in run("2026-05-05", "10:30", "audit", "verify")


def test_a_cancellation_that_left_or_may_have_left_is_not_touched(
    app: App, run: Run, settings: Settings
) -> None:
    run.cancel("2026-05-05", "10:00")
    run.send("2026-05-05", "10:05")
    [told] = delivered(settings, CANCELLED, LUC)
    assert APRIL_EXPECTED in plain(told)
    run.zero("2026-05-05", "10:10")
    assert cancellation_rows(app) == [(HOLDER, "sent", None)]

    # Cancelled again; its email given to the server, whose answer was lost: it may have left.
    run.cancel("2026-05-05", "10:15")
    with app.transaction() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.kind == CANCELLED, OutboxMessage.state == "pending")
            .values(state="uncertain", next_attempt_at=None)
        )
    run.zero("2026-05-05", "10:18")
    assert cancellation_rows(app) == [(HOLDER, "sent", None), (HOLDER, "uncertain", None)]
    assert "Aucun problème" in run("2026-05-05", "10:30", "audit", "verify")


def test_another_month_or_another_company_declared_leaves_it_waiting(
    app: App, run: Run, settings: Settings
) -> None:
    run.cancel("2026-05-05", "10:00")
    # Toitures du Gers declares April: it does not answer Charpentes de l'Arrats's.
    run.zero("2026-05-05", "10:10", company=CO_CONTRACTOR)
    assert cancellation_rows(app) == [(HOLDER, "pending", None)]
    run.send("2026-05-05", "10:20")
    [told] = delivered(settings, CANCELLED, LUC)
    assert told["Subject"].startswith("Déclaration d'avril 2026 annulée, à déclarer de nouveau")
    assert APRIL_EXPECTED in plain(told)
    assert delivered(settings, CANCELLED, NINA) == []

    # April declared again, then cancelled again on 1 June; May (open since 29 May) declared
    # before the next delivery: not the month the cancellation asks for.
    run.zero("2026-05-05", "10:30")
    run.cancel("2026-06-01", "09:00")
    run.zero("2026-06-01", "09:10", month="05/2026")
    assert cancellation_rows(app) == [(HOLDER, "sent", None), (HOLDER, "pending", None)]
    run.send("2026-06-01", "09:20")
    _, again = delivered(settings, CANCELLED, LUC)
    assert "J'ai annulé le 1er juin 2026 votre déclaration" in plain(again)
    assert "Le mois d'avril 2026 est de nouveau attendu" in plain(again)
    assert cancellation_rows(app) == [(HOLDER, "sent", None), (HOLDER, "sent", None)]
    assert "Aucun problème" in run("2026-06-01", "09:30", "audit", "verify")


def test_a_withdrawn_cancellation_is_never_written_again_past_its_date(
    app: App, run: Run, settings: Settings
) -> None:
    """The service stopped past the date the email promised (13 May): the stale-promise
    rewrite writes again a waiting one, never one withdrawn."""
    run.cancel("2026-05-05", "10:00")
    run.zero("2026-05-05", "10:10")
    with app.transaction() as session:
        [promised] = session.scalars(
            select(OutboxMessage.promised_until).where(OutboxMessage.kind == CANCELLED)
        ).all()
        assert promised is not None and promised < paris("2026-05-20", "09:00")
        due = paris("2026-05-20", "09:00")
        assert write_stale_again(app, session, due, due, REWRITERS) == 0
    run.send("2026-05-20", "09:00")
    assert delivered(settings, CANCELLED, LUC) == []
    assert cancellation_rows(app) == [(HOLDER, "cancelled", APRIL_AGAIN)]


def test_declared_again_online_the_cancellation_waiting_is_withdrawn(
    app: App, clock: Clock
) -> None:
    """The other path: lot 01 of the sample territory, April declared online from its call on
    4 May, cancelled at 10:00, declared online again from the same page at 10:10."""
    called_territory(app, clock)
    clause_id, holder_id, _ = lot_01(app)
    path = call_link(app, clause_id, holder_id)
    client = TestClient(create_site(app))
    client.post(path, data=form(TWO_PEOPLE, "confirmer"))
    clock.set(paris("2026-05-05", "10:00"))
    cancel_declaration(
        app, clause=clause_id, company=holder_id, month=APRIL, reason="erreur de lot"
    )
    assert [state for _, state, _ in cancellation_rows(app)] == ["pending"]

    clock.set(paris("2026-05-05", "10:10"))
    done = client.post(path, data=form(TWO_PEOPLE, "confirmer"), follow_redirects=False)
    assert done.status_code == 303, visible(done.text)
    assert cancellation_rows(app) == [(str(holder_id), "cancelled", APRIL_AGAIN)]
