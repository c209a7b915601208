"""The web links an email gives a company: one per month it asks for, each signed for that
company, that lot and that month only (``domain.declaration_links``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

#: Where a company declares, below ``settings.base_url``: ``/declarer/<token>``.
DECLARATION_PATH = "/declarer/"


@dataclass(frozen=True)
class DeclarationLink:
    month: date
    url: str
    expires_on: date


def declaration_url(base_url: str, token: str) -> str:
    return base_url.rstrip("/") + DECLARATION_PATH + token


def links_context(links: Sequence[DeclarationLink]) -> list[dict[str, Any]]:
    return [
        {"month": link.month, "url": link.url, "expires_on": link.expires_on}
        for link in sorted(links, key=lambda link: link.month)
    ]


def sample_links(base_url: str, months: Sequence[date], expires_on: date) -> list[DeclarationLink]:
    """Links as the sample territory's emails show them: their shape, no real signature."""
    return [
        DeclarationLink(month, declaration_url(base_url, f"42.1.{month:%Y%m}.exemple"), expires_on)
        for month in months
    ]
