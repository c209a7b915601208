"""``clauses simulate`` refuses to replay the past and names what the database holds last as it
is: a month recorded without hours, a declaration validated, not « un changement d'étape »."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import Clock, make_settings
from tests.integration._ladders import make_lot
from workflow.app import declarations as declaration_app
from workflow.app import service
from workflow.bootstrap import bootstrap
from workflow.entrypoints.cli import cli


def test_the_refusal_names_a_zero_month_then_a_validation_as_what_they_are(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAUSES_DATABASE_URL", database_url)
    monkeypatch.setenv("CLAUSES_MAIL_DIR", str(tmp_path / "mail"))
    clock = Clock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    app = bootstrap(make_settings(tmp_path, database_url), clock=clock)
    try:
        lot = make_lot(app)
        service.simulate_days(app, date(2026, 4, 1), date(2026, 4, 30))
        # Monday 4 May 2026, 12:00 in Paris: March recorded without hours.
        clock.set(datetime(2026, 5, 4, 10, 0, tzinfo=UTC))
        declaration_app.declare_zero(
            app, clause=lot.clause_id, company=lot.company_ids[0], month=date(2026, 3, 1)
        )
        zero = service.last_recorded(app)
        refused = CliRunner().invoke(
            cli, ["simulate", "--from", "01/05/2026", "--to", "31/05/2026"]
        )
        clock.set(datetime(2026, 5, 4, 12, 30, tzinfo=UTC))
        declaration_app.validate_declaration(
            app, clause=lot.clause_id, company=lot.company_ids[0], month=date(2026, 3, 1)
        )
        validated = service.last_recorded(app)
    finally:
        app.close()

    assert zero is not None and validated is not None
    assert zero.what == f"un mois sans heure enregistré sur la clause n° {lot.clause_id}"
    assert refused.exit_code == 1
    assert " ".join(refused.output.split()) == (
        "Refusé : --from : le 01/05/2026 est antérieur à la dernière action enregistrée dans "
        f"la base (un mois sans heure enregistré sur la clause n° {lot.clause_id}, le 4 mai "
        "2026 à 12 h) ; une simulation ne rejoue pas le passé : simulez à partir du "
        "05/05/2026. Rien n'a été changé."
    )
    assert validated.what == f"une déclaration validée sur la clause n° {lot.clause_id}"


@pytest.mark.parametrize(
    ("event", "from_stage", "to_stage", "reason", "said"),
    [
        ("declaration", "execution", "execution", "déclaration de mars 2026 de X : 0 h",
         "un mois sans heure enregistré sur la clause n° 7"),
        ("declaration", "execution", "execution",
         "déclaration de mars 2026 de X : 0\u00a0h (remplace 12\u00a0h, motif : erreur)",
         "une déclaration corrigée sur la clause n° 7"),
        ("declaration", "execution", "execution", "déclaration de mars 2026 de X : 10\u00a0h",
         "une déclaration enregistrée sur la clause n° 7"),
        ("declaration_cancelled", "execution", "execution", "déclaration n° 3 …",
         "une déclaration annulée sur la clause n° 7"),
        ("suspend", "execution", "suspended", "chantier arrêté",
         "un changement d'étape d'une clause"),
        ("some_new_event", "execution", "execution", None,
         "« some new event » sur la clause n° 7"),
    ],
)  # fmt: skip
def test_each_history_row_is_named_as_what_it_records(
    event: str, from_stage: str, to_stage: str, reason: str | None, said: str
) -> None:
    assert service.history_what(event, from_stage, to_stage, 7, reason) == said
