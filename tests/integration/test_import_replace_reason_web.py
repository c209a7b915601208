"""« Importer un tableau » asks, as ``declaration import --replace --reason`` does, the motif of
a declaration file that corrects a month recorded before.

On the sample territory (lot 01 of the middle school), on SQLite and PostgreSQL: October 2026
imported from the page on 5 November (4 participants, 370,17 h). On 12 November a file that
changes the month, sent with « Remplacer » but no « Motif de la correction », is refused (422)
in the page's words, the month, company and clause named, nothing changed, what was typed
offered again. With a motif, the verification shows it, the confirmation carries it, the result
says what the month replaced and the history row keeps the motif.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration.test_declarations import (
    DECLARATION,
    NOVEMBER,
    edit,
    ids,
    start_sample,
    write,
)
from tests.integration.test_web_imports import (
    confirm,
    dump,
    hidden,
    send,
    sign_in,
    site,  # noqa: F401 (fixture)
)
from tests.text import visible
from workflow.adapters.orm import ClauseHistory
from workflow.app.audit import verify_database
from workflow.bootstrap import App
from workflow.entrypoints.web.imports import page_words

NOVEMBER_12 = datetime(2026, 11, 12, 10, 0, tzinfo=UTC)
REASON = "Heures de P-0007 mal reportées (voir le courriel de l'entreprise)"
KEPT = "Heures de P-0007 mal reportées [voir le courriel de l'entreprise]"


def plain(page: str) -> str:
    return visible(page).replace("\u00a0", " ")


def confirmed(client: TestClient, preview: str) -> Any:
    """The verification's confirmation form sent as a browser sends it (its values read)."""
    form = re.search(
        r'<form method="post" action="/imports/declarations/confirmation">(.*?)</form>',
        preview,
        re.S,
    )
    assert form is not None, visible(preview)
    fields = {name: html.unescape(value) for name, value in hidden(form.group(1)).items()}
    return client.post("/imports/declarations/confirmation", data=fields)


def declared_in_november(app: App, site: TestClient, clock: Clock) -> str:  # noqa: F811
    """October imported from the page on 5 November; Léa's CSRF token on 12 November."""
    start_sample(app)
    clock.set(NOVEMBER)
    csrf = sign_in(site)
    preview = send(site, "declarations", DECLARATION, csrf)
    assert preview.status_code == 200, visible(preview.text)
    assert confirm(site, "declarations", preview.text).status_code == 200
    clock.set(NOVEMBER_12)
    return sign_in(site)  # a week later: signed in again


def test_the_page_offers_the_motif_for_declarations_only(
    app: App,
    site: TestClient,  # noqa: F811
) -> None:
    sign_in(site)
    page = site.get("/imports").text
    assert page.count('name="motif"') == 1
    assert 'id="motif-declarations" name="motif" type="text"' in page
    assert "Motif de la correction" in plain(page)


def test_a_correction_without_a_motif_is_refused_in_the_page_words(
    app: App,
    site: TestClient,  # noqa: F811
    clock: Clock,
    tmp_path: Path,
) -> None:
    csrf = declared_in_november(app, site, clock)
    clause_id, _ = ids(app)
    before = dump(app)
    changed = write(tmp_path, edit(2, 9, "100"))

    refused = send(site, "declarations", changed, csrf, remplacer="1")

    shown = plain(refused.text)
    assert refused.status_code == 422, shown
    assert "declaration.csv : 1 erreur, rien n'a été importé." in shown, shown
    assert (
        f"ligne 2 : la déclaration d'octobre 2026 de Bâtiments Gascons SARL pour la clause "
        f"n° {clause_id} "
    ) in shown, shown
    assert (
        "enregistrée le 5 novembre 2026 (370,17 h, 4 participants), serait corrigée par le "
        "fichier sans motif : indiquez-le dans le champ « Motif de la correction » (gardé à "
        "l'historique de chaque déclaration remplacée)."
    ) in shown, shown
    assert "--reason" not in shown and "--replace" not in shown
    assert dump(app) == before
    # What was typed is offered again, the motif field empty as it was sent.
    assert 'id="remplacer-declarations" name="remplacer" value="1" checked' in refused.text
    assert 'id="motif-declarations" name="motif" type="text" value=""' in refused.text


def test_with_a_motif_the_result_says_what_was_replaced_and_the_history_keeps_it(
    app: App,
    site: TestClient,  # noqa: F811
    clock: Clock,
    tmp_path: Path,
) -> None:
    csrf = declared_in_november(app, site, clock)
    changed = write(tmp_path, edit(2, 9, "100"))

    preview = send(site, "declarations", changed, csrf, remplacer="1", motif=REASON)

    assert preview.status_code == 200, visible(preview.text)
    checked = plain(preview.text)
    assert "remplacera celle déjà enregistrée" in checked, checked
    assert f"Motif de la correction : {KEPT}" in checked, checked
    done = confirmed(site, preview.text)
    assert done.status_code == 200, visible(done.text)
    shown = plain(done.text)
    assert (
        f"Remplace la déclaration du 5 novembre 2026 : 370,17 h, 4 participants. Motif : {KEPT}"
    ) in shown, shown
    with app.transaction() as session:
        reason = session.scalars(
            select(ClauseHistory.reason)
            .where(ClauseHistory.event == "declaration")
            .order_by(ClauseHistory.id.desc())
        ).first()
    assert f"(remplace 370,17 h, motif : {KEPT})" in (reason or "").replace("\u00a0", " ")
    assert verify_database(app).findings == ()


def test_the_same_file_again_needs_no_motif(
    app: App,
    site: TestClient,  # noqa: F811
    clock: Clock,
) -> None:
    csrf = declared_in_november(app, site, clock)

    again = send(site, "declarations", DECLARATION, csrf, remplacer="1")

    assert again.status_code == 200, visible(again.text)
    assert "identique à celle enregistrée le" in plain(again.text)


def test_a_month_already_declared_is_to_be_replaced_with_a_motif_in_the_page_words() -> None:
    """The command's « recommencez avec --replace et, si vous la modifiez, --reason « motif » »
    reads on the page as its box and its field."""
    said = (
        "La déclaration d'octobre 2026 de Bâtiments Gascons SARL pour la clause n° 1 existe déjà "
        "(enregistrée le 5 novembre 2026, 370,17 h). Pour la corriger, recommencez avec "
        "--replace et, si vous la modifiez, --reason « motif » : ses lignes seront remplacées, "
        "le motif gardé à l'historique."
    )

    shown = page_words(said).replace("\u00a0", " ")

    assert (
        "Pour la corriger, recommencez en cochant « Remplacer » et, si vous la modifiez, en "
        "indiquant le « Motif de la correction » : ses lignes seront remplacées, le motif gardé "
        "à l'historique."
    ) in shown, shown
    assert "--" not in shown
