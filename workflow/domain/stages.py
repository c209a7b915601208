"""The life of a clause as a hand-written transition table, with guards that say what is missing.

Stages and events are English in code; ``LABELS`` and ``EVENT_LABELS`` give the French a person reads.
The CLI accepts the English codes and the French verbs, with or without accents (``attribuer``,
``demarrer``, ``démarrer``...), through ``parse_event``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from workflow.domain.vocabulary import normalise
from workflow.errors import Hint, InputRefused, TransitionRefused


class Stage(StrEnum):
    IDENTIFICATION = "identification"
    DRAFTING = "drafting"
    AWARD = "award"
    EXECUTION = "execution"
    FOLLOW_UP = "follow_up"
    CLOSED = "closed"
    ABANDONED = "abandoned"
    SUSPENDED = "suspended"


class ClauseEvent(StrEnum):
    DRAFT = "draft"
    AWARD = "award"
    START = "start"
    FINISH = "finish"
    CLOSE = "close"
    ABANDON = "abandon"
    SUSPEND = "suspend"
    RESUME = "resume"
    #: The contract terminated during the works (« marché résilié »): the lot ends on the
    #: termination date, as a finish does, but nobody may read it as a normal end.
    TERMINATE = "terminate"


LABELS: dict[Stage, str] = {
    Stage.IDENTIFICATION: "repérage",
    Stage.DRAFTING: "calibrage et rédaction",
    Stage.AWARD: "attribution",
    Stage.EXECUTION: "mise en œuvre",
    Stage.FOLLOW_UP: "suivi et bilan",
    Stage.CLOSED: "clôturée",
    Stage.ABANDONED: "abandonnée",
    Stage.SUSPENDED: "suspendue",
}

EVENT_LABELS: dict[ClauseEvent, str] = {
    ClauseEvent.DRAFT: "rédiger",
    ClauseEvent.AWARD: "attribuer",
    ClauseEvent.START: "démarrer",
    ClauseEvent.FINISH: "achever",
    ClauseEvent.CLOSE: "clôturer",
    ClauseEvent.ABANDON: "abandonner",
    ClauseEvent.SUSPEND: "suspendre",
    ClauseEvent.RESUME: "reprendre",
    ClauseEvent.TERMINATE: "résilier",
}

#: The history event of an abandon undone (``services.clauses.reopen_clause``). Not an event of
#: a clause's life (``clause advance`` does not take it) but a correction: the clause goes back to
#: the stage it was abandoned from, with the reason why.
REOPEN = "reopen"

#: Every stage in the order of a clause's life, as the board shows them: the five it goes through,
#: then the pause and the two ends. Lists of clauses sort by it, never by the English code.
PIPELINE = (
    Stage.IDENTIFICATION,
    Stage.DRAFTING,
    Stage.AWARD,
    Stage.EXECUTION,
    Stage.FOLLOW_UP,
    Stage.SUSPENDED,
    Stage.CLOSED,
    Stage.ABANDONED,
)
PIPELINE_RANK = {stage.value: rank for rank, stage in enumerate(PIPELINE)}

#: Stages in which the company declares its monthly hours.
DECLARING_STAGES = frozenset({Stage.EXECUTION})
#: Stages that still take the months before the suspension or the end (late declarations).
LATE_DECLARING_STAGES = frozenset({Stage.SUSPENDED, Stage.FOLLOW_UP})
#: Stages from which nothing leaves.
FINAL_STAGES = frozenset({Stage.CLOSED, Stage.ABANDONED})
#: The stages whose companies are called, reminded and their buyer alerted: the works under
#: way, then their follow-up (a month before the end still owed). A lot leaving them holds its
#: ladders (``DeclarationLadder.held``), one coming back releases them.
CALLING_STAGES = (Stage.EXECUTION.value, Stage.FOLLOW_UP.value)


@dataclass(frozen=True)
class ClauseFacts:
    """What the guards need to know of a clause, gathered by the service layer."""

    hours_target: int | None
    holder_email: str | None
    start_date: date | None
    end_date: date | None
    final_report_recorded: bool
    #: What changed the lot's figures since its final report was recorded (history labels:
    #: « déclaration mensuelle », « déclaration annulée »…): the report the buyer read is no
    #: longer the lot's, and closing would freeze figures it never told.
    final_report_outdated_by: tuple[str, ...] = ()


Guard = Callable[[ClauseFacts], list[str]]


def _needs_hours(facts: ClauseFacts) -> list[str]:
    if facts.hours_target is None or facts.hours_target <= 0:
        return ["le nombre d'heures d'insertion (calculé ou imposé)"]
    return []


def _needs_award(facts: ClauseFacts) -> list[str]:
    missing = []
    if not facts.holder_email:
        missing.append("une entreprise attributaire avec l'adresse e-mail de son correspondant")
    if facts.start_date is None:
        missing.append("la date de démarrage")
    return missing


def _needs_end_date(facts: ClauseFacts) -> list[str]:
    return [] if facts.end_date else ["la date de fin d'exécution"]


def _needs_termination_date(facts: ClauseFacts) -> list[str]:
    return [] if facts.end_date else ["la date de résiliation du marché"]


def _needs_final_report(facts: ClauseFacts) -> list[str]:
    if not facts.final_report_recorded:
        return ["le bilan de l'opération"]
    if facts.final_report_outdated_by:
        changes = ", ".join(facts.final_report_outdated_by)
        return [
            "un bilan à jour : les chiffres du lot ont changé depuis le bilan enregistré "
            f"({changes}) ; enregistrez de nouveau le bilan, le donneur d'ordre recevra le bilan "
            "à jour"
        ]
    return []


def _nothing(facts: ClauseFacts) -> list[str]:
    return []


#: What a person does to give what a guard found missing, by the text the guard says: the
#: command to type (``{n}`` the clause's N°), what the web pages say instead, and whether that
#: command is the event itself (a date given with « achever »), so no « puis … » follows. Two
#: missing items given by the same command (the award's company and start date) name it once.
_AWARD_REMEDY = (
    "clauses clause award {n} --company ENTREPRISE --correspondent N°_CORRESPONDANT "
    "--start jj/mm/aaaa --end jj/mm/aaaa, en redonnant chaque --co-contractor et "
    "--subcontractor déjà attribué (une entreprise omise est retirée) ; N° du correspondant : "
    "« clauses company show ENTREPRISE », ou « clauses company correspondent-add ENTREPRISE --name … "
    "--email … » s'il n'y en a pas",
    "complétez l'attribution sur la page de la clause (entreprise titulaire, correspondant avec "
    "son adresse e-mail, dates)",
    False,
)
_NOTHING_KNOWN = ClauseFacts(None, None, None, None, False)
_REMEDIES: dict[str, tuple[str, str, bool]] = {
    _needs_hours(_NOTHING_KNOWN)[0]: (
        "clauses clause figures {n} … (calcul) ou clauses clause hours {n} HEURES "
        "--reason « … » (nombre imposé)",
        "calculez ou imposez le nombre d'heures sur la page de la clause",
        False,
    ),
    _needs_award(_NOTHING_KNOWN)[0]: _AWARD_REMEDY,
    _needs_award(_NOTHING_KNOWN)[1]: _AWARD_REMEDY,
    _needs_end_date(_NOTHING_KNOWN)[0]: (
        "clauses clause advance {n} achever --end-date jj/mm/aaaa",
        "indiquez la date de fin d'exécution avec «\u00a0achever\u00a0»",
        True,
    ),
    _needs_termination_date(_NOTHING_KNOWN)[0]: (
        "clauses clause advance {n} résilier --end-date jj/mm/aaaa --reason « … »",
        "indiquez la date de résiliation du marché et le motif avec «\u00a0résilier\u00a0»",
        True,
    ),
}


def french_enumeration(items: list[str]) -> str:
    """« a », « a et b », « a, b et c »."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " et " + items[-1]


#: (from stage, event) -> (to stage, guard). Anything absent is refused.
TRANSITIONS: dict[tuple[Stage, ClauseEvent], tuple[Stage, Guard]] = {
    (Stage.IDENTIFICATION, ClauseEvent.DRAFT): (Stage.DRAFTING, _nothing),
    (Stage.DRAFTING, ClauseEvent.AWARD): (Stage.AWARD, _needs_hours),
    (Stage.AWARD, ClauseEvent.START): (Stage.EXECUTION, _needs_award),
    (Stage.EXECUTION, ClauseEvent.FINISH): (Stage.FOLLOW_UP, _needs_end_date),
    (Stage.FOLLOW_UP, ClauseEvent.CLOSE): (Stage.CLOSED, _needs_final_report),
    (Stage.IDENTIFICATION, ClauseEvent.ABANDON): (Stage.ABANDONED, _nothing),
    (Stage.DRAFTING, ClauseEvent.ABANDON): (Stage.ABANDONED, _nothing),
    (Stage.AWARD, ClauseEvent.ABANDON): (Stage.ABANDONED, _nothing),
    (Stage.EXECUTION, ClauseEvent.SUSPEND): (Stage.SUSPENDED, _nothing),
    (Stage.SUSPENDED, ClauseEvent.RESUME): (Stage.EXECUTION, _nothing),
    # A contract terminated during the works, suspended or not: the lot goes to follow-up as a
    # finished one, its termination date its end (the suspension, if any, ends with it).
    (Stage.EXECUTION, ClauseEvent.TERMINATE): (Stage.FOLLOW_UP, _needs_termination_date),
    (Stage.SUSPENDED, ClauseEvent.TERMINATE): (Stage.FOLLOW_UP, _needs_termination_date),
}

#: The events that end a lot's work on a date (« achever », « résilier »): the months after it
#: are no longer owed, the months before it still are.
ENDING_EVENTS = frozenset({ClauseEvent.FINISH, ClauseEvent.TERMINATE})


#: The stages a clause can be abandoned from, hence the ones an abandon undone goes back to.
ABANDON_ORIGINS = frozenset(
    origin for (origin, event) in TRANSITIONS if event is ClauseEvent.ABANDON
)


def reopened_stage(clause_label: str, stage: Stage, abandoned_from: str | None) -> Stage:
    """The stage an abandon undone leads back to: the one the clause was abandoned from
    (``abandoned_from``, read from its history), or ``TransitionRefused`` saying why not."""
    if stage is not Stage.ABANDONED:
        raise TransitionRefused(
            f"{clause_label} est à l'étape « {LABELS[stage]} » : seule une clause abandonnée "
            "se rouvre. Pour la faire avancer",
            hint=Hint(" : « clauses clause advance ».", " : sa page, « Étape suivante »."),
        )
    origins = {s.value: s for s in ABANDON_ORIGINS}
    if abandoned_from not in origins:
        raise TransitionRefused(
            f"{clause_label} est abandonnée, mais son historique ne dit pas de quelle étape "
            "(repérage, calibrage et rédaction ou attribution) : impossible de savoir où la "
            "rouvrir."
        )
    return origins[abandoned_from]


def allowed_events(stage: Stage) -> list[ClauseEvent]:
    return [event for (origin, event) in TRANSITIONS if origin == stage]


def _to_give_first(
    missing: list[str], event: ClauseEvent, allowed: list[ClauseEvent], clause_id: int | None
) -> Hint:
    """What to do for each missing item (the command to type; the page's form on the web),
    then the event refused, and the other events permitted now: never « Permis maintenant :
    démarrer », the very event just refused."""
    number = "N" if clause_id is None else str(clause_id)
    commands: list[str] = []
    forms: list[str] = []
    then = True
    for item in missing:
        command, form, is_the_event = _REMEDIES.get(item, ("", "", False))
        if command and command.format(n=number) not in commands:
            commands.append(command.format(n=number))
            forms.append(form)
            then = then and not is_the_event
    others = [e for e in allowed if e is not event]
    to_do = Hint(
        " À faire : "
        + " ; ".join(commands)
        + (f" ; puis clauses clause advance {number} {EVENT_LABELS[event]}." if then else "."),
        " À faire\u00a0: "
        + french_enumeration(forms)
        + (f", puis «\u00a0{EVENT_LABELS[event]}\u00a0»." if then else "."),
    )
    if not commands:
        to_do = Hint("", "")
    if not others:
        return to_do
    return Hint(
        to_do.command
        + " Permis aussi maintenant : "
        + ", ".join(f"{EVENT_LABELS[e]} ({e.value})" for e in others)
        + ".",
        to_do.web
        + " Permis aussi maintenant\u00a0: "
        + ", ".join(EVENT_LABELS[e] for e in others)
        + ".",
    )


def _allowed_now(events: list[ClauseEvent]) -> Hint:
    """« Permis maintenant : achever (finish). »: the command line also takes the code it
    names; the web pages and the API say the French labels only."""
    if not events:
        return Hint(
            " Permis maintenant : aucun (étape finale).",
            " Permis maintenant : aucun (étape finale).",
        )
    return Hint(
        " Permis maintenant : " + ", ".join(f"{EVENT_LABELS[e]} ({e.value})" for e in events) + ".",
        " Permis maintenant : " + ", ".join(EVENT_LABELS[e] for e in events) + ".",
    )


def _record_report_first(clause_id: int | None) -> Hint:
    """What to do when closing is refused for want of an up-to-date final report: record it
    (``clauses clause report``, the page's report form), then close; not « Permis maintenant :
    clôturer », the very event just refused."""
    number = "N" if clause_id is None else str(clause_id)
    return Hint(
        f" Pour clôturer, enregistrez d'abord le bilan\u00a0: clauses clause report {number} --file bilan.txt "
        f"(ou --text «\u00a0…\u00a0»), puis clauses clause advance {number} clôturer.",
        " Pour clôturer, enregistrez d'abord le bilan\u00a0: formulaire «\u00a0Enregistrer le bilan de "
        "l'opération\u00a0» de la page de la clause (section «\u00a0Actions\u00a0»), puis "
        "«\u00a0Avancer à l'étape suivante\u00a0».",
    )


def next_stage(
    clause_label: str,
    stage: Stage,
    event: ClauseEvent,
    facts: ClauseFacts,
    clause_id: int | None = None,
) -> Stage:
    """Return the stage ``event`` leads to, or raise ``TransitionRefused`` saying why not
    (``clause_id`` names the clause in the commands a refusal suggests)."""
    allowed = allowed_events(stage)
    rule = TRANSITIONS.get((stage, event))
    if rule is None:
        raise TransitionRefused(
            f"{clause_label} est à l'étape « {LABELS[stage]} » : l'événement "
            f"« {EVENT_LABELS[event]} » n'y est pas permis.",
            hint=_allowed_now(allowed),
        )
    target, guard = rule
    missing = guard(facts)
    if missing:
        raise TransitionRefused(
            f"{clause_label} est à l'étape « {LABELS[stage]} » : impossible de passer à "
            f"« {LABELS[target]} » ({EVENT_LABELS[event]}), il manque"
            f"{' :' if len(missing) > 1 else ''} {french_enumeration(missing)}.",
            hint=_record_report_first(clause_id)
            if guard is _needs_final_report
            else _to_give_first(missing, event, allowed, clause_id),
        )
    return target


def parse_event(text: str) -> ClauseEvent:
    """Accept the English code or the French verb, with or without accents or capitals."""
    wanted = normalise(text)
    for event in ClauseEvent:
        if wanted in (event.value, normalise(EVENT_LABELS[event])):
            return event
    choices = ", ".join(EVENT_LABELS[e] for e in ClauseEvent)
    raise InputRefused(f"Événement inconnu « {text} ». Événements possibles : {choices}.")


def parse_stage(text: str) -> Stage:
    """Accept the English code or the French label (``mise en oeuvre``, ``suivi et bilan``)."""
    wanted = normalise(text).replace("œ", "oe").replace("-", "_")
    for stage in Stage:
        label = normalise(LABELS[stage]).replace("œ", "oe")
        if wanted in (stage.value, label, label.replace(" ", "_")):
            return stage
    choices = ", ".join(f"{s.value} ({LABELS[s]})" for s in Stage)
    raise InputRefused(f"Étape inconnue « {text} ». Étapes possibles : {choices}.")


#: What each history row records, in French: a history tells what happened, so the stage changes
#: read as nouns (« rédaction », « attribution »), not as the verbs the CLI takes.
HISTORY_LABELS: dict[str, str] = {
    "identify": "repérage",
    ClauseEvent.DRAFT.value: "rédaction",
    ClauseEvent.AWARD.value: "attribution",
    "award_recorded": "attribution enregistrée",
    ClauseEvent.START.value: "démarrage",
    ClauseEvent.FINISH.value: "fin d'exécution",
    ClauseEvent.CLOSE.value: "clôture",
    ClauseEvent.ABANDON.value: "abandon",
    ClauseEvent.SUSPEND.value: "suspension",
    ClauseEvent.RESUME.value: "reprise",
    ClauseEvent.TERMINATE.value: "résiliation",
    "final_report": "bilan enregistré",
    "hours_override": "heures imposées",
    "parameters": "paramètres du calcul",
    "calendar": "calendrier des déclarations",
    "declaration": "déclaration mensuelle",
    "outcome": "sortie d'un participant",
    "lot": "lot corrigé",
    "declaration_cancelled": "déclaration annulée",
    "declaration_validated": "déclaration validée",
    "award_corrected": "attribution corrigée",
    "planned_end": "fin prévue changée",
    "end_date_corrected": "date de fin corrigée",
    "company_left": "départ d'une entreprise du chantier",
    "reopen": "réouverture",
}


def history_label(event: str) -> str:
    """The French label of a history row; a code added later without its label still reads as
    words (``some_event`` → « some event »), never as an identifier."""
    return HISTORY_LABELS.get(event) or event.replace("_", " ")
