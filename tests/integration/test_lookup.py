"""Records found by what people know of them: a number, a name written another way, a SIRET with
spaces, « RÉF/LOT »; an ambiguous designation lists its candidates, an unknown one says where the
list is. On SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest

from tests.conftest import Clock
from workflow.app.lookup import (
    AmbiguousDesignation,
    find_buyer,
    find_clause,
    find_company,
    find_market,
    find_operation,
    find_participant,
    normalized,
)
from workflow.app.unit import reading
from workflow.bootstrap import App
from workflow.domain.vocabulary import Criterion
from workflow.errors import InputRefused, NotFound
from workflow.services import catalog
from workflow.services.clauses import ClauseParameters, create_clause, no_publish
from workflow.services.participants import create_participant

SIRET = "73282932000074"  # passes the Luhn check


@dataclass(frozen=True)
class Ids:
    habitat: int
    habitat_dash: int
    ville: int
    operation: int
    market: int
    lot_01: int
    lot_02: int
    single: int
    company: int


@pytest.fixture
def ids(app: App, clock: Clock) -> Ids:
    now = clock()
    with app.transaction() as s:
        habitat = catalog.add_buyer(s, name="Gers Habitat", now=now, settings=app.settings)
        dash = catalog.add_buyer(s, name="Gers-Habitat Services", now=now, settings=app.settings)
        ville = catalog.add_buyer(s, name="Ville d'Auch", now=now, settings=app.settings)
        operation = catalog.add_operation(s, ville.id, name="Réhabilitation du Garros", now=now)
        market = catalog.add_market(s, operation.id, reference="2026-014", title="Travaux")
        lonely = catalog.add_market(s, operation.id, reference="2026-020", title="Espaces verts")
        parameters = ClauseParameters(amount_excl_tax=Decimal(100000))
        lots = [
            create_clause(
                s,
                chosen,
                lot_number=number,
                lot_title=title,
                params=parameters,
                now=now,
                actor="test",
                publish=no_publish,
            )
            for chosen, number, title in (
                (market, "01", "Gros œuvre"),
                (market, "02", "Menuiseries"),
                (lonely, "", "Tonte"),
            )
        ]
        company = catalog.add_company(s, name="Bâti Sud", siret=SIRET, now=now)
        create_participant(s, reference="P-0042", criterion=Criterion.MINIMUM_INCOME, now=now)
        return Ids(
            habitat.id,
            dash.id,
            ville.id,
            operation.id,
            market.id,
            lots[0].id,
            lots[1].id,
            lots[2].id,
            company.id,
        )


def test_names_match_whatever_their_case_accents_dashes(app: App, ids: Ids) -> None:
    with reading(app) as s:
        assert find_buyer(s, "gers habitat").id == ids.habitat
        assert find_buyer(s, "GERS-HABITAT").id == ids.habitat  # exact beats « contains »
        assert find_buyer(s, "ville d’auch").id == ids.ville  # typographic apostrophe
        assert find_buyer(s, "services").id == ids.habitat_dash  # contained once
        assert find_buyer(s, str(ids.ville)).id == ids.ville
        assert find_operation(s, "rehabilitation du garros").id == ids.operation
        assert find_company(s, "bati sud").id == ids.company
        assert find_company(s, "732 829 320 00074").id == ids.company
        assert find_market(s, "2026-014").id == ids.market
        assert find_participant(s, "P-0042").reference == "P-0042"


def test_a_lot_is_found_by_its_market_reference_and_number(app: App, ids: Ids) -> None:
    with reading(app) as s:
        assert find_clause(s, "2026-014/01").id == ids.lot_01
        assert find_clause(s, "2026-014/2").id == ids.lot_02  # « 2 » is lot 02
        assert find_clause(s, "2026-020").id == ids.single  # a market of one lot
        assert find_clause(s, str(ids.lot_02)).id == ids.lot_02


def test_an_ambiguous_designation_lists_its_candidates(app: App, ids: Ids) -> None:
    with reading(app) as s:
        with pytest.raises(AmbiguousDesignation) as refused:
            find_buyer(s, "gers")
        assert f"n° {ids.habitat} Gers Habitat" in refused.value.message
        assert f"n° {ids.habitat_dash} Gers-Habitat Services" in refused.value.message
        with pytest.raises(AmbiguousDesignation) as lots:
            find_clause(s, "2026-014")  # two lots: which one?
        assert "2026-014/01 Gros œuvre" in lots.value.message
        assert "2026-014/02 Menuiseries" in lots.value.message


def test_an_unknown_designation_says_where_the_list_is(app: App, ids: Ids) -> None:
    with reading(app) as s:
        with pytest.raises(NotFound) as missing:  # the command line names the list
            find_buyer(s, "Conseil départemental")
        assert "clauses buyer list" in missing.value.command_line_message
        with pytest.raises(NotFound, match="le marché 2026-014 a les lots 01, 02"):
            find_clause(s, "2026-014/07")
        with pytest.raises(NotFound, match="Aucune entreprise de SIRET"):
            find_company(s, "123 456 789 00015")  # a valid SIRET nobody has
        with pytest.raises(InputRefused, match="clé de contrôle"):
            find_company(s, "123 456 789 00010")  # mistyped: said so, not « unknown »
        with pytest.raises(NotFound) as missing:
            find_participant(s, "P-9999")
        assert "clauses participant list" in missing.value.command_line_message
        assert "clauses" not in missing.value.message  # the web pages name their own page


def test_normalized_forgets_what_people_do_not_see() -> None:
    assert normalized("  Gers–Habitat ") == normalized("gers habitat") == "gers habitat"
    assert normalized("Élan") == "elan"
    # A ligature is typed as two letters on most keyboards.
    assert normalized("Second Œuvre") == normalized("second oeuvre") == "second oeuvre"
    assert normalized("cæcum") == "caecum"


def test_a_siret_with_a_wrong_key_says_it_designates_a_company(app: App, ids: Ids) -> None:
    """A 14-digit value given where a company is designated, its key wrong: the refusal names
    what was looked for (a property test drew « 17578927008977 » for `company
    correspondent-add` and read only « SIRET … la clé de contrôle ne correspond pas »)."""
    with reading(app) as session, pytest.raises(InputRefused) as refused:
        find_company(session, "17578927008977")
    said = refused.value.message.replace("\xa0", " ")
    assert said.startswith(
        "Entreprise désignée par SIRET « 17578927008977 » : la clé de contrôle ne correspond pas"
    ), said
