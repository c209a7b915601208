"""Personal data (GDPR): everything held on one participant, and the purge of what is past
retention.

Participants are pseudonymous: a reference, never a name. Retention is counted from a
participant's last activity, the latest of: the end of the last month declared for them, their
last outcome, the day each of their clauses was closed or abandoned (the end of its follow-up),
and for someone never declared the day they were recorded or validated. While one of their
clauses is still running, nothing of theirs is past retention.

A purge removes the link to the person and keeps every figure the reports give: the reference
becomes a neutral token everywhere it is written (history, texts of clauses, emails), the proof
of eligibility is erased and its date kept as a year, attached declaration templates naming them
are deleted, and the birth year is replaced by one that falls in the same age bands over the
years the reports count them (``generalised_birth_year``). Hours, declaration lines, outcomes,
criterion and sex stay: they are what the summaries and annual reports add up. One
``PrivacyPurge`` row says who purged, when, under which retention and how much; a second purge
finds nothing more and writes nothing.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflow.adapters.mail.message import parse_recipients
from workflow.adapters.orm import (
    Clause,
    Company,
    Declaration,
    DeclarationLine,
    Market,
    Outcome,
    Participant,
    PrivacyPurge,
    PurgedParticipant,
    RecordHistory,
)
from workflow.adapters.templates import french_count
from workflow.domain.calendar import local_date
from workflow.domain.events import require_aware
from workflow.domain.privacy import MentionRewriter, Retention, generalised_birth_year
from workflow.domain.stages import FINAL_STAGES, Stage
from workflow.domain.summary import month_end
from workflow.domain.vocabulary import (
    CONTRACT_LABELS,
    CRITERION_LABELS,
    DELIVERY_MODE_LABELS,
    label_of,
)
from workflow.errors import NotFound
from workflow.services.corrections import RecordKind
from workflow.services.outcomes import OutcomeLine, list_outcomes
from workflow.services.participants import clean_reference, find_participant
from workflow.services.privacy_mentions import PLACE_LABELS, Mentions, Place, find_mentions

if TYPE_CHECKING:
    from workflow.runtime import App

#: A purged participant's reference: the prefix, then random hex (nothing derived from them).
TOKEN_PREFIX = "anonyme-"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_hex(6)


# --- activity: what retention is counted from -----------------------------------------------------


@dataclass(frozen=True)
class Activity:
    participant_id: int
    last_day: date  # the latest day anything happened to them (local date)
    first_year: int | None  # the year of their first declared month; None: never declared
    clause_ids: tuple[int, ...]
    running: tuple[int, ...]  # their clauses neither closed nor abandoned


def activities(
    session: Session, zone: ZoneInfo, participant_ids: Collection[int] | None = None
) -> dict[int, Activity]:
    """The activity of every participant (or of those asked), in four grouped statements."""
    people = select(Participant.id, Participant.created_at, Participant.validated_on)
    lines = (
        select(
            DeclarationLine.participant_id,
            Declaration.clause_id,
            func.min(Declaration.month),
            func.max(Declaration.month),
        )
        .join(Declaration, Declaration.id == DeclarationLine.declaration_id)
        .group_by(DeclarationLine.participant_id, Declaration.clause_id)
    )
    outcomes = select(Outcome.participant_id, Outcome.clause_id, func.max(Outcome.date)).group_by(
        Outcome.participant_id, Outcome.clause_id
    )
    if participant_ids is not None:
        people = people.where(Participant.id.in_(participant_ids))
        lines = lines.where(DeclarationLine.participant_id.in_(participant_ids))
        outcomes = outcomes.where(Outcome.participant_id.in_(participant_ids))
    days: dict[int, list[date]] = {}
    for pid, created_at, validated_on in session.execute(people):
        days[pid] = [local_date(created_at, zone)] + ([validated_on] if validated_on else [])
    first: dict[int, int] = {}
    clauses: dict[int, set[int]] = defaultdict(set)
    for pid, clause_id, first_month, last_month in session.execute(lines):
        days[pid].append(month_end(last_month))
        first[pid] = min(first.get(pid, first_month.year), int(first_month.year))
        clauses[pid].add(clause_id)
    for pid, left, last_outcome in session.execute(outcomes):
        days[pid].append(last_outcome)
        if left is not None:
            clauses[pid].add(left)
    ended = _clause_ends(session, {c for ids in clauses.values() for c in ids}, zone)
    result = {}
    for pid, seen in days.items():
        ids = sorted(clauses.get(pid, ()))
        running = tuple(c for c in ids if ended.get(c) is None)
        seen += [end for c in ids if (end := ended.get(c)) is not None]
        result[pid] = Activity(pid, max(seen), first.get(pid), tuple(ids), running)
    return result


def _clause_ends(session: Session, clause_ids: set[int], zone: ZoneInfo) -> dict[int, date | None]:
    """Each clause's closing or abandonment day; None while it runs."""
    ends: dict[int, date | None] = {}
    ids = sorted(clause_ids)
    for start in range(0, len(ids), 500):
        for cid, stage, changed_at in session.execute(
            select(Clause.id, Clause.stage, Clause.stage_changed_at).where(
                Clause.id.in_(ids[start : start + 500])
            )
        ):
            final = Stage(stage) in FINAL_STAGES
            ends[cid] = local_date(changed_at, zone) if final else None
    return ends


# --- export: everything held on one participant -------------------------------------------------


@dataclass(frozen=True)
class HeldLine:
    """Hours declared for them one month, on one lot, by one company."""

    month: date
    hours: Decimal
    delivery_mode: str
    delivery_mode_label: str
    contract_type: str
    contract_label: str
    clause_id: int
    market: str
    lot_number: str
    lot_title: str
    company: str
    siret: str | None
    recorded_at: datetime
    source: str


@dataclass(frozen=True)
class HeldHistory:
    """A row of a clause's history that names them (an outcome recorded, say)."""

    clause_id: int
    at: datetime
    actor: str
    event: str
    reason: str


@dataclass(frozen=True)
class HeldCorrection:
    """A correction of their own record (``participant set``, ``participant validate``): who,
    when, each field before → after as it was read then, why."""

    at: datetime
    actor: str
    #: (field's French label, before, after); None: not recorded, or erased by a purge.
    changes: tuple[tuple[str, str | None, str | None], ...]
    reason: str


@dataclass(frozen=True)
class HeldText:
    """A clause's free text that names them: its final report or the reason of an override."""

    clause_id: int
    field: str  # final_report, override_reason
    label: str
    text: str


@dataclass(frozen=True)
class HeldMail:
    """An email that names them, and to whom it went (GDPR art. 15: the recipients)."""

    outbox_id: int
    kind: str
    state: str
    created_at: datetime
    sent_at: datetime | None
    recipients: tuple[str, ...]
    subject: str
    places: tuple[str, ...]  # objet, texte, pièce jointe


@dataclass(frozen=True)
class ParticipantExport:
    reference: str
    criterion: str
    criterion_label: str
    sex: str | None
    birth_year: int | None
    proof: str
    validated_on: date | None
    created_at: datetime
    lines: tuple[HeldLine, ...]
    outcomes: tuple[OutcomeLine, ...]
    history: tuple[HeldHistory, ...]
    corrections: tuple[HeldCorrection, ...]
    texts: tuple[HeldText, ...]
    mails: tuple[HeldMail, ...]
    retention: str  # « 5 ans »
    last_activity: date
    running_clauses: tuple[int, ...]
    purge_from: date | None  # None while a clause runs (or once purged)
    purged_at: datetime | None  # set when a purge already anonymised them

    @property
    def hours(self) -> Decimal:
        return sum((line.hours for line in self.lines), Decimal(0))


TEXT_LABELS = {"final_report": "bilan", "override_reason": "motif de la correction des heures"}


def export_participant(app: App, reference: str) -> ParticipantExport:
    """Everything the database holds on the participant ``reference`` (GDPR art. 15)."""
    settings = app.settings
    reference = clean_reference(reference)
    with app.transaction() as session:
        participant = find_participant(session, reference)
        if participant is None:
            raise NotFound(_not_found(session, reference))
        activity = activities(session, settings.zone, [participant.id])[participant.id]
        mentions = find_mentions(session, [participant.reference], activity.clause_ids)
        purged_at = session.scalar(
            select(PrivacyPurge.at)
            .join(PurgedParticipant, PurgedParticipant.purge_id == PrivacyPurge.id)
            .where(PurgedParticipant.participant_id == participant.id)
        )
        retention = settings.retention
        purge_from = None
        if not activity.running and purged_at is None:
            purge_from = retention.first_purge_day(activity.last_day)
        return ParticipantExport(
            reference=participant.reference,
            criterion=participant.criterion,
            criterion_label=label_of(CRITERION_LABELS, participant.criterion),
            sex=participant.sex,
            birth_year=participant.birth_year,
            proof=participant.proof,
            validated_on=participant.validated_on,
            created_at=participant.created_at,
            lines=_held_lines(session, participant.id),
            outcomes=tuple(
                list_outcomes(
                    session, groups=settings.outcome_groups, participant_id=participant.id
                )
            ),
            history=tuple(
                HeldHistory(row.clause_id, row.at, row.actor, row.event, row.reason or "")
                for row in sorted(mentions.history.values(), key=lambda row: row.id)
            ),
            corrections=_held_corrections(session, participant.id),
            texts=_held_texts(mentions, MentionRewriter({participant.reference: ""})),
            mails=_held_mails(mentions),
            retention=retention.label,
            last_activity=activity.last_day,
            running_clauses=activity.running,
            purge_from=purge_from,
            purged_at=purged_at,
        )


def _corrections(session: Session, participant_ids: Collection[int]) -> list[RecordHistory]:
    """The history rows of these participants' own corrections, oldest first."""
    found: list[RecordHistory] = []
    for ids in _chunks(sorted(participant_ids)):
        found += session.scalars(
            select(RecordHistory).where(
                RecordHistory.entity == RecordKind.PARTICIPANT.value,
                RecordHistory.entity_id.in_(ids),
            )
        )
    return sorted(found, key=lambda row: row.id)


def _held_corrections(session: Session, participant_id: int) -> tuple[HeldCorrection, ...]:
    held = []
    for row in _corrections(session, [participant_id]):
        before = json.loads(row.before) if row.before else {}
        after = json.loads(row.after) if row.after else {}
        labels = list(dict.fromkeys([*before, *after]))
        held.append(
            HeldCorrection(
                row.at,
                row.actor,
                tuple((label, before.get(label), after.get(label)) for label in labels),
                row.reason or "",
            )
        )
    return tuple(held)


def _not_found(session: Session, reference: str) -> str:
    text = f"Aucun participant « {reference} ». La liste : « clauses participant list »."
    if session.scalar(select(func.count()).select_from(PrivacyPurge)):
        text += (
            " Un participant anonymisé par une purge (« clauses privacy purge ») n'a plus sa "
            "référence : plus rien ne le relie à la personne."
        )
    return text


def _held_lines(session: Session, participant_id: int) -> tuple[HeldLine, ...]:
    rows = session.execute(
        select(DeclarationLine, Declaration, Clause, Market.reference, Company)
        .join(Declaration, Declaration.id == DeclarationLine.declaration_id)
        .join(Clause, Clause.id == Declaration.clause_id)
        .join(Market, Market.id == Clause.market_id)
        .join(Company, Company.id == Declaration.company_id)
        .where(DeclarationLine.participant_id == participant_id)
        .order_by(Declaration.month, Clause.id, Company.id)
    )
    return tuple(
        HeldLine(
            month=declaration.month,
            hours=line.hours,
            delivery_mode=line.delivery_mode,
            delivery_mode_label=label_of(DELIVERY_MODE_LABELS, line.delivery_mode),
            contract_type=line.contract_type,
            contract_label=label_of(CONTRACT_LABELS, line.contract_type),
            clause_id=clause.id,
            market=market,
            lot_number=clause.lot_number,
            lot_title=clause.lot_title,
            company=company.name,
            siret=company.siret,
            recorded_at=declaration.recorded_at,
            source=declaration.source,
        )
        for line, declaration, clause, market, company in rows
    )


def _held_texts(mentions: Mentions, rewriter: MentionRewriter) -> tuple[HeldText, ...]:
    texts = []
    for clause in sorted(mentions.clauses.values(), key=lambda c: c.id):
        for field, text in (
            ("final_report", clause.final_report),
            ("override_reason", clause.override_reason),
        ):
            if text and rewriter.found(text):
                texts.append(HeldText(clause.id, field, TEXT_LABELS[field], text))
    return tuple(texts)


def _recipients(stored: str) -> tuple[str, ...]:
    """``Marc Soulé <marc.soule@example.org>``, names decoded; a line the dispatcher refused
    stays as it was written."""
    try:
        return tuple(
            f"{m.name} <{m.address}>" if m.name else m.address for m in parse_recipients(stored)
        )
    except ValueError:
        return tuple(line for line in stored.splitlines() if line.strip())


def _held_mails(mentions: Mentions) -> tuple[HeldMail, ...]:
    return tuple(
        HeldMail(
            outbox_id=message.id,
            kind=message.kind,
            state=message.state,
            created_at=message.created_at,
            sent_at=message.sent_at,
            recipients=_recipients(message.recipients),
            subject=message.subject,
            places=tuple(PLACE_LABELS[p] for p in Place if p in mention.places),
        )
        for message, mention in (
            (m.message, m) for m in sorted(mentions.messages.values(), key=lambda m: m.message.id)
        )
    )


# --- purge ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PurgeCandidate:
    participant_id: int
    reference: str
    last_activity: date
    clause_ids: tuple[int, ...]


@dataclass(frozen=True)
class PurgeReport:
    """What a purge removed, or with ``dry_run`` what it would remove."""

    retention: Retention
    today: date
    cutoff: date  # what ended before this day is past retention
    dry_run: bool
    candidates: tuple[PurgeCandidate, ...]
    already_purged: int  # by earlier purges, left alone
    running: int  # participants kept because one of their clauses still runs
    history_rows: int
    clause_texts: int
    messages: int
    attachments: int
    purge_id: int | None = None  # the history row written

    @property
    def participants(self) -> int:
        return len(self.candidates)

    @property
    def summary(self) -> str:
        """What goes, in French, as the history row keeps it."""
        people = french_count(self.participants, "participant anonymisé", "participants anonymisés")
        text = (
            f"{people} (référence remplacée, justificatif effacé, année de naissance ramenée à "
            "leurs tranches d'âge)"
        )
        rewritten = [
            french_count(self.history_rows, "ligne d'historique", "lignes d'historique"),
            french_count(self.clause_texts, "texte de clause", "textes de clause"),
            french_count(self.messages, "courriel", "courriels"),
        ]
        text += f" ; réécrits : {', '.join(rewritten)}"
        attachments = french_count(
            self.attachments, "pièce jointe supprimée", "pièces jointes supprimées"
        )
        return f"{text} ; {attachments}."


def purge(
    app: App,
    older_than: Retention | None,
    now: datetime,
    actor: str,
    *,
    dry_run: bool = False,
    token: Callable[[], str] = new_token,
) -> PurgeReport:
    """Anonymise every participant past retention (``older_than``, else the setting), in one
    transaction with its history row; with ``dry_run``, only say what would go."""
    zone = app.settings.zone
    retention = older_than or app.settings.retention
    today = local_date(require_aware(now), zone)
    with app.transaction() as session:
        done = set(session.scalars(select(PurgedParticipant.participant_id)))
        found = activities(session, zone)
        waiting = [a for pid, a in found.items() if pid not in done]
        past = [a for a in waiting if not a.running and retention.is_past(a.last_day, today)]
        references = {
            pid: reference
            for ids in _chunks(sorted(a.participant_id for a in past))
            for pid, reference in session.execute(
                select(Participant.id, Participant.reference).where(Participant.id.in_(ids))
            )
        }
        candidates = tuple(
            PurgeCandidate(a.participant_id, references[a.participant_id], a.last_day, a.clause_ids)
            for a in sorted(past, key=lambda a: references[a.participant_id])
        )
        clause_ids = {c for a in past for c in a.clause_ids}
        mentions = find_mentions(session, list(references.values()), clause_ids)
        # Their own corrections keep who and when; the values before and after go, as the proof
        # and the exact birth year go from the participant itself.
        corrections = _corrections(session, references)
        report = PurgeReport(
            retention=retention,
            today=today,
            cutoff=retention.cutoff(today),
            dry_run=dry_run,
            candidates=candidates,
            already_purged=len(done),
            running=sum(1 for a in waiting if a.running),
            history_rows=len(mentions.history) + len(corrections),
            clause_texts=len(mentions.clauses),
            messages=len(mentions.messages),
            attachments=mentions.attachments,
        )
        if dry_run or not candidates:
            return report
        tokens = _tokens(session, references, token)
        _anonymise(session, {a.participant_id: a for a in past}, tokens, today.year)
        _rewrite(session, mentions, MentionRewriter(tokens))
        for row in corrections:
            row.before = row.after = row.reason = None
        return _record(session, report, now, actor)


def _chunks(ids: list[int], size: int = 500) -> Iterator[list[int]]:
    """``IN`` lists of a bounded length (SQLite limits the parameters of a statement)."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _tokens(
    session: Session, references: dict[int, str], token: Callable[[], str]
) -> dict[str, str]:
    """A fresh token per reference, used by no participant."""
    tokens: dict[str, str] = {}
    taken: set[str] = set()
    for reference in references.values():
        candidate = token()
        while candidate in taken or find_participant(session, candidate) is not None:
            candidate = token()
        taken.add(candidate)
        tokens[reference] = candidate
    return tokens


def _anonymise(
    session: Session, past: dict[int, Activity], tokens: dict[str, str], this_year: int
) -> None:
    people = [
        participant
        for ids in _chunks(sorted(past))
        for participant in session.scalars(select(Participant).where(Participant.id.in_(ids)))
    ]
    for participant in people:
        activity = past[participant.id]
        participant.reference = tokens[participant.reference]
        participant.proof = ""
        if participant.validated_on is not None:
            # Validated, and in which year, is what the hours rest on; the day is theirs.
            participant.validated_on = date(participant.validated_on.year, 1, 1)
        if activity.first_year is None:
            # Never declared: no report counts them, nothing of theirs needs keeping.
            participant.sex, participant.birth_year = None, None
        else:
            participant.birth_year = generalised_birth_year(
                participant.birth_year, activity.first_year, this_year
            )


def _rewrite(session: Session, mentions: Mentions, rewriter: MentionRewriter) -> None:
    for row in mentions.history.values():
        row.reason = rewriter.rewrite(row.reason)[0]
    for clause in mentions.clauses.values():
        clause.final_report = rewriter.rewrite(clause.final_report)[0]
        clause.override_reason = rewriter.rewrite(clause.override_reason)[0]
    for mention in mentions.messages.values():
        message = mention.message
        message.subject = rewriter.rewrite(message.subject)[0] or ""
        message.body_text = rewriter.rewrite(message.body_text)[0] or ""
        message.body_html = rewriter.rewrite_html(message.body_html)[0] or ""
        for attachment in mention.attachments:
            session.delete(attachment)


def _record(session: Session, report: PurgeReport, now: datetime, actor: str) -> PurgeReport:
    row = PrivacyPurge(
        at=now,
        actor=actor,
        retention=report.retention.label,
        cutoff=report.cutoff,
        participants=report.participants,
        history_rows=report.history_rows,
        clause_texts=report.clause_texts,
        messages=report.messages,
        attachments=report.attachments,
        summary=report.summary,
    )
    session.add(row)
    session.flush()
    session.add_all(
        PurgedParticipant(participant_id=c.participant_id, purge_id=row.id)
        for c in report.candidates
    )
    session.flush()
    return dataclasses.replace(report, purge_id=row.id)
