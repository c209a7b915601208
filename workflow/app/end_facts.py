"""What an end of work did to the companies' months, as machines read it: the ``--json`` of
``clause advance … achever`` and ``clause end-date``, and the JSON API's answers to the same
actions. One shape for both, so a script moving from one to the other reads the same keys."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workflow.services.lot_ends import OwedAgain, ReleasedMonths


def released_data(released: Sequence[ReleasedMonths], *, links: bool = False) -> list[Any]:
    """The months no longer asked, by company: the waiting emails withdrawn, those written
    again without them (``sans``), and those that could not be and still ask one (the
    facilitator cancels them; with ``links``, each with its page on the site)."""
    return [
        {
            "entreprise_id": r.company_id,
            "entreprise": r.company,
            "mois": [f"{m:%Y-%m}" for m in r.months],
            "courriels_retires": list(r.withdrawn),
            "courriels_ecrits_a_nouveau": list(r.rewritten),
            "sans": [f"{m:%Y-%m}" for m in r.rewritten_without],
            "courriels_demandant_encore": [
                {"etape": step, "courriel": number}
                | ({"lien": f"/courriels/{number}"} if links else {})
                for step, number in r.still_asking
            ],
        }
        for r in released
    ]


def owed_data(owed: Sequence[OwedAgain]) -> list[Any]:
    """The months asked again after an end corrected later, by company: for each, the steps
    already sent, the next one, when it leaves and the due date it gives."""
    return [
        {
            "entreprise_id": o.company_id,
            "entreprise": o.company,
            "mois": [
                {
                    "mois": f"{m.month:%Y-%m}",
                    "etapes_envoyees": list(m.sent),
                    "etape": m.step,
                    "date": m.at,
                    "echeance": m.due_on,
                    # The step withdrawn before it left, which the reminders cannot send
                    # again: the facilitator reminds the company.
                    "courriel_retire": m.blocked_by,
                }
                for m in o.months
            ],
        }
        for o in owed
    ]
