"""The companies already in an award, told when a correction changes what their welcome said.

A welcome (``company_welcome``) gives the company its role, the hours entrusted to it and the
execution's dates, with the months it will declare and their due dates. When the award is
corrected (``AwardCorrected``) in one of those (the start, the planned end, the company's role
or its hours), each company that stays in the award and was already welcomed is told, in the
transaction of the correction:

- its welcome still waiting in the outbox is withdrawn (« Remplacé : … », the reason kept in the
  email log, as ``receipt_withdrawals`` does for receipts) and written again as of the
  correction, under the key ``welcome:<clause>:<company>:<instant of the correction>``;
- its welcome already left (or that may have: sending, uncertain), a short email
  ``company_award_corrected`` goes to its correspondent: what changed for it, before → after,
  and its first month to declare with its due date, under the key
  ``award_corrected:<clause>:<company>:<instant of the correction>``. During the works it lists
  only the months called and still awaited (``awaited_only``), never those already declared.

Corrections that follow one another before the short email left are told once: the one still
waiting (or refused) is withdrawn (« Remplacé : … », or « Retiré : … » when the award is back to
what the company was told) and a single ``company_award_corrected`` compares what the company's
last email that left told it (its welcome, or an earlier correction's email) with the award as it
now stands, each change once (``net_changes``, from the corrections' history rows): the company
never reads the intermediate dates, nor a « before » its welcome never said.

A welcome refused for good or given up is written again too (the new one waits to be sent, the
old one withdrawn): sent again from the undelivered emails once the address is corrected, it
states the corrected dates. A company newly bound gets its welcome from
``notices.correct_award``; one never welcomed (no correspondent then) is not written to here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from workflow.adapters.orm import Clause, ClauseHistory, Company, OutboxMessage
from workflow.adapters.templates import remembered_date
from workflow.domain.events import AwardChange, AwardCorrected
from workflow.emails.welcome import CORRECTED_KIND, award_corrected_context
from workflow.emails.welcome import KIND as WELCOME_KIND
from workflow.services.clauses import AWARD_CORRECTED, award_changes_of
from workflow.services.declarations import declared_months_of
from workflow.services.email_facts import party_correspondent
from workflow.services.mailing import Mailing
from workflow.services.notices import welcome_message
from workflow.services.outbox import (
    NOT_LEFT,
    OutboxState,
    Recipient,
    key_exists,
    queue_email,
    withdraw,
)

#: The changes of the whole lot every welcome states.
LOT_CHANGES = ("Démarrage", "Fin prévue")
#: The key prefix of the short email sent when the welcome has left.
KEY_PREFIX = "award_corrected"
#: A welcome in these states has not left (waiting, refused, given up): it is written again, so
#: that one sent again from the undelivered emails states the corrected dates; in these, it has
#: (or may have) left.
WAITING = tuple(state.value for state in NOT_LEFT)
LEFT = (OutboxState.SENDING.value, OutboxState.UNCERTAIN.value, OutboxState.SENT.value)


def company_changes(changes: tuple[AwardChange, ...], company: str) -> list[AwardChange]:
    """What of the correction the company's welcome stated: the dates, its role, its hours."""
    own = (f"Rôle de {company}", f"Heures confiées à {company}")
    return [c for c in changes if c.what in LOT_CHANGES or c.what in own]


def net_changes(steps: Sequence[Sequence[AwardChange]], company: str) -> list[AwardChange]:
    """The corrections ``steps`` (oldest first) as one: each thing the company's welcome stated
    from what it was before the first to what it is after the last, in the order first changed;
    a thing put back as it was is no change. Pure."""
    before: dict[str, str] = {}
    after: dict[str, str] = {}
    for changes in steps:
        for change in company_changes(tuple(changes), company):
            before.setdefault(change.what, change.before)
            after[change.what] = change.after
    return [
        AwardChange(what, was, after[what]) for what, was in before.items() if was != after[what]
    ]


def _written_at(row: OutboxMessage) -> datetime | None:
    """The instant a welcome or a correction's email was written as of: its key's last part."""
    parts = row.key.split(":", 3)
    try:
        moment = datetime.fromisoformat(parts[3]) if len(parts) == 4 else None
    except ValueError:
        return None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def corrections_since(
    session: Session, clause_id: int, since: datetime | None, event: AwardCorrected
) -> list[Sequence[AwardChange]]:
    """The award corrections of the lot after ``since`` (the instant the company's last email
    that left was written as of), read back from their history rows, then ``event``'s own."""
    query = select(ClauseHistory).where(
        ClauseHistory.clause_id == clause_id, ClauseHistory.event == AWARD_CORRECTED
    )
    if since is not None:
        query = query.where(ClauseHistory.at > since)
    earlier: list[Sequence[AwardChange]] = [
        award_changes_of(row.reason)
        for row in session.scalars(query.order_by(ClauseHistory.at, ClauseHistory.id))
        if row.at != event.at
    ]
    return [*earlier, event.changes]


def _said(changes: Sequence[AwardChange]) -> str:
    return " ; ".join(f"{c.what} : {c.before} → {c.after}" for c in changes)


def tell_companies(app: Mailing, session: Session, event: AwardCorrected) -> None:
    """Each company already welcomed whose welcome no longer holds: its waiting welcome written
    again, else one short email naming what changed since its last email that left (the one of
    an earlier correction still waiting withdrawn in its favour)."""
    clause = session.get_one(Clause, event.clause_id)
    stamp = event.at.astimezone(UTC).isoformat()
    day = remembered_date(event.at.astimezone(app.settings.zone).date())
    _withdraw_for_removed(session, clause, day)
    for party in clause.parties:
        if party.company_id in event.added_company_ids:
            continue  # welcomed by ``notices.correct_award``
        company = session.get_one(Company, party.company_id)
        changes = company_changes(event.changes, company.name)
        if not changes:
            continue
        rows = _award_emails(session, clause.id, str(company.id))
        waiting = [r for r in rows if r.kind == WELCOME_KIND and r.state in WAITING]
        # The corrections' emails not left (waiting, refused): the one written now replaces them.
        superseded = [r for r in rows if r.kind == CORRECTED_KIND and r.state in WAITING]
        told = [r for r in rows if r.state in LEFT]
        if not waiting and not told:
            continue
        correspondent = party_correspondent(party)
        if correspondent is None or not correspondent.email.strip():
            continue  # the digest lists awards missing a correspondent
        recipient = Recipient(correspondent.name, correspondent.email)
        context, attachments = welcome_message(
            session, clause, party, recipient, app.settings, event.at
        )
        said = _said(changes)
        if waiting:
            key = f"welcome:{clause.id}:{company.id}:{stamp}"
            if key_exists(session, key):
                continue
            queue_email(
                session,
                app.renderer,
                key=key,
                kind=WELCOME_KIND,
                recipients=[recipient],
                context=context,
                now=event.at,
                clause_id=clause.id,
                attachments=attachments,
            )
            _withdraw(
                [*waiting, *superseded],
                f"Remplacé : attribution corrigée le {day} ({said}) ; l'accueil à jour part à "
                "sa place.",
            )
            continue
        key = f"{KEY_PREFIX}:{clause.id}:{company.id}:{stamp}"
        if key_exists(session, key):
            continue
        last = told[-1]
        net = net_changes(
            corrections_since(session, clause.id, _written_at(last), event), company.name
        )
        if not net:
            # Back to what the company read: the waiting email would tell it of a change that
            # is no more, and there is nothing else to tell.
            _withdraw(
                superseded,
                f"Retiré : attribution corrigée de nouveau le {day} ({said}) ; elle redit à "
                f"{company.name} ce que lui disait son dernier courriel parti : plus rien à lui "
                "écrire.",
            )
            continue
        queue_email(
            session,
            app.renderer,
            key=key,
            kind=CORRECTED_KIND,
            recipients=[recipient],
            context=awaited_only(
                award_corrected_context(
                    context,
                    [(c.what, c.before, c.after) for c in net],
                    since_welcome=last.kind == WELCOME_KIND,
                ),
                declared_months_of(session, clause.id, company.id),
            ),
            now=event.at,
            clause_id=clause.id,
        )
        told_by = (
            "l'accueil parti"
            if last.kind == WELCOME_KIND
            else "le dernier courriel « attribution corrigée » parti"
        )
        _withdraw(
            superseded,
            f"Remplacé : attribution corrigée de nouveau le {day} ({said}) ; un seul courriel "
            f"part à sa place, de ce que disait {told_by} à l'attribution à jour "
            f"({_said(net)}).",
        )


def awaited_only(context: dict[str, Any], declared: Iterable[date]) -> dict[str, Any]:
    """The correction's email during the works lists the months already called that the
    company still owes (never declared, or cancelled since and so asked again), with the due
    date their call gave: a month it declared is done, and listing it among dates to meet would
    only make the company wonder what it still has to send. ``all_declared``: every month
    called is declared, which the email says in one sentence rather than show an empty table.
    Before the works (a first call, a catch-up to come) nothing is declared: unchanged. Pure."""
    if not context.get("works"):
        return context
    done = set(declared)
    schedule = [row for row in context["schedule"] if row["month"] not in done]
    return {
        **context,
        "schedule": schedule,
        "all_declared": bool(context["schedule"]) and not schedule,
    }


def _award_emails(
    session: Session, clause_id: int, company: str, *, states: Sequence[str] = ()
) -> list[OutboxMessage]:
    """The lot's welcome and award-correction emails of ``company`` (its id, or ``%`` for every
    company), in ``states`` if given, locked, oldest first."""
    statement = (
        select(OutboxMessage)
        .where(
            OutboxMessage.clause_id == clause_id,
            or_(
                (OutboxMessage.kind == WELCOME_KIND)
                & OutboxMessage.key.like(f"welcome:{clause_id}:{company}:%"),
                (OutboxMessage.kind == CORRECTED_KIND)
                & OutboxMessage.key.like(f"{KEY_PREFIX}:{clause_id}:{company}:%"),
            ),
        )
        .order_by(OutboxMessage.id)
        .with_for_update()
    )
    if states:
        statement = statement.where(OutboxMessage.state.in_(states))
    return list(session.scalars(statement))


def _withdraw_for_removed(session: Session, clause: Clause, day: str) -> None:
    """The welcome or award-correction emails not left of companies no longer in the award
    (taken out by this correction, or an earlier one): withdrawn, their reason kept. Left, they
    would tell a company it is bound to a lot it was taken out of (user trial: a company taken
    out and added again from another month got both welcomes, each with its own first month)."""
    bound = {party.company_id for party in clause.parties}
    for row in _award_emails(session, clause.id, "%", states=WAITING):
        company_id = int(row.key.split(":", 3)[2])
        if company_id in bound:
            continue
        name = session.get_one(Company, company_id).name
        withdraw(
            row,
            f"Retiré : attribution corrigée le {day}, {name} n'est plus dans l'attribution du "
            "lot ; ce courriel n'avait plus lieu d'être.",
        )


def _withdraw(rows: Sequence[OutboxMessage], reason: str) -> None:
    """Emails not left taken back, their reason kept in the email log."""
    for row in rows:
        withdraw(row, reason)
