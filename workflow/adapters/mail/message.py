"""The wire form of an outbox row: RFC 5322 headers, multipart/alternative, UTF-8 bodies.

Written by hand rather than with ``email.message.EmailMessage``: the default policy parses and folds
every header through its header registry, which costs more per message than sending it (see
BENCHMARKS.md). What we emit is small and fixed, so a direct writer stays easy to check:

- every header value has its whitespace (CR and LF included) folded to single spaces, so a name or a
  subject can never start a header of its own;
- non-ASCII or long header text becomes RFC 2047 encoded words (base64, UTF-8), folded under 78
  columns;
- bodies are quoted-printable, whose output never holds ``=_``, so the boundary ``=_...`` cannot
  collide with a body line.

The tests parse the bytes back with ``email.policy.default`` to hold this writer to the standard.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.header import decode_header, make_header
from email.utils import format_datetime, parseaddr
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
class MessageParts:
    """What an outbox row holds, plus the sender; ``build_message`` turns it into bytes."""

    key: str
    sender: Mailbox
    reply_to: Mailbox | None
    recipients: Sequence[Mailbox]
    subject: str
    text: str
    html: str
    date: datetime


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
        raise AddressRefused(f"adresse électronique invalide : « {one_line(address)} »")
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
        raise AddressRefused(f"adresse électronique invalide : « {line} »")
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


def message_id(key: str, sender_address: str) -> str:
    """Deterministic: the same outbox row always carries the same Message-ID, retries included."""
    domain = sender_address.rpartition("@")[2] or "localhost"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


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
        f"Message-ID: {message_id(parts.key, parts.sender.address)}",
        "Auto-Submitted: auto-generated",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative; boundary="{boundary}"',
    ]
    delimiter = f"\r\n--{boundary}\r\n".encode()
    return b"".join(
        (
            "\r\n".join(headers).encode(),
            b"\r\n\r\nThis is a multipart message in MIME format.\r\n",
            delimiter,
            _part("text/plain", parts.text),
            delimiter,
            _part("text/html", parts.html),
            f"\r\n--{boundary}--\r\n".encode(),
        )
    )
