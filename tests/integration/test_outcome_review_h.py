"""Review of outcomes corrected and withdrawn by their N° (on SQLite and PostgreSQL): an older
outcome without a clause is corrected and withdrawn, its participant's correction history
keeping the change; a withdrawal asked twice answers with the first one; an outcome recorded,
corrected or withdrawn on a closed clause says that the final report the buyer received is not
changed."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from tests.integration.test_declarations import NOVEMBER, ids
from tests.integration.test_outcome_events import close
from tests.integration.test_outcomes import OCTOBER_30, PARIS, declared, outcome_history, record
from workflow.adapters.orm import OutboxMessage, Outcome, Participant
from workflow.app.web_people_corrections import participant_sheet
from workflow.bootstrap import App
from workflow.domain.outcomes import OutcomeType
from workflow.errors import InputRefused, NotFound
from workflow.services.outcomes import fix_outcome, list_outcomes, remove_outcome

__all__ = ["declared"]  # the fixture, imported to be used here

NBSP = "\u00a0"
MAY = datetime(2027, 5, 3, 9, tzinfo=UTC)


def unattached(app: App, on: date = OCTOBER_30) -> int:
    """An outcome of P-0007 without a clause, as older data holds some."""
    with app.transaction() as session:
        person = session.scalars(select(Participant).where(Participant.reference == "P-0007"))
        row = Outcome(
            participant_id=person.one().id, clause_id=None, type="cdi", group="lasting_job",
            date=on,
        )  # fmt: skip
        session.add(row)
        session.flush()
        return row.id


def participant_history(app: App) -> list[str]:
    """P-0007's correction history as its page (« Corrections ») shows it."""
    with app.transaction() as session:
        person = session.scalars(select(Participant).where(Participant.reference == "P-0007"))
        number = person.one().id
    sheet = participant_sheet(app, number)
    return [f"{e.text} ; motif : {e.reason}".replace(NBSP, " ") for e in sheet.history]


def test_an_outcome_without_a_clause_is_corrected_and_withdrawn_with_a_history(
    declared: App,
) -> None:
    number = unattached(declared)
    with declared.transaction() as session:
        fixed = fix_outcome(
            session, number, outcome_type=OutcomeType.LONG_CDD, on=None,
            reason="contrat relu", actor="Camille Martin", now=NOVEMBER, zone=PARIS,
        )  # fmt: skip
    assert fixed.message == (
        f"Sortie n° {number} corrigée : P-0007, sans clause, CDD de 6 mois ou plus (emploi "
        "durable) le 30/10/2026 (remplace CDI (emploi durable) le 30/10/2026) ; motif : contrat "
        "relu."
    )
    with declared.transaction() as session:
        [listed] = list_outcomes(session)
        assert (listed.id, listed.type, listed.clause_id) == (number, "cdd_6_months_or_more", None)
        removed = remove_outcome(
            session, number, reason="doublon d'une ancienne saisie", actor="Camille Martin",
            now=MAY, zone=PARIS,
        )  # fmt: skip
    assert removed.message == (
        f"Sortie n° {number} retirée : P-0007, sans clause, CDD de 6 mois ou plus (emploi "
        "durable) le 30/10/2026 ; motif : doublon d'une ancienne saisie. Elle ne compte plus "
        "dans les synthèses ni les bilans ; l'historique du participant la garde."
    )
    assert participant_history(declared) == [
        f"sortie n° {number} « CDI (emploi durable) le 30/10/2026 » → « CDD de 6 mois ou plus "
        "(emploi durable) le 30/10/2026 » ; motif : contrat relu",
        f"sortie n° {number} « CDD de 6 mois ou plus (emploi durable) le 30/10/2026 » → "
        "« retirée » ; motif : doublon d'une ancienne saisie",
    ]
    with declared.transaction() as session:
        assert list_outcomes(session) == []
        again = remove_outcome(
            session, number, reason="doublon", actor="Camille Martin", now=MAY, zone=PARIS
        )
    assert not again.changed
    assert again.message == (
        f"Rien de nouveau : la sortie n° {number} a déjà été retirée le 03/05/2027 (motif : "
        "doublon d'une ancienne saisie)."
    )


def test_an_outcome_without_a_clause_keeps_the_rules_left(declared: App) -> None:
    number = unattached(declared)
    rows = participant_history(declared)
    with declared.transaction() as session, pytest.raises(InputRefused) as caught:
        fix_outcome(
            session, number, outcome_type=None, on=date(2027, 1, 4), reason="x",
            actor="Camille Martin", now=NOVEMBER, zone=PARIS,
        )  # fmt: skip
    assert caught.value.message.startswith("Date de sortie 04/01/2027 dans le futur")
    # A lot's page never takes it: it is on no lot.
    with declared.transaction() as session, pytest.raises(InputRefused) as caught:
        remove_outcome(
            session, number, reason="x", actor="Camille Martin", now=NOVEMBER, zone=PARIS,
            on_clause=ids(declared)[0],
        )  # fmt: skip
    assert f"La sortie n° {number} n'est rattachée à aucune clause" in caught.value.message
    assert participant_history(declared) == rows


def test_a_withdrawal_asked_twice_answers_with_the_first_and_changes_nothing(
    declared: App,
) -> None:
    outcome = record(declared, outcome_type=OutcomeType.SHORT_TRAINING)
    with declared.transaction() as session:
        remove_outcome(
            session, outcome.outcome_id, reason="saisie sur la mauvaise personne",
            actor="Camille Martin", now=MAY, zone=PARIS,
        )  # fmt: skip
    rows = len(outcome_history(declared))
    with declared.transaction() as session:
        again = remove_outcome(
            session, outcome.outcome_id, reason="saisie sur la mauvaise personne",
            actor="Camille Martin", now=MAY, zone=PARIS,
        )  # fmt: skip
    assert not again.changed and again.removed
    assert again.message == (
        f"Rien de nouveau : la sortie n° {outcome.outcome_id} a déjà été retirée le 03/05/2027 "
        "(motif : saisie sur la mauvaise personne)."
    )
    assert len(outcome_history(declared)) == rows
    # A correction of it says it was withdrawn, not that it never was.
    with declared.transaction() as session, pytest.raises(NotFound) as caught:
        fix_outcome(
            session, outcome.outcome_id, outcome_type=OutcomeType.CDI, on=None, reason="x",
            actor="Camille Martin", now=MAY, zone=PARIS,
        )  # fmt: skip
    assert caught.value.message.startswith(
        f"La sortie n° {outcome.outcome_id} a déjà été retirée le 03/05/2027 (motif : saisie "
        "sur la mauvaise personne) : elle ne se corrige plus."
    )


def sent_report(app: App, clause_id: int, sent_at: datetime) -> None:
    """The buyer's notice of the final report, as the dispatcher leaves it once sent."""
    with app.transaction() as session:
        session.add(
            OutboxMessage(
                key=f"notice:{clause_id}:notice_final_report:h1", kind="notice_final_report",
                clause_id=clause_id, recipients="Acheteur <a@example.org>",
                subject="Bilan de l'opération", body_text="Bilan.", body_html="<p>Bilan.</p>",
                state="sent", created_at=sent_at, sent_at=sent_at,
            )
        )  # fmt: skip


def test_on_a_closed_clause_the_final_report_sent_is_said_unchanged(declared: App) -> None:
    clause_id = ids(declared)[0]
    training = record(declared, outcome_type=OutcomeType.SHORT_TRAINING)
    close(declared, clause_id)
    sent_report(declared, clause_id, datetime(2026, 11, 20, 23, 30, tzinfo=UTC))

    cdi = record(declared, outcome_type=OutcomeType.CDI, on=date(2027, 4, 28), now=MAY)
    with declared.transaction() as session:
        fixed = fix_outcome(
            session, cdi.outcome_id, outcome_type=None, on=date(2027, 4, 26),
            reason="date du contrat", actor="Camille Martin", now=MAY, zone=PARIS,
        )  # fmt: skip
        removed = remove_outcome(
            session, training.outcome_id, reason="formation jamais commencée",
            actor="Camille Martin", now=MAY, zone=PARIS,
        )  # fmt: skip

    report = "le bilan de l'opération adressé au donneur d'ordre le 21/11/2026 n'est pas modifié."  # sent at 00:30 in Paris
    assert cdi.message == (
        f"Sortie n° {cdi.outcome_id} enregistrée : P-0007, clause n° {clause_id}, CDI (emploi "
        "durable) le 28/04/2027. La clause est clôturée : la sortie compte dans les synthèses "
        f"mensuelles et le bilan annuel de sa date ; {report}"
    )
    assert fixed.message.endswith(
        "motif : date du contrat. La clause est clôturée : la sortie corrigée compte dans les "
        f"synthèses mensuelles et le bilan annuel de sa date ; {report}"
    )
    assert removed.message.endswith(
        "motif : formation jamais commencée. La clause est clôturée : la sortie ne compte plus "
        f"dans les synthèses mensuelles et le bilan annuel de sa date ; {report}"
    )
    assert "ni les bilans" not in removed.message


def test_on_a_closed_clause_whose_report_was_not_sent_the_date_is_left_out(
    declared: App,
) -> None:
    clause_id = ids(declared)[0]
    close(declared, clause_id)  # its report recorded, its notice not sent
    cdi = record(declared, outcome_type=OutcomeType.CDI, on=date(2027, 4, 28), now=MAY)
    assert cdi.message.endswith(
        "La clause est clôturée : la sortie compte dans les synthèses mensuelles et le bilan "
        "annuel de sa date ; le bilan de l'opération adressé au donneur d'ordre n'est pas "
        "modifié."
    )
