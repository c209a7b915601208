"""What the board's search (``/clauses?recherche=…``) finds, on SQLite and PostgreSQL: the lots
whose own text (reference, title, trade), market (reference, title), operation (name, place),
buyer, or one of whose companies (name, SIRET with or without spaces) hold the text, case,
accents, dashes and apostrophes left aside; a company renamed is found by its new name and no
longer by its old one; the lots of exactly what the corrections search (``search``) finds among
those five kinds, a record whose search column a write forgot included.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from sqlalchemy import select, update

from tests.integration.test_declarations import start_sample
from workflow.adapters.orm import AwardParty, Buyer, Clause, Company, Market, Operation
from workflow.app import corrections
from workflow.app.clause_board import clause_board
from workflow.app.clauses import list_clauses
from workflow.app.search import search
from workflow.bootstrap import App
from workflow.domain.stages import Stage
from workflow.sample.data import BATIMENTS_GASCONS, GASCOGNE_INSERTION, GIMONE_SECOND_OEUVRE


@pytest.fixture
def lots(app: App) -> dict[str, int]:
    """The sample territory, its lots awarded; each lot's N° by its reference (« 2026-014/01 »)."""
    start_sample(app)
    return {
        f"{c.market}/{c.lot_number}" if c.lot_number else c.market: c.id for c in list_clauses(app)
    }


def found(app: App, text: str) -> set[int]:
    """The N° of the clauses the board shows for ``text``; its counts say as many."""
    board = clause_board(app, text=text)
    ids = [card.id for column in board.columns for card in column.cards]
    assert board.total == len(ids) == len(set(ids)), text
    return set(ids)


def of(lots: dict[str, int], *references: str) -> set[int]:
    return {lots[r] for r in references}


def college(lots: dict[str, int]) -> set[int]:
    return {i for reference, i in lots.items() if reference.startswith("2026-014/")}


def assert_found(app: App, texts: Iterable[str], expected: set[int]) -> None:
    for text in texts:
        assert found(app, text) == expected, text


def test_it_finds_a_lot_by_its_title_whatever_the_case_accents_and_dashes(
    app: App, lots: dict[str, int]
) -> None:
    lot_01 = of(lots, "2026-014/01")
    assert_found(
        app, ["Gros œuvre", "gros oeuvre", "GROS-OEUVRE", "maçonnerie", "Maconnerie"], lot_01
    )
    assert_found(app, ["électricité", "ELECTRICITE courants"], of(lots, "2026-014/07"))
    # « Nettoyage des bâtiments » (a title) and « Bâtiments Gascons SARL » (a company).
    assert_found(app, ["batiments"], of(lots, "2026-AC-03", "2026-014/01"))
    assert_found(app, ["extérieur"], of(lots, "2026-014/03", "2026-014/09"))


def test_it_finds_the_lots_of_a_market_an_operation_and_a_buyer(
    app: App, lots: dict[str, int]
) -> None:
    assert_found(app, ["2026-014", "2026 014", "2026–014"], college(lots))
    assert_found(app, ["2026-014/01"], of(lots, "2026-014/01"))
    assert_found(app, ["2026-ac-03", "AC 03"], of(lots, "2026-AC-03"))
    # The operation's name.
    assert_found(app, ["Collège de Saint-Arrats", "college de saint arrats"], college(lots))
    assert_found(app, ["locaux communautaires"], of(lots, "2026-AC-03"))
    # The buyer's name, its apostrophe typed straight or curly, or left out.
    assert_found(app, ["Département de l'Exemple", "departement de l’exemple", "l exemple"],
                 college(lots))  # fmt: skip
    assert_found(app, ["Lasbordes"], of(lots, "2026-V1"))
    # A market's title, once it has one.
    corrections.edit_market(app, "2026-V1", title="Réfection des chaussées et trottoirs")
    assert_found(app, ["chaussees et trottoirs"], of(lots, "2026-V1"))


def test_it_finds_the_lots_of_a_company_by_name_or_siret(app: App, lots: dict[str, int]) -> None:
    lot_01 = of(lots, "2026-014/01")
    spaced = " ".join(
        (
            BATIMENTS_GASCONS[:3],
            BATIMENTS_GASCONS[3:6],
            BATIMENTS_GASCONS[6:9],
            BATIMENTS_GASCONS[9:],
        )
    )
    assert_found(app, [BATIMENTS_GASCONS, spaced, BATIMENTS_GASCONS[:9], "batiments gascons sarl"],
                 lot_01)  # fmt: skip
    # A subcontractor's lot is found by it too.
    assert_found(app, [GASCOGNE_INSERTION, "Gascogne Insertion"], lot_01)
    # One company holding two lots.
    assert_found(
        app, ["Gimone Second Œuvre", GIMONE_SECOND_OEUVRE], of(lots, "2026-014/05", "2026-014/07")
    )
    assert_found(app, ["Introuvable et inconnu", "99999999999999"], set())


def test_a_renamed_company_is_found_by_its_new_name_only(app: App, lots: dict[str, int]) -> None:
    held = of(lots, "2026-014/05", "2026-014/07")
    assert found(app, "Gimone Second") == held

    corrections.edit_company(app, GIMONE_SECOND_OEUVRE, name="Œuvres d'Armagnac")

    assert_found(app, ["oeuvres d armagnac", "Œuvres d’Armagnac", GIMONE_SECOND_OEUVRE], held)
    assert found(app, "Gimone Second") == set()


def test_a_search_narrowed_to_a_buyer_and_to_a_page_of_a_stage_keeps_its_counts(
    app: App, lots: dict[str, int]
) -> None:
    with app.transaction() as session:
        department = session.scalars(
            select(Buyer.id).where(Buyer.name == "Département de l'Exemple")
        ).one()
    narrowed = clause_board(app, buyer_id=department, text="batiments")
    assert [card.id for column in narrowed.columns for card in column.cards] == [
        lots["2026-014/01"]
    ]

    executed = {c.id for c in list_clauses(app, stage=Stage.EXECUTION)}
    first = clause_board(app, stage=Stage.EXECUTION, text="2026")
    second = clause_board(app, stage=Stage.EXECUTION, text="2026", page=2)
    assert (
        [c.stage for c in first.columns] == [c.stage for c in second.columns] == [Stage.EXECUTION]
    )
    assert {card.id for card in first.columns[0].cards} == executed
    # Page 2 shows no card (8 lots, 50 a page) but still says how many the stage holds.
    assert second.columns[0].cards == ()
    assert second.columns[0].count == first.columns[0].count == len(executed)
    assert second.columns[0].first == 51


def test_an_operations_place_and_a_lots_trade_are_searched_as_the_corrections_search_does(
    app: App, lots: dict[str, int]
) -> None:
    assert found(app, "Pavie") == found(app, "Plomberie") == set()

    corrections.edit_operation(app, "Construction du collège de Saint-Arrats", place="Pavie")
    corrections.edit_lot(app, "2026-014/03", trade="Plomberie – chauffage")
    corrections.edit_market(app, "2026-014", reference="2027-101")

    assert found(app, "pavie") == college(lots)
    assert found(app, "plomberie chauffage") == of(lots, "2026-014/03")
    # The lot's reference is its market's new one.
    assert found(app, "2027-101/03") == found(app, "2027 101/03") == of(lots, "2026-014/03")
    assert found(app, "2026-014") == set()


def clauses_of(app: App, kind: str, record_id: int) -> set[int]:
    """The lots a record found by ``search`` stands for on the board."""
    by_kind = {
        "clause": select(Clause.id).where(Clause.id == record_id),
        "market": select(Clause.id).where(Clause.market_id == record_id),
        "operation": select(Clause.id).join(Market).where(Market.operation_id == record_id),
        "buyer": select(Clause.id)
        .join(Market)
        .join(Operation)
        .where(Operation.buyer_id == record_id),
        "company": select(AwardParty.clause_id).where(AwardParty.company_id == record_id),
    }
    if kind not in by_kind:  # contacts, correspondents, participants: not the board's
        return set()
    with app.transaction() as session:
        return set(session.scalars(by_kind[kind]))


TEXTS = (
    "arrats", "2026", "batiments", "gascons", "oeuvre", "01", "/0", "v1", "saint", "val d arrats",
    "sarl", "gimone", "de", "er", "l'exemple", "lacoste", "auch", "voirie", "p-0007", "example.org",
    BATIMENTS_GASCONS, f"{BATIMENTS_GASCONS[:9]} {BATIMENTS_GASCONS[9:]}", "38765",
)  # fmt: skip


def test_the_board_finds_the_lots_of_what_the_corrections_search_finds(
    app: App, lots: dict[str, int]
) -> None:
    corrections.edit_operation(app, "Voirie communale 2026", place="Pavie")
    corrections.edit_lot(app, "2026-014/03", trade="Plomberie")
    for text in (*TEXTS, "pavie", "plomberie"):
        records = search(app, text, limit=1_000).found
        expected = set().union(*(clauses_of(app, r.kind, r.id) for r in records))
        assert found(app, text) == expected, text
    # Some of them find something, some nothing: the comparison is not between empty sets.
    assert found(app, "lacoste") == found(app, "example.org") == set()
    # A buyer (« Commune de Lasbordes-sur-Gimone ») and a company (« Gimone Second Œuvre SAS »).
    assert found(app, "gimone") == of(lots, "2026-V1", "2026-014/05", "2026-014/07")


def test_a_record_whose_search_text_a_write_forgot_is_found_all_the_same(
    app: App, lots: dict[str, int]
) -> None:
    before = {text: found(app, text) for text in TEXTS}
    assert any(before.values())
    with app.transaction() as session:
        for model in (Buyer, Operation, Market, Clause, Company):
            session.execute(update(model).values(search_text=None))  # as a bulk load that forgot

    assert {text: found(app, text) for text in TEXTS} == before


def test_control_characters_are_left_out_of_what_is_searched(
    app: App, lots: dict[str, int]
) -> None:
    # PostgreSQL refuses a NUL inside a query: the board searches the rest, as ``search`` does.
    lot_01 = of(lots, "2026-014/01")
    assert found(app, "Gascons\x00 SARL\x1b") == found(app, "Gascons SARL") == lot_01
    # A tab or a line break pasted with the text separates words, as a space does.
    assert found(app, "Gros\tœuvre") == found(app, "gros\r\noeuvre") == lot_01
    assert clause_board(app, text=" Gascons\x00 ").text == "Gascons"
