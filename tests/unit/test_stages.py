"""The transition table, pair by pair: every stage x event is either allowed or refused with a
message that names the clause, its stage, the event and what is allowed now."""

from __future__ import annotations

import itertools
from datetime import date

import pytest

from workflow.domain.stages import (
    EVENT_LABELS,
    FINAL_STAGES,
    LABELS,
    TRANSITIONS,
    ClauseEvent,
    ClauseFacts,
    Stage,
    allowed_events,
    next_stage,
    parse_event,
    parse_stage,
)
from workflow.errors import InputRefused, TransitionRefused

CLAUSE = "Clause n° 7 (marché M-2026-01 lot 2 – Gros œuvre)"

COMPLETE = ClauseFacts(
    hours_target=4725,
    holder_email="paul@example.org",
    start_date=date(2026, 4, 1),
    end_date=date(2027, 6, 30),
    final_report_recorded=True,
)
EMPTY = ClauseFacts(
    hours_target=None,
    holder_email=None,
    start_date=None,
    end_date=None,
    final_report_recorded=False,
)

#: The whole machine as DOMAIN.md and the issue describe it, written out independently of the table.
EXPECTED: dict[tuple[Stage, ClauseEvent], Stage] = {
    (Stage.IDENTIFICATION, ClauseEvent.DRAFT): Stage.DRAFTING,
    (Stage.DRAFTING, ClauseEvent.AWARD): Stage.AWARD,
    (Stage.AWARD, ClauseEvent.START): Stage.EXECUTION,
    (Stage.EXECUTION, ClauseEvent.FINISH): Stage.FOLLOW_UP,
    (Stage.FOLLOW_UP, ClauseEvent.CLOSE): Stage.CLOSED,
    (Stage.IDENTIFICATION, ClauseEvent.ABANDON): Stage.ABANDONED,
    (Stage.DRAFTING, ClauseEvent.ABANDON): Stage.ABANDONED,
    (Stage.AWARD, ClauseEvent.ABANDON): Stage.ABANDONED,
    (Stage.EXECUTION, ClauseEvent.SUSPEND): Stage.SUSPENDED,
    (Stage.SUSPENDED, ClauseEvent.RESUME): Stage.EXECUTION,
    (Stage.EXECUTION, ClauseEvent.TERMINATE): Stage.FOLLOW_UP,
    (Stage.SUSPENDED, ClauseEvent.TERMINATE): Stage.FOLLOW_UP,
}

ALL_PAIRS = list(itertools.product(Stage, ClauseEvent))
ALLOWED = [pair for pair in ALL_PAIRS if pair in EXPECTED]
REFUSED = [pair for pair in ALL_PAIRS if pair not in EXPECTED]


def _id(pair: tuple[Stage, ClauseEvent]) -> str:
    return f"{pair[0].value}-{pair[1].value}"


def test_it_has_exactly_the_expected_transitions() -> None:
    assert {pair: target for pair, (target, _guard) in TRANSITIONS.items()} == EXPECTED
    assert len(ALL_PAIRS) == 72


@pytest.mark.parametrize("pair", ALLOWED, ids=_id)
def test_it_moves_an_allowed_pair_to_its_target_stage(pair: tuple[Stage, ClauseEvent]) -> None:
    stage, event = pair
    assert next_stage(CLAUSE, stage, event, COMPLETE) is EXPECTED[pair]


@pytest.mark.parametrize("pair", REFUSED, ids=_id)
def test_it_refuses_every_other_pair_and_explains_why(pair: tuple[Stage, ClauseEvent]) -> None:
    stage, event = pair
    with pytest.raises(TransitionRefused) as refused:
        next_stage(CLAUSE, stage, event, COMPLETE)
    message = refused.value.message
    assert CLAUSE in message
    assert f"« {LABELS[stage]} »" in message
    assert f"« {EVENT_LABELS[event]} »" in message
    assert "n'y est pas permis" in message
    allowed = allowed_events(stage)
    typed = refused.value.command_line_message
    if allowed:
        # The web pages and the API name the events in French only; the command line also by
        # the code its command takes.
        shown = ", ".join(EVENT_LABELS[e] for e in allowed)
        assert message.endswith(f"Permis maintenant\u00a0: {shown}.")
        for permitted in allowed:
            assert f"({permitted.value})" not in message
            assert f"{EVENT_LABELS[permitted]} ({permitted.value})" in typed
    else:
        assert "aucun (étape finale)" in message
        assert "aucun (étape finale)" in typed


@pytest.mark.parametrize("stage", sorted(FINAL_STAGES))
def test_it_lets_nothing_leave_a_final_stage(stage: Stage) -> None:
    assert allowed_events(stage) == []


def test_it_lists_the_allowed_events_of_each_stage_in_table_order() -> None:
    assert allowed_events(Stage.IDENTIFICATION) == [ClauseEvent.DRAFT, ClauseEvent.ABANDON]
    assert allowed_events(Stage.EXECUTION) == [
        ClauseEvent.FINISH,
        ClauseEvent.SUSPEND,
        ClauseEvent.TERMINATE,
    ]
    assert allowed_events(Stage.SUSPENDED) == [ClauseEvent.RESUME, ClauseEvent.TERMINATE]


# --- guards: each says what is missing ---------------------------------------------------------


def _refusal(stage: Stage, event: ClauseEvent, facts: ClauseFacts) -> str:
    with pytest.raises(TransitionRefused) as refused:
        next_stage(CLAUSE, stage, event, facts)
    return refused.value.message


def _typed(stage: Stage, event: ClauseEvent, facts: ClauseFacts) -> str:
    """The refusal as the CLI prints it: the events also by the code the command takes."""
    with pytest.raises(TransitionRefused) as refused:
        next_stage(CLAUSE, stage, event, facts)
    return refused.value.command_line_message


@pytest.mark.parametrize("hours", [None, 0])
def test_it_keeps_a_clause_in_drafting_until_it_has_hours(hours: int | None) -> None:
    facts = ClauseFacts(hours, None, None, None, False)
    message = _refusal(Stage.DRAFTING, ClauseEvent.AWARD, facts)
    assert CLAUSE in message
    assert "« calibrage et rédaction »" in message
    assert "impossible de passer à « attribution » (attribuer)" in message
    assert "il manque le nombre d'heures d'insertion (calculé ou imposé)" in message
    # The event refused is not « permitted now »: it comes after what to do.
    assert ", puis «\u00a0attribuer\u00a0». Permis aussi maintenant\u00a0: abandonner." in message
    assert (
        "clauses clause hours N HEURES --reason « … » (nombre imposé) ; puis clauses "
        "clause advance N attribuer. Permis aussi maintenant : abandonner (abandon)."
    ) in _typed(Stage.DRAFTING, ClauseEvent.AWARD, facts)


def test_it_lets_a_clause_leave_drafting_with_hours_and_nothing_else() -> None:
    facts = ClauseFacts(833, None, None, None, False)
    assert next_stage(CLAUSE, Stage.DRAFTING, ClauseEvent.AWARD, facts) is Stage.AWARD


def test_it_needs_the_holder_email_and_the_start_date_to_start() -> None:
    message = _refusal(Stage.AWARD, ClauseEvent.START, EMPTY)
    assert "impossible de passer à « mise en œuvre » (démarrer)" in message
    assert (
        "il manque : une entreprise attributaire avec l'adresse e-mail de son "
        "correspondant et la date de démarrage." in message
    )
    assert "Permis aussi maintenant\u00a0: abandonner." in message
    assert "Permis aussi maintenant : abandonner (abandon)." in _typed(
        Stage.AWARD, ClauseEvent.START, EMPTY
    )


def test_it_names_only_the_start_date_when_the_holder_is_known() -> None:
    facts = ClauseFacts(833, "paul@example.org", None, None, False)
    message = _refusal(Stage.AWARD, ClauseEvent.START, facts)
    assert "il manque la date de démarrage." in message
    assert "attributaire" not in message


def test_it_names_only_the_holder_when_the_start_date_is_known() -> None:
    facts = ClauseFacts(833, "", date(2026, 4, 1), None, False)
    message = _refusal(Stage.AWARD, ClauseEvent.START, facts)
    assert "il manque une entreprise attributaire avec l'adresse e-mail" in message
    assert "date de démarrage" not in message


def test_it_needs_the_end_date_to_leave_execution() -> None:
    message = _refusal(Stage.EXECUTION, ClauseEvent.FINISH, EMPTY)
    assert "« mise en œuvre »" in message
    assert "impossible de passer à « suivi et bilan » (achever)" in message
    assert "il manque la date de fin d'exécution." in message
    assert "Permis aussi maintenant\u00a0: suspendre, résilier." in message
    assert (
        "À faire : clauses clause advance N achever --end-date jj/mm/aaaa. "
        "Permis aussi maintenant : suspendre (suspend), résilier (terminate)."
        in _typed(Stage.EXECUTION, ClauseEvent.FINISH, EMPTY)
    )


def test_it_needs_the_final_report_to_close() -> None:
    message = _refusal(Stage.FOLLOW_UP, ClauseEvent.CLOSE, EMPTY)
    assert "« suivi et bilan »" in message
    assert "impossible de passer à « clôturée » (clôturer)" in message
    assert "il manque le bilan de l'opération." in message
    # Closing is what was refused: the hint says what to do instead, not « clôturer ».
    assert "Permis maintenant" not in message
    assert message.endswith(
        "Pour clôturer, enregistrez d'abord le bilan\u00a0: formulaire «\u00a0Enregistrer le bilan de "
        "l'opération\u00a0» de la page de la clause (section «\u00a0Actions\u00a0»), puis "
        "«\u00a0Avancer à l'étape suivante\u00a0»."
    )
    with pytest.raises(TransitionRefused) as refused:
        next_stage(CLAUSE, Stage.FOLLOW_UP, ClauseEvent.CLOSE, EMPTY, 7)
    assert refused.value.command_line_message.endswith(
        "Pour clôturer, enregistrez d'abord le bilan\u00a0: clauses clause report 7 --file bilan.txt "
        "(ou --text «\u00a0…\u00a0»), puis clauses clause advance 7 clôturer."
    )


def test_it_needs_the_termination_date_to_terminate() -> None:
    for stage in (Stage.EXECUTION, Stage.SUSPENDED):
        message = _refusal(stage, ClauseEvent.TERMINATE, EMPTY)
        assert "impossible de passer à « suivi et bilan » (résilier)" in message
        assert "il manque la date de résiliation du marché." in message
        assert next_stage(CLAUSE, stage, ClauseEvent.TERMINATE, COMPLETE) is Stage.FOLLOW_UP
    assert parse_event("résilier") is parse_event("RESILIER") is ClauseEvent.TERMINATE


@pytest.mark.parametrize(
    ("stage", "event"),
    [
        (Stage.IDENTIFICATION, ClauseEvent.DRAFT),
        (Stage.IDENTIFICATION, ClauseEvent.ABANDON),
        (Stage.DRAFTING, ClauseEvent.ABANDON),
        (Stage.AWARD, ClauseEvent.ABANDON),
        (Stage.EXECUTION, ClauseEvent.SUSPEND),
        (Stage.SUSPENDED, ClauseEvent.RESUME),
    ],
)
def test_it_needs_nothing_for_the_unguarded_transitions(stage: Stage, event: ClauseEvent) -> None:
    assert next_stage(CLAUSE, stage, event, EMPTY) is EXPECTED[(stage, event)]


def test_it_refuses_an_allowed_event_on_the_wrong_stage_before_looking_at_guards() -> None:
    message = _refusal(Stage.CLOSED, ClauseEvent.CLOSE, EMPTY)
    assert "n'y est pas permis" in message
    assert "il manque" not in message


# --- reading events and stages as people type them ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "event"),
    [
        ("draft", ClauseEvent.DRAFT),
        ("rédiger", ClauseEvent.DRAFT),
        ("rediger", ClauseEvent.DRAFT),
        ("Rédiger", ClauseEvent.DRAFT),
        ("award", ClauseEvent.AWARD),
        ("attribuer", ClauseEvent.AWARD),
        ("start", ClauseEvent.START),
        ("démarrer", ClauseEvent.START),
        ("demarrer", ClauseEvent.START),
        ("finish", ClauseEvent.FINISH),
        ("achever", ClauseEvent.FINISH),
        ("close", ClauseEvent.CLOSE),
        ("clôturer", ClauseEvent.CLOSE),
        ("CLOTURER", ClauseEvent.CLOSE),
        ("abandon", ClauseEvent.ABANDON),
        (" abandonner ", ClauseEvent.ABANDON),
        ("suspend", ClauseEvent.SUSPEND),
        ("suspendre", ClauseEvent.SUSPEND),
        ("resume", ClauseEvent.RESUME),
        ("reprendre", ClauseEvent.RESUME),
    ],
)
def test_it_reads_events_in_french_and_english(text: str, event: ClauseEvent) -> None:
    assert parse_event(text) is event


@pytest.mark.parametrize("text", ["", "valider", "attribué", "closed"])
def test_it_refuses_an_unknown_event_and_lists_the_possible_ones(text: str) -> None:
    with pytest.raises(InputRefused) as refused:
        parse_event(text)
    message = refused.value.message
    assert f"Événement inconnu « {text} »" in message
    for event in ClauseEvent:
        assert EVENT_LABELS[event] in message


@pytest.mark.parametrize(
    ("text", "stage"),
    [
        ("execution", Stage.EXECUTION),
        ("mise en œuvre", Stage.EXECUTION),
        ("Mise en oeuvre", Stage.EXECUTION),
        ("follow_up", Stage.FOLLOW_UP),
        ("follow-up", Stage.FOLLOW_UP),
        ("suivi et bilan", Stage.FOLLOW_UP),
        ("repérage", Stage.IDENTIFICATION),
        ("reperage", Stage.IDENTIFICATION),
        ("clôturée", Stage.CLOSED),
        ("abandonnee", Stage.ABANDONED),
    ],
)
def test_it_reads_stages_in_french_and_english(text: str, stage: Stage) -> None:
    assert parse_stage(text) is stage


def test_it_refuses_an_unknown_stage_and_lists_the_possible_ones() -> None:
    with pytest.raises(InputRefused) as refused:
        parse_stage("terminée")
    assert "Étape inconnue « terminée »" in refused.value.message
    assert "follow_up (suivi et bilan)" in refused.value.message
