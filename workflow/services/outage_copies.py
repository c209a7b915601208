"""A copy of the facilitator's digest on disk while the mail route is down.

The digest is the email that tells the facilitator that mail is not leaving; when the server is out
of reach it waits in the outbox behind that very server. So the dispatcher, when a pass stops on an
outage, also writes the digests of the last days that are waiting into a folder beside the mail
folder (``var/mail-secours/`` by default), as ``.eml`` files she can open, and says so in one log
line. The outbox row itself stays pending and leaves by email once the route is back: the copy is a
second way to read it, never a substitute (nothing is marked sent).

The digest may have been compiled before the outage was known (queued at 08:00, its first try
failing at 08:00): its copy then says nothing of it. So every copy starts with a notice
(``outage_notice``): the server is out of reach since when, how many messages wait, the last error,
and that this file was written because of it. The row itself is not changed.

A copy is written again at each failed pass (same file name, replaced atomically): safe to repeat.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from workflow.adapters.mail import DeliveryError, OutgoingMessage
from workflow.adapters.mail.files import FileTransport, eml_path
from workflow.adapters.templates import french_date, french_time

if TYPE_CHECKING:
    from workflow.services.outbox import OutageWaiting
    from workflow.settings import Settings

log = logging.getLogger(__name__)

#: The kinds copied: the facilitator's digest only (it names the outage and what waits).
COPIED_KINDS = ("facilitator_digest",)
#: Older digests are stale: the latest ones say everything still to do.
RECENT = timedelta(days=7)


class Waiting(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def key(self) -> str: ...


Row = TypeVar("Row", bound=Waiting)


def copy_folder(settings: Settings) -> Path:
    """Beside the mail folder: ``var/mail`` → ``var/mail-secours``."""
    return settings.mail_dir.with_name(f"{settings.mail_dir.name}-secours")


def moment(instant: datetime, zone: Any) -> str:
    """« 2 mars 2026 à 9 h », « à 14 h 30 », in the service's time zone."""
    local = instant.astimezone(zone)
    return f"{french_date(local.date())} à {french_time(local)}"


def outage_since(waiting: OutageWaiting) -> datetime:
    """When the route went down, as the outbox tells it: when the oldest waiting message was
    queued (a pass tries new mail within a minute, so it met the outage then), unless a message
    left after that (the route still worked then)."""
    if waiting.last_sent is not None and waiting.last_sent > waiting.oldest:
        return waiting.last_sent
    return waiting.oldest


@dataclass(frozen=True)
class OutageNotice:
    """What a copy says before the digest: the outage, in French, as paragraphs."""

    paragraphs: tuple[str, ...]

    def before_text(self, text: str) -> str:
        return "\n\n".join(self.paragraphs) + "\n\n" + "-" * 40 + "\n\n" + text

    def inside_html(self, body: str) -> str:
        """The notice as the first thing in ``<body>`` (before the document when it has none)."""
        block = (
            '<div style="background:#fff4e5;border-left:4px solid #b34000;padding:12px;'
            'margin:12px;font-family:Arial,Helvetica,sans-serif;color:#1f2933;">'
            + "".join(
                f'<p style="font-size:15px;line-height:1.5;margin:0 0 8px 0;">{html.escape(p)}</p>'
                for p in self.paragraphs
            )
            + "</div>"
        )
        found = re.search(r"<body[^>]*>", body, re.IGNORECASE)
        if found is None:
            return block + body
        return body[: found.end()] + block + body[found.end() :]


def outage_notice(settings: Settings, waiting: OutageWaiting, written_at: datetime) -> OutageNotice:
    """« Copie de secours » and why: the server out of reach since when, how many messages wait
    (this digest among them), the last error, and that this copy exists because of it."""
    zone = settings.zone
    count = waiting.count
    since = moment(outage_since(waiting), zone)
    last = (
        f"dernier courriel parti le {moment(waiting.last_sent, zone)} ; "
        if waiting.last_sent is not None
        else ""
    )
    messages = f"{count} courriel{'s' if count > 1 else ''}"
    wait = "attendent" if count > 1 else "attend"
    retry = (
        f" ; nouvel essai automatique le {moment(waiting.next_retry, zone)}"
        if waiting.next_retry is not None and waiting.next_retry > written_at
        else ""
    )
    cause = waiting.cause.rstrip()
    return OutageNotice(
        (
            "COPIE DE SECOURS : ce récapitulatif n'a pas pu partir par courriel.",
            f"Le serveur d'envoi des courriels est injoignable depuis le {since} ({last}panne "
            f"constatée encore le {moment(written_at, zone)}). {messages} {wait} son retour, "
            f"ce récapitulatif compris ; le plus ancien attend depuis le "
            f"{moment(waiting.oldest, zone)}{retry}. Dernière erreur : {cause}"
            + ("" if cause.endswith(".") else "."),
            f"Cette copie a été écrite dans {copy_folder(settings)}/ à cause de cette panne. "
            "Le récapitulatif partira aussi par courriel, avec les autres courriels en attente, "
            "dès que le serveur répondra de nouveau.",
        )
    )


async def copy_stranded(
    settings: Settings, rows: Sequence[Row], build: Callable[[Row], OutgoingMessage]
) -> list[Path]:
    """Write these waiting rows, built by ``build``, to the copy folder; the paths written."""
    folder = copy_folder(settings)
    written: list[Path] = []
    async with FileTransport(folder).connect() as connection:
        for row in rows:
            try:
                await connection.send(build(row))
            except DeliveryError as exc:
                log.error(
                    "copie du résumé des tâches impossible : %s",
                    exc.message,
                    extra={"action": "mail.outage_copy_failed", "outbox_id": row.id},
                )
                continue
            written.append(eml_path(folder, row.kind, row.key))
    for path in written:
        log.warning(
            "serveur d'envoi en panne : le résumé des tâches est copié dans %s",
            path,
            extra={"action": "mail.outage_copy", "path": str(path)},
        )
    return written
