"""« Depuis ma synthèse … » says « en retard » only of the declarations that were late (review,
6 December 2026).

Every declaration arrived since the previous summary was said « arrivée en retard », one whose
month's call had left late included: a lot started late has its earlier months called by a
catch-up call with a later due date, and the previous summary said them « pas encore due ». A
company that declared before that date read to its buyer as late, which the buyer may hold
against it.

Lot A (Bâtiments Test) works from 1 June 2026; its June declaration, due on 10 July, arrives
on 24 July, after June's summary of 23 July: late. Lot B (Peintures Test), another buyer's,
started on 15 July with work since 1 April; its catch-up call of 16 July gave April to June
the 27th of July, and the company declares them on 24 July (June at 0 h): on time. July's
summary names the four: the facilitator's says « dont 1 en retard » and each line which;
B's buyer reads « sans retard », A's buyer reads its one arrival as before. The audit finds
nothing; an email written before the rule that said them all « en retard » is a remark naming
those that were not, and a problem when written under the rule.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import update

from tests.integration._ladders import Lot, declare, make_lot
from tests.integration.test_summary_late_start import (
    CATCH_UP_DUE,
    STARTED_ON,
    declare_hours,
    due_dates,
    local,
    plain,
)
from tests.integration.test_summary_truth import Email, check_email, summary_emails
from tests.text import squash
from workflow.adapters.orm import OutboxMessage
from workflow.app.audit import verify_database
from workflow.bootstrap import App
from workflow.domain.summary_rules import ARRIVALS_LATE_OR_NOT, SINCE_LAST_ZERO_ARRIVALS
from workflow.services.summaries import lot_labels
from workflow.services.ticks import TimedAction, simulate

pytestmark = pytest.mark.scenario

APR, MAY, JUN, JUL = (date(2026, m, 1) for m in (4, 5, 6, 7))
ARRIVED = date(2026, 7, 24)


def scenario(app: App) -> tuple[Lot, Lot]:
    """Lots A and B up to the day after July's summary (20 August 2026)."""
    on_time = make_lot(app, start=JUN, end=date(2026, 12, 31), at=local(app, JUN, 8))
    late: list[Lot] = []
    arrived = local(app, ARRIVED, 11)
    actions = [
        TimedAction(
            local(app, STARTED_ON, 10),
            "lot B démarré en retard",
            lambda app, at: late.append(
                make_lot(
                    app, start=APR, end=date(2026, 12, 31), companies=("Peintures Test",), at=at
                )
            ),
        ),
        TimedAction(arrived, "juin (lot A)", lambda app, at: declare_hours(app, on_time, JUN, "35", at)),
        TimedAction(arrived, "avril (lot B)", lambda app, at: declare_hours(app, late[0], APR, "20", at)),
        TimedAction(arrived, "mai (lot B)", lambda app, at: declare_hours(app, late[0], MAY, "30", at)),
        TimedAction(arrived, "juin (lot B)", lambda app, at: declare(app, late[0], JUN, at)),
    ]  # fmt: skip
    simulate(app, JUN, date(2026, 8, 21), actions=actions, dispatch=False)
    (lot_b,) = late
    return on_time, lot_b


def email(app: App, key: str) -> Email:
    (found,) = [e for e in summary_emails(app) if e.key == key]
    return found


def label(app: App, lot: Lot) -> str:
    with app.transaction() as session:
        return lot_labels(session, [lot.clause_id])[lot.clause_id]


def text(value: str) -> str:
    return plain(squash(value))


def test_a_declaration_on_time_after_the_previous_summary_is_not_said_late(app: App) -> None:
    lot_a, lot_b = scenario(app)
    assert {m: d for m, d in due_dates(app, lot_b).items() if m <= JUN} == {
        APR: CATCH_UP_DUE,
        MAY: CATCH_UP_DUE,
        JUN: CATCH_UP_DUE,
    }
    assert due_dates(app, lot_a)[JUN] == date(2026, 7, 10)
    june_b = email(app, f"summary:2026-06:buyer:{lot_b.buyer_id}")
    assert june_b.created_at == local(app, date(2026, 7, 23), 7)
    # June's summary said B's June not due yet: it was not late then, nor when it arrived.
    assert "1 pas encore due" in text(june_b.body_text)

    july_b_body = email(app, f"summary:2026-07:buyer:{lot_b.buyer_id}").body_text
    july_b = text(july_b_body)
    opening = "Depuis ma synthèse de juin 2026 (établie le 23 juillet 2026), "
    assert (
        f"{opening}3 déclarations des mois qu'elle couvrait sont arrivées sans retard (dont 1 à "
        "0 h) ; le cumul en tient compte :"
    ) in july_b, july_b
    where_b = label(app, lot_b)
    for month, hours in (
        ("d'avril 2026", "20 h ;"),
        ("de mai 2026", "30 h ;"),
        ("de juin 2026", "0 h."),
    ):
        assert (
            f"– La déclaration {month} de Peintures Test ({where_b}) est arrivée le 24 juillet "
            f"2026 : {hours}"
        ) in july_b, july_b
    assert "en retard" not in july_b_body.split("\n- ", 1)[0], july_b

    # The facilitator reads the four: one late (A's June), each line saying which.
    july = text(email(app, "summary:2026-07:facilitator").body_text)
    assert (
        f"{opening}4 déclarations des mois qu'elle couvrait sont arrivées (dont 1 en retard et "
        "1 à 0 h) ; le cumul en tient compte :"
    ) in july, july
    assert "de Peintures Test (clause n° " in july
    assert july.count("est arrivée sans retard le 24 juillet 2026") == 3, july
    assert (
        f"– La déclaration de juin 2026 de Bâtiments Test (clause n° {lot_a.clause_id} – "
        f"{label(app, lot_a)}, Donneur d'ordre "
    ) in july, july
    assert "de Bâtiments Test" in july and "est arrivée en retard le 24 juillet 2026 : 35 h" in july

    # A's buyer: its one arrival, late, said as before.
    july_a = text(email(app, f"summary:2026-07:buyer:{lot_a.buyer_id}").body_text)
    assert (
        f"la déclaration de juin 2026 de Bâtiments Test ({label(app, lot_a)}) est arrivée le "
        "24 juillet 2026 : 35 h, comptées dans le cumul."
    ) in july_a, july_a

    for found in summary_emails(app):
        check_email(app, found, ladders=True)
    assert [str(f) for f in verify_database(app).findings] == []


def _as_older_rule(app: App, key: str, revision: int) -> None:
    """The email as the rules before ``ARRIVALS_LATE_OR_NOT`` wrote it: every arrival « en
    retard », the lines unmarked; kept under the rules numbered ``revision``."""
    found = email(app, key)
    older = found.body_text
    for new, old in (
        ("sont arrivées (dont 1 en retard et 1 à 0\u00a0h)", "sont arrivées en retard (dont 1 à 0\u00a0h)"),
        ("sont arrivées sans retard", "sont arrivées en retard"),
        ("est arrivée sans retard le", "est arrivée le"),
        ("est arrivée en retard le", "est arrivée le"),
    ):  # fmt: skip
        older = older.replace(new, old)
    assert older != found.body_text
    with app.transaction() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.key == key)
            .values(body_text=older, rules_revision=revision)
        )


def test_an_email_written_before_the_rule_that_said_them_all_late_is_a_remark(
    app: App,
) -> None:
    _, lot_b = scenario(app)
    keys = ("summary:2026-07:facilitator", f"summary:2026-07:buyer:{lot_b.buyer_id}")
    for key in keys:
        _as_older_rule(app, key, SINCE_LAST_ZERO_ARRIVALS)
    report = verify_database(app)
    assert [str(f) for f in report.findings] == []
    said = [plain(str(r)) for r in report.remarks if "des seules déclarations" in str(r)]
    assert len(said) == 2, [str(r) for r in report.remarks]
    for remark in said:
        assert "elle dit en retard des déclarations arrivées sans retard" in remark, remark
        assert "celle d'avril 2026 de Peintures Test" in remark, remark
        assert "de Bâtiments Test" not in remark.split("elle dirait")[0], remark

    # The same emails under today's rules are problems: they call a company late wrongly.
    with app.transaction() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.key.in_(keys))
            .values(rules_revision=ARRIVALS_LATE_OR_NOT)
        )
    found = [str(f) for f in verify_database(app).findings]
    assert len([f for f in found if "de ce qui a changé" in f]) == 2, found
