"""Every monthly summary email, the facilitator's and each buyer's, sent or not: its headline
figures and each cell of its tables, in the text part, are the ones the rows give for its month
as known at the moment it was written (``compile_summary`` at the outbox row's ``created_at``,
the ``now`` it was compiled at: ``queue_email`` stores it); its HTML part says the same as its
text part.

The email stores no figures apart from its bodies, so the text part is read back (the tables
``email_tables`` printed) and compared with the same tables built afresh. One compilation per
email (a handful of aggregate queries), never a query per cell.

Some rows change after a summary for good reasons, and the figures recompiled for its moment
then differ: a declaration corrected since (its row now carries the correction's instant), an
outcome recorded since with a date up to the month's end, an amendment of the hours, an end of
execution, a calendar or an award recorded (or corrected) since, a declaration cancelled since.
A declaration corrected or cancelled moves the outcome tables too: an outcome counts while its
participant has hours on its lot. Such a change leaves a history row; a summary with one in its
scope after it was written has its differences reported as remarks naming the change (and, for a
declaration, what its row says it did to the outcomes: « 1 sortie (P-0007, CDI) n'est plus
comptée … »), not as problems. An outcome dated after the month's end never moves its figures,
even one that supersedes an earlier outcome of the same person on the same lot (a CDI in
September after a short training in March): each participant x lot counts by its latest outcome
dated up to the month's end (``outcome_counts.latest_up_to``), so the summary of April recompiled
after the CDI still says the training, as it did.

Any declaration change after a summary may explain its outcome tables, not only one whose row
says it took an outcome out or put one back: the figures recompiled for the summary's moment
read the declarations known then (``recorded_at`` up to it), and a corrected declaration carries
its correction's instant, so all its lines are unknown then, whoever the correction touched. A
correction of someone else's hours moves the recompiled outcome tables as much as one that took
the person away. So do a row renamed with the same figures (a company or a lot renamed) and a
participants table whose totals agree (a participant's criterion, sex or birth year corrected:
participants have no history).

Some rules changed since older summaries were written; what they said then is a remark naming
the rule, not a problem, in an email that may have been written before the rule only: each
summary's row keeps the number of the latest rule it was written under (``rules_revision``,
numbered by ``domain.summary_rules``), and an older rule's reading applies to it only when that
number is below the rule's; a row written before the rules were kept (``rules_revision`` NULL)
may predate any.
In an email written since, what the older rule said is a problem like any other. (Its moment,
``created_at``, cannot tell: tests, simulations and catch-ups choose it.) A pace judged where none of the month's declarations was due yet
(``_pace_no_longer_judged``). A lot past its planned end, its end not recorded, counted among
the « clauses achevées avant » the month where it is now followed (5 December 2026): the email
is compared again with the same figures as the older rule printed them (``_as_achieved``), and
when that explains differences, they are one remark naming the lots; whatever differs from
those figures too is reported as usual. A terminated lot whose time elapsed was counted up to
its termination day as if it were its planned end (before 5 December 2026): the email is
compared again with those figures (``summaries.as_ended_at_termination``), the same way. A
pace judged on the hours declared alone while declarations of the months it counts were still
owed, where the service now says « rythme à confirmer (2 déclarations non reçues) » (6 December
2026): compared again with what that rule printed (``confirm_pace=False``), after the others.
A lot ended before the month's last day, its end recorded after the month, counted in
« Clauses par étape » in the stage its history said then (before ``STAGE_BY_END``, 6 December
2026; now « suivi et bilan », as « Avancement par clause » reads it): compared again with
those stages (``summaries.as_before_stage_by_end``), first, the same way. An end of execution
corrected since across the month's last day explains a difference in that table.

A declaration recorded by the facilitator for a month not asked of its company (before its first
month on the lot, after its last, spent entirely suspended, after the planned end of a lot whose
real end is not recorded) counts among the month's expected and received since 6 December
2026, as ``declaration list`` counts it; before, only its hours did: the email is compared again
with the older count (``_unasked_uncounted``), and when that explains differences, they are one
remark.

A change of one lot's dates, target or parties explains the figures made of the clauses' lines
(the headline's hours against target, pace and clauses counted, a buyer's row) only when its
own line of « Avancement par clause » moved, or a line naming no lot (``_MovedLots``): a
termination recorded since is named with its lot and its day, never blamed on another lot's
award recorded since (user trial, 5 December 2026).

What an email says above its figures of what happened since its recipient's previous summary
(``summaries.since_last``: the previous summary named, declarations corrected, cancelled or
arrived since, months without a summary) is recomputed for its moment and compared by its
figures (hours, days, years, lots' numbers: the words may be rewritten from one version to the
next, the facts may not) and by what it says late (« en retard », « sans retard »: a company
said late that kept its date is a fact wrong, ``_same_facts``); an email written before
``ARRIVALS_LATE_OR_NOT`` said every arrival « en retard », a remark naming those that were not
(``_on_time_remark``); and the reader's sum is done: the previous email's printed cumul + the
month's hours + the hours listed = the printed cumul. An email written before 6 December 2026,
which said less, is a remark quoting what it would say now. The previous summaries, the months
without a summary and the lots' labels this reads are read once per audit, not once per email
(``_Told.read``).

The declarations of earlier months still expected and not due yet (« Déclarations des mois
précédents attendues, pas encore dues : … ») are one of the figures since 6 December 2026; an
email written before said them in a paragraph below the figures, read back and checked the same
way (``_with_pending_paragraph``); one that says nothing of them, where the data now name some,
is a remark quoting what it would say now (``_pending_unsaid``).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from enum import Enum
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.orm import (
    Buyer,
    Clause,
    ClauseHistory,
    Market,
    Operation,
    OutboxMessage,
)
from workflow.adapters.reports import (
    EARLIER_PENDING_TITLE,
    email_tables,
    figure_lines,
    of_month,
)
from workflow.adapters.templates import french_date, french_month
from workflow.domain import summary_rules
from workflow.domain.french_numbers import french_hours, french_number
from workflow.domain.stages import LABELS as STAGE_LABELS
from workflow.domain.summary import PACE_LABELS, Pace
from workflow.domain.summary_rules import (
    ARRIVALS_LATE_OR_NOT,
    EARLIER_CALLS_TO_COME,
    EARLIER_PENDING_FIGURE,
    PACE_ONLY_WHEN_DUE,
    PACE_TO_CONFIRM,
    PAST_PLANNED_END_FOLLOWED,
    SINCE_LAST_NAMED,
    SINCE_LAST_ZERO_ARRIVALS,
    STAGE_BY_END,
    TERMINATED_LISTED,
    TERMINATION_AGAINST_PLANNED_END,
    UNASKED_COUNTED,
)
from workflow.domain.vocabulary import category_label
from workflow.emails import summaries as summary_email
from workflow.emails.phrases import month_phrase
from workflow.errors import NotFound
from workflow.services import summaries
from workflow.services.audit.as_of import (
    DeclarationKey,
    at_its_moment,
    corrected_or_cancelled,
    declaration_key,
)
from workflow.services.audit.cells import (
    Difference,
    Gap,
    Reference,
    Voices,
    column_totals,
    compare_figures,
    compare_tables,
)
from workflow.services.audit.dates_then import DateHistory, load_date_history, with_dates_then
from workflow.services.audit.findings import CHECK_SUMMARY, Finding, email_subject, local_moment
from workflow.services.audit.reading import (
    SentTable,
    html_parts,
    parse_hours,
    printed_figures,
    text_tables,
)
from workflow.services.audit.receipts import DeclarationFacts, Declarations
from workflow.services.history_companies import Rename, renamed_since
from workflow.services.outbox import OutboxState

if TYPE_CHECKING:
    from workflow.settings import Settings

#: History rows that change what a summary compiled for an earlier moment gives, in French.
CHANGING_EVENTS = {
    "finish": "fin d'exécution",
    "end_date_corrected": "date de fin d'exécution corrigée",
    "outcome": "sortie d'un participant",
    "hours_override": "heures imposées",
    "parameters": "paramètres du calcul",
    "award_recorded": "attribution enregistrée",
    "award_corrected": "attribution corrigée",
    "calendar": "calendrier des déclarations",
    # The planned end moves the time elapsed of every summary before it (user trial: an
    # amendment's « lot set-end » read as 42 problems in summaries sent months earlier).
    "planned_end": "fin prévue changée",
    # A company that left the site is expected no more after its last month (the months it
    # released were missing in a summary sent before its departure was recorded).
    "company_left": "départ d'une entreprise du chantier",
    # A termination (« résilier ») ends the lot on its day: a summary of that month or a later
    # one, written before it was recorded, followed the lot running (user trial, 5 December
    # 2026: read as problems, or blamed on another lot's award). Named with its day
    # (``_said``).
    "terminate": "résiliation du marché enregistrée",
}
#: A termination's history row starts with its day (``domain.terminations.termination_reason``).
_TERMINATED_ON = re.compile(r"^Marché résilié le (\d{2}/\d{2}/\d{4})")
OUTCOME_EVENT = "outcome"
#: The changes that move the declarations expected of a lot's companies, and so the count of
#: those owed that the pace names.
EXPECTING_EVENTS = frozenset(
    {
        "company_left",
        "calendar",
        "award_recorded",
        "award_corrected",
        # A lot's end or planned end decides which of its months are asked (after the planned
        # end, its end not recorded, none is): an end recorded since makes a month owed that
        # the email could not count, and a pace « à confirmer » then none yet due.
        "finish",
        "end_date_corrected",
        "planned_end",
        "terminate",
    }
)
TERMINATE_EVENT = "terminate"
END_DATE_CORRECTED_EVENT = "end_date_corrected"
PARTICIPANT_TABLES = "Participants par "
HTML_AGAINST_TEXT = Voices(
    said="la partie HTML disait",
    says="la partie texte dit",
    of_sent="de la partie HTML",
    of_truth="de la partie texte",
    in_truth="dans la partie texte",
)
#: Changes named in a remark; the others are counted.
_NAMED_CHANGES = 5


@dataclass(frozen=True)
class SummaryEmail:
    id: int
    key: str
    kind: str
    state: str
    recipients: str
    created_at: datetime
    body_text: str
    body_html: str
    month: date
    buyer_id: int | None
    #: The number of the latest rule it was written under (``domain.summary_rules``); None for a
    #: row written before the rules were kept, which may predate any of them.
    rules_revision: int | None = None

    def written_before(self, rule: int) -> bool:
        """Whether it may say what ``rule`` changed the older way."""
        return summary_rules.written_before(self.rules_revision, rule)


class Family(Enum):
    """Which cells a change can move in a summary compiled for an earlier moment."""

    #: A declaration corrected or cancelled: hours, participants, modes, contracts, missing
    #: declarations, and the outcomes of the people it gave or took hours on their lot.
    DECLARATION = "declaration"
    #: An outcome recorded with a date up to the month's end: the outcome tables only.
    OUTCOME = "outcome"
    #: A clause's dates, target, calendar or parties: progress, pace, expected declarations.
    CLAUSE = "clause"


_OUTCOME_TABLES = "Sorties par "
_STAGE_TABLE = "Clauses par étape"
_PEOPLE_TABLES = ("Participants par ", "Heures par modalité", "Contrats par type")
#: The cells made of declaration lines, not totals: the ones ``as_of`` cannot give for an
#: email's moment once a declaration of then was corrected or cancelled (its lines are not kept).
LINE_TABLES = (*_PEOPLE_TABLES, _OUTCOME_TABLES)
LINE_FIGURES = ("Participants actifs dans le mois",)
_CLAUSE_TABLE = "Avancement par clause"
_BUYER_TABLE = "Par donneur d'ordre"
#: In the line of the clauses achieved before the month (« 2 clauses achevées avant … »).
_ACHIEVED = "achevée"


@dataclass(frozen=True)
class Change:
    """Something recorded after a summary that moves its figures, for good reasons."""

    at: datetime
    clause_id: int
    buyer_id: int
    buyer: str
    text: str
    family: Family
    month: date | None = None  # a corrected declaration's month: later months only
    known_since: datetime | None = None  # a corrected declaration: first recorded then
    #: The declaration corrected or cancelled (``as_of.declaration_key``).
    declaration: DeclarationKey | None = None
    #: The history row's event (``CHANGING_EVENTS``); None for a declaration's change.
    event: str | None = None

    def concerns(self, email: SummaryEmail) -> bool:
        return (
            self.at > email.created_at
            and (email.buyer_id is None or email.buyer_id == self.buyer_id)
            and (self.month is None or self.month <= email.month)
            and (self.known_since is None or self.known_since <= email.created_at)
        )

    def restored(self, restored: frozenset[DeclarationKey]) -> bool:
        """A declaration change whose totals of the email's moment are back in the figures
        compared (``as_of``): it moves only the cells made of lines."""
        return self.declaration is not None and self.declaration in restored

    def covers(
        self, difference: Difference, restored: frozenset[DeclarationKey] = frozenset()
    ) -> bool:
        """The cells this change can move: its clause's row (or the line of the clauses
        achieved before the month), its buyer's row, the headline, the missing declarations;
        a declaration also the participants, modes and contracts, and the outcome tables (an
        outcome counts while its participant has hours on its lot: ``outcomes.counted``); an
        outcome the outcome tables only. A declaration whose totals of the moment were put back
        (``restored``) only the cells made of its lines, which cannot be."""
        table, row = difference.table, difference.row or difference.sent or difference.truth
        if self.restored(restored):
            return is_line_cell(difference)
        if self.family is Family.OUTCOME:
            return table.startswith(_OUTCOME_TABLES)
        if table.startswith(_OUTCOME_TABLES):
            return self.family is Family.DECLARATION
        if table.startswith(_STAGE_TABLE):
            # An end known then and corrected since across the month's last day moves the lot's
            # stage at the end of the month (``summaries._ended_by_then``); nothing else recorded
            # since does: the stage then is its history's, or its dates' as known then.
            return self.event == END_DATE_CORRECTED_EVENT
        if table.startswith(_PEOPLE_TABLES):
            return self.family is Family.DECLARATION
        if table == _CLAUSE_TABLE:
            return f"n° {self.clause_id} –" in row or _ACHIEVED in row
        if table == _BUYER_TABLE:
            return row == self.buyer
        return True  # the headline and the missing declarations


def is_line_cell(difference: Difference) -> bool:
    """A cell made of declaration lines (participants, modes, contracts, outcomes)."""
    if not difference.table:
        return difference.row in LINE_FIGURES
    return difference.table.startswith(LINE_TABLES)


def _email(
    row: tuple[int, str, str, str, str, datetime, str, str, int | None],
) -> SummaryEmail | None:
    row_id, key, kind, state, recipients, created_at, text, html, rules_revision = row
    parts = key.split(":")
    try:
        month = datetime.strptime(parts[1], "%Y-%m").date()
    except (IndexError, ValueError):
        return None  # the outbox check reports it
    buyer_id = None
    if len(parts) == 4 and parts[2] == "buyer" and parts[3].isdigit():
        buyer_id = int(parts[3])
    elif parts[2:] != ["facilitator"]:
        return None
    moment = created_at if created_at.tzinfo else created_at.replace(tzinfo=UTC)
    return SummaryEmail(
        row_id, key, kind, state, recipients, moment, text, html, month, buyer_id, rules_revision
    )


def summary_emails(session: Session) -> list[SummaryEmail]:
    rows = session.execute(
        select(
            OutboxMessage.id, OutboxMessage.key, OutboxMessage.kind, OutboxMessage.state,
            OutboxMessage.recipients, OutboxMessage.created_at, OutboxMessage.body_text,
            OutboxMessage.body_html, OutboxMessage.rules_revision,
        )
        .where(
            OutboxMessage.kind.in_([summary_email.KIND_FACILITATOR, summary_email.KIND_BUYER]),
            OutboxMessage.key.like("summary:%"),
        )
        .order_by(OutboxMessage.created_at, OutboxMessage.id)
    )  # fmt: skip
    found = (_email(tuple(row)) for row in rows)  # type: ignore[arg-type]
    return [email for email in found if email is not None]


def latest_facilitator_key(emails: list[SummaryEmail]) -> str | None:
    """The latest facilitator summary sent; when none went yet, the latest written."""
    mine = [e for e in emails if e.buyer_id is None]
    sent = [e for e in mine if e.state == OutboxState.SENT] or mine
    return max(sent, key=lambda e: (e.created_at, e.id)).key if sent else None


def _counts(said: str | None) -> str:
    """`` – 1 sortie (P-0007, CDI) n'est plus comptée …``: what a declaration's change did to
    the lot's outcomes, as its history row says, in the change's words in a remark."""
    return f" – {said.rstrip('.')}" if said else ""


def _motif(motif: str | None) -> str:
    """`` ; motif : …``: why the facilitator corrected the month, as its history row keeps it."""
    return f" ; motif : {motif}" if motif else ""


def later_changes(
    session: Session,
    declarations: Declarations,
    since: datetime,
    zone: ZoneInfo,
) -> list[Change]:
    """What was recorded after ``since`` that moves earlier figures: one query, plus the
    declarations' recordings and cancellations already read."""
    found: list[Change] = []
    for facts in declarations.all():
        first = facts.recordings[0].at if facts.recordings else None
        if facts.cancelled_at is not None and facts.cancelled_at > since:
            found.append(
                Change(
                    facts.cancelled_at,
                    facts.clause_id,
                    facts.buyer_id,
                    facts.buyer,
                    f"déclaration {facts.label} annulée le "
                    f"{local_moment(facts.cancelled_at, zone)} (ligne d'historique n° "
                    f"{facts.cancelled_by}){_counts(facts.cancelled_counts)}",
                    Family.DECLARATION,
                    month=facts.month,
                    known_since=first or facts.recorded_at,
                    declaration=declaration_key(facts),
                )
            )
        for recording in facts.recordings[1:]:
            if recording.at > since:
                found.append(
                    Change(
                        recording.at,
                        facts.clause_id,
                        facts.buyer_id,
                        facts.buyer,
                        f"déclaration {facts.label} corrigée le "
                        f"{local_moment(recording.at, zone)} (ligne d'historique n° "
                        f"{recording.history_id}{_motif(recording.motif)})"
                        f"{_counts(recording.counts)}",
                        Family.DECLARATION,
                        month=facts.month,
                        known_since=first,
                        declaration=declaration_key(facts),
                    )
                )
    rows = session.execute(
        select(
            ClauseHistory.id, ClauseHistory.clause_id, ClauseHistory.at, ClauseHistory.event,
            Operation.buyer_id, Buyer.name, ClauseHistory.reason,
        )
        .join(Clause, Clause.id == ClauseHistory.clause_id)
        .join(Market, Market.id == Clause.market_id)
        .join(Operation, Operation.id == Market.operation_id)
        .join(Buyer, Buyer.id == Operation.buyer_id)
        .where(ClauseHistory.event.in_(list(CHANGING_EVENTS)), ClauseHistory.at > since)
    )  # fmt: skip
    for history_id, clause_id, at, event, buyer_id, buyer, reason in rows:
        moment = at.astimezone(UTC)
        found.append(
            Change(
                moment,
                clause_id,
                buyer_id,
                buyer,
                f"{_said(event, reason)}{CHANGING_EVENTS[event]} le "
                f"{local_moment(moment, zone)} (clause n° {clause_id}, ligne d'historique n° "
                f"{history_id})",
                Family.OUTCOME if event == OUTCOME_EVENT else Family.CLAUSE,
                event=event,
            )
        )
    return sorted(found, key=lambda c: c.at)


def _said(event: str, reason: str | None) -> str:
    """« marché résilié le 15/11/2026, » before a termination's recording: the day it took
    effect, which the summaries read, is not the day it was recorded."""
    found = _TERMINATED_ON.match(reason or "") if event == TERMINATE_EVENT else None
    return f"marché résilié le {found.group(1)}, " if found else ""


def _references(summary: summaries.MonthlySummary, *, confirm_pace: bool = True) -> list[Reference]:
    return [
        Reference(
            t["title"],
            tuple(t["columns"]),
            tuple(t["numeric"]),
            tuple(tuple(row) for row in t["rows"]),
        )
        for t in email_tables(summary, confirm_pace=confirm_pace)
    ]


def _as_reference(table: SentTable, truth: dict[str, Reference]) -> Reference:
    """A table the text part printed, as the reference its HTML part must repeat."""
    known = truth.get(table.title)
    numeric = {c: n for c, n in zip(known.columns, known.numeric, strict=True)} if known else {}
    flags = tuple(numeric.get(c, i > 0) for i, c in enumerate(table.columns))
    return Reference(table.title, table.columns, flags, table.rows)


def _same_totals(truth: Reference | None, sent: SentTable | None) -> bool:
    """A participants table whose rows moved but whose columns add up the same."""
    if truth is None or sent is None:
        return False
    position = {c: i for i, c in enumerate(sent.columns)}
    if any(c not in position for c in truth.columns):
        return False
    rows = [tuple(r[position[c]] for c in truth.columns) for r in sent.rows]
    mine = column_totals(truth.columns, truth.numeric, truth.rows)
    theirs = column_totals(truth.columns, truth.numeric, rows)
    return mine is not None and mine == theirs


def _what(email: SummaryEmail, summary: summaries.MonthlySummary) -> str:
    month = of_month(email.month)
    if summary.buyer_name is None:
        return f"synthèse {month} de la facilitatrice"
    return f"synthèse {month} du donneur d'ordre {summary.buyer_name}"


def check_summary_email(
    session: Session,
    settings: Settings,
    email: SummaryEmail,
    changes: list[Change],
    declarations: list[DeclarationFacts],
    dates: DateHistory | None = None,
    told: _Told | None = None,
) -> tuple[list[Finding], list[Finding]]:
    """The problems and the remarks about one summary email: against the figures recompiled
    for its moment, each declaration's totals as recorded then (``as_of``) and each lot's time
    elapsed from its dates of then (``dates_then``: an end recorded or corrected since, a
    planned end moved, is no longer a difference to explain); with ``told``, what it says
    above its figures since the previous summary (``_since_last_findings``)."""
    try:
        summary = summaries.compile_summary(
            session,
            email.month,
            buyer_id=email.buyer_id,
            now=email.created_at,
            zone=settings.zone,
            outcome_groups=settings.outcome_groups,
        )
    except NotFound:
        return [], []  # its buyer is gone: the outbox check says so
    as_of = at_its_moment(summary, declarations, email.created_at)
    summary = as_of.summary
    if dates is not None:
        summary = with_dates_then(session, summary, dates, email.created_at, settings.zone).summary
    subject = email_subject(email.id, _what(email, summary), email.recipients)
    truth = _references(summary)
    by_title = {t.title: t for t in truth}
    printed, sent = printed_figures(email.body_text), text_tables(email.body_text)
    sent_by_title = {t.title: t for t in sent}
    # The figures as its reader reads them, an older email's paragraph of the earlier months
    # not due yet among them (``_with_pending_paragraph``); the HTML part is compared with the
    # text part as printed.
    read = printed
    if email.written_before(EARLIER_PENDING_FIGURE):
        read = _with_pending_paragraph(email.body_text, printed)
    differences = compare_figures(figure_lines(summary), read) + compare_tables(truth, sent)
    ruled: list[str] = []
    compared_sent = sent
    renames = renamed_since(session, email.created_at) if differences else []
    if renames:
        # A company renamed since (``clauses company edit --name``): the email gave its name of
        # then, the data give today's. Read with today's names, what differs no more is the
        # rename, one remark naming it; the HTML part is still compared as sent.
        renamed_read = {label: _renamed(value, renames) for label, value in read.items()}
        renamed_sent = [_renamed_table(table, renames) for table in sent]
        before = compare_figures(figure_lines(summary), renamed_read) + compare_tables(
            truth, renamed_sent
        )
        if len(before) < len(differences):
            ruled.append(_rename_remark(renames, read, sent, settings.zone))
            differences, read = before, renamed_read
            sent_by_title = {t.title: t for t in renamed_sent}
            compared_sent = renamed_sent
    # Each older rule's reading only for an email that may have been written before the rule
    # (``domain.summary_rules``): in one written since, the older wording is a problem.
    older_rule = email.written_before
    uncalled = (
        summaries.as_before_earlier_calls_to_come(summary)
        if differences and older_rule(EARLIER_CALLS_TO_COME)
        else None
    )
    # Written before the earlier months owed whose call had not left were said (7 December
    # 2026): they were in no figure.
    if uncalled is not None and (found := _read_as(uncalled, read, compared_sent, differences)):
        ruled.append(_calls_to_come_remark(differences, found[0], summary))
        (differences, by_title), summary = found, uncalled
    staged = (
        summaries.as_before_stage_by_end(summary)
        if differences and older_rule(STAGE_BY_END)
        else None
    )
    # Written before a lot ended before the month's last day, its end recorded after the
    # month, counted « suivi et bilan » (6 December 2026): its stage was its history's then.
    if staged is not None and (found := _read_as(staged, read, compared_sent, differences)):
        ruled.append(_stage_by_end_remark(differences, found[0], summary))
        (differences, by_title), summary = found, staged
    uncounted = _unasked_uncounted(summary) if differences and older_rule(UNASKED_COUNTED) else None
    # Written before a declaration recorded for a month not asked of its company counted
    # among the expected and the received: compared with what the older count printed.
    if uncounted is not None and (found := _read_as(uncounted, read, compared_sent, differences)):
        ruled.append(_unasked_remark(differences, found[0], summary))
        (differences, by_title), summary = found, uncounted
    older = _as_achieved(summary) if older_rule(PAST_PLANNED_END_FOLLOWED) else None
    # Written before lots past their planned end were followed: compared with what the
    # older rule printed, the other differences are still reported as they are.
    if (
        differences
        and older is not None
        and (found := _read_as(older, read, compared_sent, differences))
    ):
        ruled.append(_past_planned_end_remark(differences, found[0], summary))
        (differences, by_title), summary = found, older
    if differences and summary.terminated_clauses and older_rule(TERMINATED_LISTED):
        # Written before a lot terminated before the month was listed as terminated (6
        # December 2026): it was counted among the « clauses achevées avant » the month.
        counted = replace(summary, terminated_listed=False)
        if found := _read_as(counted, read, compared_sent, differences):
            terminated = summary.terminated_clauses
            lots = ", ".join(f"n° {c.clause_id}" for c in terminated)
            counted_as = "était comptée" if len(terminated) == 1 else "étaient comptées"
            ruled.append(
                "écrit avant que les lots résiliés avant le mois soient listés comme tels (6 "
                f"décembre 2026) : {lots} y {counted_as} parmi les clauses achevées"
            )
            (differences, by_title), summary = found, counted
    ended = (
        summaries.as_ended_at_termination(session, summary)
        if differences and older_rule(TERMINATION_AGAINST_PLANNED_END)
        else None
    )
    compared = summary
    # Written before a terminated lot's time was counted against its planned end: compared
    # with what the older rule printed, the other differences are reported as usual.
    if ended is not None and (found := _read_as(ended, read, compared_sent, differences)):
        ruled.append(_terminated_remark(differences, found[0], summary, ended))
        (differences, by_title), compared = found, ended
    # Written before the pace waited for the declarations still owed (6 December 2026): it
    # judged the hours declared alone. Compared with what that rule printed, after the older
    # rules above (an email may predate several), the rest reported as usual.
    if (
        older_rule(PACE_TO_CONFIRM)
        and any(_pace_said(d) for d in differences)
        and (found := _read_as(compared, read, compared_sent, differences, confirm_pace=False))
    ):
        ruled.append(_unconfirmed_remark(differences, found[0]))
        differences, by_title = found
    if EARLIER_PENDING_TITLE not in read and older_rule(EARLIER_PENDING_FIGURE):
        differences, unsaid = _pending_unsaid(differences)
        ruled += unsaid
    concerning = [c for c in changes if c.concerns(email)]
    problems, remarks = _sort_out(
        differences,
        concerning,
        by_title,
        sent_by_title,
        as_of.restored,
        unpaced_before=older_rule(PACE_ONLY_WHEN_DUE),
    )
    remarks += ruled
    problems += _html_problems(email, sent, printed, by_title)
    if told is not None:
        since_problems, noted = _since_last_findings(session, email, summary, told)
        problems += since_problems
        remarks += noted
    return (
        [Finding(CHECK_SUMMARY, subject, p) for p in problems],
        [Finding(CHECK_SUMMARY, subject, r) for r in remarks],
    )


def _read_as(
    older: summaries.MonthlySummary,
    read: Mapping[str, str],
    sent: Sequence[SentTable],
    differences: Sequence[Difference],
    *,
    confirm_pace: bool = True,
) -> tuple[list[Difference], dict[str, Reference]] | None:
    """What still differs when the email is read against ``older`` (the summary as an older rule
    printed it), with ``older``'s tables by title; None when that explains none of
    ``differences``: the email was not written that way."""
    truth = _references(older, confirm_pace=confirm_pace)
    before = compare_figures(figure_lines(older, confirm_pace=confirm_pace), read) + (
        compare_tables(truth, sent)
    )
    if len(before) >= len(differences):
        return None
    return before, {t.title: t for t in truth}


def _renamed(text: str, renames: list[Rename]) -> str:
    """``text`` with each company's name of then replaced by today's, as a whole name only: in
    one pass (« Alpha » and « Beta » swapping names each become the other's), the longest names
    first, a name ending the cell or followed by a separator (« , », « ( », « : », « ; »): never
    the start of a longer name (« GIB Insertion Sud » is not « GIB Insertion »)."""
    after = {r.before: r.after for r in renames if r.before}
    if not after:
        return text
    names = "|".join(re.escape(name) for name in sorted(after, key=len, reverse=True))
    whole = re.compile(rf"(?<![\w'’])(?:{names})(?=$|,|[ \u00a0\u202f][(:;])", re.MULTILINE)
    return whole.sub(lambda found: after[found.group(0)], text)


def _renamed_table(table: SentTable, renames: list[Rename]) -> SentTable:
    return replace(
        table, rows=tuple(tuple(_renamed(cell, renames) for cell in row) for row in table.rows)
    )


def _rename_remark(
    renames: list[Rename], read: dict[str, str], sent: list[SentTable], zone: ZoneInfo
) -> str:
    """« nom de l'entreprise changé le 5 avril 2027 : « GIB Insertion » s'appelle désormais
    « GIB Insertion (EI) » ; le courriel donnait son nom d'alors »: the renames the email's
    figures or tables named."""
    # One cell a line: a name ends its cell (``_renamed``).
    said = "\n".join([*read.values(), *(c for t in sent for row in t.rows for c in row)])
    named = [r for r in renames if _renamed(said, [r]) != said] or renames
    words = " ; ".join(
        f"nom de l'entreprise changé le {french_date(r.at.astimezone(zone).date())} : "
        f"«\u00a0{r.before}\u00a0» s'appelle désormais «\u00a0{r.after}\u00a0»"
        for r in named
    )
    return f"{words} ; le courriel donnait {'son nom' if len(named) == 1 else 'leurs noms'} d'alors"


#: Before 6 December 2026, the declarations of earlier months not due yet were a paragraph
#: below the figures (« Déclarations des mois précédents attendues, pas encore dues : … . »),
#: which neither the CLI nor the audit read; since, one of the figures (``figure_lines``).
_PENDING_PARAGRAPH = re.compile(
    rf"^{re.escape(EARLIER_PENDING_TITLE)}\s*:\s*(?P<said>.+)\.\s*$", re.MULTILINE
)


def _with_pending_paragraph(body_text: str, printed: dict[str, str]) -> dict[str, str]:
    """``printed``, with what an email written before the declarations of earlier months not
    due yet were a figure said of them in its paragraph: checked like the figure it is now."""
    if EARLIER_PENDING_TITLE in printed:
        return printed
    found = _PENDING_PARAGRAPH.search(body_text)
    if found is None:
        return printed
    return {**printed, EARLIER_PENDING_TITLE: found.group("said")}


def _pending_unsaid(differences: list[Difference]) -> tuple[list[Difference], list[str]]:
    """An email that says nothing of the declarations of earlier months not due yet, where the
    data now name some, in neither the figure nor the older paragraph: written before the
    service said them (6 December 2026, when a suspension's resumption pushed a month's due
    date past the next summary, that month vanished from it). A remark quoting what it would
    say now, not a problem."""
    unsaid = [
        d for d in differences if d.gap is Gap.MISSING_FIGURE and d.row == EARLIER_PENDING_TITLE
    ]
    if not unsaid:
        return differences, []
    return [d for d in differences if d not in unsaid], [
        "écrite avant que les synthèses disent les déclarations des mois précédents attendues "
        "et pas encore dues (6 décembre 2026) : elle dirait aujourd'hui « "
        f"{EARLIER_PENDING_TITLE} : {unsaid[0].truth} »"
    ]


def _sort_out(
    differences: list[Difference],
    concerning: list[Change],
    truth: dict[str, Reference],
    sent: dict[str, SentTable],
    restored: frozenset[DeclarationKey] = frozenset(),
    *,
    unpaced_before: bool = True,
) -> tuple[list[str], list[str]]:
    """Problems, and remarks: a row renamed with its figures, differences a change recorded
    since can explain (one remark naming the changes), differences in cells made of the lines
    of a declaration corrected or cancelled since, which the data cannot give for the moment
    (one remark quoting only the email), participants tables with the same totals (one
    remark); with ``unpaced_before`` (an email that may predate ``PACE_ONLY_WHEN_DUE``), a
    pace judged where the data now judge none (one remark)."""
    problems: list[str] = []
    remarks: list[str] = []
    people: list[Difference] = []
    explained: list[Difference] = []
    causes: list[Change] = []
    unknown: list[Difference] = []
    unknown_causes: list[Change] = []
    unpaced: list[Difference] = []
    moved = _moved_lots(differences, truth, sent)
    for difference in differences:
        why = [
            c for c in concerning if c.covers(difference, restored) and moved.allows(c, difference)
        ]
        if difference.gap is Gap.RENAMED_ROW:
            remarks.append(difference.sentence())
        elif unpaced_before and _pace_no_longer_judged(difference):
            unpaced.append(difference)
        elif any(c.restored(restored) for c in why):
            unknown.append(difference)
            unknown_causes += [c for c in why if c not in unknown_causes]
        elif why:
            explained.append(difference)
            causes += [c for c in why if c not in causes]
        elif difference.table.startswith(PARTICIPANT_TABLES) and _same_totals(
            truth.get(difference.table), sent.get(difference.table)
        ):
            people.append(difference)
        else:
            problems.append(difference.sentence())
    if explained:
        causes.sort(key=_cause_order)
        remarks.append(_explained(explained, causes))
    if unknown:
        unknown_causes.sort(key=_cause_order)
        remarks.append(_lines_unknown(unknown, unknown_causes))
    if people:
        remarks.append(_participants_moved(people))
    if unpaced:
        remarks.append(
            f"{_differences(unpaced, said_only=True)} : un rythme jugé alors qu'aucune "
            "déclaration du mois n'était encore due ; le service n'en juge plus dans ce cas "
            "(depuis le 5 décembre 2026)"
        )
    return problems, remarks


#: The headline figures made of the clauses' lines (hours against target, pace, clauses
#: counted): a change of one lot moves them through its own line of « Avancement par clause ».
PROGRESS_FIGURES = ("Heures cumulées depuis le début", "Rythme à fin ", "Clauses comptées")
_CLAUSE_ROW = re.compile(r"n° (\d+) –")


@dataclass(frozen=True)
class _MovedLots:
    """The lots whose line of « Avancement par clause » differs (``ids``), whether a line that
    names no lot differs (the clauses achieved before the month, the others added up:
    ``anonymous``), and whether the table is there at all (``table``)."""

    ids: frozenset[int]
    anonymous: bool
    table: bool

    def allows(self, change: Change, difference: Difference) -> bool:
        """A change of a lot's dates, target or parties (``Family.CLAUSE``) explains a
        difference in the figures made of the clauses' lines (the headline's hours against
        target, pace and clauses counted; a buyer's row) only when its own line moved, or a
        line naming no lot: another lot's award recorded since never explains the pace a
        terminated lot moved (user trial, 5 December 2026). The declarations expected and
        missing, which no line of that table shows, are any of the buyer's lots'."""
        if change.family is not Family.CLAUSE or not self.table:
            return True
        progress = difference.table == _BUYER_TABLE or (
            not difference.table and difference.row.startswith(PROGRESS_FIGURES)
        )
        if not progress:
            return True
        if change.event in EXPECTING_EVENTS and _only_owed_count(difference):
            # The pace counts the declarations its lots owe (« rythme à confirmer (4
            # déclarations non reçues) »), which no line of that table shows: a company gone,
            # a calendar or the parties changed since move that count without moving any line.
            # Only that count: another lot's award never explains a pace whose figures moved.
            return True
        return self.anonymous or change.clause_id in self.ids


#: The count of declarations owed that a pace « à confirmer » names (from 1,000 on, Babel
#: groups its digits with a narrow no-break space).
_OWED_COUNT = re.compile(r"\s*\(\d[\d\u202f\u00a0 ]*\s+déclarations?\s+non\s+reçues?\)")


#: A buyer's « Rythme » cell while declarations are owed.
_UNCONFIRMED = PACE_LABELS[Pace.UNCONFIRMED]


def _pace_figures(words: str) -> str:
    """« 54 % des heures prévues réalisées pour 65 % du temps écoulé » out of a pace's words:
    its figures, without the verdict that follows the last comma."""
    return _OWED_COUNT.sub("", words).rsplit(",", 1)[0].strip()


def _only_owed_count(difference: Difference) -> bool:
    """A pace whose figures are the same and whose verdict differs only by the declarations
    owed: their count (« (4 déclarations non reçues) » → 3), or the verdict itself once the
    last one owed was released (« rythme à confirmer (1 déclaration non reçue) » → « en
    retard »; review), or a pace « à confirmer » on one side, none judged on the other (no
    declaration of the month due yet, once an end recorded since made the month owed)."""
    if difference.gap in (Gap.EXTRA_FIGURE, Gap.MISSING_FIGURE):
        # A pace judged on one side only: explained when that side waited for the declarations
        # owed (« rythme à confirmer (1 déclaration non reçue) »), whose months the change moved.
        present = difference.sent or difference.truth
        return difference.row.startswith(PACE_FIGURE) and bool(_OWED_COUNT.search(present))
    if not _pace_said(difference) or difference.sent == difference.truth:
        return False
    if difference.table:
        # A buyer's « Rythme » cell says the verdict alone; its figures are cells of their own.
        return _UNCONFIRMED in (difference.sent, difference.truth)
    if not (_OWED_COUNT.search(difference.sent) or _OWED_COUNT.search(difference.truth)):
        return False
    return _pace_figures(difference.sent) == _pace_figures(difference.truth)


def _moved_lots(
    differences: list[Difference], truth: dict[str, Reference], sent: dict[str, SentTable]
) -> _MovedLots:
    ids: set[int] = set()
    anonymous = False
    for difference in differences:
        if difference.table != _CLAUSE_TABLE:
            continue
        labels = {difference.row, difference.sent, difference.truth} - {""}
        found = {int(m.group(1)) for text in labels for m in _CLAUSE_ROW.finditer(text)}
        ids |= found
        anonymous = anonymous or not found
    return _MovedLots(frozenset(ids), anonymous, _CLAUSE_TABLE in truth or _CLAUSE_TABLE in sent)


#: The pace's figure and columns: a summary written before the rule that judges no pace where
#: no declaration of the month was due yet (``monthly_summary.Figures``) judged one there.
PACE_FIGURE = "Rythme à fin "
PACE_COLUMNS = frozenset({"Rythme", "% du temps écoulé"})


def _pace_no_longer_judged(difference: Difference) -> bool:
    """A pace the email gave where the data now give none: said by an older summary for a scope
    none of whose declarations was due yet (its line, its buyer's row « – »)."""
    if difference.gap is Gap.EXTRA_FIGURE:
        return difference.row.startswith(PACE_FIGURE)
    return (
        difference.gap is Gap.CELL
        and difference.column in PACE_COLUMNS
        and difference.truth in {"–", ""}
    )


def _pace_said(difference: Difference) -> bool:
    """A difference in what the email says of a pace: its headline line, or a buyer's
    « Rythme » cell."""
    if not difference.table:
        return difference.row.startswith(PACE_FIGURE)
    return difference.gap is Gap.CELL and difference.column == "Rythme"


def _unconfirmed_remark(differences: list[Difference], before: list[Difference]) -> str:
    """The differences the pace judged on the hours declared alone explains (each quotes what
    the data say now), and why."""
    gone = [d for d in differences if d not in before]
    return (
        f"{_differences(gone)} : écrite avant que le rythme soit dit « à confirmer » tant que "
        "des déclarations attendues jusqu'au mois ne sont pas reçues (6 décembre 2026) ; elle "
        "le jugeait sur les seules heures déclarées"
    )


def _calls_to_come_remark(
    differences: list[Difference], before: list[Difference], summary: summaries.MonthlySummary
) -> str:
    """The differences the earlier months owed whose call had not left explain
    (``summaries.as_before_earlier_calls_to_come``), naming them."""
    gone = [d for d in differences if d not in before]
    owed = [e for e in summary.overall.declarations.earlier_pending if not e.called]
    named = ", ".join(
        f"{french_month(e.month)} de {e.company} (n° {e.clause_id})" for e in owed[:_NAMED_CHANGES]
    )
    more = len(owed) - _NAMED_CHANGES
    if more > 0:
        named += f" et {more} autre{'s' if more > 1 else ''}"
    return (
        f"{_differences(gone)} : écrite avant que les synthèses comptent parmi les mois "
        "précédents attendus les déclarations dues dont l'appel n'était pas encore parti (7 "
        f"décembre 2026) : {named} n'y figurai{'t' if len(owed) == 1 else 'ent'} pas"
    )


def _stage_by_end_remark(
    differences: list[Difference], before: list[Difference], summary: summaries.MonthlySummary
) -> str:
    """The differences the older stage of the lots ended before the month's last day explains
    (``summaries.as_before_stage_by_end``), naming the lots with their end and their stage
    then."""
    gone = [d for d in differences if d not in before]
    ended = summary.ended_since
    named = ", ".join(
        f"n° {e.clause_id} (« {category_label(STAGE_LABELS, e.stage)} », fin d'exécution le "
        f"{e.end_date:%d/%m/%Y})"
        for e in ended[:_NAMED_CHANGES]
    )
    more = len(ended) - _NAMED_CHANGES
    if more > 0:
        named += f" et {more} autre{'s' if more > 1 else ''}"
    one = len(ended) == 1
    return (
        f"{_differences(gone)} : écrite avant que les synthèses comptent à l'étape « suivi et "
        "bilan » une clause dont la fin d'exécution, enregistrée après le mois, tombe avant "
        "son dernier jour, comme « Avancement par clause » la lit (6 décembre 2026) : "
        f"{'la clause' if one else 'les clauses'} {named} "
        f"{'y était comptée' if one else 'y étaient comptées'} à l'étape que son historique "
        "disait à la fin du mois"
    )


def _unasked_uncounted(summary: summaries.MonthlySummary) -> summaries.MonthlySummary | None:
    """``summary`` as counted before 6 December 2026, when a declaration recorded for a month not
    asked of its company (before its first month on the lot, after its last, spent entirely
    suspended, after the planned end of a lot whose real end is not recorded) added its hours
    to the month, not itself to the expected and the received (``Declarations.unasked``); None
    without one."""
    if not summary.overall.declarations.unasked:
        return None

    def fewer(figures: summaries.Figures) -> summaries.Figures:
        found = figures.declarations
        if not found.unasked:
            return figures
        return replace(
            figures,
            declarations=replace(found, expected=found.expected - found.unasked, unasked=0),
        )

    buyers = tuple(replace(b, figures=fewer(b.figures)) for b in summary.buyers)
    return replace(summary, overall=fewer(summary.overall), buyers=buyers)


def _unasked_remark(
    differences: list[Difference], before: list[Difference], summary: summaries.MonthlySummary
) -> str:
    """The differences the older count of the month's declarations explains."""
    gone = [d for d in differences if d not in before]
    count = summary.overall.declarations.unasked
    one = count == 1
    return (
        f"{_differences(gone)} : écrite avant que les synthèses comptent parmi les attendues et "
        "les reçues une déclaration enregistrée pour un mois non demandé à son entreprise "
        "(avant son premier mois sur le lot, après son dernier, suspendu en entier, ou après la "
        "fin prévue de son lot, sa fin réelle non enregistrée), comme "
        f"le fait « clauses declaration list » (6 décembre 2026) : {french_number(count)} "
        f"{'déclaration y était comptée' if one else 'déclarations y étaient comptées'} "
        "dans les heures, non parmi les attendues"
    )


def _as_achieved(summary: summaries.MonthlySummary) -> summaries.MonthlySummary | None:
    """``summary`` as written before 5 December 2026, when a lot past its planned end, its end
    not recorded, counted among the « clauses achevées avant » the month (followed only with
    hours in it, its stage without a word of its planned end); None without such a lot."""
    if not any(c.past_planned_end for c in summary.clauses):
        return None
    dropped: Counter[int] = Counter()
    clauses = []
    for line in summary.clauses:
        if line.past_planned_end:
            followed = line.progress.hours_month > 0
            if line.followed and not followed:
                dropped[line.buyer_id] += 1
            line = replace(line, past_planned_end=False, followed=followed)
        clauses.append(line)

    def fewer(figures: summaries.Figures, count: int) -> summaries.Figures:
        return replace(figures, followed=figures.followed - count) if count else figures

    buyers = tuple(
        replace(b, figures=fewer(b.figures, dropped[b.buyer_id])) for b in summary.buyers
    )
    return replace(
        summary,
        clauses=tuple(clauses),
        overall=fewer(summary.overall, dropped.total()),
        buyers=buyers,
    )


def _past_planned_end_remark(
    differences: list[Difference], before: list[Difference], summary: summaries.MonthlySummary
) -> str:
    """The differences the older rule explains, and what it said of each lot past its planned
    end: counted among the achieved (no hours in the month), or listed without a word of its
    planned end (hours in the month)."""
    gone = [d for d in differences if d not in before]
    lots = [c for c in summary.clauses if c.past_planned_end]
    achieved = [c for c in lots if not c.progress.hours_month]
    listed = [c for c in lots if c.progress.hours_month]
    said = []
    if achieved:
        one = len(achieved) == 1
        said.append(
            f"{_lots(achieved)}, en cours à la fin du mois sans fin d'exécution enregistrée, "
            f"{'y était comptée' if one else 'y étaient comptées'} parmi les clauses achevées"
        )
    if listed:
        one = len(listed) == 1
        said.append(
            f"{_lots(listed)}, en cours à la fin du mois sans fin d'exécution enregistrée, "
            f"{'y était nommée' if one else 'y étaient nommées'} sans dire "
            f"{'sa' if one else 'leur'} fin prévue dépassée"
        )
    return (
        f"{_differences(gone)} : {' ; '.join(said)} ; le service suit désormais de telles "
        "clauses dans le mois, chacune sur sa ligne, en disant leur fin prévue dépassée (depuis "
        "le 5 décembre 2026)"
    )


def _terminated_remark(
    differences: list[Difference],
    before: list[Difference],
    summary: summaries.MonthlySummary,
    older: summaries.MonthlySummary,
) -> str:
    """The differences the older rule of terminated lots explains (``as_ended_at_termination``),
    naming the lots it read so: those whose time elapsed it moved."""
    gone = [d for d in differences if d not in before]
    was = {c.clause_id: c for c in older.clauses}
    lots = [
        c
        for c in summary.clauses
        if c.clause_id in was
        and (c.progress != was[c.clause_id].progress or c.terminated_on is not None)
    ]
    one = len(lots) == 1
    named = ", ".join(
        f"n° {c.clause_id} (marché résilié le {c.end_date:%d/%m/%Y})"
        if c.end_date
        else f"n° {c.clause_id}"
        for c in lots[:_NAMED_CHANGES]
    )
    more = len(lots) - _NAMED_CHANGES
    if more > 0:
        named += f" et {more} autre{'s' if more > 1 else ''}"
    return (
        f"{_differences(gone)} : {'la clause' if one else 'les clauses'} {named} "
        f"{'y avait son' if one else 'y avaient leur'} temps écoulé compté jusqu'à la "
        "résiliation comme jusqu'à une fin prévue ; le service le compte désormais face à la "
        "fin prévue du marché, arrêté au jour de la résiliation, et dit « marché résilié » à la "
        "place du rythme à partir de ce mois-là (depuis le 5 décembre 2026)"
    )


def _lots(lines: list[summaries.ClauseLine]) -> str:
    """« la clause n° 12 (fin prévue le 31/03/2027) », the first ones of several named."""
    named = ", ".join(
        f"n° {c.clause_id} (fin prévue le {c.end_date:%d/%m/%Y})"
        if c.end_date
        else f"n° {c.clause_id}"
        for c in lines[:_NAMED_CHANGES]
    )
    more = len(lines) - _NAMED_CHANGES
    if more > 0:
        named += f" et {more} autre{'s' if more > 1 else ''}"
    return f"{'la clause' if len(lines) == 1 else 'les clauses'} {named}"


def _cause_order(change: Change) -> tuple[bool, datetime, date, str]:
    """The corrected declarations first (they move the most cells), then by time, month (one
    import corrects several at one instant) and words."""
    return (
        change.family is not Family.DECLARATION,
        change.at,
        change.month or date.min,
        change.text,
    )


def _differences(found: list[Difference], *, said_only: bool = False) -> str:
    count = len(found)
    example = found[0].said_only() if said_only else found[0].sentence()
    if count == 1:
        return f"1 différence ({example})"
    return f"{french_number(count)} différences (dont {example})"


def _named(changes: list[Change]) -> str:
    named = " ; ".join(c.text for c in changes[:_NAMED_CHANGES])
    more = len(changes) - _NAMED_CHANGES
    if more > 0:
        named += f" et {more} autre{'s' if more > 1 else ''}"
    return named


def _lines_unknown(found: list[Difference], changes: list[Change]) -> str:
    """Cells made of the lines of a declaration corrected or cancelled since: the lines it had
    at the email's moment are not kept, so no figure of then is quoted, only the email's."""
    one = len(found) == 1
    return (
        f"{_differences(found, said_only=True)} dans les participants, les heures par "
        "modalité, les contrats ou les sorties, que les données ne permettent pas de recalculer "
        "pour son instant (les lignes d'une déclaration avant sa correction ou son annulation "
        f"ne sont pas gardées), {'expliquée' if one else 'expliquées'} par ce qui a été "
        f"enregistré depuis : {_named(changes)}"
    )


def _explained(found: list[Difference], changes: list[Change]) -> str:
    named = _named(changes)
    return (
        f"{_differences(found)} avec les données recalculées pour son instant, "
        f"{'expliquée' if len(found) == 1 else 'expliquées'} par ce qui a été enregistré "
        f"depuis : {named}"
    )


def _participants_moved(found: list[Difference]) -> str:
    return (
        f"{_differences(found)} dans les tableaux de participants, aux mêmes totaux : le "
        "critère, le sexe ou l'année de naissance d'un participant a été corrigé depuis"
    )


def _html_problems(
    email: SummaryEmail,
    sent: list[SentTable],
    printed: dict[str, str],
    truth: dict[str, Reference],
) -> list[str]:
    """The HTML part, which most people read, against the text part (both as sent)."""
    if not email.body_html.strip():
        return []
    figures, tables = html_parts(email.body_html)
    references = [_as_reference(t, truth) for t in sent]
    found: list[Difference] = compare_figures(list(printed.items()), figures)
    found += compare_tables(references, tables)
    return [d.sentence(HTML_AGAINST_TEXT) for d in found]


@dataclass(frozen=True)
class _Written:
    """A summary row that counts as a recipient's previous summary (``summaries.NEVER_LEFT``
    excluded): its month, its moment and when it left."""

    month_key: str  # « 2027-02 », as the key names it
    at: datetime
    row_id: int
    key: str
    sent_at: datetime | None


def _written_summaries(session: Session) -> dict[str, list[_Written]]:
    """Every summary written that counts as someone's previous one, by recipient (the key's
    part after the month: « facilitator », « buyer:12 »), in writing order: one statement for
    the whole audit, where ``summaries.previous_summary`` ranks them again for each email."""
    rows = session.execute(
        select(
            OutboxMessage.key, OutboxMessage.created_at, OutboxMessage.id, OutboxMessage.sent_at
        ).where(
            OutboxMessage.kind.in_(summary_email.KINDS),
            OutboxMessage.key.like("summary:%"),
            OutboxMessage.state.not_in(summaries.NEVER_LEFT),
        )
    )
    found: dict[str, list[_Written]] = {}
    for key, created_at, row_id, sent_at in rows:
        at = created_at if created_at.tzinfo else created_at.replace(tzinfo=UTC)
        recipient = key[_RECIPIENT_AT:]
        found.setdefault(recipient, []).append(_Written(key[8:15], at, row_id, key, sent_at))
    for written in found.values():
        written.sort(key=lambda w: (w.at, w.row_id))
    return found


#: Where the recipient starts in a summary's key (``summaries._RECIPIENT_AT``, from 0 here).
_RECIPIENT_AT = len("summary:2027-02:")


def _arrived_after_summary(
    declarations: list[DeclarationFacts], written: dict[str, list[_Written]]
) -> set[summaries.MonthKey]:
    """The company's months among ``declarations`` recorded (or corrected, or cancelled) after
    the first summary of their month or a later one was written: the only ones an email can say
    arrived since its previous summary. A few among every declaration of the territory, whose
    ladders ``summaries.called_months`` then reads."""
    first: dict[str, datetime] = {}
    for rows in written.values():
        for row in rows:
            if row.month_key not in first or row.at < first[row.month_key]:
                first[row.month_key] = row.at
    # The earliest summary of each month or a later one: a suffix minimum over the months.
    earliest: list[tuple[str, datetime]] = []
    for month_key in sorted(first, reverse=True):
        at = first[month_key] if not earliest else min(first[month_key], earliest[-1][1])
        earliest.append((month_key, at))
    earliest.reverse()
    keys = [m for m, _ in earliest]
    found: set[summaries.MonthKey] = set()
    for facts in declarations:
        index = bisect_left(keys, f"{facts.month:%Y-%m}")
        if index == len(keys):
            continue
        since = earliest[index][1]
        instants = [facts.recorded_at, *(r.at for r in facts.recordings)]
        if facts.cancelled_at is not None:
            instants.append(facts.cancelled_at)
        if any(at > since for at in instants):
            found.add((facts.clause_id, facts.company_id, facts.month))
    return found


@dataclass(frozen=True)
class _Told:
    """What ``_since_last_findings`` reads for every email, read once per audit: the summary
    emails by key (the previous one's printed cumul), every declaration with its history, the
    summaries written by recipient (``_written_summaries``), the months claimed as not sent up
    to the last email, every declared lot's label, and the called months of the declarations
    recorded after a summary of their month was written: those an email may say arrived since
    its previous one, late or not (``summaries.called_months``)."""

    emails: dict[str, SummaryEmail]
    declarations: list[DeclarationFacts]
    written: dict[str, list[_Written]] = field(default_factory=dict)
    skipped: dict[date, datetime] = field(default_factory=dict)
    labels: dict[int, str] = field(default_factory=dict)
    called: dict[summaries.MonthKey, summaries.CalledMonth] = field(default_factory=dict)

    @classmethod
    def read(
        cls, session: Session, emails: list[SummaryEmail], declarations: list[DeclarationFacts]
    ) -> _Told:
        latest = max(e.created_at for e in emails)
        written = _written_summaries(session)
        return cls(
            {e.key: e for e in emails},
            declarations,
            written,
            summaries.skipped_months(session, latest),
            summaries.lot_labels(session, (f.clause_id for f in declarations)),
            summaries.called_months(session, _arrived_after_summary(declarations, written)),
        )

    def of(self, buyer_id: int | None) -> list[DeclarationFacts]:
        """A buyer's declarations (every one for the facilitator), sorted out once."""
        if buyer_id is None:
            return self.declarations
        if not self._by_buyer:
            for facts in self.declarations:
                self._by_buyer.setdefault(facts.buyer_id, []).append(facts)
        return self._by_buyer.get(buyer_id, [])

    def previous(self, email: SummaryEmail) -> summaries._Previous | None:
        """The recipient's previous summary as ``summaries.previous_summary`` gives it at the
        email's moment: the latest written before it (by moment, then row), of an earlier month,
        that did not fail, die or get cancelled."""
        written = self.written.get(email.key[_RECIPIENT_AT:], [])
        month = f"{email.month:%Y-%m}"
        # The rows written before the email, the latest first.
        before = bisect_left(written, email.created_at, key=lambda w: w.at)
        for candidate in reversed(written[:before]):
            if candidate.month_key < month:
                parts = candidate.key.split(":")
                try:
                    found = datetime.strptime(parts[1], "%Y-%m").date()
                except ValueError:
                    return None
                return summaries._Previous(found, candidate.at, candidate.sent_at)
        return None

    def skipped_by(self, moment: datetime) -> dict[date, datetime]:
        """``summaries.skipped_months`` at ``moment``."""
        return {m: at for m, at in self.skipped.items() if at <= moment}

    _by_buyer: dict[int, list[DeclarationFacts]] = field(default_factory=dict)


#: The paragraphs above a summary's figures that are not what changed since the previous one:
#: the greeting, the opening sentence, the lateness notice (``late_notice``).
_NOT_SINCE = ("Bonjour", "Voici la synthèse", "Cette synthèse aurait dû")
#: When the previous summary left: « (envoyée le 22 mars 2027) », or « (établie le …) » while it
#: had not left yet; it may have left since.
_LEFT_ON = re.compile(r" \((?:envoyée|établie) le [^)]*\)")
#: The older rule: changes named without the previous summary's month, arrivals and months
#: without a summary not said (before 6 December 2026).
_OLDER_OPENING = "Depuis ma synthèse précédente"
_NUMBER = re.compile(r"\d+")


def _figures_of(said: str) -> list[str]:
    """What a notice says, as its figures in their order (hours, days, months' years, lots'
    numbers), the day the previous summary left put aside: the words may be rewritten from
    one version to the next, the facts may not."""
    return _NUMBER.findall(_LEFT_ON.sub("", said))


#: What a notice says of lateness: « en retard », « sans retard » (``changes_notice``).
_LATENESS = re.compile(r"\b(?:en|sans) retard\b")


def _same_facts(said: str, expected: str) -> bool:
    """Whether a notice says what another does: the same figures in the same order
    (``_figures_of``), and the same « en retard » and « sans retard » in the same order: a
    declaration said late that arrived on time is a fact wrong, not a word rewritten."""
    return _figures_of(said) == _figures_of(expected) and _LATENESS.findall(
        said
    ) == _LATENESS.findall(expected)


def _on_time_remark(since: summary_email.SinceLast, zone: ZoneInfo, expected: str) -> str:
    """An email written before ``ARRIVALS_LATE_OR_NOT`` that said « en retard » of every
    declaration arrived since: which of them arrived before the date their company was held to,
    and what it would say now."""
    # Those nothing says of (``late`` None) are not named: the email erred on none of them.
    on_time = [a for a in since.arrivals if a.late is False]
    named = " ; ".join(
        f"celle {month_phrase(a.month)} de {a.company} (clause n° {a.clause_id}), arrivée le "
        f"{french_date(a.arrived_at.astimezone(zone).date())}"
        for a in on_time
    )
    which = "une déclaration arrivée" if len(on_time) == 1 else "des déclarations arrivées"
    wrong = f"elle dit en retard {which} sans retard, {named} ; " if on_time else ""
    return (
        "écrite avant que les synthèses disent « en retard » des seules déclarations arrivées "
        f"après la date due (6 décembre 2026) : {wrong}elle dirait aujourd'hui « {expected} »"
    )


_CUMUL = "Heures cumulées depuis le début"
_MONTH_HOURS = "Heures réalisées dans le mois"


def printed_since(body_text: str) -> str:
    """What a summary's text part says above its figures of what changed since the previous
    summary, on one line."""
    head = body_text.split("\n- ", 1)[0]
    kept = [p for p in head.split("\n\n") if p.strip() and not p.strip().startswith(_NOT_SINCE)]
    return " ".join(" ".join(kept).split())


def expected_since(summary: summaries.MonthlySummary, since: summary_email.SinceLast) -> str:
    """The same, as ``summary_email`` writes it for ``since``."""
    parts = [summary_email.unsent_notice(summary, since) or ""]
    changes = summary_email.changes_notice(summary, since)
    if changes:
        parts += [changes["intro"], *(f"– {item}" for item in changes["items"])]
    return " ".join(" ".join(parts).split())


def _since_last_findings(
    session: Session, email: SummaryEmail, summary: summaries.MonthlySummary, told: _Told
) -> tuple[list[str], list[str]]:
    """What the email says since its recipient's previous summary, against what the rows say
    for its moment (``summaries.since_last``: the previous summary, the declarations of its
    months corrected, cancelled or arrived since, the months without a summary); and, when it
    says so, that its reader can add it up: the previous email's printed cumul + the month's
    hours + the hours it lists = its printed cumul. An email of the older rule (nothing said,
    or « ma synthèse précédente » unnamed) that leaves out what the rule says now is a remark,
    when it may have been written before the rule (``SINCE_LAST_NAMED``)."""
    moment = email.created_at
    previous = told.previous(email)
    since = summaries.since_last(
        summary,
        told.of(email.buyer_id),
        previous,
        moment,
        told.skipped_by(moment),
        told.labels,
        told.called,
    )
    said = printed_since(email.body_text)
    expected = expected_since(summary, since)
    if not _same_facts(said, expected):
        older = not said or said.startswith(_OLDER_OPENING)
        if older and email.written_before(SINCE_LAST_NAMED):
            return [], [
                "écrite avant que les synthèses nomment leur synthèse précédente, les "
                "déclarations arrivées en retard et les synthèses non envoyées (6 décembre "
                f"2026) : elle dirait aujourd'hui « {expected or 'rien'} »"
            ]
        # Every arrival said « en retard », as the rules before ``ARRIVALS_LATE_OR_NOT`` did.
        all_late = summaries.as_before_on_time_arrivals(since)
        if email.written_before(SINCE_LAST_ZERO_ARRIVALS) and _same_facts(
            said, expected_since(summary, summaries.as_before_zero_arrivals(all_late))
        ):
            # Written before arrivals at 0 h were named: the older reading, a remark.
            return [], [
                "écrite avant que les synthèses nomment les déclarations arrivées en retard à "
                "0 h et disent d'une arrivée en retard puis corrigée les heures avec lesquelles "
                f"elle est arrivée (6 décembre 2026) : elle dirait aujourd'hui « {expected} »"
            ]
        if email.written_before(ARRIVALS_LATE_OR_NOT) and _same_facts(
            said, expected_since(summary, all_late)
        ):
            # Written before an arrival was said late only when it was: a remark naming those
            # it called late wrongly, which its reader may have held against their company.
            return [], [_on_time_remark(since, summary.zone, expected)]
        return [f"elle dit « {said or 'rien'} » de ce qui a changé depuis la synthèse "
                f"précédente, les données « {expected or 'rien'} »"], []  # fmt: skip
    if previous is None:
        return [], []
    recipient = email.key.split(":", 2)[2]
    before = told.emails.get(f"summary:{previous.month:%Y-%m}:{recipient}")
    if before is None:
        return [], []
    was = parse_hours(printed_figures(before.body_text).get(_CUMUL, "").split(" sur ")[0])
    figures = printed_figures(email.body_text)
    month = parse_hours(figures.get(_MONTH_HOURS, ""))
    cumul = parse_hours(figures.get(_CUMUL, "").split(" sur ")[0])
    if was is None or month is None or cumul is None:
        return [], []
    progress = summary.overall.progress
    if cumul != progress.hours_cumulated or month != progress.hours_month:
        return [], []  # the figures' own check says it, or what explains it
    listed = since.listed_hours
    if was + month + listed == cumul:
        return [], []
    return [
        f"son cumul ({french_hours(cumul)}) n'est pas celui de la synthèse précédente "
        f"({french_hours(was)}, {before.key}) plus les heures du mois ({french_hours(month)}) "
        f"et celles qu'elle nomme ({french_hours(listed)})"
    ], []


def check_summaries(
    session: Session,
    settings: Settings,
    emails: list[SummaryEmail],
    declarations: Declarations,
) -> tuple[list[Finding], list[Finding]]:
    if not emails:
        return [], []
    since = min(e.created_at for e in emails)
    changes = later_changes(session, declarations, since, settings.zone)
    problems: list[Finding] = []
    remarks: list[Finding] = []
    known = corrected_or_cancelled(declarations.all())
    # The lots whose dates changed after the first email, read once for all of them.
    dates = load_date_history(session, since)
    told = _Told.read(session, emails, declarations.all())
    for email in emails:
        found, noted = check_summary_email(session, settings, email, changes, known, dates, told)
        problems += found
        remarks += noted
    return problems, remarks
