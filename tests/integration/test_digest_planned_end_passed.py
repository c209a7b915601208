"""A lot still in execution past its planned end is a task of the day: its companies are called
for no month after the planned end until the end is recorded or the planned end moved, and
only the facilitator can learn from the buyer which of the two it is."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import Clock, make_settings
from tests.integration._ladders import Lot, make_lot
from tests.integration.test_dashboard import sign_in
from tests.integration.test_digest import resolve, suggested
from tests.text import squash, visible
from workflow.adapters.orm import Buyer, Clause, Market, Operation, OutboxMessage
from workflow.app import web_accounts
from workflow.app.clauses import advance_clause
from workflow.bootstrap import App, bootstrap
from workflow.domain.calendar import at_local
from workflow.domain.stages import ClauseEvent
from workflow.emails.digest import CATEGORY_TITLES, Category, DigestItem, WebActionKind
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.entrypoints.web.site import create_site
from workflow.services.digest import compile_digest, compile_tasks, queue_daily_digest
from workflow.settings import Settings

NBSP = "\u00a0"
START = date(2026, 1, 5)
#: Tuesday 31 March 2026: the last day of the works as planned.
PLANNED_END = date(2026, 3, 31)
#: Wednesday 1 April 2026, the day after: already past.
DAY_AFTER = date(2026, 4, 1)
#: Monday 13 April 2026: 13 days past.
LATER = date(2026, 4, 13)
SITE = "https://clauses.exemple.fr"


def paris(day: date, hour: int = 8) -> datetime:
    return at_local(day, time(hour), Settings().zone)


def lot_ending(app: App, end: date = PLANNED_END) -> Lot:
    return make_lot(app, start=START, end=end, at=paris(START, 10))


def label(app: App, lot: Lot) -> str:
    """The lot as every task names it: « clause n° 7 (marché M-3 lot 1 – Gros œuvre, …) »."""
    with app.transaction() as session:
        reference, buyer = session.execute(
            select(Market.reference, Buyer.name)
            .join(Clause, Clause.market_id == Market.id)
            .join(Operation, Operation.id == Market.operation_id)
            .join(Buyer, Buyer.id == Operation.buyer_id)
            .where(Clause.id == lot.clause_id)
        ).one()
    return f"clause n° {lot.clause_id} (marché {reference} lot 1 – Gros œuvre, {buyer})"


def title_of(app: App, lot: Lot) -> str:
    """The label as a title starts: « Clause n° 7 (…) »."""
    return "C" + label(app, lot)[1:]


def tasks(app: App, day: date, hour: int = 8) -> list[DigestItem]:
    with app.transaction() as session:
        digest = compile_digest(session, paris(day, hour), app.settings)
    return [item for item in digest.items if item.category == Category.PLANNED_END]


def run_cli(settings: Settings, clock: Clock, at: datetime, tokens: list[str]) -> str:
    clock.set(at)
    state = CliState()
    state.factory = lambda: bootstrap(settings, clock=clock)
    result = CliRunner().invoke(cli, tokens, obj=state, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return squash(result.output)


def command(item: DigestItem, verb: str, day: date) -> list[str]:
    """The command the task names for ``verb``, its date placeholder filled with ``day``."""
    [tokens] = [t for t in suggested(item.action) if verb in t]
    return [f"{day:%d/%m/%Y}" if token == "jj/mm/aaaa" else token for token in tokens]


def test_the_task_appears_the_day_after_the_planned_end_naming_its_date_and_commands(
    app: App,
) -> None:
    lot = lot_ending(app)
    cid = lot.clause_id
    # On the planned end itself the works may end that evening: no task yet (the contracts
    # ending soon say « se termine aujourd'hui »), and none late that evening either.
    assert tasks(app, PLANNED_END) == tasks(app, PLANNED_END, 23) == []

    [item] = tasks(app, DAY_AFTER)
    assert item.clause_id == cid and item.weight == item.days == 1
    assert item.title == (
        f"{title_of(app, lot)} : fin prévue le 31 mars 2026 dépassée depuis 1 jour, "
        "exécution toujours en cours"
    )
    assert item.detail == (
        "Les mois après mars 2026 ne sont pas demandés aux entreprises : ils le seront si les "
        "travaux ont continué, une fois la fin d'exécution enregistrée ou la fin prévue reportée."
    )
    assert item.action == (
        "Demander au donneur d'ordre où en sont les travaux. S'ils sont finis, achever la "
        f"clause à leur date de fin réelle (clauses clause advance {cid} achever --end-date "
        f"jj/mm/aaaa) ; s'ils continuent, reporter la fin prévue (clauses lot set-end {cid} "
        'jj/mm/aaaa --reason "avenant n° …").'
    )
    # Both commands exist as written, with the lot and the date where the command wants them.
    assert len(suggested(item.action)) == 2
    for tokens in suggested(item.action):
        path, _, positional, given = resolve(tokens)
        assert path in (["clause", "advance"], ["lot", "set-end"]), path
        assert positional[0] == str(cid)
        assert "jj/mm/aaaa" in (positional[-1], given.get("--end-date"))
    assert item.web is not None and item.web.kind == WebActionKind.OPEN_CLAUSE
    assert item.web.path == f"/clauses/{cid}#etape"
    assert "formulaire « Étape suivante »" in item.web.todo
    assert "formulaire « Changer la fin prévue »" in item.web.todo
    assert "clauses " not in item.web.todo

    [later] = tasks(app, LATER)
    assert "dépassée depuis 13 jours" in later.title and later.weight == 13


def test_the_longest_past_comes_first_and_the_dashboard_shows_the_same(app: App) -> None:
    recent = lot_ending(app, PLANNED_END)
    older = lot_ending(app, date(2026, 3, 10))
    tied = lot_ending(app, date(2026, 3, 10))
    assert [(i.clause_id, i.days) for i in tasks(app, LATER)] == [
        (older.clause_id, 34),
        (tied.clause_id, 34),
        (recent.clause_id, 13),
    ]
    now = paris(LATER)
    for limit in (1, 2, 3):
        with app.transaction() as session:
            full = compile_digest(session, now, app.settings).first(limit)
            page = compile_tasks(session, now, app.settings, limit)
        [section] = [s for s in page.sections if s.category == Category.PLANNED_END]
        assert section.title == "Fins prévues dépassées, exécution toujours en cours"
        assert section.count == 3
        assert page == full


@pytest.mark.parametrize("real_end", [date(2026, 3, 31), date(2026, 4, 10)])
def test_the_task_goes_once_the_end_is_recorded_with_the_command_it_names(
    app: App, settings: Settings, clock: Clock, real_end: date
) -> None:
    lot = lot_ending(app)
    [item] = tasks(app, LATER)
    said = run_cli(settings, clock, paris(LATER, 9), command(item, "advance", real_end))
    assert f"clause n° {lot.clause_id}" in said.lower().replace(NBSP, " ")
    with app.transaction() as session:
        clause = session.get_one(Clause, lot.clause_id)
        assert (clause.stage, clause.end_date) == ("follow_up", real_end)
    assert tasks(app, LATER, 10) == []


def test_the_task_goes_once_the_planned_end_is_moved_and_comes_back_past_the_new_one(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot = lot_ending(app)
    [item] = tasks(app, LATER)
    moved = date(2026, 5, 29)
    tokens = command(item, "set-end", moved)
    tokens[tokens.index("--reason") + 1] = "avenant n° 1 : intempéries"
    said = run_cli(settings, clock, paris(LATER, 9), tokens)
    assert "fin prévue reportée du 31/03/2026 au 29/05/2026" in said.replace(NBSP, " ")
    with app.transaction() as session:
        clause = session.get_one(Clause, lot.clause_id)
        assert (clause.stage, clause.planned_end_date) == ("execution", moved)
    assert tasks(app, LATER, 10) == []
    assert tasks(app, moved) == []
    [again] = tasks(app, date(2026, 6, 1))
    assert "fin prévue le 29 mai 2026 dépassée depuis 3 jours" in again.title
    assert "Les mois après mai 2026 ne sont pas demandés" in again.detail


def _suspend(app: App, lot: Lot) -> None:
    advance_clause(app, lot.clause_id, ClauseEvent.SUSPEND, reason="intempéries")


def _finish(app: App, lot: Lot) -> None:
    advance_clause(app, lot.clause_id, ClauseEvent.FINISH, end_date=date(2026, 3, 27))


def _close(app: App, lot: Lot) -> None:
    _finish(app, lot)
    with app.transaction() as session:
        session.get_one(Clause, lot.clause_id).final_report_at = paris(date(2026, 4, 2))
    advance_clause(app, lot.clause_id, ClauseEvent.CLOSE)


@pytest.mark.parametrize(
    ("move", "stage"), [(_suspend, "suspended"), (_finish, "follow_up"), (_close, "closed")]
)
def test_never_for_a_lot_suspended_in_follow_up_or_closed(
    app: App, clock: Clock, move: object, stage: str
) -> None:
    lot = lot_ending(app)
    assert [item.clause_id for item in tasks(app, date(2026, 4, 8))] == [lot.clause_id]
    clock.set(paris(date(2026, 4, 8), 9))
    assert callable(move)
    move(app, lot)
    with app.transaction() as session:
        assert session.get_one(Clause, lot.clause_id).stage == stage
    assert tasks(app, LATER) == []
    assert tasks(app, date(2027, 1, 4)) == []


def _digest_text(app: App, clock: Clock) -> str:
    clock.set(paris(LATER))
    assert queue_daily_digest(app, paris(LATER)) == 1
    with app.transaction() as session:
        return session.scalars(
            select(OutboxMessage.body_text).where(OutboxMessage.kind == "facilitator_digest")
        ).one()


def test_the_digest_email_says_it_with_the_commands(app: App, clock: Clock) -> None:
    lot = lot_ending(app)
    cid = lot.clause_id
    text = _digest_text(app, clock)
    section = CATEGORY_TITLES[Category.PLANNED_END]
    assert f"\n== {section} (1) ==\n" in text
    entry = squash(text[text.index(f"== {section}") :].split("\n* ", 1)[1].split("\n==")[0])
    assert entry.startswith(
        f"{title_of(app, lot)} : fin prévue le 31 mars 2026 dépassée depuis 13 jours, "
        "exécution toujours en cours Les mois après mars 2026 ne sont pas demandés aux "
        "entreprises : ils le seront si les travaux ont continué, une fois la fin d'exécution "
        "enregistrée ou la fin prévue reportée. À faire : Demander au donneur d'ordre où en "
        "sont les travaux"
    ), entry
    assert f"(clauses clause advance {cid} achever --end-date jj/mm/aaaa)" in entry
    assert f'(clauses lot set-end {cid} jj/mm/aaaa --reason "avenant n° …")' in entry


def test_with_a_site_the_digest_email_links_to_the_clause_page(
    tmp_path: Path, database_url: str, clock: Clock
) -> None:
    settings = make_settings(tmp_path, database_url, base_url=SITE)
    app = bootstrap(settings, clock=clock)
    try:
        lot = lot_ending(app)
        text = _digest_text(app, clock)
    finally:
        app.close()
    section = CATEGORY_TITLES[Category.PLANNED_END]
    entry = squash(text[text.index(f"== {section}") :].split("\n* ", 1)[1].split("\n==")[0])
    assert "S'ils sont finis, achever la clause à leur date de fin réelle (formulaire « Étape " in (
        entry.replace(NBSP, " ")
    )
    assert re.search(
        rf"Ouvrir la page de la clause\s?{NBSP}?: {re.escape(SITE)}/clauses/{lot.clause_id}#etape",
        entry,
    ), entry
    assert not re.search(r"\bclauses (clause|lot) ", entry), entry


def test_the_dashboard_shows_the_section_and_opens_the_clause_where_it_is_done(
    app: App, clock: Clock
) -> None:
    lot = lot_ending(app)
    clock.set(paris(LATER, 10))
    web_accounts.add_user(app, login="camille", name="Camille Martin", password="x" * 16)
    client = TestClient(create_site(app), base_url=SITE)
    sign_in(client, password="x" * 16)
    board = client.get("/tableau-de-bord").text
    section = board[board.index('<section id="rubrique-planned_end">') :].split("</section>")[0]
    assert "Fins prévues dépassées, exécution toujours en cours (1)" in visible(section)
    assert "fin prévue le 31 mars 2026 dépassée depuis 13 jours" in visible(section)
    assert f'href="/clauses/{lot.clause_id}#etape"' in section
    # Where the link leads: the finish with its date, and the form that moves the planned end.
    page = client.get(f"/clauses/{lot.clause_id}").text
    assert 'id="etape"' in page and 'name="fin"' in page
    assert 'id="fin-prevue"' in page and 'name="nouvelle_fin"' in page
