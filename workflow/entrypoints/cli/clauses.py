"""``clauses clause ...``: show, list and move clauses through their stages."""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from workflow.adapters.orm import AwardParty, Clause, Market, Operation
from workflow.domain.stages import EVENT_LABELS, LABELS, Stage, allowed_events, parse_event
from workflow.domain.vocabulary import PARTY_ROLE_LABELS, PartyRole
from workflow.entrypoints.cli.common import (
    console,
    get_app,
    handle_errors,
    json_option,
    parse_date_fr,
    print_json,
    print_table,
)
from workflow.services import clauses as clause_service


@click.group("clause")
def clause_group() -> None:
    """Clauses : afficher, lister, attribuer, faire avancer."""


def clause_summary(clause: Clause) -> dict[str, Any]:
    operation = clause.market.operation
    return {
        "id": clause.id,
        "donneur_d_ordre": operation.buyer.name,
        "operation": operation.name,
        "marche": clause.market.reference,
        "lot": clause.lot_number,
        "intitule": clause.lot_title,
        "etape": clause.stage,
        "etape_libelle": LABELS[Stage(clause.stage)],
        "heures_calculees": clause.hours_computed,
        "heures_imposees": clause.hours_override,
        "heures_prevues": clause.hours_target,
        "version": clause.version,
    }


def clause_detail(clause: Clause) -> dict[str, Any]:
    data = clause_summary(clause)
    data.update(
        montant_ht=clause.amount_excl_tax,
        part_main_d_oeuvre=clause.labour_share,
        taux_insertion=clause.insertion_rate,
        cout_horaire=clause.hourly_cost,
        raison_heures_imposees=clause.override_reason,
        demarrage=clause.start_date,
        fin_prevue=clause.planned_end_date,
        fin=clause.end_date,
        bilan=clause.final_report_at,
        entreprises=[
            {
                "entreprise": party.company.name,
                "role": PARTY_ROLE_LABELS[PartyRole(party.role)],
                "correspondant": party.correspondent.name if party.correspondent else None,
                "email": party.correspondent.email if party.correspondent else None,
                "heures": party.hours_share,
            }
            for party in clause.parties
        ],
        evenements_permis=[EVENT_LABELS[e] for e in allowed_events(Stage(clause.stage))],
        historique=[
            {
                "date": row.at,
                "acteur": row.actor,
                "evenement": row.event,
                "de": row.from_stage,
                "vers": row.to_stage,
                "motif": row.reason,
            }
            for row in clause.history
        ],
    )
    return data


def load_clause(session: Session, clause_id: int) -> Clause:
    clause_service.get_clause(session, clause_id)
    return session.scalars(
        select(Clause)
        .where(Clause.id == clause_id)
        .options(
            selectinload(Clause.history),
            selectinload(Clause.parties).selectinload(AwardParty.company),
            selectinload(Clause.parties).selectinload(AwardParty.correspondent),
        )
    ).one()


def print_clause(data: dict[str, Any]) -> None:
    console.print(
        f"[bold]Clause n° {data['id']}[/] – {data['intitule']} "
        f"(marché {data['marche']}{' lot ' + data['lot'] if data['lot'] else ''})"
    )
    console.print(f"Donneur d'ordre : {data['donneur_d_ordre']} · Opération : {data['operation']}")
    console.print(f"Étape : [bold]{data['etape_libelle']}[/] (version {data['version']})")
    hours = data["heures_prevues"]
    console.print(f"Heures d'insertion prévues : {hours if hours is not None else 'à calculer'}")
    if data["heures_imposees"] is not None:
        console.print(
            f"  imposées ({data['raison_heures_imposees']}) ; calculées : {data['heures_calculees']}"
        )
    for party in data["entreprises"]:
        console.print(
            f"Entreprise {party['role']} : {party['entreprise']}"
            f" – correspondant : {party['correspondant'] or 'à désigner'} {party['email'] or ''}"
        )
    if data["demarrage"]:
        console.print(
            f"Démarrage : {data['demarrage']:%d/%m/%Y} · fin prévue : "
            f"{data['fin_prevue']:%d/%m/%Y}"
            + (f" · fin : {data['fin']:%d/%m/%Y}" if data["fin"] else "")
        )
    allowed = ", ".join(data["evenements_permis"]) or "aucun"
    console.print(f"Événements permis : {allowed}")
    print_table(
        "Historique",
        ["Date (UTC)", "Acteur", "Événement", "De", "Vers", "Motif"],
        [
            [
                f"{h['date']:%d/%m/%Y %H:%M}",
                h["acteur"],
                h["evenement"],
                LABELS[Stage(h["de"])] if h["de"] else "",
                LABELS[Stage(h["vers"])],
                h["motif"] or "",
            ]
            for h in data["historique"]
        ],
    )


@clause_group.command("show")
@click.argument("clause_id", type=int)
@json_option
@handle_errors
def show(clause_id: int, as_json: bool) -> None:
    """Affiche une clause et son historique."""
    app = get_app()
    with app.transaction() as session:
        data = clause_detail(load_clause(session, clause_id))
    if as_json:
        print_json(data)
    else:
        print_clause(data)


@clause_group.command("list")
@click.option("--stage", "stage_text", help="N'afficher qu'une étape (ex. execution).")
@json_option
@handle_errors
def list_clauses(stage_text: str | None, as_json: bool) -> None:
    """Liste les clauses, par étape."""
    from workflow.domain.stages import parse_stage

    app = get_app()
    statement = (
        select(Clause)
        .join(Clause.market)
        .join(Market.operation)
        .options(
            selectinload(Clause.market).selectinload(Market.operation).selectinload(Operation.buyer)
        )
        .order_by(Clause.stage, Clause.id)
    )
    if stage_text:
        statement = statement.where(Clause.stage == parse_stage(stage_text).value)
    with app.transaction() as session:
        rows = [clause_summary(c) for c in session.scalars(statement)]
    if as_json:
        print_json(rows)
        return
    print_table(
        "Clauses",
        ["N°", "Étape", "Donneur d'ordre", "Marché", "Lot", "Intitulé", "Heures"],
        [
            [
                r["id"],
                r["etape_libelle"],
                r["donneur_d_ordre"],
                r["marche"],
                r["lot"],
                r["intitule"],
                r["heures_prevues"] if r["heures_prevues"] is not None else "–",
            ]
            for r in rows
        ],
    )


@clause_group.command("advance")
@click.argument("clause_id", type=int)
@click.argument("event_name", metavar="EVENEMENT")
@click.option("--reason", default=None, help="Motif inscrit à l'historique.")
@click.option(
    "--end-date", default=None, help="Date de fin d'exécution (jj/mm/aaaa), pour « achever »."
)
@click.option(
    "--actor", default=None, help="Qui fait le changement (par défaut : la facilitatrice)."
)
@json_option
@handle_errors
def advance(
    clause_id: int,
    event_name: str,
    reason: str | None,
    end_date: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Fait avancer une clause : rediger, attribuer, demarrer, achever, cloturer, abandonner,
    suspendre, reprendre."""
    app = get_app()
    event = parse_event(event_name)
    now = app.clock()
    with app.transaction() as session:
        advanced = clause_service.advance_clause(
            session,
            clause_id,
            event,
            actor=actor or app.settings.facilitator_name,
            reason=reason,
            now=now,
            publish=app.publish,
            end_date=parse_date_fr(end_date, "--end-date") if end_date else None,
        )
    if as_json:
        print_json(
            {"clause": clause_id, "de": advanced.from_stage, "vers": advanced.to_stage, "date": now}
        )
    else:
        console.print(
            f"Clause n° {clause_id} : {LABELS[advanced.from_stage]} → "
            f"[bold]{LABELS[advanced.to_stage]}[/]"
        )


COMMANDS: list[click.Command] = [clause_group]
