"""What a declaration line may not be, in one place for the web form, the API and the import: a
reference that reads as a person's name (the service keeps no names), a value of another list
(« CDDI » as a delivery mode, « SIAE » as a contract). Every reference the shipped samples, the
demo and the benchmark generator use is still a reference."""

from __future__ import annotations

from pathlib import Path

import pytest

from workflow.adapters.declaration_columns import DECLARATION_COLUMNS
from workflow.adapters.spreadsheets import read_table
from workflow.domain.choices import (
    CONTRACTS,
    CRITERIA,
    DELIVERY_MODES,
    choice_problem,
    match_choice,
)
from workflow.domain.participants import name_problem
from workflow.domain.vocabulary import ContractType, Criterion, DeliveryMode
from workflow.sample.data import PARTICIPANTS
from workflow.services.demo import OUTCOMES, WORKERS

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = [
    Path("/work/shared/samples/declaration-excel-fr.csv"),
    ROOT / "tests/data/declaration-excel-fr.csv",
]


@pytest.mark.parametrize(
    "name",
    [
        "Jean Dupont",
        "DUPONT Marie",
        "Dupont, Jean",
        "Marie-Claire de la Tour",
        "N'Diaye Awa",
        "jean dupont",  # review: a name typed in lower case is a name still
    ],
)
def test_a_first_and_last_name_is_said_to_be_a_name(name: str) -> None:
    assert name_problem(name) == (
        f"« {name} » ressemble à un nom : n'indiquez pas le nom de la personne, mais sa "
        "référence (ex. P-0042), celle que vous lui donnez chaque mois ; le service ne garde "
        "aucun nom."
    )


def shipped_references() -> set[str]:
    """Every participant reference the project ships: the sample files' reference column, the
    demo's workers and outcomes, the sample territory, the benchmark's generated ones."""
    found = set()
    for path in SAMPLES:
        if path.exists():
            table = read_table(path, DECLARATION_COLUMNS)
            found |= {row.cells["reference"] for row in table.rows}
    found |= {worker[0] for workers in WORKERS.values() for worker in workers}
    found |= {outcome[0] for outcomes in OUTCOMES.values() for outcome in outcomes}
    found |= {participant.reference for participant in PARTICIPANTS}
    # bench/territory.py names its participants f"P{index + 1:07d}".
    found |= {f"P{index + 1:07d}" for index in (0, 41, 9_999_998)}
    return found


def test_every_reference_shipped_and_codes_a_company_may_use_are_references() -> None:
    shipped = shipped_references()
    assert {"P-0007", "P-0012", "P-0031", "P-0040", "P-0052", "P-0063", "P0000001"} <= shipped
    others = ["PRV-12", "P-WEB-1", "P 0007", "Réf 12", "Salarié A", "Jean D", "J. Dupont", "PV"]
    # Review: roles, groups and acronyms are codes a facilitator may give, not names.
    others += ["Agent ETTI", "Apprenti BTP", "Salarié Un", "Intérimaire Deux", "Jeune QPV"]
    others += ["Équipe Nord", "AB CD"]
    assert [r for r in [*shipped, *others] if name_problem(r) is not None] == []


@pytest.mark.parametrize(
    ("choices", "typed", "meant"),
    [
        (CONTRACTS, "CDDI", ContractType.CDDI),
        (CONTRACTS, "cddi", ContractType.CDDI),
        (DELIVERY_MODES, "Mise à disposition (ETTI)", DeliveryMode.PROVISION_ETTI),
        (DELIVERY_MODES, "provision_etti", DeliveryMode.PROVISION_ETTI),
        (CRITERIA, "RSA", Criterion.MINIMUM_INCOME),
    ],
)
def test_a_label_an_alias_or_a_code_is_the_value_meant(
    choices: object, typed: str, meant: object
) -> None:
    assert match_choice(choices, typed) == meant  # type: ignore[arg-type]


MODES = (
    "« Sous-traitance à une structure d'insertion ou EA » quand vous confiez une partie des "
    "travaux à une structure d'insertion (EI, ACI), « Co-traitance avec une structure "
    "d'insertion ou EA » quand elle est cotraitante du marché, « Mise à disposition (AI) » ou "
    "« Mise à disposition (ETTI) » quand elle vous met la personne à disposition."
)


def test_cddi_or_siae_in_the_wrong_list_names_the_list_and_the_values_that_fit() -> None:
    assert choice_problem(DELIVERY_MODES, "CDDI") == (
        "« CDDI » : c'est un type de contrat, pas une modalité de réalisation : indiquez-le "
        f"comme type de contrat, et ici comment la personne a travaillé sur le lot : {MODES}"
    )
    assert choice_problem(DELIVERY_MODES, "Mise à disposition (SIAE)") == (
        "« Mise à disposition (SIAE) » : une structure d'insertion n'est pas une modalité de "
        f"réalisation : indiquez ici comment la personne a travaillé sur le lot : {MODES}"
    )
    assert "« CDDI » pour un salarié d'une entreprise" in choice_problem(CONTRACTS, "SIAE")
    for typed in ("CDDI", "SIAE"):
        assert "critère « Personne en parcours d'insertion (IAE) »" in choice_problem(
            CRITERIA, typed
        ).replace("son critère est", "critère")


def test_any_other_value_is_named_with_the_closest_one_or_the_accepted_values() -> None:
    contracts = (
        "« CDI » ; « CDD » ; « Contrat d'apprentissage » ; « Contrat de professionnalisation » ; "
        "« Intérim d'insertion » ; « CDDI » ; « Mise à disposition » ; « Contrat de chantier » ; "
        "« Formation »"
    )
    assert choice_problem(CONTRACTS, " Stage ") == (
        f"« Stage » n'est pas reconnu. Valeurs acceptées : {contracts}."
    )
    assert choice_problem(CONTRACTS, "") == (
        f"valeur manquante : choisissez une valeur dans la liste : {contracts}."
    )
    assert choice_problem(DELIVERY_MODES, "Embauche direct").startswith(
        "« Embauche direct » n'est pas reconnu : vouliez-vous dire « Embauche directe » ? "
        "Valeurs acceptées : « Embauche directe » ; « Mise à disposition (ETTI) »"
    )
