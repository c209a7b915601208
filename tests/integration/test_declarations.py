"""Monthly declarations: the service and the CSV import, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import Clock
from workflow.adapters.orm import (
    Clause,
    ClauseHistory,
    Company,
    Declaration,
    DeclarationLadder,
    DeclarationLine,
    Market,
    Participant,
)
from workflow.bootstrap import App
from workflow.domain.events import EVENT_TYPES, DeclarationRecorded, DomainEvent
from workflow.domain.stages import ClauseEvent
from workflow.domain.vocabulary import ContractType, DeliveryMode
from workflow.errors import FileRefused, InputRefused
from workflow.sample import SAMPLE_AWARDS, load_sample, resolve_award
from workflow.services.clauses import advance_clause, record_award
from workflow.services.declaration_imports import DeclarationImport, import_declaration_file
from workflow.services.declarations import LineInput, record_declaration

DATA = Path(__file__).resolve().parent.parent / "data"
DECLARATION = DATA / "declaration-excel-fr.csv"
MARCH = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
NOVEMBER = datetime(2026, 11, 5, 9, 0, tzinfo=UTC)
OCTOBER = date(2026, 10, 1)
HOLDER = "41234567800012"  # Bâtiments Gascons SARL, holder of lot 01


def start_sample(app: App) -> None:
    """The sample territory with every awarded lot in execution since March 2026."""
    load_sample(app, MARCH)
    with app.transaction() as session:
        for award in SAMPLE_AWARDS:
            resolved = resolve_award(session, award)
            for event in (ClauseEvent.DRAFT, ClauseEvent.AWARD):
                advance(app, session, resolved.clause_id, event)
            record_award(
                session,
                resolved.clause_id,
                parties=resolved.parties,
                start_date=resolved.start_date,
                planned_end_date=resolved.planned_end_date,
                actor="démo",
                now=MARCH,
                publish=app.publish,
            )
            advance(app, session, resolved.clause_id, ClauseEvent.START)


def advance(app: App, session: Session, clause_id: int, event: ClauseEvent) -> None:
    advance_clause(
        session, clause_id, event, actor="démo", reason=None, now=MARCH, publish=app.publish
    )


@pytest.fixture
def started(app: App, clock: Clock) -> App:
    # The notices of the set-up are not what these tests look at: skip their rendering (speed);
    # the declarations themselves go through the real handlers.
    handlers, app.handlers = app.handlers, {}
    start_sample(app)
    app.handlers = handlers
    clock.set(NOVEMBER)
    return app


def ids(app: App, market: str = "2026-014", lot: str = "01") -> tuple[int, int]:
    with app.transaction() as session:
        clause = session.scalars(
            select(Clause).join(Market).where(Market.reference == market, Clause.lot_number == lot)
        ).one()
        company = session.scalars(select(Company).where(Company.siret == HOLDER)).one()
        return clause.id, company.id


def import_file(app: App, path: Path = DECLARATION, **options: object) -> DeclarationImport:
    with app.transaction() as session:
        return import_declaration_file(
            session,
            path,
            actor="Camille Martin",
            now=NOVEMBER,
            publish=app.publish,
            **options,  # type: ignore[arg-type]
        )


def sample_text() -> str:
    return DECLARATION.read_bytes().decode("cp1252")


def write(tmp_path: Path, text: str, encoding: str = "cp1252") -> Path:
    path = tmp_path / "declaration.csv"
    path.write_bytes(text.encode(encoding))
    return path


def edit(line: int, column: int, value: str, text: str | None = None) -> str:
    """Change one cell of the sample (the header is line 1)."""
    lines = (text or sample_text()).split("\r\n")
    cells = lines[line - 1].split(";")
    cells[column] = value
    lines[line - 1] = ";".join(cells)
    return "\r\n".join(lines)


def refused(app: App, path: Path, **options: object) -> str:
    """The refusal as the command line prints it (its hints naming commands)."""
    with pytest.raises(FileRefused) as caught:
        import_file(app, path, **options)
    return caught.value.command_line_message


def refused_on_the_web(app: App, path: Path, **options: object) -> str:
    """The same refusal as the web pages and the API word it."""
    with pytest.raises(FileRefused) as caught:
        import_file(app, path, **options)
    return caught.value.message


def declarations(app: App) -> list[tuple[Decimal, int]]:
    with app.transaction() as session:
        return [(d.total_hours, len(d.lines)) for d in session.scalars(select(Declaration))]


# --- the sample file ----------------------------------------------------------------------------


def test_it_records_the_sample_declaration(started: App) -> None:
    events: list[DomainEvent] = []
    for kind in EVENT_TYPES:
        started.subscribe(kind, lambda _a, _s, event: events.append(event))

    result = import_file(started)

    [summary] = result.declarations
    assert summary.total_hours == Decimal("370.17")
    assert summary.month == OCTOBER
    assert (summary.lines, summary.participants_at_zero) == (4, 1)
    # Criteria of the people who worked; the one at 0 h is apart (« ayant travaillé »).
    assert len(summary.criteria) == 3
    assert summary.criteria_at_zero == {"disabled_worker": 1}
    assert len(summary.delivery_modes) == 3
    assert summary.new_participants == ()  # the sample territory knows them
    with started.transaction() as session:
        lines = session.scalars(select(DeclarationLine).order_by(DeclarationLine.id)).all()
        assert [(line.participant.reference, line.hours) for line in lines] == [
            ("P-0007", Decimal("151.67")),
            ("P-0012", Decimal("98.5")),
            ("P-0031", Decimal("120")),
            ("P-0040", Decimal("0")),
        ]
        assert [line.contract_type for line in lines] == [
            "cdd",
            "temp_work",
            "professionalisation",
            "cdi",
        ]
        assert lines[1].delivery_mode == "provision_etti"
    [recorded] = [e for e in events if isinstance(e, DeclarationRecorded)]
    assert (recorded.month, recorded.declaration_id) == (OCTOBER, summary.declaration_id)


def test_it_stops_the_reminder_ladder_and_writes_history_in_the_same_transaction(
    started: App,
) -> None:
    clause_id, company_id = ids(started)
    with started.transaction() as session:
        for month in (date(2026, 9, 1), OCTOBER):
            session.add(
                DeclarationLadder(
                    clause_id=clause_id,
                    company_id=company_id,
                    month=month,
                    due_on=date(2026, 11, 10),
                    next_step="reminder_1",
                    next_step_at=datetime(2026, 11, 13, 8, tzinfo=UTC),
                )
            )

    import_file(started)

    with started.transaction() as session:
        ladders = {ladder.month: ladder for ladder in session.scalars(select(DeclarationLadder))}
        october = ladders[OCTOBER]
        assert (october.declared_at, october.next_step, october.next_step_at) == (
            NOVEMBER,
            "done",
            None,
        )
        september = ladders[date(2026, 9, 1)]
        assert (september.declared_at, september.next_step) == (None, "reminder_1")
        history = session.scalars(
            select(ClauseHistory).where(ClauseHistory.event == "declaration")
        ).one()
        assert (history.from_stage, history.to_stage) == ("execution", "execution")
        assert "déclaration d'octobre 2026" in (history.reason or "")
        assert "370,17" in (history.reason or "")


def test_it_refuses_a_second_declaration_of_the_month_and_says_how_to_correct(
    started: App, tmp_path: Path
) -> None:
    import_file(started)

    message = refused(started, DECLARATION)

    assert (
        "ligne 2, colonne « Mois » : la déclaration d'octobre 2026 de Bâtiments Gascons SARL"
        in message
    )
    assert "existe déjà" in message and "--replace" in message
    assert declarations(started) == [(Decimal("370.17"), 4)]


def test_it_replaces_the_lines_with_replace(started: App, tmp_path: Path) -> None:
    import_file(started)
    corrected = "\r\n".join(sample_text().split("\r\n")[:3]) + "\r\n"
    corrected = edit(3, 9, "100", corrected)

    result = import_file(
        started, write(tmp_path, corrected), replace=True, reason="Erreur de saisie"
    )

    assert result.declarations[0].replaced
    assert declarations(started) == [(Decimal("251.67"), 2)]
    with started.transaction() as session:
        reasons = session.scalars(
            select(ClauseHistory.reason).where(ClauseHistory.event == "declaration")
        ).all()
        assert "remplace 370,17" in (reasons[-1] or "")


def test_it_creates_a_new_participant_from_the_french_label(started: App, tmp_path: Path) -> None:
    text = edit(5, 5, "P-0099")
    text = edit(5, 6, "habitant d'un QUARTIER prioritaire (QPV)", text)

    result = import_file(started, write(tmp_path, text))

    assert result.declarations[0].new_participants == ("P-0099",)
    with started.transaction() as session:
        created = session.scalars(select(Participant).where(Participant.reference == "P-0099"))
        assert created.one().criterion == "qpv_resident"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig"])
def test_it_accepts_utf8_and_a_lot_number_without_its_zero(
    started: App, tmp_path: Path, encoding: str
) -> None:
    text = sample_text().replace(";2026-014;01;", ";2026-014;1;")

    result = import_file(started, write(tmp_path, text, encoding))

    assert result.declarations[0].total_hours == Decimal("370.17")


def test_it_accepts_a_clause_given_on_the_command_line_without_market_columns(
    started: App, tmp_path: Path
) -> None:
    clause_id, _ = ids(started)
    rows = [line.split(";") for line in sample_text().split("\r\n") if line]
    text = "\r\n".join(";".join(r[:2] + r[4:]) for r in rows)

    result = import_file(started, write(tmp_path, text), clause_id=clause_id)

    assert result.declarations[0].clause_id == clause_id


# --- broken files: refused whole, line and column named -----------------------------------------


#: (line, column index, new value, what the refusal must say)
BAD_CELLS = [
    (3, 9, "251", "ligne 3, colonne « Heures » : 251 h hors limites : entre 0 et 250 h"),
    (4, 9, "-1", "ligne 4, colonne « Heures » : -1 h hors limites"),
    (2, 9, "151,675", "ligne 2, colonne « Heures » : 151,675 h : deux décimales au plus"),
    (2, 9, "cent", "ligne 2, colonne « Heures » : « cent » n'est pas un nombre"),
    (3, 6, "Chômeur", "ligne 3, colonne « Critère d'éligibilité » : « Chômeur » n'est pas "),
    (4, 8, "Bénévolat", "ligne 4, colonne « Modalité de réalisation » : « Bénévolat »"),
    (5, 7, "Stage", "ligne 5, colonne « Type de contrat » : « Stage » n'est pas reconnu"),
    (2, 4, "13/2026", "ligne 2, colonne « Mois » : « 13/2026 » n'est pas un mois"),
    (3, 0, "41234567800013", "ligne 3, colonne « SIRET » : « 41234567800013 » n'est pas un"),
    (3, 0, "90000000000001", "ligne 3, colonne « SIRET » : aucune entreprise"),
    (2, 2, "2099-001", "ligne 2, colonne « N° marché » : aucun marché enregistré"),
    (2, 3, "04", "ligne 2, colonne « Lot » : le marché 2026-014 n'a pas de lot « 04 »"),
    (2, 3, "", "ligne 2, colonne « Lot » : le marché 2026-014 compte plusieurs lots"),
    (2, 5, "", "ligne 2, colonne « Référence participant » : valeur manquante."),
    (
        2,
        9,
        "35 hrs",
        "ligne 2, colonne « Heures » : « 35 hrs » n'est pas un nombre d'heures (exemple : 151,67).",
    ),
    # An empty SIRET is no longer refused when the « Entreprise » column names the company
    # (a company recorded without SIRET gets its template so): test_declaring_without_siret.py.
    (
        2,
        4,
        "12/2026",
        "ligne 2, colonne « Mois » : la déclaration de décembre 2026 s'ouvre le jeudi "
        "31 décembre 2026.",
    ),
]


def test_it_refuses_each_bad_cell_naming_its_line_and_column(started: App, tmp_path: Path) -> None:
    # A refusal changes nothing, so one set-up serves every case.
    missed = []
    for line, column, value, expected in BAD_CELLS:
        message = refused(started, write(tmp_path, edit(line, column, value)))
        if expected not in message or "rien n'a été importé" not in message:
            missed.append((expected, message))
    assert missed == []
    assert declarations(started) == []


def test_it_reads_hours_typed_with_their_unit(started: App, tmp_path: Path) -> None:
    text = edit(2, 9, "35h")
    text = edit(3, 9, "98,5 h", text)
    text = edit(4, 9, "120 heures", text)
    text = edit(5, 9, "0 H", text)

    [summary] = import_file(started, write(tmp_path, text)).declarations

    with started.transaction() as session:
        hours = [line.hours for line in session.scalars(select(DeclarationLine))]
    assert sorted(hours) == [Decimal("0"), Decimal("35"), Decimal("98.5"), Decimal("120")]
    assert summary.total_hours == sum(hours) == Decimal("253.5")


def without_hours_column() -> str:
    rows = [line.split(";") for line in sample_text().split("\r\n") if line]
    return "\r\n".join(";".join(r[:9]) for r in rows)


#: (what is wrong, the file, what the refusal must say)
BAD_FILES = [
    (
        "hours and criterion both wrong",
        edit(2, 9, "300", edit(4, 6, "Retraité")),
        ["2 erreurs", "ligne 2, colonne « Heures »", "ligne 4, colonne « Critère d'éligibilité »"],
    ),
    (
        "participant twice in the month",
        edit(4, 5, "P-0007"),
        [
            "ligne 4, colonne « Référence participant » : participant « P-0007 » déjà déclaré ligne 2"
        ],
    ),
    (
        "new participant without criterion",
        edit(5, 6, "", edit(5, 5, "P-0100")),
        ["ligne 5, colonne « Critère d'éligibilité » : participant « P-0100 » inconnu"],
    ),
    ("missing column", without_hours_column(), ["ligne 1, colonne « Heures » : colonne manquante"]),
    ("empty file", "", ["le fichier est vide"]),
    (
        "company not an award party of lot 02",
        sample_text().replace(";2026-014;01;", ";2026-014;02;"),
        [
            "ligne 2, colonne « SIRET » : l'entreprise Bâtiments Gascons SARL n'est pas attributaire "
            "de la clause n°",
            "Charpentes de l'Arrats (titulaire)",
        ],
    ),
]


def test_it_refuses_each_broken_file_whole(started: App, tmp_path: Path) -> None:
    missed = []
    for what, text, expected in BAD_FILES:
        message = refused(started, write(tmp_path, text))
        missed.extend((what, part, message) for part in expected if part not in message)
    assert missed == []
    assert declarations(started) == []


# --- the service: stages, months, zero ----------------------------------------------------------


def record(app: App, clause_id: int, company_id: int, month: date, **extra: object) -> Declaration:
    with app.transaction() as session:
        return record_declaration(
            session,
            clause_id=clause_id,
            company_id=company_id,
            month=month,
            lines=[],
            actor="Camille Martin",
            now=NOVEMBER,
            source="test",
            publish=app.publish,
            **extra,  # type: ignore[arg-type]
        )


def test_it_records_a_month_without_hours(started: App) -> None:
    clause_id, company_id = ids(started)

    declaration = record(started, clause_id, company_id, date(2026, 9, 1))

    assert declaration.total_hours == 0
    assert declarations(started) == [(Decimal(0), 0)]


def test_it_refuses_a_clause_that_is_not_in_execution(app: App, clock: Clock) -> None:
    load_sample(app, MARCH)
    clause_id, company_id = ids(app)

    with pytest.raises(InputRefused) as caught:
        record(app, clause_id, company_id, date(2026, 2, 1))

    assert "est à l'étape « repérage » : les heures se déclarent pendant la mise en œuvre" in (
        caught.value.message
    )
    assert "n'est pas attributaire" in caught.value.message


def test_it_accepts_only_late_months_once_suspended(started: App) -> None:
    clause_id, company_id = ids(started)
    with started.transaction() as session:
        advance_clause(
            session,
            clause_id,
            ClauseEvent.SUSPEND,
            actor="démo",
            reason="intempéries",
            now=datetime(2026, 10, 15, 9, tzinfo=UTC),
            publish=started.publish,
        )

    record(started, clause_id, company_id, OCTOBER)
    with pytest.raises(InputRefused) as caught:
        record(started, clause_id, company_id, date(2026, 11, 1))

    assert "suspendue" in caught.value.message
    assert "jusqu'à octobre 2026" in caught.value.message


def test_it_refuses_months_before_the_start_and_in_the_future(started: App) -> None:
    clause_id, company_id = ids(started)

    with pytest.raises(InputRefused, match="précède le démarrage"):
        record(started, clause_id, company_id, date(2026, 3, 1))
    with pytest.raises(InputRefused, match="La déclaration de décembre 2026 s'ouvre le jeudi 31"):
        record(started, clause_id, company_id, date(2026, 12, 1))


def test_it_refuses_hours_out_of_bounds_given_to_the_service(started: App) -> None:
    clause_id, company_id = ids(started)
    with started.transaction() as session:
        participant = session.scalars(select(Participant)).first()
        assert participant is not None
        line = LineInput(
            participant.id, Decimal("250.01"), DeliveryMode.DIRECT_HIRING, ContractType.CDI
        )

    with pytest.raises(InputRefused, match="entre 0 et 250"), started.transaction() as session:
        record_declaration(
            session,
            clause_id=clause_id,
            company_id=company_id,
            month=OCTOBER,
            lines=[line],
            actor="Camille Martin",
            now=NOVEMBER,
            source="test",
            publish=started.publish,
        )
    assert declarations(started) == []
