"""``clauses buyer set``, ``clauses lot set`` and the calendar in ``clauses clause show``, through
click on both backends: French output, ``--json``, exit codes 0, 1 and 2, nothing changed on a
refusal."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.conftest import Clock
from tests.integration._ladders import Lot, ladder_pass, ladders, make_lot
from tests.text import squash
from workflow.bootstrap import App
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState

APRIL_1 = datetime(2026, 4, 1, 7, tzinfo=UTC)  # March is called: due 10 April
APRIL_2 = datetime(2026, 4, 2, 8, tzinfo=UTC)


def run(app: App, *args: str) -> Result:
    state = CliState()
    state.factory = lambda: app
    return CliRunner().invoke(cli, list(args), obj=state, env={"COLUMNS": "200"})


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return squash(result.stdout)


def data(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def refused(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Refusé : "), result.stderr
    return squash(result.stderr)


@pytest.fixture
def lot(app: App, clock: Clock) -> Lot:
    made = make_lot(app, buyer_due_day=15)
    ladder_pass(app, APRIL_1)
    clock.set(APRIL_2)
    return made


def state(app: App, lot: Lot) -> tuple[Any, Any, list[Any]]:
    shown = data(run(app, "clause", "show", str(lot.clause_id), "--json"))
    buyers = data(run(app, "buyer", "list", "--json"))
    return shown, buyers, [(x.due_on, x.next_step, x.next_step_at) for x in ladders(app)]


def test_it_shows_the_calendar_of_a_clause_and_where_each_rule_comes_from(
    app: App, lot: Lot
) -> None:
    text = ok(run(app, "clause", "show", str(lot.clause_id)))
    assert (
        "Calendrier des déclarations : "
        "échéance : le 15 du mois suivant (donneur d'ordre) "
        "rappels : 3 et 7 jours ouvrés après l'échéance (réglage général) "
        "signalement au donneur d'ordre : 15 jours ouvrés après l'échéance (réglage général)"
    ) in text
    shown = data(run(app, "clause", "show", str(lot.clause_id), "--json"))
    assert shown["calendrier"] == {
        "echeance": {"jour": 15, "origine": "buyer", "origine_libelle": "donneur d'ordre"},
        "rappels": {"jours": [3, 7], "origine": "default", "origine_libelle": "réglage général"},
        "signalement": {"jours": 15, "origine": "default", "origine_libelle": "réglage général"},
        "rappels_jamais_envoyes": [],
    }


def test_it_changes_a_lots_calendar_and_replans_its_running_ladder(app: App, lot: Lot) -> None:
    clause = str(lot.clause_id)
    text = ok(
        run(app, "lot", "set", clause, "--due-day", "3", "--reminder-offsets", "2, 5",
            "--reason", "avenant n° 2")
    )  # fmt: skip
    assert text == (
        f"Clause n° {clause} : calendrier des déclarations changé. "
        "- échéance : le 3 (lot), avant le 15 (donneur d'ordre) "
        "- rappels : J+2, J+5 (lot), avant J+3, J+7 (réglage général) "
        "1 relance en cours replanifiée selon le nouveau calendrier. "
        "Calendrier des déclarations : échéance : le 3 du mois suivant (lot) "
        "rappels : 2 et 5 jours ouvrés après l'échéance (lot) "
        "signalement au donneur d'ordre : 15 jours ouvrés après l'échéance (réglage général)"
    )
    [march] = ladders(app)
    assert (march.due_on, march.next_step) == (date(2026, 4, 3), "reminder_1")
    shown = data(run(app, "clause", "show", clause, "--json"))
    last = shown["historique"][-1]
    assert (last["evenement"], last["acteur"]) == ("calendar", "Camille Martin")
    assert last["motif"].endswith("; motif : avenant n° 2")
    assert "calendrier des déclarations" in ok(run(app, "clause", "show", clause))


def test_it_goes_back_to_the_default_with_the_word_or_the_flag(app: App, lot: Lot) -> None:
    clause = str(lot.clause_id)
    ok(run(app, "lot", "set", clause, "--due-day", "3", "--escalation-offset", "20"))

    result = data(run(app, "lot", "set", clause, "--due-day", "défaut", "--json"))
    assert result["changements"] == ["échéance : le 15 (donneur d'ordre), avant le 3 (lot)"]
    assert result["calendrier"]["signalement"]["origine"] == "lot"
    assert (result["relances_replanifiees"], result["etapes_echues"]) == (1, 0)

    result = data(run(app, "lot", "set", clause, "--reset-calendar", "--json"))
    assert result["calendrier"]["signalement"] == {
        "jours": 15,
        "origine": "default",
        "origine_libelle": "réglage général",
    }
    assert "Rien à changer : la clause n° " in ok(
        run(app, "lot", "set", clause, "--reset-calendar")
    )


def test_it_changes_a_buyers_notices_and_calendar(app: App, lot: Lot) -> None:
    buyer = str(lot.buyer_id)
    text = ok(run(app, "buyer", "set", buyer, "--notices", "mensuel", "--due-day", "défaut",
                  "--escalation-offset", "20"))  # fmt: skip
    assert f"Donneur d'ordre n° {buyer} (Donneur d'ordre" in text
    assert "- avis : la synthèse mensuelle seulement, avant un avis à chaque étape" in text
    assert "- échéance : le 10 (réglage général), avant le 15 (donneur d'ordre)" in text
    assert "- signalement au donneur d'ordre : J+20 (donneur d'ordre), avant J+15" in text
    assert "1 relance en cours replanifiée selon le nouveau calendrier." in text
    assert "Calendrier de ses lots qui n'ont pas le leur :" in text
    assert f"Lots dont le calendrier change : 1 clause (n° {lot.clause_id})." in text

    [listed] = [b for b in data(run(app, "buyer", "list", "--json")) if b["id"] == lot.buyer_id]
    assert (listed["avis"], listed["jour_echeance"], listed["jours_signalement"]) == (
        "mensuel",
        None,
        20,
    )
    result = data(run(app, "buyer", "set", buyer, "--notices", "chaque-etape", "--json"))
    assert result["avis"] == "chaque-etape"
    assert result["changements"] == [
        "avis : un avis à chaque étape, avant la synthèse mensuelle seulement"
    ]
    assert result["lots_concernes"] == []
    history = data(run(app, "clause", "show", str(lot.clause_id), "--json"))["historique"]
    assert [h["evenement"] for h in history].count("calendar") == 1


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("lot", "set", "{clause}", "--escalation-offset", "5"),
         "le rappel à J+7 (réglage général) ne viendrait pas avant le signalement au donneur "
         "d'ordre à J+5 (lot), il ne partirait jamais."),
        (("lot", "set", "{clause}", "--due-day", "29"), "doit être entre 1 et 28"),
        (("lot", "set", "{clause}", "--reminder-offsets", "7,3"), "Jours de rappel « 7,3 »"),
        (("lot", "set", "999", "--due-day", "5"), ("Clause «", "999", "» introuvable")),
        (("lot", "set", "un", "--due-day", "3"), ("Clause «", "un", "» introuvable")),
        (("buyer", "set", "{buyer}", "--notices", "parfois", "--due-day", "5"),
         "Préférence d'avis « parfois » inconnue."),
        (("buyer", "set", "{buyer}", "--escalation-offset", "6"),
         "le rappel à J+7 (réglage général) ne viendrait pas avant le signalement au donneur "
         "d'ordre à J+6 (donneur d'ordre)"),
        (("buyer", "set", "999", "--notices", "mensuel"),
         ("Donneur d'ordre «", "999", "» introuvable", "clauses buyer list")),
    ],
)  # fmt: skip
def test_it_refuses_with_exit_code_1_and_changes_nothing(
    app: App, lot: Lot, args: tuple[str, ...], words: str | tuple[str, ...]
) -> None:
    before = state(app, lot)
    line = [a.format(clause=lot.clause_id, buyer=lot.buyer_id) for a in args]
    message = refused(run(app, *line))
    for word in (words,) if isinstance(words, str) else words:
        assert word in message, (word, message)
    assert state(app, lot) == before


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("lot", "set", "{clause}"), "Donnez au moins une option"),
        (("buyer", "set", "{buyer}", "--reason", "x"), "Donnez au moins une option"),
        (("lot", "set", "{clause}", "--reset-calendar", "--due-day", "3"), "ne le combinez pas"),
        (("lot", "set", "{clause}", "--due-day", "le dix"), "un nombre entier ou « défaut »"),
        (("buyer", "set", "{buyer}", "--escalation-offset", "x"), "un nombre entier ou « défaut »"),
        (("lot", "set", "99999999999", "--due-day", "3"), "nombre trop grand"),
    ],
)
def test_it_exits_with_2_when_the_command_is_misused(
    app: App, lot: Lot, args: tuple[str, ...], words: str
) -> None:
    before = state(app, lot)
    result = run(app, *(a.format(clause=lot.clause_id, buyer=lot.buyer_id) for a in args))
    assert result.exit_code == 2, result.output
    assert words in result.stderr
    assert state(app, lot) == before


def test_a_new_lot_whose_reminders_would_never_go_is_refused(app: App, lot: Lot) -> None:
    shown = data(run(app, "clause", "show", str(lot.clause_id), "--json"))
    markets = data(run(app, "market", "list", "--json"))
    [market] = [m for m in markets if m["reference"] == shown["marche"]]
    message = refused(
        run(app, "lot", "add", "--market", str(market["id"]), "--number", "2", "--title",
            "Peinture", "--escalation-offset", "7")
    )  # fmt: skip
    assert "Le lot « Peinture » : le rappel à J+7 (réglage général) ne viendrait pas" in message
