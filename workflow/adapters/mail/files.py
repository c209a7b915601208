"""The default transport: one ``.eml`` file per message, so a fresh machine needs no mail server.

Files are grouped by kind (``var/mail/<kind>/``) and named after the outbox key, so sending the same
message again overwrites its file instead of adding a second one.

A folder that cannot be written (permissions, a full or read-only disk) is a fault of the
installation, not of the message: it raises ``ConnectionFailure``, so the whole batch waits in the
outbox and leaves once the folder is fixed, like mail behind an unreachable SMTP server.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

from workflow.adapters.mail import (
    Accepted,
    ConnectionFailure,
    MailConnection,
    MailTransport,
    OutgoingMessage,
)

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(text: str, limit: int = 80) -> str:
    """A file-name fragment made of ``[A-Za-z0-9._-]`` only, never empty, never ``.``/``..``."""
    name = _UNSAFE.sub("_", text).strip("._")[:limit]
    return name or "_"


def eml_path(root: Path, kind: str, key: str) -> Path:
    """Readable and collision-free: two keys differing only by unsafe characters get two files."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    return root / safe_name(kind) / f"{safe_name(key)}-{digest}.eml"


#: What the system's error means for the folder, in the words of whoever has to fix it.
_FULL = {
    errno.ENOSPC: "plus de place sur le disque",
    errno.EDQUOT: "quota de disque dépassé",
    errno.EFBIG: "taille de fichier limitée pour ce processus (ulimit -f)",
}
_UNREACHABLE = {
    errno.EACCES: "écriture non permise",
    errno.EPERM: "écriture non permise",
    errno.EROFS: "disque en lecture seule",
    errno.ENOTDIR: "un fichier porte le nom d'un dossier du chemin",
    errno.EEXIST: "un fichier porte le nom du dossier",
    errno.ENOENT: "dossier introuvable",
}


def folder_failure(exc: OSError, folder: Path) -> ConnectionFailure:
    """« dossier du courrier plein : <dossier> (plus de place sur le disque) », or
    « … inaccessible : … »; the system's own words (and the file) kept as the detail."""
    code = exc.errno or 0
    if code in _FULL:
        message = f"dossier du courrier plein : {folder} ({_FULL[code]})"
    elif code in _UNREACHABLE:
        message = f"dossier du courrier inaccessible : {folder} ({_UNREACHABLE[code]})"
    else:
        message = f"écriture impossible dans le dossier du courrier : {folder} ({exc.strerror})"
    return ConnectionFailure(message, str(exc))


class FileConnection(MailConnection):
    def __init__(self, root: Path) -> None:
        self.root = root

    async def send(self, message: OutgoingMessage) -> Accepted:
        path = eml_path(self.root, message.kind, message.key)
        temporary = path.with_name(path.name + ".tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_bytes(message.data)
            # Atomic: a reader (or a crash) never sees half a message.
            os.replace(temporary, path)
        except OSError as exc:
            # Half a message must not stay on a full disk, taking the room the next one needs.
            with suppress(OSError):
                temporary.unlink(missing_ok=True)
            raise folder_failure(exc, path.parent) from exc
        return Accepted()


class FileTransport(MailTransport):
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[MailConnection]:
        yield FileConnection(self.root)

    def describe(self) -> str:
        return f"fichiers .eml dans {self.root}/<type de courriel>/"
