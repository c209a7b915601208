"""``clauses participant add``: a participant recorded before their first declaration, under the
reference typed or the next one the facilitator gives (``--auto``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from tests.conftest import Clock
from tests.e2e.conftest import Invoke
from tests.e2e.test_cli_imports import NOVEMBER
from tests.e2e.test_cli_participant_details import HEADER, write
from tests.integration.test_declarations import start_sample
from workflow.bootstrap import bootstrap
from workflow.settings import Settings

#: The sample's participants, all recorded on the day it was loaded (2026).
SAMPLE_PARTICIPANTS = 6


def add(run: Invoke, *args: str) -> Result:
    return run("participant", "add", *args)


def listed(run: Invoke) -> dict[str, dict[str, Any]]:
    result = run("participant", "list", "--json")
    assert result.exit_code == 0, result.output
    return {p["reference"]: p for p in json.loads(result.stdout)}


@pytest.fixture
def started(run: Invoke, sqlite_settings: Settings, clock: Clock) -> Invoke:
    """The sample in execution since March 2026, on 5 November 2026, nothing declared."""
    app = bootstrap(sqlite_settings, clock=clock, handlers={})
    start_sample(app)
    app.close()
    clock.set(NOVEMBER)
    return run


def test_it_records_a_participant_before_the_first_declaration(
    started: Invoke, tmp_path: Path
) -> None:
    result = add(
        started,
        *("P-0200", "--criterion", "rsa", "--sex", "femme", "--birth-year", "1990"),
        *("--proof", "Attestation CAF"),
    )
    line = (
        "41234567800012;Bâtiments Gascons SARL;2026-014;01;10/2026;P-0200;;"
        "CDD;Embauche directe;42,5;;"
    )
    declared = started("declaration", "import", write(tmp_path, f"{HEADER}\r\n{line}\r\n"))

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        "Participant P-0200 enregistré : critère « Bénéficiaire du RSA, de l'ASS, de l'AAH "
        "ou d'une pension d'invalidité » ; sexe F ; année de naissance 1990 ; éligibilité "
        "validée le 05/11/2026 (Attestation CAF)."
    )
    # The file names P-0200 without a criterion: known, it is not created again.
    assert declared.exit_code == 0, declared.output
    assert "Nouveaux participants" not in declared.stdout
    p0200 = listed(started)["P-0200"]
    assert (p0200["critere"], p0200["sexe"], p0200["annee_naissance"]) == (
        "minimum_income",
        "F",
        1990,
    )
    assert (p0200["justificatif"], p0200["date_validation"]) == ("Attestation CAF", "2026-11-05")
    assert (p0200["heures"], p0200["clauses"]) == (42.5, [1])


def test_without_a_proof_the_eligibility_is_to_validate_and_json_says_it(started: Invoke) -> None:
    result = add(started, "P-0201", "--criterion", "Travailleur handicapé (RQTH)", "--json")

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["participant"], data["automatique"], data["critere"]) == (
        "P-0201",
        False,
        "disabled_worker",
    )
    assert (data["sexe"], data["annee_naissance"], data["justificatif"]) == (None, None, None)
    assert data["date_validation"] is None
    assert "clauses participant validate P-0201 --proof" in data["message"]
    assert listed(started)["P-0201"]["eligibilite_validee"] is False


def test_it_refuses_a_participant_that_exists_and_says_how_to_change_it(started: Invoke) -> None:
    result = add(started, "P-0007", "--criterion", "RSA")

    assert result.exit_code == 1
    assert "Le participant « P-0007 » existe déjà (critère « Demandeur d'emploi" in (result.stderr)
    assert "clauses participant set P-0007" in result.stderr
    assert listed(started)["P-0007"]["critere"] == "long_term_jobseeker"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("P-0300", "--criterion", "chômeur"), "--criterion « chômeur » n'est pas reconnu."),
        (("P-0300", "--criterion", "RSA", "--sex", "X"), "--sex « X » : indiquez F (femme)"),
        (
            ("P-0300", "--criterion", "RSA", "--birth-year", "2020"),
            "Participant « P-0300 » : année de naissance 2020 impossible : entre 1900 et 2012",
        ),
        (
            ("P-0300", "--criterion", "RSA", "--proof", "x" * 201),
            "Participant « P-0300 » : justificatif trop long : 201 caractères, 200 au plus.",
        ),
        (
            ("P-0300", "--criterion", "RSA", "--proof", "Attestation CAF", "--date", "06/11/2026"),
            "date de validation 06/11/2026 dans le futur",
        ),
        (("x" * 41, "--criterion", "RSA"), "trop longue : 40 caractères au plus."),
        (
            ("=1+1", "--criterion", "RSA"),
            "Référence du participant « =1+1 » refusée : elle commence par « = », qu'un "
            "tableur lirait comme une formule.",
        ),
        (("+33612", "--criterion", "RSA"), "elle commence par « + »"),
        (("@SOMME", "--criterion", "RSA"), "elle commence par « @ »"),
        (("--criterion", "RSA", "--", "-P12"), "elle commence par « - »"),
    ],
)
def test_it_refuses_what_a_declaration_file_would_refuse_and_records_nothing(
    started: Invoke, args: tuple[str, ...], message: str
) -> None:
    result = add(started, *args)

    assert result.exit_code == 1, result.output
    assert message in result.stderr
    assert len(listed(started)) == SAMPLE_PARTICIPANTS


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--criterion", "RSA"), "Indiquez la référence du participant (RÉF) ou --auto"),
        (("P-0300", "--auto", "--criterion", "RSA"), "--auto donne la référence"),
        (("P-0300", "--criterion", "RSA", "--date", "01/11/2026"), "indiquez aussi --proof"),
        (("P-0300",), "--criterion"),
    ],
)
def test_a_malformed_command_is_a_usage_error(
    started: Invoke, args: tuple[str, ...], message: str
) -> None:
    result = add(started, *args)

    assert result.exit_code == 2
    assert message in result.output
    assert len(listed(started)) == SAMPLE_PARTICIPANTS


# --- references the facilitator gives -----------------------------------------------------------


def test_auto_gives_the_next_free_reference_of_the_year(started: Invoke) -> None:
    first = add(started, "--auto", "--criterion", "DELD", "--json")
    second = add(started, "--auto", "--criterion", "QPV")

    assert first.exit_code == 0, first.output
    data = json.loads(first.stdout)
    # The rank among the participants recorded in 2026: the sample's six come first.
    assert (data["participant"], data["automatique"]) == ("P-2026-0007", True)
    assert (
        "Référence à donner à l'entreprise, qui l'écrira dans ses déclarations : "
        in (data["message"])
    )
    assert second.exit_code == 0, second.output
    assert second.stdout.startswith("Participant P-2026-0008 enregistré : critère « Habitant")
    assert {"P-2026-0007", "P-2026-0008"} <= set(listed(started))


def test_auto_steps_over_a_reference_a_company_already_chose(started: Invoke) -> None:
    """A company chose « P-2026-0008 » for someone (the seventh participant of the year): the
    eighth, given by --auto, has its rank with a letter after it; the ninth, its own rank."""
    chosen = add(started, "P-2026-0008", "--criterion", "RSA")
    auto = add(started, "--auto", "--criterion", "RSA")
    following = add(started, "--auto", "--criterion", "RSA")

    assert chosen.exit_code == 0, chosen.output
    assert auto.stdout.startswith("Participant P-2026-0008-b enregistré"), auto.output
    assert following.stdout.startswith("Participant P-2026-0009 enregistré"), following.output


def test_a_purged_reference_is_never_given_again(
    run: Invoke, sqlite_settings: Settings, clock: Clock
) -> None:
    """Recorded on 2 March and never declared, P-2026-0007 is past a one-month retention on 5
    May: the purge replaces its reference by a token. The next --auto does not give it again."""
    assert run("sample", "load").exit_code == 0  # six participants, 2 March 2026
    first = add(run, "--auto", "--criterion", "RSA", "--json")
    clock.set(datetime(2026, 5, 5, 9, 0, tzinfo=UTC))
    purged = run("privacy", "purge", "--older-than", "1m", "--yes", "--json")
    kept = listed(run)
    after = add(run, "--auto", "--criterion", "RSA", "--json")

    assert json.loads(first.stdout)["participant"] == "P-2026-0007"
    assert purged.exit_code == 0, purged.output
    assert json.loads(purged.stdout)["participants"] >= 1
    # The row is kept (its hours would be), under a token: nothing links it to the person.
    assert len(kept) == SAMPLE_PARTICIPANTS + 1
    assert "P-2026-0007" not in kept
    assert after.exit_code == 0, after.output
    assert json.loads(after.stdout)["participant"] == "P-2026-0008"
