"""Monthly declarations: a month without hours typed by the facilitator, and the list of what is
declared, at zero, missing or late.

A clause is designated by its N° or « RÉFÉRENCE/LOT » (``2026-014/01``), a company by its N°,
SIRET or name (``lookup``). Files of declarations are imported through ``app.imports``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from workflow.adapters.orm import Clause, Company
from workflow.adapters.templates import french_date, french_hours
from workflow.app.lookup import find_clause, find_company
from workflow.app.unit import reading, unit_of_work
from workflow.bootstrap import App
from workflow.domain.calendar import local_date
from workflow.domain.vocabulary import DASHBOARD_ZERO_SOURCE, ZERO_SOURCE
from workflow.emails.notices import months_named
from workflow.emails.phrases import month_phrase
from workflow.errors import InputRefused
from workflow.services.declaration_views import (
    OWED_STATES,
    STATE_LABELS,
    DeclarationState,
    ExpectedDeclaration,
    expected_declarations,
)
from workflow.services.declarations import (
    Validation,
    declaration_problems,
    find_declaration,
    first_month_note,
    history_motif,
    last_month_note,
    record_counting,
    same_lines,
)
from workflow.services.declarations import validate_declaration as validate_month
from workflow.services.online_declarations import (
    FormRefused,
    LineForm,
    canonical_references,
    known_people,
    line_inputs,
    parse_form,
    same_as_recorded,
)
from workflow.services.outcomes import CountChange, count_sentences


def counts_data(counts: CountChange) -> dict[str, object]:
    """The outcomes a declaration took out of the figures or put back, as the machines read them
    (``--json`` of the command line, the JSON API): the keys of a cancellation's JSON
    (``sorties_non_comptees``) and the sentence the text output and the pages print."""
    return {
        "sorties_non_comptees": [
            {"participant": o.reference, "type_libelle": o.type_label} for o in counts.uncounted
        ],
        "sorties_de_nouveau_comptees": [
            {"participant": o.reference, "type_libelle": o.type_label} for o in counts.recounted
        ],
        "sorties_message": count_sentences(counts),
    }


__all__ = [
    "DASHBOARD_ZERO_SOURCE",
    "STATE_LABELS",
    "ZERO_SOURCE",
    "CountChange",
    "DeclarationList",
    "DeclarationState",
    "DeclaredLines",
    "ExpectedDeclaration",
    "Totals",
    "ZeroDeclaration",
    "count_sentences",
    "counts_data",
    "declaration_list",
    "declare_zero",
    "validate_declaration",
]


@dataclass(frozen=True)
class ZeroDeclaration:
    declaration_id: int
    clause_id: int
    company_id: int
    company: str
    month: date
    #: With ``replace``, a month already recorded without hours: when it was (nothing written).
    unchanged_since: datetime | None = None
    #: The outcomes a correction to zero took out of the figures (their participant's last
    #: hours on the lot were in this month): ``counts_said`` names them.
    counts: CountChange = field(default_factory=CountChange)
    #: With ``replace``, the hours of the month it replaced (None: none was recorded), and the
    #: reason of the correction as the history keeps it (None: none given).
    replaced_hours: Decimal | None = None
    reason: str | None = None
    #: What the facilitator is told of a month nobody asked of the company (before its first
    #: month on the lot, after its last): recorded all the same, she may know better.
    warnings: tuple[str, ...] = ()

    @property
    def counts_said(self) -> str | None:
        """« 1 sortie (P-0007, CDI) n'est plus comptée … », or None."""
        return count_sentences(self.counts)


def outside_company_months(clause: Clause, company: Company, month: date) -> tuple[str, ...]:
    """The warnings for ``month`` recorded by the facilitator outside the months asked of
    ``company`` on ``clause``: before the month it joined the lot (``first_month_note``, as the
    import says it), after its last month when it left the site. Recorded and counted: the
    company may have worked then, its departure recorded too early."""
    party = next((p for p in clause.parties if p.company_id == company.id), None)
    if party is None:
        return ()
    notes = [
        note
        for note in (
            first_month_note(clause, company, party, month),
            last_month_note(clause, company, party, month),
        )
        if note
    ]
    return tuple(notes)


def declare_zero(
    app: App,
    *,
    clause: str | int,
    company: str | int,
    month: date,
    replace: bool = False,
    actor: str | None = None,
    source: str = ZERO_SOURCE,
    reason: str | None = None,
    reason_field: str = "--reason",
    refuse_validated: bool = False,
) -> ZeroDeclaration:
    """Declare ``month`` (its first day) without any hour for ``company`` on ``clause``; its
    reminders stop and its receipt leaves as for any declaration. ``source``: where it was
    entered (the command line, the dashboard).

    With ``replace``, a month recorded with hours is corrected to zero: a correction, which
    takes ``reason`` as a cancellation does (refused without it, naming ``reason_field`` as the
    interface calls it), kept in the history row (« (remplace 120 h, motif : …) »).
    ``refuse_validated``: a month the facilitator validated is refused, as ``declare_lines``
    refuses it (the JSON API); else a correction lifts the validation (« validation levée »)."""
    with unit_of_work(app, actor) as unit:
        found_clause = find_clause(unit.session, clause)
        found_company = find_company(unit.session, company)
        recorded = find_declaration(unit.session, found_clause.id, found_company.id, month)
        if refuse_validated and recorded is not None and recorded.validated_at is not None:
            # Checked inside the write's transaction: a validation made a moment before is seen.
            raise InputRefused(
                f"La déclaration {month_phrase(month)} de {found_company.name} a été validée "
                f"par {recorded.validated_by} le {french_date(recorded.validated_at)} : elle ne "
                "se modifie plus ainsi ; écrivez à la facilitatrice."
            )
        with_hours = recorded is not None and recorded.total_hours > 0
        if replace and recorded is not None and with_hours and not (reason or "").strip():
            raise InputRefused(
                f"Correction de la déclaration {month_phrase(month)} de {found_company.name} "
                f"à zéro heure : indiquez le motif ({reason_field}), il est gardé à "
                f"l'historique ; elle compte {french_hours(recorded.total_hours)}, enregistrées "
                f"le {french_date(recorded.recorded_at)}."
            )
        if replace and recorded is not None and same_lines(recorded, []):
            problems = declaration_problems(
                unit.session,
                found_clause,
                found_company,
                month,
                now=unit.now,
                replace=True,
                zone=app.settings.zone,
            )
            if problems:  # refused as a correction would be: a closed lot, a month not open
                raise InputRefused(" ".join(problems))
            # Already zero: a « corrected » receipt for nothing corrected would mislead.
            return ZeroDeclaration(
                declaration_id=recorded.id,
                clause_id=found_clause.id,
                company_id=found_company.id,
                company=found_company.name,
                month=month,
                unchanged_since=recorded.recorded_at,
            )
        replaced_hours = Decimal(recorded.total_hours) if recorded is not None else None
        # A new month only, as the import warns: a correction of a month recorded is not news.
        warnings = (
            outside_company_months(found_clause, found_company, month) if recorded is None else ()
        )
        recorded_now = record_counting(
            unit.session,
            clause_id=found_clause.id,
            company_id=found_company.id,
            month=month,
            lines=[],
            actor=unit.actor,
            now=unit.now,
            source=source,
            publish=unit.app.publish,
            replace=replace,
            zone=app.settings.zone,
            correction_reason=reason,
        )
        return ZeroDeclaration(
            declaration_id=recorded_now.declaration.id,
            clause_id=found_clause.id,
            company_id=found_company.id,
            company=found_company.name,
            month=month,
            counts=recorded_now.counts,
            replaced_hours=replaced_hours,
            reason=history_motif(reason) if replaced_hours is not None else None,
            warnings=warnings,
        )


@dataclass(frozen=True)
class DeclaredLines:
    """A month declared from typed lines (``declare_lines``): its N°, and the outcomes a
    correction took out of the figures or put back, as a file's import says them."""

    declaration_id: int
    counts: CountChange = field(default_factory=CountChange)

    @property
    def counts_said(self) -> str | None:
        """« 1 sortie (P-0007, CDI) n'est plus comptée … », or None."""
        return count_sentences(self.counts)


def declare_lines(
    app: App,
    *,
    clause: str | int,
    company: str | int,
    month: date,
    lines: Sequence[LineForm],
    zero: bool,
    actor: str,
    source: str,
) -> DeclaredLines:
    """Record (or replace) ``month`` of ``company`` on ``clause`` from typed lines, read as the
    web form reads them (``FormRefused`` names every problem, nothing written); people new to
    the service are created with their criterion. The declaration's N°, and which outcomes a
    correction took out or put back (``record_counting``): a client's figures move with them."""
    with unit_of_work(app, actor) as unit:
        session = unit.session
        found_clause = find_clause(session, clause)
        found_company = find_company(session, company)
        recorded = find_declaration(session, found_clause.id, found_company.id, month)
        known = [
            p.reference for p in known_people(session, found_clause.id, found_company.id, month)
        ]
        known += [line.participant.reference for line in recorded.lines] if recorded else []
        lines = canonical_references(lines, known)
        parsed, problems = parse_form(session, lines, zero, now=unit.now)
        if problems:
            raise FormRefused(problems)
        if recorded is not None and recorded.validated_at is not None:
            raise InputRefused(
                f"La déclaration {month_phrase(month)} de {found_company.name} a été validée par "
                f"{recorded.validated_by} le {french_date(recorded.validated_at)} : elle ne se "
                "modifie plus ainsi ; écrivez à la facilitatrice."
            )
        if recorded is not None and same_as_recorded(recorded, parsed):
            # Sent twice: nothing recorded again, no second receipt, no outcome moved.
            return DeclaredLines(recorded.id)
        inputs = line_inputs(session, parsed, unit.now)
        recorded_now = record_counting(
            session,
            clause_id=found_clause.id,
            company_id=found_company.id,
            month=month,
            lines=inputs,
            actor=unit.actor,
            now=unit.now,
            source=source,
            publish=unit.app.publish,
            replace=find_declaration(session, found_clause.id, found_company.id, month) is not None,
            zone=app.settings.zone,
        )
        return DeclaredLines(recorded_now.declaration.id, recorded_now.counts)


def validate_declaration(
    app: App,
    *,
    clause: str | int,
    company: str | int,
    month: date,
    actor: str | None = None,
) -> Validation:
    """The facilitator has checked ``month`` of ``company`` on ``clause``: the company's web
    page shows it validated and read-only; a later correction she records clears it."""
    with unit_of_work(app, actor) as unit:
        return validate_month(
            unit.session,
            clause_id=find_clause(unit.session, clause).id,
            company_id=find_company(unit.session, company).id,
            month=month,
            actor=unit.actor,
            now=unit.now,
        )


# --- the list -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Totals:
    """The lines of one month (or of the whole list, ``month`` None), counted by state."""

    month: date | None
    expected: int
    declared: int  # with hours
    zero: int
    missing: int
    late: int
    hours: Decimal  # the hours of the declared lines
    #: Never received, no longer asked (the lot's follow-up closed): with the others, the
    #: expected ones, so that the total is the sum of its parts.
    released: int = 0
    #: Owed, their call not sent yet (« appel à venir »): neither missing nor late.
    to_call: int = 0
    #: Those lines' months, each with the date its call will give (None: its suspended lot
    #: asks it at the resumption), as their rows say it; one per line, oldest month first.
    calls: tuple[tuple[date, date | None], ...] = ()

    @property
    def owed(self) -> int:
        return self.missing + self.late + self.to_call

    @property
    def calls_said(self) -> str:
        """The months whose call is to come, named with what their rows say of their date:
        « septembre 2026, à la reprise du chantier », « octobre 2026, échéance le 10 novembre
        2026 » (one group per date, the ones to be asked at the resumption first); "" when
        there are none."""
        dates: dict[date | None, list[date]] = {}
        for month, due_on in self.calls:
            dates.setdefault(due_on, []).append(month)
        said = []
        for due_on in sorted(dates, key=lambda d: (d is not None, d or date.min)):
            when = (
                "à la reprise du chantier"
                if due_on is None
                else f"échéance le {french_date(due_on)}"
            )
            said.append(f"{months_named(dates[due_on])}, {when}")
        return " ; ".join(said)


def totals(month: date | None, lines: Iterable[ExpectedDeclaration]) -> Totals:
    chosen = list(lines)

    def count(state: DeclarationState) -> int:
        return sum(1 for line in chosen if line.state is state)

    return Totals(
        month=month,
        expected=len(chosen),
        declared=count(DeclarationState.DECLARED),
        zero=count(DeclarationState.ZERO),
        missing=count(DeclarationState.MISSING),
        late=count(DeclarationState.LATE),
        hours=sum((line.hours or Decimal(0) for line in chosen), Decimal(0)),
        released=count(DeclarationState.RELEASED),
        to_call=count(DeclarationState.TO_CALL),
        calls=tuple(
            (line.month, None if line.at_resumption else line.due_on)
            for line in sorted(chosen, key=lambda line: line.month)
            if line.state is DeclarationState.TO_CALL
        ),
    )


@dataclass(frozen=True)
class DeclarationList:
    today: date
    #: What the list was narrowed to: the clause's and the company's N° and label, the month.
    clause_id: int | None
    clause_label: str | None
    company_id: int | None
    company: str | None
    month: date | None
    missing_only: bool
    lines: tuple[ExpectedDeclaration, ...]
    #: One per month listed, oldest first; each the sum of that month's lines.
    months: tuple[Totals, ...]
    total: Totals


def declaration_list(
    app: App,
    *,
    clause: str | int | None = None,
    company: str | int | None = None,
    month: date | None = None,
    missing_only: bool = False,
) -> DeclarationList:
    """One line per company x lot x month expected today, with its state (declared, zero
    hours, missing, late), narrowed to a clause, a company or a month when given; with
    ``missing_only``, the missing and late ones only. Totals per month add up the lines."""
    now = app.clock()
    today = local_date(now, app.settings.zone)
    clause_id = company_id = None
    clause_label = company_name = None
    with reading(app) as session:
        if clause is not None:
            found_clause = find_clause(session, clause)
            clause_id, clause_label = found_clause.id, found_clause.label
        if company is not None:
            found_company = find_company(session, company)
            company_id, company_name = found_company.id, found_company.name
        lines = expected_declarations(
            session,
            app.settings,
            today=today,
            now=now,
            clause_id=clause_id,
            company_id=company_id,
            month=month,
        )
    if missing_only:
        lines = [line for line in lines if line.state in OWED_STATES]
    months = sorted({line.month for line in lines})
    return DeclarationList(
        today=today,
        clause_id=clause_id,
        clause_label=clause_label,
        company_id=company_id,
        company=company_name,
        month=month,
        missing_only=missing_only,
        lines=tuple(lines),
        months=tuple(totals(m, (ln for ln in lines if ln.month == m)) for m in months),
        total=totals(None, lines),
    )
