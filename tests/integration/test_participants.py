"""Completing a participant and validating their eligibility, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from workflow.adapters.orm import Participant
from workflow.bootstrap import App
from workflow.domain.vocabulary import Criterion, Sex
from workflow.errors import InputRefused, NotFound
from workflow.services.outcomes import list_participants
from workflow.services.participants import (
    ParticipantChange,
    create_participant,
    update_participant,
    validate_eligibility,
)

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 5, 9, 0, tzinfo=UTC)
#: 23:30 in UTC on 31 March is already 1 April in Paris (summer time since the 29th).
PARIS_NEW_DAY = datetime(2026, 3, 31, 22, 30, tzinfo=UTC)


@pytest.fixture
def people(app: App) -> App:
    """P-0101 as a declaration import creates it (reference and criterion only); P-0007 complete."""
    with app.transaction() as session:
        create_participant(session, reference="P-0101", criterion=Criterion.QPV_RESIDENT, now=NOW)
        create_participant(
            session,
            reference="P-0007",
            criterion=Criterion.LONG_TERM_JOBSEEKER,
            now=NOW,
            sex=Sex.MALE,
            birth_year=1979,
            proof="attestation France Travail",
            validated_on=date(2026, 3, 20),
        )
    return app


def stored(app: App, reference: str) -> tuple[object, ...]:
    with app.transaction() as session:
        p = session.scalars(select(Participant).where(Participant.reference == reference)).one()
        return (p.criterion, p.sex, p.birth_year, p.proof, p.validated_on)


def update(app: App, reference: str = "P-0101", **fields: object) -> ParticipantChange:
    with app.transaction() as session:
        return update_participant(
            session,
            reference,
            now=fields.pop("now", NOW),  # type: ignore[arg-type]
            zone=PARIS,
            **fields,  # type: ignore[arg-type]
        )


def validate(
    app: App,
    reference: str = "P-0101",
    proof: str = "Attestation France Travail DELD",
    on: date | None = None,
    now: datetime = NOW,
) -> ParticipantChange:
    with app.transaction() as session:
        return validate_eligibility(session, reference, proof=proof, on=on, now=now, zone=PARIS)


# --- participant set ----------------------------------------------------------------------------


def test_it_completes_only_the_fields_given(people: App) -> None:
    sex_only = update(people, sex=Sex.FEMALE)
    year_too = update(people, birth_year=1998)

    assert sex_only.message == "Participant P-0101 mis à jour : sexe F."
    assert [(c.field, c.before, c.after) for c in year_too.changes] == [
        ("birth_year", None, "1998")
    ]
    assert stored(people, "P-0101") == ("qpv_resident", "F", 1998, "", None)


def test_it_says_nothing_changed_when_the_values_are_already_recorded(people: App) -> None:
    update(people, sex=Sex.FEMALE, birth_year=1998)

    again = update(people, sex=Sex.FEMALE, birth_year=1998, criterion=Criterion.QPV_RESIDENT)

    assert not again.changed
    assert again.message == (
        "Rien de nouveau : P-0101 a déjà : sexe F, année de naissance 1998, "
        "critère « Habitant d'un quartier prioritaire (QPV) »."
    )


def test_it_corrects_a_value_and_says_what_it_replaced(people: App) -> None:
    change = update(people, "P-0007", birth_year=1978, sex=Sex.MALE)

    assert change.message == (
        "Participant P-0007 mis à jour : année de naissance 1978 (au lieu de 1979)."
    )
    assert stored(people, "P-0007")[1:3] == ("M", 1978)


def test_a_new_criterion_withdraws_the_validation_of_the_former_one(people: App) -> None:
    change = update(people, "P-0007", criterion=Criterion.JOBSEEKER_OVER_50)

    assert [c.field for c in change.changes] == ["criterion", "validated_on"]
    assert "critère « Demandeur d'emploi de plus de 50 ans » (au lieu de « Demandeur" in (
        change.message
    )
    assert "validation retirée (était : le 20/03/2026, attestation France Travail)" in (
        change.message
    )
    assert "clauses participant validate P-0007 --proof" in change.message
    assert stored(people, "P-0007") == ("jobseeker_over_50", "M", 1979, "", None)


@pytest.mark.parametrize("year", [1899, 2013])
def test_it_refuses_an_implausible_birth_year_and_changes_nothing(people: App, year: int) -> None:
    with pytest.raises(InputRefused) as caught:
        update(people, sex=Sex.FEMALE, birth_year=year)

    assert caught.value.message == (
        f"Participant « P-0101 » : année de naissance {year} impossible : entre 1900 et 2012 "
        "(au moins 14 ans cette année)."
    )
    assert stored(people, "P-0101") == ("qpv_resident", None, None, "", None)


def test_it_accepts_a_fourteen_year_old_in_the_local_year(people: App) -> None:
    # 31 December 23:30 UTC is already 2027 in Paris: someone born in 2013 turns 14 that year.
    new_year = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)

    update(people, birth_year=2013, now=new_year)

    assert stored(people, "P-0101")[2] == 2013


def test_it_refuses_an_unknown_participant_and_an_empty_request(people: App) -> None:
    with pytest.raises(NotFound, match="Aucun participant « P-9999 »"):
        update(people, "P-9999", sex=Sex.MALE)
    with pytest.raises(InputRefused, match="Rien à modifier pour « P-0101 »"):
        update(people)


# --- participant validate -----------------------------------------------------------------------


def test_it_records_the_proof_dated_today_in_the_service_time_zone(people: App) -> None:
    change = validate(people, now=PARIS_NEW_DAY)

    assert change.message == (
        "Éligibilité de P-0101 validée le 01/04/2026 : Attestation France Travail DELD."
    )
    assert change.validated_on == date(2026, 4, 1)
    assert stored(people, "P-0101")[3:] == ("Attestation France Travail DELD", date(2026, 4, 1))


def test_running_the_same_validation_again_changes_nothing_even_days_later(people: App) -> None:
    validate(people, on=date(2026, 10, 2))

    same_day = validate(people, on=date(2026, 10, 2))
    later = validate(people, proof="  Attestation   France Travail DELD ")

    for again in (same_day, later):
        assert not again.changed
        assert again.message == (
            "Rien de nouveau : l'éligibilité de P-0101 est déjà validée le 02/10/2026 "
            "(Attestation France Travail DELD)."
        )
    assert stored(people, "P-0101")[4] == date(2026, 10, 2)


def test_a_new_proof_replaces_the_former_and_says_so(people: App) -> None:
    change = validate(people, "P-0007", proof="Attestation France Travail DELD")

    assert change.message == (
        "Éligibilité de P-0007 validée le 05/11/2026 : Attestation France Travail DELD "
        "(remplace : le 20/03/2026, attestation France Travail)."
    )
    assert [c.field for c in change.changes] == ["proof", "validated_on"]


@pytest.mark.parametrize(
    ("proof", "on", "expected"),
    [
        ("", None, "justificatif vide : indiquez la pièce vérifiée"),
        ("x" * 201, None, "justificatif trop long : 201 caractères, 200 au plus"),
        ("Attestation CAF", date(2026, 11, 6), "date de validation 06/11/2026 dans le futur"),
        ("Attestation CAF", date(26, 11, 5), "l'année s'écrit sur 4 chiffres"),
    ],
)
def test_it_refuses_a_bad_validation_and_changes_nothing(
    people: App, proof: str, on: date | None, expected: str
) -> None:
    with pytest.raises(InputRefused) as caught:
        validate(people, proof=proof, on=on)

    assert caught.value.message.startswith("Participant « P-0101 » : ")
    assert expected in caught.value.message
    assert stored(people, "P-0101")[3:] == ("", None)


def test_it_refuses_to_validate_an_unknown_participant(people: App) -> None:
    with pytest.raises(NotFound) as missing:  # the command line names the list
        validate(people, "P-9999")
    assert "clauses participant list" in missing.value.command_line_message


# --- reading ------------------------------------------------------------------------------------


def test_the_list_gives_sex_birth_year_and_eligibility(people: App) -> None:
    update(people, sex=Sex.FEMALE, birth_year=1998)

    with people.transaction() as session:
        lines = {line.reference: line for line in list_participants(session)}

    p0101, p0007 = lines["P-0101"], lines["P-0007"]
    assert (p0101.sex, p0101.birth_year, p0101.proof, p0101.validated_on) == ("F", 1998, "", None)
    assert (p0007.sex, p0007.birth_year, p0007.validated_on) == ("M", 1979, date(2026, 3, 20))
    assert p0007.proof == "attestation France Travail"
