"""Every kind of email has a French name where people read the mail queue (``clauses mail list``,
the dashboard's « Courriels »): a user trial found « company_left » and « notice_company_left »
printed as they are stored. Each template folder is a kind."""

from __future__ import annotations

from pathlib import Path

from workflow.app.command_words import KIND_LABELS, kind_label

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "emails"


def test_every_kind_of_email_has_a_french_name() -> None:
    kinds = {p.name for p in TEMPLATES.iterdir() if p.is_dir() and not p.name.startswith("_")}
    assert kinds, TEMPLATES
    assert sorted(kinds - set(KIND_LABELS)) == []
    for kind in kinds:
        assert kind_label(kind) != kind and "_" not in kind_label(kind), kind
