"""A declaration's receipt greets the correspondent it is written to, as the company's other
emails do (« Bonjour Paul Lambert, »); ``mail preview`` shows the same words; a receipt sent
before it did (« Bonjour, ») is as true as ever for ``audit verify``, which reads its figures.
"""

from __future__ import annotations

import html

from sqlalchemy import select

from tests.conftest import Clock
from tests.integration.test_declaration_howto import lot_01
from tests.integration.test_declarations import start_sample
from tests.integration.test_online_declaration import APRIL, CALLED
from workflow.adapters.mail.message import parse_recipients
from workflow.adapters.orm import OutboxMessage
from workflow.app import declarations
from workflow.bootstrap import App
from workflow.services.audit import CHECK_RECEIPT, verify
from workflow.services.previews import build_preview
from workflow.services.ticks import run_pass


def _receipt(app: App) -> OutboxMessage:
    with app.transaction() as session:
        row = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "declaration_receipt")
        ).one()
        session.expunge(row)
        return row


def test_a_receipt_greets_its_correspondent_as_its_preview_does_and_an_old_one_still_audits(
    app: App, clock: Clock
) -> None:
    start_sample(app)
    clock.set(CALLED)
    run_pass(app, CALLED)
    clause_id, holder_id, _ = lot_01(app)

    declarations.declare_zero(
        app, clause=clause_id, company=holder_id, month=APRIL, actor="Camille Martin"
    )

    receipt = _receipt(app)
    [recipient] = parse_recipients(receipt.recipients)
    assert recipient.name  # the sample's holder has a named correspondent
    greeting = f"Bonjour {recipient.name},"
    assert receipt.body_text.splitlines()[0] == greeting
    assert f">{html.escape(greeting)}</p>" in receipt.body_html
    assert "Bonjour,\n" not in receipt.body_text

    preview = build_preview(app, "declaration_receipt", clause_id)
    assert preview.rendered.text == receipt.body_text
    assert preview.rendered.html == receipt.body_html

    # A receipt sent before receipts greeted by name: the audit reads its figures, not its
    # greeting, and finds it as true as the new one.
    with app.transaction() as session:
        row = session.get_one(OutboxMessage, receipt.id)
        row.body_text = row.body_text.replace(greeting, "Bonjour,", 1)
        row.body_html = row.body_html.replace(html.escape(greeting), "Bonjour,", 1)
    assert _receipt(app).body_text.startswith("Bonjour,\n")
    report = verify(app)
    assert report.receipts == 1
    assert [f for f in report.findings if f.check == CHECK_RECEIPT] == []
