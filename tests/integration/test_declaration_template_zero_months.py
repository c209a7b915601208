"""A two-month template: a month nobody worked is declared in it, a month left blank is named.

User trial, on the template of a call for September and October 2026 (the builder the calls
attach, ``declaration_attachments``; three blank lines per month for a company that declared
nobody yet): « 0 » in « Heures » on a blank October line refused the whole file, September with
it (« ligne 5, colonne « Référence participant » : valeur manquante »); October left blank
recorded September alone and said nothing of October, which stayed owed and kept being reminded.

Now a line of a month with no participant and 0 hours declares that month at zero hours, as
``declaration zero`` does, and the emails sent with the template say so; a month whose lines all
stay blank is named in the result, still owed. A line with hours and no participant, or with a
participant and no hours, is still refused where it is, and the file with it.
"""

from __future__ import annotations

import io
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
from click.testing import CliRunner
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration.test_declaration_howto import awarded, fill_csv, lot_01, welcome_of
from tests.integration.test_identical_replacement import run, started
from tests.text import squash
from workflow.adapters.orm import Declaration
from workflow.bootstrap import App
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.services.declaration_howto import declaration_attachments
from workflow.settings import Settings

__all__ = ["awarded"]  # the fixture, used by the last test

SEPTEMBER = date(2026, 9, 1)
OCTOBER = date(2026, 10, 1)
#: Line 2 of the template: September's first blank line, filled with one person.
SEPTEMBER_PERSON = {
    "Référence participant": "P-0500",
    "Critère d'éligibilité": "Bénéficiaire du RSA",
    "Type de contrat": "CDDI",
    "Modalité de réalisation": "Embauche directe",
    "Heures": "80",
}


def template(app: App, suffix: str) -> bytes:
    """The two-month template a call for September and October attaches to lot 01's holder."""
    clause_id, holder_id, _ = lot_01(app)
    with app.transaction() as session:
        files = declaration_attachments(session, clause_id, holder_id, [SEPTEMBER, OCTOBER])
    [found] = [f.content for f in files if f.filename.endswith(suffix)]
    return found


def filled(app: App, tmp_path: Path, lines: dict[int, dict[str, str]]) -> Path:
    data = template(app, ".csv")
    rows = data.decode("cp1252").split("\r\n")
    # Lines 2-4: September; 5-7: October (no one declared yet on the lot: three blank lines).
    assert [r.split(";")[4] for r in rows[1:7]] == ["09/2026"] * 3 + ["10/2026"] * 3
    path = tmp_path / "filled.csv"
    path.write_bytes(fill_csv(data, lines))
    return path


def recorded(app: App) -> list[tuple[date, Decimal, int]]:
    clause_id, holder_id, _ = lot_01(app)
    with app.transaction() as session:
        return [
            (d.month, Decimal(d.total_hours), len(d.lines))
            for d in session.scalars(
                select(Declaration)
                .where(Declaration.clause_id == clause_id, Declaration.company_id == holder_id)
                .order_by(Declaration.month)
            )
        ]


def refused(app: App, *args: str) -> str:
    state = CliState()
    state.factory = lambda: app
    result = CliRunner().invoke(cli, list(args), obj=state, catch_exceptions=False)
    assert result.exit_code != 0, result.output
    return squash(result.output).replace("\u00a0", " ")


def test_a_zero_on_a_blank_line_declares_the_month_at_zero_hours(
    app: App, clock: Clock, tmp_path: Path
) -> None:
    started(app, clock)
    # Hours without a participant are still refused where they are, the whole file with them.
    wrong = filled(app, tmp_path, {2: SEPTEMBER_PERSON, 5: {"Heures": "35"}})
    said = refused(app, "declaration", "import", str(wrong))
    assert "ligne 5, colonne « Référence participant » : valeur manquante" in said
    assert recorded(app) == []

    path = filled(app, tmp_path, {2: SEPTEMBER_PERSON, 5: {"Heures": "0"}})
    said = run(app, "declaration", "import", str(path)).replace("\u00a0", " ")

    assert recorded(app) == [(SEPTEMBER, Decimal(80), 1), (OCTOBER, Decimal(0), 0)]
    assert "Déclaration de septembre 2026 enregistrée : Bâtiments Gascons SARL" in said
    assert "80 h au total, 1 participant." in said
    assert ("Déclaration d'octobre 2026 enregistrée : Bâtiments Gascons SARL – Clause n° ") in said
    assert "Aucune heure ce mois-là : déclaration à zéro heure, sans participant." in said


def test_a_participant_without_hours_is_still_refused_beside_a_zero_month(
    app: App, clock: Clock, tmp_path: Path
) -> None:
    started(app, clock)
    person_without_hours = {**SEPTEMBER_PERSON, "Heures": ""}
    path = filled(app, tmp_path, {2: person_without_hours, 5: {"Heures": "0,00"}})
    said = refused(app, "declaration", "import", str(path))
    assert "ligne 2, colonne « Heures » : valeur manquante" in said
    assert "rien n'a été importé" in said
    assert recorded(app) == []
    # Put right, the same file is taken whole: October at zero beside September's person.
    fixed = filled(app, tmp_path, {2: SEPTEMBER_PERSON, 5: {"Heures": "0,00"}})
    run(app, "declaration", "import", str(fixed))
    assert recorded(app) == [(SEPTEMBER, Decimal(80), 1), (OCTOBER, Decimal(0), 0)]


def test_a_month_left_blank_is_named_still_owed(app: App, clock: Clock, tmp_path: Path) -> None:
    started(app, clock)
    path = filled(app, tmp_path, {2: SEPTEMBER_PERSON})

    said = run(app, "declaration", "import", str(path)).replace("\u00a0", " ")

    assert recorded(app) == [(SEPTEMBER, Decimal(80), 1)]
    assert "Déclaration d'octobre 2026 non reçue : Bâtiments Gascons SARL" in said
    assert "octobre 2026 : aucune ligne, pas déclaré ; toujours attendu (si personne" in said
    assert "inscrivez 0 dans « Heures » sur une ligne de ce mois, sans référence" in said

    # Sent again with --replace, September unchanged: October is still named, still owed; the
    # JSON says it too.
    again = run(app, "declaration", "import", str(path), "--replace", "--json")
    [blank] = json.loads(again)["mois_sans_ligne"]
    assert (blank["mois"], blank["ligne"], blank["toujours_attendu"]) == ("2026-10-01", 5, True)
    assert blank["message"].startswith("octobre 2026 : aucune ligne, pas déclaré ; toujours")


def test_a_month_left_blank_already_recorded_is_said_unchanged(
    app: App, clock: Clock, tmp_path: Path
) -> None:
    started(app, clock)
    first = run(app, "declaration", "import", str(filled(app, tmp_path, {5: {"Heures": "0"}})))
    assert recorded(app) == [(OCTOBER, Decimal(0), 0)]
    assert "septembre 2026 : aucune ligne, pas déclaré ; toujours attendu" in first
    said = run(
        app, "declaration", "import", str(filled(app, tmp_path, {2: SEPTEMBER_PERSON}))
    ).replace("\u00a0", " ")
    assert "Déclaration d'octobre 2026 inchangée : Bâtiments Gascons SARL" in said
    assert "octobre 2026 : aucune ligne dans le fichier ; la déclaration enregistrée le" in said
    assert "(0 h) reste inchangée." in said


def test_a_zero_typed_in_the_workbook_declares_the_month_at_zero_hours(
    app: App, clock: Clock, tmp_path: Path
) -> None:
    started(app, clock)
    workbook = openpyxl.load_workbook(io.BytesIO(template(app, ".xlsx")))
    sheet = workbook.worksheets[0]
    column = {str(c.value): i + 1 for i, c in enumerate(sheet[1])}
    for title, value in SEPTEMBER_PERSON.items():
        sheet.cell(row=2, column=column[title], value=80 if title == "Heures" else value)
    sheet.cell(row=6, column=column["Heures"], value=0)  # a number, as Excel stores it
    path = tmp_path / "déclaration.xlsx"
    workbook.save(path)

    run(app, "declaration", "import", str(path))

    assert recorded(app) == [(SEPTEMBER, Decimal(80), 1), (OCTOBER, Decimal(0), 0)]


def test_the_email_sent_with_the_template_says_how_to_declare_a_month_without_hours(
    awarded: App, settings: Settings
) -> None:
    message = welcome_of(settings, "sophie.lacoste@example.org")
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    assert (
        "Un mois où personne n'a travaillé sur le lot : inscrivez 0 dans « Heures » sur une "
        "ligne de ce mois, sans référence de participant. Un mois dont toutes les lignes "
        "restent vides n'est pas déclaré, et je vous le redemanderai."
    ) in squash(text.get_content())
    assert "inscrivez 0 dans «&nbsp;Heures&nbsp;»" in str(html.get_content())
