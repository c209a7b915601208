"""What may be recorded about a participant: sex, birth year, the proof of eligibility; what
a reference may not be (a name, ``name_problem``); and when a participant counts as active
(``worked``).

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


#: A word of a person's name: letters only, joined by a hyphen or an apostrophe (« Jean-Marc »,
#: « N'Diaye »); a digit, a dot or any other sign makes it a code, not a name.
_NAME_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
#: What parts the words of what was typed (« DUPONT, Marie »).
_NAME_GAP = re.compile(r"[\s,]+")
#: The example of a reference said to whoever typed a name.
REFERENCE_EXAMPLE = "P-0042"


#: Words that name a role or a group, not a person: « Salarié Un », « Agent ETTI », « Équipe
#: Nord » are codes a facilitator may give (review: refused as names at first).
_ROLE_WORDS = frozenset(
    {
        "salarie",
        "salariee",
        "agent",
        "apprenti",
        "apprentie",
        "interimaire",
        "stagiaire",
        "jeune",
        "ouvrier",
        "ouvriere",
        "compagnon",
        "personne",
        "participant",
        "participante",
        "equipe",
        "poste",
        "beneficiaire",
    }
)


def _name_word(word: str) -> bool:
    """A word that may be part of a person's name: two letters or more, not a role word, not
    an acronym (all capitals, four letters at most: « BTP », « ETTI », « QPV »)."""
    if len(word) < 2 or (word.isupper() and len(word) <= 4):
        return False
    return normalise(word) not in _ROLE_WORDS


def looks_like_a_name(reference: str) -> bool:
    """Whether ``reference`` is written as a person's first and last name: two words or more of
    letters only, no digit, two of them name words (``_name_word``), whatever their case
    (« Jean Dupont », « DUPONT Marie », « jean dupont », « Marie-Claire de la Tour »).
    References are codes: « P-0007 », « P0000012 », « PRV-12 », « P-WEB-1 » all hold a digit
    or are one word; a single letter, a role or an acronym does not make a name (« Salarié A »,
    « Agent ETTI », « Jeune QPV », « AB CD »)."""
    words = [word for word in _NAME_GAP.split(reference) if word]
    if len(words) < 2 or not all(_NAME_WORD.fullmatch(word) for word in words):
        return False
    return sum(1 for word in words if _name_word(word)) >= 2


def name_problem(reference: str) -> str | None:
    """Why ``reference`` cannot be given to a new participant because it reads as a name (DOMAIN:
    the service keeps no names, a participant is known by a pseudonymous reference), in French;
    None when it can. Said after the line and field: « ligne 2, référence : … »."""
    if not looks_like_a_name(reference):
        return None
    return (
        f"« {reference} » ressemble à un nom : n'indiquez pas le nom de la personne, mais sa "
        f"référence (ex. {REFERENCE_EXAMPLE}), celle que vous lui donnez chaque mois ; le service "
        "ne garde aucun nom."
    )


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
