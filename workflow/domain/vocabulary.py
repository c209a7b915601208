"""Closed lists of the field (criteria, delivery modes, contracts, outcomes) with their French labels.

Imports match a spreadsheet's French wording through ``match_label``: accents, case and the words in
brackets are forgiven, because facilitators type them in many ways.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TypeVar


class Criterion(StrEnum):
    LONG_TERM_JOBSEEKER = "long_term_jobseeker"
    MINIMUM_INCOME = "minimum_income"  # RSA, ASS, AAH, invalidity pension
    DISABLED_WORKER = "disabled_worker"  # RQTH
    YOUNG_LOW_QUALIFIED = "young_low_qualified"
    JOBSEEKER_OVER_50 = "jobseeker_over_50"
    IAE = "iae"
    QPV_RESIDENT = "qpv_resident"
    OTHER_VALIDATED = "other_validated"


CRITERION_LABELS: dict[Criterion, str] = {
    Criterion.LONG_TERM_JOBSEEKER: "Demandeur d'emploi de longue durée",
    Criterion.MINIMUM_INCOME: "Bénéficiaire du RSA, de l'ASS, de l'AAH ou d'une pension d'invalidité",
    Criterion.DISABLED_WORKER: "Travailleur handicapé (RQTH)",
    Criterion.YOUNG_LOW_QUALIFIED: "Jeune de moins de 26 ans peu qualifié",
    Criterion.JOBSEEKER_OVER_50: "Demandeur d'emploi de plus de 50 ans",
    Criterion.IAE: "Personne en parcours d'insertion (IAE)",
    Criterion.QPV_RESIDENT: "Habitant d'un quartier prioritaire (QPV)",
    Criterion.OTHER_VALIDATED: "Autre public validé par le facilitateur",
}

CRITERION_ALIASES: dict[str, Criterion] = {
    "bénéficiaire du rsa": Criterion.MINIMUM_INCOME,
    "rsa": Criterion.MINIMUM_INCOME,
    "ass": Criterion.MINIMUM_INCOME,
    "aah": Criterion.MINIMUM_INCOME,
    "rqth": Criterion.DISABLED_WORKER,
    "deld": Criterion.LONG_TERM_JOBSEEKER,
    "jeune de moins de 26 ans": Criterion.YOUNG_LOW_QUALIFIED,
    "senior": Criterion.JOBSEEKER_OVER_50,
    "iae": Criterion.IAE,
    "qpv": Criterion.QPV_RESIDENT,
}


class DeliveryMode(StrEnum):
    DIRECT_HIRING = "direct_hiring"
    PROVISION_ETTI = "provision_etti"
    PROVISION_AI = "provision_ai"
    PROVISION_GEIQ = "provision_geiq"
    SUBCONTRACTING = "subcontracting"  # with an EI, ACI or EA
    CO_CONTRACTING = "co_contracting"
    TRAINING = "training"


DELIVERY_MODE_LABELS: dict[DeliveryMode, str] = {
    DeliveryMode.DIRECT_HIRING: "Embauche directe",
    DeliveryMode.PROVISION_ETTI: "Mise à disposition (ETTI)",
    DeliveryMode.PROVISION_AI: "Mise à disposition (AI)",
    DeliveryMode.PROVISION_GEIQ: "Mise à disposition (GEIQ)",
    DeliveryMode.SUBCONTRACTING: "Sous-traitance à une structure d'insertion ou EA",
    DeliveryMode.CO_CONTRACTING: "Co-traitance avec une structure d'insertion ou EA",
    DeliveryMode.TRAINING: "Formation",
}

DELIVERY_MODE_ALIASES: dict[str, DeliveryMode] = {
    "etti": DeliveryMode.PROVISION_ETTI,
    "ai": DeliveryMode.PROVISION_AI,
    "geiq": DeliveryMode.PROVISION_GEIQ,
    "sous-traitance": DeliveryMode.SUBCONTRACTING,
    "co-traitance": DeliveryMode.CO_CONTRACTING,
    "cotraitance": DeliveryMode.CO_CONTRACTING,
}


class ContractType(StrEnum):
    CDI = "cdi"
    CDD = "cdd"
    APPRENTICESHIP = "apprenticeship"
    PROFESSIONALISATION = "professionalisation"
    TEMP_WORK = "temp_work"
    CDDI = "cddi"
    PROVISION = "provision"
    SITE_CONTRACT = "site_contract"
    TRAINING = "training"


CONTRACT_LABELS: dict[ContractType, str] = {
    ContractType.CDI: "CDI",
    ContractType.CDD: "CDD",
    ContractType.APPRENTICESHIP: "Contrat d'apprentissage",
    ContractType.PROFESSIONALISATION: "Contrat de professionnalisation",
    ContractType.TEMP_WORK: "Intérim d'insertion",
    ContractType.CDDI: "CDDI",
    ContractType.PROVISION: "Mise à disposition",
    ContractType.SITE_CONTRACT: "Contrat de chantier",
    ContractType.TRAINING: "Formation",
}

CONTRACT_ALIASES: dict[str, ContractType] = {
    "apprentissage": ContractType.APPRENTICESHIP,
    "professionnalisation": ContractType.PROFESSIONALISATION,
    "intérim": ContractType.TEMP_WORK,
    "interim": ContractType.TEMP_WORK,
    "ctt": ContractType.TEMP_WORK,
    "ctti": ContractType.TEMP_WORK,
    "chantier": ContractType.SITE_CONTRACT,
}


class OutcomeGroup(StrEnum):
    LASTING_JOB = "lasting_job"
    TRANSITIONAL_JOB = "transitional_job"
    POSITIVE_EXIT = "positive_exit"
    OTHER = "other"


OUTCOME_GROUP_LABELS: dict[OutcomeGroup, str] = {
    OutcomeGroup.LASTING_JOB: "Emploi durable",
    OutcomeGroup.TRANSITIONAL_JOB: "Emploi de transition",
    OutcomeGroup.POSITIVE_EXIT: "Sortie positive",
    OutcomeGroup.OTHER: "Autre",
}


class Sex(StrEnum):
    FEMALE = "F"
    MALE = "M"


SEX_LABELS: dict[Sex, str] = {Sex.FEMALE: "Femmes", Sex.MALE: "Hommes"}


class NoticePreference(StrEnum):
    EACH_MILESTONE = "each_milestone"
    MONTHLY_ONLY = "monthly_only"


class PartyRole(StrEnum):
    HOLDER = "holder"
    CO_CONTRACTOR = "co_contractor"
    SUBCONTRACTOR = "subcontractor"


PARTY_ROLE_LABELS: dict[PartyRole, str] = {
    PartyRole.HOLDER: "titulaire",
    PartyRole.CO_CONTRACTOR: "cotraitant",
    PartyRole.SUBCONTRACTOR: "sous-traitant",
}


def normalise(text: str) -> str:
    """Lower case, no accents, no apostrophe variants, single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.replace("’", "'"))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"\s+", " ", bare).strip().lower()


E = TypeVar("E", bound=StrEnum)


def match_label(text: str, labels: dict[E, str], aliases: dict[str, E]) -> E | None:
    """Find the enum member a person meant by ``text``; None when nothing fits."""
    wanted = normalise(text)
    if not wanted:
        return None
    for member, label in labels.items():
        if wanted in (normalise(label), normalise(member.value)):
            return member
    for alias, member in aliases.items():
        if wanted == normalise(alias):
            return member
    inner = re.search(r"\(([^)]+)\)", wanted)  # "Mise à disposition (ETTI)" -> "etti"
    if inner:
        for alias, member in aliases.items():
            if inner.group(1).strip() == normalise(alias):
                return member
    return None


def label_of(labels: Mapping[E, str], code: str) -> str:
    """The French label of a stored code; a code written by other means keeps its own text."""
    return next((label for member, label in labels.items() if member.value == code), code)


#: The code a breakdown groups a missing category under (a participant's sex not given, say).
UNKNOWN = "unknown"
UNKNOWN_LABEL = "Non renseigné"


def category_label(labels: Mapping[Any, str], code: str | None) -> str:
    """A category's label in a report's breakdown: ``UNKNOWN_LABEL`` when missing, a code this
    version does not know as it is."""
    if code is None or code == UNKNOWN:
        return UNKNOWN_LABEL
    return next((text for member, text in labels.items() if str(member) == code), code)


#: Where a month declared without hours by the facilitator says it came from: she records it
#: on the company's word, from the command line or from her dashboard's task.
ZERO_SOURCE = "déclaration à zéro (ligne de commande)"
DASHBOARD_ZERO_SOURCE = "déclaration à zéro (tableau de bord)"
#: The sources of declarations the facilitator entered for the company (its receipt says so).
ENTERED_FOR_COMPANY = frozenset({ZERO_SOURCE, DASHBOARD_ZERO_SOURCE})
