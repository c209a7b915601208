"""One exception hierarchy for everything the service refuses.

Every message is French, because a facilitator reads it: it names the object, its state and what
would have been accepted. The CLI maps ``InputRefused`` to exit code 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class ClausesError(Exception):
    """Erreur du service des clauses."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())

    @property
    def message(self) -> str:
        return str(self.args[0])


class InputRefused(ClausesError):
    """La saisie a été refusée ; rien n'a été modifié."""


class NotFound(InputRefused):
    """L'objet demandé n'existe pas."""


class TransitionRefused(InputRefused):
    """Le changement d'étape demandé n'est pas permis."""


class ConcurrentChange(ClausesError):
    """La clause a été modifiée en même temps par quelqu'un d'autre ; recommencez."""


class SettingsInvalid(ClausesError):
    """Un réglage est invalide."""


class SchedulerAlreadyRunning(ClausesError):
    """Un autre service tourne déjà sur cette base SQLite."""


@dataclass(frozen=True)
class FieldError:
    """One problem in one cell of an input file: where it is and what is wrong."""

    line: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"ligne {self.line}")
        if self.column:
            where.append(f"colonne « {self.column} »")
        prefix = ", ".join(where)
        return f"{prefix} : {self.message}" if prefix else self.message


class FileRefused(InputRefused):
    """Le fichier a été refusé en entier : rien n'a été importé."""

    def __init__(self, source: str, errors: Sequence[FieldError]) -> None:
        self.source = source
        self.errors = list(errors)
        count = len(self.errors)
        head = f"{source} : {count} erreur{'s' if count > 1 else ''}, rien n'a été importé."
        lines = [head, *(f"  - {error}" for error in self.errors)]
        super().__init__("\n".join(lines))


class DatabaseTrouble(ClausesError):
    """La base de données n'a pas pu faire l'opération ; rien n'en a été enregistré.

    ``fault`` is True when the database itself failed (connection cut, disk full): the CLI says
    « Erreur » then, and « Refusé » when the request could not be done as it stands (a schema to
    initialise, a concurrent change, a server out of reach).
    """

    def __init__(self, message: str, *, fault: bool) -> None:
        super().__init__(message)
        self.fault = fault
