"""The day a lot's work ended, corrected once recorded (« achever »): a typo (31/10 for 30/11)
left months wrongly released or wrongly still owed.

``correct_end_date`` moves ``Clause.end_date`` of a lot in follow-up, with the reason in the
history (« fin d'exécution : 31/10/2026 → 30/11/2026 ; … », then what the move released or
asked again), and publishes ``EndDateCorrected``:

- an earlier end releases the months after it, exactly as the finish does
  (``lot_ends.release_months_after``: refused before a month declared; ladders stopped, emails
  waiting withdrawn or written again for the months still owed);
- a later end makes the months between the two ends owed again (``lot_ends.owe_again``): the
  ladders the finish stopped take up again at the first step that never reached the company,
  and the company parked by the finish is armed again (``reminders.rearm_lot``, called by the
  interface: this module is imported by what the reminders import).

Through an interface that writes emails (``rewriter``), the companies are told in the same
transaction (``company_end_notices``): a month released whose call had left is no longer asked
(``company_months_released``); a month owed again whose call had reached the company is asked
again, with the date its call gave and the day its next reminder leaves
(``company_months_owed_again``).

The same date again changes nothing and writes nothing (``changed`` is False).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from workflow.adapters.orm import Clause
from workflow.domain.events import EndDateCorrected, require_aware
from workflow.domain.stages import LABELS, Stage
from workflow.errors import Hint, InputRefused
from workflow.services.clauses import Publish, add_history, get_clause
from workflow.services.company_end_notices import tell_owed_again, tell_released
from workflow.services.lot_ends import (
    LadderRewriter,
    OwedAgain,
    ReleasedMonths,
    correction_reason,
    owe_again,
    release_months_after,
)
from workflow.settings import Settings

NBSP = "\u00a0"
#: The history event of an end corrected.
END_DATE_CORRECTED = "end_date_corrected"
#: The stage in which the end is corrected: the work has ended, the lot is in follow-up. Once
#: closed (the final report sent), its figures were given to the buyer on that end.
CORRECTABLE_STAGES = frozenset({Stage.FOLLOW_UP})


@dataclass(frozen=True)
class EndDateChange:
    """What ``correct_end_date`` did: the end before and after (equal: nothing written)."""

    clause: Clause
    before: date
    after: date
    released: tuple[ReleasedMonths, ...] = ()
    owed: tuple[OwedAgain, ...] = ()
    event: EndDateCorrected | None = None

    @property
    def changed(self) -> bool:
        return self.before != self.after


def correct_end_date(
    session: Session,
    clause_id: int,
    end_date: date,
    *,
    reason: str,
    actor: str,
    now: datetime,
    today: date,
    settings: Settings,
    publish: Publish,
    rewriter: LadderRewriter | None = None,
    field: str = "Date de fin d'exécution",
    reason_field: str = "Motif",
) -> EndDateChange:
    """Correct the day the work of a finished lot ended, in the caller's transaction. Refused,
    naming ``field`` or ``reason_field`` as the interface calls them, when the lot has not
    finished, when no reason is given, when the date is after ``today`` (the local day) or
    before the start, and (an earlier end) before a month already declared."""
    require_aware(now)
    clause = get_clause(session, clause_id, for_update=True)
    stage = Stage(clause.stage)
    before = clause.end_date
    if before is None or stage not in CORRECTABLE_STAGES:
        _refuse_stage(clause, stage, field)
    assert before is not None
    text = (reason or "").strip()
    if not text:
        raise InputRefused(
            f"{reason_field}{NBSP}: indiquez pourquoi la date de fin d'exécution change (une "
            "erreur de saisie, le procès-verbal de réception…), il est gardé à l'historique."
        )
    if end_date > today:
        raise InputRefused(
            f"{field}{NBSP}: le {end_date:%d/%m/%Y} n'est pas encore arrivé (nous sommes le "
            f"{today:%d/%m/%Y}){NBSP}; l'exécution s'achève à une date passée ou du jour."
        )
    if clause.start_date is not None and end_date < clause.start_date:
        raise InputRefused(
            f"{field}{NBSP}: le {end_date:%d/%m/%Y} est avant le démarrage "
            f"({clause.start_date:%d/%m/%Y})."
        )
    if end_date == before:
        return EndDateChange(clause, before, end_date)
    clause.end_date = end_date
    released: tuple[ReleasedMonths, ...] = ()
    owed: tuple[OwedAgain, ...] = ()
    if end_date < before:
        released = release_months_after(session, clause, end_date, field=field, rewriter=rewriter)
    else:
        owed = owe_again(session, clause, before, settings, now)
    row = add_history(
        session,
        clause,
        event=END_DATE_CORRECTED,
        actor=actor,
        reason=correction_reason(before, end_date, text, released, owed, settings.zone),
        now=now,
    )
    if rewriter is not None:
        # The companies told, keyed by the instant of the history row just written.
        tell_released(session, rewriter.renderer, clause, released, at=row.at, up_to=before)
        tell_owed_again(
            session,
            rewriter.renderer,
            clause,
            owed,
            before=before,
            at=row.at,
            zone=settings.zone,
            settings=settings,
        )
    event = EndDateCorrected(
        clause_id=clause.id, before=before, after=end_date, at=row.at, actor=actor, reason=text
    )
    publish(session, event)
    return EndDateChange(clause, before, end_date, released, owed, event)


def _refuse_stage(clause: Clause, stage: Stage, field: str) -> None:
    if clause.end_date is None:
        raise InputRefused(
            f"{field}{NBSP}: {clause.label} est à l'étape «{NBSP}{LABELS[stage]}{NBSP}» et son "
            "exécution n'a pas été achevée, il n'y a pas de date de fin à corriger. La date de "
            "fin s'enregistre en achevant l'exécution",
            hint=Hint(
                f"{NBSP}: clauses clause advance {clause.id} achever --end-date JJ/MM/AAAA.",
                f"{NBSP}: «{NBSP}achever{NBSP}» sur la page de la clause.",
            ),
        )
    raise InputRefused(
        f"{field}{NBSP}: {clause.label} est à l'étape «{NBSP}{LABELS[stage]}{NBSP}»{NBSP}; la "
        f"date de fin d'exécution ({clause.end_date:%d/%m/%Y}) ne se corrige qu'à l'étape "
        f"«{NBSP}{LABELS[Stage.FOLLOW_UP]}{NBSP}»."
    )
