"""The calendar options shared by ``buyer add|set`` and ``lot add|set``, and how a calendar
change is printed.

In ``set``, each rule takes a value or « défaut » (the override is cleared, the level above
applies again: the buyer's rule for a lot, the general setting for a buyer); ``--reset-calendar``
clears all three.
"""

from __future__ import annotations

from typing import Any

import click

from workflow.entrypoints.cli.clauses import calendar_data
from workflow.entrypoints.cli.common import plural, say
from workflow.services.calendar_changes import (
    DEFAULT,
    CalendarChange,
    CalendarChanged,
    Reset,
    is_default_word,
)


def calendar_options(func: Any) -> Any:
    """The three calendar overrides shared by buyers and lots."""
    func = click.option(
        "--escalation-offset",
        type=int,
        default=None,
        help="Jours ouvrés après l'échéance avant de signaler le retard au donneur d'ordre.",
    )(func)
    func = click.option(
        "--reminder-offsets",
        default=None,
        help="Jours ouvrés après l'échéance où partent les rappels, par exemple 3,7.",
    )(func)
    func = click.option(
        "--due-day",
        type=int,
        default=None,
        help="Jour du mois suivant où la déclaration est due (1 à 28).",
    )(func)
    return func


def _day_or_default(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    """A whole number of days, or « défaut » to clear the override."""
    if value is None:
        return None
    if is_default_word(value):
        return DEFAULT
    try:
        return int(value)
    except ValueError:
        raise click.BadParameter(
            f"« {value} » : un nombre entier ou « défaut » attendu.", ctx, param
        ) from None


def _offsets_or_default(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    return DEFAULT if is_default_word(value) else value


def change_calendar_options(func: Any) -> Any:
    """The calendar overrides of ``set``: a value, « défaut » for one, --reset-calendar for all."""
    func = click.option(
        "--reset-calendar",
        is_flag=True,
        help="Revenir au calendrier par défaut pour les trois règles.",
    )(func)
    func = click.option(
        "--escalation-offset",
        default=None,
        metavar="N|défaut",
        callback=_day_or_default,
        help="Jours ouvrés après l'échéance avant de signaler le retard au donneur d'ordre, "
        "ou « défaut ».",
    )(func)
    func = click.option(
        "--reminder-offsets",
        default=None,
        metavar="J1,J2|défaut",
        callback=_offsets_or_default,
        help="Jours ouvrés après l'échéance où partent les rappels (ex. 3,7), ou « défaut ».",
    )(func)
    func = click.option(
        "--due-day",
        default=None,
        metavar="N|défaut",
        callback=_day_or_default,
        help="Jour du mois suivant où la déclaration est due (1 à 28), ou « défaut ».",
    )(func)
    return func


def calendar_change(
    due_day: int | Reset | None,
    reminder_offsets: str | Reset | None,
    escalation_offset: int | Reset | None,
    reset_calendar: bool,
) -> CalendarChange:
    change = CalendarChange(due_day, reminder_offsets, escalation_offset)
    if reset_calendar and not change.empty:
        raise click.UsageError(
            "--reset-calendar remet les trois règles par défaut : ne le combinez pas avec "
            "--due-day, --reminder-offsets ou --escalation-offset."
        )
    return CalendarChange.reset() if reset_calendar else change


def print_calendar_changed(result: CalendarChanged) -> None:
    for change in result.changes:
        say(f"  - {change}")
    moved = result.replanned
    if moved.ladders:
        text = (
            f"{plural(moved.ladders, 'relance en cours replanifiée', 'relances en cours replanifiées')}"
            " selon le nouveau calendrier"
        )
        if moved.due_now:
            text += (
                f" ; {plural(moved.due_now, 'étape déjà échue partira', 'étapes déjà échues partiront')}"
                " au prochain passage du service"
            )
        say(text + ".")


def calendar_changed_data(result: CalendarChanged) -> dict[str, Any]:
    return {
        "changements": list(result.changes),
        "calendrier": calendar_data(result.calendar),
        "lots_concernes": list(result.lots),
        "relances_replanifiees": result.replanned.ladders,
        "etapes_echues": result.replanned.due_now,
    }
