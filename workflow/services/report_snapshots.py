"""The dashboard's reports kept as compiled (``report_snapshots``): read, written, and whether the
data they come from has moved since.

A snapshot is written whole by one upsert keyed by (kind, period, scope): two instances
recomputing the same report at once both succeed, and the row keeps the newest compile (the
update only takes a compile at least as recent as the one stored). The page reads the view
without the files; a download reads one file's bytes only.

Whether the data changed since a compile is told by the last id of each table the figures come
from (``data_marks``): a primary key's maximum costs one index step, where a ``max(at)`` over an
unindexed history would read it all. Every change the figures can see adds a row to one of them:
a declaration recorded, corrected, cancelled or validated, an outcome, a stage change, a calendar
change (``clause_history``); a correction of a buyer, a company, a lot or a participant
(``record_history``); a new lot, buyer, participant; a privacy purge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from workflow.adapters.dialects import is_postgresql
from workflow.adapters.orm import (
    Buyer,
    Clause,
    ClauseHistory,
    Declaration,
    Outcome,
    Participant,
    PrivacyPurge,
    RecordHistory,
    ReportSnapshot,
)

Kind = Literal["summary", "annual"]
FileFormat = Literal["csv", "xlsx"]
#: ``scope`` of a report of every buyer (buyers' N° start at 1).
EVERY_BUYER = 0

#: The tables whose last id is a mark, in the order ``marks`` writes them.
MARKED: tuple[tuple[str, Any], ...] = (
    ("clause_history", ClauseHistory.id),
    ("record_history", RecordHistory.id),
    ("declarations", Declaration.id),
    ("outcomes", Outcome.id),
    ("participants", Participant.id),
    ("clauses", Clause.id),
    ("buyers", Buyer.id),
    ("privacy_purges", PrivacyPurge.id),
)


@dataclass(frozen=True)
class SnapshotKey:
    kind: Kind
    period: str  # 2026-03, 2017
    scope: int  # the buyer's N°, EVERY_BUYER for the whole territory

    @classmethod
    def of(cls, kind: Kind, period: str, buyer_id: int | None) -> SnapshotKey:
        return cls(kind, period, EVERY_BUYER if buyer_id is None else buyer_id)


@dataclass(frozen=True)
class StoredView:
    """A snapshot without its files: what the page needs."""

    compiled_at: datetime
    compiled_by: str
    marks: str
    view: str


def data_marks(session: Session) -> str:
    """``clause_history=105842 record_history=12 …``: the last id of every table the figures
    come from, in one statement."""
    columns = [select(func.max(column)).scalar_subquery().label(name) for name, column in MARKED]
    row = session.execute(select(*columns)).one()
    return " ".join(f"{name}={value or 0}" for (name, _), value in zip(MARKED, row, strict=True))


def _where(key: SnapshotKey) -> Any:
    return (
        (ReportSnapshot.kind == key.kind)
        & (ReportSnapshot.period == key.period)
        & (ReportSnapshot.scope == key.scope)
    )


def read_view(session: Session, key: SnapshotKey) -> StoredView | None:
    row = session.execute(
        select(
            ReportSnapshot.compiled_at,
            ReportSnapshot.compiled_by,
            ReportSnapshot.marks,
            ReportSnapshot.view,
        ).where(_where(key))
    ).first()
    return None if row is None else StoredView(*row)


def read_file(session: Session, key: SnapshotKey, fmt: FileFormat) -> bytes | None:
    column = ReportSnapshot.csv if fmt == "csv" else ReportSnapshot.xlsx
    content: bytes | None = session.scalar(select(column).where(_where(key)))
    return content


def store(
    session: Session,
    key: SnapshotKey,
    *,
    compiled_at: datetime,
    compiled_by: str,
    marks: str,
    view: str,
    csv: bytes,
    xlsx: bytes,
) -> None:
    """Write the snapshot of ``key``, replacing the one stored unless that one is newer: one
    statement, so two instances recomputing at once never fail on the key."""
    insert = postgresql.insert if is_postgresql(session) else sqlite.insert
    values = {
        "kind": key.kind,
        "period": key.period,
        "scope": key.scope,
        "compiled_at": compiled_at,
        "compiled_by": compiled_by[:100],
        "marks": marks,
        "view": view,
        "csv": csv,
        "xlsx": xlsx,
    }
    statement = insert(ReportSnapshot).values(values)
    excluded = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=["kind", "period", "scope"],
        set_={
            name: getattr(excluded, name)
            for name in ("compiled_at", "compiled_by", "marks", "view", "csv", "xlsx")
        },
        where=ReportSnapshot.compiled_at <= excluded.compiled_at,
    )
    session.execute(statement)


@dataclass(frozen=True)
class BuyerName:
    id: int
    name: str


def buyer_names(session: Session) -> list[BuyerName]:
    """The buyers to choose from, by name (as ``catalog.list_buyers`` orders them), without
    their contacts."""
    rows = session.execute(select(Buyer.id, Buyer.name).order_by(Buyer.name, Buyer.id))
    return [BuyerName(id, name) for id, name in rows]
