"""CSS inlining with the long tables left out of the inliner's parse: the very bytes of inlining
the whole document (``adapters.templates.TableShortcut``).

Every document here is inlined twice, by ``css_inline`` on the whole document and by the
shortcut (which gives ``css_inline`` a skeleton of each long table and writes the rest itself),
and the two outputs compared byte for byte: the summary's tables with every character HTML
escapes, empty and very long tables, random tables, hand-written tables the shortcut must
leave to the inliner, and style sheets whose rules see siblings (the whole document inlined).
"""

from __future__ import annotations

import random
import re
from typing import Any

import css_inline
import pytest

from workflow.adapters.templates import TableShortcut, TemplateRenderer, templates_root
from workflow.emails.summaries import (
    KIND_BUYER,
    KIND_FACILITATOR,
    sample_summary,
    summary_email,
    table_html,
)

NBSP = "\u00a0"
#: Every character HTML escapes or the inliner writes back otherwise, and a few others.
ODD = [
    "<",
    ">",
    "&",
    '"',
    "'",
    NBSP,
    "\u202f",
    "&amp;",
    "&lt;",
    "&#34;",
    "</td>",
    "<!--",
    "é",
    "🙂",
]


def layout_css() -> str:
    layout = (templates_root() / "emails" / "_base" / "layout.html").read_text()
    found = re.search(r"<style>(.*?)</style>", layout, re.DOTALL)
    assert found
    return found.group(1)


def document(body: str, css: str | None = None) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="fr">\n<head>\n<meta charset="utf-8">\n'
        f"<style>{layout_css() if css is None else css}</style>\n</head>\n<body>\n"
        f'<div class="wrap">\n  <div class="card">\n{body}  </div>\n</div>\n</body>\n</html>\n'
    )


def whole(html: str) -> str:
    return str(css_inline.CSSInliner().inline(html))


class Seen:
    """The real inliner, and the sizes of the documents it was given."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def __call__(self, html: str) -> str:
        self.sizes.append(len(html))
        return whole(html)


def both(html: str) -> tuple[str, str, Seen]:
    seen = Seen()
    return TableShortcut(seen)(html), whole(html), seen


def table(rows: int, columns: int = 4, text: str = "Lot", note: str | None = None) -> str:
    return str(
        table_html(
            {
                "title": f"Titre {text}",
                "columns": [f"{text} {c}" for c in range(columns)],
                "numeric": [c % 2 == 1 for c in range(columns)],
                "rows": [[f"{text} {r}.{c}" for c in range(columns)] for r in range(rows)],
                "note": note,
            }
        )
    )


def test_long_tables_skip_the_parse_and_come_out_the_same() -> None:
    html = document(
        "<p>Bonjour,</p>\n"
        + table(2000, text='Ville <d\'Aÿ> & "Fils"', note="Les 2 000 lignes & plus")
        + table(0)  # the columns only
        + table(1)
        + table(3, columns=1)
        + "<p>À bientôt</p>\n"
    )
    shortcut, expected, seen = both(html)
    assert shortcut == expected
    # Not vacuous: the inliner read a skeleton, not the 2,000 lines.
    assert seen.sizes and max(seen.sizes) < len(html) / 20
    assert "<tbody>" in shortcut and 'Ville &lt;d\'Aÿ&gt; &amp; "Fils" 1999.0' in shortcut


@pytest.mark.parametrize("odd", [*ODD, "", " ", "\t", "\x0c", "a\nb", "&amp;nbsp;", "--!>"])
def test_each_odd_text_is_written_back_as_the_inliner_does(odd: str) -> None:
    html = document(table(5, text=odd, note=odd) + table(4, columns=2, text=odd * 3))
    shortcut, expected, seen = both(html)
    assert shortcut == expected
    assert max(seen.sizes) < len(html)


@pytest.mark.parametrize("odd", ["a\r\nb", "a\rb", "a\x00b"])
def test_text_the_parser_rewrites_goes_through_the_whole_inliner(odd: str) -> None:
    html = document(table(5, text=odd))
    shortcut, expected, seen = both(html)
    assert shortcut == expected
    assert seen.sizes == [len(html)]


def test_random_tables() -> None:
    chance = random.Random(20261206)
    alphabet = [*ODD, "a", "b", " ", "1", "\u202f000", "\n"]
    for _ in range(150):
        body = ""
        for _ in range(chance.randint(1, 4)):
            columns = chance.randint(1, 6)
            rows = chance.choice([0, 1, 2, 3, 10, 60])

            def text() -> str:
                return "".join(chance.choice(alphabet) for _ in range(chance.randint(0, 8)))

            data: dict[str, Any] = {
                "title": text(),
                "columns": [text() for _ in range(columns)],
                "numeric": [chance.random() < 0.5 for _ in range(columns)],
                "rows": [[text() for _ in range(columns)] for _ in range(rows)],
                "note": chance.choice([None, "", text()]),
            }
            body += chance.choice(["", "<p>Texte</p>\n"]) + str(table_html(data))
        html = document(body)
        shortcut, expected, _seen = both(html)
        assert shortcut == expected, body


HAND_WRITTEN = [
    # Other tags and attributes than table_html's; entities the shortcut does not write.
    '<table class="figures" id="t&amp;1">\n<tr class="odd"><td>a</td><td class="num">1</td></tr>'
    '\n<tr class="odd"><td>b</td><td class="num">2</td></tr>\n<tr class="odd"><td>c</td>'
    '<td class="num">3</td></tr>\n</table>\n',
    "<table class=\"figures\"><tr><td title='x&amp;y'>a</td></tr><tr><td title='x&amp;y'>b</td>"
    "</tr></table>",
    '<table class="figures">\n  <tr><td>&eacute;t&eacute;</td></tr>\n  <tr><td>&nbsp;</td></tr>\n'
    "</table>",
    '<table class="figures">\n  <tr><td>a > b</td></tr>\n  <tr><td>c</td></tr>\n</table>',
    # Rows of two kinds, whitespace between cells, a table in a paragraph, a nested table.
    '<table class="figures">\n  <tr class="a"><td>1</td></tr>\n  <tr class="b"><td>2</td></tr>\n'
    "</table>",
    '<table class="figures">\n  <tr><td>1</td> <td>2</td></tr>\n  <tr><td>3</td> <td>4</td>'
    "</tr>\n</table>",
    '<p>Avant <table class="figures"><tr><td>1</td></tr><tr><td>2</td></tr></table> après</p>',
    '<table class="figures"><tr><td><table class="figures"><tr><th>x</th></tr><tr><td>1</td>'
    "</tr><tr><td>2</td></tr></table></td></tr><tr><td>3</td></tr></table>",
    '<TABLE class="figures"><TR><TD>1</TD></TR><TR><TD>2</TD></TR></TABLE>',
    '<table class="figures"><tr><td style="color: red;">1</td><td>2</td></tr>'
    "<tr><td>3</td><td>4</td></tr></table>",
    '<table class="figures"><tbody><tr><td>1</td></tr><tr><td>2</td></tr></tbody></table>',
    '<table class="figures"><tr><td data-css-inline="ignore">1</td><td>2</td></tr>'
    "<tr><td>3</td><td>4</td></tr></table>",
]


@pytest.mark.parametrize("body", HAND_WRITTEN)
def test_hand_written_tables(body: str) -> None:
    shortcut, expected, _seen = both(document(body + table(6, text="&")))
    assert shortcut == expected


@pytest.mark.parametrize(
    "rule",
    [
        "table.figures tr:nth-child(even) td { background: #eeeeee; }",
        "th + th { color: red; }",
        "td ~ td { color: red; }",
        "td:empty { display: none; }",
        "@media (max-width: 600px) { td { font-size: 12px; } }",
    ],
)
def test_rules_that_see_siblings_or_text_inline_the_whole_document(rule: str) -> None:
    html = document(table(8, text="x") + table(3, text=""), css=layout_css() + rule)
    shortcut, expected, seen = both(html)
    assert shortcut == expected
    assert seen.sizes == [len(html)]


def test_rules_on_ancestors_and_children_are_kept() -> None:
    css = layout_css() + ".card > table td.num { color: green; } div td { margin: 1px; }"
    html = document(table(8, text="x"), css=css)
    shortcut, expected, seen = both(html)
    assert shortcut == expected
    assert max(seen.sizes) < len(html)


SIGNATURE = {
    "name": 'Camille <Martin> & "C°"',
    "title": "Facilitatrice",
    "organisation": "Département de l'Exemple",
    "email": "clauses@example.org",
    "phone": "",
    "extra": "",
}


class WholeInliner(TemplateRenderer):
    """The renderer as it was: every email's whole HTML through the inliner."""

    def _inline(self, html: str) -> str:
        return self._inline_whole(html)


@pytest.mark.parametrize("buyer", [False, True])
def test_the_sample_summaries_render_the_same(buyer: bool) -> None:
    kind = KIND_BUYER if buyer else KIND_FACILITATOR
    context, _files = summary_email(sample_summary(buyer))
    new = TemplateRenderer(signature=SIGNATURE).render(kind, context)
    old = WholeInliner(signature=SIGNATURE).render(kind, context)
    assert new == old
    assert "<tbody>" in new.html


PLACES = [
    "<!-- {} -->",
    "<!-- {}",
    "<script>{}</script>",
    "<textarea>{}</textarea>",
    "<p>Avant {} après</p>",
    "<table><tr><td>{}</td></tr></table>",
    "<table>{}</table>",
    "<ul><li>{}</li></ul>",
    "<svg>{}</svg>",
    "<template>{}</template>",
    "<noscript>{}</noscript>",
    '<a title="{}">lien</a>',
    "<select>{}</select>",
]


@pytest.mark.parametrize("place", PLACES)
def test_a_table_anywhere_comes_out_as_the_whole_inliner_writes_it(place: str) -> None:
    written = table(6, text="d'Aÿ & <Fils>", note="x")
    html = document(place.replace("{}", written) + written)
    shortcut, expected, _seen = both(html)
    assert shortcut == expected
