"""The outbox side of the declaration ladder's three emails (``emails.ladder``): their keys,
their recipients and attachments, and what the outbox says was really sent.

One email may cover several months of one company on one lot (a catch-up call after a late start
or a stop, the reminders of those months that fall due together): its key names the company, the
lot, the months and the step, ``reminder:<clause>:<company>:2026-09..2026-11:call``, so it is
derived from what caused it, never from the clock. ``key_months`` reads the months back, which is
how the buyer's alert and the digest tell what was really sent for a month.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from workflow.adapters.batching import IN_BATCH, chunked
from workflow.adapters.orm import (
    AwardParty,
    Clause,
    ClauseHistory,
    Company,
    Declaration,
    DeclarationLadder,
    OutboxMessage,
)
from workflow.adapters.templates import (
    TemplateRenderer,
    received_words,
    remembered_date,
    remembered_month,
)
from workflow.domain.calendar import (
    LadderDays,
    LadderStep,
    add_months,
    local_date,
    month_schedule,
    months_between,
    planned_step_day,
    pushed_due,
    reminder_count,
    reminder_number,
    reminder_step,
    suspended_days,
)
from workflow.domain.events import DeclarationRecorded
from workflow.emails.ladder import (
    KINDS,
    LadderGroup,
    LateMonth,
    alerted_before_context,
    alerted_list_names,
    ladder_context,
    late_before_context,
    late_days_context,
    late_list_names,
    step_label,
    step_participle,
)
from workflow.emails.phrases import month_phrase
from workflow.services import notices
from workflow.services.cancellation_withdrawals import withdraw_cancellations
from workflow.services.declaration_facts import CANCELLED_REASON, RECORDED_REASON
from workflow.services.declaration_howto import declaration_material
from workflow.services.declaration_links import month_links
from workflow.services.email_facts import lot_of, party_correspondent, party_of
from workflow.services.held_due_dates import owed_due_dates_many
from workflow.services.history_companies import HistoryCompanies

# The keys, re-exported: the ladder's emails are where their readers look for them.
from workflow.services.ladder_keys import KEY_PREFIX as KEY_PREFIX
from workflow.services.ladder_keys import LadderKey as LadderKey
from workflow.services.ladder_keys import key_months as key_months
from workflow.services.ladder_keys import months_text as months_text
from workflow.services.ladder_keys import parse_months as parse_months
from workflow.services.ladder_keys import step_key as step_key
from workflow.services.ladder_keys import withdrawn_by_service
from workflow.services.ladder_rewrites import REWRITTEN_STATES, months_listed, write_again
from workflow.services.lot_calendars import lot_calendars, suspensions
from workflow.services.mailing import Mailing
from workflow.services.months_owed import Owing, owed_up_to, owed_up_to_many
from workflow.services.outbox import NOT_LEFT, Attachment, OutboxState, Recipient, withdraw
from workflow.settings import Settings

log = logging.getLogger(__name__)

#: The most months one email lists (a longer catch-up is split): keeps keys short.
MAX_MONTHS_PER_EMAIL = 12


@dataclass(frozen=True)
class LadderMessage:
    recipients: list[Recipient]
    context: dict[str, Any]
    attachments: Sequence[Attachment] = ()


def ladder_message(
    app: Mailing,
    session: Session,
    clause: Clause,
    group: LadderGroup,
    now: datetime,
    reading: LateReading | None = None,
) -> LadderMessage | None:
    """Recipients, context and attachments of ``group``'s email, or None when there is nobody
    to write to. ``reading``: what the climb batch read once for all its emails (``late_before``
    and the alert's steps sent), else read for this one."""
    settings = app.settings
    party = next((p for p in clause.parties if p.company_id == group.company_id), None)
    company = party.company if party else session.get_one(Company, group.company_id)
    correspondent = party_correspondent(party) if party else None
    # The earlier months still late the email names (none in the buyer's alert, none without
    # anybody to write to): each gets its link and a block in the call's template like the
    # months asked, so that a company following its email can declare every month it is asked
    # for (user trial: ten months listed, one link).
    late = (
        late_before(app, session, clause, group, now, reading)
        if group.step != LadderStep.ESCALATION
        and correspondent is not None
        and correspondent.email.strip()
        else []
    )
    asked_months = [*group.months, *(m.month for m in late)]
    # The company's own web links; the buyer's alert carries none.
    links = (
        []
        if group.step == LadderStep.ESCALATION
        else month_links(session, settings, clause.id, company.id, asked_months, now)
    )
    context = ladder_context(
        lot=lot_of(clause),
        party=party_of(party) if party else None,
        company=company.name,
        correspondent=correspondent.name if correspondent else None,
        group=group,
        today=local_date(now, settings.zone),
        settings=settings,
        links=links,
    )
    today = local_date(now, settings.zone)
    asked = asked_again(
        session,
        clause.id,
        company.name,
        group,
        now,
        settings.zone,
        rows=reading.cancellations(clause.id) if reading is not None else None,
        reading=reading,
    )
    context.update(asked_again_context(asked, group, today))
    if group.step == LadderStep.ESCALATION:
        context["buyer"] = {"name": clause.market.operation.buyer.name}
        # Read once for both: what the earlier months got, and this one's steps.
        history = reading.history() if reading is not None else ladder_history(session, [clause.id])
        # The earlier months still missing the buyer was already alerted of, from the same
        # reading as the company's late list (user trial: the tenth monthly alert read as if
        # it were the first, when nine months were still missing and alerted).
        context["alerted_before"] = alerted_before_context(
            [
                m
                for m in late_before(app, session, clause, group, now, reading, history=history)
                if m.alerted_on is not None
            ]
        )
        context["sent"] = steps_done(
            history,
            group.clause_id,
            group.company_id,
            group.months,
            group.reminders_total,
            settings.zone,
            asked=asked,
        )
        buyer = notices.buyer_recipients(clause.market.operation.buyer)
        recipients = [*buyer, Recipient(settings.facilitator_name, settings.facilitator_email)]
        return LadderMessage(recipients, context)
    if correspondent is None or not correspondent.email.strip():
        return None
    recipients = [Recipient(correspondent.name, correspondent.email)]
    context["late_before"] = late_before_context(late, today)
    if group.step != LadderStep.CALL:
        return LadderMessage(recipients, context)
    # The call says exactly which columns to send, from the importer's own definitions, and
    # attaches the templates. It gives one due date to all its months (a catch-up call its own,
    # later than the scheduled ones): the list of months says that date, as the subject does.
    due_dates = {m.month: m.due_on for m in late} | dict.fromkeys(group.months, group.due_on)
    material = declaration_material(
        session, clause, company, asked_months, settings, due_dates=due_dates
    )
    # The late months' rows say they are late, not a date long past as if still ahead.
    late_months = {m.month for m in late}
    for row in material.howto["months"]:
        row["late"] = row["month"] in late_months
    context["declaration_howto"] = material.howto
    return LadderMessage(recipients, context, material.attachments)


def group_again(
    app: Mailing,
    session: Session,
    clause: Clause,
    company_id: int,
    step: str,
    months: Sequence[date],
    at: datetime,
) -> LadderGroup:
    """The group of ``step`` for ``months`` as the pass that queued its email at ``at`` saw it
    (``reminders._send_group``), read again from the months' ladders: to write an email still
    waiting again for fewer of its months (``ladder_rewrites``: the others are no longer owed,
    or were declared).

    The due date is the one the step held the company to (a call's, written on its ladders;
    a later step's, pushed by the suspended days); the alert's day, told in the last reminder,
    the one the ladder waits for, else counted as the pass counted it."""
    settings = app.settings
    zone = settings.zone
    today = local_date(at, zone)
    rules = lot_calendars(session, [clause.id], settings)[clause.id].rules
    days = LadderDays(
        suspended_days(suspensions(session, [clause.id]).get(clause.id, []), zone, today)
    )
    ladders = session.scalars(
        select(DeclarationLadder)
        .where(
            DeclarationLadder.clause_id == clause.id,
            DeclarationLadder.company_id == company_id,
            DeclarationLadder.month.in_(sorted(set(months))),
        )
        .order_by(DeclarationLadder.month)
    ).all()
    if len(ladders) != len(set(months)):
        raise ValueError(f"no ladder for every month of {step} on clause {clause.id}")
    schedules = [month_schedule(ladder.month, rules, zone) for ladder in ladders]
    if step == LadderStep.CALL:
        due_on = max(ladder.due_on for ladder in ladders)
        called = [today] * len(ladders)
    else:
        called = [
            local_date(ladder.called_at or schedule.call_at, zone)
            for ladder, schedule in zip(ladders, schedules, strict=True)
        ]
        due_on = pushed_due(ladders[0].due_on, called[0], days)
    alerts: list[date] = []
    for ladder, schedule, called_on in zip(ladders, schedules, called, strict=True):
        names = [s.name for s in schedule.steps]
        if step not in names or names[names.index(step) + 1 :][:1] != [LadderStep.ESCALATION]:
            continue
        if ladder.next_step == LadderStep.ESCALATION and ladder.next_step_at is not None:
            alerts.append(local_date(ladder.next_step_at, zone))
            continue
        alerts.append(
            planned_step_day(
                schedule,
                rules,
                LadderStep.ESCALATION,
                due_on=due_on if step == LadderStep.CALL else ladder.due_on,
                called_on=called_on,
                previous_on=today,
                days=days,
            )
        )
    return LadderGroup(
        clause_id=clause.id,
        company_id=company_id,
        step=step,
        months=tuple(ladder.month for ladder in ladders),
        due_on=due_on,
        reminders_total=reminder_count(schedules[0]),
        escalation_on=min(alerts) if alerts else None,
        days=days,
    )


# --- the earlier months still late -----------------------------------------------------------

#: An alert in these states never reaches the buyer (cancelled, refused, given up): the email
#: does not say it was « signalée ».
_ALERT_GONE = (OutboxState.CANCELLED, OutboxState.FAILED, OutboxState.DEAD)


def late_before(
    app: Mailing,
    session: Session,
    clause: Clause,
    group: LadderGroup,
    now: datetime,
    reading: LateReading | None = None,
    *,
    history: LadderHistory | None = None,
) -> list[LateMonth]:
    """The company's earlier months on the lot that a call or a reminder of ``group`` names as
    late (user trial: the October call said nothing of a September reminded twice, whose alert
    to the buyer left the same minute): before ``group``'s newest month and not in it, still
    owed (``months_owed.owed_up_to``: a month released, the lot closed or the company gone, is
    not), called before ``now`` and past the due date the company is held to
    (``notices.owed_due_dates``).

    What happened to each is read from the outbox as it stands when the email is written: the
    reminders that left, and the alert only when its row was queued by then (the pass queues a
    company's call before its alerts); else the day the month's ladder plans it for.

    ``reading``: the same facts read once for a whole climb batch (``LateReading``);
    ``history``: the lot's ladder emails when the caller has read them (``ladder_history``).

    For the buyer's alert (``alerted_before``), the same months: only an alert queued before
    ``now`` counts (one queued the same instant, another group of the same pass, arrives with
    it), and the months owed are read for this email (the batch reads them for the calls and
    the reminders only; alerts are few)."""
    party = next((p for p in clause.parties if p.company_id == group.company_id), None)
    if party is None:
        return []
    alert = group.step == LadderStep.ESCALATION
    batch = None if alert else reading
    settings = app.settings
    zone = settings.zone
    today = local_date(now, zone)
    newest = max(group.months)
    if history is None and alert:
        history = reading.history() if reading is not None else ladder_history(session, [clause.id])
    if alert and not _alerted_earlier(
        history or {},
        clause,
        group,
        now,
    ):
        # No earlier month was alerted: nothing for the alert to name, nothing more to read
        # (most alerts, every day of the pass).
        return []
    owed = [
        month
        for month in (
            batch.owed(clause.id, group.company_id)
            if batch is not None
            else owed_up_to(session, clause, party, newest, zone, now=now)
        )
        if month < newest and month not in group.months
    ]
    if not owed:
        return []
    if batch is not None:
        ladders = batch.called_ladders(clause.id, group.company_id, owed)
    else:
        ladders = {
            ladder.month: ladder
            for ladder in session.scalars(
                select(DeclarationLadder).where(
                    DeclarationLadder.clause_id == clause.id,
                    DeclarationLadder.company_id == group.company_id,
                    DeclarationLadder.month.in_(owed),
                    DeclarationLadder.declared_at.is_(None),
                    DeclarationLadder.called_at.is_not(None),
                    DeclarationLadder.called_at < now,
                )
            )
        }
    if not ladders:
        return []
    due = (
        batch.due_dates(clause.id, group.company_id)
        if batch is not None
        else notices.owed_due_dates(session, clause, group.company_id, settings, now)
    )
    if history is None:
        history = reading.history() if reading is not None else ladder_history(session, [clause.id])
    received = (
        _last_received(
            session,
            reading.cancellations(clause.id)
            if reading is not None
            else _cancellation_rows(session, [clause.id], now).get(clause.id, []),
            clause.id,
            group.company_id,
            party.company.name,
            owed,
            reading,
        )
        if alert
        else {}
    )
    late: list[LateMonth] = []
    for month in owed:
        ladder = ladders.get(month)
        due_on = due.get(month)
        if ladder is None or due_on is None or due_on >= today:
            continue
        emails = history.get((clause.id, group.company_id, month), [])
        reminders = {
            e.step
            for e in emails
            if reminder_number(e.step) is not None
            and e.state == OutboxState.SENT
            and (e.sent_at or e.created_at) <= now
        }
        alerts = [
            e
            for e in emails
            if e.step == LadderStep.ESCALATION
            and (e.created_at < now if alert else e.created_at <= now)
            and e.state not in _ALERT_GONE
            # For the buyer's alert, a month asked again after its declaration was cancelled
            # counts only the alerts queued after it was received: the buyer was told then
            # that it had arrived (``late_declaration_notices``), not that it is missing again.
            and (not alert or month not in received or e.created_at > received[month])
        ]
        alert_on = None
        if (
            not alerts
            and ladder.escalated_at is None
            and ladder.next_step == LadderStep.ESCALATION
            and ladder.next_step_at is not None
        ):
            alert_on = local_date(ladder.next_step_at, zone)
        late.append(
            LateMonth(
                month=month,
                due_on=due_on,
                reminders=len(reminders),
                alerted_on=local_date(alerts[0].created_at, zone) if alerts else None,
                alert_on=alert_on,
            )
        )
    return late


def _alerted_earlier(
    history: LadderHistory, clause: Clause, group: LadderGroup, now: datetime
) -> bool:
    """Whether an alert of a month of the company on the lot before ``group``'s newest, not
    among its own, was queued before ``now`` and may reach the buyer: else an alert has no
    earlier month to name (``late_before``). The lot's months are looked up one by one (the
    history of a climb batch holds every escalating lot's)."""
    newest = max(group.months)
    if clause.start_date is not None:
        months = months_between(clause.start_date, add_months(newest, -1))
    else:
        months = sorted(
            month
            for clause_id, company_id, month in history
            if clause_id == group.clause_id and company_id == group.company_id
        )
    return any(
        e.step == LadderStep.ESCALATION and e.created_at < now and e.state not in _ALERT_GONE
        for month in months
        if month < newest and month not in group.months
        for e in history.get((group.clause_id, group.company_id, month), [])
    )


class LateReading:
    """What ``late_before`` (and the alert's steps sent) read, once for a climb batch instead of
    once per email (``reminders._climb_batch``: at the start of a month, a call per company):
    the months each company owes (``owed_up_to_many``, one statement, the lots' suspensions
    handed in), then, only when one owes an earlier month, the undeclared ladders of the
    batch's companies and the ladder emails of its lots, one statement each.

    The same facts as one read per email: a read per email returned the same ORM objects (the
    session's identity map), read here when used (``_advance`` writes the database only), and the
    months it calls are called now, not before now, so never named late whichever way they
    are read (the due dates of the months named late are read once for the batch, when the
    first is needed, ``held_due_dates.owed_due_dates_many``); the only rows the pass adds are the emails it queues, which
    it reports (``record``) as it queues them, so that an email written later in the batch
    sees them (the call before its month's alert). Only what another transaction commits
    during the batch (a declaration) is seen by no later email of it, where a read per email
    might have seen it: the declaration's own withdrawal (``withdraw_answered``) cannot see the
    batch's emails before it commits either way."""

    def __init__(
        self,
        session: Session,
        lots: Mapping[int, Clause],
        newest: Mapping[tuple[int, int], date],
        escalating: Iterable[int],
        now: datetime,
        settings: Settings,
        suspended: Mapping[int, Sequence[Any]] | None = None,
    ) -> None:
        """``newest``: the newest month of each company's calls and reminders in the batch, by
        (lot, company); ``escalating``: the lots of its alerts (which read what was sent)."""
        self._session = session
        self._now = now
        self._newest = max(newest.values(), default=date.min)
        companies = [
            Owing.of(lots[clause_id], party)
            for clause_id, company_id in sorted(newest)
            for party in lots[clause_id].parties
            if party.company_id == company_id
        ]
        self._owed = (
            owed_up_to_many(
                session, companies, self._newest, settings.zone, now=now, suspended=suspended
            )
            if companies
            else {}
        )
        # The companies that may be late for an earlier month: only their ladders, and their
        # lots' emails, are read.
        self._late = sorted(
            pair for pair, months in self._owed.items() if months and months[0] < newest[pair]
        )
        self._lots = sorted({clause_id for clause_id, _ in self._late} | set(escalating))
        self._ladders: dict[tuple[int, int], dict[date, DeclarationLadder]] | None = None
        self._rows: LadderHistory = {}
        self._history: LadderHistory | None = None
        self._all_lots = sorted(lots)
        self._cancellations: dict[int, list[HistoryRow]] | None = None
        # The companies the batch's cancellation rows tell of, and the parties of their lots,
        # read once for the batch when a lot has a cancellation (``lot_history``).
        self._companies = HistoryCompanies(session)
        self._parties: dict[int, list[tuple[int, str]]] | None = None
        self._settings = settings
        self._due: dict[tuple[int, int], dict[date, date | None]] | None = None

    def cancellations(self, clause_id: int) -> list[HistoryRow]:
        """``asked_again``'s reading of the lot's history, for every lot of the batch at once
        (the pass writes no history)."""
        if self._cancellations is None:
            self._cancellations = _cancellation_rows(self._session, self._all_lots, self._now)
        return self._cancellations.get(clause_id, [])

    def lot_history(self, clause_id: int) -> _LotHistory:
        """``_rows_of``'s companies and parties for a lot of the batch: on the first call, the
        parties of every lot with a cancellation, the merges of every number their rows keep
        (so that ``now_of`` reads nothing more) and, when a row kept none, the renames and
        absorptions of the parties (``HistoryCompanies.by_name``), each one query per chunk."""
        if self._parties is None:
            self.cancellations(clause_id)
            assert self._cancellations is not None
            cancelled = {
                lot: rows
                for lot, rows in self._cancellations.items()
                if any(row[0] == _CANCELLED_EVENT for row in rows)
            }
            self._parties = _lot_parties(self._session, cancelled)
            self._companies.read_merges(
                {row[3] for rows in cancelled.values() for row in rows if row[3] is not None}
            )
            older = {
                company_id
                for lot, rows in cancelled.items()
                if any(row[3] is None for row in rows)
                for company_id, _ in self._parties[lot]
            }
            if older:
                self._companies.read_changes(older)
        parties = self._parties.get(clause_id)
        if parties is None:
            parties = self._parties[clause_id] = _lot_parties(self._session, [clause_id])[clause_id]
        return _LotHistory(self._companies, parties)

    def owed(self, clause_id: int, company_id: int) -> list[date]:
        """``owed_up_to`` for the company up to the batch's newest month (each email keeps those
        before its own newest: the list is the same whatever month it stops at)."""
        return self._owed.get((clause_id, company_id), [])

    def called_ladders(
        self, clause_id: int, company_id: int, months: Sequence[date]
    ) -> dict[date, DeclarationLadder]:
        """The ladders of ``months`` undeclared and called before now, as ``late_before`` reads
        them for one email."""
        if self._ladders is None:
            self._ladders = defaultdict(dict)
            for chunk in chunked(self._late, IN_BATCH):
                for ladder in self._session.scalars(
                    select(DeclarationLadder).where(
                        tuple_(DeclarationLadder.clause_id, DeclarationLadder.company_id).in_(
                            chunk
                        ),
                        DeclarationLadder.month < self._newest,
                        DeclarationLadder.declared_at.is_(None),
                    )
                ):
                    self._ladders[(ladder.clause_id, ladder.company_id)][ladder.month] = ladder
        found = self._ladders.get((clause_id, company_id), {})
        return {
            month: row
            for month in months
            if (row := found.get(month)) is not None
            and row.declared_at is None
            and row.called_at is not None
            and row.called_at < self._now
        }

    def due_dates(self, clause_id: int, company_id: int) -> Mapping[date, date | None]:
        """``notices.owed_due_dates`` of the batch's late companies, read at once
        (``held_due_dates.owed_due_dates_many``): a month called in this pass, whose date the
        pass has just changed, is never named late (called now, not before now)."""
        if self._due is None:
            self._due = owed_due_dates_many(self._session, self._late, self._settings, self._now)
        return self._due.get((clause_id, company_id), {})

    def history(self) -> LadderHistory:
        """``ladder_history`` of the batch's lots, with the emails queued since it was read."""
        if self._history is None:
            self._rows = _history_rows(self._session, self._lots)
            self._history = {
                where: without_replaced(list(emails)) for where, emails in self._rows.items()
            }
        return self._history

    def record(self, key: str, created_at: datetime) -> None:
        """An email the pass has just queued (waiting), so that the next ones read it."""
        if self._history is None:
            return  # not read yet: it will be, with this row
        parsed = key_months(key)
        if parsed is None or parsed.clause_id not in self._lots:
            return
        sent = SentStep(parsed.step, parsed.months, key, created_at, OutboxState.PENDING, None)
        for month in parsed.months:
            where = (parsed.clause_id, parsed.company_id, month)
            emails = self._rows.setdefault(where, [])
            # In the history's order (queued at, then id: the newest row last).
            at = len(emails)
            while at > 0 and emails[at - 1].created_at > created_at:
                at -= 1
            emails.insert(at, sent)
            self._history[where] = without_replaced(list(emails))


# --- a month asked again after its declaration was cancelled ----------------------------------

#: ``services.declarations.DECLARATION_CANCELLED`` and the recording's history event.
_CANCELLED_EVENT = "declaration_cancelled"
_RECORDED_EVENT = "declaration"
#: A lot's row of a recording or a cancellation: its event, instant, text and company's number
#: (None on the rows written before they kept it).
HistoryRow = tuple[str, datetime, str | None, int | None]
#: What a cancellation's history reason may end with after the facilitator's own words: the
#: outcomes it took out of the figures (``outcomes.uncounted_sentence``).
_UNCOUNTED_TAIL = re.compile(r" – \d+ sorties? \(.*$", re.DOTALL)


def _cancellation_rows(
    session: Session, clause_ids: Sequence[int], now: datetime
) -> dict[int, list[HistoryRow]]:
    """The lots' declarations cancelled and recorded up to ``now``, in writing order."""
    found: dict[int, list[HistoryRow]] = {}
    for chunk in chunked(sorted(set(clause_ids)), IN_BATCH):
        for clause_id, event, at, reason, company_id in session.execute(
            select(
                ClauseHistory.clause_id,
                ClauseHistory.event,
                ClauseHistory.at,
                ClauseHistory.reason,
                ClauseHistory.company_id,
            )
            .where(
                ClauseHistory.clause_id.in_(chunk),
                ClauseHistory.event.in_([_CANCELLED_EVENT, _RECORDED_EVENT]),
                ClauseHistory.at <= now,
            )
            .order_by(ClauseHistory.at, ClauseHistory.id)
        ):
            found.setdefault(clause_id, []).append((event, at, reason, company_id))
    return found


def _lot_parties(session: Session, clause_ids: Iterable[int]) -> dict[int, list[tuple[int, str]]]:
    """The companies of each lot (number, name today): those an older history row may name."""
    found: dict[int, list[tuple[int, str]]] = {clause_id: [] for clause_id in clause_ids}
    for chunk in chunked(sorted(found), IN_BATCH):
        for clause_id, company_id, name in session.execute(
            select(AwardParty.clause_id, AwardParty.company_id, Company.name)
            .join(Company, Company.id == AwardParty.company_id)
            .where(AwardParty.clause_id.in_(chunk))
            .order_by(AwardParty.clause_id, AwardParty.company_id)
        ):
            found[clause_id].append((company_id, name))
    return found


class _LotHistory:
    """What ``_rows_of`` reads besides a lot's rows: the companies the rows tell of
    (``HistoryCompanies``, kept for a whole batch) and the lot's parties."""

    def __init__(self, companies: HistoryCompanies, parties: Sequence[tuple[int, str]]) -> None:
        self.companies = companies
        self.parties = parties

    @classmethod
    def of_lot(cls, session: Session, clause_id: int) -> _LotHistory:
        return cls(HistoryCompanies(session), _lot_parties(session, [clause_id])[clause_id])


def _rows_of(
    lot: _LotHistory, rows: Sequence[HistoryRow], company_id: int, company: str
) -> list[tuple[str, datetime, str | None]]:
    """The rows of ``rows`` that tell of the company, each naming it by ``company`` (its name
    today): a row by its number (``company_id``, that of a company merged into it since
    included), a row written before it kept one by the name the company had at the row's
    instant, when no other company of the lot had it then (``HistoryCompanies.by_name``: a
    company renamed since, the trial's « GIB Insertion », is still found; a company that took
    its former name since is not taken for it). Never another company's."""
    companies = lot.companies
    candidates: list[tuple[int, str]] | None = None
    found: list[tuple[str, datetime, str | None]] = []
    for event, at, reason, row_company in rows:
        pattern = CANCELLED_REASON if event == _CANCELLED_EVENT else RECORDED_REASON
        said = pattern.fullmatch(reason or "")
        if said is None:
            continue
        if row_company is not None:
            mine = row_company == company_id or companies.now_of(row_company, at) == company_id
        else:
            if candidates is None:
                parties = dict(lot.parties)
                parties[company_id] = company
                candidates = sorted(parties.items())
            mine = companies.by_name(said["company"], candidates, at=at) == company_id
        if mine:
            start, end = said.span("company")
            text = said.string
            found.append((event, at, text[:start] + company + text[end:]))
    return found


def _last_received(
    session: Session,
    lot_rows: Sequence[HistoryRow],
    clause_id: int,
    company_id: int,
    company: str,
    months: Sequence[date],
    reading: LateReading | None = None,
) -> dict[date, datetime]:
    """When each of ``months`` of the company (``company``: its name today) was last received,
    for those whose declaration was cancelled since (the lot's history ``lot_rows``, as
    ``asked_again`` reads them): a month never cancelled that is still owed was never
    received."""
    if not any(row[0] == _CANCELLED_EVENT for row in lot_rows):
        return {}
    lot = (
        reading.lot_history(clause_id)
        if reading is not None
        else _LotHistory.of_lot(session, clause_id)
    )
    rows = _rows_of(lot, lot_rows, company_id, company)
    heads = {f"déclaration {month_phrase(month)} de {company} : ": month for month in months}
    found: dict[date, datetime] = {}
    for event, at, reason in rows:
        if event != _RECORDED_EVENT:
            continue
        for head, month in heads.items():
            if (reason or "").startswith(head):
                found[month] = at
    return found


@dataclass(frozen=True)
class AskedAgain:
    """A month whose declaration came, then was cancelled (``clauses declaration cancel``): it
    is asked again, and its reminders and alert say so rather than « not sent »."""

    month: date
    #: When the declaration cancelled was received (its latest recording); None when the
    #: history no longer says (a company renamed since).
    received_at: datetime | None
    cancelled_at: datetime
    #: The day it was first received (its first recording since the month's previous
    #: cancellation), and the cancellation's, as local days.
    received_on: date | None
    cancelled_on: date
    #: The facilitator's reason, as the company read it in the cancellation's email.
    reason: str
    #: The date the company is held to now: the month's own when it had not passed at the
    #: cancellation (« d'ici le … »), else the day it was asked again (« dès que possible »),
    #: as ``emails.cancellations`` told the company.
    due_on: date
    #: The month's own date had passed when it was asked again.
    late: bool
    #: The day of its latest recording when it had been corrected since (the cancellation's
    #: email says « reçue le … et corrigée le … »: a reminder saying « reçue le » with the
    #: correction's day gave the company two dates for one reception); None otherwise.
    corrected_on: date | None = None


def asked_again(
    session: Session,
    clause_id: int,
    company: str,
    group: LadderGroup,
    now: datetime,
    zone: Any,
    *,
    rows: Sequence[HistoryRow] | None = None,
    reading: LateReading | None = None,
) -> dict[date, AskedAgain]:
    """The months of ``group`` asked again after a cancellation before ``now``, read from the
    lot's history (``declarations.cancellation_reason``, the recording's reason): a month still
    owed whose latest cancellation is the reason it is owed again. ``rows``: the lot's
    cancellations and recordings up to ``now`` when the caller has read them
    (``LateReading.cancellations``); ``reading``: the batch's, whose companies and parties
    (``LateReading.lot_history``) are read once for every lot of the batch."""
    lot_rows = rows
    if lot_rows is None and reading is not None:
        lot_rows = reading.cancellations(clause_id)
    if lot_rows is None:
        lot_rows = _cancellation_rows(session, [clause_id], now).get(clause_id, [])
    if not any(row[0] == _CANCELLED_EVENT for row in lot_rows):
        return {}
    # The company's rows, each naming it by ``company`` (renamed or merged since: by its
    # number, or a name it had).
    lot = (
        reading.lot_history(clause_id)
        if reading is not None
        else _LotHistory.of_lot(session, clause_id)
    )
    mine = _rows_of(lot, lot_rows, group.company_id, company)
    found: dict[date, AskedAgain] = {}
    for month in group.months:
        phrase = f"{month_phrase(month)} de {company}"
        cancelled = re.compile(
            rf"déclaration n°\s\d+ {re.escape(phrase)} annulée \([^()]*\) : (?P<reason>.*)",
            re.DOTALL,
        )
        recorded = f"déclaration {phrase} : "
        received_at: datetime | None = None
        first_at: datetime | None = None
        last: AskedAgain | None = None
        for event, at, reason in mine:
            text = reason or ""
            if event == _RECORDED_EVENT and text.startswith(recorded):
                if received_at is None:
                    first_at = at
                received_at, last = at, None
                continue
            matched = cancelled.fullmatch(text) if event == _CANCELLED_EVENT else None
            if matched is None:
                continue
            cancelled_on = local_date(at, zone)
            # The date the cancellation's email gave: the ladder's, pushed by the suspended
            # days, or « dès que possible » once it had passed.
            late = group.due_on < cancelled_on
            last = AskedAgain(
                month=month,
                received_at=received_at,
                cancelled_at=at,
                received_on=local_date(first_at, zone) if first_at is not None else None,
                cancelled_on=cancelled_on,
                corrected_on=(
                    local_date(received_at, zone)
                    if received_at is not None and first_at is not None and first_at < received_at
                    else None
                ),
                reason=_UNCOUNTED_TAIL.sub("", matched["reason"]).strip(),
                due_on=cancelled_on if late else group.due_on,
                late=late,
            )
            received_at = first_at = None
        if last is not None:
            found[month] = last
    return found


def corrected_words(received_on: date | None, corrected_on: date | None) -> str | None:
    """« corrigée le … » (« corrigée le même jour »), said after « m'était parvenue le … »;
    None when it was not corrected."""
    if corrected_on is None:
        return None
    if corrected_on == received_on:
        return "corrigée le même jour"
    return f"corrigée le {remembered_date(corrected_on)}"


def asked_again_context(
    asked: Mapping[date, AskedAgain], group: LadderGroup, today: date
) -> dict[str, Any]:
    """What the reminders and the alert read of the months asked again: ``asked_again`` (each
    of them), and for an email of one such month alone ``reasked`` with its due date and the
    working days late counted from it."""
    months = [
        {
            "month": a.month,
            "month_phrase": month_phrase(a.month),
            "received_on": a.received_on,
            # « reçue le … [et corrigée le …] », and « corrigée le … » alone: the cancellation's
            # email gave the first reception and the correction, so do its reminders.
            "received_words": (
                received_words(a.received_on, a.corrected_on) if a.received_on else None
            ),
            "corrected_words": corrected_words(a.received_on, a.corrected_on),
            "cancelled_on": a.cancelled_on,
            "reason": a.reason,
            "due_on": a.due_on,
            "late": a.late,
            # The month's own date (pushed by suspended days), past when it was asked again.
            "month_due_on": group.due_on,
        }
        for a in (asked[m] for m in sorted(asked))
    ]
    context: dict[str, Any] = {"asked_again": months, "reasked": None}
    if len(group.months) == 1 and asked:
        [again] = asked.values()
        context["reasked"] = months[0]
        context["due_on"] = again.due_on
        context.update(late_days_context(group.days, again.due_on, today))
    return context


# --- what was really sent -------------------------------------------------------------------


@dataclass(frozen=True)
class SentStep:
    """One ladder email as the outbox holds it."""

    step: str
    months: tuple[date, ...]
    key: str
    created_at: datetime
    state: str
    sent_at: datetime | None
    #: Why it did not leave, when it was cancelled (« Annulé par … », « Retiré : … »).
    note: str | None = None


LadderHistory = dict[tuple[int, int, date], list[SentStep]]


@dataclass(frozen=True)
class LadderRewrite:
    """``ladder_rewrites.LadderRewriter``: a ladder email written again for some of its months,
    as the pass that queued it at ``at`` would have written it (``group_again``,
    ``ladder_message``)."""

    app: Mailing

    @property
    def renderer(self) -> TemplateRenderer:
        return self.app.renderer

    def message(
        self,
        session: Session,
        clause: Clause,
        company_id: int,
        step: str,
        months: Sequence[date],
        at: datetime,
    ) -> LadderMessage | None:
        group = group_again(self.app, session, clause, company_id, step, months, at)
        return ladder_message(self.app, session, clause, group, at)


def ladder_history(session: Session, clause_ids: Iterable[int]) -> LadderHistory:
    """Every ladder email of these lots, by (lot, company, month) covered, oldest first."""
    history = _history_rows(session, clause_ids)
    for where, emails in history.items():
        history[where] = without_replaced(emails)
    return history


def _history_rows(session: Session, clause_ids: Iterable[int]) -> LadderHistory:
    """Every ladder email of these lots, by (lot, company, month) covered, oldest first, the
    ones written again included."""
    ids = sorted(set(clause_ids))
    history: LadderHistory = {}
    if not ids:
        return history
    rows = session.execute(
        select(
            OutboxMessage.key,
            OutboxMessage.created_at,
            OutboxMessage.state,
            OutboxMessage.sent_at,
            OutboxMessage.last_error,
        )
        .where(OutboxMessage.clause_id.in_(ids), OutboxMessage.kind.in_(KINDS))
        .order_by(OutboxMessage.created_at, OutboxMessage.id)
    ).all()
    for key, created_at, state, sent_at, last_error in rows:
        parsed = key_months(key)
        if parsed is None:
            continue
        note = last_error if state == OutboxState.CANCELLED else None
        sent = SentStep(parsed.step, parsed.months, key, created_at, state, sent_at, note)
        for month in parsed.months:
            history.setdefault((parsed.clause_id, parsed.company_id, month), []).append(sent)
    return history


def without_replaced(emails: list[SentStep]) -> list[SentStep]:
    """``emails`` of one month but those withdrawn whose step another email brought for that
    month: one covering a month no longer owed, or just declared, with this one, written again
    for this one only (``ladder_rewrites``). What the month got is the email written again, not
    the one withdrawn."""
    reached = {e.step for e in emails if e.state != OutboxState.CANCELLED}
    if not reached or all(e.state != OutboxState.CANCELLED for e in emails):
        return emails
    return [e for e in emails if e.state != OutboxState.CANCELLED or e.step not in reached]


def sent_state(sent: SentStep, zone: Any, today: date | None = None) -> str:
    """« envoyé le 3 décembre 2026 », « en cours d'envoi », « non distribué »: the truth of one
    email, agreed with its step (une alerte). Given ``today`` (the digest's day), one queued
    that day and not left yet is « mis en file d'envoi aujourd'hui »: the digest is written in
    the pass that queued it, just before it leaves, and « en cours d'envoi depuis le 15 avril
    2027 » on 15 April read like a delivery in trouble (user trial)."""
    if sent.state == OutboxState.SENT:
        day = local_date(sent.sent_at or sent.created_at, zone)
        return f"{step_participle(sent.step, 'envoyé')} le {remembered_date(day)}"
    if sent.state in (OutboxState.FAILED, OutboxState.DEAD):
        return f"{step_participle(sent.step, 'non distribué')} (adresse refusée)"
    if sent.state == OutboxState.CANCELLED and withdrawn_by_service(sent.state, sent.note):
        # Withdrawn by the service (the lot suspended, the month declared): it never left.
        return f"{step_participle(sent.step, 'retiré')} avant envoi"
    if sent.state == OutboxState.CANCELLED:
        # Taken back by the facilitator (``clauses mail cancel``): it never left.
        return f"{step_participle(sent.step, 'annulé')} avant envoi par la facilitatrice"
    queued = local_date(sent.created_at, zone)
    if queued == today and sent.state in (OutboxState.PENDING, OutboxState.SENDING):
        return f"{step_participle(sent.step, 'mis')} en file d'envoi aujourd'hui"
    return f"en cours d'envoi depuis le {remembered_date(queued)}"


def steps_before_escalation(reminders_total: int) -> list[str]:
    return [LadderStep.CALL, *(reminder_step(n) for n in range(1, reminders_total + 1))]


def steps_done(
    history: LadderHistory,
    clause_id: int,
    company_id: int,
    months: Sequence[date],
    reminders_total: int,
    zone: Any,
    *,
    asked: Mapping[date, AskedAgain] | None = None,
) -> list[dict[str, str]]:
    """Each step before the alert, sent or not, for ``months`` of one company on one lot.

    Read from the outbox, never inferred from where the ladder stands: a step no email covers
    is said « non envoyé ». The months are named when an email covered only some of them.
    A month asked again after its declaration was cancelled (``asked``) has the declaration
    received and its cancellation among the steps, where they fell between the emails."""
    entries: list[tuple[datetime | None, dict[str, str]]] = []
    for step in steps_before_escalation(reminders_total):
        emails: dict[str, SentStep] = {}
        missing: list[date] = []
        for month in months:
            found = [e for e in history.get((clause_id, company_id, month), []) if e.step == step]
            if not found:
                missing.append(month)
            for email in found:
                emails.setdefault(email.key, email)
        for email in sorted(emails.values(), key=lambda e: e.created_at):
            covered = [m for m in months if m in email.months]
            partial = len(months) > 1 and len(covered) < len(months)
            entries.append(
                (
                    email.created_at,
                    {
                        "label": step_label(step),
                        "text": sent_state(email, zone)
                        + (
                            f" (pour {', '.join(remembered_month(m) for m in covered)})"
                            if partial
                            else ""
                        ),
                    },
                )
            )
        if missing:
            partial = len(months) > 1 and len(missing) < len(months)
            entries.append(
                (
                    None,
                    {
                        "label": step_label(step),
                        "text": "non envoyé"
                        + (
                            f" (pour {', '.join(remembered_month(m) for m in missing)})"
                            if partial
                            else ""
                        ),
                    },
                )
            )
    for month in sorted(asked or {}):
        again = (asked or {})[month]
        label = "déclaration" if len(months) == 1 else f"déclaration {month_phrase(month)}"
        if again.received_at is not None and again.received_on is not None:
            _insert_at(
                entries,
                again.received_at,
                {"label": label, "text": received_words(again.received_on, again.corrected_on)},
            )
        _insert_at(
            entries,
            again.cancelled_at,
            {
                "label": label,
                "text": f"annulée le {remembered_date(again.cancelled_on)} (motif : "
                f"« {again.reason} ») et redemandée à l'entreprise le même jour",
            },
        )
    return [entry for _, entry in entries]


def _insert_at(
    entries: list[tuple[datetime | None, dict[str, str]]], at: datetime, entry: dict[str, str]
) -> None:
    """``entry`` before the first email queued after ``at`` (a step never sent has no moment:
    it stays where the ladder puts it)."""
    for index, (moment, _) in enumerate(entries):
        if moment is not None and moment > at:
            entries.insert(index, (at, entry))
            return
    entries.append((at, entry))


def withdraw_answered(app: Mailing, session: Session, event: DeclarationRecorded) -> None:
    """The ladder emails of the month just declared that have not left (waiting, refused, given
    up) are withdrawn in the same transaction: a reminder or an alert saying the month is
    missing would be untrue once it has arrived, and « Renvoyer » would send it anyway. An email
    that may have left (sending, uncertain) is left as it is.

    One that also covers a month still missing, still waiting (``REWRITTEN_STATES``), is written
    again for the months still missing only (``ladder_rewrites.write_again``), as the finish
    does for a month released: it no longer names the month declared, to the company nor, for
    the alert, to the buyer (whose notice that the month arrived, ``late_declaration_notices``,
    run after this, then finds no alert naming it). One refused for good or given up stays as
    it is, among the facilitator's undelivered emails; one that cannot be written again (no
    correspondent any more, a template broken since) leaves as written, the error logged.

    A call or a reminder of the company's later months, still waiting, whose late list
    (« Par ailleurs, la déclaration de septembre 2026 … ne m'est toujours pas parvenue ») names
    the month just declared is written again for its own months, in the same way, so that it
    no longer says it is missing (``_write_again_without_late``).

    The email of a cancellation of the month still waiting (« Déclaration d'avril 2026
    annulée, à déclarer de nouveau ») is withdrawn the same way, first
    (``cancellation_withdrawals``): the month it asks for has just been declared again."""
    withdraw_cancellations(
        session,
        app.settings,
        clause_id=event.clause_id,
        company_id=event.company_id,
        month=event.month,
        at=event.at,
    )
    rows = session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.key.like(f"{KEY_PREFIX}:{event.clause_id}:{event.company_id}:%"),
            OutboxMessage.state.in_(NOT_LEFT),
        )
        .order_by(OutboxMessage.id)
        .with_for_update()
    ).all()
    if not rows:
        return
    declared = {event.month} | set(
        session.scalars(
            select(Declaration.month).where(
                Declaration.clause_id == event.clause_id,
                Declaration.company_id == event.company_id,
            )
        )
    )
    when = remembered_date(event.at.astimezone(app.settings.zone).date())
    for row in rows:
        covered = key_months(row.key)
        if covered is None:
            continue
        if event.month not in covered.months:
            if row.state in REWRITTEN_STATES:
                _write_again_without_late(app, session, event, row, covered, declared, when)
            continue
        missing = tuple(m for m in covered.months if m not in declared)
        if not missing:
            withdraw(
                row,
                f"Retiré : le mois a été déclaré le {when}, ce courriel n'avait plus lieu d'être.",
            )
        elif row.state in REWRITTEN_STATES:
            before = [m for m in covered.months if m in declared and m != event.month]
            _write_again_for_missing(app, session, event, row, covered, missing, before, when)


def _write_again_for_missing(
    app: Mailing,
    session: Session,
    event: DeclarationRecorded,
    row: OutboxMessage,
    covered: LadderKey,
    missing: tuple[date, ...],
    before: Sequence[date],
    when: str,
) -> None:
    """``row`` written again for the months still ``missing`` only, withdrawn « Remplacé :
    octobre 2026 a été déclaré le 5 novembre 2026 ; le même courriel, écrit à nouveau pour
    septembre 2026 seulement, part à sa place. » The months of it declared ``before`` and still
    named (it was on the wire then, and put back to wait) are said declared already."""
    why = f"{remembered_month(event.month)} a été déclaré le {when}"
    if before:
        already = "l'était" if len(before) == 1 else "l'étaient"
        why += f", {months_listed(before)} {already} déjà"
    clause = session.get_one(Clause, event.clause_id)
    failure = write_again(LadderRewrite(app), session, clause, row, covered, missing, why)
    if failure is not None:
        _log_rewrite_failed(event, row, failure)


def _write_again_without_late(
    app: Mailing,
    session: Session,
    event: DeclarationRecorded,
    row: OutboxMessage,
    covered: LadderKey,
    declared: set[date],
    when: str,
) -> None:
    """``row``, a call or a reminder of later months still waiting, written again for the same
    months when its late list names a month declared (``late_before``), withdrawn « Remplacé :
    septembre 2026, qu'il disait encore en retard, a été déclaré le 2 novembre 2026 ; le même
    courriel, écrit à nouveau sans ce mois, part à sa place. » (user trial: the October call
    held by a mail server down left the next morning saying September, declared in between,
    was still missing).

    What it names is read from its own plain text (``emails.ladder.late_list_names``), the words
    the company would read: the late list is not kept apart, and computing it again as of the
    email's moment would read the month as declared already. Only the months the list can hold
    are looked for: declared, earlier than its newest month and not among its own. The email
    written again computes its late list afresh (``late_before``), from which the month
    declared is gone, the others kept with what happened to them as of that moment.

    The buyer's alert, still waiting, whose list of the months already alerted
    (``alerted_before``, « Par ailleurs, je vous ai déjà signalé … ») names a month declared
    since is written again in the same way (``emails.ladder.alerted_list_names``)."""
    if event.month >= max(covered.months):
        return
    # The alert names the earlier months already alerted (``alerted_before``), the call and the
    # reminders those still late (``late_before``): each read back from its own words.
    names = alerted_list_names if covered.step == LadderStep.ESCALATION else late_list_names
    named = [
        month
        for month in sorted(declared)
        if month < max(covered.months)
        and month not in covered.months
        and names(row.body_text, month)
    ]
    if not named:
        return
    # A month declared before may still be named: this email was on the wire then, and put
    # back to wait (``withdraw_answered`` leaves alone an email that may have left).
    verb = "a été déclaré" if len(named) == 1 else "ont été déclarés"
    # Une alerte: « qu'elle disait encore manquant » (the months it says already alerted).
    said = (
        "qu'elle disait encore manquant" + ("s" if len(named) > 1 else "")
        if covered.step == LadderStep.ESCALATION
        else "qu'il disait encore en retard"
    )
    why = f"{months_listed(named)}, {said}, {verb}"
    if named == [event.month]:
        why += f" le {when}"
    elif event.month in named:
        why += f", {remembered_month(event.month)} le {when}"
    without = "sans ce mois" if len(named) == 1 else "sans ces mois"
    clause = session.get_one(Clause, event.clause_id)
    rewrite = LadderRewrite(app)
    failure = write_again(
        rewrite, session, clause, row, covered, covered.months, why, rewritten_as=without
    )
    if failure is not None:
        _log_rewrite_failed(event, row, failure)


def _log_rewrite_failed(event: DeclarationRecorded, row: OutboxMessage, failure: str) -> None:
    """An email that could not be written again leaves as written: the log says which."""
    log.error(
        "ladder email not written again",
        extra={
            "action": "ladder.rewrite_failed",
            "outbox_id": row.id,
            "clause_id": event.clause_id,
            "company_id": event.company_id,
            "key": row.key,
            "error": failure,
        },
    )
