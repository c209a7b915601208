"""What people read about a lot whose contract was terminated (« résilier »), on SQLite and
PostgreSQL: its listing, the months its end released, the preview of the buyer's end notice.

User trial: `clauses clause list` showed a terminated lot as « suivi et bilan » like any lot whose
work finished; the history (`clause show`, the lot's page) and `clause advance` said of each
month released « l'exécution s'est achevée le … » when the contract had been terminated; and
`clauses mail preview notice_execution_ended --clause N` did not say that the notice shown was
the termination's. Now the list says « suivi et bilan (résilié le 31/10/2026) », the months
released read « le marché a été résilié le 31/10/2026 », and the preview says which notice it
shows.

The lot of ``test_lot_terminated``: two companies from September 2026; November is called on
1 December; the contract is terminated on 4 December, effective 31 October: November is no
longer asked of either company.
"""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration.test_end_date_correction import paris, run_cli
from tests.integration.test_lot_terminated import (
    REASON,
    app,
    plain,
    running_lot,
    settings,
)
from workflow.adapters.orm import ClauseHistory, OutboxMessage
from workflow.bootstrap import App
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

__all__ = ["app", "settings"]  # the fixtures, imported to be used here

TERMINATED_ON = paris(date(2026, 12, 4), 10)


def table_words(text: str) -> str:
    """A table's text without its borders: a cell cut over several lines reads on."""
    return " ".join(plain(text).replace("│", " ").split())


def terminated_lot(app: App, settings: Settings, clock: Clock) -> tuple[int, str]:
    """The lot terminated on 4 December effective 31 October; what ``clause advance`` said."""
    lot = running_lot(app, date(2026, 12, 3))
    code, said = run_cli(settings, clock, TERMINATED_ON, "clause", "advance", str(lot.clause_id),
                         "resilier", "--end-date", "31/10/2026", "--reason", REASON)  # fmt: skip
    assert code == 0, said
    return lot.clause_id, plain(said)


def test_the_months_released_by_a_termination_say_the_contract_was_terminated(
    app: App, settings: Settings, clock: Clock
) -> None:
    clause_id, said = terminated_lot(app, settings, clock)
    released = "Novembre 2026 n'est plus demandé à {} : le marché a été résilié le 31/10/2026"
    for company in ("Titulaire", "Cotraitant"):
        assert released.format(company) in said, said
    assert "s'est achevée" not in said, said

    with app.transaction() as session:
        row = session.scalars(
            select(ClauseHistory.reason)
            .where(ClauseHistory.clause_id == clause_id, ClauseHistory.event == "terminate")
        ).one()  # fmt: skip
    text = plain(row or "")
    assert text.startswith(f"Marché résilié le 31/10/2026, motif : « {REASON} ». "), text
    for company in ("Titulaire", "Cotraitant"):
        assert released.format(company) in text, text
    assert "s'est achevée" not in text, text

    # The history of ``clause show``, its table's last column read across the lines it takes.
    code, shown = run_cli(settings, clock, TERMINATED_ON, "clause", "show", str(clause_id))
    assert code == 0, shown
    for company in ("Titulaire", "Cotraitant"):
        assert released.format(company) in table_words(shown), shown
    assert "s'est achevée" not in table_words(shown), shown


def test_the_list_says_a_lot_was_terminated_beside_its_stage(
    app: App, settings: Settings, clock: Clock
) -> None:
    clause_id, _ = terminated_lot(app, settings, clock)
    code, listed = run_cli(settings, clock, TERMINATED_ON, "clause", "list", "--json")
    assert code == 0, listed
    [row] = [r for r in json.loads(listed) if r["id"] == clause_id]
    assert row["etape_libelle"] == "suivi et bilan"
    assert row["resiliation"] == {"date": "2026-10-31", "motif": REASON}, row

    code, listed = run_cli(settings, clock, TERMINATED_ON, "clause", "list")
    assert code == 0, listed
    assert "│ suivi et bilan (résilié le 31/10/2026) │" in plain(listed), listed


def test_the_preview_of_the_end_notice_of_a_terminated_lot_is_the_termination_notice(
    app: App, settings: Settings, clock: Clock
) -> None:
    clause_id, _ = terminated_lot(app, settings, clock)
    with app.transaction() as session:
        [sent] = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.clause_id == clause_id,
                OutboxMessage.kind == "notice_execution_ended",
            )
        ).all()

    code, shown = run_cli(settings, clock, paris(date(2026, 12, 7), 10), "mail", "preview",
                          "notice_execution_ended", "--clause", str(clause_id))  # fmt: skip
    assert code == 0, shown
    shown = plain(shown)
    assert (
        f"Clause n° {clause_id} (marché M-" in shown
        and f"marché résilié le 31/10/2026 ({REASON}). L'avis de fin d'exécution d'un lot "
        "résilié est celui de la résiliation (sa date, son motif, les déclarations encore "
        "attendues jusqu'à elle) : c'est lui qui est montré, avec les chiffres de ce jour."
        in shown
    ), shown
    # The notice shown is the one sent: terminated, never « s'est achevée ».
    assert f"Objet : {plain(sent.subject)}" in shown, shown
    assert (
        f"a été résilié le 31 octobre 2026. Motif : {REASON}." in shown
        and "s'est achevée" not in shown
    ), shown
