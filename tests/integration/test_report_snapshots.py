"""/bilans reads each report from its dated snapshot (``report_snapshots``), on SQLite and
PostgreSQL, over the real ASGI application and the real App.

The first view compiles and keeps the snapshot; its figures are those ``clauses summary`` (the
application function ``monthly_summary``) gives at the snapshot's instant, which the page states
(« Chiffres calculés le … »). A declaration recorded afterwards changes neither the page nor its
files, only adds the notice « Des changements ont été enregistrés depuis », until « Recalculer
maintenant » (POST, CSRF) compiles again: then the page and the files hold it and the notice is
gone. The files downloaded are the snapshot's bytes, the same compile as the page. Recomputing
twice, or two at once, keeps one snapshot per report, the newest. The migration adds and removes
the table.
"""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import func, inspect, select

from tests.conftest import Clock
from tests.integration import gers_2017, summary_dataset
from tests.integration.summary_dataset import Dataset
from tests.integration.test_dashboard import PASSWORD, login_token
from tests.integration.test_web_reports import MARCH, csv_rows, figures_of
from tests.text import visible
from workflow.adapters.annual_report_files import render_annual_report
from workflow.adapters.db import alembic_config, current_revision
from workflow.adapters.orm import ReportSnapshot, WebSession
from workflow.adapters.reports import figure_lines, render_summary
from workflow.app import catalog, declarations, report_snapshots, web_accounts
from workflow.app.reports import annual_report, monthly_summary
from workflow.bootstrap import App
from workflow.entrypoints.web.site import create_site
from workflow.services import report_snapshots as snapshots
from workflow.services.report_snapshots import SnapshotKey

#: 22 April 2026, 07:00 in Paris: March's summary has just left.
FIRST = datetime(2026, 4, 22, 5, 0, tzinfo=UTC)
LATER = FIRST + timedelta(hours=3, minutes=5)  # 10:05 in Paris
PROGRESS = "Heures d'insertion : mois, cumul et objectif"
CHANGED = "Des données ont été enregistrées depuis\u00a0; elles peuvent changer ces chiffres\u00a0: recalculez pour le savoir."


@pytest.fixture
def data(app: App, clock: Clock) -> Dataset:
    clock.set(FIRST)
    with app.transaction() as session:
        built = summary_dataset.build(session)
    web_accounts.add_user(app, login="camille", name="Camille Martin", password=PASSWORD)
    return built


@pytest.fixture
def signed(app: App, data: Dataset) -> tuple[TestClient, str]:
    """Camille's browser and the CSRF token of her session's forms."""
    client = TestClient(create_site(app))
    return client, sign_in(app, client)


def sign_in(app: App, client: TestClient) -> str:
    """Camille signs in; the CSRF token of her session's forms (read where the session keeps
    it: no other page is visited)."""
    response = client.post(
        "/connexion",
        data={"csrf": login_token(client), "identifiant": "camille", "mot_de_passe": PASSWORD},
        follow_redirects=False,
    )
    assert response.status_code == 303, visible(response.text)
    with app.transaction() as session:
        newest = select(WebSession.csrf).order_by(WebSession.created_at.desc()).limit(1)
        token = session.scalar(newest)
    assert token is not None
    return token


def rows_of(app: App) -> list[ReportSnapshot]:
    with app.transaction() as session:
        found = session.scalars(select(ReportSnapshot).order_by(ReportSnapshot.kind)).all()
        session.expunge_all()
        return list(found)


def month_hours(page: str) -> str:
    """« Heures réalisées dans le mois » as the page shows it."""
    found = re.search(r"Heures réalisées dans le mois\u00a0: ([\d\u202f,]+\u00a0h)", visible(page))
    assert found is not None, visible(page)[:2000]
    return found.group(1).strip()


def replace_c3_march_by_zero(app: App, data: Dataset) -> None:
    """Routes du Sud corrects its March on Auch's lot: 25 h become none (the month: 145,25 h)."""
    declarations.declare_zero(
        app,
        clause=data.clauses["c3"],
        company="Routes du Sud",
        month=MARCH,
        replace=True,
        actor="Camille Martin",
        reason="Erreur de saisie : personne sur le lot en mars",
    )


def test_the_first_view_computes_keeps_and_dates_the_summary(
    app: App, signed: tuple[TestClient, str], data: Dataset
) -> None:
    client, _ = signed
    assert rows_of(app) == []

    page = client.get("/bilans")

    assert page.status_code == 200
    [kept] = rows_of(app)
    assert (kept.kind, kept.period, kept.scope) == ("summary", "2026-03", 0)
    assert kept.compiled_at == FIRST and kept.compiled_by == "Camille Martin"
    text = visible(page.text)
    assert "Chiffres calculés le 22 avril 2026 à 7\u00a0h\u00a000" in text
    assert "(à la demande de Camille Martin)" in text
    assert CHANGED not in text
    # The figures are those of ``clauses summary`` at the snapshot's instant.
    summary = monthly_summary(app, MARCH, now=kept.compiled_at)
    for label, value in figure_lines(summary):
        assert f"{label}\u00a0: {value}" in text
    assert month_hours(page.text) == "170,25\u00a0h"
    # Its files were built from the same compile: the command's bytes for that moment.
    assert kept.csv == render_summary(summary, "csv")
    assert 'action="/bilans/recalculer"' in page.text
    assert '<input type="hidden" name="mois" value="2026-03">' in page.text


def test_a_declaration_recorded_after_shows_only_once_recomputed(
    app: App, clock: Clock, signed: tuple[TestClient, str], data: Dataset
) -> None:
    client, csrf = signed
    before = client.get("/bilans?mois=2026-03")
    old_csv = client.get("/bilans/2026-03.csv").content
    old_xlsx = client.get("/bilans/2026-03.xlsx").content
    clock.set(LATER)
    replace_c3_march_by_zero(app, data)
    now_known = monthly_summary(app, MARCH, now=LATER)
    assert now_known.overall.progress.hours_month == Decimal("145.25")

    stale = client.get("/bilans?mois=2026-03")

    # Still the snapshot: same figures, same files, and the notice that data changed since.
    assert month_hours(stale.text) == "170,25\u00a0h"
    assert CHANGED in visible(stale.text)
    assert "Chiffres calculés le 22 avril 2026 à 7\u00a0h\u00a000" in visible(stale.text)
    assert client.get("/bilans/2026-03.csv").content == old_csv
    assert client.get("/bilans/2026-03.xlsx").content == old_xlsx
    assert CHANGED not in visible(before.text)

    answer = client.post(
        "/bilans/recalculer", data={"csrf": csrf, "mois": "2026-03"}, follow_redirects=False
    )

    assert answer.status_code == 303
    assert answer.headers["location"] == "/bilans?mois=2026-03&recalcul=change"
    [kept] = rows_of(app)
    assert kept.compiled_at == LATER
    fresh = client.get(answer.headers["location"])
    text = visible(fresh.text)
    assert "Chiffres recalculés à l'instant\u00a0: des chiffres ont changé" in text
    assert month_hours(fresh.text) == "145,25\u00a0h"
    for label, value in figure_lines(now_known):
        assert f"{label}\u00a0: {value}" in text
    assert CHANGED not in text
    assert "Chiffres calculés le 22 avril 2026 à 10\u00a0h\u00a005" in text
    new_csv = client.get("/bilans/2026-03.csv").content
    assert new_csv == render_summary(now_known, "csv") != old_csv
    assert figures_of(csv_rows(new_csv), PROGRESS, "Heures du mois")["Ensemble"] == Decimal(
        "145.25"
    )


def test_a_recompute_says_whether_any_figure_moved(
    app: App, clock: Clock, signed: tuple[TestClient, str], data: Dataset
) -> None:
    client, csrf = signed
    client.get("/bilans/annuel?annee=2026")
    clock.set(LATER)
    # Nothing recorded since: the figures are the same, and the page says so.
    for address, form in (
        ("/bilans/recalculer", {"mois": "2026-03"}),
        ("/bilans/annuel/recalculer", {"annee": "2026"}),
    ):
        answer = client.post(address, data={"csrf": csrf, **form}, follow_redirects=False)
        page = client.get(answer.headers["location"])
        text = visible(page.text)
        if "annuel" in address:
            assert "aucun chiffre n'a changé depuis le calcul précédent" in text
        else:
            # The monthly summary was never computed before this click.
            assert "Chiffres calculés à l'instant." in text
    # A word the page does not know says nothing (the address chooses a sentence, not words).
    assert 'id="recalcul"' not in client.get("/bilans?mois=2026-03&recalcul=faux").text


def test_the_downloads_are_the_pages_snapshot_byte_for_byte(
    app: App, clock: Clock, signed: tuple[TestClient, str], data: Dataset
) -> None:
    client, _ = signed
    page = client.get(f"/bilans?mois=2026-03&acheteur={data.auch}")
    [kept] = rows_of(app)
    assert kept.scope == data.auch
    clock.set(LATER)  # a workbook zipped now would carry another instant

    csv_file = client.get(f"/bilans/2026-03.csv?acheteur={data.auch}")
    xlsx_file = client.get(f"/bilans/2026-03.xlsx?acheteur={data.auch}")

    assert csv_file.content == kept.csv
    assert xlsx_file.content == kept.xlsx
    assert client.get(f"/bilans/2026-03.xlsx?acheteur={data.auch}").content == kept.xlsx
    name = f"synthese-2026-03-donneur-{data.auch}.xlsx"
    assert xlsx_file.headers["content-disposition"] == f'attachment; filename="{name}"'
    # The page's figure is the file's.
    shown = month_hours(page.text)
    assert shown == "25\u00a0h"
    in_file = figures_of(csv_rows(csv_file.content), PROGRESS, "Heures du mois")
    assert in_file == {"": Decimal(25)}
    assert len(rows_of(app)) == 1  # the downloads compiled nothing


def test_a_download_before_any_view_keeps_the_snapshot_the_page_then_shows(
    app: App, clock: Clock, signed: tuple[TestClient, str], data: Dataset
) -> None:
    client, _ = signed
    csv_file = client.get("/bilans/2026-03.csv")
    [kept] = rows_of(app)
    assert csv_file.content == kept.csv
    clock.set(LATER)
    replace_c3_march_by_zero(app, data)

    page = client.get("/bilans?mois=2026-03")

    assert month_hours(page.text) == "170,25\u00a0h"  # the file's figures
    assert CHANGED in visible(page.text)


def test_recomputing_twice_or_at_once_keeps_one_snapshot_the_newest(
    app: App, clock: Clock, signed: tuple[TestClient, str], data: Dataset
) -> None:
    client, csrf = signed
    for found in ("nouveau", "identique"):
        answer = client.post(
            "/bilans/recalculer",
            data={"csrf": csrf, "mois": "2026-03", "acheteur": str(data.gers)},
            follow_redirects=False,
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == (
            f"/bilans?mois=2026-03&acheteur={data.gers}&recalcul={found}"
        )
    assert [(r.kind, r.period, r.scope) for r in rows_of(app)] == [
        ("summary", "2026-03", data.gers)
    ]

    # Two instances at once: both succeed, one row.
    clock.set(LATER)
    errors: list[BaseException] = []

    def recompute() -> None:
        try:
            report_snapshots.recompute_summary(app, MARCH, buyer=data.gers, actor="Instance")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=recompute) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    [kept] = rows_of(app)
    assert (kept.compiled_at, kept.compiled_by) == (LATER, "Instance")

    # A compile older than the one kept (an instance that finished late) does not replace it.
    key = SnapshotKey.of("summary", "2026-03", data.gers)
    with app.transaction() as session:
        snapshots.store(
            session,
            key,
            compiled_at=FIRST,
            compiled_by="En retard",
            marks="",
            view=kept.view,
            csv=b"old",
            xlsx=b"old",
        )
    [still] = rows_of(app)
    assert (still.compiled_at, still.compiled_by, still.csv) == (LATER, "Instance", kept.csv)


def test_recomputing_needs_the_login_and_the_forms_token(
    app: App, clock: Clock, signed: tuple[TestClient, str], data: Dataset
) -> None:
    client, _ = signed
    client.get("/bilans")
    clock.set(LATER)

    forged = client.post(
        "/bilans/recalculer", data={"csrf": "faux", "mois": "2026-03"}, follow_redirects=False
    )
    anonymous = TestClient(create_site(app)).post(
        "/bilans/annuel/recalculer", data={"annee": "2025"}, follow_redirects=False
    )

    assert forged.status_code == 403
    assert (anonymous.status_code, anonymous.headers["location"]) == (303, "/connexion")
    [kept] = rows_of(app)
    assert kept.compiled_at == FIRST


@pytest.mark.parametrize(
    ("path", "form", "field"),
    [
        ("/bilans/recalculer", {"mois": "2026-13"}, "Mois\u00a0: «\u00a02026-13\u00a0»"),
        ("/bilans/recalculer", {}, "Mois\u00a0: «\u00a0\u00a0» n'est pas un mois"),
        (
            "/bilans/recalculer",
            {"mois": "2026-03", "acheteur": "999"},
            "Donneur d'ordre\u00a0: aucun donneur d'ordre n'a le n°\u00a0999",
        ),
        ("/bilans/annuel/recalculer", {"annee": "abc"}, "Année\u00a0: «\u00a0abc\u00a0»"),
    ],
)
def test_a_recompute_that_does_not_read_is_refused_naming_the_field(
    app: App, signed: tuple[TestClient, str], path: str, form: dict[str, str], field: str
) -> None:
    client, csrf = signed
    answer = client.post(path, data={"csrf": csrf, **form}, follow_redirects=False)

    assert answer.status_code == 422
    assert field in visible(answer.text)
    assert rows_of(app) == []


# --- the annual report ---------------------------------------------------------------------------


def test_the_annual_report_is_kept_and_recomputed_likewise(app: App, clock: Clock) -> None:
    gers_2017.build(app, clock)
    web_accounts.add_user(app, login="camille", name="Camille Martin", password=PASSWORD)
    client = TestClient(create_site(app))
    csrf = sign_in(app, client)
    report = annual_report(app, 2017)

    page = client.get("/bilans/annuel")

    [kept] = rows_of(app)
    assert (kept.kind, kept.period, kept.scope) == ("annual", "2017", 0)
    assert report.headline in visible(page.text)
    assert client.get("/bilans/annuel/2017.csv").content == kept.csv
    assert kept.csv == render_annual_report(report, "csv")
    assert CHANGED not in visible(page.text)

    # A buyer added since: a row the report reads (its buyers), so a change to tell.
    catalog.add_buyer(app, "Commune de Lectoure", kind="Commune")
    assert CHANGED in visible(client.get("/bilans/annuel").text)

    answer = client.post(
        "/bilans/annuel/recalculer",
        data={"csrf": csrf, "annee": "2017"},
        follow_redirects=False,
    )
    # A buyer without lots moves no figure: the recompute says so.
    assert (answer.status_code, answer.headers["location"]) == (
        303,
        "/bilans/annuel?annee=2017&recalcul=identique",
    )
    assert CHANGED not in visible(client.get(answer.headers["location"]).text)
    assert len(rows_of(app)) == 1


# --- the migration -------------------------------------------------------------------------------


def test_the_migration_adds_and_removes_the_snapshots_table(
    app: App, signed: tuple[TestClient, str]
) -> None:
    from tests.integration.test_smoke import head_revision

    client, _ = signed
    client.get("/bilans")
    config = alembic_config(app.engine)
    try:
        command.downgrade(config, "0009")
        assert current_revision(app.engine) == "0009"
        assert not inspect(app.engine).has_table("report_snapshots")
    finally:
        command.upgrade(config, "head")
    assert current_revision(app.engine) == head_revision()
    assert inspect(app.engine).has_table("report_snapshots")
    with app.transaction() as session:
        assert session.scalar(select(func.count()).select_from(ReportSnapshot)) == 0
    assert client.get("/bilans").status_code == 200  # computed again at the first view
    assert len(rows_of(app)) == 1
