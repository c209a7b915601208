"""The pace's verdict while declarations owed for the months it counts are not in: « à
confirmer », unless the hours declared are already ahead (the missing ones can only add hours).
Counted over the lots whose pace is judged: a lot without a target or dates is on neither side
of the pace, its missing declarations leave it as it is."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from workflow.adapters.reports import figure_lines, pace_phrase, progress_table
from workflow.domain.monthly_summary import (
    ClauseLine,
    Declarations,
    EarlierMissing,
    EarlierPending,
    Figures,
    MissingDeclaration,
    MonthlySummary,
    ParticipantCount,
)
from workflow.domain.summary import (
    Pace,
    awaiting,
    clause_progress,
    combine_progress,
    monthly_share,
    owed_hours,
    pace_of,
    paced_lots,
    unpaced,
    unreceived_declarations,
)

NBSP = "\u00a0"
FEB, MAR, APR = (date(2026, m, 1) for m in (2, 3, 4))
HALF = Decimal("0.5")


def test_missing_declarations_leave_only_ahead_standing() -> None:
    # Without them, the verdict of the hours alone.
    assert pace_of(Decimal("0.40"), HALF, 0) is Pace.BEHIND
    assert pace_of(HALF, HALF, 0) is Pace.ON_PACE
    # With them: behind or on pace may both change once they are in; ahead cannot.
    assert pace_of(Decimal("0.40"), HALF, 2) is Pace.UNCONFIRMED
    assert pace_of(Decimal(0), Decimal("0.04"), 2) is Pace.UNCONFIRMED  # the user trial's
    assert pace_of(HALF, HALF, 1) is Pace.UNCONFIRMED
    assert pace_of(Decimal("0.56"), HALF, 3) is Pace.AHEAD
    # Nothing to judge stays nothing.
    assert pace_of(None, HALF, 2) is None and pace_of(HALF, None, 2) is None
    assert Pace.UNCONFIRMED.label == "à confirmer"


def test_owed_declarations_that_cannot_close_the_gap_leave_it_behind() -> None:
    # Review: a lot of 500 h over ten months whose co-contractor never declared March, all
    # else in: 3 % done for 70 % elapsed read « rythme à confirmer (1 déclaration non
    # reçue) » to the end of the contract. March could bring at most a month's share (10 %).
    assert pace_of(Decimal("0.03"), Decimal("0.70"), 1, Decimal("0.10")) is Pace.BEHIND
    # Within reach of the tolerance with them: to be confirmed.
    assert pace_of(Decimal("0.40"), HALF, 1, Decimal("0.05")) is Pace.UNCONFIRMED
    assert pace_of(Decimal(0), Decimal("0.04"), 2, Decimal("0.08")) is Pace.UNCONFIRMED
    # The bound not known: to be confirmed as soon as one is owed.
    assert pace_of(Decimal("0.03"), Decimal("0.70"), 1, None) is Pace.UNCONFIRMED
    # Their share counts only when one is owed.
    assert pace_of(Decimal("0.40"), HALF, 0, Decimal("0.50")) is Pace.BEHIND


def test_a_scope_s_bound_is_its_lots_monthly_shares() -> None:
    assert monthly_share(500, date(2026, 3, 2), date(2026, 12, 31)) == 50
    assert monthly_share(500, date(2026, 3, 2), date(2026, 3, 20)) == 500
    assert monthly_share(None, date(2026, 3, 2), date(2026, 12, 31)) is None
    declarations = Declarations(
        expected=2,
        missing=(_missing(1),),
        earlier=(EarlierMissing(1, 1, "Ville", 1, "Bâtiments", "M-1", "1", "Lot", (FEB, MAR)),),
    )
    # Three owed on lot 1 (50 h a month), lot 2 not paced.
    assert owed_hours(declarations, {1: Decimal(50)}) == 150
    assert owed_hours(declarations, {2: Decimal(50)}) == 0
    assert owed_hours(declarations, {1: None}) is None
    # A scope: 3 % of 1,000 h done for 70 % elapsed, 150 h owed: 18 %, still behind.
    lot = clause_progress(1000, Decimal(0), Decimal(30), Decimal("0.70"))
    assert awaiting(lot, 3, Decimal(150)).pace is Pace.BEHIND
    assert awaiting(lot, 3, Decimal(700)).pace is Pace.UNCONFIRMED
    both = combine_progress([awaiting(lot, 3, Decimal(150)), awaiting(lot, 1, Decimal(50))])
    assert (both.unreceived, both.owed, both.pace) == (4, 200, Pace.BEHIND)
    unknown = combine_progress([awaiting(lot, 3, Decimal(150)), awaiting(lot, 1, None)])
    assert (unknown.owed, unknown.pace) == (None, Pace.UNCONFIRMED)


def _missing(clause_id: int, company: str = "Bâtiments") -> MissingDeclaration:
    return MissingDeclaration(clause_id, 1, "Ville", clause_id, company, "M-1", "1", "Lot")


def test_the_count_takes_every_declaration_owed_up_to_the_month_of_paced_lots() -> None:
    declarations = Declarations(
        expected=4,
        missing=(_missing(1), _missing(2)),
        pending=(_missing(1, "Peintures"),),
        earlier=(EarlierMissing(1, 1, "Ville", 1, "Bâtiments", "M-1", "1", "Lot", (FEB, MAR)),
                 EarlierMissing(2, 1, "Ville", 2, "Bâtiments", "M-1", "2", "Lot", (MAR,))),
        earlier_pending=(
            EarlierPending(1, 1, "Ville", 3, "Charpentes", "M-1", "1", "Lot", MAR, APR),
        ),
    )  # fmt: skip
    # Lot 1 paced: its month's missing one and the one not due yet, two earlier months still
    # missing, one earlier month not due yet. Lot 2 (no dates) counts for nothing.
    assert unreceived_declarations(declarations, frozenset({1})) == 5
    assert unreceived_declarations(declarations, frozenset({1, 2})) == 7
    assert unreceived_declarations(declarations, frozenset()) == 0


def test_a_scope_adds_up_its_paced_parts_and_loses_them_unpaced() -> None:
    paced = awaiting(clause_progress(500, Decimal(0), Decimal(0), Decimal("0.04")), 2)
    undated = awaiting(clause_progress(None, Decimal(0), Decimal(0), None), 3)
    assert undated.unreceived == 0  # no pace to wait for
    scope = combine_progress([paced, undated, paced])
    assert scope.unreceived == 4 and scope.pace is Pace.UNCONFIRMED
    assert unpaced(scope).unreceived == 0 and unpaced(scope).pace is None


def test_the_phrase_says_how_many_declarations_it_waits_for() -> None:
    progress = clause_progress(500, Decimal(0), Decimal(0), Decimal("0.0448"))
    shares = f"0{NBSP}% des heures prévues réalisées pour 4{NBSP}% du temps écoulé, "
    assert pace_phrase(progress) == shares + "dans le rythme"
    assert pace_phrase(awaiting(progress, 1)) == (
        shares + "rythme à confirmer (1 déclaration non reçue)"
    )
    assert pace_phrase(awaiting(progress, 2)) == (
        shares + "rythme à confirmer (2 déclarations non reçues)"
    )
    # A scope whose paced lots were all terminated says the termination, as before.
    said = pace_phrase(awaiting(progress, 2), (date(2026, 11, 15),))
    assert said == shares + "marché résilié le 15 novembre 2026"
    # Ahead: true whatever the missing hours add.
    ahead = clause_progress(500, Decimal(0), Decimal(100), Decimal("0.04"))
    assert pace_phrase(awaiting(ahead, 2)) == (
        f"20{NBSP}% des heures prévues réalisées pour 4{NBSP}% du temps écoulé, en avance"
    )


def _line(clause_id: int, target: int | None, elapsed: Decimal | None) -> ClauseLine:
    progress = clause_progress(target, Decimal(0), Decimal(0), elapsed)
    dates = (date(2026, 3, 2), date(2027, 12, 31)) if elapsed is not None else (None, None)
    return ClauseLine(clause_id, 1, "Ville", "M-1", str(clause_id), "Lot", "execution", *dates,
                      progress)  # fmt: skip


def _summary(
    lines: tuple[ClauseLine, ...], missing: tuple[MissingDeclaration, ...]
) -> MonthlySummary:
    figures = Figures(
        progress=combine_progress(c.progress for c in lines),
        followed=len(lines),
        declarations=Declarations(len(lines), missing),
        participants=ParticipantCount("all", "Ensemble", 0, 0, 0),
        by_criterion=(),
        by_sex=(),
        by_age_band=(),
        hours_by_mode=(),
        contracts_by_type=(),
        outcomes_by_type=(),
        outcomes_by_group=(),
        clauses_by_stage=(),
    )
    return MonthlySummary(MAR, 1, "Ville", None, figures, (), lines, ())


def test_the_summary_waits_only_for_the_lots_whose_pace_it_judges() -> None:
    lines = (_line(1, 500, Decimal("0.0448")), _line(2, None, None))
    # Lot 1: 500 h over the 22 months from March 2026 to December 2027.
    assert paced_lots(lines) == {1: Decimal(500) / 22}
    label = "Rythme à fin mars 2026"
    # The undated lot's declaration missing: the pace is what the hours say.
    figures = dict(figure_lines(_summary(lines, (_missing(2),))))
    assert figures[label].endswith("du temps écoulé, dans le rythme")
    # The paced lot's: to be confirmed; the older rule (emails written before) judged it.
    waiting = _summary(lines, (_missing(1), _missing(2)))
    assert dict(figure_lines(waiting))[label].endswith(
        "rythme à confirmer (1 déclaration non reçue)"
    )
    assert dict(figure_lines(waiting, confirm_pace=False))[label].endswith("dans le rythme")
    # The « Avancement » sheet's « Rythme » column says it too.
    (row,) = progress_table(waiting).rows
    assert row[-1] == "à confirmer"
