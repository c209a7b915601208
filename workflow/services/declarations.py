"""Recording a company's monthly declaration of insertion hours for one lot.

One transaction does everything a declaration causes: the declaration and its lines, the stop of
that month's reminder ladder (so no reminder can leave after the hours arrived), a history row and
the ``DeclarationRecorded`` event. Its cancellation (``cancel_declaration``) undoes it the same
way: the declaration and its lines go, the ladder resumes where it stood, a history row stays.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workflow.adapters.orm import (
    AwardParty,
    Clause,
    ClauseHistory,
    Company,
    Declaration,
    DeclarationLadder,
    DeclarationLine,
    Participant,
)
from workflow.adapters.templates import french_date, french_hours, french_month
from workflow.domain.calendar import (
    Interval,
    LadderStep,
    add_months,
    month_fully_within,
    month_start,
    months_between,
    opens_on,
)
from workflow.domain.events import (
    DeclarationRecorded,
    DeclarationsRecorded,
    DomainEvent,
    Replaced,
    require_aware,
)
from workflow.domain.stages import LABELS, LATE_DECLARING_STAGES, Stage
from workflow.domain.vocabulary import (
    PARTY_ROLE_LABELS,
    ContractType,
    DeliveryMode,
    PartyRole,
)
from workflow.emails.phrases import french_day, month_phrase
from workflow.errors import Hint, InputRefused, NotFound
from workflow.services.clauses import Publish, get_clause, history_instant
from workflow.services.lot_calendars import first_month_of, suspensions
from workflow.services.outcome_counts import (
    CountChange,
    count_change,
    count_sentences,
    counted_outcomes,
)

if TYPE_CHECKING:
    pass

#: Nobody works more than this for one company in one month (about 1.6 full-time months).
MAX_MONTHLY_HOURS = Decimal(250)


#: The zone a declaration's moment is read in when the caller names none (the settings' default).
DEFAULT_ZONE = ZoneInfo("Europe/Paris")


def last_declarable_month(today: date) -> date:
    """The latest month that can be declared on ``today`` (a local date)."""
    current = month_start(today)
    return current if today >= opens_on(current) else add_months(current, -1)


def not_open_problem(month: date, today: date) -> str | None:
    """Why ``month`` cannot be declared yet on ``today``, in French, or None."""
    opening = opens_on(month)
    if today >= opening:
        return None
    return f"La déclaration {month_phrase(month)} s'ouvre le {french_day(opening)}."


@dataclass(frozen=True)
class LineInput:
    participant_id: int
    hours: Decimal
    delivery_mode: DeliveryMode
    contract_type: ContractType


def clause_ref(clause: Clause) -> str:
    """The clause's label inside a sentence: « la clause n° 1 (marché …) »."""
    return "la c" + clause.label[1:] if clause.label.startswith("Clause") else clause.label


def hours_problem(hours: Decimal) -> str | None:
    """Why these monthly hours are refused, or None; 0 is allowed (a month without work)."""
    # As typed (its decimals kept), with French thousands: « 1 200 h », never « 1200 h ».
    from workflow.domain.french_numbers import french_number

    exponent = hours.as_tuple().exponent
    shown = french_number(hours, -exponent if isinstance(exponent, int) and exponent < 0 else 0)
    if hours < 0 or hours > MAX_MONTHLY_HOURS:
        return f"{shown} h hors limites : entre 0 et {MAX_MONTHLY_HOURS} h par mois."
    if hours != hours.quantize(Decimal("0.01")):
        return f"{shown} h : deux décimales au plus (par exemple 151,67)."
    return None


class MonthProblem(NamedTuple):
    """One thing that forbids declaring a month: the key of the file column it is about
    (``month``, ``siret``) or None, and the sentence that says it."""

    key: str | None
    message: str


def column_problems(
    session: Session,
    clause: Clause,
    company: Company,
    month: date,
    *,
    now: datetime,
    replace: bool = False,
    zone: ZoneInfo = DEFAULT_ZONE,
    from_company: bool = False,
) -> list[MonthProblem]:
    """Everything that forbids declaring ``month`` for this company and lot, in French, each
    with the key of the file column it is about (``month``, ``siret``) or None; ``now`` is read
    in ``zone`` to know which months are open. Every way a declaration comes in (command line,
    file, the company's page, the API) is checked here, and so refused alike, but for one rule
    that only binds the company itself (``from_company``: its page of a signed link, the file it
    sends there): a month before the one it joined the lot (``before_first_month``)."""
    problems: list[MonthProblem] = []
    stage = Stage(clause.stage)
    phrase = month_phrase(month)
    if stage in LATE_DECLARING_STAGES:
        left = month_start(clause.stage_changed_at.date())
        if month > left:
            problems.append(
                MonthProblem(
                    None,
                    f"{clause.label} est à l'étape « {LABELS[stage]} » depuis le "
                    f"{french_date(clause.stage_changed_at)} : seuls les mois jusqu'à "
                    f"{french_month(left)} peuvent encore être déclarés.",
                )
            )
    elif stage is not Stage.EXECUTION:
        problems.append(
            MonthProblem(
                None,
                f"{clause.label} est à l'étape « {LABELS[stage]} » : les heures se déclarent pendant "
                "la mise en œuvre (ou, pour un mois en retard, quand la clause est suspendue ou en "
                "suivi).",
            )
        )
    if problem := not_open_problem(month, now.astimezone(zone).date()):
        problems.append(MonthProblem("month", problem))
    if clause.start_date and month < month_start(clause.start_date):
        problems.append(
            MonthProblem(
                "month",
                f"Le mois {phrase} précède le démarrage de {clause_ref(clause)} "
                f"({clause.start_date:%d/%m/%Y}).",
            )
        )
    if clause.end_date and month > month_start(clause.end_date):
        problems.append(
            MonthProblem(
                "month",
                f"Le mois {phrase} suit la fin d'exécution de {clause_ref(clause)} "
                f"({clause.end_date:%d/%m/%Y}).",
            )
        )
    parties = session.scalars(select(AwardParty).where(AwardParty.clause_id == clause.id)).all()
    if company.id not in {p.company_id for p in parties}:
        named = ", ".join(
            f"{session.get_one(Company, p.company_id).name} ({PARTY_ROLE_LABELS[PartyRole(p.role)]})"
            for p in parties
        )
        problems.append(
            MonthProblem(
                "siret",
                f"L'entreprise {company.name} n'est pas attributaire de {clause_ref(clause)} ; "
                f"entreprises attributaires : {named or 'aucune enregistrée'}.",
            )
        )
    existing = find_declaration(session, clause.id, company.id, month)
    party = next((p for p in parties if p.company_id == company.id), None)
    before_start = clause.start_date is not None and month < month_start(clause.start_date)
    # A month recorded already (before its company's first month was set, or by an older
    # version that let it in) stays correctable and cancellable: only a new one is refused. A
    # month before the lot's start is refused as such above.
    if (
        from_company
        and party is not None
        and existing is None
        and not before_start
        and (joined := before_first_month(company, clause, party, month))
    ):
        problems.append(joined)
    if (
        from_company
        and party is not None
        and existing is None
        and (gone := after_last_month(company, clause, party, month))
    ):
        problems.append(gone)
    if existing is not None and not replace:
        problems.append(
            MonthProblem(
                "month",
                f"La déclaration {phrase} de {company.name} pour {clause_ref(clause)} existe déjà "
                f"(enregistrée le {french_date(existing.recorded_at)}, "
                f"{french_hours(existing.total_hours)}). Pour la corriger, recommencez avec "
                "--replace et, si vous la modifiez, --reason « motif » : ses lignes seront "
                "remplacées, le motif gardé à l'historique.",
            )
        )
    return problems


def declaration_problems(
    session: Session,
    clause: Clause,
    company: Company,
    month: date,
    *,
    now: datetime,
    replace: bool = False,
    zone: ZoneInfo = DEFAULT_ZONE,
    from_company: bool = False,
) -> list[str]:
    """``column_problems`` as sentences, without what to do next: what the company's page of a
    signed link shows (a company has no command to type, no award to correct)."""
    return [
        problem.message
        for problem in column_problems(
            session,
            clause,
            company,
            month,
            now=now,
            replace=replace,
            zone=zone,
            from_company=from_company,
        )
    ]


#: Why a company declares from a later month than the lot's start, in the company's refusal
#: and the facilitator's warning alike (``before_first_month``, ``first_month_note``).
JOINED_WORDS = "premier mois retenu quand elle a rejoint les travaux"


def before_first_month(
    company: Company, clause: Clause, party: AwardParty, month: date
) -> MonthProblem | None:
    """Why the company may not declare ``month`` itself when it precedes the month it joined the
    lot during the works (``AwardParty.first_month``), or None: never asked of it, it would
    count in the lot's hours unseen. The facilitator may record it (the company worked then,
    the award was recorded late): her channels are not refused, the import warns her
    (``first_month_note``)."""
    first = party.first_month
    if first is None or month >= first:
        return None
    month_name = french_month(month)
    return MonthProblem(
        "month",
        f"{month_name.capitalize()} n'est pas demandé à {company.name} sur le "
        f"{_lot_named(clause)} ; elle y déclare à partir {month_phrase(first)}, {JOINED_WORDS}. "
        f"Si elle a travaillé sur le lot en {month_name}, écrivez à la facilitatrice, qui "
        "enregistrera ces heures.",
    )


def after_last_month(
    company: Company, clause: Clause, party: AwardParty, month: date
) -> MonthProblem | None:
    """Why the company may not declare ``month`` itself when it follows its last month on the
    lot, recorded when it left the site (``AwardParty.last_month``, ``company_departures``), or
    None: never asked of it. The facilitator may record it (the departure recorded too early):
    her channels are not refused."""
    last = party.last_month
    if last is None or month <= last:
        return None
    month_name = french_month(month)
    return MonthProblem(
        "month",
        f"{month_name.capitalize()} n'est pas demandé à {company.name} sur le "
        f"{_lot_named(clause)} : elle a quitté le chantier, son dernier mois à déclarer est "
        f"{french_month(last)}. Si elle a travaillé sur le lot en {month_name}, écrivez à la "
        "facilitatrice, qui enregistrera ces heures.",
    )


def first_month_note(
    clause: Clause, company: Company, party: AwardParty, month: date
) -> str | None:
    """What the facilitator is told when she records a month before the one the company joined
    the lot (``before_first_month``): recorded and counted, never asked of it."""
    first = party.first_month
    if first is None or month >= first:
        return None
    return (
        f"{french_month(month)} précède le premier mois de {company.name} sur le "
        f"{_lot_named(clause)} ({french_month(first)}, {JOINED_WORDS}) : la déclaration est "
        "enregistrée et ses heures comptent ; ce mois ne lui avait pas été demandé."
    )


def last_month_note(clause: Clause, company: Company, party: AwardParty, month: date) -> str | None:
    """What the facilitator is told when she records a month after the company's last month on
    the lot, recorded when it left the site (``after_last_month``): recorded and counted (the
    departure may have been recorded too early), never asked of it."""
    last = party.last_month
    if last is None or month <= last:
        return None
    return (
        f"{french_month(month)} suit le dernier mois de {company.name} sur le "
        f"{_lot_named(clause)} : elle a quitté le chantier, son dernier mois est "
        f"{french_month(last)}. La déclaration est enregistrée et ses heures comptent ; ce mois "
        "ne lui avait pas été demandé."
    )


def _lot_named(clause: Clause) -> str:
    title = f"« {clause.lot_title} »"
    lot = f"lot {clause.lot_number} {title}" if clause.lot_number else f"lot {title}"
    return f"{lot} (marché {clause.market.reference})"


def refusal(problems: Sequence[MonthProblem]) -> InputRefused:
    """The refusal of a declaration: every problem, in one message."""
    return InputRefused(" ".join(problem.message for problem in problems))


def find_declaration(
    session: Session, clause_id: int, company_id: int, month: date
) -> Declaration | None:
    return session.scalar(
        select(Declaration).where(
            Declaration.clause_id == clause_id,
            Declaration.company_id == company_id,
            Declaration.month == month,
        )
    )


def same_lines(recorded: Declaration, lines: Sequence[LineInput]) -> bool:
    """True when ``lines`` are the recorded declaration's, in any order: a replacement by them
    corrects nothing (no history, no « corrected » receipt, a validation kept)."""
    before = sorted(
        (line.participant_id, Decimal(line.hours), line.delivery_mode, line.contract_type)
        for line in recorded.lines
    )
    after = sorted(
        (
            line.participant_id,
            Decimal(line.hours),
            line.delivery_mode.value,
            line.contract_type.value,
        )
        for line in lines
    )
    return before == after


def _check_lines(session: Session, lines: Sequence[LineInput]) -> None:
    seen: set[int] = set()
    for line in lines:
        participant = session.get(Participant, line.participant_id)
        if participant is None:
            raise NotFound(f"Aucun participant n° {line.participant_id}.")
        problem = hours_problem(line.hours)
        if problem:
            raise InputRefused(f"Participant {participant.reference} : {problem}")
        if line.participant_id in seen:
            raise InputRefused(
                f"Participant {participant.reference} déclaré deux fois pour le même mois."
            )
        seen.add(line.participant_id)


@dataclass(frozen=True)
class RecordedDeclaration:
    """A declaration recorded (``record_counting``), with what it did to the lot's outcomes."""

    declaration: Declaration
    #: The outcomes it took out of the figures (a correction without their participant's last
    #: hours on the lot) or put back (hours declared again): ``outcome_counts``.
    counts: CountChange
    #: Its history row, still in the session: an import that says the outcomes once for the
    #: whole file (``history_counts=False``) completes its reason afterwards.
    history: ClauseHistory | None = None

    @property
    def counts_said(self) -> str | None:
        """« 1 sortie (P-0007, CDI) n'est plus comptée … » (``count_sentences``), or None."""
        return count_sentences(self.counts)


def history_motif(reason: str | None) -> str | None:
    """Why the facilitator corrected a month, as its history row keeps it, inside « (remplace
    120 h, motif : …) »: on one line, its round brackets made square so that the row still
    reads back whole (``services.audit`` reads « (remplace …) » up to its closing bracket)."""
    text = " ".join((reason or "").split())
    return text.replace("(", "[").replace(")", "]") or None


def record_declaration(
    session: Session,
    *,
    clause_id: int,
    company_id: int,
    month: date,
    lines: Sequence[LineInput],
    actor: str,
    now: datetime,
    source: str,
    publish: Publish,
    replace: bool = False,
    zone: ZoneInfo = DEFAULT_ZONE,
    from_company: bool = False,
) -> Declaration:
    """``record_counting``, for a caller that says nothing of the outcomes (the history row
    still does)."""
    return record_counting(
        session,
        clause_id=clause_id,
        company_id=company_id,
        month=month,
        lines=lines,
        actor=actor,
        now=now,
        source=source,
        publish=publish,
        replace=replace,
        zone=zone,
        from_company=from_company,
    ).declaration


def record_counting(
    session: Session,
    *,
    clause_id: int,
    company_id: int,
    month: date,
    lines: Sequence[LineInput],
    actor: str,
    now: datetime,
    source: str,
    publish: Publish,
    replace: bool = False,
    zone: ZoneInfo = DEFAULT_ZONE,
    history_counts: bool = True,
    correction_reason: str | None = None,
    from_company: bool = False,
) -> RecordedDeclaration:
    """Record (or with ``replace``, correct) one company x lot x month; no lines means zero hours.

    A month opens on its last working day (``opens_on``), in ``zone``'s calendar. An outcome
    counts while its participant has hours on the lot (``outcome_counts.counted``): a correction
    that takes someone's last hours there takes their outcome out of the figures, and hours
    declared again put one back. Which ones is said in the history row and returned, as a
    cancellation does, rather than let totals move unsaid. Without ``history_counts`` the row
    says nothing of them: the caller (an import, which says what the file did as a whole)
    completes it. ``correction_reason``: why the facilitator corrected a month recorded before,
    kept in the row (« (remplace 120 h, motif : …) »)."""
    require_aware(now)
    if month.day != 1:
        raise InputRefused(f"Mois déclaré {month:%d/%m/%Y} : indiquez le 1er du mois.")
    clause = get_clause(session, clause_id, for_update=True)
    # The instant of this recording (``history_instant``: its row, its event, its keys).
    at = history_instant(session, clause.id, now)
    company = session.get(Company, company_id)
    if company is None:
        raise NotFound(f"Aucune entreprise n° {company_id}.")
    problems = column_problems(
        session,
        clause,
        company,
        month,
        now=now,
        replace=replace,
        zone=zone,
        from_company=from_company,
    )
    if problems:
        raise refusal(problems)
    _check_lines(session, lines)
    total = sum((line.hours for line in lines), Decimal(0))
    counted_before = counted_outcomes(session, clause.id)
    declaration = find_declaration(session, clause.id, company.id, month)
    replaced = None
    unvalidated = False
    if declaration is None:
        declaration = Declaration(clause_id=clause.id, company_id=company.id, month=month)
        session.add(declaration)
    else:
        replaced = Replaced(declaration.total_hours, declaration.recorded_at)
        declaration.replaced_total_hours = replaced.total_hours
        declaration.replaced_recorded_at = replaced.recorded_at
        # What the facilitator validated is no longer what is recorded: she checks it again.
        unvalidated = declaration.validated_at is not None
        declaration.validated_at = declaration.validated_by = None
        declaration.lines.clear()
        session.flush()  # the old lines go before the new ones hit the unique constraint
    declaration.total_hours = total
    declaration.recorded_at = at
    declaration.recorded_by = actor
    declaration.source = source[:200]
    declaration.lines.extend(
        DeclarationLine(
            participant_id=line.participant_id,
            hours=line.hours,
            delivery_mode=line.delivery_mode.value,
            contract_type=line.contract_type.value,
        )
        for line in lines
    )
    try:
        session.flush()
    except IntegrityError:
        # Another transaction recorded the same month between our check and our insert.
        raise InputRefused(
            f"La déclaration {month_phrase(month)} de {company.name} pour {clause_ref(clause)} vient "
            "d'être enregistrée par ailleurs ; rien n'a été modifié."
        ) from None
    _stop_ladder(session, clause.id, company.id, month, now)
    reason = f"déclaration {month_phrase(month)} de {company.name} : {french_hours(total)}"
    if replaced is not None:
        reason += f" (remplace {french_hours(replaced.total_hours)}"
        reason += ", validation levée" if unvalidated else ""
        motif = history_motif(correction_reason)
        reason += f", motif : {motif})" if motif else ")"
    counts = count_change(session, clause.id, counted_before)
    if history_counts and (said := count_sentences(counts)):
        reason += f" – {said}"  # as a cancellation's row says it
    history = ClauseHistory(
        clause_id=clause.id,
        at=at,
        actor=actor,
        event="declaration",
        from_stage=clause.stage,
        to_stage=clause.stage,
        reason=reason,
        # Its number, not only its name of today in the text: the readers find the company's
        # recordings though it is renamed since (``history_companies``).
        company_id=company.id,
    )
    session.add(history)
    publish(
        session,
        DeclarationRecorded(
            clause_id=clause.id,
            company_id=company.id,
            month=month,
            declaration_id=declaration.id,
            at=at,
            replaces=replaced,
        ),
    )
    # Then the recording as a whole: this month alone, unless the caller merges the months it
    # records together (``grouped``).
    publish(
        session,
        DeclarationsRecorded(
            clause_id=clause.id,
            company_id=company.id,
            months=(month,),
            at=at,
            corrected=(month,) if replaced is not None else (),
        ),
    )
    return RecordedDeclaration(declaration, counts, history)


def grouped(events: Sequence[DomainEvent]) -> list[DomainEvent]:
    """The events of several months recorded together, to publish: each month's own in their
    order, then one ``DeclarationsRecorded`` per company x lot x instant for all its months (in
    the order first met), in place of one per month. A buyer alerted of three months the
    company sends in one file reads one notice (``late_declaration_notices``), written once
    every month's handlers ran."""
    batches: dict[tuple[int, int, datetime], list[DeclarationsRecorded]] = {}
    others: list[DomainEvent] = []
    for event in events:
        if isinstance(event, DeclarationsRecorded):
            batches.setdefault((event.clause_id, event.company_id, event.at), []).append(event)
        else:
            others.append(event)
    for (clause_id, company_id, at), parts in batches.items():
        others.append(
            DeclarationsRecorded(
                clause_id=clause_id,
                company_id=company_id,
                months=tuple(m for part in parts for m in part.months),
                at=at,
                corrected=tuple(m for part in parts for m in part.corrected),
            )
        )
    return others


#: The history event of a declaration validated by the facilitator.
DECLARATION_VALIDATED = "declaration_validated"


@dataclass(frozen=True)
class Validation:
    declaration_id: int
    clause_id: int
    company: str
    month: date
    total_hours: Decimal
    validated_at: datetime
    validated_by: str
    already: bool  # validated before: nothing changed


def validate_declaration(
    session: Session,
    *,
    clause_id: int,
    company_id: int,
    month: date,
    actor: str,
    now: datetime,
) -> Validation:
    """The facilitator has checked the month: the company's page shows it and no longer lets
    it be changed. Safe to run twice (the first validation stands)."""
    require_aware(now)
    clause = get_clause(session, clause_id, for_update=True)
    company = session.get(Company, company_id)
    if company is None:
        raise NotFound(f"Aucune entreprise n° {company_id}.")
    declaration = find_declaration(session, clause.id, company.id, month)
    if declaration is None:
        raise NotFound(
            f"Aucune déclaration {month_phrase(month)} de {company.name} pour "
            f"{clause_ref(clause)} : rien à valider",
            hint=Hint(
                " (« clauses declaration list --missing »).",
                " (les déclarations attendues sont sur la page de la clause).",
            ),
        )
    already = declaration.validated_at is not None
    if not already:
        declaration.validated_at = now
        declaration.validated_by = actor
        session.add(
            ClauseHistory(
                clause_id=clause.id,
                at=history_instant(session, clause.id, now),
                actor=actor,
                event=DECLARATION_VALIDATED,
                from_stage=clause.stage,
                to_stage=clause.stage,
                reason=f"déclaration {month_phrase(month)} de {company.name} validée : "
                f"{french_hours(declaration.total_hours)}",
                company_id=company.id,
            )
        )
    assert declaration.validated_at is not None and declaration.validated_by is not None
    return Validation(
        declaration_id=declaration.id,
        clause_id=clause.id,
        company=company.name,
        month=month,
        total_hours=declaration.total_hours,
        validated_at=declaration.validated_at,
        validated_by=declaration.validated_by,
        already=already,
    )


#: The history event of a declaration cancelled; its reason is ``cancellation_reason``.
DECLARATION_CANCELLED = "declaration_cancelled"


def cancellation_reason(
    declaration_id: int, month: date, company: str, total: Decimal, reason: str
) -> str:
    """``déclaration n° 12 d'octobre 2026 de X annulée (120 h retirées) : motif``: what the
    history keeps of a cancelled declaration (``services.audit`` reads it back)."""
    return (
        f"déclaration n° {declaration_id} {month_phrase(month)} de {company} annulée "
        f"({french_hours(total)} retirées) : {reason}"
    )


def _stop_ladder(
    session: Session, clause_id: int, company_id: int, month: date, now: datetime
) -> None:
    """The reminders of this month stop in the transaction that records the hours."""
    session.execute(
        update(DeclarationLadder)
        .where(
            DeclarationLadder.clause_id == clause_id,
            DeclarationLadder.company_id == company_id,
            DeclarationLadder.month == month,
        )
        .values(declared_at=now, next_step=LadderStep.DONE, next_step_at=None)
        .execution_options(synchronize_session=False)
    )


def missing_months(
    clause: Clause,
    declared: Iterable[date],
    suspended: Sequence[Interval],
    *,
    today: date,
    zone: ZoneInfo,
    joined: date | None = None,
    left: date | None = None,
) -> list[date]:
    """The months a company still owes on a lot on ``today``: from the start month (or the month
    it ``joined`` during the works, ``AwardParty.first_month``) up to the last month already
    open (and not past the end, nor past the last month of a company that ``left`` the site,
    ``AwardParty.last_month``), neither declared nor spent entirely suspended."""
    first = first_month_of(joined, month_start(clause.start_date) if clause.start_date else None)
    if first is None:
        return []
    last = last_declarable_month(today)
    end = clause.end_date or clause.planned_end_date
    if end is not None:
        last = min(last, month_start(end))
    if left is not None:
        last = min(last, left)
    done = {month_start(m) for m in declared}
    return [
        month
        for month in months_between(first, last)
        if month not in done and not month_fully_within(month, suspended, zone)
    ]


def next_month_to_open(
    clause: Clause,
    declared: Iterable[date],
    today: date,
    joined: date | None = None,
    left: date | None = None,
) -> date | None:
    """The first month after the open ones that the company will have to declare (from the
    month it ``joined`` during the works, if later), or None past the end of execution or past
    the last month of a company that ``left`` the site."""
    first = first_month_of(joined, month_start(clause.start_date) if clause.start_date else None)
    if first is None:
        return None
    month = max(add_months(last_declarable_month(today), 1), first)
    done = {month_start(m) for m in declared}
    end = clause.end_date or clause.planned_end_date
    while month in done:
        month = add_months(month, 1)
    if end is not None and month > month_start(end):
        return None
    if left is not None and month > left:
        return None
    return month


def declared_months_of(session: Session, clause_id: int, company_id: int) -> list[date]:
    return list(
        session.scalars(
            select(Declaration.month).where(
                Declaration.clause_id == clause_id, Declaration.company_id == company_id
            )
        )
    )


def company_missing_months(
    session: Session, clause: Clause, company_id: int, *, now: datetime, zone: ZoneInfo
) -> list[date]:
    """``missing_months`` read from the database: what this company owes on this lot at ``now``
    (from the month it joined, if it joined during the works; up to its last month, if it left
    them)."""
    joined, left = session.execute(
        select(AwardParty.first_month, AwardParty.last_month).where(
            AwardParty.clause_id == clause.id, AwardParty.company_id == company_id
        )
    ).one_or_none() or (None, None)
    return missing_months(
        clause,
        declared_months_of(session, clause.id, company_id),
        suspensions(session, [clause.id]).get(clause.id, []),
        today=now.astimezone(zone).date(),
        zone=zone,
        joined=joined,
        left=left,
    )


def joined_month(session: Session, clause_id: int, company_id: int) -> date | None:
    """The month a company joined the lot during the works (``AwardParty.first_month``), None
    for a company of the award before them (or one no longer in it)."""
    return session.scalar(
        select(AwardParty.first_month).where(
            AwardParty.clause_id == clause_id, AwardParty.company_id == company_id
        )
    )
