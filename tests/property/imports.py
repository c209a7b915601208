"""The three imports as a property test sees them: the command, the sample file, the database it
needs, and the check every run must pass (accepted and idempotent, or refused cleanly)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from click.testing import Result

from tests.property.french import assert_file_refusal
from tests.property.world import World

DATA = Path(__file__).resolve().parent.parent / "data"


@dataclass(frozen=True)
class ImportKind:
    name: str
    command: tuple[str, ...]
    sample: Path
    template: str  # which prepared database: empty, started or declared
    #: What the second import of an accepted file says: nothing new, or refused.
    again: str

    def rows(self) -> list[list[str]]:
        """The sample as Excel wrote it: header first."""
        text = self.sample.read_bytes().decode("cp1252")
        return [row for row in csv.reader(io.StringIO(text), delimiter=";") if row]


LOTS = ImportKind("lots", ("import", "lots"), DATA / "lots-excel-fr.csv", "empty", "same")
DECLARATIONS = ImportKind(
    "declarations",
    ("declaration", "import"),
    DATA / "declaration-excel-fr.csv",
    "started",
    "refused",
)
OUTCOMES = ImportKind(
    "outcomes", ("import", "outcomes"), DATA / "outcomes-excel-fr.csv", "declared", "same"
)
KINDS = (LOTS, DECLARATIONS, OUTCOMES)


def csv_bytes(
    rows: Sequence[Sequence[str]],
    *,
    encoding: str = "cp1252",
    delimiter: str = ";",
    line_end: str = "\r\n",
) -> bytes:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter, lineterminator=line_end).writerows(rows)
    return buffer.getvalue().encode(encoding)


def import_and_check(world: World, kind: ImportKind, path: Path) -> Result:
    """Import ``path``; then the property of every import:

    - refused: exit code 1, the file named, each error with its line or column, in French, and
      the database dump identical to before;
    - accepted: importing the same file again changes nothing (« Rien de nouveau ») or is
      refused as cleanly (a declaration already recorded), the dump identical after it.
    """
    before = world.dump()
    result = world.run(*kind.command, str(path))
    if result.exit_code != 0:
        assert_file_refusal(result, path.name)
        assert world.dump() == before, "a refused file changed the database"
        return result
    assert "Traceback" not in result.output
    after = world.dump()
    again = world.run(*kind.command, str(path))
    if kind.again == "same":
        assert again.exit_code == 0, again.output
        assert "Rien de nouveau" in again.stdout, again.stdout
    else:
        bullets = assert_file_refusal(again, path.name)
        assert any("existe déjà" in b for b in bullets), bullets
    assert world.dump() == after, "importing the same file twice changed the database"
    return result
