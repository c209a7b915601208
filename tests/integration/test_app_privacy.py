"""Personal data through the application layer, on the 2018 territory of ``privacy_scenario``:
a participant found by reference or N°, the purge at the app's clock with who asked for it. On
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration import privacy_scenario as scenario
from tests.integration.privacy_scenario import Built, local
from workflow.adapters.orm import Participant, PrivacyPurge
from workflow.app.privacy import participant_data, purge_participants
from workflow.bootstrap import App
from workflow.domain.privacy import Retention
from workflow.errors import NotFound

PURGE_DAY = local(date(2024, 6, 3), 9)


@pytest.fixture
def built(app: App, clock: Clock) -> Built:
    built = scenario.build(app, clock)
    clock.set(PURGE_DAY)
    return built


def purges(app: App) -> list[tuple[str, int]]:
    with app.transaction() as session:
        rows = session.execute(select(PrivacyPurge.actor, PrivacyPurge.participants)).all()
    return [(actor, count) for actor, count in rows]


def test_a_participant_is_found_by_reference_or_by_number(app: App, built: Built) -> None:
    with app.transaction() as session:
        number = session.scalars(
            select(Participant.id).where(Participant.reference == "PRV-1")
        ).one()

    by_reference = participant_data(app, "PRV-1")

    assert participant_data(app, str(number)) == by_reference
    assert by_reference.reference == "PRV-1" and by_reference.hours > 0
    with pytest.raises(NotFound, match=r"Aucun participant «[\u00a0 ]PRV-9[\u00a0 ]»"):
        participant_data(app, "PRV-9")


def test_the_purge_acts_at_the_clock_and_names_who_asked(app: App, built: Built) -> None:
    shown = purge_participants(app, dry_run=True)
    assert purges(app) == []  # a dry run writes nothing

    done = purge_participants(app, actor="Léa Roux")
    again = purge_participants(app, Retention(60))

    assert shown.today == done.today == date(2024, 6, 3)
    assert [c.reference for c in shown.candidates] == [c.reference for c in done.candidates]
    assert done.purge_id is not None and done.participants == shown.participants > 0
    assert again.participants == 0 and again.purge_id is None
    assert purges(app) == [("Léa Roux", done.participants)]
    # Once purged, the reference leads nowhere.
    with pytest.raises(NotFound, match="anonymisé par une purge"):
        participant_data(app, shown.candidates[0].reference)


def test_without_an_actor_the_facilitator_purges(app: App, built: Built) -> None:
    done = purge_participants(app)

    assert purges(app) == [(app.settings.facilitator_name, done.participants)]
