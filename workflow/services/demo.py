"""The demo scenario: the sample territory lived through 14 months by the real services.

Everything goes through the code a facilitator's service runs: the sample is loaded, its lots are
drafted, awarded (``record_award`` with ``SAMPLE_AWARDS``) and started at their own dates, companies
declare through ``record_declaration`` at simulated moments, and ``simulate`` plays the real passes
(ladders, digest, summaries, dispatch) day after day on an injected clock.

The cast: the holder of the middle school's structural lot and the cleaning company declare on
time; the roofer declares the day after its first reminder; the finishing company after its second
one; the insertion company subcontracting on the structural lot never declares, so its buyer is
alerted before any formal notice; the outdoor works lot is abandoned; the road repair lot is
finished, its participants' outcomes recorded (``record_outcome``), reported on and closed; the
cleaning lot ends early with its participant hired on a permanent contract.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING

from sqlalchemy import select

from workflow.adapters.orm import Clause, Company, Market
from workflow.domain.calendar import (
    add_months,
    add_working_days,
    at_local,
    local_date,
    month_schedule,
    months_between,
    reminder_step,
)
from workflow.domain.outcomes import OutcomeType
from workflow.domain.stages import ClauseEvent
from workflow.domain.vocabulary import ContractType, DeliveryMode
from workflow.sample import SAMPLE_AWARDS, load_sample, resolve_award
from workflow.sample.data import SampleAward
from workflow.services.clauses import advance_clause, record_award, record_final_report
from workflow.services.declarations import LineInput, record_declaration
from workflow.services.outcomes import record_outcome
from workflow.services.participants import find_participant
from workflow.services.ticks import PassReport, SimulationReport, TimedAction, simulate

if TYPE_CHECKING:
    from workflow.runtime import App

#: The simulated stretch: 14 months, February 2026 to March 2027 included.
FIRST_DAY = date(2026, 2, 1)
LAST_DAY = date(2027, 3, 31)
LAST_SUMMARY_MONTH = add_months(LAST_DAY.replace(day=1), -1)
#: The sample is loaded just before, as a facilitator would on her first day.
LOADED_ON = date(2026, 1, 30)
ACTOR = "démonstration"


class Habit(Enum):
    ON_TIME = "à l'heure"
    AFTER_REMINDER_1 = "après le 1er rappel"
    AFTER_REMINDER_2 = "après le 2e rappel"
    NEVER = "jamais"


#: How each company (by SIRET) declares.
HABITS: dict[str, Habit] = {
    "41234567800012": Habit.ON_TIME,  # Bâtiments Gascons, structural work
    "38765432100018": Habit.ON_TIME,  # Propreté du Val d'Arrats, cleaning
    "79123456700018": Habit.ON_TIME,  # Travaux Publics du Savès, road repair
    "44113478900011": Habit.AFTER_REMINDER_1,  # Charpentes de l'Arrats, roofing
    "52098761300012": Habit.AFTER_REMINDER_2,  # Gimone Second Œuvre, paint and electricity
    "83345678900019": Habit.NEVER,  # Gascogne Insertion Bâtiment, subcontractor
}

#: Who works on which lot each month: (participant, hours, delivery mode, contract).
WORKERS: dict[tuple[str, str], tuple[tuple[str, str, DeliveryMode, ContractType], ...]] = {
    ("2026-014", "01"): (
        ("P-0007", "121.5", DeliveryMode.DIRECT_HIRING, ContractType.CDD),
        ("P-0012", "98", DeliveryMode.PROVISION_ETTI, ContractType.TEMP_WORK),
    ),
    ("2026-014", "02"): (
        ("P-0031", "42", DeliveryMode.DIRECT_HIRING, ContractType.APPRENTICESHIP),
    ),
    ("2026-014", "05"): (
        ("P-0052", "76", DeliveryMode.PROVISION_GEIQ, ContractType.PROFESSIONALISATION),
    ),
    ("2026-014", "07"): (("P-0063", "38.5", DeliveryMode.DIRECT_HIRING, ContractType.CDD),),
    ("2026-AC-03", ""): (("P-0040", "104", DeliveryMode.DIRECT_HIRING, ContractType.CDI),),
    ("2026-V1", ""): (
        ("P-0063", "16", DeliveryMode.DIRECT_HIRING, ContractType.SITE_CONTRACT),
        ("P-0052", "7", DeliveryMode.PROVISION_ETTI, ContractType.TEMP_WORK),
    ),
}

#: What the demo shows, as the CLI tells it.
CAST = (
    "Bâtiments Gascons (gros œuvre du collège) et Propreté du Val d'Arrats (nettoyage) "
    "déclarent à l'heure ;",
    "Charpentes de l'Arrats déclare le lendemain du 1er rappel, Gimone Second Œuvre le "
    "lendemain du 2e ;",
    "Gascogne Insertion Bâtiment, sous-traitant du gros œuvre, ne déclare jamais : le "
    "Département est alerté avant mise en demeure ;",
    "le lot VRD du collège est déclaré sans suite ; la voirie de Lasbordes s'achève, ses "
    "participants ont leur sortie enregistrée, puis elle reçoit son bilan et est clôturée ;",
    "le nettoyage de l'agglomération s'achève en février 2027 sur une embauche en CDI.",
)

ABANDONED = ("2026-014", "09")
LEFT_AT_AWARD = ("2026-014", "03")  # awarded stage reached, winner not recorded yet
REPORTED = ("2026-V1", "")
FINISHED_EARLY = {("2026-AC-03", ""): date(2027, 2, 26), REPORTED: date(2026, 7, 31)}
FINAL_REPORT = (
    "Réfection de voirie achevée dans les délais. Un demandeur d'emploi de plus de 50 ans a "
    "travaillé sur le chantier en contrat de chantier, puis a été recruté en CDD par l'entreprise. "
    "Une habitante d'un quartier prioritaire, mise à disposition par une ETTI, est ensuite entrée "
    "en formation qualifiante."
)
#: Outcomes recorded on a lot once known: (participant, type, its date, the day it is recorded).
#: The road repair's come before its final report, so that the report and the buyer's notice
#: count them.
OUTCOMES: dict[tuple[str, str], tuple[tuple[str, OutcomeType, date, date], ...]] = {
    REPORTED: (
        ("P-0063", OutcomeType.LONG_CDD, date(2026, 9, 1), date(2026, 9, 14)),
        ("P-0052", OutcomeType.QUALIFYING_TRAINING, date(2026, 9, 1), date(2026, 9, 14)),
    ),
    ("2026-AC-03", ""): (("P-0040", OutcomeType.CDI, date(2027, 2, 26), date(2027, 2, 26)),),
}


@dataclass
class DemoReport:
    loaded: dict[str, int]
    simulation: SimulationReport
    actions: list[str] = field(default_factory=list)
    #: The month of the last monthly summary sent during the simulation.
    last_summary_month: date = LAST_SUMMARY_MONTH


def local(app: App, day: date, hour: int, minute: int = 0) -> datetime:
    return at_local(day, time(hour, minute), app.settings.zone)


def _clause_id(app: App, market: str, lot: str) -> int:
    from workflow.services.imports import lot_key

    with app.transaction() as session:
        for clause in session.scalars(
            select(Clause).join(Market).where(Market.reference == market)
        ):
            if lot_key(clause.lot_number) == lot_key(lot):
                return clause.id
    raise LookupError(f"sample lot {market} {lot!r} is missing")


# --- actions ----------------------------------------------------------------------------------


def _advance(
    clause_id: int, event: ClauseEvent, reason: str | None = None, end_date: date | None = None
) -> Callable[[App, datetime], None]:
    def run(app: App, at: datetime) -> None:
        with app.transaction() as session:
            advance_clause(
                session,
                clause_id,
                event,
                actor=ACTOR,
                reason=reason,
                now=at,
                publish=app.publish,
                end_date=end_date,
            )

    return run


def _award(award: SampleAward) -> Callable[[App, datetime], None]:
    def run(app: App, at: datetime) -> None:
        with app.transaction() as session:
            resolved = resolve_award(session, award)
            record_award(
                session,
                resolved.clause_id,
                parties=resolved.parties,
                start_date=resolved.start_date,
                planned_end_date=resolved.planned_end_date,
                actor=ACTOR,
                now=at,
                publish=app.publish,
            )

    return run


def _declare(
    clause_id: int,
    siret: str,
    month: date,
    workers: Sequence[tuple[str, str, DeliveryMode, ContractType]],
) -> Callable[[App, datetime], None]:
    def run(app: App, at: datetime) -> None:
        with app.transaction() as session:
            company_id = session.scalar(select(Company.id).where(Company.siret == siret))
            assert company_id is not None
            lines = []
            for reference, hours, mode, contract in workers:
                participant = find_participant(session, reference)
                assert participant is not None
                lines.append(LineInput(participant.id, Decimal(hours), mode, contract))
            record_declaration(
                session,
                clause_id=clause_id,
                company_id=company_id,
                month=month,
                lines=lines,
                actor=ACTOR,
                now=at,
                source="démonstration",
                publish=app.publish,
            )

    return run


def _final_report(clause_id: int) -> Callable[[App, datetime], None]:
    def run(app: App, at: datetime) -> None:
        with app.transaction() as session:
            record_final_report(
                session, clause_id, text=FINAL_REPORT, actor=ACTOR, now=at, publish=app.publish
            )

    return run


def _outcome(
    clause_id: int, reference: str, outcome_type: OutcomeType, on: date
) -> Callable[[App, datetime], None]:
    def run(app: App, at: datetime) -> None:
        with app.transaction() as session:
            record_outcome(
                session,
                reference=reference,
                clause_id=clause_id,
                outcome_type=outcome_type,
                on=on,
                actor=ACTOR,
                now=at,
                zone=app.settings.zone,
            )

    return run


def _declaration_day(app: App, month: date, habit: Habit) -> datetime | None:
    """When a company with ``habit`` sends month ``month``: counted from its ladder's steps."""
    schedule = month_schedule(month, app.settings.calendar_rules, app.settings.zone)
    zone = app.settings.zone
    if habit is Habit.NEVER:
        return None
    if habit is Habit.ON_TIME:
        day = add_working_days(local_date(schedule.call_at, zone), 3)
        return local(app, day, 14, 30)
    number = 1 if habit is Habit.AFTER_REMINDER_1 else 2
    step = reminder_step(number)
    day = add_working_days(local_date(schedule.step(step).at, zone), 1)
    return local(app, day, 11, 15)


def _lot_actions(app: App, award: SampleAward) -> Iterator[TimedAction]:
    key = (award.market, award.lot_number)
    clause_id = _clause_id(app, *key)
    name = f"{award.market}{' lot ' + award.lot_number if award.lot_number else ''}"
    yield TimedAction(
        local(app, FIRST_DAY + timedelta(days=2), 10),
        f"{name} : rédaction",
        _advance(clause_id, ClauseEvent.DRAFT),
    )
    # Notified three weeks before the work starts, never before the lot is drafted.
    notified = max(FIRST_DAY + timedelta(days=9), award.start_date - timedelta(days=21))
    yield TimedAction(
        local(app, notified, 10), f"{name} : attribution", _advance(clause_id, ClauseEvent.AWARD)
    )
    yield TimedAction(local(app, notified, 15), f"{name} : titulaire enregistré", _award(award))
    yield TimedAction(
        local(app, award.start_date, 9, 30),
        f"{name} : démarrage",
        _advance(clause_id, ClauseEvent.START),
    )
    end = FINISHED_EARLY.get(key)
    last = min(end or award.planned_end_date, LAST_DAY)
    for month in months_between(award.start_date, last):
        for siret, workers in _declarers(award, key):
            at = _declaration_day(app, month, HABITS[siret])
            if at is not None and at.date() <= LAST_DAY:
                yield TimedAction(
                    at,
                    f"{name} : déclaration de {month:%m/%Y}",
                    _declare(clause_id, siret, month, workers),
                )
    if end is not None and end <= LAST_DAY:
        yield TimedAction(
            local(app, end, 17),
            f"{name} : fin d'exécution",
            _advance(clause_id, ClauseEvent.FINISH, end_date=end),
        )
    for reference, outcome_type, on, recorded_on in OUTCOMES.get(key, ()):
        if recorded_on <= LAST_DAY:
            yield TimedAction(
                local(app, recorded_on, 17, 30),
                f"{name} : sortie d'un participant",  # the label is logged: no reference
                _outcome(clause_id, reference, outcome_type, on),
            )
    if key == REPORTED:
        yield TimedAction(
            local(app, date(2026, 9, 15), 11), f"{name} : bilan", _final_report(clause_id)
        )
        yield TimedAction(
            local(app, date(2026, 9, 16), 9, 45),
            f"{name} : clôture",
            _advance(clause_id, ClauseEvent.CLOSE),
        )


def _declarers(
    award: SampleAward, key: tuple[str, str]
) -> Iterator[tuple[str, Sequence[tuple[str, str, DeliveryMode, ContractType]]]]:
    yield award.holder_siret, WORKERS.get(key, ())
    for other in award.others:
        yield other.siret, ()


def scenario(app: App) -> list[TimedAction]:
    """Every action of the demo, in time order; the sample must be loaded."""
    actions: list[TimedAction] = []
    for award in SAMPLE_AWARDS:
        actions.extend(_lot_actions(app, award))
    abandoned = _clause_id(app, *ABANDONED)
    waiting = _clause_id(app, *LEFT_AT_AWARD)
    actions += [
        TimedAction(
            local(app, date(2026, 2, 3), 10),
            "2026-014 lot 09 : rédaction",
            _advance(abandoned, ClauseEvent.DRAFT),
        ),
        TimedAction(
            local(app, date(2026, 4, 20), 16),
            "2026-014 lot 09 : sans suite",
            _advance(
                abandoned,
                ClauseEvent.ABANDON,
                "Consultation déclarée sans suite : offres inacceptables",
            ),
        ),
        TimedAction(
            local(app, date(2026, 2, 3), 10, 30),
            "2026-014 lot 03 : rédaction",
            _advance(waiting, ClauseEvent.DRAFT),
        ),
        TimedAction(
            local(app, date(2026, 3, 16), 10),
            "2026-014 lot 03 : attribution",
            _advance(waiting, ClauseEvent.AWARD),
        ),
    ]
    return sorted(actions, key=lambda a: a.at)


def run_demo(
    app: App,
    *,
    on_pass: Callable[[PassReport], None] | None = None,
) -> DemoReport:
    """Load the sample into the (fresh) database of ``app`` and live 14 months of it."""
    summary = load_sample(app, local(app, LOADED_ON, 10))
    actions = scenario(app)
    simulation = simulate(app, FIRST_DAY, LAST_DAY, actions=actions, on_pass=on_pass)
    return DemoReport(
        loaded=summary.created, simulation=simulation, actions=[a.label for a in actions]
    )
