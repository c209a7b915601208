"""Reading what a person reads, in tests."""

from __future__ import annotations

import re

# Line breaks and runs of ordinary spaces, never the no-break spaces French typography puts
# inside « » (``str.split()`` would turn those into plain spaces and hide a missing one).
_WRAPPING = re.compile(r"[ \t\r\n]+")


def squash(text: str) -> str:
    """``text`` as one line, as it reads once the terminal's wrapping is undone."""
    return _WRAPPING.sub(" ", text).strip()


_TAGS = re.compile(r"<[^>]+>")


def visible(page: str) -> str:
    """The words of an HTML page as a reader sees them: tags out, entities read, one line."""
    import html

    return squash(html.unescape(_TAGS.sub(" ", page)))
