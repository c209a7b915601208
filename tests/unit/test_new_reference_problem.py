"""``new_reference_problem``, the one check of a new participant's reference that every path
asks (command, lot's page, company's web page, API, declaration import): a formula a spreadsheet
would run, then a person's name. Every reference the project ships passes it."""

from __future__ import annotations

import pytest

from tests.unit.test_declaration_words import shipped_references
from workflow.domain.participants import name_problem
from workflow.services.participants import new_reference_problem


@pytest.mark.parametrize("name", ["Jean Dupont", "DUPONT, Marie", "N'Diaye Awa"])
def test_a_name_is_refused_in_the_words_of_name_problem(name: str) -> None:
    assert new_reference_problem(name) == name_problem(name) is not None


def test_a_formula_is_refused_first() -> None:
    assert new_reference_problem("=Jean Dupont") == (
        "Référence du participant « =Jean Dupont » refusée : elle commence par « = », qu'un "
        "tableur lirait comme une formule. Commencez-la par une lettre ou un chiffre (ex. P-0042)."
    ).replace("« ", "«\u00a0").replace(" »", "\u00a0»")


def test_every_shipped_reference_is_a_reference() -> None:
    found = {ref: new_reference_problem(ref) for ref in sorted(shipped_references())}
    assert found and {ref: said for ref, said in found.items() if said} == {}
