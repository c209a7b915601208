"""SMTP delivery through aiosmtplib: one connection per batch, reopened once after a drop.

Replies are sorted the way RFC 5321 means them: 4xx, disconnections and timeouts are transient,
5xx is permanent. A refusal of some recipients of a message is not a failure of the message: it was
delivered to the others, so resending it would duplicate it for them; the refusals are returned in
``Accepted.refused`` for the outbox to keep.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import aiosmtplib

from workflow.adapters.mail import (
    Accepted,
    ConnectionFailure,
    DeliveryError,
    MailConnection,
    MailTransport,
    OutgoingMessage,
    PermanentFailure,
    TransientFailure,
)

if TYPE_CHECKING:
    from workflow.settings import Settings

#: Errors of the network itself: after one of them the connection is not trusted any more.
_NETWORK_ERRORS = (
    aiosmtplib.SMTPServerDisconnected,
    aiosmtplib.SMTPTimeoutError,
    ConnectionError,
    asyncio.TimeoutError,
    OSError,
)


@dataclass(frozen=True)
class SmtpOptions:
    host: str
    port: int
    tls: Literal["none", "starttls", "tls"] = "none"
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0
    tls_context: ssl.SSLContext | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpOptions:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            tls=settings.smtp_tls,
            username=settings.smtp_username or None,
            password=password,
            timeout=settings.smtp_timeout,
        )


def reply_text(code: int, message: str) -> str:
    return f"{code} {' '.join(message.split())}"


def classify(code: int, text: str) -> DeliveryError:
    if 400 <= code < 500:
        return TransientFailure(text)
    return PermanentFailure(text)


class SmtpConnection(MailConnection):
    def __init__(self, options: SmtpOptions) -> None:
        self.options = options
        self._client: aiosmtplib.SMTP | None = None

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            return self._client
        options = self.options
        client = aiosmtplib.SMTP(
            hostname=options.host,
            port=options.port,
            use_tls=options.tls == "tls",
            start_tls=options.tls == "starttls",
            username=options.username,
            password=options.password,
            timeout=options.timeout,
            tls_context=options.tls_context,
        )
        where = f"{options.host}:{options.port}"
        try:
            await client.connect()
        except aiosmtplib.SMTPResponseException as exc:
            raise ConnectionFailure(
                f"serveur SMTP {where} : {reply_text(exc.code, exc.message)}"
            ) from exc
        except (aiosmtplib.SMTPException, ssl.SSLError, *_NETWORK_ERRORS) as exc:
            # Authentication and TLS problems are settings to fix, not messages to give up on:
            # they stay transient so the mail waits for the fix instead of failing for good.
            raise ConnectionFailure(f"serveur SMTP {where} injoignable : {exc}") from exc
        self._client = client
        return client

    def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def send(self, message: OutgoingMessage) -> Accepted:
        client = await self._connected()
        try:
            errors, _reply = await client.sendmail(
                message.sender, list(message.recipients), message.data
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refusals = [r for r in exc.recipients]
            text = "; ".join(f"{r.recipient} : {reply_text(r.code, r.message)}" for r in refusals)
            if any(400 <= r.code < 500 for r in refusals):
                raise TransientFailure(f"destinataires refusés : {text}") from exc
            raise PermanentFailure(f"destinataires refusés : {text}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code == 421 or not self._client or not self._client.is_connected:
                self._drop()
            raise classify(exc.code, reply_text(exc.code, exc.message)) from exc
        except ValueError as exc:  # an address aiosmtplib will not put on the wire
            raise PermanentFailure(str(exc)) from exc
        except _NETWORK_ERRORS as exc:
            self._drop()
            raise TransientFailure(f"connexion interrompue : {exc or type(exc).__name__}") from exc
        return Accepted(
            refused={address: reply_text(r.code, r.message) for address, r in errors.items()}
        )

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is None or not client.is_connected:
            return
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, *_NETWORK_ERRORS):
            client.close()


class SmtpTransport(MailTransport):
    def __init__(self, options: SmtpOptions) -> None:
        self.options = options

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[MailConnection]:
        # Opened lazily on the first message, so an empty batch costs no connection.
        connection = SmtpConnection(self.options)
        try:
            yield connection
        finally:
            await connection.close()

    def describe(self) -> str:
        tls = {"none": "sans chiffrement", "starttls": "STARTTLS", "tls": "TLS"}[self.options.tls]
        return f"SMTP {self.options.host}:{self.options.port} ({tls})"
