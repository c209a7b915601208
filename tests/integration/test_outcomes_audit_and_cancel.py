"""An outcome counts while its participant has hours on its lot (``outcomes.counted``), so a
declaration cancelled or corrected can take it out of the figures. Two consequences, on the
sample territory (lot 01 of the middle school), on SQLite and PostgreSQL:

- ``clauses audit verify`` recompiles each summary sent as of its moment: the October summary
  sent on 23 November counted P-0007's CDI; October cancelled (or corrected without P-0007) in
  December takes the CDI out of the recompiled « Sorties par … » tables. The change explains it
  (a remark naming it), no problem is filed.
- A cancellation names the outcomes it takes out, and only those: not one whose participant had
  only a 0 h line left in the month (their outcome had stopped counting already). A listing says
  « depuis l'annulation » only when the cancellation is what took the person's last hours, not
  when a later correction did.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration.test_declarations import DECLARATION, ids, start_sample
from tests.integration.test_summary_truth import text_tables
from tests.text import squash
from workflow.adapters.orm import ClauseHistory, OutboxMessage
from workflow.app.audit import verify_database
from workflow.bootstrap import App, bootstrap
from workflow.domain.outcomes import OutcomeType
from workflow.domain.summary import summary_due_at
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.services.outcomes import list_outcomes, record_outcome
from workflow.services.summaries import compile_summary, queue_monthly_summaries, summary_timing
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

OCTOBER, NOVEMBER = date(2026, 10, 1), date(2026, 11, 1)
NOVEMBER_5 = datetime(2026, 11, 5, 9, 0, tzinfo=UTC)
NOVEMBER_10 = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
DECEMBER_1 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
DECEMBER_2 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
DECEMBER_3 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
DECEMBER_4 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
DECEMBER_7 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
CDI_ROW = "CDI"
SHORT = "non comptée : aucune heure déclarée sur ce lot"
SINCE_OCTOBER = f"{SHORT} depuis l'annulation de la déclaration d'octobre 2026"


def run_cli(settings: Settings, clock: Clock, *args: str) -> str:
    state = CliState()
    state.factory = lambda: bootstrap(settings, clock=clock)
    result = CliRunner().invoke(cli, list(args), obj=state, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return squash(result.output)


def declaration_file(tmp_path: Path, month: str, hours: dict[str, str]) -> Path:
    """The sample's file for ``month`` (« 11/2026 »), with these participants and hours."""
    lines = DECLARATION.read_bytes().decode("cp1252").split("\r\n")
    kept = []
    for line in lines[1:]:
        cells = line.split(";")
        if len(cells) > 5 and cells[5] in hours:
            cells[4], cells[-1] = month, hours[cells[5]]
            kept.append(";".join(cells))
    path = tmp_path / f"declaration-{month.replace('/', '-')}-{len(list(tmp_path.iterdir()))}.csv"
    path.write_bytes("\r\n".join([lines[0], *kept, ""]).encode("cp1252"))
    return path


def declare(
    settings: Settings, clock: Clock, tmp_path: Path, at: datetime, month: str, **hours: str
) -> str:
    """``clauses declaration import`` of the lot's holder (``--replace`` when corrected)."""
    clock.set(at)
    path = declaration_file(tmp_path, month, {k.replace("_", "-"): v for k, v in hours.items()})
    return run_cli(
        settings,
        clock,
        "declaration",
        "import",
        str(path),
        "--replace",
        "--reason",
        "Erreur de saisie",
    )


def cancel(settings: Settings, clock: Clock, app: App, at: datetime, month: str) -> str:
    clock.set(at)
    clause_id, company_id = ids(app)
    return run_cli(
        settings, clock, "declaration", "cancel", "--clause", str(clause_id), "--company",
        str(company_id), "--month", month, "--reason", "Heures saisies sur le mauvais lot",
    )  # fmt: skip


def record(app: App, reference: str, outcome_type: OutcomeType, on: date, at: datetime) -> None:
    with app.transaction() as session:
        record_outcome(
            session, reference=reference, clause_id=ids(app)[0], outcome_type=outcome_type,
            on=on, actor="Camille Martin", now=at, zone=app.settings.zone,
        )  # fmt: skip


@pytest.fixture
def sample(app: App) -> App:
    handlers, app.handlers = app.handlers, {}
    start_sample(app)
    app.handlers = handlers
    return app


# --- the audit of a summary sent before -----------------------------------------------------------


def october_summary_counting_the_cdi(
    app: App, settings: Settings, clock: Clock, tmp_path: Path
) -> str:
    """October declared on 5 November with P-0007 and P-0012, P-0007's CDI recorded on the 10th,
    and the October summary queued by the real pass at its moment (23 November): its key."""
    declare(settings, clock, tmp_path, NOVEMBER_5, "10/2026", P_0007="151,67", P_0012="98,5")
    record(app, "P-0007", OutcomeType.CDI, date(2026, 10, 30), NOVEMBER_10)
    moment = summary_due_at(OCTOBER, summary_timing(app.settings))
    assert moment.date() == date(2026, 11, 23)
    clock.set(moment)
    assert queue_monthly_summaries(app, moment) > 0
    key = "summary:2026-10:facilitator"
    assert cdi_in(app, key) == {"Groupe": "Emploi durable", "Mois": "1", "Cumul": "1"}
    assert verify_database(app).findings == ()
    return key


def cdi_in(app: App, key: str) -> dict[str, str]:
    """The CDI row of « Sorties par type » of the summary, as its recipient reads it."""
    with app.transaction() as session:
        body = session.scalars(
            select(OutboxMessage.body_text).where(OutboxMessage.key == key)
        ).one()
    table = text_tables(body)["Sorties par type"]
    rows = [r for r in table if r["Type"] == CDI_ROW]
    assert len(rows) == 1, table
    row = rows[0]
    return {k: v for k, v in row.items() if k != "Type"}


def outcomes_recompiled(app: App) -> dict[str, tuple[int, int]]:
    """{type: (in October, up to its end)} of October recompiled as of its summary's moment,
    as the audit does: what the rows give now for what was known then."""
    moment = summary_due_at(OCTOBER, summary_timing(app.settings))
    with app.transaction() as session:
        summary = compile_summary(
            session, OCTOBER, now=moment, zone=app.settings.zone,
            outcome_groups=app.settings.outcome_groups,
        )  # fmt: skip
    return {c.code: (c.month, c.cumulated) for c in summary.overall.outcomes_by_type if c.cumulated}


def remarks_on(app: App, key: str) -> list[str]:
    with app.transaction() as session:
        number = session.scalars(select(OutboxMessage.id).where(OutboxMessage.key == key)).one()
    report = verify_database(app)
    assert [f.line for f in report.findings] == []
    return [r.problem for r in report.remarks if r.subject.startswith(f"Courriel n° {number} ")]


def test_a_summary_counting_an_outcome_whose_month_was_cancelled_since_is_explained(
    sample: App, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    key = october_summary_counting_the_cdi(sample, settings, clock, tmp_path)
    assert outcomes_recompiled(sample) == {OutcomeType.CDI.value: (1, 1)}

    said = cancel(settings, clock, sample, DECEMBER_3, "10/2026")

    assert "1 sortie (P-0007, CDI) n'est plus comptée" in said
    assert outcomes_recompiled(sample) == {}
    # The summary said 1 CDI, the October recompiled for 23 November has none: the
    # cancellation recorded since explains it, a remark and no problem.
    [remark] = remarks_on(sample, key)
    assert (
        "expliquées par ce qui a été enregistré depuis : déclaration d'octobre 2026 de " in remark
    )
    assert "annulée le 03/12/2026 à 10:00" in remark


def test_a_summary_counting_an_outcome_whose_person_was_corrected_away_since_is_explained(
    sample: App, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    key = october_summary_counting_the_cdi(sample, settings, clock, tmp_path)
    assert outcomes_recompiled(sample) == {OutcomeType.CDI.value: (1, 1)}

    declare(settings, clock, tmp_path, DECEMBER_3, "10/2026", P_0012="98,5")
    assert outcomes_recompiled(sample) == {}

    [remark] = remarks_on(sample, key)
    assert (
        "expliquées par ce qui a été enregistré depuis : déclaration d'octobre 2026 de " in remark
    )
    assert "corrigée le 03/12/2026 à 10:00" in remark
    with sample.transaction() as session:
        [cdi] = list_outcomes(session, ids(sample)[0])
    assert (cdi.reference, cdi.counted, cdi.not_counted) == ("P-0007", False, SHORT)


# --- what a cancellation says it took out ---------------------------------------------------------


def cancellation_history(app: App) -> str:
    with app.transaction() as session:
        reason = session.scalar(
            select(ClauseHistory.reason)
            .where(ClauseHistory.event == "declaration_cancelled")
            .order_by(ClauseHistory.id.desc())
            .limit(1)
        )
    assert reason is not None
    return reason


def listed(app: App) -> dict[str, tuple[bool, str | None]]:
    with app.transaction() as session:
        return {
            o.reference: (o.counted, o.not_counted) for o in list_outcomes(session, ids(app)[0])
        }


def test_a_cancellation_names_only_the_outcomes_it_takes_out(
    sample: App, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    """P-0040 worked in November only (0 h in October): their outcome stopped counting when
    November was corrected without them, before October is cancelled."""
    declare(settings, clock, tmp_path, NOVEMBER_5, "10/2026", P_0007="151,67", P_0040="0")
    declare(settings, clock, tmp_path, DECEMBER_1, "11/2026", P_0040="35")
    record(sample, "P-0007", OutcomeType.CDI, date(2026, 10, 30), DECEMBER_1)
    record(sample, "P-0040", OutcomeType.QUALIFYING_TRAINING, date(2026, 11, 27), DECEMBER_1)
    declare(settings, clock, tmp_path, DECEMBER_2, "11/2026", P_0040="0")
    assert listed(sample) == {"P-0007": (True, None), "P-0040": (False, SHORT)}

    said = cancel(settings, clock, sample, DECEMBER_3, "10/2026")

    sentence = (
        "1 sortie (P-0007, CDI) n'est plus comptée tant que ses heures ne sont pas déclarées à "
        "nouveau."
    )
    assert said.endswith(sentence)
    assert "P-0040" not in said
    assert cancellation_history(sample).endswith(f"Heures saisies sur le mauvais lot – {sentence}")
    # P-0040's lines went by the correction of November, not by this cancellation.
    assert listed(sample) == {"P-0007": (False, SINCE_OCTOBER), "P-0040": (False, SHORT)}


def test_a_cancellation_of_people_already_uncounted_names_none(
    sample: App, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    """P-0040's only line left on the lot is October's 0 h when October is cancelled."""
    declare(settings, clock, tmp_path, NOVEMBER_5, "10/2026", P_0012="98,5", P_0040="0")
    declare(settings, clock, tmp_path, DECEMBER_1, "11/2026", P_0040="35")
    record(sample, "P-0040", OutcomeType.QUALIFYING_TRAINING, date(2026, 11, 27), DECEMBER_1)
    cancel(settings, clock, sample, DECEMBER_2, "11/2026")
    assert listed(sample) == {
        "P-0040": (
            False,
            "non comptée : aucune heure déclarée sur ce lot "
            "depuis l'annulation de la déclaration de novembre 2026",
        )
    }

    said = cancel(settings, clock, sample, DECEMBER_3, "10/2026")

    assert "sortie" not in said
    assert "n'est plus comptée" not in cancellation_history(sample)
    assert listed(sample) == {
        "P-0040": (
            False,
            "non comptée : aucune heure déclarée sur ce lot "
            "depuis l'annulation de la déclaration de novembre 2026",
        )
    }


def test_the_listing_blames_the_cancellation_only_if_no_correction_took_the_hours_since(
    sample: App, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    """October cancelled (P-0007's CDI out), declared again with P-0007 (counted again), then
    corrected without P-0007: the correction took the hours, not the cancellation."""
    declare(settings, clock, tmp_path, NOVEMBER_5, "10/2026", P_0007="151,67", P_0012="98,5")
    record(sample, "P-0007", OutcomeType.CDI, date(2026, 10, 30), NOVEMBER_10)
    cancel(settings, clock, sample, DECEMBER_3, "10/2026")
    assert listed(sample) == {"P-0007": (False, SINCE_OCTOBER)}
    declare(settings, clock, tmp_path, DECEMBER_4, "10/2026", P_0007="151,67", P_0012="98,5")
    assert listed(sample) == {"P-0007": (True, None)}

    declare(settings, clock, tmp_path, DECEMBER_7, "10/2026", P_0012="98,5")

    assert listed(sample) == {"P-0007": (False, SHORT)}
    footer = run_cli(settings, clock, "participant", "list", "--clause", str(ids(sample)[0]))
    assert "depuis l'annulation" not in footer
