"""Outcome types: their reporting group and how a person's French wording is matched."""

from __future__ import annotations

from pathlib import Path

import pytest

from workflow.domain.outcomes import (
    OUTCOME_GROUPS,
    OUTCOME_TYPE_LABELS,
    OUTCOME_TYPE_WORDS,
    OutcomeType,
    group_of,
    match_outcome_type,
    outcome_groups_problem,
    outcome_type_problem,
    parse_outcome_type,
    types_by_group,
)
from workflow.domain.vocabulary import OutcomeGroup
from workflow.errors import InputRefused, SettingsInvalid
from workflow.settings import load_settings

LASTING = OutcomeGroup.LASTING_JOB
TRANSITIONAL = OutcomeGroup.TRANSITIONAL_JOB
POSITIVE = OutcomeGroup.POSITIVE_EXIT
OTHER = OutcomeGroup.OTHER


@pytest.mark.parametrize(
    ("outcome_type", "group"),
    [
        (OutcomeType.CDI, LASTING),
        (OutcomeType.APPRENTICESHIP, LASTING),
        (OutcomeType.PROFESSIONALISATION, LASTING),
        (OutcomeType.LONG_CDD, LASTING),
        (OutcomeType.LONG_TEMP_WORK, LASTING),
        (OutcomeType.CIVIL_SERVICE, LASTING),
        (OutcomeType.BUSINESS_CREATION, LASTING),
        (OutcomeType.SHORT_CDD, TRANSITIONAL),
        (OutcomeType.SHORT_TEMP_WORK, TRANSITIONAL),
        (OutcomeType.SUBSIDISED_CONTRACT, TRANSITIONAL),
        (OutcomeType.QUALIFYING_TRAINING, POSITIVE),
        (OutcomeType.INSERTION_STRUCTURE, POSITIVE),
        (OutcomeType.SHORT_TRAINING, OTHER),
        (OutcomeType.JOBSEEKER, OTHER),
        (OutcomeType.INACTIVE, OTHER),
        (OutcomeType.LOST_CONTACT, OTHER),
    ],
)
def test_it_puts_each_type_in_the_group_of_the_reporting(
    outcome_type: OutcomeType, group: OutcomeGroup
) -> None:
    assert outcome_type.group is group
    assert group_of(outcome_type.value) is group
    assert outcome_type in types_by_group()[group]


def test_it_gives_every_type_a_label_and_a_group_and_every_group_a_type() -> None:
    assert set(OUTCOME_GROUPS) == set(OutcomeType) == set(OUTCOME_TYPE_LABELS)
    assert set(OUTCOME_TYPE_WORDS) == set(OutcomeType)
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
        # The field's words (the Gers flyer of 2017 and facilitators' spreadsheets).
        ("Contrat d'apprentissage", OutcomeType.APPRENTICESHIP),
        ("apprentissage", OutcomeType.APPRENTICESHIP),
        ("Apprenti", OutcomeType.APPRENTICESHIP),
        ("Contrat de professionnalisation", OutcomeType.PROFESSIONALISATION),
        ("contrat pro", OutcomeType.PROFESSIONALISATION),
        ("Contrat de professionalisation", OutcomeType.PROFESSIONALISATION),
        ("professionnalisation", OutcomeType.PROFESSIONALISATION),
        ("Formation courte", OutcomeType.SHORT_TRAINING),
        ("formation courte (non qualifiante)", OutcomeType.SHORT_TRAINING),
        ("Formation non qualifiante", OutcomeType.SHORT_TRAINING),
        ("formation pré-qualifiante", OutcomeType.SHORT_TRAINING),
        ("Autre SIAE", OutcomeType.INSERTION_STRUCTURE),
        ("Inactivité", OutcomeType.INACTIVE),
        ("Création d’entreprise", OutcomeType.BUSINESS_CREATION),
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
        "« CDD moins de 12 mois » : précisez la durée du contrat de sortie"
    )


@pytest.mark.parametrize("text", ["formation", "Formation", "formation CACES"])
def test_it_asks_whether_a_bare_training_is_qualifying_or_short(text: str) -> None:
    assert match_outcome_type(text) is None
    with pytest.raises(InputRefused) as caught:
        parse_outcome_type(text)

    assert caught.value.message == (
        f"« {text} » : précisez « Formation qualifiante » (ou certifiante, ou diplômante) ou "
        "« Formation courte (non qualifiante) » (ou formation courte) : elles ne comptent pas "
        "dans le même groupe."
    )


@pytest.mark.parametrize("text", ["alternance", "Contrat en alternance"])
def test_it_asks_which_work_study_contract(text: str) -> None:
    assert match_outcome_type(text) is None
    with pytest.raises(InputRefused) as caught:
        parse_outcome_type(text)

    assert caught.value.message == (
        f"« {text} » : précisez « Contrat d'apprentissage » ou « Contrat de professionnalisation »."
    )


def test_the_setting_moves_a_type_to_another_group_and_unknown_codes_count_as_other() -> None:
    overrides = {"short_training": "positive_exit", "apprenticeship_contract": "transitional_job"}

    assert group_of("short_training", overrides) is POSITIVE
    assert group_of("apprenticeship_contract", overrides) is TRANSITIONAL
    assert group_of("cdi", overrides) is LASTING  # not overridden: the default
    assert group_of("written_by_an_old_version", overrides) is OTHER
    moved = types_by_group(overrides)
    assert OutcomeType.SHORT_TRAINING in moved[POSITIVE]
    assert OutcomeType.SHORT_TRAINING not in moved[OTHER]
    assert sum(len(types) for types in moved.values()) == len(OutcomeType)


def test_it_names_the_accepted_codes_of_a_bad_mapping() -> None:
    assert outcome_groups_problem({"short_training": "positive_exit"}) is None
    bad_type = outcome_groups_problem({"formation_courte": "positive_exit"})
    bad_group = outcome_groups_problem({"short_training": "sortie_positive"})

    assert bad_type is not None and bad_type.startswith(
        "type de sortie « formation_courte » inconnu : types possibles cdi, "
        "apprenticeship_contract, professionalisation_contract,"
    )
    assert bad_group == (
        "groupe « sortie_positive » (pour short_training) inconnu : groupes possibles "
        "lasting_job, transitional_job, positive_exit, other"
    )


def test_it_asks_for_the_length_of_a_cdd_given_without_one() -> None:
    with pytest.raises(InputRefused) as caught:
        parse_outcome_type("CDD")

    assert caught.value.message == (
        "« CDD » : précisez la durée du contrat de sortie, « CDD de moins de 6 mois » (emploi de "
        "transition) ou « CDD de 6 mois ou plus » (emploi durable)."
    )


def test_it_lists_the_accepted_types_when_nothing_fits() -> None:
    problem = outcome_type_problem("Emploi durable")

    assert problem.startswith("« Emploi durable » n'est pas un type de sortie reconnu.")
    assert "« Perdu de vue »" in problem and "« Formation qualifiante »" in problem


# --- the outcome_groups setting -----------------------------------------------------------------


def test_a_mapping_with_an_unknown_code_stops_start_up_in_french(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLAUSES_OUTCOME_GROUPS", '{"formation_courte": "positive_exit"}')
    with pytest.raises(SettingsInvalid) as refused:
        load_settings()

    assert refused.value.message.startswith(
        "Réglage invalide CLAUSES_OUTCOME_GROUPS = {'formation_courte': 'positive_exit'} : type "
        "de sortie « formation_courte » inconnu : types possibles cdi, "
    )


def test_the_mapping_is_read_from_the_toml_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "clauses.toml"
    config.write_text('[outcome_groups]\nshort_training = "positive_exit"\n', encoding="utf-8")
    monkeypatch.setenv("CLAUSES_CONFIG", str(config))
    monkeypatch.delenv("CLAUSES_OUTCOME_GROUPS", raising=False)

    settings = load_settings()

    assert settings.outcome_groups == {"short_training": "positive_exit"}
    assert group_of("short_training", settings.outcome_groups) is POSITIVE
