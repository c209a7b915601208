"""The « Actions » of a clause's page, over the real ASGI application, on SQLite and PostgreSQL.

Each form (award, final report, hours imposed, figures of the calculation, suspend or abandon)
is sent for one clause while the application function the CLI calls is called directly, with
the same values and the same actor, for a twin clause at the same stage: both leave the same
history rows and the same clause. A refused input answers 422 with a French message naming the
field and what was typed, and changes nothing; a form without its CSRF token changes nothing.
Each form is offered only at the stages whose rules accept it.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from tests.integration.test_declaration_howto import GASCONS, lot_01
from tests.integration.test_web_board import history_rows, sign_in, site
from tests.text import visible
from workflow.adapters.templates import french_hours
from workflow.app import clauses as clause_app
from workflow.app.clause_views import ClauseDetail
from workflow.app.clauses import Figures, PartyChoice, clause_detail, list_clauses
from workflow.bootstrap import App
from workflow.domain.stages import ClauseEvent, Stage
from workflow.domain.vocabulary import PartyRole

__all__ = ["site"]  # the fixture, imported to be used here

ACTOR = "Camille Martin"
ROUTES = ("attribution", "bilan", "heures", "parametres", "evenement")


def twins(app: App, stage: Stage) -> tuple[int, int]:
    """Two clauses at ``stage``: one for the web, one for the application function."""
    found = [c.id for c in list_clauses(app, stage=stage)]
    assert len(found) >= 2, stage
    return found[0], found[1]


def at_award(app: App) -> tuple[int, int]:
    """The two clauses of the sample still in « repérage », moved on to « attribution »."""
    first, second = twins(app, Stage.IDENTIFICATION)
    for clause_id in (first, second):
        for event in (ClauseEvent.DRAFT, ClauseEvent.AWARD):
            clause_app.advance_clause(app, clause_id, event, actor="démo")
    return first, second


def at_follow_up(app: App) -> tuple[int, int]:
    """Two clauses of the sample whose work started by its day (4 May 2026), ended that day: an
    end date is a day that has come."""
    started = [
        c.id
        for c in list_clauses(app, stage=Stage.EXECUTION)
        if (start := clause_app.clause_detail(app, c.id).start_date) and start <= date(2026, 5, 4)
    ]
    first, second = started[:2]
    for clause_id in (first, second):
        clause_app.advance_clause(
            app, clause_id, ClauseEvent.FINISH, end_date=date(2026, 5, 4), actor="démo"
        )
    return first, second


def rows_after(app: App, clause_id: int, count: int) -> list[tuple[object, ...]]:
    """The history rows written after the first ``count``, without the stage columns' ids."""
    return [tuple(row) for row in history_rows(app, clause_id)[count:]]


def same_clause(one: ClauseDetail, other: ClauseDetail) -> None:
    """Two clauses hold the same award, dates, figures, hours and report."""

    def parties(detail: ClauseDetail) -> list[tuple[object, ...]]:
        return [
            (p.company_id, p.role, p.correspondent, p.email, p.hours_share) for p in detail.parties
        ]

    assert parties(one) == parties(other)
    assert (one.start_date, one.planned_end_date, one.end_date) == (
        other.start_date,
        other.planned_end_date,
        other.end_date,
    )
    assert (one.summary.stage, one.summary.hours_override, one.override_reason) == (
        other.summary.stage,
        other.summary.hours_override,
        other.override_reason,
    )
    assert one.final_report == other.final_report


def forms_of(html: str) -> set[str]:
    """The actions a clause's page offers, by the last part of their address."""
    return set(re.findall(r'action="/clauses/\d+/(\w+)#', html)) & set(ROUTES)


def field_value(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" type="[a-z]+"[^>]*value="([^"]*)"', html)
    assert found is not None, name
    return found.group(1)


# --- which forms, where ------------------------------------------------------------------------


def test_each_stage_offers_the_actions_its_rules_accept(app: App, site: TestClient) -> None:
    sign_in(site)
    execution, _ = twins(app, Stage.EXECUTION)
    identification, _ = twins(app, Stage.IDENTIFICATION)

    # The award is corrected during the works (a subcontractor joining).
    assert forms_of(site.get(f"/clauses/{execution}").text) == {
        "attribution",
        "heures",
        "evenement",
    }
    assert forms_of(site.get(f"/clauses/{identification}").text) == {
        "parametres",
        "heures",
        "evenement",
    }
    page = visible(site.get(f"/clauses/{execution}").text)
    assert "Suspendre la clause" in page and "Abandonner la clause" not in page
    page = visible(site.get(f"/clauses/{identification}").text)
    assert "Abandonner la clause" in page and "Suspendre la clause" not in page

    awarding, _ = at_award(app)
    assert forms_of(site.get(f"/clauses/{awarding}").text) == {
        "attribution",
        "heures",
        "evenement",
    }
    following, _ = at_follow_up(app)
    assert forms_of(site.get(f"/clauses/{following}").text) == {"bilan", "heures"}


# --- the award ---------------------------------------------------------------------------------


def award_form(csrf: str, **changes: str) -> dict[str, str]:
    """Lot 01's companies as a person types them: the holder by its SIRET (spaced as read
    aloud), its subcontractor by part of its name."""
    spaced = f"{GASCONS[:3]} {GASCONS[3:6]} {GASCONS[6:9]} {GASCONS[9:]}"
    data = {
        "csrf": csrf,
        "titulaire": spaced,
        "titulaire_correspondant": "",
        "titulaire_heures": "300",
        "role_1": "sous-traitant",
        "entreprise_1": "gascogne insertion",
        "correspondant_1": "",
        "heures_1": "100",
        "role_2": "cotraitant",
        "entreprise_2": "",
        "demarrage": "2026-06-01",
        "fin_prevue": "2027-05-31",
    }
    return {**data, **changes}


def test_the_award_form_records_what_award_clause_records(app: App, site: TestClient) -> None:
    csrf = sign_in(site)
    by_web, by_app = at_award(app)
    _, holder, partner = lot_01(app)
    web_count, app_count = len(history_rows(app, by_web)), len(history_rows(app, by_app))
    page = visible(site.get(f"/clauses/{by_web}").text)
    assert "Enregistrer l'attribution" in page

    sent = site.post(
        f"/clauses/{by_web}/attribution", data=award_form(csrf), follow_redirects=False
    )
    recorded = clause_app.award_clause(
        app,
        by_app,
        parties=(
            PartyChoice(holder, PartyRole.HOLDER, None, 300),
            PartyChoice(partner, PartyRole.SUBCONTRACTOR, None, 100),
        ),
        start_date=date(2026, 6, 1),
        planned_end_date=date(2027, 5, 31),
        actor=ACTOR,
    )

    assert sent.status_code == 303, visible(sent.text)
    assert rows_after(app, by_web, web_count) == rows_after(app, by_app, app_count)
    assert rows_after(app, by_web, web_count)[0][0::3] == (
        "award_recorded",
        ACTOR,
    )
    same_clause(clause_detail(app, by_web), recorded.detail)
    # What the CLI prints after it: the award recorded, the companies and the dates.
    done = visible(site.get(sent.headers["location"]).text)
    assert f"Attribution de la clause n°\u00a0{by_web} enregistrée" in done
    assert f"Entreprise titulaire\u00a0: Bâtiments Gascons SARL – {french_hours(300)}" in done
    assert "Entreprise sous-traitant\u00a0: Gascogne Insertion Bâtiment (EI)" in done
    assert "Démarrage\u00a0: 1er juin 2026 · fin prévue\u00a0: 31 mai 2027" in done

    # The form comes back filled with the award: sent as it is, nothing changes.
    html = site.get(f"/clauses/{by_web}").text
    assert "Corriger l'attribution" in visible(html)
    again = {
        name: field_value(html, name)
        for name in (
            "titulaire",
            "titulaire_correspondant",
            "titulaire_heures",
            "entreprise_1",
            "correspondant_1",
            "heures_1",
            "demarrage",
            "fin_prevue",
        )
    }
    assert again["titulaire"] == str(holder) and again["entreprise_1"] == str(partner)
    unchanged = site.post(
        f"/clauses/{by_web}/attribution",
        data={"csrf": csrf, "role_1": "sous-traitant", **again},
        follow_redirects=False,
    )
    assert unchanged.status_code == 303
    assert "rien n'a été modifié, aucun courriel envoyé" in visible(
        site.get(unchanged.headers["location"]).text
    )
    web_count, app_count = len(history_rows(app, by_web)), len(history_rows(app, by_app))
    assert rows_after(app, by_web, web_count - 1) == rows_after(app, by_app, app_count - 1)

    # A correction: the holder's hours and the end; the same row as award_clause's.
    corrected = site.post(
        f"/clauses/{by_web}/attribution",
        data={
            "csrf": csrf,
            "role_1": "sous-traitant",
            **again,
            "titulaire_heures": "350",
            "fin_prevue": "30/06/2027",
        },
        follow_redirects=False,
    )
    fixed = clause_app.award_clause(
        app,
        by_app,
        parties=(
            PartyChoice(holder, PartyRole.HOLDER, None, 350),
            PartyChoice(partner, PartyRole.SUBCONTRACTOR, None, 100),
        ),
        start_date=date(2026, 6, 1),
        planned_end_date=date(2027, 6, 30),
        actor=ACTOR,
    )
    assert corrected.status_code == 303, visible(corrected.text)
    assert rows_after(app, by_web, web_count) == rows_after(app, by_app, app_count)
    assert rows_after(app, by_web, web_count)[0][0] == "award_corrected"
    same_clause(clause_detail(app, by_web), fixed.detail)
    page = visible(site.get(corrected.headers["location"]).text)
    assert f"Attribution de la clause n°\u00a0{by_web} corrigée (donneur d'ordre prévenu)" in page
    for change in fixed.changes:
        assert f"{change.what}\u00a0: {change.before} → {change.after}" in page


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"titulaire": " "}, "Entreprise titulaire\u00a0: indiquez son N°, son nom ou son SIRET"),
        (
            {"fin_prevue": "2026-05-31"},
            "Date de fin prévue\u00a0: le 31/05/2026 est avant le démarrage (01/06/2026).",
        ),
        (
            {"entreprise_1": "Entreprise Inconnue SA"},
            "Entreprise de la ligne 1\u00a0: Entreprise «\u00a0Entreprise Inconnue SA\u00a0» introuvable.",
        ),
        (
            {"titulaire_heures": "abc"},
            "Heures confiées au titulaire\u00a0: «\u00a0abc\u00a0» n'est pas un nombre entier",
        ),
        ({"demarrage": "31/02/2026"}, "Date de démarrage\u00a0: «\u00a031/02/2026\u00a0»"),
        ({"demarrage": ""}, "Date de démarrage\u00a0: indiquez-la"),
    ],
)
def test_a_refused_award_names_the_field_keeps_what_was_typed_and_changes_nothing(
    app: App, site: TestClient, changes: dict[str, str], message: str
) -> None:
    csrf = sign_in(site)
    clause_id, _ = at_award(app)
    before, detail = history_rows(app, clause_id), clause_detail(app, clause_id)

    refused = site.post(f"/clauses/{clause_id}/attribution", data=award_form(csrf, **changes))

    assert refused.status_code == 422
    assert f"Rien n'a été fait\u00a0: {message}" in visible(refused.text)
    assert history_rows(app, clause_id) == before
    same_clause(clause_detail(app, clause_id), detail)
    typed = award_form(csrf, **changes)
    for name in ("titulaire", "titulaire_heures", "entreprise_1"):
        if typed[name].strip():
            assert field_value(refused.text, name) == typed[name]


# --- the final report --------------------------------------------------------------------------


def test_the_final_report_form_records_what_record_final_report_records(
    app: App, site: TestClient
) -> None:
    csrf = sign_in(site)
    by_web, by_app = at_follow_up(app)
    web_count, app_count = len(history_rows(app, by_web)), len(history_rows(app, by_app))
    text = "12 personnes accompagnées,\n5 en emploi durable à la fin du chantier."

    empty = site.post(f"/clauses/{by_web}/bilan", data={"csrf": csrf, "bilan": "  \n "})
    assert empty.status_code == 422
    assert "Bilan de l'opération\u00a0: il est vide" in visible(empty.text)
    assert len(history_rows(app, by_web)) == web_count

    sent = site.post(
        f"/clauses/{by_web}/bilan", data={"csrf": csrf, "bilan": text}, follow_redirects=False
    )
    clause_app.record_final_report(app, by_app, text, actor=ACTOR)

    assert sent.status_code == 303
    # Each lot's row names its own months not declared yet (``outstanding_reason``).
    assert [row[:4] for row in rows_after(app, by_web, web_count)] == [
        row[:4] for row in rows_after(app, by_app, app_count)
    ]
    assert str(rows_after(app, by_web, web_count)[0][4]).startswith(
        "bilan de l'opération enregistré"
    )
    assert rows_after(app, by_web, web_count)[0][0::3] == ("final_report", ACTOR)
    assert clause_detail(app, by_web).final_report == clause_detail(app, by_app).final_report
    assert clause_detail(app, by_web).final_report == text
    assert f"Bilan de la clause n°\u00a0{by_web} enregistré" in visible(
        site.get(sent.headers["location"]).text
    )


def test_a_final_report_before_follow_up_is_refused_and_changes_nothing(
    app: App, site: TestClient
) -> None:
    csrf = sign_in(site)
    clause_id, _, _ = lot_01(app)  # in execution
    before = history_rows(app, clause_id)

    refused = site.post(f"/clauses/{clause_id}/bilan", data={"csrf": csrf, "bilan": "Trop tôt"})

    assert refused.status_code == 422
    assert "le bilan s'enregistre à l'étape" in visible(refused.text)
    assert history_rows(app, clause_id) == before
    assert clause_detail(app, clause_id).final_report is None


# --- the hours imposed -------------------------------------------------------------------------


def test_the_hours_form_records_what_impose_hours_records(app: App, site: TestClient) -> None:
    csrf = sign_in(site)
    by_web, by_app = twins(app, Stage.EXECUTION)
    web_count, app_count = len(history_rows(app, by_web)), len(history_rows(app, by_app))
    reason = "Avenant n° 2 du 12 mai 2026"
    # Each row says the figure it replaces: each twin's own.
    web_was = clause_detail(app, by_web).summary.hours_target
    app_was = clause_detail(app, by_app).summary.hours_target
    assert web_was is not None and app_was is not None

    sent = site.post(
        f"/clauses/{by_web}/heures",
        data={"csrf": csrf, "heures_imposees": "1 200", "raison_heures": reason},
        follow_redirects=False,
    )
    clause_app.impose_hours(app, by_app, 1200, reason=reason, actor=ACTOR)

    assert sent.status_code == 303
    [web_row] = rows_after(app, by_web, web_count)
    [app_row] = rows_after(app, by_app, app_count)
    assert web_row[:4] == app_row[:4]
    assert web_row[0::3] == ("hours_override", ACTOR)
    assert web_row[4] == f"heures imposées : {french_hours(web_was)} → 1\u202f200\u00a0h ; {reason}"
    assert app_row[4] == f"heures imposées : {french_hours(app_was)} → 1\u202f200\u00a0h ; {reason}"
    web, direct = clause_detail(app, by_web), clause_detail(app, by_app)
    assert (web.summary.hours_override, web.override_reason) == (1200, reason)
    assert (direct.summary.hours_override, direct.override_reason) == (1200, reason)
    computed = clause_detail(app, by_web).summary.hours_computed
    assert computed is not None
    assert f"1\u202f200 heures imposées (calculées\u00a0: {computed:,}".replace(",", "\u202f") in (
        visible(site.get(sent.headers["location"]).text)
    )


@pytest.mark.parametrize(
    ("hours", "reason", "message"),
    [
        ("abc", "Avenant", "Heures imposées\u00a0: «\u00a0abc\u00a0» n'est pas un nombre entier"),
        ("", "Avenant", "Heures imposées\u00a0: indiquez le nombre d'heures."),
        ("1200", "  ", "Raison des heures imposées\u00a0: indiquez-la"),
        ("0", "Avenant", "Heures imposées : 0 doit être un nombre entier positif."),
    ],
)
def test_refused_hours_name_the_field_and_change_nothing(
    app: App, site: TestClient, hours: str, reason: str, message: str
) -> None:
    csrf = sign_in(site)
    clause_id, _, _ = lot_01(app)
    before, detail = history_rows(app, clause_id), clause_detail(app, clause_id)

    refused = site.post(
        f"/clauses/{clause_id}/heures",
        data={"csrf": csrf, "heures_imposees": hours, "raison_heures": reason},
    )

    assert refused.status_code == 422
    assert f"Rien n'a été fait\u00a0: {message}" in visible(refused.text)
    assert history_rows(app, clause_id) == before
    same_clause(clause_detail(app, clause_id), detail)
    assert field_value(refused.text, "heures_imposees") == hours


# --- the figures of the calculation ------------------------------------------------------------


def test_the_figures_form_records_what_change_figures_records(app: App, site: TestClient) -> None:
    csrf = sign_in(site)
    by_web, by_app = twins(app, Stage.IDENTIFICATION)
    web_count, app_count = len(history_rows(app, by_web)), len(history_rows(app, by_app))

    sent = site.post(
        f"/clauses/{by_web}/parametres",
        data={
            "csrf": csrf,
            "montant": "1 200 000,50",
            "main_oeuvre": "45 %",
            "taux": "5,5 %",
            "cout_horaire": "28,50",
        },
        follow_redirects=False,
    )
    changed = clause_app.change_figures(
        app,
        by_app,
        Figures(Decimal("1200000.50"), Decimal("0.45"), Decimal("0.055"), Decimal("28.50")),
        actor=ACTOR,
    )

    assert sent.status_code == 303, visible(sent.text)
    assert rows_after(app, by_web, web_count) == rows_after(app, by_app, app_count)
    assert rows_after(app, by_web, web_count)[0][0::3] == ("parameters", ACTOR)
    web, direct = clause_detail(app, by_web), clause_detail(app, by_app)
    figures = ("amount_excl_tax", "labour_share", "insertion_rate", "hourly_cost")
    assert [getattr(web, f) for f in figures] == [getattr(direct, f) for f in figures]
    assert web.summary.hours_computed == changed.clause.hours_computed
    assert changed.calculation is not None
    assert f"{changed.calculation.hours:,} heures calculées".replace(",", "\u202f") in visible(
        site.get(sent.headers["location"]).text
    )

    # The form shows the figures again as they read back: sent as they are, none changes.
    html = site.get(f"/clauses/{by_web}").text
    shown = {n: field_value(html, n) for n in ("montant", "main_oeuvre", "taux", "cout_horaire")}
    assert shown["taux"] == "5,5 %" and shown["cout_horaire"] == "28,5"
    site.post(f"/clauses/{by_web}/parametres", data={"csrf": csrf, **shown})
    again = clause_detail(app, by_web)
    assert [getattr(again, f) for f in figures] == [getattr(web, f) for f in figures]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("taux", "abc", "Taux d'insertion : «\u00a0abc\u00a0» n'est pas un nombre."),
        (
            "main_oeuvre",
            "150",
            "Part de main-d'œuvre : «\u00a0150\u00a0» doit être compris entre 0",
        ),
        ("montant", "-5", "Montant HT : «\u00a0-5\u00a0» doit être strictement positif."),
        (
            "cout_horaire",
            "28,555",
            "Coût horaire chargé : «\u00a028.555\u00a0» a plus de deux décimales",
        ),
    ],
)
def test_refused_figures_name_the_field_and_change_nothing(
    app: App, site: TestClient, name: str, text: str, message: str
) -> None:
    csrf = sign_in(site)
    clause_id, _ = twins(app, Stage.IDENTIFICATION)
    before, detail = history_rows(app, clause_id), clause_detail(app, clause_id)

    refused = site.post(f"/clauses/{clause_id}/parametres", data={"csrf": csrf, name: text})

    assert refused.status_code == 422
    assert f"Rien n'a été fait\u00a0: {message}" in visible(refused.text)
    assert history_rows(app, clause_id) == before
    assert clause_detail(app, clause_id).amount_excl_tax == detail.amount_excl_tax
    assert field_value(refused.text, name) == text


# --- suspend, abandon --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "event", "to_stage"),
    [
        (Stage.EXECUTION, ClauseEvent.SUSPEND, Stage.SUSPENDED),
        (Stage.IDENTIFICATION, ClauseEvent.ABANDON, Stage.ABANDONED),
    ],
)
def test_another_event_records_what_advance_clause_records(
    app: App, site: TestClient, stage: Stage, event: ClauseEvent, to_stage: Stage
) -> None:
    csrf = sign_in(site)
    by_web, by_app = twins(app, stage)
    web_count, app_count = len(history_rows(app, by_web)), len(history_rows(app, by_app))
    reason = "Chantier arrêté par le maître d'ouvrage"

    empty = site.post(
        f"/clauses/{by_web}/evenement",
        data={"csrf": csrf, "evenement": event.value, "motif_evenement": " "},
    )
    assert empty.status_code == 422
    assert "Rien n'a été fait\u00a0: Motif\u00a0: indiquez pourquoi" in visible(empty.text)
    assert len(history_rows(app, by_web)) == web_count

    sent = site.post(
        f"/clauses/{by_web}/evenement",
        data={"csrf": csrf, "evenement": event.value, "motif_evenement": reason},
        follow_redirects=False,
    )
    clause_app.advance_clause(app, by_app, event, reason=reason, actor=ACTOR)

    assert sent.status_code == 303
    assert rows_after(app, by_web, web_count) == rows_after(app, by_app, app_count)
    assert rows_after(app, by_web, web_count) == [
        (event.value, stage.value, to_stage.value, ACTOR, reason)
    ]
    page = visible(site.get(sent.headers["location"]).text)
    assert "Clause passée à l'étape «\u00a0" in page
    # The same form again: the stage no longer allows it, nothing more is done.
    again = site.post(
        f"/clauses/{by_web}/evenement",
        data={"csrf": csrf, "evenement": event.value, "motif_evenement": reason},
    )
    assert again.status_code == 422
    assert "n'y est pas permis" in visible(again.text)
    assert len(history_rows(app, by_web)) == web_count + 1


# --- the session -------------------------------------------------------------------------------


def test_no_action_is_done_without_the_session_and_its_csrf_token(
    app: App, site: TestClient
) -> None:
    clause_id, _, _ = lot_01(app)
    awarding, _ = at_award(app)
    forms = {
        "attribution": (awarding, award_form("")),
        "heures": (clause_id, {"heures_imposees": "10", "raison_heures": "Avenant"}),
        "evenement": (clause_id, {"evenement": "suspend", "motif_evenement": "Arrêt"}),
        "parametres": (awarding, {"montant": "10"}),
        "bilan": (clause_id, {"bilan": "Bilan"}),
    }
    before = {i: (history_rows(app, i), clause_detail(app, i)) for i in (clause_id, awarding)}
    for route, (target, data) in forms.items():
        anonymous = site.post(f"/clauses/{target}/{route}", data=data, follow_redirects=False)
        assert anonymous.headers["location"].startswith("/connexion"), route
    csrf = sign_in(site)
    for route, (target, data) in forms.items():
        for token in ("", "faux" + csrf):
            forged = site.post(f"/clauses/{target}/{route}", data={**data, "csrf": token})
            assert forged.status_code == 403, route
    for i, (rows, detail) in before.items():
        assert history_rows(app, i) == rows
        same_clause(clause_detail(app, i), detail)
    assert site.post("/clauses/999999/heures", data={"csrf": csrf}).status_code == 404
