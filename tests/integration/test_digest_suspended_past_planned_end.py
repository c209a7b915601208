"""A lot suspended past its planned end is a task of the day of its own: once it resumes, its
companies are called for no month after the planned end until it is moved (or the end
recorded), and an « ordre de service d'arrêt » usually extends the works by the stop's length,
so the facilitator asks the buyer for the new planned end. One lot reads as one task: such a
lot is not also « en attente » at the stage « suspendue »."""

from __future__ import annotations

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
from workflow.emails.company_pauses import past_planned_end_sentence
from workflow.emails.digest import CATEGORY_TITLES, Category, DigestItem, WebActionKind
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.entrypoints.web.site import create_site
from workflow.services.company_pauses import planned_end_passed
from workflow.services.digest import compile_digest, compile_tasks, queue_daily_digest
from workflow.settings import Settings

NBSP = "\u00a0"
START = date(2026, 1, 5)
#: Monday 16 March 2026: an « ordre de service d'arrêt » stops the works.
SUSPENDED_ON = date(2026, 3, 16)
#: Tuesday 31 March 2026: the last day of the works as planned.
PLANNED_END = date(2026, 3, 31)
#: Monday 13 April 2026: 13 days past.
LATER = date(2026, 4, 13)
SITE = "https://clauses.exemple.fr"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """A lot suspended for more than a day is also a clause waiting at its stage: the case where
    one lot could read as two tasks."""
    return make_settings(tmp_path, database_url, stage_wait_days={"suspended": 1})


def paris(day: date, hour: int = 8) -> datetime:
    return at_local(day, time(hour), Settings().zone)


def suspended_lot(app: App, clock: Clock, end: date = PLANNED_END) -> Lot:
    lot = make_lot(app, start=START, end=end, at=paris(START, 10))
    clock.set(paris(SUSPENDED_ON, 11))
    advance_clause(app, lot.clause_id, ClauseEvent.SUSPEND, reason="ordre de service d'arrêt")
    return lot


def title_of(app: App, lot: Lot) -> str:
    """The lot as a task's title starts: « Clause n° 7 (marché M-3 lot 1 – Gros œuvre, …) »."""
    with app.transaction() as session:
        reference, buyer = session.execute(
            select(Market.reference, Buyer.name)
            .join(Clause, Clause.market_id == Market.id)
            .join(Operation, Operation.id == Market.operation_id)
            .join(Buyer, Buyer.id == Operation.buyer_id)
            .where(Clause.id == lot.clause_id)
        ).one()
    return f"Clause n° {lot.clause_id} (marché {reference} lot 1 – Gros œuvre, {buyer})"


def items(app: App, day: date, hour: int = 8) -> list[DigestItem]:
    with app.transaction() as session:
        return list(compile_digest(session, paris(day, hour), app.settings).items)


def of(found: list[DigestItem], category: Category) -> list[DigestItem]:
    return [item for item in found if item.category == category]


#: The sections that say where a lot stands in its life (its late declarations are other tasks).
STANDING = (Category.PLANNED_END, Category.PLANNED_END_SUSPENDED, Category.WAITING)


def standing(found: list[DigestItem], clause_id: int) -> list[Category]:
    return [i.category for i in found if i.clause_id == clause_id and i.category in STANDING]


def run_cli(settings: Settings, clock: Clock, at: datetime, tokens: list[str]) -> str:
    clock.set(at)
    state = CliState()
    state.factory = lambda: bootstrap(settings, clock=clock)
    result = CliRunner().invoke(cli, tokens, obj=state, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return squash(result.output).replace(NBSP, " ")


def test_the_task_says_since_when_suspended_which_end_passed_and_what_to_ask(
    app: App, clock: Clock
) -> None:
    lot = suspended_lot(app, clock)
    cid = lot.clause_id
    # On the planned end itself the works may still end that day: no task about the end, only
    # the lot waiting at its stage (suspended for more than a day).
    on_the_day = items(app, PLANNED_END)
    assert of(on_the_day, Category.PLANNED_END_SUSPENDED) == []
    assert standing(on_the_day, cid) == [Category.WAITING]

    found = items(app, LATER)
    [item] = of(found, Category.PLANNED_END_SUSPENDED)
    assert item.clause_id == cid and item.weight == item.days == 13
    assert item.title == (
        f"{title_of(app, lot)} : suspendue depuis le 16 mars 2026, fin prévue le 31 mars 2026 "
        "dépassée depuis 13 jours"
    )
    assert item.detail == (
        "À la reprise, les mois après mars 2026 ne seront pas demandés aux entreprises tant que "
        "la fin prévue n'est pas reportée ou la fin d'exécution enregistrée."
    )
    assert item.action == (
        "Voir avec le donneur d'ordre quand les travaux reprennent ; à la reprise, lui demander "
        "la nouvelle fin prévue (un ordre de service d'arrêt prolonge en général le délai "
        "d'exécution de la durée de l'arrêt), reprendre la clause (clauses clause advance "
        f"{cid} reprendre) et reporter la fin prévue (clauses lot set-end {cid} jj/mm/aaaa "
        '--reason "ordre de service de reprise n° …").'
    )
    # One lot, one task: not also « en cours » past its end, nor « en attente » while suspended.
    assert standing(found, cid) == [Category.PLANNED_END_SUSPENDED]
    # Both commands exist as written, the lot and the date where each wants them.
    paths = []
    for tokens in suggested(item.action):
        path, _, positional, _ = resolve(tokens)
        paths.append(path)
        assert positional[0] == str(cid)
    assert paths == [["clause", "advance"], ["lot", "set-end"]]
    web = item.web
    assert web is not None and web.kind == WebActionKind.OPEN_CLAUSE
    assert web.path == f"/clauses/{cid}#fin-prevue"
    assert "formulaire « Changer la fin prévue »" in web.todo
    assert "formulaire « Étape suivante »" in web.todo
    assert "clauses " not in web.todo

    # A lot suspended with its planned end to come is only waiting at its stage.
    running = suspended_lot(app, clock, end=date(2026, 6, 30))
    assert standing(items(app, LATER), running.clause_id) == [Category.WAITING]

    # Resumed without moving the end: a lot in execution past its end, the task of its own.
    clock.set(paris(LATER, 9))
    advance_clause(app, cid, ClauseEvent.RESUME, reason="reprise des travaux")
    found = items(app, LATER, 10)
    assert standing(found, cid) == [Category.PLANNED_END]
    [item] = of(found, Category.PLANNED_END)
    assert "Les mois après mars 2026 ne sont pas demandés aux entreprises" in item.detail


def test_the_dashboard_shows_the_same_first_tasks_as_the_digest(app: App, clock: Clock) -> None:
    lots = [suspended_lot(app, clock, end) for end in (PLANNED_END, date(2026, 3, 10))]
    lots.append(suspended_lot(app, clock, date(2026, 3, 10)))
    now = paris(LATER)
    for limit in (1, 2, 3):
        with app.transaction() as session:
            full = compile_digest(session, now, app.settings).first(limit)
            page = compile_tasks(session, now, app.settings, limit)
        assert page == full
        [section] = [s for s in page.sections if s.category == Category.PLANNED_END_SUSPENDED]
        assert section.title == "Lots suspendus, fin prévue dépassée"
        assert section.count == 3
    [section] = [s for s in page.sections if s.category == Category.PLANNED_END_SUSPENDED]
    assert [(i.clause_id, i.days) for i in section.items] == [
        (lots[1].clause_id, 34),
        (lots[2].clause_id, 34),
        (lots[0].clause_id, 13),
    ]


def test_the_task_goes_once_the_planned_end_is_moved_with_the_command_it_names(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot = suspended_lot(app, clock)
    cid = lot.clause_id
    [item] = of(items(app, LATER), Category.PLANNED_END_SUSPENDED)
    [tokens] = [t for t in suggested(item.action) if "set-end" in t]
    tokens = ["29/05/2026" if token == "jj/mm/aaaa" else token for token in tokens]
    tokens[tokens.index("--reason") + 1] = "ordre de service de reprise n° 2"
    said = run_cli(settings, clock, paris(LATER, 9), tokens)
    assert "fin prévue reportée du 31/03/2026 au 29/05/2026" in said
    with app.transaction() as session:
        clause = session.get_one(Clause, cid)
        assert (clause.stage, clause.planned_end_date) == ("suspended", date(2026, 5, 29))
        assert planned_end_passed(session, cid, LATER) is None
    # The end to come: only the lot waiting at its stage is left.
    assert standing(items(app, LATER, 10), cid) == [Category.WAITING]


def test_what_the_resumption_tells_the_facilitator(app: App, clock: Clock) -> None:
    lot = suspended_lot(app, clock)
    cid = lot.clause_id
    with app.transaction() as session:
        # Its own day is no day past (as the day's tasks count it); the next one is.
        assert planned_end_passed(session, cid, PLANNED_END) is None
        assert planned_end_passed(session, cid, date(2026, 4, 1)) == PLANNED_END
    said = past_planned_end_sentence(cid, PLANNED_END)
    assert said.startswith(
        "Fin prévue le 31 mars 2026 dépassée : les mois après mars 2026 ne sont pas demandés "
        "aux entreprises tant que la fin prévue n'est pas reportée ou la fin d'exécution "
        "enregistrée."
    )
    paths = [resolve(tokens)[0] for tokens in suggested(said)]
    assert paths == [["lot", "set-end"], ["clause", "advance"]]
    assert f"clauses clause advance {cid} achever --end-date jj/mm/aaaa" in said


def _digest_text(app: App, clock: Clock) -> str:
    clock.set(paris(LATER))
    assert queue_daily_digest(app, paris(LATER)) == 1
    with app.transaction() as session:
        return session.scalars(
            select(OutboxMessage.body_text).where(OutboxMessage.kind == "facilitator_digest")
        ).one()


def test_the_digest_email_says_it_with_the_commands(app: App, clock: Clock) -> None:
    lot = suspended_lot(app, clock)
    cid = lot.clause_id
    text = _digest_text(app, clock)
    section = CATEGORY_TITLES[Category.PLANNED_END_SUSPENDED]
    assert f"\n== {section} (1) ==\n" in text
    entry = squash(text[text.index(f"== {section}") :].split("\n* ", 1)[1].split("\n==")[0])
    assert entry.startswith(
        f"{title_of(app, lot)} : suspendue depuis le 16 mars 2026, fin prévue le 31 mars 2026 "
        "dépassée depuis 13 jours À la reprise, les mois après mars 2026 ne seront pas "
        "demandés aux entreprises"
    ), entry
    assert f"(clauses clause advance {cid} reprendre)" in entry
    assert f'(clauses lot set-end {cid} jj/mm/aaaa --reason "ordre de service' in entry
    # Not twice in the email: no « attend à l'étape » entry for it.
    assert "attend à l'étape" not in text


def test_the_dashboard_links_to_the_form_that_moves_the_planned_end(
    tmp_path: Path, database_url: str, clock: Clock
) -> None:
    settings = make_settings(tmp_path, database_url, base_url=SITE)
    app = bootstrap(settings, clock=clock)
    try:
        lot = suspended_lot(app, clock)
        clock.set(paris(LATER, 10))
        web_accounts.add_user(app, login="camille", name="Camille Martin", password="x" * 16)
        client = TestClient(create_site(app), base_url=SITE)
        sign_in(client, password="x" * 16)
        board = client.get("/tableau-de-bord").text
        page = client.get(f"/clauses/{lot.clause_id}").text
    finally:
        app.close()
    start = board.index('<section id="rubrique-planned_end_suspended">')
    section = board[start:].split("</section>")[0]
    assert "Lots suspendus, fin prévue dépassée (1)" in visible(section)
    assert "suspendue depuis le 16 mars 2026, fin prévue le 31 mars 2026" in visible(section)
    assert f'href="/clauses/{lot.clause_id}#fin-prevue"' in section
    # Where the link leads: the form that moves the planned end, and the resumption.
    assert 'id="fin-prevue"' in page and 'name="nouvelle_fin"' in page
    assert 'id="etape"' in page and "reprendre" in visible(page)
