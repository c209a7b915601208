"""A company that follows its email gets its file accepted; receipts say what is still missing.

The welcome of a real award is written as an ``.eml`` by the real dispatcher; its attached template
is taken out with the ``email`` package, filled as a company would (a few cells, same encoding, same
separator) and given to the real import, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import email
import email.policy
import io
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlalchemy import select

from tests.integration.test_declarations import start_sample
from workflow.adapters.declaration_columns import declaration_titles
from workflow.adapters.mail.files import FileTransport
from workflow.adapters.orm import (
    Clause,
    Company,
    Declaration,
    Market,
    OutboxAttachment,
    OutboxMessage,
    Participant,
)
from workflow.bootstrap import App
from workflow.domain.vocabulary import Criterion
from workflow.errors import FileRefused, InputRefused
from workflow.services.declaration_howto import declaration_attachments
from workflow.services.declaration_imports import import_declaration_file
from workflow.services.declarations import record_declaration
from workflow.services.dispatch import dispatch_due
from workflow.services.ticks import run_pass
from workflow.settings import Settings

PARIS = ZoneInfo("Europe/Paris")
MARCH = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)  # the sample's award: lot 01 starts 6 April
APRIL = date(2026, 4, 1)
GASCONS = "41234567800012"  # holder of lot 01
INSERTION = "83345678900019"  # its subcontractor, an EI


def paris(day: date, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS)


@pytest.fixture
def awarded(app: App, settings: Settings) -> App:
    """The sample territory awarded and started; its welcomes sent as .eml files."""
    start_sample(app)
    report = dispatch_due(app, MARCH, transport=FileTransport(settings.mail_dir))
    assert report.sent > 0 and report.failed == report.dead == 0
    return app


def welcome_of(settings: Settings, address: str) -> EmailMessage:
    """The welcome a correspondent finds in the mail folder, parsed as a mail client would."""
    found = []
    for path in sorted((settings.mail_dir / "company_welcome").glob("*.eml")):
        message = email.message_from_bytes(
            path.read_bytes(), _class=EmailMessage, policy=email.policy.default
        )
        if address in str(message["To"]):
            found.append(message)
    assert len(found) == 1, f"one welcome for {address}"
    return found[0]


def attachment(message: EmailMessage, suffix: str) -> bytes:
    files = [p for p in message.iter_attachments() if (p.get_filename() or "").endswith(suffix)]
    assert len(files) == 1
    payload = files[0].get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload


def lot_01(app: App) -> tuple[int, int, int]:
    with app.transaction() as session:
        clause = session.scalars(
            select(Clause)
            .join(Market)
            .where(Market.reference == "2026-014", Clause.lot_number == "01")
        ).one()
        holder = session.scalars(select(Company).where(Company.siret == GASCONS)).one()
        partner = session.scalars(select(Company).where(Company.siret == INSERTION)).one()
        return clause.id, holder.id, partner.id


def import_at(app: App, path: Path, moment: datetime) -> list[tuple[date, Decimal, int]]:
    with app.transaction() as session:
        result = import_declaration_file(
            session,
            path,
            actor="Camille Martin",
            now=moment,
            publish=app.publish,
            zone=PARIS,
        )
    return [(d.month, d.total_hours, d.lines) for d in result.declarations]


def fill_csv(data: bytes, lines: dict[int, dict[str, str]]) -> bytes:
    """Edit cells of the template as a person in Excel would: same encoding, ``;``, CRLF."""
    text = data.decode("cp1252")
    rows = [row.split(";") for row in text.split("\r\n")]
    titles = rows[0]
    for line, cells in lines.items():
        for title, value in cells.items():
            rows[line - 1][titles.index(title)] = value
    return "\r\n".join(";".join(row) for row in rows).encode("cp1252")


def test_the_welcome_gives_every_column_the_import_reads_and_attaches_two_templates(
    awarded: App, settings: Settings
) -> None:
    message = welcome_of(settings, "sophie.lacoste@example.org")
    text = message.get_body(("plain",))
    assert text is not None
    body = text.get_content()
    csv_data = attachment(message, ".csv")

    # The columns listed are the import's titles, criterion included, in the templates' order.
    section = body.split("Colonnes, avec ces titres exacts :")[1].split("\n\n")[0]
    listed = [
        line[2:].split(" : ")[0].removesuffix(" (facultatif)")
        for line in section.splitlines()
        if line.startswith("- ")
    ]
    titles = declaration_titles()
    assert listed == titles
    assert "Critère d'éligibilité" in titles
    assert "avril 2026 : à déclarer à partir du 30 avril 2026, au plus tard le 11 mai 2026" in body
    # French Excel's CSV: Windows-1252, ";" and CRLF; the lot's cells filled, hours empty.
    assert csv_data.startswith("SIRET;Entreprise;N° marché".encode("cp1252"))
    rows = csv_data.decode("cp1252").split("\r\n")
    assert rows[0].split(";") == titles
    first = dict(zip(titles, rows[1].split(";"), strict=True))
    assert first["SIRET"].replace(" ", "") == GASCONS
    assert (first["N° marché"], first["Lot"], first["Mois"], first["Heures"]) == (
        "2026-014",
        "01",
        "04/2026",
        "",
    )
    names = [p.get_filename() for p in message.iter_attachments()]
    assert names == [
        "declaration-2026-014-lot-01-2026-04.csv",
        "declaration-2026-014-lot-01-2026-04.xlsx",
    ]


def test_a_company_fills_the_csv_of_its_welcome_and_gets_it_accepted(
    awarded: App, settings: Settings, tmp_path: Path
) -> None:
    clause_id, holder_id, _ = lot_01(awarded)
    template = attachment(welcome_of(settings, "sophie.lacoste@example.org"), ".csv")
    filled = fill_csv(
        template,
        {
            2: {
                "Référence participant": "P-0100",
                "Critère d'éligibilité": "Travailleur handicapé (RQTH)",
                "Type de contrat": "CDD",
                "Modalité de réalisation": "Embauche directe",
                "Heures": "151,67",
                "Sexe": "F",
                "Année de naissance": "1990",
            },
            3: {
                "Référence participant": "P-0007",  # known: criterion left empty
                "Type de contrat": "CDI",
                "Modalité de réalisation": "Embauche directe",
                "Heures": "35",
            },
            # line 4: a template line left untouched (only the lot's cells): skipped
        },
    )
    path = tmp_path / "declaration-avril.csv"
    path.write_bytes(filled)

    # The day before April's last working day the month is not open yet: nothing is recorded.
    with pytest.raises(FileRefused) as early:
        import_at(awarded, path, paris(date(2026, 4, 29), 18))
    assert (
        "colonne « Mois » : la déclaration d'avril 2026 s'ouvre le jeudi 30 avril 2026."
        in early.value.message
    )
    assert import_at(awarded, path, paris(date(2026, 4, 30))) == [(APRIL, Decimal("186.67"), 2)]
    with awarded.transaction() as session:
        new = session.scalars(select(Participant).where(Participant.reference == "P-0100")).one()
        assert (new.criterion, new.sex, new.birth_year) == (Criterion.DISABLED_WORKER, "F", 1990)
        # May's template carries both people, their details as last declared, hours empty.
        may = declaration_attachments(session, clause_id, holder_id, [date(2026, 5, 1)])
    rows = [r.split(";") for r in may[0].content.decode("cp1252").split("\r\n") if r]
    titles = rows[0]
    people = [dict(zip(titles, r, strict=True)) for r in rows[1:]]
    assert [
        (
            p["Référence participant"],
            p["Critère d'éligibilité"],
            p["Type de contrat"],
            p["Mois"],
            p["Heures"],
        )
        for p in people
    ] == [
        ("P-0100", "Travailleur handicapé (RQTH)", "CDD", "05/2026", ""),
        ("P-0007", "Demandeur d'emploi de longue durée", "CDI", "05/2026", ""),
    ]
    # Filling only the hours is enough the next month (29 May 2026 is May's last working day).
    hours = {2: {"Heures": "140"}, 3: {"Heures": "0"}}
    path.write_bytes(fill_csv(may[0].content, hours))
    assert import_at(awarded, path, paris(date(2026, 5, 29))) == [
        (date(2026, 5, 1), Decimal("140"), 2)
    ]


def test_a_company_fills_the_xlsx_of_its_welcome_and_gets_it_accepted(
    awarded: App, settings: Settings, tmp_path: Path
) -> None:
    _, _, partner_id = lot_01(awarded)
    data = attachment(welcome_of(settings, "karim.haddad@example.org"), ".xlsx")
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    sheet = workbook.worksheets[0]
    titles = [c.value for c in sheet[1]]
    assert titles == declaration_titles()
    # The SIRET is text in the workbook: Excel keeps its 14 digits.
    assert sheet.cell(row=2, column=1).value == INSERTION
    column = {title: index + 1 for index, title in enumerate(titles)}
    for title, value in {
        "Référence participant": "P-0200",
        "Critère d'éligibilité": "Personne en parcours d'insertion (IAE)",
        "Type de contrat": "CDDI",
        "Modalité de réalisation": "Sous-traitance à une structure d'insertion ou EA",
        "Heures": 120.5,
    }.items():
        sheet.cell(row=2, column=column[str(title)], value=value)
    path = tmp_path / "déclaration avril.xlsx"
    workbook.save(path)

    assert import_at(awarded, path, paris(date(2026, 4, 30))) == [(APRIL, Decimal("120.5"), 1)]
    with awarded.transaction() as session:
        declaration = session.scalars(select(Declaration)).one()
        assert declaration.company_id == partner_id


def test_the_attachments_are_stored_with_the_welcome_and_go_with_it(
    awarded: App, settings: Settings
) -> None:
    with awarded.transaction() as session:
        welcomes = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "company_welcome")
        ).all()
        stored = session.scalars(select(OutboxAttachment).order_by(OutboxAttachment.id)).all()
        # Two templates per welcome, in order: the CSV, then the workbook.
        assert len(stored) == 2 * len(welcomes) > 0
        by_message = {w.id: [a.filename.rsplit(".", 1)[1] for a in w.attachments] for w in welcomes}
    assert set(map(tuple, by_message.values())) == {("csv", "xlsx")}
    sent = welcome_of(settings, "sophie.lacoste@example.org")
    assert sent.get_content_type() == "multipart/mixed"
    assert sent.get_body(("html",)) is not None


def test_a_receipt_lists_every_month_still_missing(awarded: App) -> None:
    clause_id, holder_id, _ = lot_01(awarded)

    def declare_zero(month: date, moment: datetime) -> str:
        with awarded.transaction() as session:
            declaration = record_declaration(
                session,
                clause_id=clause_id,
                company_id=holder_id,
                month=month,
                lines=[],
                actor="test",
                now=moment,
                source="test",
                publish=awarded.publish,
                zone=PARIS,
            )
            receipt = session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.kind == "declaration_receipt",
                    OutboxMessage.key.startswith(f"receipt:{declaration.id}:"),
                )
            ).one()
            return receipt.body_text

    # November is declared on 2 December; April to October were never sent.
    november = declare_zero(date(2026, 11, 1), paris(date(2026, 12, 2)))
    missing = [date(2026, m, 1) for m in range(4, 11)]
    assert "Il reste 7 mois à déclarer sur ce lot :" in november
    # No call has gone out for them (no pass ran): each reads the date the catch-up call will
    # give (``notices.owed_due_dates``), never a date nobody received.
    for month in missing:
        from workflow.adapters.templates import french_month

        assert f"- {french_month(month)} : à envoyer au plus tard le 11 décembre 2026" in november
    assert "en retard" not in november
    # Months still owed: the next one is « le mois suivant », not « la prochaine déclaration ».
    assert "Le mois suivant : décembre 2026, à déclarer à partir du 31 décembre 2026" in november
    assert "janvier" not in november.split("Le mois suivant")[0].split("Il reste")[1]

    september = declare_zero(date(2026, 9, 1), paris(date(2026, 12, 3)))
    assert "Il reste 6 mois à déclarer sur ce lot :" in september
    assert "- septembre 2026" not in september


def test_months_not_over_are_refused_with_the_day_they_open(awarded: App) -> None:
    clause_id, holder_id, _ = lot_01(awarded)

    def declare(month: date, moment: datetime) -> None:
        with awarded.transaction() as session:
            record_declaration(
                session,
                clause_id=clause_id,
                company_id=holder_id,
                month=month,
                lines=[],
                actor="test",
                now=moment,
                source="test",
                publish=awarded.publish,
                zone=PARIS,
            )

    with pytest.raises(
        InputRefused,
        match=re.escape("La déclaration d'avril 2027 s'ouvre le vendredi 30 avril 2027."),
    ):
        declare(date(2027, 4, 1), paris(date(2027, 4, 29), 23, 59))
    # The last working day of a month is read in the facilitator's zone: 00:30 in Paris on
    # 31 July 2026 is still 30 July in UTC.
    with pytest.raises(InputRefused, match="s'ouvre le vendredi 31 juillet 2026"):
        declare(date(2026, 7, 1), paris(date(2026, 7, 30), 23, 30))
    declare(date(2026, 7, 1), paris(date(2026, 7, 31), 0, 30))
    with awarded.transaction() as session:
        assert session.scalars(select(Declaration.month)).all() == [date(2026, 7, 1)]


def test_a_company_fills_the_csv_of_its_call_and_its_reminders_stop(
    awarded: App, settings: Settings, tmp_path: Path
) -> None:
    """The monthly call, sent by a real pass, carries the same columns and templates as the
    welcome: the company fills the CSV it received, the import accepts it, and the month's
    ladder stops (no reminder ever leaves for April)."""
    clause_id, holder_id, _ = lot_01(awarded)
    transport = FileTransport(settings.mail_dir)
    call_moment = paris(date(2026, 5, 4))  # first working day of May, 09:00
    run_pass(awarded, call_moment.astimezone(UTC), dispatch=False)
    dispatch_due(awarded, call_moment.astimezone(UTC), transport=transport)
    calls = []
    for path in sorted((settings.mail_dir / "declaration_call").glob("*.eml")):
        message = email.message_from_bytes(
            path.read_bytes(), _class=EmailMessage, policy=email.policy.default
        )
        if "sophie.lacoste@example.org" in str(message["To"]):
            calls.append(message)
    assert len(calls) == 1
    call = calls[0]
    body = call.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    for title in declaration_titles():
        assert f"- {title}" in text, title
    template = attachment(call, ".csv")
    path = tmp_path / "declaration-avril.csv"
    path.write_bytes(
        fill_csv(
            template,
            {
                2: {
                    "Référence participant": "P-0100",
                    "Critère d'éligibilité": "Bénéficiaire du RSA",
                    "Type de contrat": "CDD",
                    "Modalité de réalisation": "Embauche directe",
                    "Heures": "70",
                }
            },
        )
    )
    assert import_at(awarded, path, paris(date(2026, 5, 5))) == [(APRIL, Decimal("70"), 1)]
    # A month of passes later, no reminder nor alert for April ever left.
    for day in range(5, 29):
        moment = paris(date(2026, 5, day))
        if moment.weekday() < 5:
            run_pass(awarded, moment.astimezone(UTC), dispatch=False)
    with awarded.transaction() as session:
        later = session.scalars(
            select(OutboxMessage.key).where(
                OutboxMessage.clause_id == clause_id,
                OutboxMessage.kind.in_(("declaration_reminder", "declaration_escalation")),
                OutboxMessage.key.like(f"reminder:{clause_id}:{holder_id}:%2026-04%"),
            )
        ).all()
    assert later == []


def test_each_receipt_of_a_file_of_several_months_counts_the_cumul_up_to_its_month(
    awarded: App, tmp_path: Path
) -> None:
    """One file for April to June, imported on 1 July: three receipts, each with the hours of
    the months up to its own, never those of the later months recorded by the same file."""
    clause_id, holder_id, _ = lot_01(awarded)
    hours = {date(2026, 4, 1): "100", date(2026, 5, 1): "200,5", date(2026, 6, 1): "35 h"}
    titles = declaration_titles()
    rows = [titles]
    for month, value in hours.items():
        cells = {
            "SIRET": GASCONS,
            "N° marché": "2026-014",
            "Lot": "01",
            "Mois": f"{month:%m/%Y}",
            "Référence participant": "P-0007",
            "Type de contrat": "CDI",
            "Modalité de réalisation": "Embauche directe",
            "Heures": value,
        }
        rows.append([cells.get(title, "") for title in titles])
    path = tmp_path / "avril-juin.csv"
    path.write_bytes("\r\n".join(";".join(row) for row in rows).encode("cp1252"))

    recorded = import_at(awarded, path, paris(date(2026, 7, 1)))

    assert [month for month, _, _ in recorded] == list(hours)
    with awarded.transaction() as session:
        receipts = {
            declaration.month: session.scalars(
                select(OutboxMessage.body_text).where(
                    OutboxMessage.kind == "declaration_receipt",
                    OutboxMessage.key.startswith(f"receipt:{declaration.id}:"),
                )
            ).one()
            for declaration in session.scalars(
                select(Declaration).where(
                    Declaration.clause_id == clause_id, Declaration.company_id == holder_id
                )
            )
        }
    from workflow.adapters.templates import french_hours, french_month

    running = Decimal(0)
    for month, total, _ in recorded:
        running += total
        assert (
            f"sur ce lot jusqu'à {french_month(month)} inclus : {french_hours(running)}"
            in receipts[month]
        ), receipts[month]
    assert running == Decimal("335.5")
    assert "Je l'ai reçue le 1er juillet 2026" in receipts[date(2026, 4, 1)]
