"""A company taken out of the award after its welcome left is told so, once (SQLite and
PostgreSQL): the lot, the day, and that it has nothing to declare there, which the service then
holds to (no call, no ladder). Taken out before its welcome left, or added back before the short
email left, it reads nothing of the kind; its notice of the lot suspended, still waiting, is
withdrawn with it.

Before: a company that read « vous êtes attributaire… déclarez chaque mois » and was then taken
out of the award was never told, and kept believing it had months to declare."""

from __future__ import annotations

import email
import email.policy
from datetime import date
from email.message import EmailMessage

from sqlalchemy import select

from tests.integration._ladders import ladder_pass, ladders
from tests.integration.test_award_company_notices_a import start
from tests.integration.test_award_correction_companies import rows, wired
from tests.integration.test_clause_corrections import (
    Territory,
    all_left,
    award,
    new_clause,
    territory,
    utc,
)
from tests.text import squash, visible
from workflow.adapters.mail.files import FileTransport
from workflow.adapters.orm import OutboxMessage
from workflow.app.audit import verify_database
from workflow.bootstrap import App
from workflow.domain.events import AwardCorrected
from workflow.domain.stages import ClauseEvent
from workflow.domain.vocabulary import PartyRole
from workflow.emails.envelope import Recipient
from workflow.services.award_company_notices import tell_companies
from workflow.services.clauses import AwardResult, PartyInput, advance_clause, apply_award
from workflow.services.dispatch import dispatch_due
from workflow.settings import Settings

REMOVED = "company_award_removed"
NBSP = "\u00a0"
TOLD = (
    f"L'attribution du lot 01 «{NBSP}Gros œuvre{NBSP}» a été corrigée le 23 janvier 2026 : Peintures "
    "d'Auch n'en fait plus partie à compter de cette date."
)
NOTHING_OWED = (
    "Les mois à déclarer et les dates limites que vous annonçait mon message d'accueil ne "
    "valent plus. Aucun mois ne vous a été demandé sur ce lot et aucun ne vous sera demandé : "
    "vous n'avez rien à déclarer pour ce lot. Vous ne recevrez pour lui ni appel à déclarer ni "
    "rappel, et les liens de déclaration en ligne de mes messages précédents ne servent plus."
)


def with_newcomer(land: Territory) -> tuple[PartyInput, ...]:
    """Peintures d'Auch, subcontractor for 50 h, read by its only correspondent, Zoé Petit."""
    return (PartyInput(land.newcomer_id, PartyRole.SUBCONTRACTOR, None, 50),)


def awarded_with_newcomer(app: App, land: Territory) -> int:
    clause_id = new_clause(app, land, ClauseEvent.DRAFT, ClauseEvent.AWARD)
    award(app, clause_id, land, at=utc(2026, 1, 20, 9), extra=with_newcomer(land))
    return clause_id


def newcomer_welcomes(app: App, land: Territory) -> list[tuple[str, str | None]]:
    return [
        (state, reason)
        for key, _, state, _, reason in rows(app, "company_welcome")
        if key.split(":")[2] == str(land.newcomer_id)
    ]


def received(settings: Settings, kind: str) -> list[EmailMessage]:
    """The emails of ``kind`` the dispatcher put in the mail folder, as a mail client reads
    them."""
    return [
        email.message_from_bytes(
            path.read_bytes(), _class=EmailMessage, policy=email.policy.default
        )
        for path in sorted((settings.mail_dir / kind).glob("*.eml"))
    ]


def test_a_company_taken_out_after_its_welcome_left_is_told_it_has_nothing_to_declare(
    app: App, settings: Settings
) -> None:
    wired(app)
    land = territory(app)
    clause_id = awarded_with_newcomer(app, land)
    transport = FileTransport(settings.mail_dir)
    dispatch_due(app, utc(2026, 1, 20, 10), transport=transport)
    assert [state for state, _ in newcomer_welcomes(app, land)] == ["sent"]

    result, _ = award(app, clause_id, land, at=utc(2026, 1, 23, 9))

    assert result is AwardResult.CORRECTED
    [(key, to, state, body, _)] = rows(app, REMOVED)
    assert key == f"award_removed:{clause_id}:{land.newcomer_id}:{utc(2026, 1, 23, 9).isoformat()}"
    assert (to, state) == (Recipient("Zoé Petit", "zoe@example.org").formatted(), "pending")
    assert body.startswith(f"Bonjour Zoé Petit, {TOLD}")
    assert (
        "- Donneur d'ordre : Gers Habitat - Opération : Résidence des Tilleuls - Marché : "
        "2026-014 – Travaux - Lot : 01 – Gros œuvre"
    ) in body
    assert (
        "Ce qui change pour Peintures d'Auch depuis mon message d'accueil du 20 janvier 2026 : "
        f"- Peintures d'Auch : sous-traitant, 50{NBSP}h d'insertion → retirée de l'attribution"
    ) in body
    assert NOTHING_OWED in body
    assert "en cours d'envoi" not in body
    # The companies still in the award read nothing of the kind.
    assert [state for state, _ in newcomer_welcomes(app, land)] == ["sent"]

    # As Zoé Petit reads it.
    dispatch_due(app, utc(2026, 1, 23, 10), transport=transport)
    [message] = received(settings, REMOVED)
    assert "zoe@example.org" in str(message["To"])
    assert message["Subject"] == (
        "Clause d'insertion : Peintures d'Auch retirée de l'attribution – Résidence des "
        "Tilleuls, lot 01 – Gros œuvre"
    )
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert TOLD in squash(text.get_content())
    assert NOTHING_OWED in squash(text.get_content())
    page = visible(html.get_content())
    assert f"corrigée le 23 janvier 2026{NBSP}: Peintures d'Auch n'en fait plus partie" in page
    assert f"vous sera demandé{NBSP}: vous n'avez rien à déclarer pour ce lot" in page

    # What it was told holds: the lot starts, the first calls leave, none for it.
    start(app, clause_id, utc(2026, 3, 2, 8))
    ladder_pass(app, utc(2026, 4, 1, 7))
    called = {ladder.company_id for ladder in ladders(app) if ladder.called_at is not None}
    assert called == {land.holder_id, land.partner_id}
    with app.transaction() as session:
        assert not session.scalars(
            select(OutboxMessage.key).where(
                OutboxMessage.key.like(f"reminder:{clause_id}:{land.newcomer_id}:%")
            )
        ).all()
    # The audit knows the email: a history row of the lot at its key's instant, nothing odd.
    assert verify_database(app).findings == ()


def test_of_two_companies_taken_out_only_the_one_whose_welcome_left_is_told(app: App) -> None:
    """The co-contractor's welcome still waits when both are taken out: it is withdrawn, and
    nothing else is written to it; the subcontractor, whose welcome left, is told."""
    wired(app)
    land = territory(app)
    clause_id = awarded_with_newcomer(app, land)
    with app.transaction() as session:
        welcome = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.kind == "company_welcome",
                OutboxMessage.key.like(f"welcome:{clause_id}:{land.newcomer_id}:%"),
            )
        ).one()
        welcome.state, welcome.sent_at = "sent", welcome.created_at

    with app.transaction() as session:
        apply_award(
            session,
            clause_id,
            parties=[
                PartyInput(land.holder_id, PartyRole.HOLDER, land.holder_correspondent_id, 700)
            ],
            start_date=date(2026, 3, 2),
            planned_end_date=date(2026, 12, 31),
            actor="Camille Martin",
            now=utc(2026, 1, 23, 9),
            publish=app.publish,
        )

    assert [(key.split(":")[2], to) for key, to, _, _, _ in rows(app, REMOVED)] == [
        (str(land.newcomer_id), Recipient("Zoé Petit", "zoe@example.org").formatted())
    ]
    partner = [
        (state, reason)
        for key, _, state, _, reason in rows(app, "company_welcome")
        if key.split(":")[2] == str(land.partner_id)
    ]
    assert partner == [
        (
            "cancelled",
            "Retiré : attribution corrigée le 23 janvier 2026, Menuiseries du Gers n'est plus "
            "dans l'attribution du lot ; ce courriel n'avait plus lieu d'être.",
        )
    ]


def test_a_company_is_told_once_whatever_follows_while_it_stays_out(app: App) -> None:
    """The same correction handled twice (the command replayed), the award recorded again as it
    is, then corrected in something else: one email."""
    wired(app)
    land = territory(app)
    clause_id = awarded_with_newcomer(app, land)
    all_left(app)

    _, events = award(app, clause_id, land, at=utc(2026, 1, 23, 9))
    [event] = events
    assert isinstance(event, AwardCorrected)
    with app.transaction() as session:
        tell_companies(app, session, event)
    again, _ = award(app, clause_id, land, at=utc(2026, 1, 24, 9))
    assert again is AwardResult.UNCHANGED
    award(app, clause_id, land, at=utc(2026, 1, 26, 9), holder_hours=450)
    all_left(app)
    award(app, clause_id, land, at=utc(2026, 1, 27, 9), start=date(2026, 3, 16))

    assert [(key.split(":")[2], state) for key, _, state, _, _ in rows(app, REMOVED)] == [
        (str(land.newcomer_id), "sent")
    ]


def test_a_company_added_back_before_the_email_left_gets_its_welcome_instead(app: App) -> None:
    """Added back, the email it has not read is withdrawn: its new welcome tells it where it
    stands. Taken out again before that welcome left, it is told again: the last thing it
    read is its first welcome."""
    wired(app)
    land = territory(app)
    clause_id = awarded_with_newcomer(app, land)
    all_left(app)
    award(app, clause_id, land, at=utc(2026, 1, 23, 9))

    award(app, clause_id, land, at=utc(2026, 1, 26, 9), extra=with_newcomer(land))

    [(_, _, state, _, reason)] = rows(app, REMOVED)
    assert (state, reason) == (
        "cancelled",
        "Retiré : attribution corrigée le 26 janvier 2026, Peintures d'Auch est de nouveau dans "
        "l'attribution du lot ; ce courriel n'avait plus lieu d'être.",
    )
    assert [state for state, _ in newcomer_welcomes(app, land)] == ["sent", "pending"]

    award(app, clause_id, land, at=utc(2026, 1, 27, 9))

    assert [state for _, _, state, _, _ in rows(app, REMOVED)] == ["cancelled", "pending"]
    assert [state for state, _ in newcomer_welcomes(app, land)] == ["sent", "cancelled"]
    assert "depuis mon message d'accueil du 20 janvier 2026" in rows(app, REMOVED)[1][3]


def test_a_welcome_that_may_still_arrive_is_named_so(app: App) -> None:
    wired(app)
    land = territory(app)
    clause_id = awarded_with_newcomer(app, land)
    with app.transaction() as session:
        for row in session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "company_welcome")
        ):
            row.state = "uncertain"

    award(app, clause_id, land, at=utc(2026, 1, 23, 9))

    [(_, _, _, body, _)] = rows(app, REMOVED)
    assert "depuis mon message d'accueil :" in body  # no date: it may never have arrived
    assert (
        "Mon message d'accueil était encore en cours d'envoi : s'il vous parvient après "
        "celui-ci, ne le prenez pas en compte."
    ) in body


def test_its_notice_of_the_lot_suspended_still_waiting_is_withdrawn(app: App) -> None:
    """Suspended before any call, a lot's companies are told the calls resume after the
    resumption; one taken out meanwhile would read that it will be called."""
    wired(app)
    land = territory(app)
    clause_id = awarded_with_newcomer(app, land)
    all_left(app)
    start(app, clause_id, utc(2026, 3, 2, 8))
    all_left(app)
    with app.transaction() as session:
        advance_clause(
            session,
            clause_id,
            ClauseEvent.SUSPEND,
            actor="Camille Martin",
            reason="intempéries",
            now=utc(2026, 3, 10, 9),
            publish=app.publish,
        )

    award(app, clause_id, land, at=utc(2026, 3, 11, 9))

    suspended = {
        key.split("company-")[1].split("@")[0]: (state, reason)
        for key, _, state, _, reason in rows(app, "company_lot_suspended")
    }
    assert suspended == {
        str(land.holder_id): ("pending", None),
        str(land.partner_id): ("pending", None),
        str(land.newcomer_id): (
            "cancelled",
            "Retiré : attribution corrigée le 11 mars 2026, Peintures d'Auch n'est plus dans "
            "l'attribution du lot ; ce courriel n'avait plus lieu d'être.",
        ),
    }
    [(_, _, _, body, _)] = rows(app, REMOVED)
    assert "a été corrigée le 11 mars 2026 : Peintures d'Auch n'en fait plus partie" in body
    assert "vous n'avez rien à déclarer pour ce lot" in body
