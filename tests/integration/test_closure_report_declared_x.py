"""A final report's notice written again at the closure names missing only the months still not
declared at the closure (SQLite and PostgreSQL): its figures are read at the closure, so a month
declared between the report and the closure is in them and is no longer said « non reçue ».

Review of 487cffe: October missing at the report, declared before the closure, was named « n'a
pas été reçue … ne sera comptée dans aucun total » while its hours were in the totals."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.conftest import Clock, make_settings
from tests.integration.test_closure_truth_h import COMPANY, emails, paris
from tests.integration.test_end_date_correction import (
    a_lot_finished_a_month_too_early,
    correct,
    run_cli,
)
from tests.text import squash
from workflow.adapters.orm import Declaration, Participant
from workflow.bootstrap import App, bootstrap
from workflow.domain.vocabulary import ContractType, DeliveryMode
from workflow.services.declarations import LineInput, record_declaration
from workflow.services.ticks import simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

OCTOBER = date(2026, 10, 1)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, escalation_offset=25)


@pytest.fixture
def app(settings: Settings, clock: Clock) -> Iterator[App]:
    application = bootstrap(settings, clock=clock)
    yield application
    application.close()


def test_a_month_declared_between_the_report_and_the_closure_is_not_named_missing(
    app: App, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    lot, _, _ = a_lot_finished_a_month_too_early(app, settings, clock)
    correct(settings, clock, lot, paris(date(2026, 12, 4), 10), "30/11/2026")
    report = tmp_path / "bilan.txt"
    report.write_text("Bonne collaboration de l'entreprise.", encoding="utf-8")
    code, said = run_cli(settings, clock, paris(date(2026, 12, 4), 11), "clause", "report",
                         str(lot.clause_id), "--file", str(report))  # fmt: skip
    assert code == 0, said
    declared_at = paris(date(2026, 12, 4), 11, 2)
    with app.transaction() as session:
        participant = Participant(
            reference="P-0077", criterion="long_term_jobseeker", created_at=declared_at
        )
        session.add(participant)
        session.flush()
        record_declaration(
            session,
            clause_id=lot.clause_id,
            company_id=lot.company_ids[0],
            month=OCTOBER,
            lines=[
                LineInput(
                    participant.id, Decimal("35"), DeliveryMode.DIRECT_HIRING, ContractType.CDD
                )
            ],
            actor="Correspondant",
            now=declared_at,
            source="test",
            publish=app.publish,
        )
        total = session.scalar(
            select(func.sum(Declaration.total_hours)).where(Declaration.clause_id == lot.clause_id)
        )
    code, said = run_cli(settings, clock, paris(date(2026, 12, 4), 11, 5), "clause", "advance",
                         str(lot.clause_id), "clôturer")  # fmt: skip
    assert code == 0, said

    simulate(app, date(2026, 12, 4), date(2026, 12, 5))

    [sent] = [m for m in emails(app, lot, "notice_final_report") if m.state == "sent"]
    text = squash(sent.body_text)
    assert "Ce bilan n'est pas complet : une déclaration mensuelle n'a pas été reçue" in text, text
    assert f"- {COMPANY} : novembre 2026" in text, text
    assert "octobre" not in text.partition("En chiffres")[0], text
    hours = re.search(r"Heures d'insertion déclarées : ([\d\u202f\u00a0 ,]+)\u00a0h", text)
    assert hours is not None, text
    assert Decimal(re.sub(r"[\u202f\u00a0 ]", "", hours[1]).replace(",", ".")) == total
