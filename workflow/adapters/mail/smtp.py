"""SMTP delivery through aiosmtplib: one connection per batch, reopened once after a drop.

Replies are sorted the way RFC 5321 means them: 4xx, disconnections and timeouts are transient,
5xx is permanent. A refusal of some recipients of a message is not a failure of the message: it was
delivered to the others, so resending it would duplicate it for them; the refusals are returned in
``Accepted.refused`` for the outbox to keep.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

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


def french_cause(exc: BaseException) -> str:
    """What went wrong, in French, for an error aiosmtplib or the system raised."""
    cause = exc.__cause__ or exc.__context__
    if isinstance(exc, aiosmtplib.SMTPConnectTimeoutError) or (
        isinstance(exc, aiosmtplib.SMTPConnectError) and isinstance(cause, TimeoutError)
    ):
        return "pas de réponse à la connexion dans le délai"
    if isinstance(exc, aiosmtplib.SMTPConnectError):
        if isinstance(cause, socket.gaierror):
            return "nom de serveur inconnu"
        if isinstance(cause, ConnectionRefusedError) or "refused" in str(exc).lower():
            return "connexion refusée, aucun serveur n'écoute à cette adresse"
        return "connexion impossible"
    if isinstance(exc, socket.gaierror):
        return "nom de serveur inconnu"
    if isinstance(exc, ConnectionRefusedError):
        return "connexion refusée, aucun serveur n'écoute à cette adresse"
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected | ConnectionError):
        return "le serveur a coupé la connexion"
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | asyncio.TimeoutError | TimeoutError):
        return "le serveur n'a pas répondu dans le délai"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "certificat TLS du serveur refusé"
    if isinstance(exc, ssl.SSLError):
        return "échec de la négociation TLS"
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return "identifiant ou mot de passe refusé"
    if isinstance(exc, aiosmtplib.SMTPNotSupported) or "not supported" in str(exc).lower():
        if "tls" in str(exc).lower():
            return "le serveur ne propose pas STARTTLS"
        return "le serveur ne propose pas ce que la configuration demande (AUTH, STARTTLS)"
    if isinstance(exc, OSError):
        return f"erreur réseau ({exc.strerror or type(exc).__name__})"
    return "erreur SMTP"


def _detail(exc: BaseException) -> str:
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return reply_text(exc.code, exc.message)
    return " ".join(str(exc).split()) or type(exc).__name__


@dataclass(frozen=True)
class SmtpOptions:
    host: str
    port: int
    tls: Literal["none", "starttls", "tls"] = "none"
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0
    #: For the reply after the final dot (and to ``DATA``): see ``Settings.smtp_data_timeout``.
    data_timeout: float = 600.0
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
            data_timeout=settings.smtp_data_timeout,
        )


def reply_text(code: int, message: str) -> str:
    return f"{code} {' '.join(message.split())}"


def connection_failure(exc: BaseException, where: str) -> ConnectionFailure:
    """« serveur SMTP injoignable : cause » for the network, « refuse la session » for a server
    that answered no (greeting, STARTTLS, login); what it said is kept as the detail."""
    detail = _detail(exc)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
            cause = french_cause(exc)
        else:
            cause = "réponse de refus"
        return ConnectionFailure(
            f"serveur SMTP {where} refuse la session : {cause} ({detail})", detail
        )
    if isinstance(exc, aiosmtplib.SMTPNotSupported | ssl.SSLError) or (
        type(exc) is aiosmtplib.SMTPException
    ):
        return ConnectionFailure(
            f"serveur SMTP {where} refuse la session : {french_cause(exc)} ({detail})", detail
        )
    return ConnectionFailure(
        f"serveur SMTP {where} injoignable : {french_cause(exc)} ({detail})", detail
    )


def classify(code: int, text: str) -> DeliveryError:
    if 400 <= code < 500:
        return TransientFailure(text)
    return PermanentFailure(text)


class _Client(aiosmtplib.SMTP):
    """aiosmtplib's client whose ``DATA`` waits ``data_timeout``: ``sendmail`` gives one timeout
    to every command, and the reply after the final dot may take minutes (RFC 5321 4.5.3.2)."""

    def __init__(self, *, data_timeout: float, **options: Any) -> None:
        super().__init__(**options)
        self.data_timeout = data_timeout

    async def data(self, message: str | bytes, /, **_: Any) -> aiosmtplib.SMTPResponse:
        return await super().data(message, timeout=self.data_timeout)


class SmtpConnection(MailConnection):
    def __init__(self, options: SmtpOptions) -> None:
        self.options = options
        self._client: aiosmtplib.SMTP | None = None

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            return self._client
        options = self.options
        client = _Client(
            data_timeout=options.data_timeout,
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
        except (aiosmtplib.SMTPException, ssl.SSLError, *_NETWORK_ERRORS) as exc:
            # Authentication and TLS problems are settings to fix, not messages to give up on:
            # they stay transient so the mail waits for the fix instead of failing for good.
            raise connection_failure(exc, where) from exc
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
            raise TransientFailure(
                f"connexion interrompue : {french_cause(exc)} ({_detail(exc)})"
            ) from exc
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
    reaches_inboxes = True

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
