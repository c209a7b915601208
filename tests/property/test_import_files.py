"""Hostile CSV files for the three imports: random bytes, re-encodings, mutations of the samples
(columns dropped or shuffled, cells blanked, absurd numbers and dates, formulas, duplicated lines,
unknown references), files past the limits. Each is accepted and idempotent, or refused in French
with its line or column and the database unchanged."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import select

from tests.property.conftest import NOVEMBER
from tests.property.french import assert_file_refusal, assert_no_python
from tests.property.imports import (
    DECLARATIONS,
    KINDS,
    LOTS,
    OUTCOMES,
    ImportKind,
    csv_bytes,
    import_and_check,
)
from tests.property.world import World, world
from tests.text import squash
from workflow.adapters.orm import Buyer, Clause, Market, Operation
from workflow.bootstrap import bootstrap

Templates = dict[str, Path]


@pytest.fixture(scope="module")
def templates(empty_template: Path, started_template: Path, declared_template: Path) -> Templates:
    return {"empty": empty_template, "started": started_template, "declared": declared_template}


def fresh(templates: Templates, kind: ImportKind) -> AbstractContextManager[World]:
    """A new copy of the database ``kind`` needs, on 5 November 2026."""
    return world(templates[kind.template], NOVEMBER)


kinds = st.sampled_from(KINDS)


# --- random bytes -------------------------------------------------------------------------------


@given(kind=kinds, data=st.binary(max_size=3000))
@example(kind=DECLARATIONS, data=b"")
@example(kind=DECLARATIONS, data=b"P-\x00007")  # a NUL in text: was stored as a reference
@example(kind=LOTS, data=b"PK\x03\x04" + bytes(64))  # a zip given to the lots import
@example(kind=OUTCOMES, data=b'"' + b"x" * 200_000)  # a quote never closed: English csv error
@example(kind=LOTS, data=b"\x1b]0;titre\x07;\x1b[31m\r\nx;y\r\n")  # escape sequences in a header
def test_random_bytes_are_refused_in_french_and_change_nothing(
    templates: Templates, kind: ImportKind, data: bytes
) -> None:
    with fresh(templates, kind) as w:
        import_and_check(w, kind, w.file("hasard.csv", data))


@given(
    kind=kinds,
    text=st.text(st.characters(codec="utf-8"), max_size=500),
    encoding=st.sampled_from(["utf-8", "utf-16", "utf-16-le", "cp1252"]),
)
def test_random_text_with_the_sample_header_is_refused_or_taken(
    templates: Templates, kind: ImportKind, text: str, encoding: str
) -> None:
    header = ";".join(kind.rows()[0])
    data = f"{header}\r\n{text}".encode(encoding, errors="replace")
    with fresh(templates, kind) as w:
        import_and_check(w, kind, w.file("texte.csv", data))


# --- the samples re-encoded --------------------------------------------------------------------


@given(
    kind=kinds,
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16"]),
    delimiter=st.sampled_from([";", ",", "\t"]),
    line_end=st.sampled_from(["\r\n", "\n"]),
)
@example(kind=LOTS, encoding="utf-16", delimiter="\t", line_end="\r\n")  # Excel's "Unicode text"
def test_a_valid_file_in_any_encoding_is_taken_with_the_same_meaning(
    templates: Templates, kind: ImportKind, encoding: str, delimiter: str, line_end: str
) -> None:
    rows = kind.rows()
    try:
        data = csv_bytes(rows, encoding=encoding, delimiter=delimiter, line_end=line_end)
    except UnicodeEncodeError:
        # Latin-1 has no « œ » nor « – »: Excel would have saved such a file in another encoding.
        data = csv_bytes(rows, encoding="cp1252", delimiter=delimiter, line_end=line_end)
    with fresh(templates, kind) as w:
        result = import_and_check(w, kind, w.file("reencode.csv", data))

        assert result.exit_code == 0, result.output
        said = squash(result.stdout)
        if kind is LOTS:
            assert "Créés : 3 donneurs d'ordre, 3 opérations, 3 marchés, 6 clauses." in said
        elif kind is DECLARATIONS:
            assert (
                "370,17\u00a0h au total, 3 participants ayant travaillé (1 autre déclaré à 0\u00a0h)."
                in said
            )
        else:
            assert "Sorties enregistrées : 3, corrigées : 0, déjà enregistrées : 0." in said


# --- mixed encodings, stray NUL bytes -------------------------------------------------------------


def _accented(rows: Rows) -> list[int]:
    """The lines (1 for the header) whose text is not plain ASCII."""
    return [n for n, row in enumerate(rows, start=1) if not ";".join(row).isascii()]


@given(kind=kinds, split=st.integers(1, 30), utf8_first=st.booleans())
@example(kind=DECLARATIONS, split=1, utf8_first=True)  # a UTF-8 header over Windows-1252 rows
@example(kind=LOTS, split=3, utf8_first=False)
def test_a_file_part_utf8_part_windows_1252_is_refused_at_its_first_line_in_the_other(
    templates: Templates, kind: ImportKind, split: int, utf8_first: bool
) -> None:
    """Lines 1 to ``split`` in one encoding, the rest in the other. It used to be read as
    Windows-1252 whole: « RÃ©fÃ©rence participant », and « colonne manquante » for a header
    that was right. Now: refused with the line where the other encoding starts, or taken when
    one part holds no accent (then the file is in one encoding, and is read with it)."""
    rows = kind.rows()
    split = min(split, len(rows) - 1)
    first, second = ("utf-8", "cp1252") if utf8_first else ("cp1252", "utf-8")
    data = csv_bytes(rows[:split], encoding=first) + csv_bytes(rows[split:], encoding=second)
    accented = _accented(rows)
    before = [n for n in accented if n <= split]
    after = [n for n in accented if n > split]
    with fresh(templates, kind) as w:
        result = import_and_check(w, kind, w.file("melange.csv", data))

    if not (before and after):
        assert result.exit_code == 0, result.output
        return
    [error] = assert_file_refusal(result, "melange.csv")
    other = "n'est pas en UTF-8" if utf8_first else "est en UTF-8"
    assert squash(error).startswith(f"ligne {after[0]} : encodage mélangé : cette ligne {other}"), (
        error
    )
    assert f"la ligne {before[0]}" in error
    assert error.endswith("enregistrez de nouveau tout le fichier en «\u00a0CSV UTF-8\u00a0».")


@given(kind=kinds, data=st.data())
@example(kind=OUTCOMES, data=None)
def test_a_short_file_with_a_nul_byte_is_refused_at_the_nul_s_line_or_taken(
    templates: Templates, kind: ImportKind, data: st.DataObject | None
) -> None:
    """Header and one row with a NUL byte somewhere: a file this short used to be read as
    UTF-16 (« 倭0〷 »), its header matching no column. Now it is read as the text it is: the NUL
    refused where it is (line, and column when it is in one the import reads), or taken when it
    sits in a column the import ignores (there is none in the samples: never)."""
    content = csv_bytes(kind.rows()[:2])
    # Not inside a line end: the NUL stays on the line it was put in.
    places = [i for i in range(len(content) + 1) if content[i - 1 : i + 1] != b"\r\n"]
    position = data.draw(st.sampled_from(places)) if data else content.index(b";")
    file = content[:position] + b"\x00" + content[position:]
    line = file[:position].count(b"\n") + 1
    with fresh(templates, kind) as w:
        result = import_and_check(w, kind, w.file("court.csv", file))

    bullets = assert_file_refusal(result, "court.csv")
    assert len(bullets) == 1, bullets
    assert bullets[0].startswith(f"ligne {line}"), (position, bullets)
    assert "caractère de contrôle U+0000 interdit" in bullets[0], bullets
    assert "colonne manquante" not in bullets[0]


# --- the samples mutated ------------------------------------------------------------------------

ABSURD_NUMBERS = [
    "1e308",
    "-1",
    "0",
    "NaN",
    "inf",
    "99999999999999999999",
    "1 000 000 000 000,00",
    "0,0000001",
    "12,5,3",
    "\u0661\u0662\u0663",  # Arabic-Indic digits
    "250,01",
    "-0",
    "35 hrs",
]
BAD_DATES = [
    "31/02/2026",
    "29/02/2027",
    "00/10/2026",
    "13/2026",
    "10/0000",
    "10/99999",
    "2026-02-30",
    "32/01/2026",
    "01/01/0001",
    "31/12/9999",
    "oct-26",
    "Octobre 2026",
    "46296",
]
FORMULAS = [
    "=1+1",
    "+33 6 12 34 56 78",
    "-2+3",
    "@SUM(A1:A2)",
    '=HYPERLINK("http://exemple.invalid";"clic")',
    "=cmd|' /C calc'!A0",
    "'=1+1",
]
UNKNOWN_REFERENCES = [
    "73282932000074",  # a valid SIRET no company has here
    "41234567800013",  # a SIRET whose key is wrong
    "2099-999",  # no such market
    "99",  # no such lot
    "P-9999",  # no such participant
    "P-0099",
]
HOSTILE_TEXT = [
    "<script>alert(1)</script>",
    "Entreprise &amp; fils",
    "Guillemets \" et ' mêlés",
    "ligne\ncoupée",
    "\u202eelbisivni",
    "\u0645\u0631\u062d\u0628\u0627",
    "🚧👷\u200d♀️",
    "x" * 5000,
    "\x00",
    "\x1b[2J",
]

cell_values = st.one_of(
    st.sampled_from(ABSURD_NUMBERS + BAD_DATES + FORMULAS + UNKNOWN_REFERENCES + HOSTILE_TEXT),
    st.text(max_size=40),
    st.just(""),
)

Rows = list[list[str]]
Mutation = Callable[[Rows], Rows]


@st.composite
def mutations(draw: st.DrawFn, width: int, height: int) -> tuple[str, Mutation]:
    """One change a person, a tool or an attacker could make to a file."""
    column = draw(st.integers(0, width - 1))
    line = draw(st.integers(1, height - 1))
    choice = draw(
        st.sampled_from(
            [
                "drop column",
                "shuffle columns",
                "set cell",
                "blank cell",
                "repeat line",
                "drop line",
                "rename header",
                "add column",
                "repeat header",
                "blank line",
            ]
        )
    )
    if choice == "drop column":
        return choice, lambda rows: [r[:column] + r[column + 1 :] for r in rows]
    if choice == "shuffle columns":
        order = draw(st.permutations(range(width)))
        return choice, lambda rows: [[r[i] if i < len(r) else "" for i in order] for r in rows]
    if choice in ("set cell", "blank cell"):
        value = draw(cell_values) if choice == "set cell" else ""

        def set_cell(rows: Rows) -> Rows:
            rows = [list(r) for r in rows]
            if line < len(rows) and column < len(rows[line]):
                rows[line][column] = value
            return rows

        return f"{choice} {line},{column} = {value!r}"[:80], set_cell
    if choice == "repeat line":
        return choice, lambda rows: [*rows, rows[min(line, len(rows) - 1)]]
    if choice == "drop line":
        return choice, lambda rows: [r for i, r in enumerate(rows) if i != line]
    if choice == "rename header":
        title = draw(st.text(max_size=30))
        return choice, lambda rows: [
            [title if i == column else c for i, c in enumerate(rows[0])],
            *rows[1:],
        ]
    if choice == "add column":
        title = draw(st.text(max_size=30))
        value = draw(cell_values)
        return choice, lambda rows: [rows[0] + [title], *([*r, value] for r in rows[1:])]
    if choice == "repeat header":
        return choice, lambda rows: [*rows, rows[0]]
    return choice, lambda rows: [*rows[:line], [""] * width, *rows[line:]]


@st.composite
def mutated_files(draw: st.DrawFn) -> tuple[ImportKind, Rows, list[str]]:
    kind = draw(kinds)
    rows = kind.rows()
    said: list[str] = []
    for _ in range(draw(st.integers(1, 4))):
        if not rows or not rows[0]:
            break
        what, change = draw(mutations(len(rows[0]), max(len(rows), 2)))
        rows = change(rows)
        said.append(what)
    return kind, rows, said


@given(case=mutated_files())
@example(case=(DECLARATIONS, DECLARATIONS.rows() + DECLARATIONS.rows()[1:2], ["repeat line"]))
@example(
    case=(
        OUTCOMES,
        [OUTCOMES.rows()[0], ["P-9999", "2026-014", "01", "CDI", "30/10/2026"]],
        ["unknown participant"],
    )
)
@example(
    case=(
        DECLARATIONS,
        [DECLARATIONS.rows()[0], ["73282932000074", *DECLARATIONS.rows()[1][1:]]],
        ["unknown company"],
    )
)
@example(
    case=(
        LOTS,
        [LOTS.rows()[0], [*LOTS.rows()[1][:10], "31/02/2026"]],
        ["a 31 February"],
    )
)
def test_a_mutated_sample_is_taken_or_refused_line_by_line(
    templates: Templates, case: tuple[ImportKind, Rows, list[str]]
) -> None:
    kind, rows, _said = case
    with fresh(templates, kind) as w:
        import_and_check(w, kind, w.file("modifie.csv", csv_bytes(rows, encoding="utf-8")))


# --- characters no keyboard types --------------------------------------------------------------

control_characters = st.characters(codec="utf-8", categories=["Cc"], exclude_characters="\t\n\r")


@given(kind=kinds, data=st.data(), char=control_characters)
@example(kind=DECLARATIONS, data=None, char="\x00")  # NUL: stored on SQLite, refused by PostgreSQL
@example(kind=LOTS, data=None, char="\x1b")  # an escape sequence for whoever lists the lots
def test_a_control_character_in_a_cell_is_refused_at_its_line_and_column(
    templates: Templates, kind: ImportKind, data: st.DataObject | None, char: str
) -> None:
    rows = kind.rows()
    line = data.draw(st.integers(1, len(rows) - 1)) if data else 1
    column = data.draw(st.integers(0, len(rows[0]) - 1)) if data else 0
    rows[line][column] = f"{rows[line][column][:3]}{char}{rows[line][column][3:]}"
    with fresh(templates, kind) as w:
        result = import_and_check(
            w, kind, w.file("controle.csv", csv_bytes(rows, encoding="utf-8"))
        )

        assert result.exit_code == 1, result.output
        title = " ".join(rows[0][column].split())
        expected = f"ligne {line + 1}, colonne «\u00a0{title}\u00a0» :"
        refusal = squash(result.stderr)
        assert expected in refusal and f"U+{ord(char):04X}" in refusal, refusal


# --- formulas are text --------------------------------------------------------------------------

TEXT_COLUMNS = {0: "operation", 1: "buyer", 2: "market", 4: "title"}


@given(column=st.sampled_from(sorted(TEXT_COLUMNS)), formula=st.sampled_from(FORMULAS))
@example(column=4, formula="'=1+1")  # our own CSV templates' apostrophe is taken off
def test_a_formula_is_stored_as_the_text_it_is_never_computed(
    templates: Templates, column: int, formula: str
) -> None:
    rows = LOTS.rows()
    rows[1][column] = formula
    with fresh(templates, LOTS) as w:
        result = import_and_check(
            w, LOTS, w.file("formules.csv", csv_bytes(rows, encoding="utf-8"))
        )

        assert result.exit_code == 0, result.output
        app = bootstrap(w.settings, handlers={})
        try:
            with app.transaction() as session:
                stored = {
                    "operation": session.scalars(select(Operation.name)).all(),
                    "buyer": session.scalars(select(Buyer.name)).all(),
                    "market": session.scalars(select(Market.reference)).all(),
                    "title": session.scalars(select(Clause.lot_title)).all(),
                }[TEXT_COLUMNS[column]]
        finally:
            app.close()
        meant = formula.removeprefix("'")
        assert meant in stored, (meant, stored)
        assert "2" not in stored  # =1+1 was not computed


# --- sizes --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_a_file_over_20_mb_is_refused_before_reading_with_its_size(
    templates: Templates, kind: ImportKind
) -> None:
    with fresh(templates, kind) as w:
        before = w.dump()
        path = w.folder / "enorme.csv"
        with path.open("wb") as out:
            out.write(kind.sample.read_bytes())
            out.truncate(20_000_001)  # sparse: the size is checked before anything is read

        result = w.run(*kind.command, str(path))

        [error] = assert_file_refusal(result, "enorme.csv")
        assert error.startswith(
            "fichier de 20\u00a0Mo, au-delà de la limite de 20\u00a0Mo par import"
        )
        assert w.dump() == before


@pytest.mark.slow
@pytest.mark.parametrize("kind", [LOTS, OUTCOMES], ids=lambda k: k.name)
def test_a_file_over_50_000_lines_is_refused_with_their_count(
    templates: Templates, kind: ImportKind
) -> None:
    header, first, *_ = kind.rows()
    with fresh(templates, kind) as w:
        before = w.dump()
        path = w.file("long.csv", csv_bytes([header, *[first] * 50_001]))

        result = w.run(*kind.command, str(path))

        [error] = assert_file_refusal(result, "long.csv")
        assert error.startswith(
            "50\u202f001 lignes de données, au-delà de la limite de 50\u202f000 lignes par import"
        ), error
        assert w.dump() == before


# --- through the real command -------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "data", "expected"),
    [
        (LOTS, os.urandom(4096), "hostile.csv : "),
        (
            DECLARATIONS,
            DECLARATIONS.sample.read_bytes().replace(b"P-0012", b"P-\x000012"),
            "ligne 3, colonne «\u00a0Référence participant\u00a0» : «\u00a0P-\ufffd0012\u00a0» : "
            "caractère de contrôle U+0000 interdit",
        ),
        (OUTCOMES, b"PK\x03\x04" + os.urandom(512), "fichier compressé non reconnu"),
    ],
    ids=["random", "nul", "zip"],
)
def test_the_real_command_refuses_hostile_files_in_french(
    templates: Templates, kind: ImportKind, data: bytes, expected: str
) -> None:
    clauses = Path(sys.executable).with_name("clauses")
    with fresh(templates, kind) as w:
        before = w.dump()
        path = w.file("hostile.csv", data)
        env = {
            **os.environ,
            "CLAUSES_DATABASE_URL": w.settings.database_url,
            "CLAUSES_MAIL_DIR": str(w.folder / "mail"),
            "COLUMNS": "200",
        }

        done = subprocess.run(
            [str(clauses), *kind.command, str(path)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )

        assert done.returncode == 1, (done.stdout, done.stderr)
        assert squash(done.stderr).startswith(
            "Refusé : hostile.csv : 1 erreur, rien n'a été importé."
        )
        assert "Traceback" not in done.stderr and not done.stdout
        assert w.dump() == before


def test_the_mutation_check_itself_catches_a_change(templates: Templates) -> None:
    """The dump sees an accepted import (else « unchanged » would prove nothing)."""
    with fresh(templates, LOTS) as w:
        before = w.dump()
        result = w.run(*LOTS.command, str(LOTS.sample))
        assert result.exit_code == 0, result.output
        assert_no_python(result)
        assert w.dump() != before


@pytest.mark.slow
def test_a_file_of_line_breaks_is_read_without_holding_them(templates: Templates) -> None:
    """Nineteen million empty lines under a header: they used to be kept one record each
    (gigabytes) and counted as « lignes de données »."""
    header = ";".join(DECLARATIONS.rows()[0]).encode("cp1252")
    with fresh(templates, DECLARATIONS) as w:
        before = w.dump()
        path = w.file("vide.csv", header + b"\r\n" * 9_500_000)

        result = w.run(*DECLARATIONS.command, str(path))

        assert assert_file_refusal(result, "vide.csv") == [
            "le fichier ne contient que la ligne d'en-tête."
        ]
        assert w.dump() == before
