"""Random values for the command line's N°, numbers, dates, months and texts. Each command either
does its job (exit 0) or stops with exit code 1 (refused) or 2 (malformed), a French message that
names the parameter or the object, nothing of Python, and the database unchanged."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.property.conftest import NOVEMBER, examples
from tests.property.french import assert_no_python, assert_refused_in_french
from tests.property.world import world

#: Values that broke or nearly broke a command: past an INTEGER column, negative, other digits,
#: control characters, a byte that is not UTF-8 (as Python reads it from the command line).
EDGE_VALUES = [
    "99999999999999999999999",
    "2147483648",
    "2147483647",
    "-2147483649",
    "-1",
    "0",
    "1e3",
    "0x10",
    "1_000",
    "\u0661\u0662",
    "",
    " ",
    "1 ",
    "\x00",
    "\x1b[31m",
    "sur\udcffrogate",
    "<script>",
    "'; DROP TABLE clauses; --",
]
numbers = st.one_of(
    st.sampled_from(EDGE_VALUES),
    st.integers(-(10**25), 10**25).map(str),
    st.integers(0, 12).map(str),
    st.text(max_size=12),
)
DATE_EDGES = [
    "31/02/2026",
    "29/02/2027",
    "00/00/0000",
    "01/01/0001",
    "31/12/9999",
    "1/1/1",
    "2026-13-01",
    "aujourd'hui",
    "15/10/2026",
]
days = st.one_of(
    st.sampled_from(DATE_EDGES),
    st.dates(date(1, 1, 1), date(9999, 12, 31)).map(
        lambda d: f"{d.day:02d}/{d.month:02d}/{d.year:04d}"
    ),
    st.dates(date(1, 1, 1), date(9999, 12, 31)).map(date.isoformat),
    st.text(max_size=12),
)
months = st.one_of(
    st.sampled_from(["13/2026", "00/2026", "10/0000", "10/99999", "02/0001", "12/9999", "oct-26"]),
    st.dates(date(1, 1, 1), date(9999, 12, 31)).map(lambda d: f"{d.month:02d}/{d.year:04d}"),
    st.text(max_size=10),
)
texts = st.one_of(st.sampled_from(EDGE_VALUES), st.text(max_size=40))

X = "{}"  # where the drawn value goes

#: A command, the strategy for its hostile value, and the words a refusal may name it by.
CASES: list[tuple[tuple[str, ...], st.SearchStrategy[str], list[str]]] = [
    (("clause", "show", X), numbers, ["CLAUSE", "clause"]),
    (("clause", "advance", X, "rédiger"), numbers, ["CLAUSE", "clause", "Clause"]),
    (("clause", "advance", "3", X), texts, ["EVENEMENT", "ÉVÉNEMENT", "Événement", "événement"]),
    (
        ("clause", "advance", "1", "achever", "--end-date", X),
        days,
        ["--end-date", "date de fin", "Date de fin"],
    ),
    (("clause", "hours", X, "100", "--reason", "avenant"), numbers, ["CLAUSE", "clause"]),
    (("clause", "hours", "1", X, "--reason", "avenant"), numbers, ["HEURES", "heures", "Heures"]),
    (("clause", "report", X, "--text", "bilan"), numbers, ["CLAUSE", "clause", "Clause"]),
    (("clause", "list", "--buyer", X), numbers, ["--buyer", "donneur"]),
    (("clause", "list", "--stage", X), texts, ["--stage", "Étape", "étape"]),
    (
        ("clause", "award", X, "--company", "1", "--start", "01/10/2026", "--end", "31/12/2026"),
        numbers,
        ["CLAUSE", "clause", "Clause"],
    ),
    (
        ("clause", "award", "3", "--company", "1", "--start", X, "--end", "31/12/2026"),
        days,
        ["--start", "Clause"],
    ),
    (
        ("buyer", "contact-add", X, "--name", "N", "--email", "n@example.org"),
        numbers,
        ["DONNEUR", "donneur"],
    ),
    (("buyer", "add", "Commune d'Essai", "--due-day", X), numbers, ["--due-day", "échéance"]),
    (
        ("buyer", "add", "Commune d'Essai", "--reminder-offsets", X),
        texts,
        ["--reminder-offsets", "rappel"],
    ),
    (
        ("buyer", "add", "Commune d'Essai", "--notices", X),
        texts,
        ["--notices", "Préférence", "NOM"],
    ),
    (("buyer", "set", X, "--due-day", "5"), numbers, ["DONNEUR", "donneur"]),
    (("company", "add", "Essai SARL", "--siret", X), texts, ["SIRET", "--siret"]),
    (
        ("company", "correspondent-add", X, "--name", "N", "--email", "n@example.org"),
        numbers,
        ["ENTREPRISE", "entreprise"],
    ),
    (("operation", "add", "Essai", "--buyer", X), numbers, ["--buyer", "donneur"]),
    (("market", "add", "2099-001", "--operation", X), numbers, ["--operation", "opération"]),
    (("lot", "add", "--market", X, "--title", "Essai"), numbers, ["--market", "marché"]),
    (
        (
            "lot",
            "add",
            "--market",
            "1",
            "--title",
            "Essai",
            "--hours",
            X,
            "--hours-reason",
            "avenant",
        ),
        numbers,
        ["--hours", "Heures", "heures"],
    ),
    (
        ("lot", "add", "--market", "1", "--title", "Essai", "--planned-notification", X),
        days,
        ["--planned-notification"],
    ),
    (("lot", "set", X, "--due-day", "3"), numbers, ["CLAUSE", "clause", "Clause"]),
    (("participant", "set", X, "--sex", "F"), texts, ["RÉF", "participant", "Participant"]),
    (("participant", "set", "P-0007", "--birth-year", X), texts, ["--birth-year"]),
    (
        (
            "participant",
            "outcome",
            "P-0007",
            "--clause",
            X,
            "--type",
            "CDI",
            "--date",
            "30/10/2026",
        ),
        numbers,
        ["--clause", "clause", "Clause"],
    ),
    (
        ("participant", "outcome", "P-0007", "--clause", "1", "--type", "CDI", "--date", X),
        days,
        ["--date", "date", "Date"],
    ),
    (
        ("participant", "outcome", "P-0007", "--clause", "1", "--type", X, "--date", "30/10/2026"),
        texts,
        ["--type", "sortie", "Type"],
    ),
    (
        ("participant", "validate", "P-0007", "--proof", "Attestation", "--date", X),
        days,
        ["--date", "date", "Date"],
    ),
    (("participant", "list", "--clause", X), numbers, ["--clause", "clause", "Clause"]),
    (
        ("declaration", "zero", "--clause", X, "--company", "1", "--month", "09/2026"),
        numbers,
        ["--clause", "clause", "Clause"],
    ),
    (
        ("declaration", "zero", "--clause", "1", "--company", X, "--month", "09/2026"),
        texts,
        ["--company", "entreprise"],
    ),
    (
        ("declaration", "zero", "--clause", "1", "--company", "1", "--month", X),
        months,
        ["--month", "déclaration", "Mois", "mois"],
    ),
    (
        ("declaration", "import", "--clause", X, "fichier.csv"),
        numbers,
        ["--clause", "clause", "Clause"],
    ),
    (
        ("hours", "--amount", X, "--labour-share", "50%", "--rate", "5%", "--hourly-cost", "30"),
        texts,
        ["--amount", "Montant"],
    ),
    (
        ("hours", "--amount", "100000", "--labour-share", X, "--rate", "5%", "--hourly-cost", "30"),
        texts,
        ["--labour-share", "main-d'œuvre"],
    ),
]


def case_id(case: tuple[tuple[str, ...], st.SearchStrategy[str], list[str]]) -> str:
    return " ".join("<valeur>" if a == X else a for a in case[0])


@pytest.fixture(scope="module")
def database(declared_template: Path) -> Path:
    """The sample territory in execution since March 2026, October declared for lot 01 (four
    participants), on 5 November 2026."""
    return declared_template


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
@settings(max_examples=examples(0.2))
@given(data=st.data())
def test_a_hostile_argument_is_done_or_refused_in_french(
    database: Path,
    case: tuple[tuple[str, ...], st.SearchStrategy[str], list[str]],
    data: st.DataObject,
) -> None:
    template, values, where = case
    value = data.draw(values, label="valeur")
    with world(database, NOVEMBER) as w:
        w.file(
            "fichier.csv",
            (Path(__file__).parent.parent / "data" / "declaration-excel-fr.csv").read_bytes(),
        )
        args = [str(w.folder / "fichier.csv") if a == "fichier.csv" else a for a in template]
        args = [value if a == X else a for a in args]
        before = w.dump()

        result = w.run(*args)

        if result.exit_code == 0:
            assert_no_python(result)
            return
        # A value starting with « - » is read as an option: the refusal names it as such.
        assert_refused_in_french(
            result, [*where, *(["Option inconnue"] if value[:1] == "-" else [])]
        )
        assert w.dump() == before, "a refused command changed the database"


@given(value=st.sampled_from([v for v in EDGE_VALUES if not v.startswith("-")]))
@example(value="99999999999999999999999")  # OverflowError from SQLite, a traceback
@example(value="2147483648")  # PostgreSQL's « integer out of range » in English
def test_a_number_no_record_can_have_is_a_usage_error_naming_it(database: Path, value: str) -> None:
    with world(database, NOVEMBER) as w:
        result = w.run("clause", "show", value)

        if value.strip().lstrip("-").isdigit() and abs(int(value)) > 2_147_483_647:
            assert result.exit_code == 2
            assert_refused_in_french(result, ["«\u00a0CLAUSE\u00a0»"])
            assert "nombre trop grand (au plus 2\u202f147\u202f483\u202f647)" in result.stderr
        elif result.exit_code:
            assert_refused_in_french(result, ["CLAUSE", "clause"])


# --- commands whose modules other work owns ----------------------------------------------------

#: Instants and months of years 1900 to 2999: what the service can compute with. Beyond, the
#: commands below crash today (``test_an_instant_out_of_any_calendar_…`` lists them).
instants = st.one_of(
    st.sampled_from(["2026-13-01T00:00", "2026-03-29T02:30", "2026-10-25T02:30", "abc", ""]),
    st.datetimes(datetime(1900, 1, 1), datetime(2999, 12, 31)).map(
        lambda moment: moment.isoformat(timespec="minutes")
    ),
    st.text(max_size=20),
)
summary_months = st.one_of(
    st.sampled_from(["2026-13", "2026-00", "10/2026", "2026-1", ""]),
    st.dates(date(1900, 1, 1), date(2999, 12, 31)).map(lambda d: f"{d.year:04d}-{d.month:02d}"),
    st.text(max_size=10),
)
simulated_days = st.one_of(
    st.sampled_from(["31/02/2026", "aujourd'hui", "", "07/11/2026"]),
    st.dates(date(2026, 11, 1), date(2026, 11, 30)).map(lambda d: f"{d:%d/%m/%Y}"),
    st.text(max_size=12),
)

SERVICE_CASES: list[tuple[tuple[str, ...], st.SearchStrategy[str], list[str]]] = [
    (("summary", "--now", X), instants, ["--now"]),
    (("summary", "--month", X), summary_months, ["--month"]),
    (("summary", "--buyer", X), numbers, ["--buyer", "donneur"]),
    (("digest", "--now", X), instants, ["--now"]),
    (("tick", "--now", X), instants, ["--now"]),
    # A few days only (or none): a simulation of centuries runs for hours, by design.
    (
        ("simulate", "--from", X, "--to", "06/11/2026", "--no-dispatch"),
        simulated_days,
        ["--from", "--to"],
    ),
    (("report", "annual", "--year", X), numbers, ["--year", "année"]),
    (("report", "annual", "--buyer", X), numbers, ["--buyer", "donneur"]),
    (("mail", "retry", X), numbers, ["N°", "MESSAGE_ID", "Courriel"]),
    (("mail", "cancel", X, "--reason", "envoyé par erreur"), numbers, ["N°", "Courriel"]),
    (("mail", "cancel", "1", "--reason", X), texts, ["--reason", "raison", "Courriel"]),
    (("search", X), texts, ["TEXTE", "Recherche"]),
    (("mail", "preview", "notice_awarded", "--clause", X), numbers, ["--clause", "clause"]),
    (("mail", "list", "--limit", X), numbers, ["--limit"]),
]


@pytest.mark.slow
@pytest.mark.parametrize("case", SERVICE_CASES, ids=[case_id(c) for c in SERVICE_CASES])
@settings(max_examples=examples(0.2))
@given(data=st.data())
def test_a_hostile_argument_to_the_service_commands_is_done_or_refused_in_french(
    database: Path,
    case: tuple[tuple[str, ...], st.SearchStrategy[str], list[str]],
    data: st.DataObject,
) -> None:
    template, values, where = case
    value = data.draw(values, label="valeur")
    with world(database, NOVEMBER) as w:
        args = [value if a == X else a for a in template]
        if args[:2] == ["mail", "preview"]:
            args += ["--out", str(w.folder / "apercu")]
        before = w.dump()

        result = w.run(*args)

        if result.exit_code == 0:
            return
        options = ["Option inconnue"] if value[:1] == "-" else []
        assert_refused_in_french(result, [*where, *options])
        assert w.dump() == before, "a refused command changed the database"


@pytest.mark.parametrize(
    "args",
    [
        ("summary", "--now", "0001-01-01T00:00"),
        ("summary", "--now", "9999-12-31T23:59"),
        ("summary", "--month", "0000-01"),
        ("summary", "--month", "9999-12"),
        ("digest", "--now", "0001-01-01T00:00"),
        ("tick", "--now", "0001-01-01T00:00"),
        ("tick", "--now", "9999-12-31T23:59"),
        ("simulate", "--from", "01/01/0001", "--to", "03/01/0001", "--no-dispatch"),
        ("simulate", "--from", "30/12/9999", "--to", "31/12/9999", "--no-dispatch"),
    ],
    ids=" ".join,
)
def test_an_instant_out_of_any_calendar_is_refused_in_french(
    database: Path, args: tuple[str, ...]
) -> None:
    with world(database, NOVEMBER) as w:
        before = w.dump()

        result = w.run(*args)

        assert_refused_in_french(result, [args[1]])
        assert w.dump() == before


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [
        [b"company", b"add", b"Caf\xe9 SARL"],  # Latin-1 bytes in a UTF-8 terminal
        [b"buyer", b"add", b"Commune\x1b[2J"],
        [b"clause", b"show", b"99999999999999999999"],
    ],
    ids=["latin-1", "escape", "overflow"],
)
def test_the_real_command_refuses_bytes_that_are_no_text_in_french(
    database: Path, args: list[bytes]
) -> None:
    """Through a real process: Python reads an argument that is not UTF-8 as lone surrogates,
    which the database's encoder could not store (UnicodeEncodeError, a traceback)."""
    clauses = Path(sys.executable).with_name("clauses")
    with world(database, NOVEMBER) as w:
        before = w.dump()
        env = {
            **os.environ,
            "CLAUSES_DATABASE_URL": w.settings.database_url,
            "CLAUSES_MAIL_DIR": str(w.folder / "mail"),
            "LC_ALL": "C.UTF-8",
        }

        done = subprocess.run(
            [os.fsencode(clauses), *args], capture_output=True, env=env, timeout=120, check=False
        )

        stderr = done.stderr.decode("utf-8")
        assert done.returncode == 2, stderr
        assert "Traceback" not in stderr and "Erreur : Valeur invalide pour" in stderr, stderr
        assert w.dump() == before
