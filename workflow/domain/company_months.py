"""Which months of a lot a company's declaration is expected for, by its own months on the lot.

A company declares from the month it joined the works (``AwardParty.first_month``, None: from
the lot's start) up to its last month, where it left the site (``AwardParty.last_month``, None:
to the lot's end). Its declaration of a month outside them is not asked of it, but the
facilitator may record one (the company worked then; the departure was recorded too early): that
month is expected all the same, and received. So is a month the lot asks of nobody: after its
planned end while its real end is not recorded (the works went on; the companies are called
again once it is recorded or the planned end moved), or spent entirely suspended. ``clauses
declaration list`` shows it declared and counts it among the expected; the monthly summary
counts it among the expected and the received of its month, whose hours it adds to (before 6 December 2026 its hours were counted, not the
declaration: « 210 h » for « toutes reçues (2 sur 2) » where the list said 3 declared).
"""

from __future__ import annotations

from datetime import date


def on_its_months(month: date, first_month: date | None, last_month: date | None) -> bool:
    """``month`` (a first of the month) is among the company's months on the lot: not before the
    one it joined during the works, not after its last (most companies have neither)."""
    return (first_month is None or month >= first_month) and (
        last_month is None or month <= last_month
    )


def expected_of_company(
    month: date,
    first_month: date | None,
    last_month: date | None,
    *,
    declared: bool,
    lot_asks: bool = True,
) -> bool:
    """A declaration of ``month`` is expected of the company on the lot: one of its months, of
    a month the lot asks of its companies (``lot_asks``, the caller's: False for a lot past its
    planned end, its end not recorded, or a month it spent entirely suspended), or declared all
    the same (recorded by the facilitator: it counts among the expected and the received)."""
    return declared or (lot_asks and on_its_months(month, first_month, last_month))
