"""A notice of several months: its reasons, its opening, a recording handled twice.

Found in review of the grouped notice (``DeclarationsRecorded``):

- A notice of several months withdrawn because its alert was withdrawn before leaving said
  « l'alerte qui signalait de septembre et d'octobre 2026 manquant », and « ses autres mois sont
  dits dans un nouvel avis » when it had none left to tell. Now « l'alerte qui signalait
  septembre et octobre 2026 manquants … », and the other months only when a new notice names
  them.
- Two months corrected at once: « les déclarations … ont été corrigées ».
- Several alerts, one not left: the notice no longer opens « Je vous les ai signalées
  manquantes dans plusieurs alertes » (one never reached the buyer).
- The same recording handled twice withdrew the notice it had written and could not write it
  again (same key): the buyer was never told. Now the notice written at that instant stands.
- A notice of three months that left, one month then cancelled: only that month is told
  cancelled; another corrected after: nothing is sent.

On the real passes and dispatcher of a simulated clock, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import Lot, make_lot
from tests.integration.test_ladder_scenarios import paris
from tests.integration.test_late_declarations_grouped import (
    HEADER,
    IMPORTED,
    NOV,
    OCT,
    SEP,
    SIRETS,
    alerted,
    audit_problems,
    command,
    line,
    of,
    three_months,
)
from tests.text import squash, visible
from workflow.adapters.orm import OutboxMessage
from workflow.app.clause_corrections import cancel_declaration
from workflow.bootstrap import App, bootstrap
from workflow.domain.calendar import at_local
from workflow.domain.events import DeclarationsRecorded, DomainEvent
from workflow.emails.envelope import OutboxState
from workflow.services.declarations import grouped, record_declaration
from workflow.services.dispatch import Claim, Outcome, claim_due, new_owner, record_outcomes
from workflow.services.late_declaration_notices import tell_buyer
from workflow.services.ticks import simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

KIND = "notice_late_declaration_received"
CANCELLED = "notice_late_declaration_cancelled"
ALERT = "declaration_escalation"


def rows(app: App, kind: str) -> list[OutboxMessage]:
    with app.transaction() as session:
        found = list(
            session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
            )
        )
        for row in found:
            session.expunge(row)
        return found


def record_together(app: App, lot: Lot, months: list[date], at: datetime) -> None:
    """The months recorded at zero hours in one transaction, published as every channel does
    (each month's events, then one ``DeclarationsRecorded`` for them: ``grouped``)."""
    pending: list[DomainEvent] = []
    with app.transaction() as session:
        for month in months:
            record_declaration(
                session,
                clause_id=lot.clause_id,
                company_id=lot.company_ids[0],
                month=month,
                lines=[],
                actor="test",
                now=at,
                source="test",
                publish=lambda _session, event: pending.append(event),
            )
        for event in grouped(pending):
            app.publish(session, event)


def three_months_alert_on_the_wire(app: App) -> tuple[Lot, OutboxMessage, str]:
    """A lot started late: September, October and November called together on 4 December,
    one alert naming the three queued for 7 January 2027 09:00 and taken by a dispatcher run
    that has not recorded it yet (sending); every other email recorded sent."""
    lot = make_lot(app, start=SEP, end=date(2027, 6, 30), at=paris(date(2026, 12, 3), 10))
    simulate(app, date(2026, 12, 3), date(2027, 1, 7), dispatch=False)
    [alert] = [a for a in rows(app, ALERT) if a.key.endswith(":2026-09..2026-11:escalation")]
    assert alert.next_attempt_at is not None
    owner = new_owner()
    claimed = claim_due(app, alert.next_attempt_at, 1000, Claim(owner))
    assert alert.id in {c.id for c in claimed}
    record_outcomes(
        app,
        owner,
        [
            Outcome(c.id, OutboxState.SENT, c.attempts + 1, sent_at=c.created_at)
            for c in claimed
            if c.id != alert.id
        ],
    )
    return lot, alert, owner


def test_a_notice_whose_alert_is_withdrawn_says_its_months_and_nothing_of_others(
    settings: Settings, clock: Clock
) -> None:
    """The alert of three months on the wire; September and October arrive in one file: one
    notice of the two follows it. Its send fails, it waits again; November arrives: the alert,
    all its months received, is withdrawn, and the notice with it. Its reason names the two
    months as a list, plural, and no new notice (there is none: no month of it is owed)."""
    app = bootstrap(settings, clock=clock)
    try:
        zone = app.settings.zone
        lot, alert, owner = three_months_alert_on_the_wire(app)
        record_together(app, lot, [SEP, OCT], at_local(date(2027, 1, 7), time(9, 1), zone))
        [notice] = rows(app, KIND)
        assert notice.state == OutboxState.PENDING
        assert ":2026-09..2026-10:" in notice.key
        retry = at_local(date(2027, 1, 7), time(10), zone)
        failed = Outcome(
            alert.id,
            OutboxState.PENDING,
            1,
            next_attempt_at=retry,
            last_error="Échec passager : 421 service temporairement indisponible",
        )
        assert record_outcomes(app, owner, [failed]) == []
        record_together(app, lot, [NOV], at_local(date(2027, 1, 7), time(9, 20), zone))
        assert [a.state for a in rows(app, ALERT) if a.id == alert.id] == [OutboxState.CANCELLED]
        [notice] = rows(app, KIND)
        assert notice.state == OutboxState.CANCELLED
        assert notice.last_error == (
            "Retiré le 7 janvier 2027 : l'alerte qui signalait septembre et octobre 2026 "
            "manquants a été retirée avant de partir ; cet avis n'avait plus lieu d'être pour "
            "ces mois."
        )
        simulate(app, date(2027, 1, 7), date(2027, 1, 8))
        assert [r.state for r in rows(app, KIND)] == [OutboxState.CANCELLED]
    finally:
        app.close()


def test_a_notice_withdrawn_for_one_gone_month_names_those_told_again(
    app: App, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    """Three alerts sent, the notice of the three months waiting; October cancelled: the
    reason names the two months told again, in the notice that replaces it."""
    lot = alerted(app)
    holder_id = lot.company_ids[0]
    three_months(app, settings, clock, lot, tmp_path)
    clock.set(at_local(IMPORTED, time(10, 30), app.settings.zone))
    cancel_declaration(
        app,
        clause=lot.clause_id,
        company=holder_id,
        month=OCT,
        reason="Déclaration envoyée sur le mauvais lot",
        actor="Camille Martin",
    )
    withdrawn, again = [n for n in rows(app, KIND) if n.key.startswith(of(lot, holder_id))]
    assert withdrawn.last_error == (
        "Retiré : la déclaration d'octobre 2026 a été annulée le 6 janvier 2027 par Camille "
        "Martin, cet avis n'était plus vrai ; ses autres mois (septembre et novembre 2026) "
        "sont dits dans un nouvel avis."
    )
    assert again.state == OutboxState.PENDING
    assert ":2026-09,2026-11:" in again.key


def corrected_file(
    settings: Settings, clock: Clock, lot: Lot, tmp_path: Path, at: datetime
) -> None:
    """September and November corrected in one file (``--replace``)."""
    holder, _ = SIRETS
    path = tmp_path / f"corrige-{at:%Y%m%d%H%M}.csv"
    body = [
        HEADER,
        line(holder, SEP, "P-0101", "75"),
        line(holder, SEP, "P-0102", "50"),
        line(holder, NOV, "P-0101", "90"),
    ]
    path.write_text("\n".join(body) + "\n", encoding="utf-8")
    clock.set(at)
    command(
        settings, clock, "declaration", "import", str(path), "--clause", str(lot.clause_id),
        "--replace", "--reason", "Heures mal reportées", "--actor", "Camille Martin",
    )  # fmt: skip


def test_two_months_corrected_at_once_are_said_in_the_plural(
    app: App, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    lot = alerted(app)
    holder_id = lot.company_ids[0]
    three_months(app, settings, clock, lot, tmp_path)
    corrected_file(
        settings, clock, lot, tmp_path, at_local(IMPORTED, time(10, 45), app.settings.zone)
    )
    replaced, again = [n for n in rows(app, KIND) if n.key.startswith(of(lot, holder_id))]
    assert replaced.state == OutboxState.CANCELLED
    assert replaced.last_error == (
        "Remplacé : les déclarations de septembre et de novembre 2026 ont été corrigées le "
        "6 janvier 2027 ; l'avis part de nouveau, avec les chiffres corrigés."
    )
    assert again.state == OutboxState.PENDING
    assert ":2026-09..2026-11:" in again.key


def test_several_alerts_one_not_left_never_said_all_signalled(
    app: App, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    """November's alert maybe delivered (its sending not confirmed): the notice does not say
    the buyer was told in several alerts; it says which left, and which may not have."""
    lot = alerted(app)
    holder_id = lot.company_ids[0]
    with app.transaction() as session:
        alert = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.key == f"reminder:{lot.clause_id}:{holder_id}:2026-11:escalation"
            )
        ).one()
        alert.state = OutboxState.UNCERTAIN
    three_months(app, settings, clock, lot, tmp_path)
    [notice] = [n for n in rows(app, KIND) if n.key.startswith(of(lot, holder_id))]
    text = squash(notice.body_text)
    assert "Je vous les ai signalées manquantes dans plusieurs alertes" not in text
    assert "Mes alertes vous les signalent manquantes :" in text
    assert "- septembre 2026 : dans mon alerte du 2 novembre 2026, déjà partie ;" in text
    assert (
        "- novembre 2026 : dans mon alerte du 4 janvier 2027, qui n'était pas encore partie, ou "
        "dont l'envoi n'était pas confirmé, quand elle m'est parvenue ; si elle vous parvient "
        "après ce message, ne tenez pas compte de ce qu'elle dit de ce mois."
    ) in text
    page = visible(notice.body_html)
    assert "Je vous les ai signalées manquantes dans plusieurs alertes" not in page
    assert "Mes alertes vous les signalent manquantes\u00a0:" in page
    assert "dans mon alerte du 2 novembre 2026, déjà partie\u00a0;" in page


def test_all_alerts_left_keeps_its_opening(
    app: App, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    lot = alerted(app)
    holder_id = lot.company_ids[0]
    three_months(app, settings, clock, lot, tmp_path)
    [notice] = [n for n in rows(app, KIND) if n.key.startswith(of(lot, holder_id))]
    text = squash(notice.body_text)
    assert "Je vous les ai signalées manquantes dans plusieurs alertes :" in text
    assert "déjà partie" not in text and "Mes alertes" not in text


def test_the_same_recording_handled_twice_keeps_the_notice_it_wrote(
    app: App, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    """September corrected while the notice of the three months waits: a new notice is
    written at the correction's instant. Its ``DeclarationsRecorded`` handled again (a second
    run of the same event) leaves it be; before, it withdrew it and could not write it again
    (same key): the buyer was never told."""
    lot = alerted(app)
    holder_id = lot.company_ids[0]
    three_months(app, settings, clock, lot, tmp_path)
    holder, _ = SIRETS
    at = at_local(IMPORTED, time(10, 45), app.settings.zone)
    path = tmp_path / "septembre-corrige.csv"
    path.write_text(
        "\n".join([HEADER, line(holder, SEP, "P-0101", "75"), line(holder, SEP, "P-0102", "50")])
        + "\n",
        encoding="utf-8",
    )
    clock.set(at)
    command(
        settings, clock, "declaration", "import", str(path), "--clause", str(lot.clause_id),
        "--replace", "--reason", "Heures de P-0101 mal reportées", "--actor", "Camille Martin",
    )  # fmt: skip
    before = [(n.id, n.state) for n in rows(app, KIND) if n.key.startswith(of(lot, holder_id))]
    replaced_id, again_id = (row_id for row_id, _ in before)
    assert [state for _, state in before] == [OutboxState.CANCELLED, OutboxState.PENDING]
    event = DeclarationsRecorded(
        clause_id=lot.clause_id, company_id=holder_id, months=(SEP,), at=at, corrected=(SEP,)
    )
    with app.transaction() as session:
        tell_buyer(app, session, event)
    after = [(n.id, n.state) for n in rows(app, KIND) if n.key.startswith(of(lot, holder_id))]
    assert after == before
    simulate(app, date(2027, 1, 7), date(2027, 1, 7))
    told = [n for n in rows(app, KIND) if n.key.startswith(of(lot, holder_id))]
    assert [(n.id, n.state) for n in told] == [
        (replaced_id, OutboxState.CANCELLED),
        (again_id, OutboxState.SENT),
    ]
    assert audit_problems(settings, clock) == []


def test_a_notice_that_left_then_one_month_cancelled_then_another_corrected(
    app: App, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    """The notice of the three months left. October cancelled: the buyer is told October
    only is missing again. September corrected after: the buyer, told it arrived, is told
    nothing more."""
    lot = alerted(app)
    holder_id = lot.company_ids[0]
    three_months(app, settings, clock, lot, tmp_path)
    simulate(app, date(2027, 1, 7), date(2027, 1, 7))
    [notice] = [n for n in rows(app, KIND) if n.key.startswith(of(lot, holder_id))]
    assert notice.state == OutboxState.SENT
    zone = app.settings.zone
    clock.set(at_local(date(2027, 1, 8), time(10), zone))
    cancel_declaration(
        app,
        clause=lot.clause_id,
        company=holder_id,
        month=OCT,
        reason="Déclaration envoyée sur le mauvais lot",
        actor="Camille Martin",
    )
    [cancelled] = rows(app, CANCELLED)
    assert cancelled.key.startswith(f"late_cancelled:{lot.clause_id}:{holder_id}:2026-10:")
    text = squash(cancelled.body_text)
    assert "octobre 2026" in text
    assert "septembre" not in text and "novembre 2026" not in text
    assert [n.id for n in rows(app, KIND) if n.key.startswith(of(lot, holder_id))] == [notice.id]

    corrected_file(settings, clock, lot, tmp_path, at_local(date(2027, 1, 9), time(10), zone))
    assert [n.id for n in rows(app, KIND) if n.key.startswith(of(lot, holder_id))] == [notice.id]
    assert [n.id for n in rows(app, CANCELLED)] == [cancelled.id]
    simulate(app, date(2027, 1, 9), date(2027, 1, 12))
    assert [n.state for n in rows(app, CANCELLED)] == [OutboxState.SENT]
    assert audit_problems(settings, clock) == []
