"""A copy of the facilitator's digest on disk while the mail route is down.

The digest is the email that tells the facilitator that mail is not leaving; when the server is out
of reach it waits in the outbox behind that very server. So the dispatcher, when a pass stops on an
outage, also writes the digests of the last days that are waiting into a folder beside the mail
folder (``var/mail-secours/`` by default), as ``.eml`` files she can open, and says so in one log
line. The outbox row itself stays pending and leaves by email once the route is back: the copy is a
second way to read it, never a substitute (nothing is marked sent).

A copy is written again at each failed pass (same file name, replaced atomically): safe to repeat.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from workflow.adapters.mail import DeliveryError, OutgoingMessage
from workflow.adapters.mail.files import FileTransport, eml_path

if TYPE_CHECKING:
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
