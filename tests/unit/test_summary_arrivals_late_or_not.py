"""« en retard » only of the declarations that arrived after the date their company was held to
(``LateArrival.late``, ``summary_rules.ARRIVALS_LATE_OR_NOT``): the sentences of
« Depuis ma synthèse … » for one arrival, for a list all late, none late or some, and for the
declarations past the ones listed; neither word of one nothing says of (``late`` None, review
of 6 December 2026)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from workflow.domain.monthly_summary import DeclarationChange, MonthlySummary
from workflow.emails.summaries import (
    LISTED,
    LateArrival,
    SinceLast,
    changes_notice,
    sample_summary,
)
from workflow.services.summaries import CalledMonth, as_before_on_time_arrivals

PARIS = ZoneInfo("Europe/Paris")
FEB, MAR = date(2027, 2, 1), date(2027, 3, 1)
LEFT = datetime(2027, 3, 22, 6, 0, tzinfo=UTC)
OPENING = "Depuis ma synthèse de février 2027 (envoyée le 22 mars 2027), "


def plain(text: str) -> str:
    return text.replace("\u00a0", " ")


def arrival(company: str, hours: str, *, late: bool | None, clause_id: int = 2) -> LateArrival:
    return LateArrival(
        clause_id, 1, "Ville d'Auch", company, date(2027, 1, 1), Decimal(hours),
        datetime(2027, 3, 5, 9, 0, tzinfo=UTC), late=late,
    )  # fmt: skip


def summary() -> MonthlySummary:
    return replace(sample_summary(buyer=True), month=MAR, zone=PARIS)


def notice(*arrivals: LateArrival, changes: tuple[DeclarationChange, ...] = ()) -> list[str]:
    found = changes_notice(summary(), SinceLast(FEB, LEFT, True, changes, arrivals))
    assert found is not None
    return [plain(found["intro"]), *(plain(i) for i in found["items"])]


def test_one_arrival_on_time_says_so_and_one_late_reads_as_before() -> None:
    (on_time,) = notice(arrival("Charpentes de l'Arrats", "114.5", late=False))
    assert on_time == (
        f"{OPENING}la déclaration de janvier 2027 de Charpentes de l'Arrats (clause n° 2) est "
        "arrivée sans retard le 5 mars 2027 : 114,50 h, comptées dans le cumul."
    )
    (late,) = notice(arrival("Charpentes de l'Arrats", "114.5", late=True))
    assert "est arrivée le 5 mars 2027 : 114,50 h, comptées" in late
    assert "retard" not in late


def test_a_list_says_how_many_were_late_and_each_line_which() -> None:
    intro, *items = notice(
        arrival("Charpentes de l'Arrats", "10", late=True),
        arrival("Gimone Second Œuvre SAS", "0", late=False, clause_id=3),
        arrival("Peintures du Gers", "5", late=False, clause_id=4),
    )
    assert intro == (
        f"{OPENING}3 déclarations des mois qu'elle couvrait sont arrivées (dont 1 en retard et 1 "
        "à 0 h) ; le cumul en tient compte :"
    )
    assert "de Charpentes de l'Arrats (clause n° 2) est arrivée en retard le 5 mars" in items[0]
    assert "est arrivée sans retard le 5 mars 2027 : 0 h ;" in items[1]
    assert "est arrivée sans retard le 5 mars 2027 : 5 h." in items[2]
    # None late: said once, the lines unmarked.
    intro, *items = notice(
        arrival("Gimone Second Œuvre SAS", "0", late=False, clause_id=3),
        arrival("Peintures du Gers", "5", late=False, clause_id=4),
    )
    assert intro == (
        f"{OPENING}2 déclarations des mois qu'elle couvrait sont arrivées sans retard (dont 1 à "
        "0 h) ; le cumul en tient compte :"
    )
    assert all("retard" not in item for item in items), items


def test_with_corrections_and_past_the_listed_ones() -> None:
    change = DeclarationChange(
        1, 1, "Ville d'Auch", "Bâtiments Gascons SARL", FEB, Decimal("370.17"),
        Decimal("334.17"), datetime(2027, 3, 7, 14, 0, tzinfo=UTC),
    )  # fmt: skip
    arrivals = tuple(
        arrival(f"Entreprise {i:02d}", "10", late=i % 3 == 0, clause_id=i)
        for i in range(LISTED + 4)
    )
    intro, *items = notice(*arrivals, changes=(change,))
    late = sum(1 for a in arrivals if a.late)
    assert intro == (
        f"{OPENING}{LISTED + 5} déclarations des mois qu'elle couvrait ont été corrigées, "
        f"annulées ou sont arrivées (dont {late} arrivées en retard) ; le cumul en tient compte :"
    )
    rest = arrivals[LISTED - 1 :]
    rest_late = sum(1 for a in rest if a.late)
    assert 0 < rest_late < len(rest)
    # The hours are the twelve's, not the late ones': said before « dont ».
    assert items[-1] == (
        f"Et {len(rest)} autres déclarations arrivées depuis ({len(rest) * 10} h), dont "
        f"{rest_late} en retard."
    )
    on_time = tuple(replace(a, late=False) for a in arrivals)
    assert notice(*on_time, changes=(change,))[-1] == (
        f"Et {len(rest)} autres déclarations arrivées sans retard ({len(rest) * 10} h)."
    )


def test_the_older_rule_said_them_all_late() -> None:
    since = SinceLast(
        FEB,
        LEFT,
        True,
        arrivals=(
            arrival("Charpentes de l'Arrats", "10", late=True),
            arrival("Peintures du Gers", "5", late=False, clause_id=4),
        ),
    )
    older = changes_notice(summary(), as_before_on_time_arrivals(since))
    assert older is not None
    assert plain(older["intro"]) == (
        f"{OPENING}2 déclarations des mois qu'elle couvrait sont arrivées en retard ; le cumul "
        "en tient compte :"
    )
    assert all("retard" not in item for item in older["items"])


def test_one_nothing_says_of_is_neither_late_nor_on_time() -> None:
    """``late`` None (no call ever made for its month, and the previous summary did not call it
    « manquante »): no adverb on its line, not counted in « dont N en retard », and the
    opening says « sans retard » only when each arrival was on time."""
    (alone,) = notice(arrival("Charpentes de l'Arrats", "114.5", late=None))
    assert "est arrivée le 5 mars 2027 : 114,50 h, comptées" in alone
    assert "retard" not in alone
    # With one on time: no « sans retard » in the opening, the on-time line says it.
    intro, *items = notice(
        arrival("Charpentes de l'Arrats", "10", late=None),
        arrival("Peintures du Gers", "5", late=False, clause_id=4),
    )
    assert intro == (
        f"{OPENING}2 déclarations des mois qu'elle couvrait sont arrivées ; le cumul en tient "
        "compte :"
    )
    assert "retard" not in items[0]
    assert "est arrivée sans retard le 5 mars 2027 : 5 h." in items[1]
    # With one late: « dont 1 en retard », the other line unmarked.
    intro, *items = notice(
        arrival("Charpentes de l'Arrats", "10", late=None),
        arrival("Peintures du Gers", "5", late=True, clause_id=4),
    )
    assert intro == (
        f"{OPENING}2 déclarations des mois qu'elle couvrait sont arrivées (dont 1 en retard) ; "
        "le cumul en tient compte :"
    )
    assert "retard" not in items[0]
    assert "est arrivée en retard le 5 mars 2027 : 5 h." in items[1]
    # Past the listed ones: none late, none said on time either.
    arrivals = tuple(
        arrival(f"Entreprise {i:02d}", "10", late=None if i % 2 else False, clause_id=i)
        for i in range(LISTED + 4)
    )
    assert notice(*arrivals)[-1] == "Et 4 autres déclarations arrivées depuis (40 h)."


def test_a_month_without_a_call_is_late_only_when_the_previous_summary_said_it_missing() -> None:
    """``CalledMonth.late`` by the summary's own rule (``is_late`` without a due date, at the
    previous summary's moment): no call planned or the next one for a later month, it was
    « manquante » then, so late; its next call for it or an earlier month, or a month the
    company is not asked, nothing says (None); a ladder opened, its call not left, not late."""
    jan = date(2027, 1, 1)
    previous_at = datetime(2027, 2, 22, 6, 0, tzinfo=UTC)
    arrived_at = datetime(2027, 3, 5, 9, 0, tzinfo=UTC)

    def late(month: CalledMonth) -> bool | None:
        return month.late(jan, arrived_at, previous_at, PARIS)

    assert late(CalledMonth(None, None, (), False, None)) is True
    assert late(CalledMonth(None, None, (), False, FEB)) is True
    assert late(CalledMonth(None, None, (), False, jan)) is None
    assert late(CalledMonth(None, None, (), False, None, first_month=FEB)) is None
    assert late(CalledMonth(None, None)) is False
    # Its call left: the due date it gave, as before.
    assert late(CalledMonth(date(2027, 2, 10), datetime(2027, 2, 1, 7, tzinfo=UTC))) is True
    assert late(CalledMonth(date(2027, 3, 10), datetime(2027, 2, 25, 7, tzinfo=UTC))) is False
