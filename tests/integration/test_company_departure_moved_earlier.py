"""A departure whose last month is moved earlier, and a buyer alerted several times.

The lot of ``test_company_left_site``: Bâtiments Garonne (holder, declares every month) and
Gimone Second Œuvre SAS, started 1 September 2026; the subcontractor declares September only,
so each month after it is called, reminded, then alerted to the buyer (October in December,
November in January…). Its departure is recorded on 2 April 2027 with last month October, then
moved to September: at once (the first emails still waiting), or four days later (they left).
"""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest
from sqlalchemy import select

from tests.integration._ladders import Lot, declare, make_lot
from tests.integration.test_company_left_site import GONE, HOLDER, SEP, _cli, local
from tests.text import squash
from workflow.adapters.orm import OutboxMessage
from workflow.adapters.templates import french_date
from workflow.app.audit import verify_database
from workflow.bootstrap import App
from workflow.domain.calendar import local_date
from workflow.emails.ladder import KIND_ESCALATION
from workflow.services.outbox import OutboxState
from workflow.services.ticks import TimedAction, simulate

pytestmark = pytest.mark.scenario

COMPANY_KIND, BUYER_KIND = "company_left", "notice_company_left"
OCT = date(2026, 10, 1)
NBSP = "\u00a0"
LEFT_ON = date(2027, 4, 2)


def _moved(app: App, *, again_on: date | None) -> tuple[Lot, list[str]]:
    """The lot, the departure (last month October) recorded on 2 April at 15:00, moved to
    September on ``again_on`` (None: not moved) (the same instant when it is 2 April: nothing sent between), the
    second with ``--json``; the passes run up to 8 April. Returns the lot and the outputs."""
    lots: list[Lot] = []
    said: list[str] = []
    actions = [
        TimedAction(
            local(app, SEP, 8),
            "lot",
            lambda app, at: lots.append(
                make_lot(app, start=SEP, end=date(2027, 12, 31), companies=(HOLDER, GONE), at=at)
            ),
        ),
        TimedAction(
            local(app, date(2026, 10, 3), 12),
            f"{GONE} 2026-09",
            lambda app, at: declare(app, lots[0], SEP, at, company=1),
        ),
    ]
    month = SEP
    while month <= date(2027, 3, 1):
        following = date(month.year + month.month // 12, month.month % 12 + 1, 3)
        actions.append(
            TimedAction(
                local(app, following, 11),
                f"{HOLDER} {month:%Y-%m}",
                lambda app, at, month=month: declare(app, lots[0], month, at, company=0),
            )
        )
        month = date(following.year, following.month, 1)

    def leave(last: str, reason: str, *extra: str) -> None:
        def run(app: App, at: datetime) -> None:
            args = ("clause", "company-left", str(lots[0].clause_id), "--company", GONE)
            said.append(_cli(app, at, *args, "--last-month", last, "--reason", reason, *extra))

        return run  # type: ignore[return-value]

    first = leave("10/2026", "part finie")
    second = leave("09/2026", "part finie en septembre", "--json")
    if again_on is None:
        actions.append(TimedAction(local(app, LEFT_ON, 15), "départ", first))
    elif again_on == LEFT_ON:
        both = [first, second]
        actions.append(
            TimedAction(
                local(app, LEFT_ON, 15), "départs", lambda app, at: [f(app, at) for f in both]
            )
        )
    else:
        actions.append(TimedAction(local(app, LEFT_ON, 15), "départ", first))
        actions.append(TimedAction(local(app, again_on, 15), "départ avancé", second))
    simulate(app, SEP, date(2027, 4, 8), actions=actions)
    return lots[0], said


def _emails(app: App, lot: Lot, kind: str) -> list[OutboxMessage]:
    with app.transaction() as session:
        return list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.clause_id == lot.clause_id, OutboxMessage.kind == kind)
                .order_by(OutboxMessage.id)
            )
        )


def _alert_days(app: App, lot: Lot) -> list[date]:
    """The days the subcontractor's alerts to the buyer left, in their order."""
    gone = lot.company_ids[1]
    return [
        local_date(row.sent_at or row.created_at, app.settings.zone)
        for row in _emails(app, lot, KIND_ESCALATION)
        if f":{gone}:" in row.key and row.state == OutboxState.SENT
    ]


def test_the_buyer_alerted_several_times_reads_each_alert_and_the_plural(app: App) -> None:
    lot, _ = _moved(app, again_on=None)
    (buyer,) = _emails(app, lot, BUYER_KIND)
    text = squash(f"{buyer.subject} {buyer.body_text}")
    # November alerted in January, December in February, January in March, February on 1
    # April (October's alert, in December, names a month the departure keeps owed).
    assert [d.month for d in _alert_days(app, lot)] == [12, 1, 2, 3, 4]
    assert (
        # Four alerts: their first and last days, as the alert names the alerts before it.
        "Mes alertes du 4 janvier au 1er avril 2027 vous "
        "signalaient non reçues les déclarations des heures d'insertion de novembre 2026 à "
        "février 2027 de Gimone Second Œuvre SAS, cotraitant pour le lot 1" in text
    ), text
    assert (
        "Je dois les rectifier : les déclarations de novembre 2026 à février 2027 ne sont plus "
        "attendues, l'entreprise a quitté le chantier, son dernier mois à déclarer étant octobre "
        "2026" in text
    ), text
    assert "Mon alerte" not in text and "la déclaration de" not in text, text
    assert verify_database(app).findings == ()


def test_moved_earlier_at_once_withdraws_the_first_emails_with_their_reason(app: App) -> None:
    lot, said = _moved(app, again_on=LEFT_ON)
    for kind, prefix in ((COMPANY_KIND, "company_left"), (BUYER_KIND, "company_left_buyer")):
        rows = _emails(app, lot, kind)
        keys = [(r.key.rsplit(":", 1)[1], r.state) for r in rows]
        # The first (October) never left: withdrawn, so that the two do not contradict each
        # other; the second (September) went.
        assert keys == [("2026-10", OutboxState.CANCELLED), ("2026-09", OutboxState.SENT)], (
            prefix,
            keys,
        )
        assert rows[0].last_error == f"Remplacé{NBSP}: dernier mois avancé à septembre 2026."
        assert rows[0].key.startswith(f"{prefix}:")
    # The company heard of none of the months the first release stopped: the second tells all.
    company = squash(_emails(app, lot, COMPANY_KIND)[1].body_text)
    assert "remplace" not in company
    assert (
        "Les mois d'octobre 2026 à mars 2027, déjà demandés, ne vous sont plus demandés" in company
    ), company
    # The buyer: every alert, each with its day, all the months they named, plural.
    buyer = _emails(app, lot, BUYER_KIND)[1]
    text = squash(f"{buyer.subject} {buyer.body_text}")
    days = _alert_days(app, lot)
    assert len(days) >= 3, days
    # Many alerts and months: the first and last alerts, the months as a range.
    listed = f"{french_date(days[0])} au {french_date(days[-1])}"
    assert (
        f"Mes alertes du {listed} vous signalaient non reçues les déclarations des heures "
        "d'insertion d'octobre 2026 à février 2027" in text
    ), text
    assert "Je dois les rectifier : les déclarations d'octobre 2026 à février 2027" in text, text
    assert (
        "ne sont plus attendues, l'entreprise a quitté le chantier, son dernier mois à déclarer "
        "étant septembre 2026" in text
    )
    assert "Mon alerte" not in text and "la déclaration d'octobre" not in text
    # The second command: only October is news (November on were released by the first).
    answer = json.loads(said[1])
    assert answer["mois_plus_demandes"] == ["2026-10-01"], answer
    assert answer["mois_plus_demandes_en_tout"][:2] == ["2026-10-01", "2026-11-01"], answer
    assert verify_database(app).findings == ()


def test_moved_earlier_after_the_first_left_replaces_it(app: App) -> None:
    lot, _ = _moved(app, again_on=date(2027, 4, 6))
    company_rows = _emails(app, lot, COMPANY_KIND)
    assert [r.state for r in company_rows] == [OutboxState.SENT, OutboxState.SENT]
    sent_at = company_rows[0].sent_at
    assert sent_at is not None
    first_day = local_date(sent_at, app.settings.zone)
    company = squash(company_rows[1].body_text)
    assert (
        f"Ce message remplace mon courriel du {french_date(first_day)} : le dernier mois de "
        f"{GONE} sur ce lot est avancé à septembre 2026." in company
    ), company
    # Only October is news to it.
    assert "Le mois d'octobre 2026, déjà demandé, ne vous est plus demandé" in company, company
    assert "novembre 2026" not in company, company
    buyer_rows = _emails(app, lot, BUYER_KIND)
    assert [r.state for r in buyer_rows] == [OutboxState.SENT, OutboxState.SENT]
    buyer = squash(buyer_rows[1].body_text)
    october_alert = _alert_days(app, lot)[0]
    assert f"Ce message remplace mon courriel du {french_date(first_day)}" in buyer, buyer
    assert (
        f"Mon alerte du {french_date(october_alert)} vous signalait non reçue la déclaration "
        "des heures d'insertion d'octobre 2026" in buyer
    ), buyer
    assert "Je dois la rectifier : la déclaration d'octobre 2026 n'est plus attendue" in buyer
    assert "novembre 2026" not in buyer, buyer
    assert verify_database(app).findings == ()


def test_the_command_says_only_the_months_it_released(app: App) -> None:
    lots: list[Lot] = []
    said: list[str] = []
    at = local(app, SEP, 8)
    lots.append(make_lot(app, start=SEP, end=date(2027, 12, 31), companies=(HOLDER, GONE), at=at))
    simulate(app, SEP, date(2026, 12, 20))
    args = ("clause", "company-left", str(lots[0].clause_id), "--company", GONE)
    at = local(app, date(2026, 12, 20), 15)
    said.append(_cli(app, at, *args, "--last-month", "10/2026", "--reason", "part finie"))
    said.append(_cli(app, at, *args, "--last-month", "09/2026", "--reason", "plus tôt"))
    assert "novembre 2026, déjà demandé, ne l'est plus" in squash(said[0]), said[0]
    # Moved earlier: September's successor October is the only month this call released.
    assert (
        "septembre 2026, aucun mois suivant ne lui est demandé ; octobre 2026, déjà demandé, ne "
        "l'est plus : ses relances s'arrêtent." in squash(said[1]).replace(NBSP, " ")
    ), said[1]
    assert "novembre" not in said[1].split("\n")[0], said[1]
    # The same month again: nothing changes; another reason is said not recorded, not dropped
    # silently; the same reason is no news.
    said.append(_cli(app, at, *args, "--last-month", "09/2026", "--reason", "autre chose"))
    said.append(_cli(app, at, *args, "--last-month", "09/2026", "--reason", "plus tôt"))
    assert squash(said[2]).replace(NBSP, " ") == (
        f"Rien à changer : le départ de {GONE} du chantier (clause n° {lots[0].clause_id}) est "
        "déjà enregistré, dernier mois 09/2026 (motif « autre chose » non enregistré : le départ "
        "l'était déjà)."
    )
    assert squash(said[3]).replace(NBSP, " ").endswith("dernier mois 09/2026."), said[3]


def test_each_alert_is_said_as_it_stands() -> None:
    from workflow.emails.company_departures import AlertNamed, alerts_phrase

    sent = AlertNamed(date(2027, 1, 4), (date(2026, 11, 1),))
    sent2 = AlertNamed(date(2027, 2, 1), (date(2026, 12, 1),))
    waiting = AlertNamed(date(2027, 3, 3), (date(2027, 1, 1),), left=False)
    assert alerts_phrase([sent]) == "Mon alerte du 4 janvier 2027 vous signalait"
    assert (
        alerts_phrase([sent, sent2, AlertNamed(date(2027, 3, 3), (date(2027, 1, 1),))])
        == "Mes alertes du 4 janvier, du 1er février et du 3 mars 2027 vous signalaient"
    )
    assert (
        alerts_phrase([waiting]) == "Mon alerte du 3 mars 2027, si elle vous parvient, vous signale"
    )
    assert (
        alerts_phrase([sent, sent2, waiting])
        == "Mes alertes du 4 janvier et du 1er février 2027 (et celle du 3 mars 2027 si elle vous "
        "parvient) vous signalaient"
    )
