"""A refusal says what to do next in the words of the interface that shows it (``Hint``): the
command line names its command, the web pages and the API a page, or nothing."""

from __future__ import annotations

from workflow.errors import (
    FieldError,
    FileRefused,
    Hint,
    InputRefused,
    NotFound,
    TransitionRefused,
    list_hint,
)

NBSP = "\u00a0"


def test_the_web_words_are_the_message_and_the_command_line_keeps_its_command() -> None:
    refused = NotFound("Aucune entreprise n° 7.", hint=list_hint("company list", " Voir la page."))

    assert refused.message == str(refused) == "Aucune entreprise n° 7. Voir la page."
    assert refused.command_line_message == (
        f"Aucune entreprise n° 7. La liste : «{NBSP}clauses company list{NBSP}»."
    )
    assert refused.said == "Aucune entreprise n° 7."


def test_a_hint_without_web_words_says_nothing_more_on_the_web() -> None:
    refused = InputRefused("Rien à faire", hint=Hint(" (« clauses x »).", ""))
    assert refused.message == "Rien à faire"
    assert refused.command_line_message == "Rien à faire (« clauses x »)."


def test_a_refusal_without_hint_reads_the_same_everywhere() -> None:
    refused = TransitionRefused("Non.")
    assert refused.message == refused.command_line_message == "Non."
    assert InputRefused().message == InputRefused().command_line_message


def test_a_files_line_keeps_the_hint_of_the_refusal_it_reports() -> None:
    line = FieldError.of(3, "clause", NotFound("Aucune clause n° 5.", hint=Hint(" A.", " B.")))
    refused = FileRefused("avril.csv", [line, FieldError(None, None, "autre chose")])

    assert str(line) == f"ligne 3, colonne «{NBSP}clause{NBSP}» : Aucune clause n° 5. B."
    assert refused.message.splitlines() == [
        "avril.csv : 2 erreurs, rien n'a été importé.",
        f"  - ligne 3, colonne «{NBSP}clause{NBSP}» : Aucune clause n° 5. B.",
        "  - autre chose",
    ]
    assert refused.command_line_message.splitlines()[1].endswith("Aucune clause n° 5. A.")
