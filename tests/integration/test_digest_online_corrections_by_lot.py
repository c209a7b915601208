"""The digest's online corrections, as the facilitator reads them: one heading per lot (its
market, lot, title and buyer, as she knows it), each company's correction a line under it; the
company found by id, so a company renamed the same day is still the one that corrected (not a
« déclaration annulée depuis »); and a list as long as the territory is cut in the email, saying
how many more and where the whole list is."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from tests.conftest import Clock
from tests.integration.test_declaration_howto import lot_01
from tests.integration.test_digest_online_corrections import _digest_text, _people
from tests.integration.test_online_declaration import PARIS, call_link, called_territory
from workflow.adapters.orm import Company
from workflow.app.online_declarations import declare_online
from workflow.bootstrap import App
from workflow.emails.digest import (
    EMAIL_ROWS,
    Category,
    Digest,
    DigestItem,
    digest_context,
)
from workflow.services.corrections import edit_company
from workflow.services.digest import queue_daily_digest

HEADING = (
    "* Marché 2026-014 lot 01 – Gros œuvre – maçonnerie, Département de l'Exemple "
    "(clause n° {clause_id}) : 2 déclarations corrigées en ligne"
)


def test_two_companies_of_one_lot_under_one_heading_the_renamed_one_found_by_id(
    app: App, clock: Clock
) -> None:
    called_territory(app, clock)  # Monday 4 May 2026, 09:00: April called
    clause_id, holder_id, partner_id = lot_01(app)
    holder_link = call_link(app, clause_id, holder_id).rsplit("/", 1)[1]
    partner_link = call_link(app, clause_id, partner_id).rsplit("/", 1)[1]
    with app.transaction() as session:
        partner = session.get_one(Company, partner_id).name
        holder_before = session.get_one(Company, holder_id).name

    clock.set(datetime(2026, 5, 4, 10, 0, tzinfo=PARIS))
    declare_online(app, holder_link, _people("151,67", "35"), zero=False)
    declare_online(app, partner_link, _people("20", "10"), zero=False)
    clock.set(datetime(2026, 5, 4, 15, 30, tzinfo=PARIS))
    declare_online(app, holder_link, _people("98,5", ""), zero=False)
    declare_online(app, partner_link, _people("25", "10"), zero=False)
    # The holder renamed the same afternoon, after its correction.
    clock.set(datetime(2026, 5, 4, 17, 0, tzinfo=PARIS))
    with app.transaction() as session:
        company = session.scalars(select(Company).where(Company.id == holder_id)).one()
        edit_company(
            session,
            company,
            name="Bâtiments Gascons Groupe",
            actor="Camille Martin",
            now=datetime(2026, 5, 4, 17, 0, tzinfo=PARIS),
        )

    tuesday = datetime(2026, 5, 5, 8, 0, tzinfo=PARIS)
    clock.set(tuesday)
    assert queue_daily_digest(app, tuesday) == 1
    text = _digest_text(app, "2026-05-05")
    assert text is not None

    # One entry for the lot, its heading once, each company a line under it.
    assert "== Déclarations corrigées en ligne par les entreprises (1) ==" in text, text
    assert HEADING.format(clause_id=clause_id) in text, text
    assert text.count("Gros œuvre – maçonnerie, Département de l'Exemple (clause n°") == 1
    assert "Clause n° " not in text.split("== Déclarations corrigées")[1].split("==")[0]
    assert (
        f"– Bâtiments Gascons Groupe (alors {holder_before}) a corrigé en ligne sa déclaration "
        "d'avril 2026 le 4 mai 2026 : 186,67 h → 98,50 h."
    ) in text, text
    assert (
        f"– {partner} a corrigé en ligne sa déclaration d'avril 2026 le 4 mai 2026 : 30 h → 35 h."
    ) in text, text
    # Found by id: the renamed holder's month is still to validate, not « annulée depuis ».
    assert "annulée depuis" not in text
    assert "J'ai annulé cette déclaration" not in text
    assert (
        f"clauses declaration validate --clause {clause_id} --company {holder_id} --month 04/2026"
    ) in text
    assert (
        f"clauses declaration validate --clause {clause_id} --company {partner_id} --month 04/2026"
    ) in text


def _lots(count: int) -> Digest:
    return Digest(
        day=date(2026, 5, 5),
        working_day=True,
        items=tuple(
            DigestItem(
                Category.ONLINE_CORRECTION,
                count - n,
                f"Marché 2026-{n:03} – Lot {n}, Commune (clause n° {n}) : 1 déclaration "
                "corrigée en ligne",
                "…",
                "…",
                n,
            )
            for n in range(1, count + 1)
        ),
    )


def test_a_section_as_long_as_the_territory_is_cut_with_how_many_more_and_where(
    app: App,
) -> None:
    rendered = app.renderer.render("facilitator_digest", digest_context(_lots(EMAIL_ROWS + 7)))
    text = " ".join(rendered.text.replace("\u00a0", " ").split())

    assert f"== Déclarations corrigées en ligne par les entreprises ({EMAIL_ROWS + 7}) ==" in text
    assert f"(clause n° {EMAIL_ROWS}) :" in text
    assert f"(clause n° {EMAIL_ROWS + 1}) :" not in text
    assert "… et 7 autres : la liste entière s'affiche avec : clauses digest" in text
    with_site = app.renderer.render(
        "facilitator_digest", digest_context(_lots(EMAIL_ROWS + 1), "https://clauses.example.org")
    )
    assert (
        "… et 1 autre : voir le tableau de bord (https://clauses.example.org/tableau-de-bord) ; "
        "la liste entière s'affiche avec : clauses digest"
    ) in " ".join(with_site.text.replace("\u00a0", " ").split())
