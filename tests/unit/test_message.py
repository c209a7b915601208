"""The hand-written MIME writer, held to the standard by the email package's strict parser."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest

from workflow.adapters.mail.message import (
    AddressRefused,
    Mailbox,
    MessageParts,
    build_message,
    message_id,
    parse_mailbox,
    parse_recipients,
)
from workflow.services.outbox import Recipient

PARIS = ZoneInfo("Europe/Paris")


def parts(**changes: object) -> MessageParts:
    values: dict[str, object] = {
        "key": "reminder:12:34:2026-02:first",
        "sender": Mailbox("Camille Martin", "clauses@example.org"),
        "reply_to": Mailbox("Camille Martin", "camille.martin@example.org"),
        "recipients": [Mailbox("Élodie Durand", "elodie@btp-gers.fr")],
        "subject": "Rappel : déclaration des heures de février 2026",
        "text": "Bonjour,\n\nMerci de déclarer vos heures d'insertion.\n.\nÀ bientôt.\n",
        "html": "<p>Bonjour,</p><p>Merci de déclarer vos <b>heures</b> d'insertion.</p>",
        "date": datetime(2026, 3, 2, 8, 0, tzinfo=UTC),
    }
    values.update(changes)
    return MessageParts(**values)  # type: ignore[arg-type]


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, _class=EmailMessage, policy=email.policy.default)
    assert not message.defects, message.defects
    for part in message.walk():
        assert not part.defects, part.defects
    return message


def lines(part: EmailMessage) -> str:
    """The decoded text of a part with the wire's CRLF turned back into newlines."""
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def test_it_writes_both_parts_in_utf8() -> None:
    message = parse(build_message(parts(), PARIS))

    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert lines(text) == "Bonjour,\n\nMerci de déclarer vos heures d'insertion.\n.\nÀ bientôt.\n"
    assert "<b>heures</b>" in html.get_content()
    assert text.get_content_charset() == "utf-8"


def test_it_writes_the_headers_the_issue_asks_for() -> None:
    message = parse(build_message(parts(), PARIS))

    assert str(message["From"]) == "Camille Martin <clauses@example.org>"
    assert str(message["To"]) == "Élodie Durand <elodie@btp-gers.fr>"
    assert str(message["Reply-To"]) == "Camille Martin <camille.martin@example.org>"
    assert str(message["Subject"]) == "Rappel : déclaration des heures de février 2026"
    assert message["Date"].datetime == datetime(2026, 3, 2, 9, 0, tzinfo=PARIS)
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"] == message_id("reminder:12:34:2026-02:first", "x@example.org")


def test_it_adds_the_row_token_to_the_key_in_the_message_id() -> None:
    """Two databases (or a database started again) give one key two rows with two tokens."""
    key = "reminder:1:2:2026-02:first"
    here = message_id(key, "clauses@example.org", "0123456789abcdef")
    there = message_id(key, "clauses@example.org", "fedcba9876543210")

    assert here != there
    assert here == message_id(key, "clauses@example.org", "0123456789abcdef")
    assert here.endswith(".0123456789abcdef@example.org>")
    with_token = parse(build_message(parts(token="0123456789abcdef"), PARIS))
    assert with_token["Message-ID"] == message_id(
        "reminder:12:34:2026-02:first", "x@example.org", "0123456789abcdef"
    )


def test_a_row_queued_without_a_token_keeps_the_key_only_message_id() -> None:
    """Rows queued before the token existed: their retries keep their first Message-ID."""
    first = message_id("reminder:1:2:2026-02:first", "clauses@example.org")

    assert first == message_id("reminder:1:2:2026-02:first", "clauses@example.org")
    assert first != message_id("reminder:1:2:2026-02:second", "clauses@example.org")
    assert first.startswith("<") and first.endswith("@example.org>")
    assert len(first.split("@")[0]) == 33


def test_it_builds_the_same_bytes_for_the_same_row() -> None:
    assert build_message(parts(), PARIS) == build_message(parts(), PARIS)


@pytest.mark.parametrize(
    "field",
    ["subject", "name"],
)
def test_it_cannot_be_made_to_inject_a_header(field: str) -> None:
    evil = "Bonjour\r\nBcc: victim@example.com\nX-Injected: yes"
    changes: dict[str, object] = {"subject": evil}
    if field == "name":
        changes = {"recipients": [Mailbox(evil, "elodie@btp-gers.fr")]}
        changes["sender"] = Mailbox(evil, "clauses@example.org")

    message = parse(build_message(parts(**changes), PARIS))

    assert message["Bcc"] is None
    assert message["X-Injected"] is None
    assert sorted(set(message.keys())) == sorted(
        {
            "From",
            "To",
            "Reply-To",
            "Subject",
            "Date",
            "Message-ID",
            "Auto-Submitted",
            "MIME-Version",
            "Content-Type",
        }
    )


def test_it_cannot_be_injected_through_a_stored_recipient_line() -> None:
    with pytest.raises(AddressRefused):
        parse_mailbox("Élodie <elodie@btp-gers.fr\r\nBcc: victim@example.com>")


def test_it_folds_a_long_subject_under_78_columns() -> None:
    subject = "Relance : " + "déclaration des heures d'insertion du lot 12 " * 6

    data = build_message(parts(subject=subject), PARIS)

    head = data.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 78 for line in head.split(b"\r\n"))
    assert str(parse(data)["Subject"]) == " ".join(
        subject.split()
    )  # folding may turn a no-break space into a space


def test_it_quotes_names_with_specials() -> None:
    recipients = [Mailbox("Durand, Élodie", "e@x.fr"), Mailbox('BTP "Gers", SARL', "b@x.fr")]

    message = parse(build_message(parts(recipients=recipients), PARIS))

    addresses = message["To"].addresses
    assert [(a.display_name, a.addr_spec) for a in addresses] == [
        ("Durand, Élodie", "e@x.fr"),
        ('BTP "Gers", SARL', "b@x.fr"),
    ]


def test_it_keeps_long_html_lines_intact() -> None:
    html = "<p>" + "é" * 500 + "</p>\n<p>=_ et =3D ne cassent rien</p>"

    message = parse(build_message(parts(html=html), PARIS))

    body = message.get_body(("html",))
    assert body is not None
    assert lines(body) == html + "\n"


def test_it_reads_back_what_queue_email_stores() -> None:
    stored = "\n".join(
        r.formatted()
        for r in [Recipient("Élodie Durand", "elodie@btp-gers.fr"), Recipient("Paul", "p@x.fr")]
    )

    assert parse_recipients(stored) == [
        Mailbox("Élodie Durand", "elodie@btp-gers.fr"),
        Mailbox("Paul", "p@x.fr"),
    ]


@pytest.mark.parametrize("address", ["pas-une-adresse", "é@x.fr", "a b@x.fr", "@x.fr", "a@"])
def test_it_refuses_addresses_that_cannot_go_in_an_envelope(address: str) -> None:
    with pytest.raises(AddressRefused, match="adresse électronique invalide"):
        parse_mailbox(f"Quelqu'un <{address}>")


def test_it_never_cuts_a_character_across_encoded_words() -> None:
    subject = "Clause « sociale » 🏗️ " * 12 + "œuvre"

    data = build_message(parts(subject=subject), PARIS)

    assert str(parse(data)["Subject"]) == " ".join(
        subject.split()
    )  # folding may turn a no-break space into a space
    head = data.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 78 for line in head.split(b"\r\n"))


def test_it_reads_quoted_and_plain_stored_lines_alike() -> None:
    assert parse_mailbox('"Durand, Élodie" <e@x.fr>') == Mailbox("Durand, Élodie", "e@x.fr")
    assert parse_mailbox("Paul Martin <p@x.fr>") == Mailbox("Paul Martin", "p@x.fr")
    assert parse_mailbox("p@x.fr") == Mailbox("", "p@x.fr")


def test_it_attaches_files_after_both_bodies_byte_for_byte() -> None:
    from workflow.adapters.mail.message import Attachment

    workbook = bytes(range(256)) * 40  # binary, with every byte value
    csv_text = "SIRET;Heures\r\n412 345 678 00012;151,67\r\n".encode("cp1252")
    data = build_message(
        parts(
            attachments=[
                Attachment("déclaration-avril.csv", "text/csv; charset=windows-1252", csv_text),
                Attachment("modèle.xlsx", "application/vnd.ms-excel", workbook),
            ]
        ),
        PARIS,
    )
    message = parse(data)

    assert message.get_content_type() == "multipart/mixed"
    body = message.get_body(("plain",))
    assert body is not None and "Merci de déclarer vos heures" in lines(body)
    html = message.get_body(("html",))
    assert html is not None and "<b>heures</b>" in html.get_content()
    files = list(message.iter_attachments())
    assert [f.get_filename() for f in files] == ["déclaration-avril.csv", "modèle.xlsx"]
    assert [f.get_content_type() for f in files] == ["text/csv", "application/vnd.ms-excel"]
    assert files[0].get_param("charset") == "windows-1252"
    assert [f.get_payload(decode=True) for f in files] == [csv_text, workbook]
    # SMTP's line limit holds: base64 is cut at 76 columns.
    assert max(len(line) for line in data.split(b"\r\n")) <= 78


def test_it_keeps_a_message_without_attachments_as_it_was() -> None:
    assert parse(build_message(parts(attachments=()), PARIS)).get_content_type() == (
        "multipart/alternative"
    )
