"""A company that follows the link of its call declares on the web: receipt sent, reminders stopped.

The link is taken from the call the real pass queued; the pages are the real ASGI application
(``create_site``) over the real App, on SQLite and PostgreSQL. Bad input, an altered, an expired or
a foreign link change nothing.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.conftest import Clock
from tests.integration.test_declaration_howto import lot_01
from tests.integration.test_declarations import start_sample
from tests.text import squash, visible
from workflow.adapters.orm import (
    ClauseHistory,
    Declaration,
    DeclarationLadder,
    OutboxAttachment,
    OutboxMessage,
)
from workflow.bootstrap import App
from workflow.domain.declaration_links import LinkScope, sign
from workflow.entrypoints.web.site import create_site
from workflow.services.declaration_links import link_key
from workflow.services.ticks import run_pass

PARIS = ZoneInfo("Europe/Paris")
APRIL = date(2026, 4, 1)
#: The April call of lot 01 leaves on Monday 4 May (1 May is a holiday), at 9:00.
CALLED = datetime(2026, 5, 4, 9, 0, tzinfo=PARIS)

TWO_PEOPLE = {
    "reference": ["P-WEB-1", "P-WEB-2"],
    "hours": ["151,67", "35"],
    "contract": ["cdd", "temp_work"],
    "mode": ["direct_hiring", "provision_etti"],
    "criterion": ["long_term_jobseeker", "minimum_income"],
}


@pytest.fixture
def called(app: App, clock: Clock) -> App:
    return called_territory(app, clock)


def called_territory(app: App, clock: Clock) -> App:
    """The sample territory with its April calls sent (Monday 4 May 2026, 09:00)."""
    start_sample(app)
    clock.set(CALLED)
    run_pass(app, CALLED)
    return app


def call_link(app: App, clause_id: int, company_id: int) -> str:
    """The path of the link in the April call that company got for lot 01."""
    with app.transaction() as session:
        body = session.scalars(
            select(OutboxMessage.body_text).where(
                OutboxMessage.kind == "declaration_call",
                OutboxMessage.key.startswith(f"reminder:{clause_id}:{company_id}:2026-04"),
            )
        ).one()
    found = re.findall(r"https?://\S+/declarer/\S+", body)
    assert len(found) == 1, body
    return urlparse(found[0]).path


def declarations(app: App, clause_id: int, company_id: int) -> list[Declaration]:
    with app.transaction() as session:
        rows = session.scalars(
            select(Declaration).where(
                Declaration.clause_id == clause_id, Declaration.company_id == company_id
            )
        ).all()
        for row in rows:
            _ = [line.participant.reference for line in row.lines]
        session.expunge_all()
        return list(rows)


def outbox_count(app: App, kind: str) -> int:
    with app.transaction() as session:
        return (
            session.scalar(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == kind)
            )
            or 0
        )


def form(data: dict[str, list[str]], action: str, zero: bool = False) -> dict[str, object]:
    posted: dict[str, object] = {**data, "action": action}
    if zero:
        posted["zero"] = "1"
    return posted


def test_a_company_following_its_call_declares_two_people_and_its_reminders_stop(
    called: App, clock: Clock
) -> None:
    clause_id, holder_id, _ = lot_01(called)
    path = call_link(called, clause_id, holder_id)
    client = TestClient(create_site(called))

    # One page, one confirmation: the form, then what will be recorded.
    page = client.get(path)
    assert page.status_code == 200
    text = visible(page.text)
    assert "Heures d'insertion d'avril 2026" in text and "Bâtiments Gascons SARL" in text
    checked = client.post(path, data=form(TWO_PEOPLE, "verifier"))
    assert checked.status_code == 200
    assert "2 participants, 186,67\u00a0h au total" in visible(checked.text)
    assert declarations(called, clause_id, holder_id) == []  # nothing written by a check
    done = client.post(path, data=form(TWO_PEOPLE, "confirmer"), follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].endswith("?enregistre=1")
    shown = visible(client.get(done.headers["location"]).text)
    assert "Déclaration enregistrée" in shown and "186,67\u00a0h au total" in shown

    [april] = declarations(called, clause_id, holder_id)
    assert april.month == APRIL and april.total_hours == Decimal("186.67")
    assert sorted((line.participant.reference, line.hours) for line in april.lines) == [
        ("P-WEB-1", Decimal("151.67")),
        ("P-WEB-2", Decimal("35")),
    ]
    assert april.recorded_by == "Bâtiments Gascons SARL (déclaration en ligne)"
    with called.transaction() as session:
        receipt = session.scalars(
            select(OutboxMessage).where(OutboxMessage.key.startswith(f"receipt:{april.id}:"))
        ).one()
        ladder = session.scalars(
            select(DeclarationLadder).where(
                DeclarationLadder.clause_id == clause_id,
                DeclarationLadder.company_id == holder_id,
                DeclarationLadder.month == APRIL,
            )
        ).one()
        history = session.scalars(
            select(ClauseHistory.event).where(ClauseHistory.clause_id == clause_id)
        ).all()
    assert "186,67\u00a0h" in squash(receipt.body_text) and "P-WEB-1" in receipt.body_text
    assert ladder.next_step_at is None and ladder.declared_at is not None
    assert "declaration" in history

    # Every pass until the alert would have left: no reminder, no alert for April.
    for day in range(1, 40):
        moment = CALLED + timedelta(days=day)
        clock.set(moment)
        run_pass(called, moment)
    with called.transaction() as session:
        chased = session.scalars(
            select(OutboxMessage.key).where(
                OutboxMessage.kind.in_(["declaration_reminder", "declaration_escalation"]),
                OutboxMessage.key.startswith(f"reminder:{clause_id}:{holder_id}:2026-04"),
            )
        ).all()
    assert chased == []


def call_workbook(app: App, clause_id: int, company_id: int) -> openpyxl.Workbook:
    """The .xlsx template attached to the April call of that company, as it opens it."""
    with app.transaction() as session:
        data = session.scalars(
            select(OutboxAttachment.content)
            .join(OutboxMessage, OutboxMessage.id == OutboxAttachment.outbox_id)
            .where(
                OutboxMessage.kind == "declaration_call",
                OutboxMessage.key.startswith(f"reminder:{clause_id}:{company_id}:2026-04"),
                OutboxAttachment.filename.endswith(".xlsx"),
            )
        ).one()
    return openpyxl.load_workbook(io.BytesIO(bytes(data)))


def fill(workbook: openpyxl.Workbook, row: int, cells: dict[str, object]) -> bytes:
    sheet = workbook.worksheets[0]
    column = {cell.value: index + 1 for index, cell in enumerate(sheet[1])}
    for title, value in cells.items():
        sheet.cell(row=row, column=column[title], value=value)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_the_template_of_the_call_filled_and_sent_back_is_shown_then_recorded(
    called: App,
) -> None:
    clause_id, holder_id, _ = lot_01(called)
    path = call_link(called, clause_id, holder_id)
    client = TestClient(create_site(called))
    data = fill(
        call_workbook(called, clause_id, holder_id),
        2,
        {
            "Référence participant": "P-0200",
            "Critère d'éligibilité": "Demandeur d'emploi de longue durée",
            "Type de contrat": "CDD",
            "Modalité de réalisation": "Embauche directe",
            "Heures": 120.5,
        },
    )

    shown = client.post(f"{path}/fichier", files={"fichier": ("avril.xlsx", data, XLSX)})
    assert shown.status_code == 200, visible(shown.text)
    assert "1 participant, 120,50\u00a0h au total" in visible(shown.text)
    assert declarations(called, clause_id, holder_id) == []  # shown, not recorded yet
    hidden = dict(re.findall(r'name="(\w+)" value="([^"]*)"', shown.text))
    posted = {key: [hidden[key]] for key in ("reference", "hours", "contract", "mode", "criterion")}
    client.post(path, data=form(posted, "confirmer"))

    [april] = declarations(called, clause_id, holder_id)
    assert april.total_hours == Decimal("120.5")
    assert [line.participant.reference for line in april.lines] == ["P-0200"]


def test_a_file_for_another_month_is_refused_line_by_line(called: App) -> None:
    clause_id, holder_id, _ = lot_01(called)
    path = call_link(called, clause_id, holder_id)
    client = TestClient(create_site(called))
    data = fill(
        call_workbook(called, clause_id, holder_id),
        2,
        {
            "Mois": "03/2026",
            "Référence participant": "P-0200",
            "Critère d'éligibilité": "Demandeur d'emploi de longue durée",
            "Type de contrat": "CDD",
            "Modalité de réalisation": "Embauche directe",
            "Heures": 12,
        },
    )

    refused = client.post(f"{path}/fichier", files={"fichier": ("mars.xlsx", data, XLSX)})

    assert refused.status_code == 422
    text = visible(refused.text)
    assert "mars.xlsx, ligne 2" in text
    assert declarations(called, clause_id, holder_id) == []


def test_a_month_without_hours_is_one_box(called: App) -> None:
    clause_id, holder_id, _ = lot_01(called)
    path = call_link(called, clause_id, holder_id)
    client = TestClient(create_site(called))

    empty = {"reference": [""], "hours": [""], "contract": [""], "mode": [""], "criterion": [""]}
    checked = client.post(path, data=form(empty, "verifier", zero=True))
    assert "Aucune heure ce mois-ci" in visible(checked.text)
    done = client.post(path, data=form(empty, "confirmer", zero=True), follow_redirects=False)
    assert done.status_code == 303
    [april] = declarations(called, clause_id, holder_id)
    assert april.total_hours == 0 and april.lines == []


def test_declaring_again_replaces_the_month_and_keeps_both_in_the_history(
    called: App, clock: Clock
) -> None:
    clause_id, holder_id, _ = lot_01(called)
    path = call_link(called, clause_id, holder_id)
    client = TestClient(create_site(called))
    client.post(path, data=form(TWO_PEOPLE, "confirmer"))
    again = {**TWO_PEOPLE, "hours": ["140", ""]}
    clock.set(CALLED + timedelta(hours=2))  # the company looks again later that morning

    page = visible(client.get(path).text)
    assert "Déjà enregistré pour avril 2026" in page and "Corriger la déclaration" in page
    client.post(path, data=form(again, "confirmer"))

    [april] = declarations(called, clause_id, holder_id)
    assert april.total_hours == 140 and [line.participant.reference for line in april.lines] == [
        "P-WEB-1"
    ]
    with called.transaction() as session:
        receipts = session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.key.startswith(f"receipt:{april.id}:"))
        )
        events = session.scalars(
            select(ClauseHistory.event)
            .where(ClauseHistory.clause_id == clause_id, ClauseHistory.event.like("declaration%"))
            .order_by(ClauseHistory.id)
        ).all()
    assert receipts == 2
    assert len(events) == 2


def test_bad_input_is_named_line_by_line_and_changes_nothing(called: App) -> None:
    clause_id, holder_id, _ = lot_01(called)
    path = call_link(called, clause_id, holder_id)
    client = TestClient(create_site(called))
    receipts = outbox_count(called, "declaration_receipt")
    bad = {
        "reference": ["P-WEB-1", "P-WEB-2", "P-WEB-1", "=1+1"],
        "hours": ["abc", "300", "10", "5"],
        "contract": ["cdd", "cdd", "cdd", "cdd"],
        "mode": ["direct_hiring", "direct_hiring", "direct_hiring", "direct_hiring"],
        "criterion": ["long_term_jobseeker", "", "long_term_jobseeker", "long_term_jobseeker"],
    }

    for action in ("verifier", "confirmer"):
        refused = client.post(path, data=form(bad, action))
        assert refused.status_code == 422
        text = visible(refused.text)
        assert (
            "ligne 1, heures : «\u00a0abc\u00a0» n'est pas un nombre d'heures (exemple : 151,67)."
            in text
        )
        assert "ligne 2, heures" in text and "250" in text
        assert "ligne 3, référence : « P-WEB-1 » figure déjà ligne 1." in text
        assert "ligne 4, référence" in text and "formule" in text
        assert "Rien n'a été enregistré." in text
        # What was typed is given back, to be corrected rather than typed again.
        assert 'value="abc"' in refused.text

    assert declarations(called, clause_id, holder_id) == []
    assert outbox_count(called, "declaration_receipt") == receipts


def test_an_altered_an_expired_or_a_foreign_link_changes_nothing(called: App, clock: Clock) -> None:
    clause_id, holder_id, partner_id = lot_01(called)
    path = call_link(called, clause_id, holder_id)
    client = TestClient(create_site(called))
    receipts = outbox_count(called, "declaration_receipt")

    token = path.rsplit("/", 1)[1]
    other_company = token.replace(f"{clause_id}.{holder_id}.", f"{clause_id}.{partner_id}.", 1)
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")
    for forged in (altered, other_company):
        for response in (
            client.get(f"/declarer/{forged}"),
            client.post(f"/declarer/{forged}", data=form(TWO_PEOPLE, "confirmer")),
        ):
            assert response.status_code == 403
            text = visible(response.text)
            assert "a été modifié depuis l'envoi du courriel" in text
            assert "camille.martin@example.org" in text and "Rien n'a été enregistré." in text

    # A link signed for a company that is not on the lot: valid signature, no right.
    with called.transaction() as session:
        key = link_key(session, called.settings, clock())
    stranger = sign(LinkScope(clause_id, 999_999, APRIL, date(2026, 7, 1)), key)
    assert client.get(f"/declarer/{stranger}").status_code == 403

    # Past its last day (60 days after April's due date, Monday 11 May: 10 July) the link is
    # refused as expired (410), with what to do instead.
    clock.set(datetime(2026, 7, 11, 8, 0, tzinfo=UTC))
    expired = client.post(path, data=form(TWO_PEOPLE, "confirmer"))
    assert expired.status_code == 410
    assert "Ce lien de déclaration a expiré." in visible(expired.text)

    assert declarations(called, clause_id, holder_id) == []
    assert declarations(called, clause_id, partner_id) == []
    assert outbox_count(called, "declaration_receipt") == receipts


def test_a_month_not_over_shows_when_it_opens_and_records_nothing(app: App, clock: Clock) -> None:
    """The welcome (March) gives April's link: the page says when April opens."""
    start_sample(app)
    clause_id, holder_id, _ = lot_01(app)
    with app.transaction() as session:
        body = session.scalars(
            select(OutboxMessage.body_text).where(
                OutboxMessage.kind == "company_welcome",
                OutboxMessage.key.startswith(f"welcome:{clause_id}:{holder_id}:"),
                # The one to leave: the lot started since the award, it was written again.
                OutboxMessage.state != "cancelled",
            )
        ).one()
    path = urlparse(re.findall(r"https?://\S+/declarer/\S+", body)[0]).path
    clock.set(datetime(2026, 4, 15, 10, 0, tzinfo=PARIS))
    client = TestClient(create_site(app))

    text = visible(client.get(path).text)
    assert "La déclaration d'avril 2026 s'ouvre le jeudi 30 avril 2026." in text
    assert "Vérifier la déclaration" not in text
    refused = client.post(path, data=form(TWO_PEOPLE, "confirmer"))
    assert refused.status_code == 422
    assert declarations(app, clause_id, holder_id) == []


def test_once_validated_the_page_shows_the_month_and_a_replayed_link_changes_nothing(
    called: App, clock: Clock
) -> None:
    from workflow.app.declarations import validate_declaration
    from workflow.domain.vocabulary import ContractType, DeliveryMode
    from workflow.services.declarations import LineInput, record_declaration

    clause_id, holder_id, _ = lot_01(called)
    path = call_link(called, clause_id, holder_id)
    client = TestClient(create_site(called))
    client.post(path, data=form(TWO_PEOPLE, "confirmer"))
    clock.set(CALLED + timedelta(days=1))
    first = validate_declaration(called, clause=clause_id, company=holder_id, month=APRIL)
    again = validate_declaration(called, clause=clause_id, company=holder_id, month=APRIL)
    assert not first.already and again.already and again.validated_at == first.validated_at

    page = visible(client.get(path).text)
    assert "Cette déclaration a été validée le 5 mai 2026 par Camille Martin" in page
    assert "186,67\u00a0h au total" in page and "Vérifier la déclaration" not in page
    replayed = client.post(path, data=form({**TWO_PEOPLE, "hours": ["1", "1"]}, "confirmer"))
    assert replayed.status_code == 422
    [april] = declarations(called, clause_id, holder_id)
    assert april.total_hours == Decimal("186.67") and april.validated_at is not None

    # The facilitator's own correction clears the validation, and the history says so.
    with called.transaction() as session:
        participant = april.lines[0].participant_id
        record_declaration(
            session,
            clause_id=clause_id,
            company_id=holder_id,
            month=APRIL,
            lines=[
                LineInput(
                    participant,
                    Decimal(150),
                    DeliveryMode(april.lines[0].delivery_mode),
                    ContractType(april.lines[0].contract_type),
                )
            ],
            actor="Camille Martin",
            now=clock(),
            source="test",
            publish=called.publish,
            replace=True,
            zone=PARIS,
        )
        reasons = session.scalars(
            select(ClauseHistory.reason).where(ClauseHistory.clause_id == clause_id)
        ).all()
    [april] = declarations(called, clause_id, holder_id)
    assert april.validated_at is None
    assert any("validation levée" in (reason or "") for reason in reasons)
    assert "Vérifier la déclaration" in visible(client.get(path).text)


def test_a_confirmation_sent_twice_records_once_and_sends_one_receipt(
    called: App, clock: Clock
) -> None:
    clause_id, holder_id, _ = lot_01(called)
    path = call_link(called, clause_id, holder_id)
    client = TestClient(create_site(called))
    client.post(path, data=form(TWO_PEOPLE, "confirmer"))
    clock.set(CALLED + timedelta(minutes=1))  # a reload, a double click, a minute later

    again = client.post(path, data=form(TWO_PEOPLE, "confirmer"), follow_redirects=False)

    assert again.status_code == 303
    assert outbox_count(called, "declaration_receipt") == 1
    with called.transaction() as session:
        events = session.scalars(
            select(ClauseHistory.event).where(ClauseHistory.event == "declaration")
        ).all()
    assert events == ["declaration"]


def test_no_hours_ticked_wins_over_hours_kept_in_the_form(called: App) -> None:
    """The correction form comes back with the month's hours: ticking « aucune heure » is
    enough, and the confirmation says what will be recorded. (Hours typed over the box are
    refused: ``test_online_declaration_zero_conflict``.)"""
    clause_id, holder_id, _ = lot_01(called)
    path = call_link(called, clause_id, holder_id)
    client = TestClient(create_site(called))
    client.post(path, data=form(TWO_PEOPLE, "confirmer"))

    checked = client.post(path, data=form(TWO_PEOPLE, "verifier", zero=True))
    assert checked.status_code == 200
    assert "Aucune heure ce mois-ci : personne n'a travaillé sur le lot." in visible(checked.text)
    client.post(path, data=form(TWO_PEOPLE, "confirmer", zero=True))
    [april] = declarations(called, clause_id, holder_id)
    assert april.total_hours == 0 and april.lines == []


def test_a_reference_with_a_control_character_is_refused(called: App) -> None:
    clause_id, holder_id, _ = lot_01(called)
    path = call_link(called, clause_id, holder_id)
    client = TestClient(create_site(called))
    bad = {**TWO_PEOPLE, "reference": ["A\x01B", "P-WEB-2"]}

    refused = client.post(path, data=form(bad, "verifier"))

    assert refused.status_code == 422
    assert "ligne 1, référence : caractère de contrôle U+0001 interdit" in visible(refused.text)


def test_a_late_month_says_so_and_the_upload_address_leads_to_the_page(
    called: App, clock: Clock
) -> None:
    clause_id, holder_id, _ = lot_01(called)
    path = call_link(called, clause_id, holder_id)
    client = TestClient(create_site(called))
    # Due Monday 11 May; Thursday 14 May 2026 is Ascension Day: 12 and 13 May are the 2 days.
    clock.set(datetime(2026, 5, 14, 9, 0, tzinfo=PARIS))

    page = visible(client.get(path).text)
    typed = client.get(f"{path}/fichier", follow_redirects=False)

    assert "lundi 11 mai 2026 (en retard de 2 jours ouvrés)" in page
    assert typed.status_code == 303 and typed.headers["location"] == path
