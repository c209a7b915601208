"""A company renamed after it declared keeps its history (user trial: « GIB Insertion » renamed
« GIB Insertion (EI) » for its Kbis broke the audit, the monthly summaries and their replay).

The lot's history rows told a declaration's company by the name in their text, with a fallback
to « the only company that declared that month » once the name matched none: after the rename,
the March summary read a late declaration as « arrivée le 5 avril : 70 h » (its first recording
and its correction lost), April's cumul lost 70 h without a word of the cancellation, the audit
found 54 problems, and another company of the lot got the renamed company's rows. The rows now
keep the company's number (``clause_history.company_id``), and the older rows are matched by
every name the company had.

The same reading in the digest (trial finding 2): a correction made online, then cancelled by
the facilitator and declared again, was still listed « À faire : … la valider », whose command
would have validated the new declaration.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from tests.conftest import Clock
from tests.integration._ladders import Lot, make_lot
from tests.integration.test_declaration_howto import lot_01
from tests.integration.test_digest_online_corrections import _digest_text, _people
from tests.integration.test_ladder_scenarios import paris
from tests.integration.test_online_declaration import PARIS, call_link, called_territory
from tests.integration.test_summary_replay_after_correction import summary_cli
from tests.text import squash
from workflow.adapters.orm import Clause, ClauseHistory, OutboxMessage, Participant
from workflow.app.audit import verify_database
from workflow.app.clause_corrections import cancel_declaration
from workflow.app.corrections import edit_company
from workflow.app.online_declarations import declare_online
from workflow.bootstrap import App
from workflow.domain.vocabulary import ContractType, DeliveryMode
from workflow.services.declaration_facts import load_declarations
from workflow.services.declarations import LineInput, record_counting
from workflow.services.digest import queue_daily_digest
from workflow.services.ticks import TimedAction, simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

FEB, MAR, APR = date(2027, 2, 1), date(2027, 3, 1), date(2027, 4, 1)
GASCONS, GIB, RENAMED = "Bâtiments Gascons SARL", "GIB Insertion", "GIB Insertion (EI)"


def action(moment: datetime, label: str, run: Callable[[App, datetime], None]) -> TimedAction:
    return TimedAction(at=moment, label=label, run=run)


def declaring(
    lot: Lot, company: int, month: date, hours: dict[str, str], *, replace: bool = False
) -> Callable[[App, datetime], None]:
    def run(app: App, at: datetime) -> None:
        with app.transaction() as session:
            people = {
                p.reference: p.id
                for p in session.scalars(
                    select(Participant).where(Participant.reference.in_(list(hours)))
                )
            }
            for reference in hours:
                if reference not in people:
                    person = Participant(
                        reference=reference, criterion="long_term_jobseeker", created_at=at
                    )
                    session.add(person)
                    session.flush()
                    people[reference] = person.id
            record_counting(
                session,
                clause_id=lot.clause_id,
                company_id=lot.company_ids[company],
                month=month,
                lines=[
                    LineInput(people[r], Decimal(h), DeliveryMode.DIRECT_HIRING, ContractType.CDD)
                    for r, h in hours.items()
                ],
                actor="Facilitatrice",
                now=at,
                source="relevé",
                publish=app.publish,
                replace=replace,
                correction_reason="correction" if replace else None,
            )

    return run


def renaming(company_id: int) -> Callable[[App, datetime], None]:
    def run(app: App, at: datetime) -> None:
        edit_company(app, company_id, name=RENAMED, reason="Kbis")

    return run


def cancelling(lot: Lot, company: int, month: date) -> Callable[[App, datetime], None]:
    def run(app: App, at: datetime) -> None:
        cancel_declaration(
            app,
            clause=lot.clause_id,
            company=lot.company_ids[company],
            month=month,
            reason="erreur",
        )

    return run


def summary_email(app: App, month: date) -> OutboxMessage:
    with app.transaction() as session:
        found = session.scalars(
            select(OutboxMessage).where(OutboxMessage.key.like(f"summary:{month:%Y-%m}:buyer:%"))
        ).one()
        session.expunge(found)
    return found


def since_last(text: str) -> str:
    """The « Depuis ma synthèse … » sentence of a summary, as one line."""
    flat = squash(text.replace("\u00a0", " "))
    start = flat.index("Depuis ma synthèse")
    return flat[start : flat.index(" - ", start)]


def cumul(text: str) -> Decimal:
    flat = squash(text.replace("\u00a0", " ").replace("\u202f", ""))
    head = "Heures cumulées depuis le début : "
    figure = flat[flat.index(head) + len(head) :].split(" h", 1)[0]
    return Decimal(figure.replace(",", "."))


def headline(text: str) -> list[str]:
    """The figures made of totals, which the history keeps for every moment (the participants'
    lines of a cancelled declaration are gone: the replay says so)."""
    heads = ("Heures réalisées dans le mois", "Déclarations de", "Heures cumulées", "Rythme à fin")
    return [
        line.strip()
        for line in text.replace("\u00a0", " ").replace("\u202f", " ").splitlines()
        if line.startswith("- ") and line[2:].startswith(heads)
    ]


def problems(app: App) -> list[str]:
    report = verify_database(app)
    assert report.summaries > 0
    return [str(finding) for finding in report.findings]


def test_a_renamed_company_keeps_its_history_in_summaries_replays_and_audit(
    app: App, settings: Settings, clock: Clock
) -> None:
    """GIB Insertion declares February late on 2 April (60,25 h), corrects it on 5 April
    (70 h), is renamed « GIB Insertion (EI) » that day; its February is cancelled on 5 May. Its
    rows stay its own: March's summary tells the arrival and the correction, April's the
    cancellation, each cumul is the previous one plus the month and the changes listed, the
    replay of March gives its email, Bâtiments Gascons (which declared February too) gets none
    of GIB's rows, and the audit finds nothing after the rename."""
    lot = make_lot(
        app,
        start=date(2027, 1, 4),
        end=date(2027, 9, 30),
        companies=(GASCONS, GIB),
        at=paris(date(2027, 1, 4), 8),
    )
    gascons, gib = lot.company_ids
    with app.transaction() as session:
        where = f"{session.get_one(Clause, lot.clause_id).market.reference} lot 1"
    before_cancel = [
        action(paris(date(2027, 2, 3), 10), "jan A", declaring(lot, 0, date(2027, 1, 1), {"P-0101": "100"})),
        action(paris(date(2027, 2, 3), 11), "jan B", declaring(lot, 1, date(2027, 1, 1), {"P-0201": "35"})),
        action(paris(date(2027, 3, 3), 10), "feb A", declaring(lot, 0, FEB, {"P-0101": "110.75"})),
        action(paris(date(2027, 4, 2), 8), "feb B", declaring(lot, 1, FEB, {"P-0201": "40", "P-0202": "20.25"})),
        action(paris(date(2027, 4, 3), 10), "mar A", declaring(lot, 0, MAR, {"P-0101": "120"})),
        action(paris(date(2027, 4, 5), 10), "feb B again", declaring(lot, 1, FEB, {"P-0201": "40", "P-0202": "30"}, replace=True)),
        action(paris(date(2027, 4, 5), 10, 10), "rename", renaming(gib)),
        action(paris(date(2027, 4, 6), 10), "mar B", declaring(lot, 1, MAR, {"P-0201": "50"})),
    ]  # fmt: skip
    simulate(app, date(2027, 1, 4), date(2027, 5, 4), actions=before_cancel, dispatch=False)

    # The rename alone: the audit reads every summary sent as it was (the trial: 54 problems).
    assert problems(app) == []
    february, march = summary_email(app, FEB), summary_email(app, MAR)
    assert since_last(march.body_text) == (
        "Depuis ma synthèse de février 2027 (établie le 22 mars 2027), la déclaration de "
        f"février 2027 de {RENAMED} (M-1 lot 1 – Gros œuvre) est arrivée le 2 avril 2027 "
        "(60,25 h), corrigée le 5 avril 2027 : 70 h, comptées dans le cumul."
    ).replace("M-1 lot 1", where)
    # February's cumul, March's 170 h, February's 70 h arrived since.
    assert cumul(march.body_text) == cumul(february.body_text) + 170 + 70

    after_cancel = [
        action(paris(date(2027, 5, 5), 9, 20), "cancel feb B", cancelling(lot, 1, FEB)),
        action(paris(date(2027, 5, 6), 10), "apr A", declaring(lot, 0, APR, {"P-0101": "90"})),
        action(paris(date(2027, 5, 6), 11), "apr B", declaring(lot, 1, APR, {"P-0201": "45"})),
    ]  # fmt: skip
    simulate(app, date(2027, 5, 5), date(2027, 6, 4), actions=after_cancel, dispatch=False)

    april = summary_email(app, APR)
    assert since_last(april.body_text) == (
        "Depuis ma synthèse de mars 2027 (établie le 22 avril 2027), la déclaration de "
        f"février 2027 de {RENAMED} (M-1 lot 1 – Gros œuvre) a été annulée le 5 mai 2027 : "
        "ses 70 h ne sont plus comptées ; le cumul en tient compte."
    ).replace("M-1 lot 1", where)
    # March's cumul, April's 135 h, February's 70 h cancelled.
    assert cumul(april.body_text) == cumul(march.body_text) + 135 - 70

    # The cancellation asked February again with a new call (its call of March, reminders and
    # alert never left the outbox: the declaration withdrew them): the summaries written before
    # say it as it was then, « manquante » in February's, « arrivée » late in March's.
    assert problems(app) == []

    # The replay of March at its moment gives its email's sentence and figures.
    clock.set(paris(date(2027, 6, 4), 12))
    replay = summary_cli(
        settings,
        clock,
        "--month",
        "2027-03",
        "--buyer",
        str(lot.buyer_id),
        "--now",
        march.created_at.isoformat(),
    )
    assert headline(replay) == headline(march.body_text), replay
    assert (
        f"- {RENAMED}, février 2027, clause n° {lot.clause_id} : 70 h alors, annulée le 5 mai 2027"
        in (replay)
    ), replay

    # The reminder of February asked again tells when the month cancelled had come and when it
    # was corrected, as the cancellation's email did: its rows written before the rename are
    # GIB's all the same.
    with app.transaction() as session:
        bodies = session.scalars(
            select(OutboxMessage.body_text).where(
                OutboxMessage.key.like(f"reminder:{lot.clause_id}:{gib}:%2027-02%")
            )
        )
        said = [squash(body.replace("\u00a0", " ")) for body in bodies]
        reminders = [r for r in said if "j'ai annulé la déclaration" in r]
    assert reminders, "no reminder of February asked again"
    received = ", reçue le 2 avril 2027 et corrigée le 5 avril 2027 (motif : « erreur »)"
    assert all(received in r for r in reminders), reminders

    # Each company's own rows: Bâtiments Gascons' February has its one recording, GIB's
    # cancelled February its two, under GIB's number; and so with the rows as written before
    # they kept the company's number (0029), matched by the names GIB had.
    for numbered in (True, False):
        with app.transaction() as session:
            if not numbered:
                session.execute(update(ClauseHistory).values(company_id=None))
            facts = load_declarations(session)
            [gascons_feb] = [
                f for f in facts.values() if f.company_id == gascons and f.month == FEB
            ]
            assert [r.hours for r in gascons_feb.recordings] == [Decimal("110.75")]
            [gib_feb] = facts.cancelled
            assert (gib_feb.company_id, gib_feb.company) == (gib, RENAMED)
            assert [r.hours for r in gib_feb.recordings] == [Decimal("60.25"), Decimal(70)]
            if numbered:
                rows = session.execute(
                    select(ClauseHistory.event, ClauseHistory.company_id).where(
                        ClauseHistory.event.in_(["declaration", "declaration_cancelled"])
                    )
                ).all()
                assert rows and all(company in (gascons, gib) for _, company in rows), rows


def test_a_correction_cancelled_then_declared_again_is_not_to_validate(
    app: App, clock: Clock
) -> None:
    """Trial finding 2: the holder corrected April online, the facilitator cancelled it, the
    holder declared it again (140 h). The next digest said « a corrigé en ligne … À faire :
    Vérifier la déclaration corrigée, puis la valider (clauses declaration validate …) »: the
    command would have validated the 140 h declared since, which nobody checked. It now says
    the correction was cancelled and the month declared again, with no command."""
    called_territory(app, clock)  # Monday 4 May 2026, 09:00: April called
    clause_id, holder_id, _ = lot_01(app)
    link = call_link(app, clause_id, holder_id).rsplit("/", 1)[1]

    clock.set(datetime(2026, 5, 4, 10, 0, tzinfo=PARIS))
    declare_online(app, link, _people("100", "10.75"), zero=False)
    clock.set(datetime(2026, 5, 4, 15, 30, tzinfo=PARIS))
    declare_online(app, link, _people("141,67", "10"), zero=False)
    clock.set(datetime(2026, 5, 4, 16, 0, tzinfo=PARIS))
    cancel_declaration(
        app, clause=clause_id, company=holder_id, month=date(2026, 4, 1), reason="doublon"
    )
    clock.set(datetime(2026, 5, 4, 16, 30, tzinfo=PARIS))
    declare_online(app, link, _people("130", "10"), zero=False)

    tuesday = datetime(2026, 5, 5, 8, 0, tzinfo=PARIS)
    clock.set(tuesday)
    assert queue_daily_digest(app, tuesday) == 1
    text = _digest_text(app, "2026-05-05")
    assert text is not None
    section = text.split("== Déclarations corrigées en ligne par les entreprises (1) ==")[1]
    section = section.split(" == ")[0]
    assert "a corrigé en ligne sa déclaration d'avril 2026 le 4 mai 2026 : 110,75 h → " in section
    assert (
        "J'ai annulé cette déclaration le 4 mai 2026 ; le mois a été déclaré de nouveau le "
        "4 mai 2026 : 140 h."
    ) in section, section
    assert f"--company {holder_id} --month 04/2026" not in text, text
    assert "Rien à valider" in section, section
