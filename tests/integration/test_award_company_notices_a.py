"""What a company is told when its lot is awarded, through the real services (SQLite and
PostgreSQL): a lot not started yet is promised its first call only if its start is recorded in
time, and corrections that follow one another before their short email left reach it as one
email, from what its last email that left told it to the award as it stands."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from tests.integration._ladders import ladder_pass, ladders
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
from workflow.domain.stages import ClauseEvent
from workflow.services.clauses import advance_clause

MARCH = date(2026, 3, 1)
WELCOME_PROMISE = (
    "Si l'exécution démarre comme prévu le 2 mars 2026, je vous demanderai votre déclaration "
    "de mars 2026 le 1er avril 2026, à m'envoyer au plus tard le 10 avril 2026. Si "
    "j'enregistre le démarrage après le 31 mars 2026, l'appel à déclarer partira le jour ouvré "
    "qui suit cet enregistrement, avec le délai habituel compté à partir de cet appel."
)


def mails(app: App, kind: str) -> list[tuple[str, str, str, str | None]]:
    """(key, state, text, reason withdrawn) of each email of ``kind``, in the order written."""
    with app.transaction() as session:
        found = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
        )
        return [(r.key, r.state, squash(r.body_text), r.last_error) for r in found]


def start(app: App, clause_id: int, at: datetime) -> None:
    with app.transaction() as session:
        advance_clause(
            session,
            clause_id,
            ClauseEvent.START,
            actor="Camille Martin",
            reason=None,
            now=at,
            publish=app.publish,
        )


def first_calls(app: App) -> list[tuple[date, date]]:
    """(the day the first month's call left, the due date it gave), per company."""
    return [
        (ladder.called_at.date(), ladder.due_on)
        for ladder in ladders(app)
        if ladder.month == MARCH and ladder.called_at is not None
    ]


def test_the_welcome_of_a_lot_not_started_promises_its_first_call_only_for_a_start_in_time(
    app: App,
) -> None:
    """Awarded on 20 January, start planned on 2 March: the welcome names the call of 1 April
    and its 10 April as what follows a start recorded by 31 March, which the ladder then keeps."""
    land = territory(app)
    clause_id = new_clause(app, land, ClauseEvent.DRAFT, ClauseEvent.AWARD)
    award(app, clause_id, land, at=utc(2026, 1, 20, 9))

    welcomes = mails(app, "company_welcome")
    assert len(welcomes) == 2
    for _, _, body, _ in welcomes:
        assert WELCOME_PROMISE in body
        assert (
            "Les dates limites de ce message valent pour un démarrage enregistré au plus tard "
            "le 31 mars 2026." in body
        )

    # Recorded on the last day the welcome names (20:00 in Paris): the promise holds.
    start(app, clause_id, utc(2026, 3, 31, 18))
    ladder_pass(app, utc(2026, 4, 1, 7))
    assert first_calls(app) == [(date(2026, 4, 1), date(2026, 4, 10))] * 2
    clean(app)


def test_a_start_recorded_after_the_day_the_welcome_names_moves_the_first_call(app: App) -> None:
    """The condition is not a formality: recorded on 2 April, the start gives the first call
    the next working day and a later due date than 10 April, as the welcome warned."""
    land = territory(app)
    clause_id = new_clause(app, land, ClauseEvent.DRAFT, ClauseEvent.AWARD)
    award(app, clause_id, land, at=utc(2026, 1, 20, 9))
    assert all(WELCOME_PROMISE in body for _, _, body, _ in mails(app, "company_welcome"))

    start(app, clause_id, utc(2026, 4, 2, 8))
    ladder_pass(app, utc(2026, 4, 2, 7))
    assert first_calls(app) == []
    ladder_pass(app, utc(2026, 4, 3, 7))
    calls = first_calls(app)
    assert [called for called, _ in calls] == [date(2026, 4, 3)] * 2
    assert all(due > date(2026, 4, 10) for _, due in calls)
    clean(app)


def test_two_corrections_before_the_first_left_make_one_email_from_the_welcome(app: App) -> None:
    """Welcomed with a start on 2 March; corrected to 16 March, then, before that email left, to
    1 April with other hours for the holder: one email per company, from what its welcome said
    to the award as it stands; the first withdrawn with its reason."""
    land = territory(app)
    clause_id = new_clause(app, land, ClauseEvent.DRAFT, ClauseEvent.AWARD)
    award(app, clause_id, land, at=utc(2026, 1, 20, 9))
    all_left(app)

    award(app, clause_id, land, at=utc(2026, 1, 22, 9), start=date(2026, 3, 16))
    award(app, clause_id, land, at=utc(2026, 1, 23, 9), start=date(2026, 4, 1), holder_hours=450)

    told = mails(app, "company_award_corrected")
    assert [(key.split(":")[2], state) for key, state, _, _ in told] == [
        (str(land.holder_id), "cancelled"),
        (str(land.partner_id), "cancelled"),
        (str(land.holder_id), "pending"),
        (str(land.partner_id), "pending"),
    ]
    holder, partner = told[2][2], told[3][2]
    for body in (holder, partner):
        assert "depuis mon message d'accueil : - Démarrage : 2 mars 2026 → 1er avril 2026" in body
        assert "16 mars 2026" not in body  # the intermediate start is never told
        assert "Si l'exécution démarre comme prévu le 1er avril 2026" in body
    assert "Heures confiées à Bâtiments Gascons : 500\u00a0h → 450\u00a0h" in holder
    assert "Heures confiées" not in partner
    assert told[0][3] == (
        "Remplacé : attribution corrigée de nouveau le 23 janvier 2026 (Heures confiées à "
        "Bâtiments Gascons : 500\u00a0h → 450\u00a0h ; Démarrage : 16 mars 2026 → 1er avril 2026) ; un "
        "seul courriel part à sa place, de ce que disait l'accueil parti à l'attribution à jour "
        "(Démarrage : 2 mars 2026 → 1er avril 2026 ; Heures confiées à Bâtiments Gascons : "
        "500\u00a0h → 450\u00a0h)."
    )
    assert [key.split(":", 3)[2:] for key, _, _, _ in told[2:]] == [
        [str(land.holder_id), utc(2026, 1, 23, 9).isoformat()],
        [str(land.partner_id), utc(2026, 1, 23, 9).isoformat()],
    ]
    assert [state for _, state, _, _ in mails(app, "company_welcome")] == ["sent", "sent"]
    clean(app)


def test_a_correction_undone_before_its_email_left_writes_nothing(app: App) -> None:
    land = territory(app)
    clause_id = new_clause(app, land, ClauseEvent.DRAFT, ClauseEvent.AWARD)
    award(app, clause_id, land, at=utc(2026, 1, 20, 9))
    all_left(app)

    award(app, clause_id, land, at=utc(2026, 1, 22, 9), start=date(2026, 3, 16))
    award(app, clause_id, land, at=utc(2026, 1, 23, 9), start=date(2026, 3, 2))

    told = mails(app, "company_award_corrected")
    assert [state for _, state, _, _ in told] == ["cancelled", "cancelled"]
    assert told[0][3] == (
        "Retiré : attribution corrigée de nouveau le 23 janvier 2026 (Démarrage : 16 mars 2026 → "
        "2 mars 2026) ; elle redit à Bâtiments Gascons ce que lui disait son dernier courriel "
        "parti : plus rien à lui écrire."
    )
    clean(app)


def test_a_correction_after_one_that_left_starts_from_that_one(app: App) -> None:
    land = territory(app)
    clause_id = new_clause(app, land, ClauseEvent.DRAFT, ClauseEvent.AWARD)
    award(app, clause_id, land, at=utc(2026, 1, 20, 9))
    all_left(app)
    award(app, clause_id, land, at=utc(2026, 1, 22, 9), start=date(2026, 3, 16))
    all_left(app)

    award(app, clause_id, land, at=utc(2026, 1, 23, 9), start=date(2026, 4, 1))

    told = mails(app, "company_award_corrected")
    assert [state for _, state, _, _ in told] == ["sent", "sent", "pending", "pending"]
    assert (
        "depuis mon dernier message sur l'attribution : - Démarrage : 16 mars 2026 → "
        "1er avril 2026" in told[2][2]
    )
    clean(app)
