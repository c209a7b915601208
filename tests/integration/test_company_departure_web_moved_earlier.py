"""A departure recorded again from the site with an earlier last month: the confirmation page
says what becomes of the company's email of the first one, as recording it then does.

The lot of ``test_company_departure_web``: Gimone Second Œuvre SAS declared September to February;
its departure is recorded on 20 March 2027 with last month March (its ``company_left`` email
queued), then, from the site, moved to February. Recording it withdraws the first email when it
has not left (« Remplacé : dernier mois avancé à février 2027 ») and the new one replaces it;
when it has left, the new one opens with « Ce message remplace mon courriel du 20 mars 2027 ».
Before, the confirmation page said nothing of it: the facilitator could not tell whether the
company would read one email or two.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import Lot
from tests.integration.test_company_departure_web import (
    GONE,
    _departure_emails,
    _sign_in,
    _site,
    lot,
)
from tests.text import squash, visible
from workflow.adapters.orm import OutboxMessage
from workflow.app import company_departures
from workflow.bootstrap import App
from workflow.services.dispatch import dispatch_due
from workflow.services.outbox import OutboxState

__all__ = ["lot"]  # the fixture, shared

NBSP = "\u00a0"
MARCH = date(2027, 3, 1)


def _left_in_march(app: App, lot: Lot) -> None:
    done = company_departures.record_departure(
        app, lot.clause_id, lot.company_ids[1], MARCH, reason="sa part est finie"
    )
    assert done.informed, done


def _confirmation(app: App, lot: Lot) -> tuple[str, dict[str, str], str]:
    """The confirmation page of the departure moved to February: its words, the form, the path."""
    site = _site(app)
    csrf = _sign_in(site)
    path = f"/corrections/lots/{lot.clause_id}/depart"
    data = {
        "csrf": csrf,
        "entreprise": str(lot.company_ids[1]),
        "mois": "2027-02",
        "reason": "sa part a fini en février",
    }
    page = site.post(path, data=data)
    assert page.status_code == 200, visible(page.text)
    return squash(visible(page.text)), data, path


def _bodies(app: App, lot: Lot) -> list[tuple[str, str, str | None]]:
    with app.transaction() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.clause_id == lot.clause_id, OutboxMessage.kind == "company_left")
            .order_by(OutboxMessage.id)
        ).all()
        return [(row.state, squash(row.body_text), row.last_error) for row in rows]


def test_the_email_not_yet_sent_is_said_withdrawn_and_replaced(
    app: App, lot: Lot, clock: Clock
) -> None:
    _left_in_march(app, lot)
    said, data, path = _confirmation(app, lot)
    assert (
        f"Le courriel qui annonçait à {GONE} son départ (dernier mois mars 2027) n'est pas encore "
        f"parti{NBSP}: il sera retiré et remplacé par le nouveau, qui nommera février 2027 comme "
        f"dernier mois{NBSP}: elle ne recevra que le nouveau." in said
    ), said
    assert "déjà parti" not in said, said
    # Nothing written by the page: the first email still waits.
    assert [state for state, _, _ in _bodies(app, lot)] == [OutboxState.PENDING]
    # Confirmed, it is so: the first withdrawn, the new one alone waits, with February.
    site = _site(app)
    data["csrf"] = _sign_in(site)
    done = site.post(path, data={**data, "confirmation": "oui"})
    assert done.status_code == 200, visible(done.text)
    (first_state, _, reason), (state, body, _) = _bodies(app, lot)
    assert first_state == OutboxState.CANCELLED and state == OutboxState.PENDING
    assert reason == f"Remplacé{NBSP}: dernier mois avancé à février 2027."
    assert "son dernier mois à déclarer pour ce lot est février 2027" in body, body
    assert "remplace mon courriel" not in body, body


def test_the_email_already_sent_is_said_followed_by_a_new_one(
    app: App, lot: Lot, clock: Clock
) -> None:
    _left_in_march(app, lot)
    dispatch_due(app, clock())  # the first email leaves, on 20 March
    assert [state for state, _, _ in _bodies(app, lot)] == [OutboxState.SENT]
    said, data, path = _confirmation(app, lot)
    assert (
        f"Le courriel du 20 mars 2027 qui annonçait à {GONE} son départ (dernier mois mars "
        f"2027) est déjà parti{NBSP}: un nouveau courriel lui dira qu'il le remplace et que son "
        "dernier mois est avancé à février 2027." in said
    ), said
    assert "n'est pas encore parti" not in said, said
    site = _site(app)
    data["csrf"] = _sign_in(site)
    done = site.post(path, data={**data, "confirmation": "oui"})
    assert done.status_code == 200, visible(done.text)
    (first_state, _, _), (_, body, _) = _bodies(app, lot)
    assert first_state == OutboxState.SENT
    # What the page announced, word for word in the new email.
    assert (
        f"Ce message remplace mon courriel du 20 mars 2027 : le dernier mois de {GONE} sur ce "
        "lot est avancé à février 2027." in body
    ), body
    assert len(_departure_emails(app, lot)) == 2
