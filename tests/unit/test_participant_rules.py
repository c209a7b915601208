"""What may be recorded about a participant: sex, birth year, proof and validation date."""

from __future__ import annotations

from datetime import date

import pytest

from workflow.domain.participants import (
    birth_year_problem,
    clean_proof,
    parse_birth_year,
    parse_sex,
    proof_problem,
    validation_date_problem,
)
from workflow.domain.vocabulary import Sex


@pytest.mark.parametrize(
    ("text", "sex"),
    [
        ("F", Sex.FEMALE),
        (" femme ", Sex.FEMALE),
        ("Féminin", Sex.FEMALE),
        ("M", Sex.MALE),
        ("h", Sex.MALE),
        ("HOMME", Sex.MALE),
        ("X", None),
        ("", None),
        ("Femmes", None),
    ],
)
def test_it_reads_sex_as_people_write_it(text: str, sex: Sex | None) -> None:
    assert parse_sex(text) == sex


@pytest.mark.parametrize(
    ("text", "year"), [("1987", 1987), (" 2006 ", 2006), ("87", None), ("1 987", None), ("", None)]
)
def test_it_reads_a_birth_year_of_four_digits(text: str, year: int | None) -> None:
    assert parse_birth_year(text) == year


def test_a_participant_is_born_from_1900_and_at_least_fourteen_this_year() -> None:
    assert birth_year_problem(1900, 2026) is None
    assert birth_year_problem(2012, 2026) is None
    assert birth_year_problem(2013, 2026) == (
        "année de naissance 2013 impossible : entre 1900 et 2012 (au moins 14 ans cette année)."
    )
    assert birth_year_problem(1899, 2026) is not None


def test_a_proof_is_named_and_short() -> None:
    assert clean_proof("  Attestation\u00a0 France   Travail ") == "Attestation France Travail"
    assert proof_problem("Attestation CAF") is None
    assert "justificatif vide" in (proof_problem("") or "")
    assert proof_problem("x" * 200) is None
    assert "201 caractères, 200 au plus" in (proof_problem("x" * 201) or "")


def test_a_validation_is_dated_today_at_the_latest() -> None:
    today = date(2026, 11, 5)

    assert validation_date_problem(today, today) is None
    assert validation_date_problem(date(2020, 1, 2), today) is None
    assert "dans le futur" in (validation_date_problem(date(2026, 11, 6), today) or "")
    assert "4 chiffres" in (validation_date_problem(date(26, 11, 5), today) or "")
