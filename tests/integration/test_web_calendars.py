"""A lot's and a buyer's declaration calendar changed from their correction pages: ``clauses lot
set`` and ``clauses buyer set`` as forms, over the real ASGI application and the real App, on
SQLite and PostgreSQL.

Each form calls the function its command calls, with the signed-in user as the actor: on twin
records of the same database, the form and the command leave the same columns, the same history
rows but for the actor, and move a waiting reminder to the same date. « Revenir… » goes back to
the level above as « défaut » and --reset-calendar do. A refusal names the field, keeps what was
typed (422) and leaves every table as it was; a POST without its CSRF token does nothing.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import Lot, ladder_pass, make_lot
from tests.integration.test_corrections import dump
from tests.integration.test_web_corrections import NBSP, PASSWORD, USER, sign_in
from tests.text import visible
from workflow.adapters.orm import Buyer, Clause, ClauseHistory, DeclarationLadder
from workflow.app import web_accounts
from workflow.bootstrap import App, bootstrap
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.entrypoints.web.site import create_site
from workflow.settings import Settings

#: The facilitator of the settings: the command's actor when none is given.
FACILITATOR = "Camille Martin"
#: The columns a calendar change writes on a lot or a buyer.
CALENDAR_COLUMNS = ("declaration_due_day", "reminder_offsets", "escalation_offset")
#: What signing in and reading pages write, which a refused form must not be blamed for.
SESSION_TABLES = ("web_sessions", "web_users", "login_failures")


def fr(text: str) -> str:
    """``text`` as a page prints it: a no-break space before « : ; ? ! » and inside « »."""
    return re.sub(r" (?=[:;?!»])|(?<=«) ", NBSP, text)


def nine(day: int, month: int = 4) -> datetime:
    """09:00 in Paris in summer time."""
    return datetime(2026, month, day, 7, tzinfo=UTC)


@pytest.fixture
def twins(app: App, clock: Clock) -> tuple[Lot, Lot]:
    """Two lots alike, each with its own buyer, March called on 1 April (due 10 April, reminder
    1 on 15 April): the form changes one, the command the other."""
    lots = (make_lot(app), make_lot(app))
    ladder_pass(app, nine(1))
    clock.set(nine(2))
    return lots


@pytest.fixture
def site(app: App, twins: tuple[Lot, Lot]) -> TestClient:
    web_accounts.add_user(app, login="lea", name=USER, password=PASSWORD)
    return TestClient(create_site(app))


def run(settings: Settings, clock: Clock, *args: str) -> Result:
    """``clauses ARGS`` on the test's database and clock."""
    state = CliState()
    state.factory = lambda: bootstrap(settings, clock=clock)
    try:
        result = CliRunner().invoke(cli, list(args), obj=state, catch_exceptions=False)
    finally:
        state.close()
    assert result.exit_code == 0, result.output
    return result


def lot_columns(app: App, lot: Lot) -> dict[str, Any]:
    with app.transaction() as session:
        clause = session.get_one(Clause, lot.clause_id)
        return {name: getattr(clause, name) for name in CALENDAR_COLUMNS}


def buyer_columns(app: App, lot: Lot) -> dict[str, Any]:
    with app.transaction() as session:
        buyer = session.get_one(Buyer, lot.buyer_id)
        return {
            "notice_preference": buyer.notice_preference,
            **{name: getattr(buyer, name) for name in CALENDAR_COLUMNS},
        }


def calendar_rows(app: App, lot: Lot) -> list[dict[str, Any]]:
    """The lot's calendar history rows, every column but the row's N°, the clause's and the
    actor; the buyer's name (each twin has its own) read as « BUYER »."""
    with app.transaction() as session:
        name = session.get_one(Buyer, lot.buyer_id).name
        rows = session.scalars(
            select(ClauseHistory)
            .where(ClauseHistory.clause_id == lot.clause_id, ClauseHistory.event == "calendar")
            .order_by(ClauseHistory.id)
        )
        return [
            {
                column.key: getattr(row, column.key).replace(name, "BUYER")
                if column.key == "reason"
                else getattr(row, column.key)
                for column in ClauseHistory.__table__.columns
                if column.key not in ("id", "clause_id", "actor")
            }
            for row in rows
        ]


def actors(app: App, lot: Lot) -> list[str]:
    with app.transaction() as session:
        return list(
            session.scalars(
                select(ClauseHistory.actor)
                .where(ClauseHistory.clause_id == lot.clause_id, ClauseHistory.event == "calendar")
                .order_by(ClauseHistory.id)
            )
        )


def waiting(app: App, lot: Lot) -> list[tuple[date, str, datetime | None]]:
    """The lot's running months: due date, next step and when it leaves."""
    with app.transaction() as session:
        return [
            (ladder.due_on, ladder.next_step, ladder.next_step_at)
            for ladder in session.scalars(
                select(DeclarationLadder)
                .where(DeclarationLadder.clause_id == lot.clause_id)
                .order_by(DeclarationLadder.month, DeclarationLadder.company_id)
            )
        ]


def lot_page(lot: Lot) -> str:
    return f"/corrections/lots/{lot.clause_id}"


def buyer_page(lot: Lot) -> str:
    return f"/corrections/donneurs-d-ordre/{lot.buyer_id}"


def post(site: TestClient, page: str, token: str, **fields: str) -> Any:
    return site.post(f"{page}/calendrier", data={"csrf": token, **fields}, follow_redirects=False)


def told(site: TestClient, response: Any) -> str:
    """The confirmation the page shows after the redirect."""
    assert response.status_code == 303, visible(response.text)
    location = response.headers["location"]
    assert location.endswith("#calendrier")
    found = re.search(r'id="calendrier-fait">\s*<p>(.*?)</p>', site.get(location).text, re.S)
    assert found is not None
    return html.unescape(found.group(1))


def not_changed(app: App) -> dict[str, Any]:
    return {k: v for k, v in dump(app).items() if k not in SESSION_TABLES}


# --- a lot's calendar ----------------------------------------------------------------------------


def test_the_lot_form_leaves_the_rows_the_command_leaves_and_moves_the_waiting_reminder(
    app: App, site: TestClient, settings: Settings, clock: Clock, twins: tuple[Lot, Lot]
) -> None:
    web, twin = twins
    token = sign_in(site)
    before = waiting(app, web)
    assert before == [(date(2026, 4, 10), "reminder_1", nine(15))]

    response = post(
        site, lot_page(web), token, due_day="3", reminder_offsets="2, 5", escalation_offset="",
        reason="avenant n° 2",
    )  # fmt: skip
    run(settings, clock, "lot", "set", str(twin.clause_id), "--due-day", "3",
        "--reminder-offsets", "2, 5", "--reason", "avenant n° 2")  # fmt: skip

    assert (
        lot_columns(app, web)
        == lot_columns(app, twin)
        == {
            "declaration_due_day": 3,
            "reminder_offsets": "2,5",
            "escalation_offset": None,
        }
    )
    assert calendar_rows(app, web) == calendar_rows(app, twin)
    [row] = calendar_rows(app, web)
    assert row["reason"] == (
        "calendrier des déclarations du lot : échéance : le 3 (lot), avant le 10 (réglage "
        "général) ; rappels : J+2, J+5 (lot), avant J+3, J+7 (réglage général) ; motif : "
        "avenant n° 2"
    )
    assert (actors(app, web), actors(app, twin)) == ([USER], [FACILITATOR])
    # Friday 3 April; Easter Monday is not a working day: J+2 is Wednesday 8 April.
    assert waiting(app, web) == waiting(app, twin) == [(date(2026, 4, 3), "reminder_1", nine(8))]

    said = told(site, response)
    assert fr("échéance : le 3 (lot), avant le 10 (réglage général)") in said
    assert fr("1 relance en cours suit le nouveau calendrier") in said
    page = visible(site.get(lot_page(web)).text)
    assert fr("rappel n° 1, mercredi 8 avril 2026 à 09:00") in page  # the running month, moved


def test_back_to_the_buyers_calendar_as_default_and_reset_calendar_do(
    app: App, site: TestClient, settings: Settings, clock: Clock, twins: tuple[Lot, Lot]
) -> None:
    web, twin = twins
    token = sign_in(site)
    for lot in twins:
        run(settings, clock, "lot", "set", str(lot.clause_id), "--due-day", "3",
            "--reminder-offsets", "2,5", "--escalation-offset", "12")  # fmt: skip
    page = visible(site.get(lot_page(web)).text)
    assert fr("En vigueur : le 3 du mois suivant (lot)") in page
    back = "Revenir au calendrier du donneur d'ordre pour cette règle"
    assert f"{back} (le 10 du mois suivant (réglage général))" in page

    # One rule: the box, as « --due-day défaut »; the word « défaut » typed does the same.
    told(site, post(site, lot_page(web), token, due_day="3", reminder_offsets="2,5",
                    escalation_offset="12", clear_due_day="1"))  # fmt: skip
    run(settings, clock, "lot", "set", str(twin.clause_id), "--due-day", "défaut")
    assert lot_columns(app, web) == lot_columns(app, twin)
    assert lot_columns(app, web)["declaration_due_day"] is None
    said = told(site, post(site, lot_page(web), token, reminder_offsets="défaut"))
    assert fr("rappels : J+3, J+7 (réglage général), avant J+2, J+5 (lot)") in said
    run(settings, clock, "lot", "set", str(twin.clause_id), "--reminder-offsets", "defaut")

    # All three: the box « pour les trois règles », as --reset-calendar.
    said = told(site, post(site, lot_page(web), token, escalation_offset="12", reset_calendar="1"))
    run(settings, clock, "lot", "set", str(twin.clause_id), "--reset-calendar")
    assert lot_columns(app, web) == lot_columns(app, twin) == dict.fromkeys(CALENDAR_COLUMNS)
    assert calendar_rows(app, web) == calendar_rows(app, twin)
    assert len(calendar_rows(app, web)) == 4
    assert waiting(app, web) == waiting(app, twin) == [(date(2026, 4, 10), "reminder_1", nine(15))]
    assert fr("signalement au donneur d'ordre : J+15 (réglage général), avant J+12 (lot)") in said

    # Nothing left to go back from: nothing written, and the page says so.
    rows = dump(app)["clause_history"]
    assert told(site, post(site, lot_page(web), token, reset_calendar="1")) == fr(
        "Rien à changer : ce lot a déjà ce calendrier."
    )
    assert dump(app)["clause_history"] == rows


# --- a buyer's notices and calendar ---------------------------------------------------------------


def test_the_buyer_form_leaves_the_rows_the_command_leaves(
    app: App, site: TestClient, settings: Settings, clock: Clock, twins: tuple[Lot, Lot]
) -> None:
    web, twin = twins
    token = sign_in(site)
    page = visible(site.get(buyer_page(web)).text)
    assert fr("Jour d'échéance des déclarations le 10 du mois suivant (réglage général)") in page

    response = post(site, buyer_page(web), token, notices="mensuel", due_day="5",
                    reminder_offsets="", escalation_offset="", reason="demande du service")  # fmt: skip
    run(settings, clock, "buyer", "set", str(twin.buyer_id), "--notices", "mensuel",
        "--due-day", "5", "--reason", "demande du service")  # fmt: skip

    assert (
        buyer_columns(app, web)
        == buyer_columns(app, twin)
        == {
            "notice_preference": "monthly_only",
            "declaration_due_day": 5,
            "reminder_offsets": None,
            "escalation_offset": None,
        }
    )
    assert lot_columns(app, web) == lot_columns(app, twin) == dict.fromkeys(CALENDAR_COLUMNS)
    assert calendar_rows(app, web) == calendar_rows(app, twin)
    [row] = calendar_rows(app, web)
    assert " ".join(row["reason"].replace(NBSP, " ").split()) == (
        "calendrier du donneur d'ordre « BUYER » changé : échéance : le 5 (donneur d'ordre), "
        "avant le 10 (réglage général) ; motif : demande du service"
    )
    assert (actors(app, web), actors(app, twin)) == ([USER], [FACILITATOR])
    # 5 April 2026 is a Sunday and 6 April Easter Monday: due Tuesday 7 April.
    assert waiting(app, web) == waiting(app, twin)
    assert waiting(app, web)[0][0] == date(2026, 4, 7)

    said = told(site, response)
    assert said.startswith(
        fr(
            "Donneur d'ordre modifié : avis : la synthèse mensuelle seulement, avant un avis à "
            "chaque étape ; échéance : le 5 (donneur d'ordre), avant le 10 (réglage général)."
        )
    )
    assert fr(f"Lots dont le calendrier change : 1 clause (n° {web.clause_id})") in said
    assert fr("1 relance en cours suit le nouveau calendrier") in said
    page = site.get(buyer_page(web)).text
    assert re.search(r'<option value="mensuel" selected>', page)


def test_the_buyer_goes_back_to_the_general_setting(
    app: App, site: TestClient, settings: Settings, clock: Clock, twins: tuple[Lot, Lot]
) -> None:
    web, twin = twins
    token = sign_in(site)
    for lot in twins:
        run(settings, clock, "buyer", "set", str(lot.buyer_id), "--due-day", "5",
            "--escalation-offset", "20")  # fmt: skip
    page = visible(site.get(buyer_page(web)).text)
    assert fr("Revenir au réglage général pour les trois règles") in page

    said = told(site, post(site, buyer_page(web), token, notices="chaque-etape",
                           clear_escalation_offset="1"))  # fmt: skip
    run(settings, clock, "buyer", "set", str(twin.buyer_id), "--escalation-offset", "défaut")
    assert (
        fr("signalement au donneur d'ordre : J+15 (réglage général), avant J+20 (donneur d'ordre)")
        in said
    )
    told(site, post(site, buyer_page(web), token, notices="chaque-etape", reset_calendar="1"))
    run(settings, clock, "buyer", "set", str(twin.buyer_id), "--reset-calendar")

    assert buyer_columns(app, web) == buyer_columns(app, twin)
    assert buyer_columns(app, web) == {
        "notice_preference": "each_milestone",
        **dict.fromkeys(CALENDAR_COLUMNS),
    }
    assert calendar_rows(app, web) == calendar_rows(app, twin)
    assert waiting(app, web) == waiting(app, twin) == [(date(2026, 4, 10), "reminder_1", nine(15))]


# --- refusals -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "fields", "field", "words"),
    [
        ("lot", {"due_day": "31"}, "due_day", "Jour d'échéance des déclarations : 31 doit être entre 1 et 28."),
        ("lot", {"reminder_offsets": "7,3"}, "reminder_offsets", "Jours de rappel « 7,3 »"),
        ("lot", {"escalation_offset": "5"}, "escalation_offset",
         "(champ «\u00a0Délai de signalement au donneur d'ordre\u00a0»)"),
        ("lot", {"due_day": "le cinq"}, "due_day", "Jour d'échéance des déclarations : «\u00a0le cinq\u00a0»"),
        ("lot", {"due_day": "4", "reset_calendar": "1"}, "reset_calendar", "les remet toutes par défaut"),
        ("buyer", {"notices": "hebdomadaire"}, "notices", "Préférence d'avis « hebdomadaire » inconnue"),
        ("buyer", {"due_day": "0", "notices": "mensuel"}, "due_day",
         "Jour d'échéance des déclarations : 0 doit être entre 1 et 28."),
        ("buyer", {"escalation_offset": "2", "notices": "chaque-etape"}, "escalation_offset",
         "(champ «\u00a0Délai de signalement au donneur d'ordre\u00a0»)"),
    ],
)  # fmt: skip
def test_a_refusal_names_the_field_keeps_what_was_typed_and_changes_nothing(
    app: App,
    site: TestClient,
    twins: tuple[Lot, Lot],
    where: str,
    fields: dict[str, str],
    field: str,
    words: str,
) -> None:
    lot = twins[0]
    token = sign_in(site)
    page = lot_page(lot) if where == "lot" else buyer_page(lot)
    before = not_changed(app)

    response = post(site, page, token, **fields, reason="essai")

    assert response.status_code == 422
    text = visible(response.text)
    assert "Changement refusé" in text and "Rien n'a été modifié." in text
    assert fr(words) in text
    # The field named, and it alone, is marked; what was typed is shown again.
    marked = re.findall(r'id="cal-([a-z_]+)"[^>]*aria-invalid="true"', response.text)
    assert marked == [field.replace("reset_calendar", "reset")]
    for name, value in fields.items():
        if name not in ("notices", "reset_calendar"):
            assert re.search(rf'name="{name}" value="{re.escape(value)}"', response.text)
    assert ">essai</textarea>" in response.text
    assert not_changed(app) == before


def test_a_post_without_its_token_or_signed_out_does_nothing(
    app: App, site: TestClient, twins: tuple[Lot, Lot]
) -> None:
    lot = twins[0]
    before = not_changed(app)
    signed_out = post(site, lot_page(lot), "", due_day="3")
    assert signed_out.headers["location"].startswith("/connexion")
    token = sign_in(site)
    for page in (lot_page(lot), buyer_page(lot)):
        for sent in ("", "faux-jeton", token[:-1]):
            response = post(site, page, sent, due_day="3", notices="mensuel")
            assert response.status_code == 403
            assert "rien n'a été fait" in visible(response.text)
    assert not_changed(app) == before


def test_a_confirmation_typed_in_the_address_is_not_shown(
    app: App, site: TestClient, twins: tuple[Lot, Lot]
) -> None:
    lot = twins[0]
    token = sign_in(site)
    response = post(site, lot_page(lot), token, due_day="3")
    query = parse_qs(urlsplit(response.headers["location"]).query)
    forged = "Calendrier des déclarations changé : rien de vrai."
    page = site.get(lot_page(lot), params={"calendrier": forged, "sceau": query["sceau"][0]})
    assert forged not in visible(page.text)
