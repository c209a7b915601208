"""``clauses search``: a piece of what people know finds the record, on SQLite and PostgreSQL.

A name with its accents or dashes left out, a SIRET read aloud with spaces, a market reference,
an e-mail address, a participant's reference; each result says what it is, its N°, where it
belongs and the command that shows it, and that command shows it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from click.testing import CliRunner, Result

from tests.conftest import Clock
from tests.text import squash
from workflow.app import catalog, participants, search
from workflow.app.clauses import Figures
from workflow.bootstrap import App
from workflow.domain.vocabulary import Criterion
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.errors import InputRefused

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def territory(app: App, clock: Clock) -> App:
    clock.set(START)
    catalog.add_buyer(app, "Gers Habitat", kind="Bailleur social")
    catalog.add_buyer(app, "Département du Gers", kind="Département")
    catalog.add_buyer_contact(app, "Gers Habitat", name="Claire Dupont", email="c.dupont@gh.fr")
    catalog.add_operation(app, "Piscine intercommunale", buyer="Département du Gers", place="Auch")
    catalog.add_operation(app, "Résidence Les Tilleuls", buyer="Gers Habitat")
    catalog.add_market(app, "2026-014", operation="Résidence Les Tilleuls", title="Réhabilitation")
    catalog.add_market(app, "2026-077", operation="Piscine", title="Bassin nordique")
    figures = Figures(Decimal(1_000_000), Decimal("0.5"), Decimal("0.05"), Decimal(30))
    catalog.add_lot(app, market="2026-014", lot_number="01", title="Gros œuvre", figures=figures)
    catalog.add_lot(app, market="2026-077", lot_number="03", title="Carrelage", trade="Sols")
    catalog.add_company(app, "Bâtiments du Sud-Ouest", siret="732 829 320 00074", city="Auch")
    catalog.add_correspondent(
        app, "732 829 320 00074", name="Paul Lambert", email="paul.lambert@example.org"
    )
    participants.add_participant(app, "GH-0042", criterion=Criterion.MINIMUM_INCOME)
    return app


def run(app: App, *args: str) -> Result:
    state = CliState()
    state.factory = lambda: app
    return CliRunner().invoke(cli, list(args), obj=state, catch_exceptions=False)


def kinds(result: search.SearchResult) -> list[tuple[str, str]]:
    return [(f.kind, f.label) for f in result.found]


def test_a_name_without_its_accents_or_dashes_finds_the_record(territory: App) -> None:
    assert kinds(search.search(territory, "batiments du sud ouest")) == [
        ("company", "Bâtiments du Sud-Ouest (SIRET 73282932000074)")
    ]
    assert kinds(search.search(territory, "PISCINE")) == [
        ("operation", "Piscine intercommunale (Auch)")
    ]
    assert kinds(search.search(territory, "œuvre")) == [("clause", "2026-014/01 Gros œuvre")]


def test_each_kind_is_found_by_what_people_know_of_it(territory: App) -> None:
    by_siret = search.search(territory, "732 829 320")
    by_email = search.search(territory, "paul.lambert@")
    by_market = search.search(territory, "2026-077")
    by_trade = search.search(territory, "sols")
    by_reference = search.search(territory, "gh-0042")

    assert kinds(by_siret) == [("company", "Bâtiments du Sud-Ouest (SIRET 73282932000074)")]
    [correspondent] = by_email.found
    assert (correspondent.kind_label, correspondent.context) == (
        "correspondant",
        "Bâtiments du Sud-Ouest",
    )
    assert kinds(by_market) == [
        ("market", "2026-077 Bassin nordique"),
        ("clause", "2026-077/03 Carrelage"),
    ]
    assert by_market.found[1].context == "Piscine intercommunale · repérage"
    assert kinds(by_trade) == [("clause", "2026-077/03 Carrelage")]
    [participant] = by_reference.found
    assert (participant.kind, participant.label, participant.context) == (
        "participant",
        "GH-0042",
        "",
    )


def test_every_kind_in_its_order_exact_names_first(territory: App) -> None:
    found = search.search(territory, "gers")

    # Buyers first (« Gers Habitat » before « Département du Gers »: neither is exactly
    # « gers », so in order of N°), then what belongs to them by name only.
    assert kinds(found) == [
        ("buyer", "Gers Habitat"),
        ("buyer", "Département du Gers"),
    ]
    exact = search.search(territory, "gers habitat")
    assert kinds(exact) == [("buyer", "Gers Habitat")]


def test_a_long_list_is_cut_and_counted(territory: App) -> None:
    for n in range(12):
        catalog.add_company(territory, f"Entreprise Gersoise {n:02d}")

    found = search.search(territory, "gersoise", limit=5)

    assert len(found.found) == 5 and found.more == 7


def test_too_short_a_text_is_refused_in_french(territory: App) -> None:
    with pytest.raises(InputRefused, match="au moins 2 lettres ou chiffres"):
        search.search(territory, " - ")


def test_the_command_shows_each_result_with_the_command_that_shows_it(territory: App) -> None:
    listed = run(territory, "search", "sud ouest")
    data = run(territory, "search", "2026-014", "--json")
    nothing = run(territory, "search", "Toulouse")
    short = run(territory, "search", "x")

    assert listed.exit_code == 0, listed.output
    text = squash(listed.stdout)
    assert "Recherche «\u00a0sud ouest\u00a0»" in text
    assert "entreprise" in text and "Bâtiments du Sud-Ouest" in text
    results = json.loads(data.stdout)["resultats"]
    assert [(r["type"], r["libelle"]) for r in results] == [
        ("market", "2026-014 Réhabilitation"),
        ("clause", "2026-014/01 Gros œuvre"),
    ]
    # The command given shows the record.
    shown = run(territory, *results[1]["commande"].split()[1:])
    assert shown.exit_code == 0 and "Gros œuvre" in shown.stdout
    assert nothing.exit_code == 0
    assert "Rien ne contient «\u00a0Toulouse\u00a0»" in squash(nothing.stdout)
    assert short.exit_code == 1
    assert "Refusé : Recherche «\u00a0x\u00a0» : donnez au moins 2 lettres" in squash(short.stderr)


def test_a_control_character_in_the_text_is_no_error(territory: App) -> None:
    """PostgreSQL refuses a NUL in a query's text: dropped, the rest is looked for."""
    plain = search.search(territory, "Gers")
    assert kinds(plain)
    assert kinds(search.search(territory, "Ge\x00rs\x1b")) == kinds(plain)
