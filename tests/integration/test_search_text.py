"""The search column (``search_text``) on every write path, on SQLite and PostgreSQL.

``clauses search`` lets the database match each record's searched fields, kept normalised in
``search_text``: a record written by any path (the commands, the lots import, a declaration
import that adds participants, corrections, merges, the benchmarks' generator, the migration
that fills the column of existing rows) is found, by its new words after a correction and no
longer by its old ones. Every test ends by checking every searched row's text is the one its
fields give (``stale``), and a row whose text is missing (a path that forgot it) is still found.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from click.testing import CliRunner, Result
from sqlalchemy import select, text, update
from sqlalchemy.orm import joinedload

from tests.conftest import Clock
from tests.integration.test_declarations import DECLARATION, NOVEMBER, start_sample
from workflow.adapters.db import alembic_config, current_revision, make_engine
from workflow.adapters.orm import Buyer, BuyerContact, Clause, Company, Market
from workflow.adapters.search_text import FIELDS, lot_fields, search_text
from workflow.app import catalog, corrections, imports, search
from workflow.bootstrap import App
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState

ROOT = Path(__file__).resolve().parents[2]
LOTS = ROOT / "tests" / "data" / "lots-excel-fr.csv"
GENERATE = ROOT / "bench" / "generate.py"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def run(app: App, *args: str) -> Result:
    state = CliState()
    state.factory = lambda: app
    result = CliRunner().invoke(cli, list(args), obj=state, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def found(app: App, words: str) -> list[tuple[str, str]]:
    return [(f.kind, f.label) for f in search.search(app, words).found]


def stale(app: App) -> list[tuple[str, int, str | None, str]]:
    """Every searched row whose ``search_text`` is not what its fields give: (table, N°, stored,
    expected)."""
    wrong: list[tuple[str, int, str | None, str]] = []
    with app.transaction() as session:
        for model, fields in FIELDS.items():
            for record in session.scalars(select(model)):
                expected = search_text(*fields(record))
                if record.search_text != expected:
                    wrong.append((model.__tablename__, record.id, record.search_text, expected))
        for lot in session.scalars(select(Clause).options(joinedload(Clause.market))):
            expected = search_text(
                *lot_fields(lot.market.reference, lot.lot_number, lot.lot_title, lot.trade)
            )
            if lot.search_text != expected:
                wrong.append(("clauses", lot.id, lot.search_text, expected))
    return wrong


def test_records_added_by_the_commands_are_found(app: App, clock: Clock) -> None:
    clock.set(START)
    run(app, "buyer", "add", "Office de l'Habitat Zéphyr", "--kind", "Bailleur social")
    run(app, "buyer", "contact-add", "Zéphyr", "--name", "Inès Ñúñez", "--email", "ines@zeph.fr")
    run(app, "operation", "add", "Cité Lumière", "--buyer", "Zéphyr", "--place", "Lectoure")
    run(app, "market", "add", "2026-501", "--operation", "Cité Lumière", "--title", "Façades")
    run(app, "lot", "add", "--market", "2026-501", "--number", "04", "--title", "Ravalement",
        "--trade", "Maçonnerie")  # fmt: skip
    run(app, "company", "add", "Échafaudages d'Armagnac", "--siret", "732 829 320 00074")
    run(app, "company", "correspondent-add", "Armagnac", "--name", "Zoé Œuvray",
        "--email", "zoe@echaf.fr")  # fmt: skip
    run(app, "participant", "add", "ZX-0001", "--criterion", "RSA")

    assert found(app, "habitat zephyr") == [("buyer", "Office de l'Habitat Zéphyr")]
    assert found(app, "nunez") == [("contact", "Inès Ñúñez <ines@zeph.fr>")]
    assert found(app, "lectoure") == [("operation", "Cité Lumière (Lectoure)")]
    assert found(app, "facades") == [("market", "2026-501 Façades")]
    assert found(app, "2026 501/04") == [("clause", "2026-501/04 Ravalement")]
    assert found(app, "maconnerie") == [("clause", "2026-501/04 Ravalement")]
    assert found(app, "echafaudages d armagnac") == [
        ("company", "Échafaudages d'Armagnac (SIRET 73282932000074)")
    ]
    assert found(app, "73282932000074") == found(app, "echafaudages")
    assert found(app, "oeuvray") == [("correspondent", "Zoé Œuvray <zoe@echaf.fr>")]
    assert found(app, "zx 0001") == [("participant", "ZX-0001")]
    assert stale(app) == []


def test_the_lots_import_writes_every_record_it_creates(app: App) -> None:
    imported = imports.import_lots(app, LOTS, actor="Camille Martin")

    assert len(imported.lots) >= 4
    assert found(app, "saint arrats") == [("operation", "Construction du collège de Saint-Arrats")]
    assert ("buyer", "Département de l'Exemple") in found(app, "departement de l'exemple")
    assert found(app, "charpente couverture") == [("clause", "2026-014/02 Charpente – couverture")]
    assert ("clause", "2026-014/07 Électricité courants forts") in found(app, "2026-014/07")
    assert stale(app) == []


def test_a_declaration_import_writes_the_participants_it_adds(
    app: App, clock: Clock, tmp_path: Path
) -> None:
    start_sample(app)
    clock.set(NOVEMBER)
    declaration = tmp_path / "declaration.csv"
    declaration.write_bytes(DECLARATION.read_bytes().replace(b"P-0040", b"QZ-0777"))

    imports.import_declarations(app, declaration, clause="2026-014/01", actor="Camille Martin")

    assert found(app, "qz-0777") == [("participant", "QZ-0777")]
    assert found(app, "QZ 0777") == [("participant", "QZ-0777")]
    assert stale(app) == []


@pytest.fixture
def territory(app: App, clock: Clock) -> App:
    clock.set(START)
    catalog.add_buyer(app, "Gers Habitat", kind="Bailleur social")
    catalog.add_buyer(app, "Gers-Habitat OPH", kind="Bailleur social")
    catalog.add_buyer_contact(app, "Gers Habitat", name="Claire Dupont", email="c.dupont@gh.fr")
    catalog.add_buyer_contact(app, "Gers-Habitat OPH", name="Marc Roux", email="m.roux@oph.fr")
    catalog.add_operation(app, "Résidence Les Tilleuls", buyer="Gers Habitat", place="Auch")
    catalog.add_market(app, "2026-014", operation="Résidence Les Tilleuls", title="Réhabilitation")
    catalog.add_lot(app, market="2026-014", lot_number="01", title="Gros œuvre", trade="Maçon")
    catalog.add_lot(app, market="2026-014", lot_number="02", title="Charpente")
    catalog.add_company(app, "Bâtiments du Sud-Ouest", siret="732 829 320 00074", city="Auch")
    catalog.add_company(app, "Batiments du Sud Ouest SARL")
    catalog.add_correspondent(app, "732 829 320 00074", name="Paul Lambert", email="p@bso.fr")
    catalog.add_correspondent(app, "Batiments du Sud Ouest SARL", name="Léa Vidal", email="l@v.fr")
    return app


def test_a_corrected_record_is_found_by_its_new_words_only(territory: App) -> None:
    app = territory
    corrections.edit_buyer(app, "Gers Habitat", name="Habitat Gascon", reason="nouveau nom")
    corrections.edit_contact(app, "c.dupont@gh.fr", email="claire@gascon.fr", reason="adresse")
    corrections.edit_company(app, "732 829 320 00074", name="Bâtisseurs Gersois", reason="nom")
    corrections.edit_correspondent(app, "p@bso.fr", name="Paul Lamberti", reason="coquille")
    corrections.edit_operation(app, "Résidence Les Tilleuls", place="Condom", reason="lieu")
    corrections.edit_lot(app, "2026-014/02", title="Couverture zinc", reason="intitulé")
    # The lots' texts hold their market's reference: they follow it.
    corrections.edit_market(app, "2026-014", reference="2026-114", reason="coquille")

    assert found(app, "habitat gascon") == [("buyer", "Habitat Gascon")]
    assert ("buyer", "Gers Habitat") not in found(app, "gers habitat")
    assert found(app, "claire@gascon") == [("contact", "Claire Dupont <claire@gascon.fr>")]
    assert found(app, "c.dupont@gh") == []
    assert found(app, "batisseurs gersois") == [
        ("company", "Bâtisseurs Gersois (SIRET 73282932000074)")
    ]
    assert found(app, "lamberti") == [("correspondent", "Paul Lamberti <p@bso.fr>")]
    assert found(app, "condom") == [("operation", "Résidence Les Tilleuls (Condom)")]
    assert found(app, "auch") == []
    assert found(app, "couverture zinc") == [("clause", "2026-114/02 Couverture zinc")]
    assert found(app, "charpente") == []
    assert found(app, "2026-114/01") == [("clause", "2026-114/01 Gros œuvre")]
    assert found(app, "2026-014") == []
    assert stale(app) == []


def test_merged_records_are_found_where_they_now_belong(territory: App) -> None:
    app = territory
    corrections.merge_buyers(app, "Gers-Habitat OPH", into="Gers Habitat", reason="doublon")
    corrections.merge_companies(
        app, "Batiments du Sud Ouest SARL", into="732 829 320 00074", reason="doublon"
    )

    assert found(app, "gers habitat") == [("buyer", "Gers Habitat")]
    [contact] = search.search(app, "m.roux@oph").found
    assert (contact.label, contact.context) == ("Marc Roux <m.roux@oph.fr>", "Gers Habitat")
    assert found(app, "sud ouest") == [("company", "Bâtiments du Sud-Ouest (SIRET 73282932000074)")]
    [correspondent] = search.search(app, "vidal").found
    assert correspondent.context == "Bâtiments du Sud-Ouest"
    assert stale(app) == []


def test_a_row_left_without_its_text_is_still_found_in_its_place(territory: App) -> None:
    app = territory
    for n in range(12):
        catalog.add_company(app, f"Entreprise Gersoise {n:02d}")
    before = search.search(app, "gersoise", limit=5)
    exact_before = found(app, "gros oeuvre")
    with app.transaction() as session:
        # A write that forgot the column: some companies and a lot lose their text.
        session.execute(
            update(Company).where(Company.name.like("%Gersoise 0%")).values(search_text=None)
        )
        session.execute(update(Clause).values(search_text=None))

    after = search.search(app, "gersoise", limit=5)

    assert (after.found, after.more) == (before.found, before.more) and after.more == 7
    assert found(app, "gros oeuvre") == exact_before == [("clause", "2026-014/01 Gros œuvre")]
    assert found(app, "2026-014/02") == [("clause", "2026-014/02 Charpente")]


def test_percent_signs_and_backslashes_are_letters_to_find(territory: App) -> None:
    app = territory
    catalog.add_company(app, "Remise 100 % bois")
    catalog.add_company(app, "Atelier 100 pièces")
    catalog.add_company(app, r"Dépôt C:\Travaux")

    assert found(app, "100 %") == [("company", "Remise 100 % bois")]
    assert found(app, "100") == [
        ("company", "Remise 100 % bois"),
        ("company", "Atelier 100 pièces"),
    ]
    assert found(app, r"c:\travaux") == [("company", r"Dépôt C:\Travaux")]
    assert found(app, "c:%") == []


def test_the_generated_territory_carries_its_texts(database_url: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(GENERATE), "--lots", "40", "--seed", "3",
         "--database-url", database_url],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    from tests.conftest import make_settings
    from workflow.bootstrap import bootstrap

    app = bootstrap(make_settings(tmp_path, database_url))
    try:
        assert stale(app) == []
        with app.transaction() as session:
            company = session.scalars(select(Company).order_by(Company.id)).first()
            lot = session.scalars(select(Clause).order_by(Clause.id)).first()
            assert company is not None and lot is not None
            name, reference = company.name, f"{lot.market.reference}/{lot.lot_number}"
        assert ("company", name) in [
            (k, label.split(" (SIRET")[0]) for k, label in found(app, name)
        ]
        assert any(label.startswith(reference) for _, label in found(app, reference))
    finally:
        app.close()


def test_the_migration_writes_the_texts_of_the_rows_already_there(database_url: str) -> None:
    engine = make_engine(database_url)
    config = alembic_config(engine)
    try:
        command.downgrade(config, "0011")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO buyers (id, name, kind, notice_preference, created_at)"
                    " VALUES (1, 'Mairie d''Éauze', '', 'each_milestone', :now)"
                ),
                {"now": START.replace(tzinfo=None)},
            )
            connection.execute(
                text(
                    "INSERT INTO operations (id, buyer_id, name, place, created_at)"
                    " VALUES (1, 1, 'Halle', 'Éauze', :now)"
                ),
                {"now": START.replace(tzinfo=None)},
            )
            connection.execute(
                text(
                    "INSERT INTO markets (id, operation_id, reference, title) VALUES (1, 1, 'M-7', '')"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO clauses (id, market_id, lot_number, lot_title, trade, stage,"
                    " version, stage_changed_at, created_at)"
                    " VALUES (1, 1, '3', 'Menuiseries', '', 'identified', 1, :now, :now)"
                ),
                {"now": START.replace(tzinfo=None)},
            )
        command.upgrade(config, "0012")
        assert current_revision(engine) == "0012"
        with engine.connect() as connection:
            texts = connection.execute(
                text(
                    "SELECT b.search_text, o.search_text, m.search_text, c.search_text"
                    " FROM buyers b, operations o, markets m, clauses c"
                )
            ).one()
    finally:
        # The PostgreSQL database is shared by the session's tests: leave it at head.
        command.upgrade(config, "head")
        engine.dispose()
    assert tuple(texts) == (
        "\nmairie d eauze\n",
        "\nhalle\neauze\n",
        "\nm 7\n",
        "\nm 7/3\nmenuiseries\n",
    )


def test_the_contacts_of_a_buyer_and_the_buyer_match_apart(territory: App) -> None:
    """A buyer's name in its contact's text would find the contact by the buyer: it does not."""
    with territory.transaction() as session:
        contact = session.scalars(
            select(BuyerContact).where(BuyerContact.name == "Claire Dupont")
        ).one()
        buyer = session.get(Buyer, contact.buyer_id)
        market = session.scalars(select(Market)).one()
        assert buyer is not None
        assert contact.search_text == "\nclaire dupont\nc.dupont@gh.fr\n"
        assert buyer.search_text == "\ngers habitat\n"
        assert market.search_text == "\n2026 014\nrehabilitation\n"
