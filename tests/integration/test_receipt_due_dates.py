"""A receipt tells the company when each month it still owes is due, and the buyer's start notice
when the first declaration is expected: the date it was or will be given, never the contract's
scheduled date when the ladder gives another (a late start's catch-up call gives its months one
later date, which the welcome announced).

Invariant: each month a receipt lists as owed, and the notice's first month, is due on the date
its call then gives; a month not yet called is not said to be late."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import select

from tests.integration._ladders import ladder_pass, ladders, make_lot
from tests.integration.test_clause_corrections import mail_bodies
from tests.integration.test_receipt_withdrawals import receipts
from tests.text import squash
from workflow.adapters.orm import Participant
from workflow.adapters.templates import french_date, french_month
from workflow.bootstrap import App
from workflow.domain.vocabulary import ContractType, DeliveryMode
from workflow.services.declarations import LineInput, record_declaration

JANUARY, FEBRUARY, MARCH = date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def owed_lines(body: str) -> dict[str, str]:
    """« - février 2026 : … » lines of a receipt, by month."""
    return dict(re.findall(r"^- (\w+ \d{4}) : (.*)$", body, re.MULTILINE))


def test_a_late_start_receipt_gives_the_catch_up_call_s_due_date(app: App) -> None:
    """A lot working since January, started in the service on Monday 20 April: its catch-up
    call leaves on the 21st for January to March. The company declares January on the 20th,
    before the call: its receipt gives February and March the date the call then gives them,
    and does not call them late."""
    lot = make_lot(app, start=date(2026, 1, 5), at=utc(2026, 4, 20, 7))
    with app.transaction() as session:
        session.add(
            Participant(
                reference="P-1", criterion="long_term_jobseeker", created_at=utc(2026, 1, 5)
            )
        )
    with app.transaction() as session:
        person = session.scalars(select(Participant)).one()
        record_declaration(
            session,
            clause_id=lot.clause_id,
            company_id=lot.company_ids[0],
            month=JANUARY,
            lines=[LineInput(person.id, Decimal(70), DeliveryMode.DIRECT_HIRING, ContractType.CDD)],
            actor="Correspondant",
            now=utc(2026, 4, 20, 12),
            source="test",
            publish=app.publish,
        )
    [receipt] = receipts(app)

    ladder_pass(app, utc(2026, 4, 21, 7))
    called = {lad.month: lad.due_on for lad in ladders(app)}
    assert set(called) >= {FEBRUARY, MARCH}

    owed = owed_lines(receipt.body_text)
    assert set(owed) == {french_month(FEBRUARY), french_month(MARCH)}
    for month in (FEBRUARY, MARCH):
        said = squash(owed[french_month(month)])
        assert "en retard" not in said, said
        assert french_date(called[month]) in said, (said, called[month])


def test_a_late_start_s_notice_announces_the_catch_up_call_s_due_date(app: App) -> None:
    """The buyer is told when the first declaration (January) is expected: the date the
    catch-up call gives it on the 21st, not 10 February, long past when the lot started."""
    lot = make_lot(app, start=date(2026, 1, 5), at=utc(2026, 4, 20, 7))
    [notice] = [body for kind, body in mail_bodies(app) if kind == "notice_execution_started"]

    ladder_pass(app, utc(2026, 4, 21, 7))
    called = {lad.month: lad.due_on for lad in ladders(app) if lad.clause_id == lot.clause_id}
    assert called[JANUARY] > date(2026, 4, 21)
    # January, February and March are asked by one call, with one due date: said of all three.
    assert called[JANUARY] == called[FEBRUARY] == called[MARCH]
    assert (
        "Les premières déclarations, pour janvier, février et mars 2026, sont demandées ensemble "
        f"et attendues le {french_date(called[JANUARY])}." in squash(notice)
    ), squash(notice)
