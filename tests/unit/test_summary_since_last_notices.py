"""The sentences a monthly summary writes above its figures so that its reader can add up
« previous cumul + this month + what is listed = this cumul » (user trial, 6 December 2026):
the previous summary named with its month and the day it left, the declarations that arrived
after it, the months whose summary did not go, a long list capped with the total of the rest.
"""

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
    UnsentMonth,
    changes_notice,
    sample_summary,
    unsent_notice,
)

PARIS = ZoneInfo("Europe/Paris")
NBSP = "\u00a0"
FEB, MAR = date(2027, 2, 1), date(2027, 3, 1)
LEFT = datetime(2027, 3, 22, 6, 0, tzinfo=UTC)


def plain(text: str) -> str:
    return text.replace(NBSP, " ")


def arrival(
    company: str, hours: str, clause_id: int = 2, month: date = date(2027, 1, 1)
) -> LateArrival:
    return LateArrival(
        clause_id, 1, "Ville d'Auch", company, month, Decimal(hours),
        datetime(2027, 3, 5, 9, 0, tzinfo=UTC),
    )  # fmt: skip


def summary(buyer: bool = True) -> MonthlySummary:
    return replace(sample_summary(buyer=buyer), month=MAR, zone=PARIS)


def test_an_arrival_is_named_with_the_previous_summary_s_month_and_day() -> None:
    since = SinceLast(FEB, LEFT, True, arrivals=(arrival("Charpentes de l'Arrats", "114.5"),))
    notice = changes_notice(summary(), since)
    assert notice is not None and notice["items"] == []
    assert plain(notice["intro"]) == (
        "Depuis ma synthèse de février 2027 (envoyée le 22 mars 2027), la déclaration de "
        "janvier 2027 de Charpentes de l'Arrats (clause n° 2) est arrivée le 5 mars 2027 : "
        "114,50 h, comptées dans le cumul."
    )
    assert since.listed_hours == Decimal("114.5")
    # Not sent yet when this one was written: « établie », never « envoyée ».
    notice = changes_notice(summary(), replace(since, sent=False))
    assert notice is not None
    assert plain(notice["intro"]).startswith("Depuis ma synthèse de février 2027 (établie le 22")


def test_many_declarations_are_capped_with_the_total_of_the_rest() -> None:
    arrivals = tuple(arrival(f"Entreprise {i:02d}", "10", clause_id=i) for i in range(LISTED + 4))
    change = DeclarationChange(
        1, 1, "Ville d'Auch", "Bâtiments Gascons SARL", FEB, Decimal("370.17"),
        Decimal("334.17"), datetime(2027, 3, 7, 14, 0, tzinfo=UTC),
    )  # fmt: skip
    since = SinceLast(FEB, LEFT, True, changes=(change,), arrivals=arrivals)
    notice = changes_notice(summary(), since)
    assert notice is not None
    assert plain(notice["intro"]) == (
        f"Depuis ma synthèse de février 2027 (envoyée le 22 mars 2027), {LISTED + 5} "
        "déclarations des mois qu'elle couvrait ont été corrigées, annulées ou sont arrivées "
        "en retard ; le cumul en tient compte :"
    )
    items = [plain(i) for i in notice["items"]]
    # The correction first, then arrivals up to the cap, then one line for the rest.
    assert len(items) == LISTED + 1
    assert items[0].endswith("370,17 h → 334,17 h ;")
    assert items[-1] == "Et 5 autres déclarations arrivées en retard (50 h)."
    assert since.listed_hours == Decimal(-36) + 10 * (LISTED + 4)


def test_the_months_whose_summary_did_not_go_are_named_with_their_hours() -> None:
    since = SinceLast(
        date(2026, 10, 1),
        datetime(2026, 11, 23, 6, 0, tzinfo=UTC),
        True,
        unsent=(
            UnsentMonth(date(2026, 11, 1), Decimal(120), True),
            UnsentMonth(date(2026, 12, 1), Decimal("98.5"), True),
            UnsentMonth(date(2027, 1, 1), Decimal(0), True),
        ),
    )
    buyer = plain(unsent_notice(summary(), since) or "")
    assert buyer == (
        "Depuis ma synthèse d'octobre 2026 (envoyée le 23 novembre 2026), les synthèses de "
        "novembre 2026, de décembre 2026 et de janvier 2027 ne sont pas parties : le service "
        "était interrompu. Leurs heures (novembre 2026 : 120 h ; décembre 2026 : 98,50 h ; janvier "
        "2027 : 0 h) sont comprises dans le cumul ; je vous les envoie sur simple demande."
    )
    facilitator = plain(unsent_notice(summary(buyer=False), since) or "")
    assert facilitator.endswith(
        "sont comprises dans le cumul et dans le tableau « Heures par mois » du tableur ; "
        "chacune se produit sur demande : clauses summary --month 2026-11, clauses summary "
        "--month 2026-12, clauses summary --month 2027-01."
    ), facilitator
    assert since.listed_hours == Decimal("218.5")
    # Said once: the changes that follow open on « cette synthèse ».
    with_arrival = replace(since, arrivals=(arrival("Charpentes de l'Arrats", "4"),))
    notice = changes_notice(summary(), with_arrival)
    assert notice is not None
    assert plain(notice["intro"]).startswith("Depuis cette synthèse, la déclaration de janvier")


def test_an_arrival_on_the_day_the_previous_summary_left_is_told_with_both_hours() -> None:
    late = replace(
        arrival("Gimone Second Œuvre SAS", "76", clause_id=4, month=FEB),
        arrived_at=datetime(2027, 3, 22, 9, 15, tzinfo=UTC),
    )
    notice = changes_notice(summary(), SinceLast(FEB, LEFT, True, arrivals=(late,)))
    assert notice is not None
    assert plain(notice["intro"]) == (
        "Depuis ma synthèse de février 2027 (envoyée le 22 mars 2027 à 7 h), la déclaration de "
        "février 2027 de Gimone Second Œuvre SAS (clause n° 4) est arrivée le 22 mars 2027 à "
        "10 h 15 : 76 h, comptées dans le cumul."
    )
