"""What may be recorded about a participant: sex, birth year, the proof of eligibility; and
when a participant counts as active (``worked``).

Pure rules shared by the CLI and the declaration import. Only the birth year is kept (GDPR), so
the age rule works on years: someone must be at least ``MIN_AGE`` during the current year.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Protocol, TypeVar

from workflow.domain.vocabulary import Sex, normalise

EARLIEST_BIRTH_YEAR = 1900
MIN_AGE = 14  # the youngest age at which one may work (apprenticeship, school holidays)
EARLIEST_VALIDATION_YEAR = 1900
PROOF_MAX = 200

_Verdict_co = TypeVar("_Verdict_co", covariant=True)

SEX_WORDS: dict[str, Sex] = {
    "f": Sex.FEMALE,
    "femme": Sex.FEMALE,
    "feminin": Sex.FEMALE,
    "m": Sex.MALE,
    "h": Sex.MALE,
    "homme": Sex.MALE,
    "masculin": Sex.MALE,
}


def parse_sex(text: str) -> Sex | None:
    """``F``, ``Femme``, ``M``, ``H``, ``Homme`` (any case, accents forgiven); None otherwise."""
    return SEX_WORDS.get(normalise(text))


def latest_birth_year(this_year: int) -> int:
    return this_year - MIN_AGE


def birth_year_problem(year: int, this_year: int) -> str | None:
    """Why ``year`` cannot be a participant's birth year, in French; None when it can."""
    latest = latest_birth_year(this_year)
    if EARLIEST_BIRTH_YEAR <= year <= latest:
        return None
    return (
        f"année de naissance {year} impossible : entre {EARLIEST_BIRTH_YEAR} et {latest} "
        f"(au moins {MIN_AGE} ans cette année)."
    )


def parse_birth_year(text: str) -> int | None:
    """Four digits such as ``1987`` (spaces around forgiven); None otherwise."""
    raw = text.strip()
    return int(raw) if re.fullmatch(r"\d{4}", raw) else None


def clean_proof(text: str) -> str:
    """The proof's wording with single spaces; empty when nothing was given."""
    return " ".join(text.split())


def proof_problem(proof: str) -> str | None:
    if not proof:
        return (
            "justificatif vide : indiquez la pièce vérifiée, par exemple "
            "« Attestation France Travail DELD »."
        )
    if len(proof) > PROOF_MAX:
        return f"justificatif trop long : {len(proof)} caractères, {PROOF_MAX} au plus."
    return None


def validation_date_problem(on: date, today: date) -> str | None:
    """A validation is recorded once the proof was seen: never in the future."""
    if on > today:
        return (
            f"date de validation {on:%d/%m/%Y} dans le futur : on valide l'éligibilité une fois "
            f"le justificatif vu (aujourd'hui : {today:%d/%m/%Y})."
        )
    if on.year < EARLIEST_VALIDATION_YEAR:
        return f"date de validation {on:%d/%m/%Y} impossible : l'année s'écrit sur 4 chiffres."
    return None


# --- Who counts as active -------------------------------------------------------------------


class _Hours(Protocol[_Verdict_co]):
    """Hours that can be compared with a number: a ``Decimal``, or a column in a query."""

    def __gt__(self, other: int, /) -> _Verdict_co: ...


def worked(hours: _Hours[_Verdict_co]) -> _Verdict_co:
    """Whether a declaration line's ``hours`` are work: the one rule for every count of
    participants (the monthly summary's active and new, the annual report's participants, the
    contracts by type, an outcome's first month). A participant is active in a period when
    they worked hours in it; a line declared at 0 h (the company keeps someone on its list in a
    month without work) is no activity, so it never makes anyone active, new or counted.

    Written once for both worlds: given a ``Decimal`` it answers a ``bool``; given a SQL column
    it gives the condition a query filters on (``hours > 0``), so the summaries, the annual
    report and the audit that recompiles them cannot drift apart.
    """
    return hours > 0
