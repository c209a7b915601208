"""The history rows of two corrections say what changed, before → after, and why, on SQLite and
PostgreSQL, through the commands a facilitator types:

- ``clauses clause award`` run again with ``--reason``: the row « attribution corrigée : … »
  ends with « ; motif : … »; the readers of that row (the buyer's corrected notice, its
  preview, the companies' emails, ``audit verify``'s dates of then) still find the changes and
  only them, and the buyer is never told the facilitator's reason;
- ``clauses clause hours`` : « heures imposées : 4 725 h → 5 000 h ; Avenant n° 1 … », the
  figure it replaces and both with their thousands separator.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from sqlalchemy import select

from tests.conftest import Clock
from tests.text import squash
from workflow.adapters.orm import ClauseHistory, OutboxMessage
from workflow.bootstrap import App, bootstrap
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.services.audit import verify
from workflow.services.audit.dates_then import PLANNED_END, START, _moves
from workflow.services.clauses import award_changes_of
from workflow.services.dispatch import dispatch_due
from workflow.settings import Settings

#: A reason holding what the row's own separators are made of (« ; », « → », « : »): it must
#: never be read as a change.
REASON = "Avenant n° 1 ; ordre de service → Démarrage : 1er avril 2026 → 20 avril 2026"
HOURS_REASON = "Avenant n° 1 : travaux supplémentaires"


def utc(month: int, day: int, hour: int = 9) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def invoke(settings: Settings, clock: Clock, at: datetime, *args: str) -> Result:
    clock.set(at)
    state = CliState()
    state.factory = lambda: bootstrap(settings, clock=clock)
    return CliRunner().invoke(
        cli, list(args), obj=state, catch_exceptions=False, env={"COLUMNS": "200"}
    )


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


def data(result: Result) -> Any:
    return json.loads(ok(result))


def assert_clean(app: App) -> None:
    report = verify(app)
    assert report.ok, report.findings


def make_lot(settings: Settings, clock: Clock) -> int:
    """Lot 1 « Gros œuvre » of market M-2026-01, 4 725 h from its calculation note, at the
    award stage; a buyer whose contact hears of each milestone, a holder with its
    correspondent."""

    def run(*args: str) -> Any:
        return data(invoke(settings, clock, utc(1, 5), *args, "--json"))

    buyer = run("buyer", "add", "Gers Habitat")
    run("buyer", "contact-add", str(buyer["id"]), "--name", "Anne Achat",
        "--email", "anne.achat@example.org")  # fmt: skip
    operation = run("operation", "add", "Résidence des Tilleuls", "--buyer", str(buyer["id"]))
    market = run("market", "add", "M-2026-01", "--operation", str(operation["id"]))
    clause = run("lot", "add", "--market", str(market["id"]), "--number", "1", "--title",
                 "Gros œuvre", "--hours", "4725", "--hours-reason", "note de calcul")  # fmt: skip
    holder = run("company", "add", "BTP Exemple", "--siret", "732 829 320 00074")
    run("company", "correspondent-add", str(holder["id"]), "--name", "Paul Chantier",
        "--email", "paul.chantier@example.org")  # fmt: skip
    for event in ("rédiger", "attribuer"):
        ok(invoke(settings, clock, utc(1, 5), "clause", "advance", str(clause["id"]), event))
    return int(clause["id"])


def award(settings: Settings, clock: Clock, at: datetime, start: str, *extra: str) -> Result:
    return invoke(
        settings, clock, at,
        "clause", "award", "M-2026-01/1", "--company", "BTP Exemple", "--hours", "500",
        "--start", start, "--end", "31/12/2026", *extra,
    )  # fmt: skip


def rows(app: App, clause_id: int) -> list[tuple[str, str | None]]:
    with app.transaction() as session:
        return [
            (row.event, row.reason)
            for row in session.scalars(
                select(ClauseHistory)
                .where(ClauseHistory.clause_id == clause_id)
                .order_by(ClauseHistory.id)
            )
        ]


def shown_history(settings: Settings, clock: Clock, clause_id: int) -> list[str | None]:
    """The « Motif » column of ``clause show --json``: what the facilitator reads."""
    shown = data(invoke(settings, clock, clock.now, "clause", "show", str(clause_id), "--json"))
    return [row["motif"] for row in shown["historique"]]


def test_an_award_corrected_with_a_reason_keeps_it_in_its_row_and_never_tells_the_buyer(
    app: App, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    out = tmp_path / "apercu"
    clause_id = make_lot(settings, clock)
    ok(award(settings, clock, utc(1, 20), "02/03/2026"))
    # The award notice and the welcome leave: the correction is told by its own notice.
    dispatch_due(app, utc(1, 20, 10))

    said = squash(ok(award(settings, clock, utc(1, 22), "16/03/2026", "--reason", REASON)))

    assert "Attribution de la clause n° " in said and "corrigée (donneur d'ordre prévenu)" in said
    assert "- Démarrage : 2 mars 2026 → 16 mars 2026" in said
    assert f"Motif : {REASON}" in said
    row = "attribution corrigée : Démarrage : 2 mars 2026 → 16 mars 2026 ; motif : " + REASON
    assert rows(app, clause_id)[-1] == ("award_corrected", row)
    assert shown_history(settings, clock, clause_id)[-1] == row

    # Whoever reads the row back finds the one change, the reason read as none.
    [change] = award_changes_of(row)
    assert (change.what, change.before, change.after) == (
        "Démarrage",
        "2 mars 2026",
        "16 mars 2026",
    )
    moves = {m.field: (m.before, m.after) for m in _moves(1, utc(1, 22), "award_corrected", row)}
    assert moves == {START: (date(2026, 3, 2), date(2026, 3, 16))}
    assert PLANNED_END not in moves

    with app.transaction() as session:
        notice = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "notice_award_corrected")
        ).one()
        companies = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "company_award_corrected")
        ).all()
    text = squash(notice.body_text)
    assert "- Démarrage : 2 mars 2026 → 16 mars 2026" in text
    assert "Avenant" not in text and "ordre de service" not in text and "motif" not in text
    assert "Avenant" not in (notice.body_html or "")
    # The holder, whose welcome left, hears of its new start; never of the reason.
    [company] = companies
    assert "16 mars 2026" in company.body_text and "Avenant" not in company.body_text

    previewed = invoke(
        settings, clock, utc(1, 22, 10),
        "mail", "preview", "notice_award_corrected", "--clause", str(clause_id), "--out", str(out),
    )  # fmt: skip
    preview = squash(ok(previewed))
    assert "- Démarrage : 2 mars 2026 → 16 mars 2026" in preview
    assert "Avenant" not in preview and "ordre de service" not in preview

    assert_clean(app)


def test_an_award_row_written_before_reasons_were_kept_reads_as_it_did(
    app: App, settings: Settings, clock: Clock
) -> None:
    """A correction without ``--reason`` (and every row of before) has no « motif »: the row,
    and what its readers find in it, are those of before."""
    clause_id = make_lot(settings, clock)
    ok(award(settings, clock, utc(1, 20), "02/03/2026"))
    dispatch_due(app, utc(1, 20, 10))

    said = ok(award(settings, clock, utc(1, 22), "16/03/2026"))

    assert "Motif :" not in said
    row = "attribution corrigée : Démarrage : 2 mars 2026 → 16 mars 2026"
    assert rows(app, clause_id)[-1] == ("award_corrected", row)
    [change] = award_changes_of(row)
    assert (change.before, change.after) == ("2 mars 2026", "16 mars 2026")
    assert_clean(app)


def test_the_same_award_again_with_a_reason_records_nothing_and_says_so(
    app: App, settings: Settings, clock: Clock
) -> None:
    clause_id = make_lot(settings, clock)
    ok(award(settings, clock, utc(1, 20), "02/03/2026"))
    before = rows(app, clause_id)

    said = squash(ok(award(settings, clock, utc(1, 22), "02/03/2026", "--reason", "erreur")))

    assert "déjà enregistrée telle quelle" in said
    assert "(motif « erreur » non enregistré)" in said
    assert rows(app, clause_id) == before


def test_hours_imposed_say_the_figure_they_replace_with_thousands_separators(
    app: App, settings: Settings, clock: Clock
) -> None:
    clause_id = make_lot(settings, clock)

    imposed = invoke(
        settings, clock, utc(1, 22),
        "clause", "hours", str(clause_id), "5000", "--reason", HOURS_REASON,
    )  # fmt: skip
    ok(imposed)

    row = f"heures imposées : 4\u202f725\u00a0h → 5\u202f000\u00a0h ; {HOURS_REASON}"
    assert rows(app, clause_id)[-1] == ("hours_override", row)
    assert shown_history(settings, clock, clause_id)[-1] == row
    shown = data(invoke(settings, clock, utc(1, 22), "clause", "show", str(clause_id), "--json"))
    assert (shown["heures_imposees"], shown["heures_prevues"]) == (5000, 5000)
    # Typed again, the same figure for the same reason: no row « 5 000 h → 5 000 h ».
    before = rows(app, clause_id)
    again = invoke(
        settings, clock, utc(1, 23),
        "clause", "hours", str(clause_id), "5000", "--reason", HOURS_REASON,
    )  # fmt: skip
    ok(again)
    assert rows(app, clause_id) == before
    assert_clean(app)
