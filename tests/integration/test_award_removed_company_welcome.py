"""A company taken out of the award before its welcome left is not welcomed (SQLite and
PostgreSQL): its waiting welcome is withdrawn with the reason, the others' stay as they were.

User trial: a subcontractor taken out of the award and added again from another first month
received both welcomes, each with its own first month."""

from __future__ import annotations

from tests.integration.test_award_correction_companies import rows, wired
from tests.integration.test_clause_corrections import award, clean, new_clause, territory, utc
from workflow.bootstrap import App
from workflow.domain.stages import ClauseEvent
from workflow.domain.vocabulary import PartyRole
from workflow.services.clauses import PartyInput


def test_the_waiting_welcome_of_a_company_taken_out_is_withdrawn(app: App) -> None:
    wired(app)
    land = territory(app)
    clause_id = new_clause(app, land, ClauseEvent.DRAFT, ClauseEvent.AWARD)
    newcomer = PartyInput(land.newcomer_id, PartyRole.SUBCONTRACTOR, None, 50)
    award(app, clause_id, land, at=utc(2026, 1, 20, 9), extra=(newcomer,))

    award(app, clause_id, land, at=utc(2026, 1, 22, 9))

    welcomes = {
        key.split(":")[2]: (state, reason)
        for key, _, state, _, reason in rows(app, "company_welcome")
    }
    assert welcomes[str(land.newcomer_id)] == (
        "cancelled",
        "Retiré : attribution corrigée le 22 janvier 2026, Peintures d'Auch n'est plus dans "
        "l'attribution du lot ; ce courriel n'avait plus lieu d'être.",
    )
    assert welcomes[str(land.holder_id)] == ("pending", None)
    assert welcomes[str(land.partner_id)] == ("pending", None)
    clean(app)
