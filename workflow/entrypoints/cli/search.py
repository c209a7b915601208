"""``clauses search TEXTE``: find a buyer, a company, a lot, a participant… by what one knows."""

from __future__ import annotations

import click

from workflow.app import search as search_app
from workflow.entrypoints.cli.common import (
    console,
    get_app,
    handle_errors,
    json_option,
    print_json,
    print_table,
)


@click.command("search")
@click.argument("text", metavar="TEXTE")
@json_option
@handle_errors
def search_command(text: str, as_json: bool) -> None:
    """Cherche un texte dans les noms, références, intitulés, SIRET et adresses : donneurs
    d'ordre et contacts, entreprises et correspondants, opérations, marchés, lots, participants
    (par leur référence seulement). Majuscules, accents et tirets n'y comptent pas.

    TEXTE : une partie d'un nom (« piscine »), un SIRET, une référence de marché (2026-014),
    une adresse e-mail…"""
    result = search_app.search(get_app(), text)
    if as_json:
        print_json(
            {
                "recherche": result.text,
                "resultats": [
                    {
                        "type": f.kind,
                        "type_libelle": f.kind_label,
                        "id": f.id,
                        "libelle": f.label,
                        "contexte": f.context,
                        "commande": f.command,
                    }
                    for f in result.found
                ],
                "autres": result.more,
            }
        )
        return
    if not result.found:
        console.print(
            f"Rien ne contient «\u00a0{result.text}\u00a0» : ni donneur d'ordre, ni entreprise, "
            "ni opération, marché, lot ou participant.",
            soft_wrap=True,
        )
        return
    print_table(
        f"Recherche «\u00a0{result.text}\u00a0»",
        ["Type", "N°", "Désignation", "Où", "Pour le voir"],
        [(f.kind_label, f.id, f.label, f.context, f.command) for f in result.found],
    )
    if result.more:
        console.print(
            f"… et {result.more} autres : précisez la recherche.",
            soft_wrap=True,
        )


COMMANDS = [search_command]
