"""``clause advance N reprendre`` after the lot's planned end tells the facilitator that the
months after it are not asked of the companies until it is moved or the end recorded (the
reminders park the parties past the planned end), with the commands that do either."""

from __future__ import annotations

import json
from datetime import date, datetime, time

from click.testing import CliRunner
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import Lot, make_lot
from tests.integration.test_digest import resolve, suggested
from tests.text import squash
from workflow.adapters.orm import OutboxMessage
from workflow.app.clauses import advance_clause
from workflow.bootstrap import App, bootstrap
from workflow.domain.calendar import at_local
from workflow.domain.stages import ClauseEvent
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.settings import Settings

NBSP = "\u00a0"
START = date(2026, 1, 5)
SUSPENDED_ON = date(2026, 3, 16)
PLANNED_END = date(2026, 3, 31)
LATER = date(2026, 4, 13)
SAID = (
    "Fin prévue le 31 mars 2026 dépassée : les mois après mars 2026 ne sont pas demandés aux "
    "entreprises tant que la fin prévue n'est pas reportée ou la fin d'exécution enregistrée."
)


def paris(day: date, hour: int = 8) -> datetime:
    return at_local(day, time(hour), Settings().zone)


def suspended_lot(app: App, clock: Clock) -> Lot:
    lot = make_lot(app, start=START, end=PLANNED_END, at=paris(START, 10))
    clock.set(paris(SUSPENDED_ON, 11))
    advance_clause(app, lot.clause_id, ClauseEvent.SUSPEND, reason="ordre de service d'arrêt")
    return lot


def resume(settings: Settings, clock: Clock, day: date, clause_id: int, *extra: str) -> str:
    clock.set(paris(day, 9))
    state = CliState()
    state.factory = lambda: bootstrap(settings, clock=clock)
    tokens = ["clause", "advance", str(clause_id), "reprendre", *extra]
    result = CliRunner().invoke(cli, tokens, obj=state, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_resuming_after_the_planned_end_says_the_months_after_it_are_not_asked(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot = suspended_lot(app, clock)
    cid = lot.clause_id
    said = squash(resume(settings, clock, LATER, cid)).replace(NBSP, " ")
    assert "suspendue → mise en œuvre" in said.lower()
    assert SAID in said
    sentence = said[said.index("Fin prévue le") :]
    paths = [resolve(tokens)[0] for tokens in suggested(sentence)]
    assert paths == [["lot", "set-end"], ["clause", "advance"]]
    assert f"clauses lot set-end {cid} jj/mm/aaaa" in sentence


def test_its_json_gives_the_planned_end_passed(app: App, settings: Settings, clock: Clock) -> None:
    lot = suspended_lot(app, clock)
    data = json.loads(resume(settings, clock, LATER, lot.clause_id, "--json"))
    assert data["vers"] == "execution" and data["fin_prevue_depassee"] == "2026-03-31"


def test_resuming_on_the_planned_end_itself_says_nothing_of_it(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot = suspended_lot(app, clock)
    data = json.loads(resume(settings, clock, PLANNED_END, lot.clause_id, "--json"))
    assert data["vers"] == "execution" and data["fin_prevue_depassee"] is None
    other = suspended_lot(app, clock)
    said = squash(resume(settings, clock, PLANNED_END, other.clause_id)).replace(NBSP, " ")
    assert "suspendue → mise en œuvre" in said.lower() and "Fin prévue" not in said


def _resumed_notice(app: App, clause_id: int) -> str:
    with app.transaction() as session:
        [text] = session.scalars(
            select(OutboxMessage.body_text).where(
                OutboxMessage.kind == "notice_resumed", OutboxMessage.clause_id == clause_id
            )
        )
        return squash(text).replace(NBSP, " ")


def test_the_buyer_reads_the_planned_end_passed_in_the_resumption_notice(
    app: App, settings: Settings, clock: Clock
) -> None:
    """User trial: resumed on 7 June, the notice read « Fin d'exécution prévue : 31 mai 2027 »
    as if still ahead."""
    lot = suspended_lot(app, clock)
    resume(settings, clock, LATER, lot.clause_id)
    late = _resumed_notice(app, lot.clause_id)
    assert "- Fin d'exécution prévue : 31 mars 2026 (date passée) " in late, late
    on_time = suspended_lot(app, clock)
    resume(settings, clock, PLANNED_END, on_time.clause_id)
    notice = _resumed_notice(app, on_time.clause_id)
    assert "- Fin d'exécution prévue : 31 mars 2026 " in notice, notice
    assert "(date passée)" not in notice
