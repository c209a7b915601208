"""What a finish released, carried in the address of the lot's page (``board.released_query``)
and read back (``board.released_from``): every fact comes back, the companies named again from
the lot; a company of another lot, a month not after the end, a step that is none tell nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import cast
from urllib.parse import parse_qs, urlencode

from workflow.app.clause_views import ClauseDetail
from workflow.entrypoints.web.board import (
    RELEASED_FIELD,
    released_from,
    released_query,
    released_views,
)
from workflow.services.lot_ends import ReleasedMonths, released_sentence

NBSP = "\u00a0"
END = date(2026, 10, 31)
NOV, DEC, JAN = date(2026, 11, 1), date(2026, 12, 1), date(2027, 1, 1)


@dataclass(frozen=True)
class Party:
    company_id: int
    company: str


@dataclass(frozen=True)
class Lot:
    end_date: date | None
    parties: tuple[Party, ...]


PARTIES = (Party(12, "Bâtiments Sud"), Party(14, "Gers Façades"))
LOT = cast(ClauseDetail, Lot(END, PARTIES))

RELEASED = (
    ReleasedMonths(
        company_id=12,
        company="Bâtiments Sud",
        end_date=END,
        months=(NOV, DEC),
        withdrawn=("rappel n° 2", "alerte au donneur d'ordre"),
        rewritten=("rappel n° 1",),
        rewritten_without=(NOV,),
        still_asking=(("rappel n° 1", 532), ("appel à déclaration", 533)),
        still_asking_months=(NOV, DEC),
    ),
    ReleasedMonths(company_id=14, company="Gers Façades", end_date=END, months=(JAN,)),
)


def read_back(pairs: list[tuple[str, str]], lot: ClauseDetail = LOT) -> tuple[ReleasedMonths, ...]:
    """Through a real address: encoded, then parsed as the site parses it."""
    return released_from(parse_qs(urlencode(pairs)).get(RELEASED_FIELD, []), lot)


def test_every_fact_comes_back_from_the_address() -> None:
    pairs = released_query(RELEASED)

    assert read_back(pairs) == RELEASED
    # Numbers and codes only: no company, step or month in words.
    assert all("Bâtiments" not in value and "rappel" not in value for _, value in pairs)


def test_what_does_not_agree_with_the_lot_tells_nothing() -> None:
    [first, second] = released_query(RELEASED)
    other_company = (RELEASED_FIELD, "99:2026-11::::::")
    before_end = (RELEASED_FIELD, "12:2026-10::::::")
    not_a_step = (RELEASED_FIELD, "12:2026-11:envoi::::")
    broken = (RELEASED_FIELD, "12:2026-11")

    assert read_back([other_company, before_end, not_a_step, broken, second]) == RELEASED[1:]
    assert read_back([first], cast(ClauseDetail, Lot(None, PARTIES))) == ()


def test_the_page_says_what_the_command_says_up_to_the_emails_it_links() -> None:
    [view, _] = released_views(RELEASED)

    told = released_sentence(RELEASED[0])
    assert told.startswith(view.said + f"{NBSP}; 2 courriels en attente demandent encore ")
    assert view.still == ((("rappel n° 1", 532), ("appel à déclaration", 533)))
    assert view.still_months == "novembre 2026 et décembre 2026"
