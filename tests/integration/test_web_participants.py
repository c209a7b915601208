"""A lot's participants and outcomes on the dashboard (/clauses/{N}/participants), over the real
ASGI application and the real App, on SQLite and PostgreSQL.

The sample territory's lot 01 has its April declared with P-WEB-1 (151,67 h) and P-WEB-2 (35 h).
Each form's POST is checked against the application function the command line calls
(``participants.record_outcome`` for ``clauses participant outcome``,
``participants.add_participant`` for ``clauses participant add``) run on a twin with the same
input: the same rows, the signed-in user as the actor; the outcome is then counted by the
monthly summary and the annual report. A refusal names the field in French, keeps what was typed
(422) and writes nothing; a POST without the session's CSRF token does nothing.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from urllib.parse import urlparse

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.integration.test_corrections import dump
from tests.integration.test_declaration_howto import lot_01
from tests.integration.test_web_corrections import (
    USER,
    clause_rows,
    last_id,
    record_rows,
    sign_in,
    value_of,
)
from tests.integration.test_web_corrections_people import participant_id, site
from tests.text import visible
from workflow.adapters.orm import ClauseHistory, OutboxMessage, Outcome, Participant, RecordHistory
from workflow.app import participants, reports
from workflow.bootstrap import App
from workflow.domain.outcomes import OutcomeType
from workflow.domain.stages import ClauseEvent
from workflow.domain.vocabulary import Criterion, Sex
from workflow.services.clauses import advance_clause, no_publish, record_final_report

__all__ = ["site"]  # the fixture, imported to be used here

NBSP = "\u00a0"
APRIL = date(2026, 4, 1)


def plain(page: str) -> str:
    """The page's words, no-break spaces read as spaces."""
    return visible(page).replace(NBSP, " ")


def outcome_rows(app: App) -> list[tuple[Any, ...]]:
    with app.transaction() as session:
        rows = session.execute(
            select(Participant.reference, Outcome.clause_id, Outcome.group, Outcome.type,
                   Outcome.date)
            .join(Participant, Participant.id == Outcome.participant_id)
            .order_by(Outcome.id)
        )  # fmt: skip
        return [tuple(row) for row in rows]


def outcome_ids(app: App) -> list[int]:
    with app.transaction() as session:
        return list(session.scalars(select(Outcome.id).order_by(Outcome.id)))


def participant_row(app: App, reference: str) -> tuple[Any, ...]:
    with app.transaction() as session:
        p = session.scalars(select(Participant).where(Participant.reference == reference)).one()
        return (p.criterion, p.proof, p.validated_on, p.sex, p.birth_year, p.created_at)


def cdi_figures(app: App) -> tuple[int, int, int, int, int]:
    """CDI in April's summary (in the month, cumulated), lasting jobs there, and the 2026 annual
    report's outcomes and CDI."""
    summary = reports.monthly_summary(app, APRIL, now=app.clock())
    [cdi] = [o for o in summary.overall.outcomes_by_type if o.code == "cdi"]
    lasting = sum(
        int(c.month) for c in summary.overall.outcomes_by_group if c.code == "lasting_job"
    )
    annual = reports.annual_report(app, 2026)
    annual_cdi = sum(o.count for o in annual.outcomes_by_type if o.code == "cdi")
    return cdi.month, cdi.cumulated, lasting, annual.outcomes, annual_cdi


def outcome_form(csrf: str, reference: str, kind: str, on: str, **more: str) -> dict[str, str]:
    return {"csrf": csrf, "participant": reference, "type": kind, "on": on, **more}


# --- the login and the CSRF token ---------------------------------------------------------------


def test_the_page_is_behind_the_login_and_a_post_without_its_token_changes_nothing(
    app: App, site: TestClient
) -> None:
    clause_id = lot_01(app)[0]
    path = f"/clauses/{clause_id}/participants"
    out = site.get(path, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"].startswith("/connexion")
    before = dump(app)
    for action, data in (
        ("sortie", {"participant": "P-WEB-1", "type": "cdi", "on": "2026-04-20"}),
        ("ajout", {"reference": "P-NEW-1", "criterion": "minimum_income"}),
    ):
        anonymous = site.post(f"{path}/{action}", data=data, follow_redirects=False)
        assert anonymous.status_code == 303 and anonymous.headers["location"].startswith(
            "/connexion"
        )
    assert dump(app) == before
    sign_in(site)
    before = dump(app)  # but for the session just opened
    for action, data in (
        ("sortie", {"participant": "P-WEB-1", "type": "cdi", "on": "2026-04-20"}),
        ("ajout", {"reference": "P-NEW-1", "criterion": "minimum_income"}),
    ):
        forged = site.post(f"{path}/{action}", data={**data, "csrf": "forged"})
        assert forged.status_code == 403
        assert "rien n'a été fait" in plain(forged.text)
    assert dump(app) == before


# --- the list -----------------------------------------------------------------------------------


def test_the_lots_page_lists_its_participants_with_company_hours_and_their_fiche(
    app: App, site: TestClient
) -> None:
    sign_in(site)
    clause_id = lot_01(app)[0]
    # Reached from the clause's own page.
    assert f'href="/clauses/{clause_id}/participants"' in site.get(f"/clauses/{clause_id}").text
    page = site.get(f"/clauses/{clause_id}/participants")
    assert page.status_code == 200
    text = plain(page.text)
    assert re.search(r"P-WEB-1 Demandeur d'emploi de longue durée \S.* 151,67 h à recueillir", text)
    assert re.search(r"P-WEB-2 .* 35 h à recueillir", text)
    assert f'href="/corrections/participants/{participant_id(app, "P-WEB-1")}"' in page.text
    # Every outcome type of ``clauses participant types``, in its group.
    for label in (
        "CDI",
        "Contrat d&#39;apprentissage",
        "Formation courte (non qualifiante)",
        "Perdu de vue",
    ):
        assert f">{label}</option>" in page.text
    assert '<optgroup label="Emploi durable">' in page.text
    assert site.get("/clauses/999999/participants").status_code == 404
    # A number no database column holds: the same French 404, not a database error.
    huge = site.get(f"/clauses/{'9' * 20}/participants")
    assert huge.status_code == 404 and "Page introuvable" in plain(huge.text)


# --- an outcome ---------------------------------------------------------------------------------


def test_an_outcome_recorded_from_the_lots_page_leaves_the_commands_rows_and_is_counted(
    app: App, site: TestClient
) -> None:
    csrf = sign_in(site)
    clause_id = lot_01(app)[0]
    path = f"/clauses/{clause_id}/participants"
    before = cdi_figures(app)
    start = last_id(app, ClauseHistory)
    start_records = last_id(app, RecordHistory)

    done = site.post(
        f"{path}/sortie", data=outcome_form(csrf, "P-WEB-1", "cdi", "2026-04-20"),
        follow_redirects=False,
    )  # fmt: skip
    assert done.status_code == 303, plain(done.text)
    location = urlparse(done.headers["location"])
    assert location.path == path and re.fullmatch(r"fait=sortie-\d+-enregistree", location.query)
    web_history = clause_rows(app, start)
    assert [row[0] for row in web_history] == ["outcome"]
    assert web_history[0][3] == "sortie de P-WEB-1 : CDI (emploi durable) le 20/04/2026"
    assert web_history[0][4] == USER
    assert outcome_rows(app)[-1] == ("P-WEB-1", clause_id, "lasting_job", "cdi", date(2026, 4, 20))
    assert record_rows(app, start_records) == []

    # What the summary and the annual report count: one CDI more, in April, a lasting job.
    month, cumulated, lasting, outcomes, annual_cdi = before
    assert cdi_figures(app) == (month + 1, cumulated + 1, lasting + 1, outcomes + 1, annual_cdi + 1)

    shown = plain(site.get(f"{path}?{location.query}").text)
    number = outcome_ids(app)[-1]
    assert (
        f"Sortie n° {number} de P-WEB-1 enregistrée : CDI (emploi durable) le 20/04/2026." in shown
    )
    assert re.search(
        rf"P-WEB-1 .* 151,67 h n° {number} : CDI \(emploi durable\) le 20 avril 2026", shown
    )
    fiche = plain(site.get(f"/corrections/participants/{participant_id(app, 'P-WEB-1')}").text)
    assert f"n° {number} : CDI (emploi durable) le 20/04/2026 – clause n° {clause_id}" in fiche
    assert "Enregistrer une sortie –" in fiche

    # The command's function on the twin (P-WEB-2, same lot): the same rows.
    start = last_id(app, ClauseHistory)
    participants.record_outcome(
        app, "P-WEB-2", clause=clause_id, outcome_type=OutcomeType.CDI, on=date(2026, 4, 20),
        actor=USER,
    )  # fmt: skip
    twin_history = clause_rows(app, start)
    assert [tuple(str(v).replace("P-WEB-2", "P-WEB-1") for v in row) for row in twin_history] == [
        tuple(str(v) for v in row) for row in web_history
    ]
    web_row, twin_row = outcome_rows(app)[-2:]
    assert web_row[1:] == twin_row[1:]


def test_an_outcome_is_refused_naming_the_field_and_nothing_is_written(
    app: App, site: TestClient
) -> None:
    csrf = sign_in(site)
    clause_id = lot_01(app)[0]
    post = f"/clauses/{clause_id}/participants/sortie"
    before = dump(app)
    cases = (
        (outcome_form(csrf, "P-WEB-1", "cdi", "2026-06-01"),
         "Date de sortie 01/06/2026 dans le futur"),
        (outcome_form(csrf, "P-WEB-1", "cdi", "2026-03-15"),
         "Date de sortie 15/03/2026 antérieure à avril 2026, premier mois déclaré"),
        (outcome_form(csrf, "P-WEB-1", "cdi", ""), "Date de sortie : indiquez-la"),
        (outcome_form(csrf, "P-WEB-1", "cdi", "demain"), "Date de sortie « demain » : ce n'est"),
        (outcome_form(csrf, "P-WEB-1", "chomage-ou-pas", "2026-04-20"), "Type de sortie « chomage"),
        (outcome_form(csrf, "", "cdi", "2026-04-20"), "Participant : choisissez-le"),
        (outcome_form(csrf, "P-INCONNU", "cdi", "2026-04-20"), "Aucun participant « P-INCONNU »"),
    )  # fmt: skip
    for data, message in cases:
        refused = site.post(post, data=data)
        assert refused.status_code == 422, data
        text = plain(refused.text)
        assert message in text, text
        assert "Sortie refusée" in text and "Rien n'a été enregistré." in text
        assert "clauses participant" not in text
        # What was typed is shown again.
        if data["participant"] == "P-WEB-1":
            assert 'value="P-WEB-1" selected' in refused.text
        assert f'name="on" type="date" value="{data["on"]}"' in refused.text
    assert dump(app) == before

    # A lot where the participant never worked: the service's words.
    other = site.post("/clauses/999999/participants/sortie", data=cases[0][0])
    assert other.status_code == 404
    assert dump(app) == before


def test_a_second_outcome_is_added_and_the_box_corrects_only_an_only_one(
    app: App, site: TestClient
) -> None:
    csrf = sign_in(site)
    clause_id = lot_01(app)[0]
    path = f"/clauses/{clause_id}/participants"
    first = site.post(f"{path}/sortie", data=outcome_form(csrf, "P-WEB-2", "short_training",
                                                        "2026-04-10"))  # fmt: skip
    assert first.status_code == 200
    assert "de P-WEB-2 enregistrée : Formation courte" in plain(first.text)
    [short] = outcome_ids(app)
    # Another situation the same day: refused, pointing to the correction form.
    before = dump(app)
    same_day = site.post(f"{path}/sortie", data=outcome_form(csrf, "P-WEB-2", "cdi",
                                                           "2026-04-10"))  # fmt: skip
    assert same_day.status_code == 422
    text = plain(same_day.text)
    assert (
        f"P-WEB-2 a déjà une sortie le 10/04/2026 sur la clause n° {clause_id} (n° {short} : "
        "Formation courte (non qualifiante) le 10/04/2026) : une seule situation par jour."
    ) in text
    assert "corrigez-la avec le formulaire « Corriger ou retirer une sortie » ci-dessous" in text
    assert "clauses participant" not in text and "--" not in text.split("Sortie refusée")[1][:400]
    assert dump(app) == before
    # Another date: added, the first kept.
    start = last_id(app, ClauseHistory)
    added = site.post(
        f"{path}/sortie", data=outcome_form(csrf, "P-WEB-2", "cdi", "2026-04-30"),
        follow_redirects=False,
    )  # fmt: skip
    assert added.status_code == 303
    assert added.headers["location"].endswith("-enregistree#message")
    [row] = clause_rows(app, start)
    assert row[3] == "sortie de P-WEB-2 : CDI (emploi durable) le 30/04/2026" and row[4] == USER
    [_, cdi] = outcome_ids(app)
    shown = plain(site.get(added.headers["location"]).text)
    assert f"Sortie n° {cdi} de P-WEB-2 enregistrée : CDI (emploi durable) le 30/04/2026." in shown
    assert re.search(
        rf"P-WEB-2 .* 35 h n° {short} : Formation courte \(non qualifiante\) \(autre\) le 10 "
        rf"avril 2026 n° {cdi} : CDI \(emploi durable\) le 30 avril 2026",
        shown,
    )
    assert "P-WEB-2 (2 sorties déjà enregistrées)" in shown
    assert outcome_rows(app) == [
        ("P-WEB-2", clause_id, "other", "short_training", date(2026, 4, 10)),
        ("P-WEB-2", clause_id, "lasting_job", "cdi", date(2026, 4, 30)),
    ]
    # The very same outcome again: nothing new, no row.
    start = last_id(app, ClauseHistory)
    same = site.post(f"{path}/sortie", data=outcome_form(csrf, "P-WEB-2", "cdi", "2026-04-30"))
    assert "Rien de nouveau : la sortie de P-WEB-2 est déjà enregistrée" in plain(same.text)
    assert clause_rows(app, start) == []
    # The box corrects an only outcome; with two it does not know which.
    before = dump(app)
    boxed = site.post(
        f"{path}/sortie", data=outcome_form(csrf, "P-WEB-2", "qualifying_training", "2026-04-20",
                                            replace="1"),
    )  # fmt: skip
    assert boxed.status_code == 422
    text = plain(boxed.text)
    assert "P-WEB-2 a 2 sorties sur la clause" in text
    assert (
        "la case « Corriger la seule sortie déjà enregistrée » ne sait pas laquelle corriger"
        in text
    )
    assert "--replace" not in text
    assert dump(app) == before
    replaced = site.post(
        f"{path}/sortie",
        data=outcome_form(csrf, "P-WEB-1", "cdi", "2026-04-30", replace="1"),
        follow_redirects=False,
    )
    assert replaced.status_code == 303  # none yet: the box records it
    start = last_id(app, ClauseHistory)
    replaced = site.post(
        f"{path}/sortie",
        data=outcome_form(csrf, "P-WEB-1", "jobseeker", "2026-04-29", replace="1"),
        follow_redirects=False,
    )
    assert replaced.headers["location"].endswith("-corrigee#message")
    [row] = clause_rows(app, start)
    assert row[3].endswith("(remplace CDI le 30/04/2026)") and row[4] == USER


def test_an_outcome_is_corrected_and_withdrawn_by_its_number_with_a_reason(
    app: App, site: TestClient
) -> None:
    csrf = sign_in(site)
    clause_id = lot_01(app)[0]
    path = f"/clauses/{clause_id}/participants"
    for kind, on in (("short_training", "2026-04-10"), ("cdi", "2026-04-30")):
        site.post(f"{path}/sortie", data=outcome_form(csrf, "P-WEB-2", kind, on))
    short, cdi = outcome_ids(app)
    page = site.get(path).text
    assert f'<option value="{short}">n°&nbsp;{short} – P-WEB-2 – Formation courte' in page

    # Refusals name the field and change nothing.
    before = dump(app)
    for action, data, message in (
        ("sortie-correction", {"numero": str(cdi), "type": "", "on": "", "reason": "x"},
         "Type de sortie, Date de sortie : indiquez le bon type, la bonne date ou les deux"),
        ("sortie-correction", {"numero": str(cdi), "type": "", "on": "2026-04-20", "reason": ""},
         "Motif : dites pourquoi la sortie est corrigée"),
        ("sortie-correction", {"numero": str(cdi), "type": "", "on": "2026-04-10", "reason": "x"},
         "une seule situation par jour"),
        ("sortie-correction", {"numero": "", "type": "cdi", "on": "", "reason": "x"},
         "Sortie : choisissez-la dans la liste."),
        ("sortie-retrait", {"numero": str(cdi), "reason": " "},
         "Motif : dites pourquoi la sortie est retirée"),
        ("sortie-retrait", {"numero": "999999", "reason": "doublon"}, "Aucune sortie n° 999999"),
    ):  # fmt: skip
        refused = site.post(f"{path}/{action}", data={"csrf": csrf, **data})
        assert refused.status_code == 422, (action, data)
        text = plain(refused.text)
        assert message in text, text
        assert "Rien n'a été enregistré." in text and "clauses participant" not in text
    assert dump(app) == before

    # A correction: the row changes, the history keeps before, after, who and why.
    start = last_id(app, ClauseHistory)
    fixed = site.post(
        f"{path}/sortie-correction",
        data={"csrf": csrf, "numero": str(cdi), "type": "cdd_6_months_or_more", "on": "",
              "reason": "contrat relu : CDD de 8 mois"},
        follow_redirects=False,
    )  # fmt: skip
    assert fixed.status_code == 303, plain(fixed.text)
    [row] = clause_rows(app, start)
    assert row[0] == "outcome" and row[4] == USER
    assert row[3] == (
        f"sortie n° {cdi} de P-WEB-2 corrigée : CDD de 6 mois ou plus (emploi durable) le "
        "30/04/2026 (remplace CDI (emploi durable) le 30/04/2026) ; motif : contrat relu : CDD "
        "de 8 mois"
    )
    shown = plain(site.get(fixed.headers["location"]).text)
    assert f"Sortie n° {cdi} de P-WEB-2 corrigée : CDD de 6 mois ou plus" in shown
    assert f"n° {cdi} : CDD de 6 mois ou plus (emploi durable) le 30 avril 2026" in shown

    # A withdrawal: the row goes, the history keeps what it was and why.
    start = last_id(app, ClauseHistory)
    removed = site.post(
        f"{path}/sortie-retrait",
        data={"csrf": csrf, "numero": str(short), "reason": "saisie sur la mauvaise personne"},
        follow_redirects=False,
    )
    assert removed.status_code == 303
    [row] = clause_rows(app, start)
    assert row[3] == (
        f"sortie n° {short} de P-WEB-2 retirée : Formation courte (non qualifiante) (autre) le "
        "10/04/2026 ; motif : saisie sur la mauvaise personne"
    )
    shown = plain(site.get(removed.headers["location"]).text)
    assert f"Sortie n° {short} de P-WEB-2 retirée : Formation courte" in shown
    assert "Elle ne compte plus dans les synthèses ni les bilans" in shown
    assert f"n° {short} :" not in shown.split("Participants déclarés sur le lot")[1]
    assert outcome_ids(app) == [cdi]


def test_a_correction_that_changes_nothing_and_a_withdrawal_sent_twice_redirect(
    app: App, site: TestClient
) -> None:
    csrf = sign_in(site)
    clause_id = lot_01(app)[0]
    path = f"/clauses/{clause_id}/participants"
    for kind, on in (("short_training", "2026-04-10"), ("cdi", "2026-04-30")):
        site.post(f"{path}/sortie", data=outcome_form(csrf, "P-WEB-2", kind, on))
    short, cdi = outcome_ids(app)
    before = dump(app)

    same = site.post(
        f"{path}/sortie-correction",
        data={"csrf": csrf, "numero": str(cdi), "type": "cdi", "on": "", "reason": "relu"},
        follow_redirects=False,
    )  # fmt: skip
    assert same.status_code == 303  # Post/Redirect/Get, as the other answers
    assert same.headers["location"].endswith(f"?fait=sortie-{cdi}-deja#message")
    shown = site.get(same.headers["location"]).text
    assert (
        f"Rien de nouveau{NBSP}: la sortie de P-WEB-2 est déjà enregistrée telle quelle "
        f"(n°{NBSP}{cdi}), CDI (emploi durable) le 30/04/2026."
    ) in visible(shown)
    assert dump(app) == before

    form = {"csrf": csrf, "numero": str(short), "reason": "saisie sur la mauvaise personne"}
    first = site.post(f"{path}/sortie-retrait", data=form, follow_redirects=False)
    assert first.status_code == 303
    after_first = dump(app)
    again = site.post(f"{path}/sortie-retrait", data=form, follow_redirects=False)
    assert again.status_code == 303, plain(again.text)
    assert again.headers["location"].endswith(f"?fait=retrait-{short}-deja#message")
    told = visible(site.get(again.headers["location"]).text)
    day = f"{app.clock():%d/%m/%Y}"
    assert (
        f"Rien de nouveau{NBSP}: la sortie n°{NBSP}{short} a déjà été retirée le {day} "
        f"(motif{NBSP}: saisie sur la mauvaise personne)."
    ) in told
    assert dump(app) == after_first


def test_on_a_closed_lot_the_page_says_the_final_report_sent_is_not_changed(
    app: App, site: TestClient
) -> None:
    csrf = sign_in(site)
    clause_id = lot_01(app)[0]
    path = f"/clauses/{clause_id}/participants"
    now = app.clock()
    with app.transaction() as session:
        advance_clause(
            session, clause_id, ClauseEvent.FINISH, actor="démo", reason=None, now=now,
            publish=no_publish, end_date=date(2026, 4, 30),
        )  # fmt: skip
        record_final_report(
            session, clause_id, text="Bilan.", actor="démo", now=now, publish=no_publish
        )
        advance_clause(
            session, clause_id, ClauseEvent.CLOSE, actor="démo", reason=None, now=now,
            publish=no_publish,
        )  # fmt: skip
        session.add(
            OutboxMessage(
                key=f"notice:{clause_id}:notice_final_report:h1", kind="notice_final_report",
                clause_id=clause_id, recipients="Acheteur <a@example.org>",
                subject="Bilan de l'opération", body_text="Bilan.", body_html="<p>Bilan.</p>",
                state="sent", created_at=now, sent_at=now,
            )
        )  # fmt: skip
    page = plain(site.get(path).text)
    assert (
        "compte dans les synthèses mensuelles et le bilan annuel de sa date ; le bilan de "
        "l'opération déjà adressé au donneur d'ordre n'est pas modifié."
    ) in page
    assert "synthèses et bilans de sa date" not in page

    recorded = site.post(
        f"{path}/sortie", data=outcome_form(csrf, "P-WEB-2", "cdi", "2026-04-30"),
        follow_redirects=False,
    )  # fmt: skip
    assert recorded.status_code == 303, plain(recorded.text)
    shown = visible(site.get(recorded.headers["location"]).text)
    [cdi] = outcome_ids(app)
    assert (
        f"Sortie n°{NBSP}{cdi} de P-WEB-2 enregistrée{NBSP}: CDI (emploi durable) le 30/04/2026. "
        "L'historique de la clause la garde à votre nom. La clause est clôturée"
        f"{NBSP}: la sortie compte dans les synthèses mensuelles et le bilan annuel de sa date"
        f"{NBSP}; le bilan de l'opération adressé au donneur d'ordre le {now:%d/%m/%Y} n'est "
        "pas modifié."
    ) in shown
    assert "synthèses et bilans la comptent" not in shown

    removed = site.post(
        f"{path}/sortie-retrait", data={"csrf": csrf, "numero": str(cdi), "reason": "erreur"},
        follow_redirects=False,
    )  # fmt: skip
    told = plain(site.get(removed.headers["location"]).text)
    assert (
        "motif : erreur. La clause est clôturée : la sortie ne compte plus dans les synthèses "
        "mensuelles et le bilan annuel de sa date ; le bilan de l'opération adressé au donneur "
        f"d'ordre le {now:%d/%m/%Y} n'est pas modifié."
    ) in told
    assert "ni les bilans" not in told


# --- a participant added ------------------------------------------------------------------------


def test_a_participant_added_from_the_lots_page_is_the_commands_participant(
    app: App, site: TestClient
) -> None:
    csrf = sign_in(site)
    clause_id = lot_01(app)[0]
    path = f"/clauses/{clause_id}/participants"
    start_clauses, start_records = last_id(app, ClauseHistory), last_id(app, RecordHistory)
    done = site.post(
        f"{path}/ajout",
        data={"csrf": csrf, "reference": " P-NEW-1 ", "criterion": "minimum_income", "sex": "F",
              "birth_year": "1990", "proof": "Attestation CAF RSA", "validated_on": "2026-04-02"},
        follow_redirects=False,
    )  # fmt: skip
    assert done.status_code == 303, plain(done.text)
    number = participant_id(app, "P-NEW-1")
    assert done.headers["location"] == f"{path}?fait=participant-{number}#message"
    participants.add_participant(
        app, "P-TWIN-1", criterion=Criterion.MINIMUM_INCOME, sex=Sex.FEMALE, birth_year=1990,
        proof="Attestation CAF RSA", validated_on=date(2026, 4, 2), actor=USER,
    )  # fmt: skip
    assert participant_row(app, "P-NEW-1") == participant_row(app, "P-TWIN-1")
    assert participant_row(app, "P-NEW-1")[:5] == (
        "minimum_income",
        "Attestation CAF RSA",
        date(2026, 4, 2),
        "F",
        1990,
    )
    # As the command, no history row: the participant's own row is the record.
    assert clause_rows(app, start_clauses) == [] and record_rows(app, start_records) == []
    shown = plain(site.get(done.headers["location"]).text)
    assert (
        "Participant P-NEW-1 enregistré : critère « Bénéficiaire du RSA, de l'ASS, de l'AAH ou "
        "d'une pension d'invalidité » ; sexe F ; année de naissance 1990 ; éligibilité validée le 02/04/2026 (Attestation CAF RSA)."
    ) in shown
    assert (
        "Référence à donner à l'entreprise, qui l'écrira dans ses déclarations : P-NEW-1" in shown
    )

    # The next free reference, as ``--auto``.
    auto = site.post(
        f"{path}/ajout", data={"csrf": csrf, "auto": "1", "criterion": "disabled_worker"}
    )
    assert auto.status_code == 200
    found = re.search(r"Participant (P-2026-\d{4}) enregistré : critère", plain(auto.text))
    assert found is not None, plain(auto.text)
    assert participant_row(app, found[1])[:3] == ("disabled_worker", "", None)


def test_a_participant_is_refused_naming_the_field_and_nothing_is_written(
    app: App, site: TestClient
) -> None:
    csrf = sign_in(site)
    clause_id = lot_01(app)[0]
    post = f"/clauses/{clause_id}/participants/ajout"
    base = {"csrf": csrf, "reference": "P-NEW-2", "criterion": "minimum_income"}
    before = dump(app)
    cases = (
        ({"reference": ""}, "Référence : indiquez la référence pseudonyme"),
        ({"auto": "1"}, "Référence : la case « Prochaine référence libre » donne la référence"),
        ({"reference": "=1+1"}, "Référence du participant « =1+1 » refusée"),
        ({"reference": "P-WEB-1"}, "Le participant « P-WEB-1 » existe déjà"),
        ({"criterion": ""}, "Critère d'éligibilité : choisissez-le"),
        ({"birth_year": "87"}, "Année de naissance « 87 » : indiquez l'année sur 4 chiffres"),
        ({"birth_year": "2020"}, "année de naissance 2020 impossible"),
        ({"validated_on": "2026-04-02"}, "Date de validation : elle va avec le justificatif"),
        ({"proof": "Attestation", "validated_on": "2099-01-01"}, "date de validation 01/01/2099"),
        ({"proof": "x" * 201}, "justificatif trop long"),
    )
    for change, message in cases:
        data = {**base, **change}
        refused = site.post(post, data=data)
        assert refused.status_code == 422, change
        text = plain(refused.text)
        assert message in text, text
        assert "Participant refusé" in text and "Rien n'a été enregistré." in text
        assert "clauses participant" not in text
        assert value_of(refused.text, "reference") == data["reference"]
        if data["criterion"]:
            assert f'value="{data["criterion"]}" selected' in refused.text
    assert dump(app) == before
    assert site.post("/clauses/999999/participants/ajout", data=base).status_code == 404
    assert dump(app) == before
