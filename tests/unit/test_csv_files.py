"""Reading CSV as Excel writes it in France, and checking a lots file line by line (no database)."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from workflow.adapters.csv_files import (
    CsvTable,
    header_key,
    parse_month,
    parse_siret,
    read_csv,
    read_csv_bytes,
)
from workflow.errors import FileRefused
from workflow.services.imports import IMPOSED_REASON, LOT_COLUMNS, LotRow, parse_lots

DATA = Path(__file__).resolve().parent.parent / "data"
LOTS = DATA / "lots-excel-fr.csv"
DECLARATION = DATA / "declaration-excel-fr.csv"


def sample_text(path: Path = LOTS) -> str:
    return path.read_bytes().decode("cp1252")


def lots_from(text: str, encoding: str = "cp1252") -> tuple[list[LotRow], list[str]]:
    table = read_csv_bytes(text.encode(encoding), LOT_COLUMNS, "lots.csv")
    rows, warnings = parse_lots(table)
    return rows, [str(w) for w in warnings]


def refusal(text: str, encoding: str = "utf-8") -> str:
    with pytest.raises(FileRefused) as caught:
        lots_from(text, encoding)
    return caught.value.message


def replace_cell(text: str, line: int, column: int, value: str) -> str:
    """Change one cell of a ``;`` file (lines counted from 1, the header being line 1)."""
    lines = text.splitlines()
    cells = lines[line - 1].split(";")
    cells[column] = value
    lines[line - 1] = ";".join(cells)
    return "\n".join(lines) + "\n"


def as_comma_separated(text: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=",", quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    for row in csv.reader(io.StringIO(text), delimiter=";"):
        writer.writerow(row)
    return out.getvalue()


def reordered(text: str, order: list[int]) -> str:
    rows = [line.split(";") for line in text.splitlines()]
    return "\n".join(";".join(row[i] for i in order) for row in rows) + "\n"


# --- the sample files as they are ---------------------------------------------------------------


def test_it_reads_the_lots_sample_as_excel_saved_it() -> None:
    table = read_csv(LOTS, LOT_COLUMNS)

    assert (table.encoding, table.delimiter) == ("cp1252", ";")
    assert [row.line for row in table.rows] == [2, 3, 4, 5, 6, 7]
    assert table.headers["labour_share"] == "Part main-d'œuvre"
    assert table.rows[0].cells["title"] == "Gros œuvre – maçonnerie"
    assert table.rows[0].cells["amount"] == "3 780 000,00"


def test_it_reads_the_declaration_sample_with_its_crlf_line_ends() -> None:
    from workflow.adapters.declaration_columns import DECLARATION_COLUMNS

    table = read_csv(DECLARATION, DECLARATION_COLUMNS)

    assert [row.line for row in table.rows] == [2, 3, 4, 5]
    assert table.rows[1].cells["criterion"] == "Bénéficiaire du RSA"
    assert table.rows[1].cells["hours"] == "98,5"
    assert table.rows[3].cells["hours"] == "0"


def test_it_computes_the_hours_of_the_sample_lots_rounded_down() -> None:
    rows, _ = lots_from(sample_text())

    assert [row.hours_target for row in rows] == [4725, 426, 761, 341, 1200, 47]
    cleaning = rows[4]
    assert cleaning.params.insertion_rate is None
    assert cleaning.params.hours_override == 1200
    assert cleaning.params.override_reason == IMPOSED_REASON
    assert rows[0].params.labour_share == Decimal("0.5")
    assert rows[0].params.insertion_rate == Decimal("0.075")
    assert rows[3].params.hourly_cost == Decimal("30")
    assert rows[0].planned_notification == date(2026, 3, 15)
    assert rows[4].lot_number == ""


def test_it_warns_without_refusing_about_the_47_hours_road_works() -> None:
    _, warnings = lots_from(sample_text())

    assert len(warnings) == 1
    assert warnings[0].startswith("ligne 7 : 47")
    assert "Réfection de voirie" in warnings[0]


# --- files that differ in ways nobody would notice ----------------------------------------------


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("utf-8", sample_text().encode("utf-8")),
        ("utf-8 with BOM", b"\xef\xbb\xbf" + sample_text().encode("utf-8")),
        ("utf-16 with BOM", sample_text().encode("utf-16")),
        ("crlf", sample_text().replace("\n", "\r\n").encode("cp1252")),
        ("comma separated and quoted", as_comma_separated(sample_text()).encode("utf-8")),
        ("no newline at end, blank lines", (sample_text().rstrip("\n") + "\n;;;;\n\n").encode()),
    ],
)
def test_it_accepts_variants_of_the_lots_sample(name: str, data: bytes) -> None:
    table = read_csv_bytes(data, LOT_COLUMNS, "lots.csv")
    rows, _ = parse_lots(table)

    assert [row.hours_target for row in rows] == [4725, 426, 761, 341, 1200, 47], name
    assert rows[0].title == "Gros œuvre – maçonnerie"


def test_it_accepts_columns_in_any_order_and_forgiving_headers() -> None:
    text = reordered(sample_text(), [10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0])
    text = text.replace("Coût horaire chargé (€)", "COUT HORAIRE CHARGE").replace(
        "Part main-d'œuvre", "part main d'oeuvre"
    )

    rows, _ = lots_from(text, "utf-8")

    assert [row.hours_target for row in rows] == [4725, 426, 761, 341, 1200, 47]
    assert rows[0].operation == "Construction du collège de Saint-Arrats"


def test_it_reads_thousands_with_non_breaking_spaces_and_percent_without_space() -> None:
    text = replace_cell(sample_text(), 2, 5, "3\u00a0780\u202f000,00")
    text = replace_cell(text, 2, 6, "50%")

    rows, _ = lots_from(text, "utf-8")

    assert rows[0].hours_target == 4725


# --- broken files: refused whole, every error with its line and column --------------------------


def test_it_refuses_a_bad_number_with_its_line_and_column() -> None:
    message = refusal(replace_cell(sample_text(), 3, 5, "640 000,00 environ"))

    assert "1 erreur, rien n'a été importé" in message
    assert "ligne 3, colonne « Montant HT (€) » : « 640 000,00 environ » n'est pas un nombre" in (
        message
    )


def test_it_refuses_a_bad_date_and_a_bad_percentage_and_lists_both() -> None:
    text = replace_cell(sample_text(), 4, 10, "31/02/2026")
    text = replace_cell(text, 6, 6, "180 %")

    message = refusal(text)

    assert "2 erreurs" in message
    assert "ligne 4, colonne « Notification prévue » : « 31/02/2026 » n'est pas une date" in message
    assert "ligne 6, colonne « Part main-d'œuvre » : « 180 % » doit être un pourcentage" in message


def test_it_refuses_a_lot_without_rate_nor_imposed_hours() -> None:
    message = refusal(replace_cell(sample_text(), 2, 7, ""))

    assert "ligne 2, colonne « Taux d'insertion » : valeur manquante." in message


def test_it_refuses_a_missing_column_naming_it() -> None:
    text = "\n".join(";".join(line.split(";")[:2]) for line in sample_text().splitlines())

    message = refusal(text)

    assert "ligne 1, colonne « N° marché » : colonne manquante" in message
    assert "colonne « Intitulé du lot » : colonne manquante" in message


def test_it_refuses_an_empty_file_and_a_header_alone() -> None:
    assert "le fichier est vide" in refusal("")
    assert "le fichier est vide" in refusal("\r\n;;\r\n")
    assert "que la ligne d'en-tête" in refusal(sample_text().splitlines()[0] + "\n")


def test_it_refuses_the_same_lot_twice_naming_the_first_line() -> None:
    lines = sample_text().splitlines()
    text = "\n".join([*lines, lines[2].replace(";02;", ";2;")]) + "\n"

    message = refusal(text)

    assert "ligne 8, colonne « Lot » : ce lot figure déjà ligne 3." in message


def test_it_refuses_a_line_with_too_many_values() -> None:
    lines = sample_text().splitlines()
    lines[3] = lines[3] + ";en trop"

    assert "ligne 4 : 12 valeurs pour 11 colonnes" in refusal("\n".join(lines))


def test_it_refuses_a_file_it_cannot_decode() -> None:
    with pytest.raises(FileRefused) as caught:
        read_csv_bytes(b"Op\x81ration;Lot\n", LOT_COLUMNS, "lots.csv")
    assert "encodage non reconnu" in caught.value.message


def test_it_keeps_the_line_numbers_of_the_file_when_a_quoted_cell_spans_lines() -> None:
    header = sample_text().splitlines()[0]
    body = sample_text().splitlines()[1].replace("Gros œuvre – maçonnerie", '"Gros œuvre\nsuite"')
    broken = replace_cell(sample_text().splitlines()[2] + "\n", 1, 5, "abc").strip()
    text = "\n".join([header, body, broken]) + "\n"

    message = refusal(text)

    assert "ligne 4, colonne « Montant HT (€) »" in message


# --- small readers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["10/2026", "10-2026", "2026-10", "01/10/2026", "oct-26", "octobre 2026", "Oct. 2026"]
)
def test_it_reads_a_month_as_people_and_excel_write_it(text: str) -> None:
    assert parse_month(text) == date(2026, 10, 1)


@pytest.mark.parametrize("text", ["13/2026", "10/26x", "brumaire 2026", ""])
def test_it_refuses_what_is_not_a_month(text: str) -> None:
    assert parse_month(text) is None


def test_it_checks_siret_digits_and_luhn_key() -> None:
    assert parse_siret("412 345 678 00012") == "41234567800012"
    assert parse_siret("41234567800013") is None
    assert parse_siret("4123456780001") is None
    assert parse_siret("35600000000048") == "35600000000048"  # La Poste: no Luhn key


def test_it_matches_headers_without_accents_case_or_units() -> None:
    assert header_key("Coût horaire chargé (€)") == header_key("cout HORAIRE charge")
    assert header_key("N° marché") == header_key("n marche")
    assert header_key("Part main-d'œuvre") == "part main d oeuvre"


def test_it_reports_unknown_columns_as_warnings() -> None:
    text = sample_text().replace("Notification prévue", "Commentaire")
    table: CsvTable = read_csv_bytes(text.encode(), LOT_COLUMNS, "lots.csv")

    assert [str(w) for w in table.warnings] == [
        "ligne 1, colonne « Commentaire » : colonne inconnue, ignorée."
    ]


def test_a_column_absent_from_the_file_is_named_by_its_expected_title() -> None:
    from workflow.adapters.csv_files import Column, read_csv_bytes

    columns = [Column("reference", "Référence"), Column("criterion", "Critère", required=False)]
    with pytest.raises(FileRefused) as caught:
        read_csv_bytes(b"Autre\r\nx\r\n", columns, "f.csv")
    assert "colonne « Référence » : colonne manquante. Colonnes trouvées : « Autre »." in str(
        caught.value
    )
    found = read_csv_bytes("référence\r\nP-1\r\n".encode(), columns, "f.csv")
    assert found.column_name("reference") == "référence"  # as the file writes it
    assert found.column_name("criterion") == "Critère"  # absent: the title, never the key
