"""``clauses mail preview KIND --clause N°`` shows what the service really wrote.

The previews with a clause are written by the very functions that queue the emails
(``services.notices``), so over the whole demo the receipt previewed for a lot is, word for word,
the receipt its company got for the lot's latest declaration, and a notice previewed is the one
its buyer got.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import demo_copy
from workflow.adapters.orm import Clause, Declaration, OutboxMessage
from workflow.bootstrap import App
from workflow.services.previews import build_preview

pytestmark = [pytest.mark.slow, pytest.mark.scenario]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, lived_demo: Path) -> Iterator[App]:
    app = demo_copy(lived_demo, tmp_path_factory.mktemp("demo"))
    yield app
    app.close()


def sent(app: App, kind: str, key_prefix: str) -> OutboxMessage:
    with app.transaction() as session:
        found = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.kind == kind, OutboxMessage.key.startswith(key_prefix))
            .order_by(OutboxMessage.id.desc())
        ).first()
        assert found is not None, f"no {kind} keyed {key_prefix}…"
        session.expunge(found)
        return found


def test_a_receipt_previewed_for_a_lot_is_the_one_its_company_got(demo: App) -> None:
    with demo.transaction() as session:
        latest = {
            clause_id: declaration_id
            for clause_id, declaration_id in session.execute(
                select(Declaration.clause_id, Declaration.id).order_by(
                    Declaration.month, Declaration.id
                )
            )
        }
    assert len(latest) >= 3
    for clause_id, declaration_id in latest.items():
        preview = build_preview(demo, "declaration_receipt", clause_id)
        email = sent(demo, "declaration_receipt", f"receipt:{declaration_id}:")
        assert preview.rendered.subject == email.subject
        assert preview.rendered.text == email.body_text
        assert [r.formatted() for r in preview.recipients] == email.recipients.splitlines()


def test_a_notice_previewed_for_a_lot_is_the_one_its_buyer_got(demo: App) -> None:
    with demo.transaction() as session:
        started = session.scalars(
            select(Clause.id).where(Clause.start_date.is_not(None)).order_by(Clause.id)
        ).all()
    compared = 0
    for clause_id in started:
        prefix = f"notice:{clause_id}:notice_execution_started:"
        with demo.transaction() as session:
            exists = session.scalar(
                select(OutboxMessage.id).where(OutboxMessage.key.startswith(prefix))
            )
        if exists is None:
            continue  # a buyer that chose the monthly summary only
        preview = build_preview(demo, "notice_execution_started", clause_id)
        email = sent(demo, "notice_execution_started", prefix)
        assert preview.rendered.text == email.body_text
        compared += 1
    assert compared >= 1
