"""Corrections of the reference data, added to the ``buyer``, ``company``, ``operation``,
``market`` and ``lot`` groups: ``edit``, ``delete``, ``merge`` and ``show`` (with the history of
corrections), ``contact-edit``/``contact-delete``, ``correspondent-edit``/``correspondent-delete``.

Each command calls one function of ``workflow.app.corrections`` and renders what it returns; every
change is inscribed in the record history with who (``--actor``), when and why (``--reason``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from workflow.app import corrections as commands
from workflow.app.corrections import BuyerCard, CompanyCard, Correction, Deletion, Merge
from workflow.entrypoints.cli.catalog import (
    buyer_group,
    company_group,
    lot_group,
    market_group,
    operation_group,
)
from workflow.entrypoints.cli.common import (
    actor_option,
    get_app,
    handle_errors,
    json_option,
    plural,
    print_json,
    print_table,
    reason_option,
    say,
)
from workflow.services.corrections import NOUNS, FieldChange, changes_text, quoted
from workflow.services.record_history import HistoryEntry, moved_text

F = TypeVar("F", bound=Callable[..., Any])

BUYER_HELP = "son N° ou son nom"
COMPANY_HELP = "son N°, son SIRET ou son nom"


def _need_one(values: dict[str, object]) -> None:
    if all(v is None for v in values.values()):
        names = list(values)
        listed = ", ".join(names[:-1]) + " ou " + names[-1] if len(names) > 1 else names[0]
        raise click.UsageError(f"Donnez au moins une option : {listed}.")


# --- rendering ----------------------------------------------------------------------------------


def change_data(change: FieldChange) -> dict[str, Any]:
    return {
        "champ": change.field,
        "libelle": change.label,
        "avant": change.before,
        "apres": change.after,
    }


def correction_data(done: Correction) -> dict[str, Any]:
    return {
        "fiche": done.kind.value,
        "fiche_libelle": done.noun.label,
        "id": done.id,
        "nom": done.name,
        "changements": [change_data(c) for c in done.changes],
        "motif": done.reason,
        "acteur": done.actor,
        "date": done.at,
        "historique_id": done.history_id,
        "courriels_readresses": list(done.readdressed),
    }


def kept_phone_text(done: Correction, how: str) -> str:
    """« Téléphone « … » gardé : s'il était celui de <ancien nom>, <how>. »"""
    former = next((c.before for c in done.changes if c.field == "name"), None) or done.name
    return f"Téléphone {quoted(done.kept_phone or '')} gardé : s'il était celui de {former}, {how}."


def print_correction(done: Correction, as_json: bool) -> None:
    if as_json:
        print_json(correction_data(done))
        return
    noun = done.noun
    if not done.changes:
        say(f"Rien à changer : {noun.the} n° {done.id} ({done.name}) a déjà ces valeurs.")
        return
    say(f"{noun.numbered(done.id, capital=True)} modifié{noun.e} : {changes_text(done.changes)}.")
    if done.reason:
        say(f"Motif : {done.reason}")
    if done.kept_phone:
        say(kept_phone_text(done, 'corrigez-le avec --phone (ou --phone "" pour l\'effacer)'))
    email = next((c for c in done.changes if c.field == "email"), None)
    if email is not None:
        say(f"Les prochains courriels iront à {quoted(email.after)}, à toute étape de la clause.")
        if done.readdressed:
            numbers = ", ".join(str(n) for n in done.readdressed)
            say(
                f"{plural(len(done.readdressed), 'courriel pas encore parti ira', 'courriels pas encore partis iront')} "
                f"aussi à la nouvelle adresse (n° {numbers})."
            )


def deletion_data(done: Deletion) -> dict[str, Any]:
    return {
        "fiche": done.kind.value,
        "fiche_libelle": done.noun.label,
        "id": done.id,
        "nom": done.name,
        "retires_avec": list(done.removed),
        "motif": done.reason,
        "acteur": done.actor,
        "date": done.at,
        "historique_id": done.history_id,
    }


def print_deletion(done: Deletion, as_json: bool) -> None:
    if as_json:
        print_json(deletion_data(done))
        return
    noun = done.noun
    say(
        f"{noun.numbered(done.id, capital=True)} {quoted(done.name)} supprimé{noun.e} ; "
        "l'historique des corrections en garde la trace."
    )
    for removed in done.removed:
        say(f"  retiré avec : {removed}")
    if done.reason:
        say(f"Motif : {done.reason}")


def merge_data(done: Merge) -> dict[str, Any]:
    return {
        "fiche": done.kind.value,
        "source": {"id": done.source_id, "nom": done.source_name},
        "cible": {"id": done.target_id, "nom": done.target_name},
        "deplaces": {m.what: list(m.ids) for m in done.moved},
        "completes": [change_data(c) for c in done.filled],
        "motif": done.reason,
        "acteur": done.actor,
        "date": done.at,
        "historique_ids": list(done.history_ids),
    }


def print_merge(done: Merge, as_json: bool) -> None:
    if as_json:
        print_json(merge_data(done))
        return
    noun = NOUNS[done.kind]
    moved = moved_text({m.what: m.ids for m in done.moved})
    say(
        f"{noun.numbered(done.source_id, capital=True)} {quoted(done.source_name)} "
        f"fusionné{noun.e} "
        f"dans le n° {done.target_id} {quoted(done.target_name)} : {moved}."
    )
    if done.filled:
        say(f"Complété sur le n° {done.target_id} : {changes_text(done.filled)}.")
    if done.reason:
        say(f"Motif : {done.reason}")


def history_data(entry: HistoryEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "date": entry.at,
        "acteur": entry.actor,
        "fiche": entry.kind.value,
        "fiche_libelle": entry.kind_label,
        "fiche_id": entry.entity_id,
        "action": entry.action.value,
        "action_libelle": entry.action_label,
        "detail": entry.text,
        "changements": [change_data(c) for c in entry.changes],
        "motif": entry.reason,
    }


def print_history(history: tuple[HistoryEntry, ...]) -> None:
    zone = get_app().settings.zone
    print_table(
        "Historique des corrections",
        ["Date", "Acteur", "Fiche", "Action", "Détail", "Motif"],
        [
            [
                f"{h.at.astimezone(zone):%d/%m/%Y %H:%M}",
                h.actor,
                h.record,
                h.action_label,
                h.text,
                h.reason or "",
            ]
            for h in history
        ],
    )


# --- buyers -------------------------------------------------------------------------------------


@buyer_group.command("edit")
@click.argument("buyer", metavar="DONNEUR_D_ORDRE")
@click.option("--name", default=None, help="Nouveau nom.")
@click.option("--kind", default=None, help="Nouveau type (département, commune, bailleur…).")
@reason_option
@actor_option
@json_option
@handle_errors
def buyer_edit(
    buyer: str,
    name: str | None,
    kind: str | None,
    reason: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Corrige le nom ou le type d'un donneur d'ordre (son N° ou son nom)."""
    _need_one({"--name": name, "--kind": kind})
    done = commands.edit_buyer(get_app(), buyer, name=name, kind=kind, reason=reason, actor=actor)
    print_correction(done, as_json)


@buyer_group.command("contact-edit")
@click.argument("contact", metavar="CONTACT")
@click.option("--buyer", default=None, help=f"Le donneur d'ordre du contact ({BUYER_HELP}).")
@click.option("--name", default=None, help="Nouveau nom.")
@click.option("--email", default=None, help="Nouvelle adresse e-mail (les avis à venir y iront).")
@click.option("--phone", default=None, help='Nouveau téléphone ; "" l\'efface.')
@click.option("--role", default=None, help='Nouvelle fonction ; "" l\'efface.')
@reason_option
@actor_option
@json_option
@handle_errors
def buyer_contact_edit(
    contact: str,
    buyer: str | None,
    name: str | None,
    email: str | None,
    phone: str | None,
    role: str | None,
    reason: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Corrige un contact d'un donneur d'ordre (son N°, son e-mail ou son nom)."""
    _need_one({"--name": name, "--email": email, "--phone": phone, "--role": role})
    done = commands.edit_contact(
        get_app(), contact, buyer=buyer, name=name, email=email, phone=phone, role=role,
        reason=reason, actor=actor,
    )  # fmt: skip
    print_correction(done, as_json)


@buyer_group.command("contact-delete")
@click.argument("contact", metavar="CONTACT")
@click.option("--buyer", default=None, help=f"Le donneur d'ordre du contact ({BUYER_HELP}).")
@reason_option
@actor_option
@json_option
@handle_errors
def buyer_contact_delete(
    contact: str, buyer: str | None, reason: str | None, actor: str | None, as_json: bool
) -> None:
    """Supprime un contact d'un donneur d'ordre (il ne recevra plus les avis)."""
    done = commands.delete_contact(get_app(), contact, buyer=buyer, reason=reason, actor=actor)
    print_deletion(done, as_json)


@buyer_group.command("delete")
@click.argument("buyer", metavar="DONNEUR_D_ORDRE")
@reason_option
@actor_option
@json_option
@handle_errors
def buyer_delete(buyer: str, reason: str | None, actor: str | None, as_json: bool) -> None:
    """Supprime un donneur d'ordre sans opération (avec ses contacts) ; refusé sinon, avec ce
    qui en dépend."""
    print_deletion(commands.delete_buyer(get_app(), buyer, reason=reason, actor=actor), as_json)


@buyer_group.command("merge")
@click.argument("source", metavar="DOUBLON")
@click.option(
    "--into", "target", required=True, help=f"Le donneur d'ordre qui reste ({BUYER_HELP})."
)
@reason_option
@actor_option
@json_option
@handle_errors
def buyer_merge(
    source: str, target: str, reason: str | None, actor: str | None, as_json: bool
) -> None:
    """Fusionne un donneur d'ordre en double dans celui qui reste : ses opérations et ses
    contacts passent à la cible, puis le doublon est supprimé."""
    done = commands.merge_buyers(get_app(), source, into=target, reason=reason, actor=actor)
    print_merge(done, as_json)


def buyer_card_data(card: BuyerCard) -> dict[str, Any]:
    return {
        "id": card.id,
        "nom": card.name,
        "type": card.kind,
        "avis_libelle": card.notices,
        "calendrier": card.calendar,
        "contacts": [
            {"id": c.id, "nom": c.name, "email": c.email, "telephone": c.phone, "fonction": c.role}
            for c in card.contacts
        ],
        "operations": [
            {"id": o.id, "nom": o.name, "lieu": o.place, "marches": list(o.markets)}
            for o in card.operations
        ],
        "doublons_fusionnes": list(card.merged_from),
        "historique": [history_data(h) for h in card.history],
    }


@buyer_group.command("show")
@click.argument("buyer", metavar="DONNEUR_D_ORDRE")
@json_option
@handle_errors
def buyer_show(buyer: str, as_json: bool) -> None:
    """Montre un donneur d'ordre, ses contacts, ses opérations et l'historique de ses
    corrections."""
    card = commands.buyer_card(get_app(), buyer)
    if as_json:
        print_json(buyer_card_data(card))
        return
    kind = f" ({card.kind})" if card.kind else ""
    say(f"Donneur d'ordre n° {card.id} – {card.name}{kind}")
    say(f"Avis : {card.notices} · Calendrier : {card.calendar}")
    say("Contacts :" if card.contacts else "Contacts : aucun")
    for c in card.contacts:
        details = " · ".join(x for x in (c.phone, c.role) if x)
        say(f"  n° {c.id} {c.name} <{c.email}>" + (f" · {details}" if details else ""))
    say("Opérations :" if card.operations else "Opérations : aucune")
    for o in card.operations:
        place = f" ({o.place})" if o.place else ""
        markets = f" – marchés {', '.join(o.markets)}" if o.markets else " – aucun marché"
        say(f"  n° {o.id} {o.name}{place}{markets}")
    if card.merged_from:
        say("Doublons fusionnés ici : " + ", ".join(f"n° {n}" for n in card.merged_from))
    print_history(card.history)


# --- companies ----------------------------------------------------------------------------------


@company_group.command("edit")
@click.argument("company", metavar="ENTREPRISE")
@click.option("--name", default=None, help="Nouveau nom.")
@click.option(
    "--siret", default=None, help='Nouveau SIRET à 14 chiffres, clé vérifiée ; "" l\'efface.'
)
@click.option("--city", default=None, help='Nouvelle ville ; "" l\'efface.')
@reason_option
@actor_option
@json_option
@handle_errors
def company_edit(
    company: str,
    name: str | None,
    siret: str | None,
    city: str | None,
    reason: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Corrige le nom, le SIRET ou la ville d'une entreprise (son N°, son SIRET ou son nom)."""
    _need_one({"--name": name, "--siret": siret, "--city": city})
    done = commands.edit_company(
        get_app(), company, name=name, siret=siret, city=city, reason=reason, actor=actor
    )
    print_correction(done, as_json)


@company_group.command("correspondent-edit")
@click.argument("correspondent", metavar="CORRESPONDANT")
@click.option("--company", default=None, help=f"L'entreprise du correspondant ({COMPANY_HELP}).")
@click.option("--name", default=None, help="Nouveau nom.")
@click.option(
    "--email",
    default=None,
    help="Nouvelle adresse e-mail : les appels, rappels, accusés et avis de suspension ou de reprise à venir y iront.",
)
@click.option("--phone", default=None, help='Nouveau téléphone ; "" l\'efface.')
@reason_option
@actor_option
@json_option
@handle_errors
def company_correspondent_edit(
    correspondent: str,
    company: str | None,
    name: str | None,
    email: str | None,
    phone: str | None,
    reason: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Corrige un correspondant (son N°, son e-mail ou son nom), à toute étape des clauses :
    les courriels à venir, et ceux pas encore partis, vont à la nouvelle adresse."""
    _need_one({"--name": name, "--email": email, "--phone": phone})
    done = commands.edit_correspondent(
        get_app(), correspondent, company=company, name=name, email=email, phone=phone,
        reason=reason, actor=actor,
    )  # fmt: skip
    print_correction(done, as_json)


@company_group.command("correspondent-delete")
@click.argument("correspondent", metavar="CORRESPONDANT")
@click.option("--company", default=None, help=f"L'entreprise du correspondant ({COMPANY_HELP}).")
@reason_option
@actor_option
@json_option
@handle_errors
def company_correspondent_delete(
    correspondent: str, company: str | None, reason: str | None, actor: str | None, as_json: bool
) -> None:
    """Supprime un correspondant qu'aucune attribution n'utilise ; refusé sinon."""
    done = commands.delete_correspondent(
        get_app(), correspondent, company=company, reason=reason, actor=actor
    )
    print_deletion(done, as_json)


@company_group.command("delete")
@click.argument("company", metavar="ENTREPRISE")
@reason_option
@actor_option
@json_option
@handle_errors
def company_delete(company: str, reason: str | None, actor: str | None, as_json: bool) -> None:
    """Supprime une entreprise qu'aucun lot, déclaration ni courriel ne cite (avec ses
    correspondants) ; refusé sinon, avec ce qui en dépend."""
    done = commands.delete_company(get_app(), company, reason=reason, actor=actor)
    print_deletion(done, as_json)


@company_group.command("merge")
@click.argument("source", metavar="DOUBLON")
@click.option("--into", "target", required=True, help=f"L'entreprise qui reste ({COMPANY_HELP}).")
@reason_option
@actor_option
@json_option
@handle_errors
def company_merge(
    source: str, target: str, reason: str | None, actor: str | None, as_json: bool
) -> None:
    """Fusionne une entreprise en double dans celle qui reste : attributions, déclarations,
    relances, correspondants et courriels passent à la cible, puis le doublon est supprimé."""
    done = commands.merge_companies(get_app(), source, into=target, reason=reason, actor=actor)
    print_merge(done, as_json)


def company_card_data(card: CompanyCard) -> dict[str, Any]:
    return {
        "id": card.id,
        "nom": card.name,
        "siret": card.siret,
        "ville": card.city,
        "correspondants": [
            {"id": c.id, "nom": c.name, "email": c.email, "telephone": c.phone}
            for c in card.correspondents
        ],
        "lots": [
            {"clause": p.clause_id, "lot": p.lot, "role": p.role, "etape": p.stage}
            for p in card.lots
        ],
        "doublons_fusionnes": list(card.merged_from),
        "historique": [history_data(h) for h in card.history],
    }


@company_group.command("show")
@click.argument("company", metavar="ENTREPRISE")
@json_option
@handle_errors
def company_show(company: str, as_json: bool) -> None:
    """Montre une entreprise, ses correspondants, ses lots et l'historique de ses corrections."""
    card = commands.company_card(get_app(), company)
    if as_json:
        print_json(company_card_data(card))
        return
    siret = f", SIRET {card.siret}" if card.siret else ""
    city = f", {card.city}" if card.city else ""
    say(f"Entreprise n° {card.id} – {card.name}{siret}{city}")
    say("Correspondants :" if card.correspondents else "Correspondants : aucun")
    for c in card.correspondents:
        phone = f" · {c.phone}" if c.phone else ""
        say(f"  n° {c.id} {c.name} <{c.email}>{phone}")
    say("Lots :" if card.lots else "Lots : aucun")
    for p in card.lots:
        say(f"  clause n° {p.clause_id} {p.lot} – {p.role} – {p.stage}")
    if card.merged_from:
        say("Doublons fusionnés ici : " + ", ".join(f"n° {n}" for n in card.merged_from))
    print_history(card.history)


# --- operations, markets, lots ------------------------------------------------------------------


@operation_group.command("edit")
@click.argument("operation", metavar="OPERATION")
@click.option("--name", default=None, help="Nouveau nom.")
@click.option("--place", default=None, help='Nouveau lieu ; "" l\'efface.')
@reason_option
@actor_option
@json_option
@handle_errors
def operation_edit(
    operation: str,
    name: str | None,
    place: str | None,
    reason: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Corrige le nom ou le lieu d'une opération (son N° ou son nom)."""
    _need_one({"--name": name, "--place": place})
    done = commands.edit_operation(
        get_app(), operation, name=name, place=place, reason=reason, actor=actor
    )
    print_correction(done, as_json)


@operation_group.command("delete")
@click.argument("operation", metavar="OPERATION")
@reason_option
@actor_option
@json_option
@handle_errors
def operation_delete(operation: str, reason: str | None, actor: str | None, as_json: bool) -> None:
    """Supprime une opération sans marché ; refusé sinon."""
    done = commands.delete_operation(get_app(), operation, reason=reason, actor=actor)
    print_deletion(done, as_json)


@market_group.command("edit")
@click.argument("market", metavar="MARCHE")
@click.option("--reference", default=None, help="Nouvelle référence.")
@click.option("--title", default=None, help='Nouvel intitulé ; "" l\'efface.')
@reason_option
@actor_option
@json_option
@handle_errors
def market_edit(
    market: str,
    reference: str | None,
    title: str | None,
    reason: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Corrige la référence ou l'intitulé d'un marché (son N° ou sa référence)."""
    _need_one({"--reference": reference, "--title": title})
    done = commands.edit_market(
        get_app(), market, reference=reference, title=title, reason=reason, actor=actor
    )
    print_correction(done, as_json)


@market_group.command("delete")
@click.argument("market", metavar="MARCHE")
@reason_option
@actor_option
@json_option
@handle_errors
def market_delete(market: str, reason: str | None, actor: str | None, as_json: bool) -> None:
    """Supprime un marché sans lot ; refusé sinon."""
    print_deletion(commands.delete_market(get_app(), market, reason=reason, actor=actor), as_json)


@lot_group.command("edit")
@click.argument("lot", metavar="CLAUSE")
@click.option("--title", default=None, help="Nouvel intitulé du lot.")
@click.option("--trade", default=None, help="Nouveau corps d'état ; \"\" l'efface.")
@click.option("--number", "lot_number", default=None, help="Nouveau numéro de lot.")
@reason_option
@actor_option
@json_option
@handle_errors
def lot_edit(
    lot: str,
    title: str | None,
    trade: str | None,
    lot_number: str | None,
    reason: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Corrige l'intitulé, le corps d'état ou le numéro d'un lot (son N° ou « RÉF/LOT ») ;
    l'historique de la clause le dit aussi."""
    _need_one({"--title": title, "--trade": trade, "--number": lot_number})
    done = commands.edit_lot(
        get_app(), lot, title=title, trade=trade, lot_number=lot_number, reason=reason,
        actor=actor,
    )  # fmt: skip
    print_correction(done, as_json)


#: The commands join the existing groups (registered by ``catalog``); none of their own.
COMMANDS: list[click.Command] = []
