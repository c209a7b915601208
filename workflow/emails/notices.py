"""The buyer's notices: one at each milestone of its lot, with the figures once work is done.

Buyer emails carry counts, never a participant's reference (``ClauseResults.report_text`` comes
masked). ``services.notices`` decides when one leaves and reads the values; this module says
which kinds there are and what their templates read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from workflow.adapters.templates import french_date, french_month
from workflow.domain.calendar import add_months, month_runs, month_start, months_between
from workflow.domain.events import NOT_BOUND, AwardChange
from workflow.domain.stages import ClauseEvent, Stage
from workflow.emails.end_counts import SAMPLE_COUNTS, declarations_context
from workflow.emails.family import EmailFamily, Sample
from workflow.emails.lots import Lot, Party, lot_context, parties_context, schedule_context
from workflow.emails.phrases import months_said
from workflow.emails.samples import BUYER_CONTACT, LOT, PARTIES

if TYPE_CHECKING:
    from workflow.settings import Settings

#: Stage changes a buyer hears of. Entering drafting is left out: the identification notice has
#: just said the facilitator is writing the clause. Closing is left out: the final report said it.
ADVANCE_NOTICES: dict[ClauseEvent, str] = {
    ClauseEvent.AWARD: "notice_drafted",  # drafting -> award: clause written, tender launched
    ClauseEvent.START: "notice_execution_started",
    ClauseEvent.SUSPEND: "notice_suspended",
    ClauseEvent.RESUME: "notice_resumed",
    ClauseEvent.FINISH: "notice_execution_ended",
    # A termination is an end: the same notice, which says it was terminated, and why
    # (``services.terminations``).
    ClauseEvent.TERMINATE: "notice_execution_ended",
    ClauseEvent.ABANDON: "notice_abandoned",
}

KINDS = (
    "notice_identified",
    "notice_drafted",
    "notice_awarded",
    "notice_execution_started",
    "notice_execution_ended",
    "notice_final_report",
    "notice_abandoned",
    "notice_suspended",
    "notice_resumed",
    "notice_reopened",
    "notice_award_corrected",
    "notice_planned_end",
    "notice_end_corrected",
)
#: The notice of a lot's end corrected (``clauses clause end-date``).
END_CORRECTED = "notice_end_corrected"
#: Kinds whose context carries the clause's results (hours done, outcomes...).
RESULT_KINDS = frozenset({"notice_execution_ended", "notice_final_report", END_CORRECTED})
#: Kinds sent whatever the buyer's notice preference.
ALWAYS_SENT_KINDS = frozenset({"notice_final_report"})
#: Kinds that quote the reason the facilitator gave for the change (others have a fixed one).
REASON_KINDS = frozenset(KINDS) - {
    "notice_identified",
    "notice_awarded",
    "notice_final_report",
    "notice_award_corrected",
    END_CORRECTED,
}
#: Kinds whose context reads their history row: the reason quoted (``REASON_KINDS``), or only
#: the dates it tells (an end corrected: its row also holds what the correction did to each
#: company's months, written for the facilitator, and the reason, never quoted to the buyer), or
#: the declarations not received when the final report was recorded (``outstanding_of``).
HISTORY_KINDS = REASON_KINDS | {END_CORRECTED, "notice_final_report"}

#: The history row of a final report (``services.clauses.record_final_report``).
FINAL_REPORT_REASON = "bilan de l'opération enregistré"
#: What follows it when declarations were still missing: « Bâtiments Sud (04/2026, 05/2026) ».
_OUTSTANDING_MARK = " ; déclarations non reçues, hors du total : "
_OUTSTANDING_ITEM = re.compile(
    r"\s*(?P<name>.+?) \((?P<months>\d{2}/\d{4}(?:, \d{2}/\d{4})*)\)\s*(?:;|$)"
)


@dataclass(frozen=True)
class Outstanding:
    """The months a company of the lot owes and has not declared (``declaration list
    --missing``'s, late or not yet due): their hours are in no total."""

    company: str
    months: tuple[date, ...]
    company_id: int | None = None
    #: Of ``months``, those not late yet (their due date to come), with that date: the
    #: facilitator's warnings tell them from the months late. Not compared: the months owed
    #: are the same whatever day they are read.
    not_due: tuple[tuple[date, date], ...] = field(default=(), compare=False)


def outstanding_reason(outstanding: Sequence[Outstanding]) -> str:
    """The history row of a final report: « bilan de l'opération enregistré », then the months
    not received when it was, by company (``outstanding_of`` reads them back for the buyer)."""
    if not outstanding:
        return FINAL_REPORT_REASON
    items = " ; ".join(
        f"{o.company} ({', '.join(f'{m:%m/%Y}' for m in sorted(o.months))})" for o in outstanding
    )
    return FINAL_REPORT_REASON + _OUTSTANDING_MARK + items


def outstanding_of(reason: str | None) -> list[Outstanding]:
    """The months not received that a final report's history row names (``outstanding_reason``);
    none from any other row."""
    if not reason or not reason.startswith(FINAL_REPORT_REASON + _OUTSTANDING_MARK):
        return []
    found: list[Outstanding] = []
    rest = reason[len(FINAL_REPORT_REASON + _OUTSTANDING_MARK) :]
    for item in _OUTSTANDING_ITEM.finditer(rest):
        months = tuple(date(int(text[3:]), int(text[:2]), 1) for text in item["months"].split(", "))
        found.append(Outstanding(item["name"].strip(), months))
    return found


def outstanding_context(outstanding: Sequence[Outstanding]) -> dict[str, Any]:
    """The declarations not received, by company, as a bilan names them."""
    companies = [
        {
            "name": o.company,
            "months": sorted(o.months),
            "months_count": len(o.months),
            "months_named": months_named(o.months),
            "months_of": months_named(o.months, of=True),
        }
        for o in outstanding
        if o.months
    ]
    return {
        "companies": companies,
        "count": sum(c["months_count"] for c in companies),
        "companies_count": len(companies),
    }


@dataclass(frozen=True)
class Count:
    label: str
    value: int | Decimal


@dataclass(frozen=True)
class CompanyHours:
    name: str
    role: str
    hours_share: int | None
    hours_done: Decimal


@dataclass(frozen=True)
class ClauseResults:
    """Aggregates of one clause (``services.notices.clause_results``); ``report_text`` has
    references masked."""

    hours_done: Decimal = Decimal(0)
    participants: int = 0
    #: Monthly declarations recorded, one per company x month (a lot with two companies owes
    #: two a month).
    declarations_received: int = 0
    by_company: list[CompanyHours] = field(default_factory=list)
    by_mode: list[Count] = field(default_factory=list)
    contracts: list[Count] = field(default_factory=list)
    outcomes: list[Count] = field(default_factory=list)
    #: The same outcomes by type, in the words of the field (« CDI », « Formation courte »).
    outcome_types: list[Count] = field(default_factory=list)
    report_text: str | None = None


def results_context(results: ClauseResults, hours_target: int | None) -> dict[str, Any]:
    ratio = (
        results.hours_done / Decimal(hours_target) if hours_target else None
    )  # None: no target to compare with
    return {
        "hours_done": results.hours_done,
        "hours_target": hours_target,
        "ratio": ratio,
        "reached": ratio is not None and ratio >= 1,
        "participants": results.participants,
        "declarations_received": results.declarations_received,
        "by_company": [vars(c) for c in results.by_company],
        "by_mode": [vars(c) for c in results.by_mode],
        "contracts": [vars(c) for c in results.contracts],
        "outcomes": [vars(c) for c in results.outcomes],
        "outcomes_total": sum(int(c.value) for c in results.outcomes),
        "outcome_types": [vars(c) for c in results.outcome_types],
        "report_text": results.report_text,
    }


def changes_context(changes: Iterable[AwardChange]) -> list[dict[str, str]]:
    return [{"what": c.what, "before": c.before, "after": c.after} for c in changes]


@dataclass(frozen=True)
class EndMove:
    """The planned end of a lot moved (an amendment), ``before`` → ``after``; ``before`` is None
    when the history row no longer tells it."""

    before: date | None
    after: date


def _elided(name: str) -> str:
    """« de » before a month, « d' » before a vowel (« d'avril »)."""
    return f"d'{name}" if name[0] in "aeiouyéâ" else f"de {name}"


def _span_start(run: Sequence[date]) -> str:
    """The first month of a span, its year left to the last one when they share it."""
    name = french_month(run[0])
    return name.rsplit(" ", 1)[0] if run[0].year == run[-1].year else name


def months_named(months: Sequence[date], *, of: bool = False) -> str:
    """« mars 2027 », « janvier, février et mars 2027 », « décembre 2026 et janvier 2027 »; more
    than three months in a row: « d'avril à septembre 2027 », « de novembre 2026 à février
    2027 », among others too (« d'avril 2026 à avril 2027 et de juin 2027 »). ``of``: after a noun, « de » before each month (« les déclarations de janvier, de
    février et de mars 2027 », « d'avril et de mai 2027 »), as French repeats it."""
    ordered = sorted(set(months))
    if not ordered:
        return ""
    names = [french_month(m) for m in ordered]
    same_year = len({m.year for m in ordered}) == 1
    if len(ordered) > 3 and ordered == months_between(ordered[0], ordered[-1]):
        first = names[0].rsplit(" ", 1)[0] if same_year else names[0]
        return f"{_elided(first)} à {names[-1]}"
    runs = month_runs(ordered)
    if any(len(run) > 3 for run in runs):
        # More than three months in a row among others: the run said as a span, the others
        # one by one, each with its year (« d'avril 2026 à avril 2027 et de juin 2027 »,
        # rather than fourteen months one after the other; user trial).
        parts = [
            f"{_elided(_span_start(run))} à {french_month(run[-1])}"
            if len(run) > 3
            else ", ".join(_elided(french_month(m)) if of else french_month(m) for m in run)
            for run in runs
        ]
        return ", ".join(parts[:-1]) + " et " + parts[-1]
    if same_year:
        names = [n.rsplit(" ", 1)[0] for n in names[:-1]] + [names[-1]]
    if of:
        names = [_elided(n) for n in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " et " + names[-1]


def end_move_context(
    lot: Lot, move: EndMove, schedule: Sequence[Mapping[str, date]]
) -> dict[str, Any]:
    """What a moved planned end changes for the declarations, from ``before`` and ``after``: the
    months it adds (each with the due date the ``schedule`` gives it) or the months no longer
    asked. The last month asked is the month of the planned end, unless the work already ended
    (then the month it ended: the move changes no month)."""
    after_month = month_start(move.after)
    due = {entry["month"]: entry["due_on"] for entry in schedule}
    added: list[date] = []
    removed: list[date] = []
    if move.before is not None and lot.end_date is None:
        before_month = month_start(move.before)
        if after_month > before_month:
            added = months_between(add_months(before_month, 1), after_month)
        elif after_month < before_month:
            removed = months_between(add_months(after_month, 1), before_month)
    last_month = month_start(lot.end_date) if lot.end_date is not None else after_month
    return {
        "before": move.before,
        "after": move.after,
        "later": move.before is not None and move.after > move.before,
        "earlier": move.before is not None and move.after < move.before,
        "added": [{"month": m, "due_on": due.get(m)} for m in added],
        "added_count": len(added),
        "added_names": months_named(added),
        "added_of": months_named(added, of=True),
        "removed": removed,
        "removed_count": len(removed),
        "removed_names": months_named(removed),
        "removed_of": months_named(removed, of=True),
        "last_month": last_month,
        "last_due_on": due.get(last_month),
        "ended_on": lot.end_date,
        # Dates are announced only for a lot whose calls run: before the start a late start
        # moves them, during a suspension no call leaves.
        "dated": lot.stage == Stage.EXECUTION.value,
        "suspended": lot.stage == Stage.SUSPENDED.value,
        "not_started": lot.stage == Stage.AWARD.value,
    }


@dataclass(frozen=True)
class EndCorrection:
    """The day a finished lot's work ended, corrected ``before`` → ``after`` (``before`` is None
    when the history row no longer tells it); ``told``: the buyer was told an end before (a
    notice of the end, or of an earlier correction, left), so this one replaces it."""

    before: date | None
    after: date
    told: bool = True
    #: The lot's months a suspension covered whole (``calendar.month_fully_within``): nobody is
    #: asked to declare them, so they are neither asked again nor « no longer asked ».
    suspended: frozenset[date] = frozenset()


def end_correction_context(correction: EndCorrection) -> dict[str, Any]:
    """What a corrected end changes for the declarations: a later end asks again the months
    between the two ends, an earlier one no longer asks the months after it (the month of the
    end is asked either way: the work of its first days is declared). A month the lot spent
    suspended whole is not asked, by either end: it is named in neither list."""
    asked_again: list[date] = []
    released: list[date] = []
    if correction.before is not None:
        before_month, after_month = month_start(correction.before), month_start(correction.after)
        if after_month > before_month:
            asked_again = months_between(add_months(before_month, 1), after_month)
        elif after_month < before_month:
            released = months_between(add_months(after_month, 1), before_month)
    asked_again = [m for m in asked_again if m not in correction.suspended]
    released = [m for m in released if m not in correction.suspended]
    return {
        "suspended": sorted(correction.suspended),
        "before": correction.before,
        "after": correction.after,
        "told": correction.told and correction.before is not None,
        "later": correction.before is not None and correction.after > correction.before,
        "asked_again": asked_again,
        "asked_again_count": len(asked_again),
        "asked_again_of": months_named(asked_again, of=True),
        "released": released,
        "released_count": len(released),
        "released_names": months_named(released),
        "released_of": months_named(released, of=True),
        "last_month": month_start(correction.after),
        # « celle d'octobre 2026 », « celle de novembre 2026 »
        "last_of": months_named([month_start(correction.after)], of=True),
    }


def notice_context(
    lot: Lot,
    parties: Sequence[Party],
    *,
    due_day: int,
    at: date,
    reason: str | None,
    results: ClauseResults | None = None,
    changes: Iterable[AwardChange] | None = None,
    held_since: date | None = None,
    due_dates: Mapping[date, date] | None = None,
    move: EndMove | None = None,
    corrected: EndCorrection | None = None,
    closed_on: date | None = None,
) -> dict[str, Any]:
    """Context of every buyer notice; ``results`` only for the kinds that report figures,
    ``changes`` only for a corrected award, ``move`` only for a planned end moved,
    ``corrected`` only for an end corrected; ``held_since`` only for a notice released late
    (``services.held_notices``): the day it could not leave, its buyer having no contact;
    ``due_dates``: the due date calls already gave for a month (a late notice must not announce
    the scheduled date when the companies were given another); ``closed_on``: the day the clause
    was closed, for a final report written (or written again) once it is: it no longer says the
    clause is still to be closed, nor that a month missing may still be declared."""
    schedule = schedule_context(lot, due_day, due_dates)
    # The months the first call asks together (a late start's catch-up): one due date for all,
    # said of all (the start notice named January alone, due with February and March).
    first = [row["month"] for row in schedule if row["due_on"] == schedule[0]["due_on"]]
    context: dict[str, Any] = {
        "clause": lot_context(lot),
        "buyer": {"name": lot.buyer},
        "at": at,
        "reason": reason,
        "parties": parties_context(parties),
        "schedule": schedule,
        "first_due": None
        if not schedule
        else {"count": len(first), "months": months_said(first), "due_on": schedule[0]["due_on"]},
        "due_day": due_day,
        "results": None if results is None else results_context(results, lot.hours_target),
        "held_since": held_since,
        "closed_on": closed_on,
        "start_passed": lot.start_passed(at),
        # A resumption's notice: the suspension its buyer never read (day, reason), set by
        # ``services.notices.milestone_context`` (``resumption_withdrawals``).
        "untold": None,
        # A planned end's notice replacing those of earlier moves that never left: each move's
        # new end and reason (``services.notices._unread_planned_ends``).
        "end_steps": [],
    }
    outstanding = outstanding_of(reason)
    if outstanding or (reason or "").startswith(FINAL_REPORT_REASON):
        # A final report's row is read for the months it names, never quoted.
        context["reason"] = None
        context["outstanding"] = outstanding_context(outstanding)
    if changes is not None:
        changes = list(changes)
        context["changes"] = changes_context(changes)
        # A company bound by the correction gets its welcome: said only when there is one.
        context["newly_bound"] = any(c.before == NOT_BOUND for c in changes)
    if move is not None:
        context["moved"] = end_move_context(lot, move, context["schedule"])
    if corrected is not None:
        context["corrected"] = end_correction_context(corrected)
    return context


def resumption_context(
    next_call: tuple[date, Sequence[date], date] | None,
    owed: Sequence[tuple[date, str | None, date | None, date | None]],
    skipped: Sequence[date] = (),
    today: date | None = None,
) -> dict[str, Any]:
    """What ``notice_resumed`` tells of the service's next sendings on the lot resumed:
    ``next_call``: the first call that leaves (its day, its months, its due date), None when no
    call is left; ``owed``: each declaration asked before the suspension and still owed (its
    month, the step its ladder sends next, ``escalation`` for the buyer's alert, its day, and
    the due date the company is now held to, pushed by the suspension); ``skipped``: the months
    the suspension covered whole, asked of nobody. The companies' emails give those dates and
    months (user trial: the buyer read « reste attendue (mois de mars 2027) » and no date). A
    due date before ``today`` (the day written) is « date limite passée »: a notice written
    again later names no day gone by but the suspension's and the resumption's."""
    reminders = [on for _, step, on, _ in owed if on is not None and step != "escalation"]
    alerts = [on for _, step, on, _ in owed if on is not None and step == "escalation"]
    months = sorted({m for m, _, _, _ in owed})
    dues: dict[date, date] = {}
    for month, _, _, due_on in owed:
        if due_on is not None:
            dues[month] = max(due_on, dues.get(month, due_on))
    return {
        "next_call": None
        if next_call is None
        else {
            "on": next_call[0],
            "months_count": len(next_call[1]),
            "months_of": months_named(next_call[1], of=True),
            "due_on": next_call[2],
        },
        "owed_count": len(owed),
        "owed_months_count": len(months),
        "owed_months_of": months_named(months, of=True),
        "reminder_on": min(reminders, default=None),
        "alert_on": min(alerts, default=None),
        # Each month owed with its due date (the latest when companies differ), in order:
        # « mars 2027, date limite le 17 juin 2027 ; avril 2027, … ».
        "owed_said": " ; ".join(_due_said(m, dues.get(m), today) for m in months),
        "skipped_count": len(skipped),
        "skipped_names": months_named(skipped),
    }


def _due_said(month: date, due_on: date | None, today: date | None) -> str:
    """« mars 2027, date limite le 17 juin 2027 », « …, date limite passée »."""
    if due_on is None:
        return french_month(month)
    if today is not None and due_on < today:
        return f"{french_month(month)}, date limite passée"
    return f"{french_month(month)}, date limite le {french_date(due_on)}"


# --- the sample -------------------------------------------------------------------------------

#: When each sample milestone happened, and what the facilitator wrote about it.
SAMPLE_MILESTONES: dict[str, tuple[date, str | None]] = {
    "notice_identified": (date(2025, 10, 6), None),
    "notice_drafted": (date(2025, 12, 15), None),
    "notice_awarded": (date(2026, 2, 9), None),
    "notice_execution_started": (date(2026, 3, 2), None),
    "notice_suspended": (date(2026, 8, 3), "Chantier arrêté pendant les fouilles archéologiques"),
    "notice_resumed": (date(2026, 9, 1), "Fouilles terminées, reprise du gros œuvre"),
    "notice_execution_ended": (date(2027, 6, 25), None),
    "notice_final_report": (date(2027, 9, 15), None),
    "notice_abandoned": (date(2026, 1, 12), "Consultation déclarée sans suite"),
    "notice_reopened": (
        date(2026, 1, 26),
        "Consultation relancée : le marché est de nouveau ouvert",
    ),
    "notice_award_corrected": (date(2026, 2, 16), None),
    "notice_planned_end": (date(2027, 2, 15), "Avenant n° 2 : intempéries de l'hiver"),
    END_CORRECTED: (date(2027, 8, 3), None),
}
#: What the sample corrected award changed.
SAMPLE_AWARD_CHANGES = (
    AwardChange(
        "Heures confiées à Bâtiments du Sud-Ouest", "3\u202f700\u00a0h", "3\u202f500\u00a0h"
    ),
    AwardChange(
        "Menuiseries de l'Exemple",
        NOT_BOUND,
        "cotraitant, 1\u202f225\u00a0h d'insertion, correspondant : Inès Moreau",
    ),
    AwardChange("Démarrage", "16 février 2026", "2 mars 2026"),
)
#: The stage the sample clause is reopened at (it was abandoned at the award).
SAMPLE_REOPENED_STAGE = "award"
#: The sample amendment: the end planned on 31 March 2027 moved to 30 June 2027, the work
#: still going on (the sample lot's end date is not known yet).
SAMPLE_END_MOVE = EndMove(date(2027, 3, 31), date(2027, 6, 30))
#: The sample end corrected: « achever » recorded 31 July 2027 for 25 June 2027 (the sample
#: lot's end), so July 2027, never declared, is no longer asked of the companies.
SAMPLE_END_CORRECTION = EndCorrection(date(2027, 7, 31), date(2027, 6, 25))


def sample_results() -> ClauseResults:
    return ClauseResults(
        hours_done=Decimal("4512.5"),
        participants=11,
        declarations_received=32,  # 16 months x 2 companies: all in
        by_company=[
            CompanyHours("Bâtiments du Sud-Ouest", "titulaire", 3500, Decimal("3362.5")),
            CompanyHours("Menuiseries de l'Exemple", "cotraitant", 1225, Decimal("1150")),
        ],
        by_mode=[
            Count("Embauche directe", Decimal("2310")),
            Count("Mise à disposition (ETTI)", Decimal("1702.5")),
            Count("Formation", Decimal("500")),
        ],
        contracts=[
            Count("CDD", 5),
            Count("Intérim d'insertion", 4),
            Count("Contrat d'apprentissage", 2),
        ],
        outcomes=[
            Count("Emploi durable", 3),
            Count("Emploi de transition", 4),
            Count("Sortie positive", 2),
            Count("Autre", 2),
        ],
        outcome_types=[
            Count("CDI", 1),
            Count("Contrat de professionnalisation", 2),
            Count("CDD de moins de 6 mois", 3),
            Count("Contrat aidé", 1),
            Count("Formation qualifiante", 2),
            Count("Formation courte (non qualifiante)", 1),
            Count("Demandeur d'emploi", 1),
        ],
        report_text=LOT.final_report,
    )


def sample(kind: str, settings: Settings) -> Sample:
    at, reason = SAMPLE_MILESTONES[kind]
    lot = replace(LOT, stage=SAMPLE_REOPENED_STAGE) if kind == "notice_reopened" else LOT
    move = SAMPLE_END_MOVE if kind == "notice_planned_end" else None
    if move is not None:
        lot = replace(LOT, planned_end_date=move.after, end_date=None)
    context = notice_context(
        lot,
        PARTIES,
        due_day=settings.declaration_due_day,
        at=at,
        reason=reason,
        results=sample_results() if kind in RESULT_KINDS else None,
        changes=SAMPLE_AWARD_CHANGES if kind == "notice_award_corrected" else None,
        move=move,
        corrected=SAMPLE_END_CORRECTION if kind == END_CORRECTED else None,
    )
    if kind == "notice_resumed":
        # ``emails.company_pauses``' sample: July owed, reminded on 11 September; August
        # called on 2 September, due on 11 September.
        context["resumption"] = resumption_context(
            (date(2026, 9, 2), [date(2026, 8, 1)], date(2026, 9, 11)),
            [(date(2026, 7, 1), "reminder_1", date(2026, 9, 11), date(2026, 9, 4))],
        )
    if kind in RESULT_KINDS:
        context["declarations"] = declarations_context(SAMPLE_COUNTS)
    return Sample((BUYER_CONTACT,), context)


FAMILY = EmailFamily("notices", KINDS, sample)
