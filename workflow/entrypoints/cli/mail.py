"""``clauses mail ...``: the outbox (list, retry, send) and template previews."""

from __future__ import annotations

from datetime import datetime
from email.utils import parseaddr
from typing import Any

import click

from workflow.adapters.mail.message import parse_recipients
from workflow.adapters.orm import OutboxMessage
from workflow.bootstrap import App
from workflow.entrypoints.cli.common import (
    console,
    error_console,
    get_app,
    handle_errors,
    json_option,
    number,
    print_json,
    print_table,
)
from workflow.entrypoints.cli.preview import preview_command
from workflow.entrypoints.cli.service import kind_label
from workflow.services import outbox
from workflow.services.dispatch import (
    BATCH_SIZE,
    EXIT_DELIVERY_FAILED,
    DispatchReport,
    dispatch_due,
)


@click.group("mail")
def mail_group() -> None:
    """Courriels : file d'envoi, nouvelles tentatives, aperçus."""


def _local(app: App, moment: datetime | None) -> str:
    return "" if moment is None else f"{moment.astimezone(app.settings.zone):%d/%m/%Y %H:%M}"


def _recipients_text(stored: str) -> str:
    try:
        return ", ".join(m.address for m in parse_recipients(stored))
    except ValueError:  # an address the dispatcher refused: show it as it was written
        return ", ".join(parseaddr(line)[1] or line for line in stored.splitlines())


def _short(text: str, width: int = 48) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _when(app: App, row: dict[str, Any]) -> str:
    if row["envoye_le"] is not None:
        return f"envoyé le {_local(app, row['envoye_le'])}"
    if row["prochain_essai"] is not None:
        return f"à partir du {_local(app, row['prochain_essai'])}"
    return ""


def _message_data(message: OutboxMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "cle": message.key,
        "type": message.kind,
        "clause": message.clause_id,
        "etat": message.state,
        "etat_libelle": outbox.STATE_LABELS.get(message.state, message.state),
        "destinataires": _recipients_text(message.recipients),
        "objet": message.subject,
        "tentatives": message.attempts,
        "prochain_essai": message.next_attempt_at if message.state == "pending" else None,
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
    wanted = [outbox.parse_state(s) for s in states]
    with app.transaction() as session:
        rows = [
            _message_data(m)
            for m in outbox.list_messages(session, states=wanted, kind=kind, limit=limit)
        ]
        counts = outbox.count_by_state(session)
    if as_json:
        print_json({"courriels": rows, "par_etat": counts})
        return
    print_table(
        "File d'envoi des courriels",
        ["N°", "État", "Type", "Destinataires", "Objet", "Essais", "Quand"],
        [
            [
                r["id"],
                r["etat_libelle"],
                kind_label(r["type"]),
                r["destinataires"],
                _short(r["objet"]),
                r["tentatives"],
                _when(app, r),
            ]
            for r in rows
        ],
    )
    for r in rows:
        if (r["derniere_erreur"] and r["etat"] != "sent") or r["destinataires_refuses"]:
            console.print(f"n° {r['id']} : {r['derniere_erreur']}", soft_wrap=True)
    console.print(
        " · ".join(f"{outbox.STATE_LABELS[s]} : {number(n)}" for s, n in counts.items()),
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
    now = app.clock()
    with app.transaction() as session:
        if message_id is not None:
            ids = [outbox.retry_message(session, message_id, now).id]
        else:
            ids = outbox.retry_all_failed(session, now)
    if as_json:
        print_json({"remis_en_file": ids})
    elif not ids:
        console.print("Aucun courriel refusé ou abandonné : rien à remettre en file.")
    else:
        numbers = ", ".join(f"n° {i}" for i in ids)
        console.print(
            f"{number(len(ids))} courriel(s) remis en file ({numbers}) ; "
            "ils partiront au prochain envoi (« clauses mail send » ou le service)."
        )


#: ``mail send --json``'s keys, French like ``mail list --json``'s (the log keeps the English names).
SEND_KEYS = {
    "claimed": "pris",
    "sent": "envoyes",
    "retried": "a_retenter",
    "failed": "refuses",
    "dead": "abandonnes",
    "partly_refused": "envoyes_avec_refus",
    "uncertain": "incertains",
    "lost": "repris_ailleurs",
    "stopped": "interruption",
    "outage": "panne",
}


def send_data(report: DispatchReport) -> dict[str, Any]:
    return {SEND_KEYS[key]: value for key, value in report.as_dict().items()}


@mail_group.command("send")
@click.option("--batch-size", type=click.IntRange(1, 5000), default=BATCH_SIZE, show_default=True)
@json_option
@handle_errors
def send_command(batch_size: int, as_json: bool) -> None:
    """Envoie maintenant les courriels dus (un passage de l'expéditeur)."""
    app = get_app()
    report = dispatch_due(app, app.clock(), batch_size=batch_size)
    if as_json:
        print_json({"transport": app.transport.describe(), **send_data(report)})
        if report.outage:
            raise SystemExit(EXIT_DELIVERY_FAILED)
        return
    console.print(
        f"Envoi par {app.transport.describe()} : {number(report.sent)} envoyé(s), "
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
