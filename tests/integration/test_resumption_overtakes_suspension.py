"""A suspension resumed before its emails left: withdrawn, the resumption's email says both
(SQLite and PostgreSQL, through the real outbox and the file transport).

The defect: the service stopped (or the mail held), the lot suspended on Thursday 7 May 2026 at
15:00 and resumed on Monday 11 May at 10:00; at the next delivery the companies and the buyer
got, in the same minute, the suspension's email (« vous ne recevrez ni appel à déclarer ni
rappel ») and the resumption's (« vous recevrez l'appel à déclarer » on 1 June). Now the
suspension's emails still waiting are withdrawn in the resumption's transaction, their reason
kept in the email log, and the resumption's email to each of those readers says what they never
read: the suspension, its day and its reason, and the resumption. One that may have left
(uncertain) stays, and its reader's resumption is written as ever.
"""

from __future__ import annotations

import email
import email.policy
from datetime import date, timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import Lot, declare, make_lot
from tests.integration.test_ladder_scenarios import paris
from tests.text import squash, visible
from workflow.adapters.mail.files import FileTransport
from workflow.adapters.orm import OutboxMessage
from workflow.bootstrap import App
from workflow.domain.stages import ClauseEvent
from workflow.errors import InputRefused
from workflow.services.audit import verify
from workflow.services.clauses import advance_clause
from workflow.services.dispatch import dispatch_due
from workflow.services.outbox_corrections import retry_email
from workflow.services.ticks import run_pass
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

NBSP = "\u00a0"
SUSPENDED_AT = paris(date(2026, 5, 7), 15)
RESUMED_AT = paris(date(2026, 5, 11), 10)
WITHDRAWN = (
    "Retiré : le lot a repris le 11 mai 2026 avant le départ de ce courriel ; l'avis de "
    "reprise dit la suspension et ses dates."
)
SUSPENSION_KINDS = ("company_lot_suspended", "notice_suspended")


def advance(app: App, lot: Lot, event: ClauseEvent, at: object, reason: str | None) -> None:
    with app.transaction() as session:
        advance_clause(
            session, lot.clause_id, event, actor="test", reason=reason, now=at, publish=app.publish
        )


def a_lot_suspended_and_nothing_left(app: App, settings: Settings) -> Lot:
    """March declared by both companies, April by the co-contractor only (called on 4 May, due
    11 May); suspended on 7 May at 15:00, its emails still in the outbox."""
    app.transport = FileTransport(settings.mail_dir)
    lot = make_lot(
        app,
        start=date(2026, 3, 2),
        end=date(2026, 12, 31),
        companies=("Titulaire", "Cotraitant"),
        at=paris(date(2026, 3, 2), 8),
    )
    run_pass(app, paris(date(2026, 4, 1), 9))
    for company in (0, 1):
        declare(app, lot, date(2026, 3, 1), paris(date(2026, 4, 3), 10), company)
    run_pass(app, paris(date(2026, 5, 4), 9))
    declare(app, lot, date(2026, 4, 1), paris(date(2026, 5, 5), 10), 1)
    advance(app, lot, ClauseEvent.SUSPEND, SUSPENDED_AT, "Fouilles archéologiques")
    assert [r.state for r in rows(app, *SUSPENSION_KINDS)] == ["pending"] * 3
    return lot


def rows(app: App, *kinds: str) -> list[OutboxMessage]:
    with app.transaction() as session:
        found = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind.in_(kinds)).order_by(OutboxMessage.id)
        ).all()
        session.expunge_all()
        return list(found)


def received(settings: Settings, kind: str) -> list[EmailMessage]:
    """The emails of ``kind`` the dispatcher wrote to the mail folder, as a mail client reads
    them."""
    folder = settings.mail_dir / kind
    return [
        email.message_from_bytes(
            path.read_bytes(), _class=EmailMessage, policy=email.policy.default
        )
        for path in sorted(folder.glob("*.eml"))
    ]


def plain(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return squash(body.get_content())


def html(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("html",))
    assert body is not None
    return squash(visible(body.get_content())).replace(NBSP, " ")


def to_company(messages: list[EmailMessage], n: int) -> EmailMessage:
    """The email to the lot's company ``n`` (``make_lot``'s correspondents)."""
    [found] = [m for m in messages if f"-{n}@example.org" in str(m["To"])]
    return found


def test_a_suspension_resumed_before_its_emails_left_is_told_by_the_resumption(
    app: App, clock: Clock, settings: Settings
) -> None:
    lot = a_lot_suspended_and_nothing_left(app, settings)
    clock.set(RESUMED_AT)
    advance(app, lot, ClauseEvent.RESUME, RESUMED_AT, "Fouilles terminées")

    # In the resumption's transaction: each suspension email withdrawn, its reason kept.
    withdrawn = rows(app, *SUSPENSION_KINDS)
    assert [(r.kind, r.state, r.last_error) for r in withdrawn] == [
        ("notice_suspended", "cancelled", WITHDRAWN),
        ("company_lot_suspended", "cancelled", WITHDRAWN),
        ("company_lot_suspended", "cancelled", WITHDRAWN),
    ]

    # The next delivery (``clauses mail send``): only the resumption's emails leave.
    dispatch_due(app, RESUMED_AT + timedelta(minutes=5))
    assert received(settings, "company_lot_suspended") == []
    assert received(settings, "notice_suspended") == []
    companies = received(settings, "company_lot_resumed")
    assert len(companies) == 2
    holder, partner = to_company(companies, 0), to_company(companies, 1)

    for message in (holder, partner):
        assert str(message["Subject"]).startswith(
            "Suspension et reprise de la clause d'insertion : prochain appel à déclarer le "
            "1er juin 2026 – "
        ), message["Subject"]
        text = plain(message)
        assert (
            f"La clause sociale d'insertion du lot 1 «{NBSP}Gros œuvre{NBSP}» a été suspendue "
            "le 7 mai 2026, puis a repris le 11 mai 2026."
        ) in text, text
        assert "Motif de la suspension : Fouilles archéologiques" in text, text
        assert (
            "Mon courriel vous annonçant la suspension n'était pas encore parti lors de la "
            "reprise : je ne vous l'ai pas envoyé, ce message vous dit l'une et l'autre."
        ) in text, text
        assert "Précision sur la reprise : Fouilles terminées" in text, text
        # What the resumption always says: the next call, its months and due date.
        assert "Le 1er juin 2026, vous recevrez l'appel à déclarer" in text, text
        # Neither the suspension's promise nor the « suspendue depuis » of a reader who knew.
        assert "ni appel à déclarer ni rappel" not in text
        assert "reprend à compter du" not in text
        said = html(message)
        assert "a été suspendue le 7 mai 2026, puis a repris le 11 mai 2026." in said, said
        assert "Motif de la suspension : Fouilles archéologiques" in said, said
    # The holder still owes April, with the date the suspension pushed.
    assert (
        "- avril 2026 : à rendre au plus tard le 13 mai 2026 ; prochain rappel le 19 mai 2026"
        in plain(holder)
    ), plain(holder)
    assert "avril 2026" not in plain(partner)

    [notice] = received(settings, "notice_resumed")
    assert str(notice["Subject"]).startswith("Suspension et reprise de la clause d'insertion – ")
    told = plain(notice)
    assert (
        f"La clause sociale d'insertion du lot 1 «{NBSP}Gros œuvre{NBSP}» a été suspendue le "
        "7 mai 2026, puis a repris le 11 mai 2026."
    ) in told, told
    assert "Motif de la suspension : Fouilles archéologiques" in told, told
    assert "Précision sur la reprise : Fouilles terminées" in told, told
    assert "Bonne nouvelle" not in told
    assert "Le prochain appel à déclarer partira le 1er juin 2026" in told, told
    assert "a été suspendue le 7 mai 2026, puis a repris le 11 mai 2026." in html(notice)

    # « Renvoyer » a withdrawn suspension email is refused, with the reason.
    with app.transaction() as session, pytest.raises(InputRefused, match="le lot a repris le"):
        retry_email(session, withdrawn[1].id, now=RESUMED_AT + timedelta(minutes=6))
    # A later delivery sends nothing more; the audit finds nothing to say.
    dispatch_due(app, RESUMED_AT + timedelta(minutes=10))
    assert len(received(settings, "company_lot_resumed")) == 2
    assert len(received(settings, "notice_resumed")) == 1
    assert received(settings, "company_lot_suspended") == []
    report = verify(app)
    assert report.ok, report.findings


def test_a_suspension_email_that_may_have_left_stays_and_its_reader_reads_the_resumption(
    app: App, clock: Clock, settings: Settings
) -> None:
    """The holder's suspension email was handed to the server, no answer (uncertain): it may
    have arrived; it stays, and the holder's resumption says « suspendue depuis le … » as ever.
    The co-contractor's and the buyer's, still waiting, are withdrawn."""
    lot = a_lot_suspended_and_nothing_left(app, settings)
    with app.transaction() as session:
        [uncertain] = [
            r
            for r in session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == "company_lot_suspended")
            )
            if "-0@example.org" in r.recipients
        ]
        uncertain.state = "uncertain"
        uncertain_id = uncertain.id
    clock.set(RESUMED_AT)
    advance(app, lot, ClauseEvent.RESUME, RESUMED_AT, None)
    states = {r.id: (r.state, r.last_error) for r in rows(app, *SUSPENSION_KINDS)}
    assert states.pop(uncertain_id)[0] == "uncertain"
    assert sorted(states.values()) == [("cancelled", WITHDRAWN)] * 2

    dispatch_due(app, RESUMED_AT + timedelta(minutes=5))
    companies = received(settings, "company_lot_resumed")
    holder, partner = plain(to_company(companies, 0)), plain(to_company(companies, 1))
    assert "suspendue depuis le 7 mai 2026, reprend à compter du 11 mai 2026." in holder, holder
    assert "Motif de la suspension" not in holder and "Mon courriel" not in holder
    assert str(to_company(companies, 0)["Subject"]).startswith("Reprise de la clause")
    assert "a été suspendue le 7 mai 2026, puis a repris le 11 mai 2026." in partner, partner
    report = verify(app)
    assert report.ok, report.findings


def test_a_resumption_written_again_after_a_stop_still_tells_the_suspension(
    app: App, clock: Clock, settings: Settings
) -> None:
    """Resumed on 20 May while the service is stopped, nothing having left since the
    suspension; restarted on 15 June: the resumption's emails, written again with the calls
    and reminders of then (``stale_promises``), still say the suspension never read."""
    lot = a_lot_suspended_and_nothing_left(app, settings)
    resumed = paris(date(2026, 5, 20), 10)
    clock.set(resumed)
    advance(app, lot, ClauseEvent.RESUME, resumed, None)
    restart = paris(date(2026, 6, 15), 9)
    clock.set(restart)
    run_pass(app, restart)
    run_pass(app, restart + timedelta(minutes=1))

    assert received(settings, "company_lot_suspended") == []
    assert received(settings, "notice_suspended") == []
    companies = received(settings, "company_lot_resumed")
    [notice] = received(settings, "notice_resumed")
    assert len(companies) == 2
    for message in (*companies, notice):
        text = plain(message)
        assert "a été suspendue le 7 mai 2026, puis a repris le 20 mai 2026." in text, text
        assert "Motif de la suspension : Fouilles archéologiques" in text, text
        # Written again: the call of 1 June, past, is not named.
        assert "1er juin 2026" not in text, text
    rewritten = rows(app, "company_lot_resumed", "notice_resumed")
    assert sorted((r.key.endswith("~2"), r.state) for r in rewritten) == [
        (False, "cancelled"),
        (False, "cancelled"),
        (False, "cancelled"),
        (True, "sent"),
        (True, "sent"),
        (True, "sent"),
    ]
    report = verify(app)
    assert report.ok, report.findings
