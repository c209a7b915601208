"""A corrected award told to the companies already welcomed: their waiting welcome written again
with the new dates, or, once it has left, a short « Attribution corrigée » naming what changed."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from tests.integration.test_clause_corrections import (
    all_left,
    award,
    clean,
    new_clause,
    territory,
    utc,
)
from tests.text import squash
from workflow.adapters.orm import OutboxMessage
from workflow.bootstrap import App
from workflow.domain.events import AwardCorrected
from workflow.domain.stages import ClauseEvent
from workflow.domain.vocabulary import PartyRole
from workflow.services.award_company_notices import tell_companies
from workflow.services.clauses import PartyInput
from workflow.services.notices import correct_award
from workflow.services.reminders import rearm_lot


def wired(app: App) -> App:
    """The application as ``bootstrap`` builds it: the handler is wired, after the buyer's
    notice (whose newcomers' welcomes come first) and the re-arming (whose calls its email
    announces)."""
    handlers = app.handlers[AwardCorrected]
    assert handlers.index(tell_companies) > handlers.index(correct_award)
    assert handlers.index(tell_companies) > handlers.index(rearm_lot)
    return app


def rows(app: App, *kinds: str) -> list[tuple[str, str, str, str, str | None]]:
    with app.transaction() as session:
        found = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind.in_(kinds)).order_by(OutboxMessage.id)
        )
        return [(r.key, r.recipients, r.state, squash(r.body_text), r.last_error) for r in found]


def test_a_welcome_still_waiting_is_written_again_with_the_new_start(app: App) -> None:
    wired(app)
    land = territory(app)
    clause_id = new_clause(app, land, ClauseEvent.DRAFT, ClauseEvent.AWARD)
    award(app, clause_id, land, at=utc(2026, 1, 20, 9))

    award(app, clause_id, land, at=utc(2026, 1, 22, 9), start=date(2026, 3, 16))

    welcomes = rows(app, "company_welcome")
    assert [(key.split(":")[2], state) for key, _, state, _, _ in welcomes] == [
        (str(land.holder_id), "cancelled"),
        (str(land.partner_id), "cancelled"),
        (str(land.holder_id), "pending"),
        (str(land.partner_id), "pending"),
    ]
    for _, _, _, body, reason in welcomes[:2]:
        assert "Exécution : du 2 mars 2026 au 31 décembre 2026" in body
        assert reason == (
            "Remplacé : attribution corrigée le 22 janvier 2026 (Démarrage : 2 mars 2026 → "
            "16 mars 2026) ; l'accueil à jour part à sa place."
        )
    for key, _, _, body, _ in welcomes[2:]:
        assert key.endswith(":" + utc(2026, 1, 22, 9).isoformat())
        assert "Exécution : du 16 mars 2026 au 31 décembre 2026" in body
    assert rows(app, "company_award_corrected") == []
    clean(app)


def test_a_welcome_already_left_is_followed_by_what_changed(app: App) -> None:
    wired(app)
    land = territory(app)
    clause_id = new_clause(app, land, ClauseEvent.DRAFT, ClauseEvent.AWARD)
    award(app, clause_id, land, at=utc(2026, 1, 20, 9))
    all_left(app)

    award(
        app,
        clause_id,
        land,
        at=utc(2026, 1, 22, 9),
        start=date(2026, 4, 1),
        extra=(PartyInput(land.newcomer_id, PartyRole.SUBCONTRACTOR, None, 50),),
    )

    assert [state for _, _, state, _, _ in rows(app, "company_welcome")] == [
        "sent",
        "sent",
        "pending",  # the newcomer's own welcome
    ]
    told = rows(app, "company_award_corrected")
    assert [(key, to) for key, to, _, _, _ in told] == [
        (
            f"award_corrected:{clause_id}:{land.holder_id}:{utc(2026, 1, 22, 9).isoformat()}",
            "Paul Lambert <paul@example.org>",
        ),
        (
            f"award_corrected:{clause_id}:{land.partner_id}:{utc(2026, 1, 22, 9).isoformat()}",
            "=?utf-8?q?In=C3=A8s_Moreau?= <ines@example.org>",
        ),
    ]
    body = told[0][3]
    assert "Démarrage : 2 mars 2026 → 1er avril 2026" in body
    assert "Peintures d'Auch" not in body  # what changed for another company is not its business
    assert "Exécution : du 1er avril 2026 au 31 décembre 2026" in body
    # Not started yet: the first call is promised for a start recorded in time only.
    assert (
        "Si l'exécution démarre comme prévu le 1er avril 2026, je vous demanderai votre "
        "déclaration d'avril 2026 le 4 mai 2026" in body
    )
    clean(app)


def test_a_correction_that_leaves_a_company_s_welcome_true_does_not_write_to_it(
    app: App,
) -> None:
    wired(app)
    land = territory(app)
    clause_id = new_clause(app, land, ClauseEvent.DRAFT, ClauseEvent.AWARD)
    award(app, clause_id, land, at=utc(2026, 1, 20, 9))
    all_left(app)

    award(app, clause_id, land, at=utc(2026, 1, 22, 9), holder_hours=450)

    told = rows(app, "company_award_corrected")
    assert [to for _, to, _, _, _ in told] == ["Paul Lambert <paul@example.org>"]
    assert "Heures confiées à Bâtiments Gascons : 500\u00a0h → 450\u00a0h" in told[0][3]
    assert [state for _, _, state, _, _ in rows(app, "company_welcome")] == ["sent", "sent"]
    clean(app)


def test_a_welcome_refused_is_written_again_so_that_a_retry_states_the_new_start(
    app: App,
) -> None:
    """A welcome refused by the server (a wrong address) is not left as it is: sent again once
    the address is corrected, it would state the start the correction changed."""
    wired(app)
    land = territory(app)
    clause_id = new_clause(app, land, ClauseEvent.DRAFT, ClauseEvent.AWARD)
    award(app, clause_id, land, at=utc(2026, 1, 20, 9))
    with app.transaction() as session:
        for row in session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "company_welcome")
        ):
            row.state, row.next_attempt_at = "failed", None
            row.last_error = "Refus définitif : 550 5.1.1 Boîte aux lettres inconnue"

    award(app, clause_id, land, at=utc(2026, 1, 22, 9), start=date(2026, 3, 16))

    welcomes = rows(app, "company_welcome")
    assert [state for _, _, state, _, _ in welcomes] == [
        "cancelled",
        "cancelled",
        "pending",
        "pending",
    ]
    for _, _, _, body, _ in welcomes[2:]:
        assert "Exécution : du 16 mars 2026 au 31 décembre 2026" in body
    assert rows(app, "company_award_corrected") == []
    clean(app)
