"""A company that follows a catch-up call asking several months sends the call's template once.

The user trial's scenario: a lot whose start (1 February 2027) is recorded in May gets one
catch-up call for February, March and April, with a template covering the three months and one
link per month. The company fills that template for the three months and sends it from the
February link: the page shows each month, confirming records each (its history row, its receipt),
and ``clauses declaration list`` shows them. The same file sent again changes nothing; a line of
another company's SIRET, or of a month the link set does not cover, refuses the file whole, named
by its line and month with what the link allows.

The call and its template are those the real passes queued; the pages are the real ASGI
application over the real App, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import date, datetime, time
from decimal import Decimal
from urllib.parse import urlparse

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.conftest import Clock
from tests.integration._ladders import Lot, make_lot
from tests.text import squash, visible
from workflow.adapters.mail.memory import MemoryTransport
from workflow.adapters.orm import (
    ClauseHistory,
    Company,
    Declaration,
    OutboxAttachment,
    OutboxMessage,
)
from workflow.bootstrap import App, bootstrap
from workflow.domain.calendar import at_local
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.entrypoints.web.site import create_site
from workflow.services.ticks import simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

FEB, MAR, APR, MAY = (date(2027, m, 1) for m in (2, 3, 4, 5))
HOLDER_SIRET = "73282932000074"
OTHER_SIRET = "55210055400013"
NEW = {
    "Critère d'éligibilité": "Demandeur d'emploi de longue durée",
    "Type de contrat": "CDD",
    "Modalité de réalisation": "Embauche directe",
}


def paris(day: date, hour: int) -> datetime:
    return at_local(day, time(hour), Settings().zone)


@pytest.fixture
def late(settings: Settings, clock: Clock) -> Iterator[tuple[App, Lot]]:
    """A lot started on 1 February 2027, recorded on Monday 3 May: its catch-up call left."""
    application = bootstrap(settings, clock=clock, transport=MemoryTransport())
    lot = make_lot(
        application,
        start=FEB,
        end=date(2027, 12, 31),
        companies=("Bâtiments Test", "Charpentes Voisines"),
        at=paris(date(2027, 5, 3), 8),
    )
    with application.transaction() as session:
        for company_id, siret in zip(lot.company_ids, (HOLDER_SIRET, OTHER_SIRET), strict=True):
            session.get_one(Company, company_id).siret = siret
    simulate(application, date(2027, 5, 3), date(2027, 5, 5))
    clock.set(paris(date(2027, 5, 5), 15))
    yield application, lot
    application.close()


def catch_up_call(app: App, lot: Lot) -> OutboxMessage:
    with app.transaction() as session:
        [call] = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.kind == "declaration_call",
                OutboxMessage.key.startswith(f"reminder:{lot.clause_id}:{lot.company_ids[0]}:"),
            )
        ).all()
        session.expunge(call)
    return call


def month_links(body: str) -> dict[str, str]:
    """The path of each month's link of the call, by the month's name (« février 2027 »)."""
    return {
        month: urlparse(url).path
        for month, url in re.findall(r"- (\w+ 2027) : (https?://\S+/declarer/\S+)", body)
    }


def attached_csv(app: App, call: OutboxMessage) -> tuple[str, list[list[str]], str]:
    """The CSV template attached to the call: its name, its rows, its encoding."""
    with app.transaction() as session:
        attachment = session.scalars(
            select(OutboxAttachment).where(
                OutboxAttachment.outbox_id == call.id,
                OutboxAttachment.filename.endswith(".csv"),
            )
        ).one()
        name, data, kind = attachment.filename, bytes(attachment.content), attachment.content_type
    encoding = kind.split("charset=")[1]
    return name, list(csv.reader(io.StringIO(data.decode(encoding)), delimiter=";")), encoding


def filled(rows: list[list[str]], encoding: str, people: dict[str, list[tuple[str, str]]]) -> bytes:
    """The template with, for each month cell (« 03/2027 »), one line per (reference, hours)
    written over its blank lines, as a company fills it; the other blank lines left as they are."""
    titles = rows[0]
    column = {title: index for index, title in enumerate(titles)}
    out = [list(titles)]
    used: dict[str, int] = {}
    for row in rows[1:]:
        month = row[column["Mois"]]
        todo = people.get(month, [])
        line = list(row)
        if used.get(month, 0) < len(todo):
            reference, hours = todo[used.get(month, 0)]
            used[month] = used.get(month, 0) + 1
            line[column["Référence participant"]] = reference
            line[column["Heures"]] = hours
            for title, value in NEW.items():
                line[column[title]] = value
        out.append(line)
    text = io.StringIO()
    csv.writer(text, delimiter=";", lineterminator="\r\n").writerows(out)
    return text.getvalue().encode(encoding)


THREE_MONTHS = {
    "02/2027": [("P-CU-1", "151,67")],
    "03/2027": [("P-CU-1", "140"), ("P-CU-2", "35")],
    "04/2027": [("P-CU-1", "120,5")],
}


def hidden_lines(html: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html):
        if name != "csrf":
            found.setdefault(name, []).append(value)
    return found


def recorded(app: App, lot: Lot) -> dict[date, Decimal]:
    with app.transaction() as session:
        return dict(
            session.execute(
                select(Declaration.month, Declaration.total_hours)
                .where(Declaration.clause_id == lot.clause_id)
                .order_by(Declaration.month)
            ).all()
        )


def counts(app: App, lot: Lot) -> tuple[int, int]:
    """Receipts queued and declaration history rows of the lot."""
    with app.transaction() as session:
        receipts = session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.kind == "declaration_receipt")
        )
        history = session.scalar(
            select(func.count())
            .select_from(ClauseHistory)
            .where(ClauseHistory.clause_id == lot.clause_id, ClauseHistory.event == "declaration")
        )
    return receipts or 0, history or 0


def test_the_catch_up_template_filled_for_three_months_is_recorded_from_one_link(
    late: tuple[App, Lot], settings: Settings, clock: Clock
) -> None:
    app, lot = late
    call = catch_up_call(app, lot)
    body = squash(call.body_text)
    links = month_links(call.body_text)
    assert list(links) == ["février 2027", "mars 2027", "avril 2027"]
    name, rows, encoding = attached_csv(app, call)
    assert name.endswith("-2027-02-a-2027-04.csv")
    # What the call says of its template and its links, true now.
    assert (
        "Le modèle joint couvre février, mars et avril 2027 : une fois rempli, vous pouvez le "
        "déposer en une fois depuis l'un de ces liens ; chaque mois y sera enregistré à part."
    ) in body
    client = TestClient(create_site(app))
    page = visible(client.get(links["février 2027"]).text)
    assert (
        "rempli pour ce mois ou pour plusieurs des mois encore à déclarer sur ce lot "
        "(février, mars et avril 2027)" in page
    )

    data = filled(rows, encoding, THREE_MONTHS)
    shown = client.post(
        f"{links['février 2027']}/fichier", files={"fichier": ("rempli.csv", data, "text/csv")}
    )

    assert shown.status_code == 200, visible(shown.text)
    text = visible(shown.text)
    assert "Vérifiez vos déclarations de février, mars et avril 2027" in text
    assert "Rien n'a été enregistré" not in text and "ce lien ne permet" not in text
    for month, said in (
        ("Février 2027", "1 participant, 151,67\u00a0h au total"),
        ("Mars 2027", "2 participants, 175\u00a0h au total"),
        ("Avril 2027", "1 participant, 120,50\u00a0h au total"),
    ):
        assert f"{month} {said}" in text
    assert recorded(app, lot) == {}  # shown, not recorded yet

    posted = {**hidden_lines(shown.text), "action": "confirmer"}
    done = client.post(links["février 2027"], data=posted, follow_redirects=False)
    assert done.status_code == 303
    thanks = visible(client.get(done.headers["location"]).text)
    assert "vos déclarations de février, mars et avril 2027 sont enregistrées" in thanks

    assert recorded(app, lot) == {
        FEB: Decimal("151.67"),
        MAR: Decimal("175"),
        APR: Decimal("120.5"),
    }
    assert counts(app, lot) == (3, 3)
    with app.transaction() as session:
        months = dict(session.execute(select(Declaration.id, Declaration.month)).all())
        receipts = {
            months[int(key.split(":")[1])]: squash(body)
            for key, body in session.execute(
                select(OutboxMessage.key, OutboxMessage.body_text).where(
                    OutboxMessage.kind == "declaration_receipt"
                )
            )
        }
        history = session.scalars(
            select(ClauseHistory.reason)
            .where(ClauseHistory.clause_id == lot.clause_id, ClauseHistory.event == "declaration")
            .order_by(ClauseHistory.id)
        ).all()
    assert sorted(receipts) == [FEB, MAR, APR]
    # Each receipt says its month, and none lists as owed a month the same file recorded.
    assert "151,67\u00a0h" in receipts[FEB] and "120,50\u00a0h" in receipts[APR]
    for said in receipts.values():
        assert "Il reste" not in said
        assert "Tous les mois ouverts sont déclarés sur ce lot." in said
    assert [reason.split(" : ")[0] for reason in history] == [
        "déclaration de février 2027 de Bâtiments Test",
        "déclaration de mars 2027 de Bâtiments Test",
        "déclaration d'avril 2027 de Bâtiments Test",
    ]

    # The facilitator's list shows the three months.
    state = CliState()
    state.factory = lambda: bootstrap(settings, clock=clock)
    listed = CliRunner().invoke(
        cli, ["declaration", "list"], obj=state, catch_exceptions=False, env={"COLUMNS": "200"}
    )
    assert listed.exit_code == 0, listed.output
    declared = [line for line in listed.stdout.splitlines() if "Bâtiments Test" in line]
    cells = [[cell.strip() for cell in line.split("│")[1:-1]] for line in declared]
    # Month, company, state, hours, due date (the clause's number depends on the lots made before).
    assert [[c[0], *c[2:]] for c in cells] == [
        ["février 2027", "Bâtiments Test", "déclarée", "151,67\u00a0h", "14/05/2027"],
        ["mars 2027", "Bâtiments Test", "déclarée", "175\u00a0h", "14/05/2027"],
        ["avril 2027", "Bâtiments Test", "déclarée", "120,50\u00a0h", "14/05/2027"],
    ], listed.stdout

    # The same file sent again, from the March link this time: nothing recorded, nothing sent.
    again = client.post(
        f"{links['mars 2027']}/fichier", files={"fichier": ("rempli.csv", data, "text/csv")}
    )
    assert again.status_code == 200, visible(again.text)
    assert (
        "Elle est identique à la déclaration déjà enregistrée pour mars 2027\u00a0: rien ne changera "
        "pour ce mois." in visible(again.text)
    )
    client.post(links["mars 2027"], data={**hidden_lines(again.text), "action": "confirmer"})
    assert counts(app, lot) == (3, 3)
    assert recorded(app, lot)[MAR] == Decimal("175")


def test_a_line_of_another_company_or_of_a_month_not_asked_refuses_the_whole_file(
    late: tuple[App, Lot],
) -> None:
    app, lot = late
    call = catch_up_call(app, lot)
    links = month_links(call.body_text)
    _, rows, encoding = attached_csv(app, call)
    client = TestClient(create_site(app))

    # Line 5 (March's first line) carries the other company's SIRET.
    foreign = [list(row) for row in rows]
    foreign[4][foreign[0].index("SIRET")] = "552 100 554 00013"
    refused = client.post(
        f"{links['février 2027']}/fichier",
        files={"fichier": ("rempli.csv", filled(foreign, encoding, THREE_MONTHS), "text/csv")},
    )
    assert refused.status_code == 422
    text = visible(refused.text)
    assert (
        "rempli.csv, ligne 5, colonne «\u00a0SIRET\u00a0» : ce SIRET n'est pas celui de votre entreprise : "
        "cette ligne déclare le mois de mars 2027 d'une autre entreprise. Ce lien permet de "
        "déclarer : février, mars et avril 2027, pour votre entreprise sur ce lot." in text
    )
    assert "Rien n'a été enregistré." in text

    # May is not over: a line of May refuses the file, the three months with it.
    mayday = [*(list(row) for row in rows), list(rows[-1])]
    mayday[-1][rows[0].index("Mois")] = "05/2027"
    later = client.post(
        f"{links['février 2027']}/fichier",
        files={
            "fichier": (
                "rempli.csv",
                filled(mayday, encoding, {**THREE_MONTHS, "05/2027": [("P-CU-1", "10")]}),
                "text/csv",
            )
        },
    )
    assert later.status_code == 422
    assert "mai 2027" in visible(later.text)

    # A month posted back that the link set does not cover (an altered confirmation page):
    # January precedes the lot's start; nothing is recorded for any month.
    data = filled(rows, encoding, THREE_MONTHS)
    shown = client.post(
        f"{links['février 2027']}/fichier", files={"fichier": ("rempli.csv", data, "text/csv")}
    )
    posted = hidden_lines(shown.text)
    posted["month"] = ["2027-01-01", *posted["month"][1:]]
    altered = client.post(links["février 2027"], data={**posted, "action": "confirmer"})
    assert altered.status_code == 422
    assert (
        "ce fichier déclare le mois de janvier 2027 de Bâtiments Test ; ce lien permet de "
        "déclarer : février, mars et avril 2027, pour votre entreprise sur ce lot."
        in visible(altered.text)
    )
    assert recorded(app, lot) == {}
    assert counts(app, lot) == (0, 0)
