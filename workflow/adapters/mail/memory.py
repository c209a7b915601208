"""An in-memory transport shipped with the package (as procrastinate ships its ``testing.py``).

Tests read ``transport.sent`` or ``transport.parsed()``; ``script`` decides, message by message,
whether the fake server accepts, refuses some recipients, or fails.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from email.message import EmailMessage

from workflow.adapters.mail import (
    Accepted,
    DeliveryError,
    MailConnection,
    MailTransport,
    OutgoingMessage,
)

Script = Callable[[OutgoingMessage], Accepted | DeliveryError | None]


class MemoryConnection(MailConnection):
    def __init__(self, transport: MemoryTransport) -> None:
        self.transport = transport

    async def send(self, message: OutgoingMessage) -> Accepted:
        outcome = self.transport.script(message) if self.transport.script else None
        if isinstance(outcome, DeliveryError):
            raise outcome
        self.transport.sent.append(message)
        return outcome or Accepted()


class MemoryTransport(MailTransport):
    def __init__(self, script: Script | None = None) -> None:
        self.script = script
        self.sent: list[OutgoingMessage] = []
        self.connections = 0

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[MailConnection]:
        self.connections += 1
        yield MemoryConnection(self)

    def describe(self) -> str:
        return "mémoire (tests)"

    def parsed(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(m.data, _class=EmailMessage, policy=email.policy.default)
            for m in self.sent
        ]

    def keys(self) -> list[str]:
        return [m.key for m in self.sent]
