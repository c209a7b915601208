"""A month a suspension kept from being called is never told a date nobody was given.

A trial's lot (holder Bâtiments Garonne, co-contractor Gimone Second Œuvre SAS), started 1
September 2026, planned to 30 June 2027. While a lot is suspended nothing is called: the call
of a month waits for the resumption and gives a date counted from the day it leaves
(``reminders._open_batch``, ``due_after_call``). The suspension's own email said so
(« … vous seront demandées après la reprise … vous êtes à jour »), but the other readers took
the month's scheduled date, passed uncalled, for the date it was given:

- suspended on 1 October 2026 at 08:00, before the September call: the departure email (20
  October) read « septembre 2026 : attendue le 12 octobre 2026, date passée : merci de la
  déclarer dès que possible », ``declaration list`` « 12/10/2026 » next to « appel à venir »;
  the termination (21 October, effective 15 October) « septembre 2026 : à déclarer dès que
  possible, la date limite était le 12 octobre 2026 », while its call, the next morning, gave
  2 November; and the buyer's notice of it counted « 0 sur 4 (2 mois × 2 entreprises) », the
  company gone after September owing October too;
- suspended on 19 October, after the September call: the departure (26 October, last month
  October) read « octobre 2026 : à envoyer au plus tard le 10 novembre 2026 », the call after
  the resumption (16 November) gave 24 November;
- a company's receipt of its last month before leaving read « C'était le dernier mois prévu de
  l'exécution », the lot running to June 2027.

All read ``notices.owed_due_dates`` now: a month not called while the lot is suspended has no
date (« à la reprise »), one whose call is overdue the date that call will give.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import select

from tests.integration._ladders import Lot, declare, make_lot
from tests.integration.test_company_left_site import GONE, HOLDER, SEP, _cli, local
from tests.text import squash
from workflow.adapters.orm import OutboxMessage
from workflow.bootstrap import App
from workflow.services.ticks import TimedAction, simulate

pytestmark = pytest.mark.scenario

OCT, NOV = date(2026, 10, 1), date(2026, 11, 1)


def _run(app: App, steps: Sequence[tuple[date, int, str, Sequence[str]]], until: date) -> Lot:
    """The lot, then each step's ``clauses`` command (``{lot}``: its number) at its local hour,
    the passes running from the start to ``until``."""
    lots: list[Lot] = []
    actions = [
        TimedAction(
            local(app, date(2026, 8, 25), 10),
            "lot",
            lambda app, at: lots.append(
                make_lot(app, start=SEP, end=date(2027, 6, 30), companies=(HOLDER, GONE), at=at)
            ),
        )
    ]

    def cli(args: Sequence[str]) -> Callable[[App, datetime], None]:
        def run(app: App, at: datetime) -> None:
            _cli(app, at, *[a.format(lot=lots[0].clause_id) for a in args])

        return run

    for day, hour, name, args in steps:
        action: Callable[[App, datetime], Any]
        if name.startswith("declare"):
            month, company = (SEP if "09" in name else OCT), (1 if "gone" in name else 0)

            def action(app: App, at: datetime, month: date = month, company: int = company) -> None:
                declare(app, lots[0], month, at, company=company)

        else:
            action = cli(args)
        actions.append(TimedAction(local(app, day, hour), name, action))
    simulate(app, date(2026, 8, 25), until, actions=actions)
    return lots[0]


def _texts(app: App, lot: Lot, kind: str, company: int | None = None) -> list[str]:
    """The bodies of the lot's emails of ``kind``, oldest first; ``company``: only those
    written to that company of the lot (0 the holder, 1 the company that leaves)."""
    statement = (
        select(OutboxMessage)
        .where(OutboxMessage.clause_id == lot.clause_id, OutboxMessage.kind == kind)
        .order_by(OutboxMessage.id)
    )
    if company is not None:
        statement = statement.where(OutboxMessage.recipients.like(f"%-{company}@example.org%"))
    with app.transaction() as session:
        return [squash(row.body_text) for row in session.scalars(statement)]


SUSPEND_BEFORE_CALL = (
    date(2026, 10, 1),
    8,
    "suspendre",
    ("clause", "advance", "{lot}", "suspendre", "--reason", "Intempéries"),
)
GONE_AFTER_SEPTEMBER = (
    date(2026, 10, 20),
    12,
    "départ",
    (
        "clause",
        "company-left",
        "{lot}",
        "--company",
        GONE,
        "--last-month",
        "09/2026",
        "--reason",
        "Part terminée",
    ),
)
TERMINATE = (
    date(2026, 10, 21),
    12,
    "résilier",
    (
        "clause",
        "advance",
        "{lot}",
        "resilier",
        "--end-date",
        "15/10/2026",
        "--reason",
        "Défaillance du titulaire",
    ),
)


def test_left_while_suspended_before_the_call_is_told_it_at_the_resumption(app: App) -> None:
    lot = _run(app, [SUSPEND_BEFORE_CALL, GONE_AFTER_SEPTEMBER], date(2026, 10, 20))
    (left,) = _texts(app, lot, "company_left")
    # September was never called (the suspension came first): no date was given, none passed.
    assert (
        "- septembre 2026 : pas encore demandée, le chantier étant suspendu : elle vous sera "
        "demandée à la reprise, avec sa date limite"
    ) in left, left
    assert "date passée" not in left and "12 octobre 2026" not in left, left


def test_declaration_list_gives_no_date_to_a_call_held_by_the_suspension(app: App) -> None:
    lot = _run(app, [SUSPEND_BEFORE_CALL], date(2026, 10, 19))
    # The call to come has no date: « à la reprise », never the scheduled 12 October, passed.
    listed = _cli(
        app,
        local(app, date(2026, 10, 19), 14),
        "declaration",
        "list",
        "--clause",
        str(lot.clause_id),
        "--json",
    )
    assert '"echeance": "2026-10-12"' not in listed, listed
    assert listed.count('"a_la_reprise": true') == 2, listed
    table = squash(
        _cli(
            app,
            local(app, date(2026, 10, 19), 14),
            "declaration",
            "list",
            "--clause",
            str(lot.clause_id),
        )
    )
    assert "12/10/2026" not in table and "reprise" in table, table


def test_terminated_while_suspended_gives_the_date_of_the_call_to_come(app: App) -> None:
    lot = _run(app, [SUSPEND_BEFORE_CALL, GONE_AFTER_SEPTEMBER, TERMINATE], date(2026, 10, 22))
    (holder,) = _texts(app, lot, "company_lot_terminated", company=0)
    # The termination ends the suspension: September is called the next morning, due 2
    # November (the call's own date, below), October on its usual day.
    assert "- septembre 2026 : à déclarer au plus tard le 2 novembre 2026." in holder, holder
    assert "- octobre 2026 : à déclarer au plus tard le 10 novembre 2026." in holder, holder
    assert "la date limite était" not in holder, holder
    calls = [t for t in _texts(app, lot, "declaration_call", company=0) if "septembre 2026" in t]
    assert calls and "au plus tard le 2 novembre 2026" in calls[-1], calls
    # The buyer: the company gone after September owes no October.
    (notice,) = _texts(app, lot, "notice_execution_ended")
    assert f"- {HOLDER} : septembre et octobre 2026 - {GONE} : septembre 2026" in notice, notice
    assert "Déclarations mensuelles reçues : 0 sur 3, 3 encore attendues" in notice, notice
    assert "3 déclarations mensuelles sont encore attendues" in notice, notice
    assert "mois × 2 entreprises" not in notice, notice


def test_left_after_a_suspension_of_its_last_month_is_told_it_at_the_resumption(
    app: App,
) -> None:
    steps = [
        (
            date(2026, 10, 19),
            14,
            "suspendre",
            ("clause", "advance", "{lot}", "suspendre", "--reason", "Arrêt de chantier"),
        ),
        (
            date(2026, 10, 26),
            11,
            "départ",
            (
                "clause",
                "company-left",
                "{lot}",
                "--company",
                GONE,
                "--last-month",
                "10/2026",
                "--reason",
                "Part terminée",
            ),
        ),
        (date(2026, 11, 16), 7, "reprendre", ("clause", "advance", "{lot}", "reprendre")),
    ]
    lot = _run(app, steps, date(2026, 11, 16))
    (left,) = _texts(app, lot, "company_left")
    # September was called on 1 October, due 12 October, before the suspension: late, truly.
    assert (
        "- septembre 2026 : attendue le 12 octobre 2026, date passée : merci de la déclarer dès "
        "que possible"
    ) in left, left
    # October's call waits for the resumption: no date was given.
    assert (
        "- octobre 2026 : pas encore demandée, le chantier étant suspendu : elle vous sera "
        "demandée à la reprise, avec sa date limite"
    ) in left, left
    assert "10 novembre 2026" not in left, left
    # The call after the resumption gives its own date, which nobody had announced.
    october = [t for t in _texts(app, lot, "declaration_call", company=1) if "octobre 2026" in t]
    assert october and "au plus tard le 24 novembre 2026" in october[-1], october


def test_a_receipt_while_suspended_names_the_month_asked_at_the_resumption(app: App) -> None:
    steps = [
        (
            date(2026, 10, 19),
            14,
            "suspendre",
            ("clause", "advance", "{lot}", "suspendre", "--reason", "Arrêt de chantier"),
        ),
        (date(2026, 11, 3), 11, "declare 09 gone", ()),
    ]
    lot = _run(app, steps, date(2026, 11, 3))
    (receipt,) = _texts(app, lot, "declaration_receipt", company=1)
    assert "- octobre 2026 : vous sera demandé à la reprise du chantier, avec sa date limite" in (
        receipt
    ), receipt
    assert "10 novembre 2026" not in receipt, receipt
    # Nor is November given the date of a call the suspension holds back.
    assert (
        "Le mois suivant : novembre 2026, à déclarer à partir du 30 novembre 2026 ; le chantier "
        "étant suspendu, sa date limite vous sera donnée avec son appel, après la reprise."
    ) in receipt, receipt


def test_the_receipt_of_a_departed_company_s_last_month_is_not_the_lot_s_last(app: App) -> None:
    steps = [
        (
            date(2026, 10, 5),
            10,
            "départ",
            (
                "clause",
                "company-left",
                "{lot}",
                "--company",
                GONE,
                "--last-month",
                "09/2026",
                "--reason",
                "Part terminée",
            ),
        ),
        (date(2026, 10, 6), 11, "declare 09 gone", ()),
    ]
    lot = _run(app, steps, date(2026, 10, 6))
    (receipt,) = _texts(app, lot, "declaration_receipt", company=1)
    assert (
        f"C'était votre dernier mois à déclarer sur ce lot, que {GONE} a quitté : merci pour "
        "votre engagement."
    ) in receipt, receipt
    assert "dernier mois prévu de l'exécution" not in receipt, receipt
