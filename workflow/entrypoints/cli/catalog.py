"""``clauses buyer|company|operation|market|lot ...``: the territory's reference data.

Every ``add`` runs in one transaction and prints what was created (``--json`` for machines);
every ``list`` prints a table. Objects are designated by their number (``id``), shown by ``list``.
"""

from __future__ import annotations

from typing import Any

import click
from rich.markup import escape

from workflow.adapters.orm import Buyer, Company, Market, Operation
from workflow.adapters.templates import to_name
from workflow.domain.vocabulary import NoticePreference
from workflow.entrypoints.cli.calendar_options import (
    calendar_change,
    calendar_changed_data,
    calendar_options,
    change_calendar_options,
    print_calendar_changed,
)
from workflow.entrypoints.cli.clauses import (
    clause_summary,
    figure_options,
    list_clauses,
    parse_figures,
    print_calculation,
    print_calendar,
)
from workflow.entrypoints.cli.common import (
    actor_option,
    get_app,
    handle_errors,
    hours_text,
    json_option,
    number,
    parse_date_fr,
    plural,
    print_json,
    print_table,
    say,
)
from workflow.services import catalog
from workflow.services.calendar_changes import Reset, set_buyer, set_lot_calendar
from workflow.services.catalog import NOTICE_PREFERENCE_LABELS, CalendarChange
from workflow.services.clauses import ClauseParameters


def calendar_text(holder: Buyer) -> str:
    parts = []
    if holder.declaration_due_day is not None:
        parts.append(f"échéance le {holder.declaration_due_day}")
    if holder.reminder_offsets:
        parts.append(f"rappels J+{holder.reminder_offsets.replace(',', ', J+')}")
    if holder.escalation_offset is not None:
        parts.append(f"signalement J+{holder.escalation_offset}")
    return " ; ".join(parts) or "calendrier par défaut"


# --- buyers -----------------------------------------------------------------------------------


#: What a facilitator types after --notices (the service also takes the stored codes).
NOTICE_WORD = {
    NoticePreference.EACH_MILESTONE: "chaque-etape",
    NoticePreference.MONTHLY_ONLY: "mensuel",
}
NOTICES_HELP = (
    "Avis au donneur d'ordre : chaque-etape (un avis à chaque étape) ou mensuel (la synthèse "
    "mensuelle seulement)."
)


def buyer_data(buyer: Buyer) -> dict[str, Any]:
    preference = NoticePreference(buyer.notice_preference)
    return {
        "id": buyer.id,
        "nom": buyer.name,
        "type": buyer.kind,
        "avis": NOTICE_WORD[preference],
        "avis_libelle": NOTICE_PREFERENCE_LABELS[preference],
        "jour_echeance": buyer.declaration_due_day,
        "jours_rappels": buyer.reminder_offsets,
        "jours_signalement": buyer.escalation_offset,
        "contacts": [
            {
                "id": c.id,
                "nom": c.name,
                "email": c.email,
                "telephone": c.phone,
                "fonction": c.role,
            }
            for c in buyer.contacts
        ],
    }


@click.group("buyer")
def buyer_group() -> None:
    """Donneurs d'ordre (acheteurs, maîtres d'ouvrage) et leurs contacts."""


@buyer_group.command("add")
@click.argument("name", metavar="NOM")
@click.option("--kind", default="", help="Type : département, commune, agglomération, bailleur…")
@click.option(
    "--notices",
    "notice_preference",
    default="chaque-etape",
    show_default=True,
    help=NOTICES_HELP,
)
@calendar_options
@json_option
@handle_errors
def buyer_add(
    name: str,
    kind: str,
    notice_preference: str,
    due_day: int | None,
    reminder_offsets: str | None,
    escalation_offset: int | None,
    as_json: bool,
) -> None:
    """Ajoute un donneur d'ordre."""
    app = get_app()
    now = app.clock()
    with app.transaction() as session:
        buyer = catalog.add_buyer(
            session,
            name=name,
            kind=kind,
            notice_preference=notice_preference,
            calendar=CalendarChange(due_day, reminder_offsets, escalation_offset),
            now=now,
            settings=app.settings,
        )
        data = buyer_data(buyer)
    if as_json:
        print_json(data)
        return
    kind = f" ({data['type']})" if data["type"] else ""
    say(
        f"Donneur d'ordre n° {data['id']} ajouté : [bold]{escape(data['nom'])}[/]"
        f"{escape(kind)}, {data['avis_libelle']}.",
        markup=True,
    )


@buyer_group.command("list")
@json_option
@handle_errors
def buyer_list(as_json: bool) -> None:
    """Liste les donneurs d'ordre et leurs contacts."""
    app = get_app()
    with app.transaction() as session:
        buyers = catalog.list_buyers(session)
        rows = [buyer_data(b) for b in buyers]
        calendars = {b.id: calendar_text(b) for b in buyers}
    if as_json:
        print_json(rows)
        return
    print_table(
        "Donneurs d'ordre",
        ["N°", "Nom", "Type", "Avis", "Calendrier", "Contacts"],
        [
            [
                r["id"],
                r["nom"],
                r["type"],
                r["avis_libelle"],
                calendars[r["id"]],
                "\n".join(f"{c['nom']} <{c['email']}>" for c in r["contacts"]) or "aucun",
            ]
            for r in rows
        ],
    )


@buyer_group.command("set")
@click.argument("buyer_id", type=int, metavar="DONNEUR_D_ORDRE")
@click.option(
    "--notices",
    "notice_preference",
    default=None,
    help=NOTICES_HELP,
)
@change_calendar_options
@click.option("--reason", default=None, help="Motif inscrit à l'historique des lots concernés.")
@actor_option
@json_option
@handle_errors
def buyer_set(
    buyer_id: int,
    notice_preference: str | None,
    due_day: int | Reset | None,
    reminder_offsets: str | Reset | None,
    escalation_offset: int | Reset | None,
    reset_calendar: bool,
    reason: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Change la préférence d'avis ou le calendrier des déclarations d'un donneur d'ordre.

    Le calendrier vaut pour ses lots qui n'ont pas le leur ; « défaut » (ou --reset-calendar)
    revient au réglage général. Les relances en cours de ces lots suivent le nouveau calendrier.
    """
    change = calendar_change(due_day, reminder_offsets, escalation_offset, reset_calendar)
    if notice_preference is None and change.empty:
        raise click.UsageError(
            "Donnez au moins une option : --notices, --due-day, --reminder-offsets, "
            "--escalation-offset ou --reset-calendar."
        )
    app = get_app()
    now = app.clock()
    with app.transaction() as session:
        buyer, result = set_buyer(
            session,
            buyer_id,
            notice_preference=notice_preference,
            calendar=change,
            actor=actor or app.settings.facilitator_name,
            now=now,
            settings=app.settings,
            reason=reason,
        )
        data = {**buyer_data(buyer), **calendar_changed_data(result)}
    if as_json:
        print_json(data)
        return
    if not result.changes:
        say(
            f"Rien à changer : le donneur d'ordre n° {buyer_id} ({data['nom']}) a déjà ces réglages."
        )
        return
    say(f"Donneur d'ordre n° {buyer_id} ({data['nom']}) modifié :")
    print_calendar_changed(result)
    print_calendar(result.calendar, "Calendrier de ses lots qui n'ont pas le leur")
    if result.lots:
        numbers = ", ".join(str(n) for n in result.lots)
        say(
            f"Lots dont le calendrier change : {plural(len(result.lots), 'clause', 'clauses')} (n° {numbers})."
        )


@buyer_group.command("contact-add")
@click.argument("buyer_id", type=int, metavar="DONNEUR_D_ORDRE")
@click.option("--name", required=True, help="Nom du contact.")
@click.option("--email", required=True, help="Adresse e-mail du contact.")
@click.option("--phone", default="", help="Téléphone.")
@click.option("--role", default="", help="Fonction (acheteur, chargé d'opération…).")
@json_option
@handle_errors
def buyer_contact_add(
    buyer_id: int, name: str, email: str, phone: str, role: str, as_json: bool
) -> None:
    """Ajoute un contact à un donneur d'ordre (il reçoit les avis)."""
    app = get_app()
    with app.transaction() as session:
        contact = catalog.add_buyer_contact(
            session, buyer_id, name=name, email=email, phone=phone, role=role
        )
        data = {
            "id": contact.id,
            "donneur_d_ordre_id": buyer_id,
            "donneur_d_ordre": contact.buyer.name,
            "nom": contact.name,
            "email": contact.email,
            "telephone": contact.phone,
            "fonction": contact.role,
        }
    if as_json:
        print_json(data)
        return
    say(
        f"Contact n° {data['id']} ajouté {to_name(str(data['donneur_d_ordre']))} : "
        f"{data['nom']} <{data['email']}>."
    )


# --- companies --------------------------------------------------------------------------------


def company_data(company: Company) -> dict[str, Any]:
    return {
        "id": company.id,
        "nom": company.name,
        "siret": company.siret,
        "ville": company.city,
        "correspondants": [
            {"id": c.id, "nom": c.name, "email": c.email, "telephone": c.phone}
            for c in company.correspondents
        ],
    }


@click.group("company")
def company_group() -> None:
    """Entreprises (titulaires, cotraitants, sous-traitants) et leurs correspondants."""


@company_group.command("add")
@click.argument("name", metavar="NOM")
@click.option("--siret", default=None, help="SIRET à 14 chiffres (espaces permis).")
@click.option("--city", default="", help="Ville.")
@json_option
@handle_errors
def company_add(name: str, siret: str | None, city: str, as_json: bool) -> None:
    """Ajoute une entreprise."""
    app = get_app()
    now = app.clock()
    with app.transaction() as session:
        data = company_data(
            catalog.add_company(session, name=name, siret=siret, city=city, now=now)
        )
    if as_json:
        print_json(data)
        return
    siret_text = f", SIRET {data['siret']}" if data["siret"] else ""
    say(
        f"Entreprise n° {data['id']} ajoutée : [bold]{escape(data['nom'])}[/]{siret_text}.",
        markup=True,
    )


@company_group.command("list")
@json_option
@handle_errors
def company_list(as_json: bool) -> None:
    """Liste les entreprises et leurs correspondants."""
    app = get_app()
    with app.transaction() as session:
        rows = [company_data(c) for c in catalog.list_companies(session)]
    if as_json:
        print_json(rows)
        return
    print_table(
        "Entreprises",
        ["N°", "Nom", "SIRET", "Ville", "Correspondants"],
        [
            [
                r["id"],
                r["nom"],
                r["siret"] or "",
                r["ville"],
                "\n".join(f"n° {c['id']} {c['nom']} <{c['email']}>" for c in r["correspondants"])
                or "aucun",
            ]
            for r in rows
        ],
    )


@company_group.command("correspondent-add")
@click.argument("company_id", type=int, metavar="ENTREPRISE")
@click.option("--name", required=True, help="Nom du correspondant insertion.")
@click.option("--email", required=True, help="Adresse e-mail (reçoit appels et rappels).")
@click.option("--phone", default="", help="Téléphone.")
@json_option
@handle_errors
def company_correspondent_add(
    company_id: int, name: str, email: str, phone: str, as_json: bool
) -> None:
    """Ajoute un correspondant insertion à une entreprise."""
    app = get_app()
    with app.transaction() as session:
        person = catalog.add_correspondent(session, company_id, name=name, email=email, phone=phone)
        data = {
            "id": person.id,
            "entreprise_id": company_id,
            "entreprise": person.company.name,
            "nom": person.name,
            "email": person.email,
            "telephone": person.phone,
        }
    if as_json:
        print_json(data)
        return
    say(
        f"Correspondant n° {data['id']} ajouté {to_name(str(data['entreprise']))} : "
        f"{data['nom']} <{data['email']}>."
    )


# --- operations and markets -------------------------------------------------------------------


def operation_data(operation: Operation) -> dict[str, Any]:
    return {
        "id": operation.id,
        "donneur_d_ordre_id": operation.buyer_id,
        "donneur_d_ordre": operation.buyer.name,
        "nom": operation.name,
        "lieu": operation.place,
        "marches": len(operation.markets),
    }


@click.group("operation")
def operation_group() -> None:
    """Opérations (un chantier, un programme) d'un donneur d'ordre."""


@operation_group.command("add")
@click.argument("name", metavar="NOM")
@click.option("--buyer", "buyer_id", type=int, required=True, help="N° du donneur d'ordre.")
@click.option("--place", default="", help="Lieu de l'opération.")
@json_option
@handle_errors
def operation_add(name: str, buyer_id: int, place: str, as_json: bool) -> None:
    """Ajoute une opération à un donneur d'ordre."""
    app = get_app()
    now = app.clock()
    with app.transaction() as session:
        operation = catalog.add_operation(session, buyer_id, name=name, place=place, now=now)
        data = operation_data(operation)
    if as_json:
        print_json(data)
        return
    say(
        f"Opération n° {data['id']} ajoutée : [bold]{escape(data['nom'])}[/] "
        f"({escape(data['donneur_d_ordre'])}).",
        markup=True,
    )


@operation_group.command("list")
@click.option("--buyer", "buyer_id", type=int, default=None, help="Un seul donneur d'ordre.")
@json_option
@handle_errors
def operation_list(buyer_id: int | None, as_json: bool) -> None:
    """Liste les opérations."""
    app = get_app()
    with app.transaction() as session:
        rows = [operation_data(o) for o in catalog.list_operations(session, buyer_id)]
    if as_json:
        print_json(rows)
        return
    print_table(
        "Opérations",
        ["N°", "Donneur d'ordre", "Nom", "Lieu", "Marchés"],
        [[r["id"], r["donneur_d_ordre"], r["nom"], r["lieu"], number(r["marches"])] for r in rows],
    )


def market_data(market: Market) -> dict[str, Any]:
    return {
        "id": market.id,
        "operation_id": market.operation_id,
        "operation": market.operation.name,
        "donneur_d_ordre": market.operation.buyer.name,
        "reference": market.reference,
        "intitule": market.title,
        "lots": len(market.clauses),
    }


@click.group("market")
def market_group() -> None:
    """Marchés d'une opération (chacun compte un ou plusieurs lots)."""


@market_group.command("add")
@click.argument("reference", metavar="REFERENCE")
@click.option("--operation", "operation_id", type=int, required=True, help="N° de l'opération.")
@click.option("--title", default="", help="Intitulé du marché.")
@json_option
@handle_errors
def market_add(reference: str, operation_id: int, title: str, as_json: bool) -> None:
    """Ajoute un marché à une opération."""
    app = get_app()
    with app.transaction() as session:
        market = catalog.add_market(session, operation_id, reference=reference, title=title)
        data = market_data(market)
    if as_json:
        print_json(data)
        return
    say(
        f"Marché n° {data['id']} ajouté : [bold]{escape(data['reference'])}[/]"
        + (f" {escape(data['intitule'])}" if data["intitule"] else "")
        + f" (opération {escape(data['operation'])}).",
        markup=True,
    )


@market_group.command("list")
@click.option("--operation", "operation_id", type=int, default=None, help="Une seule opération.")
@json_option
@handle_errors
def market_list(operation_id: int | None, as_json: bool) -> None:
    """Liste les marchés."""
    app = get_app()
    with app.transaction() as session:
        rows = [market_data(m) for m in catalog.list_markets(session, operation_id)]
    if as_json:
        print_json(rows)
        return
    print_table(
        "Marchés",
        ["N°", "Donneur d'ordre", "Opération", "Référence", "Intitulé", "Lots"],
        [
            [
                r["id"],
                r["donneur_d_ordre"],
                r["operation"],
                r["reference"],
                r["intitule"],
                number(r["lots"]),
            ]
            for r in rows
        ],
    )


# --- lots -------------------------------------------------------------------------------------


@click.group("lot")
def lot_group() -> None:
    """Lots d'un marché portant une clause d'insertion (une clause par lot)."""


@lot_group.command("add")
@click.option("--market", "market_id", type=int, required=True, help="N° du marché.")
@click.option("--title", required=True, help="Intitulé du lot (ex. Gros œuvre).")
@click.option("--number", "lot_number", default="", help="Numéro du lot (vide : lot unique).")
@click.option("--trade", default="", help="Corps d'état.")
@figure_options
@click.option("--hours", "hours_override", type=int, default=None, help="Heures imposées.")
@click.option("--hours-reason", default=None, help="Raison des heures imposées (obligatoire).")
@click.option(
    "--planned-notification", default=None, help="Notification prévue du marché (jj/mm/aaaa)."
)
@calendar_options
@actor_option
@json_option
@handle_errors
def lot_add(
    market_id: int,
    title: str,
    lot_number: str,
    trade: str,
    amount: str | None,
    labour_share: str | None,
    rate: str | None,
    hourly_cost: str | None,
    hours_override: int | None,
    hours_reason: str | None,
    planned_notification: str | None,
    due_day: int | None,
    reminder_offsets: str | None,
    escalation_offset: int | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Ajoute un lot et sa clause, à l'étape « repérage » ; calcule ses heures si les quatre
    paramètres sont donnés."""
    app = get_app()
    figures = parse_figures(amount, labour_share, rate, hourly_cost)
    if hours_reason is not None and hours_override is None:
        raise click.UsageError("--hours-reason va avec --hours.")
    params = ClauseParameters(
        amount_excl_tax=figures.amount,
        labour_share=figures.labour_share,
        insertion_rate=figures.rate,
        hourly_cost=figures.hourly_cost,
        hours_override=hours_override,
        override_reason=hours_reason,
    )
    notification = (
        parse_date_fr(planned_notification, "--planned-notification")
        if planned_notification
        else None
    )
    now = app.clock()
    with app.transaction() as session:
        clause = catalog.add_lot(
            session,
            market_id,
            lot_number=lot_number,
            lot_title=title,
            params=params,
            actor=actor or app.settings.facilitator_name,
            now=now,
            publish=app.publish,
            trade=trade,
            planned_notification=notification,
            calendar=CalendarChange(due_day, reminder_offsets, escalation_offset),
            settings=app.settings,
        )
        data = clause_summary(clause)
    calculation = params.calculation()
    data["note_de_calcul"] = calculation.note() if calculation else None
    if as_json:
        print_json(data)
        return
    lot = f" lot {data['lot']}" if data["lot"] else ""
    say(
        f"Clause n° {data['id']} créée à l'étape « {data['etape_libelle']} » : "
        f"marché {data['marche']}{lot} – {data['intitule']}."
    )
    if calculation:
        print_calculation(calculation)
    if hours_override is not None:
        say(f"Heures imposées : {hours_text(hours_override)} ({hours_reason}).")
    elif calculation is None:
        say("Heures d'insertion : à calculer (--amount, --labour-share, --rate et --hourly-cost).")


@lot_group.command("set")
@click.argument("clause_id", type=int, metavar="CLAUSE")
@change_calendar_options
@click.option("--reason", default=None, help="Motif inscrit à l'historique de la clause.")
@actor_option
@json_option
@handle_errors
def lot_set(
    clause_id: int,
    due_day: int | Reset | None,
    reminder_offsets: str | Reset | None,
    escalation_offset: int | Reset | None,
    reset_calendar: bool,
    reason: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Change le calendrier des déclarations d'un lot ; « défaut » (ou --reset-calendar) revient
    à celui du donneur d'ordre. Les relances en cours suivent le nouveau calendrier."""
    change = calendar_change(due_day, reminder_offsets, escalation_offset, reset_calendar)
    if change.empty:
        raise click.UsageError(
            "Donnez au moins une option : --due-day, --reminder-offsets, --escalation-offset "
            "ou --reset-calendar."
        )
    app = get_app()
    now = app.clock()
    with app.transaction() as session:
        result = set_lot_calendar(
            session,
            clause_id,
            change,
            actor=actor or app.settings.facilitator_name,
            now=now,
            settings=app.settings,
            reason=reason,
        )
    if as_json:
        print_json({"clause": clause_id, **calendar_changed_data(result)})
        return
    if not result.changes:
        say(f"Rien à changer : la clause n° {clause_id} a déjà ce calendrier.")
        return
    say(f"Clause n° {clause_id} : calendrier des déclarations changé.")
    print_calendar_changed(result)
    print_calendar(result.calendar)


# The same command as ``clauses clause list``: a lot and its clause are one row.
lot_group.add_command(list_clauses, name="list")


COMMANDS: list[click.Command] = [
    buyer_group,
    company_group,
    operation_group,
    market_group,
    lot_group,
]
