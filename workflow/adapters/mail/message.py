"""The wire form of an outbox row: RFC 5322 headers, multipart/alternative, UTF-8 bodies.

Written by hand rather than with ``email.message.EmailMessage``: the default policy parses and folds
every header through its header registry, which costs more per message than sending it (see
BENCHMARKS.md). What we emit is small and fixed, so a direct writer stays easy to check:

- every header value has its whitespace (CR and LF included) folded to single spaces, so a name or a
  subject can never start a header of its own;
- non-ASCII or long header text becomes RFC 2047 encoded words (base64, UTF-8), folded under 78
  columns;
- bodies are quoted-printable, whose output never holds ``=_``, so the boundary ``=_...`` cannot
  collide with a body line;
- attachments (declaration templates) make the message ``multipart/mixed``: the two bodies as one
  ``multipart/alternative`` part first, then each file in base64 (whose alphabet has no ``_``),
  its name in RFC 2231 form when it is not plain ASCII.

The tests parse the bytes back with ``email.policy.default`` to hold this writer to the standard.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.header import decode_header, make_header
from email.utils import encode_rfc2231, format_datetime, parseaddr
from zoneinfo import ZoneInfo

#: RFC 2047 caps an encoded word at 75 characters; 39 bytes of UTF-8 make 52 of base64, so a word
#: (64 characters) fits on a line after ``Reply-To: `` without passing 78 columns.
_WORD_BYTES = 39
_LINE = 78
_SPECIALS = frozenset('()<>[]:;@\\,."')


class AddressRefused(ValueError):
    """An address that cannot go into an envelope: not ASCII, no ``@``, or with spaces."""


@dataclass(frozen=True)
class Mailbox:
    name: str
    address: str


@dataclass(frozen=True)
class Attachment:
    """A file sent with an email. ``content_type`` may carry parameters (``text/csv;
    charset=windows-1252``). ``workflow.services.outbox`` stores them with the outbox row."""

    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class MessageParts:
    """What an outbox row holds, plus the sender; ``build_message`` turns it into bytes."""

    key: str
    sender: Mailbox
    reply_to: Mailbox | None
    recipients: Sequence[Mailbox]
    subject: str
    text: str
    html: str
    #: When the message leaves (``Date:``), not when it was queued.
    date: datetime
    attachments: Sequence[Attachment] = ()
    #: The outbox row's random Message-ID part (``message_id``).
    token: str | None = None


def one_line(value: str) -> str:
    """Fold every run of whitespace, line breaks included, into one space."""
    return " ".join(value.split())


def check_address(address: str) -> str:
    address = address.strip()
    local, at, domain = address.rpartition("@")
    if (
        not at
        or not local
        or not domain
        or not address.isascii()
        or any(c.isspace() or c in '<>,;:"()[]\\' for c in address)
    ):
        raise AddressRefused(f"adresse électronique invalide : « {one_line(address)} »")
    return address


def _split_simple(line: str) -> tuple[str, str] | None:
    """``Name <a@b>`` without quotes or escapes: most stored lines, split without parseaddr."""
    if not line.endswith(">"):
        return None
    name, _, address = line[:-1].rpartition(" <")
    if not address or any(c in name for c in '"\\<>()'):
        return None
    return name, address


def parse_mailbox(text: str) -> Mailbox:
    """``"Name <a@b>"`` (the outbox's stored form, maybe RFC 2047 encoded) -> Mailbox."""
    line = one_line(text)
    simple = _split_simple(line)
    name, address = simple if simple is not None else parseaddr(line)
    if f"<{address}>" not in line and line != address:
        # parseaddr glues stray words onto the address ("a@b.fr Bcc: c" -> "a@b.frBcc"): refuse.
        raise AddressRefused(f"adresse électronique invalide : « {line} »")
    if "=?" in name:
        name = str(make_header(decode_header(name)))
    return Mailbox(one_line(name), check_address(address))


def parse_recipients(stored: str) -> list[Mailbox]:
    """The outbox's ``recipients`` column: one ``Name <a@b>`` a line."""
    return [parse_mailbox(line) for line in stored.splitlines() if line.strip()]


def mailbox_from_setting(value: str, default_name: str) -> Mailbox:
    """``mail_from`` may be a bare address or ``Name <address>``."""
    name, address = parseaddr(one_line(value))
    return Mailbox(one_line(name) or one_line(default_name), check_address(address))


def message_id(key: str, sender_address: str, token: str | None = None) -> str:
    """The same outbox row always carries the same Message-ID, retries included.

    ``token`` is the row's random part, drawn at queuing: the key alone repeats across databases
    (two territories on one domain, a database started again), and mail clients drop a message
    whose Message-ID they have already seen. Rows queued before it existed keep the key alone,
    so their retries keep the Message-ID their first attempt had."""
    domain = sender_address.rpartition("@")[2] or "localhost"
    digest = hashlib.sha256(key.encode()).hexdigest()
    if token:
        return f"<{digest[:24]}.{token}@{domain}>"
    return f"<{digest[:32]}@{domain}>"


def encode_words(text: str, offset: int) -> str:
    """``text`` as-is when it is short printable ASCII, else folded RFC 2047 encoded words.

    ``offset`` is how many columns precede the value on the first line (the header name).
    """
    if text.isascii() and text.isprintable() and offset + len(text) <= _LINE:
        return text
    raw = text.encode()
    words = []
    start = 0
    while start < len(raw):
        end = min(start + _WORD_BYTES, len(raw))
        # Never cut a character: step back over UTF-8 continuation bytes (0b10xxxxxx).
        while end < len(raw) and raw[end] & 0xC0 == 0x80:
            end -= 1
        words.append(f"=?utf-8?b?{base64.b64encode(raw[start:end]).decode()}?=")
        start = end
    return "\r\n ".join(words)


def format_mailbox(mailbox: Mailbox) -> str:
    name = one_line(mailbox.name)
    if not name:
        return mailbox.address
    if not name.isascii() or not name.isprintable():
        # Encoded words may not sit inside quotes: they stand alone as the phrase.
        return f"{encode_words(name, _LINE)} <{mailbox.address}>"
    if any(c in _SPECIALS for c in name):
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{quoted}" <{mailbox.address}>'
    return f"{name} <{mailbox.address}>"


def _qp(body: str) -> bytes:
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    if not text.endswith("\n"):
        text += "\n"
    return binascii.b2a_qp(text.replace("\n", "\r\n").encode(), istext=True)


def _part(content_type: str, body: str) -> bytes:
    return (
        f'Content-Type: {content_type}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    ).encode() + _qp(body)


_TOKEN = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")


def _parameter(name: str, value: str) -> str:
    """``name="value"``, or ``name*=utf-8''...`` (RFC 2231) when the value is not plain ASCII."""
    value = one_line(value)
    if value.isascii() and value.isprintable():
        quoted = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{name}="{quoted}"'
    return f"{name}*={encode_rfc2231(value, 'utf-8')}"


def _attachment_part(attachment: Attachment) -> bytes:
    kind, _, parameters = attachment.content_type.partition(";")
    kind = one_line(kind).lower()
    if not re.fullmatch(r"[a-z0-9.+-]+/[a-z0-9.+-]+", kind):
        kind = "application/octet-stream"
        parameters = ""
    extra = "".join(
        f";\r\n {one_line(p)}" for p in parameters.split(";") if _parameter_ok(p.strip())
    )
    body = base64.encodebytes(attachment.content).replace(b"\n", b"\r\n")
    return (
        f"Content-Type: {kind}{extra};\r\n {_parameter('name', attachment.filename)}\r\n"
        "Content-Disposition: attachment;\r\n "
        f"{_parameter('filename', attachment.filename)}\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
    ).encode() + body


def _parameter_ok(parameter: str) -> bool:
    """``charset=windows-1252`` or ``charset="utf-8"``: a well-formed parameter, kept as is."""
    name, equals, value = parameter.partition("=")
    return bool(
        equals and _TOKEN.fullmatch(name.strip()) and re.fullmatch(r'"?[\w.+-]+"?', value.strip())
    )


def build_message(parts: MessageParts, zone: ZoneInfo | None = None) -> bytes:
    """The whole message, CRLF line endings, ready for SMTP ``DATA`` or an ``.eml`` file."""
    digest = hashlib.sha256(parts.key.encode()).hexdigest()
    boundary = f"=_{digest[:24]}"
    date = parts.date.astimezone(zone) if zone is not None else parts.date
    subject = one_line(parts.subject)
    headers = [
        f"From: {format_mailbox(parts.sender)}",
        "To: " + ",\r\n ".join(format_mailbox(r) for r in parts.recipients),
    ]
    if parts.reply_to is not None:
        headers.append(f"Reply-To: {format_mailbox(parts.reply_to)}")
    headers += [
        f"Subject: {encode_words(subject, len('Subject: '))}",
        f"Date: {format_datetime(date)}",
        f"Message-ID: {message_id(parts.key, parts.sender.address, parts.token)}",
        "Auto-Submitted: auto-generated",
        "MIME-Version: 1.0",
    ]
    delimiter = f"\r\n--{boundary}\r\n".encode()
    alternative = b"".join(
        (
            delimiter,
            _part("text/plain", parts.text),
            delimiter,
            _part("text/html", parts.html),
            f"\r\n--{boundary}--\r\n".encode(),
        )
    )
    preamble = b"\r\n\r\nThis is a multipart message in MIME format.\r\n"
    if not parts.attachments:
        headers.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
        return b"".join(("\r\n".join(headers).encode(), preamble, alternative))
    mixed = f"=_{digest[24:48]}"
    headers.append(f'Content-Type: multipart/mixed; boundary="{mixed}"')
    between = f"\r\n--{mixed}\r\n".encode()
    chunks = [
        "\r\n".join(headers).encode(),
        preamble,
        between,
        f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n'.encode(),
        alternative,
    ]
    for attachment in parts.attachments:
        chunks += [between, _attachment_part(attachment)]
    chunks.append(f"\r\n--{mixed}--\r\n".encode())
    return b"".join(chunks)
