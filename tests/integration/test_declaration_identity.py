"""The declaration import's optional "Sexe" and "Année de naissance" columns, on SQLite and
PostgreSQL: they fill what is missing, never overwrite, and a contradiction refuses the file."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from tests.conftest import Clock
from tests.integration.test_declarations import (
    DATA,
    NOVEMBER,
    declarations,
    import_file,
    refused,
    refused_on_the_web,
    sample_text,
    start_sample,
    write,
)
from tests.integration.test_declarations import edit as edit_sample
from workflow.adapters.orm import Participant
from workflow.bootstrap import App
from workflow.domain.vocabulary import Criterion, Sex
from workflow.services.participants import create_participant, update_participant
from workflow.services.summaries import ParticipantCount, compile_summary

#: Lot 01 of the middle school: P-0101 (new) in September without sex or birth year, then in
#: October with both; P-0007 and P-0012 (known from the sample) agreeing; P-0102 new.
WITH_IDENTITY = DATA / "declaration-sexe-naissance-excel-fr.csv"
SEX, BIRTH_YEAR = 10, 11  # column indexes


@pytest.fixture
def started(app: App, clock: Clock) -> App:
    """The sample territory in execution since March 2026 (its six participants complete)."""
    handlers, app.handlers = app.handlers, {}
    start_sample(app)
    app.handlers = handlers
    clock.set(NOVEMBER)
    return app


def identities(app: App) -> dict[str, tuple[str | None, int | None]]:
    with app.transaction() as session:
        return {p.reference: (p.sex, p.birth_year) for p in session.scalars(select(Participant))}


def fixture_text() -> str:
    return WITH_IDENTITY.read_bytes().decode("cp1252")


def edit(line: int, column: int, value: str, text: str | None = None) -> str:
    """Change one cell of the fixture (the header is line 1)."""
    lines = (text or fixture_text()).split("\r\n")
    cells = lines[line - 1].split(";")
    cells[column] = value
    lines[line - 1] = ";".join(cells)
    return "\r\n".join(lines)


def add_participant(app: App, reference: str, sex: Sex | None = None) -> None:
    with app.transaction() as session:
        create_participant(
            session, reference=reference, criterion=Criterion.QPV_RESIDENT, now=NOVEMBER, sex=sex
        )


def test_it_gives_new_participants_the_sex_and_birth_year_of_the_file(started: App) -> None:
    result = import_file(started, WITH_IDENTITY)

    september, october = result.declarations
    assert september.new_participants == ("P-0101",)
    assert october.new_participants == ("P-0102",)
    assert (september.completed_participants, october.completed_participants) == ((), ())
    people = identities(started)
    # P-0101's September line has neither: the October line's values are the participant's.
    assert people["P-0101"] == ("F", 1998)
    assert people["P-0102"] == ("M", 2006)
    assert (people["P-0007"], people["P-0012"]) == (("M", 1979), ("F", 1988))


def test_it_completes_a_known_participant_only_where_nothing_is_recorded(
    started: App, tmp_path: Path
) -> None:
    add_participant(started, "P-0101")
    add_participant(started, "P-0102", sex=Sex.FEMALE)
    text = edit(6, SEX, "")  # the file says nothing of P-0102's sex

    result = import_file(started, write(tmp_path, text))

    september, october = result.declarations
    assert september.completed_participants == ("P-0101",)
    assert october.completed_participants == ("P-0102",)
    assert october.new_participants == ()
    people = identities(started)
    assert people["P-0101"] == ("F", 1998)
    assert people["P-0102"] == ("F", 2006)
    assert people["P-0012"] == ("F", 1988)  # the file's empty birth year leaves it


def test_it_imports_the_shared_sample_without_these_columns_as_before(started: App) -> None:
    before = identities(started)

    result = import_file(started)

    assert result.declarations[0].completed_participants == ()
    assert identities(started) == before


#: (what is wrong, the file, what the refusal must say)
CONTRADICTIONS = [
    (
        "sex recorded otherwise",
        edit(3, SEX, "F"),
        "ligne 3, colonne « Sexe » : participant « P-0007 » enregistré avec sexe M, le fichier "
        "indique F : corrigez le fichier, ou d'abord le participant (clauses participant set "
        "P-0007 --sex F).",
    ),
    (
        "birth year recorded otherwise",
        edit(4, BIRTH_YEAR, "1990"),
        "ligne 4, colonne « Année de naissance » : participant « P-0012 » enregistré avec année "
        "de naissance 1988, le fichier indique 1990",
    ),
    (
        "two lines of the file disagree",
        edit(2, BIRTH_YEAR, "1997"),
        "ligne 5, colonne « Année de naissance » : participant « P-0101 » : année de naissance "
        "1998 ici mais 1997 ligne 2.",
    ),
    (
        "sex neither F nor M",
        edit(5, SEX, "X"),
        "ligne 5, colonne « Sexe » : « X » : indiquez F ou M (Femme, Homme ou H sont compris).",
    ),
    (
        "birth year on two digits",
        edit(6, BIRTH_YEAR, "06"),
        "ligne 6, colonne « Année de naissance » : « 06 » : indiquez l'année sur 4 chiffres",
    ),
    (
        "birth year of a child",
        edit(6, BIRTH_YEAR, "2015"),
        "ligne 6, colonne « Année de naissance » : « 2015 » : année de naissance 2015 "
        "impossible : entre 1900 et 2012 (au moins 14 ans cette année).",
    ),
]


def test_it_refuses_each_contradiction_whole_naming_line_and_column(
    started: App, tmp_path: Path
) -> None:
    before = identities(started)
    missed = []
    for what, text, expected in CONTRADICTIONS:
        message = refused(started, write(tmp_path, text))
        if expected not in message or "rien n'a été importé" not in message:
            missed.append((what, message))

    assert missed == []
    assert declarations(started) == []
    assert identities(started) == before  # no participant created or completed
    # On the web, the participant is corrected from its page, not by a command.
    web = refused_on_the_web(started, write(tmp_path, CONTRADICTIONS[0][1]))
    assert "ou d'abord le participant (sa fiche, depuis la recherche de la page" in web
    assert "clauses participant set" not in web


def test_it_reports_a_contradiction_once_with_the_other_errors(
    started: App, tmp_path: Path
) -> None:
    add_participant(started, "P-0102", sex=Sex.FEMALE)
    text = edit(5, BIRTH_YEAR, "1899", edit(3, SEX, "Femme"))

    message = refused(started, write(tmp_path, text))

    assert message.startswith("declaration.csv : 3 erreurs, rien n'a été importé.")
    assert message.index("ligne 3") < message.index("ligne 5") < message.index("ligne 6")
    assert "participant « P-0102 » enregistré avec sexe F, le fichier indique M" in message
    with started.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Participant)) == 7


def test_it_reads_the_columns_under_other_headers(started: App, tmp_path: Path) -> None:
    text = fixture_text().replace(";Sexe;Année de naissance", ";SEXE (F/H);Naissance", 1)

    import_file(started, write(tmp_path, text))

    assert identities(started)["P-0102"] == ("M", 2006)


def test_the_summary_counts_by_sex_and_age_once_the_participant_is_completed(
    started: App, tmp_path: Path
) -> None:
    # The shared sample without the two columns, P-0031's line given to a new participant.
    text = edit_sample(4, 6, "QPV", edit_sample(4, 5, "P-0099", sample_text()))
    import_file(started, write(tmp_path, text))

    def active(counts: tuple[ParticipantCount, ...]) -> dict[str, int]:
        return {c.code: c.active for c in counts if c.active}

    def october() -> tuple[dict[str, int], dict[str, int]]:
        with started.transaction() as session:
            overall = compile_summary(
                session, date(2026, 10, 1), now=NOVEMBER, zone=ZoneInfo("Europe/Paris")
            ).overall
        return active(overall.by_sex), active(overall.by_age_band)

    before = october()
    with started.transaction() as session:
        update_participant(
            session, "P-0099", sex=Sex.FEMALE, birth_year=2004, now=NOVEMBER, zone=ZoneInfo("UTC")
        )
    after = october()

    assert before[0]["unknown"] == 1 and before[1]["unknown"] == 1
    assert "unknown" not in after[0] and "unknown" not in after[1]
    assert after[0]["F"] == before[0].get("F", 0) + 1
    assert after[1]["under_26"] == before[1].get("under_26", 0) + 1
