"""A person's name typed as a new participant's reference, and « CDDI » or « SIAE » typed in a
list that does not hold it, are refused in the same words by a file's import, the company's web
page and the JSON API, on SQLite and PostgreSQL (user trial: names were recorded, and the form
and the import said the same mistake differently). A refusal records nothing; the shared
sample still imports as it did."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.integration import test_declarations, test_online_declaration
from tests.integration.test_declaration_howto import lot_01
from tests.integration.test_declarations import (
    NOVEMBER,
    OCTOBER,
    declarations,
    edit,
    ids,
    import_file,
    refused_on_the_web,
    write,
)
from tests.integration.test_online_declaration import call_link, form
from tests.text import visible
from workflow.adapters.orm import DeclarationLine, Participant
from workflow.app import api_tokens
from workflow.app import declarations as declaration_commands
from workflow.bootstrap import App
from workflow.domain.choices import CONTRACTS, CRITERIA, DELIVERY_MODES, choice_problem
from workflow.domain.declaration_links import LinkScope
from workflow.entrypoints.web.site import create_site
from workflow.errors import FileRefused
from workflow.services.online_declarations import FormRefused, LineForm, lines_from_file

NAMED = (
    "« {} » ressemble à un nom : n'indiquez pas le nom de la personne, mais sa référence "
    "(ex. P-0042), celle que vous lui donnez chaque mois ; le service ne garde aucun nom."
)
#: The territory in execution (November 2026), and the one whose April calls were sent.
started = test_declarations.started
called = test_online_declaration.called
#: The sample's columns (0-based), as ``edit`` takes them.
REFERENCE, CRITERION, CONTRACT, MODE = 5, 6, 7, 8


def references(app: App) -> list[str]:
    with app.transaction() as session:
        return sorted(session.scalars(select(Participant.reference)))


# --- a name as a reference ---------------------------------------------------------------------


def test_a_file_naming_a_new_person_is_refused_whole_with_its_line_and_column(
    started: App, tmp_path: Path
) -> None:
    before = references(started)
    for name in ("Jean Dupont", "DUPONT Marie"):
        message = refused_on_the_web(started, write(tmp_path, edit(3, REFERENCE, name)))
        assert message == (
            "declaration.csv : 1 erreur, rien n'a été importé.\n"
            f"  - ligne 3, colonne « Référence participant » : {NAMED.format(name)}"
        )
    assert declarations(started) == [] and references(started) == before
    # The shared sample's references are references: it imports as before.
    import_file(started)
    assert declarations(started) == [(Decimal("370.17"), 4)]


def test_a_person_recorded_under_a_name_before_the_rule_is_still_declared(
    started: App, tmp_path: Path
) -> None:
    with started.transaction() as session:
        session.add(
            Participant(
                reference="Jean Dupont",
                criterion="minimum_income",
                created_at=datetime(2026, 3, 20, tzinfo=UTC),
            )
        )
    import_file(started, write(tmp_path, edit(3, REFERENCE, "Jean Dupont")))
    assert declarations(started) == [(Decimal("370.17"), 4)]


def test_the_web_page_refuses_a_name_naming_the_line_and_field(called: App) -> None:
    clause_id, holder, _ = lot_01(called)
    path = call_link(called, clause_id, holder)
    before = references(called)
    typed = {
        "reference": ["P-WEB-1", "Jean Dupont"],
        "hours": ["35", "20"],
        "contract": ["cdd", "cdd"],
        "mode": ["direct_hiring", "direct_hiring"],
        "criterion": ["minimum_income", "minimum_income"],
    }
    client = TestClient(create_site(called))
    for action in ("verifier", "confirmer"):
        refused = client.post(path, data=form(typed, action))
        assert refused.status_code == 422
        text = visible(refused.text)
        assert f"ligne 2, référence : {NAMED.format('Jean Dupont')}" in text
        assert "ligne 1," not in text
    assert references(called) == before


def test_a_filled_template_sent_from_the_web_page_naming_a_person_is_refused(
    started: App, tmp_path: Path
) -> None:
    clause_id, company_id = ids(started)
    data = write(tmp_path, edit(4, REFERENCE, "Jean Dupont")).read_bytes()
    with started.transaction() as session, pytest.raises(FileRefused) as refused:
        lines_from_file(
            session,
            data,
            "modele.csv",
            LinkScope(clause_id, company_id, OCTOBER, date(2027, 1, 31)),
            now=NOVEMBER,
            zone=started.settings.zone,
        )
    assert refused.value.message == (
        "modele.csv : 1 erreur, rien n'a été importé.\n"
        f"  - ligne 4, colonne «\u00a0Référence participant\u00a0» : {NAMED.format('Jean Dupont')}"
    )
    assert declarations(started) == []


def test_the_web_service_and_the_api_refuse_a_name_and_record_nothing(started: App) -> None:
    clause_id, company_id = ids(started)
    before = references(started)
    with pytest.raises(FormRefused) as caught:
        declaration_commands.declare_lines(
            started,
            clause=clause_id,
            company=company_id,
            month=OCTOBER,
            lines=[LineForm("DUPONT Marie", "35", "cdd", "direct_hiring", "minimum_income")],
            zero=False,
            actor="Bâtiments Gascons SARL",
            source="déclaration en ligne",
        )
    assert [str(p) for p in caught.value.problems] == [
        f"ligne 1, référence : {NAMED.format('DUPONT Marie')}"
    ]
    token, _ = api_tokens.create_token(started, name="Logiciel du PLIE", read_only=False)
    response = TestClient(create_site(started)).post(
        "/api/v1/declarations",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "clause": clause_id,
            "entreprise": company_id,
            "mois": "2026-10",
            "lignes": [
                {
                    "reference": "Jean Dupont",
                    "heures": 35,
                    "contrat": "cdd",
                    "modalite": "direct_hiring",
                    "critere": "minimum_income",
                }
            ],
        },
    )
    assert response.status_code == 422
    assert response.json() == {
        "erreur": "Déclaration refusée : «\u00a0lignes.0.reference\u00a0» : "
        + NAMED.format("Jean Dupont")
    }
    assert declarations(started) == [] and references(started) == before


# --- « CDDI » and « SIAE » in each list ----------------------------------------------------------

MODES = (
    "« Sous-traitance à une structure d'insertion ou EA » quand vous confiez une partie des "
    "travaux à une structure d'insertion (EI, ACI), « Co-traitance avec une structure "
    "d'insertion ou EA » quand elle est cotraitante du marché, « Mise à disposition (AI) » ou "
    "« Mise à disposition (ETTI) » quand elle vous met la personne à disposition."
)
#: (column of the sample, field of the form, value typed, what is said after the field).
MIX_UPS = [
    (
        MODE,
        "modalité",
        "CDDI",
        "« CDDI » : c'est un type de contrat, pas une modalité de réalisation : indiquez-le "
        f"comme type de contrat, et ici comment la personne a travaillé sur le lot : {MODES}",
    ),
    (
        MODE,
        "modalité",
        "SIAE",
        "« SIAE » : une structure d'insertion n'est pas une modalité de réalisation : indiquez "
        f"ici comment la personne a travaillé sur le lot : {MODES}",
    ),
    (
        CONTRACT,
        "type de contrat",
        "SIAE",
        "« SIAE » : une structure d'insertion n'est pas un type de contrat : indiquez le contrat "
        "de la personne, « CDDI » pour un salarié d'une entreprise ou d'un atelier et chantier "
        "d'insertion (EI, ACI), « Intérim d'insertion » pour une ETTI, « Mise à disposition » "
        "pour une AI ; la structure se dit dans la modalité de réalisation.",
    ),
    (
        CRITERION,
        "critère d'éligibilité",
        "CDDI",
        "« CDDI » : c'est un type de contrat, pas un critère d'éligibilité : indiquez-le comme "
        "type de contrat ; une personne en CDDI suit un parcours d'insertion, son critère est "
        "« Personne en parcours d'insertion (IAE) ».",
    ),
    (
        CRITERION,
        "critère d'éligibilité",
        "SIAE",
        "« SIAE » : une structure d'insertion n'est pas un critère d'éligibilité : la personne "
        "qu'elle emploie suit un parcours d'insertion, son critère est « Personne en parcours "
        "d'insertion (IAE) ».",
    ),
]
COLUMNS = {
    MODE: "Modalité de réalisation",
    CONTRACT: "Type de contrat",
    CRITERION: "Critère d'éligibilité",
}


def web_line(field: str, typed: str) -> LineForm:
    """A new person's line with ``typed`` in ``field``, the rest right."""
    values = {"contract": "cddi", "mode": "subcontracting", "criterion": "iae"}
    key = {"modalité": "mode", "type de contrat": "contract"}.get(field, "criterion")
    return LineForm("P-0900", "35", **(values | {key: typed}))


def test_cddi_or_siae_in_the_wrong_list_is_said_alike_by_the_file_and_the_web_form(
    started: App, tmp_path: Path
) -> None:
    clause_id, company_id = ids(started)
    missed = []
    for column, field, typed, said in MIX_UPS:
        message = refused_on_the_web(started, write(tmp_path, edit(2, column, typed)))
        if f"ligne 2, colonne « {COLUMNS[column]} » : {said}" not in message:
            missed.append(("fichier", typed, message))
        with pytest.raises(FormRefused) as caught:
            declaration_commands.declare_lines(
                started,
                clause=clause_id,
                company=company_id,
                month=OCTOBER,
                lines=[web_line(field, typed)],
                zero=False,
                actor="Bâtiments Gascons SARL",
                source="déclaration en ligne",
            )
        if [str(p) for p in caught.value.problems] != [f"ligne 1, {field} : {said}"]:
            missed.append(("formulaire", typed, caught.value.problems))
    assert missed == []
    assert declarations(started) == []


def test_cddi_as_a_contract_is_accepted_on_both(started: App, tmp_path: Path) -> None:
    import_file(started, write(tmp_path, edit(2, CONTRACT, "CDDI")))
    clause_id, company_id = ids(started)
    declaration_commands.declare_lines(
        started,
        clause=clause_id,
        company=company_id,
        month=date(2026, 9, 1),
        lines=[LineForm("P-0900", "35", "CDDI", "Sous-traitance", "iae")],
        zero=False,
        actor="Bâtiments Gascons SARL",
        source="déclaration en ligne",
    )
    with started.transaction() as session:
        contracts = session.scalars(
            select(DeclarationLine.contract_type).order_by(DeclarationLine.id)
        ).all()
    assert contracts[0] == "cddi" and contracts[-1] == "cddi"
    assert declarations(started) == [(Decimal("370.17"), 4), (Decimal("35"), 1)]


def test_the_same_empty_or_unknown_choice_is_said_alike_on_both(
    started: App, tmp_path: Path
) -> None:
    clause_id, company_id = ids(started)
    for column, field, choices, key in [
        (MODE, "modalité", DELIVERY_MODES, "mode"),
        (CONTRACT, "type de contrat", CONTRACTS, "contract"),
    ]:
        for typed in ("", "Embauche direct" if key == "mode" else "CDIi"):
            said = choice_problem(choices, typed)
            assert typed in said and ("Valeurs acceptées" in said or "dans la liste" in said)
            message = refused_on_the_web(started, write(tmp_path, edit(2, column, typed)))
            assert f"ligne 2, colonne « {COLUMNS[column]} » : {said}" in message
            with pytest.raises(FormRefused) as caught:
                declaration_commands.declare_lines(
                    started,
                    clause=clause_id,
                    company=company_id,
                    month=OCTOBER,
                    lines=[web_line(field, typed)],
                    zero=False,
                    actor="Bâtiments Gascons SARL",
                    source="déclaration en ligne",
                )
            assert [str(p) for p in caught.value.problems] == [f"ligne 1, {field} : {said}"]
    assert "vouliez-vous dire « Embauche directe » ?" in choice_problem(
        DELIVERY_MODES, "Embauche direct"
    )
    assert choice_problem(CRITERIA, "").startswith("valeur manquante : choisissez une valeur")
    assert declarations(started) == []


def test_a_known_persons_criterion_no_list_holds_is_refused(started: App) -> None:
    import_file(started)
    clause_id, company_id = ids(started)
    with pytest.raises(FormRefused) as caught:
        declaration_commands.declare_lines(
            started,
            clause=clause_id,
            company=company_id,
            month=date(2026, 9, 1),
            lines=[LineForm("P-0007", "35", "cdd", "direct_hiring", "SIAE")],
            zero=False,
            actor="Logiciel du PLIE",
            source="API",
        )
    assert [str(p) for p in caught.value.problems] == [
        f"ligne 1, critère d'éligibilité : {MIX_UPS[-1][3]}"
    ]
    assert declarations(started) == [(Decimal("370.17"), 4)]
