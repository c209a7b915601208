"""A reminder waiting for a month still owed and a month the finish releases is written again.

The user's case: a lot started on 1 October 2026, its start recorded on 1 December; the pass
calls the company once for October and November (a catch-up call, one due date), so their
reminders leave together: one email « rappel n° 1 » for both. The works ended on 31 October,
recorded the morning that reminder waits in the outbox. November is no longer owed
(``lot_ends``); October still is. The waiting reminder would ask for November, whose form is then
refused: it is withdrawn, its reason kept, and the same reminder written again for October only
leaves in its place, at the same time, to the same person, under the key of October's step.

On the real passes of a simulated clock, the finish through the command line, the link through
the real web pages; on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from urllib.parse import urlparse

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update

from tests.conftest import Clock, make_settings
from tests.integration._ladders import Lot, ladder_emails, ladders, make_lot
from tests.integration.ladder_invariants import ladder_violations
from tests.text import squash, visible
from workflow.adapters.mail.memory import MemoryTransport
from workflow.adapters.orm import (
    AwardParty,
    ClauseHistory,
    Correspondent,
    Declaration,
    OutboxMessage,
)
from workflow.adapters.templates import remembered_date
from workflow.app.audit import verify_database
from workflow.bootstrap import App, bootstrap
from workflow.domain.calendar import LadderStep, at_local, local_date
from workflow.emails.digest import Category
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.entrypoints.web.site import create_site
from workflow.services.digest import compile_digest, compile_tasks
from workflow.services.reminder_emails import key_months, ladder_history
from workflow.services.ticks import simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

NBSP = "\u00a0"
OCT, NOV = date(2026, 10, 1), date(2026, 11, 1)
COMPANY = "Bâtiments Test"
EMPTY = {"reference": [""], "hours": [""], "contract": [""], "mode": [""], "criterion": [""]}


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


@pytest.fixture
def app(settings: Settings, clock: Clock) -> Iterator[App]:
    application = bootstrap(settings, clock=clock)
    application.transport = MemoryTransport()
    yield application
    application.close()


def sent_keys(app: App) -> list[str]:
    transport = app.transport
    assert isinstance(transport, MemoryTransport)
    return transport.keys()


def paris(day: date, hour: int, minute: int = 0) -> datetime:
    return at_local(day, time(hour, minute), Settings().zone)


def run_cli(settings: Settings, clock: Clock, *args: str) -> tuple[int, str]:
    state = CliState()
    state.factory = lambda: bootstrap(settings, clock=clock)
    result = CliRunner().invoke(cli, list(args), obj=state, catch_exceptions=False)
    return result.exit_code, result.output


def finish(settings: Settings, clock: Clock, lot: Lot, *extra: str) -> tuple[int, str]:
    return run_cli(settings, clock, "clause", "advance", str(lot.clause_id), "achever",
                   "--end-date", "31/10/2026", *extra)  # fmt: skip


def row(app: App, key: str) -> OutboxMessage:
    with app.transaction() as session:
        found = session.scalars(select(OutboxMessage).where(OutboxMessage.key == key)).one()
        session.expunge(found)
        return found


def step_day(app: App, month: date) -> date:
    """The local day the next step of ``month``'s ladder leaves."""
    [ladder] = [lad for lad in ladders(app) if lad.month == month]
    assert ladder.next_step_at is not None
    return local_date(ladder.next_step_at, app.settings.zone)


def assert_each_step_once(app: App, lot: Lot) -> None:
    """The ladder's invariants hold; each month got each step once: the email withdrawn does not
    count for October, the one written again does (what the buyer's alert and the day's tasks
    read, ``ladder_history``)."""
    with app.transaction() as session:
        problems = ladder_violations(session, app.settings, exact=True)
        history = ladder_history(session, [lot.clause_id])
    assert problems == []
    assert history and all(
        len({e.step for e in emails}) == len(emails) for emails in history.values()
    )


def october_and_november_waiting(app: App, step: str) -> tuple[Lot, date, str]:
    """The catch-up call of 2 December for October and November, then their ``step`` queued
    together, not sent yet; the lot, that day, and the waiting email's key."""
    lot = make_lot(app, start=OCT, end=date(2027, 3, 31), at=paris(date(2026, 12, 1), 10))
    simulate(app, date(2026, 12, 1), date(2026, 12, 2))
    prefix = f"reminder:{lot.clause_id}:{lot.company_ids[0]}"
    assert [m.key for m in ladder_emails(app)] == [f"{prefix}:2026-10..2026-11:call"]
    while True:
        day = step_day(app, OCT)
        assert step_day(app, NOV) == day  # one due date: their steps leave together
        [ladder] = [lad for lad in ladders(app) if lad.month == OCT]
        if ladder.next_step == step:
            break
        simulate(app, day, day)
    simulate(app, date(2026, 12, 3), day - timedelta(days=1))
    simulate(app, day, day, dispatch=False)  # queued at 9:00, not sent yet
    key = f"{prefix}:2026-10..2026-11:{step}"
    waiting = row(app, key)
    assert waiting.state == "pending"
    assert "d'octobre et de novembre 2026" in squash(waiting.subject)
    return lot, day, key


def test_a_reminder_for_october_and_november_leaves_again_for_october_only(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot, day, old_key = october_and_november_waiting(app, "reminder_1")
    old = row(app, old_key)
    clock.set(paris(day, 10))

    code, said = finish(settings, clock, lot, "--reason", "Réception des travaux")

    sentence = (
        f"Novembre 2026 n'est plus demandé à {COMPANY}{NBSP}: l'exécution s'est achevée le "
        f"31/10/2026{NBSP}; 1 courriel en attente écrit à nouveau sans novembre 2026 "
        "(rappel n° 1)."
    )
    assert code == 0, said
    assert squash(said) == (
        f"Clause n° {lot.clause_id} : mise en œuvre → suivi et bilan {sentence}"
    )
    with app.transaction() as session:
        reason = session.scalars(
            select(ClauseHistory.reason).where(
                ClauseHistory.clause_id == lot.clause_id, ClauseHistory.event == "finish"
            )
        ).one()
    assert reason == f"Réception des travaux. {sentence}"

    # The first one withdrawn, with why; the new one keyed by October's step, same person,
    # same moment.
    withdrawn = row(app, old_key)
    assert (withdrawn.state, withdrawn.next_attempt_at, withdrawn.sent_at) == (
        "cancelled",
        None,
        None,
    )
    assert withdrawn.last_error == (
        f"Remplacé{NBSP}: l'exécution s'est achevée le 31/10/2026, novembre 2026 n'est plus "
        f"demandé{NBSP}; le même courriel, écrit à nouveau pour octobre 2026 seulement, part à "
        "sa place."
    )
    new_key = old_key.replace("2026-10..2026-11", "2026-10")
    new = row(app, new_key)
    parsed = key_months(new.key)
    assert parsed is not None and (parsed.months, parsed.step) == ((OCT,), "reminder_1")
    assert (new.kind, new.state, new.recipients) == (old.kind, "pending", old.recipients)
    assert (new.created_at, new.next_attempt_at) == (old.created_at, old.next_attempt_at)

    # What the company reads: October, its due date (the call's), its link; never November.
    [october] = [lad for lad in ladders(app) if lad.month == OCT]
    assert october.due_on == date(2026, 12, 11)
    assert squash(new.subject).startswith(
        "Rappel : déclaration des heures d'insertion d'octobre 2026 attendue le 11 décembre 2026"
    )
    text = squash(new.body_text)
    assert (
        f"je n'ai pas encore reçu la déclaration des heures d'insertion d'octobre 2026 de "
        f"{COMPANY} pour le lot 1 «{NBSP}Gros œuvre{NBSP}». Elle était attendue le 11 décembre "
        "2026."
    ) in text
    for part in (new.subject, new.body_text, new.body_html):
        assert "novembre" not in part.lower()
    links = re.findall(r"https?://\S+/declarer/\S+", new.body_text)
    assert len(links) == 1 and "- octobre 2026 : " in text

    # The passes of the day, twice: the new one leaves once, the first one never.
    simulate(app, day, day)
    simulate(app, day, day)
    assert sent_keys(app).count(new_key) == 1
    assert old_key not in sent_keys(app)
    assert row(app, new_key).state == "sent"

    # Finishing again changes nothing (refused: the lot is already finished).
    before = [(m.key, m.state) for m in ladder_emails(app)]
    code, said = finish(settings, clock, lot)
    assert code != 0, said
    assert [(m.key, m.state) for m in ladder_emails(app)] == before

    # Its link opens October's page, for this company, and declares it.
    path = urlparse(links[0]).path
    clock.set(paris(day, 15))
    client = TestClient(create_site(app))
    page = client.get(path)
    assert page.status_code == 200
    shown = visible(page.text)
    assert "Heures d'insertion d'octobre 2026" in shown and COMPANY in shown
    data: dict[str, object] = {**EMPTY, "action": "confirmer", "zero": "1"}
    assert client.post(path, data=data, follow_redirects=False).status_code == 303
    with app.transaction() as session:
        months = session.scalars(
            select(Declaration.month).where(Declaration.clause_id == lot.clause_id)
        ).all()
    assert months == [OCT]

    # Nothing more for either month, and the books agree.
    simulate(app, day + timedelta(days=1), date(2027, 2, 26))
    owed_steps = sorted(
        parsed.step
        for m in ladder_emails(app)
        if (parsed := key_months(m.key)) is not None and m.state != "cancelled"
    )
    assert owed_steps == ["call", "reminder_1"]
    assert all(sent_keys(app).count(key) == 1 for key in set(sent_keys(app)))
    assert_each_step_once(app, lot)
    assert [str(finding) for finding in verify_database(app).findings] == []


def test_a_last_reminder_written_again_gives_the_day_the_buyer_is_really_alerted(
    app: App, settings: Settings, clock: Clock
) -> None:
    """The last reminder tells the day the buyer is alerted: written again, it still tells the
    day October's alert really leaves, and that alert, for October only, lists the reminder
    written again as sent."""
    lot, day, old_key = october_and_november_waiting(app, "reminder_2")
    clock.set(paris(day, 10))

    code, said = finish(settings, clock, lot, "--json")

    assert code == 0, said
    [released] = json.loads(said)["mois_plus_demandes"]
    assert (released["mois"], released["courriels_retires"]) == (["2026-11"], [])
    assert (released["courriels_ecrits_a_nouveau"], released["sans"]) == (
        ["rappel n° 2"],
        ["2026-11"],
    )
    new_key = old_key.replace("2026-10..2026-11", "2026-10")
    told = re.search(
        r"je devrai en informer .*? le (\S+ \S+ \d{4}),", squash(row(app, new_key).body_text)
    )
    assert told is not None
    assert row(app, old_key).state == "cancelled"

    simulate(app, day, date(2027, 2, 26))

    [alert] = [
        m
        for m in ladder_emails(app)
        if (parsed := key_months(m.key)) is not None and parsed.step == LadderStep.ESCALATION
    ]
    assert alert.key == new_key.replace(":reminder_2", ":escalation")
    assert told.group(1) == remembered_date(local_date(alert.created_at, app.settings.zone))
    text = squash(alert.body_text)
    assert "octobre 2026" in text and "novembre" not in text.lower()
    sent_at = row(app, new_key).sent_at
    assert sent_at is not None
    assert f"envoyé le {remembered_date(local_date(sent_at, app.settings.zone))}" in text
    assert "annulé" not in text
    assert old_key not in sent_keys(app) and sent_keys(app).count(new_key) == 1
    # The day's tasks, as the email and as the page (its few lines read on their own), say so.
    said_sent = f"rappel n° 2 envoyé le {remembered_date(local_date(sent_at, app.settings.zone))}"
    now = paris(date(2027, 2, 26), 8)
    with app.transaction() as session:
        digest = compile_digest(session, now, app.settings)
        page = compile_tasks(session, now, app.settings, 10)
    for items in (digest.items, [i for section in page.sections for i in section.items]):
        [late] = [i for i in items if i.category is Category.DECLARATION]
        assert "octobre 2026" in late.title and said_sent in late.detail, late.detail
        assert "annulé" not in late.detail
    assert_each_step_once(app, lot)
    assert [str(finding) for finding in verify_database(app).findings] == []


def test_a_reminder_held_back_by_an_outage_is_written_again_held_back_the_same_way(
    app: App, settings: Settings, clock: Clock
) -> None:
    """Waiting for the mail server (« Envoi impossible : … », retried later): the reminder
    written again waits the same way, so it leaves with the others when the server answers."""
    lot, day, old_key = october_and_november_waiting(app, "reminder_1")
    retry = paris(day, 15)
    outage = "Envoi impossible : serveur SMTP injoignable (connexion refusée)"
    with app.transaction() as session:
        held = session.scalars(select(OutboxMessage).where(OutboxMessage.key == old_key)).one()
        held.last_error, held.next_attempt_at = outage, retry
    clock.set(paris(day, 10))

    code, said = finish(settings, clock, lot)

    assert code == 0, said
    new = row(app, old_key.replace("2026-10..2026-11", "2026-10"))
    assert (new.state, new.last_error, new.next_attempt_at) == ("pending", outage, retry)
    assert row(app, old_key).state == "cancelled"


def test_a_reminder_that_cannot_be_written_again_is_named_for_the_facilitator_to_cancel(
    app: App, settings: Settings, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """The company has nobody to write to any more: the reminder naming November cannot be
    written again. It stays as it was, and the command says which email it is and how to
    cancel it; the log says why."""
    lot, day, old_key = october_and_november_waiting(app, "reminder_1")
    old = row(app, old_key)
    with app.transaction() as session:
        session.execute(
            update(AwardParty)
            .where(AwardParty.clause_id == lot.clause_id)
            .values(correspondent_id=None)
        )
        session.execute(delete(Correspondent).where(Correspondent.company_id.in_(lot.company_ids)))
    clock.set(paris(day, 10))

    code, said = finish(settings, clock, lot)

    assert code == 0, said
    assert squash(said).endswith(
        f"Novembre 2026 n'est plus demandé à {COMPANY}{NBSP}: l'exécution s'est achevée le "
        f"31/10/2026{NBSP}; 1 courriel en attente demande encore novembre 2026 et n'a pas pu "
        f"être écrit à nouveau (rappel n° 1, courriel n°{NBSP}{old.id}){NBSP}: annulez-le depuis "
        "le journal des courriels s'il ne doit pas partir. Pour l'annuler : clauses mail cancel "
        f"{old.id} --reason « … »"
    ), said
    assert row(app, old_key).state == "pending"
    assert [r.error for r in caplog.records if getattr(r, "action", "") == (  # type: ignore[attr-defined]
        "ladder.rewrite_failed"
    )] == ["no correspondent to write to"]  # fmt: skip
    code, said = finish(settings, clock, lot, "--json")
    assert code != 0  # the lot is finished: nothing more to do, nothing changed


def test_a_reminder_refused_for_good_stays_among_the_undelivered(
    app: App, settings: Settings, clock: Clock
) -> None:
    """Refused for good by the mail server (« Refus définitif »): it will not leave, and stays
    among the facilitator's undelivered emails; no copy goes to the same address."""
    lot, day, old_key = october_and_november_waiting(app, "reminder_1")
    refused = "Refus définitif : 550 boîte inconnue"
    with app.transaction() as session:
        held = session.scalars(select(OutboxMessage).where(OutboxMessage.key == old_key)).one()
        held.state, held.last_error, held.next_attempt_at = "failed", refused, None
    clock.set(paris(day, 10))

    code, said = finish(settings, clock, lot)

    assert code == 0, said
    assert "écrit à nouveau" not in said and "demande encore" not in said
    assert (row(app, old_key).state, row(app, old_key).last_error) == ("failed", refused)
    rewrite = old_key.replace("2026-10..2026-11", "2026-10")
    with app.transaction() as session:
        copies = session.scalars(
            select(OutboxMessage.key).where(OutboxMessage.key == rewrite)
        ).all()
    assert copies == []
