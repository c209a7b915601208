"""``clauses import lots``, ``clauses declaration import|zero`` and ``clauses sample load``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from tests.conftest import Clock
from tests.e2e.conftest import Invoke
from tests.integration.test_declarations import DECLARATION, start_sample
from tests.integration.test_imports import LOTS
from workflow.bootstrap import bootstrap
from workflow.settings import Settings

NOVEMBER = datetime(2026, 11, 5, 9, 0, tzinfo=UTC)


def test_it_imports_lots_then_says_there_is_nothing_new(run: Invoke) -> None:
    first = run("import", "lots", str(LOTS))
    second = run("import", "lots", str(LOTS))

    assert first.exit_code == 0, first.output
    assert "Créés : 3 donneurs d'ordre, 3 opérations, 3 marchés, 6 clauses." in first.stdout
    assert "Attention :" in first.stdout
    assert "ligne 7 : 47" in first.stdout
    assert second.exit_code == 0
    assert "Rien de nouveau : les 6 lots du fichier existent déjà" in second.stdout


def test_it_gives_the_lots_import_as_json(run: Invoke) -> None:
    result = run("import", "lots", "--json", str(LOTS))

    data = json.loads(result.stdout)
    assert [lot["heures_prevues"] for lot in data["lots"]] == [4725, 426, 761, 341, 1200, 47]
    assert data["lots"][4]["heures_imposees"] == 1200
    assert data["crees"]["clauses"] == 6
    assert len(data["avertissements"]) == 1


def test_it_refuses_a_broken_lots_file_with_exit_code_1(run: Invoke, tmp_path: Path) -> None:
    broken = tmp_path / "lots.csv"
    broken.write_bytes(LOTS.read_bytes().replace(b"640 000,00", b"six cent mille"))

    result = run("import", "lots", str(broken))

    assert result.exit_code == 1
    assert "lots.csv : 1 erreur, rien n'a été importé." in result.stderr
    assert "ligne 3, colonne « Montant HT (€) » : « six cent mille » n'est pas un nombre" in (
        result.stderr
    )
    listed = run("import", "lots", "--json", str(LOTS))
    assert json.loads(listed.stdout)["crees"]["clauses"] == 6


def test_it_needs_an_existing_file(run: Invoke, tmp_path: Path) -> None:
    result = run("import", "lots", str(tmp_path / "absent.csv"))

    assert result.exit_code == 2


def test_it_loads_the_sample_once(run: Invoke) -> None:
    first = run("sample", "load")
    second = run("sample", "load")

    assert first.exit_code == 0, first.output
    assert "Territoire d'exemple chargé : 3 donneurs d'ordre" in first.stdout
    assert "8 clauses" in first.stdout
    assert second.exit_code == 0
    assert "déjà chargé : rien de nouveau" in second.stdout


def test_it_records_refuses_then_replaces_a_declaration(
    run: Invoke, sqlite_settings: Settings, clock: Clock
) -> None:
    app = bootstrap(sqlite_settings, clock=clock, handlers={})
    start_sample(app)
    app.close()
    clock.set(NOVEMBER)

    first = run("declaration", "import", str(DECLARATION))
    second = run("declaration", "import", str(DECLARATION))
    replaced = run("declaration", "import", "--replace", "--json", str(DECLARATION))

    assert first.exit_code == 0, first.output
    assert "Déclaration d'octobre 2026 enregistrée : Bâtiments Gascons SARL" in first.stdout
    assert (
        "370,17\u00a0h au total, 3 participants ayant travaillé (1 autre déclaré à 0\u00a0h)."
        in first.stdout
    )
    # The criteria count the 3 who worked, as the line above; the one at 0 h apart.
    assert "Par critère (3)" in first.stdout and "Par modalité (3)" in first.stdout
    assert "Déclarés à 0\u00a0h, hors de ces comptes" in first.stdout or (
        "Déclarés à 0 h, hors de ces comptes" in first.stdout
    )
    assert second.exit_code == 1
    assert "existe déjà" in second.stderr and "--replace" in second.stderr
    assert replaced.exit_code == 0, replaced.output
    data = json.loads(replaced.stdout)["declarations"][0]
    # The same lines again: nothing replaced, nothing sent (a « corrected » receipt would lie).
    assert (data["heures"], data["remplacee"], data["inchangee"]) == (370.17, False, True)


def test_it_declares_a_month_without_hours(
    run: Invoke, sqlite_settings: Settings, clock: Clock
) -> None:
    app = bootstrap(sqlite_settings, clock=clock, handlers={})
    start_sample(app)
    app.close()
    clock.set(NOVEMBER)

    zero = run(
        "declaration", "zero", "--clause", "1", "--company", "41234567800012", "--month", "09/2026"
    )
    bad_month = run(
        "declaration", "zero", "--clause", "1", "--company", "1", "--month", "septembre"
    )
    not_a_party = run(
        "declaration", "zero", "--clause", "2", "--company", "1", "--month", "09/2026"
    )

    assert zero.exit_code == 0, zero.output
    assert "Déclaration de septembre 2026 à zéro heure enregistrée" in zero.stdout
    assert bad_month.exit_code == 1
    assert "--month : « septembre » n'est pas un mois" in bad_month.stderr
    assert not_a_party.exit_code == 1
    assert "n'est pas attributaire" in not_a_party.stderr


def test_it_refuses_a_month_not_over_from_every_command(
    run: Invoke, sqlite_settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    app = bootstrap(sqlite_settings, clock=clock, handlers={})
    start_sample(app)
    app.close()
    clock.set(NOVEMBER)  # 5 November 2026: November opens on Monday 30 November
    november = tmp_path / "novembre.csv"
    november.write_bytes(DECLARATION.read_bytes().replace(b";10/2026;", b";11/2026;"))

    zero = run(
        "declaration", "zero", "--clause", "1", "--company", "41234567800012", "--month", "11/2026"
    )
    imported = run("declaration", "import", str(november))

    opening = "La déclaration de novembre 2026 s'ouvre le lundi 30 novembre 2026."
    assert zero.exit_code == 1 and opening in zero.stderr
    # In a file the refusal names its column, and goes on in lower case after the colon.
    assert imported.exit_code == 1
    assert "colonne « Mois » : l" + opening[1:] in imported.stderr
    assert "rien n'a été importé" in imported.stderr


def test_it_imports_a_workbook_from_the_command_line(
    run: Invoke, sqlite_settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    from tests.integration.test_declaration_files import sample_xlsx

    app = bootstrap(sqlite_settings, clock=clock, handlers={})
    start_sample(app)
    app.close()
    clock.set(NOVEMBER)

    result = run("declaration", "import", str(sample_xlsx(tmp_path / "octobre.xlsx")))

    assert result.exit_code == 0, result.output
    assert "Déclaration d'octobre 2026 enregistrée : Bâtiments Gascons SARL" in result.stdout
    assert (
        "370,17\u00a0h au total, 3 participants ayant travaillé (1 autre déclaré à 0\u00a0h)."
        in result.stdout
    )
