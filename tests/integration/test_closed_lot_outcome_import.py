"""Outcomes recorded on a closed clause by a file, and the lot page's help about withdrawing one,
on SQLite and PostgreSQL.

User trial: `clauses participant outcome` on a closed clause says that the final report the buyer
received (« adressé le … ») is not modified, but `clauses import outcomes` said nothing of the
kind for the lines of a closed clause; and the lot's page said, even on a closed lot, that a
withdrawn outcome no longer counts in « les bilans ». Now the import says it once per closed
clause, naming the lot, and the closed lot's page says which figures a withdrawal changes and
that the final report already sent is not modified.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

from click.testing import CliRunner, Result
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.integration.test_declaration_howto import lot_01
from tests.integration.test_declarations import ids
from tests.integration.test_outcome_events import close, write
from tests.integration.test_outcome_review_h import sent_report
from tests.integration.test_outcomes import declared
from tests.integration.test_web_corrections import sign_in
from tests.integration.test_web_corrections_people import site
from tests.integration.test_web_imports import PASSWORD, USER, confirm, send
from tests.integration.test_web_imports import sign_in as import_sign_in
from tests.integration.test_web_participants import outcome_form, plain
from tests.text import squash, visible
from workflow.adapters.orm import Clause
from workflow.app import web_accounts
from workflow.bootstrap import App
from workflow.domain.stages import ClauseEvent
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.entrypoints.web.site import create_site
from workflow.services.clauses import advance_clause, no_publish, record_final_report

__all__ = ["declared", "site"]  # the fixtures, imported to be used here

NBSP = "\u00a0"
#: The final report's notice, sent on 5 November 2026 at 11:00 in Paris.
REPORT_SENT = datetime(2026, 11, 5, 10, tzinfo=UTC)


def run(app: App, *args: str) -> Result:
    state = CliState()
    state.factory = lambda: app
    return CliRunner().invoke(cli, list(args), obj=state, catch_exceptions=False)


def label_of(app: App, clause_id: int) -> str:
    with app.transaction() as session:
        return session.scalars(select(Clause).where(Clause.id == clause_id)).one().label


def test_an_import_on_a_closed_clause_says_once_that_its_final_report_is_unchanged(
    declared: App, tmp_path: Path
) -> None:
    clause_id = ids(declared)[0]
    close(declared, clause_id)
    sent_report(declared, clause_id, REPORT_SENT)
    path = write(
        tmp_path,
        "P-0007;2026-014;01;CDI;04/11/2026",
        "P-0012;2026-014;01;Formation courte;30/10/2026",
    )
    told = (
        f"{label_of(declared, clause_id)} clôturée : ses sorties comptent dans les synthèses "
        "mensuelles et le bilan annuel de leur date ; le bilan de l'opération adressé au "
        "donneur d'ordre le 05/11/2026 n'est pas modifié."
    )

    result = run(declared, "import", "outcomes", str(path))
    assert result.exit_code == 0, result.output
    said = squash(result.output).replace(NBSP, " ")
    assert "Sorties enregistrées : 2" in said, said
    # Once for the clause, not once per line.
    assert said.count(told) == 1, said

    # Imported again: nothing recorded, nothing to say of the closed clause.
    again = run(declared, "import", "outcomes", str(path), "--json")
    assert again.exit_code == 0, again.output
    data = json.loads(again.output)
    assert data["rien_de_nouveau"] and data["clauses_cloturees"] == [], data


def test_the_import_page_says_it_of_a_closed_clause_before_and_after_confirming(
    declared: App, tmp_path: Path
) -> None:
    clause_id = ids(declared)[0]
    close(declared, clause_id)
    sent_report(declared, clause_id, REPORT_SENT)
    path = write(tmp_path, "P-0007;2026-014;01;CDI;04/11/2026")
    web_accounts.add_user(declared, login="lea", name=USER, password=PASSWORD)
    client = TestClient(create_site(declared))
    csrf = import_sign_in(client)
    told = (
        f"{label_of(declared, clause_id)} clôturée : ses sorties comptent dans les synthèses "
        "mensuelles et le bilan annuel de leur date ; le bilan de l'opération adressé au "
        "donneur d'ordre le 05/11/2026 n'est pas modifié."
    )

    preview = send(client, "sorties", path, csrf)
    assert preview.status_code == 200, visible(preview.text)
    assert told in plain(preview.text), plain(preview.text)
    done = confirm(client, "sorties", preview.text)
    assert done.status_code == 200, visible(done.text)
    assert plain(done.text).count(told) == 1, plain(done.text)


def test_the_closed_lot_page_says_a_withdrawal_leaves_the_final_report_sent(
    app: App, site: TestClient
) -> None:
    csrf = sign_in(site)
    clause_id = lot_01(app)[0]
    path = f"/clauses/{clause_id}/participants"
    recorded = site.post(
        f"{path}/sortie", data=outcome_form(csrf, "P-WEB-2", "cdi", "2026-04-30"),
        follow_redirects=False,
    )  # fmt: skip
    assert recorded.status_code == 303, plain(recorded.text)
    # Open, the page says what a withdrawal does to every figure still to come.
    assert "Une sortie retirée ne compte plus dans les synthèses ni les bilans." in plain(
        site.get(path).text
    )

    now = app.clock()
    with app.transaction() as session:
        advance_clause(
            session, clause_id, ClauseEvent.FINISH, actor="démo", reason=None, now=now,
            publish=no_publish, end_date=date(2026, 4, 30),
        )  # fmt: skip
        record_final_report(
            session, clause_id, text="Bilan.", actor="démo", now=now, publish=no_publish
        )
        advance_clause(
            session, clause_id, ClauseEvent.CLOSE, actor="démo", reason=None, now=now,
            publish=no_publish,
        )  # fmt: skip
    page = plain(site.get(path).text)
    assert (
        "Le lot étant clôturé, une sortie retirée ne compte plus dans les synthèses mensuelles "
        "ni dans le bilan annuel de sa date (une sortie corrigée y compte à sa nouvelle date) ; "
        "le bilan de l'opération déjà adressé au donneur d'ordre n'est pas modifié."
    ) in page, page
    assert "ne compte plus dans les synthèses ni les bilans" not in page
