"""Four more readers that dated a month its suspended lot had not called (user trial).

The trial's lot (``test_suspension_dates_told``): started 1 September 2026, September called on
1 October at 09:00, due 12 October. ``notices.owed_due_dates`` gives a month its suspended lot
has not called no date (« à la reprise »), but:

- ``clauses declaration cancel`` of the holder's September, declared on 30 September (before
  the call, which its ladder then passed), the lot suspended on 2 October: « l'appel part le
  mardi 6 octobre 2026 à 09:00 », a call the suspension holds back; a month called and
  cancelled while suspended: « rappel n° 1, le lundi 19 octobre 2026 à 09:00 », the same;
- the lot's calendar page (« Relances en cours ») gave that ladder « jeudi 15 octobre 2026 »
  and « appel à déclaration, mardi 6 octobre 2026 à 09:00 », a date nobody was given;
- the clause page's sentence « 2 déclarations attendues : 0 reçue avec des heures, 0 à zéro
  heure, 0 à déclarer (échéance à venir), 0 en retard » left out the two « appel à venir »
  rows below it;
- the page of September, declared before the call and the lot suspended since, read « À
  déclarer au plus tard le lundi 12 octobre 2026 ».
"""

from __future__ import annotations

import json
import re
from datetime import date
from html import unescape
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient

from tests.integration._ladders import Lot
from tests.integration.test_company_left_site import GONE, HOLDER, SEP, _cli, local
from tests.integration.test_dashboard import PASSWORD, sign_in
from tests.integration.test_suspension_cancel_and_clause_page import DECLARE_SEPTEMBER_EARLY
from tests.integration.test_suspension_dates_told import SUSPEND_BEFORE_CALL, _run
from tests.integration.test_web_finish_released import read
from tests.text import squash
from workflow.adapters.orm import Clause
from workflow.app import web_accounts
from workflow.bootstrap import App
from workflow.emails.phrases import french_day
from workflow.entrypoints.web.site import create_site
from workflow.services.declaration_links import month_links
from workflow.services.notices import owed_due_dates

pytestmark = pytest.mark.scenario

NBSP = "\u00a0"
#: Suspended the morning after the September call's pass (1 October, 09:00), which opened the
#: holder's ladder already declared and called the co-contractor (due 12 October).
SUSPEND_AFTER_CALL = (date(2026, 10, 2), 10, "suspendre", SUSPEND_BEFORE_CALL[3])
#: The co-contractor declares September once called, before the suspension.
GONE_DECLARES_SEPTEMBER = (date(2026, 10, 1), 14, "declare 09 gone", ())
RESUME = (
    date(2026, 10, 19),
    10,
    "reprendre",
    ("clause", "advance", "{lot}", "reprendre", "--reason", "Reprise des travaux"),
)


def _cancel(app: App, lot: Lot, company: str, *extra: str) -> str:
    """``clauses declaration cancel`` of ``company``'s September, on 5 October at 16:00."""
    return squash(
        _cli(
            app,
            local(app, date(2026, 10, 5), 16),
            "declaration",
            "cancel",
            "--clause",
            str(lot.clause_id),
            "--company",
            company,
            "--month",
            "09/2026",
            "--reason",
            "Heures saisies sur le mauvais lot",
            *extra,
        )
    )


def _signed_in(app: App, day: date, hour: int) -> TestClient:
    at = local(app, day, hour)
    app.clock = lambda: at
    client = TestClient(create_site(app))
    web_accounts.add_user(app, login="camille", name="Camille Martin", password=PASSWORD)
    sign_in(client)
    return client


def _rows(html: str, caption: str) -> list[list[str]]:
    """The cells of each body row of the table that follows ``caption`` on the page."""
    table = html[html.index(caption) :]
    body = table[table.index("<tbody>") : table.index("</tbody>")]
    return [
        [
            squash(unescape(re.sub(r"<[^>]+>", "", cell)))
            for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


# --- 1. clauses declaration cancel -----------------------------------------------------------


def test_cancel_says_a_month_never_called_is_asked_at_the_resumption(app: App) -> None:
    lot = _run(app, [DECLARE_SEPTEMBER_EARLY, SUSPEND_AFTER_CALL], date(2026, 10, 5))
    said = _cancel(app, lot, HOLDER)
    assert (
        "Le mois est de nouveau attendu ; le chantier étant suspendu, aucun appel à déclarer "
        "n'était parti pour lui : il sera demandé à l'entreprise à la reprise du chantier, avec "
        "sa date limite, et ses relances suivront."
    ) in said, said
    # Never the time the ladder planned its call for: the suspension holds it back.
    assert "l'appel part" not in said and "6 octobre" not in said, said
    assert "que ce mois lui sera demandé à la reprise du chantier" in said, said


def test_cancel_as_json_gives_no_date_to_a_month_asked_at_the_resumption(app: App) -> None:
    lot = _run(app, [DECLARE_SEPTEMBER_EARLY, SUSPEND_AFTER_CALL], date(2026, 10, 5))
    data = json.loads(_cancel(app, lot, HOLDER, "--json"))
    ladder = data["relances"]
    assert ladder["a_la_reprise"] is True, data
    assert ladder["etape"] is None and ladder["date"] is None, data
    assert ladder["echeance"] is None, data


def test_cancel_without_a_ladder_on_a_suspended_lot_says_the_resumption_too(app: App) -> None:
    # Suspended before the call's pass: no ladder was opened for the month.
    lot = _run(app, [DECLARE_SEPTEMBER_EARLY, SUSPEND_BEFORE_CALL], date(2026, 10, 5))
    said = _cancel(app, lot, HOLDER)
    assert "il sera demandé à l'entreprise à la reprise du chantier" in said, said
    assert "ses relances n'avaient pas commencé" not in said, said


def test_cancel_of_a_called_month_on_a_suspended_lot_dates_no_reminder(app: App) -> None:
    lot = _run(app, [GONE_DECLARES_SEPTEMBER, SUSPEND_AFTER_CALL], date(2026, 10, 5))
    said = _cancel(app, lot, GONE)
    assert (
        "Le mois est de nouveau attendu ; le chantier étant suspendu, aucune relance ne part "
        "pendant la suspension ; à la reprise du chantier, ses relances reprendront où elles en "
        "étaient : rappel n° 1."
    ) in said, said
    assert "19 octobre" not in said and "le lundi" not in said, said
    # Its call left: the company knows its date, and is told it again.
    assert "la date à laquelle déclarer de nouveau ce mois" in said, said


# --- 2. the calendar page's running ladders --------------------------------------------------


def test_the_calendar_page_gives_no_date_to_a_call_held_by_the_suspension(app: App) -> None:
    lot = _run(app, [DECLARE_SEPTEMBER_EARLY, SUSPEND_AFTER_CALL], date(2026, 10, 5))
    _cancel(app, lot, HOLDER)
    client = _signed_in(app, date(2026, 10, 5), 17)
    page = client.get(f"/corrections/lots/{lot.clause_id}")
    assert page.status_code == 200, page.text
    rows = _rows(page.text, "Relances en cours")
    assert [
        "septembre 2026",
        HOLDER,
        "à la reprise",
        "appel à déclaration, à la reprise du chantier",
    ] in rows, rows
    # The co-contractor was called on 1 October: the date its call gave, as the emails date it.
    with app.transaction() as session:
        clause = session.get_one(Clause, lot.clause_id)
        told = owed_due_dates(session, clause, lot.company_ids[1], app.settings, app.clock())
    (gone,) = [row for row in rows if row[1] == GONE]
    assert told[SEP] is not None and gone[2] == french_day(told[SEP]), gone
    # Its next reminder does not leave while the lot is suspended: no time that would pass
    # without it (« rappel n° 1, jeudi 15 octobre 2026 à 09:00 » before).
    assert gone[3] == "rappel n° 1, après la reprise du chantier (lot suspendu)", gone
    text = read(page.text)
    assert "15 octobre 2026" not in text, text
    assert "6 octobre 2026" not in text, text


# --- 3. the clause page's sentence -----------------------------------------------------------


def test_the_clause_page_counts_and_names_the_calls_held_by_the_suspension(app: App) -> None:
    lot = _run(app, [SUSPEND_BEFORE_CALL], date(2026, 10, 19))
    client = _signed_in(app, date(2026, 10, 19), 14)
    text = read(client.get(f"/clauses/{lot.clause_id}").text)
    assert (
        f"2 déclarations attendues{NBSP}: 0 reçue avec des heures, 0 à zéro heure, 2 pas encore "
        f"demandées (appel à venir{NBSP}: septembre 2026, à la reprise du chantier), 0 à déclarer "
        "(échéance à venir), 0 en retard."
    ) in text, text
    for company in (HOLDER, GONE):
        assert f"septembre 2026 {company} appel à venir – à la reprise" in text, text


def test_the_clause_page_names_a_call_to_come_with_the_date_it_gives(app: App) -> None:
    # Resumed on 19 October after the day's pass: September is called at the next one.
    lot = _run(app, [SUSPEND_BEFORE_CALL, RESUME], date(2026, 10, 19))
    client = _signed_in(app, date(2026, 10, 19), 14)
    html = client.get(f"/clauses/{lot.clause_id}").text
    text = read(html)
    found = re.search(r"pas encore demandées \(appel à venir\xa0: septembre 2026, ([^)]*)\)", text)
    assert found is not None, text
    # The date its rows give, the one the call will give.
    rows = _rows(html, "Déclarations attendues")
    dues = {row[-1] for row in rows if "appel à venir" in row[2]}
    assert len(dues) == 1 and "reprise" not in found.group(1), (dues, found.group(1))
    (due,) = dues
    assert found.group(1) == f"échéance le {due}", (found.group(1), rows)


# --- 4. the page of a month declared, its lot suspended --------------------------------------


def _month_page(app: App, lot: Lot, company: int, day: date) -> str:
    at = local(app, day, 15)
    app.clock = lambda: at
    with app.transaction() as session:
        (link,) = month_links(
            session, app.settings, lot.clause_id, lot.company_ids[company], [SEP], at
        )
    page = TestClient(create_site(app)).get(urlparse(link.url).path)
    assert page.status_code == 200, page.text
    return read(page.text)


def test_a_month_declared_before_its_call_shows_no_due_date_while_suspended(app: App) -> None:
    lot = _run(app, [DECLARE_SEPTEMBER_EARLY, SUSPEND_BEFORE_CALL], date(2026, 10, 5))
    text = _month_page(app, lot, 0, date(2026, 10, 5))
    assert (
        f"Date limiteaucune{NBSP}: vous avez déjà déclaré ce mois, qui ne vous a pas été "
        "demandé (le lot est suspendu)."
    ) in text, text
    assert "12 octobre 2026" not in text and "au plus tard" not in text, text
    assert "pas encore été demandé" not in text, text


def test_a_declared_month_shows_only_the_date_its_call_gave_while_suspended(app: App) -> None:
    # The pass of 1 October opened the holder's ladder already declared (no call left) and
    # called the co-contractor, which declared that afternoon; suspended the next day.
    lot = _run(
        app,
        [DECLARE_SEPTEMBER_EARLY, GONE_DECLARES_SEPTEMBER, SUSPEND_AFTER_CALL],
        date(2026, 10, 5),
    )
    holder = _month_page(app, lot, 0, date(2026, 10, 5))
    assert (
        f"Date limiteaucune{NBSP}: vous avez déjà déclaré ce mois, qui ne vous a pas été "
        "demandé (le lot est suspendu)."
    ) in holder, holder
    assert "12 octobre 2026" not in holder and "au plus tard" not in holder, holder
    # Called on 1 October: it keeps a date (its call's, ``held_due`` pushing it by the days
    # suspended since, which this test leaves to ``test_suspension_dates_told``).
    gone = _month_page(app, lot, 1, date(2026, 10, 5))
    assert re.search(r"À déclarer au plus tard le\w+ \d+ octobre 2026", gone), gone
    assert "Date limite" not in gone, gone
