"""A cancellation whose buyer was told the month had arrived reads the lot's declarations once
(``cancellation_notices.first_received``), not once for the buyer's notice and once more for
the company's email (review of 23c283e)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from tests.conftest import Clock
from tests.integration.test_late_declaration_cancelled_notice import (
    CANCEL_DAY,
    CANCELLED,
    REASON,
    rows,
    told_september,
)
from tests.integration.test_late_declarations_grouped import SEP
from workflow.app.clause_corrections import cancel_declaration
from workflow.bootstrap import App, bootstrap
from workflow.domain.calendar import at_local
from workflow.settings import Settings


@pytest.fixture
def app(settings: Settings, clock: Clock) -> Iterator[App]:
    application = bootstrap(settings, clock=clock)
    yield application
    application.close()


def test_the_lot_is_read_once_for_the_buyers_notice_and_the_companys_email(
    app: App, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    lot, _ = told_september(app, settings, clock, tmp_path)
    holder_id, _ = lot.company_ids
    clock.set(at_local(CANCEL_DAY, time(10, 30), app.settings.zone))
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(app.engine, "before_cursor_execute", note)
    try:
        cancel_declaration(app, clause=lot.clause_id, company=holder_id, month=SEP, reason=REASON)
    finally:
        event.remove(app.engine, "before_cursor_execute", note)
    # The buyer was told (its notice) and the company written to: both said when September
    # was first received.
    [told] = rows(app, CANCELLED)
    assert told.key.startswith(f"late_cancelled:{lot.clause_id}:{holder_id}:2026-09:")
    # ``load_declarations``' first read: the declarations with their company and buyer.
    reads = [s for s in seen if "declarations.recorded_at" in s and "JOIN buyers" in s]
    assert len(reads) == 1, reads
