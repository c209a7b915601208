"""A company's welcome whose first call held only for a start recorded by a day gone is written
again when it leaves (SQLite and PostgreSQL).

An award recorded on the evening of 31 March 2027, its works started on 5 January: the welcome
said « Si j'enregistre le démarrage au plus tard le 31 mars 2027, cet appel partira le 1er avril
2027 » and left with the next morning's pass, when that day had gone and the start was not
recorded (user trial, 7 December 2026). It now leaves written as it stands that morning: the
call it announces is the one the facilitator's digest of the same morning announces, and the
one the company gets once the start is recorded that day. A welcome that leaves in time is sent
as written. A welcome still waiting when the start is recorded is written again at once for the
lot started: it asked about a start recorded and proposed a start-up meeting behind it.
"""

from __future__ import annotations

import email
import email.policy
import re
from datetime import date, datetime, time, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import Clock, make_settings
from tests.integration._ladders import ladder_emails, make_lot
from tests.text import squash
from workflow.adapters.orm import DeclarationLadder, OutboxMessage
from workflow.adapters.templates import french_date
from workflow.app.clauses import advance_clause
from workflow.bootstrap import App
from workflow.domain.calendar import at_local, local_date
from workflow.domain.stages import ClauseEvent
from workflow.emails.ladder import KIND_CALL
from workflow.services.audit.outbox import check_outbox
from workflow.services.notices import AWARDED_NOTICE, WELCOME
from workflow.services.ticks import run_pass
from workflow.settings import Settings

NBSP = "\u00a0"
MONTHS = [
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
]  # fmt: skip
#: The welcome's first call: « cet appel partira le 2 avril 2027, à m'envoyer au plus tard le
#: 13 avril 2027 ».
WELCOME_CALL = re.compile(
    r"cet appel partira le (?P<call>\d+(?:er)? \w+ \d{4}), à m'envoyer au plus tard le "
    r"(?P<due>\d+(?:er)? \w+ \d{4})"
)
#: The digest's task: « leur seront demandés ensemble le 2 avril 2027, à déclarer au plus tard
#: le 13 avril 2027 ».
DIGEST_CALL = re.compile(
    r"demandés ensemble le (?P<call>\d+(?:er)? \w+ \d{4}), à déclarer au plus tard le "
    r"(?P<due>\d+(?:er)? \w+ \d{4})"
)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


def paris(day: date, hour: int, minute: int = 0) -> datetime:
    return at_local(day, time(hour, minute), Settings().zone)


def day_of(text: str) -> date:
    day, month, year = text.split()
    return date(int(year), MONTHS.index(month) + 1, int(day.removesuffix("er")))


def received(settings: Settings, kind: str) -> list[str]:
    """The plain text of each email of ``kind`` the dispatcher wrote, as a mail client reads
    it."""
    texts = []
    for path in sorted((settings.mail_dir / kind).glob("*.eml")):
        message = email.message_from_bytes(
            path.read_bytes(), _class=EmailMessage, policy=email.policy.default
        )
        body = message.get_body(preferencelist=("plain",))
        assert body is not None
        texts.append(squash(body.get_content()).replace(NBSP, " "))
    return texts


def welcomes(app: App, kind: str = WELCOME) -> list[OutboxMessage]:
    with app.transaction() as session:
        found = list(
            session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
            )
        )
        session.expunge_all()
        return found


#: What a welcome written for a start to record says, untrue once the start is recorded.
UNTRUE_AFTER_START = (
    "Si j'enregistre le démarrage",
    "devaient démarrer",
    "une fois le démarrage",
    "réunion de démarrage",  # the start-up meeting is behind a start recorded
)


def assert_tells_the_lot_started(text: str) -> None:
    """A welcome written for the lot started: nothing asked of its start, the first point on
    the works under way proposed instead of the start-up meeting."""
    for untrue in UNTRUE_AFTER_START:
        assert untrue not in text, text
    assert (
        "Les travaux ont commencé : je vous propose un premier point sur la mise en œuvre de la "
        "clause (recrutements, candidatures à vérifier) ; répondez à ce message avec vos "
        "disponibilités. Merci pour votre engagement. --"
    ) in text, text


def no_outbox_problem(app: App) -> None:
    """``audit verify``'s outbox check: every email written again has a cause it can read."""
    with app.transaction() as session:
        _, findings = check_outbox(session)
    assert findings == []


def test_a_welcome_leaving_after_its_day_announces_the_call_a_start_recorded_then_gets(
    app: App, clock: Clock, settings: Settings
) -> None:
    # Awarded on Wednesday 31 March 2027 at 20:00, its works started on 5 January.
    awarded = paris(date(2027, 3, 31), 20)
    clock.set(awarded)
    lot = make_lot(app, start=date(2027, 1, 5), end=date(2027, 9, 30), at=awarded, started=False)
    [first] = welcomes(app)
    assert first.promised_until == paris(date(2027, 4, 1), 0)

    # The next morning's pass: the digest at 08:00, then the welcome leaves.
    morning = paris(date(2027, 4, 1), 8, 30)
    clock.set(morning)
    run_pass(app, morning)

    [withdrawn, again] = welcomes(app)
    assert (withdrawn.id, withdrawn.state) == (first.id, "cancelled")
    assert withdrawn.last_error is not None
    assert withdrawn.last_error.startswith(f"Remplacé{NBSP}: il annonçait le 31 mars 2027")
    assert again.state == "sent" and again.key == f"{first.key}~2"
    [text] = received(settings, WELCOME)  # one welcome reached the company
    assert "au plus tard le 31 mars 2027" not in text
    assert "Si j'enregistre le démarrage aujourd'hui même, le 1er avril 2027, cet" in text, text
    said = WELCOME_CALL.search(text)
    assert said is not None, text
    # Its template is attached again, for the three months owed.
    with app.transaction() as session:
        again_row = session.get_one(OutboxMessage, again.id)
        assert (
            [a.filename for a in again_row.attachments]
            == [a.filename for a in session.get_one(OutboxMessage, first.id).attachments]
            != []
        )

    # The digest of the same morning announces the same call.
    [digest] = received(settings, "facilitator_digest")
    task = DIGEST_CALL.search(digest)
    assert task is not None, digest
    assert (task["call"], task["due"]) == (said["call"], said["due"])

    # The facilitator records the start that morning: the call leaves on the day announced,
    # with the due date announced.
    clock.set(paris(date(2027, 4, 1), 10))
    advance_clause(app, lot.clause_id, ClauseEvent.START, reason=None)
    call_day = day_of(said["call"])
    run_pass(app, paris(call_day, 9, 30))
    calls = [m for m in ladder_emails(app) if m.kind == KIND_CALL]
    assert {local_date(m.created_at, settings.zone) for m in calls} == {call_day}
    with app.transaction() as session:
        dues = set(session.scalars(select(DeclarationLadder.due_on)))
        months = set(session.scalars(select(DeclarationLadder.month)))
    assert dues == {day_of(said["due"])}
    assert months == {date(2027, 1, 1), date(2027, 2, 1), date(2027, 3, 1)}
    no_outbox_problem(app)


@pytest.mark.parametrize(
    "started",
    [date(2027, 3, 31), date(2027, 4, 1)],
    ids=["the-same-evening", "the-next-morning"],
)
def test_a_start_recorded_before_the_welcome_and_the_award_notice_leave_is_said_by_both(
    app: App, clock: Clock, settings: Settings, started: date
) -> None:
    awarded = paris(date(2027, 3, 31), 20)
    clock.set(awarded)
    lot = make_lot(app, start=date(2027, 1, 5), end=date(2027, 9, 30), at=awarded, started=False)
    # The start recorded ten minutes after the award, or the next morning before the pass.
    clock.set(paris(started, 20, 10) if started == awarded.date() else paris(started, 8, 20))
    advance_clause(app, lot.clause_id, ClauseEvent.START, reason=None)
    day = french_date(started)
    [withdrawn, notice] = welcomes(app, AWARDED_NOTICE)
    assert withdrawn.state == "cancelled" and withdrawn.last_error == (
        f"Remplacé : le démarrage de l'exécution a été enregistré le {day} avant le "
        "départ de ce courriel ; le même avis, qui le dit, part à sa place."
    )
    morning = paris(date(2027, 4, 1), 8, 30)
    clock.set(morning)
    run_pass(app, morning)

    # The buyer: the award, then the start, never « dont je vous informerai » beside it.
    [award_text] = received(settings, AWARDED_NOTICE)
    assert "dont je vous informerai" not in award_text
    assert (
        f"Le démarrage de l'exécution a été enregistré le {day} : mon message suivant vous "
        "l'annonce."
    ) in award_text
    assert notice.state == "pending" and welcomes(app, AWARDED_NOTICE)[1].state == "sent"
    [text] = received(settings, WELCOME)
    # Either way the welcome, still waiting, is written again at the start, as the lot now
    # stands: the ladder's dates as facts, nothing asked of a start recorded (it said « Les
    # travaux devaient démarrer le 5 janvier 2027 : s'ils ont commencé, répondez … » and
    # « à déclarer une fois le démarrage enregistré »). Written once: it promises nothing more.
    [first_welcome, welcome] = welcomes(app)
    assert first_welcome.state == "cancelled" and first_welcome.last_error == (
        f"Remplacé : le démarrage de l'exécution a été enregistré le {day} avant le départ de "
        "ce courriel ; le même message d'accueil, écrit à nouveau avec les dates du lot démarré, "
        "part à sa place."
    )
    assert welcome.key == f"{first_welcome.key}~2" and welcome.state == "sent"
    assert (welcome.promised_until, welcome.promise_facts) == (None, None)
    assert_tells_the_lot_started(text)
    said: re.Match[str] | None = re.search(
        r"un seul appel à déclarer vous les demandera le (?P<call>\d+(?:er)? \w+ \d{4}), "
        r"à envoyer au plus tard le (?P<due>\d+(?:er)? \w+ \d{4})",
        text,
    )
    assert said is not None, text
    call_day = day_of(said["call"])
    run_pass(app, paris(call_day, 9, 30))
    calls = [m for m in ladder_emails(app) if m.kind == KIND_CALL]
    assert {local_date(m.created_at, settings.zone) for m in calls} == {call_day}
    with app.transaction() as session:
        assert set(session.scalars(select(DeclarationLadder.due_on))) == {day_of(said["due"])}
    no_outbox_problem(app)


def test_a_welcome_leaving_in_time_is_sent_as_written(
    app: App, clock: Clock, settings: Settings
) -> None:
    awarded = paris(date(2026, 3, 16), 10)
    clock.set(awarded)
    make_lot(app, start=date(2026, 4, 1), end=date(2026, 12, 31), at=awarded, started=False)
    [first] = welcomes(app)
    # April's call on Monday 4 May, for a start recorded by Sunday 3 May.
    assert first.promised_until == paris(date(2026, 5, 4), 0)
    later = awarded + timedelta(minutes=30)
    clock.set(later)
    run_pass(app, later)
    [row] = welcomes(app)
    assert (row.id, row.key, row.state, row.body_text) == (
        first.id,
        first.key,
        "sent",
        first.body_text,
    )
    [text] = received(settings, WELCOME)
    assert "Si l'exécution démarre comme prévu le 1er avril 2026" in text, text


def test_a_start_recorded_ahead_of_its_date_keeps_the_start_up_meeting_to_fix(
    app: App, clock: Clock, settings: Settings
) -> None:
    """Awarded on 20 March 2026 for works starting on 1 April, the start recorded the same
    morning ahead of its date (as the sample does): the welcome, still waiting, is written
    again for the lot started, and still proposes the start-up meeting, never « Les travaux
    ont commencé » of works to begin in twelve days."""
    awarded = paris(date(2026, 3, 20), 10)
    clock.set(awarded)
    lot = make_lot(app, start=date(2026, 4, 1), end=date(2026, 12, 31), at=awarded, started=False)
    clock.set(paris(date(2026, 3, 20), 10, 30))
    advance_clause(app, lot.clause_id, ClauseEvent.START, reason=None)
    [first, welcome] = welcomes(app)
    assert first.state == "cancelled" and welcome.key == f"{first.key}~2"
    text = squash(welcome.body_text).replace(NBSP, " ")
    assert "Les travaux ont commencé" not in text, text
    assert (
        "Je vous propose de fixer ensemble la réunion de démarrage : répondez à ce message avec "
        "vos disponibilités."
    ) in text, text
    assert "Si l'exécution démarre" not in text and "Si j'enregistre" not in text, text
    no_outbox_problem(app)
