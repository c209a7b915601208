"""Corrections of a clause's records (issue 9, item 5): ``clauses declaration cancel``,
``clauses clause reopen`` and ``clauses clause end-date``, attached to the ``declaration`` and
``clause`` groups.

Each command calls one function of ``workflow.app.clause_corrections`` and renders what it
returns. Re-running ``clauses clause award`` with the same data changes nothing; with other data
it records the correction (``services.clauses.apply_award``).
"""

from __future__ import annotations

from typing import Any

import click

from workflow.adapters.csv_files import parse_month
from workflow.adapters.templates import french_hours
from workflow.app import clause_corrections as corrections
from workflow.app.end_facts import owed_data, released_data
from workflow.domain.stages import LABELS
from workflow.emails.phrases import month_phrase
from workflow.entrypoints.cli.clauses import clause_group, released_lines
from workflow.entrypoints.cli.common import (
    actor_option,
    get_app,
    handle_errors,
    json_option,
    parse_date_fr,
    plural,
    print_json,
    say,
)
from workflow.entrypoints.cli.imports import declaration_group
from workflow.errors import InputRefused
from workflow.services.lot_ends import owed_sentence

CLAUSE_HELP = "son N° ou la référence du marché et le lot, ex. « 2026-014/01 »"
COMPANY_HELP = "son N°, son SIRET ou son nom"


# --- a declaration cancelled --------------------------------------------------------------------


def ladder_data(ladder: corrections.LadderStanding | None) -> dict[str, Any] | None:
    if ladder is None:
        return None
    return {
        "etapes_envoyees": list(ladder.sent),
        "etape": ladder.step,
        "etape_libelle": ladder.step_label,
        "date": ladder.at,
        "echeance": ladder.due_on,
        # No call before the resumption of the suspended lot: no step, no date yet.
        "a_la_reprise": ladder.at_resumption,
    }


@declaration_group.command("cancel")
@click.option("--clause", required=True, help=f"La clause déclarée : {CLAUSE_HELP}.")
@click.option("--company", required=True, help=f"L'entreprise : {COMPANY_HELP}.")
@click.option("--month", required=True, help="Le mois déclaré, mm/aaaa (ex. 10/2026).")
@click.option(
    "--reason",
    required=True,
    help="Pourquoi l'annuler\u00a0: gardé à l'historique et écrit à l'entreprise.",
)
@actor_option
@json_option
@handle_errors
def declaration_cancel(
    clause: str, company: str, month: str, reason: str, actor: str | None, as_json: bool
) -> None:
    """Annule la déclaration d'un mois (et ses lignes) : ses heures sortent des bilans, le mois
    est de nouveau attendu et ses relances reprennent où elles en étaient. L'historique garde ce
    qu'elle disait et le motif ; l'entreprise en est informée par courriel (le motif, la date à
    laquelle déclarer de nouveau ce mois) ; l'accusé de réception déjà envoyé ne l'est pas de
    nouveau, celui qui n'était pas encore parti ne part pas."""
    first_day = parse_month(month)
    if first_day is None:
        raise InputRefused(
            f"--month : « {month} » n'est pas un mois (mm/aaaa, par exemple 10/2026)."
        )
    cancelled = corrections.cancel_declaration(
        get_app(), clause=clause, company=company, month=first_day, reason=reason, actor=actor
    )
    if as_json:
        print_json(
            {
                "declaration": cancelled.declaration_id,
                "clause": cancelled.clause_id,
                "entreprise_id": cancelled.company_id,
                "entreprise": cancelled.company,
                "mois": cancelled.month,
                "heures": cancelled.total_hours,
                "lignes": cancelled.lines,
                "motif": cancelled.reason,
                "date": cancelled.at,
                "relances": ladder_data(cancelled.ladder),
                "entreprise_informee": list(cancelled.informed),
                "sorties_non_comptees": [
                    {"participant": o.reference, "type_libelle": o.type_label}
                    for o in cancelled.uncounted
                ],
            }
        )
        return
    say(
        f"Déclaration {month_phrase(cancelled.month)} de {cancelled.company} annulée "
        f"(clause n° {cancelled.clause_id}) : {french_hours(cancelled.total_hours)} retirées, "
        f"{plural(cancelled.lines, 'ligne', 'lignes')}."
    )
    say(corrections.ladder_sentence(cancelled.ladder, get_app().settings.zone))
    say(corrections.informed_sentence(cancelled))
    if note := corrections.uncounted_sentence(cancelled.uncounted):
        say(note)


# --- an abandon undone ----------------------------------------------------------------------------


@clause_group.command("reopen")
@click.argument("clause", metavar="CLAUSE")
@click.option(
    "--reason",
    required=True,
    help="Pourquoi la rouvrir, gardé à l'historique et écrit tel quel au donneur d'ordre dans "
    "l'avis de réouverture (« Motif indiqué : … »).",
)
@actor_option
@json_option
@handle_errors
def reopen(clause: str, reason: str, actor: str | None, as_json: bool) -> None:
    """Rouvre une clause abandonnée : l'abandon est annulé, la clause reprend l'étape qu'elle
    avait quittée (repérage, calibrage et rédaction ou attribution) et ce qui s'y fait ; son
    donneur d'ordre, informé de l'abandon, l'est de la réouverture.

    CLAUSE : N° de la clause ou référence du marché et lot, ex. 2026-014/01."""
    reopened = corrections.reopen_clause(get_app(), clause, reason=reason, actor=actor)
    if as_json:
        print_json(
            {
                "clause": reopened.clause_id,
                "de": reopened.from_stage,
                "vers": reopened.to_stage,
                "motif": reopened.reason,
                "date": reopened.at,
                "avis_abandon_retire": reopened.abandon_withdrawn,
            }
        )
        return
    say(
        f"Clause n° {reopened.clause_id} rouverte : {LABELS[reopened.from_stage]} → "
        f"[bold]{LABELS[reopened.to_stage]}[/] (abandon annulé).",
        markup=True,
    )
    if reopened.abandon_withdrawn:
        say(
            "L'avis d'abandon n'était pas encore parti : il est retiré, et le donneur d'ordre "
            "n'est pas prévenu de la réouverture."
        )


# --- the end of the work corrected ---------------------------------------------------------------


@clause_group.command("end-date")
@click.argument("clause", metavar="CLAUSE")
@click.option(
    "--end-date",
    "end_text",
    required=True,
    help="La date de fin d'exécution exacte (jj/mm/aaaa).",
)
@click.option(
    "--reason",
    required=True,
    help="Pourquoi la corriger (erreur de saisie…), gardé à l'historique.",
)
@actor_option
@json_option
@handle_errors
def end_date(clause: str, end_text: str, reason: str, actor: str | None, as_json: bool) -> None:
    """Corrige la date de fin d'exécution enregistrée en achevant un lot (une erreur de saisie) :
    l'historique garde l'ancienne date, la nouvelle et le motif. Une fin plus tôt libère les
    mois qui la suivent, comme l'achèvement ; une fin plus tard demande aux entreprises les
    mois entre les deux dates, leurs relances reprenant où elles en étaient (jamais une relance
    ni une alerte avant l'appel et les relances qui la précèdent).

    CLAUSE : N° de la clause ou référence du marché et lot, ex. 2026-014/01."""
    end = parse_date_fr(end_text, "--end-date")
    app = get_app()
    done = corrections.correct_end_date(
        app,
        clause,
        end,
        reason=reason,
        actor=actor,
        field="--end-date",
        reason_field="--reason",
    )
    if as_json:
        print_json(
            {
                "clause": done.clause_id,
                "fin_avant": done.before,
                "fin": done.after,
                "modifiee": done.changed,
                "date": done.at,
                "mois_plus_demandes": released_data(done.released),
                "mois_de_nouveau_demandes": owed_data(done.owed),
            }
        )
        return
    if not done.changed:
        say(
            f"Rien à changer : la date de fin d'exécution de la clause n° {done.clause_id} est "
            f"déjà le {done.after:%d/%m/%Y}."
        )
        return
    say(
        f"Clause n° {done.clause_id} : date de fin d'exécution corrigée du "
        f"{done.before:%d/%m/%Y} au {done.after:%d/%m/%Y} ; l'historique garde le motif."
    )
    for released in done.released:
        for line in released_lines(released):
            say(line)
    for owed in done.owed:
        say(owed_sentence(owed, app.settings.zone))
    if not done.released and not done.owed:
        say("Aucun mois demandé aux entreprises ne change.")


#: The commands are attached to the ``declaration`` and ``clause`` groups above.
COMMANDS: list[click.Command] = []
