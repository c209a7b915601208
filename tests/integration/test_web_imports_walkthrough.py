"""« Importer un tableau », as a facilitator reads it: a renamed column refused once as missing,
no command line shown, and a month to replace shown with the figures it replaces."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import Clock
from tests.e2e.test_cli_lots_columns import LABOUR, renamed
from tests.integration.test_declarations import NOVEMBER, start_sample
from tests.integration.test_web_imports import (  # noqa: F401 (fixtures)
    DECLARATION,
    LOTS,
    PASSWORD,
    USER,
    confirm,
    dump,
    q,
    send,
    sign_in,
    twin,
    twin_postgres_url,
)
from tests.text import visible
from workflow.adapters.orm import ClauseHistory, Declaration
from workflow.app import imports as commands
from workflow.app import web_accounts
from workflow.app.declarations import validate_declaration
from workflow.bootstrap import App
from workflow.entrypoints.web import imports as import_pages
from workflow.entrypoints.web.site import create_site
from workflow.errors import FileRefused

BUYER_TITLE = "Donneur d'ordre"
RATE_TITLE = "Taux d'insertion"
LATER = datetime(2026, 11, 12, 14, 30, tzinfo=UTC)
OCTOBER = date(2026, 10, 1)


@pytest.fixture
def web(app: App) -> TestClient:
    """The site with Léa's account, as ``test_web_imports`` has it."""
    web_accounts.add_user(app, login="lea", name=USER, password=PASSWORD)
    return TestClient(create_site(app))


def test_a_renamed_column_is_one_refusal_naming_it_and_the_titles_found(
    app: App,
    web: TestClient,
    twin: App,  # noqa: F811
    tmp_path: Path,
) -> None:
    csrf = sign_in(web)
    before = dump(app)
    path = renamed(tmp_path, b"Zorglub")

    refused = send(web, "lots", path, csrf)

    assert refused.status_code == 422
    shown = visible(refused.text)
    assert "lots-renommes.csv\u00a0: 1\u00a0erreur, rien n'a été importé." in shown
    assert (
        f"ligne 1, colonne {q(LABOUR.decode('cp1252'))}\u00a0: colonne manquante. Colonnes "
        f"trouvées\u00a0: {q('Opération')}, {q(BUYER_TITLE)}," in shown
    )
    assert f"{q('Zorglub')}, {q(RATE_TITLE)}" in shown
    assert "valeur manquante" not in shown
    # The command's refusal, word for word.
    with pytest.raises(FileRefused) as caught:
        commands.import_lots(twin, path, actor=USER)
    assert [import_pages.nbsp(str(e)) in shown for e in caught.value.errors] == [True]
    assert dump(app) == before

    # An accepted synonym goes through to the preview.
    synonym = send(web, "lots", renamed(tmp_path, b"Part MO", "lots-mo.csv"), csrf)
    assert synonym.status_code == 200, visible(synonym.text)
    assert "6\u00a0clauses." in visible(synonym.text)
    assert dump(app) == before


def test_no_command_line_is_shown_to_the_facilitator(app: App, web: TestClient) -> None:
    csrf = sign_in(web)
    page = visible(web.get("/imports").text)
    preview = send(web, "lots", LOTS, csrf)
    done = confirm(web, "lots", preview.text)

    assert done.status_code == 200
    confirmed = visible(done.text)
    assert f"Enregistré par {USER}, et inscrit à l'historique de chaque clause concernée." in (
        confirmed
    )
    for shown in (page, visible(preview.text), confirmed):
        assert "ligne de commande" not in shown
        assert "clauses import" not in shown and "clauses declaration" not in shown
    with app.transaction() as session:
        actors = session.scalars(select(ClauseHistory.actor)).all()
    assert actors == [USER] * 6


def test_a_month_to_replace_shows_what_is_recorded_now(
    app: App, web: TestClient, clock: Clock, tmp_path: Path
) -> None:
    start_sample(app)
    clock.set(NOVEMBER)
    csrf = sign_in(web)
    first = confirm(web, "declarations", send(web, "declarations", DECLARATION, csrf).text)
    assert first.status_code == 200, visible(first.text)
    validate_declaration(
        app, clause="2026-014/01", company="41234567800012", month=OCTOBER, actor="Marc Petit"
    )
    clock.set(LATER)
    csrf = sign_in(web)  # a week later: her session has lapsed
    corrected = tmp_path / "declaration-corrigee.csv"
    lines = DECLARATION.read_bytes().split(b"\n")
    corrected.write_bytes(b"\n".join(line for line in lines if b"P-0040" not in line))

    refused = send(web, "declarations", corrected, csrf)
    assert refused.status_code == 422, visible(refused.text)
    assert "enregistrée le 5 novembre 2026, 370,17\u00a0h" in visible(refused.text)

    before = dump(app)
    preview = send(web, "declarations", corrected, csrf, remplacer="1", motif="Erreur de saisie")
    assert preview.status_code == 200, visible(preview.text)
    shown = visible(preview.text)
    assert "remplacera celle déjà enregistrée" in shown
    # Paris time: 9:00 UTC is 10 h, 13:00 UTC (validated the moment the clock read) 14 h.
    assert (
        "Déjà enregistrée\u00a0: 370,17\u00a0h au total, 4\u00a0participants, le 5 novembre "
        f"2026 à 10\u00a0h\u00a000 par {USER}\u00a0; validée le 5 novembre 2026 à "
        "10\u00a0h\u00a000 par Marc Petit, validation qui sera levée." in shown
    )
    assert "Après l'import\u00a0: 370,17\u00a0h au total, 3 participants." in shown
    assert dump(app) == before  # the preview read, it wrote nothing

    dry = commands.import_declarations(
        app, corrected, replace=True, actor=USER, dry_run=True, reason="Erreur de saisie"
    )
    (summary,) = dry.declarations
    recorded = dry.replacing[summary.declaration_id]
    assert (str(recorded.total_hours), recorded.lines, recorded.recorded_by) == (
        "370.17",
        4,
        USER,
    )
    assert recorded.validated_by == "Marc Petit"
    assert (
        commands.import_declarations(
            app, corrected, replace=True, actor=USER, reason="Erreur de saisie"
        ).replacing
        == {}
    )

    with app.transaction() as session:
        declaration = session.scalars(select(Declaration)).one()
        assert (len(declaration.lines), declaration.validated_at) == (3, None)
