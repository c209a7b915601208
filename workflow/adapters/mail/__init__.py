"""Mail transports: where built messages go (an SMTP server, a folder of ``.eml`` files, memory).

A transport is a small plug point in the shape of apscheduler's ``abc.py``: ``connect()`` opens one
connection for a batch and ``send()`` hands over one message. Failures come back as two exception
kinds the dispatcher can act on without knowing SMTP: ``TransientFailure`` (try again later) and
``PermanentFailure`` (do not). ``ConnectionFailure`` is a transient failure that also says the rest
of the batch cannot go out through this connection either.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workflow.settings import Settings


@dataclass(frozen=True)
class OutgoingMessage:
    """One message ready for the wire: its envelope and its bytes (CRLF line endings)."""

    key: str
    kind: str
    sender: str
    recipients: tuple[str, ...]
    data: bytes


@dataclass(frozen=True)
class Accepted:
    """The server took the message; ``refused`` maps each recipient it refused to its reply."""

    refused: Mapping[str, str] = field(default_factory=dict)


class DeliveryError(Exception):
    """A message could not be handed over; ``message`` is what the server or the system said."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TransientFailure(DeliveryError):
    """Worth trying again later: 4xx replies, disconnections, timeouts."""


class ConnectionFailure(TransientFailure):
    """The server could not be reached or refused the session: the whole batch waits.

    ``message`` is one French sentence (« serveur SMTP injoignable : … »); ``detail`` keeps what
    the server or the system said, untranslated, for whoever has to fix it."""

    def __init__(self, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail


class PermanentFailure(DeliveryError):
    """Trying again would get the same answer: 5xx replies, invalid addresses."""


class MailConnection(abc.ABC):
    @abc.abstractmethod
    async def send(self, message: OutgoingMessage) -> Accepted:
        """Hand over one message, or raise a ``DeliveryError``."""


class MailTransport(abc.ABC):
    #: True when messages reach real people's inboxes (SMTP): the dispatcher then sends nothing
    #: dated after the real clock, whatever instant a simulation or ``tick --now`` gives it.
    reaches_inboxes: bool = False

    @abc.abstractmethod
    def connect(self) -> AbstractAsyncContextManager[MailConnection]:
        """One connection for a batch of messages; closed when the block ends."""

    @abc.abstractmethod
    def describe(self) -> str:
        """Where messages go, in French, for the CLI."""


def build_transport(settings: Settings) -> MailTransport:
    """The transport the settings ask for: ``file`` (the default) or ``smtp``."""
    if settings.mail_transport == "smtp":
        from workflow.adapters.mail.smtp import SmtpOptions, SmtpTransport

        return SmtpTransport(SmtpOptions.from_settings(settings))
    from workflow.adapters.mail.files import FileTransport

    return FileTransport(settings.mail_dir)


__all__ = [
    "Accepted",
    "ConnectionFailure",
    "DeliveryError",
    "MailConnection",
    "MailTransport",
    "OutgoingMessage",
    "PermanentFailure",
    "TransientFailure",
    "build_transport",
]
