"""``clauses participant outcome|list|types`` and ``clauses import outcomes``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result

from tests.conftest import Clock
from tests.e2e.conftest import Invoke
from tests.e2e.test_cli_imports import NOVEMBER
from tests.integration.test_declarations import DECLARATION, start_sample
from tests.integration.test_outcomes import OUTCOMES
from workflow.bootstrap import bootstrap
from workflow.settings import Settings


@pytest.fixture
def declared(run: Invoke, sqlite_settings: Settings, clock: Clock) -> Invoke:
    """The sample in execution and October 2026 declared on clause 1 (middle school, lot 01)."""
    app = bootstrap(sqlite_settings, clock=clock, handlers={})
    start_sample(app)
    app.close()
    clock.set(NOVEMBER)
    assert run("declaration", "import", str(DECLARATION)).exit_code == 0
    return run


def outcome(run: Invoke, *args: str) -> Result:
    return run("participant", "outcome", *args)


def test_it_records_an_outcome_once_and_says_so_the_second_time(declared: Invoke) -> None:
    first = outcome(declared, "P-0007", "--clause", "1", "--type", "cdi", "--date", "30/10/2026")
    second = outcome(declared, "P-0007", "--clause", "1", "--type", "CDI", "--date", "2026-10-30")

    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == (
        "Sortie n° 1 enregistrée : P-0007, clause n° 1, CDI (emploi durable) le 30/10/2026."
    )
    assert second.exit_code == 0, second.output
    assert second.stdout.startswith("Rien de nouveau : la sortie de P-0007 de la clause n° 1")


def test_it_gives_the_outcome_as_json_and_corrects_it_with_replace(declared: Invoke) -> None:
    outcome(declared, "P-0012", "--clause", "1", "--type", "intérim 3 mois", "--date", "31/10/2026")

    refused = outcome(declared, "P-0012", "--clause", "1", "--type", "CDI", "--date", "31/10/2026")
    replaced = outcome(
        declared,
        *("P-0012", "--clause", "1", "--type", "CDI", "--date", "31/10/2026"),
        *("--replace", "--json"),
    )

    assert refused.exit_code == 1
    assert (
        "P-0012 a déjà une sortie le 31/10/2026 sur la clause n° 1 (n° 1 : Intérim de moins de "
        "6 mois le 31/10/2026) : une seule situation par jour." in refused.stderr
    )
    assert "clauses participant outcome-fix 1 --type" in refused.stderr
    assert replaced.exit_code == 0, replaced.output
    data = json.loads(replaced.stdout)
    assert data["participant"] == "P-0012" and data["clause"] == 1
    assert (data["type"], data["groupe"], data["groupe_libelle"]) == (
        "cdi",
        "lasting_job",
        "Emploi durable",
    )
    assert (data["date"], data["resultat"], data["modifie"]) == ("2026-10-31", "corrigée", True)
    assert data["remplace"] == {"type_libelle": "Intérim de moins de 6 mois", "date": "2026-10-31"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--type", "CDD", "--date", "30/10/2026"), "--type « CDD » : précisez la durée"),
        (("--type", "CDI", "--date", "30 octobre"), "--date : « 30 octobre » n'est pas une date"),
        (("--type", "CDI", "--date", "01/12/2026"), "Date de sortie 01/12/2026 dans le futur"),
        (("--type", "CDI", "--date", "01/09/2026"), "antérieure à octobre 2026"),
    ],
)
def test_it_refuses_bad_input_with_exit_code_1(
    declared: Invoke, args: tuple[str, ...], message: str
) -> None:
    result = outcome(declared, "P-0007", "--clause", "1", *args)

    assert result.exit_code == 1
    assert message in result.stderr
    assert "0 sortie enregistrée" in declared("participant", "list").stdout


def test_it_refuses_an_unknown_participant_and_needs_the_options(declared: Invoke) -> None:
    unknown = outcome(declared, "P-9999", "--clause", "1", "--type", "CDI", "--date", "30/10/2026")
    no_type = outcome(declared, "P-0007", "--clause", "1", "--date", "30/10/2026")

    assert unknown.exit_code == 1
    assert "Aucun participant « P-9999 »" in unknown.stderr
    assert no_type.exit_code == 2
    assert "--type" in no_type.output


def test_it_lists_participants_with_hours_and_outcomes(declared: Invoke) -> None:
    outcome(
        declared,
        "P-0031",
        "--clause",
        "1",
        "--type",
        "formation qualifiante",
        "--date",
        "04/11/2026",
    )

    table = declared("participant", "list", "--clause", "1")
    data = json.loads(declared("participant", "list", "--json").stdout)

    assert table.exit_code == 0, table.output
    assert "Participants de la clause n° 1" in table.stdout
    assert "151,67\u00a0h" in table.stdout
    # Each outcome shows its N°, what outcome-fix and outcome-remove take.
    assert "n° 1 : Formation qualifiante (sortie positive) le" in table.stdout
    assert "4 participants, 1 sortie enregistrée." in table.stdout
    by_reference = {p["reference"]: p for p in data}
    assert len(by_reference) == 6
    assert by_reference["P-0031"]["heures"] == 120
    assert by_reference["P-0031"]["clauses"] == [1]
    assert by_reference["P-0031"]["sorties"][0]["groupe"] == "positive_exit"
    assert by_reference["P-0031"]["sorties"][0]["sortie"] == 1
    assert by_reference["P-0063"]["heures"] == 0 and by_reference["P-0063"]["sorties"] == []


def test_it_shows_the_outcome_in_the_clause_history(declared: Invoke) -> None:
    outcome(declared, "P-0007", "--clause", "1", "--type", "CDI", "--date", "30/10/2026")

    shown = declared("clause", "show", "1", "--json")

    [row] = [h for h in json.loads(shown.stdout)["historique"] if h["evenement"] == "outcome"]
    assert row["motif"] == "sortie de P-0007 : CDI (emploi durable) le 30/10/2026"
    assert "sortie d'un participant" in declared("clause", "show", "1").stdout


def test_it_lists_the_outcome_types_by_group(run: Invoke) -> None:
    table = run("participant", "types")
    data = json.loads(run("participant", "types", "--json").stdout)

    assert table.exit_code == 0
    assert "Perdu de vue" in table.stdout and "Emploi de transition" in table.stdout
    assert {row["groupe"] for row in data} == {
        "lasting_job",
        "transitional_job",
        "positive_exit",
        "other",
    }


def test_it_imports_outcomes_once_then_says_there_is_nothing_new(declared: Invoke) -> None:
    first = declared("import", "outcomes", str(OUTCOMES))
    second = declared("import", "outcomes", "--json", str(OUTCOMES))

    assert first.exit_code == 0, first.output
    assert "Sorties enregistrées : 3, corrigées : 0, déjà enregistrées : 0." in first.stdout
    assert second.exit_code == 0, second.output
    data = json.loads(second.stdout)
    assert (data["rien_de_nouveau"], data["deja_enregistrees"]) == (True, 3)
    assert [s["groupe"] for s in data["sorties"]] == [
        "lasting_job",
        "transitional_job",
        "positive_exit",
    ]


def test_it_refuses_a_broken_outcomes_file_and_imports_nothing(
    declared: Invoke, tmp_path: Path
) -> None:
    broken = tmp_path / "sorties.csv"
    broken.write_bytes(OUTCOMES.read_bytes().replace(b"30/10/2026", b"30/10/2030"))

    result = declared("import", "outcomes", str(broken))

    assert result.exit_code == 1
    assert "sorties.csv : 1 erreur, rien n'a été importé." in result.stderr
    assert "ligne 2 : Date de sortie 30/10/2030 dans le futur" in result.stderr
    assert "0 sortie enregistrée" in declared("participant", "list").stdout
