"""Find a record by what people know of it: its number, its name, its SIRET, its market reference.

A facilitator knows « Gers Habitat », the SIRET on a company's letterhead and the market
reference printed on every document (``2026-014/01`` for lot 01 of market 2026-014), not the
numbers the database gave them. Every argument that designates a record takes either.

The rule, the same for every kind of record:
1. a number (digits only) is the record's N° when one has it (a participant's reference comes
   first: it is what people write);
2. otherwise, or when no record has that N°, the names that match exactly once written the same
   way (case, accents, dashes, apostrophes and spaces do not count: « Gers-Habitat » finds
   « Gers Habitat »), then the names that contain the text;
3. one match is the record; several are refused with the candidates listed, so the person can
   type one of their numbers; none is refused with where the list is.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, joinedload

from workflow.adapters.orm import Buyer, Clause, Company, Market, Operation, Participant
from workflow.domain.characters import normalized as normalized  # the name the app uses
from workflow.errors import (
    CLAUSE_BOARD,
    SEARCH_HER,
    SEARCH_HIM,
    InputRefused,
    NotFound,
    list_hint,
)
from workflow.services.catalog import parse_siret

T = TypeVar("T")

#: How many candidates an ambiguous designation lists before « … et N autres ».
SHOWN_CANDIDATES = 10
#: How many names a designation that finds none offers as « vouliez-vous dire ».
SHOWN_GUESSES = 3
#: How close a typed name must be to a record's name, or each typed word to one of its words, to
#: be offered: « Gascogne Batiment » is « Gascogne Insertion Bâtiment (EI) » (a word left out,
#: an accent missed), « Charpente Arats » is « Charpentes de l'Arrats » (letters missed).
_CLOSE_ENOUGH = 0.8
#: How much less close than the closest a name may be and still be offered beside it.
_FAR_SECOND = 0.1


#: What the web pages and the API say instead of each ``_choose``'s list command.
_LISTED = {
    "buyer list": SEARCH_HIM,
    "company list": SEARCH_HER,
    "operation list": SEARCH_HER,
    "market list": SEARCH_HIM,
    "clause list": CLAUSE_BOARD,
    "participant list": SEARCH_HIM,
}


class AmbiguousDesignation(InputRefused):
    """Plusieurs enregistrements répondent à ce nom."""


def _is_number(text: str) -> bool:
    return re.fullmatch(r"\d{1,9}", text) is not None


def _choose(
    text: str,
    what: str,
    list_command: str,
    candidates: Sequence[T],
    name_of: Callable[[T], str],
    label_of: Callable[[T], str],
) -> T:
    """The one candidate whose name is ``text`` (normalized), else the one that contains it."""
    wanted = normalized(text)
    exact = [c for c in candidates if normalized(name_of(c)) == wanted]
    matches = exact or [c for c in candidates if wanted and wanted in normalized(name_of(c))]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        guesses = _closest(wanted, candidates, name_of)
        guessed = (
            " : vouliez-vous dire "
            + " ou ".join(f"« {name_of(c)} » (n° {getattr(c, 'id', '?')})" for c in guesses)
            + " ?"
            if guesses
            else "."
        )
        raise NotFound(
            f"{what} « {text} » introuvable{guessed}",
            hint=list_hint(list_command, _LISTED[list_command]),
        )
    shown = "\n".join(f"  - {label_of(c)}" for c in matches[:SHOWN_CANDIDATES])
    more = len(matches) - SHOWN_CANDIDATES
    rest = f"\n  … et {more} autres" if more > 0 else ""
    raise AmbiguousDesignation(
        f"{what} « {text} » : {len(matches)} correspondent, précisez par le numéro :\n{shown}{rest}"
    )


def _ratio(a: str, b: str) -> float:
    """``difflib``'s ratio of ``a`` and ``b``, or 0 when its cheap upper bounds already say it
    is under ``_CLOSE_ENOUGH``: a name nobody would suggest is not worth the full comparison
    (one unknown name among 50,000 companies took 9.9 s of CPU without them, review)."""
    if 2 * min(len(a), len(b)) < _CLOSE_ENOUGH * (len(a) + len(b)):
        return 0.0  # ``real_quick_ratio``, without building a matcher: lengths too far apart
    matcher = difflib.SequenceMatcher(None, a, b)
    if matcher.quick_ratio() < _CLOSE_ENOUGH:
        return 0.0
    return matcher.ratio()


@functools.lru_cache(maxsize=1 << 16)
def _word_ratio(typed: str, theirs: str) -> float:
    """``_ratio`` of two words: names share their words (« sarl », « bâtiment »…), so each pair
    is compared once."""
    return _ratio(typed, theirs)


def _closeness(wanted: str, name: str) -> float:
    """How close the normalized ``wanted`` is to the normalized ``name``: as a whole, or word by
    word when every typed word is close to one of the name's (words left out do not count).
    Exact only from ``_CLOSE_ENOUGH`` up: below, 0 (``_ratio``)."""
    whole = _ratio(wanted, name)
    words = re.findall(r"\w+", name)
    typed = re.findall(r"\w+", wanted)
    if not typed or not words:
        return whole
    each = 1.0
    for word in typed:
        each = min(each, max(_word_ratio(word, theirs) for theirs in words))
        if each < _CLOSE_ENOUGH:
            break  # one typed word matches none of the name's: the word-by-word score is out
    return max(whole, each)


def _closest(wanted: str, candidates: Sequence[T], name_of: Callable[[T], str]) -> list[T]:
    """The candidates whose name ``wanted`` probably meant, the closest first (case, accents and
    punctuation forgiven, as the designations are)."""
    if not wanted:
        return []
    scored = [(_closeness(wanted, normalized(name_of(c))), i, c) for i, c in enumerate(candidates)]
    close = sorted((s for s in scored if s[0] >= _CLOSE_ENOUGH), key=lambda s: (-s[0], s[1]))
    # A far second is noise beside a near first: « Gascogne Batiment » is « Gascogne Insertion
    # Bâtiment (EI) », not also « Bâtiments Gascons SARL ».
    best = close[0][0] if close else 0.0
    return [c for score, _, c in close[:SHOWN_GUESSES] if score >= best - _FAR_SECOND]


def find_buyer(session: Session, designation: str | int) -> Buyer:
    """A buyer by its N° or its name."""
    text = str(designation).strip()
    if _is_number(text) and (buyer := session.get(Buyer, int(text))) is not None:
        return buyer
    buyers = session.scalars(select(Buyer).order_by(Buyer.id)).all()
    return _choose(
        text,
        "Donneur d'ordre",
        "buyer list",
        buyers,
        lambda b: b.name,
        lambda b: f"n° {b.id} {b.name}",
    )


def find_company(session: Session, designation: str | int) -> Company:
    """A company by its N°, its SIRET (spaces allowed) or its name."""
    text = str(designation).strip()
    if _is_number(text) and (company := session.get(Company, int(text))) is not None:
        return company
    if re.fullmatch(r"[\d\s]{14,20}", text):
        try:
            siret = parse_siret(text)
        except InputRefused as refused:
            # Say what was being looked for: the value designates a company.
            raise InputRefused(f"Entreprise désignée par {refused.said}") from None
        found = session.scalar(select(Company).where(Company.siret == siret)) if siret else None
        if found is None:
            raise NotFound(
                f"Aucune entreprise de SIRET « {text} ».",
                hint=list_hint("company list", SEARCH_HER),
            )
        return found
    companies = session.scalars(select(Company).order_by(Company.id)).all()
    return _choose(
        text,
        "Entreprise",
        "company list",
        companies,
        lambda c: c.name,
        lambda c: f"n° {c.id} {c.name}" + (f" (SIRET {c.siret})" if c.siret else ""),
    )


def find_operation(session: Session, designation: str | int) -> Operation:
    """An operation by its N° or its name."""
    text = str(designation).strip()
    if _is_number(text) and (operation := session.get(Operation, int(text))) is not None:
        return operation
    operations = session.scalars(
        select(Operation).options(joinedload(Operation.buyer)).order_by(Operation.id)
    ).all()
    return _choose(
        text,
        "Opération",
        "operation list",
        operations,
        lambda o: o.name,
        lambda o: f"n° {o.id} {o.name} ({o.buyer.name})",
    )


def _markets(statement: Select[Any]) -> Select[Any]:
    return statement.options(joinedload(Market.operation).joinedload(Operation.buyer)).order_by(
        Market.id
    )


def find_market(session: Session, designation: str | int) -> Market:
    """A market by its N°, its reference or its title."""
    text = str(designation).strip()
    if _is_number(text) and (market := session.get(Market, int(text))) is not None:
        return market
    same_reference: Sequence[Market] = session.scalars(
        _markets(select(Market).where(Market.reference == text))
    ).all()
    candidates: Sequence[Market] = same_reference or session.scalars(_markets(select(Market))).all()
    return _choose(
        text,
        "Marché",
        "market list",
        candidates,
        lambda m: m.reference if same_reference else f"{m.reference} {m.title}",
        lambda m: f"n° {m.id} {m.reference} {m.title} ({m.operation.buyer.name})".replace(
            "  ", " "
        ),
    )


def _lot_label(clause: Clause) -> str:
    lot = f"/{clause.lot_number}" if clause.lot_number else ""
    return f"n° {clause.id} {clause.market.reference}{lot} {clause.lot_title}"


def find_clause(session: Session, designation: str | int) -> Clause:
    """A clause (one lot) by its N°, by ``RÉFÉRENCE/LOT`` (``2026-014/01``), or by the market's
    reference alone when the market has one lot."""
    text = str(designation).strip()
    if _is_number(text) and (clause := session.get(Clause, int(text))) is not None:
        return clause
    statement = select(Clause).join(Clause.market).options(joinedload(Clause.market))
    reference, slash, lot = text.rpartition("/")
    if slash and reference.strip():
        lots = session.scalars(
            statement.where(Market.reference == reference.strip()).order_by(Clause.id)
        ).all()
        wanted = lot.strip().lstrip("0") or "0"
        chosen = [c for c in lots if (c.lot_number.strip().lstrip("0") or "0") == wanted]
        if chosen:
            return _choose(text, "Clause", "clause list", chosen, lambda c: text, _lot_label)
        if lots:
            numbers = ", ".join(c.lot_number or "(lot unique)" for c in lots)
            raise NotFound(
                f"Clause « {text} » introuvable : le marché {reference.strip()} a les lots "
                f"{numbers}."
            )
    lots = session.scalars(statement.where(Market.reference == text).order_by(Clause.id)).all()
    if lots:
        return _choose(text, "Clause", "clause list", lots, lambda c: text, _lot_label)
    raise NotFound(
        f"Clause « {text} » introuvable : donnez son numéro ou la référence du marché et le "
        "lot (ex. 2026-014/01).",
        hint=list_hint("clause list", CLAUSE_BOARD),
    )


def find_participant(session: Session, designation: str | int) -> Participant:
    """A participant by the reference the companies write (first), else by its N°."""
    text = str(designation).strip()
    participant = session.scalar(select(Participant).where(Participant.reference == text))
    if participant is None and _is_number(text):
        participant = session.get(Participant, int(text))
    if participant is None:
        raise NotFound(
            f"Aucun participant « {text} ».", hint=list_hint("participant list", SEARCH_HIM)
        )
    return participant
