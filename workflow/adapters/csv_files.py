"""Reading CSV files as Excel on a French system writes them.

What is accepted: Windows-1252, UTF-8 with or without BOM (and UTF-16 with or without BOM), ``;``,
``,`` or tab separators with quoted fields, CRLF or LF line ends, columns in any order, headers
matched without regard to accents, case or punctuation. Cell values are read by ``RowReader``, which
collects every problem with its line and column instead of stopping at the first one, so that a
person can fix a whole file in one go.

What is refused before any value is read, with where: a binary file (NUL bytes), a cell holding a
control character (escape sequences, NUL) or longer than ``MAX_CELL`` characters. Formula-like text
(``=``, ``+``, ``-``, ``@``) is kept as plain text, never evaluated; the apostrophe our own templates
put before it (``safe_cells``) is taken off.
"""

from __future__ import annotations

import codecs
import csv
import errno
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from workflow.adapters.safe_cells import plain_text
from workflow.domain.characters import forbidden_character, shown
from workflow.domain.choices import ChoiceList, choice_problem, match_choice
from workflow.domain.hours import parse_decimal, parse_hours, parse_ratio
from workflow.domain.vocabulary import normalise
from workflow.errors import ClausesError, FieldError, FileRefused, InputRefused

E = TypeVar("E", bound=StrEnum)

_DELIMITERS = (";", ",", "\t")
#: The longest cell an import reads, in characters: the longest value kept is 200 (a name, a
#: title); a longer cell is a separator or a quote gone wrong, and would be quoted whole in errors.
MAX_CELL = 1000
#: NUL bytes a text file may hold and still be read (each then refused where it is).
_STRAY_NULS = 16
#: How many column titles a « colonne manquante » error lists, and how many characters of each.
_FOUND_TITLES = 20
_QUOTED = re.compile(r'"[^"]*"')
_FRENCH_MONTHS = {
    "janvier": 1,
    "janv": 1,
    "jan": 1,
    "fevrier": 2,
    "fevr": 2,
    "fev": 2,
    "mars": 3,
    "mar": 3,
    "avril": 4,
    "avr": 4,
    "mai": 5,
    "juin": 6,
    "juillet": 7,
    "juil": 7,
    "aout": 8,
    "septembre": 9,
    "sept": 9,
    "sep": 9,
    "octobre": 10,
    "oct": 10,
    "novembre": 11,
    "nov": 11,
    "decembre": 12,
    "dec": 12,
}


def header_key(text: str) -> str:
    """``"Coût horaire chargé (€)"`` -> ``"cout horaire charge"``: what two headers share."""
    text = normalise(text.replace("œ", "oe").replace("Œ", "oe"))
    text = re.sub(r"\([^)]*\)", " ", text)  # units in brackets: "(€)", "(h)"
    text = re.sub(r"[^a-z0-9]+", " ", text)
    return " ".join(text.split())


@dataclass(frozen=True)
class Column:
    """A column an import expects; ``label`` is how the file is meant to name it (and how the
    templates and emails name it), ``hint`` what a person puts there."""

    key: str
    label: str
    aliases: tuple[str, ...] = ()
    required: bool = True
    hint: str = ""

    def matches(self, header: str) -> bool:
        wanted = header_key(header)
        return wanted in {header_key(self.label), *(header_key(a) for a in self.aliases)}


@dataclass(frozen=True)
class CsvRow:
    line: int  # the line of the file where the record starts (the header is line 1)
    cells: dict[str, str]  # column key -> stripped text ("" when blank)


@dataclass
class CsvTable:
    source: str
    encoding: str
    delimiter: str
    headers: dict[str, str]  # column key -> the header as the file writes it
    rows: list[CsvRow]
    warnings: list[FieldError] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # column key -> its expected title
    header_line: int = 1  # the line of the file the column titles are on
    titles: tuple[str, ...] = ()  # every title of the header, as the file writes it

    def missing(self, key: str) -> FieldError:
        """A column an import needs and the file lacks, said as a required column's absence is:
        on the header's line, naming every title the file has (an unknown one included)."""
        return missing_column(self.header_line, self.labels.get(key) or key, self.titles)

    def has(self, key: str) -> bool:
        return key in self.headers

    def column_name(self, key: str) -> str:
        """The column's title as the file writes it, else the title the import expects: a
        person never reads an internal key such as ``criterion``."""
        return self.headers.get(key) or self.labels.get(key) or key

    def in_order(self, errors: Sequence[FieldError]) -> list[FieldError]:
        """``errors`` as a person fixes a file: by line (the file's own ones first), then by
        column as the file orders them; a column the file lacks comes after those it has, and
        what is said of a whole line last. Errors of one cell keep the order they were found in.
        """
        position = {title: index for index, title in enumerate(self.headers.values())}
        after = len(position)

        def rank(error: FieldError) -> tuple[int, int]:
            if error.column is None:
                return (error.line or 0, after + 1)
            return (error.line or 0, position.get(error.column, after))

        return sorted(errors, key=rank)


@dataclass(frozen=True)
class ImportLimits:
    """How big a file an import takes; checked before any cell is read."""

    max_bytes: int
    max_rows: int
    advice: str = "découpez-le en plusieurs fichiers"

    def check_size(self, size: int, source: str) -> None:
        if size > self.max_bytes:
            raise FileRefused(
                source,
                [
                    FieldError(
                        None,
                        None,
                        f"fichier de {format_size(size)}, au-delà de la limite de "
                        f"{format_size(self.max_bytes)} par import : {self.advice}.",
                    )
                ],
            )

    def check_rows(self, rows: int, source: str, *, at_least: bool = False) -> None:
        if rows > self.max_rows:
            count = f"plus de {_thousands(self.max_rows)}" if at_least else _thousands(rows)
            raise FileRefused(
                source,
                [
                    FieldError(
                        None,
                        None,
                        f"{count} lignes de données, au-delà de la limite de "
                        f"{_thousands(self.max_rows)} lignes par import : {self.advice}.",
                    )
                ],
            )


def _thousands(value: int) -> str:
    """``50 000`` with a narrow no-break space, as French writes it."""
    return f"{value:,}".replace(",", "\u202f")


def format_size(size: int) -> str:
    """``20 Mo``, ``31,2 Mo``, ``850 ko``: sizes in French units (1 Mo = 1 000 000 octets)."""
    if size >= 1_000_000:
        value, unit = size / 1_000_000, "Mo"
    elif size >= 1_000:
        value, unit = size / 1_000, "ko"
    else:
        return f"{size} octets"
    text = f"{value:.1f}".rstrip("0").rstrip(".").replace(".", ",")
    return f"{text}\u00a0{unit}"


def decode(data: bytes, source: str) -> tuple[str, str]:
    """Return the text and the encoding it was read with; UTF-8 first, then Windows-1252."""
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError as exc:
                raise FileRefused(
                    source,
                    [
                        FieldError(
                            None,
                            None,
                            f"encodage {encoding} illisible (octets {exc.start + 1} à "
                            f"{exc.end}) : enregistrez de nouveau le fichier en « CSV UTF-8 ».",
                        )
                    ],
                ) from None
    if b"\x00" in data:
        return _decode_with_nul(data, source)
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    mixed = _mixed_encodings(data)
    if mixed is not None:
        raise FileRefused(source, [mixed])
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        raise FileRefused(
            source,
            [
                FieldError(
                    None,
                    None,
                    "encodage non reconnu : enregistrez le fichier en « CSV (séparateur : "
                    "point-virgule) » ou en « CSV UTF-8 ».",
                )
            ],
        ) from None


def _mixed_encodings(data: bytes) -> FieldError | None:
    """A file not wholly UTF-8 where some lines are UTF-8 with accents and others are not (a
    header saved in UTF-8, rows pasted from a Windows-1252 file, or the reverse): read as
    Windows-1252, the UTF-8 part would come out as « RÃ©fÃ©rence » and the header would match
    no column. The first line in the other encoding than the first accented one, or None."""
    first_utf8 = first_other = None
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            first_other = first_other or number
        else:
            first_utf8 = first_utf8 or number
        if first_utf8 and first_other:
            break
    if not (first_utf8 and first_other):
        return None
    save = "enregistrez de nouveau tout le fichier en «\u00a0CSV UTF-8\u00a0»."
    if first_utf8 < first_other:
        return FieldError(
            first_other,
            None,
            f"encodage mélangé : cette ligne n'est pas en UTF-8 (Windows-1252 sans doute) alors "
            f"que la ligne {first_utf8} l'est ; {save}",
        )
    return FieldError(
        first_utf8,
        None,
        f"encodage mélangé : cette ligne est en UTF-8 alors que la ligne {first_other} ne l'est "
        f"pas (Windows-1252 sans doute) ; {save}",
    )


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _decode_with_nul(data: bytes, source: str) -> tuple[str, str]:
    """UTF-16 without its BOM (ASCII text then has a NUL every other byte), or a text with a few
    stray NULs (then refused at their line and column, like any control character); anything
    else with NUL bytes is not text at all (an image, a PDF, a damaged file)."""
    odd, even = data[1::2].count(0), data[0::2].count(0)
    encoding = "utf-16-le" if odd > even else "utf-16-be"
    # Latin text in UTF-16 is whole code units (an even length) of which most have a NUL byte,
    # always on the same side; a short file with one stray NUL is not (« P-\x00007 » read as
    # UTF-16 gave « 倭0〷 », a header of no column).
    units = len(data) // 2
    if len(data) % 2 == 0 and min(odd, even) == 0 and max(odd, even) * 2 >= units:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            text = "\x00"
        # A CSV header has separators or a line end; UTF-16 text has no NUL once decoded.
        if "\x00" not in text and any(mark in text for mark in (";", ",", "\t", "\n")):
            return text, encoding
    if odd + even <= _STRAY_NULS:
        for encoding in ("utf-8", "cp1252"):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError:
                continue
    raise FileRefused(
        source,
        [
            FieldError(
                _line_of(data, data.index(0)),
                None,
                f"ce fichier n'est pas un texte ({odd + even} octets nuls, le premier sur "
                "cette ligne) : envoyez un CSV "
                "(«\u00a0CSV (séparateur : point-virgule)\u00a0» ou «\u00a0CSV UTF-8\u00a0») ou un "
                "classeur .xlsx ou .ods.",
            )
        ],
    )


def sniff_delimiter(header_line: str) -> str:
    """The separator the header uses most, quoted text aside; ``;`` when there is a tie."""
    bare = _QUOTED.sub("", header_line)
    counts = {d: bare.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ";"


def _records(
    text: str, delimiter: str, source: str, max_rows: int | None = None
) -> tuple[list[tuple[int, list[str]]], int]:
    """Each record with a value, with the line it starts on (quoted fields may span lines), and
    how many there are. Blank lines are skipped as they come (a file of twenty million line
    breaks would otherwise be twenty million records in memory), and past ``max_rows`` data
    records the rest are only counted."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"')
    records: list[tuple[int, list[str]]] = []
    count = 0
    previous_end = 0
    try:
        for values in reader:
            if any(v.strip() for v in values):
                count += 1
                if max_rows is None or count <= max_rows + 1:  # the header, then the rows
                    records.append((previous_end + 1, values))
            previous_end = reader.line_num
    except csv.Error:
        # With these dialect settings the csv module's one error is a field past its size limit
        # (a quote never closed swallows the rest of the file; NULs are read since Python 3.11
        # and refused by ``_cell_problems``). Its English message is no help to a person; where
        # the record starts is.
        raise FileRefused(
            source,
            [
                FieldError(
                    previous_end + 1,
                    None,
                    "cellule sans fin : un guillemet (\") ouvert n'est jamais refermé, ou une "
                    "cellule dépasse 131\u202f072 caractères.",
                )
            ],
        ) from None
    return records, count


def read_csv_text(
    text: str,
    columns: Sequence[Column],
    source: str,
    encoding: str,
    limits: ImportLimits | None = None,
) -> CsvTable:
    """Find the columns in the header and cut the records; structural problems refuse the file."""
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise FileRefused(source, [FieldError(None, None, "le fichier est vide.")])
    first_line = next(line for line in text.splitlines() if line.strip())
    delimiter = sniff_delimiter(first_line)
    max_rows = None if limits is None else limits.max_rows
    records, count = _records(text, delimiter, source, max_rows)
    if limits is not None:
        limits.check_rows(count - 1, source)
    return table_from_records(records, columns, source, encoding, delimiter)


def table_from_records(
    records: Sequence[tuple[int, Sequence[str]]],
    columns: Sequence[Column],
    source: str,
    encoding: str,
    delimiter: str = "",
) -> CsvTable:
    """The header is the first record with a value; every later record is a row. Shared by CSV
    and spreadsheets (``spreadsheets``), so both are read and refused the same way."""
    records = [(line, values) for line, values in records if any(v.strip() for v in values)]
    if not records:
        raise FileRefused(source, [FieldError(None, None, "le fichier est vide.")])
    header_line, header = records[0]
    errors: list[FieldError] = []
    warnings: list[FieldError] = []
    positions: dict[str, int] = {}
    headers: dict[str, str] = {}
    damaged: list[FieldError] = []
    for index, raw in enumerate(header):
        if problem := forbidden_character(raw):
            # A damaged or binary file: said as such, not as « colonne manquante ».
            damaged.append(
                FieldError(
                    header_line, None, f"titre de colonne «\u00a0{shown(raw)}\u00a0» : {problem}."
                )
            )
            continue
        name = " ".join(raw.split())
        if not name:
            continue
        column = next((c for c in columns if c.matches(name)), None)
        if column is None:
            warnings.append(FieldError(header_line, shown(name), "colonne inconnue, ignorée."))
            continue
        if column.key in positions:
            errors.append(
                FieldError(
                    header_line,
                    shown(name),
                    f"colonne en double (déjà en position {positions[column.key] + 1}).",
                )
            )
            continue
        positions[column.key] = index
        headers[column.key] = shown(name, 200)
    if damaged:
        # The header itself is damaged: which columns are missing would be said of garbage.
        raise FileRefused(source, damaged)
    for column in columns:
        if column.required and column.key not in positions:
            errors.append(missing_column(header_line, column.label, header))
    if errors:
        raise FileRefused(source, errors)
    rows: list[CsvRow] = []
    width = len(header)
    for line, values in records[1:]:
        extra = [v for v in values[width:] if v.strip()]
        if extra:
            errors.append(
                FieldError(
                    line,
                    None,
                    f"{len(values)} valeurs pour {width} colonnes : vérifiez le séparateur "
                    "et les guillemets.",
                )
            )
            continue
        cells = {
            key: (values[index] if index < len(values) else "") for key, index in positions.items()
        }
        # Checked before ``strip``, which takes a trailing U+001F for a space.
        errors.extend(_cell_problems(line, cells, headers))
        rows.append(CsvRow(line=line, cells={k: _clean(v) for k, v in cells.items()}))
    if errors:
        raise FileRefused(source, errors)
    if not rows:
        raise FileRefused(
            source, [FieldError(None, None, "le fichier ne contient que la ligne d'en-tête.")]
        )
    labels = {column.key: column.label for column in columns}
    return CsvTable(
        source, encoding, delimiter, headers, rows, warnings, labels, header_line, tuple(header)
    )


def missing_column(header_line: int, label: str, header: Sequence[str]) -> FieldError:
    """``colonne « Heures » : colonne manquante. Colonnes trouvées : « SIRET », …``."""
    found = _found_titles(header)
    return FieldError(
        header_line, label, f"colonne manquante. Colonnes trouvées : {found or 'aucune'}."
    )


def _found_titles(header: Sequence[str]) -> str:
    """The titles a header holds, as a « colonne manquante » error lists them: shown safely, and
    only the first ones (a binary file read as text has a "header" of any length)."""
    titles = [f"« {shown(h, 60)} »" for h in header if h.strip()]
    more = len(titles) - _FOUND_TITLES
    listed = ", ".join(titles[:_FOUND_TITLES]) + (f" et {more} autres" if more > 0 else "")
    return listed


def _cell_problems(line: int, cells: dict[str, str], headers: dict[str, str]) -> list[FieldError]:
    """Cells no import reads: a control character, or a length no value has."""
    problems = []
    for key, value in cells.items():
        if len(value) > MAX_CELL:
            problems.append(
                FieldError(
                    line,
                    headers[key],
                    f"{len(value)} caractères, {MAX_CELL} au plus par cellule : vérifiez le "
                    "séparateur et les guillemets.",
                )
            )
        elif problem := forbidden_character(value):
            problems.append(FieldError(line, headers[key], f"« {shown(value)} » : {problem}."))
    return problems


def _clean(value: str) -> str:
    return plain_text(value.replace("\u00a0", " ").replace("\u202f", " ").strip())


def read_file_bytes(path: Path, source: str, limits: ImportLimits | None = None) -> bytes:
    """The file's bytes, refused before reading when larger than ``limits`` allow."""
    try:
        if limits is not None:
            limits.check_size(path.stat().st_size, source)
        return path.read_bytes()
    except OSError as exc:
        raise FileRefused(
            source, [FieldError(None, None, f"lecture impossible : {_os_reason(exc)}.")]
        ) from None


def _os_reason(exc: OSError) -> str:
    """The system's reason in French (``strerror`` is in the system's language, English here)."""
    reasons = {
        errno.EACCES: "lecture interdite (droits du fichier)",
        errno.EPERM: "lecture interdite (droits du fichier)",
        errno.ENOENT: "fichier introuvable",
        errno.EISDIR: "c'est un dossier, pas un fichier",
        errno.EIO: "erreur du disque",
    }
    return reasons.get(exc.errno or 0, f"erreur système n° {exc.errno}")


def read_csv(
    path: Path | str,
    columns: Sequence[Column],
    source: str | None = None,
    limits: ImportLimits | None = None,
) -> CsvTable:
    path = Path(path)
    name = source or path.name
    data = read_file_bytes(path, name, limits)
    text, encoding = decode(data, name)
    return read_csv_text(text, columns, name, encoding, limits)


def read_csv_bytes(
    data: bytes, columns: Sequence[Column], source: str, limits: ImportLimits | None = None
) -> CsvTable:
    if limits is not None:
        limits.check_size(len(data), source)
    text, encoding = decode(data, source)
    return read_csv_text(text, columns, source, encoding, limits)


def parse_month(text: str) -> date | None:
    """``10/2026``, ``2026-10``, ``01/10/2026`` (Excel's rewrite), ``oct-26``, ``octobre 2026``."""
    raw = normalise(text).replace(".", "")
    match = re.fullmatch(r"(\d{1,2})\s*[/-]\s*(\d{4})", raw)
    if match:
        month, year = int(match.group(1)), int(match.group(2))
    elif match := re.fullmatch(r"(\d{4})\s*-\s*(\d{1,2})", raw):
        year, month = int(match.group(1)), int(match.group(2))
    elif match := re.fullmatch(r"([a-z]+)\s*[-/ ]\s*(\d{2}|\d{4})", raw):
        if match.group(1) not in _FRENCH_MONTHS:
            return None
        month = _FRENCH_MONTHS[match.group(1)]
        year = int(match.group(2))
        year = year + 2000 if year < 100 else year
    else:
        day = parse_day(text)
        return day.replace(day=1) if day else None
    if not (1 <= month <= 12 and 1900 <= year <= 2999):
        return None
    return date(year, month, 1)


def parse_day(text: str) -> date | None:
    """``15/03/2026`` (also ``15-03-2026``, ``2026-03-15``); None when it is not a date."""
    raw = text.strip()
    for pattern in ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(raw, pattern).date()
        except ValueError:
            continue
    return None


class RowReader:
    """Reads the cells of one row, recording each problem as a ``FieldError`` of that cell."""

    def __init__(self, table: CsvTable, row: CsvRow, errors: list[FieldError]) -> None:
        self.table = table
        self.row = row
        self.errors = errors
        self.ok = True

    def fail(self, key: str | None, message: str) -> None:
        column = self.table.column_name(key) if key else None
        self.errors.append(FieldError(self.row.line, column, message))
        self.ok = False

    def refuse(self, key: str | None, refused: ClausesError) -> None:
        """``fail`` with a service's refusal, its hint kept for each interface."""
        column = self.table.column_name(key) if key else None
        self.errors.append(FieldError.of(self.row.line, column, refused))
        self.ok = False

    def raw(self, key: str) -> str:
        return self.row.cells.get(key, "")

    def text(self, key: str, *, required: bool = True, max_length: int = 200) -> str | None:
        value = " ".join(self.raw(key).split())
        if not value:
            if required:
                self.fail(key, "valeur manquante.")
            return None
        if len(value) > max_length:
            self.fail(key, f"{len(value)} caractères, {max_length} au plus.")
            return None
        return value

    def decimal(self, key: str, *, required: bool = True) -> Decimal | None:
        raw = self.raw(key)
        if not raw:
            if required:
                self.fail(key, "valeur manquante.")
            return None
        try:
            return parse_decimal(raw, self.table.column_name(key))
        except InputRefused:
            self.fail(key, f"« {raw} » n'est pas un nombre (exemple : 3 780 000,00).")
            return None

    def hours(self, key: str, *, required: bool = True) -> Decimal | None:
        """Hours as people type them: ``151,67``, ``35h``, ``35 h``, ``35 heures``."""
        raw = self.raw(key)
        if not raw:
            if required:
                self.fail(key, "valeur manquante.")
            return None
        try:
            return parse_hours(raw)
        except InputRefused as refused:
            self.fail(key, str(refused))
        return None

    def positive(self, key: str, *, required: bool = True) -> Decimal | None:
        value = self.decimal(key, required=required)
        if value is not None and value <= 0:
            self.fail(key, f"« {self.raw(key)} » doit être strictement positif.")
            return None
        return value

    def whole(self, key: str, *, required: bool = True) -> int | None:
        """A positive whole number such as ``1 200``."""
        value = self.positive(key, required=required)
        if value is not None and value != value.to_integral_value():
            self.fail(key, f"« {self.raw(key)} » doit être un nombre entier.")
            return None
        return None if value is None else int(value)

    def ratio(self, key: str, *, required: bool = True) -> Decimal | None:
        raw = self.raw(key)
        if not raw:
            if required:
                self.fail(key, "valeur manquante.")
            return None
        try:
            return parse_ratio(raw, self.table.column_name(key))
        except InputRefused:
            self.fail(
                key, f"« {raw} » doit être un pourcentage entre 0 et 100 %, par exemple 50 %."
            )
            return None

    def day(self, key: str, *, required: bool = True) -> date | None:
        raw = self.raw(key)
        if not raw:
            if required:
                self.fail(key, "valeur manquante.")
            return None
        value = parse_day(raw)
        if value is None:
            self.fail(key, f"« {raw} » n'est pas une date (jj/mm/aaaa).")
        return value

    def month(self, key: str, *, required: bool = True) -> date | None:
        raw = self.raw(key)
        if not raw:
            if required:
                self.fail(key, "valeur manquante.")
            return None
        value = parse_month(raw)
        if value is None:
            self.fail(key, f"« {raw} » n'est pas un mois (mm/aaaa, par exemple 10/2026).")
        return value

    def choice(self, key: str, choices: ChoiceList[E], *, required: bool = True) -> E | None:
        """The value a cell chooses from one of a declaration line's lists (contract, delivery
        mode, criterion), or None with its problem recorded in the words the web form and the
        API use (``domain.choices.choice_problem``: the value refused, the one probably meant,
        the accepted values), after the file's line and column. An empty cell of an optional
        column is no problem; of a required one, it is said missing with the accepted values."""
        raw = self.raw(key)
        if not raw.strip() and not required:
            return None
        found = match_choice(choices, raw)
        if found is None:
            self.fail(key, choice_problem(choices, raw))
        return found


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


#: La Poste's establishments share one SIREN and do not follow the Luhn key.
_LA_POSTE_SIREN = "356000000"


def parse_siret(text: str) -> str | None:
    """14 digits (spaces forgiven) with a valid Luhn key; None otherwise."""
    digits = re.sub(r"[\s.]", "", text)
    if not re.fullmatch(r"\d{14}", digits):
        return None
    if digits.startswith(_LA_POSTE_SIREN) or luhn_ok(digits):
        return digits
    return None
