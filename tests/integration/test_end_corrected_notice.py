"""The buyer told « L'exécution … s'est achevée le 31 octobre 2026 » hears of the end corrected.

The case of ``test_end_date_correction``: the works ended on 30 November 2026; the facilitator
finished the lot on 3 December typing 31/10/2026. The buyer (each milestone) got the notice of
the end, with the figures of that day. October is declared the same day (35 h). Corrected to
30/11 on 4 December, the buyer gets one notice naming both dates, November asked again, and the
figures of that moment, the ones ``clauses clause show`` and ``clauses summary`` give then; the
same correction again sends nothing; corrected back to 31/10, a second notice. The facilitator's
reason never reaches the buyer. A buyer who reads its milestones in the monthly summary got no
notice of the end, and gets none of its correction; a buyer without a contact has it held, and
released once a contact is recorded. The audit finds nothing wrong.

On the real commands and passes of a simulated clock, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import Clock, make_settings
from tests.integration._ladders import Lot, declare, make_lot
from tests.integration.test_end_date_correction import NOV, OCT, SEP, paris, run_cli
from tests.text import squash
from workflow.adapters.orm import BuyerContact, Clause, HeldNotice, OutboxMessage
from workflow.app.audit import verify_database
from workflow.bootstrap import App, bootstrap
from workflow.domain.vocabulary import ContractType, Criterion, DeliveryMode
from workflow.services.declarations import LineInput, record_declaration
from workflow.services.held_notices import release_held_notices
from workflow.services.participants import create_participant
from workflow.services.previews import build_preview
from workflow.services.ticks import TimedAction, simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

NBSP = "\u00a0"
#: The facilitator's reason: for the history only, never for the buyer.
REASON = "Faute de frappe de Camille, voir le PV"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, escalation_offset=25)


@pytest.fixture
def app(settings: Settings, clock: Clock) -> Iterator[App]:
    application = bootstrap(settings, clock=clock)
    yield application
    application.close()


def plain(text: str) -> str:
    """``text`` as one line, its no-break spaces read as spaces (the renderer puts them before
    « : » and in « 35 h », the CLI in « 4 725 h »): the words and figures are compared."""
    return squash(text).replace(NBSP, " ").replace("\u202f", " ")


def correct(settings: Settings, clock: Clock, lot: Lot, at: datetime, end: str) -> str:
    code, said = run_cli(settings, clock, at, "clause", "end-date", str(lot.clause_id),
                         "--end-date", end, "--reason", REASON)  # fmt: skip
    assert code == 0, said
    return said


def declare_hours(app: App, lot: Lot, month: date, at: datetime, hours: str) -> None:
    with app.transaction() as session:
        person = create_participant(
            session, reference=f"EC-{lot.clause_id}-{month:%m}", criterion=Criterion.MINIMUM_INCOME,
            now=at,
        )  # fmt: skip
        record_declaration(
            session,
            clause_id=lot.clause_id,
            company_id=lot.company_ids[0],
            month=month,
            lines=[
                LineInput(person.id, Decimal(hours), DeliveryMode.DIRECT_HIRING, ContractType.CDD)
            ],
            actor="test",
            now=at,
            source="test",
            publish=app.publish,
        )


def finished_on_31_october(
    app: App, settings: Settings, clock: Clock, *, preference: str = "each_milestone",
    contacts: bool = True,
) -> Lot:  # fmt: skip
    """September to March 2027; September declared (0 h) on 5 October; finished on 3 December
    « le 31/10/2026 » (a typo for 30/11); October declared (35 h) after the finish."""
    lot = make_lot(
        app, start=SEP, end=date(2027, 3, 31), at=paris(SEP, 10), buyer_contacts=contacts
    )
    with app.transaction() as session:
        session.get_one(Clause, lot.clause_id).market.operation.buyer.notice_preference = preference
    september = TimedAction(
        paris(date(2026, 10, 5), 11), "septembre", lambda a, at: declare(a, lot, SEP, at)
    )
    simulate(app, SEP, date(2026, 12, 2), actions=[september])
    code, said = run_cli(settings, clock, paris(date(2026, 12, 3), 10), "clause", "advance",
                         str(lot.clause_id), "achever", "--end-date", "31/10/2026")  # fmt: skip
    assert code == 0, said
    declare_hours(app, lot, OCT, paris(date(2026, 12, 3), 11), "35")
    return lot


def notices_of(app: App, lot: Lot, kind: str) -> list[OutboxMessage]:
    with app.transaction() as session:
        return list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.clause_id == lot.clause_id, OutboxMessage.kind == kind)
                .order_by(OutboxMessage.created_at, OutboxMessage.id)
            )
        )


def figures_of_cli(settings: Settings, clock: Clock, lot: Lot, at: datetime) -> tuple[str, str]:
    """(hours done, hours planned) as ``clauses clause show`` and ``clauses summary`` give them
    at ``at``: both must agree."""
    code, shown = run_cli(settings, clock, at, "clause", "show", str(lot.clause_id))
    assert code == 0, shown
    shown = plain(shown)
    found = re.search(r"Heures réalisées \(déclarées\) : (.+?) sur (.+?) prévues", shown)
    assert found is not None, shown
    # November: the last month of the lot, corrected or not; its cumul counts every month.
    code, summary = run_cli(settings, clock, at, "summary", "--month", "2026-11")
    assert code == 0, summary
    said = f"Heures cumulées depuis le début : {found[1]} sur {found[2]} prévues"
    assert said in plain(summary), summary
    return found[1], found[2]


def test_the_buyer_hears_of_each_correction_with_the_figures_of_that_moment(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot = finished_on_31_october(app, settings, clock)
    [ended] = notices_of(app, lot, "notice_execution_ended")
    assert "s'est achevée le 31 octobre 2026" in plain(ended.body_text)
    assert "Heures déclarées à ce jour : 0 h sur" in plain(ended.body_text)

    corrected_at = paris(date(2026, 12, 4), 10)
    correct(settings, clock, lot, corrected_at, "30/11/2026")
    done, planned = figures_of_cli(settings, clock, lot, corrected_at)
    assert done == "35 h"
    [later] = notices_of(app, lot, "notice_end_corrected")
    text = plain(later.body_text)
    assert later.key.startswith(f"notice:{lot.clause_id}:notice_end_corrected:h")
    assert later.created_at == corrected_at
    assert later.subject.startswith("Date de fin d'exécution corrigée : 30 novembre 2026 – ")
    assert (
        "s'est achevée le 30 novembre 2026, et non le 31 octobre 2026 comme je vous l'avais "
        "indiqué. La déclaration de novembre 2026 est désormais attendue de l'entreprise."
    ) in text, text
    assert "Ce message remplace mon avis précédent sur la fin d'exécution ;" in text
    # September and October declared, November owed again: the figures of 4 December.
    assert f"Heures déclarées à ce jour : {done} sur {planned} prévues" in text, text
    assert "Mois déclarés : 2 sur 3 (1 reste à déclarer)" in text, text
    assert "Personnes en insertion : 1" in text
    for said in (later.body_text, later.body_html or ""):
        assert "Faute de frappe" not in said and "PV" not in said
        assert "31/10/2026" not in said

    # ``clauses mail preview notice_end_corrected --clause N°`` shows what the buyer got.
    preview = build_preview(app, "notice_end_corrected", lot.clause_id)
    assert (preview.rendered.subject, preview.rendered.text) == (later.subject, later.body_text)

    # The same date again: nothing written, nothing sent.
    correct(settings, clock, lot, paris(date(2026, 12, 4), 11), "30/11/2026")
    assert len(notices_of(app, lot, "notice_end_corrected")) == 1

    back_at = paris(date(2026, 12, 7), 10)
    correct(settings, clock, lot, back_at, "31/10/2026")
    done, planned = figures_of_cli(settings, clock, lot, back_at)
    first, earlier = notices_of(app, lot, "notice_end_corrected")
    assert first.id == later.id and earlier.key != later.key
    text = plain(earlier.body_text)
    assert (
        "s'est achevée le 31 octobre 2026, et non le 30 novembre 2026 comme je vous l'avais "
        "indiqué. La déclaration de novembre 2026 n'est plus demandée à l'entreprise : la "
        "dernière est celle d'octobre 2026."
    ) in text, text
    assert f"Heures réalisées : {done} sur {planned} prévues" in text, text
    assert "Mois déclarés : 2 sur 2" in text, text
    assert len(notices_of(app, lot, "notice_execution_ended")) == 1
    assert [str(finding) for finding in verify_database(app).findings] == []


def test_a_buyer_reading_the_monthly_summary_only_is_not_sent_the_correction(
    app: App, settings: Settings, clock: Clock
) -> None:
    # As for the end itself: its milestones are in its monthly summary.
    lot = finished_on_31_october(app, settings, clock, preference="monthly_only")
    assert notices_of(app, lot, "notice_execution_ended") == []
    correct(settings, clock, lot, paris(date(2026, 12, 4), 10), "30/11/2026")
    assert notices_of(app, lot, "notice_end_corrected") == []
    with app.transaction() as session:
        assert session.scalars(select(HeldNotice)).all() == []
    assert [str(finding) for finding in verify_database(app).findings] == []


def test_a_buyer_without_contact_has_it_held_then_released_with_the_figures_then(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot = finished_on_31_october(app, settings, clock, contacts=False)
    correct(settings, clock, lot, paris(date(2026, 12, 4), 10), "30/11/2026")
    with app.transaction() as session:
        held = session.scalars(select(HeldNotice).order_by(HeldNotice.id)).all()
        # Every milestone since the award held, the end and its correction last.
        assert [h.kind for h in held][-2:] == ["notice_execution_ended", "notice_end_corrected"]
        key = held[-1].key
        buyer = session.get_one(Clause, lot.clause_id).market.operation.buyer
        session.add(BuyerContact(buyer=buyer, name="Acheteuse", email="acheteuse@example.org"))
    declare_hours(app, lot, NOV, paris(date(2026, 12, 8), 9), "14")
    released_at = paris(date(2026, 12, 8), 10)
    assert release_held_notices(app, released_at) == 1
    done, planned = figures_of_cli(settings, clock, lot, released_at)
    assert done == "49 h"
    [notice] = notices_of(app, lot, "notice_end_corrected")
    assert notice.key == key
    text = plain(notice.body_text)
    # The end notice never left: nothing to replace, no « et non le 31 octobre ».
    assert "Ce message n'avait pas pu vous être envoyé le 4 décembre 2026" in text
    assert "s'est achevée le 30 novembre 2026. La déclaration de novembre 2026" in text, text
    assert "et non le" not in text and "remplace" not in text
    assert f"Heures réalisées : {done} sur {planned} prévues" in text, text
    assert notices_of(app, lot, "notice_execution_ended") == []
    assert [str(finding) for finding in verify_database(app).findings] == []
