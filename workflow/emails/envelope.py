"""What the outbox knows of an email besides its content: who it is for (a name and an address, as
the wire writes them) and the state it is in."""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import formataddr
from enum import StrEnum


@dataclass(frozen=True)
class Recipient:
    name: str
    email: str

    def formatted(self) -> str:
        # Line breaks in a name would let it forge headers: fold them to spaces.
        name = " ".join(self.name.split())
        email = "".join(self.email.split())
        return formataddr((name, email))


class OutboxState(StrEnum):
    """Every state of an outbox row; the values are what the database stores."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    DEAD = "dead"
    #: Its claim ended while it was on the wire: maybe delivered, so not sent again silently.
    UNCERTAIN = "uncertain"
    #: Taken back by the facilitator before it left (``cancel_email``): never sent, never counted
    #: as waiting or failed; ``last_error`` says who cancelled it, when and why.
    CANCELLED = "cancelled"
