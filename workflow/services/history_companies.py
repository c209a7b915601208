"""Which company a lot's history row tells of, though it was renamed or merged since.

A row of a declaration, of its cancellation or validation, of a company's departure
(``clause_history``) keeps the company's number then (``company_id``, 0029); the rows written
before name it only in their text (« déclaration de mars 2027 de GIB Insertion : 40 h »). A reader
matches a row by its number, followed through the merges since (``HistoryCompanies.now_of``:
the company that holds today what that number held), and an older row by every name the
company had (``company_names``: today's, those its corrections replaced, those of the companies
merged into it), never by « the only company that declared that month », which gave a renamed
company's history to another company of the lot once its own month was cancelled.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.batching import chunked
from workflow.adapters.orm import Company, RecordHistory

_COMPANY = "company"  # ``RecordKind.COMPANY``
_MERGE = "merge"  # ``corrections.Action.MERGE``
_ABSORB = "absorb"  # ``corrections.Action.ABSORB``
_EDIT = "edit"  # ``corrections.Action.EDIT``


def company_names(session: Session, company_ids: Collection[int]) -> dict[int, set[str]]:
    """Every name each company had: today's, those its corrections replaced, and those of the
    companies merged into it (and of their own names before), from ``record_history``: a
    history row names the company as it was called then."""
    return company_aliases(session, company_ids)[0]


def company_aliases(
    session: Session, company_ids: Collection[int]
) -> tuple[dict[int, set[str]], dict[int, int]]:
    """``company_names``, and the company each number is today: itself, or the one a company
    merged since went into."""
    names: dict[int, set[str]] = {cid: set() for cid in company_ids}
    for chunk in chunked(sorted(company_ids)):
        for cid, name in session.execute(
            select(Company.id, Company.name).where(Company.id.in_(chunk))
        ):
            names[cid].add(name)
    # Whose names a company carries: itself, then the companies merged into it, level by level.
    owner: dict[int, int] = {cid: cid for cid in company_ids}
    todo = set(company_ids)
    while todo:
        found: set[int] = set()
        for chunk in chunked(sorted(todo)):
            for entity_id, action, before, after in session.execute(
                select(
                    RecordHistory.entity_id,
                    RecordHistory.action,
                    RecordHistory.before,
                    RecordHistory.after,
                ).where(RecordHistory.entity == _COMPANY, RecordHistory.entity_id.in_(chunk))
            ):
                mine = names[owner[entity_id]]
                for side in (before, after):
                    values = _json_object(side)
                    if isinstance(values.get("name"), str):
                        mine.add(values["name"])
                    merged = values.get("from")
                    if action == _ABSORB and isinstance(merged, dict):
                        if isinstance(merged.get("name"), str):
                            mine.add(merged["name"])
                        source = merged.get("id")
                        if isinstance(source, int) and source not in owner:
                            owner[source] = owner[entity_id]
                            found.add(source)
        todo = found
    return names, owner


def _json_object(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class HistoryCompanies:
    """The companies the history rows of a reading tell of: each row's number followed through
    the merges since, and the names each company had, read once (lazily: a reading whose rows
    all name today's companies by their number reads no record history)."""

    def __init__(self, session: Session) -> None:
        self._session = session
        # number -> its merges (record history id, instant, target), in writing order.
        self._merges: dict[int, list[tuple[int, datetime, int]]] = {}
        self._names: dict[int, set[str]] = {}
        # number -> its renames and absorptions (record history id, instant, action, before,
        # after), in writing order; and the names of today (``name_at``).
        self._changes: dict[
            int, list[tuple[int, datetime, str, dict[str, Any], dict[str, Any]]]
        ] = {}
        self._today: dict[int, str] = {}

    def read_merges(self, company_ids: Iterable[int]) -> None:
        """The merges of these numbers and of the companies they went into: one query per
        level of merges (none merged: one query)."""
        todo = {cid for cid in company_ids if cid not in self._merges}
        while todo:
            for cid in todo:
                self._merges[cid] = []
            found: set[int] = set()
            for chunk in chunked(sorted(todo)):
                for row_id, entity_id, at, after in self._session.execute(
                    select(
                        RecordHistory.id,
                        RecordHistory.entity_id,
                        RecordHistory.at,
                        RecordHistory.after,
                    )
                    .where(
                        RecordHistory.entity == _COMPANY,
                        RecordHistory.entity_id.in_(chunk),
                        RecordHistory.action == _MERGE,
                    )
                    .order_by(RecordHistory.id)
                ):
                    into = _json_object(after).get("into")
                    target = into.get("id") if isinstance(into, dict) else None
                    if isinstance(target, int):
                        self._merges[entity_id].append((row_id, at, target))
                        if target not in self._merges:
                            found.add(target)
            todo = found

    def now_of(self, company_id: int, at: datetime) -> int:
        """The company that holds today what ``company_id`` held at ``at`` (a row's number
        then): itself, or the company it was merged into after ``at``, followed (A into B, then
        B into C gives C). A merge before ``at`` is of another company given the same number
        since (SQLite gives a deleted highest number again): not followed."""
        self.read_merges([company_id])
        current, after = company_id, -1
        while True:
            self.read_merges([current])
            step = next(
                (
                    (row_id, target)
                    for row_id, merged_at, target in self._merges[current]
                    if row_id > after and _aware(merged_at) >= _aware(at)
                ),
                None,
            )
            if step is None:
                return current
            after, current = step

    def names(self, company_ids: Collection[int]) -> dict[int, set[str]]:
        """``company_names`` of these companies, each read once."""
        missing = [cid for cid in company_ids if cid not in self._names]
        if missing:
            self._names.update(company_names(self._session, missing))
        return {cid: self._names[cid] for cid in company_ids}

    def by_name(
        self,
        name: str,
        candidates: Collection[tuple[int, str]],
        *,
        today_first: bool = True,
        at: datetime | None = None,
    ) -> int | None:
        """Among ``candidates`` (number, name today), the company a row written before 0029
        names ``name``: with ``at`` (the row's instant), the only one called so at that instant
        (``name_at``: a company that took the name since, or left it since, is not taken for
        another); without, the only one called so today, else the only one that had the name
        (a rename, a merge). None when none did or two did (never one picked by chance)."""
        if at is not None:
            then = {cid for cid, current in candidates if name in self.names_at(cid, at, current)}
            return next(iter(then)) if len(then) == 1 else None
        today = {cid for cid, current in candidates if current == name}
        if today_first and len(today) == 1:
            return next(iter(today))
        ids = {cid for cid, _ in candidates}
        had = {cid for cid, names in self.names(ids).items() if name in names}
        return next(iter(had)) if len(had) == 1 else None

    def read_changes(self, company_ids: Iterable[int]) -> None:
        """The renames (``edit``), absorptions and merges of these numbers and of the companies
        absorbed into them, for ``name_at``: one query per level of merges."""
        todo = {cid for cid in company_ids if cid not in self._changes}
        while todo:
            for cid in todo:
                self._changes[cid] = []
            found: set[int] = set()
            for chunk in chunked(sorted(todo)):
                for row_id, entity_id, at, action, before, after in self._session.execute(
                    select(
                        RecordHistory.id,
                        RecordHistory.entity_id,
                        RecordHistory.at,
                        RecordHistory.action,
                        RecordHistory.before,
                        RecordHistory.after,
                    )
                    .where(
                        RecordHistory.entity == _COMPANY,
                        RecordHistory.entity_id.in_(chunk),
                        RecordHistory.action.in_([_EDIT, _ABSORB, _MERGE]),
                    )
                    .order_by(RecordHistory.id)
                ):
                    old, new = _json_object(before), _json_object(after)
                    self._changes[entity_id].append((row_id, _aware(at), action, old, new))
                    if action == _ABSORB:
                        for side in (old, new):
                            merged = side.get("from")
                            source = merged.get("id") if isinstance(merged, dict) else None
                            if isinstance(source, int) and source not in self._changes:
                                found.add(source)
            todo = found

    def name_at(self, company_id: int, at: datetime) -> str | None:
        """The company's own name at ``at``: today's, each rename made after ``at`` undone;
        None when its number was then another company's (merged away since, SQLite giving a
        deleted highest number again)."""
        today = self._today_name(company_id)
        return None if today is None else self._own_name_at(company_id, today, _aware(at))

    def names_at(self, company_id: int, at: datetime, today: str | None = None) -> set[str]:
        """The names the company answered to at ``at``: its own (``name_at``) and those of the
        companies merged into it after ``at`` (each called then by its own name then: a row
        written before the merge names the absorbed company)."""
        if today is not None:
            self._today.setdefault(company_id, today)
        current = self._today_name(company_id) if today is None else today
        if current is None:
            return set()
        return self._names_at(company_id, current, _aware(at), set())

    def _names_at(
        self, cid: int, current: str, at: datetime, seen: set[int], until: datetime | None = None
    ) -> set[str]:
        """``names_at``; ``until``: the instant the company was absorbed (``current``: its
        name then), None for a company of today."""
        seen.add(cid)
        own = self._own_name_at(cid, current, at, until)
        found = set() if own is None else {own}
        for _, when, action, _, after in self._changes[cid]:
            if action != _ABSORB or when < at or (until is not None and when > until):
                continue
            merged = after.get("from")
            if not isinstance(merged, dict) or not isinstance(merged.get("name"), str):
                continue
            source = merged.get("id")
            if isinstance(source, int) and source not in seen:
                self.read_changes([source])
                found |= self._names_at(source, merged["name"], at, seen, when)
            else:
                found.add(merged["name"])
        return found

    def _own_name_at(
        self, cid: int, current: str, at: datetime, until: datetime | None = None
    ) -> str | None:
        self.read_changes([cid])
        changes = self._changes[cid]
        start = -1
        if until is None:
            # A merge of today's number is of the company that held it before (a merge deletes
            # its source): today's company held the number only after it.
            merges = [(row_id, when) for row_id, when, action, _, _ in changes if action == _MERGE]
            if merges:
                start, last = merges[-1]
                if last >= at:
                    return None
        name = current
        for row_id, when, action, before, _ in reversed(changes):
            if row_id <= start or when < at:
                break
            if until is not None and when > until:
                continue
            if action == _EDIT and isinstance(before.get("name"), str):
                name = before["name"]
        return name

    def _today_name(self, company_id: int) -> str | None:
        if company_id not in self._today:
            name = self._session.scalar(select(Company.name).where(Company.id == company_id))
            if name is None:
                return None
            self._today[company_id] = name
        return self._today[company_id]

    def read_names_today(self, company_ids: Iterable[int]) -> None:
        """Today's names of these companies, for ``name_at``, in one query per chunk."""
        missing = sorted({cid for cid in company_ids if cid not in self._today})
        for chunk in chunked(missing):
            for cid, name in self._session.execute(
                select(Company.id, Company.name).where(Company.id.in_(chunk))
            ):
                self._today[cid] = name


def _aware(moment: datetime) -> datetime:
    """SQLite gives back naive instants (UTC): comparable with aware ones."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Rename:
    """A company's name changed after a moment: the name it had then, the one it has now (its
    last change's), and when it first changed since."""

    company_id: int
    before: str
    after: str
    at: datetime


def renamed_since(session: Session, moment: datetime) -> list[Rename]:
    """The companies renamed after ``moment`` (their corrections, ``record_history``): one
    query. A text written at ``moment`` names them by ``Rename.before``."""
    first: dict[int, tuple[str, datetime]] = {}
    last: dict[int, str] = {}
    for entity_id, at, before, after in session.execute(
        select(RecordHistory.entity_id, RecordHistory.at, RecordHistory.before, RecordHistory.after)
        .where(
            RecordHistory.entity == _COMPANY,
            RecordHistory.action == _EDIT,
            RecordHistory.at > moment,
        )
        .order_by(RecordHistory.at, RecordHistory.id)
    ):
        old, new = _json_object(before).get("name"), _json_object(after).get("name")
        if isinstance(old, str) and isinstance(new, str) and old != new:
            first.setdefault(entity_id, (old, _aware(at)))
            last[entity_id] = new
    return [Rename(cid, old, last[cid], at) for cid, (old, at) in first.items() if old != last[cid]]
