"""Receipts that would no longer be true, withdrawn before they leave.

A receipt says « votre déclaration … est bien enregistrée, total du mois : N h ». Two things make
one untrue while it waits in the outbox (waiting, refused or given up): the declaration is
corrected (a newer receipt, with the new figures, is queued in the same transaction) or it is
cancelled. Either way the old receipt is withdrawn in the same transaction, its reason kept in
the email log, as ``reminder_emails.withdraw_answered`` does for the reminders of a month
declared. A receipt that may have left (sending, uncertain) or has left is left as it is.

A receipt also tells the company the months it still owes on the lot and its cumul there: when
another of its months on the lot is declared or cancelled while the receipt waits, those change.
Its other receipts still waiting (or refused for now) are then written again as of that moment
(``rewrite_others``), their links kept: one whose words changed is withdrawn, the reason kept,
and the rewritten one queued under its key followed by ``:maj:`` and the instant. Those written
in the same act are left: an act recording several months (an import) publishes their events
once all are recorded, so its receipts already see them all. One given up stays as it is.

A receipt also gives the due date of each month it names. When a company's call is opened late
(a long stop of the service, a late start, a resumption: ``reminders._open_batch``), the call
gives its months a new date, and a receipt kept waiting (the stop itself, mail held) would leave
the same morning still giving the old one, already past. Its receipts still waiting are then
written again as of the opening (``rewrite_for_late_calls``), in the transaction that opens the
call, before the dispatcher can take them: they give the call's date, say « en retard » of a
month due before the day they leave, and give fresh pages when the first ones have expired.

A receipt also says which month comes next (« Le mois suivant : avril 2027, à déclarer à partir
du 30 avril 2027 … ») and how many months remain owed. What ends or stops the company's months
while it waits makes those untrue: the company's departure recorded (``rewrite_for_departure``,
user trial: the receipt announced April in the same batch as the departure email saying no month
after March would be asked), the lot's planned end moved, its end recorded (« achever ») or
corrected, the contract terminated, the lot suspended or resumed (``rewrite_after_advance``,
``rewrite_after_planned_end``, ``rewrite_after_end_corrected``). Its receipts still waiting on
the lot are then written again as of that moment, in its transaction, as above: one whose words
changed is withdrawn, the reason kept, and the rewritten one queued under ``:maj:``; one whose
words did not change stays as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from jinja2 import TemplateError
from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.mail.message import AddressRefused, parse_recipients
from workflow.adapters.orm import Clause, Company, Declaration, OutboxMessage
from workflow.adapters.templates import french_month, remembered_date
from workflow.domain.calendar import local_date
from workflow.domain.declaration_links import expiry
from workflow.domain.events import (
    AwardCorrected,
    ClauseAdvanced,
    ClauseReopened,
    DeclarationCancelled,
    DeclarationRecorded,
    EndDateCorrected,
    PlannedEndMoved,
    Replaced,
)
from workflow.domain.stages import ClauseEvent
from workflow.emails.phrases import month_phrase, months_phrase
from workflow.emails.receipts import KIND
from workflow.services.mailing import Mailing
from workflow.services.notices import award_party, receipt_message
from workflow.services.outbox import NOT_LEFT, OutboxState, Recipient, queue_email, withdraw

log = logging.getLogger(__name__)

#: A rewritten receipt's key: the first one's, then this and the instant it was rewritten.
REWRITTEN = ":maj:"
#: The receipts rewritten: those waiting (a refusal for now keeps its row waiting, with a later
#: attempt). One refused for good (``failed``) or given up (``dead``) stays as it is, among the
#: facilitator's undelivered emails: a new copy would hide that failure and be refused again.
REWRITTEN_STATES = (OutboxState.PENDING,)


def _waiting_receipts(session: Session, clause_id: int, declaration_id: int) -> list[OutboxMessage]:
    # ``notices.acknowledge_declaration`` keys a receipt ``receipt:<declaration>:<instant>:…``;
    # a corrected declaration keeps its id. The lot (indexed) narrows the read to its few
    # emails: a key's LIKE uses no index, and an import records many declarations.
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.clause_id == clause_id,
                OutboxMessage.kind == "declaration_receipt",
                OutboxMessage.key.like(f"receipt:{declaration_id}:%"),
                OutboxMessage.state.in_(NOT_LEFT),
            )
            .order_by(OutboxMessage.id)
            .with_for_update()
        )
    )


def _day(app: Mailing, at: datetime) -> str:
    return remembered_date(at.astimezone(app.settings.zone).date())


def withdraw_replaced(app: Mailing, session: Session, event: DeclarationRecorded) -> None:
    """Runs after the new receipt is queued: every older one of the same declaration that has
    not left is withdrawn. The new one is the last queued at the event's instant; when none was
    (no correspondent with an address), every older one goes: their figures are no longer
    those recorded."""
    rows = _waiting_receipts(session, event.clause_id, event.declaration_id)
    this_time = f"receipt:{event.declaration_id}:{event.at.astimezone(UTC).isoformat()}:"
    new = max((row.id for row in rows if row.key.startswith(this_time)), default=None)
    corrected = f"Remplacé : la déclaration a été corrigée le {_day(app, event.at)} ; "
    reason = corrected + (
        "l'accusé de réception de la correction part à sa place."
        if new is not None
        # No receipt for the correction (the company has no correspondent with an address):
        # the old one would still give the figures replaced.
        else "ses chiffres ne sont plus ceux enregistrés."
    )
    for row in rows:
        if row.id != new:
            withdraw(row, reason)


def withdraw_cancelled(app: Mailing, session: Session, event: DeclarationCancelled) -> None:
    """The receipts of a declaration cancelled that have not left are withdrawn."""
    for row in _waiting_receipts(session, event.clause_id, event.declaration_id):
        withdraw(
            row,
            f"Retiré : la déclaration a été annulée le {_day(app, event.at)} par {event.actor}, "
            "cet accusé de réception n'était plus vrai.",
        )


def rewrite_after(
    app: Mailing, session: Session, event: DeclarationRecorded | DeclarationCancelled
) -> None:
    """Another month declared, or cancelled (it is owed again): the company's other receipts
    waiting on the lot are rewritten."""
    if isinstance(event, DeclarationCancelled):
        done = "annulé"
    else:
        done = "déclaré" if event.replaces is None else "corrigé"
    rewrite_others(
        app,
        session,
        event.clause_id,
        event.company_id,
        event.declaration_id,
        event.at,
        f"le mois {month_phrase(event.month)} a été {done} le {_day(app, event.at)}",
    )


def _others_waiting(
    session: Session, clause_id: int, company_id: int, declaration_id: int
) -> list[tuple[OutboxMessage, Declaration]]:
    """The company's receipts on the lot that have not left, but those of ``declaration_id``,
    each with the declaration it acknowledges."""
    return _receipts_to_rewrite(
        session,
        [clause_id],
        lambda d: d.id != declaration_id and d.company_id == company_id,
    )


def _receipts_to_rewrite(
    session: Session, clause_ids: Sequence[int], keep: Callable[[Declaration], bool]
) -> list[tuple[OutboxMessage, Declaration]]:
    """The receipts of ``clause_ids`` that have not left and whose declaration (the number in
    their key) ``keep`` takes, each with it, in outbox order: three statements whatever their
    number."""
    # Read without a lock first: the receipts of declarations not kept are none of this act's.
    keys = session.execute(
        select(OutboxMessage.id, OutboxMessage.key).where(
            OutboxMessage.clause_id.in_(clause_ids),
            OutboxMessage.kind == KIND,
            OutboxMessage.state.in_(REWRITTEN_STATES),
        )
    ).all()
    numbers = {row_id: int(key.split(":")[1]) for row_id, key in keys}
    if not numbers:
        return []
    declarations = {
        declaration.id: declaration
        for declaration in session.scalars(
            select(Declaration).where(Declaration.id.in_(sorted(set(numbers.values()))))
        )
        if keep(declaration)
    }
    ours = sorted(row_id for row_id, number in numbers.items() if number in declarations)
    if not ours:
        return []
    # Locked, and read again: the dispatcher may have claimed one meanwhile (``sending``).
    rows = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.id.in_(ours), OutboxMessage.state.in_(REWRITTEN_STATES))
        .order_by(OutboxMessage.id)
        .with_for_update()
    ).all()
    return [(row, declarations[numbers[row.id]]) for row in rows]


def _first_written(row: OutboxMessage) -> datetime:
    """When the receipt was first written (the instant in its key, before any ``:maj:``): its
    links count their validity from it, rewritten or not."""
    instant = row.key.split(REWRITTEN)[0].split(":", 2)[2].rsplit(":", 1)[0]
    try:
        return datetime.fromisoformat(instant)
    except ValueError:
        return row.created_at


def _links_from(app: Mailing, row: OutboxMessage, at: datetime) -> datetime:
    """The instant a rewritten receipt's links count their validity from: the first one's, so
    that only what changed makes it differ; ``at`` once those have expired (a receipt kept
    waiting by a long stop of the service must not give a page already closed, nor a date
    already past as the last day to correct)."""
    first = _first_written(row)
    zone = app.settings.zone
    if expiry(local_date(first, zone), app.settings.link_days) < local_date(at, zone):
        return at
    return first


def _write_again(
    app: Mailing,
    session: Session,
    row: OutboxMessage,
    declaration: Declaration,
    at: datetime,
    reason: str,
) -> bool:
    """``row`` written again as of ``at`` by the receipt's own builder (``receipt_message``):
    withdrawn for ``reason`` and queued again under its key followed by ``:maj:`` and ``at``
    when its words changed; else left as it is. True when rewritten."""
    clause = session.get_one(Clause, declaration.clause_id)
    company = session.get_one(Company, declaration.company_id)
    party = award_party(session, clause.id, company.id)
    replaced = None
    if declaration.replaced_recorded_at is not None:
        replaced = Replaced(
            declaration.replaced_total_hours or Decimal(0), declaration.replaced_recorded_at
        )
    context = receipt_message(
        session,
        clause,
        company,
        party,
        declaration,
        app.settings,
        at,
        replaces=replaced,
        links_at=_links_from(app, row, at),
    )
    rendered = app.renderer.render(KIND, context)
    if (rendered.subject, rendered.text, rendered.html) == (
        row.subject,
        row.body_text,
        row.body_html,
    ):
        return False
    try:
        recipients = [Recipient(m.name, m.address) for m in parse_recipients(row.recipients)]
    except AddressRefused:
        return False  # the dispatcher refuses it for good, with its reason: nothing to rewrite
    key = f"{row.key.split(REWRITTEN)[0]}{REWRITTEN}{at.astimezone(UTC).isoformat()}"
    queued = queue_email(
        session,
        app.renderer,
        key=key,
        kind=KIND,
        recipients=recipients,
        context=context,
        now=at,
        clause_id=clause.id,
    )
    if queued:
        withdraw(row, reason)
    return queued


def rewrite_others(
    app: Mailing,
    session: Session,
    clause_id: int,
    company_id: int,
    declaration_id: int,
    at: datetime,
    cause: str,
) -> None:
    """Each receipt of the company on the lot still waiting, but that of ``declaration_id``
    and those written at ``at`` itself, written again as of ``at`` (its links kept): withdrawn
    for ``cause`` and queued again when its words changed; else it stays as it is (the month
    declared was neither owed in it nor before its month)."""
    # Those written at ``at`` came with this one: an act that records several months (an
    # import) publishes their events once all are recorded, so its receipts see them all.
    for row, declaration in _others_waiting(session, clause_id, company_id, declaration_id):
        if row.created_at == at:
            continue
        if declaration.recorded_at == at:
            # Recorded again by the same act (one import correcting two months): its own
            # event withdraws this receipt for the new one; written again here, it would state
            # the new recording under the key of the one it replaces.
            continue
        _write_again(
            app,
            session,
            row,
            declaration,
            at,
            f"Remplacé : {cause} ; l'accusé de réception à jour (mois restant à déclarer, "
            "cumul) part à sa place.",
        )


@dataclass(frozen=True)
class LateCall:
    """A company's call opened late on a lot: the months it covers, the day it leaves and the
    one due date it gives them (``reminders._open_batch``)."""

    clause_id: int
    company_id: int
    months: tuple[date, ...]
    leaves_on: date
    due_on: date


def rewrite_for_late_calls(
    app: Mailing, session: Session, calls: Sequence[LateCall], at: datetime
) -> int:
    """The receipts still waiting of the companies whose call was just opened late, written
    again as of ``at`` so that they give the due dates the call gives (and no date already
    past as one to come); the number rewritten.

    A receipt kept waiting (a long stop of the service, mail held) would otherwise leave the
    same morning as the call and give its months the dates they had before, long past: the
    company would read two dates for one month. Cheap for a batch of openings: one read of the
    waiting receipts of the batch's lots, one of their declarations, one lock of those found."""
    by_company = {(call.clause_id, call.company_id): call for call in calls}
    if not by_company:
        return 0
    waiting = _receipts_to_rewrite(
        session,
        sorted({clause_id for clause_id, _ in by_company}),
        lambda d: (d.clause_id, d.company_id) in by_company,
    )
    rewritten = 0
    for row, declaration in waiting:
        call = by_company[(declaration.clause_id, declaration.company_id)]
        reason = (
            f"Remplacé : l'appel à déclarer {months_phrase(call.months)} part en retard le "
            f"{remembered_date(call.leaves_on)} et donne pour date limite le "
            f"{remembered_date(call.due_on)} ; l'accusé de réception à jour (mois restant à "
            "déclarer, dates limites) part à sa place."
        )
        # The pass opens its months all the same when this receipt cannot be written again.
        rewritten += _write_again_or_log(app, session, row, declaration, at, reason)
    return rewritten


#: The stage changes that end, stop or restart the months a company is asked for, and what the
#: reason of a receipt written again says of each.
_ADVANCES = {
    ClauseEvent.FINISH: "la fin d'exécution du lot a été enregistrée",
    ClauseEvent.TERMINATE: "la résiliation du marché a été enregistrée",
    ClauseEvent.SUSPEND: "la suspension du lot a été enregistrée",
    ClauseEvent.RESUME: "la reprise du lot a été enregistrée",
}


def _rewrite_waiting(
    app: Mailing,
    session: Session,
    clause_id: int,
    company_id: int | None,
    at: datetime,
    cause: str,
) -> int:
    """Each receipt still waiting on the lot (of ``company_id`` only, when given) written again
    as of ``at``: withdrawn for ``cause`` and queued again when its words changed, else left as
    it is; the number written again. One written at ``at`` itself came with the change and
    already reads it."""
    waiting = _receipts_to_rewrite(
        session,
        [clause_id],
        lambda d: d.clause_id == clause_id and company_id in (None, d.company_id),
    )
    reason = (
        f"Remplacé : {cause} ; l'accusé de réception à jour (mois restant à déclarer, mois "
        "suivant) part à sa place."
    )
    rewritten = 0
    for row, declaration in waiting:
        if row.created_at == at:
            continue
        # The change is recorded all the same when this receipt cannot be written again.
        rewritten += _write_again_or_log(app, session, row, declaration, at, reason)
    return rewritten


def _write_again_or_log(
    app: Mailing,
    session: Session,
    row: OutboxMessage,
    declaration: Declaration,
    at: datetime,
    reason: str,
) -> int:
    """``_write_again`` in a savepoint: a receipt that cannot be written again (a template broken
    since) stays as it was, its error logged, and what caused the rewrite goes on; 1 when
    written again, else 0."""
    try:
        with session.begin_nested():
            return int(_write_again(app, session, row, declaration, at, reason))
    except (TemplateError, ValueError, KeyError) as error:
        log.error(
            "receipt not rewritten",
            extra={
                "action": "receipt.rewrite_failed",
                "outbox_id": row.id,
                "clause_id": declaration.clause_id,
                "company_id": declaration.company_id,
                "error": str(error),
            },
        )
        return 0


def rewrite_for_departure(
    app: Mailing,
    session: Session,
    clause_id: int,
    company_id: int,
    last_month: date,
    at: datetime,
) -> int:
    """The company left the lot after ``last_month`` (``company_departures.record_departure``):
    its receipts still waiting, which may announce a month after it (« Le mois suivant ») or
    count months it no longer owes, written again as of the departure; the number written
    again. Called in the departure's transaction, after it is recorded."""
    return _rewrite_waiting(
        app,
        session,
        clause_id,
        company_id,
        at,
        f"le départ du chantier a été enregistré le {_day(app, at)}, dernier mois "
        f"{french_month(last_month)}",
    )


def rewrite_after_advance(app: Mailing, session: Session, event: ClauseAdvanced) -> None:
    """The lot finished, terminated, suspended or resumed: its receipts still waiting are
    written again as of that moment (the next month they announce, the months they count)."""
    cause = _ADVANCES.get(event.event)
    if cause is not None:
        _rewrite_waiting(
            app, session, event.clause_id, None, event.at, f"{cause} le {_day(app, event.at)}"
        )


def rewrite_after_reopened(app: Mailing, session: Session, event: ClauseReopened) -> None:
    """An abandon undone: the lot's months are asked again; its receipts still waiting are
    written again (review: they could still say that no month is left to declare)."""
    _rewrite_waiting(
        app,
        session,
        event.clause_id,
        None,
        event.at,
        f"l'abandon du lot a été annulé le {_day(app, event.at)}",
    )


def rewrite_after_award_corrected(app: Mailing, session: Session, event: AwardCorrected) -> None:
    """The award corrected (a company's first or last month, its role, the dates): the lot's
    receipts still waiting are written again; one whose words are unchanged stays as it is."""
    _rewrite_waiting(
        app,
        session,
        event.clause_id,
        None,
        event.at,
        f"l'attribution du lot a été corrigée le {_day(app, event.at)}",
    )


def rewrite_after_planned_end(app: Mailing, session: Session, event: PlannedEndMoved) -> None:
    """The lot's planned end moved: its receipts still waiting are written again."""
    _rewrite_waiting(
        app,
        session,
        event.clause_id,
        None,
        event.at,
        f"la fin prévue du lot a été portée au {remembered_date(event.after)} le "
        f"{_day(app, event.at)}",
    )


def rewrite_after_end_corrected(app: Mailing, session: Session, event: EndDateCorrected) -> None:
    """The lot's end of execution corrected: its receipts still waiting are written again."""
    _rewrite_waiting(
        app,
        session,
        event.clause_id,
        None,
        event.at,
        f"la fin d'exécution du lot a été corrigée au {remembered_date(event.after)} le "
        f"{_day(app, event.at)}",
    )
