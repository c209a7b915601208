"""``clauses buyer|company|operation|market|lot ...``: the territory's reference data.

Each command parses what was typed, calls one function of ``workflow.app.catalog`` (or
``workflow.app.calendars``) and prints the view it returns: every ``add`` what was created
(``--json`` for machines), every ``list`` a table. A buyer, a company, an operation or a market is
designated by its N° (shown by ``list``) or by what people know of it: its name, its SIRET, its
reference; a lot by its clause's N° or « 2026-014/01 ».
"""

from __future__ import annotations

from typing import Any

import click
from rich.markup import escape

from workflow.adapters.templates import to_name
from workflow.app import calendars as calendar_app
from workflow.app import catalog as catalog_app
from workflow.app import clauses as clause_app
from workflow.app.catalog import (
    BuyerView,
    CompanyView,
    ContactView,
    CorrespondentView,
    MarketView,
    OperationView,
)
from workflow.app.months_asked_texts import asked_data, asked_sentences
from workflow.domain.stages import LABELS
from workflow.domain.vocabulary import NoticePreference
from workflow.entrypoints.cli.calendar_options import (
    calendar_change,
    calendar_changed_data,
    calendar_options,
    change_calendar_options,
    print_calendar_changed,
)
from workflow.entrypoints.cli.clauses import (
    BUYER_HELP,
    DESIGNATION,
    MARKET_HELP,
    OPERATION_HELP,
    clause_argument,
    figure_options,
    last_month_sentence,
    list_clauses,
    parse_figures,
    print_calculation,
    print_calendar,
    summary_data,
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
from workflow.services.calendar_changes import Reset
from workflow.services.catalog import NOTICE_PREFERENCE_LABELS, CalendarChange


def calendar_text(holder: BuyerView) -> str:
    parts = []
    if holder.due_day is not None:
        parts.append(f"échéance le {holder.due_day}")
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


def buyer_data(buyer: BuyerView) -> dict[str, Any]:
    preference = buyer.notice_preference
    return {
        "id": buyer.id,
        "nom": buyer.name,
        "type": buyer.kind,
        "avis": NOTICE_WORD[preference],
        "avis_libelle": NOTICE_PREFERENCE_LABELS[preference],
        "jour_echeance": buyer.due_day,
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
    """Donneurs d'ordre (acheteurs, maîtres d'ouvrage) et leurs contacts.

    Un donneur d'ordre se désigne par son N° ou par son nom (majuscules, accents et tirets
    n'y comptent pas)."""


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
    data = buyer_data(
        catalog_app.add_buyer(
            get_app(),
            name,
            kind=kind,
            notice_preference=notice_preference,
            calendar=CalendarChange(due_day, reminder_offsets, escalation_offset),
        )
    )
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
    buyers = catalog_app.list_buyers(get_app())
    if as_json:
        print_json([buyer_data(b) for b in buyers])
        return
    print_table(
        "Donneurs d'ordre",
        ["N°", "Nom", "Type", "Avis", "Calendrier", "Contacts"],
        [
            [
                b.id,
                b.name,
                b.kind,
                NOTICE_PREFERENCE_LABELS[b.notice_preference],
                calendar_text(b),
                "\n".join(f"{c.name} <{c.email}>" for c in b.contacts) or "aucun",
            ]
            for b in buyers
        ],
    )


@buyer_group.command("set")
@click.argument("buyer", type=DESIGNATION, metavar="DONNEUR_D_ORDRE")
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
    buyer: str,
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

    DONNEUR_D_ORDRE : N° ou nom du donneur d'ordre.

    Le calendrier vaut pour ses lots qui n'ont pas le leur ; « défaut » (ou --reset-calendar)
    revient au réglage général. Les relances en cours de ces lots suivent le nouveau calendrier.
    """
    change = calendar_change(due_day, reminder_offsets, escalation_offset, reset_calendar)
    if notice_preference is None and change.empty:
        raise click.UsageError(
            "Donnez au moins une option : --notices, --due-day, --reminder-offsets, "
            "--escalation-offset ou --reset-calendar."
        )
    changed = calendar_app.set_buyer(
        get_app(),
        buyer,
        notice_preference=notice_preference,
        calendar=change,
        reason=reason,
        actor=actor,
    )
    result = changed.result
    if as_json:
        print_json({**buyer_data(changed.buyer), **calendar_changed_data(result)})
        return
    who = f"n° {changed.buyer.id} ({changed.buyer.name})"
    if not result.changes:
        say(f"Rien à changer : le donneur d'ordre {who} a déjà ces réglages.")
        return
    say(f"Donneur d'ordre {who} modifié :")
    print_calendar_changed(result)
    print_calendar(result.calendar, "Calendrier de ses lots qui n'ont pas le leur")
    if result.lots:
        numbers = ", ".join(str(n) for n in result.lots)
        say(
            f"Lots dont le calendrier change : {plural(len(result.lots), 'clause', 'clauses')} (n° {numbers})."
        )


def contact_data(contact: ContactView) -> dict[str, Any]:
    return {
        "id": contact.id,
        "donneur_d_ordre_id": contact.buyer_id,
        "donneur_d_ordre": contact.buyer,
        "nom": contact.name,
        "email": contact.email,
        "telephone": contact.phone,
        "fonction": contact.role,
    }


@buyer_group.command("contact-add")
@click.argument("buyer", type=DESIGNATION, metavar="DONNEUR_D_ORDRE")
@click.option("--name", required=True, help="Nom du contact.")
@click.option("--email", required=True, help="Adresse e-mail du contact.")
@click.option("--phone", default="", help="Téléphone.")
@click.option("--role", default="", help="Fonction (acheteur, chargé d'opération…).")
@json_option
@handle_errors
def buyer_contact_add(
    buyer: str, name: str, email: str, phone: str, role: str, as_json: bool
) -> None:
    """Ajoute un contact à un donneur d'ordre (il reçoit les avis).

    DONNEUR_D_ORDRE : N° ou nom du donneur d'ordre."""
    contact = catalog_app.add_buyer_contact(
        get_app(), buyer, name=name, email=email, phone=phone, role=role
    )
    if as_json:
        print_json(contact_data(contact))
        return
    say(
        f"Contact n° {contact.id} ajouté {to_name(contact.buyer)} : "
        f"{contact.name} <{contact.email}>."
    )


# --- companies --------------------------------------------------------------------------------


def correspondent_data(person: CorrespondentView) -> dict[str, Any]:
    return {"id": person.id, "nom": person.name, "email": person.email, "telephone": person.phone}


def company_data(company: CompanyView) -> dict[str, Any]:
    return {
        "id": company.id,
        "nom": company.name,
        "siret": company.siret,
        "ville": company.city,
        "correspondants": [correspondent_data(c) for c in company.correspondents],
    }


@click.group("company")
def company_group() -> None:
    """Entreprises (titulaires, cotraitants, sous-traitants) et leurs correspondants.

    Une entreprise se désigne par son N°, son nom ou son SIRET (espaces permis)."""


@company_group.command("add")
@click.argument("name", metavar="NOM")
@click.option("--siret", default=None, help="SIRET à 14 chiffres (espaces permis).")
@click.option("--city", default="", help="Ville.")
@json_option
@handle_errors
def company_add(name: str, siret: str | None, city: str, as_json: bool) -> None:
    """Ajoute une entreprise."""
    data = company_data(catalog_app.add_company(get_app(), name, siret=siret, city=city))
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
    companies = catalog_app.list_companies(get_app())
    if as_json:
        print_json([company_data(c) for c in companies])
        return
    print_table(
        "Entreprises",
        ["N°", "Nom", "SIRET", "Ville", "Correspondants"],
        [
            [
                c.id,
                c.name,
                c.siret or "",
                c.city,
                "\n".join(f"n° {p.id} {p.name} <{p.email}>" for p in c.correspondents) or "aucun",
            ]
            for c in companies
        ],
    )


@company_group.command("correspondent-add")
@click.argument("company", metavar="ENTREPRISE")
@click.option("--name", required=True, help="Nom du correspondant insertion.")
@click.option("--email", required=True, help="Adresse e-mail (reçoit appels et rappels).")
@click.option("--phone", default="", help="Téléphone.")
@json_option
@handle_errors
def company_correspondent_add(
    company: str, name: str, email: str, phone: str, as_json: bool
) -> None:
    """Ajoute un correspondant insertion à une entreprise.

    ENTREPRISE : N°, nom ou SIRET de l'entreprise."""
    person = catalog_app.add_correspondent(get_app(), company, name=name, email=email, phone=phone)
    if as_json:
        print_json(
            {
                "id": person.id,
                "entreprise_id": person.company_id,
                "entreprise": person.company,
                "nom": person.name,
                "email": person.email,
                "telephone": person.phone,
            }
        )
        return
    say(
        f"Correspondant n° {person.id} ajouté {to_name(person.company)} : "
        f"{person.name} <{person.email}>."
    )


# --- operations and markets -------------------------------------------------------------------


def operation_data(operation: OperationView) -> dict[str, Any]:
    return {
        "id": operation.id,
        "donneur_d_ordre_id": operation.buyer_id,
        "donneur_d_ordre": operation.buyer,
        "nom": operation.name,
        "lieu": operation.place,
        "marches": operation.markets,
    }


@click.group("operation")
def operation_group() -> None:
    """Opérations (un chantier, un programme) d'un donneur d'ordre.

    Une opération se désigne par son N° ou par son nom."""


@operation_group.command("add")
@click.argument("name", metavar="NOM")
@click.option(
    "--buyer", type=DESIGNATION, required=True, metavar="DONNEUR_D_ORDRE", help=BUYER_HELP
)
@click.option("--place", default="", help="Lieu de l'opération.")
@json_option
@handle_errors
def operation_add(name: str, buyer: str, place: str, as_json: bool) -> None:
    """Ajoute une opération à un donneur d'ordre."""
    data = operation_data(catalog_app.add_operation(get_app(), name, buyer=buyer, place=place))
    if as_json:
        print_json(data)
        return
    say(
        f"Opération n° {data['id']} ajoutée : [bold]{escape(data['nom'])}[/] "
        f"({escape(data['donneur_d_ordre'])}).",
        markup=True,
    )


@operation_group.command("list")
@click.option(
    "--buyer",
    type=DESIGNATION,
    default=None,
    metavar="DONNEUR_D_ORDRE",
    help=f"Un seul donneur d'ordre : {BUYER_HELP}",
)
@json_option
@handle_errors
def operation_list(buyer: str | None, as_json: bool) -> None:
    """Liste les opérations."""
    operations = catalog_app.list_operations(get_app(), buyer=buyer)
    if as_json:
        print_json([operation_data(o) for o in operations])
        return
    print_table(
        "Opérations",
        ["N°", "Donneur d'ordre", "Nom", "Lieu", "Marchés"],
        [[o.id, o.buyer, o.name, o.place, number(o.markets)] for o in operations],
    )


def market_data(market: MarketView) -> dict[str, Any]:
    return {
        "id": market.id,
        "operation_id": market.operation_id,
        "operation": market.operation,
        "donneur_d_ordre": market.buyer,
        "reference": market.reference,
        "intitule": market.title,
        "lots": market.lots,
    }


@click.group("market")
def market_group() -> None:
    """Marchés d'une opération (chacun compte un ou plusieurs lots).

    Un marché se désigne par son N° ou par sa référence (ex. 2026-014)."""


@market_group.command("add")
@click.argument("reference", metavar="REFERENCE")
@click.option(
    "--operation", type=DESIGNATION, required=True, metavar="OPERATION", help=OPERATION_HELP
)
@click.option("--title", default="", help="Intitulé du marché.")
@json_option
@handle_errors
def market_add(reference: str, operation: str, title: str, as_json: bool) -> None:
    """Ajoute un marché à une opération."""
    data = market_data(
        catalog_app.add_market(get_app(), reference, operation=operation, title=title)
    )
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
@click.option(
    "--operation",
    type=DESIGNATION,
    default=None,
    metavar="OPERATION",
    help=f"Une seule opération : {OPERATION_HELP}",
)
@json_option
@handle_errors
def market_list(operation: str | None, as_json: bool) -> None:
    """Liste les marchés."""
    markets = catalog_app.list_markets(get_app(), operation=operation)
    if as_json:
        print_json([market_data(m) for m in markets])
        return
    print_table(
        "Marchés",
        ["N°", "Donneur d'ordre", "Opération", "Référence", "Intitulé", "Lots"],
        [[m.id, m.buyer, m.operation, m.reference, m.title, number(m.lots)] for m in markets],
    )


# --- lots -------------------------------------------------------------------------------------


@click.group("lot")
def lot_group() -> None:
    """Lots d'un marché portant une clause d'insertion (une clause par lot).

    Un lot se désigne par le N° de sa clause ou par la référence du marché et le lot, ex.
    2026-014/01."""


@lot_group.command("add")
@click.option("--market", type=DESIGNATION, required=True, metavar="MARCHE", help=MARKET_HELP)
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
    market: str,
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
    figures = parse_figures(amount, labour_share, rate, hourly_cost)
    if hours_reason is not None and hours_override is None:
        raise click.UsageError("--hours-reason va avec --hours.")
    notification = (
        parse_date_fr(planned_notification, "--planned-notification")
        if planned_notification
        else None
    )
    added = catalog_app.add_lot(
        get_app(),
        market=market,
        title=title,
        lot_number=lot_number,
        trade=trade,
        figures=figures,
        hours_override=hours_override,
        hours_reason=hours_reason,
        planned_notification=notification,
        calendar=CalendarChange(due_day, reminder_offsets, escalation_offset),
        actor=actor,
    )
    calculation = added.calculation
    if as_json:
        data = summary_data(added.clause)
        data["note_de_calcul"] = calculation.note() if calculation else None
        print_json(data)
        return
    clause = added.clause
    lot = f" lot {clause.lot_number}" if clause.lot_number else ""
    say(
        f"Clause n° {clause.id} créée à l'étape « {LABELS[clause.stage]} » : "
        f"marché {clause.market}{lot} – {clause.lot_title}."
    )
    if calculation:
        print_calculation(calculation)
    if hours_override is not None:
        say(f"Heures imposées : {hours_text(hours_override)} ({hours_reason}).")
    elif calculation is None:
        say("Heures d'insertion : à calculer (--amount, --labour-share, --rate et --hourly-cost).")


@lot_group.command("set")
@clause_argument
@change_calendar_options
@click.option("--reason", default=None, help="Motif inscrit à l'historique de la clause.")
@actor_option
@json_option
@handle_errors
def lot_set(
    clause: str,
    due_day: int | Reset | None,
    reminder_offsets: str | Reset | None,
    escalation_offset: int | Reset | None,
    reset_calendar: bool,
    reason: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Change le calendrier des déclarations d'un lot ; « défaut » (ou --reset-calendar) revient
    à celui du donneur d'ordre. Les relances en cours suivent le nouveau calendrier.

    CLAUSE : N° de la clause ou référence du marché et lot, ex. 2026-014/01."""
    change = calendar_change(due_day, reminder_offsets, escalation_offset, reset_calendar)
    if change.empty:
        raise click.UsageError(
            "Donnez au moins une option : --due-day, --reminder-offsets, --escalation-offset "
            "ou --reset-calendar."
        )
    changed = calendar_app.set_lot_calendar(get_app(), clause, change, reason=reason, actor=actor)
    result, clause_id = changed.result, changed.clause_id
    if as_json:
        print_json({"clause": clause_id, **calendar_changed_data(result)})
        return
    if not result.changes:
        say(f"Rien à changer : la clause n° {clause_id} a déjà ce calendrier.")
        return
    say(f"Clause n° {clause_id} : calendrier des déclarations changé.")
    print_calendar_changed(result)
    print_calendar(result.calendar)


@lot_group.command("set-end")
@clause_argument
@click.argument("end_text", metavar="FIN_PREVUE")
@click.option(
    "--reason",
    required=True,
    help="Raison (avenant n° …), gardée à l'historique de la clause et écrite telle quelle au "
    "donneur d'ordre et aux entreprises du lot dans l'avis de la nouvelle fin prévue "
    "(« Motif indiqué : … »).",
)
@actor_option
@json_option
@handle_errors
def lot_set_end(clause: str, end_text: str, reason: str, actor: str | None, as_json: bool) -> None:
    """Change la fin prévue d'un lot attribué, en exécution ou suspendu (un avenant qui prolonge
    ou raccourcit les travaux) ; les appels à déclarer suivent la nouvelle fin.

    CLAUSE : N° de la clause ou référence du marché et lot, ex. 2026-014/01.
    FIN_PREVUE : la nouvelle date de fin prévue (jj/mm/aaaa)."""
    end = parse_date_fr(end_text, "Fin prévue")
    done = clause_app.set_planned_end(
        get_app(), clause, end, reason=reason, actor=actor, reason_field="--reason"
    )
    if as_json:
        print_json(
            {
                "clause": done.clause_id,
                "fin_prevue_avant": done.before,
                "fin_prevue": done.after,
                "modifiee": done.changed,
                # The months the new end makes owed, called at the next pass, by company.
                "mois_a_demander": asked_data(done.asked),
            }
        )
        return
    if not done.changed:
        say(
            f"Rien à changer\u00a0: la fin prévue de la clause n°\u00a0{done.clause_id} est déjà "
            f"le {done.after:%d/%m/%Y}."
        )
        return
    moved = "reportée" if done.after > done.before else "avancée"
    say(
        f"Clause n°\u00a0{done.clause_id}\u00a0: fin prévue {moved} du {done.before:%d/%m/%Y} au "
        f"{done.after:%d/%m/%Y}\u00a0; l'historique garde la raison. Les appels à déclarer "
        f"suivent\u00a0: {last_month_sentence(done.after, done.clause_id)}"
    )
    for line in asked_sentences(done.asked, get_app().settings.zone):
        say(line)


# The same command as ``clauses clause list``: a lot and its clause are one row.
lot_group.add_command(list_clauses, name="list")


COMMANDS: list[click.Command] = [
    buyer_group,
    company_group,
    operation_group,
    market_group,
    lot_group,
]
