"""Companies welcomed on a lot that is then abandoned, before its start, are told (SQLite and
PostgreSQL): the lot abandoned, the reason, « Vous n'avez rien à déclarer pour ce lot », once
each, whatever the passes do after; a welcome still waiting is withdrawn instead. The abandon
undone (`reopen`): an abandon email not left is withdrawn, and each company told is welcomed
again, as of the reopening.

User trial: a lot declared « sans suite » two weeks after its award left its companies waiting
for the calls their welcome announced.
"""

from __future__ import annotations

from sqlalchemy import select

from tests.integration.test_award_correction_companies import rows
from tests.integration.test_clause_corrections import Territory, award, new_clause, territory, utc
from tests.text import squash
from workflow.adapters.mail.files import FileTransport
from workflow.adapters.orm import OutboxMessage
from workflow.bootstrap import App
from workflow.domain.events import ClauseAdvanced
from workflow.domain.stages import ClauseEvent, Stage
from workflow.services.abandon_notices import tell_abandoned
from workflow.services.clauses import advance_clause, reopen_clause
from workflow.services.dispatch import dispatch_due
from workflow.settings import Settings

NBSP = "\u00a0"
ABANDONED = "company_lot_abandoned"
REASON = "Marché déclaré sans suite : financement retiré"


def awarded(app: App, land: Territory) -> int:
    clause_id = new_clause(app, land, ClauseEvent.DRAFT, ClauseEvent.AWARD)
    award(app, clause_id, land, at=utc(2026, 1, 20, 9))
    return clause_id


def abandon(app: App, clause_id: int) -> None:
    with app.transaction() as session:
        advance_clause(session, clause_id, ClauseEvent.ABANDON, actor="Camille Martin",
                       reason=REASON, now=utc(2026, 2, 3, 9), publish=app.publish)  # fmt: skip


def test_each_welcomed_company_is_told_once_that_it_has_nothing_to_declare(
    app: App, settings: Settings
) -> None:
    land = territory(app)
    clause_id = awarded(app, land)
    transport = FileTransport(settings.mail_dir)
    dispatch_due(app, utc(2026, 1, 20, 10), transport=transport)
    welcomes = rows(app, "company_welcome")
    assert len(welcomes) == 2 and {state for _, _, state, _, _ in welcomes} == {"sent"}

    abandon(app, clause_id)

    told = rows(app, ABANDONED)
    assert len(told) == 2, told
    stamp = utc(2026, 2, 3, 9).isoformat()
    assert {key for key, *_ in told} == {
        f"abandoned:{clause_id}:{land.holder_id}:{stamp}",
        f"abandoned:{clause_id}:{land.partner_id}:{stamp}",
    }
    holder = next(body for key, to, _, body, _ in told if "paul@example.org" in to)
    assert holder.startswith(
        "Bonjour Paul Lambert, Je vous ai écrit le 20 janvier 2026 au sujet de la clause sociale "
        f"d'insertion du lot 01 «{NBSP}Gros œuvre{NBSP}». Ce lot a été abandonné le 3 février "
        f"2026, avant le démarrage des travaux. Motif : {REASON}."
    ), holder
    assert "Vous n'avez rien à déclarer pour ce lot" in holder
    assert "ni appel à déclarer ni rappel" in holder

    # The passes send each one once; a second pass, nothing more.
    dispatch_due(app, utc(2026, 2, 3, 10), transport=transport)
    dispatch_due(app, utc(2026, 2, 3, 11), transport=transport)
    sent = sorted((settings.mail_dir / ABANDONED).glob("*.eml"))
    assert len(sent) == 2
    assert {state for _, _, state, _, _ in rows(app, ABANDONED)} == {"sent"}
    # The same abandon handled twice writes nothing more.
    with app.transaction() as session:
        again = ClauseAdvanced(clause_id=clause_id, event=ClauseEvent.ABANDON,
                               from_stage=Stage.AWARD, to_stage=Stage.ABANDONED,
                               at=utc(2026, 2, 3, 9), actor="Camille Martin", reason=REASON)  # fmt: skip
        assert tell_abandoned(app, session, again) == []
    assert len(rows(app, ABANDONED)) == 2


def test_a_welcome_still_waiting_is_withdrawn_and_the_reopening_welcomes_again(
    app: App, settings: Settings
) -> None:
    land = territory(app)
    clause_id = awarded(app, land)
    abandon(app, clause_id)

    # Nothing had left: the welcomes are withdrawn, no abandon email is written.
    welcomes = rows(app, "company_welcome")
    assert {state for _, _, state, _, _ in welcomes} == {"cancelled"}
    assert all(
        (reason or "").startswith("Retiré : lot abandonné le 03/02/2026 avant le départ")
        for *_, reason in welcomes
    ), welcomes
    assert rows(app, ABANDONED) == []

    with app.transaction() as session:
        reopen_clause(session, clause_id, reason="Financement retrouvé", actor="Camille Martin",
                      now=utc(2026, 2, 10, 9), publish=app.publish)  # fmt: skip
    # Back at the award: each company welcomed again, as of the reopening.
    with app.transaction() as session:
        fresh = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.kind == "company_welcome", OutboxMessage.state == "pending"
            )
        ).all()
    assert len(fresh) == 2
    assert all(row.key.endswith(utc(2026, 2, 10, 9).isoformat()) for row in fresh)
    assert "Bonjour Paul Lambert" in squash(
        next(r.body_text for r in fresh if "paul@example.org" in r.recipients)
    )
