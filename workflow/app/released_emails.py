"""The waiting ladder emails of one lot among some N°: what a page that names them may still say.

The page a finish (or a correction of the end) leads to names the emails that still ask a
released month, by their N° in its address (``entrypoints.web.board``). An address can be kept
or typed: the page keeps only those of this lot that have not left yet (one query for all), and
reads from each key what it covers (``ladder_keys.key_months``).
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select

from workflow.adapters.orm import OutboxMessage
from workflow.app.unit import reading
from workflow.bootstrap import App
from workflow.services.ladder_keys import LadderKey, key_months
from workflow.services.outbox import NOT_LEFT

#: At most this many N° read at once: an address holds a few, a typed one is cut there.
LIMIT = 200


def waiting_ladder_emails(
    app: App, clause_id: int, message_ids: Collection[int]
) -> dict[int, LadderKey]:
    """Among ``message_ids``, the ladder emails of lot ``clause_id`` not left yet (waiting,
    failed or given up: what « Annuler ce courriel » still stops), each with what its key
    covers; the others (another lot's, sent, cancelled, none) are not in it."""
    wanted = sorted(set(message_ids))[:LIMIT]
    if not wanted:
        return {}
    with reading(app) as session:
        rows = session.execute(
            select(OutboxMessage.id, OutboxMessage.key).where(
                OutboxMessage.id.in_(wanted),
                OutboxMessage.clause_id == clause_id,
                OutboxMessage.state.in_(NOT_LEFT),
            )
        ).all()
    found: dict[int, LadderKey] = {}
    for message_id, key in rows:
        covered = key_months(key)
        if covered is not None and covered.clause_id == clause_id:
            found[message_id] = covered
    return found
