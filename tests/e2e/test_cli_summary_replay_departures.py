"""``clauses summary --month M --now T`` names each company that left since T as the email of T
had it (review 7): its declaration of M « attendue » only when the email counted it among the
expected, « pas encore due » when the email listed it so, « pas demandée » when the lot did not
ask it then (its planned end passed); the replay's figures and the email's the same. On SQLite
and PostgreSQL, through the real services and the command line.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from click.testing import CliRunner, Result

from tests.conftest import Clock
from tests.integration._ladders import Lot, declare, ladder_pass, make_lot
from tests.integration.test_summary_replay_after_correction import sent, summary_cli
from tests.integration.test_summary_replay_restores import headline
from workflow.app.clause_corrections import cancel_declaration
from workflow.app.company_departures import record_departure
from workflow.app.reports import summary_as_known
from workflow.bootstrap import App, bootstrap
from workflow.domain.calendar import add_months
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.services.summaries import queue_monthly_summaries
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

OCTOBER = date(2026, 10, 1)
SEPTEMBER = date(2026, 9, 1)
DECEMBER_28 = datetime(2026, 12, 28, 9, tzinfo=UTC)
DECLARED = datetime(2026, 11, 5, 9, tzinfo=UTC)


def october_email(
    app: App, clock: Clock, *, planned_end: date, until: dict[int, date]
) -> tuple[Lot, str, str]:
    """A lot of Bâtiments Test and Isol'Sud started on 2 March, called on 2 November, each
    company declaring from March to its month in ``until``; October's buyer email written on
    30 November: the lot, the email's text and its instant."""
    lot = make_lot(
        app, start=date(2026, 3, 2), end=planned_end, companies=("Bâtiments Test", "Isol'Sud")
    )
    calls = datetime(2026, 11, 2, 9, tzinfo=UTC)
    clock.set(calls)
    ladder_pass(app, calls)
    for company, last in until.items():
        month = date(2026, 3, 1)
        while month <= last:
            declare(app, lot, month, DECLARED, company=company)
            month = add_months(month, 1)
    written = datetime(2026, 11, 30, 9, tzinfo=UTC)
    clock.set(written)
    assert queue_monthly_summaries(app, written) > 0
    body, at = sent(app, f"summary:2026-10:buyer:{lot.buyer_id}")
    return lot, body.replace("\u00a0", " "), at


def replayed(settings: Settings, clock: Clock, lot: Lot, at: str) -> str:
    return summary_cli(
        settings, clock, "--month", "2026-10", "--buyer", str(lot.buyer_id), "--now", at
    )


def cli_command(settings: Settings, clock: Clock, *args: str) -> Result:
    state = CliState()
    state.factory = lambda: bootstrap(settings, clock=clock)
    return CliRunner().invoke(cli, list(args), obj=state, catch_exceptions=False)


def departure_line(replay: str, company: str) -> str:
    [line] = [x for x in replay.splitlines() if x.startswith("- clause n°") and company in x]
    return line


def test_a_month_the_lot_did_not_ask_then_is_not_said_expected(
    app: App, settings: Settings, clock: Clock
) -> None:
    """Its planned end on 30 September passed, its end not recorded: the lot asked October of
    nobody, and the email said « aucune attendue ». Isol'Sud leaves on 28 December, its last
    month September: the replay once said its October « non reçue alors, est attendue »."""
    lot, body, at = october_email(
        app, clock, planned_end=date(2026, 9, 30), until={0: SEPTEMBER, 1: SEPTEMBER}
    )
    said = headline(body)
    assert "- Déclarations d'octobre 2026 : aucune attendue" in said, said
    assert "Isol'Sud" not in body, body
    clock.set(DECEMBER_28)
    record_departure(app, lot.clause_id, lot.company_ids[1], SEPTEMBER, reason="Liquidation")

    replay = replayed(settings, clock, lot, at)
    assert headline(replay) == said, replay
    line = departure_line(replay, "Isol'Sud")
    assert "attendue" not in line, line
    assert line == (
        f"- clause n° {lot.clause_id} : Isol'Sud, départ enregistré le 28/12/2026 ; dernier "
        "mois à déclarer alors celui de la fin du lot, aujourd'hui septembre 2026 ; sa "
        "déclaration d'octobre 2026 n'était pas demandée alors"
    ), line


def test_a_month_the_lot_spent_suspended_is_not_said_expected(
    app: App, settings: Settings, clock: Clock
) -> None:
    """The lot, running to June 2027, suspended from 25 September to 1 November: October, spent
    entirely suspended, was asked of nobody (« aucune attendue »). Isol'Sud leaves on 28
    December, its last month September: the replay said its October « est attendue »."""
    lot = make_lot(
        app, start=date(2026, 3, 2), end=date(2027, 6, 30), companies=("Bâtiments Test", "Isol'Sud")
    )
    for day, step in ((datetime(2026, 9, 25, 9, tzinfo=UTC), ("suspendre", "--reason", "gel")),
                      (datetime(2026, 11, 1, 9, tzinfo=UTC), ("reprendre",))):  # fmt: skip
        clock.set(day)
        result = cli_command(settings, clock, "clause", "advance", str(lot.clause_id), *step)
        assert result.exit_code == 0, result.output
    calls = datetime(2026, 11, 2, 9, tzinfo=UTC)
    clock.set(calls)
    ladder_pass(app, calls)
    month = date(2026, 3, 1)
    while month <= SEPTEMBER:
        declare(app, lot, month, DECLARED)
        declare(app, lot, month, DECLARED, company=1)
        month = add_months(month, 1)
    written = datetime(2026, 11, 30, 9, tzinfo=UTC)
    clock.set(written)
    assert queue_monthly_summaries(app, written) > 0
    body, at = sent(app, f"summary:2026-10:buyer:{lot.buyer_id}")
    said = headline(body.replace("\u00a0", " "))
    assert "- Déclarations d'octobre 2026 : aucune attendue" in said, said
    clock.set(DECEMBER_28)
    record_departure(app, lot.clause_id, lot.company_ids[1], SEPTEMBER, reason="Liquidation")

    replay = replayed(settings, clock, lot, at)
    assert headline(replay) == said, replay
    assert departure_line(replay, "Isol'Sud").endswith(
        "sa déclaration d'octobre 2026 n'était pas demandée alors"
    ), replay


def test_a_month_declared_then_though_not_asked_is_counted_as_the_email_did(
    app: App, settings: Settings, clock: Clock
) -> None:
    """The same lot past its planned end, both companies' October recorded all the same on 5
    November (the email: « toutes reçues (2 sur 2) », both declared out of the months asked);
    Isol'Sud's cancelled on 28 December so that it can leave: the replay counted it as asked
    then (one declared out of the months asked, where the email had two)."""
    lot, body, at = october_email(
        app, clock, planned_end=date(2026, 9, 30), until={0: OCTOBER, 1: OCTOBER}
    )
    said = headline(body)
    assert "- Déclarations d'octobre 2026 : toutes reçues (2 sur 2)" in said, said
    moment = datetime.fromisoformat(at)
    then = summary_as_known(app, OCTOBER, buyer=lot.buyer_id, now=moment).summary
    assert then.overall.declarations.unasked == 2, then.overall.declarations
    clock.set(DECEMBER_28)
    cancel_declaration(
        app,
        clause=lot.clause_id,
        company=lot.company_ids[1],
        month=OCTOBER,
        reason="déclarée par erreur",
        actor="test",
    )
    record_departure(app, lot.clause_id, lot.company_ids[1], SEPTEMBER, reason="Liquidation")

    replay = replayed(settings, clock, lot, at)
    assert headline(replay) == said, (said, replay)
    # Declared out of the months asked, as the email counted it (``Declarations.unasked``).
    again = summary_as_known(app, OCTOBER, buyer=lot.buyer_id, now=moment)
    assert again.summary.overall.declarations == then.overall.declarations, again.summary
    assert departure_line(replay, "Isol'Sud").endswith(
        "sa déclaration d'octobre 2026, reçue alors, est comptée"
    ), replay


def test_a_month_not_due_then_is_said_not_due_as_the_email_listed_it(
    app: App, settings: Settings, clock: Clock
) -> None:
    """The lot runs to June 2027; Isol'Sud's October not declared on 30 November, its call
    not sent yet: the email lists it « pas encore due ». The replay said « non reçue alors, est
    attendue », as of a late one."""
    lot, body, at = october_email(
        app, clock, planned_end=date(2027, 6, 30), until={0: OCTOBER, 1: SEPTEMBER}
    )
    said = headline(body)
    assert any("1 reçue sur 2 attendues ; 1 pas encore due : Isol'Sud" in line for line in said), (
        said
    )
    assert "manquante" not in " ".join(said), said
    clock.set(DECEMBER_28)
    record_departure(app, lot.clause_id, lot.company_ids[1], SEPTEMBER, reason="Liquidation")

    replay = replayed(settings, clock, lot, at)
    assert headline(replay) == said, replay
    assert departure_line(replay, "Isol'Sud").endswith(
        "sa déclaration d'octobre 2026, non reçue, n'était pas encore due alors : ces chiffres "
        "la comptent parmi les pas encore dues, comme le courriel (elle n'est plus demandée "
        "aujourd'hui)"
    ), replay


def test_a_company_whose_name_was_given_to_another_since_is_still_found(
    app: App, settings: Settings, clock: Clock
) -> None:
    """Plâtres Test left before the email (its last month September), Isol'Sud after it (on
    28 December, its last month September); then Isol'Sud was renamed « Isolations du Gers » and
    Plâtres Test « Isol'Sud » (« clauses company edit »). The departure row of 28 December names
    « Isol'Sud », a name both companies had: the replay could not tell which one left, counted
    Isol'Sud as today (no longer expected) and named no departure. The row now keeps the
    company's number."""
    lot = make_lot(
        app,
        start=date(2026, 3, 2),
        end=date(2027, 6, 30),
        companies=("Bâtiments Test", "Plâtres Test", "Isol'Sud"),
    )
    clock.set(datetime(2026, 10, 20, 9, tzinfo=UTC))
    record_departure(app, lot.clause_id, lot.company_ids[1], SEPTEMBER, reason="Fini")
    calls = datetime(2026, 11, 2, 9, tzinfo=UTC)
    clock.set(calls)
    ladder_pass(app, calls)
    month = date(2026, 3, 1)
    while month <= OCTOBER:
        declare(app, lot, month, DECLARED)
        if month <= SEPTEMBER:
            declare(app, lot, month, DECLARED, company=1)
            declare(app, lot, month, DECLARED, company=2)
        month = add_months(month, 1)
    written = datetime(2026, 11, 30, 9, tzinfo=UTC)
    clock.set(written)
    assert queue_monthly_summaries(app, written) > 0
    body, at = sent(app, f"summary:2026-10:buyer:{lot.buyer_id}")
    said = headline(body.replace("\u00a0", " "))
    assert any("1 reçue sur 2 attendues ; 1 pas encore due : Isol'Sud (" in s for s in said), said
    clock.set(DECEMBER_28)
    record_departure(app, lot.clause_id, lot.company_ids[2], SEPTEMBER, reason="Liquidation")
    clock.set(datetime(2026, 12, 29, 9, tzinfo=UTC))
    for company, name in ((2, "Isolations du Gers"), (1, "Isol'Sud")):
        result = cli_command(
            settings, clock, "company", "edit", str(lot.company_ids[company]), "--name", name,
            "--reason", "nouveau nom",
        )  # fmt: skip
        assert result.exit_code == 0, result.output

    replay = replayed(settings, clock, lot, at)
    # The month's lines name the company as the summaries do, by its name of today.
    assert headline(replay) == [s.replace("Isol'Sud (", "Isolations du Gers (") for s in said], (
        replay
    )
    assert (
        f"- clause n° {lot.clause_id} : Isolations du Gers, départ enregistré le 28/12/2026 ; "
        "dernier mois à déclarer alors celui de la fin du lot, aujourd'hui septembre 2026 ; sa "
        "déclaration d'octobre 2026, non reçue, n'était pas encore due alors : ces chiffres la "
        "comptent parmi les pas encore dues, comme le courriel (elle n'est plus demandée "
        "aujourd'hui)"
    ) in replay.splitlines(), replay
    # Plâtres Test, « Isol'Sud » today, left before the email: not named as having left since.
    assert "Isol'Sud, départ" not in replay, replay
