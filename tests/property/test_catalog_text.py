"""Free text given to the catalog services (names, places, cities, phones) with a character no
keyboard types: refused in French, naming the field and the character, the database unchanged.

The command line refuses such arguments itself (``test_cli_arguments``); the services are also
reached by the imports and, later, by the web pages, so they refuse them too. They used to fold
U+001C to U+001F and U+0085 into spaces (``str.split`` takes them for whitespace) and keep the
rest: an escape sequence stored in a buyer's name, a NUL refused by PostgreSQL alone."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from tests.property.conftest import NOVEMBER
from tests.property.world import world
from workflow.bootstrap import bootstrap
from workflow.errors import InputRefused
from workflow.services import catalog

Call = Callable[[Session, str, datetime, Any], object]

#: Each service, the field its text goes to, and how it is called with that text.
FIELDS: dict[str, tuple[str, Call]] = {
    "buyer name": (
        "Nom du donneur d'ordre",
        lambda s, text, now, settings: catalog.add_buyer(s, name=text, now=now, settings=settings),
    ),
    "buyer kind": (
        "Type de donneur d'ordre",
        lambda s, text, now, settings: catalog.add_buyer(
            s, name="Ville de l'Exemple", kind=text, now=now, settings=settings
        ),
    ),
    "company name": (
        "Nom de l'entreprise",
        lambda s, text, now, settings: catalog.add_company(s, name=text, now=now),
    ),
    "company city": (
        "Ville de l'entreprise",
        lambda s, text, now, settings: catalog.add_company(
            s, name="Bâtiments du Sud", city=text, now=now
        ),
    ),
}

#: C0 and C1 controls but tab and line ends, and lone surrogates (bytes that were not UTF-8).
forbidden = st.one_of(
    st.characters(categories=["Cc"], exclude_characters="\t\n\r"),
    st.characters(categories=["Cs"]),
)


@pytest.mark.parametrize("field", sorted(FIELDS))
@given(
    before=st.text(st.characters(codec="utf-8", categories=["L", "N", "Zs"]), max_size=20),
    char=forbidden,
    after=st.text(st.characters(codec="utf-8", categories=["L", "N", "Zs"]), max_size=20),
)
@example(before="Entreprise", char="\x1f", after="Martin")  # was folded into a space, and kept
@example(before="Mairie", char="\x1b", after="[2J")  # an escape sequence for whoever lists them
@example(before="", char="\x00", after="")  # PostgreSQL refuses it, SQLite stored it
def test_a_control_character_is_refused_naming_the_field_and_nothing_is_written(
    empty_template: Path, field: str, before: str, char: str, after: str
) -> None:
    label, call = FIELDS[field]
    with world(empty_template, NOVEMBER) as w:
        dump = w.dump()
        app = bootstrap(w.settings, clock=w.clock)
        try:
            with pytest.raises(InputRefused) as refused, app.transaction() as session:
                call(session, f"{before}{char}{after}", NOVEMBER, app.settings)
        finally:
            app.close()
        assert w.dump() == dump

    message = refused.value.message
    assert message.startswith(f"{label} : «\u00a0"), message
    code = f"U+{ord(char):04X}"
    if 0xD800 <= ord(char) <= 0xDFFF:
        assert f"caractère invalide {code} (des octets qui ne sont pas du texte UTF-8)" in message
    else:
        assert f"caractère de contrôle {code} interdit" in message
    # The message itself can be printed and stored: the character is shown as « � ».
    assert char not in message
    message.encode("utf-8")


def test_tabs_and_line_breaks_are_spaces_not_refusals(empty_template: Path) -> None:
    with world(empty_template, NOVEMBER) as w:
        app = bootstrap(w.settings, clock=w.clock)
        try:
            with app.transaction() as session:
                company = catalog.add_company(
                    session, name="Bâtiments\tdu\r\nSud ", city=" Auch\n", now=NOVEMBER
                )
                assert (company.name, company.city) == ("Bâtiments du Sud", "Auch")
        finally:
            app.close()
