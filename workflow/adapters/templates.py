"""Email rendering: Jinja2 templates under ``templates/emails/<kind>/`` in French.

Each kind has ``subject.txt``, ``body.txt`` and ``body.html``; the HTML extends ``_base/layout.html``
and the text extends ``_base/layout.txt`` (the signature lives there). Undefined variables are errors
(StrictUndefined), the HTML is autoescaped and its CSS inlined so webmails render it as intended.
Dates, numbers and amounts are formatted the French way through Babel filters.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from functools import lru_cache, wraps
from pathlib import Path
from typing import Any

import css_inline
from babel.dates import format_date as babel_format_date
from babel.numbers import format_currency, format_percent
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from workflow.adapters.compiled_templates import EMAIL_HTML, EMAIL_TEXT

# Re-exported: the email filters and the reports format numbers with the domain's functions.
from workflow.domain.french_numbers import LOCALE
from workflow.domain.french_numbers import french_count as french_count
from workflow.domain.french_numbers import french_hours as french_hours
from workflow.domain.french_numbers import french_number as french_number


def templates_root() -> Path:
    """The folder holding ``emails/``: the checkout's ``templates/`` or the copy in the wheel."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "_templates", here.parent / "templates"):
        if (candidate / "emails").is_dir():
            return candidate
    raise FileNotFoundError(f"no templates/emails folder near {here}")


#: The day field before a month in words (``d MMMM``): numeric dates keep their « 1 ».
_DAY_FIELD = re.compile(r"(?<![A-Za-z'])d(?= MMMM)")


def french_date(value: date | datetime, pattern: str = "d MMMM y") -> str:
    """``2026-09-01`` -> ``1er septembre 2026``: French writes the first of the month 1er,
    wherever the day stands in the pattern (« jeudi 1er avril 2027 »)."""
    if value.day == 1:
        # The day field becomes the quoted literal « 1er ».
        pattern = _DAY_FIELD.sub("'1er'", pattern)
    return str(babel_format_date(value, pattern, locale=LOCALE))


#: The months' names as ``french_date`` writes them (« janvier » … « décembre »), to their numbers.
_MONTH_NUMBERS = {
    str(babel_format_date(date(2000, month, 1), "MMMM", locale=LOCALE)): month
    for month in range(1, 13)
}
#: « 5 janvier 2027 », « 1er mars 2027 »: what ``french_date`` writes with its default pattern.
_WRITTEN_DATE = re.compile(r"(\d{1,2})(?:er)? (\w+) (\d{4})")


def read_french_date(text: str) -> date | None:
    """``french_date``'s default writing read back (« 1er mars 2027 » -> ``2027-03-01``); None for
    anything else (« non renseigné »). The award corrections' history keeps the dates as their
    readers read them: this gives a corrected start's months back (``award_company_notices``)."""
    found = _WRITTEN_DATE.fullmatch(text.strip())
    if found is None:
        return None
    day, name, year = found.groups()
    month = _MONTH_NUMBERS.get(name)
    if month is None:
        return None
    try:
        return date(int(year), month, int(day))
    except ValueError:
        return None


def french_time(value: datetime | time) -> str:
    """``07:00`` -> ``7 h``, ``07:05`` -> ``7 h 05``, ``14:30`` -> ``14 h 30``: the time of day as
    French writes it in a sentence (« à 7 h 05 »), never « 07:00 ». The spaces are non-breaking:
    « 7 h » never splits across two lines. ``value`` is already local: convert before."""
    minutes = f"\u00a0{value.minute:02d}" if value.minute else ""
    return f"{value.hour}\u00a0h{minutes}"


def french_month(value: date) -> str:
    """``2026-10-01`` -> ``octobre 2026``: the month of the date as given (a datetime's own wall
    clock, never converted).

    Kept once a month (``_month_name``): Babel parses its pattern and looks its locale up on
    every call (about 60 µs), and the 08:00 pass names the same few months some 150,000 times at
    10^5 lots (the months owed of each line of the earlier missing declarations, in the emails
    and their CSV files): 9 of the 67 profiled seconds of the pass (BENCHMARKS.md, summaries).
    Keyed by year and month, not by the value: two datetimes of the same instant in two zones
    are equal for a cache, not for a calendar."""
    return _month_name(value.year, value.month)


@lru_cache(maxsize=1024)
def _month_name(year: int, month: int) -> str:
    return str(babel_format_date(date(year, month, 1), "MMMM y", locale=LOCALE))


def french_percent(value: float | Decimal, digits: int = 0) -> str:
    pattern = "#,##0" + ("." + "0" * digits if digits else "") + "\u00a0%"
    return str(format_percent(value, format=pattern, locale=LOCALE))


def french_euros(value: int | float | Decimal) -> str:
    return str(format_currency(value, "EUR", locale=LOCALE))


#: Institutions whose names French writes with the definite article (« le Département de
#: l'Exemple », « la Commune de … », « l'Agglomération … »), by the name's first word (lower case,
#: no accent): masculine, feminine; a first word starting with a vowel takes « l' » either way.
#: Company names (« Bâtiments Gascons », « Isol'Sud ») take none.
_MASCULINE = frozenset(
    {"departement", "conseil", "office", "syndicat", "centre", "pole", "groupement", "bailleur"}
)
_FEMININE = frozenset(
    {
        "commune",
        "ville",
        "region",
        "communaute",
        "metropole",
        "maison",
        "mission",
        "direction",
        "prefecture",
        "collectivite",
        "caisse",
        "chambre",
    }
)
_WITH_ARTICLE_VOWEL = frozenset(
    {"agglomeration", "etat", "etablissement", "office", "universite", "agence", "association"}
)
#: Letters before which « de » becomes « d' » and « le »/« la » become « l' » (the h is left
#: out: French names split between h muet and h aspiré, and « de H… » is never wrong to read).
_VOWELS = frozenset("aeiouyàâäéèêëîïôöùûüœæAEIOUYÀÂÄÉÈÊËÎÏÔÖÙÛÜŒÆ")


def _plain(word: str) -> str:
    import unicodedata

    decomposed = unicodedata.normalize("NFD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _article(name: str) -> str:
    """« le », « la », « l' » or « » for an organisation's name."""
    first = _plain(name.split(" ", 1)[0].split("'", 1)[0]) if name else ""
    if first in _WITH_ARTICLE_VOWEL or (name[:1] in _VOWELS and first in (_MASCULINE | _FEMININE)):
        return "l'"
    if first in _MASCULINE:
        return "le"
    if first in _FEMININE:
        return "la"
    return ""


def with_article(name: str) -> str:
    """``Département de l'Exemple`` → ``le Département de l'Exemple``; company names unchanged."""
    article = _article(name)
    if not article:
        return name
    return f"{article}{name}" if article.endswith("'") else f"{article} {name}"


def of_name(name: str) -> str:
    """« de » before a name, as French contracts and elides it: ``du Département de l'Exemple``,
    ``de la Commune de …``, ``de l'Agglomération …``, ``d'Isol'Sud``, ``de Bâtiments Gascons``."""
    article = _article(name)
    if article == "le":
        return f"du {name}"
    if article:
        return f"de {with_article(name)}"
    return f"d'{name}" if name[:1] in _VOWELS else f"de {name}"


def to_name(name: str) -> str:
    """« à » before a name: ``au Département de l'Exemple``, ``à la Commune …``, ``à Isol'Sud``."""
    article = _article(name)
    if article == "le":
        return f"au {name}"
    return f"à {with_article(name)}"


#: Formatted values a renderer keeps; past this many it starts again from empty.
REMEMBERED_VALUES = 4096


def remembered(format_value: Callable[..., str]) -> Callable[..., str]:
    """``format_value`` with its results kept: Babel spends tens of µs on each date or number,
    and a pass of reminders formats the same few months, due dates and figures thousands of times.

    Keyed on the value's type and ``repr``, not on equality, so that values equal but written
    apart never share a result: ``1.0`` and ``1.00``, ``0.0`` and ``-0.0``, one instant seen in
    two time zones (whose dates differ). ``None`` is never kept (Babel reads it as today).
    """
    results: dict[tuple[Any, ...], str] = {}

    @wraps(format_value)
    def format_remembered(value: Any, *args: Any, **kwargs: Any) -> str:
        if value is None:
            return format_value(value, *args, **kwargs)
        key = (type(value), repr(value), args, tuple(sorted(kwargs.items())))
        text = results.get(key)
        if text is None:
            text = format_value(value, *args, **kwargs)
            if len(results) >= REMEMBERED_VALUES:
                results.clear()
            results[key] = text
        return text

    return format_remembered


#: ``french_date`` and ``french_month`` remembered, for the services that write the same few days
#: thousands of times outside a template (the digest, the ladder's history).
remembered_date = remembered(french_date)
remembered_month = remembered(french_month)


def non_breaking(text: str) -> str:
    """The spaces before « : ; ? ! » and inside « » made non-breaking, as a page writes them:
    no line of a narrow screen starts with a colon or a closing guillemet."""
    for plain, fixed in (
        ("« ", "«\u00a0"),
        (" »", "\u00a0»"),
        (" :", "\u00a0:"),
        (" ;", "\u00a0;"),
        (" ?", "\u00a0?"),
        (" !", "\u00a0!"),
    ):
        text = text.replace(plain, fixed)
    return text


def received_words(received_on: date, corrected_on: date | None) -> str:
    """« reçue le … », « reçue le … et corrigée le … » or « reçue et corrigée le … »: what the
    emails of a cancelled declaration say of its reception (the cancellation's email, the
    buyer's notice, the reminders and the alert of the month asked again), in one wording; the
    templates call it as a global (``received_words(declaration.received_on, …)``)."""
    if corrected_on is None:
        return f"reçue le {remembered_date(received_on)}"
    if corrected_on == received_on:
        return f"reçue et corrigée le {remembered_date(received_on)}"
    return f"reçue le {remembered_date(received_on)} et corrigée le {remembered_date(corrected_on)}"


class EmailEnvironment(Environment):
    """Jinja's environment, with ``a.b`` on a plain dict looked up as a key first.

    Jinja tries ``getattr(a, "b")`` before ``a["b"]``; the contexts are dicts, so every lookup
    raised and caught an AttributeError (a sixth of the rendering). For an exact ``dict`` and a
    name that is not one of dict's own attributes, ``getattr`` can only fail, so going straight
    to the key gives the same result; anything else takes Jinja's way.
    """

    _DICT_ATTRIBUTES = frozenset(dir(dict))

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in self._DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


#: Where the inliner reads rules: ``<style>`` and ``<link>`` elements, in any case.
_STYLE_OR_LINK = re.compile(r"<([sS][tT][yY][lL][eE]|[lL][iI][nN][kK])(?![A-Za-z0-9-])[^>]*>")
_STYLE_END = re.compile(r"</[sS][tT][yY][lL][eE](?=[\t\n\f\r />])")
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_ANY_TAG = re.compile(r"<[^<>]*>")


def _selectors_see_only_ancestors(css: str) -> bool:
    """Whether every rule of ``css`` styles an element by itself and its ancestors only: no
    pseudo-class (``:first-child``, ``:empty``, ``:has``…), no sibling combinator, no at-rule,
    no escape. Then an element's inline style depends on its own tag and its ancestors', never
    on its siblings, its position or its text: one cell of each kind tells the style of all."""
    css = _CSS_COMMENT.sub("", css)
    if "@" in css or "\\" in css:
        return False
    for block in css.split("}"):
        selectors = block.split("{", 1)[0]
        if any(sign in selectors for sign in ":+~"):
            return False
    return True


class PlainTable:
    """A ``<table>`` element written by code (``plain_table``): rows of cells holding text
    escaped as ``markupsafe.escape`` does (no « < » nor « > », no other entity than its five),
    every row opened by the same tag, whitespace between the rows.

    Its rows come in parts, each with the kinds of cell it holds (the head's ``<th>``, the
    body's ``<td>``): each part is written with the replacements of its own kinds only."""

    __slots__ = ("cells", "html", "lead", "opening", "parts", "row", "shape", "skeleton")

    def __init__(
        self, opening: str, lead: str, row: str, parts: tuple[tuple[str, tuple[str, ...]], ...]
    ) -> None:
        self.opening = opening  # ``<table class="figures">``
        self.lead = lead  # the whitespace before the first row
        self.row = row  # every row's opening tag
        self.parts = parts  # rows and the whitespace after each, the kinds of cell they hold
        #: The cells' opening tags, each kind once.
        self.cells = tuple(dict.fromkeys(kind for _, kinds in parts for kind in kinds))
        self.html = f"{opening}{lead}{''.join(rows for rows, _ in parts)}</table>"
        #: What the inliner reads instead: one row, one cell of each kind, empty.
        self.skeleton = f"{opening}{lead}{row}{_empty_cells(self.cells)}</tr>\n</table>"
        #: The tables of a shape are written with the same replacements.
        self.shape = (opening, lead, row, self.cells)


def _in_comment(html: str, at: int) -> bool:
    """Whether ``at`` is inside a comment of ``html`` (a table placed in one is text there)."""
    opened = html.rfind("<!--", 0, at)
    return opened >= 0 and html.find("-->", opened + 4) > at


def _empty_cells(cells: tuple[str, ...]) -> str:
    return "".join(f"{tag}</{tag[1:3]}>" for tag in cells)


#: The plain tables written lately, by their HTML: what the renderers look up. Emptied when it
#: holds ``PLAIN_TABLES_KEPT``: a table no longer there is inlined with its document.
_plain_tables: dict[str, PlainTable] = {}
PLAIN_TABLES_KEPT = 256


def plain_table(opening: str, lead: str, row: str, *parts: tuple[str, tuple[str, ...]]) -> str:
    """The HTML of a ``PlainTable``, noted so that a renderer's CSS inlining writes its cells
    without parsing them (``TableShortcut``). The caller vouches for the shape ``PlainTable``
    describes; each part names every kind of cell its rows hold."""
    table = PlainTable(opening, lead, row, parts)
    html = table.html
    if len(_plain_tables) >= PLAIN_TABLES_KEPT:
        _plain_tables.clear()
    _plain_tables[html] = table
    return html


class TableShortcut:
    """CSS inlining of an email, its plain tables left out of the inliner's parse: the same
    bytes.

    ``css_inline`` parses the whole document, matches every rule against every element and
    writes the document back: for the summary emails, whose tables hold hundreds of cells, most
    of the work is the tables' (BENCHMARKS.md, summaries). Every cell of a kind (same tag, same
    attributes, in the same table) receives the same inline style, so each table written by
    ``plain_table`` is replaced, for the inliner, by its skeleton (one row, one cell of each
    kind) between two comments that mark it. The inliner's output for the skeleton gives each
    tag's inlined form; the table is then written by string replacements as the inliner writes
    it back: the ``<tbody>`` its parser adds, the quotes unescaped, ``&nbsp;`` for the no-break
    spaces, every other character as it is.

    Taken only where this is exact, otherwise the whole document goes through the inliner:
    rules that see nothing but an element and its ancestors (``_selectors_see_only_ancestors``),
    no ``<link>`` (remote stylesheets), no carriage return or NUL (the parser rewrites them), and
    each skeleton written back exactly as this class would write it (checked on every email: a
    table in a place where the parser moves things, a comment, an attribute, falls back).
    """

    def __init__(self, inline: Callable[[str], str]) -> None:
        self._inline = inline
        self._css_verdicts: dict[str, bool] = {}
        self._styles: dict[tuple[tuple[str, str, str, tuple[str, ...]], str], _Styles | None] = {}
        self._marker = f"css-skeleton-{os.urandom(8).hex()}-"

    def __call__(self, html: str) -> str:
        plans = self._tables_in(html)
        if not plans or "\r" in html or "\x00" in html or self._marker in html:
            return self._inline(html)
        pieces: list[str] = []
        start = 0
        for index, (begin, end, table) in enumerate(plans):
            marker = f"<!--{self._marker}{index}-->"
            pieces += [html[start:begin], marker, table.skeleton, marker]
            start = end
        pieces.append(html[start:])
        shortened = "".join(pieces)
        # The rules as the inliner reads them, from the shortened document (the same sheets).
        if not self._possible(shortened):
            return self._inline(html)
        inlined = self._inline(shortened)
        out: list[str] = []
        start = 0
        for index, (_begin, _end, table) in enumerate(plans):
            marker = f"<!--{self._marker}{index}-->"
            before = inlined.find(marker, start)
            after = inlined.find(marker, before + len(marker)) if before >= 0 else -1
            written = (
                self._written(table, inlined[before + len(marker) : after])
                if after >= 0 and not _in_comment(inlined, before)
                else None
            )
            if written is None:
                return self._inline(html)
            out += [inlined[start:before], written]
            start = after + len(marker)
        out.append(inlined[start:])
        return "".join(out)

    @staticmethod
    def _tables_in(html: str) -> list[tuple[int, int, PlainTable]]:
        """Where the plain tables of ``html`` begin and end, in order."""
        found: list[tuple[int, int, PlainTable]] = []
        begin = html.find("<table") if _plain_tables else -1
        while begin >= 0:
            end = html.find("</table>", begin) + len("</table>")
            if end < len("</table>"):
                break
            table = _plain_tables.get(html[begin:end])
            if table is not None:
                found.append((begin, end, table))
            begin = html.find("<table", end if table is not None else begin + 1)
        return found

    def _possible(self, html: str) -> bool:
        sheets = []
        for found in _STYLE_OR_LINK.finditer(html):
            if found.group(1).lower() == "link":
                return False
            end = _STYLE_END.search(html, found.end())
            sheets.append(html[found.end() : end.start() if end else len(html)])
        css = "\n".join(sheets)
        verdict = self._css_verdicts.get(css)
        if verdict is None:
            verdict = self._css_verdicts[css] = _selectors_see_only_ancestors(css)
        return verdict

    def _written(self, table: PlainTable, inlined: str) -> str | None:
        """The table as the inliner would write it, from its skeleton as the inliner wrote it;
        None if the skeleton came back in another shape than expected."""
        key = (table.shape, inlined)
        styles = self._styles.get(key, _UNKNOWN)
        if styles is _UNKNOWN:
            if len(self._styles) >= STYLES_KEPT:
                self._styles.clear()
            styles = self._styles[key] = _styles(table, inlined)
        if styles is None:
            return None
        return _write(table.parts, table.row, *styles)


#: Each shape of table and its skeleton as the inliner wrote it, the replacements that write
#: the tables of that shape (or None: not this way); emptied past ``STYLES_KEPT``.
STYLES_KEPT = 256
_UNKNOWN: Any = object()
_Styles = tuple[str, dict[str, str]]


def _styles(table: PlainTable, inlined: str) -> _Styles | None:
    """The start of a table of ``table``'s shape as the inliner writes it, and the inlined form
    of each tag it changes, read from the skeleton as the inliner wrote it (``inlined``); None
    if the skeleton came back in another shape than expected."""
    written = _ANY_TAG.findall(inlined)
    # Opening, <tbody>, the row, each cell and its end, </tr>, </tbody>, </table>.
    if len(written) != 2 * len(table.cells) + 6:
        return None
    styled = dict(zip(table.cells, written[3::2], strict=False))
    styled[table.row] = written[2]
    changed = {old: new for old, new in styled.items() if old != new}
    if any(old in new for old in changed for new in changed.values()):
        return None  # a replacement could be replaced again: a tag written as another
    styles = (f"{written[0]}{table.lead}<tbody>", changed)
    skeleton = f"{table.row}{_empty_cells(table.cells)}</tr>\n"
    if _write(((skeleton, table.cells),), table.row, *styles) != inlined:
        return None
    return styles


def _write(
    parts: tuple[tuple[str, tuple[str, ...]], ...], row: str, start: str, changed: dict[str, str]
) -> str:
    """A plain table's rows as the inliner writes them back: the quotes as they are, ``&nbsp;``
    for the no-break spaces, each tag inlined."""
    out = [start]
    for rows, kinds in parts:
        if "&#" in rows:
            rows = rows.replace("&#34;", '"').replace("&#39;", "'")
        rows = rows.replace("\u00a0", "&nbsp;")
        for old in (row, *kinds):
            new = changed.get(old)
            if new is not None:
                rows = rows.replace(old, new)
        out.append(rows)
    out.append("</tbody></table>")
    return "".join(out)


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


class TemplateRenderer:
    """Renders one kind of email from a context; shared by the services and ``mail preview``.

    Templates are read and compiled once per renderer (``auto_reload=False``): checking every
    file's modification time on each message cost a tenth of the rendering. A template edited
    while ``clauses serve`` runs is read at its next start. Their compiled code is shared by
    the renderers of a process (``compiled_templates``).
    """

    def __init__(self, root: Path | None = None, signature: Mapping[str, str] | None = None):
        self.root = root or templates_root()
        self.signature = dict(signature or {})
        loader = FileSystemLoader(str(self.root / "emails"))
        self._html = EmailEnvironment(
            loader=loader,
            undefined=StrictUndefined,
            autoescape=select_autoescape(["html"], default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
            bytecode_cache=EMAIL_HTML,
        )
        self._text = EmailEnvironment(
            loader=loader,
            undefined=StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            auto_reload=False,
            bytecode_cache=EMAIL_TEXT,
        )
        filters = {
            name: remembered(format_value)
            for name, format_value in (
                ("date", french_date),
                ("month", french_month),
                ("time", french_time),
                ("number", french_number),
                ("hours", french_hours),
                ("percent", french_percent),
                ("euros", french_euros),
                # « {{ company.name|de }} » → « d'Isol'Sud », « du Département de l'Exemple ».
                ("de", of_name),
                ("au", to_name),
                ("article", with_article),
            )
        }
        for env in (self._html, self._text):
            env.filters.update(filters)
            env.globals["received_words"] = received_words
        self._inliner = css_inline.CSSInliner()
        # The long tables of an email skip the inliner's parse, for the same bytes.
        self._inline_tables = TableShortcut(self._inline_whole)

    def kinds(self) -> list[str]:
        return sorted(
            p.name
            for p in (self.root / "emails").iterdir()
            if p.is_dir() and not p.name.startswith("_")
        )

    def render(self, kind: str, context: Mapping[str, Any]) -> RenderedEmail:
        full = {"signature": self.signature, "kind": kind, **context}
        subject = self._text.get_template(f"{kind}/subject.txt").render(full)
        # A subject is one line: a line break there could forge a header.
        subject = " ".join(subject.split())
        # The layouts print the subject (HTML <title>, preheader): rendered once, passed down.
        full["subject"] = subject
        text = self._text.get_template(f"{kind}/body.txt").render(full)
        html = self._inline(self._html.get_template(f"{kind}/body.html").render(full))
        return RenderedEmail(subject=subject, text=text, html=html)

    def _inline(self, html: str) -> str:
        return self._inline_tables(html)

    def _inline_whole(self, html: str) -> str:
        return str(self._inliner.inline(html))
