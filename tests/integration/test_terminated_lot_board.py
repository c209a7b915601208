"""The board of clauses says which lots were terminated (« Marché résilié le … »), on SQLite and
PostgreSQL.

User trial: on the board, a lot whose contract was terminated sat in « suivi et bilan » like a
lot whose work finished normally; only its own page said « résilié ». Now its card says « Marché
résilié le 04/05/2026 », a lot finished normally says nothing of the kind, and the board reads
the terminations of every card shown in one query: as many statements with three lots
terminated as with one.
"""

from __future__ import annotations

import re
from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy import event, select

from tests.conftest import Clock
from tests.integration.test_dashboard import dashboard_site, sign_in
from tests.integration.test_declaration_howto import lot_01
from tests.text import squash, visible
from workflow.adapters.orm import Clause
from workflow.app import clauses as clause_app
from workflow.app.clause_board import clause_board
from workflow.bootstrap import App
from workflow.domain.stages import ClauseEvent, Stage

NBSP = "\u00a0"
REASON = "Défaillance du titulaire"
ENDED = date(2026, 5, 4)


def card_of(page: str, clause_id: int) -> str:
    """The words of the board's card of clause N° ``clause_id``."""
    for card in re.findall(r'<li class="card">.*?</li>', page, flags=re.DOTALL):
        if f'href="/clauses/{clause_id}"' in card:
            return squash(visible(card)).replace(NBSP, " ")
    raise AssertionError(f"no card for clause {clause_id}")


def running(app: App) -> list[int]:
    """The lots in execution started by ``ENDED``, by N°."""
    with app.transaction() as session:
        return list(
            session.scalars(
                select(Clause.id)
                .where(Clause.stage == Stage.EXECUTION.value, Clause.start_date <= ENDED)
                .order_by(Clause.id)
            )
        )


def advance(app: App, clause_id: int, event_: ClauseEvent, reason: str | None = None) -> None:
    clause_app.advance_clause(
        app, clause_id, event_, reason=reason, end_date=ENDED, actor="Camille Martin"
    )


def test_the_card_of_a_terminated_lot_says_marche_resilie_with_its_date(
    app: App, clock: Clock
) -> None:
    site: TestClient = dashboard_site(app, clock)
    csrf = sign_in(site)
    clause_id, _, _ = lot_01(app)
    done = site.post(
        f"/clauses/{clause_id}/resilier",
        data={"csrf": csrf, "etape": "execution", "date_resiliation": "2026-05-04",
              "motif_resiliation": REASON},
        follow_redirects=False,
    )  # fmt: skip
    assert done.status_code == 303, visible(done.text)
    # Another lot whose work finished normally, in the same column.
    finished = next(i for i in running(app) if i != clause_id)
    advance(app, finished, ClauseEvent.FINISH)

    for address in ("/clauses", "/clauses?etape=follow_up"):
        page = site.get(address).text
        assert "Marché résilié le 04/05/2026" in card_of(page, clause_id), card_of(page, clause_id)
        assert "résilié" not in card_of(page, finished), card_of(page, finished)


def test_the_board_reads_the_terminations_of_its_cards_in_one_query(app: App, clock: Clock) -> None:
    dashboard_site(app, clock)
    lots = running(app)
    assert len(lots) >= 3, lots
    advance(app, lots[0], ClauseEvent.TERMINATE, REASON)

    statements: list[str] = []

    def spy(*args: object) -> None:
        statements.append(str(args[2]))

    def counted() -> tuple[int, dict[int, str | None]]:
        statements.clear()
        event.listen(app.engine, "before_cursor_execute", spy)
        try:
            board = clause_board(app)
        finally:
            event.remove(app.engine, "before_cursor_execute", spy)
        said = {card.id: card.ended_said for column in board.columns for card in column.cards}
        return len(statements), said

    one, said = counted()
    assert said[lots[0]] == "Marché résilié le 04/05/2026"
    for clause_id in lots[1:3]:
        advance(app, clause_id, ClauseEvent.TERMINATE, REASON)
    three, said = counted()
    assert [said[i] for i in lots[:3]] == ["Marché résilié le 04/05/2026"] * 3
    assert not any(said[i] for i in lots[3:])
    assert three == one, statements
