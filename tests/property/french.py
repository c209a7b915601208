"""What a refusal must look like to a person: French, where it is, nothing of Python's."""

from __future__ import annotations

import re
from collections.abc import Sequence

from click.testing import Result

from tests.text import squash

#: What only Python or click in English print: a traceback, an exception's class name, click's
#: untranslated usage words. None of it may reach a person.
ENGLISH = re.compile(
    r"Traceback|File \"|\bError:|\b[A-Z][A-Za-z]*(?:Error|Exception)\b|\bUsage:|\bTry '"
    r"|is not a valid|No such|does not exist|Invalid value|Missing (?:argument|option)"
    r"|\bline \d+|\bcolumn \d+|\binvalid\b|\bout of range\b"
    # Words a French message never holds (outside what it quotes): an English library message.
    r"|\b(?:the|is|are|was|not|of|and|with|for|from|than|there|named|found|expected|cannot|could"
    r"|must|which|larger|limit|failed|unknown|unexpected|missing|denied|such)\b",
    re.IGNORECASE,
)


#: What a message quotes from the input (« … ») and the options it names (``--from``): the
#: input's and the command's own words, not the message's.
_QUOTED = re.compile("«\u00a0.*?\u00a0»|--[\\w-]+", re.DOTALL)


def english_in(text: str) -> str | None:
    found = ENGLISH.search(_QUOTED.sub("«»", text))
    return found.group() if found else None


def assert_no_python(result: Result) -> None:
    """Whatever the outcome, nothing English or Python-shaped was printed."""
    for stream in (result.stdout, result.stderr):
        word = english_in(stream)
        assert word is None, f"« {word} » printed:\n{stream}"


def assert_refused_in_french(result: Result, where: Sequence[str]) -> str:
    """A refusal: exit code 1 (refused) or 2 (usage), « Refusé : » or « Erreur : » on stderr,
    naming at least one of ``where`` (a file name, an option, « ligne »…). Returns the message."""
    assert result.exit_code in (1, 2), (result.exit_code, result.output)
    assert_no_python(result)
    message = squash(result.stderr)
    assert message.startswith(("Refusé :", "Erreur :")) or "\nErreur :" in result.stderr, message
    # « Donneur d'ordre … introuvable » names the option's object as well as « --buyer » does.
    assert any(w.lower() in message.lower() for w in where), f"none of {list(where)} in: {message}"
    return message


def assert_file_refusal(result: Result, file_name: str) -> list[str]:
    """An import refused as a whole: its head names the file and says nothing was imported, and
    each error either says its line or column, or is the one error about the whole file."""
    message = assert_refused_in_french(result, [file_name])
    assert result.exit_code == 1, result.output
    assert re.search(rf"{re.escape(file_name)} : \d+ erreurs?, rien n'a été importé\.", message), (
        message
    )
    bullets = [line[4:] for line in result.stderr.splitlines() if line.startswith("  - ")]
    assert bullets, result.stderr
    if len(bullets) > 1:
        for bullet in bullets:
            assert bullet.startswith(("ligne ", "colonne ")), bullet
    return bullets
