"""What each family module of ``workflow.emails`` declares: its kinds and how to show a sample."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workflow.emails.envelope import Recipient

if TYPE_CHECKING:
    from workflow.settings import Settings


@dataclass(frozen=True)
class Sample:
    """An email of a kind written for the sample territory: who would get it, and the context
    its template reads. Built from fixed values and the settings passed in, never the clock."""

    recipients: tuple[Recipient, ...]
    context: Mapping[str, Any]


@dataclass(frozen=True)
class EmailFamily:
    """Kinds written by one module: ``sample(kind, settings)`` is their preview."""

    name: str
    kinds: tuple[str, ...]
    sample: Callable[[str, Settings], Sample]
