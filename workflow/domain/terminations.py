"""A contract terminated during the works (« marché résilié »), as its history row tells it.

No column holds a termination: the history row of the event ``terminate`` does, starting as
``termination_reason`` writes it (« Marché résilié le 15/10/2026, motif : « … ». », then what the
end released), and ``reason_of`` reads the reason back. Its date is the lot's end date as it
stands (an end corrected since is the termination date corrected).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

NBSP = "\u00a0"
#: The start of a termination's history row; the reason sits between the French quotes.
_PATTERN = re.compile(
    rf"^Marché résilié le \d{{2}}/\d{{2}}/\d{{4}}, motif{NBSP}: «{NBSP}(?P<reason>.*?){NBSP}»\.(?: |$)",
    re.DOTALL,
)
#: The history event of a termination (``ClauseEvent.TERMINATE``).
TERMINATE = "terminate"


@dataclass(frozen=True)
class Termination:
    """The day the contract was terminated and why, as the facilitator recorded it."""

    on: date
    reason: str

    @property
    def said(self) -> str:
        """« résilié le 15/10/2026 (défaillance du titulaire) »: the lot's page and listings."""
        return f"résilié le {self.on:%d/%m/%Y} ({self.reason})"


def termination_reason(on: date, reason: str) -> str:
    """The head of the termination's history row, read back by ``reason_of``."""
    # The quotes delimit the reason: one typed with them is kept, its own quotes made plain.
    given = " ".join(reason.replace("«", '"').replace("»", '"').split())
    return f"Marché résilié le {on:%d/%m/%Y}, motif{NBSP}: «{NBSP}{given}{NBSP}»."


def reason_of(text: str | None) -> str | None:
    """The reason typed, from a termination's history row; None for any other text."""
    found = _PATTERN.match(text or "")
    return found.group("reason") if found else None


def termination_in(
    rows: Iterable[tuple[str, str | None]], end_date: date | None
) -> Termination | None:
    """The termination told by a lot's history rows (event, reason), oldest first, ending on
    ``end_date``; None for a lot not terminated."""
    if end_date is None:
        return None
    found = None
    for event, text in rows:
        if event == TERMINATE:
            reason = reason_of(text)
            if reason is not None:
                found = Termination(end_date, reason)
    return found
