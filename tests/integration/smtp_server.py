"""A real SMTP server for the tests: aiosmtpd on a free loopback port, answering from a script.

``ScriptedHandler`` accepts everything by default; a test queues the replies it wants for the
coming ``DATA`` commands (``"451 ..."``, ``"550 ..."``, or ``DROP`` to cut the connection before
answering), maps addresses to ``RCPT`` refusals, and may wait before answering a final dot
(``answer_delay``). Accepted messages are kept, parsed with the
email package's default policy.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

#: Put in ``data_replies`` to close the connection once the message data has arrived.
DROP = "drop"


@dataclass(frozen=True)
class Received:
    sender: str
    recipients: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(
            self.data, _class=EmailMessage, policy=email.policy.default
        )
        assert not parsed.defects, parsed.defects
        return parsed


class ScriptedHandler:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.data_replies: deque[str] = deque()
        self.rcpt_replies: dict[str, str] = {}
        self.sessions = 0
        #: Every message whose data reached the server, answered or not: what may have arrived.
        self.arrived: list[Received] = []
        #: Seconds to wait before answering a message's final dot (a slow or scanning server).
        self.answer_delay: Callable[[Received], float] = lambda received: 0.0

    def reset(self) -> None:
        self.received.clear()
        self.data_replies.clear()
        self.rcpt_replies.clear()
        self.sessions = 0
        self.arrived.clear()

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        reply = self.rcpt_replies.get(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        received = Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        self.arrived.append(received)
        delay = self.answer_delay(received)
        if delay:
            await asyncio.sleep(delay)
        reply = self.data_replies.popleft() if self.data_replies else "250 Message accepted"
        if reply == DROP:
            server.transport.close()
            return "451 never seen: the connection is already closed"
        if reply.startswith("250"):
            self.received.append(received)
        return reply


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(handler: Any, **smtp_options: Any) -> Iterator[Controller]:
    """Start aiosmtpd on 127.0.0.1 and a free port; ``smtp_options`` go to aiosmtpd's SMTP."""
    # ready_timeout: aiosmtpd's 5 s default is short for a TLS start-up on a loaded CI machine.
    controller = Controller(
        handler, hostname="127.0.0.1", port=free_port(), ready_timeout=30, **smtp_options
    )
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()
