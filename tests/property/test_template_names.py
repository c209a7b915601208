"""Names with HTML, quotes, line breaks, right-to-left text and emoji, typed through the command
line for every party of a clause, then carried by every email the clause's life sends (and by the
monthly summary's exports). The HTML part shows them as text (no tag of theirs, no script), the
text part shows them plain, no header gains a line or a header of its own, the addresses stay
parseable; an address holding such text is refused in French, the database unchanged."""

from __future__ import annotations

import csv
import email
import email.policy
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import Result
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.property.conftest import NOVEMBER, examples
from tests.property.french import assert_no_python, assert_refused_in_french
from tests.property.world import World, world
from tests.text import squash
from workflow.adapters.mail.message import check_address

#: Pieces a name is made of: markup, entities, quotes, header-looking text, line breaks, scripts
#: written right to left (and the override that reverses text), emoji with joiners, template
#: syntax, formula starts.
FRAGMENTS = [
    "<script>alert('x')</script>",
    '<img src=x onerror="alert(1)">',
    "<iframe src=//exemple.invalid>",
    "&amp;",
    "&",
    '"',
    "'",
    "\r\n",
    "\n",
    "\r\nBcc: intrus@example.org\r\n",
    "Subject: autre",
    "\u202e",
    "\u200f",
    "مرحبا بالعالم",
    "שלום",
    "🚧",
    "👷🏽\u200d♀️",
    "{{ 7*7 }}",
    "{% raw %}",
    '=HYPERLINK("http://exemple.invalid")',
    "Département",
    "Œuvre",
    " ",
    "\t",
]
free_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), max_size=15)
names = (
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), free_text), min_size=1, max_size=6)
    .map("".join)
    .filter(lambda name: name.strip() != "")
    .map(lambda name: name[:190])
)

#: The headers the writer puts on a message; any other name at a line's start was injected.
HEADERS = {
    "from",
    "to",
    "reply-to",
    "subject",
    "date",
    "message-id",
    "auto-submitted",
    "mime-version",
    "content-type",
}
INJECTED_TAGS = {"script", "img", "iframe"}


def folded(name: str) -> str:
    """A name as the service keeps it: whitespace and line breaks folded to one space."""
    return " ".join(name.split())


class Page(HTMLParser):
    """What a browser would make of an HTML part: its tags, their attributes, its text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def ok(result: Result) -> dict[str, object]:
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.stdout)
    return data


def build_clause(w: World, party: str, person: str, lot: str, reason: str) -> str:
    """One clause through its whole life by the command line, every name hostile; returns
    the clause's number. A name given as an argument comes after ``--``: one that starts with a
    dash (« -0 ») is a name, as a shell user would write it, not an option."""
    buyer = str(ok(w.run("buyer", "add", "--json", "--", party))["id"])
    ok(
        w.run(
            "buyer",
            "contact-add",
            buyer,
            "--name",
            person,
            "--email",
            "achat@example.org",
            "--json",
        )
    )
    operation = str(ok(w.run("operation", "add", "--buyer", buyer, "--json", "--", party))["id"])
    market = str(
        ok(w.run("market", "add", "--operation", operation, "--json", "--", party[:60]))["id"]
    )
    clause = str(
        ok(
            w.run(
                "lot",
                "add",
                "--market",
                market,
                "--title",
                lot,
                "--number",
                lot[:20],
                "--hours",
                "500",
                "--hours-reason",
                reason,
                "--json",
            )
        )["id"]
    )
    company = str(
        ok(w.run("company", "add", "--siret", "73282932000074", "--json", "--", party))["id"]
    )
    ok(
        w.run(
            "company",
            "correspondent-add",
            company,
            "--name",
            person,
            "--email",
            "insertion@example.org",
            "--json",
        )
    )
    for step in (
        ("advance", clause, "rédiger", "--reason", reason),
        ("advance", clause, "attribuer"),
        ("award", clause, "--company", company, "--start", "01/09/2026", "--end", "31/10/2026"),
        ("advance", clause, "démarrer"),
        ("advance", clause, "suspendre", "--reason", reason),
        ("advance", clause, "reprendre", "--reason", reason),
    ):
        done = w.run("clause", *step)
        assert done.exit_code == 0, (step, done.output)
    zero = w.run(
        "declaration", "zero", "--clause", clause, "--company", company, "--month", "09/2026"
    )
    assert zero.exit_code == 0, zero.output
    closing: list[tuple[str, ...]] = [
        ("advance", clause, "achever", "--end-date", "31/10/2026"),
        ("report", clause, "--text", reason),
        ("advance", clause, "clôturer"),
    ]
    for ending in closing:
        done = w.run("clause", *ending)
        assert done.exit_code == 0, (ending, done.output)
    return clause


URL = re.compile(r"https?://\S+")


def check_message(raw: bytes, shown: list[str]) -> None:
    """The properties of one message on the wire (``shown``: names it may carry, folded)."""
    head, _, _ = raw.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            continue  # a folded header's next line
        name = line.split(b":", 1)[0].decode("ascii").lower()
        assert name in HEADERS, f"header « {name} » in:\n{head.decode(errors='replace')}"
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert not message.defects, message.defects
    subject = str(message["Subject"])
    assert "\r" not in subject and "\n" not in subject
    for field in ("From", "To", "Reply-To"):
        if message[field] is None:
            continue
        for address in message[field].addresses:
            assert check_address(address.addr_spec) == address.addr_spec
            assert "\n" not in address.display_name and "\r" not in address.display_name
    html_part = message.get_body(("html",))
    text_part = message.get_body(("plain",))
    assert html_part is not None and text_part is not None
    page = Page()
    page.feed(html_part.get_content())
    assert not page.tags & INJECTED_TAGS, page.tags
    assert not {a for a in page.attributes if a.startswith("on")}, page.attributes
    html_text = squash("".join(page.text))
    # Links are left out: their signed tokens are random, and a one-letter name found in one
    # (« H » in …/declarer/…H…) is no name the text carries.
    text = URL.sub(" ", squash(text_part.get_content()))
    for name in shown:
        # Each name the message carries reads in both parts exactly as typed (folded).
        if name in subject or name in text:
            assert name in html_text, (name, html_text[:500])


@pytest.mark.slow
@settings(max_examples=examples(0.4))
@given(party=names, person=names, lot=names, reason=names)
@example(
    party="<script>alert('x')</script> & \"Cie\"\r\nBcc: intrus@example.org",
    person="\u202eAmira مرحبا 👷🏽\u200d♀️",
    lot="Gros œuvre <b>&amp;</b> {{ 7*7 }}",
    reason='=HYPERLINK("http://exemple.invalid")\nSubject: autre',
)
def test_hostile_names_reach_every_email_as_plain_text(
    empty_template: Path, party: str, person: str, lot: str, reason: str
) -> None:
    with world(empty_template, NOVEMBER) as w:
        clause = build_clause(w, party, person, lot, reason)
        sent = w.run("mail", "send")
        assert sent.exit_code == 0, sent.output

        shown = [folded(n) for n in (party, person, lot, reason)]
        messages = sorted((w.folder / "mail").rglob("*.eml"))
        kinds = {path.parent.name for path in messages}
        assert {"company_welcome", "declaration_receipt", "notice_final_report"} <= kinds, kinds
        for path in messages:
            check_message(path.read_bytes(), shown)
        # The company's name and the lot's title read whole in its welcome, text and HTML.
        [welcome] = [p for p in messages if p.parent.name == "company_welcome"]
        parsed = email.message_from_bytes(welcome.read_bytes(), policy=email.policy.default)
        text = squash(parsed.get_body(("plain",)).get_content())  # type: ignore[union-attr]
        assert shown[0] in text and shown[2] in text

        preview = w.run(
            "mail",
            "preview",
            "notice_abandoned",
            "--clause",
            clause,
            "--out",
            str(w.folder / "apercu"),
        )
        assert preview.exit_code == 0, preview.output
        check_message((w.folder / "apercu" / "notice_abandoned.eml").read_bytes(), shown)


@pytest.mark.slow
@settings(max_examples=examples(0.2))
@given(party=names, lot=names)
@example(party="=1+1 <script>", lot='@SUM(A1) & "x"')
def test_hostile_names_in_the_summary_exports_are_text(
    empty_template: Path, party: str, lot: str
) -> None:
    """The monthly summary names buyers and lots: in HTML as text, in CSV never as a formula."""
    with world(empty_template, NOVEMBER) as w:
        build_clause(w, party, "Paul", lot, "motif")
        html_out = w.folder / "synthese.html"
        html_result = w.run(
            "summary", "--month", "2026-09", "--format", "html", "--output", str(html_out)
        )
        csv_result = w.run("summary", "--month", "2026-09", "--format", "csv")

        assert html_result.exit_code == 0, html_result.output
        page = Page()
        page.feed(html_out.read_text(encoding="utf-8"))
        assert not page.tags & INJECTED_TAGS
        assert folded(lot) in squash("".join(page.text))
        assert csv_result.exit_code == 0, csv_result.output
        for row in csv.reader(io.StringIO(csv_result.stdout.lstrip("\ufeff")), delimiter=";"):
            for cell in row:
                assert not cell.startswith(("=", "+", "@")), cell


# --- addresses ----------------------------------------------------------------------------------

address_breakers = st.sampled_from(
    [
        "é",
        "\u202e",
        " ",
        "\r\nBcc: intrus@example.org",
        "<",
        ">",
        ",",
        ";",
        '"',
        "(",
        ")",
        "[",
        "\\",
        ":",
        "@",
        "🚧",
        "مرحبا",
        "\t",
    ]
)


@given(
    command=st.sampled_from(["buyer", "company"]),
    breaker=st.one_of(address_breakers, free_text),
    where=st.integers(0, 19),
)
@example(command="buyer", breaker="é", where=1)  # was stored, then refused at every sending
@example(command="company", breaker="(", where=3)
def test_an_address_is_one_that_can_be_sent_or_it_is_refused_in_french(
    started_template: Path, command: str, breaker: str, where: int
) -> None:
    address = "insertion@example.org"
    hostile = address[:where] + breaker + address[where:]
    with world(started_template, NOVEMBER) as w:
        before = w.dump()
        adding = (
            ("buyer", "contact-add") if command == "buyer" else ("company", "correspondent-add")
        )

        result = w.run(*adding, "1", "--name", "Claire Dupont", "--email", hostile, "--json")

        if result.exit_code == 0:
            stored = str(json.loads(result.stdout)["email"])
            assert check_address(stored) == stored  # it can go into an envelope
            assert_no_python(result)
        else:
            assert_refused_in_french(result, ["--email", "E-mail", "adresse"])
            assert w.dump() == before


@given(name=st.text(min_size=201, max_size=400).filter(lambda n: len(folded(n)) > 200))
@example(name="Ω" * 250)
def test_a_name_too_long_is_refused_in_french_and_changes_nothing(
    empty_template: Path, name: str
) -> None:
    with world(empty_template, NOVEMBER) as w:
        before = w.dump()

        result = w.run("company", "add", name)

        assert_refused_in_french(result, ["Nom de l'entreprise", "NOM"])
        assert w.dump() == before
