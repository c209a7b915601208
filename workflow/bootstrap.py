"""The one place where real IO is built: settings, database, templates, mail transport, clock.

Entry points call ``bootstrap()`` once and pass the resulting ``App`` around; tests build one with
their own settings (an SQLite file in a temporary folder, or PostgreSQL) and a memory transport.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from workflow.adapters.db import Keepalives, make_engine, make_session_factory
from workflow.adapters.mail import MailTransport, build_transport
from workflow.adapters.templates import TemplateRenderer
from workflow.domain.events import (
    AwardCorrected,
    ClauseAdvanced,
    ClauseAwarded,
    ClauseIdentified,
    ClauseReopened,
    CompaniesMerged,
    CorrespondentAdded,
    DeclarationCancelled,
    DeclarationRecorded,
    DeclarationsRecorded,
    EndDateCorrected,
    FinalReportRecorded,
    PlannedEndMoved,
)

# Re-exported: entry points and tests take the App from here, with ``bootstrap()``.
from workflow.runtime import App as App
from workflow.runtime import EventHandler as EventHandler
from workflow.runtime import Handlers, utc_now
from workflow.services import (
    award_company_notices,
    cancellation_notices,
    late_declaration_notices,
    notices,
    planned_end_company_notices,
    receipt_withdrawals,
    reminder_emails,
    reminders,
)
from workflow.settings import Settings, load_settings


def default_handlers() -> Handlers:
    """Every event and who hears of it: the one place where reactions are wired."""
    return {
        ClauseIdentified: [notices.notify_identified],
        # A lot that starts, is called again or whose end moved later has its companies armed
        # in the same transaction: those never armed, and those parked past the old end (the
        # pass itself sweeps for parties never armed only once a day).
        # A finish, a termination, a suspension or a resumption: the receipts still waiting
        # are written again (the next month they announce, the months they count).
        ClauseAdvanced: [
            notices.notify_advanced,
            reminders.rearm_lot,
            receipt_withdrawals.rewrite_after_advance,
        ],
        ClauseAwarded: [notices.welcome_award],
        FinalReportRecorded: [notices.notify_final_report],
        # The receipt leaves (an older one of the same declaration still waiting is withdrawn:
        # its figures were replaced), and what was still to remind the company of that month
        # is withdrawn; a buyer whose alert named the month is told it has arrived.
        DeclarationRecorded: [
            notices.acknowledge_declaration,
            receipt_withdrawals.withdraw_replaced,
            receipt_withdrawals.rewrite_after,
            reminder_emails.withdraw_answered,
            late_declaration_notices.tell_buyer,
        ],
        # The recording as a whole, once every month's handlers above ran: a buyer whose alert
        # named months received together (a file, the company's page) is told once, of all.
        DeclarationsRecorded: [late_declaration_notices.tell_buyer],
        ClauseReopened: [
            notices.notify_reopened,
            reminders.rearm_lot,
            receipt_withdrawals.rewrite_after_reopened,
        ],
        # The buyer's corrected notice and the newcomers' welcomes first; then each company
        # already welcomed whose welcome no longer holds (dates, its role or hours). Corrected
        # during the works, the companies joining are armed from their first month (and every
        # company after a start moved, before any call), in the correction's transaction.
        AwardCorrected: [
            notices.correct_award,
            reminders.rearm_lot,
            award_company_notices.tell_companies,
            receipt_withdrawals.rewrite_after_award_corrected,
        ],
        # A company with nobody to write to gets a correspondent: its waiting parties are armed.
        CorrespondentAdded: [reminders.arm_company],
        CompaniesMerged: [reminders.arm_company],
        # The companies too: their welcome's calendar no longer holds (after the re-arming,
        # whose calls their email announces).
        PlannedEndMoved: [
            reminders.rearm_lot,
            notices.notify_planned_end,
            planned_end_company_notices.tell_companies,
            receipt_withdrawals.rewrite_after_planned_end,
        ],
        # An end date corrected later: the companies the finish parked are called again from
        # the first month owed again (their stopped ladders resume in the correction itself).
        EndDateCorrected: [
            reminders.rearm_lot,
            notices.notify_end_corrected,
            receipt_withdrawals.rewrite_after_end_corrected,
        ],
        # A receipt already sent stays the company's, one still waiting is withdrawn (it would
        # confirm what was cancelled); the company is told why and by when to declare the month
        # again (after the withdrawal: the email says whether its receipt will come), and its
        # ladder takes up again (``cancel_declaration`` resumes it).
        # The buyer's notice that the month arrived after its alert, not left yet, is withdrawn.
        DeclarationCancelled: [
            receipt_withdrawals.withdraw_cancelled,
            late_declaration_notices.withdraw_cancelled,
            # One that left (or may have): the buyer is told the month is missing again.
            late_declaration_notices.tell_cancelled,
            receipt_withdrawals.rewrite_after,
            cancellation_notices.tell_company,
        ],
    }


def bootstrap(
    settings: Settings | None = None,
    *,
    clock: Callable[[], datetime] = utc_now,
    handlers: Handlers | None = None,
    transport: MailTransport | None = None,
) -> App:
    settings = settings or load_settings()
    engine = make_engine(
        settings.database_url,
        keepalives=Keepalives(
            idle=settings.db_keepalives_idle,
            interval=settings.db_keepalives_interval,
            count=settings.db_keepalives_count,
        ),
    )
    return App(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        renderer=TemplateRenderer(signature=settings.signature),
        transport=transport or build_transport(settings),
        clock=clock,
        handlers=default_handlers() if handlers is None else handlers,
    )
