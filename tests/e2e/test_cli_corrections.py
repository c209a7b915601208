"""Correcting the reference data as a facilitator types it: ``edit``, ``delete``, ``merge`` and
``show`` of buyers and companies, contacts and correspondents, operations, markets and lots.

The territory is built through the CLI on a SQLite file (``run`` of ``tests/e2e/conftest.py``,
on the test's clock).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import Result

from tests.conftest import Clock
from tests.e2e.conftest import Invoke
from tests.text import squash

NBSP = "\u00a0"


def q(text: str) -> str:
    return f"«{NBSP}{text}{NBSP}»"


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


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def territory(run: Invoke, clock: Clock) -> dict[str, int]:
    """Gers Habitat and its duplicate « Gers-Habitat 32 », each with an operation; a lot of
    market M-2026-01 awarded to BTP Exemple, whose correspondent's address has a typo."""
    clock.set(utc(2026, 1, 5, 9))
    ok(run("init"))
    buyer = data(run("buyer", "add", "Gers Habitat", "--json"))["id"]
    ok(
        run(
            "buyer", "contact-add", str(buyer), "--name", "Anne Achat", "--email", "anne@gh.example"
        )
    )
    duplicate = data(run("buyer", "add", "Gers-Habitat 32", "--kind", "bailleur", "--json"))["id"]
    ok(
        run(
            "buyer",
            "contact-add",
            str(duplicate),
            "--name",
            "Nina Sol",
            "--email",
            "nina@gh.example",
        )
    )
    operation = data(run("operation", "add", "Les Tilleuls", "--buyer", str(buyer), "--json"))["id"]
    other = data(run("operation", "add", "Les Pins", "--buyer", str(duplicate), "--json"))["id"]
    market = data(run("market", "add", "M-2026-01", "--operation", str(operation), "--json"))["id"]
    clause = data(
        run(
            "lot", "add", "--market", str(market), "--number", "1", "--title", "Gros oeuvre",
            "--hours", "700", "--hours-reason", "note de calcul", "--json",
        )
    )["id"]  # fmt: skip
    company = data(run("company", "add", "BTP Exemple", "--siret", "732 829 320 00074", "--json"))
    ok(
        run(
            "company", "correspondent-add", str(company["id"]), "--name", "Paul Chantier",
            "--email", "paul.chantier@exemple.rog",
        )
    )  # fmt: skip
    for event in ("rédiger", "attribuer"):
        ok(run("clause", "advance", str(clause), event))
    clock.set(utc(2026, 2, 2, 9))
    ok(
        run(
            "clause", "award", "M-2026-01/1", "--company", "BTP Exemple", "--start", "02/03/2026",
            "--end", "31/12/2026",
        )
    )  # fmt: skip
    return {
        "buyer": buyer,
        "duplicate": duplicate,
        "operation": operation,
        "other": other,
        "market": market,
        "clause": clause,
        "company": company["id"],
    }


def test_a_buyer_is_corrected_merged_and_shown_with_its_history(
    run: Invoke, clock: Clock, territory: dict[str, int]
) -> None:
    buyer, duplicate = territory["buyer"], territory["duplicate"]
    clock.set(utc(2026, 2, 3, 8, 30))

    edited = data(run("buyer", "edit", "Gers Habitat", "--kind", "office public", "--json"))
    assert edited["changements"] == [
        {"champ": "kind", "libelle": "type", "avant": "", "apres": "office public"}
    ]
    assert (edited["acteur"], edited["motif"]) == ("Camille Martin", None)
    assert ok(run("buyer", "edit", str(buyer), "--kind", "office public")) == (
        f"Rien à changer : le donneur d'ordre n° {buyer} (Gers Habitat) a déjà ces valeurs."
    )

    merged = ok(
        run(
            "buyer", "merge", str(duplicate), "--into", "Gers Habitat", "--reason",
            "saisi deux fois", "--actor", "Léa Roux",
        )
    )  # fmt: skip
    assert merged == (
        f"Donneur d'ordre n° {duplicate} {q('Gers-Habitat 32')} fusionné dans le n° {buyer} "
        f"{q('Gers Habitat')} : 1 opération, 1 contact. Motif : saisi deux fois"
    )
    again = refused(run("buyer", "merge", str(duplicate), "--into", "Gers Habitat"))
    assert again == (
        f"Refusé : Le donneur d'ordre n° {duplicate} {q('Gers-Habitat 32')} n'existe plus : il a "
        f"été fusionné dans le n° {buyer} {q('Gers Habitat')} le 03/02/2026 à 09:30 (Léa Roux)."
    )

    shown = ok(run("buyer", "show", "gers habitat"))
    assert f"Donneur d'ordre n° {buyer} – Gers Habitat (office public)" in shown
    assert f"n° {territory['other']} Les Pins – aucun marché" in shown
    assert "Nina Sol <nina@gh.example>" in shown
    assert f"Doublons fusionnés ici : n° {duplicate}" in shown
    assert (
        f"03/02/2026 09:30 │ Léa Roux │ donneur d'ordre n° {buyer} │ fusion d'un doublon │ "
        f"doublon n° {duplicate} {q('Gers-Habitat 32')} fusionné ici : 1 opération, 1 contact "
        "│ saisi deux fois"
    ) in shown
    card = data(run("buyer", "show", str(buyer), "--json"))
    # Its creation comes first (every creation is a history row, CLI or web).
    assert card["historique"][0]["action"] == "create"
    assert [
        (h["action"], h["fiche"], h["acteur"])
        for h in card["historique"]
        if h["action"] != "create"
    ] == [
        ("edit", "buyer", "Camille Martin"),
        ("absorb", "buyer", "Léa Roux"),
    ]
    assert [o["nom"] for o in card["operations"]] == ["Les Tilleuls", "Les Pins"]


def test_a_correspondents_address_is_fixed_after_the_award(
    run: Invoke, territory: dict[str, int]
) -> None:
    welcome = [
        m
        for m in data(run("mail", "list", "--json"))["courriels"]
        if m["cle"].startswith("welcome:")
    ]
    # The recipients as ``mail list`` gives them (a text or a list of addresses).
    assert [str(m["destinataires"]).count("paul.chantier@exemple.rog") for m in welcome] == [1]

    out = ok(
        run(
            "company", "correspondent-edit", "paul.chantier@exemple.rog", "--company", "BTP Exemple",
            "--email", "paul.chantier@exemple.org", "--reason", "adresse mal recopiée",
        )
    )  # fmt: skip

    number = welcome[0]["id"]
    assert out == (
        f"Correspondant n° 1 modifié : e-mail {q('paul.chantier@exemple.rog')} → "
        f"{q('paul.chantier@exemple.org')}. Motif : adresse mal recopiée Les prochains courriels "
        f"iront à {q('paul.chantier@exemple.org')}, à toute étape de la clause. 1 courriel pas "
        f"encore parti ira aussi à la nouvelle adresse (n° {number})."
    )
    [after] = [m for m in data(run("mail", "list", "--json"))["courriels"] if m["id"] == number]
    assert "paul.chantier@exemple.org" in str(after["destinataires"])
    assert "exemple.rog" not in str(after["destinataires"])
    card = data(run("company", "show", "73282932000074", "--json"))
    assert card["correspondants"][0]["email"] == "paul.chantier@exemple.org"
    assert [
        (h["fiche"], h["detail"], h["motif"]) for h in card["historique"] if h["action"] != "create"
    ] == [
        (
            "correspondent",
            f"e-mail {q('paul.chantier@exemple.rog')} → {q('paul.chantier@exemple.org')} ; "
            f"1 courriel pas encore parti readressé (n° {number})",
            "adresse mal recopiée",
        )
    ]
    assert card["lots"] == [
        {"clause": territory["clause"], "lot": "M-2026-01/1 Gros oeuvre", "role": "titulaire",
         "etape": "attribution"},
    ]  # fmt: skip


def test_a_deletion_is_refused_with_what_depends_on_it_then_done_when_nothing_does(
    run: Invoke, territory: dict[str, int]
) -> None:
    buyer, clause = territory["buyer"], territory["clause"]

    assert refused(run("buyer", "delete", "Gers Habitat")) == (
        f"Refusé : Le donneur d'ordre n° {buyer} {q('Gers Habitat')} n'est pas supprimé : "
        f"1 opération (n° {territory['operation']}) en dépend. S'il fait double emploi avec un "
        f"autre, fusionnez-les : {q(f'clauses buyer merge {buyer} --into N°')}."
    )
    assert f"1 lot (clause n° {clause}) en dépend" in refused(run("market", "delete", "M-2026-01"))
    assert f"1 attribution (clause n° {clause})" in refused(run("company", "delete", "BTP Exemple"))

    spare = data(run("company", "add", "Créée par erreur", "--json"))["id"]
    out = ok(run("company", "delete", str(spare), "--reason", "doublon de saisie", "--json"))
    deleted = json.loads(out)
    assert (deleted["fiche"], deleted["id"], deleted["nom"], deleted["motif"]) == (
        "company", spare, "Créée par erreur", "doublon de saisie",
    )  # fmt: skip
    assert ok(run("operation", "delete", "Les Pins")) == (
        f"Opération n° {territory['other']} {q('Les Pins')} supprimée ; l'historique des "
        "corrections en garde la trace."
    )
    assert "n'existe plus : elle a été supprimée le " in refused(run("company", "show", str(spare)))
    assert "Les Pins" in ok(run("buyer", "show", str(territory["duplicate"])))


def test_operation_market_and_lot_edits_and_the_clause_history(
    run: Invoke, territory: dict[str, int]
) -> None:
    ok(run("operation", "edit", "Les Tilleuls", "--place", "Auch"))
    ok(run("market", "edit", "M-2026-01", "--title", "Construction de 12 logements"))
    out = ok(run("lot", "edit", "M-2026-01/1", "--title", "Gros œuvre", "--number", "01"))
    assert out == (
        f"Lot (clause n° {territory['clause']}) modifié : intitulé {q('Gros oeuvre')} → {q('Gros œuvre')} ; "
        f"numéro de lot {q('1')} → {q('01')}."
    )
    shown = data(run("clause", "show", "M-2026-01/01", "--json"))
    assert shown["intitule"] == "Gros œuvre"
    assert shown["historique"][-1]["evenement"] == "lot"
    assert shown["historique"][-1]["motif"] == (
        f"Intitulé {q('Gros oeuvre')} → {q('Gros œuvre')} ; numéro de lot {q('1')} → {q('01')}"
    )
    card = data(run("buyer", "show", str(territory["buyer"]), "--json"))
    assert [h["fiche"] for h in card["historique"] if h["action"] != "create"] == [
        "operation",
        "market",
        "clause",
    ]


def test_an_edit_without_anything_to_change_is_a_usage_error(
    run: Invoke, territory: dict[str, int]
) -> None:
    result = run("buyer", "edit", "Gers Habitat")
    assert result.exit_code == 2
    assert "Donnez au moins une option : --name ou --kind." in squash(result.stderr)
    result = run("company", "correspondent-edit", "1")
    assert result.exit_code == 2
    assert "--name, --email ou --phone." in squash(result.stderr)
