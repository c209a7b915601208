"""Hours refused say the same words on the web declaration form and in a file's import (user
trial: « n'est pas un nombre. » on one, « n'est pas un nombre d'heures (exemple : 151,67) » on
the other); hours and minutes whose figure is plain (« 12h30 ») are given back as that figure;
hours out of bounds are written with French thousands (« 1 200 h », never « 1200 h »)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from tests.integration.test_declaration_howto import lot_01
from tests.integration.test_declarations import edit, refused, started, write
from tests.integration.test_online_declaration import (
    call_link,
    called,
    declarations,
    form,
)
from tests.text import visible
from workflow.bootstrap import App
from workflow.entrypoints.web.site import create_site

__all__ = ["called", "started"]

Q = "«\u00a0{}\u00a0»"
THOUSAND = "1\u202f200"

#: (typed, what the line says after « heures : »)
TYPED = [
    ("12h30", Q.format("12h30") + " n'est pas un nombre d'heures : vouliez-vous dire 12,5 ?"),
    ("12:30", Q.format("12:30") + " n'est pas un nombre d'heures : vouliez-vous dire 12,5 ?"),
    ("12h20", Q.format("12h20") + " n'est pas un nombre d'heures (exemple : 151,67)."),
    ("beaucoup", Q.format("beaucoup") + " n'est pas un nombre d'heures (exemple : 151,67)."),
    ("1 200", f"{THOUSAND} h hors limites : entre 0 et 250 h par mois."),
]


def test_the_web_form_says_the_import_s_words(called: App) -> None:
    clause_id, holder_id, _ = lot_01(called)
    path = call_link(called, clause_id, holder_id)
    client = TestClient(create_site(called))
    lines = {
        "reference": [f"P-H-{n}" for n in range(len(TYPED))],
        "hours": [typed for typed, _ in TYPED],
        "contract": ["cdd"] * len(TYPED),
        "mode": ["direct_hiring"] * len(TYPED),
        "criterion": ["long_term_jobseeker"] * len(TYPED),
    }
    page = client.post(path, data=form(lines, "verifier"))
    assert page.status_code == 422
    text = visible(page.text)
    for number, (_, words) in enumerate(TYPED, start=1):
        assert f"ligne {number}, heures : {words}" in text, (words, text)
    # « 35 h » reads on the form as in a file.
    lines = {key: values[:1] for key, values in lines.items()} | {"hours": ["35 h"]}
    assert client.post(path, data=form(lines, "verifier")).status_code == 200
    assert declarations(called, clause_id, holder_id) == []


def test_a_file_says_the_same_words(started: App, tmp_path: Path) -> None:
    for typed, words in TYPED:
        message = refused(started, write(tmp_path, edit(2, 9, typed)))
        assert f"ligne 2, colonne {Q.format('Heures')} : {words}" in message, message
