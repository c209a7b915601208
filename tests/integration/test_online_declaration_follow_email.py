"""A company that follows its email: it reads it, takes one of its links, sends the attached
template filled for several months, and reads what the page says was recorded.

The emails are those the real passes queued; the pages are the real ASGI application over the
real App, on SQLite and PostgreSQL. Four readings:

- the welcome of a lot started late lists three links and attaches a template covering the three
  months: it says the template is sent once, from any of these links, and it is;
- a month the company declared already (not validated) that the catch-up template sends again
  with other hours is corrected, and the page says which months are declared for the first time
  and which one is corrected (its earlier declaration replaced), before and after confirming;
- a month the facilitator validated refuses the whole file, the month named, when the file is
  read and when the confirmation is posted after a validation made meanwhile: nothing recorded;
- the email of months asked again after a corrected end (no template attached) says that a
  table filled for several of its months is sent once from one of its links, without claiming
  an attachment, and such a table sent from one link is recorded.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from urllib.parse import urlparse

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration import test_award_during_works_g as during
from tests.integration._ladders import Lot, declare, make_lot
from tests.integration.test_end_date_correction import correct, run_cli
from tests.integration.test_end_date_correction import paris as paris_end
from tests.integration.test_online_declaration_catch_up import (
    APR,
    FEB,
    MAR,
    THREE_MONTHS,
    attached_csv,
    catch_up_call,
    counts,
    filled,
    hidden_lines,
    late,  # noqa: F401 (the fixture: a lot started in February, recorded in May)
    month_links,
    recorded,
)
from tests.text import squash, visible
from workflow.adapters.orm import Declaration, OutboxAttachment, OutboxMessage
from workflow.bootstrap import App, bootstrap
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.entrypoints.web.site import create_site
from workflow.services.ticks import simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

NBSP = "\u00a0"
SEP, OCT, NOV = date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)


def welcome_of(app: App, lot: Lot) -> OutboxMessage:
    """The holder's welcome, as it leaves: queued at the award, written again for the lot
    started since (``notices.rewrite_welcomes_at_start``)."""
    with app.transaction() as session:
        [welcome] = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.kind == "company_welcome",
                OutboxMessage.key.startswith(f"welcome:{lot.clause_id}:{lot.company_ids[0]}:"),
                OutboxMessage.state != "cancelled",
            )
        ).all()
        session.expunge(welcome)
    return welcome


def validate(settings: Settings, clock: Clock, lot: Lot, month: str) -> None:
    """The facilitator validates a month of the holder (« clauses declaration validate »)."""
    state = CliState()
    state.factory = lambda: bootstrap(settings, clock=clock)
    result = CliRunner().invoke(
        cli,
        [
            *("declaration", "validate", "--clause", str(lot.clause_id)),
            *("--company", "Bâtiments Test", "--month", month),
        ],
        obj=state,
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output


def test_the_welcome_says_its_template_goes_once_from_any_link_and_it_does(
    late: tuple[App, Lot],  # noqa: F811
) -> None:
    app, lot = late
    welcome = welcome_of(app, lot)
    links = month_links(welcome.body_text)
    assert list(links) == ["février 2027", "mars 2027", "avril 2027"]
    name, rows, encoding = attached_csv(app, welcome)
    assert name.endswith("-2027-02-a-2027-04.csv")
    sentence = (
        "Le modèle joint couvre février, mars et avril 2027 : une fois rempli, vous pouvez le "
        "déposer en une fois depuis l'un de ces liens ; chaque mois y sera enregistré à part."
    )
    assert sentence in squash(welcome.body_text)
    assert sentence.replace(" :", f"{NBSP}:").replace(" ;", f"{NBSP};") in visible(
        welcome.body_html
    )

    # The company takes April's link, the last one, and sends the welcome's template filled.
    client = TestClient(create_site(app))
    data = filled(rows, encoding, THREE_MONTHS)
    shown = client.post(
        f"{links['avril 2027']}/fichier", files={"fichier": (name, data, "text/csv")}
    )
    assert shown.status_code == 200, visible(shown.text)
    assert "Vérifiez vos déclarations de février, mars et avril 2027" in visible(shown.text)
    done = client.post(
        links["avril 2027"], data={**hidden_lines(shown.text), "action": "confirmer"}
    )
    assert done.status_code == 200, visible(done.text)
    assert "vos déclarations de février, mars et avril 2027 sont enregistrées" in visible(done.text)
    assert recorded(app, lot) == {
        FEB: Decimal("151.67"),
        MAR: Decimal("175"),
        APR: Decimal("120.5"),
    }


def test_a_month_sent_before_is_said_corrected_before_and_after_confirming(
    late: tuple[App, Lot],  # noqa: F811
) -> None:
    app, lot = late
    call = catch_up_call(app, lot)
    links = month_links(call.body_text)
    _, rows, encoding = attached_csv(app, call)
    client = TestClient(create_site(app))

    # March first, from its own link, with the call's template filled for March only.
    march_only = filled(rows, encoding, {"03/2027": [("P-CU-1", "100")]})
    shown = client.post(
        f"{links['mars 2027']}/fichier", files={"fichier": ("mars.csv", march_only, "text/csv")}
    )
    assert shown.status_code == 200, visible(shown.text)
    client.post(links["mars 2027"], data={**hidden_lines(shown.text), "action": "confirmer"})
    assert recorded(app, lot) == {MAR: Decimal("100")}
    assert counts(app, lot) == (1, 1)

    # February's page says what a file sent from it does to a month declared already.
    page = visible(client.get(links["février 2027"]).text)
    assert (
        "Un mois que vous aviez déjà déclaré est corrigé par le fichier (sa déclaration "
        "remplacée)\u00a0; si l'un d'eux a déjà été validé par la facilitatrice, le fichier est "
        "refusé en entier\u00a0: retirez-en les lignes de ce mois." in page
    ), page

    # Then the three months from February's link, March with other hours (140 + 35).
    data = filled(rows, encoding, THREE_MONTHS)
    shown = client.post(
        f"{links['février 2027']}/fichier", files={"fichier": ("rempli.csv", data, "text/csv")}
    )
    assert shown.status_code == 200, visible(shown.text)
    text = visible(shown.text)
    assert "Février et avril 2027 seront déclarés pour la première fois." in text
    # What March holds now and what the file puts in its place, before anything is written.
    assert (
        f"Mars 2027 sera corrigé{NBSP}: cette déclaration (175{NBSP}h, 2 personnes) remplacera "
        f"celle que vous aviez envoyée le 5 mai 2027 (100{NBSP}h, 1 personne)." in text
    ), text
    assert recorded(app, lot) == {MAR: Decimal("100")}  # shown, nothing written

    done = client.post(
        links["février 2027"], data={**hidden_lines(shown.text), "action": "confirmer"}
    )
    assert done.status_code == 200, visible(done.text)
    thanks = visible(done.text)
    assert "vos déclarations de février, mars et avril 2027 sont enregistrées" in thanks
    assert "Février et avril 2027 sont déclarés pour la première fois." in thanks
    assert (
        f"Mars 2027 est corrigé{NBSP}: votre nouvelle déclaration remplace celle que vous aviez "
        "envoyée." in thanks
    ), thanks
    assert "Un accusé de réception part par courriel pour chaque mois déclaré ou corrigé" in thanks
    assert recorded(app, lot) == {
        FEB: Decimal("151.67"),
        MAR: Decimal("175"),
        APR: Decimal("120.5"),
    }
    assert counts(app, lot) == (4, 4)  # March's correction has its receipt and history row

    # The same file again from April's link: nothing changes, and the page says so.
    again = client.post(
        f"{links['avril 2027']}/fichier", files={"fichier": ("rempli.csv", data, "text/csv")}
    )
    assert (
        f"Février, mars et avril 2027 sont déjà enregistrés à l'identique{NBSP}: rien ne "
        "changera pour ces mois." in visible(again.text)
    ), visible(again.text)
    same = client.post(
        links["avril 2027"], data={**hidden_lines(again.text), "action": "confirmer"}
    )
    said = visible(same.text)
    assert (
        f"Février, mars et avril 2027 étaient déjà enregistrés à l'identique{NBSP}: rien n'a "
        "changé pour ces mois." in said
    ), said
    assert "Un accusé de réception part" not in said
    assert counts(app, lot) == (4, 4)


def test_a_month_the_facilitator_validated_refuses_the_whole_file_naming_it(
    late: tuple[App, Lot],  # noqa: F811
    settings: Settings,
    clock: Clock,
) -> None:
    app, lot = late
    call = catch_up_call(app, lot)
    links = month_links(call.body_text)
    _, rows, encoding = attached_csv(app, call)
    client = TestClient(create_site(app))
    march_only = filled(rows, encoding, {"03/2027": [("P-CU-1", "100")]})
    shown = client.post(
        f"{links['mars 2027']}/fichier", files={"fichier": ("mars.csv", march_only, "text/csv")}
    )
    client.post(links["mars 2027"], data={**hidden_lines(shown.text), "action": "confirmer"})
    validate(settings, clock, lot, "03/2027")
    before = counts(app, lot)

    data = filled(rows, encoding, THREE_MONTHS)
    refused = client.post(
        f"{links['février 2027']}/fichier", files={"fichier": ("rempli.csv", data, "text/csv")}
    )
    assert refused.status_code == 422
    text = visible(refused.text)
    assert (
        "rempli.csv, ligne 5 : ce fichier déclare le mois de mars 2027, dont la déclaration a "
        "déjà été validée le 5 mai 2027 par Camille Martin : elle ne peut plus être modifiée ici, "
        "et rien n'a été enregistré pour les autres mois du fichier. Retirez les lignes de mars "
        "2027 du fichier, puis envoyez-le à nouveau ; une erreur en mars 2027 ? Écrivez à la "
        "facilitatrice, qui la corrigera." in text
    ), text
    assert "Rien n'a été enregistré." in text
    assert recorded(app, lot) == {MAR: Decimal("100")}

    # Without March's lines, the other two months go through.
    without = filled(rows, encoding, {k: v for k, v in THREE_MONTHS.items() if k != "03/2027"})
    shown = client.post(
        f"{links['février 2027']}/fichier", files={"fichier": ("rempli.csv", without, "text/csv")}
    )
    assert shown.status_code == 200, visible(shown.text)
    assert "Vérifiez vos déclarations de février et avril 2027" in visible(shown.text)
    assert counts(app, lot) == before


def test_a_validation_made_between_reading_and_confirming_refuses_every_month(
    late: tuple[App, Lot],  # noqa: F811
    settings: Settings,
    clock: Clock,
) -> None:
    app, lot = late
    call = catch_up_call(app, lot)
    links = month_links(call.body_text)
    _, rows, encoding = attached_csv(app, call)
    client = TestClient(create_site(app))
    march_only = filled(rows, encoding, {"03/2027": [("P-CU-1", "100")]})
    shown = client.post(
        f"{links['mars 2027']}/fichier", files={"fichier": ("mars.csv", march_only, "text/csv")}
    )
    client.post(links["mars 2027"], data={**hidden_lines(shown.text), "action": "confirmer"})
    data = filled(rows, encoding, THREE_MONTHS)
    shown = client.post(
        f"{links['février 2027']}/fichier", files={"fichier": ("rempli.csv", data, "text/csv")}
    )
    assert "Mars 2027 sera corrigé" in visible(shown.text)
    before = counts(app, lot)

    validate(settings, clock, lot, "03/2027")  # while the company reads its page
    done = client.post(
        links["février 2027"], data={**hidden_lines(shown.text), "action": "confirmer"}
    )

    assert done.status_code == 422
    text = visible(done.text)
    assert (
        "ce fichier déclare le mois de mars 2027, dont la déclaration a déjà été validée le "
        "5 mai 2027 par Camille Martin : elle ne peut plus être modifiée ici" in text
    ), text
    assert "Rien n'a été enregistré." in text
    assert recorded(app, lot) == {MAR: Decimal("100")}
    assert counts(app, lot) == before


def test_months_asked_again_say_a_table_for_several_goes_once_and_it_does(
    app: App, settings: Settings, clock: Clock
) -> None:
    """October and November called together on 2 December, released by an end typed 30/09 for
    30/11, then asked again: the email asking them again carries a link for each and no
    template; the company fills the call's template for both and sends it from November's."""
    lot = make_lot(app, start=SEP, end=date(2027, 3, 31), at=paris_end(date(2026, 12, 1), 10))
    declare(app, lot, SEP, paris_end(date(2026, 12, 1), 11))
    simulate(app, date(2026, 12, 1), date(2026, 12, 2))
    day = date(2026, 12, 3)
    code, said = run_cli(settings, clock, paris_end(day, 10), "clause", "advance",
                         str(lot.clause_id), "achever", "--end-date", "30/09/2026")  # fmt: skip
    assert code == 0, said
    correct(settings, clock, lot, paris_end(day, 11), "30/11/2026")
    again = only(app, "company_months_owed_again")
    call = only(app, "declaration_call")
    assert attachments(app, again) == []

    text = squash(again.body_text)
    assert "Le modèle joint" not in text  # nothing is attached to it: not said
    assert (
        "Un tableau rempli pour plusieurs de ces mois (le modèle joint à mon appel, par exemple) "
        "se dépose en une fois depuis l'un de ces liens ; chaque mois y sera enregistré à part."
        in text
    ), text
    links = links_of(again.body_text, 2026)
    assert list(links) == ["octobre 2026", "novembre 2026"]

    # The call's template, filled for both months, sent from November's link.
    _, rows, encoding = attached_csv(app, call)
    data = filled(rows, encoding, {"10/2026": [("P-OA-1", "70")], "11/2026": [("P-OA-1", "80")]})
    client = TestClient(create_site(app))
    shown = client.post(
        f"{links['novembre 2026']}/fichier", files={"fichier": ("rempli.csv", data, "text/csv")}
    )
    assert shown.status_code == 200, visible(shown.text)
    assert "Vérifiez vos déclarations d'octobre et novembre 2026" in visible(shown.text)
    done = client.post(
        links["novembre 2026"], data={**hidden_lines(shown.text), "action": "confirmer"}
    )
    assert done.status_code == 200, visible(done.text)
    assert "vos déclarations d'octobre et novembre 2026 sont enregistrées" in visible(done.text)
    assert {m: h for m, h in recorded(app, lot).items() if m != SEP} == {
        OCT: Decimal("70"),
        NOV: Decimal("80"),
    }


def test_a_company_joining_the_works_sends_its_welcome_template_at_once_from_one_link(
    app: App, clock: Clock
) -> None:
    """A subcontractor added on 16 November, declaring from September: its welcome links
    September and October and attaches their template, before any pass armed their ladders;
    the template filled for both goes from September's link the same day."""
    lot = during.started_lot(app)
    during.passes(app, date(2026, 10, 1), date(2026, 11, 2))
    sub = during.newcomer(app)
    at = during.paris(date(2026, 11, 16), 10)
    clock.set(at)
    parties = [*during.parties_of(app, lot), during.subcontractor(sub)]
    during.correct(app, lot, parties, at, joining_from=SEP)
    assert during.ladder_months(app, lot, sub) == []  # no pass since
    [welcome] = [
        message
        for message in every(app, "company_welcome")
        if message.key.startswith(f"welcome:{lot.clause_id}:{sub}:")
    ]
    assert (
        "Le modèle joint couvre septembre et octobre 2026 : une fois rempli, vous pouvez le "
        "déposer en une fois depuis l'un de ces liens ; chaque mois y sera enregistré à part."
    ) in squash(welcome.body_text)
    links = links_of(welcome.body_text, 2026)
    assert list(links) == ["septembre 2026", "octobre 2026"]
    name, rows, encoding = attached_csv(app, welcome)
    data = filled(rows, encoding, {"09/2026": [("P-JN-1", "35")], "10/2026": [("P-JN-1", "42")]})

    client = TestClient(create_site(app))
    shown = client.post(
        f"{links['septembre 2026']}/fichier", files={"fichier": (name, data, "text/csv")}
    )

    assert shown.status_code == 200, visible(shown.text)
    assert "Vérifiez vos déclarations de septembre et octobre 2026" in visible(shown.text)
    done = client.post(
        links["septembre 2026"], data={**hidden_lines(shown.text), "action": "confirmer"}
    )
    assert done.status_code == 200, visible(done.text)
    assert "vos déclarations de septembre et octobre 2026 sont enregistrées" in visible(done.text)
    with app.transaction() as session:
        declared = dict(
            session.execute(
                select(Declaration.month, Declaration.total_hours).where(
                    Declaration.clause_id == lot.clause_id, Declaration.company_id == sub
                )
            ).all()
        )
    assert declared == {SEP: Decimal("35"), OCT: Decimal("42")}


def every(app: App, kind: str) -> list[OutboxMessage]:
    with app.transaction() as session:
        found = list(
            session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
            )
        )
        for message in found:
            session.expunge(message)
    return found


def only(app: App, kind: str) -> OutboxMessage:
    [message] = every(app, kind)
    return message


def attachments(app: App, message: OutboxMessage) -> list[str]:
    with app.transaction() as session:
        return list(
            session.scalars(
                select(OutboxAttachment.filename).where(OutboxAttachment.outbox_id == message.id)
            )
        )


def links_of(body: str, year: int) -> dict[str, str]:
    """The path of each month's link of an email, by the month's name (« octobre 2026 »)."""
    return {
        month: urlparse(url).path
        for month, url in re.findall(rf"- (\w+ {year}) : (https?://\S+/declarer/\S+)", body)
    }
