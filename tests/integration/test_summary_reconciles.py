"""A monthly summary's cumulated hours reconcile with its recipient's previous summary.

User trial (6 December 2026): a reader who holds the previous summary next to this one must be
able to check « cumul of the previous summary (as it was written) + this month's hours + the
hours this summary lists above its figures = this cumul », for the facilitator and for each
buyer. The summary lists, above its figures: the declarations of the months the previous one
covered that were corrected or cancelled since (±), those that arrived since (+, « est arrivée
le … »), and the months between the two that had no summary to this recipient (skipped after a
stop of the service, or never delivered), with their hours. It names the previous summary's
month (« Depuis ma synthèse de février 2027 (envoyée le 22 mars 2027) »).

Every test reads the emails' text parts as their recipient does, over whole scenarios: the
demo, a long stop with skipped months, a late arrival, a correction, a cancellation, a
previous summary that never left.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, update

from tests.conftest import Clock, make_settings
from tests.integration._ladders import Lot, make_lot
from tests.integration.test_end_date_correction import paris
from tests.integration.test_summary_told_changes import declare
from workflow.adapters.orm import OutboxMessage, PeriodicRun
from workflow.app.audit import verify_database
from workflow.bootstrap import App, bootstrap
from workflow.emails.envelope import OutboxState
from workflow.services.declaration_cancellations import cancel_declaration
from workflow.services.demo import run_demo
from workflow.services.summaries import (
    JOB_SKIPPED,
    KIND_BUYER,
    KIND_FACILITATOR,
    lot_labels,
)
from workflow.services.ticks import TimedAction, simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

NBSP, NNBSP = "\u00a0", "\u202f"
SEP, OCT, NOV, DEC = (date(2026, m, 1) for m in (9, 10, 11, 12))
JAN, FEB = date(2027, 1, 1), date(2027, 2, 1)
MONTHS = {
    name: number
    for number, name in enumerate(
        [
            "janvier",
            "février",
            "mars",
            "avril",
            "mai",
            "juin",
            "juillet",
            "août",
            "septembre",
            "octobre",
            "novembre",
            "décembre",
        ],
        start=1,
    )
}


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, escalation_offset=25, mail_transport="file")


@pytest.fixture
def app(settings: Settings, clock: Clock) -> Iterator[App]:
    application = bootstrap(settings, clock=clock)
    yield application
    application.close()


# --- Reading an email as its recipient does -------------------------------------------------------


def plain(text: str) -> str:
    return text.replace(NBSP, " ").replace(NNBSP, " ")


def hours(text: str) -> Decimal:
    """« 3 479,50 » -> 3479.50."""
    return Decimal(text.replace(" ", "").replace(",", "."))


_H = r"(\d[\d ]*(?:,\d+)?) h"


@dataclass(frozen=True)
class Read:
    key: str
    state: str
    created_at: datetime
    text: str  # the text part, non-breaking spaces made plain

    @property
    def month(self) -> date:
        return datetime.strptime(self.key.split(":")[1], "%Y-%m").date()

    @property
    def recipient(self) -> str:
        return self.key.split(":", 2)[2]

    def figure(self, label: str) -> Decimal:
        for line in self.text.splitlines():
            if line.startswith(f"- {label} : "):
                found = re.match(_H, line.split(" : ", 1)[1])
                assert found, line
                return hours(found.group(1))
        raise AssertionError(f"{label} not in {self.key}:\n{self.text}")

    @property
    def notice(self) -> str:
        """What the email says above its figures, on one line."""
        head = self.text.split("\n- Heures réalisées dans le mois", 1)[0]
        said = [p for p in head.split("\n\n") if not p.startswith(("Bonjour", "Voici"))]
        return " ".join(" ".join(said).split())

    @property
    def names_previous(self) -> date | None:
        found = re.search(r"Depuis ma synthèse (?:de |d')(\w+) (\d{4})", self.notice)
        if found is None:
            return None
        return date(int(found.group(2)), MONTHS[found.group(1)], 1)

    def listed_hours(self) -> Decimal:
        """The hours the notice accounts for, signed: corrections (after − before),
        cancellations (−), arrivals (+), the declarations counted past the list, the months
        with no summary."""
        notice = self.notice
        total = Decimal(0)
        for before, after in re.findall(rf"(?:corrigée|de nouveau) le [^:]+ : {_H} → {_H}", notice):
            total += hours(after) - hours(before)
        for figure in re.findall(rf"annulée le [^:]+ : ses {_H} ne sont plus comptées", notice):
            total -= hours(figure)
        for figure in re.findall(rf"est arrivée le [^:]+ : {_H}", notice):
            total += hours(figure)
        for figure in re.findall(rf"arrivées? en retard \({_H}\)", notice):
            total += hours(figure)
        for sign, figure in re.findall(rf"ou annulées? \(([+−]){_H}\)", notice):
            total += hours(figure) if sign == "+" else -hours(figure)
        for said in re.findall(r"heures \(([^)]*)\) sont comprises", notice):
            total += sum((hours(f) for f in re.findall(_H, said)), Decimal(0))
        return total


def read_all(app: App) -> list[Read]:
    with app.transaction() as session:
        rows = session.execute(
            select(
                OutboxMessage.key,
                OutboxMessage.state,
                OutboxMessage.created_at,
                OutboxMessage.body_text,
            )
            .where(OutboxMessage.kind.in_([KIND_FACILITATOR, KIND_BUYER]))
            .order_by(OutboxMessage.created_at, OutboxMessage.id)
        ).all()
    return [
        Read(key, state, at if at.tzinfo else at.replace(tzinfo=UTC), plain(body))
        for key, state, at, body in rows
    ]


NEVER_LEFT = {OutboxState.FAILED, OutboxState.DEAD, OutboxState.CANCELLED}


def reconciles(emails: list[Read]) -> int:
    """For every summary with a previous one to its recipient (the latest written before it,
    of an earlier month, that left): previous cumul + this month + listed = this cumul, and the
    previous one is the one it names. The number of summaries checked."""
    checked = 0
    for email in emails:
        earlier = [
            e
            for e in emails
            if e.recipient == email.recipient
            and e.created_at < email.created_at
            and e.month < email.month
            and e.state not in NEVER_LEFT
        ]
        if not earlier:
            assert email.names_previous is None, email.notice
            continue
        previous = max(earlier, key=lambda e: e.created_at)
        named = email.names_previous
        assert named in (None, previous.month), (email.key, email.notice)
        cumul = email.figure("Heures cumulées depuis le début")
        month = email.figure("Heures réalisées dans le mois")
        was = previous.figure("Heures cumulées depuis le début")
        assert was + month + email.listed_hours() == cumul, (
            email.key,
            previous.key,
            was,
            month,
            email.listed_hours(),
            cumul,
            email.notice,
        )
        checked += 1
    return checked


# --- The demo -------------------------------------------------------------------------------------


def test_the_demo_s_summaries_reconcile_with_the_previous_ones(app: App) -> None:
    run_demo(app)
    # The demo stops on 31 March 2027; March's summary leaves in April.
    simulate(app, date(2027, 4, 1), date(2027, 4, 27))
    emails = read_all(app)
    assert reconciles(emails) >= 20
    (march,) = [e for e in emails if e.key == "summary:2027-03:buyer:1"]
    (february,) = [e for e in emails if e.key == "summary:2027-02:buyer:1"]
    assert february.figure("Heures cumulées depuis le début") == Decimal("3365")
    assert march.figure("Heures cumulées depuis le début") == Decimal("3479.50")
    assert march.figure("Heures réalisées dans le mois") == 0
    # The 114,50 h between the two are named: February's declarations that arrived after
    # February's summary left.
    assert march.notice.startswith(
        "Depuis ma synthèse de février 2027 (envoyée le 22 mars 2027 à 7 h), 2 déclarations des "
        "mois qu'elle couvrait sont arrivées en retard ; le cumul en tient compte :"
    ), march.notice
    assert (
        # The lot as the buyer's tables name it, never « clause n° 4 » beside « lot 05 ».
        "La déclaration de février 2027 de Gimone Second Œuvre SAS (2026-014 lot 05 – Peinture "
        "intérieure) est arrivée le 22 mars 2027 à 11 h 15 : 76 h ;"
    ) in march.notice
    assert march.notice.endswith(
        "(2026-014 lot 07 – Électricité courants forts) est arrivée le 22 mars 2027 à 11 h 15 : "
        "38,50 h."
    )
    assert "clause n°" not in march.notice
    assert march.listed_hours() == Decimal("114.50")
    assert verify_database(app).findings == ()


# --- A lot of one company, by hand ----------------------------------------------------------------


def a_lot(app: App, *companies: str) -> Lot:
    return make_lot(
        app,
        start=SEP,
        end=date(2027, 6, 30),
        at=paris(SEP, 10),
        companies=companies or ("Bâtiments Gascons SARL",),
    )


def on(day: date, name: str, action: Callable[[App, datetime], None]) -> TimedAction:
    return TimedAction(paris(day, 11), name, action)


def test_a_long_stop_s_skipped_months_are_named_with_their_hours(app: App) -> None:
    lot = a_lot(app)
    simulate(
        app,
        SEP,
        date(2026, 11, 10),
        actions=[
            on(date(2026, 10, 5), "sep", lambda a, at: declare(a, lot, SEP, at, "35")),
            on(date(2026, 11, 5), "oct", lambda a, at: declare(a, lot, OCT, at, "120")),
        ],
    )
    # Stopped from 11 November to 1 February: October's, November's and December's summaries
    # never leave. At the restart the company declares November and December.
    back = date(2027, 2, 1)
    simulate(
        app,
        back,
        date(2027, 3, 25),
        actions=[
            on(back, "nov", lambda a, at: declare(a, lot, NOV, at, "80")),
            on(back + timedelta(days=1), "dec", lambda a, at: declare(a, lot, DEC, at, "60.25")),
        ],
    )
    with app.transaction() as session:
        skipped = set(
            session.scalars(select(PeriodicRun.period).where(PeriodicRun.job == JOB_SKIPPED))
        )
    assert skipped, "the stop skipped no month"
    emails = read_all(app)
    assert reconciles(emails) >= 2
    sent_after = [e for e in emails if e.created_at.date() >= back]
    first = min(
        (e for e in sent_after if e.recipient.startswith("buyer")), key=lambda e: e.created_at
    )
    months = sorted(datetime.strptime(p, "%Y-%m").date() for p in skipped)
    assert first.names_previous == SEP, first.notice
    # The buyer reads which summaries did not go, why, their hours and that it may ask them.
    assert "ne sont pas parties : le service était interrompu." in first.notice, first.notice
    assert "octobre 2026 : 120 h" in first.notice and "novembre 2026 : 80 h" in first.notice
    assert "sont comprises dans le cumul ; je vous les envoie sur simple demande." in first.notice
    (facilitator,) = [
        e for e in sent_after if e.recipient == "facilitator" and e.month == first.month
    ]
    for month in months:
        assert f"clauses summary --month {month:%Y-%m}" in facilitator.notice, facilitator.notice
    assert verify_database(app).findings == ()


def test_a_late_arrival_a_correction_and_a_cancellation_reconcile(
    app: App, settings: Settings
) -> None:
    lot = a_lot(app, "Bâtiments Gascons SARL", "Charpentes de l'Arrats")

    def second(a: App, at: datetime, month: date, figure: str) -> None:
        # The co-contractor's declaration, through the real service.
        other = Lot(lot.clause_id, (lot.company_ids[1],), lot.buyer_id)
        declare(a, other, month, at, figure)

    def cancel(a: App, at: datetime) -> None:
        with a.transaction() as session:
            cancel_declaration(
                session,
                clause_id=lot.clause_id,
                company_id=lot.company_ids[1],
                month=OCT,
                reason="déclarée par erreur",
                actor="test",
                now=at,
                settings=settings,
                publish=a.publish,
            )

    simulate(
        app,
        SEP,
        date(2027, 1, 26),
        actions=[
            on(date(2026, 10, 5), "sep", lambda a, at: declare(a, lot, SEP, at, "35")),
            on(date(2026, 10, 6), "sep-2", lambda a, at: second(a, at, SEP, "10")),
            on(date(2026, 11, 5), "oct", lambda a, at: declare(a, lot, OCT, at, "200")),
            on(date(2026, 11, 6), "oct-2", lambda a, at: second(a, at, OCT, "44")),
            # November's second declaration arrives after November's summary (22 December).
            on(date(2026, 12, 5), "nov", lambda a, at: declare(a, lot, NOV, at, "150")),
            on(date(2027, 1, 4), "nov-late", lambda a, at: second(a, at, NOV, "12.5")),
            # October corrected, October's second cancelled, both after November's summary.
            on(
                date(2027, 1, 6),
                "oct-again",
                lambda a, at: declare(a, lot, OCT, at, "180", again=True),
            ),
            on(date(2027, 1, 7), "oct-2-cancelled", cancel),
            on(date(2027, 1, 8), "dec", lambda a, at: declare(a, lot, DEC, at, "90")),
        ],
    )
    emails = read_all(app)
    assert reconciles(emails) >= 6
    (december,) = [e for e in emails if e.key == f"summary:2026-12:buyer:{lot.buyer_id}"]
    notice = december.notice
    assert notice.startswith(
        "Depuis ma synthèse de novembre 2026 (envoyée le 22 décembre 2026), 3 déclarations des "
        "mois qu'elle couvrait ont été corrigées, annulées ou sont arrivées en retard ; le "
        "cumul en tient compte :"
    ), notice
    assert "a été corrigée le 6 janvier 2027 : 200 h → 180 h" in notice
    with app.transaction() as session:
        label = lot_labels(session, [lot.clause_id])[lot.clause_id]  # « M-1 lot 1 – Gros œuvre »
    assert f"Charpentes de l'Arrats ({label})" in notice
    assert "a été annulée le 7 janvier 2027 : ses 44 h ne sont plus comptées" in notice
    assert "est arrivée le 4 janvier 2027 : 12,50 h." in notice
    assert december.listed_hours() == Decimal("-20") - 44 + Decimal("12.5")
    assert verify_database(app).findings == ()


def test_a_summary_that_never_left_is_not_the_previous_one(app: App) -> None:
    lot = a_lot(app)
    simulate(
        app,
        SEP,
        date(2026, 11, 30),
        actions=[
            on(date(2026, 10, 5), "sep", lambda a, at: declare(a, lot, SEP, at, "35")),
            on(date(2026, 11, 5), "oct", lambda a, at: declare(a, lot, OCT, at, "120")),
        ],
    )
    with app.transaction() as session:
        # October's summary to the buyer was given up (its address refused it for good).
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.key == f"summary:2026-10:buyer:{lot.buyer_id}")
            .values(state=OutboxState.DEAD.value)
        )
    simulate(
        app,
        date(2026, 12, 1),
        date(2026, 12, 28),
        actions=[on(date(2026, 12, 5), "nov", lambda a, at: declare(a, lot, NOV, at, "50"))],
    )
    emails = read_all(app)
    assert reconciles(emails) >= 3
    (november,) = [e for e in emails if e.key == f"summary:2026-11:buyer:{lot.buyer_id}"]
    assert november.names_previous == SEP, november.notice
    assert november.notice == (
        "Depuis ma synthèse de septembre 2026 (envoyée le 22 octobre 2026), vous n'avez pas "
        "reçu de synthèse d'octobre 2026 ; ses heures (octobre 2026 : 120 h) sont comprises "
        "dans le cumul."
    ), november.notice
    (facilitator,) = [e for e in emails if e.key == "summary:2026-11:facilitator"]
    assert "Depuis ma synthèse" not in facilitator.notice  # its October one left
