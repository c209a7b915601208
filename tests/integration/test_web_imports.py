"""« Importer un tableau » (/imports): the command line's three imports from the dashboard, on
SQLite and PostgreSQL, with the sample files as the tests have them.

A file is first checked in full and shown (a dry run: every table as it was, no receipt queued),
then imported on confirmation. The confirmed import is checked against the application function
the command line calls, run on a twin database with the same clock: after both, every table of
the two databases holds the same rows (history, declarations, receipts…), the signed-in user as
the actor. A refused file shows the file, the line and the column of each error (422) and
changes nothing; so does a file over the page's size limit (413), a POST without the session's
CSRF token (403) and one without a session.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from tests.conftest import PG_ENV, Clock, _empty_postgres, make_settings
from tests.integration.test_declaration_files import sample_xlsx
from tests.integration.test_declarations import NOVEMBER, start_sample
from tests.text import visible
from workflow.adapters.db import make_engine, normalise_url, upgrade
from workflow.adapters.orm import (
    Base,
    Clause,
    ClauseHistory,
    Declaration,
    OutboxMessage,
    Outcome,
    ServiceSecret,
)
from workflow.app import imports as commands
from workflow.app import web_accounts
from workflow.bootstrap import App, bootstrap
from workflow.entrypoints.web import imports as import_pages
from workflow.entrypoints.web.site import create_site
from workflow.errors import FileRefused

DATA = Path(__file__).resolve().parent.parent / "data"
LOTS = DATA / "lots-excel-fr.csv"
DECLARATION = DATA / "declaration-excel-fr.csv"
OUTCOMES = DATA / "outcomes-excel-fr.csv"

#: The signed-in user: not the facilitator of the settings, so a defaulted actor would show.
USER = "Léa Roux"
PASSWORD = "un mot de passe assez long"
#: What only the web side has (its user and session), and what is drawn at random or dated by
#: the wall clock (the zip entries of a declaration template sent at the award).
WEB_TABLES = {"web_users", "web_sessions", "login_failures", "api_tokens"}
RANDOM = {("outbox", "message_token"), ("outbox_attachments", "content")}


def q(words: str) -> str:
    return f"«\u00a0{words}\u00a0»"


# --- a twin database ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def twin_postgres_url() -> Iterator[str]:
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set")
    base = normalise_url(base)
    name = f"clauses_twin_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def twin(
    request: pytest.FixtureRequest, tmp_path: Path, database_url: str, clock: Clock
) -> Iterator[App]:
    """A second database of the same backend, empty as the first, on the same clock."""
    folder = tmp_path / "twin"
    folder.mkdir()
    if database_url.startswith("sqlite"):
        shutil.copy(request.getfixturevalue("sqlite_template"), folder / "clauses.db")
        url = f"sqlite:///{folder / 'clauses.db'}"
    else:
        url = request.getfixturevalue("twin_postgres_url")
        _empty_postgres(url)
    application = bootstrap(make_settings(folder, url), clock=clock)
    yield application
    application.close()


def dump(app: App) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but the web side's, what is drawn at random left out."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with app.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name in WEB_TABLES:
                continue
            columns = [c for c in table.columns if (table.name, c.name) not in RANDOM]
            rows = conn.execute(select(*columns).order_by(*table.primary_key))
            tables[table.name] = [tuple(row) for row in rows]
    return tables


# --- the site -----------------------------------------------------------------------------------


@pytest.fixture
def site(app: App) -> TestClient:
    web_accounts.add_user(app, login="lea", name=USER, password=PASSWORD)
    return TestClient(create_site(app))


def sign_in(client: TestClient) -> str:
    """Signs Léa in; the CSRF token of her forms."""
    page = client.get("/connexion").text
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token is not None
    done = client.post(
        "/connexion",
        data={"csrf": token.group(1), "identifiant": "lea", "mot_de_passe": PASSWORD},
        follow_redirects=False,
    )
    assert done.status_code == 303, visible(done.text)
    return hidden(client.get("/imports").text)["csrf"]


def hidden(page: str) -> dict[str, str]:
    """The hidden fields of a page's forms (the last one of a name wins)."""
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))


def send(
    client: TestClient,
    kind: str,
    path: Path,
    csrf: str,
    *,
    name: str | None = None,
    content: bytes | None = None,
    **options: str,
) -> Any:
    """The first step: the file sent from the form of ``kind``."""
    data = path.read_bytes() if content is None else content
    return client.post(
        f"/imports/{kind}",
        data={"csrf": csrf, **options},
        files={"fichier": (name or path.name, data, "text/csv")},
    )


def confirm(client: TestClient, kind: str, preview: str) -> Any:
    """The second step: the preview page's confirmation form, sent as it is."""
    fields = re.search(
        rf'<form method="post" action="/imports/{kind}/confirmation">(.*?)</form>', preview, re.S
    )
    assert fields is not None, visible(preview)
    return client.post(f"/imports/{kind}/confirmation", data=hidden(fields.group(1)))


# --- lots ---------------------------------------------------------------------------------------


def test_the_page_is_behind_the_login_and_offers_the_three_imports(
    app: App, site: TestClient
) -> None:
    assert site.get("/imports", follow_redirects=False).headers["location"].startswith("/connexion")
    before = dump(app)
    anonymous = site.post(
        "/imports/lots",
        data={"csrf": "x"},
        files={"fichier": ("lots.csv", LOTS.read_bytes(), "text/csv")},
        follow_redirects=False,
    )
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/connexion")

    sign_in(site)
    page = site.get("/imports").text
    shown = visible(page)
    assert "<title>Importer un tableau – " in page
    assert '<a href="/imports">Importer un tableau</a>' in site.get("/courriels").text
    for action in ("/imports/lots", "/imports/declarations", "/imports/sorties"):
        assert f'action="{action}" enctype="multipart/form-data"' in page
    assert page.count('type="file"') == 3 and page.count('name="clause"') == 2
    assert page.count('name="remplacer"') == 2
    assert "Lots et paramètres de calcul" in shown and "Sorties de participants" in shown
    assert "En ligne de commande" not in shown and "clauses import" not in shown
    assert "clauses declaration" not in shown
    assert "2\u00a0Mo au plus" in shown
    assert dump(app) == before


def test_lots_are_shown_then_imported_as_the_command_imports_them(
    app: App, site: TestClient, twin: App
) -> None:
    csrf = sign_in(site)
    empty = dump(app)

    preview = send(site, "lots", LOTS, csrf)
    assert preview.status_code == 200, visible(preview.text)
    shown = visible(preview.text)
    assert f"Vérification de {q('lots-excel-fr.csv')}" in shown
    assert "Rien n'est encore enregistré" in shown
    assert (
        "Seront créés\u00a0: 3\u00a0donneurs d'ordre, 3\u00a0opérations, 3\u00a0marchés, "
        "6\u00a0clauses." in shown
    )
    assert "Gros œuvre – maçonnerie 4\u202f725\u00a0h à créer" in shown
    assert "1\u202f200\u00a0h imposées" in shown
    assert "Attention" in shown and "ligne 7\u00a0: 47" in shown
    # The dry run kept nothing, and says what the command's own dry run says.
    assert dump(app) == empty
    dry = commands.import_lots(twin, LOTS, actor=USER, dry_run=True)
    assert dump(twin) == dump(app)
    assert [lot.hours_target for lot in dry.lots] == [4725, 426, 761, 341, 1200, 47]

    done = confirm(site, "lots", preview.text)
    assert done.status_code == 200, visible(done.text)
    shown = visible(done.text)
    assert f"Import de {q('lots-excel-fr.csv')} enregistré" in shown
    assert f"Enregistré par {USER}" in shown
    assert "Créés\u00a0: 3\u00a0donneurs d'ordre" in shown
    with app.transaction() as session:
        # PostgreSQL's sequences moved on during the dry run: the N° are the ones given now.
        created = session.scalars(select(Clause.id).order_by(Clause.id)).all()
    assert len(created) == 6
    assert all(f"n°\u00a0{clause_id} créée" in shown for clause_id in created)

    result = commands.import_lots(twin, LOTS, actor=USER)
    assert result.created == {"buyers": 3, "operations": 3, "markets": 3, "clauses": 6}
    assert dump(app) == dump(twin)
    with app.transaction() as session:
        rows = session.scalars(select(ClauseHistory).order_by(ClauseHistory.id)).all()
        assert [(r.actor, r.to_stage) for r in rows] == [(USER, "identification")] * 6

    # The same file again: nothing to create, nothing to confirm.
    again = send(site, "lots", LOTS, csrf)
    shown = visible(again.text)
    assert "Rien de nouveau\u00a0: les 6\u00a0lots du fichier existent déjà" in shown
    assert "/imports/lots/confirmation" not in again.text
    assert dump(app) == dump(twin)


def mutated_lots() -> bytes:
    """The sample lots with an insertion rate that reads as none, line 3."""
    lines = LOTS.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b";5 %;", b";cinq %;")
    return b"\n".join(lines)


def test_a_refused_file_names_its_lines_and_columns_and_changes_nothing(
    app: App, site: TestClient, twin: App, tmp_path: Path
) -> None:
    csrf = sign_in(site)
    before = dump(app)

    refused = send(site, "lots", LOTS, csrf, name="lots-faux.csv", content=mutated_lots())
    assert refused.status_code == 422
    shown = visible(refused.text)
    # The command's refusal, word for word, for the same file.
    wrong = tmp_path / "lots-faux.csv"
    wrong.write_bytes(mutated_lots())
    with pytest.raises(FileRefused) as caught:
        commands.import_lots(twin, wrong, actor=USER)
    assert caught.value.source == "lots-faux.csv" and caught.value.errors
    assert "Import refusé\u00a0: lots et paramètres de calcul" in shown
    assert f"lots-faux.csv\u00a0: {len(caught.value.errors)}\u00a0erreur" in shown
    for error in caught.value.errors:
        assert error.line == 3
        assert import_pages.nbsp(str(error)) in shown
    assert "ligne 3, colonne " + q("Taux d'insertion") in shown
    assert "Rien n'a été modifié." in shown
    assert dump(app) == before

    # A file of another kind is refused as the command refuses it.
    other = send(site, "lots", DECLARATION, csrf)
    assert other.status_code == 422 and "rien n'a été importé" in visible(other.text)
    # No file chosen.
    nothing = site.post(
        "/imports/lots", data={"csrf": csrf}, files={"fichier": ("", b"", "text/csv")}
    )
    assert nothing.status_code == 422
    assert "Fichier\u00a0: choisissez le fichier à importer." in visible(nothing.text)
    assert dump(app) == before


def test_csrf_size_and_a_damaged_confirmation_change_nothing(
    app: App, site: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    csrf = sign_in(site)
    before = dump(app)

    forged = send(site, "lots", LOTS, "pas-le-bon")
    assert forged.status_code == 403 and "Formulaire périmé" in visible(forged.text)
    preview = send(site, "lots", LOTS, csrf)
    fields = hidden(preview.text)
    no_token = site.post(
        "/imports/lots/confirmation", data={**fields, "csrf": ""}, follow_redirects=False
    )
    assert no_token.status_code == 403
    damaged = site.post(
        "/imports/lots/confirmation", data={**fields, "contenu": fields["contenu"][:-8]}
    )
    assert damaged.status_code == 422
    assert f"Fichier\u00a0: {q('lots-excel-fr.csv')} n'est pas arrivé en entier" in visible(
        damaged.text
    )
    assert site.post("/imports/inconnu", data={"csrf": csrf}).status_code == 404
    garbled = site.post(
        "/imports/lots",
        content=b"csrf=" + csrf.encode(),
        headers={"content-type": "multipart/form-data"},  # no boundary: no form to read
    )
    assert garbled.status_code == 422
    assert "Envoi illisible\u00a0: rien n'a été importé." in visible(garbled.text)
    assert dump(app) == before

    # Over the limit: refused before it is read, politely, whatever the token.
    big = LOTS.read_bytes() * (2_100_000 // len(LOTS.read_bytes()) + 1)
    large = send(site, "lots", LOTS, csrf, content=big)
    assert large.status_code == 413
    shown = visible(large.text)
    assert "Fichier trop volumineux\u00a0: rien n'a été importé." in shown
    assert "au-delà de la limite de 2\u00a0Mo d'un import par cette page" in shown
    assert "découpez-le en plusieurs fichiers" in shown and "clauses import" not in shown
    # A limit the form fits under but the file does not.
    monkeypatch.setattr(import_pages, "UPLOAD_LIMIT", 500)
    small = send(site, "lots", LOTS, csrf)
    assert small.status_code == 413
    assert "Le fichier envoyé fait 1\u00a0ko, au-delà de la limite de 500 octets" in visible(
        small.text
    )
    confirmed = site.post("/imports/lots/confirmation", data=fields)
    assert confirmed.status_code == 413
    assert dump(app) == before


# --- declarations and outcomes ------------------------------------------------------------------


def test_a_declaration_then_outcomes_with_the_commands_options(
    app: App, site: TestClient, twin: App, clock: Clock
) -> None:
    for application in (app, twin):
        # One key signs the companies' links in both, so that their emails read the same.
        with application.transaction() as session:
            session.add(ServiceSecret(name="declaration_links", value="s" * 43, created_at=clock()))
        start_sample(application)
    clock.set(NOVEMBER)
    csrf = sign_in(site)
    before = dump(app)
    assert before == dump(twin)

    preview = send(site, "declarations", DECLARATION, csrf, clause="2026-014/01")
    assert preview.status_code == 200, visible(preview.text)
    shown = visible(preview.text)
    assert f"Clause\u00a0: {q('2026-014/01')}." in shown
    assert "Déclaration d'octobre 2026 de Bâtiments Gascons SARL" in shown
    assert "à enregistrer" in shown
    assert (
        "370,17\u00a0h au total, 3 participants ayant travaillé (1 autre déclaré à 0\u00a0h)."
        in shown
    )
    # The criteria count the 3 who worked, as the line above; the one at 0 h apart.
    assert "Par critère (3)" in shown and "Par modalité (3)" in shown
    assert "Déclarés à 0\u00a0h, hors de ces comptes" in shown
    assert dump(app) == before  # nothing kept: no declaration, no receipt queued
    commands.import_declarations(twin, DECLARATION, clause="2026-014/01", actor=USER, dry_run=True)
    assert dump(twin) == before

    done = confirm(site, "declarations", preview.text)
    assert done.status_code == 200, visible(done.text)
    assert "enregistrée" in visible(done.text)
    commands.import_declarations(twin, DECLARATION, clause="2026-014/01", actor=USER)
    assert dump(app) == dump(twin)
    with app.transaction() as session:
        declaration = session.scalars(select(Declaration)).one()
        assert (declaration.recorded_by, declaration.source) == (
            USER,
            f"fichier {DECLARATION.name}",
        )
        assert str(declaration.total_hours) == "370.17"
        kinds = session.scalars(select(OutboxMessage.kind)).all()
        assert kinds.count("declaration_receipt") == 1

    # Again: refused as the command refuses it, in the page's words; then, asked to replace
    # it by the same lines, nothing changes and no receipt is announced.
    refused = send(site, "declarations", DECLARATION, csrf)
    assert refused.status_code == 422
    shown = visible(refused.text)
    assert "declaration-excel-fr.csv\u00a0:" in shown and "existe déjà" in shown
    assert f"recommencez en cochant {q('Remplacer')}" in shown and "--replace" not in shown
    assert dump(app) == dump(twin)

    replaced = send(site, "declarations", DECLARATION, csrf, remplacer="1")
    shown = visible(replaced.text)
    assert "identique à celle enregistrée le" in shown and "remplacera" not in shown
    assert "aucun accusé de réception ne part" in shown and "recevra son accusé" not in shown
    assert dump(app) == dump(twin)
    commands.import_declarations(twin, DECLARATION, replace=True, actor=USER, dry_run=True)
    shown = visible(confirm(site, "declarations", replaced.text).text)
    assert "identique à celle enregistrée le" in shown and "remplacée" not in shown
    commands.import_declarations(twin, DECLARATION, replace=True, actor=USER)
    assert dump(app) == dump(twin)

    # Outcomes.
    outcomes = send(site, "sorties", OUTCOMES, csrf)
    assert outcomes.status_code == 200, visible(outcomes.text)
    shown = visible(outcomes.text)
    assert (
        "Sorties à enregistrer\u00a0: 3, à corriger\u00a0: 0, déjà enregistrées\u00a0: 0." in shown
    )
    assert "P-0007" in shown and "CDI" in shown
    commands.import_outcomes(twin, OUTCOMES, actor=USER, dry_run=True)
    assert dump(app) == dump(twin)
    recorded = confirm(site, "sorties", outcomes.text)
    assert "Sorties enregistrées\u00a0: 3" in visible(recorded.text)
    commands.import_outcomes(twin, OUTCOMES, actor=USER)
    assert dump(app) == dump(twin)
    with app.transaction() as session:
        assert len(session.scalars(select(Outcome)).all()) == 3


def test_a_workbook_is_read_as_the_csv_it_was_saved_from(
    app: App, site: TestClient, clock: Clock, tmp_path: Path
) -> None:
    start_sample(app)
    clock.set(NOVEMBER)
    csrf = sign_in(site)
    before = dump(app)
    workbook = sample_xlsx(tmp_path / "declaration.xlsx")

    unknown = send(site, "declarations", workbook, csrf, clause="2099-999/01", remplacer="1")
    assert unknown.status_code == 422
    shown = visible(unknown.text)
    assert "declaration.xlsx\u00a0: rien n'a été importé." in shown
    assert f"Clause {q('2099-999/01')} introuvable" in shown
    # What was typed is offered again.
    assert 'name="clause" value="2099-999/01"' in unknown.text
    assert 'id="remplacer-declarations" name="remplacer" value="1" checked' in unknown.text
    assert dump(app) == before

    preview = send(site, "declarations", workbook, csrf)
    assert preview.status_code == 200, visible(preview.text)
    shown = visible(preview.text)
    assert f"Vérification de {q('declaration.xlsx')}" in shown
    assert (
        "370,17\u00a0h au total, 3 participants ayant travaillé (1 autre déclaré à 0\u00a0h)."
        in shown
    )
    assert dump(app) == before
    done = confirm(site, "declarations", preview.text)
    assert done.status_code == 200, visible(done.text)
    with app.transaction() as session:
        declaration = session.scalars(select(Declaration)).one()
        assert (declaration.recorded_by, str(declaration.total_hours)) == (USER, "370.17")


def test_a_file_near_the_limit_comes_back_whole_with_its_confirmation(
    app: App, site: TestClient
) -> None:
    """1.5 MB: under the page's 2 MB, but its base64 (2 MB) is longer than Starlette's own
    bound on one form field (1 MB), which made every such confirmation « illisible »."""
    csrf = sign_in(site)
    before = dump(app)
    rows = LOTS.read_bytes()
    content = rows * (1_500_000 // len(rows) + 1)
    assert 1_500_000 < len(content) < 2_000_000
    fields = {
        "csrf": csrf,
        "nom": "grand-fichier.csv",
        "contenu": base64.urlsafe_b64encode(content).decode(),
        "empreinte": hashlib.sha256(content).hexdigest(),
    }
    answer = site.post("/imports/lots/confirmation", data=fields)
    shown = visible(answer.text)
    # Read whole, and refused for what it holds (the sample's rows repeated), not as cut short.
    assert "Envoi illisible" not in shown and "pas arrivé en entier" not in shown
    assert answer.status_code == 422 and "grand-fichier.csv" in shown
    assert "rien n'a été importé" in shown
    assert dump(app) == before
