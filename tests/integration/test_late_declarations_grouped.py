"""Months received together after the buyer's alerts: one notice, not one per month.

Found by a user trial: a company alerted for September, October and November sent the three
months in one file; the buyer got three notices « Déclaration reçue après mon alerte » in the
same minute, each saying the others were still missing. A recording of several months of one
company on one lot (a file, the company's page) now tells the buyer once
(``DeclarationsRecorded``): the months received, each with its hours and participants, the alert
that named each, and what is still owed. A month alone reads as it always did. A month of that
notice cancelled before it leaves: the notice is withdrawn, and the months still received are
told again without it. The audit reads the keys of several months.

On the real passes, command line (``declaration import``, ``audit verify``) and dispatcher of a simulated clock, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import Lot, make_lot
from tests.integration.test_ladder_scenarios import paris
from tests.text import squash, visible
from workflow.adapters.orm import Company, OutboxMessage
from workflow.adapters.templates import french_date
from workflow.app.clause_corrections import cancel_declaration
from workflow.bootstrap import App, bootstrap
from workflow.domain.calendar import at_local, local_date
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.services.ticks import simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

SEP, OCT, NOV = date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)
KIND = "notice_late_declaration_received"
ALERT = "declaration_escalation"
#: Luhn-valid SIRETs for the lot's two companies (the file names them so).
SIRETS = ("41234567800012", "73282932000074")
HEADER = (
    "SIRET;Entreprise;Mois;Référence participant;Critère d'éligibilité;Type de contrat;"
    "Modalité de réalisation;Heures"
)
CRITERION = "Demandeur d'emploi de longue durée;CDD;Embauche directe"
#: Declared after the three alerts left (2 November, 2 December, 4 January).
IMPORTED = date(2027, 1, 6)


@pytest.fixture
def app(settings: Settings, clock: Clock) -> Iterator[App]:
    application = bootstrap(settings, clock=clock)
    yield application
    application.close()


def rows(app: App, kind: str) -> list[OutboxMessage]:
    with app.transaction() as session:
        found = list(
            session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
            )
        )
        for row in found:
            session.expunge(row)
        return found


def alerted(app: App) -> Lot:
    """Two companies on one lot, neither declaring: September, October and November each
    called, reminded and alerted to the buyer (three alerts, sent)."""
    lot = make_lot(
        app,
        start=SEP,
        end=date(2027, 6, 30),
        companies=("Bâtiments Gascons SARL", "Peintures Lot-et-Garonne"),
        at=paris(SEP, 10),
    )
    with app.transaction() as session:
        for company_id, siret in zip(lot.company_ids, SIRETS, strict=True):
            session.get_one(Company, company_id).siret = siret
    simulate(app, SEP, date(2027, 1, 5))
    alerts = rows(app, ALERT)
    assert {a.state for a in alerts} == {"sent"}
    assert len(alerts) == 6  # three months, two companies
    return lot


def of(lot: Lot, company_id: int) -> str:
    """The start of the keys of the notices of that company on the lot."""
    return f"late_declared:{lot.clause_id}:{company_id}:"


def line(siret: str, month: date, reference: str, hours: str) -> str:
    return f"{siret};;{month:%m/%Y};{reference};{CRITERION};{hours}"


def command(settings: Settings, clock: Clock, *args: str) -> Result:
    """``clauses …`` on the test's database and clock."""
    state = CliState()
    state.factory = lambda: bootstrap(settings, clock=clock)
    result = CliRunner().invoke(cli, list(args), obj=state, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def import_lines(
    settings: Settings, clock: Clock, lot: Lot, tmp_path: Path, lines: list[str], at: datetime
) -> None:
    """The facilitator imports the company's file (``clauses declaration import``), at ``at``."""
    path = tmp_path / f"declarations-{at:%Y%m%d%H%M}.csv"
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    clock.set(at)
    command(
        settings, clock, "declaration", "import", str(path), "--clause", str(lot.clause_id),
        "--actor", "Camille Martin",
    )  # fmt: skip


def imported_at(app: App) -> datetime:
    return at_local(IMPORTED, time(10), app.settings.zone)


def three_months(app: App, settings: Settings, clock: Clock, lot: Lot, tmp_path: Path) -> None:
    """The holder's three months in one file; the co-contractor's September in the same one."""
    holder, partner = SIRETS
    import_lines(
        settings,
        clock,
        lot,
        tmp_path,
        [
            line(holder, SEP, "P-0101", "70"),
            line(holder, SEP, "P-0102", "50"),
            line(holder, OCT, "P-0101", "0"),
            line(holder, NOV, "P-0101", "80,5"),
            line(holder, NOV, "P-0102", "20"),
            line(holder, NOV, "P-0103", "0"),
            line(partner, SEP, "P-0201", "35"),
        ],
        imported_at(app),
    )


def audit_problems(settings: Settings, clock: Clock) -> list[object]:
    """``clauses audit verify --json``: what it finds wrong."""
    found = json.loads(command(settings, clock, "audit", "verify", "--json").stdout)
    problems: list[object] = found["problemes"]
    return problems


def test_three_months_in_one_file_make_one_notice(
    app: App, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    lot = alerted(app)
    holder_id, partner_id = lot.company_ids
    three_months(app, settings, clock, lot, tmp_path)
    alerts = {a.key: a for a in rows(app, ALERT)}
    sent_on = {
        month: french_date(
            local_date(
                alerts[f"reminder:{lot.clause_id}:{holder_id}:{month:%Y-%m}:escalation"].sent_at
                or datetime.min,
                app.settings.zone,
            )
        )
        for month in (SEP, OCT, NOV)
    }

    notices = rows(app, KIND)
    holder = [n for n in notices if n.key.startswith(of(lot, holder_id))]
    partner = [n for n in notices if n.key.startswith(of(lot, partner_id))]
    [notice] = holder  # one, not three
    assert notice.key.startswith(f"late_declared:{lot.clause_id}:{holder_id}:2026-09..2026-11:")
    assert notice.subject.startswith(
        "Déclarations reçues après mes alertes : septembre, octobre et novembre 2026, "
        "Bâtiments Gascons SARL"
    )
    text = squash(notice.body_text)
    assert (
        "Les déclarations des heures d'insertion de septembre, d'octobre et de novembre 2026 de "
        "Bâtiments Gascons SARL, titulaire, pour le lot 1 «\u00a0Gros œuvre\u00a0» me sont parvenues le "
        "6 janvier 2027 :"
    ) in text
    assert "- septembre 2026 : 120\u00a0h, 2 participants ;" in text
    assert "- octobre 2026 : zéro heure (personne n'a travaillé sur le lot ce mois-là) ;" in text
    assert (
        "- novembre 2026 : 100,50\u00a0h, 2 participants ayant travaillé (1 autre déclaré à 0\u00a0h)."
    ) in text
    assert "Je vous les ai signalées manquantes dans plusieurs alertes :" in text
    for month, name in ((SEP, "septembre 2026"), (OCT, "octobre 2026"), (NOV, "novembre 2026")):
        assert f"- {name} : dans mon alerte du {sent_on[month]}" in text
    # Nothing said missing of a month the same notice says received.
    assert "reste attendu" not in text and "restent attendus" not in text
    assert "Ces mois ne sont plus manquants" in text
    assert (
        "Bâtiments Gascons SARL ne m'a pas encore transmis sa déclaration de décembre 2026"
    ) in text
    page = visible(notice.body_html)
    assert "septembre 2026\u00a0: 120\u00a0h, 2 participants\u00a0;" in page
    assert "- septembre 2026" not in page  # a list there, not dashes
    # The co-contractor's one month, in the same file: its own notice, as one month reads.
    [single] = partner
    assert single.key.startswith(f"late_declared:{lot.clause_id}:{partner_id}:2026-09:")
    assert (
        "Peintures Lot-et-Garonne, cotraitant, m'a transmis le 6 janvier 2027 sa déclaration "
        "des heures d'insertion de septembre 2026 pour le lot 1 «\u00a0Gros œuvre\u00a0», que je "
        "vous avais signalée manquante le 2 novembre 2026 : 35\u00a0h, 1 participant."
    ) in squash(single.body_text)
    assert single.subject.startswith(
        "Déclaration reçue après mon alerte : septembre 2026, Peintures Lot-et-Garonne"
    )
    assert "Ce mois n'est plus manquant" in squash(single.body_text)

    # It leaves; the audit reads its key (each month with its ladder) and finds nothing wrong.
    simulate(app, date(2027, 1, 7), date(2027, 1, 7))
    assert {n.state for n in rows(app, KIND)} == {"sent"}
    assert audit_problems(settings, clock) == []


def test_a_month_cancelled_before_the_notice_leaves_is_never_told(
    app: App, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    lot = alerted(app)
    holder_id = lot.company_ids[0]
    three_months(app, settings, clock, lot, tmp_path)
    clock.set(at_local(IMPORTED, time(10, 30), app.settings.zone))
    cancel_declaration(
        app,
        clause=lot.clause_id,
        company=holder_id,
        month=OCT,
        reason="Déclaration envoyée sur le mauvais lot",
        actor="Camille Martin",
    )
    holder = [n for n in rows(app, KIND) if n.key.startswith(of(lot, holder_id))]
    withdrawn, again = holder
    assert withdrawn.state == "cancelled" and withdrawn.last_error is not None
    assert withdrawn.last_error.startswith(
        "Retiré : la déclaration d'octobre 2026 a été annulée le "
    )
    # September and November, still received, told without October.
    assert again.state == "pending"
    assert again.key.startswith(f"late_declared:{lot.clause_id}:{holder_id}:2026-09,2026-11:")
    text = squash(again.body_text)
    assert "de septembre et de novembre 2026 de Bâtiments Gascons SARL" in text
    assert "octobre" not in text.split("Je vous les ai signalées")[0]
    assert "- octobre 2026 :" not in text

    simulate(app, date(2027, 1, 7), date(2027, 1, 7))
    told = [
        n for n in rows(app, KIND) if n.state == "sent" and n.key.startswith(of(lot, holder_id))
    ]
    assert [n.id for n in told] == [again.id]
    # The buyer never reads that October arrived.
    assert all("- octobre 2026 : " not in squash(n.body_text) for n in told)
    assert audit_problems(settings, clock) == []


def test_a_month_corrected_before_the_notice_leaves_is_told_with_the_others(
    app: App, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    lot = alerted(app)
    holder_id = lot.company_ids[0]
    three_months(app, settings, clock, lot, tmp_path)
    holder, _ = SIRETS
    path = tmp_path / "septembre-corrige.csv"
    path.write_text(
        "\n".join([HEADER, line(holder, SEP, "P-0101", "75"), line(holder, SEP, "P-0102", "50")])
        + "\n",
        encoding="utf-8",
    )
    clock.set(at_local(IMPORTED, time(10, 45), app.settings.zone))
    command(
        settings, clock, "declaration", "import", str(path), "--clause", str(lot.clause_id),
        "--replace", "--reason", "Heures de P-0101 mal reportées", "--actor", "Camille Martin",
    )  # fmt: skip
    replaced, again = [n for n in rows(app, KIND) if n.key.startswith(of(lot, holder_id))]
    assert replaced.state == "cancelled" and replaced.last_error is not None
    assert replaced.last_error.startswith(
        "Remplacé : la déclaration de septembre 2026 a été corrigée le "
    )
    # One notice again, for the three months: September as corrected, the others as they were.
    assert again.state == "pending"
    assert again.key.startswith(f"{of(lot, holder_id)}2026-09..2026-11:")
    text = squash(again.body_text)
    assert "me sont parvenues le 6 janvier 2027 :" in text  # the correction too, that day
    assert (
        "- septembre 2026 : 125\u00a0h, 2 participants (corrigée depuis : ces chiffres sont "
        "ceux de la correction) ;"
    ) in text
    assert "- novembre 2026 : 100,50\u00a0h" in text
    simulate(app, date(2027, 1, 7), date(2027, 1, 7))
    assert audit_problems(settings, clock) == []
