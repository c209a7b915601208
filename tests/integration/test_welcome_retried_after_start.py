"""A welcome refused by the server (a wrong address), put back in the queue by the facilitator
after its lot's start was recorded: written for a start to record, it asked « Les travaux
devaient démarrer le 5 janvier 2027 : s'ils ont commencé, répondez … » of works the service
knows under way. The retry writes it again as the lot stands (``notices.rewrite_retried_welcome``),
as the start does for a welcome still waiting; a welcome of a lot still to start leaves as it
was written, its promise kept."""

from __future__ import annotations

import json
import re
from datetime import date

from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from tests.conftest import Clock
from tests.integration._ladders import make_lot
from tests.integration.test_dashboard import PASSWORD, sign_in
from tests.integration.test_welcome_promise import (
    assert_tells_the_lot_started as said_started,
)
from tests.integration.test_welcome_promise import (
    no_outbox_problem,
    paris,
    received,
    welcomes,
)
from tests.text import squash, visible
from workflow.adapters.orm import Correspondent, OutboxMessage
from workflow.app import mail, web_accounts
from workflow.app.clauses import advance_clause
from workflow.bootstrap import App, bootstrap
from workflow.domain.stages import ClauseEvent
from workflow.entrypoints.cli import cli as cli_group
from workflow.entrypoints.cli.common import CliState
from workflow.entrypoints.web.site import create_site
from workflow.services.clauses import advance_clause as advance
from workflow.services.clauses import record_final_report
from workflow.services.notices import WELCOME
from workflow.services.ticks import run_pass
from workflow.settings import Settings

NBSP = "\u00a0"
REFUSED = "Refus définitif : 550 5.1.1 Boîte aux lettres inconnue"


def refused_then_started(app: App, clock: Clock) -> tuple[int, int]:
    """Awarded on 31 March 2027 at 20:00 (works started on 5 January), its welcome refused by
    the server at once, the start recorded at 20:10: the lot's number and the welcome's."""
    awarded = paris(date(2027, 3, 31), 20)
    clock.set(awarded)
    lot = make_lot(app, start=date(2027, 1, 5), end=date(2027, 9, 30), at=awarded, started=False)
    [welcome] = welcomes(app)
    assert welcome.promise_facts is not None  # written for a start to record
    refuse(app, welcome.id)
    clock.set(paris(date(2027, 3, 31), 20, 10))
    advance_clause(app, lot.clause_id, ClauseEvent.START, reason=None)
    # Refused, it is not written again at the start: only a retry can send it.
    assert [(w.id, w.state) for w in welcomes(app)] == [(welcome.id, "failed")]
    return lot.clause_id, welcome.id


def refuse(app: App, message_id: int) -> None:
    with app.transaction() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(state="failed", next_attempt_at=None, last_error=REFUSED)
        )


def cli(settings: Settings, clock: Clock, *args: str) -> str:
    result = CliRunner().invoke(
        cli_group, list(args), obj=_state(settings, clock), catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return squash(result.output).replace(NBSP, " ")


def assert_tells_the_lot_started(text: str) -> None:
    said_started(text)
    assert re.search(r"un seul appel à déclarer vous les demandera le \d+", text), text


def test_a_welcome_retried_after_the_start_leaves_written_again_for_the_lot_started(
    app: App, clock: Clock, settings: Settings
) -> None:
    _, first_id = refused_then_started(app, clock)
    # The next morning the facilitator corrects the address and puts the welcome back.
    clock.set(paris(date(2027, 4, 1), 8, 20))
    with app.transaction() as session:
        for person in session.scalars(select(Correspondent)):
            person.email = "juste@example.org"

    said = cli(settings, clock, "mail", "retry", str(first_id))

    [first, again] = welcomes(app)
    assert first.id == first_id and first.state == "cancelled"
    assert first.last_error == (
        "Remplacé : remis en file le 1er avril 2027, après l'enregistrement du démarrage de "
        "l'exécution ; le même message d'accueil, écrit à nouveau avec les dates du lot démarré, "
        "part à sa place."
    )
    assert again.key == f"{first.key}~2" and again.state == "pending"
    assert (again.promised_until, again.promise_facts) == (None, None)
    assert again.recipients.endswith("<juste@example.org>")
    assert f"1 courriel(s) remis en file (n° {again.id})" in said, said
    assert (
        f"n° {first_id} : le démarrage de l'exécution a été enregistré depuis qu'il a été écrit ; "
        "ce message d'accueil a été écrit à nouveau avec les dates du lot démarré et part sous "
        f"le n° {again.id}."
    ) in said, said
    assert f"n° {again.id} : adressé aux adresses à jour" in said, said

    run_pass(app, paris(date(2027, 4, 1), 8, 30))

    [text] = received(settings, WELCOME)  # one welcome reached the company, the second one
    assert_tells_the_lot_started(text)
    assert [w.state for w in welcomes(app)] == ["cancelled", "sent"]
    # Put back twice: the withdrawn one is refused, nothing is written a third time.
    refused = CliRunner().invoke(
        cli_group, ["mail", "retry", str(first_id)], obj=_state(settings, clock)
    )
    assert refused.exit_code == 1 and "le service l'a retiré" in refused.output, refused.output
    assert len(welcomes(app)) == 2
    no_outbox_problem(app)


def _state(settings: Settings, clock: Clock) -> CliState:
    state = CliState()
    state.factory = lambda: bootstrap(settings, clock=clock)
    return state


def test_every_failed_retried_says_which_welcome_was_written_again(
    app: App, clock: Clock, settings: Settings
) -> None:
    _, first_id = refused_then_started(app, clock)
    clock.set(paris(date(2027, 4, 1), 8, 20))

    said = json.loads(cli(settings, clock, "mail", "retry", "--all-failed", "--json"))

    [_, again] = welcomes(app)
    assert said["remis_en_file"] == [again.id]
    assert said["ecrits_a_nouveau"] == {str(first_id): again.id}
    assert said["retires"] == {}
    run_pass(app, paris(date(2027, 4, 1), 8, 30))
    [text] = received(settings, WELCOME)
    assert_tells_the_lot_started(text)
    no_outbox_problem(app)


def test_a_welcome_retried_before_the_start_leaves_as_written(
    app: App, clock: Clock, settings: Settings
) -> None:
    """Its start still to record, the welcome's question holds: it leaves as it was written,
    the same email, its promise kept (``stale_promises`` writes it again if its day goes)."""
    awarded = paris(date(2027, 3, 31), 20)
    clock.set(awarded)
    make_lot(app, start=date(2027, 1, 5), end=date(2027, 9, 30), at=awarded, started=False)
    [welcome] = welcomes(app)
    refuse(app, welcome.id)
    clock.set(paris(date(2027, 3, 31), 21))

    [retried] = mail.retry_message(app, welcome.id)

    assert (retried.id, retried.leaving, retried.written_again_as) == (welcome.id, welcome.id, None)
    [row] = welcomes(app)
    assert (row.id, row.state, row.body_text) == (welcome.id, "pending", welcome.body_text)
    assert row.promise_facts == welcome.promise_facts
    run_pass(app, paris(date(2027, 3, 31), 21, 5))
    [text] = received(settings, WELCOME)
    assert "Les travaux devaient démarrer le 5 janvier 2027" in text, text
    no_outbox_problem(app)


def test_a_welcome_retried_from_the_email_log_after_the_start_is_told_written_again(
    app: App, clock: Clock, settings: Settings
) -> None:
    _, first_id = refused_then_started(app, clock)
    clock.set(paris(date(2027, 4, 1), 8, 20))
    web_accounts.add_user(app, login="camille", name="Camille Martin", password=PASSWORD)
    site = TestClient(create_site(app))
    csrf = sign_in(site)

    sent = site.post(f"/courriels/{first_id}/renvoyer", data={"csrf": csrf})

    [_, again] = welcomes(app)
    page = visible(sent.text)
    assert (
        f"Courriel n° {first_id} écrit à nouveau sous le n° {again.id} : le démarrage de "
        "l'exécution a été enregistré depuis qu'il a été écrit, ce message d'accueil donne "
        "maintenant les dates du lot démarré. Il part au prochain passage."
    ) in page.replace(NBSP, " "), page
    assert again.state == "pending"
    no_outbox_problem(app)


def closed(app: App, clock: Clock, clause_id: int) -> None:
    """The works ended on 30 June 2027, the final report recorded and the lot closed."""
    at = paris(date(2027, 7, 5), 10)
    clock.set(at)
    with app.transaction() as session:
        advance(
            session, clause_id, ClauseEvent.FINISH, actor="test", reason=None, now=at,
            publish=app.publish, end_date=date(2027, 6, 30),
        )  # fmt: skip
        record_final_report(
            session, clause_id, text="bilan", actor="test", now=at, publish=app.publish
        )
        advance(
            session, clause_id, ClauseEvent.CLOSE, actor="test", reason=None, now=at,
            publish=app.publish,
        )  # fmt: skip


def test_a_welcome_of_a_lot_closed_since_is_withdrawn_not_sent_from_the_email_log(
    app: App, clock: Clock, settings: Settings
) -> None:
    """Months later, the lot closed, « Renvoyer » on the welcome refused at the award: it would
    ask whether the works began, and list months to declare, of a lot that asks nothing any
    more. It is withdrawn, and the page says so."""
    clause_id, first_id = refused_then_started(app, clock)
    closed(app, clock, clause_id)
    web_accounts.add_user(app, login="camille", name="Camille Martin", password=PASSWORD)
    site = TestClient(create_site(app))
    csrf = sign_in(site)

    sent = site.post(f"/courriels/{first_id}/renvoyer", data={"csrf": csrf})

    [row] = welcomes(app)
    assert row.state == "cancelled" and row.last_error is not None
    assert row.last_error.startswith("Retiré : le lot est clôturé ou abandonné"), row.last_error
    page = visible(sent.text).replace(NBSP, " ")
    assert (
        "Ce courriel n'a pas été remis en file : le service l'a retiré, ce qu'il annonçait n'a "
        "plus lieu d'être (la raison est donnée plus bas)."
    ) in page, page
    assert "Retiré : le lot est clôturé ou abandonné" in page, page
    run_pass(app, paris(date(2027, 7, 5), 11))
    assert received(settings, WELCOME) == []
    no_outbox_problem(app)


def test_mail_retry_says_a_welcome_of_a_lot_closed_since_is_withdrawn(
    app: App, clock: Clock, settings: Settings
) -> None:
    clause_id, first_id = refused_then_started(app, clock)
    closed(app, clock, clause_id)

    said = cli(settings, clock, "mail", "retry", str(first_id))

    assert "remis en file" not in said, said
    assert said.startswith(
        f"n° {first_id} : retiré par le service, il ne partira pas. Retiré : le lot est clôturé "
        "ou abandonné depuis l'attribution ; ce courriel n'avait plus lieu d'être."
    ), said
    assert [w.state for w in welcomes(app)] == ["cancelled"]
