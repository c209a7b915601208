"""A lot's end during execution: the date the work ended is a day that has come, and the planned
end moves with an amendment (« avenant ») that the reminders follow.

The refusal of an end date to come is checked at each interface (command line, web form, API),
each naming its own field and changing nothing; the planned end moved by ``clauses lot set-end``,
the clause's page and the API, with its history row; and, on the real passes of a simulated
clock, the months the new end adds called at their usual dates, those it removes not called.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import Lot, declare, ladder_emails, ladder_pass, make_lot
from tests.integration.test_dashboard import dashboard_site, sign_in
from tests.integration.test_declaration_howto import lot_01
from tests.text import squash, visible
from workflow.adapters.orm import Clause, ClauseHistory
from workflow.app import api_tokens
from workflow.app import catalog as catalog_app
from workflow.app import clauses as clause_app
from workflow.bootstrap import App, bootstrap
from workflow.domain.calendar import at_local, month_schedule
from workflow.domain.stages import ClauseEvent, Stage
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.errors import InputRefused
from workflow.services.lot_calendars import lot_calendars
from workflow.services.reminder_emails import key_months
from workflow.services.ticks import TimedAction, simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

NBSP = "\u00a0"


def paris(day: date, hour: int, minute: int = 0) -> datetime:
    return at_local(day, time(hour, minute), Settings().zone)


def state_of(app: App, clause_id: int) -> tuple[object, ...]:
    """What a refused change must leave as it was: stage, version, dates, history."""
    with app.transaction() as session:
        clause = session.get_one(Clause, clause_id)
        history = session.scalars(
            select(ClauseHistory.id).where(ClauseHistory.clause_id == clause_id)
        ).all()
        return (
            clause.stage,
            clause.version,
            clause.start_date,
            clause.planned_end_date,
            clause.end_date,
            tuple(history),
        )


def last_history(app: App, clause_id: int) -> tuple[str, str, str | None, datetime]:
    with app.transaction() as session:
        row = session.scalars(
            select(ClauseHistory)
            .where(ClauseHistory.clause_id == clause_id)
            .order_by(ClauseHistory.id.desc())
            .limit(1)
        ).one()
        return row.event, row.actor, row.reason, row.at


def run_cli(settings: Settings, clock: Clock, *args: str) -> tuple[int, str]:
    state = CliState()
    state.factory = lambda: bootstrap(settings, clock=clock)
    result = CliRunner().invoke(cli, list(args), obj=state, catch_exceptions=False)
    return result.exit_code, squash(result.output)


# --- the date the work ended ------------------------------------------------------------------


def test_the_command_line_refuses_an_end_date_to_come_and_says_to_move_the_planned_end(
    app: App, settings: Settings, clock: Clock
) -> None:
    """The user's case: on 25 November 2026, « achever --end-date 31/01/2027 » was recorded."""
    lot = make_lot(app, start=date(2026, 3, 2), end=date(2026, 12, 31))
    clock.set(paris(date(2026, 11, 25), 10))
    before = state_of(app, lot.clause_id)

    code, said = run_cli(settings, clock, "clause", "advance", str(lot.clause_id), "achever",
                         "--end-date", "31/01/2027")  # fmt: skip

    assert code == 1
    assert (
        f"--end-date{NBSP}: le 31/01/2027 n'est pas encore arrivé (nous sommes le 25/11/2026){NBSP}; "
        "l'exécution s'achève à une date passée ou du jour. Si les travaux se prolongent "
        f"(avenant), reportez plutôt la fin prévue du lot{NBSP}: clauses lot set-end "
        f"{lot.clause_id} 31/01/2027 --reason «{NBSP}avenant n°{NBSP}…{NBSP}»."
    ) in said
    assert state_of(app, lot.clause_id) == before
    # The day itself is an end date that has come.
    code, said = run_cli(settings, clock, "clause", "advance", str(lot.clause_id), "achever",
                         "--end-date", "25/11/2026")  # fmt: skip
    assert code == 0, said
    assert "mise en œuvre → suivi et bilan" in said


def test_today_is_the_day_in_the_settings_time_zone(app: App, clock: Clock) -> None:
    """At 23:30 UTC on 30 November it is already 1 December in Paris: that end has come."""
    lot = make_lot(app, start=date(2026, 3, 2), end=date(2026, 12, 31))
    clock.set(datetime(2026, 11, 30, 23, 30, tzinfo=UTC))
    with pytest.raises(InputRefused, match="le 02/12/2026 n'est pas encore arrivé"):
        clause_app.advance_clause(
            app, lot.clause_id, ClauseEvent.FINISH, end_date=date(2026, 12, 2)
        )
    moved = clause_app.advance_clause(
        app, lot.clause_id, ClauseEvent.FINISH, end_date=date(2026, 12, 1)
    )
    assert moved.to_stage is Stage.FOLLOW_UP
    assert state_of(app, lot.clause_id)[4] == date(2026, 12, 1)


@pytest.fixture
def site(app: App, clock: Clock) -> TestClient:
    """The sample called for April 2026 (on 4 May), lot 01 in execution, Camille's account."""
    return dashboard_site(app, clock)


def test_the_clause_page_refuses_an_end_date_to_come_naming_its_field(
    app: App, site: TestClient
) -> None:
    csrf = sign_in(site)
    clause_id, _, _ = lot_01(app)
    before = state_of(app, clause_id)

    refused = site.post(
        f"/clauses/{clause_id}/avancer",
        data={"csrf": csrf, "etape": "execution", "fin": "2027-01-31", "motif": "fin"},
    )

    assert refused.status_code == 422
    page = visible(refused.text)
    assert (
        f"Rien n'a été fait{NBSP}: Date de fin d'exécution{NBSP}: le 31/01/2027 n'est pas encore "
        f"arrivé (nous sommes le 04/05/2026){NBSP}; l'exécution s'achève à une date passée ou du "
        "jour. Si les travaux se prolongent (avenant), reportez plutôt la fin prévue du lot"
        f"{NBSP}: formulaire «{NBSP}Changer la fin prévue{NBSP}» de la page de la clause."
    ) in page
    assert 'value="2027-01-31"' in refused.text  # what was typed, kept
    assert state_of(app, clause_id) == before


def test_the_api_refuses_an_end_date_to_come_naming_date_fin(app: App, clock: Clock) -> None:
    site = dashboard_site(app, clock)
    writer, _ = api_tokens.create_token(app, name="Logiciel du PLIE", read_only=False)
    clause_id, _, _ = lot_01(app)
    before = state_of(app, clause_id)

    response = site.post(
        f"/api/v1/clauses/{clause_id}/avancer",
        headers={"Authorization": f"Bearer {writer}"},
        json={"evenement": "achever", "date_fin": "2027-01-31"},
    )

    assert response.status_code == 422
    said = response.json()["erreur"]
    assert said.startswith(
        f"«{NBSP}date_fin{NBSP}»{NBSP}: le 31/01/2027 n'est pas encore arrivé (nous sommes le "
        "04/05/2026)"
    )
    assert "reportez plutôt la fin prévue du lot" in said
    assert state_of(app, clause_id) == before


# --- moving the planned end -------------------------------------------------------------------


def test_lot_set_end_moves_the_planned_end_with_its_reason_in_the_history(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot = make_lot(app, start=date(2026, 3, 2), end=date(2026, 12, 31))
    clock.set(paris(date(2026, 11, 15), 10))

    code, said = run_cli(settings, clock, "lot", "set-end", str(lot.clause_id), "31/03/2027",
                         "--reason", "avenant n° 2 : intempéries", "--actor", "Léa Facilitatrice")  # fmt: skip

    assert code == 0, said
    assert said == (
        f"Clause n°{NBSP}{lot.clause_id}{NBSP}: fin prévue reportée du 31/12/2026 au 31/03/2027"
        f"{NBSP}; l'historique garde la raison. Les appels à déclarer suivent{NBSP}: mars 2027 "
        "sera le dernier mois demandé, appel prévu le 1er avril 2027."
    )
    assert last_history(app, lot.clause_id) == (
        "planned_end",
        "Léa Facilitatrice",
        f"fin prévue{NBSP}: 31 décembre 2026 → 31 mars 2027{NBSP}; avenant n° 2 : intempéries",
        paris(date(2026, 11, 15), 10),
    )
    shown = run_cli(settings, clock, "clause", "show", str(lot.clause_id))[1]
    assert "Démarrage : 02/03/2026 · fin prévue : 31/03/2027" in shown
    assert "fin prévue changée" in shown
    # The same date again: nothing written.
    rows = state_of(app, lot.clause_id)
    code, said = run_cli(settings, clock, "lot", "set-end", str(lot.clause_id), "31/03/2027",
                         "--reason", "avenant n° 2")  # fmt: skip
    assert (code, said) == (
        0,
        f"Rien à changer{NBSP}: la fin prévue de la clause n°{NBSP}{lot.clause_id} est déjà le "
        "31/03/2027.",
    )
    assert state_of(app, lot.clause_id) == rows


def test_a_planned_end_is_refused_before_the_start_a_month_declared_or_called_and_after_the_end(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot = make_lot(app, start=date(2026, 3, 2), end=date(2027, 3, 31))
    now = paris(date(2026, 11, 15), 10)
    clock.set(now)
    ladder_pass(app, now)  # March to October called (a catch-up call)
    declare(app, lot, date(2026, 9, 1), now)
    before = state_of(app, lot.clause_id)

    def refused(*args: str) -> str:
        code, said = run_cli(settings, clock, "lot", "set-end", str(lot.clause_id), *args)
        assert code == 1, said
        assert state_of(app, lot.clause_id) == before
        return said

    assert f"Fin prévue{NBSP}: le 28/02/2026 est avant le démarrage (02/03/2026)." in refused(
        "28/02/2026", "--reason", "avenant n° 3"
    )
    assert (
        f"Fin prévue{NBSP}: le 31/07/2026 est avant septembre 2026, mois déjà déclaré par "
        f"Bâtiments Test{NBSP}; la fin prévue ne peut pas précéder un mois déclaré."
    ) in refused("31/07/2026", "--reason", "avenant n° 3")
    # October's call went out: an end before it would leave it owed past the end, reminded and
    # then told to the buyer, with no way to declare it.
    assert (
        f"Fin prévue{NBSP}: le 30/09/2026 est avant octobre 2026, mois dont la déclaration a déjà "
        f"été demandée à Bâtiments Test{NBSP}; la fin prévue ne peut pas précéder un mois déjà "
        "appelé."
    ) in refused("30/09/2026", "--reason", "avenant n° 3")
    assert (
        f"--reason{NBSP}: indiquez pourquoi la fin prévue change (avenant n°{NBSP}…), elle est "
        "gardée à l'historique."
    ) in refused("31/10/2026", "--reason", "  ")
    assert f"Fin prévue : «{NBSP}31/13/2026{NBSP}» n'est pas une date" in refused(
        "31/13/2026", "--reason", "avenant"
    )

    code, said = run_cli(settings, clock, "lot", "set-end", str(lot.clause_id), "31/10/2026",
                         "--reason", "avenant n° 3 : lot réduit")  # fmt: skip
    assert code == 0, said
    assert "fin prévue avancée du 31/03/2027 au 31/10/2026" in said

    code, said = run_cli(settings, clock, "clause", "advance", str(lot.clause_id), "achever",
                         "--end-date", "15/11/2026")  # fmt: skip
    assert code == 0, said
    before = state_of(app, lot.clause_id)
    assert (
        f"est à l'étape «{NBSP}suivi et bilan{NBSP}»{NBSP}: l'exécution s'est achevée le "
        "15/11/2026, sa fin prévue ne change plus."
    ) in refused("31/05/2027", "--reason", "avenant")


def test_the_clause_page_moves_the_planned_end_and_refuses_naming_the_field(
    app: App, site: TestClient
) -> None:
    csrf = sign_in(site)
    clause_id, _, _ = lot_01(app)
    page = visible(site.get(f"/clauses/{clause_id}").text)
    assert "Changer la fin prévue" in page and "Fin prévue 31 août 2027" in page
    before = state_of(app, clause_id)

    def post(**fields: str) -> tuple[int, str]:
        response = site.post(
            f"/clauses/{clause_id}/fin-prevue",
            data={"csrf": csrf, **fields},
            follow_redirects=False,
        )
        return response.status_code, response.text

    for fields, said in (
        ({"nouvelle_fin": "2027-10-31", "raison_fin": ""},
         f"Raison du changement{NBSP}: indiquez pourquoi la fin prévue change"),
        ({"nouvelle_fin": "", "raison_fin": "avenant n° 2"},
         f"Nouvelle fin prévue{NBSP}: indiquez-la (jj/mm/aaaa)."),
        ({"nouvelle_fin": "2026-03-31", "raison_fin": "avenant n° 2"},
         f"Nouvelle fin prévue{NBSP}: le 31/03/2026 est avant le démarrage (06/04/2026)."),
        (
            {"nouvelle_fin": "31/02/2027", "raison_fin": "avenant n° 2"},
            f"Nouvelle fin prévue{NBSP}: «{NBSP}31/02/2027{NBSP}» n'est pas une date (jj/mm/aaaa).",
        ),
    ):  # fmt: skip
        status, text = post(**fields)
        assert status == 422, fields
        assert f"Rien n'a été fait{NBSP}: {said}" in visible(text)
        assert state_of(app, clause_id) == before
    # Without the session's CSRF token, nothing either.
    assert (
        site.post(
            f"/clauses/{clause_id}/fin-prevue",
            data={"nouvelle_fin": "2027-10-31", "raison_fin": "avenant"},
            follow_redirects=False,
        ).status_code
        == 403
    )
    assert state_of(app, clause_id) == before

    status, _ = post(nouvelle_fin="31/10/2027", raison_fin="avenant n° 2 : intempéries")

    assert status == 303
    shown = visible(site.get(f"/clauses/{clause_id}?fait=fin-prevue").text)
    assert (
        f"Clause n°{NBSP}{clause_id}{NBSP}: fin prévue changée, désormais le 31 octobre 2027{NBSP}; "
        "l'historique garde la raison à votre nom."
    ) in shown
    assert "Fin prévue 31 octobre 2027" in shown
    assert "fin prévue changée" in shown and "31 août 2027 → 31 octobre 2027" in shown
    event, actor, reason, _ = last_history(app, clause_id)
    assert (event, actor) == ("planned_end", "Camille Martin")
    assert reason == (
        f"fin prévue{NBSP}: 31 août 2027 → 31 octobre 2027{NBSP}; avenant n° 2 : intempéries"
    )


def test_the_api_moves_the_planned_end_and_names_its_fields(app: App, clock: Clock) -> None:
    site = dashboard_site(app, clock)
    writer, _ = api_tokens.create_token(app, name="Logiciel du PLIE", read_only=False)
    reader, _ = api_tokens.create_token(app, name="Tableur", read_only=True)
    clause_id, _, _ = lot_01(app)
    address = f"/api/v1/clauses/{clause_id}/fin-prevue"
    before = state_of(app, clause_id)

    early = site.post(address, headers={"Authorization": f"Bearer {writer}"},
                      json={"fin_prevue": "2026-03-31", "motif": "avenant n° 2"})  # fmt: skip
    blank = site.post(address, headers={"Authorization": f"Bearer {writer}"},
                      json={"fin_prevue": "2027-10-31", "motif": " "})  # fmt: skip
    read_only = site.post(address, headers={"Authorization": f"Bearer {reader}"},
                          json={"fin_prevue": "2027-10-31", "motif": "avenant"})  # fmt: skip

    assert (early.status_code, early.json()["erreur"]) == (
        422,
        f"«{NBSP}fin_prevue{NBSP}»{NBSP}: le 31/03/2026 est avant le démarrage (06/04/2026).",
    )
    assert blank.status_code == 422
    assert blank.json()["erreur"].startswith(f"«{NBSP}motif{NBSP}»{NBSP}: indiquez pourquoi")
    assert read_only.status_code == 403
    assert state_of(app, clause_id) == before

    done = site.post(address, headers={"Authorization": f"Bearer {writer}"},
                     json={"fin_prevue": "2027-10-31", "motif": "avenant n° 2"})  # fmt: skip

    assert done.status_code == 200
    body = done.json()
    assert (body["fin_prevue_avant"], body["fin_prevue"], body["modifiee"]) == (
        "2027-08-31",
        "2027-10-31",
        True,
    )
    shown = site.get(f"/api/v1/clauses/{clause_id}", headers={"Authorization": f"Bearer {writer}"})
    assert shown.json()["fin_prevue"] == "2027-10-31"
    assert last_history(app, clause_id)[:2] == ("planned_end", "Logiciel du PLIE")


# --- the reminders follow ---------------------------------------------------------------------


def calls_by_month(app: App, lot: Lot) -> dict[date, datetime]:
    """When each month of the lot was first called."""
    found: dict[date, datetime] = {}
    for message in ladder_emails(app):
        if message.clause_id != lot.clause_id or not message.key.endswith(":call"):
            continue
        parsed = key_months(message.key)
        assert parsed is not None
        for month in parsed.months:
            found.setdefault(month, message.created_at)
    return found


def scheduled_calls(app: App, lot: Lot, months: list[date]) -> dict[date, datetime]:
    with app.transaction() as session:
        rules = lot_calendars(session, [lot.clause_id], app.settings)[lot.clause_id].rules
    return {m: month_schedule(m, rules, app.settings.zone).call_at for m in months}


def moved_end(lot: Lot, end: date, moment: datetime) -> TimedAction:
    def run(app: App, at: datetime) -> None:
        clause_app.set_planned_end(
            app, lot.clause_id, end, reason="avenant n° 2 : intempéries", actor="Léa"
        )

    return TimedAction(at=moment, label="avenant", run=run)


MONTHS = [date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1)]
ADDED = [date(2027, 1, 1), date(2027, 2, 1), date(2027, 3, 1)]


def test_a_lot_extended_in_november_is_called_for_the_months_added_at_their_dates(
    app: App,
) -> None:
    """Ending on 31 December 2026, extended on 15 November to 31 March 2027: December, January,
    February and March are each called on their usual day, and no later month."""
    lot = make_lot(app, start=date(2026, 10, 1), end=date(2026, 12, 31),
                   at=paris(date(2026, 10, 1), 10))  # fmt: skip
    extension = moved_end(lot, date(2027, 3, 31), paris(date(2026, 11, 15), 10))

    simulate(app, date(2026, 11, 2), date(2027, 5, 10), actions=[extension], dispatch=False)

    assert calls_by_month(app, lot) == scheduled_calls(app, lot, MONTHS + ADDED)
    event, actor, reason, at = last_history(app, lot.clause_id)
    assert (event, actor, at) == ("planned_end", "Léa", paris(date(2026, 11, 15), 10))
    assert reason == (
        f"fin prévue{NBSP}: 31 décembre 2026 → 31 mars 2027{NBSP}; avenant n° 2 : intempéries"
    )
    detail = clause_app.clause_detail(app, lot.clause_id)
    assert detail.planned_end_date == date(2027, 3, 31)


def test_a_lot_extended_after_its_calls_were_over_is_called_again_from_the_next_month(
    app: App,
) -> None:
    """Its end passed and its last month called (the company parked), the lot still in
    execution is extended on 15 January 2027: January to March are called on their days."""
    lot = make_lot(app, start=date(2026, 10, 1), end=date(2026, 12, 31),
                   at=paris(date(2026, 10, 1), 10))  # fmt: skip
    extension = moved_end(lot, date(2027, 3, 31), paris(date(2027, 1, 15), 10))

    simulate(app, date(2026, 11, 2), date(2027, 5, 10), actions=[extension], dispatch=False)

    assert calls_by_month(app, lot) == scheduled_calls(app, lot, MONTHS + ADDED)


def test_a_lot_shortened_in_november_is_called_for_no_month_after_its_new_end(
    app: App,
) -> None:
    lot = make_lot(app, start=date(2026, 10, 1), end=date(2027, 3, 31),
                   at=paris(date(2026, 10, 1), 10))  # fmt: skip
    cut = moved_end(lot, date(2026, 12, 31), paris(date(2026, 11, 15), 10))

    simulate(app, date(2026, 11, 2), date(2027, 5, 10), actions=[cut], dispatch=False)

    assert calls_by_month(app, lot) == scheduled_calls(app, lot, MONTHS)


def test_the_planned_end_moves_from_the_award_until_the_work_has_ended(app: App) -> None:
    lot = make_lot(app, start=date(2026, 3, 2), end=date(2026, 12, 31))
    clause_app.advance_clause(app, lot.clause_id, ClauseEvent.SUSPEND, reason="fouilles")
    suspended = clause_app.set_planned_end(
        app, lot.clause_id, date(2027, 2, 26), reason="avenant n° 1 : fouilles"
    )
    assert (suspended.before, suspended.after, suspended.changed) == (
        date(2026, 12, 31),
        date(2027, 2, 26),
        True,
    )
    clause_app.advance_clause(app, lot.clause_id, ClauseEvent.RESUME, reason="fouilles finies")

    with app.transaction() as session:
        market_id = session.get_one(Clause, lot.clause_id).market_id
    other = catalog_app.add_lot(
        app, market=market_id, title="Second œuvre", lot_number="2", hours_override=300,
        hours_reason="essai",
    ).clause.id  # fmt: skip

    def refusal() -> str:
        before = state_of(app, other)
        with pytest.raises(InputRefused) as refused:
            clause_app.set_planned_end(app, other, date(2027, 1, 29), reason="avenant n° 1")
        assert state_of(app, other) == before
        return refused.value.message

    assert refusal().endswith(
        f"est à l'étape «{NBSP}repérage{NBSP}»{NBSP}: la fin prévue s'enregistre avec "
        "l'attribution."
    )
    for event in (ClauseEvent.DRAFT, ClauseEvent.AWARD):
        clause_app.advance_clause(app, other, event)
    assert refusal().endswith(
        f"{NBSP}: son attribution n'est pas enregistrée{NBSP}; la fin prévue s'enregistre avec "
        f"elle (formulaire «{NBSP}Enregistrer l'attribution{NBSP}» de la page de la clause)."
    )
    clause_app.advance_clause(app, other, ClauseEvent.ABANDON, reason="infructueux")
    assert refusal().endswith(
        f"est à l'étape «{NBSP}abandonnée{NBSP}»{NBSP}: sa fin prévue ne change plus."
    )
