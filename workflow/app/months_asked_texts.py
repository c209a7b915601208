"""What a change that makes months owed says of them, in words and for machines: one place for
the command line, the site and the JSON API, so that all three say the same (no IO here).

« Avril et mai 2027 seront demandés à Charpentes de l'Arrats au prochain passage, le 11 juin 2027
(à déclarer au plus tard le 22 juin 2027). »
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from workflow.adapters.templates import french_date
from workflow.emails.notices import months_named
from workflow.services.months_asked import Asked


def asked_sentence(asked: Asked, zone: ZoneInfo) -> str:
    """One company's months and the call that asks for them, its date seen in ``zone``."""
    named = months_named(asked.months)
    verb = "sera demandé" if len(asked.months) == 1 else "seront demandés"
    # A call later than the months' usual one is the next pass's: the facilitator is told it
    # is not a date of the calendar.
    when = "au prochain passage, le" if asked.late else "le"
    return (
        f"{named[:1].upper()}{named[1:]} {verb} à {asked.company} {when} "
        f"{french_date(asked.call_at.astimezone(zone))} (à déclarer au plus tard le "
        f"{french_date(asked.due_on)})."
    )


def asked_sentences(found: Sequence[Asked], zone: ZoneInfo) -> list[str]:
    return [asked_sentence(a, zone) for a in found]


def asked_data(found: Sequence[Asked]) -> list[dict[str, Any]]:
    """The ``mois_a_demander`` of ``clause advance … achever --json``, of ``lot set-end --json``
    and of the JSON API's answers to the same changes: one shape for all."""
    return [
        {
            "entreprise_id": a.company_id,
            "entreprise": a.company,
            "mois": [f"{m:%Y-%m}" for m in a.months],
            "appel_prevu": a.call_at,
            "echeance": a.due_on,
        }
        for a in found
    ]
