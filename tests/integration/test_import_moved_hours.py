"""An import that moves a person's hours from one month to another says what the file did as a
whole: an outcome that stops counting and counts again within the same file is in neither list.

On the sample territory (lot 01 of the middle school), on SQLite and PostgreSQL: October 2026
declared on 5 November with P-0007 and P-0012, P-0007's CDI recorded on the 10th. On 3 December
one file, « --replace », gives October without P-0007 then November with P-0007 (the hours were
typed in the wrong month). Month by month, October alone took the CDI out and November put it
back: the facilitator read « … n'est plus comptée » then « … est de nouveau comptée » for a CDI
that counted before and after. Now neither the command (text and ``--json``), nor the import
page (its verification and its result), nor the history rows say anything of the CDI; the annual
report counts it all along. A file that really takes the CDI out says it once, on the month
that did it, in the message and in its history row alike.
"""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration.test_corrected_outcomes import GONE, october_with_the_cdi, outcome_figures
from tests.integration.test_outcomes_audit_and_cancel import (
    DECEMBER_3,
    declaration_file,
    listed,
    run_cli,
    sample,  # noqa: F401 (fixture)
)
from tests.integration.test_web_imports import (
    confirm,
    send,
    sign_in,
    site,  # noqa: F401 (fixture)
)
from tests.text import visible
from workflow.adapters.orm import ClauseHistory
from workflow.app.audit import verify_database
from workflow.bootstrap import App
from workflow.settings import Settings

#: What the import must not say of a CDI that counts before and after the file.
MOVED_WORDS = ("n'est plus comptée", "est de nouveau comptée", "sortie (P-0007")


def two_months(tmp_path: Path, october: dict[str, str], november: dict[str, str]) -> Path:
    """One file with October's lines then November's, as the sample's holder sends them."""
    first = declaration_file(tmp_path, "10/2026", october).read_bytes().decode("cp1252")
    second = declaration_file(tmp_path, "11/2026", november).read_bytes().decode("cp1252")
    header, *rows = [line for line in first.split("\r\n") if line]
    rows += [line for line in second.split("\r\n")[1:] if line]
    path = tmp_path / "declarations-octobre-novembre.csv"
    path.write_bytes("\r\n".join([header, *rows, ""]).encode("cp1252"))
    return path


def moved(tmp_path: Path) -> Path:
    return two_months(tmp_path, {"P-0012": "98,5"}, {"P-0007": "151,67"})


def declaration_rows(app: App) -> list[str]:
    with app.transaction() as session:
        return [
            (reason or "").replace("\u00a0", " ")
            for reason in session.scalars(
                select(ClauseHistory.reason)
                .where(ClauseHistory.event == "declaration")
                .order_by(ClauseHistory.id)
            )
        ]


def figures(app: App) -> tuple[int, dict[str, int], list[int]]:
    total, types, *sums = outcome_figures(app)
    return total, types, sums


WITH_THE_CDI = (1, {"cdi": 1}, [1, 1])


def test_the_command_says_nothing_of_an_outcome_the_file_only_moved(
    sample: App,  # noqa: F811
    settings: Settings,
    clock: Clock,
    tmp_path: Path,
) -> None:
    october_with_the_cdi(sample, settings, clock, tmp_path)
    clock.set(DECEMBER_3)
    before = len(declaration_rows(sample))

    said = run_cli(
        settings,
        clock,
        "declaration",
        "import",
        str(moved(tmp_path)),
        "--replace",
        "--reason",
        "Erreur de saisie",
    )

    assert "Déclaration d'octobre 2026 remplacée" in said, said
    assert "Déclaration de novembre 2026 enregistrée" in said, said
    for words in MOVED_WORDS:
        assert words not in said, said
    october, november = declaration_rows(sample)[before:]
    assert october.endswith("98,50 h (remplace 250,17 h, motif : Erreur de saisie)"), october
    assert november.endswith(": 151,67 h"), november
    assert listed(sample) == {"P-0007": (True, None)}
    assert figures(sample) == WITH_THE_CDI
    assert verify_database(sample).findings == ()


def test_the_json_lists_neither_and_a_real_loss_is_said_once_by_its_month(
    sample: App,  # noqa: F811
    settings: Settings,
    clock: Clock,
    tmp_path: Path,
) -> None:
    october_with_the_cdi(sample, settings, clock, tmp_path)
    clock.set(DECEMBER_3)

    text = run_cli(
        settings,
        clock,
        "declaration",
        "import",
        str(moved(tmp_path)),
        "--replace",
        "--reason",
        "Erreur de saisie",
        "--json",
    )

    for declared in json.loads(text)["declarations"]:
        assert declared["sorties_non_comptees"] == [], declared
        assert declared["sorties_de_nouveau_comptees"] == [], declared
        assert declared["sorties_message"] is None, declared

    # November then taken back to P-0012 only, and October left without P-0007: the CDI
    # stops counting, said by November's line, the month that took P-0007's last hours.
    before = len(declaration_rows(sample))
    path = two_months(tmp_path, {"P-0012": "98,5"}, {"P-0012": "20"})
    said = run_cli(
        settings,
        clock,
        "declaration",
        "import",
        str(path),
        "--replace",
        "--reason",
        "Erreur de saisie",
        "--json",
    )
    october, november = json.loads(said)["declarations"]
    assert october["sorties_message"] is None
    assert november["sorties_message"] == GONE
    rows = declaration_rows(sample)[before:]
    assert len(rows) == 1 and rows[0].endswith(
        f"(remplace 151,67 h, motif : Erreur de saisie) – {GONE}"
    ), rows


def test_the_import_page_says_nothing_of_an_outcome_the_file_only_moved(
    sample: App,  # noqa: F811
    site: TestClient,  # noqa: F811
    settings: Settings,
    clock: Clock,
    tmp_path: Path,
) -> None:
    october_with_the_cdi(sample, settings, clock, tmp_path)
    clock.set(DECEMBER_3)
    csrf = sign_in(site)
    before = len(declaration_rows(sample))

    preview = send(
        site, "declarations", moved(tmp_path), csrf, remplacer="1", motif="Erreur de saisie"
    )
    assert preview.status_code == 200, visible(preview.text)
    checked = visible(preview.text)
    done = visible(confirm(site, "declarations", preview.text).text)

    assert "remplacera celle déjà enregistrée" in checked, checked
    assert "remplacée" in done, done
    for page in (checked, done):
        for words in MOVED_WORDS:
            assert words not in page, page
    for row in declaration_rows(sample)[before:]:
        assert " – " not in row, row
    assert figures(sample) == WITH_THE_CDI
