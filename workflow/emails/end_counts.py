"""The monthly declarations of a lot at its end, as the buyer's notices of the end count them.

« Mois déclarés : X sur Y (Z restent à déclarer) », « Déclarations mensuelles reçues : X sur Y,
Z encore attendues », the subject's « déclarées à ce jour » or « réalisées », « N mois restent à
déclarer » : every figure of ``notice_execution_ended`` and ``notice_end_corrected``
(``_base/end_results``) reads them here, counted by ``services.end_declarations`` with the rule
of ``clauses declaration list`` and of ``months_owed`` (a month the lot spent suspended whole,
or after the last month of a company that left the site, is asked of nobody), so that X + Z = Y.

Before, the templates counted « mois du lot × entreprises » in Jinja: a lot suspended for
July and August read « 5 sur 7 (2 restent à déclarer) » while nobody would ever ask those
months, and a subcontractor that left the site was counted as owing every month after.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DeclarationCounts:
    """The lot's monthly declarations, one per company x month asked."""

    #: Received from the companies of the award as it stands (the « X »).
    received: int
    #: Asked of them and not received yet, up to the lot's end (the « Z »).
    owed: int
    #: The companies of the award (at least one is said: « Mois déclarés » for one).
    companies: int
    #: The months each company is asked when every one is asked the same ones (none left the
    #: site nor joined during the works): « (n mois × m entreprises) »; None otherwise.
    months_each: int | None = None
    #: The months still owed, by company: (its name, the months named), in the order of names;
    #: the end's notice names them (« Gimone Second Œuvre SAS : mars 2027 »), as the
    #: termination's does (user trial: « 1 reste à déclarer » said neither who nor which).
    owed_named: tuple[tuple[str, str], ...] = ()

    @property
    def expected(self) -> int:
        """The « Y »: those received and those still owed, so that the figures add up."""
        return self.received + self.owed


def declarations_context(counts: DeclarationCounts) -> dict[str, Any]:
    """What the templates read: they compute nothing (« sur Y » is left out when nothing was
    ever asked, a lot without start)."""
    return {
        "received": counts.received,
        "expected": counts.expected,
        "owed": counts.owed,
        "companies": max(counts.companies, 1),
        "several": counts.companies > 1,
        "months_each": counts.months_each if counts.companies > 1 else None,
        "owed_named": [
            {"company": name, "months_named": months} for name, months in counts.owed_named
        ],
    }


#: The sample lot's (``emails.notices.sample_results``): 16 months x 2 companies, all in.
SAMPLE_COUNTS = DeclarationCounts(received=32, owed=0, companies=2, months_each=16)
