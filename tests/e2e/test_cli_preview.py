"""``clauses mail preview``: every kind renders, the files are a well-formed email, bad input exits 1."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.conftest import make_settings
from workflow.adapters.orm import Buyer, BuyerContact, Market, Operation
from workflow.adapters.templates import TemplateRenderer
from workflow.bootstrap import bootstrap
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.services import clauses as clause_service

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
KINDS = TemplateRenderer().kinds()


def run(sqlite_url: str, tmp_path: Path, *args: str) -> Result:
    state = CliState()
    state.factory = lambda: bootstrap(make_settings(tmp_path, sqlite_url), clock=lambda: NOW)
    return CliRunner().invoke(cli, ["mail", "preview", *args], obj=state)


def unix(text: str) -> str:
    return text.replace("\r\n", "\n")


def read_eml(path: Path) -> EmailMessage:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


@pytest.mark.parametrize("kind", KINDS)
def test_it_previews_every_kind_of_email(sqlite_url: str, tmp_path: Path, kind: str) -> None:
    out = tmp_path / "preview"
    result = run(sqlite_url, tmp_path, kind, "--out", str(out))

    assert result.exit_code == 0, result.output + result.stderr
    message = read_eml(out / f"{kind}.eml")
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert unix(text.get_content()).strip() in result.stdout
    assert f"Objet : {message['Subject']}" in result.stdout
    assert (
        unix((out / f"{kind}.html").read_text(encoding="utf-8")).strip()
        == unix(html.get_content()).strip()
    )
    assert message["Auto-Submitted"] == "auto-generated"
    # The same sender as the dispatcher's, so that the preview is what the recipient will see.
    settings = make_settings(tmp_path, sqlite_url)
    assert message["From"].addresses[0].display_name == settings.facilitator_name
    assert message["Reply-To"].addresses[0].addr_spec == settings.facilitator_email


def test_it_refuses_an_unknown_kind_and_lists_the_known_ones(
    sqlite_url: str, tmp_path: Path
) -> None:
    result = run(sqlite_url, tmp_path, "notice_nope", "--out", str(tmp_path / "p"))

    assert result.exit_code == 1
    assert "Type de courriel inconnu « notice_nope »" in result.stderr
    for kind in ("notice_awarded", "company_welcome", "declaration_receipt"):
        assert kind in result.stderr
    assert not (tmp_path / "p").exists()


def test_it_previews_a_notice_with_the_data_of_a_real_clause(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app = bootstrap(make_settings(tmp_path, sqlite_url))
    with app.transaction() as session:
        buyer = Buyer(
            name="Ville de Port-Exemple",
            notice_preference="monthly_only",
            created_at=NOW,
            contacts=[BuyerContact(name="Léa Roux", email="lea.roux@example.org")],
        )
        market = Market(
            operation=Operation(buyer=buyer, name="Piscine municipale", created_at=NOW),
            reference="2026-07",
        )
        clause = clause_service.create_clause(
            session,
            market,
            lot_number="",
            lot_title="Réhabilitation",
            params=clause_service.ClauseParameters(hours_override=900, override_reason="Avenant"),
            actor="test",
            now=NOW,
            publish=clause_service.no_publish,
            planned_notification=date(2026, 6, 1),
        )
        clause_id = clause.id
    app.close()

    result = run(sqlite_url, tmp_path, "notice_identified", "--clause", str(clause_id))

    assert result.exit_code == 0, result.output + result.stderr
    assert "À : Léa Roux <lea.roux@example.org>" in result.stdout
    assert "Piscine municipale – Réhabilitation" in result.stdout
    assert "Heures d'insertion estimées : 900\u00a0h" in result.stdout
    assert "Notification du marché prévue : 1er juin 2026" in result.stdout
    # Without --out the files land in var/preview/ of the working folder.
    assert (tmp_path / "var" / "preview" / "notice_identified.eml").is_file()
    assert (tmp_path / "var" / "preview" / "notice_identified.html").is_file()
    # The market's reference names its one lot as well as the N° does.
    by_reference = run(sqlite_url, tmp_path, "notice_identified", "--clause", "2026-07")
    assert by_reference.exit_code == 0, by_reference.output + by_reference.stderr
    assert by_reference.stdout == result.stdout


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_with_a_clause_previews_or_explains(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """``--clause`` on any kind: the clause's data, sample data with a note, or a refusal in
    French; never a traceback (``company_award_corrected --clause 1`` raised a KeyError)."""
    monkeypatch.chdir(tmp_path)
    app = bootstrap(make_settings(tmp_path, sqlite_url))
    with app.transaction() as session:
        market = Market(
            operation=Operation(
                buyer=Buyer(name="Ville de Port-Exemple", created_at=NOW),
                name="Piscine municipale",
                created_at=NOW,
            ),
            reference="2026-07",
        )
        clause = clause_service.create_clause(
            session,
            market,
            lot_number="",
            lot_title="Réhabilitation",
            params=clause_service.ClauseParameters(hours_override=900, override_reason="Avenant"),
            actor="test",
            now=NOW,
            publish=clause_service.no_publish,
        )
        clause_id = clause.id
    app.close()

    result = run(sqlite_url, tmp_path, kind, "--clause", str(clause_id))

    assert result.exit_code in (0, 1), result.output + result.stderr
    if result.exit_code == 1:
        assert result.stderr.startswith("Refusé : "), result.stderr
    else:
        assert "Objet : " in result.stdout


def test_it_explains_why_a_clause_has_nothing_to_preview(sqlite_url: str, tmp_path: Path) -> None:
    missing = run(sqlite_url, tmp_path, "notice_awarded", "--clause", "999")
    assert missing.exit_code == 1
    assert re.match(r"Refusé : Clause «[\u00a0 ]999[\u00a0 ]» introuvable", missing.stderr)
