"""A company declares one month of one lot from the signed link of its email.

``declaration_page`` is the page (what the link allows, who was declared on the lot, what is
recorded already); ``declare_online`` records the form in one transaction, as a declaration by file
would: the month's reminders stop at once and the receipt leaves. Declaring again replaces the
month's lines (the history keeps both). A link that was altered, has expired or names a company no
longer on the lot changes nothing. A link sent to a company since merged into another (the same
company recorded twice) is its target's: the page, the file and the declaration are the target's, on
the same lot and month.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, true
from sqlalchemy.orm import Session

from workflow.adapters.orm import Clause, Company, Declaration, DeclarationLadder
from workflow.adapters.templates import french_date, french_month
from workflow.app.unit import reading, unit_of_work
from workflow.bootstrap import App
from workflow.domain.calendar import (
    LadderStep,
    local_date,
    month_start,
    opens_on,
    working_days_between,
)
from workflow.domain.declaration_links import LinkProblem, LinkRefused, LinkScope
from workflow.domain.events import DomainEvent
from workflow.domain.stages import FINAL_STAGES, Stage
from workflow.domain.vocabulary import (
    CONTRACT_LABELS,
    CRITERION_LABELS,
    DELIVERY_MODE_LABELS,
    Sex,
)
from workflow.emails.late_declarations import participants_phrase
from workflow.emails.lots import lot_context
from workflow.emails.phrases import label_of, month_phrase
from workflow.emails.welcome import NOT_STARTED
from workflow.errors import InputRefused
from workflow.services.corrections import RecordKind
from workflow.services.declaration_imports import DECLARATION_LIMITS
from workflow.services.declaration_links import (
    NewerLink,
    month_due_dates,
    newer_link,
    read_link,
)
from workflow.services.declarations import (
    company_missing_months,
    declaration_problems,
    find_declaration,
    grouped,
    joined_month,
    record_declaration,
)
from workflow.services.email_facts import lot_of
from workflow.services.notices import owed_due_dates
from workflow.services.online_declarations import (
    ONLINE_SOURCE,
    FileLines,
    FormProblem,
    FormRefused,
    KnownPerson,
    LineForm,
    ParsedLine,
    canonical_references,
    known_people,
    line_inputs,
    lines_from_file,
    no_hours,
    outside_message,
    parse_form,
    same_as_recorded,
    validated_message,
    zero_line,
)
from workflow.services.record_history import merged_into
from workflow.settings import Settings

__all__ = [
    "CheckedDeclaration",
    "CheckedLine",
    "CheckedMonth",
    "Choice",
    "DeclarationPage",
    "Declared",
    "ExpiredLink",
    "FormRefused",
    "LineForm",
    "LinkExpired",
    "RecordedLine",
    "check_declaration",
    "declaration_page",
    "declare_online",
    "lines_of_file",
    "zero_line",
]


@dataclass(frozen=True)
class Choice:
    code: str
    label: str


def _choices(labels: Iterable[tuple[StrEnum, str]]) -> tuple[Choice, ...]:
    return tuple(Choice(code.value, label) for code, label in labels)


#: The lists the form offers, in the order of the vocabulary.
CRITERIA = _choices(CRITERION_LABELS.items())
CONTRACTS = _choices(CONTRACT_LABELS.items())
MODES = _choices(DELIVERY_MODE_LABELS.items())


@dataclass(frozen=True)
class RecordedLine:
    reference: str
    hours: Decimal
    contract: str  # labels, as the page shows them
    mode: str
    contract_code: str  # codes, as the correction form preselects them
    mode_code: str


@dataclass(frozen=True)
class DeclarationPage:
    """What the page of one link shows."""

    company: str
    title: str  # « Construction du collège…, lot 3 – Gros œuvre »
    buyer: str
    market: str
    lot: str
    lot_number: str | None
    lot_title: str
    month: date
    opens_on: date
    due_on: date
    expires_on: date
    #: Working days past the due date today (0 when not late).
    late_days: int
    #: Why the month cannot be declared now (not open yet, lot not in execution…), or None.
    closed_because: str | None
    #: The lot's recorded end of execution when the month follows it: the month is no longer
    #: asked (« released »), the page says there is nothing to declare instead of the form.
    ended_on: date | None
    #: The lot's follow-up is over (closed or abandoned): no month is asked any more, the page
    #: says so in ``closed_because``, with whom to write to, and shows no due date.
    stopped: bool
    #: « clôturé » or « arrêté » when ``stopped``, as the page words it.
    over: str | None
    known: tuple[KnownPerson, ...]
    recorded: tuple[RecordedLine, ...] | None  # None: nothing recorded yet for the month
    recorded_total: Decimal | None
    recorded_at: datetime | None
    recorded_by: str | None
    #: The month the company joined the lot during the works when the page's month comes before
    #: it (a link signed before its first month was set) and nothing is recorded for it: the
    #: month is not asked, the page says so in ``closed_because`` and shows no due date.
    joined_on: date | None = None
    #: The company's last month on the lot when the page's month follows it (it left the site,
    #: ``AwardParty.last_month``): the month is not asked of it, the page says so in
    #: ``closed_because`` and shows no due date.
    left_after: date | None = None
    #: The months still owed that a filled template sent from this page may declare at once,
    #: this one first when it is owed (``covered_months``): what the upload's note names.
    owed_months: tuple[date, ...] = ()
    #: The month is not called yet and its lot is suspended: it is asked after the resumption,
    #: with a date counted from then (``notices.owed_due_dates`` gives it none); the page shows
    #: no date, and the month is never late.
    at_resumption: bool = False
    #: No date was given for the month, and none is known: its lot is suspended and its call
    #: never left (``notices.owed_due_dates`` gives it none), declared or not; the page shows
    #: no due date (``at_resumption`` says when it is asked, for a month not declared).
    undated: bool = False
    #: The lot's start not recorded yet: no date to give, the call will give it.
    not_started: bool = False
    #: The lot's start date when the page's month comes before its month and nothing is
    #: recorded for it (a link sent before the start was corrected later): the month is not
    #: asked, the page says so in ``closed_because`` and shows no due date.
    before_start: date | None = None

    @property
    def can_declare(self) -> bool:
        return self.closed_because is None


class ExpiredFollow(StrEnum):
    """What follows for the month of an expired link: what its page may promise."""

    #: The lot's follow-up is closed or abandoned: nothing is asked, no link will come.
    STOPPED = "stopped"
    #: The lot's execution ended before the month: the month is not asked, no link will come.
    RELEASED = "released"
    #: The month comes before the lot's start (corrected later since the link was sent): not
    #: asked, no link will come.
    BEFORE_START = "before_start"
    #: The month comes before the one the company joined the lot (its first month corrected
    #: since the link was sent, later than the start): not asked of it, no link will come.
    NOT_JOINED = "not_joined"
    #: The month follows the company's last month on the lot (it left the site after the link
    #: was sent): not asked of it, no link will come.
    LEFT = "left"
    #: A call or a reminder of the month is still to leave for the company: it brings a link.
    REMINDER = "reminder"
    #: No email of the service will bring one: the facilitator can.
    ASK = "ask"
    #: The company's declaration of the month is recorded: nothing to do (user trial, 7
    #: December 2026: the page invited it to send again a month declared in October).
    DECLARED = "declared"


@dataclass(frozen=True)
class ExpiredLink:
    """What the page of an expired link says: the month, the lot, and what follows."""

    month: date
    follows: ExpiredFollow
    lot_number: str | None = None
    lot_title: str = ""
    market: str = ""
    #: « clôturé » or « arrêté », for a stopped lot.
    over: str | None = None
    #: The lot's end of execution, for a released month.
    ended_on: date | None = None
    #: The lot's start, for a month before it.
    starts_on: date | None = None
    #: The company's first month on the lot, for a month before it; its last, for one after.
    joined_on: date | None = None
    left_after: date | None = None
    #: For a declared month: the day its latest version was recorded (local), and whether it
    #: was a correction.
    recorded_on: date | None = None
    corrected: bool = False
    #: For a month still owed: a later email that carried a link of it still valid.
    newer: NewerLink | None = None


class LinkExpired(LinkRefused):
    """Ce lien de déclaration a expiré (what follows for its month in ``expired``)."""

    def __init__(self, scope: LinkScope, expired: ExpiredLink) -> None:
        super().__init__(LinkProblem.EXPIRED, scope)
        self.expired = expired


def _expired(session: Session, app: App, scope: LinkScope, now: datetime) -> ExpiredLink:
    """What follows for the month of an expired link, as the service will do it: nothing for a
    lot closed or abandoned or a month after its end; a link with the month's next call or
    reminder to the company when one is still to leave; else the facilitator's."""
    clause = session.get(Clause, scope.clause_id)
    if clause is None:
        return ExpiredLink(scope.month, ExpiredFollow.ASK)
    context = lot_context(lot_of(clause))
    facts = {
        "lot_number": context["lot_number"],
        "lot_title": context["lot_title"],
        "market": context["market"],
    }
    company_id = _company_on_lot(session, clause, scope.company_id)
    declared = session.execute(
        select(Declaration.recorded_at, Declaration.replaced_recorded_at).where(
            Declaration.clause_id == clause.id,
            Declaration.company_id == company_id,
            Declaration.month == scope.month,
        )
    ).first()
    if declared is not None:
        recorded_at, replaced = declared
        return ExpiredLink(
            scope.month,
            ExpiredFollow.DECLARED,
            recorded_on=local_date(recorded_at, app.settings.zone),
            corrected=replaced is not None,
            **facts,
        )
    if Stage(clause.stage) in FINAL_STAGES:
        return ExpiredLink(scope.month, ExpiredFollow.STOPPED, over=_over(clause), **facts)
    ended_on = _released_by(clause, scope.month)
    if ended_on is not None:
        return ExpiredLink(scope.month, ExpiredFollow.RELEASED, ended_on=ended_on, **facts)
    start = clause.start_date
    party = next((p for p in clause.parties if p.company_id == company_id), None)
    joined = _joined_after_start(party.first_month if party else None, start, scope.month)
    if joined is not None:
        return ExpiredLink(scope.month, ExpiredFollow.NOT_JOINED, joined_on=joined, **facts)
    if start is not None and scope.month < month_start(start):
        # Not asked since the start was corrected: « répondez au courriel reçu avec votre
        # tableau » would invite it to declare a month no one asks of it.
        return ExpiredLink(scope.month, ExpiredFollow.BEFORE_START, starts_on=start, **facts)
    last = party.last_month if party else None
    if last is not None and scope.month > last:
        # Left the site after the link was sent: the same invitation would be as untrue.
        return ExpiredLink(scope.month, ExpiredFollow.LEFT, left_after=last, **facts)
    to_come = session.scalar(
        select(DeclarationLadder.id).where(
            DeclarationLadder.clause_id == clause.id,
            DeclarationLadder.company_id == company_id,
            DeclarationLadder.month == scope.month,
            DeclarationLadder.declared_at.is_(None),
            DeclarationLadder.next_step_at.is_not(None),
            DeclarationLadder.next_step.not_in([LadderStep.ESCALATION, LadderStep.DONE]),
        )
    )
    follows = ExpiredFollow.REMINDER if to_come is not None else ExpiredFollow.ASK
    today = local_date(now, app.settings.zone)
    companies = {scope.company_id, company_id}
    newer = newer_link(session, app.settings, clause.id, companies, scope.month, today)
    return ExpiredLink(scope.month, follows, newer=newer, **facts)


def _joined_after_start(joined: date | None, start: date | None, month: date) -> date | None:
    """The company's first month on the lot when ``month`` comes before it and it is later than
    the start's month, else None: then the company's own first month, not the start's, is the
    first one asked of it, and what a page of ``month`` must name."""
    if joined is None or month >= joined:
        return None
    return joined if start is None or joined > month_start(start) else None


def _company_on_lot(session: Session, clause: Clause, company_id: int) -> int:
    """The link's company on the lot: itself, or the company it was merged into since (one
    company recorded twice: its awards, ladders and declarations moved to the record that
    stays); itself again when neither is on the lot (``_page`` refuses it).

    The lot's parties are read once (``_page`` finds them loaded); the history of merges is read
    only when the link's company is not among them."""
    parties = {p.company_id for p in clause.parties}
    if company_id in parties:
        return company_id
    survivor = merged_into(session, RecordKind.COMPANY, company_id)
    if survivor is None or survivor not in parties:
        return company_id  # removed from the lot (a corrected award)
    return survivor


def _scope(session: Session, app: App, token: str, now: datetime) -> LinkScope:
    """What the link followed allows today: ``LinkRefused`` when it is not one of ours,
    ``LinkExpired`` (saying what follows for its month) when it has expired. A link names the
    company it was emailed to, or the company that one was merged into since
    (``_company_on_lot``). Every way in (page, check, file, declaration) reads its link here."""
    try:
        scope = read_link(session, app.settings, token, now)
    except LinkRefused as error:
        if error.problem is LinkProblem.EXPIRED and error.scope is not None:
            raise LinkExpired(error.scope, _expired(session, app, error.scope, now)) from None
        raise
    clause = session.get(Clause, scope.clause_id)
    if clause is None:
        return scope
    return replace(scope, company_id=_company_on_lot(session, clause, scope.company_id))


def _page(session: Session, app: App, scope: LinkScope, now: datetime) -> DeclarationPage:
    clause = session.get(Clause, scope.clause_id)
    company = session.get(Company, scope.company_id)
    if (
        clause is None
        or company is None
        or company.id not in {p.company_id for p in clause.parties}
    ):
        # The company left the lot since the email (a corrected award), itself or the company
        # it was merged into (``_scope`` followed the merge): the link is void.
        raise InputRefused(
            "Ce lien de déclaration ne correspond plus à un lot de votre entreprise : "
            "l'attribution a changé depuis l'envoi du courriel."
        )
    state = _month_state(session, app, clause, company, scope.month, now)
    existing, problems, ended_on = state.existing, state.problems, state.ended_on
    joined_on, stopped, before_start = state.joined_on, state.stopped, state.before_start
    context = lot_context(lot_of(clause))
    due_on = month_due_dates(session, app.settings, clause.id, company.id, [scope.month])[
        scope.month
    ]
    # The emails' rule (``notices.owed_due_dates``): a month its suspended lot has not called
    # yet has no date, the scheduled one passed uncalled; it is asked after the resumption.
    # A month already declared is asked of nobody: never « pas encore été demandé ».
    told = owed_due_dates(session, clause, company.id, app.settings, now)
    undated = scope.month in told and told[scope.month] is None
    at_resumption = existing is None and undated
    # The date the emails give: a called month's pushed by the days its lot spent suspended
    # after the call (the ladder's reminders count from it), not the call's bare date.
    due_on = told.get(scope.month) or due_on
    late = existing is None and not problems and not at_resumption
    return DeclarationPage(
        company=company.name,
        title=context["title"],
        buyer=context["buyer"],
        market=context["market"],
        lot=context["lot"],
        lot_number=context["lot_number"],
        lot_title=context["lot_title"],
        month=scope.month,
        opens_on=opens_on(scope.month),
        due_on=due_on,
        late_days=working_days_between(due_on, local_date(now, app.settings.zone)) if late else 0,
        at_resumption=at_resumption,
        undated=undated,
        not_started=clause.stage in NOT_STARTED and existing is None and before_start is None,
        before_start=None if stopped else before_start,
        expires_on=scope.expires_on,
        closed_because=" ".join(problems) or None,
        ended_on=ended_on,
        stopped=stopped,
        over=_over(clause) if stopped else None,
        known=tuple(known_people(session, clause.id, company.id, scope.month)),
        recorded=None
        if existing is None
        else tuple(
            RecordedLine(
                line.participant.reference,
                line.hours,
                label_of(CONTRACT_LABELS, line.contract_type),
                label_of(DELIVERY_MODE_LABELS, line.delivery_mode),
                line.contract_type,
                line.delivery_mode,
            )
            for line in existing.lines
        ),
        recorded_total=None if existing is None else existing.total_hours,
        # In the service's zone: one saved at 00:30 in Paris is of that day, as its receipt says.
        recorded_at=None
        if existing is None
        else existing.recorded_at.astimezone(app.settings.zone),
        recorded_by=None if existing is None else existing.recorded_by,
        joined_on=None if stopped else joined_on,
        left_after=None if stopped else _left_after(clause, company.id, scope.month),
    )


def _left_after(clause: Clause, company_id: int, month: date) -> date | None:
    """The company's last month on the lot when ``month`` follows it, else None."""
    last = next((p.last_month for p in clause.parties if p.company_id == company_id), None)
    return last if last is not None and month > last else None


@dataclass(frozen=True)
class _MonthState:
    """What the page of one month of a company on a lot is told about declaring it."""

    existing: Declaration | None
    #: Why the month cannot be declared now; empty when it can.
    problems: list[str]
    ended_on: date | None
    joined_on: date | None
    stopped: bool
    before_start: date | None = None


def _month_state(
    session: Session, app: App, clause: Clause, company: Company, month: date, now: datetime
) -> _MonthState:
    """Whether ``month`` can be declared now by the company from its own link, and why not:
    the page of that month's link, and the months a template sent from another of its links may
    also declare (``covered_months``), follow the same rules."""
    existing = find_declaration(session, clause.id, company.id, month)
    problems = declaration_problems(
        session,
        clause,
        company,
        month,
        now=now,
        replace=True,
        zone=app.settings.zone,
        from_company=True,
    )
    if existing is not None and existing.validated_at is not None:
        # Checked by the facilitator: a replayed link may show it, never change it.
        problems.insert(
            0,
            f"Cette déclaration a été validée le {french_date(existing.validated_at)} par "
            f"{existing.validated_by} : elle ne peut plus être modifiée ici. Une erreur ? "
            "Écrivez à la facilitatrice, qui la corrigera.",
        )
    context = lot_context(lot_of(clause))
    ended_on = _released_by(clause, month)
    if ended_on is not None:
        # The month is no longer owed: one sentence for the company, which the other rules
        # (the CLI's refusal naming the facilitator's clause number, the finished stage) would
        # only blur. Read from the current end date: corrected later, the month is owed again.
        problems = [_released_reason(month, context, ended_on)]
    joined = joined_month(session, clause.id, company.id)
    joined_on = joined if joined is not None and month < joined else None
    if existing is not None or ended_on is not None:
        joined_on = None  # a month recorded stays correctable; a released one says why above
    if joined_on is not None:
        # The refusal's words are the facilitator's (the award to correct): the company reads
        # that the month is not asked of it, and whom to write to if it worked then.
        problems = [_not_joined_reason(month, context, joined_on, app.settings)]
    if clause.stage in NOT_STARTED and existing is None:
        # The stage's refusal is the facilitator's (« est à l'étape « attribution » : les heures
        # se déclarent pendant la mise en œuvre »): the company its welcome sent here reads that
        # the start is to be recorded, and that the call will bring the date (user trial).
        problems = [_not_started_reason(month, context, app.settings)]
    start = clause.start_date
    # A month recorded is never before the start (the start may not move past it).
    before_start = (
        start if start is not None and month < month_start(start) and existing is None else None
    )
    if joined_on is not None and _joined_after_start(joined_on, start, month) is not None:
        # Its first month is later than the start's: « le premier mois à déclarer est {start} »
        # would be untrue of it; the refusal above names its own.
        before_start = None
    if before_start is not None:
        # The link was sent when the start was earlier (corrected since): the refusal's words
        # (« Le mois … précède le démarrage de la clause n° 3 (01/03/2027) ») are the
        # facilitator's; the company reads that the month is no longer asked, and why.
        problems = [_before_start_reason(month, context, before_start, app.settings)]
    stopped = Stage(clause.stage) in FINAL_STAGES
    if stopped and ended_on is None:
        # The stage's refusal names the facilitator's clause number and her stages
        # (« est à l'étape « clôturée » »): the company reads that nothing is expected.
        problems = [_stopped_reason(month, clause, context, app.settings)]
    return _MonthState(existing, problems, ended_on, joined_on, stopped, before_start)


def covered_months(
    session: Session, app: App, scope: LinkScope, now: datetime, *, owed_only: bool = False
) -> list[_Covered]:
    """The months a filled template sent from the link of ``scope`` may declare: its own, and
    every other month of the same company on the same lot that was asked of it (opened, so
    called or to be called: its ladder) or that it owes now (``company_missing_months``: the
    months of a welcome, whose ladders the next pass arms), and that the page of that month's
    own link would let it declare now (not after its departure, not before it joined, not a
    month to come, not a lot stopped or ended, not a month the facilitator validated). A month
    recorded already is replaced, as that page replaces it. A catch-up call's or a welcome's
    template covers several months: the company sends it once, from any of the email's links.
    ``owed_only``: the months not declared yet alone (what the page's note names), read without
    the others."""
    clause = session.get_one(Clause, scope.clause_id)
    company = session.get_one(Company, scope.company_id)
    asked = set(
        session.scalars(
            select(DeclarationLadder.month).where(
                DeclarationLadder.clause_id == scope.clause_id,
                DeclarationLadder.company_id == scope.company_id,
                DeclarationLadder.declared_at.is_(None) if owed_only else true(),
            )
        )
    )
    # A company welcomed during the works owes its months before any ladder is armed for them.
    asked.update(
        company_missing_months(session, clause, company.id, now=now, zone=app.settings.zone)
    )
    covered = []
    for month in sorted(asked | {scope.month}):
        state = _month_state(session, app, clause, company, month, now)
        if month == scope.month or not state.problems:
            covered.append(_Covered(month, state.existing is not None))
    return covered


@dataclass(frozen=True)
class _Covered:
    month: date
    recorded: bool


def validated_months(session: Session, app: App, scope: LinkScope) -> dict[date, str]:
    """Why a file from the link of ``scope`` may not declare a month of the company on the lot
    that the facilitator validated (``covered_months`` leaves it out): the month named, not
    only what the link allows; the file is refused whole."""
    rows = session.execute(
        select(Declaration.month, Declaration.validated_at, Declaration.validated_by).where(
            Declaration.clause_id == scope.clause_id,
            Declaration.company_id == scope.company_id,
            Declaration.validated_at.is_not(None),
        )
    ).all()
    return {
        month: validated_message(month, local_date(at, app.settings.zone), by)
        for month, at, by in rows
        if at is not None
    }


def _released_by(clause: Clause, month: date) -> date | None:
    """The lot's end of execution when ``month`` comes after its month (finished or corrected
    earlier since the link was sent), else None."""
    end = clause.end_date
    return end if end is not None and month > month_start(end) else None


def _released_reason(month: date, context: dict[str, Any], ended_on: date) -> str:
    """The refusal of a check or a declaration for a released month (the page words it)."""
    return (
        f"{french_month(month).capitalize()} ne vous est plus demandé : l'exécution du "
        f"{context['lot_phrase']} (marché {context['market']}) s'est achevée le "
        f"{french_date(ended_on)}. Vous n'avez rien à déclarer pour ce mois."
    )


def _not_joined_reason(
    month: date, context: dict[str, Any], joined: date, settings: Settings
) -> str:
    """Why a month before the one the company joined the lot is not asked, and whom to ask."""
    phone = f", {settings.facilitator_phone}" if settings.facilitator_phone else ""
    return (
        f"{french_month(month).capitalize()} ne vous est pas demandé : votre entreprise "
        f"déclare sur le {context['lot_phrase']} (marché {context['market']}) à partir "
        f"{month_phrase(joined)}, premier mois retenu quand elle a rejoint les travaux. Si elle y "
        f"a travaillé en {french_month(month)}, écrivez à {settings.facilitator_name} "
        f"({settings.facilitator_email}{phone}) avant de déclarer ces heures."
    )


def _not_started_reason(month: date, context: dict[str, Any], settings: Settings) -> str:
    """Why a month of a lot whose start is not recorded cannot be declared yet, and when."""
    phone = f", {settings.facilitator_phone}" if settings.facilitator_phone else ""
    return (
        f"Le démarrage des travaux du {context['lot_phrase']} (marché {context['market']}) n'est "
        f"pas encore enregistré : vous pourrez déclarer {french_month(month)} sur cette page dès "
        "qu'il le sera. Mon appel à déclarer vous donnera alors sa date limite. Si les travaux "
        f"ont commencé, écrivez à {settings.facilitator_name} ({settings.facilitator_email}"
        f"{phone})."
    )


def _before_start_reason(
    month: date, context: dict[str, Any], start: date, settings: Settings
) -> str:
    """Why a month before the lot's start (corrected since the link was sent) is not asked."""
    phone = f", {settings.facilitator_phone}" if settings.facilitator_phone else ""
    return (
        f"{french_month(month).capitalize()} ne vous est plus demandé : le démarrage de "
        f"l'exécution du {context['lot_phrase']} (marché {context['market']}) est fixé au "
        f"{french_date(start)}, et le premier mois à déclarer est {french_month(start)}. Vous "
        f"n'avez rien à déclarer pour {french_month(month)}. Si votre entreprise a travaillé "
        f"sur ce lot en {french_month(month)}, écrivez à {settings.facilitator_name} "
        f"({settings.facilitator_email}{phone})."
    )


def _over(clause: Clause) -> str:
    """How a page says a lot's follow-up is over: closed, or abandoned."""
    return "clôturé" if clause.stage == Stage.CLOSED.value else "arrêté"


def _stopped_reason(
    month: date, clause: Clause, context: dict[str, Any], settings: Settings
) -> str:
    """Why a lot whose follow-up is over (closed or abandoned) asks nothing, and whom to ask."""
    over = _over(clause)
    facilitator = settings.facilitator_name
    email = settings.facilitator_email
    phone = f", {settings.facilitator_phone}" if settings.facilitator_phone else ""
    return (
        f"Le suivi des heures d'insertion du {context['lot_phrase']} (marché "
        f"{context['market']}) est {over} : aucune déclaration n'est plus attendue pour "
        f"{french_month(month)}, vous n'avez rien à faire. Pour toute question, écrivez à "
        f"{facilitator} ({email}{phone})."
    )


def declaration_page(app: App, token: str) -> DeclarationPage:
    """The page of ``token``; ``LinkRefused`` or ``InputRefused`` (in French) for a link that
    allows nothing."""
    now = app.clock()
    with reading(app) as session:
        scope = _scope(session, app, token, now)
        page = _page(session, app, scope, now)
        if not page.can_declare:
            return page
        covered = covered_months(session, app, scope, now, owed_only=True)
        owed = [c.month for c in covered if not c.recorded]
        return replace(page, owed_months=tuple(sorted(set(owed))))


@dataclass(frozen=True)
class CheckedLine:
    reference: str
    hours: Decimal
    contract: str
    mode: str
    criterion: str | None  # the label, for a person new to the service
    identity: str = ""  # « femme, née en 1987 », when a filled template gave it


def people_said(lines: Sequence[CheckedLine]) -> str:
    """Who ``lines`` declare, in the words ``clauses declaration import`` says them: those who
    worked, and apart those declared at 0 h (« 3 participants ayant travaillé (1 autre déclaré
    à 0 h) »), not one count of both (user trial: « 4 personnes » with one at 0 h)."""
    at_zero = sum(1 for line in lines if line.hours == 0)
    return participants_phrase(len(lines) - at_zero, at_zero)


@dataclass(frozen=True)
class CheckedMonth:
    """One month of the form or file read back, with whether it replaces a recorded one."""

    month: date
    lines: tuple[CheckedLine, ...]
    replaces: bool
    #: The lines are those recorded already: confirming changes nothing for the month.
    unchanged: bool = False
    #: What is recorded for the month when ``replaces``: its total hours, its number of people
    #: and the day it was received (local), for the page to say what a correction replaces
    #: (« celle que vous aviez envoyée le 5 novembre 2026 (370,17 h, 3 personnes) »).
    recorded_total: Decimal | None = None
    recorded_people: int | None = None
    recorded_on: date | None = None

    @property
    def total(self) -> Decimal:
        return sum((line.hours for line in self.lines), Decimal(0))

    @property
    def people_said(self) -> str:
        """« 3 participants ayant travaillé (1 autre déclaré à 0 h) »: ``people_said``."""
        return people_said(self.lines)

    @property
    def corrects(self) -> bool:
        """The month was recorded and the form changes it: its declaration is replaced."""
        return self.replaces and not self.unchanged


@dataclass(frozen=True)
class CheckedDeclaration:
    """The form read back for the company to confirm: nothing is written yet. ``months``: each
    month it declares, in order (one for a typed form, several for a template of a call that
    asked several); ``lines`` all their lines."""

    page: DeclarationPage
    lines: tuple[CheckedLine, ...]
    zero: bool
    months: tuple[CheckedMonth, ...] = ()

    @property
    def total(self) -> Decimal:
        return sum((line.hours for line in self.lines), Decimal(0))

    @property
    def people_said(self) -> str:
        """Who the form declares, in the words of the import (``people_said``)."""
        return people_said(self.lines)

    @property
    def several(self) -> bool:
        return len(self.months) > 1

    @property
    def first_months(self) -> tuple[date, ...]:
        """The months declared for the first time."""
        return tuple(m.month for m in self.months if not m.replaces)

    @property
    def corrected_months(self) -> tuple[date, ...]:
        """The months recorded before whose declaration the form replaces (a correction)."""
        return tuple(m.month for m in self.months if m.corrects)

    @property
    def unchanged_months(self) -> tuple[date, ...]:
        """The months recorded before with these very lines: nothing changes for them."""
        return tuple(m.month for m in self.months if m.unchanged)


def _parsed(
    session: Session,
    app: App,
    scope: LinkScope,
    page: DeclarationPage,
    lines: Sequence[LineForm],
    zero: bool,
    now: datetime,
    zero_months: Sequence[str] = (),
) -> dict[date, list[ParsedLine]]:
    """The lines to record, month by month (their people as the lot knows them), or
    ``FormRefused`` with every problem of every month. A line names its month when it was read
    from a template covering several, as ``zero_months`` (a template's months declared at zero
    hours, ``FileLines.zero_months``) name theirs; each month must be one the link covers
    (``covered_months``): the posted month is the company's browser's, never trusted."""
    known = [person.reference for person in page.known]
    known += [line.reference for line in page.recorded or ()]
    grouped, at_zero_months, problems = _by_month(
        session, app, scope, page, lines, zero, now, zero_months
    )
    recorded = {line.reference: line.hours for line in page.recorded or ()}
    found: dict[date, list[ParsedLine]] = {}
    for month, numbered in grouped.items():
        month_lines = [line for _, line in numbered]
        # A template's month declared at zero hours, or a row of « 0 » naming nobody alone in
        # its month (the form showing such a month to correct it, ``zero_line``).
        at_zero = (
            all(no_hours(line) for line in month_lines) if month_lines else month in at_zero_months
        )
        parsed, month_problems = parse_form(
            session,
            canonical_references(month_lines, known),
            zero or at_zero,
            now=now,
            # The month as recorded, shown back by the form: ticking the box corrects it.
            recorded=recorded if month == scope.month else None,
        )
        found[month] = parsed
        # Numbered as the whole form numbers its lines (a file's row is in ``origin``).
        problems += [
            replace(problem, line=numbered[problem.line - 1][0])
            if problem.line is not None
            else problem
            for problem in month_problems
        ]
    if problems:
        raise FormRefused(problems)
    return found


def _by_month(
    session: Session,
    app: App,
    scope: LinkScope,
    page: DeclarationPage,
    lines: Sequence[LineForm],
    zero: bool,
    now: datetime,
    zero_months: Sequence[str] = (),
) -> tuple[dict[date, list[tuple[int, LineForm]]], set[date], list[FormProblem]]:
    """The form's lines by the month they declare, each with its number in the form, the
    months declared at zero hours among them (``zero_months``, each with no line), and the
    problems of the months named (unreadable, or not covered by the link)."""
    grouped: dict[date, list[tuple[int, LineForm]]] = {scope.month: []}
    at_zero: set[date] = set()
    problems: list[FormProblem] = []
    if zero:
        # « aucune heure ce mois-ci »: the link's month, and it alone; its lines kept, for any
        # hours typed over the box to be refused, not dropped (``hours_over_zero``).
        grouped[scope.month] = list(enumerate(lines, start=1))
        return grouped, at_zero, problems
    allowed: list[date] | None = None
    refused: dict[date, str] = {}
    said_of: set[date] = set()  # a month refused is said once, on its first line (as a file)
    # The months at zero first (a file's « 0 » line with no participant), then the lines.
    named: list[tuple[int | None, str, LineForm | None]]
    named = [(None, month_text, None) for month_text in zero_months]
    named += [(number, line.month, line) for number, line in enumerate(lines, start=1)]
    for number, month_text, line in named:
        month = scope.month
        if month_text.strip() and month_text.strip() != scope.month.isoformat():
            try:
                month = date.fromisoformat(month_text.strip())
            except ValueError:
                problems.append(FormProblem(number, "mois", f"« {month_text} » n'est pas un mois."))
                continue
            if allowed is None:
                allowed = [c.month for c in covered_months(session, app, scope, now)]
                refused = validated_months(session, app, scope)
            if month not in allowed:
                if month not in said_of:
                    said_of.add(month)
                    said = refused.get(month) or outside_message(page.company, month, allowed)
                    problems.append(FormProblem(number, None, said))
                continue
        numbered = grouped.setdefault(month, [])
        if line is None or number is None:
            at_zero.add(month)
        else:
            numbered.append((number, line))
    if len(grouped) > 1 and not grouped[scope.month] and scope.month not in at_zero:
        del grouped[scope.month]  # a template of other months only: this one is not declared
    return dict(sorted(grouped.items())), at_zero, problems


def check_declaration(
    app: App,
    token: str,
    lines: Sequence[LineForm],
    *,
    zero: bool,
    zero_months: Sequence[str] = (),
) -> CheckedDeclaration:
    """The form as it would be recorded, or ``FormRefused``; writes nothing. ``zero_months``:
    the months a template declared at zero hours (``FileLines.zero_months``), ISO dates."""
    now = app.clock()
    with reading(app) as session:
        scope = _scope(session, app, token, now)
        page = _page(session, app, scope, now)
        if page.closed_because is not None:
            raise FormRefused([FormProblem(None, None, page.closed_because)])
        by_month = _parsed(session, app, scope, page, lines, zero, now, zero_months)
        months = []
        for month, parsed in by_month.items():
            recorded = find_declaration(session, scope.clause_id, scope.company_id, month)
            months.append(
                CheckedMonth(
                    month,
                    tuple(_checked(line) for line in parsed),
                    recorded is not None,
                    same_as_recorded(recorded, parsed),
                    **_recorded_figures(recorded, app.settings.zone),
                )
            )
        every = tuple(line for month in months for line in month.lines)
        return CheckedDeclaration(page, every, zero, tuple(months))


def _recorded_figures(recorded: Declaration | None, zone: ZoneInfo) -> dict[str, Any]:
    """What a month's recorded declaration holds, as its correction's check page names it: its
    total, its people, the day it was received (as its receipt dates it); nothing when none."""
    if recorded is None:
        return {}
    return {
        "recorded_total": recorded.total_hours,
        "recorded_people": len({line.participant_id for line in recorded.lines}),
        "recorded_on": local_date(recorded.recorded_at, zone),
    }


def _checked(line: ParsedLine) -> CheckedLine:
    return CheckedLine(
        line.reference,
        line.hours,
        CONTRACT_LABELS[line.contract],
        DELIVERY_MODE_LABELS[line.mode],
        None if line.criterion is None else CRITERION_LABELS[line.criterion],
        _identity(line),
    )


def _identity(line: ParsedLine) -> str:
    said = []
    if line.sex is not None:
        said.append("femme" if line.sex is Sex.FEMALE else "homme")
    if line.birth_year is not None:
        said.append(f"{'née' if line.sex is Sex.FEMALE else 'né'} en {line.birth_year}")
    return ", ".join(said)


def refuse_file_size(filename: str, size: int) -> None:
    """A file larger than a declaration file may be, refused as the importer refuses it, with
    its size and the advice (« fichier de 25,1 Mo, au-delà de la limite de 20 Mo par import :
    découpez-le, par exemple un fichier par lot ou par mois »): the page reads no more of it
    than the limit."""
    DECLARATION_LIMITS.check_size(size, filename)


def lines_of_file(app: App, token: str, filename: str, data: bytes) -> FileLines:
    """The lines of an uploaded template, to be checked and confirmed as typed ones are;
    ``FileRefused`` names each line that is wrong. Writes nothing."""
    now = app.clock()
    with reading(app) as session:
        scope = _scope(session, app, token, now)
        _page(session, app, scope, now)  # a link that allows nothing reads no file
        allowed = [c.month for c in covered_months(session, app, scope, now)]
        return lines_from_file(
            session,
            data,
            filename,
            scope,
            allowed=allowed,
            refusals=validated_months(session, app, scope),
            now=now,
            zone=app.settings.zone,
        )


@dataclass(frozen=True)
class Declared:
    """What a confirmation recorded, month by month, as the page thanking for it says it."""

    #: The declarations' N°s, in the order of months.
    ids: tuple[int, ...]
    #: The months declared for the first time.
    recorded: tuple[date, ...] = ()
    #: The months recorded before whose declaration was replaced (a correction).
    corrected: tuple[date, ...] = ()
    #: The months whose lines were those recorded: nothing written for them.
    unchanged: tuple[date, ...] = ()


def declare_online(
    app: App,
    token: str,
    lines: Sequence[LineForm],
    *,
    zero: bool,
    zero_months: Sequence[str] = (),
) -> Declared:
    """Record the month of ``token`` from the form, or each month of a template covering
    several (``covered_months``): all of them or, at the first problem, nothing
    (``FormRefused`` lists every problem with its line). A month whose lines are those recorded
    records nothing (a reload, a double click, the same file sent again): no history row, no
    second receipt. What was recorded, corrected or left as it was, month by month."""
    with unit_of_work(app) as unit:
        session = unit.session
        scope = _scope(session, app, token, unit.now)
        page = _page(session, app, scope, unit.now)
        if page.closed_because is not None:
            raise FormRefused([FormProblem(None, None, page.closed_because)])
        by_month = _parsed(session, app, scope, page, lines, zero, unit.now, zero_months)
        actor = f"{page.company} (déclaration en ligne)"
        ids = []
        said: dict[str, list[date]] = {"recorded": [], "corrected": [], "unchanged": []}
        # The months' events wait until every month is recorded: each receipt then lists as
        # still owed only what is (the file's next months recorded too), as separate links would.
        pending: list[DomainEvent] = []

        def hold(_: Session, event: DomainEvent) -> None:
            pending.append(event)

        for month, parsed in by_month.items():
            recorded = find_declaration(session, scope.clause_id, scope.company_id, month)
            if recorded is not None and same_as_recorded(recorded, parsed):
                ids.append(recorded.id)
                said["unchanged"].append(month)
                continue
            said["recorded" if recorded is None else "corrected"].append(month)
            inputs = line_inputs(session, parsed, unit.now)
            # Each month as its own link would record it: its history row, its receipt (keyed by
            # its declaration), its ladder stopped; a refusal of any rolls every month back.
            ids.append(
                record_declaration(
                    session,
                    clause_id=scope.clause_id,
                    company_id=scope.company_id,
                    month=month,
                    lines=inputs,
                    actor=actor,
                    now=unit.now,
                    source=ONLINE_SOURCE,
                    publish=hold,
                    replace=recorded is not None,
                    zone=app.settings.zone,
                    from_company=True,
                ).id
            )
        # Each month's events, then one for the months together (``grouped``).
        for event in grouped(pending):
            unit.app.publish(session, event)
        return Declared(tuple(ids), **{k: tuple(v) for k, v in said.items()})
