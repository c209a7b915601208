"""Outcome types: their reporting group and how a person's French wording is matched."""

from __future__ import annotations

import pytest

from workflow.domain.outcomes import (
    OUTCOME_GROUPS,
    OUTCOME_TYPE_LABELS,
    OutcomeType,
    match_outcome_type,
    outcome_type_problem,
    parse_outcome_type,
    types_by_group,
)
from workflow.domain.vocabulary import OutcomeGroup
from workflow.errors import InputRefused

LASTING = OutcomeGroup.LASTING_JOB
TRANSITIONAL = OutcomeGroup.TRANSITIONAL_JOB
POSITIVE = OutcomeGroup.POSITIVE_EXIT
OTHER = OutcomeGroup.OTHER


@pytest.mark.parametrize(
    ("outcome_type", "group"),
    [
        (OutcomeType.CDI, LASTING),
        (OutcomeType.LONG_CDD, LASTING),
        (OutcomeType.LONG_TEMP_WORK, LASTING),
        (OutcomeType.CIVIL_SERVICE, LASTING),
        (OutcomeType.BUSINESS_CREATION, LASTING),
        (OutcomeType.SHORT_CDD, TRANSITIONAL),
        (OutcomeType.SHORT_TEMP_WORK, TRANSITIONAL),
        (OutcomeType.SUBSIDISED_CONTRACT, TRANSITIONAL),
        (OutcomeType.QUALIFYING_TRAINING, POSITIVE),
        (OutcomeType.INSERTION_STRUCTURE, POSITIVE),
        (OutcomeType.JOBSEEKER, OTHER),
        (OutcomeType.INACTIVE, OTHER),
        (OutcomeType.LOST_CONTACT, OTHER),
    ],
)
def test_it_puts_each_type_in_the_group_of_the_reporting(
    outcome_type: OutcomeType, group: OutcomeGroup
) -> None:
    assert outcome_type.group is group


def test_it_gives_every_type_a_label_and_a_group_and_every_group_a_type() -> None:
    assert set(OUTCOME_GROUPS) == set(OutcomeType) == set(OUTCOME_TYPE_LABELS)
    assert all(types_by_group()[group] for group in OutcomeGroup)
    assert list(types_by_group()) == list(OutcomeGroup)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CDI", OutcomeType.CDI),
        ("cdi", OutcomeType.CDI),
        ("CDD de 6 mois ou plus", OutcomeType.LONG_CDD),
        ("cdd de moins de 6 mois", OutcomeType.SHORT_CDD),
        ("Intérim de moins de 6 mois", OutcomeType.SHORT_TEMP_WORK),
        ("interim de 6 mois ou plus", OutcomeType.LONG_TEMP_WORK),
        ("Formation qualifiante", OutcomeType.QUALIFYING_TRAINING),
        ("FORMATION  QUALIFIANTE", OutcomeType.QUALIFYING_TRAINING),
        ("Formation certifiante", OutcomeType.QUALIFYING_TRAINING),
        ("formation diplomante", OutcomeType.QUALIFYING_TRAINING),
        ("perdu de vue", OutcomeType.LOST_CONTACT),
        ("Perdu de vue ", OutcomeType.LOST_CONTACT),
        ("sans nouvelles", OutcomeType.LOST_CONTACT),
        ("Demandeur d’emploi", OutcomeType.JOBSEEKER),
        ("chomage", OutcomeType.JOBSEEKER),
        ("inactif", OutcomeType.INACTIVE),
        ("Contrat aidé", OutcomeType.SUBSIDISED_CONTRACT),
        ("PEC", OutcomeType.SUBSIDISED_CONTRACT),
        ("fonction publique", OutcomeType.CIVIL_SERVICE),
        ("Création d'entreprise", OutcomeType.BUSINESS_CREATION),
        ("SIAE", OutcomeType.INSERTION_STRUCTURE),
        ("Embauche dans une autre structure d'insertion (SIAE)", OutcomeType.INSERTION_STRUCTURE),
        ("CDI intérimaire", OutcomeType.CDI),
        ("temp_work_under_6_months", OutcomeType.SHORT_TEMP_WORK),  # the code itself
    ],
)
def test_it_matches_french_wording_and_aliases(text: str, expected: OutcomeType | None) -> None:
    assert match_outcome_type(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CDD 8 mois", OutcomeType.LONG_CDD),
        ("CDD de 6 mois", OutcomeType.LONG_CDD),
        ("CDD 1 an", OutcomeType.LONG_CDD),
        ("CDD 3 mois", OutcomeType.SHORT_CDD),
        ("CDD < 6 mois", OutcomeType.SHORT_CDD),
        ("intérim moins de 6 mois", OutcomeType.SHORT_TEMP_WORK),
        ("mission d'intérim de 9 mois", OutcomeType.LONG_TEMP_WORK),
        ("CDD de plus de 3 mois", None),  # may or may not reach 6 months
        ("CDD d'un an", OutcomeType.LONG_CDD),
        ("CDD de six mois", OutcomeType.LONG_CDD),
        ("CDD vingt-quatre mois", None),  # not four months: asked rather than guessed
        ("CDD", None),
        ("CDDI", None),
    ],
)
def test_it_reads_the_length_of_a_contract_when_the_text_gives_it(
    text: str, expected: OutcomeType | None
) -> None:
    assert match_outcome_type(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CDD au moins 6 mois", OutcomeType.LONG_CDD),
        ("CDD d'au moins 8 mois", OutcomeType.LONG_CDD),
        ("intérim au moins 12 mois", OutcomeType.LONG_TEMP_WORK),
        ("CDD de plus de 6 mois", OutcomeType.LONG_CDD),
        ("CDD >= 6 mois", OutcomeType.LONG_CDD),
        ("intérim ≥ 6 mois", OutcomeType.LONG_TEMP_WORK),
        ("CDD 3 mois minimum", None),  # at least 3 months: may reach 6
    ],
)
def test_it_reads_au_moins_and_plus_de_as_a_minimum(
    text: str, expected: OutcomeType | None
) -> None:
    assert match_outcome_type(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CDD moins de 6 mois", OutcomeType.SHORT_CDD),
        ("CDD de moins de trois mois", OutcomeType.SHORT_CDD),
        ("intérim < 4 mois", OutcomeType.SHORT_TEMP_WORK),
        ("CDD moins de 12 mois", None),  # may be 8 months, a lasting job
        ("CDD de moins d'un an", None),
        ("CDD <= 6 mois", None),  # may be exactly 6 months
        ("CDD de 6 mois ou moins", None),
        ("CDD de 5 mois maximum", OutcomeType.SHORT_CDD),
    ],
)
def test_it_reads_moins_de_as_short_only_when_the_bound_is_6_months_or_less(
    text: str, expected: OutcomeType | None
) -> None:
    assert match_outcome_type(text) is expected


def test_it_asks_for_the_length_when_a_maximum_leaves_it_open() -> None:
    with pytest.raises(InputRefused) as caught:
        parse_outcome_type("CDD moins de 12 mois")

    assert caught.value.message.startswith(
        "« CDD moins de 12 mois » : précisez la durée du contrat de sortie"
    )


@pytest.mark.parametrize("text", ["formation", "Formation", "formation pré-qualifiante"])
def test_it_refuses_a_bare_training_and_asks_which(text: str) -> None:
    assert match_outcome_type(text) is None
    with pytest.raises(InputRefused) as caught:
        parse_outcome_type(text)

    assert caught.value.message == (
        f"« {text} » : précisez « Formation qualifiante » (ou certifiante, ou diplômante), seule "
        "comptée en sortie positive ; pour une autre formation, indiquez la situation de la "
        "personne (par exemple « Demandeur d'emploi »)."
    )


def test_it_asks_for_the_length_of_a_cdd_given_without_one() -> None:
    with pytest.raises(InputRefused) as caught:
        parse_outcome_type("CDD")

    assert caught.value.message == (
        "« CDD » : précisez la durée du contrat de sortie, « CDD de moins de 6 mois » (emploi de "
        "transition) ou « CDD de 6 mois ou plus » (emploi durable)."
    )


def test_it_lists_the_accepted_types_when_nothing_fits() -> None:
    problem = outcome_type_problem("Emploi durable")

    assert problem.startswith("« Emploi durable » n'est pas un type de sortie reconnu.")
    assert "« Perdu de vue »" in problem and "« Formation qualifiante »" in problem
