"""click's own words (usage, help headings, usage errors) in French, for the ``clauses`` command.

click passes every message it prints through the ``_`` (gettext) and ``ngettext`` names its modules
imported, and names parameter types in English ("integer", "path"). ``click_in_french`` swaps those
for this catalogue while the root group runs (``FrenchGroup.main``) and puts them back afterwards, so
code importing click elsewhere (other tests, libraries) keeps click as it is. A message missing from
the catalogue stays English: the e2e test takes ``MESSAGES`` and ``PLURALS`` as its oracle.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

#: click's msgids (8.x) → French. Placeholders keep click's names; ``!r`` becomes « » around the value.
MESSAGES: dict[str, str] = {
    # Help.
    "Usage:": "Utilisation :",
    # click writes a heading then ":"; the space makes it « Options : ».
    "Options": "Options ",
    "Commands": "Commandes ",
    "Positional arguments": "Arguments ",
    "Show this message and exit.": "Affiche cette aide et quitte.",
    "Show the version and exit.": "Affiche la version et quitte.",
    "Confirm the action without prompting.": "Confirme l'action sans la demander.",
    "Do you want to continue?": "Voulez-vous continuer ?",
    "required": "obligatoire",
    "default: {default}": "par défaut : {default}",
    "env var: {var}": "variable d'environnement : {var}",
    "(dynamic)": "(calculé)",
    "deprecated": "obsolète",
    "DeprecationWarning: The command {name!r} is deprecated.{extra_message}": (
        "Attention : la commande « {name} » est obsolète.{extra_message}"
    ),
    "DeprecationWarning: The {param_type} {name!r} is deprecated.{extra_message}": (
        "Attention : le paramètre « {name} » est obsolète.{extra_message}"
    ),
    # Usage errors.
    "Error: {message}": "Erreur : {message}",
    "Try '{command} {option}' for help.": "Pour l'aide : « {command} {option} ».",
    "Aborted!": "Abandon.",
    "Missing command.": "Commande manquante.",
    "No such command {name!r}.": "Commande inconnue : « {name} ».",
    "No such option {name!r}.": "Option inconnue : « {name} ».",
    # click appends the parameter's name, then a dot: « Option manquante : '--name'. ».
    "Missing argument": "Argument manquant :",
    "Missing option": "Option manquante :",
    "Missing parameter": "Paramètre manquant :",
    "Missing {param_type}": "Paramètre manquant :",
    "Missing parameter: {param_name}": "Paramètre manquant : {param_name}",
    "Invalid value: {message}": "Valeur invalide : {message}",
    "Invalid value for {param_hint}: {message}": "Valeur invalide pour {param_hint} : {message}",
    "Value must be an iterable.": "La valeur doit être une liste.",
    "unknown error": "erreur inconnue",
    "Invalid start character for option ({option})": (
        "Caractère initial invalide pour l'option ({option})"
    ),
    "Option {name!r} does not take a value.": "L'option « {name} » ne prend pas de valeur.",
    "Argument {name!r} takes {nargs} values.": "L'argument « {name} » prend {nargs} valeurs.",
    # Values.
    "Choose from:\n\t{choices}": "Valeurs possibles :\n\t{choices}",
    "{value!r} is not a valid {number_type}.": "« {value} » n'est pas un {number_type} valide.",
    "{value} is not in the range {range}.": "{value} n'est pas dans l'intervalle {range}.",
    "{value!r} is not a valid boolean. Recognized values: {states}": (
        "« {value} » n'est pas un booléen valide. Valeurs reconnues : {states}"
    ),
    "{value!r} is not a valid UUID.": "« {value} » n'est pas un UUID valide.",
    "Could not open file {filename!r}: {message}": (
        "Impossible d'ouvrir le fichier « {filename} » : {message}"
    ),
    "{name} {filename!r} does not exist.": "{name} « {filename} » introuvable.",
    "{name} {filename!r} is a file.": "{name} « {filename} » : c'est un fichier.",
    "{name} {filename!r} is a directory.": "{name} « {filename} » : c'est un dossier.",
    "{name} {filename!r} is not readable.": "{name} « {filename} » : lecture interdite.",
    "{name} {filename!r} is not writable.": "{name} « {filename} » : écriture interdite.",
    "{name} {filename!r} is not executable.": "{name} « {filename} » : exécution interdite.",
    # Prompts.
    "Repeat for confirmation": "Répétez pour confirmer",
    "Error: The two entered values do not match.": "Erreur : les deux saisies diffèrent.",
    "Error: invalid input": "Erreur : saisie invalide",
    "Press any key to continue...": "Appuyez sur une touche pour continuer…",
    "{editor}: Editing failed": "{editor} : échec de l'édition",
    "{editor}: Editing failed: {e}": "{editor} : échec de l'édition : {e}",
}

#: click's (singular, plural) msgids → French (singular, plural).
PLURALS: dict[tuple[str, str], tuple[str, str]] = {
    ("Got unexpected extra argument ({args})", "Got unexpected extra arguments ({args})"): (
        "Argument en trop : {args}",
        "Arguments en trop : {args}",
    ),
    ("Did you mean {possibility}?", "(Did you mean one of: {possibilities}?)"): (
        "Vouliez-vous dire {possibility} ?",
        "(Vouliez-vous dire l'une de ces valeurs : {possibilities} ?)",
    ),
    ("{value!r} is not {choice}.", "{value!r} is not one of {choices}."): (
        "« {value} » n'est pas {choice}.",
        "« {value} » n'est pas l'une des valeurs {choices}.",
    ),
    (
        "{value!r} does not match the format {format}.",
        "{value!r} does not match the formats {formats}.",
    ): (
        "« {value} » ne suit pas le format {format}.",
        "« {value} » ne suit aucun des formats {formats}.",
    ),
    ("Option {name!r} requires an argument.", "Option {name!r} requires {nargs} arguments."): (
        "L'option « {name} » attend une valeur.",
        "L'option « {name} » attend {nargs} valeurs.",
    ),
    ("Takes {nargs} values but 1 was given.", "Takes {nargs} values but {len} were given."): (
        "Attend {nargs} valeurs, 1 donnée.",
        "Attend {nargs} valeurs, {len} données.",
    ),
    (
        "{len_type} values are required, but {len_value} was given.",
        "{len_type} values are required, but {len_value} were given.",
    ): (
        "{len_type} valeurs attendues, {len_value} donnée.",
        "{len_type} valeurs attendues, {len_value} données.",
    ),
}

#: Parameter type names: in "'abc' n'est pas un entier valide." and in metavars (``ENTIER``).
TYPE_NAMES: dict[str, str] = {
    "integer": "entier",
    "integer range": "entier",
    "float": "nombre",
    "float range": "nombre",
    "text": "texte",
    "boolean": "booléen",
    "file": "fichier",
    "directory": "dossier",
    "path": "chemin",
    "filename": "fichier",
}

#: A group's usage line, « clauses [OPTIONS] COMMAND [ARGS]... », is not in click's catalogue.
SUBCOMMAND_METAVAR = "COMMANDE [ARGUMENTS]..."

#: The click modules whose ``_`` / ``ngettext`` print something a person reads.
_MODULES = (
    "click.core",
    "click.decorators",
    "click.exceptions",
    "click.formatting",
    "click.parser",
    "click.termui",
    "click.types",
    "click._termui_impl",
)

_ABSENT = object()


def gettext(message: str) -> str:
    return MESSAGES.get(message, message)


def ngettext(singular: str, plural: str, n: int) -> str:
    french = PLURALS.get((singular, plural))
    if french is None:
        return singular if n == 1 else plural
    # French takes the singular for 0 and 1.
    return french[0] if n <= 1 else french[1]


def _commands(command: click.Command) -> Iterator[click.Command]:
    yield command
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            yield from _commands(sub)


_QUOTED = re.compile(r"'([^']*)'")


def _french_hint(english: Callable[..., str]) -> Callable[..., str]:
    """click quotes a parameter's name as in English ('--due-day'); French puts it in « »."""

    def hint(self: click.Parameter, ctx: click.Context | None) -> str:
        return _QUOTED.sub("«\u00a0\\1\u00a0»", english(self, ctx))

    return hint


@contextmanager
def click_in_french(command: click.Command) -> Iterator[None]:
    """click speaks French for ``command`` and its subcommands until the block ends."""
    saved: list[tuple[Any, str, Any]] = []

    def swap(target: Any, name: str, value: Any) -> None:
        saved.append((target, name, vars(target).get(name, _ABSENT)))
        setattr(target, name, value)

    for module_name in _MODULES:
        module = importlib.import_module(module_name)
        if hasattr(module, "_"):
            swap(module, "_", gettext)
        if hasattr(module, "ngettext"):
            swap(module, "ngettext", ngettext)
    for cls in (click.Parameter, click.Option, click.Argument):
        if "get_error_hint" in vars(cls):
            swap(cls, "get_error_hint", _french_hint(vars(cls)["get_error_hint"]))
    seen: set[int] = set()
    for each in _commands(command):
        if isinstance(each, click.Group) and not each.chain:
            swap(each, "subcommand_metavar", SUBCOMMAND_METAVAR)
        for param in each.params:
            french_name = TYPE_NAMES.get(param.type.name)
            # click.INT and the like are shared: swap each once, to restore the English name.
            if french_name is not None and id(param.type) not in seen:
                seen.add(id(param.type))
                swap(param.type, "name", french_name)
    try:
        yield
    finally:
        for target, name, value in reversed(saved):
            if value is _ABSENT:
                delattr(target, name)
            else:
                setattr(target, name, value)


class FrenchGroup(click.Group):
    """The root group: its ``main`` (the ``clauses`` command, and ``CliRunner.invoke``) runs in French."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        with click_in_french(self):
            return super().main(*args, **kwargs)
