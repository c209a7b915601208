"""A company that left the site is never called, reminded nor put on notice for the months after.

Found by a user trial: a subcontractor (Gimone Second Œuvre SAS) declared September to February,
left the site in March. It could not be taken out of the award (its months count), and the
advised workaround (zero declarations ahead of time) was refused: the service kept calling it,
reminding it, and told the buyer « Alerte avant mise en demeure : déclaration d'avril 2027 de
Gimone Second Œuvre SAS non reçue … une mise en demeure pourra lui être adressée ».

Now its last month on the lot is recorded (``clauses clause company-left … --last-month
03/2027``): March stays owed (its call, reminders and the buyer's alert for March are true),
April and after are asked of it no more; ``declaration list`` stops it at March. Recorded after
April's call was queued, that call is withdrawn with its reason and April's ladder stops.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.integration._ladders import Lot, declare, ladders, make_lot
from tests.text import squash
from workflow.adapters.orm import AwardParty, Clause, ClauseHistory, OutboxMessage
from workflow.app.audit import verify_database
from workflow.bootstrap import App
from workflow.domain.calendar import LadderStep, at_local
from workflow.emails.ladder import KINDS
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.services.ladder_keys import key_months
from workflow.services.outbox import OutboxState
from workflow.services.ticks import TimedAction, simulate

pytestmark = pytest.mark.scenario

HOLDER, GONE = "Bâtiments Garonne", "Gimone Second Œuvre SAS"
SEP, FEB, MAR, APR, MAY, JUN = (
    date(2026, 9, 1),
    date(2027, 2, 1),
    date(2027, 3, 1),
    date(2027, 4, 1),
    date(2027, 5, 1),
    date(2027, 6, 1),
)
MONTHS = [date(2026, m, 1) for m in (9, 10, 11, 12)] + [date(2027, m, 1) for m in (1, 2, 3, 4, 5)]


def local(app: App, day: date, hour: int) -> datetime:
    return at_local(day, time(hour), app.settings.zone)


def _cli(app: App, at: datetime, *args: str, code: int = 0) -> str:
    """A ``clauses`` command at ``at``."""
    state = CliState()
    state.factory = lambda: app
    real_clock = app.clock
    app.clock = lambda: at
    try:
        result = CliRunner().invoke(cli, list(args), obj=state)
    finally:
        app.clock = real_clock
    assert result.exit_code == code, result.output
    return result.output


@dataclass(frozen=True)
class Email:
    key: str
    kind: str
    state: str
    company_id: int
    months: tuple[date, ...]
    step: str
    text: str
    last_error: str | None


def ladder_emails(app: App, lot: Lot) -> list[Email]:
    with app.transaction() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.kind.in_(KINDS), OutboxMessage.clause_id == lot.clause_id)
            .order_by(OutboxMessage.created_at, OutboxMessage.id)
        ).all()
        found = []
        for row in rows:
            covered = key_months(row.key)
            assert covered is not None
            found.append(
                Email(
                    row.key,
                    row.kind,
                    row.state,
                    covered.company_id,
                    covered.months,
                    covered.step,
                    squash(f"{row.subject} {row.body_text}"),
                    row.last_error,
                )
            )
        return found


def _scenario(app: App, left_on: date, *, dispatch: bool = True) -> tuple[Lot, list[str]]:
    """A lot started on 1 September 2026, two companies; the holder declares every month, the
    subcontractor September to February, then leaves the site in March (March undeclared); its
    departure is recorded on ``left_on`` (last month March) through the command line. The real
    passes run up to 30 June 2027. Returns the lot and the command's outputs."""
    lots: list[Lot] = []
    said: list[str] = []
    actions = [
        TimedAction(
            local(app, SEP, 8),
            "lot",
            lambda app, at: lots.append(
                make_lot(app, start=SEP, end=date(2027, 12, 31), companies=(HOLDER, GONE), at=at)
            ),
        )
    ]
    for month in MONTHS:
        following = date(month.year + month.month // 12, month.month % 12 + 1, 3)
        actions.append(
            TimedAction(
                local(app, following, 11),
                f"{HOLDER} {month:%Y-%m}",
                lambda app, at, month=month: declare(app, lots[0], month, at, company=0),
            )
        )
        if month <= FEB:
            actions.append(
                TimedAction(
                    local(app, following, 12),
                    f"{GONE} {month:%Y-%m}",
                    lambda app, at, month=month: declare(app, lots[0], month, at, company=1),
                )
            )

    def leave(app: App, at: datetime) -> None:
        lot = lots[0]
        args = ("clause", "company-left", str(lot.clause_id), "--company", GONE)
        args += ("--last-month", "03/2027", "--reason", "sa part des travaux est finie")
        said.append(_cli(app, at, *args))
        # Run twice: nothing changes.
        said.append(_cli(app, at, *args))

    actions.append(TimedAction(local(app, left_on, 15), "départ", leave))
    simulate(app, SEP, date(2027, 6, 30), actions=actions, dispatch=dispatch)
    return lots[0], said


FRENCH_MONTHS = {"avril": 4, "mai": 5, "juin": 6}


def months_told(text: str) -> set[date]:
    """The months of April-June 2027 an email speaks of (« la déclaration d'avril 2027 »), not
    the days it gives (« jusqu'au 11 avril 2027 », « le 1er avril 2027 »)."""
    found = set()
    for match in re.finditer(r"(avril|mai|juin) 2027", text):
        before = text[: match.start()].rstrip()
        if before[-1:].isdigit() or before.endswith("1er"):
            continue  # a day of that month
        found.add(date(2027, FRENCH_MONTHS[match.group(1)], 1))
    return found


def _months_named(emails: Sequence[Email], company_id: int) -> set[date]:
    return {m for e in emails if e.company_id == company_id for m in e.months}


def _listed(app: App, lot: Lot, at: datetime) -> dict[date, str]:
    """``declaration list`` of the lot, for the company gone: month → state label."""
    out = _cli(app, at, "declaration", "list", "--clause", str(lot.clause_id), "--json")
    data = json.loads(out)
    return {
        date.fromisoformat(line["mois"]): line["etat_libelle"]
        for line in data["lignes"]
        if line["entreprise"] == GONE
    }


@pytest.mark.parametrize(
    "left_on",
    [
        # Recorded ahead, while March is not over: March's call opens on 1 April, and the
        # company is parked then, never called for April.
        date(2027, 3, 20),
        # Recorded the day after it left (the user trial), before April's call.
        date(2027, 4, 16),
    ],
)
def test_a_company_gone_after_march_is_asked_march_only(app: App, left_on: date) -> None:
    lot, said = _scenario(app, left_on)
    gone = lot.company_ids[1]
    emails = ladder_emails(app, lot)
    live = [e for e in emails if e.state != OutboxState.CANCELLED]
    # Its months up to March were asked, March too: it owes it (call, reminders, the buyer's
    # alert, all true). Never a month after.
    assert {m for m in _months_named(live, gone) if m > FEB} == {MAR}
    march = [e for e in live if e.company_id == gone and MAR in e.months]
    assert {e.step for e in march} >= {LadderStep.CALL, LadderStep.ESCALATION}
    for email in live:
        if email.company_id == gone:
            assert not months_told(email.text) & {APR, MAY, JUN}, email.text
    alerts = [e for e in live if e.company_id == gone and e.step == LadderStep.ESCALATION]
    assert alerts and all("mars 2027" in e.text for e in alerts)
    # The holder, still on the site, is asked every month as before.
    assert {APR, MAY} <= _months_named(emails, lot.company_ids[0])
    # The facilitator reads what she did; the second run changes nothing.
    first, told = said[0].strip().splitlines()
    assert squash(first) == squash(
        f"Clause n° {lot.clause_id} : {GONE} a quitté le chantier\u00a0: son dernier mois à "
        "déclarer est mars 2027, aucun mois suivant ne lui est demandé."
    )
    # It is told by email (``test_company_departure_notices``).
    assert squash(told).startswith(squash(f"{GONE} en est informée par courriel ("))
    assert squash(said[1]) == squash(
        f"Rien à changer : le départ de {GONE} du chantier (clause n° {lot.clause_id}) est déjà "
        "enregistré, dernier mois 03/2027."
    )
    with app.transaction() as session:
        rows = session.scalars(
            select(ClauseHistory).where(
                ClauseHistory.clause_id == lot.clause_id, ClauseHistory.event == "company_left"
            )
        ).all()
        assert len(rows) == 1
        assert (rows[0].reason or "").startswith("sa part des travaux est finie.")
    # ``declaration list`` in June: March missing (late), no April nor May.
    listed = _listed(app, lot, local(app, date(2027, 6, 20), 10))
    assert sorted(listed) == MONTHS[:7]
    assert listed[MAR] == "en retard"
    assert verify_database(app).findings == ()


def test_a_departure_recorded_after_aprils_call_withdraws_it(app: App) -> None:
    # Recorded on 3 May at 15:00: April's call was queued on the first working day of May (not
    # sent: no dispatch), its ladder opened.
    lot, said = _scenario(app, date(2027, 5, 3), dispatch=False)
    gone = lot.company_ids[1]
    emails = ladder_emails(app, lot)
    april = [e for e in emails if e.company_id == gone and APR in e.months]
    assert april, "April's call was queued before the departure was recorded"
    for email in april:
        assert email.state == OutboxState.CANCELLED, email.key
        assert email.last_error is not None
        assert squash(email.last_error).startswith(
            squash(f"Retiré\u00a0: {GONE} a quitté le chantier, son dernier mois est mars 2027")
        )
    live = [e for e in emails if e.state != OutboxState.CANCELLED]
    assert {m for m in _months_named(live, gone) if m > FEB} == {MAR}
    assert not [e for e in live if e.step == LadderStep.ESCALATION and APR in e.months]
    # April's ladder stopped: never climbed after the departure.
    april_ladder = [lad for lad in ladders(app) if lad.company_id == gone and lad.month == APR]
    assert [(lad.next_step, lad.next_step_at) for lad in april_ladder] == [(LadderStep.DONE, None)]
    assert squash(said[0].strip().splitlines()[0]) == squash(  # then who is told
        f"Clause n° {lot.clause_id} : {GONE} a quitté le chantier\u00a0: son dernier mois à "
        "déclarer est mars 2027, aucun mois suivant ne lui est demandé\u00a0; avril 2027, déjà "
        "demandé, ne l'est plus\u00a0: ses relances s'arrêtent\u00a0; 1 courriel en attente "
        "retiré (appel à déclaration)."
    )
    listed = _listed(app, lot, local(app, date(2027, 6, 20), 10))
    assert sorted(listed) == MONTHS[:7]
    with app.transaction() as session:
        party = session.scalars(
            select(AwardParty).where(
                AwardParty.clause_id == lot.clause_id, AwardParty.company_id == gone
            )
        ).one()
        assert (party.last_month, party.next_call_at) == (MAR, None)
    assert verify_database(app).findings == ()


def test_a_departure_is_refused_after_a_month_it_declared(app: App) -> None:
    lots: list[Lot] = []
    at = local(app, date(2026, 9, 1), 8)
    simulate(
        app,
        SEP,
        date(2026, 11, 10),
        actions=[
            TimedAction(
                at,
                "lot",
                lambda app, at: lots.append(
                    make_lot(
                        app, start=SEP, end=date(2027, 12, 31), companies=(HOLDER, GONE), at=at
                    )
                ),
            ),
            TimedAction(
                local(app, date(2026, 11, 3), 11),
                "octobre",
                lambda app, at: declare(app, lots[0], date(2026, 10, 1), at, company=1),
            ),
        ],
        dispatch=False,
    )
    lot = lots[0]
    with app.transaction() as session:
        market = session.get_one(Clause, lot.clause_id).market.reference
    now = local(app, date(2026, 11, 10), 16)
    base = ("clause", "company-left", str(lot.clause_id), "--reason", "parti")
    lot_named = f"lot 1 «\u00a0Gros œuvre\u00a0» (marché {market})"
    out = _cli(app, now, *base, "--company", GONE, "--last-month", "09/2026", code=1)
    assert squash(out) == squash(
        f"Refusé : --last-month\u00a0: {GONE} ne peut pas avoir septembre 2026 pour dernier "
        "mois sur le chantier\u00a0: elle a déjà déclaré octobre 2026 (dernier mois "
        "possible\u00a0: octobre 2026 ou après). Vérifiez le dernier mois, ou "
        "annulez d'abord cette déclaration\u00a0: clauses declaration cancel --clause "
        f"{lot.clause_id} --company {lot.company_ids[1]} --month 10/2026 --reason "
        "«\u00a0…\u00a0»."
    )
    out = _cli(app, now, *base, "--company", GONE, "--last-month", "08/2026", code=1)
    assert squash(out) == squash(
        f"Refusé : --last-month\u00a0: août 2026 précède le premier mois de {GONE} sur le "
        f"{lot_named}, septembre 2026."
    )
    _cli(app, now, *base, "--company", GONE, "--last-month", "10/2026")
    out = _cli(app, now, *base, "--company", GONE, "--last-month", "11/2026", code=1)
    assert squash(out) == squash(
        f"Refusé : --last-month\u00a0: {GONE} a déjà quitté le chantier, son dernier mois "
        "enregistré est octobre 2026\u00a0: il peut être avancé, pas reculé à novembre 2026 "
        "(les mois qui ne lui sont plus demandés ne le seraient pas de nouveau)."
    )
    # Both companies gone: refused, the end of the works is what to record.
    out = _cli(app, now, *base, "--company", HOLDER, "--last-month", "10/2026", code=1)
    assert squash(out).startswith(
        squash(
            f"Refusé : --last-month\u00a0: après octobre 2026, plus aucune entreprise du "
            f"{lot_named} ne resterait sur le chantier\u00a0; si les travaux sont finis, "
            "enregistrez plutôt la fin d'exécution"
        )
    )


def test_a_call_naming_march_and_april_is_written_again_for_march(app: App) -> None:
    # The service stopped from 1 April to 3 May: on 4 May one call asks the subcontractor for
    # March and April together. Its departure (last month March), recorded that afternoon
    # before the call left, writes the call again for March alone.
    lots: list[Lot] = []
    actions = [
        TimedAction(
            local(app, SEP, 8),
            "lot",
            lambda app, at: lots.append(
                make_lot(app, start=SEP, end=date(2027, 12, 31), companies=(HOLDER, GONE), at=at)
            ),
        )
    ]
    for month in MONTHS[:6]:
        following = date(month.year + month.month // 12, month.month % 12 + 1, 3)
        for company in (0, 1):
            actions.append(
                TimedAction(
                    local(app, following, 11 + company),
                    f"{company} {month:%Y-%m}",
                    lambda app, at, month=month, company=company: declare(
                        app, lots[0], month, at, company=company
                    ),
                )
            )
    simulate(app, SEP, date(2027, 3, 31), actions=actions)
    lot = lots[0]
    gone = lot.company_ids[1]
    said: list[str] = []
    args = ("clause", "company-left", str(lot.clause_id), "--company", GONE)
    args += ("--last-month", "03/2027", "--reason", "sa part des travaux est finie")
    leave = TimedAction(
        local(app, date(2027, 5, 4), 15),
        "départ",
        lambda app, at: said.append(_cli(app, at, *args)),
    )
    simulate(app, date(2027, 5, 4), date(2027, 5, 4), actions=[leave], dispatch=False)
    emails = {e.key: e for e in ladder_emails(app, lot) if e.company_id == gone}
    both = emails[f"reminder:{lot.clause_id}:{gone}:2027-03..2027-04:call"]
    assert both.state == OutboxState.CANCELLED
    assert (both.last_error or "").startswith("Remplacé")
    march = emails[f"reminder:{lot.clause_id}:{gone}:2027-03:call"]
    assert march.state != OutboxState.CANCELLED
    assert "mars 2027" in march.text and not months_told(march.text) & {APR, MAY}
    assert squash(said[0].strip().splitlines()[0]) == squash(  # then who is told
        f"Clause n° {lot.clause_id} : {GONE} a quitté le chantier\u00a0: son dernier mois à "
        "déclarer est mars 2027, aucun mois suivant ne lui est demandé\u00a0; avril 2027, déjà "
        "demandé, ne l'est plus\u00a0: ses relances s'arrêtent\u00a0; 1 courriel en attente écrit "
        "à nouveau pour les mois qu'elle doit encore (appel à déclaration)."
    )
    assert verify_database(app).findings == ()
