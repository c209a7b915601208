"""The board of clauses and a clause's page, over the real ASGI application, on SQLite and
PostgreSQL: behind the login; each stage's count is what ``list_clauses`` gives; the search
finds a lot by SIRET, market reference or company name; a clause's page shows the figures of
``clause_detail`` and ``calculate_hours`` for the same moment, its chart carries the hours
declared; « Avancer à l'étape suivante » leaves the history row ``clause advance`` leaves, with
the signed-in user as actor, and a refusal changes nothing.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.conftest import Clock
from tests.integration.test_dashboard import dashboard_site
from tests.integration.test_declaration_howto import GASCONS, lot_01
from tests.text import visible
from workflow.adapters.orm import Clause, ClauseHistory, Declaration
from workflow.adapters.templates import french_hours
from workflow.app.clauses import calculate_hours, clause_detail, list_clauses
from workflow.bootstrap import App, bootstrap
from workflow.domain.stages import Stage
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.entrypoints.web import board as board_page
from workflow.settings import Settings

PASSWORD = "un mot de passe assez long"


@pytest.fixture
def site(app: App, clock: Clock) -> TestClient:
    """The sample territory called for April, lot 01's holder has declared, Camille's account."""
    return dashboard_site(app, clock)


def sign_in(client: TestClient) -> str:
    """Signs in; the CSRF token of the session's forms (read from the board itself)."""
    page = client.get("/connexion")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    response = client.post(
        "/connexion",
        data={"csrf": token.group(1), "identifiant": "camille", "mot_de_passe": PASSWORD},
        follow_redirects=False,
    )
    assert response.status_code == 303, visible(response.text)
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/clauses").text)
    assert found is not None
    return found.group(1)


def columns(page: str) -> dict[str, tuple[int, list[int]]]:
    """Each stage of the board: its count and the N° of the clauses its cards link to."""
    found = {}
    for part in page.split('<section class="stage"')[1:]:
        head = re.search(r'id="etape-(\w+)">[^<]*<span class="count">\(([\d\u202f]+)\)', part)
        assert head is not None
        count = int(head.group(2).replace("\u202f", ""))
        found[head.group(1)] = (count, [int(i) for i in re.findall(r'href="/clauses/(\d+)"', part)])
    return found


def history_rows(app: App, clause_id: int) -> list[tuple[str, str | None, str, str, str | None]]:
    with app.transaction() as session:
        return [
            (row.event, row.from_stage, row.to_stage, row.actor, row.reason)
            for row in session.scalars(
                select(ClauseHistory)
                .where(ClauseHistory.clause_id == clause_id)
                .order_by(ClauseHistory.id)
            )
        ]


def test_the_board_and_the_clause_pages_are_behind_the_login(app: App, site: TestClient) -> None:
    clause_id, _, _ = lot_01(app)
    for page in ("/clauses", f"/clauses/{clause_id}", "/clauses?recherche=gascons"):
        assert site.get(page, follow_redirects=False).headers["location"].startswith("/connexion")
    before = history_rows(app, clause_id)
    anonymous = site.post(
        f"/clauses/{clause_id}/avancer", data={"etape": "execution"}, follow_redirects=False
    )
    assert anonymous.headers["location"].startswith("/connexion")

    csrf = sign_in(site)
    forged = site.post(
        f"/clauses/{clause_id}/avancer",
        data={"csrf": "faux" + csrf, "etape": "execution", "fin": "2026-05-04"},
    )
    assert forged.status_code == 403
    assert history_rows(app, clause_id) == before


def test_each_stage_counts_what_list_clauses_gives(app: App, site: TestClient) -> None:
    sign_in(site)

    board = columns(site.get("/clauses").text)

    assert list(board)[:5] == ["identification", "drafting", "award", "execution", "follow_up"]
    for stage in Stage:
        listed = list_clauses(app, stage=stage)
        if stage.value in board:
            count, cards = board[stage.value]
            assert count == len(listed), stage
            assert cards == [c.id for c in listed], stage
        else:
            assert not listed, stage  # a side stage holding no clause is not shown
    # One buyer: the counts are those of ``list_clauses --buyer``.
    clause_id, _, _ = lot_01(app)
    with app.transaction() as session:
        clause = session.get(Clause, clause_id)
        assert clause is not None
        buyer_id = clause.market.operation.buyer_id
    narrowed = columns(site.get(f"/clauses?donneur={buyer_id}").text)
    for stage in board_page.board_view.BOARD_STAGES:
        assert narrowed[stage.value][0] == len(list_clauses(app, stage=stage, buyer=buyer_id))
    one_stage = columns(site.get("/clauses?etape=identification").text)
    assert list(one_stage) == ["identification"]
    assert one_stage["identification"][1] == [
        c.id for c in list_clauses(app, stage=Stage.IDENTIFICATION)
    ]


def test_a_card_says_whose_lot_it_is_and_its_hours(app: App, site: TestClient) -> None:
    sign_in(site)
    clause_id, _, _ = lot_01(app)
    detail = clause_detail(app, clause_id)
    page = site.get("/clauses").text
    card = page.split(f'href="/clauses/{clause_id}"')[1].split("</li>")[0]

    assert "Bâtiments Gascons SARL" in visible(card)
    target = detail.summary.hours_target
    assert target is not None
    assert f"{french_hours(detail.hours_done)} sur {french_hours(target)}" in visible(card)


def test_the_search_finds_a_lot_by_siret_market_reference_and_company_name(
    app: App, site: TestClient
) -> None:
    sign_in(site)
    clause_id, _, _ = lot_01(app)
    lot_09 = next(c.id for c in list_clauses(app) if c.lot_number == "09")
    other_market = next(c.id for c in list_clauses(app) if c.market == "2026-V1")
    spaced = f"{GASCONS[:3]} {GASCONS[3:6]} {GASCONS[6:9]} {GASCONS[9:]}"  # as read aloud

    def found(text: str) -> set[int]:
        response = site.get("/clauses", params={"recherche": text})
        assert response.status_code == 200, visible(response.text)
        return {ids for _, (_, cards) in columns(response.text).items() for ids in cards}

    assert found(spaced) == {clause_id}
    assert found(GASCONS) == {clause_id}
    assert found("batiments gascons") == {clause_id}  # no accent, no capital
    assert found("2026-014/01") == {clause_id}
    by_market = found("2026-014")
    assert clause_id in by_market and lot_09 in by_market and other_market not in by_market
    assert found("Lasbordes") == {other_market}  # the buyer's name
    assert found("Introuvable et inconnu") == set()

    short = site.get("/clauses", params={"recherche": "a"})
    assert short.status_code == 422
    assert "Recherche «\u00a0a\u00a0»\u00a0: donnez au moins 2 lettres ou chiffres." in visible(
        short.text
    )
    assert site.get("/clauses?etape=nulle").status_code == 422
    assert "Étape inconnue" in visible(site.get("/clauses?etape=nulle").text)
    assert site.get("/clauses?donneur=abc").status_code == 422
    assert site.get("/clauses?page=0").status_code == 422


def test_the_clause_page_shows_the_figures_of_clause_show(app: App, site: TestClient) -> None:
    sign_in(site)
    clause_id, _, _ = lot_01(app)
    detail = clause_detail(app, clause_id)
    assert detail.amount_excl_tax and detail.labour_share and detail.insertion_rate
    assert detail.hourly_cost
    note = calculate_hours(
        detail.amount_excl_tax, detail.labour_share, detail.insertion_rate, detail.hourly_cost
    )

    html = site.get(f"/clauses/{clause_id}").text
    page = visible(html)

    target = detail.summary.hours_target
    assert target is not None and detail.completion is not None
    assert f"Heures prévues {french_hours(target)}" in page
    assert f"Heures réalisées (déclarées) {french_hours(detail.hours_done)}" in page
    assert f"Avancement {board_page.percent(detail.completion)}" in page
    assert f"Reste à réaliser {french_hours(Decimal(target) - detail.hours_done)}" in page
    assert f"= {french_hours(note.hours)}." in page
    assert detail.hours_done == Decimal("186.67")  # the holder's April, declared in set-up
    # The calendar: April of both companies, the holder's declared, its subcontractor's owed.
    assert "avril 2026 Bâtiments Gascons SARL déclarée 186,67\u00a0h" in page
    assert "avril 2026 Gascogne Insertion Bâtiment (EI) à déclarer" in page
    # The history, newest first, as ``clause show`` words it.
    assert page.index("démarrage") < page.index("rédaction")

    # The chart: each bar the hours of its month, as the declarations add them up.
    with app.transaction() as session:
        declared = {
            month.strftime("%Y-%m"): Decimal(hours)
            for month, hours in session.execute(
                select(Declaration.month, func.sum(Declaration.total_hours))
                .where(Declaration.clause_id == clause_id)
                .group_by(Declaration.month)
            )
        }
    bars = {
        m: Decimal(h)
        for m, h in re.findall(r'class="bar"[^>]*data-month="([\d-]+)" data-hours="([\d.]+)"', html)
    }
    assert declared == {"2026-04": Decimal("186.67")}
    assert {m: h for m, h in bars.items() if h} == declared
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in html and 'role="img"' in html
    assert "avril 2026 186,67\u00a0h 186,67\u00a0h" in page  # the same figures, in the table


def test_an_unknown_clause_is_a_french_404(site: TestClient) -> None:
    csrf = sign_in(site)
    for address in ("/clauses/999999", "/clauses/abc", "/clauses/99999999999999999999"):
        response = site.get(address)
        assert response.status_code == 404
        assert "Clause introuvable" in visible(response.text)
    missing = site.post("/clauses/999999/avancer", data={"csrf": csrf, "etape": "drafting"})
    assert missing.status_code == 404


def run_cli(settings: Settings, clock: Clock, *args: str) -> str:
    state = CliState()
    state.factory = lambda: bootstrap(settings, clock=clock)
    result = CliRunner().invoke(cli, list(args), obj=state, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_advancing_leaves_the_history_row_of_clause_advance_with_the_user_as_actor(
    app: App, site: TestClient, settings: Settings, clock: Clock
) -> None:
    csrf = sign_in(site)
    first, second = (c.id for c in list_clauses(app, stage=Stage.IDENTIFICATION))
    page = visible(site.get(f"/clauses/{first}").text)
    assert "l'étape suivante est «\u00a0calibrage et rédaction\u00a0» (rédiger)" in page

    done = site.post(
        f"/clauses/{first}/avancer",
        data={"csrf": csrf, "etape": "identification", "motif": "Lot confirmé"},
        follow_redirects=False,
    )
    run_cli(settings, clock, "clause", "advance", str(second), "rediger",
            "--reason", "Lot confirmé", "--actor", "Camille Martin")  # fmt: skip

    assert done.status_code == 303
    assert "Clause passée à l'étape «\u00a0calibrage et rédaction\u00a0»" in visible(
        site.get(done.headers["location"]).text
    )
    by_web, by_cli = history_rows(app, first), history_rows(app, second)
    assert by_web[-1] == ("draft", "identification", "drafting", "Camille Martin", "Lot confirmé")
    assert by_web[-1] == by_cli[-1]
    # The same form sent again: the clause has moved on, nothing more is done.
    again = site.post(f"/clauses/{first}/avancer", data={"csrf": csrf, "etape": "identification"})
    assert again.status_code == 422
    assert "rien n'a été fait" in visible(again.text)
    assert history_rows(app, first) == by_web


def test_a_refused_step_is_said_in_french_and_changes_nothing(
    app: App, site: TestClient, settings: Settings, clock: Clock
) -> None:
    csrf = sign_in(site)
    clause_id, _, _ = lot_01(app)
    # Another lot whose work has started by the sample's day (4 May 2026), the end date given.
    other = next(
        c.id
        for c in list_clauses(app, stage=Stage.EXECUTION)
        if c.id != clause_id
        and (start := clause_detail(app, c.id).start_date)
        and start <= date(2026, 5, 4)
    )
    before = history_rows(app, clause_id)

    refused = site.post(f"/clauses/{clause_id}/avancer", data={"csrf": csrf, "etape": "execution"})
    assert refused.status_code == 422
    assert "il manque la date de fin d'exécution" in visible(refused.text)
    bad_date = site.post(
        f"/clauses/{clause_id}/avancer",
        data={"csrf": csrf, "etape": "execution", "fin": "31/02/2026"},
    )
    assert bad_date.status_code == 422
    assert "Date de fin d'exécution\u00a0: «\u00a031/02/2026\u00a0» n'est pas une date" in visible(
        bad_date.text
    )
    assert history_rows(app, clause_id) == before

    finished = site.post(
        f"/clauses/{clause_id}/avancer",
        data={"csrf": csrf, "etape": "execution", "fin": "04/05/2026"},
        follow_redirects=False,
    )
    run_cli(settings, clock, "clause", "advance", str(other), "achever",
            "--end-date", "04/05/2026", "--actor", "Camille Martin")  # fmt: skip
    assert finished.status_code == 303
    assert history_rows(app, clause_id)[-1] == history_rows(app, other)[-1]
    assert history_rows(app, clause_id)[-1][:4] == (
        "finish",
        "execution",
        "follow_up",
        "Camille Martin",
    )
    assert clause_detail(app, clause_id).end_date == clause_detail(app, other).end_date
