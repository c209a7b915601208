"""What the last suspension of a lot withdrew of its waiting emails, read back from the database.

``clauses clause advance N suspendre`` prints it from the suspension's own transaction
(``suspension_withdrawals.told_withdrawals``); the web form redirects to the lot's page, which
tells the same sentences. The page's address says only that a suspension was done (``fait``):
what it withdrew is read from the email log itself, each email the suspension withdrew keeping
its reason (« Retiré : lot suspendu le … », ``withdrawal_reason``), so an address kept or typed
can make the page say nothing that did not happen.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import desc, select

from workflow.adapters.orm import Clause, ClauseHistory, Company, OutboxMessage
from workflow.app.unit import reading
from workflow.bootstrap import App
from workflow.domain.calendar import local_date
from workflow.domain.stages import ClauseEvent, Stage
from workflow.emails.ladder import KINDS
from workflow.services.ladder_keys import KEY_PREFIX, key_months
from workflow.services.outbox import OutboxState
from workflow.services.suspension_withdrawals import (
    NBSP,
    SuspensionWithdrawal,
    withdrawal_reason,
    withdrawn_sentence,
)


def withdrawn_by_last_suspension(app: App, clause_id: int) -> tuple[str, ...]:
    """One sentence by company, as ``clause advance`` prints them, of the waiting emails the
    lot's last suspension withdrew; none when the lot is not suspended any more (its resumption
    has sent them again, or will at its next pass) or when that suspension withdrew nothing.

    An email counts when it is this lot's ladder email, cancelled with the reason the suspension
    wrote on the day of that suspension, and was queued before it and after the suspension
    before (a suspension the same day withdraws under the same words)."""
    zone = app.settings.zone
    with reading(app) as session:
        stage = session.scalar(select(Clause.stage).where(Clause.id == clause_id))
        if stage != Stage.SUSPENDED.value:
            return ()
        suspensions = session.scalars(
            select(ClauseHistory.at)
            .where(
                ClauseHistory.clause_id == clause_id,
                ClauseHistory.event == ClauseEvent.SUSPEND.value,
            )
            .order_by(desc(ClauseHistory.at), desc(ClauseHistory.id))
            .limit(2)
        ).all()
        if not suspensions:
            return ()
        suspended_at = suspensions[0]
        day = local_date(suspended_at, zone)
        again_reason = withdrawal_reason(day, True)
        reasons = {withdrawal_reason(day, False): False, again_reason: True}
        query = (
            select(OutboxMessage.id, OutboxMessage.key, OutboxMessage.last_error)
            .where(
                OutboxMessage.clause_id == clause_id,
                OutboxMessage.kind.in_(KINDS),
                OutboxMessage.key.startswith(f"{KEY_PREFIX}:{clause_id}:", autoescape=True),
                OutboxMessage.state == OutboxState.CANCELLED.value,
                OutboxMessage.last_error.in_(list(reasons)),
                OutboxMessage.created_at <= suspended_at,
            )
            .order_by(OutboxMessage.id)
        )
        if len(suspensions) > 1:
            query = query.where(OutboxMessage.created_at > suspensions[1])
        rows = session.execute(query).all()
        by_company: dict[int, list[SuspensionWithdrawal]] = defaultdict(list)
        for message_id, key, reason in rows:
            covered = key_months(key)
            if covered is None or covered.clause_id != clause_id:
                continue
            by_company[covered.company_id].append(
                SuspensionWithdrawal(
                    message_id,
                    covered.company_id,
                    covered.step,
                    covered.months,
                    reason == again_reason,
                )
            )
        if not by_company:
            return ()
        names = {
            company_id: name
            for company_id, name in session.execute(
                select(Company.id, Company.name).where(Company.id.in_(by_company))
            )
        }
    # In the order the suspension told them (``suspension_withdrawals._tell``).
    return tuple(
        withdrawn_sentence(names.get(company_id, f"entreprise n°{NBSP}{company_id}"), withdrawals)
        for company_id, withdrawals in sorted(
            by_company.items(), key=lambda item: (names.get(item[0], ""), item[0])
        )
    )
