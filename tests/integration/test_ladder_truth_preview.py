"""``clauses mail preview notice_resumed --clause N`` shows the buyer's notice of a resumption as
it would leave at that moment, with the paragraph on what leaves next.

The defect: the preview lacked that paragraph (« Le prochain appel à déclarer partira le … »,
the declarations still owed and their next reminder or alert): the facilitator checking the
notice before resuming a lot read a different email from the one the buyer got. For a lot
still suspended it now shows the notice as if the lot resumed now, word for word the one the
resumption then queues.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import Lot, make_lot
from tests.integration.test_ladder_scenarios import paris
from tests.text import squash
from workflow.adapters.mail.memory import MemoryTransport
from workflow.adapters.orm import OutboxMessage
from workflow.bootstrap import App, bootstrap
from workflow.domain.stages import ClauseEvent
from workflow.entrypoints.cli import cli as cli_group
from workflow.entrypoints.cli.common import CliState
from workflow.services.clauses import advance_clause
from workflow.services.dispatch import dispatch_due
from workflow.services.previews import build_preview
from workflow.services.ticks import run_pass
from workflow.settings import Settings

pytestmark = pytest.mark.scenario


@pytest.fixture
def mail_app(settings: Settings, clock: Clock) -> Iterator[App]:
    application = bootstrap(settings, clock=clock, transport=MemoryTransport())
    yield application
    application.close()


def advance(app: App, lot: Lot, event: ClauseEvent, reason: str | None = None) -> None:
    with app.transaction() as session:
        advance_clause(
            session,
            lot.clause_id,
            event,
            actor="test",
            reason=reason,
            now=app.clock(),
            publish=app.publish,
        )


def preview_output(settings: Settings, clock: Clock, lot: Lot, out_dir: Path) -> str:
    state = CliState()
    state.factory = lambda: bootstrap(settings, clock=clock)
    result = CliRunner().invoke(
        cli_group,
        [
            "mail",
            "preview",
            "notice_resumed",
            "--clause",
            str(lot.clause_id),
            "--out",
            str(out_dir),
        ],
        obj=state,
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_the_preview_of_a_resumption_says_what_leaves_next_as_the_notice_does(
    mail_app: App, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    app = mail_app
    lot = make_lot(
        app, start=date(2026, 3, 2), end=date(2026, 12, 31), at=paris(date(2026, 3, 2), 8)
    )
    # March called on 1 April (due 10 April); the lot suspended on 3 April, before April's call.
    run_pass(app, paris(date(2026, 4, 1), 9), dispatch=False)
    dispatch_due(app, paris(date(2026, 4, 1), 9, 5))
    clock.set(paris(date(2026, 4, 3), 10))
    advance(app, lot, ClauseEvent.SUSPEND, "Fouilles archéologiques")
    # The suspension's emails leave: one still waiting at the resumption would be withdrawn,
    # the resumption's notice saying the suspension too (``resumption_withdrawals``).
    dispatch_due(app, paris(date(2026, 4, 3), 10, 5))

    # Monday 20 April 10:00, before resuming: the preview.
    clock.set(paris(date(2026, 4, 20), 10))
    shown = squash(preview_output(settings, clock, lot, tmp_path))
    assert (
        "Le prochain appel à déclarer partira le 4 mai 2026 : les entreprises y déclareront les "
        "heures d'insertion du mois d'avril 2026, au plus tard le 11 mai 2026."
    ) in shown, shown
    assert (
        "Une déclaration demandée avant la suspension reste attendue (mars 2026, date limite le 27 avril 2026)"
        in (shown)
    ), shown
    assert "Les rappels reprennent : le prochain partira le 30 avril 2026." in shown, shown
    preview = build_preview(app, "notice_resumed", lot.clause_id)

    # Resumed at that very moment: the buyer's notice is the one previewed, word for word.
    advance(app, lot, ClauseEvent.RESUME)
    with app.transaction() as session:
        (sent,) = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "notice_resumed")
        ).all()
        assert preview.rendered.subject == sent.subject
        assert preview.rendered.text == sent.body_text
        assert preview.rendered.html == sent.body_html
    # Once resumed, the preview shows that notice: its date, its paragraph.
    again = build_preview(app, "notice_resumed", lot.clause_id)
    assert again.rendered.text == preview.rendered.text
