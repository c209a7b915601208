"""The default transport: one ``.eml`` file per message, so a fresh machine needs no mail server.

Files are grouped by kind (``var/mail/<kind>/``) and named after the outbox key, so sending the same
message again overwrites its file instead of adding a second one.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from workflow.adapters.mail import (
    Accepted,
    MailConnection,
    MailTransport,
    OutgoingMessage,
    PermanentFailure,
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
            raise PermanentFailure(f"écriture impossible de {path} : {exc.strerror}") from exc
        return Accepted()


class FileTransport(MailTransport):
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[MailConnection]:
        yield FileConnection(self.root)

    def describe(self) -> str:
        return f"fichiers .eml dans {self.root}/<type de courriel>/"
