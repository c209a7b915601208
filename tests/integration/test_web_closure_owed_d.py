"""A lot's page warns of the declarations still owed before the final report and the closure,
and the page a closure leads to names those it no longer asks, as ``clause report`` and
``clause advance … clôturer`` print them.

A lot of two companies, finished on 30 April 2026: Bâtiments Test never declared March nor
April, Électricité Nord declared March only. Before the report is recorded, its form says the
report and the buyer's email will leave those months out; before the closure, its form says it
will stop asking them. Closed from the page, the confirmation names, by company and lot, the
months no longer asked; an address kept or typed names only months the lot's calendar shows no
longer asked. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Clock, make_settings
from tests.integration._ladders import Lot, declare, make_lot
from tests.integration.test_dashboard import PASSWORD, sign_in
from tests.text import squash, visible
from workflow.app import clauses as clause_app
from workflow.app import web_accounts
from workflow.bootstrap import App, bootstrap
from workflow.domain.stages import ClauseEvent
from workflow.entrypoints.web.site import create_site
from workflow.settings import Settings

N = "\u00a0"  # the no-break space French typography puts before « : ; » and inside « »
HOLDER, OTHER = "Bâtiments Test", "Électricité Nord"
MARCH = date(2026, 3, 1)
OWED = f"{HOLDER} (lot 1){N}: mars et avril 2026 {OTHER} (lot 1){N}: avril 2026"
TO_RECORD = (
    f"Tant qu'elle n'est pas clôturée, vous pouvez encore les enregistrer (page «{N}Importer un "
    f"tableau{N}», ou «{N}Enregistrer un mois sans heure{N}» depuis le tableau de bord), puis "
    "enregistrer à nouveau le bilan."
)
BEFORE_REPORT = (
    f"Attention{N}: 3 déclarations mensuelles n'ont pas été reçues{N}; le bilan et le courriel "
    f"envoyé au donneur d'ordre donneront un total sans leurs heures, et nommeront ces mois{N}: "
    f"{OWED} Clôturer la clause arrêtera de les demander (rappels annulés, chaque entreprise "
    f"prévenue){N}: leurs heures ne seront alors comptées nulle part. {TO_RECORD}"
)
BEFORE_CLOSURE = (
    f"Attention{N}: 3 déclarations mensuelles n'ont pas été reçues{N}: {OWED} Clôturer la "
    f"clause arrêtera de les demander{N}: leurs rappels et alertes seront arrêtés, les "
    "courriels qui les demandent encore retirés, et chaque entreprise appelée pour l'un d'eux "
    "en sera prévenue par courriel. Leurs heures ne seront comptées ni dans le bilan ni dans "
    f"aucun total. {TO_RECORD}"
)
CLOSED = f"Clause passée à l'étape «{N}clôturée{N}» ; l'historique le garde à votre nom."
NO_LONGER_ASKED = (
    f"Ces mois ne sont plus demandés{N}: leurs rappels et alertes sont arrêtés, les courriels "
    "qui les demandaient encore sont retirés, et chaque entreprise appelée pour l'un d'eux en "
    "est prévenue par courriel. Leurs heures ne sont comptées ni dans le bilan ni dans aucun "
    "total."
)
AFTER_CLOSURE = f"{CLOSED} Déclarations plus demandées{N}: {OWED} {NO_LONGER_ASKED}"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


@pytest.fixture
def app(settings: Settings, clock: Clock) -> Iterator[App]:
    # No notice handlers: what is told here is the page, not the emails (tested elsewhere).
    application = bootstrap(settings, clock=clock, handlers={})
    yield application
    application.close()


def a_lot_finished_with_months_owed(app: App, clock: Clock) -> Lot:
    lot = make_lot(
        app,
        start=date(2026, 3, 2),
        end=date(2026, 12, 31),
        companies=(HOLDER, OTHER),
        at=datetime(2026, 3, 2, 9, tzinfo=UTC),
    )
    declare(app, lot, MARCH, datetime(2026, 4, 2, 9, tzinfo=UTC), company=1)
    clock.set(datetime(2026, 5, 11, 9, tzinfo=UTC))
    clause_app.advance_clause(app, lot.clause_id, ClauseEvent.FINISH, end_date=date(2026, 4, 30))
    return lot


def site(app: App) -> tuple[TestClient, str]:
    web_accounts.add_user(app, login="camille", name="Camille Martin", password=PASSWORD)
    client = TestClient(create_site(app))
    return client, sign_in(client)


def read(html: str) -> str:
    """``html`` as read: a paragraph or an item of a list apart, a link or a bold inside a
    sentence adding no space; entities read, one line."""
    spaced = re.sub(r"</?(p|ul|li|div)\b[^>]*>", " ", html)
    return squash(unescape(re.sub(r"<[^>]+>", "", spaced)))


def section(page: str, anchor: str) -> str:
    """The text read in the block whose id is ``anchor``, empty when the page has none."""
    found = re.search(rf'<div class="notice" id="{anchor}">(.*?)</div>', page, re.S)
    return read(found.group(1)) if found else ""


def message(page: str) -> str:
    found = re.search(r'<div class="success" role="status" id="message">(.*?)</div>', page, re.S)
    assert found is not None, visible(page)
    return read(found.group(1))


def test_the_page_warns_before_the_report_and_the_closure_then_names_what_is_no_longer_asked(
    app: App, clock: Clock
) -> None:
    lot = a_lot_finished_with_months_owed(app, clock)
    client, csrf = site(app)

    before = client.get(f"/clauses/{lot.clause_id}").text
    assert section(before, "bilan-attention") == BEFORE_REPORT, section(before, "bilan-attention")
    assert section(before, "cloture-attention") == BEFORE_CLOSURE
    assert 'aria-describedby="bilan-attention"' in before
    assert 'aria-describedby="cloture-attention"' in before

    sent = client.post(
        f"/clauses/{lot.clause_id}/bilan",
        data={"csrf": csrf, "bilan": "Bonne collaboration."},
        follow_redirects=False,
    )
    assert sent.status_code == 303, visible(sent.text)
    closed = client.post(
        f"/clauses/{lot.clause_id}/avancer",
        data={"csrf": csrf, "etape": "follow_up", "motif": ""},
        follow_redirects=False,
    )
    assert closed.status_code == 303, visible(closed.text)
    assert closed.headers["location"].endswith("#message")
    after = client.get(closed.headers["location"]).text

    assert message(after) == AFTER_CLOSURE, message(after)
    # Nothing is owed any more: no warning left.
    assert section(after, "bilan-attention") == section(after, "cloture-attention") == ""


def test_an_address_typed_names_only_months_the_lot_no_longer_asks(app: App, clock: Clock) -> None:
    lot = a_lot_finished_with_months_owed(app, clock)
    clause_app.record_final_report(app, lot.clause_id, "Bilan.")
    clause_app.advance_clause(app, lot.clause_id, ClauseEvent.CLOSE)
    client, _ = site(app)
    holder, other = lot.company_ids

    def said(*values: str) -> str:
        query = "&".join(f"nonrecues={v}" for v in values)
        return message(client.get(f"/clauses/{lot.clause_id}?fait=closed&{query}").text)

    # March was declared by the other company; 999 is no company of the lot; a month that does
    # not read leaves its company out; a company named twice is told once.
    assert said(f"{other}:2026-03", "999:2026-04", f"{holder}:2026-13") == CLOSED
    assert said(f"{other}:2026-03,2026-04", f"{holder}:2026-04", f"{holder}:2026-03") == (
        f"{CLOSED} Déclarations plus demandées{N}: {OTHER} (lot 1){N}: avril 2026 {HOLDER} "
        f"(lot 1){N}: avril 2026 {NO_LONGER_ASKED}"
    )


def test_nothing_owed_no_warning(app: App, clock: Clock) -> None:
    lot = make_lot(
        app,
        start=date(2026, 3, 2),
        end=date(2026, 12, 31),
        companies=(HOLDER,),
        at=datetime(2026, 3, 2, 9, tzinfo=UTC),
    )
    declare(app, lot, MARCH, datetime(2026, 4, 2, 9, tzinfo=UTC))
    clock.set(datetime(2026, 4, 10, 9, tzinfo=UTC))
    clause_app.advance_clause(app, lot.clause_id, ClauseEvent.FINISH, end_date=date(2026, 3, 31))
    client, _ = site(app)

    page = client.get(f"/clauses/{lot.clause_id}").text

    assert "Enregistrer le bilan" in page
    assert section(page, "bilan-attention") == section(page, "cloture-attention") == ""
