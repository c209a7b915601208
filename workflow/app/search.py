"""Find anything by a piece of what people know of it: ``clauses search TEXT``.

A facilitator on the phone hears « les Bâtiments du Sud-Ouest », « le marché de la piscine »,
« Paul, de chez Lambert », a SIRET read aloud or a participant's reference. The search looks for
the text in the names, references, titles, SIRET and e-mail addresses of buyers and their
contacts, companies and their correspondents, operations, markets, lots and participants, and
says for each what it is, its N° and the command that shows it. The matching is that of the
designations (``lookup.normalized``): case, accents, dashes and apostrophes do not count.

The database does the matching: each record keeps its searched fields normalised in
``search_text`` (``adapters.search_text`` writes it on every insert and update), so a search is
one ``LIKE`` per kind, ranked and cut there, the results written for the rows shown only. A row
whose text is missing (NULL: a write that bypassed the ORM and forgot it) is matched in Python,
from an empty partial index: it is found all the same.

Participants are found by their reference only (a pseudonym): nothing else of them is searched
or shown.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Row, case, func, or_, select
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
from workflow.adapters.search_text import (
    FIELDS,
    SEPARATOR,
    lot_fields,
    lot_reference,
)
from workflow.app.lookup import normalized
from workflow.app.unit import reading
from workflow.domain.stages import LABELS, Stage
from workflow.errors import InputRefused
from workflow.runtime import App

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
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
    # No record holds a control character (every input refuses them), and PostgreSQL refuses a
    # NUL in a query's text: they are dropped from what is looked for.
    text = _CONTROL.sub("", text)
    wanted = normalized(text)
    if len(wanted.replace(" ", "")) < MIN_LENGTH:
        raise InputRefused(
            f"Recherche «\u00a0{text.strip()}\u00a0» : donnez au moins {MIN_LENGTH} lettres ou chiffres."
        )
    digits = re.sub(r"\s", "", text)
    found: list[Found] = []
    more = 0
    with reading(app) as session:
        for kind in _KINDS:
            shown, total = _kind(
                session, kind, wanted, digits if digits.isdigit() else None, limit - len(found)
            )
            found.extend(shown)
            more += total - len(shown)
    return SearchResult(text.strip(), tuple(found), more)


@lru_cache(maxsize=200_000)
def normal(text: str) -> str:
    """``normalized``, kept: the same names are matched again at every search."""
    return normalized(text)


@dataclass(frozen=True)
class _Kind:
    """How one kind of record is searched and shown."""

    model: Any
    #: The columns read for each result (the record's and those of the records it belongs to).
    columns: tuple[Any, ...]
    joins: tuple[tuple[Any, Any], ...]
    #: The order within a rank (the N°, a participant's reference).
    order: Any
    #: The searched fields of a row, for the rows whose ``search_text`` is not written yet.
    fields: Callable[[Any], tuple[str | None, ...]]
    found: Callable[[Any], Found]


def _like(text: str) -> str:
    """``text`` matched literally by LIKE (``\\`` escapes): « 100 % » or « lot_2 » are letters."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _conditions(
    kind: _Kind, wanted: str, digits: str | None
) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """A field of the record is the text (the first rank); a field holds it. A line feed is
    around every field of ``search_text`` and in none, so a match never spans two fields."""
    column = kind.model.search_text
    pattern = _like(wanted)
    exact: ColumnElement[bool] = column.like(f"%{SEPARATOR}{pattern}{SEPARATOR}%", escape="\\")
    condition: ColumnElement[bool] = column.like(f"%{pattern}%", escape="\\")
    if digits and kind.model is Company:  # a SIRET read aloud, spaces left out
        siret = Company.siret.like(f"%{digits}%")
        return or_(siret, exact), or_(siret, condition)
    return exact, condition


def _kind(
    session: Session, kind: _Kind, wanted: str, digits: str | None, room: int
) -> tuple[list[Found], int]:
    """The first ``room`` records of a kind that hold the text, exact matches first, and how
    many hold it. The database matches ``search_text``; the rows not written yet (NULL), if a
    write ever missed it, are matched here in Python, so that no record is ever missed."""
    exact, condition = _conditions(kind, wanted, digits)
    rank = case((exact, 0), else_=1)
    connection = session.connection()
    rows: list[Any] = []
    total = 0
    if room > 0:
        statement = select(*kind.columns, rank.label("rank"), func.count().over().label("total"))
        for table, on in kind.joins:
            statement = statement.join(table, on)
        statement = statement.where(condition).order_by(rank, kind.order).limit(room)
        rows = list(connection.execute(statement).all())
        total = rows[0].total if rows else 0
    else:
        total = (
            connection.scalar(select(func.count()).select_from(kind.model).where(condition)) or 0
        )
    ranked = [(row.rank, row) for row in rows] + _unwritten(session, kind, wanted, digits)
    total += len(ranked) - len(rows)
    if len(ranked) > len(rows):  # rare: written rows and unwritten ones, in one order
        ranked.sort(key=lambda item: (item[0], getattr(item[1], kind.order.key)))
    return [kind.found(row) for _, row in ranked[: max(room, 0)]], total


def _unwritten(
    session: Session, kind: _Kind, wanted: str, digits: str | None
) -> list[tuple[int, Row[Any]]]:
    """The records of a kind whose ``search_text`` is NULL that hold the text, with their rank."""
    statement = select(*kind.columns)
    for table, on in kind.joins:
        statement = statement.join(table, on)
    rows = session.connection().execute(
        # Written as the partial index ``orm.UNWRITTEN_INDEXES`` is: it reads no row.
        statement.where(kind.model.search_text.is_(None)).order_by(kind.order)
    )
    found: list[tuple[int, Row[Any]]] = []
    for row in rows:
        if digits and kind.model is Company and row.siret and digits in row.siret:
            rank: int | None = 0
        else:
            rank = _matches(wanted, *kind.fields(row))
        if rank is not None:
            found.append((rank, row))
    return found


def _matches(wanted: str, *fields: str | None) -> int | None:
    """0 when a field is the text, 1 when one contains it, None when none does."""
    texts = [normal(f) for f in fields if f]
    if wanted in texts:
        return 0
    if any(wanted in t for t in texts):
        return 1
    return None


def _lot_reference(row: Any) -> str:
    return lot_reference(row.reference, row.lot_number)


_KINDS = (
    _Kind(
        Buyer,
        (Buyer.id, Buyer.name, Buyer.kind),
        (),
        Buyer.id,
        lambda b: FIELDS[Buyer](b),
        lambda b: Found(
            "buyer", "donneur d'ordre", b.id, b.name, b.kind, f"clauses buyer show {b.id}"
        ),
    ),
    _Kind(
        BuyerContact,
        (
            BuyerContact.id,
            BuyerContact.name,
            BuyerContact.email,
            BuyerContact.buyer_id,
            Buyer.name.label("buyer"),
        ),
        ((Buyer, Buyer.id == BuyerContact.buyer_id),),
        BuyerContact.id,
        lambda c: FIELDS[BuyerContact](c),
        lambda c: Found(
            "contact",
            "contact",
            c.id,
            f"{c.name} <{c.email}>",
            c.buyer,
            f"clauses buyer show {c.buyer_id}",
        ),
    ),
    _Kind(
        Company,
        (Company.id, Company.name, Company.siret, Company.city),
        (),
        Company.id,
        lambda c: FIELDS[Company](c),
        lambda c: Found(
            "company",
            "entreprise",
            c.id,
            c.name + (f" (SIRET {c.siret})" if c.siret else ""),
            c.city,
            f"clauses company show {c.id}",
        ),
    ),
    _Kind(
        Correspondent,
        (
            Correspondent.id,
            Correspondent.name,
            Correspondent.email,
            Correspondent.company_id,
            Company.name.label("company"),
        ),
        ((Company, Company.id == Correspondent.company_id),),
        Correspondent.id,
        lambda c: FIELDS[Correspondent](c),
        lambda c: Found(
            "correspondent",
            "correspondant",
            c.id,
            f"{c.name} <{c.email}>",
            c.company,
            f"clauses company show {c.company_id}",
        ),
    ),
    _Kind(
        Operation,
        (Operation.id, Operation.name, Operation.place, Buyer.name.label("buyer")),
        ((Buyer, Buyer.id == Operation.buyer_id),),
        Operation.id,
        lambda o: FIELDS[Operation](o),
        lambda o: Found(
            "operation",
            "opération",
            o.id,
            o.name + (f" ({o.place})" if o.place else ""),
            o.buyer,
            f"clauses market list --operation {o.id}",
        ),
    ),
    _Kind(
        Market,
        (
            Market.id,
            Market.reference,
            Market.title,
            Operation.name.label("operation"),
            Buyer.name.label("buyer"),
        ),
        (
            (Operation, Operation.id == Market.operation_id),
            (Buyer, Buyer.id == Operation.buyer_id),
        ),
        Market.id,
        lambda m: FIELDS[Market](m),
        lambda m: Found(
            "market",
            "marché",
            m.id,
            f"{m.reference} {m.title}".strip(),
            f"{m.operation}, {m.buyer}",
            f"clauses clause list --market {m.id}",
        ),
    ),
    _Kind(
        Clause,
        (
            Clause.id,
            Clause.lot_number,
            Clause.lot_title,
            Clause.trade,
            Clause.stage,
            Market.reference,
            Operation.name.label("operation"),
        ),
        (
            (Market, Market.id == Clause.market_id),
            (Operation, Operation.id == Market.operation_id),
        ),
        Clause.id,
        lambda c: lot_fields(c.reference, c.lot_number, c.lot_title, c.trade),
        lambda c: Found(
            "clause",
            "lot",
            c.id,
            f"{_lot_reference(c)} {c.lot_title}",
            f"{c.operation} · {LABELS[Stage(c.stage)]}",
            f"clauses clause show {c.id}",
        ),
    ),
    _Kind(
        Participant,
        (Participant.id, Participant.reference),
        (),
        Participant.reference,
        lambda p: FIELDS[Participant](p),
        lambda p: Found(
            "participant",
            "participant",
            p.id,
            p.reference,
            "",
            f"clauses privacy export --participant {p.reference}",
        ),
    ),
)
