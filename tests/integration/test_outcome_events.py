"""Outcomes as dated events (several per participant and clause, one a day), by the CSV import
and on a closed clause, with their corrections by N°; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from tests.integration.test_declarations import NOVEMBER, ids
from tests.integration.test_outcomes import (
    OCTOBER_30,
    PARIS,
    declared,
    import_outcomes,
    outcome_history,
    record,
    stored,
)
from workflow.bootstrap import App
from workflow.domain.outcomes import OutcomeType
from workflow.domain.stages import ClauseEvent
from workflow.errors import FileRefused, InputRefused
from workflow.services.clauses import advance_clause, no_publish, record_final_report
from workflow.services.outcomes import Change, fix_outcome, list_outcomes, remove_outcome

__all__ = ["declared"]  # the fixture, imported to be used here

HEADER = "Référence participant;N° marché;Lot;Type de sortie;Date\r\n"
NBSP = "\u00a0"


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "sorties.csv"
    path.write_bytes((HEADER + "".join(f"{line}\r\n" for line in lines)).encode("cp1252"))
    return path


def test_an_import_with_two_outcomes_of_one_participant_records_both_once(
    declared: App, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "P-0007;2026-014;01;Formation courte;30/10/2026",
        "P-0007;2026-014;01;CDI;04/11/2026",
        "P-0007;2026-014;01;CDI;04/11/2026",  # the very same line twice: recorded once
    )

    first = import_outcomes(declared, path)
    second = import_outcomes(declared, path)

    assert [(o.reference, o.outcome_type, o.on, o.change) for o in first.outcomes] == [
        ("P-0007", OutcomeType.SHORT_TRAINING, OCTOBER_30, Change.CREATED),
        ("P-0007", OutcomeType.CDI, date(2026, 11, 4), Change.CREATED),
    ]
    assert second.nothing_new and second.count(Change.UNCHANGED) == 2
    assert stored(declared) == [
        ("short_training", "other", OCTOBER_30),
        ("cdi", "lasting_job", date(2026, 11, 4)),
    ]
    assert [row.reason for row in outcome_history(declared)] == [
        "sortie de P-0007 : Formation courte (non qualifiante) (autre) le 30/10/2026",
        "sortie de P-0007 : CDI (emploi durable) le 04/11/2026",
    ]


def test_an_import_refuses_another_situation_the_same_day_in_the_file_or_the_database(
    declared: App, tmp_path: Path
) -> None:
    record(declared, outcome_type=OutcomeType.CDI, on=OCTOBER_30)
    path = write(
        tmp_path,
        "P-0012;2026-014;01;CDI;31/10/2026",
        "P-0012;2026-014;01;Perdu de vue;31/10/2026",
        "P-0007;2026-014;01;Formation courte;30/10/2026",
    )

    with pytest.raises(FileRefused) as caught:
        import_outcomes(declared, path)

    lines = caught.value.message.replace(NBSP, " ").splitlines()
    assert lines[0] == "sorties.csv : 2 erreurs, rien n'a été importé."
    assert lines[1] == (
        "  - ligne 3, colonne « Type de sortie » : participant « P-0012 » : une autre sortie de "
        "la même clause le 31/10/2026 est déjà indiquée ligne 2 (CDI) : une seule situation par "
        "jour."
    )
    assert lines[2].startswith(
        "  - ligne 4 : P-0007 a déjà une sortie le 30/10/2026 sur la clause n° "
    )
    assert len(stored(declared)) == 1


def test_an_import_with_replace_takes_one_line_per_participant_and_clause(
    declared: App, tmp_path: Path
) -> None:
    record(declared, outcome_type=OutcomeType.SHORT_TRAINING, on=OCTOBER_30)
    twice = write(
        tmp_path, "P-0007;2026-014;01;CDI;30/10/2026", "P-0007;2026-014;01;CDI;04/11/2026"
    )
    with pytest.raises(FileRefused) as caught:
        import_outcomes(declared, twice, replace=True)
    assert "avec --replace, une seule ligne par participant et par clause" in caught.value.message

    once = write(tmp_path, "P-0007;2026-014;01;CDI;30/10/2026")
    done = import_outcomes(declared, once, replace=True)

    assert [o.change for o in done.outcomes] == [Change.REPLACED]
    assert stored(declared) == [("cdi", "lasting_job", OCTOBER_30)]


def close(app: App, clause_id: int) -> None:
    with app.transaction() as session:
        advance_clause(
            session, clause_id, ClauseEvent.FINISH, actor="démo", reason=None, now=NOVEMBER,
            publish=no_publish, end_date=date(2026, 10, 31),
        )  # fmt: skip
        record_final_report(
            session, clause_id, text="Bilan.", actor="démo", now=NOVEMBER, publish=no_publish
        )
        advance_clause(
            session, clause_id, ClauseEvent.CLOSE, actor="démo", reason=None, now=NOVEMBER,
            publish=no_publish,
        )  # fmt: skip


def test_a_closed_clause_takes_an_outcome_known_at_the_six_month_follow_up(
    declared: App, tmp_path: Path
) -> None:
    clause_id = ids(declared)[0]
    training = record(declared, outcome_type=OutcomeType.SHORT_TRAINING, on=OCTOBER_30)
    close(declared, clause_id)
    may = datetime(2027, 5, 3, 9, tzinfo=UTC)

    cdi = record(declared, outcome_type=OutcomeType.CDI, on=date(2027, 4, 28), now=may)
    with declared.transaction() as session:
        fixed = fix_outcome(
            session, cdi.outcome_id, outcome_type=None, on=date(2027, 4, 26),
            reason="date du contrat", actor="Camille Martin", now=may, zone=PARIS,
        )  # fmt: skip
        removed = remove_outcome(
            session, training.outcome_id, reason="formation jamais commencée",
            actor="Camille Martin", now=may, zone=PARIS,
        )  # fmt: skip

    assert cdi.change is Change.CREATED
    assert fixed.changed and removed.removed
    with declared.transaction() as session:
        listed = [(o.id, o.type, o.on) for o in list_outcomes(session, clause_id)]
    assert listed == [(cdi.outcome_id, "cdi", date(2027, 4, 26))]
    assert [row.to_stage for row in outcome_history(declared)[-3:]] == ["closed"] * 3
    assert outcome_history(declared)[-1].reason == (
        f"sortie n° {training.outcome_id} de P-0007 retirée : Formation courte (non qualifiante) "
        "(autre) le 30/10/2026 ; motif : formation jamais commencée"
    )


def test_a_correction_keeps_the_rules_of_a_recording(declared: App) -> None:
    first = record(declared, outcome_type=OutcomeType.SHORT_TRAINING, on=OCTOBER_30)
    second = record(declared, outcome_type=OutcomeType.CDI, on=date(2026, 11, 4))
    rows = len(outcome_history(declared))

    with declared.transaction() as session, pytest.raises(InputRefused) as caught:
        fix_outcome(
            session, second.outcome_id, outcome_type=None, on=OCTOBER_30, reason="x",
            actor="Camille Martin", now=NOVEMBER, zone=PARIS,
        )  # fmt: skip

    assert f"(n° {first.outcome_id} : Formation courte (non qualifiante) le 30/10/2026)" in (
        caught.value.message.replace(NBSP, " ")
    )
    assert "une seule situation par jour" in caught.value.message
    assert len(outcome_history(declared)) == rows
    assert [t for t, _, _ in stored(declared)] == ["short_training", "cdi"]
