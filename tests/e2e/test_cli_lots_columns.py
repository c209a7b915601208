"""``clauses import lots`` with a column renamed: one refusal naming the column, not one per line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import Invoke
from tests.integration.test_imports import LOTS
from tests.text import squash
from workflow.adapters.orm import Buyer, Clause
from workflow.app import imports as commands
from workflow.bootstrap import App
from workflow.errors import FileRefused

LABOUR_TITLE = "Part main-d'\u0153uvre"
RATE_TITLE = "Taux d'insertion"
LABOUR = "Part main-d'\u0153uvre".encode("cp1252")


def q(words: str) -> str:
    return f"«\u00a0{words}\u00a0»"


def renamed(tmp_path: Path, title: bytes, name: str = "lots-renommes.csv") -> Path:
    """The sample lots file with the « Part main-d'œuvre » column titled ``title``."""
    header, rest = LOTS.read_bytes().split(b"\n", 1)
    assert LABOUR in header
    path = tmp_path / name
    path.write_bytes(header.replace(LABOUR, title) + b"\n" + rest)
    return path


def test_a_renamed_column_is_refused_once_as_missing(run: Invoke, tmp_path: Path) -> None:
    result = run("import", "lots", str(renamed(tmp_path, b"Zorglub")))

    said = squash(result.stderr)
    assert result.exit_code == 1
    assert "lots-renommes.csv : 1 erreur, rien n'a été importé." in said
    assert (
        f"ligne 1, colonne {q(LABOUR_TITLE)} : colonne manquante. Colonnes trouvées : "
        f"{q('Opération')}, " in said
    )
    assert f"{q('Zorglub')}, {q(RATE_TITLE)}," in said
    assert "valeur manquante" not in said
    assert said.count("Part main-d'œuvre") == 1
    # Nothing was written: the real file then imports everything.
    listed = run("import", "lots", "--json", str(LOTS))
    assert json.loads(listed.stdout)["crees"]["clauses"] == 6


@pytest.mark.parametrize("title", [b"Part MO", b"part de main-d'oeuvre", b"PART MAIN D OEUVRE"])
def test_the_accepted_titles_still_import(app: App, tmp_path: Path, title: bytes) -> None:
    result = commands.import_lots(app, renamed(tmp_path, title))

    assert result.created["clauses"] == 6
    assert [lot.hours_target for lot in result.lots] == [4725, 426, 761, 341, 1200, 47]


def test_imposed_hours_on_every_line_need_no_calculation_columns(app: App, tmp_path: Path) -> None:
    path = tmp_path / "imposees.csv"
    path.write_text(
        "Opération;Donneur d'ordre;N° marché;Lot;Intitulé du lot;Heures imposees\n"
        "Gymnase;Commune de Test;2026-900;1;Gros œuvre;350\n"
        "Gymnase;Commune de Test;2026-900;2;Peinture;120\n",
        encoding="utf-8",
    )
    result = commands.import_lots(app, path)

    assert [lot.hours_override for lot in result.lots] == [350, 120]
    with app.transaction() as session:
        assert [c.hours_override for c in session.query(Clause).order_by(Clause.id)] == [350, 120]


def test_one_line_without_imposed_hours_needs_every_calculation_column(
    app: App, tmp_path: Path
) -> None:
    path = tmp_path / "mixte.csv"
    path.write_text(
        "Opération;Donneur d'ordre;N° marché;Lot;Intitulé du lot;Heures imposées;Montant HT\n"
        "Gymnase;Commune de Test;2026-900;1;Gros œuvre;350;\n"
        "Gymnase;Commune de Test;2026-900;2;Peinture;;90 000\n",
        encoding="utf-8",
    )
    with pytest.raises(FileRefused) as caught:
        commands.import_lots(app, path)

    errors = [str(e) for e in caught.value.errors]
    assert caught.value.source == "mixte.csv"
    assert [e.column for e in caught.value.errors] == [
        "Part main-d'œuvre",
        "Taux d'insertion",
        "Coût horaire chargé (€)",
    ]
    assert all(e.line == 1 for e in caught.value.errors)
    assert all(f"colonne manquante. Colonnes trouvées : {q('Opération')}," in e for e in errors)
    assert all(f"{q('Montant HT')}." in e for e in errors)
    with app.transaction() as session:
        assert session.query(Buyer).count() == 0 and session.query(Clause).count() == 0


def test_without_imposed_hours_column_a_missing_figure_is_named_with_the_titles(
    app: App, tmp_path: Path
) -> None:
    header, rest = LOTS.read_bytes().split(b"\n", 1)
    path = tmp_path / "sans-taux.csv"
    cut = header.replace(b"Taux d'insertion", b"Taux bidon").replace(
        "Heures imposées".encode("cp1252"), b"X"
    )
    path.write_bytes(cut + b"\n" + rest)
    with pytest.raises(FileRefused) as caught:
        commands.import_lots(app, path)

    assert [(e.line, e.column) for e in caught.value.errors] == [(1, "Taux d'insertion")]
    assert q("X") in caught.value.errors[0].message
