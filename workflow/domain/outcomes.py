"""What became of a participant ("sortie"): the types a facilitator records and their groups.

The groups are those of the reporting (see DOMAIN.md, "Outcomes"): a lasting job, a transitional
job, a positive exit or another outcome. A contract's length decides between the first two, so
``CDD`` or ``intérim`` alone is not enough: ``parse_outcome_type`` asks for the length, and reads
it when the text gives it (``CDD 8 mois``, ``intérim < 6 mois``, ``CDD d'au moins 8 mois``). A bare
``formation`` is asked about too (qualifying or short: they fall in different groups), and so is
``alternance`` (apprenticeship or professionalisation: facilitators count them apart).

The default mapping follows DOMAIN.md's reporting groups. Three types the field records are not
named there, and are placed by its own rules:

- apprenticeship and professionalisation contracts are employment contracts (fixed-term or
  permanent) that by law last at least six months: by the "CDD of 6 months or more" rule they are
  lasting jobs;
- a short (non-qualifying) training is not a qualifying training, the only training DOMAIN.md
  counts as a positive exit: it goes to "other".

A facilitator whose funder counts otherwise overrides the mapping with the ``outcome_groups``
setting; reports read the group through ``group_of`` at reading time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum

from workflow.domain.vocabulary import OUTCOME_GROUP_LABELS, OutcomeGroup, match_label, normalise
from workflow.errors import InputRefused


class OutcomeType(StrEnum):
    # The order is the one of the tables and of the annual report's headline.
    CDI = "cdi"
    APPRENTICESHIP = "apprenticeship_contract"
    PROFESSIONALISATION = "professionalisation_contract"
    LONG_CDD = "cdd_6_months_or_more"
    LONG_TEMP_WORK = "temp_work_6_months_or_more"
    CIVIL_SERVICE = "civil_service"
    BUSINESS_CREATION = "business_creation"
    SHORT_CDD = "cdd_under_6_months"
    SHORT_TEMP_WORK = "temp_work_under_6_months"
    SUBSIDISED_CONTRACT = "subsidised_contract"
    QUALIFYING_TRAINING = "qualifying_training"
    INSERTION_STRUCTURE = "insertion_structure"
    SHORT_TRAINING = "short_training"
    JOBSEEKER = "jobseeker"
    INACTIVE = "inactive"
    LOST_CONTACT = "lost_contact"

    @property
    def group(self) -> OutcomeGroup:
        """The default group; reports use ``group_of`` with the setting instead."""
        return OUTCOME_GROUPS[self]

    @property
    def label(self) -> str:
        return OUTCOME_TYPE_LABELS[self]


OUTCOME_GROUPS: dict[OutcomeType, OutcomeGroup] = {
    OutcomeType.CDI: OutcomeGroup.LASTING_JOB,
    # Work-study contracts of six months at least (see the module's docstring).
    OutcomeType.APPRENTICESHIP: OutcomeGroup.LASTING_JOB,
    OutcomeType.PROFESSIONALISATION: OutcomeGroup.LASTING_JOB,
    OutcomeType.LONG_CDD: OutcomeGroup.LASTING_JOB,
    OutcomeType.LONG_TEMP_WORK: OutcomeGroup.LASTING_JOB,
    OutcomeType.CIVIL_SERVICE: OutcomeGroup.LASTING_JOB,
    OutcomeType.BUSINESS_CREATION: OutcomeGroup.LASTING_JOB,
    OutcomeType.SHORT_CDD: OutcomeGroup.TRANSITIONAL_JOB,
    OutcomeType.SHORT_TEMP_WORK: OutcomeGroup.TRANSITIONAL_JOB,
    OutcomeType.SUBSIDISED_CONTRACT: OutcomeGroup.TRANSITIONAL_JOB,
    OutcomeType.QUALIFYING_TRAINING: OutcomeGroup.POSITIVE_EXIT,
    OutcomeType.INSERTION_STRUCTURE: OutcomeGroup.POSITIVE_EXIT,
    # Only a qualifying training is a positive exit (DOMAIN.md).
    OutcomeType.SHORT_TRAINING: OutcomeGroup.OTHER,
    OutcomeType.JOBSEEKER: OutcomeGroup.OTHER,
    OutcomeType.INACTIVE: OutcomeGroup.OTHER,
    OutcomeType.LOST_CONTACT: OutcomeGroup.OTHER,
}

OUTCOME_TYPE_LABELS: dict[OutcomeType, str] = {
    OutcomeType.CDI: "CDI",
    OutcomeType.APPRENTICESHIP: "Contrat d'apprentissage",
    OutcomeType.PROFESSIONALISATION: "Contrat de professionnalisation",
    OutcomeType.LONG_CDD: "CDD de 6 mois ou plus",
    OutcomeType.LONG_TEMP_WORK: "Intérim de 6 mois ou plus",
    OutcomeType.CIVIL_SERVICE: "Emploi dans la fonction publique",
    OutcomeType.BUSINESS_CREATION: "Création ou reprise d'entreprise",
    OutcomeType.SHORT_CDD: "CDD de moins de 6 mois",
    OutcomeType.SHORT_TEMP_WORK: "Intérim de moins de 6 mois",
    OutcomeType.SUBSIDISED_CONTRACT: "Contrat aidé",
    OutcomeType.QUALIFYING_TRAINING: "Formation qualifiante",
    OutcomeType.INSERTION_STRUCTURE: "Entrée dans une autre structure d'insertion (SIAE)",
    OutcomeType.SHORT_TRAINING: "Formation courte (non qualifiante)",
    OutcomeType.JOBSEEKER: "Demandeur d'emploi",
    OutcomeType.INACTIVE: "Inactivité",
    OutcomeType.LOST_CONTACT: "Perdu de vue",
}

#: How the annual report's headline counts each type: (one, several), as a flyer writes them.
OUTCOME_TYPE_WORDS: dict[OutcomeType, tuple[str, str]] = {
    OutcomeType.CDI: ("CDI", "CDI"),
    OutcomeType.APPRENTICESHIP: ("contrat d'apprentissage", "contrats d'apprentissage"),
    OutcomeType.PROFESSIONALISATION: (
        "contrat de professionnalisation",
        "contrats de professionnalisation",
    ),
    OutcomeType.LONG_CDD: ("CDD de 6 mois ou plus", "CDD de 6 mois ou plus"),
    OutcomeType.LONG_TEMP_WORK: (
        "mission d'intérim de 6 mois ou plus",
        "missions d'intérim de 6 mois ou plus",
    ),
    OutcomeType.CIVIL_SERVICE: (
        "emploi dans la fonction publique",
        "emplois dans la fonction publique",
    ),
    OutcomeType.BUSINESS_CREATION: ("création d'entreprise", "créations d'entreprise"),
    OutcomeType.SHORT_CDD: ("CDD de moins de 6 mois", "CDD de moins de 6 mois"),
    OutcomeType.SHORT_TEMP_WORK: (
        "mission d'intérim de moins de 6 mois",
        "missions d'intérim de moins de 6 mois",
    ),
    OutcomeType.SUBSIDISED_CONTRACT: ("contrat aidé", "contrats aidés"),
    OutcomeType.QUALIFYING_TRAINING: ("formation qualifiante", "formations qualifiantes"),
    OutcomeType.INSERTION_STRUCTURE: ("entrée dans une autre SIAE", "entrées dans une autre SIAE"),
    OutcomeType.SHORT_TRAINING: ("formation courte", "formations courtes"),
    OutcomeType.JOBSEEKER: ("demandeur d'emploi", "demandeurs d'emploi"),
    OutcomeType.INACTIVE: ("personne inactive", "personnes inactives"),
    OutcomeType.LOST_CONTACT: ("personne perdue de vue", "personnes perdues de vue"),
}

OUTCOME_TYPE_ALIASES: dict[str, OutcomeType] = {
    "contrat à durée indéterminée": OutcomeType.CDI,
    "cdi intérimaire": OutcomeType.CDI,
    "apprentissage": OutcomeType.APPRENTICESHIP,
    "contrat apprentissage": OutcomeType.APPRENTICESHIP,
    "contrat en apprentissage": OutcomeType.APPRENTICESHIP,
    "apprenti": OutcomeType.APPRENTICESHIP,
    "apprentie": OutcomeType.APPRENTICESHIP,
    "professionnalisation": OutcomeType.PROFESSIONALISATION,
    "professionalisation": OutcomeType.PROFESSIONALISATION,  # the frequent one-n spelling
    "contrat de professionalisation": OutcomeType.PROFESSIONALISATION,
    "contrat pro": OutcomeType.PROFESSIONALISATION,
    "contrat de pro": OutcomeType.PROFESSIONALISATION,
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
    "formation courte": OutcomeType.SHORT_TRAINING,
    "formation non qualifiante": OutcomeType.SHORT_TRAINING,
    "formation courte non qualifiante": OutcomeType.SHORT_TRAINING,
    "formation non certifiante": OutcomeType.SHORT_TRAINING,
    "formation non diplômante": OutcomeType.SHORT_TRAINING,
    "formation pré-qualifiante": OutcomeType.SHORT_TRAINING,
    "formation préqualifiante": OutcomeType.SHORT_TRAINING,
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
            f"« {text.strip()} » : précisez la durée du contrat de sortie, « {short.label} » "
            f"(emploi de transition) ou « {long.label} » (emploi durable)."
        )
    if wanted.startswith("formation"):
        return (
            f"« {text.strip()} » : précisez « {OutcomeType.QUALIFYING_TRAINING.label} » (ou "
            f"certifiante, ou diplômante) ou « {OutcomeType.SHORT_TRAINING.label} » (ou "
            "formation courte) : elles ne comptent pas dans le même groupe."
        )
    if wanted.startswith(("alternance", "contrat en alternance", "contrat d'alternance")):
        return (
            f"« {text.strip()} » : précisez « {OutcomeType.APPRENTICESHIP.label} » ou "
            f"« {OutcomeType.PROFESSIONALISATION.label} »."
        )
    accepted = " ; ".join(f"« {label} »" for label in OUTCOME_TYPE_LABELS.values())
    return f"« {text.strip()} » n'est pas un type de sortie reconnu. Types acceptés : {accepted}."


def parse_outcome_type(text: str) -> OutcomeType:
    found = match_outcome_type(text)
    if found is None:
        raise InputRefused(outcome_type_problem(text))
    return found


def types_by_group(
    overrides: Mapping[str, str] | None = None,
) -> dict[OutcomeGroup, list[OutcomeType]]:
    """Every type under its group (the mapping in force), in the order of the reporting groups.
    A group left without any type by the overrides is still listed, empty."""
    return {
        group: [t for t in OutcomeType if group_of(t.value, overrides) is group]
        for group in OUTCOME_GROUP_LABELS
    }


def outcome_groups_problem(overrides: Mapping[str, str]) -> str | None:
    """Why an ``outcome_groups`` setting cannot be used, in French, naming the accepted codes;
    None when every type and group code is known."""
    types = [t.value for t in OutcomeType]
    groups = [g.value for g in OutcomeGroup]
    unknown_types = [code for code in overrides if code not in types]
    if unknown_types:
        return (
            f"type de sortie {', '.join(f'« {c} »' for c in unknown_types)} inconnu : types "
            f"possibles {', '.join(types)}"
        )
    unknown_groups = [f"« {g} » (pour {t})" for t, g in overrides.items() if g not in groups]
    if unknown_groups:
        return f"groupe {', '.join(unknown_groups)} inconnu : groupes possibles {', '.join(groups)}"
    return None


def group_of(type_code: str, overrides: Mapping[str, str] | None = None) -> OutcomeGroup:
    """The reporting group of an outcome type: ``overrides`` (the ``outcome_groups`` setting,
    type code -> group code) first, then the documented default mapping. Reports call this at
    reading time, so a changed mapping reclassifies past outcomes too. An unknown code (a row
    written by an older version) counts as « autre »."""
    if overrides and type_code in overrides:
        return OutcomeGroup(overrides[type_code])
    try:
        return OutcomeType(type_code).group
    except ValueError:
        return OutcomeGroup.OTHER


def outcome_label(type_code: str) -> str:
    """The French label of a stored type code; the code itself for a type this version lacks."""
    try:
        return OutcomeType(type_code).label
    except ValueError:
        return type_code


def outcome_order(type_code: str) -> int:
    """Position of a type in the grid (reports list types in this order, unknown ones last)."""
    members = list(OutcomeType)
    try:
        return members.index(OutcomeType(type_code))
    except ValueError:
        return len(members)
