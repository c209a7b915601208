"""The signed link a company follows to declare one month of one lot on the web.

A link names a company, a lot, a month and the last day it may be used, nothing more (no name, no
address: it travels in emails). An HMAC-SHA256 of those values, with a secret the service keeps,
makes it unforgeable: change one digit and it is refused as altered. Signing takes its dates as
arguments, never the clock, so a link written by a simulated pass is the same on every run.

Token: ``<clause>.<company>.<YYYYMM>.<YYYYMMDD>.<mac>``, URL-safe, about 50 characters.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from workflow.errors import InputRefused

#: Separates this use of the secret from any other the service may make of it.
_PURPOSE = b"clauses/declaration-link/v1:"
#: Bytes of the HMAC kept: 128 bits, far beyond what guessing online could reach.
_MAC_BYTES = 16
_TOKEN = re.compile(
    r"([1-9][0-9]{0,9})\.([1-9][0-9]{0,9})\.([0-9]{6})\.([0-9]{8})\.([A-Za-z0-9_-]{22})"
)


@dataclass(frozen=True)
class LinkScope:
    """What one link lets its holder do: declare ``month`` of lot ``clause_id`` for company
    ``company_id``, up to ``expires_on`` included."""

    clause_id: int
    company_id: int
    month: date
    expires_on: date


class LinkProblem(StrEnum):
    """Why a link is refused."""

    MALFORMED = "malformed"  # cut or mistyped: not a link the service writes
    ALTERED = "altered"  # well formed, but its signature does not match
    EXPIRED = "expired"


LINK_PROBLEMS: dict[LinkProblem, str] = {
    LinkProblem.MALFORMED: "Ce lien de déclaration est incomplet : il a sans doute été coupé en "
    "le copiant. Ouvrez-le directement depuis le courriel reçu.",
    LinkProblem.ALTERED: "Ce lien de déclaration n'est pas valide : il a été modifié depuis "
    "l'envoi du courriel. Ouvrez-le directement depuis le courriel reçu.",
    LinkProblem.EXPIRED: "Ce lien de déclaration a expiré.",
}


class LinkRefused(InputRefused):
    """Ce lien de déclaration n'est pas valide.

    ``scope``: what an expired link allowed (its signature checked, so it is ours), for the
    page to say what follows for that month; None for a link that is not one of ours."""

    def __init__(self, problem: LinkProblem, scope: LinkScope | None = None) -> None:
        super().__init__(LINK_PROBLEMS[problem])
        self.problem = problem
        self.scope = scope


def expiry(issued_on: date, valid_days: int, due_on: date | None = None) -> date:
    """The last day of a link written on ``issued_on`` for a month due on ``due_on``:
    ``valid_days`` after the later of the two.

    A link written long before its month is due (the welcome's, for the lot's first month, or
    the page of a month still to come) thus lasts until that due date and ``valid_days`` more,
    as a link given by the month's own call does; a month already due is counted from the
    email's day, as before. Each link keeps its own date, from its own month: an email written
    again with fewer months (a receipt rewritten) gives the very same links."""
    start = issued_on if due_on is None else max(issued_on, due_on)
    return start + timedelta(days=valid_days)


def _payload(scope: LinkScope) -> str:
    return f"{scope.clause_id}.{scope.company_id}.{scope.month:%Y%m}.{scope.expires_on:%Y%m%d}"


def _mac(payload: str, secret: bytes) -> str:
    digest = hmac.new(secret, _PURPOSE + payload.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:_MAC_BYTES]).decode("ascii").rstrip("=")


def sign(scope: LinkScope, secret: bytes) -> str:
    payload = _payload(scope)
    return f"{payload}.{_mac(payload, secret)}"


def read(token: str, secret: bytes, today: date) -> LinkScope:
    """The scope of ``token`` if it was signed with ``secret`` and ``today`` is not past its
    last day; else ``LinkRefused`` saying why (an altered link is never told apart from a
    forged one)."""
    found = _TOKEN.fullmatch(token.strip())
    if found is None:
        raise LinkRefused(LinkProblem.MALFORMED)
    clause, company, month, expires, mac = found.groups()
    payload = f"{clause}.{company}.{month}.{expires}"
    if not hmac.compare_digest(mac, _mac(payload, secret)):
        raise LinkRefused(LinkProblem.ALTERED)
    try:
        scope = LinkScope(
            clause_id=int(clause),
            company_id=int(company),
            month=date(int(month[:4]), int(month[4:]), 1),
            expires_on=date(int(expires[:4]), int(expires[4:6]), int(expires[6:])),
        )
    except ValueError:  # signed by us, so never: but a date is checked before it is trusted
        raise LinkRefused(LinkProblem.MALFORMED) from None
    if today > scope.expires_on:
        raise LinkRefused(LinkProblem.EXPIRED, scope)
    return scope
