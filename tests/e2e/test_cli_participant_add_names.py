"""``clauses participant add`` refuses a person's name as the reference, in the words of the
declaration import and the company's web page; before, « Jean Dupont » was recorded."""

from __future__ import annotations

from tests.e2e.conftest import Invoke
from tests.e2e.test_cli_participant_add import SAMPLE_PARTICIPANTS, add, listed, started
from tests.integration.test_declaration_words import NAMED

__all__ = ["started"]  # the fixture, imported to be used here


def test_a_name_is_refused_and_nothing_is_recorded(started: Invoke) -> None:
    result = add(started, "Jean Dupont", "--criterion", "rsa")

    assert result.exit_code == 1, result.output
    assert NAMED.format("Jean Dupont") in result.stderr, result.stderr
    assert len(listed(started)) == SAMPLE_PARTICIPANTS
    # A code is still a reference.
    assert add(started, "PRV-12", "--criterion", "rsa").exit_code == 0
    assert len(listed(started)) == SAMPLE_PARTICIPANTS + 1
