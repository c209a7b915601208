"""A final report outdated by a change of the lot's figures: the clause does not close on it, and
the report recorded again tells the buyer it replaces the first.

User trial: the buyer received « Heures d'insertion réalisées : 1 248 h sur 1 200 h prévues
(104 %) »; the next day a declaration was corrected and another cancelled (both accepted in
« suivi et bilan »), then the clause was closed: its figures frozen at 1 100 h, the buyer never
told. A report recorded again said nothing of the first.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration.test_notices import REFERENCES, Walk, at, make_territory
from tests.text import squash, visible
from workflow.adapters.orm import Clause, OutboxMessage
from workflow.bootstrap import App
from workflow.domain.stages import ClauseEvent, Stage
from workflow.domain.vocabulary import ContractType, DeliveryMode
from workflow.errors import TransitionRefused
from workflow.services import clauses as clause_service
from workflow.services.declarations import LineInput, record_declaration

NBSP = "\u00a0"


def _report(walk: Walk, day: date, text: str) -> None:
    walk.clock.set(at(day))
    with walk.app.transaction() as session:
        clause_service.record_final_report(
            session,
            walk.clause_id,
            text=text,
            actor="Camille Martin",
            now=walk.clock(),
            publish=walk.publish,
        )


def _correct_april(walk: Walk, day: date) -> None:
    """April's declaration corrected: 60 h → 20 h."""
    walk.clock.set(at(day))
    with walk.app.transaction() as session:
        record_declaration(
            session,
            clause_id=walk.clause_id,
            company_id=walk.territory.holder_id,
            month=date(2026, 4, 1),
            lines=[
                LineInput(
                    walk.territory.participant_ids[0],
                    Decimal("20"),
                    DeliveryMode.DIRECT_HIRING,
                    ContractType.CDD,
                )
            ],
            actor="Camille Martin",
            now=walk.clock(),
            source="test",
            publish=walk.publish,
            replace=True,
        )


def _reports(app: App) -> list[OutboxMessage]:
    with app.transaction() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.kind == "notice_final_report")
            .order_by(OutboxMessage.id)
        ).all()
        session.expunge_all()
        return list(rows)


def _sent(app: App) -> None:
    with app.transaction() as session:
        for row in session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "notice_final_report")
        ):
            if row.state == "pending":
                row.state = "sent"


def _lived_to_the_report(app: App, clock: Clock) -> Walk:
    walk = Walk(app, clock, make_territory(app, clock))
    walk.create()
    walk.advance(ClauseEvent.DRAFT, date(2025, 11, 3))
    walk.advance(ClauseEvent.AWARD, date(2025, 12, 15))
    walk.award(date(2026, 2, 9))
    walk.advance(ClauseEvent.START, date(2026, 3, 2))
    walk.declare(date(2026, 3, 1), ("120", "80.5"), date(2026, 4, 7))
    walk.declare(date(2026, 4, 1), ("60",), date(2026, 5, 6))
    walk.advance(ClauseEvent.FINISH, date(2026, 6, 26), end_date=date(2026, 6, 26))
    _report(walk, date(2026, 9, 15), "Très bon parcours.")
    return walk


def test_a_clause_does_not_close_on_a_report_its_figures_no_longer_match(
    app: App, clock: Clock
) -> None:
    walk = _lived_to_the_report(app, clock)
    _sent(app)
    (first,) = _reports(app)
    assert f"260,50{NBSP}h" in first.body_text or "260,50 h" in squash(first.body_text)

    # April corrected after the report: 60 h → 20 h.
    _correct_april(walk, date(2026, 9, 16))
    with pytest.raises(TransitionRefused) as refused:
        walk.advance(ClauseEvent.CLOSE, date(2026, 9, 17))
    assert (
        "impossible de passer à « clôturée » (clôturer), il manque un bilan à jour : les "
        "chiffres du lot ont changé depuis le bilan enregistré (déclaration mensuelle) ; "
        "enregistrez de nouveau le bilan, le donneur d'ordre recevra le bilan à jour."
    ) in str(refused.value).replace(NBSP, " ")
    with app.transaction() as session:
        assert session.get_one(Clause, walk.clause_id).stage == Stage.FOLLOW_UP.value

    # Recorded again: the buyer reads the figures of now, and that it replaces the first.
    _report(walk, date(2026, 9, 18), f"Très bon parcours de {REFERENCES[0].lower()}.")
    first, second = _reports(app)
    assert first.state == "sent" and second.state == "pending"
    assert second.subject.startswith("Bilan mis à jour de la clause d'insertion")
    text = squash(second.body_text)
    assert (
        "Ce bilan remplace celui du 15 septembre 2026 que je vous ai adressé : les chiffres du "
        "lot ont changé depuis (déclaration mensuelle)." in text
    )
    assert "220,50 h sur" in text.replace(NBSP, " ")
    assert f"Ce bilan remplace celui du 15 septembre 2026 que je vous ai adressé{NBSP}:" in (
        visible(second.body_html)
    )
    assert "remplace" not in first.body_text

    walk.advance(ClauseEvent.CLOSE, date(2026, 9, 30))
    with app.transaction() as session:
        assert session.get_one(Clause, walk.clause_id).stage == Stage.CLOSED.value


def test_a_report_recorded_again_before_the_first_left_replaces_it(app: App, clock: Clock) -> None:
    walk = _lived_to_the_report(app, clock)
    _correct_april(walk, date(2026, 9, 16))
    _report(walk, date(2026, 9, 17), "Bilan corrigé.")
    first, second = _reports(app)
    # The buyer never read the first: it is withdrawn, and the second replaces nothing it read.
    assert first.state == "cancelled"
    assert first.last_error == (
        "Remplacé : un nouveau bilan du lot a été enregistré le 17 septembre 2026 ; il part à "
        "sa place, avec les chiffres à jour."
    )
    assert second.state == "pending" and "remplace" not in second.body_text
    assert second.subject.startswith("Bilan de la clause d'insertion")
    walk.advance(ClauseEvent.CLOSE, date(2026, 9, 30))


def _state_of_reports(app: App, state: str) -> None:
    with app.transaction() as session:
        for row in session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "notice_final_report")
        ):
            row.state = state


def test_a_report_refused_by_the_buyer_server_counts_as_written(app: App, clock: Clock) -> None:
    """A report's notice refused (« Renvoyer » would send it as written) is not rewritten at the
    closure: its figures outdated, the closure asks for a report again (review)."""
    walk = _lived_to_the_report(app, clock)
    _state_of_reports(app, "failed")
    _correct_april(walk, date(2026, 9, 16))
    with pytest.raises(TransitionRefused):
        walk.advance(ClauseEvent.CLOSE, date(2026, 9, 17))
    _report(walk, date(2026, 9, 18), "Bilan à jour.")
    first, second = _reports(app)
    # The refused one is withdrawn: « Renvoyer » can no longer send the old figures.
    assert first.state == "cancelled" and second.state == "pending"
    walk.advance(ClauseEvent.CLOSE, date(2026, 9, 30))


def test_a_report_whose_text_alone_was_revised_says_so(app: App, clock: Clock) -> None:
    walk = _lived_to_the_report(app, clock)
    _sent(app)
    _report(walk, date(2026, 9, 18), "Bilan : texte revu.")
    _, second = _reports(app)
    assert (
        "Ce bilan remplace celui du 15 septembre 2026 que je vous ai adressé : son texte a été "
        "revu, les chiffres du lot n'ont pas changé." in squash(second.body_text)
    )
    assert "ont changé depuis" not in second.body_text
