"""A company that left the site during the works: its last month on the lot.

A subcontractor finishes its part (the plastering done in March) and leaves; the lot goes on.
It stays in the award (the months it declared count, ``clauses._check_works_correction`` refuses
to take it out), but it owes no declaration of the months after it left: without a last month,
the service kept calling it, reminding it, and told the buyer a formal notice could follow for a
month it never worked (user trial: « Alerte avant mise en demeure : déclaration d'avril 2027 de
Gimone Second Œuvre SAS non reçue » about a company gone on 15 April).

``AwardParty.last_month`` is the mirror of ``first_month`` (a company joining during the works).
``record_departure`` sets it, in one transaction with its history row:

- the months up to the last one stay owed as before (March's reminders, and its alert to the
  buyer, still go if March is not declared: that is true);
- a month after it declared refuses the departure (its hours would count past it): the
  facilitator checks the month or cancels that declaration first;
- a month after it called (or opened, its call waiting) is released: its ladder stops
  (``next_step`` done, the climb never escalates it), its call, reminder or alert still waiting
  in the outbox is withdrawn with its reason, or written again for the months still owed when it
  also names one (``ladder_rewrites.write_again``), and the company's next call is parked on the
  month after its last (``reminders._due_months`` never opens a month after it);
- what reads the months owed stops the company there: ``declaration list``
  (``declaration_views``), the summaries and the day's tasks (``departed_months``).

The ladder rows stay: the emails already sent name them (the audit reads them).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.orm import (
    AwardParty,
    Clause,
    ClauseHistory,
    Company,
    Declaration,
    DeclarationLadder,
    OutboxMessage,
)
from workflow.adapters.templates import french_month
from workflow.domain.calendar import LadderStep, add_months, month_start
from workflow.domain.stages import LABELS, Stage
from workflow.domain.vocabulary import PARTY_ROLE_LABELS, PartyRole
from workflow.emails.ladder import step_label
from workflow.emails.phrases import joined, months_said
from workflow.errors import Hint, InputRefused
from workflow.services.clauses import add_history, get_clause
from workflow.services.ladder_keys import KEY_PREFIX, key_months
from workflow.services.ladder_rewrites import REWRITTEN_STATES, LadderRewriter, write_again
from workflow.services.lot_calendars import first_month_of
from workflow.services.outbox import NOT_LEFT, OutboxState

log = logging.getLogger(__name__)

NBSP = "\u00a0"

#: The history event of a departure recorded (``domain.stages.HISTORY_LABELS``).
COMPANY_LEFT = "company_left"

#: The stages where a company may leave a lot whose works go on.
DEPARTURE_STAGES = (Stage.EXECUTION, Stage.SUSPENDED)


@dataclass(frozen=True)
class Departure:
    """What ``record_departure`` did: the company's last month before and after (equal: nothing
    written), the months no longer asked of it, and the emails withdrawn or written again."""

    clause_id: int
    company_id: int
    company: str
    before: date | None
    last_month: date
    released: tuple[date, ...] = ()
    #: The steps of the emails withdrawn before they left (« rappel n° 1 »…).
    withdrawn: tuple[str, ...] = ()
    #: The steps of the emails written again for the months still owed only.
    rewritten: tuple[str, ...] = ()
    #: (step, N° of the email) of those still waiting that name a released month and could not
    #: be written again: for the facilitator to cancel.
    still_asking: tuple[tuple[str, int], ...] = ()
    #: The addresses the company is told at (``departure_notices``); empty: nobody there has
    #: one, or nothing changed.
    informed: tuple[str, ...] = ()
    #: The released months an alert to the buyer had named: the buyer is told they are not
    #: expected any more.
    buyer_told: tuple[date, ...] = ()
    #: The same last month again with a reason: nothing written, that reason not recorded.
    unrecorded_reason: str = ""

    @property
    def changed(self) -> bool:
        return self.before != self.last_month

    @property
    def newly_released(self) -> tuple[date, ...]:
        """The months this call released: a last month moved earlier stops again the ladders
        of the months the first departure released (told then), which are not news."""
        return tuple(m for m in self.released if self.before is None or m <= self.before)


def record_departure(
    session: Session,
    clause_id: int,
    company_id: int,
    last_month: date,
    *,
    reason: str,
    actor: str,
    now: datetime,
    rewriter: LadderRewriter | None = None,
    field: str = "Dernier mois",
    reason_field: str = "Motif",
) -> Departure:
    """Record that ``company_id`` left the works of ``clause_id`` after ``last_month`` (any day
    of it: its first is kept), with its history row; stop asking it the months after (module
    docstring). ``field`` and ``reason_field`` name the month and the reason as the interface
    calls them. The same month again changes nothing.

    Refused: a lot whose works are not under way (execution or suspension), a company not in the
    award, a month before its first month on the lot or after the lot's planned end, a month
    after it already declared, an earlier departure moved later (not supported: the months it
    released would have to be asked again), and the last company leaving (the lot is then
    finished, « achever », which releases every month after the end)."""
    last = month_start(last_month)
    clause = get_clause(session, clause_id, for_update=True)
    stage = Stage(clause.stage)
    if stage not in DEPARTURE_STAGES or clause.start_date is None:
        raise InputRefused(
            f"{clause.label} est à l'étape «{NBSP}{LABELS[stage]}{NBSP}»{NBSP}: le départ d'une "
            "entreprise du chantier s'enregistre pendant la mise en œuvre (ou la suspension)."
        )
    # Locked: a pass opening this company's months holds the party until it has written its
    # ladders, which the reads below then see; read again as locked.
    parties = session.scalars(
        select(AwardParty)
        .where(AwardParty.clause_id == clause.id)
        .order_by(AwardParty.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    names = dict(
        session.execute(
            select(Company.id, Company.name).where(
                Company.id.in_(sorted({p.company_id for p in parties} | {company_id}))
            )
        ).all()
    )
    party = next((p for p in parties if p.company_id == company_id), None)
    company = names.get(company_id, f"l'entreprise n°{NBSP}{company_id}")
    if party is None:
        listed = ", ".join(
            f"{names[p.company_id]} ({PARTY_ROLE_LABELS[PartyRole(p.role)]})" for p in parties
        )
        raise InputRefused(
            f"Entreprise{NBSP}: {company} n'est pas attributaire de {clause.label}{NBSP}; "
            f"entreprises attributaires{NBSP}: {listed or 'aucune enregistrée'}."
        )
    before = party.last_month
    if before == last:
        text = (reason or "").strip()
        given = "" if _as_recorded(text) == _recorded_reason(session, clause.id, company) else text
        return Departure(clause.id, company_id, company, before, last, unrecorded_reason=given)
    first = first_month_of(party.first_month, month_start(clause.start_date))
    assert first is not None
    if last < first:
        raise InputRefused(
            f"{field}{NBSP}: {french_month(last)} précède le premier mois de {company} sur le "
            f"{_lot_named(clause)}, {french_month(first)}."
        )
    if clause.planned_end_date is not None and last > month_start(clause.planned_end_date):
        raise InputRefused(
            f"{field}{NBSP}: {french_month(last)} suit la fin prévue du {_lot_named(clause)} "
            f"({clause.planned_end_date:%d/%m/%Y}){NBSP}; une entreprise qui reste jusqu'à la "
            "fin n'a pas de départ à enregistrer."
        )
    if before is not None and last > before:
        raise InputRefused(
            f"{field}{NBSP}: {company} a déjà quitté le chantier, son dernier mois enregistré "
            f"est {french_month(before)}{NBSP}: il peut être avancé, pas reculé à "
            f"{french_month(last)} (les mois qui ne lui sont plus demandés ne le seraient pas "
            "de nouveau)."
        )
    staying = [
        p
        for p in parties
        if p.company_id != company_id and (p.last_month is None or p.last_month > last)
    ]
    if not staying:
        raise InputRefused(
            f"{field}{NBSP}: après {french_month(last)}, plus aucune entreprise du "
            f"{_lot_named(clause)} ne resterait sur le chantier{NBSP}; si les travaux sont "
            "finis, enregistrez plutôt la fin d'exécution, qui libère les mois qui la suivent",
            hint=Hint(
                f" (clauses clause advance {clause.id} achever --end-date JJ/MM/AAAA).",
                f" (bouton «{NBSP}Achever{NBSP}» de la page de la clause).",
            ),
        )
    text = (reason or "").strip()
    if not text:
        raise InputRefused(
            f"{reason_field}{NBSP}: indiquez pourquoi {company} quitte le chantier (fin de sa "
            "part des travaux, sous-traité achevé…), il est gardé à l'historique."
        )
    _refuse_declared_after(session, clause, company_id, company, last, field)
    ladders = session.scalars(
        select(DeclarationLadder)
        .where(
            DeclarationLadder.clause_id == clause.id,
            DeclarationLadder.company_id == company_id,
            DeclarationLadder.month > last,
        )
        .order_by(DeclarationLadder.month)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    party.last_month = last
    first_not_owed = add_months(last, 1)
    if party.next_call_month is not None and party.next_call_month >= first_not_owed:
        # Parked on the first month no longer owed (as the lot's end parks it).
        party.next_call_month, party.next_call_at = first_not_owed, None
    released: list[date] = []
    for ladder in ladders:
        if ladder.declared_at is not None:
            continue  # not reached: refused above
        ladder.next_step, ladder.next_step_at = LadderStep.DONE, None
        released.append(ladder.month)
    why = f"{company} a quitté le chantier, son dernier mois est {french_month(last)}"
    withdrawn, rewritten, kept = (
        _withdraw_waiting(session, rewriter, clause, company_id, last, released, why)
        if released
        else ([], [], [])
    )
    done = Departure(
        clause.id,
        company_id,
        company,
        before,
        last,
        tuple(released),
        tuple(withdrawn),
        tuple(rewritten),
        tuple(kept),
    )
    row = add_history(
        session, clause, event=COMPANY_LEFT, actor=actor, reason=history_reason(done, text), now=now
    )
    # Its number, not only its name of today in the text: a replay finds the company that left
    # though its name was given to another since (``summary_replays.companies_left``; 0029).
    row.company_id = company_id
    log.info(
        "company left the works",
        extra={
            "action": "party.left",
            "clause_id": clause.id,
            "company_id": company_id,
            "last_month": f"{last:%Y-%m}",
            "released": [f"{m:%Y-%m}" for m in released],
        },
    )
    return done


def _recorded_reason(session: Session, clause_id: int, company: str) -> str:
    """The reason of the company's latest departure recorded on the lot, as its history row
    starts (``history_reason``: the reason, then ``departure_sentence``, which starts with the
    company): the same reason given again is not news."""
    rows = session.scalars(
        select(ClauseHistory.reason)
        .where(ClauseHistory.clause_id == clause_id, ClauseHistory.event == COMPANY_LEFT)
        .order_by(ClauseHistory.id.desc())
    )
    said = f" {company} a quitté le chantier{NBSP}:"
    for row in rows:
        if row and said in row:
            return row.split(said, 1)[0]
    return ""


def _as_recorded(reason: str) -> str:
    """The reason as its history row starts (``history_reason``)."""
    given = reason.strip()
    return given if given.endswith((".", "!", "?")) else given + "."


def _refuse_declared_after(
    session: Session, clause: Clause, company_id: int, company: str, last: date, field: str
) -> None:
    """A month after ``last`` already declared by the company refuses it: its hours would count
    after it left. The facilitator checks the month, or cancels that declaration first."""
    months = list(
        session.scalars(
            select(Declaration.month)
            .where(
                Declaration.clause_id == clause.id,
                Declaration.company_id == company_id,
                Declaration.month > last,
            )
            .order_by(Declaration.month)
        )
    )
    if not months:
        return
    which = joined([french_month(m) for m in months])
    what = "cette déclaration" if len(months) == 1 else "ces déclarations, une à une"
    raise InputRefused(
        f"{field}{NBSP}: {company} ne peut pas avoir {french_month(last)} pour dernier mois "
        f"sur le chantier{NBSP}: elle a déjà déclaré {which} (dernier mois possible{NBSP}: "
        f"{french_month(months[-1])} ou après). Vérifiez le dernier mois, ou annulez d'abord "
        f"{what}",
        hint=Hint(
            f"{NBSP}: clauses declaration cancel --clause {clause.id} --company {company_id} "
            f"--month {months[0]:%m/%Y} --reason «{NBSP}…{NBSP}».",
            f"{NBSP}: page «{NBSP}Corrections{NBSP}» du lot, «{NBSP}Annuler…{NBSP}» sur la ligne "
            "du mois.",
        ),
    )


def _withdraw_waiting(
    session: Session,
    rewriter: LadderRewriter | None,
    clause: Clause,
    company_id: int,
    last: date,
    released: Sequence[date],
    why: str,
) -> tuple[list[str], list[str], list[tuple[str, int]]]:
    """The company's ladder emails of this lot that have not left (waiting, refused, given up)
    and name a released month: withdrawn when they name no month still owed, their reason kept
    in the email log (« Retiré : … », which lets the step be sent again, as the lot's end does);
    written again for the months still owed otherwise. One that may have left (sending,
    uncertain) stays as it is. Returns the steps withdrawn, the steps written again, and those
    that could not be (step, N°)."""
    rows = session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.clause_id == clause.id,
            OutboxMessage.key.like(f"{KEY_PREFIX}:{clause.id}:{company_id}:%"),
            OutboxMessage.state.in_(NOT_LEFT),
        )
        .order_by(OutboxMessage.id)
        .with_for_update()
    ).all()
    if not rows:
        return [], [], []
    declared = set(
        session.scalars(
            select(Declaration.month).where(
                Declaration.clause_id == clause.id, Declaration.company_id == company_id
            )
        )
    )
    gone = set(released)
    withdrawn: list[str] = []
    rewritten: list[str] = []
    kept: list[tuple[str, int]] = []
    for row in rows:
        covered = key_months(row.key)
        if covered is None or covered.company_id != company_id:
            continue
        months = set(covered.months)
        dropped = sorted(months & gone)
        if not dropped:
            continue
        owed = tuple(m for m in sorted(months) if m <= last and m not in declared)
        label = step_label(covered.step)
        if not owed:
            row.state = OutboxState.CANCELLED
            row.next_attempt_at = None
            row.last_error = (
                f"Retiré{NBSP}: {why}{NBSP}; {_no_longer_asked(sorted(months))}{NBSP}; ce "
                "courriel n'avait plus lieu d'être."
            )
            withdrawn.append(label)
            continue
        failure = (
            "not in a state to write again"
            if row.state not in REWRITTEN_STATES
            else "no interface to write emails with"
            if rewriter is None
            else write_again(
                rewriter, session, clause, row, covered, owed, f"{why}, {_no_longer_asked(dropped)}"
            )
        )
        if failure is None:
            rewritten.append(label)
        else:
            log.error(
                "ladder email not written again",
                extra={
                    "action": "ladder.rewrite_failed",
                    "outbox_id": row.id,
                    "clause_id": clause.id,
                    "company_id": company_id,
                    "key": row.key,
                    "error": failure,
                },
            )
            kept.append((label, row.id))
    return withdrawn, rewritten, kept


def _lot_named(clause: Clause) -> str:
    """« lot 1 « Gros œuvre » (marché M-1) », as the company's refusals name a lot."""
    title = f"«{NBSP}{clause.lot_title}{NBSP}»"
    lot = f"lot {clause.lot_number} {title}" if clause.lot_number else f"lot {title}"
    return f"{lot} (marché {clause.market.reference})"


def _no_longer_asked(months: Sequence[date]) -> str:
    if len(months) == 1:
        return f"{french_month(months[0])} ne lui est plus demandé"
    return f"{joined([french_month(m) for m in months])} ne lui sont plus demandés"


def departure_sentence(done: Departure) -> str:
    """« Gimone Second Œuvre SAS a quitté le chantier : son dernier mois à déclarer est mars
    2027, aucun mois suivant ne lui est demandé ; avril 2027, déjà demandé, ne l'est plus : ses
    relances s'arrêtent ; 1 courriel en attente retiré (appel à déclaration). »"""
    said = (
        f"{done.company} a quitté le chantier{NBSP}: son dernier mois à déclarer est "
        f"{french_month(done.last_month)}, aucun mois suivant ne lui est demandé"
    )
    # The months this call released: those a first departure released were told then.
    released = done.newly_released
    if released:
        months = months_said(released)
        said += (
            f"{NBSP}; {months}, déjà demandé, ne l'est plus{NBSP}: ses relances s'arrêtent"
            if len(released) == 1
            else f"{NBSP}; {months}, déjà demandés, ne le sont plus{NBSP}: leurs relances "
            "s'arrêtent"
        )
    if done.withdrawn:
        count = len(done.withdrawn)
        emails = (
            "1 courriel en attente retiré"
            if count == 1
            else f"{count} courriels en attente retirés"
        )
        said += f"{NBSP}; {emails} ({', '.join(done.withdrawn)})"
    if done.rewritten:
        count = len(done.rewritten)
        emails = (
            "1 courriel en attente écrit à nouveau"
            if count == 1
            else f"{count} courriels en attente écrits à nouveau"
        )
        said += f"{NBSP}; {emails} pour les mois qu'elle doit encore ({', '.join(done.rewritten)})"
    if done.still_asking:
        listed = ", ".join(f"{step}, courriel n°{NBSP}{n}" for step, n in done.still_asking)
        said += (
            f"{NBSP}; courriels en attente qui demandent encore un mois suivant et n'ont pas pu "
            f"être écrits à nouveau ({listed}){NBSP}: annulez-les depuis le journal des courriels"
        )
    return said + "."


def unchanged_sentence(done: Departure) -> str:
    """The same last month recorded again: nothing done, nobody told again, the reason given
    (another one, perhaps) not recorded: said, not dropped silently."""
    said = (
        f"Rien à changer : le départ de {done.company} du chantier (clause n° "
        f"{done.clause_id}) est déjà enregistré, dernier mois {done.last_month:%m/%Y}"
    )
    if done.unrecorded_reason:
        said += f" (motif « {done.unrecorded_reason} » non enregistré : le départ l'était déjà)"
    return said + "."


def told_sentence(done: Departure) -> str:
    """Who hears of the departure (the command's output, the site's and the API's): the
    company by email, and the buyer when an alert had named a month it releases."""
    if not done.changed:
        return ""
    if done.informed:
        said = (
            f"{done.company} en est informée par courriel ({', '.join(done.informed)}){NBSP}: "
            "son dernier mois et les mois qu'elle doit encore jusqu'à lui."
        )
    else:
        said = (
            f"{done.company} n'a pas de correspondant avec une adresse e-mail{NBSP}: elle n'est "
            "pas informée de son départ par courriel, prévenez-la vous-même."
        )
    if done.buyer_told:
        months = months_said(done.buyer_told)
        said += f" Le donneur d'ordre, alerté pour {months}, est informé que " + (
            "cette déclaration n'est plus attendue."
            if len(done.buyer_told) == 1
            else "ces déclarations ne sont plus attendues."
        )
    return said


def history_reason(done: Departure, reason: str) -> str:
    """The departure's history row: the reason given, then what it did."""
    return f"{_as_recorded(reason)} {departure_sentence(done)}"
