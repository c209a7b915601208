"""A declaration the facilitator records for a month not asked of its company counts among the
summary's expected and received declarations, as ``declaration list`` counts it.

User trial (6 December 2026): after ``clause company-left 1 --company 3 --last-month 10/2026``
the facilitator imported that company's November. The summary of November said « Heures
réalisées dans le mois : 210 h » (its 30 h included) but « Déclarations de novembre 2026 :
toutes reçues (2 sur 2) », while ``declaration list --month 11/2026`` said « 3 déclarations
attendues : 3 déclarées ». The same for a company added during the works ``--from 01/2027``
whose December the facilitator recorded. Now both say 3 (here 2: one holder per lot), in the
buyer's email, the facilitator's and ``clauses summary``; an email written before, with the
older count, is a remark of the audit, not a problem.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from tests.integration._ladders import Lot, make_lot
from tests.integration.test_company_left_site import _cli
from tests.integration.test_end_date_correction import paris
from tests.integration.test_lot_terminated import plain
from tests.integration.test_summary_truth import Email, figure_lines, summary_emails
from workflow.adapters.orm import Company, Correspondent, OutboxMessage
from workflow.adapters.reports import figure_lines as printed_lines
from workflow.app.audit import verify_database
from workflow.bootstrap import App
from workflow.domain.vocabulary import ContractType, Criterion, DeliveryMode
from workflow.services.declarations import LineInput, record_declaration
from workflow.services.participants import create_participant
from workflow.services.summaries import compile_for
from workflow.services.ticks import TimedAction, simulate

pytestmark = pytest.mark.scenario

OCT, NOV, DEC = (date(2026, m, 1) for m in (10, 11, 12))
END = date(2027, 3, 31)
HOLDER, GONE, JOINER = "Bâtiments Garonne", "Sous-traitant parti", "Charpentes Arrivées"
NOVEMBER, DECEMBER = "Déclarations de novembre 2026", "Déclarations de décembre 2026"


def declare_hours(app: App, lot: Lot, company: int, month: date, at: datetime, hours: str) -> None:
    """A declaration recorded by the facilitator (her channels are not refused a month outside
    the company's months), one participant."""
    with app.transaction() as session:
        person = create_participant(
            session, reference=f"P-{lot.clause_id}-{company}-{month:%m}",
            criterion=Criterion.MINIMUM_INCOME, now=at,
        )  # fmt: skip
        record_declaration(
            session,
            clause_id=lot.clause_id,
            company_id=company,
            month=month,
            lines=[
                LineInput(person.id, Decimal(hours), DeliveryMode.DIRECT_HIRING, ContractType.CDD)
            ],
            actor="test",
            now=at,
            source="test",
            publish=app.publish,
        )


def add_company(app: App, name: str, at: datetime) -> int:
    with app.transaction() as session:
        firm = Company(
            name=name,
            created_at=at,
            correspondents=[Correspondent(name="Jeanne Arrivée", email="jeanne@arrivee.example")],
        )
        session.add(firm)
        session.flush()
        return firm.id


def scenario(app: App) -> tuple[Lot, Lot, int]:
    """Two buyers' lots started in October 2026. Lot A: its subcontractor declares October,
    leaves the site (last month October, recorded on 16 December), and the facilitator records
    its November all the same (30 h). Lot B: a company joins during the works from January 2027
    (recorded on 10 December), and the facilitator records its December (20 h). The holders
    declare every month; the real passes run up to 31 January 2027."""
    lot_a = make_lot(app, start=OCT, end=END, at=paris(OCT, 10), companies=(HOLDER, GONE))
    lot_b = make_lot(app, start=OCT, end=END, at=paris(OCT, 10), companies=(HOLDER,))
    joiner = add_company(app, JOINER, paris(OCT, 10))
    holder_a, gone = lot_a.company_ids
    (holder_b,) = lot_b.company_ids

    def monthly(lot: Lot, company: int, month: date, hours: str) -> TimedAction:
        day = date(month.year + month.month // 12, month.month % 12 + 1, 3)
        return TimedAction(
            paris(day, 11, company % 50),
            f"{lot.clause_id}-{company}-{month:%m}",
            lambda a, at: declare_hours(a, lot, company, month, at, hours),
        )

    def leave(a: App, at: datetime) -> None:
        _cli(a, at, "clause", "company-left", str(lot_a.clause_id), "--company", str(gone),
             "--last-month", "10/2026", "--reason", "part finie")  # fmt: skip

    def join(a: App, at: datetime) -> None:
        _cli(a, at, "clause", "award", str(lot_b.clause_id), "--company", str(holder_b),
             "--start", "01/10/2026", "--end", "31/03/2027", "--co-contractor", str(joiner),
             "--from", "01/2027")  # fmt: skip

    actions = [
        monthly(lot_a, holder_a, OCT, "100"),
        monthly(lot_a, gone, OCT, "40"),
        monthly(lot_b, holder_b, OCT, "50"),
        monthly(lot_a, holder_a, NOV, "120"),
        monthly(lot_b, holder_b, NOV, "60"),
        TimedAction(paris(date(2026, 12, 10), 10), "join", join),
        TimedAction(paris(date(2026, 12, 16), 12), "leave", leave),
        TimedAction(
            paris(date(2026, 12, 16), 12, 10),
            "gone-nov",
            lambda a, at: declare_hours(a, lot_a, gone, NOV, at, "30"),
        ),
        monthly(lot_a, holder_a, DEC, "80"),
        monthly(lot_b, holder_b, DEC, "70"),
        TimedAction(
            paris(date(2027, 1, 5), 15),
            "joiner-dec",
            lambda a, at: declare_hours(a, lot_b, joiner, DEC, at, "20"),
        ),
    ]
    simulate(app, OCT, date(2027, 1, 31), actions=actions)
    return lot_a, lot_b, joiner


def listed(app: App, lot: Lot, month: str, at: datetime) -> tuple[int, int]:
    """``declaration list --clause N --month M`` at ``at``: (expected, declared), from its last
    line (« 2 déclarations attendues : 2 déclarées … »)."""
    out = _cli(app, at, "declaration", "list", "--clause", str(lot.clause_id), "--month", month)
    last = plain(out.strip().splitlines()[-1])
    found = re.match(r"(\d+) déclarations? attendues? : (\d+) déclarées?", last)
    assert found is not None, last
    return int(found.group(1)), int(found.group(2))


def email(app: App, key: str) -> Email:
    (found,) = [e for e in summary_emails(app) if e.key == key]
    return found


def test_a_declaration_outside_the_companys_months_is_expected_and_received(app: App) -> None:
    lot_a, lot_b, _ = scenario(app)
    for lot, month, title, hours in ((lot_a, NOV, NOVEMBER, 150), (lot_b, DEC, DECEMBER, 90)):
        sent = email(app, f"summary:{month:%Y-%m}:buyer:{lot.buyer_id}")
        at = sent.created_at
        # What ``declaration list`` counts for that month at the email's moment: the holder's
        # and the one the facilitator recorded outside the company's months.
        assert listed(app, lot, f"{month:%m/%Y}", at) == (2, 2)
        figures = figure_lines(sent.body_text)
        assert plain(figures[title]) == "toutes reçues (2 sur 2)", figures
        assert plain(figures["Heures réalisées dans le mois"]) == f"{hours} h", figures
        # ``clauses summary`` at that moment, the buyer's scope and the whole territory.
        summary = compile_for(app, month, buyer_id=lot.buyer_id, now=at)
        assert (summary.overall.declarations.expected, summary.overall.declarations.received) == (
            2,
            2,
        )
        assert plain(dict(printed_lines(summary))[title]) == "toutes reçues (2 sur 2)"
        overall = compile_for(app, month, now=at).overall.declarations
        assert (overall.expected, overall.received) == (3, 3)  # the other lot's holder
        facilitator = email(app, f"summary:{month:%Y-%m}:facilitator")
        assert plain(figure_lines(facilitator.body_text)[title]) == "toutes reçues (3 sur 3)"
    # The months asked of nobody are not counted: October of lot B has its holder alone.
    october = compile_for(app, OCT, buyer_id=lot_b.buyer_id, now=paris(date(2027, 1, 31), 12))
    assert october.overall.declarations.expected == 1
    # And the audit finds every email true.
    assert [f.problem for f in verify_database(app).findings] == []


def rewrite(app: App, key: str, body_text: str, body_html: str) -> None:
    """The email's parts as an older service wrote them, which did not keep the rules it wrote
    under (``rules_revision`` NULL): the audit may read it the older way."""
    with app.transaction() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.key == key)
            .values(body_text=body_text, body_html=body_html, rules_revision=None)
        )


def with_count(sent: Email, old: int, new: int) -> tuple[str, str]:
    """The email's text and HTML parts with November's count ``new`` where it says ``old``
    (« toutes reçues (2 sur 2) »: the email has no table of the counts)."""
    said, instead = f"toutes reçues ({old} sur {old})", f"toutes reçues ({new} sur {new})"
    assert sent.body_text.count(said) == 1 and sent.body_html.count(said) == 1
    return sent.body_text.replace(said, instead), sent.body_html.replace(said, instead)


def test_an_email_written_with_the_older_count_is_a_remark(app: App) -> None:
    lot_a, _, _ = scenario(app)
    key = f"summary:2026-11:buyer:{lot_a.buyer_id}"
    sent = email(app, key)
    # As written before 6 December 2026: the November declaration of the company gone was in
    # the hours, not among the expected.
    text, html = with_count(sent, 2, 1)
    assert "toutes reçues (1 sur 1)" in text and text != sent.body_text and html != sent.body_html
    rewrite(app, key, text, html)
    report = verify_database(app)
    assert [f.problem for f in report.findings] == []
    noted = [r.problem for r in report.remarks if "non demandé à son entreprise" in r.problem]
    assert len(noted) == 1, [r.problem for r in report.remarks]
    assert "1 déclaration y était comptée dans les heures, non parmi les attendues" in noted[0]
    # A count neither rule gives is still a problem.
    text, html = with_count(sent, 2, 4)
    rewrite(app, key, text, html)
    found = [f.problem for f in verify_database(app).findings]
    assert found and all(NOVEMBER in f for f in found), found
    with app.transaction() as session:
        assert session.scalar(select(OutboxMessage.body_text).where(OutboxMessage.key == key))
