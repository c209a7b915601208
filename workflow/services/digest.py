"""The facilitator's task digest ("récapitulatif des tâches"): what needs her today, most urgent first.

One email per working day at ``settings.digest_time`` local time, none on weekends and French public
holidays, none when there is nothing to do, no back-fill of missed days. The day is claimed in
``periodic_runs`` the first time a pass looks at it (sent or not), so later passes that day cost one
primary-key lookup and two instances never both send it.

Order: by category (undelivered emails, buyers without a contact, overdue declarations,
contracts ending behind the pace, lots in execution past their planned end, lots suspended past
it, incomplete awards, final reports, final reports outdated, eligibility to check, clauses
waiting in a stage), then by how late within it.

A final report the buyer was told, the lot's figures changed since, is a task (« Bilans à mettre
à jour ») on the very rule that refuses the closure (``services.outdated_reports``): the
facilitator learns it in the morning, not when the closure is refused.

A late company's line names each month missing (« de mai, juin, juillet, août et novembre
2026 »), a range only for three months or more without a gap (« de mai à août 2026 »): a month
declared in between is never said to be late. A lot closed or abandoned takes no declaration
(``declarations.column_problems``): its months still open are no task.

Every item ends with what to do, naming a ``clauses`` command that works at the clause's stage
(``tests/integration/test_digest.py`` runs each of them), and carries the same action as the
dashboard does it (``WebAction``): its words without any command, and the page where it is done.

The dashboard shows the first few tasks of each section (``compile_tasks``): each section is found
in two steps, what orders its tasks (weight, clause), read for all of them, then their words,
written only for those shown, so a territory with thousands of tasks costs a page of them. At
10^5 lots even reading what orders them was a second (73,000 months overdue): the database now
ranks and counts the late companies of the lots never suspended (``_first_overdue``), the lots
waiting in a stage and the final reports by the instant they changed stage, and sums the hours
of the contracts ending soon, and groups the emails in trouble (``_failures_by_cause``); the
lots once suspended are read from the open ladders' index alone and their days counted by
stretch (``_Stops``); the full digest (``compile_digest``) still reads them all, and
``tests/integration/test_dashboard_tasks_scale.py`` checks that both give the same tasks.
"""

from __future__ import annotations

import heapq
import logging
import re
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from itertools import groupby
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

from sqlalchemy import (
    Integer,
    Select,
    and_,
    any_,
    bindparam,
    case,
    func,
    literal_column,
    or_,
    select,
    text,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY, distinct_on
from sqlalchemy.orm import Session, aliased, load_only
from sqlalchemy.sql.elements import ColumnElement, TextClause

from workflow.adapters.dialects import is_postgresql
from workflow.adapters.mail.message import parse_recipients
from workflow.adapters.orm import (
    ASKED_AGAIN,
    ENDED_LOTS,
    FINAL_LOTS,
    OPEN_LADDERS,
    SUSPENSION_ROWS,
    AwardParty,
    Buyer,
    BuyerContact,
    Clause,
    ClauseHistory,
    Company,
    Correspondent,
    Declaration,
    DeclarationLadder,
    DeclarationLine,
    Market,
    Operation,
    OutboxMessage,
    Participant,
    PeriodicRun,
)
from workflow.adapters.templates import french_hours, french_percent, remembered
from workflow.adapters.templates import remembered_date as french_date
from workflow.adapters.templates import remembered_month as french_month
from workflow.adapters.types import RawDates, raw
from workflow.domain.calendar import (
    CalendarRules,
    LadderDays,
    add_working_days,
    at_local,
    expected_due_dates,
    is_working_day,
    local_date,
    month_schedule,
    pushed_due,
    suspended_days,
    working_days_between,
)
from workflow.domain.events import require_aware
from workflow.domain.stages import FINAL_STAGES, Stage
from workflow.domain.stages import LABELS as STAGE_LABELS
from workflow.domain.summary import (
    days_suspended,
    elapsed_fraction,
    fraction,
    is_behind,
    last_month_due,
    month_end,
)
from workflow.domain.vocabulary import PartyRole
from workflow.emails.digest import (
    CATEGORY_TITLES,
    KIND,
    Category,
    DayTasks,
    Digest,
    DigestItem,
    Section,
    WebAction,
    WebActionKind,
    declaration_action,
    declaration_web,
    digest_context,
    email_action,
    email_web,
    final_report_action,
    final_report_web,
    online_correction_action,
    online_correction_web,
    report_update_action,
    report_update_web,
    web_base,
)
from workflow.emails.ladder import KINDS as LADDER_KINDS
from workflow.emails.ladder import late_days_context, step_label, step_participle
from workflow.emails.phrases import month_phrase, months_said
from workflow.services.declaration_facts import CANCELLED_EVENT, CANCELLED_REASON, RECORDED_REASON
from workflow.services.departed_months import not_after_departure
from workflow.services.digest_awards import every_incomplete_award, first_incomplete_awards
from workflow.services.held_due_dates import asked_again_due
from workflow.services.held_notices import waiting_by_buyer
from workflow.services.history_companies import HistoryCompanies
from workflow.services.ladder_keys import withdrawn_by_service
from workflow.services.lot_calendars import lot_calendars, suspensions
from workflow.services.lot_ends import ends_of
from workflow.services.outage_copies import copy_folder, moment
from workflow.services.outbox import STATE_LABELS as OUTBOX_LABELS
from workflow.services.outbox import OutboxState, Recipient, outage_waiting, queue_email
from workflow.services.outdated_reports import OutdatedReport, changes_since, outdated_reports
from workflow.services.reminder_emails import (
    KEY_PREFIX,
    LadderHistory,
    SentStep,
    key_months,
    ladder_history,
    sent_state,
    without_replaced,
)
from workflow.services.summaries import claim_period
from workflow.settings import Settings

if TYPE_CHECKING:
    from workflow.runtime import App

log = logging.getLogger(__name__)

#: Babel spends tens of µs on each figure: a page of tasks writes the same months and many of
#: the same figures again at each request (``remembered`` keys on type and ``repr``, so equal
#: values written apart, ``1.0`` and ``1.00``, keep their own text).
_month_phrase = remembered(month_phrase)
_hours = remembered(french_hours)
_percent = remembered(french_percent)


JOB = "daily_digest"
#: A contract ending within this many days is checked against the pace.
ENDING_WITHIN_DAYS = 30


def _clause_label(clause_id: int, reference: str, lot: str, title: str, buyer: str) -> str:
    lot_text = f" lot {lot}" if lot else ""
    return f"clause n° {clause_id} (marché {reference}{lot_text} – {title}, {buyer})"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _days(count: int) -> str:
    """``1 jour``, ``3 jours``: French keeps 0 and 1 singular."""
    return f"{count} jour{'s' if count > 1 else ''}"


def _working_days(count: int) -> str:
    """``1 jour ouvré``, ``11 jours ouvrés``."""
    return f"{count} jour{'s' if count > 1 else ''} ouvré{'s' if count > 1 else ''}"


def _clause_columns() -> list[Any]:
    return [Clause.id, Market.reference, Clause.lot_number, Clause.lot_title, Buyer.name]


def _with_buyer(statement: Any) -> Any:
    return (
        statement.join(Market, Market.id == Clause.market_id)
        .join(Operation, Operation.id == Market.operation_id)
        .join(Buyer, Buyer.id == Operation.buyer_id)
    )


# --- Finding a section's tasks, then writing the first ones ---------------------------------------

T = TypeVar("T")


class _Found(NamedTuple, Generic[T]):
    """A task found, before its words are written: what orders it in its section (the weight,
    then the clause), and what its words are written from. A tuple: a section finds thousands
    of them at 10^4 lots, and a frozen dataclass costs several times more to build."""

    weight: int
    clause_id: int | None
    row: T


@dataclass(frozen=True)
class _Part:
    items: list[DigestItem]  # every task of the section, or at least its ``limit`` first
    count: int  # every task of the section


def _to_write(found: Sequence[_Found[T]], limit: int | None) -> list[_Found[T]]:
    """The tasks whose words are needed: all of them without a limit; else the ``limit`` first
    by rank, and every other one tied with the last of them, since only their titles, once
    written, tell which of those come first. In the order found, among equals, so that a sort
    of the written items is the very order of the full digest."""
    if limit is None or len(found) <= limit:
        return list(found)
    if limit <= 0:
        return []
    # The edge from a partial sort; only the few kept are sorted (stably: equals stay in the
    # order found, as a sort of them all would leave them). No rank is kept for the thousands
    # of others: each one kept is an object the collector walks again.
    edge_weight, edge_clause = heapq.nsmallest(limit, map(_rank, found))[-1]
    edge_weight = -edge_weight
    kept = [
        task
        for task in found
        if task.weight > edge_weight
        or (task.weight == edge_weight and (task.clause_id or 0) <= edge_clause)
    ]
    kept.sort(key=_rank)
    return kept


def _rank(task: _Found[Any]) -> tuple[int, int]:
    """The start of ``DigestItem.sort_key`` within a section; the title settles ties."""
    return (-task.weight, task.clause_id or 0)


def _part(
    found: Sequence[_Found[T]],
    write: Callable[[list[_Found[T]]], list[DigestItem]],
    limit: int | None,
) -> _Part:
    chosen = _to_write(found, limit)
    return _Part(write(chosen) if chosen else [], len(found))


def _chunks(ids: Iterable[int], size: int = 1000) -> Iterator[list[int]]:
    """Ids by the thousand: a territory's thousands of tasks never make one huge IN list."""
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


def _among(session: Session, column: Any, ids: list[int]) -> ColumnElement[bool]:
    """SQL: ``column`` is one of ``ids``. On PostgreSQL one array, not a parameter each: a
    statement of a thousand parameters costs milliseconds to write and to parse at each call
    (psycopg keeps the parsed form of short statements only)."""
    if is_postgresql(session):
        return column == any_(bindparam(None, ids, ARRAY(Integer)))  # type: ignore[no-any-return]
    return column.in_(ids)  # type: ignore[no-any-return]


def _ends_of(session: Session, clause_ids: Iterable[int]) -> dict[int, date]:
    """``lot_ends.ends_of``: the day the work ended of those of ``clause_ids`` that have one;
    on PostgreSQL by the thousand in one array (``_among``)."""
    if not is_postgresql(session):
        return ends_of(session, clause_ids)
    found: dict[int, date] = {}
    for chunk in _chunks(clause_ids):
        found.update(
            (cid, end)
            for cid, end in session.execute(
                select(Clause.id, Clause.end_date).where(
                    _among(session, Clause.id, chunk), Clause.end_date.is_not(None)
                )
            )
            if end is not None
        )
    return found


def _labels(session: Session, ids: Iterable[int], *extra: Any) -> dict[int, Any]:
    """By clause: the columns of its label (reference, lot, title, buyer), then ``extra``."""
    rows: dict[int, Any] = {}
    for chunk in _chunks(ids):
        statement = _with_buyer(select(*_clause_columns(), *extra).where(Clause.id.in_(chunk)))
        rows.update((row[0], row) for row in session.execute(statement))
    return rows


def _open_clause(clause_id: int, todo: str, anchor: str = "") -> WebAction:
    return WebAction(
        WebActionKind.OPEN_CLAUSE, "Ouvrir la clause", todo=todo, clause_id=clause_id, anchor=anchor
    )


# --- The six kinds of items -----------------------------------------------------------------------


STATE_LABELS: dict[str, str] = {
    OutboxState.FAILED: "refusé définitivement",
    OutboxState.DEAD: "abandonné après plusieurs tentatives",
    OutboxState.UNCERTAIN: "incertain (peut-être déjà arrivé)",
}


#: From this many failures with the same answer, the cause is the server or the settings, not
#: each address: they are one line of the digest, not one « corriger l'adresse » each.
SAME_CAUSE_FROM = 3


@dataclass(frozen=True)
class _Failure:
    """Messages that did not leave, with one state and one answer: one line when they are many
    (``SAME_CAUSE_FROM``), else one message."""

    state: str
    cause: str
    ids: tuple[int, ...]  # every message's number, or (``count`` given) the first ten
    #: How many different recipient domains the messages went to: one answer for many domains
    #: hints at the sending side, unless the code blames the address itself (5.1.x). None:
    #: not counted yet (``_failures_by_cause``), counted when written if the words need it.
    domains: int | None = 1
    count: int | None = None  # how many messages, when ``ids`` holds only the first ones

    @property
    def size(self) -> int:
        return len(self.ids) if self.count is None else self.count

    @property
    def grouped(self) -> bool:
        return self.state != OutboxState.UNCERTAIN and self.size >= SAME_CAUSE_FROM


#: What ``_failed_one`` reads of a message: never its bodies, the largest columns.
_FAILED_COLUMNS = (
    OutboxMessage.id,
    OutboxMessage.state,
    OutboxMessage.subject,
    OutboxMessage.recipients,
    OutboxMessage.last_error,
    OutboxMessage.refused_recipients,
    OutboxMessage.clause_id,
)


def _emails(session: Session, settings: Settings, now: datetime, limit: int | None) -> _Part:
    found: list[_Found[DigestItem | _Failure]] = [
        _Found(item.weight, item.clause_id, item) for item in _outage(session, settings, now)
    ]
    found.extend(_failures(session) if limit is None else _failures_by_cause(session))

    def write(chosen: list[_Found[DigestItem | _Failure]]) -> list[DigestItem]:
        singles = [
            task.row.ids[0]
            for task in chosen
            if isinstance(task.row, _Failure) and not task.row.grouped
        ]
        messages: dict[int, OutboxMessage] = {}
        for chunk in _chunks(singles):
            statement = (
                select(OutboxMessage)
                .options(load_only(*_FAILED_COLUMNS))
                .where(OutboxMessage.id.in_(chunk))
            )
            messages.update((message.id, message) for message in session.scalars(statement))
        items = []
        for task in chosen:
            row = task.row
            if isinstance(row, DigestItem):
                items.append(row)
            elif row.grouped:
                domains = _domains(session, row) if row.domains is None else row.domains
                items.append(
                    _same_cause(row.state, row.cause, list(row.ids), domains, count=row.size)
                )
            else:
                items.append(_failed_one(messages[row.ids[0]]))
        return items

    return _part(found, write, limit)


def _outage(session: Session, settings: Settings, now: datetime) -> list[DigestItem]:
    """Mail waiting for a route that is down (server out of reach, folder not writable): one line
    with how many wait, since when, and the cause, whatever the number of messages.

    What it says will happen is what the dispatcher does: a waiting message is tried again at its
    slot (6 hours at most after the one before); the first one that goes through makes all the
    others due, and they leave in the same pass; ``clauses mail send`` tries them all at once."""
    waiting = outage_waiting(session)
    if waiting is None:
        return []
    zone = settings.zone
    count = waiting.count
    retry = waiting.next_retry
    detail = f"Le plus ancien attend depuis le {moment(waiting.oldest, zone)}"
    if retry is not None and retry > now:
        detail += f" ; nouvel essai automatique le {moment(retry, zone)}"
    else:
        detail += " ; nouvel essai au prochain passage du service"
    detail += f". Dernière erreur : {waiting.cause}"
    copy = ""
    if settings.mail_transport == "smtp":
        copy = f" Tant que la panne dure, ce résumé est aussi copié dans {copy_folder(settings)}/."
    return [
        DigestItem(
            Category.EMAIL,
            weight=count + 1_000_000,  # before any single message
            title=(
                f"Envoi des courriels impossible : {count} courriel{'s' if count > 1 else ''} "
                "en attente"
            ),
            detail=detail,
            action=(
                "Rétablir le serveur d'envoi ou les réglages CLAUSES_SMTP_* (ou le dossier "
                "CLAUSES_MAIL_DIR). Ensuite, au prochain essai automatique, dès qu'un courriel "
                "passe, tous ceux qui attendent partent dans le même passage ; « clauses mail "
                f"send » les envoie tous tout de suite.{copy}"
            ),
            web=WebAction(
                WebActionKind.OUTBOX,
                "Voir les courriels en attente",
                todo=(
                    "Rétablir le serveur d'envoi ou les réglages CLAUSES_SMTP_* (ou le dossier "
                    "CLAUSES_MAIL_DIR). Ensuite, au prochain essai automatique, dès qu'un "
                    "courriel passe, tous ceux qui attendent partent dans le même passage."
                    f"{copy}"
                ),
                state=OutboxState.PENDING.value,
            ),
        )
    ]


def _failures(session: Session) -> list[_Found[DigestItem | _Failure]]:
    """Refused, given-up and uncertain messages, grouped by state and answer in the order of
    their first message; a group's weight and clause are told from its numbers alone."""
    statement = (
        select(
            OutboxMessage.id,
            OutboxMessage.state,
            OutboxMessage.last_error,
            OutboxMessage.clause_id,
            OutboxMessage.recipients,
        )
        .where(OutboxMessage.state.in_(tuple(STATE_LABELS)))
        .order_by(OutboxMessage.id)
    )
    by_cause: dict[tuple[str, str], list[tuple[int, int | None]]] = {}
    domains: dict[tuple[str, str], set[str]] = {}
    for message_id, state, last_error, clause_id, recipients in session.execute(statement):
        cause = "" if state == OutboxState.UNCERTAIN else (last_error or "inconnue")
        by_cause.setdefault((state, cause), []).append((message_id, clause_id))
        domains.setdefault((state, cause), set()).update(
            domain.lower() for domain in _DOMAIN.findall(recipients or "")
        )
    found: list[_Found[DigestItem | _Failure]] = []
    for (state, cause), messages in by_cause.items():
        group = _Failure(
            state,
            cause,
            tuple(message_id for message_id, _ in messages),
            domains=len(domains[state, cause]),
        )
        if group.grouped:
            weight = (2 if state == OutboxState.DEAD else 1) * 1000 + len(messages)
            found.append(_Found(weight, None, group))
        else:
            found.extend(
                _Found(
                    2 if state == OutboxState.DEAD else 1, clause_id, _Failure(state, cause, (n,))
                )
                for n, clause_id in messages
            )
    return found


def _cause() -> ColumnElement[str]:
    """SQL: the answer a troubled message is grouped by, as ``_failures`` tells it."""
    return case(
        (OutboxMessage.state == OutboxState.UNCERTAIN.value, ""),
        (func.coalesce(OutboxMessage.last_error, "") == "", "inconnue"),
        else_=OutboxMessage.last_error,
    )


def _failures_by_cause(session: Session) -> list[_Found[DigestItem | _Failure]]:
    """``_failures``, grouped by the database: at 10^5 lots, 13,082 messages read and grouped
    here, each one's recipients parsed, were 40-60 ms for three groups. Each group's first ten
    messages come back with its size (a group of ``SAME_CAUSE_FROM`` or more is one line that
    names ten of them; a smaller one is its one or two messages), and every uncertain one (a
    line each); a group's recipients' domains are counted only when its words need them
    (``_domains``). The same tasks in the same order: the groups in the order of their first
    message, each one's messages in theirs."""
    state, cause = OutboxMessage.state, _cause()
    group = (state, cause)
    ranked = (
        select(
            OutboxMessage.id,
            state,
            cause.label("cause"),
            OutboxMessage.clause_id,
            func.row_number().over(partition_by=group, order_by=OutboxMessage.id).label("rank"),
            func.count().over(partition_by=group).label("size"),
        )
        .where(state.in_(tuple(STATE_LABELS)))
        .subquery("ranked")
    )
    rows = session.execute(
        select(ranked.c.id, ranked.c.state, ranked.c.cause, ranked.c.clause_id, ranked.c.size)
        .where(or_(ranked.c.rank <= 10, ranked.c.state == OutboxState.UNCERTAIN.value))
        .order_by(ranked.c.id)
    ).all()
    # By group, in the order of its first message: its size and the messages read.
    groups: dict[tuple[str, str], tuple[int, list[tuple[int, int | None]]]] = {}
    for message_id, message_state, said, clause_id, size in rows:
        groups.setdefault((message_state, said), (size, []))[1].append((message_id, clause_id))
    found: list[_Found[DigestItem | _Failure]] = []
    for (message_state, said), (size, messages) in groups.items():
        weight = 2 if message_state == OutboxState.DEAD else 1
        ids = tuple(message_id for message_id, _ in messages)
        failure = _Failure(message_state, said, ids, domains=None, count=size)
        if failure.grouped:
            found.append(_Found(weight * 1000 + size, None, failure))
        else:
            found.extend(
                _Found(weight, clause_id, _Failure(message_state, said, (message_id,)))
                for message_id, clause_id in messages
            )
    return found


def _domains(session: Session, group: _Failure) -> int:
    """How many recipient domains a group's messages went to (``_failures``), read only when
    its words say it: an answer blaming the address never does."""
    if _blame(group.cause, 2).side != "sender":
        return 1  # said the same whatever their number
    domains: set[str] = set()
    for recipients in session.scalars(
        select(OutboxMessage.recipients).where(
            OutboxMessage.state == group.state, _cause() == group.cause
        )
    ):
        domains.update(domain.lower() for domain in _DOMAIN.findall(recipients or ""))
    return len(domains)


#: The domain of each address of a stored recipients list (``Nom <x@domaine.fr>`` a line).
_DOMAIN = re.compile(r"@([^\s<>,;@]+?)>?(?=[\s,;]|$)")
#: An enhanced status code (RFC 3463, ``5.1.1``) and a reply code (RFC 5321, ``550``).
_ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_REPLY = re.compile(r"(?<![\d.])([245]\d\d)(?![\d.])")
#: What a 5.1.x code says of the recipient's address (RFC 3463 3.2), as she acts on it.
_ADDRESS_MEANINGS = {
    "1": "l'adresse n'existe pas chez le destinataire",
    "2": "le domaine de l'adresse n'existe pas",
    "3": "l'adresse est mal écrite",
    "6": "le destinataire a changé d'adresse",
    "10": "le domaine de l'adresse ne reçoit pas de courriel",
}
#: Reply codes that speak of the session, not of a message: the server refused the connection
#: (421), asks for a login (530) or refused it (535); so does a connection cut mid-message.
_SESSION_REPLIES = frozenset({"421", "530", "535"})
#: Words of a reply that refuses the sending side: relaying, authentication, SPF, DKIM.
_SENDER_WORDS = re.compile(
    r"relay|relais|authenticat|authentific|\bspf\b|\bdkim\b|\bdmarc\b", re.IGNORECASE
)
#: Words of a reply that refuses the recipient's address, whatever its code.
_RECIPIENT_WORDS = re.compile(
    r"recipient address rejected|user unknown|unknown user|no such user|mailbox unavailable"
    r"|destinataire inconnu|boîte aux lettres inconnue",
    re.IGNORECASE,
)


class _Blame(NamedTuple):
    """Whose side an answer shared by a group of emails points to: ``address`` (each
    recipient's address), ``sender`` (the sending server or its settings), or ``""`` (the
    answer does not say); ``code`` is the code that says so."""

    side: str
    code: str
    meaning: str = ""


def _blame(cause: str, domains: int) -> _Blame:
    """RFC 3463: ``x.1.y`` is the address (except 1.7 and 1.8, the sender's own), and so is a
    reply whose words refuse the recipient; ``x.3`` and ``x.5`` the mail system and the protocol:
    the sending side; ``x.4`` and ``x.7`` (network, policy: relay denied, SPF, DKIM, or a
    recipient's server refusing) the sending side only when several domains answer the same.
    Without such a code, one answer for several domains hints at the sending side; else
    nothing is claimed."""
    enhanced = _ENHANCED.search(cause)
    if enhanced:
        code = ".".join(enhanced.groups())
        _, subject, detail = enhanced.groups()
        if subject == "1" and detail not in {"7", "8"}:
            meaning = _ADDRESS_MEANINGS.get(detail, "l'adresse du destinataire est refusée")
            return _Blame("address", code, meaning)
        if _RECIPIENT_WORDS.search(cause):
            # Microsoft 365 refuses an unknown recipient as « 5.4.1 Recipient address
            # rejected »: the words name the address whatever the code says.
            return _Blame("address", code, "l'adresse du destinataire est refusée")
        if subject in {"1", "3", "5"} or _SENDER_WORDS.search(cause):
            return _Blame("sender", code)
        # Network (x.4) and policy (x.7) answers come from either side: the sending side only
        # when several domains give the same one.
        return _Blame("sender" if domains > 1 else "", code)
    reply = _REPLY.search(cause)
    code = reply.group(1) if reply else ""
    if code in _SESSION_REPLIES or "connexion interrompue" in cause or domains > 1:
        return _Blame("sender", code)
    return _Blame("", code)


def _same_cause(
    state: str, cause: str, numbers: list[int], domains: int = 1, count: int | None = None
) -> DigestItem:
    """One line for ``count`` messages (all of ``numbers`` when not given; else its first ten
    at least) refused, given up with the same answer ``cause``."""
    count = len(numbers) if count is None else count
    shown = ", ".join(str(n) for n in numbers[:10]) + (" …" if count > 10 else "")
    label = STATE_LABELS[state].replace("refusé", "refusés").replace("abandonné", "abandonnés")
    blame = _blame(cause, domains)
    if blame.side == "address":
        said = f"La même réponse pour tous : {blame.meaning} ({blame.code})."
        action = (
            f"{said} Corrigez l'adresse de chaque destinataire (clauses company "
            "correspondent-edit pour le correspondant d'une entreprise, clauses buyer "
            "contact-edit pour le contact d'un donneur d'ordre), puis remettez en file chaque "
            "courriel corrigé (clauses mail retry N°) ; il part à l'adresse corrigée. Les "
            "remettre en file sans corriger les adresses les ferait refuser de nouveau. Leurs "
            f"destinataires : clauses mail list --state {state}."
        )
        todo = (
            f"{said} Corrigez l'adresse de chaque destinataire (page Corrections : le "
            "correspondant de l'entreprise ou le contact du donneur d'ordre), puis renvoyez "
            "chaque courriel depuis le journal des courriels ; il part à l'adresse corrigée. "
            f"Le journal des courriels {OUTBOX_LABELS[state]}s montre leurs destinataires."
        )
    else:
        if blame.side == "sender":
            where = f" ({blame.code})" if blame.code else ""
            many = f", adressés à {domains} domaines différents" if domains > 1 else ""
            said = (
                f"La même réponse{where} pour tous{many} : la cause est le serveur d'envoi ou "
                "ses réglages (CLAUSES_SMTP_*), pas les adresses."
            )
        else:
            said = (
                "Une même réponse pour tous ; lisez-la : elle dit si la cause est l'adresse des "
                "destinataires, leur serveur ou le serveur d'envoi."
            )
        action = (
            f"{said} Une fois la cause réglée, les remettre tous en file "
            "(clauses mail retry --all-failed)."
        )
        todo = f"{said} Une fois la cause réglée, les renvoyer depuis le journal des courriels."
    return DigestItem(
        Category.EMAIL,
        weight=(2 if state == OutboxState.DEAD else 1) * 1000 + count,
        title=f"{count} courriels {label}, tous pour la même raison",
        detail=f"Erreur : {cause} (N° {shown}).",
        action=action,
        web=WebAction(
            WebActionKind.OUTBOX,
            f"Voir les courriels {OUTBOX_LABELS[state]}s",
            todo=todo,
            state=state,
        ),
    )


def readable_recipients(stored: str) -> str:
    """``Hélène Duprat <helene.duprat@example.org>``: the outbox keeps names as the wire writes
    them (``=?utf-8?b?…?=`` once accented); a person reads them decoded."""
    try:
        return ", ".join(
            f"{box.name} <{box.address}>" if box.name else box.address
            for box in parse_recipients(stored)
        )
    except ValueError:  # an address the dispatcher refused: shown as it was written
        return ", ".join(line for line in stored.splitlines() if line)


def _failed_one(message: OutboxMessage) -> DigestItem:
    recipients = readable_recipients(message.recipients)
    detail = f"Erreur : {message.last_error or 'inconnue'}"
    if message.state == OutboxState.UNCERTAIN:
        # Its sender stopped before the server's answer (CLAUSES_UNCERTAIN_MAIL=ask).
        detail = "L'envoi a été interrompu avant la réponse du serveur."
    if message.refused_recipients:
        refused = ", ".join(message.refused_recipients.split())
        detail += f" ; adresses refusées : {refused}"
    return DigestItem(
        Category.EMAIL,
        weight=2 if message.state == OutboxState.DEAD else 1,
        title=f"Courriel {STATE_LABELS[message.state]} : « {message.subject} » à {recipients}",
        detail=detail,
        action=(
            "Demander au destinataire s'il l'a reçu ; sinon le renvoyer "
            f"(clauses mail retry {message.id})."
            if message.state == OutboxState.UNCERTAIN
            else email_action(message.id, message.state)
        ),
        clause_id=message.clause_id,
        web=email_web(message.id, message.state, message.clause_id),
    )


#: A month's plan is the same for every lot with the same rules: a page of late companies has
#: a few months and rules among its thirty lines (plans are immutable, holidays fixed).
_month_schedule = lru_cache(maxsize=1024)(month_schedule)


def ladder_state(
    ladder: DeclarationLadder,
    history: LadderHistory,
    rules: CalendarRules,
    settings: Settings,
    *,
    suspended: bool = False,
    today: date | None = None,
) -> str:
    """Where a month's reminder ladder stands, in French, told from the outbox.

    Each step before the next one is said « envoyé » with its date only when an email covering
    that month exists (« en cours d'envoi », « non distribué » when it did not leave); a step
    passed without any email is said « sauté, non envoyé ». Then the next step and its date; of
    a lot ``suspended``, no date: nothing leaves before the resumption, which pushes the step
    by the days of the suspension (the date kept in the ladder, passed, was read « alerte au
    donneur d'ordre prévue le 1er juin 2027 » a week into a suspension; user trial)."""
    zone = settings.zone
    schedule = _month_schedule(ladder.month, rules, zone)
    emails = history.get((ladder.clause_id, ladder.company_id, ladder.month), [])
    parts: list[str] = []
    for scheduled in schedule.steps:
        name = scheduled.name
        label = step_label(name)
        if name == ladder.next_step:
            if suspended:
                when = (
                    " après la reprise du lot (suspendu), à une date repoussée des jours de "
                    "suspension"
                )
            elif ladder.next_step_at:
                when = f" le {french_date(local_date(ladder.next_step_at, zone))}"
            else:
                when = ""
            parts.append(f"{label} {step_participle(name, 'prévu')}{when}")
            break
        sent = [e for e in emails if e.step == name]
        if sent and withdrawn_by_service(sent[0].state, sent[0].note):
            # Withdrawn by the service (a suspension, a finish, the month declared): it never
            # left, and goes again if its month is still owed.
            parts.append(
                f"{label} {step_participle(name, 'retiré')}, {step_participle(name, 'non envoyé')}"
            )
        elif sent and sent[0].state == OutboxState.CANCELLED.value:
            # Taken back by the facilitator (``cancel_email``): it never left.
            parts.append(
                f"{label} {step_participle(name, 'annulé')}, {step_participle(name, 'non envoyé')}"
            )
        elif sent:
            parts.append(f"{label} {sent_state(sent[0], zone, today)}")
        else:
            parts.append(
                f"{label} {step_participle(name, 'sauté')}, {step_participle(name, 'non envoyé')}"
            )
    return " ; ".join(parts)


class _Overdue(NamedTuple):
    #: Its ladder's number, or None when read from the open ladders' index alone
    #: (``_overdue``): its ladder is then found by lot, company and month (``_late_items``).
    ladder_id: int | None
    month: date
    due: date  # the due date the company is held to (the call's, pushed by suspended days)


class _LateCompany(NamedTuple):
    clause_id: int
    company_id: int
    oldest: _Overdue  # the oldest month overdue
    overdue: tuple[date, ...]  # every month overdue, in order: the title names each one
    late: int  # counted days since the oldest month's due date
    #: The lot's suspended days when it was ever suspended (``_overdue``), else None: only
    #: then may ``late`` leave some out, which its line says (``_late_days``).
    stops: _Stops | None = None

    @property
    def months(self) -> int:
        """How many months are overdue."""
        return len(self.overdue)


def _taking_declarations() -> ColumnElement[bool]:
    """The ladders of lots that still take declarations (execution, suspended, follow-up): a
    ladder's lot has been in execution, so those are the lots not closed or abandoned. Written
    as the few final lots to leave out, read from their partial index ``ix_clauses_final`` (a
    hashed anti-join, about 2 ms at 10^5 lots), rather than the many to keep (a semi-join over
    60,000 lots, 50 ms)."""
    return DeclarationLadder.clause_id.not_in(select(Clause.id).where(text(FINAL_LOTS)))


def _not_after_departure() -> ColumnElement[bool]:
    """A ladder's month is not after the last month of a company that left the site
    (``company_departures``: its ladder, called before the departure was recorded, stopped then
    and is owed no more); the few companies that left read from their partial index."""
    return not_after_departure(
        DeclarationLadder.clause_id, DeclarationLadder.company_id, DeclarationLadder.month
    )


def overdue_phrase(months: Sequence[date]) -> str:
    """The months overdue as the title says them: ``de mai 2026``; a run of three months or more
    without a gap ``de mai à août 2026`` (``de novembre 2026 à février 2027``); else each month
    named, ``de mai, juin, juillet, août et novembre 2026``: a month declared in between is never
    said to be missing."""
    ordered = sorted(set(months))
    first, last = ordered[0], ordered[-1]
    if len(ordered) == 1:
        return _month_phrase(first)
    head = _month_phrase(first).removesuffix(french_month(first))  # « de » or « d' »
    span = (last.year - first.year) * 12 + last.month - first.month + 1
    if len(ordered) >= 3 and span == len(ordered):
        start = french_month(first)
        if first.year == last.year:
            start = start.rsplit(" ", 1)[0]
        return f"{head}{start} à {french_month(last)}"
    # Each month by its name, the year after the last month of each year.
    names = [
        french_month(month)
        if n == len(ordered) - 1 or ordered[n + 1].year != month.year
        else french_month(month).rsplit(" ", 1)[0]
        for n, month in enumerate(ordered)
    ]
    return f"{head}{', '.join(names[:-1])} et {names[-1]}"


def _overdue(
    session: Session,
    today: date,
    settings: Settings,
    only: ColumnElement[bool] | None = None,
    numbered: bool = True,
) -> list[_Found[tuple[Any, ...]]]:
    """Each company x lot with months overdue, weighed by how late its oldest one is; read from
    the ladders' dates alone, for every one of them (the count, and the order, need them all),
    or for the lots ``only`` selects. Thousands of months at 10^4 lots: plain tuples, each date
    computed once, the months left as read until one is written (``_late_company``)."""
    zone = settings.zone
    # Written as the partial index ``ix_declaration_ladders_open`` is, so that it is used.
    late_ladders = and_(
        text(OPEN_LADDERS),
        DeclarationLadder.due_on < today,
        _taking_declarations(),
        _not_after_departure(),
    )
    if only is not None:
        late_ladders = and_(late_ladders, only)
    # Thousands of rows where a few dates repeat: read raw, each distinct value converted once.
    # Not ``numbered``: only the columns of ``ix_declaration_ladders_open``, the index alone
    # read, not the ladders' rows (with their number, 7,200 pages of the table for 3,000 months
    # of the lots once suspended at 10^5 lots, 50-80 ms); the ladders written are then found
    # by their month (``_late_items``). The full digest writes every one: by number.
    number: Any = DeclarationLadder.id if numbered else literal_column("NULL")
    statement = (
        select(
            number,
            DeclarationLadder.clause_id,
            DeclarationLadder.company_id,
            raw(DeclarationLadder.month),
            raw(DeclarationLadder.due_on),
            raw(DeclarationLadder.called_at),
        )
        .where(late_ladders)
        .order_by(
            DeclarationLadder.clause_id, DeclarationLadder.company_id, DeclarationLadder.month
        )
    )
    # On the connection: the session's ORM layer, of no use for columns, costs more than the
    # reading itself for so many rows.
    candidates = session.connection().execute(statement).all()
    if not candidates:
        return []
    lots = set(map(_LOT, candidates))
    # Months asked again after a cancelled declaration (a few): late from that day once their
    # due date had passed (``held_due_dates.asked_again_due``), as their reminders count it.
    again = _asked_again(session, lots)
    suspended = suspensions(session, lots)
    # A month after the day the work ended is owed no more (``lot_ends``): its ladder, called
    # before the end was recorded, stays for the emails it sent, but is not late.
    ended = _ends_of(session, lots)
    # Lateness is told in the days the ladder counts (working days, suspension excluded), as
    # the alert to the buyer tells it: « 15 jours ouvrés de retard » in both.
    never = LadderDays(suspended_days([], zone, today))
    days_of = {
        cid: _Stops(stretches, zone, today) for cid, stretches in suspended.items() if stretches
    }
    read = RawDates()
    # Most lots were never suspended and their calls left on a few days: the due date of such a
    # month is told by its due date and its call as read, computed once per pair of them.
    pushed: dict[tuple[Any, Any], date] = {}

    def due_of(due_read: Any, called_read: Any, cid: int | None) -> date:
        if called_read is None:
            return read.day(due_read)
        # A pass calls hundreds of companies in the same minute: one time zone conversion each.
        called_on = local_date(read.instant(called_read), zone)
        key = (due_read, called_read)
        due = pushed.get(key)
        if due is None:
            due = pushed[key] = pushed_due(read.day(due_read), called_on, never)
        # A suspended lot's month whose call is followed by none of its suspended days up to the
        # due date it would have unsuspended has that date (only the days after the call, up to
        # the due date, push it), and most of a suspended lot's months are such.
        if cid is not None and days_of[cid].touches(called_on, due):
            return days_of[cid].pushed(read.day(due_read), called_on)
        return due

    # A never suspended lot's month is told by its due date and its call as read: its due date,
    # whether it is overdue and how late, once per such pair (a dozen at 10^4 lots).
    never_late: dict[tuple[Any, Any], tuple[date, int] | None] = {}

    def late_pair(pair: tuple[Any, Any]) -> tuple[date, int] | None:
        due = due_of(pair[0], pair[1], None)
        told = never_late[pair] = (due, never.between(due, today)) if due < today else None
        return told

    # By company x lot (read in that order, so each one's months come together): (lot, company,
    # oldest's ladder (None when not ``numbered``), its month, its due date, every month overdue
    # (months still as read), the lot's suspended days (None when never suspended)),
    # weighed by how late the oldest is. Thousands of them: each a tuple made once.
    found: list[_Found[tuple[Any, ...]]] = []
    for (cid, company_id), rows in groupby(candidates, _LOT_COMPANY):
        days = days_of.get(cid)
        end = ended.get(cid)
        count = late = 0
        first: tuple[Any, Any, date] | None = None
        overdue: list[Any] = []
        for ladder_id, _, _, month_read, due_read, called_read in rows:
            if end is not None and read.day(month_read) > end:
                continue
            asked = again.get((cid, company_id, read.day(month_read))) if again else None
            if asked is not None:
                due = asked_again_due(
                    due_of(due_read, called_read, None if days is None else cid), asked
                )
                if due >= today:
                    continue
                if not count and days is None:
                    late = never.between(due, today)
            elif days is None:
                pair = (due_read, called_read)
                told = never_late[pair] if pair in never_late else late_pair(pair)
                if told is None:
                    continue
                due = told[0]
                if not count:
                    late = told[1]
            else:
                due = due_of(due_read, called_read, cid)
                if due >= today:
                    continue
            if not count:
                first = (ladder_id, month_read, due)
            overdue.append(month_read)
            count += 1
        if first is not None:
            if days is not None:
                late = days.between(first[2], today)
            found.append(_Found(late, cid, (cid, company_id, *first, tuple(overdue), days)))
    return found


#: Working days in (``_EPOCH``, ``_EPOCH`` + n days], by n: a lot suspended for months counts
#: hundreds of days at each of its months, and counting them one by one was most of the time
#: its months took (``_Stops``). Made longer when a later day is asked, never changed.
_EPOCH = date(2000, 1, 1)
_WORKING_UPTO: list[int] = [0]
_FAR = 366 * 100


def _working_days_in(after: date, through: date) -> int:
    """``working_days_between``: the working days in (``after``, ``through``]."""
    global _WORKING_UPTO
    if through <= after:
        return 0
    start, end = (after - _EPOCH).days, (through - _EPOCH).days
    if start < 0 or end > _FAR:
        return working_days_between(after, through)
    counts = _WORKING_UPTO
    if end >= len(counts):
        # A new list, the old one kept whole: another thread reads either, both right.
        grown = list(counts)
        total = grown[-1]
        for n in range(len(grown), end + 367):
            total += is_working_day(_EPOCH + timedelta(days=n))
            grown.append(total)
        _WORKING_UPTO = counts = grown
    return counts[end] - counts[start]


class _Stops:
    """A lot's suspended days (``suspended_days``) as the stretches of dates they make, giving
    what ``LadderDays`` of those days gives, without a set of every day: at 10^5 lots, 1,942
    lots suspended for months, whose sets of days, built, sorted and walked day by day, were
    most of the 100 ms their 3,000 months took."""

    def __init__(self, intervals: Sequence[Any], zone: Any, until: date) -> None:
        spans: list[tuple[date, date]] = []
        for interval in intervals:
            first = local_date(interval.start, zone)
            last = local_date(interval.end, zone) if interval.end is not None else max(until, first)
            if last >= first:
                spans.append((first, last))
        spans.sort()
        # Stretches that overlap or touch are one: the same days.
        merged: list[tuple[date, date]] = []
        for first, last in spans:
            if merged and first <= merged[-1][1] + timedelta(days=1):
                if last > merged[-1][1]:
                    merged[-1] = (merged[-1][0], last)
            else:
                merged.append((first, last))
        self.spans = merged

    def touches(self, after: date, through: date) -> bool:
        """Whether a suspended day lies in (``after``, ``through``]."""
        return after < through and any(
            first <= through and last > after for first, last in self.spans
        )

    def between(self, start: date, end: date) -> int:
        """``LadderDays.between``: the counted days in (``start``, ``end``]."""
        if end <= start:
            return 0
        stopped = sum(
            _working_days_in(max(first - timedelta(days=1), start), min(last, end))
            for first, last in self.spans
        )
        return _working_days_in(start, end) - stopped

    def pushed(self, due_on: date, called_on: date) -> date:
        """``pushed_due(due_on, called_on, LadderDays(days))``: ``due_on`` moved later by the
        suspended working days between the call and it; each stretch passed over whole."""
        count = working_days_between(called_on, due_on)
        current = called_on
        for first, last in self.spans:
            if last <= current:
                continue
            free = _working_days_in(current, first - timedelta(days=1))
            if free >= count:
                break
            count -= free
            current = last
        return add_working_days(current, count)

    def ladder_days(self, after: date, through: date) -> LadderDays:
        """``LadderDays`` of the suspended days of the stretches that touch (``after``,
        ``through``]: what ``LadderDays.between`` and ``suspended_spans`` read of that span,
        without the days of the lot's other suspensions."""
        return LadderDays(
            frozenset(
                first + timedelta(days=n)
                for first, last in self.spans
                if first <= through and last > after
                for n in range((last - first).days + 1)
            )
        )


#: A late month's lot, and its lot and company, as ``_overdue`` reads them.
_LOT = itemgetter(1)
_LOT_COMPANY = itemgetter(1, 2)


def _late_company(row: tuple[Any, ...], late: int, read: RawDates) -> _LateCompany:
    """A company x lot found by ``_overdue``, its months as dates: for those written only."""
    cid, company_id, ladder_id, first, due, overdue, stops = row
    oldest = _Overdue(ladder_id, read.day(first), due)
    return _LateCompany(cid, company_id, oldest, tuple(map(read.day, overdue)), late, stops)


def _asked_again(session: Session, lots: set[int]) -> dict[tuple[int, int, date], date]:
    """The day each open month of ``lots`` was asked again after a cancelled declaration
    (``DeclarationLadder.asked_again_on``): the few ladders of the partial index
    ``ix_declaration_ladders_asked_again``, read whole and kept for ``lots``."""
    ladder = DeclarationLadder
    found: dict[tuple[int, int, date], date] = {}
    for cid, company_id, month, day in session.execute(
        select(ladder.clause_id, ladder.company_id, ladder.month, ladder.asked_again_on).where(
            text(ASKED_AGAIN)
        )
    ):
        if cid in lots and day is not None:
            found[(cid, company_id, month)] = day
    return found


def _asked_again_lots() -> Select[int]:
    """The lots with a month asked again after a cancelled declaration: read whole by
    ``_overdue``, as the lots once suspended are (``_first_overdue``)."""
    again = aliased(DeclarationLadder, name="asked_again")
    # Written as the partial index's own predicate, so that the planner reads it alone.
    return select(again.clause_id).where(
        again.asked_again_on.is_not(None), again.declared_at.is_(None)
    )


def _first_overdue(
    session: Session, today: date, settings: Settings, limit: int
) -> tuple[list[_Found[tuple[Any, ...]]], int]:
    """``_overdue``'s ``limit`` first (and more), and how many it finds, without reading every
    month overdue: at 10^5 lots they are 73,000 months of 49,000 companies x lots, and reading
    them took most of the dashboard's second.

    Most lots were never suspended. Without a suspended day, ``pushed_due`` gives the due date
    or the working day before it (or the call's day when no working day lies between them), or
    the call's day when the call left after the due date: such a month is overdue exactly when
    its due date and the day of its call are both before today, and when its call left on or
    before its due date it is as many working days late as its due date says. So the database
    finds each company x lot's oldest month owed (a month after the lot's end is owed no more:
    ``lot_ends``; those months come last, so the oldest overdue is owed or none is) and counts
    them by that month's due date; the days late of each date, a few dozen dates, tell which
    dates hold the ``limit`` first, and only the companies x lots of those dates are read (of
    the last date, those of the lowest lots: a tie is settled by the lot). Those whose oldest
    month was called after its due date are read too, and the lots once suspended (a few
    hundred) are read whole by ``_overdue``. The same tasks as ``_overdue``, in the same order
    (``tests/integration/test_dashboard_tasks_scale.py`` compares them)."""
    zone = settings.zone
    ladder = DeclarationLadder
    # The lots once suspended: found from them (a few hundred rows of the partial index).
    # And the lots with a month asked again after a cancelled declaration (a handful): late
    # from that day, which the database's count by due date does not know.
    suspended_once = or_(
        ladder.clause_id.in_(select(ClauseHistory.clause_id).where(text(f"({SUSPENSION_ROWS})"))),
        ladder.clause_id.in_(_asked_again_lots()),
    )
    their_months: ColumnElement[bool] = suspended_once
    if is_postgresql(session):
        # Their months looked up lot by lot in the open ladders' index (3,096 months of 1,942
        # lots at 10^5: 7 ms), not found among every late month by a merge with them (18 ms).
        lots = session.scalars(
            select(ClauseHistory.clause_id)
            .where(text(f"({SUSPENSION_ROWS})"))
            .union(_asked_again_lots())
        ).all()
        their_months = ladder.clause_id == any_(bindparam("suspended_once", lots, ARRAY(Integer)))
    found = _overdue(session, today, settings, their_months, numbered=False)
    midnight = at_local(today, time(0), zone)
    # Only the open ladders' index columns: their index alone is read (the ladder's number is
    # read below for those taken).
    late = select(
        ladder.clause_id,
        ladder.company_id,
        ladder.month,
        ladder.due_on,
        # Called after the midnight starting its due date (as UTC: a superset of a call on a
        # later local day); such a month's lateness is counted from its call.
        and_(ladder.called_at.is_not(None), ladder.called_at > ladder.due_on).label("after"),
    ).where(
        text(OPEN_LADDERS),
        ladder.due_on < today,
        or_(ladder.called_at.is_(None), ladder.called_at < midnight),
        ~suspended_once,
        _taking_declarations(),
        _not_after_departure(),
    )
    # Each company x lot's oldest month overdue: read in the open ladders' index order.
    if is_postgresql(session):
        first = (
            late.ext(distinct_on(ladder.clause_id, ladder.company_id))
            .order_by(ladder.clause_id, ladder.company_id, ladder.month)
            .subquery("late")
        )
    else:
        ranked = late.add_columns(
            func.row_number()
            .over(partition_by=(ladder.clause_id, ladder.company_id), order_by=ladder.month)
            .label("rank")
        ).subquery("ranked")
        columns = [ranked.c[column.name] for column in late.selected_columns]
        first = select(*columns).where(ranked.c.rank == 1).subquery("late")
    # Owed: not after the lot's end (the partial index ``ix_clauses_ended``, migration 0019).
    ended = (
        select(Clause.id)
        .where(
            Clause.id == first.c.clause_id,
            text(ENDED_LOTS),
            Clause.end_date < first.c.month,
        )
        .exists()
    )
    oldest = select(first).where(~ended).subquery("oldest")
    # By due date (a few dozen) and whether called after it, how many: one pass, no sort.
    by_due = session.execute(
        select(oldest.c.due_on, oldest.c.after, func.count()).group_by(
            oldest.c.due_on, oldest.c.after
        )
    ).all()
    counts = {due_on: n for due_on, after, n in by_due if not after}
    called_after = sum(n for _, after, n in by_due if after)
    count = len(found) + sum(counts.values()) + called_after
    if limit <= 0:
        return found, count
    # Those called after their due date (none in a generated territory): all of them read,
    # their lateness counted from their call below.
    rows: list[Any] = []
    if called_after:
        rows += session.execute(select(oldest).where(oldest.c.after)).all()
    never = LadderDays(suspended_days([], zone, today))
    # The others by days late, the latest first: the dates that hold the first ``limit``,
    # read whole, then those of the last dates by lot (read in the index's order, the scan
    # stops at the ``limit``-th), and every company of the last lot taken (tied with it: the
    # titles settle them).
    weights: dict[int, list[date]] = {}
    for due_on in counts:
        weights.setdefault(never.between(due_on, today), []).append(due_on)
    whole: list[date] = []
    cut: list[date] = []
    taken = 0
    for weight in sorted(weights, reverse=True):
        dates = weights[weight]
        here = sum(counts[d] for d in dates)
        if taken + here > limit:
            cut = dates
            break
        whole += dates
        taken += here
        if taken == limit:
            break
    on_time = ~oldest.c.after
    if whole:
        rows += session.execute(select(oldest).where(on_time, oldest.c.due_on.in_(whole))).all()
    if cut:
        kept = session.execute(
            select(oldest)
            .where(on_time, oldest.c.due_on.in_(cut))
            .order_by(oldest.c.clause_id, oldest.c.company_id)
            .limit(limit - taken)
        ).all()
        if kept:  # (a declaration committed since may have taken the last ones)
            edge = kept[-1][0]
            rows += [row for row in kept if row[0] != edge]
            rows += session.execute(
                select(oldest).where(on_time, oldest.c.due_on.in_(cut), oldest.c.clause_id == edge)
            ).all()
    if not rows:
        return found, count
    # Each one's months overdue and owed: its count and latest month, for those few lots.
    ids = {row[0] for row in rows}
    ends = ends_of(session, ids)
    months: dict[tuple[int, int], list[tuple[int, date, date, datetime | None]]] = {}
    for chunk in _chunks(ids):
        for ladder_id, cid, company_id, month, due_on, called_at in session.execute(
            select(
                ladder.id,
                ladder.clause_id,
                ladder.company_id,
                ladder.month,
                ladder.due_on,
                ladder.called_at,
            )
            .where(
                text(OPEN_LADDERS),
                ladder.due_on < today,
                ladder.clause_id.in_(chunk),
                _not_after_departure(),
            )
            .order_by(ladder.clause_id, ladder.company_id, ladder.month)
        ):
            end = ends.get(cid)
            if called_at is not None and local_date(called_at, zone) >= today:
                continue
            if end is not None and month > end:
                continue
            months.setdefault((cid, company_id), []).append((ladder_id, month, due_on, called_at))
    for row in rows:
        cid, company_id, first = row[:3]
        owed = months.get((cid, company_id))
        if not owed or owed[0][1] != first:  # declared between the two reads
            continue
        ladder_id, _, due_on, called_at = owed[0]
        due = (
            due_on if called_at is None else pushed_due(due_on, local_date(called_at, zone), never)
        )
        # A lot never suspended: nothing left out of its days late.
        months_owed = tuple(month for _, month, _, _ in owed)
        told = (cid, company_id, ladder_id, first, due, months_owed, None)
        found.append(_Found(never.between(due, today), cid, told))
    return found, count


def _declarations(session: Session, today: date, settings: Settings, limit: int | None) -> _Part:
    """One item per company x lot with months overdue, told from its oldest month's ladder and
    from the emails really sent for it; with ``limit``, only the first ones are read
    (``_first_overdue``)."""
    if limit is None:
        found = _overdue(session, today, settings)
        count = len(found)
    else:
        found, count = _first_overdue(session, today, settings, limit)

    def write(chosen: list[_Found[tuple[Any, ...]]]) -> list[DigestItem]:
        read = RawDates()
        late = [_late_company(task.row, task.weight, read) for task in chosen]
        if limit is None:
            history = ladder_history(session, {row.clause_id for row in late})
        else:
            oldest = {(row.clause_id, row.company_id): row.oldest.month for row in late}
            history = _history_of_few(session, oldest)
        return _late_items(session, today, settings, late, history)

    chosen = _to_write(found, limit)
    return _Part(write(chosen) if chosen else [], count)


def _history_of_few(session: Session, oldest: dict[tuple[int, int], date]) -> LadderHistory:
    """``ladder_history`` of the few companies x lots a page shows, for the one month of each
    that its line tells (``ladder_state`` of its oldest month overdue, ``oldest``), read by lot,
    the ladder's kinds sorted out here: asked by kind too, SQLite reads every ladder email of the
    territory instead (74,000 at 10^4 lots). Only these companies' keys are parsed (a lot has
    others), and only those that name the month: most of a company's emails are for others."""
    companies = set(oldest)
    # By the start of its keys: the month each company's line needs, as its keys write it.
    wanted = {
        f"{KEY_PREFIX}:{cid}:{company_id}:": f"{month:%Y-%m}"
        for (cid, company_id), month in oldest.items()
    }
    history: LadderHistory = {}
    # Instants read raw and converted only for the emails kept (a lot's others are most).
    read = RawDates()
    for chunk in _chunks(cid for cid, _ in companies):
        # Only the keys of these companies: a lot's other emails (receipts, notices, other
        # companies') are most of them. The keys are checked again below.
        kept = set(chunk)
        starts = sorted(
            f"{KEY_PREFIX}:{cid}:{company_id}:" for cid, company_id in companies if cid in kept
        )
        where: ColumnElement[bool] | TextClause
        if is_postgresql(session):
            # Found by the lot's index, the others dropped by the start of their key (a range of
            # keys would follow the database's collation, which may not be the bytes' order).
            where = and_(
                OutboxMessage.clause_id.in_(chunk),
                or_(*(OutboxMessage.key.startswith(start, autoescape=True) for start in starts)),
            )
        else:
            # Each company's keys looked up in the keys' unique index, a range in SQLite's binary
            # order (``:`` then ``;``); asked by lot too, SQLite reads the lot's every email.
            # Written as text with its parameters: built from thirty pairs of column
            # expressions, the statement cost more to make than to run.
            where = text(
                " OR ".join(
                    f'(outbox."key" >= :s{n} AND outbox."key" < :e{n})' for n in range(len(starts))
                )
            ).bindparams(
                *(bindparam(f"s{n}", start) for n, start in enumerate(starts)),
                *(bindparam(f"e{n}", start[:-1] + ";") for n, start in enumerate(starts)),
            )
        rows = session.execute(
            select(
                OutboxMessage.kind,
                OutboxMessage.key,
                raw(OutboxMessage.created_at),
                OutboxMessage.state,
                raw(OutboxMessage.sent_at),
                OutboxMessage.clause_id,
                OutboxMessage.last_error,
            )
            .where(where)
            .order_by(OutboxMessage.created_at, OutboxMessage.id)
        ).all()
        for kind, key, created_at, state, sent_at, clause_id, last_error in rows:
            cut = key.find(":", key.find(":", len(KEY_PREFIX) + 1) + 1) + 1
            month_text = wanted.get(key[:cut])
            if month_text is None or clause_id not in kept or kind not in LADDER_KINDS:
                continue
            # Its months (``2026-09``, ``2026-07..2026-10,2026-12``) name the month, or a run
            # may hold it: only then is the key parsed, as ``ladder_history`` parses it.
            months = key[cut : key.rfind(":")]
            if ".." not in months and month_text not in months.split(","):
                continue
            parsed = key_months(key)
            if parsed is None:
                continue
            month = date(int(month_text[:4]), int(month_text[5:]), 1)
            if month not in parsed.months:
                continue
            sent = SentStep(
                parsed.step,
                parsed.months,
                key,
                read.instant(created_at),
                state,
                None if sent_at is None else read.instant(sent_at),
                last_error if state == OutboxState.CANCELLED.value else None,
            )
            history.setdefault((parsed.clause_id, parsed.company_id, month), []).append(sent)
    # As ``ladder_history`` gives it: an email withdrawn because written again (a finish that
    # released some of its months) is not the month's step, the one written again is.
    return {where: without_replaced(emails) for where, emails in history.items()}


def _late_days(late: _LateCompany, today: date) -> str:
    """« 4 jours ouvrés de retard »; for a lot suspended since its oldest month's due date, the
    suspension those days leave out, named as the buyer's alert names it (``late_days_context``):
    « 15 jours ouvrés de retard, hors suspension du 19 octobre au 16 novembre 2026, soit 20 jours
    ouvrés non comptés ». User trial: a facilitator counting on a calendar found a figure that
    looked wrong and was not told why. Only the lots ever suspended (a few) are looked at."""
    told = f"{_working_days(late.late)} de retard"
    due, stops = late.oldest.due, late.stops
    if stops is None or not stops.touches(due, today):
        return told
    context = late_days_context(stops.ladder_days(due, today), due, today)
    if context["late_days_except"] is None:
        return told
    left_out: int = context["suspended_late_days"]
    plural = "s" if left_out > 1 else ""
    return (
        f"{told}, {context['late_days_except']}, soit {_working_days(left_out)} non compté{plural}"
    )


def _late_items(
    session: Session,
    today: date,
    settings: Settings,
    overdue: list[_LateCompany],
    history: LadderHistory,
) -> list[DigestItem]:
    ids = {late.clause_id for late in overdue}
    calendars = lot_calendars(session, ids, settings)
    labels = _labels(session, ids, Clause.stage)
    # Each one's oldest ladder: by its number, or (read from the open ladders' index alone,
    # ``_overdue``) by its lot, company and month, unique.
    ladders: dict[tuple[int, int, date], DeclarationLadder] = {}
    numbered = [late.oldest.ladder_id for late in overdue if late.oldest.ladder_id is not None]
    for chunk in _chunks(n for n in numbered if n is not None):
        ladders.update(
            ((ladder.clause_id, ladder.company_id, ladder.month), ladder)
            for ladder in session.scalars(
                select(DeclarationLadder).where(DeclarationLadder.id.in_(chunk))
            )
        )
    unnumbered = sorted(
        (late.clause_id, late.company_id, late.oldest.month)
        for late in overdue
        if late.oldest.ladder_id is None
    )
    for start in range(0, len(unnumbered), 1000):
        keys = unnumbered[start : start + 1000]
        ladders.update(
            ((ladder.clause_id, ladder.company_id, ladder.month), ladder)
            for ladder in session.scalars(
                select(DeclarationLadder).where(
                    DeclarationLadder.clause_id.in_({cid for cid, _, _ in keys}),
                    tuple_(
                        DeclarationLadder.clause_id,
                        DeclarationLadder.company_id,
                        DeclarationLadder.month,
                    ).in_(keys),
                )
            )
        )
    contacts: dict[tuple[int, int], tuple[str, str | None, str | None, str | None]] = {}
    for chunk in _chunks(ids):
        contacts.update(
            ((cid, company_id), (name, who, email, phone))
            for cid, company_id, name, who, email, phone in session.execute(
                select(
                    AwardParty.clause_id,
                    AwardParty.company_id,
                    Company.name,
                    Correspondent.name,
                    Correspondent.email,
                    Correspondent.phone,
                )
                .join(Company, Company.id == AwardParty.company_id)
                .outerjoin(Correspondent, Correspondent.id == AwardParty.correspondent_id)
                .where(AwardParty.clause_id.in_(chunk))
            )
        )
    names: dict[int, str] = {}
    for chunk in _chunks(late.company_id for late in overdue):
        names.update(
            session.execute(select(Company.id, Company.name).where(Company.id.in_(chunk))).all()
        )
    items = []
    for late in overdue:
        cid, company_id, oldest = late.clause_id, late.company_id, late.oldest
        _, ref, lot, title, buyer, stage = labels[cid]
        company, who, email, phone = contacts.get(
            (cid, company_id), (names.get(company_id, ""), None, None, None)
        )
        first, count = oldest.month, late.months
        phrase = overdue_phrase(late.overdue)
        contact = ", ".join(x for x in (who, email, phone) if x) or "correspondant à désigner"
        ladder = ladders[cid, company_id, oldest.month]
        state = ladder_state(
            ladder,
            history,
            calendars[cid].rules,
            settings,
            suspended=stage == Stage.SUSPENDED.value,
            today=today,
        )
        items.append(
            DigestItem(
                Category.DECLARATION,
                weight=late.late,
                title=(
                    f"{company} : heures {phrase} non déclarées – "
                    f"{_clause_label(cid, ref, lot, title, buyer)}"
                ),
                detail=(
                    f"{count} mois en retard, le plus ancien dû le {french_date(oldest.due)} "
                    f"({_late_days(late, today)}) ; {state}."
                ),
                action=declaration_action(cid, company_id, first, contact),
                clause_id=cid,
                days=late.late,
                web=declaration_web(
                    cid,
                    company_id,
                    first,
                    contact,
                    company=company,
                    who=who,
                    email=email,
                    phone=phone,
                ),
            )
        )
    return items


def _hours_through(
    session: Session, through: dict[int, date]
) -> dict[int, tuple[Decimal, Decimal]]:
    """By clause: the hours declared up to the end of its month ``through[clause]``, and in all
    (none for a clause without a declaration). Summed by the database: the lots' months, read
    one by one, were 6,000 rows at 10^5 lots. The months ``through`` says are few (two: the
    due day falls before or after today's), one sum each."""
    months = sorted(set(through.values()))
    index = {month: n for n, month in enumerate(months)}
    sums = [
        func.sum(case((Declaration.month <= month, Declaration.total_hours))) for month in months
    ]
    done: dict[int, tuple[Decimal, Decimal]] = {}
    for chunk in _chunks(through):
        for clause_id, total, *upto in session.execute(
            select(Declaration.clause_id, func.sum(Declaration.total_hours), *sums)
            .where(_among(session, Declaration.clause_id, chunk))
            .group_by(Declaration.clause_id)
        ):
            hours = upto[index[through[clause_id]]]
            done[clause_id] = (Decimal(hours or 0), Decimal(total or 0))
    return done


@dataclass(frozen=True)
class _Behind:
    clause_id: int
    hours_target: Any
    hours: Decimal  # declared up to the end of ``through``
    hours_all: Decimal  # declared in all, later months included
    through: date  # the last month due (``last_month_due``)
    elapsed: Decimal  # at the end of ``through``, suspended days left out
    end: date
    left: int
    suspended: int = 0  # days of [start, end] the lot spent suspended, out of the time counted


def _pace(session: Session, today: date, settings: Settings, limit: int | None) -> _Part:
    """The contracts ending within ``ENDING_WITHIN_DAYS`` whose hours declared up to the last
    month due are behind the time elapsed up to that month's end (``last_month_due``).

    The time is counted in the days the lot could be worked, as the monthly summary counts it:
    the days it spent suspended are out of the time elapsed and of its period (one read of the
    suspensions of these lots, ``suspensions``)."""
    target = func.coalesce(Clause.hours_override, Clause.hours_computed)
    ending = session.execute(
        select(Clause.id, target, Clause.start_date, Clause.planned_end_date).where(
            Clause.stage == Stage.EXECUTION.value,
            target.is_not(None),
            Clause.planned_end_date >= today,
            Clause.planned_end_date <= today + timedelta(days=ENDING_WITHIN_DAYS),
        )
    ).all()
    ids = [row[0] for row in ending]
    calendars = lot_calendars(session, ids, settings) if ids else {}
    last_due = {cid: last_month_due(today, calendars[cid].rules.due_day) for cid in ids}
    done = _hours_through(session, last_due)
    stretches = suspensions(session, ids) if ids else {}
    found = []
    nothing = (Decimal(0), Decimal(0))
    for cid, hours_target, start, end in ending:
        through = last_due[cid]
        hours, hours_all = done.get(cid, nothing)
        off = suspended_days(stretches.get(cid, ()), settings.zone, today)
        elapsed = elapsed_fraction(start, end, month_end(through), off)
        if not is_behind(hours, hours_target, elapsed):
            continue
        assert elapsed is not None and start is not None and end is not None  # elapsed: dates
        left = (end - today).days
        out = days_suspended(off, start, end)
        behind = _Behind(cid, hours_target, hours, hours_all, through, elapsed, end, left, out)
        found.append(_Found(ENDING_WITHIN_DAYS - left, cid, behind))

    def write(chosen: list[_Found[_Behind]]) -> list[DigestItem]:
        labels = _labels(session, (task.row.clause_id for task in chosen))
        return [_pace_item(task.weight, task.row, labels[task.row.clause_id]) for task in chosen]

    return _part(found, write, limit)


def _pace_item(weight: int, behind: _Behind, label: Any) -> DigestItem:
    cid, ref, lot, title, buyer = label
    hours, hours_target, left = behind.hours, behind.hours_target, behind.left
    share = fraction(hours, hours_target) or Decimal(0)
    through = french_month(behind.through)
    when = "aujourd'hui" if left == 0 else f"dans {_days(left)}"
    # The time elapsed leaves out the days the lot spent suspended: said, so a reader checking
    # it against the dates finds the same figure.
    off = f", hors {_days(behind.suspended)} de suspension" if behind.suspended else ""
    return DigestItem(
        Category.PACE,
        weight=weight,
        title=(
            f"{_capital(_clause_label(cid, ref, lot, title, buyer))} se termine le "
            f"{french_date(behind.end)}, {when}, avec des heures en retard"
        ),
        detail=(
            f"{_hours(hours)} déclarées jusqu'à fin {through} (dernier mois dû) sur "
            f"{_hours(hours_target)} prévues ({_percent(share)} de l'objectif pour "
            f"{_percent(behind.elapsed)} du temps écoulé à fin {through}{off}) ; reste "
            f"{_hours(max(Decimal(0), hours_target - behind.hours_all))}."
        ),
        action=(
            "Voir avec l'entreprise titulaire comment réaliser les heures restantes "
            "avant la fin, ou enregistrer un avenant qui change les heures "
            f'(clauses clause hours {cid} HEURES --reason "avenant …").'
        ),
        clause_id=cid,
        days=left,
        web=_open_clause(
            cid,
            "Voir avec l'entreprise titulaire comment réaliser les heures restantes avant la fin, "
            "ou enregistrer un avenant qui change les heures (formulaire « Imposer les heures "
            "d'insertion » de la page de la clause).",
            "#rythme",
        ),
    )


def _planned_end_passed(session: Session, today: date, limit: int | None) -> _Part:
    """The lots in execution whose planned end has passed and whose end is not recorded, the
    longest past first.

    Such a lot is left half ended: its companies are called for no month after the planned
    end's (``reminders._open_batch`` parks them; ``rearm_lot`` calls them again once the end is
    recorded later or the planned end moved), and nothing else will tell. No grace: from the
    day after the planned end (its last day, ``_pace`` says « se termine aujourd'hui »), only
    she can learn from the buyer whether the works ended or go on, and the sooner she asks,
    the sooner the months after the end are asked for or known not owed, before the day their
    call would have left; a lot just past comes last in the section. A suspended lot is not
    running: its own section (``_suspended_past_planned_end``).

    With ``limit``, the lots whose planned end is that of the ``limit``-th oldest or older are
    read, the others counted, from ``ix_clauses_stage_planned_end``: lots with the same planned
    end are equals that the lot orders. Only the end date is read from the lots' rows: at 10^5
    lots, 0.03 ms on the generated territory's day (none past), 6 ms to count 4,561 lots past
    on a day two months later, had no end been recorded since."""

    def write(chosen: list[_Found[tuple[int, date]]]) -> list[DigestItem]:
        labels = _labels(session, (task.row[0] for task in chosen))
        return [_planned_end_item(task.weight, task.row[1], labels[task.row[0]]) for task in chosen]

    return _past_planned_end(session, today, limit, Stage.EXECUTION, write)


def _suspended_past_planned_end(
    session: Session, today: date, settings: Settings, limit: int | None
) -> _Part:
    """The lots suspended whose planned end has passed and whose end is not recorded, the
    longest past first, read as ``_planned_end_passed`` reads those in execution.

    While suspended nobody is called; once resumed, its companies are called for no month after
    the planned end's until it is moved (``reminders._open_batch`` parks them), and an « ordre
    de service d'arrêt » usually extends the works by the stop's length: only the buyer knows
    the new planned end. From the day after the planned end, as in execution. Such a lot is no
    « attend à l'étape Suspendue » task too (``_waiting``): this one says since when it is
    suspended and asks about the resumption itself."""
    zone = settings.zone

    def write(chosen: list[_Found[tuple[int, date]]]) -> list[DigestItem]:
        labels = _labels(session, (task.row[0] for task in chosen), Clause.stage_changed_at)
        items = []
        for task in chosen:
            cid, end = task.row
            *label, suspended_at = labels[cid]
            since = local_date(suspended_at, zone)
            items.append(_suspended_past_end_item(task.weight, end, since, label))
        return items

    return _past_planned_end(session, today, limit, Stage.SUSPENDED, write)


def _past_planned_end(
    session: Session,
    today: date,
    limit: int | None,
    stage: Stage,
    write: Callable[[list[_Found[tuple[int, date]]]], list[DigestItem]],
) -> _Part:
    """The lots at ``stage`` past their planned end (its day excluded), their end not recorded,
    weighed by the days past: all of them, or with ``limit`` those whose planned end is that of
    the ``limit``-th oldest or older, and the count of all (``ix_clauses_stage_planned_end``)."""
    past = and_(
        Clause.stage == stage.value,
        Clause.planned_end_date < today,
        Clause.end_date.is_(None),
    )
    return _past_day(session, today, limit, past, Clause.planned_end_date, write)


def _past_day(
    session: Session,
    today: date,
    limit: int | None,
    past: ColumnElement[bool],
    day: Any,
    write: Callable[[list[_Found[tuple[int, date]]]], list[DigestItem]],
) -> _Part:
    """The lots ``past`` says, weighed by the days since their ``day`` (a planned end, a
    planned start): all of them, or with ``limit`` those whose day is that of the ``limit``-th
    oldest or older, and the count of all (an index on the stage and ``day``)."""
    statement = select(Clause.id, raw(day)).where(past)
    count: int | None = None
    if limit is not None and limit > 0:
        count = session.scalar(select(func.count()).select_from(Clause).where(past)) or 0
        edge = session.scalar(select(day).where(past).order_by(day).offset(limit - 1).limit(1))
        if edge is not None:  # else fewer than ``limit``: all of them
            statement = statement.where(day <= edge)
    read = RawDates()
    found = [
        _Found((today - read.day(end)).days, cid, (cid, read.day(end)))
        for cid, end in session.execute(statement)
    ]
    if count is None:
        return _part(found, write, limit)
    chosen = _to_write(found, limit)
    return _Part(write(chosen) if chosen else [], count)


def _planned_end_item(days: int, end: date, label: Any) -> DigestItem:
    cid, ref, lot, title, buyer = label
    month = french_month(end)
    return DigestItem(
        Category.PLANNED_END,
        weight=days,
        title=(
            f"{_capital(_clause_label(cid, ref, lot, title, buyer))} : fin prévue le "
            f"{french_date(end)} dépassée depuis {_days(days)}, exécution toujours en cours"
        ),
        detail=(
            f"Les mois après {month} ne sont pas demandés aux entreprises : ils le seront si "
            "les travaux ont continué, une fois la fin d'exécution enregistrée ou la fin prévue "
            "reportée."
        ),
        action=(
            "Demander au donneur d'ordre où en sont les travaux. S'ils sont finis, achever la "
            f"clause à leur date de fin réelle (clauses clause advance {cid} achever --end-date "
            f"jj/mm/aaaa) ; s'ils continuent, reporter la fin prévue (clauses lot set-end {cid} "
            'jj/mm/aaaa --reason "avenant n° …").'
        ),
        clause_id=cid,
        days=days,
        web=_open_clause(
            cid,
            "Demander au donneur d'ordre où en sont les travaux. S'ils sont finis, achever la "
            "clause à leur date de fin réelle (formulaire « Étape suivante » de la page de la "
            "clause) ; s'ils continuent, reporter la fin prévue (formulaire « Changer la fin "
            "prévue », section « Actions »).",
            "#etape",
        ),
    )


def _suspended_past_end_item(days: int, end: date, since: date, label: Any) -> DigestItem:
    cid, ref, lot, title, buyer = label
    month = french_month(end)
    extends = (
        "un ordre de service d'arrêt prolonge en général le délai d'exécution de la durée de "
        "l'arrêt"
    )
    return DigestItem(
        Category.PLANNED_END_SUSPENDED,
        weight=days,
        title=(
            f"{_capital(_clause_label(cid, ref, lot, title, buyer))} : suspendue depuis le "
            f"{french_date(since)}, fin prévue le {french_date(end)} dépassée depuis "
            f"{_days(days)}"
        ),
        detail=(
            f"À la reprise, les mois après {month} ne seront pas demandés aux entreprises tant "
            "que la fin prévue n'est pas reportée ou la fin d'exécution enregistrée."
        ),
        action=(
            "Voir avec le donneur d'ordre quand les travaux reprennent ; à la reprise, lui "
            f"demander la nouvelle fin prévue ({extends}), reprendre la clause (clauses clause "
            f"advance {cid} reprendre) et reporter la fin prévue (clauses lot set-end {cid} "
            'jj/mm/aaaa --reason "ordre de service de reprise n° …").'
        ),
        clause_id=cid,
        days=days,
        web=_open_clause(
            cid,
            "Voir avec le donneur d'ordre quand les travaux reprennent ; à la reprise, lui "
            f"demander la nouvelle fin prévue ({extends}), reprendre la clause (formulaire "
            "« Étape suivante » de la page de la clause) et reporter la fin prévue (formulaire "
            "« Changer la fin prévue », section « Actions »).",
            "#fin-prevue",
        ),
    )


def _start_passed(session: Session, now: datetime, settings: Settings, limit: int | None) -> _Part:
    """The lots awarded whose planned start has passed (its day excluded), their start not
    recorded, the longest past first.

    Until the facilitator records the start, no month is asked of their companies; recorded
    once the first month's call day has gone, one call asks for every month over by then, with
    one due date (``calendar.expected_due_dates``). The waiting section said only « attend à
    l'étape attribution depuis 388 jours » of such a lot (user trial, 7 December 2026): this
    task says the day the works should have started and what recording it today would ask of
    the companies, and takes the lot out of the waiting section (``_not_waiting_elsewhere``):
    one lot, one task. Read from ``ix_clauses_stage_start``."""
    today = local_date(now, settings.zone)
    past = and_(Clause.stage == Stage.AWARD.value, Clause.start_date < today)

    def write(chosen: list[_Found[tuple[int, date]]]) -> list[DigestItem]:
        ids = [task.row[0] for task in chosen]
        labels = _labels(session, ids, Clause.planned_end_date)
        calendars = lot_calendars(session, ids, settings)
        items = []
        for task in chosen:
            cid, start = task.row
            *label, end = labels[cid]
            rules = calendars[cid].rules
            dates, catch_up = expected_due_dates(start, end or start, rules, settings.zone, now)
            first = min(dates)
            call_on = local_date(month_schedule(first, rules, settings.zone).call_at, settings.zone)
            if catch_up is None and call_on > today:
                asked = (
                    f"{_capital(french_month(first))} leur sera demandé le "
                    f"{french_date(call_on)}, comme prévu, si le démarrage est enregistré au "
                    f"plus tard le {french_date(call_on - timedelta(days=1))}."
                )
            elif catch_up is None:  # its call's day is today: the next pass, its date kept
                asked = (
                    f"Enregistré aujourd'hui, {french_month(first)} leur sera demandé au "
                    f"prochain passage, à déclarer au plus tard le {french_date(dates[first])}."
                )
            else:
                many = len(catch_up.months) > 1
                asked = (
                    f"Enregistré aujourd'hui, {months_said(catch_up.months)} leur "
                    f"{'seront demandés ensemble' if many else 'sera demandé'} le "
                    f"{french_date(catch_up.call_on)}, à déclarer au plus tard le "
                    f"{french_date(catch_up.due_on)}."
                )
            items.append(_start_item(task.weight, start, asked, label))
        return items

    return _past_day(session, today, limit, past, Clause.start_date, write)


def _start_item(days: int, start: date, asked: str, label: Any) -> DigestItem:
    cid, ref, lot, title, buyer = label
    return DigestItem(
        Category.START_PASSED,
        weight=days,
        title=(
            f"{_capital(_clause_label(cid, ref, lot, title, buyer))} : démarrage prévu le "
            f"{french_date(start)}, passé depuis {_days(days)}, non enregistré"
        ),
        detail=(
            "Aucun mois n'est demandé aux entreprises tant que le démarrage n'est pas "
            f"enregistré. {asked}"
        ),
        action=(
            "Demander au donneur d'ordre si les travaux ont commencé. Si oui, démarrer la "
            f"clause (clauses clause advance {cid} demarrer) ; s'ils commencent plus tard, "
            f"corriger la date de démarrage (clauses clause award {cid} --company ENTREPRISE "
            '--start jj/mm/aaaa --end jj/mm/aaaa --reason "…").'
        ),
        clause_id=cid,
        days=days,
        web=_open_clause(
            cid,
            "Demander au donneur d'ordre si les travaux ont commencé. Si oui, démarrer la "
            "clause (formulaire « Étape suivante » de la page de la clause) ; s'ils commencent "
            "plus tard, corriger la date de démarrage (formulaire de l'attribution).",
            "#etape",
        ),
    )


class _DaysSince:
    """Days from an instant read ``raw`` to ``now`` as a calendar counts them (« achevée depuis
    33 jours » from 26 February to 31 March), not whole periods of 24 hours: the 08:00 digest
    and the dashboard at 18:00 say the same on the same day. For the thousand lots of a
    section: neither the column type's conversion nor a time zone conversion for an instant
    already seen."""

    def __init__(self, now: datetime, settings: Settings) -> None:
        self._zone = settings.zone
        self._today = local_date(now, self._zone)
        self._read = RawDates()
        self._days: dict[Any, int] = {}

    def __call__(self, since: Any) -> int:
        days = self._days.get(since)
        if days is None:
            local = local_date(self._read.instant(since), self._zone)
            days = self._days[since] = (self._today - local).days
        return days


def _awards(
    session: Session, now: datetime, settings: Settings, limit: int | None
) -> tuple[_Part, Container[int]]:
    """The awards to complete, and whether a clause is among them (their waiting says so).

    All of them for the full digest; with ``limit``, those that can be among the first, ranked
    and counted by the database (``digest_awards``). A lot without a start date is to complete
    whatever its holder: whether it has one is read for the lots written only."""
    holders_ready = (
        select(AwardParty.clause_id)
        .join(Correspondent, Correspondent.id == AwardParty.correspondent_id)
        .where(AwardParty.role == PartyRole.HOLDER.value, Correspondent.email != "")
    )
    first = None if limit is None else first_incomplete_awards(session, settings, limit)
    rows = every_incomplete_award(session) if first is None else first.rows
    days_since = _DaysSince(now, settings)
    found = [_Found(days_since(since), cid, (cid, no_start)) for cid, no_start, since in rows]

    def write(chosen: list[_Found[tuple[int, bool]]]) -> list[DigestItem]:
        labels = _labels(session, (task.clause_id or 0 for task in chosen))
        unknown = [task.row[0] for task in chosen if task.row[1]]  # without a start date
        known: set[int] = set()
        for chunk in _chunks(unknown):
            known.update(session.scalars(holders_ready.where(AwardParty.clause_id.in_(chunk))))
        items = []
        for task in chosen:
            cid, no_start = task.row
            holder_ok = cid in known if no_start else False
            _, ref, lot, title, buyer = labels[cid]
            missing = []
            if not holder_ok:
                missing.append("l'entreprise titulaire avec l'adresse e-mail de son correspondant")
            if no_start:
                missing.append("la date de démarrage")
            days = task.weight
            items.append(
                DigestItem(
                    Category.AWARD,
                    weight=days,
                    title=(
                        f"{_capital(_clause_label(cid, ref, lot, title, buyer))} : "
                        "attribution incomplète"
                    ),
                    detail=f"Il manque {' et '.join(missing)} ; attribuée depuis {_days(days)}.",
                    action=_award_action(cid, holder_ok),
                    clause_id=cid,
                    days=days,
                    web=_open_clause(cid, AWARD_TODO, "#attribution"),
                )
            )
        return items

    if first is not None:
        chosen = _to_write(found, limit)
        return _Part(write(chosen) if chosen else [], first.count), first
    return _part(found, write, limit), {task.row[0] for task in found}


AWARD_TODO = (
    "Compléter l'attribution (formulaire de la page de la clause : entreprise titulaire, "
    "correspondant avec son adresse e-mail, dates) pour que l'entreprise soit accueillie et "
    "appelée à déclarer, puis démarrer la clause."
)


def _award_action(clause_id: int, holder_ok: bool) -> str:
    # --correspondent takes the correspondent's N°, never a name: the placeholder says so, and
    # where that N° is read (user trial: « CORRESPONDANT » typed as a name was refused).
    command = (
        f"clauses clause award {clause_id} --company ENTREPRISE"
        + ("" if holder_ok else " --correspondent N°_CORRESPONDANT")
        + " --start jj/mm/aaaa --end jj/mm/aaaa"
    )
    if not holder_ok:
        command += (
            " ; le N° du correspondant : clauses company show ENTREPRISE ; un correspondant "
            "s'ajoute par clauses company correspondent-add ENTREPRISE --name … --email …"
        )
    return (
        f"Compléter l'attribution pour que l'entreprise soit accueillie et appelée à déclarer "
        f"({command}), puis démarrer (clauses clause advance {clause_id} demarrer)."
    )


def _final_reports(session: Session, now: datetime, settings: Settings, limit: int | None) -> _Part:
    """The lots achieved without their final report, the longest ended first.

    « Achevée depuis » counts from the end of execution (``Clause.end_date``), the day the
    report's clock starts, not from the day it was recorded: an end recorded a week late is
    not « achevée depuis 7 jours (fin d'exécution le 31 mars) » on 15 April (user trial), and
    it is not ranked below lots that ended after it. A lot in follow-up without an end date
    (loaded by hand) counts from its stage change.

    With ``limit``, the lots ended on the day of the ``limit``-th earliest end or before are
    read (and those without an end), the others counted (14,000 at 10^5 lots, each one's day
    told in Python, were 40 ms): lots ended the same day are equals that the lot orders, so
    those are every lot the first ones can be."""
    waiting = and_(Clause.stage == Stage.FOLLOW_UP.value, Clause.final_report_at.is_(None))
    # Read raw: converted once per distinct value (``_DaysSince``, ``RawDates``).
    statement = select(Clause.id, raw(Clause.stage_changed_at), raw(Clause.end_date)).where(waiting)
    count: int | None = None
    today = local_date(now, settings.zone)
    if limit is not None and limit > 0:
        edge = session.scalar(
            select(Clause.end_date)
            .where(waiting, Clause.end_date.is_not(None))
            .order_by(Clause.end_date)
            .offset(limit - 1)
            .limit(1)
        )
        # A day before today: an end today or later is day 0, all of them equals.
        if edge is not None and edge < today:
            count = session.scalar(select(func.count()).select_from(Clause).where(waiting))
            statement = statement.where(or_(Clause.end_date <= edge, Clause.end_date.is_(None)))
    days_since = _DaysSince(now, settings)
    read_end = RawDates()
    ends: dict[Any, int] = {}

    def days_of(since: Any, end: Any) -> int:
        if end is None:
            return days_since(since)
        days = ends.get(end)
        if days is None:
            days = ends[end] = (today - read_end.day(end)).days
        return days

    # An end or a stage change later than now (a date given by hand, a clock put back) is today.
    found = [
        _Found(max(days_of(since, end), 0), cid, (cid, end))
        for cid, since, end in session.execute(statement)
    ]

    def write(chosen: list[_Found[tuple[int, Any]]]) -> list[DigestItem]:
        labels = _labels(session, (task.row[0] for task in chosen))
        read = RawDates()
        items = []
        for task in chosen:
            cid, end_read = task.row
            end = None if end_read is None else read.day(end_read)
            _, ref, lot, title, buyer = labels[cid]
            days = task.weight
            ended = f" (fin d'exécution le {french_date(end)})" if end else ""
            items.append(
                DigestItem(
                    Category.FINAL_REPORT,
                    weight=days,
                    title=(
                        "Bilan à envoyer au donneur d'ordre : "
                        f"{_clause_label(cid, ref, lot, title, buyer)}"
                    ),
                    detail=(f"Achevée depuis {_days(days)}" if days else "Achevée aujourd'hui")
                    + f"{ended}, bilan pas encore enregistré.",
                    action=final_report_action(cid),
                    clause_id=cid,
                    days=days,
                    web=final_report_web(cid),
                )
            )
        return items

    if count is None:
        return _part(found, write, limit)
    chosen = _to_write(found, limit)
    return _Part(write(chosen) if chosen else [], count)


def _outdated_reports(
    session: Session, now: datetime, settings: Settings, limit: int | None
) -> _Part:
    """The lots whose final report the buyer was told, their figures changed since
    (``services.outdated_reports``, the closure guard's rule): the oldest report first. Few
    lots at a time (those in follow-up with a report and a change after it): all are read, and
    what changed is read for those written only."""
    zone = settings.zone
    today = local_date(now, zone)
    found = [
        _Found(max((today - local_date(report.report_at, zone)).days, 0), report.clause_id, report)
        for report in outdated_reports(session)
    ]

    def write(chosen: list[_Found[OutdatedReport]]) -> list[DigestItem]:
        labels = _labels(session, (task.clause_id or 0 for task in chosen))
        changes = changes_since(session, (task.row for task in chosen))
        items = []
        for task in chosen:
            report = task.row
            cid = report.clause_id
            _, ref, lot, title, buyer = labels[cid]
            reported = french_date(local_date(report.report_at, zone))
            items.append(
                DigestItem(
                    Category.FINAL_REPORT_OUTDATED,
                    weight=task.weight,
                    title=(f"Bilan à mettre à jour : {_clause_label(cid, ref, lot, title, buyer)}"),
                    detail=(
                        f"Les chiffres du lot ont changé depuis le bilan du {reported} "
                        + (
                            "adressé au donneur d'ordre"
                            if report.reached
                            else "(son envoi au donneur d'ordre a échoué : il ne l'a pas reçu)"
                        )
                        + f" ({', '.join(changes[cid])}) : la clause ne se clôture qu'avec un "
                        "bilan à jour."
                    ),
                    action=report_update_action(cid, reported if report.reached else None),
                    clause_id=cid,
                    days=task.weight,
                    web=report_update_web(cid, reported if report.reached else None),
                )
            )
        return items

    return _part(found, write, limit)


#: References named in one eligibility line; the rest are counted.
ELIGIBILITY_NAMED = 8


def _eligibility(session: Session, limit: int | None) -> _Part:
    """Participants with hours declared on a clause and no eligibility validated yet.

    The facilitator checks eligibility (DOMAIN.md): until she records the proof, those hours rest
    on the company's word. Only she reads the digest, so the pseudonymous references are named.
    """
    # The lines of the participants to check, found from them: a territory's participants are
    # mostly validated, and reading every line (84,000 at 10^4 lots) to find none took 40 ms.
    unvalidated = select(Participant.id).where(Participant.validated_on.is_(None))
    statement = (
        select(Clause.id, Participant.reference)
        .select_from(DeclarationLine)
        .join(Declaration, Declaration.id == DeclarationLine.declaration_id)
        .join(Participant, Participant.id == DeclarationLine.participant_id)
        .join(Clause, Clause.id == Declaration.clause_id)
        .where(
            DeclarationLine.participant_id.in_(unvalidated),
            DeclarationLine.hours > 0,
            # A closed or abandoned clause's figures are final: nothing left to check there.
            Clause.stage.not_in([stage.value for stage in FINAL_STAGES]),
        )
        .group_by(Clause.id, Participant.reference)
        .order_by(Clause.id, Participant.reference)
    )
    by_clause: dict[int, list[str]] = {}
    for cid, reference in session.execute(statement):
        by_clause.setdefault(cid, []).append(reference)
    found = [_Found(len(refs), cid, (cid, refs)) for cid, refs in by_clause.items()]

    def write(chosen: list[_Found[tuple[int, list[str]]]]) -> list[DigestItem]:
        labels = _labels(session, (task.row[0] for task in chosen))
        items = []
        for task in chosen:
            cid, references = task.row
            _, ref, lot, title, buyer = labels[cid]
            count = len(references)
            named = ", ".join(references[:ELIGIBILITY_NAMED])
            hidden = count - ELIGIBILITY_NAMED
            # The others named where they all are: « et 12 autres (clauses participant list …) ».
            more = (
                f" et {hidden} {'autre' if hidden == 1 else 'autres'} (la liste entière : "
                f"clauses participant list --clause {cid})"
                if hidden > 0
                else ""
            )
            people = "1 participant" if count == 1 else f"{count} participants"
            items.append(
                DigestItem(
                    Category.ELIGIBILITY,
                    weight=count,
                    title=(
                        f"Éligibilité à vérifier : {people}, "
                        f"{_clause_label(cid, ref, lot, title, buyer)}"
                    ),
                    detail=f"Heures déclarées sans justificatif validé : {named}{more}.",
                    action=(
                        "Vérifier le justificatif de chacun puis l'enregistrer "
                        f'(clauses participant validate {references[0]} --proof "…").'
                    ),
                    clause_id=cid,
                    web=WebAction(
                        WebActionKind.ELIGIBILITY,
                        "Valider l'éligibilité",
                        todo=(
                            "Vérifier le justificatif de chacun puis valider son éligibilité "
                            "(formulaire « Valider l'éligibilité » du tableau de bord)."
                        ),
                        clause_id=cid,
                        references=tuple(references),
                    ),
                )
            )
        return items

    return _part(found, write, limit)


@dataclass(frozen=True)
class _Waiting:
    """What the action of a clause waiting in a stage depends on."""

    clause_id: int
    stage: str
    hours_target: int | None
    final_report: bool
    award_incomplete: bool


def _waiting_action(w: _Waiting) -> str:
    """What to do next, with a command the clause's stage accepts."""
    cid = w.clause_id
    if w.stage == Stage.IDENTIFICATION.value:
        return (
            f"Décider avec le donneur d'ordre : rédiger la clause (clauses clause advance {cid} "
            f'rediger) ou l\'abandonner (clauses clause advance {cid} abandonner --reason "…").'
        )
    if w.stage == Stage.DRAFTING.value:
        award = (
            f"à la notification, passer à l'attribution (clauses clause advance {cid} attribuer) "
            f"puis l'enregistrer (clauses clause award {cid} --company ENTREPRISE "
            "--start jj/mm/aaaa --end jj/mm/aaaa)"
        )
        if not w.hours_target:
            return (
                f"Calculer les heures (clauses clause figures {cid} --amount … --labour-share … "
                f"--rate … --hourly-cost …) ; {award}."
            )
        return f"Vérifier où en est la consultation ; {award}."
    if w.stage == Stage.AWARD.value and w.award_incomplete:
        return (
            f"Compléter l'attribution (voir « {CATEGORY_TITLES[Category.AWARD]} »), puis "
            f"démarrer la clause (clauses clause advance {cid} demarrer)."
        )
    if w.stage == Stage.AWARD.value:
        return (
            "Organiser la réunion de démarrage et démarrer la clause "
            f"(clauses clause advance {cid} demarrer)."
        )
    if w.stage == Stage.EXECUTION.value:
        return (
            "Vérifier que les travaux continuent ; à leur fin, achever la clause "
            f"(clauses clause advance {cid} achever --end-date jj/mm/aaaa)."
        )
    if w.stage == Stage.SUSPENDED.value:
        return (
            "Voir avec le donneur d'ordre si la clause reprend "
            f"(clauses clause advance {cid} reprendre)."
        )
    if w.stage == Stage.FOLLOW_UP.value and not w.final_report:
        return final_report_action(cid)
    if w.stage == Stage.FOLLOW_UP.value:
        return f"Clôturer la clause (clauses clause advance {cid} cloturer)."
    return f"Voir la clause (clauses clause show {cid})."


def _waiting_web(w: _Waiting) -> WebAction:
    """``_waiting_action`` in the browser's words, with the part of the clause's page that
    does it (its « Étape suivante », its calculation, its award or its report form)."""
    cid = w.clause_id
    step = "formulaire « Étape suivante » de la page de la clause"
    award = "à la notification, passer à l'attribution puis l'enregistrer"
    if w.stage == Stage.IDENTIFICATION.value:
        todo = f"Décider avec le donneur d'ordre : rédiger la clause ou l'abandonner ({step})."
        return _open_clause(cid, todo, "#etape")
    if w.stage == Stage.DRAFTING.value and not w.hours_target:
        todo = f"Calculer les heures (formulaire « Paramètres du calcul ») ; {award}."
        return _open_clause(cid, todo, "#parametres")
    if w.stage == Stage.DRAFTING.value:
        todo = f"Vérifier où en est la consultation ; {award} ({step})."
        return _open_clause(cid, todo, "#etape")
    if w.stage == Stage.AWARD.value and w.award_incomplete:
        todo = (
            f"Compléter l'attribution (voir « {CATEGORY_TITLES[Category.AWARD]} »), puis "
            "démarrer la clause."
        )
        return _open_clause(cid, todo, "#attribution")
    if w.stage == Stage.AWARD.value:
        todo = f"Organiser la réunion de démarrage et démarrer la clause ({step})."
        return _open_clause(cid, todo, "#etape")
    if w.stage == Stage.EXECUTION.value:
        todo = (
            "Vérifier que les travaux continuent ; à leur fin, achever la clause avec la date "
            f"de fin ({step})."
        )
        return _open_clause(cid, todo, "#etape")
    if w.stage == Stage.SUSPENDED.value:
        todo = f"Voir avec le donneur d'ordre si la clause reprend ({step})."
        return _open_clause(cid, todo, "#etape")
    if w.stage == Stage.FOLLOW_UP.value and not w.final_report:
        return final_report_web(cid)
    if w.stage == Stage.FOLLOW_UP.value:
        return _open_clause(cid, f"Clôturer la clause ({step}).", "#etape")
    return _open_clause(cid, "Voir la clause.")


def _not_waiting_elsewhere(stage: str, today: date) -> list[ColumnElement[bool]]:
    """Not the lots that are a task of their own, one lot, one task: at the award stage, those
    whose planned start has passed (``_start_passed`` says since when and what recording the
    start asks of the companies); suspended, those past their planned end, their end not
    recorded (``_suspended_past_planned_end`` says since when they are suspended and asks about
    the resumption too)."""
    if stage == Stage.AWARD.value:
        return [or_(Clause.start_date.is_(None), Clause.start_date >= today)]
    if stage != Stage.SUSPENDED.value:
        return []
    return [
        or_(
            Clause.planned_end_date.is_(None),
            Clause.planned_end_date >= today,
            Clause.end_date.is_not(None),
        )
    ]


def _waiting(
    session: Session,
    now: datetime,
    settings: Settings,
    award_incomplete: Container[int],
    limit: int | None,
) -> _Part:
    thresholds = {stage: days for stage, days in settings.stage_wait_days.items() if days > 0}
    if not thresholds:
        return _Part([], 0)
    # Waiting more than ``days`` calendar days (as ``_DaysSince`` counts them): changed before
    # the local midnight that starts the day ``days`` days ago.
    today = local_date(now, settings.zone)
    conditions = [
        and_(
            Clause.stage == stage,
            Clause.stage_changed_at
            < at_local(today - timedelta(days=days), time(0), settings.zone),
            *_not_waiting_elsewhere(stage, today),
        )
        for stage, days in thresholds.items()
    ]
    statement = select(Clause.id, Clause.stage, raw(Clause.stage_changed_at)).where(
        or_(*conditions)
    )
    count: int | None = None
    if limit is not None and limit > 0:
        # By stage (its own threshold): the lots that waited as long as its ``limit``-th longest
        # or longer, read from ``ix_clauses_stage_changed`` (migration 0019), the others
        # counted (10,000 at 10^5 lots, each one's day told in Python, were 35 ms). Lots that
        # changed stage the same day are equals the lot orders: all of that day are read.
        count = 0
        parts = []
        for condition in conditions:
            count += session.scalar(select(func.count()).select_from(Clause).where(condition)) or 0
            edge = session.scalar(
                select(Clause.stage_changed_at)
                .where(condition)
                .order_by(Clause.stage_changed_at)
                .offset(limit - 1)
                .limit(1)
            )
            if edge is None:  # fewer than ``limit``: all of them
                parts.append(condition)
                continue
            next_day = local_date(edge, settings.zone) + timedelta(days=1)
            parts.append(
                and_(
                    condition, Clause.stage_changed_at < at_local(next_day, time(0), settings.zone)
                )
            )
        statement = select(Clause.id, Clause.stage, raw(Clause.stage_changed_at)).where(or_(*parts))
    days_since = _DaysSince(now, settings)
    found = []
    for cid, stage, since in session.execute(statement):
        days = days_since(since)
        found.append(_Found(days - thresholds[stage], cid, (cid, stage, days)))

    def write(chosen: list[_Found[tuple[int, str, int]]]) -> list[DigestItem]:
        target = func.coalesce(Clause.hours_override, Clause.hours_computed)
        labels = _labels(session, (task.row[0] for task in chosen), target, Clause.final_report_at)
        items = []
        for task in chosen:
            cid, stage, days = task.row
            _, ref, lot, title, buyer, hours_target, report_at = labels[cid]
            threshold = thresholds[stage]
            stage_label = STAGE_LABELS[Stage(stage)] if stage in set(Stage) else stage
            # Asked of the award stage's lots only: the others' answer is never read, and
            # a lot not read with the first awards is asked of the database (``FirstAwards``).
            incomplete = stage == Stage.AWARD.value and cid in award_incomplete
            waiting = _Waiting(cid, stage, hours_target, report_at is not None, incomplete)
            items.append(
                DigestItem(
                    Category.WAITING,
                    weight=task.weight,
                    title=(
                        f"{_capital(_clause_label(cid, ref, lot, title, buyer))} attend à "
                        f"l'étape « {stage_label} »"
                    ),
                    detail=f"Depuis {_days(days)} (seuil : {_days(threshold)}).",
                    action=_waiting_action(waiting),
                    clause_id=cid,
                    days=days,
                    web=_waiting_web(waiting),
                )
            )
        return items

    if count is None:
        return _part(found, write, limit)
    chosen = _to_write(found, limit)
    return _Part(write(chosen) if chosen else [], count)


def _no_contact(session: Session, limit: int | None) -> _Part:
    """Each buyer with lots in progress and no contact with an address: its stage notices and
    monthly summaries go nowhere, and are not even queued, so nothing else would tell."""
    reachable = (
        select(BuyerContact.id)
        .where(BuyerContact.buyer_id == Buyer.id, func.trim(BuyerContact.email) != "")
        .exists()
    )
    # The buyers first (a hundred), then their lots: asked in one query, SQLite walks every lot
    # of the territory to find that most buyers have a contact (7 ms for none at 10^4 lots).
    unreachable = session.scalars(select(Buyer.id).where(~reachable)).all()
    if not unreachable:
        return _Part([], 0)
    rows = session.execute(
        select(Buyer.id, Buyer.name, func.count(Clause.id), func.min(Clause.id))
        .join(Operation, Operation.buyer_id == Buyer.id)
        .join(Market, Market.operation_id == Operation.id)
        .join(Clause, Clause.market_id == Market.id)
        .where(
            Clause.stage.not_in([stage.value for stage in FINAL_STAGES]),
            Buyer.id.in_(unreachable),
        )
        .group_by(Buyer.id, Buyer.name)
    ).all()
    # The more lots in progress, the more notices held; the first lot settles ties.
    found = [_Found(count, first, (buyer_id, name, count)) for buyer_id, name, count, first in rows]
    held = waiting_by_buyer(session) if found else {}

    def write(chosen: list[_Found[tuple[int, str, int]]]) -> list[DigestItem]:
        items = []
        for task in chosen:
            buyer_id, name, count = task.row
            lots = f"{count} clause{'s' if count > 1 else ''} en cours"
            notices, held_lots = held.get(buyer_id, (0, 0))
            waiting = (
                f"{notices} avis d'étape en attente ({held_lots} lot{'s' if held_lots > 1 else ''}"
                ") ; le dernier de chaque lot partira dès qu'un contact avec une adresse sera "
                "enregistré"
                if notices
                else "aucun avis d'étape en attente pour l'instant"
            )
            items.append(
                DigestItem(
                    Category.NO_CONTACT,
                    weight=task.weight,
                    title=f"{name} n'a aucun contact avec une adresse e-mail",
                    detail=f"{lots} : {waiting} ; ses synthèses mensuelles ne partent pas.",
                    action=(
                        "Ajouter un contact (clauses buyer contact-add "
                        f"{buyer_id} --name … --email …) : le dernier avis de chaque lot "
                        "partira au passage suivant."
                    ),
                    clause_id=task.clause_id,
                    web=WebAction(
                        WebActionKind.BUYER,
                        "Ajouter un contact",
                        todo=(
                            "Ajouter un contact avec son adresse e-mail (formulaire « Ajouter un "
                            "contact » de la page du donneur d'ordre)."
                        ),
                        buyer_id=buyer_id,
                    ),
                )
            )
        return items

    return _part(found, write, limit)


# --- Declarations a company corrected online since the previous digest ---------------------------

#: The actor of what a company records from its signed link (``app.online_declarations``).
ONLINE_ACTOR_SUFFIX = " (déclaration en ligne)"
#: ``declarations.record_declaration``'s history event.
_DECLARATION_EVENT = "declaration"
#: What its history row says of a correction: « déclaration d'octobre 2026 de X : 98,50 h
#: (remplace 370,17 h) », « (remplace 370,17 h, validation levée) », then after « – » what it
#: did to the lot's outcomes. Every correction has its row, and only the row keeps what the
#: month said before: the declaration itself holds the last correction only.
_CORRECTED_REASON = re.compile(
    r"déclaration (?P<month>(?:d'|de )\S+ \d{4}) de (?P<company>.+) : (?P<after>[^:()]+?)"
    r" \(remplace (?P<before>[^()]+?\sh)(?P<more>(?:, [^()]*)?)\)(?: – (?P<counts>.*))?",
    re.DOTALL,
)


@lru_cache(maxsize=1)
def _month_numbers() -> dict[str, int]:
    """« de janvier » -> 1, « d'avril » -> 4: ``month_phrase`` without its year, read back."""
    return {month_phrase(date(2000, n, 1)).removesuffix(" 2000"): n for n in range(1, 13)}


def _month_of(phrase: str) -> date | None:
    """« d'octobre 2026 » -> 2026-10-01; None for words that are no month."""
    head, _, year = phrase.rpartition(" ")
    number = _month_numbers().get(head)
    return date(int(year), number, 1) if number is not None and year.isdigit() else None


def previous_digest(session: Session, now: datetime, settings: Settings) -> datetime:
    """The instant the previous digest was compiled (its day claimed, ``queue_daily_digest``),
    before today's: what happened after it is news for the next one. Never claimed yet (a new
    database, the first digest after an upgrade): the previous working day at the digest's
    time, so that a first digest does not tell the whole past."""
    today = local_date(now, settings.zone)
    done = session.scalar(
        select(func.max(PeriodicRun.done_at)).where(
            PeriodicRun.job == JOB, PeriodicRun.period < today.isoformat()
        )
    )
    if done is not None:
        return done
    day = today - timedelta(days=1)
    while not is_working_day(day):
        day -= timedelta(days=1)
    return at_local(day, settings.digest_time, settings.zone)


class _Correction(NamedTuple):
    at: datetime
    month: date
    company: str  # as the row wrote it
    before: str  # as the row wrote them: « 370,17 h »
    after: str
    validation_lifted: bool
    counts: str | None
    #: The company's number then (``clause_history.company_id``); None on an older row.
    company_id: int | None = None


def _online_corrections(
    session: Session, now: datetime, settings: Settings, limit: int | None
) -> _Part:
    """Each month a company corrected from its signed link after the previous digest and up to
    ``now``: in the next digest, and in that one only (the one after starts where it was
    compiled). Read from the history rows, one per correction, oldest first."""
    since = previous_digest(session, now, settings)
    rows = session.execute(
        select(
            ClauseHistory.clause_id,
            ClauseHistory.at,
            ClauseHistory.reason,
            ClauseHistory.company_id,
        )
        .where(
            ClauseHistory.event == _DECLARATION_EVENT,
            ClauseHistory.actor.endswith(ONLINE_ACTOR_SUFFIX, autoescape=True),
            ClauseHistory.reason.contains(" (remplace ", autoescape=True),
            ClauseHistory.at > since,
            ClauseHistory.at <= now,
        )
        .order_by(ClauseHistory.at, ClauseHistory.id)
    ).all()
    corrections: dict[int, list[_Correction]] = {}
    firsts: dict[int, int] = {}
    for index, (clause_id, at, reason, company_id) in enumerate(rows):
        said = _CORRECTED_REASON.fullmatch(reason or "")
        month = _month_of(said["month"]) if said is not None else None
        if said is None or month is None:
            log.warning("unreadable correction row", extra={"clause_id": clause_id})
            continue
        corrections.setdefault(clause_id, []).append(
            _Correction(
                at,
                month,
                said["company"],
                said["before"].strip(),
                said["after"].strip(),
                "validation levée" in said["more"],
                said["counts"],
                company_id,
            )
        )
        firsts.setdefault(clause_id, index)
    # One task per lot, its corrections under it (user trial: one lot corrected by two
    # companies read as two tasks, each saying « Clause n° 1 » again); the lot whose first
    # correction is the oldest first: the heavier, the earlier.
    found = [
        _Found(len(rows) - firsts[clause_id], clause_id, tuple(told))
        for clause_id, told in corrections.items()
    ]

    def write(chosen: list[_Found[tuple[_Correction, ...]]]) -> list[DigestItem]:
        labels = _labels(session, {task.clause_id for task in chosen if task.clause_id})
        told = [(task.clause_id or 0, c) for task in chosen for c in task.row]
        whose = _correcting_companies(session, told)
        again = _cancelled_since(session, told, whose, now)
        items = []
        for task in chosen:
            assert task.clause_id is not None
            clause_id: int = task.clause_id
            lines: list[str] = []
            commands: dict[tuple[int, date], str] = {}
            for c in task.row:
                company = whose.get((clause_id, c.month, c.company, c.company_id))
                cancelled = again.get((clause_id, c.at, c.month, c.company, c.company_id))
                name = c.company
                if company is not None and company[1] != c.company:
                    # Renamed since: the name she knows now, and the one the row wrote.
                    name = f"{company[1]} (alors {c.company})"
                day = french_date(local_date(c.at, settings.zone))
                said = [
                    f"{name} a corrigé en ligne sa déclaration {month_phrase(c.month)} le {day} : "
                    f"{c.before} → {c.after}."
                ]
                if c.validation_lifted:
                    said.append("Vous l'aviez validée : la validation est levée.")
                if c.counts:
                    said.append(c.counts if c.counts.endswith(".") else c.counts + ".")
                if cancelled is not None:
                    # Cancelled since, then maybe declared again: the month's declaration today
                    # is another one, never to validate as this correction (user trial: the
                    # command would have validated the 140 h declared after the cancellation).
                    said.append(_cancelled_words(cancelled, settings))
                elif company is None:
                    # Cancelled since: nothing left to check for that month.
                    said.append("Cette déclaration a été annulée depuis.")
                else:
                    commands[(company[0], c.month)] = (
                        f"clauses declaration validate --clause {clause_id} "
                        f"--company {company[0]} --month {c.month:%m/%Y}"
                    )
                lines.append(" ".join(said))
            label = labels.get(clause_id)
            heading = _lot_heading(*label) if label else f"Clause n° {clause_id}"
            count = len(task.row)
            corrected = "déclaration corrigée" if count == 1 else "déclarations corrigées"
            if not commands:
                action = (
                    "Rien à valider ; voir les déclarations attendues "
                    f"(clauses declaration list --clause {clause_id})."
                )
            elif len(commands) == 1:
                [(company_id, month)] = commands
                action = online_correction_action(clause_id, company_id, month)
            else:
                action = (
                    "Vérifier les déclarations corrigées, puis les valider ("
                    + " ; ".join(commands.values())
                    + ")."
                )
            items.append(
                DigestItem(
                    Category.ONLINE_CORRECTION,
                    task.weight,
                    f"{heading} : {count} {corrected} en ligne",
                    " ".join(lines),
                    action,
                    clause_id,
                    web=online_correction_web(clause_id),
                    lines=tuple(lines),
                )
            )
        return items

    return _part(found, write, limit)


def _lot_heading(clause_id: int, reference: str, lot: str, title: str, buyer: str) -> str:
    """The lot as the facilitator knows it, then its number for the commands: « Marché 2026-014
    lot 01 – Gros œuvre, Département de l'Exemple (clause n° 1) »."""
    lot_text = f" lot {lot}" if lot else ""
    return f"Marché {reference}{lot_text} – {title}, {buyer} (clause n° {clause_id})"


def _correcting_companies(
    session: Session, told: Sequence[tuple[int, _Correction]]
) -> dict[tuple[int, date, str, int | None], tuple[int, str]]:
    """By lot, month, the name and number a correction's history row wrote: the company that
    declared that month (its id and its name now), found by id among the month's declarations:
    by the row's number (0029 on; followed through the merges since), else by its name now,
    else by a name it had (renamed since, or the company merged into it: the record history
    keeps both), never a company of the same name by chance. Absent: the month's declaration
    was cancelled since."""
    clause_ids = {clause_id for clause_id, _ in told}
    months = sorted({c.month for _, c in told})
    declared: dict[tuple[int, date], list[tuple[int, str]]] = {}
    for chunk in _chunks(clause_ids):
        for on_clause, month, company_id, name in session.execute(
            select(Declaration.clause_id, Declaration.month, Company.id, Company.name)
            .join(Company, Company.id == Declaration.company_id)
            .where(Declaration.clause_id.in_(chunk), Declaration.month.in_(months))
        ):
            declared.setdefault((on_clause, month), []).append((company_id, name))
    companies = HistoryCompanies(session)
    whose: dict[tuple[int, date, str, int | None], tuple[int, str]] = {}
    for clause_id, c in told:
        candidates = declared.get((clause_id, c.month), [])
        if c.company_id is not None:
            now_of = companies.now_of(c.company_id, c.at)
            match = next((found for found in candidates if found[0] == now_of), None)
        else:
            chosen = companies.by_name(c.company, candidates, at=c.at)
            match = next((found for found in candidates if found[0] == chosen), None)
        if match is not None:
            whose[(clause_id, c.month, c.company, c.company_id)] = match
    return whose


class _CancelledSince(NamedTuple):
    at: datetime
    #: The month declared again after it: when, and its hours today; None if not (yet).
    declared_again: tuple[datetime, Decimal] | None


def _cancelled_since(
    session: Session,
    told: Sequence[tuple[int, _Correction]],
    whose: dict[tuple[int, date, str, int | None], tuple[int, str]],
    now: datetime,
) -> dict[tuple[int, datetime, date, str, int | None], _CancelledSince]:
    """The corrections whose declaration was cancelled after them (up to ``now``): the first
    such cancellation of the month of the company, by the row's number, else by a name the
    company had; and the month's declaration of the company recorded after it, if any."""
    if not told:
        return {}
    clause_ids = {clause_id for clause_id, _ in told}
    first = min(c.at for _, c in told)
    rows: dict[int, list[tuple[datetime, date, str, int | None]]] = {}
    for chunk in _chunks(clause_ids):
        for clause_id, at, reason, company_id in session.execute(
            select(
                ClauseHistory.clause_id,
                ClauseHistory.at,
                ClauseHistory.reason,
                ClauseHistory.company_id,
            )
            .where(
                ClauseHistory.clause_id.in_(chunk),
                ClauseHistory.event == CANCELLED_EVENT,
                ClauseHistory.at > first,
                ClauseHistory.at <= now,
            )
            .order_by(ClauseHistory.at, ClauseHistory.id)
        ):
            said = CANCELLED_REASON.fullmatch(reason or "")
            month = _month_of(said["month"]) if said is not None else None
            if said is None or month is None:
                continue
            rows.setdefault(clause_id, []).append((at, month, said["company"], company_id))
    if not rows:
        return {}
    companies = HistoryCompanies(session)
    parties = _lot_companies(session, rows)
    found: dict[tuple[int, datetime, date, str, int | None], _CancelledSince] = {}
    for clause_id, c in told:
        lot_rows = rows.get(clause_id)
        if not lot_rows:
            continue
        mine = companies.now_of(c.company_id, c.at) if c.company_id is not None else None
        if mine is None and (today := whose.get((clause_id, c.month, c.company, None))):
            mine = today[0]
        for at, month, name, company_id in lot_rows:
            if month != c.month or at <= c.at:
                continue
            if mine is None:
                same = name == c.company
            elif company_id is not None:
                same = companies.now_of(company_id, at) == mine
            else:
                # A row written before it kept a number: by the name the company had then,
                # no other company of the lot having it then.
                same = companies.by_name(name, parties.get(clause_id, []), at=at) == mine
            if same:
                found[(clause_id, c.at, c.month, c.company, c.company_id)] = _CancelledSince(
                    at,
                    _declared_after(
                        session, companies, parties.get(clause_id, []), clause_id, mine, c.month, at
                    ),
                )
                break
    return found


def _lot_companies(session: Session, lots: Iterable[int]) -> dict[int, list[tuple[int, str]]]:
    """The companies of each lot (number, name today): those an older history row may name."""
    found: dict[int, list[tuple[int, str]]] = {}
    for chunk in _chunks(set(lots)):
        for clause_id, company_id, name in session.execute(
            select(AwardParty.clause_id, AwardParty.company_id, Company.name)
            .join(Company, Company.id == AwardParty.company_id)
            .where(AwardParty.clause_id.in_(chunk))
            .order_by(AwardParty.clause_id, AwardParty.company_id)
        ):
            found.setdefault(clause_id, []).append((company_id, name))
    return found


def _declared_after(
    session: Session,
    companies: HistoryCompanies,
    parties: Sequence[tuple[int, str]],
    clause_id: int,
    company_id: int | None,
    month: date,
    at: datetime,
) -> tuple[datetime, Decimal] | None:
    """The month's declaration of the company if recorded after ``at``: when it was first
    recorded after ``at`` (the lot's history; its ``recorded_at`` moves with each correction
    since), its hours today."""
    if company_id is None:
        return None
    row = session.execute(
        select(Declaration.recorded_at, Declaration.total_hours).where(
            Declaration.clause_id == clause_id,
            Declaration.company_id == company_id,
            Declaration.month == month,
            Declaration.recorded_at > at,
        )
    ).first()
    if row is None:
        return None
    first = row[0]
    for recorded, reason, whose in session.execute(
        select(ClauseHistory.at, ClauseHistory.reason, ClauseHistory.company_id)
        .where(
            ClauseHistory.clause_id == clause_id,
            ClauseHistory.event == _DECLARATION_EVENT,
            ClauseHistory.at > at,
        )
        .order_by(ClauseHistory.at, ClauseHistory.id)
    ):
        said = RECORDED_REASON.fullmatch(reason or "")
        if said is None or _month_of(said["month"]) != month:
            continue
        if whose is not None:
            same = companies.now_of(whose, recorded) == company_id
        else:
            same = companies.by_name(said["company"], parties, at=recorded) == company_id
        if same:
            first = recorded
            break
    return first, Decimal(row[1])


def _cancelled_words(cancelled: _CancelledSince, settings: Settings) -> str:
    """« J'ai annulé cette déclaration le 3 avril 2027 ; le mois a été déclaré de nouveau le
    4 avril 2027 : 140 h. » (the month is declared again, not the declaration cancelled)."""
    day = french_date(local_date(cancelled.at, settings.zone))
    words = f"J'ai annulé cette déclaration le {day}"
    if cancelled.declared_again is None:
        return words + "."
    again_at, hours = cancelled.declared_again
    again = french_date(local_date(again_at, settings.zone))
    return f"{words} ; le mois a été déclaré de nouveau le {again} : {french_hours(hours)}."


def _parts(
    session: Session, now: datetime, settings: Settings, limit: int | None
) -> list[tuple[Category, _Part]]:
    """Each section in order of urgency: every task, or with ``limit`` at least the first ones
    of each (unsorted) and the count of all."""
    require_aware(now)
    today = local_date(now, settings.zone)
    awards, incomplete = _awards(session, now, settings, limit)
    return [
        (Category.EMAIL, _emails(session, settings, now, limit)),
        (Category.NO_CONTACT, _no_contact(session, limit)),
        (Category.DECLARATION, _declarations(session, today, settings, limit)),
        (Category.ONLINE_CORRECTION, _online_corrections(session, now, settings, limit)),
        (Category.PACE, _pace(session, today, settings, limit)),
        (Category.PLANNED_END, _planned_end_passed(session, today, limit)),
        (
            Category.PLANNED_END_SUSPENDED,
            _suspended_past_planned_end(session, today, settings, limit),
        ),
        (Category.START_PASSED, _start_passed(session, now, settings, limit)),
        (Category.AWARD, awards),
        (Category.FINAL_REPORT, _final_reports(session, now, settings, limit)),
        (Category.FINAL_REPORT_OUTDATED, _outdated_reports(session, now, settings, limit)),
        (Category.ELIGIBILITY, _eligibility(session, limit)),
        (Category.WAITING, _waiting(session, now, settings, incomplete, limit)),
    ]


def compile_digest(session: Session, now: datetime, settings: Settings) -> Digest:
    """Everything that needs the facilitator at ``now``, most urgent first (nothing is sent)."""
    require_aware(now)
    today = local_date(now, settings.zone)
    items = [item for _, part in _parts(session, now, settings, None) for item in part.items]
    items.sort(key=lambda item: item.sort_key)
    return Digest(day=today, working_day=is_working_day(today), items=tuple(items))


def compile_tasks(
    session: Session, now: datetime, settings: Settings, limit_per_section: int
) -> DayTasks:
    """The ``limit_per_section`` most urgent tasks of each section of ``compile_digest`` at
    ``now``, in its order and with its words, and each section's count; only the tasks shown
    are written (``compile_digest(...).first(limit)`` gives the same, at the cost of all)."""
    require_aware(now)
    today = local_date(now, settings.zone)
    sections = []
    for category, part in _parts(session, now, settings, max(limit_per_section, 0)):
        if part.count:
            ordered = sorted(part.items, key=lambda item: item.sort_key)
            sections.append(Section(category, tuple(ordered[:limit_per_section]), part.count))
    return DayTasks(day=today, working_day=is_working_day(today), sections=tuple(sections))


def queue_daily_digest(app: App, now: datetime) -> int:
    """Queue today's digest if today is a working day, its time has come and there is something
    to do; 1 when an email was queued, else 0."""
    require_aware(now)
    settings = app.settings
    today = local_date(now, settings.zone)
    if not is_working_day(today) or now < at_local(today, settings.digest_time, settings.zone):
        return 0
    period = today.isoformat()
    with app.transaction() as session:
        if session.get(PeriodicRun, (JOB, period)) is not None:
            return 0
        if not claim_period(session, JOB, period, now):
            return 0
        digest = compile_digest(session, now, settings)
        if not digest.items:
            log.info("digest empty", extra={"action": "digest_empty", "period": period})
            return 0
        queued = queue_email(
            session,
            app.renderer,
            key=f"digest:{period}",
            kind=KIND,
            recipients=[Recipient(settings.facilitator_name, settings.facilitator_email)],
            context=digest_context(digest, web_base(settings)),
            now=now,
        )
    log.info(
        "digest queued",
        extra={"action": "digest_queued", "period": period, "items": len(digest.items)},
    )
    return int(queued)
