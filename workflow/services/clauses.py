"""Use cases on one clause: create it, set its hours, record its award, move it through its stages.

Each function runs inside the caller's transaction and hands the domain events it causes to
``publish`` before returning, so the notices they trigger are written in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session, object_session

from workflow.adapters.orm import (
    AwardParty,
    Clause,
    ClauseHistory,
    Company,
    Correspondent,
    Declaration,
    DeclarationLadder,
    Market,
)
from workflow.adapters.templates import french_date, french_hours, french_month
from workflow.domain.calendar import local_date, month_start
from workflow.domain.characters import forbidden_character, shown
from workflow.domain.events import (
    NOT_BOUND,
    AwardChange,
    AwardCorrected,
    ClauseAdvanced,
    ClauseAwarded,
    ClauseIdentified,
    ClauseReopened,
    DomainEvent,
    FinalReportRecorded,
    PlannedEndMoved,
    require_aware,
)
from workflow.domain.hours import (
    HoursCalculation,
    check_money,
    check_ratio_precision,
    compute_hours,
)
from workflow.domain.report_changes import FINAL_REPORT_EVENT, figure_changes
from workflow.domain.stages import (
    CALLING_STAGES,
    ENDING_EVENTS,
    FINAL_STAGES,
    LABELS,
    REOPEN,
    ClauseEvent,
    ClauseFacts,
    Stage,
    next_stage,
    reopened_stage,
)
from workflow.domain.vocabulary import PARTY_ROLE_LABELS, PartyRole
from workflow.emails.notices import Outstanding, months_named, outstanding_reason
from workflow.emails.phrases import month_phrase
from workflow.errors import (
    CLAUSE_BOARD,
    ConcurrentChange,
    Hint,
    InputRefused,
    NotFound,
    list_hint,
)
from workflow.services.company_end_notices import tell_released
from workflow.services.lot_ends import (
    TERMINATION_WORDS,
    LadderRewriter,
    ReleasedMonths,
    refuse_declared_after,
    release_months_after,
    stop_at_close,
)
from workflow.services.lot_ends import history_reason as lot_ends_reason
from workflow.services.outdated_reports import report_told
from workflow.services.terminations import termination_reason

Publish = Callable[[Session, DomainEvent], None]


def no_publish(session: Session, event: DomainEvent) -> None:
    """For callers that want the change without its notices (imports of past data, tests)."""


def get_clause(session: Session, clause_id: int, *, for_update: bool = False) -> Clause:
    """The clause N° ``clause_id``; with ``for_update``, its row locked and read again as the
    lock found it (``populate_existing``): a Clause the session loaded before (``find_clause``)
    would otherwise keep the stage read before a change that committed while this one waited
    on the lock (a declaration waiting on a closure was recorded on the closed lot)."""
    statement = select(Clause).where(Clause.id == clause_id)
    if for_update:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    clause = session.scalar(statement)
    if clause is None:
        raise NotFound(
            f"Aucune clause n° {clause_id}.", hint=list_hint("clause list", CLAUSE_BOARD)
        )
    return clause


#: ``session.info`` key: the transaction, and the latest history instant of each clause it
#: wrote or read (``history_instant``).
_HISTORY_INSTANTS = "clauses.history_instants"


def history_instant(session: Session, clause_id: int, now: datetime) -> datetime:
    """The instant of a history row written now for clause N° ``clause_id``: ``now``, unless
    the clause already has a row at a later instant, then that instant (the rows tie, their
    N° says which came last).

    Several instances share the database, each writing its own clock: one a few minutes
    behind another (or a clock stepped back) wrote a change *after* another one with an
    *earlier* ``at``. Every reader of « the stage of a lot at an instant » takes its latest
    row by (``at``, ``id``) before that instant (the summaries, the notices, the reports, the
    audit's chain): a lot awarded by one instance at 10:05 and started by the other whose
    clock said 10:03 read « attribution » for ever, never started. With this rule each
    clause's rows in (``at``, ``id``) order are in the order they were written, whatever the
    clocks; no row is dated later than an instant some instance's clock already gave the
    clause. One lookup on ``ix_clause_history_latest`` (clause, ``at`` desc, ``id`` desc).

    Writes to one clause are serialised by its row, locked before the history row is written
    (``get_clause(for_update=True)``, or the compare-and-set ``UPDATE`` of a stage change): a
    change waiting on another instance's reads that one's row once it has committed
    (``tests/integration/test_history_clock_skew.py``). So, within one transaction, the
    clause's latest instant is read once and then known (``session.info``): an import that
    writes a history row per line asks it once per lot, not once per line.

    Only the clause history needs the rule: the other timestamped rows (outbox messages,
    ladders) are never read as « the latest row before an instant » of a chain of states. A
    declaration's ``recorded_at`` takes its history row's instant, though (``record_counting``):
    the audit finds the row that records a declaration, and the receipt's key, at that instant.
    """
    transaction = session.get_transaction()
    known = session.info.get(_HISTORY_INSTANTS)
    if transaction is None or known is None or known[0] is not transaction:
        known = (transaction, {})
        session.info[_HISTORY_INSTANTS] = known
    instants: dict[int, datetime] = known[1]
    latest = instants.get(clause_id)
    if latest is None:
        latest = session.scalar(
            select(ClauseHistory.at)
            .where(ClauseHistory.clause_id == clause_id)
            .order_by(ClauseHistory.at.desc(), ClauseHistory.id.desc())
            .limit(1)
        )
    at = latest if latest is not None and latest > now else now
    if transaction is not None:
        instants[clause_id] = at
    return at


def add_history(
    session: Session,
    clause: Clause,
    *,
    event: str,
    actor: str,
    reason: str | None,
    now: datetime,
    moved: tuple[str | None, str] | None = None,
) -> ClauseHistory:
    """Write the history row of a change to ``clause``, in the caller's transaction.

    ``moved`` is the (from, to) stages of an event that moved the clause; without it the row
    records an action at the clause's current stage.

    The row's ``at`` is ``history_instant``: ``now``, or the clause's latest history instant
    when ``now`` is behind it (another instance's clock ahead). Whatever the caller tells of
    the change afterwards (its domain event, the instant a notice or a key is made of) is
    ``row.at``, never ``now``: the notices find the row again by that instant.
    """
    from_stage, to_stage = moved if moved is not None else (clause.stage, clause.stage)
    row = ClauseHistory(
        clause_id=clause.id,
        at=history_instant(session, clause.id, now),
        actor=actor,
        event=event,
        from_stage=from_stage,
        to_stage=to_stage,
        reason=reason,
    )
    session.add(row)
    return row


@dataclass(frozen=True)
class ClauseParameters:
    """The figures of the calculation note; any may be missing at identification."""

    amount_excl_tax: Decimal | None = None
    labour_share: Decimal | None = None
    insertion_rate: Decimal | None = None
    hourly_cost: Decimal | None = None
    hours_override: int | None = None
    override_reason: str | None = None

    def calculation(self) -> HoursCalculation | None:
        figures = (self.amount_excl_tax, self.labour_share, self.insertion_rate, self.hourly_cost)
        if any(f is None for f in figures):
            return None
        amount, share, rate, cost = figures
        assert amount is not None and share is not None and rate is not None and cost is not None
        return compute_hours(amount, share, rate, cost)

    def checked(self) -> ClauseParameters:
        """Refuse figures the database would cut: amounts to the cent, ratios to the millionth."""
        if self.amount_excl_tax is not None:
            check_money(self.amount_excl_tax, "Montant HT")
        if self.hourly_cost is not None:
            check_money(self.hourly_cost, "Coût horaire chargé")
        if self.labour_share is not None:
            check_ratio_precision(self.labour_share, "Part de main-d'œuvre")
        if self.insertion_rate is not None:
            check_ratio_precision(self.insertion_rate, "Taux d'insertion")
        return self


def apply_parameters(clause: Clause, params: ClauseParameters) -> HoursCalculation | None:
    params.checked()
    if params.hours_override is not None:
        if params.hours_override <= 0:
            raise InputRefused(f"Heures imposées : {params.hours_override} doit être positif.")
        if not (params.override_reason or "").strip():
            raise InputRefused("Heures imposées : indiquez la raison (--reason).")
    calculation = params.calculation()
    clause.amount_excl_tax = params.amount_excl_tax
    clause.labour_share = params.labour_share
    clause.insertion_rate = params.insertion_rate
    clause.hourly_cost = params.hourly_cost
    clause.hours_computed = calculation.hours if calculation else None
    clause.hours_override = params.hours_override
    clause.override_reason = params.override_reason if params.hours_override is not None else None
    return calculation


def create_clause(
    session: Session,
    market: Market,
    *,
    lot_number: str,
    lot_title: str,
    params: ClauseParameters,
    actor: str,
    now: datetime,
    publish: Publish,
    planned_notification: date | None = None,
    trade: str = "",
) -> Clause:
    require_aware(now)
    clause = Clause(
        market=market,
        lot_number=lot_number,
        lot_title=lot_title,
        trade=trade,
        stage=Stage.IDENTIFICATION.value,
        version=1,
        stage_changed_at=now,
        planned_notification=planned_notification,
        created_at=now,
    )
    apply_parameters(clause, params)
    session.add(clause)
    session.flush()
    row = add_history(
        session,
        clause,
        event="identify",
        actor=actor,
        reason="clause repérée",
        now=now,
        moved=(None, Stage.IDENTIFICATION.value),
    )
    publish(session, ClauseIdentified(clause_id=clause.id, at=row.at, actor=actor))
    return clause


def set_hours_override(
    session: Session, clause_id: int, hours: int, *, reason: str, actor: str, now: datetime
) -> Clause:
    """The facilitator imposes a figure; the computed one is kept beside it."""
    require_aware(now)
    clause = get_clause(session, clause_id, for_update=True)
    stage = Stage(clause.stage)
    if stage in FINAL_STAGES:
        raise InputRefused(
            f"{clause.label} est à l'étape « {LABELS[stage]} » : ses heures ne changent plus."
        )
    if hours <= 0:
        raise InputRefused(f"Heures imposées : {hours} doit être un nombre entier positif.")
    if not reason.strip():
        raise InputRefused(
            "Heures imposées : indiquez la raison (--reason), elle est gardée à l'historique."
        )
    if clause.hours_override == hours and clause.override_reason == reason.strip():
        # Typed twice: the same figure for the same reason changes nothing, and a row
        # « 5 000 h → 5 000 h » would tell a change that did not happen.
        return clause
    before = clause.hours_target
    clause.hours_override = hours
    clause.override_reason = reason.strip()
    add_history(
        session,
        clause,
        event="hours_override",
        actor=actor,
        reason=hours_override_reason(before, hours, reason),
        now=now,
    )
    return clause


def hours_override_reason(before: int | None, after: int, reason: str) -> str:
    """The history row of hours imposed, worded as the other corrections' rows (« fin prévue :
    31 mars 2027 → 30 juin 2027 ; avenant n° 2 »): « heures imposées : 4 725 h → 5 000 h ;
    Avenant n° 1 ». The figure before is the one the clause stood at: imposed, else computed
    (« non fixées » when the calculation note was incomplete)."""
    was = french_hours(before) if before is not None else "non fixées"
    return f"heures imposées : {was} → {french_hours(after)} ; {reason.strip()}"


#: Stages in which the figures of the calculation note may still change; later, an amendment
#: ("avenant") is an override with its reason.
PARAMETER_STAGES = frozenset({Stage.IDENTIFICATION, Stage.DRAFTING})


def set_parameters(
    session: Session,
    clause_id: int,
    *,
    amount_excl_tax: Decimal | None = None,
    labour_share: Decimal | None = None,
    insertion_rate: Decimal | None = None,
    hourly_cost: Decimal | None = None,
    actor: str,
    now: datetime,
) -> tuple[Clause, HoursCalculation | None]:
    """Change some figures of the calculation note (None keeps the current one) and recompute."""
    require_aware(now)
    clause = get_clause(session, clause_id, for_update=True)
    stage = Stage(clause.stage)
    if stage not in PARAMETER_STAGES:
        raise InputRefused(
            f"{clause.label} est à l'étape « {LABELS[stage]} » : les paramètres du calcul ne "
            "changent plus qu'en « repérage » ou « calibrage et rédaction ». Pour un avenant, "
            "imposez le nombre d'heures avec sa raison",
            hint=Hint(
                " (clauses clause hours).",
                " (« Imposer les heures d'insertion » sur la page de la clause).",
            ),
        )
    params = ClauseParameters(
        amount_excl_tax=_pick(amount_excl_tax, clause.amount_excl_tax),
        labour_share=_pick(labour_share, clause.labour_share),
        insertion_rate=_pick(insertion_rate, clause.insertion_rate),
        hourly_cost=_pick(hourly_cost, clause.hourly_cost),
        hours_override=clause.hours_override,
        override_reason=clause.override_reason,
    )
    calculation = apply_parameters(clause, params)
    computed = f"{calculation.hours} h calculées" if calculation else "calcul incomplet"
    add_history(
        session,
        clause,
        event="parameters",
        actor=actor,
        reason=f"paramètres du calcul modifiés : {computed}",
        now=now,
    )
    return clause, calculation


def _pick(new: Decimal | None, current: Decimal | None) -> Decimal | None:
    return current if new is None else new


@dataclass(frozen=True)
class PartyInput:
    company_id: int
    role: PartyRole
    correspondent_id: int | None = None
    hours_share: int | None = None


#: The history event of an award recorded again with other data.
AWARD_CORRECTED = "award_corrected"
#: Stages in which the award is recorded, or corrected: at the award, and during the works (a
#: subcontractor joining, a correspondent replaced), the ladders following the change.
AWARD_STAGES = frozenset({Stage.AWARD, Stage.EXECUTION, Stage.SUSPENDED})
#: Stages in which the companies are already asked for their months: a company joining then
#: declares from its first month (``AwardParty.first_month``), not from the lot's start.
WORKS_STAGES = frozenset({Stage.EXECUTION, Stage.SUSPENDED})
#: How the history row of a corrected award begins; its changes follow, `` ; `` apart.
CORRECTION_PREFIX = "attribution corrigée : "
#: What puts the facilitator's reason after the changes of a corrected award (``--reason``):
#: « attribution corrigée : Démarrage : 1er octobre 2026 → 15 octobre 2026 ; motif : avenant
#: n° 1 ». The readers of the changes (``award_changes_of``) cut the row at its first
#: occurrence, so that a reason holding « → » or « ; » is never read as a change; rows written
#: before it had no reason and read as they did.
MOTIVE_MARK = " ; motif : "
#: How long a reason may be (as the other corrections' ``Motif``).
MOTIVE_LENGTH = 2000


class AwardResult(StrEnum):
    """What recording an award did."""

    RECORDED = "recorded"  # the first award of the lot
    CORRECTED = "corrected"  # recorded again with other data: the changes are in the history
    UNCHANGED = "unchanged"  # recorded again with the same data: nothing written, nothing sent


@dataclass(frozen=True)
class AwardOutcome:
    clause: Clause
    result: AwardResult
    changes: tuple[AwardChange, ...] = ()
    added_company_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class _PartyTerms:
    """What the award says of one company: its role, its correspondent, its hours."""

    role: str
    correspondent_id: int | None
    hours_share: int | None


def record_award(
    session: Session,
    clause_id: int,
    *,
    parties: list[PartyInput],
    start_date: date,
    planned_end_date: date,
    actor: str,
    now: datetime,
    publish: Publish,
    joining_from: date | None = None,
    zone: ZoneInfo | None = None,
    reason: str | None = None,
) -> Clause:
    """Record who won the lot (the holder first) and when the work runs (``apply_award``)."""
    return apply_award(
        session,
        clause_id,
        parties=parties,
        start_date=start_date,
        planned_end_date=planned_end_date,
        actor=actor,
        now=now,
        publish=publish,
        joining_from=joining_from,
        zone=zone,
        reason=reason,
    ).clause


def apply_award(
    session: Session,
    clause_id: int,
    *,
    parties: list[PartyInput],
    start_date: date,
    planned_end_date: date,
    actor: str,
    now: datetime,
    publish: Publish,
    joining_from: date | None = None,
    zone: ZoneInfo | None = None,
    reason: str | None = None,
    reason_field: str = "Motif",
) -> AwardOutcome:
    """Record who won the lot (the holder first) and when the work runs.

    The first time, the award is recorded (history « award_recorded », ``ClauseAwarded``: the
    buyer's notice and the companies' welcomes). Recorded again with the same data, nothing is
    written and nothing sent. With other data (a company, a correspondent, the hours entrusted,
    the dates), the change is recorded (history « award_corrected », each change before → after)
    and ``AwardCorrected`` published: one corrected notice to the buyer, a welcome to each
    company newly bound only.

    During the works (execution, suspension) it is a correction too, with the rules of a lot
    whose companies are already asked for their months (``_check_works_correction``): a company
    joining declares from ``joining_from`` (its month; by default the current month in ``zone``,
    never before the lot's start), kept as its ``first_month``, and is called from that month
    only (``reminders.rearm_lot`` on ``AwardCorrected``); a company that declared or was called
    stays in the award; the start moves after no month declared or called, the planned end
    before none.

    ``reason`` (optional, as the other records' corrections: ``clauses buyer edit --reason``)
    says why, kept at the end of the history row (``MOTIVE_MARK``), the first award's as a
    correction's; never in the buyer's notice, which quotes no reason of the facilitator's for a
    corrected award (``emails.notices.REASON_KINDS``). ``reason_field`` names it as the interface
    does. With the same data nothing is recorded, the reason neither.
    """
    require_aware(now)
    motive = _motive(reason, reason_field)
    clause = get_clause(session, clause_id, for_update=True)
    stage = Stage(clause.stage)
    if stage not in AWARD_STAGES:
        raise InputRefused(
            f"{clause.label} est à l'étape « {LABELS[stage]} » : l'attribution s'enregistre à "
            "l'étape « attribution » et se corrige pendant les travaux (« mise en œuvre », "
            "« suspendue »), plus ensuite."
        )
    if joining_from is not None and stage not in WORKS_STAGES:
        raise InputRefused(
            f"Premier mois des entreprises ajoutées : {clause.label} est à l'étape "
            f"« {LABELS[stage]} », ses entreprises déclarent toutes depuis le démarrage ; ce "
            "mois se donne seulement pour une entreprise ajoutée pendant les travaux."
        )
    if planned_end_date < start_date:
        raise InputRefused(
            f"Fin prévue {planned_end_date:%d/%m/%Y} avant le démarrage {start_date:%d/%m/%Y}."
        )
    holders = [p for p in parties if p.role is PartyRole.HOLDER]
    if len(holders) != 1:
        raise InputRefused("L'attribution compte exactement une entreprise titulaire.")
    wanted: dict[int, _PartyTerms] = {}
    for party in parties:
        if party.company_id in wanted:
            raise InputRefused(
                f"L'entreprise n° {party.company_id} figure deux fois dans l'attribution : "
                "une entreprise y a un seul rôle (titulaire, cotraitant ou sous-traitant)."
            )
        if party.hours_share is not None and party.hours_share < 0:
            raise InputRefused(
                f"Heures confiées à l'entreprise n° {party.company_id} : {party.hours_share} "
                "doit être positif ou nul."
            )
        company = session.get(Company, party.company_id)
        if company is None:
            raise NotFound(f"Aucune entreprise n° {party.company_id}.")
        if party.correspondent_id is not None:
            correspondent = session.get(Correspondent, party.correspondent_id)
            if correspondent is None or correspondent.company_id != company.id:
                raise InputRefused(
                    f"Le correspondant n° {party.correspondent_id} n'appartient pas à "
                    f"l'entreprise {company.name}."
                )
        wanted[party.company_id] = _PartyTerms(
            party.role.value, party.correspondent_id, party.hours_share
        )
    current = {
        p.company_id: _PartyTerms(p.role, p.correspondent_id, p.hours_share) for p in clause.parties
    }
    first = clause.awarded_at is None
    dates = (clause.start_date, clause.planned_end_date)
    if not first and current == wanted and dates == (start_date, planned_end_date):
        if joining_from is not None:
            raise InputRefused(
                "Premier mois des entreprises ajoutées : aucune entreprise n'est ajoutée, "
                "l'attribution est déjà enregistrée telle quelle."
            )
        return AwardOutcome(clause, AwardResult.UNCHANGED)
    joining: date | None = None
    if stage in WORKS_STAGES:
        # The pass opens months and moves each party's next call under the party's row lock
        # (SKIP LOCKED), never the clause's: lock the lot's parties too, so that a month the
        # pass opened meanwhile is seen by the checks below and no next call is written back
        # over the pass's.
        session.scalars(
            select(AwardParty)
            .where(AwardParty.clause_id == clause.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).all()
        joining = _check_works_correction(
            session,
            clause,
            removed=[cid for cid in current if cid not in wanted],
            added=[cid for cid in wanted if cid not in current],
            start_date=start_date,
            planned_end_date=planned_end_date,
            joining_from=joining_from,
            today=local_date(now, zone) if zone is not None else now.date(),
        )
        _unarm_for_new_start(clause, start_date)
    changes = (
        ()
        if first
        else _award_changes(
            session, current, wanted, dates, (start_date, planned_end_date), joining
        )
    )
    # Each company keeps its row (and what the ladders know of it); the others go or come.
    for gone in [p for p in clause.parties if p.company_id not in wanted]:
        clause.parties.remove(gone)
    session.flush()
    kept = {p.company_id: p for p in clause.parties}
    for company_id, terms in wanted.items():
        row = kept.get(company_id)
        if row is None:
            clause.parties.append(
                AwardParty(
                    company_id=company_id,
                    role=terms.role,
                    correspondent_id=terms.correspondent_id,
                    hours_share=terms.hours_share,
                    # Joining during the works: it owes its months from then on (None: from
                    # the lot's start month, as every company awarded before the works).
                    first_month=joining,
                )
            )
        else:
            row.role = terms.role
            row.correspondent_id = terms.correspondent_id
            row.hours_share = terms.hours_share
    clause.start_date = start_date
    clause.planned_end_date = planned_end_date
    if first:
        clause.awarded_at = now
    session.flush()
    session.refresh(clause, ["parties"])
    if first:
        names = ", ".join(session.get_one(Company, p.company_id).name for p in parties)
        written = add_history(
            session,
            clause,
            event="award_recorded",
            actor=actor,
            reason=f"attribuée à {names}" + (MOTIVE_MARK + motive if motive else ""),
            now=now,
        )
        clause.awarded_at = written.at
        publish(session, ClauseAwarded(clause_id=clause.id, at=written.at, actor=actor))
        return AwardOutcome(clause, AwardResult.RECORDED)
    added = tuple(company_id for company_id in wanted if company_id not in current)
    written = add_history(
        session,
        clause,
        event=AWARD_CORRECTED,
        actor=actor,
        reason=award_correction_reason(changes, motive),
        now=now,
    )
    publish(
        session,
        AwardCorrected(
            clause_id=clause.id,
            at=written.at,
            actor=actor,
            changes=changes,
            added_company_ids=added,
        ),
    )
    return AwardOutcome(clause, AwardResult.CORRECTED, changes, added)


def _motive(reason: str | None, field: str) -> str:
    """The reason of an award or its correction, on one line ('' when none is given); a
    control character is refused, as in every text a person types."""
    problem = forbidden_character(reason or "")
    if problem:
        raise InputRefused(f"{field} : «\u00a0{shown(reason or '')}\u00a0» : {problem}.")
    text = " ".join((reason or "").split())
    if len(text) > MOTIVE_LENGTH:
        raise InputRefused(
            f"{field} : {len(text)} caractères, c'est trop ({MOTIVE_LENGTH} au plus)."
        )
    return text


def award_correction_reason(changes: tuple[AwardChange, ...], motive: str = "") -> str:
    """``attribution corrigée : Démarrage : 2 mars 2026 → 16 mars 2026 ; …``, then the reason
    when one is given (`` ; motif : avenant n° 1``)."""
    said = CORRECTION_PREFIX + " ; ".join(f"{c.what} : {c.before} → {c.after}" for c in changes)
    return said + (MOTIVE_MARK + motive if motive else "")


def award_motive_of(reason: str | None) -> str | None:
    """The reason kept in an award's history row (``award_correction_reason``), None when
    the row has none (rows written before reasons were kept)."""
    if not reason or MOTIVE_MARK not in reason:
        return None
    return reason.partition(MOTIVE_MARK)[2]


def award_changes_of(reason: str | None) -> tuple[AwardChange, ...]:
    """The changes an ``award_correction_reason`` lists, read back (a preview of the corrected
    notice from the history); () for any other text. The reason after them is no change."""
    if not reason or not reason.startswith(CORRECTION_PREFIX):
        return ()
    found = []
    listed = reason.partition(MOTIVE_MARK)[0]
    for part in listed[len(CORRECTION_PREFIX) :].split(" ; "):
        what, colon, rest = part.partition(" : ")
        before, arrow, after = rest.rpartition(" → ")
        if colon and arrow:
            found.append(AwardChange(what, before, after))
    return tuple(found)


def _award_changes(
    session: Session,
    current: Mapping[int, _PartyTerms],
    wanted: Mapping[int, _PartyTerms],
    dates: tuple[date | None, date | None],
    new_dates: tuple[date, date],
    joining: date | None = None,
) -> tuple[AwardChange, ...]:
    """What differs between the award recorded and the one given, in the words of people; a
    company joining during the works with the month it declares from (``joining``)."""

    def company(company_id: int) -> str:
        return session.get_one(Company, company_id).name

    def correspondent(correspondent_id: int | None) -> str:
        found = session.get(Correspondent, correspondent_id) if correspondent_id else None
        return found.name if found is not None else "à désigner"

    def role(code: str) -> str:
        return PARTY_ROLE_LABELS[PartyRole(code)]

    def hours(share: int | None) -> str:
        return french_hours(share) if share is not None else "non précisées"

    def terms(t: _PartyTerms) -> str:
        text = role(t.role)
        if t.hours_share is not None:
            text += f", {french_hours(t.hours_share)} d'insertion"
        if t.correspondent_id is not None:
            text += f", correspondant : {correspondent(t.correspondent_id)}"
        return text

    changes: list[AwardChange] = []
    for company_id, new in wanted.items():
        old = current.get(company_id)
        name = company(company_id)
        if old is None:
            joined = terms(new)
            if joining is not None:
                joined += f", déclare à partir {month_phrase(joining)}"
            changes.append(AwardChange(name, NOT_BOUND, joined))
            continue
        if old.role != new.role:
            changes.append(AwardChange(f"Rôle de {name}", role(old.role), role(new.role)))
        if old.correspondent_id != new.correspondent_id:
            changes.append(
                AwardChange(
                    f"Correspondant de {name}",
                    correspondent(old.correspondent_id),
                    correspondent(new.correspondent_id),
                )
            )
        if old.hours_share != new.hours_share:
            changes.append(
                AwardChange(
                    f"Heures confiées à {name}", hours(old.hours_share), hours(new.hours_share)
                )
            )
    for company_id, old in current.items():
        if company_id not in wanted:
            changes.append(AwardChange(company(company_id), terms(old), "retirée de l'attribution"))
    for what, before, after in zip(("Démarrage", "Fin prévue"), dates, new_dates, strict=True):
        if before != after:
            shown = french_date(before) if before is not None else "non renseigné"
            changes.append(AwardChange(what, shown, french_date(after)))
    return tuple(changes)


def _check_works_correction(
    session: Session,
    clause: Clause,
    *,
    removed: Sequence[int],
    added: Sequence[int],
    start_date: date,
    planned_end_date: date,
    joining_from: date | None,
    today: date,
) -> date | None:
    """Refuse an award correction during the works that would leave a month asked for, or
    declared, outside the award; the first month of the companies joining (None: none joins).

    A company removed must have neither declared nor been called on the lot (its months count,
    its ladder runs); the start may move neither after a month declared or called (it would be
    owed before the start) nor, once a month was called, to an earlier month (its companies
    would owe months nobody asked for); the planned end as ``set_planned_end`` moves it.
    """
    for company_id in removed:
        name = session.get_one(Company, company_id).name
        done: tuple[tuple[type[Declaration] | type[DeclarationLadder], str], ...] = (
            (Declaration, "a déjà déclaré"),
            (DeclarationLadder, "a déjà été appelée à déclarer"),
        )
        for model, did in done:
            months = session.scalars(
                select(model.month)
                .where(model.clause_id == clause.id, model.company_id == company_id)
                .order_by(model.month)
            ).all()
            if months:
                raise InputRefused(
                    f"{name} {did} {months_named(list(months))} sur ce lot : elle reste dans "
                    "l'attribution (ses mois comptent). Si elle a quitté le chantier, gardez-la "
                    "et enregistrez son dernier mois\u00a0: aucun mois suivant ne lui sera plus "
                    f"demandé (clauses clause company-left {clause.id} --company {company_id} "
                    "--last-month MM/AAAA --reason «\u00a0…\u00a0»), ou avancez la fin prévue "
                    "si le lot s'achève."
                )
    start = month_start(start_date)
    before = month_start(clause.start_date) if clause.start_date is not None else None
    if before is not None and start != before:
        checks: tuple[tuple[type[Declaration] | type[DeclarationLadder], str], ...] = (
            (Declaration, "déjà déclaré par"),
            (DeclarationLadder, "dont la déclaration a déjà été demandée à"),
        )
        for model, whose in checks:
            statement = select(model.month, Company.name).join(
                Company, Company.id == model.company_id
            )
            if start > before:
                statement = statement.where(model.month < start).order_by(model.month, Company.name)
            else:
                statement = statement.order_by(model.month, Company.name)
            found = session.execute(statement.where(model.clause_id == clause.id).limit(1)).first()
            if found is None:
                continue
            month, company = found
            worked = (
                session.execute(
                    select(Declaration.month, Company.name, Declaration.total_hours)
                    .join(Company, Company.id == Declaration.company_id)
                    .where(
                        Declaration.clause_id == clause.id,
                        Declaration.month < start,
                        Declaration.total_hours > 0,
                    )
                    .order_by(Declaration.month, Company.name)
                    .limit(1)
                ).first()
                if start > before
                else None
            )
            if worked is not None:
                # Hours declared before the new start: the works began by then, and recording
                # those months at zero (the advice below) is no way out (user trial). The
                # earliest such month: a start after it would be refused too (review).
                last, name, hours = worked
                raise InputRefused(
                    f"Démarrage : le {start_date:%d/%m/%Y} est après {french_month(last)}, mois "
                    f"pour lequel {name} a déclaré {french_hours(hours)} d'insertion sur le lot : "
                    f"les travaux avaient donc commencé. Gardez un démarrage en "
                    f"{french_month(last)} au plus tard."
                )
            if start > before:
                # What the facilitator can do (user trial: the refusal left a wrong start with
                # no way out): the months asked stay asked, a month nobody worked is recorded
                # at zero, which ends its reminders. (``before`` is set: the lot has a start.)
                raise InputRefused(
                    f"Démarrage : le {start_date:%d/%m/%Y} est après {french_month(month)}, mois "
                    f"{whose} {company} ; le démarrage ne peut pas suivre un mois déjà "
                    "demandé. Si personne n'a travaillé sur le lot avant le "
                    f"{start_date:%d/%m/%Y}, enregistrez ces mois à zéro heure pour chaque "
                    "entreprise qui ne les a pas déclarés (clauses declaration zero --clause "
                    f"{clause.id} --company N° --month MM/AAAA) : leurs relances s'arrêtent ; "
                    "le temps écoulé reste compté depuis le démarrage enregistré, en "
                    f"{french_month(before)}."
                )
            raise InputRefused(
                f"Démarrage : le {start_date:%d/%m/%Y} avancerait le lot avant "
                f"{french_month(month)}, mois {whose} {company} ; les mois d'avant n'ont été "
                "demandés à aucune entreprise : le démarrage n'avance plus une fois un mois "
                "demandé."
            )
    if planned_end_date != clause.planned_end_date:
        _check_no_month_after(session, clause, planned_end_date, "Fin prévue")
    field = "Premier mois des entreprises ajoutées"
    if not added:
        if joining_from is not None:
            raise InputRefused(f"{field} : aucune entreprise n'est ajoutée à l'attribution.")
        return None
    last = month_start(planned_end_date)
    if joining_from is None:
        # Joining now: it declares from this month, the lot's first one at the earliest.
        first = max(month_start(today), start)
        if first > last:
            raise InputRefused(
                f"{field} : ce mois-ci ({french_month(first)}) est après la fin prévue du lot "
                f"({french_month(last)}) : l'entreprise ajoutée n'aurait aucun mois à déclarer. "
                "Donnez son premier mois (--from MM/AAAA), ou reportez d'abord la fin prévue "
                "(clauses lot set-end)."
            )
        return first
    first = month_start(joining_from)
    if first < start:
        raise InputRefused(
            f"{field} : {french_month(first)} est avant le démarrage du lot "
            f"({french_month(start)})."
        )
    if first > last:
        raise InputRefused(
            f"{field} : {french_month(first)} est après la fin prévue du lot "
            f"({french_month(last)})."
        )
    return first


def _unarm_for_new_start(clause: Clause, start_date: date) -> None:
    """A start month moved (no month called before, ``_check_works_correction``): the companies
    not called yet wait for their calls from the new first month, armed again as if never
    (``reminders.rearm_lot`` on ``AwardCorrected``, else the pass's daily sweep)."""
    if clause.start_date is None or month_start(clause.start_date) == month_start(start_date):
        return
    for party in clause.parties:
        party.next_call_month = None
        party.next_call_at = None


def record_final_report(
    session: Session,
    clause_id: int,
    *,
    text: str,
    actor: str,
    now: datetime,
    publish: Publish,
    outstanding: Sequence[Outstanding] = (),
) -> Clause:
    """The final report of the operation. ``outstanding``: the declarations not received yet
    (``declaration list --missing``'s, by company), named in its history row, which the buyer's
    ``notice_final_report`` reads back (``emails.notices.outstanding_of``): the total it gives
    does not include them."""
    clause = get_clause(session, clause_id, for_update=True)
    if Stage(clause.stage) is not Stage.FOLLOW_UP:
        raise InputRefused(
            f"{clause.label} est à l'étape « {LABELS[Stage(clause.stage)]} » : le bilan "
            "s'enregistre à l'étape « suivi et bilan »."
        )
    if not text.strip():
        raise InputRefused("Le bilan de l'opération est vide.")
    clause.final_report = text.strip()
    row = add_history(
        session,
        clause,
        event="final_report",
        actor=actor,
        reason=outstanding_reason([o for o in outstanding if o.months]),
        now=now,
    )
    clause.final_report_at = row.at
    publish(session, FinalReportRecorded(clause_id=clause.id, at=row.at, actor=actor))
    return clause


def holder_email(clause: Clause) -> str | None:
    for party in clause.parties:
        if party.role == PartyRole.HOLDER.value and party.correspondent is not None:
            return party.correspondent.email or None
    return None


def facts_of(clause: Clause) -> ClauseFacts:
    return ClauseFacts(
        hours_target=clause.hours_target,
        holder_email=holder_email(clause),
        start_date=clause.start_date,
        end_date=clause.end_date,
        final_report_recorded=clause.final_report_at is not None,
        final_report_outdated_by=_outdated_by(clause),
    )


def _outdated_by(clause: Clause) -> tuple[str, ...]:
    """The kinds of change recorded since the lot's last final report that change its figures
    (user trial: a declaration corrected and another cancelled after the report was sent, then
    the clause closed, its buyer left with « 1 248 h sur 1 200 h » for a lot of 1 100 h). Read
    only for a lot whose report is recorded, in the order of the history."""
    if clause.final_report_at is None:
        return ()
    rows = sorted(clause.history, key=lambda row: (row.at, row.id))
    reports = [i for i, row in enumerate(rows) if row.event == FINAL_REPORT_EVENT]
    if not reports:
        return ()
    changed = figure_changes(row.event for row in rows[reports[-1] + 1 :])
    session = object_session(clause)
    # Its notices locked: a dispatcher cannot take one waiting between this answer and the
    # closure that writes it again (``FOR UPDATE SKIP LOCKED``).
    if (
        not changed
        or session is None
        or not report_told(session, clause.id, rows[reports[-1]].id, lock=True)
    ):
        # A report the buyer has not read yet (its notice waiting, or held for want of a
        # contact) leaves with the figures of its day of leaving: the closure writes it again
        # (``notices.rewrite_final_report``), a release reads them then.
        return ()
    return changed


def _version_read(clause: Clause, expected_version: int | None) -> int:
    """The version the change is based on: the one the person saw, else the one read now."""
    if expected_version is not None and expected_version != clause.version:
        raise ConcurrentChange(
            f"{clause.label} a changé (version {clause.version}, vous aviez la version "
            f"{expected_version}) ; rechargez-la et recommencez."
        )
    return clause.version if expected_version is None else expected_version


def _move(
    session: Session,
    clause: Clause,
    version: int,
    origin: Stage,
    target: Stage,
    event: str,
    actor: str,
    reason: str | None,
    now: datetime,
) -> datetime:
    """Compare-and-set on stage and version, then the history row: a change racing with another
    on the same clause matches no row once the other has committed, and keeps nothing.

    Returns the instant of the history row (``history_instant``: ``now``, or later when another
    instance's clock wrote the clause's latest row ahead of ours), which is also the clause's
    ``stage_changed_at``: the caller tells the change at that instant."""
    result = session.execute(
        update(Clause)
        .where(Clause.id == clause.id, Clause.stage == origin.value, Clause.version == version)
        .values(stage=target.value, version=version + 1, stage_changed_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise ConcurrentChange(
            f"{clause.label} a été modifiée en même temps par quelqu'un d'autre ; "
            "rien n'a été enregistré, recommencez."
        )
    calling = target.value in CALLING_STAGES
    if (origin.value in CALLING_STAGES) != calling:
        # Its ladders held or released with it, in its transaction: the climb walks only those
        # of lots called (``DeclarationLadder.held``). Every change of stage passes here.
        session.execute(
            update(DeclarationLadder)
            .where(DeclarationLadder.clause_id == clause.id)
            .values(held=not calling)
            .execution_options(synchronize_session=False)
        )
    session.refresh(clause)
    row = add_history(
        session,
        clause,
        event=event,
        actor=actor,
        reason=reason,
        now=now,
        moved=(origin.value, target.value),
    )
    if row.at != now:
        clause.stage_changed_at = row.at
    return row.at


def advance_clause(
    session: Session,
    clause_id: int,
    event: ClauseEvent,
    *,
    actor: str,
    reason: str | None,
    now: datetime,
    publish: Publish,
    expected_version: int | None = None,
    end_date: date | None = None,
    today: date | None = None,
    end_field: str = "Date de fin d'exécution",
    released: list[ReleasedMonths] | None = None,
    rewriter: LadderRewriter | None = None,
    outstanding: Sequence[Outstanding] = (),
    zone: ZoneInfo | None = None,
) -> ClauseAdvanced:
    """Apply one transition: compare-and-set on stage and version, history row, domain event.

    ``end_date`` (with ``FINISH``) is the day the work ended: after ``today`` (the local day, given
    by every interface; imports of past data give none) it is refused, ``end_field`` naming the
    field as the interface calls it. The months after it are no longer owed
    (``lot_ends.release_months_after``): an end before a month declared is refused; the months
    only called stop being reminded, in this transaction, and the history row of the finish says
    so. ``released``, when given, receives what was released, to tell the person. ``rewriter``
    (``reminder_emails.LadderRewrite``) lets the finish write again a waiting email that also
    covers months still owed, for those months only; without it such an email is left as it is.
    With it, each company whose call for a month released had left is told, by an email queued
    in this transaction (``company_end_notices.tell_released``); without it (no interface that
    writes emails: the demo, an import of past data), nobody is.

    A termination (``TERMINATE``, « marché résilié », from execution or suspended) is a finish
    on ``end_date``, required, as its ``reason``: the history row reads « Marché résilié le …,
    motif : « … ». » (``terminations``), a month declared after the date refuses it in its own
    words, and the companies are told by one email each on its event
    (``company_end_notices.tell_terminated``), not by ``tell_released``. From suspended, the
    move out of « suspendue » ends the suspension (``lot_calendars.suspensions``).

    ``outstanding`` (with ``CLOSE``): the declarations still owed, by company, read by the
    interface (``declaration list --missing``'s). A closed clause asks nothing more: they are
    named in the history row, the lot's ladders stop and their emails still waiting are
    withdrawn (``lot_ends.stop_at_close``), and with ``rewriter`` each company called for one of
    them is told they are no longer asked (``company_end_notices.tell_released``, ``closed_on``),
    a month whose due date, pushed by the lot's suspensions (its days read in ``zone``, the
    settings'), had not passed that day told apart from a month late.

    Two transitions racing on one clause: the second UPDATE matches no row once the first has
    committed (its version moved on) and raises ``ConcurrentChange``; nothing of it is kept.
    """
    require_aware(now)
    clause = get_clause(session, clause_id)
    version = _version_read(clause, expected_version)
    terminating = event is ClauseEvent.TERMINATE
    given = (reason or "").strip()
    if end_date is not None and event in ENDING_EVENTS:
        if terminating and today is not None and end_date > today:
            # A termination is recorded once decided: its date is past or today.
            raise InputRefused(
                f"{end_field}\u00a0: le {end_date:%d/%m/%Y} n'est pas encore arrivé (nous sommes "
                f"le {today:%d/%m/%Y})\u00a0; enregistrez la résiliation à sa date d'effet, "
                "une date passée ou du jour."
            )
        if clause.start_date and terminating and end_date < clause.start_date:
            raise InputRefused(
                f"{end_field}\u00a0: le {end_date:%d/%m/%Y} est avant le démarrage du lot "
                f"({clause.start_date:%d/%m/%Y})."
            )
        if today is not None and end_date > today:
            # The date the work ended is a fact: a date to come is the planned end (an
            # amendment), and the reminders follow it while the lot stays in execution.
            raise InputRefused(
                f"{end_field}\u00a0: le {end_date:%d/%m/%Y} n'est pas encore arrivé (nous sommes "
                f"le {today:%d/%m/%Y})\u00a0; l'exécution s'achève à une date passée ou du jour. "
                "Si les travaux se prolongent (avenant), reportez plutôt la fin prévue du lot",
                hint=Hint(
                    f"\u00a0: clauses lot set-end {clause.id} {end_date:%d/%m/%Y} "
                    "--reason «\u00a0avenant n°\u00a0…\u00a0».",
                    "\u00a0: formulaire «\u00a0Changer la fin prévue\u00a0» de la page de la "
                    "clause.",
                ),
            )
        if clause.start_date and end_date < clause.start_date:
            raise InputRefused(
                f"Date de fin {end_date:%d/%m/%Y} antérieure au démarrage "
                f"{clause.start_date:%d/%m/%Y}."
            )
        clause.end_date = end_date
    origin = Stage(clause.stage)
    target = next_stage(clause.label, origin, event, facts_of(clause), clause.id)
    if terminating:
        # Allowed from this stage: its date and reason are checked (the reason, the buyer and
        # the companies read it).
        _check_termination(clause, end_date, given, end_field)
    told = reason
    ended: tuple[ReleasedMonths, ...] = ()
    if event in ENDING_EVENTS and clause.end_date is not None:
        if terminating:
            # Hours declared after the termination would be counted past the contract's end:
            # the date is checked, or those declarations cancelled first (told in its words).
            refuse_declared_after(
                session, clause, clause.end_date, end_field, words=TERMINATION_WORDS
            )
            told = termination_reason(clause.end_date, given)
        ended = release_months_after(
            session,
            clause,
            clause.end_date,
            field=end_field,
            rewriter=rewriter,
            terminated=terminating,
        )
        told = lot_ends_reason(told, ended)
        if released is not None:
            released.extend(ended)
    closing = event is ClauseEvent.CLOSE and target is Stage.CLOSED
    closed_on = today if today is not None else now.date()
    owed = [o for o in outstanding if o.months and o.company_id is not None]
    if closing:
        withdrawn = stop_at_close(session, clause, closed_on)
        told = closure_reason(reason, owed, withdrawn)
    # From here on, the change's instant is its history row's (the same as ``now`` unless
    # another instance's clock wrote the clause's latest row ahead of ours).
    moved_at = _move(session, clause, version, origin, target, event.value, actor, told, now)
    if ended and rewriter is not None and not terminating:
        # The companies called for a month released are told, keyed by the finish's instant.
        # (A termination tells every company of the lot in one email, these months included:
        # ``company_end_notices.tell_terminated``, on its event.)
        tell_released(session, rewriter.renderer, clause, ended, at=moved_at)
    if closing and owed and rewriter is not None:
        # The companies called for a month still owed are told it is no longer asked.
        end = clause.end_date or closed_on
        tell_released(
            session,
            rewriter.renderer,
            clause,
            [
                ReleasedMonths(o.company_id, o.company, end, tuple(sorted(o.months)))
                for o in owed
                if o.company_id is not None
            ],
            at=moved_at,
            closed_on=closed_on,
            zone=zone,
        )
    advanced = ClauseAdvanced(
        clause_id=clause.id,
        event=event,
        from_stage=origin,
        to_stage=target,
        at=moved_at,
        actor=actor,
        reason=reason,
    )
    publish(session, advanced)
    return advanced


def _check_termination(clause: Clause, end_date: date | None, reason: str, field: str) -> None:
    """A termination needs its date (the lot's end: the interface's ``field``) and its reason,
    which the buyer and the companies read."""
    missing = []
    if end_date is None:
        missing.append(f"la date de résiliation du marché ({field}, jj/mm/aaaa)")
    if not reason:
        missing.append(
            "le motif de la résiliation, que liront le donneur d'ordre et les entreprises"
        )
    if missing:
        raise InputRefused(
            f"{clause.label}\u00a0: pour résilier le marché, indiquez {' et '.join(missing)}."
        )


def closure_reason(
    reason: str | None, owed: Sequence[Outstanding], withdrawn: Mapping[int, Sequence[str]]
) -> str | None:
    """The closure's history row: the reason given, then the declarations still owed that are
    no longer asked, by company, and the emails withdrawn."""
    if not owed and not withdrawn:
        return reason
    parts: list[str] = []
    if owed:
        parts.append(
            "Déclarations non reçues à la clôture, plus demandées\u00a0: "
            + " ; ".join(f"{o.company} ({months_named(o.months)})" for o in owed)
            + "."
        )
    steps = [step for company in sorted(withdrawn) for step in withdrawn[company]]
    if steps:
        count = len(steps)
        parts.append(
            f"{count} courriel{'s' if count > 1 else ''} en attente "
            f"retiré{'s' if count > 1 else ''} ({', '.join(steps)})."
        )
    told = " ".join(parts)
    given = (reason or "").strip()
    if not given:
        return told
    return f"{given if given.endswith(('.', '!', '?')) else given + '.'} {told}"


def reopen_clause(
    session: Session,
    clause_id: int,
    *,
    reason: str,
    actor: str,
    now: datetime,
    publish: Publish,
    expected_version: int | None = None,
) -> ClauseReopened:
    """Undo an abandon: the clause goes back to the stage it was abandoned from, with the reason
    kept in its history (event « reopen »), and takes up its life there: from identification,
    drafting or award, as any clause of that stage (the ladders start with the execution).

    Compare-and-set on stage and version, as ``advance_clause``.
    """
    require_aware(now)
    clause = get_clause(session, clause_id)
    version = _version_read(clause, expected_version)
    origin = Stage(clause.stage)
    abandoned_from = None
    if origin is Stage.ABANDONED:
        abandoned_from = session.scalar(
            select(ClauseHistory.from_stage)
            .where(
                ClauseHistory.clause_id == clause.id,
                ClauseHistory.event == ClauseEvent.ABANDON.value,
            )
            .order_by(ClauseHistory.at.desc(), ClauseHistory.id.desc())
            .limit(1)
        )
    target = reopened_stage(clause.label, origin, abandoned_from)
    text = (reason or "").strip()
    if not text:
        raise InputRefused(
            f"{clause.label} : indiquez pourquoi la rouvrir (--reason) ; le motif est gardé à "
            "l'historique."
        )
    moved_at = _move(session, clause, version, origin, target, REOPEN, actor, text, now)
    reopened = ClauseReopened(
        clause_id=clause.id,
        from_stage=origin,
        to_stage=target,
        at=moved_at,
        actor=actor,
        reason=text,
    )
    publish(session, reopened)
    return reopened


#: The history event of a planned end moved during execution (an amendment).
PLANNED_END = "planned_end"
#: Stages in which the planned end moves: from the award recorded until the work has ended.
PLANNED_END_STAGES = frozenset({Stage.AWARD, Stage.EXECUTION, Stage.SUSPENDED})


@dataclass(frozen=True)
class PlannedEndChange:
    """What ``set_planned_end`` did: the planned end before and after (equal: nothing written)."""

    clause: Clause
    before: date
    after: date

    @property
    def changed(self) -> bool:
        return self.before != self.after


def set_planned_end(
    session: Session,
    clause_id: int,
    planned_end: date,
    *,
    reason: str,
    actor: str,
    now: datetime,
    publish: Publish,
    field: str = "Fin prévue",
    reason_field: str = "Raison",
) -> PlannedEndChange:
    """Move the planned end of a lot awarded, in execution or suspended (an amendment
    prolonging or cutting the works), with its reason kept in the history.

    The reminders follow the new end through the lot's end month: a later end calls the months
    it adds at their usual dates (``reminders.rearm_lot``, on ``PlannedEndMoved``, re-arms a
    company whose calls were over), an earlier one calls no month after it
    (``reminders._open_batch`` parks the company).
    So that no month already asked for is left owed past the end, the new end may precede neither
    a month declared nor a month whose call has gone out; nor the start. ``field`` and
    ``reason_field`` name the fields as the interface calls them. ``PlannedEndMoved`` is published
    when it moves.
    """
    require_aware(now)
    clause = get_clause(session, clause_id, for_update=True)
    stage = Stage(clause.stage)
    if stage not in PLANNED_END_STAGES:
        if clause.end_date is not None and stage in (Stage.FOLLOW_UP, Stage.CLOSED):
            why = (
                f"l'exécution s'est achevée le {clause.end_date:%d/%m/%Y}, sa fin prévue ne "
                "change plus"
            )
        elif stage in FINAL_STAGES or stage is Stage.FOLLOW_UP:
            why = "sa fin prévue ne change plus"
        else:
            why = "la fin prévue s'enregistre avec l'attribution"
        raise InputRefused(
            f"{clause.label} est à l'étape «\u00a0{LABELS[stage]}\u00a0»\u00a0: {why}."
        )
    before, start = clause.planned_end_date, clause.start_date
    if before is None or start is None:
        raise InputRefused(
            f"{clause.label}\u00a0: son attribution n'est pas enregistrée\u00a0; la fin prévue "
            "s'enregistre avec elle",
            hint=Hint(
                f" (clauses clause award {clause.id} … --start JJ/MM/AAAA --end JJ/MM/AAAA).",
                " (formulaire «\u00a0Enregistrer l'attribution\u00a0» de la page de la clause).",
            ),
        )
    text = (reason or "").strip()
    if not text:
        raise InputRefused(
            f"{reason_field}\u00a0: indiquez pourquoi la fin prévue change (avenant n°\u00a0…), "
            "elle est gardée à l'historique."
        )
    if planned_end < start:
        raise InputRefused(
            f"{field}\u00a0: le {planned_end:%d/%m/%Y} est avant le démarrage ({start:%d/%m/%Y})."
        )
    if planned_end == before:
        return PlannedEndChange(clause, before, planned_end)
    _check_no_month_after(session, clause, planned_end, field)
    clause.planned_end_date = planned_end
    row = add_history(
        session,
        clause,
        event=PLANNED_END,
        actor=actor,
        reason=f"fin prévue\u00a0: {french_date(before)} → {french_date(planned_end)}\u00a0; {text}",
        now=now,
    )
    publish(
        session,
        PlannedEndMoved(
            clause_id=clause.id,
            before=before,
            after=planned_end,
            at=row.at,
            actor=actor,
            reason=text,
        ),
    )
    return PlannedEndChange(clause, before, planned_end)


def _check_no_month_after(session: Session, clause: Clause, planned_end: date, field: str) -> None:
    """Refuse an end before a month already declared, or already called: that month's ladder
    would stay owed past the end (reminders, then the buyer's alert) with no way to declare it."""
    last = month_start(planned_end)
    checks: tuple[tuple[type[Declaration] | type[DeclarationLadder], str, str], ...] = (
        (Declaration, "déjà déclaré par", "un mois déclaré"),
        (DeclarationLadder, "dont la déclaration a déjà été demandée à", "un mois déjà appelé"),
    )
    for model, whose, what in checks:
        found = session.execute(
            select(model.month, Company.name)
            .join(Company, Company.id == model.company_id)
            .where(model.clause_id == clause.id, model.month > last)
            .order_by(model.month.desc(), Company.name)
            .limit(1)
        ).first()
        if found is not None:
            month, company = found
            raise InputRefused(
                f"{field}\u00a0: le {planned_end:%d/%m/%Y} est avant {french_month(month)}, mois "
                f"{whose} {company}\u00a0; la fin prévue ne peut pas précéder {what}."
            )
