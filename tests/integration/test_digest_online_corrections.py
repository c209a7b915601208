"""A company that corrects a month from its signed link: the facilitator reads it in the next
digest (which company, lot, month, hours before → after, when), and in that one only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from tests.conftest import Clock
from tests.integration.test_declaration_howto import lot_01
from tests.integration.test_online_declaration import PARIS, call_link, called_territory
from workflow.adapters.orm import Company, OutboxMessage
from workflow.app.online_declarations import declare_online
from workflow.bootstrap import App
from workflow.services.digest import queue_daily_digest
from workflow.services.online_declarations import LineForm


def _people(*hours: str) -> list[LineForm]:
    return [
        LineForm("P-WEB-1", hours[0], "cdd", "direct_hiring", "long_term_jobseeker"),
        LineForm("P-WEB-2", hours[1], "temp_work", "provision_etti", "minimum_income"),
    ]


def _digest_text(app: App, day: str) -> str | None:
    with app.transaction() as session:
        body = session.scalar(
            select(OutboxMessage.body_text).where(OutboxMessage.key == f"digest:{day}")
        )
    return None if body is None else " ".join(body.replace("\u00a0", " ").split())


def test_the_next_digest_names_a_correction_made_online_with_both_figures_and_once(
    app: App, clock: Clock
) -> None:
    called_territory(app, clock)  # Monday 4 May 2026, 09:00: April called (and Monday's digest)
    clause_id, holder_id, _ = lot_01(app)
    token = call_link(app, clause_id, holder_id).rsplit("/", 1)[1]
    with app.transaction() as session:
        company = session.get_one(Company, holder_id).name

    clock.set(datetime(2026, 5, 4, 10, 0, tzinfo=PARIS))
    declare_online(app, token, _people("151,67", "35"), zero=False)  # first: no correction
    clock.set(datetime(2026, 5, 4, 15, 30, tzinfo=PARIS))
    declare_online(app, token, _people("98,5", ""), zero=False)  # corrected the same day

    tuesday = datetime(2026, 5, 5, 8, 0, tzinfo=PARIS)
    clock.set(tuesday)
    assert queue_daily_digest(app, tuesday) == 1
    # After Tuesday's digest, a second correction: Wednesday's news, not Tuesday's again.
    clock.set(datetime(2026, 5, 5, 11, 0, tzinfo=PARIS))
    declare_online(app, token, _people("120", "10"), zero=False)
    wednesday = datetime(2026, 5, 6, 8, 0, tzinfo=PARIS)
    clock.set(wednesday)
    assert queue_daily_digest(app, wednesday) == 1
    thursday = datetime(2026, 5, 7, 8, 0, tzinfo=PARIS)
    clock.set(thursday)
    queue_daily_digest(app, thursday)

    first = _digest_text(app, "2026-05-05")
    second = _digest_text(app, "2026-05-06")
    third = _digest_text(app, "2026-05-07") or ""
    assert first is not None and second is not None
    heading = (
        "* Marché 2026-014 lot 01 – Gros œuvre – maçonnerie, Département de l'Exemple "
        f"(clause n° {clause_id}) : 1 déclaration corrigée en ligne"
    )
    monday = (
        f"– {company} a corrigé en ligne sa déclaration d'avril 2026 le 4 mai 2026 : "
        "186,67 h → 98,50 h."
    )
    tuesday_said = (
        f"– {company} a corrigé en ligne sa déclaration d'avril 2026 le 5 mai 2026 : "
        "98,50 h → 130 h."
    )
    assert "== Déclarations corrigées en ligne par les entreprises (1) ==" in first
    assert heading in first and heading in second
    assert monday in first and tuesday_said not in first, first
    # The first recording is no correction: only the one that replaced it is told.
    assert first.count("a corrigé en ligne") == 1
    assert (
        "À faire : Vérifier la déclaration corrigée, puis la valider (clauses declaration "
        f"validate --clause {clause_id} --company {holder_id} --month 04/2026)."
    ) in first
    assert tuesday_said in second and monday not in second, second
    assert second.count("a corrigé en ligne") == 1
    assert "a corrigé en ligne" not in third
