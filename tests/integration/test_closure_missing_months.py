"""A final report recorded, then the clause closed, while months were never declared.

The user's case: a lot whose company declared some months only; its work finished, its end
corrected (31/10 → 30/11, November asked again with a due date and a reminder date), the report
recorded and the clause closed. The report's total leaves the missing months out: the command,
the history and the buyer's email name them, by company, and say the total does not include
them. Closing asks them no more: the command says so, the lot's ladder emails still waiting are
withdrawn, no reminder or alert leaves any more, and the company is told, in the words of a
closure, that those months are no longer asked. The company asked November again is told how to
declare it (no more « comme d'habitude »).

On the real commands and passes of a simulated clock, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import Clock, make_settings
from tests.integration._ladders import Lot
from tests.integration.test_end_date_correction import (
    a_lot_finished_a_month_too_early,
    correct,
    run_cli,
)
from tests.text import squash, visible
from workflow.adapters.orm import Clause, ClauseHistory, OutboxMessage
from workflow.app.audit import verify_database
from workflow.bootstrap import App, bootstrap
from workflow.domain.calendar import at_local
from workflow.services.company_end_notices import tell_owed_again
from workflow.services.declaration_links import read_link
from workflow.services.lot_ends import OwedAgain, OwedMonth
from workflow.services.ticks import simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

NBSP = "\u00a0"
COMPANY = "Bâtiments Test"
MISSING = "octobre et novembre 2026"
NOV = date(2026, 11, 1)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, escalation_offset=25)


@pytest.fixture
def app(settings: Settings, clock: Clock) -> Iterator[App]:
    application = bootstrap(settings, clock=clock)
    yield application
    application.close()


def paris(day: date, hour: int, minute: int = 0) -> datetime:
    return at_local(day, time(hour, minute), Settings().zone)


def emails(app: App, lot: Lot, kind: str | None = None) -> list[OutboxMessage]:
    with app.transaction() as session:
        statement = select(OutboxMessage).where(OutboxMessage.clause_id == lot.clause_id)
        if kind is not None:
            statement = statement.where(OutboxMessage.kind == kind)
        found = list(session.scalars(statement.order_by(OutboxMessage.id)))
        for message in found:
            session.expunge(message)
        return found


def history(app: App, lot: Lot, event: str) -> list[str | None]:
    with app.transaction() as session:
        return list(
            session.scalars(
                select(ClauseHistory.reason)
                .where(ClauseHistory.clause_id == lot.clause_id, ClauseHistory.event == event)
                .order_by(ClauseHistory.id)
            )
        )


def a_lot_reported_with_october_and_november_missing(
    app: App, settings: Settings, clock: Clock, tmp_path: Path
) -> tuple[Lot, str]:
    """September declared, October never; finished « le 31/10 » on 3 December, corrected to
    30/11 on the 4th (November asked again); November's first reminder queued on 15 December
    and not sent yet; the report recorded that day at 11:00. Returns the lot and what the report
    command printed."""
    lot, _, _ = a_lot_finished_a_month_too_early(app, settings, clock)
    correct(settings, clock, lot, paris(date(2026, 12, 4), 10), "30/11/2026")
    simulate(app, date(2026, 12, 4), date(2026, 12, 14))
    simulate(app, date(2026, 12, 15), date(2026, 12, 15), dispatch=False)
    waiting = [m for m in emails(app, lot, "declaration_reminder") if m.state == "pending"]
    assert waiting, "November's reminder n° 1 waits in the outbox"
    report = tmp_path / "bilan.txt"
    report.write_text("Bonne collaboration de l'entreprise.", encoding="utf-8")
    code, said = run_cli(settings, clock, paris(date(2026, 12, 15), 11), "clause", "report",
                         str(lot.clause_id), "--file", str(report))  # fmt: skip
    assert code == 0, said
    return lot, said


def test_the_report_names_the_months_never_declared_and_its_total_leaves_them_out(
    app: App, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    lot, said = a_lot_reported_with_october_and_november_missing(app, settings, clock, tmp_path)

    assert said == (
        f"Bilan de la clause n° {lot.clause_id} enregistré. Attention : 2 déclarations "
        "mensuelles n'ont pas été reçues ; le bilan et le courriel envoyé au donneur d'ordre "
        "donnent un total sans leurs heures, et nomment ces mois : "
        f"- {COMPANY} : {MISSING} "
        "Clôturer la clause arrêtera de les demander (rappels annulés, chaque entreprise "
        "prévenue) : leurs heures ne seront alors comptées nulle part. Tant qu'elle n'est pas "
        "clôturée, vous pouvez encore les enregistrer (clauses declaration import ou clauses "
        "declaration zero), puis enregistrer à nouveau le bilan."
    ), said
    assert history(app, lot, "final_report") == [
        "bilan de l'opération enregistré ; déclarations non reçues, hors du total : "
        f"{COMPANY} (10/2026, 11/2026)"
    ]
    [bilan] = emails(app, lot, "notice_final_report")
    text = squash(bilan.body_text)
    assert (
        "Ce bilan n'est pas complet : 2 déclarations mensuelles n'ont pas été reçues, et les "
        "heures de ces mois ne sont pas comptées dans les chiffres ci-dessous : "
        f"- {COMPANY} : {MISSING} En chiffres "
        "- Heures d'insertion déclarées : 0"
    ) in text, text
    assert ", sans les heures des 2 déclarations non reçues" in text
    assert (
        "La clause sera ensuite clôturée : ces mois ne seront alors plus demandés ; d'ici là, "
        "ils peuvent encore être déclarés."
    ) in text
    html = visible(bilan.body_html or "")
    assert "Ce bilan n'est pas complet" in html and f"{COMPANY}{NBSP}: {MISSING}" in html


def test_closing_with_months_owed_tells_the_company_and_stops_every_ladder_email(
    app: App, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    lot, _ = a_lot_reported_with_october_and_november_missing(app, settings, clock, tmp_path)
    closed_at = paris(date(2026, 12, 15), 11, 30)

    code, said = run_cli(settings, clock, closed_at, "clause", "advance", str(lot.clause_id),
                         "clôturer")  # fmt: skip

    assert code == 0, said
    assert said == (
        f"Clause n° {lot.clause_id} : suivi et bilan → clôturée Attention : la clause n° "
        f"{lot.clause_id} est clôturée alors que 2 déclarations mensuelles n'ont pas été "
        f"reçues : - {COMPANY} : {MISSING} Ces mois ne sont plus demandés : leurs rappels et "
        "alertes sont arrêtés, les courriels qui les demandaient encore sont retirés, et chaque "
        "entreprise appelée pour l'un d'eux en est prévenue par courriel. Leurs heures ne sont "
        "comptées ni dans le bilan ni dans aucun total."
    ), said
    # November's reminder that was waiting is withdrawn, its reason kept.
    reminders = emails(app, lot, "declaration_reminder")
    withdrawn = [m for m in reminders if m.state == "cancelled"]
    assert withdrawn and all(
        m.last_error is not None
        and m.last_error.startswith(f"Retiré{NBSP}: la clause a été clôturée le 15/12/2026, ")
        for m in withdrawn
    ), [(m.state, m.last_error) for m in reminders]
    assert [m for m in reminders if m.state == "pending"] == []
    assert history(app, lot, "close") == [
        f"Déclarations non reçues à la clôture, plus demandées{NBSP}: {COMPANY} ({MISSING}). "
        f"{len(withdrawn)} courriel{'s' if len(withdrawn) > 1 else ''} en attente "
        f"retiré{'s' if len(withdrawn) > 1 else ''} (rappel n° 1)."
    ]
    # The company hears, in the words of a closure, that both months are no longer asked.
    [told] = [
        m
        for m in emails(app, lot, "company_months_released")
        if m.created_at.astimezone(UTC) == closed_at.astimezone(UTC)
    ]
    assert squash(told.subject).startswith(
        "Clause clôturée : déclarations d'octobre et de novembre 2026 plus demandées – "
    ), told.subject
    text = squash(told.body_text)
    assert (
        "J'ai clôturé le 15 décembre 2026 le suivi de la clause sociale d'insertion du lot "
    ) in text
    assert (
        "Les déclarations d'octobre et de novembre 2026 vous avaient été demandées et ne me "
        "sont pas parvenues. Elles ne vous sont plus demandées : vous n'avez plus rien à "
        "déclarer pour ce lot."
    ) in text
    assert (
        "Le bilan a été arrêté sans les heures de ces mois, qui ne seront comptées dans aucun "
        "total."
    ) in text
    assert "Les rappels prévus sont annulés" in text
    assert "postérieur" not in text and "ne changent pas" not in text

    # The passes go on: the notice leaves, nothing else of the lot's ladder ever does.
    before = {m.id for m in emails(app, lot)}
    simulate(app, date(2026, 12, 15), date(2027, 2, 28))
    after = [m for m in emails(app, lot) if m.id not in before]
    assert [m.kind for m in after if m.key.startswith("reminder:")] == []
    assert all(m.state == "sent" for m in emails(app, lot, "company_months_released"))
    assert [str(finding) for finding in verify_database(app).findings] == []


def test_november_asked_again_says_how_to_declare_it(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot, _, _ = a_lot_finished_a_month_too_early(app, settings, clock)
    correct(settings, clock, lot, paris(date(2026, 12, 4), 10), "30/11/2026")

    [again] = emails(app, lot, "company_months_owed_again")
    text = squash(again.body_text)
    assert "comme d'habitude" not in text
    assert "Vous pouvez la déclarer dès maintenant" in text and "en réponse à ce message" in text, (
        text
    )


def test_with_the_settings_november_asked_again_carries_its_signed_link(
    app: App, settings: Settings, clock: Clock
) -> None:
    """``tell_owed_again`` given the settings (as ``end_date_corrections`` is to give them):
    the email carries the company's own link for November, which opens November of this lot."""
    lot, reminder_at, due_on = a_lot_finished_a_month_too_early(app, settings, clock)
    at = paris(date(2026, 12, 4), 10)
    november = OwedMonth(NOV, ("call",), "reminder_1", reminder_at, due_on)
    owed = OwedAgain(lot.company_ids[0], COMPANY, date(2026, 11, 30), (november,))
    with app.transaction() as session:
        clause = session.get_one(Clause, lot.clause_id)
        told = tell_owed_again(
            session,
            app.renderer,
            clause,
            [owed],
            before=date(2026, 10, 31),
            at=at,
            zone=settings.zone,
            settings=settings,
        )
    assert told == [lot.company_ids[0]]
    [again] = emails(app, lot, "company_months_owed_again")
    text = squash(again.body_text)
    assert (
        "Vous pouvez la déclarer dès maintenant, en ligne avec le lien ci-dessous, ou en "
        "m'envoyant votre tableau en réponse à ce message. DÉCLARER EN LIGNE"
    ) in text, text
    [url] = re.findall(r"- novembre 2026 : (https?://\S+)", text)
    token = url.rsplit("/declarer/", 1)[1]
    with app.transaction() as session:
        scope = read_link(session, settings, token, at)
    assert (scope.clause_id, scope.company_id, scope.month) == (
        lot.clause_id,
        lot.company_ids[0],
        NOV,
    )
