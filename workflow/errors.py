"""One exception hierarchy for everything the service refuses.

Every message is French, because a facilitator reads it: it names the object, its state and what
would have been accepted. The CLI maps ``InputRefused`` to exit code 1.

What to do next is said in the words of the interface that shows the refusal: a ``Hint`` holds the
command line's words (« La liste : « clauses company list » ») and those of the web pages and the
API (a page to go to, or nothing). ``message`` (and ``str()``) is the text of the web and the API;
``command_line_message`` the one the CLI prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Hint:
    """The end of a message that differs by interface, joined as it is to the message's start
    (each part brings its own space and punctuation: `` La liste : « clauses company list ».``).

    ``command`` names the command to type; ``web`` is what the web pages and the API say
    instead (a page and its section), empty to say nothing more."""

    command: str
    web: str = ""


#: What the web pages and the API say of a record to find: the search of the « Corrections »
#: page finds any buyer, company, operation, market, clause or participant by N° or by name.
SEARCH_HIM = " Pour le retrouver : la recherche de la page « Corrections »."
SEARCH_HER = " Pour la retrouver : la recherche de la page « Corrections »."
#: The clauses are listed on the web by the board of the « Clauses » page.
CLAUSE_BOARD = " La liste : le tableau de la page « Clauses »."


def list_hint(command: str, web: str = "") -> Hint:
    """`` La liste : « clauses company list ».`` on the command line, ``web`` elsewhere."""
    return Hint(f" La liste : « clauses {command} ».", web)


class ClausesError(Exception):
    """Erreur du service des clauses."""

    def __init__(self, message: str | None = None, *, hint: Hint | None = None) -> None:
        self.said = message or (self.__doc__ or "").strip()
        self.hint = hint
        super().__init__(self.said + (hint.web if hint else ""))

    @property
    def message(self) -> str:
        """The refusal as the web pages and the API show it: no command to type."""
        return str(self.args[0])

    @property
    def command_line_message(self) -> str:
        """The refusal as the CLI prints it, its hint naming the command to type."""
        return self.said + self.hint.command if self.hint else self.message


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
    """One problem in one cell of an input file: where it is and what is wrong (and, for a
    refusal of the service, its ``hint``: ``FieldError.of``)."""

    line: int | None
    column: str | None
    message: str
    hint: Hint | None = None

    @classmethod
    def of(cls, line: int | None, column: str | None, refused: ClausesError) -> FieldError:
        """The refusal of a line, its hint kept for each interface."""
        return cls(line, column, refused.said, refused.hint)

    def _where(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"ligne {self.line}")
        if self.column:
            where.append(f"colonne « {self.column} »")
        return ", ".join(where)

    def _said(self, message: str) -> str:
        prefix = self._where()
        return f"{prefix} : {message}" if prefix else message

    def __str__(self) -> str:
        return self._said(self.message + (self.hint.web if self.hint else ""))

    @property
    def command_line_text(self) -> str:
        return self._said(self.message + (self.hint.command if self.hint else ""))


class FileRefused(InputRefused):
    """Le fichier a été refusé en entier : rien n'a été importé."""

    def __init__(self, source: str, errors: Sequence[FieldError]) -> None:
        self.source = source
        self.errors = list(errors)
        count = len(self.errors)
        self.head = f"{source} : {count} erreur{'s' if count > 1 else ''}, rien n'a été importé."
        lines = [self.head, *(f"  - {error}" for error in self.errors)]
        super().__init__("\n".join(lines))

    @property
    def command_line_message(self) -> str:
        lines = [self.head, *(f"  - {error.command_line_text}" for error in self.errors)]
        return "\n".join(lines)


class DatabaseTrouble(ClausesError):
    """La base de données n'a pas pu faire l'opération ; rien n'en a été enregistré.

    ``fault`` is True when the database itself failed (connection cut, disk full): the CLI says
    « Erreur » then, and « Refusé » when the request could not be done as it stands (a schema to
    initialise, a concurrent change, a server out of reach).
    """

    def __init__(self, message: str, *, fault: bool) -> None:
        super().__init__(message)
        self.fault = fault
