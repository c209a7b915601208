"""The three closed lists a declaration line chooses from (contract, delivery mode, criterion),
and the one wording of a value refused in them: the web form, the JSON API and the file import
read a choice here, so the same mistake gets the same words wherever it is made (user trial:
the form said « choisissez une valeur dans la liste. », the import « n'est pas reconnu »).

A refusal names the value refused and the accepted values; when a value is close to one of
them it says which one was probably meant first, and a known mix-up (« CDDI » is a contract,
not a delivery mode; « SIAE » is a kind of structure, not a contract) names the values that fit
instead of the whole list.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

from workflow.domain.vocabulary import (
    CONTRACT_ALIASES,
    CONTRACT_LABELS,
    CRITERION_ALIASES,
    CRITERION_LABELS,
    DELIVERY_MODE_ALIASES,
    DELIVERY_MODE_LABELS,
    ContractType,
    Criterion,
    DeliveryMode,
    match_label,
    normalise,
)

E = TypeVar("E", bound=StrEnum)
#: A value of one of a declaration line's lists.
Choice = TypeVar("Choice", ContractType, DeliveryMode, Criterion)

#: How close a typed value must be to a label or alias to be offered as « vouliez-vous dire »:
#: « Embauche direct » is « Embauche directe »; « CDI intérimaire » is no value at all.
_CLOSE_ENOUGH = 0.8


@dataclass(frozen=True)
class ChoiceList(Generic[E]):
    """One closed list of a declaration line: its labels (what a person reads and types), the
    aliases a spreadsheet may use, and what to say of a value typed in the wrong list (by its
    normalised spelling)."""

    labels: Mapping[E, str]
    aliases: Mapping[str, E]
    mix_ups: Mapping[str, str] = field(default_factory=dict)


# A CDDI (contrat à durée déterminée d'insertion) is the contract of a person employed by an
# insertion structure (SIAE: an EI or an ACI); the company of the lot reaches them by
# sub-contracting to that structure, or by having them provided (AI, ETTI). Said where a
# person typed « CDDI » or « SIAE » in a list that does not hold it.
_MODES_FOR_AN_SIAE = (
    "« Sous-traitance à une structure d'insertion ou EA » quand vous confiez une partie des "
    "travaux à une structure d'insertion (EI, ACI), « Co-traitance avec une structure "
    "d'insertion ou EA » quand elle est cotraitante du marché, « Mise à disposition (AI) » ou "
    "« Mise à disposition (ETTI) » quand elle vous met la personne à disposition"
)
_CDDI_NOT_A_MODE = (
    "c'est un type de contrat, pas une modalité de réalisation : indiquez-le comme type de "
    f"contrat, et ici comment la personne a travaillé sur le lot : {_MODES_FOR_AN_SIAE}."
)
_SIAE_NOT_A_MODE = (
    "une structure d'insertion n'est pas une modalité de réalisation : indiquez ici comment la "
    f"personne a travaillé sur le lot : {_MODES_FOR_AN_SIAE}."
)
_SIAE_NOT_A_CONTRACT = (
    "une structure d'insertion n'est pas un type de contrat : indiquez le contrat de la "
    "personne, « CDDI » pour un salarié d'une entreprise ou d'un atelier et chantier "
    "d'insertion (EI, ACI), « Intérim d'insertion » pour une ETTI, « Mise à disposition » pour "
    "une AI ; la structure se dit dans la modalité de réalisation."
)
_CDDI_NOT_A_CRITERION = (
    "c'est un type de contrat, pas un critère d'éligibilité : indiquez-le comme type de "
    "contrat ; une personne en CDDI suit un parcours d'insertion, son critère est « Personne "
    "en parcours d'insertion (IAE) »."
)
_SIAE_NOT_A_CRITERION = (
    "une structure d'insertion n'est pas un critère d'éligibilité : la personne qu'elle emploie "
    "suit un parcours d'insertion, son critère est « Personne en parcours d'insertion (IAE) »."
)
_SIAE_WORDS = ("siae", "structure d'insertion", "structure d'insertion par l'activite economique")

CONTRACTS: ChoiceList[ContractType] = ChoiceList(
    CONTRACT_LABELS, CONTRACT_ALIASES, dict.fromkeys(_SIAE_WORDS, _SIAE_NOT_A_CONTRACT)
)
DELIVERY_MODES: ChoiceList[DeliveryMode] = ChoiceList(
    DELIVERY_MODE_LABELS,
    DELIVERY_MODE_ALIASES,
    {"cddi": _CDDI_NOT_A_MODE} | dict.fromkeys(_SIAE_WORDS, _SIAE_NOT_A_MODE),
)
CRITERIA: ChoiceList[Criterion] = ChoiceList(
    CRITERION_LABELS,
    CRITERION_ALIASES,
    {"cddi": _CDDI_NOT_A_CRITERION} | dict.fromkeys(_SIAE_WORDS, _SIAE_NOT_A_CRITERION),
)


def accepted_values(choices: ChoiceList[E]) -> str:
    """« « CDI » ; « CDD » ; … »: every label, in the list's order."""
    return " ; ".join(f"« {label} »" for label in choices.labels.values())


def closest_value(choices: ChoiceList[E], typed: str) -> str | None:
    """The label of the value ``typed`` probably meant (a letter missed or added), or None."""
    spellings = {normalise(label): label for label in choices.labels.values()}
    for alias, member in choices.aliases.items():
        spellings.setdefault(normalise(alias), choices.labels[member])
    found = difflib.get_close_matches(normalise(typed), spellings, n=1, cutoff=_CLOSE_ENOUGH)
    return spellings[found[0]] if found else None


def choice_problem(choices: ChoiceList[E], typed: str) -> str:
    """Why ``typed`` is not a value of ``choices``, in French: the value refused, what was
    probably meant, and the accepted values. Said after the line and field (or column) it is
    about: « ligne 2, modalité : … »."""
    raw = " ".join(typed.split())
    accepted = accepted_values(choices)
    if not raw:
        return f"valeur manquante : choisissez une valeur dans la liste : {accepted}."
    if mix_up := _mix_up(choices, raw):
        return f"« {raw} » : {mix_up}"  # the mix-up names the values that fit
    if closest := closest_value(choices, raw):
        return (
            f"« {raw} » n'est pas reconnu : vouliez-vous dire « {closest} » ? "
            f"Valeurs acceptées : {accepted}."
        )
    return f"« {raw} » n'est pas reconnu. Valeurs acceptées : {accepted}."


def _mix_up(choices: ChoiceList[E], raw: str) -> str | None:
    """What to say of a value of another list, typed alone or in brackets (« Mise à
    disposition (SIAE) »)."""
    wanted = normalise(raw)
    inner = re.search(r"\(([^)]+)\)", wanted)
    for spelling in (wanted, inner.group(1).strip() if inner else None):
        if spelling and (said := choices.mix_ups.get(spelling)):
            return said
    return None


def match_choice(choices: ChoiceList[E], typed: str) -> E | None:
    """The value ``typed`` means (a label, an alias or the code, accents and case forgiven); None
    when it means none, then said by ``choice_problem``."""
    return match_label(typed, dict(choices.labels), dict(choices.aliases))
