"""The keys of the declaration ladder's emails: ``reminder:<clause>:<company>:<months>:<step>``.

Derived from what caused the email, never from the clock: one email may cover several months of
one company on one lot (``2026-09..2026-11``). ``key_months`` reads them back. Pure functions, of
their own module so that what reads the keys (the withdrawal of the emails of a month no longer
owed, ``lot_ends``) does not import the emails themselves.

A step whose email the service withdrew before it left (« Retiré … »: the lot suspended, its
work ended, the month declared) may be sent again when its ladder comes back to it: the same
key then carries the sending's number, ``…:call~2``, ``…:call~3`` (``sent_again_key``), counted
from the emails withdrawn so, so that two passes or two instances write one email. An email a
person cancelled (« Annulé par … », ``clauses mail cancel``) keeps its key taken: its step is
never sent again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from workflow.domain.calendar import add_months, month_runs
from workflow.emails.envelope import OutboxState

KEY_PREFIX = "reminder"
#: Between a step and the number of its sending, from the second one on (``call~2``).
SENDING_MARK = "~"
#: What ``last_error`` of an email the service withdrew before it left starts with (« Retiré :
#: le mois a été déclaré… », « Retiré : lot suspendu le… », « Retiré : l'exécution s'est
#: achevée… », and « Remplacé : l'exécution s'est achevée… » for one the finish wrote again for
#: fewer months: the months it dropped never got it); a person's cancellation starts with
#: « Annulé par » and is never sent again.
WITHDRAWN_PREFIXES = ("Retiré", "Remplacé")


def months_text(months: Iterable[date]) -> str:
    """``2026-09..2026-11,2027-01``: the months as runs of consecutive months."""
    runs = month_runs(months)
    return ",".join(
        f"{run[0]:%Y-%m}" if len(run) == 1 else f"{run[0]:%Y-%m}..{run[-1]:%Y-%m}" for run in runs
    )


_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")


def _month(text: str) -> date:
    found = _MONTH.fullmatch(text)
    if found is None:
        raise ValueError(text)
    return date(int(found.group(1)), int(found.group(2)), 1)


def parse_months(text: str) -> list[date]:
    """The months of ``months_text``; [] when it is not such a text. (Read for every ladder
    email of a digest: no ``strptime``, which costs twenty times more.)"""
    found: list[date] = []
    try:
        for run in text.split(","):
            first, _, last = run.partition("..")
            start = _month(first)
            end = _month(last) if last else start
            while start <= end:
                found.append(start)
                start = add_months(start, 1)
    except ValueError:
        return []
    return found


def step_key(clause_id: int, company_id: int, months: date | Iterable[date], step: str) -> str:
    """The key of the email of ``step`` for ``months`` (one month or several)."""
    listed = [months] if isinstance(months, date) else list(months)
    return f"{KEY_PREFIX}:{clause_id}:{company_id}:{months_text(listed)}:{step}"


def sent_again_key(key: str, sending: int) -> str:
    """``key`` (a ``step_key``) of the step's ``sending``-th email: itself for the first."""
    return key if sending <= 1 else f"{key}{SENDING_MARK}{sending}"


def withdrawn_by_service(state: str, last_error: str | None) -> bool:
    """An email the service withdrew before it left (or wrote again for fewer months), whose
    step may be sent again for the months it no longer covers; not one a person cancelled
    (« Annulé par … »)."""
    return state == OutboxState.CANCELLED and (last_error or "").startswith(WITHDRAWN_PREFIXES)


@dataclass(frozen=True)
class LadderKey:
    clause_id: int
    company_id: int
    months: tuple[date, ...]
    step: str
    #: 1 for the step's first email, n for the n-th, sent after n - 1 were withdrawn.
    sending: int = 1


def key_months(key: str) -> LadderKey | None:
    """What a ladder email's key covers; None for any other key."""
    parts = key.split(":")
    if len(parts) != 5 or parts[0] != KEY_PREFIX:
        return None
    try:
        clause_id, company_id = int(parts[1]), int(parts[2])
    except ValueError:
        return None
    months = parse_months(parts[3])
    if not months:
        return None
    step, mark, number = parts[4].partition(SENDING_MARK)
    sending = 1
    if mark:
        if not number.isdigit() or int(number) < 2:
            return None
        sending = int(number)
    return LadderKey(clause_id, company_id, tuple(months), step, sending)
