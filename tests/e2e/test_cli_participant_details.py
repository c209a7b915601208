"""``clauses participant set|validate``, what ``participant list`` shows of a participant, and the
declaration import's "Sexe" and "Année de naissance" columns, from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result

from tests.conftest import Clock
from tests.e2e.conftest import Invoke
from tests.e2e.test_cli_imports import NOVEMBER
from tests.integration.test_declaration_identity import BIRTH_YEAR, SEX, edit
from tests.integration.test_declarations import start_sample
from workflow.bootstrap import bootstrap
from workflow.settings import Settings

HEADER = (
    "SIRET;Entreprise;N° marché;Lot;Mois;Référence participant;Critère d'éligibilité;"
    "Type de contrat;Modalité de réalisation;Heures;Sexe;Année de naissance"
)


def write(tmp_path: Path, text: str, name: str = "declaration.csv") -> str:
    path = tmp_path / name
    path.write_bytes(text.encode("cp1252"))
    return str(path)


@pytest.fixture
def declared(run: Invoke, sqlite_settings: Settings, clock: Clock, tmp_path: Path) -> Invoke:
    """The sample in execution; September and October 2026 declared on lot 01 with the identity
    fixture, except that P-0102 comes without sex or birth year (as from a file without them)."""
    app = bootstrap(sqlite_settings, clock=clock, handlers={})
    start_sample(app)
    app.close()
    clock.set(NOVEMBER)
    text = edit(6, BIRTH_YEAR, "", edit(6, SEX, ""))
    imported = run("declaration", "import", write(tmp_path, text))
    assert imported.exit_code == 0, imported.output
    return run


def participant(run: Invoke, *args: str) -> Result:
    return run("participant", *args)


# --- participant set ----------------------------------------------------------------------------


def test_it_completes_a_participant_then_says_there_is_nothing_new(declared: Invoke) -> None:
    first = participant(declared, "set", "P-0102", "--sex", "H", "--birth-year", "2006")
    second = participant(declared, "set", "P-0102", "--sex", "m", "--birth-year", "2006")

    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == (
        "Participant P-0102 mis à jour : sexe M ; année de naissance 2006."
    )
    assert second.exit_code == 0, second.output
    assert second.stdout.strip() == (
        "Rien de nouveau : P-0102 a déjà : sexe M, année de naissance 2006."
    )


def test_it_corrects_the_criterion_as_json(declared: Invoke) -> None:
    result = participant(declared, "set", "P-0007", "--criterion", "senior", "--json")

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["participant"], data["modifie"], data["critere"]) == (
        "P-0007",
        True,
        "jobseeker_over_50",
    )
    assert [c["champ"] for c in data["changements"]] == ["criterion", "validated_on"]
    assert data["changements"][0]["avant"] == "« Demandeur d'emploi de longue durée »"
    assert (data["justificatif"], data["date_validation"]) == (None, None)
    assert (data["sexe"], data["annee_naissance"]) == ("M", 1979)


def test_it_needs_something_to_change(declared: Invoke) -> None:
    result = participant(declared, "set", "P-0102")

    assert result.exit_code == 2
    assert "Rien à modifier : indiquez --sex, --birth-year ou --criterion" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--sex", "X"), "--sex « X » : indiquez F (femme) ou M (homme)."),
        (("--birth-year", "06"), "--birth-year « 06 » : indiquez l'année sur 4 chiffres"),
        (("--birth-year", "2020"), "année de naissance 2020 impossible : entre 1900 et 2012"),
        (("--criterion", "chômeur"), "--criterion « chômeur » n'est pas reconnu."),
    ],
)
def test_it_refuses_bad_values_with_exit_code_1_and_changes_nothing(
    declared: Invoke, args: tuple[str, ...], message: str
) -> None:
    result = participant(declared, "set", "P-0102", "--sex", "F", *args)

    assert result.exit_code == 1
    assert message in result.stderr
    listed = {p["reference"]: p for p in json.loads(participant(declared, "list", "--json").stdout)}
    assert (listed["P-0102"]["sexe"], listed["P-0102"]["critere"]) == (None, "young_low_qualified")


def test_it_refuses_an_unknown_participant(declared: Invoke) -> None:
    result = participant(declared, "set", "P-9999", "--sex", "F")

    assert result.exit_code == 1
    assert "Aucun participant « P-9999 »" in result.stderr


# --- participant validate -----------------------------------------------------------------------


def test_it_validates_eligibility_today_once(declared: Invoke) -> None:
    proof = "Attestation France Travail DELD"
    first = participant(declared, "validate", "P-0101", "--proof", proof)
    second = participant(declared, "validate", "P-0101", "--proof", proof, "--json")

    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == (
        "Éligibilité de P-0101 validée le 05/11/2026 : Attestation France Travail DELD."
    )
    assert second.exit_code == 0, second.output
    data = json.loads(second.stdout)
    assert (data["modifie"], data["changements"]) == (False, [])
    assert (data["justificatif"], data["date_validation"]) == (proof, "2026-11-05")
    assert data["message"].startswith("Rien de nouveau : l'éligibilité de P-0101 est déjà validée")


def test_it_corrects_with_a_past_date_and_refuses_a_future_one(declared: Invoke) -> None:
    participant(declared, "validate", "P-0102", "--proof", "Attestation France Travail")
    past = participant(
        declared,
        *("validate", "P-0102", "--proof", "Fiche de liaison Mission locale"),
        *("--date", "12/10/2026"),
    )
    future = participant(
        declared, "validate", "P-0101", "--proof", "Attestation CAF", "--date", "06/11/2026"
    )
    no_proof = participant(declared, "validate", "P-0101")

    assert past.exit_code == 0, past.output
    assert "validée le 12/10/2026 : Fiche de liaison Mission locale (remplace : le 05/11/2026" in (
        past.stdout
    )
    assert future.exit_code == 1
    assert "date de validation 06/11/2026 dans le futur" in future.stderr
    assert no_proof.exit_code == 2
    assert "--proof" in no_proof.output


# --- participant list ---------------------------------------------------------------------------


def test_it_lists_sex_birth_year_and_eligibility_but_no_name(declared: Invoke) -> None:
    table = participant(declared, "list")
    data = json.loads(participant(declared, "list", "--json").stdout)

    assert table.exit_code == 0, table.output
    for header in ("Sexe", "Naissance", "Éligibilité"):
        assert header in table.stdout
    assert "│ 20/03/2026 " in table.stdout and "│ à valider " in table.stdout
    assert (
        "À compléter : 1 participant sans sexe ou année de naissance (clauses participant set) ; "
        "2 éligibilités à valider (clauses participant validate)."
    ) in table.stdout
    by_reference = {p["reference"]: p for p in data}
    p0007 = by_reference["P-0007"]
    assert (p0007["sexe"], p0007["annee_naissance"], p0007["tranche_age"]) == ("M", 1979, "26_49")
    assert (p0007["eligibilite_validee"], p0007["date_validation"]) == (True, "2026-03-20")
    assert p0007["justificatif"] == "attestation France Travail"
    p0102 = by_reference["P-0102"]
    assert (p0102["sexe"], p0102["annee_naissance"], p0102["tranche_age_libelle"]) == (
        None,
        None,
        "Non renseigné",
    )
    assert p0102["eligibilite_validee"] is False
    assert set(p0007) == {
        *("reference", "critere", "critere_libelle", "sexe", "annee_naissance"),
        *("tranche_age", "tranche_age_libelle", "eligibilite_validee", "justificatif"),
        *("date_validation", "heures", "clauses", "sorties"),
    }


# --- the declaration import ---------------------------------------------------------------------


def test_the_import_says_which_known_participants_it_completed(
    declared: Invoke, tmp_path: Path
) -> None:
    line = (
        "41234567800012;Bâtiments Gascons SARL;2026-014;01;08/2026;P-0102;;"
        "Contrat d'apprentissage;Embauche directe;35;Homme;2006"
    )
    path = write(tmp_path, f"{HEADER}\r\n{line}\r\n", "aout.csv")

    shown = declared("declaration", "import", path)
    listed = {p["reference"]: p for p in json.loads(participant(declared, "list", "--json").stdout)}

    assert shown.exit_code == 0, shown.output
    assert "Sexe ou année de naissance complétés : P-0102." in shown.stdout
    assert (listed["P-0102"]["sexe"], listed["P-0102"]["annee_naissance"]) == ("M", 2006)


def test_the_import_refuses_a_contradiction_and_names_the_fix(
    declared: Invoke, tmp_path: Path
) -> None:
    line = (
        "41234567800012;Bâtiments Gascons SARL;2026-014;01;08/2026;P-0007;;"
        "CDD;Embauche directe;35;F;"
    )
    path = write(tmp_path, f"{HEADER}\r\n{line}\r\n", "aout.csv")

    result = declared("declaration", "import", "--json", path)

    assert result.exit_code == 1
    assert "aout.csv : 1 erreur, rien n'a été importé." in result.stderr
    assert "ligne 2, colonne « Sexe » : participant « P-0007 » enregistré avec sexe M" in (
        result.stderr
    )
    assert "clauses participant set P-0007 --sex F" in result.stderr
