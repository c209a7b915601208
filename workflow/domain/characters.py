"""Characters a person's text may not hold, and how to show any text inside a message.

Control characters (NUL, escape, backspace…) never come from a keyboard: they come from a binary
file read as text, or from a tool's bug. Stored, they break PostgreSQL (no NUL in text), rewrite
the terminal of whoever lists them (escape sequences) and hide text in emails; a lone surrogate (a
command-line byte that is not UTF-8) cannot be stored at all. Tabs and line breaks are whitespace
that the services fold into spaces; format characters such as the right-to-left mark, or the joiner
inside an emoji, are real writing and stay.
"""

from __future__ import annotations

import re
import unicodedata

_DASHES = dict.fromkeys(map(ord, "‐‑‒–—―−-_'’‘`´"), " ")
#: Ligatures no decomposition splits: « œuvre » is typed « oeuvre » on most keyboards.
_FOLDED = {**_DASHES, ord("œ"): "oe", ord("Œ"): "oe", ord("æ"): "ae", ord("Æ"): "ae"}

#: C0 and C1 controls except tab, line feed and carriage return; lone surrogates.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
#: What ``shown`` writes in place of a forbidden character.
_REPLACEMENT = "\N{REPLACEMENT CHARACTER}"


def forbidden_character(text: str) -> str | None:
    """Why ``text`` cannot be kept (« caractère de contrôle U+001B interdit »), or None."""
    found = _FORBIDDEN.search(text)
    if found is None:
        return None
    code = ord(found.group())
    if 0xD800 <= code <= 0xDFFF:
        return (
            f"caractère invalide U+{code:04X} (des octets qui ne sont pas du texte UTF-8) : "
            "retapez la valeur"
        )
    return f"caractère de contrôle U+{code:04X} interdit (pas un texte saisi au clavier)"


def shown(text: str, limit: int = 80) -> str:
    """``text`` safe to print inside a message: forbidden characters as �, line breaks as
    spaces, cut after ``limit`` characters (a binary file's "header" can be megabytes long)."""
    flat = _FORBIDDEN.sub(_REPLACEMENT, " ".join(text.split()))
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def normalized(text: str) -> str:
    """``Gers-Habitat`` and ``gers  habitat`` and ``GERS HABITAT`` read the same; so do
    « Ré » and « Re ». The designations (``app.lookup``) and the search column the database keeps
    (``adapters.search_text``) both match by it."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLDED))
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(letters.casefold().split())
