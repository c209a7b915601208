"""``clauses participant types``: every type the field records, under the mapping in force."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tests.conftest import Clock, make_settings
from tests.e2e.conftest import Invoke
from workflow.bootstrap import bootstrap
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState


def test_it_lists_the_field_s_types_under_their_default_group(run: Invoke) -> None:
    data = json.loads(run("participant", "types", "--json").stdout)
    groups = {row["type_libelle"]: row["groupe_libelle"] for row in data}

    assert groups["Contrat d'apprentissage"] == "Emploi durable"
    assert groups["Contrat de professionnalisation"] == "Emploi durable"
    assert groups["Formation courte (non qualifiante)"] == "Autre"
    assert groups["Formation qualifiante"] == "Sortie positive"
    assert len(data) == 16


def test_it_lists_them_under_the_groups_of_the_setting(
    tmp_path: Path, sqlite_url: str, clock: Clock
) -> None:
    settings = make_settings(
        tmp_path, sqlite_url, outcome_groups={"short_training": "positive_exit"}
    )
    state = CliState()
    state.factory = lambda: bootstrap(settings, clock=clock)

    result = CliRunner().invoke(
        cli, ["participant", "types"], obj=state, catch_exceptions=False, env={"COLUMNS": "200"}
    )

    assert result.exit_code == 0, result.output
    [line] = [x for x in result.output.splitlines() if "Formation courte" in x]
    assert "Sortie positive" in line
    # Listed by group: the short training now comes with the positive exits.
    order = [x for x in result.output.splitlines() if "Formation" in x or "SIAE" in x]
    assert [("courte" in x, "Sortie positive" in x) for x in order] == [
        (False, True),
        (False, True),
        (True, True),
    ]
