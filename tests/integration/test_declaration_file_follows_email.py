"""A company that follows its call email gets its file accepted, and reads its own words.

User trial: the catch-up call's template filled for several months, a person new to the service
given her criterion on her first month's line only (the call says it is « obligatoire pour une
personne déclarée pour la première fois »), was refused from the company's page on her next
month's line, in the form's words (« critère d'éligibilité : valeur manquante »). A file of
another lot, or of a month before the lot's start, was refused in the command line's words
(« (option --clause) », « la clause n° 2 (…) (01/06/2026) »).

Over the catch-up call the real passes queued, its CSV and .xlsx templates, the real ASGI
application and the real CLI, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import Lot
from tests.integration.test_online_declaration_catch_up import (
    APR,
    FEB,
    MAR,
    attached_csv,
    catch_up_call,
    hidden_lines,
    late,
    month_links,
    recorded,
)
from tests.text import visible
from workflow.adapters.orm import (
    Clause,
    Company,
    Declaration,
    DeclarationLine,
    OutboxAttachment,
    Participant,
)
from workflow.bootstrap import App, bootstrap
from workflow.domain.vocabulary import ContractType, Criterion, DeliveryMode, Sex
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.entrypoints.web.site import create_site
from workflow.services.participants import create_participant
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

__all__ = ["late"]  # the fixture, used by the tests below

LONG = "Demandeur d'emploi de longue durée"
RSA = "Bénéficiaire du RSA, de l'ASS, de l'AAH ou d'une pension d'invalidité"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

#: Month cell -> (reference, hours, criterion) written over the month's blank lines: the new
#: person's criterion on her first line only, as the call allows.
CRITERION_ONCE = {
    "02/2027": [("P-NEW-1", "151,67", LONG)],
    "03/2027": [("P-NEW-1", "140", ""), ("P-NEW-2", "35", RSA)],
    "04/2027": [("P-NEW-1", "120,5", ""), ("P-NEW-2", "20", "")],
}


def nb(text: str) -> str:
    """``text`` as the service writes it: a no-break space inside « »."""
    return text.replace("« ", "«\u00a0").replace(" »", "\u00a0»")


def written(
    rows: list[list[str]], people: dict[str, list[tuple[str, str, str]]]
) -> list[list[str]]:
    """The template's rows with, for each month cell, one line per person written over its
    blank lines, contract and mode filled, the criterion as given (empty: left blank)."""
    titles = rows[0]
    column = {title: index for index, title in enumerate(titles)}
    out = [list(titles)]
    used: dict[str, int] = {}
    for row in rows[1:]:
        line = ["" if cell is None else str(cell) for cell in row]
        month = line[column["Mois"]]
        todo = people.get(month, [])
        if used.get(month, 0) < len(todo):
            reference, hours, criterion = todo[used.get(month, 0)]
            used[month] = used.get(month, 0) + 1
            line[column["Référence participant"]] = reference
            line[column["Heures"]] = hours
            line[column["Critère d'éligibilité"]] = criterion
            line[column["Type de contrat"]] = "CDD"
            line[column["Modalité de réalisation"]] = "Embauche directe"
        out.append(line)
    assert all(used.get(month) == len(todo) for month, todo in people.items()), used
    return out


def as_csv(rows: list[list[str]], encoding: str) -> bytes:
    text = io.StringIO()
    csv.writer(text, delimiter=";", lineterminator="\r\n").writerows(rows)
    return text.getvalue().encode(encoding)


def attached_xlsx_rows(app: App, lot: Lot) -> list[list[str]]:
    """The .xlsx template of the catch-up call, its cells as text (months as « 03/2027 »)."""
    call = catch_up_call(app, lot)
    with app.transaction() as session:
        data = session.scalars(
            select(OutboxAttachment.content).where(
                OutboxAttachment.outbox_id == call.id,
                OutboxAttachment.filename.endswith(".xlsx"),
            )
        ).one()
    sheet = openpyxl.load_workbook(io.BytesIO(bytes(data))).worksheets[0]
    return [[_text(value) for value in row] for row in sheet.iter_rows(values_only=True)]


def _text(value: object) -> str:
    """A cell as the CSV template writes it: a month cell (a date in the workbook) as 03/2027."""
    if isinstance(value, date):
        return f"{value.month:02d}/{value.year}"
    return "" if value is None else str(value)


def as_xlsx(rows: list[list[str]]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def criteria(app: App) -> dict[str, str]:
    with app.transaction() as session:
        return dict(
            session.execute(
                select(Participant.reference, Participant.criterion).where(
                    Participant.reference.like("P-NEW-%")
                )
            ).all()
        )


def confirm_from_page(
    app: App, lot: Lot, name: str, data: bytes, kind: str, *, months: int = 3
) -> None:
    """The file sent from the February link, shown, then confirmed."""
    links = month_links(catch_up_call(app, lot).body_text)
    client = TestClient(create_site(app))
    shown = client.post(f"{links['février 2027']}/fichier", files={"fichier": (name, data, kind)})
    assert shown.status_code == 200, visible(shown.text)
    text = visible(shown.text)
    assert "valeur manquante" not in text
    if months == 3:
        assert "Vérifiez vos déclarations de février, mars et avril 2027" in text
    posted = {**hidden_lines(shown.text), "action": "confirmer"}
    done = client.post(links["février 2027"], data=posted, follow_redirects=False)
    assert done.status_code == 303, visible(done.text)


def test_a_new_person_with_her_criterion_on_her_first_line_only_is_accepted_from_the_page(
    late: tuple[App, Lot],
) -> None:
    app, lot = late
    _, rows, encoding = attached_csv(app, catch_up_call(app, lot))

    confirm_from_page(
        app, lot, "rempli.csv", as_csv(written(rows, CRITERION_ONCE), encoding), "text/csv"
    )

    assert sorted(recorded(app, lot)) == [FEB, MAR, APR]
    assert criteria(app) == {"P-NEW-1": "long_term_jobseeker", "P-NEW-2": "minimum_income"}


def test_the_xlsx_template_filled_so_is_accepted_too(late: tuple[App, Lot]) -> None:
    app, lot = late

    rows = written(attached_xlsx_rows(app, lot), CRITERION_ONCE)
    confirm_from_page(app, lot, "rempli.xlsx", as_xlsx(rows), XLSX)

    assert sorted(recorded(app, lot)) == [FEB, MAR, APR]
    assert criteria(app) == {"P-NEW-1": "long_term_jobseeker", "P-NEW-2": "minimum_income"}


def test_two_criteria_for_one_new_person_or_none_at_all_are_named_by_line_and_column(
    late: tuple[App, Lot],
) -> None:
    app, lot = late
    _, rows, encoding = attached_csv(app, catch_up_call(app, lot))
    links = month_links(catch_up_call(app, lot).body_text)
    client = TestClient(create_site(app))
    people = {
        "02/2027": [("P-NEW-1", "151,67", LONG)],
        "03/2027": [("P-NEW-1", "140", RSA), ("P-NEW-3", "35", "")],
    }
    filled = written(rows, people)
    lines = {
        (row[filled[0].index("Référence participant")], row[filled[0].index("Mois")]): number
        for number, row in enumerate(filled[1:], start=2)
    }
    first, second = lines[("P-NEW-1", "02/2027")], lines[("P-NEW-1", "03/2027")]
    missing = lines[("P-NEW-3", "03/2027")]

    refused = client.post(
        f"{links['février 2027']}/fichier",
        files={"fichier": ("rempli.csv", as_csv(filled, encoding), "text/csv")},
    )

    assert refused.status_code == 422
    text = visible(refused.text)
    assert (
        nb(
            f"rempli.csv, ligne {second}, colonne « Critère d'éligibilité » : participant "
            f"« P-NEW-1 » : « {RSA} » ici mais « {LONG} » ligne {first} ; une personne n'a qu'un "
            "critère d'éligibilité : inscrivez le même sur toutes ses lignes, ou sur une seule."
        )
        in text
    ), text
    assert (
        nb(
            f"rempli.csv, ligne {missing}, colonne « Critère d'éligibilité » : participant "
            "« P-NEW-3 » inconnu : son critère d'éligibilité est nécessaire pour le créer."
        )
        in text
    ), text
    assert recorded(app, lot) == {}


def test_a_file_of_another_lot_or_of_a_month_before_the_start_is_said_in_the_company_words(
    late: tuple[App, Lot],
) -> None:
    app, lot = late
    _, rows, encoding = attached_csv(app, catch_up_call(app, lot))
    links = month_links(catch_up_call(app, lot).body_text)
    client = TestClient(create_site(app))
    with app.transaction() as session:
        clause = session.get_one(Clause, lot.clause_id)
        market, number = clause.market.reference, clause.id
    filled = written(rows, {"02/2027": [("P-NEW-1", "151,67", LONG)]})
    lot_column, month_column = filled[0].index("Lot"), filled[0].index("Mois")
    other_lot = [list(row) for row in filled]
    other_lot[1][lot_column] = "02"
    january = [*(list(row) for row in filled), list(filled[1])]
    january[-1][month_column] = "01/2027"

    wrong_lot = client.post(
        f"{links['février 2027']}/fichier",
        files={"fichier": ("rempli.csv", as_csv(other_lot, encoding), "text/csv")},
    )
    before = client.post(
        f"{links['février 2027']}/fichier",
        files={"fichier": ("rempli.csv", as_csv(january, encoding), "text/csv")},
    )

    assert wrong_lot.status_code == before.status_code == 422
    said = visible(wrong_lot.text)
    assert (
        nb(
            "rempli.csv, ligne 2, colonne « Lot » : ce fichier déclare le lot 02 ; ce lien sert à "
            f"déclarer le lot 1 (marché {market} – Gros œuvre). Déposez ce fichier depuis le lien "
            "reçu pour le lot 02, ou corrigez la colonne."
        )
        in said
    ), said
    early = visible(before.text)
    assert (
        nb(
            f"rempli.csv, ligne {len(january)}, colonne « Mois » : ce fichier déclare le mois de "
            f"janvier 2027, avant le démarrage du lot 1 (marché {market} – Gros œuvre), le 1er "
            "février 2027 : retirez les lignes de ce mois, ou corrigez leur mois."
        )
        in early
    ), early
    for text in (said, early):
        assert "--clause" not in text
        assert f"clause n° {number}" not in text
        assert ") (" not in text


def test_the_command_line_reads_the_same_file_and_keeps_its_own_words(
    late: tuple[App, Lot], settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    app, lot = late
    _, rows, encoding = attached_csv(app, catch_up_call(app, lot))
    state = CliState()
    state.factory = lambda: bootstrap(settings, clock=clock)

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(
            cli, list(args), obj=state, catch_exceptions=False, env={"COLUMNS": "200"}
        )
        return result.exit_code, result.output.replace("\u00a0", " ")

    twice = written(
        rows,
        {
            "02/2027": [("P-NEW-1", "151,67", LONG)],
            "03/2027": [("P-NEW-1", "140", RSA)],
        },
    )
    conflict = tmp_path / "deux-criteres.csv"
    conflict.write_bytes(as_csv(twice, encoding))
    code, said = run("declaration", "import", str(conflict))
    assert code == 1
    assert "colonne « Critère d'éligibilité » : participant « P-NEW-1 » : « " in said, said
    assert f"» ici mais « {LONG} » ligne 2" in said, said
    assert recorded(app, lot) == {}

    other_lot = [list(row) for row in written(rows, CRITERION_ONCE)]
    other_lot[1][other_lot[0].index("Lot")] = "02"
    wrong = tmp_path / "autre-lot.csv"
    wrong.write_bytes(as_csv(other_lot, encoding))
    code, said = run("declaration", "import", "--clause", str(lot.clause_id), str(wrong))
    assert code == 1
    assert "(option --clause)" in said, said  # the facilitator's own words

    good = tmp_path / "rempli.csv"
    good.write_bytes(as_csv(written(rows, CRITERION_ONCE), encoding))
    code, said = run("declaration", "import", str(good))
    assert code == 0, said
    assert sorted(recorded(app, lot)) == [FEB, MAR, APR]
    assert criteria(app) == {"P-NEW-1": "long_term_jobseeker", "P-NEW-2": "minimum_income"}


def test_a_sex_that_contradicts_the_record_tells_the_company_whom_to_ask(
    late: tuple[App, Lot],
) -> None:
    app, lot = late
    _, rows, encoding = attached_csv(app, catch_up_call(app, lot))
    first = written(rows, {"02/2027": [("P-NEW-1", "151,67", LONG)]})
    first[1][first[0].index("Sexe")] = "F"
    confirm_from_page(app, lot, "fevrier.csv", as_csv(first, encoding), "text/csv", months=1)
    links = month_links(catch_up_call(app, lot).body_text)
    again = written(rows, {"03/2027": [("P-NEW-1", "140", "")]})
    line = next(n for n, row in enumerate(again[1:], start=2) if "P-NEW-1" in row)
    again[line - 1][again[0].index("Sexe")] = "M"

    refused = TestClient(create_site(app)).post(
        f"{links['mars 2027']}/fichier",
        files={"fichier": ("mars.csv", as_csv(again, encoding), "text/csv")},
    )

    assert refused.status_code == 422
    text = visible(refused.text)
    assert (
        nb(
            f"mars.csv, ligne {line}, colonne « Sexe » : participant « P-NEW-1 » enregistré avec "
            "sexe F, le fichier indique M : corrigez le fichier ; si c'est l'enregistrement qui est "
            "faux, écrivez à la facilitatrice, qui le corrigera."
        )
        in text
    ), text
    assert "Corrections" not in text and "clauses participant" not in text


def sent_as(app: App, lot: Lot, identity: tuple[str, str]) -> tuple[list[list[str]], str, int]:
    """The catch-up call's CSV template with March's P-AUTRE on a line, its sex and birth year
    as given: the rows, their encoding and that line's number."""
    _, rows, encoding = attached_csv(app, catch_up_call(app, lot))
    sent = written(rows, {"03/2027": [("P-AUTRE", "140", "")]})
    line = next(n for n, row in enumerate(sent[1:], start=2) if "P-AUTRE" in row)
    sent[line - 1][sent[0].index("Sexe")] = identity[0]
    sent[line - 1][sent[0].index("Année de naissance")] = identity[1]
    return sent, encoding, line


def posted(app: App, lot: Lot, name: str, data: bytes) -> tuple[int, str]:
    """A file sent from March's page of the catch-up call: the status and the page as read."""
    links = month_links(catch_up_call(app, lot).body_text)
    answer = TestClient(create_site(app)).post(
        f"{links['mars 2027']}/fichier", files={"fichier": (name, data, "text/csv")}
    )
    text = " ".join(visible(answer.text).replace("\u00a0", " ").replace("\u202f", " ").split())
    return answer.status_code, text


def test_another_company_s_person_is_refused_without_what_is_recorded_of_her(
    late: tuple[App, Lot],
) -> None:
    """A person this company never declared (recorded by the facilitator, or by another
    company): a file giving her reference with another sex and birth year is refused, and the
    refusal does not say what is recorded of her (user trial, 7 December 2026: any link read
    another company's participant's sex and birth year, « enregistré avec sexe M … 1979 », by
    trying references)."""
    app, lot = late
    with app.transaction() as session:
        create_participant(
            session, reference="P-AUTRE", criterion=Criterion.MINIMUM_INCOME,
            now=app.clock(), sex=Sex.FEMALE, birth_year=1979,
        )  # fmt: skip
    sent, encoding, line = sent_as(app, lot, ("M", "2001"))

    status, text = posted(app, lot, "mars.csv", as_csv(sent, encoding))

    assert status == 422
    assert (
        f"mars.csv, ligne {line}, colonne « Sexe » : participant « P-AUTRE » : le fichier "
        "indique le sexe M, qui ne correspond pas à la personne déjà enregistrée sous cette "
        "référence ; vérifiez la référence et le fichier ; si c'est bien la même personne, "
        "écrivez à la facilitatrice."
    ) in text, text
    assert "indique l'année de naissance 2001, qui ne correspond pas" in text, text
    assert "1979" not in text and "enregistré avec" not in text, text
    assert recorded(app, lot) == {}


@pytest.mark.parametrize("identity", [("F", "1979"), ("M", "2001"), ("", "")])
def test_another_company_s_reference_is_refused_whatever_its_identity(
    late: tuple[App, Lot], identity: tuple[str, str]
) -> None:
    """A reference another company declared, never this one: each company chooses its people's
    references, so two companies' « P-0012 » are two people the service would merge, and a
    refusal that compared sex or birth year would tell any link holder another company's people,
    a try at a time (user trial, 7 December 2026). Refused on the reference alone, the same
    words whether the sex and birth year written match what is recorded (F, 1979), differ, or
    are left empty; nothing recorded, nothing of the person said."""
    app, lot = late
    with app.transaction() as session:
        person = create_participant(
            session, reference="P-AUTRE", criterion=Criterion.MINIMUM_INCOME,
            now=app.clock(), sex=Sex.FEMALE, birth_year=1979,
        )  # fmt: skip
        other = Company(name="Autre Entreprise", created_at=app.clock())
        session.add(other)
        session.flush()
        declared = Declaration(
            clause_id=lot.clause_id, company_id=other.id, month=FEB, total_hours=35,
            recorded_at=app.clock(), recorded_by="test",
        )  # fmt: skip
        declared.lines.append(
            DeclarationLine(
                participant_id=person.id,
                hours=35,
                delivery_mode=DeliveryMode.DIRECT_HIRING,
                contract_type=ContractType.CDD,
            )
        )
        session.add(declared)
    sent, encoding, line = sent_as(app, lot, identity)
    before = recorded(app, lot)

    status, text = posted(app, lot, "mars.csv", as_csv(sent, encoding))

    assert status == 422
    assert (
        f"mars.csv, ligne {line}, colonne « Référence participant » : la référence « P-AUTRE » "
        "est déjà celle d'une personne déclarée par une autre entreprise : donnez à votre "
        "salarié une référence propre à votre entreprise (par exemple précédée de son nom) ; "
        "si c'est bien la même personne, écrivez à la facilitatrice, qui l'enregistrera."
    ) in text, text
    for said in (
        "1979",
        "2001",
        "Sexe »",
        "Année de naissance »",
        "Autre Entreprise",
        "déjà connue",
    ):
        assert said not in text, (said, text)
    assert recorded(app, lot) == before


def test_a_file_too_big_is_refused_with_its_size_and_what_to_do(late: tuple[App, Lot]) -> None:
    """The page reads no more than the importer's limit, and says what the import says: the
    file's size, the limit and how to split it (it said « fichier trop gros (20 Mo au plus) »)."""
    app, lot = late
    before = recorded(app, lot)
    big = b"Mois;Heures\r\n" + b"03/2027;1\r\n" * 2_300_000  # about 25 MB
    status, text = posted(app, lot, "gros.csv", big)
    assert status == 422
    assert (
        "gros.csv, fichier de 25,3 Mo, au-delà de la limite de 20 Mo par import : découpez-le, "
        "par exemple un fichier par lot ou par mois."
    ) in text, text
    assert recorded(app, lot) == before


def test_a_file_of_many_wrong_lines_lists_the_first_ones_and_counts_the_others(
    late: tuple[App, Lot],
) -> None:
    """A file of 3,000 lines each refused made a page of every message (7 MB for 49,000 lines,
    user trial): the page lists the first hundred and counts the others."""
    app, lot = late
    _, rows, encoding = attached_csv(app, catch_up_call(app, lot))
    sent = written(rows, {"03/2027": [("P-NEW-1", "140", LONG)]})
    line = next(row for row in sent[1:] if "P-NEW-1" in row)
    sent += [list(line) for _ in range(3_000)]  # the same person again and again
    before = recorded(app, lot)
    status, text = posted(app, lot, "mars.csv", as_csv(sent, encoding))
    assert status == 422
    assert text.count("déjà déclaré ligne") == 100, text.count("déjà déclaré ligne")
    assert (
        "… et 2 900 autres erreurs dans ce fichier, non listées ici : corrigez d'abord celles-ci "
        "(elles se répètent souvent), puis envoyez-le de nouveau."
    ) in text, text[-2000:]
    assert len(text) < 200_000
    assert recorded(app, lot) == before
