"""A company that joined a lot during the works (``clause award … --from``) declares from its first
month only (SQLite and PostgreSQL): from its page of a signed link (the form, or the file it sends
there) a month before it is refused, all or nothing, the company told whom to write to. The
facilitator may record it (the company worked then, the award was recorded late, even once the
company was called): her file, her month without hours and the service behind the dashboard and
the API take it, her import saying the month was never asked of the company. A month recorded
before stays correctable and cancellable.

User report: Bâtiments Sud, added on the lot from October, declared September in a file: its
hours counted in the lot's figures, though the month was never asked of it nor expected. Review:
refused on the facilitator's channels too, such hours could no longer be recorded by anyone once
the company was called."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration.test_declarations import (
    NOVEMBER,
    OCTOBER,
    ids,
    import_file,
    started,
    write,
)
from tests.text import visible
from workflow.adapters.orm import AwardParty, Clause, Company, Correspondent, Declaration
from workflow.app import declarations as declaration_commands
from workflow.app.online_declarations import declaration_page, declare_online
from workflow.bootstrap import App
from workflow.domain.declaration_links import LinkScope
from workflow.domain.vocabulary import PartyRole
from workflow.entrypoints.web.site import create_site
from workflow.errors import FileRefused, InputRefused
from workflow.services.clauses import PartyInput, apply_award
from workflow.services.declaration_cancellations import cancel_declaration
from workflow.services.declaration_links import month_links
from workflow.services.declarations import record_declaration
from workflow.services.online_declarations import FormRefused, LineForm, lines_from_file

__all__ = ["started"]  # the fixture, used by name

SEPTEMBER = date(2026, 9, 1)
SUD_SIRET = "51234567800019"
HEADER = (
    "SIRET;Entreprise;N° marché;Lot;Mois;Référence participant;Critère d'éligibilité;"
    "Type de contrat;Modalité de réalisation;Heures"
)
SAID = (
    "eptembre 2026 n'est pas demandé à Bâtiments Sud sur le lot 01 « {title} » (marché "
    "2026-014) ; elle y déclare à partir d'octobre 2026, premier mois retenu quand elle a rejoint "
    "les travaux."
)


def nbsp(text: str) -> str:
    return text.replace("\u00a0", " ")


def join_from(app: App, month: date) -> tuple[int, int]:
    """Bâtiments Sud added on 5 November 2026 to lot 2026-014/01 as a subcontractor, declaring
    from ``month``: the lot's N° and its own."""
    clause_id, _ = ids(app)
    with app.transaction() as session:
        sud = session.scalar(select(Company).where(Company.siret == SUD_SIRET))
        if sud is None:
            sud = Company(
                name="Bâtiments Sud",
                siret=SUD_SIRET,
                created_at=NOVEMBER,
                correspondents=[Correspondent(name="Inès Durand", email="ines@sud.example")],
            )
            session.add(sud)
            session.flush()
        rows = session.scalars(
            select(AwardParty).where(AwardParty.clause_id == clause_id).order_by(AwardParty.id)
        ).all()
        parties = [
            PartyInput(p.company_id, PartyRole(p.role), p.correspondent_id, p.hours_share)
            for p in rows
            if p.company_id != sud.id
        ]
        clause = rows[0].clause
        apply_award(
            session,
            clause_id,
            parties=[*parties, PartyInput(sud.id, PartyRole.SUBCONTRACTOR, hours_share=300)],
            start_date=clause.start_date,
            planned_end_date=clause.planned_end_date,
            actor="Camille Martin",
            now=NOVEMBER,
            publish=app.publish,
            joining_from=month,
            zone=app.settings.zone,
        )
        return clause_id, sud.id


def lot_title(app: App, clause_id: int) -> str:
    with app.transaction() as session:
        return session.get_one(Clause, clause_id).lot_title


def months_of(app: App, clause_id: int, company_id: int) -> list[date]:
    with app.transaction() as session:
        return sorted(
            session.scalars(
                select(Declaration.month).where(
                    Declaration.clause_id == clause_id, Declaration.company_id == company_id
                )
            )
        )


def sud_file(tmp_path: Path, *months: str) -> Path:
    lines = [
        f"{SUD_SIRET};Bâtiments Sud;2026-014;01;{month};P-09{n};Bénéficiaire du RSA;CDD;"
        "Embauche directe;35"
        for n, month in enumerate(months)
    ]
    return write(tmp_path, "\r\n".join([HEADER, *lines]) + "\r\n")


def declare(
    app: App, clause_id: int, company_id: int, month: date, *, from_company: bool = False
) -> None:
    with app.transaction() as session:
        record_declaration(
            session,
            clause_id=clause_id,
            company_id=company_id,
            month=month,
            lines=[],
            actor="Camille Martin",
            now=NOVEMBER,
            source="test",
            publish=app.publish,
            from_company=from_company,
        )


NOTE = (
    "septembre 2026 précède le premier mois de Bâtiments Sud sur le lot 01 « {title} » (marché "
    "2026-014) (octobre 2026, premier mois retenu quand elle a rejoint les travaux) : la "
    "déclaration est enregistrée et ses heures comptent ; ce mois ne lui avait pas été demandé."
)


def test_the_facilitator_imports_a_month_before_the_first_month_and_is_told(
    started: App, tmp_path: Path
) -> None:
    """September on line 2, October (its first month) on line 3: both recorded, the import's
    warning names line 2, the « Mois » column and what the month is."""
    clause_id, sud = join_from(started, OCTOBER)
    title = lot_title(started, clause_id)

    done = import_file(started, sud_file(tmp_path, "09/2026", "10/2026"))

    [warning] = [w for w in done.warnings if "premier mois" in w.message]
    assert (warning.line, warning.column) == (2, "Mois")
    assert nbsp(warning.message) == NOTE.format(title=title)
    assert months_of(started, clause_id, sud) == [SEPTEMBER, OCTOBER]


def test_the_facilitator_records_a_month_without_hours_before_the_first_month(
    started: App,
) -> None:
    """``clauses declaration zero`` (and the dashboard's « aucune heure »)."""
    clause_id, sud = join_from(started, OCTOBER)
    declaration_commands.declare_zero(
        started, clause=clause_id, company=sud, month=SEPTEMBER, actor="Camille Martin"
    )
    assert months_of(started, clause_id, sud) == [SEPTEMBER]


def test_lines_typed_for_a_month_before_the_first_month_are_recorded(started: App) -> None:
    """The service the JSON API and the dashboard's forms write through."""
    clause_id, sud = join_from(started, OCTOBER)
    declaration_commands.declare_lines(
        started,
        clause=clause_id,
        company=sud,
        month=SEPTEMBER,
        lines=[LineForm("P-0901", "35", "cdd", "direct_hiring", "minimum_income")],
        zero=False,
        actor="api",
        source="API",
    )
    assert months_of(started, clause_id, sud) == [SEPTEMBER]


def test_the_file_a_company_sends_from_its_page_is_refused_in_its_words(
    started: App, tmp_path: Path
) -> None:
    """The October link's page, a filled template holding September: refused whole, line 2,
    « Mois », telling the company whom to write to; nothing recorded."""
    clause_id, sud = join_from(started, OCTOBER)
    title = lot_title(started, clause_id)
    with started.transaction() as session:
        scope = LinkScope(clause_id, sud, OCTOBER, date(2027, 1, 31))
        data = sud_file(tmp_path, "09/2026").read_bytes()
        with pytest.raises(FileRefused) as refused:
            lines_from_file(
                session, data, "modele.csv", scope, now=NOVEMBER, zone=started.settings.zone
            )
    said = nbsp(str(refused.value))
    assert (
        f"ligne 2, colonne « Mois » : s{SAID.format(title=title)} Si elle a travaillé sur le "
        "lot en septembre 2026, écrivez à la facilitatrice, qui enregistrera ces heures."
    ) in said
    assert "--from" not in said
    assert months_of(started, clause_id, sud) == []


def test_the_company_page_of_a_month_before_its_first_offers_no_form(
    started: App, clock: Clock
) -> None:
    """A link for September (one signed before the company was taken out of the award and added
    again from October, say): the page says, in the company's words, that the month is not
    asked of it and whom to write to, with no due date and no form; a post records nothing."""
    clause_id, sud = join_from(started, OCTOBER)
    with started.transaction() as session:
        [link] = month_links(session, started.settings, clause_id, sud, [SEPTEMBER], NOVEMBER)
    token = link.url.rsplit("/", 1)[1]
    title = lot_title(started, clause_id)
    settings = started.settings
    phone = f", {settings.facilitator_phone}" if settings.facilitator_phone else ""
    said = (
        "Septembre 2026 ne vous est pas demandé : votre entreprise déclare sur le lot 01 "
        f"« {title} » (marché 2026-014) à partir d'octobre 2026, premier mois retenu quand "
        "elle a rejoint les travaux. Si elle y a travaillé en septembre 2026, écrivez à "
        f"{settings.facilitator_name} ({settings.facilitator_email}{phone}) avant de déclarer "
        "ces heures."
    )

    page = declaration_page(started, token)
    assert page.closed_because is not None
    assert nbsp(page.closed_because) == said
    assert page.joined_on == OCTOBER

    html = TestClient(create_site(started)).get(f"/declarer/{token}")
    assert html.status_code == 200
    shown = nbsp(visible(html.text))
    assert said in shown
    assert "À déclarer au plus tard le" not in shown
    assert "Vérifier la déclaration" not in shown

    with pytest.raises(FormRefused) as refused:
        declare_online(started, token, [], zero=True)
    assert said in nbsp(str(refused.value))
    assert months_of(started, clause_id, sud) == []


def test_once_the_company_was_called_the_facilitator_still_records_an_earlier_month(
    started: App,
) -> None:
    """The review's case: added from October, called and declared for October, it worked in
    September too: the facilitator records September (the company's page may not)."""
    clause_id, sud = join_from(started, OCTOBER)
    declare(started, clause_id, sud, OCTOBER)

    with pytest.raises(InputRefused):
        declare(started, clause_id, sud, SEPTEMBER, from_company=True)
    declare(started, clause_id, sud, SEPTEMBER)

    assert months_of(started, clause_id, sud) == [SEPTEMBER, OCTOBER]


def test_a_month_recorded_before_the_rule_stays_correctable_and_cancellable(
    started: App,
) -> None:
    """September recorded for Bâtiments Sud before the rule refused it (by an older version):
    the facilitator corrects it, then cancels it; only a new month before the first is
    refused, never what is already counted and must be put right."""
    clause_id, sud = join_from(started, OCTOBER)
    with started.transaction() as session:
        session.add(
            Declaration(
                clause_id=clause_id,
                company_id=sud,
                month=SEPTEMBER,
                total_hours=Decimal(35),
                recorded_at=NOVEMBER,
                recorded_by="Camille Martin",
                source="test",
            )
        )

    with started.transaction() as session:
        record_declaration(
            session,
            clause_id=clause_id,
            company_id=sud,
            month=SEPTEMBER,
            lines=[],
            actor="Camille Martin",
            now=NOVEMBER,
            source="test",
            publish=started.publish,
            replace=True,
        )
    with started.transaction() as session:
        cancel_declaration(
            session,
            clause_id=clause_id,
            company_id=sud,
            month=SEPTEMBER,
            reason="mois d'avant son arrivée",
            actor="Camille Martin",
            now=NOVEMBER,
            settings=started.settings,
            publish=started.publish,
        )
    assert months_of(started, clause_id, sud) == []
    # Cancelled, the month is a new one again: refused from the company's page.
    with pytest.raises(InputRefused):
        declare(started, clause_id, sud, SEPTEMBER, from_company=True)
