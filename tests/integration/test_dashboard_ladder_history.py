"""The dashboard's late declarations tell each company's oldest month's ladder as the digest does
(issue 10): the dashboard reads only the emails of the companies it shows, and of those only the
ones whose key names that month, among them catch-up emails that cover several months at once
(``reminder:<lot>:<company>:2025-12..2026-02:call``, ``…:2026-01,2026-02:reminder_1``).

On SQLite and PostgreSQL, on the digest's richer scenario (``test_dashboard_tasks.rich``) with a
company called late for a run of months, emails of its other months, and a company whose number
starts like its own: for every number shown, the dashboard's declarations are the digest's first
ones, words included, and the catch-up company's line says what was really sent for its oldest
month.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration.test_dashboard_tasks import Rich, full_digest, rich
from tests.integration.test_digest import NOW, T0
from workflow.adapters.orm import AwardParty, Company, DeclarationLadder, OutboxMessage
from workflow.bootstrap import App
from workflow.emails.digest import Category
from workflow.services.digest import compile_tasks

CALLED = datetime(2026, 2, 16, 8, tzinfo=UTC)  # a catch-up call, for December to February
REMINDED = datetime(2026, 3, 2, 8, tzinfo=UTC)  # its reminder, for January and February
OTHER = datetime(2026, 3, 23, 8, tzinfo=UTC)  # an email for February alone


def _sent(key: str, kind: str, at: datetime, clause_id: int) -> OutboxMessage:
    return OutboxMessage(
        key=key,
        kind=kind,
        clause_id=clause_id,
        recipients="Jean Dupont <jean@example.org>",
        subject=key,
        body_text="",
        body_html="",
        state="sent",
        attempts=1,
        created_at=at,
        sent_at=at,
    )


@pytest.fixture
def catch_up(app: App, clock: Clock) -> tuple[Rich, str]:
    """The richer scenario, and a company of its late lot called late for three months at once,
    January its oldest month still not declared (December was)."""
    clock.set(NOW)
    scenario = rich(app)
    late = scenario.clauses["late"]
    with app.transaction() as session:
        # Made until one has a number that starts like the catch-up company's: its keys share
        # the start ``reminder:<lot>:1`` and must not be taken for its own.
        companies = [Company(name="Rattrapage Construction", created_at=T0)]
        session.add(companies[0])
        session.flush()
        prefix = str(companies[0].id)
        while not str(companies[-1].id).startswith(prefix) or companies[-1] is companies[0]:
            companies.append(Company(name=f"Voisine {len(companies)}", created_at=T0))
            session.add(companies[-1])
            session.flush()
        ours, neighbour = companies[0], companies[-1]
        for who in (ours, neighbour):
            session.add(AwardParty(clause_id=late, company_id=who.id, role="co_contractor"))
        for month, due in (
            (date(2026, 1, 1), date(2026, 2, 26)),
            (date(2026, 2, 1), date(2026, 3, 10)),
        ):
            session.add(
                DeclarationLadder(
                    clause_id=late, company_id=ours.id, month=month, due_on=due,
                    next_step="escalation", next_step_at=datetime(2026, 4, 2, 8, tzinfo=UTC),
                    called_at=CALLED,
                )
            )  # fmt: skip
        session.add_all(
            [
                _sent(
                    f"reminder:{late}:{ours.id}:2025-12..2026-02:call",
                    "declaration_call",
                    CALLED,
                    late,
                ),
                _sent(
                    f"reminder:{late}:{ours.id}:2026-01,2026-02:reminder_1",
                    "declaration_reminder",
                    REMINDED,
                    late,
                ),
                # February's alone, and the neighbour's January: nothing of January's ladder.
                _sent(
                    f"reminder:{late}:{ours.id}:2026-02:reminder_2",
                    "declaration_reminder",
                    OTHER,
                    late,
                ),
                _sent(
                    f"reminder:{late}:{neighbour.id}:2026-01:reminder_2",
                    "declaration_reminder",
                    OTHER,
                    late,
                ),
            ]
        )
        session.flush()
        assert session.scalar(
            select(OutboxMessage.id).where(
                OutboxMessage.key.like(f"reminder:{late}:{prefix}%:2026-01:%")
            )
        )
    return scenario, ours.name


@pytest.mark.parametrize("shown", [1, 2, 3, 5, 8])
def test_the_dashboard_tells_each_late_company_s_ladder_as_the_digest(
    app: App, catch_up: tuple[Rich, str], shown: int
) -> None:
    _, company = catch_up
    full = full_digest(app)
    with app.transaction() as session:
        tasks = compile_tasks(session, NOW, app.settings, shown)

    assert tasks == full.first(shown)
    declarations = dict(full.sections())[Category.DECLARATION]
    line = next(item for item in declarations if item.title.startswith(f"{company} :"))
    # Its oldest month's ladder, from the emails that cover it (a run, a list), not February's
    # own reminder nor the neighbour's.
    assert line.detail.endswith(
        "appel à déclaration envoyé le 16 février 2026 ; rappel n° 1 envoyé le 2 mars 2026 ; "
        "rappel n° 2 sauté, non envoyé ; alerte au donneur d'ordre prévue le 2 avril 2026."
    ), line.detail
    # Among the first eight of its section: at least one number shown compares its words.
    assert declarations.index(line) < 8
