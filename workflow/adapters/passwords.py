"""Password hashes for the facilitator's web login: argon2id (argon2-cffi's defaults), never the
password itself. Verifying is deliberately slow (tens of milliseconds), which is the point."""

from __future__ import annotations

import hashlib

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def password_matches(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def token_digest(token: str) -> str:
    """What the database keeps of a random token (a session's, an API client's): its SHA-256,
    enough to find it again, useless to whoever copies the database."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def needs_rehash(stored: str) -> bool:
    """True when the stored hash was made with weaker parameters than today's."""
    return _HASHER.check_needs_rehash(stored)
