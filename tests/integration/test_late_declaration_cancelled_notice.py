"""A month told arrived after the buyer's alert, then cancelled: the buyer is told again.

Found by a user trial: once the notice « Déclaration reçue après mon alerte » had left, the
facilitator cancelled that declaration (``clauses declaration cancel``) and the buyer was told
nothing: believing the month arrived, the buyer dropped its formal notice while the month was
missing again, and learned it weeks later from the monthly summary. A notice
(``notice_late_declaration_cancelled``) now goes to the same readers: the declaration received
on such day (its hours), told on such day, cancelled on such day with the reason, the month
missing again and the alert's question standing again. Once per cancellation; none when the
notice had not left (it is withdrawn, as before). Declared again once it left: the buyer is
told the month arrived again; declared again before it leaves: it is withdrawn, the buyer's
last word (the month arrived) being true again.

On the real passes, command line (``declaration import``, ``declaration cancel``, ``audit
verify``) and dispatcher of a simulated clock, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import Lot
from tests.integration.test_late_declarations_grouped import (
    IMPORTED,
    SEP,
    SIRETS,
    alerted,
    audit_problems,
    command,
    import_lines,
    line,
    of,
    rows,
)
from tests.text import squash, visible
from workflow.adapters.orm import OutboxMessage
from workflow.adapters.templates import french_date
from workflow.bootstrap import App, bootstrap
from workflow.domain.calendar import at_local, local_date
from workflow.domain.events import DeclarationCancelled
from workflow.emails.envelope import OutboxState
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.services import late_declaration_notices
from workflow.services.dispatch import Claim, Outcome, claim_due, new_owner, record_outcomes
from workflow.services.ticks import simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

LATE = "notice_late_declaration_received"
CANCELLED = "notice_late_declaration_cancelled"
ALERT = "declaration_escalation"
#: The day the facilitator cancels, after the notice of 6 January left on the 7th.
CANCEL_DAY = date(2027, 1, 8)
REASON = "Heures d'un autre chantier déclarées sur ce lot"


@pytest.fixture
def app(settings: Settings, clock: Clock) -> Iterator[App]:
    application = bootstrap(settings, clock=clock)
    yield application
    application.close()


def cancel(settings: Settings, clock: Clock, lot: Lot, company_id: int, at: datetime) -> None:
    clock.set(at)
    command(
        settings, clock, "declaration", "cancel", "--clause", str(lot.clause_id),
        "--company", str(company_id), "--month", "09/2026", "--reason", REASON,
        "--actor", "Camille Martin",
    )  # fmt: skip


def at(app: App, day: date, hour: int, minute: int = 0) -> datetime:
    return at_local(day, time(hour, minute), app.settings.zone)


def of_company(found: list[OutboxMessage], prefix: str) -> list[OutboxMessage]:
    return [row for row in found if row.key.startswith(prefix)]


def told_september(
    app: App, settings: Settings, clock: Clock, tmp_path: Path
) -> tuple[Lot, OutboxMessage]:
    """September alerted (2 November), then declared by the holder on 6 January (120 h), its
    notice sent on the 7th."""
    lot = alerted(app)
    holder, _ = SIRETS
    import_lines(
        settings,
        clock,
        lot,
        tmp_path,
        [line(holder, SEP, "P-0101", "70"), line(holder, SEP, "P-0102", "50")],
        at(app, IMPORTED, 10),
    )
    simulate(app, date(2027, 1, 7), date(2027, 1, 7))
    [notice] = of_company(rows(app, LATE), of(lot, lot.company_ids[0]))
    assert notice.state == "sent"
    return lot, notice


def test_a_cancellation_after_the_notice_left_tells_the_buyer_once(
    app: App, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    lot, notice = told_september(app, settings, clock, tmp_path)
    holder_id, partner_id = lot.company_ids
    zone = app.settings.zone
    # The co-contractor's September arrives on the 8th at 9:00: its notice has not left when
    # it is cancelled, an hour later (withdrawn as before, nothing else told).
    _, partner = SIRETS
    import_lines(
        settings, clock, lot, tmp_path, [line(partner, SEP, "P-0201", "35")], at(app, CANCEL_DAY, 9)
    )
    cancel(settings, clock, lot, partner_id, at(app, CANCEL_DAY, 10))
    cancel(settings, clock, lot, holder_id, at(app, CANCEL_DAY, 10, 30))

    [partner_notice] = of_company(rows(app, LATE), of(lot, partner_id))
    assert partner_notice.state == "cancelled"
    assert partner_notice.last_error is not None
    assert partner_notice.last_error.startswith("Retiré : la déclaration a été annulée le ")
    assert of_company(rows(app, CANCELLED), f"late_cancelled:{lot.clause_id}:{partner_id}:") == []

    [told] = rows(app, CANCELLED)
    assert told.state == "pending"
    prefix = f"late_cancelled:{lot.clause_id}:{holder_id}:2026-09:"
    assert told.key.startswith(prefix)
    cancelled_at = datetime.fromisoformat(told.key.removeprefix(prefix))
    assert local_date(cancelled_at, zone) == CANCEL_DAY
    # The notice's readers: the buyer's contacts and the facilitator.
    assert told.recipients == notice.recipients
    assert told.subject.startswith(
        "Déclaration annulée, mois de nouveau manquant : septembre 2026, Bâtiments Gascons SARL"
    )
    alert = next(
        a
        for a in rows(app, ALERT)
        if a.key == f"reminder:{lot.clause_id}:{holder_id}:2026-09:escalation"
    )
    alerted_on = french_date(local_date(alert.sent_at or datetime.min, zone))
    told_on = french_date(local_date(notice.sent_at or datetime.min, zone))
    assert told_on == "7 janvier 2027"
    text = squash(told.body_text)
    assert (
        "J'ai annulé le 8 janvier 2027 la déclaration des heures d'insertion de septembre 2026 de "
        "Bâtiments Gascons SARL, titulaire, pour le lot 1 «\u00a0Gros œuvre\u00a0», reçue le "
        "6 janvier 2027 (120\u00a0h)."
    ) in text
    assert (
        f"Je vous avais écrit le {told_on} qu'elle m'était parvenue, après mon alerte du "
        f"{alerted_on} qui vous la signalait manquante : ce message ne vaut plus."
    ) in text
    assert f"Motif de l'annulation : «\u00a0{REASON}\u00a0»" in text
    assert "Ce mois est de nouveau manquant" in text
    assert f"La question de mon alerte du {alerted_on} se pose donc à nouveau" in text
    assert "P-0101" not in text and "P-0101" not in told.body_html
    assert "Ce mois est de nouveau manquant\u00a0:" in visible(told.body_html)

    # The same cancellation handled again writes nothing more.
    with app.transaction() as session:
        late_declaration_notices.tell_cancelled(
            app,
            session,
            DeclarationCancelled(
                clause_id=lot.clause_id,
                company_id=holder_id,
                month=SEP,
                declaration_id=0,
                total_hours=Decimal("120"),
                at=cancelled_at,
                actor="Camille Martin",
                reason=REASON,
                recorded_at=at(app, IMPORTED, 10),
                lines=2,
            ),
        )
    assert len(rows(app, CANCELLED)) == 1
    # The passes, twice: it leaves once.
    simulate(app, CANCEL_DAY, CANCEL_DAY)
    simulate(app, CANCEL_DAY, date(2027, 1, 11))
    [sent] = rows(app, CANCELLED)
    assert sent.state == "sent" and sent.id == told.id
    assert audit_problems(settings, clock) == []


def test_declared_again_after_it_left_the_buyer_is_told_it_arrived(
    app: App, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    lot, notice = told_september(app, settings, clock, tmp_path)
    holder_id = lot.company_ids[0]
    holder, _ = SIRETS
    cancel(settings, clock, lot, holder_id, at(app, CANCEL_DAY, 10))
    simulate(app, CANCEL_DAY, date(2027, 1, 11))
    [told] = rows(app, CANCELLED)
    assert told.state == "sent"
    # Declared again on the 11th: the buyer, who read it missing again, is told it arrived.
    import_lines(
        settings,
        clock,
        lot,
        tmp_path,
        [line(holder, SEP, "P-0101", "60")],
        at(app, date(2027, 1, 11), 11),
    )
    first, again = of_company(rows(app, LATE), of(lot, holder_id))
    assert first.id == notice.id
    assert again.state == "pending"
    assert again.key.startswith(f"{of(lot, holder_id)}2026-09:")
    assert "m'a transmis le 11 janvier 2027 sa déclaration" in squash(again.body_text)
    assert "60\u00a0h, 1 participant" in squash(again.body_text)
    simulate(app, date(2027, 1, 12), date(2027, 1, 12))
    assert audit_problems(settings, clock) == []


def test_declared_again_before_it_left_it_is_withdrawn(
    app: App, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    lot, notice = told_september(app, settings, clock, tmp_path)
    holder_id = lot.company_ids[0]
    holder, _ = SIRETS
    cancel(settings, clock, lot, holder_id, at(app, CANCEL_DAY, 10))
    import_lines(
        settings,
        clock,
        lot,
        tmp_path,
        [line(holder, SEP, "P-0101", "120")],
        at(app, CANCEL_DAY, 11),
    )
    [told] = rows(app, CANCELLED)
    assert told.state == "cancelled" and told.last_error is not None
    assert told.last_error == (
        "Retiré : le mois a été déclaré de nouveau le 8 janvier 2027, cet avis n'était plus vrai."
    )
    # The buyer's last word, « arrived », is true again: nothing more.
    assert [n.id for n in of_company(rows(app, LATE), of(lot, holder_id))] == [notice.id]
    simulate(app, CANCEL_DAY, date(2027, 1, 11))
    assert all(n.state != "pending" for n in rows(app, CANCELLED) + rows(app, LATE))
    assert audit_problems(settings, clock) == []


def test_the_audit_finds_a_key_naming_no_cancellation(
    app: App, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    lot, _ = told_september(app, settings, clock, tmp_path)
    holder_id = lot.company_ids[0]
    cancel(settings, clock, lot, holder_id, at(app, CANCEL_DAY, 10))
    assert audit_problems(settings, clock) == []
    with app.transaction() as session:
        row = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == CANCELLED)).one()
        row.key = f"late_cancelled:{lot.clause_id}:{holder_id}:2026-09:2027-01-08T05:00:00+00:00"
    state = CliState()
    state.factory = lambda: bootstrap(settings, clock=clock)
    result = CliRunner().invoke(cli, ["audit", "verify", "--json"], obj=state)
    assert result.exit_code == 1
    [problem] = json.loads(result.stdout)["problemes"]
    assert problem["probleme"] == (
        f"aucune annulation de déclaration sur la clause n° {lot.clause_id} à l'instant "
        "2027-01-08T05:00:00+00:00"
    )


def test_a_notice_on_the_wire_when_cancelled_is_followed_not_overtaken(
    app: App, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    """The notice of September taken by a dispatcher run that has not recorded it yet (it may
    reach the buyer) when the declaration is cancelled: the buyer is told, the notice saying
    its sending is not confirmed, and dated after the send in progress (its lease)."""
    lot = alerted(app)
    holder_id = lot.company_ids[0]
    holder, _ = SIRETS
    import_lines(
        settings, clock, lot, tmp_path, [line(holder, SEP, "P-0101", "42")], at(app, IMPORTED, 10)
    )
    [notice] = of_company(rows(app, LATE), of(lot, holder_id))
    assert notice.next_attempt_at is not None
    owner = new_owner()
    claimed = claim_due(app, notice.next_attempt_at + timedelta(minutes=1), 1000, Claim(owner))
    assert notice.id in {c.id for c in claimed}
    record_outcomes(
        app,
        owner,
        [
            Outcome(c.id, OutboxState.SENT, c.attempts + 1, sent_at=c.created_at)
            for c in claimed
            if c.id != notice.id
        ],
    )
    cancelled_at = at(app, IMPORTED, 10, 30)
    cancel(settings, clock, lot, holder_id, cancelled_at)
    [told] = rows(app, CANCELLED)
    text = squash(told.body_text)
    assert (
        "Mon message du 6 janvier 2027 vous annonçait qu'elle m'était parvenue, après mon alerte "
        "du 2 novembre 2026 qui vous la signalait manquante ; son envoi n'a pas été confirmé : "
        "s'il vous est parvenu, il ne vaut plus."
    ) in text
    assert "reçue le 6 janvier 2027 (42\u00a0h)" in text
    assert told.next_attempt_at == cancelled_at + timedelta(seconds=app.settings.mail_lease)
