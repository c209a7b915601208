"""The facilitator's task digest ("récapitulatif des tâches"): what needs her today, most urgent first.

One email per working day at ``settings.digest_time`` local time, none on weekends and French public
holidays, none when there is nothing to do, no back-fill of missed days. The day is claimed in
``periodic_runs`` the first time a pass looks at it (sent or not), so later passes that day cost one
primary-key lookup and two instances never both send it.

Order: by category (undelivered emails, overdue declarations, contracts ending behind the pace,
incomplete awards, final reports, eligibility to check, clauses waiting in a stage), then by how
late within it.

Every item ends with what to do, naming a ``clauses`` command that works at the clause's stage
(``tests/integration/test_digest.py`` runs each of them).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from workflow.adapters.mail.message import parse_recipients
from workflow.adapters.orm import (
    AwardParty,
    Buyer,
    Clause,
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
from workflow.adapters.templates import french_hours, french_month, french_percent
from workflow.adapters.templates import remembered_date as french_date
from workflow.domain.calendar import (
    CalendarRules,
    LadderDays,
    at_local,
    is_working_day,
    local_date,
    month_schedule,
    pushed_due,
    suspended_days,
)
from workflow.domain.events import require_aware
from workflow.domain.stages import FINAL_STAGES, Stage
from workflow.domain.stages import LABELS as STAGE_LABELS
from workflow.domain.summary import elapsed_fraction, fraction, is_behind
from workflow.domain.vocabulary import PartyRole
from workflow.emails.digest import (
    CATEGORY_TITLES,
    KIND,
    Category,
    Digest,
    DigestItem,
    declaration_action,
    digest_context,
    email_action,
    final_report_action,
)
from workflow.emails.ladder import step_label, step_participle
from workflow.emails.phrases import month_phrase
from workflow.services.lot_calendars import lot_calendars, suspensions
from workflow.services.outage_copies import copy_folder, moment
from workflow.services.outbox import OutboxState, Recipient, outage_waiting, queue_email
from workflow.services.reminder_emails import (
    LadderHistory,
    ladder_history,
    sent_state,
)
from workflow.services.summaries import claim_period
from workflow.settings import Settings

if TYPE_CHECKING:
    from workflow.runtime import App

log = logging.getLogger(__name__)


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


# --- The six kinds of items -----------------------------------------------------------------------


STATE_LABELS: dict[str, str] = {
    OutboxState.FAILED: "refusé définitivement",
    OutboxState.DEAD: "abandonné après plusieurs tentatives",
    OutboxState.UNCERTAIN: "incertain (peut-être déjà arrivé)",
}


#: From this many failures with the same answer, the cause is the server or the settings, not
#: each address: they are one line of the digest, not one « corriger l'adresse » each.
SAME_CAUSE_FROM = 3


def _emails(session: Session, settings: Settings, now: datetime) -> list[DigestItem]:
    return [*_outage(session, settings, now), *_failures(session)]


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
        )
    ]


def _failures(session: Session) -> list[DigestItem]:
    statement = (
        select(OutboxMessage)
        .where(OutboxMessage.state.in_(tuple(STATE_LABELS)))
        .order_by(OutboxMessage.id)
    )
    by_cause: dict[tuple[str, str], list[OutboxMessage]] = {}
    for message in session.scalars(statement):
        cause = "" if message.state == OutboxState.UNCERTAIN else (message.last_error or "inconnue")
        by_cause.setdefault((message.state, cause), []).append(message)
    items = []
    for (state, cause), messages in by_cause.items():
        if state != OutboxState.UNCERTAIN and len(messages) >= SAME_CAUSE_FROM:
            items.append(_same_cause(state, cause, messages))
        else:
            items.extend(_failed_one(message) for message in messages)
    return items


def _same_cause(state: str, cause: str, messages: list[OutboxMessage]) -> DigestItem:
    count = len(messages)
    numbers = [message.id for message in messages]
    shown = ", ".join(str(n) for n in numbers[:10]) + (" …" if count > 10 else "")
    label = STATE_LABELS[state].replace("refusé", "refusés").replace("abandonné", "abandonnés")
    return DigestItem(
        Category.EMAIL,
        weight=(2 if state == OutboxState.DEAD else 1) * 1000 + count,
        title=f"{count} courriels {label}, tous pour la même raison",
        detail=f"Erreur : {cause} (N° {shown}).",
        action=(
            "La même réponse pour tous : la cause est le serveur d'envoi ou ses réglages, pas les "
            "adresses. Une fois la cause réglée, les remettre tous en file "
            "(clauses mail retry --all-failed)."
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
    )


def ladder_state(
    ladder: DeclarationLadder,
    history: LadderHistory,
    rules: CalendarRules,
    settings: Settings,
) -> str:
    """Where a month's reminder ladder stands, in French, told from the outbox.

    Each step before the next one is said « envoyé » with its date only when an email covering
    that month exists (« en cours d'envoi », « non distribué » when it did not leave); a step
    passed without any email is said « sauté, non envoyé ». Then the next step and its date."""
    zone = settings.zone
    schedule = month_schedule(ladder.month, rules, zone)
    emails = history.get((ladder.clause_id, ladder.company_id, ladder.month), [])
    parts: list[str] = []
    for scheduled in schedule.steps:
        name = scheduled.name
        label = step_label(name)
        if name == ladder.next_step:
            when = (
                f" le {french_date(local_date(ladder.next_step_at, zone))}"
                if ladder.next_step_at
                else ""
            )
            parts.append(f"{label} {step_participle(name, 'prévu')}{when}")
            break
        sent = [e for e in emails if e.step == name]
        if sent and sent[0].state == OutboxState.CANCELLED.value:
            # Taken back by the facilitator (``cancel_email``): it never left.
            parts.append(
                f"{label} {step_participle(name, 'annulé')}, {step_participle(name, 'non envoyé')}"
            )
        elif sent:
            parts.append(f"{label} {sent_state(sent[0], zone)}")
        else:
            parts.append(
                f"{label} {step_participle(name, 'sauté')}, {step_participle(name, 'non envoyé')}"
            )
    return " ; ".join(parts)


@dataclass(frozen=True)
class _Overdue:
    ladder: DeclarationLadder
    due: date  # the due date the company is held to (the call's, pushed by suspended days)


def _declarations(session: Session, today: date, settings: Settings) -> list[DigestItem]:
    """One item per company x lot with months overdue, told from its oldest month's ladder and
    from the emails really sent for it."""
    zone = settings.zone
    candidates = list(
        session.scalars(
            select(DeclarationLadder)
            .where(DeclarationLadder.declared_at.is_(None), DeclarationLadder.due_on < today)
            .order_by(
                DeclarationLadder.clause_id, DeclarationLadder.company_id, DeclarationLadder.month
            )
        )
    )
    if not candidates:
        return []
    ids = {lad.clause_id for lad in candidates}
    calendars = lot_calendars(session, ids, settings)
    suspended = suspensions(session, ids)
    history = ladder_history(session, ids)
    overdue: dict[tuple[int, int], list[_Overdue]] = {}
    # Lateness is told in the days the ladder counts (working days, suspension excluded), as
    # the alert to the buyer tells it: « 15 jours ouvrés de retard » in both.
    days_of = {cid: LadderDays(suspended_days(suspended.get(cid, []), zone, today)) for cid in ids}
    for ladder in candidates:
        due = ladder.due_on
        if ladder.called_at is not None:
            due = pushed_due(
                ladder.due_on, local_date(ladder.called_at, zone), days_of[ladder.clause_id]
            )
        if due < today:
            overdue.setdefault((ladder.clause_id, ladder.company_id), []).append(
                _Overdue(ladder, due)
            )
    if not overdue:
        return []
    labels = {
        row[0]: row
        for row in session.execute(
            _with_buyer(select(*_clause_columns()).where(Clause.id.in_(sorted(ids))))
        )
    }
    contacts = {
        (cid, company_id): (name, who, email, phone)
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
            .where(AwardParty.clause_id.in_(sorted(ids)))
        )
    }
    names = dict(
        session.execute(
            select(Company.id, Company.name).where(
                Company.id.in_(sorted({company for _, company in overdue}))
            )
        ).all()
    )
    items = []
    for (cid, company_id), months in overdue.items():
        oldest = months[0]
        _, ref, lot, title, buyer = labels[cid]
        company, who, email, phone = contacts.get(
            (cid, company_id), (names.get(company_id, ""), None, None, None)
        )
        late = days_of[cid].between(oldest.due, today)
        first, last = months[0].ladder.month, months[-1].ladder.month
        count = len(months)
        phrase = (
            month_phrase(first) if count == 1 else f"{month_phrase(first)} à {french_month(last)}"
        )
        contact = ", ".join(x for x in (who, email, phone) if x) or "correspondant à désigner"
        state = ladder_state(oldest.ladder, history, calendars[cid].rules, settings)
        items.append(
            DigestItem(
                Category.DECLARATION,
                weight=late,
                title=(
                    f"{company} : heures {phrase} non déclarées – "
                    f"{_clause_label(cid, ref, lot, title, buyer)}"
                ),
                detail=(
                    f"{count} mois en retard, le plus ancien dû le {french_date(oldest.due)} "
                    f"({_working_days(late)} de retard) ; {state}."
                ),
                action=declaration_action(cid, company_id, first, contact),
                clause_id=cid,
                days=late,
            )
        )
    return items


def _hours_done() -> Any:
    return (
        select(
            Declaration.clause_id.label("clause_id"),
            func.sum(Declaration.total_hours).label("done"),
        )
        .group_by(Declaration.clause_id)
        .subquery()
    )


def _pace(session: Session, today: date) -> list[DigestItem]:
    done = _hours_done()
    target = func.coalesce(Clause.hours_override, Clause.hours_computed)
    statement = _with_buyer(
        select(*_clause_columns(), target, Clause.start_date, Clause.planned_end_date, done.c.done)
        .select_from(Clause)
        .outerjoin(done, done.c.clause_id == Clause.id)
        .where(
            Clause.stage == Stage.EXECUTION.value,
            target.is_not(None),
            Clause.planned_end_date >= today,
            Clause.planned_end_date <= today + timedelta(days=ENDING_WITHIN_DAYS),
        )
    )
    items = []
    for row in session.execute(statement):
        cid, ref, lot, title, buyer, hours_target, start, end, hours_done = row
        hours = Decimal(0) if hours_done is None else Decimal(hours_done)
        elapsed = elapsed_fraction(start, end, today)
        if not is_behind(hours, hours_target, elapsed):
            continue
        share = fraction(hours, hours_target) or Decimal(0)
        left = (end - today).days
        when = "aujourd'hui" if left == 0 else f"dans {_days(left)}"
        assert elapsed is not None
        items.append(
            DigestItem(
                Category.PACE,
                weight=ENDING_WITHIN_DAYS - left,
                title=(
                    f"{_capital(_clause_label(cid, ref, lot, title, buyer))} se termine le "
                    f"{french_date(end)}, {when}, avec des heures en retard"
                ),
                detail=(
                    f"{french_hours(hours)} réalisées sur {french_hours(hours_target)} prévues "
                    f"({french_percent(share)} de l'objectif pour {french_percent(elapsed)} "
                    f"du temps écoulé) ; reste {french_hours(max(Decimal(0), hours_target - hours))}."
                ),
                action=(
                    "Voir avec l'entreprise titulaire comment réaliser les heures restantes "
                    "avant la fin, ou enregistrer un avenant qui change les heures "
                    f'(clauses clause hours {cid} HEURES --reason "avenant …").'
                ),
                clause_id=cid,
                days=left,
            )
        )
    return items


def _awards(session: Session, now: datetime) -> list[DigestItem]:
    holder_ready = (
        select(AwardParty.id)
        .join(Correspondent, Correspondent.id == AwardParty.correspondent_id)
        .where(
            AwardParty.clause_id == Clause.id,
            AwardParty.role == PartyRole.HOLDER.value,
            Correspondent.email != "",
        )
        .exists()
    )
    statement = _with_buyer(
        select(*_clause_columns(), Clause.start_date, holder_ready, Clause.stage_changed_at)
        .select_from(Clause)
        .where(
            Clause.stage == Stage.AWARD.value,
            or_(Clause.start_date.is_(None), ~holder_ready),
        )
    )
    items = []
    for row in session.execute(statement):
        cid, ref, lot, title, buyer, start, holder_ok, since = row
        missing = []
        if not holder_ok:
            missing.append("l'entreprise titulaire avec l'adresse e-mail de son correspondant")
        if start is None:
            missing.append("la date de démarrage")
        days = (now - since).days
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
            )
        )
    return items


def _award_action(clause_id: int, holder_ok: bool) -> str:
    command = (
        f"clauses clause award {clause_id} --company ENTREPRISE"
        + ("" if holder_ok else " --correspondent CORRESPONDANT")
        + " --start jj/mm/aaaa --end jj/mm/aaaa"
    )
    if not holder_ok:
        command += (
            " ; un correspondant s'ajoute par clauses company correspondent-add ENTREPRISE "
            "--name … --email …"
        )
    return (
        f"Compléter l'attribution pour que l'entreprise soit accueillie et appelée à déclarer "
        f"({command}), puis démarrer (clauses clause advance {clause_id} demarrer)."
    )


def _final_reports(session: Session, now: datetime) -> list[DigestItem]:
    statement = _with_buyer(
        select(*_clause_columns(), Clause.stage_changed_at, Clause.end_date)
        .select_from(Clause)
        .where(Clause.stage == Stage.FOLLOW_UP.value, Clause.final_report_at.is_(None))
    )
    items = []
    for row in session.execute(statement):
        cid, ref, lot, title, buyer, since, end = row
        # A stage changed later than now (a moment given by hand, a clock put back) is today.
        days = max((now - since).days, 0)
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
            )
        )
    return items


#: References named in one eligibility line; the rest are counted.
ELIGIBILITY_NAMED = 8


def _eligibility(session: Session) -> list[DigestItem]:
    """Participants with hours declared on a clause and no eligibility validated yet.

    The facilitator checks eligibility (DOMAIN.md): until she records the proof, those hours rest
    on the company's word. Only she reads the digest, so the pseudonymous references are named.
    """
    statement = _with_buyer(
        select(*_clause_columns(), Participant.reference)
        .select_from(DeclarationLine)
        .join(Declaration, Declaration.id == DeclarationLine.declaration_id)
        .join(Participant, Participant.id == DeclarationLine.participant_id)
        .join(Clause, Clause.id == Declaration.clause_id)
        .where(
            DeclarationLine.hours > 0,
            Participant.validated_on.is_(None),
            # A closed or abandoned clause's figures are final: nothing left to check there.
            Clause.stage.not_in([stage.value for stage in FINAL_STAGES]),
        )
        .group_by(*_clause_columns(), Participant.reference)
        .order_by(Clause.id, Participant.reference)
    )
    by_clause: dict[tuple[Any, ...], list[str]] = {}
    for *clause, reference in session.execute(statement):
        by_clause.setdefault(tuple(clause), []).append(reference)
    items = []
    for (cid, ref, lot, title, buyer), references in by_clause.items():
        count = len(references)
        named = ", ".join(references[:ELIGIBILITY_NAMED])
        more = f" et {count - ELIGIBILITY_NAMED} autre(s)" if count > ELIGIBILITY_NAMED else ""
        people = "1 participant" if count == 1 else f"{count} participants"
        items.append(
            DigestItem(
                Category.ELIGIBILITY,
                weight=count,
                title=f"Éligibilité à vérifier : {people}, {_clause_label(cid, ref, lot, title, buyer)}",
                detail=f"Heures déclarées sans justificatif validé : {named}{more}.",
                action=(
                    "Vérifier le justificatif de chacun puis l'enregistrer "
                    f'(clauses participant validate {references[0]} --proof "…").'
                ),
                clause_id=cid,
            )
        )
    return items


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


def _waiting(
    session: Session, now: datetime, settings: Settings, award_incomplete: set[int]
) -> list[DigestItem]:
    thresholds = {stage: days for stage, days in settings.stage_wait_days.items() if days > 0}
    if not thresholds:
        return []
    conditions = [
        and_(Clause.stage == stage, Clause.stage_changed_at < now - timedelta(days=days))
        for stage, days in thresholds.items()
    ]
    target = func.coalesce(Clause.hours_override, Clause.hours_computed)
    statement = _with_buyer(
        select(
            *_clause_columns(),
            Clause.stage,
            Clause.stage_changed_at,
            target,
            Clause.final_report_at,
        )
        .select_from(Clause)
        .where(or_(*conditions))
    )
    items = []
    for row in session.execute(statement):
        cid, ref, lot, title, buyer, stage, since, hours_target, report_at = row
        days = (now - since).days
        limit = thresholds[stage]
        stage_label = STAGE_LABELS[Stage(stage)] if stage in set(Stage) else stage
        action = _waiting_action(
            _Waiting(cid, stage, hours_target, report_at is not None, cid in award_incomplete)
        )
        items.append(
            DigestItem(
                Category.WAITING,
                weight=days - limit,
                title=(
                    f"{_capital(_clause_label(cid, ref, lot, title, buyer))} attend à "
                    f"l'étape « {stage_label} »"
                ),
                detail=f"Depuis {_days(days)} (seuil : {_days(limit)}).",
                action=action,
                clause_id=cid,
                days=days,
            )
        )
    return items


def compile_digest(session: Session, now: datetime, settings: Settings) -> Digest:
    """Everything that needs the facilitator at ``now``, most urgent first (nothing is sent)."""
    require_aware(now)
    today = local_date(now, settings.zone)
    awards = _awards(session, now)
    incomplete = {item.clause_id for item in awards if item.clause_id is not None}
    items = [
        *_emails(session, settings, now),
        *_declarations(session, today, settings),
        *_pace(session, today),
        *awards,
        *_final_reports(session, now),
        *_eligibility(session),
        *_waiting(session, now, settings, incomplete),
    ]
    items.sort(key=lambda item: item.sort_key)
    return Digest(day=today, working_day=is_working_day(today), items=tuple(items))


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
            context=digest_context(digest),
            now=now,
        )
    log.info(
        "digest queued",
        extra={"action": "digest_queued", "period": period, "items": len(digest.items)},
    )
    return int(queued)
