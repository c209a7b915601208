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

A company taken out of the award (``_tell_removed``) whose welcome, or last
``company_award_corrected``, left (or may have) gets one short email ``company_award_removed``:
the lot, the day it left the award, and that it has nothing to declare there (true by
construction: ``apply_award`` refuses to take out a company that declared or was called on the
lot, and without its party row no call or reminder is written for it), under the key
``award_removed:<clause>:<company>:<instant of the correction>``. Taken out before anything left,
it gets nothing (its welcome is withdrawn, ``_withdraw_for_removed``, with its suspension or
resumption notice still waiting, which would promise it calls); added back before the short email
left, that one is withdrawn: the company's new welcome tells it where it stands.

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

from workflow.adapters.mail.message import AddressRefused, parse_recipients
from workflow.adapters.orm import Clause, ClauseHistory, Company, OutboxMessage
from workflow.adapters.templates import french_month, read_french_date, remembered_date
from workflow.domain.calendar import month_start, months_between
from workflow.domain.events import AwardChange, AwardCorrected
from workflow.emails.award_removed import KIND as REMOVED_KIND
from workflow.emails.award_removed import award_removed_context
from workflow.emails.company_pauses import KINDS as PAUSE_KINDS
from workflow.emails.welcome import CORRECTED_KIND, award_corrected_context
from workflow.emails.welcome import KIND as WELCOME_KIND
from workflow.services.clauses import AWARD_CORRECTED, award_changes_of
from workflow.services.company_pauses import left_owing_nothing
from workflow.services.declarations import declared_months_of
from workflow.services.email_facts import lot_of, party_correspondent
from workflow.services.lot_calendars import lot_calendars
from workflow.services.mailing import Mailing
from workflow.services.notices import welcome_message, welcome_promised_until
from workflow.services.outbox import (
    NOT_LEFT,
    OutboxState,
    Promise,
    Recipient,
    key_exists,
    queue_email,
    withdraw,
)

#: The changes of the whole lot every welcome states.
LOT_CHANGES = ("Démarrage", "Fin prévue")
#: The key prefix of the short email sent when the welcome has left.
KEY_PREFIX = "award_corrected"
#: The key prefix of the short email to a company taken out after it was told it was in.
REMOVED_PREFIX = "award_removed"
#: What ``services.clauses._award_changes`` writes as the « after » of a company taken out.
REMOVED_AFTER = "retirée de l'attribution"
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
    lot = lot_calendars(session, [clause.id], app.settings)[clause.id]
    _withdraw_for_removed(session, clause, day)
    _withdraw_removals_of_bound(session, clause, day)
    _tell_removed(app, session, clause, event)
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
            until = welcome_promised_until(context, app.settings)
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
                # Held past its first call's last day, it is written again like any welcome:
                # its dates, and « aujourd'hui même » on that day, would be false.
                promise=None
                if until is None
                else Promise(until, {"clause_id": clause.id, "company_id": party.company_id}),
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
        if left_owing_nothing(party, lot, event.at, app.settings.zone):
            assert party.last_month is not None  # left: its last month is recorded
            # It left the site and declared every month it owed: it awaits no call, and a
            # change of the works it no longer takes part in is not its concern (as for a
            # suspension, ``company_pauses``). What was waiting for it would tell it otherwise.
            _withdraw(
                superseded,
                f"Retiré : attribution corrigée de nouveau le {day} ({said}) ; "
                f"{company.name} a quitté le chantier (dernier mois "
                f"{french_month(party.last_month)}) et a déclaré chaque mois qu'elle devait : "
                "plus rien à lui écrire.",
            )
            continue
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
        # A start moved changes the months the welcome's template covers: filled and sent, it
        # was refused whole for a month no longer asked (user trial). The new one goes with it.
        template = attachments if start_month_moved(net) else []
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
                    no_longer_asked=no_longer_asked(net, party.first_month, party.last_month),
                    newly_asked=newly_asked(net, party.first_month, party.last_month),
                    template_attached=bool(template),
                ),
                declared_months_of(session, clause.id, company.id),
                party.last_month,
            ),
            now=event.at,
            clause_id=clause.id,
            attachments=template,
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


def _start_months(changes: Sequence[AwardChange]) -> tuple[date | None, date | None] | None:
    """The start's month before and after ``changes`` (None for a date not written, « non
    renseigné »), or None when the start did not change. Pure."""
    start = next((c for c in changes if c.what == "Démarrage"), None)
    if start is None:
        return None
    was, now = read_french_date(start.before), read_french_date(start.after)
    return (
        month_start(was) if was is not None else None,
        month_start(now) if now is not None else None,
    )


def start_month_moved(changes: Sequence[AwardChange]) -> bool:
    """The start moved to another month: the company's first months, and so its template's,
    changed (moved within its month, the template it holds still serves). Pure."""
    months = _start_months(changes)
    return months is not None and (None in months or months[0] != months[1])


def _passed_over(
    changes: Sequence[AwardChange], joined: date | None, left: date | None
) -> tuple[bool, list[date]]:
    """Whether the start moved to a later month, and the months between its two months (the
    earlier one included, the later not) that are the company's, from its first month
    (``joined``) to its last (``left``). No month when the start did not change month. Pure."""
    was, now = _start_months(changes) or (None, None)
    if was is None or now is None or now == was:
        return False, []
    early, late = min(was, now), max(was, now)
    first = max(early, joined) if joined is not None else early
    return now > was, [
        m for m in months_between(first, late) if m < late and (left is None or m <= left)
    ]


def no_longer_asked(
    changes: Sequence[AwardChange], joined: date | None, left: date | None = None
) -> list[date]:
    """The months the company's last email asked of it that a start moved later leaves before
    the start: never called nor declared (``apply_award`` refuses to move the start past such a
    month), their links void. The email says they are no longer asked (user trial: it listed
    the start's change, then « Le reste de mon message d'accueil reste valable » while January
    and February, given with dates and links in the welcome, were asked no more). Not a month
    after the last of a company that left (``left``). Pure."""
    later, months = _passed_over(changes, joined, left)
    return months if later else []


def newly_asked(
    changes: Sequence[AwardChange], joined: date | None, left: date | None = None
) -> list[date]:
    """The months that a start moved earlier brings into the works, which the company's last
    email did not ask of it (before the start it gave, or said no longer asked when an earlier
    correction moved the start later). The email names them: the schedule alone showed January
    and February again under « Démarrage : 1er mars → 5 janvier » after an email that had told
    the company they were no longer asked (review). A company that joined later is asked
    nothing before its first month, one that left nothing after its last (``left``). Pure."""
    later, months = _passed_over(changes, joined, left)
    return [] if later else months


def awaited_only(
    context: dict[str, Any], declared: Iterable[date], last_month: date | None = None
) -> dict[str, Any]:
    """The correction's email during the works lists the months already called that the
    company still owes (never declared, or cancelled since and so asked again), with the due
    date their call gave: a month it declared is done, and listing it among dates to meet would
    only make the company wonder what it still has to send. ``all_declared``: every month
    called is declared, which the email says in one sentence rather than show an empty table.
    Before the works (a first call, a catch-up to come) nothing is declared: unchanged.
    ``last_month``: the company left the site (``AwardParty.last_month``): a month after it,
    even called before its departure was recorded, is asked of it no more and is not listed;
    ``left_after`` gives it to the text, which then announces no further call. Pure."""
    if not context.get("works"):
        return context
    done = set(declared)
    owed = [row for row in context["schedule"] if last_month is None or row["month"] <= last_month]
    schedule = [row for row in owed if row["month"] not in done]
    return {
        **context,
        "schedule": schedule,
        "all_declared": bool(owed) and not schedule,
        "left_after": last_month,
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
    out and added again from another month got both welcomes, each with its own first month).
    So are their notices of the lot suspended or resumed still waiting (``company_pauses``):
    they name the months it would be called for after the resumption, and the next call."""
    bound = {party.company_id for party in clause.parties}
    pauses = [
        (row, _pause_company(row))
        for row in session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.clause_id == clause.id,
                OutboxMessage.kind.in_(PAUSE_KINDS),
                OutboxMessage.state.in_(WAITING),
            )
            .order_by(OutboxMessage.id)
            .with_for_update()
        )
    ]
    awards = [
        (row, int(row.key.split(":", 3)[2]))
        for row in _award_emails(session, clause.id, "%", states=WAITING)
    ]
    for row, company_id in [*awards, *pauses]:
        if company_id is None or company_id in bound:
            continue
        name = session.get_one(Company, company_id).name
        withdraw(
            row,
            f"Retiré : attribution corrigée le {day}, {name} n'est plus dans l'attribution du "
            "lot ; ce courriel n'avait plus lieu d'être.",
        )


def _pause_company(row: OutboxMessage) -> int | None:
    """The company of a notice of the lot suspended or resumed:
    ``notice:<lot>:<kind>:company-<id>@<instant>`` (``company_pauses.company_key``)."""
    parts = row.key.split(":", 3)
    if len(parts) < 4 or not parts[3].startswith("company-"):
        return None
    company = parts[3].removeprefix("company-").split("@", 1)[0]
    return int(company) if company.isdigit() else None


def _removal_emails(session: Session, clause_id: int, company: str) -> list[OutboxMessage]:
    """The lot's ``company_award_removed`` emails of ``company`` (its id, or ``%`` for every
    company), locked, oldest first."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.clause_id == clause_id,
                OutboxMessage.kind == REMOVED_KIND,
                OutboxMessage.key.like(f"{REMOVED_PREFIX}:{clause_id}:{company}:%"),
            )
            .order_by(OutboxMessage.id)
            .with_for_update()
        )
    )


def _withdraw_removals_of_bound(session: Session, clause: Clause, day: str) -> None:
    """A company added back to the award before its « retirée de l'attribution » left: that
    email is no longer true, and its new welcome (``notices.correct_award``) tells it where it
    stands."""
    bound = {party.company_id for party in clause.parties}
    for row in _removal_emails(session, clause.id, "%"):
        company_id = int(row.key.split(":", 3)[2])
        if row.state not in WAITING or company_id not in bound:
            continue
        name = session.get_one(Company, company_id).name
        withdraw(
            row,
            f"Retiré : attribution corrigée le {day}, {name} est de nouveau dans l'attribution "
            "du lot ; ce courriel n'avait plus lieu d'être.",
        )


def _tell_removed(app: Mailing, session: Session, clause: Clause, event: AwardCorrected) -> None:
    """Each company this correction takes out whose last email about the award that left (or
    may have) told it it was in: one ``company_award_removed`` to whom that email was written
    (its party row, and so the correspondent named on the lot, went with the correction)."""
    bound = {party.company_id for party in clause.parties}
    taken_out = {c.what: c.before for c in event.changes if c.after == REMOVED_AFTER}
    if not taken_out:
        return
    companies = {
        int(row.key.split(":", 3)[2]) for row in _award_emails(session, clause.id, "%")
    } - bound
    zone = app.settings.zone
    stamp = event.at.astimezone(UTC).isoformat()
    for company_id in sorted(companies):
        company = session.get_one(Company, company_id)
        if company.name not in taken_out:
            continue  # taken out by an earlier correction: told then, or never told it was in
        key = f"{REMOVED_PREFIX}:{clause.id}:{company.id}:{stamp}"
        if key_exists(session, key):
            continue
        rows = sorted(
            [
                *_award_emails(session, clause.id, str(company.id)),
                *_removal_emails(session, clause.id, str(company.id)),
            ],
            key=lambda row: row.id,
        )
        told = [row for row in rows if row.state in LEFT]
        if not told or told[-1].kind == REMOVED_KIND:
            # Nothing left (its welcome is withdrawn above), or the last thing it read is that
            # it was taken out (added back, its new welcome withdrawn before it left).
            continue
        last = told[-1]
        readers = _readers(last)
        if not readers:
            continue
        left_on = last.sent_at if last.state == OutboxState.SENT.value else None
        queue_email(
            session,
            app.renderer,
            key=key,
            kind=REMOVED_KIND,
            recipients=readers,
            context=award_removed_context(
                lot_of(clause),
                company.name,
                readers[0],
                removed_on=event.at.astimezone(zone).date(),
                # Its role and hours; the correspondent's name is the reader's own.
                was=taken_out[company.name].partition(", correspondant : ")[0],
                since_welcome=last.kind == WELCOME_KIND,
                told_on=left_on.astimezone(zone).date() if left_on is not None else None,
                may_arrive=last.state != OutboxState.SENT.value,
            ),
            now=event.at,
            clause_id=clause.id,
        )


def _readers(row: OutboxMessage) -> list[Recipient]:
    """Whom ``row`` was written to: the person who read that the company was in the award."""
    try:
        return [Recipient(box.name, box.address) for box in parse_recipients(row.recipients)]
    except AddressRefused:  # an address the server refused: it never read it
        return []


def _withdraw(rows: Sequence[OutboxMessage], reason: str) -> None:
    """Emails not left taken back, their reason kept in the email log."""
    for row in rows:
        withdraw(row, reason)
