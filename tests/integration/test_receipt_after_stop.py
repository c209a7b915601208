"""A receipt that waited through a long stop of the service agrees with the call that leaves
with it the morning the service restarts.

Found by a walk-through: February declared on Thursday 5 March, the service stopped the next
morning, its receipt still waiting (« Prochaine déclaration : mars 2026, … au plus tard le
10 avril 2026 »). Restarted on Monday 18 May: March and April opened late, their call left at
09:00 with a new due date (« au plus tard le 27 mai 2026 »), and the old receipt left at 07:00
still giving 10 April, already past, as a date to come. The company read two dates for March the
same morning.

Invariant, on the morning of the restart: each month both the receipt and the call name is due
on the same date in both, and no receipt gives a date already past on its sending as one to
come (« à envoyer au plus tard le … », « au plus tard le … » of the next month).
"""

from __future__ import annotations

import email
import email.policy
import re
from datetime import date
from email.message import EmailMessage
from pathlib import Path

import pytest
from jinja2 import TemplateError
from sqlalchemy import select

from tests.integration._ladders import Lot, ladders, make_lot
from tests.integration.test_clause_corrections import add_participants, declare
from tests.integration.test_ladder_scenarios import paris
from tests.text import squash
from workflow.adapters.orm import OutboxMessage
from workflow.adapters.templates import french_date, french_month
from workflow.app.audit import verify_database
from workflow.bootstrap import App
from workflow.services import receipt_withdrawals
from workflow.services.ticks import simulate

pytestmark = pytest.mark.scenario

JANUARY, FEBRUARY = date(2026, 1, 1), date(2026, 2, 1)
MARCH, APRIL = date(2026, 3, 1), date(2026, 4, 1)
STOPPED = date(2026, 3, 5)  # the last day the service ran (the declaration arrived at 11:00)
RESTART = date(2026, 5, 18)  # a Monday

_MONTHS = {
    name: number
    for number, name in enumerate(
        (
            "janvier",
            "février",
            "mars",
            "avril",
            "mai",
            "juin",
            "juillet",
            "août",
            "septembre",
            "octobre",
            "novembre",
            "décembre",
        ),
        start=1,
    )
}
_DATE = r"(\d{1,2}(?:er)?) (\w+) (\d{4})"


def read_date(text: str) -> date:
    """« 1er juin 2026 » -> 2026-06-01."""
    found = re.fullmatch(_DATE, text.strip())
    assert found is not None, text
    day, month, year = found.groups()
    return date(int(year), _MONTHS[month], int(day.removesuffix("er")))


def left_on(app: App, kind: str, day: date) -> list[str]:
    """The plain bodies of the ``kind`` emails written as .eml files on ``day`` (their Date),
    as the company reads them, one line each."""
    folder: Path = app.settings.mail_dir / kind
    bodies = []
    for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
        message = email.message_from_bytes(
            path.read_bytes(), _class=EmailMessage, policy=email.policy.default
        )
        sent = message["Date"].datetime.astimezone(app.settings.zone).date()
        if sent == day:
            body = message.get_body(preferencelist=("plain",))
            assert body is not None
            bodies.append(body.get_content())
    return bodies


def receipt_dates(body: str) -> dict[date, tuple[date, bool]]:
    """Each month a receipt names with a due date, the date and whether it says it is to come:
    the months still owed (« - avril 2026 : à envoyer au plus tard le … ») and the next one
    (« Prochaine déclaration : mars 2026, à déclarer … au plus tard le … »)."""
    said: dict[date, tuple[date, bool]] = {}
    for name, how, day in re.findall(
        r"^- (\w+ \d{4}) : (en retard, attendu depuis le|à envoyer au plus tard le) "
        r"(\d{1,2}(?:er)? \w+ \d{4})",
        body,
        re.MULTILINE,
    ):
        said[month_of(name)] = (read_date(day), how.startswith("à envoyer"))
    text = squash(body)
    for name, day in re.findall(
        r"(?:Le mois suivant|Prochaine déclaration) : (\w+ \d{4}), à déclarer à partir du "
        r"[^,]+ et au plus tard le (\d{1,2}(?:er)? \w+ \d{4})",
        text,
    ):
        said[month_of(name)] = (read_date(day), True)
    return said


def call_dates(body: str) -> dict[date, date]:
    """« - mars 2026 : à déclarer à partir du …, au plus tard le 27 mai 2026 », by month."""
    return {
        month_of(name): read_date(day)
        for name, day in re.findall(
            r"^- (\w+ \d{4}) : à déclarer à partir du [^,]+, au plus tard le "
            r"(\d{1,2}(?:er)? \w+ \d{4})",
            body,
            re.MULTILINE,
        )
    }


def month_of(name: str) -> date:
    word, year = name.split()
    month = date(int(year), _MONTHS[word], 1)
    assert french_month(month) == name
    return month


def stopped_with_a_receipt_waiting(app: App, start: date, declared: date) -> Lot:
    """A lot working since ``start``; ``declared`` declared on 5 March at 11:00, the service
    stopped right after (its receipt waits), restarted on Monday 18 May."""
    lot = make_lot(app, start=start, at=paris(start, 10))
    add_participants(app, "P-1")
    simulate(app, start, STOPPED)
    declare(app, lot, declared, paris(STOPPED, 11), {"P-1": "70"})
    simulate(app, RESTART, RESTART)
    return lot


@pytest.mark.parametrize(
    ("start", "declared", "owed"),
    [
        # February declared: March and April are opened late at the restart, together.
        (date(2026, 2, 2), FEBRUARY, set()),
        # January declared: February was called on 2 March (due 10 March) and still owed.
        (date(2026, 1, 5), JANUARY, {FEBRUARY}),
    ],
    ids=["next-months-opened-late", "a-month-called-before-the-stop"],
)
def test_a_receipt_kept_waiting_by_a_stop_gives_the_call_s_due_dates(
    app: App, start: date, declared: date, owed: set[date]
) -> None:
    lot = stopped_with_a_receipt_waiting(app, start, declared)

    [receipt] = left_on(app, "declaration_receipt", RESTART)
    [call] = left_on(app, "declaration_call", RESTART)
    called = call_dates(call)
    assert set(called) == {MARCH, APRIL}, call
    # The call gives both months one date, later than the restart (they were opened late).
    [given] = set(called.values())
    assert given > RESTART
    held = {lad.month: lad.due_on for lad in ladders(app) if lad.clause_id == lot.clause_id}
    assert (held[MARCH], held[APRIL]) == (given, given)

    said = receipt_dates(receipt)
    both = set(said) & set(called)
    assert both == {MARCH, APRIL}, receipt
    for month in both:
        assert said[month][0] == called[month], (french_month(month), squash(receipt), call)
    for month in owed:
        assert said[month] == (held[month], False), squash(receipt)  # « en retard »
    for month, (due_on, to_come) in said.items():
        if to_come:
            assert due_on >= RESTART, (french_month(month), french_date(due_on), squash(receipt))
    # Its pages are open: « Corrigez-la … jusqu'au … », and each month's link, still valid.
    [until] = re.findall(r"jusqu'au (\d{1,2}(?:er)? \w+ \d{4})", squash(receipt))
    assert read_date(until) >= RESTART, squash(receipt)
    for expires in re.findall(r"/declarer/\d+\.\d+\.\d{6}\.(\d{8})\.", receipt):
        assert expires >= f"{RESTART:%Y%m%d}", squash(receipt)
    # One receipt of the declaration left, nothing twice; the database's own checks hold.
    with app.transaction() as session:
        sent = session.scalars(
            select(OutboxMessage.key).where(
                OutboxMessage.kind == "declaration_receipt", OutboxMessage.state == "sent"
            )
        ).all()
    assert len(sent) == 1
    assert verify_database(app).findings == ()


def test_a_receipt_that_cannot_be_rewritten_does_not_hold_back_the_calls(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A receipt whose rewrite fails (a template broken since it was written) is left as it was,
    the failure logged: the months are opened and called all the same that morning."""

    def broken(*args: object, **kwargs: object) -> bool:
        raise TemplateError("modèle cassé")

    monkeypatch.setattr(receipt_withdrawals, "_write_again", broken)
    lot = stopped_with_a_receipt_waiting(app, date(2026, 2, 2), FEBRUARY)

    [call] = left_on(app, "declaration_call", RESTART)
    assert set(call_dates(call)) == {MARCH, APRIL}
    assert {lad.month for lad in ladders(app) if lad.clause_id == lot.clause_id} >= {MARCH, APRIL}
    # The receipt left as first written, once.
    assert len(left_on(app, "declaration_receipt", RESTART)) == 1
