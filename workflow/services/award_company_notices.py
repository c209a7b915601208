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
  ``award_corrected:<clause>:<company>:<instant of the correction>``.

A welcome refused for good or given up is written again too (the new one waits to be sent, the
old one withdrawn): sent again from the undelivered emails once the address is corrected, it
states the corrected dates. A company newly bound gets its welcome from
``notices.correct_award``; one never welcomed (no correspondent then) is not written to here.
"""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.orm import Clause, Company, OutboxMessage
from workflow.adapters.templates import remembered_date
from workflow.domain.events import AwardChange, AwardCorrected
from workflow.emails.welcome import CORRECTED_KIND, award_corrected_context
from workflow.emails.welcome import KIND as WELCOME_KIND
from workflow.services.email_facts import party_correspondent
from workflow.services.mailing import Mailing
from workflow.services.notices import welcome_message
from workflow.services.outbox import NOT_LEFT, OutboxState, Recipient, key_exists, queue_email

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


def tell_companies(app: Mailing, session: Session, event: AwardCorrected) -> None:
    """Each company already welcomed whose welcome no longer holds: its waiting welcome written
    again, else a short email naming what changed."""
    clause = session.get_one(Clause, event.clause_id)
    stamp = event.at.astimezone(UTC).isoformat()
    day = remembered_date(event.at.astimezone(app.settings.zone).date())
    for party in clause.parties:
        if party.company_id in event.added_company_ids:
            continue  # welcomed by ``notices.correct_award``
        company = session.get_one(Company, party.company_id)
        changes = company_changes(event.changes, company.name)
        if not changes:
            continue
        welcomes = list(
            session.scalars(
                select(OutboxMessage)
                .where(
                    OutboxMessage.clause_id == clause.id,
                    OutboxMessage.kind == WELCOME_KIND,
                    OutboxMessage.key.like(f"welcome:{clause.id}:{company.id}:%"),
                )
                .order_by(OutboxMessage.id)
                .with_for_update()
            )
        )
        waiting = [row for row in welcomes if row.state in WAITING]
        left = any(row.state in LEFT for row in welcomes)
        if not waiting and not left:
            continue
        correspondent = party_correspondent(party)
        if correspondent is None or not correspondent.email.strip():
            continue  # the digest lists awards missing a correspondent
        recipient = Recipient(correspondent.name, correspondent.email)
        context, attachments = welcome_message(
            session, clause, party, recipient, app.settings, event.at
        )
        said = " ; ".join(f"{c.what} : {c.before} → {c.after}" for c in changes)
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
            for row in waiting:
                row.state = OutboxState.CANCELLED.value
                row.next_attempt_at = None
                row.last_error = (
                    f"Remplacé : attribution corrigée le {day} ({said}) ; l'accueil à jour "
                    "part à sa place."
                )
            continue
        key = f"{KEY_PREFIX}:{clause.id}:{company.id}:{stamp}"
        if key_exists(session, key):
            continue
        queue_email(
            session,
            app.renderer,
            key=key,
            kind=CORRECTED_KIND,
            recipients=[recipient],
            context=award_corrected_context(
                context, [(c.what, c.before, c.after) for c in changes]
            ),
            now=event.at,
            clause_id=clause.id,
        )
