"""Parameter types that stop at the command line what the database cannot hold.

click's ``int`` takes any size of number and its ``str`` any character. A number past what an
INTEGER column holds (2 147 483 647) crashed SQLite (« Python int too large ») and made PostgreSQL
refuse the query; a control character or a byte that is not UTF-8 (a lone surrogate, as Python
reads such an argument) was stored, or crashed the encoder. These types refuse them as usage
errors (exit code 2), in French, naming the parameter.

``guard_parameters`` gives every command these types in one call (the ``clauses`` group does it
for all its commands), so that a new option is covered without anyone thinking of it: each ``str``
parameter becomes ``TEXT``, each ``int`` one ``WHOLE``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import click

from workflow.domain.characters import forbidden_character, shown

#: The largest value of an INTEGER column, on PostgreSQL (4 bytes) as on SQLite.
LARGEST = 2_147_483_647


def _french_number(value: int) -> str:
    return f"{value:,}".replace(",", "\u202f")


class BoundedInt(click.types.IntParamType):
    """A whole number an INTEGER column holds: a N°, hours, days, a year. Its name stays
    click's (« « un » n'est pas un entier valide. »), only the size is checked in addition."""

    name = "entier"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not -LARGEST - 1 <= number <= LARGEST:
            self.fail(
                f"«\u00a0{shown(str(value))}\u00a0» : nombre trop grand (au plus "
                f"{_french_number(LARGEST)}).",
                param,
                ctx,
            )
        return number


class Text(click.types.StringParamType):
    """Text a person typed: no control character, nothing that is not UTF-8."""

    name = "texte"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = super().convert(value, param, ctx)
        if isinstance(text, str) and (problem := forbidden_character(text)):
            self.fail(f"«\u00a0{shown(text)}\u00a0» : {problem}.", param, ctx)
        return text


WHOLE = BoundedInt()
TEXT = Text()


def guard_parameters(commands: Iterable[click.Command]) -> None:
    """Give the plain ``int`` and ``str`` parameters of ``commands`` (and of their
    subcommands) the types above."""
    for command in commands:
        for param in command.params:
            kind = type(param.type)
            if kind is click.types.StringParamType:
                param.type = TEXT
            elif kind is click.types.IntParamType:
                param.type = WHOLE
        if isinstance(command, click.Group):
            guard_parameters(command.commands.values())
