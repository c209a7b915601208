"""click's own words in French: help, usage errors, value errors; and ``mail send --json``'s keys."""

from __future__ import annotations

import json
import re

import click
import pytest

from tests.e2e.conftest import Invoke
from workflow.entrypoints.cli.french import MESSAGES, PLURALS
from workflow.entrypoints.cli.mail_words import SEND_KEYS
from workflow.services.dispatch import DispatchReport

#: Words that are the same in French: « Options : », « Option inconnue », « Argument manquant ».
SAME_IN_FRENCH = {"Options", "Option", "Argument"}
#: The English text of every msgid translated, cut at its placeholders ("No such command", ".").
ENGLISH = sorted(
    {
        piece.strip()
        for msgid in [*MESSAGES, *(each for pair in PLURALS for each in pair)]
        for piece in re.split(r"\{[^}]*\}", msgid)
        if re.search(r"[A-Za-z]{3}", piece) and piece.strip() not in SAME_IN_FRENCH
    }
)


def test_the_oracle_holds_every_translated_msgid() -> None:
    assert "Show this message and exit." in ENGLISH
    assert "is not one of" in ENGLISH
    assert "Got unexpected extra argument (" in ENGLISH
    assert "No such command" in ENGLISH


@pytest.mark.parametrize(
    ("args", "usage_error", "french"),
    [
        (
            ("--help",),
            False,
            ["Utilisation : cli", "Options :", "Commandes :", "Affiche cette aide"],
        ),
        (("clause", "--help"), False, ["Utilisation : cli clause", "Commandes :"]),
        (("lot", "add", "--help"), False, ["Options :", "ENTIER"]),
        (("mail", "send", "--help"), False, ["[par défaut : 200"]),
        (("operation", "add", "--help"), False, ["[obligatoire]"]),
        (
            ("nope",),
            True,
            ["Erreur : Commande inconnue : « nope ».", "Pour l'aide : « cli --help »."],
        ),
        (("operation", "add", "Chantier"), True, ["Option manquante : «\u00a0--buyer\u00a0»."]),
        (
            ("report", "annual", "--year", "abc"),
            True,
            ["« abc » n'est pas un entier valide."],
        ),
        (("summary", "--format", "pdf"), True, ["« pdf » n'est pas l'une des valeurs 'text'"]),
        (("init", "de", "trop"), True, ["Arguments en trop : de trop"]),
        (
            ("mail", "send", "--batch-size", "0"),
            True,
            ["0 n'est pas dans l'intervalle 1<=x<=5000."],
        ),
        (("init", "--verbose"), True, ["Option inconnue : « --verbose »."]),
    ],
)
def test_click_speaks_french(
    run: Invoke, args: tuple[str, ...], usage_error: bool, french: list[str]
) -> None:
    result = run(*args)

    assert result.exit_code == (2 if usage_error else 0), result.output
    for text in french:
        assert text in result.output
    assert [english for english in ENGLISH if english in result.output] == []


def test_click_is_english_again_outside_the_command(run: Invoke) -> None:
    run("--help")

    assert click.core._("Usage:") == "Usage:"
    assert click.INT.name == "integer"


def test_mail_send_json_has_french_keys_for_every_figure(run: Invoke) -> None:
    result = run("mail", "send", "--json")

    data = json.loads(result.output)
    assert result.exit_code == 0
    assert set(data) == {"transport", *SEND_KEYS.values()}
    assert set(SEND_KEYS) == set(DispatchReport().as_dict())
    assert data["envoyes"] == 0 and data["panne"] is False
