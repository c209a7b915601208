"""Before confirming, a company reads what its correction replaces, and a blank hours cell is
refused with its remedy.

- A filled template whose line names a month sent already (« 03/2027 » typed for February): the
  check page names, for that month, what is on record (its hours, its people, the day it was
  received) beside what the file will put in its place, before anything is written; several
  corrected months are each named so; a correction typed in the form is said the same way.
- A template line pre-filled for a person, its hours left blank: the refusal says to write 0 or
  to delete the line, as the call's « Comment déclarer » does.

The pages are the real ASGI application over the real App, the import the real command, on
SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Clock
from tests.integration._ladders import Lot
from tests.integration.test_declaration_howto import lot_01
from tests.integration.test_declaration_template_zero_months import (
    SEPTEMBER_PERSON,
    filled,
    refused,
)
from tests.integration.test_declaration_template_zero_months import recorded as imported
from tests.integration.test_identical_replacement import started
from tests.integration.test_online_declaration import (
    CALLED,
    TWO_PEOPLE,
    call_link,
    called_territory,
    form,
)
from tests.integration.test_online_declaration_catch_up import (
    THREE_MONTHS,
    attached_csv,
    catch_up_call,
    counts,
    hidden_lines,
    late,  # noqa: F401 (the fixture: a lot started in February, recorded in May)
    month_links,
    paris,
    recorded,
)
from tests.integration.test_online_declaration_catch_up import filled as filled_csv
from tests.text import visible
from workflow.bootstrap import App
from workflow.entrypoints.web.site import create_site

pytestmark = pytest.mark.scenario

NBSP = "\u00a0"
FEB, MAR = date(2027, 2, 1), date(2027, 3, 1)


def read(html: str) -> str:
    """The page as read, its no-break spaces as spaces."""
    return visible(html).replace(NBSP, " ")


def send(client: TestClient, link: str, data: bytes, name: str = "rempli.csv") -> str:
    """The check page of a template sent from ``link``; nothing recorded."""
    shown = client.post(f"{link}/fichier", files={"fichier": (name, data, "text/csv")})
    assert shown.status_code == 200, visible(shown.text)
    return shown.text


def confirm(client: TestClient, link: str, shown: str) -> None:
    done = client.post(link, data={**hidden_lines(shown), "action": "confirmer"})
    assert done.status_code == 200, visible(done.text)


def just_after_midnight(clock: Clock) -> None:
    """00:30 in Paris on Thursday 6 May 2027, still the 5th in UTC: the day said is Paris's."""
    clock.set(paris(date(2027, 5, 6), 0) + timedelta(minutes=30))


def test_a_month_typed_by_mistake_is_shown_with_what_it_replaces_before_confirming(
    late: tuple[App, Lot],  # noqa: F811
    clock: Clock,
) -> None:
    app, lot = late
    call = catch_up_call(app, lot)
    links = month_links(call.body_text)
    _, rows, encoding = attached_csv(app, call)
    client = TestClient(create_site(app))
    just_after_midnight(clock)
    march = filled_csv(rows, encoding, {"03/2027": THREE_MONTHS["03/2027"]})
    confirm(client, links["mars 2027"], send(client, links["mars 2027"], march))
    assert recorded(app, lot) == {MAR: Decimal("175")}
    clock.set(paris(date(2027, 5, 7), 10))

    # February's template, one of its lines typed « 03/2027 »: March would lose 175 h.
    mistyped = filled_csv(
        rows, encoding, {"02/2027": [("P-CU-1", "151,67")], "03/2027": [("P-CU-2", "98,5")]}
    )
    shown = send(client, links["février 2027"], mistyped)
    text = read(shown)

    assert "Février 2027 sera déclaré pour la première fois." in text, text
    assert (
        "Mars 2027 sera corrigé : cette déclaration (98,50 h, 1 personne) remplacera celle que "
        "vous aviez envoyée le 6 mai 2027 (175 h, 2 personnes)." in text
    ), text
    assert (
        "Cette déclaration (98,50 h, 1 personne) remplacera celle que vous aviez envoyée le "
        "6 mai 2027 pour mars 2027 (175 h, 2 personnes)." in text
    ), text
    assert f"sera corrigé{NBSP}: cette déclaration" in visible(shown)
    assert recorded(app, lot) == {MAR: Decimal("175")}  # shown, nothing written


def test_several_corrected_months_are_each_named_with_what_they_replace(
    late: tuple[App, Lot],  # noqa: F811
    clock: Clock,
) -> None:
    app, lot = late
    call = catch_up_call(app, lot)
    links = month_links(call.body_text)
    _, rows, encoding = attached_csv(app, call)
    client = TestClient(create_site(app))
    first = filled_csv(rows, encoding, {"02/2027": [("P-CU-1", "100")], "03/2027": []})
    confirm(client, links["février 2027"], send(client, links["février 2027"], first))
    just_after_midnight(clock)
    second = filled_csv(rows, encoding, {"03/2027": [("P-CU-1", "98,5")]})
    confirm(client, links["mars 2027"], send(client, links["mars 2027"], second))
    assert recorded(app, lot) == {FEB: Decimal("100"), MAR: Decimal("98.5")}
    before = counts(app, lot)

    text = read(send(client, links["avril 2027"], filled_csv(rows, encoding, THREE_MONTHS)))

    assert (
        "Février et mars 2027 seront corrigés : ces déclarations remplaceront celles que vous "
        "aviez envoyées : février 2027 : 151,67 h, 1 personne, au lieu de 100 h, 1 personne "
        "(déclaration envoyée le 5 mai 2027) ; mars 2027 : 175 h, 2 personnes, au lieu de "
        "98,50 h, 1 personne (déclaration envoyée le 6 mai 2027)." in text
    ), text
    assert "Avril 2027 sera déclaré pour la première fois." in text
    assert counts(app, lot) == before


def test_a_correction_typed_in_the_form_names_what_it_replaces(app: App, clock: Clock) -> None:
    called = called_territory(app, clock)
    clause_id, holder_id, _ = lot_01(called)
    path = call_link(called, clause_id, holder_id)
    client = TestClient(create_site(called))
    client.post(path, data=form(TWO_PEOPLE, "confirmer"))
    clock.set(CALLED + timedelta(days=1))

    checked = client.post(path, data=form({**TWO_PEOPLE, "hours": ["140", ""]}, "verifier"))
    assert checked.status_code == 200, visible(checked.text)
    text = read(checked.text)
    assert (
        "Cette déclaration (140 h, 1 personne) remplacera celle que vous aviez envoyée le "
        "4 mai 2026 pour ce mois (186,67 h, 2 personnes)." in text
    ), text

    nothing = {"reference": [""], "hours": [""], "contract": [""], "mode": [""]}
    checked = client.post(path, data=form(nothing, "verifier", zero=True))
    assert (
        "Cette déclaration (aucune heure) remplacera celle que vous aviez envoyée le "
        "4 mai 2026 pour ce mois (186,67 h, 2 personnes)." in read(checked.text)
    ), read(checked.text)


def test_blank_hours_on_a_template_line_say_to_write_0_or_delete_it(
    app: App, clock: Clock, tmp_path: Path
) -> None:
    started(app, clock)
    path = filled(app, tmp_path, {2: {**SEPTEMBER_PERSON, "Heures": ""}})

    said = refused(app, "declaration", "import", str(path))

    assert (
        "ligne 2, colonne « Heures » : valeur manquante ; indiquez 0 si cette personne n'a pas "
        "travaillé sur le lot ce mois-là, ou supprimez sa ligne." in said
    ), said
    assert imported(app) == []


def test_blank_hours_in_a_file_sent_from_the_link_say_the_same(
    late: tuple[App, Lot],  # noqa: F811
) -> None:
    app, lot = late
    call = catch_up_call(app, lot)
    links = month_links(call.body_text)
    _, rows, encoding = attached_csv(app, call)
    client = TestClient(create_site(app))
    blank = filled_csv(rows, encoding, {"02/2027": [("P-CU-1", "")]})

    shown = client.post(
        f"{links['février 2027']}/fichier", files={"fichier": ("rempli.csv", blank, "text/csv")}
    )

    assert shown.status_code == 422
    text = read(shown.text)
    assert (
        "colonne « Heures » : valeur manquante ; indiquez 0 si cette personne n'a pas "
        "travaillé sur le lot ce mois-là, ou supprimez sa ligne." in text
    ), text
    assert recorded(app, lot) == {}
