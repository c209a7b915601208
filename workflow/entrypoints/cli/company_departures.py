"""``clauses clause company-left``: a company that left the site during the works, its last
month on the lot recorded (``workflow.app.company_departures``), attached to the ``clause``
group."""

from __future__ import annotations

import click

from workflow.adapters.csv_files import parse_month
from workflow.app import company_departures as departures
from workflow.entrypoints.cli.clauses import clause_group
from workflow.entrypoints.cli.common import (
    actor_option,
    get_app,
    handle_errors,
    json_option,
    print_json,
    say,
)
from workflow.errors import InputRefused

CLAUSE_HELP = "son N° ou la référence du marché et le lot, ex. « 2026-014/01 »"
COMPANY_HELP = "son N°, son SIRET ou son nom"


@clause_group.command("company-left")
@click.argument("clause", metavar="CLAUSE")
@click.option("--company", required=True, help=f"L'entreprise partie : {COMPANY_HELP}.")
@click.option(
    "--last-month",
    "last_text",
    required=True,
    help="Son dernier mois à déclarer, mm/aaaa (ex. 03/2027) : le mois où elle a quitté le "
    "chantier.",
)
@click.option(
    "--reason",
    required=True,
    help="Pourquoi elle part (fin de sa part des travaux…), gardé à l'historique.",
)
@actor_option
@json_option
@handle_errors
def company_left(
    clause: str, company: str, last_text: str, reason: str, actor: str | None, as_json: bool
) -> None:
    """Enregistre le départ du chantier d'une entreprise attributaire (sa part des travaux
    finie) : elle reste dans l'attribution et ses mois déclarés comptent, mais aucun mois après
    son dernier mois ne lui est plus demandé (ni appel, ni relance, ni alerte au donneur
    d'ordre) ; ses courriels en attente pour ces mois sont retirés. Les mois jusqu'à son dernier
    mois restent dus. Relancée avec le même mois, la commande ne change rien.

    CLAUSE : N° de la clause ou référence du marché et lot, ex. 2026-014/01."""
    last = parse_month(last_text)
    if last is None:
        raise InputRefused(
            f"--last-month : « {last_text} » n'est pas un mois (mm/aaaa, par exemple 03/2027)."
        )
    done = departures.record_departure(
        get_app(),
        clause,
        company,
        last,
        reason=reason,
        actor=actor,
        field="--last-month",
        reason_field="--reason",
    )
    if as_json:
        print_json(departures.departure_data(done))
        return
    if not done.changed:
        say(departures.unchanged_sentence(done))
        return
    say(f"Clause n° {done.clause_id} : {departures.departure_sentence(done)}")
    say(departures.told_sentence(done))


#: The command is attached to the ``clause`` group above.
COMMANDS: list[click.Command] = []
