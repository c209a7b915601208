"""A monthly declaration withdrawn (``clauses declaration cancel``): its lines go with it, the
history keeps what it said, and the month's reminder ladder resumes where it stood. An outcome
of a participant left without hours on the lot stops counting (``outcomes.counted``): the
cancellation says which, and the history row too.

Apart from ``declarations``: resuming a ladder is the reminders' rule, and the reminders read
the declarations, not the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from workflow.adapters.orm import ClauseHistory, Company
from workflow.adapters.templates import french_month
from workflow.domain.events import DeclarationCancelled, require_aware
from workflow.domain.stages import LABELS, Stage
from workflow.emails.phrases import month_phrase
from workflow.errors import InputRefused, NotFound
from workflow.services.cancellation_notices import cancellation_recipients, expected_again
from workflow.services.clauses import Publish, get_clause, history_instant
from workflow.services.declarations import (
    DECLARATION_CANCELLED,
    cancellation_reason,
    clause_ref,
    declared_months_of,
    find_declaration,
)
from workflow.services.outcomes import (
    UncountedOutcome,
    counted_outcomes,
    uncounted_outcomes,
    uncounted_sentence,
)
from workflow.services.reminders import LadderResumption, resume_ladder
from workflow.settings import Settings

#: Stages whose declarations may be cancelled: those in which they are recorded. A closed lot's
#: figures went to its buyer in the final report; an abandoned one has none.
CANCELLING_STAGES = frozenset({Stage.EXECUTION, Stage.SUSPENDED, Stage.FOLLOW_UP})


@dataclass(frozen=True)
class CancelledDeclaration:
    """What a cancellation removed, and where the month's ladder stands again."""

    declaration_id: int
    clause_id: int
    clause_label: str
    company_id: int
    company: str
    month: date
    total_hours: Decimal
    lines: int
    recorded_at: datetime
    reason: str
    #: None when the month's ladder is not opened yet (its call is not due).
    ladder: LadderResumption | None
    #: The addresses the email telling the company was queued for; empty when none was
    #: (nobody at the company with an address).
    informed: tuple[str, ...] = ()
    #: Outcomes of its participants that counted until then and no longer do: they had no
    #: other hours on the lot.
    uncounted: tuple[UncountedOutcome, ...] = ()
    #: The lot is suspended: nothing leaves for the month (call, reminder, alert) before it
    #: resumes, on a day nobody knows yet; ``ladder`` says where its steps will stand then.
    suspended: bool = False
    #: The lot is suspended and the month was never called: it is asked at the resumption, with
    #: the date its call gives then (``notices.owed_due_dates`` gives it none), never at the
    #: time ``ladder`` plans its call, which the suspension holds back.
    at_resumption: bool = False


def cancel_declaration(
    session: Session,
    *,
    clause_id: int,
    company_id: int,
    month: date,
    reason: str,
    actor: str,
    now: datetime,
    settings: Settings,
    publish: Publish,
) -> CancelledDeclaration:
    """Withdraw the declaration of one company x lot x month, its lines with it.

    What it said stays in the history (« declaration_cancelled »: its number, month, company,
    total and the reason); the receipt sent for it is not sent again. The month is expected
    again: the figures drop its hours, and its ladder resumes where it stood
    (``reminders.resume_ladder``), so the company is reminded as if the declaration had never
    come, never called afresh once the month's due date has passed. The company is told, with
    the reason and its new due date (``cancellation_notices.tell_company``, on the event).
    """
    require_aware(now)
    if month.day != 1:
        raise InputRefused(f"Mois {month:%d/%m/%Y} : indiquez le 1er du mois.")
    clause = get_clause(session, clause_id, for_update=True)
    company = session.get(Company, company_id)
    if company is None:
        raise NotFound(f"Aucune entreprise n° {company_id}.")
    text = (reason or "").strip()
    declaration = find_declaration(session, clause.id, company.id, month)
    if declaration is None:
        declared = sorted(declared_months_of(session, clause.id, company.id))
        known = ", ".join(french_month(m) for m in declared) or "aucun"
        raise NotFound(
            f"Aucune déclaration {month_phrase(month)} de {company.name} pour "
            f"{clause_ref(clause)} : rien à annuler. Mois déclarés : {known}."
        )
    stage = Stage(clause.stage)
    if stage not in CANCELLING_STAGES:
        raise InputRefused(
            f"{clause.label} est à l'étape « {LABELS[stage]} » : ses déclarations ne "
            "s'annulent plus (le bilan a été transmis au donneur d'ordre)."
        )
    if not text:
        raise InputRefused(
            f"Annulation de la déclaration {month_phrase(month)} de {company.name} : indiquez "
            "le motif (--reason), il est gardé à l'historique."
        )
    declaration_id, total = declaration.id, Decimal(declaration.total_hours)
    lines, recorded_at = len(declaration.lines), declaration.recorded_at
    # An outcome counts while its participant has hours on the lot (``outcomes.counted``): say
    # which ones this leaves out, here and in the history, rather than let totals move unsaid;
    # those that counted before and no longer do, not those that had stopped already.
    counted_before = counted_outcomes(session, clause.id)
    session.delete(declaration)
    session.flush()
    uncounted = uncounted_outcomes(session, clause.id, counted_before)
    said = uncounted_sentence(uncounted)
    ladder = resume_ladder(
        session, settings, clause_id=clause.id, company_id=company.id, month=month, now=now
    )
    # The history row's instant (``history_instant``: not before the lot's latest row), which
    # the cancellation's email and its audit find the row by.
    at = history_instant(session, clause.id, now)
    session.add(
        ClauseHistory(
            clause_id=clause.id,
            at=at,
            actor=actor,
            event=DECLARATION_CANCELLED,
            from_stage=clause.stage,
            to_stage=clause.stage,
            reason=cancellation_reason(declaration_id, month, company.name, total, text)
            + ("" if said is None else f" – {said}"),
            # Its number: the readers find the company though it is renamed since.
            company_id=company.id,
        )
    )
    # What the company is told (``cancellation_notices.expected_again``), the command says too.
    expected = expected_again(session, clause, company.id, month, settings, at)
    publish(
        session,
        DeclarationCancelled(
            clause_id=clause.id,
            company_id=company.id,
            month=month,
            declaration_id=declaration_id,
            total_hours=total,
            at=at,
            actor=actor,
            reason=text,
            recorded_at=recorded_at,
            lines=lines,
        ),
    )
    return CancelledDeclaration(
        declaration_id=declaration_id,
        clause_id=clause.id,
        clause_label=clause.label,
        company_id=company.id,
        company=company.name,
        month=month,
        total_hours=total,
        lines=lines,
        recorded_at=recorded_at,
        reason=text,
        ladder=ladder,
        # The email's key holds the history's instant, not the command's clock (they differ
        # when another instance wrote a later row: ``history_instant``).
        informed=cancellation_recipients(session, clause.id, company.id, declaration_id, at),
        uncounted=uncounted,
        suspended=expected.suspended,
        at_resumption=expected.suspended and expected.due_on is None,
    )
