"""What became of a participant ("sortie"): the types a facilitator records and their groups.

The groups are those of the reporting (see DOMAIN.md, "Outcomes"): a lasting job, a transitional
job, a positive exit or another outcome. A contract's length decides between the first two, so
``CDD`` or ``intérim`` alone is not enough: ``parse_outcome_type`` asks for the length, and reads
it when the text gives it (``CDD 8 mois``, ``intérim < 6 mois``, ``CDD d'au moins 8 mois``). A bare
``formation`` is refused too: only a qualifying training is a positive exit.
"""

from __future__ import annotations

import re
from enum import StrEnum

from workflow.domain.vocabulary import OUTCOME_GROUP_LABELS, OutcomeGroup, match_label, normalise
from workflow.errors import InputRefused


class OutcomeType(StrEnum):
    CDI = "cdi"
    LONG_CDD = "cdd_6_months_or_more"
    LONG_TEMP_WORK = "temp_work_6_months_or_more"
    CIVIL_SERVICE = "civil_service"
    BUSINESS_CREATION = "business_creation"
    SHORT_CDD = "cdd_under_6_months"
    SHORT_TEMP_WORK = "temp_work_under_6_months"
    SUBSIDISED_CONTRACT = "subsidised_contract"
    QUALIFYING_TRAINING = "qualifying_training"
    INSERTION_STRUCTURE = "insertion_structure"
    JOBSEEKER = "jobseeker"
    INACTIVE = "inactive"
    LOST_CONTACT = "lost_contact"

    @property
    def group(self) -> OutcomeGroup:
        return OUTCOME_GROUPS[self]

    @property
    def label(self) -> str:
        return OUTCOME_TYPE_LABELS[self]


OUTCOME_GROUPS: dict[OutcomeType, OutcomeGroup] = {
    OutcomeType.CDI: OutcomeGroup.LASTING_JOB,
    OutcomeType.LONG_CDD: OutcomeGroup.LASTING_JOB,
    OutcomeType.LONG_TEMP_WORK: OutcomeGroup.LASTING_JOB,
    OutcomeType.CIVIL_SERVICE: OutcomeGroup.LASTING_JOB,
    OutcomeType.BUSINESS_CREATION: OutcomeGroup.LASTING_JOB,
    OutcomeType.SHORT_CDD: OutcomeGroup.TRANSITIONAL_JOB,
    OutcomeType.SHORT_TEMP_WORK: OutcomeGroup.TRANSITIONAL_JOB,
    OutcomeType.SUBSIDISED_CONTRACT: OutcomeGroup.TRANSITIONAL_JOB,
    OutcomeType.QUALIFYING_TRAINING: OutcomeGroup.POSITIVE_EXIT,
    OutcomeType.INSERTION_STRUCTURE: OutcomeGroup.POSITIVE_EXIT,
    OutcomeType.JOBSEEKER: OutcomeGroup.OTHER,
    OutcomeType.INACTIVE: OutcomeGroup.OTHER,
    OutcomeType.LOST_CONTACT: OutcomeGroup.OTHER,
}

OUTCOME_TYPE_LABELS: dict[OutcomeType, str] = {
    OutcomeType.CDI: "CDI",
    OutcomeType.LONG_CDD: "CDD de 6 mois ou plus",
    OutcomeType.LONG_TEMP_WORK: "Intérim de 6 mois ou plus",
    OutcomeType.CIVIL_SERVICE: "Emploi dans la fonction publique",
    OutcomeType.BUSINESS_CREATION: "Création ou reprise d'entreprise",
    OutcomeType.SHORT_CDD: "CDD de moins de 6 mois",
    OutcomeType.SHORT_TEMP_WORK: "Intérim de moins de 6 mois",
    OutcomeType.SUBSIDISED_CONTRACT: "Contrat aidé",
    OutcomeType.QUALIFYING_TRAINING: "Formation qualifiante",
    OutcomeType.INSERTION_STRUCTURE: "Entrée dans une autre structure d'insertion (SIAE)",
    OutcomeType.JOBSEEKER: "Demandeur d'emploi",
    OutcomeType.INACTIVE: "Inactivité",
    OutcomeType.LOST_CONTACT: "Perdu de vue",
}

OUTCOME_TYPE_ALIASES: dict[str, OutcomeType] = {
    "contrat à durée indéterminée": OutcomeType.CDI,
    "cdi intérimaire": OutcomeType.CDI,
    "cdd long": OutcomeType.LONG_CDD,
    "intérim long": OutcomeType.LONG_TEMP_WORK,
    "fonction publique": OutcomeType.CIVIL_SERVICE,
    "titularisation": OutcomeType.CIVIL_SERVICE,
    "stage dans la fonction publique": OutcomeType.CIVIL_SERVICE,
    "création d'entreprise": OutcomeType.BUSINESS_CREATION,
    "création d'activité": OutcomeType.BUSINESS_CREATION,
    "reprise d'entreprise": OutcomeType.BUSINESS_CREATION,
    "cdd court": OutcomeType.SHORT_CDD,
    "intérim court": OutcomeType.SHORT_TEMP_WORK,
    "contrat aidé hors iae": OutcomeType.SUBSIDISED_CONTRACT,
    "pec": OutcomeType.SUBSIDISED_CONTRACT,
    "parcours emploi compétences": OutcomeType.SUBSIDISED_CONTRACT,
    "cui": OutcomeType.SUBSIDISED_CONTRACT,
    "formation certifiante": OutcomeType.QUALIFYING_TRAINING,
    "formation diplômante": OutcomeType.QUALIFYING_TRAINING,
    "siae": OutcomeType.INSERTION_STRUCTURE,
    "autre siae": OutcomeType.INSERTION_STRUCTURE,
    "structure d'insertion": OutcomeType.INSERTION_STRUCTURE,
    "autre structure d'insertion": OutcomeType.INSERTION_STRUCTURE,
    "embauche dans une autre siae": OutcomeType.INSERTION_STRUCTURE,
    "chômage": OutcomeType.JOBSEEKER,
    "recherche d'emploi": OutcomeType.JOBSEEKER,
    "inactif": OutcomeType.INACTIVE,
    "inactive": OutcomeType.INACTIVE,
    "sans nouvelles": OutcomeType.LOST_CONTACT,
    "perte de contact": OutcomeType.LOST_CONTACT,
    "contact perdu": OutcomeType.LOST_CONTACT,
}

#: Contracts whose group depends on their length: (short, long).
_BY_LENGTH: dict[str, tuple[OutcomeType, OutcomeType]] = {
    "cdd": (OutcomeType.SHORT_CDD, OutcomeType.LONG_CDD),
    "interim": (OutcomeType.SHORT_TEMP_WORK, OutcomeType.LONG_TEMP_WORK),
    "mission d'interim": (OutcomeType.SHORT_TEMP_WORK, OutcomeType.LONG_TEMP_WORK),
}
_LENGTHY = re.compile(r"^(cdd|interim|mission d'interim)\b(.*)$")
_NUMBER_WORDS = {
    **{"un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6},
    **{"sept": 7, "huit": 8, "neuf": 9, "dix": 10, "onze": 11, "douze": 12},
}
# Not after a hyphen: "vingt-quatre mois" is not four months.
_NUMBER = rf"(?<![\w-])(\d+|{'|'.join(_NUMBER_WORDS)})"
_MONTHS = re.compile(rf"{_NUMBER}\s*mois\b")
_YEARS = re.compile(rf"{_NUMBER}\s*(?:ans?|annees?)\b")
# The bounds a text may put on a length, checked in this order: "<=" before "<", "au moins"
# (a minimum) before "moins de" (a maximum).
_AT_MOST = re.compile(r"<=|≤|au plus|pas plus|ou moins|maximum|\bmax\b|inferieur ou egal|jusqu")
_AT_LEAST = re.compile(r"au moins|\bplus\b|\+|>|≥|superieur|minimum|\bmini\b")
_UNDER = re.compile(r"moins|<|inferieur")
#: How long a contract must last to count as a lasting job.
LASTING_MONTHS = 6


def _count(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBER_WORDS[word]


def _months(text: str) -> int | None:
    """The length a text gives in months (``1 an``, ``8 mois``, ``un an et 3 mois``)."""
    years, months = _YEARS.search(text), _MONTHS.search(text)
    if years is None and months is None:
        return None
    return (12 * _count(years.group(1)) if years else 0) + (
        _count(months.group(1)) if months else 0
    )


def _by_length(wanted: str) -> OutcomeType | None:
    """``cdd 8 mois`` -> long CDD; ``interim < 6 mois`` -> short temp work; None when unclear.

    A bound decides only when it settles the side of 6 months: ``au moins 8 mois`` is lasting,
    ``moins de 6 mois`` is short, but ``plus de 3 mois`` or ``moins de 12 mois`` may be either.
    """
    found = _LENGTHY.match(wanted)
    if found is None:
        return None
    short, long = _BY_LENGTH[found.group(1)]
    rest = found.group(2)
    months = _months(rest)
    if months is None:
        return None
    if _AT_MOST.search(rest):
        return short if months < LASTING_MONTHS else None
    if _AT_LEAST.search(rest):
        return long if months >= LASTING_MONTHS else None
    if _UNDER.search(rest):
        return short if months <= LASTING_MONTHS else None
    return long if months >= LASTING_MONTHS else short


def match_outcome_type(text: str) -> OutcomeType | None:
    """The outcome type a person meant by ``text``; None when nothing fits."""
    found = match_label(text, OUTCOME_TYPE_LABELS, OUTCOME_TYPE_ALIASES)
    return found if found is not None else _by_length(normalise(text))


def outcome_type_problem(text: str) -> str:
    """Why ``text`` names no outcome type, in French, with what would have been accepted."""
    wanted = normalise(text)
    found = _LENGTHY.match(wanted)
    if found is not None:
        short, long = _BY_LENGTH[found.group(1)]
        return (
            f"« {text.strip()} » : précisez la durée du contrat de sortie, « {short.label} » "
            f"(emploi de transition) ou « {long.label} » (emploi durable)."
        )
    if wanted.startswith("formation"):
        return (
            f"« {text.strip()} » : précisez « {OutcomeType.QUALIFYING_TRAINING.label} » (ou "
            "certifiante, ou diplômante), seule comptée en sortie positive ; pour une autre "
            "formation, indiquez la situation de la personne (par exemple « Demandeur d'emploi »)."
        )
    accepted = " ; ".join(f"« {label} »" for label in OUTCOME_TYPE_LABELS.values())
    return f"« {text.strip()} » n'est pas un type de sortie reconnu. Types acceptés : {accepted}."


def parse_outcome_type(text: str) -> OutcomeType:
    found = match_outcome_type(text)
    if found is None:
        raise InputRefused(outcome_type_problem(text))
    return found


def types_by_group() -> dict[OutcomeGroup, list[OutcomeType]]:
    """Every type under its group, in the order of the reporting groups (for help texts)."""
    return {group: [t for t in OutcomeType if t.group is group] for group in OUTCOME_GROUP_LABELS}
