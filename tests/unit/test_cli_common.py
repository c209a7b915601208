"""The output helpers every CLI module shares (``workflow.entrypoints.cli.common``)."""

from __future__ import annotations

import pytest
from rich.markup import escape

from workflow.entrypoints.cli.common import plural, say


@pytest.mark.parametrize(
    ("count", "expected"),
    [(0, "0 clause"), (1, "1 clause"), (2, "2 clauses"), (12, "12 clauses")],
)
def test_plural_keeps_zero_in_the_singular_as_french_does(count: int, expected: str) -> None:
    assert plural(count, "clause", "clauses") == expected


def test_say_prints_what_people_typed_as_it_is_brackets_included(
    capsys: pytest.CaptureFixture[str],
) -> None:
    say("Entreprise ajoutée : Bâtiment [lot a] [/x].")

    assert capsys.readouterr().out == "Entreprise ajoutée : Bâtiment [lot a] [/x].\n"


def test_say_reads_markup_only_when_asked_and_keeps_escaped_text(
    capsys: pytest.CaptureFixture[str],
) -> None:
    say(f"Ajouté : [bold]{escape('Bâtiment [lot a]')}[/].", markup=True)

    assert capsys.readouterr().out == "Ajouté : Bâtiment [lot a].\n"


def test_say_never_cuts_a_long_message_at_the_terminal_width(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = "mot " * 60

    say(text.strip())

    assert capsys.readouterr().out == text.strip() + "\n"
