"""A template the service writes reads back as it was written, formulas included.

The CSV templates sent to companies neutralise text that a spreadsheet would compute (« =… »,
« +… », « -… », « @… » get an apostrophe); the import takes the apostrophe off. Any text a person
can type survives the trip, in the CSV (Windows-1252 or UTF-8) as in the .xlsx."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from workflow.adapters.csv_files import Column
from workflow.adapters.safe_cells import FORMULA_STARTS
from workflow.adapters.spreadsheets import csv_template, read_table_bytes, xlsx_template

COLUMNS = (Column("name", "Nom"), Column("title", "Intitulé"))

#: What a person types in a cell: no control character, no space at either end (the import
#: trims), no no-break space (read as a space), not an apostrophe before a formula (the one
#: text the trip cannot tell from a neutralised formula).
typed = (
    st.text(
        st.characters(
            codec="utf-8", exclude_categories=["Cc", "Cs"], exclude_characters="\u00a0\u202f"
        ),
        min_size=1,
        max_size=60,
    )
    .map(lambda text: " ".join(text.split()))
    .filter(lambda text: text != "" and not (text[:1] == "'" and text[1:2] in FORMULA_STARTS))
)


@given(rows=st.lists(st.tuples(typed, typed), min_size=1, max_size=5))
@example(rows=[('=HYPERLINK("http://exemple.invalid";"clic")', "-2+3")])
@example(rows=[("@SUM(A1:A2)", "+33 6 12 34 56 78")])
def test_a_template_reads_back_as_written(rows: list[tuple[str, str]]) -> None:
    headers = [c.label for c in COLUMNS]
    data, _encoding = csv_template(headers, [list(r) for r in rows])
    workbook = xlsx_template(headers, [list(r) for r in rows], sheet_title="Essai")

    for content, name in ((data, "modele.csv"), (workbook, "modele.xlsx")):
        table = read_table_bytes(content, COLUMNS, name)
        assert [(r.cells["name"], r.cells["title"]) for r in table.rows] == rows, name


@given(start=st.sampled_from(FORMULA_STARTS[:4]), rest=typed)
def test_a_formula_in_a_csv_template_starts_with_an_apostrophe(start: str, rest: str) -> None:
    data, encoding = csv_template(["Nom"], [[start + rest]])

    cell = data.decode("utf-8-sig" if encoding == "utf-8" else "cp1252").split("\r\n")[1]
    assert cell.strip('"').startswith("'"), cell
