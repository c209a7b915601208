"""A company is told when a month it was called for is no longer asked, or asked again.

The user's case: the works ended on 15 October 2026; the facilitator records it on 3 December,
after the service called the company for November on 1 December. November's ladder stops, its
reminders are withdrawn (``test_finish_before_called_month``): the company, asked to declare
November, must hear that it has nothing to declare for it (``company_months_released``). The
end corrected later (a typo: 31/10 for 30/11), November is asked again: its next email is the
reminder at the step where it stood, days later; the company hears first that November is asked
again, by which date, and when the reminder leaves if it has not declared
(``company_months_owed_again``), the very dates the command prints and the passes then keep.

A month whose call never left needs no word; a month resuming at its call gets the call itself.
The web finish and the API finish (the same service) tell the company too. On the real
commands and passes of a simulated clock, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from tests.conftest import Clock, make_settings
from tests.integration._ladders import Lot, ladders, make_lot
from tests.integration.test_end_date_correction import (
    a_lot_finished_a_month_too_early,
    correct,
    steps_of,
)
from tests.integration.test_finish_before_called_month import a_lot_called_for_november
from tests.integration.test_finish_rewrites_reminder import october_and_november_waiting, row
from tests.integration.test_web_finish_released import finish_on_the_page, site
from tests.text import squash
from workflow.adapters.mail.memory import MemoryTransport
from workflow.adapters.orm import Company, Correspondent, OutboxMessage
from workflow.adapters.templates import french_date
from workflow.app import api_tokens
from workflow.app.audit import verify_database
from workflow.bootstrap import App, bootstrap
from workflow.domain.calendar import at_local, local_date
from workflow.entrypoints.cli import cli as cli_group
from workflow.entrypoints.cli.common import CliState
from workflow.entrypoints.web.site import create_site
from workflow.services.ticks import simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

NBSP = "\u00a0"
NOV = date(2026, 11, 1)
RELEASED = "company_months_released"
OWED_AGAIN = "company_months_owed_again"
NOTHING_FOR_NOVEMBER = (
    "Le mois de novembre 2026 vous avait été demandé ; il est postérieur à la fin d'exécution "
    "et n'est plus demandé. Vous n'avez rien à déclarer pour ce mois. Les rappels prévus pour "
    "ce mois sont annulés."
)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, escalation_offset=25)


@pytest.fixture
def app(settings: Settings, clock: Clock) -> Iterator[App]:
    application = bootstrap(settings, clock=clock)
    application.transport = MemoryTransport()
    yield application
    application.close()


def paris(day: date, hour: int, minute: int = 0) -> datetime:
    return at_local(day, time(hour, minute), Settings().zone)


def notices(app: App, kind: str) -> list[OutboxMessage]:
    with app.transaction() as session:
        found = list(
            session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
            )
        )
        for message in found:
            session.expunge(message)
        return found


def call_recipients(app: App, lot: Lot) -> str:
    """Whom November's call was written to: the ladder's reader."""
    with app.transaction() as session:
        return session.scalars(
            select(OutboxMessage.recipients)
            .where(OutboxMessage.key.like(f"reminder:{lot.clause_id}:%:call"))
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        ).one()


def finish(settings: Settings, clock: Clock, lot: Lot, at: datetime, end: str) -> str:
    clock.set(at)
    state = CliState()
    state.factory = lambda: bootstrap(settings, clock=clock)
    result = CliRunner().invoke(
        cli_group,
        ["clause", "advance", str(lot.clause_id), "achever", "--end-date", end],
        obj=state,
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return squash(result.output)


def test_finished_after_november_was_called_the_company_hears_it_has_nothing_to_declare(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot = a_lot_called_for_november(app)
    finished_at = paris(date(2026, 12, 3), 10)

    said = finish(settings, clock, lot, finished_at, "15/10/2026")

    company = lot.company_ids[0]
    assert said.endswith(
        f"Novembre 2026 n'est plus demandé à Bâtiments Test{NBSP}: l'exécution s'est achevée le "
        "15/10/2026."
    ), said
    [told] = notices(app, RELEASED)
    assert told.key == (
        f"notice:{lot.clause_id}:{RELEASED}:company-{company}@"
        f"{finished_at.astimezone(UTC).isoformat()}"
    )
    assert told.recipients == call_recipients(app, lot)
    assert squash(told.subject).startswith(
        "Fin d'exécution : déclaration de novembre 2026 plus demandée – "
    )
    text = squash(told.body_text)
    assert text.startswith("Bonjour ") and "L'exécution du lot " in text
    assert "s'est achevée le 15 octobre 2026 :" in text  # the date the command printed
    assert NOTHING_FOR_NOVEMBER in text
    assert "en cours d'envoi" not in text
    assert "Les mois jusqu'au 15 octobre 2026 ne changent pas" in text

    # The passes then: the notice leaves, November gets nothing more.
    simulate(app, date(2026, 12, 4), date(2027, 1, 15))
    [told] = notices(app, RELEASED)
    assert told.state == "sent"
    assert [step for step, *_ in steps_of(app, NOV)] == ["call"]
    # Finishing again is refused, and writes nothing.
    state = CliState()
    state.factory = lambda: bootstrap(settings, clock=clock)
    again = CliRunner().invoke(
        cli_group,
        ["clause", "advance", str(lot.clause_id), "achever", "--end-date", "15/10/2026"],
        obj=state,
    )
    assert again.exit_code != 0
    assert len(notices(app, RELEASED)) == 1
    assert [str(finding) for finding in verify_database(app).findings] == []


def test_no_word_for_a_month_whose_call_never_left_nor_for_one_called_again(
    app: App, settings: Settings, clock: Clock
) -> None:
    """November's call queued on 1 December, not sent yet, when the end is recorded: it is
    withdrawn (« Retiré … »), the company never heard of November. Corrected later, November is
    owed again but was never asked: the company is not told it is asked « again »; its call,
    sent again by the pass (``…:call~2``) on the day the command names, asks it."""
    lot = make_lot(
        app, start=date(2026, 9, 1), end=date(2027, 3, 31), at=paris(date(2026, 9, 1), 10)
    )
    simulate(app, date(2026, 9, 1), date(2026, 11, 30))
    simulate(app, date(2026, 12, 1), date(2026, 12, 1), dispatch=False)
    assert [(step, state) for step, _, state, _ in steps_of(app, NOV)] == [("call", "pending")]

    said = finish(settings, clock, lot, paris(date(2026, 12, 1), 10), "31/10/2026")

    assert "Novembre 2026 n'est plus demandé" in said
    assert notices(app, RELEASED) == []
    said = correct(settings, clock, lot, paris(date(2026, 12, 1), 11), "30/11/2026")
    assert said.endswith(
        f"Novembre 2026 est désormais demandé à Bâtiments Test{NBSP}: l'exécution s'est achevée "
        f"le 30/11/2026{NBSP}; novembre 2026{NBSP}: appel à déclaration le 02/12/2026 à 9\u00a0h, "
        "date limite le 11/12/2026."
    ), said
    assert notices(app, OWED_AGAIN) == []

    # The passes of that day, run twice: the call once, at its hour, with that due date.
    simulate(app, date(2026, 12, 2), date(2026, 12, 2))
    simulate(app, date(2026, 12, 2), date(2026, 12, 2))
    prefix = f"reminder:{lot.clause_id}:{lot.company_ids[0]}:2026-11:"
    with app.transaction() as session:
        calls = session.execute(
            select(OutboxMessage.key, OutboxMessage.state, OutboxMessage.created_at)
            .where(OutboxMessage.key.startswith(prefix))
            .order_by(OutboxMessage.id)
        ).all()
    assert [(key.removeprefix(prefix), state) for key, state, _ in calls] == [
        ("call", "cancelled"),
        ("call~2", "sent"),
    ]
    assert calls[1][2] == paris(date(2026, 12, 2), 9)
    [_, (_, _, _, call)] = steps_of(app, NOV)
    assert "le 11 décembre 2026" in call
    assert notices(app, OWED_AGAIN) == []


def test_a_later_end_tells_the_company_november_is_asked_again_with_the_dates_kept(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot, reminder_at, due_on = a_lot_finished_a_month_too_early(app, settings, clock)
    [released] = notices(app, RELEASED)  # the finish « le 31/10/2026 » told it
    assert NOTHING_FOR_NOVEMBER in squash(released.body_text)
    assert "s'est achevée le 31 octobre 2026" in squash(released.body_text)
    corrected_at = paris(date(2026, 12, 4), 10)

    said = correct(settings, clock, lot, corrected_at, "30/11/2026")

    # The dates the command prints (``owed_sentence``)...
    printed = re.search(
        r"novembre 2026\xa0: rappel n° 1 le (\d\d/\d\d/\d{4}) à \d{1,2}\u00a0h(?:\u00a0\d\d)?, date limite le "
        r"(\d\d/\d\d/\d{4})\.",
        said,
    )
    assert printed is not None, said
    reminder_day = local_date(reminder_at, app.settings.zone)
    assert printed.groups() == (f"{reminder_day:%d/%m/%Y}", f"{due_on:%d/%m/%Y}")
    # ... are the ones the company reads.
    [told] = notices(app, OWED_AGAIN)
    assert told.key.startswith(f"notice:{lot.clause_id}:{OWED_AGAIN}:company-")
    assert told.recipients == call_recipients(app, lot)
    assert squash(told.subject).startswith(
        "Fin d'exécution corrigée : déclaration de novembre 2026 de nouveau demandée – "
    )
    text = squash(told.body_text)
    assert (
        "a été corrigée : l'exécution s'est achevée le 30 novembre 2026, et non le 31 octobre "
        "2026 comme indiqué précédemment." in text
    ), text
    assert (
        "Ce mois, qui vous avait été demandé, vous est donc de nouveau demandé : "
        f"- novembre 2026 : à déclarer au plus tard le {french_date(due_on)} ; sans déclaration "
        f"d'ici là, un rappel vous sera envoyé le {french_date(reminder_day)}." in text
    ), text
    assert "Erreur de saisie" not in text  # the facilitator's reason is not the company's

    # The same date again: nothing written.
    correct(settings, clock, lot, paris(date(2026, 12, 4), 11), "30/11/2026")
    assert len(notices(app, OWED_AGAIN)) == 1

    # The passes keep those dates: the reminder leaves that day, with that due date.
    simulate(app, date(2026, 12, 5), reminder_day)
    steps = steps_of(app, NOV)
    assert [(step, state) for step, _, state, _ in steps] == [
        ("call", "sent"),
        ("reminder_1", "sent"),
    ]
    _, queued_at, _, reminder = steps[1]
    assert local_date(queued_at, app.settings.zone) == reminder_day
    assert f"Elle était attendue le {french_date(due_on)}." in reminder
    assert notices(app, OWED_AGAIN)[0].state == "sent"
    assert [str(finding) for finding in verify_database(app).findings] == []


def test_an_earlier_end_tells_the_company_november_is_no_longer_asked(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot = a_lot_called_for_november(app)
    finish(settings, clock, lot, paris(date(2026, 12, 3), 10), "30/11/2026")
    assert notices(app, RELEASED) == []  # November stays owed

    said = correct(settings, clock, lot, paris(date(2026, 12, 4), 10), "31/10/2026")

    assert "Novembre 2026 n'est plus demandé à Bâtiments Test" in said
    [told] = notices(app, RELEASED)
    text = squash(told.body_text)
    assert "s'est achevée le 31 octobre 2026 :" in text and NOTHING_FOR_NOVEMBER in text

    # Corrected later again, then earlier again: each change told once, November alone.
    correct(settings, clock, lot, paris(date(2026, 12, 4), 11), "30/11/2026")
    correct(settings, clock, lot, paris(date(2026, 12, 4), 12), "15/10/2026")
    assert len(notices(app, OWED_AGAIN)) == 1
    _, second = notices(app, RELEASED)
    assert NOTHING_FOR_NOVEMBER in squash(second.body_text)
    assert "s'est achevée le 15 octobre 2026 :" in squash(second.body_text)
    assert [str(finding) for finding in verify_database(app).findings] == []


def november_reminder_queued(app: App) -> tuple[Lot, int, date, date]:
    """November called on 1 December; its first reminder queued on the morning it is planned,
    not sent yet. The lot, the reminder's N°, that day and the due date the call gave."""
    lot = make_lot(
        app, start=date(2026, 9, 1), end=date(2027, 3, 31), at=paris(date(2026, 9, 1), 10)
    )
    simulate(app, date(2026, 9, 1), date(2026, 12, 2))
    [november] = [ladder for ladder in ladders(app) if ladder.month == NOV]
    assert november.next_step_at is not None and november.due_on is not None
    reminder_day = local_date(november.next_step_at, app.settings.zone)
    simulate(app, date(2026, 12, 3), reminder_day - timedelta(days=1))
    simulate(app, reminder_day, reminder_day, dispatch=False)
    with app.transaction() as session:
        [reminder] = session.scalars(
            select(OutboxMessage.id).where(OutboxMessage.key.endswith(":2026-11:reminder_1"))
        ).all()
    return lot, reminder, reminder_day, november.due_on


def test_a_month_the_reminders_cannot_take_up_again_is_left_to_the_facilitator(
    app: App, settings: Settings, clock: Clock
) -> None:
    """November's first reminder cancelled by the facilitator (``mail cancel``, « Annulé par
    … ») before it left, then the end recorded: owed again, its reminders stop there (the pass
    does not send again a step a person cancelled, the facilitator is told to remind the
    company): the company is given no date the service would not follow."""
    lot, reminder, reminder_day, _ = november_reminder_queued(app)
    clock.set(paris(reminder_day, 9, 30))
    cli_ok(settings, clock, "mail", "cancel", str(reminder), "--reason", "Fin des travaux")
    finish(settings, clock, lot, paris(reminder_day, 10), "31/10/2026")
    [released] = notices(app, RELEASED)
    assert NOTHING_FOR_NOVEMBER in squash(released.body_text)

    said = correct(settings, clock, lot, paris(reminder_day, 11), "30/11/2026")

    assert said.endswith(
        f"novembre 2026{NBSP}: son rappel n° 1 avait été annulé à la main avant de partir "
        f"(courriel n°{NBSP}{reminder}) et ne peut pas être envoyé de nouveau par les relances "
        f"automatiques, qui s'arrêtent là pour ce mois{NBSP}: relancez vous-même l'entreprise."
    ), said
    [told] = notices(app, OWED_AGAIN)
    text = squash(told.body_text)
    assert "- novembre 2026 : je vous contacterai pour convenir de sa déclaration." in text, text
    assert "au plus tard" not in text and "un rappel vous sera envoyé" not in text

    # The passes keep to it: nothing more for November, no reminder, no alert to the buyer.
    simulate(app, reminder_day, date(2027, 2, 26))
    assert [(step, state) for step, _, state, _ in steps_of(app, NOV)] == [
        ("call", "sent"),
        ("reminder_1", "cancelled"),
    ]


def test_a_reminder_the_finish_withdrew_is_given_its_day_again(
    app: App, settings: Settings, clock: Clock
) -> None:
    """The same reminder withdrawn by the finish itself (« Retiré … »), not by a person: owed
    again, the pass sends it again (``…:reminder_1~2``); the company reads the due date its
    call gave and the day that reminder leaves, the day the command prints and the pass keeps."""
    lot, _, reminder_day, due_on = november_reminder_queued(app)
    said = finish(settings, clock, lot, paris(reminder_day, 10), "31/10/2026")
    assert "1 courriel en attente retiré (rappel n° 1)" in said, said

    said = correct(settings, clock, lot, paris(reminder_day, 11), "30/11/2026")

    printed = re.search(
        r"novembre 2026\xa0: rappel n° 1 le (\d\d)/(\d\d)/(\d{4}) à 9\u00a0h, date limite le "
        r"(\d\d/\d\d/\d{4})\.$",
        said,
    )
    assert printed is not None, said
    day, month, year, due = printed.groups()
    again_on = date(int(year), int(month), int(day))
    assert again_on > reminder_day and due == f"{due_on:%d/%m/%Y}"
    [told] = notices(app, OWED_AGAIN)
    text = squash(told.body_text)
    assert (
        "- novembre 2026 : à déclarer dès que possible, la date limite était le "
        f"{french_date(due_on)} ; un rappel vous sera envoyé le {french_date(again_on)} si la "
        "déclaration n'est pas reçue d'ici là." in text
    ), text
    assert "je vous contacterai" not in text

    # The passes send it that day, at the call hour, once.
    simulate(app, reminder_day, again_on)
    simulate(app, again_on, again_on)
    prefix = f"reminder:{lot.clause_id}:{lot.company_ids[0]}:2026-11:"
    with app.transaction() as session:
        sent = session.execute(
            select(OutboxMessage.key, OutboxMessage.state, OutboxMessage.created_at)
            .where(OutboxMessage.key.startswith(prefix))
            .order_by(OutboxMessage.id)
        ).all()
    assert [(key.removeprefix(prefix), state) for key, state, _ in sent] == [
        ("call", "sent"),
        ("reminder_1", "cancelled"),
        ("reminder_1~2", "sent"),
    ]
    assert sent[2][2] == paris(again_on, 9)
    assert notices(app, OWED_AGAIN)[0].state == "sent"


def test_a_reminder_already_leaving_is_to_be_ignored(
    app: App, settings: Settings, clock: Clock
) -> None:
    """The reminder of October and November is on the wire when the end is recorded: it cannot
    be withdrawn nor written again; the company is told to ignore it for November."""
    lot, day, key = october_and_november_waiting(app, "reminder_1")
    with app.transaction() as session:
        session.execute(
            update(OutboxMessage).where(OutboxMessage.key == key).values(state="sending")
        )

    finish(settings, clock, lot, paris(day, 10), "31/10/2026")

    assert row(app, key).state == "sending"
    [told] = notices(app, RELEASED)
    text = squash(told.body_text)
    assert NOTHING_FOR_NOVEMBER in text
    assert (
        "Un courriel vous demandant encore novembre 2026 était déjà en cours d'envoi et n'a pas "
        "pu être retenu : s'il vous parvient, ne le prenez pas en compte." in text
    ), text


def test_the_web_and_the_api_finish_tell_the_company_too(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot, day, _ = october_and_november_waiting(app, "reminder_1")
    clock.set(paris(day, 10))
    client, csrf = site(app)

    finish_on_the_page(client, csrf, lot)

    [told] = notices(app, RELEASED)
    text = squash(told.body_text)
    assert "s'est achevée le 31 octobre 2026 :" in text and NOTHING_FOR_NOVEMBER in text


def test_the_api_finish_tells_the_company(app: App, clock: Clock) -> None:
    lot, day, _ = october_and_november_waiting(app, "reminder_1")
    clock.set(paris(day, 10))
    token, _ = api_tokens.create_token(app, name="Logiciel du PLIE", read_only=False)
    client = TestClient(create_site(app))

    moved = client.post(
        f"/api/v1/clauses/{lot.clause_id}/avancer",
        headers={"Authorization": f"Bearer {token}"},
        json={"evenement": "achever", "date_fin": "2026-10-31"},
    )

    assert moved.status_code == 200, moved.text
    [told] = notices(app, RELEASED)
    assert NOTHING_FOR_NOVEMBER in squash(told.body_text)


def finished_with_a_notice(
    app: App, settings: Settings, clock: Clock
) -> tuple[Lot, OutboxMessage, int, str]:
    """November released on 3 December: its notice waiting; the lot, the notice, the
    correspondent's N° and name."""
    lot = a_lot_called_for_november(app)
    finish(settings, clock, lot, paris(date(2026, 12, 3), 10), "15/10/2026")
    [told] = notices(app, RELEASED)
    assert told.state == "pending"
    with app.transaction() as session:
        person = session.get_one(Company, lot.company_ids[0]).correspondents[0]
        return lot, told, person.id, person.name


def cli_ok(settings: Settings, clock: Clock, *args: str) -> str:
    state = CliState()
    state.factory = lambda: bootstrap(settings, clock=clock)
    result = CliRunner().invoke(cli_group, list(args), obj=state, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return squash(result.output)


def test_a_waiting_notice_follows_the_correspondent_s_corrected_address(
    app: App, settings: Settings, clock: Clock
) -> None:
    _, told, number, name = finished_with_a_notice(app, settings, clock)

    cli_ok(settings, clock, "company", "correspondent-edit", str(number), "--email",
           "neuve@titulaire.fr", "--actor", "Camille Martin")  # fmt: skip

    assert row(app, told.key).recipients == f"{name} <neuve@titulaire.fr>"


def test_mail_retry_sends_a_refused_notice_to_the_correspondent_not_the_buyer(
    app: App, settings: Settings, clock: Clock
) -> None:
    _, told, number, name = finished_with_a_notice(app, settings, clock)
    with app.transaction() as session:
        session.execute(
            update(OutboxMessage).where(OutboxMessage.id == told.id).values(state="failed")
        )
        session.get_one(Correspondent, number).email = "autre@titulaire.fr"

    cli_ok(settings, clock, "mail", "retry", str(told.id))

    assert row(app, told.key).recipients == f"{name} <autre@titulaire.fr>"


def test_a_merge_renames_the_notice_s_key_and_the_audit_accepts_it(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot, told, _, _ = finished_with_a_notice(app, settings, clock)
    source = lot.company_ids[0]
    with app.transaction() as session:
        kept = Company(
            name="Bâtiments Test SAS",
            created_at=told.created_at,
            correspondents=[Correspondent(name="Léa Garcia", email="lea.garcia@example.org")],
        )
        session.add(kept)
        session.flush()
        target = kept.id

    cli_ok(settings, clock, "company", "merge", str(source), "--into", str(target),
           "--actor", "Camille Martin", "--reason", "doublon")  # fmt: skip

    [renamed] = notices(app, RELEASED)
    assert renamed.key == told.key.replace(f":company-{source}@", f":company-{target}@")
    assert [str(finding) for finding in verify_database(app).findings] == []
