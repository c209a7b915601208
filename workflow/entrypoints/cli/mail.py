"""``clauses mail ...``: the outbox (list, retry, cancel, send) and template previews."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from workflow.app import mail
from workflow.bootstrap import App
from workflow.entrypoints.cli.common import (
    actor_option,
    console,
    error_console,
    get_app,
    handle_errors,
    json_option,
    number,
    print_json,
    print_table,
)
from workflow.entrypoints.cli.mail_words import kind_label, send_data
from workflow.entrypoints.cli.preview import preview_command
from workflow.services.dispatch import EXIT_DELIVERY_FAILED
from workflow.services.outbox import STATE_LABELS, OutboxState


@click.group("mail")
def mail_group() -> None:
    """Courriels : file d'envoi, nouvelles tentatives, aperçus."""


def _local(app: App, moment: datetime | None) -> str:
    return "" if moment is None else f"{moment.astimezone(app.settings.zone):%d/%m/%Y %H:%M}"


def _short(text: str, width: int = 48) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _when(app: App, message: mail.Message) -> str:
    if message.sent_at is not None:
        return f"envoyé le {_local(app, message.sent_at)}"
    if message.next_attempt_at is not None:
        return f"à partir du {_local(app, message.next_attempt_at)}"
    return ""


def _message_data(message: mail.Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "cle": message.key,
        "type": message.kind,
        "clause": message.clause_id,
        "etat": message.state,
        "etat_libelle": message.state_label,
        "destinataires": message.recipients,
        "objet": message.subject,
        "tentatives": message.attempts,
        "prochain_essai": message.next_attempt_at,
        "envoye_le": message.sent_at,
        "derniere_erreur": message.last_error,
        "destinataires_refuses": message.refused_recipients,
        "cree_le": message.created_at,
    }


@mail_group.command("list")
@click.option(
    "--state",
    "states",
    multiple=True,
    help="pending, sending, sent, failed, dead ou uncertain (ou en français) ; répétable.",
)
@click.option("--kind", default=None, help="N'afficher qu'un type de courriel.")
@click.option("--limit", type=int, default=100, show_default=True, help="Nombre maximal de lignes.")
@json_option
@handle_errors
def list_command(states: tuple[str, ...], kind: str | None, limit: int, as_json: bool) -> None:
    """Liste la file d'envoi des courriels, du plus récent au plus ancien."""
    app = get_app()
    found = mail.outbox_messages(app, states=states, kind=kind, limit=limit)
    counts = dict(found.counts)
    if as_json:
        print_json({"courriels": [_message_data(m) for m in found.messages], "par_etat": counts})
        return
    print_table(
        "File d'envoi des courriels",
        ["N°", "État", "Type", "Destinataires", "Objet", "Essais", "Quand"],
        [
            [
                m.id,
                m.state_label,
                kind_label(m.kind),
                m.recipients,
                _short(m.subject),
                m.attempts,
                _when(app, m),
            ]
            for m in found.messages
        ],
    )
    for m in found.messages:
        if (m.last_error and m.state != OutboxState.SENT) or m.refused_recipients:
            console.print(f"n° {m.id} : {m.last_error}", soft_wrap=True)
    console.print(
        " · ".join(f"{STATE_LABELS[s]} : {number(n)}" for s, n in counts.items()),
    )


@mail_group.command("retry")
@click.argument("message_id", type=int, required=False)
@click.option("--all-failed", is_flag=True, help="Tous les courriels refusés ou abandonnés.")
@json_option
@handle_errors
def retry_command(message_id: int | None, all_failed: bool, as_json: bool) -> None:
    """Remet en file un courriel (N°) ou tous les courriels en échec (--all-failed)."""
    if (message_id is None) == (not all_failed):
        raise click.UsageError("Indiquez soit un numéro de courriel, soit --all-failed.")
    app = get_app()
    retried = mail.retry_failed(app) if message_id is None else mail.retry_message(app, message_id)
    leaving = [r for r in retried if r.leaving is not None]
    if as_json:
        print_json(
            {
                "remis_en_file": [r.leaving for r in leaving],
                "readresses": {str(r.id): r.readdressed() for r in leaving if r.readdressed()},
                "ecrits_a_nouveau": {
                    str(r.id): r.written_again_as for r in retried if r.written_again_as
                },
                "retires": {str(r.id): r.withdrawn for r in retried if r.withdrawn is not None},
            }
        )
        return
    if not retried:
        console.print("Aucun courriel refusé ou abandonné : rien à remettre en file.")
        return
    if leaving:
        numbers = ", ".join(f"n° {r.leaving}" for r in leaving)
        console.print(
            f"{number(len(leaving))} courriel(s) remis en file ({numbers}) ; "
            "ils partiront au prochain envoi («\u00a0clauses mail send\u00a0» ou le service).",
            soft_wrap=True,
        )
    for r in retried:
        if r.written_again_as:
            console.print(
                f"n° {r.id} : le démarrage de l'exécution a été enregistré depuis qu'il a été "
                "écrit ; ce message d'accueil a été écrit à nouveau avec les dates du lot "
                f"démarré et part sous le n° {r.written_again_as}.",
                soft_wrap=True,
            )
        if r.withdrawn is not None:
            console.print(
                f"n° {r.id} : retiré par le service, il ne partira pas. {r.withdrawn}",
                soft_wrap=True,
            )
            continue
        changed = r.readdressed()
        if changed:
            console.print(
                f"n° {r.leaving or r.id} : adressé aux adresses à jour ({changed}).",
                soft_wrap=True,
            )


@mail_group.command("cancel")
@click.argument("message_id", metavar="N°", type=int)
@click.option(
    "--reason",
    required=True,
    help="Pourquoi il ne doit pas partir (gardé dans la file d'envoi avec qui et quand).",
)
@actor_option
@json_option
@handle_errors
def cancel_command(message_id: int, reason: str, actor: str | None, as_json: bool) -> None:
    """Annule un courriel pas encore parti (en attente, refusé, abandonné ou incertain) : il ne
    partira jamais. Un courriel envoyé ne se reprend pas."""
    cancelled = mail.cancel_message(get_app(), message_id, reason=reason, actor=actor)
    if as_json:
        print_json(
            {
                "annule": cancelled.id,
                "etat_avant": cancelled.state,
                "objet": cancelled.subject,
                "destinataires": mail.recipients_text(cancelled.recipients),
                "note": cancelled.note,
            }
        )
        return
    console.print(
        f"Courriel n° {cancelled.id} annulé (il était «\u00a0{STATE_LABELS[cancelled.state]}\u00a0») : "
        f"«\u00a0{cancelled.subject}\u00a0» à {mail.recipients_text(cancelled.recipients)}. "
        "Il ne partira pas.",
        soft_wrap=True,
    )
    console.print(cancelled.note, soft_wrap=True)


@mail_group.command("send")
@click.option(
    "--batch-size", type=click.IntRange(1, 5000), default=mail.BATCH_SIZE, show_default=True
)
@json_option
@handle_errors
def send_command(batch_size: int, as_json: bool) -> None:
    """Envoie maintenant les courriels dus (un passage de l'expéditeur)."""
    report = mail.send_due(get_app(), batch_size=batch_size)
    if as_json:
        print_json({"transport": report.transport, **send_data(report)})
        if report.outage:
            raise SystemExit(EXIT_DELIVERY_FAILED)
        return
    console.print(
        f"Envoi par {report.transport} : {number(report.sent)} envoyé(s), "
        f"{number(report.retried)} à retenter plus tard, {number(report.failed)} refusé(s), "
        f"{number(report.dead)} abandonné(s)."
    )
    if report.partly_refused:
        console.print(
            f"{number(report.partly_refused)} courriel(s) envoyé(s) avec un destinataire refusé : "
            "voir « clauses mail list --state sent »."
        )
    if report.uncertain:
        console.print(
            f"{number(report.uncertain)} courriel(s) incertain(s) (peut-être déjà arrivés) : "
            "voir « clauses mail list --state uncertain », renvoi par « clauses mail retry N° »."
        )
    if report.outage:
        # Exit code 3, so that cron or a monitor sees the outage (README, « Codes de sortie »).
        error_console.print(f"Envoi interrompu : {report.stopped}", soft_wrap=True)
        raise SystemExit(EXIT_DELIVERY_FAILED)
    if report.stopped:
        console.print(f"Envoi interrompu : {report.stopped}", soft_wrap=True)


COMMANDS: list[click.Command] = [mail_group]
mail_group.add_command(preview_command)
