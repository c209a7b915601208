"""``RowReader.choice``: a cell of a file choosing from one of a declaration line's lists is
refused in the words of the web form and the API (``domain.choices.choice_problem``: the value
refused, the one probably meant, the accepted values), after the file's line and column. Before,
it had its own words: « « Embauche direct » n'est pas reconnu. Valeurs acceptées : … », no
« vouliez-vous dire », nothing about « CDDI » typed as a delivery mode, and « valeur manquante. »
without the values to choose from."""

from __future__ import annotations

from workflow.adapters.csv_files import Column, RowReader, read_csv_text
from workflow.domain.choices import CONTRACTS, CRITERIA, DELIVERY_MODES, choice_problem
from workflow.domain.vocabulary import ContractType, DeliveryMode
from workflow.errors import FieldError

COLUMNS = (
    Column("contract", "Type de contrat"),
    Column("mode", "Modalité"),
    Column("criterion", "Critère", required=False),
)


def read(*lines: str) -> tuple[list[tuple[object, ...]], list[FieldError]]:
    """Each row's contract, mode and criterion as ``RowReader.choice`` reads them, and the
    problems recorded."""
    table = read_csv_text(
        "\r\n".join(("Type de contrat;Modalité;Critère", *lines)), COLUMNS, "lignes.csv", "utf-8"
    )
    errors: list[FieldError] = []
    values: list[tuple[object, ...]] = []
    for row in table.rows:
        reader = RowReader(table, row, errors)
        values.append(
            (
                reader.choice("contract", CONTRACTS),
                reader.choice("mode", DELIVERY_MODES),
                reader.choice("criterion", CRITERIA, required=False),
            )
        )
    return values, errors


def test_a_refused_choice_is_said_as_the_web_form_says_it_with_its_line_and_column() -> None:
    values, errors = read(
        "CDD;Embauche direct;",
        "CDI intérimaire;CDDI;",
        ";Embauche directe;SIAE",
    )

    assert values == [
        (ContractType.CDD, None, None),
        (None, None, None),
        (None, DeliveryMode.DIRECT_HIRING, None),
    ]
    assert errors == [
        FieldError(2, "Modalité", choice_problem(DELIVERY_MODES, "Embauche direct")),
        FieldError(3, "Type de contrat", choice_problem(CONTRACTS, "CDI intérimaire")),
        FieldError(3, "Modalité", choice_problem(DELIVERY_MODES, "CDDI")),
        FieldError(4, "Type de contrat", choice_problem(CONTRACTS, "")),
        FieldError(4, "Critère", choice_problem(CRITERIA, "SIAE")),
    ]
    # The words themselves: the one probably meant, the mix-up named, the values to choose from.
    said = [str(error).replace("\u00a0", " ") for error in errors]  # no-break spaces in « »
    assert said[0].startswith(
        "ligne 2, colonne « Modalité » : « Embauche direct » n'est pas reconnu : vouliez-vous "
        "dire « Embauche directe » ? Valeurs acceptées : « Embauche directe » ;"
    ), said[0]
    assert said[2].startswith(
        "ligne 3, colonne « Modalité » : « CDDI » : c'est un type de contrat, pas une modalité "
        "de réalisation"
    ), said[2]
    assert said[3].startswith(
        "ligne 4, colonne « Type de contrat » : valeur manquante : choisissez une valeur dans "
        "la liste : « CDI » ;"
    ), said[3]


def test_an_accepted_spelling_and_an_empty_optional_cell_are_no_problem() -> None:
    values, errors = read("cdd;EMBAUCHE DIRECTE;")

    assert errors == []
    assert values == [(ContractType.CDD, DeliveryMode.DIRECT_HIRING, None)]
