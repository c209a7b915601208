"""The columns of the files companies and facilitators send: one definition, read by the
imports (``services.imports``, ``services.declaration_imports``) to match headers, and by the
emails (``emails.howto``) and the templates sent to companies, so that what a company is told to
send is always what the import accepts."""

from __future__ import annotations

from workflow.adapters.csv_files import Column

MARKET_ALIASES = (
    "marché",
    "n° de marché",
    "numéro de marché",
    "numéro du marché",
    "référence marché",
    "référence du marché",
)
LOT_ALIASES = ("n° lot", "n° de lot", "numéro de lot", "numéro du lot")

#: The one definition of a declaration file: the importer matches headers with it, and the
#: welcome, the calls and the templates sent to companies are written from it (``declaration_howto``),
#: so what a company is told to send is always what is accepted. ``{market}`` and ``{lot}`` in a
#: hint are the lot's own values.
DECLARATION_COLUMNS = (
    Column(
        "siret",
        "SIRET",
        ("n° siret", "numéro siret", "siret de l'entreprise"),
        hint="le SIRET de votre entreprise, 14 chiffres",
    ),
    Column(
        "company",
        "Entreprise",
        ("raison sociale", "nom de l'entreprise"),
        required=False,
        hint="le nom de votre entreprise",
    ),
    Column("market", "N° marché", MARKET_ALIASES, required=False, hint="{market}"),
    Column("lot", "Lot", LOT_ALIASES, required=False, hint="{lot}"),
    Column(
        "month",
        "Mois",
        ("mois déclaré", "période", "mois de réalisation"),
        hint="le mois déclaré, mm/aaaa (par exemple 10/2026)",
    ),
    Column(
        "reference",
        "Référence participant",
        ("participant", "référence", "réf. participant", "référence du participant"),
        hint="la référence de la personne, jamais son nom",
    ),
    Column(
        "criterion",
        "Critère d'éligibilité",
        ("critère", "public", "public éligible", "critère d'éligibilité du participant"),
        required=False,
        hint="son critère d'éligibilité ; obligatoire pour une personne déclarée pour la "
        "première fois",
    ),
    Column(
        "contract",
        "Type de contrat",
        ("contrat", "nature du contrat"),
        hint="son type de contrat",
    ),
    Column(
        "mode",
        "Modalité de réalisation",
        ("modalité", "modalités de réalisation", "mode de réalisation"),
        hint="la modalité de réalisation des heures",
    ),
    Column(
        "hours",
        "Heures",
        ("heures réalisées", "nombre d'heures", "heures d'insertion"),
        hint="les heures du mois sur le lot, de 0 à 250, deux décimales au plus (151,67)",
    ),
    Column("sex", "Sexe", ("genre",), required=False, hint="F ou M"),
    Column(
        "birth_year",
        "Année de naissance",
        ("année naissance", "naissance"),
        required=False,
        hint="sur 4 chiffres, par exemple 1987",
    ),
)


#: What the SIRET column says to a company recorded without one: its template leaves the cell
#: empty, and the import accepts it so (the line is matched by the lot and the company's name)
#: as it accepts the company's SIRET typed in. Said in the facilitator's first person, with
#: no « : » or « ; » (the same words go to the HTML part).
SIRET_UNKNOWN_HINT = (
    "laissez cette colonne vide comme dans le modèle (je n'ai pas le SIRET de votre entreprise), "
    "ou inscrivez-y votre SIRET, 14 chiffres"
)


def declaration_titles() -> list[str]:
    """The column titles of a declaration file, in the order of the templates: what the import
    recognises first for each column (it also accepts each column's aliases)."""
    return [column.label for column in DECLARATION_COLUMNS]
