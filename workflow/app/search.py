"""Find anything by a piece of what people know of it: ``clauses search TEXT``.

A facilitator on the phone hears « les Bâtiments du Sud-Ouest », « le marché de la piscine »,
« Paul, de chez Lambert », a SIRET read aloud or a participant's reference. The search looks for
the text in the names, references, titles, SIRET and e-mail addresses of buyers and their
contacts, companies and their correspondents, operations, markets, lots and participants, and
says for each what it is, its N° and the command that shows it. The matching is that of the
designations (``lookup.normalized``): case, accents, dashes and apostrophes do not count.

Participants are found by their reference only (a pseudonym): nothing else of them is searched
or shown.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from workflow.adapters.orm import (
    Buyer,
    BuyerContact,
    Clause,
    Company,
    Correspondent,
    Market,
    Operation,
    Participant,
)
from workflow.app.lookup import normalized
from workflow.app.unit import reading
from workflow.domain.stages import LABELS, Stage
from workflow.errors import InputRefused
from workflow.runtime import App

R = TypeVar("R")

#: Below this, nearly everything matches: the search asks for more.
MIN_LENGTH = 2
#: How many results are shown; the others are counted.
LIMIT = 50


@dataclass(frozen=True)
class Found:
    """One record the text was found in."""

    #: ``buyer``, ``contact``, ``company``, ``correspondent``, ``operation``, ``market``,
    #: ``clause`` or ``participant``.
    kind: str
    #: « donneur d'ordre », « lot »…
    kind_label: str
    id: int
    #: What it is, as a person reads it (« Gers Habitat », « 2026-014/01 Gros œuvre »).
    label: str
    #: Where it belongs (the buyer of an operation, the company of a correspondent…), or "".
    context: str
    #: The command that shows it.
    command: str


@dataclass(frozen=True)
class SearchResult:
    text: str
    found: tuple[Found, ...]
    #: Results beyond ``LIMIT``, not shown.
    more: int


def search(app: App, text: str, *, limit: int = LIMIT) -> SearchResult:
    """Every record whose name, reference, title, SIRET or e-mail contains ``text``, in the
    order buyers, contacts, companies, correspondents, operations, markets, lots, participants;
    exact matches first within each kind."""
    wanted = normalized(text)
    if len(wanted.replace(" ", "")) < MIN_LENGTH:
        raise InputRefused(
            f"Recherche «\u00a0{text.strip()}\u00a0» : donnez au moins {MIN_LENGTH} lettres ou chiffres."
        )
    digits = re.sub(r"\s", "", text)
    with reading(app) as session:
        found = list(_found(session, wanted, digits if digits.isdigit() else None))
    return SearchResult(text.strip(), tuple(found[:limit]), max(0, len(found) - limit))


@lru_cache(maxsize=200_000)
def normal(text: str) -> str:
    """``normalized``, kept: the same names are matched again at every search."""
    return normalized(text)


def _matches(wanted: str, *fields: str | None) -> int | None:
    """0 when a field is the text, 1 when one contains it, None when none does."""
    texts = [normal(f) for f in fields if f]
    if wanted in texts:
        return 0
    if any(wanted in t for t in texts):
        return 1
    return None


def _ranked(items: Iterable[tuple[int | None, Found]]) -> list[Found]:
    kept = [(rank, f) for rank, f in items if rank is not None]
    return [f for _, f in sorted(kept, key=lambda pair: pair[0])]


def _kind(
    wanted: str,
    rows: Iterable[Row[Any]],
    fields: Callable[[Any], tuple[str | None, ...]],
    found: Callable[[Any], Found],
) -> list[Found]:
    """The ``rows`` of one kind whose ``fields`` hold the text, exact matches first; a result
    is written for those only."""
    ranked = ((_matches(wanted, *fields(r)), r) for r in rows)
    return _ranked((rank, found(r)) for rank, r in ranked if rank is not None)


def _found(session: Session, wanted: str, digits: str | None) -> Iterator[Found]:
    # Core rows, the few columns matched and shown: a territory has tens of thousands of
    # records, none of which is an object to keep (the board's search reads them the same way).
    def rows(*columns: Any, order: Any, joins: Sequence[tuple[Any, Any]] = ()) -> list[Row[Any]]:
        statement = select(*columns)
        for table, on in joins:
            statement = statement.join(table, on)
        return list(session.connection().execute(statement.order_by(order)).all())

    yield from _kind(
        wanted,
        rows(Buyer.id, Buyer.name, Buyer.kind, order=Buyer.id),
        lambda b: (b.name,),
        lambda b: Found(
            "buyer", "donneur d'ordre", b.id, b.name, b.kind, f"clauses buyer show {b.id}"
        ),
    )
    yield from _kind(
        wanted,
        rows(
            BuyerContact.id,
            BuyerContact.name,
            BuyerContact.email,
            BuyerContact.buyer_id,
            Buyer.name.label("buyer"),
            order=BuyerContact.id,
            joins=((Buyer, Buyer.id == BuyerContact.buyer_id),),
        ),
        lambda c: (c.name, c.email),
        lambda c: Found(
            "contact",
            "contact",
            c.id,
            f"{c.name} <{c.email}>",
            c.buyer,
            f"clauses buyer show {c.buyer_id}",
        ),
    )
    companies = rows(Company.id, Company.name, Company.siret, Company.city, order=Company.id)
    ranked = (
        (0 if digits and c.siret and digits in c.siret else _matches(wanted, c.name), c)
        for c in companies
    )
    yield from _ranked(
        (
            rank,
            Found(
                "company",
                "entreprise",
                c.id,
                c.name + (f" (SIRET {c.siret})" if c.siret else ""),
                c.city,
                f"clauses company show {c.id}",
            ),
        )
        for rank, c in ranked
        if rank is not None
    )
    yield from _kind(
        wanted,
        rows(
            Correspondent.id,
            Correspondent.name,
            Correspondent.email,
            Correspondent.company_id,
            Company.name.label("company"),
            order=Correspondent.id,
            joins=((Company, Company.id == Correspondent.company_id),),
        ),
        lambda c: (c.name, c.email),
        lambda c: Found(
            "correspondent",
            "correspondant",
            c.id,
            f"{c.name} <{c.email}>",
            c.company,
            f"clauses company show {c.company_id}",
        ),
    )
    yield from _kind(
        wanted,
        rows(
            Operation.id,
            Operation.name,
            Operation.place,
            Buyer.name.label("buyer"),
            order=Operation.id,
            joins=((Buyer, Buyer.id == Operation.buyer_id),),
        ),
        lambda o: (o.name, o.place),
        lambda o: Found(
            "operation",
            "opération",
            o.id,
            o.name + (f" ({o.place})" if o.place else ""),
            o.buyer,
            f"clauses market list --operation {o.id}",
        ),
    )
    yield from _kind(
        wanted,
        rows(
            Market.id,
            Market.reference,
            Market.title,
            Operation.name.label("operation"),
            Buyer.name.label("buyer"),
            order=Market.id,
            joins=(
                (Operation, Operation.id == Market.operation_id),
                (Buyer, Buyer.id == Operation.buyer_id),
            ),
        ),
        lambda m: (m.reference, m.title),
        lambda m: Found(
            "market",
            "marché",
            m.id,
            f"{m.reference} {m.title}".strip(),
            f"{m.operation}, {m.buyer}",
            f"clauses clause list --market {m.id}",
        ),
    )
    yield from _kind(
        wanted,
        rows(
            Clause.id,
            Clause.lot_number,
            Clause.lot_title,
            Clause.trade,
            Clause.stage,
            Market.reference,
            Operation.name.label("operation"),
            order=Clause.id,
            joins=(
                (Market, Market.id == Clause.market_id),
                (Operation, Operation.id == Market.operation_id),
            ),
        ),
        lambda c: (_lot_reference(c.reference, c.lot_number), c.lot_title, c.trade),
        lambda c: Found(
            "clause",
            "lot",
            c.id,
            f"{_lot_reference(c.reference, c.lot_number)} {c.lot_title}",
            f"{c.operation} · {LABELS[Stage(c.stage)]}",
            f"clauses clause show {c.id}",
        ),
    )
    yield from _kind(
        wanted,
        rows(Participant.id, Participant.reference, order=Participant.reference),
        lambda p: (p.reference,),
        lambda p: Found(
            "participant",
            "participant",
            p.id,
            p.reference,
            "",
            f"clauses privacy export --participant {p.reference}",
        ),
    )


def _lot_reference(market_reference: str, lot_number: str | None) -> str:
    lot = f"/{lot_number}" if lot_number else ""
    return f"{market_reference}{lot}"
