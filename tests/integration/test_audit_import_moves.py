"""``clauses audit verify`` after an import with ``--replace`` that moves hours between months.

On the sample territory (lot 01 of the middle school), on SQLite and PostgreSQL: October
declared on 5 November (P-0007 151,67 h and P-0012 98,5 h), its summaries sent on 23 November;
November declared on 5 December (P-0012 100 h), its summaries sent on 22 December. On 28
December one file, « --replace », gives October without P-0007 and November with him: 151,67 h
move from October to November.

The audit recompiles each summary for its moment. Both corrected declarations now carry the
import's instant, so the recompilation left both months out whole and quoted, for the November
summary that had said « 100 h », « les données disent « 0 h » »: a figure never true, for a
month that only gained hours. And it hid in that remark any real error of those cells. Now the
hours of each month are those the history gives for the summary's moment: the summaries that
were true have no difference in them, an altered one is a problem quoting the true figure of
then (100 h), and the cells made of lines, which no row keeps for then, are a remark that
quotes the email only.

The import is run through the CLI, as the facilitator does, with « --reason » (required since
the change that asks why a recorded month is corrected).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import select, update

from tests.conftest import Clock
from tests.integration.test_import_moved_hours import two_months
from tests.integration.test_outcomes_audit_and_cancel import (
    declare,
    run_cli,
    sample,  # noqa: F401 (fixture)
)
from workflow.adapters.orm import OutboxMessage
from workflow.app.audit import AuditReport, verify_database
from workflow.bootstrap import App
from workflow.domain.summary import summary_due_at
from workflow.services.dispatch import dispatch_due
from workflow.services.summaries import queue_monthly_summaries, summary_timing
from workflow.settings import Settings

OCTOBER, NOVEMBER = date(2026, 10, 1), date(2026, 11, 1)
NOVEMBER_5 = datetime(2026, 11, 5, 9, 0, tzinfo=UTC)
DECEMBER_5 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
DECEMBER_28 = datetime(2026, 12, 28, 9, 0, tzinfo=UTC)
NOVEMBER_FACILITATOR = "summary:2026-11:facilitator"
NOVEMBER_BUYER = "summary:2026-11:buyer:1"
HEADLINE = "Heures réalisées dans le mois"
LINES_UNKNOWN = (
    "dans les participants, les heures par modalité, les contrats ou les sorties, que les "
    "données ne permettent pas de recalculer pour son instant (les lignes d'une déclaration "
    "avant sa correction ou son annulation ne sont pas gardées), expliquées par ce qui a été "
    "enregistré depuis : déclaration d'octobre 2026 de Bâtiments Gascons SARL sur la clause "
    "n° 1 corrigée le 28/12/2026 à 10:00"
)


def summaries_of(app: App, clock: Clock, month: date, *, send: bool) -> None:
    """The month's summaries queued by the real pass at their moment, and sent (with every
    email waiting) when ``send``."""
    moment = summary_due_at(month, summary_timing(app.settings))
    clock.set(moment)
    assert queue_monthly_summaries(app, moment) > 0
    if send:
        dispatch_due(app, moment)


def import_moving_hours(settings: Settings, clock: Clock, tmp_path: Path) -> str:
    """The holder's file of 28 December: October without P-0007, November with him."""
    clock.set(DECEMBER_28)
    path = two_months(tmp_path, {"P-0012": "98,5"}, {"P-0007": "151,67", "P-0012": "100"})
    return run_cli(
        settings, clock, "declaration", "import", str(path), "--replace",
        "--reason", "Heures de P-0007 saisies sur le mauvais mois",
    )  # fmt: skip


def two_months_sent(
    app: App, settings: Settings, clock: Clock, tmp_path: Path, *, send: bool = True
) -> None:
    declare(settings, clock, tmp_path, NOVEMBER_5, "10/2026", P_0007="151,67", P_0012="98,5")
    summaries_of(app, clock, OCTOBER, send=send)
    declare(settings, clock, tmp_path, DECEMBER_5, "11/2026", P_0012="100")
    if send:
        dispatch_due(app, DECEMBER_5)
    summaries_of(app, clock, NOVEMBER, send=send)
    assert verify_database(app).ok


def email_number(app: App, key: str) -> int:
    with app.transaction() as session:
        return session.scalars(select(OutboxMessage.id).where(OutboxMessage.key == key)).one()


def about(report: AuditReport, app: App, key: str, *, remarks: bool = False) -> list[str]:
    number = email_number(app, key)
    found = report.remarks if remarks else report.findings
    return [
        f.problem.replace("\u00a0", " ")
        for f in found
        if f.subject.startswith(f"Courriel n° {number} ")
    ]


def test_summaries_true_at_their_moment_quote_no_figure_never_true(
    sample: App,  # noqa: F811
    settings: Settings,
    clock: Clock,
    tmp_path: Path,
) -> None:
    two_months_sent(sample, settings, clock, tmp_path)

    said = import_moving_hours(settings, clock, tmp_path)
    assert "Déclaration d'octobre 2026 remplacée" in said, said
    assert "Déclaration de novembre 2026 remplacée" in said, said

    report = verify_database(sample)
    assert report.findings == ()
    remarks = [r.problem.replace("\u00a0", " ") for r in report.remarks]
    # The four summaries (October's and November's, the facilitator's and the buyer's): only
    # the cells made of lines, quoting the email alone; no hours cell, no « 0 h ».
    assert len(remarks) == 4, remarks
    for remark in remarks:
        assert LINES_UNKNOWN in remark, remark
        assert "les données disent" not in remark, remark
        assert HEADLINE not in remark and "Avancement par clause" not in remark, remark
    [november] = about(report, sample, NOVEMBER_FACILITATOR, remarks=True)
    assert november.startswith(
        "6 différences (dont chiffre « Participants actifs dans le mois » : le courriel disait "
        "« 1, dont 0 nouveau (2 depuis le début) ») dans les participants"
    ), november
    assert november.endswith(
        "corrigée le 28/12/2026 à 10:00 (ligne d'historique n° 36 ; motif : Heures de P-0007 "
        "saisies sur le mauvais mois)"
    ), november


def test_an_altered_hours_figure_of_a_summary_sent_before_the_import_is_still_a_problem(
    sample: App,  # noqa: F811
    settings: Settings,
    clock: Clock,
    tmp_path: Path,
) -> None:
    two_months_sent(sample, settings, clock, tmp_path)
    import_moving_hours(settings, clock, tmp_path)
    # The stored November summary of the Département altered (a restore mixing two backups):
    # its hours of the month, which the import moved since.
    number = email_number(sample, NOVEMBER_BUYER)
    with sample.transaction() as session:
        body = session.scalars(
            select(OutboxMessage.body_text).where(OutboxMessage.id == number)
        ).one()
        forged = body.replace(f"- {HEADLINE}\u00a0: 100\u00a0h", f"- {HEADLINE}\u00a0: 1\u00a0h")
        assert forged != body
        session.execute(
            update(OutboxMessage).where(OutboxMessage.id == number).values(body_text=forged)
        )

    report = verify_database(sample)

    # Against what was true on 22 December (November: 100 h), not against a recompiled 0 h,
    # and as a problem, not explained away by the import.
    assert (
        f"chiffre « {HEADLINE} » : le courriel disait « 1 h », les données disent « 100 h »"
    ) in about(report, sample, NOVEMBER_BUYER)
    for remark in about(report, sample, NOVEMBER_BUYER, remarks=True):
        assert HEADLINE not in remark, remark
    # The facilitator's own November summary, untouched, is no problem.
    assert about(report, sample, NOVEMBER_FACILITATOR) == []


def test_a_receipt_waiting_when_the_import_corrects_its_month_is_no_problem(
    sample: App,  # noqa: F811
    settings: Settings,
    clock: Clock,
    tmp_path: Path,
) -> None:
    """November's receipt of 5 December still waiting on the 28th, when one import corrects
    October and November: October's correction does not write it again from November as the
    same import has just recorded it (November's own correction withdraws it for the new
    receipt), so no receipt states a recording under the key of the one it replaced."""
    two_months_sent(sample, settings, clock, tmp_path, send=False)

    import_moving_hours(settings, clock, tmp_path)

    with sample.transaction() as session:
        rewritten = session.scalars(
            select(OutboxMessage.body_text).where(
                OutboxMessage.key.like("receipt:%:2026-12-05T09:00:00+00:00:%:maj:%")
            )
        ).all()
    assert rewritten == []
    assert verify_database(sample).findings == ()
