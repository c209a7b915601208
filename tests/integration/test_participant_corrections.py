"""A participant's corrections kept, shown to them, and emptied by the purge (issue 9, item 5).

``participant set`` and ``participant validate`` write one history row per change (who, when,
each field before → after, the reason given); the privacy export shows them (GDPR art. 15); the
purge keeps who and when and erases the values, as it erases the proof and the exact birth year.
On SQLite and PostgreSQL, on the 2018 territory of ``privacy_scenario``."""

from __future__ import annotations

import json
from datetime import date

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration import privacy_scenario as scenario
from tests.integration.privacy_scenario import Built, local
from tests.integration.test_privacy import run_purge
from tests.text import squash
from workflow.adapters.orm import RecordHistory
from workflow.app import participants
from workflow.bootstrap import App
from workflow.domain.vocabulary import Sex
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.services.privacy import export_participant


@pytest.fixture
def built(app: App, clock: Clock) -> Built:
    return scenario.build(app, clock)


def run(app: App, *args: str) -> Result:
    state = CliState()
    state.factory = lambda: app
    return CliRunner().invoke(cli, list(args), obj=state, catch_exceptions=False)


def rows(app: App) -> list[RecordHistory]:
    with app.transaction() as session:
        found = list(
            session.scalars(
                select(RecordHistory)
                .where(RecordHistory.entity == "participant")
                .order_by(RecordHistory.id)
            )
        )
        session.expunge_all()
    return found


def test_each_correction_is_kept_with_who_when_what_and_why(
    app: App, built: Built, clock: Clock
) -> None:
    clock.set(local(date(2018, 10, 1), 10))
    participants.update_participant(
        app, "PRV-1", sex=Sex.MALE, birth_year=1991, reason="Erreur de l'entreprise",
        actor="Camille Martin",
    )  # fmt: skip
    clock.set(local(date(2018, 10, 2), 10))
    participants.validate_eligibility(
        app, "PRV-1", proof="Attestation RSA CAF", on=date(2018, 10, 2)
    )
    # The same again changes nothing, and writes nothing.
    participants.update_participant(app, "PRV-1", sex=Sex.MALE)

    held = export_participant(app, "PRV-1").corrections

    assert [(c.actor, c.reason) for c in held] == [
        ("Camille Martin", "Erreur de l'entreprise"),
        (app.settings.facilitator_name, ""),
    ]
    assert held[0].at == local(date(2018, 10, 1), 10)
    assert held[0].changes == (("sexe", "F", "M"), ("année de naissance", "1990", "1991"))
    labels = [label for label, _, _ in held[1].changes]
    assert labels == ["justificatif", "date de validation"]
    assert held[1].changes[1][2] == "02/10/2018"
    assert len(rows(app)) == 2
    # Another participant's corrections are not theirs.
    assert export_participant(app, "PRV-2").corrections == ()


def test_the_export_shows_them_in_words_and_in_json(app: App, built: Built, clock: Clock) -> None:
    clock.set(local(date(2018, 10, 1), 10))
    done = run(app, "participant", "set", "PRV-1", "--birth-year", "1991", "--reason",
               "Mauvaise année sur la fiche", "--actor", "Léa Roux")  # fmt: skip
    text = run(app, "privacy", "export", "--participant", "PRV-1")
    data = run(app, "privacy", "export", "--participant", "PRV-1", "--json")

    assert done.exit_code == 0, done.output
    said = squash(text.stdout)
    assert (
        "Corrections de sa fiche (1) - 01/10/2018, par Léa Roux : année de naissance : "
        "1990 → 1991 (motif : Mauvaise année sur la fiche)"
    ) in said
    [correction] = json.loads(data.stdout)["corrections"]
    assert correction["auteur"] == "Léa Roux"
    assert correction["changements"] == [
        {"champ": "année de naissance", "avant": "1990", "apres": "1991"}
    ]
    assert correction["motif"] == "Mauvaise année sur la fiche"


def test_the_purge_keeps_who_and_when_and_erases_the_values(
    app: App, built: Built, clock: Clock
) -> None:
    clock.set(local(date(2018, 6, 1), 10))
    participants.update_participant(app, "PRV-1", birth_year=1991, reason="naissance 1991")
    participants.update_participant(app, "PRV-2", birth_year=1966, reason="naissance 1966")
    before = {r.entity_id: r for r in rows(app)}

    report = run_purge(app)

    after = {r.entity_id: r for r in rows(app)}
    purged, kept = (r.entity_id for r in sorted(before.values(), key=lambda r: r.id))
    assert (after[purged].actor, after[purged].at) == (before[purged].actor, before[purged].at)
    assert (after[purged].before, after[purged].after, after[purged].reason) == (None, None, None)
    # PRV-2 works on a running lot: kept, and so are its corrections.
    assert (after[kept].before, after[kept].after) == (before[kept].before, before[kept].after)
    # Counted among the history rows the purge rewrote (its own summary says so).
    assert report.history_rows == 1 + 1
    assert export_participant(app, "PRV-2").corrections[0].changes == (
        ("année de naissance", "1965", "1966"),
    )
